/* consensus/codec.c — encodings of proposals, votes, commit certificates and the last-signed
 * record (docs/consensus.md), what is signed, and Ed25519 signing and checking. */
#include "consensus/consensus.h"

#include <sodium.h>

static const uint8_t zero_hash[SN_HASH_LEN];

/* ---------------------------------------------------------------- proposals */

/* v1, little-endian: u8 version | u32 chain_id | u64 height | u32 round | u32 pol_round |
 * [32] block | [32] proposer key — then [64] sig, over H("settled/proposal", these bytes). */
static void proposal_write_body(struct sn_writer *w, const struct cons_proposal *p)
{
	sn_write_u8(w, CONS_PROPOSAL_V1);
	sn_write_le32(w, p->chain_id);
	sn_write_le64(w, p->height);
	sn_write_le32(w, p->round);
	sn_write_le32(w, p->pol_round);
	sn_write_bytes(w, p->block, SN_HASH_LEN);
	sn_write_bytes(w, p->proposer, CONS_KEY_LEN);
}

int cons_proposal_encode(uint8_t out[CONS_PROPOSAL_LEN], const struct cons_proposal *p)
{
	struct sn_writer w = sn_writer_init(out, CONS_PROPOSAL_LEN);

	proposal_write_body(&w, p);
	sn_write_bytes(&w, p->sig, CONS_SIG_LEN);
	assert(!sn_writer_failed(&w) && w.len == CONS_PROPOSAL_LEN);
	return SN_OK;
}

int cons_proposal_decode(struct cons_proposal *out, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);

	memset(out, 0, sizeof(*out));
	if (sn_read_u8(&r) != CONS_PROPOSAL_V1)
		return sn_reader_failed(&r) ? SN_E_TRUNCATED : SN_E_VERSION;
	out->chain_id = sn_read_le32(&r);
	out->height = sn_read_le64(&r);
	out->round = sn_read_le32(&r);
	out->pol_round = sn_read_le32(&r);
	sn_read_bytes(&r, out->block, SN_HASH_LEN);
	sn_read_bytes(&r, out->proposer, CONS_KEY_LEN);
	sn_read_bytes(&r, out->sig, CONS_SIG_LEN);
	return sn_reader_finish(&r);
}

void cons_proposal_sign_hash(uint8_t out[SN_HASH_LEN], const struct cons_proposal *p)
{
	uint8_t body[CONS_PROPOSAL_LEN - CONS_SIG_LEN];
	struct sn_writer w = sn_writer_init(body, sizeof(body));

	proposal_write_body(&w, p);
	assert(!sn_writer_failed(&w) && w.len == sizeof(body));
	sn_hash_tagged(out, "settled/proposal", body, sizeof(body));
}

/* ------------------------------------------------------------------- votes */

static bool vote_type_known(uint8_t type)
{
	return type == CONS_VOTE_PREVOTE || type == CONS_VOTE_PRECOMMIT;
}

/* v1, little-endian: u8 version | u8 type | u32 chain_id | u64 height | u32 round |
 * u8 has_block | [32] block (zeros when nil) | [32] validator key — then [64] sig, over
 * H("settled/vote", these bytes). */
static void vote_write_body(struct sn_writer *w, const struct cons_vote *v)
{
	sn_write_u8(w, CONS_VOTE_V1);
	sn_write_u8(w, v->type);
	sn_write_le32(w, v->chain_id);
	sn_write_le64(w, v->height);
	sn_write_le32(w, v->round);
	sn_write_u8(w, v->has_block ? 1 : 0);
	sn_write_bytes(w, v->has_block ? v->block : zero_hash, SN_HASH_LEN);
	sn_write_bytes(w, v->validator, CONS_KEY_LEN);
}

static bool vote_canonical(const struct cons_vote *v)
{
	return vote_type_known(v->type) && (v->has_block || sn_ct_equal(v->block, zero_hash, SN_HASH_LEN));
}

int cons_vote_encode(uint8_t out[CONS_VOTE_LEN], const struct cons_vote *v)
{
	struct sn_writer w = sn_writer_init(out, CONS_VOTE_LEN);

	if (!vote_canonical(v))
		return SN_E_INVAL;
	vote_write_body(&w, v);
	sn_write_bytes(&w, v->sig, CONS_SIG_LEN);
	assert(!sn_writer_failed(&w) && w.len == CONS_VOTE_LEN);
	return SN_OK;
}

int cons_vote_decode(struct cons_vote *out, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t has_block;

	memset(out, 0, sizeof(*out));
	if (sn_read_u8(&r) != CONS_VOTE_V1)
		return sn_reader_failed(&r) ? SN_E_TRUNCATED : SN_E_VERSION;
	out->type = sn_read_u8(&r);
	out->chain_id = sn_read_le32(&r);
	out->height = sn_read_le64(&r);
	out->round = sn_read_le32(&r);
	has_block = sn_read_u8(&r);
	sn_read_bytes(&r, out->block, SN_HASH_LEN);
	sn_read_bytes(&r, out->validator, CONS_KEY_LEN);
	sn_read_bytes(&r, out->sig, CONS_SIG_LEN);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (!vote_type_known(out->type))
		return SN_E_TYPE;
	if (has_block > 1)
		return SN_E_NONCANONICAL;
	out->has_block = has_block == 1;
	if (!vote_canonical(out))
		return SN_E_NONCANONICAL;
	return sn_reader_finish(&r);
}

void cons_vote_sign_hash(uint8_t out[SN_HASH_LEN], const struct cons_vote *v)
{
	uint8_t body[CONS_VOTE_LEN - CONS_SIG_LEN];
	struct sn_writer w = sn_writer_init(body, sizeof(body));

	vote_write_body(&w, v);
	assert(!sn_writer_failed(&w) && w.len == sizeof(body));
	sn_hash_tagged(out, "settled/vote", body, sizeof(body));
}

/* ------------------------------------------------------------- signatures */

static int ed25519_sign(uint8_t sig[CONS_SIG_LEN], const uint8_t hash[SN_HASH_LEN],
                        const uint8_t key[CONS_KEY_LEN], const uint8_t sk[CONS_SECKEY_LEN])
{
	uint8_t pk[CONS_KEY_LEN];

	crypto_sign_ed25519_sk_to_pk(pk, sk);
	if (!sn_ct_equal(pk, key, CONS_KEY_LEN))
		return SN_E_INVAL;
	crypto_sign_detached(sig, NULL, hash, SN_HASH_LEN, sk);
	return SN_OK;
}

static int ed25519_verify(const uint8_t sig[CONS_SIG_LEN], const uint8_t hash[SN_HASH_LEN],
                          const uint8_t key[CONS_KEY_LEN])
{
	return crypto_sign_verify_detached(sig, hash, SN_HASH_LEN, key) == 0 ? SN_OK : SN_E_BADSIG;
}

int cons_proposal_sign(struct cons_proposal *p, const uint8_t sk[CONS_SECKEY_LEN])
{
	uint8_t h[SN_HASH_LEN];

	cons_proposal_sign_hash(h, p);
	return ed25519_sign(p->sig, h, p->proposer, sk);
}

int cons_vote_sign(struct cons_vote *v, const uint8_t sk[CONS_SECKEY_LEN])
{
	uint8_t h[SN_HASH_LEN];

	if (!vote_canonical(v))
		return SN_E_INVAL;
	cons_vote_sign_hash(h, v);
	return ed25519_sign(v->sig, h, v->validator, sk);
}

int cons_proposal_verify(const struct cons_proposal *p)
{
	uint8_t h[SN_HASH_LEN];

	cons_proposal_sign_hash(h, p);
	return ed25519_verify(p->sig, h, p->proposer);
}

int cons_vote_verify(const struct cons_vote *v)
{
	uint8_t h[SN_HASH_LEN];

	if (!vote_canonical(v))
		return SN_E_BADSIG;
	cons_vote_sign_hash(h, v);
	return ed25519_verify(v->sig, h, v->validator);
}

/* ------------------------------------------------------ commit certificates */

static bool commit_keys_ascending(const struct cons_commit *c)
{
	for (size_t i = 1; i < c->count; i++)
		if (memcmp(c->sigs[i - 1].key, c->sigs[i].key, CONS_KEY_LEN) >= 0)
			return false;
	return true;
}

/* v2, little-endian: u8 version 2 | u64 height | u32 round | [32] block | u16 count |
 * count × ([32] validator key | [64] its precommit's sig), keys strictly ascending. */
int cons_commit_encode(uint8_t *out, size_t cap, size_t *outlen, const struct cons_commit *c)
{
	struct sn_writer w = sn_writer_init(out, cap);

	*outlen = 0;
	if (c->count > CONS_VALIDATORS_MAX)
		return SN_E_TOOBIG;
	if (!commit_keys_ascending(c))
		return SN_E_NONCANONICAL;
	sn_write_u8(&w, CONS_COMMIT_V2);
	sn_write_le64(&w, c->height);
	sn_write_le32(&w, c->round);
	sn_write_bytes(&w, c->block, SN_HASH_LEN);
	sn_write_le16(&w, c->count);
	for (size_t i = 0; i < c->count; i++) {
		sn_write_bytes(&w, c->sigs[i].key, CONS_KEY_LEN);
		sn_write_bytes(&w, c->sigs[i].sig, CONS_SIG_LEN);
	}
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*outlen = w.len;
	return SN_OK;
}

int cons_commit_decode(struct cons_commit *out, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);

	memset(out, 0, sizeof(*out));
	if (sn_read_u8(&r) != CONS_COMMIT_V2)
		return sn_reader_failed(&r) ? SN_E_TRUNCATED : SN_E_VERSION;
	out->height = sn_read_le64(&r);
	out->round = sn_read_le32(&r);
	sn_read_bytes(&r, out->block, SN_HASH_LEN);
	out->count = sn_read_le16(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (out->count > CONS_VALIDATORS_MAX)
		return SN_E_TOOBIG; /* bound before copying */
	for (size_t i = 0; i < out->count; i++) {
		sn_read_bytes(&r, out->sigs[i].key, CONS_KEY_LEN);
		sn_read_bytes(&r, out->sigs[i].sig, CONS_SIG_LEN);
	}
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (!commit_keys_ascending(out))
		return SN_E_NONCANONICAL;
	return sn_reader_finish(&r);
}

int cons_commit_verify(const struct cons_commit *c, uint32_t chain_id, const struct cons_valset *vs)
{
	struct cons_vote v;
	uint64_t power = 0;

	if (c->count > CONS_VALIDATORS_MAX)
		return SN_E_TOOBIG;
	if (!commit_keys_ascending(c))
		return SN_E_NONCANONICAL;
	memset(&v, 0, sizeof(v));
	v.type = CONS_VOTE_PRECOMMIT;
	v.chain_id = chain_id;
	v.height = c->height;
	v.round = c->round;
	v.has_block = true;
	memcpy(v.block, c->block, SN_HASH_LEN);
	/* Membership first: it is cheap, and a stranger's signature is not worth checking. */
	for (size_t i = 0; i < c->count; i++)
		if (cons_valset_find(vs, c->sigs[i].key) < 0)
			return SN_E_NOT_VALIDATOR;
	for (size_t i = 0; i < c->count; i++) {
		int err;

		memcpy(v.validator, c->sigs[i].key, CONS_KEY_LEN);
		memcpy(v.sig, c->sigs[i].sig, CONS_SIG_LEN);
		err = cons_vote_verify(&v);
		if (err != SN_OK)
			return err;
		/* Distinct members (keys strictly ascending): the sum is at most the total. */
		power += cons_valset_at(vs, (size_t)cons_valset_find(vs, c->sigs[i].key))->power;
	}
	return cons_valset_is_quorum(vs, power) ? SN_OK : SN_E_NO_QUORUM;
}

/* ------------------------------------------------------- last-signed record */

/* v1, little-endian: u8 version | u64 height | u32 round | u8 step | u8 has_value |
 * [32] value (zeros when nil). */
void cons_sign_state_encode(uint8_t out[CONS_SIGNSTATE_LEN], const struct cons_sign_state *s)
{
	struct sn_writer w = sn_writer_init(out, CONS_SIGNSTATE_LEN);

	sn_write_u8(&w, CONS_SIGNSTATE_V1);
	sn_write_le64(&w, s->height);
	sn_write_le32(&w, s->round);
	sn_write_u8(&w, s->step);
	sn_write_u8(&w, s->has_value ? 1 : 0);
	sn_write_bytes(&w, s->has_value ? s->value : zero_hash, SN_HASH_LEN);
	assert(!sn_writer_failed(&w) && w.len == CONS_SIGNSTATE_LEN);
}

int cons_sign_state_decode(struct cons_sign_state *out, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t has_value;

	memset(out, 0, sizeof(*out));
	if (sn_read_u8(&r) != CONS_SIGNSTATE_V1)
		return sn_reader_failed(&r) ? SN_E_TRUNCATED : SN_E_VERSION;
	out->height = sn_read_le64(&r);
	out->round = sn_read_le32(&r);
	out->step = sn_read_u8(&r);
	has_value = sn_read_u8(&r);
	sn_read_bytes(&r, out->value, SN_HASH_LEN);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (out->step < CONS_STEP_PROPOSE || out->step > CONS_STEP_PRECOMMIT)
		return SN_E_TYPE;
	if (has_value > 1 || (has_value == 0 && !sn_ct_equal(out->value, zero_hash, SN_HASH_LEN)))
		return SN_E_NONCANONICAL;
	out->has_value = has_value == 1;
	return sn_reader_finish(&r);
}

int cons_sign_state_check(const struct cons_sign_state *last, uint64_t height, uint32_t round,
                          uint8_t step, bool has_value, const uint8_t value[SN_HASH_LEN])
{
	if (last->step == 0)
		return SN_OK; /* never signed */
	if (height != last->height)
		return height > last->height ? SN_OK : SN_E_DOUBLE_SIGN;
	if (round != last->round)
		return round > last->round ? SN_OK : SN_E_DOUBLE_SIGN;
	if (step != last->step)
		return step > last->step ? SN_OK : SN_E_DOUBLE_SIGN;
	/* The same (height, round, step): only the same message again. */
	if (has_value != last->has_value)
		return SN_E_DOUBLE_SIGN;
	if (has_value && memcmp(value, last->value, SN_HASH_LEN) != 0)
		return SN_E_DOUBLE_SIGN;
	return SN_OK;
}
