/* node/rpc.c — JSON-RPC 2.0 methods (docs/rpc.md), parsed and built with jansson. */
#include "node/daemon.h"
#include "node/json.h"

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
	struct store_info i;

	(void)params;
	(void)err;
	store_info_get(d->st, &i);
	return json_pack("{s:I,s:I,s:o,s:I,s:o,s:I,s:o,s:o,s:I,s:{s:I,s:I},s:o,s:s,s:b}", "chain_id",
	                 (json_int_t)i.chain_id, "height", (json_int_t)i.height, "tip_hash",
	                 node_json_hex(i.tip_hash, SN_HASH_LEN), "tip_time_ms", (json_int_t)i.tip_time_ms, "state_root",
	                 node_json_hex(i.state_root, SN_HASH_LEN), "accounts", (json_int_t)i.accounts, "treasury",
	                 node_json_dec(i.treasury), "min_fee", node_json_dec(i.params.min_fee), "max_block_txs",
	                 (json_int_t)i.params.max_block_txs, "mempool", "count",
	                 (json_int_t)node_mempool_count(d->mp), "bytes", (json_int_t)node_mempool_bytes(d->mp),
	                 "node_key", node_json_hex(d->node_pk, NODE_ED25519_PK_LEN), "version", SETTLED_VERSION,
	                 "validator", d->producer);
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
	return type == STORE_TX_REGISTER ? "register" : type == STORE_TX_TRANSFER ? "transfer" : "unknown";
}

static json_t *tx_json(const uint8_t id[32], const uint8_t *raw, size_t len, const char *status)
{
	struct store_tx tx;
	char h[2 * STORE_TX_MAX + 1];

	if (store_tx_decode(&tx, raw, len))
		return NULL;
	sn_hex_encode(h, raw, len);
	return json_pack("{s:o,s:s,s:s,s:o,s:I,s:o,s:o,s:o,s:s}", "id", node_json_hex(id, 32), "status", status, "type",
	                 tx_type_name(tx.type), "signer", node_json_hex(tx.signer, 32), "nonce", (json_int_t)tx.nonce, "fee",
	                 node_json_dec(tx.fee), "to", node_json_hex(tx.to, 32), "amount", node_json_dec(tx.amount), "raw", h);
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
	if ((e = node_mempool_find(d->mp, id)))
		return tx_json(id, e->raw, e->len, "pending");
	if (store_tx_locate(d->st, id, &height, &index) || store_block_get(d->st, height, &blk, &len) ||
	    store_block_decode(&b, blk, len)) {
		sn_free(blk);
		*err = rpc_err(NODE_RPC_NOT_FOUND, "no such transaction (neither committed nor pending)", NULL);
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
	size_t limit, n = node_mempool_count(d->mp);
	json_t *arr;

	if (param_limit(params, 0, "limit", 100, 10000, &limit, err))
		return NULL;
	arr = json_array();
	for (size_t i = 0; i < n && i < limit; i++) {
		const struct node_mempool_entry *e = node_mempool_at(d->mp, i);

		json_array_append_new(arr, json_pack("{s:o,s:o,s:I,s:s}", "id", node_json_hex(e->id, 32), "signer",
		                                     node_json_hex(e->tx.signer, 32), "nonce", (json_int_t)e->tx.nonce,
		                                     "type", tx_type_name(e->tx.type)));
	}
	return json_pack("{s:I,s:I,s:o}", "count", (json_int_t)n, "bytes", (json_int_t)node_mempool_bytes(d->mp),
	                 "txs", arr);
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

static const struct {
	const char *name;
	rpc_fn *fn;
} methods[] = {
	{ "status", m_status },         { "submit_tx", m_submit_tx },       { "get_account", m_get_account },
	{ "get_team", m_get_team },     { "get_block", m_get_block },       { "get_tx", m_get_tx },
	{ "list_mempool", m_list_mempool },
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

/* Validates a request object; NULL and *err when it is not one. */
static rpc_fn *request_method(json_t *req, json_t **err)
{
	json_t *v = json_object_get(req, "jsonrpc"), *m = json_object_get(req, "method"),
	       *p = json_object_get(req, "params"), *id = json_object_get(req, "id");

	if (!json_is_object(req) || !json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0 ||
	    !json_is_string(m) || (p && !json_is_array(p) && !json_is_object(p)) ||
	    (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id))) {
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
	else if (fn && store_status(d->st))
		err = rpc_err_sn(NODE_RPC_NOT_READY, store_status(d->st));
	else if (fn && !(res = fn(d, json_object_get(req, "params"), &err)) && !err)
		err = rpc_err_sn(NODE_RPC_INTERNAL, SN_E_NOMEM);
	return envelope(id, res, err);
}

static void reply_json(struct http_req *req, json_t *resp)
{
	char *text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;

	if (text) {
		http_reply(req, 200, "application/json", text, strlen(text));
		free(text);
	} else {
		static const char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"out of memory\"}}";

		http_reply(req, 500, "application/json", oom, sizeof(oom) - 1);
	}
	json_decref(resp);
}

/* ------------------------------------------------------------------ async submit */

static void submit_work(uv_work_t *w)
{
	struct submit_job *j = w->data;

	j->err = node_tx_check(j->raw, j->len, j->d->gen.chain_id, &j->tx, j->txid);
}

void node_rpc_submit_finish(struct submit_job *j)
{
	struct node_daemon *d = j->d;
	int rc = j->err;

	if (!rc && d->producing && !d->stopping) { /* a block is being built: admit right after it */
		j->next = NULL;
		if (d->deferred_tail)
			d->deferred_tail->next = j;
		else
			d->deferred = j;
		d->deferred_tail = j;
		return;
	}
	if (!rc)
		rc = d->stopping ? SN_E_BUSY : node_daemon_admit(d, j->raw, j->len, &j->tx, j->txid);
	reply_json(j->req, envelope(j->id, rc ? NULL : submit_result(j->txid), rc ? rpc_err_sn(NODE_RPC_REJECTED, rc) : NULL));
	json_decref(j->id);
	sn_free(j);
}

static void submit_done(uv_work_t *w, int status)
{
	struct submit_job *j = w->data;

	j->d->jobs--;
	if (status == UV_ECANCELED)
		j->err = SN_E_CANCELLED;
	node_rpc_submit_finish(j);
}

/* A single submit_tx: the signature check runs on the thread pool. */
static bool submit_async(struct node_daemon *d, struct http_req *hreq, json_t *req)
{
	json_t *err = NULL;
	struct submit_job *j;

	if (!d->ready || store_status(d->st) || d->stopping)
		return false; /* the synchronous path says why */
	j = sn_calloc(1, sizeof(*j));
	if (!j)
		return false;
	if (submit_param(json_object_get(req, "params"), j->raw, &j->len, &err)) {
		reply_json(hreq, envelope(json_object_get(req, "id"), NULL, err));
		sn_free(j);
		return true;
	}
	j->d = d;
	j->req = hreq;
	j->id = json_incref(json_object_get(req, "id"));
	j->work.data = j;
	d->jobs++;
	if (uv_queue_work(d->loop, &j->work, submit_work, submit_done) != 0) {
		d->jobs--;
		json_decref(j->id);
		sn_free(j);
		return false;
	}
	return true;
}

void node_rpc_post(void *ud, struct http_req *hreq, const char *body, size_t len)
{
	struct node_daemon *d = ud;
	json_error_t je;
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *resp;

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
				http_reply(hreq, 204, "application/json", "", 0);
			}
		}
		json_decref(req);
		return;
	}
	if (json_is_object(req) && json_is_string(json_object_get(req, "method")) &&
	    strcmp(json_string_value(json_object_get(req, "method")), "submit_tx") == 0 && json_object_get(req, "id") &&
	    submit_async(d, hreq, req)) {
		json_decref(req);
		return;
	}
	resp = handle_one(d, req);
	if (json_is_object(req) && !json_object_get(req, "id")) {
		json_decref(resp);
		http_reply(hreq, 204, "application/json", "", 0);
	} else {
		reply_json(hreq, resp);
	}
	json_decref(req);
}
