/* governance/governance.h — the governance module's public API: the two-track tally, proposal
 * kinds and their payload encodings, the proposal record and its lifecycle (docs/governance.md).
 *
 * Pure: no I/O, clock or randomness. The block height, the current member sets and the chain
 * parameters are passed in; records come in and go out as bytes that the caller stores.
 * Applying an executed proposal's effect (new validators, members, parameters, a treasury
 * spend, ...) is the caller's: this module decodes and validates the payload for it.
 *
 * Thread safety: every function is reentrant; a struct gov_proposal belongs to one thread at a
 * time. sn_crypto_init() must have returned SN_OK before anything here hashes or verifies. */
#ifndef SN_GOVERNANCE_H
#define SN_GOVERNANCE_H

#include "storage/storage.h" /* STORE_BLOCK_MAX_TXS */

/* ------------------------------------------------------------------ limits */

#define GOV_TRACKS 2
#define GOV_TRACK_MEMBERS_MAX 256          /* members per track */
#define GOV_WEIGHT_DEFAULT 1
#define GOV_WEIGHT_MAX 1000000u            /* a member's weight is 1..GOV_WEIGHT_MAX */
#define GOV_VALIDATORS_MAX 128             /* validators in a CHANGE_VALIDATORS set */
#define GOV_VALIDATOR_KEY_LEN 32           /* Ed25519 public key */
#define GOV_VALIDATOR_POWER_MAX (1ull << 50) /* so that a set's total fits easily in u64 */
#define GOV_UPGRADE_NAME_MAX 64
#define GOV_PAYLOAD_MAX 10240              /* any payload; the largest valid one is 9220 */
#define GOV_TALLY_TOTAL_MAX UINT32_MAX     /* tally inputs beyond this are invalid */
#define GOV_THRESHOLD_BPS 6500             /* 65.00% */

/* Versions of the encodings. */
#define GOV_PAYLOAD_V1 1
#define GOV_PROPOSAL_V1 1
#define GOV_COUNCIL_V1 1
#define GOV_APPROVAL_V1 1

/* Sizes of encoded pieces. */
#define GOV_MEMBER_LEN (SN_PUBKEY_LEN + 4)               /* [32] key | u32 weight */
#define GOV_VALIDATOR_LEN (GOV_VALIDATOR_KEY_LEN + 8)    /* [32] key | u64 power */
#define GOV_COUNCIL_MAX (1 + GOV_TRACKS * (2 + GOV_TRACK_MEMBERS_MAX * GOV_MEMBER_LEN))
/* Largest encoded proposal record (docs/governance.md, "The proposal record"). */
#define GOV_PROPOSAL_HEADER_LEN (1 + 8 + 1 + SN_PUBKEY_LEN + 8 + 8 + 8 + 1 + 8 + 8)
#define GOV_PROPOSAL_MAX                                                                 \
	(GOV_PROPOSAL_HEADER_LEN + GOV_TRACKS * (2 + GOV_TRACK_MEMBERS_MAX * (GOV_MEMBER_LEN + 1)) + \
	 2 + GOV_PAYLOAD_MAX)

/* ------------------------------------------------------------- the tally */

enum gov_track {
	GOV_TRACK_DEV = 0,       /* developers */
	GOV_TRACK_COMMUNITY = 1, /* community */
};

/* Yes weight and total weight of each track. Valid when yes <= total <= GOV_TALLY_TOTAL_MAX
 * in both tracks (real totals are at most 256 * 1,000,000). */
struct gov_tally {
	uint64_t dev_yes, dev_total;
	uint64_t comm_yes, comm_total;
};

/* True when 10·(dev_yes·comm_total + comm_yes·dev_total) ≥ 13·dev_total·comm_total, computed
 * exactly in 128-bit integers: each track holds 50% and 65.00% is needed. A track with total
 * 0 never passes; an invalid tally never passes. Equivalent to gov_tally_bps() >= 6500. */
bool gov_tally_passes(const struct gov_tally *t);
/* floor(5000·dev_yes/dev_total + 5000·comm_yes/comm_total), exactly (one floor of the exact
 * sum, not a sum of floors): 0..10000, 6500 means 65.00%. A track with total 0 contributes 0;
 * an invalid tally gives 0. */
uint32_t gov_tally_bps(const struct gov_tally *t);
/* floor(10000·yes/total) for one track: 0..10000; 0 if total is 0 or yes > total. */
uint32_t gov_track_bps(uint64_t yes, uint64_t total);

/* ------------------------------------------------------------ members */

struct gov_member {
	uint8_t key[SN_PUBKEY_LEN]; /* BIP340 x-only key */
	uint32_t weight;            /* 1..GOV_WEIGHT_MAX */
};

/* A track's members, keys strictly ascending (bytewise): that makes the list canonical and
 * rules out duplicates. */
struct gov_track_members {
	uint16_t count; /* 1..GOV_TRACK_MEMBERS_MAX in a valid council */
	struct gov_member members[GOV_TRACK_MEMBERS_MAX];
};

/* The current member sets of both tracks (about 18 KiB: keep it off small stacks). */
struct gov_council {
	struct gov_track_members track[GOV_TRACKS]; /* indexed by enum gov_track */
};

/* SN_OK if every track has 1..256 members with weights 1..GOV_WEIGHT_MAX and strictly
 * ascending keys; SN_E_NONCANONICAL if keys are out of order, SN_E_PAYLOAD otherwise
 * (duplicate key, bad weight or count). Does not check that keys are on the curve. */
SN_MUST_CHECK int gov_track_members_check(const struct gov_track_members *t);
SN_MUST_CHECK int gov_council_check(const struct gov_council *c);
/* Sorts a member list by key (to build a canonical list). Duplicates stay (and are refused). */
void gov_track_members_sort(struct gov_track_members *t);
/* Sum of the weights (at most 256,000,000 for a valid list). */
uint64_t gov_track_members_total(const struct gov_track_members *t);

/* The current council as a record for the store (docs/governance.md):
 * v1: u8 version | 2 × (u16 count | count × ([32] key | u32 weight)), developers first.
 * encode: out[cap], *outlen set; SN_E_TOOBIG if cap is short, check errors for a bad council.
 * decode: *c zeroed on entry; SN_E_TRUNCATED, SN_E_TRAILING, SN_E_VERSION, SN_E_TOOBIG
 * (count), SN_E_NONCANONICAL, SN_E_PAYLOAD. */
SN_MUST_CHECK int gov_council_encode(uint8_t *out, size_t cap, size_t *outlen, const struct gov_council *c);
SN_MUST_CHECK int gov_council_decode(struct gov_council *c, const uint8_t *in, size_t len);

/* ------------------------------------------------------------ parameters */

/* Chain parameters that SET_PARAM may change. Values are range-checked one by one
 * (gov_param_check) and as a set (gov_params_check). */
enum gov_param {
	GOV_PARAM_MIN_FEE = 1,                      /* any u64 (0 on a devnet) */
	GOV_PARAM_MAX_BLOCK_TXS = 2,                /* 1..65536 */
	GOV_PARAM_TIMELOCK_BLOCKS = 3,              /* 0..GOV_TIMELOCK_MAX, ≤ max deadline */
	GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS = 4, /* 1..GOV_DEADLINE_MAX */
	GOV_PARAM_MEMPOOL_MAX_TXS = 5,              /* 1..10,000,000 */
	GOV_PARAM_MEMPOOL_MAX_BYTES = 6,            /* 1024..2^34 */
};
#define GOV_PARAM_FIRST GOV_PARAM_MIN_FEE
#define GOV_PARAM_LAST GOV_PARAM_MEMPOOL_MAX_BYTES
#define GOV_TIMELOCK_MAX 10000000ull
#define GOV_DEADLINE_MAX 10000000ull
#define GOV_MEMPOOL_MAX_TXS_MAX 10000000ull
#define GOV_MEMPOOL_MAX_BYTES_MIN 1024ull
#define GOV_MEMPOOL_MAX_BYTES_MAX (1ull << 34)

struct gov_params {
	uint64_t min_fee;
	uint64_t max_block_txs;
	uint64_t timelock_blocks;
	uint64_t proposal_max_deadline_blocks;
	uint64_t mempool_max_txs;
	uint64_t mempool_max_bytes;
};

/* SN_OK if value is in id's range; SN_E_PAYLOAD for an unknown id or a value out of range. */
SN_MUST_CHECK int gov_param_check(uint8_t id, uint64_t value);
/* Every value in range and timelock_blocks ≤ proposal_max_deadline_blocks (otherwise no
 * proposal could ever be created again). SN_E_PAYLOAD otherwise. */
SN_MUST_CHECK int gov_params_check(const struct gov_params *p);
/* Sets one parameter of *p if the result passes gov_params_check; else *p is unchanged.
 * This is what executing SET_PARAM must call on the current parameters. */
SN_MUST_CHECK int gov_params_set(struct gov_params *p, uint8_t id, uint64_t value);
SN_MUST_CHECK int gov_params_get(const struct gov_params *p, uint8_t id, uint64_t *value);

/* --------------------------------------------------------------- payloads */

enum gov_kind {
	GOV_KIND_CHANGE_VALIDATORS = 1,
	GOV_KIND_CHANGE_MEMBERS = 2,
	GOV_KIND_SET_PARAM = 3,
	GOV_KIND_TREASURY_SPEND = 4,
	GOV_KIND_PAUSE_TRANSFERS = 5,
	GOV_KIND_UNPAUSE_TRANSFERS = 6,
	GOV_KIND_SIGNAL_UPGRADE = 7,
	GOV_KIND_CANCEL = 8,
};
#define GOV_KIND_FIRST GOV_KIND_CHANGE_VALIDATORS
#define GOV_KIND_LAST GOV_KIND_CANCEL

struct gov_validator {
	uint8_t key[GOV_VALIDATOR_KEY_LEN]; /* Ed25519 public key */
	uint64_t power;                     /* 1..GOV_VALIDATOR_POWER_MAX */
};

/* A decoded payload: a plain value (about 10 KiB), no pointers. */
struct gov_payload {
	uint8_t kind; /* enum gov_kind */
	union {
		struct { /* CHANGE_VALIDATORS: the whole new set, keys strictly ascending */
			uint16_t count; /* 1..GOV_VALIDATORS_MAX */
			struct gov_validator v[GOV_VALIDATORS_MAX];
		} validators;
		struct { /* CHANGE_MEMBERS: one track's whole new member list */
			uint8_t track; /* enum gov_track */
			struct gov_track_members list;
		} members;
		struct { /* SET_PARAM */
			uint8_t id; /* enum gov_param */
			uint64_t value;
		} param;
		struct { /* TREASURY_SPEND */
			uint8_t recipient[SN_PUBKEY_LEN];
			uint64_t amount; /* > 0 */
		} spend;
		struct { /* SIGNAL_UPGRADE */
			uint8_t name_len; /* 1..GOV_UPGRADE_NAME_MAX */
			char name[GOV_UPGRADE_NAME_MAX + 1]; /* [a-z0-9.-], NUL-terminated */
			uint64_t activation_height;
		} upgrade;
		struct { /* CANCEL */
			uint64_t proposal_id;
		} cancel;
		/* PAUSE_TRANSFERS and UNPAUSE_TRANSFERS carry nothing. */
	} u;
};

/* Encodes p (docs/governance.md, "Payloads") into out[cap]; *outlen gets the length.
 * Validates exactly as the decoder does, so what encodes decodes. Errors: SN_E_TYPE,
 * SN_E_PAYLOAD, SN_E_NONCANONICAL (lists out of order), SN_E_TOOBIG (cap too small). */
SN_MUST_CHECK int gov_payload_encode(uint8_t *out, size_t cap, size_t *outlen, const struct gov_payload *p);
/* Decodes and validates the payload of a proposal of kind; *p is zeroed on entry.
 * Errors: SN_E_TYPE (unknown kind), SN_E_TOOBIG (len > GOV_PAYLOAD_MAX or a count over its
 * maximum), SN_E_TRUNCATED, SN_E_TRAILING, SN_E_VERSION, SN_E_NONCANONICAL (list keys not
 * strictly ascending), SN_E_PAYLOAD (anything else malformed: duplicate key, zero count,
 * weight, power or amount, unknown track or parameter, value out of range, bad name).
 * Does not check that keys are on their curves (gov_proposal_create does, for members). */
SN_MUST_CHECK int gov_payload_decode(struct gov_payload *p, uint8_t kind, const uint8_t *in, size_t len);
/* Tagged hash "settled/gov/pay" of (u8 kind | payload). */
void gov_payload_hash(uint8_t out[SN_HASH_LEN], uint8_t kind, const uint8_t *payload, size_t len);

/* Stable names for RPC and the CLI ("change_validators", "developers", "min_fee", ...);
 * "unknown" for anything else. gov_*_parse: SN_E_INVAL for an unknown name. */
const char *gov_kind_name(uint8_t kind);
const char *gov_track_name(uint8_t track);
const char *gov_param_name(uint8_t id);
SN_MUST_CHECK int gov_kind_parse(uint8_t *kind, const char *name);
SN_MUST_CHECK int gov_param_parse(uint8_t *id, const char *name);

/* ---------------------------------------------------------------- approvals */

/* The 32-byte message a member signs (BIP340) to approve proposal_id with this payload hash
 * on chain_id: tagged hash "settled/gov/appr" of
 * (u8 version 1 | u32 chain_id | u64 proposal_id | [32] payload_hash). */
void gov_approval_message(uint8_t out[SN_HASH_LEN], uint32_t chain_id, uint64_t proposal_id,
                          const uint8_t payload_hash[SN_HASH_LEN]);

/* ---------------------------------------------------------------- proposals */

/* The recorded state. "Expired" and "executable" are not stored: they follow from the height
 * (gov_proposal_status). */
enum gov_state {
	GOV_STATE_PROPOSED = 0,  /* collecting approvals */
	GOV_STATE_APPROVED = 1,  /* reached 65%; executable after the timelock, until the deadline */
	GOV_STATE_EXECUTED = 2,  /* final */
	GOV_STATE_CANCELLED = 3, /* final: a CANCEL proposal targeting it was executed */
};

/* What a proposal is at a given height (for RPC, the CLI and error reporting). */
enum gov_status {
	GOV_STATUS_PROPOSED = 0,   /* open, below the threshold */
	GOV_STATUS_TIMELOCKED = 1, /* approved, waiting for the timelock */
	GOV_STATUS_EXECUTABLE = 2, /* approved, timelock over, deadline not passed */
	GOV_STATUS_EXECUTED = 3,
	GOV_STATUS_CANCELLED = 4,
	GOV_STATUS_EXPIRED = 5, /* deadline passed before it was executed (approved or not) */
};
const char *gov_state_name(uint8_t state);   /* "proposed", "approved", ... */
const char *gov_status_name(uint8_t status); /* "proposed", "timelocked", "executable", ... */

/* A proposal record: the payload, the member sets recorded at creation, which of those
 * members approved, the state and its heights. Opaque: it keeps its invariants (approvals
 * only by recorded members, state consistent with the tally and heights). */
struct gov_proposal;

/* What gov_proposal_create needs: the PROPOSE transaction's content and the chain's state. */
struct gov_proposal_args {
	uint64_t id;                        /* assigned by the caller: the next id, from 1 */
	uint8_t kind;                       /* enum gov_kind */
	const uint8_t *payload;             /* payload_len bytes, copied */
	size_t payload_len;
	const uint8_t *proposer;            /* [SN_PUBKEY_LEN], the PROPOSE signer */
	uint64_t height;                    /* the block that creates it */
	uint64_t deadline_height;           /* last height at which it may be approved or executed */
	const struct gov_council *council;  /* the current members: copied into the record */
	const struct gov_params *params;    /* current parameters: the timelock is recorded */
};

/* A new proposal in state PROPOSED. Checks: the payload decodes (gov_payload_decode) and,
 * for CHANGE_MEMBERS, every key is a valid x-only key (SN_E_BADKEY); for CANCEL the target
 * id is below id (SN_E_UNKNOWN_PROPOSAL; the caller checks that the target exists); the
 * deadline satisfies height + max(timelock, 1) ≤ deadline ≤ height + max deadline
 * (SN_E_INVAL otherwise, also for a bad council, params or id 0). SET_PARAM values are
 * range-checked here and must pass gov_params_set again when executed.
 * On SN_OK *out is owned by the caller (gov_proposal_free). Also SN_E_NOMEM. */
SN_MUST_CHECK int gov_proposal_create(struct gov_proposal **out, const struct gov_proposal_args *a);
void gov_proposal_free(struct gov_proposal *p); /* accepts NULL */

/* The scalar fields of a record. */
struct gov_proposal_info {
	uint64_t id;
	uint8_t kind;
	uint8_t state; /* enum gov_state */
	uint8_t proposer[SN_PUBKEY_LEN];
	uint8_t payload_hash[SN_HASH_LEN];
	size_t payload_len;
	uint64_t created_height;
	uint64_t deadline_height;
	uint64_t timelock_blocks; /* recorded at creation */
	bool ever_approved;       /* reached the threshold (also if later cancelled) */
	uint64_t approved_height; /* meaningful when ever_approved, else 0 */
	uint64_t closed_height;   /* executed or cancelled at; 0 while open */
};
void gov_proposal_info_get(const struct gov_proposal *p, struct gov_proposal_info *out);
/* The payload bytes, borrowed from p: valid while p lives. */
const uint8_t *gov_proposal_payload(const struct gov_proposal *p, size_t *len);
/* Decodes the record's payload for the caller to apply. */
SN_MUST_CHECK int gov_proposal_payload_decode(const struct gov_proposal *p, struct gov_payload *out);
/* The tally over the recorded member sets. */
void gov_proposal_tally(const struct gov_proposal *p, struct gov_tally *out);
/* The recorded members of a track, one by one (index < count), and whether each approved.
 * SN_E_INVAL for a bad track or index. */
size_t gov_proposal_member_count(const struct gov_proposal *p, uint8_t track);
SN_MUST_CHECK int gov_proposal_member_get(const struct gov_proposal *p, uint8_t track, size_t index,
                                          struct gov_member *m, bool *approved);

/* Records the approval of signer at height: sig is a BIP340 signature by signer over
 * gov_approval_message(chain_id, id, payload hash). The signer counts in each recorded track
 * it belongs to. Checks in this order:
 *   height < created height → SN_E_INVAL;
 *   executed → SN_E_EXECUTED; cancelled → SN_E_PROPOSAL_CANCELLED; height > deadline → SN_E_EXPIRED;
 *   signer in no recorded track → SN_E_NOT_MEMBER; already approved → SN_E_DUP_APPROVAL;
 *   signature not valid over this chain, id and payload → SN_E_APPROVAL_SIG.
 * Approvals of an already approved proposal are accepted (they raise the displayed bps).
 * When this approval reaches 65%, the state becomes APPROVED at height and *reached (may be
 * NULL) is set true. On error p is unchanged. */
SN_MUST_CHECK int gov_proposal_approve(struct gov_proposal *p, uint32_t chain_id, uint64_t height,
                                       const uint8_t signer[SN_PUBKEY_LEN],
                                       const uint8_t sig[SN_SIG_LEN], bool *reached);
/* Whether p may execute at height. In this order: height < created → SN_E_INVAL;
 * SN_E_EXECUTED; SN_E_PROPOSAL_CANCELLED; height > deadline → SN_E_EXPIRED (an approved
 * proposal that was not executed by its deadline expires too); not approved →
 * SN_E_NOT_APPROVED; height < approved height + timelock → SN_E_TIMELOCK; else SN_OK. */
SN_MUST_CHECK int gov_proposal_execute_check(const struct gov_proposal *p, uint64_t height);
/* gov_proposal_execute_check, then state EXECUTED at height. Call it in the same state
 * transition as applying the payload's effect (and for CANCEL, gov_proposal_cancel on the
 * target first: if that fails, the CANCEL does not execute). */
SN_MUST_CHECK int gov_proposal_mark_executed(struct gov_proposal *p, uint64_t height);
/* Cancels p at height (the effect of an executed CANCEL proposal targeting it). Errors:
 * SN_E_EXECUTED, SN_E_PROPOSAL_CANCELLED, SN_E_INVAL (height < created). An expired proposal
 * can be cancelled (it only closes it for good). */
SN_MUST_CHECK int gov_proposal_cancel(struct gov_proposal *p, uint64_t height);
/* The status at height (height ≥ created; an earlier height reports PROPOSED). */
enum gov_status gov_proposal_status(const struct gov_proposal *p, uint64_t height);

/* Everything RPC shows about a proposal at a height. */
struct gov_view {
	uint64_t id;
	uint8_t kind;
	uint8_t state;  /* enum gov_state */
	uint8_t status; /* enum gov_status at height */
	struct gov_tally tally;
	uint32_t approval_bps; /* gov_tally_bps: 6500 is the threshold */
	uint32_t dev_bps, comm_bps; /* each track's own yes share, 0..10000 */
	uint32_t dev_approvals, comm_approvals; /* number of members that approved */
	uint64_t created_height, deadline_height, timelock_blocks;
	uint64_t approved_height;   /* when ever approved, else 0 */
	uint64_t executable_height; /* approved_height + timelock when approved, else 0 */
	uint64_t closed_height;     /* executed or cancelled at, else 0 */
	uint64_t timelock_left;     /* TIMELOCKED: blocks until executable; else 0 */
	uint64_t deadline_left;     /* PROPOSED/TIMELOCKED/EXECUTABLE: deadline - height (0 = last block); else 0 */
};
void gov_proposal_view(const struct gov_proposal *p, uint64_t height, struct gov_view *out);

/* The record's canonical encoding (docs/governance.md, "The proposal record"), for the store
 * and the state root. encode: out[cap] (GOV_PROPOSAL_MAX always suffices), *outlen set,
 * SN_E_TOOBIG if cap is short. gov_proposal_encoded_len gives the exact length. */
size_t gov_proposal_encoded_len(const struct gov_proposal *p);
SN_MUST_CHECK int gov_proposal_encode(uint8_t *out, size_t cap, size_t *outlen, const struct gov_proposal *p);
/* Decodes and deeply validates a record; on SN_OK *out is owned by the caller. Errors:
 * SN_E_TRUNCATED, SN_E_TRAILING, SN_E_VERSION, SN_E_TOOBIG, SN_E_TYPE, SN_E_NONCANONICAL,
 * SN_E_PAYLOAD (bad payload, member list or flags), SN_E_CORRUPT (state inconsistent with its
 * tally or heights), SN_E_NOMEM. */
SN_MUST_CHECK int gov_proposal_decode(struct gov_proposal **out, const uint8_t *in, size_t len);

#endif
