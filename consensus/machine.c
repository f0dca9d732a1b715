/* consensus/machine.c — the Tendermint state machine (Buchman, Kwon, Milosevic 2018,
 * "The latest gossip on BFT consensus", Algorithm 1), driven by events and emitting actions
 * (docs/consensus.md). Line numbers in comments ("L22") are the paper's. */
#include "consensus/cons_int.h"

#include <sodium.h>

#define SUBSYS "consensus"

/* What the machine knows of one round of the current height. */
struct round_state {
	struct cons_voteset *prevotes, *precommits; /* NULL until the first vote */
	bool has_proposal;
	bool proposal_valid; /* the app's verdict on its block */
	struct cons_proposal proposal;
	bool prevote_timeout_set;   /* L34 ran */
	bool precommit_timeout_set; /* L47 ran */
	bool polka_seen;            /* L36 ran */
};

struct cons_machine {
	uint32_t chain_id;
	struct cons_timeouts timeouts;
	cons_action_fn *on_action;
	void *ud;
	bool has_key;
	uint8_t sk[CONS_SECKEY_LEN];
	uint8_t pk[CONS_KEY_LEN];
	struct cons_sign_state last; /* step 0: never signed */

	const struct cons_valset *vs; /* borrowed, for this height */
	int me;                       /* our index in vs, -1 if not a member */
	bool started, decided, in_call;
	bool awaiting_value; /* PROPOSE_NEEDED(height, round) not answered yet */
	int error;           /* the first failed persist during this event */
	uint64_t height;
	uint32_t round;
	uint8_t step;
	bool locked, has_valid;
	uint32_t locked_round, valid_round;
	uint8_t locked_value[SN_HASH_LEN], valid_value[SN_HASH_LEN];
	struct round_state *rounds; /* [nrounds], indexed by round */
	size_t nrounds;
	struct cons_commit commit; /* for the COMMIT action */
	struct cons_evidence evidence;
};

static int emit(struct cons_machine *m, struct cons_action *a)
{
	a->height = a->height ? a->height : m->height;
	return m->on_action(m->ud, a);
}

static void rounds_free(struct cons_machine *m)
{
	for (size_t i = 0; i < m->nrounds; i++) {
		cons__voteset_free(m->rounds[i].prevotes);
		cons__voteset_free(m->rounds[i].precommits);
	}
	sn_free(m->rounds);
	m->rounds = NULL;
	m->nrounds = 0;
}

/* The state of round r, growing the table; NULL when out of memory. The pointer is valid
 * until the next call that may grow the table. */
static struct round_state *round_get(struct cons_machine *m, uint32_t r)
{
	if (r >= m->nrounds) {
		size_t n = (size_t)r + 1;
		struct round_state *p = sn_realloc(m->rounds, n * sizeof(*p));

		if (!p)
			return NULL;
		memset(p + m->nrounds, 0, (n - m->nrounds) * sizeof(*p));
		m->rounds = p;
		m->nrounds = n;
	}
	return &m->rounds[r];
}

/* The vote set of (r, type) if it exists. */
static struct cons_voteset *votes_of(const struct cons_machine *m, uint32_t r, uint8_t type)
{
	if (r >= m->nrounds)
		return NULL;
	return type == CONS_VOTE_PREVOTE ? m->rounds[r].prevotes : m->rounds[r].precommits;
}

static uint64_t timeout_for(const struct cons_machine *m, uint8_t step, uint32_t round)
{
	uint64_t base, delta, extra, ms;

	switch (step) {
	case CONS_STEP_PROPOSE:
		base = m->timeouts.propose_ms, delta = m->timeouts.propose_delta_ms;
		break;
	case CONS_STEP_PREVOTE:
		base = m->timeouts.prevote_ms, delta = m->timeouts.prevote_delta_ms;
		break;
	default:
		base = m->timeouts.precommit_ms, delta = m->timeouts.precommit_delta_ms;
		break;
	}
	if (__builtin_mul_overflow(delta, (uint64_t)round, &extra) ||
	    __builtin_add_overflow(base, extra, &ms))
		return UINT64_MAX;
	return ms;
}

static void schedule_timeout(struct cons_machine *m, uint8_t step)
{
	struct cons_action a = { .type = CONS_ACT_SCHEDULE_TIMEOUT };

	a.round = m->round;
	a.step = step;
	a.timeout_ms = timeout_for(m, step, m->round);
	(void)emit(m, &a);
}

/* The double-sign rule, then the record made durable by the driver: SN_OK means the message
 * may be signed and sent. */
static int sign_state_advance(struct cons_machine *m, uint8_t step, bool has_value,
                              const uint8_t value[SN_HASH_LEN])
{
	struct cons_action a = { .type = CONS_ACT_SIGN_STATE_PERSIST };
	uint8_t bytes[CONS_SIGNSTATE_LEN];
	int err = cons_sign_state_check(&m->last, m->height, m->round, step, has_value, value);

	if (err != SN_OK) {
		SN_LOG(SN_LOG_WARN, SUBSYS,
		       "refused to sign step %u at height %llu round %u: it conflicts with the last "
		       "signed (height %llu round %u step %u)",
		       step, (unsigned long long)m->height, m->round, (unsigned long long)m->last.height,
		       m->last.round, m->last.step);
		return err;
	}
	m->last.height = m->height;
	m->last.round = m->round;
	m->last.step = step;
	m->last.has_value = has_value;
	memset(m->last.value, 0, SN_HASH_LEN);
	if (has_value)
		memcpy(m->last.value, value, SN_HASH_LEN);
	cons_sign_state_encode(bytes, &m->last);
	a.round = m->round;
	a.step = step;
	a.sign_state = &m->last;
	a.sign_state_bytes = bytes;
	err = emit(m, &a);
	if (err != SN_OK) {
		/* Not durable: the message is not sent. The record stays in memory, so this process
		 * never signs anything conflicting with it either. */
		SN_LOG(SN_LOG_ERROR, SUBSYS, "sign state not persisted (%s): message not sent",
		       sn_errname(err));
		if (m->error == SN_OK)
			m->error = err;
	}
	return err;
}

static bool may_sign(const struct cons_machine *m)
{
	return m->has_key && m->me >= 0;
}

/* Signs and broadcasts our vote of the current round, and counts it. */
static void vote(struct cons_machine *m, uint8_t type, bool has_block, const uint8_t *block)
{
	struct cons_action a = { .type = CONS_ACT_BROADCAST_VOTE };
	struct cons_vote v;
	struct round_state *rs;
	struct cons_voteset **set;
	int err;

	if (!may_sign(m))
		return;
	memset(&v, 0, sizeof(v));
	v.type = type;
	v.chain_id = m->chain_id;
	v.height = m->height;
	v.round = m->round;
	v.has_block = has_block;
	if (has_block)
		memcpy(v.block, block, SN_HASH_LEN);
	memcpy(v.validator, m->pk, CONS_KEY_LEN);
	if (sign_state_advance(m, type == CONS_VOTE_PREVOTE ? CONS_STEP_PREVOTE : CONS_STEP_PRECOMMIT,
	                       has_block, v.block) != SN_OK)
		return;
	err = cons_vote_sign(&v, m->sk);
	assert(err == SN_OK); /* our key's public half is derived from it */
	(void)err;
	a.round = m->round;
	a.vote = &v;
	(void)emit(m, &a);
	rs = round_get(m, m->round); /* exists: the current round's is made by start_round */
	assert(rs);
	set = type == CONS_VOTE_PREVOTE ? &rs->prevotes : &rs->precommits;
	if (!*set && cons__voteset_new(set, m->vs, m->chain_id, m->height, m->round, type) != SN_OK) {
		m->error = m->error ? m->error : SN_E_NOMEM;
		return;
	}
	err = cons__voteset_add(*set, &v, NULL);
	/* EXISTS when the same vote is signed again after a restart; EQUIVOCATION is impossible
	 * (the record allows only the same value at one step). */
	assert(err == SN_OK || err == SN_E_EXISTS);
	(void)err;
}

static void prevote(struct cons_machine *m, bool has_block, const uint8_t *block)
{
	m->step = CONS_STEP_PREVOTE;
	vote(m, CONS_VOTE_PREVOTE, has_block, block);
}

static void precommit(struct cons_machine *m, bool has_block, const uint8_t *block)
{
	m->step = CONS_STEP_PRECOMMIT;
	vote(m, CONS_VOTE_PRECOMMIT, has_block, block);
}

/* Signs, broadcasts and keeps our proposal of the current round. */
static void propose(struct cons_machine *m, const uint8_t block[SN_HASH_LEN], uint32_t pol_round)
{
	struct cons_action a = { .type = CONS_ACT_BROADCAST_PROPOSAL };
	struct round_state *rs;
	struct cons_proposal p;
	int err;

	memset(&p, 0, sizeof(p));
	p.chain_id = m->chain_id;
	p.height = m->height;
	p.round = m->round;
	p.pol_round = pol_round;
	memcpy(p.block, block, SN_HASH_LEN);
	memcpy(p.proposer, m->pk, CONS_KEY_LEN);
	if (sign_state_advance(m, CONS_STEP_PROPOSE, true, block) != SN_OK)
		return;
	err = cons_proposal_sign(&p, m->sk);
	assert(err == SN_OK);
	(void)err;
	a.round = m->round;
	a.proposal = &p;
	(void)emit(m, &a);
	rs = round_get(m, m->round);
	assert(rs);
	if (!rs->has_proposal) {
		rs->has_proposal = true;
		rs->proposal_valid = true; /* our own block (or the valid value of an earlier round) */
		rs->proposal = p;
	}
}

/* StartRound (L11). */
static void start_round(struct cons_machine *m, uint32_t r)
{
	m->round = r;
	m->step = CONS_STEP_PROPOSE;
	m->awaiting_value = false;
	if (!round_get(m, r)) {
		m->error = m->error ? m->error : SN_E_NOMEM;
		return;
	}
	if (may_sign(m) && cons_valset_proposer(m->vs, m->height, r) == (size_t)m->me) {
		if (m->has_valid) {
			propose(m, m->valid_value, m->valid_round);
		} else {
			struct cons_action a = { .type = CONS_ACT_PROPOSE_NEEDED };

			a.round = r;
			m->awaiting_value = true;
			(void)emit(m, &a);
		}
	}
	/* Every validator, the proposer too, gives up on a proposal that does not come. */
	schedule_timeout(m, CONS_STEP_PROPOSE);
}

/* L22 and L28: the first vote of the round, on its proposal. */
static bool rule_proposal(struct cons_machine *m)
{
	const struct round_state *rs = &m->rounds[m->round];
	const struct cons_proposal *p = &rs->proposal;
	const struct cons_voteset *pol;
	bool ok;

	if (m->step != CONS_STEP_PROPOSE || !rs->has_proposal)
		return false;
	if (p->pol_round == CONS_ROUND_NONE) {
		/* L22: vote for it if valid and we are not locked on another value. */
		ok = rs->proposal_valid &&
		     (!m->locked || memcmp(m->locked_value, p->block, SN_HASH_LEN) == 0);
	} else {
		/* L28: a proof of lock from round vr < round: +2/3 prevotes for it at vr. */
		pol = votes_of(m, p->pol_round, CONS_VOTE_PREVOTE);
		if (!pol || !cons__voteset_has_quorum_for(pol, true, p->block))
			return false; /* wait for the POL (or the propose timeout) */
		ok = rs->proposal_valid &&
		     (!m->locked || m->locked_round <= p->pol_round ||
		      memcmp(m->locked_value, p->block, SN_HASH_LEN) == 0);
	}
	prevote(m, ok, ok ? p->block : NULL);
	return true;
}

/* L34: +2/3 prevotes of any values for the first time: the prevote timeout. */
static bool rule_prevote_timeout(struct cons_machine *m)
{
	struct round_state *rs = &m->rounds[m->round];

	if (m->step != CONS_STEP_PREVOTE || rs->prevote_timeout_set || !rs->prevotes ||
	    !cons__voteset_has_quorum_any(rs->prevotes))
		return false;
	rs->prevote_timeout_set = true;
	schedule_timeout(m, CONS_STEP_PREVOTE);
	return true;
}

/* L36: a valid proposal and +2/3 prevotes for it (a polka), for the first time: lock and
 * precommit it if still at prevote; in any case it becomes the valid value. */
static bool rule_polka(struct cons_machine *m)
{
	struct round_state *rs = &m->rounds[m->round];
	const uint8_t *v = rs->proposal.block;

	if (m->step < CONS_STEP_PREVOTE || rs->polka_seen || !rs->has_proposal ||
	    !rs->proposal_valid || !rs->prevotes || !cons__voteset_has_quorum_for(rs->prevotes, true, v))
		return false;
	rs->polka_seen = true;
	m->has_valid = true;
	m->valid_round = m->round;
	memcpy(m->valid_value, v, SN_HASH_LEN);
	if (m->step == CONS_STEP_PREVOTE) {
		m->locked = true;
		m->locked_round = m->round;
		memcpy(m->locked_value, v, SN_HASH_LEN);
		precommit(m, true, v);
	}
	return true;
}

/* L44: +2/3 prevotes for nil: precommit nil. */
static bool rule_prevote_nil(struct cons_machine *m)
{
	const struct round_state *rs = &m->rounds[m->round];

	if (m->step != CONS_STEP_PREVOTE || !rs->prevotes ||
	    !cons__voteset_has_quorum_for(rs->prevotes, false, NULL))
		return false;
	precommit(m, false, NULL);
	return true;
}

/* L47: +2/3 precommits of any values for the first time: the precommit timeout. */
static bool rule_precommit_timeout(struct cons_machine *m)
{
	struct round_state *rs = &m->rounds[m->round];

	if (rs->precommit_timeout_set || !rs->precommits || !cons__voteset_has_quorum_any(rs->precommits))
		return false;
	rs->precommit_timeout_set = true;
	schedule_timeout(m, CONS_STEP_PRECOMMIT);
	return true;
}

/* L49: +2/3 precommits for a value in any round: decide it. The value is the block hash, so
 * the certificate alone decides; the driver fetches the block if it missed the proposal. */
static bool rule_commit(struct cons_machine *m)
{
	struct cons_action a = { .type = CONS_ACT_COMMIT };

	for (size_t r = 0; r < m->nrounds; r++) {
		const struct cons_voteset *pc = m->rounds[r].precommits;
		bool has_block;
		uint8_t block[SN_HASH_LEN];

		if (!pc || !cons__voteset_quorum_value(pc, &has_block, block) || !has_block)
			continue;
		m->decided = true;
		m->awaiting_value = false;
		cons__voteset_commit(pc, block, &m->commit);
		a.round = (uint32_t)r;
		a.commit = &m->commit;
		(void)emit(m, &a);
		return true;
	}
	return false;
}

/* L55: +1/3 of the power has sent votes of a later round: go there (the latest such). */
static bool rule_round_skip(struct cons_machine *m)
{
	size_t n = cons_valset_count(m->vs);

	for (size_t r = m->nrounds; r-- > (size_t)m->round + 1;) {
		const struct cons_voteset *pv = m->rounds[r].prevotes, *pc = m->rounds[r].precommits;
		uint64_t power = 0;

		if (!pv && !pc)
			continue;
		for (size_t i = 0; i < n; i++)
			if ((pv && cons__voteset_has_member(pv, i)) || (pc && cons__voteset_has_member(pc, i)))
				power += cons_valset_at(m->vs, i)->power;
		if (cons_valset_is_one_third(m->vs, power)) {
			start_round(m, (uint32_t)r);
			return true;
		}
	}
	return false;
}

/* Applies the upon-rules until none fires. */
static void run_rules(struct cons_machine *m)
{
	bool progress = true;

	while (progress && !m->decided && m->error != SN_E_NOMEM) {
		if (rule_commit(m))
			return;
		if (rule_round_skip(m))
			continue;
		progress = rule_proposal(m);
		progress |= rule_prevote_timeout(m);
		progress |= rule_polka(m);
		progress |= rule_prevote_nil(m);
		progress |= rule_precommit_timeout(m);
	}
}

/* ------------------------------------------------------------------ events */

static int event_begin(struct cons_machine *m)
{
	if (m->in_call)
		return SN_E_BUSY;
	m->in_call = true;
	m->error = SN_OK;
	return SN_OK;
}

static int event_end(struct cons_machine *m, int err)
{
	m->in_call = false;
	return err != SN_OK ? err : m->error;
}

int cons_machine_new(struct cons_machine **out, const struct cons_machine_opts *opts)
{
	struct cons_machine *m;

	*out = NULL;
	if (!opts || !opts->on_action)
		return SN_E_INVAL;
	if (opts->last_signed && (opts->last_signed->step < CONS_STEP_PROPOSE ||
	                          opts->last_signed->step > CONS_STEP_PRECOMMIT))
		return SN_E_INVAL;
	m = sn_calloc(1, sizeof(*m));
	if (!m)
		return SN_E_NOMEM;
	m->chain_id = opts->chain_id;
	m->timeouts = opts->timeouts;
	m->on_action = opts->on_action;
	m->ud = opts->ud;
	m->me = -1;
	if (opts->seckey) {
		m->has_key = true;
		memcpy(m->sk, opts->seckey, CONS_SECKEY_LEN);
		crypto_sign_ed25519_sk_to_pk(m->pk, m->sk);
	}
	if (opts->last_signed)
		m->last = *opts->last_signed;
	*out = m;
	return SN_OK;
}

void cons_machine_free(struct cons_machine *m)
{
	if (!m)
		return;
	rounds_free(m);
	sn_wipe(m->sk, sizeof(m->sk));
	sn_free(m);
}

int cons_machine_start_height(struct cons_machine *m, uint64_t height, const struct cons_valset *vs)
{
	uint32_t r0 = 0;
	int err = event_begin(m);

	if (err != SN_OK)
		return err;
	if (height == 0 || !vs || (m->last.step != 0 && height < m->last.height))
		return event_end(m, SN_E_INVAL);
	rounds_free(m);
	m->vs = vs;
	m->me = m->has_key ? cons_valset_find(vs, m->pk) : -1;
	m->height = height;
	m->started = true;
	m->decided = false;
	m->locked = m->has_valid = false;
	m->locked_round = m->valid_round = 0;
	memset(m->locked_value, 0, SN_HASH_LEN);
	memset(m->valid_value, 0, SN_HASH_LEN);
	if (m->last.step != 0 && m->last.height == height) {
		/* Restarted within this height: nothing before the record's round may be signed,
		 * and a precommit for a value there is a lock we keep (L36). */
		r0 = m->last.round;
		if (m->last.step == CONS_STEP_PRECOMMIT && m->last.has_value) {
			m->locked = true;
			m->locked_round = r0;
			memcpy(m->locked_value, m->last.value, SN_HASH_LEN);
		}
	}
	start_round(m, r0);
	run_rules(m);
	return event_end(m, SN_OK);
}

int cons_machine_propose(struct cons_machine *m, uint64_t height, uint32_t round,
                         const uint8_t block[SN_HASH_LEN])
{
	int err = event_begin(m);

	if (err != SN_OK)
		return err;
	if (!m->started || m->decided || !m->awaiting_value || height != m->height ||
	    round != m->round || m->step != CONS_STEP_PROPOSE)
		return event_end(m, SN_OK);
	m->awaiting_value = false;
	err = cons_sign_state_check(&m->last, m->height, m->round, CONS_STEP_PROPOSE, true, block);
	if (err == SN_OK)
		propose(m, block, CONS_ROUND_NONE);
	run_rules(m);
	return event_end(m, err);
}

int cons_machine_on_proposal(struct cons_machine *m, const struct cons_proposal *p, bool valid)
{
	struct round_state *rs;
	int idx, err = event_begin(m);

	if (err != SN_OK)
		return err;
	if (p->chain_id != m->chain_id)
		return event_end(m, SN_E_CHAIN);
	if (!m->started || p->height != m->height)
		return event_end(m, SN_E_HEIGHT);
	if (p->round == CONS_ROUND_NONE || (p->pol_round != CONS_ROUND_NONE && p->pol_round >= p->round))
		return event_end(m, SN_E_INVAL);
	if (p->round > m->round && p->round - m->round > CONS_ROUNDS_AHEAD)
		return event_end(m, SN_E_TOOBIG);
	idx = cons_valset_find(m->vs, p->proposer);
	if (idx < 0 || (size_t)idx != cons_valset_proposer(m->vs, m->height, p->round))
		return event_end(m, SN_E_NOT_VALIDATOR);
	if (cons_proposal_verify(p) != SN_OK)
		return event_end(m, SN_E_BADSIG);
	rs = round_get(m, p->round);
	if (!rs)
		return event_end(m, SN_E_NOMEM);
	if (rs->has_proposal)
		return event_end(m, SN_E_EXISTS); /* the first one counts */
	rs->has_proposal = true;
	rs->proposal_valid = valid;
	rs->proposal = *p;
	if (!m->decided)
		run_rules(m);
	return event_end(m, SN_OK);
}

int cons_machine_on_vote(struct cons_machine *m, const struct cons_vote *v)
{
	struct round_state *rs;
	struct cons_voteset **set;
	int err = event_begin(m);

	if (err != SN_OK)
		return err;
	if (v->chain_id != m->chain_id)
		return event_end(m, SN_E_CHAIN);
	if (!m->started || v->height != m->height)
		return event_end(m, SN_E_HEIGHT);
	if (v->type != CONS_VOTE_PREVOTE && v->type != CONS_VOTE_PRECOMMIT)
		return event_end(m, SN_E_TYPE);
	if (v->round == CONS_ROUND_NONE || (v->round > m->round && v->round - m->round > CONS_ROUNDS_AHEAD))
		return event_end(m, SN_E_TOOBIG);
	if (cons_valset_find(m->vs, v->validator) < 0)
		return event_end(m, SN_E_NOT_VALIDATOR); /* before making a vote set for it */
	rs = round_get(m, v->round);
	if (!rs)
		return event_end(m, SN_E_NOMEM);
	set = v->type == CONS_VOTE_PREVOTE ? &rs->prevotes : &rs->precommits;
	if (!*set) {
		err = cons__voteset_new(set, m->vs, m->chain_id, m->height, v->round, v->type);
		if (err != SN_OK)
			return event_end(m, err);
	}
	err = cons__voteset_add(*set, v, &m->evidence);
	if (err == SN_E_EQUIVOCATION) {
		struct cons_action a = { .type = CONS_ACT_EVIDENCE };

		a.round = v->round;
		a.evidence = &m->evidence;
		(void)emit(m, &a);
	} else if (err != SN_OK) {
		return event_end(m, err);
	}
	/* A counted vote, or an equivocator's second (which counts for its own value). */
	if (!m->decided)
		run_rules(m);
	return event_end(m, err);
}

int cons_machine_on_timeout(struct cons_machine *m, uint64_t height, uint32_t round, uint8_t step)
{
	int err = event_begin(m);

	if (err != SN_OK)
		return err;
	if (!m->started || m->decided || height != m->height || round != m->round)
		return event_end(m, SN_OK); /* stale */
	switch (step) {
	case CONS_STEP_PROPOSE: /* L57 */
		if (m->step == CONS_STEP_PROPOSE) {
			m->awaiting_value = false;
			prevote(m, false, NULL);
		}
		break;
	case CONS_STEP_PREVOTE: /* L61 */
		if (m->step == CONS_STEP_PREVOTE)
			precommit(m, false, NULL);
		break;
	case CONS_STEP_PRECOMMIT: /* L65 */
		if (m->round + 1 < CONS_ROUND_NONE)
			start_round(m, m->round + 1);
		break;
	default:
		return event_end(m, SN_E_INVAL);
	}
	run_rules(m);
	return event_end(m, SN_OK);
}

void cons_machine_status(const struct cons_machine *m, struct cons_machine_status *out)
{
	memset(out, 0, sizeof(*out));
	out->height = m->height;
	out->round = m->round;
	out->step = m->step;
	out->decided = m->decided;
	out->locked = m->locked;
	out->locked_round = m->locked_round;
	memcpy(out->locked_value, m->locked_value, SN_HASH_LEN);
	out->has_valid = m->has_valid;
	out->valid_round = m->valid_round;
	memcpy(out->valid_value, m->valid_value, SN_HASH_LEN);
	out->last_signed = m->last;
}
