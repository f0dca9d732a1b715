/* tests/governance/test_tally.c — the two-track 65% tally (governance/tally.c): a table of
 * hand-checked cases, exact boundaries found by brute force over awkward weights, and a
 * property test against an oracle that compares fractions by continued fractions (no cross
 * multiplication of the threshold at all). */
#include "testutil.h"

#include "governance/governance.h"

#include <stdio.h>

typedef unsigned __int128 u128;

/* ---------------------------------------------------------------- the oracle */

/* Compares a/b with c/d (b, d > 0) by their continued-fraction expansions: Euclid's
 * algorithm on both, never multiplying a by d. Returns -1, 0 or 1. */
static int frac_cmp(u128 a, u128 b, u128 c, u128 d)
{
	for (;;) {
		u128 qa = a / b, qc = c / d, ra = a % b, rc = c % d;

		if (qa != qc)
			return qa < qc ? -1 : 1;
		if (ra == 0 && rc == 0)
			return 0;
		if (ra == 0)
			return -1; /* a/b is the integer, c/d a bit more */
		if (rc == 0)
			return 1;
		/* Same integer part: ra/b against rc/d, which orders as their reciprocals
		 * reversed, d/rc against b/ra. */
		a = d;
		d = ra;
		c = b;
		b = rc;
	}
}

/* x = dy/dt + cy/ct as one fraction reduced by its gcd, compared with 13/10 (65% of 2). */
static u128 gcd128(u128 a, u128 b)
{
	while (b) {
		u128 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int oracle_cmp65(uint64_t dy, uint64_t dt, uint64_t cy, uint64_t ct)
{
	u128 num = (u128)dy * ct + (u128)cy * dt, den = (u128)dt * ct, g = gcd128(num, den);

	if (g > 1) {
		num /= g;
		den /= g;
	}
	return frac_cmp(num, den, 13, 10);
}

static bool oracle_passes(uint64_t dy, uint64_t dt, uint64_t cy, uint64_t ct)
{
	if (dt == 0 || ct == 0)
		return false;
	return oracle_cmp65(dy, dt, cy, ct) >= 0;
}

/* floor(5000·dy/dt + 5000·cy/ct) as the two floors plus the carry of the two remainders. */
static uint32_t oracle_bps(uint64_t dy, uint64_t dt, uint64_t cy, uint64_t ct)
{
	uint64_t fd, fc, rd, rc;

	if (dt == 0 && ct == 0)
		return 0;
	if (dt == 0)
		return (uint32_t)(5000 * (u128)cy / ct);
	if (ct == 0)
		return (uint32_t)(5000 * (u128)dy / dt);
	fd = (uint64_t)(5000 * (u128)dy / dt);
	rd = (uint64_t)(5000 * (u128)dy % dt);
	fc = (uint64_t)(5000 * (u128)cy / ct);
	rc = (uint64_t)(5000 * (u128)cy % ct);
	/* rd/dt + rc/ct < 2: it adds 1 exactly when rd/dt ≥ 1 - rc/ct = (ct-rc)/ct. */
	return (uint32_t)(fd + fc + (frac_cmp(rd, dt, ct - rc, ct) >= 0 ? 1 : 0));
}

static void check_one(uint64_t dy, uint64_t dt, uint64_t cy, uint64_t ct)
{
	struct gov_tally t = { dy, dt, cy, ct };
	bool want = oracle_passes(dy, dt, cy, ct);
	uint32_t bps = gov_tally_bps(&t);

	if (gov_tally_passes(&t) != want || bps != oracle_bps(dy, dt, cy, ct) ||
	    (dt && ct && (bps >= GOV_THRESHOLD_BPS) != want)) {
		fprintf(stderr, "mismatch: dev %llu/%llu comm %llu/%llu: passes %d (want %d) bps %u (want %u)\n",
		        (unsigned long long)dy, (unsigned long long)dt, (unsigned long long)cy,
		        (unsigned long long)ct, gov_tally_passes(&t), want, bps, oracle_bps(dy, dt, cy, ct));
		fail();
	}
}

static void oracle_self_test(void **state)
{
	(void)state;
	assert_int_equal(frac_cmp(1, 3, 1, 3), 0);
	assert_int_equal(frac_cmp(2, 6, 1, 3), 0);
	assert_int_equal(frac_cmp(1, 3, 1, 2), -1);
	assert_int_equal(frac_cmp(13, 10, 129, 100), 1);
	assert_int_equal(frac_cmp(1299999, 1000000, 13, 10), -1);
	assert_int_equal(frac_cmp(355, 113, 22, 7), -1);
	assert_int_equal(frac_cmp(0, 5, 0, 7), 0);
	assert_int_equal(frac_cmp(3, 1, 5, 2), 1);
	assert_true(oracle_passes(10, 10, 3, 10));
	assert_false(oracle_passes(29, 100, 100, 100));
	assert_int_equal(oracle_bps(2, 3, 3, 7), 5476);
	assert_int_equal(oracle_bps(1, 3, 2, 3), 5000); /* 1666.67 + 3333.33: the carry */
}

/* ------------------------------------------------------------------ the table */

struct tally_case {
	const char *what;
	uint64_t dy, dt, cy, ct;
	bool passes;
	uint32_t bps;
};

static const struct tally_case cases[] = {
	{ "all developers + 30% of community (50 + 15)", 10, 10, 3, 10, true, 6500 },
	{ "all developers + 30% of community, weights", 7, 7, 300000, 1000000, true, 6500 },
	{ "all developers + 29.9999% of community", 10, 10, 299999, 1000000, false, 6499 },
	{ "all community + 29% of developers (50 + 14.5)", 29, 100, 100, 100, false, 6450 },
	{ "all community + 30% of developers", 30, 100, 100, 100, true, 6500 },
	{ "developers unanimous, community silent", 3, 3, 0, 7, false, 5000 },
	{ "community unanimous, developers silent", 0, 3, 7, 7, false, 5000 },
	{ "both unanimous", 3, 3, 7, 7, true, 10000 },
	{ "nobody", 0, 3, 0, 7, false, 0 },
	{ "3 and 7 members: 3/3 + 3/7 (50 + 21.43)", 3, 3, 3, 7, true, 7142 },
	{ "3 and 7 members: 3/3 + 2/7 (50 + 14.29)", 3, 3, 2, 7, false, 6428 },
	{ "3 and 7 members: 2/3 + 5/7 (33.33 + 35.71)", 2, 3, 5, 7, true, 6904 },
	{ "3 and 7 members: 2/3 + 4/7 (33.33 + 28.57)", 2, 3, 4, 7, false, 6190 },
	{ "3 and 7 members: 1/3 + 7/7", 1, 3, 7, 7, true, 6666 },
	{ "one floor of the sum, not a sum of floors", 2, 3, 3, 7, false, 5476 },
	{ "carry of two remainders", 1, 3, 2, 3, false, 5000 },
	{ "64.995% (weights 2999 of 10000) refused", 10, 10, 2999, 10000, false, 6499 },
	{ "65.00% (weights 3000 of 10000) accepted", 10, 10, 3000, 10000, true, 6500 },
	{ "64.99995%: 1 weight short at the maximum", 256000000, 256000000, 76799999, 256000000, false, 6499 },
	{ "65% exactly at the maximum totals", 256000000, 256000000, 76800000, 256000000, true, 6500 },
	{ "empty developer track", 0, 0, 7, 7, false, 5000 },
	{ "empty community track", 3, 3, 0, 0, false, 5000 },
	{ "both tracks empty", 0, 0, 0, 0, false, 0 },
	{ "invalid: yes above total", 4, 3, 7, 7, false, 0 },
	{ "invalid: total above the maximum", 1, (uint64_t)UINT32_MAX + 1, 7, 7, false, 0 },
	{ "largest valid totals", UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, true, 10000 },
};

static void table(void **state)
{
	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(cases); i++) {
		const struct tally_case *c = &cases[i];
		struct gov_tally t = { c->dy, c->dt, c->cy, c->ct };

		if (gov_tally_passes(&t) != c->passes || gov_tally_bps(&t) != c->bps) {
			fprintf(stderr, "case %zu (%s): passes %d bps %u\n", i, c->what,
			        gov_tally_passes(&t), gov_tally_bps(&t));
			fail();
		}
		if (c->dy <= c->dt && c->cy <= c->ct && c->dt <= UINT32_MAX && c->ct <= UINT32_MAX)
			check_one(c->dy, c->dt, c->cy, c->ct);
	}
}

static void track_bps(void **state)
{
	(void)state;
	assert_int_equal(gov_track_bps(1, 3), 3333);
	assert_int_equal(gov_track_bps(2, 3), 6666);
	assert_int_equal(gov_track_bps(3, 3), 10000);
	assert_int_equal(gov_track_bps(0, 3), 0);
	assert_int_equal(gov_track_bps(0, 0), 0);
	assert_int_equal(gov_track_bps(4, 3), 0);
	assert_int_equal(gov_track_bps(2999, 10000), 2999);
}

/* --------------------------------------------- exact boundaries by brute force */

/* Enumerates every approval subset of a 3-member and a 7-member track (1,024 pairs). Every
 * pair must agree with the oracle; the pairs exactly at 65% must pass; the closest pair below
 * must fail and the closest above pass. Returns how many pairs sit exactly at 65%. */
static size_t boundary_sweep(const uint32_t dw[3], const uint32_t cw[7])
{
	uint64_t dt = 0, ct = 0;
	/* closest below and above 13/10, as (dy, cy) */
	bool have_below = false, have_above = false;
	uint64_t below_dy = 0, below_cy = 0, above_dy = 0, above_cy = 0;
	size_t exact = 0;

	for (int i = 0; i < 3; i++)
		dt += dw[i];
	for (int i = 0; i < 7; i++)
		ct += cw[i];
	for (unsigned ds = 0; ds < 8; ds++) {
		uint64_t dy = 0;

		for (int i = 0; i < 3; i++)
			if (ds & (1u << i))
				dy += dw[i];
		for (unsigned cs = 0; cs < 128; cs++) {
			struct gov_tally t;
			uint64_t cy = 0;
			int cmp;

			for (int i = 0; i < 7; i++)
				if (cs & (1u << i))
					cy += cw[i];
			t = (struct gov_tally){ dy, dt, cy, ct };
			check_one(dy, dt, cy, ct);
			cmp = oracle_cmp65(dy, dt, cy, ct);
			if (cmp == 0) {
				exact++;
				assert_true(gov_tally_passes(&t));
				assert_int_equal(gov_tally_bps(&t), 6500);
			} else if (cmp < 0) {
				/* keep the largest value below */
				if (!have_below || frac_cmp((u128)dy * ct + (u128)cy * dt, (u128)dt * ct,
				                            (u128)below_dy * ct + (u128)below_cy * dt,
				                            (u128)dt * ct) > 0) {
					have_below = true;
					below_dy = dy;
					below_cy = cy;
				}
			} else if (!have_above || frac_cmp((u128)dy * ct + (u128)cy * dt, (u128)dt * ct,
			                                   (u128)above_dy * ct + (u128)above_cy * dt,
			                                   (u128)dt * ct) < 0) {
				have_above = true;
				above_dy = dy;
				above_cy = cy;
			}
		}
	}
	assert_true(have_below && have_above);
	{
		struct gov_tally b = { below_dy, dt, below_cy, ct }, a = { above_dy, dt, above_cy, ct };

		assert_false(gov_tally_passes(&b));
		assert_true(gov_tally_bps(&b) <= 6499);
		assert_true(gov_tally_passes(&a));
		assert_true(gov_tally_bps(&a) >= 6500);
	}
	return exact;
}

static void boundaries_3_and_7(void **state)
{
	/* 10·(100·dy + 20·cy) = 13·20·100 ⇔ 5·dy + cy = 130: several exact pairs, e.g.
	 * dy = 20 with cy = 30 (2+4+8+16), dy = 17 (4+13) with cy = 45 (8+37). */
	static const uint32_t dev1[3] = { 3, 4, 13 }, comm1[7] = { 1, 2, 4, 8, 16, 32, 37 };
	/* Totals 31 and 58: 13·31·58 is not a multiple of 10, so no pair is exactly at 65%. */
	static const uint32_t dev2[3] = { 7, 11, 13 }, comm2[7] = { 2, 3, 5, 7, 11, 13, 17 };
	/* Large awkward weights: totals 1,000,000 (3 × 333,333 + 1) and 10,000 with a 2,999. */
	static const uint32_t dev3[3] = { 333333, 333333, 333334 };
	static const uint32_t comm3[7] = { 2999, 1, 1000, 1000, 1000, 2000, 2000 };
	static const uint32_t dev4[3] = { 1000000, 999999, 1 }, comm4[7] = { 1, 1, 1, 1, 1, 1, 1 };
	size_t n1, n2, n3;

	(void)state;
	n1 = boundary_sweep(dev1, comm1);
	assert_true(n1 >= 4);
	n2 = boundary_sweep(dev2, comm2);
	assert_int_equal(n2, 0);
	n3 = boundary_sweep(dev3, comm3);
	assert_true(n3 >= 1); /* all developers + {2999, 1} */
	(void)boundary_sweep(dev4, comm4);

	/* The two sides of 65% at 3 and 7 members with the third set, spelled out. */
	{
		struct gov_tally below = { 1000000, 1000000, 2999, 10000 };
		struct gov_tally at = { 1000000, 1000000, 3000, 10000 };

		assert_false(gov_tally_passes(&below));
		assert_int_equal(gov_tally_bps(&below), 6499);
		assert_true(gov_tally_passes(&at));
		assert_int_equal(gov_tally_bps(&at), 6500);
	}
}

/* ------------------------------------------------------------ property test */

static uint32_t rand_weight(struct tu_rng *r, int style)
{
	switch (style) {
	case 0: return 1;                                          /* default weights */
	case 1: return 1 + (uint32_t)tu_rand_below(r, 10);
	case 2: return 1 + (uint32_t)tu_rand_below(r, GOV_WEIGHT_MAX); /* anything */
	default: return tu_rand_below(r, 2) ? GOV_WEIGHT_MAX : 1;  /* extremes */
	}
}

static void property(void **state)
{
	struct tu_rng r = { tu_seed("governance_tally_property") };
	size_t passed = 0, n = 20000;

	(void)state;
	for (size_t it = 0; it < n; it++) {
		uint64_t yes[2] = { 0, 0 }, total[2] = { 0, 0 };
		int style = (int)tu_rand_below(&r, 4);

		for (int k = 0; k < 2; k++) {
			/* Mostly small tracks (where boundaries are dense), sometimes full ones. */
			size_t members = tu_rand_below(&r, 8) ? 1 + tu_rand_below(&r, 12)
			                                      : 1 + tu_rand_below(&r, GOV_TRACK_MEMBERS_MAX);
			unsigned p_yes = (unsigned)tu_rand_below(&r, 101);

			for (size_t i = 0; i < members; i++) {
				uint32_t w = rand_weight(&r, style);

				total[k] += w;
				if (tu_rand_below(&r, 100) < p_yes)
					yes[k] += w;
			}
		}
		check_one(yes[0], total[0], yes[1], total[1]);
		{
			struct gov_tally t = { yes[0], total[0], yes[1], total[1] };

			passed += gov_tally_passes(&t);
		}
	}
	/* Also raw random values over the whole valid range. */
	for (size_t it = 0; it < n; it++) {
		uint64_t dt = 1 + tu_rand_below(&r, UINT32_MAX), ct = 1 + tu_rand_below(&r, UINT32_MAX);

		check_one(tu_rand_below(&r, dt + 1), dt, tu_rand_below(&r, ct + 1), ct);
	}
	fprintf(stderr, "property: %zu of %zu random tallies passed\n", passed, n);
	assert_true(passed > 0 && passed < n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(oracle_self_test),
		cmocka_unit_test(table),
		cmocka_unit_test(track_bps),
		cmocka_unit_test(boundaries_3_and_7),
		cmocka_unit_test(property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
