/* tests/storage/test_store.c — the LMDB store: genesis, reopen and rebuild, schema and chain
 * checks, corruption detection, map growth, reads, abort, and crash atomicity (kill -9 of a
 * writer mid-commit, then reopen). */
#include "testutil.h"

#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Commits one block that registers n new accounts (keys first..first+n-1) under sponsor
 * key index `sponsor`, each funded with 1, and makes the sponsor send volume. */
static int commit_register_block(struct store *st, uint64_t sponsor, uint64_t first, uint32_t n)
{
	struct store_wtxn *w;
	struct store_account sp, fresh;
	struct store_block_header h;
	uint8_t pk[SN_PUBKEY_LEN], block[STORE_BLOCK_HEADER_LEN];
	const struct store_info *tip;
	int err;

	if ((err = store_wtxn_begin(st, &w)))
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
	memset(&h, 0, sizeof(h));
	h.version = STORE_BLOCK_V1;
	h.chain_id = tip->chain_id;
	h.height = tip->height + 1;
	memcpy(h.prev_hash, tip->tip_hash, SN_HASH_LEN);
	h.time_ms = tip->tip_time_ms + 1;
	store_tx_root(h.tx_root, NULL, 0);
	if ((err = store_wtxn_state_root(w, h.state_root)))
		goto fail;
	store_block_header_encode(block, &h);
	return store_wtxn_commit(w, &h, block, sizeof(block), NULL, 0);
fail:
	store_wtxn_abort(w);
	return err;
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

/* An account record changed behind the store's back no longer matches the state root. */
static void test_corruption_detected_on_open(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1000, 0, true);
	struct store_opts o = { .chain_id = TU_CHAIN };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	uint8_t pk[SN_PUBKEY_LEN], rec[STORE_ACCOUNT_LEN];

	(void)state;
	assert_int_equal(commit_register_block(st, 0, 1, 3), SN_OK);
	store_close(st);
	tu_pk(2, pk);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "accounts", 0, &dbi), 0);
	k.mv_data = pk;
	k.mv_size = SN_PUBKEY_LEN;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	memcpy(rec, v.mv_data, sizeof(rec));
	rec[9] ^= 1; /* balance */
	v.mv_data = rec;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(store_open(&st, dir, &o), SN_E_CORRUPT);
	tu_rmtree(dir);
	free(dir);
}

/* A tiny map fills up; the store grows it and loses nothing. */
static void test_map_grows(void **state)
{
	char *dir = tu_tmpdir("sn-map");
	struct store_opts o = { .chain_id = TU_CHAIN, .map_size = 1u << 20, .no_sync = true };
	struct store_genesis g;
	struct store *st;
	struct store_info a, b;

	(void)state;
	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	memset(&g, 0, sizeof(g));
	tu_pk(0, g.root);
	g.root_balance = 1u << 30;
	g.params.max_block_txs = 100;
	assert_int_equal(store_genesis_init(st, &g), SN_OK);
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

/* kill -9 a process that commits blocks in a loop (with fsync), at random moments; every
 * reopen must succeed (the rebuild checks the state root), and the height never goes back. */
static void test_kill9_mid_commit(void **state)
{
	char *dir;
	struct store *st = tu_store_new(&dir, 1u << 30, 0, false);
	struct store_opts o = { .chain_id = TU_CHAIN };
	struct tu_rng rng = { tu_seed("kill9_mid_commit") };
	uint64_t last_height = 0;

	(void)state;
	store_close(st);
	for (int round = 0; round < 8; round++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct store *cst;
			struct store_info info;

			if (store_open(&cst, dir, &o))
				_exit(3);
			store_info_get(cst, &info);
			for (uint64_t k = 0;; k++) {
				uint64_t base = 1 + 1000 * (info.height + k);

				if (commit_register_block(cst, 0, base, 200))
					_exit(4);
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
			assert_int_equal(info.accounts, 1 + 200 * info.height);
			last_height = info.height;
		}
		store_close(st);
	}
	assert_true(last_height > 0);
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
		cmocka_unit_test(test_map_grows),
		cmocka_unit_test(test_abort_changes_nothing),
		cmocka_unit_test(test_kill9_mid_commit),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	sn_log_set(NULL, NULL, SN_LOG_OFF);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
