/* tests/storage/test_store.c — the LMDB store: genesis, reopen and rebuild, schema and chain
 * checks, corruption detection, map growth, reads, abort, crash atomicity (kill -9 of a
 * writer mid-commit, then reopen), and commit groups (the same for several blocks at once). */
#include "testutil.h"

#include "storage/store_int.h"

#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Commits one block that registers n new accounts (keys first..first+n-1) under sponsor
 * key index `sponsor`, each funded with 1, and makes the sponsor send volume. */
static int commit_register_block_in(struct store *st, struct store_group *g, uint64_t sponsor, uint64_t first,
                                    uint32_t n)
{
	struct store_wtxn *w;
	struct store_account sp, fresh;
	struct store_block_header h;
	uint8_t pk[SN_PUBKEY_LEN], block[STORE_BLOCK_HEADER_LEN];
	const struct store_info *tip;
	int err;

	if ((err = g ? store_wtxn_begin_in(g, &w) : store_wtxn_begin(st, &w)))
		return err;
	tip = store_wtxn_info(w);
	tu_pk(sponsor, pk);
	if ((err = store_wtxn_account_get(w, pk, &sp)))
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		tu_pk(first + i, pk);
		if ((err = store_wtxn_account_create(w, pk, &sp, tip->height + 1, 1, &fresh)))
			goto fail;
		sp.balance -= 1;
		sp.personal_volume += 1;
	}
	if ((err = store_wtxn_account_put(w, &sp)))
		goto fail;
	tu_header_next(&h, tip, NULL, 0);
	if ((err = store_wtxn_state_root(w, h.state_root)))
		goto fail;
	store_block_header_encode(block, &h);
	return store_wtxn_commit(w, &h, block, sizeof(block), NULL, 0);
fail:
	store_wtxn_abort(w);
	return err;
}

static int commit_register_block(struct store *st, uint64_t sponsor, uint64_t first, uint32_t n)
{
	return commit_register_block_in(st, NULL, sponsor, first, n);
}

static void test_genesis_and_reopen(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000000, 1, true);
	struct store_opts o = { .chain_id = TU_CHAIN };
	struct store_info a, b;
	struct store_account acc;
	struct store_team team;
	struct store_genesis g;
	uint8_t pk[SN_PUBKEY_LEN], *blk;
	size_t len;
	uint64_t h;

	(void)state;
	store_info_get(st, &a);
	assert_true(a.has_genesis);
	assert_int_equal(a.height, 0);
	assert_int_equal(a.accounts, 1);
	/* genesis twice is refused */
	memset(&g, 0, sizeof(g));
	g.params.max_block_txs = 1;
	assert_int_equal(store_genesis_init(st, &g), SN_E_EXISTS);
	for (uint64_t b0 = 0; b0 < 5; b0++)
		assert_int_equal(commit_register_block(st, b0 * 10, b0 * 10 + 1, 10), SN_OK);
	store_info_get(st, &a);
	assert_int_equal(a.height, 5);
	assert_int_equal(a.accounts, 51);
	tu_pk(0, pk);
	assert_int_equal(store_team_get(st, pk, &team), SN_OK);
	assert_int_equal(team.size, 50);
	assert_true(team.volume == 50);
	assert_int_equal(store_block_get(st, 3, &blk, &len), SN_OK);
	assert_int_equal(len, STORE_BLOCK_HEADER_LEN);
	sn_free(blk);
	assert_int_equal(store_block_get(st, 6, &blk, &len), SN_E_NOTFOUND);
	assert_int_equal(store_block_height(st, a.tip_hash, &h), SN_OK);
	assert_int_equal(h, 5);
	store_close(st);

	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	store_info_get(st, &b);
	assert_int_equal(b.height, 5);
	assert_memory_equal(a.state_root, b.state_root, SN_HASH_LEN);
	assert_memory_equal(a.tip_hash, b.tip_hash, SN_HASH_LEN);
	tu_pk(41, pk);
	assert_int_equal(store_account_get(st, pk, &acc), SN_OK);
	assert_int_equal(acc.depth, 5); /* 0 → 10 → 20 → 30 → 40 → 41 */
	assert_int_equal(acc.seq, 41);
	tu_pk(40, pk);
	assert_int_equal(store_team_get(st, pk, &team), SN_OK);
	assert_int_equal(team.size, 10);
	assert_true(team.volume == 10);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* Direct referrals: listed in key order, bounded, resumable after a key; the count matches. */
static void test_referrals(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	uint8_t root[SN_PUBKEY_LEN], all[16][SN_PUBKEY_LEN], part[16][SN_PUBKEY_LEN];
	struct store_team t;
	size_t n, m;

	(void)state;
	assert_int_equal(commit_register_block(st, 0, 1, 10), SN_OK);
	assert_int_equal(commit_register_block(st, 1, 11, 2), SN_OK); /* grandchildren: not listed */
	tu_pk(0, root);
	assert_int_equal(store_referrals_list(st, root, NULL, all, 16, &n), SN_OK);
	assert_int_equal(n, 10);
	for (size_t i = 1; i < n; i++)
		assert_true(memcmp(all[i - 1], all[i], SN_PUBKEY_LEN) < 0);
	assert_int_equal(store_team_get(st, root, &t), SN_OK);
	assert_int_equal(t.direct, 10);
	assert_int_equal(t.size, 12);
	assert_int_equal(store_referrals_list(st, root, NULL, part, 3, &m), SN_OK);
	assert_int_equal(m, 3);
	assert_memory_equal(part, all, 3 * SN_PUBKEY_LEN);
	assert_int_equal(store_referrals_list(st, root, all[2], part, 16, &m), SN_OK);
	assert_int_equal(m, 7);
	assert_memory_equal(part, all[3], 7 * SN_PUBKEY_LEN);
	assert_int_equal(store_referrals_list(st, root, NULL, part, 0, &m), SN_OK);
	assert_int_equal(m, 0);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* One process per store: a second open (here: another open file description, as another
 * process would have) is refused while the first is open, and allowed after it closes. */
static void test_second_open_refused(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true), *st2;
	struct store_opts o = { .chain_id = TU_CHAIN };

	(void)state;
	assert_int_equal(store_open(&st2, dir, &o), SN_E_BUSY);
	assert_null(st2);
	store_close(st);
	assert_int_equal(store_open(&st2, dir, &o), SN_OK);
	store_close(st2);
	tu_rmtree(dir);
	free(dir);
}

static void test_wrong_chain_and_newer_schema(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	struct store_opts o = { .chain_id = TU_CHAIN + 1 };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 6, "format" }, v;
	uint8_t rec[16];

	(void)state;
	store_close(st);
	assert_int_equal(store_open(&st, dir, &o), SN_E_CHAIN);
	assert_null(st);

	/* Rewrite the format record as a future schema. */
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(rec));
	memcpy(rec, v.mv_data, sizeof(rec));
	rec[8] = STORE_SCHEMA + 1;
	v.mv_data = rec;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	o.chain_id = TU_CHAIN;
	assert_int_equal(store_open(&st, dir, &o), SN_E_VERSION);
	tu_rmtree(dir);
	free(dir);
}

/* Opens the store in dir with raw LMDB, for a test to edit behind its back. */
static MDB_env *raw_open(const char *dir, MDB_txn **txn)
{
	MDB_env *env;

	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 10);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, txn), 0);
	return env;
}

static void raw_close(MDB_env *env, MDB_txn *txn)
{
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Flips one bit of the value at key in table name (copied: LMDB's pages are read-only). */
static void raw_flip(const char *dir, const char *name, const void *key, size_t klen, size_t byte)
{
	MDB_txn *txn;
	MDB_env *env = raw_open(dir, &txn);
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v;
	uint8_t rec[256];

	assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(rec) && byte < v.mv_size);
	memcpy(rec, v.mv_data, v.mv_size);
	rec[byte] ^= 1;
	v.mv_data = rec;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	raw_close(env, txn);
}

/* Puts (or with len 0 deletes) meta record key behind the store's back. */
static void raw_meta(const char *dir, const char *key, const void *val, size_t len)
{
	MDB_txn *txn;
	MDB_env *env = raw_open(dir, &txn);
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)val };

	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (len)
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	else
		assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	raw_close(env, txn);
}

/* The txs index's meta record (docs/storage.md): one that does not decode makes opening fail
 * with corrupt, cleanly, after the open transaction committed (an error there once freed
 * that transaction twice); a store from before generations gets one, and its gap record
 * (txidx_from, written while it ran without the index) is taken over. */
static void test_txgen_meta(void **state)
{
	struct store_opts on = { .chain_id = TU_CHAIN }, off = { .chain_id = TU_CHAIN, .no_tx_index = true };
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 1, true);
	uint8_t bad[3] = { 1, 2, 3 }, gap[STORE_TXIDX_FROM_LEN] = { 1, 1 };
	uint64_t from;

	(void)state;
	assert_int_equal(commit_register_block(st, 0, 1, 3), SN_OK);
	assert_int_equal(commit_register_block(st, 0, 4, 3), SN_OK);
	store_close(st);
	raw_meta(dir, "txgen", bad, sizeof(bad));
	assert_int_equal(store_open(&st, dir, &on), SN_E_CORRUPT);
	assert_int_equal(store_open(&st, dir, &off), SN_E_CORRUPT);
	/* before generations, run without the index from block 1 on */
	raw_meta(dir, "txgen", NULL, 0);
	raw_meta(dir, STORE_KEY_TXIDX_FROM, gap, sizeof(gap));
	assert_int_equal(store_open(&st, dir, &off), SN_OK);
	assert_int_equal(store_tx_index_gap(st, &from), SN_OK);
	assert_int_equal(from, 1);
	store_close(st);
	{
		MDB_txn *txn;
		MDB_env *env = raw_open(dir, &txn);
		MDB_dbi dbi;
		MDB_val k = { strlen(STORE_KEY_TXIDX_FROM), STORE_KEY_TXIDX_FROM }, v;

		assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
		assert_int_equal(mdb_get(txn, dbi, &k, &v), MDB_NOTFOUND); /* taken over */
		k = (MDB_val){ 5, "txgen" };
		assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
		raw_close(env, txn);
	}
	/* and before generations, every block indexed in txs: no gap even without the index */
	raw_meta(dir, "txgen", NULL, 0);
	assert_int_equal(store_open(&st, dir, &off), SN_OK);
	assert_int_equal(store_tx_index_gap(st, &from), SN_E_NOTFOUND);
	store_close(st);
	assert_int_equal(store_open(&st, dir, &on), SN_OK);
	assert_int_equal(store_tx_index_gap(st, &from), SN_E_NOTFOUND);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* Either half of an account changed behind the store's back no longer matches the state
 * root; a missing half is caught by the count. */
static void test_corruption_detected_on_open(void **state)
{
	struct store_opts o = { .chain_id = TU_CHAIN };
	uint8_t pk[SN_PUBKEY_LEN], seq_key[8];

	(void)state;
	tu_pk(2, pk);
	sn_put_be64(seq_key, 2); /* keys 1..3 get seqs 1..3 */
	for (int round = 0; round < 3; round++) {
		char *dir;
		struct store *st = tu_store_new(&dir, 1000, 0, true);

		assert_int_equal(commit_register_block(st, 0, 1, 3), SN_OK);
		store_close(st);
		if (round == 0) {
			raw_flip(dir, "account_state", seq_key, sizeof(seq_key), 1); /* balance */
		} else if (round == 1) {
			raw_flip(dir, "accounts", pk, sizeof(pk), STORE_COLD_LEN - 1); /* depth */
		} else {
			MDB_txn *txn;
			MDB_env *env = raw_open(dir, &txn);
			MDB_dbi dbi;
			MDB_val k = { sizeof(seq_key), seq_key };

			assert_int_equal(mdb_dbi_open(txn, "account_state", 0, &dbi), 0);
			assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
			raw_close(env, txn);
		}
		assert_int_equal(store_open(&st, dir, &o), SN_E_CORRUPT);
		tu_rmtree(dir);
		free(dir);
	}
}

/* A store of schema 1 (each account whole, record v1, under its key) is migrated at open
 * to schema 2 in one transaction: the state root still matches and every account reads the
 * same. The schema 1 store is made from a schema 2 one by undoing the split with raw LMDB. */
static void test_schema1_migrated(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	struct store_opts o = { .chain_id = TU_CHAIN };
	struct store_account before[5], after;
	struct store_info info_before, info_after;
	MDB_txn *txn;
	MDB_env *env;
	MDB_dbi acc, sta, meta;
	MDB_val k, v;
	uint8_t fmt[16];

	(void)state;
	assert_int_equal(commit_register_block(st, 0, 1, 4), SN_OK);
	for (uint64_t i = 0; i < 5; i++) {
		uint8_t pk[SN_PUBKEY_LEN];

		tu_pk(i, pk);
		assert_int_equal(store_account_get(st, pk, &before[i]), SN_OK);
	}
	store_info_get(st, &info_before);
	store_close(st);
	env = raw_open(dir, &txn);
	assert_int_equal(mdb_dbi_open(txn, "accounts", 0, &acc), 0);
	assert_int_equal(mdb_dbi_open(txn, "account_state", 0, &sta), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	for (int i = 0; i < 5; i++) {
		uint8_t rec[STORE_ACCOUNT_LEN];

		store_account_encode(rec, &before[i]);
		k = (MDB_val){ SN_PUBKEY_LEN, before[i].key };
		v = (MDB_val){ sizeof(rec), rec };
		assert_int_equal(mdb_put(txn, acc, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_drop(txn, sta, 0), 0); /* emptied */
	k = (MDB_val){ 6, "format" };
	assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(fmt));
	memcpy(fmt, v.mv_data, sizeof(fmt));
	assert_int_equal(fmt[8] | fmt[9] << 8 | fmt[10] << 16 | (uint32_t)fmt[11] << 24, STORE_SCHEMA);
	memcpy(fmt + 8, "\1\0\0\0", 4); /* u32 LE schema 1 */
	v = (MDB_val){ sizeof(fmt), fmt };
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	raw_close(env, txn);

	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	store_info_get(st, &info_after);
	assert_memory_equal(info_after.state_root, info_before.state_root, SN_HASH_LEN);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(store_account_get(st, before[i].key, &after), SN_OK);
		assert_memory_equal(&after, &before[i], sizeof(after));
	}
	assert_int_equal(commit_register_block(st, 1, 10, 2), SN_OK); /* and it goes on */
	store_close(st);
	assert_int_equal(store_open(&st, dir, &o), SN_OK); /* schema 3 now: no second migration */
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* A schema 2 store (before the txs index's levels) opens, and its format record says 3 from
 * then on, so a build that reads only schema 2 refuses it as newer (as
 * test_wrong_chain_and_newer_schema shows for this build). */
static void test_schema2_upgraded(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	struct store_opts o = { .chain_id = TU_CHAIN };
	MDB_txn *txn;
	MDB_env *env;
	MDB_dbi meta;
	MDB_val k = { 6, "format" }, v;
	uint8_t fmt[16];

	(void)state;
	assert_int_equal(commit_register_block(st, 0, 1, 4), SN_OK);
	store_close(st);
	env = raw_open(dir, &txn);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(fmt));
	memcpy(fmt, v.mv_data, sizeof(fmt));
	memcpy(fmt + 8, "\2\0\0\0", 4); /* u32 LE schema 2 */
	v = (MDB_val){ sizeof(fmt), fmt };
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	raw_close(env, txn);

	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	assert_int_equal(commit_register_block(st, 1, 10, 2), SN_OK);
	store_close(st);
	env = raw_open(dir, &txn);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
	memcpy(fmt, v.mv_data, sizeof(fmt));
	assert_int_equal(fmt[8] | fmt[9] << 8 | fmt[10] << 16 | (uint32_t)fmt[11] << 24, 3);
	raw_close(env, txn);
	tu_rmtree(dir);
	free(dir);
}

/* A tiny map fills up; the store grows it and loses nothing. */
/* A new store in dir whose genesis gives the root account (key 0) 2^30. */
static struct store *store_with_genesis(const char *dir, const struct store_opts *o)
{
	struct store_genesis g;
	struct store *st;

	assert_int_equal(store_open(&st, dir, o), SN_OK);
	memset(&g, 0, sizeof(g));
	tu_pk(0, g.root);
	g.root_balance = 1u << 30;
	g.params.max_block_txs = 100;
	assert_int_equal(store_genesis_init(st, &g), SN_OK);
	return st;
}

static void test_map_grows(void **state)
{
	char *dir = tu_tmpdir("sn-map");
	struct store_opts o = { .chain_id = TU_CHAIN, .map_size = 1u << 20, .no_sync = true };
	struct store *st;
	struct store_info a, b;

	(void)state;
	st = store_with_genesis(dir, &o);
	for (uint64_t b0 = 0; b0 < 20; b0++)
		assert_int_equal(commit_register_block(st, 0, 1 + b0 * 1000, 1000), SN_OK);
	store_info_get(st, &a);
	assert_true(a.map_size > (1u << 20));
	assert_int_equal(a.accounts, 20001);
	store_close(st);
	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	store_info_get(st, &b);
	assert_memory_equal(a.state_root, b.state_root, SN_HASH_LEN);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

static void test_abort_changes_nothing(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	struct store_wtxn *w;
	struct store_account root, fresh;
	struct store_info a, b;
	uint8_t pk[SN_PUBKEY_LEN];

	(void)state;
	store_info_get(st, &a);
	assert_int_equal(store_wtxn_begin(st, &w), SN_OK);
	tu_pk(0, pk);
	assert_int_equal(store_wtxn_account_get(w, pk, &root), SN_OK);
	tu_pk(1, pk);
	assert_int_equal(store_wtxn_account_create(w, pk, &root, 1, 5, &fresh), SN_OK);
	assert_int_equal(store_wtxn_account_create(w, pk, &root, 1, 5, &fresh), SN_E_REGISTERED);
	root.personal_volume = 0;
	root.seq = 3;
	assert_int_equal(store_wtxn_account_put(w, &root), SN_E_INVAL); /* seq may not change */
	assert_int_equal(store_wtxn_treasury_add(w, UINT64_MAX), SN_OK);
	assert_int_equal(store_wtxn_treasury_add(w, 1), SN_E_OVERFLOW);
	store_wtxn_abort(w);
	store_info_get(st, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(store_account_get(st, pk, &fresh), SN_E_NOTFOUND);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* kill -9 a process that commits blocks of `per` registrations in a loop (with fsync), in
 * commit groups of `group` blocks (0: each block alone), at random moments; every reopen must
 * succeed (the rebuild checks the state root), the height never goes back, and a group is
 * found whole or not at all. */
static void kill9_rounds(const char *seed_name, int rounds, uint64_t group, uint32_t per)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1u << 30, 0, false);
	struct store_opts o = { .chain_id = TU_CHAIN };
	struct tu_rng rng = { tu_seed(seed_name) };
	uint64_t last_height = 0, step = group ? group : 1;

	store_close(st);
	for (int round = 0; round < rounds; round++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct store *cst;
			struct store_info info;

			if (store_open(&cst, dir, &o))
				_exit(3);
			store_info_get(cst, &info);
			for (uint64_t k = 0;; k += step) {
				struct store_group *g = NULL;

				if (group && store_group_begin(cst, &g))
					_exit(4);
				for (uint64_t b = 0; b < step; b++)
					if (commit_register_block_in(cst, g, 0, 1 + 1000 * (info.height + k + b), per))
						_exit(5);
				if (group && store_group_end(g))
					_exit(6);
			}
		}
		usleep(20000 + (useconds_t)tu_rand_below(&rng, 200000));
		kill(pid, SIGKILL);
		{
			int status;

			waitpid(pid, &status, 0);
			assert_true(WIFSIGNALED(status)); /* it was still committing, not failing */
		}
		assert_int_equal(store_open(&st, dir, &o), SN_OK);
		{
			struct store_info info;

			store_info_get(st, &info);
			assert_true(info.height >= last_height);
			assert_int_equal(info.height % step, 0);
			assert_int_equal(info.accounts, 1 + per * info.height);
			last_height = info.height;
		}
		store_close(st);
	}
	assert_true(last_height > 0);
	tu_rmtree(dir);
	free(dir);
}

static void test_kill9_mid_commit(void **state)
{
	(void)state;
	kill9_rounds("kill9_mid_commit", 8, 0, 200);
}

/* A commit group: readers see nothing of it until it ends, then all of it; the result equals
 * the same blocks committed one by one, also after a reopen (the rebuild checks the root). */
static void test_group_commits_at_end(void **state)
{
	char *d1, *d2;
	struct store *s1 = tu_store_new(&d1, 1000, 0, true), *s2 = tu_store_new(&d2, 1000, 0, true);
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true };
	struct store_group *g;
	struct store_info before, mid, after, ref;
	struct store_account a;
	struct store_team t0, t1;
	uint8_t pk[SN_PUBKEY_LEN];

	(void)state;
	store_info_get(s1, &before);
	tu_pk(0, pk);
	assert_int_equal(store_team_get(s1, pk, &t0), SN_OK);
	assert_int_equal(store_group_begin(s1, &g), SN_OK);
	for (uint64_t b = 0; b < 3; b++)
		assert_int_equal(commit_register_block_in(s1, g, 0, 5000 + 100 * b, 50), SN_OK);
	assert_int_equal(store_group_blocks(g), 3);
	store_info_get(s1, &mid);
	assert_memory_equal(&before, &mid, sizeof(before)); /* not visible yet */
	tu_pk(5000, pk);
	assert_int_equal(store_account_get(s1, pk, &a), SN_E_NOTFOUND);
	assert_int_equal(store_group_end(g), SN_OK);
	store_info_get(s1, &after);
	assert_int_equal(after.height, before.height + 3);
	assert_int_equal(after.accounts, before.accounts + 150);
	assert_int_equal(store_account_get(s1, pk, &a), SN_OK);
	tu_pk(0, pk);
	assert_int_equal(store_team_get(s1, pk, &t1), SN_OK);
	assert_int_equal(t1.size, t0.size + 150);
	assert_int_equal(t1.direct, t0.direct + 150);
	for (uint64_t b = 0; b < 3; b++)
		assert_int_equal(commit_register_block(s2, 0, 5000 + 100 * b, 50), SN_OK);
	store_info_get(s2, &ref);
	assert_memory_equal(after.state_root, ref.state_root, SN_HASH_LEN);
	assert_memory_equal(after.tip_hash, ref.tip_hash, SN_HASH_LEN);
	store_close(s1);
	assert_int_equal(store_open(&s1, d1, &o), SN_OK);
	store_info_get(s1, &mid);
	assert_memory_equal(after.state_root, mid.state_root, SN_HASH_LEN);
	/* and the writer goes on after a group, in one more */
	assert_int_equal(commit_register_block(s1, 0, 9000, 10), SN_OK);
	store_close(s1);
	store_close(s2);
	tu_rmtree(d1);
	tu_rmtree(d2);
	free(d1);
	free(d2);
}

/* A block that fails its checks inside a group leaves the group usable; aborting a group
 * keeps none of it, and the next block's root is right (the Merkle tree was rolled back). */
static void test_group_reject_and_abort(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true };
	struct store_group *g;
	struct store_wtxn *w;
	struct store_block_header h;
	uint8_t block[STORE_BLOCK_HEADER_LEN];
	struct store_info before, info;

	(void)state;
	store_info_get(st, &before);
	assert_int_equal(store_group_begin(st, &g), SN_OK);
	assert_int_equal(commit_register_block_in(st, g, 0, 5000, 20), SN_OK);
	/* a block with the wrong state root */
	assert_int_equal(store_wtxn_begin_in(g, &w), SN_OK);
	memset(&h, 0, sizeof(h));
	h.version = STORE_BLOCK_V1;
	h.chain_id = TU_CHAIN;
	h.height = store_wtxn_info(w)->height + 1;
	memcpy(h.prev_hash, store_wtxn_info(w)->tip_hash, SN_HASH_LEN);
	store_tx_root(h.tx_root, NULL, 0);
	store_block_header_encode(block, &h);
	assert_int_equal(store_wtxn_commit(w, &h, block, sizeof(block), NULL, 0), SN_E_STATEROOT);
	assert_int_equal(commit_register_block_in(st, g, 0, 6000, 20), SN_OK);
	assert_int_equal(store_group_end(g), SN_OK);
	store_info_get(st, &info);
	assert_int_equal(info.height, before.height + 2);
	/* a group of one empty block (no account changed): nothing to sort, still a block */
	assert_int_equal(store_group_begin(st, &g), SN_OK);
	assert_int_equal(store_wtxn_begin_in(g, &w), SN_OK);
	h.height = store_wtxn_info(w)->height + 1;
	memcpy(h.prev_hash, store_wtxn_info(w)->tip_hash, SN_HASH_LEN);
	h.time_ms = store_wtxn_info(w)->tip_time_ms;
	assert_int_equal(store_wtxn_state_root(w, h.state_root), SN_OK);
	store_block_header_encode(block, &h);
	assert_int_equal(store_wtxn_commit(w, &h, block, sizeof(block), NULL, 0), SN_OK);
	assert_int_equal(store_group_end(g), SN_OK);
	store_info_get(st, &info);
	assert_int_equal(info.height, before.height + 3);
	/* abort: nothing kept, the writer is free again, roots stay right */
	before = info;
	assert_int_equal(store_group_begin(st, &g), SN_OK);
	assert_int_equal(commit_register_block_in(st, g, 0, 7000, 20), SN_OK);
	assert_int_equal(commit_register_block_in(st, g, 0, 8000, 20), SN_OK);
	store_group_abort(g);
	store_info_get(st, &info);
	assert_memory_equal(&before, &info, sizeof(info));
	assert_int_equal(commit_register_block(st, 0, 7000, 20), SN_OK);
	store_close(st);
	assert_int_equal(store_open(&st, dir, &o), SN_OK); /* the rebuild checks the root */
	store_info_get(st, &info);
	assert_int_equal(info.height, before.height + 1);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* A commit that fails with a write error (store_opts.fail_commit_at: EIO with room on the
 * disk), alone or in a group: nothing is written, the store latches failed and refuses
 * every write after; opened again, it is at the last block committed and goes on. */
static void test_commit_fails(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true, .fail_commit_at = 3 };
	struct store_group *g;
	struct store_info info;

	(void)state;
	store_close(st);
	for (int group = 0; group < 2; group++) {
		assert_int_equal(store_open(&st, dir, &o), SN_OK);
		if (!group) {
			assert_int_equal(commit_register_block(st, 0, 5000, 20), SN_OK); /* 1 */
			assert_int_equal(commit_register_block(st, 0, 6000, 20), SN_OK); /* 2 */
			assert_int_equal(commit_register_block(st, 0, 7000, 20), SN_E_IO); /* 3 */
		} else { /* blocks 3 and 4 in one group */
			assert_int_equal(store_group_begin(st, &g), SN_OK);
			assert_int_equal(commit_register_block_in(st, g, 0, 7000, 20), SN_OK);
			assert_int_equal(commit_register_block_in(st, g, 0, 8000, 20), SN_OK);
			assert_int_equal(store_group_end(g), SN_E_IO);
		}
		assert_int_equal(store_status(st), SN_E_FATAL);
		assert_false(store_disk_full(st));
		store_info_get(st, &info);
		assert_int_equal(info.height, 2);
		assert_int_equal(commit_register_block(st, 0, 9000, 20), SN_E_FATAL);
		assert_int_equal(store_group_begin(st, &g), SN_E_FATAL);
		store_close(st);
	}
	o.fail_commit_at = 0;
	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	assert_int_equal(store_status(st), SN_OK);
	store_info_get(st, &info);
	assert_int_equal(info.height, 2);
	assert_int_equal(info.accounts, 41);
	assert_int_equal(commit_register_block(st, 0, 7000, 20), SN_OK);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* A group that fills the map: its LMDB error poisons it, store_group_end reports map_full with
 * nothing kept and the map grown, and the same blocks then fit. */
static void test_group_map_full(void **state)
{
	char *dir = tu_tmpdir("sn-gmap");
	struct store_opts o = { .chain_id = TU_CHAIN, .map_size = 1u << 20, .no_sync = true };
	struct store *st;
	struct store_info before, info;
	int full = 0, err;

	(void)state;
	st = store_with_genesis(dir, &o);
	store_info_get(st, &before);
	for (int attempt = 0;; attempt++) {
		struct store_group *g;

		assert_true(attempt < 10);
		assert_int_equal(store_group_begin(st, &g), SN_OK);
		err = SN_OK;
		for (uint64_t b = 0; b < 10 && !err; b++)
			err = commit_register_block_in(st, g, 0, 1 + b * 1000, 1000);
		if (err) {
			assert_int_equal(err, SN_E_MAPFULL);
			assert_int_equal(commit_register_block_in(st, g, 0, 50000, 1), SN_E_MAPFULL); /* poisoned */
		}
		err = store_group_end(g);
		if (!err)
			break;
		assert_int_equal(err, SN_E_MAPFULL);
		full++;
		store_info_get(st, &info);
		assert_int_equal(info.height, before.height);
		assert_int_equal(info.accounts, before.accounts);
		assert_true(info.map_size > before.map_size);
	}
	assert_true(full > 0);
	store_info_get(st, &info);
	assert_int_equal(info.accounts, before.accounts + 10000);
	store_close(st);
	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* test_disk_full's teardown: even after a failed assertion, the tests after it may write. */
static int fsize_unlimited(void **state)
{
	struct rlimit r;

	(void)state;
	if (getrlimit(RLIMIT_FSIZE, &r) == 0) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_FSIZE, &r);
	}
	return 0;
}

/* A disk full at a commit (single block, then a commit group) writes nothing, latches
 * nothing: the store stays at its last block on disk and in memory, reads go on, and the same
 * block commits once there is room. The state survives a reopen (which checks the root).
 * slack: bytes the file may still grow by. 0: LMDB's first write fails (EFBIG, as ENOSPC on
 * a disk); more: a write is cut short, which LMDB reports as EIO. */
static void disk_full_round(rlim_t slack)
{
	char *dir = tu_tmpdir("sn-full"), path[4200];
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true };
	struct store *st;
	struct store_info before, info;
	struct store_account a;
	struct store_group *g;
	struct stat sb;
	uint8_t pk[SN_PUBKEY_LEN];
	uint64_t first = 1;
	int err = SN_OK;

	signal(SIGXFSZ, SIG_IGN);
	st = store_with_genesis(dir, &o);
	assert_int_equal(commit_register_block(st, 0, first, 100), SN_OK);
	first += 100;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	tu_fsize_limit(0, (rlim_t)sb.st_size + slack);
	for (int i = 0; i < 20; i++, first += 1000) { /* until a commit needs more room */
		store_info_get(st, &before);
		if ((err = commit_register_block(st, 0, first, 1000)))
			break;
	}
	assert_int_equal(err, SN_E_DISKFULL);
	assert_true(store_disk_full(st));
	assert_int_equal(store_status(st), SN_OK);
	store_info_get(st, &info);
	assert_memory_equal(&info, &before, sizeof(info));
	tu_pk(first, pk);
	assert_int_equal(store_account_get(st, pk, &a), SN_E_NOTFOUND);
	tu_pk(1, pk);
	assert_int_equal(store_account_get(st, pk, &a), SN_OK); /* reads go on */
	assert_int_equal(commit_register_block(st, 0, first, 1000), SN_E_DISKFULL); /* still no room */

	/* A commit group: the same. */
	assert_int_equal(store_group_begin(st, &g), SN_OK);
	err = SN_OK;
	for (uint64_t b = 0; b < 4 && !err; b++)
		err = commit_register_block_in(st, g, 0, first + b * 1000, 1000);
	err = err ? (store_group_abort(g), err) : store_group_end(g);
	assert_int_equal(err, SN_E_DISKFULL);
	assert_int_equal(store_status(st), SN_OK);
	store_info_get(st, &info);
	assert_memory_equal(&info, &before, sizeof(info));

	/* A restart while the disk is still full: the store opens (opening writes nothing) at its
	 * last block, whatever the failed commits left past the end of its file. */
	store_close(st);
	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	store_info_get(st, &info);
	assert_memory_equal(info.state_root, before.state_root, SN_HASH_LEN);
	assert_int_equal(info.height, before.height);
	assert_int_equal(commit_register_block(st, 0, first, 1000), SN_E_DISKFULL);

	/* Room again: the same block commits, and the flag clears. */
	tu_fsize_limit(0, RLIM_INFINITY);
	assert_int_equal(commit_register_block(st, 0, first, 1000), SN_OK);
	assert_false(store_disk_full(st));
	store_info_get(st, &info);
	assert_int_equal(info.height, before.height + 1);
	assert_int_equal(info.accounts, before.accounts + 1000);
	tu_pk(first, pk);
	assert_int_equal(store_account_get(st, pk, &a), SN_OK);
	store_close(st);
	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	store_info_get(st, &before);
	assert_memory_equal(before.state_root, info.state_root, SN_HASH_LEN);
	assert_int_equal(before.height, info.height);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

static void test_disk_full(void **state)
{
	(void)state;
	disk_full_round(0);
	disk_full_round(1000);
}

/* The same with commit groups of four blocks: every reopen finds whole groups. */
static void test_kill9_mid_group(void **state)
{
	(void)state;
	kill9_rounds("kill9_mid_group", 6, 4, 100);
}

/* Reads while another thread commits: a commit holds no lock across its fsync, so the
 * in-memory state (deep sums, direct counts, tip) reaches the new tip a moment after LMDB
 * did. A team query must never see the account in LMDB before the deep sums know it
 * (store__snapshot_begin retries until both match), and a speculative view begun before
 * the commits keeps reading its own snapshot without holding them up. */
enum { READS_BLOCKS = 300, READS_FIRST = 1000 };

static void *reads_writer(void *arg)
{
	struct store *st = arg;

	for (uint64_t i = 0; i < READS_BLOCKS; i++)
		if (commit_register_block(st, 0, READS_FIRST + i, 1) != SN_OK)
			return (void *)1;
	return NULL;
}

static void test_reads_during_commits(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000000, 0, true);
	struct store_wtxn *view;
	struct store_account acc;
	struct store_team team;
	struct store_info info;
	uint8_t root[SN_PUBKEY_LEN], pk[SN_PUBKEY_LEN];
	uint64_t last_height = 0;
	pthread_t th;
	void *ret;

	(void)state;
	tu_pk(0, root);
	store__test_swap_delay_us = 1000;
	assert_int_equal(store_wtxn_begin_speculative(st, &view), SN_OK);
	assert_int_equal(pthread_create(&th, NULL, reads_writer, st), 0);
	for (uint64_t i = 0; i < READS_BLOCKS; i++) {
		tu_pk(READS_FIRST + i, pk);
		while (store_account_get(st, pk, &acc) == SN_E_NOTFOUND)
			sched_yield();
		assert_int_equal(store_team_get(st, pk, &team), SN_OK);
		assert_int_equal(team.size, 0); /* descendants */
		assert_int_equal(store_team_get(st, root, &team), SN_OK);
		assert_true(team.size >= i + 1);
		store_info_get(st, &info);
		assert_true(info.height >= last_height);
		last_height = info.height;
	}
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	store__test_swap_delay_us = 0;
	/* the view still reads the tip it began on */
	assert_int_equal(store_wtxn_info(view)->height, 0);
	assert_int_equal(store_wtxn_account_get(view, root, &acc), SN_OK);
	assert_int_equal(acc.balance, 1000000);
	tu_pk(READS_FIRST, pk);
	assert_int_equal(store_wtxn_account_get(view, pk, &acc), SN_E_NOTFOUND);
	store_wtxn_abort(view);
	store_info_get(st, &info);
	assert_int_equal(info.height, READS_BLOCKS);
	assert_int_equal(store_team_get(st, root, &team), SN_OK);
	assert_int_equal(team.size, READS_BLOCKS);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* store_grow_map from one thread while another holds a commit group (an LMDB write
 * transaction that lives over several blocks): it waits for the group instead of remapping
 * under it (LMDB refused with EINVAL, or, racing a single commit, the writer took SIGBUS). */
struct grow_group {
	struct store *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
};

static void *grow_group_holder(void *arg)
{
	struct grow_group *gg = arg;
	struct store_group *g;

	if (store_group_begin(gg->st, &g) != SN_OK)
		return (void *)1;
	pthread_mutex_lock(&gg->mu);
	gg->open = true;
	pthread_cond_broadcast(&gg->cv);
	pthread_mutex_unlock(&gg->mu);
	usleep(100 * 1000);
	if (commit_register_block_in(gg->st, g, 0, 1000, 1) != SN_OK)
		return (void *)1;
	return store_group_end(g) == SN_OK ? NULL : (void *)1;
}

static void test_grow_map_waits_for_writer(void **state)
{
	char *dir;
	struct grow_group gg = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct store_info before, after;
	pthread_t th;
	void *ret;

	(void)state;
	gg.st = tu_store_new(&dir, 1000000, 0, true);
	store_info_get(gg.st, &before);
	assert_int_equal(pthread_create(&th, NULL, grow_group_holder, &gg), 0);
	pthread_mutex_lock(&gg.mu);
	while (!gg.open)
		pthread_cond_wait(&gg.cv, &gg.mu);
	pthread_mutex_unlock(&gg.mu);
	assert_int_equal(store_grow_map(gg.st), SN_OK);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	store_info_get(gg.st, &after);
	assert_int_equal(after.height, before.height + 1); /* the group's block is in */
	assert_int_equal(after.map_size, 2 * before.map_size);
	store_close(gg.st);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genesis_and_reopen),
		cmocka_unit_test(test_referrals),
		cmocka_unit_test(test_second_open_refused),
		cmocka_unit_test(test_wrong_chain_and_newer_schema),
		cmocka_unit_test(test_corruption_detected_on_open),
		cmocka_unit_test(test_schema1_migrated),
		cmocka_unit_test(test_schema2_upgraded),
		cmocka_unit_test(test_map_grows),
		cmocka_unit_test(test_abort_changes_nothing),
		cmocka_unit_test(test_kill9_mid_commit),
		cmocka_unit_test(test_group_commits_at_end),
		cmocka_unit_test(test_group_reject_and_abort),
		cmocka_unit_test(test_commit_fails),
		cmocka_unit_test(test_group_map_full),
		cmocka_unit_test_teardown(test_disk_full, fsize_unlimited),
		cmocka_unit_test(test_kill9_mid_group),
		cmocka_unit_test(test_reads_during_commits),
		cmocka_unit_test(test_grow_map_waits_for_writer),
		cmocka_unit_test(test_txgen_meta),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	sn_log_set(NULL, NULL, SN_LOG_OFF);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
