/* tests/common/test_err.c — the error table: codes, names, messages, errno mapping. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>

static const int all_codes[] = {
#define X(n, s, m) SN_##n,
	SN_ERRORS(X)
#undef X
};

static void test_codes_dense_and_negative(void **state)
{
	(void)state;
	assert_int_equal(SN_OK, 0);
	assert_int_equal(SN_ARRAY_LEN(all_codes), SN__ERR_COUNT);
	for (size_t i = 0; i < SN_ARRAY_LEN(all_codes); i++)
		assert_int_equal(all_codes[i], -(int)i);
}

static void test_names_and_messages_distinct(void **state)
{
	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(all_codes); i++) {
		const char *name = sn_errname(all_codes[i]);
		const char *msg = sn_strerror(all_codes[i]);

		assert_non_null(name);
		assert_non_null(msg);
		assert_true(strlen(name) > 0);
		assert_true(strlen(msg) > 0);
		assert_string_not_equal(name, "unknown_error");
		assert_string_not_equal(msg, "unknown error");
		/* Machine names are lower_snake identifiers. */
		for (const char *p = name; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(name, sn_errname(all_codes[j]));
			assert_string_not_equal(msg, sn_strerror(all_codes[j]));
		}
	}
	assert_string_equal(sn_errname(SN_OK), "ok");
	assert_string_equal(sn_errname(SN_E_TRUNCATED), "truncated");
	assert_string_equal(sn_errname(SN_E_BADSIG), "bad_signature");
	assert_string_equal(sn_strerror(SN_E_NOMEM), "out of memory");
}

static void test_unknown_codes(void **state)
{
	static const int unknown[] = { 1, 2, 100, INT_MAX, -(int)SN__ERR_COUNT,
		                       -(int)SN__ERR_COUNT - 1, -1000, INT_MIN + 1, INT_MIN };

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(unknown); i++) {
		assert_string_equal(sn_strerror(unknown[i]), "unknown error");
		assert_string_equal(sn_errname(unknown[i]), "unknown_error");
	}
	/* The last real code is still known. */
	assert_string_not_equal(sn_errname(-(int)SN__ERR_COUNT + 1), "unknown_error");
}

static void test_from_errno(void **state)
{
	static const struct {
		int e, err;
	} map[] = {
		{ 0, SN_OK },           { ENOMEM, SN_E_NOMEM },    { ENOENT, SN_E_NOTFOUND }, { EEXIST, SN_E_EXISTS },
		{ EINVAL, SN_E_INVAL }, { EIO, SN_E_IO },          { ENOSPC, SN_E_DISKFULL }, { EDQUOT, SN_E_DISKFULL },
		{ EFBIG, SN_E_DISKFULL }, { EACCES, SN_E_ACCESS }, { EPERM, SN_E_ACCESS },    { EROFS, SN_E_ACCESS },
		{ ECONNRESET, SN_E_IO },
	};

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(map); i++)
		assert_int_equal(sn_err_from_errno(map[i].e), map[i].err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes_dense_and_negative),
		cmocka_unit_test(test_names_and_messages_distinct),
		cmocka_unit_test(test_unknown_codes),
		cmocka_unit_test(test_from_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
