/* node/gov.c — governance wired into the chain: the governance records in the store, the
 * PROPOSE / APPROVE / EXECUTE transactions and every executed proposal's effect
 * (docs/governance.md, "Transactions" and "State"). The rules themselves (tally, lifecycle,
 * payloads) are governance/'s; this file reads and writes their records through a store
 * write transaction, so that every change is part of the block and of its state root. */
#include "node/gov_int.h"

/* ------------------------------------------------------------------ records */

void node_gov_proposal_key(uint8_t out[NODE_GOV_PROPOSAL_KEY_LEN], uint64_t id)
{
	out[0] = 'p';
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(id >> (56 - 8 * i)); /* big-endian: LMDB sorts by id */
}

#define KEY(s) (s), (sizeof(s) - 1)
#define PARAMS_REC_LEN (1 + 4 * 8)
#define NEXT_ID_REC_LEN (1 + 8)
#define PAUSED_REC_LEN (1 + 1)
#define VALIDATORS_REC_MAX (1 + 8 + 1 + 2 + GOV_VALIDATORS_MAX * GOV_VALIDATOR_LEN)
#define UPGRADE_REC_MAX (1 + 8 + 1 + GOV_UPGRADE_NAME_MAX + 8)

/* params v1: u8 version | u64 timelock_blocks | u64 proposal_max_deadline_blocks |
 *            u64 mempool_max_txs | u64 mempool_max_bytes
 * (min_fee and max_block_txs are the store's own parameters, struct store_params.) */
static void params_rec_encode(uint8_t out[PARAMS_REC_LEN], const struct gov_params *p)
{
	struct sn_writer w = sn_writer_init(out, PARAMS_REC_LEN);

	sn_write_u8(&w, NODE_GOV_RECORD_V1);
	sn_write_le64(&w, p->timelock_blocks);
	sn_write_le64(&w, p->proposal_max_deadline_blocks);
	sn_write_le64(&w, p->mempool_max_txs);
	sn_write_le64(&w, p->mempool_max_bytes);
}

/* Fills the record's four fields of *p (the other two are the caller's). */
static int params_rec_decode(struct gov_params *p, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);

	if (sn_read_u8(&r) != NODE_GOV_RECORD_V1)
		return SN_E_CORRUPT;
	p->timelock_blocks = sn_read_le64(&r);
	p->proposal_max_deadline_blocks = sn_read_le64(&r);
	p->mempool_max_txs = sn_read_le64(&r);
	p->mempool_max_bytes = sn_read_le64(&r);
	return sn_reader_finish(&r) ? SN_E_CORRUPT : SN_OK;
}

static void u64_rec_encode(uint8_t out[NEXT_ID_REC_LEN], uint64_t v)
{
	struct sn_writer w = sn_writer_init(out, NEXT_ID_REC_LEN);

	sn_write_u8(&w, NODE_GOV_RECORD_V1);
	sn_write_le64(&w, v);
}

static int u64_rec_decode(uint64_t *v, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);

	*v = 0;
	if (sn_read_u8(&r) != NODE_GOV_RECORD_V1)
		return SN_E_CORRUPT;
	*v = sn_read_le64(&r);
	return sn_reader_finish(&r) ? SN_E_CORRUPT : SN_OK;
}

static int paused_rec_decode(bool *paused, const uint8_t *in, size_t len)
{
	*paused = false;
	if (len != PAUSED_REC_LEN || in[0] != NODE_GOV_RECORD_V1 || in[1] > 1)
		return SN_E_CORRUPT;
	*paused = in[1] == 1;
	return SN_OK;
}

/* validators v1: u8 version | u64 from_height | the change_validators payload of the set
 * (u8 1 | u16 count | count × ([32] key | u64 power), keys ascending). */
static int validators_rec_encode(uint8_t *out, size_t cap, size_t *len, uint64_t from_height,
                                 const struct gov_payload *set)
{
	struct sn_writer w = sn_writer_init(out, cap);
	size_t plen;
	int err;

	*len = 0;
	sn_write_u8(&w, NODE_GOV_RECORD_V1);
	sn_write_le64(&w, from_height);
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	if ((err = gov_payload_encode(out + w.len, cap - w.len, &plen, set)))
		return err;
	*len = w.len + plen;
	return SN_OK;
}

/* *set must have room for a struct gov_payload. */
static int validators_rec_decode(uint64_t *from_height, struct gov_payload *set, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);

	if (sn_read_u8(&r) != NODE_GOV_RECORD_V1)
		return SN_E_CORRUPT;
	*from_height = sn_read_le64(&r);
	if (sn_reader_failed(&r))
		return SN_E_CORRUPT;
	return gov_payload_decode(set, GOV_KIND_CHANGE_VALIDATORS, r.p, r.left) ? SN_E_CORRUPT : SN_OK;
}

int node_gov_genesis_records(struct store_gov_record **recs, size_t *n, const struct gov_council *c,
                             const struct gov_validator *v, size_t nv, const struct gov_params *p)
{
	enum { N = 5 };
	struct gov_payload *set = NULL;
	struct store_gov_record *r;
	uint8_t *data, *at;
	size_t len;
	int err;

	*recs = NULL;
	*n = 0;
	if ((err = gov_council_check(c)))
		return err;
	if ((err = gov_params_check(p)))
		return err;
	if (nv == 0 || nv > GOV_VALIDATORS_MAX)
		return SN_E_PAYLOAD;
	r = sn_calloc(1, N * sizeof(*r) + GOV_COUNCIL_MAX + VALIDATORS_REC_MAX + PARAMS_REC_LEN + NEXT_ID_REC_LEN +
	                         PAUSED_REC_LEN);
	set = sn_calloc(1, sizeof(*set));
	if (!r || !set) {
		sn_free(r);
		sn_free(set);
		return SN_E_NOMEM;
	}
	data = at = (uint8_t *)(r + N);
	/* Keys are string literals; the values live after the array. */
	if ((err = gov_council_encode(at, GOV_COUNCIL_MAX, &len, c)))
		goto fail;
	r[0] = (struct store_gov_record){ (const uint8_t *)NODE_GOV_KEY_COUNCIL, sizeof(NODE_GOV_KEY_COUNCIL) - 1, at, len };
	at += len;
	set->kind = GOV_KIND_CHANGE_VALIDATORS;
	set->u.validators.count = (uint16_t)nv;
	for (size_t i = 0; i < nv; i++) {
		size_t j = i;

		/* Insertion sort by key: the set is canonical (keys strictly ascending). */
		while (j > 0 && memcmp(set->u.validators.v[j - 1].key, v[i].key, GOV_VALIDATOR_KEY_LEN) > 0) {
			set->u.validators.v[j] = set->u.validators.v[j - 1];
			j--;
		}
		set->u.validators.v[j] = v[i];
	}
	if ((err = validators_rec_encode(at, VALIDATORS_REC_MAX, &len, 1, set)))
		goto fail;
	r[1] = (struct store_gov_record){ (const uint8_t *)NODE_GOV_KEY_VALIDATORS, sizeof(NODE_GOV_KEY_VALIDATORS) - 1, at, len };
	at += len;
	params_rec_encode(at, p);
	r[2] = (struct store_gov_record){ (const uint8_t *)NODE_GOV_KEY_PARAMS, sizeof(NODE_GOV_KEY_PARAMS) - 1, at, PARAMS_REC_LEN };
	at += PARAMS_REC_LEN;
	u64_rec_encode(at, 1);
	r[3] = (struct store_gov_record){ (const uint8_t *)NODE_GOV_KEY_NEXT_ID, sizeof(NODE_GOV_KEY_NEXT_ID) - 1, at, NEXT_ID_REC_LEN };
	at += NEXT_ID_REC_LEN;
	at[0] = NODE_GOV_RECORD_V1;
	at[1] = 0;
	r[4] = (struct store_gov_record){ (const uint8_t *)NODE_GOV_KEY_PAUSED, sizeof(NODE_GOV_KEY_PAUSED) - 1, at, PAUSED_REC_LEN };
	(void)data;
	sn_free(set);
	*recs = r;
	*n = N;
	return SN_OK;
fail:
	sn_free(set);
	sn_free(r);
	return err;
}

/* ------------------------------------------------------------ transaction payloads */

int node_gov_propose_decode(struct node_gov_propose *out, const struct store_tx *tx)
{
	struct sn_reader r = sn_reader_init(tx->payload, tx->payload_len);

	memset(out, 0, sizeof(*out));
	if (tx->type != STORE_TX_GOV_PROPOSE)
		return SN_E_INVAL;
	out->kind = sn_read_u8(&r);
	out->deadline_height = sn_read_le64(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	out->payload = r.p;
	out->payload_len = r.left;
	return SN_OK;
}

int node_gov_approve_decode(uint64_t *proposal_id, struct node_gov_approval *out, const struct store_tx *tx)
{
	struct sn_reader r = sn_reader_init(tx->payload, tx->payload_len);

	*proposal_id = 0;
	memset(out, 0, sizeof(*out));
	if (tx->type != STORE_TX_GOV_APPROVE)
		return SN_E_INVAL;
	*proposal_id = sn_read_le64(&r);
	sn_read_bytes(&r, out->member, SN_PUBKEY_LEN);
	sn_read_bytes(&r, out->sig, SN_SIG_LEN);
	return sn_reader_finish(&r);
}

int node_gov_execute_decode(struct node_gov_execute *out, const struct store_tx *tx)
{
	struct sn_reader r = sn_reader_init(tx->payload, tx->payload_len);

	memset(out, 0, sizeof(*out));
	if (tx->type != STORE_TX_GOV_EXECUTE)
		return SN_E_INVAL;
	out->proposal_id = sn_read_le64(&r);
	out->n = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (out->n > STORE_TX_EXECUTE_SIGS_MAX)
		return SN_E_TOOBIG;
	for (unsigned i = 0; i < out->n; i++) {
		sn_read_bytes(&r, out->a[i].member, SN_PUBKEY_LEN);
		sn_read_bytes(&r, out->a[i].sig, SN_SIG_LEN);
	}
	return sn_reader_finish(&r);
}

/* PROPOSE payload: u8 kind | u64 deadline_height | kind payload */
int node_gov_propose_encode(uint8_t *out, size_t cap, size_t *len, uint8_t kind, uint64_t deadline_height,
                            const uint8_t *payload, size_t payload_len)
{
	struct sn_writer w = sn_writer_init(out, cap);

	*len = 0;
	if (payload_len > STORE_TX_GOV_PAYLOAD_MAX)
		return SN_E_TOOBIG;
	sn_write_u8(&w, kind);
	sn_write_le64(&w, deadline_height);
	sn_write_bytes(&w, payload, payload_len);
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*len = w.len;
	return SN_OK;
}

/* APPROVE payload: u64 proposal_id | [32] member | [64] sig */
int node_gov_approve_encode(uint8_t *out, size_t cap, size_t *len, uint64_t proposal_id,
                            const struct node_gov_approval *a)
{
	struct sn_writer w = sn_writer_init(out, cap);

	*len = 0;
	sn_write_le64(&w, proposal_id);
	sn_write_bytes(&w, a->member, SN_PUBKEY_LEN);
	sn_write_bytes(&w, a->sig, SN_SIG_LEN);
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*len = w.len;
	return SN_OK;
}

/* EXECUTE payload: u64 proposal_id | u8 n | n × ([32] member | [64] sig) */
int node_gov_execute_encode(uint8_t *out, size_t cap, size_t *len, const struct node_gov_execute *e)
{
	struct sn_writer w = sn_writer_init(out, cap);

	*len = 0;
	if (e->n > STORE_TX_EXECUTE_SIGS_MAX)
		return SN_E_TOOBIG;
	sn_write_le64(&w, e->proposal_id);
	sn_write_u8(&w, e->n);
	for (unsigned i = 0; i < e->n; i++) {
		sn_write_bytes(&w, e->a[i].member, SN_PUBKEY_LEN);
		sn_write_bytes(&w, e->a[i].sig, SN_SIG_LEN);
	}
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*len = w.len;
	return SN_OK;
}

int node_gov_approval_sign(struct node_gov_approval *out, uint32_t chain_id, uint64_t proposal_id,
                           const uint8_t payload_hash[SN_HASH_LEN], const uint8_t seckey[SN_SECKEY_LEN])
{
	uint8_t msg[SN_HASH_LEN];
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = sn_schnorr_pubkey(out->member, seckey)))
		return err;
	gov_approval_message(msg, chain_id, proposal_id, payload_hash);
	return sn_schnorr_sign(out->sig, seckey, msg, sizeof(msg), NULL);
}

/* ------------------------------------------------------------ reading in a wtxn */

/* The full parameter set in w: the store's two plus the params record (defaults if none). */
static int wtxn_params(struct store_wtxn *w, struct gov_params *p)
{
	const struct store_params *sp = store_wtxn_params(w);
	const uint8_t *v;
	size_t len;
	int err;

	*p = (struct gov_params){ .min_fee = sp->min_fee, .max_block_txs = sp->max_block_txs,
		                  .timelock_blocks = NODE_GOV_TIMELOCK_DEFAULT,
		                  .proposal_max_deadline_blocks = NODE_GOV_DEADLINE_DEFAULT,
		                  .mempool_max_txs = NODE_GOV_MEMPOOL_TXS_DEFAULT,
		                  .mempool_max_bytes = NODE_GOV_MEMPOOL_BYTES_DEFAULT };
	err = store_wtxn_gov_get(w, KEY(NODE_GOV_KEY_PARAMS), &v, &len);
	if (err == SN_E_NOTFOUND)
		return SN_OK;
	if (err)
		return err;
	return params_rec_decode(p, v, len);
}

static int wtxn_next_id(struct store_wtxn *w, uint64_t *id)
{
	const uint8_t *v;
	size_t len;
	int err = store_wtxn_gov_get(w, KEY(NODE_GOV_KEY_NEXT_ID), &v, &len);

	*id = 1;
	if (err == SN_E_NOTFOUND)
		return SN_OK;
	if (err)
		return err;
	if ((err = u64_rec_decode(id, v, len)) || *id == 0)
		return SN_E_CORRUPT;
	return SN_OK;
}

int node__gov_paused(struct store_wtxn *w, bool *paused)
{
	const uint8_t *v;
	size_t len;
	int err = store_wtxn_gov_get(w, KEY(NODE_GOV_KEY_PAUSED), &v, &len);

	*paused = false;
	if (err == SN_E_NOTFOUND)
		return SN_OK;
	if (err)
		return err;
	return paused_rec_decode(paused, v, len);
}

/* *c must have room for a council. SN_E_PERMISSION: a chain with no council. */
static int wtxn_council(struct store_wtxn *w, struct gov_council *c)
{
	const uint8_t *v;
	size_t len;
	int err = store_wtxn_gov_get(w, KEY(NODE_GOV_KEY_COUNCIL), &v, &len);

	if (err == SN_E_NOTFOUND)
		return SN_E_PERMISSION;
	if (err)
		return err;
	return gov_council_decode(c, v, len) ? SN_E_CORRUPT : SN_OK;
}

static int wtxn_proposal(struct store_wtxn *w, uint64_t id, struct gov_proposal **out)
{
	uint8_t key[NODE_GOV_PROPOSAL_KEY_LEN];
	const uint8_t *v;
	size_t len;
	int err;

	*out = NULL;
	if (id == 0)
		return SN_E_UNKNOWN_PROPOSAL;
	node_gov_proposal_key(key, id);
	err = store_wtxn_gov_get(w, key, sizeof(key), &v, &len);
	if (err == SN_E_NOTFOUND)
		return SN_E_UNKNOWN_PROPOSAL;
	if (err)
		return err;
	err = gov_proposal_decode(out, v, len);
	if (err && err != SN_E_NOMEM) {
		SN_LOG(SN_LOG_ERROR, "gov", "proposal %llu: record does not decode: %s", (unsigned long long)id,
		       sn_errname(err));
		return SN_E_CORRUPT;
	}
	return err;
}

static int wtxn_proposal_put(struct store_wtxn *w, const struct gov_proposal *p)
{
	uint8_t key[NODE_GOV_PROPOSAL_KEY_LEN], *buf;
	struct gov_proposal_info info;
	size_t len;
	int err;

	gov_proposal_info_get(p, &info);
	node_gov_proposal_key(key, info.id);
	buf = sn_malloc(gov_proposal_encoded_len(p));
	if (!buf)
		return SN_E_NOMEM;
	if (!(err = gov_proposal_encode(buf, gov_proposal_encoded_len(p), &len, p)))
		err = store_wtxn_gov_put(w, key, sizeof(key), buf, len);
	sn_free(buf);
	return err;
}

/* ------------------------------------------------------------ the transactions */

/* The fee and nonce of the signer, after every check passed. The signer's balance was
 * checked to cover the fee (and, for a spend to itself, its new balance to fit). */
static int charge(struct store_wtxn *w, struct store_account *signer, uint64_t fee)
{
	int err;

	signer->balance -= fee;
	signer->nonce++;
	if ((err = store_wtxn_account_put(w, signer)))
		return err;
	return store_wtxn_treasury_add(w, fee);
}

static int apply_propose(struct store_wtxn *w, const struct store_tx *tx, uint64_t height,
                         struct store_account *signer)
{
	struct node_gov_propose pp;
	struct gov_council *council = NULL;
	struct gov_payload *pl = NULL;
	struct gov_proposal *prop = NULL, *target = NULL;
	struct gov_params params;
	uint8_t idrec[NEXT_ID_REC_LEN];
	uint64_t id;
	int err;

	if ((err = node_gov_propose_decode(&pp, tx)))
		return SN_E_PAYLOAD;
	council = sn_malloc(sizeof(*council));
	pl = sn_malloc(sizeof(*pl));
	if (!council || !pl) {
		err = SN_E_NOMEM;
		goto out;
	}
	if ((err = wtxn_council(w, council)) || (err = wtxn_params(w, &params)) || (err = wtxn_next_id(w, &id)))
		goto out;
	/* Any payload governance/ would refuse is "malformed" here, whatever the detail. */
	if ((err = gov_payload_decode(pl, pp.kind, pp.payload, pp.payload_len))) {
		SN_LOG(SN_LOG_DEBUG, "gov", "PROPOSE payload refused: %s", sn_errname(err));
		err = SN_E_PAYLOAD;
		goto out;
	}
	if (pp.kind == GOV_KIND_CANCEL && pl->u.cancel.proposal_id < id &&
	    (err = wtxn_proposal(w, pl->u.cancel.proposal_id, &target)))
		goto out;
	err = gov_proposal_create(&prop, &(struct gov_proposal_args){
		.id = id, .kind = pp.kind, .payload = pp.payload, .payload_len = pp.payload_len,
		.proposer = tx->signer, .height = height, .deadline_height = pp.deadline_height,
		.council = council, .params = &params });
	if (err)
		goto out;
	if (signer->balance < tx->fee || id == UINT64_MAX) {
		err = signer->balance < tx->fee ? SN_E_BALANCE : SN_E_OVERFLOW;
		goto out;
	}
	u64_rec_encode(idrec, id + 1);
	if ((err = wtxn_proposal_put(w, prop)) ||
	    (err = store_wtxn_gov_put(w, KEY(NODE_GOV_KEY_NEXT_ID), idrec, sizeof(idrec))))
		goto out;
	err = charge(w, signer, tx->fee);
out:
	gov_proposal_free(prop);
	gov_proposal_free(target);
	sn_free(council);
	sn_free(pl);
	return err;
}

static int apply_approve(struct store_wtxn *w, const struct store_tx *tx, uint64_t height,
                         struct store_account *signer)
{
	const struct store_info *tip = store_wtxn_info(w);
	struct node_gov_approval a;
	struct gov_proposal *prop = NULL;
	uint64_t id;
	int err;

	if ((err = node_gov_approve_decode(&id, &a, tx)))
		return SN_E_PAYLOAD;
	if ((err = wtxn_proposal(w, id, &prop)))
		return err;
	if ((err = gov_proposal_approve(prop, tip->chain_id, height, a.member, a.sig, NULL)))
		goto out;
	if (signer->balance < tx->fee) {
		err = SN_E_BALANCE;
		goto out;
	}
	if ((err = wtxn_proposal_put(w, prop)))
		goto out;
	err = charge(w, signer, tx->fee);
out:
	gov_proposal_free(prop);
	return err;
}

/* What an executed proposal changes, worked out before anything is written. */
struct effect {
	struct gov_payload pl;
	struct gov_params params;       /* SET_PARAM: the new set */
	struct gov_council council;     /* CHANGE_MEMBERS: the new council */
	struct store_account recipient; /* TREASURY_SPEND to another account */
	bool spend_to_signer;
	struct gov_proposal *target;    /* CANCEL */
};

static int effect_check(struct store_wtxn *w, struct effect *e, const struct store_tx *tx, uint64_t height,
                        const struct store_account *signer)
{
	int err;

	switch (e->pl.kind) {
	case GOV_KIND_SET_PARAM:
		if ((err = wtxn_params(w, &e->params)))
			return err;
		/* Re-checked against the parameters of this moment. */
		return gov_params_set(&e->params, e->pl.u.param.id, e->pl.u.param.value) ? SN_E_PAYLOAD : SN_OK;
	case GOV_KIND_CHANGE_MEMBERS:
		if ((err = wtxn_council(w, &e->council)))
			return err;
		e->council.track[e->pl.u.members.track] = e->pl.u.members.list;
		return gov_council_check(&e->council) ? SN_E_PAYLOAD : SN_OK;
	case GOV_KIND_TREASURY_SPEND: {
		uint64_t amount = e->pl.u.spend.amount;

		if (store_wtxn_treasury(w) < amount)
			return SN_E_BALANCE;
		e->spend_to_signer = memcmp(e->pl.u.spend.recipient, tx->signer, SN_PUBKEY_LEN) == 0;
		if (e->spend_to_signer)
			return signer->balance - tx->fee > UINT64_MAX - amount ? SN_E_OVERFLOW : SN_OK;
		err = store_wtxn_account_get(w, e->pl.u.spend.recipient, &e->recipient);
		if (err == SN_E_NOTFOUND)
			return SN_E_UNKNOWN_RECIPIENT;
		if (err)
			return err;
		return e->recipient.balance > UINT64_MAX - amount ? SN_E_OVERFLOW : SN_OK;
	}
	case GOV_KIND_CANCEL:
		if ((err = wtxn_proposal(w, e->pl.u.cancel.proposal_id, &e->target)))
			return err;
		return gov_proposal_cancel(e->target, height);
	default:
		return SN_OK;
	}
}

static int effect_apply(struct store_wtxn *w, struct effect *e, uint64_t height, uint64_t proposal_id,
                        struct store_account *signer)
{
	uint8_t buf[VALIDATORS_REC_MAX > GOV_COUNCIL_MAX ? VALIDATORS_REC_MAX : GOV_COUNCIL_MAX];
	struct sn_writer wr;
	size_t len;
	int err;

	switch (e->pl.kind) {
	case GOV_KIND_SET_PARAM: {
		struct store_params sp = *store_wtxn_params(w);

		if (e->pl.u.param.id == GOV_PARAM_MIN_FEE || e->pl.u.param.id == GOV_PARAM_MAX_BLOCK_TXS) {
			sp.min_fee = e->params.min_fee;
			sp.max_block_txs = (uint32_t)e->params.max_block_txs;
			return store_wtxn_params_set(w, &sp);
		}
		params_rec_encode(buf, &e->params);
		return store_wtxn_gov_put(w, KEY(NODE_GOV_KEY_PARAMS), buf, PARAMS_REC_LEN);
	}
	case GOV_KIND_CHANGE_MEMBERS:
		if ((err = gov_council_encode(buf, sizeof(buf), &len, &e->council)))
			return err;
		return store_wtxn_gov_put(w, KEY(NODE_GOV_KEY_COUNCIL), buf, len);
	case GOV_KIND_CHANGE_VALIDATORS:
		/* Signs blocks from the next height on: this block was proposed by the old set. */
		if ((err = validators_rec_encode(buf, sizeof(buf), &len, height + 1, &e->pl)))
			return err;
		return store_wtxn_gov_put(w, KEY(NODE_GOV_KEY_VALIDATORS), buf, len);
	case GOV_KIND_TREASURY_SPEND:
		if ((err = store_wtxn_treasury_sub(w, e->pl.u.spend.amount)))
			return err;
		if (e->spend_to_signer) {
			signer->balance += e->pl.u.spend.amount; /* checked; the fee comes off in charge() */
			return SN_OK;
		}
		e->recipient.balance += e->pl.u.spend.amount;
		return store_wtxn_account_put(w, &e->recipient);
	case GOV_KIND_PAUSE_TRANSFERS:
	case GOV_KIND_UNPAUSE_TRANSFERS:
		buf[0] = NODE_GOV_RECORD_V1;
		buf[1] = e->pl.kind == GOV_KIND_PAUSE_TRANSFERS;
		return store_wtxn_gov_put(w, KEY(NODE_GOV_KEY_PAUSED), buf, PAUSED_REC_LEN);
	case GOV_KIND_SIGNAL_UPGRADE:
		/* upgrade v1: u8 version | u64 proposal_id | u8 name_len | name | u64 activation_height */
		wr = sn_writer_init(buf, UPGRADE_REC_MAX);
		sn_write_u8(&wr, NODE_GOV_RECORD_V1);
		sn_write_le64(&wr, proposal_id);
		sn_write_u8(&wr, e->pl.u.upgrade.name_len);
		sn_write_bytes(&wr, e->pl.u.upgrade.name, e->pl.u.upgrade.name_len);
		sn_write_le64(&wr, e->pl.u.upgrade.activation_height);
		return store_wtxn_gov_put(w, KEY(NODE_GOV_KEY_UPGRADE), buf, wr.len);
	case GOV_KIND_CANCEL:
		return wtxn_proposal_put(w, e->target);
	default:
		return SN_E_PAYLOAD;
	}
}

static int apply_execute(struct store_wtxn *w, const struct store_tx *tx, uint64_t height,
                         struct store_account *signer)
{
	const struct store_info *tip = store_wtxn_info(w);
	struct node_gov_execute *ex = NULL;
	struct gov_proposal *prop = NULL;
	struct gov_proposal_info info;
	struct effect *e = NULL;
	int err;

	ex = sn_malloc(sizeof(*ex));
	e = sn_calloc(1, sizeof(*e));
	if (!ex || !e) {
		err = SN_E_NOMEM;
		goto out;
	}
	if (node_gov_execute_decode(ex, tx)) {
		err = SN_E_PAYLOAD;
		goto out;
	}
	if ((err = wtxn_proposal(w, ex->proposal_id, &prop)))
		goto out;
	/* Safe-style approvals first, in order, each as an APPROVE would be. */
	for (unsigned i = 0; i < ex->n; i++)
		if ((err = gov_proposal_approve(prop, tip->chain_id, height, ex->a[i].member, ex->a[i].sig, NULL)))
			goto out;
	if ((err = gov_proposal_mark_executed(prop, height)))
		goto out;
	if ((err = gov_proposal_payload_decode(prop, &e->pl))) {
		err = SN_E_CORRUPT; /* the record decoded, so its payload does */
		goto out;
	}
	if ((err = effect_check(w, e, tx, height, signer)))
		goto out;
	if (signer->balance < tx->fee) {
		err = SN_E_BALANCE;
		goto out;
	}
	gov_proposal_info_get(prop, &info);
	if ((err = effect_apply(w, e, height, info.id, signer)) || (err = wtxn_proposal_put(w, prop)))
		goto out;
	err = charge(w, signer, tx->fee);
	if (!err)
		SN_LOG(SN_LOG_INFO, "gov", "proposal %llu (%s) executed at height %llu", (unsigned long long)info.id,
		       gov_kind_name(info.kind), (unsigned long long)height);
out:
	if (e)
		gov_proposal_free(e->target);
	gov_proposal_free(prop);
	sn_free(e);
	sn_free(ex);
	return err;
}

int node__gov_apply(struct store_wtxn *w, const struct store_tx *tx, uint64_t height, struct store_account *signer)
{
	switch (tx->type) {
	case STORE_TX_GOV_PROPOSE:
		return apply_propose(w, tx, height, signer);
	case STORE_TX_GOV_APPROVE:
		return apply_approve(w, tx, height, signer);
	case STORE_TX_GOV_EXECUTE:
		return apply_execute(w, tx, height, signer);
	default:
		return SN_E_TYPE;
	}
}

/* ------------------------------------------------------------ reading at the tip */

int node_gov_proposal_get(struct store *st, uint64_t id, struct gov_proposal **out)
{
	uint8_t key[NODE_GOV_PROPOSAL_KEY_LEN], *v;
	size_t len;
	int err;

	*out = NULL;
	if (id == 0)
		return SN_E_UNKNOWN_PROPOSAL;
	node_gov_proposal_key(key, id);
	err = store_gov_get(st, key, sizeof(key), &v, &len);
	if (err == SN_E_NOTFOUND)
		return SN_E_UNKNOWN_PROPOSAL;
	if (err)
		return err;
	err = gov_proposal_decode(out, v, len);
	sn_free(v);
	return err && err != SN_E_NOMEM ? SN_E_CORRUPT : err;
}

int node_gov_params_get(struct store *st, struct gov_params *out)
{
	struct store_info info;
	uint8_t *v;
	size_t len;
	int err;

	store_info_get(st, &info);
	*out = (struct gov_params){ .min_fee = info.params.min_fee, .max_block_txs = info.params.max_block_txs,
		                    .timelock_blocks = NODE_GOV_TIMELOCK_DEFAULT,
		                    .proposal_max_deadline_blocks = NODE_GOV_DEADLINE_DEFAULT,
		                    .mempool_max_txs = NODE_GOV_MEMPOOL_TXS_DEFAULT,
		                    .mempool_max_bytes = NODE_GOV_MEMPOOL_BYTES_DEFAULT };
	err = store_gov_get(st, KEY(NODE_GOV_KEY_PARAMS), &v, &len);
	if (err == SN_E_NOTFOUND)
		return SN_OK;
	if (err)
		return err;
	err = params_rec_decode(out, v, len);
	sn_free(v);
	return err;
}

int node_gov_state_get(struct store *st, bool *paused, uint64_t *next_id)
{
	uint8_t *v;
	size_t len;
	int err;

	*paused = false;
	*next_id = 1;
	err = store_gov_get(st, KEY(NODE_GOV_KEY_PAUSED), &v, &len);
	if (err && err != SN_E_NOTFOUND)
		return err;
	if (!err) {
		err = paused_rec_decode(paused, v, len);
		sn_free(v);
		if (err)
			return err;
	}
	err = store_gov_get(st, KEY(NODE_GOV_KEY_NEXT_ID), &v, &len);
	if (err == SN_E_NOTFOUND)
		return SN_OK;
	if (err)
		return err;
	err = u64_rec_decode(next_id, v, len);
	sn_free(v);
	return err;
}

int node_gov_is_validator(struct store *st, const uint8_t key[GOV_VALIDATOR_KEY_LEN], uint64_t height, bool *yes)
{
	struct gov_payload *set;
	uint64_t from;
	uint8_t *v;
	size_t len;
	int err;

	*yes = false;
	err = store_gov_get(st, KEY(NODE_GOV_KEY_VALIDATORS), &v, &len);
	if (err == SN_E_NOTFOUND) {
		*yes = true;
		return SN_OK;
	}
	if (err)
		return err;
	set = sn_malloc(sizeof(*set));
	if (!set) {
		sn_free(v);
		return SN_E_NOMEM;
	}
	err = validators_rec_decode(&from, set, v, len);
	sn_free(v);
	/* The record holds the set in force from `from`; a height before it is past history that
	 * a producer never asks about (it only produces the next height). */
	if (!err && height >= from)
		for (size_t i = 0; i < set->u.validators.count; i++)
			if (memcmp(set->u.validators.v[i].key, key, GOV_VALIDATOR_KEY_LEN) == 0)
				*yes = true;
	if (!err && height < from)
		err = SN_E_INVAL;
	sn_free(set);
	return err;
}

struct foreach_ctx {
	store_gov_fn *fn;
	void *ud;
};

/* "params" and "paused" start with 'p' too: proposals are the 9-byte keys. */
static int foreach_proposal(void *ud, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct foreach_ctx *c = ud;

	return klen == NODE_GOV_PROPOSAL_KEY_LEN ? c->fn(c->ud, key, klen, val, vlen) : 0;
}

int node_gov_proposal_foreach(struct store *st, store_gov_fn *fn, void *ud)
{
	struct foreach_ctx c = { fn, ud };

	return store_gov_foreach(st, "p", 1, foreach_proposal, &c);
}
