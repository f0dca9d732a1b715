/* storage/wtxn.c — the write side: one block's changes kept in an in-memory overlay over a
 * read snapshot, then written in one LMDB transaction (sorted puts), after which the
 * in-memory indexes (Merkle tree, deep sums) and the tip summary are updated. */
#include "storage/store_int.h"

#include <sodium.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct ov_entry {
	struct store_account a;
	uint64_t orig_pvol; /* personal volume in the snapshot (0 for new accounts) */
	bool is_new;
	bool dirty;
};

struct store_wtxn {
	struct store *st;
	MDB_txn *rtxn;            /* read snapshot of the tip */
	struct store_info base;   /* the tip it builds on */
	struct store_params params;
	uint64_t treasury;
	struct ov_entry *ent;     /* append-only; indexes stay valid */
	uint32_t n_ent, cap_ent;
	uint32_t *slots;          /* open addressing: entry index + 1, 0 = empty */
	uint32_t n_slots;         /* power of two */
	uint32_t *new_ent;        /* entries of new accounts in seq order */
	uint32_t n_new, cap_new;
	uint8_t (*tx_ids)[SN_HASH_LEN];
	uint32_t n_tx, cap_tx;
	struct gov_overlay *gov;  /* governance records changed, sorted by key */
	size_t n_gov, cap_gov;
	uint8_t gov_root[SN_HASH_LEN];
	uint8_t base_gov_root[SN_HASH_LEN]; /* of the tip it builds on */
	struct merkle_update mu;
	struct store_group *group; /* writing into a commit group's transaction, or NULL */
	bool speculative;
	bool txgen_written;       /* wtxn_write wrote the txs index's generation with this block */
	struct store_txgen txgen; /* the txs index's levels once the block's LMDB transaction commits */
	bool root_valid;
	uint8_t root[SN_HASH_LEN];
	uint32_t *sorted; /* with root_valid: the dirty entries in seq order (the root's leaves) */
	uint32_t n_sorted;
};

static unsigned char ov_hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t ov_hash_once = PTHREAD_ONCE_INIT;

static void ov_hash_init(void)
{
	/* Keys are attacker-chosen: a keyed hash keeps the table's probes short. */
	randombytes_buf(ov_hash_key, sizeof(ov_hash_key));
}

static uint32_t ov_hash(const uint8_t key[SN_PUBKEY_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];

	crypto_shorthash(h, key, SN_PUBKEY_LEN, ov_hash_key);
	return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

static struct ov_entry *ov_find(struct store_wtxn *w, const uint8_t key[SN_PUBKEY_LEN])
{
	uint32_t mask = w->n_slots - 1;

	for (uint32_t i = ov_hash(key) & mask;; i = (i + 1) & mask) {
		uint32_t s = w->slots[i];

		if (!s)
			return NULL;
		if (memcmp(w->ent[s - 1].a.key, key, SN_PUBKEY_LEN) == 0)
			return &w->ent[s - 1];
	}
}

static void ov_slot_insert(struct store_wtxn *w, uint32_t e)
{
	uint32_t mask = w->n_slots - 1;
	uint32_t i = ov_hash(w->ent[e].a.key) & mask;

	while (w->slots[i])
		i = (i + 1) & mask;
	w->slots[i] = e + 1;
}

/* Appends a (not yet present) account to the overlay. */
static int ov_add(struct store_wtxn *w, const struct store_account *a, bool is_new, struct ov_entry **out)
{
	if (w->n_ent == w->cap_ent) {
		uint32_t ncap = w->cap_ent * 2;
		struct ov_entry *ne = sn_realloc(w->ent, (size_t)ncap * sizeof(*ne));

		if (!ne)
			return SN_E_NOMEM;
		w->ent = ne;
		w->cap_ent = ncap;
	}
	if (2 * (w->n_ent + 1) > w->n_slots) {
		uint32_t *ns = sn_calloc((size_t)w->n_slots * 2, sizeof(*ns));

		if (!ns)
			return SN_E_NOMEM;
		sn_free(w->slots);
		w->slots = ns;
		w->n_slots *= 2;
		for (uint32_t e = 0; e < w->n_ent; e++)
			ov_slot_insert(w, e);
	}
	if (is_new && w->n_new == w->cap_new) {
		uint32_t ncap = w->cap_new ? 2 * w->cap_new : 64;
		uint32_t *nn = sn_realloc(w->new_ent, (size_t)ncap * sizeof(*nn));

		if (!nn)
			return SN_E_NOMEM;
		w->new_ent = nn;
		w->cap_new = ncap;
	}
	w->ent[w->n_ent] = (struct ov_entry){ .a = *a, .orig_pvol = is_new ? 0 : a->personal_volume,
		                              .is_new = is_new, .dirty = is_new };
	ov_slot_insert(w, w->n_ent);
	if (is_new)
		w->new_ent[w->n_new++] = w->n_ent;
	*out = &w->ent[w->n_ent++];
	w->root_valid = false;
	return SN_OK;
}

/* A commit group: consecutive blocks written into one LMDB write transaction that
 * store_group_end makes durable with one fsync. While it is open the writer mutex is held;
 * each block's Merkle update goes into st->merkle at once (only the writer reads it), and the
 * rest of the in-memory indexes and the tip that readers see wait for the LMDB commit. */
struct group_new {
	uint32_t seq, sponsor_seq;
	uint64_t pvol;
};

struct group_vol {
	uint32_t seq;
	uint64_t delta;
};

struct store_group {
	struct store *st;
	MDB_txn *txn;
	struct store_info tip;          /* after the group's last block */
	uint64_t first_new_seq;         /* accounts from this seq on were created in the group */
	uint8_t gov_root[SN_HASH_LEN];  /* likewise */
	uint32_t blocks;
	uint64_t txs;
	struct group_new *news;         /* accounts created, in seq order */
	size_t n_news, cap_news;
	struct group_vol *vols;         /* personal volume added to existing accounts */
	size_t n_vols, cap_vols;
	int failed;                     /* an error that poisoned the transaction */
	struct store_txmem_ent *txp;    /* the blocks' transactions, for the txs index */
	size_t n_txp, cap_txp;
	bool txgen_written;             /* group_finish wrote them as a generation */
	struct store_txgen txgen;       /* the txs index's levels once the group commits */
	bool merkle_ahead;              /* st->merkle holds blocks that are not durable yet */
	/* Accounts the group's blocks changed, latest value, written to LMDB once at the end
	 * (an account several blocks touch costs one put; the accounts table stays clean until
	 * then, so reads through the transaction stay cheap). Open addressing like the wtxn's. */
	struct store_account *acc;
	uint32_t n_acc, cap_acc;
	uint32_t *acc_slots;            /* index + 1, 0 = empty */
	uint32_t n_acc_slots;           /* power of two, or 0 */
};

static struct store_account *gacc_find(struct store_group *g, const uint8_t key[SN_PUBKEY_LEN])
{
	uint32_t mask = g->n_acc_slots - 1;

	if (!g->n_acc_slots)
		return NULL;
	for (uint32_t i = ov_hash(key) & mask;; i = (i + 1) & mask) {
		uint32_t s = g->acc_slots[i];

		if (!s)
			return NULL;
		if (memcmp(g->acc[s - 1].key, key, SN_PUBKEY_LEN) == 0)
			return &g->acc[s - 1];
	}
}

static void gacc_slot_insert(struct store_group *g, uint32_t e)
{
	uint32_t mask = g->n_acc_slots - 1, i = ov_hash(g->acc[e].key) & mask;

	while (g->acc_slots[i])
		i = (i + 1) & mask;
	g->acc_slots[i] = e + 1;
}

/* Makes room for n more accounts so that gacc_put cannot fail. */
static int gacc_reserve(struct store_group *g, uint32_t n)
{
	uint64_t need = (uint64_t)g->n_acc + n;

	if (need > UINT32_MAX / 4)
		return SN_E_NOMEM;
	if (need > g->cap_acc) {
		uint32_t ncap = g->cap_acc ? g->cap_acc : 1024;
		struct store_account *na;

		while (ncap < need)
			ncap *= 2;
		if (!(na = sn_realloc(g->acc, (size_t)ncap * sizeof(*na))))
			return SN_E_NOMEM;
		g->acc = na;
		g->cap_acc = ncap;
	}
	if (2 * need > g->n_acc_slots) {
		uint32_t nslots = g->n_acc_slots ? g->n_acc_slots : 2048;
		uint32_t *ns;

		while (nslots < 2 * need)
			nslots *= 2;
		if (!(ns = sn_calloc(nslots, sizeof(*ns))))
			return SN_E_NOMEM;
		sn_free(g->acc_slots);
		g->acc_slots = ns;
		g->n_acc_slots = nslots;
		for (uint32_t e = 0; e < g->n_acc; e++)
			gacc_slot_insert(g, e);
	}
	return SN_OK;
}

static void gacc_put(struct store_group *g, const struct store_account *a)
{
	struct store_account *e = gacc_find(g, a->key);

	if (e) {
		*e = *a;
		return;
	}
	g->acc[g->n_acc] = *a;
	gacc_slot_insert(g, g->n_acc++);
}

/* mdb_txn_commit of the blocks first..last; or, when store_opts.fail_commit_at (tests) is
 * among them, the write error LMDB gives when the disk fails under it, nothing written. */
static int commit_txn(struct store *st, MDB_txn *txn, uint64_t first, uint64_t last)
{
	if (st->fail_commit_at && first <= st->fail_commit_at && st->fail_commit_at <= last) {
		mdb_txn_abort(txn);
		return EIO;
	}
	return mdb_txn_commit(txn);
}

static int wtxn_begin(struct store *st, struct store_group *g, struct store_wtxn **out, bool speculative)
{
	struct store_wtxn *w;
	int err;

	*out = NULL;
	pthread_once(&ov_hash_once, ov_hash_init);
	if (g && (g->failed || g->st != st))
		return g->failed ? g->failed : SN_E_INVAL;
	if (!speculative && !g)
		pthread_mutex_lock(&st->writer);
	if (st->fatal) {
		if (!speculative && !g)
			pthread_mutex_unlock(&st->writer);
		return SN_E_FATAL;
	}
	w = sn_calloc(1, sizeof(*w));
	if (w) {
		w->cap_ent = 256;
		w->n_slots = 1024;
		w->ent = sn_malloc(w->cap_ent * sizeof(*w->ent));
		w->slots = sn_calloc(w->n_slots, sizeof(*w->slots));
	}
	if (!w || !w->ent || !w->slots) {
		if (w) {
			sn_free(w->ent);
			sn_free(w->slots);
		}
		sn_free(w);
		if (!speculative && !g)
			pthread_mutex_unlock(&st->writer);
		return SN_E_NOMEM;
	}
	w->st = st;
	w->speculative = speculative;
	w->group = g;
	if (g) { /* reads see the group's earlier blocks through its write transaction */
		w->base = g->tip;
		memcpy(w->base_gov_root, g->gov_root, SN_HASH_LEN);
		w->rtxn = g->txn;
	} else {
		if ((err = store__snapshot_begin(st, &w->rtxn))) {
			w->rtxn = NULL;
			store_wtxn_abort(w);
			return err;
		}
		w->base = st->info;
		memcpy(w->base_gov_root, st->gov_root, SN_HASH_LEN);
		store__snapshot_idx_done(st);
	}
	w->params = w->base.params;
	w->treasury = w->base.treasury;
	*out = w;
	return SN_OK;
}

int store_wtxn_begin(struct store *st, struct store_wtxn **out)
{
	return wtxn_begin(st, NULL, out, false);
}

int store_wtxn_begin_speculative(struct store *st, struct store_wtxn **out)
{
	return wtxn_begin(st, NULL, out, true);
}

int store_wtxn_begin_in(struct store_group *g, struct store_wtxn **out)
{
	*out = NULL;
	if (!g)
		return SN_E_INVAL;
	return wtxn_begin(g->st, g, out, false);
}

static void wtxn_end_snapshot(struct store_wtxn *w)
{
	if (w->group) {
		w->rtxn = NULL; /* the group's transaction: it lives on */
	} else if (w->rtxn) {
		store__snapshot_end(w->st, w->rtxn);
		w->rtxn = NULL;
	}
}

void store_wtxn_abort(struct store_wtxn *w)
{
	struct store *st;
	bool keep_writer;

	if (!w)
		return;
	st = w->st;
	keep_writer = w->speculative || w->group; /* a group holds the writer until it ends */
	wtxn_end_snapshot(w);
	store__merkle_update_free(&w->mu);
	for (size_t i = 0; i < w->n_gov; i++)
		sn_free(w->gov[i].val);
	sn_free(w->gov);
	sn_free(w->ent);
	sn_free(w->slots);
	sn_free(w->sorted);
	sn_free(w->new_ent);
	sn_free(w->tx_ids);
	sn_free(w);
	if (!keep_writer)
		pthread_mutex_unlock(&st->writer);
}

const struct store_info *store_wtxn_info(const struct store_wtxn *w)
{
	return &w->base;
}

/* The overlay entry for key, loading it from the snapshot on first use. */
static int wtxn_load(struct store_wtxn *w, const uint8_t key[SN_PUBKEY_LEN], struct ov_entry **out)
{
	struct store_account a;
	int err;

	struct store_account *ga;

	*out = ov_find(w, key);
	if (*out)
		return SN_OK;
	if (w->group && (ga = gacc_find(w->group, key))) {
		a = *ga;
	} else if ((err = store__account_read(w->st, w->rtxn, key, &a))) {
		return err;
	}
	return ov_add(w, &a, false, out);
}

int store_wtxn_account_get(struct store_wtxn *w, const uint8_t key[SN_PUBKEY_LEN], struct store_account *out)
{
	struct ov_entry *e;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = wtxn_load(w, key, &e)))
		return err;
	*out = e->a;
	return SN_OK;
}

static int wtxn_create(struct store_wtxn *w, const uint8_t key[SN_PUBKEY_LEN],
                       const struct store_account *sponsor, uint64_t height, uint64_t balance,
                       struct store_account *out)
{
	struct store_account a;
	struct ov_entry *e;
	int err = wtxn_load(w, key, &e);

	if (err == SN_OK)
		return SN_E_REGISTERED;
	if (err != SN_E_NOTFOUND)
		return err;
	if (w->base.accounts + w->n_new >= UINT32_MAX - 1)
		return SN_E_OVERFLOW;
	memset(&a, 0, sizeof(a));
	memcpy(a.key, key, SN_PUBKEY_LEN);
	a.seq = w->base.accounts + w->n_new;
	a.balance = balance;
	a.reg_height = height;
	if (sponsor) {
		memcpy(a.sponsor, sponsor->key, SN_PUBKEY_LEN);
		a.sponsor_seq = sponsor->seq;
		a.depth = sponsor->depth + 1;
	}
	if ((err = ov_add(w, &a, true, &e)))
		return err;
	if (out)
		*out = a;
	return SN_OK;
}

int store_wtxn_account_create(struct store_wtxn *w, const uint8_t key[SN_PUBKEY_LEN],
                              const struct store_account *sponsor, uint64_t height, uint64_t balance,
                              struct store_account *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!sponsor || !ov_find(w, sponsor->key))
		return SN_E_UNKNOWN_SPONSOR;
	return wtxn_create(w, key, sponsor, height, balance, out);
}

int store_wtxn_account_put(struct store_wtxn *w, const struct store_account *a)
{
	struct ov_entry *e = ov_find(w, a->key);

	if (!e || e->a.seq != a->seq || e->a.sponsor_seq != a->sponsor_seq ||
	    a->personal_volume < e->a.personal_volume)
		return SN_E_INVAL;
	e->a = *a;
	e->dirty = true;
	w->root_valid = false;
	return SN_OK;
}

const struct store_params *store_wtxn_params(const struct store_wtxn *w)
{
	return &w->params;
}

int store_wtxn_params_set(struct store_wtxn *w, const struct store_params *p)
{
	if (!p->max_block_txs || p->max_block_txs > STORE_BLOCK_MAX_TXS)
		return SN_E_INVAL;
	w->params = *p;
	w->root_valid = false;
	return SN_OK;
}

static int gov_find(const struct store_wtxn *w, const void *key, size_t klen, size_t *pos)
{
	size_t lo = 0, hi = w->n_gov;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		size_t ml = w->gov[mid].klen;
		int c = memcmp(w->gov[mid].key, key, ml < klen ? ml : klen);

		if (!c)
			c = (ml > klen) - (ml < klen);
		if (!c) {
			*pos = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return 0;
}

int store_wtxn_gov_get(struct store_wtxn *w, const void *key, size_t klen, const uint8_t **val, size_t *len)
{
	MDB_val k = { klen, (void *)key }, v;
	size_t pos;
	int rc;

	*val = NULL;
	*len = 0;
	if (!klen || klen > STORE_GOV_KEY_MAX)
		return SN_E_INVAL;
	if (gov_find(w, key, klen, &pos)) {
		*val = w->gov[pos].val;
		*len = w->gov[pos].vlen;
		return SN_OK;
	}
	if ((rc = mdb_get(w->rtxn, w->st->db_gov, &k, &v)))
		return store__mdb_err(rc, "reading governance record");
	*val = v.mv_data;
	*len = v.mv_size;
	return SN_OK;
}

int store_wtxn_gov_put(struct store_wtxn *w, const void *key, size_t klen, const uint8_t *val, size_t len)
{
	uint8_t *copy;
	size_t pos;

	if (!klen || klen > STORE_GOV_KEY_MAX || len > STORE_GOV_VALUE_MAX)
		return SN_E_INVAL;
	copy = sn_malloc(len ? len : 1);
	if (!copy)
		return SN_E_NOMEM;
	if (len)
		memcpy(copy, val, len);
	if (gov_find(w, key, klen, &pos)) {
		sn_free(w->gov[pos].val);
	} else {
		if (w->n_gov == w->cap_gov) {
			size_t ncap = w->cap_gov ? 2 * w->cap_gov : 8;
			struct gov_overlay *ng = sn_realloc(w->gov, ncap * sizeof(*ng));

			if (!ng) {
				sn_free(copy);
				return SN_E_NOMEM;
			}
			w->gov = ng;
			w->cap_gov = ncap;
		}
		memmove(&w->gov[pos + 1], &w->gov[pos], (w->n_gov - pos) * sizeof(*w->gov));
		w->n_gov++;
		memcpy(w->gov[pos].key, key, klen);
		w->gov[pos].klen = klen;
	}
	w->gov[pos].val = copy;
	w->gov[pos].vlen = len;
	w->root_valid = false;
	return SN_OK;
}

uint64_t store_wtxn_treasury(const struct store_wtxn *w)
{
	return w->treasury;
}

int store_wtxn_treasury_add(struct store_wtxn *w, uint64_t amount)
{
	if (w->treasury > UINT64_MAX - amount)
		return SN_E_OVERFLOW;
	w->treasury += amount;
	w->root_valid = false;
	return SN_OK;
}

int store_wtxn_treasury_sub(struct store_wtxn *w, uint64_t amount)
{
	if (w->treasury < amount)
		return SN_E_BALANCE;
	w->treasury -= amount;
	w->root_valid = false;
	return SN_OK;
}

int store_wtxn_tx_add(struct store_wtxn *w, const uint8_t id[SN_HASH_LEN])
{
	if (w->n_tx == w->cap_tx) {
		uint32_t ncap = w->cap_tx ? 2 * w->cap_tx : 256;
		uint8_t(*n)[SN_HASH_LEN] = sn_realloc(w->tx_ids, (size_t)ncap * SN_HASH_LEN);

		if (!n)
			return SN_E_NOMEM;
		w->tx_ids = n;
		w->cap_tx = ncap;
	}
	memcpy(w->tx_ids[w->n_tx++], id, SN_HASH_LEN);
	return SN_OK;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The dirty entries' indexes, in seq order, into w->sorted (seq < 2^32: the deep sums'
 * bound; each sorted as seq << 32 | index, compared directly). */
static int dirty_sorted(struct store_wtxn *w)
{
	size_t cap = w->n_ent ? w->n_ent : 1;
	uint64_t *k = sn_malloc(cap * sizeof(*k));
	uint32_t n = 0;

	sn_free(w->sorted);
	w->n_sorted = 0;
	w->sorted = sn_malloc(cap * sizeof(*w->sorted));
	if (!k || !w->sorted) {
		sn_free(k);
		sn_free(w->sorted);
		w->sorted = NULL;
		return SN_E_NOMEM;
	}
	for (uint32_t e = 0; e < w->n_ent; e++)
		if (w->ent[e].dirty)
			k[n++] = w->ent[e].a.seq << 32 | e;
	if (n)
		qsort(k, n, sizeof(*k), cmp_u64);
	for (uint32_t i = 0; i < n; i++)
		w->sorted[i] = (uint32_t)k[i];
	w->n_sorted = n;
	sn_free(k);
	return SN_OK;
}

int store_wtxn_state_root(struct store_wtxn *w, uint8_t out[SN_HASH_LEN])
{
	uint32_t *d, n, *idx = NULL;
	uint8_t(*leaves)[SN_HASH_LEN] = NULL;
	int err;

	memset(out, 0, SN_HASH_LEN);
	if (w->speculative)
		return SN_E_INVAL; /* st->merkle belongs to the writer (a commit group moves it ahead) */
	if (w->root_valid) {
		memcpy(out, w->root, SN_HASH_LEN);
		return SN_OK;
	}
	if ((err = dirty_sorted(w)))
		return err;
	d = w->sorted;
	n = w->n_sorted;
	idx = sn_malloc((size_t)(n ? n : 1) * sizeof(*idx));
	leaves = sn_malloc((size_t)(n ? n : 1) * SN_HASH_LEN);
	if (!idx || !leaves) {
		err = SN_E_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		idx[i] = (uint32_t)w->ent[d[i]].a.seq;
		store__account_leaf(leaves[i], &w->ent[d[i]].a);
	}
	err = store__merkle_compute(&w->st->merkle, &w->mu, (uint32_t)(w->base.accounts + w->n_new), idx,
	                            (const uint8_t(*)[SN_HASH_LEN])leaves, n);
	if (err)
		goto out;
	if (w->n_gov)
		err = store__gov_root(w->st, w->rtxn, w->gov, w->n_gov, w->gov_root);
	else
		memcpy(w->gov_root, w->base_gov_root, SN_HASH_LEN);
	if (err)
		goto out;
	store__state_root(w->root, w->base.accounts + w->n_new, w->mu.root, w->treasury, &w->params, w->gov_root);
	w->root_valid = true;
	memcpy(out, w->root, SN_HASH_LEN);
out:
	sn_free(idx);
	sn_free(leaves);
	return err;
}

static int put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn, const void *v, size_t vn)
{
	MDB_val mk = { kn, (void *)k }, mv = { vn, (void *)v };

	return mdb_put(txn, dbi, &mk, &mv, 0);
}

/* An account's changing half under its seq; with created, also the half its registration
 * fixed, under its key (docs/storage.md: a transfer rewrites 25 bytes, not the record). */
static int account_put(struct store *st, MDB_txn *txn, const struct store_account *a, bool created)
{
	uint8_t hot[STORE_HOT_LEN], sk[8];
	int rc;

	if (created) {
		uint8_t cold[STORE_COLD_LEN];

		store__account_cold_encode(cold, a);
		if ((rc = put(txn, st->db_accounts, a->key, SN_PUBKEY_LEN, cold, sizeof(cold))))
			return rc;
	}
	store__account_hot_encode(hot, a);
	sn_put_be64(sk, a->seq);
	return put(txn, st->db_state, sk, sizeof(sk), hot, sizeof(hot));
}

/* The txs index's entries of w's transactions, in block `height`: n_tx of them into e. */
static void tx_entries(struct store_txmem_ent *e, const struct store_wtxn *w, uint64_t height)
{
	for (uint32_t i = 0; i < w->n_tx; i++) {
		memcpy(e[i].id, w->tx_ids[i], SN_HASH_LEN);
		e[i].height = height;
		e[i].index = i;
	}
}

/* Every LMDB write of the block; the accounts only with accounts (a commit group writes
 * them once, when it ends). Returns an LMDB code. */
static int wtxn_write(struct store_wtxn *w, MDB_txn *txn, const uint32_t *dirty, uint32_t n_dirty, bool accounts,
                      const struct store_block_header *hdr, const uint8_t hash[SN_HASH_LEN],
                      const uint8_t *block, size_t block_len, const uint8_t *commit, size_t commit_len,
                      const struct store_info *tip)
{
	struct store *st = w->st;
	uint8_t hb[8], tipbuf[128];
	size_t tiplen;
	int rc;

	for (uint32_t i = 0; i < n_dirty; i++) {
		const struct store_account *a = &w->ent[dirty[i]].a;
		uint8_t ref[2 * SN_PUBKEY_LEN];

		if (accounts && (rc = account_put(st, txn, a, w->ent[dirty[i]].is_new)))
			return rc;
		if (!w->ent[dirty[i]].is_new || a->seq == 0)
			continue;
		memcpy(ref, a->sponsor, SN_PUBKEY_LEN);
		memcpy(ref + SN_PUBKEY_LEN, a->key, SN_PUBKEY_LEN);
		if ((rc = put(txn, st->db_referrals, ref, sizeof(ref), "", 0)))
			return rc;
	}
	sn_put_be64(hb, hdr->height);
	if ((rc = put(txn, st->db_blocks, hb, 8, block, block_len)) ||
	    (rc = put(txn, st->db_block_hash, hash, SN_HASH_LEN, hb, 8)))
		return rc;
	if (commit_len && (rc = put(txn, st->db_commits, hb, 8, commit, commit_len)))
		return rc;
	/* A block committed alone: the txs index writes a generation once memory and this block
	 * hold enough (the block's ids go to memory after the commit otherwise), and takes a step
	 * of its merges; a commit group does both once for all its blocks (group_finish). */
	w->txgen_written = false;
	if (accounts && st->tx_index) {
		struct store_txmem_ent *e = NULL;
		bool flush = store__txgen_due(st, w->n_tx);

		if (flush && !(e = sn_malloc((w->n_tx ? w->n_tx : 1) * sizeof(*e))))
			return ENOMEM;
		if (flush)
			tx_entries(e, w, hdr->height);
		rc = store__txgen_commit(st, txn, &w->txgen, flush, e, flush ? w->n_tx : 0, hdr->height, w->n_tx);
		sn_free(e);
		if (rc)
			return rc;
		w->txgen_written = flush;
	}
	for (size_t i = 0; i < w->n_gov; i++)
		if ((rc = put(txn, st->db_gov, w->gov[i].key, w->gov[i].klen, w->gov[i].val, w->gov[i].vlen)))
			return rc;
	store__tip_encode(tipbuf, sizeof(tipbuf), &tiplen, tip);
	return put(txn, st->db_meta, "tip", 3, tipbuf, tiplen);
}

/* After LMDB committed: bring the in-memory indexes to the new tip. Cannot fail after the
 * reservations; if it does anyway the store latches fatal (memory no longer matches disk). */
static int wtxn_apply_memory(struct store_wtxn *w, const struct store_info *tip)
{
	struct store *st = w->st;
	int err = SN_OK;

	store__merkle_apply(&st->merkle, &w->mu);
	for (uint32_t i = 0; i < w->n_new && !err; i++) {
		const struct store_account *a = &w->ent[w->new_ent[i]].a;

		st->direct[a->seq] = 0;
		if (a->seq)
			st->direct[a->sponsor_seq]++;
		err = store_deepsum_insert(st->deepsum, (uint32_t)a->seq, (uint32_t)a->sponsor_seq,
		                           a->personal_volume);
	}
	for (uint32_t e = 0; e < w->n_ent && !err; e++) {
		const struct ov_entry *oe = &w->ent[e];

		if (!oe->is_new && oe->a.personal_volume != oe->orig_pvol)
			err = store_deepsum_add_volume(st->deepsum, (uint32_t)oe->a.seq,
			                               oe->a.personal_volume - oe->orig_pvol);
	}
	if (st->tx_index)
		store__txgen_committed(st, &w->txgen, w->txgen_written);
	if (st->tx_index && !w->txgen_written)
		for (uint32_t i = 0; i < w->n_tx; i++)
			store__txmem_add(st, w->tx_ids[i], tip->height, i); /* reserved before the commit */
	st->info = *tip;
	memcpy(st->gov_root, w->gov_root, SN_HASH_LEN);
	return err;
}

/* Room in the deep sums and direct-referral counts for accounts in all (caller holds the
 * write lock), so that the in-memory update after an LMDB commit cannot fail. */
static int reserve_indexes(struct store *st, uint64_t accounts)
{
	int err = store_deepsum_reserve(st->deepsum, (uint32_t)accounts);

	if (!err && accounts > st->direct_cap) {
		uint32_t ncap = (uint32_t)(accounts + accounts / 2 + 16);
		uint32_t *nd = sn_realloc(st->direct, (size_t)ncap * sizeof(*nd));

		if (nd) {
			st->direct = nd;
			st->direct_cap = ncap;
		} else {
			err = SN_E_NOMEM;
		}
	}
	return err;
}

/* Makes room for n more elements of size sz in *arr (capacity *cap, count cnt). */
static int grow_array(void **arr, size_t *cap, size_t cnt, size_t n, size_t sz)
{
	size_t ncap;
	void *na;

	if (cnt + n <= *cap)
		return SN_OK;
	ncap = *cap ? *cap : 256;
	while (ncap < cnt + n)
		ncap *= 2;
	if (!(na = sn_realloc(*arr, ncap * sz)))
		return SN_E_NOMEM;
	*arr = na;
	*cap = ncap;
	return SN_OK;
}

/* store_wtxn_commit inside a group: the block's writes go into the group's transaction, its
 * Merkle update into st->merkle, the other index updates into the group's lists. An LMDB
 * error poisons the group (the transaction cannot go on); other errors leave it usable. */
static int group_write(struct store_group *g, struct store_wtxn *w, const uint32_t *dirty, uint32_t n_dirty,
                       const struct store_block_header *hdr, const uint8_t hash[SN_HASH_LEN],
                       const uint8_t *block, size_t block_len, const uint8_t *commit, size_t commit_len,
                       const struct store_info *tip)
{
	struct store *st = g->st;
	int err, rc;

	if ((err = store__merkle_reserve(&st->merkle, &w->mu)) || (err = gacc_reserve(g, n_dirty)) ||
	    (err = grow_array((void **)&g->news, &g->cap_news, g->n_news, w->n_new, sizeof(*g->news))) ||
	    (err = grow_array((void **)&g->vols, &g->cap_vols, g->n_vols, w->n_ent, sizeof(*g->vols))) ||
	    (st->tx_index && (err = grow_array((void **)&g->txp, &g->cap_txp, g->n_txp, w->n_tx, sizeof(*g->txp)))))
		return err;
	uint64_t t0 = sn_time_mono_ns();
	if ((rc = wtxn_write(w, g->txn, dirty, n_dirty, false, hdr, hash, block, block_len, commit, commit_len, tip))) {
		g->failed = store__mdb_err(rc, "writing block");
		return g->failed;
	}
	SN_LOG(SN_LOG_DEBUG, "store", "block %llu: %u accounts written in %.1f ms (commit group of %u)",
	       (unsigned long long)hdr->height, n_dirty, (double)(sn_time_mono_ns() - t0) / 1e6, g->blocks + 1);
	for (uint32_t i = 0; i < n_dirty; i++)
		gacc_put(g, &w->ent[dirty[i]].a);
	store__merkle_apply(&st->merkle, &w->mu);
	g->merkle_ahead = true;
	for (uint32_t i = 0; i < w->n_new; i++) {
		const struct store_account *a = &w->ent[w->new_ent[i]].a;

		g->news[g->n_news++] = (struct group_new){ .seq = (uint32_t)a->seq,
			                                   .sponsor_seq = (uint32_t)a->sponsor_seq,
			                                   .pvol = a->personal_volume };
	}
	for (uint32_t e = 0; e < w->n_ent; e++) {
		const struct ov_entry *oe = &w->ent[e];

		if (!oe->is_new && oe->a.personal_volume != oe->orig_pvol)
			g->vols[g->n_vols++] = (struct group_vol){ .seq = (uint32_t)oe->a.seq,
				                                   .delta = oe->a.personal_volume - oe->orig_pvol };
	}
	if (st->tx_index) {
		tx_entries(g->txp + g->n_txp, w, hdr->height);
		g->n_txp += w->n_tx;
	}
	g->tip = *tip;
	memcpy(g->gov_root, w->gov_root, SN_HASH_LEN);
	g->blocks++;
	g->txs += w->n_tx;
	return SN_OK;
}

int store_wtxn_commit(struct store_wtxn *w, const struct store_block_header *hdr, const uint8_t *block,
                      size_t block_len, const uint8_t *commit, size_t commit_len)
{
	struct store *st = w->st;
	struct store_info tip;
	uint8_t root[SN_HASH_LEN], hash[SN_HASH_LEN];
	const uint32_t *dirty;
	uint32_t n_dirty;
	MDB_txn *txn = NULL;
	int err, rc;

	if (w->speculative) {
		err = SN_E_INVAL;
		goto out;
	}
	if ((err = store_wtxn_state_root(w, root)))
		goto out;
	if (w->base.has_genesis ? hdr->height != w->base.height + 1 : hdr->height != 0) {
		err = SN_E_HEIGHT;
		goto out;
	}
	if (w->base.has_genesis && memcmp(hdr->prev_hash, w->base.tip_hash, SN_HASH_LEN) != 0) {
		err = SN_E_PREV;
		goto out;
	}
	if (memcmp(hdr->state_root, root, SN_HASH_LEN) != 0 || hdr->tx_count != w->n_tx) {
		err = hdr->tx_count != w->n_tx ? SN_E_INVAL : SN_E_STATEROOT;
		goto out;
	}
	dirty = w->sorted; /* the state root's leaves, valid with it */
	n_dirty = w->n_sorted;
	store_block_hash(hash, hdr);
	tip = w->base;
	tip.has_genesis = true;
	tip.height = hdr->height;
	memcpy(tip.tip_hash, hash, SN_HASH_LEN);
	tip.tip_time_ms = hdr->time_ms;
	memcpy(tip.state_root, root, SN_HASH_LEN);
	tip.accounts = w->base.accounts + w->n_new;
	tip.treasury = w->treasury;
	tip.params = w->params;

	wtxn_end_snapshot(w);
	if (w->group) {
		err = group_write(w->group, w, dirty, n_dirty, hdr, hash, block, block_len, commit, commit_len, &tip);
		goto out;
	}
	/* Reservations first, so that the in-memory update after the commit cannot fail. */
	pthread_rwlock_wrlock(&st->idx_lock);
	err = reserve_indexes(st, tip.accounts);
	if (!err)
		err = store__merkle_reserve(&st->merkle, &w->mu);
	if (!err && st->tx_index)
		err = store__txmem_reserve(st, w->n_tx);
	pthread_rwlock_unlock(&st->idx_lock);
	if (err)
		goto out;

	for (int attempt = 0;; attempt++) {
		if ((rc = store__write_begin(st, &txn))) {
			err = store__mdb_err(rc, "beginning write");
			goto out;
		}
		uint64_t t0 = sn_time_mono_ns(), t1;

		rc = wtxn_write(w, txn, dirty, n_dirty, true, hdr, hash, block, block_len, commit, commit_len, &tip);
		t1 = sn_time_mono_ns();
		if (rc == 0) {
			/* No lock across the fsync: readers go on with the previous snapshot and
			 * in-memory state until both move to the new tip together (idx_txnid). */
			rc = commit_txn(st, txn, hdr->height, hdr->height);
			txn = NULL;
			SN_LOG(SN_LOG_DEBUG, "store", "block %llu: %u accounts written in %.1f ms, LMDB commit %.1f ms",
			       (unsigned long long)hdr->height, n_dirty, (double)(t1 - t0) / 1e6,
			       (double)(sn_time_mono_ns() - t1) / 1e6);
			if (rc == 0) {
				store__commit_succeeded(st);
				if (store__test_swap_delay_us)
					usleep(store__test_swap_delay_us);
				pthread_rwlock_wrlock(&st->idx_lock);
				tip.map_size = st->info.map_size;
				if ((err = wtxn_apply_memory(w, &tip))) {
					SN_LOG(SN_LOG_ERROR, "store",
					       "in-memory index update failed after commit: restart to rebuild");
					st->fatal = SN_E_FATAL;
				}
				st->idx_txnid = store__last_txnid(st);
				pthread_rwlock_unlock(&st->idx_lock);
				goto out;
			}
		} else {
			mdb_txn_abort(txn);
			txn = NULL;
			if (rc == ENOMEM) { /* aborted before the commit: nothing written, memory as it was */
				err = SN_E_NOMEM;
				goto out;
			}
		}
		if (rc != MDB_MAP_FULL || attempt >= 20) {
			err = store__commit_failed(st, rc, "writing block");
			goto out;
		}
		if ((err = store__grow_map(st))) {
			if (err == SN_E_BUSY)
				err = SN_E_MAPFULL; /* a view holds the map: its owner grows it (store_grow_map) */
			goto out;
		}
	}
out:
	store_wtxn_abort(w);
	return err;
}

int store_group_begin(struct store *st, struct store_group **out)
{
	struct store_group *g;
	int rc;

	*out = NULL;
	pthread_once(&ov_hash_once, ov_hash_init);
	if (!(g = sn_calloc(1, sizeof(*g))))
		return SN_E_NOMEM;
	pthread_mutex_lock(&st->writer);
	if (st->fatal) {
		pthread_mutex_unlock(&st->writer);
		sn_free(g);
		return SN_E_FATAL;
	}
	if ((rc = store__write_begin(st, &g->txn))) {
		pthread_mutex_unlock(&st->writer);
		sn_free(g);
		return store__mdb_err(rc, "beginning write");
	}
	g->st = st;
	pthread_rwlock_rdlock(&st->idx_lock);
	g->tip = st->info;
	g->first_new_seq = g->tip.accounts;
	memcpy(g->gov_root, st->gov_root, SN_HASH_LEN);
	pthread_rwlock_unlock(&st->idx_lock);
	*out = g;
	return SN_OK;
}

uint32_t store_group_blocks(const struct store_group *g)
{
	return g ? g->blocks : 0;
}

uint64_t store_group_txs(const struct store_group *g)
{
	return g ? g->txs : 0;
}

/* After the group's LMDB commit: the deferred index updates and the new tip (write lock held). */
static int group_apply_memory(struct store_group *g)
{
	struct store *st = g->st;
	uint64_t map_size = st->info.map_size;
	int err = SN_OK;

	for (size_t i = 0; i < g->n_news && !err; i++) {
		const struct group_new *a = &g->news[i];

		st->direct[a->seq] = 0;
		if (a->seq)
			st->direct[a->sponsor_seq]++;
		err = store_deepsum_insert(st->deepsum, a->seq, a->sponsor_seq, a->pvol);
	}
	for (size_t i = 0; i < g->n_vols && !err; i++)
		err = store_deepsum_add_volume(st->deepsum, g->vols[i].seq, g->vols[i].delta);
	if (st->tx_index)
		store__txgen_committed(st, &g->txgen, g->txgen_written);
	if (st->tx_index && !g->txgen_written)
		for (size_t i = 0; i < g->n_txp; i++)
			store__txmem_add(st, g->txp[i].id, g->txp[i].height, g->txp[i].index); /* reserved */
	st->info = g->tip;
	st->info.map_size = map_size;
	memcpy(st->gov_root, g->gov_root, SN_HASH_LEN);
	return err;
}

static int cmp_account_seq(const void *x, const void *y)
{
	uint64_t a = ((const struct store_account *)x)->seq, b = ((const struct store_account *)y)->seq;

	return a < b ? -1 : a > b;
}

/* The group's accounts into its transaction, in seq order (sequential puts of the changing
 * halves; the accounts the group created also get their fixed half). */
static int group_write_accounts(struct store_group *g)
{
	uint64_t t0 = sn_time_mono_ns();
	int rc;

	sn_free(g->acc_slots); /* the map is not looked up any more: sort the values in place */
	g->acc_slots = NULL;
	g->n_acc_slots = 0;
	if (g->n_acc) /* qsort's pointer must not be NULL, even for none */
		qsort(g->acc, g->n_acc, sizeof(*g->acc), cmp_account_seq);
	for (uint32_t i = 0; i < g->n_acc; i++)
		if ((rc = account_put(g->st, g->txn, &g->acc[i], g->acc[i].seq >= g->first_new_seq)))
			return store__mdb_err(rc, "writing accounts");
	SN_LOG(SN_LOG_DEBUG, "store", "commit group: %u accounts written in %.1f ms", g->n_acc,
	       (double)(sn_time_mono_ns() - t0) / 1e6);
	return SN_OK;
}

static int group_finish(struct store_group *g, bool commit)
{
	struct store *st;
	int err = SN_OK, rc;

	if (!g)
		return SN_OK;
	st = g->st;
	if (commit && g->failed)
		err = g->failed;
	else if (commit && g->blocks) {
		uint64_t t0 = sn_time_mono_ns();

		if ((err = group_write_accounts(g))) {
			g->failed = err;
			goto abandon;
		}
		/* The txs index: one generation for memory and the whole group once they hold
		 * enough (a group is ~100k transactions: mostly it does); memory keeps them
		 * otherwise. And a step of its merges, in proportion to the group. */
		if (st->tx_index) {
			bool flush = store__txgen_due(st, g->n_txp);

			if ((rc = store__txgen_commit(st, g->txn, &g->txgen, flush, g->txp, g->n_txp, g->tip.height,
			                              g->n_txp))) {
				err = rc == ENOMEM ? SN_E_NOMEM : store__mdb_err(rc, "writing the txs index");
				g->failed = err;
				goto abandon;
			}
			g->txgen_written = flush;
		}
		pthread_rwlock_wrlock(&st->idx_lock);
		err = reserve_indexes(st, g->tip.accounts);
		if (!err && st->tx_index && !g->txgen_written)
			err = store__txmem_reserve(st, g->n_txp);
		pthread_rwlock_unlock(&st->idx_lock);
		if (!err) {
			/* no lock across the fsync, as in store_wtxn_commit */
			rc = commit_txn(st, g->txn, st->info.height + 1, g->tip.height);
			g->txn = NULL;
			if (rc) {
				err = store__commit_failed(st, rc, "committing blocks");
			} else {
				store__commit_succeeded(st);
				pthread_rwlock_wrlock(&st->idx_lock);
				g->merkle_ahead = false;
				if (group_apply_memory(g)) {
					SN_LOG(SN_LOG_ERROR, "store",
					       "in-memory index update failed after commit: restart to rebuild");
					st->fatal = SN_E_FATAL;
				}
				st->idx_txnid = store__last_txnid(st);
				pthread_rwlock_unlock(&st->idx_lock);
			}
		}
		SN_LOG(SN_LOG_DEBUG, "store", "commit group of %u blocks, %llu txs: LMDB commit %.1f ms (%s)",
		       g->blocks, (unsigned long long)g->txs, (double)(sn_time_mono_ns() - t0) / 1e6,
		       sn_errname(err));
	}
abandon:
	if (err == SN_E_DISKFULL)
		store__disk_full_mark(st, "committing blocks", "no space left");
	if (g->txn)
		mdb_txn_abort(g->txn);
	g->txn = NULL;
	if (g->merkle_ahead && !st->fatal) {
		pthread_rwlock_rdlock(&st->lock);
		pthread_rwlock_wrlock(&st->idx_lock);
		if (store__indexes_reload(st)) {
			SN_LOG(SN_LOG_ERROR, "store",
			       "cannot rebuild the in-memory indexes: the store stops accepting writes");
			st->fatal = SN_E_FATAL;
		}
		pthread_rwlock_unlock(&st->idx_lock);
		pthread_rwlock_unlock(&st->lock);
	}
	if (err == SN_E_MAPFULL && !st->fatal) {
		int gerr = store__grow_map(st);

		if (gerr == SN_E_BUSY)
			err = gerr; /* not grown: the caller must not retry as if it were */
		else if (gerr)
			st->fatal = SN_E_FATAL;
	}
	sn_free(g->news);
	sn_free(g->vols);
	sn_free(g->txp);
	sn_free(g->acc);
	sn_free(g->acc_slots);
	sn_free(g);
	pthread_mutex_unlock(&st->writer);
	return err;
}

int store_group_end(struct store_group *g)
{
	return group_finish(g, true);
}

void store_group_abort(struct store_group *g)
{
	(void)group_finish(g, false);
}

int store_genesis_init(struct store *st, const struct store_genesis *g)
{
	struct store_wtxn *w;
	struct store_block_header hdr;
	struct store_account root;
	uint8_t block[STORE_BLOCK_HEADER_LEN];
	int err;

	if (!g->params.max_block_txs || g->params.max_block_txs > STORE_BLOCK_MAX_TXS)
		return SN_E_INVAL;
	if ((err = store_wtxn_begin(st, &w)))
		return err;
	if (w->base.has_genesis) {
		store_wtxn_abort(w);
		return SN_E_EXISTS;
	}
	w->params = g->params;
	err = wtxn_create(w, g->root, NULL, 0, g->root_balance, &root);
	for (size_t i = 0; i < g->n_gov && !err; i++)
		err = store_wtxn_gov_put(w, g->gov[i].key, g->gov[i].klen, g->gov[i].val, g->gov[i].vlen);
	for (size_t i = 0; i < g->n_accounts && !err; i++) {
		const struct store_genesis_account *ga = &g->accounts[i];
		struct store_account sponsor;

		err = store_wtxn_account_get(w, ga->sponsor, &sponsor);
		if (err == SN_E_NOTFOUND)
			err = SN_E_INVAL;
		if (!err)
			err = wtxn_create(w, ga->key, &sponsor, 0, ga->balance, NULL);
		if (err == SN_E_REGISTERED)
			err = SN_E_INVAL;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = STORE_BLOCK_V1;
	hdr.chain_id = w->base.chain_id;
	hdr.time_ms = g->time_ms;
	store_tx_root(hdr.tx_root, NULL, 0);
	if (!err)
		err = store_wtxn_state_root(w, hdr.state_root);
	if (err) {
		store_wtxn_abort(w);
		return err;
	}
	store_block_header_encode(block, &hdr);
	return store_wtxn_commit(w, &hdr, block, sizeof(block), NULL, 0);
}
