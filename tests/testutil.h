/* tests/testutil.h — helpers shared by the tests (not part of any module). */
#ifndef SN_TESTUTIL_H
#define SN_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/common.h"

/* A seeded PRNG for randomized tests. tu_seed() reads SN_TEST_SEED from the environment,
 * else picks one, and prints it so a failure can be replayed. */
uint64_t tu_seed(const char *test_name);
struct tu_rng {
	uint64_t s;
};
uint64_t tu_rand(struct tu_rng *r);
/* Uniform in [0, n). n > 0. */
uint64_t tu_rand_below(struct tu_rng *r, uint64_t n);

/* A fresh empty temporary directory under $TMPDIR (removed by tu_rmtree). Caller frees. */
char *tu_tmpdir(const char *prefix);
void tu_rmtree(const char *path);

/* Reads a whole file; caller frees. NULL on error. */
uint8_t *tu_read_file(const char *path, size_t *len);

#endif

/* Chain fixtures for storage and engine tests. */
#include "storage/storage.h"

#define TU_CHAIN 7
/* A deterministic BIP340 key pair for index i (secret = tagged hash of i). */
void tu_key(uint64_t i, uint8_t sk[SN_SECKEY_LEN], uint8_t pk[SN_PUBKEY_LEN]);
/* Encodes a signed transaction into out[STORE_TX_MAX]; returns its length. Asserts on error. */
size_t tu_tx(uint8_t *out, uint8_t type, uint64_t signer_index, uint64_t nonce, uint64_t fee,
             const uint8_t to[SN_PUBKEY_LEN], uint64_t amount);
/* Opens a fresh store in a new temp dir (*dir owned by caller) with genesis: root = key 0
 * with root_balance, min_fee, max_block_txs 10000. Asserts on error. */
struct store *tu_store_new(char **dir, uint64_t root_balance, uint64_t min_fee, bool no_sync);
