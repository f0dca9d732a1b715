/* node/demo_main.c — `settle-demo`: a short tour of the settlement engine. It creates a
 * store with a genesis root, registers a referral tree through signed REGISTER transactions
 * (with one long chain in it), settles thousands of signed transfers in blocks, and prints
 * team figures for a few accounts next to the naive ancestor walk that checks them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"

#define CHAIN_ID 1
#define FEE 1

struct demo {
	struct store *st;
	struct node_engine *eng;
	uint8_t (*sk)[32];
	uint8_t (*pk)[32];
	uint64_t *nonce;
	uint64_t *sponsor; /* index of the sponsor (for the naive check) */
	uint64_t n;
	uint64_t rng;
};

static uint64_t demo_rand(struct demo *d)
{
	uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int demo_tx(struct demo *d, uint8_t *out, size_t *len, uint8_t type, uint64_t from, const uint8_t *to,
                   uint64_t amount)
{
	struct store_tx tx = { .version = STORE_TX_V1, .type = type, .chain_id = CHAIN_ID, .fee = FEE,
		               .amount = amount };
	int err;

	memcpy(tx.signer, d->pk[from], 32);
	memcpy(tx.to, to, 32);
	tx.nonce = d->nonce[from]++;
	if ((err = store_tx_sign(&tx, d->sk[from])))
		return err;
	return store_tx_encode(out, STORE_TX_MAX, len, &tx);
}

/* Proposes blocks from n encoded transactions; fails on any rejected one. */
static int demo_settle(struct demo *d, uint8_t (*bufs)[STORE_TX_MAX], size_t *lens, size_t n)
{
	const uint8_t **txs = malloc(n * sizeof(*txs));
	int *errs = malloc(n * sizeof(*errs));
	uint8_t *blk;
	size_t blen, inc;
	int err;

	for (size_t i = 0; i < n; i++)
		txs[i] = bufs[i];
	err = node_engine_propose(d->eng, txs, lens, n, &(struct node_propose_opts){ .time_ms = 1700000000000ull }, errs, &blk, &blen, &inc);
	if (!err && inc != n) {
		for (size_t i = 0; i < n; i++)
			if (errs[i]) {
				fprintf(stderr, "transaction %zu rejected: %s\n", i, sn_strerror(errs[i]));
				err = errs[i];
				break;
			}
	}
	if (!err)
		sn_free(blk);
	free(txs);
	free(errs);
	return err;
}

static void show(struct demo *d, uint64_t i, const char *what)
{
	struct store_team t;
	struct store_account a;
	uint64_t naive_size = 0;
	unsigned __int128 naive_vol = 0;
	char vol[48];
	int k = 47;

	if (store_team_get(d->st, d->pk[i], &t) || store_account_get(d->st, d->pk[i], &a))
		return;
	/* The oracle: every account whose ancestor walk passes through i. */
	for (uint64_t j = 0; j < d->n; j++) {
		struct store_account aj;

		for (uint64_t s = j;; s = d->sponsor[s]) {
			if (s == i) {
				if (store_account_get(d->st, d->pk[j], &aj) == 0)
					naive_vol += aj.personal_volume;
				naive_size += j != i;
				break;
			}
			if (s == 0)
				break;
		}
	}
	bool match = naive_size == t.size && naive_vol == t.volume;

	vol[k] = '\0';
	do {
		vol[--k] = (char)('0' + (int)(t.volume % 10));
		t.volume /= 10;
	} while (t.volume && k > 0);
	printf("  %-22s depth %6llu  team size %6llu  team volume %12s  balance %12llu  %s\n", what,
	       (unsigned long long)t.depth, (unsigned long long)t.size, vol + k,
	       (unsigned long long)a.balance,
	       match ? "(matches the ancestor walk)" : "(MISMATCH with the ancestor walk)");
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".settled-demo";
	struct store_opts o = { .chain_id = CHAIN_ID, .no_sync = true };
	struct store_genesis g;
	struct demo d = { .rng = 2024 };
	enum { ACCOUNTS = 3000, CHAIN = 1000, TRANSFERS = 5000 };
	static uint8_t bufs[TRANSFERS][STORE_TX_MAX];
	static size_t lens[TRANSFERS];
	struct store_info info;
	char cmd[4200];
	uint64_t t0;
	int err;

	if (sn_crypto_init())
		return 1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (strchr(dir, '\'') || system(cmd) != 0)
		return 1;
	if ((err = store_open(&d.st, dir, &o))) {
		fprintf(stderr, "settle-demo: cannot open %s: %s\n", dir, sn_strerror(err));
		return 1;
	}
	d.sk = calloc(ACCOUNTS, 32);
	d.pk = calloc(ACCOUNTS, 32);
	d.nonce = calloc(ACCOUNTS, sizeof(*d.nonce));
	d.sponsor = calloc(ACCOUNTS, sizeof(*d.sponsor));
	printf("settle-demo: generating %d keys...\n", ACCOUNTS);
	for (int i = 0; i < ACCOUNTS; i++)
		if (sn_schnorr_keygen(d.sk[i], d.pk[i]))
			return 1;
	memset(&g, 0, sizeof(g));
	memcpy(g.root, d.pk[0], 32);
	g.root_balance = 1000000000000ull;
	g.params.min_fee = FEE;
	g.params.max_block_txs = 10000;
	if ((err = store_genesis_init(d.st, &g)) || (err = node_engine_new(&d.eng, d.st, NULL))) {
		fprintf(stderr, "settle-demo: %s\n", sn_strerror(err));
		return 1;
	}
	d.n = 1;

	/* A chain of CHAIN accounts (each sponsors the next: transactions apply in order, so an
	 * account registered earlier in a block can sign later in it), then the rest under random
	 * sponsors, each of which gives a sixteenth of what it had at the start of the block. */
	t0 = sn_time_mono_ns();
	while (d.n < ACCOUNTS) {
		size_t k = 0;
		uint64_t first = d.n;

		while (d.n < ACCOUNTS && k < 250) {
			uint64_t sp = d.n < CHAIN ? d.n - 1 : demo_rand(&d) % first;
			uint64_t fund = 500000000000ull - d.n * 100000000ull;
			struct store_account spa;

			if (d.n >= CHAIN) {
				if (store_account_get(d.st, d.pk[sp], &spa))
					return 1;
				fund = spa.balance / 16; /* picked up to 15 times a block */
			}

			d.sponsor[d.n] = sp;
			if (demo_tx(&d, bufs[k], &lens[k], STORE_TX_REGISTER, sp, d.pk[d.n], fund))
				return 1;
			k++;
			d.n++;
		}
		if ((err = demo_settle(&d, bufs, lens, k)))
			return 1;
	}
	printf("settle-demo: registered %llu accounts (a chain %d deep) in %.2f s\n", (unsigned long long)d.n,
	       CHAIN, (double)(sn_time_mono_ns() - t0) / 1e9);

	t0 = sn_time_mono_ns();
	for (int b = 0; b < 5; b++) {
		for (int k = 0; k < TRANSFERS / 5; k++) {
			uint64_t from = demo_rand(&d) % d.n, to = demo_rand(&d) % d.n;

			if (to == from)
				to = (to + 1) % d.n;
			if (demo_tx(&d, bufs[k], &lens[k], STORE_TX_TRANSFER, from, d.pk[to], 1 + demo_rand(&d) % 500))
				return 1;
		}
		if ((err = demo_settle(&d, bufs, lens, TRANSFERS / 5)))
			return 1;
	}
	store_info_get(d.st, &info);
	printf("settle-demo: settled %d signed transfers in %.2f s; height %llu, treasury %llu\n", TRANSFERS,
	       (double)(sn_time_mono_ns() - t0) / 1e9, (unsigned long long)info.height,
	       (unsigned long long)info.treasury);
	printf("team figures:\n");
	show(&d, 0, "root");
	show(&d, 1, "chain level 1");
	show(&d, CHAIN / 2, "chain level 500");
	show(&d, CHAIN - 1, "chain bottom (999)");
	show(&d, CHAIN + 7, "a random account");
	printf("state root: ");
	for (int i = 0; i < SN_HASH_LEN; i++)
		printf("%02x", info.state_root[i]);
	printf("\nThe store is in %s. The full node (settled, settle) comes with the node issue.\n", dir);
	for (int i = 0; i < ACCOUNTS; i++)
		sn_wipe(d.sk[i], 32);
	node_engine_free(d.eng);
	store_close(d.st);
	return 0;
}
