/* tests/consensus/cons_testutil.h — fixtures shared by the consensus tests: deterministic
 * Ed25519 validators and signed messages. Header-only (static inline), tests only. */
#ifndef SN_CONS_TESTUTIL_H
#define SN_CONS_TESTUTIL_H

#include "testutil.h"

#include "consensus/consensus.h"

#include <sodium.h>

#define TK_CHAIN 7

/* A validator set with every member's secret key, by canonical index. */
struct tk_vals {
	struct cons_valset *vs;
	size_t n;
	uint8_t sk[CONS_VALIDATORS_MAX][CONS_SECKEY_LEN];
};

/* The Ed25519 key pair of test validator i (seed = tagged hash of i). */
static inline void tk_key(uint64_t i, uint8_t sk[CONS_SECKEY_LEN], uint8_t pk[CONS_KEY_LEN])
{
	uint8_t seed[32], le[8];

	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t)(i >> (8 * b));
	sn_hash_tagged(seed, "test/ed25519", le, sizeof(le));
	crypto_sign_seed_keypair(pk, sk, seed);
}

/* n validators, key i with powers[i] (all 1 when powers is NULL). */
static inline void tk_vals_init(struct tk_vals *t, size_t n, const uint64_t *powers)
{
	struct cons_validator v[CONS_VALIDATORS_MAX];
	uint8_t sks[CONS_VALIDATORS_MAX][CONS_SECKEY_LEN];

	assert_true(n <= CONS_VALIDATORS_MAX);
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		tk_key(i, sks[i], v[i].key);
		v[i].power = powers ? powers[i] : 1;
	}
	assert_int_equal(cons_valset_new(&t->vs, v, n), SN_OK);
	t->n = n;
	for (size_t i = 0; i < n; i++) {
		int idx = cons_valset_find(t->vs, v[i].key);

		assert_true(idx >= 0);
		memcpy(t->sk[idx], sks[i], CONS_SECKEY_LEN);
	}
}

static inline void tk_vals_free(struct tk_vals *t)
{
	cons_valset_free(t->vs);
	t->vs = NULL;
}

/* A block hash for tests: H(tag-free bytes of x). */
static inline void tk_block(uint8_t out[SN_HASH_LEN], uint64_t x)
{
	uint8_t le[8];

	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t)(x >> (8 * b));
	sn_hash_tagged(out, "test/block", le, sizeof(le));
}

/* A vote by member idx (canonical), signed; block NULL for nil. */
static inline struct cons_vote tk_vote(const struct tk_vals *t, size_t idx, uint8_t type, uint64_t height,
                                       uint32_t round, const uint8_t *block)
{
	struct cons_vote v;

	memset(&v, 0, sizeof(v));
	v.type = type;
	v.chain_id = TK_CHAIN;
	v.height = height;
	v.round = round;
	v.has_block = block != NULL;
	if (block)
		memcpy(v.block, block, SN_HASH_LEN);
	memcpy(v.validator, cons_valset_at(t->vs, idx)->key, CONS_KEY_LEN);
	assert_int_equal(cons_vote_sign(&v, t->sk[idx]), SN_OK);
	return v;
}

/* The proposal of (height, round) by its proposer, signed. */
static inline struct cons_proposal tk_proposal(const struct tk_vals *t, uint64_t height, uint32_t round,
                                               uint32_t pol_round, const uint8_t block[SN_HASH_LEN])
{
	struct cons_proposal p;
	size_t idx = cons_valset_proposer(t->vs, height, round);

	memset(&p, 0, sizeof(p));
	p.chain_id = TK_CHAIN;
	p.height = height;
	p.round = round;
	p.pol_round = pol_round;
	memcpy(p.block, block, SN_HASH_LEN);
	memcpy(p.proposer, cons_valset_at(t->vs, idx)->key, CONS_KEY_LEN);
	assert_int_equal(cons_proposal_sign(&p, t->sk[idx]), SN_OK);
	return p;
}

/* Defines the static struct tk_vals name (four validators of power 1) and the cmocka group
 * setup and teardown that make it, with the crypto libraries, and free it. */
#define TK_GROUP_OF_FOUR(name)                                    \
	static struct tk_vals name;                               \
	static int tk_group_setup(void **state)                   \
	{                                                         \
		int err = tu_setup_crypto(state);                 \
                                                                  \
		if (!err)                                         \
			tk_vals_init(&name, 4, NULL);             \
		return err;                                       \
	}                                                         \
	static int tk_group_teardown(void **state)                \
	{                                                         \
		(void)state;                                      \
		tk_vals_free(&name);                              \
		return 0;                                         \
	}

#endif
