/* tests/node/test_engine.c — the settlement engine: every validation error, whole-block
 * rejection, determinism across stores and thread counts, and team figures against the
 * naive ancestor-walk oracle. */
#include "testutil.h"

#include <pthread.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "node/node.h"

#define FEE 3

struct fixture {
	char *dir;
	struct store *st;
	struct node_engine *eng;
};

static struct fixture fx_new(unsigned threads, uint64_t min_fee)
{
	struct fixture f;
	struct node_engine_opts o = { .threads = threads };

	f.st = tu_store_new(&f.dir, 1000000000000ull, min_fee, true);
	assert_int_equal(node_engine_new(&f.eng, f.st, &o), SN_OK);
	return f;
}

/* Like fx_new, with node_engine_apply_blocks closing a commit group past group_txs, and an
 * initial LMDB map of map_size bytes. */
static struct fixture fx_new_grouped(unsigned threads, uint64_t min_fee, uint64_t group_txs, uint64_t map_size)
{
	struct fixture f;
	struct node_engine_opts o = { .threads = threads, .group_txs = group_txs };

	f.st = tu_store_new_map(&f.dir, 1000000000000ull, min_fee, true, map_size);
	assert_int_equal(node_engine_new(&f.eng, f.st, &o), SN_OK);
	return f;
}

static void fx_free(struct fixture *f)
{
	node_engine_free(f->eng);
	store_close(f->st);
	tu_rmtree(f->dir);
	free(f->dir);
}

/* Proposes a block of one transaction and returns that transaction's result. */
static int propose1(struct fixture *f, const uint8_t *tx, size_t len)
{
	const uint8_t *txs[1] = { tx };
	size_t lens[1] = { len }, inc;
	int errs[1];
	uint8_t *blk;
	size_t blen;

	assert_int_equal(node_engine_propose(f->eng, txs, lens, 1, &(struct node_propose_opts){ .time_ms = 1700000001000ull }, errs, &blk, &blen, &inc),
	                 SN_OK);
	sn_free(blk);
	assert_int_equal(inc, errs[0] == SN_OK ? 1 : 0);
	return errs[0];
}

static uint64_t nonce_of(struct fixture *f, uint64_t i)
{
	uint8_t pk[SN_PUBKEY_LEN];
	struct store_account a;

	tu_pk(i, pk);
	assert_int_equal(store_account_get(f->st, pk, &a), SN_OK);
	return a.nonce;
}

static void do_register(struct fixture *f, uint64_t sponsor, uint64_t fresh, uint64_t amount)
{
	uint8_t tx[STORE_TX_MAX], pk[SN_PUBKEY_LEN];
	size_t n;

	tu_pk(fresh, pk);
	n = tu_tx(tx, STORE_TX_REGISTER, sponsor, nonce_of(f, sponsor), FEE, pk, amount);
	assert_int_equal(propose1(f, tx, n), SN_OK);
}

static void test_every_error(void **state)
{
	struct fixture f = fx_new(2, FEE);
	uint8_t tx[STORE_TX_MAX], pk1[SN_PUBKEY_LEN], pk2[SN_PUBKEY_LEN], pk9[SN_PUBKEY_LEN];
	struct store_tx t;
	struct store_info before, after;
	size_t n;

	(void)state;
	tu_pk(1, pk1);
	tu_pk(2, pk2);
	tu_pk(9, pk9);
	do_register(&f, 0, 1, 5000);

	/* unknown sponsor: 9 is not registered */
	n = tu_tx(tx, STORE_TX_REGISTER, 9, 0, FEE, pk2, 0);
	assert_int_equal(propose1(&f, tx, n), SN_E_UNKNOWN_SPONSOR);
	/* unknown signer of a transfer */
	n = tu_tx(tx, STORE_TX_TRANSFER, 9, 0, FEE, pk1, 1);
	assert_int_equal(propose1(&f, tx, n), SN_E_UNKNOWN_ACCOUNT);
	/* already registered */
	n = tu_tx(tx, STORE_TX_REGISTER, 0, 1, FEE, pk1, 0);
	assert_int_equal(propose1(&f, tx, n), SN_E_REGISTERED);
	/* nonce not next (replay of nonce 0) */
	n = tu_tx(tx, STORE_TX_REGISTER, 0, 0, FEE, pk2, 0);
	assert_int_equal(propose1(&f, tx, n), SN_E_NONCE);
	/* unknown recipient */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk9, 1);
	assert_int_equal(propose1(&f, tx, n), SN_E_UNKNOWN_RECIPIENT);
	/* insufficient balance (5000 - fee) */
	tu_pk(0, pk2);
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, 4998);
	assert_int_equal(propose1(&f, tx, n), SN_E_BALANCE);
	/* amount zero */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, 0);
	assert_int_equal(propose1(&f, tx, n), SN_E_AMOUNT_ZERO);
	/* amount + fee overflows */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, UINT64_MAX - 1);
	assert_int_equal(propose1(&f, tx, n), SN_E_OVERFLOW);
	/* self transfer */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk1, 1);
	assert_int_equal(propose1(&f, tx, n), SN_E_SELF);
	/* fee below the minimum */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE - 1, pk2, 1);
	assert_int_equal(propose1(&f, tx, n), SN_E_FEE);
	/* registering an invalid key (x not on the curve: all 0xff is above p) */
	{
		uint8_t bad[SN_PUBKEY_LEN];

		memset(bad, 0xff, sizeof(bad));
		n = tu_tx(tx, STORE_TX_REGISTER, 0, 1, FEE, bad, 0);
		assert_int_equal(propose1(&f, tx, n), SN_E_BADKEY);
	}
	/* bad signature: flip one bit of the signature */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, 1);
	tx[n - 1] ^= 1;
	assert_int_equal(propose1(&f, tx, n), SN_E_BADSIG);
	/* signature over other fields: change the amount after signing */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, 1);
	assert_int_equal(store_tx_decode(&t, tx, n), SN_OK);
	t.amount = 2;
	assert_int_equal(store_tx_encode(tx, sizeof(tx), &n, &t), SN_OK);
	assert_int_equal(propose1(&f, tx, n), SN_E_BADSIG);
	/* wrong chain id (signed for another chain) */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, 1);
	assert_int_equal(store_tx_decode(&t, tx, n), SN_OK);
	t.chain_id = TU_CHAIN + 1;
	assert_int_equal(store_tx_encode(tx, sizeof(tx), &n, &t), SN_OK);
	assert_int_equal(propose1(&f, tx, n), SN_E_CHAIN);
	/* trailing bytes, unknown version, unknown type */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, 1);
	tx[n] = 0;
	assert_int_equal(propose1(&f, tx, n + 1), SN_E_TRAILING);
	tx[0] = 2;
	assert_int_equal(propose1(&f, tx, n), SN_E_VERSION);
	tx[0] = 1;
	tx[1] = 9;
	assert_int_equal(propose1(&f, tx, n), SN_E_TYPE);

	/* None of the failures changed anything but the height (empty blocks). */
	store_info_get(f.st, &before);
	assert_int_equal(nonce_of(&f, 1), 0);
	assert_int_equal(before.treasury, FEE);
	/* and a valid transfer still goes through */
	n = tu_tx(tx, STORE_TX_TRANSFER, 1, 0, FEE, pk2, 100);
	assert_int_equal(propose1(&f, tx, n), SN_OK);
	store_info_get(f.st, &after);
	assert_int_equal(after.treasury, 2 * FEE);
	assert_int_equal(after.height, before.height + 1);
	fx_free(&f);
}

/* ------------------------------------------------------------------ oracle */

struct oracle {
	struct store_account *a;
	size_t n, cap;
};

static int oracle_add(void *ud, const struct store_account *a)
{
	struct oracle *o = ud;

	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 256;
		o->a = realloc(o->a, o->cap * sizeof(*o->a));
		assert_non_null(o->a);
	}
	o->a[o->n++] = *a;
	return 0;
}

/* Every account's team figures from the store equal the naive ancestor walk's. */
static void check_against_oracle(struct store *st)
{
	struct oracle o = { 0 };
	struct store_account **by_seq;
	uint64_t *size;
	unsigned __int128 *vol;

	assert_int_equal(store_account_foreach(st, oracle_add, &o), SN_OK);
	by_seq = calloc(o.n, sizeof(*by_seq));
	size = calloc(o.n, sizeof(*size));
	vol = calloc(o.n, sizeof(*vol));
	for (size_t i = 0; i < o.n; i++) {
		assert_true(o.a[i].seq < o.n);
		by_seq[o.a[i].seq] = &o.a[i];
	}
	for (size_t i = 0; i < o.n; i++) {
		uint64_t s = i;

		vol[i] += by_seq[i]->personal_volume;
		while (s != 0) { /* the ancestor walk */
			s = by_seq[s]->sponsor_seq;
			size[s]++;
			vol[s] += by_seq[i]->personal_volume;
		}
	}
	for (size_t i = 0; i < o.n; i++) {
		struct store_team t;

		assert_int_equal(store_team_get(st, by_seq[i]->key, &t), SN_OK);
		assert_int_equal(t.size, size[i]);
		assert_true(t.volume == vol[i]);
	}
	free(by_seq);
	free(size);
	free(vol);
	free(o.a);
}

/* Random registrations and transfers in multi-transaction blocks; some invalid on purpose
 * (too much, to itself, to a key whose registration failed). reg[] holds the key indexes of
 * registered accounts, *next_key the next unused key index. */
struct keyset {
	uint64_t reg[4096];
	uint64_t nonce[4096];
	size_t n_reg;
	uint64_t next_key;
};

static void keyset_refresh(struct fixture *f, struct keyset *ks)
{
	uint8_t pk[SN_PUBKEY_LEN];
	struct store_account a;

	ks->n_reg = 0;
	for (uint64_t k = 0; k < ks->next_key && ks->n_reg < 4096; k++) {
		tu_pk(k, pk);
		if (store_account_get(f->st, pk, &a) == SN_OK) {
			ks->reg[ks->n_reg] = k;
			ks->nonce[ks->n_reg++] = a.nonce;
		}
	}
}

static void random_blocks(struct fixture *f, struct tu_rng *rng, int blocks, int per_block, struct keyset *ks)
{
	static uint8_t bufs[512][STORE_TX_MAX];
	const uint8_t *txs[512];
	size_t lens[512], inc;
	int errs[512];

	assert_true(per_block <= 512);
	keyset_refresh(f, ks);
	for (int b = 0; b < blocks; b++) {
		uint8_t *blk;
		size_t blen;

		for (int k = 0; k < per_block; k++) {
			uint8_t to[SN_PUBKEY_LEN];
			size_t from = tu_rand_below(rng, ks->n_reg);

			if (tu_rand_below(rng, 3) == 0 && ks->next_key < 4000) {
				tu_pk(ks->next_key++, to);
				lens[k] = tu_tx(bufs[k], STORE_TX_REGISTER, ks->reg[from], ks->nonce[from], FEE, to,
				                tu_rand_below(rng, 100000));
			} else {
				tu_pk(tu_rand_below(rng, ks->next_key), to);
				lens[k] = tu_tx(bufs[k], STORE_TX_TRANSFER, ks->reg[from], ks->nonce[from], FEE, to,
				                1 + tu_rand_below(rng, tu_rand_below(rng, 10) ? 5000 : 1u << 30));
			}
			txs[k] = bufs[k];
			ks->nonce[from]++;
		}
		assert_int_equal(node_engine_propose(f->eng, txs, lens, (size_t)per_block,
		                                     &(struct node_propose_opts){ .time_ms = 1700000002000ull + (uint64_t)b }, errs, &blk, &blen, &inc), SN_OK);
		sn_free(blk);
		/* Re-read the truth: rejected transactions did not consume nonces. */
		keyset_refresh(f, ks);
	}
}

static void test_team_figures_match_oracle(void **state)
{
	struct fixture f = fx_new(2, FEE);
	struct tu_rng rng = { tu_seed("team_figures_match_oracle") };
	static struct keyset ks;
	struct store_info info;

	(void)state;
	/* A chain first, so depth is real. */
	for (uint64_t i = 1; i <= 40; i++)
		do_register(&f, i - 1, i, 1000000000ull - i * 1000000ull);
	ks.next_key = 41;
	random_blocks(&f, &rng, 30, 200, &ks);
	store_info_get(f.st, &info);
	assert_true(info.accounts > 500);
	check_against_oracle(f.st);
	fx_free(&f);
}

/* Blocks proposed on one store apply on another with the same genesis, for any thread count
 * and commit-group size, and all end with the same state root; and the team figures survive
 * a reopen. */
static void test_replay_is_deterministic(void **state)
{
	struct fixture a = fx_new(2, FEE), b = fx_new(1, FEE), c = fx_new(3, FEE);
	struct fixture d = fx_new_grouped(2, FEE, 500, 64u << 20); /* a group closes every block or two */
	struct fixture e = fx_new_grouped(2, FEE, 0, 128u << 10);  /* its map fills up mid-group */
	struct tu_rng rng = { tu_seed("replay_is_deterministic") };
	struct store_info ia, ib, ic, id, ie;
	static struct keyset ks;
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true };

	(void)state;
	for (uint64_t i = 1; i <= 8; i++)
		do_register(&a, 0, i, 1000000000ull);
	ks.next_key = 9;
	random_blocks(&a, &rng, 12, 300, &ks);
	store_info_get(a.st, &ia);
	assert_true(ia.accounts > 50);
	/* b applies block by block; c applies them all at once, pipelined. */
	{
		uint8_t **blks = calloc(ia.height, sizeof(*blks));
		size_t *lens = calloc(ia.height, sizeof(*lens)), applied;
		struct node_block_result r;

		for (uint64_t h = 1; h <= ia.height; h++) {
			assert_int_equal(store_block_get(a.st, h, &blks[h - 1], &lens[h - 1]), SN_OK);
			assert_int_equal(node_engine_apply_block(b.eng, blks[h - 1], lens[h - 1], NULL, 0, &r), SN_OK);
			/* applying the same block twice is refused */
			assert_int_equal(node_engine_apply_block(b.eng, blks[h - 1], lens[h - 1], NULL, 0, &r), SN_E_HEIGHT);
		}
		/* A pipelined run that meets a bad block stops there, with the ones before it applied. */
		blks[5][STORE_BLOCK_HEADER_LEN - 4 - 32] ^= 1; /* block 6's state root */
		assert_int_equal(node_engine_apply_blocks(c.eng, (const uint8_t *const *)blks, lens, NULL, NULL,
		                                          ia.height, &applied, &r),
		                 SN_E_STATEROOT);
		assert_int_equal(applied, 5);
		store_info_get(c.st, &ic);
		assert_int_equal(ic.height, 5);
		blks[5][STORE_BLOCK_HEADER_LEN - 4 - 32] ^= 1;
		assert_int_equal(node_engine_apply_blocks(c.eng, (const uint8_t *const *)blks + 5, lens + 5, NULL, NULL,
		                                          ia.height - 5, &applied, &r),
		                 SN_OK);
		assert_int_equal(applied, ia.height - 5);
		check_against_oracle(c.st); /* the team figures a group defers are all there */
		/* d: small groups, one of which ends at a bad block (the blocks before it stay). */
		blks[8][STORE_BLOCK_HEADER_LEN - 4 - 32] ^= 1;
		assert_int_equal(node_engine_apply_blocks(d.eng, (const uint8_t *const *)blks, lens, NULL, NULL,
		                                          ia.height, &applied, &r),
		                 SN_E_STATEROOT);
		assert_int_equal(applied, 8);
		store_info_get(d.st, &id);
		assert_int_equal(id.height, 8);
		check_against_oracle(d.st);
		blks[8][STORE_BLOCK_HEADER_LEN - 4 - 32] ^= 1;
		assert_int_equal(node_engine_apply_blocks(d.eng, (const uint8_t *const *)blks + 8, lens + 8, NULL, NULL,
		                                          ia.height - 8, &applied, &r),
		                 SN_OK);
		store_info_get(d.st, &id);
		assert_memory_equal(ia.state_root, id.state_root, SN_HASH_LEN);
		/* e: the map fills up inside the group: it grows and the run is applied again */
		store_info_get(e.st, &ie);
		assert_int_equal(node_engine_apply_blocks(e.eng, (const uint8_t *const *)blks, lens, NULL, NULL,
		                                          ia.height, &applied, &r),
		                 SN_OK);
		assert_int_equal(applied, ia.height);
		store_info_get(e.st, &id);
		assert_memory_equal(ia.state_root, id.state_root, SN_HASH_LEN);
		assert_true(id.map_size > ie.map_size);
		assert_true(ia.height * 300 * (32 + 100) > ie.map_size); /* it cannot have fitted */
		check_against_oracle(e.st);
		for (uint64_t h = 0; h < ia.height; h++)
			sn_free(blks[h]);
		free(blks);
		free(lens);
	}
	store_info_get(b.st, &ib);
	store_info_get(c.st, &ic);
	assert_memory_equal(ia.state_root, ib.state_root, SN_HASH_LEN);
	assert_memory_equal(ia.state_root, ic.state_root, SN_HASH_LEN);
	assert_memory_equal(ia.tip_hash, ib.tip_hash, SN_HASH_LEN);
	/* reopen: the rebuilt indexes give the same root and the oracle still agrees */
	node_engine_free(b.eng);
	store_close(b.st);
	assert_int_equal(store_open(&b.st, b.dir, &o), SN_OK);
	assert_int_equal(node_engine_new(&b.eng, b.st, NULL), SN_OK);
	store_info_get(b.st, &ib);
	assert_memory_equal(ia.state_root, ib.state_root, SN_HASH_LEN);
	check_against_oracle(b.st);
	fx_free(&a);
	fx_free(&b);
	fx_free(&c);
	fx_free(&d);
	fx_free(&e);
}

/* Reopens f's store with or without the txs index (and a new engine on it), writing a
 * generation every txgen transactions; with tight, with a map no larger than what the store
 * holds (LMDB keeps the map at least that large). */
static void fx_reopen_map(struct fixture *f, bool tx_index, size_t txgen, bool tight)
{
	struct store_opts o = { .chain_id = TU_CHAIN, .no_sync = true, .no_tx_index = !tx_index, .txgen_txs = txgen,
		                .map_size = tight ? 4096 : 0 };

	node_engine_free(f->eng);
	store_close(f->st);
	assert_int_equal(store_open(&f->st, f->dir, &o), SN_OK);
	assert_int_equal(node_engine_new(&f->eng, f->st, NULL), SN_OK);
}

static void fx_reopen(struct fixture *f, bool tx_index)
{
	fx_reopen_map(f, tx_index, 700, false);
}

/* b's index against the blocks of a (b holds the same chain): every transaction of a block
 * below b's gap (store_tx_index_gap; none: the tip + 1) is found where its block holds it,
 * none above. Returns how many transactions were found. */
static size_t index_matches_blocks(struct store *a, struct store *b)
{
	struct store_info ib;
	uint64_t from;
	size_t found = 0;

	store_info_get(b, &ib);
	if (store_tx_index_gap(b, &from) != SN_OK)
		from = ib.height + 1;
	for (uint64_t h = 1; h <= ib.height; h++) {
		struct store_block blk;
		uint8_t *raw, id[SN_HASH_LEN];
		const uint8_t *tx;
		size_t len, tlen, pos = 0;

		assert_int_equal(store_block_get(a, h, &raw, &len), SN_OK);
		assert_int_equal(store_block_decode(&blk, raw, len), SN_OK);
		for (uint32_t i = 0; store_block_next_tx(&blk, &pos, &tx, &tlen); i++) {
			uint64_t hb;
			uint32_t ib2;

			store_tx_id(id, tx, tlen);
			if (h >= from) {
				assert_int_equal(store_tx_locate(b, id, &hb, &ib2), SN_E_NOTFOUND);
				continue;
			}
			assert_int_equal(store_tx_locate(b, id, &hb, &ib2), SN_OK);
			assert_int_equal(hb, h);
			assert_int_equal(ib2, i);
			found++;
		}
		sn_free(raw);
	}
	return found;
}

/* Blocks of per_block transfers each, among accounts 1..8 (registered), all valid. */
static void transfer_blocks(struct fixture *f, int blocks, size_t per_block)
{
	static uint8_t bufs[512][STORE_TX_MAX];
	const uint8_t *txs[512];
	size_t lens[512], inc;
	uint64_t nonce[9];
	int errs[512];

	assert_true(per_block <= 512);
	for (int b = 0; b < blocks; b++) {
		struct node_propose_opts o = { .time_ms = 1700000002000ull + (uint64_t)b };
		uint8_t *blk, to[SN_PUBKEY_LEN];
		size_t blen;

		for (uint64_t i = 1; i <= 8; i++)
			nonce[i] = nonce_of(f, i);
		for (size_t k = 0; k < per_block; k++) {
			uint64_t from = 1 + k % 8;

			tu_pk(1 + (k + 1) % 8, to);
			lens[k] = tu_tx(bufs[k], STORE_TX_TRANSFER, from, nonce[from]++, FEE, to, 1);
			txs[k] = bufs[k];
		}
		assert_int_equal(node_engine_propose(f->eng, txs, lens, per_block, &o, errs, &blk, &blen, &inc), SN_OK);
		assert_int_equal(inc, per_block);
		sn_free(blk);
	}
}

/* The txs index (docs/storage.md): ids in memory, written as a generation every 700 here,
 * by blocks committed alone and by commit groups; rebuilt from the blocks at open. Without
 * the index (store_opts.no_tx_index) nothing from the first block not written on is found,
 * and the store says so; opened with it again, it indexes them, growing a map that fills. */
static void test_txs_index(void **state)
{
	enum { ALL = 8 + 8 * 500 };
	struct fixture a = fx_new(2, FEE), b = fx_new_grouped(2, FEE, 2000, 64u << 20),
	               c = fx_new_grouped(2, FEE, 2000, 64u << 20);
	struct store_info ia, ib0, ib1;
	uint8_t **blks;
	size_t *lens, applied;
	struct node_block_result r;
	uint64_t from;

	(void)state;
	fx_reopen(&a, true);
	for (uint64_t i = 1; i <= 8; i++)
		do_register(&a, 0, i, 1000000000ull);
	transfer_blocks(&a, 8, 500);
	store_info_get(a.st, &ia);
	assert_int_equal(store_tx_index_gap(a.st, &from), SN_E_NOTFOUND);
	assert_int_equal(index_matches_blocks(a.st, a.st), ALL); /* block by block: 5 generations */
	fx_reopen(&a, true);
	assert_int_equal(index_matches_blocks(a.st, a.st), ALL); /* the rest rebuilt from blocks */
	blks = calloc(ia.height, sizeof(*blks));
	lens = calloc(ia.height, sizeof(*lens));
	for (uint64_t h = 1; h <= ia.height; h++)
		assert_int_equal(store_block_get(a.st, h, &blks[h - 1], &lens[h - 1]), SN_OK);

	/* c: commit groups of ~2000 with the index: a generation per group */
	fx_reopen(&c, true);
	assert_int_equal(node_engine_apply_blocks(c.eng, (const uint8_t *const *)blks, lens, NULL, NULL, ia.height,
	                                          &applied, &r),
	                 SN_OK);
	assert_int_equal(index_matches_blocks(a.st, c.st), ALL);
	fx_reopen(&c, true);
	assert_int_equal(index_matches_blocks(a.st, c.st), ALL);

	/* b: blocks 1..4 with the index (in memory only), the rest without, in groups */
	fx_reopen(&b, true);
	assert_int_equal(node_engine_apply_blocks(b.eng, (const uint8_t *const *)blks, lens, NULL, NULL, 4, &applied, &r),
	                 SN_OK);
	assert_int_equal(index_matches_blocks(a.st, b.st), 4);
	fx_reopen(&b, false);
	assert_int_equal(store_tx_index_gap(b.st, &from), SN_OK);
	assert_int_equal(from, 0); /* memory (the genesis block on) is not kept without the index */
	assert_int_equal(node_engine_apply_blocks(b.eng, (const uint8_t *const *)blks + 4, lens + 4, NULL, NULL,
	                                          ia.height - 5, &applied, &r),
	                 SN_OK);
	assert_int_equal(node_engine_apply_block(b.eng, blks[ia.height - 1], lens[ia.height - 1], NULL, 0, &r), SN_OK);
	assert_int_equal(store_tx_index_gap(b.st, &from), SN_OK);
	assert_int_equal(from, 0);
	assert_int_equal(index_matches_blocks(a.st, b.st), 0);
	/* with the index again, from a map no larger than the store: everything, the map grown */
	fx_reopen_map(&b, false, 700, true);
	store_info_get(b.st, &ib0);
	fx_reopen_map(&b, true, 1200, true); /* generations through blocks 11 and 14; 15, 16 in memory */
	store_info_get(b.st, &ib1);
	assert_true(ib1.map_size > ib0.map_size);
	assert_int_equal(store_tx_index_gap(b.st, &from), SN_E_NOTFOUND);
	assert_int_equal(index_matches_blocks(a.st, b.st), ALL);
	store_info_get(b.st, &ib1);
	assert_int_equal(ib1.height, ia.height);
	assert_memory_equal(ib1.state_root, ia.state_root, SN_HASH_LEN);
	/* without it once more: the generations written stay found, memory's blocks do not */
	fx_reopen(&b, false);
	assert_int_equal(store_tx_index_gap(b.st, &from), SN_OK);
	assert_int_equal(from, 15);
	assert_int_equal(index_matches_blocks(a.st, b.st), ALL - 2 * 500);

	/* a producer without the index: its next block is not found until it has it again */
	fx_reopen(&a, false);
	do_register(&a, 0, 100000, 1);
	assert_int_equal(store_tx_index_gap(a.st, &from), SN_OK);
	assert_true(index_matches_blocks(a.st, a.st) < ALL + 1);
	fx_reopen(&a, true);
	assert_int_equal(store_tx_index_gap(a.st, &from), SN_E_NOTFOUND);
	assert_int_equal(index_matches_blocks(a.st, a.st), ALL + 1);
	for (uint64_t h = 0; h < ia.height; h++)
		sn_free(blks[h]);
	free(blks);
	free(lens);
	fx_free(&a);
	fx_free(&b);
	fx_free(&c);
}

/* Builds a block by hand (valid header fields, given transactions, correct tx root, given
 * state root). *out is malloc'd. */
static size_t hand_block(struct store *st, const uint8_t *const *txs, const size_t *lens, uint32_t n,
                         const uint8_t state_root[SN_HASH_LEN], uint8_t **out)
{
	struct store_info info;
	struct store_block_header h;
	uint8_t(*ids)[SN_HASH_LEN] = calloc(n ? n : 1, SN_HASH_LEN);
	size_t cap = STORE_BLOCK_HEADER_LEN, off;
	uint8_t *buf;

	store_info_get(st, &info);
	for (uint32_t i = 0; i < n; i++) {
		store_tx_id(ids[i], txs[i], lens[i]);
		cap += 4 + lens[i];
	}
	tu_header_next(&h, &info, (const uint8_t(*)[SN_HASH_LEN])ids, n);
	memcpy(h.state_root, state_root, SN_HASH_LEN);
	buf = malloc(cap);
	store_block_header_encode(buf, &h);
	off = STORE_BLOCK_HEADER_LEN;
	for (uint32_t i = 0; i < n; i++) {
		buf[off] = (uint8_t)lens[i];
		buf[off + 1] = (uint8_t)(lens[i] >> 8);
		buf[off + 2] = buf[off + 3] = 0;
		memcpy(buf + off + 4, txs[i], lens[i]);
		off += 4 + lens[i];
	}
	free(ids);
	*out = buf;
	return off;
}

static void test_block_rejected_whole(void **state)
{
	struct fixture f = fx_new(2, FEE);
	uint8_t t1[STORE_TX_MAX], t2[STORE_TX_MAX], t3[STORE_TX_MAX], pk1[SN_PUBKEY_LEN], pk2[SN_PUBKEY_LEN];
	const uint8_t *txs[3] = { t1, t2, t3 };
	size_t lens[3];
	uint8_t zero[SN_HASH_LEN] = { 0 }, *blk;
	size_t len;
	struct node_block_result r;
	struct store_info before, after;
	struct store_account a;

	(void)state;
	tu_pk(1, pk1);
	tu_pk(2, pk2);
	lens[0] = tu_tx(t1, STORE_TX_REGISTER, 0, 0, FEE, pk1, 1000);
	lens[1] = tu_tx(t2, STORE_TX_TRANSFER, 1, 0, FEE, pk1, 10); /* self: invalid */
	lens[2] = tu_tx(t3, STORE_TX_REGISTER, 0, 1, FEE, pk2, 1000);
	store_info_get(f.st, &before);

	len = hand_block(f.st, txs, lens, 3, zero, &blk);
	assert_int_equal(node_engine_apply_block(f.eng, blk, len, NULL, 0, &r), SN_E_SELF);
	assert_int_equal(r.tx_index, 1);
	free(blk);
	store_info_get(f.st, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(store_account_get(f.st, pk1, &a), SN_E_NOTFOUND);

	/* All valid but a wrong state root: rejected, unchanged. */
	{
		uint8_t root_pk[SN_PUBKEY_LEN];

		tu_pk(0, root_pk);
		lens[1] = tu_tx(t2, STORE_TX_TRANSFER, 1, 0, FEE, root_pk, 10);
	}
	len = hand_block(f.st, txs, lens, 3, zero, &blk);
	assert_int_equal(node_engine_apply_block(f.eng, blk, len, NULL, 0, &r), SN_E_STATEROOT);
	assert_int_equal(r.tx_index, -1);
	free(blk);
	store_info_get(f.st, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(store_account_get(f.st, pk1, &a), SN_E_NOTFOUND);

	/* A tampered tx root, a wrong height, a wrong parent, a wrong chain, an old time. */
	len = hand_block(f.st, txs, lens, 3, zero, &blk);
	blk[1 + 4 + 8 + 32 + 8 + 32] ^= 1; /* tx_root */
	assert_int_equal(node_engine_apply_block(f.eng, blk, len, NULL, 0, &r), SN_E_TXROOT);
	blk[1 + 4 + 8 + 32 + 8 + 32] ^= 1;
	blk[5] ^= 1; /* height */
	assert_int_equal(node_engine_apply_block(f.eng, blk, len, NULL, 0, &r), SN_E_HEIGHT);
	blk[5] ^= 1;
	blk[13] ^= 1; /* prev hash */
	assert_int_equal(node_engine_apply_block(f.eng, blk, len, NULL, 0, &r), SN_E_PREV);
	blk[13] ^= 1;
	blk[1] ^= 1; /* chain id */
	assert_int_equal(node_engine_apply_block(f.eng, blk, len, NULL, 0, &r), SN_E_CHAIN);
	blk[1] ^= 1;
	memset(blk + 1 + 4 + 8 + 32, 0, 8); /* time 0 */
	assert_int_equal(node_engine_apply_block(f.eng, blk, len, NULL, 0, &r), SN_E_TIME);
	assert_int_equal(node_engine_apply_block(f.eng, blk, len - 1, NULL, 0, &r), SN_E_TRUNCATED);
	free(blk);
	store_info_get(f.st, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	fx_free(&f);
}

/* Fault injection: failing the Nth allocation anywhere in propose leaves the store as it was
 * (or applies the block fully). */
static void test_alloc_failures_leave_store_consistent(void **state)
{
	struct fixture f = fx_new(1, FEE);
	uint8_t t1[STORE_TX_MAX], pk[SN_PUBKEY_LEN];
	const uint8_t *txs[1] = { t1 };
	size_t lens[1], inc, blen;
	int errs[1];
	uint8_t *blk;
	size_t landed = 0;

	(void)state;
	fx_reopen_map(&f, true, 1, false); /* every commit writes a txs index generation too */
	for (unsigned long nth = 1; nth < 200; nth++) {
		struct store_info before, after;
		int err;

		store_info_get(f.st, &before);
		tu_pk(100 + nth, pk);
		lens[0] = tu_tx(t1, STORE_TX_REGISTER, 0, nonce_of(&f, 0), FEE, pk, 1);
		sn_alloc_fail_after(nth);
		err = node_engine_propose(f.eng, txs, lens, 1, &(struct node_propose_opts){ .time_ms = 1700000003000ull }, errs, &blk, &blen, &inc);
		sn_alloc_fail_after(0);
		store_info_get(f.st, &after);
		if (err == SN_OK) {
			sn_free(blk);
			landed += inc;
			assert_int_equal(after.height, before.height + 1);
			if (inc == 0)
				assert_int_equal(errs[0], SN_E_NOMEM);
		} else {
			assert_int_equal(err, SN_E_NOMEM);
			assert_memory_equal(&before, &after, sizeof(before));
		}
	}
	check_against_oracle(f.st);
	assert_int_equal(index_matches_blocks(f.st, f.st), landed); /* every registration that landed */
	assert_true(landed > 0);
	fx_free(&f);
}

/* node_engine_check_async: every check runs exactly once, and done once after all of them,
 * for jobs of every size and chunk, posted while the same engine proposes blocks on this
 * thread (its own checks share the helpers). Without helpers it all runs in the caller;
 * without memory nothing runs. */
struct async_job {
	size_t n;
	atomic_uint *runs;  /* per index */
	atomic_bool done;
	atomic_uint *finished, *bad; /* shared counters */
};

static void async_check(void *ud, size_t i)
{
	struct async_job *j = ud;

	if (i >= j->n || atomic_load(&j->done))
		atomic_fetch_add(j->bad, 1);
	else
		atomic_fetch_add(&j->runs[i], 1);
}

static void async_done(void *ud)
{
	struct async_job *j = ud;

	for (size_t i = 0; i < j->n; i++)
		if (atomic_load(&j->runs[i]) != 1)
			atomic_fetch_add(j->bad, 1);
	if (atomic_exchange(&j->done, true))
		atomic_fetch_add(j->bad, 1);
	atomic_fetch_add(j->finished, 1);
}

static void async_job_init(struct async_job *j, size_t n, atomic_uint *finished, atomic_uint *bad)
{
	j->n = n;
	j->runs = calloc(n ? n : 1, sizeof(*j->runs));
	atomic_init(&j->done, false);
	j->finished = finished;
	j->bad = bad;
}

static void test_check_async(void **state)
{
	enum { JOBS = 60 };
	static struct async_job jobs[JOBS];
	static const size_t chunks[] = { 0, 1, 3, 16 };
	atomic_uint finished, bad;
	struct fixture f = fx_new(2, FEE);

	(void)state;
	atomic_init(&finished, 0);
	atomic_init(&bad, 0);
	for (unsigned k = 0; k < JOBS; k++) {
		async_job_init(&jobs[k], 1 + (k * 37) % 97, &finished, &bad);
		assert_int_equal(node_engine_check_async(f.eng, jobs[k].n, chunks[k % 4], async_check, async_done, &jobs[k]),
		                 SN_OK);
		if (k % 10 == 0)
			do_register(&f, 0, 1000 + k, 1000); /* the engine's own checks, meanwhile */
	}
	for (int i = 0; atomic_load(&finished) < JOBS; i++) {
		assert_true(i < 10000); /* within 10 s */
		usleep(1000);
	}
	usleep(20000); /* a late extra check or done would show here */
	assert_int_equal(atomic_load(&finished), JOBS);
	assert_int_equal(atomic_load(&bad), 0);
	fx_free(&f); /* every done ran: the engine may go */
	for (unsigned k = 0; k < JOBS; k++)
		free(jobs[k].runs);

	/* No helper threads: the caller runs everything before the call returns. */
	f = fx_new(1, FEE);
	atomic_store(&finished, 0);
	async_job_init(&jobs[0], 10, &finished, &bad);
	assert_int_equal(node_engine_check_async(f.eng, 10, 4, async_check, async_done, &jobs[0]), SN_OK);
	assert_int_equal(atomic_load(&finished), 1);
	assert_int_equal(atomic_load(&bad), 0);
	free(jobs[0].runs);
	fx_free(&f);

	/* Out of memory: SN_E_NOMEM and nothing runs. */
	f = fx_new(2, FEE);
	async_job_init(&jobs[0], 10, &finished, &bad);
	sn_alloc_fail_after(1);
	assert_int_equal(node_engine_check_async(f.eng, 10, 1, async_check, async_done, &jobs[0]), SN_E_NOMEM);
	sn_alloc_fail_after(0);
	usleep(20000);
	assert_int_equal(atomic_load(&finished), 1);
	assert_int_equal(atomic_load(&jobs[0].runs[0]), 0);
	free(jobs[0].runs);
	fx_free(&f);
}

/* node_engine_check: the caller and the free helpers run every check exactly once before it
 * returns; helpers stuck in older work take no part and do not hold it up; several threads
 * may call it at once. */
static atomic_bool gate_open;

static void gate_check(void *ud, size_t i)
{
	(void)ud;
	(void)i;
	while (!atomic_load(&gate_open))
		usleep(100);
}

static void gate_done(void *ud)
{
	atomic_store((atomic_bool *)ud, true);
}

struct sync_job {
	struct node_engine *eng;
	size_t n;
	atomic_uint *runs;
};

static void sync_check(void *ud, size_t i)
{
	struct sync_job *j = ud;

	atomic_fetch_add(&j->runs[i], 1);
}

static void *sync_caller(void *arg)
{
	struct sync_job *j = arg;

	node_engine_check(j->eng, j->n, 3, sync_check, j);
	return NULL;
}

static void sync_expect_once(const struct sync_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		assert_int_equal(atomic_load(&j->runs[i]), 1);
}

static void test_check_sync(void **state)
{
	struct fixture f = fx_new(2, FEE);
	struct sync_job j[3];
	pthread_t t[3];
	atomic_bool gated_done;

	(void)state;
	for (int k = 0; k < 3; k++)
		j[k] = (struct sync_job){ .eng = f.eng, .n = 500 + 100 * (size_t)k, .runs = calloc(800, sizeof(atomic_uint)) };
	/* Free helpers, three callers at once. */
	for (int k = 0; k < 3; k++)
		assert_int_equal(pthread_create(&t[k], NULL, sync_caller, &j[k]), 0);
	for (int k = 0; k < 3; k++) {
		pthread_join(t[k], NULL);
		sync_expect_once(&j[k]);
		memset(j[k].runs, 0, 800 * sizeof(atomic_uint));
	}
	/* Both helpers held by an older job: the caller checks everything itself, and returns
	 * while they are still held. */
	atomic_store(&gate_open, false);
	atomic_init(&gated_done, false);
	assert_int_equal(node_engine_check_async(f.eng, 2, 1, gate_check, gate_done, &gated_done), SN_OK);
	usleep(20000); /* both helpers inside it */
	node_engine_check(f.eng, j[0].n, 3, sync_check, &j[0]);
	sync_expect_once(&j[0]);
	assert_false(atomic_load(&gated_done));
	atomic_store(&gate_open, true);
	for (int i = 0; !atomic_load(&gated_done); i++) {
		assert_true(i < 10000);
		usleep(1000);
	}
	fx_free(&f);
	/* No helper threads: the caller alone. */
	f = fx_new(1, FEE);
	memset(j[1].runs, 0, 800 * sizeof(atomic_uint));
	j[1].eng = f.eng;
	node_engine_check(f.eng, j[1].n, 0, sync_check, &j[1]);
	sync_expect_once(&j[1]);
	fx_free(&f);
	for (int k = 0; k < 3; k++)
		free(j[k].runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_team_figures_match_oracle),
		cmocka_unit_test(test_replay_is_deterministic),
		cmocka_unit_test(test_txs_index),
		cmocka_unit_test(test_block_rejected_whole),
		cmocka_unit_test(test_alloc_failures_leave_store_consistent),
		cmocka_unit_test(test_check_async),
		cmocka_unit_test(test_check_sync),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
