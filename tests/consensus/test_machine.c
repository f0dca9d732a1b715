/* tests/consensus/test_machine.c — the state machine (consensus/machine.c) driven by hand,
 * one event at a time, against the real validator set, codecs and vote sets: the action
 * protocol (persist before every broadcast), a full height as proposer, timeouts growing
 * with the round, locking and unlocking on a newer proof of lock, round skipping, evidence,
 * rejections, and double-sign protection across a crash and restart. */
#include "cons_testutil.h"

#define BASE_MS 1000
#define DELTA_MS 500

struct rec_action {
	enum cons_action_type type;
	uint64_t height;
	uint32_t round;
	uint8_t step;
	uint64_t ms;
	struct cons_vote vote;
	struct cons_proposal proposal;
	struct cons_sign_state ss;
	uint8_t ss_bytes[CONS_SIGNSTATE_LEN];
	struct cons_evidence ev;
};

struct rec {
	struct rec_action a[128];
	size_t n;
	int persist_result;       /* what SIGN_STATE_PERSIST answers */
	struct cons_machine *m;   /* for the reentrancy check */
	int reentry;              /* what a call back into the machine returned */
	struct cons_commit commit;
};

TK_GROUP_OF_FOUR(vals)

static int on_action(void *ud, const struct cons_action *a)
{
	struct rec *r = ud;
	struct rec_action *x;

	assert_true(r->n < SN_ARRAY_LEN(r->a));
	x = &r->a[r->n++];
	memset(x, 0, sizeof(*x));
	x->type = a->type;
	x->height = a->height;
	x->round = a->round;
	x->step = a->step;
	x->ms = a->timeout_ms;
	if (a->vote)
		x->vote = *a->vote;
	if (a->proposal)
		x->proposal = *a->proposal;
	if (a->sign_state) {
		x->ss = *a->sign_state;
		memcpy(x->ss_bytes, a->sign_state_bytes, CONS_SIGNSTATE_LEN);
	}
	if (a->evidence)
		x->ev = *a->evidence;
	if (a->commit)
		r->commit = *a->commit;
	if (r->m)
		r->reentry = cons_machine_on_timeout(r->m, 1, 0, CONS_STEP_PROPOSE);
	return a->type == CONS_ACT_SIGN_STATE_PERSIST ? r->persist_result : SN_OK;
}

static struct cons_machine *machine_new(struct rec *r, size_t me, const struct cons_sign_state *last)
{
	struct cons_machine_opts o = { 0 };
	struct cons_machine *m;

	memset(r, 0, sizeof(*r));
	o.chain_id = TK_CHAIN;
	o.timeouts.propose_ms = o.timeouts.prevote_ms = o.timeouts.precommit_ms = BASE_MS;
	o.timeouts.propose_delta_ms = o.timeouts.prevote_delta_ms = o.timeouts.precommit_delta_ms = DELTA_MS;
	o.seckey = vals.sk[me];
	o.last_signed = last;
	o.on_action = on_action;
	o.ud = r;
	assert_int_equal(cons_machine_new(&m, &o), SN_OK);
	return m;
}

/* Every broadcast follows the persist of its record, which names the same (h, r, step, value). */
static void check_persist_before_broadcast(const struct rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct rec_action *x = &r->a[i], *p;

		if (x->type != CONS_ACT_BROADCAST_VOTE && x->type != CONS_ACT_BROADCAST_PROPOSAL)
			continue;
		assert_true(i > 0);
		p = &r->a[i - 1];
		assert_int_equal(p->type, CONS_ACT_SIGN_STATE_PERSIST);
		if (x->type == CONS_ACT_BROADCAST_VOTE) {
			assert_true(p->ss.height == x->vote.height && p->ss.round == x->vote.round);
			assert_int_equal(p->ss.step, x->vote.type + 1);
			assert_int_equal(p->ss.has_value, x->vote.has_block);
			assert_memory_equal(p->ss.value, x->vote.block, SN_HASH_LEN);
		} else {
			assert_int_equal(p->ss.step, CONS_STEP_PROPOSE);
			assert_memory_equal(p->ss.value, x->proposal.block, SN_HASH_LEN);
		}
	}
}

/* The index of the n-th (from 0) action of type since index from, or -1. */
static int find(const struct rec *r, size_t from, enum cons_action_type type)
{
	for (size_t i = from; i < r->n; i++)
		if (r->a[i].type == type)
			return (int)i;
	return -1;
}

/* The last vote we broadcast, which must exist. */
static const struct cons_vote *last_vote(const struct rec *r)
{
	for (size_t i = r->n; i-- > 0;)
		if (r->a[i].type == CONS_ACT_BROADCAST_VOTE)
			return &r->a[i].vote;
	fail_msg("no vote broadcast");
	return NULL;
}

static size_t count(const struct rec *r, enum cons_action_type type)
{
	size_t c = 0;

	for (size_t i = 0; i < r->n; i++)
		c += r->a[i].type == type;
	return c;
}

/* A height at which `me` proposes round 0 (want_proposer) or none of rounds 0..3. */
static uint64_t height_where(size_t me, bool want_proposer)
{
	for (uint64_t h = 1;; h++) {
		bool any = false;

		if (want_proposer) {
			if (cons_valset_proposer(vals.vs, h, 0) == me)
				return h;
			continue;
		}
		for (uint32_t r = 0; r < 4; r++)
			any |= cons_valset_proposer(vals.vs, h, r) == me;
		if (!any)
			return h;
	}
}

static void feed_votes(struct cons_machine *m, size_t me, size_t n, uint8_t type, uint64_t h, uint32_t round,
                       const uint8_t *block)
{
	for (size_t i = 0, fed = 0; i < vals.n && fed < n; i++) {
		struct cons_vote v;
		int err;

		if (i == me)
			continue;
		v = tk_vote(&vals, i, type, h, round, block);
		err = cons_machine_on_vote(m, &v);
		assert_true(err == SN_OK || err == SN_E_EXISTS);
		fed++;
	}
}

static void test_proposer_height(void **state)
{
	const size_t me = 1;
	uint64_t h = height_where(me, true);
	uint8_t x[SN_HASH_LEN];
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_machine_status st;
	int i;

	(void)state;
	tk_block(x, 100);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.a[0].type, CONS_ACT_PROPOSE_NEEDED);
	assert_true(r.a[0].height == h && r.a[0].round == 0);
	assert_int_equal(r.a[1].type, CONS_ACT_SCHEDULE_TIMEOUT);
	assert_true(r.a[1].step == CONS_STEP_PROPOSE && r.a[1].ms == BASE_MS);
	/* A stale answer is ignored; the right one is proposed, and prevoted at once. */
	assert_int_equal(cons_machine_propose(m, h, 1, x), SN_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(cons_machine_propose(m, h, 0, x), SN_OK);
	i = find(&r, 2, CONS_ACT_BROADCAST_PROPOSAL);
	assert_true(i >= 0);
	assert_memory_equal(r.a[i].proposal.block, x, SN_HASH_LEN);
	assert_true(r.a[i].proposal.pol_round == CONS_ROUND_NONE);
	assert_int_equal(cons_proposal_verify(&r.a[i].proposal), SN_OK);
	assert_int_equal(last_vote(&r)->type, CONS_VOTE_PREVOTE);
	assert_true(last_vote(&r)->has_block);
	assert_memory_equal(last_vote(&r)->block, x, SN_HASH_LEN);
	assert_int_equal(cons_vote_verify(last_vote(&r)), SN_OK);

	/* Two more prevotes: a polka: the prevote timeout, a lock and a precommit. */
	feed_votes(m, me, 1, CONS_VOTE_PREVOTE, h, 0, x);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), 1);
	feed_votes(m, me, 2, CONS_VOTE_PREVOTE, h, 0, x); /* the first is a duplicate: SN_E_EXISTS */
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), 2);
	assert_int_equal(last_vote(&r)->type, CONS_VOTE_PRECOMMIT);
	assert_memory_equal(last_vote(&r)->block, x, SN_HASH_LEN);
	cons_machine_status(m, &st);
	assert_true(st.locked && st.locked_round == 0 && st.has_valid);
	assert_memory_equal(st.locked_value, x, SN_HASH_LEN);
	assert_int_equal(st.step, CONS_STEP_PRECOMMIT);

	/* Two more precommits: committed, with a certificate that verifies. */
	feed_votes(m, me, 1, CONS_VOTE_PRECOMMIT, h, 0, x);
	assert_int_equal(count(&r, CONS_ACT_COMMIT), 0);
	{
		struct cons_vote v = tk_vote(&vals, 3, CONS_VOTE_PRECOMMIT, h, 0, x);

		assert_int_equal(cons_machine_on_vote(m, &v), SN_OK);
	}
	i = find(&r, 0, CONS_ACT_COMMIT);
	assert_true(i >= 0);
	assert_true(r.a[i].height == h && r.a[i].round == 0);
	assert_int_equal(r.commit.count, 3);
	assert_memory_equal(r.commit.block, x, SN_HASH_LEN);
	assert_int_equal(cons_commit_verify(&r.commit, TK_CHAIN, vals.vs), SN_OK);
	check_persist_before_broadcast(&r);
	cons_machine_status(m, &st);
	assert_true(st.decided);
	/* Decided: timeouts of this height do nothing; the driver starts the next one. */
	r.n = 0;
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PRECOMMIT), SN_OK);
	assert_int_equal(r.n, 0);
	assert_int_equal(cons_machine_start_height(m, h + 1, vals.vs), SN_OK);
	cons_machine_status(m, &st);
	assert_true(st.height == h + 1 && !st.decided && !st.locked && st.round == 0);
	cons_machine_free(m);
}

static void test_timeouts_and_nil(void **state)
{
	const size_t me = 0;
	uint64_t h = height_where(me, false);
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_machine_status st;
	int i;

	(void)state;
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	assert_int_equal(r.n, 1);
	assert_true(r.a[0].type == CONS_ACT_SCHEDULE_TIMEOUT && r.a[0].ms == BASE_MS);
	/* No proposal: the propose timeout prevotes nil. */
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PROPOSE), SN_OK);
	assert_false(last_vote(&r)->has_block);
	assert_int_equal(last_vote(&r)->type, CONS_VOTE_PREVOTE);
	/* Two nil prevotes: 3 of 4 of any (the prevote timeout) and for nil (precommit nil). */
	r.n = 0;
	feed_votes(m, me, 2, CONS_VOTE_PREVOTE, h, 0, NULL);
	i = find(&r, 0, CONS_ACT_SCHEDULE_TIMEOUT);
	assert_true(i >= 0 && r.a[i].step == CONS_STEP_PREVOTE && r.a[i].ms == BASE_MS);
	assert_int_equal(last_vote(&r)->type, CONS_VOTE_PRECOMMIT);
	assert_false(last_vote(&r)->has_block);
	/* The prevote timeout is now stale (we are at precommit). */
	r.n = 0;
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PREVOTE), SN_OK);
	assert_int_equal(r.n, 0);
	/* +2/3 precommits of any: the precommit timeout; when it fires, round 1, longer timeouts. */
	feed_votes(m, me, 2, CONS_VOTE_PRECOMMIT, h, 0, NULL);
	i = find(&r, 0, CONS_ACT_SCHEDULE_TIMEOUT);
	assert_true(i >= 0 && r.a[i].step == CONS_STEP_PRECOMMIT);
	r.n = 0;
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PRECOMMIT), SN_OK);
	assert_int_equal(r.n, 1);
	assert_true(r.a[0].round == 1 && r.a[0].step == CONS_STEP_PROPOSE && r.a[0].ms == BASE_MS + DELTA_MS);
	/* Round 1 without anyone: propose timeout then the prevote timeout give precommit nil. */
	assert_int_equal(cons_machine_on_timeout(m, h, 1, CONS_STEP_PROPOSE), SN_OK);
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PROPOSE), SN_OK); /* stale */
	assert_int_equal(cons_machine_on_timeout(m, h, 1, CONS_STEP_PREVOTE), SN_OK);
	assert_int_equal(last_vote(&r)->type, CONS_VOTE_PRECOMMIT);
	assert_int_equal(last_vote(&r)->round, 1);
	assert_int_equal(cons_machine_on_timeout(m, h, 1, CONS_STEP_PRECOMMIT), SN_OK);
	assert_true(r.a[r.n - 1].round == 2 && r.a[r.n - 1].ms == BASE_MS + 2 * DELTA_MS);
	assert_int_equal(cons_machine_on_timeout(m, h, 2, 9), SN_E_INVAL);
	check_persist_before_broadcast(&r);
	cons_machine_status(m, &st);
	assert_true(st.round == 2 && !st.decided && !st.locked);
	cons_machine_free(m);
}

static void test_locking(void **state)
{
	const size_t me = 0;
	uint64_t h = height_where(me, false);
	uint8_t x[SN_HASH_LEN], y[SN_HASH_LEN];
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_machine_status st;
	struct cons_proposal p;
	size_t votes;

	(void)state;
	tk_block(x, 1);
	tk_block(y, 2);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	/* Round 0: X gets a polka; we lock on it and precommit; the others precommit nil. */
	p = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, x);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_OK);
	assert_memory_equal(last_vote(&r)->block, x, SN_HASH_LEN);
	feed_votes(m, me, 2, CONS_VOTE_PREVOTE, h, 0, x);
	assert_int_equal(last_vote(&r)->type, CONS_VOTE_PRECOMMIT);
	feed_votes(m, me, 3, CONS_VOTE_PRECOMMIT, h, 0, NULL);
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PRECOMMIT), SN_OK);
	cons_machine_status(m, &st);
	assert_true(st.round == 1 && st.locked && st.locked_round == 0);

	/* Round 1: a valid proposal of Y without a proof of lock: we are locked on X, prevote nil. */
	p = tk_proposal(&vals, h, 1, CONS_ROUND_NONE, y);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_OK);
	assert_int_equal(last_vote(&r)->round, 1);
	assert_int_equal(last_vote(&r)->type, CONS_VOTE_PREVOTE);
	assert_false(last_vote(&r)->has_block);
	feed_votes(m, me, 3, CONS_VOTE_PRECOMMIT, h, 1, NULL);
	assert_int_equal(cons_machine_on_timeout(m, h, 1, CONS_STEP_PRECOMMIT), SN_OK);

	/* Round 2: Y again, claiming a proof of lock from round 1 that we have not seen: wait. */
	p = tk_proposal(&vals, h, 2, 1, y);
	votes = count(&r, CONS_ACT_BROADCAST_VOTE);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_OK);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), votes);
	/* The others' round-1 prevotes for Y arrive: a POL newer than our lock: prevote Y. */
	feed_votes(m, me, 3, CONS_VOTE_PREVOTE, h, 1, y);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), votes + 1);
	assert_int_equal(last_vote(&r)->round, 2);
	assert_true(last_vote(&r)->has_block);
	assert_memory_equal(last_vote(&r)->block, y, SN_HASH_LEN);
	/* Still locked on X (round 0) until a polka in this round. */
	cons_machine_status(m, &st);
	assert_true(st.locked && st.locked_round == 0);
	assert_memory_equal(st.locked_value, x, SN_HASH_LEN);
	feed_votes(m, me, 2, CONS_VOTE_PREVOTE, h, 2, y);
	cons_machine_status(m, &st);
	assert_true(st.locked && st.locked_round == 2);
	assert_memory_equal(st.locked_value, y, SN_HASH_LEN);
	check_persist_before_broadcast(&r);
	cons_machine_free(m);
}

static void test_locked_value_and_invalid_block(void **state)
{
	const size_t me = 2;
	uint64_t h = height_where(me, false);
	uint8_t x[SN_HASH_LEN], y[SN_HASH_LEN];
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_proposal p;

	(void)state;
	tk_block(x, 3);
	tk_block(y, 4);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	p = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, x);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_OK);
	feed_votes(m, me, 2, CONS_VOTE_PREVOTE, h, 0, x);
	feed_votes(m, me, 3, CONS_VOTE_PRECOMMIT, h, 0, NULL);
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PRECOMMIT), SN_OK);
	/* Round 1 proposes our locked value again (no POL needed for it): prevote X. */
	p = tk_proposal(&vals, h, 1, CONS_ROUND_NONE, x);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_OK);
	assert_int_equal(last_vote(&r)->round, 1);
	assert_memory_equal(last_vote(&r)->block, x, SN_HASH_LEN);
	feed_votes(m, me, 3, CONS_VOTE_PRECOMMIT, h, 1, NULL);
	assert_int_equal(cons_machine_on_timeout(m, h, 1, CONS_STEP_PRECOMMIT), SN_OK);
	/* Round 2: a POL for Y from round 0? There is none (round 0's polka was X): wait. And a
	 * block the app finds invalid is prevoted nil even with a POL. */
	p = tk_proposal(&vals, h, 2, 0, y);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_OK);
	assert_int_equal(last_vote(&r)->round, 1);
	cons_machine_free(m);

	m = machine_new(&r, me, NULL);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	p = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, y);
	assert_int_equal(cons_machine_on_proposal(m, &p, false), SN_OK);
	assert_false(last_vote(&r)->has_block);
	/* A polka for an invalid block does not make us lock or precommit it. */
	feed_votes(m, me, 3, CONS_VOTE_PREVOTE, h, 0, y);
	{
		struct cons_machine_status st;

		cons_machine_status(m, &st);
		assert_false(st.locked);
		assert_int_equal(last_vote(&r)->type, CONS_VOTE_PREVOTE);
	}
	cons_machine_free(m);
}

static void test_round_skip(void **state)
{
	const size_t me = 0;
	uint64_t h = height_where(me, false);
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_machine_status st;
	struct cons_vote v;

	(void)state;
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	v = tk_vote(&vals, 1, CONS_VOTE_PREVOTE, h, 5, NULL);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_OK);
	cons_machine_status(m, &st);
	assert_int_equal(st.round, 0); /* 1 of 4 is not more than 1/3 */
	/* The same validator's precommit adds no power: still one member. */
	v = tk_vote(&vals, 1, CONS_VOTE_PRECOMMIT, h, 5, NULL);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_OK);
	cons_machine_status(m, &st);
	assert_int_equal(st.round, 0);
	/* A second member in round 5 (a precommit): 2 of 4: skip there. */
	r.n = 0;
	v = tk_vote(&vals, 2, CONS_VOTE_PRECOMMIT, h, 5, NULL);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_OK);
	cons_machine_status(m, &st);
	assert_int_equal(st.round, 5);
	assert_int_equal(st.step, CONS_STEP_PROPOSE);
	assert_true(r.a[r.n - 1].type == CONS_ACT_SCHEDULE_TIMEOUT && r.a[r.n - 1].round == 5 &&
	            r.a[r.n - 1].ms == BASE_MS + 5 * DELTA_MS);
	/* Too far ahead is refused, not stored. */
	v = tk_vote(&vals, 3, CONS_VOTE_PREVOTE, h, 5 + CONS_ROUNDS_AHEAD + 1, NULL);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_TOOBIG);
	v = tk_vote(&vals, 3, CONS_VOTE_PREVOTE, h, 5 + CONS_ROUNDS_AHEAD, NULL);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_OK);
	cons_machine_free(m);
}

static void test_evidence_and_rejections(void **state)
{
	const size_t me = 0;
	uint64_t h = height_where(me, false);
	uint8_t x[SN_HASH_LEN], y[SN_HASH_LEN], sk[CONS_SECKEY_LEN];
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_vote v, w;
	struct cons_proposal p, q;
	int i;

	(void)state;
	tk_block(x, 5);
	tk_block(y, 6);
	/* Nothing before a height. */
	v = tk_vote(&vals, 1, CONS_VOTE_PREVOTE, h, 0, x);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_HEIGHT);
	assert_int_equal(cons_machine_start_height(m, 0, vals.vs), SN_E_INVAL);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);

	/* Equivocation: the second, conflicting vote is evidence. */
	assert_int_equal(cons_machine_on_vote(m, &v), SN_OK);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_EXISTS);
	w = tk_vote(&vals, 1, CONS_VOTE_PREVOTE, h, 0, y);
	assert_int_equal(cons_machine_on_vote(m, &w), SN_E_EQUIVOCATION);
	i = find(&r, 0, CONS_ACT_EVIDENCE);
	assert_true(i >= 0);
	assert_memory_equal(&r.a[i].ev.a, &v, sizeof(v));
	assert_memory_equal(&r.a[i].ev.b, &w, sizeof(w));

	/* Votes: another chain, height, type, a stranger, a bad signature. */
	v = tk_vote(&vals, 2, CONS_VOTE_PREVOTE, h, 0, x);
	v.chain_id++;
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_CHAIN);
	v = tk_vote(&vals, 2, CONS_VOTE_PREVOTE, h + 1, 0, x);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_HEIGHT);
	v = tk_vote(&vals, 2, CONS_VOTE_PREVOTE, h, 0, x);
	v.type = 7;
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_TYPE);
	v = tk_vote(&vals, 2, CONS_VOTE_PREVOTE, h, 0, x);
	v.sig[3] ^= 1;
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_BADSIG);
	memset(&v, 0, sizeof(v));
	v.type = CONS_VOTE_PREVOTE;
	v.chain_id = TK_CHAIN;
	v.height = h;
	tk_key(50, sk, v.validator);
	assert_int_equal(cons_vote_sign(&v, sk), SN_OK);
	assert_int_equal(cons_machine_on_vote(m, &v), SN_E_NOT_VALIDATOR);

	/* Proposals: not from the round's proposer, bad signature, bad pol_round, a second one. */
	p = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, x);
	q = p;
	{
		size_t other = (cons_valset_proposer(vals.vs, h, 0) + 1) % 4;

		memcpy(q.proposer, cons_valset_at(vals.vs, other)->key, CONS_KEY_LEN);
		assert_int_equal(cons_proposal_sign(&q, vals.sk[other]), SN_OK);
	}
	assert_int_equal(cons_machine_on_proposal(m, &q, true), SN_E_NOT_VALIDATOR);
	q = p;
	q.sig[0] ^= 1;
	assert_int_equal(cons_machine_on_proposal(m, &q, true), SN_E_BADSIG);
	q = tk_proposal(&vals, h, 1, 1, x);
	assert_int_equal(cons_machine_on_proposal(m, &q, true), SN_E_INVAL);
	q = p;
	q.chain_id++;
	assert_int_equal(cons_machine_on_proposal(m, &q, true), SN_E_CHAIN);
	q = tk_proposal(&vals, h + 1, 0, CONS_ROUND_NONE, x);
	assert_int_equal(cons_machine_on_proposal(m, &q, true), SN_E_HEIGHT);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_OK);
	q = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, y);
	assert_int_equal(cons_machine_on_proposal(m, &q, true), SN_E_EXISTS);
	assert_memory_equal(last_vote(&r)->block, x, SN_HASH_LEN); /* the first one counts */

	/* The callback may not call back in. */
	r.m = m;
	r.reentry = SN_OK;
	assert_int_equal(cons_machine_on_timeout(m, h, 0, CONS_STEP_PROPOSE), SN_OK); /* stale: no action */
	feed_votes(m, me, 3, CONS_VOTE_PREVOTE, h, 0, x);
	assert_int_equal(r.reentry, SN_E_BUSY);
	cons_machine_free(m);
	cons_machine_free(NULL);
}

/* The crash and restart: what the driver persisted keeps the machine from signing anything
 * that conflicts with it; without the record it would. */
static void test_double_sign_across_restart(void **state)
{
	const size_t me = 3;
	uint64_t h = height_where(me, false);
	uint8_t x[SN_HASH_LEN], y[SN_HASH_LEN], disk[CONS_SIGNSTATE_LEN];
	struct cons_sign_state restored;
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_machine_status st;
	struct cons_proposal px, py;
	struct cons_vote signed_before;
	int i;

	(void)state;
	tk_block(x, 7);
	tk_block(y, 8);
	px = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, x);
	py = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, y); /* an equivocating proposer */
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	assert_int_equal(cons_machine_on_proposal(m, &px, true), SN_OK);
	i = find(&r, 0, CONS_ACT_SIGN_STATE_PERSIST);
	assert_true(i >= 0);
	memcpy(disk, r.a[i].ss_bytes, sizeof(disk)); /* the driver's durable copy */
	signed_before = *last_vote(&r);
	cons_machine_free(m); /* crash */

	/* Restart with the record: Y at the same (h, 0, prevote) is refused. */
	assert_int_equal(cons_sign_state_decode(&restored, disk, sizeof(disk)), SN_OK);
	m = machine_new(&r, me, &restored);
	assert_int_equal(cons_machine_start_height(m, h - 1, vals.vs), SN_E_INVAL);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	assert_int_equal(cons_machine_on_proposal(m, &py, true), SN_OK);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), 0);
	assert_int_equal(count(&r, CONS_ACT_SIGN_STATE_PERSIST), 0);
	cons_machine_status(m, &st);
	assert_memory_equal(&st.last_signed, &restored, sizeof(restored));
	cons_machine_free(m);

	/* The same vote again is allowed (the same bytes: Ed25519 is deterministic). */
	m = machine_new(&r, me, &restored);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	assert_int_equal(cons_machine_on_proposal(m, &px, true), SN_OK);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), 1);
	assert_memory_equal(last_vote(&r), &signed_before, sizeof(signed_before));
	cons_machine_free(m);

	/* Without the record the same machine signs the conflicting prevote: the record is what
	 * prevented it. */
	m = machine_new(&r, me, NULL);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	assert_int_equal(cons_machine_on_proposal(m, &py, true), SN_OK);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), 1);
	assert_memory_equal(last_vote(&r)->block, y, SN_HASH_LEN);
	cons_machine_free(m);

	/* A precommit for X persisted: the restarted machine starts at its round, locked on X. */
	restored.step = CONS_STEP_PRECOMMIT;
	restored.round = 2;
	m = machine_new(&r, me, &restored);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	cons_machine_status(m, &st);
	assert_true(st.round == 2 && st.locked && st.locked_round == 2);
	assert_memory_equal(st.locked_value, x, SN_HASH_LEN);
	cons_machine_free(m);
}

/* A proposer that restarts must not sign a second, different proposal for its round. */
static void test_double_proposal_refused(void **state)
{
	const size_t me = 1;
	uint64_t h = height_where(me, true);
	uint8_t x[SN_HASH_LEN], y[SN_HASH_LEN];
	struct cons_sign_state last;
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	int i;

	(void)state;
	tk_block(x, 9);
	tk_block(y, 10);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	r.persist_result = SN_OK;
	assert_int_equal(cons_machine_propose(m, h, 0, x), SN_OK);
	i = find(&r, 0, CONS_ACT_SIGN_STATE_PERSIST);
	assert_int_equal(cons_sign_state_decode(&last, r.a[i].ss_bytes, CONS_SIGNSTATE_LEN), SN_OK);
	assert_int_equal(last.step, CONS_STEP_PROPOSE);
	cons_machine_free(m);

	m = machine_new(&r, me, &last);
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	assert_int_equal(r.a[0].type, CONS_ACT_PROPOSE_NEEDED);
	assert_int_equal(cons_machine_propose(m, h, 0, y), SN_E_DOUBLE_SIGN);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_PROPOSAL), 0);
	cons_machine_free(m);
}

/* A record the driver could not make durable: nothing is sent, the event says why. */
static void test_persist_failure(void **state)
{
	const size_t me = 0;
	uint64_t h = height_where(me, false);
	uint8_t x[SN_HASH_LEN];
	struct rec r;
	struct cons_machine *m = machine_new(&r, me, NULL);
	struct cons_proposal p;
	struct cons_machine_status st;

	(void)state;
	tk_block(x, 11);
	r.persist_result = SN_E_IO;
	assert_int_equal(cons_machine_start_height(m, h, vals.vs), SN_OK);
	p = tk_proposal(&vals, h, 0, CONS_ROUND_NONE, x);
	assert_int_equal(cons_machine_on_proposal(m, &p, true), SN_E_IO);
	assert_int_equal(count(&r, CONS_ACT_SIGN_STATE_PERSIST), 1);
	assert_int_equal(count(&r, CONS_ACT_BROADCAST_VOTE), 0);
	cons_machine_status(m, &st);
	assert_int_equal(st.step, CONS_STEP_PREVOTE);
	assert_int_equal(st.last_signed.step, CONS_STEP_PREVOTE); /* never anything conflicting */
	cons_machine_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proposer_height),
		cmocka_unit_test(test_timeouts_and_nil),
		cmocka_unit_test(test_locking),
		cmocka_unit_test(test_locked_value_and_invalid_block),
		cmocka_unit_test(test_round_skip),
		cmocka_unit_test(test_evidence_and_rejections),
		cmocka_unit_test(test_double_sign_across_restart),
		cmocka_unit_test(test_double_proposal_refused),
		cmocka_unit_test(test_persist_failure),
	};
	return cmocka_run_group_tests(tests, tk_group_setup, tk_group_teardown);
}
