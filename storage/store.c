/* storage/store.c — the LMDB environment: schema, open and rebuild, reads at the tip. */
#include "storage/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define STORE_MAGIC "SETTLED\0"
#define STORE_MAGIC_LEN 8
#define STORE_TIP_V1 1
#define STORE_DEFAULT_MAP (256ull << 20)
#define TIP_LEN (1 + 8 + SN_HASH_LEN + 8 + SN_HASH_LEN + 8 + 8 + 8 + 4)

static const char *const KEY_FORMAT = "format";
static const char *const KEY_TIP = "tip";

int store__mdb_err(int rc, const char *what)
{
	switch (rc) {
	case MDB_SUCCESS:
		return SN_OK;
	case MDB_NOTFOUND:
		return SN_E_NOTFOUND;
	case MDB_MAP_FULL:
		return SN_E_MAPFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		SN_LOG(SN_LOG_ERROR, "store", "%s: %s", what, mdb_strerror(rc));
		return SN_E_CORRUPT;
	case ENOMEM:
		return SN_E_NOMEM;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return SN_E_DISKFULL; /* not logged: a commit's says it once per episode */
	default:
		SN_LOG(SN_LOG_ERROR, "store", "%s: %s", what, mdb_strerror(rc));
		return SN_E_IO;
	}
}


static void state_key(uint8_t out[8], uint64_t seq)
{
	sn_put_be64(out, seq); /* big-endian: LMDB orders the table by seq */
}

/* Schema 1 kept each account whole (record v1) under its key; schema 2 splits it into the
 * registration fields (still under the key) and the changing ones (under its seq in
 * account_state). Rewrites every account in the open transaction: all or nothing. */
static int migrate_schema1(struct store *st, MDB_txn *txn)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct store_account *all = NULL;
	size_t n = 0, cap = 0;
	int rc, err = SN_OK;

	if ((rc = mdb_cursor_open(txn, st->db_accounts, &cur)))
		return store__mdb_err(rc, "opening accounts cursor");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (n == cap) {
			struct store_account *na = sn_realloc(all, (cap = cap ? 2 * cap : 1024) * sizeof(*all));

			if (!na) {
				err = SN_E_NOMEM;
				goto out;
			}
			all = na;
		}
		if (k.mv_size != SN_PUBKEY_LEN || store_account_decode(&all[n], v.mv_data, v.mv_size)) {
			SN_LOG(SN_LOG_ERROR, "store", "schema 1 account record %zu is corrupt", n);
			err = SN_E_CORRUPT;
			goto out;
		}
		memcpy(all[n++].key, k.mv_data, SN_PUBKEY_LEN);
	}
	if (rc != MDB_NOTFOUND) {
		err = store__mdb_err(rc, "reading accounts");
		goto out;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	for (size_t i = 0; i < n && !err; i++) {
		uint8_t cold[STORE_COLD_LEN], hot[STORE_HOT_LEN], sk[8];
		MDB_val ck, cv, hk, hv;

		store__account_cold_encode(cold, &all[i]);
		store__account_hot_encode(hot, &all[i]);
		state_key(sk, all[i].seq);
		ck = store__mval(all[i].key, SN_PUBKEY_LEN);
		cv = store__mval(cold, sizeof(cold));
		hk = store__mval(sk, sizeof(sk));
		hv = store__mval(hot, sizeof(hot));
		if ((rc = mdb_put(txn, st->db_accounts, &ck, &cv, 0)) || (rc = mdb_put(txn, st->db_state, &hk, &hv, 0)))
			err = store__mdb_err(rc, "migrating accounts");
	}
	if (!err)
		SN_LOG(SN_LOG_INFO, "store", "migrated the store from schema 1 to %u (%zu accounts)", STORE_SCHEMA, n);
out:
	mdb_cursor_close(cur);
	sn_free(all);
	return err;
}

static int write_format(struct store *st, MDB_txn *txn, uint32_t chain_id)
{
	MDB_val k = store__mval(KEY_FORMAT, strlen(KEY_FORMAT)), v;
	uint8_t buf[STORE_MAGIC_LEN + 8];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));

	sn_write_bytes(&w, STORE_MAGIC, STORE_MAGIC_LEN);
	sn_write_le32(&w, STORE_SCHEMA);
	sn_write_le32(&w, chain_id);
	v = store__mval(buf, w.len);
	return store__mdb_err(mdb_put(txn, st->db_meta, &k, &v, 0), "writing format");
}

/* format: [8] magic | u32 schema | u32 chain_id */
static int store_check_format(struct store *st, MDB_txn *txn, uint32_t chain_id)
{
	MDB_val k = store__mval(KEY_FORMAT, strlen(KEY_FORMAT)), v;
	struct sn_reader r;
	uint8_t magic[STORE_MAGIC_LEN];
	uint32_t schema, stored_chain;
	int rc = mdb_get(txn, st->db_meta, &k, &v);

	if (rc == MDB_NOTFOUND)
		return write_format(st, txn, chain_id);
	if (rc)
		return store__mdb_err(rc, "reading format");
	r = sn_reader_init(v.mv_data, v.mv_size);
	sn_read_bytes(&r, magic, sizeof(magic));
	schema = sn_read_le32(&r);
	stored_chain = sn_read_le32(&r);
	if (sn_reader_finish(&r) || memcmp(magic, STORE_MAGIC, STORE_MAGIC_LEN) != 0) {
		SN_LOG(SN_LOG_ERROR, "store", "not a settled store (bad magic or format record)");
		return SN_E_CORRUPT;
	}
	if (schema > STORE_SCHEMA) {
		SN_LOG(SN_LOG_ERROR, "store",
		       "store was written by a newer settled (schema %u, this build reads up to %u)",
		       schema, STORE_SCHEMA);
		return SN_E_VERSION;
	}
	if (schema < 1) {
		SN_LOG(SN_LOG_ERROR, "store", "store schema %u is unknown", schema);
		return SN_E_VERSION;
	}
	if (stored_chain != chain_id) {
		SN_LOG(SN_LOG_ERROR, "store", "store belongs to chain id %u, not %u", stored_chain, chain_id);
		return SN_E_CHAIN;
	}
	if (schema < STORE_SCHEMA) {
		/* 1 -> 2: accounts split in two halves. 2 -> 3: the txs index in levels, whose meta
		 * record (v1 read, v2 written at its next change) a build before schema 3 cannot
		 * read: the schema says so, and such a build refuses the store as newer. */
		int err = schema == 1 ? migrate_schema1(st, txn) : SN_OK;

		if (!err && schema == 2)
			SN_LOG(SN_LOG_INFO, "store", "store schema 2 -> %u (the txs index in levels)", STORE_SCHEMA);
		return err ? err : write_format(st, txn, chain_id);
	}
	return SN_OK;
}

/* tip v1: u8 version | u64 height | [32] tip_hash | u64 tip_time_ms | [32] state_root |
 *         u64 accounts | u64 treasury | u64 min_fee | u32 max_block_txs */
void store__tip_encode(uint8_t *out, size_t cap, size_t *len, const struct store_info *in)
{
	struct sn_writer w = sn_writer_init(out, cap);

	sn_write_u8(&w, STORE_TIP_V1);
	sn_write_le64(&w, in->height);
	sn_write_bytes(&w, in->tip_hash, SN_HASH_LEN);
	sn_write_le64(&w, in->tip_time_ms);
	sn_write_bytes(&w, in->state_root, SN_HASH_LEN);
	sn_write_le64(&w, in->accounts);
	sn_write_le64(&w, in->treasury);
	sn_write_le64(&w, in->params.min_fee);
	sn_write_le32(&w, in->params.max_block_txs);
	*len = sn_writer_failed(&w) ? 0 : w.len;
}

static int tip_decode(struct store_info *info, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);

	if (sn_read_u8(&r) != STORE_TIP_V1)
		return sn_reader_failed(&r) ? SN_E_TRUNCATED : SN_E_VERSION;
	info->height = sn_read_le64(&r);
	sn_read_bytes(&r, info->tip_hash, SN_HASH_LEN);
	info->tip_time_ms = sn_read_le64(&r);
	sn_read_bytes(&r, info->state_root, SN_HASH_LEN);
	info->accounts = sn_read_le64(&r);
	info->treasury = sn_read_le64(&r);
	info->params.min_fee = sn_read_le64(&r);
	info->params.max_block_txs = sn_read_le32(&r);
	return sn_reader_finish(&r);
}

/* LMDB's default key order: bytes, then length. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

static void gov_hash_record(struct sn_hasher *h, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	uint8_t lens[6];
	struct sn_writer w = sn_writer_init(lens, sizeof(lens));

	sn_write_le16(&w, (uint16_t)klen);
	sn_write_le32(&w, (uint32_t)vlen);
	sn_hasher_update(h, lens, 2);
	sn_hasher_update(h, key, klen);
	sn_hasher_update(h, lens + 2, 4);
	sn_hasher_update(h, val, vlen);
}

/* gov_root = tagged hash over every record in key order of (u16 klen | key | u32 vlen | value). */
int store__gov_root(struct store *st, MDB_txn *txn, const struct gov_overlay *ov, size_t n, uint8_t out[SN_HASH_LEN])
{
	struct sn_hasher h;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t i = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, st->db_gov, &cur)))
		return store__mdb_err(rc, "opening governance cursor");
	sn_hasher_init(&h, "settled/gov");
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (;;) {
		bool have_db = rc == 0, have_ov = i < n;
		int c;

		if (!have_db && !have_ov)
			break;
		c = !have_db ? 1 : !have_ov ? -1 : key_cmp(k.mv_data, k.mv_size, ov[i].key, ov[i].klen);
		if (c < 0) {
			gov_hash_record(&h, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		} else {
			gov_hash_record(&h, ov[i].key, ov[i].klen, ov[i].val, ov[i].vlen);
			i++;
		}
		if (c <= 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND && rc != 0)
		return store__mdb_err(rc, "reading governance records");
	sn_hasher_final(&h, out);
	return SN_OK;
}

/* Rebuilds the deep-sum index and the Merkle tree from every account record and checks the
 * result against the stored state root. */
static int store_rebuild(struct store *st, MDB_txn *txn)
{
	uint64_t n = st->info.accounts;
	uint32_t *parent = NULL;
	uint64_t *pvol = NULL, (*state)[2] = NULL; /* by seq: balance, nonce (pvol apart) */
	uint8_t *seen = NULL;
	uint8_t(*leaves)[SN_HASH_LEN] = NULL;
	uint8_t acct_root[SN_HASH_LEN], root[SN_HASH_LEN];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t count = 0;
	int rc, err = SN_OK;

	if (n > UINT32_MAX - 1)
		return SN_E_CORRUPT;
	parent = sn_calloc(n ? n : 1, sizeof(*parent));
	pvol = sn_calloc(n ? n : 1, sizeof(*pvol));
	seen = sn_calloc(n ? n : 1, 1);
	state = sn_malloc((n ? n : 1) * sizeof(*state));
	leaves = sn_malloc((n ? n : 1) * SN_HASH_LEN);
	if (!parent || !pvol || !seen || !state || !leaves) {
		err = SN_E_NOMEM;
		goto out;
	}
	/* The changing halves first, in seq order (one sequential pass), then the records by
	 * key, each joined with its half through its seq. */
	if ((rc = mdb_cursor_open(txn, st->db_state, &cur))) {
		err = store__mdb_err(rc, "opening account state cursor");
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_account a;
		uint64_t seq = k.mv_size == 8 ? sn_get_be64(k.mv_data) : UINT64_MAX;

		if (seq >= n || seen[seq] || store__account_hot_decode(&a, v.mv_data, v.mv_size)) {
			SN_LOG(SN_LOG_ERROR, "store", "account state record %llu is corrupt", (unsigned long long)count);
			err = SN_E_CORRUPT;
			goto out;
		}
		seen[seq] = 1;
		state[seq][0] = a.balance;
		state[seq][1] = a.nonce;
		pvol[seq] = a.personal_volume;
		count++;
	}
	if (rc != MDB_NOTFOUND) {
		err = store__mdb_err(rc, "reading account state");
		goto out;
	}
	if (count != n) {
		SN_LOG(SN_LOG_ERROR, "store", "%llu account state records, tip says %llu", (unsigned long long)count,
		       (unsigned long long)n);
		err = SN_E_CORRUPT;
		goto out;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	count = 0;
	if ((rc = mdb_cursor_open(txn, st->db_accounts, &cur))) {
		err = store__mdb_err(rc, "opening accounts cursor");
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_account a;

		if (k.mv_size != SN_PUBKEY_LEN || store__account_cold_decode(&a, v.mv_data, v.mv_size) ||
		    a.seq >= n || seen[a.seq] != 1 || (a.seq && a.sponsor_seq >= a.seq)) {
			SN_LOG(SN_LOG_ERROR, "store", "account record %llu is corrupt",
			       (unsigned long long)count);
			err = SN_E_CORRUPT;
			goto out;
		}
		memcpy(a.key, k.mv_data, SN_PUBKEY_LEN);
		seen[a.seq] = 2;
		a.balance = state[a.seq][0];
		a.nonce = state[a.seq][1];
		a.personal_volume = pvol[a.seq];
		parent[a.seq] = (uint32_t)a.sponsor_seq;
		store__account_leaf(leaves[a.seq], &a);
		count++;
	}
	if (rc != MDB_NOTFOUND) {
		err = store__mdb_err(rc, "reading accounts");
		goto out;
	}
	if (count != n) {
		SN_LOG(SN_LOG_ERROR, "store", "%llu account records, tip says %llu",
		       (unsigned long long)count, (unsigned long long)n);
		err = SN_E_CORRUPT;
		goto out;
	}
	if ((err = store_deepsum_build(&st->deepsum, parent, pvol, (uint32_t)n)))
		goto out;
	st->direct_cap = (uint32_t)(n ? n : 1);
	if (!(st->direct = sn_calloc(st->direct_cap, sizeof(*st->direct)))) {
		err = SN_E_NOMEM;
		goto out;
	}
	for (uint64_t i = 1; i < n; i++)
		st->direct[parent[i]]++;
	err = store__merkle_build(&st->merkle, leaves, (uint32_t)n, (uint32_t)(n ? n : 1));
	leaves = NULL; /* owned by the tree now (freed on its error) */
	if (err)
		goto out;
	store__merkle_root(&st->merkle, acct_root);
	if ((err = store__gov_root(st, txn, NULL, 0, st->gov_root)))
		goto out;
	store__state_root(root, n, acct_root, st->info.treasury, &st->info.params, st->gov_root);
	if (st->info.has_genesis && memcmp(root, st->info.state_root, SN_HASH_LEN) != 0) {
		SN_LOG(SN_LOG_ERROR, "store", "state root of the accounts does not match the tip's");
		err = SN_E_CORRUPT;
	}
out:
	mdb_cursor_close(cur);
	sn_free(parent);
	sn_free(pvol);
	sn_free(state);
	sn_free(seen);
	sn_free(leaves);
	return err;
}

int store__indexes_reload(struct store *st)
{
	MDB_txn *txn;
	int rc, err;

	store_deepsum_free(st->deepsum);
	st->deepsum = NULL;
	store__merkle_free(&st->merkle);
	sn_free(st->direct);
	st->direct = NULL;
	st->direct_cap = 0;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
		return store__mdb_err(rc, "beginning snapshot");
	err = store_rebuild(st, txn);
	mdb_txn_abort(txn);
	return err;
}

/* How long a resize waits for the readers of the map before giving up: short reads end in
 * microseconds; a view that stays longer is a caller's (store_grow_map's contract). */
#define GROW_WAIT_MS 200

unsigned store__test_swap_delay_us;

int store__grow_map(struct store *st)
{
	MDB_envinfo ei;
	struct timespec until;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += GROW_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	if (pthread_rwlock_clockwrlock(&st->lock, CLOCK_MONOTONIC, &until) != 0) {
		SN_LOG(SN_LOG_WARN, "store", "the map is full and readers keep it: not grown yet");
		return SN_E_BUSY;
	}
	mdb_env_info(st->env, &ei);
	rc = mdb_env_set_mapsize(st->env, ei.me_mapsize * 2);
	mdb_env_info(st->env, &ei);
	pthread_rwlock_wrlock(&st->idx_lock);
	st->info.map_size = ei.me_mapsize;
	pthread_rwlock_unlock(&st->idx_lock);
	pthread_rwlock_unlock(&st->lock);
	if (rc)
		return store__mdb_err(rc, "growing the map");
	SN_LOG(SN_LOG_INFO, "store", "map grown to %llu MiB", (unsigned long long)(ei.me_mapsize >> 20));
	return SN_OK;
}

/* Holds the writer: LMDB must not remap under a write transaction (a commit's, or a commit
 * group's, which lives over several blocks), and mdb_env_set_mapsize's own check of that
 * reads env->me_txn unlocked. */
int store_grow_map(struct store *st)
{
	int err;

	pthread_mutex_lock(&st->writer);
	err = store__grow_map(st);
	pthread_mutex_unlock(&st->writer);
	return err;
}

uint64_t store__last_txnid(struct store *st)
{
	MDB_envinfo ei;

	mdb_env_info(st->env, &ei);
	return (uint64_t)ei.me_last_txnid;
}

int store_open(struct store **out, const char *path, const struct store_opts *opts)
{
	struct store *st;
	MDB_txn *txn = NULL;
	MDB_envinfo ei;
	MDB_val k, v;
	int rc, err;

	*out = NULL;
	if (!path || !opts)
		return SN_E_INVAL;
	if ((err = sn_crypto_init()))
		return err;
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		SN_LOG(SN_LOG_ERROR, "store", "cannot create %s: %s", path, strerror(errno));
		return sn_err_from_errno(errno);
	}
	st = sn_calloc(1, sizeof(*st));
	if (!st)
		return SN_E_NOMEM;
	st->lock_fd = -1;
	/* The map lock keeps glibc's default, readers first: a thread that holds a view may take
	 * it again for a short read (the mempool looks a transaction up while its view lives),
	 * which must not queue behind a resize waiting for that very view. */
	pthread_rwlock_init(&st->lock, NULL);
	{
		/* Writer first: readers hold it for moments, and a commit's in-memory update must not
		 * wait behind a stream of team queries (some of which retry until it is done). */
		pthread_rwlockattr_t a;

		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&st->idx_lock, &a);
		pthread_rwlockattr_destroy(&a);
	}
	/* One process per store: its in-memory indexes assume it is the only writer. */
	{
		char lp[4096];

		snprintf(lp, sizeof(lp), "%s/store.lock", path);
		st->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (st->lock_fd < 0) {
			err = sn_err_from_errno(errno);
			SN_LOG(SN_LOG_ERROR, "store", "cannot open %s: %s", lp, strerror(errno));
			goto fail;
		}
		if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			err = errno == EWOULDBLOCK ? SN_E_BUSY : sn_err_from_errno(errno);
			SN_LOG(SN_LOG_ERROR, "store", "%s is in use by another process", path);
			goto fail;
		}
	}
	pthread_mutex_init(&st->writer, NULL);
	st->no_sync = opts->no_sync;
	st->tx_index = !opts->no_tx_index;
	st->txgen_txs = opts->txgen_txs ? opts->txgen_txs : STORE_TXGEN_TXS;
	st->fail_commit_at = opts->fail_commit_at;
	st->info.chain_id = opts->chain_id;
	if ((rc = mdb_env_create(&st->env))) {
		err = store__mdb_err(rc, "creating environment");
		st->env = NULL;
		goto fail;
	}
	mdb_env_set_maxdbs(st->env, 32); /* 9 tables and the txs index's levels */
	mdb_env_set_maxreaders(st->env, 256);
	mdb_env_set_mapsize(st->env, opts->map_size ? opts->map_size : STORE_DEFAULT_MAP);
	rc = mdb_env_open(st->env, path, MDB_NOTLS | (opts->no_sync ? MDB_NOSYNC : 0), 0600);
	if (rc) {
		SN_LOG(SN_LOG_ERROR, "store", "cannot open %s: %s", path, mdb_strerror(rc));
		err = store__mdb_err(rc, "opening environment");
		goto fail;
	}
	mdb_env_info(st->env, &ei);
	st->info.map_size = ei.me_mapsize;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn))) {
		err = store__mdb_err(rc, "beginning open transaction");
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->db_meta)) ||
	    (rc = mdb_dbi_open(txn, "accounts", MDB_CREATE, &st->db_accounts)) ||
	    (rc = mdb_dbi_open(txn, "account_state", MDB_CREATE, &st->db_state)) ||
	    (rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &st->db_blocks)) ||
	    (rc = mdb_dbi_open(txn, "block_hash", MDB_CREATE, &st->db_block_hash)) ||
	    (rc = mdb_dbi_open(txn, "txs", MDB_CREATE, &st->db_txs)) ||
	    (rc = store__txgen_tables_open(st, txn)) ||
	    (rc = mdb_dbi_open(txn, "commits", MDB_CREATE, &st->db_commits)) ||
	    (rc = mdb_dbi_open(txn, "referrals", MDB_CREATE, &st->db_referrals)) ||
	    (rc = mdb_dbi_open(txn, "gov", MDB_CREATE, &st->db_gov))) {
		err = store__mdb_err(rc, "opening tables");
		goto fail;
	}
	if ((err = store_check_format(st, txn, opts->chain_id)))
		goto fail;
	k = store__mval(KEY_TIP, strlen(KEY_TIP));
	rc = mdb_get(txn, st->db_meta, &k, &v);
	if (rc == 0) {
		if (tip_decode(&st->info, v.mv_data, v.mv_size)) {
			SN_LOG(SN_LOG_ERROR, "store", "tip record is corrupt");
			err = SN_E_CORRUPT;
			goto fail;
		}
		st->info.has_genesis = true;
	} else if (rc != MDB_NOTFOUND) {
		err = store__mdb_err(rc, "reading tip");
		goto fail;
	}
	if ((err = store_rebuild(st, txn)))
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL; /* committed or not, it is gone */
	if (rc) {
		err = store__mdb_err(rc, "committing open transaction");
		goto fail;
	}
	if ((err = store__txgen_open(st)))
		goto fail;
	st->idx_txnid = store__last_txnid(st);
	*out = st;
	return SN_OK;
fail:
	if (txn)
		mdb_txn_abort(txn);
	store_close(st);
	return err;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->env)
		mdb_env_close(st->env);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	store_deepsum_free(st->deepsum);
	store__txmem_free(st);
	store__merkle_free(&st->merkle);
	sn_free(st->direct);
	pthread_rwlock_destroy(&st->lock);
	pthread_rwlock_destroy(&st->idx_lock);
	pthread_mutex_destroy(&st->writer);
	sn_free(st);
}

int store_status(struct store *st)
{
	return atomic_load(&st->fatal);
}

bool store_disk_full(struct store *st)
{
	return atomic_load(&st->disk_full);
}

void store__disk_full_mark(struct store *st, const char *what, const char *why)
{
	if (!atomic_exchange(&st->disk_full, true))
		SN_LOG(SN_LOG_ERROR, "store", "%s: %s: nothing written; writes resume once there is room", what, why);
}

/* Whether a write that failed with EIO most likely did for want of room: LMDB reports a
 * short write (the disk, or the file-size limit, reached in the middle of it) as EIO. So:
 * less than STORE_ROOM_MIN left on the store's file system, or its file that close to
 * ulimit -f. */
#define STORE_ROOM_MIN (64u << 20)
static bool no_room(struct store *st)
{
	mdb_filehandle_t fd;
	struct statvfs vs;
	struct stat sb;
	struct rlimit rl;

	if (mdb_env_get_fd(st->env, &fd))
		return false;
	if (fstatvfs(fd, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < STORE_ROOM_MIN)
		return true;
	return getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && fstat(fd, &sb) == 0 &&
	       (uint64_t)sb.st_size + STORE_ROOM_MIN > (uint64_t)rl.rlim_cur;
}

int store__commit_failed(struct store *st, int rc, const char *what)
{
	int err;

	if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG || (rc == EIO && no_room(st))) {
		/* Nothing was written: LMDB writes a commit's pages where the last committed tree
		 * does not point, and its meta page last (a failure there sets its own fatal flag,
		 * and the next write fails with MDB_PANIC). So the store may try again later. */
		store__disk_full_mark(st, what, rc == EIO ? "short write, no room left" : mdb_strerror(rc));
		return SN_E_DISKFULL;
	}
	err = store__mdb_err(rc, what);
	if (rc != MDB_MAP_FULL && rc != ENOMEM) {
		SN_LOG(SN_LOG_ERROR, "store", "commit failed: the store stops accepting writes");
		st->fatal = SN_E_FATAL;
	}
	return err;
}

int store__write_begin(struct store *st, MDB_txn **txn)
{
	int rc = mdb_txn_begin(st->env, NULL, 0, txn);

	if (rc == MDB_PANIC) /* an earlier commit failed writing LMDB's meta page */
		st->fatal = SN_E_FATAL;
	return rc;
}

void store__commit_succeeded(struct store *st)
{
	if (atomic_exchange(&st->disk_full, false))
		SN_LOG(SN_LOG_INFO, "store", "there is room again: writes resumed");
}

void store_info_get(struct store *st, struct store_info *out)
{
	pthread_rwlock_rdlock(&st->idx_lock);
	*out = st->info;
	pthread_rwlock_unlock(&st->idx_lock);
}

int store__snapshot_begin(struct store *st, MDB_txn **txn)
{
	for (;;) {
		int rc;

		pthread_rwlock_rdlock(&st->lock);
		if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn))) {
			pthread_rwlock_unlock(&st->lock);
			*txn = NULL;
			return store__mdb_err(rc, "beginning snapshot");
		}
		pthread_rwlock_rdlock(&st->idx_lock);
		if ((uint64_t)mdb_txn_id(*txn) == st->idx_txnid)
			return SN_OK;
		/* A commit landed in LMDB and is bringing the in-memory state along: a moment. */
		pthread_rwlock_unlock(&st->idx_lock);
		mdb_txn_abort(*txn);
		pthread_rwlock_unlock(&st->lock);
		sched_yield();
	}
}

void store__snapshot_idx_done(struct store *st)
{
	pthread_rwlock_unlock(&st->idx_lock);
}

void store__snapshot_end(struct store *st, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&st->lock);
}

/* A read at the tip: the rwlock is held for reading while the LMDB read txn lives, so the
 * map cannot be resized under it. */
static int read_begin(struct store *st, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&st->lock);
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn))) {
		pthread_rwlock_unlock(&st->lock);
		*txn = NULL;
		return store__mdb_err(rc, "beginning read");
	}
	return SN_OK;
}

static void read_end(struct store *st, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&st->lock);
}

/* The changing half of the account whose other half is in a (a->seq) into a. */
static int account_state_read(struct store *st, MDB_txn *txn, struct store_account *a)
{
	uint8_t sk[8];
	MDB_val k, v;
	int rc;

	state_key(sk, a->seq);
	k = store__mval(sk, sizeof(sk));
	if ((rc = mdb_get(txn, st->db_state, &k, &v)))
		return rc == MDB_NOTFOUND ? SN_E_CORRUPT : store__mdb_err(rc, "reading account state");
	if (store__account_hot_decode(a, v.mv_data, v.mv_size)) {
		SN_LOG(SN_LOG_ERROR, "store", "account state record is corrupt");
		return SN_E_CORRUPT;
	}
	return SN_OK;
}

int store__account_read(struct store *st, MDB_txn *txn, const uint8_t key[SN_PUBKEY_LEN],
                        struct store_account *out)
{
	MDB_val k = store__mval(key, SN_PUBKEY_LEN), v;
	int rc = mdb_get(txn, st->db_accounts, &k, &v);

	memset(out, 0, sizeof(*out));
	if (rc)
		return store__mdb_err(rc, "reading account");
	memcpy(out->key, key, SN_PUBKEY_LEN);
	if (store__account_cold_decode(out, v.mv_data, v.mv_size)) {
		SN_LOG(SN_LOG_ERROR, "store", "account record is corrupt");
		return SN_E_CORRUPT;
	}
	return account_state_read(st, txn, out);
}

int store_account_get(struct store *st, const uint8_t key[SN_PUBKEY_LEN], struct store_account *out)
{
	MDB_txn *txn;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = read_begin(st, &txn)))
		return err;
	err = store__account_read(st, txn, key, out);
	read_end(st, txn);
	return err;
}

int store_team_get(struct store *st, const uint8_t key[SN_PUBKEY_LEN], struct store_team *out)
{
	struct store_account a;
	MDB_txn *txn;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = store__snapshot_begin(st, &txn)))
		return err;
	err = store__account_read(st, txn, key, &a);
	if (!err && a.seq >= store_deepsum_count(st->deepsum))
		err = SN_E_CORRUPT;
	if (!err)
		err = store_deepsum_team(st->deepsum, (uint32_t)a.seq, &out->size, &out->volume);
	out->depth = a.depth;
	out->direct = err ? 0 : st->direct[a.seq];
	store__snapshot_idx_done(st);
	store__snapshot_end(st, txn);
	return err;
}

/* Copies the value at key in dbi into a new buffer (*out owned by the caller). */
static int get_copy(struct store *st, MDB_dbi dbi, const void *key, size_t klen, uint8_t **out, size_t *len,
                    const char *what)
{
	MDB_val k = store__mval(key, klen), v;
	MDB_txn *txn;
	int rc, err;

	*out = NULL;
	*len = 0;
	if ((err = read_begin(st, &txn)))
		return err;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc) {
		err = store__mdb_err(rc, what);
	} else if (!(*out = sn_malloc(v.mv_size ? v.mv_size : 1))) {
		err = SN_E_NOMEM;
	} else {
		memcpy(*out, v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	read_end(st, txn);
	return err;
}

int store_block_get(struct store *st, uint64_t height, uint8_t **out, size_t *len)
{
	uint8_t kb[8];

	sn_put_be64(kb, height);
	return get_copy(st, st->db_blocks, kb, sizeof(kb), out, len, "reading block");
}

int store_gov_get(struct store *st, const void *key, size_t klen, uint8_t **out, size_t *len)
{
	if (!klen || klen > STORE_GOV_KEY_MAX) {
		*out = NULL;
		*len = 0;
		return SN_E_INVAL;
	}
	return get_copy(st, st->db_gov, key, klen, out, len, "reading governance record");
}

int store_commit_get(struct store *st, uint64_t height, uint8_t **out, size_t *len)
{
	uint8_t kb[8];

	sn_put_be64(kb, height);
	return get_copy(st, st->db_commits, kb, sizeof(kb), out, len, "reading commit");
}

int store_block_height(struct store *st, const uint8_t hash[SN_HASH_LEN], uint64_t *height)
{
	MDB_val k = store__mval(hash, SN_HASH_LEN), v;
	MDB_txn *txn;
	int rc, err;

	*height = 0;
	if ((err = read_begin(st, &txn)))
		return err;
	rc = mdb_get(txn, st->db_block_hash, &k, &v);
	if (rc)
		err = store__mdb_err(rc, "reading block hash");
	else if (v.mv_size != 8)
		err = SN_E_CORRUPT;
	else
		*height = sn_get_be64(v.mv_data);
	read_end(st, txn);
	return err;
}


/* Calls fn for each record of dbi, in key order, from the first key >= start (slen bytes;
 * 0: from the first record) for as long as keys begin with start's first plen bytes, all in
 * one read transaction. Stops at fn's first non-zero return and returns it; else SN_OK or the
 * LMDB error. */
typedef int scan_fn(void *ud, MDB_txn *txn, const MDB_val *k, const MDB_val *v);

static int scan(struct store *st, MDB_dbi dbi, const void *start, size_t slen, size_t plen, scan_fn *fn, void *ud,
                const char *what)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k = store__mval(start, slen), v;
	int rc, err;

	if ((err = read_begin(st, &txn)))
		return err;
	if ((rc = mdb_cursor_open(txn, dbi, &cur))) {
		read_end(st, txn);
		return store__mdb_err(rc, "opening cursor");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, slen ? MDB_SET_RANGE : MDB_FIRST); rc == 0 && !err;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, start, plen) != 0))
			break;
		err = fn(ud, txn, &k, &v);
	}
	if (!err && rc != 0 && rc != MDB_NOTFOUND)
		err = store__mdb_err(rc, what);
	mdb_cursor_close(cur);
	read_end(st, txn);
	return err;
}

struct gov_scan {
	store_gov_fn *fn;
	void *ud;
};

static int gov_scan_one(void *ud, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	struct gov_scan *g = ud;

	(void)txn;
	return g->fn(g->ud, k->mv_data, k->mv_size, v->mv_data, v->mv_size);
}

int store_gov_foreach(struct store *st, const void *prefix, size_t plen, store_gov_fn *fn, void *ud)
{
	struct gov_scan g = { fn, ud };

	return scan(st, st->db_gov, prefix, plen, plen, gov_scan_one, &g, "iterating governance records");
}

struct referral_scan {
	const uint8_t *after;
	uint8_t (*out)[SN_PUBKEY_LEN];
	size_t max, *n;
};

static int referral_one(void *ud, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	struct referral_scan *r = ud;
	const uint8_t *child = (const uint8_t *)k->mv_data + SN_PUBKEY_LEN;

	(void)txn;
	(void)v;
	if (*r->n == r->max)
		return 1; /* enough */
	if (k->mv_size != 2 * SN_PUBKEY_LEN)
		return SN_E_CORRUPT;
	if (!r->after || memcmp(child, r->after, SN_PUBKEY_LEN) != 0)
		memcpy(r->out[(*r->n)++], child, SN_PUBKEY_LEN);
	return 0;
}

int store_referrals_list(struct store *st, const uint8_t key[SN_PUBKEY_LEN], const uint8_t *after,
                         uint8_t (*out)[SN_PUBKEY_LEN], size_t max, size_t *n)
{
	uint8_t kb[2 * SN_PUBKEY_LEN];
	struct referral_scan r = { after, out, max, n };
	int err;

	*n = 0;
	memcpy(kb, key, SN_PUBKEY_LEN);
	if (after)
		memcpy(kb + SN_PUBKEY_LEN, after, SN_PUBKEY_LEN);
	else
		memset(kb + SN_PUBKEY_LEN, 0, SN_PUBKEY_LEN);
	err = scan(st, st->db_referrals, kb, sizeof(kb), SN_PUBKEY_LEN, referral_one, &r, "listing referrals");
	return err > 0 ? SN_OK : err;
}

struct account_scan {
	struct store *st;
	store_account_fn *fn;
	void *ud;
};

static int account_one(void *ud, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	struct account_scan *s = ud;
	struct store_account a;
	int err;

	memset(&a, 0, sizeof(a));
	if (k->mv_size != SN_PUBKEY_LEN || store__account_cold_decode(&a, v->mv_data, v->mv_size))
		return SN_E_CORRUPT;
	memcpy(a.key, k->mv_data, SN_PUBKEY_LEN);
	if ((err = account_state_read(s->st, txn, &a)))
		return err;
	return s->fn(s->ud, &a);
}

int store_account_foreach(struct store *st, store_account_fn *fn, void *ud)
{
	struct account_scan s = { st, fn, ud };

	return scan(st, st->db_accounts, NULL, 0, 0, account_one, &s, "iterating accounts");
}
