/* tests/node/test_json.c — node_json_loadb, the request-body decoder: its fast path (YAJL's
 * lexer, jansson values) takes the bodies the node sees every day, declines every text where
 * YAJL's rules are not jansson's, and the whole agrees with jansson (values and errors) on
 * both kinds. tests/fuzz/fuzz_node_json.c searches for disagreements at large. */
#include "testutil.h"

#include <stdlib.h>

#include "node/json_int.h"

/* Decodes t (n bytes) three ways and checks they agree; returns whether the fast path took it. */
static bool agrees(const char *t, size_t n)
{
	json_error_t je, ne;
	json_t *j = json_loadb(t, n, JSON_REJECT_DUPLICATES, &je);
	json_t *f = node__json_load_fast(t, n);
	json_t *v = node_json_loadb(t, n, &ne);
	bool fast = f != NULL;

	if (f) {
		assert_non_null(j);
		assert_true(json_equal(f, j));
	}
	assert_int_equal(v == NULL, j == NULL);
	if (v) {
		assert_true(json_equal(v, j));
	} else {
		assert_string_equal(ne.text, je.text);
		assert_int_equal(ne.line, je.line);
		assert_int_equal(ne.column, je.column);
	}
	json_decref(j);
	json_decref(f);
	json_decref(v);
	return fast;
}

static bool agrees_s(const char *t)
{
	return agrees(t, strlen(t));
}

static void test_everyday_bodies_take_the_fast_path(void **state)
{
	char req[1024], hex[601];
	json_error_t e;
	json_t *v;

	(void)state;
	memset(hex, 'a', 600);
	hex[600] = '\0';
	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"submit_tx\",\"params\":[\"%s\"]}", hex);
	assert_true(agrees_s(req));
	v = node_json_loadb(req, strlen(req), &e);
	assert_int_equal(json_integer_value(json_object_get(v, "id")), 7);
	assert_string_equal(json_string_value(json_array_get(json_object_get(v, "params"), 0)), hex);
	json_decref(v);
	assert_true(agrees_s("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"},"
	                     "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"get_block\",\"params\":[3,true]}]"));
	assert_true(agrees_s(" { \"a\" : [ 1 , -0 , 0.5 , -1.5e3 , 1E-400 , true , false , null , \"\" ] } \n"));
	assert_true(agrees_s("{\"\xc3\xa9t\xc3\xa9\":\"\xf0\x9f\x98\x80\"}")); /* UTF-8 keys and strings */
	assert_true(agrees_s("[9223372036854775807,-9223372036854775808,1e308]"));
	assert_true(agrees_s("{\"a\":{\"a\":1},\"b\":{\"a\":2}}")); /* the same key in two objects */
	assert_true(agrees_s("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"));
	assert_true(agrees_s("[\"\x7f\"]"));
}

/* Where YAJL alone would accept something else, or build another value, the fast path
 * declines and jansson decides. */
static void test_declined_where_the_rules_differ(void **state)
{
	static const char *const texts[] = {
		"[\"\\ud800\"]",          /* YAJL: '?' */
		"[\"\\ud800\\u0041\"]",   /* YAJL: some other character */
		"[\"\\udc00\"]",          /* YAJL: CESU bytes */
		"[\"\\u0000\"]",          /* jansson: refused without JSON_ALLOW_NUL */
		"[\"\\ud83d\\ude00\"]",   /* valid, but escaped: jansson's */
		"[1\v]", "[\f1]",         /* YAJL skips \v and \f as whitespace */
		"{\"a\":1,\"a\":2}",      /* duplicate keys: jansson refuses (JSON_REJECT_DUPLICATES) */
		"{\"a\":{\"b\":1,\"b\":1}}",
		"1", "\"x\"", "null", "true", /* jansson wants an object or array at the top */
		"[9223372036854775808]", "[-9223372036854775809]", /* out of int64 */
		"[1e309]", "[-1e309]",    /* real overflow */
		"[1234567890123456789012345678901234567890123456789012345678901234567890.5]", /* over 63 characters */
		"[\"\xc0\x80\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", /* overlong, surrogate, > U+10FFFF */
		"{\"\xc0\xaf\":1}",
		"[01]", "[-01]", "[1.]", "[.5]", "[+1]", "[1e]", "[-]", "", " ", "[] []", "[]x", "[1,]",
		"{\"a\":1,}", "{\"a\"}", "{1:2}", "/* c */ []", "[1] // c", "\xef\xbb\xbf[]", "[\"\xff\"]",
		"{}\"", "[]\"]", "{}\"\n", /* YAJL: an unterminated string after the value passes */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (agrees_s(texts[i]))
			fail_msg("the fast path took \"%s\"", texts[i]);
	assert_false(agrees("[1\0]", 4));
	assert_false(agrees("[\"\0\"]", 5));
}

static void test_depth(void **state)
{
	char t[2 * 3000 + 1];

	(void)state;
	for (int d = NODE_JSON_FAST_DEPTH; d <= NODE_JSON_FAST_DEPTH + 1; d++) {
		memset(t, '[', (size_t)d);
		memset(t + d, ']', (size_t)d);
		assert_int_equal(agrees(t, 2 * (size_t)d), d == NODE_JSON_FAST_DEPTH);
	}
	memset(t, '[', 3000); /* past jansson's own limit: its error */
	memset(t + 3000, ']', 3000);
	assert_false(agrees(t, sizeof(t) - 1));
}

/* Seeded random texts built from JSON's pieces, many of them invalid. */
static void test_random_texts(void **state)
{
	static const char *const pieces[] = { "{", "}", "[", "]", ",", ":", "\"a\"", "\"b\"", "1", "-2", "0.5",
		                              "1e3", "true", "null", " ", "\"\\u00e9\"", "01", "\"\xc3\xa9\"", "\n" };
	struct tu_rng rng = { tu_seed("test_random_texts") };
	char t[256];
	size_t fast = 0;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		size_t n = 0, k = 1 + tu_rand_below(&rng, 12);

		for (size_t p = 0; p < k; p++) {
			const char *s = pieces[tu_rand_below(&rng, sizeof(pieces) / sizeof(pieces[0]))];
			size_t l = strlen(s);

			memcpy(t + n, s, l);
			n += l;
		}
		fast += agrees(t, n);
	}
	assert_true(fast > 100); /* the fast path did take some */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everyday_bodies_take_the_fast_path),
		cmocka_unit_test(test_declined_where_the_rules_differ),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_random_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
