/* tests/bench/bench_settle.c — the settlement engine on a store of 1,000,000 accounts.
 *
 *   bench sig.verify_raw        BIP340 verifications per second, one core, our thin wrapper
 *                               over libsecp256k1 (x-only key parse + verify); the median of
 *                               rounds run at the start and after the apply phases
 *   bench settle.propose        signed transfers per second building blocks (both cores)
 *   bench settle.apply          signed transfers per second applying those blocks on a
 *                               second store as a syncing node does: decode, signature, rules,
 *                               state root, fsync'd commit, every core, blocks pipelined and
 *                               written in commit groups (node_engine_apply_blocks)
 *   bench settle.apply_per_block_commit
 *                               the same on a fourth store with every block committed (fsync)
 *                               on its own, as a validator at the tip does
 *   bench settle.apply_1thread  the same on a third store with one thread, block by block
 *                               (the baseline)
 *   bench store.open_1m         reopening the 1M-account store: rebuild of the deep-sum index
 *                               and the Merkle tree, checked against the stored root
 *
 * Environment: SN_BENCH_ACCOUNTS (default 1000000), SN_BENCH_BLOCKS (default 10) and
 * SN_BENCH_BLOCK_TXS (default 10000). Figures are totals over all blocks; per-block medians
 * are printed as comments. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "node/node.h"

#define FEE 1

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static struct store *make_store(char **dir, const struct store_genesis *g, unsigned threads, uint64_t group_txs,
                                struct node_engine **eng)
{
	struct store_opts o = { .chain_id = TU_CHAIN, .map_size = 1ull << 30 };
	struct node_engine_opts eo = { .threads = threads, .group_txs = group_txs };
	struct store *st;

	*dir = tu_tmpdir("sn-bench");
	if (!*dir || store_open(&st, *dir, &o) || store_genesis_init(st, g) || node_engine_new(eng, st, &eo)) {
		fprintf(stderr, "bench: cannot create store\n");
		exit(1);
	}
	return st;
}

/* sig.verify_raw: REPS rounds of N verifications, timed in wall and thread CPU time. Half
 * the rounds run before the stores are built and half after they have applied the blocks
 * (verify_raw_round is called from both places), and the median of all is printed, so a
 * neighbour's burst at one moment does not make the baseline of the whole run. */
enum { VR_N = 2000, VR_REPS = 10 };
static uint8_t vr_msgs[VR_N][32], vr_sigs[VR_N][64], vr_pks[VR_N][32];
static double vr_rates[VR_REPS], vr_cpu_us[VR_REPS];
static int vr_done;

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void verify_raw_rounds(int rounds)
{
	if (!vr_done)
		for (int i = 0; i < VR_N; i++) {
			uint8_t sk[32];

			tu_key((uint64_t)i % 64, sk, vr_pks[i]);
			sn_random_bytes(vr_msgs[i], 32);
			if (sn_schnorr_sign(vr_sigs[i], sk, vr_msgs[i], 32, NULL))
				exit(1);
		}
	for (int r = 0; r < rounds && vr_done < VR_REPS; r++, vr_done++) {
		uint64_t t0 = sn_time_mono_ns();
		double c0 = thread_cpu_ns();

		for (int i = 0; i < VR_N; i++)
			if (sn_schnorr_verify(vr_sigs[i], vr_msgs[i], 32, vr_pks[i]))
				exit(1);
		vr_rates[vr_done] = VR_N / ((double)(sn_time_mono_ns() - t0) / 1e9);
		vr_cpu_us[vr_done] = (thread_cpu_ns() - c0) / 1e3 / VR_N;
	}
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* Applies every block through node_engine_apply_blocks; the time it took, in ns. Prints the
 * CPU time it used (all threads) as a comment: on a shared machine wall time depends on the
 * neighbours, CPU time per transaction much less. */
static uint64_t apply_all(const char *name, struct node_engine *eng, uint8_t **blocks_enc, const size_t *blocks_len,
                          size_t n, uint64_t txs)
{
	struct node_block_result r;
	size_t applied;
	uint64_t t0 = sn_time_mono_ns(), dt;
	double c0 = cpu_seconds(), cpu;

	if (node_engine_apply_blocks(eng, (const uint8_t *const *)blocks_enc, blocks_len, NULL, NULL, n, &applied,
	                             &r)) {
		fprintf(stderr, "bench: apply failed: %s at block %zu tx %d\n", sn_errname(r.err), applied, r.tx_index);
		exit(1);
	}
	dt = sn_time_mono_ns() - t0;
	cpu = cpu_seconds() - c0;
	if (getenv("SN_BENCH_DEBUG"))
		fprintf(stderr, "# %s: CLOCK_MONOTONIC %.6f to %.6f s\n", name, (double)t0 / 1e9,
		        (double)(t0 + dt) / 1e9);
	fprintf(stderr, "# %s: %.2f s wall, %.2f s CPU (%.2f cores busy), %.1f us CPU per transaction\n", name,
	        (double)dt / 1e9, cpu, cpu / ((double)dt / 1e9), cpu * 1e6 / (double)txs);
	return dt;
}

int main(void)
{
	uint64_t n_acc = env_u64("SN_BENCH_ACCOUNTS", 1000000);
	uint64_t blocks = env_u64("SN_BENCH_BLOCKS", 10);
	uint64_t per_block = env_u64("SN_BENCH_BLOCK_TXS", 10000);
	uint64_t senders = per_block;
	struct tu_rng rng = { 42 };
	struct store_genesis g;
	struct store_genesis_account *ga;
	struct store *sa, *sb, *sc, *sd;
	struct node_engine *ea, *eb, *ec, *ed;
	char *da, *db, *dc, *dd;
	uint8_t **txbuf;
	size_t *txlen;
	uint8_t **blocks_enc;
	size_t *blocks_len;
	double *rate_blk;
	uint64_t t0, total_apply = 0, total_apply1 = 0, total_apply_pb = 0, total_propose = 0;
	struct store_opts o = { .chain_id = TU_CHAIN };

	if (sn_crypto_init())
		return 1;
	sn_log_set(NULL, NULL, getenv("SN_BENCH_DEBUG") ? SN_LOG_DEBUG : SN_LOG_WARN);
	if (senders + 1 > n_acc)
		senders = n_acc - 1;
	verify_raw_rounds(VR_REPS / 2);

	/* Genesis: a random recursive tree of n_acc accounts; accounts 1..senders have real keys
	 * and funds, the rest random keys (they only receive). */
	memset(&g, 0, sizeof(g));
	tu_key(0, (uint8_t[32]){ 0 }, g.root);
	g.root_balance = 1ull << 40;
	g.params.min_fee = FEE;
	g.params.max_block_txs = (uint32_t)per_block;
	ga = calloc(n_acc, sizeof(*ga));
	for (uint64_t i = 1; i < n_acc; i++) {
		uint8_t sk[32];
		uint64_t sponsor = tu_rand_below(&rng, i);

		if (i <= senders) {
			tu_key(i, sk, ga[i - 1].key);
			ga[i - 1].balance = 1ull << 40;
		} else {
			for (int b = 0; b < 4; b++) {
				uint64_t r = tu_rand(&rng);

				memcpy(ga[i - 1].key + 8 * b, &r, 8);
			}
		}
		if (sponsor == 0)
			memcpy(ga[i - 1].sponsor, g.root, 32);
		else
			memcpy(ga[i - 1].sponsor, ga[sponsor - 1].key, 32);
	}
	g.accounts = ga;
	g.n_accounts = n_acc - 1;
	t0 = sn_time_mono_ns();
	sa = make_store(&da, &g, 2, 0, &ea);
	fprintf(stderr, "# genesis of %llu accounts: %.1f s\n", (unsigned long long)n_acc,
	        (double)(sn_time_mono_ns() - t0) / 1e9);
	sb = make_store(&db, &g, 2, 0, &eb);
	sc = make_store(&dc, &g, 1, 0, &ec);
	sd = make_store(&dd, &g, 2, 1, &ed); /* a group closes after every block */

	/* Signed transfers: each block has every sender once, to random accounts. */
	txbuf = calloc(blocks * per_block, sizeof(*txbuf));
	txlen = calloc(blocks * per_block, sizeof(*txlen));
	for (uint64_t b = 0; b < blocks; b++)
		for (uint64_t k = 0; k < per_block; k++) {
			uint64_t i = b * per_block + k, from = 1 + k % senders, to;

			do
				to = tu_rand_below(&rng, n_acc - 1);
			while (to + 1 == from);
			txbuf[i] = malloc(STORE_TX_MAX);
			txlen[i] = tu_tx(txbuf[i], STORE_TX_TRANSFER, from, b + k / senders, FEE, ga[to].key,
			                 1 + tu_rand_below(&rng, 1000));
		}

	blocks_enc = calloc(blocks, sizeof(*blocks_enc));
	blocks_len = calloc(blocks, sizeof(*blocks_len));
	rate_blk = calloc(blocks, sizeof(*rate_blk));
	for (uint64_t b = 0; b < blocks; b++) {
		int *errs = calloc(per_block, sizeof(*errs));
		size_t inc;

		t0 = sn_time_mono_ns();
		if (node_engine_propose(ea, (const uint8_t *const *)&txbuf[b * per_block], &txlen[b * per_block],
		                        per_block, &(struct node_propose_opts){ .time_ms = 1800000000000ull + b }, errs, &blocks_enc[b], &blocks_len[b],
		                        &inc) || inc != per_block) {
			fprintf(stderr, "bench: propose failed (%zu included, first error %s)\n", inc,
			        sn_errname(errs[0]));
			return 1;
		}
		total_propose += sn_time_mono_ns() - t0;
		free(errs);
	}
	/* Store b applies them as a node that syncs would: all at once, pipelined (the next
	 * block's signatures are checked while the current one applies), in commit groups; store
	 * d the same with one commit per block. */
	total_apply = apply_all("settle.apply", eb, blocks_enc, blocks_len, blocks, blocks * per_block);
	total_apply_pb = apply_all("settle.apply_per_block_commit", ed, blocks_enc, blocks_len, blocks, blocks * per_block);
	/* Store c, the baseline: one thread, block by block. */
	for (uint64_t b = 0; b < blocks; b++) {
		struct node_block_result r;
		uint64_t dt;

		t0 = sn_time_mono_ns();
		if (node_engine_apply_block(ec, blocks_enc[b], blocks_len[b], NULL, 0, &r)) {
			fprintf(stderr, "bench: apply (1 thread) failed: %s\n", sn_errname(r.err));
			return 1;
		}
		dt = sn_time_mono_ns() - t0;
		total_apply1 += dt;
		rate_blk[b] = (double)per_block / ((double)dt / 1e9);
	}
	fprintf(stderr, "# settle.apply_1thread per-block median %.0f tx/s\n", tu_median(rate_blk, blocks));
	verify_raw_rounds(VR_REPS - VR_REPS / 2);
	fprintf(stderr, "# sig.verify_raw: %.1f us CPU per verification (median)\n", tu_median(vr_cpu_us, VR_REPS));
	printf("bench sig.verify_raw %.0f ops/s\n", tu_median(vr_rates, VR_REPS));
	{
		double n = (double)(blocks * per_block);
		double apply = n / ((double)total_apply / 1e9), apply1 = n / ((double)total_apply1 / 1e9);

		printf("bench settle.propose %.0f tx/s\n", n / ((double)total_propose / 1e9));
		printf("bench settle.apply %.0f tx/s\n", apply);
		printf("bench settle.apply_per_block_commit %.0f tx/s\n", n / ((double)total_apply_pb / 1e9));
		printf("bench settle.apply_1thread %.0f tx/s\n", apply1);
		printf("bench settle.apply_speedup_2threads %.2f x\n", apply / apply1);
	}
	node_engine_free(eb);
	store_close(sb);
	t0 = sn_time_mono_ns();
	if (store_open(&sb, db, &o)) {
		fprintf(stderr, "bench: reopen failed\n");
		return 1;
	}
	printf("bench store.open_1m %.0f ms\n", (double)(sn_time_mono_ns() - t0) / 1e6);
	store_close(sb);
	node_engine_free(ea);
	node_engine_free(ec);
	node_engine_free(ed);
	store_close(sa);
	store_close(sc);
	store_close(sd);
	tu_rmtree(da);
	tu_rmtree(db);
	tu_rmtree(dc);
	tu_rmtree(dd);
	return 0;
}
