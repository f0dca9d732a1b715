/* node/mempool.c — pending transactions, admitted with the engine's own rules against a
 * speculative view of the tip plus everything pending before them. */
#include "node/mempool_int.h"

#include <sodium.h>

struct node_mempool {
	struct store *st;
	struct store_wtxn *view; /* tip + pending transactions; NULL while suspended */
	bool held;               /* a block is being built from the entries: append only */
	bool defer_rebuild;      /* out of memory in add: mark the view broken, not rebuilt there */
	bool broken;             /* the view may not match the entries: admission waits for a rebuild */
	struct node_mempool_entry *ent;
	size_t n, cap, bytes;
	size_t max_txs, max_bytes;
	uint32_t *slots; /* id → entry index + 1; open addressing */
	size_t n_slots;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

static size_t id_slot(const struct node_mempool *mp, const uint8_t id[SN_HASH_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, id, SN_HASH_LEN, mp->hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (mp->n_slots - 1);
}

static void index_insert(struct node_mempool *mp, size_t e)
{
	size_t i = id_slot(mp, mp->ent[e].id);

	while (mp->slots[i])
		i = (i + 1) & (mp->n_slots - 1);
	mp->slots[i] = (uint32_t)e + 1;
	mp->ent[e].slot = i;
}

/* Empties the index of the first n entries: their own slots only (the table is sized for
 * max_txs and a block usually takes a few hundred: no need to sweep it all). */
static void index_clear(struct node_mempool *mp, size_t n)
{
	if (n * 8 > mp->n_slots) {
		memset(mp->slots, 0, mp->n_slots * sizeof(*mp->slots));
		return;
	}
	for (size_t e = 0; e < n; e++)
		mp->slots[mp->ent[e].slot] = 0;
}

const struct node_mempool_entry *node_mempool_find(const struct node_mempool *mp, const uint8_t id[SN_HASH_LEN])
{
	for (size_t i = id_slot(mp, id);; i = (i + 1) & (mp->n_slots - 1)) {
		uint32_t s = mp->slots[i];

		if (!s)
			return NULL;
		if (memcmp(mp->ent[s - 1].id, id, SN_HASH_LEN) == 0)
			return &mp->ent[s - 1];
	}
}

int node_mempool_new(struct node_mempool **out, struct store *st, size_t max_txs, size_t max_bytes)
{
	struct node_mempool *mp;
	int err;

	*out = NULL;
	if (!max_txs || max_txs > (1u << 30))
		return SN_E_INVAL;
	mp = sn_calloc(1, sizeof(*mp));
	if (!mp)
		return SN_E_NOMEM;
	mp->st = st;
	mp->max_txs = max_txs;
	mp->max_bytes = max_bytes;
	for (mp->n_slots = 16; mp->n_slots < 2 * max_txs; mp->n_slots *= 2)
		;
	mp->slots = sn_calloc(mp->n_slots, sizeof(*mp->slots));
	mp->ent = sn_calloc(max_txs, sizeof(*mp->ent));
	mp->cap = max_txs;
	crypto_shorthash_keygen(mp->hash_key);
	if (!mp->slots || !mp->ent) {
		node_mempool_free(mp);
		return SN_E_NOMEM;
	}
	if ((err = store_wtxn_begin_speculative(st, &mp->view))) {
		node_mempool_free(mp);
		return err;
	}
	*out = mp;
	return SN_OK;
}

void node_mempool_free(struct node_mempool *mp)
{
	if (!mp)
		return;
	store_wtxn_abort(mp->view);
	for (size_t i = 0; i < mp->n; i++)
		sn_free(mp->ent[i].raw);
	sn_free(mp->ent);
	sn_free(mp->slots);
	sn_free(mp);
}

size_t node_mempool_count(const struct node_mempool *mp)
{
	return mp->n;
}

size_t node_mempool_bytes(const struct node_mempool *mp)
{
	return mp->bytes;
}

const struct node_mempool_entry *node_mempool_at(const struct node_mempool *mp, size_t i)
{
	return i < mp->n ? &mp->ent[i] : NULL;
}

int node_mempool_add(struct node_mempool *mp, const uint8_t *raw, size_t len, const struct store_tx *tx,
                     const uint8_t id[SN_HASH_LEN])
{
	return node_mempool_refuse_why(mp, id, node_mempool_try_add(mp, raw, len, tx, id));
}

int node_mempool_refuse_why(const struct node_mempool *mp, const uint8_t id[SN_HASH_LEN], int err)
{
	uint64_t h;
	uint32_t idx;

	/* A committed transaction always fails validation, on its spent nonce if nothing earlier:
	 * say what it is instead (looked up only now, which spares the store a read per accepted
	 * transaction). */
	if (err == SN_OK || err == SN_E_BUSY || err == SN_E_DUPTX || err == SN_E_MEMPOOL_FULL || err == SN_E_NOMEM)
		return err;
	return store_tx_locate(mp->st, id, &h, &idx) == SN_OK ? SN_E_DUPTX : err;
}

int node_mempool_try_add(struct node_mempool *mp, const uint8_t *raw, size_t len, const struct store_tx *tx,
                         const uint8_t id[SN_HASH_LEN])
{
	const struct store_info *tip;
	struct node_mempool_entry *e;
	int err;

	if (!mp->view || mp->broken)
		return SN_E_BUSY;
	if (node_mempool_find(mp, id))
		return SN_E_DUPTX;
	if (mp->n == mp->max_txs || mp->bytes + len > mp->max_bytes)
		return SN_E_MEMPOOL_FULL;
	tip = store_wtxn_info(mp->view);
	if ((err = node_tx_apply(mp->view, tx, tip->height + 1))) {
		if (err == SN_E_NOMEM) {
			/* A governance transaction may have changed the view partly: rebuild it (after
			 * the block, when one is being built from the entries). */
			if (mp->defer_rebuild) {
				mp->broken = true;
				return err;
			}
			store_wtxn_abort(mp->view);
			mp->view = NULL;
			if (!mp->held && node_mempool_resume(mp, NULL, 0, NULL) != SN_OK)
				SN_LOG(SN_LOG_ERROR, "mempool", "cannot rebuild the view after running out of memory");
			return err;
		}
		return err; /* node_mempool_refuse_why says whether it was committed */
	}
	e = &mp->ent[mp->n];
	e->raw = sn_malloc(len);
	if (!e->raw) {
		/* The view already holds the transaction: rebuild it without (after the block,
		 * when one is being built from the entries). */
		if (mp->defer_rebuild) {
			mp->broken = true;
			return SN_E_NOMEM;
		}
		store_wtxn_abort(mp->view);
		mp->view = NULL;
		if (!mp->held && (err = node_mempool_resume(mp, NULL, 0, NULL)))
			return err;
		return SN_E_NOMEM;
	}
	memcpy(e->raw, raw, len);
	e->len = len;
	e->tx = *tx;
	/* tx->payload borrows the caller's bytes: point it into our copy (same offset). */
	e->tx.payload = tx->payload_len ? e->raw + STORE_TX_HEADER_LEN : NULL;
	memcpy(e->id, id, SN_HASH_LEN);
	e->admitted_ns = sn_time_mono_ns();
	index_insert(mp, mp->n);
	mp->n++;
	mp->bytes += len;
	return SN_OK;
}

void node_mempool_defer_rebuild(struct node_mempool *mp)
{
	mp->defer_rebuild = true;
}

bool node_mempool_broken(const struct node_mempool *mp)
{
	return mp->broken;
}

int node_mempool_next_nonce(struct node_mempool *mp, const uint8_t signer[SN_PUBKEY_LEN], uint64_t *nonce)
{
	struct store_account a;
	int err;

	*nonce = 0;
	if (!mp->view || mp->broken)
		return SN_E_BUSY;
	if ((err = store_wtxn_account_get(mp->view, signer, &a)))
		return err;
	*nonce = a.nonce;
	return SN_OK;
}

void node_mempool_suspend(struct node_mempool *mp)
{
	store_wtxn_abort(mp->view);
	mp->view = NULL;
	mp->held = false;
	mp->broken = false;
}

void node_mempool_hold(struct node_mempool *mp)
{
	mp->held = true;
}

bool node_mempool_unhold(struct node_mempool *mp)
{
	if (!mp->view || mp->broken)
		return false;
	mp->held = false;
	return true;
}

int node_mempool_resume(struct node_mempool *mp, const uint8_t (*ids)[SN_HASH_LEN], size_t n, size_t *dropped)
{
	struct store_wtxn *view;
	int err;

	if (dropped)
		*dropped = 0;
	if ((err = store_wtxn_begin_speculative(mp->st, &view))) {
		node_mempool_suspend(mp);
		return err;
	}
	return node_mempool_resume_view(mp, view, ids, n, dropped);
}

int node_mempool_resume_view(struct node_mempool *mp, struct store_wtxn *view, const uint8_t (*ids)[SN_HASH_LEN],
                             size_t n, size_t *dropped)
{
	const struct store_info *tip;
	size_t kept = 0, bad = 0, i;
	int err = SN_OK;

	if (dropped)
		*dropped = 0;
	mp->held = false;
	mp->broken = false;
	store_wtxn_abort(mp->view);
	mp->view = view;
	tip = store_wtxn_info(mp->view);
	/* The committed ones, found through the index (still that of the entries as they are):
	 * their raw bytes are freed and NULLed, which marks them. Then the index is emptied
	 * while every entry still sits where its slot says. */
	for (size_t k = 0; k < n; k++) {
		struct node_mempool_entry *e = (struct node_mempool_entry *)node_mempool_find(mp, ids[k]);

		if (e && e->raw) {
			mp->bytes -= e->len;
			sn_free(e->raw);
			e->raw = NULL;
		}
	}
	index_clear(mp, mp->n);
	for (i = 0; i < mp->n; i++) {
		struct node_mempool_entry *e = &mp->ent[i];

		if (!e->raw)
			continue; /* committed */
		if ((err = node_tx_apply(mp->view, &e->tx, tip->height + 1))) {
			if (err == SN_E_NOMEM)
				break;
			SN_LOG(SN_LOG_DEBUG, "mempool", "dropped a transaction no longer valid: %s", sn_errname(err));
			mp->bytes -= e->len;
			sn_free(e->raw);
			bad++;
			continue;
		}
		mp->ent[kept++] = *e;
	}
	if (err == SN_E_NOMEM) {
		/* The view may be partly changed: drop it and everything not re-checked yet, so the
		 * entries and the index stay consistent; admission says SN_E_BUSY until the next
		 * block's resume builds a new view. */
		for (; i < mp->n; i++) {
			if (mp->ent[i].raw) {
				mp->bytes -= mp->ent[i].len;
				sn_free(mp->ent[i].raw);
				bad++;
			}
		}
		store_wtxn_abort(mp->view);
		mp->view = NULL;
	}
	mp->n = kept;
	for (i = 0; i < kept; i++)
		index_insert(mp, i);
	if (dropped)
		*dropped = bad;
	return err == SN_E_NOMEM ? err : SN_OK;
}
