/* governance/proposal.c — the proposal record, its lifecycle (create, approve, execute,
 * cancel) and its canonical encoding (docs/governance.md). Time is the block height the
 * caller passes in; the member sets are the ones recorded when the proposal was created. */
#include "governance/gov_int.h"

struct gov_proposal {
	uint64_t id;
	uint8_t kind;
	uint8_t state; /* enum gov_state */
	uint8_t proposer[SN_PUBKEY_LEN];
	uint8_t payload_hash[SN_HASH_LEN]; /* derived from kind and payload, not encoded */
	uint64_t created_height;
	uint64_t deadline_height;
	uint64_t timelock_blocks;
	uint64_t approved_height; /* 0 unless the tally passes */
	uint64_t closed_height;   /* executed or cancelled at; 0 while open */
	struct gov_council council; /* recorded at creation, never changed */
	/* approved[k][i]: member i of track k approved. A key in both tracks has the same flag
	 * in both (one approval counts in each track it belongs to). */
	bool approved[GOV_TRACKS][GOV_TRACK_MEMBERS_MAX];
	size_t payload_len;
	uint8_t payload[GOV_PAYLOAD_MAX];
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* -------------------------------------------------------------------- create */

static int deadline_check(uint64_t height, uint64_t deadline, uint64_t timelock, uint64_t max_span)
{
	uint64_t span, min_span = timelock ? timelock : 1;

	if (deadline <= height)
		return SN_E_INVAL;
	span = deadline - height;
	if (span < min_span || span > max_span)
		return SN_E_INVAL;
	return SN_OK;
}

int gov_proposal_create(struct gov_proposal **out, const struct gov_proposal_args *a)
{
	struct gov_payload *pl = NULL;
	struct gov_proposal *p;
	int err;

	*out = NULL;
	if (!a || !a->council || !a->params || !a->proposer || (!a->payload && a->payload_len) ||
	    a->id == 0)
		return SN_E_INVAL;
	if (gov_council_check(a->council) != SN_OK || gov_params_check(a->params) != SN_OK)
		return SN_E_INVAL;
	pl = sn_malloc(sizeof(*pl));
	if (!pl)
		return SN_E_NOMEM;
	if ((err = gov_payload_decode(pl, a->kind, a->payload, a->payload_len)))
		goto out;
	if (a->kind == GOV_KIND_CHANGE_MEMBERS) {
		for (size_t i = 0; i < pl->u.members.list.count; i++)
			if ((err = sn_schnorr_pubkey_check(pl->u.members.list.members[i].key)))
				goto out;
	}
	if (a->kind == GOV_KIND_CANCEL && pl->u.cancel.proposal_id >= a->id) {
		err = SN_E_UNKNOWN_PROPOSAL; /* ids grow: a target must already exist */
		goto out;
	}
	if ((err = deadline_check(a->height, a->deadline_height, a->params->timelock_blocks,
	                          a->params->proposal_max_deadline_blocks)))
		goto out;
	p = sn_calloc(1, sizeof(*p));
	if (!p) {
		err = SN_E_NOMEM;
		goto out;
	}
	p->id = a->id;
	p->kind = a->kind;
	p->state = GOV_STATE_PROPOSED;
	memcpy(p->proposer, a->proposer, SN_PUBKEY_LEN);
	p->created_height = a->height;
	p->deadline_height = a->deadline_height;
	p->timelock_blocks = a->params->timelock_blocks;
	p->council = *a->council;
	p->payload_len = a->payload_len;
	if (a->payload_len)
		memcpy(p->payload, a->payload, a->payload_len);
	gov_payload_hash(p->payload_hash, p->kind, p->payload, p->payload_len);
	*out = p;
	err = SN_OK;
out:
	sn_free(pl);
	return err;
}

void gov_proposal_free(struct gov_proposal *p)
{
	sn_free(p);
}

/* ------------------------------------------------------------------ reading */

void gov_proposal_info_get(const struct gov_proposal *p, struct gov_proposal_info *out)
{
	memset(out, 0, sizeof(*out));
	out->id = p->id;
	out->kind = p->kind;
	out->state = p->state;
	memcpy(out->proposer, p->proposer, SN_PUBKEY_LEN);
	memcpy(out->payload_hash, p->payload_hash, SN_HASH_LEN);
	out->payload_len = p->payload_len;
	out->created_height = p->created_height;
	out->deadline_height = p->deadline_height;
	out->timelock_blocks = p->timelock_blocks;
	{
		struct gov_tally t;

		gov_proposal_tally(p, &t);
		out->ever_approved = gov_tally_passes(&t);
	}
	out->approved_height = p->approved_height;
	out->closed_height = p->closed_height;
}

const uint8_t *gov_proposal_payload(const struct gov_proposal *p, size_t *len)
{
	*len = p->payload_len;
	return p->payload;
}

int gov_proposal_payload_decode(const struct gov_proposal *p, struct gov_payload *out)
{
	return gov_payload_decode(out, p->kind, p->payload, p->payload_len);
}

void gov_proposal_tally(const struct gov_proposal *p, struct gov_tally *out)
{
	uint64_t yes[GOV_TRACKS] = { 0 }, total[GOV_TRACKS] = { 0 };

	for (int k = 0; k < GOV_TRACKS; k++)
		for (size_t i = 0; i < p->council.track[k].count; i++) {
			total[k] += p->council.track[k].members[i].weight;
			if (p->approved[k][i])
				yes[k] += p->council.track[k].members[i].weight;
		}
	out->dev_yes = yes[GOV_TRACK_DEV];
	out->dev_total = total[GOV_TRACK_DEV];
	out->comm_yes = yes[GOV_TRACK_COMMUNITY];
	out->comm_total = total[GOV_TRACK_COMMUNITY];
}

static bool tally_passes(const struct gov_proposal *p)
{
	struct gov_tally t;

	gov_proposal_tally(p, &t);
	return gov_tally_passes(&t);
}

size_t gov_proposal_member_count(const struct gov_proposal *p, uint8_t track)
{
	return track < GOV_TRACKS ? p->council.track[track].count : 0;
}

int gov_proposal_member_get(const struct gov_proposal *p, uint8_t track, size_t index,
                            struct gov_member *m, bool *approved)
{
	memset(m, 0, sizeof(*m));
	*approved = false;
	if (track >= GOV_TRACKS || index >= p->council.track[track].count)
		return SN_E_INVAL;
	*m = p->council.track[track].members[index];
	*approved = p->approved[track][index];
	return SN_OK;
}

/* ---------------------------------------------------------------- lifecycle */

/* The checks shared by approve and execute: the proposal is still open at height. */
static int open_check(const struct gov_proposal *p, uint64_t height)
{
	if (height < p->created_height)
		return SN_E_INVAL;
	if (p->state == GOV_STATE_EXECUTED)
		return SN_E_EXECUTED;
	if (p->state == GOV_STATE_CANCELLED)
		return SN_E_PROPOSAL_CANCELLED;
	if (height > p->deadline_height)
		return SN_E_EXPIRED;
	return SN_OK;
}

int gov_proposal_approve(struct gov_proposal *p, uint32_t chain_id, uint64_t height,
                         const uint8_t signer[SN_PUBKEY_LEN], const uint8_t sig[SN_SIG_LEN],
                         bool *reached)
{
	uint8_t msg[SN_HASH_LEN];
	int idx[GOV_TRACKS];
	bool member = false, fresh = false;
	int err;

	if (reached)
		*reached = false;
	if ((err = open_check(p, height)))
		return err;
	for (int k = 0; k < GOV_TRACKS; k++) {
		idx[k] = gov__member_find(&p->council.track[k], signer);
		if (idx[k] >= 0) {
			member = true;
			fresh |= !p->approved[k][idx[k]];
		}
	}
	if (!member)
		return SN_E_NOT_MEMBER;
	if (!fresh)
		return SN_E_DUP_APPROVAL;
	gov_approval_message(msg, chain_id, p->id, p->payload_hash);
	if (sn_schnorr_verify(sig, msg, sizeof(msg), signer) != SN_OK)
		return SN_E_APPROVAL_SIG;
	for (int k = 0; k < GOV_TRACKS; k++)
		if (idx[k] >= 0)
			p->approved[k][idx[k]] = true;
	if (p->state == GOV_STATE_PROPOSED && tally_passes(p)) {
		p->state = GOV_STATE_APPROVED;
		p->approved_height = height;
		if (reached)
			*reached = true;
	}
	return SN_OK;
}

int gov_proposal_execute_check(const struct gov_proposal *p, uint64_t height)
{
	int err;

	if ((err = open_check(p, height)))
		return err;
	if (p->state != GOV_STATE_APPROVED)
		return SN_E_NOT_APPROVED;
	if (height < add_sat(p->approved_height, p->timelock_blocks))
		return SN_E_TIMELOCK;
	return SN_OK;
}

int gov_proposal_mark_executed(struct gov_proposal *p, uint64_t height)
{
	int err;

	if ((err = gov_proposal_execute_check(p, height)))
		return err;
	p->state = GOV_STATE_EXECUTED;
	p->closed_height = height;
	return SN_OK;
}

int gov_proposal_cancel(struct gov_proposal *p, uint64_t height)
{
	if (height < p->created_height)
		return SN_E_INVAL;
	if (p->state == GOV_STATE_EXECUTED)
		return SN_E_EXECUTED;
	if (p->state == GOV_STATE_CANCELLED)
		return SN_E_PROPOSAL_CANCELLED;
	p->state = GOV_STATE_CANCELLED;
	p->closed_height = height;
	return SN_OK;
}

enum gov_status gov_proposal_status(const struct gov_proposal *p, uint64_t height)
{
	if (p->state == GOV_STATE_EXECUTED)
		return GOV_STATUS_EXECUTED;
	if (p->state == GOV_STATE_CANCELLED)
		return GOV_STATUS_CANCELLED;
	if (height > p->deadline_height)
		return GOV_STATUS_EXPIRED;
	if (p->state == GOV_STATE_PROPOSED)
		return GOV_STATUS_PROPOSED;
	return height < add_sat(p->approved_height, p->timelock_blocks) ? GOV_STATUS_TIMELOCKED
	                                                               : GOV_STATUS_EXECUTABLE;
}

void gov_proposal_view(const struct gov_proposal *p, uint64_t height, struct gov_view *out)
{
	bool ever;

	memset(out, 0, sizeof(*out));
	out->id = p->id;
	out->kind = p->kind;
	out->state = p->state;
	out->status = (uint8_t)gov_proposal_status(p, height);
	gov_proposal_tally(p, &out->tally);
	out->approval_bps = gov_tally_bps(&out->tally);
	out->dev_bps = gov_track_bps(out->tally.dev_yes, out->tally.dev_total);
	out->comm_bps = gov_track_bps(out->tally.comm_yes, out->tally.comm_total);
	for (size_t i = 0; i < p->council.track[GOV_TRACK_DEV].count; i++)
		out->dev_approvals += p->approved[GOV_TRACK_DEV][i];
	for (size_t i = 0; i < p->council.track[GOV_TRACK_COMMUNITY].count; i++)
		out->comm_approvals += p->approved[GOV_TRACK_COMMUNITY][i];
	out->created_height = p->created_height;
	out->deadline_height = p->deadline_height;
	out->timelock_blocks = p->timelock_blocks;
	ever = gov_tally_passes(&out->tally);
	if (ever) {
		out->approved_height = p->approved_height;
		out->executable_height = add_sat(p->approved_height, p->timelock_blocks);
	}
	out->closed_height = p->closed_height;
	switch (out->status) {
	case GOV_STATUS_TIMELOCKED:
		out->timelock_left = out->executable_height - height;
		/* fall through */
	case GOV_STATUS_PROPOSED:
	case GOV_STATUS_EXECUTABLE:
		out->deadline_left = height < p->deadline_height ? p->deadline_height - height : 0;
		break;
	default:
		break;
	}
}

const char *gov_state_name(uint8_t state)
{
	switch (state) {
	case GOV_STATE_PROPOSED: return "proposed";
	case GOV_STATE_APPROVED: return "approved";
	case GOV_STATE_EXECUTED: return "executed";
	case GOV_STATE_CANCELLED: return "cancelled";
	default: return "unknown";
	}
}

const char *gov_status_name(uint8_t status)
{
	switch (status) {
	case GOV_STATUS_PROPOSED: return "proposed";
	case GOV_STATUS_TIMELOCKED: return "timelocked";
	case GOV_STATUS_EXECUTABLE: return "executable";
	case GOV_STATUS_EXECUTED: return "executed";
	case GOV_STATUS_CANCELLED: return "cancelled";
	case GOV_STATUS_EXPIRED: return "expired";
	default: return "unknown";
	}
}

/* ------------------------------------------------------------------ encoding */

size_t gov_proposal_encoded_len(const struct gov_proposal *p)
{
	size_t n = GOV_PROPOSAL_HEADER_LEN + 2 + p->payload_len;

	for (int k = 0; k < GOV_TRACKS; k++)
		n += 2 + (size_t)p->council.track[k].count * (GOV_MEMBER_LEN + 1);
	return n;
}

/* record v1:
 *   u8 version (1) | u64 id | u8 kind | [32] proposer | u64 created_height |
 *   u64 deadline_height | u64 timelock_blocks | u8 state | u64 approved_height |
 *   u64 closed_height |
 *   2 × (u16 count | count × ([32] key | u32 weight | u8 approved)), developers first |
 *   u16 payload_len | payload
 * approved_height is 0 unless the recorded approvals pass the threshold; closed_height is 0
 * unless executed or cancelled; approved is 0 or 1. The payload hash is not stored: it is
 * recomputed from kind and payload. */
int gov_proposal_encode(uint8_t *out, size_t cap, size_t *outlen, const struct gov_proposal *p)
{
	struct sn_writer w = sn_writer_init(out, cap);

	*outlen = 0;
	sn_write_u8(&w, GOV_PROPOSAL_V1);
	sn_write_le64(&w, p->id);
	sn_write_u8(&w, p->kind);
	sn_write_bytes(&w, p->proposer, SN_PUBKEY_LEN);
	sn_write_le64(&w, p->created_height);
	sn_write_le64(&w, p->deadline_height);
	sn_write_le64(&w, p->timelock_blocks);
	sn_write_u8(&w, p->state);
	sn_write_le64(&w, p->approved_height);
	sn_write_le64(&w, p->closed_height);
	for (int k = 0; k < GOV_TRACKS; k++) {
		const struct gov_track_members *t = &p->council.track[k];

		sn_write_le16(&w, t->count);
		for (size_t i = 0; i < t->count; i++) {
			sn_write_bytes(&w, t->members[i].key, SN_PUBKEY_LEN);
			sn_write_le32(&w, t->members[i].weight);
			sn_write_u8(&w, p->approved[k][i] ? 1 : 0);
		}
	}
	sn_write_le16(&w, (uint16_t)p->payload_len);
	sn_write_bytes(&w, p->payload, p->payload_len);
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*outlen = w.len;
	return SN_OK;
}

/* Reads the framing of a record into p; SN_E_TRUNCATED, SN_E_TRAILING, SN_E_TOOBIG,
 * SN_E_VERSION or SN_E_NONCANONICAL (an approved flag other than 0 or 1). */
static int record_read(struct gov_proposal *p, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	bool bad_flag = false;
	uint8_t version;
	uint16_t plen;
	int err;

	version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (version != GOV_PROPOSAL_V1)
		return SN_E_VERSION;
	p->id = sn_read_le64(&r);
	p->kind = sn_read_u8(&r);
	sn_read_bytes(&r, p->proposer, SN_PUBKEY_LEN);
	p->created_height = sn_read_le64(&r);
	p->deadline_height = sn_read_le64(&r);
	p->timelock_blocks = sn_read_le64(&r);
	p->state = sn_read_u8(&r);
	p->approved_height = sn_read_le64(&r);
	p->closed_height = sn_read_le64(&r);
	for (int k = 0; k < GOV_TRACKS; k++) {
		struct gov_track_members *t = &p->council.track[k];

		t->count = sn_read_le16(&r);
		if (sn_reader_failed(&r))
			return SN_E_TRUNCATED;
		if (t->count > GOV_TRACK_MEMBERS_MAX)
			return SN_E_TOOBIG;
		for (size_t i = 0; i < t->count; i++) {
			uint8_t flag;

			sn_read_bytes(&r, t->members[i].key, SN_PUBKEY_LEN);
			t->members[i].weight = sn_read_le32(&r);
			flag = sn_read_u8(&r);
			bad_flag |= flag > 1;
			p->approved[k][i] = flag == 1;
		}
	}
	plen = sn_read_le16(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (plen > GOV_PAYLOAD_MAX)
		return SN_E_TOOBIG;
	sn_read_bytes(&r, p->payload, plen);
	p->payload_len = plen;
	if ((err = sn_reader_finish(&r)))
		return err;
	return bad_flag ? SN_E_NONCANONICAL : SN_OK;
}

/* The record's invariants, beyond its framing: what create, approve, execute and cancel can
 * produce, and nothing else. */
static int record_check(const struct gov_proposal *p)
{
	struct gov_payload *pl;
	bool passes;
	uint64_t ah = p->approved_height, ch = p->closed_height;
	int err;

	if (p->kind < GOV_KIND_FIRST || p->kind > GOV_KIND_LAST)
		return SN_E_TYPE;
	if ((err = gov_council_check(&p->council)))
		return err;
	pl = sn_malloc(sizeof(*pl));
	if (!pl)
		return SN_E_NOMEM;
	err = gov_payload_decode(pl, p->kind, p->payload, p->payload_len);
	if (!err && p->kind == GOV_KIND_CANCEL && pl->u.cancel.proposal_id >= p->id)
		err = SN_E_CORRUPT;
	sn_free(pl);
	if (err)
		return err;
	if (p->id == 0 || p->timelock_blocks > GOV_TIMELOCK_MAX ||
	    deadline_check(p->created_height, p->deadline_height, p->timelock_blocks, UINT64_MAX))
		return SN_E_CORRUPT;
	/* A key in both tracks approved in both or in neither. */
	for (size_t i = 0; i < p->council.track[GOV_TRACK_DEV].count; i++) {
		int j = gov__member_find(&p->council.track[GOV_TRACK_COMMUNITY],
		                         p->council.track[GOV_TRACK_DEV].members[i].key);

		if (j >= 0 && p->approved[GOV_TRACK_DEV][i] != p->approved[GOV_TRACK_COMMUNITY][j])
			return SN_E_CORRUPT;
	}
	passes = tally_passes(p);
	/* Approved at ah: between creation and the deadline. */
	if (passes ? (ah < p->created_height || ah > p->deadline_height) : ah != 0)
		return SN_E_CORRUPT;
	switch (p->state) {
	case GOV_STATE_PROPOSED:
		return !passes && ch == 0 ? SN_OK : SN_E_CORRUPT;
	case GOV_STATE_APPROVED:
		return passes && ch == 0 ? SN_OK : SN_E_CORRUPT;
	case GOV_STATE_EXECUTED:
		return passes && ch >= add_sat(ah, p->timelock_blocks) && ch <= p->deadline_height
		               ? SN_OK
		               : SN_E_CORRUPT;
	case GOV_STATE_CANCELLED:
		return ch >= p->created_height && (!passes || ah <= ch) ? SN_OK : SN_E_CORRUPT;
	default:
		return SN_E_CORRUPT;
	}
}

int gov_proposal_decode(struct gov_proposal **out, const uint8_t *in, size_t len)
{
	struct gov_proposal *p;
	int err;

	*out = NULL;
	if (len > GOV_PROPOSAL_MAX)
		return SN_E_TOOBIG;
	p = sn_calloc(1, sizeof(*p));
	if (!p)
		return SN_E_NOMEM;
	if ((err = record_read(p, in, len)) || (err = record_check(p))) {
		sn_free(p);
		return err;
	}
	gov_payload_hash(p->payload_hash, p->kind, p->payload, p->payload_len);
	*out = p;
	return SN_OK;
}
