/* tests/consensus/test_codec.c — encodings (consensus/codec.c): byte layouts, round trips,
 * every truncation, trailing bytes, unknown versions and types, non-canonical forms, what is
 * signed, commit certificates and their verification, and the last-signed record. */
#include "cons_testutil.h"

#include <stdlib.h>

TK_GROUP_OF_FOUR(vals)

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static void test_proposal_layout_and_round_trip(void **state)
{
	uint8_t block[SN_HASH_LEN], enc[CONS_PROPOSAL_LEN], enc2[CONS_PROPOSAL_LEN + 1], h[SN_HASH_LEN];
	struct cons_proposal p, d;

	(void)state;
	assert_int_equal(CONS_PROPOSAL_LEN, 149);
	tk_block(block, 1);
	p = tk_proposal(&vals, 0x0102030405060708ull, 0x11223344, 7, block);
	assert_int_equal(cons_proposal_encode(enc, &p), SN_OK);
	assert_int_equal(enc[0], CONS_PROPOSAL_V1);
	assert_true(le(enc + 1, 4) == TK_CHAIN);
	assert_true(le(enc + 5, 8) == 0x0102030405060708ull);
	assert_true(le(enc + 13, 4) == 0x11223344);
	assert_true(le(enc + 17, 4) == 7);
	assert_memory_equal(enc + 21, block, 32);
	assert_memory_equal(enc + 53, p.proposer, 32);
	assert_memory_equal(enc + 85, p.sig, 64);
	/* Signed: H("settled/proposal", the 85 bytes before the signature). */
	sn_hash_tagged(h, "settled/proposal", enc, 85);
	assert_int_equal(crypto_sign_verify_detached(p.sig, h, 32, p.proposer), 0);
	assert_int_equal(cons_proposal_verify(&p), SN_OK);
	assert_int_equal(cons_proposal_decode(&d, enc, sizeof(enc)), SN_OK);
	assert_memory_equal(&d, &p, sizeof(p));
	assert_int_equal(cons_proposal_encode(enc2, &d), SN_OK);
	assert_memory_equal(enc2, enc, sizeof(enc));

	/* Every truncation, trailing bytes, every other version. */
	for (size_t n = 0; n < sizeof(enc); n++)
		assert_int_equal(cons_proposal_decode(&d, enc, n), SN_E_TRUNCATED);
	memcpy(enc2, enc, sizeof(enc));
	enc2[sizeof(enc)] = 0;
	assert_int_equal(cons_proposal_decode(&d, enc2, sizeof(enc2)), SN_E_TRAILING);
	for (int v = 0; v < 256; v++) {
		if (v == CONS_PROPOSAL_V1)
			continue;
		enc2[0] = (uint8_t)v;
		assert_int_equal(cons_proposal_decode(&d, enc2, sizeof(enc)), SN_E_VERSION);
		assert_true(d.height == 0); /* zeroed on entry */
	}
	/* Any changed byte breaks the signature. */
	for (size_t i = 1; i < sizeof(enc); i++) {
		memcpy(enc2, enc, sizeof(enc));
		enc2[i] ^= 0x20;
		assert_int_equal(cons_proposal_decode(&d, enc2, sizeof(enc)), SN_OK);
		assert_int_equal(cons_proposal_verify(&d), SN_E_BADSIG);
	}
	/* Signing needs the proposer's own key. */
	assert_int_equal(cons_proposal_sign(&p, vals.sk[(cons_valset_proposer(vals.vs, p.height, p.round) + 1) % 4]),
	                 SN_E_INVAL);
}

static void test_vote_layout_and_round_trip(void **state)
{
	uint8_t block[SN_HASH_LEN], enc[CONS_VOTE_LEN], enc2[CONS_VOTE_LEN + 1], h[SN_HASH_LEN];
	struct cons_vote v, d;

	(void)state;
	assert_int_equal(CONS_VOTE_LEN, 147);
	tk_block(block, 2);
	v = tk_vote(&vals, 2, CONS_VOTE_PRECOMMIT, 0xa1a2a3a4a5a6a7a8ull, 0xb1b2b3b4, block);
	assert_int_equal(cons_vote_encode(enc, &v), SN_OK);
	assert_int_equal(enc[0], CONS_VOTE_V1);
	assert_int_equal(enc[1], CONS_VOTE_PRECOMMIT);
	assert_true(le(enc + 2, 4) == TK_CHAIN);
	assert_true(le(enc + 6, 8) == 0xa1a2a3a4a5a6a7a8ull);
	assert_true(le(enc + 14, 4) == 0xb1b2b3b4);
	assert_int_equal(enc[18], 1);
	assert_memory_equal(enc + 19, block, 32);
	assert_memory_equal(enc + 51, v.validator, 32);
	assert_memory_equal(enc + 83, v.sig, 64);
	sn_hash_tagged(h, "settled/vote", enc, 83);
	assert_int_equal(crypto_sign_verify_detached(v.sig, h, 32, v.validator), 0);
	assert_int_equal(cons_vote_decode(&d, enc, sizeof(enc)), SN_OK);
	assert_memory_equal(&d, &v, sizeof(v));
	assert_int_equal(cons_vote_verify(&d), SN_OK);

	for (size_t n = 0; n < sizeof(enc); n++)
		assert_int_equal(cons_vote_decode(&d, enc, n), SN_E_TRUNCATED);
	memcpy(enc2, enc, sizeof(enc));
	enc2[sizeof(enc)] = 0;
	assert_int_equal(cons_vote_decode(&d, enc2, sizeof(enc2)), SN_E_TRAILING);
	enc2[0] = 2;
	assert_int_equal(cons_vote_decode(&d, enc2, sizeof(enc)), SN_E_VERSION);
	enc2[0] = 0;
	assert_int_equal(cons_vote_decode(&d, enc2, sizeof(enc)), SN_E_VERSION);
	enc2[0] = CONS_VOTE_V1;
	for (int t = 0; t < 256; t++) {
		enc2[1] = (uint8_t)t;
		assert_int_equal(cons_vote_decode(&d, enc2, sizeof(enc)),
		                 t == 1 || t == 2 ? SN_OK : SN_E_TYPE);
	}
	enc2[1] = CONS_VOTE_PRECOMMIT;
	enc2[18] = 2; /* has_block is a flag */
	assert_int_equal(cons_vote_decode(&d, enc2, sizeof(enc)), SN_E_NONCANONICAL);
	enc2[18] = 0; /* nil, but a block hash */
	assert_int_equal(cons_vote_decode(&d, enc2, sizeof(enc)), SN_E_NONCANONICAL);
	memset(enc2 + 19, 0, 32);
	assert_int_equal(cons_vote_decode(&d, enc2, sizeof(enc)), SN_OK);
	assert_false(d.has_block);

	/* Nil votes: zeros on the wire; a nil vote with a hash has no encoding. */
	v = tk_vote(&vals, 1, CONS_VOTE_PREVOTE, 5, 0, NULL);
	assert_int_equal(cons_vote_encode(enc, &v), SN_OK);
	assert_int_equal(enc[18], 0);
	assert_int_equal(cons_vote_decode(&d, enc, sizeof(enc)), SN_OK);
	assert_int_equal(cons_vote_verify(&d), SN_OK);
	v.block[0] = 1;
	assert_int_equal(cons_vote_encode(enc, &v), SN_E_INVAL);
	v.block[0] = 0;
	v.type = 3;
	assert_int_equal(cons_vote_encode(enc, &v), SN_E_INVAL);
	/* A prevote's signature is not a precommit's (the type is signed). */
	v = tk_vote(&vals, 1, CONS_VOTE_PREVOTE, 5, 0, block);
	v.type = CONS_VOTE_PRECOMMIT;
	assert_int_equal(cons_vote_verify(&v), SN_E_BADSIG);
}

/* Precommits of members idx[0..n) for (height, round, block), as a certificate. */
static void make_commit(struct cons_commit *c, const size_t *idx, size_t n, uint64_t height,
                        uint32_t round, const uint8_t *block)
{
	memset(c, 0, sizeof(*c));
	c->height = height;
	c->round = round;
	memcpy(c->block, block, SN_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		struct cons_vote v = tk_vote(&vals, idx[i], CONS_VOTE_PRECOMMIT, height, round, block);

		memcpy(c->sigs[i].key, v.validator, CONS_KEY_LEN);
		memcpy(c->sigs[i].sig, v.sig, CONS_SIG_LEN);
	}
	c->count = (uint16_t)n;
}

static void test_commit_codec(void **state)
{
	static struct cons_commit c, d;
	static uint8_t enc[CONS_COMMIT_MAX + 1], enc2[CONS_COMMIT_MAX + 1];
	const size_t idx[3] = { 0, 1, 3 };
	uint8_t block[SN_HASH_LEN];
	size_t len, len2;

	(void)state;
	tk_block(block, 3);
	make_commit(&c, idx, 3, 9, 2, block);
	assert_int_equal(cons_commit_encode(enc, sizeof(enc), &len, &c), SN_OK);
	assert_int_equal(len, CONS_COMMIT_HEADER_LEN + 3 * CONS_COMMIT_SIG_LEN);
	assert_int_equal(enc[0], CONS_COMMIT_V2);
	assert_true(le(enc + 1, 8) == 9);
	assert_true(le(enc + 9, 4) == 2);
	assert_memory_equal(enc + 13, block, 32);
	assert_true(le(enc + 45, 2) == 3);
	assert_memory_equal(enc + 47, c.sigs[0].key, 32);
	assert_memory_equal(enc + 79, c.sigs[0].sig, 64);
	assert_int_equal(cons_commit_decode(&d, enc, len), SN_OK);
	assert_memory_equal(&d, &c, sizeof(c));
	assert_int_equal(cons_commit_encode(enc2, sizeof(enc2), &len2, &d), SN_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(enc2, enc, len);
	/* A buffer one byte short. */
	assert_int_equal(cons_commit_encode(enc2, len - 1, &len2, &c), SN_E_TOOBIG);
	assert_int_equal(len2, 0);

	for (size_t n = 0; n < len; n++)
		assert_int_equal(cons_commit_decode(&d, enc, n), SN_E_TRUNCATED);
	enc[len] = 0;
	assert_int_equal(cons_commit_decode(&d, enc, len + 1), SN_E_TRAILING);
	enc[0] = 1; /* the devnet's v1 commit is another format */
	assert_int_equal(cons_commit_decode(&d, enc, len), SN_E_VERSION);
	enc[0] = 3;
	assert_int_equal(cons_commit_decode(&d, enc, len), SN_E_VERSION);
	enc[0] = CONS_COMMIT_V2;

	/* Signers out of order, or twice: not canonical, either way. */
	memcpy(enc2, enc, len);
	memcpy(enc2 + 47, enc + 47 + CONS_COMMIT_SIG_LEN, CONS_COMMIT_SIG_LEN);
	memcpy(enc2 + 47 + CONS_COMMIT_SIG_LEN, enc + 47, CONS_COMMIT_SIG_LEN);
	assert_int_equal(cons_commit_decode(&d, enc2, len), SN_E_NONCANONICAL);
	memcpy(enc2 + 47, enc + 47, CONS_COMMIT_SIG_LEN);
	assert_int_equal(cons_commit_decode(&d, enc2, len), SN_E_NONCANONICAL);
	d = c;
	d.sigs[1] = c.sigs[0];
	assert_int_equal(cons_commit_encode(enc2, sizeof(enc2), &len2, &d), SN_E_NONCANONICAL);
	assert_int_equal(cons_commit_verify(&d, TK_CHAIN, vals.vs), SN_E_NONCANONICAL);

	/* Counts: 0 decodes (and is no quorum); above the maximum is refused before copying. */
	enc2[45] = 0;
	enc2[46] = 0;
	assert_int_equal(cons_commit_decode(&d, enc2, CONS_COMMIT_HEADER_LEN), SN_OK);
	assert_int_equal(cons_commit_verify(&d, TK_CHAIN, vals.vs), SN_E_NO_QUORUM);
	enc2[45] = (uint8_t)(CONS_VALIDATORS_MAX + 1);
	enc2[46] = (uint8_t)((CONS_VALIDATORS_MAX + 1) >> 8);
	assert_int_equal(cons_commit_decode(&d, enc2, CONS_COMMIT_HEADER_LEN), SN_E_TOOBIG);
	d = c;
	d.count = CONS_VALIDATORS_MAX + 1;
	assert_int_equal(cons_commit_encode(enc2, sizeof(enc2), &len2, &d), SN_E_TOOBIG);
}

static void test_commit_verify(void **state)
{
	static struct cons_commit c;
	uint8_t block[SN_HASH_LEN], block2[SN_HASH_LEN];
	const size_t three[3] = { 0, 2, 3 }, two[2] = { 1, 2 }, all[4] = { 0, 1, 2, 3 };

	(void)state;
	tk_block(block, 4);
	tk_block(block2, 5);
	make_commit(&c, three, 3, 12, 0, block);
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals.vs), SN_OK);
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN + 1, vals.vs), SN_E_BADSIG); /* chain signed */
	make_commit(&c, all, 4, 12, 0, block);
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals.vs), SN_OK);
	make_commit(&c, two, 2, 12, 0, block); /* 2 of 4 is not more than 2/3 */
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals.vs), SN_E_NO_QUORUM);

	/* Claims another round, block or height than was signed. */
	make_commit(&c, three, 3, 12, 0, block);
	c.round = 1;
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals.vs), SN_E_BADSIG);
	c.round = 0;
	memcpy(c.block, block2, SN_HASH_LEN);
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals.vs), SN_E_BADSIG);
	memcpy(c.block, block, SN_HASH_LEN);
	c.sigs[1].sig[5] ^= 1;
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals.vs), SN_E_BADSIG);

	/* A prevote's signature in a commit is refused. */
	make_commit(&c, three, 3, 12, 0, block);
	{
		struct cons_vote pv = tk_vote(&vals, three[1], CONS_VOTE_PREVOTE, 12, 0, block);

		memcpy(c.sigs[1].sig, pv.sig, CONS_SIG_LEN);
	}
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vals.vs), SN_E_BADSIG);

	/* Against another validator set: strangers. */
	{
		struct cons_validator v[4];
		struct cons_valset *vs;
		uint8_t sk[CONS_SECKEY_LEN];

		for (size_t i = 0; i < 4; i++) {
			tk_key(100 + i, sk, v[i].key);
			v[i].power = 1;
		}
		assert_int_equal(cons_valset_new(&vs, v, 4), SN_OK);
		make_commit(&c, three, 3, 12, 0, block);
		assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vs), SN_E_NOT_VALIDATOR);
		cons_valset_free(vs);
	}

	/* Weighted: one member with 10 of 13 is a quorum alone; the other three are not. */
	{
		struct tk_vals w;
		size_t big = 0;

		tk_vals_init(&w, 4, (const uint64_t[]){ 10, 1, 1, 1 });
		for (size_t i = 0; i < 4; i++)
			if (cons_valset_at(w.vs, i)->power == 10)
				big = i;
		memset(&c, 0, sizeof(c));
		c.height = 3;
		memcpy(c.block, block, SN_HASH_LEN);
		for (size_t i = 0; i < 4; i++) {
			struct cons_vote v;

			if (i == big)
				continue;
			v = tk_vote(&w, i, CONS_VOTE_PRECOMMIT, 3, 0, block);
			memcpy(c.sigs[c.count].key, v.validator, CONS_KEY_LEN);
			memcpy(c.sigs[c.count].sig, v.sig, CONS_SIG_LEN);
			c.count++;
		}
		assert_int_equal(cons_commit_verify(&c, TK_CHAIN, w.vs), SN_E_NO_QUORUM);
		{
			struct cons_vote v = tk_vote(&w, big, CONS_VOTE_PRECOMMIT, 3, 0, block);

			c.count = 1;
			memcpy(c.sigs[0].key, v.validator, CONS_KEY_LEN);
			memcpy(c.sigs[0].sig, v.sig, CONS_SIG_LEN);
		}
		assert_int_equal(cons_commit_verify(&c, TK_CHAIN, w.vs), SN_OK);
		tk_vals_free(&w);
	}
}

static void test_sign_state_codec_and_rule(void **state)
{
	struct cons_sign_state s = { 0 }, d;
	uint8_t enc[CONS_SIGNSTATE_LEN + 1], a[SN_HASH_LEN], b[SN_HASH_LEN];

	(void)state;
	assert_int_equal(CONS_SIGNSTATE_LEN, 47);
	tk_block(a, 6);
	tk_block(b, 7);
	s.height = 0x0807060504030201ull;
	s.round = 0x0d0c0b0a;
	s.step = CONS_STEP_PRECOMMIT;
	s.has_value = true;
	memcpy(s.value, a, SN_HASH_LEN);
	cons_sign_state_encode(enc, &s);
	assert_int_equal(enc[0], CONS_SIGNSTATE_V1);
	assert_true(le(enc + 1, 8) == s.height);
	assert_true(le(enc + 9, 4) == s.round);
	assert_int_equal(enc[13], CONS_STEP_PRECOMMIT);
	assert_int_equal(enc[14], 1);
	assert_memory_equal(enc + 15, a, 32);
	assert_int_equal(cons_sign_state_decode(&d, enc, CONS_SIGNSTATE_LEN), SN_OK);
	assert_memory_equal(&d, &s, sizeof(s));
	for (size_t n = 0; n < CONS_SIGNSTATE_LEN; n++)
		assert_int_equal(cons_sign_state_decode(&d, enc, n), SN_E_TRUNCATED);
	assert_int_equal(cons_sign_state_decode(&d, enc, CONS_SIGNSTATE_LEN + 1), SN_E_TRAILING);
	enc[13] = 0;
	assert_int_equal(cons_sign_state_decode(&d, enc, CONS_SIGNSTATE_LEN), SN_E_TYPE);
	enc[13] = 4;
	assert_int_equal(cons_sign_state_decode(&d, enc, CONS_SIGNSTATE_LEN), SN_E_TYPE);
	enc[13] = CONS_STEP_PREVOTE;
	enc[14] = 0; /* nil with a value */
	assert_int_equal(cons_sign_state_decode(&d, enc, CONS_SIGNSTATE_LEN), SN_E_NONCANONICAL);
	enc[14] = 2;
	assert_int_equal(cons_sign_state_decode(&d, enc, CONS_SIGNSTATE_LEN), SN_E_NONCANONICAL);
	enc[0] = 2;
	assert_int_equal(cons_sign_state_decode(&d, enc, CONS_SIGNSTATE_LEN), SN_E_VERSION);

	/* The rule: later (height, round, step) always; the same one only with the same value. */
	s.height = 10;
	s.round = 2;
	s.step = CONS_STEP_PREVOTE;
	memcpy(s.value, a, SN_HASH_LEN);
	assert_int_equal(cons_sign_state_check(&s, 10, 2, CONS_STEP_PREVOTE, true, a), SN_OK);
	assert_int_equal(cons_sign_state_check(&s, 10, 2, CONS_STEP_PREVOTE, true, b), SN_E_DOUBLE_SIGN);
	assert_int_equal(cons_sign_state_check(&s, 10, 2, CONS_STEP_PREVOTE, false, NULL), SN_E_DOUBLE_SIGN);
	assert_int_equal(cons_sign_state_check(&s, 10, 2, CONS_STEP_PROPOSE, true, a), SN_E_DOUBLE_SIGN);
	assert_int_equal(cons_sign_state_check(&s, 10, 1, CONS_STEP_PRECOMMIT, true, a), SN_E_DOUBLE_SIGN);
	assert_int_equal(cons_sign_state_check(&s, 9, 5, CONS_STEP_PRECOMMIT, true, b), SN_E_DOUBLE_SIGN);
	assert_int_equal(cons_sign_state_check(&s, 10, 2, CONS_STEP_PRECOMMIT, true, b), SN_OK);
	assert_int_equal(cons_sign_state_check(&s, 10, 3, CONS_STEP_PROPOSE, true, b), SN_OK);
	assert_int_equal(cons_sign_state_check(&s, 11, 0, CONS_STEP_PROPOSE, true, b), SN_OK);
	s.has_value = false;
	memset(s.value, 0, SN_HASH_LEN);
	assert_int_equal(cons_sign_state_check(&s, 10, 2, CONS_STEP_PREVOTE, false, NULL), SN_OK);
	assert_int_equal(cons_sign_state_check(&s, 10, 2, CONS_STEP_PREVOTE, true, a), SN_E_DOUBLE_SIGN);
	memset(&s, 0, sizeof(s)); /* never signed */
	assert_int_equal(cons_sign_state_check(&s, 1, 0, CONS_STEP_PROPOSE, true, a), SN_OK);
}

/* The seed corpus was written by tests/fuzz/make_consensus_corpus.py from docs/consensus.md
 * alone (Python's own Ed25519 and BLAKE2b): the C code must read and verify it. */
static void test_independent_encoder(void **state)
{
	static struct cons_commit c;
	struct cons_validator v[4];
	struct cons_valset *vs;
	struct cons_proposal p;
	struct cons_vote vote;
	uint8_t *buf, sk[CONS_SECKEY_LEN];
	size_t len;

	(void)state;
	for (int i = 0; i < 4; i++) {
		uint8_t seed[32] = { (uint8_t)(i + 1) };

		crypto_sign_seed_keypair(v[i].key, sk, seed);
		v[i].power = (uint64_t)i + 1;
	}
	assert_int_equal(cons_valset_new(&vs, v, 4), SN_OK);
	buf = tu_read_file(SN_SOURCE_DIR "/tests/fuzz/corpus/fuzz_consensus_commit/seed-all", &len);
	assert_non_null(buf);
	assert_int_equal(cons_commit_decode(&c, buf, len), SN_OK);
	assert_int_equal(c.count, 4);
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vs), SN_OK);
	free(buf);
	buf = tu_read_file(SN_SOURCE_DIR "/tests/fuzz/corpus/fuzz_consensus_commit/seed-two", &len);
	assert_non_null(buf);
	assert_int_equal(cons_commit_decode(&c, buf, len), SN_OK);
	assert_int_equal(cons_commit_verify(&c, TK_CHAIN, vs), SN_OK); /* powers 3 + 4 of 10 */
	free(buf);
	buf = tu_read_file(SN_SOURCE_DIR "/tests/fuzz/corpus/fuzz_consensus_proposal/seed-valid-pol", &len);
	assert_non_null(buf);
	assert_int_equal(cons_proposal_decode(&p, buf, len), SN_OK);
	assert_true(p.height == 9 && p.round == 3 && p.pol_round == 1);
	assert_int_equal(cons_proposal_verify(&p), SN_OK);
	free(buf);
	buf = tu_read_file(SN_SOURCE_DIR "/tests/fuzz/corpus/fuzz_consensus_vote/seed-precommit-nil", &len);
	assert_non_null(buf);
	assert_int_equal(cons_vote_decode(&vote, buf, len), SN_OK);
	assert_true(vote.type == CONS_VOTE_PRECOMMIT && !vote.has_block && vote.round == 1);
	assert_int_equal(cons_vote_verify(&vote), SN_OK);
	free(buf);
	cons_valset_free(vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proposal_layout_and_round_trip),
		cmocka_unit_test(test_vote_layout_and_round_trip),
		cmocka_unit_test(test_commit_codec),
		cmocka_unit_test(test_commit_verify),
		cmocka_unit_test(test_sign_state_codec_and_rule),
		cmocka_unit_test(test_independent_encoder),
	};
	return cmocka_run_group_tests(tests, tk_group_setup, tk_group_teardown);
}
