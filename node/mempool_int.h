/* node/mempool_int.h — pending transactions. Internal to node/. Not locked: the daemon's
 * callers take its mp_lock. The view (a read snapshot holding the store's map lock) is begun
 * and ended on one thread, the daemon's loop: see node_mempool_defer_rebuild. */
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
/* node_mempool_add in two steps, for a caller that locks the mempool: try_add under the lock
 * (a committed transaction fails on its spent nonce), then refuse_why without it, which
 * turns a validation error into SN_E_DUPTX when the transaction is committed (a store read:
 * the store's map lock comes before the caller's in the daemon's lock order). */
SN_MUST_CHECK int node_mempool_try_add(struct node_mempool *mp, const uint8_t *raw, size_t len,
                                       const struct store_tx *tx, const uint8_t id[SN_HASH_LEN]);
SN_MUST_CHECK int node_mempool_refuse_why(const struct node_mempool *mp, const uint8_t id[SN_HASH_LEN], int err);

/* From now on, running out of memory in node_mempool_add marks the view broken instead of
 * rebuilding it there (admission then says SN_E_BUSY): for admission on other threads than
 * the one that begins and ends the view, which rebuilds it (node_mempool_resume) once
 * node_mempool_broken says so. */
void node_mempool_defer_rebuild(struct node_mempool *mp);
bool node_mempool_broken(const struct node_mempool *mp);

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
/* Releases the mempool's view of the store (before the map is resized, store_grow_map) and
 * ends a hold. Admission returns SN_E_BUSY until node_mempool_resume. */
void node_mempool_suspend(struct node_mempool *mp);
/* While a block is built from the first node_mempool_count() entries on another thread:
 * admission goes on (against the view, which still shows the tip before the block plus
 * every pending transaction, the block's among them) but only appends; no entry is freed or
 * moved until node_mempool_resume. */
void node_mempool_hold(struct node_mempool *mp);
/* After a block that was not written (the store had no room: SN_E_DISKFULL, nothing
 * committed): ends the hold and keeps the view and every entry as they are, since the tip did
 * not move, so nothing is re-checked (while the disk stays full the producer tries every
 * second, and re-checking a large mempool each time would keep a core busy). false: the view
 * was lost or broken meanwhile, nothing done: resume instead (with no ids). */
SN_MUST_CHECK bool node_mempool_unhold(struct node_mempool *mp);
/* After a block: drops the transactions the block committed (ids, in any order) and
 * re-checks the rest against the new tip in order, dropping those no longer valid. Returns
 * how many were dropped as invalid through *dropped (may be NULL). SN_E_NOMEM: the ones not
 * re-checked yet were dropped too (counted in *dropped) and admission says SN_E_BUSY until
 * the next resume. An error beginning the new view: the view is released (as by
 * node_mempool_suspend) and nothing else is done. */
SN_MUST_CHECK int node_mempool_resume(struct node_mempool *mp, const uint8_t (*ids)[SN_HASH_LEN], size_t n,
                                      size_t *dropped);
/* The same with a view the caller began (store_wtxn_begin_speculative on the mempool's store;
 * owned by the mempool from now on), so that the caller can begin it before taking a lock of
 * its own: the view holds the store's map lock for reading, which comes first in the
 * daemon's lock order. */
SN_MUST_CHECK int node_mempool_resume_view(struct node_mempool *mp, struct store_wtxn *view,
                                           const uint8_t (*ids)[SN_HASH_LEN], size_t n, size_t *dropped);

/* ---- pending transactions across a restart (node/mempool_file.c; docs/storage.md) */

/* One transaction of a saved mempool: len bytes (1..STORE_TX_MAX) at raw. */
struct node_mempool_saved {
	const uint8_t *raw;
	size_t len;
};

/* The saved form of the n transactions txs of chain chain_id, in order; *out is malloc'd
 * (sn_free). SN_E_INVAL for a length out of bounds. */
SN_MUST_CHECK int node_mempool_file_encode(const struct node_mempool_saved *txs, size_t n, uint32_t chain_id,
                                           uint8_t **out, size_t *len);
/* Checks a saved form whole (version: SN_E_VERSION, chain: SN_E_CHAIN, lengths:
 * SN_E_TRUNCATED, SN_E_TOOBIG, SN_E_TRAILING, check hash: SN_E_CORRUPT) and returns its *n
 * transactions in order in *txs (sn_free; each borrows from buf); on an error *txs is NULL.
 * The transactions themselves are not decoded: they are admitted as if submitted. */
SN_MUST_CHECK int node_mempool_file_decode(const uint8_t *buf, size_t len, uint32_t chain_id,
                                           struct node_mempool_saved **txs, size_t *n);

#endif
