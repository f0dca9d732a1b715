/* tests/node/test_governance.c — governance through transactions on a real store and engine:
 * the whole lifecycle (propose, approve from both tracks to 65%, timelock, execute) and each
 * effect, every error, and two stores replaying the same blocks to the same state root. */
#include "testutil.h"

#include <stdlib.h>

#include "node/node.h"

#define FEE 3
#define TIMELOCK 2
#define MAX_DEADLINE 100
#define N_DEV 3
#define N_COMM 7
#define DEV(i) (101 + (i))  /* key indexes of the developers */
#define COMM(i) (201 + (i)) /* and of the community members */
#define OUTSIDER 999
#define MAX_BLOCKS 512

struct fixture {
	char *dir;
	struct store *st;
	struct node_engine *eng;
	uint8_t *blocks[MAX_BLOCKS];
	size_t lens[MAX_BLOCKS], n_blocks;
	uint8_t val_pk[32], val2_pk[32];
};

static struct store *gov_store_new(char **dir, const uint8_t val_pk[32])
{
	struct store_opts o = { .chain_id = TU_CHAIN, .map_size = 64u << 20, .no_sync = true };
	struct gov_council *c = calloc(1, sizeof(*c));
	struct gov_validator v = { .power = 10 };
	struct gov_params p = { .min_fee = FEE, .max_block_txs = 1000, .timelock_blocks = TIMELOCK,
		                .proposal_max_deadline_blocks = MAX_DEADLINE, .mempool_max_txs = 1000,
		                .mempool_max_bytes = 1 << 20 };
	struct store_gov_record *recs;
	struct store_genesis g;
	struct store *st;
	size_t n;

	assert_non_null(c);
	c->track[GOV_TRACK_DEV].count = N_DEV;
	for (int i = 0; i < N_DEV; i++) {
		tu_pk(DEV(i), c->track[GOV_TRACK_DEV].members[i].key);
		c->track[GOV_TRACK_DEV].members[i].weight = 1;
	}
	c->track[GOV_TRACK_COMMUNITY].count = N_COMM;
	for (int i = 0; i < N_COMM; i++) {
		tu_pk(COMM(i), c->track[GOV_TRACK_COMMUNITY].members[i].key);
		c->track[GOV_TRACK_COMMUNITY].members[i].weight = 1;
	}
	gov_track_members_sort(&c->track[0]);
	gov_track_members_sort(&c->track[1]);
	memcpy(v.key, val_pk, 32);
	assert_int_equal(node_gov_genesis_records(&recs, &n, c, &v, 1, &p), SN_OK);
	free(c);

	*dir = tu_tmpdir("sn-gov");
	assert_non_null(*dir);
	assert_int_equal(store_open(&st, *dir, &o), SN_OK);
	memset(&g, 0, sizeof(g));
	tu_pk(0, g.root);
	g.root_balance = 1000000000000ull;
	g.params.min_fee = FEE;
	g.params.max_block_txs = 1000;
	g.time_ms = 1700000000000ull;
	g.gov = recs;
	g.n_gov = n;
	assert_int_equal(store_genesis_init(st, &g), SN_OK);
	sn_free(recs);
	return st;
}

static struct fixture *fx_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct node_engine_opts o = { .threads = 2 };

	assert_non_null(f);
	memset(f->val_pk, 0xaa, 32);
	memset(f->val2_pk, 0xbb, 32);
	f->st = gov_store_new(&f->dir, f->val_pk);
	assert_int_equal(node_engine_new(&f->eng, f->st, &o), SN_OK);
	return f;
}

static void fx_free(struct fixture *f)
{
	node_engine_free(f->eng);
	store_close(f->st);
	tu_rmtree(f->dir);
	free(f->dir);
	for (size_t i = 0; i < f->n_blocks; i++)
		sn_free(f->blocks[i]);
	free(f);
}

static uint64_t height(struct fixture *f)
{
	struct store_info i;

	store_info_get(f->st, &i);
	return i.height;
}

/* Proposes a block of the given transactions (kept for replay); returns the first's result. */
static int block(struct fixture *f, const uint8_t *tx, size_t len)
{
	const uint8_t *txs[1] = { tx };
	size_t lens[1] = { len }, inc, n = tx ? 1 : 0;
	int errs[1] = { SN_OK };
	uint8_t *blk;
	size_t blen;

	assert_int_equal(node_engine_propose(f->eng, txs, lens, n, &(struct node_propose_opts){ .time_ms = 1700000001000ull },
	                                     errs, &blk, &blen, &inc),
	                 SN_OK);
	assert_true(f->n_blocks < MAX_BLOCKS);
	f->blocks[f->n_blocks] = blk;
	f->lens[f->n_blocks++] = blen;
	assert_int_equal(inc, n && errs[0] == SN_OK ? 1 : 0);
	return errs[0];
}

static void empty_blocks(struct fixture *f, unsigned n)
{
	while (n--)
		assert_int_equal(block(f, NULL, 0), SN_OK);
}

static uint64_t nonce_of(struct fixture *f, uint64_t i)
{
	uint8_t pk[32];
	struct store_account a;

	tu_pk(i, pk);
	assert_int_equal(store_account_get(f->st, pk, &a), SN_OK);
	return a.nonce;
}

static uint64_t balance_of(struct fixture *f, uint64_t i)
{
	uint8_t pk[32];
	struct store_account a;

	tu_pk(i, pk);
	assert_int_equal(store_account_get(f->st, pk, &a), SN_OK);
	return a.balance;
}

/* A governance transaction signed by key signer (its next nonce) with payload. */
static size_t gov_tx(uint8_t out[STORE_TX_MAX], uint8_t type, uint64_t signer, uint64_t nonce, uint64_t fee,
                     uint32_t chain, const uint8_t *payload, size_t plen)
{
	struct store_tx tx = { .version = STORE_TX_V1, .type = type, .chain_id = chain, .nonce = nonce,
		               .fee = fee, .payload = payload, .payload_len = (uint16_t)plen };

	return tu_tx_signed(out, &tx, signer);
}

/* Submits a governance transaction from the root (key 0) in its own block. */
static int submit(struct fixture *f, uint8_t type, const uint8_t *payload, size_t plen)
{
	static uint8_t raw[STORE_TX_MAX];
	size_t len = gov_tx(raw, type, 0, nonce_of(f, 0), FEE, TU_CHAIN, payload, plen);

	return block(f, raw, len);
}

static int propose_raw(struct fixture *f, uint8_t kind, uint64_t deadline, const uint8_t *pl, size_t plen)
{
	uint8_t buf[STORE_TX_PAYLOAD_MAX];
	size_t len;

	assert_int_equal(node_gov_propose_encode(buf, sizeof(buf), &len, kind, deadline, pl, plen), SN_OK);
	return submit(f, STORE_TX_GOV_PROPOSE, buf, len);
}

/* Proposes p with a deadline `span` blocks after the block that creates it; *id gets its id. */
static int propose(struct fixture *f, const struct gov_payload *p, uint64_t span, uint64_t *id)
{
	uint8_t pl[GOV_PAYLOAD_MAX];
	size_t plen;
	bool paused;
	int err;

	assert_int_equal(gov_payload_encode(pl, sizeof(pl), &plen, p), SN_OK);
	assert_int_equal(node_gov_state_get(f->st, &paused, id), SN_OK);
	err = propose_raw(f, p->kind, height(f) + 1 + span, pl, plen);
	return err;
}

static void payload_hash_of(struct fixture *f, uint64_t id, uint8_t hash[SN_HASH_LEN])
{
	struct gov_proposal *p;
	struct gov_proposal_info info;

	memset(hash, 0, SN_HASH_LEN);
	if (node_gov_proposal_get(f->st, id, &p) != SN_OK)
		return; /* an unknown proposal: any hash */
	gov_proposal_info_get(p, &info);
	memcpy(hash, info.payload_hash, SN_HASH_LEN);
	gov_proposal_free(p);
}

static void sign_approval(struct fixture *f, struct node_gov_approval *a, uint64_t id, uint64_t member,
                          uint32_t chain)
{
	uint8_t sk[SN_SECKEY_LEN], hash[SN_HASH_LEN];

	payload_hash_of(f, id, hash);
	tu_key(member, sk, a->member);
	assert_int_equal(node_gov_approval_sign(a, chain, id, hash, sk), SN_OK);
}

static int approve_signed(struct fixture *f, uint64_t id, const struct node_gov_approval *a)
{
	uint8_t buf[STORE_TX_APPROVE_LEN];
	size_t len;

	assert_int_equal(node_gov_approve_encode(buf, sizeof(buf), &len, id, a), SN_OK);
	return submit(f, STORE_TX_GOV_APPROVE, buf, len);
}

static int approve(struct fixture *f, uint64_t id, uint64_t member)
{
	struct node_gov_approval a;

	sign_approval(f, &a, id, member, TU_CHAIN);
	return approve_signed(f, id, &a);
}

static int execute_with(struct fixture *f, uint64_t id, const uint64_t *members, unsigned n)
{
	struct node_gov_execute *e = calloc(1, sizeof(*e));
	uint8_t buf[STORE_TX_PAYLOAD_MAX];
	size_t len;

	assert_non_null(e);
	e->proposal_id = id;
	e->n = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		sign_approval(f, &e->a[i], id, members[i], TU_CHAIN);
	assert_int_equal(node_gov_execute_encode(buf, sizeof(buf), &len, e), SN_OK);
	free(e);
	return submit(f, STORE_TX_GOV_EXECUTE, buf, len);
}

static int execute(struct fixture *f, uint64_t id)
{
	return execute_with(f, id, NULL, 0);
}

/* 2 of 3 developers and 5 of 7 community members: 33.3% + 35.7% = 69.0% ≥ 65%. */
static const uint64_t passing[] = { DEV(0), DEV(1), COMM(0), COMM(1), COMM(2), COMM(3), COMM(4) };

static void approve_passing(struct fixture *f, uint64_t id)
{
	for (size_t i = 0; i < SN_ARRAY_LEN(passing); i++)
		assert_int_equal(approve(f, id, passing[i]), SN_OK);
}

/* Proposes p, approves it to passing, waits out the timelock and executes it. */
static uint64_t pass(struct fixture *f, const struct gov_payload *p)
{
	uint64_t id;

	assert_int_equal(propose(f, p, 60, &id), SN_OK);
	approve_passing(f, id);
	empty_blocks(f, TIMELOCK);
	assert_int_equal(execute(f, id), SN_OK);
	return id;
}

static struct gov_view view_of(struct fixture *f, uint64_t id)
{
	struct gov_proposal *p;
	struct gov_view v;

	assert_int_equal(node_gov_proposal_get(f->st, id, &p), SN_OK);
	gov_proposal_view(p, height(f), &v);
	gov_proposal_free(p);
	return v;
}

static size_t transfer(uint8_t out[STORE_TX_MAX], struct fixture *f, uint64_t from, uint64_t to, uint64_t fee)
{
	uint8_t pk[32];

	tu_pk(to, pk);
	return tu_tx(out, STORE_TX_TRANSFER, from, nonce_of(f, from), fee, pk, 10);
}

static void register_account(struct fixture *f, uint64_t i, uint64_t amount)
{
	uint8_t raw[STORE_TX_MAX], pk[32];
	size_t len;

	tu_pk(i, pk);
	len = tu_tx(raw, STORE_TX_REGISTER, 0, nonce_of(f, 0), FEE, pk, amount);
	assert_int_equal(block(f, raw, len), SN_OK);
}

/* ------------------------------------------------------------------ lifecycle */

static void test_set_param_lifecycle(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_SET_PARAM, .u.param = { GOV_PARAM_MIN_FEE, 5 } };
	struct store_info info;
	struct gov_view v;
	uint8_t raw[STORE_TX_MAX];
	uint64_t id;
	size_t len;

	(void)state;
	register_account(f, 1, 1000);
	assert_int_equal(propose(f, &p, 60, &id), SN_OK);
	assert_int_equal(id, 1);
	v = view_of(f, id);
	assert_int_equal(v.status, GOV_STATUS_PROPOSED);
	assert_int_equal(v.tally.dev_total, 3);
	assert_int_equal(v.tally.comm_total, 7);
	/* 2 developers and 4 community members: 33.3% + 28.6% = 61.9%, not enough. */
	for (size_t i = 0; i < SN_ARRAY_LEN(passing) - 1; i++)
		assert_int_equal(approve(f, id, passing[i]), SN_OK);
	v = view_of(f, id);
	assert_int_equal(v.approval_bps, 6190);
	assert_int_equal(v.status, GOV_STATUS_PROPOSED);
	assert_int_equal(execute(f, id), SN_E_NOT_APPROVED);
	/* The fifth community member: 69.0%, approved; timelocked for 2 blocks. */
	assert_int_equal(approve(f, id, passing[SN_ARRAY_LEN(passing) - 1]), SN_OK);
	v = view_of(f, id);
	assert_int_equal(v.approval_bps, 6904);
	assert_int_equal(v.status, GOV_STATUS_TIMELOCKED);
	assert_int_equal(v.approved_height, height(f));
	/* EXECUTE in the next block: height approved + 1 < approved + 2. */
	assert_int_equal(execute(f, id), SN_E_TIMELOCK);
	assert_int_equal(execute(f, id), SN_OK);
	v = view_of(f, id);
	assert_int_equal(v.status, GOV_STATUS_EXECUTED);
	store_info_get(f->st, &info);
	assert_true(info.params.min_fee == 5);
	/* In effect: the old fee is refused, the new one accepted. */
	len = transfer(raw, f, 0, 1, FEE);
	assert_int_equal(block(f, raw, len), SN_E_FEE);
	len = transfer(raw, f, 0, 1, 5);
	assert_int_equal(block(f, raw, len), SN_OK);
	assert_int_equal(execute(f, id), SN_E_FEE); /* with the old fee */
	fx_free(f);
}

static void test_param_in_record(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_SET_PARAM, .u.param = { GOV_PARAM_TIMELOCK_BLOCKS, 0 } };
	struct gov_params gp;
	uint64_t id;
	static const uint64_t all[] = { DEV(0), DEV(1), COMM(0), COMM(1), COMM(2), COMM(3), COMM(4) };

	(void)state;
	pass(f, &p);
	assert_int_equal(node_gov_params_get(f->st, &gp), SN_OK);
	assert_true(gp.timelock_blocks == 0);
	assert_true(gp.min_fee == FEE);
	/* With timelock 0, Safe-style: approvals carried by EXECUTE execute in one block. */
	p.u.param.id = GOV_PARAM_MAX_BLOCK_TXS;
	p.u.param.value = 77;
	assert_int_equal(propose(f, &p, 60, &id), SN_OK);
	assert_int_equal(execute_with(f, id, all, SN_ARRAY_LEN(all) - 1), SN_E_NOT_APPROVED);
	assert_int_equal(execute_with(f, id, all, SN_ARRAY_LEN(all)), SN_OK);
	assert_int_equal(node_gov_params_get(f->st, &gp), SN_OK);
	assert_true(gp.max_block_txs == 77);
	/* A SET_PARAM that the parameters of the moment refuse does not execute. */
	p.u.param.id = GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS;
	p.u.param.value = 50;
	assert_int_equal(propose(f, &p, 60, &id), SN_OK);
	{
		struct gov_payload t = { .kind = GOV_KIND_SET_PARAM, .u.param = { GOV_PARAM_TIMELOCK_BLOCKS, 60 } };
		uint64_t id2;

		/* timelock 60 ≤ max deadline 100 now; after it, max deadline 50 < 60 is refused. */
		assert_int_equal(propose(f, &t, 60, &id2), SN_OK);
		assert_int_equal(execute_with(f, id2, all, SN_ARRAY_LEN(all)), SN_OK);
	}
	assert_int_equal(execute_with(f, id, all, SN_ARRAY_LEN(all)), SN_E_PAYLOAD);
	fx_free(f);
}

static void test_pause_and_unpause(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_PAUSE_TRANSFERS };
	uint8_t raw[STORE_TX_MAX];
	bool paused;
	uint64_t next;
	size_t len;

	(void)state;
	register_account(f, 1, 1000);
	pass(f, &p);
	assert_int_equal(node_gov_state_get(f->st, &paused, &next), SN_OK);
	assert_true(paused);
	len = transfer(raw, f, 0, 1, FEE);
	assert_int_equal(block(f, raw, len), SN_E_PAUSED);
	/* Registrations and governance go on. */
	register_account(f, 2, 0);
	p.kind = GOV_KIND_UNPAUSE_TRANSFERS;
	pass(f, &p);
	assert_int_equal(node_gov_state_get(f->st, &paused, &next), SN_OK);
	assert_false(paused);
	assert_int_equal(next, 3);
	len = transfer(raw, f, 0, 1, FEE);
	assert_int_equal(block(f, raw, len), SN_OK);
	fx_free(f);
}

static void test_treasury_spend(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_TREASURY_SPEND };
	struct store_info before, after;
	uint64_t id, b1;

	(void)state;
	register_account(f, 1, 0);
	tu_pk(1, p.u.spend.recipient);
	p.u.spend.amount = 20;
	pass(f, &p);
	/* Every transaction so far was the root's and paid FEE into the treasury; 20 went out. */
	store_info_get(f->st, &after);
	assert_true(after.treasury == nonce_of(f, 0) * FEE - 20);
	assert_true(balance_of(f, 1) == 20);
	/* More than the treasury holds: refused at execute, nothing moves. */
	p.u.spend.amount = 1000000;
	assert_int_equal(propose(f, &p, 60, &id), SN_OK);
	approve_passing(f, id);
	empty_blocks(f, TIMELOCK);
	store_info_get(f->st, &before);
	b1 = balance_of(f, 1);
	assert_int_equal(execute(f, id), SN_E_BALANCE);
	store_info_get(f->st, &after);
	assert_true(after.treasury == before.treasury);
	assert_true(balance_of(f, 1) == b1);
	/* To an account that is not registered. */
	tu_pk(55, p.u.spend.recipient);
	p.u.spend.amount = 1;
	assert_int_equal(propose(f, &p, 60, &id), SN_OK);
	approve_passing(f, id);
	empty_blocks(f, TIMELOCK);
	assert_int_equal(execute(f, id), SN_E_UNKNOWN_RECIPIENT);
	fx_free(f);
}

static void test_member_change_applies_to_later_proposals(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload m = { .kind = GOV_KIND_CHANGE_MEMBERS };
	struct gov_payload p = { .kind = GOV_KIND_PAUSE_TRANSFERS };
	uint64_t before, after;

	(void)state;
	assert_int_equal(propose(f, &p, 90, &before), SN_OK);
	/* Developers become the single member 301. */
	m.u.members.track = GOV_TRACK_DEV;
	m.u.members.list.count = 1;
	tu_pk(301, m.u.members.list.members[0].key);
	m.u.members.list.members[0].weight = 1;
	pass(f, &m);
	assert_int_equal(propose(f, &p, 60, &after), SN_OK);
	/* The earlier proposal keeps its recorded developers: 101 counts, 301 is not one. */
	assert_int_equal(approve(f, before, DEV(0)), SN_OK);
	assert_int_equal(approve(f, before, 301), SN_E_NOT_MEMBER);
	assert_int_equal(view_of(f, before).tally.dev_total, 3);
	/* The later one has the new developers only. */
	assert_int_equal(approve(f, after, DEV(0)), SN_E_NOT_MEMBER);
	assert_int_equal(approve(f, after, 301), SN_OK);
	assert_int_equal(view_of(f, after).tally.dev_total, 1);
	assert_int_equal(view_of(f, after).tally.dev_yes, 1);
	fx_free(f);
}

static void test_validator_change_from_next_height(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_CHANGE_VALIDATORS };
	uint64_t h;
	bool yes;

	(void)state;
	p.u.validators.count = 1;
	memcpy(p.u.validators.v[0].key, f->val2_pk, 32);
	p.u.validators.v[0].power = 3;
	assert_int_equal(node_gov_is_validator(f->st, f->val_pk, height(f) + 1, &yes), SN_OK);
	assert_true(yes);
	assert_int_equal(node_gov_is_validator(f->st, f->val2_pk, height(f) + 1, &yes), SN_OK);
	assert_false(yes);
	pass(f, &p);
	h = height(f); /* the block that executed it */
	assert_int_equal(node_gov_is_validator(f->st, f->val_pk, h + 1, &yes), SN_OK);
	assert_false(yes);
	assert_int_equal(node_gov_is_validator(f->st, f->val2_pk, h + 1, &yes), SN_OK);
	assert_true(yes);
	/* The executing block itself was the old set's: the record says from h + 1. */
	assert_int_equal(node_gov_is_validator(f->st, f->val2_pk, h, &yes), SN_E_INVAL);
	fx_free(f);
}

static void test_upgrade_and_cancel(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload u = { .kind = GOV_KIND_SIGNAL_UPGRADE };
	struct gov_payload c = { .kind = GOV_KIND_CANCEL };
	uint8_t *rec;
	size_t len;
	uint64_t target, cid;

	(void)state;
	u.u.upgrade.name_len = 4;
	memcpy(u.u.upgrade.name, "v1.1", 5);
	u.u.upgrade.activation_height = 5000;
	pass(f, &u);
	assert_int_equal(store_gov_get(f->st, "upgrade", 7, &rec, &len), SN_OK);
	assert_int_equal(len, 1 + 8 + 1 + 4 + 8);
	assert_memory_equal(rec + 10, "v1.1", 4);
	sn_free(rec);
	/* A CANCEL closes its target for good. */
	assert_int_equal(propose(f, &u, 90, &target), SN_OK);
	approve_passing(f, target);
	c.u.cancel.proposal_id = target;
	cid = pass(f, &c);
	assert_int_equal(view_of(f, target).status, GOV_STATUS_CANCELLED);
	assert_int_equal(view_of(f, cid).status, GOV_STATUS_EXECUTED);
	assert_int_equal(execute(f, target), SN_E_PROPOSAL_CANCELLED);
	assert_int_equal(approve(f, target, DEV(2)), SN_E_PROPOSAL_CANCELLED);
	/* A CANCEL of a proposal that does not exist is refused when proposed. */
	c.u.cancel.proposal_id = 1000;
	assert_int_equal(propose(f, &c, 60, &cid), SN_E_UNKNOWN_PROPOSAL);
	/* Cancelling an executed proposal: the CANCEL does not execute. */
	c.u.cancel.proposal_id = 1;
	assert_int_equal(propose(f, &c, 60, &cid), SN_OK);
	approve_passing(f, cid);
	empty_blocks(f, TIMELOCK);
	assert_int_equal(execute(f, cid), SN_E_EXECUTED);
	assert_int_equal(view_of(f, cid).state, GOV_STATE_APPROVED);
	fx_free(f);
}

static int count_one(void *ud, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct gov_proposal *p;
	uint64_t *n = ud;

	assert_int_equal(klen, NODE_GOV_PROPOSAL_KEY_LEN);
	assert_int_equal(key[0], 'p');
	assert_int_equal(gov_proposal_decode(&p, val, vlen), SN_OK);
	gov_proposal_free(p);
	(*n)++;
	return 0;
}

/* The listing sees proposals only (not "params" or "paused"), in id order. */
static void test_proposal_foreach(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_PAUSE_TRANSFERS };
	uint64_t id, n = 0;

	(void)state;
	assert_int_equal(node_gov_proposal_foreach(f->st, count_one, &n), 0);
	assert_int_equal(n, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(propose(f, &p, 30, &id), SN_OK);
	assert_int_equal(node_gov_proposal_foreach(f->st, count_one, &n), 0);
	assert_int_equal(n, 3);
	fx_free(f);
}

/* ------------------------------------------------------------------ errors */

static void test_errors(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_PAUSE_TRANSFERS };
	struct node_gov_approval a;
	uint64_t id, other;
	uint8_t pl[STORE_TX_APPROVE_LEN], raw[STORE_TX_MAX];
	size_t len;

	(void)state;
	assert_int_equal(propose(f, &p, 60, &id), SN_OK);
	assert_int_equal(propose(f, &(struct gov_payload){ .kind = GOV_KIND_UNPAUSE_TRANSFERS }, 60, &other), SN_OK);
	/* not a member */
	assert_int_equal(approve(f, id, OUTSIDER), SN_E_NOT_MEMBER);
	/* duplicate approval */
	assert_int_equal(approve(f, id, DEV(0)), SN_OK);
	assert_int_equal(approve(f, id, DEV(0)), SN_E_DUP_APPROVAL);
	/* signature over another proposal's payload, over another chain */
	sign_approval(f, &a, other, DEV(1), TU_CHAIN);
	assert_int_equal(approve_signed(f, id, &a), SN_E_APPROVAL_SIG);
	sign_approval(f, &a, id, DEV(1), TU_CHAIN + 1);
	assert_int_equal(approve_signed(f, id, &a), SN_E_APPROVAL_SIG);
	/* another member's key with this member's signature */
	sign_approval(f, &a, id, DEV(1), TU_CHAIN);
	tu_pk(DEV(2), a.member);
	assert_int_equal(approve_signed(f, id, &a), SN_E_APPROVAL_SIG);
	/* unknown proposal */
	assert_int_equal(approve(f, 99, DEV(1)), SN_E_UNKNOWN_PROPOSAL);
	assert_int_equal(execute(f, 99), SN_E_UNKNOWN_PROPOSAL);
	assert_int_equal(execute(f, 0), SN_E_UNKNOWN_PROPOSAL);
	/* not approved: a direct attempt at the permission */
	assert_int_equal(execute(f, id), SN_E_NOT_APPROVED);
	/* an EXECUTE whose carried approvals include a bad one is refused whole */
	{
		const uint64_t m[] = { DEV(1), OUTSIDER };

		assert_int_equal(execute_with(f, id, m, 2), SN_E_NOT_MEMBER);
		assert_int_equal(view_of(f, id).dev_approvals, 1);
	}
	/* timelock, then executed, then already executed */
	for (size_t i = 1; i < SN_ARRAY_LEN(passing); i++)
		assert_int_equal(approve(f, id, passing[i]), SN_OK);
	assert_int_equal(execute(f, id), SN_E_TIMELOCK);
	assert_int_equal(execute(f, id), SN_OK);
	assert_int_equal(execute(f, id), SN_E_EXECUTED);
	assert_int_equal(approve(f, id, DEV(2)), SN_E_EXECUTED);
	/* expired: past its deadline, nothing happens to it */
	empty_blocks(f, 61);
	assert_int_equal(approve(f, other, DEV(0)), SN_E_EXPIRED);
	assert_int_equal(execute(f, other), SN_E_EXPIRED);
	/* malformed payloads: a bad SET_PARAM, an unknown kind, a payload with a trailing byte */
	pl[0] = 1;
	pl[1] = 99; /* no such parameter */
	memset(pl + 2, 0, 8);
	assert_int_equal(propose_raw(f, GOV_KIND_SET_PARAM, height(f) + 20, pl, 10), SN_E_PAYLOAD);
	assert_int_equal(propose_raw(f, 9, height(f) + 20, pl, 1), SN_E_PAYLOAD);
	assert_int_equal(propose_raw(f, 0, height(f) + 20, pl, 1), SN_E_PAYLOAD);
	pl[1] = 0;
	assert_int_equal(propose_raw(f, GOV_KIND_PAUSE_TRANSFERS, height(f) + 20, pl, 2), SN_E_PAYLOAD);
	/* a deadline too near or too far */
	pl[0] = 1;
	assert_int_equal(propose_raw(f, GOV_KIND_PAUSE_TRANSFERS, height(f) + 1, pl, 1), SN_E_INVAL);
	assert_int_equal(propose_raw(f, GOV_KIND_PAUSE_TRANSFERS, height(f) + 2 + MAX_DEADLINE, pl, 1), SN_E_INVAL);
	/* a CHANGE_MEMBERS with a key that is not on the curve */
	{
		struct gov_payload m = { .kind = GOV_KIND_CHANGE_MEMBERS };
		uint8_t buf[GOV_PAYLOAD_MAX];

		m.u.members.list.count = 1;
		memset(m.u.members.list.members[0].key, 0xff, 32);
		m.u.members.list.members[0].weight = 1;
		assert_int_equal(gov_payload_encode(buf, sizeof(buf), &len, &m), SN_OK);
		assert_int_equal(propose_raw(f, m.kind, height(f) + 20, buf, len), SN_E_BADKEY);
	}
	/* an unregistered signer, a wrong nonce, a low fee: as for any transaction */
	pl[0] = GOV_KIND_PAUSE_TRANSFERS;
	memset(pl + 1, 0, 8);
	pl[1] = 50;
	pl[9] = 1;
	len = gov_tx(raw, STORE_TX_GOV_PROPOSE, OUTSIDER, 0, FEE, TU_CHAIN, pl, 10);
	assert_int_equal(block(f, raw, len), SN_E_UNKNOWN_ACCOUNT);
	len = gov_tx(raw, STORE_TX_GOV_PROPOSE, 0, nonce_of(f, 0) + 1, FEE, TU_CHAIN, pl, 10);
	assert_int_equal(block(f, raw, len), SN_E_NONCE);
	len = gov_tx(raw, STORE_TX_GOV_PROPOSE, 0, nonce_of(f, 0), FEE - 1, TU_CHAIN, pl, 10);
	assert_int_equal(block(f, raw, len), SN_E_FEE);
	/* no other path: an unknown transaction type (6) is refused by the decoder */
	len = gov_tx(raw, STORE_TX_GOV_APPROVE, 0, nonce_of(f, 0), FEE, TU_CHAIN, pl, STORE_TX_APPROVE_LEN);
	raw[1] = 6;
	{
		struct store_tx t;
		uint8_t txid[32];

		assert_int_equal(node_tx_check(raw, len, TU_CHAIN, &t, txid), SN_E_TYPE);
		assert_int_equal(block(f, raw, len), SN_E_TYPE);
	}
	/* a governance transaction signed for another chain */
	len = gov_tx(raw, STORE_TX_GOV_PROPOSE, 0, nonce_of(f, 0), FEE, TU_CHAIN + 1, pl, 10);
	assert_int_equal(block(f, raw, len), SN_E_CHAIN);
	fx_free(f);
}

/* A proposer whose balance cannot pay the fee: refused, and nothing changes. */
static void test_fee_and_nothing_changes_on_error(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_PAUSE_TRANSFERS };
	uint8_t pl[GOV_PAYLOAD_MAX], buf[STORE_TX_PAYLOAD_MAX], raw[STORE_TX_MAX], r1[32], r2[32];
	struct store_info i1, i2;
	size_t plen, len;
	uint64_t id;

	(void)state;
	register_account(f, 1, FEE - 1);
	assert_int_equal(gov_payload_encode(pl, sizeof(pl), &plen, &p), SN_OK);
	assert_int_equal(node_gov_propose_encode(buf, sizeof(buf), &len, p.kind, height(f) + 30, pl, plen), SN_OK);
	len = gov_tx(raw, STORE_TX_GOV_PROPOSE, 1, 0, FEE, TU_CHAIN, buf, len);
	store_info_get(f->st, &i1);
	assert_int_equal(block(f, raw, len), SN_E_BALANCE);
	store_info_get(f->st, &i2);
	/* The empty block changed nothing but the height: same state root. */
	memcpy(r1, i1.state_root, 32);
	memcpy(r2, i2.state_root, 32);
	assert_memory_equal(r1, r2, 32);
	assert_int_equal(propose(f, &p, 30, &id), SN_OK);
	assert_int_equal(id, 1); /* the failed PROPOSE took no id */
	fx_free(f);
}

/* ------------------------------------------------------------------ determinism */

static void test_replay_same_state_root(void **state)
{
	struct fixture *f = fx_new();
	struct gov_payload p = { .kind = GOV_KIND_SET_PARAM, .u.param = { GOV_PARAM_MIN_FEE, 4 } };
	struct gov_payload s = { .kind = GOV_KIND_TREASURY_SPEND, .u.spend = { .amount = 5 } };
	struct node_engine *eng2;
	struct store *st2;
	struct store_info a, b;
	struct node_block_result res;
	size_t applied;
	char *dir2;

	(void)state;
	register_account(f, 1, 100);
	tu_pk(1, s.u.spend.recipient);
	pass(f, &s);
	pass(f, &p);
	st2 = gov_store_new(&dir2, f->val_pk);
	assert_int_equal(node_engine_new(&eng2, st2, &(struct node_engine_opts){ .threads = 3 }), SN_OK);
	assert_int_equal(node_engine_apply_blocks(eng2, (const uint8_t *const *)f->blocks, f->lens, NULL, NULL,
	                                          f->n_blocks, &applied, &res),
	                 SN_OK);
	assert_int_equal(applied, f->n_blocks);
	store_info_get(f->st, &a);
	store_info_get(st2, &b);
	assert_true(a.height == b.height);
	assert_memory_equal(a.state_root, b.state_root, 32);
	assert_true(b.params.min_fee == 4);
	/* A store without the same governance records does not reach the same root. */
	node_engine_free(eng2);
	store_close(st2);
	tu_rmtree(dir2);
	free(dir2);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_param_lifecycle),
		cmocka_unit_test(test_param_in_record),
		cmocka_unit_test(test_pause_and_unpause),
		cmocka_unit_test(test_treasury_spend),
		cmocka_unit_test(test_member_change_applies_to_later_proposals),
		cmocka_unit_test(test_validator_change_from_next_height),
		cmocka_unit_test(test_upgrade_and_cancel),
		cmocka_unit_test(test_proposal_foreach),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_fee_and_nothing_changes_on_error),
		cmocka_unit_test(test_replay_same_state_root),
	};

	if (sn_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
