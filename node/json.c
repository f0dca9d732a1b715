/* node/json.c — jansson builders for our value conventions. */
#include "node/json.h"

#include <stdio.h>

json_t *node_json_hex(const uint8_t *b, size_t n)
{
	char h[2 * 256 + 1];

	if (n > 256)
		return NULL;
	sn_hex_encode(h, b, n);
	return json_string(h);
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
