/* node/json.c — jansson builders for our value conventions, and the fast decoder of request
 * bodies. */
#include "node/json_int.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

json_t *node_json_hex(const uint8_t *b, size_t n)
{
	char small[2 * 256 + 1], *h = n <= 256 ? small : sn_malloc(2 * n + 1);
	json_t *j;

	/* Governance payloads run to ~10 KB: get_tx and gov_get show them whole. */
	if (!h)
		return NULL;
	sn_hex_encode(h, b, n);
	j = json_string(h);
	if (h != small)
		sn_free(h);
	return j;
}

json_t *node_json_dec(uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return json_string(s);
}

json_t *node_json_dec128(unsigned __int128 v)
{
	char s[48];
	int k = 47;

	s[k] = '\0';
	do {
		s[--k] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	return json_string(s + k);
}

/* ------------------------------------------------------------------ fast decoding
 * YAJL lexes and checks the grammar (and UTF-8 structure); its events build jansson values
 * here. Where YAJL's rules differ from jansson's, the text goes to jansson instead:
 *  - escapes: YAJL turns a lone or mismatched UTF-16 surrogate (\ud800) into '?' or another
 *    character where jansson refuses the text, so a text with a backslash is jansson's;
 *  - whitespace: YAJL also skips \v and \f, which JSON does not allow (nor raw inside a
 *    string), so a text with either byte is jansson's;
 *  - a scalar at the top (jansson wants an object or array), a duplicate key, an integer out
 *    of int64 range, a real that overflows, a string that is not valid UTF-8 (YAJL checks
 *    only the byte structure; json_stringn the rest), a number over 63 characters, nesting
 *    deeper than NODE_JSON_FAST_DEPTH: the builder declines, jansson decides. */

struct fast_build {
	json_t *root;
	json_t *stack[NODE_JSON_FAST_DEPTH];
	int depth;
	char *key; /* the pending object key (copied: YAJL's buffer may be reused) */
	size_t key_len, key_cap;
	yajl_handle h;
	size_t end; /* where the root closed: the text's bytes before it (0: not closed) */
};

/* Adds v (a new reference, may be NULL) where the parse is: the root, the next array
 * element, or the pending key's value. 1 to go on, 0 to stop (YAJL: client canceled). */
static int fast_add(struct fast_build *b, json_t *v)
{
	json_t *parent;
	size_t size;

	if (!v)
		return 0;
	if (b->depth == 0) {
		if (b->root || !(json_is_object(v) || json_is_array(v))) {
			json_decref(v);
			return 0;
		}
		b->root = v;
		return 1;
	}
	parent = b->stack[b->depth - 1];
	if (json_is_array(parent))
		return json_array_append_new(parent, v) == 0;
	size = json_object_size(parent);
	/* Checks the key's UTF-8. A duplicate key replaces its value and leaves the size as it
	 * was: then the text is declined (one hash lookup per key, not a get and a set). */
	return json_object_setn_new(parent, b->key, b->key_len, v) == 0 && json_object_size(parent) > size;
}

static int fast_null(void *ud)
{
	return fast_add(ud, json_null());
}

static int fast_boolean(void *ud, int v)
{
	return fast_add(ud, json_boolean(v));
}

/* jansson's rules: no '.', 'e' or 'E' makes an integer (strtoll; out of range is an error),
 * else a real (strtod; overflow is an error, underflow is not). */
static int fast_number(void *ud, const char *s, size_t len)
{
	char buf[64], *end;
	bool real = false;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		real |= buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E';
	errno = 0;
	if (!real) {
		long long v = strtoll(buf, &end, 10);

		if (errno == ERANGE || *end)
			return 0;
		return fast_add(ud, json_integer(v));
	} else {
		double v;

		if (strcmp(localeconv()->decimal_point, ".") != 0)
			return 0; /* jansson converts the point for the locale: let it */
		v = strtod(buf, &end);
		if (((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE) || *end)
			return 0;
		return fast_add(ud, json_real(v));
	}
}

static int fast_string(void *ud, const unsigned char *s, size_t len)
{
	return fast_add(ud, json_stringn((const char *)s, len)); /* NULL if not valid UTF-8 */
}

static int fast_open(void *ud, json_t *c)
{
	struct fast_build *b = ud;

	if (!c || b->depth == NODE_JSON_FAST_DEPTH || !fast_add(b, json_incref(c))) {
		json_decref(c);
		return 0;
	}
	b->stack[b->depth++] = c; /* borrowed: the parent (or root) holds it */
	json_decref(c);
	return 1;
}

static int fast_start_map(void *ud)
{
	return fast_open(ud, json_object());
}

static int fast_start_array(void *ud)
{
	return fast_open(ud, json_array());
}

static int fast_close(void *ud)
{
	struct fast_build *b = ud;

	if (--b->depth == 0)
		b->end = yajl_get_bytes_consumed(b->h); /* just past the closing bracket */
	return 1;
}

static int fast_key(void *ud, const unsigned char *s, size_t len)
{
	struct fast_build *b = ud;

	if (len > b->key_cap) {
		char *k = sn_realloc(b->key, len);

		if (!k)
			return 0;
		b->key = k;
		b->key_cap = len;
	}
	if (len)
		memcpy(b->key, s, len);
	b->key_len = len;
	return 1;
}

static const yajl_callbacks fast_callbacks = {
	.yajl_null = fast_null,
	.yajl_boolean = fast_boolean,
	.yajl_number = fast_number, /* the raw text: converted as jansson does */
	.yajl_string = fast_string,
	.yajl_start_map = fast_start_map,
	.yajl_map_key = fast_key,
	.yajl_end_map = fast_close,
	.yajl_start_array = fast_start_array,
	.yajl_end_array = fast_close,
};

json_t *node__json_load_fast(const char *text, size_t len)
{
	struct fast_build b = { 0 };
	bool ok;

	if (memchr(text, '\\', len) || memchr(text, '\v', len) || memchr(text, '\f', len))
		return NULL;
	if (!(b.h = yajl_alloc(&fast_callbacks, NULL, &b)))
		return NULL;
	/* Defaults: no comments, strings' UTF-8 checked, no trailing garbage, one value. */
	ok = yajl_parse(b.h, (const unsigned char *)text, len) == yajl_status_ok && b.root && b.depth == 0 && b.end;
	/* YAJL lets an unterminated string after the value pass ("{}\"": it waits for the rest,
	 * and completing the parse does not look at it): only JSON whitespace may follow. */
	for (size_t i = b.end; ok && i < len; i++)
		ok = text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r';
	ok = ok && yajl_complete_parse(b.h) == yajl_status_ok;
	yajl_free(b.h);
	sn_free(b.key);
	if (!ok) {
		json_decref(b.root);
		return NULL;
	}
	return b.root;
}

json_t *node_json_loadb(const char *text, size_t len, json_error_t *err)
{
	json_t *v = node__json_load_fast(text, len);

	if (v) {
		memset(err, 0, sizeof(*err));
		return v;
	}
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, err);
}
