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

/* The median of v[0..n) (n > 0); sorts v. For benchmarks' repeated runs. */
double tu_median(double *v, size_t n);

/* A fresh empty temporary directory under $TMPDIR (removed by tu_rmtree). Caller frees. */
char *tu_tmpdir(const char *prefix);
void tu_rmtree(const char *path);

/* Reads a whole file, NUL-terminated (not counted in *len); caller frees. NULL on error. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* Chain fixtures for storage and engine tests. */
#include "storage/storage.h"

#define TU_CHAIN 7
/* A deterministic BIP340 key pair for index i (secret = tagged hash of i). */
void tu_key(uint64_t i, uint8_t sk[SN_SECKEY_LEN], uint8_t pk[SN_PUBKEY_LEN]);
/* Only the public key of tu_key(i). */
void tu_pk(uint64_t i, uint8_t pk[SN_PUBKEY_LEN]);
/* Encodes a signed transaction into out[STORE_TX_MAX]; returns its length. Asserts on error. */
/* The hex of a registration on chain 1 (fee 1, amount 1) signed by sk (public key pk) with
 * nonce, of the account tu_pk(to_index): what `settle init`'s root key sends in the tests.
 * Its id in *id unless id is NULL. */
void tu_register_hex(char hex[2 * STORE_TX_MAX + 1], const uint8_t sk[SN_SECKEY_LEN],
                     const uint8_t pk[SN_PUBKEY_LEN], uint64_t nonce, uint64_t to_index, uint8_t id[SN_HASH_LEN]);
size_t tu_tx(uint8_t *out, uint8_t type, uint64_t signer_index, uint64_t nonce, uint64_t fee,
             const uint8_t to[SN_PUBKEY_LEN], uint64_t amount);
/* Signs tx (its other fields set by the caller) with key signer_index, which becomes its
 * signer, and encodes it into out (STORE_TX_MAX). Asserts on error. */
size_t tu_tx_signed(uint8_t *out, struct store_tx *tx, uint64_t signer_index);
/* The header of the block after tip holding the n transactions of ids (a millisecond after
 * the tip); the state root is left zero for the caller. */
void tu_header_next(struct store_block_header *h, const struct store_info *tip, const uint8_t (*ids)[SN_HASH_LEN],
                    uint32_t n);
/* Runs only the tests whose names match SN_TEST_FILTER (cmocka's * and ? wildcards), when
 * set: for repeating one test while debugging. Called before main in every test binary. */
void tu_filter_from_env(void);

/* A cmocka group setup that initialises the crypto libraries. */
int tu_setup_crypto(void **state);
/* Decodes a hex literal into a fresh buffer (caller frees). Asserts on error. */
uint8_t *tu_unhex(const char *hex, size_t *len);
/* Opens a fresh store in a new temp dir (*dir owned by caller) with genesis: root = key 0
 * with root_balance, min_fee, max_block_txs 10000. Asserts on error. */
struct store *tu_store_new(char **dir, uint64_t root_balance, uint64_t min_fee, bool no_sync);
/* The same with a given initial LMDB map size (tu_store_new: 64 MiB). */
struct store *tu_store_new_map(char **dir, uint64_t root_balance, uint64_t min_fee, bool no_sync, uint64_t map_size);

/* ---------------------------------------------------------------- real processes */
#include <sys/resource.h>
#include <sys/types.h>

/* Sets the file-size limit (ulimit -f) of process pid (0: this one) to n bytes, RLIM_INFINITY
 * for its hard limit: writes past it fail with EFBIG, as a full disk's with ENOSPC (the store
 * takes both alike). SIGXFSZ must be ignored where it applies (settled does). */
void tu_fsize_limit(pid_t pid, rlim_t n);

/* Sleeps ms milliseconds. */
void tu_sleep_ms(unsigned ms);
/* A free TCP port on 127.0.0.1 (bound and released; a tiny race is accepted). */
uint16_t tu_free_port(void);
/* Path of a built binary ("settled", "settle") in SN_BINARY_DIR, in one of 4 rotating static
 * buffers: copy it if it must outlive 3 more calls. */
const char *tu_bin(const char *name);
/* Runs argv (NULL-terminated) and waits; returns its exit status (or -1). out (may be NULL)
 * gets up to cap-1 bytes of its stdout, NUL-terminated. */
int tu_run(char *const argv[], char *out, size_t cap);
/* Runs `settle --rpc rpc --home home ARGS...` (the const char * arguments from arg0 up to a
 * NULL): its stdout into out[cap] and its stderr into err[errcap] (both NUL-terminated;
 * stderr goes through the file dir/stderr). Returns the exit status (-1 if it did not exit). */
int tu_settle(const char *rpc, const char *home, const char *dir, char *out, size_t cap, char *err, size_t errcap,
              const char *arg0, ...);
/* What settle printed (out) parsed as JSON; fails the test, quoting out and err, if it is not. */
#include <jansson.h>
json_t *tu_json_out(const char *out, const char *err);
/* A member that is a JSON number or a decimal string (u64); fails the test otherwise. */
uint64_t tu_json_u64(const json_t *obj, const char *key);
/* Starts `settled --home home --rpc-port port [extra...]` with its output to home/node.log
 * and waits until GET /health answers 200 (up to 20 s). Returns the pid; asserts on failure. */
pid_t tu_node_start(const char *home, uint16_t port, const char *const *extra);
/* Sends sig and waits for the process; returns its wait status. A process that had ended
 * already is reported (tu_report_exit). */
int tu_node_stop(pid_t pid, int sig);
/* Sends raw bytes to 127.0.0.1:port and reads the reply until the peer closes or timeout_ms
 * passes without data. Returns the bytes read (NUL-terminated in out), -1 if it cannot
 * connect. *closed says whether the server closed the connection. */
ssize_t tu_http_raw(uint16_t port, const void *req, size_t len, char *out, size_t cap, int timeout_ms,
                    bool *closed);
/* The HTTP status of a response (0 if none). */
int tu_http_status(const char *resp);
/* The "result" of a JSON-RPC call (a new reference), or NULL if the call did not succeed. */
json_t *tu_rpc_result(uint16_t port, const char *home, const char *json);
/* The nonce of the account with public key pk, from the node's get_account (asserts that
 * it exists). */
uint64_t tu_account_nonce(uint16_t port, const char *home, const uint8_t pk[32]);
/* Prints how process pid ended (wait status) and the end of its output file, when
 * tu_spawn started it: why a node died, in the test's own output. */
void tu_report_exit(pid_t pid, int status);
/* Fails the test, with tu_report_exit's account, if process pid has ended. */
void tu_assert_running(pid_t pid);
/* Forks and execs argv with stdout and stderr to outpath (truncated, or appended to). */
pid_t tu_spawn(const char *const *argv, const char *outpath, bool append);
/* POSTs a JSON-RPC body with the cookie of home; returns the HTTP status and the body
 * (malloc'd, caller frees) in *body. */
int tu_rpc(uint16_t port, const char *home, const char *json, char **body);

/* ---------------------------------------------------------------- networks of nodes
 * A settled with its own home and free RPC and p2p ports, for multi-node tests and
 * benchmarks on 127.0.0.1. */
struct tu_pnode {
	char home[4096];
	uint16_t rpc, p2p;
	pid_t pid;
};
/* `settle init` of dir/name; with genesis_from, its genesis.json is copied over (one chain,
 * genesis_from's node the one validator). */
void tu_pnode_init(struct tu_pnode *n, const char *dir, const char *name, const struct tu_pnode *genesis_from);
/* Starts n with fast p2p timers; seed: the p2p port of its one seed (0: none); more: one more
 * --set value (or NULL). */
void tu_pnode_run(struct tu_pnode *n, uint16_t seed, const char *more);
/* The genesis account's key of n's home (account.key). */
void tu_pnode_root_key(const struct tu_pnode *n, uint8_t sk[32], uint8_t pk[32]);
/* The same for a home directory. */
void tu_home_root_key(const char *home, uint8_t sk[32], uint8_t pk[32]);

#endif
