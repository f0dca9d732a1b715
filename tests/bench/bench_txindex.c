/* tests/bench/bench_txindex.c — the txs index's lookups (store_tx_locate) on a long chain, with
 * generations merged level by level against the layout before levels (every generation
 * live), on two stores built from the same blocks in the same run.
 *
 * SN_BENCH_TXINDEX_TXS transactions (default 1,000,000) in blocks of 256, each committed on
 * its own (no fsync), with txgen_txs 1,024: ~980 generations unmerged, which is where a chain
 * of ~64 million transactions stands with the node's 65,536 (one descent per generation
 * either way).
 *
 *   bench txindex.live_generations_<N>tx[_unmerged]   generations a lookup that misses memory
 *                                                      descends into, at the end
 *   bench txindex.locate_miss_<N>tx[_unmerged]        store_tx_locate of an id never committed
 *                                                      (what a rejected replay costs the mempool)
 *   bench txindex.locate_hit_<N>tx[_unmerged]         of a committed id not in memory
 *   bench txindex.locate_miss_speedup_<N>tx           unmerged / merged
 *   bench txindex.commit_mean_<N>tx[_unmerged]        a block's commit, mean
 *   bench txindex.commit_max_<N>tx[_unmerged]         the slowest single commit (merging must
 *                                                      not stall one)
 *   bench txindex.entries_per_leaf_page_<N>tx         in the generation tables at the end
 *                                                      (MDB_APPEND keeps merged pages full)
 * Lookup figures are the median over REPS rounds of the mean of OPS lookups. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/store_int.h"

#define BLOCK_TXS 256
#define TXGEN 1024
#define REPS 5
#define OPS 400
#define NEVER 0x4000000000000000ull

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

_Noreturn static void die(const char *what, int err)
{
	fprintf(stderr, "bench_txindex: %s: %s\n", what, sn_strerror(err));
	exit(1);
}

static size_t tx_bytes(uint8_t out[8], uint64_t k)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(k >> (8 * i));
	return 8;
}

static void tx_id_of(uint8_t id[SN_HASH_LEN], uint64_t k)
{
	uint8_t b[8];

	store_tx_id(id, b, tx_bytes(b, k));
}

/* One block of transactions k0 .. k0+n-1 (8 bytes each), committed on its own. */
static int commit_txs(struct store *st, uint64_t k0, uint32_t n)
{
	static uint8_t block[STORE_BLOCK_HEADER_LEN + BLOCK_TXS * 12], ids[BLOCK_TXS][SN_HASH_LEN];
	struct store_block_header h;
	const struct store_info *tip;
	struct store_wtxn *w;
	size_t len = STORE_BLOCK_HEADER_LEN;
	int err;

	if ((err = store_wtxn_begin(st, &w)))
		return err;
	tip = store_wtxn_info(w);
	for (uint32_t i = 0; i < n; i++) {
		block[len] = 8;
		block[len + 1] = block[len + 2] = block[len + 3] = 0;
		tx_bytes(block + len + 4, k0 + i);
		store_tx_id(ids[i], block + len + 4, 8);
		len += 12;
		if ((err = store_wtxn_tx_add(w, ids[i]))) {
			store_wtxn_abort(w);
			return err;
		}
	}
	tu_header_next(&h, tip, (const uint8_t(*)[SN_HASH_LEN])ids, n);
	if ((err = store_wtxn_state_root(w, h.state_root))) {
		store_wtxn_abort(w);
		return err;
	}
	store_block_header_encode(block, &h);
	return store_wtxn_commit(w, &h, block, len, NULL, 0);
}

struct figures {
	uint64_t live;
	double miss_ns, hit_ns, commit_mean_ms, commit_max_ms, per_leaf;
};

/* Mean ns of OPS lookups of ids k = base + rand below span, median over REPS. */
static double locate_ns(struct store *st, struct tu_rng *rng, uint64_t base, uint64_t span, int want)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
		static uint8_t ids[OPS][SN_HASH_LEN];
		uint64_t t0, h;
		uint32_t ix;

		for (int i = 0; i < OPS; i++)
			tx_id_of(ids[i], base + tu_rand_below(rng, span));
		t0 = sn_time_mono_ns();
		for (int i = 0; i < OPS; i++)
			if (store_tx_locate(st, ids[i], &h, &ix) != want)
				die("store_tx_locate", SN_E_INVAL);
		v[r] = (double)(sn_time_mono_ns() - t0) / OPS;
	}
	return tu_median(v, REPS);
}

static void run(uint64_t txs, bool merge, uint64_t seed, struct figures *f)
{
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true, .txgen_txs = TXGEN, .map_size = 1ull << 30 };
	struct store_genesis g;
	struct store_txgen s;
	struct tu_rng rng = { seed };
	struct store *st;
	char *dir = tu_tmpdir("sn-bench-txidx");
	uint64_t total = 0, max = 0, blocks = 0, entries = 0, leaves = 0;
	MDB_txn *txn;
	int err;

	store__test_txgen_merge_off = !merge;
	if (!dir || (err = store_open(&st, dir, &o)))
		die("store_open", dir ? err : SN_E_IO);
	memset(&g, 0, sizeof(g));
	tu_pk(0, g.root);
	g.root_balance = 1;
	g.params.max_block_txs = BLOCK_TXS;
	if ((err = store_genesis_init(st, &g)))
		die("genesis", err);
	for (uint64_t k = 0; k < txs; k += BLOCK_TXS, blocks++) {
		uint64_t t0 = sn_time_mono_ns(), dt;

		if ((err = commit_txs(st, k, (uint32_t)(txs - k < BLOCK_TXS ? txs - k : BLOCK_TXS))))
			die("commit", err);
		dt = sn_time_mono_ns() - t0;
		total += dt;
		max = dt > max ? dt : max;
	}
	store__txgen_get(st, &s);
	f->live = store__txgen_live(&s);
	f->commit_mean_ms = (double)total / (double)blocks / 1e6;
	f->commit_max_ms = (double)max / 1e6;
	f->miss_ns = locate_ns(st, &rng, NEVER, 1ull << 40, SN_E_NOTFOUND);
	f->hit_ns = locate_ns(st, &rng, 0, txs - 4 * TXGEN, SN_OK); /* older than memory */
	if ((err = store__snapshot_begin(st, &txn)))
		die("snapshot", err);
	store__snapshot_idx_done(st);
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++) {
		MDB_stat ms;

		if (mdb_stat(txn, st->db_txgen[l], &ms) == 0) {
			entries += ms.ms_entries;
			leaves += ms.ms_leaf_pages;
		}
	}
	store__snapshot_end(st, txn);
	f->per_leaf = leaves ? (double)entries / (double)leaves : 0;
	store_close(st);
	store__test_txgen_merge_off = false;
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	uint64_t txs = env_u64("SN_BENCH_TXINDEX_TXS", 1000000), seed = tu_seed("bench_txindex"), t0;
	struct figures un, lv;
	char n[32];

	if (sn_crypto_init())
		die("crypto", SN_E_IO);
	sn_log_set(NULL, NULL, SN_LOG_OFF);
	if (txs < 8 * TXGEN)
		txs = 8 * TXGEN;
	if (txs % 1000000 == 0)
		snprintf(n, sizeof(n), "%llum", (unsigned long long)(txs / 1000000));
	else
		snprintf(n, sizeof(n), "%llu", (unsigned long long)txs);
	t0 = sn_time_mono_ns();
	run(txs, false, seed, &un);
	run(txs, true, seed, &lv);
	printf("bench txindex.live_generations_%stx_unmerged %llu generations\n", n, (unsigned long long)un.live);
	printf("bench txindex.live_generations_%stx %llu generations\n", n, (unsigned long long)lv.live);
	printf("bench txindex.locate_miss_%stx_unmerged %.0f ns\n", n, un.miss_ns);
	printf("bench txindex.locate_miss_%stx %.0f ns\n", n, lv.miss_ns);
	printf("bench txindex.locate_miss_speedup_%stx %.1f x\n", n, un.miss_ns / lv.miss_ns);
	printf("bench txindex.locate_hit_%stx_unmerged %.0f ns\n", n, un.hit_ns);
	printf("bench txindex.locate_hit_%stx %.0f ns\n", n, lv.hit_ns);
	printf("bench txindex.commit_mean_%stx_unmerged %.2f ms\n", n, un.commit_mean_ms);
	printf("bench txindex.commit_mean_%stx %.2f ms\n", n, lv.commit_mean_ms);
	printf("bench txindex.commit_max_%stx_unmerged %.2f ms\n", n, un.commit_max_ms);
	printf("bench txindex.commit_max_%stx %.2f ms\n", n, lv.commit_max_ms);
	printf("bench txindex.entries_per_leaf_page_%stx_unmerged %.1f entries\n", n, un.per_leaf);
	printf("bench txindex.entries_per_leaf_page_%stx %.1f entries\n", n, lv.per_leaf);
	printf("bench txindex.total_time %.1f s\n", (double)(sn_time_mono_ns() - t0) / 1e9);
	return 0;
}
