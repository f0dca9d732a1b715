/* tests/common/test_hex.c — hex encoding and decoding. */
#include "testutil.h"

static void test_encode(void **state)
{
	static const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff };
	char out[2 * sizeof(in) + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	sn_hex_encode(out, in, sizeof(in));
	assert_string_equal(out, "00017f80abcdefff");
	sn_hex_encode(out, in, 0);
	assert_string_equal(out, "");
}

static void test_decode_fixed(void **state)
{
	uint8_t out[4];

	(void)state;
	assert_int_equal(sn_hex_decode(out, sizeof(out), "deadBEEF"), SN_OK);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	assert_int_equal(sn_hex_decode(out, 0, ""), SN_OK);
}

static void test_decode_fixed_rejects(void **state)
{
	static const char *const bad[] = {
		"",          /* too short */
		"deadbee",   /* odd, too short */
		"deadbeef0", /* odd, too long */
		"deadbeef00", /* too long */
		"deadbeeg",  /* not a digit */
		"dead beef", /* space */
		" deadbee",
		"0xdeadbe",
		"deadbe-f",
	};
	uint8_t out[4];

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(bad); i++) {
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(sn_hex_decode(out, sizeof(out), bad[i]), SN_E_INVAL);
		/* out is zeroed on entry and stays zero on failure. */
		assert_memory_equal(out, "\0\0\0\0", 4);
	}
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(sn_hex_decode(out, sizeof(out), NULL), SN_E_INVAL);
	assert_memory_equal(out, "\0\0\0\0", 4);
}

static void test_decode_var(void **state)
{
	uint8_t out[8];
	size_t n = 99;

	(void)state;
	assert_int_equal(sn_hex_decode_var(out, sizeof(out), &n, ""), SN_OK);
	assert_int_equal(n, 0);
	assert_int_equal(sn_hex_decode_var(out, sizeof(out), &n, "0aFf"), SN_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x0a\xff", 2);
	assert_int_equal(sn_hex_decode_var(out, sizeof(out), &n, "0001020304050607"), SN_OK);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "\0\1\2\3\4\5\6\7", 8);

	n = 99;
	assert_int_equal(sn_hex_decode_var(out, sizeof(out), &n, "000102030405060708"), SN_E_TOOBIG);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(sn_hex_decode_var(out, sizeof(out), &n, "abc"), SN_E_INVAL);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(sn_hex_decode_var(out, sizeof(out), &n, "zz"), SN_E_INVAL);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(sn_hex_decode_var(out, sizeof(out), &n, NULL), SN_E_INVAL);
	assert_int_equal(n, 0);
	assert_int_equal(sn_hex_decode_var(out, 0, &n, ""), SN_OK);
	assert_int_equal(sn_hex_decode_var(out, 0, &n, "00"), SN_E_TOOBIG);
}

/* Every byte value: encode then decode (both cases) gives it back; every non-hex character
 * is rejected in both positions. */
static void test_all_bytes_and_chars(void **state)
{
	uint8_t all[256], back[256];
	char hex[513];
	size_t n;

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	sn_hex_encode(hex, all, sizeof(all));
	assert_int_equal(strlen(hex), 512);
	assert_int_equal(sn_hex_decode(back, sizeof(back), hex), SN_OK);
	assert_memory_equal(back, all, sizeof(all));
	for (size_t i = 0; i < 512; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	assert_int_equal(sn_hex_decode_var(back, sizeof(back), &n, hex), SN_OK);
	assert_int_equal(n, 256);
	assert_memory_equal(back, all, sizeof(all));

	for (int c = 1; c < 256; c++) {
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		char s1[3] = { (char)c, '0', 0 }, s2[3] = { '0', (char)c, 0 };
		uint8_t b;

		assert_int_equal(sn_hex_decode(&b, 1, s1), ok ? SN_OK : SN_E_INVAL);
		assert_int_equal(sn_hex_decode(&b, 1, s2), ok ? SN_OK : SN_E_INVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode_fixed),
		cmocka_unit_test(test_decode_fixed_rejects),
		cmocka_unit_test(test_decode_var),
		cmocka_unit_test(test_all_bytes_and_chars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
