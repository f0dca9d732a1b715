/* consensus/voteset.c — the votes of one (chain, height, round, type): membership and
 * signature checks, duplicates, equivocation evidence, and the power behind each value.
 *
 * A member's first vote counts for its value and for "any"; a second, conflicting vote is
 * evidence and also counts for its own value (never for "any"), a third is only evidence.
 * Counting the second is safe — two quorums for different values still share more than 1/3
 * of the power, so at least one honest member would have signed both — and it is needed
 * for liveness: an equivocator that shows different peers different votes would otherwise
 * leave honest nodes with views that never agree on a proof of lock (CometBFT reaches the
 * same end by accepting conflicting votes for a block some peer claims +2/3 for). */
#include "consensus/cons_int.h"

/* The power behind one value (or nil). */
struct tally {
	bool has_block;
	uint8_t block[SN_HASH_LEN];
	uint64_t power;
};

struct cons_voteset {
	const struct cons_valset *vs;
	uint32_t chain_id;
	uint64_t height;
	uint32_t round;
	uint8_t type;
	size_t n;             /* members */
	bool *present;           /* [n]: member i's first vote is in */
	bool *present2;          /* [n]: and its second, conflicting one */
	struct cons_vote *votes; /* [n] */
	struct cons_vote *votes2; /* [n] */
	struct tally *tallies;   /* [2n]: at most two values per member */
	size_t ntallies;
	uint64_t power_any;
};

int cons__voteset_new(struct cons_voteset **out, const struct cons_valset *vs, uint32_t chain_id,
                      uint64_t height, uint32_t round, uint8_t type)
{
	struct cons_voteset *s;
	size_t n = cons_valset_count(vs);

	*out = NULL;
	if (type != CONS_VOTE_PREVOTE && type != CONS_VOTE_PRECOMMIT)
		return SN_E_INVAL;
	s = sn_calloc(1, sizeof(*s));
	if (!s)
		return SN_E_NOMEM;
	s->present = sn_calloc(n, sizeof(s->present[0]));
	s->present2 = sn_calloc(n, sizeof(s->present2[0]));
	s->votes = sn_calloc(n, sizeof(s->votes[0]));
	s->votes2 = sn_calloc(n, sizeof(s->votes2[0]));
	s->tallies = sn_calloc(2 * n, sizeof(s->tallies[0]));
	if (!s->present || !s->present2 || !s->votes || !s->votes2 || !s->tallies) {
		cons__voteset_free(s);
		return SN_E_NOMEM;
	}
	s->vs = vs;
	s->chain_id = chain_id;
	s->height = height;
	s->round = round;
	s->type = type;
	s->n = n;
	*out = s;
	return SN_OK;
}

void cons__voteset_free(struct cons_voteset *s)
{
	if (!s)
		return;
	sn_free(s->present);
	sn_free(s->present2);
	sn_free(s->votes);
	sn_free(s->votes2);
	sn_free(s->tallies);
	sn_free(s);
}

static bool same_value(bool a_has, const uint8_t *a, bool b_has, const uint8_t *b)
{
	return a_has == b_has && (!a_has || memcmp(a, b, SN_HASH_LEN) == 0);
}

static struct tally *tally_find(const struct cons_voteset *s, bool has_block, const uint8_t *block)
{
	for (size_t i = 0; i < s->ntallies; i++)
		if (same_value(s->tallies[i].has_block, s->tallies[i].block, has_block, block))
			return &s->tallies[i];
	return NULL;
}

/* Adds power to the tally of v's value. */
static void tally_add(struct cons_voteset *s, const struct cons_vote *v, uint64_t power)
{
	struct tally *t = tally_find(s, v->has_block, v->block);

	if (!t) {
		assert(s->ntallies < 2 * s->n);
		t = &s->tallies[s->ntallies++];
		t->has_block = v->has_block;
		memcpy(t->block, v->block, SN_HASH_LEN);
	}
	/* Each member at most once per value: every sum is at most the set's total. */
	t->power += power;
}

int cons__voteset_add(struct cons_voteset *s, const struct cons_vote *v, struct cons_evidence *ev)
{
	const struct cons_vote *first, *second;
	uint64_t power;
	int idx, err;

	if (ev)
		memset(ev, 0, sizeof(*ev));
	if (v->chain_id != s->chain_id || v->height != s->height || v->round != s->round ||
	    v->type != s->type)
		return SN_E_INVAL;
	idx = cons_valset_find(s->vs, v->validator);
	if (idx < 0)
		return SN_E_NOT_VALIDATOR;
	first = s->present[idx] ? &s->votes[idx] : NULL;
	second = s->present2[idx] ? &s->votes2[idx] : NULL;
	if ((first && same_value(first->has_block, first->block, v->has_block, v->block)) ||
	    (second && same_value(second->has_block, second->block, v->has_block, v->block)))
		return SN_E_EXISTS;
	err = cons_vote_verify(v);
	if (err != SN_OK)
		return err;
	power = cons_valset_at(s->vs, (size_t)idx)->power;
	if (first) {
		/* Both signed, same (chain, height, round, type), different values. */
		if (ev) {
			ev->a = *first;
			ev->b = *v;
		}
		if (!second) {
			s->present2[idx] = true;
			s->votes2[idx] = *v;
			tally_add(s, v, power);
		}
		return SN_E_EQUIVOCATION;
	}
	s->present[idx] = true;
	s->votes[idx] = *v;
	tally_add(s, v, power);
	s->power_any += power;
	return SN_OK;
}

uint64_t cons__voteset_power_for(const struct cons_voteset *s, bool has_block,
                                 const uint8_t block[SN_HASH_LEN])
{
	const struct tally *t = tally_find(s, has_block, block);

	return t ? t->power : 0;
}

uint64_t cons__voteset_power_any(const struct cons_voteset *s)
{
	return s->power_any;
}

bool cons__voteset_quorum_value(const struct cons_voteset *s, bool *has_block,
                                uint8_t block[SN_HASH_LEN])
{
	*has_block = false;
	memset(block, 0, SN_HASH_LEN);
	for (size_t i = 0; i < s->ntallies; i++) {
		if (cons_valset_is_quorum(s->vs, s->tallies[i].power)) {
			*has_block = s->tallies[i].has_block;
			memcpy(block, s->tallies[i].block, SN_HASH_LEN);
			return true;
		}
	}
	return false;
}

bool cons__voteset_has_quorum_for(const struct cons_voteset *s, bool has_block,
                                  const uint8_t block[SN_HASH_LEN])
{
	return cons_valset_is_quorum(s->vs, cons__voteset_power_for(s, has_block, block));
}

bool cons__voteset_has_quorum_any(const struct cons_voteset *s)
{
	return cons_valset_is_quorum(s->vs, s->power_any);
}

bool cons__voteset_has_one_third_any(const struct cons_voteset *s)
{
	return cons_valset_is_one_third(s->vs, s->power_any);
}

bool cons__voteset_has_member(const struct cons_voteset *s, size_t i)
{
	return i < s->n && s->present[i];
}

void cons__voteset_commit(const struct cons_voteset *s, const uint8_t block[SN_HASH_LEN],
                          struct cons_commit *out)
{
	assert(s->type == CONS_VOTE_PRECOMMIT);
	memset(out, 0, sizeof(*out));
	out->height = s->height;
	out->round = s->round;
	memcpy(out->block, block, SN_HASH_LEN);
	/* Canonical index order is ascending key order. */
	for (size_t i = 0; i < s->n; i++) {
		const struct cons_vote *v = NULL;

		if (s->present[i] && s->votes[i].has_block && memcmp(s->votes[i].block, block, SN_HASH_LEN) == 0)
			v = &s->votes[i];
		else if (s->present2[i] && s->votes2[i].has_block &&
		         memcmp(s->votes2[i].block, block, SN_HASH_LEN) == 0)
			v = &s->votes2[i];
		if (!v)
			continue;
		memcpy(out->sigs[out->count].key, v->validator, CONS_KEY_LEN);
		memcpy(out->sigs[out->count].sig, v->sig, CONS_SIG_LEN);
		out->count++;
	}
}
