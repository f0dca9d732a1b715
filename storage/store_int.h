/* storage/store_int.h — internals shared by the storage module's files. Not public. */
#ifndef SN_STORE_INT_H
#define SN_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "storage/storage.h"

/* ---------------------------------------------------------------- merkle
 * The accounts commitment: a 4-ary Merkle tree over leaf hashes in registration order
 * (docs/storage.md). Level 0 holds the leaves; level L+1 has ceil(size_L / 4) nodes; the
 * root is the single node of the top level (zeros for no leaves). */
#define MERKLE_MAX_LEVELS 24 /* 4^23 > 2^32 leaves */

struct merkle {
	uint32_t n;                             /* leaves */
	uint32_t levels;                        /* levels in use (1 for n <= 1) */
	uint8_t (*node[MERKLE_MAX_LEVELS])[SN_HASH_LEN];
	uint32_t cap[MERKLE_MAX_LEVELS];
};

/* Dirty nodes of one level, sorted by index. */
struct merkle_level_update {
	uint32_t *idx;
	uint8_t (*hash)[SN_HASH_LEN];
	uint32_t cnt, cap;
};

/* A computed but not yet applied change: new leaf count, dirty nodes per level, new root. */
struct merkle_update {
	uint32_t n;
	uint32_t levels;
	struct merkle_level_update lvl[MERKLE_MAX_LEVELS];
	uint8_t root[SN_HASH_LEN];
};

void store__merkle_free(struct merkle *m);
/* Builds from n leaf hashes (taken over: leaves must come from sn_malloc; on error it is freed). */
SN_MUST_CHECK int store__merkle_build(struct merkle *m, uint8_t (*leaves)[SN_HASH_LEN], uint32_t n,
                                      uint32_t leaves_cap);
void store__merkle_root(const struct merkle *m, uint8_t out[SN_HASH_LEN]);
/* Computes the update for new leaves count n and the dirty leaves (idx sorted ascending,
 * unique; every index >= m->n must be present). u is reset first. */
SN_MUST_CHECK int store__merkle_compute(const struct merkle *m, struct merkle_update *u, uint32_t n,
                                        const uint32_t *idx, const uint8_t (*hash)[SN_HASH_LEN],
                                        uint32_t cnt);
/* Makes room so store__merkle_apply(u) cannot fail. */
SN_MUST_CHECK int store__merkle_reserve(struct merkle *m, const struct merkle_update *u);
void store__merkle_apply(struct merkle *m, const struct merkle_update *u);
void store__merkle_update_free(struct merkle_update *u);

/* Leaf hash of an account: tagged hash of key | encoded record. */
void store__account_leaf(uint8_t out[SN_HASH_LEN], const struct store_account *a);
/* State root = tagged hash of u64 accounts | accounts root | u64 treasury | params | gov root. */
void store__state_root(uint8_t out[SN_HASH_LEN], uint64_t accounts, const uint8_t acct_root[SN_HASH_LEN],
                       uint64_t treasury, const struct store_params *p, const uint8_t gov_root[SN_HASH_LEN]);
/* Hashes the governance table of txn, with overlay records (sorted by key, NULL values
 * meaning none) taking precedence. */
struct gov_overlay {
	uint8_t key[STORE_GOV_KEY_MAX];
	size_t klen;
	uint8_t *val;
	size_t vlen;
};
SN_MUST_CHECK int store__gov_root(struct store *st, MDB_txn *txn, const struct gov_overlay *ov, size_t n,
                                  uint8_t out[SN_HASH_LEN]);

/* ---------------------------------------------------------------- the txs index's levels
 * (storage/txindex.c, docs/storage.md "The txs index"). Generations are sorted runs of
 * `u32 gen (big-endian) | id` keys; level 0's are written from memory into table `txgen`,
 * and STORE_TXGEN_FANIN live generations of a level are merged, a bounded step per commit,
 * into one generation of the next level, which has a table of its own (`txgen1`, ...), so
 * that the generation being written is always at the end of its table (MDB_APPEND). */
#define STORE_TXGEN_LEVELS 10   /* level l holds ~txgen_txs * 8^l per generation */
#define STORE_TXGEN_FANIN 8     /* live generations of a level that start a merge */
#define STORE_TXGEN_SRC_MAX 16  /* most sources a recorded merge may have (the decoder's bound) */

/* One level. Generations dead .. first-1 are merged away and being deleted; first .. next-1
 * are live (a lookup descends into each). With n_src, generations first .. first+n_src-1 are
 * being merged into generation `next` of the level above, which is not live until complete;
 * with started, that one is written up to id `last`. */
struct store_txgen_level {
	uint32_t dead, first, next;
	uint8_t n_src;
	bool started;
	uint8_t last[SN_HASH_LEN];
};

struct store_txgen {
	uint64_t next_height; /* the first block whose transactions are not in the generations */
	struct store_txgen_level lvl[STORE_TXGEN_LEVELS];
};

/* The meta record "txgen" (layout above store__txgen_encode in txindex.c): v2, or v1 from
 * before levels (read only). The decoder rejects truncated (SN_E_TRUNCATED), trailing
 * (SN_E_TRAILING), unknown versions (SN_E_VERSION) and states that cannot be (SN_E_CORRUPT);
 * v2 is canonical: decode then encode gives back the same bytes. */
#define STORE_TXGEN_V1 1
#define STORE_TXGEN_V2 2
#define STORE_TXGEN_REC_MAX (1 + 8 + 1 + STORE_TXGEN_LEVELS * (4 + 4 + 4 + 1 + 1 + SN_HASH_LEN))
void store__txgen_encode(uint8_t out[STORE_TXGEN_REC_MAX], size_t *len, const struct store_txgen *s);
SN_MUST_CHECK int store__txgen_decode(struct store_txgen *s, const uint8_t *in, size_t len);
/* Generations a lookup that misses memory descends into (the live ones of every level). */
uint64_t store__txgen_live(const struct store_txgen *s); /* up to 10 levels of 2^32 */

/* ---------------------------------------------------------------- the store */
struct store {
	MDB_env *env;
	int lock_fd; /* flock held on <path>/store.lock: one process per store */
	MDB_dbi db_meta, db_accounts, db_state, db_blocks, db_block_hash, db_txs, db_commits, db_referrals, db_gov;
	MDB_dbi db_txgen[STORE_TXGEN_LEVELS]; /* the txs index's generations, a table per level */
	bool no_sync;
	bool tx_index;        /* committed blocks' transactions are indexed (store_opts.no_tx_index) */
	size_t txgen_txs;     /* a generation is written once memory holds this many */
	uint64_t fail_commit_at; /* store_opts.fail_commit_at (tests) */
	struct store_txgen txgen; /* as committed: changed by the writer, under idx_lock */
	struct store_txmem {
		struct store_txmem_ent {
			uint8_t id[SN_HASH_LEN];
			uint64_t height;
			uint32_t index;
		} *ent;
		size_t n, cap;
		uint32_t *slots;
		size_t n_slots;
		unsigned char hash_key[16]; /* crypto_shorthash_KEYBYTES, made at open */
	} txmem; /* idx_lock */
	/* Two locks, always taken in this order:
	 * - lock (the map): held for reading by every LMDB read transaction for as long as it
	 *   lives (a mempool's speculative view holds it between blocks), for writing only to
	 *   resize the map (LMDB requires that no transaction be active then);
	 * - idx_lock: guards the in-memory state below that readers see (info, gov_root, deep
	 *   sums, direct counts), held for reading briefly, for writing while a commit brings it
	 *   to the new tip, after LMDB committed. A commit never holds either across its fsync,
	 *   so reads and mempool admissions go on while a block is written.
	 * idx_txnid is the LMDB transaction the in-memory state matches: a reader that needs
	 * both (store__snapshot_begin) retries until its snapshot's id equals it. */
	pthread_rwlock_t lock;
	pthread_rwlock_t idx_lock;
	uint64_t idx_txnid;
	pthread_mutex_t writer; /* one wtxn at a time */
	atomic_int fatal;       /* latched error after a failed commit */
	atomic_bool disk_full;  /* the last commit failed for want of space (store_disk_full) */
	struct store_info info;
	struct merkle merkle;
	struct store_deepsum *deepsum;
	uint8_t gov_root[SN_HASH_LEN]; /* hash of every governance record at the tip */
	uint32_t *direct;     /* direct referrals per account, by seq */
	uint32_t direct_cap;
};

/* The txs index (storage/txindex.c, docs/storage.md). The ids of the blocks after the part
 * written to LMDB, in memory: entries in commit order, an open-addressing table over them
 * (index + 1, 0 = empty; a power of two, at least twice the entries). Changed only under
 * idx_lock held for writing, after the LMDB commit it follows (reserve before). */
SN_MUST_CHECK const struct store_txmem_ent *store__txmem_find(const struct store *st, const uint8_t id[SN_HASH_LEN]);
SN_MUST_CHECK int store__txmem_reserve(struct store *st, size_t more);
void store__txmem_add(struct store *st, const uint8_t id[SN_HASH_LEN], uint64_t height, uint32_t index);
void store__txmem_clear(struct store *st);
void store__txmem_free(struct store *st);
/* Whether a commit that adds n transactions to memory writes them as a generation. */
bool store__txgen_due(const struct store *st, size_t n);
/* The txs index's part of a commit, in txn: with flush, memory's entries and extra as a new
 * generation of level 0 (blocks up to `through` then written); then a bounded step of every
 * merge and purge (more for a commit of more transactions, txs); and the meta record if
 * anything changed, all in txn. *next gets the state that is the store's once txn commits:
 * store__txgen_committed then installs it (st is not changed before, so a failed commit can
 * simply be tried again). An LMDB return code (MDB_CORRUPTED for a table that does not hold
 * what the record says). */
SN_MUST_CHECK int store__txgen_commit(struct store *st, MDB_txn *txn, struct store_txgen *next, bool flush,
                                      const struct store_txmem_ent *extra, size_t n_extra, uint64_t through,
                                      uint64_t txs);
/* After txn committed (idx_lock held for writing): next becomes the store's, and with
 * flushed memory is emptied. */
void store__txgen_committed(struct store *st, const struct store_txgen *next, bool flushed);
/* Opens (creating) the level tables in txn: an LMDB return code. */
SN_MUST_CHECK int store__txgen_tables_open(struct store *st, MDB_txn *txn);
/* A consistent copy of the committed levels (for tests, benchmarks and status). */
void store__txgen_get(struct store *st, struct store_txgen *out);
/* Tests and benchmarks only: no merge or purge steps (the layout before levels). */
extern bool store__test_txgen_merge_off;
/* At open, after the open transaction: reads (or first writes) the meta record and, with the
 * index, fills memory from the blocks after the written part, writing generations on the way. */
SN_MUST_CHECK int store__txgen_open(struct store *st);
/* Until generations: a store that ran without the index recorded in meta "txidx_from" (u8 1 |
 * u64 height) the first block it did not index; store__txgen_open takes it over. */
#define STORE_KEY_TXIDX_FROM "txidx_from"
#define STORE_TXIDX_FROM_LEN 9

/* An account as the store keeps it (schema 2, docs/storage.md): the fields registration
 * fixes under its key in `accounts`, and the ones transactions change under its seq in
 * `account_state`, so that a transfer rewrites 25 bytes rather than the whole record.
 * Decoders: SN_E_TRUNCATED, SN_E_VERSION, SN_E_TRAILING; each sets only its own fields. */
#define STORE_COLD_V1 1
#define STORE_COLD_LEN (1 + 8 + SN_PUBKEY_LEN + 8 + 8 + 8)
#define STORE_HOT_V1 1
#define STORE_HOT_LEN (1 + 8 + 8 + 8)
void store__account_cold_encode(uint8_t out[STORE_COLD_LEN], const struct store_account *a);
SN_MUST_CHECK int store__account_cold_decode(struct store_account *a, const uint8_t *in, size_t len);
void store__account_hot_encode(uint8_t out[STORE_HOT_LEN], const struct store_account *a);
SN_MUST_CHECK int store__account_hot_decode(struct store_account *a, const uint8_t *in, size_t len);

/* An MDB_val over n bytes at p. */
static inline MDB_val store__mval(const void *p, size_t n)
{
	MDB_val v = { n, (void *)p };

	return v;
}

/* Maps an LMDB return code to an sn error (logging where it happened). */
int store__mdb_err(int rc, const char *what);
/* A write transaction failed with rc (LMDB's or errno) and was aborted: returns the error
 * (store__mdb_err). For want of space (SN_E_DISKFULL) marks the store disk_full, logging once;
 * for anything but a full map or ENOMEM latches it fatal. */
int store__commit_failed(struct store *st, int rc, const char *what);
/* Marks the store disk_full (logging once per episode): a write failed for want of space. */
void store__disk_full_mark(struct store *st, const char *what, const char *why);
/* Begins the LMDB write transaction of a commit: mdb_txn_begin's code. MDB_PANIC (an earlier
 * commit failed while LMDB wrote its meta page: LMDB refuses every write from then on)
 * latches the store fatal. */
int store__write_begin(struct store *st, MDB_txn **txn);
/* A commit succeeded: clears disk_full (logging that writes resumed). */
void store__commit_succeeded(struct store *st);
/* Doubles the map: takes the map lock for writing, waiting at most a moment for readers
 * (SN_E_BUSY if a long-lived view keeps it), and idx_lock for the new size. Caller holds
 * st->writer with no write transaction open (store_grow_map takes it). */
SN_MUST_CHECK int store__grow_map(struct store *st);
uint64_t store__last_txnid(struct store *st); /* the last committed LMDB transaction */
/* Tests only: a pause between LMDB's commit and the in-memory update, which widens the
 * window that store__snapshot_begin must handle. 0 in a node. */
extern unsigned store__test_swap_delay_us;
/* An LMDB read transaction whose snapshot the in-memory state matches: on success the
 * caller holds the map lock and idx_lock for reading; store__snapshot_idx_done releases
 * idx_lock (the snapshot lives on), store__snapshot_end the rest. */
SN_MUST_CHECK int store__snapshot_begin(struct store *st, MDB_txn **txn);
void store__snapshot_idx_done(struct store *st);
void store__snapshot_end(struct store *st, MDB_txn *txn);
/* Rebuilds the deep sums, direct counts and Merkle tree from the committed accounts (after a
 * failed commit group left st->merkle ahead of the disk). Caller holds the map lock for
 * reading and idx_lock for writing. */
SN_MUST_CHECK int store__indexes_reload(struct store *st);
/* Reads and decodes one account in txn. SN_E_NOTFOUND if absent. */
SN_MUST_CHECK int store__account_read(struct store *st, MDB_txn *txn, const uint8_t key[SN_PUBKEY_LEN],
                                      struct store_account *out);
void store__tip_encode(uint8_t *out, size_t cap, size_t *len, const struct store_info *info);

#endif
