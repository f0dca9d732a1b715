/* tests/bench/bench_deepsum.c — the deep-sum index against the naive ancestor walk.
 *
 * Every shape has n = 1,000,000 accounts, so only the depth changes:
 *   chain_depth_10       a complete 4-ary tree (heap numbering) truncated to n: depth 10
 *   chain_depth_1000     1000 chains of 1000 under the root
 *   chain_depth_100000   10 chains of 100,000 under the root
 *   chain_depth_1000000  one chain (its last account is 999,999 levels deep)
 *   random_1m            random recursive tree (each account picks a uniform earlier sponsor)
 * Measured operations target random accounts at the maximum depth of the shape (uniform
 * accounts for random_1m). Between two timed operations the bench does BACKGROUND untimed
 * operations on uniformly random accounts of the whole index, as a node serving other
 * traffic would, so a shape with few deepest accounts (one, for the single chain) does not
 * get to keep their path in cache. The *_cold figures also flush the caches (a 64 MiB sweep)
 * before each timed operation. Each figure is the median over REPS repetitions of the mean
 * per operation (the timer's own cost subtracted).
 *
 * Output: one line per figure, "bench NAME VALUE UNIT". SN_TEST_SEED replays the shapes. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/deepsum_int.h"
#include "storage/storage.h"

#define N_ACCOUNTS 1000000u
#define REPS 7
#define OPS_PER_REP 2000
#define BACKGROUND 4
#define COLD_OPS 60
#define FLUSH_BYTES (64u << 20)

typedef unsigned __int128 u128;

static volatile uint64_t sink;
static uint8_t *flush_buf;
static double timer_ns;

static void flush_caches(void)
{
	uint64_t s = 0;

	for (size_t i = 0; i < FLUSH_BYTES; i += 64) {
		flush_buf[i]++;
		s += flush_buf[i];
	}
	sink += s;
}

static void calibrate_timer(void)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t total = 0;

		for (int i = 0; i < 100000; i++) {
			uint64_t t0 = sn_time_mono_ns();

			total += sn_time_mono_ns() - t0;
		}
		v[r] = (double)total / 100000;
	}
	timer_ns = tu_median(v, REPS);
}

struct shape {
	const char *name;
	uint32_t *parent;
	uint64_t *pvol;
	uint32_t *depth;
	uint32_t max_depth;
	uint32_t *targets; /* accounts at max_depth (all accounts for the random tree) */
	uint32_t ntargets;
};

static void shape_finish(struct shape *s, bool all_targets)
{
	s->depth = malloc(N_ACCOUNTS * sizeof(*s->depth));
	s->targets = malloc(N_ACCOUNTS * sizeof(*s->targets));
	if (!s->depth || !s->targets)
		abort();
	s->max_depth = 0;
	for (uint32_t i = 0; i < N_ACCOUNTS; i++) {
		s->depth[i] = i ? s->depth[s->parent[i]] + 1 : 0;
		if (s->depth[i] > s->max_depth)
			s->max_depth = s->depth[i];
	}
	s->ntargets = 0;
	for (uint32_t i = 0; i < N_ACCOUNTS; i++) {
		if (all_targets || s->depth[i] == s->max_depth)
			s->targets[s->ntargets++] = i;
	}
}

static void shape_alloc(struct shape *s, const char *name, struct tu_rng *rng)
{
	s->name = name;
	s->parent = malloc(N_ACCOUNTS * sizeof(*s->parent));
	s->pvol = malloc(N_ACCOUNTS * sizeof(*s->pvol));
	if (!s->parent || !s->pvol)
		abort();
	for (uint32_t i = 0; i < N_ACCOUNTS; i++)
		s->pvol[i] = tu_rand_below(rng, 1000000);
	s->parent[0] = 0;
}

/* `chains` chains under the root, each `len` long (the last one shorter if n says so). */
static void shape_chains(struct shape *s, const char *name, struct tu_rng *rng, uint32_t len)
{
	shape_alloc(s, name, rng);
	for (uint32_t i = 1; i < N_ACCOUNTS; i++)
		s->parent[i] = (i - 1) % len == 0 ? 0 : i - 1;
	shape_finish(s, false);
}

static void shape_4ary(struct shape *s, struct tu_rng *rng)
{
	shape_alloc(s, "chain_depth_10", rng);
	for (uint32_t i = 1; i < N_ACCOUNTS; i++)
		s->parent[i] = (i - 1) / 4;
	shape_finish(s, false);
}

static void shape_random(struct shape *s, struct tu_rng *rng)
{
	shape_alloc(s, "random_1m", rng);
	for (uint32_t i = 1; i < N_ACCOUNTS; i++)
		s->parent[i] = (uint32_t)tu_rand_below(rng, i);
	shape_finish(s, true);
}

static void shape_free(struct shape *s)
{
	free(s->parent);
	free(s->pvol);
	free(s->depth);
	free(s->targets);
}

static void must(int err, const char *what)
{
	if (err != SN_OK) {
		fprintf(stderr, "bench_deepsum: %s: %s\n", what, sn_strerror(err));
		exit(1);
	}
}

enum op { OP_UPDATE, OP_QUERY };

static void do_op(struct store_deepsum *ds, enum op op, uint32_t s)
{
	if (op == OP_UPDATE) {
		must(store_deepsum_add_volume(ds, s, 1), "add_volume");
	} else {
		uint64_t size;
		u128 volume;

		must(store_deepsum_team(ds, s, &size, &volume), "team");
		sink += size + (uint64_t)volume;
	}
}

/* ns per timed operation on random targets, median over REPS. */
static double measure(struct store_deepsum *ds, const struct shape *s, enum op op, bool cold,
                      struct tu_rng *rng)
{
	int ops = cold ? COLD_OPS : OPS_PER_REP;
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t total = 0;

		for (int i = 0; i < ops; i++) {
			uint32_t target = s->targets[tu_rand_below(rng, s->ntargets)];
			uint64_t t0;

			if (cold)
				flush_caches();
			else
				for (int b = 0; b < BACKGROUND; b++)
					do_op(ds, op, (uint32_t)tu_rand_below(rng, N_ACCOUNTS));
			t0 = sn_time_mono_ns();
			do_op(ds, op, target);
			total += sn_time_mono_ns() - t0;
		}
		v[r] = (double)total / ops - timer_ns;
	}
	return tu_median(v, REPS);
}

/* The baseline: walk every ancestor of the target adding to its team volume. */
static double measure_naive(const struct shape *s, u128 *team_volume, struct tu_rng *rng)
{
	int ops = s->max_depth > 100000 ? 20 : s->max_depth > 1000 ? 200 : 2000;
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t total = 0;

		for (int i = 0; i < ops; i++) {
			uint32_t target = s->targets[tu_rand_below(rng, s->ntargets)];
			uint64_t t0 = sn_time_mono_ns();

			for (uint32_t a = target;; a = s->parent[a]) {
				team_volume[a] += 1;
				if (a == 0)
					break;
			}
			total += sn_time_mono_ns() - t0;
		}
		v[r] = (double)total / ops - timer_ns;
	}
	return tu_median(v, REPS);
}

static double build_ms(struct store_deepsum **out, const struct shape *s, int reps)
{
	double v[REPS];

	*out = NULL;
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = sn_time_mono_ns();

		store_deepsum_free(*out);
		*out = NULL;
		t0 = sn_time_mono_ns();
		must(store_deepsum_build(out, s->parent, s->pvol, N_ACCOUNTS), "build");
		v[r] = (double)(sn_time_mono_ns() - t0) / 1e6;
	}
	return tu_median(v, reps);
}

static double insert_ns(const struct shape *s, const char *name)
{
	struct store_deepsum *ds = NULL;
	uint64_t t0;
	double ns;
	uint32_t levels;
	double fill;

	must(store_deepsum_new(&ds, 0), "new");
	t0 = sn_time_mono_ns();
	for (uint32_t i = 0; i < N_ACCOUNTS; i++)
		must(store_deepsum_insert(ds, i, s->parent[i], s->pvol[i]), "insert");
	ns = (double)(sn_time_mono_ns() - t0) / N_ACCOUNTS;
	store__deepsum_shape(ds, &levels, &fill);
	printf("bench deepsum.memory_per_account.inserted_%s %.1f bytes\n", name,
	       (double)store__deepsum_bytes_used(ds) / N_ACCOUNTS);
	printf("bench deepsum.leaf_fill.inserted_%s %.2f ratio\n", name, fill);
	store_deepsum_free(ds);
	return ns;
}

int main(void)
{
	struct tu_rng rng;
	struct shape shapes[5];
	double upd[5], qry[5], upd_cold[5], naive[5], ins_random, ins_chain;
	u128 *team_volume;
	uint64_t t_start = sn_time_mono_ns();

	if (sn_crypto_init() != SN_OK)
		return 1;
	rng.s = tu_seed("bench_deepsum");
	flush_buf = calloc(1, FLUSH_BYTES);
	team_volume = calloc(N_ACCOUNTS, sizeof(*team_volume));
	if (!flush_buf || !team_volume)
		return 1;
	calibrate_timer();
	printf("bench deepsum.timer_overhead %.1f ns\n", timer_ns);

	shape_4ary(&shapes[0], &rng);
	shape_chains(&shapes[1], "chain_depth_1000", &rng, 1000);
	shape_chains(&shapes[2], "chain_depth_100000", &rng, 100000);
	shape_chains(&shapes[3], "chain_depth_1000000", &rng, N_ACCOUNTS);
	shape_random(&shapes[4], &rng);

	for (int k = 0; k < 5; k++) {
		struct shape *s = &shapes[k];
		struct store_deepsum *ds;
		bool big = k == 3 || k == 4;
		double ms = build_ms(&ds, s, big ? 3 : 1);

		if (k < 4 && s->max_depth != (k == 0 ? 10u : k == 1 ? 1000u : k == 2 ? 100000u : 999999u)) {
			fprintf(stderr, "bench_deepsum: %s has depth %u\n", s->name, s->max_depth);
			return 1;
		}
		printf("bench deepsum.build.%s %.1f ms\n", k == 3 ? "chain_1m" : s->name, ms);
		if (big) {
			uint32_t levels;
			double fill;

			store__deepsum_shape(ds, &levels, &fill);
			printf("bench deepsum.btree_levels.%s %u levels\n", k == 3 ? "chain_1m" : s->name, levels);
		}
		upd[k] = measure(ds, s, OP_UPDATE, false, &rng);
		qry[k] = measure(ds, s, OP_QUERY, false, &rng);
		upd_cold[k] = measure(ds, s, OP_UPDATE, true, &rng);
		printf("bench deepsum.update.%s %.0f ns\n", s->name, upd[k]);
		printf("bench deepsum.query.%s %.0f ns\n", s->name, qry[k]);
		printf("bench deepsum.update_cold.%s %.0f ns\n", s->name, upd_cold[k]);
		if (k == 0)
			printf("bench deepsum.memory_per_account.built %.1f bytes\n",
			       (double)store__deepsum_bytes_used(ds) / N_ACCOUNTS);
		store_deepsum_free(ds);
		if (k < 4) {
			naive[k] = measure_naive(s, team_volume, &rng);
			printf("bench deepsum.naive.%s %.0f ns\n", s->name, naive[k]);
		}
		fflush(stdout);
	}
	ins_random = insert_ns(&shapes[4], "random_1m");
	printf("bench deepsum.insert.random_1m %.0f ns\n", ins_random);
	ins_chain = insert_ns(&shapes[3], "chain_1m");
	printf("bench deepsum.insert.chain_1m %.0f ns\n", ins_chain);
	printf("bench deepsum.ratio.depth1m_vs_depth10 %.2f x\n", upd[3] / upd[0]);
	printf("bench deepsum.ratio.query_depth1m_vs_depth10 %.2f x\n", qry[3] / qry[0]);
	printf("bench deepsum.ratio.cold_depth1m_vs_depth10 %.2f x\n", upd_cold[3] / upd_cold[0]);
	for (int k = 0; k < 4; k++)
		printf("bench deepsum.speedup_vs_naive.%s %.1f x\n", shapes[k].name, naive[k] / upd[k]);
	printf("bench deepsum.total_time %.1f s\n", (double)(sn_time_mono_ns() - t_start) / 1e9);

	for (int k = 0; k < 5; k++)
		shape_free(&shapes[k]);
	free(team_volume);
	free(flush_buf);
	return (int)(sink & 0);
}
