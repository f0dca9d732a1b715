/* tests/storage/test_deepsum.c — the deep-sum index against a naive oracle.
 *
 * The oracle is the obvious thing: a parent[] and a personal-volume[] array, team figures
 * kept by walking every ancestor on each insert and volume add (or, for the 100,000-deep
 * chain where that walk is the very cost the index exists to avoid, recomputed from the
 * arrays in one reverse pass at checkpoints). Random tests print their seed
 * (SN_TEST_SEED=<seed> replays one). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/deepsum_int.h"
#include "storage/storage.h"

typedef unsigned __int128 u128;

/* ---------------------------------------------------------------- the oracle */

struct oracle {
	uint32_t n, cap;
	bool walk;          /* keep team figures current by walking ancestors */
	uint32_t *parent;
	uint64_t *pvol;
	uint64_t *size;     /* descendants */
	u128 *volume;       /* own + descendants' personal volume */
};

static void oracle_init(struct oracle *o, uint32_t cap, bool walk)
{
	memset(o, 0, sizeof(*o));
	o->cap = cap;
	o->walk = walk;
	o->parent = calloc(cap, sizeof(*o->parent));
	o->pvol = calloc(cap, sizeof(*o->pvol));
	o->size = calloc(cap, sizeof(*o->size));
	o->volume = calloc(cap, sizeof(*o->volume));
	assert_non_null(o->parent);
	assert_non_null(o->pvol);
	assert_non_null(o->size);
	assert_non_null(o->volume);
}

static void oracle_fini(struct oracle *o)
{
	free(o->parent);
	free(o->pvol);
	free(o->size);
	free(o->volume);
}

static void oracle_insert(struct oracle *o, uint32_t parent, uint64_t pvol)
{
	uint32_t s = o->n++;

	assert_true(s < o->cap);
	o->parent[s] = s ? parent : 0;
	o->pvol[s] = pvol;
	o->size[s] = 0;
	o->volume[s] = pvol;
	if (!o->walk || s == 0)
		return;
	for (uint32_t a = parent;; a = o->parent[a]) {
		o->size[a]++;
		o->volume[a] += pvol;
		if (a == 0)
			break;
	}
}

static void oracle_add(struct oracle *o, uint32_t s, uint64_t delta)
{
	o->pvol[s] += delta;
	if (!o->walk) {
		return;
	}
	for (uint32_t a = s;; a = o->parent[a]) {
		o->volume[a] += delta;
		if (a == 0)
			break;
	}
}

/* From scratch, children before parents (parent[i] < i). */
static void oracle_recompute(struct oracle *o, uint64_t *size, u128 *volume)
{
	for (uint32_t i = 0; i < o->n; i++) {
		size[i] = 0;
		volume[i] = o->pvol[i];
	}
	for (uint32_t i = o->n; i-- > 1;) {
		size[o->parent[i]] += size[i] + 1;
		volume[o->parent[i]] += volume[i];
	}
}

static void oracle_refresh(struct oracle *o)
{
	if (!o->walk)
		oracle_recompute(o, o->size, o->volume);
}

static void expect_team(const struct store_deepsum *ds, uint32_t s, uint64_t size, u128 volume)
{
	uint64_t got_size = 12345;
	u128 got_volume = 12345;

	assert_int_equal(store_deepsum_team(ds, s, &got_size, &got_volume), SN_OK);
	if (got_size != size || got_volume != volume)
		fail_msg("account %u: team_size %llu (want %llu), team_volume %llx:%016llx (want %llx:%016llx)",
		         s, (unsigned long long)got_size, (unsigned long long)size,
		         (unsigned long long)(uint64_t)(got_volume >> 64), (unsigned long long)(uint64_t)got_volume,
		         (unsigned long long)(uint64_t)(volume >> 64), (unsigned long long)(uint64_t)volume);
}

static void expect_account(const struct store_deepsum *ds, const struct oracle *o, uint32_t s)
{
	expect_team(ds, s, o->size[s], o->volume[s]);
}

/* Every account, and the index's own invariants. In walk mode also cross-checks the two
 * oracles against each other. */
static void expect_all(const struct store_deepsum *ds, struct oracle *o)
{
	assert_int_equal(store_deepsum_count(ds), o->n);
	if (o->walk) {
		uint64_t *size = calloc(o->n + 1, sizeof(*size));
		u128 *volume = calloc(o->n + 1, sizeof(*volume));

		assert_non_null(size);
		assert_non_null(volume);
		oracle_recompute(o, size, volume);
		for (uint32_t i = 0; i < o->n; i++) {
			assert_true(size[i] == o->size[i]);
			assert_true(volume[i] == o->volume[i]);
		}
		free(size);
		free(volume);
	} else {
		oracle_refresh(o);
	}
	for (uint32_t i = 0; i < o->n; i++)
		expect_account(ds, o, i);
	assert_int_equal(store__deepsum_check(ds), SN_OK);
}

/* Volumes: mostly small, sometimes huge so team volumes pass 2^64 (the u128 path). */
static uint64_t random_volume(struct tu_rng *r)
{
	uint64_t k = tu_rand_below(r, 16);

	if (k == 0)
		return 0;
	if (k == 1)
		return UINT64_MAX - tu_rand_below(r, 1000);
	return tu_rand_below(r, 1000000);
}

/* A personal volume is a u64 (the store rejects a transfer that would overflow it), so a
 * delta never takes it past UINT64_MAX; team volumes still pass 2^64 many times over. */
static uint64_t add_volume_delta(struct tu_rng *r, const struct oracle *o, uint32_t s)
{
	uint64_t v = random_volume(r);

	return v > UINT64_MAX - o->pvol[s] ? UINT64_MAX - o->pvol[s] : v;
}

/* ---------------------------------------------------------------- differential tests */

enum shape { SHAPE_RANDOM, SHAPE_CHAIN, SHAPE_WIDE };

static uint32_t pick_parent(struct tu_rng *r, enum shape shape, uint32_t n, uint32_t wide_kids)
{
	uint64_t k;

	switch (shape) {
	case SHAPE_CHAIN:
		return n - 1;
	case SHAPE_WIDE:
		/* The root's children, and a few grandchildren under the first ones. */
		if (n <= wide_kids || tu_rand_below(r, 10) != 0)
			return 0;
		return 1 + (uint32_t)tu_rand_below(r, wide_kids);
	case SHAPE_RANDOM:
	default:
		k = tu_rand_below(r, 10);
		if (k < 6)
			return (uint32_t)tu_rand_below(r, n);          /* random recursive tree */
		if (k < 9)
			return n - 1 - (uint32_t)tu_rand_below(r, n < 8 ? n : 8); /* deep runs */
		return (uint32_t)tu_rand_below(r, n < 16 ? n : 16); /* bushy top */
	}
}

/* ops mixed operations; percentages of inserts / volume adds, the rest queries. */
static void run_differential(const char *name, enum shape shape, uint32_t ops, unsigned insert_pct,
                             unsigned add_pct, uint32_t max_accounts, bool walk)
{
	struct tu_rng rng = { tu_seed(name) };
	struct store_deepsum *ds = NULL;
	struct oracle o;
	uint32_t wide_kids = 64;
	uint32_t since_check = 0;

	oracle_init(&o, max_accounts, walk);
	assert_int_equal(store_deepsum_new(&ds, 16), SN_OK);
	assert_int_equal(store_deepsum_insert(ds, 0, 0, 5), SN_OK);
	oracle_insert(&o, 0, 5);
	for (uint32_t op = 0; op < ops; op++) {
		unsigned k = (unsigned)tu_rand_below(&rng, 100);

		if (k < insert_pct && o.n < max_accounts) {
			uint32_t p = pick_parent(&rng, shape, o.n, wide_kids);
			uint64_t v = random_volume(&rng);

			assert_int_equal(store_deepsum_insert(ds, o.n, p, v), SN_OK);
			oracle_insert(&o, p, v);
		} else if (k < insert_pct + add_pct) {
			uint32_t s = (uint32_t)tu_rand_below(&rng, o.n);
			uint64_t v = add_volume_delta(&rng, &o, s);

			assert_int_equal(store_deepsum_add_volume(ds, s, v), SN_OK);
			oracle_add(&o, s, v);
		} else {
			uint32_t s = (uint32_t)tu_rand_below(&rng, o.n);

			if (walk) {
				expect_account(ds, &o, s);
			} else {
				/* Between checkpoints: a chain's team size is known exactly. */
				uint64_t size;
				u128 volume;

				assert_int_equal(store_deepsum_team(ds, s, &size, &volume), SN_OK);
				if (shape == SHAPE_CHAIN)
					assert_int_equal(size, o.n - 1 - s);
				assert_true(volume >= o.pvol[s]);
			}
		}
		if (!walk && ++since_check == 2048) {
			since_check = 0;
			oracle_refresh(&o);
			for (int i = 0; i < 32; i++)
				expect_account(ds, &o, (uint32_t)tu_rand_below(&rng, o.n));
			expect_account(ds, &o, 0);
			expect_account(ds, &o, o.n - 1);
		}
	}
	expect_all(ds, &o);
	store_deepsum_free(ds);
	oracle_fini(&o);
}

static void test_differential_random(void **state)
{
	(void)state;
	/* ~40,000 accounts, 150,000 operations. */
	run_differential("deepsum.differential.random", SHAPE_RANDOM, 150000, 27, 45, 200000, true);
}

static void test_differential_chain(void **state)
{
	(void)state;
	/* A chain 100,000 deep built by inserts, with 100,000 more volume adds and queries. */
	run_differential("deepsum.differential.chain", SHAPE_CHAIN, 200000, 55, 25, 100000, false);
}

static void test_differential_wide(void **state)
{
	(void)state;
	/* The root with ~50,000 direct children (and a few grandchildren). */
	run_differential("deepsum.differential.wide", SHAPE_WIDE, 150000, 40, 40, 200000, true);
}

/* ---------------------------------------------------------------- build vs inserts */

static void random_parents(struct tu_rng *r, enum shape shape, uint32_t *parent, uint64_t *pvol, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		parent[i] = i ? pick_parent(r, shape, i, 64) : 0;
		pvol[i] = random_volume(r);
	}
}

static void check_build_matches(struct tu_rng *rng, enum shape shape, uint32_t n)
{
	struct store_deepsum *built = NULL, *grown = NULL;
	struct oracle o;

	oracle_init(&o, n + 64, false);
	random_parents(rng, shape, o.parent, o.pvol, n);
	o.n = n;
	assert_int_equal(store_deepsum_build(&built, o.parent, o.pvol, n), SN_OK);
	assert_int_equal(store_deepsum_new(&grown, 0), SN_OK);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(store_deepsum_insert(grown, i, o.parent[i], o.pvol[i]), SN_OK);
	expect_all(built, &o);
	expect_all(grown, &o);
	/* Both keep working the same afterwards: volume adds and more inserts. */
	for (int k = 0; k < 2000 && n > 0; k++) {
		uint32_t s = (uint32_t)tu_rand_below(rng, o.n);
		uint64_t v = add_volume_delta(rng, &o, s);

		if (k % 4 == 0 && o.n < o.cap) {
			uint32_t p = pick_parent(rng, shape, o.n, 64);

			assert_int_equal(store_deepsum_insert(built, o.n, p, v), SN_OK);
			assert_int_equal(store_deepsum_insert(grown, o.n, p, v), SN_OK);
			o.parent[o.n] = p;
			o.pvol[o.n] = v;
			o.n++;
		} else {
			assert_int_equal(store_deepsum_add_volume(built, s, v), SN_OK);
			assert_int_equal(store_deepsum_add_volume(grown, s, v), SN_OK);
			o.pvol[s] += v;
		}
	}
	expect_all(built, &o);
	expect_all(grown, &o);
	store_deepsum_free(built);
	store_deepsum_free(grown);
	oracle_fini(&o);
}

static void test_build_matches_inserts(void **state)
{
	struct tu_rng rng = { tu_seed("deepsum.build_matches_inserts") };

	(void)state;
	for (uint32_t n = 0; n < 40; n++)
		check_build_matches(&rng, SHAPE_RANDOM, n);
	check_build_matches(&rng, SHAPE_RANDOM, 50000);
	check_build_matches(&rng, SHAPE_CHAIN, 50000);
	check_build_matches(&rng, SHAPE_WIDE, 50000);
}

/* One chain 1,000,000 deep, built at once and then grown: nothing may recurse. Figures
 * of a chain are known in closed form (size n-1-s, volume = suffix sum). */
static void test_million_deep_chain(void **state)
{
	const uint32_t n = 1000000;
	struct store_deepsum *ds = NULL;
	uint32_t *parent = malloc(n * sizeof(*parent));
	uint64_t *pvol = malloc(n * sizeof(*pvol));
	u128 suffix = 0;

	(void)state;
	assert_non_null(parent);
	assert_non_null(pvol);
	for (uint32_t i = 0; i < n; i++) {
		parent[i] = i ? i - 1 : 0;
		pvol[i] = i % 7;
	}
	assert_int_equal(store_deepsum_build(&ds, parent, pvol, n), SN_OK);
	assert_int_equal(store__deepsum_check(ds), SN_OK);
	assert_int_equal(store_deepsum_add_volume(ds, n - 1, 1000), SN_OK);
	pvol[n - 1] += 1000;
	assert_int_equal(store_deepsum_insert(ds, n, n - 1, 3), SN_OK);
	for (uint32_t s = n; s-- > 0;) {
		suffix += pvol[s];
		if (s % 9973 == 0 || s > n - 5)
			expect_team(ds, s, n - s, suffix + 3);
	}
	expect_team(ds, n, 0, 3);
	store_deepsum_free(ds);
	free(parent);
	free(pvol);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void **state)
{
	struct store_deepsum *ds = (struct store_deepsum *)1;
	uint32_t parent[4] = { 0, 0, 1, 2 };
	uint64_t pvol[4] = { 1, 2, 3, 4 };
	uint64_t size = 99;
	u128 volume = 99;

	(void)state;
	store_deepsum_free(NULL);
	assert_int_equal(store_deepsum_new(&ds, UINT32_MAX), SN_E_TOOBIG);
	assert_null(ds);
	assert_int_equal(store_deepsum_new(&ds, 0), SN_OK);
	assert_int_equal(store_deepsum_count(ds), 0);
	assert_int_equal(store_deepsum_team(ds, 0, &size, &volume), SN_E_INVAL);
	assert_true(size == 0 && volume == 0);
	assert_int_equal(store_deepsum_add_volume(ds, 0, 1), SN_E_INVAL);
	assert_int_equal(store_deepsum_insert(ds, 1, 0, 1), SN_E_INVAL);      /* seq != count */
	assert_int_equal(store_deepsum_insert(ds, 0, 77, 1), SN_OK);          /* root: parent ignored */
	assert_int_equal(store_deepsum_insert(ds, 0, 0, 1), SN_E_INVAL);      /* seq taken */
	assert_int_equal(store_deepsum_insert(ds, 2, 0, 1), SN_E_INVAL);      /* gap */
	assert_int_equal(store_deepsum_insert(ds, 1, 1, 1), SN_E_INVAL);      /* parent == seq */
	assert_int_equal(store_deepsum_insert(ds, 1, 5, 1), SN_E_INVAL);      /* parent > seq */
	assert_int_equal(store_deepsum_insert(ds, 1, UINT32_MAX, 1), SN_E_INVAL);
	assert_int_equal(store_deepsum_insert(ds, UINT32_MAX, 0, 1), SN_E_INVAL);
	assert_int_equal(store_deepsum_insert(ds, 1, 0, 10), SN_OK);
	assert_int_equal(store_deepsum_add_volume(ds, 2, 1), SN_E_INVAL);
	assert_int_equal(store_deepsum_add_volume(ds, UINT32_MAX, 1), SN_E_INVAL);
	assert_int_equal(store_deepsum_team(ds, 2, &size, &volume), SN_E_INVAL);
	assert_int_equal(store_deepsum_team(ds, UINT32_MAX, &size, &volume), SN_E_INVAL);
	assert_int_equal(store_deepsum_reserve(ds, UINT32_MAX), SN_E_TOOBIG);
	assert_int_equal(store_deepsum_reserve(ds, 0), SN_OK);  /* below count: nothing to do */
	/* Failed calls changed nothing. */
	assert_int_equal(store_deepsum_count(ds), 2);
	expect_team(ds, 0, 1, 11);
	expect_team(ds, 1, 0, 10);
	assert_int_equal(store__deepsum_check(ds), SN_OK);
	store_deepsum_free(ds);

	ds = (struct store_deepsum *)1;
	parent[2] = 2;
	assert_int_equal(store_deepsum_build(&ds, parent, pvol, 4), SN_E_INVAL);
	assert_null(ds);
	parent[2] = 3;
	assert_int_equal(store_deepsum_build(&ds, parent, pvol, 4), SN_E_INVAL);
	parent[2] = 1;
	parent[3] = UINT32_MAX;
	assert_int_equal(store_deepsum_build(&ds, parent, pvol, 4), SN_E_INVAL);
	assert_int_equal(store_deepsum_build(&ds, NULL, pvol, 4), SN_E_INVAL);
	assert_int_equal(store_deepsum_build(&ds, parent, NULL, 4), SN_E_INVAL);
	parent[3] = 2;
	parent[0] = 12345; /* ignored */
	assert_int_equal(store_deepsum_build(&ds, parent, pvol, 4), SN_OK);
	expect_team(ds, 0, 3, 10);
	expect_team(ds, 1, 2, 9);
	expect_team(ds, 2, 1, 7);
	expect_team(ds, 3, 0, 4);
	store_deepsum_free(ds);
	assert_int_equal(store_deepsum_build(&ds, NULL, NULL, 0), SN_OK);
	assert_int_equal(store_deepsum_count(ds), 0);
	assert_int_equal(store_deepsum_insert(ds, 0, 0, 0), SN_OK);
	expect_team(ds, 0, 0, 0);
	store_deepsum_free(ds);
}

/* A personal volume is a u64 like the account field it mirrors: a delta that would take it
 * past UINT64_MAX is refused and changes nothing; team volumes are u128 and do not wrap. */
static void test_volume_overflow(void **state)
{
	struct store_deepsum *ds = NULL;
	const u128 max = UINT64_MAX;

	(void)state;
	assert_int_equal(store_deepsum_new(&ds, 4), SN_OK);
	assert_int_equal(store_deepsum_insert(ds, 0, 0, UINT64_MAX), SN_OK);
	assert_int_equal(store_deepsum_insert(ds, 1, 0, UINT64_MAX - 10), SN_OK);
	assert_int_equal(store_deepsum_insert(ds, 2, 1, UINT64_MAX), SN_OK);
	assert_int_equal(store_deepsum_add_volume(ds, 1, 10), SN_OK);
	assert_int_equal(store_deepsum_add_volume(ds, 1, 1), SN_E_OVERFLOW);
	assert_int_equal(store_deepsum_add_volume(ds, 2, 1), SN_E_OVERFLOW);
	assert_int_equal(store_deepsum_add_volume(ds, 2, UINT64_MAX), SN_E_OVERFLOW);
	assert_int_equal(store_deepsum_add_volume(ds, 2, 0), SN_OK);
	expect_team(ds, 0, 2, 3 * max);
	expect_team(ds, 1, 1, 2 * max);
	expect_team(ds, 2, 0, max);
	assert_int_equal(store__deepsum_check(ds), SN_OK);
	store_deepsum_free(ds);
}

/* ---------------------------------------------------------------- reserve and faults */

static void test_reserve_then_inserts_cannot_fail(void **state)
{
	struct tu_rng rng = { tu_seed("deepsum.reserve") };
	struct store_deepsum *ds = NULL;
	struct oracle o;
	const uint32_t n = 5000;
	int err;

	(void)state;
	oracle_init(&o, n + 1, true);
	assert_int_equal(store_deepsum_new(&ds, 3), SN_OK);
	for (uint32_t i = 0; i < 10; i++) {
		uint32_t p = i ? (uint32_t)tu_rand_below(&rng, i) : 0;

		assert_int_equal(store_deepsum_insert(ds, i, p, i), SN_OK);
		oracle_insert(&o, p, i);
	}
	assert_int_equal(store_deepsum_reserve(ds, n), SN_OK);
	sn_alloc_fail_after(1); /* every allocation from now on fails */
	for (uint32_t i = 10; i < n; i++) {
		uint32_t p = pick_parent(&rng, SHAPE_RANDOM, i, 64);
		uint64_t v = random_volume(&rng);

		err = store_deepsum_insert(ds, i, p, v);
		if (err != SN_OK) {
			sn_alloc_fail_after(0);
			fail_msg("insert %u after reserve failed: %s", i, sn_strerror(err));
		}
		oracle_insert(&o, p, v);
	}
	/* Past the reservation the index must grow, and that fails cleanly. */
	err = store_deepsum_insert(ds, n, 0, 1);
	sn_alloc_fail_after(0);
	assert_int_equal(err, SN_E_NOMEM);
	expect_all(ds, &o);
	assert_int_equal(store_deepsum_insert(ds, n, 0, 1), SN_OK);
	oracle_insert(&o, 0, 1);
	expect_all(ds, &o);
	store_deepsum_free(ds);
	oracle_fini(&o);
}

static void test_alloc_failures(void **state)
{
	struct tu_rng rng = { tu_seed("deepsum.alloc_failures") };
	struct store_deepsum *ds;
	struct oracle o;
	const uint32_t n = 3000;
	unsigned long k;
	int err;

	(void)state;
	oracle_init(&o, n + 1, false);
	random_parents(&rng, SHAPE_RANDOM, o.parent, o.pvol, n);
	o.n = n;

	for (k = 1;; k++) {
		ds = (struct store_deepsum *)1;
		sn_alloc_fail_after(k);
		err = store_deepsum_new(&ds, 100);
		sn_alloc_fail_after(0);
		if (err == SN_OK)
			break;
		assert_int_equal(err, SN_E_NOMEM);
		assert_null(ds);
	}
	assert_true(k > 1);
	store_deepsum_free(ds);

	for (k = 1;; k++) {
		ds = (struct store_deepsum *)1;
		sn_alloc_fail_after(k);
		err = store_deepsum_build(&ds, o.parent, o.pvol, n);
		sn_alloc_fail_after(0);
		if (err == SN_OK)
			break;
		assert_int_equal(err, SN_E_NOMEM);
		assert_null(ds);
	}
	assert_true(k > 2);
	expect_all(ds, &o);
	store_deepsum_free(ds);

	/* reserve and growing inserts: a failure leaves the index as it was. */
	assert_int_equal(store_deepsum_new(&ds, 0), SN_OK);
	sn_alloc_fail_after(1);
	err = store_deepsum_reserve(ds, n);
	sn_alloc_fail_after(0);
	assert_int_equal(err, SN_E_NOMEM);
	for (uint32_t i = 0; i < n; i++) {
		sn_alloc_fail_after(1);
		err = store_deepsum_insert(ds, i, o.parent[i], o.pvol[i]);
		sn_alloc_fail_after(0);
		if (err == SN_E_NOMEM) {
			assert_int_equal(store_deepsum_count(ds), i);
			assert_int_equal(store__deepsum_check(ds), SN_OK);
			err = store_deepsum_insert(ds, i, o.parent[i], o.pvol[i]);
		}
		assert_int_equal(err, SN_OK);
	}
	expect_all(ds, &o);
	store_deepsum_free(ds);
	oracle_fini(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_volume_overflow),
		cmocka_unit_test(test_differential_random),
		cmocka_unit_test(test_differential_chain),
		cmocka_unit_test(test_differential_wide),
		cmocka_unit_test(test_build_matches_inserts),
		cmocka_unit_test(test_million_deep_chain),
		cmocka_unit_test(test_reserve_then_inserts_cannot_fail),
		cmocka_unit_test(test_alloc_failures),
	};

	if (sn_crypto_init() != SN_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
