/* tests/testutil.c — helpers shared by the tests. */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t tu_seed(const char *test_name)
{
	const char *env = getenv("SN_TEST_SEED");
	uint64_t seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		sn_random_bytes(&seed, sizeof(seed));
		seed &= 0xffffffffffffull;
	}
	fprintf(stderr, "%s: seed %llu (replay with SN_TEST_SEED=%llu)\n", test_name,
	        (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

uint64_t tu_rand(struct tu_rng *r)
{
	/* splitmix64 */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t tu_rand_below(struct tu_rng *r, uint64_t n)
{
	return tu_rand(r) % n;
}

char *tu_tmpdir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	path = malloc(strlen(base) + strlen(prefix) + 16);
	if (!path)
		return NULL;
	sprintf(path, "%s/%s.XXXXXX", base, prefix);
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void tu_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

void tu_key(uint64_t i, uint8_t sk[SN_SECKEY_LEN], uint8_t pk[SN_PUBKEY_LEN])
{
	uint8_t le[8];

	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t)(i >> (8 * b));
	sn_hash_tagged(sk, "settled/testkey", le, sizeof(le));
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_OK);
}

size_t tu_tx(uint8_t *out, uint8_t type, uint64_t signer_index, uint64_t nonce, uint64_t fee,
             const uint8_t to[SN_PUBKEY_LEN], uint64_t amount)
{
	struct store_tx tx;
	uint8_t sk[SN_SECKEY_LEN];
	size_t len;

	memset(&tx, 0, sizeof(tx));
	tx.version = STORE_TX_V1;
	tx.type = type;
	tx.chain_id = TU_CHAIN;
	tu_key(signer_index, sk, tx.signer);
	tx.nonce = nonce;
	tx.fee = fee;
	memcpy(tx.to, to, SN_PUBKEY_LEN);
	tx.amount = amount;
	assert_int_equal(store_tx_sign(&tx, sk), SN_OK);
	sn_wipe(sk, sizeof(sk));
	assert_int_equal(store_tx_encode(out, STORE_TX_MAX, &len, &tx), SN_OK);
	return len;
}

struct store *tu_store_new(char **dir, uint64_t root_balance, uint64_t min_fee, bool no_sync)
{
	struct store_opts o = { .chain_id = TU_CHAIN, .map_size = 64u << 20, .no_sync = no_sync };
	struct store_genesis g;
	struct store *st;
	uint8_t sk[SN_SECKEY_LEN];

	*dir = tu_tmpdir("sn-store");
	assert_non_null(*dir);
	assert_int_equal(store_open(&st, *dir, &o), SN_OK);
	memset(&g, 0, sizeof(g));
	tu_key(0, sk, g.root);
	g.root_balance = root_balance;
	g.params.min_fee = min_fee;
	g.params.max_block_txs = 10000;
	g.time_ms = 1700000000000ull;
	assert_int_equal(store_genesis_init(st, &g), SN_OK);
	return st;
}
