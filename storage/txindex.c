/* storage/txindex.c — the index of committed transactions by id, in generations merged level
 * by level (docs/storage.md, "The txs index").
 *
 * A B-tree keyed by random 32-byte ids rewrites a page of its own for nearly every insert once
 * it is larger than a block, however the inserts are batched. So the ids of recent blocks are
 * kept in memory (rebuilt from the blocks at open), and every ~txgen_txs of them are written
 * at once, sorted, as a new *generation*: keys `u32 gen (big-endian) | id` appended to the
 * `txgen` table, whose pages then fill one after the other. A lookup that misses memory costs
 * a descent per live generation, so, as in an LSM tree, STORE_TXGEN_FANIN generations of a
 * level are merged into one of the next level (its own table, `txgen<l>`), a bounded step per
 * commit, and the sources deleted after, also in steps: the live generations stay
 * O(FANIN * log_FANIN(transactions / txgen_txs)). The meta record `txgen` says where the
 * written part ends and where each merge and deletion stands; it is written in the LMDB
 * transaction of the data it describes. A lookup tries memory, then the live generations from
 * the newest, then the `txs` table that stores written before generations existed keep. */
#include "storage/store_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_TXGEN "txgen"
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

/* ---------------------------------------------------------------- the meta record */

bool store__test_txgen_merge_off;

static bool level_empty(const struct store_txgen_level *lv)
{
	return !lv->dead && !lv->first && !lv->next && !lv->n_src;
}

/* v2, little-endian: u8 2 | u64 next_height | u8 levels (1..STORE_TXGEN_LEVELS) |
 *   levels x ( u32 dead | u32 first | u32 next | u8 n_src |
 *              with n_src: u8 started (0 or 1) | with started: [32] last )
 * The levels after those written are empty (all zero); the last one written is not, unless
 * it is level 0 alone, so that each state has one encoding. n_src is 0 or 2..SRC_MAX and
 * first + n_src <= next; the top level never merges.
 * v1 (before levels, read only): u8 1 | u32 next_gen | u64 next_height: level 0 holds
 * generations 0 .. next_gen-1, and there is nothing else. */
void store__txgen_encode(uint8_t out[STORE_TXGEN_REC_MAX], size_t *len, const struct store_txgen *s)
{
	struct sn_writer w = sn_writer_init(out, STORE_TXGEN_REC_MAX);
	unsigned n = STORE_TXGEN_LEVELS;

	while (n > 1 && level_empty(&s->lvl[n - 1]))
		n--;
	sn_write_u8(&w, STORE_TXGEN_V2);
	sn_write_le64(&w, s->next_height);
	sn_write_u8(&w, (uint8_t)n);
	for (unsigned l = 0; l < n; l++) {
		const struct store_txgen_level *lv = &s->lvl[l];

		sn_write_le32(&w, lv->dead);
		sn_write_le32(&w, lv->first);
		sn_write_le32(&w, lv->next);
		sn_write_u8(&w, lv->n_src);
		if (!lv->n_src)
			continue;
		sn_write_u8(&w, lv->started);
		if (lv->started)
			sn_write_bytes(&w, lv->last, SN_HASH_LEN);
	}
	*len = w.len; /* cannot fail: STORE_TXGEN_REC_MAX is the longest */
}

/* Whether a decoded state can be: the invariants of struct store_txgen_level. */
static bool txgen_valid(const struct store_txgen *s, unsigned n)
{
	if (n > 1 && level_empty(&s->lvl[n - 1]))
		return false; /* not canonical */
	for (unsigned l = 0; l < n; l++) {
		const struct store_txgen_level *lv = &s->lvl[l];

		if (lv->dead > lv->first || lv->first > lv->next)
			return false;
		if (lv->n_src && (lv->n_src < 2 || lv->n_src > STORE_TXGEN_SRC_MAX ||
		                  (uint64_t)lv->first + lv->n_src > lv->next || l + 1 >= STORE_TXGEN_LEVELS))
			return false;
	}
	return true;
}

int store__txgen_decode(struct store_txgen *s, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t version, n;
	int err;

	memset(s, 0, sizeof(*s));
	version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (version == STORE_TXGEN_V1) {
		s->lvl[0].next = sn_read_le32(&r);
		s->next_height = sn_read_le64(&r);
		return sn_reader_finish(&r);
	}
	if (version != STORE_TXGEN_V2)
		return SN_E_VERSION;
	s->next_height = sn_read_le64(&r);
	n = sn_read_u8(&r);
	if (!sn_reader_failed(&r) && (n < 1 || n > STORE_TXGEN_LEVELS))
		return SN_E_CORRUPT;
	for (unsigned l = 0; l < n && !sn_reader_failed(&r); l++) {
		struct store_txgen_level *lv = &s->lvl[l];
		uint8_t started;

		lv->dead = sn_read_le32(&r);
		lv->first = sn_read_le32(&r);
		lv->next = sn_read_le32(&r);
		lv->n_src = sn_read_u8(&r);
		if (!lv->n_src)
			continue;
		started = sn_read_u8(&r);
		if (started > 1)
			return SN_E_CORRUPT;
		lv->started = started;
		if (started)
			sn_read_bytes(&r, lv->last, SN_HASH_LEN);
	}
	if ((err = sn_reader_finish(&r)))
		return err;
	return txgen_valid(s, n) ? SN_OK : SN_E_CORRUPT;
}

uint64_t store__txgen_live(const struct store_txgen *s)
{
	uint64_t n = 0;

	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++)
		n += s->lvl[l].next - s->lvl[l].first;
	return n;
}

void store__txgen_get(struct store *st, struct store_txgen *out)
{
	pthread_rwlock_rdlock(&st->idx_lock);
	*out = st->txgen;
	pthread_rwlock_unlock(&st->idx_lock);
}

static int txgen_put_meta(struct store *st, MDB_txn *txn, const struct store_txgen *s)
{
	uint8_t rec[STORE_TXGEN_REC_MAX];
	size_t len;
	MDB_val k = store__mval(KEY_TXGEN, strlen(KEY_TXGEN)), v;

	store__txgen_encode(rec, &len, s);
	v = store__mval(rec, len);
	return mdb_put(txn, st->db_meta, &k, &v, 0);
}

/* ---------------------------------------------------------------- generations */

int store__txgen_tables_open(struct store *st, MDB_txn *txn)
{
	int rc = 0;

	for (unsigned l = 0; l < STORE_TXGEN_LEVELS && !rc; l++) {
		char name[16];

		if (l)
			snprintf(name, sizeof(name), "txgen%u", l);
		else
			snprintf(name, sizeof(name), "txgen");
		rc = mdb_dbi_open(txn, name, MDB_CREATE, &st->db_txgen[l]);
	}
	return rc;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int cmp_ent(const void *x, const void *y)
{
	return memcmp(((const struct store_txmem_ent *)x)->id, ((const struct store_txmem_ent *)y)->id, SN_HASH_LEN);
}

bool store__txgen_due(const struct store *st, size_t n)
{
	return n && st->txmem.n + n >= st->txgen_txs;
}

/* Memory's entries and extra, sorted, as generation s->lvl[0].next (appended: it is the
 * newest of table txgen); s then says that blocks up to through are written. */
static int gen_flush(struct store *st, MDB_txn *txn, struct store_txgen *s, const struct store_txmem_ent *extra,
                     size_t n_extra, uint64_t through)
{
	size_t n = st->txmem.n + n_extra;
	struct store_txmem_ent *all = sn_malloc((n ? n : 1) * sizeof(*all));
	uint8_t key[TXGEN_KEY_LEN];
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
	sn_put_be32(key, s->lvl[0].next);
	if ((rc = mdb_cursor_open(txn, st->db_txgen[0], &c))) {
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
		return rc == MDB_KEYEXIST ? MDB_CORRUPTED : rc; /* a key past the newest generation */
	s->lvl[0].next++;
	s->next_height = through + 1;
	return 0;
}

/* A source of a merge: a cursor over one generation. */
struct merge_src {
	MDB_cursor *c;
	MDB_val k, v;
	bool live; /* k, v are an entry of the generation */
};

/* Positions src on the first entry of generation gen at or after id (a cursor op's code). */
static int src_seek(struct merge_src *src, const uint8_t gen[4], const uint8_t id[SN_HASH_LEN], MDB_cursor_op op)
{
	uint8_t key[TXGEN_KEY_LEN];
	int rc;

	memcpy(key, gen, 4);
	memcpy(key + 4, id, SN_HASH_LEN);
	src->k = store__mval(key, sizeof(key));
	rc = mdb_cursor_get(src->c, &src->k, &src->v, op);
	src->live = rc == 0 && src->k.mv_size >= 4 && memcmp(src->k.mv_data, gen, 4) == 0;
	if (src->live && (src->k.mv_size != TXGEN_KEY_LEN || src->v.mv_size != TXLOC_LEN))
		return MDB_CORRUPTED;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static const uint8_t *src_id(const struct merge_src *src)
{
	return (const uint8_t *)src->k.mv_data + 4;
}

/* One step of level l's merge: up to budget entries of its sources, in id order, appended to
 * its destination (the newest generation of table l+1, so MDB_APPEND fills page after page),
 * resuming after s's `last`. An id in two sources (it cannot be: a nonce is spent once) is
 * taken from the newest, as a lookup finds it. Once every source is through, the destination
 * becomes live and the sources dead. An LMDB return code. */
static int merge_step(struct store *st, MDB_txn *txn, struct store_txgen *s, unsigned l, size_t budget)
{
	struct store_txgen_level *lv = &s->lvl[l], *up = &s->lvl[l + 1];
	struct merge_src src[STORE_TXGEN_SRC_MAX];
	static const uint8_t zero[SN_HASH_LEN];
	uint8_t gens[STORE_TXGEN_SRC_MAX][4], key[TXGEN_KEY_LEN], last[SN_HASH_LEN];
	MDB_cursor *out = NULL;
	unsigned n = lv->n_src, opened = 0;
	size_t moved = 0;
	bool any = false;
	int rc = 0;

	for (; opened < n && !rc; opened++) {
		struct merge_src *sc = &src[opened];

		sn_put_be32(gens[opened], lv->first + opened);
		if ((rc = mdb_cursor_open(txn, st->db_txgen[l], &sc->c)))
			break;
		rc = src_seek(sc, gens[opened], lv->started ? lv->last : zero, MDB_SET_RANGE);
		if (!rc && sc->live && lv->started && memcmp(src_id(sc), lv->last, SN_HASH_LEN) == 0)
			rc = src_seek(sc, gens[opened], zero, MDB_NEXT); /* written before */
	}
	if (rc)
		goto out;
	sn_put_be32(key, up->next);
	if ((rc = mdb_cursor_open(txn, st->db_txgen[l + 1], &out)))
		goto out;
	if (lv->started) { /* the destination must end where the record says */
		MDB_val k, v;

		if ((rc = mdb_cursor_get(out, &k, &v, MDB_LAST)) ||
		    (k.mv_size != TXGEN_KEY_LEN || memcmp(k.mv_data, key, 4) != 0 ||
		     memcmp((const uint8_t *)k.mv_data + 4, lv->last, SN_HASH_LEN) != 0)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
	}
	memcpy(last, lv->last, SN_HASH_LEN);
	while (moved < budget) {
		uint8_t loc[TXLOC_LEN];
		int best = -1;
		MDB_val k = store__mval(key, sizeof(key)), v = store__mval(loc, sizeof(loc));

		for (unsigned i = 0; i < n; i++) /* later sources are newer: they win a tie */
			if (src[i].live && (best < 0 || memcmp(src_id(&src[i]), src_id(&src[best]), SN_HASH_LEN) <= 0))
				best = (int)i;
		if (best < 0)
			break;
		memcpy(last, src_id(&src[best]), SN_HASH_LEN); /* copied: the puts below may move pages */
		memcpy(loc, src[best].v.mv_data, TXLOC_LEN);
		memcpy(key + 4, last, SN_HASH_LEN);
		if ((rc = mdb_cursor_put(out, &k, &v, MDB_APPEND))) {
			if (rc == MDB_KEYEXIST)
				rc = MDB_CORRUPTED; /* table l+1 holds a key past the destination */
			goto out;
		}
		moved++;
		for (unsigned i = 0; i < n && !rc; i++)
			if (src[i].live && memcmp(src_id(&src[i]), last, SN_HASH_LEN) == 0)
				rc = src_seek(&src[i], gens[i], zero, MDB_NEXT);
		if (rc)
			goto out;
	}
	for (unsigned i = 0; i < n; i++)
		any |= src[i].live;
	if (any) {
		lv->started = lv->started || moved;
		memcpy(lv->last, last, SN_HASH_LEN);
	} else { /* complete: the destination is live, the sources are to be deleted */
		lv->first += lv->n_src;
		lv->n_src = 0;
		lv->started = false;
		memset(lv->last, 0, SN_HASH_LEN);
		up->next++;
	}
out:
	mdb_cursor_close(out);
	for (unsigned i = 0; i < opened; i++)
		mdb_cursor_close(src[i].c);
	return rc;
}

/* One step of deleting level l's dead generations (up to budget entries, from the front of
 * its table: they are its oldest). An LMDB return code. */
static int purge_step(struct store *st, MDB_txn *txn, struct store_txgen_level *lv, unsigned l, size_t budget)
{
	uint8_t key[TXGEN_KEY_LEN] = { 0 };
	MDB_val k = store__mval(key, sizeof(key)), v;
	MDB_cursor *c;
	size_t deleted = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, st->db_txgen[l], &c)))
		return rc;
	sn_put_be32(key, lv->dead);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		uint32_t gen;

		if (k.mv_size != TXGEN_KEY_LEN) {
			rc = MDB_CORRUPTED;
			break;
		}
		gen = get_be32(k.mv_data);
		if (gen >= lv->first) {
			rc = MDB_NOTFOUND; /* the dead ones are gone */
			break;
		}
		if (deleted == budget) {
			lv->dead = gen;
			break;
		}
		if ((rc = mdb_cursor_del(c, 0))) /* the cursor then stands on the next entry, which MDB_NEXT gives */
			break;
		deleted++;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		lv->dead = lv->first;
		rc = 0;
	}
	return rc;
}

/* Entries each merge moves, and each purge deletes, per commit: at least a quarter of a
 * generation, so that a backlog is worked off between blocks at the tip at a few ms a
 * commit; and twice what the commit adds, so that merges keep pace with any rate of
 * transactions (each passes through every level: see docs/storage.md). */
static size_t step_budget(const struct store *st, uint64_t txs)
{
	size_t b = st->txgen_txs / 4;

	if (txs > SIZE_MAX / 4)
		txs = SIZE_MAX / 4;
	if (b < 2 * (size_t)txs)
		b = 2 * (size_t)txs;
	return b ? b : 1;
}

int store__txgen_commit(struct store *st, MDB_txn *txn, struct store_txgen *next, bool flush,
                        const struct store_txmem_ent *extra, size_t n_extra, uint64_t through, uint64_t txs)
{
	size_t budget = step_budget(st, txs);
	bool changed = flush;
	int rc;

	*next = st->txgen; /* the writer's own: no lock needed to read it */
	if (flush && (rc = gen_flush(st, txn, next, extra, n_extra, through)))
		return rc;
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS && !store__test_txgen_merge_off; l++) {
		struct store_txgen_level *lv = &next->lvl[l];

		if (lv->dead < lv->first) {
			if ((rc = purge_step(st, txn, lv, l, budget)))
				return rc;
			changed = true;
		}
		if (!lv->n_src && l + 1 < STORE_TXGEN_LEVELS && lv->next - lv->first >= STORE_TXGEN_FANIN) {
			lv->n_src = STORE_TXGEN_FANIN; /* the oldest live ones */
			lv->started = false;
			changed = true;
		}
		if (lv->n_src) {
			if ((rc = merge_step(st, txn, next, l, budget)))
				return rc;
			changed = true;
		}
	}
	return changed ? txgen_put_meta(st, txn, next) : 0;
}

void store__txgen_committed(struct store *st, const struct store_txgen *next, bool flushed)
{
	if (flushed)
		store__txmem_clear(st);
	st->txgen = *next;
}

/* ---------------------------------------------------------------- open */

/* The meta record, or for a store from before generations one that says every committed
 * block is in `txs` (all of them were indexed there), or up to the gap such a store recorded
 * while it ran without the index ("txidx_from"), which goes away. An LMDB return code;
 * *bad gets the decoder's error for a record that does not decode. */
static int txgen_meta(struct store *st, MDB_txn *txn, int *bad)
{
	MDB_val k = store__mval(KEY_TXGEN, strlen(KEY_TXGEN)), v, ov;
	MDB_val ok = store__mval(STORE_KEY_TXIDX_FROM, strlen(STORE_KEY_TXIDX_FROM));
	struct sn_reader r;
	int rc = mdb_get(txn, st->db_meta, &k, &v);

	*bad = SN_OK;
	if (rc == 0) {
		*bad = store__txgen_decode(&st->txgen, v.mv_data, v.mv_size);
		return *bad ? MDB_CORRUPTED : 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	memset(&st->txgen, 0, sizeof(st->txgen));
	st->txgen.next_height = st->info.has_genesis ? st->info.height + 1 : 0;
	if ((rc = mdb_get(txn, st->db_meta, &ok, &ov)) == 0) {
		r = sn_reader_init(ov.mv_data, ov.mv_size);
		if (sn_read_u8(&r) != 1)
			return MDB_CORRUPTED;
		st->txgen.next_height = sn_read_le64(&r);
		if (sn_reader_finish(&r))
			return MDB_CORRUPTED;
		if ((rc = mdb_del(txn, st->db_meta, &ok, NULL)))
			return rc;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	return txgen_put_meta(st, txn, &st->txgen);
}

/* One step of the rebuild in txn: the transactions of blocks from *h on into memory, and
 * whenever memory holds txgen_txs of them, a generation (with a step of the merges, as any
 * commit does), whose state goes to *next. Stops after writing one (so that the caller
 * commits it) or at the tip. An LMDB return code; MDB_CORRUPTED for a block that does not
 * decode. */
static int rebuild_step(struct store *st, MDB_txn *txn, uint64_t *h, bool *wrote, struct store_txgen *next)
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
			return store__txgen_commit(st, txn, next, true, NULL, 0, (*h)++, st->txmem.n);
		}
	}
	return 0;
}

int store__txgen_open(struct store *st)
{
	uint64_t t0 = sn_time_mono_ns(), h, gens = 0;
	struct store_txgen next;
	MDB_txn *txn;
	bool wrote = true;
	int rc, err, bad;

	crypto_shorthash_keygen(st->txmem.hash_key);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
		return store__mdb_err(rc, "opening the txs index");
	if ((rc = txgen_meta(st, txn, &bad))) {
		mdb_txn_abort(txn);
		if (rc == MDB_CORRUPTED) {
			SN_LOG(SN_LOG_ERROR, "store", "the txs index's meta record is corrupt (%s)", sn_errname(bad));
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
	h = st->txgen.next_height;
	while (wrote) {
		uint64_t h0 = h;

		if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
			return store__mdb_err(rc, "rebuilding the txs index");
		rc = rebuild_step(st, txn, &h, &wrote, &next);
		if (!rc && wrote) {
			rc = mdb_txn_commit(txn);
			if (!rc) {
				store__txgen_committed(st, &next, true);
				gens++;
				continue;
			}
		} else {
			mdb_txn_abort(txn);
		}
		if (rc == MDB_MAP_FULL) { /* again from where the step began (st->txgen is as it was) */
			store__txmem_clear(st);
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
		       st->txmem.n, (unsigned long long)st->txgen.next_height, (unsigned long long)st->info.height,
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
	uint32_t first[STORE_TXGEN_LEVELS], next[STORE_TXGEN_LEVELS];
	uint8_t key[TXGEN_KEY_LEN];
	MDB_val k, v;
	MDB_txn *txn;
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
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++) {
		first[l] = st->txgen.lvl[l].first;
		next[l] = st->txgen.lvl[l].next;
	}
	store__snapshot_idx_done(st);
	memcpy(key + 4, id, SN_HASH_LEN);
	k = store__mval(key, sizeof(key));
	rc = MDB_NOTFOUND;
	/* Newest first: level 0's newest generation, ..., then the level above (older still).
	 * Ids are unique, so the order only saves descents for recent transactions. */
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS && rc == MDB_NOTFOUND; l++)
		for (uint32_t g = next[l]; g-- > first[l] && rc == MDB_NOTFOUND;) {
			sn_put_be32(key, g);
			rc = mdb_get(txn, st->db_txgen[l], &k, &v);
		}
	if (rc == MDB_NOTFOUND) { /* written before generations existed */
		k = store__mval(id, SN_HASH_LEN);
		rc = mdb_get(txn, st->db_txs, &k, &v);
	}
	err = rc ? store__mdb_err(rc, "reading tx") : loc_decode(&v, height, index);
	store__snapshot_end(st, txn);
	return err;
}

void store_tx_index_stats(struct store *st, struct store_tx_index_stats *out)
{
	pthread_rwlock_rdlock(&st->idx_lock);
	out->in_memory = st->txmem.n;
	out->generations = store__txgen_live(&st->txgen);
	pthread_rwlock_unlock(&st->idx_lock);
}

int store_tx_index_gap(struct store *st, uint64_t *from)
{
	int err = SN_E_NOTFOUND;

	*from = 0;
	pthread_rwlock_rdlock(&st->idx_lock);
	if (!st->tx_index && st->info.has_genesis && st->txgen.next_height <= st->info.height) {
		*from = st->txgen.next_height;
		err = SN_OK;
	}
	pthread_rwlock_unlock(&st->idx_lock);
	return err;
}
