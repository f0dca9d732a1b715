/* consensus/consensus.h — the consensus module's public API: validator sets, the signed
 * consensus messages (proposal, vote, commit certificate) and their encodings, the last-signed
 * record that prevents double signing, and the Tendermint state machine (docs/consensus.md).
 *
 * Pure: no sockets, files, clock, threads or randomness. The driver (node/) feeds events —
 * a new height, a proposal with the application's verdict on its block, a vote, a timeout
 * that fired — and receives actions in order through a callback: broadcast this, schedule
 * that timeout, persist this record before sending, this height is committed.
 *
 * Values are 32-byte block hashes; building and checking blocks is the application's.
 * Validators are Ed25519 keys (libsodium) with a voting power.
 *
 * Thread safety: every function is reentrant; a struct cons_machine belongs to one thread at
 * a time, and a struct cons_valset may be shared read-only once made.
 * sn_crypto_init() must have returned SN_OK before anything here signs or verifies. */
#ifndef SN_CONSENSUS_H
#define SN_CONSENSUS_H

#include "governance/governance.h" /* GOV_VALIDATORS_MAX */

/* ------------------------------------------------------------------ limits */

#define CONS_KEY_LEN 32              /* Ed25519 public key */
#define CONS_SECKEY_LEN 64           /* libsodium Ed25519 secret key (seed | public key) */
#define CONS_SIG_LEN 64              /* Ed25519 signature */
#define CONS_VALIDATORS_MAX GOV_VALIDATORS_MAX /* validators in a set and signers in a commit */
#define CONS_ROUND_NONE UINT32_MAX   /* pol_round of a proposal without a proof of lock */
#define CONS_ROUNDS_AHEAD 64         /* votes more rounds ahead than this are ignored */

/* Versions of the encodings. */
#define CONS_PROPOSAL_V1 1
#define CONS_VOTE_V1 1
#define CONS_COMMIT_V2 2 /* v1 is the devnet's single-signer commit (docs/protocol.md) */
#define CONS_SIGNSTATE_V1 1

/* Sizes of the encodings (docs/consensus.md has them byte by byte). */
#define CONS_PROPOSAL_LEN (1 + 4 + 8 + 4 + 4 + SN_HASH_LEN + CONS_KEY_LEN + CONS_SIG_LEN) /* 149 */
#define CONS_VOTE_LEN (1 + 1 + 4 + 8 + 4 + 1 + SN_HASH_LEN + CONS_KEY_LEN + CONS_SIG_LEN) /* 147 */
#define CONS_COMMIT_SIG_LEN (CONS_KEY_LEN + CONS_SIG_LEN)
#define CONS_COMMIT_HEADER_LEN (1 + 8 + 4 + SN_HASH_LEN + 2)
#define CONS_COMMIT_MAX (CONS_COMMIT_HEADER_LEN + CONS_VALIDATORS_MAX * CONS_COMMIT_SIG_LEN)
#define CONS_SIGNSTATE_LEN (1 + 8 + 4 + 1 + 1 + SN_HASH_LEN) /* 47 */

/* --------------------------------------------------------- validator sets */

struct cons_validator {
	uint8_t key[CONS_KEY_LEN];
	uint64_t power; /* > 0 */
};

/* A validator set: members in canonical order (keys strictly ascending, bytewise) and their
 * total power, which fits in a u64. Immutable once made. */
struct cons_valset;

/* A new set of the n members of vals (any order; copied and sorted). On SN_OK *out is owned
 * by the caller (cons_valset_free). Errors: SN_E_INVAL (n is 0, a power is 0), SN_E_TOOBIG
 * (n > CONS_VALIDATORS_MAX), SN_E_EXISTS (a key twice), SN_E_OVERFLOW (total power > UINT64_MAX),
 * SN_E_NOMEM. */
SN_MUST_CHECK int cons_valset_new(struct cons_valset **out, const struct cons_validator *vals,
                                  size_t n);
void cons_valset_free(struct cons_valset *vs); /* accepts NULL */

size_t cons_valset_count(const struct cons_valset *vs);
uint64_t cons_valset_total(const struct cons_valset *vs);
/* The i-th member in canonical order (i < count); borrowed, valid as long as vs. */
const struct cons_validator *cons_valset_at(const struct cons_valset *vs, size_t i);
/* The index of key in canonical order, or -1 if it is not a member. */
int cons_valset_find(const struct cons_valset *vs, const uint8_t key[CONS_KEY_LEN]);

/* Quorum: power > 2/3 of the total, exactly (3·power > 2·total in 128-bit integers). */
bool cons_valset_is_quorum(const struct cons_valset *vs, uint64_t power);
/* The f+1 threshold: power > 1/3 of the total (3·power > total): at least one honest. */
bool cons_valset_is_one_third(const struct cons_valset *vs, uint64_t power);
/* The least power that is a quorum: floor(2·total/3) + 1. */
uint64_t cons_valset_quorum_power(const struct cons_valset *vs);

/* The proposer of (height, round), weighted by power: x = the first 16 bytes, little-endian,
 * of H("settled/proposer", u64 height | u32 round) taken modulo total; the proposer is the
 * member whose slice of [0, total) in canonical order holds x. Deterministic; over many
 * (height, round) each member proposes in proportion to its power, and the proposers of
 * consecutive rounds are independent draws. Returns the member's index. */
size_t cons_valset_proposer(const struct cons_valset *vs, uint64_t height, uint32_t round);

/* --------------------------------------------------------------- messages */

enum cons_step {
	CONS_STEP_PROPOSE = 1,
	CONS_STEP_PREVOTE = 2,
	CONS_STEP_PRECOMMIT = 3,
};

enum cons_vote_type {
	CONS_VOTE_PREVOTE = 1,
	CONS_VOTE_PRECOMMIT = 2,
};

struct cons_proposal {
	uint32_t chain_id;
	uint64_t height;
	uint32_t round;
	uint32_t pol_round; /* < round, or CONS_ROUND_NONE */
	uint8_t block[SN_HASH_LEN];
	uint8_t proposer[CONS_KEY_LEN];
	uint8_t sig[CONS_SIG_LEN];
};

struct cons_vote {
	uint8_t type; /* enum cons_vote_type */
	uint32_t chain_id;
	uint64_t height;
	uint32_t round;
	bool has_block;                /* false: a vote for nil */
	uint8_t block[SN_HASH_LEN];    /* zeros when nil */
	uint8_t validator[CONS_KEY_LEN];
	uint8_t sig[CONS_SIG_LEN];
};

/* Encoders write exactly CONS_PROPOSAL_LEN / CONS_VOTE_LEN bytes. A vote for nil with a
 * nonzero block hash, or of an unknown type, is SN_E_INVAL (it has no canonical encoding). */
SN_MUST_CHECK int cons_proposal_encode(uint8_t out[CONS_PROPOSAL_LEN], const struct cons_proposal *p);
SN_MUST_CHECK int cons_vote_encode(uint8_t out[CONS_VOTE_LEN], const struct cons_vote *v);
/* Decoders zero *out first. Errors: SN_E_TRUNCATED, SN_E_TRAILING, SN_E_VERSION,
 * SN_E_TYPE (vote type not 1 or 2), SN_E_NONCANONICAL (has_block not 0 or 1, or a nil vote
 * whose block hash is not zeros). Signatures are not checked here. */
SN_MUST_CHECK int cons_proposal_decode(struct cons_proposal *out, const uint8_t *in, size_t len);
SN_MUST_CHECK int cons_vote_decode(struct cons_vote *out, const uint8_t *in, size_t len);

/* What is signed: H("settled/proposal", the encoding up to the signature) and
 * H("settled/vote", the encoding up to the signature). */
void cons_proposal_sign_hash(uint8_t out[SN_HASH_LEN], const struct cons_proposal *p);
void cons_vote_sign_hash(uint8_t out[SN_HASH_LEN], const struct cons_vote *v);
/* SN_OK if the signature verifies under the message's own key, else SN_E_BADSIG. */
SN_MUST_CHECK int cons_proposal_verify(const struct cons_proposal *p);
SN_MUST_CHECK int cons_vote_verify(const struct cons_vote *v);

/* Signs with sk (a libsodium Ed25519 secret key whose public half is p->proposer /
 * v->validator; SN_E_INVAL otherwise). For tests and tools: a validator signs through its
 * struct cons_machine, which enforces the double-sign rule. */
SN_MUST_CHECK int cons_proposal_sign(struct cons_proposal *p, const uint8_t sk[CONS_SECKEY_LEN]);
SN_MUST_CHECK int cons_vote_sign(struct cons_vote *v, const uint8_t sk[CONS_SECKEY_LEN]);

/* Two votes by one validator for one (chain, height, round, type) with different values. */
struct cons_evidence {
	struct cons_vote a, b;
};

/* ----------------------------------------------------- commit certificates */

struct cons_commit_sig {
	uint8_t key[CONS_KEY_LEN];
	uint8_t sig[CONS_SIG_LEN]; /* the validator's precommit for (height, round, block) */
};

/* The precommits that made a block final. Signers strictly ascending by key. */
struct cons_commit {
	uint64_t height;
	uint32_t round;
	uint8_t block[SN_HASH_LEN];
	uint16_t count; /* <= CONS_VALIDATORS_MAX */
	struct cons_commit_sig sigs[CONS_VALIDATORS_MAX];
};

/* v2: u8 version 2 | u64 height | u32 round | [32] block | u16 count | count × ([32] key |
 * [64] sig). On SN_OK *outlen bytes (at most CONS_COMMIT_MAX) were written. Errors:
 * SN_E_TOOBIG (cap too small or count > CONS_VALIDATORS_MAX), SN_E_NONCANONICAL (keys not
 * strictly ascending). */
SN_MUST_CHECK int cons_commit_encode(uint8_t *out, size_t cap, size_t *outlen, const struct cons_commit *c);
/* Errors: SN_E_TRUNCATED, SN_E_TRAILING, SN_E_VERSION, SN_E_TOOBIG (count > max),
 * SN_E_NONCANONICAL (keys not strictly ascending). */
SN_MUST_CHECK int cons_commit_decode(struct cons_commit *out, const uint8_t *in, size_t len);
/* Checks c against the validator set of its height: every signer a member
 * (SN_E_NOT_VALIDATOR), keys strictly ascending (SN_E_NONCANONICAL), every signature a valid
 * precommit of (chain_id, height, round, block) (SN_E_BADSIG), and the signers' power a
 * quorum (SN_E_NO_QUORUM). */
SN_MUST_CHECK int cons_commit_verify(const struct cons_commit *c, uint32_t chain_id,
                                     const struct cons_valset *vs);

/* ------------------------------------------------ double-sign protection */

/* The last thing this validator signed. A validator signs (height, round, step, value) only
 * if (height, round, step) is later than the record's, or equal with the same value (the
 * same message again). CONS_STEP_PROPOSE records a proposal. */
struct cons_sign_state {
	uint64_t height;
	uint32_t round;
	uint8_t step;      /* enum cons_step; 0 in the record of a validator that never signed */
	bool has_value;    /* false: nil */
	uint8_t value[SN_HASH_LEN];
};

/* v1: u8 version 1 | u64 height | u32 round | u8 step | u8 has_value | [32] value (zeros when
 * nil), CONS_SIGNSTATE_LEN bytes. Decoding errors as for votes (SN_E_TYPE: step not 1..3). */
void cons_sign_state_encode(uint8_t out[CONS_SIGNSTATE_LEN], const struct cons_sign_state *s);
SN_MUST_CHECK int cons_sign_state_decode(struct cons_sign_state *out, const uint8_t *in, size_t len);
/* SN_OK if a validator whose record is last may sign (height, round, step, value);
 * SN_E_DOUBLE_SIGN otherwise. */
SN_MUST_CHECK int cons_sign_state_check(const struct cons_sign_state *last, uint64_t height,
                                        uint32_t round, uint8_t step, bool has_value,
                                        const uint8_t value[SN_HASH_LEN]);

/* ---------------------------------------------------------- the machine */

enum cons_action_type {
	CONS_ACT_PROPOSE_NEEDED = 1, /* we propose at (height, round): the app answers later
	                              * with cons_machine_propose */
	CONS_ACT_BROADCAST_PROPOSAL, /* proposal */
	CONS_ACT_SIGN_STATE_PERSIST, /* sign_state (and its encoding): make it durable before
	                              * sending the message that follows */
	CONS_ACT_BROADCAST_VOTE,     /* vote */
	CONS_ACT_SCHEDULE_TIMEOUT,   /* call cons_machine_on_timeout(height, round, step) after ms */
	CONS_ACT_COMMIT,             /* commit: height, block and certificate; the driver applies
	                              * the block and calls cons_machine_start_height(height + 1) */
	CONS_ACT_EVIDENCE,           /* evidence: a validator equivocated */
};

/* One action. Every pointer borrows memory of the machine, valid only during the callback:
 * copy what you keep. */
struct cons_action {
	enum cons_action_type type;
	uint64_t height;
	uint32_t round;
	uint8_t step;        /* SCHEDULE_TIMEOUT: enum cons_step */
	uint64_t timeout_ms; /* SCHEDULE_TIMEOUT */
	const struct cons_proposal *proposal;
	const struct cons_vote *vote;
	const struct cons_sign_state *sign_state;
	const uint8_t *sign_state_bytes; /* CONS_SIGNSTATE_LEN bytes of sign_state */
	const struct cons_commit *commit;
	const struct cons_evidence *evidence;
};

/* The driver's side of the action protocol. Runs during the event call that caused it, in
 * order; it must not call back into the machine (that call returns SN_E_BUSY): queue what
 * it wants to do (the answer to PROPOSE_NEEDED, say) and do it after the event returns.
 * A non-OK return from SIGN_STATE_PERSIST means the record is not durable: the signed
 * message is then not sent and the event returns that error. Other actions' returns are
 * ignored. */
typedef int cons_action_fn(void *ud, const struct cons_action *a);

/* Timeouts: base + delta·round milliseconds for each step (saturating). */
struct cons_timeouts {
	uint64_t propose_ms, propose_delta_ms;
	uint64_t prevote_ms, prevote_delta_ms;
	uint64_t precommit_ms, precommit_delta_ms;
};

struct cons_machine_opts {
	uint32_t chain_id;
	struct cons_timeouts timeouts;
	/* Our libsodium Ed25519 secret key, copied (and wiped on free); NULL for an observer
	 * that follows and commits but never signs. */
	const uint8_t *seckey;
	/* The record persisted by an earlier run, or NULL if this key never signed. */
	const struct cons_sign_state *last_signed;
	cons_action_fn *on_action;
	void *ud;
};

struct cons_machine;

/* On SN_OK *out is owned by the caller (cons_machine_free). Nothing happens until
 * cons_machine_start_height. Errors: SN_E_INVAL (no on_action), SN_E_NOMEM. */
SN_MUST_CHECK int cons_machine_new(struct cons_machine **out, const struct cons_machine_opts *opts);
void cons_machine_free(struct cons_machine *m); /* accepts NULL; wipes the key */

/* Starts height with validator set vs (borrowed until the next start_height or free):
 * forgets the previous height's rounds and starts round 0 — or, if the last-signed record is
 * at this height, its round, since nothing earlier may be signed again. Errors: SN_E_INVAL
 * (height 0, or lower than the record's), SN_E_NOMEM, SN_E_BUSY, the persist callback's. */
SN_MUST_CHECK int cons_machine_start_height(struct cons_machine *m, uint64_t height,
                                            const struct cons_valset *vs);
/* The app's answer to PROPOSE_NEEDED(height, round): the block hash to propose. Ignored
 * (SN_OK) if the machine is no longer proposing at (height, round). SN_E_DOUBLE_SIGN if the
 * record forbids it (a different proposal was signed at this round before a crash). */
SN_MUST_CHECK int cons_machine_propose(struct cons_machine *m, uint64_t height, uint32_t round,
                                       const uint8_t block[SN_HASH_LEN]);
/* A proposal received, with the app's verdict on its block (valid: the block is known and
 * passes the app's checks). Errors: SN_E_CHAIN, SN_E_HEIGHT (another height: the driver may
 * hold a later one back), SN_E_INVAL (pol_round not below round), SN_E_NOT_VALIDATOR (not
 * the proposer of its round), SN_E_BADSIG, SN_E_EXISTS (we already have this round's
 * proposal), SN_E_BUSY. */
SN_MUST_CHECK int cons_machine_on_proposal(struct cons_machine *m, const struct cons_proposal *p,
                                           bool valid);
/* A vote received. Errors: SN_E_CHAIN, SN_E_HEIGHT, SN_E_TYPE, SN_E_TOOBIG (round more than
 * CONS_ROUNDS_AHEAD beyond ours), SN_E_NOT_VALIDATOR, SN_E_BADSIG, SN_E_EXISTS (seen),
 * SN_E_EQUIVOCATION (a conflicting vote: EVIDENCE was emitted; the validator's first vote
 * keeps counting, and its second counts for its own value only), SN_E_NOMEM, SN_E_BUSY. */
SN_MUST_CHECK int cons_machine_on_vote(struct cons_machine *m, const struct cons_vote *v);
/* A timeout scheduled by SCHEDULE_TIMEOUT fired; stale ones are ignored. */
SN_MUST_CHECK int cons_machine_on_timeout(struct cons_machine *m, uint64_t height, uint32_t round,
                                          uint8_t step);

/* Where the machine is (for status and tests). */
struct cons_machine_status {
	uint64_t height;
	uint32_t round;
	uint8_t step;
	bool decided; /* this height is committed */
	bool locked;
	uint32_t locked_round;
	uint8_t locked_value[SN_HASH_LEN];
	bool has_valid;
	uint32_t valid_round;
	uint8_t valid_value[SN_HASH_LEN];
	struct cons_sign_state last_signed;
};
void cons_machine_status(const struct cons_machine *m, struct cons_machine_status *out);

#endif
