/* node/mempool_int.h — pending transactions. Internal to node/; used from the daemon's loop
 * thread only. */
#ifndef SN_NODE_MEMPOOL_H
#define SN_NODE_MEMPOOL_H

#include "node/node.h"

struct node_mempool;

struct node_mempool_entry {
	uint8_t id[SN_HASH_LEN];
	struct store_tx tx; /* tx.payload points into raw */
	uint8_t *raw;
	size_t len;
	size_t slot; /* its place in the id index (the mempool's own bookkeeping) */
	uint64_t admitted_ns; /* CLOCK_MONOTONIC when it was admitted */
};

/* A mempool over st holding at most max_txs transactions and max_bytes encoded bytes. */
SN_MUST_CHECK int node_mempool_new(struct node_mempool **out, struct store *st, size_t max_txs,
                                   size_t max_bytes);
void node_mempool_free(struct node_mempool *mp); /* accepts NULL */

/* Admits a transaction whose stateless checks (node_tx_check) passed: full validation
 * against the latest state plus everything already pending, in admission order, with the
 * engine's own rules and error codes. SN_E_DUPTX if pending or already committed,
 * SN_E_MEMPOOL_FULL over a limit, SN_E_BUSY while suspended. The raw bytes are copied. */
SN_MUST_CHECK int node_mempool_add(struct node_mempool *mp, const uint8_t *raw, size_t len,
                                   const struct store_tx *tx, const uint8_t id[SN_HASH_LEN]);

size_t node_mempool_count(const struct node_mempool *mp);
size_t node_mempool_bytes(const struct node_mempool *mp);
/* The i-th pending transaction in admission order (borrowed until the next change). */
const struct node_mempool_entry *node_mempool_at(const struct node_mempool *mp, size_t i);
/* A pending transaction by id, or NULL. */
const struct node_mempool_entry *node_mempool_find(const struct node_mempool *mp, const uint8_t id[SN_HASH_LEN]);

/* The nonce the signer's next transaction must carry: its account's at the tip plus its
 * pending transactions. SN_E_NOTFOUND for an unregistered signer, SN_E_BUSY while the view
 * is suspended. */
SN_MUST_CHECK int node_mempool_next_nonce(struct node_mempool *mp, const uint8_t signer[SN_PUBKEY_LEN],
                                          uint64_t *nonce);
/* Releases the mempool's view of the store (before the map is resized, store_grow_map).
 * Admission returns SN_E_BUSY until node_mempool_resume. */
void node_mempool_suspend(struct node_mempool *mp);
/* While a block is built from the first node_mempool_count() entries on another thread:
 * admission goes on (against the view, which still shows the tip before the block plus
 * every pending transaction, the block's among them) but only appends; no entry is freed or
 * moved until node_mempool_resume. */
void node_mempool_hold(struct node_mempool *mp);
/* After a block that was not written (the store had no room: SN_E_DISKFULL, nothing
 * committed): ends the hold and keeps the view and every entry as they are, since the tip did
 * not move, so nothing is re-checked (while the disk stays full the producer tries every
 * second, and re-checking a large mempool each time would keep a core busy). Rebuilds the view
 * (node_mempool_resume with no ids) only if it was lost meanwhile. */
SN_MUST_CHECK int node_mempool_unhold(struct node_mempool *mp, size_t *dropped);
/* After a block: drops the transactions the block committed (ids, in any order) and
 * re-checks the rest against the new tip in order, dropping those no longer valid. Returns
 * how many were dropped as invalid through *dropped (may be NULL). SN_E_NOMEM: the ones not
 * re-checked yet were dropped too (counted in *dropped) and admission says SN_E_BUSY until
 * the next resume. */
SN_MUST_CHECK int node_mempool_resume(struct node_mempool *mp, const uint8_t (*ids)[SN_HASH_LEN], size_t n,
                                      size_t *dropped);

#endif
