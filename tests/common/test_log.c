/* tests/common/test_log.c — log levels, filtering and the custom sink. */
#include "testutil.h"

#include <stdio.h>

struct captured {
	int calls;
	enum sn_log_level lvl;
	char subsys[64];
	char msg[2048];
};

static void capture_sink(void *ud, enum sn_log_level lvl, const char *subsys, const char *msg)
{
	struct captured *c = ud;

	c->calls++;
	c->lvl = lvl;
	snprintf(c->subsys, sizeof(c->subsys), "%s", subsys);
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static int teardown_log(void **state)
{
	(void)state;
	sn_log_set(NULL, NULL, SN_LOG_INFO);
	return 0;
}

static void test_level_parse(void **state)
{
	static const struct {
		const char *s;
		enum sn_log_level lvl;
	} ok[] = {
		{ "trace", SN_LOG_TRACE }, { "debug", SN_LOG_DEBUG }, { "info", SN_LOG_INFO },
		{ "warn", SN_LOG_WARN },   { "error", SN_LOG_ERROR }, { "off", SN_LOG_OFF },
		{ "INFO", SN_LOG_INFO },   { "Warn", SN_LOG_WARN },
	};
	static const char *const bad[] = { "", "inf", "infos", "warning", " info", "info ",
		                           "err", "none", "0", "trace\n" };
	enum sn_log_level lvl;

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(ok); i++) {
		lvl = (enum sn_log_level)99;
		assert_int_equal(sn_log_level_parse(&lvl, ok[i].s), SN_OK);
		assert_int_equal(lvl, ok[i].lvl);
	}
	for (size_t i = 0; i < SN_ARRAY_LEN(bad); i++) {
		lvl = SN_LOG_ERROR;
		assert_int_equal(sn_log_level_parse(&lvl, bad[i]), SN_E_INVAL);
	}
	assert_int_equal(sn_log_level_parse(&lvl, NULL), SN_E_INVAL);
}

static void test_level_names_round_trip(void **state)
{
	(void)state;
	for (int l = SN_LOG_TRACE; l <= SN_LOG_OFF; l++) {
		enum sn_log_level back;

		assert_int_equal(sn_log_level_parse(&back, sn_log_level_name((enum sn_log_level)l)),
		                 SN_OK);
		assert_int_equal(back, l);
	}
	assert_string_equal(sn_log_level_name(SN_LOG_WARN), "warn");
	assert_string_equal(sn_log_level_name((enum sn_log_level)42), "?");
}

static void test_sink_receives_subsystem_and_message(void **state)
{
	struct captured c = { 0 };

	(void)state;
	sn_log_set(capture_sink, &c, SN_LOG_TRACE);
	assert_int_equal(sn_log_level_get(), SN_LOG_TRACE);
	sn_log_emit(SN_LOG_WARN, "storage", "height %d: %s", 42, "hello");
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.lvl, SN_LOG_WARN);
	assert_string_equal(c.subsys, "storage");
	assert_string_equal(c.msg, "height 42: hello");
	SN_LOG(SN_LOG_TRACE, "net", "x=%u", 7u);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.lvl, SN_LOG_TRACE);
	assert_string_equal(c.subsys, "net");
	assert_string_equal(c.msg, "x=7");
}

static int side_effects;

static int count_call(void)
{
	return ++side_effects;
}

static void test_level_filtering(void **state)
{
	struct captured c = { 0 };

	(void)state;
	for (int min = SN_LOG_TRACE; min <= SN_LOG_OFF; min++) {
		sn_log_set(capture_sink, &c, (enum sn_log_level)min);
		for (int l = SN_LOG_TRACE; l <= SN_LOG_ERROR; l++) {
			int before = c.calls;

			sn_log_emit((enum sn_log_level)l, "t", "lvl %d", l);
			assert_int_equal(c.calls - before, l >= min ? 1 : 0);
			before = c.calls;
			SN_LOG((enum sn_log_level)l, "t", "lvl %d", l);
			assert_int_equal(c.calls - before, l >= min ? 1 : 0);
		}
		/* OFF is a threshold, never a level to log at. */
		int before = c.calls;
		sn_log_emit(SN_LOG_OFF, "t", "never");
		assert_int_equal(c.calls, before);
	}
}

static void test_arguments_not_evaluated_below_level(void **state)
{
	struct captured c = { 0 };

	(void)state;
	side_effects = 0;
	sn_log_set(capture_sink, &c, SN_LOG_WARN);
	SN_LOG(SN_LOG_DEBUG, "t", "%d", count_call());
	assert_int_equal(side_effects, 0);
	assert_int_equal(c.calls, 0);
	SN_LOG(SN_LOG_ERROR, "t", "%d", count_call());
	assert_int_equal(side_effects, 1);
	assert_int_equal(c.calls, 1);
	assert_string_equal(c.msg, "1");
}

static void test_long_message_truncated_not_overflowed(void **state)
{
	struct captured c = { 0 };
	char big[4000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sn_log_set(capture_sink, &c, SN_LOG_INFO);
	sn_log_emit(SN_LOG_INFO, "t", "%s", big);
	assert_int_equal(c.calls, 1);
	assert_true(strlen(c.msg) > 0 && strlen(c.msg) < sizeof(big) - 1);
	for (size_t i = 0; c.msg[i]; i++)
		assert_int_equal(c.msg[i], 'a');
}

static void test_default_sink(void **state)
{
	(void)state;
	/* NULL restores the default stderr sink; it must not crash. */
	sn_log_set(NULL, NULL, SN_LOG_ERROR);
	assert_int_equal(sn_log_level_get(), SN_LOG_ERROR);
	sn_log_emit(SN_LOG_ERROR, "test", "default sink works (%s)", "expected output");
	sn_log_emit(SN_LOG_INFO, "test", "filtered: must not appear");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_level_names_round_trip),
		cmocka_unit_test_teardown(test_sink_receives_subsystem_and_message, teardown_log),
		cmocka_unit_test_teardown(test_level_filtering, teardown_log),
		cmocka_unit_test_teardown(test_arguments_not_evaluated_below_level, teardown_log),
		cmocka_unit_test_teardown(test_long_message_truncated_not_overflowed, teardown_log),
		cmocka_unit_test_teardown(test_default_sink, teardown_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
