/* common/hex.c — hex encoding for people and JSON. */
#include "common/common.h"

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
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
