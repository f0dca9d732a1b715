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

/* ---------------------------------------------------------------- the store */
struct store {
	MDB_env *env;
	int lock_fd; /* flock held on <path>/store.lock: one process per store */
	MDB_dbi db_meta, db_accounts, db_blocks, db_block_hash, db_txs, db_commits, db_referrals, db_gov;
	bool no_sync;
	/* Held for reading by every LMDB read transaction and in-memory read; for writing while
	 * the map is resized and while a commit updates the in-memory indexes. */
	pthread_rwlock_t lock;
	pthread_mutex_t writer; /* one wtxn at a time */
	atomic_int fatal;       /* latched error after a failed commit */
	struct store_info info;
	struct merkle merkle;
	struct store_deepsum *deepsum;
	uint8_t gov_root[SN_HASH_LEN]; /* hash of every governance record at the tip */
	uint32_t *direct;     /* direct referrals per account, by seq */
	uint32_t direct_cap;
};

/* Maps an LMDB return code to an sn error (logging where it happened). */
int store__mdb_err(int rc, const char *what);
SN_MUST_CHECK int store__grow_map(struct store *st);
/* Rebuilds the deep sums, direct counts and Merkle tree from the committed accounts (after a
 * failed commit group left st->merkle ahead of the disk). Caller holds the write lock. */
SN_MUST_CHECK int store__indexes_reload(struct store *st);
/* Reads and decodes one account in txn. SN_E_NOTFOUND if absent. */
SN_MUST_CHECK int store__account_read(struct store *st, MDB_txn *txn, const uint8_t key[SN_PUBKEY_LEN],
                                      struct store_account *out);
void store__tip_encode(uint8_t *out, size_t cap, size_t *len, const struct store_info *info);

#endif
