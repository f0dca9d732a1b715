/* node/node.h — the node module's public API: the settlement engine that validates and
 * applies transactions and blocks against the store.
 *
 * A struct node_engine is used from one thread at a time; it runs its own signature-check
 * threads internally. */
#ifndef SN_NODE_H
#define SN_NODE_H

#include "storage/storage.h"

/* Stateless checks of one encoded transaction: decodes it into *tx, checks the chain id, that
 * a REGISTER names a valid key, and the signature; id gets the transaction id. Safe to call
 * from any thread. Errors: the decoder's, SN_E_CHAIN, SN_E_BADKEY, SN_E_BADSIG. */
SN_MUST_CHECK int node_tx_check(const uint8_t *raw, size_t len, uint32_t chain_id, struct store_tx *tx,
                                uint8_t id[SN_HASH_LEN]);

/* Applies one checked transaction to w at height: every precondition is checked before
 * anything changes, so on error w is exactly as before. Errors, each distinct: SN_E_FEE,
 * SN_E_UNKNOWN_SPONSOR (REGISTER by an unregistered signer), SN_E_UNKNOWN_ACCOUNT (other
 * types), SN_E_NONCE, SN_E_REGISTERED, SN_E_AMOUNT_ZERO, SN_E_SELF, SN_E_UNKNOWN_RECIPIENT,
 * SN_E_BALANCE, SN_E_OVERFLOW, SN_E_NOMEM. */
SN_MUST_CHECK int node_tx_apply(struct store_wtxn *w, const struct store_tx *tx, uint64_t height);

struct node_engine;

struct node_engine_opts {
	unsigned threads; /* signature-check helper threads (the caller checks too); 0 = one per
	                   * online CPU; 1 = the caller alone */
};

SN_MUST_CHECK int node_engine_new(struct node_engine **out, struct store *st,
                                  const struct node_engine_opts *opts);
void node_engine_free(struct node_engine *eng); /* accepts NULL */

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
 * applies and commits. Stops at the first invalid block: *applied blocks were committed, res
 * says why the next one was rejected. Returns res->err. */
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
