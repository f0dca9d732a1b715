/* tests/node/test_mempool.c — admission with the engine's rules against the tip plus pending
 * transactions, limits, duplicates, the re-check after a block (committed ids in any order,
 * running out of memory midway). Real LMDB store. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

#include "node/mempool_int.h"

#define FEE 2

struct fx {
	char *dir;
	struct store *st;
	struct node_engine *eng;
	struct node_mempool *mp;
};

static void fx_open_map(struct fx *f, size_t max_txs, size_t max_bytes, uint64_t map_size)
{
	f->st = tu_store_new_map(&f->dir, 1000000, FEE, true, map_size);
	assert_int_equal(node_engine_new(&f->eng, f->st, NULL), SN_OK);
	assert_int_equal(node_mempool_new(&f->mp, f->st, max_txs, max_bytes), SN_OK);
}

static void fx_open(struct fx *f, size_t max_txs, size_t max_bytes)
{
	fx_open_map(f, max_txs, max_bytes, 0);
}

static void fx_close(struct fx *f)
{
	node_mempool_free(f->mp);
	node_engine_free(f->eng);
	store_close(f->st);
	tu_rmtree(f->dir);
	free(f->dir);
}

/* node_engine_propose on a thread of its own, as the daemon's producer runs it, while this
 * thread (the loop's part) keeps the mempool's view: the store's writer is never taken by a
 * thread that holds a view (its lock order; ThreadSanitizer reports the reverse). */
struct propose_call {
	struct node_engine *eng;
	const uint8_t *const *txs;
	const size_t *lens;
	size_t n;
	const struct node_propose_opts *o;
	int *errs;
	uint8_t **blk;
	size_t *blen, *inc;
	int err;
};

static void *propose_main(void *arg)
{
	struct propose_call *c = arg;

	c->err = node_engine_propose(c->eng, c->txs, c->lens, c->n, c->o, c->errs, c->blk, c->blen, c->inc);
	return NULL;
}

static int propose_aside(struct node_engine *eng, const uint8_t *const *txs, const size_t *lens, size_t n,
                         const struct node_propose_opts *o, int *errs, uint8_t **blk, size_t *blen, size_t *inc)
{
	struct propose_call c = { eng, txs, lens, n, o, errs, blk, blen, inc, SN_OK };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, propose_main, &c), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	return c.err;
}

/* Checks and admits; returns the first error. */
static int admit(struct fx *f, const uint8_t *raw, size_t len)
{
	struct store_tx tx;
	uint8_t id[SN_HASH_LEN];
	int err = node_tx_check(raw, len, TU_CHAIN, &tx, id);

	return err ? err : node_mempool_add(f->mp, raw, len, &tx, id);
}

/* Commits a block of everything pending (as the daemon does) and resumes the mempool. */
static size_t commit_pending(struct fx *f, size_t *dropped)
{
	size_t n = node_mempool_count(f->mp), inc, blen, k = 0;
	const uint8_t **txs = calloc(n + 1, sizeof(*txs));
	size_t *lens = calloc(n + 1, sizeof(*lens));
	int *errs = calloc(n + 1, sizeof(*errs));
	uint8_t(*ids)[SN_HASH_LEN] = calloc(n + 1, SN_HASH_LEN), *blk;
	struct node_propose_opts o = { .time_ms = 1700000009000ull, .preverified = true };

	for (size_t i = 0; i < n; i++) {
		txs[i] = node_mempool_at(f->mp, i)->raw;
		lens[i] = node_mempool_at(f->mp, i)->len;
	}
	node_mempool_hold(f->mp); /* the view lives on across the commit, as in the daemon */
	assert_int_equal(propose_aside(f->eng, txs, lens, n, &o, errs, &blk, &blen, &inc), SN_OK);
	sn_free(blk);
	for (size_t i = 0; i < n; i++)
		if (errs[i] == SN_OK)
			memcpy(ids[k++], node_mempool_at(f->mp, i)->id, SN_HASH_LEN);
	assert_int_equal(node_mempool_resume(f->mp, (const uint8_t(*)[SN_HASH_LEN])ids, k, dropped), SN_OK);
	free(txs);
	free(lens);
	free(errs);
	free(ids);
	return inc;
}

static void test_pending_state_is_used(void **state)
{
	struct fx f;
	uint8_t tx[STORE_TX_MAX], a[32], b[32];
	size_t n;

	(void)state;
	fx_open(&f, 100, 1 << 20);
	tu_pk(1, a);
	tu_pk(2, b);
	/* register a, then a transfer to a and a registration *by* a, all pending */
	n = tu_tx(tx, STORE_TX_REGISTER, 0, 0, FEE, a, 1000);
	assert_int_equal(admit(&f, tx, n), SN_OK);
	n = tu_tx(tx, STORE_TX_TRANSFER, 0, 1, FEE, a, 10);
	assert_int_equal(admit(&f, tx, n), SN_OK);
	n = tu_tx(tx, STORE_TX_REGISTER, 1, 0, FEE, b, 100);
	assert_int_equal(admit(&f, tx, n), SN_OK);
	/* the same bytes again */
	assert_int_equal(admit(&f, tx, n), SN_E_DUPTX);
	/* a nonce gap and a spent nonce, with the engine's error */
	n = tu_tx(tx, STORE_TX_TRANSFER, 0, 5, FEE, a, 10);
	assert_int_equal(admit(&f, tx, n), SN_E_NONCE);
	n = tu_tx(tx, STORE_TX_TRANSFER, 0, 0, FEE, a, 10);
	assert_int_equal(admit(&f, tx, n), SN_E_NONCE);
	/* a's balance counts what is pending: 1000 + 10 - 100 - 2 = 908 */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 1, FEE, b, 907);
	assert_int_equal(admit(&f, tx, n), SN_E_BALANCE);
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 1, FEE, b, 906);
	assert_int_equal(admit(&f, tx, n), SN_OK);
	assert_int_equal(node_mempool_count(f.mp), 4);
	/* a block commits all four; they leave the pool */
	assert_int_equal(commit_pending(&f, NULL), 4);
	assert_int_equal(node_mempool_count(f.mp), 0);
	assert_int_equal(node_mempool_bytes(f.mp), 0);
	/* committed bytes re-submitted: duplicate */
	assert_int_equal(admit(&f, tx, n), SN_E_DUPTX);
	fx_close(&f);
}

static void test_limits(void **state)
{
	struct fx f;
	uint8_t tx[STORE_TX_MAX], a[32];
	size_t n;

	(void)state;
	fx_open(&f, 3, 1 << 20);
	tu_pk(1, a);
	for (uint64_t i = 0; i < 3; i++) {
		tu_pk(10 + i, a);
		n = tu_tx(tx, STORE_TX_REGISTER, 0, i, FEE, a, 1);
		assert_int_equal(admit(&f, tx, n), SN_OK);
	}
	tu_pk(20, a);
	n = tu_tx(tx, STORE_TX_REGISTER, 0, 3, FEE, a, 1);
	assert_int_equal(admit(&f, tx, n), SN_E_MEMPOOL_FULL);
	fx_close(&f);

	fx_open(&f, 100, 2 * STORE_TX_V1_LEN + 10); /* room for two by bytes */
	for (uint64_t i = 0; i < 2; i++) {
		tu_pk(10 + i, a);
		n = tu_tx(tx, STORE_TX_REGISTER, 0, i, FEE, a, 1);
		assert_int_equal(admit(&f, tx, n), SN_OK);
	}
	tu_pk(20, a);
	n = tu_tx(tx, STORE_TX_REGISTER, 0, 2, FEE, a, 1);
	assert_int_equal(admit(&f, tx, n), SN_E_MEMPOOL_FULL);
	/* while suspended, admission says busy */
	node_mempool_suspend(f.mp);
	assert_int_equal(admit(&f, tx, n), SN_E_BUSY);
	assert_int_equal(node_mempool_resume(f.mp, NULL, 0, NULL), SN_OK);
	fx_close(&f);
}

/* Transactions that a block made invalid are dropped by the re-check after it. */
static void test_recheck_after_block(void **state)
{
	struct fx f;
	uint8_t tx[STORE_TX_MAX], a[32], b[32];
	size_t n, dropped;
	const uint8_t *txs[1];
	size_t lens[1], inc, blen;
	int errs[1];
	uint8_t *blk;
	struct node_propose_opts o = { .time_ms = 1700000009000ull };

	(void)state;
	fx_open(&f, 100, 1 << 20);
	tu_pk(1, a);
	tu_pk(2, b);
	n = tu_tx(tx, STORE_TX_REGISTER, 0, 0, FEE, a, 500);
	assert_int_equal(admit(&f, tx, n), SN_OK);
	n = tu_tx(tx, STORE_TX_REGISTER, 0, 1, FEE, b, 500);
	assert_int_equal(admit(&f, tx, n), SN_OK);
	/* Another transaction with root's nonce 0 is committed directly (as if proposed by
	 * another validator): the pending registration with nonce 0 is now invalid and dropped;
	 * the one with nonce 1 is now the root's next and stays. */
	{
		uint8_t c[32];

		tu_pk(3, c);
		lens[0] = tu_tx(tx, STORE_TX_REGISTER, 0, 0, FEE, c, 1);
		txs[0] = tx;
		node_mempool_suspend(f.mp);
		assert_int_equal(node_engine_propose(f.eng, txs, lens, 1, &o, errs, &blk, &blen, &inc), SN_OK);
		sn_free(blk);
		assert_int_equal(inc, 1);
		assert_int_equal(node_mempool_resume(f.mp, NULL, 0, &dropped), SN_OK);
	}
	/* The registration of a (nonce 0) is now invalid; b's (nonce 1) is still valid. */
	assert_int_equal(dropped, 1);
	assert_int_equal(node_mempool_count(f.mp), 1);
	assert_int_equal(node_mempool_at(f.mp, 0)->tx.nonce, 1);
	fx_close(&f);
}

/* The committed ids may come in any order, and ones the pool does not hold are ignored. */
static void test_resume_ids_any_order(void **state)
{
	struct fx f;
	uint8_t tx[STORE_TX_MAX], k[4][32], ids[4][SN_HASH_LEN], other[SN_HASH_LEN];
	const uint8_t *txs[2];
	size_t lens[5], n, inc, blen, dropped, bytes = 0;
	uint8_t raw[5][STORE_TX_MAX], *blk;
	int errs[2];
	struct node_propose_opts o = { .time_ms = 1700000009000ull, .preverified = true };

	(void)state;
	fx_open(&f, 100, 1 << 20);
	/* keys 1..3 registered and committed */
	for (uint64_t i = 0; i < 3; i++) {
		tu_pk(1 + i, k[i]);
		n = tu_tx(tx, STORE_TX_REGISTER, 0, i, FEE, k[i], 1000);
		assert_int_equal(admit(&f, tx, n), SN_OK);
	}
	assert_int_equal(commit_pending(&f, NULL), 3);
	/* pending: a transfer from each of them and a registration by the root */
	tu_pk(9, k[3]);
	for (uint64_t i = 0; i < 3; i++) {
		lens[i] = tu_tx(raw[i], STORE_TX_TRANSFER, 1 + i, 0, FEE, k[(i + 1) % 3], 10);
		assert_int_equal(admit(&f, raw[i], lens[i]), SN_OK);
	}
	lens[3] = tu_tx(raw[3], STORE_TX_REGISTER, 0, 3, FEE, k[3], 5);
	assert_int_equal(admit(&f, raw[3], lens[3]), SN_OK);
	for (size_t i = 0; i < 4; i++)
		memcpy(ids[i], node_mempool_at(f.mp, i)->id, SN_HASH_LEN);
	/* a block of the second and the fourth only; resume with their ids reversed and an id
	 * the pool never held */
	txs[0] = raw[1];
	txs[1] = raw[3];
	{
		size_t bl[2] = { lens[1], lens[3] };
		uint8_t committed[3][SN_HASH_LEN];

		node_mempool_suspend(f.mp);
		assert_int_equal(node_engine_propose(f.eng, txs, bl, 2, &o, errs, &blk, &blen, &inc), SN_OK);
		sn_free(blk);
		assert_int_equal(inc, 2);
		memset(other, 0x5a, sizeof(other));
		memcpy(committed[0], ids[3], SN_HASH_LEN);
		memcpy(committed[1], other, SN_HASH_LEN);
		memcpy(committed[2], ids[1], SN_HASH_LEN);
		assert_int_equal(node_mempool_resume(f.mp, (const uint8_t(*)[SN_HASH_LEN])committed, 3, &dropped), SN_OK);
	}
	assert_int_equal(dropped, 0);
	assert_int_equal(node_mempool_count(f.mp), 2);
	assert_memory_equal(node_mempool_at(f.mp, 0)->id, ids[0], SN_HASH_LEN);
	assert_memory_equal(node_mempool_at(f.mp, 1)->id, ids[2], SN_HASH_LEN);
	assert_null(node_mempool_find(f.mp, ids[1]));
	assert_null(node_mempool_find(f.mp, ids[3]));
	assert_ptr_equal(node_mempool_find(f.mp, ids[2]), node_mempool_at(f.mp, 1));
	for (size_t i = 0; i < 2; i++)
		bytes += node_mempool_at(f.mp, i)->len;
	assert_int_equal(node_mempool_bytes(f.mp), bytes);
	/* the committed ones are duplicates now, the others still pending ones */
	assert_int_equal(admit(&f, raw[1], lens[1]), SN_E_DUPTX);
	assert_int_equal(admit(&f, raw[3], lens[3]), SN_E_DUPTX);
	assert_int_equal(admit(&f, raw[0], lens[0]), SN_E_DUPTX);
	assert_int_equal(commit_pending(&f, NULL), 2);
	assert_int_equal(node_mempool_count(f.mp), 0);
	fx_close(&f);
}

/* Out of memory at every allocation of a re-check: the pool stays consistent (count, bytes,
 * index; ASan checks that nothing is freed twice) and works again after the next resume. */
static void test_resume_out_of_memory(void **state)
{
	uint8_t tx[STORE_TX_MAX], a[32], b[32];
	bool passed = false, midway = false;

	(void)state;
	tu_pk(1, a);
	tu_pk(2, b);
	for (unsigned long nth = 1; nth < 200 && !passed; nth++) {
		struct fx f;
		size_t n, dropped = 0, bytes = 0;
		int rc;

		fx_open(&f, 100, 1 << 20);
		n = tu_tx(tx, STORE_TX_REGISTER, 0, 0, FEE, a, 1000);
		assert_int_equal(admit(&f, tx, n), SN_OK);
		n = tu_tx(tx, STORE_TX_TRANSFER, 0, 1, FEE, a, 10);
		assert_int_equal(admit(&f, tx, n), SN_OK);
		n = tu_tx(tx, STORE_TX_REGISTER, 1, 0, FEE, b, 100);
		assert_int_equal(admit(&f, tx, n), SN_OK);
		node_mempool_suspend(f.mp);
		sn_alloc_fail_after(nth);
		rc = node_mempool_resume(f.mp, NULL, 0, &dropped);
		sn_alloc_fail_after(0);
		if (rc == SN_OK) {
			assert_int_equal(node_mempool_count(f.mp), 3);
			passed = true;
		} else {
			assert_int_equal(rc, SN_E_NOMEM);
			assert_true(node_mempool_count(f.mp) + dropped <= 3);
			midway = midway || dropped > 0; /* failed inside the re-check, not before it */
		}
		for (size_t i = 0; i < node_mempool_count(f.mp); i++) {
			const struct node_mempool_entry *e = node_mempool_at(f.mp, i);

			assert_ptr_equal(node_mempool_find(f.mp, e->id), e);
			bytes += e->len;
		}
		assert_int_equal(node_mempool_bytes(f.mp), bytes);
		/* the next block's resume rebuilds the view; admission works again */
		assert_int_equal(node_mempool_resume(f.mp, NULL, 0, NULL), SN_OK);
		n = tu_tx(tx, STORE_TX_TRANSFER, 0, 5, FEE, a, 10);
		assert_int_equal(admit(&f, tx, n), SN_E_NONCE);
		fx_close(&f);
	}
	assert_true(passed);
	assert_true(midway);
}

/* While a block is built from the pending entries and committed, admission goes on: the
 * view keeps the snapshot it began on (the tip before the block, plus every pending
 * transaction) across the commit, new entries are only appended, and the resume after the
 * block keeps them, re-checked against the new tip. (Before, the commit waited for the
 * view's read lock: in one thread this test hung.) */
static void test_admission_during_block(void **state)
{
	struct fx f;
	uint8_t raw[4][STORE_TX_MAX], a[32], ids[4][SN_HASH_LEN], *blk;
	size_t lens[4], inc, blen, dropped = 9;
	const uint8_t *txs[2];
	int errs[2];
	struct node_propose_opts o = { .time_ms = 1700000009000ull, .preverified = true };
	struct store_account acc;

	(void)state;
	fx_open(&f, 100, 1 << 20);
	tu_pk(1, a);
	lens[0] = tu_tx(raw[0], STORE_TX_REGISTER, 0, 0, FEE, a, 1000);
	lens[1] = tu_tx(raw[1], STORE_TX_TRANSFER, 0, 1, FEE, a, 10);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(admit(&f, raw[i], lens[i]), SN_OK);
		txs[i] = node_mempool_at(f.mp, i)->raw;
		memcpy(ids[i], node_mempool_at(f.mp, i)->id, SN_HASH_LEN);
	}
	node_mempool_hold(f.mp);
	/* before the commit: builds on the pending two (root nonce 2) */
	lens[2] = tu_tx(raw[2], STORE_TX_TRANSFER, 0, 2, FEE, a, 20);
	assert_int_equal(admit(&f, raw[2], lens[2]), SN_OK);
	assert_ptr_equal(node_mempool_at(f.mp, 0)->raw, txs[0]); /* nothing moved */
	assert_int_equal(propose_aside(f.eng, txs, lens, 2, &o, errs, &blk, &blen, &inc), SN_OK);
	sn_free(blk);
	assert_int_equal(inc, 2);
	assert_int_equal(store_account_get(f.st, a, &acc), SN_OK); /* readers see the block */
	assert_int_equal(acc.balance, 1010);
	/* after the commit, before the resume: still the view of before the block + pending */
	tu_pk(0, ids[3]);
	lens[3] = tu_tx(raw[3], STORE_TX_TRANSFER, 1, 0, FEE, ids[3], 100);
	assert_int_equal(admit(&f, raw[3], lens[3]), SN_OK);
	assert_int_equal(admit(&f, raw[1], lens[1]), SN_E_DUPTX); /* the block's are still pending */
	assert_int_equal(node_mempool_count(f.mp), 4);
	assert_int_equal(node_mempool_resume(f.mp, (const uint8_t(*)[SN_HASH_LEN])ids, 2, &dropped), SN_OK);
	assert_int_equal(dropped, 0);
	assert_int_equal(node_mempool_count(f.mp), 2);
	assert_int_equal(node_mempool_at(f.mp, 0)->tx.nonce, 2);
	assert_int_equal(node_mempool_at(f.mp, 1)->tx.nonce, 0);
	assert_int_equal(commit_pending(&f, &dropped), 2);
	assert_int_equal(dropped, 0);
	assert_int_equal(store_account_get(f.st, a, &acc), SN_OK);
	assert_int_equal(acc.balance, 1010 + 20 - 100 - FEE);
	fx_close(&f);
}

/* With node_mempool_defer_rebuild (the daemon, whose RPC threads admit): running out of
 * memory in an admission marks the view broken instead of remaking it there. Admission and
 * next_nonce then say busy, unhold refuses (the daemon resumes instead), and a resume on the
 * view's own thread makes everything work again, nothing lost. Every allocation of the
 * admission fails in turn. */
static void test_deferred_rebuild(void **state)
{
	uint8_t tx[2][STORE_TX_MAX], a[32];
	size_t n[2];
	bool passed = false, broke = false;

	(void)state;
	tu_pk(1, a);
	n[0] = tu_tx(tx[0], STORE_TX_REGISTER, 0, 0, FEE, a, 1000);
	n[1] = tu_tx(tx[1], STORE_TX_TRANSFER, 0, 1, FEE, a, 10);
	for (unsigned long nth = 1; nth < 100 && !passed; nth++) {
		struct fx f;
		uint64_t nonce;
		int rc;

		fx_open(&f, 100, 1 << 20);
		node_mempool_defer_rebuild(f.mp);
		assert_int_equal(admit(&f, tx[0], n[0]), SN_OK);
		sn_alloc_fail_after(nth);
		rc = admit(&f, tx[1], n[1]);
		sn_alloc_fail_after(0);
		if (rc == SN_OK) {
			passed = true;
		} else {
			assert_int_equal(rc, SN_E_NOMEM);
			assert_true(node_mempool_broken(f.mp));
			broke = true;
			assert_int_equal(admit(&f, tx[1], n[1]), SN_E_BUSY);
			assert_int_equal(node_mempool_next_nonce(f.mp, a, &nonce), SN_E_BUSY);
			node_mempool_hold(f.mp);
			assert_false(node_mempool_unhold(f.mp)); /* the caller resumes instead */
			assert_int_equal(node_mempool_resume(f.mp, NULL, 0, NULL), SN_OK);
			assert_false(node_mempool_broken(f.mp));
			assert_int_equal(node_mempool_count(f.mp), 1);
			assert_int_equal(admit(&f, tx[1], n[1]), SN_OK);
		}
		assert_int_equal(node_mempool_count(f.mp), 2);
		fx_close(&f);
	}
	assert_true(passed);
	assert_true(broke);
}

/* A block that was not written (no room on disk): node_mempool_unhold keeps every entry and
 * the view as they were, admission goes on from the pending state, and the next block commits
 * them all. */
static void test_block_not_written(void **state)
{
	struct fx f;
	uint8_t raw[3][STORE_TX_MAX], a[32];
	size_t lens[3], dropped = 9;
	struct store_account acc;

	(void)state;
	fx_open(&f, 100, 1 << 20);
	tu_pk(1, a);
	lens[0] = tu_tx(raw[0], STORE_TX_REGISTER, 0, 0, FEE, a, 1000);
	lens[1] = tu_tx(raw[1], STORE_TX_TRANSFER, 0, 1, FEE, a, 10);
	lens[2] = tu_tx(raw[2], STORE_TX_TRANSFER, 0, 2, FEE, a, 20);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(admit(&f, raw[i], lens[i]), SN_OK);
	node_mempool_hold(f.mp); /* a block of the two is built, and fails to be written */
	assert_true(node_mempool_unhold(f.mp));
	assert_int_equal(node_mempool_count(f.mp), 2);
	assert_int_equal(admit(&f, raw[1], lens[1]), SN_E_DUPTX);
	assert_int_equal(admit(&f, raw[2], lens[2]), SN_OK); /* nonce 2: on top of the pending two */
	assert_int_equal(commit_pending(&f, &dropped), 3);
	assert_int_equal(dropped, 0);
	assert_int_equal(node_mempool_count(f.mp), 0);
	assert_int_equal(store_account_get(f.st, a, &acc), SN_OK);
	assert_int_equal(acc.balance, 1030);
	fx_close(&f);
}

/* A commit that fills the map while the mempool's view holds it cannot resize (LMDB needs
 * every transaction of the process closed): it fails with map_full instead of waiting for
 * the view, and after suspend + store_grow_map + resume the same block commits. */
static void test_map_full_with_view(void **state)
{
	struct fx f;
	uint8_t raw[STORE_TX_MAX], key[32], *blk;
	size_t len, inc, blen;
	struct node_propose_opts o = { .time_ms = 1700000009000ull, .preverified = true };
	bool filled = false;

	(void)state;
	fx_open_map(&f, 100, 1 << 20, 1 << 20);
	for (uint64_t i = 0; i < 20000 && !filled; i++) {
		const uint8_t *txs[1] = { raw };
		int errs[1], err;

		tu_pk(100 + i, key);
		len = tu_tx(raw, STORE_TX_REGISTER, 0, i, FEE, key, 1);
		assert_int_equal(admit(&f, raw, len), SN_OK);
		node_mempool_hold(f.mp);
		err = propose_aside(f.eng, txs, &len, 1, &o, errs, &blk, &blen, &inc);
		if (err == SN_E_MAPFULL) {
			filled = true;
			node_mempool_suspend(f.mp);
			assert_int_equal(store_grow_map(f.st), SN_OK);
			assert_int_equal(node_mempool_resume(f.mp, NULL, 0, NULL), SN_OK);
			assert_int_equal(node_mempool_count(f.mp), 1); /* still pending */
			node_mempool_hold(f.mp);
			err = propose_aside(f.eng, txs, &len, 1, &o, errs, &blk, &blen, &inc);
		}
		assert_int_equal(err, SN_OK);
		sn_free(blk);
		assert_int_equal(inc, 1);
		assert_int_equal(node_mempool_resume(f.mp, (const uint8_t(*)[SN_HASH_LEN])node_mempool_at(f.mp, 0)->id, 1, NULL),
		                 SN_OK);
		assert_int_equal(node_mempool_count(f.mp), 0);
	}
	assert_true(filled);
	fx_close(&f);
}

/* ------------------------------------------------------------ the saved form */

/* Transactions saved at a stop come back in order and byte for byte; a file that is not whole
 * and right (every truncation, every flipped byte, another chain or version, a byte after
 * it) is refused, and returns nothing. */
static void test_saved_file(void **state)
{
	static const uint8_t a[] = { 1, 2, 3 }, b[STORE_TX_MAX] = { 9 }, c[] = { 7 };
	const struct node_mempool_saved in[] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct node_mempool_saved *out;
	uint8_t *buf, *bad;
	size_t len, n;

	(void)state;
	assert_int_equal(node_mempool_file_encode(in, 3, 7, &buf, &len), SN_OK);
	assert_int_equal(len, 1 + 4 + 4 + 3 * 4 + sizeof(a) + sizeof(b) + sizeof(c) + 32);
	assert_int_equal(node_mempool_file_decode(buf, len, 7, &out, &n), SN_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(out[i].len, in[i].len);
		assert_memory_equal(out[i].raw, in[i].raw, in[i].len);
	}
	sn_free(out);
	assert_int_equal(node_mempool_file_decode(buf, len, 8, &out, &n), SN_E_CHAIN);
	assert_null(out);
	assert_non_null(bad = malloc(len + 1));
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_not_equal(node_mempool_file_decode(buf, cut, 7, &out, &n), SN_OK);
		assert_true(!out && !n);
	}
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, buf, len);
		bad[i] ^= 0x40;
		assert_int_not_equal(node_mempool_file_decode(bad, len, 7, &out, &n), SN_OK);
		assert_true(!out && !n);
	}
	memcpy(bad, buf, len);
	bad[0] = 2;
	assert_int_equal(node_mempool_file_decode(bad, len, 7, &out, &n), SN_E_VERSION);
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_not_equal(node_mempool_file_decode(bad, len + 1, 7, &out, &n), SN_OK);
	free(bad);
	sn_free(buf);
	/* none pending; a transaction of 0 or more than STORE_TX_MAX bytes is not saved */
	assert_int_equal(node_mempool_file_encode(in, 0, 7, &buf, &len), SN_OK);
	assert_int_equal(node_mempool_file_decode(buf, len, 7, &out, &n), SN_OK);
	assert_int_equal(n, 0);
	sn_free(out);
	sn_free(buf);
	{
		const struct node_mempool_saved zero[] = { { a, 0 } }, over[] = { { b, STORE_TX_MAX + 1 } };

		assert_int_equal(node_mempool_file_encode(zero, 1, 7, &buf, &len), SN_E_INVAL);
		assert_int_equal(node_mempool_file_encode(over, 1, 7, &buf, &len), SN_E_INVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_state_is_used),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_recheck_after_block),
		cmocka_unit_test(test_resume_ids_any_order),
		cmocka_unit_test(test_resume_out_of_memory),
		cmocka_unit_test(test_admission_during_block),
		cmocka_unit_test(test_block_not_written),
		cmocka_unit_test(test_deferred_rebuild),
		cmocka_unit_test(test_map_full_with_view),
		cmocka_unit_test(test_saved_file),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
