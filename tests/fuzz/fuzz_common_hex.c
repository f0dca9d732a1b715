/* tests/fuzz/fuzz_common_hex.c — hex decoding and log-level parsing on arbitrary strings.
 * Whatever decodes must re-encode to the input (lowercased); the fixed and variable
 * decoders must agree; bytes → hex → bytes is the identity; a parsed log level's name is
 * the input up to case. */
#include "tests/fuzz/fuzz.h"
#include "common/common.h"

#include <stdlib.h>
#include <strings.h>

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *hex = malloc(2 * size + 1);
	uint8_t *out = malloc(size / 2 + 1), *fixed = malloc(size / 2 + 1);
	size_t n, slen, outlen = 99;
	enum sn_log_level lvl;
	int err;

	if (!s || !hex || !out || !fixed)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	slen = strlen(s); /* the input may hold NULs: the string ends at the first */

	/* Variable-length decode with room for everything. */
	err = sn_hex_decode_var(out, size / 2 + 1, &outlen, s);
	if (err == SN_OK) {
		CHECK(slen % 2 == 0);
		CHECK(outlen == slen / 2);
		sn_hex_encode(hex, out, outlen);
		for (size_t i = 0; i < slen; i++)
			CHECK(hex[i] == lower(s[i]));
		/* The fixed-length decoder agrees. */
		CHECK(sn_hex_decode(fixed, outlen, s) == SN_OK);
		CHECK(memcmp(fixed, out, outlen) == 0);
		/* One byte too few room: too big (unless empty). */
		if (outlen)
			CHECK(sn_hex_decode_var(fixed, outlen - 1, &n, s) == SN_E_TOOBIG && n == 0);
	} else {
		CHECK(err == SN_E_INVAL);
		CHECK(outlen == 0);
		if (slen % 2 == 0)
			CHECK(sn_hex_decode(fixed, slen / 2, s) == SN_E_INVAL);
	}
	/* A wrong fixed length is always refused, and out is left zeroed. */
	if (slen / 2 > 0) {
		CHECK(sn_hex_decode(fixed, slen / 2 - 1, s) == SN_E_INVAL);
		for (size_t i = 0; i + 1 < slen / 2; i++)
			CHECK(fixed[i] == 0);
	}

	/* Raw bytes → hex → bytes. */
	sn_hex_encode(hex, data, size);
	CHECK(strlen(hex) == 2 * size);
	{
		uint8_t *back = malloc(size ? size : 1);

		if (!back)
			abort();
		CHECK(sn_hex_decode(back, size, hex) == SN_OK);
		CHECK(size == 0 || memcmp(back, data, size) == 0);
		free(back);
	}

	/* Log levels. */
	if (sn_log_level_parse(&lvl, s) == SN_OK) {
		CHECK(lvl <= SN_LOG_OFF);
		CHECK(strcasecmp(sn_log_level_name(lvl), s) == 0);
	} else {
		CHECK(lvl == SN_LOG_INFO);
	}

	free(s);
	free(hex);
	free(out);
	free(fixed);
	return 0;
}
