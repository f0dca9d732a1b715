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
