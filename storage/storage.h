/* storage/storage.h — the storage module's public API: the transaction, block and account
 * encodings, the deep-sum index, and the LMDB store that holds the chain.
 *
 * A struct store may be shared between threads (reads run concurrently; one writer at a
 * time). A struct store_wtxn belongs to the one thread that began it. */
#ifndef SN_STORAGE_H
#define SN_STORAGE_H

#include "common/common.h"

/* ================================================================ encodings */

#define STORE_TX_V1 1
#define STORE_BLOCK_V1 1
#define STORE_ACCOUNT_V1 1

enum store_tx_type {
	STORE_TX_REGISTER = 1, /* the signer (sponsor) registers `to` under itself, funds it with `amount` (may be 0) */
	STORE_TX_TRANSFER = 2, /* the signer sends `amount` (> 0) to `to` */
	STORE_TX_GOV_PROPOSE = 3, /* u8 kind | u64 deadline_height | kind payload (docs/governance.md) */
	STORE_TX_GOV_APPROVE = 4, /* u64 proposal_id | [32] member | [64] approval signature */
	STORE_TX_GOV_EXECUTE = 5, /* u64 proposal_id | u8 n | n × ([32] member | [64] signature) */
};
#define STORE_TX_TYPE_FIRST STORE_TX_REGISTER
#define STORE_TX_TYPE_LAST STORE_TX_GOV_EXECUTE

#define STORE_TX_PAYLOAD_V1 40                        /* REGISTER, TRANSFER: [32] to | u64 amount */
/* A governance proposal's own payload at most: equal to GOV_PAYLOAD_MAX (governance/ checks
 * at compile time that they agree; storage/ cannot include governance/). */
#define STORE_TX_GOV_PAYLOAD_MAX 10240
#define STORE_TX_PROPOSE_HEADER_LEN (1 + 8)           /* u8 kind | u64 deadline_height */
#define STORE_TX_APPROVE_LEN (8 + SN_PUBKEY_LEN + SN_SIG_LEN) /* 104 */
#define STORE_TX_EXECUTE_HEADER_LEN (8 + 1)           /* u64 proposal_id | u8 n */
#define STORE_TX_EXECUTE_SIG_LEN (SN_PUBKEY_LEN + SN_SIG_LEN) /* [32] member | [64] sig */
#define STORE_TX_EXECUTE_SIGS_MAX 64
/* The largest payload of any type (a PROPOSE carrying the largest proposal payload). */
#define STORE_TX_PAYLOAD_MAX (STORE_TX_PROPOSE_HEADER_LEN + STORE_TX_GOV_PAYLOAD_MAX) /* 10249 */
#define STORE_TX_HEADER_LEN (1 + 1 + 4 + 32 + 8 + 8 + 2) /* up to and including payload_len */
#define STORE_TX_MAX (STORE_TX_HEADER_LEN + STORE_TX_PAYLOAD_MAX + SN_SIG_LEN) /* 10369: largest encoded transaction */
#define STORE_TX_V1_LEN (STORE_TX_HEADER_LEN + STORE_TX_PAYLOAD_V1 + SN_SIG_LEN) /* REGISTER, TRANSFER */

/* A decoded transaction. payload borrows from the decoded input: valid while the input
 * lives (a copy of the struct that outlives it must re-point payload into its own copy of
 * the bytes, at offset STORE_TX_HEADER_LEN). */
struct store_tx {
	uint8_t version;
	uint8_t type; /* enum store_tx_type */
	uint32_t chain_id;
	uint8_t signer[SN_PUBKEY_LEN];
	uint64_t nonce;
	uint64_t fee;
	uint8_t to[SN_PUBKEY_LEN]; /* REGISTER, TRANSFER */
	uint64_t amount;           /* REGISTER, TRANSFER */
	/* The payload bytes as encoded. decode sets them for every type; encode writes them for
	 * the governance types (3..5) and writes `to | amount` for REGISTER and TRANSFER. */
	uint16_t payload_len;
	const uint8_t *payload;
	uint8_t sig[SN_SIG_LEN];
};

/* Encodes tx (docs/protocol.md) into out[cap]; *outlen gets the length.
 * SN_E_TOOBIG if cap is too small, SN_E_TYPE/SN_E_VERSION for an unknown type/version; for a
 * governance type, the decoder's error for a payload length it would refuse (SN_E_TOOBIG,
 * SN_E_TRUNCATED; SN_E_INVAL for a NULL payload), so that what encodes decodes. */
SN_MUST_CHECK int store_tx_encode(uint8_t *out, size_t cap, size_t *outlen, const struct store_tx *tx);
/* Decodes exactly one transaction; tx is zeroed on entry; tx->payload then points into in.
 * Errors: SN_E_TRUNCATED, SN_E_TRAILING, SN_E_VERSION, SN_E_TYPE, SN_E_TOOBIG (payload_len
 * or an EXECUTE's count). Checks each type's payload framing (length, EXECUTE's count), not
 * its content (node_tx_apply does), nor the signature (store_tx_verify does). */
SN_MUST_CHECK int store_tx_decode(struct store_tx *tx, const uint8_t *in, size_t len);
/* The 32-byte message the signer signs: tagged hash of the encoding without the signature. */
SN_MUST_CHECK int store_tx_sighash(uint8_t out[SN_HASH_LEN], const struct store_tx *tx);
/* The transaction id: tagged hash of the full encoding (given as bytes). */
void store_tx_id(uint8_t out[SN_HASH_LEN], const uint8_t *enc, size_t len);
/* Fills tx->sig with the signer's BIP340 signature. seckey is not retained. */
SN_MUST_CHECK int store_tx_sign(struct store_tx *tx, const uint8_t seckey[SN_SECKEY_LEN]);
/* SN_OK, SN_E_BADSIG or SN_E_BADKEY. */
SN_MUST_CHECK int store_tx_verify(const struct store_tx *tx);

#define STORE_BLOCK_HEADER_LEN (1 + 4 + 8 + 32 + 8 + 32 + 32 + 32 + 4)
#define STORE_BLOCK_MAX_TXS 65536
#define STORE_BLOCK_MAX (64u << 20) /* 64 MiB: a block of 65,536 of the largest transactions would not fit */

struct store_block_header {
	uint8_t version;
	uint32_t chain_id;
	uint64_t height;
	uint8_t prev_hash[SN_HASH_LEN];
	uint64_t time_ms;
	uint8_t proposer[32]; /* the proposer's node key (Ed25519); zero until consensus lands */
	uint8_t tx_root[SN_HASH_LEN];
	uint8_t state_root[SN_HASH_LEN]; /* state after applying this block */
	uint32_t tx_count;
};

/* A decoded block borrows its transactions from the input buffer. */
struct store_block {
	struct store_block_header hdr;
	const uint8_t *body; /* tx_count × (u32 len | tx) */
	size_t body_len;
};

/* Encodes a header (STORE_BLOCK_HEADER_LEN bytes) into out. */
void store_block_header_encode(uint8_t out[STORE_BLOCK_HEADER_LEN], const struct store_block_header *h);
/* The block hash: tagged hash of the encoded header. */
void store_block_hash(uint8_t out[SN_HASH_LEN], const struct store_block_header *h);
/* Decodes a whole block and checks its framing (every length within bounds, each tx at most
 * STORE_TX_MAX, count as announced, no trailing bytes). Transactions are not decoded. */
SN_MUST_CHECK int store_block_decode(struct store_block *b, const uint8_t *in, size_t len);
/* Iterates the transactions of a decoded block: *pos starts at 0. Returns false at the end. */
bool store_block_next_tx(const struct store_block *b, size_t *pos, const uint8_t **tx, size_t *len);
/* tx_root = tagged hash of (u32 count | count × tx id). */
void store_tx_root(uint8_t out[SN_HASH_LEN], const uint8_t (*ids)[SN_HASH_LEN], uint32_t n);

/* An account's own fields. team figures are derived (store_team_get). */
struct store_account {
	uint8_t key[SN_PUBKEY_LEN];
	uint64_t seq;         /* registration order; 0 is the genesis root */
	uint64_t balance;
	uint64_t nonce;       /* the nonce its next transaction must carry */
	uint8_t sponsor[SN_PUBKEY_LEN]; /* zero for the root */
	uint64_t sponsor_seq;
	uint64_t personal_volume;
	uint64_t reg_height;
	uint64_t depth;       /* root is 0 */
};

#define STORE_ACCOUNT_LEN (1 + 8 + 8 + 8 + 32 + 8 + 8 + 8 + 8)
/* The stored value (the key is the LMDB key and is not repeated). */
void store_account_encode(uint8_t out[STORE_ACCOUNT_LEN], const struct store_account *a);
/* a->key is left as given by the caller (set it before or after). */
SN_MUST_CHECK int store_account_decode(struct store_account *a, const uint8_t *in, size_t len);

/* ================================================================ deep sums */

/* In-memory index of deep cumulative sums over the referral tree: for every account its
 * team size (descendants) and team volume (its own personal volume plus all descendants').
 * Accounts are numbered densely by registration order: seq 0 is the root, and every other
 * account's sponsor has a smaller seq. Insert, volume update and query cost O(log n)
 * whatever the depth (docs/deep-sums.md). Not synchronised: the store wraps it in a lock. */
struct store_deepsum;

/* A new empty index, with room for capacity accounts before it reallocates. */
SN_MUST_CHECK int store_deepsum_new(struct store_deepsum **out, uint32_t capacity);
void store_deepsum_free(struct store_deepsum *ds); /* accepts NULL */
/* Builds the index for n accounts at once in O(n): parent[i] < i for 0 < i < n (parent[0] is
 * ignored), pvol[i] the personal volume of account i. SN_E_INVAL if parent is not so ordered. */
SN_MUST_CHECK int store_deepsum_build(struct store_deepsum **out, const uint32_t *parent,
                                      const uint64_t *pvol, uint32_t n);
uint32_t store_deepsum_count(const struct store_deepsum *ds);
/* Makes room for n accounts in total, so that later inserts up to n cannot fail. */
SN_MUST_CHECK int store_deepsum_reserve(struct store_deepsum *ds, uint32_t n);
/* Adds account seq == count as a leaf under parent (< seq; ignored for seq 0) with personal
 * volume pvol. SN_E_INVAL for a wrong seq or parent, SN_E_NOMEM. */
SN_MUST_CHECK int store_deepsum_insert(struct store_deepsum *ds, uint32_t seq, uint32_t parent,
                                       uint64_t pvol);
/* Adds delta to account seq's personal volume. SN_E_INVAL if seq is unknown. */
SN_MUST_CHECK int store_deepsum_add_volume(struct store_deepsum *ds, uint32_t seq, uint64_t delta);
/* Team size (number of descendants, not counting seq) and team volume (seq's own personal
 * volume plus all descendants'). SN_E_INVAL if seq is unknown. */
SN_MUST_CHECK int store_deepsum_team(const struct store_deepsum *ds, uint32_t seq,
                                     uint64_t *team_size, unsigned __int128 *team_volume);


/* ================================================================ the store */

#define STORE_SCHEMA 3 /* on-disk schema this code writes and reads (1 and 2 are migrated at open) */

/* Chain parameters (changed later only through governance). Part of the state root. */
struct store_params {
	uint64_t min_fee;       /* every transaction pays at least this into the treasury */
	uint32_t max_block_txs; /* at most STORE_BLOCK_MAX_TXS */
};

#define STORE_TXGEN_TXS 65536

struct store_opts {
	uint32_t chain_id;
	uint64_t map_size; /* initial LMDB map size in bytes; 0 = 256 MiB. It grows when full. */
	bool no_sync;      /* benchmarks and tests only: no fsync at commit (not crash-safe) */
	/* No index of committed transactions by id: store_tx_locate does not find the blocks
	 * committed meanwhile (nor those it held in memory only). Opened again with the index,
	 * the store indexes them before store_open returns (docs/storage.md, "The txs index"). */
	bool no_tx_index;
	/* The txs index writes a generation once it holds this many transactions in memory;
	 * 0 = STORE_TXGEN_TXS (tests set fewer). */
	size_t txgen_txs;
	/* Tests only: the commit of the block at this height (or of the group holding it) fails
	 * as an LMDB write error would, with room on the disk: nothing is written and the store
	 * latches failed (store_status). 0 = never. settled sets it from SN_TEST_FAIL_COMMIT_AT. */
	uint64_t fail_commit_at;
};

struct store_info {
	uint32_t chain_id;
	bool has_genesis;
	uint64_t height; /* height of the tip; the genesis block is height 0 */
	uint8_t tip_hash[SN_HASH_LEN];
	uint64_t tip_time_ms;
	uint8_t state_root[SN_HASH_LEN];
	uint64_t accounts;
	uint64_t treasury;
	struct store_params params;
	uint64_t map_size;
};

struct store_genesis_account {
	uint8_t key[SN_PUBKEY_LEN];
	uint8_t sponsor[SN_PUBKEY_LEN]; /* must be the root or an account listed earlier */
	uint64_t balance;
};

/* A governance record: opaque bytes that governance/ encodes (docs/governance.md). */
#define STORE_GOV_KEY_MAX 64
#define STORE_GOV_VALUE_MAX (256 * 1024)
struct store_gov_record {
	const uint8_t *key;
	size_t klen;
	const uint8_t *val;
	size_t vlen;
};

struct store_genesis {
	uint8_t root[SN_PUBKEY_LEN];
	uint64_t root_balance;
	const struct store_genesis_account *accounts;
	size_t n_accounts;
	struct store_params params;
	uint64_t time_ms;
	const struct store_gov_record *gov; /* initial governance records (members, validators) */
	size_t n_gov;
};

struct store;
struct store_wtxn;

/* Opens (creating if absent) the store in directory path. On SN_OK *out is a new handle owned
 * by the caller (store_close releases it). The in-memory indexes (deep sums, state root) are
 * rebuilt from the accounts and checked against the stored state root.
 * Errors: SN_E_IO, SN_E_NOMEM, SN_E_CORRUPT (bad magic, records or state root),
 * SN_E_VERSION (written by a newer schema), SN_E_CHAIN (store belongs to another chain id),
 * SN_E_BUSY (another process has it open: one process per store, by flock). */
SN_MUST_CHECK int store_open(struct store **out, const char *path, const struct store_opts *opts);
/* SN_OK and *from when blocks from height *from on are not in the txs index (the store was
 * opened with no_tx_index when they were committed, and is now); SN_E_NOTFOUND when every
 * committed block is indexed. */
SN_MUST_CHECK int store_tx_index_gap(struct store *st, uint64_t *from);
/* The txs index's shape (docs/storage.md): transactions of recent blocks held in memory, and
 * the generations on disk that a lookup missing memory descends into, one B-tree descent each
 * (kept few by merging them level by level). */
struct store_tx_index_stats {
	uint64_t in_memory, generations;
};
void store_tx_index_stats(struct store *st, struct store_tx_index_stats *out);
void store_close(struct store *st); /* accepts NULL */

/* Writes the genesis state and block (height 0). SN_E_EXISTS if the store has one;
 * SN_E_INVAL for an unknown sponsor, a duplicate key or bad params. */
SN_MUST_CHECK int store_genesis_init(struct store *st, const struct store_genesis *g);

/* SN_OK, or the error a failed commit latched (SN_E_FATAL): the store then refuses writes. */
int store_status(struct store *st);
/* Whether the last commit failed for want of space (the disk or the quota full, or a file-size
 * limit reached: ENOSPC, EDQUOT, EFBIG, or EIO, LMDB's word for a write cut short, with the
 * file system or the limit that close to full). Such a commit returns SN_E_DISKFULL having written
 * nothing: the store, on disk and in memory, stays at its last block, and a later commit
 * succeeds once there is room (which clears this). */
bool store_disk_full(struct store *st);

/* Doubles the map now. A commit grows a full map by itself, but it cannot while a
 * speculative wtxn (a mempool's view) lives: it then fails with SN_E_MAPFULL, and the
 * owner of the view ends it, calls this and begins a new one. SN_E_BUSY if readers kept the
 * map for longer than a moment. Waits for a wtxn or commit group in progress to end (so
 * never call it from inside one). */
SN_MUST_CHECK int store_grow_map(struct store *st);

/* A consistent copy of the tip's summary. */
void store_info_get(struct store *st, struct store_info *out);

/* Reads at the tip. SN_E_NOTFOUND if absent. */
SN_MUST_CHECK int store_account_get(struct store *st, const uint8_t key[SN_PUBKEY_LEN],
                                    struct store_account *out);

struct store_team {
	uint64_t size;             /* descendants */
	unsigned __int128 volume;  /* own personal volume plus all descendants' */
	uint64_t depth;            /* levels below the root */
	uint64_t direct;           /* direct referrals (accounts it sponsored) */
};
SN_MUST_CHECK int store_team_get(struct store *st, const uint8_t key[SN_PUBKEY_LEN],
                                 struct store_team *out);

/* A governance record at the tip; *out owned by the caller (sn_free). */
SN_MUST_CHECK int store_gov_get(struct store *st, const void *key, size_t klen, uint8_t **out, size_t *len);
/* Calls fn for every governance record whose key starts with prefix, in key order; stops at
 * the first non-zero return, which it returns. The bytes are valid during the call. */
typedef int store_gov_fn(void *ud, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
SN_MUST_CHECK int store_gov_foreach(struct store *st, const void *prefix, size_t plen, store_gov_fn *fn, void *ud);

/* The keys of up to max accounts that key sponsored, in key order, starting after `after`
 * (NULL: from the first). *n gets how many were written to out. */
SN_MUST_CHECK int store_referrals_list(struct store *st, const uint8_t key[SN_PUBKEY_LEN],
                                       const uint8_t *after, uint8_t (*out)[SN_PUBKEY_LEN], size_t max,
                                       size_t *n);

/* *out is a new buffer owned by the caller (sn_free). SN_E_NOTFOUND if no such block. */
SN_MUST_CHECK int store_block_get(struct store *st, uint64_t height, uint8_t **out, size_t *len);
SN_MUST_CHECK int store_block_height(struct store *st, const uint8_t hash[SN_HASH_LEN], uint64_t *height);
/* Where a committed transaction is: block height and index within the block. */
SN_MUST_CHECK int store_tx_locate(struct store *st, const uint8_t id[SN_HASH_LEN], uint64_t *height,
                                  uint32_t *index);

/* Calls fn for every account at the tip, in key order; stops at the first non-zero return,
 * which it returns. For tests, tools and the oracle: it holds a read transaction throughout. */
typedef int store_account_fn(void *ud, const struct store_account *a);
SN_MUST_CHECK int store_account_foreach(struct store *st, store_account_fn *fn, void *ud);

/* The write side: one block at a time. A wtxn reads a snapshot of the tip plus its own
 * changes, which stay in memory until store_wtxn_commit writes them in one LMDB transaction
 * (all or nothing, also across a crash). Only one wtxn exists at a time: store_wtxn_begin
 * waits for the previous one to end. SN_E_FATAL once a commit has failed. */
SN_MUST_CHECK int store_wtxn_begin(struct store *st, struct store_wtxn **out);
/* A speculative wtxn (the mempool's view of the tip plus pending transactions): it does not
 * wait for or block the writer and can never be committed. It keeps reading the snapshot it
 * began on while other threads commit blocks (LMDB keeps that snapshot), so the view may
 * live across a commit. The one thing it holds up is a resize of a full map: a commit that
 * needs one meanwhile fails with SN_E_MAPFULL (see store_grow_map). */
SN_MUST_CHECK int store_wtxn_begin_speculative(struct store *st, struct store_wtxn **out);
void store_wtxn_abort(struct store_wtxn *w); /* accepts NULL; discards every change */
const struct store_info *store_wtxn_info(const struct store_wtxn *w); /* the tip it builds on */

SN_MUST_CHECK int store_wtxn_account_get(struct store_wtxn *w, const uint8_t key[SN_PUBKEY_LEN],
                                         struct store_account *out);
/* Registers key under sponsor (an account read from this wtxn) at height with a balance.
 * *out gets the new record (seq, depth, ...). SN_E_REGISTERED if key exists. */
SN_MUST_CHECK int store_wtxn_account_create(struct store_wtxn *w, const uint8_t key[SN_PUBKEY_LEN],
                                            const struct store_account *sponsor, uint64_t height,
                                            uint64_t balance, struct store_account *out);
/* Replaces an existing account's own fields (seq, sponsor and key must not change;
 * personal volume may only grow). */
SN_MUST_CHECK int store_wtxn_account_put(struct store_wtxn *w, const struct store_account *a);
uint64_t store_wtxn_treasury(const struct store_wtxn *w);
SN_MUST_CHECK int store_wtxn_treasury_add(struct store_wtxn *w, uint64_t amount);
/* Takes amount out of the treasury (a governance TREASURY_SPEND); SN_E_BALANCE if it holds
 * less (then nothing changes). */
SN_MUST_CHECK int store_wtxn_treasury_sub(struct store_wtxn *w, uint64_t amount);
/* The chain parameters as this wtxn will commit them, and a change to them (governance). */
const struct store_params *store_wtxn_params(const struct store_wtxn *w);
SN_MUST_CHECK int store_wtxn_params_set(struct store_wtxn *w, const struct store_params *p);
/* Governance records in this wtxn. *val borrows memory valid until the next gov put or the
 * end of w. SN_E_NOTFOUND if absent. */
SN_MUST_CHECK int store_wtxn_gov_get(struct store_wtxn *w, const void *key, size_t klen, const uint8_t **val,
                                     size_t *len);
/* Sets a record (the value is copied); part of the state root. */
SN_MUST_CHECK int store_wtxn_gov_put(struct store_wtxn *w, const void *key, size_t klen, const uint8_t *val,
                                     size_t len);
/* Records a transaction of the block being built, in block order (for store_tx_locate). */
SN_MUST_CHECK int store_wtxn_tx_add(struct store_wtxn *w, const uint8_t id[SN_HASH_LEN]);
/* The state root after this wtxn's changes (does not change the store). SN_E_INVAL for a
 * speculative wtxn (the Merkle tree belongs to the writer). */
SN_MUST_CHECK int store_wtxn_state_root(struct store_wtxn *w, uint8_t out[SN_HASH_LEN]);
/* Writes the block (hdr and its encoding) with every change of w in one LMDB transaction
 * and its commit (may be empty) and makes it the tip; hdr->state_root must equal
 * store_wtxn_state_root. Frees w whatever
 * the outcome. A full map is grown and the commit retried. Errors leave the store as it was;
 * SN_E_FATAL latches if LMDB fails to commit. */
SN_MUST_CHECK int store_wtxn_commit(struct store_wtxn *w, const struct store_block_header *hdr,
                                    const uint8_t *block, size_t block_len, const uint8_t *commit,
                                    size_t commit_len);
/* A commit group, for catching up: consecutive blocks, each through its own wtxn
 * (store_wtxn_begin_in, then store_wtxn_commit as usual, which checks it and writes it), go
 * into one LMDB transaction that store_group_end makes durable with one fsync. Every block
 * stays whole (a crash keeps all of a group or none of it: its blocks are simply fetched
 * again). Readers see the store as it was until store_group_end; the group holds the writer
 * (store_wtxn_begin waits) until it ends. A block that fails its checks leaves the group
 * usable (the blocks before it still commit); an LMDB error (SN_E_MAPFULL, SN_E_IO) poisons
 * it, and store_group_end then returns that error with nothing committed (a full map has
 * been grown by then: apply the group's blocks again). */
struct store_group;
SN_MUST_CHECK int store_group_begin(struct store *st, struct store_group **out);
SN_MUST_CHECK int store_wtxn_begin_in(struct store_group *g, struct store_wtxn **out);
uint32_t store_group_blocks(const struct store_group *g); /* blocks written so far */
uint64_t store_group_txs(const struct store_group *g);    /* their transactions */
/* Commits every block written (none: nothing to do) and frees g. On error none is kept. */
SN_MUST_CHECK int store_group_end(struct store_group *g);
void store_group_abort(struct store_group *g); /* accepts NULL; keeps none of its blocks */

/* The commit stored with a block (the signatures that made it final; docs/protocol.md).
 * *out is owned by the caller (sn_free). SN_E_NOTFOUND if none. */
SN_MUST_CHECK int store_commit_get(struct store *st, uint64_t height, uint8_t **out, size_t *len);

#endif
