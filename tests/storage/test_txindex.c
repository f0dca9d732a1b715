/* tests/storage/test_txindex.c — the txs index's generations and their merges
 * (storage/txindex.c, docs/storage.md "The txs index"), on real LMDB stores with a small
 * txgen_txs so that hundreds of generations are written in a moment: every committed id is
 * found where its block holds it, before, during and after merges, across reopens, commit
 * groups, failed commits and kill -9; the live generations stay bounded; the meta record's
 * codec (v2, and v1 from before levels) rejects what it must. */
#include "testutil.h"

#include "storage/store_int.h"

#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TXGEN 16 /* transactions per level-0 generation in these tests */
#define NEVER 0x4000000000000000ull /* tx numbers from here on are never committed */

/* ---------------------------------------------------------------- chains of transactions */

/* Transaction number k's bytes (opaque to the store): u64 k, then pad filler bytes. */
static size_t tx_bytes(uint8_t *out, uint64_t k, size_t pad)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(k >> (8 * i));
	memset(out + 8, (int)(k & 0xff), pad);
	return 8 + pad;
}

static void tx_id_of(uint8_t id[SN_HASH_LEN], uint64_t k, size_t pad)
{
	uint8_t b[8 + 4096];

	store_tx_id(id, b, tx_bytes(b, k, pad));
}

/* Commits (into g, or alone) one block holding transactions k0 .. k0+n-1, each 8 + pad bytes:
 * its encoding carries them, as the rebuild at open reads them back. */
static int commit_txs_in(struct store *st, struct store_group *g, uint64_t k0, uint32_t n, size_t pad)
{
	struct store_wtxn *w;
	struct store_block_header h;
	const struct store_info *tip;
	uint8_t(*ids)[SN_HASH_LEN] = malloc((n ? n : 1) * SN_HASH_LEN);
	size_t cap = STORE_BLOCK_HEADER_LEN + (size_t)n * (4 + 8 + pad), len = STORE_BLOCK_HEADER_LEN;
	uint8_t *block = malloc(cap);
	int err;

	assert_non_null(ids);
	assert_non_null(block);
	if ((err = g ? store_wtxn_begin_in(g, &w) : store_wtxn_begin(st, &w)))
		goto out;
	tip = store_wtxn_info(w);
	for (uint32_t i = 0; i < n; i++) {
		size_t tl = tx_bytes(block + len + 4, k0 + i, pad);

		block[len] = (uint8_t)tl;
		block[len + 1] = (uint8_t)(tl >> 8);
		block[len + 2] = block[len + 3] = 0;
		store_tx_id(ids[i], block + len + 4, tl);
		len += 4 + tl;
		if ((err = store_wtxn_tx_add(w, ids[i]))) {
			store_wtxn_abort(w);
			goto out;
		}
	}
	tu_header_next(&h, tip, (const uint8_t(*)[SN_HASH_LEN])ids, n);
	if ((err = store_wtxn_state_root(w, h.state_root))) {
		store_wtxn_abort(w);
		goto out;
	}
	store_block_header_encode(block, &h);
	err = store_wtxn_commit(w, &h, block, len, NULL, 0);
out:
	free(ids);
	free(block);
	return err;
}

/* What was committed: tx number k (of pad[k] filler bytes) is at height[k], index[k]
 * (numbers 0 .. n-1). */
struct ledger {
	uint64_t n;
	uint64_t *height;
	uint32_t *index;
	uint16_t *pad;
	size_t cap;
};

static void ledger_add_pad(struct ledger *lg, uint64_t height, uint32_t n, size_t pad)
{
	if (lg->n + n > lg->cap) {
		lg->cap = (lg->n + n) * 2;
		lg->height = realloc(lg->height, lg->cap * sizeof(*lg->height));
		lg->index = realloc(lg->index, lg->cap * sizeof(*lg->index));
		lg->pad = realloc(lg->pad, lg->cap * sizeof(*lg->pad));
		assert_non_null(lg->height);
		assert_non_null(lg->index);
		assert_non_null(lg->pad);
	}
	for (uint32_t i = 0; i < n; i++) {
		lg->height[lg->n] = height;
		lg->pad[lg->n] = (uint16_t)pad;
		lg->index[lg->n++] = i;
	}
}

static void ledger_add(struct ledger *lg, uint64_t height, uint32_t n)
{
	ledger_add_pad(lg, height, n, 0);
}

static void ledger_free(struct ledger *lg)
{
	free(lg->height);
	free(lg->index);
	free(lg->pad);
	memset(lg, 0, sizeof(*lg));
}

/* A block of n new transactions, alone (g NULL) or in g; recorded in lg once g ends well
 * (the caller does that for a group: ledger_add with the heights it knows). */
static void commit_block(struct store *st, struct ledger *lg, uint32_t n)
{
	struct store_info info;

	assert_int_equal(commit_txs_in(st, NULL, lg->n, n, 0), SN_OK);
	store_info_get(st, &info);
	ledger_add(lg, info.height, n);
}

static void expect_found(struct store *st, const struct ledger *lg, uint64_t k)
{
	uint8_t id[SN_HASH_LEN];
	uint64_t h;
	uint32_t i;

	tx_id_of(id, k, lg->pad[k]);
	assert_int_equal(store_tx_locate(st, id, &h, &i), SN_OK);
	assert_int_equal(h, lg->height[k]);
	assert_int_equal(i, lg->index[k]);
}

static void expect_absent(struct store *st, uint64_t k)
{
	uint8_t id[SN_HASH_LEN];
	uint64_t h;
	uint32_t i;

	tx_id_of(id, k, 0);
	assert_int_equal(store_tx_locate(st, id, &h, &i), SN_E_NOTFOUND);
}

/* Every committed id is found where its block holds it, and a few never committed are not. */
static void check_all(struct store *st, const struct ledger *lg)
{
	for (uint64_t k = 0; k < lg->n; k++)
		expect_found(st, lg, k);
	for (uint64_t k = 0; k < 8; k++)
		expect_absent(st, NEVER + k);
	expect_absent(st, lg->n); /* the next one */
}

static void check_sample(struct store *st, const struct ledger *lg, struct tu_rng *rng, int n)
{
	for (int j = 0; j < n && lg->n; j++)
		expect_found(st, lg, tu_rand_below(rng, lg->n));
	expect_absent(st, NEVER + tu_rand_below(rng, 1000));
}

static bool merging(const struct store_txgen *s)
{
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++)
		if (s->lvl[l].n_src && s->lvl[l].started)
			return true;
	return false;
}

static bool purging(const struct store_txgen *s)
{
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++)
		if (s->lvl[l].dead < s->lvl[l].first)
			return true;
	return false;
}

static unsigned levels_used(const struct store_txgen *s)
{
	unsigned n = 0;

	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++)
		if (s->lvl[l].next)
			n = l + 1;
	return n;
}

/* The bound this test holds the index to: fewer than 2 * FANIN live generations per level in
 * use (FANIN being merged, and those written meanwhile: a merge moves at least twice what the
 * commits add, docs/storage.md). */
static void check_bounded(struct store *st)
{
	struct store_txgen s;

	store__txgen_get(st, &s);
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++)
		assert_true(s.lvl[l].next - s.lvl[l].first < 2 * STORE_TXGEN_FANIN);
}

static void txgen_equal(const struct store_txgen *a, const struct store_txgen *b)
{
	assert_int_equal(a->next_height, b->next_height);
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++) {
		assert_int_equal(a->lvl[l].dead, b->lvl[l].dead);
		assert_int_equal(a->lvl[l].first, b->lvl[l].first);
		assert_int_equal(a->lvl[l].next, b->lvl[l].next);
		assert_int_equal(a->lvl[l].n_src, b->lvl[l].n_src);
		assert_int_equal(a->lvl[l].started, b->lvl[l].started);
		assert_memory_equal(a->lvl[l].last, b->lvl[l].last, SN_HASH_LEN);
	}
}

/* The tables against the record: every key of level l's table is in a dead or live
 * generation of l, or in the destination of the merge into l (and not past its `last`); the
 * live ones and memory together hold exactly `committed` ids (which check_all then finds,
 * so none is lost or doubled). *dead gets the entries of dead generations still there. */
static void check_tables(struct store *st, uint64_t committed, uint64_t *dead)
{
	struct store_txgen s;
	MDB_txn *txn;
	uint64_t live = 0;
	size_t mem;

	*dead = 0;
	assert_int_equal(store__snapshot_begin(st, &txn), SN_OK);
	s = st->txgen;
	mem = st->txmem.n;
	store__snapshot_idx_done(st);
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++) {
		const struct store_txgen_level *lv = &s.lvl[l], *below = l ? &s.lvl[l - 1] : NULL;
		MDB_cursor *c;
		MDB_val k, v;
		int rc;

		assert_int_equal(mdb_cursor_open(txn, st->db_txgen[l], &c), 0);
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			const uint8_t *kb = k.mv_data;
			uint32_t gen = (uint32_t)kb[0] << 24 | (uint32_t)kb[1] << 16 | (uint32_t)kb[2] << 8 | kb[3];

			assert_int_equal(k.mv_size, 4 + SN_HASH_LEN);
			assert_int_equal(v.mv_size, 13);
			if (gen >= lv->first && gen < lv->next) {
				live++;
			} else if (gen >= lv->dead && gen < lv->first) {
				(*dead)++;
			} else {
				assert_non_null(below);
				assert_true(below->n_src && below->started && gen == lv->next);
				assert_true(memcmp(kb + 4, below->last, SN_HASH_LEN) <= 0);
			}
		}
		assert_int_equal(rc, MDB_NOTFOUND);
		mdb_cursor_close(c);
	}
	store__snapshot_end(st, txn);
	assert_int_equal(live + mem, committed);
}

static struct store *txstore_open(const char *dir, size_t txgen)
{
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true, .txgen_txs = txgen };
	struct store *st;

	assert_int_equal(store_open(&st, dir, &o), SN_OK);
	return st;
}

/* A new store in a new directory (*dir, caller frees) with genesis and txgen_txs txgen. */
static struct store *txstore_new(char **dir, size_t txgen)
{
	struct store_genesis g;
	struct store *st;

	*dir = tu_tmpdir("sn-txidx");
	st = txstore_open(*dir, txgen);
	memset(&g, 0, sizeof(g));
	tu_pk(0, g.root);
	g.root_balance = 1000;
	g.params.max_block_txs = 10000;
	assert_int_equal(store_genesis_init(st, &g), SN_OK);
	return st;
}

/* Empty blocks until no merge or deletion is pending. */
static void quiesce(struct store *st, struct ledger *lg)
{
	struct store_txgen s;

	for (int i = 0;; i++) {
		assert_true(i < 100000);
		store__txgen_get(st, &s);
		if (!purging(&s) && !merging(&s)) {
			bool pending = false;

			for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++)
				pending |= s.lvl[l].n_src || s.lvl[l].next - s.lvl[l].first >= STORE_TXGEN_FANIN;
			if (!pending)
				return;
		}
		commit_block(st, lg, 0);
	}
}

/* ---------------------------------------------------------------- the meta record */

static size_t rec_v2(uint8_t *out, uint64_t next_height, uint8_t levels, const uint32_t (*ranges)[3],
                     const uint8_t *n_src, const uint8_t *started)
{
	struct sn_writer w = sn_writer_init(out, STORE_TXGEN_REC_MAX + 64);

	sn_write_u8(&w, 2);
	sn_write_le64(&w, next_height);
	sn_write_u8(&w, levels);
	for (unsigned l = 0; l < levels; l++) {
		sn_write_le32(&w, ranges[l][0]);
		sn_write_le32(&w, ranges[l][1]);
		sn_write_le32(&w, ranges[l][2]);
		sn_write_u8(&w, n_src[l]);
		if (!n_src[l])
			continue;
		sn_write_u8(&w, started[l]);
		if (started[l] == 1)
			for (int i = 0; i < SN_HASH_LEN; i++)
				sn_write_u8(&w, (uint8_t)(0xa0 + i));
	}
	assert_false(sn_writer_failed(&w));
	return w.len;
}

/* Known answers, both versions; every truncation and trailing bytes rejected; states that
 * cannot be rejected with corrupt; v2 decodes and encodes to the same bytes. */
static void test_txgen_record(void **state)
{
	static const uint8_t v1[] = { 1, 0x2a, 0, 0, 0, 0x10, 0x27, 0, 0, 0, 0, 0, 0 };
	static const uint32_t r2[2][3] = { { 3, 5, 14 }, { 0, 1, 2 } };
	static const uint8_t src2[2] = { 8, 0 }, st2[2] = { 1, 0 };
	uint8_t rec[STORE_TXGEN_REC_MAX + 64], out[STORE_TXGEN_REC_MAX];
	struct store_txgen s;
	size_t len, olen;

	(void)state;
	/* v1: level 0 holds generations 0 .. 41, blocks below 10000 written */
	assert_int_equal(store__txgen_decode(&s, v1, sizeof(v1)), SN_OK);
	assert_int_equal(s.next_height, 10000);
	assert_int_equal(s.lvl[0].next, 42);
	assert_int_equal(s.lvl[0].first, 0);
	assert_int_equal(store__txgen_live(&s), 42);
	store__txgen_encode(out, &olen, &s); /* re-encoded as v2 */
	{
		static const uint8_t want[] = { 2, 0x10, 0x27, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0 };

		assert_int_equal(olen, sizeof(want));
		assert_memory_equal(out, want, sizeof(want));
	}
	for (size_t n = 0; n < sizeof(v1); n++)
		assert_int_equal(store__txgen_decode(&s, v1, n), SN_E_TRUNCATED);
	memcpy(rec, v1, sizeof(v1));
	assert_int_equal(store__txgen_decode(&s, rec, sizeof(v1) + 1), SN_E_TRAILING);

	/* v2: level 0 merging 5..12 into level 1's gen 2, started; level 1 live 1..1 */
	len = rec_v2(rec, 77, 2, r2, src2, st2);
	assert_int_equal(len, 1 + 8 + 1 + 13 + 1 + 32 + 13);
	assert_int_equal(store__txgen_decode(&s, rec, len), SN_OK);
	assert_int_equal(s.next_height, 77);
	assert_int_equal(s.lvl[0].dead, 3);
	assert_int_equal(s.lvl[0].first, 5);
	assert_int_equal(s.lvl[0].next, 14);
	assert_int_equal(s.lvl[0].n_src, 8);
	assert_true(s.lvl[0].started);
	assert_int_equal(s.lvl[0].last[0], 0xa0);
	assert_int_equal(s.lvl[0].last[31], 0xa0 + 31);
	assert_int_equal(s.lvl[1].next, 2);
	assert_int_equal(store__txgen_live(&s), 9 + 1);
	store__txgen_encode(out, &olen, &s);
	assert_int_equal(olen, len);
	assert_memory_equal(out, rec, len);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(store__txgen_decode(&s, rec, n), SN_E_TRUNCATED);
	rec[len] = 0;
	assert_int_equal(store__txgen_decode(&s, rec, len + 1), SN_E_TRAILING);
	rec[0] = 3;
	assert_int_equal(store__txgen_decode(&s, rec, len), SN_E_VERSION);
	rec[0] = 0;
	assert_int_equal(store__txgen_decode(&s, rec, len), SN_E_VERSION);

	/* states that cannot be */
	{
		struct bad {
			uint8_t levels;
			uint32_t r[2][3];
			uint8_t n_src[2], started[2];
		} bad[] = {
			{ 0, { { 0, 0, 0 } }, { 0 }, { 0 } },                     /* no level */
			{ 1, { { 2, 1, 5 } }, { 0 }, { 0 } },                     /* dead > first */
			{ 1, { { 0, 6, 5 } }, { 0 }, { 0 } },                     /* first > next */
			{ 1, { { 0, 0, 9 } }, { 1 }, { 0 } },                     /* one source */
			{ 1, { { 0, 2, 9 } }, { 8 }, { 0 } },                     /* sources past next */
			{ 1, { { 0, 0, 99 } }, { STORE_TXGEN_SRC_MAX + 1 }, { 0 } }, /* too many */
			{ 1, { { 0, 0, 9 } }, { 8 }, { 2 } },                     /* started not 0/1 */
			{ 2, { { 0, 0, 9 }, { 0, 0, 0 } }, { 0, 0 }, { 0, 0 } },   /* empty last level */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			len = rec_v2(rec, 1, bad[i].levels, bad[i].r, bad[i].n_src, bad[i].started);
			if (bad[i].started[0] == 2)
				len += SN_HASH_LEN; /* as if there were a position */
			assert_int_equal(store__txgen_decode(&s, rec, len), SN_E_CORRUPT);
		}
		/* more levels than there are, and a merge out of the top level */
		memset(&s, 0, sizeof(s));
		s.lvl[STORE_TXGEN_LEVELS - 1].next = 9;
		s.lvl[STORE_TXGEN_LEVELS - 1].n_src = 8;
		store__txgen_encode(out, &olen, &s);
		assert_int_equal(store__txgen_decode(&s, out, olen), SN_E_CORRUPT);
		out[9] = STORE_TXGEN_LEVELS + 1;
		assert_int_equal(store__txgen_decode(&s, out, olen), SN_E_CORRUPT);
	}
}

/* ---------------------------------------------------------------- merges */

/* Blocks of 0..40 transactions: after every block a sample of the committed ids is found
 * (and a never-committed one is not) and the live generations are bounded; every 50 blocks,
 * all of them, and the tables hold exactly what the record says. Merges run at three levels
 * meanwhile; once they are done the dead generations are gone, and a reopen finds it all. */
static void test_merges_keep_every_id(void **state)
{
	char *dir;
	struct store *st = txstore_new(&dir, TXGEN);
	struct tu_rng rng = { tu_seed("test_merges_keep_every_id") };
	struct ledger lg = { 0 };
	struct store_txgen s;
	uint64_t dead;
	int mid_merge = 0, mid_purge = 0;

	(void)state;
	for (int b = 0; b < 700; b++) {
		commit_block(st, &lg, (uint32_t)tu_rand_below(&rng, 41));
		check_sample(st, &lg, &rng, 16);
		check_bounded(st);
		store__txgen_get(st, &s);
		mid_merge += merging(&s);
		mid_purge += purging(&s);
		if (b % 50 == 49) {
			check_all(st, &lg);
			check_tables(st, lg.n, &dead);
		}
	}
	store__txgen_get(st, &s);
	assert_true(levels_used(&s) >= 3);
	assert_true(s.lvl[2].next >= 1); /* a generation of 8 * 8 level-0 ones */
	assert_true(mid_merge > 0 && mid_purge > 0);
	/* without merges there would be one generation per TXGEN */
	assert_true(store__txgen_live(&s) < lg.n / TXGEN / 8);
	{ /* what status reports: the same count, and memory holds less than a generation */
		struct store_tx_index_stats ts;

		store_tx_index_stats(st, &ts);
		assert_int_equal(ts.generations, store__txgen_live(&s));
		assert_true(ts.in_memory < TXGEN);
	}
	quiesce(st, &lg);
	check_all(st, &lg);
	check_tables(st, lg.n, &dead);
	assert_int_equal(dead, 0);
	store__txgen_get(st, &s);
	store_close(st);
	st = txstore_open(dir, TXGEN);
	{
		struct store_txgen r;

		store__txgen_get(st, &r);
		txgen_equal(&s, &r);
	}
	check_all(st, &lg);
	store_close(st);
	ledger_free(&lg);
	tu_rmtree(dir);
	free(dir);
}

/* Closed in the middle of a merge (some of its destination written), and later in the
 * middle of a deletion: reopened, the record is as it was, every id is found, and the merge
 * and deletion go on from where they stood to the same end. */
static void test_reopen_mid_merge_and_purge(void **state)
{
	char *dir;
	struct store *st = txstore_new(&dir, TXGEN);
	struct ledger lg = { 0 };
	struct store_txgen s, r;
	uint64_t dead;

	(void)state;
	for (int phase = 0; phase < 2; phase++) {
		for (int i = 0;; i++) { /* small blocks: a merge of 8 * 16 takes several */
			assert_true(i < 10000);
			commit_block(st, &lg, 3);
			store__txgen_get(st, &s);
			if (phase == 0 ? merging(&s) && s.lvl[0].n_src : purging(&s) && !merging(&s))
				break;
		}
		check_tables(st, lg.n, &dead);
		if (phase == 1)
			assert_true(dead > 0); /* entries of dead generations left for the reopened store */
		store_close(st);
		st = txstore_open(dir, TXGEN);
		store__txgen_get(st, &r);
		txgen_equal(&s, &r);
		check_all(st, &lg);
		check_tables(st, lg.n, &dead);
	}
	for (int b = 0; b < 200; b++)
		commit_block(st, &lg, 5);
	quiesce(st, &lg);
	check_all(st, &lg);
	check_tables(st, lg.n, &dead);
	assert_int_equal(dead, 0);
	store_close(st);
	ledger_free(&lg);
	tu_rmtree(dir);
	free(dir);
}

/* Commit groups of five blocks of 30 (each group writes about nine generations' worth at
 * once and takes a step of every merge in proportion): ids found after every group, none
 * visible before it ends; an aborted group and one with a rejected block leave the index as
 * it was; a reopen finds everything. */
static void test_group_spanning_merges(void **state)
{
	char *dir;
	struct store *st = txstore_new(&dir, TXGEN);
	struct tu_rng rng = { tu_seed("test_group_spanning_merges") };
	struct ledger lg = { 0 };
	struct store_txgen s, r;
	struct store_info info;
	uint64_t dead;

	(void)state;
	for (int grp = 0; grp < 40; grp++) {
		struct store_group *g;
		uint64_t h0;

		store_info_get(st, &info);
		h0 = info.height;
		assert_int_equal(store_group_begin(st, &g), SN_OK);
		for (uint32_t b = 0; b < 5; b++)
			assert_int_equal(commit_txs_in(st, g, lg.n + 30 * b, 30, 0), SN_OK);
		expect_absent(st, lg.n); /* not until the group ends */
		if (grp % 10 == 5) { /* aborted: nothing of it, the index as it was */
			store__txgen_get(st, &s);
			store_group_abort(g);
			store__txgen_get(st, &r);
			txgen_equal(&s, &r);
			expect_absent(st, lg.n);
			check_tables(st, lg.n, &dead);
			continue;
		}
		if (grp % 10 == 7) { /* a block that fails its checks: the group ends before it */
			struct store_wtxn *w;
			struct store_block_header h;
			uint8_t block[STORE_BLOCK_HEADER_LEN];

			assert_int_equal(store_wtxn_begin_in(g, &w), SN_OK);
			memset(&h, 0, sizeof(h));
			h.version = STORE_BLOCK_V1;
			h.chain_id = TU_CHAIN;
			h.height = store_wtxn_info(w)->height + 1;
			memcpy(h.prev_hash, store_wtxn_info(w)->tip_hash, SN_HASH_LEN);
			store_block_header_encode(block, &h);
			assert_int_equal(store_wtxn_commit(w, &h, block, sizeof(block), NULL, 0), SN_E_STATEROOT);
		}
		assert_int_equal(store_group_end(g), SN_OK);
		for (uint32_t b = 0; b < 5; b++)
			ledger_add(&lg, h0 + 1 + b, 30);
		check_sample(st, &lg, &rng, 32);
		check_bounded(st);
		check_tables(st, lg.n, &dead);
	}
	store__txgen_get(st, &s);
	assert_true(levels_used(&s) >= 2);
	check_all(st, &lg);
	store_close(st);
	st = txstore_open(dir, TXGEN);
	check_all(st, &lg);
	store_close(st);
	ledger_free(&lg);
	tu_rmtree(dir);
	free(dir);
}

/* teardown: even after a failed assertion, the tests after it may write. */
static int fsize_unlimited(void **state)
{
	(void)state;
	tu_fsize_limit(0, RLIM_INFINITY);
	return 0;
}

/* A disk that fills in the middle of a merge: the commit (alone, then a group) returns
 * disk_full having changed nothing, on disk or in memory (the record, memory's ids); every
 * id is still found; the same block commits once there is room, and the merge goes on. */
static void test_disk_full_mid_merge(void **state)
{
	char *dir, path[4200];
	struct store *st = txstore_new(&dir, TXGEN);
	struct ledger lg = { 0 };
	struct store_txgen before, after;
	struct store_group *g;
	struct stat sb;
	size_t mem;
	uint64_t dead;
	int err = SN_OK;

	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	for (int i = 0;; i++) {
		struct store_txgen s;

		assert_true(i < 10000);
		commit_block(st, &lg, 5);
		store__txgen_get(st, &s);
		if (merging(&s) && lg.n > 2000)
			break;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	tu_fsize_limit(0, (rlim_t)sb.st_size);
	for (int i = 0; i < 50; i++) { /* big blocks until one needs more room */
		store__txgen_get(st, &before);
		mem = st->txmem.n;
		if ((err = commit_txs_in(st, NULL, lg.n, 40, 3000)))
			break;
		{
			struct store_info info;

			store_info_get(st, &info);
			ledger_add_pad(&lg, info.height, 40, 3000);
		}
	}
	assert_int_equal(err, SN_E_DISKFULL);
	assert_true(merging(&before)); /* the failed commit took a step of a merge */
	assert_int_equal(store_status(st), SN_OK);
	store__txgen_get(st, &after);
	txgen_equal(&before, &after);
	assert_int_equal(st->txmem.n, mem);
	assert_int_equal(commit_txs_in(st, NULL, lg.n, 40, 3000), SN_E_DISKFULL);
	assert_int_equal(store_group_begin(st, &g), SN_OK);
	err = SN_OK;
	for (uint32_t b = 0; b < 3 && !err; b++)
		err = commit_txs_in(st, g, lg.n + 40 * b, 40, 3000);
	assert_int_equal(err, SN_OK);
	assert_int_equal(store_group_end(g), SN_E_DISKFULL);
	store__txgen_get(st, &after);
	txgen_equal(&before, &after);
	assert_int_equal(st->txmem.n, mem);
	check_all(st, &lg); /* none of the failed block's */
	tu_fsize_limit(0, RLIM_INFINITY);
	{
		struct store_info info;

		assert_int_equal(commit_txs_in(st, NULL, lg.n, 40, 3000), SN_OK);
		assert_false(store_disk_full(st));
		store_info_get(st, &info);
		ledger_add_pad(&lg, info.height, 40, 3000);
	}
	for (int b = 0; b < 100; b++)
		commit_block(st, &lg, 7);
	check_all(st, &lg);
	store_close(st);
	st = txstore_open(dir, TXGEN);
	check_all(st, &lg);
	check_tables(st, lg.n, &dead);
	store_close(st);
	ledger_free(&lg);
	tu_rmtree(dir);
	free(dir);
}

/* ---------------------------------------------------------------- old and bad records */

static void raw_meta_put(const char *dir, const void *val, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 5, "txgen" }, v = { len, (void *)val };

	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A store written before levels: 60 generations in table txgen and a v1 record. It opens,
 * finds every id, and its commits then merge the generations down to the bound. */
static void test_v1_record_opens(void **state)
{
	char *dir;
	struct store *st;
	struct ledger lg = { 0 };
	struct store_txgen s;
	uint8_t v1[13];
	struct sn_writer w = sn_writer_init(v1, sizeof(v1));
	uint64_t dead;

	(void)state;
	store__test_txgen_merge_off = true; /* generations as the code before levels wrote them */
	st = txstore_new(&dir, TXGEN);
	while (lg.n < 60 * TXGEN + 5)
		commit_block(st, &lg, 8);
	store__txgen_get(st, &s);
	store_close(st);
	store__test_txgen_merge_off = false;
	assert_int_equal(s.lvl[0].next, 60);
	assert_int_equal(levels_used(&s), 1);
	sn_write_u8(&w, 1);
	sn_write_le32(&w, s.lvl[0].next);
	sn_write_le64(&w, s.next_height);
	raw_meta_put(dir, v1, sizeof(v1));

	st = txstore_open(dir, TXGEN);
	store__txgen_get(st, &s);
	assert_int_equal(s.lvl[0].first, 0);
	assert_int_equal(s.lvl[0].next, 60);
	assert_int_equal(store__txgen_live(&s), 60);
	check_all(st, &lg);
	for (int b = 0; b < 300; b++) {
		commit_block(st, &lg, 1);
		if (b % 20 == 0)
			check_all(st, &lg);
	}
	quiesce(st, &lg);
	check_bounded(st);
	store__txgen_get(st, &s);
	assert_true(store__txgen_live(&s) < 2 * STORE_TXGEN_FANIN);
	check_all(st, &lg);
	check_tables(st, lg.n, &dead);
	assert_int_equal(dead, 0);
	store_close(st);
	st = txstore_open(dir, TXGEN); /* the v2 record it wrote since */
	check_all(st, &lg);
	store_close(st);
	ledger_free(&lg);
	tu_rmtree(dir);
	free(dir);
}

/* A record that does not decode makes opening fail with corrupt, with or without the
 * index; one that decodes but does not match its tables (a merge's position that is not
 * where its destination ends) fails the next commit with corrupt, which latches. */
static void test_corrupt_record(void **state)
{
	struct store_opts off = { .chain_id = TU_CHAIN, .no_sync = true, .no_tx_index = true, .txgen_txs = TXGEN };
	char *dir;
	struct store *st = txstore_new(&dir, TXGEN);
	struct ledger lg = { 0 };
	struct store_txgen s;
	uint8_t rec[STORE_TXGEN_REC_MAX];
	size_t len;

	(void)state;
	for (int i = 0;; i++) {
		assert_true(i < 10000);
		commit_block(st, &lg, 3);
		store__txgen_get(st, &s);
		if (merging(&s) && s.lvl[0].n_src)
			break;
	}
	store_close(st);
	store__txgen_encode(rec, &len, &s);
	{
		uint8_t bad[STORE_TXGEN_REC_MAX + 1];
		struct {
			size_t at, len; /* byte to change, and the length to write */
			uint8_t val;
		} cases[] = {
			{ 0, len, 9 },          /* unknown version */
			{ 9, len, 0 },          /* no levels */
			{ 0, len - 1, 2 },      /* truncated */
			{ 0, len + 1, 2 },      /* trailing */
			{ 1 + 8 + 1 + 12, len, 1 }, /* level 0 merging one source */
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			memcpy(bad, rec, len);
			bad[len] = 0;
			bad[cases[i].at] = cases[i].val;
			raw_meta_put(dir, bad, cases[i].len);
			assert_int_equal(store_open(&st, dir, &off), SN_E_CORRUPT);
			{
				struct store_opts on = off;

				on.no_tx_index = false;
				assert_int_equal(store_open(&st, dir, &on), SN_E_CORRUPT);
			}
		}
	}
	/* decodes, but the merge's position is not where its destination ends */
	s.lvl[0].last[0] ^= 0x80;
	store__txgen_encode(rec, &len, &s);
	raw_meta_put(dir, rec, len);
	st = txstore_open(dir, TXGEN);
	assert_int_equal(commit_txs_in(st, NULL, lg.n, 1, 0), SN_E_CORRUPT);
	assert_int_equal(store_status(st), SN_E_FATAL);
	store_close(st);
	ledger_free(&lg);
	tu_rmtree(dir);
	free(dir);
}

/* ---------------------------------------------------------------- kill -9 */

/* Block h (from 1) holds transactions h * 64 .. h * 64 + per(h) - 1. */
static uint32_t kill_per(uint64_t h)
{
	return (uint32_t)(1 + (h * 7) % 37);
}

/* kill -9 a process committing such blocks (with fsync, every block alone, merges running at
 * every commit) at random moments: every reopen finds every transaction of the blocks it
 * holds where they are, none of the next block, and tables that match the record. */
static void test_kill9_mid_merge(void **state)
{
	char *dir;
	struct store *st = txstore_new(&dir, TXGEN);
	struct store_opts o = { .chain_id = TU_CHAIN, .txgen_txs = TXGEN };
	struct tu_rng rng = { tu_seed("test_kill9_mid_merge") };
	uint64_t last_height = 0;
	int mid = 0;

	(void)state;
	store_close(st);
	for (int round = 0; round < 8; round++) {
		pid_t pid = fork();
		struct store_info info;
		struct store_txgen s;
		uint64_t dead, txs = 0;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct store *cst;

			if (store_open(&cst, dir, &o))
				_exit(3);
			for (;;) {
				store_info_get(cst, &info);
				if (commit_txs_in(cst, NULL, (info.height + 1) * 64, kill_per(info.height + 1), 0))
					_exit(5);
			}
		}
		usleep(30000 + (useconds_t)tu_rand_below(&rng, 250000));
		kill(pid, SIGKILL);
		{
			int status;

			waitpid(pid, &status, 0);
			assert_true(WIFSIGNALED(status));
		}
		assert_int_equal(store_open(&st, dir, &o), SN_OK);
		store_info_get(st, &info);
		assert_true(info.height >= last_height);
		last_height = info.height;
		for (uint64_t h = 1; h <= info.height; h++)
			for (uint32_t i = 0; i < kill_per(h); i++) {
				uint8_t id[SN_HASH_LEN];
				uint64_t fh;
				uint32_t fi;

				tx_id_of(id, h * 64 + i, 0);
				assert_int_equal(store_tx_locate(st, id, &fh, &fi), SN_OK);
				assert_int_equal(fh, h);
				assert_int_equal(fi, i);
				txs++;
			}
		expect_absent(st, (info.height + 1) * 64);
		check_tables(st, txs, &dead);
		check_bounded(st);
		store__txgen_get(st, &s);
		mid += merging(&s) || purging(&s);
		store_close(st);
	}
	assert_true(last_height > 0);
	fprintf(stderr, "test_kill9_mid_merge: height %llu, %d of 8 reopens mid-merge or mid-purge\n",
	        (unsigned long long)last_height, mid);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txgen_record),
		cmocka_unit_test(test_merges_keep_every_id),
		cmocka_unit_test(test_reopen_mid_merge_and_purge),
		cmocka_unit_test(test_group_spanning_merges),
		cmocka_unit_test_teardown(test_disk_full_mid_merge, fsize_unlimited),
		cmocka_unit_test(test_v1_record_opens),
		cmocka_unit_test(test_corrupt_record),
		cmocka_unit_test(test_kill9_mid_merge),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	sn_log_set(NULL, NULL, SN_LOG_OFF);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
