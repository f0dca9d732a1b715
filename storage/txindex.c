/* storage/txindex.c — the index of committed transactions by id, in generations
 * (docs/storage.md, "The txs index").
 *
 * A B-tree keyed by random 32-byte ids rewrites a page of its own for nearly every insert once
 * it is larger than a block, however the inserts are batched. So the ids of recent blocks are
 * kept in memory (rebuilt from the blocks at open), and every ~txgen_txs of them are written
 * at once, sorted, as a new *generation*: keys `u32 gen (big-endian) | id` appended to the
 * `txgen` table, whose pages then fill one after the other. A lookup tries memory, then each
 * generation from the newest, then the `txs` table that stores written before generations
 * existed keep. The meta record `txgen` says where the written part ends. */
#include "storage/store_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY_TXGEN "txgen"
#define TXGEN_REC_LEN (1 + 4 + 8)
#define TXGEN_KEY_LEN (4 + SN_HASH_LEN)
#define TXLOC_LEN 13

/* ---------------------------------------------------------------- memory */

_Static_assert(sizeof(((struct store_txmem *)0)->hash_key) == crypto_shorthash_KEYBYTES, "siphash key");

/* Ids are hashes, but a sender can grind them: a keyed hash keeps the probes short. */
static uint32_t mem_hash(const struct store_txmem *m, const uint8_t id[SN_HASH_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];

	crypto_shorthash(h, id, SN_HASH_LEN, m->hash_key);
	return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

const struct store_txmem_ent *store__txmem_find(const struct store *st, const uint8_t id[SN_HASH_LEN])
{
	const struct store_txmem *m = &st->txmem;
	uint32_t mask = (uint32_t)m->n_slots - 1;

	if (!m->n_slots)
		return NULL;
	for (uint32_t i = mem_hash(m, id) & mask;; i = (i + 1) & mask) {
		uint32_t s = m->slots[i];

		if (!s)
			return NULL;
		if (memcmp(m->ent[s - 1].id, id, SN_HASH_LEN) == 0)
			return &m->ent[s - 1];
	}
}

int store__txmem_reserve(struct store *st, size_t more)
{
	struct store_txmem *m = &st->txmem;
	size_t need = m->n + more, slots = m->n_slots ? m->n_slots : 1024;

	if (need > UINT32_MAX - 1)
		return SN_E_NOMEM;
	if (need > m->cap) {
		size_t cap = m->cap ? m->cap : 1024;
		struct store_txmem_ent *e;

		while (cap < need)
			cap *= 2;
		if (!(e = sn_realloc(m->ent, cap * sizeof(*e))))
			return SN_E_NOMEM;
		m->ent = e;
		m->cap = cap;
	}
	while (slots < 2 * need)
		slots *= 2;
	if (slots != m->n_slots) {
		uint32_t *s = sn_calloc(slots, sizeof(*s)), mask = (uint32_t)slots - 1;

		if (!s)
			return SN_E_NOMEM;
		for (size_t k = 0; k < m->n; k++) {
			uint32_t i = mem_hash(m, m->ent[k].id) & mask;

			while (s[i])
				i = (i + 1) & mask;
			s[i] = (uint32_t)k + 1;
		}
		sn_free(m->slots);
		m->slots = s;
		m->n_slots = slots;
	}
	return SN_OK;
}

void store__txmem_add(struct store *st, const uint8_t id[SN_HASH_LEN], uint64_t height, uint32_t index)
{
	struct store_txmem *m = &st->txmem;
	uint32_t mask = (uint32_t)m->n_slots - 1, i = mem_hash(m, id) & mask;
	struct store_txmem_ent *e = &m->ent[m->n];

	memcpy(e->id, id, SN_HASH_LEN);
	e->height = height;
	e->index = index;
	while (m->slots[i])
		i = (i + 1) & mask;
	m->slots[i] = (uint32_t)++m->n;
}

void store__txmem_clear(struct store *st)
{
	struct store_txmem *m = &st->txmem;

	if (m->n_slots)
		memset(m->slots, 0, m->n_slots * sizeof(*m->slots));
	m->n = 0;
}

void store__txmem_free(struct store *st)
{
	sn_free(st->txmem.ent);
	sn_free(st->txmem.slots);
	st->txmem.ent = NULL;
	st->txmem.slots = NULL;
	st->txmem.n = st->txmem.cap = st->txmem.n_slots = 0;
}

/* ---------------------------------------------------------------- generations */

static int cmp_ent(const void *x, const void *y)
{
	return memcmp(((const struct store_txmem_ent *)x)->id, ((const struct store_txmem_ent *)y)->id, SN_HASH_LEN);
}

static void txgen_rec(uint8_t rec[TXGEN_REC_LEN], uint32_t next_gen, uint64_t next_height)
{
	struct sn_writer w = sn_writer_init(rec, TXGEN_REC_LEN);

	sn_write_u8(&w, 1);
	sn_write_le32(&w, next_gen);
	sn_write_le64(&w, next_height);
}

int store__txgen_write(struct store *st, MDB_txn *txn, const struct store_txmem_ent *extra, size_t n_extra,
                       uint64_t through)
{
	size_t n = st->txmem.n + n_extra;
	struct store_txmem_ent *all = sn_malloc((n ? n : 1) * sizeof(*all));
	uint8_t key[TXGEN_KEY_LEN], rec[TXGEN_REC_LEN];
	MDB_cursor *c;
	int rc;

	if (!all)
		return ENOMEM;
	if (st->txmem.n)
		memcpy(all, st->txmem.ent, st->txmem.n * sizeof(*all));
	if (n_extra)
		memcpy(all + st->txmem.n, extra, n_extra * sizeof(*all));
	if (n)
		qsort(all, n, sizeof(*all), cmp_ent);
	sn_put_be32(key, st->txgen_next);
	if ((rc = mdb_cursor_open(txn, st->db_txgen, &c))) {
		sn_free(all);
		return rc;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		uint8_t loc[TXLOC_LEN];
		struct sn_writer lw = sn_writer_init(loc, sizeof(loc));
		MDB_val k = store__mval(key, sizeof(key)), v = store__mval(loc, sizeof(loc));

		if (i && memcmp(all[i].id, all[i - 1].id, SN_HASH_LEN) == 0)
			continue; /* cannot happen (a nonce is spent once); MDB_APPEND would refuse it */
		memcpy(key + 4, all[i].id, SN_HASH_LEN);
		sn_write_u8(&lw, 1);
		sn_write_le64(&lw, all[i].height);
		sn_write_le32(&lw, all[i].index);
		rc = mdb_cursor_put(c, &k, &v, MDB_APPEND);
	}
	mdb_cursor_close(c);
	sn_free(all);
	if (rc)
		return rc;
	txgen_rec(rec, st->txgen_next + 1, through + 1);
	{
		MDB_val k = store__mval(KEY_TXGEN, strlen(KEY_TXGEN)), v = store__mval(rec, sizeof(rec));

		return mdb_put(txn, st->db_meta, &k, &v, 0);
	}
}

void store__txgen_written(struct store *st, uint64_t through)
{
	store__txmem_clear(st);
	st->txgen_next++;
	st->txgen_height = through + 1;
}

/* ---------------------------------------------------------------- open */

/* The meta record, or for a store from before generations one that says every committed
 * block is in `txs` (all of them were indexed there), or up to the gap such a store recorded
 * while it ran without the index ("txidx_from"), which goes away. An LMDB return code. */
static int txgen_meta(struct store *st, MDB_txn *txn)
{
	MDB_val k = store__mval(KEY_TXGEN, strlen(KEY_TXGEN)), v, ov;
	MDB_val ok = store__mval(STORE_KEY_TXIDX_FROM, strlen(STORE_KEY_TXIDX_FROM));
	uint8_t rec[TXGEN_REC_LEN];
	struct sn_reader r;
	int rc = mdb_get(txn, st->db_meta, &k, &v);

	if (rc == 0) {
		r = sn_reader_init(v.mv_data, v.mv_size);
		if (sn_read_u8(&r) != 1)
			return MDB_CORRUPTED;
		st->txgen_next = sn_read_le32(&r);
		st->txgen_height = sn_read_le64(&r);
		return sn_reader_finish(&r) ? MDB_CORRUPTED : 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	st->txgen_next = 0;
	st->txgen_height = st->info.has_genesis ? st->info.height + 1 : 0;
	if ((rc = mdb_get(txn, st->db_meta, &ok, &ov)) == 0) {
		r = sn_reader_init(ov.mv_data, ov.mv_size);
		if (sn_read_u8(&r) != 1)
			return MDB_CORRUPTED;
		st->txgen_height = sn_read_le64(&r);
		if (sn_reader_finish(&r))
			return MDB_CORRUPTED;
		if ((rc = mdb_del(txn, st->db_meta, &ok, NULL)))
			return rc;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	txgen_rec(rec, st->txgen_next, st->txgen_height);
	v = store__mval(rec, sizeof(rec));
	return mdb_put(txn, st->db_meta, &k, &v, 0);
}

/* One step of the rebuild in txn: the transactions of blocks from *h on into memory, and
 * whenever memory holds txgen_txs of them, a generation. Stops after writing one (so that the
 * caller commits it) or at the tip. An LMDB return code; MDB_CORRUPTED for a block that does
 * not decode. */
static int rebuild_step(struct store *st, MDB_txn *txn, uint64_t *h, bool *wrote)
{
	*wrote = false;
	for (; st->info.has_genesis && *h <= st->info.height; (*h)++) {
		uint8_t hb[8], id[SN_HASH_LEN];
		MDB_val bk = store__mval(hb, 8), bv;
		struct store_block b;
		size_t pos = 0, len;
		const uint8_t *tx;
		int rc;

		sn_put_be64(hb, *h);
		if ((rc = mdb_get(txn, st->db_blocks, &bk, &bv)))
			return rc;
		if (store_block_decode(&b, bv.mv_data, bv.mv_size))
			return MDB_CORRUPTED;
		if (store__txmem_reserve(st, b.hdr.tx_count))
			return ENOMEM;
		for (uint32_t i = 0; store_block_next_tx(&b, &pos, &tx, &len); i++) {
			store_tx_id(id, tx, len);
			store__txmem_add(st, id, *h, i);
		}
		if (st->txmem.n >= st->txgen_txs) {
			*wrote = true;
			return store__txgen_write(st, txn, NULL, 0, (*h)++);
		}
	}
	return 0;
}

int store__txgen_open(struct store *st)
{
	uint64_t t0 = sn_time_mono_ns(), h, gens = 0;
	MDB_txn *txn;
	bool wrote = true;
	int rc, err;

	crypto_shorthash_keygen(st->txmem.hash_key);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
		return store__mdb_err(rc, "opening the txs index");
	if ((rc = txgen_meta(st, txn))) {
		mdb_txn_abort(txn);
		if (rc == MDB_CORRUPTED) {
			SN_LOG(SN_LOG_ERROR, "store", "the txs index's meta record is corrupt");
			return SN_E_CORRUPT;
		}
		return store__mdb_err(rc, "opening the txs index");
	}
	if ((rc = mdb_txn_commit(txn))) /* which frees txn, failing or not */
		return store__mdb_err(rc, "opening the txs index");
	if (!st->tx_index)
		return SN_OK;
	/* Memory gets the transactions of the blocks after the written part; a step that writes a
	 * generation is committed (so a crash keeps it), growing the map when it fills. */
	h = st->txgen_height;
	while (wrote) {
		uint32_t gen0 = st->txgen_next;
		uint64_t h0 = h, height0 = st->txgen_height;

		if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
			return store__mdb_err(rc, "rebuilding the txs index");
		rc = rebuild_step(st, txn, &h, &wrote);
		if (!rc && wrote) {
			rc = mdb_txn_commit(txn);
			if (!rc) {
				store__txgen_written(st, h - 1);
				gens++;
				continue;
			}
		} else {
			mdb_txn_abort(txn);
		}
		if (rc == MDB_MAP_FULL) { /* again from where the step began */
			store__txmem_clear(st);
			st->txgen_next = gen0;
			st->txgen_height = height0;
			h = h0;
			wrote = true;
			if ((err = store__grow_map(st)))
				return err;
			continue;
		}
		if (rc) {
			SN_LOG(SN_LOG_ERROR, "store", "rebuilding the txs index: %s",
			       rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
			if (rc == MDB_CORRUPTED || rc == ENOMEM)
				return rc == ENOMEM ? SN_E_NOMEM : SN_E_CORRUPT;
			return store__mdb_err(rc, "rebuilding the txs index");
		}
	}
	if (gens || st->txmem.n)
		SN_LOG(SN_LOG_INFO, "store",
		       "txs index: %zu transactions of blocks %llu..%llu in memory, %llu generations written, "
		       "in %.1f s",
		       st->txmem.n, (unsigned long long)st->txgen_height, (unsigned long long)st->info.height,
		       (unsigned long long)gens, (double)(sn_time_mono_ns() - t0) / 1e9);
	return SN_OK;
}

/* ---------------------------------------------------------------- lookups */

static int loc_decode(const MDB_val *v, uint64_t *height, uint32_t *index)
{
	struct sn_reader r = sn_reader_init(v->mv_data, v->mv_size);

	if (sn_read_u8(&r) != 1)
		return SN_E_CORRUPT;
	*height = sn_read_le64(&r);
	*index = sn_read_le32(&r);
	return sn_reader_finish(&r) ? SN_E_CORRUPT : SN_OK;
}

int store_tx_locate(struct store *st, const uint8_t id[SN_HASH_LEN], uint64_t *height, uint32_t *index)
{
	const struct store_txmem_ent *e;
	uint8_t key[TXGEN_KEY_LEN];
	MDB_val k, v;
	MDB_txn *txn;
	uint32_t gens;
	int rc, err;

	*height = 0;
	*index = 0;
	if ((err = store__snapshot_begin(st, &txn)))
		return err;
	if ((e = store__txmem_find(st, id))) {
		*height = e->height;
		*index = e->index;
		store__snapshot_idx_done(st);
		store__snapshot_end(st, txn);
		return SN_OK;
	}
	gens = st->txgen_next;
	store__snapshot_idx_done(st);
	memcpy(key + 4, id, SN_HASH_LEN);
	k = store__mval(key, sizeof(key));
	rc = MDB_NOTFOUND;
	for (uint32_t g = gens; g-- > 0 && rc == MDB_NOTFOUND;) {
		sn_put_be32(key, g);
		rc = mdb_get(txn, st->db_txgen, &k, &v);
	}
	if (rc == MDB_NOTFOUND) { /* written before generations existed */
		k = store__mval(id, SN_HASH_LEN);
		rc = mdb_get(txn, st->db_txs, &k, &v);
	}
	err = rc ? store__mdb_err(rc, "reading tx") : loc_decode(&v, height, index);
	store__snapshot_end(st, txn);
	return err;
}

int store_tx_index_gap(struct store *st, uint64_t *from)
{
	int err = SN_E_NOTFOUND;

	*from = 0;
	pthread_rwlock_rdlock(&st->idx_lock);
	if (!st->tx_index && st->info.has_genesis && st->txgen_height <= st->info.height) {
		*from = st->txgen_height;
		err = SN_OK;
	}
	pthread_rwlock_unlock(&st->idx_lock);
	return err;
}
