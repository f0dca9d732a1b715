/* tests/storage/test_codec.c — transaction, block and account encodings (storage/codec.c). */
#include "testutil.h"

#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ helpers */

static void fixed_tx(struct store_tx *tx)
{
	memset(tx, 0, sizeof(*tx));
	tx->version = STORE_TX_V1;
	tx->type = STORE_TX_TRANSFER;
	tx->chain_id = 0x04030201u;
	memset(tx->signer, 0x11, sizeof(tx->signer));
	tx->nonce = 0x0102030405060708ull;
	tx->fee = 0x1000;
	memset(tx->to, 0x22, sizeof(tx->to));
	tx->amount = 0xdeadbeefull;
	memset(tx->sig, 0x33, sizeof(tx->sig));
}

/* The encoding of fixed_tx(), worked out by hand from the layout comment in codec.c:
 * u8 version | u8 type | u32 chain_id | [32] signer | u64 nonce | u64 fee |
 * u16 payload_len | [32] to | u64 amount | [64] signature, all little-endian. */
static const char fixed_tx_hex[] =
	"01"                                                               /* version 1 */
	"02"                                                               /* TRANSFER */
	"01020304"                                                         /* chain 0x04030201 */
	"1111111111111111111111111111111111111111111111111111111111111111" /* signer */
	"0807060504030201"                                                 /* nonce */
	"0010000000000000"                                                 /* fee 4096 */
	"2800"                                                             /* payload_len 40 */
	"2222222222222222222222222222222222222222222222222222222222222222" /* to */
	"efbeadde00000000"                                                 /* amount */
	"3333333333333333333333333333333333333333333333333333333333333333"
	"3333333333333333333333333333333333333333333333333333333333333333"; /* signature */

static void fixed_header(struct store_block_header *h)
{
	memset(h, 0, sizeof(*h));
	h->version = STORE_BLOCK_V1;
	h->chain_id = 7;
	h->height = 10;
	memset(h->prev_hash, 0xaa, sizeof(h->prev_hash));
	h->time_ms = 1700000000000ull; /* 0x0000018bcfe56800 */
	memset(h->proposer, 0xbb, sizeof(h->proposer));
	memset(h->tx_root, 0xcc, sizeof(h->tx_root));
	memset(h->state_root, 0xdd, sizeof(h->state_root));
	h->tx_count = 1;
}

/* header: u8 version | u32 chain_id | u64 height | [32] prev_hash | u64 time_ms |
 *         [32] proposer | [32] tx_root | [32] state_root | u32 tx_count
 * then tx_count × (u32 tx_len | tx); here one tx, fixed_tx_hex (160 = 0xa0 bytes). */
static const char fixed_header_hex[] =
	"01"                                                               /* version 1 */
	"07000000"                                                         /* chain 7 */
	"0a00000000000000"                                                 /* height 10 */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* prev_hash */
	"0068e5cf8b010000"                                                 /* time_ms */
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" /* proposer */
	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" /* tx_root */
	"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" /* state_root */
	"01000000";                                                        /* tx_count 1 */
static const char fixed_block_body_prefix_hex[] = "a0000000"; /* tx_len 160 */

static void fixed_account(struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	memset(a->key, 0x55, sizeof(a->key));
	a->seq = 5;
	a->balance = 1000;
	a->nonce = 3;
	memset(a->sponsor, 0x44, sizeof(a->sponsor));
	a->sponsor_seq = 2;
	a->personal_volume = 0x0102030405060708ull;
	a->reg_height = 9;
	a->depth = 1;
}

/* u8 version | u64 seq | u64 balance | u64 nonce | [32] sponsor | u64 sponsor_seq |
 * u64 personal_volume | u64 reg_height | u64 depth (the key is not part of the value). */
static const char fixed_account_hex[] =
	"01"                                                               /* version 1 */
	"0500000000000000"                                                 /* seq 5 */
	"e803000000000000"                                                 /* balance 1000 */
	"0300000000000000"                                                 /* nonce 3 */
	"4444444444444444444444444444444444444444444444444444444444444444" /* sponsor */
	"0200000000000000"                                                 /* sponsor_seq 2 */
	"0807060504030201"                                                 /* personal_volume */
	"0900000000000000"                                                 /* reg_height 9 */
	"0100000000000000";                                                /* depth 1 */

static void random_bytes_rng(struct tu_rng *rng, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)tu_rand(rng);
}

static uint64_t random_u64(struct tu_rng *rng)
{
	/* Mix extremes in: 0, max and random widths. */
	switch (tu_rand_below(rng, 4)) {
	case 0: return 0;
	case 1: return UINT64_MAX;
	case 2: return tu_rand(rng) >> tu_rand_below(rng, 64);
	default: return tu_rand(rng);
	}
}

static void random_tx(struct tu_rng *rng, struct store_tx *tx)
{
	memset(tx, 0, sizeof(*tx));
	tx->version = STORE_TX_V1;
	tx->type = tu_rand_below(rng, 2) ? STORE_TX_TRANSFER : STORE_TX_REGISTER;
	tx->chain_id = (uint32_t)random_u64(rng);
	random_bytes_rng(rng, tx->signer, sizeof(tx->signer));
	tx->nonce = random_u64(rng);
	tx->fee = random_u64(rng);
	random_bytes_rng(rng, tx->to, sizeof(tx->to));
	tx->amount = random_u64(rng);
	random_bytes_rng(rng, tx->sig, sizeof(tx->sig));
}

static void assert_tx_equal(const struct store_tx *a, const struct store_tx *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->chain_id, b->chain_id);
	assert_memory_equal(a->signer, b->signer, SN_PUBKEY_LEN);
	assert_true(a->nonce == b->nonce);
	assert_true(a->fee == b->fee);
	assert_memory_equal(a->to, b->to, SN_PUBKEY_LEN);
	assert_true(a->amount == b->amount);
	assert_memory_equal(a->sig, b->sig, SN_SIG_LEN);
}

static void encode_tx(const struct store_tx *tx, uint8_t out[STORE_TX_MAX], size_t *len)
{
	assert_int_equal(store_tx_encode(out, STORE_TX_MAX, len, tx), SN_OK);
	assert_int_equal(*len, STORE_TX_V1_LEN);
}

/* -------------------------------------------------------------- transactions */

static void test_tx_sizes(void **state)
{
	(void)state;
	assert_int_equal(STORE_TX_HEADER_LEN, 56);
	assert_int_equal(STORE_TX_V1_LEN, 160);
	assert_true(STORE_TX_V1_LEN <= STORE_TX_MAX);
	assert_int_equal(STORE_BLOCK_HEADER_LEN, 153);
	assert_int_equal(STORE_ACCOUNT_LEN, 89);
}

static void test_tx_known_answer(void **state)
{
	struct store_tx tx, back;
	uint8_t enc[STORE_TX_MAX];
	size_t len, want_len;
	uint8_t *want = tu_unhex(fixed_tx_hex, &want_len);

	(void)state;
	assert_int_equal(want_len, STORE_TX_V1_LEN);
	fixed_tx(&tx);
	encode_tx(&tx, enc, &len);
	assert_memory_equal(enc, want, len);
	assert_int_equal(store_tx_decode(&back, want, want_len), SN_OK);
	assert_tx_equal(&back, &tx);
	/* A REGISTER differs only in the type byte. */
	tx.type = STORE_TX_REGISTER;
	encode_tx(&tx, enc, &len);
	assert_int_equal(enc[1], 0x01);
	assert_memory_equal(enc + 2, want + 2, len - 2);
	free(want);
}

static void test_tx_hashes_are_tagged_hashes_of_the_encoding(void **state)
{
	struct store_tx tx;
	uint8_t enc[STORE_TX_MAX], got[32], want[32];
	size_t len;

	(void)state;
	fixed_tx(&tx);
	encode_tx(&tx, enc, &len);
	/* sighash: the encoding without its 64-byte signature, tag "settled/tx/sig". */
	assert_int_equal(store_tx_sighash(got, &tx), SN_OK);
	sn_hash_tagged(want, "settled/tx/sig", enc, len - SN_SIG_LEN);
	assert_memory_equal(got, want, 32);
	/* id: the whole encoding, tag "settled/tx/id". */
	store_tx_id(got, enc, len);
	sn_hash_tagged(want, "settled/tx/id", enc, len);
	assert_memory_equal(got, want, 32);
}

static void test_tx_round_trip_random(void **state)
{
	uint64_t seed = tu_seed("test_tx_round_trip_random");
	struct tu_rng rng = { seed };

	(void)state;
	for (int i = 0; i < 2000; i++) {
		struct store_tx tx, back;
		uint8_t enc[STORE_TX_MAX], enc2[STORE_TX_MAX];
		size_t len, len2;

		random_tx(&rng, &tx);
		encode_tx(&tx, enc, &len);
		assert_int_equal(store_tx_decode(&back, enc, len), SN_OK);
		assert_tx_equal(&back, &tx);
		encode_tx(&back, enc2, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(enc, enc2, len);
	}
}

static void test_tx_every_truncation(void **state)
{
	struct store_tx tx, back;
	uint8_t enc[STORE_TX_MAX];
	size_t len;

	(void)state;
	for (int type = STORE_TX_REGISTER; type <= STORE_TX_TRANSFER; type++) {
		fixed_tx(&tx);
		tx.type = (uint8_t)type;
		encode_tx(&tx, enc, &len);
		for (size_t n = 0; n < len; n++) {
			/* An exact-size copy so ASan catches any read past the prefix. */
			uint8_t *copy = malloc(n ? n : 1);

			memcpy(copy, enc, n);
			memset(&back, 0xee, sizeof(back));
			assert_int_equal(store_tx_decode(&back, copy, n), SN_E_TRUNCATED);
			free(copy);
		}
		assert_int_equal(store_tx_decode(&back, NULL, 0), SN_E_TRUNCATED);
	}
}

static void test_tx_trailing_and_oversize(void **state)
{
	struct store_tx tx, back;
	uint8_t buf[STORE_TX_MAX + 2];
	size_t len;

	(void)state;
	fixed_tx(&tx);
	encode_tx(&tx, buf, &len);
	memset(buf + len, 0, sizeof(buf) - len);
	for (size_t extra = 1; len + extra <= STORE_TX_MAX; extra++)
		assert_int_equal(store_tx_decode(&back, buf, len + extra), SN_E_TRAILING);
	assert_int_equal(store_tx_decode(&back, buf, STORE_TX_MAX + 1), SN_E_TOOBIG);
	assert_int_equal(store_tx_decode(&back, buf, STORE_TX_MAX + 2), SN_E_TOOBIG);
	/* tx is zeroed on entry, so a failed decode leaves nothing behind. */
	{
		struct store_tx zero;

		memset(&zero, 0, sizeof(zero));
		assert_memory_equal(&back, &zero, sizeof(back));
	}
}

static void test_tx_unknown_version_and_type(void **state)
{
	struct store_tx tx, back;
	uint8_t enc[STORE_TX_MAX];
	size_t len;
	static const uint8_t bad_versions[] = { 0, 2, 0x7f, 0xff };
	static const uint8_t bad_types[] = { 0, 6, 7, 0x80, 0xff };

	(void)state;
	fixed_tx(&tx);
	encode_tx(&tx, enc, &len);
	for (size_t i = 0; i < sizeof(bad_versions); i++) {
		enc[0] = bad_versions[i];
		assert_int_equal(store_tx_decode(&back, enc, len), SN_E_VERSION);
		/* The version is checked before the rest is even looked at. */
		assert_int_equal(store_tx_decode(&back, enc, 1), SN_E_VERSION);
	}
	enc[0] = STORE_TX_V1;
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		enc[1] = bad_types[i];
		assert_int_equal(store_tx_decode(&back, enc, len), SN_E_TYPE);
	}
	enc[1] = STORE_TX_TRANSFER;
	assert_int_equal(store_tx_decode(&back, enc, len), SN_OK);

	/* The encoder refuses them too, and writes nothing. */
	for (size_t i = 0; i < sizeof(bad_versions); i++) {
		fixed_tx(&tx);
		tx.version = bad_versions[i];
		len = 99;
		assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_VERSION);
		assert_int_equal(len, 0);
		{
			uint8_t h[32];

			assert_int_equal(store_tx_sighash(h, &tx), SN_E_VERSION);
		}
	}
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		fixed_tx(&tx);
		tx.type = bad_types[i];
		len = 99;
		assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_TYPE);
		assert_int_equal(len, 0);
		assert_int_equal(store_tx_verify(&tx), SN_E_TYPE);
	}
}

static void test_tx_wrong_payload_len(void **state)
{
	struct store_tx tx, back;
	uint8_t enc[STORE_TX_MAX], buf[STORE_TX_MAX];
	size_t len;

	(void)state;
	fixed_tx(&tx);
	encode_tx(&tx, enc, &len);
	/* payload_len is the u16 at offset 54. */
	assert_int_equal(enc[54], 40);
	assert_int_equal(enc[55], 0);
	static const unsigned big[] = { 127, 128, 255, 256, 400, 511, 512, 0x7fff, 0x8000, 0xfffe, 0xffff };

	memset(buf, 0, sizeof(buf));
	for (unsigned i = 0; i < 100 + SN_ARRAY_LEN(big); i++) {
		unsigned pl = i < 100 ? i : big[i - 100];
		int want = pl == 40 ? SN_OK : pl > 40 ? SN_E_TOOBIG : SN_E_TRUNCATED;
		size_t n;

		/* Body consistent with the announced length where it fits. */
		memcpy(buf, enc, STORE_TX_HEADER_LEN);
		buf[54] = (uint8_t)pl;
		buf[55] = (uint8_t)(pl >> 8);
		n = STORE_TX_HEADER_LEN + pl + SN_SIG_LEN;
		if (n > sizeof(buf))
			n = sizeof(buf);
		memset(buf + STORE_TX_HEADER_LEN, 0x22, n - STORE_TX_HEADER_LEN);
		assert_int_equal(store_tx_decode(&back, buf, n), want);
		if (pl != 40)
			assert_int_equal(store_tx_decode(&back, buf, len), want);
	}
}

/* ------------------------------------------------------ governance transactions */

/* A governance transaction of type with the given payload (borrowed). */
static void gov_tx(struct store_tx *tx, uint8_t type, const uint8_t *payload, uint16_t len)
{
	fixed_tx(tx);
	memset(tx->to, 0, sizeof(tx->to));
	tx->amount = 0;
	tx->type = type;
	tx->payload = payload;
	tx->payload_len = len;
}

/* Encodes, checks the bytes by hand, decodes back (payload borrowed from the input), and
 * rejects every truncation and a trailing byte. */
static void gov_roundtrip(uint8_t type, const uint8_t *payload, uint16_t plen)
{
	static uint8_t enc[STORE_TX_MAX + 1];
	struct store_tx tx, back;
	size_t len;

	gov_tx(&tx, type, payload, plen);
	assert_int_equal(store_tx_encode(enc, STORE_TX_MAX, &len, &tx), SN_OK);
	assert_int_equal(len, STORE_TX_HEADER_LEN + plen + SN_SIG_LEN);
	assert_int_equal(enc[1], type);
	assert_int_equal(enc[54] | enc[55] << 8, plen);
	assert_memory_equal(enc + STORE_TX_HEADER_LEN, payload, plen);
	assert_int_equal(store_tx_decode(&back, enc, len), SN_OK);
	assert_int_equal(back.type, type);
	assert_int_equal(back.payload_len, plen);
	assert_ptr_equal(back.payload, enc + STORE_TX_HEADER_LEN);
	assert_memory_equal(back.sig, tx.sig, SN_SIG_LEN);
	assert_true(back.amount == 0);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(store_tx_decode(&back, enc, n), SN_E_TRUNCATED);
	enc[len] = 0;
	assert_int_equal(store_tx_decode(&back, enc, len + 1), len + 1 > STORE_TX_MAX ? SN_E_TOOBIG : SN_E_TRAILING);
	/* The sighash covers the payload: one changed byte changes it. */
	{
		uint8_t h1[32], h2[32], copy[STORE_TX_PAYLOAD_MAX];

		memcpy(copy, payload, plen);
		gov_tx(&tx, type, copy, plen);
		assert_int_equal(store_tx_sighash(h1, &tx), SN_OK);
		copy[0] ^= 1; /* the proposal id or kind: not the count byte */
		assert_int_equal(store_tx_sighash(h2, &tx), SN_OK);
		assert_memory_not_equal(h1, h2, 32);
	}
}

static void test_tx_gov_roundtrip(void **state)
{
	static uint8_t payload[STORE_TX_PAYLOAD_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	/* PROPOSE: the smallest (kind and deadline only) to the largest. */
	gov_roundtrip(STORE_TX_GOV_PROPOSE, payload, STORE_TX_PROPOSE_HEADER_LEN);
	gov_roundtrip(STORE_TX_GOV_PROPOSE, payload, STORE_TX_PROPOSE_HEADER_LEN + 1);
	gov_roundtrip(STORE_TX_GOV_PROPOSE, payload, STORE_TX_PAYLOAD_MAX);
	gov_roundtrip(STORE_TX_GOV_APPROVE, payload, STORE_TX_APPROVE_LEN);
	/* EXECUTE with 0, 1 and 64 approvals. */
	for (unsigned n = 0; n <= STORE_TX_EXECUTE_SIGS_MAX; n += n < 2 ? 1 : 62) {
		payload[8] = (uint8_t)n;
		gov_roundtrip(STORE_TX_GOV_EXECUTE, payload,
		              (uint16_t)(STORE_TX_EXECUTE_HEADER_LEN + n * STORE_TX_EXECUTE_SIG_LEN));
	}
	/* The largest PROPOSE is exactly STORE_TX_MAX. */
	assert_int_equal(STORE_TX_HEADER_LEN + STORE_TX_PAYLOAD_MAX + SN_SIG_LEN, STORE_TX_MAX);
}

/* Decodes a transaction of type whose header announces plen, with avail payload bytes
 * (each byte fill, the count byte of an EXECUTE count) and a signature after them. */
static int decode_framed(uint8_t type, unsigned plen, size_t avail, uint8_t count)
{
	static uint8_t buf[STORE_TX_MAX + 128];
	struct store_tx tx, back;
	size_t len;

	fixed_tx(&tx);
	encode_tx(&tx, buf, &len);
	buf[1] = type;
	buf[54] = (uint8_t)plen;
	buf[55] = (uint8_t)(plen >> 8);
	memset(buf + STORE_TX_HEADER_LEN, 0x5a, avail);
	if (avail > 8)
		buf[STORE_TX_HEADER_LEN + 8] = count;
	len = STORE_TX_HEADER_LEN + avail + SN_SIG_LEN;
	if (len > sizeof(buf))
		len = sizeof(buf);
	return store_tx_decode(&back, buf, len);
}

static void test_tx_gov_framing(void **state)
{
	(void)state;
	/* PROPOSE: 9 ..= STORE_TX_PAYLOAD_MAX. */
	for (unsigned pl = 0; pl < STORE_TX_PROPOSE_HEADER_LEN; pl++)
		assert_int_equal(decode_framed(STORE_TX_GOV_PROPOSE, pl, pl, 0), SN_E_TRUNCATED);
	assert_int_equal(decode_framed(STORE_TX_GOV_PROPOSE, 9, 9, 0), SN_OK);
	assert_int_equal(decode_framed(STORE_TX_GOV_PROPOSE, STORE_TX_PAYLOAD_MAX, STORE_TX_PAYLOAD_MAX, 0), SN_OK);
	assert_int_equal(decode_framed(STORE_TX_GOV_PROPOSE, STORE_TX_PAYLOAD_MAX + 1, 9, 0), SN_E_TOOBIG);
	assert_int_equal(decode_framed(STORE_TX_GOV_PROPOSE, 0xffff, 9, 0), SN_E_TOOBIG);
	/* A PROPOSE whose input ends inside the payload. */
	assert_int_equal(decode_framed(STORE_TX_GOV_PROPOSE, 100, 50, 0), SN_E_TRUNCATED);
	/* APPROVE: exactly 104. */
	assert_int_equal(decode_framed(STORE_TX_GOV_APPROVE, 104, 104, 0), SN_OK);
	assert_int_equal(decode_framed(STORE_TX_GOV_APPROVE, 103, 103, 0), SN_E_TRUNCATED);
	assert_int_equal(decode_framed(STORE_TX_GOV_APPROVE, 105, 105, 0), SN_E_TOOBIG);
	assert_int_equal(decode_framed(STORE_TX_GOV_APPROVE, 40, 40, 0), SN_E_TRUNCATED);
	/* EXECUTE: 9 + 96 n, n <= 64. */
	for (unsigned pl = 0; pl < STORE_TX_EXECUTE_HEADER_LEN; pl++)
		assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, pl, pl, 0), SN_E_TRUNCATED);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9, 9, 0), SN_OK);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 96, 9 + 96, 1), SN_OK);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 96, 9 + 96, 0), SN_E_TOOBIG);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 96, 9 + 96, 2), SN_E_TRUNCATED);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 95, 9 + 95, 1), SN_E_TRUNCATED);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 97, 9 + 97, 1), SN_E_TOOBIG);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 64 * 96, 9 + 64 * 96, 64), SN_OK);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 65 * 96, 9 + 65 * 96, 65), SN_E_TOOBIG);
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9 + 96, 9 + 96, 0xff), SN_E_TOOBIG);
	/* The count byte itself missing from the input. */
	assert_int_equal(decode_framed(STORE_TX_GOV_EXECUTE, 9, 0, 0), SN_E_TRUNCATED);
}

static void test_tx_gov_encode_refuses_what_decode_would(void **state)
{
	static uint8_t payload[STORE_TX_PAYLOAD_MAX + 1], enc[STORE_TX_MAX];
	struct store_tx tx;
	size_t len;

	(void)state;
	gov_tx(&tx, STORE_TX_GOV_PROPOSE, payload, 8);
	assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_TRUNCATED);
	gov_tx(&tx, STORE_TX_GOV_PROPOSE, payload, STORE_TX_PAYLOAD_MAX + 1);
	assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_TOOBIG);
	gov_tx(&tx, STORE_TX_GOV_APPROVE, payload, 103);
	assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_TRUNCATED);
	payload[8] = 2;
	gov_tx(&tx, STORE_TX_GOV_EXECUTE, payload, 9 + 96);
	assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_TRUNCATED);
	payload[8] = 65;
	gov_tx(&tx, STORE_TX_GOV_EXECUTE, payload, 9 + 65 * 96);
	assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_TOOBIG);
	assert_int_equal(store_tx_sighash(enc, &tx), SN_E_TOOBIG);
	gov_tx(&tx, STORE_TX_GOV_APPROVE, NULL, 104);
	assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_E_INVAL);
	/* A buffer one byte short. */
	gov_tx(&tx, STORE_TX_GOV_APPROVE, payload, 104);
	assert_int_equal(store_tx_encode(enc, STORE_TX_HEADER_LEN + 104 + SN_SIG_LEN - 1, &len, &tx), SN_E_TOOBIG);
	assert_int_equal(len, 0);
}

static void test_tx_encode_small_buffer(void **state)
{
	struct store_tx tx;
	uint8_t enc[STORE_TX_MAX];
	size_t len;

	(void)state;
	fixed_tx(&tx);
	for (size_t cap = 0; cap < STORE_TX_V1_LEN; cap++) {
		len = 99;
		assert_int_equal(store_tx_encode(enc, cap, &len, &tx), SN_E_TOOBIG);
		assert_int_equal(len, 0);
	}
	assert_int_equal(store_tx_encode(enc, STORE_TX_V1_LEN, &len, &tx), SN_OK);
	assert_int_equal(len, STORE_TX_V1_LEN);
}

/* Every signed field is covered: changing any one breaks the signature. */
static void test_tx_signature_covers_every_field(void **state)
{
	uint8_t sk[32], pk[32], other_sk[32], other_pk[32];
	struct store_tx tx, m;

	(void)state;
	assert_int_equal(sn_schnorr_keygen(sk, pk), SN_OK);
	assert_int_equal(sn_schnorr_keygen(other_sk, other_pk), SN_OK);
	fixed_tx(&tx);
	memcpy(tx.signer, pk, 32);
	assert_int_equal(store_tx_sign(&tx, sk), SN_OK);
	assert_int_equal(store_tx_verify(&tx), SN_OK);

	for (int field = 0; field < 7; field++) {
		int got;

		m = tx;
		switch (field) {
		case 0: m.chain_id ^= 1; break;
		case 1: m.nonce++; break;
		case 2: m.fee++; break;
		case 3: m.to[31] ^= 0x01; break;
		case 4: m.amount++; break;
		case 5: memcpy(m.signer, other_pk, 32); break;
		case 6: m.type = STORE_TX_REGISTER; break;
		}
		got = store_tx_verify(&m);
		if (got == SN_OK)
			fail_msg("changing field %d kept the signature valid", field);
		assert_true(got == SN_E_BADSIG || got == SN_E_BADKEY);
	}
	/* A signer key that is not on the curve is BADKEY. */
	m = tx;
	memset(m.signer, 0xff, 32);
	assert_int_equal(store_tx_verify(&m), SN_E_BADKEY);
	/* A signature by another key, with this key as signer, is BADSIG. */
	m = tx;
	assert_int_equal(store_tx_sign(&m, other_sk), SN_OK);
	assert_int_equal(store_tx_verify(&m), SN_E_BADSIG);
	/* The encoded-then-decoded tx still verifies. */
	{
		uint8_t enc[STORE_TX_MAX];
		size_t len;

		encode_tx(&tx, enc, &len);
		assert_int_equal(store_tx_decode(&m, enc, len), SN_OK);
		assert_int_equal(store_tx_verify(&m), SN_OK);
	}
	sn_wipe(sk, sizeof(sk));
	sn_wipe(other_sk, sizeof(other_sk));
}

static void test_tx_id_changes_with_signature(void **state)
{
	uint8_t sk[32], pk[32], h1[32], h2[32], id1[32], id2[32];
	uint8_t enc1[STORE_TX_MAX], enc2[STORE_TX_MAX];
	size_t len1, len2;
	struct store_tx a, b;

	(void)state;
	assert_int_equal(sn_schnorr_keygen(sk, pk), SN_OK);
	fixed_tx(&a);
	memcpy(a.signer, pk, 32);
	b = a;
	/* store_tx_sign uses fresh aux randomness: two valid, different signatures. */
	assert_int_equal(store_tx_sign(&a, sk), SN_OK);
	assert_int_equal(store_tx_sign(&b, sk), SN_OK);
	assert_memory_not_equal(a.sig, b.sig, SN_SIG_LEN);
	assert_int_equal(store_tx_verify(&a), SN_OK);
	assert_int_equal(store_tx_verify(&b), SN_OK);
	/* Same sighash (it excludes the signature) but different ids. */
	assert_int_equal(store_tx_sighash(h1, &a), SN_OK);
	assert_int_equal(store_tx_sighash(h2, &b), SN_OK);
	assert_memory_equal(h1, h2, 32);
	encode_tx(&a, enc1, &len1);
	encode_tx(&b, enc2, &len2);
	store_tx_id(id1, enc1, len1);
	store_tx_id(id2, enc2, len2);
	assert_memory_not_equal(id1, id2, 32);
	/* A single flipped signature bit changes the id as well. */
	enc1[len1 - 1] ^= 1;
	store_tx_id(id2, enc1, len1);
	assert_memory_not_equal(id1, id2, 32);
	sn_wipe(sk, sizeof(sk));
}

/* -------------------------------------------------------------------- blocks */

/* Builds a block of n real transactions (random fields, signature bytes random too). */
static uint8_t *build_block(struct tu_rng *rng, uint32_t n, struct store_block_header *h,
                            size_t *len)
{
	size_t cap = STORE_BLOCK_HEADER_LEN + (size_t)n * (4 + STORE_TX_MAX);
	uint8_t *buf = malloc(cap);
	uint8_t (*ids)[SN_HASH_LEN] = calloc(n ? n : 1, SN_HASH_LEN);
	struct sn_writer w;

	assert_non_null(buf);
	assert_non_null(ids);
	w = sn_writer_init(buf + STORE_BLOCK_HEADER_LEN, cap - STORE_BLOCK_HEADER_LEN);
	for (uint32_t i = 0; i < n; i++) {
		struct store_tx tx;
		uint8_t enc[STORE_TX_MAX];
		size_t tlen;

		random_tx(rng, &tx);
		encode_tx(&tx, enc, &tlen);
		store_tx_id(ids[i], enc, tlen);
		sn_write_le32(&w, (uint32_t)tlen);
		sn_write_bytes(&w, enc, tlen);
	}
	assert_false(sn_writer_failed(&w));
	memset(h, 0, sizeof(*h));
	h->version = STORE_BLOCK_V1;
	h->chain_id = (uint32_t)tu_rand(rng);
	h->height = random_u64(rng);
	random_bytes_rng(rng, h->prev_hash, sizeof(h->prev_hash));
	h->time_ms = random_u64(rng);
	random_bytes_rng(rng, h->proposer, sizeof(h->proposer));
	store_tx_root(h->tx_root, (const uint8_t (*)[SN_HASH_LEN])ids, n);
	random_bytes_rng(rng, h->state_root, sizeof(h->state_root));
	h->tx_count = n;
	store_block_header_encode(buf, h);
	*len = STORE_BLOCK_HEADER_LEN + w.len;
	free(ids);
	return buf;
}

static void assert_header_equal(const struct store_block_header *a, const struct store_block_header *b)
{
	uint8_t ea[STORE_BLOCK_HEADER_LEN], eb[STORE_BLOCK_HEADER_LEN];

	assert_int_equal(a->version, b->version);
	assert_int_equal(a->chain_id, b->chain_id);
	assert_true(a->height == b->height);
	assert_true(a->time_ms == b->time_ms);
	assert_int_equal(a->tx_count, b->tx_count);
	assert_memory_equal(a->prev_hash, b->prev_hash, 32);
	assert_memory_equal(a->proposer, b->proposer, 32);
	assert_memory_equal(a->tx_root, b->tx_root, 32);
	assert_memory_equal(a->state_root, b->state_root, 32);
	store_block_header_encode(ea, a);
	store_block_header_encode(eb, b);
	assert_memory_equal(ea, eb, sizeof(ea));
}

static void test_block_known_answer(void **state)
{
	struct store_block_header h;
	struct store_block b;
	uint8_t enc[STORE_BLOCK_HEADER_LEN], hash[32], want_hash[32];
	size_t hlen, blen, tlen, pos = 0, len;
	uint8_t *want_hdr = tu_unhex(fixed_header_hex, &hlen);
	uint8_t *tx = tu_unhex(fixed_tx_hex, &tlen);
	uint8_t *block;
	const uint8_t *p;
	char *block_hex = malloc(strlen(fixed_header_hex) + strlen(fixed_block_body_prefix_hex) +
	                         strlen(fixed_tx_hex) + 1);

	(void)state;
	assert_int_equal(hlen, STORE_BLOCK_HEADER_LEN);
	fixed_header(&h);
	store_block_header_encode(enc, &h);
	assert_memory_equal(enc, want_hdr, hlen);
	/* block hash = tagged hash "settled/block" of the header encoding */
	store_block_hash(hash, &h);
	sn_hash_tagged(want_hash, "settled/block", want_hdr, hlen);
	assert_memory_equal(hash, want_hash, 32);

	strcpy(block_hex, fixed_header_hex);
	strcat(block_hex, fixed_block_body_prefix_hex);
	strcat(block_hex, fixed_tx_hex);
	block = tu_unhex(block_hex, &blen);
	assert_int_equal(blen, STORE_BLOCK_HEADER_LEN + 4 + STORE_TX_V1_LEN);
	assert_int_equal(store_block_decode(&b, block, blen), SN_OK);
	assert_header_equal(&b.hdr, &h);
	assert_ptr_equal(b.body, block + STORE_BLOCK_HEADER_LEN);
	assert_int_equal(b.body_len, 4 + STORE_TX_V1_LEN);
	assert_true(store_block_next_tx(&b, &pos, &p, &len));
	assert_int_equal(len, tlen);
	assert_memory_equal(p, tx, tlen);
	assert_false(store_block_next_tx(&b, &pos, &p, &len));
	assert_null(p);
	assert_int_equal(len, 0);
	free(want_hdr);
	free(tx);
	free(block);
	free(block_hex);
}

static void test_block_round_trip(void **state)
{
	uint64_t seed = tu_seed("test_block_round_trip");
	struct tu_rng rng = { seed };
	static const uint32_t counts[] = { 0, 1, 2, 3, 17, 200 };

	(void)state;
	for (size_t ci = 0; ci < SN_ARRAY_LEN(counts); ci++) {
		struct store_block_header h;
		struct store_block b;
		size_t len, pos = 0, tlen, rebuilt_len = STORE_BLOCK_HEADER_LEN;
		const uint8_t *tx;
		uint8_t *buf = build_block(&rng, counts[ci], &h, &len);
		uint8_t *rebuilt = malloc(len);
		uint8_t (*ids)[SN_HASH_LEN] = calloc(counts[ci] + 1, SN_HASH_LEN);
		uint32_t seen = 0;
		uint8_t root[32];

		assert_int_equal(store_block_decode(&b, buf, len), SN_OK);
		assert_header_equal(&b.hdr, &h);
		/* Header + iterated txs reproduce the input exactly. */
		store_block_header_encode(rebuilt, &b.hdr);
		while (store_block_next_tx(&b, &pos, &tx, &tlen)) {
			struct store_tx dtx;

			assert_int_equal(store_tx_decode(&dtx, tx, tlen), SN_OK);
			store_tx_id(ids[seen], tx, tlen);
			rebuilt[rebuilt_len++] = (uint8_t)tlen;
			rebuilt[rebuilt_len++] = (uint8_t)(tlen >> 8);
			rebuilt[rebuilt_len++] = (uint8_t)(tlen >> 16);
			rebuilt[rebuilt_len++] = (uint8_t)(tlen >> 24);
			memcpy(rebuilt + rebuilt_len, tx, tlen);
			rebuilt_len += tlen;
			seen++;
		}
		assert_int_equal(seen, counts[ci]);
		assert_int_equal(rebuilt_len, len);
		assert_memory_equal(rebuilt, buf, len);
		store_tx_root(root, (const uint8_t (*)[SN_HASH_LEN])ids, seen);
		assert_memory_equal(root, b.hdr.tx_root, 32);
		free(ids);
		free(rebuilt);
		free(buf);
	}
}

static void test_block_every_truncation(void **state)
{
	uint64_t seed = tu_seed("test_block_every_truncation");
	struct tu_rng rng = { seed };
	struct store_block_header h;
	struct store_block b;
	size_t len;
	uint8_t *buf = build_block(&rng, 3, &h, &len);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, buf, n);
		assert_int_equal(store_block_decode(&b, copy, n), SN_E_TRUNCATED);
		free(copy);
	}
	assert_int_equal(store_block_decode(&b, buf, len), SN_OK);
	free(buf);
}

static void test_block_trailing_and_version(void **state)
{
	uint64_t seed = tu_seed("test_block_trailing_and_version");
	struct tu_rng rng = { seed };
	struct store_block_header h;
	struct store_block b;
	size_t len;
	uint8_t *buf = build_block(&rng, 2, &h, &len);
	uint8_t *big = malloc(len + 8);

	(void)state;
	memcpy(big, buf, len);
	memset(big + len, 0, 8);
	for (size_t extra = 1; extra <= 8; extra++)
		assert_int_equal(store_block_decode(&b, big, len + extra), SN_E_TRAILING);
	/* An empty block with anything after its header is trailing too. */
	h.tx_count = 0;
	store_block_header_encode(big, &h);
	assert_int_equal(store_block_decode(&b, big, STORE_BLOCK_HEADER_LEN), SN_OK);
	assert_int_equal(store_block_decode(&b, big, STORE_BLOCK_HEADER_LEN + 1), SN_E_TRAILING);

	for (int v = 0; v < 256; v++) {
		if (v == STORE_BLOCK_V1)
			continue;
		buf[0] = (uint8_t)v;
		assert_int_equal(store_block_decode(&b, buf, len), SN_E_VERSION);
		assert_int_equal(store_block_decode(&b, buf, 1), SN_E_VERSION);
	}
	free(big);
	free(buf);
}

/* Writes a block header with tx_count into buf and returns its length. */
static size_t put_header(uint8_t *buf, uint32_t tx_count)
{
	struct store_block_header h;

	fixed_header(&h);
	h.tx_count = tx_count;
	store_block_header_encode(buf, &h);
	return STORE_BLOCK_HEADER_LEN;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void test_block_tx_length_bounds(void **state)
{
	size_t cap = STORE_BLOCK_HEADER_LEN + 4 + STORE_TX_MAX + 16;
	uint8_t *buf = calloc(1, cap);
	struct store_block b;
	size_t n = put_header(buf, 1), pos = 0, tlen;
	const uint8_t *tx;

	(void)state;
	/* Exactly STORE_TX_MAX is framed fine (the codec frames; the tx decoder judges). */
	put_le32(buf + n, STORE_TX_MAX);
	assert_int_equal(store_block_decode(&b, buf, n + 4 + STORE_TX_MAX), SN_OK);
	assert_true(store_block_next_tx(&b, &pos, &tx, &tlen));
	assert_int_equal(tlen, STORE_TX_MAX);
	/* One more is too big, whether or not the bytes are there. */
	put_le32(buf + n, STORE_TX_MAX + 1);
	assert_int_equal(store_block_decode(&b, buf, n + 4 + STORE_TX_MAX + 1), SN_E_TOOBIG);
	assert_int_equal(store_block_decode(&b, buf, n + 4), SN_E_TOOBIG);
	put_le32(buf + n, UINT32_MAX);
	assert_int_equal(store_block_decode(&b, buf, n + 4), SN_E_TOOBIG);
	/* Longer than what is left. */
	put_le32(buf + n, 100);
	assert_int_equal(store_block_decode(&b, buf, n + 4 + 99), SN_E_TRUNCATED);
	assert_int_equal(store_block_decode(&b, buf, n + 4 + 100), SN_OK);
	/* A zero-length tx is framed fine too. */
	put_le32(buf + n, 0);
	assert_int_equal(store_block_decode(&b, buf, n + 4), SN_OK);
	free(buf);
}

static void test_block_tx_count_bounds(void **state)
{
	uint8_t buf[STORE_BLOCK_HEADER_LEN + 3 * 8];
	struct store_block b;
	size_t n;

	(void)state;
	/* Three empty txs in the body; counts above that run past the end. */
	n = put_header(buf, 3);
	memset(buf + n, 0, 3 * 4);
	assert_int_equal(store_block_decode(&b, buf, n + 12), SN_OK);
	for (uint32_t c = 4; c < 10; c++) {
		put_header(buf, c);
		assert_int_equal(store_block_decode(&b, buf, n + 12), SN_E_TRUNCATED);
	}
	/* Fewer than the body holds: trailing. */
	put_header(buf, 2);
	assert_int_equal(store_block_decode(&b, buf, n + 12), SN_E_TRAILING);
	/* Above the maximum number of txs: too big, before looking at the body. */
	put_header(buf, STORE_BLOCK_MAX_TXS);
	assert_int_equal(store_block_decode(&b, buf, n + 12), SN_E_TRUNCATED);
	put_header(buf, STORE_BLOCK_MAX_TXS + 1);
	assert_int_equal(store_block_decode(&b, buf, n + 12), SN_E_TOOBIG);
	put_header(buf, UINT32_MAX);
	assert_int_equal(store_block_decode(&b, buf, n + 12), SN_E_TOOBIG);
}

static void test_block_oversize(void **state)
{
	size_t len = (size_t)STORE_BLOCK_MAX + 1;
	uint8_t *buf = calloc(1, len);
	struct store_block b;

	(void)state;
	assert_non_null(buf);
	put_header(buf, 0);
	assert_int_equal(store_block_decode(&b, buf, len), SN_E_TOOBIG);
	free(buf);
}

static void test_tx_root(void **state)
{
	uint8_t ids[3][32], got[32], want[32], buf[4 + 3 * 32];

	(void)state;
	for (int i = 0; i < 3; i++)
		memset(ids[i], 0x10 + i, 32);
	/* tx_root = tagged hash "settled/txroot" of (u32 count | count × id). */
	for (uint32_t n = 0; n <= 3; n++) {
		put_le32(buf, n);
		memcpy(buf + 4, ids, n * 32);
		sn_hash_tagged(want, "settled/txroot", buf, 4 + n * 32);
		store_tx_root(got, (const uint8_t (*)[SN_HASH_LEN])ids, n);
		assert_memory_equal(got, want, 32);
	}
	/* Order matters. */
	store_tx_root(want, (const uint8_t (*)[SN_HASH_LEN])ids, 2);
	memcpy(buf, ids[0], 32);
	memcpy(ids[0], ids[1], 32);
	memcpy(ids[1], buf, 32);
	store_tx_root(got, (const uint8_t (*)[SN_HASH_LEN])ids, 2);
	assert_memory_not_equal(got, want, 32);
}

static void test_block_hash_covers_every_field(void **state)
{
	struct store_block_header h, m;
	uint8_t base[32], got[32];

	(void)state;
	fixed_header(&h);
	store_block_hash(base, &h);
	for (int field = 0; field < 9; field++) {
		m = h;
		switch (field) {
		case 0: m.version++; break;
		case 1: m.chain_id++; break;
		case 2: m.height++; break;
		case 3: m.prev_hash[0] ^= 1; break;
		case 4: m.time_ms++; break;
		case 5: m.proposer[31] ^= 1; break;
		case 6: m.tx_root[7] ^= 1; break;
		case 7: m.state_root[9] ^= 1; break;
		case 8: m.tx_count++; break;
		}
		store_block_hash(got, &m);
		assert_memory_not_equal(got, base, 32);
	}
}

/* ------------------------------------------------------------------ accounts */

static void assert_account_equal(const struct store_account *a, const struct store_account *b)
{
	assert_true(a->seq == b->seq);
	assert_true(a->balance == b->balance);
	assert_true(a->nonce == b->nonce);
	assert_memory_equal(a->sponsor, b->sponsor, 32);
	assert_true(a->sponsor_seq == b->sponsor_seq);
	assert_true(a->personal_volume == b->personal_volume);
	assert_true(a->reg_height == b->reg_height);
	assert_true(a->depth == b->depth);
}

static void test_account_known_answer(void **state)
{
	struct store_account a, back;
	uint8_t enc[STORE_ACCOUNT_LEN];
	size_t want_len;
	uint8_t *want = tu_unhex(fixed_account_hex, &want_len);

	(void)state;
	assert_int_equal(want_len, STORE_ACCOUNT_LEN);
	fixed_account(&a);
	store_account_encode(enc, &a);
	assert_memory_equal(enc, want, STORE_ACCOUNT_LEN);
	/* The key is the caller's: decode leaves it as it was. */
	memset(back.key, 0x77, sizeof(back.key));
	assert_int_equal(store_account_decode(&back, want, want_len), SN_OK);
	assert_account_equal(&back, &a);
	for (int i = 0; i < 32; i++)
		assert_int_equal(back.key[i], 0x77);
	free(want);
}

static void test_account_round_trip_random(void **state)
{
	uint64_t seed = tu_seed("test_account_round_trip_random");
	struct tu_rng rng = { seed };

	(void)state;
	for (int i = 0; i < 2000; i++) {
		struct store_account a, back;
		uint8_t enc[STORE_ACCOUNT_LEN], enc2[STORE_ACCOUNT_LEN];

		memset(&a, 0, sizeof(a));
		a.seq = random_u64(&rng);
		a.balance = random_u64(&rng);
		a.nonce = random_u64(&rng);
		random_bytes_rng(&rng, a.sponsor, 32);
		a.sponsor_seq = random_u64(&rng);
		a.personal_volume = random_u64(&rng);
		a.reg_height = random_u64(&rng);
		a.depth = random_u64(&rng);
		store_account_encode(enc, &a);
		assert_int_equal(store_account_decode(&back, enc, sizeof(enc)), SN_OK);
		assert_account_equal(&back, &a);
		store_account_encode(enc2, &back);
		assert_memory_equal(enc, enc2, sizeof(enc));
	}
}

static void test_account_rejects(void **state)
{
	struct store_account a, back;
	uint8_t enc[STORE_ACCOUNT_LEN + 4];

	(void)state;
	fixed_account(&a);
	store_account_encode(enc, &a);
	memset(enc + STORE_ACCOUNT_LEN, 0, 4);
	for (size_t n = 0; n < STORE_ACCOUNT_LEN; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, enc, n);
		assert_int_equal(store_account_decode(&back, copy, n), SN_E_TRUNCATED);
		free(copy);
	}
	for (size_t extra = 1; extra <= 4; extra++)
		assert_int_equal(store_account_decode(&back, enc, STORE_ACCOUNT_LEN + extra),
		                 SN_E_TRAILING);
	for (int v = 0; v < 256; v++) {
		if (v == STORE_ACCOUNT_V1)
			continue;
		enc[0] = (uint8_t)v;
		assert_int_equal(store_account_decode(&back, enc, STORE_ACCOUNT_LEN), SN_E_VERSION);
	}
	enc[0] = STORE_ACCOUNT_V1;
	assert_int_equal(store_account_decode(&back, enc, STORE_ACCOUNT_LEN), SN_OK);
}

/* ------------------------------------------------- committed fuzz seed corpora */

#define CORPUS_DIR SN_SOURCE_DIR "/tests/fuzz/corpus/"

static uint8_t *read_seed(const char *target, const char *name, size_t *len)
{
	char path[512];
	uint8_t *data;

	snprintf(path, sizeof(path), CORPUS_DIR "%s/seed-%s", target, name);
	data = tu_read_file(path, len);
	if (!data)
		fail_msg("cannot read %s (run tests/fuzz/make_corpus.py)", path);
	return data;
}

/* The seeds that tests/fuzz/make_corpus.py writes as valid are real encodings: they decode,
 * their signatures verify and their blocks' tx_roots match. */
static void test_corpus_valid_seeds(void **state)
{
	static const char *const txs[] = { "transfer-doc-example", "register-amount-zero",
		                           "transfer-max-fields" };
	static const char *const blocks[] = { "empty-block", "one-tx", "three-txs" };
	static const char *const accounts[] = { "root", "child", "max-fields" };

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(txs); i++) {
		size_t len;
		uint8_t *data = read_seed("fuzz_storage_tx", txs[i], &len);
		struct store_tx tx;

		assert_int_equal(store_tx_decode(&tx, data, len), SN_OK);
		assert_int_equal(store_tx_verify(&tx), SN_OK);
		free(data);
	}
	for (size_t i = 0; i < SN_ARRAY_LEN(blocks); i++) {
		size_t len, pos = 0, tlen;
		uint8_t *data = read_seed("fuzz_storage_block", blocks[i], &len);
		struct store_block b;
		const uint8_t *p;
		uint8_t ids[4][SN_HASH_LEN], root[SN_HASH_LEN];
		uint32_t n = 0;

		assert_int_equal(store_block_decode(&b, data, len), SN_OK);
		while (store_block_next_tx(&b, &pos, &p, &tlen)) {
			struct store_tx tx;

			assert_true(n < 4);
			assert_int_equal(store_tx_decode(&tx, p, tlen), SN_OK);
			assert_int_equal(store_tx_verify(&tx), SN_OK);
			store_tx_id(ids[n++], p, tlen);
		}
		assert_int_equal(n, b.hdr.tx_count);
		store_tx_root(root, (const uint8_t (*)[SN_HASH_LEN])ids, n);
		assert_memory_equal(root, b.hdr.tx_root, SN_HASH_LEN);
		free(data);
	}
	for (size_t i = 0; i < SN_ARRAY_LEN(accounts); i++) {
		size_t len;
		uint8_t *data = read_seed("fuzz_storage_account", accounts[i], &len);
		struct store_account a;

		assert_int_equal(store_account_decode(&a, data, len), SN_OK);
		free(data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_sizes),
		cmocka_unit_test(test_tx_known_answer),
		cmocka_unit_test(test_tx_hashes_are_tagged_hashes_of_the_encoding),
		cmocka_unit_test(test_tx_round_trip_random),
		cmocka_unit_test(test_tx_every_truncation),
		cmocka_unit_test(test_tx_trailing_and_oversize),
		cmocka_unit_test(test_tx_unknown_version_and_type),
		cmocka_unit_test(test_tx_wrong_payload_len),
		cmocka_unit_test(test_tx_gov_roundtrip),
		cmocka_unit_test(test_tx_gov_framing),
		cmocka_unit_test(test_tx_gov_encode_refuses_what_decode_would),
		cmocka_unit_test(test_tx_encode_small_buffer),
		cmocka_unit_test(test_tx_signature_covers_every_field),
		cmocka_unit_test(test_tx_id_changes_with_signature),
		cmocka_unit_test(test_block_known_answer),
		cmocka_unit_test(test_block_round_trip),
		cmocka_unit_test(test_block_every_truncation),
		cmocka_unit_test(test_block_trailing_and_version),
		cmocka_unit_test(test_block_tx_length_bounds),
		cmocka_unit_test(test_block_tx_count_bounds),
		cmocka_unit_test(test_block_oversize),
		cmocka_unit_test(test_tx_root),
		cmocka_unit_test(test_block_hash_covers_every_field),
		cmocka_unit_test(test_account_known_answer),
		cmocka_unit_test(test_account_round_trip_random),
		cmocka_unit_test(test_account_rejects),
		cmocka_unit_test(test_corpus_valid_seeds),
	};

	return cmocka_run_group_tests(tests, tu_setup_crypto, NULL);
}
