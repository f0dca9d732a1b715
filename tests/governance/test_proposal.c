/* tests/governance/test_proposal.c — the proposal record and its lifecycle
 * (governance/proposal.c): create, approve, execute, cancel, expiry, the view, the record
 * encoding, and a randomized walk checked against the tally. */
#include "testutil.h"

#include "governance/governance.h"

#include <stdio.h>
#include <stdlib.h>

#define CHAIN 7

/* ------------------------------------------------------------------ fixtures */

static struct gov_council council; /* about 18 KiB */

/* Developers are keys dev[0..nd), community keys comm[0..nc), weights w (NULL: 1 each). */
static void council_set(const uint64_t *dev, size_t nd, const uint64_t *comm, size_t nc,
                        const uint32_t *dw, const uint32_t *cw)
{
	memset(&council, 0, sizeof(council));
	council.track[GOV_TRACK_DEV].count = (uint16_t)nd;
	for (size_t i = 0; i < nd; i++) {
		tu_pk(dev[i], council.track[GOV_TRACK_DEV].members[i].key);
		council.track[GOV_TRACK_DEV].members[i].weight = dw ? dw[i] : GOV_WEIGHT_DEFAULT;
	}
	council.track[GOV_TRACK_COMMUNITY].count = (uint16_t)nc;
	for (size_t i = 0; i < nc; i++) {
		tu_pk(comm[i], council.track[GOV_TRACK_COMMUNITY].members[i].key);
		council.track[GOV_TRACK_COMMUNITY].members[i].weight = cw ? cw[i] : GOV_WEIGHT_DEFAULT;
	}
	gov_track_members_sort(&council.track[GOV_TRACK_DEV]);
	gov_track_members_sort(&council.track[GOV_TRACK_COMMUNITY]);
	assert_int_equal(gov_council_check(&council), SN_OK);
}

/* 3 developers (keys 1..3) and 7 community members (keys 11..17), weight 1 each. */
static const uint64_t DEV3[] = { 1, 2, 3 };
static const uint64_t COMM7[] = { 11, 12, 13, 14, 15, 16, 17 };

static void council_3_7(void)
{
	council_set(DEV3, 3, COMM7, 7, NULL, NULL);
}

static struct gov_params params = { .min_fee = 1, .max_block_txs = 1000, .timelock_blocks = 10,
	                            .proposal_max_deadline_blocks = 1000, .mempool_max_txs = 1000,
	                            .mempool_max_bytes = 1 << 20 };

static const uint8_t PAUSE_PAYLOAD[] = { GOV_PAYLOAD_V1 };
static const uint8_t PROPOSER[SN_PUBKEY_LEN] = { 0x77 };

static struct gov_proposal_args args_for(uint64_t id, uint8_t kind, const uint8_t *payload, size_t len,
                                         uint64_t height, uint64_t deadline)
{
	struct gov_proposal_args a = {
		.id = id, .kind = kind, .payload = payload, .payload_len = len, .proposer = PROPOSER,
		.height = height, .deadline_height = deadline, .council = &council, .params = &params,
	};
	return a;
}

/* A PAUSE proposal created at 100 with deadline 200 over the current council. */
static struct gov_proposal *pause_proposal(uint64_t id)
{
	struct gov_proposal_args a = args_for(id, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, 100, 200);
	struct gov_proposal *p;

	assert_int_equal(gov_proposal_create(&p, &a), SN_OK);
	assert_non_null(p);
	return p;
}

static void sign_approval(uint8_t sig[SN_SIG_LEN], uint64_t key, uint32_t chain, uint64_t id,
                          const uint8_t payload_hash[SN_HASH_LEN])
{
	uint8_t sk[SN_SECKEY_LEN], pk[SN_PUBKEY_LEN], msg[SN_HASH_LEN];

	tu_key(key, sk, pk);
	gov_approval_message(msg, chain, id, payload_hash);
	assert_int_equal(sn_schnorr_sign(sig, sk, msg, sizeof(msg), NULL), SN_OK);
}

/* Member `key` approves p at height with a correct signature. */
static int approve(struct gov_proposal *p, uint64_t key, uint64_t height, bool *reached)
{
	struct gov_proposal_info info;
	uint8_t sig[SN_SIG_LEN], pk[SN_PUBKEY_LEN];

	gov_proposal_info_get(p, &info);
	sign_approval(sig, key, CHAIN, info.id, info.payload_hash);
	tu_pk(key, pk);
	return gov_proposal_approve(p, CHAIN, height, pk, sig, reached);
}

static uint8_t state_of(const struct gov_proposal *p)
{
	struct gov_proposal_info info;

	gov_proposal_info_get(p, &info);
	return info.state;
}

/* Encodes p into a fresh buffer (caller frees). */
static uint8_t *encode(const struct gov_proposal *p, size_t *len)
{
	uint8_t *buf = malloc(GOV_PROPOSAL_MAX);

	assert_non_null(buf);
	assert_int_equal(gov_proposal_encode(buf, GOV_PROPOSAL_MAX, len, p), SN_OK);
	assert_int_equal(*len, gov_proposal_encoded_len(p));
	return buf;
}

/* decode(encode(p)) encodes to the same bytes. */
static void check_round_trip(const struct gov_proposal *p)
{
	struct gov_proposal *q;
	size_t len, len2;
	uint8_t *a = encode(p, &len), *b;

	assert_int_equal(gov_proposal_decode(&q, a, len), SN_OK);
	b = encode(q, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(a, b, len);
	{
		struct gov_proposal_info x, y;

		gov_proposal_info_get(p, &x);
		gov_proposal_info_get(q, &y);
		assert_memory_equal(&x, &y, sizeof(x));
	}
	gov_proposal_free(q);
	free(a);
	free(b);
}

/* ------------------------------------------------------------------- create */

static void create_errors(void **state)
{
	struct gov_proposal *p = (void *)1;
	struct gov_proposal_args a;
	uint8_t payload[GOV_PAYLOAD_MAX];
	struct gov_payload *pl = calloc(1, sizeof(*pl));
	size_t len;

	(void)state;
	assert_non_null(pl);
	council_3_7();

	/* Deadline: after the height, at least the timelock (10) away, at most 1000 away. */
	a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, 100, 100);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	assert_null(p);
	a.deadline_height = 99;
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	a.deadline_height = 109;
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	a.deadline_height = 110;
	assert_int_equal(gov_proposal_create(&p, &a), SN_OK);
	gov_proposal_free(p);
	a.deadline_height = 1100;
	assert_int_equal(gov_proposal_create(&p, &a), SN_OK);
	gov_proposal_free(p);
	a.deadline_height = 1101;
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, UINT64_MAX - 5, UINT64_MAX);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL); /* 5 < timelock */

	/* Timelock 0: the deadline must still be after the height. */
	params.timelock_blocks = 0;
	a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, 100, 100);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	a.deadline_height = 101;
	assert_int_equal(gov_proposal_create(&p, &a), SN_OK);
	gov_proposal_free(p);
	params.timelock_blocks = 10;

	/* Arguments and state. */
	a = args_for(0, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	a.id = 1;
	a.proposer = NULL;
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	a.proposer = PROPOSER;
	council.track[GOV_TRACK_COMMUNITY].count = 0; /* an empty track is not a valid council */
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	council_3_7();
	params.timelock_blocks = 2000; /* longer than the max deadline */
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_INVAL);
	params.timelock_blocks = 10;

	/* Payloads. */
	a = args_for(1, 0, PAUSE_PAYLOAD, 1, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_TYPE);
	a = args_for(1, 9, PAUSE_PAYLOAD, 1, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_TYPE);
	a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 0, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_TRUNCATED);
	a = args_for(1, GOV_KIND_CANCEL, PAUSE_PAYLOAD, 1, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_TRUNCATED);
	memset(payload, 0, sizeof(payload));
	a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, payload, GOV_PAYLOAD_MAX + 1, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_TOOBIG);

	/* SET_PARAM out of range. */
	pl->kind = GOV_KIND_SET_PARAM;
	pl->u.param.id = GOV_PARAM_MAX_BLOCK_TXS;
	pl->u.param.value = 0;
	payload[0] = 1;
	payload[1] = GOV_PARAM_MAX_BLOCK_TXS;
	memset(payload + 2, 0, 8);
	a = args_for(1, GOV_KIND_SET_PARAM, payload, 10, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_PAYLOAD);

	/* CANCEL must target an earlier id. */
	memset(pl, 0, sizeof(*pl));
	pl->kind = GOV_KIND_CANCEL;
	pl->u.cancel.proposal_id = 5;
	assert_int_equal(gov_payload_encode(payload, sizeof(payload), &len, pl), SN_OK);
	a = args_for(5, GOV_KIND_CANCEL, payload, len, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_UNKNOWN_PROPOSAL);
	a.id = 4;
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_UNKNOWN_PROPOSAL);
	a.id = 6;
	assert_int_equal(gov_proposal_create(&p, &a), SN_OK);
	gov_proposal_free(p);

	/* CHANGE_MEMBERS: every new key must be a valid x-only key. */
	memset(pl, 0, sizeof(*pl));
	pl->kind = GOV_KIND_CHANGE_MEMBERS;
	pl->u.members.track = GOV_TRACK_DEV;
	pl->u.members.list.count = 2;
	tu_pk(40, pl->u.members.list.members[0].key);
	memset(pl->u.members.list.members[1].key, 0xff, 32); /* above the field size */
	pl->u.members.list.members[0].weight = pl->u.members.list.members[1].weight = 1;
	gov_track_members_sort(&pl->u.members.list);
	assert_int_equal(gov_payload_encode(payload, sizeof(payload), &len, pl), SN_OK);
	a = args_for(1, GOV_KIND_CHANGE_MEMBERS, payload, len, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_E_BADKEY);
	tu_pk(41, pl->u.members.list.members[1].key);
	gov_track_members_sort(&pl->u.members.list);
	assert_int_equal(gov_payload_encode(payload, sizeof(payload), &len, pl), SN_OK);
	a = args_for(1, GOV_KIND_CHANGE_MEMBERS, payload, len, 100, 200);
	assert_int_equal(gov_proposal_create(&p, &a), SN_OK);
	{
		struct gov_payload *out = calloc(1, sizeof(*out));

		assert_non_null(out);
		assert_int_equal(gov_proposal_payload_decode(p, out), SN_OK);
		assert_memory_equal(out, pl, sizeof(*pl));
		free(out);
	}
	gov_proposal_free(p);

	/* Allocation failures. */
	a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, 100, 200);
	for (unsigned long n = 1; n <= 2; n++) {
		sn_alloc_fail_after(n);
		assert_int_equal(gov_proposal_create(&p, &a), SN_E_NOMEM);
		sn_alloc_fail_after(0);
		assert_null(p);
	}
	gov_proposal_free(NULL);
	free(pl);
}

static void created_record(void **state)
{
	struct gov_proposal *p;
	struct gov_proposal_info info;
	struct gov_member m;
	uint8_t want[SN_HASH_LEN];
	const uint8_t *payload;
	size_t len;
	bool approved;

	(void)state;
	council_3_7();
	p = pause_proposal(1);
	gov_proposal_info_get(p, &info);
	assert_int_equal(info.id, 1);
	assert_int_equal(info.kind, GOV_KIND_PAUSE_TRANSFERS);
	assert_int_equal(info.state, GOV_STATE_PROPOSED);
	assert_memory_equal(info.proposer, PROPOSER, SN_PUBKEY_LEN);
	assert_int_equal(info.created_height, 100);
	assert_int_equal(info.deadline_height, 200);
	assert_int_equal(info.timelock_blocks, 10);
	assert_false(info.ever_approved);
	assert_int_equal(info.approved_height, 0);
	assert_int_equal(info.closed_height, 0);
	gov_payload_hash(want, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1);
	assert_memory_equal(info.payload_hash, want, SN_HASH_LEN);
	payload = gov_proposal_payload(p, &len);
	assert_int_equal(len, 1);
	assert_int_equal(payload[0], GOV_PAYLOAD_V1);
	assert_int_equal(gov_proposal_member_count(p, GOV_TRACK_DEV), 3);
	assert_int_equal(gov_proposal_member_count(p, GOV_TRACK_COMMUNITY), 7);
	assert_int_equal(gov_proposal_member_count(p, 2), 0);
	assert_int_equal(gov_proposal_member_get(p, GOV_TRACK_COMMUNITY, 6, &m, &approved), SN_OK);
	assert_memory_equal(&m, &council.track[GOV_TRACK_COMMUNITY].members[6], sizeof(m));
	assert_false(approved);
	assert_int_equal(gov_proposal_member_get(p, GOV_TRACK_COMMUNITY, 7, &m, &approved), SN_E_INVAL);
	assert_int_equal(gov_proposal_member_get(p, 2, 0, &m, &approved), SN_E_INVAL);
	check_round_trip(p);
	gov_proposal_free(p);
}

/* ------------------------------------------------------------------ approve */

static void approve_to_threshold(void **state)
{
	struct gov_proposal *p;
	struct gov_view v;
	bool reached = true;

	(void)state;
	council_3_7();
	p = pause_proposal(1);
	/* 2/3 developers (33.33%) + 4/7 community (28.57%) = 61.90%: not yet. */
	assert_int_equal(approve(p, 1, 100, &reached), SN_OK);
	assert_false(reached);
	assert_int_equal(approve(p, 2, 101, &reached), SN_OK);
	for (uint64_t k = 11; k <= 14; k++) {
		assert_int_equal(approve(p, k, 110, &reached), SN_OK);
		assert_false(reached);
		assert_int_equal(state_of(p), GOV_STATE_PROPOSED);
	}
	gov_proposal_view(p, 120, &v);
	assert_int_equal(v.status, GOV_STATUS_PROPOSED);
	assert_int_equal(v.tally.dev_yes, 2);
	assert_int_equal(v.tally.dev_total, 3);
	assert_int_equal(v.tally.comm_yes, 4);
	assert_int_equal(v.tally.comm_total, 7);
	assert_int_equal(v.approval_bps, 6190);
	assert_int_equal(v.dev_bps, 6666);
	assert_int_equal(v.comm_bps, 5714);
	assert_int_equal(v.dev_approvals, 2);
	assert_int_equal(v.comm_approvals, 4);
	assert_int_equal(v.deadline_left, 80);
	assert_int_equal(v.timelock_left, 0);
	assert_int_equal(v.approved_height, 0);
	assert_int_equal(v.executable_height, 0);
	assert_int_equal(gov_proposal_execute_check(p, 120), SN_E_NOT_APPROVED);
	check_round_trip(p);

	/* The 5th community member: 33.33% + 35.71% = 69.04%. */
	assert_int_equal(approve(p, 15, 150, &reached), SN_OK);
	assert_true(reached);
	assert_int_equal(state_of(p), GOV_STATE_APPROVED);
	gov_proposal_view(p, 150, &v);
	assert_int_equal(v.status, GOV_STATUS_TIMELOCKED);
	assert_int_equal(v.approval_bps, 6904);
	assert_int_equal(v.approved_height, 150);
	assert_int_equal(v.executable_height, 160);
	assert_int_equal(v.timelock_left, 10);
	assert_int_equal(v.deadline_left, 50);
	check_round_trip(p);

	/* More approvals are still accepted and shown, and do not move the approval height. */
	assert_int_equal(approve(p, 3, 155, &reached), SN_OK);
	assert_false(reached);
	gov_proposal_view(p, 155, &v);
	assert_int_equal(v.approval_bps, 8571);
	assert_int_equal(v.approved_height, 150);
	assert_int_equal(v.timelock_left, 5);
	assert_int_equal(approve(p, 3, 156, NULL), SN_E_DUP_APPROVAL);
	gov_proposal_free(p);
}

/* Each case must fail with its error and leave the record exactly as it was. */
static void approve_errors(void **state)
{
	struct gov_proposal *p;
	struct gov_proposal_info info;
	uint8_t sig[SN_SIG_LEN], pk[SN_PUBKEY_LEN], other_hash[SN_HASH_LEN], *before, *after;
	size_t blen, alen;
	bool reached = true;

	(void)state;
	council_3_7();
	p = pause_proposal(1);
	assert_int_equal(approve(p, 11, 100, NULL), SN_OK);
	gov_proposal_info_get(p, &info);
	before = encode(p, &blen);

	/* Not a member: a stranger, the proposer's role does not matter. */
	assert_int_equal(approve(p, 99, 120, &reached), SN_E_NOT_MEMBER);
	assert_false(reached);
	/* Duplicate. */
	assert_int_equal(approve(p, 11, 120, NULL), SN_E_DUP_APPROVAL);
	tu_pk(1, pk);
	/* A signature over another payload. */
	gov_payload_hash(other_hash, GOV_KIND_UNPAUSE_TRANSFERS, PAUSE_PAYLOAD, 1);
	sign_approval(sig, 1, CHAIN, 1, other_hash);
	assert_int_equal(gov_proposal_approve(p, CHAIN, 120, pk, sig, NULL), SN_E_APPROVAL_SIG);
	/* Over another proposal id. */
	sign_approval(sig, 1, CHAIN, 2, info.payload_hash);
	assert_int_equal(gov_proposal_approve(p, CHAIN, 120, pk, sig, NULL), SN_E_APPROVAL_SIG);
	/* Over another chain. */
	sign_approval(sig, 1, CHAIN + 1, 1, info.payload_hash);
	assert_int_equal(gov_proposal_approve(p, CHAIN, 120, pk, sig, NULL), SN_E_APPROVAL_SIG);
	/* ... which is valid on that chain. */
	/* By another member's key. */
	sign_approval(sig, 2, CHAIN, 1, info.payload_hash);
	assert_int_equal(gov_proposal_approve(p, CHAIN, 120, pk, sig, NULL), SN_E_APPROVAL_SIG);
	/* Garbage. */
	memset(sig, 0, sizeof(sig));
	assert_int_equal(gov_proposal_approve(p, CHAIN, 120, pk, sig, NULL), SN_E_APPROVAL_SIG);
	/* Before creation (misuse), after the deadline. */
	assert_int_equal(approve(p, 1, 99, NULL), SN_E_INVAL);
	assert_int_equal(approve(p, 1, 201, NULL), SN_E_EXPIRED);
	assert_int_equal(approve(p, 1, UINT64_MAX, NULL), SN_E_EXPIRED);

	after = encode(p, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(after);

	/* The right signature on the other chain works there. */
	sign_approval(sig, 1, CHAIN + 1, 1, info.payload_hash);
	assert_int_equal(gov_proposal_approve(p, CHAIN + 1, 120, pk, sig, NULL), SN_OK);
	/* The last block before the deadline closes is the deadline itself. */
	assert_int_equal(approve(p, 12, 200, NULL), SN_OK);
	free(before);
	gov_proposal_free(p);
}

/* Members are those recorded at creation: removal later does not take a vote away, and a
 * member added later cannot approve an older proposal. */
static void recorded_member_sets(void **state)
{
	static const uint64_t comm_after[] = { 11, 13, 14, 15, 16, 17, 20 }; /* 12 out, 20 in */
	struct gov_proposal *old, *young;
	struct gov_view v;

	(void)state;
	council_3_7();
	old = pause_proposal(1);
	council_set(DEV3, 3, comm_after, 7, NULL, NULL); /* the change takes effect */
	young = pause_proposal(2);

	assert_int_equal(approve(old, 12, 120, NULL), SN_OK); /* removed later: still counts */
	gov_proposal_view(old, 120, &v);
	assert_int_equal(v.tally.comm_yes, 1);
	assert_int_equal(v.tally.comm_total, 7);
	assert_int_equal(approve(old, 20, 120, NULL), SN_E_NOT_MEMBER); /* added later */
	assert_int_equal(approve(young, 12, 120, NULL), SN_E_NOT_MEMBER);
	assert_int_equal(approve(young, 20, 120, NULL), SN_OK);

	/* The record has its own copy: changing the caller's council changes nothing. */
	memset(&council, 0, sizeof(council));
	assert_int_equal(approve(old, 13, 121, NULL), SN_OK);
	gov_proposal_view(old, 121, &v);
	assert_int_equal(v.tally.comm_yes, 2);
	assert_int_equal(v.tally.dev_total, 3);

	/* Old proposal reaches 65% with its recorded sets, 12 included: 3/3 + 2/7 = 64.28%,
	 * then 3/3 + 3/7 = 71.42%. */
	assert_int_equal(approve(old, 1, 122, NULL), SN_OK);
	assert_int_equal(approve(old, 2, 122, NULL), SN_OK);
	assert_int_equal(approve(old, 3, 122, NULL), SN_OK);
	assert_int_equal(state_of(old), GOV_STATE_PROPOSED);
	gov_proposal_view(old, 122, &v);
	assert_int_equal(v.approval_bps, 6428);
	assert_int_equal(approve(old, 14, 123, NULL), SN_OK);
	assert_int_equal(state_of(old), GOV_STATE_APPROVED);
	check_round_trip(old);
	gov_proposal_free(old);
	gov_proposal_free(young);
}

/* A key in both tracks counts in both with one approval. */
static void member_in_both_tracks(void **state)
{
	static const uint64_t dev[] = { 1 }, comm[] = { 1, 2 };
	static const uint32_t dw[] = { 3 }, cw[] = { 1, 1 };
	struct gov_proposal *p;
	struct gov_view v;
	bool reached;

	(void)state;
	council_set(dev, 1, comm, 2, dw, cw);
	p = pause_proposal(1);
	assert_int_equal(approve(p, 1, 100, &reached), SN_OK);
	assert_true(reached); /* 3/3 + 1/2 = 75% */
	gov_proposal_view(p, 100, &v);
	assert_int_equal(v.tally.dev_yes, 3);
	assert_int_equal(v.tally.comm_yes, 1);
	assert_int_equal(v.approval_bps, 7500);
	assert_int_equal(v.dev_approvals, 1);
	assert_int_equal(v.comm_approvals, 1);
	assert_int_equal(approve(p, 1, 101, NULL), SN_E_DUP_APPROVAL);
	check_round_trip(p);
	gov_proposal_free(p);
}

/* --------------------------------------------------------- execute, expire, cancel */

/* Approves p (3/7 council) at height with all developers and 3 community members. */
static void approve_all(struct gov_proposal *p, uint64_t height)
{
	bool reached = false;

	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(approve(p, k, height, &reached), SN_OK);
	for (uint64_t k = 11; k <= 13; k++)
		assert_int_equal(approve(p, k, height, &reached), SN_OK);
	assert_true(reached);
}

static void execute_flow(void **state)
{
	struct gov_proposal *p;
	struct gov_view v;

	(void)state;
	council_3_7();
	p = pause_proposal(1);
	assert_int_equal(gov_proposal_execute_check(p, 100), SN_E_NOT_APPROVED);
	assert_int_equal(gov_proposal_mark_executed(p, 100), SN_E_NOT_APPROVED);
	assert_int_equal(gov_proposal_execute_check(p, 99), SN_E_INVAL);
	approve_all(p, 150);
	/* Timelock of 10 blocks from the approval height: executable from 160. */
	assert_int_equal(gov_proposal_execute_check(p, 150), SN_E_TIMELOCK);
	assert_int_equal(gov_proposal_execute_check(p, 159), SN_E_TIMELOCK);
	assert_int_equal(gov_proposal_mark_executed(p, 159), SN_E_TIMELOCK);
	assert_int_equal(gov_proposal_status(p, 159), GOV_STATUS_TIMELOCKED);
	assert_int_equal(gov_proposal_execute_check(p, 160), SN_OK);
	assert_int_equal(gov_proposal_status(p, 160), GOV_STATUS_EXECUTABLE);
	gov_proposal_view(p, 170, &v);
	assert_int_equal(v.status, GOV_STATUS_EXECUTABLE);
	assert_int_equal(v.timelock_left, 0);
	assert_int_equal(v.deadline_left, 30);
	assert_int_equal(gov_proposal_mark_executed(p, 170), SN_OK);
	assert_int_equal(state_of(p), GOV_STATE_EXECUTED);
	gov_proposal_view(p, 170, &v);
	assert_int_equal(v.status, GOV_STATUS_EXECUTED);
	assert_int_equal(v.closed_height, 170);
	assert_int_equal(v.deadline_left, 0);
	check_round_trip(p);
	/* Execute twice, approve after, cancel after: refused; also after the deadline. */
	assert_int_equal(gov_proposal_execute_check(p, 171), SN_E_EXECUTED);
	assert_int_equal(gov_proposal_mark_executed(p, 171), SN_E_EXECUTED);
	assert_int_equal(gov_proposal_mark_executed(p, 500), SN_E_EXECUTED);
	assert_int_equal(approve(p, 14, 171, NULL), SN_E_EXECUTED);
	assert_int_equal(gov_proposal_cancel(p, 171), SN_E_EXECUTED);
	assert_int_equal(gov_proposal_status(p, 1000), GOV_STATUS_EXECUTED);
	assert_string_equal(gov_status_name(gov_proposal_status(p, 1000)), "executed");
	assert_string_equal(gov_state_name(GOV_STATE_EXECUTED), "executed");
	gov_proposal_free(p);

	/* Timelock 0: executable in the block that approves it. */
	params.timelock_blocks = 0;
	p = pause_proposal(2);
	params.timelock_blocks = 10;
	approve_all(p, 120);
	assert_int_equal(gov_proposal_status(p, 120), GOV_STATUS_EXECUTABLE);
	assert_int_equal(gov_proposal_mark_executed(p, 120), SN_OK);
	check_round_trip(p);
	gov_proposal_free(p);
}

/* An approved proposal that is not executed by its deadline expires. */
static void expiry(void **state)
{
	struct gov_proposal *p;
	struct gov_view v;

	(void)state;
	council_3_7();
	p = pause_proposal(1);
	assert_int_equal(gov_proposal_status(p, 200), GOV_STATUS_PROPOSED);
	assert_int_equal(gov_proposal_status(p, 201), GOV_STATUS_EXPIRED);
	assert_int_equal(gov_proposal_execute_check(p, 201), SN_E_EXPIRED); /* before NOT_APPROVED */
	approve_all(p, 195);
	assert_int_equal(gov_proposal_execute_check(p, 200), SN_E_TIMELOCK); /* 195 + 10 > 200 */
	assert_int_equal(gov_proposal_execute_check(p, 205), SN_E_EXPIRED);
	gov_proposal_view(p, 201, &v);
	assert_int_equal(v.status, GOV_STATUS_EXPIRED);
	assert_int_equal(v.deadline_left, 0);
	assert_int_equal(v.timelock_left, 0);
	assert_int_equal(v.approved_height, 195);
	gov_proposal_free(p);

	p = pause_proposal(2);
	approve_all(p, 150);
	assert_int_equal(gov_proposal_execute_check(p, 200), SN_OK); /* the deadline itself */
	gov_proposal_view(p, 200, &v);
	assert_int_equal(v.deadline_left, 0);
	assert_int_equal(v.status, GOV_STATUS_EXECUTABLE);
	assert_int_equal(gov_proposal_execute_check(p, 201), SN_E_EXPIRED);
	assert_int_equal(gov_proposal_mark_executed(p, 201), SN_E_EXPIRED);
	assert_int_equal(gov_proposal_status(p, 201), GOV_STATUS_EXPIRED);
	assert_int_equal(state_of(p), GOV_STATE_APPROVED); /* expiry is derived, not stored */
	/* An expired proposal can still be cancelled (closing it for good). */
	assert_int_equal(gov_proposal_cancel(p, 300), SN_OK);
	assert_int_equal(gov_proposal_status(p, 300), GOV_STATUS_CANCELLED);
	check_round_trip(p);
	gov_proposal_free(p);
}

static void cancel_flow(void **state)
{
	struct gov_proposal *target, *canceller;
	struct gov_payload pl;
	uint8_t payload[16];
	struct gov_proposal_args a;
	size_t len;

	(void)state;
	council_3_7();
	target = pause_proposal(1);
	approve_all(target, 110); /* approved, in its timelock */

	memset(&pl, 0, sizeof(pl));
	pl.kind = GOV_KIND_CANCEL;
	pl.u.cancel.proposal_id = 1;
	assert_int_equal(gov_payload_encode(payload, sizeof(payload), &len, &pl), SN_OK);
	a = args_for(2, GOV_KIND_CANCEL, payload, len, 110, 300);
	assert_int_equal(gov_proposal_create(&canceller, &a), SN_OK);
	approve_all(canceller, 111);
	assert_int_equal(gov_proposal_execute_check(canceller, 121), SN_OK);
	/* The caller decodes the target, cancels it, then marks the CANCEL executed. */
	assert_int_equal(gov_proposal_payload_decode(canceller, &pl), SN_OK);
	assert_int_equal(pl.u.cancel.proposal_id, 1);
	assert_int_equal(gov_proposal_cancel(target, 121), SN_OK);
	assert_int_equal(gov_proposal_mark_executed(canceller, 121), SN_OK);

	assert_int_equal(state_of(target), GOV_STATE_CANCELLED);
	assert_int_equal(gov_proposal_status(target, 121), GOV_STATUS_CANCELLED);
	assert_int_equal(approve(target, 14, 122, NULL), SN_E_PROPOSAL_CANCELLED);
	assert_int_equal(gov_proposal_execute_check(target, 122), SN_E_PROPOSAL_CANCELLED);
	assert_int_equal(gov_proposal_mark_executed(target, 122), SN_E_PROPOSAL_CANCELLED);
	assert_int_equal(gov_proposal_cancel(target, 122), SN_E_PROPOSAL_CANCELLED);
	assert_int_equal(gov_proposal_cancel(target, 99), SN_E_INVAL);
	{
		struct gov_proposal_info info;

		gov_proposal_info_get(target, &info);
		assert_true(info.ever_approved);
		assert_int_equal(info.approved_height, 110);
		assert_int_equal(info.closed_height, 121);
	}
	check_round_trip(target);
	check_round_trip(canceller);
	gov_proposal_free(target);
	gov_proposal_free(canceller);

	/* Cancelling a proposal that never got approvals. */
	target = pause_proposal(3);
	assert_int_equal(gov_proposal_cancel(target, 100), SN_OK);
	check_round_trip(target);
	gov_proposal_free(target);
}

/* ------------------------------------------------------------ record encoding */

#define K32(b) b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b

/* The record of a PAUSE proposal with one member per track, worked out by hand from the
 * layout in docs/governance.md. */
static const char record_hex[] = "01"               /* version */
                                 "0100000000000000" /* id 1 */
                                 "05"               /* PAUSE_TRANSFERS */
                                 "77000000000000000000000000000000"
                                 "00000000000000000000000000000000" /* proposer */
                                 "0a00000000000000" /* created 10 */
                                 "6e00000000000000" /* deadline 110 */
                                 "0500000000000000" /* timelock 5 */
                                 "00"               /* state proposed */
                                 "0000000000000000" /* approved height */
                                 "0000000000000000" /* closed height */
                                 "0100" K32("01") "01000000" "00" /* developers */
                                 "0100" K32("02") "02000000" "00" /* community */
                                 "0100" "01";                     /* payload */

static struct gov_proposal *small_record(void)
{
	struct gov_proposal_args a;
	struct gov_proposal *p;
	struct gov_params prm = params;

	memset(&council, 0, sizeof(council));
	council.track[0].count = council.track[1].count = 1;
	memset(council.track[0].members[0].key, 0x01, 32);
	council.track[0].members[0].weight = 1;
	memset(council.track[1].members[0].key, 0x02, 32);
	council.track[1].members[0].weight = 2;
	prm.timelock_blocks = 5;
	a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, 10, 110);
	a.params = &prm;
	assert_int_equal(gov_proposal_create(&p, &a), SN_OK);
	return p;
}

static void record_kat(void **state)
{
	struct gov_proposal *p, *q;
	uint8_t *want, *got;
	size_t want_len, len;

	(void)state;
	want = tu_unhex(record_hex, &want_len);
	p = small_record();
	got = encode(p, &len);
	assert_int_equal(len, want_len);
	assert_int_equal(len, GOV_PROPOSAL_HEADER_LEN + 2 * (2 + 37) + 2 + 1);
	assert_memory_equal(got, want, len);
	assert_int_equal(gov_proposal_decode(&q, want, want_len), SN_OK);
	gov_proposal_free(q);
	free(got);
	free(want);
	gov_proposal_free(p);
}

/* Every truncation, a trailing byte and each broken invariant are refused. */
static void record_rejects(void **state)
{
	enum { O_VERSION = 0, O_ID = 1, O_KIND = 9, O_CREATED = 42, O_DEADLINE = 50, O_TIMELOCK = 58,
	       O_STATE = 66, O_APPROVED = 67, O_CLOSED = 75, O_DEV = 83,
	       O_DEV_FLAG = O_DEV + 2 + 36, O_COMM = O_DEV_FLAG + 1, O_COMM_FLAG = O_COMM + 2 + 36,
	       O_PLEN = O_COMM_FLAG + 1 };
	struct gov_proposal *p, *q = (void *)1;
	uint8_t *enc, *buf;
	size_t len;

	(void)state;
	p = small_record();
	enc = encode(p, &len);
	assert_int_equal(O_PLEN + 3, len);
	buf = malloc(GOV_PROPOSAL_MAX + 1);
	assert_non_null(buf);

	for (size_t n = 0; n < len; n++) {
		assert_int_equal(gov_proposal_decode(&q, enc, n), SN_E_TRUNCATED);
		assert_null(q);
	}
	memcpy(buf, enc, len);
	buf[len] = 0;
	assert_int_equal(gov_proposal_decode(&q, buf, len + 1), SN_E_TRAILING);
	memset(buf, 0, GOV_PROPOSAL_MAX + 1);
	assert_int_equal(gov_proposal_decode(&q, buf, GOV_PROPOSAL_MAX + 1), SN_E_TOOBIG);

#define MUTATE(off, val, err)                                              \
	do {                                                               \
		memcpy(buf, enc, len);                                     \
		buf[(off)] = (uint8_t)(val);                               \
		assert_int_equal(gov_proposal_decode(&q, buf, len), (err)); \
		assert_null(q);                                            \
	} while (0)

	MUTATE(O_VERSION, 2, SN_E_VERSION);
	MUTATE(O_VERSION, 0, SN_E_VERSION);
	MUTATE(O_ID, 0, SN_E_CORRUPT);          /* id 0 */
	MUTATE(O_KIND, 0, SN_E_TYPE);
	MUTATE(O_KIND, 9, SN_E_TYPE);
	MUTATE(O_KIND, GOV_KIND_CANCEL, SN_E_TRUNCATED); /* the payload does not fit CANCEL */
	MUTATE(O_DEADLINE, 10, SN_E_CORRUPT);   /* deadline = created */
	MUTATE(O_DEADLINE, 14, SN_E_CORRUPT);   /* closer than the timelock */
	memcpy(buf, enc, len);
	buf[O_DEADLINE] = 15; /* exactly the timelock away: fine */
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_OK);
	gov_proposal_free(q);
	MUTATE(O_TIMELOCK + 7, 1, SN_E_CORRUPT); /* timelock over its maximum */
	MUTATE(O_STATE, GOV_STATE_APPROVED, SN_E_CORRUPT); /* nobody approved */
	MUTATE(O_STATE, GOV_STATE_EXECUTED, SN_E_CORRUPT);
	MUTATE(O_STATE, 4, SN_E_CORRUPT);
	MUTATE(O_APPROVED, 20, SN_E_CORRUPT);   /* approved height without approvals */
	MUTATE(O_CLOSED, 20, SN_E_CORRUPT);     /* closed while proposed */
	MUTATE(O_DEV, 3, SN_E_TRUNCATED);       /* three developers announced, one given */
	MUTATE(O_DEV + 1, 1, SN_E_TOOBIG);      /* 257 developers */
	MUTATE(O_DEV, 0, SN_E_TOOBIG);          /* then the key's 01 01 reads as 257 members */
	MUTATE(O_DEV + 2 + 32, 0, SN_E_PAYLOAD); /* weight 0 */
	MUTATE(O_DEV_FLAG, 2, SN_E_NONCANONICAL);
	MUTATE(O_COMM_FLAG, 0xff, SN_E_NONCANONICAL);
	MUTATE(O_PLEN + 1, 0x28, SN_E_TOOBIG);  /* payload length 10241 > max... */
	MUTATE(O_PLEN + 2, 2, SN_E_VERSION);    /* the payload's own version */

	/* State APPROVED with a real approval (only developers: 50%) is still corrupt; with
	 * both approvals (100%) it is consistent. */
	memcpy(buf, enc, len);
	buf[O_STATE] = GOV_STATE_APPROVED;
	buf[O_DEV_FLAG] = 1;
	buf[O_APPROVED] = 20;
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_CORRUPT);
	buf[O_COMM_FLAG] = 1;
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_OK);
	gov_proposal_free(q);
	buf[O_APPROVED] = 9; /* before creation */
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_CORRUPT);
	buf[O_APPROVED] = 111; /* after the deadline */
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_CORRUPT);
	buf[O_APPROVED] = 20;
	buf[O_STATE] = GOV_STATE_PROPOSED; /* passing but still proposed */
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_CORRUPT);
	buf[O_STATE] = GOV_STATE_EXECUTED;
	buf[O_CLOSED] = 24; /* inside the timelock */
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_CORRUPT);
	buf[O_CLOSED] = 25;
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_OK);
	gov_proposal_free(q);
	buf[O_CLOSED] = 111; /* after the deadline */
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_CORRUPT);
	buf[O_STATE] = GOV_STATE_CANCELLED;
	buf[O_CLOSED] = 19; /* cancelled before it was approved */
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_CORRUPT);
	buf[O_CLOSED] = 20;
	assert_int_equal(gov_proposal_decode(&q, buf, len), SN_OK);
	gov_proposal_free(q);

	/* Members out of order. */
	{
		struct gov_proposal *r;
		static const uint64_t dev[] = { 1, 2 }, comm[] = { 3 };
		struct gov_proposal_args a;

		council_set(dev, 2, comm, 1, NULL, NULL);
		a = args_for(1, GOV_KIND_PAUSE_TRANSFERS, PAUSE_PAYLOAD, 1, 10, 110);
		assert_int_equal(gov_proposal_create(&r, &a), SN_OK);
		free(enc);
		enc = encode(r, &len);
		memcpy(buf, enc, len);
		/* swap the two developer entries (37 bytes each) */
		memcpy(buf + O_DEV + 2, enc + O_DEV + 2 + 37, 37);
		memcpy(buf + O_DEV + 2 + 37, enc + O_DEV + 2, 37);
		assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_NONCANONICAL);
		memcpy(buf + O_DEV + 2 + 37, enc + O_DEV + 2 + 37, 37);
		assert_int_equal(gov_proposal_decode(&q, buf, len), SN_E_PAYLOAD); /* duplicate */
		gov_proposal_free(r);
	}
	/* Allocation failure in decode. */
	sn_alloc_fail_after(1);
	assert_int_equal(gov_proposal_decode(&q, enc, len), SN_E_NOMEM);
	sn_alloc_fail_after(0);
	assert_int_equal(gov_proposal_encode(buf, gov_proposal_encoded_len(p) - 1, &len, p), SN_E_TOOBIG);
	assert_int_equal(len, 0);
	free(buf);
	free(enc);
	gov_proposal_free(p);
#undef MUTATE
}

/* A decoded record keeps working: approvals verify against the recomputed payload hash. */
static void decoded_record_lives_on(void **state)
{
	struct gov_proposal *p, *q;
	uint8_t *enc;
	size_t len;

	(void)state;
	council_3_7();
	p = pause_proposal(1);
	assert_int_equal(approve(p, 1, 100, NULL), SN_OK);
	enc = encode(p, &len);
	assert_int_equal(gov_proposal_decode(&q, enc, len), SN_OK);
	assert_int_equal(approve(q, 1, 101, NULL), SN_E_DUP_APPROVAL);
	for (uint64_t k = 2; k <= 3; k++)
		assert_int_equal(approve(q, k, 101, NULL), SN_OK);
	for (uint64_t k = 11; k <= 13; k++)
		assert_int_equal(approve(q, k, 102, NULL), SN_OK);
	assert_int_equal(state_of(q), GOV_STATE_APPROVED);
	assert_int_equal(gov_proposal_mark_executed(q, 112), SN_OK);
	check_round_trip(q);
	free(enc);
	gov_proposal_free(p);
	gov_proposal_free(q);
}

/* ------------------------------------------------------ randomized lifecycle */

/* Random councils (shared keys included), random approval orders: after every approval the
 * state must be APPROVED exactly when the summed weights pass, the approval height must be
 * the first passing one, and the record must round-trip. */
static void random_lifecycle(void **state)
{
	struct tu_rng r = { tu_seed("governance_random_lifecycle") };

	(void)state;
	for (int it = 0; it < 60; it++) {
		uint64_t dev[8], comm[8], order[16];
		uint32_t dw[8], cw[8];
		size_t nd = 1 + tu_rand_below(&r, 8), nc = 1 + tu_rand_below(&r, 8), n = 0;
		uint64_t yes_d = 0, yes_c = 0, tot_d = 0, tot_c = 0, h = 100, first = 0;
		struct gov_proposal *p;

		for (size_t i = 0; i < nd; i++) {
			dev[i] = 1000 + i;
			dw[i] = 1 + (uint32_t)tu_rand_below(&r, it % 2 ? 5 : GOV_WEIGHT_MAX);
			tot_d += dw[i];
			order[n++] = dev[i];
		}
		for (size_t i = 0; i < nc; i++) {
			/* sometimes the same person as a developer */
			comm[i] = i < nd && tu_rand_below(&r, 4) == 0 ? dev[i] : 2000 + i;
			cw[i] = 1 + (uint32_t)tu_rand_below(&r, it % 2 ? 5 : GOV_WEIGHT_MAX);
			tot_c += cw[i];
			if (comm[i] >= 2000)
				order[n++] = comm[i];
		}
		council_set(dev, nd, comm, nc, dw, cw);
		p = pause_proposal((uint64_t)it + 1);
		for (size_t i = n; i > 1; i--) { /* shuffle */
			size_t j = tu_rand_below(&r, i);
			uint64_t t = order[i - 1];

			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < n; i++) {
			struct gov_tally t;
			bool reached;

			if (tu_rand_below(&r, 3) == 0)
				continue; /* this one stays silent */
			assert_int_equal(approve(p, order[i], ++h, &reached), SN_OK);
			for (size_t k = 0; k < nd; k++)
				yes_d += dev[k] == order[i] ? dw[k] : 0;
			for (size_t k = 0; k < nc; k++)
				yes_c += comm[k] == order[i] ? cw[k] : 0;
			t = (struct gov_tally){ yes_d, tot_d, yes_c, tot_c };
			if (gov_tally_passes(&t) && !first) {
				first = h;
				assert_true(reached);
			} else {
				assert_false(reached);
			}
			assert_int_equal(state_of(p), first ? GOV_STATE_APPROVED : GOV_STATE_PROPOSED);
			{
				struct gov_view v;

				gov_proposal_view(p, h, &v);
				assert_memory_equal(&v.tally, &t, sizeof(t));
				assert_int_equal(v.approved_height, first);
			}
		}
		check_round_trip(p);
		gov_proposal_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(create_errors),
		cmocka_unit_test(created_record),
		cmocka_unit_test(approve_to_threshold),
		cmocka_unit_test(approve_errors),
		cmocka_unit_test(recorded_member_sets),
		cmocka_unit_test(member_in_both_tracks),
		cmocka_unit_test(execute_flow),
		cmocka_unit_test(expiry),
		cmocka_unit_test(cancel_flow),
		cmocka_unit_test(record_kat),
		cmocka_unit_test(record_rejects),
		cmocka_unit_test(decoded_record_lives_on),
		cmocka_unit_test(random_lifecycle),
	};

	return cmocka_run_group_tests(tests, tu_setup_crypto, NULL);
}
