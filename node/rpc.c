/* node/rpc.c — JSON-RPC 2.0 methods (docs/rpc.md), parsed and built with jansson. */
#include "node/daemon_int.h"
#include "node/json_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A method returns its result, or NULL with *err set to an error object. */
typedef json_t *rpc_fn(struct node_daemon *d, json_t *params, json_t **err);

static json_t *rpc_err(int code, const char *msg, json_t *data)
{
	json_t *e = json_pack("{s:i,s:s}", "code", code, "message", msg);

	if (data)
		json_object_set_new(e, "data", data);
	return e;
}

static json_t *rpc_err_sn(int code, int sn)
{
	return rpc_err(code, sn_strerror(sn), json_pack("{s:s}", "error", sn_errname(sn)));
}

static json_t *bad_param(const char *name, const char *why)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "invalid params: %s %s", name, why);
	return rpc_err(NODE_RPC_INVALID_PARAMS, msg, json_pack("{s:s}", "param", name));
}

/* Positional (array) or named (object) parameter. */
static json_t *param(json_t *params, size_t pos, const char *name)
{
	if (json_is_array(params))
		return json_array_get(params, pos);
	if (json_is_object(params))
		return json_object_get(params, name);
	return NULL;
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int param_key(json_t *params, size_t pos, const char *name, uint8_t out[32], json_t **err)
{
	json_t *v = param(params, pos, name);

	if (!json_is_string(v) || sn_hex_decode(out, 32, json_string_value(v))) {
		*err = bad_param(name, "must be 64 hex characters");
		return -1;
	}
	return 0;
}

static int param_limit(json_t *params, size_t pos, const char *name, size_t def, size_t max, size_t *out,
                       json_t **err)
{
	json_t *v = param(params, pos, name);

	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (size_t)json_integer_value(v) > max) {
		char why[64];

		snprintf(why, sizeof(why), "must be a whole number from 0 to %zu", max);
		*err = bad_param(name, why);
		return -1;
	}
	*out = (size_t)json_integer_value(v);
	return 0;
}

/* ------------------------------------------------------------------ methods */

static json_t *m_status(struct node_daemon *d, json_t *params, json_t **err)
{
	struct store_tx_index_stats txs;
	struct store_info i;
	uint64_t from;
	json_t *tx_index;

	(void)params;
	(void)err;
	store_info_get(d->st, &i);
	/* {"on":bool,"unindexed_from":height or null,"in_memory":n,"generations":n}: blocks from
	 * that height on are not in the index of committed transactions (node.tx_index = 0 when
	 * they were committed); its recent ids in memory, its generations on disk */
	store_tx_index_stats(d->st, &txs);
	tx_index = json_pack("{s:b,s:o,s:I,s:I}", "on", d->cfg.tx_index != 0, "unindexed_from",
	                     store_tx_index_gap(d->st, &from) == SN_OK ? json_integer((json_int_t)from) : json_null(),
	                     "in_memory", (json_int_t)txs.in_memory, "generations", (json_int_t)txs.generations);
	/* "ok"; "disk_full" while blocks cannot be written for want of space (they resume by
	 * themselves); "failed" after a write error (the node must be restarted) */
	const char *store = store_status(d->st) ? "failed" : store_disk_full(d->st) ? "disk_full" : "ok";
	size_t mp_count, mp_bytes;

	uv_mutex_lock(&d->mp_lock);
	mp_count = node_mempool_count(d->mp);
	mp_bytes = node_mempool_bytes(d->mp);
	uv_mutex_unlock(&d->mp_lock);
	return json_pack("{s:I,s:I,s:o,s:I,s:o,s:I,s:o,s:o,s:I,s:{s:I,s:I},s:o,s:o,s:s,s:b,s:s}", "chain_id",
	                 (json_int_t)i.chain_id, "height", (json_int_t)i.height, "tip_hash",
	                 node_json_hex(i.tip_hash, SN_HASH_LEN), "tip_time_ms", (json_int_t)i.tip_time_ms, "state_root",
	                 node_json_hex(i.state_root, SN_HASH_LEN), "accounts", (json_int_t)i.accounts, "treasury",
	                 node_json_dec(i.treasury), "min_fee", node_json_dec(i.params.min_fee), "max_block_txs",
	                 (json_int_t)i.params.max_block_txs, "mempool", "count",
	                 (json_int_t)mp_count, "bytes", (json_int_t)mp_bytes,
	                 "tx_index", tx_index, "node_key", node_json_hex(d->node_pk, NODE_ED25519_PK_LEN), "version",
	                 SETTLED_VERSION, "validator", d->producer, "store", store);
}

static json_t *m_get_account(struct node_daemon *d, json_t *params, json_t **err)
{
	uint8_t key[32];
	struct store_account a;
	int rc;

	if (param_key(params, 0, "address", key, err))
		return NULL;
	if ((rc = store_account_get(d->st, key, &a))) {
		*err = rc == SN_E_NOTFOUND ? rpc_err(NODE_RPC_NOT_FOUND, "account is not registered", NULL)
		                           : rpc_err_sn(NODE_RPC_INTERNAL, rc);
		return NULL;
	}
	return json_pack("{s:o,s:I,s:o,s:I,s:o,s:o,s:I,s:I}", "address", node_json_hex(key, 32), "seq", (json_int_t)a.seq,
	                 "balance", node_json_dec(a.balance), "nonce", (json_int_t)a.nonce, "sponsor",
	                 a.seq == 0 ? json_null() : node_json_hex(a.sponsor, 32), "personal_volume",
	                 node_json_dec(a.personal_volume), "reg_height", (json_int_t)a.reg_height, "depth",
	                 (json_int_t)a.depth);
}

static json_t *m_get_team(struct node_daemon *d, json_t *params, json_t **err)
{
	uint8_t key[32], (*refs)[32];
	struct store_team t;
	size_t limit, n = 0;
	json_t *arr;
	int rc;

	if (param_key(params, 0, "address", key, err) || param_limit(params, 1, "limit", 100, 1000, &limit, err))
		return NULL;
	if ((rc = store_team_get(d->st, key, &t))) {
		*err = rc == SN_E_NOTFOUND ? rpc_err(NODE_RPC_NOT_FOUND, "account is not registered", NULL)
		                           : rpc_err_sn(NODE_RPC_INTERNAL, rc);
		return NULL;
	}
	refs = sn_malloc((limit ? limit : 1) * 32);
	if (!refs || (rc = store_referrals_list(d->st, key, NULL, refs, limit, &n))) {
		sn_free(refs);
		*err = rpc_err_sn(NODE_RPC_INTERNAL, refs ? rc : SN_E_NOMEM);
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, node_json_hex(refs[i], 32));
	sn_free(refs);
	return json_pack("{s:o,s:I,s:o,s:I,s:I,s:o}", "address", node_json_hex(key, 32), "team_size", (json_int_t)t.size,
	                 "team_volume", node_json_dec128(t.volume), "depth", (json_int_t)t.depth, "direct_referrals",
	                 (json_int_t)t.direct, "referrals", arr);
}

static json_t *m_get_block(struct node_daemon *d, json_t *params, json_t **err)
{
	json_t *which = param(params, 0, "height"), *raw = param(params, 1, "raw"), *res, *ids;
	struct store_block b;
	uint8_t *blk, hash[32];
	size_t len, pos = 0;
	uint64_t height;
	int rc;

	if (!which && json_is_object(params))
		which = json_object_get(params, "hash");
	if (json_is_integer(which) && json_integer_value(which) >= 0) {
		height = (uint64_t)json_integer_value(which);
	} else if (json_is_string(which) && sn_hex_decode(hash, 32, json_string_value(which)) == 0) {
		if ((rc = store_block_height(d->st, hash, &height))) {
			*err = rpc_err(NODE_RPC_NOT_FOUND, "no block with that hash", NULL);
			return NULL;
		}
	} else {
		*err = bad_param("height", "must be a block height (number) or a block hash (64 hex characters)");
		return NULL;
	}
	if ((rc = store_block_get(d->st, height, &blk, &len))) {
		*err = rc == SN_E_NOTFOUND ? rpc_err(NODE_RPC_NOT_FOUND, "no block at that height", NULL)
		                           : rpc_err_sn(NODE_RPC_INTERNAL, rc);
		return NULL;
	}
	if ((rc = store_block_decode(&b, blk, len))) {
		sn_free(blk);
		*err = rpc_err_sn(NODE_RPC_INTERNAL, SN_E_CORRUPT);
		return NULL;
	}
	store_block_hash(hash, &b.hdr);
	ids = json_array();
	for (;;) {
		const uint8_t *tx;
		size_t tlen;
		uint8_t id[32];

		if (!store_block_next_tx(&b, &pos, &tx, &tlen))
			break;
		store_tx_id(id, tx, tlen);
		json_array_append_new(ids, node_json_hex(id, 32));
	}
	res = json_pack("{s:I,s:o,s:o,s:I,s:o,s:o,s:o,s:I,s:o}", "height", (json_int_t)b.hdr.height, "hash",
	                node_json_hex(hash, 32), "prev_hash", node_json_hex(b.hdr.prev_hash, 32), "time_ms",
	                (json_int_t)b.hdr.time_ms, "proposer",
	                is_zero(b.hdr.proposer, 32) ? json_null() : node_json_hex(b.hdr.proposer, 32), "tx_root",
	                node_json_hex(b.hdr.tx_root, 32), "state_root", node_json_hex(b.hdr.state_root, 32), "tx_count",
	                (json_int_t)b.hdr.tx_count, "txs", ids);
	if (json_is_true(raw)) {
		char *h = sn_malloc(2 * len + 1);

		if (h) {
			sn_hex_encode(h, blk, len);
			json_object_set_new(res, "raw", json_string(h));
			sn_free(h);
		}
	}
	sn_free(blk);
	return res;
}

static const char *tx_type_name(uint8_t type)
{
	switch (type) {
	case STORE_TX_REGISTER: return "register";
	case STORE_TX_TRANSFER: return "transfer";
	case STORE_TX_GOV_PROPOSE: return "gov_propose";
	case STORE_TX_GOV_APPROVE: return "gov_approve";
	case STORE_TX_GOV_EXECUTE: return "gov_execute";
	default: return "unknown";
	}
}

static json_t *tx_json(const uint8_t id[32], const uint8_t *raw, size_t len, const char *status)
{
	struct store_tx tx;
	char *h;
	json_t *res;

	if (store_tx_decode(&tx, raw, len) || !(h = sn_malloc(2 * len + 1)))
		return NULL;
	sn_hex_encode(h, raw, len);
	if (tx.type >= STORE_TX_GOV_PROPOSE) /* governance: the payload instead of to and amount */
		res = json_pack("{s:o,s:s,s:s,s:o,s:I,s:o,s:o,s:s}", "id", node_json_hex(id, 32), "status", status, "type",
		                tx_type_name(tx.type), "signer", node_json_hex(tx.signer, 32), "nonce", (json_int_t)tx.nonce,
		                "fee", node_json_dec(tx.fee), "payload", node_json_hex(tx.payload, tx.payload_len), "raw", h);
	else
		res = json_pack("{s:o,s:s,s:s,s:o,s:I,s:o,s:o,s:o,s:s}", "id", node_json_hex(id, 32), "status", status,
		                "type", tx_type_name(tx.type), "signer", node_json_hex(tx.signer, 32), "nonce",
		                (json_int_t)tx.nonce, "fee", node_json_dec(tx.fee), "to", node_json_hex(tx.to, 32), "amount",
		                node_json_dec(tx.amount), "raw", h);
	sn_free(h);
	return res;
}

static json_t *m_get_tx(struct node_daemon *d, json_t *params, json_t **err)
{
	uint8_t id[32], *blk = NULL;
	const struct node_mempool_entry *e;
	struct store_block b;
	uint64_t height;
	uint32_t index;
	size_t len, pos = 0;
	json_t *res = NULL;

	if (param_key(params, 0, "id", id, err))
		return NULL;
	uv_mutex_lock(&d->mp_lock);
	if ((e = node_mempool_find(d->mp, id)))
		res = tx_json(id, e->raw, e->len, "pending");
	uv_mutex_unlock(&d->mp_lock);
	if (res)
		return res;
	if (store_tx_locate(d->st, id, &height, &index) || store_block_get(d->st, height, &blk, &len) ||
	    store_block_decode(&b, blk, len)) {
		char msg[200];
		uint64_t from;
		bool gap = store_tx_index_gap(d->st, &from) == SN_OK;

		sn_free(blk);
		if (gap && from == 0)
			snprintf(msg, sizeof(msg), "no such transaction pending (this node does not index committed "
			                           "transactions: node.tx_index = 0)");
		else if (gap)
			snprintf(msg, sizeof(msg),
			         "no such transaction pending, nor committed up to block %llu (this node does not index "
			         "committed transactions from block %llu on: node.tx_index = 0)",
			         (unsigned long long)(from - 1), (unsigned long long)from);
		else
			snprintf(msg, sizeof(msg), "no such transaction (neither committed nor pending)");
		*err = rpc_err(NODE_RPC_NOT_FOUND, msg, NULL);
		return NULL;
	}
	for (uint32_t i = 0;; i++) {
		const uint8_t *tx;
		size_t tlen;

		if (!store_block_next_tx(&b, &pos, &tx, &tlen))
			break;
		if (i == index) {
			res = tx_json(id, tx, tlen, "committed");
			break;
		}
	}
	sn_free(blk);
	if (!res) {
		*err = rpc_err_sn(NODE_RPC_INTERNAL, SN_E_CORRUPT);
		return NULL;
	}
	json_object_set_new(res, "height", json_integer((json_int_t)height));
	json_object_set_new(res, "index", json_integer((json_int_t)index));
	return res;
}

static json_t *m_list_mempool(struct node_daemon *d, json_t *params, json_t **err)
{
	size_t limit, n, bytes;
	uint64_t now = sn_time_mono_ns();
	json_t *arr;

	if (param_limit(params, 0, "limit", 100, 10000, &limit, err))
		return NULL;
	arr = json_array();
	uv_mutex_lock(&d->mp_lock);
	n = node_mempool_count(d->mp);
	bytes = node_mempool_bytes(d->mp);
	for (size_t i = 0; i < n && i < limit; i++) {
		const struct node_mempool_entry *e = node_mempool_at(d->mp, i);

		json_array_append_new(arr, json_pack("{s:o,s:o,s:I,s:s,s:I,s:I}", "id", node_json_hex(e->id, 32), "signer",
		                                     node_json_hex(e->tx.signer, 32), "nonce", (json_int_t)e->tx.nonce,
		                                     "type", tx_type_name(e->tx.type), "age_ms",
		                                     (json_int_t)((now - e->admitted_ns) / 1000000u), "admitted_mono_us",
		                                     (json_int_t)(e->admitted_ns / 1000u)));
	}
	uv_mutex_unlock(&d->mp_lock);
	return json_pack("{s:I,s:I,s:o}", "count", (json_int_t)n, "bytes", (json_int_t)bytes, "txs", arr);
}

/* The peer network: our peers, recent drops with their reasons, bans (node/p2p.c). */
static json_t *m_net_info(struct node_daemon *d, json_t *params, json_t **err)
{
	(void)params;
	(void)err;
	return node_p2p_info(d);
}

/* Decodes submit_tx's parameter into raw bytes. */
static int submit_param(json_t *params, uint8_t *raw, size_t *len, json_t **err)
{
	json_t *v = param(params, 0, "tx");
	int rc;

	if (!json_is_string(v)) {
		*err = bad_param("tx", "must be the transaction's encoding in hex");
		return -1;
	}
	rc = sn_hex_decode_var(raw, STORE_TX_MAX, len, json_string_value(v));
	if (rc) {
		*err = rc == SN_E_TOOBIG ? rpc_err_sn(NODE_RPC_REJECTED, SN_E_TOOBIG)
		                         : bad_param("tx", "must be the transaction's encoding in hex");
		return -1;
	}
	return 0;
}

static json_t *submit_result(const uint8_t id[32])
{
	return json_pack("{s:o,s:s}", "id", node_json_hex(id, 32), "status", "pending");
}

/* In a batch: checked inline on the loop thread. */
static json_t *m_submit_tx(struct node_daemon *d, json_t *params, json_t **err)
{
	uint8_t raw[STORE_TX_MAX], id[32];
	struct store_tx tx;
	size_t len;
	int rc;

	if (submit_param(params, raw, &len, err))
		return NULL;
	if ((rc = node_tx_check(raw, len, d->gen.chain_id, &tx, id)) ||
	    (rc = node_daemon_admit(d, raw, len, &tx, id))) {
		*err = rpc_err_sn(NODE_RPC_REJECTED, rc);
		return NULL;
	}
	return submit_result(id);
}

/* ------------------------------------------------------------------ governance */

/* gov_propose, gov_approve, gov_execute: submit_tx for a transaction of that type only. */
static json_t *submit_typed(struct node_daemon *d, json_t *params, json_t **err, uint8_t type)
{
	uint8_t *raw = sn_malloc(STORE_TX_MAX), id[32];
	struct store_tx tx;
	size_t len;
	int rc;

	if (!raw) {
		*err = rpc_err_sn(NODE_RPC_INTERNAL, SN_E_NOMEM);
		return NULL;
	}
	if (submit_param(params, raw, &len, err)) {
		sn_free(raw);
		return NULL;
	}
	if ((rc = node_tx_check(raw, len, d->gen.chain_id, &tx, id)) ||
	    (tx.type != type && (rc = SN_E_TYPE)) || (rc = node_daemon_admit(d, raw, len, &tx, id))) {
		sn_free(raw);
		*err = rpc_err_sn(NODE_RPC_REJECTED, rc);
		return NULL;
	}
	sn_free(raw);
	return submit_result(id);
}

static json_t *m_gov_propose(struct node_daemon *d, json_t *params, json_t **err)
{
	return submit_typed(d, params, err, STORE_TX_GOV_PROPOSE);
}

static json_t *m_gov_approve(struct node_daemon *d, json_t *params, json_t **err)
{
	return submit_typed(d, params, err, STORE_TX_GOV_APPROVE);
}

static json_t *m_gov_execute(struct node_daemon *d, json_t *params, json_t **err)
{
	return submit_typed(d, params, err, STORE_TX_GOV_EXECUTE);
}

static json_t *track_json(const struct gov_proposal *p, uint8_t track, uint64_t yes, uint64_t total, uint32_t bps,
                          uint32_t approvals)
{
	json_t *members = json_array();
	size_t n = gov_proposal_member_count(p, track);

	for (size_t i = 0; i < n; i++) {
		struct gov_member m;
		bool approved;

		if (gov_proposal_member_get(p, track, i, &m, &approved) == SN_OK)
			json_array_append_new(members, json_pack("{s:o,s:I,s:b}", "address", node_json_hex(m.key, 32), "weight",
			                                         (json_int_t)m.weight, "approved", approved));
	}
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:o}", "yes_weight", (json_int_t)yes, "total_weight", (json_int_t)total,
	                 "bps", (json_int_t)bps, "half_bps", (json_int_t)(bps / 2), "approvals", (json_int_t)approvals,
	                 "members", members);
}

/* Everything about a proposal, as of the next block (tip + 1: where a transaction sent now
 * would land). With members false, the member lists are left out (gov_list). */
static json_t *proposal_json(const struct gov_proposal *p, uint64_t at, bool members)
{
	struct gov_proposal_info info;
	struct gov_payload *pl = sn_malloc(sizeof(*pl));
	struct gov_view v;
	const uint8_t *bytes;
	size_t len;
	json_t *r;

	gov_proposal_info_get(p, &info);
	gov_proposal_view(p, at, &v);
	bytes = gov_proposal_payload(p, &len);
	r = json_pack("{s:I,s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "id", (json_int_t)v.id,
	              "kind", gov_kind_name(v.kind), "state", gov_state_name(v.state), "status", gov_status_name(v.status),
	              "proposer", node_json_hex(info.proposer, 32), "approval_bps", (json_int_t)v.approval_bps,
	              "threshold_bps", (json_int_t)GOV_THRESHOLD_BPS, "created_height", (json_int_t)v.created_height,
	              "deadline_height", (json_int_t)v.deadline_height, "timelock_blocks", (json_int_t)v.timelock_blocks,
	              "approved_height", (json_int_t)v.approved_height, "executable_height",
	              (json_int_t)v.executable_height, "closed_height", (json_int_t)v.closed_height, "timelock_left",
	              (json_int_t)v.timelock_left, "deadline_left", (json_int_t)v.deadline_left, "payload_hash",
	              node_json_hex(info.payload_hash, 32), "payload", node_json_hex(bytes, len));
	if (!r) {
		sn_free(pl);
		return NULL;
	}
	json_object_set_new(r, "as_of_height", json_integer((json_int_t)at));
	if (members) {
		json_object_set_new(r, "developers", track_json(p, GOV_TRACK_DEV, v.tally.dev_yes, v.tally.dev_total,
		                                                v.dev_bps, v.dev_approvals));
		json_object_set_new(r, "community", track_json(p, GOV_TRACK_COMMUNITY, v.tally.comm_yes,
		                                               v.tally.comm_total, v.comm_bps, v.comm_approvals));
	} else {
		json_object_set_new(r, "developers_bps", json_integer(v.dev_bps));
		json_object_set_new(r, "community_bps", json_integer(v.comm_bps));
	}
	/* The decoded payload's main fields, for people. */
	if (pl && gov_proposal_payload_decode(p, pl) == SN_OK) {
		json_t *d = NULL;

		switch (pl->kind) {
		case GOV_KIND_SET_PARAM:
			d = json_pack("{s:s,s:o}", "param", gov_param_name(pl->u.param.id), "value",
			              node_json_dec(pl->u.param.value));
			break;
		case GOV_KIND_TREASURY_SPEND:
			d = json_pack("{s:o,s:o}", "recipient", node_json_hex(pl->u.spend.recipient, 32), "amount",
			              node_json_dec(pl->u.spend.amount));
			break;
		case GOV_KIND_SIGNAL_UPGRADE:
			d = json_pack("{s:s,s:I}", "name", pl->u.upgrade.name, "activation_height",
			              (json_int_t)pl->u.upgrade.activation_height);
			break;
		case GOV_KIND_CANCEL:
			d = json_pack("{s:I}", "proposal_id", (json_int_t)pl->u.cancel.proposal_id);
			break;
		case GOV_KIND_CHANGE_MEMBERS: {
			json_t *a = json_array();

			for (size_t i = 0; i < pl->u.members.list.count; i++)
				json_array_append_new(a, json_pack("{s:o,s:I}", "address",
				                                   node_json_hex(pl->u.members.list.members[i].key, 32),
				                                   "weight", (json_int_t)pl->u.members.list.members[i].weight));
			d = json_pack("{s:s,s:o}", "track", gov_track_name(pl->u.members.track), "members", a);
			break;
		}
		case GOV_KIND_CHANGE_VALIDATORS: {
			json_t *a = json_array();

			for (size_t i = 0; i < pl->u.validators.count; i++)
				json_array_append_new(a, json_pack("{s:o,s:I}", "node_key",
				                                   node_json_hex(pl->u.validators.v[i].key, 32), "power",
				                                   (json_int_t)pl->u.validators.v[i].power));
			d = json_pack("{s:o}", "validators", a);
			break;
		}
		default:
			break;
		}
		if (d)
			json_object_set_new(r, "details", d);
	}
	sn_free(pl);
	return r;
}

static int param_u64(json_t *params, size_t pos, const char *name, uint64_t *out, json_t **err)
{
	json_t *v = param(params, pos, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*err = bad_param(name, "must be a whole number");
		return -1;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static json_t *m_gov_get(struct node_daemon *d, json_t *params, json_t **err)
{
	struct gov_proposal *p;
	struct store_info info;
	uint64_t id;
	json_t *r;
	int rc;

	if (param_u64(params, 0, "id", &id, err))
		return NULL;
	if ((rc = node_gov_proposal_get(d->st, id, &p))) {
		*err = rc == SN_E_UNKNOWN_PROPOSAL ? rpc_err(NODE_RPC_NOT_FOUND, "no such proposal", NULL)
		                                   : rpc_err_sn(NODE_RPC_INTERNAL, rc);
		return NULL;
	}
	store_info_get(d->st, &info);
	r = proposal_json(p, info.height + 1, true);
	gov_proposal_free(p);
	return r;
}

struct list_ctx {
	json_t *arr;
	int status; /* -1: all */
	uint64_t at;
	size_t limit;
	int err;
};

static int list_one(void *ud, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct list_ctx *c = ud;
	struct gov_proposal *p;
	json_t *j;

	(void)key;
	(void)klen;
	if ((c->err = gov_proposal_decode(&p, val, vlen)))
		return 1;
	if (c->status < 0 || gov_proposal_status(p, c->at) == (enum gov_status)c->status) {
		if ((j = proposal_json(p, c->at, false)))
			json_array_append_new(c->arr, j);
	}
	gov_proposal_free(p);
	return json_array_size(c->arr) >= c->limit;
}

static json_t *m_gov_list(struct node_daemon *d, json_t *params, json_t **err)
{
	json_t *s = param(params, 0, "status");
	struct list_ctx c = { .status = -1 };
	struct store_info info;
	bool paused;
	uint64_t next;
	int rc = SN_OK;

	if (s && !json_is_null(s)) {
		for (int i = GOV_STATUS_PROPOSED; i <= GOV_STATUS_EXPIRED; i++)
			if (json_is_string(s) && strcmp(json_string_value(s), gov_status_name((uint8_t)i)) == 0)
				c.status = i;
		if (c.status < 0) {
			*err = bad_param("status", "must be proposed, timelocked, executable, executed, cancelled or expired");
			return NULL;
		}
	}
	if (param_limit(params, 1, "limit", 100, 1000, &c.limit, err))
		return NULL;
	store_info_get(d->st, &info);
	c.at = info.height + 1;
	c.arr = json_array();
	if (c.limit && (rc = node_gov_proposal_foreach(d->st, list_one, &c)) < 0)
		c.err = rc;
	if (c.err || (rc = node_gov_state_get(d->st, &paused, &next))) {
		json_decref(c.arr);
		*err = rpc_err_sn(NODE_RPC_INTERNAL, c.err ? c.err : rc);
		return NULL;
	}
	return json_pack("{s:o,s:I,s:b,s:I}", "proposals", c.arr, "next_id", (json_int_t)next, "transfers_paused", paused,
	                 "as_of_height", (json_int_t)c.at);
}

static const struct {
	const char *name;
	rpc_fn *fn;
} methods[] = {
	{ "gov_propose", m_gov_propose }, { "gov_approve", m_gov_approve }, { "gov_execute", m_gov_execute },
	{ "gov_get", m_gov_get },         { "gov_list", m_gov_list },
	{ "status", m_status },         { "submit_tx", m_submit_tx },       { "get_account", m_get_account },
	{ "get_team", m_get_team },     { "get_block", m_get_block },       { "get_tx", m_get_tx },
	{ "list_mempool", m_list_mempool },
	{ "net_info", m_net_info },
};

/* ------------------------------------------------------------------ envelope */

static json_t *envelope(json_t *id, json_t *result, json_t *error)
{
	json_t *r = json_pack("{s:s,s:O?}", "jsonrpc", "2.0", "id", id);

	if (!id)
		json_object_set_new(r, "id", json_null());
	if (error)
		json_object_set_new(r, "error", error);
	else
		json_object_set_new(r, "result", result ? result : json_null());
	return r;
}

/* Whether req is a JSON-RPC 2.0 request object (its method's name is not checked). */
static bool request_valid(json_t *req)
{
	json_t *v = json_object_get(req, "jsonrpc"), *m = json_object_get(req, "method"),
	       *p = json_object_get(req, "params"), *id = json_object_get(req, "id");

	return json_is_object(req) && json_is_string(v) && strcmp(json_string_value(v), "2.0") == 0 &&
	       json_is_string(m) && (!p || json_is_array(p) || json_is_object(p)) &&
	       (!id || json_is_string(id) || json_is_integer(id) || json_is_null(id));
}

/* Validates a request object; NULL and *err when it is not one. */
static rpc_fn *request_method(json_t *req, json_t **err)
{
	json_t *m = json_object_get(req, "method");

	if (!request_valid(req)) {
		*err = rpc_err(NODE_RPC_INVALID_REQUEST, "invalid request: expected a JSON-RPC 2.0 request object", NULL);
		return NULL;
	}
	for (size_t i = 0; i < SN_ARRAY_LEN(methods); i++)
		if (strcmp(methods[i].name, json_string_value(m)) == 0)
			return methods[i].fn;
	*err = rpc_err(NODE_RPC_NO_METHOD, "method not found", json_pack("{s:s}", "method", json_string_value(m)));
	return NULL;
}

static json_t *handle_one(struct node_daemon *d, json_t *req)
{
	json_t *err = NULL, *res = NULL, *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
	rpc_fn *fn = request_method(req, &err);

	if (fn && !d->ready)
		err = rpc_err(NODE_RPC_NOT_READY, "node is starting", json_pack("{s:s}", "error", "starting"));
	else if (fn && fn != m_status && store_status(d->st)) /* status says "store": "failed" */
		err = rpc_err_sn(NODE_RPC_NOT_READY, store_status(d->st));
	else if (fn && !(res = fn(d, json_object_get(req, "params"), &err)) && !err)
		err = rpc_err_sn(NODE_RPC_INTERNAL, SN_E_NOMEM);
	return envelope(id, res, err);
}

static void reply_json(struct http_req *req, json_t *resp)
{
	char *text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;

	if (text) {
		http_reply_any(req, 200, "application/json", text, strlen(text));
		free(text);
	} else {
		static const char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"out of memory\"}}";

		http_reply_any(req, 500, "application/json", oom, sizeof(oom) - 1);
	}
	json_decref(resp);
}

/* ------------------------------------------------------------------ async submit */

static void submit_job_free(struct submit_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		if (j->e != &j->one) /* one request: its bytes live in the job */
			sn_free(j->e[i].raw);
		json_decref(j->e[i].id);
		json_decref(j->e[i].error);
	}
	if (j->e != &j->one)
		sn_free(j->e);
	sn_free(j);
}

/* A reply body being built (the replies of a submit job, in order). */
struct reply_text {
	char *p;
	size_t len, cap;
	bool oom;
};

static char *reply_room(struct reply_text *t, size_t n)
{
	if (t->oom)
		return NULL;
	if (t->len + n > t->cap) {
		size_t ncap = t->cap ? t->cap : 256;
		char *np;

		while (ncap < t->len + n)
			ncap *= 2;
		if (!(np = sn_realloc(t->p, ncap))) {
			t->oom = true;
			return NULL;
		}
		t->p = np;
		t->cap = ncap;
	}
	return t->p + t->len;
}

static void reply_put(struct reply_text *t, const char *s, size_t n)
{
	char *at = reply_room(t, n);

	if (at) {
		memcpy(at, s, n);
		t->len += n;
	}
}

/* v as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes it. */
static void reply_put_json(struct reply_text *t, const json_t *v)
{
	size_t room = t->cap - t->len, n;

	if (!v) {
		t->oom = true;
		return;
	}
	n = json_dumpb(v, t->p ? t->p + t->len : NULL, t->p ? room : 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!n) {
		t->oom = true;
		return;
	}
	if (n > room) {
		if (!reply_room(t, n) || json_dumpb(v, t->p + t->len, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
			t->oom = true;
			return;
		}
	}
	t->len += n;
}

/* An accepted submit_tx's reply, byte for byte what json_dumps(envelope(id, submit_result(txid)),
 * JSON_COMPACT) gives, without building it: {"jsonrpc":"2.0","id":<id>,"result":{"id":"<hex>",
 * "status":"pending"}} (this is every reply of a busy node: worth the shortcut). */
static void reply_put_accepted(struct reply_text *t, const json_t *id, const uint8_t txid[SN_HASH_LEN])
{
	static const char a[] = "{\"jsonrpc\":\"2.0\",\"id\":", b[] = ",\"result\":{\"id\":\"",
	                  c[] = "\",\"status\":\"pending\"}}";
	char *at;

	reply_put(t, a, sizeof(a) - 1);
	if (id)
		reply_put_json(t, id);
	else
		reply_put(t, "null", 4);
	reply_put(t, b, sizeof(b) - 1);
	if ((at = reply_room(t, 2 * SN_HASH_LEN + 1))) {
		sn_hex_encode(at, txid, SN_HASH_LEN);
		t->len += 2 * SN_HASH_LEN;
	}
	reply_put(t, c, sizeof(c) - 1);
}

void node_rpc_submit_finish(struct submit_job *j)
{
	struct node_daemon *d = j->d;
	struct reply_text t = { 0 };
	size_t shown = 0;

	if (j->batch)
		reply_put(&t, "[", 1);
	for (size_t i = 0; i < j->n; i++) {
		struct submit_entry *e = &j->e[i];
		int rc = e->err;

		if (!e->error && !rc && e->want_type && e->tx.type != e->want_type)
			rc = SN_E_TYPE;
		if (!e->error && !rc)
			rc = d->stopping        ? SN_E_BUSY
			     : j->on_rpc_thread ? node_daemon_admit_rpc(d, e->raw, e->len, &e->tx, e->txid)
			                        : node_daemon_admit(d, e->raw, e->len, &e->tx, e->txid);
		if (!e->id)
			continue; /* a notification: admitted, not answered */
		if (shown++)
			reply_put(&t, ",", 1);
		if (e->error || rc) {
			json_t *one = envelope(e->id, NULL, e->error ? json_incref(e->error) : rpc_err_sn(NODE_RPC_REJECTED, rc));

			reply_put_json(&t, one);
			json_decref(one);
		} else {
			reply_put_accepted(&t, e->id, e->txid);
		}
	}
	if (j->batch)
		reply_put(&t, "]", 1);
	if (t.oom) {
		static const char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"out of memory\"}}";

		http_reply_any(j->req, 500, "application/json", oom, sizeof(oom) - 1);
	} else if (!shown) {
		http_reply_any(j->req, 204, "application/json", "", 0);
	} else {
		http_reply_any(j->req, 200, "application/json", t.p, t.len);
	}
	sn_free(t.p);
	submit_job_free(j);
}

/* The methods that submit a transaction, and the type each requires (0: any). */
static const struct {
	const char *method;
	uint8_t type;
} submit_methods[] = {
	{ "submit_tx", 0 },
	{ "gov_propose", STORE_TX_GOV_PROPOSE },
	{ "gov_approve", STORE_TX_GOV_APPROVE },
	{ "gov_execute", STORE_TX_GOV_EXECUTE },
};

/* Whether r submits a transaction; *type: the type it requires (0: any). */
static bool is_submit(json_t *r, uint8_t *type)
{
	json_t *m = json_is_object(r) ? json_object_get(r, "method") : NULL;

	if (!json_is_string(m))
		return false;
	for (size_t i = 0; i < SN_ARRAY_LEN(submit_methods); i++)
		if (strcmp(json_string_value(m), submit_methods[i].method) == 0) {
			*type = submit_methods[i].type;
			return true;
		}
	return false;
}

static bool submit_queue(struct node_daemon *d, struct submit_job *j);

/* A submit_tx (or gov_propose/approve/execute), or a batch made only of those, as a job: its
 * signatures are checked (on the engine's helper threads, see "signature checks" below, or on
 * the RPC thread that read it), then its replies go out together once every entry is admitted
 * (or refused) in order. NULL: not for this path (the synchronous one answers, and says what
 * is wrong with a request that is not valid). */
static struct submit_job *submit_job_new(struct node_daemon *d, struct http_req *hreq, json_t *req)
{
	bool batch = json_is_array(req);
	size_t n = batch ? json_array_size(req) : 1;
	struct submit_job *j;

	if (!d->ready || store_status(d->st) || d->stopping)
		return NULL; /* the synchronous path says why */
	for (size_t i = 0; i < n; i++) {
		json_t *r = batch ? json_array_get(req, i) : req;
		uint8_t type;

		if (!is_submit(r, &type) || !request_valid(r))
			return NULL;
	}
	if (!batch) {
		/* One request, the common case: the job, its entry and the bytes in one allocation. */
		uint8_t buf[STORE_TX_MAX];
		json_t *err = NULL;
		size_t len;

		if (!json_object_get(req, "id") || submit_param(json_object_get(req, "params"), buf, &len, &err)) {
			json_decref(err);
			return NULL; /* the synchronous path answers (and says what is wrong) */
		}
		if (!(j = sn_malloc(sizeof(*j) + len)))
			return NULL;
		memset(j, 0, sizeof(*j));
		j->e = &j->one;
		j->one.raw = j->one_raw;
		j->one.len = len;
		memcpy(j->one_raw, buf, len);
		j->one.id = json_incref(json_object_get(req, "id"));
		(void)is_submit(req, &j->one.want_type);
		j->n = 1;
		j->d = d;
		j->req = hreq;
		return j;
	}
	j = sn_calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->e = sn_calloc(n, sizeof(*j->e));
	if (!j->e) {
		sn_free(j);
		return NULL;
	}
	j->n = n;
	j->d = d;
	j->req = hreq;
	j->batch = batch;
	for (size_t i = 0; i < n; i++) {
		json_t *r = batch ? json_array_get(req, i) : req, *err = NULL;
		uint8_t buf[STORE_TX_MAX];

		j->e[i].id = json_incref(json_object_get(r, "id"));
		(void)is_submit(r, &j->e[i].want_type);
		if (submit_param(json_object_get(r, "params"), buf, &j->e[i].len, &err)) {
			j->e[i].error = err;
			continue;
		}
		if (!(j->e[i].raw = sn_malloc(j->e[i].len ? j->e[i].len : 1))) {
			submit_job_free(j);
			return NULL;
		}
		memcpy(j->e[i].raw, buf, j->e[i].len);
	}
	return j;
}

/* On the loop thread: the signature checks go to the helpers (below). */
static bool submit_async(struct node_daemon *d, struct http_req *hreq, json_t *req)
{
	struct submit_job *j = submit_job_new(d, hreq, req);

	return j && submit_queue(d, j);
}

/* ------------------------------------------------------------------ signature checks
 * A submit job's checks are queued; once the loop turn's I/O is done (the uv_check callback)
 * the jobs queued meanwhile, from every connection, go to the engine's helper threads
 * (node_engine_check_async; one per core by default) together as one round. The helpers take
 * a round's checks a few at a time, the oldest round's first, so no core waits while another
 * has a long share left. A round's last check wakes the loop (d->checks_done). Jobs are
 * finished (admitted, answered) in the order they were queued, across rounds too: a round
 * whose checks end first waits for the older ones, so a signer's nonce n+1 sent after nonce
 * n (pipelined on one connection, or on another) is never admitted before it.
 *
 * Handing a job over as soon as it is parsed, while a helper might be idle, made rounds of
 * one: with 8 pipelined requests per read, the first went alone and the other 7 a turn
 * later, and the node spent more time handing over and waking (measured: pipelined
 * node.commit +8 to +12% with whole-turn rounds, the machine idle 13-14% instead of 17-18%). */

struct verify_round {
	struct node_daemon *d;
	struct verify_round *next; /* the next younger round (d->rounds) */
	atomic_bool checked;       /* every check ran (set on a helper thread) */
	struct submit_job *jobs;   /* in arrival order, through next */
	size_t n;                  /* entries to check */
	struct submit_entry *e[];
};

static void verify_entry(void *ud, size_t i)
{
	struct verify_round *r = ud;
	struct submit_entry *e = r->e[i];

	e->err = node_tx_check(e->raw, e->len, r->d->gen.chain_id, &e->tx, e->txid);
}

static void verify_checked(void *ud)
{
	struct verify_round *r = ud;
	uv_async_t *wake = &r->d->checks_done; /* r may be finished as soon as checked is set */

	atomic_store_explicit(&r->checked, true, memory_order_release);
	uv_async_send(wake);
}

static void jobs_finish(struct submit_job *j)
{
	while (j) {
		struct submit_job *next = j->next;

		node_rpc_submit_finish(j); /* frees j */
		j = next;
	}
}

/* Finishes the rounds at the head of d->rounds whose checks all ran, oldest first (also
 * from the daemon's checks_done callback). */
void node_rpc_checked(struct node_daemon *d)
{
	while (d->rounds && atomic_load_explicit(&d->rounds->checked, memory_order_acquire)) {
		struct verify_round *r = d->rounds;
		struct submit_job *jobs = r->jobs;

		if (!(d->rounds = r->next))
			d->rounds_tail = NULL;
		d->jobs--;
		sn_free(r);
		jobs_finish(jobs); /* may queue (and even finish) younger rounds: r is unlinked */
	}
}

/* Rounds that may run at once usefully: one per helper thread (at least one). */
static unsigned verify_parallel(const struct node_daemon *d)
{
	unsigned n = node_engine_helpers(d->eng);

	return n ? n : 1;
}

/* Hands the queued jobs to the helpers as one round (or finishes them at once when there
 * is nothing to check or no memory). */
static void verify_flush(struct node_daemon *d)
{
	struct submit_job *jobs = d->verify_q;
	struct verify_round *r;
	size_t n = 0;

	d->verify_q = d->verify_q_tail = NULL;
	for (struct submit_job *j = jobs; j; j = j->next) {
		d->jobs--; /* queued: now in the round (or finished) */
		for (size_t i = 0; i < j->n; i++)
			n += !j->e[i].error;
	}
	if (!n) { /* only bad params: nothing to check */
		jobs_finish(jobs);
		return;
	}
	if (!(r = sn_malloc(sizeof(*r) + n * sizeof(r->e[0])))) {
		for (struct submit_job *j = jobs; j; j = j->next)
			for (size_t i = 0; i < j->n; i++)
				j->e[i].err = SN_E_NOMEM;
		jobs_finish(jobs);
		return;
	}
	memset(r, 0, sizeof(*r));
	atomic_init(&r->checked, false);
	r->d = d;
	r->jobs = jobs;
	r->n = n;
	n = 0;
	for (struct submit_job *j = jobs; j; j = j->next)
		for (size_t i = 0; i < j->n; i++)
			if (!j->e[i].error)
				r->e[n++] = &j->e[i];
	if (d->rounds_tail)
		d->rounds_tail->next = r;
	else
		d->rounds = r;
	d->rounds_tail = r;
	d->jobs++;
	/* Chunks of about a quarter of each helper's share: small enough that the helpers end a
	 * round together, large enough to claim rarely. */
	if (node_engine_check_async(d->eng, n, n / (4 * verify_parallel(d)), verify_entry, verify_checked, r)) {
		for (size_t i = 0; i < n; i++)
			r->e[i]->err = SN_E_NOMEM;
		atomic_store(&r->checked, true);
	}
	node_rpc_checked(d); /* finished at once: no helpers, or no memory */
}

void node_rpc_verify_check(uv_check_t *h)
{
	struct node_daemon *d = h->data;

	uv_check_stop(h);
	/* A job finished here may let its connection's next pipelined request in, queued now:
	 * it is handed over too rather than waiting for the next turn (whose poll may block). */
	while (d->verify_q)
		verify_flush(d);
}

void node_rpc_verify_soon(uv_idle_t *h)
{
	uv_idle_stop(h);
}

/* Queues j's signature checks, handed to the helpers at the end of this turn of the loop.
 * A job may be queued after this turn's poll (a request parsed in the I/O callbacks) or
 * before it (one parsed when the HTTP server's flush, a prepare callback, lets a pipelined
 * request in): then the idle handle keeps that poll from sleeping, so the check callback
 * runs at once rather than after whatever wakes the loop next (test_pipelined_on_a_quiet_node).
 * Returns true. */
static bool submit_queue(struct node_daemon *d, struct submit_job *j)
{
	j->next = NULL;
	if (d->verify_q_tail)
		d->verify_q_tail->next = j;
	else
		d->verify_q = j;
	d->verify_q_tail = j;
	d->jobs++;
	if (!uv_is_active((uv_handle_t *)&d->verify_check))
		uv_check_start(&d->verify_check, node_rpc_verify_check);
	if (!uv_is_active((uv_handle_t *)&d->verify_soon))
		uv_idle_start(&d->verify_soon, node_rpc_verify_soon);
	return true;
}

/* A request on the loop thread: read there (rpc.threads = 0) or forwarded by an RPC thread. */
static void rpc_post_loop(struct node_daemon *d, struct http_req *hreq, const char *body, size_t len)
{
	json_error_t je;
	json_t *req = node_json_loadb(body, len, &je), *resp;
	uint8_t type;

	if (!req) {
		reply_json(hreq, envelope(NULL, NULL, rpc_err(NODE_RPC_PARSE_ERROR, "parse error: not valid JSON",
		                                              json_pack("{s:s,s:i,s:i}", "detail", je.text,
		                                                        "line", je.line, "column", je.column))));
		return;
	}
	if (json_is_array(req)) {
		size_t i;
		json_t *r;

		if (json_array_size(req) == 0) {
			reply_json(hreq, envelope(NULL, NULL, rpc_err(NODE_RPC_INVALID_REQUEST, "invalid request: empty batch", NULL)));
		} else if (json_array_size(req) > 1000) {
			reply_json(hreq, envelope(NULL, NULL, rpc_err(NODE_RPC_INVALID_REQUEST, "invalid request: batch larger than 1000", NULL)));
		} else if (submit_async(d, hreq, req)) {
			/* a batch of submit_tx: answered once its signatures are checked */
		} else {
			resp = json_array();
			json_array_foreach(req, i, r) {
				json_t *one = handle_one(d, r);

				if (json_is_object(r) && !json_object_get(r, "id"))
					json_decref(one); /* notification */
				else
					json_array_append_new(resp, one);
			}
			if (json_array_size(resp))
				reply_json(hreq, resp);
			else {
				json_decref(resp);
				http_reply_any(hreq, 204, "application/json", "", 0);
			}
		}
		json_decref(req);
		return;
	}
	if (is_submit(req, &type) && submit_async(d, hreq, req)) {
		json_decref(req);
		return;
	}
	resp = handle_one(d, req);
	if (json_is_object(req) && !json_object_get(req, "id")) {
		json_decref(resp);
		http_reply_any(hreq, 204, "application/json", "", 0);
	} else {
		reply_json(hreq, resp);
	}
	json_decref(req);
}

/* ------------------------------------------------------------------ RPC threads
 * With rpc.threads > 0 each connection is served by one RPC thread (node/http.c). A submit
 * job is checked and admitted there and then: the request is read, its signatures checked,
 * its transactions admitted (under the mempool's lock) and its reply written on one thread,
 * with no hand-over and no other thread woken. Every other request, and a submit the node
 * cannot take now (starting, stopping, store failed: the loop's path says why), goes to the
 * loop through the inbox, since the other handlers run there; the reply comes back through
 * http_reply_any. Requests of one connection are handled in order, so a signer's nonces sent
 * in order on one connection are admitted in order. Across connections, a transaction is
 * admitted when its thread gets to it: one sent on another connection before the reply to
 * the one it follows may arrive first (and be refused for its nonce). */

struct rpc_fwd {
	struct rpc_fwd *next;
	struct http_req *req;
	size_t len;
	char body[];
};

struct rpc_admitted {
	struct rpc_admitted *next;
	uint8_t signer[SN_PUBKEY_LEN];
	size_t len;
	uint8_t raw[];
};

static void inbox_forward(struct node_daemon *d, struct http_req *hreq, const char *body, size_t len)
{
	struct rpc_fwd *f = sn_malloc(sizeof(*f) + len + 1);

	if (!f) {
		static const char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"out of memory\"}}";

		http_reply(hreq, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	f->next = NULL;
	f->req = hreq;
	f->len = len;
	memcpy(f->body, body, len);
	f->body[len] = '\0';
	uv_mutex_lock(&d->inbox_lock);
	if (d->fwd_tail)
		d->fwd_tail->next = f;
	else
		d->fwd_q = f;
	d->fwd_tail = f;
	uv_mutex_unlock(&d->inbox_lock);
	uv_async_send(&d->inbox);
}

void node_rpc_admitted(struct node_daemon *d, const uint8_t *raw, size_t len, const uint8_t signer[SN_PUBKEY_LEN])
{
	bool wake = atomic_exchange(&d->want_admit_wake, false);

	if (d->cfg.p2p_enabled) { /* gossip, and gossiped transactions waiting for this one */
		struct rpc_admitted *a = sn_malloc(sizeof(*a) + len);

		if (a) {
			a->next = NULL;
			memcpy(a->signer, signer, SN_PUBKEY_LEN);
			a->len = len;
			memcpy(a->raw, raw, len);
			uv_mutex_lock(&d->inbox_lock);
			if (d->adm_tail)
				d->adm_tail->next = a;
			else
				d->adm_q = a;
			d->adm_tail = a;
			uv_mutex_unlock(&d->inbox_lock);
			wake = true;
		} else {
			SN_LOG(SN_LOG_WARN, "p2p", "out of memory: an admitted transaction is not gossiped");
		}
	}
	if (wake)
		uv_async_send(&d->inbox);
}

void node_rpc_mempool_broken(struct node_daemon *d)
{
	uv_mutex_lock(&d->inbox_lock);
	d->mp_rebuild = true;
	uv_mutex_unlock(&d->inbox_lock);
	uv_async_send(&d->inbox);
}

void node_rpc_inbox(uv_async_t *h)
{
	struct node_daemon *d = h->data;
	struct rpc_fwd *f;
	struct rpc_admitted *a;
	bool rebuild;

	uv_mutex_lock(&d->inbox_lock);
	f = d->fwd_q;
	a = d->adm_q;
	d->fwd_q = d->fwd_tail = NULL;
	d->adm_q = d->adm_tail = NULL;
	rebuild = d->mp_rebuild;
	d->mp_rebuild = false;
	uv_mutex_unlock(&d->inbox_lock);
	if (rebuild && !d->producing) { /* a block's end rebuilds it anyway */
		size_t dropped = 0;
		int err;

		uv_mutex_lock(&d->mp_lock);
		rebuild = node_mempool_broken(d->mp);
		uv_mutex_unlock(&d->mp_lock);
		err = rebuild ? node_daemon_mempool_resume(d, false, NULL, 0, &dropped) : SN_OK;
		if (err)
			SN_LOG(SN_LOG_ERROR, "mempool", "cannot rebuild the view: %s", sn_strerror(err));
	}
	while (a) {
		struct rpc_admitted *next = a->next;

		node_p2p_gossip(d, a->raw, a->len);
		node_p2p_after_admit(d, a->signer);
		sn_free(a);
		a = next;
	}
	node_daemon_block_soon(d);
	while (f) {
		struct rpc_fwd *next = f->next;

		rpc_post_loop(d, f->req, f->body, f->len);
		sn_free(f);
		f = next;
	}
}

void node_rpc_inbox_free(struct node_daemon *d)
{
	while (d->fwd_q) {
		struct rpc_fwd *next = d->fwd_q->next;

		sn_free(d->fwd_q);
		d->fwd_q = next;
	}
	while (d->adm_q) {
		struct rpc_admitted *next = d->adm_q->next;

		sn_free(d->adm_q);
		d->adm_q = next;
	}
	d->fwd_tail = NULL;
	d->adm_tail = NULL;
}

/* A batch this large has its checks shared with the engine's free helpers: one client
 * sending large batches on one connection would otherwise use one core. */
#define BATCH_HELP_MIN 8

static void thread_check_entry(void *ud, size_t i)
{
	struct submit_job *j = ud;
	struct submit_entry *e = &j->e[i];

	if (!e->error)
		e->err = node_tx_check(e->raw, e->len, j->d->gen.chain_id, &e->tx, e->txid);
}

/* On an RPC thread. */
static void rpc_post_thread(struct node_daemon *d, struct http_req *hreq, const char *body, size_t len)
{
	json_error_t je;
	json_t *req = node_json_loadb(body, len, &je);
	struct submit_job *j = NULL;
	uint8_t type;

	if (req && (json_is_array(req) ? json_array_size(req) > 0 && json_array_size(req) <= 1000 : is_submit(req, &type)))
		j = submit_job_new(d, hreq, req);
	json_decref(req);
	if (!j) {
		inbox_forward(d, hreq, body, len);
		return;
	}
	j->on_rpc_thread = true;
	if (j->n >= BATCH_HELP_MIN) /* the helpers that are free take part */
		node_engine_check(d->eng, j->n, 4, thread_check_entry, j);
	else
		for (size_t i = 0; i < j->n; i++)
			thread_check_entry(j, i);
	node_rpc_submit_finish(j);
}

void node_rpc_post(void *ud, struct http_req *hreq, const char *body, size_t len)
{
	struct node_daemon *d = ud;

	if (http_req_loop(hreq) == d->loop)
		rpc_post_loop(d, hreq, body, len);
	else
		rpc_post_thread(d, hreq, body, len);
}
