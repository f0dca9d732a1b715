/* tests/consensus/test_voteset.c — vote sets (consensus/voteset.c): tallies per value and for
 * nil, the 2/3 and 1/3 questions, duplicates, equivocation evidence, signature, membership
 * and (height, round, type) rejections, weighted powers, and the certificate they make. */
#include "cons_testutil.h"

#include "consensus/cons_int.h"

static struct tk_vals vals4, vals_w; /* 4 × power 1; powers 10, 1, 1, 1 */

static int setup(void **state)
{
	int err = tu_setup_crypto(state);

	if (err)
		return err;
	tk_vals_init(&vals4, 4, NULL);
	tk_vals_init(&vals_w, 4, (const uint64_t[]){ 10, 1, 1, 1 });
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tk_vals_free(&vals4);
	tk_vals_free(&vals_w);
	return 0;
}

static void test_tally_and_quorum(void **state)
{
	struct cons_voteset *s;
	uint8_t a[SN_HASH_LEN], b[SN_HASH_LEN], got[SN_HASH_LEN];
	struct cons_vote v;
	bool has;

	(void)state;
	tk_block(a, 1);
	tk_block(b, 2);
	assert_int_equal(cons__voteset_new(&s, vals4.vs, TK_CHAIN, 5, 1, 3), SN_E_INVAL);
	assert_int_equal(cons__voteset_new(&s, vals4.vs, TK_CHAIN, 5, 1, CONS_VOTE_PREVOTE), SN_OK);
	assert_false(cons__voteset_has_one_third_any(s));

	v = tk_vote(&vals4, 0, CONS_VOTE_PREVOTE, 5, 1, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	assert_true(cons__voteset_power_for(s, true, a) == 1);
	assert_false(cons__voteset_has_one_third_any(s)); /* 1 of 4 is not more than 1/3 */
	v = tk_vote(&vals4, 1, CONS_VOTE_PREVOTE, 5, 1, b);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	assert_true(cons__voteset_has_one_third_any(s)); /* 2 of 4, on different values */
	assert_false(cons__voteset_has_quorum_any(s));
	v = tk_vote(&vals4, 2, CONS_VOTE_PREVOTE, 5, 1, NULL);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	/* 3 of 4 of any values, but no value has a quorum. */
	assert_true(cons__voteset_has_quorum_any(s));
	assert_false(cons__voteset_quorum_value(s, &has, got));
	assert_true(cons__voteset_power_for(s, false, NULL) == 1);
	assert_true(cons__voteset_power_for(s, true, b) == 1);
	assert_true(cons__voteset_power_any(s) == 3);
	assert_false(cons__voteset_has_quorum_for(s, true, a));
	assert_true(cons__voteset_has_member(s, 2));
	assert_false(cons__voteset_has_member(s, 3));
	cons__voteset_free(s);

	/* 3 of 4 for a: a quorum for a. */
	assert_int_equal(cons__voteset_new(&s, vals4.vs, TK_CHAIN, 5, 1, CONS_VOTE_PRECOMMIT), SN_OK);
	for (size_t i = 0; i < 3; i++) {
		assert_false(cons__voteset_has_quorum_for(s, true, a));
		v = tk_vote(&vals4, i, CONS_VOTE_PRECOMMIT, 5, 1, a);
		assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	}
	assert_true(cons__voteset_has_quorum_for(s, true, a));
	assert_true(cons__voteset_quorum_value(s, &has, got));
	assert_true(has);
	assert_memory_equal(got, a, SN_HASH_LEN);
	{
		static struct cons_commit c;

		cons__voteset_commit(s, a, &c);
		assert_int_equal(c.count, 3);
		assert_true(c.height == 5 && c.round == 1);
		assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals4.vs), SN_OK);
		cons__voteset_commit(s, b, &c);
		assert_int_equal(c.count, 0);
	}
	cons__voteset_free(s);

	/* A quorum for nil. */
	assert_int_equal(cons__voteset_new(&s, vals4.vs, TK_CHAIN, 5, 1, CONS_VOTE_PREVOTE), SN_OK);
	for (size_t i = 1; i < 4; i++) {
		v = tk_vote(&vals4, i, CONS_VOTE_PREVOTE, 5, 1, NULL);
		assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	}
	assert_true(cons__voteset_has_quorum_for(s, false, NULL));
	assert_true(cons__voteset_quorum_value(s, &has, got));
	assert_false(has);
	cons__voteset_free(s);
	cons__voteset_free(NULL);
}

static void test_weighted(void **state)
{
	struct cons_voteset *s;
	uint8_t a[SN_HASH_LEN];
	struct cons_vote v;
	size_t big = 0;

	(void)state;
	tk_block(a, 3);
	for (size_t i = 0; i < 4; i++)
		if (cons_valset_at(vals_w.vs, i)->power == 10)
			big = i;
	assert_int_equal(cons__voteset_new(&s, vals_w.vs, TK_CHAIN, 1, 0, CONS_VOTE_PREVOTE), SN_OK);
	for (size_t i = 0; i < 4; i++) {
		if (i == big)
			continue;
		v = tk_vote(&vals_w, i, CONS_VOTE_PREVOTE, 1, 0, a);
		assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	}
	assert_true(cons__voteset_power_for(s, true, a) == 3);
	assert_false(cons__voteset_has_one_third_any(s)); /* 3 of 13 */
	v = tk_vote(&vals_w, big, CONS_VOTE_PREVOTE, 1, 0, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	assert_true(cons__voteset_power_for(s, true, a) == 13);
	cons__voteset_free(s);

	assert_int_equal(cons__voteset_new(&s, vals_w.vs, TK_CHAIN, 1, 0, CONS_VOTE_PREVOTE), SN_OK);
	v = tk_vote(&vals_w, big, CONS_VOTE_PREVOTE, 1, 0, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	assert_true(cons__voteset_has_quorum_for(s, true, a)); /* 10 of 13 > 2/3 */
	cons__voteset_free(s);
}

static void test_duplicates_and_equivocation(void **state)
{
	struct cons_voteset *s;
	uint8_t a[SN_HASH_LEN], b[SN_HASH_LEN];
	struct cons_vote va, vb, vn, forged;
	struct cons_evidence ev;

	(void)state;
	tk_block(a, 4);
	tk_block(b, 5);
	assert_int_equal(cons__voteset_new(&s, vals4.vs, TK_CHAIN, 8, 0, CONS_VOTE_PRECOMMIT), SN_OK);
	va = tk_vote(&vals4, 3, CONS_VOTE_PRECOMMIT, 8, 0, a);
	vb = tk_vote(&vals4, 3, CONS_VOTE_PRECOMMIT, 8, 0, b);
	vn = tk_vote(&vals4, 3, CONS_VOTE_PRECOMMIT, 8, 0, NULL);
	assert_int_equal(cons__voteset_add(s, &va, &ev), SN_OK);
	assert_int_equal(cons__voteset_add(s, &va, &ev), SN_E_EXISTS);
	assert_true(cons__voteset_power_any(s) == 1);

	assert_int_equal(cons__voteset_add(s, &vb, &ev), SN_E_EQUIVOCATION);
	assert_memory_equal(&ev.a, &va, sizeof(va));
	assert_memory_equal(&ev.b, &vb, sizeof(vb));
	assert_int_equal(cons_vote_verify(&ev.a), SN_OK);
	assert_int_equal(cons_vote_verify(&ev.b), SN_OK);
	/* The first vote keeps counting; the second counts for its own value, not for "any". */
	assert_true(cons__voteset_power_for(s, true, a) == 1);
	assert_true(cons__voteset_power_for(s, true, b) == 1);
	assert_true(cons__voteset_power_any(s) == 1);
	assert_int_equal(cons__voteset_add(s, &vb, &ev), SN_E_EXISTS); /* the second is in */
	/* A third value (nil here) is evidence only. */
	assert_int_equal(cons__voteset_add(s, &vn, &ev), SN_E_EQUIVOCATION);
	assert_memory_equal(&ev.b, &vn, sizeof(vn));
	assert_true(cons__voteset_power_for(s, false, NULL) == 0);
	assert_true(cons__voteset_power_any(s) == 1);
	/* A forged conflicting vote (bad signature) is no evidence. */
	forged = tk_vote(&vals4, 3, CONS_VOTE_PRECOMMIT, 8, 0, a);
	tk_block(forged.block, 99); /* signed over a, claims another block */
	assert_int_equal(cons__voteset_add(s, &forged, &ev), SN_E_BADSIG);
	assert_true(ev.a.height == 0);
	cons__voteset_free(s);
}

/* An equivocator's two votes each count for their value: with two honest members for a and
 * one for b, it makes a quorum for a (3 of 4) — and none for b — whichever vote came first. */
static void test_equivocator_counts_once_per_value(void **state)
{
	struct cons_voteset *s;
	uint8_t a[SN_HASH_LEN], b[SN_HASH_LEN];
	struct cons_vote v;
	static struct cons_commit c;

	(void)state;
	tk_block(a, 14);
	tk_block(b, 15);
	assert_int_equal(cons__voteset_new(&s, vals4.vs, TK_CHAIN, 2, 0, CONS_VOTE_PRECOMMIT), SN_OK);
	v = tk_vote(&vals4, 3, CONS_VOTE_PRECOMMIT, 2, 0, b); /* the equivocator's first: b */
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	v = tk_vote(&vals4, 3, CONS_VOTE_PRECOMMIT, 2, 0, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_EQUIVOCATION);
	v = tk_vote(&vals4, 0, CONS_VOTE_PRECOMMIT, 2, 0, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	assert_false(cons__voteset_has_quorum_for(s, true, a));
	v = tk_vote(&vals4, 1, CONS_VOTE_PRECOMMIT, 2, 0, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_OK);
	assert_true(cons__voteset_has_quorum_for(s, true, a));
	assert_false(cons__voteset_has_quorum_for(s, true, b));
	assert_true(cons__voteset_power_any(s) == 3); /* members, once each */
	cons__voteset_commit(s, a, &c);
	assert_int_equal(c.count, 3);
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals4.vs), SN_OK);
	cons__voteset_free(s);
}

static void test_rejections(void **state)
{
	struct cons_voteset *s;
	uint8_t a[SN_HASH_LEN], sk[CONS_SECKEY_LEN];
	struct cons_vote v;

	(void)state;
	tk_block(a, 6);
	assert_int_equal(cons__voteset_new(&s, vals4.vs, TK_CHAIN, 8, 2, CONS_VOTE_PREVOTE), SN_OK);
	v = tk_vote(&vals4, 0, CONS_VOTE_PREVOTE, 8, 2, a);
	v.sig[10] ^= 4;
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_BADSIG);
	v = tk_vote(&vals4, 0, CONS_VOTE_PREVOTE, 8, 2, a);
	v.block[0] ^= 1; /* signed over another block */
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_BADSIG);
	v = tk_vote(&vals4, 0, CONS_VOTE_PREVOTE, 9, 2, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_INVAL);
	v = tk_vote(&vals4, 0, CONS_VOTE_PREVOTE, 8, 1, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_INVAL);
	v = tk_vote(&vals4, 0, CONS_VOTE_PRECOMMIT, 8, 2, a);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_INVAL);
	v = tk_vote(&vals4, 0, CONS_VOTE_PREVOTE, 8, 2, a);
	v.chain_id++;
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_INVAL);
	/* A stranger, correctly signed. */
	memset(&v, 0, sizeof(v));
	v.type = CONS_VOTE_PREVOTE;
	v.chain_id = TK_CHAIN;
	v.height = 8;
	v.round = 2;
	tk_key(77, sk, v.validator);
	assert_int_equal(cons_vote_sign(&v, sk), SN_OK);
	assert_int_equal(cons__voteset_add(s, &v, NULL), SN_E_NOT_VALIDATOR);
	assert_true(cons__voteset_power_any(s) == 0);
	cons__voteset_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tally_and_quorum),
		cmocka_unit_test(test_weighted),
		cmocka_unit_test(test_duplicates_and_equivocation),
		cmocka_unit_test(test_equivocator_counts_once_per_value),
		cmocka_unit_test(test_rejections),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
