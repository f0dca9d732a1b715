/* node/mempool.c — pending transactions, admitted with the engine's own rules against a
 * speculative view of the tip plus everything pending before them. */
#include "node/mempool_int.h"

#include <sodium.h>

struct node_mempool {
	struct store *st;
	struct store_wtxn *view; /* tip + pending transactions; NULL while suspended */
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

static void index_rebuild(struct node_mempool *mp)
{
	memset(mp->slots, 0, mp->n_slots * sizeof(*mp->slots));
	for (size_t e = 0; e < mp->n; e++) {
		size_t i = id_slot(mp, mp->ent[e].id);

		while (mp->slots[i])
			i = (i + 1) & (mp->n_slots - 1);
		mp->slots[i] = (uint32_t)e + 1;
	}
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
	const struct store_info *tip;
	struct node_mempool_entry *e;
	uint64_t h;
	uint32_t idx;
	size_t i;
	int err;

	if (!mp->view)
		return SN_E_BUSY;
	if (node_mempool_find(mp, id))
		return SN_E_DUPTX;
	if (mp->n == mp->max_txs || mp->bytes + len > mp->max_bytes)
		return SN_E_MEMPOOL_FULL;
	/* A committed transaction would fail on its nonce; say what it is instead. */
	if (store_tx_locate(mp->st, id, &h, &idx) == SN_OK)
		return SN_E_DUPTX;
	tip = store_wtxn_info(mp->view);
	if ((err = node_tx_apply(mp->view, tx, tip->height + 1))) {
		if (err == SN_E_NOMEM) {
			/* A governance transaction may have changed the view partly: rebuild it. */
			store_wtxn_abort(mp->view);
			mp->view = NULL;
			if (node_mempool_resume(mp, NULL, 0, NULL) != SN_OK)
				SN_LOG(SN_LOG_ERROR, "mempool", "cannot rebuild the view after running out of memory");
		}
		return err;
	}
	e = &mp->ent[mp->n];
	e->raw = sn_malloc(len);
	if (!e->raw) {
		/* The view already holds the transaction: rebuild it without. */
		store_wtxn_abort(mp->view);
		mp->view = NULL;
		if ((err = node_mempool_resume(mp, NULL, 0, NULL)))
			return err;
		return SN_E_NOMEM;
	}
	memcpy(e->raw, raw, len);
	e->len = len;
	e->tx = *tx;
	/* tx->payload borrows the caller's bytes: point it into our copy (same offset). */
	e->tx.payload = tx->payload_len ? e->raw + STORE_TX_HEADER_LEN : NULL;
	memcpy(e->id, id, SN_HASH_LEN);
	for (i = id_slot(mp, id); mp->slots[i]; i = (i + 1) & (mp->n_slots - 1))
		;
	mp->slots[i] = (uint32_t)mp->n + 1;
	mp->n++;
	mp->bytes += len;
	return SN_OK;
}

void node_mempool_suspend(struct node_mempool *mp)
{
	store_wtxn_abort(mp->view);
	mp->view = NULL;
}

static bool id_in(const uint8_t (*ids)[SN_HASH_LEN], size_t n, const uint8_t id[SN_HASH_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(ids[i], id, SN_HASH_LEN) == 0)
			return true;
	return false;
}

int node_mempool_resume(struct node_mempool *mp, const uint8_t (*ids)[SN_HASH_LEN], size_t n, size_t *dropped)
{
	const struct store_info *tip;
	size_t kept = 0, bad = 0;
	int err;

	if (dropped)
		*dropped = 0;
	store_wtxn_abort(mp->view);
	mp->view = NULL;
	if ((err = store_wtxn_begin_speculative(mp->st, &mp->view)))
		return err;
	tip = store_wtxn_info(mp->view);
	/* Blocks are proposed from the head of the mempool, so committed ones come first:
	 * compare against the committed ids only while they can still match. */
	for (size_t i = 0; i < mp->n; i++) {
		struct node_mempool_entry *e = &mp->ent[i];

		if (i < n + bad + kept + 1 && id_in(ids, n, e->id)) {
			mp->bytes -= e->len;
			sn_free(e->raw);
			continue;
		}
		if ((err = node_tx_apply(mp->view, &e->tx, tip->height + 1))) {
			SN_LOG(SN_LOG_DEBUG, "mempool", "dropped a transaction no longer valid: %s", sn_errname(err));
			mp->bytes -= e->len;
			sn_free(e->raw);
			bad++;
			if (err == SN_E_NOMEM)
				return err;
			continue;
		}
		mp->ent[kept++] = *e;
	}
	mp->n = kept;
	index_rebuild(mp);
	if (dropped)
		*dropped = bad;
	return SN_OK;
}
