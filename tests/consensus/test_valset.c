/* tests/consensus/test_valset.c — validator sets (consensus/valset.c): construction errors,
 * canonical order, the 2/3 and 1/3 thresholds against a case-table oracle (also at powers
 * near UINT64_MAX), and the proposer's fairness and determinism. */
#include "cons_testutil.h"

static void test_new_errors(void **state)
{
	struct cons_validator v[CONS_VALIDATORS_MAX + 1];
	struct cons_valset *vs = (void *)1;
	uint8_t sk[CONS_SECKEY_LEN];

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(v); i++) {
		tk_key(i, sk, v[i].key);
		v[i].power = 1;
	}
	assert_int_equal(cons_valset_new(&vs, v, 0), SN_E_INVAL);
	assert_null(vs);
	assert_int_equal(cons_valset_new(&vs, v, CONS_VALIDATORS_MAX + 1), SN_E_TOOBIG);
	assert_int_equal(cons_valset_new(&vs, v, CONS_VALIDATORS_MAX), SN_OK);
	assert_int_equal(cons_valset_count(vs), CONS_VALIDATORS_MAX);
	cons_valset_free(vs);
	v[2].power = 0;
	assert_int_equal(cons_valset_new(&vs, v, 3), SN_E_INVAL);
	v[2].power = 1;
	memcpy(v[2].key, v[0].key, CONS_KEY_LEN);
	assert_int_equal(cons_valset_new(&vs, v, 3), SN_E_EXISTS);
	assert_null(vs);
	tk_key(2, sk, v[2].key);
	v[0].power = UINT64_MAX - 1;
	v[1].power = 1;
	v[2].power = 1;
	assert_int_equal(cons_valset_new(&vs, v, 3), SN_E_OVERFLOW);
	assert_int_equal(cons_valset_new(&vs, v, 2), SN_OK); /* exactly UINT64_MAX fits */
	assert_true(cons_valset_total(vs) == UINT64_MAX);
	cons_valset_free(vs);
	cons_valset_free(NULL);
}

static void test_canonical_order(void **state)
{
	struct cons_validator v[10], rev[10];
	struct cons_valset *a, *b;
	uint8_t sk[CONS_SECKEY_LEN];

	(void)state;
	for (size_t i = 0; i < 10; i++) {
		tk_key(i, sk, v[i].key);
		v[i].power = i + 1;
		rev[9 - i] = v[i];
	}
	assert_int_equal(cons_valset_new(&a, v, 10), SN_OK);
	assert_int_equal(cons_valset_new(&b, rev, 10), SN_OK);
	assert_true(cons_valset_total(a) == 55);
	for (size_t i = 0; i < 10; i++) {
		assert_memory_equal(cons_valset_at(a, i), cons_valset_at(b, i), sizeof(struct cons_validator));
		if (i > 0)
			assert_true(memcmp(cons_valset_at(a, i - 1)->key, cons_valset_at(a, i)->key, CONS_KEY_LEN) < 0);
		assert_int_equal(cons_valset_find(a, v[i].key), cons_valset_find(b, v[i].key));
		assert_true(cons_valset_at(a, (size_t)cons_valset_find(a, v[i].key))->power == v[i].power);
	}
	tk_key(99, sk, v[0].key);
	assert_int_equal(cons_valset_find(a, v[0].key), -1);
	cons_valset_free(a);
	cons_valset_free(b);
}

/* The oracle: by the residue of t mod 3, the least power above 2t/3 and above t/3.
 * t = 3k: 2k+1 and k+1; t = 3k+1: 2k+1 and k+1; t = 3k+2: 2k+2 and k+1. */
static void oracle(uint64_t t, uint64_t *q, uint64_t *third)
{
	uint64_t k = t / 3;

	*q = t % 3 == 2 ? 2 * k + 2 : 2 * k + 1;
	*third = k + 1;
}

static void check_thresholds(const uint64_t *powers, size_t n)
{
	struct cons_validator v[4];
	struct cons_valset *vs;
	uint8_t sk[CONS_SECKEY_LEN];
	uint64_t q, third;

	for (size_t i = 0; i < n; i++) {
		tk_key(i, sk, v[i].key);
		v[i].power = powers[i];
	}
	assert_int_equal(cons_valset_new(&vs, v, n), SN_OK);
	oracle(cons_valset_total(vs), &q, &third);
	assert_true(cons_valset_quorum_power(vs) == q);
	assert_true(cons_valset_is_quorum(vs, q));
	assert_false(cons_valset_is_quorum(vs, q - 1));
	assert_true(cons_valset_is_quorum(vs, cons_valset_total(vs)));
	assert_true(cons_valset_is_one_third(vs, third));
	assert_false(cons_valset_is_one_third(vs, third - 1));
	cons_valset_free(vs);
}

static void test_thresholds_small(void **state)
{
	(void)state;
	for (uint64_t t = 1; t <= 400; t++) {
		uint64_t p[2] = { t, 0 };
		uint64_t q, third;

		check_thresholds(p, 1);
		if (t >= 2) {
			p[0] = t / 2;
			p[1] = t - t / 2;
			check_thresholds(p, 2);
		}
		oracle(t, &q, &third);
		/* The classic cases: 3 of 4, 3 of 3 (2 of 3 is exactly 2/3, not more), 5 of 7. */
		if (t == 4)
			assert_true(q == 3 && third == 2);
		if (t == 3)
			assert_true(q == 3 && third == 2);
		if (t == 7)
			assert_true(q == 5 && third == 3);
	}
}

static void test_thresholds_near_u64_max(void **state)
{
	const uint64_t cases[][3] = {
		{ UINT64_MAX - 10, 10, 0 },            /* total 2^64-1 = 3k */
		{ UINT64_MAX / 2, UINT64_MAX / 2, 0 },  /* 2^64-2 = 3k+2 */
		{ UINT64_MAX / 3, UINT64_MAX / 3, UINT64_MAX / 3 },
		{ (1ull << 63), (1ull << 62), (1ull << 62) - 1 },
		{ UINT64_MAX - 2, 1, 0 },               /* 2^64-2 */
		{ UINT64_MAX - 3, 1, 1 },               /* 2^64-2 */
		{ UINT64_MAX - 4, 1, 1 },               /* 2^64-3 = 3k+1 */
	};

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(cases); i++)
		check_thresholds(cases[i], cases[i][2] ? 3 : 2);
}

static void test_proposer_fairness(void **state)
{
	const uint64_t powers[5] = { 1, 2, 3, 4, 10 };
	struct tk_vals t;
	uint64_t count[5] = { 0 }, same_next = 0;
	const uint64_t draws = 40000;

	(void)state;
	tk_vals_init(&t, 5, powers);
	for (uint64_t h = 1; h <= draws / 4; h++) {
		for (uint32_t r = 0; r < 4; r++) {
			size_t p = cons_valset_proposer(t.vs, h, r);

			assert_true(p < 5);
			assert_int_equal(p, cons_valset_proposer(t.vs, h, r)); /* deterministic */
			count[p]++;
			if (r > 0 && p == cons_valset_proposer(t.vs, h, r - 1))
				same_next++;
		}
	}
	for (size_t i = 0; i < 5; i++) {
		double expect = (double)draws * (double)cons_valset_at(t.vs, i)->power / 20.0;
		double got = (double)count[i];

		/* 5 standard deviations at most (sd <= sqrt(40000/4) = 100). */
		printf("validator %zu power %llu: %llu of %llu (expected %.0f)\n", i,
		       (unsigned long long)cons_valset_at(t.vs, i)->power, (unsigned long long)count[i],
		       (unsigned long long)draws, expect);
		assert_true(got > expect - 500 && got < expect + 500);
	}
	/* Consecutive rounds are independent draws: the same proposer about sum p_i^2 = 0.325 of
	 * the time, not always (a crashed proposer does not stall a height). */
	assert_true(same_next > 30000 * 0.28 && same_next < 30000 * 0.37);
	tk_vals_free(&t);
}

static void test_proposer_single_and_equal(void **state)
{
	struct tk_vals t;
	uint64_t count[7] = { 0 };

	(void)state;
	tk_vals_init(&t, 1, NULL);
	for (uint64_t h = 1; h < 100; h++)
		assert_int_equal(cons_valset_proposer(t.vs, h, (uint32_t)h), 0);
	tk_vals_free(&t);
	tk_vals_init(&t, 7, NULL);
	for (uint64_t h = 1; h <= 7000; h++)
		count[cons_valset_proposer(t.vs, h, 0)]++;
	for (size_t i = 0; i < 7; i++)
		assert_true(count[i] > 800 && count[i] < 1200);
	tk_vals_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_canonical_order),
		cmocka_unit_test(test_thresholds_small),
		cmocka_unit_test(test_thresholds_near_u64_max),
		cmocka_unit_test(test_proposer_fairness),
		cmocka_unit_test(test_proposer_single_and_equal),
	};
	return cmocka_run_group_tests(tests, tu_setup_crypto, NULL);
}
