/* node/node.h — the node module's public API: the settlement engine that validates and
 * applies transactions and blocks against the store.
 *
 * A struct node_engine is used from one thread at a time (node_engine_check_async excepted);
 * it runs its own signature-check threads internally. */
#ifndef SN_NODE_H
#define SN_NODE_H

#include "governance/governance.h"
#include "storage/storage.h"

#define SETTLED_VERSION "0.1.0" /* settled's and settle's --version, status, the p2p user agent */

/* Stateless checks of one encoded transaction: decodes it into *tx, checks the chain id, that
 * a REGISTER names a valid key, and the signature; id gets the transaction id. Safe to call
 * from any thread. Errors: the decoder's, SN_E_CHAIN, SN_E_BADKEY, SN_E_BADSIG. */
SN_MUST_CHECK int node_tx_check(const uint8_t *raw, size_t len, uint32_t chain_id, struct store_tx *tx,
                                uint8_t id[SN_HASH_LEN]);

/* Applies one checked transaction to w at height: every precondition is checked before
 * anything changes, so on error w is exactly as before (except after SN_E_NOMEM, when w may
 * be partly changed and must be discarded). Errors, each distinct: SN_E_FEE,
 * SN_E_UNKNOWN_SPONSOR (REGISTER by an unregistered signer), SN_E_UNKNOWN_ACCOUNT (other
 * types), SN_E_NONCE, SN_E_REGISTERED, SN_E_AMOUNT_ZERO, SN_E_SELF, SN_E_UNKNOWN_RECIPIENT,
 * SN_E_BALANCE, SN_E_OVERFLOW, SN_E_PAUSED (TRANSFER while paused), SN_E_NOMEM; for the
 * governance types (docs/governance.md, "Transactions"): SN_E_PAYLOAD (a proposal payload
 * that does not decode or validate, or a SET_PARAM the current parameters refuse),
 * SN_E_BADKEY, SN_E_INVAL (deadline), SN_E_UNKNOWN_PROPOSAL, SN_E_NOT_MEMBER,
 * SN_E_DUP_APPROVAL, SN_E_APPROVAL_SIG, SN_E_NOT_APPROVED, SN_E_TIMELOCK, SN_E_EXPIRED,
 * SN_E_EXECUTED, SN_E_PROPOSAL_CANCELLED, SN_E_PERMISSION (a chain without a council),
 * SN_E_CORRUPT (a governance record that does not decode). */
SN_MUST_CHECK int node_tx_apply(struct store_wtxn *w, const struct store_tx *tx, uint64_t height);

/* ---------------------------------------------------------------- governance (node/gov.c)
 * The governance state in the store (docs/governance.md, "State"): records under these keys,
 * all committed in the state root. */
#define NODE_GOV_KEY_COUNCIL "council"       /* gov_council_encode */
#define NODE_GOV_KEY_VALIDATORS "validators" /* u8 1 | u64 from_height | change_validators payload */
#define NODE_GOV_KEY_PARAMS "params"         /* u8 1 | u64 timelock | u64 max deadline | u64 mempool txs | u64 mempool bytes */
#define NODE_GOV_KEY_NEXT_ID "next_id"       /* u8 1 | u64 next proposal id */
#define NODE_GOV_KEY_PAUSED "paused"         /* u8 1 | u8 paused (0/1) */
#define NODE_GOV_KEY_UPGRADE "upgrade"       /* u8 1 | u64 proposal id | u8 name_len | name | u64 height */
#define NODE_GOV_PROPOSAL_KEY_LEN 9          /* 'p' | be64 id: sorts by id */
#define NODE_GOV_RECORD_V1 1

#define NODE_GOV_TIMELOCK_DEFAULT 10
#define NODE_GOV_DEADLINE_DEFAULT 100000
#define NODE_GOV_MEMPOOL_TXS_DEFAULT 100000
#define NODE_GOV_MEMPOOL_BYTES_DEFAULT (64ull << 20)

/* 'p' | be64(id). */
void node_gov_proposal_key(uint8_t out[NODE_GOV_PROPOSAL_KEY_LEN], uint64_t id);

/* The initial governance records for store_genesis.gov: council, validators (from height 1;
 * keys are sorted here), params (timelock .. mempool limits of p; min_fee and max_block_txs
 * are the store's own parameters), next_id 1, paused 0. On SN_OK *recs (one allocation,
 * sn_free) holds *n records. SN_E_PAYLOAD/SN_E_NONCANONICAL for a bad council or validator
 * set (duplicates, counts), or params that gov_params_check refuses. */
SN_MUST_CHECK int node_gov_genesis_records(struct store_gov_record **recs, size_t *n, const struct gov_council *c,
                                           const struct gov_validator *v, size_t nv, const struct gov_params *p);

/* The transaction payloads of the governance types (docs/protocol.md). Decoders read
 * tx->payload (framing already checked by store_tx_decode); propose's payload borrows it. */
struct node_gov_propose {
	uint8_t kind;
	uint64_t deadline_height;
	const uint8_t *payload;
	size_t payload_len;
};
struct node_gov_approval {
	uint8_t member[SN_PUBKEY_LEN];
	uint8_t sig[SN_SIG_LEN];
};
struct node_gov_execute {
	uint64_t proposal_id;
	uint8_t n;
	struct node_gov_approval a[STORE_TX_EXECUTE_SIGS_MAX];
};
SN_MUST_CHECK int node_gov_propose_decode(struct node_gov_propose *out, const struct store_tx *tx);
SN_MUST_CHECK int node_gov_approve_decode(uint64_t *proposal_id, struct node_gov_approval *out,
                                          const struct store_tx *tx);
SN_MUST_CHECK int node_gov_execute_decode(struct node_gov_execute *out, const struct store_tx *tx);
/* Encoders into out[cap] (STORE_TX_PAYLOAD_MAX always suffices); SN_E_TOOBIG if cap is short
 * or the payload or n is over its maximum. */
SN_MUST_CHECK int node_gov_propose_encode(uint8_t *out, size_t cap, size_t *len, uint8_t kind,
                                          uint64_t deadline_height, const uint8_t *payload, size_t payload_len);
SN_MUST_CHECK int node_gov_approve_encode(uint8_t *out, size_t cap, size_t *len, uint64_t proposal_id,
                                          const struct node_gov_approval *a);
SN_MUST_CHECK int node_gov_execute_encode(uint8_t *out, size_t cap, size_t *len, const struct node_gov_execute *e);

/* The member's approval of proposal id with payload_hash on chain_id (BIP340; seckey not kept). */
SN_MUST_CHECK int node_gov_approval_sign(struct node_gov_approval *out, uint32_t chain_id, uint64_t proposal_id,
                                         const uint8_t payload_hash[SN_HASH_LEN],
                                         const uint8_t seckey[SN_SECKEY_LEN]);

/* Reads at the tip (RPC, the producer). */
/* On SN_OK *out is the decoded proposal, owned by the caller (gov_proposal_free).
 * SN_E_UNKNOWN_PROPOSAL if there is none; SN_E_CORRUPT if the record does not decode. */
SN_MUST_CHECK int node_gov_proposal_get(struct store *st, uint64_t id, struct gov_proposal **out);
/* The governance parameters at the tip (defaults where no record exists). */
SN_MUST_CHECK int node_gov_params_get(struct store *st, struct gov_params *out);
/* Whether transfers are paused at the tip; the next proposal id. */
SN_MUST_CHECK int node_gov_state_get(struct store *st, bool *paused, uint64_t *next_id);
/* Whether key (Ed25519) is in the validator set in force at height. A chain without a
 * validators record has no set: *yes is then true (everyone may produce; devnet tests). */
SN_MUST_CHECK int node_gov_is_validator(struct store *st, const uint8_t key[GOV_VALIDATOR_KEY_LEN], uint64_t height,
                                        bool *yes);
/* Calls fn for every proposal record at the tip in id order (gov_proposal_decode'd by the
 * caller); stops at the first non-zero return, which it returns. */
SN_MUST_CHECK int node_gov_proposal_foreach(struct store *st, store_gov_fn *fn, void *ud);

struct node_engine;

struct node_engine_opts {
	unsigned threads; /* signature-check helper threads (the caller checks too); 0 = one per
	                   * online CPU; 1 = the caller alone */
	uint64_t group_txs; /* node_engine_apply_blocks: commit (fsync) once this many
	                     * transactions are written; 0 = NODE_ENGINE_GROUP_TXS */
};
#define NODE_ENGINE_GROUP_TXS 100000

SN_MUST_CHECK int node_engine_new(struct node_engine **out, struct store *st,
                                  const struct node_engine_opts *opts);
void node_engine_free(struct node_engine *eng); /* accepts NULL */

typedef void node_check_fn(void *ud, size_t i);
typedef void node_check_done_fn(void *ud);

/* Checks for a caller that does not wait (the node's RPC loop thread): check(ud, i) runs for
 * every i < n on the engine's helper threads, chunk indices at a time (0: 1), after the work
 * posted before it; then done(ud) runs once, on a helper thread, when every check has run and
 * the engine holds nothing of the job any more. Any thread may call it, also while another
 * uses the engine; free the engine only after every done has run. An engine without helper
 * threads (threads = 1) runs the checks and done in the caller before returning. SN_E_NOMEM:
 * nothing runs. */
/* Checks for a caller that waits (an RPC thread with a batch): check(ud, i) runs for every
 * i < n, chunk indices at a time (0: 1), on the calling thread and on whichever helpers are
 * free: helpers busy with older work take no part and do not delay it. Returns once every
 * check has run. Any thread may call it. */
void node_engine_check(struct node_engine *eng, size_t n, size_t chunk, node_check_fn *check, void *ud);
/* The engine's helper threads (0 when the caller checks alone). */
unsigned node_engine_helpers(const struct node_engine *eng);
SN_MUST_CHECK int node_engine_check_async(struct node_engine *eng, size_t n, size_t chunk, node_check_fn *check,
                                          node_check_done_fn *done, void *ud);

struct node_block_result {
	int err;          /* SN_OK, or why the block was rejected */
	int32_t tx_index; /* the transaction that failed; -1 when the block itself is at fault */
};

/* Validates a block received from elsewhere and applies it as the next block: header
 * (version, chain, height, parent, time, size), every transaction, the transaction root and
 * the state root. The block is rejected whole if anything is invalid, and then the store is
 * unchanged. Returns res->err. */
SN_MUST_CHECK int node_engine_apply_block(struct node_engine *eng, const uint8_t *block, size_t len,
                                          const uint8_t *commit, size_t commit_len,
                                          struct node_block_result *res);

#define NODE_COMMIT_V1 1
#define NODE_ED25519_SIG_LEN 64

struct node_propose_opts {
	uint64_t time_ms;        /* block time (raised to the parent's if earlier) */
	const uint8_t *node_sk;  /* Ed25519 secret key (64 bytes) of the proposer, or NULL: then
	                          * the block carries no proposer and no commit */
	bool preverified;        /* the transactions' signatures were already checked (our own
	                          * mempool): only decode them */
};

/* Applies n consecutive blocks (each with its commit, or NULL commits), as
 * node_engine_apply_block would one by one, but checking block i+1's signatures while block i
 * applies, and writing consecutive blocks in commit groups (store_group_begin) of about
 * group_txs transactions, one fsync each: a crash loses at most the open group, whose blocks
 * a syncing node fetches again. Stops at the first invalid block: *applied blocks were
 * committed, res says why the next one was rejected. Returns res->err. */
SN_MUST_CHECK int node_engine_apply_blocks(struct node_engine *eng, const uint8_t *const *blocks, const size_t *lens,
                                           const uint8_t *const *commits, const size_t *commit_lens, size_t n,
                                           size_t *applied, struct node_block_result *res);

/* Builds and commits the next block from candidate transactions, in order, leaving out the
 * ones that are invalid at their turn (tx_errs[i] says why; SN_OK for included ones), up to
 * the chain's block size. With a node key the block is signed (its commit, docs/protocol.md).
 * *out (owned by the caller, sn_free) gets the block's encoding; *included the number of
 * transactions in it. */
SN_MUST_CHECK int node_engine_propose(struct node_engine *eng, const uint8_t *const *txs, const size_t *lens,
                                      size_t n, const struct node_propose_opts *opts, int *tx_errs,
                                      uint8_t **out, size_t *out_len, size_t *included);

/* The message a validator signs to commit a block: tagged hash of chain id, height and hash. */
void node_commit_message(uint8_t out[SN_HASH_LEN], uint32_t chain_id, uint64_t height,
                         const uint8_t block_hash[SN_HASH_LEN]);

#endif
