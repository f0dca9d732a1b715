/* common/hex.c — hex encoding for people and JSON. */
#include "common/common.h"

/* Each byte's value as a hex digit, or -1: one load per character (submit_tx decodes a few
 * hundred per request on the loop thread). */
#define D(c) [c] = (c) - '0' + 1
#define L(c) [c] = (c) - 'a' + 11, [(c) - 'a' + 'A'] = (c) - 'a' + 11
static const int8_t nibble1[256] = { D('0'), D('1'), D('2'), D('3'), D('4'), D('5'), D('6'), D('7'),
	                              D('8'), D('9'), L('a'), L('b'), L('c'), L('d'), L('e'), L('f') };
#undef D
#undef L

static int hex_nibble(char c)
{
	return nibble1[(unsigned char)c] - 1; /* the table holds value + 1, 0 for none */
}

void sn_hex_encode(char *out, const void *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = in;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

int sn_hex_decode_var(uint8_t *out, size_t cap, size_t *outlen, const char *hex)
{
	size_t n;

	*outlen = 0;
	if (!hex)
		return SN_E_INVAL;
	n = strlen(hex);
	if (n % 2)
		return SN_E_INVAL;
	if (n / 2 > cap)
		return SN_E_TOOBIG;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return SN_E_INVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = n / 2;
	return SN_OK;
}

int sn_hex_decode(void *out, size_t outlen, const char *hex)
{
	size_t got;
	int err;

	memset(out, 0, outlen);
	if (!hex || strlen(hex) != 2 * outlen)
		return SN_E_INVAL;
	err = sn_hex_decode_var(out, outlen, &got, hex);
	if (err)
		memset(out, 0, outlen);
	return err;
}
