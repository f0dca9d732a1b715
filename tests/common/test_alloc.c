/* tests/common/test_alloc.c — the allocation hook and its fault injection. */
#include "testutil.h"

static int reset_faults(void **state)
{
	(void)state;
	sn_alloc_fail_after(0);
	return 0;
}

static void test_plain_allocations(void **state)
{
	uint8_t *p, *q;

	(void)state;
	p = sn_malloc(16);
	assert_non_null(p);
	memset(p, 0x5a, 16);
	q = sn_realloc(p, 4096);
	assert_non_null(q);
	for (int i = 0; i < 16; i++)
		assert_int_equal(q[i], 0x5a);
	sn_free(q);
	p = sn_calloc(8, 8);
	assert_non_null(p);
	for (int i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	sn_free(p);
	/* Zero sizes still give a pointer that can be freed. */
	p = sn_malloc(0);
	assert_non_null(p);
	sn_free(p);
	p = sn_calloc(0, 0);
	assert_non_null(p);
	p = sn_realloc(p, 0);
	assert_non_null(p);
	sn_free(p);
	sn_free(NULL);
}

/* sn_alloc_fail_after(n): allocations 1..n-1 from now succeed, the nth and every later one
 * fail, through each of malloc, calloc and realloc. */
static void test_fail_after_n(void **state)
{
	(void)state;
	for (unsigned long n = 1; n <= 6; n++) {
		void *ptrs[8] = { 0 };

		sn_alloc_fail_after(n);
		for (unsigned long i = 1; i <= 8; i++) {
			void *p;

			switch (i % 3) {
			case 0: p = sn_malloc(32); break;
			case 1: p = sn_calloc(4, 8); break;
			default: p = sn_realloc(NULL, 32); break;
			}
			if (i < n)
				assert_non_null(p);
			else
				assert_null(p);
			ptrs[i - 1] = p;
		}
		sn_alloc_fail_after(0);
		for (int i = 0; i < 8; i++)
			sn_free(ptrs[i]);
	}
}

static void test_failed_realloc_keeps_block(void **state)
{
	uint8_t *p, *q;

	(void)state;
	p = sn_malloc(8);
	assert_non_null(p);
	memcpy(p, "settled", 8);
	sn_alloc_fail_after(1);
	q = sn_realloc(p, 1024);
	assert_null(q);
	sn_alloc_fail_after(0);
	assert_string_equal((char *)p, "settled");
	sn_free(p);
}

static void test_zero_disables_and_free_never_counts(void **state)
{
	void *p;

	(void)state;
	sn_alloc_fail_after(2);
	p = sn_malloc(1); /* 1st: ok */
	assert_non_null(p);
	sn_free(p); /* frees are not allocations */
	sn_free(NULL);
	assert_null(sn_malloc(1)); /* 2nd: fails */
	assert_null(sn_malloc(1)); /* and every later one */
	sn_alloc_fail_after(0);
	for (int i = 0; i < 100; i++) {
		p = sn_malloc(1);
		assert_non_null(p);
		sn_free(p);
	}
	/* Re-arming starts counting afresh. */
	sn_alloc_fail_after(3);
	p = sn_malloc(1);
	assert_non_null(p);
	sn_free(p);
	p = sn_malloc(1);
	assert_non_null(p);
	sn_free(p);
	assert_null(sn_malloc(1));
	sn_alloc_fail_after(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_plain_allocations, reset_faults),
		cmocka_unit_test_teardown(test_fail_after_n, reset_faults),
		cmocka_unit_test_teardown(test_failed_realloc_keeps_block, reset_faults),
		cmocka_unit_test_teardown(test_zero_disables_and_free_never_counts, reset_faults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
