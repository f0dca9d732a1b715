/* node/json.c — jansson builders for our value conventions. */
#include "node/json_int.h"

#include <stdio.h>

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
