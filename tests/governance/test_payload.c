/* tests/governance/test_payload.c — payload encodings, member lists and the council record,
 * parameters, names and the approval message (governance/payload.c). */
#include "testutil.h"

#include "governance/governance.h"

#include <stdio.h>
#include <stdlib.h>

static void key_fill(uint8_t key[32], unsigned i)
{
	memset(key, 0x5a, 32);
	key[0] = (uint8_t)(i >> 8);
	key[1] = (uint8_t)i;
}

/* The payload struct is about 10 KiB: keep them off the stack. */
static struct gov_payload P, Q;

static void payload_clear(uint8_t kind)
{
	memset(&P, 0, sizeof(P));
	P.kind = kind;
}

/* Encodes P, compares with hex, decodes back and compares the re-encoding; then every
 * truncation and one trailing byte are rejected. */
static void check_encoding(const char *hex)
{
	uint8_t enc[GOV_PAYLOAD_MAX + 1], enc2[GOV_PAYLOAD_MAX];
	size_t len, len2, want_len;
	uint8_t *want = tu_unhex(hex, &want_len);

	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_OK);
	if (len != want_len || memcmp(enc, want, len) != 0) {
		char got[2 * sizeof(enc) + 1];

		sn_hex_encode(got, enc, len);
		fprintf(stderr, "kind %u\n got  %s\n want %s\n", P.kind, got, hex);
		fail();
	}
	assert_int_equal(gov_payload_decode(&Q, P.kind, enc, len), SN_OK);
	assert_int_equal(gov_payload_encode(enc2, sizeof(enc2), &len2, &Q), SN_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(enc2, enc, len);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(gov_payload_decode(&Q, P.kind, enc, n), SN_E_TRUNCATED);
	enc[len] = 0;
	assert_int_equal(gov_payload_decode(&Q, P.kind, enc, len + 1), SN_E_TRAILING);
	/* A buffer one byte short is refused by the encoder. */
	assert_int_equal(gov_payload_encode(enc2, len - 1, &len2, &P), SN_E_TOOBIG);
	assert_int_equal(len2, 0);
	free(want);
}

#define K32(b) b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b

static void kat_payloads(void **state)
{
	(void)state;

	payload_clear(GOV_KIND_CHANGE_VALIDATORS);
	P.u.validators.count = 2;
	memset(P.u.validators.v[0].key, 0x11, 32);
	P.u.validators.v[0].power = 10;
	memset(P.u.validators.v[1].key, 0x22, 32);
	P.u.validators.v[1].power = 0x0102030405ull;
	check_encoding("01"                        /* version */
	               "0200"                      /* count 2 */
	               K32("11") "0a00000000000000" /* key, power 10 */
	               K32("22") "0504030201000000");

	payload_clear(GOV_KIND_CHANGE_MEMBERS);
	P.u.members.track = GOV_TRACK_COMMUNITY;
	P.u.members.list.count = 3;
	memset(P.u.members.list.members[0].key, 0x01, 32);
	P.u.members.list.members[0].weight = 1;
	memset(P.u.members.list.members[1].key, 0x02, 32);
	P.u.members.list.members[1].weight = 1000000;
	memset(P.u.members.list.members[2].key, 0xfe, 32);
	P.u.members.list.members[2].weight = 7;
	check_encoding("01"   /* version */
	               "01"   /* community */
	               "0300" /* count 3 */
	               K32("01") "01000000" K32("02") "40420f00" K32("fe") "07000000");

	payload_clear(GOV_KIND_SET_PARAM);
	P.u.param.id = GOV_PARAM_MAX_BLOCK_TXS;
	P.u.param.value = 65536;
	check_encoding("01" "02" "0000010000000000");

	payload_clear(GOV_KIND_TREASURY_SPEND);
	memset(P.u.spend.recipient, 0x22, 32);
	P.u.spend.amount = 1000;
	check_encoding("01" K32("22") "e803000000000000");

	payload_clear(GOV_KIND_PAUSE_TRANSFERS);
	check_encoding("01");
	payload_clear(GOV_KIND_UNPAUSE_TRANSFERS);
	check_encoding("01");

	payload_clear(GOV_KIND_SIGNAL_UPGRADE);
	strcpy(P.u.upgrade.name, "v1.2-rc0");
	P.u.upgrade.name_len = 8;
	P.u.upgrade.activation_height = 0x1234;
	check_encoding("01" "08" "76312e322d726330" "3412000000000000");

	payload_clear(GOV_KIND_CANCEL);
	P.u.cancel.proposal_id = 42;
	check_encoding("01" "2a00000000000000");
}

static void kat_hashes(void **state)
{
	uint8_t payload[1 + 32 + 8], h[SN_HASH_LEN], m[SN_HASH_LEN], want[SN_HASH_LEN];
	uint8_t pause = GOV_PAYLOAD_V1;
	size_t len;

	(void)state;
	payload_clear(GOV_KIND_TREASURY_SPEND);
	memset(P.u.spend.recipient, 0x22, 32);
	P.u.spend.amount = 1000;
	assert_int_equal(gov_payload_encode(payload, sizeof(payload), &len, &P), SN_OK);
	assert_int_equal(len, sizeof(payload));
	/* Values from tests/fuzz/make_governance_corpus.py --kat (Python hashlib, written
	 * from docs/governance.md). */
	gov_payload_hash(h, GOV_KIND_TREASURY_SPEND, payload, len);
	assert_int_equal(sn_hex_decode(want, sizeof(want),
	                               "2c16210b28458e75a35d4edf278e563fe62eb6f2dcbac3bf1707227dbc4a276a"),
	                 SN_OK);
	assert_memory_equal(h, want, SN_HASH_LEN);
	gov_approval_message(m, 7, 42, h);
	assert_int_equal(sn_hex_decode(want, sizeof(want),
	                               "dec0c8f9739308eadd40b3ac23df048004634252eaff1e88efa8bd1b9b59eea7"),
	                 SN_OK);
	assert_memory_equal(m, want, SN_HASH_LEN);
	gov_payload_hash(h, GOV_KIND_PAUSE_TRANSFERS, &pause, 1);
	assert_int_equal(sn_hex_decode(want, sizeof(want),
	                               "2b16f7a5b100a009f9539acc48d4515f5389420bfacfa72d843da2de96e7f360"),
	                 SN_OK);
	assert_memory_equal(h, want, SN_HASH_LEN);
	/* The kind is part of the hash: the same bytes as UNPAUSE hash differently. */
	gov_payload_hash(m, GOV_KIND_UNPAUSE_TRANSFERS, &pause, 1);
	assert_memory_not_equal(h, m, SN_HASH_LEN);
	/* Every input of the approval message matters. */
	{
		uint8_t a[SN_HASH_LEN], b[SN_HASH_LEN];

		gov_approval_message(a, 7, 42, h);
		gov_approval_message(b, 8, 42, h);
		assert_memory_not_equal(a, b, SN_HASH_LEN);
		gov_approval_message(b, 7, 43, h);
		assert_memory_not_equal(a, b, SN_HASH_LEN);
		gov_approval_message(b, 7, 42, m);
		assert_memory_not_equal(a, b, SN_HASH_LEN);
	}
}

/* ------------------------------------------------------------ bad payloads */

struct bad_case {
	const char *what;
	uint8_t kind;
	const char *hex;
	int err;
};

static const struct bad_case bad_cases[] = {
	{ "empty", GOV_KIND_PAUSE_TRANSFERS, "", SN_E_TRUNCATED },
	{ "version 0", GOV_KIND_PAUSE_TRANSFERS, "00", SN_E_VERSION },
	{ "version 2", GOV_KIND_CANCEL, "02" "2a00000000000000", SN_E_VERSION },
	{ "kind 0", 0, "01", SN_E_TYPE },
	{ "kind 9", 9, "01", SN_E_TYPE },
	{ "kind 255", 255, "01", SN_E_TYPE },
	{ "no validators", GOV_KIND_CHANGE_VALIDATORS, "01" "0000", SN_E_PAYLOAD },
	{ "129 validators", GOV_KIND_CHANGE_VALIDATORS, "01" "8100", SN_E_TOOBIG },
	{ "validator power 0", GOV_KIND_CHANGE_VALIDATORS, "01" "0100" K32("11") "0000000000000000",
	  SN_E_PAYLOAD },
	{ "validator power 2^50 + 1", GOV_KIND_CHANGE_VALIDATORS,
	  "01" "0100" K32("11") "0100000000000400", SN_E_PAYLOAD },
	{ "duplicate validator", GOV_KIND_CHANGE_VALIDATORS,
	  "01" "0200" K32("11") "0100000000000000" K32("11") "0100000000000000", SN_E_PAYLOAD },
	{ "validators out of order", GOV_KIND_CHANGE_VALIDATORS,
	  "01" "0200" K32("22") "0100000000000000" K32("11") "0100000000000000", SN_E_NONCANONICAL },
	{ "validator count says 2, one given", GOV_KIND_CHANGE_VALIDATORS,
	  "01" "0200" K32("11") "0100000000000000", SN_E_TRUNCATED },
	{ "track 2", GOV_KIND_CHANGE_MEMBERS, "01" "02" "0100" K32("11") "01000000", SN_E_PAYLOAD },
	{ "no members", GOV_KIND_CHANGE_MEMBERS, "01" "00" "0000", SN_E_PAYLOAD },
	{ "257 members", GOV_KIND_CHANGE_MEMBERS, "01" "00" "0101", SN_E_TOOBIG },
	{ "weight 0", GOV_KIND_CHANGE_MEMBERS, "01" "00" "0100" K32("11") "00000000", SN_E_PAYLOAD },
	{ "weight 1000001", GOV_KIND_CHANGE_MEMBERS, "01" "00" "0100" K32("11") "41420f00",
	  SN_E_PAYLOAD },
	{ "duplicate member", GOV_KIND_CHANGE_MEMBERS,
	  "01" "01" "0200" K32("11") "01000000" K32("11") "02000000", SN_E_PAYLOAD },
	{ "members out of order", GOV_KIND_CHANGE_MEMBERS,
	  "01" "01" "0200" K32("22") "01000000" K32("11") "01000000", SN_E_NONCANONICAL },
	{ "param 0", GOV_KIND_SET_PARAM, "01" "00" "0100000000000000", SN_E_PAYLOAD },
	{ "param 7", GOV_KIND_SET_PARAM, "01" "07" "0100000000000000", SN_E_PAYLOAD },
	{ "max_block_txs 0", GOV_KIND_SET_PARAM, "01" "02" "0000000000000000", SN_E_PAYLOAD },
	{ "max_block_txs 65537", GOV_KIND_SET_PARAM, "01" "02" "0100010000000000", SN_E_PAYLOAD },
	{ "timelock over its max", GOV_KIND_SET_PARAM, "01" "03" "8196980000000000", SN_E_PAYLOAD },
	{ "max deadline 0", GOV_KIND_SET_PARAM, "01" "04" "0000000000000000", SN_E_PAYLOAD },
	{ "mempool_max_txs 0", GOV_KIND_SET_PARAM, "01" "05" "0000000000000000", SN_E_PAYLOAD },
	{ "mempool_max_bytes 1023", GOV_KIND_SET_PARAM, "01" "06" "ff03000000000000", SN_E_PAYLOAD },
	{ "mempool_max_bytes 2^34 + 1", GOV_KIND_SET_PARAM, "01" "06" "0100000004000000",
	  SN_E_PAYLOAD },
	{ "spend 0", GOV_KIND_TREASURY_SPEND, "01" K32("22") "0000000000000000", SN_E_PAYLOAD },
	{ "pause with a byte", GOV_KIND_PAUSE_TRANSFERS, "0100", SN_E_TRAILING },
	{ "unpause with a byte", GOV_KIND_UNPAUSE_TRANSFERS, "0101", SN_E_TRAILING },
	{ "upgrade name empty", GOV_KIND_SIGNAL_UPGRADE, "01" "00" "0100000000000000", SN_E_PAYLOAD },
	{ "upgrade name 65", GOV_KIND_SIGNAL_UPGRADE, "01" "41", SN_E_TOOBIG },
	{ "upgrade name upper case", GOV_KIND_SIGNAL_UPGRADE, "01" "02" "5631" "0100000000000000",
	  SN_E_PAYLOAD },
	{ "upgrade name underscore", GOV_KIND_SIGNAL_UPGRADE, "01" "02" "615f" "0100000000000000",
	  SN_E_PAYLOAD },
	{ "upgrade name NUL", GOV_KIND_SIGNAL_UPGRADE, "01" "02" "6100" "0100000000000000",
	  SN_E_PAYLOAD },
	{ "upgrade name space", GOV_KIND_SIGNAL_UPGRADE, "01" "02" "6120" "0100000000000000",
	  SN_E_PAYLOAD },
	{ "upgrade at height 0", GOV_KIND_SIGNAL_UPGRADE, "01" "01" "61" "0000000000000000",
	  SN_E_PAYLOAD },
	{ "cancel proposal 0", GOV_KIND_CANCEL, "01" "0000000000000000", SN_E_PAYLOAD },
};

static void bad_payloads(void **state)
{
	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len;
		uint8_t *in = tu_unhex(c->hex, &len);
		int err = gov_payload_decode(&Q, c->kind, in, len);

		if (err != c->err) {
			fprintf(stderr, "case %zu (%s): got %s, want %s\n", i, c->what, sn_errname(err),
			        sn_errname(c->err));
			fail();
		}
		free(in);
	}
}

/* The encoder refuses what the decoder refuses. */
static void encoder_validates(void **state)
{
	uint8_t enc[GOV_PAYLOAD_MAX];
	size_t len = 1;

	(void)state;
	payload_clear(0);
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_E_TYPE);
	assert_int_equal(len, 0);
	payload_clear(GOV_KIND_CHANGE_MEMBERS);
	P.u.members.list.count = 2;
	key_fill(P.u.members.list.members[0].key, 2);
	key_fill(P.u.members.list.members[1].key, 1);
	P.u.members.list.members[0].weight = P.u.members.list.members[1].weight = 1;
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_E_NONCANONICAL);
	gov_track_members_sort(&P.u.members.list);
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_OK);
	P.u.members.list.count = GOV_TRACK_MEMBERS_MAX + 1;
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_E_TOOBIG);
	payload_clear(GOV_KIND_CHANGE_VALIDATORS);
	P.u.validators.count = GOV_VALIDATORS_MAX + 1;
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_E_TOOBIG);
	payload_clear(GOV_KIND_SIGNAL_UPGRADE);
	P.u.upgrade.name_len = 3;
	memcpy(P.u.upgrade.name, "abcd", 4); /* longer than name_len */
	P.u.upgrade.activation_height = 1;
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_E_PAYLOAD);
	P.u.upgrade.name[3] = 0;
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_OK);
	payload_clear(GOV_KIND_SIGNAL_UPGRADE);
	P.u.upgrade.name_len = GOV_UPGRADE_NAME_MAX + 1;
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_E_TOOBIG);
}

/* The largest lists: 256 members (the largest payload, 9,220 bytes) and 128 validators. */
static void max_sizes(void **state)
{
	static uint8_t enc[GOV_PAYLOAD_MAX + 2];
	size_t len;

	(void)state;
	payload_clear(GOV_KIND_CHANGE_MEMBERS);
	P.u.members.list.count = GOV_TRACK_MEMBERS_MAX;
	for (unsigned i = 0; i < GOV_TRACK_MEMBERS_MAX; i++) {
		key_fill(P.u.members.list.members[i].key, i);
		P.u.members.list.members[i].weight = GOV_WEIGHT_MAX;
	}
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_OK);
	assert_int_equal(len, 1 + 1 + 2 + GOV_TRACK_MEMBERS_MAX * GOV_MEMBER_LEN);
	assert_int_equal(len, 9220);
	assert_true(len <= GOV_PAYLOAD_MAX);
	assert_int_equal(gov_payload_decode(&Q, P.kind, enc, len), SN_OK);
	assert_memory_equal(&Q.u.members, &P.u.members, sizeof(P.u.members));
	/* Over GOV_PAYLOAD_MAX is refused before anything else. */
	assert_int_equal(gov_payload_decode(&Q, P.kind, enc, GOV_PAYLOAD_MAX + 1), SN_E_TOOBIG);

	payload_clear(GOV_KIND_CHANGE_VALIDATORS);
	P.u.validators.count = GOV_VALIDATORS_MAX;
	for (unsigned i = 0; i < GOV_VALIDATORS_MAX; i++) {
		key_fill(P.u.validators.v[i].key, i);
		P.u.validators.v[i].power = GOV_VALIDATOR_POWER_MAX;
	}
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_OK);
	assert_int_equal(len, 1 + 2 + GOV_VALIDATORS_MAX * GOV_VALIDATOR_LEN);
	assert_int_equal(gov_payload_decode(&Q, P.kind, enc, len), SN_OK);
	assert_memory_equal(&Q.u.validators, &P.u.validators, sizeof(P.u.validators));

	payload_clear(GOV_KIND_SIGNAL_UPGRADE);
	memset(P.u.upgrade.name, 'z', GOV_UPGRADE_NAME_MAX);
	P.u.upgrade.name_len = GOV_UPGRADE_NAME_MAX;
	P.u.upgrade.activation_height = UINT64_MAX;
	assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_OK);
	assert_int_equal(gov_payload_decode(&Q, P.kind, enc, len), SN_OK);
	assert_string_equal(Q.u.upgrade.name, P.u.upgrade.name);
}

/* Round trips of random valid payloads of every kind. */
static void random_round_trips(void **state)
{
	struct tu_rng r = { tu_seed("governance_payload_round_trips") };
	static uint8_t enc[GOV_PAYLOAD_MAX], enc2[GOV_PAYLOAD_MAX];
	size_t len, len2;

	(void)state;
	for (int it = 0; it < 2000; it++) {
		uint8_t kind = (uint8_t)(GOV_KIND_FIRST + tu_rand_below(&r, GOV_KIND_LAST));

		payload_clear(kind);
		switch (kind) {
		case GOV_KIND_CHANGE_VALIDATORS:
			P.u.validators.count = (uint16_t)(1 + tu_rand_below(&r, GOV_VALIDATORS_MAX));
			for (unsigned i = 0; i < P.u.validators.count; i++) {
				key_fill(P.u.validators.v[i].key, i * 2 + (unsigned)tu_rand_below(&r, 2));
				P.u.validators.v[i].power = 1 + tu_rand_below(&r, GOV_VALIDATOR_POWER_MAX);
			}
			break;
		case GOV_KIND_CHANGE_MEMBERS:
			P.u.members.track = (uint8_t)tu_rand_below(&r, 2);
			P.u.members.list.count = (uint16_t)(1 + tu_rand_below(&r, GOV_TRACK_MEMBERS_MAX));
			for (unsigned i = 0; i < P.u.members.list.count; i++) {
				struct gov_member *m = &P.u.members.list.members[i];

				tu_rand(&r);
				for (int b = 0; b < 32; b++)
					m->key[b] = (uint8_t)tu_rand(&r);
				m->weight = 1 + (uint32_t)tu_rand_below(&r, GOV_WEIGHT_MAX);
			}
			gov_track_members_sort(&P.u.members.list);
			break;
		case GOV_KIND_SET_PARAM:
			P.u.param.id = (uint8_t)(GOV_PARAM_FIRST + tu_rand_below(&r, GOV_PARAM_LAST));
			P.u.param.value = P.u.param.id == GOV_PARAM_MIN_FEE ? tu_rand(&r) : 1024 + tu_rand_below(&r, 60000);
			break;
		case GOV_KIND_TREASURY_SPEND:
			key_fill(P.u.spend.recipient, (unsigned)tu_rand_below(&r, 65536));
			P.u.spend.amount = 1 + tu_rand_below(&r, UINT64_MAX);
			break;
		case GOV_KIND_SIGNAL_UPGRADE: {
			static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789.-";

			P.u.upgrade.name_len = (uint8_t)(1 + tu_rand_below(&r, GOV_UPGRADE_NAME_MAX));
			for (unsigned i = 0; i < P.u.upgrade.name_len; i++)
				P.u.upgrade.name[i] = alphabet[tu_rand_below(&r, sizeof(alphabet) - 1)];
			P.u.upgrade.activation_height = 1 + tu_rand_below(&r, UINT64_MAX);
			break;
		}
		case GOV_KIND_CANCEL:
			P.u.cancel.proposal_id = 1 + tu_rand_below(&r, UINT64_MAX);
			break;
		default:
			break;
		}
		assert_int_equal(gov_payload_encode(enc, sizeof(enc), &len, &P), SN_OK);
		assert_int_equal(gov_payload_decode(&Q, kind, enc, len), SN_OK);
		assert_int_equal(gov_payload_encode(enc2, sizeof(enc2), &len2, &Q), SN_OK);
		assert_int_equal(len, len2);
		assert_memory_equal(enc, enc2, len);
		assert_memory_equal(&P, &Q, sizeof(P));
		/* Any single truncation is refused. */
		assert_int_equal(gov_payload_decode(&Q, kind, enc, tu_rand_below(&r, len)), SN_E_TRUNCATED);
	}
}

/* --------------------------------------------------------------- the council */

static struct gov_council C, D;

static void council_fill(void)
{
	memset(&C, 0, sizeof(C));
	C.track[GOV_TRACK_DEV].count = 2;
	memset(C.track[GOV_TRACK_DEV].members[0].key, 0x01, 32);
	C.track[GOV_TRACK_DEV].members[0].weight = 1;
	memset(C.track[GOV_TRACK_DEV].members[1].key, 0x02, 32);
	C.track[GOV_TRACK_DEV].members[1].weight = 2;
	C.track[GOV_TRACK_COMMUNITY].count = 1;
	memset(C.track[GOV_TRACK_COMMUNITY].members[0].key, 0x01, 32);
	C.track[GOV_TRACK_COMMUNITY].members[0].weight = 1000000;
}

static void council_codec(void **state)
{
	static const char want_hex[] = "01"                             /* version */
	                               "0200" K32("01") "01000000" K32("02") "02000000" /* developers */
	                               "0100" K32("01") "40420f00";     /* community */
	uint8_t enc[GOV_COUNCIL_MAX], *want;
	size_t len, want_len;

	(void)state;
	council_fill();
	assert_int_equal(gov_council_check(&C), SN_OK);
	assert_int_equal(gov_track_members_total(&C.track[GOV_TRACK_DEV]), 3);
	assert_int_equal(gov_council_encode(enc, sizeof(enc), &len, &C), SN_OK);
	want = tu_unhex(want_hex, &want_len);
	assert_int_equal(len, want_len);
	assert_memory_equal(enc, want, len);
	free(want);
	assert_int_equal(gov_council_decode(&D, enc, len), SN_OK);
	assert_memory_equal(&C, &D, sizeof(C));
	for (size_t n = 0; n < len; n++)
		assert_int_equal(gov_council_decode(&D, enc, n), SN_E_TRUNCATED);
	enc[len] = 0;
	assert_int_equal(gov_council_decode(&D, enc, len + 1), SN_E_TRAILING);
	enc[0] = 2;
	assert_int_equal(gov_council_decode(&D, enc, len), SN_E_VERSION);
	assert_int_equal(gov_council_encode(enc, len - 1, &len, &C), SN_E_TOOBIG);

	/* Invalid councils: an empty track, a zero weight, order. */
	C.track[GOV_TRACK_COMMUNITY].count = 0;
	assert_int_equal(gov_council_check(&C), SN_E_PAYLOAD);
	assert_int_equal(gov_council_encode(enc, sizeof(enc), &len, &C), SN_E_PAYLOAD);
	council_fill();
	C.track[GOV_TRACK_DEV].members[1].weight = 0;
	assert_int_equal(gov_council_check(&C), SN_E_PAYLOAD);
	council_fill();
	memset(C.track[GOV_TRACK_DEV].members[1].key, 0x00, 32);
	assert_int_equal(gov_council_check(&C), SN_E_NONCANONICAL);
	gov_track_members_sort(&C.track[GOV_TRACK_DEV]);
	assert_int_equal(gov_council_check(&C), SN_OK);
	/* A key in both tracks is fine (it counts in each). */
	council_fill();
	assert_int_equal(gov_council_check(&C), SN_OK);
}

/* --------------------------------------------------------------- parameters */

static void params(void **state)
{
	struct gov_params p = { .min_fee = 1, .max_block_txs = 10000, .timelock_blocks = 10,
		                .proposal_max_deadline_blocks = 1000, .mempool_max_txs = 100000,
		                .mempool_max_bytes = 1 << 26 };
	struct gov_params before;
	uint64_t v;

	(void)state;
	assert_int_equal(gov_params_check(&p), SN_OK);
	/* Both sides of every range. */
	assert_int_equal(gov_param_check(GOV_PARAM_MIN_FEE, 0), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_MIN_FEE, UINT64_MAX), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_MAX_BLOCK_TXS, 1), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_MAX_BLOCK_TXS, 65536), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_MAX_BLOCK_TXS, 65537), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_TIMELOCK_BLOCKS, 0), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_TIMELOCK_BLOCKS, GOV_TIMELOCK_MAX), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_TIMELOCK_BLOCKS, GOV_TIMELOCK_MAX + 1), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS, 0), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS, 1), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS, GOV_DEADLINE_MAX), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS, GOV_DEADLINE_MAX + 1),
	                 SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_MEMPOOL_MAX_TXS, 0), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_MEMPOOL_MAX_TXS, 10000000), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_MEMPOOL_MAX_TXS, 10000001), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_MEMPOOL_MAX_BYTES, 1023), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_MEMPOOL_MAX_BYTES, 1024), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_MEMPOOL_MAX_BYTES, 1ull << 34), SN_OK);
	assert_int_equal(gov_param_check(GOV_PARAM_MEMPOOL_MAX_BYTES, (1ull << 34) + 1), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(0, 1), SN_E_PAYLOAD);
	assert_int_equal(gov_param_check(GOV_PARAM_LAST + 1, 1), SN_E_PAYLOAD);

	/* A timelock longer than the longest deadline would lock governance out for good. */
	before = p;
	assert_int_equal(gov_params_set(&p, GOV_PARAM_TIMELOCK_BLOCKS, 1001), SN_E_PAYLOAD);
	assert_memory_equal(&p, &before, sizeof(p));
	assert_int_equal(gov_params_set(&p, GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS, 9), SN_E_PAYLOAD);
	assert_memory_equal(&p, &before, sizeof(p));
	assert_int_equal(gov_params_set(&p, GOV_PARAM_TIMELOCK_BLOCKS, 1000), SN_OK);
	assert_int_equal(p.timelock_blocks, 1000);
	assert_int_equal(gov_params_set(&p, GOV_PARAM_MAX_BLOCK_TXS, 0), SN_E_PAYLOAD);
	assert_int_equal(gov_params_set(&p, 9, 0), SN_E_PAYLOAD);
	assert_int_equal(gov_params_set(&p, GOV_PARAM_MIN_FEE, 77), SN_OK);
	assert_int_equal(gov_params_get(&p, GOV_PARAM_MIN_FEE, &v), SN_OK);
	assert_int_equal(v, 77);
	assert_int_equal(gov_params_get(&p, 0, &v), SN_E_PAYLOAD);
	assert_int_equal(v, 0);
}

static void names(void **state)
{
	uint8_t x;

	(void)state;
	for (uint8_t k = GOV_KIND_FIRST; k <= GOV_KIND_LAST; k++) {
		assert_int_equal(gov_kind_parse(&x, gov_kind_name(k)), SN_OK);
		assert_int_equal(x, k);
	}
	for (uint8_t k = GOV_PARAM_FIRST; k <= GOV_PARAM_LAST; k++) {
		assert_int_equal(gov_param_parse(&x, gov_param_name(k)), SN_OK);
		assert_int_equal(x, k);
	}
	assert_string_equal(gov_kind_name(GOV_KIND_TREASURY_SPEND), "treasury_spend");
	assert_string_equal(gov_kind_name(0), "unknown");
	assert_string_equal(gov_kind_name(9), "unknown");
	assert_string_equal(gov_param_name(GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS),
	                    "proposal_max_deadline_blocks");
	assert_string_equal(gov_param_name(0), "unknown");
	assert_string_equal(gov_track_name(GOV_TRACK_DEV), "developers");
	assert_string_equal(gov_track_name(GOV_TRACK_COMMUNITY), "community");
	assert_string_equal(gov_track_name(2), "unknown");
	assert_int_equal(gov_kind_parse(&x, "nope"), SN_E_INVAL);
	assert_int_equal(x, 0);
	assert_int_equal(gov_param_parse(&x, ""), SN_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kat_payloads),
		cmocka_unit_test(kat_hashes),
		cmocka_unit_test(bad_payloads),
		cmocka_unit_test(encoder_validates),
		cmocka_unit_test(max_sizes),
		cmocka_unit_test(random_round_trips),
		cmocka_unit_test(council_codec),
		cmocka_unit_test(params),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, tu_setup_crypto, NULL);
}
