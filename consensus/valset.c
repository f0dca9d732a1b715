/* consensus/valset.c — validator sets: canonical order, total power, the 2/3 and 1/3
 * thresholds in exact integers, and the power-weighted proposer of (height, round). */
#include "consensus/consensus.h"

#include <stdlib.h>

typedef unsigned __int128 u128;

struct cons_valset {
	size_t n;
	uint64_t total;
	struct cons_validator v[CONS_VALIDATORS_MAX];
};

static int validator_cmp(const void *a, const void *b)
{
	return memcmp(((const struct cons_validator *)a)->key, ((const struct cons_validator *)b)->key,
	              CONS_KEY_LEN);
}

int cons_valset_new(struct cons_valset **out, const struct cons_validator *vals, size_t n)
{
	struct cons_valset *vs;
	uint64_t total = 0;

	*out = NULL;
	if (n == 0 || !vals)
		return SN_E_INVAL;
	if (n > CONS_VALIDATORS_MAX)
		return SN_E_TOOBIG;
	for (size_t i = 0; i < n; i++) {
		if (vals[i].power == 0)
			return SN_E_INVAL;
		if (__builtin_add_overflow(total, vals[i].power, &total))
			return SN_E_OVERFLOW;
	}
	vs = sn_calloc(1, sizeof(*vs));
	if (!vs)
		return SN_E_NOMEM;
	memcpy(vs->v, vals, n * sizeof(vals[0]));
	qsort(vs->v, n, sizeof(vs->v[0]), validator_cmp);
	for (size_t i = 1; i < n; i++) {
		if (memcmp(vs->v[i - 1].key, vs->v[i].key, CONS_KEY_LEN) == 0) {
			sn_free(vs);
			return SN_E_EXISTS;
		}
	}
	vs->n = n;
	vs->total = total;
	*out = vs;
	return SN_OK;
}

void cons_valset_free(struct cons_valset *vs)
{
	sn_free(vs);
}

size_t cons_valset_count(const struct cons_valset *vs)
{
	return vs->n;
}

uint64_t cons_valset_total(const struct cons_valset *vs)
{
	return vs->total;
}

const struct cons_validator *cons_valset_at(const struct cons_valset *vs, size_t i)
{
	assert(i < vs->n);
	return &vs->v[i];
}

int cons_valset_find(const struct cons_valset *vs, const uint8_t key[CONS_KEY_LEN])
{
	_Static_assert(offsetof(struct cons_validator, key) == 0 && CONS_KEY_LEN == 32, "key first");
	return (int)sn_sorted_key_find(vs->v, vs->n, sizeof(vs->v[0]), key);
}

bool cons_valset_is_quorum(const struct cons_valset *vs, uint64_t power)
{
	/* power > 2/3·total  ⇔  3·power > 2·total; both sides < 2^66, exact in 128 bits. */
	return (u128)3 * power > (u128)2 * vs->total;
}

bool cons_valset_is_one_third(const struct cons_valset *vs, uint64_t power)
{
	return (u128)3 * power > (u128)vs->total;
}

uint64_t cons_valset_quorum_power(const struct cons_valset *vs)
{
	/* The least p with 3p > 2t is floor(2t/3) + 1; it is at most t for t >= 1. */
	return (uint64_t)((u128)2 * vs->total / 3) + 1;
}

size_t cons_valset_proposer(const struct cons_valset *vs, uint64_t height, uint32_t round)
{
	uint8_t msg[12], h[SN_HASH_LEN];
	struct sn_writer w = sn_writer_init(msg, sizeof(msg));
	u128 x = 0;
	uint64_t slot;

	sn_write_le64(&w, height);
	sn_write_le32(&w, round);
	assert(!sn_writer_failed(&w));
	sn_hash_tagged(h, "settled/proposer", msg, sizeof(msg));
	for (int i = 15; i >= 0; i--)
		x = (x << 8) | h[i];
	/* The bias of a 128-bit draw modulo a 64-bit total is below 2^-64. */
	slot = (uint64_t)(x % vs->total);
	for (size_t i = 0; i < vs->n; i++) {
		if (slot < vs->v[i].power)
			return i;
		slot -= vs->v[i].power;
	}
	assert(0 && "slot beyond the total power");
	return 0;
}
