/* governance/tally.c — the two-track tally: each track holds 50% of the decision weight,
 * shared among its members by weight; 65.00% passes. Integers only, no rounding. */
#include "governance/governance.h"

typedef unsigned __int128 u128;

static bool tally_valid(const struct gov_tally *t)
{
	return t->dev_total <= GOV_TALLY_TOTAL_MAX && t->comm_total <= GOV_TALLY_TOTAL_MAX &&
	       t->dev_yes <= t->dev_total && t->comm_yes <= t->comm_total;
}

bool gov_tally_passes(const struct gov_tally *t)
{
	u128 lhs, rhs;

	if (!tally_valid(t) || t->dev_total == 0 || t->comm_total == 0)
		return false;
	/* 5000·dy/dt + 5000·cy/ct ≥ 6500  ⇔  10·(dy·ct + cy·dt) ≥ 13·dt·ct  (dt, ct > 0).
	 * Every factor is < 2^32, so each product is < 2^64 and the sums stay far below 2^128. */
	lhs = 10 * ((u128)t->dev_yes * t->comm_total + (u128)t->comm_yes * t->dev_total);
	rhs = 13 * ((u128)t->dev_total * t->comm_total);
	return lhs >= rhs;
}

uint32_t gov_tally_bps(const struct gov_tally *t)
{
	u128 num, den;

	if (!tally_valid(t))
		return 0;
	if (t->dev_total == 0 && t->comm_total == 0)
		return 0;
	if (t->dev_total == 0)
		return (uint32_t)((u128)5000 * t->comm_yes / t->comm_total);
	if (t->comm_total == 0)
		return (uint32_t)((u128)5000 * t->dev_yes / t->dev_total);
	/* floor((5000·dy·ct + 5000·cy·dt) / (dt·ct)): one floor of the exact sum. */
	num = 5000 * ((u128)t->dev_yes * t->comm_total + (u128)t->comm_yes * t->dev_total);
	den = (u128)t->dev_total * t->comm_total;
	return (uint32_t)(num / den);
}

uint32_t gov_track_bps(uint64_t yes, uint64_t total)
{
	if (total == 0 || yes > total)
		return 0;
	return (uint32_t)((u128)10000 * yes / total);
}
