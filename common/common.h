/* common/common.h — the common module's public API: errors, allocation, logging,
 * bounds-checked little-endian cursors, hex, tagged BLAKE2b hashing and BIP340 Schnorr keys.
 *
 * Knows nothing about blocks or LMDB. Everything here is thread-safe unless a function
 * says otherwise; sn_crypto_init() must have returned SN_OK before any hashing or signing. */
#ifndef SN_COMMON_H
#define SN_COMMON_H

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SN_MUST_CHECK __attribute__((warn_unused_result))
#define SN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- errors */

/* X(NAME, name-for-machines, message-for-people). 0 is success, errors are negative.
 * Names are stable: RPC and the CLI report them, scripts match on them. */
#define SN_ERRORS(X)                                                                   \
	X(OK, "ok", "success")                                                         \
	X(E_INVAL, "invalid_argument", "invalid argument")                             \
	X(E_NOMEM, "out_of_memory", "out of memory")                                   \
	X(E_IO, "io_error", "input/output error")                                      \
	X(E_CORRUPT, "corrupt", "stored data is corrupt")                              \
	X(E_VERSION, "unknown_version", "unknown or unsupported version")              \
	X(E_TRUNCATED, "truncated", "input is truncated")                              \
	X(E_TRAILING, "trailing_bytes", "trailing bytes after the encoded value")      \
	X(E_TOOBIG, "too_big", "length exceeds its maximum")                           \
	X(E_NONCANONICAL, "non_canonical", "value is not in its canonical encoding")   \
	X(E_NOTFOUND, "not_found", "not found")                                        \
	X(E_EXISTS, "exists", "already exists")                                        \
	X(E_TYPE, "unknown_type", "unknown transaction type")                          \
	X(E_CHAIN, "wrong_chain", "wrong chain id")                                    \
	X(E_BADSIG, "bad_signature", "signature does not verify")                      \
	X(E_BADKEY, "bad_public_key", "not a valid public key")                        \
	X(E_NONCE, "bad_nonce", "nonce is not the account's next nonce")               \
	X(E_UNKNOWN_SPONSOR, "unknown_sponsor", "sponsor is not a registered account") \
	X(E_REGISTERED, "already_registered", "account is already registered")         \
	X(E_UNKNOWN_ACCOUNT, "unknown_account", "signer is not a registered account")  \
	X(E_UNKNOWN_RECIPIENT, "unknown_recipient", "recipient is not registered")     \
	X(E_SELF, "self_transfer", "sender and recipient are the same account")        \
	X(E_BALANCE, "insufficient_balance", "insufficient balance")                   \
	X(E_AMOUNT_ZERO, "amount_zero", "amount must be greater than zero")            \
	X(E_OVERFLOW, "overflow", "amount overflows")                                  \
	X(E_FEE, "fee_too_low", "fee is below the chain's minimum fee")                \
	X(E_HEIGHT, "bad_height", "block height is not the next height")              \
	X(E_TIME, "bad_time", "block time is before its parent's")                   \
	X(E_PREV, "bad_prev_hash", "block does not extend the current tip")            \
	X(E_TXROOT, "bad_tx_root", "block's transaction root does not match")          \
	X(E_STATEROOT, "bad_state_root", "block's state root does not match")          \
	X(E_DUPTX, "duplicate_tx", "transaction is already in the chain or block")     \
	X(E_MAPFULL, "map_full", "storage map is full")                                \
	X(E_FATAL, "store_failed", "store is in a failed state after a write error")   \
	X(E_MEMPOOL_FULL, "mempool_full", "mempool is full")                          \
	X(E_NOT_MEMBER, "not_a_member", "signer is not a member of the proposal's tracks") \
	X(E_DUP_APPROVAL, "duplicate_approval", "member has already approved this proposal") \
	X(E_APPROVAL_SIG, "approval_signature", "approval is not signed over this proposal, payload and chain") \
	X(E_UNKNOWN_PROPOSAL, "unknown_proposal", "no such proposal")                 \
	X(E_NOT_APPROVED, "not_approved", "proposal has not reached the 65% threshold") \
	X(E_TIMELOCK, "timelock", "proposal's timelock has not elapsed")             \
	X(E_EXPIRED, "expired", "proposal is past its deadline")                     \
	X(E_EXECUTED, "already_executed", "proposal was already executed")           \
	X(E_PROPOSAL_CANCELLED, "proposal_cancelled", "proposal was cancelled")      \
	X(E_PAYLOAD, "malformed_payload", "proposal payload is malformed")           \
	X(E_PAUSED, "transfers_paused", "transfers are paused by governance")        \
	X(E_PERMISSION, "permission_denied", "only an executed governance proposal may do this") \
	X(E_BUSY, "busy", "busy, try again")                                          \
	X(E_CANCELLED, "cancelled", "cancelled")                                       \
	X(E_TIMEOUT, "timeout", "timed out")                                           \
	X(E_BANNED, "banned", "peer is banned for misbehaviour")                       \
	X(E_DISKFULL, "disk_full", "no space left (the disk, a quota or a file-size limit is full)") \
	X(E_ACCESS, "access_denied", "permission denied (a file's mode or owner, or a read-only file system)") \
	X(E_NOT_VALIDATOR, "not_a_validator", "signer is not in the validator set of this height") \
	X(E_NO_QUORUM, "no_quorum", "signers hold no more than 2/3 of the voting power") \
	X(E_EQUIVOCATION, "equivocation", "validator signed two different votes for one height, round and step") \
	X(E_DOUBLE_SIGN, "double_sign_refused", "signing would conflict with what this validator already signed")

enum sn_err_index {
#define SN_ERR_INDEX(n, s, m) SN__IDX_##n,
	SN_ERRORS(SN_ERR_INDEX)
#undef SN_ERR_INDEX
	SN__ERR_COUNT
};
/* SN_OK is 0; SN_E_INVAL, SN_E_NOMEM, ... are negative. */
enum sn_err {
#define SN_ERR_CODE(n, s, m) SN_##n = -SN__IDX_##n,
	SN_ERRORS(SN_ERR_CODE)
#undef SN_ERR_CODE
};

/* Human-readable text and stable machine name for an error code (never NULL). */
const char *sn_strerror(int err);
const char *sn_errname(int err);
/* Maps an errno value to an sn error code: ENOMEM → SN_E_NOMEM, ENOENT → SN_E_NOTFOUND,
 * EEXIST → SN_E_EXISTS, EINVAL → SN_E_INVAL, ENOSPC/EDQUOT/EFBIG → SN_E_DISKFULL,
 * EACCES/EPERM/EROFS → SN_E_ACCESS, otherwise SN_E_IO. */
int sn_err_from_errno(int e);

/* ------------------------------------------------------------ allocation */

/* All module allocations go through these so tests can fail the Nth one. */
void *sn_malloc(size_t n);
void *sn_calloc(size_t nmemb, size_t size);
void *sn_realloc(void *p, size_t n);
void sn_free(void *p); /* accepts NULL */
/* Tests: the nth allocation from now (1-based) and every later one fail; 0 disables. */
void sn_alloc_fail_after(unsigned long n);

/* --------------------------------------------------------------- logging */

enum sn_log_level { SN_LOG_TRACE, SN_LOG_DEBUG, SN_LOG_INFO, SN_LOG_WARN, SN_LOG_ERROR, SN_LOG_OFF };

typedef void sn_log_fn(void *ud, enum sn_log_level lvl, const char *subsys, const char *msg);
/* Sets the sink and the minimum level. NULL fn restores the default (stderr). Call it before
 * other threads log (at start-up): the sink itself is not synchronised; the level is. */
void sn_log_set(sn_log_fn *fn, void *ud, enum sn_log_level min);
enum sn_log_level sn_log_level_get(void);
const char *sn_log_level_name(enum sn_log_level lvl);
/* Parses "trace".."error"/"off"; SN_E_INVAL on anything else. */
SN_MUST_CHECK int sn_log_level_parse(enum sn_log_level *out, const char *s);
void sn_log_emit(enum sn_log_level lvl, const char *subsys, const char *fmt, ...) SN_PRINTF(3, 4);
/* The level is checked before the arguments are evaluated or formatted. */
#define SN_LOG(lvl, subsys, ...)                                         \
	do {                                                             \
		if ((lvl) >= sn_log_level_get())                         \
			sn_log_emit((lvl), (subsys), __VA_ARGS__);       \
	} while (0)

/* --------------------------------------------------------- sorted tables */

/* The index of the element whose first 32 bytes are key in base[0..n) (elements of stride
 * bytes, each beginning with a 32-byte key, strictly ascending bytewise), or -1. */
ptrdiff_t sn_sorted_key_find(const void *base, size_t n, size_t stride, const uint8_t key[32]);

/* --------------------------------------------------------------- cursors */

/* A reader over borrowed bytes. The first short read poisons it: later reads return 0
 * and copy zeros, so a decoder reads everything and checks sn_reader_failed() once. */
struct sn_reader {
	const uint8_t *p;
	size_t left;
	bool failed;
};

static inline struct sn_reader sn_reader_init(const uint8_t *p, size_t len)
{
	struct sn_reader r = { p, len, false };
	return r;
}
uint8_t sn_read_u8(struct sn_reader *r);
uint16_t sn_read_le16(struct sn_reader *r);
uint32_t sn_read_le32(struct sn_reader *r);
uint64_t sn_read_le64(struct sn_reader *r);
void sn_read_bytes(struct sn_reader *r, void *out, size_t n);
/* Borrows n bytes from the input (NULL and poisons on a short read). */
const uint8_t *sn_read_ptr(struct sn_reader *r, size_t n);
static inline bool sn_reader_failed(const struct sn_reader *r) { return r->failed; }
static inline size_t sn_reader_left(const struct sn_reader *r) { return r->left; }
/* SN_E_TRUNCATED if poisoned, SN_E_TRAILING if bytes are left, else SN_OK. */
SN_MUST_CHECK int sn_reader_finish(const struct sn_reader *r);

/* A writer into a caller-owned buffer of fixed capacity. Overflow poisons it. */
struct sn_writer {
	uint8_t *buf;
	size_t cap, len;
	bool failed;
};

static inline struct sn_writer sn_writer_init(uint8_t *buf, size_t cap)
{
	struct sn_writer w = { buf, cap, 0, false };
	return w;
}
void sn_write_u8(struct sn_writer *w, uint8_t v);
void sn_write_le16(struct sn_writer *w, uint16_t v);
void sn_write_le32(struct sn_writer *w, uint32_t v);
void sn_write_le64(struct sn_writer *w, uint64_t v);
void sn_write_bytes(struct sn_writer *w, const void *p, size_t n);
static inline bool sn_writer_failed(const struct sn_writer *w) { return w->failed; }

/* Big-endian, only for LMDB keys that must sort by number. */
static inline void sn_put_be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}
static inline void sn_put_be32(uint8_t out[4], uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}
static inline uint64_t sn_get_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

/* ------------------------------------------------------------------- hex */

/* Writes 2*len lowercase hex digits and a NUL; out must hold 2*len+1 bytes. */
void sn_hex_encode(char *out, const void *in, size_t len);
/* Decodes exactly outlen bytes from a string of exactly 2*outlen hex digits (either case).
 * SN_E_INVAL otherwise; out is zeroed on entry. */
SN_MUST_CHECK int sn_hex_decode(void *out, size_t outlen, const char *hex);
/* Decodes a hex string of any even length up to cap bytes into out; *outlen set. */
SN_MUST_CHECK int sn_hex_decode_var(uint8_t *out, size_t cap, size_t *outlen, const char *hex);

/* ---------------------------------------------------------------- crypto */

#define SN_HASH_LEN 32
#define SN_TAG_MAX 16
#define SN_PUBKEY_LEN 32 /* BIP340 x-only */
#define SN_SECKEY_LEN 32
#define SN_SIG_LEN 64

/* Initialises libsodium and the process's one secp256k1 context (idempotent, thread-safe).
 * Errors: SN_E_NOMEM, SN_E_IO (libsodium could not initialise). */
SN_MUST_CHECK int sn_crypto_init(void);

/* Tagged hash: BLAKE2b-256 with no key, no salt and the tag (at most 16 bytes, zero-padded
 * to 16) as BLAKE2b's personalization. Different tags give unrelated hashes. */
void sn_hash_tagged(uint8_t out[SN_HASH_LEN], const char *tag, const void *data, size_t len);

struct sn_hasher {
	/* crypto_generichash_blake2b_state is 384 bytes, 64-aligned. */
	_Alignas(64) unsigned char state[384];
};
void sn_hasher_init(struct sn_hasher *h, const char *tag);
void sn_hasher_update(struct sn_hasher *h, const void *data, size_t len);
void sn_hasher_final(struct sn_hasher *h, uint8_t out[SN_HASH_LEN]);

/* Fills buf with cryptographically secure random bytes. */
void sn_random_bytes(void *buf, size_t len);
/* Constant-time equality of two equal-length buffers. */
bool sn_ct_equal(const void *a, const void *b, size_t len);
/* Wipes memory in a way the compiler cannot drop. */
void sn_wipe(void *p, size_t len);

/* A fresh random BIP340 key pair. */
SN_MUST_CHECK int sn_schnorr_keygen(uint8_t seckey[SN_SECKEY_LEN], uint8_t pubkey[SN_PUBKEY_LEN]);
/* The x-only public key of seckey. SN_E_BADKEY if seckey is zero or not below the order. */
SN_MUST_CHECK int sn_schnorr_pubkey(uint8_t pubkey[SN_PUBKEY_LEN], const uint8_t seckey[SN_SECKEY_LEN]);
/* SN_OK if pubkey is a valid x-only public key (an x coordinate on the curve), else SN_E_BADKEY. */
SN_MUST_CHECK int sn_schnorr_pubkey_check(const uint8_t pubkey[SN_PUBKEY_LEN]);
/* BIP340 signature over msg (any length). aux32 may be NULL (then 32 fresh random bytes).
 * The internal key pair is wiped before return. */
SN_MUST_CHECK int sn_schnorr_sign(uint8_t sig[SN_SIG_LEN], const uint8_t seckey[SN_SECKEY_LEN],
                                  const void *msg, size_t msglen, const uint8_t *aux32);
/* SN_OK if sig is a valid BIP340 signature of msg under pubkey; SN_E_BADKEY if pubkey is
 * not an x coordinate on the curve; SN_E_BADSIG otherwise. */
SN_MUST_CHECK int sn_schnorr_verify(const uint8_t sig[SN_SIG_LEN], const void *msg, size_t msglen,
                                    const uint8_t pubkey[SN_PUBKEY_LEN]);
/* sn_schnorr_verify, with the same results, for checks that see the same signers again
 * (transactions): each thread remembers the keys it parsed, which saves ~7 µs of each check
 * of a key it has seen. A thread's table (~1.6 MB) lives from its first call to its exit;
 * if it cannot be allocated the check runs uncached. */
SN_MUST_CHECK int sn_schnorr_verify_cached(const uint8_t sig[SN_SIG_LEN], const void *msg,
                                           size_t msglen, const uint8_t pubkey[SN_PUBKEY_LEN]);

/* ------------------------------------------------------------------ time */

/* Monotonic nanoseconds (for benchmarks and timeouts, never for consensus). */
uint64_t sn_time_mono_ns(void);

/* ------------------------------------------------------------ task groups */

/* Structured concurrency on a libuv loop, with the semantics of Python's asyncio.TaskGroup
 * (docs/taskgroups.md). A task is a function that starts work on the loop and later calls
 * sn_task_done() exactly once. Leaving the group (sn_taskgroup_close) waits for every task;
 * the first failure cancels the tasks still running; every failure is reported, with its
 * task and cause, to the group's completion callback. SN_E_CANCELLED is never a failure.
 *
 * Threads: everything here runs on the group's loop thread, except sn_taskgroup_submit()
 * and sn_task_cancel_requested(), which any thread may call. */
struct uv_loop_s;
struct sn_taskgroup;
struct sn_task;

#define SN_TASK_NAME_MAX 64 /* bytes with the NUL; longer names are truncated */
#define SN_TASK_MSG_MAX 160 /* bytes with the NUL; longer messages are truncated */

/* One failed task. A failure inside a nested group is reported under the path of task
 * names, "owner/child". */
struct sn_task_error {
	char task[SN_TASK_NAME_MAX];
	uint64_t id; /* the failed task's sn_task_id */
	int code;    /* negative SN_E_* */
	char message[SN_TASK_MSG_MAX];
};

/* Starts the task's work on the loop. SN_OK: the task runs and calls sn_task_done (maybe
 * already from inside start). An error: the task has failed with it; do not call done. */
typedef int sn_task_start_fn(struct sn_task *t, void *arg);
/* Asks a running task to stop: called at most once, on the loop thread, never after
 * sn_task_done. The task must still call sn_task_done, from inside the hook or later,
 * with SN_E_CANCELLED or its real result. */
typedef void sn_task_cancel_fn(struct sn_task *t, void *arg);
/* Blocking work on libuv's thread pool; returns the task's result. May poll
 * sn_task_cancel_requested(t) to stop early. */
typedef int sn_task_work_fn(struct sn_task *t, void *arg);
/* A task has finished with err. t is valid during the call. */
typedef void sn_task_done_cb(struct sn_task *t, int err, void *ud);
/* The group has finished. err: SN_OK, or what aborted the group — the first failure's code,
 * SN_E_TIMEOUT for the group deadline, SN_E_CANCELLED for sn_taskgroup_cancel (errs[0].code
 * instead if some task failed). errs[0..nerrs) is every failure in the order the tasks
 * finished, borrowed until the callback returns. The group is gone by then. */
typedef void sn_taskgroup_done_cb(void *ud, int err, const struct sn_task_error *errs,
                                  size_t nerrs);

struct sn_task_spec {
	const char *name;          /* copied; NULL gives "task" */
	sn_task_start_fn *start;   /* exactly one of start and work */
	sn_task_cancel_fn *cancel; /* with start; NULL if the task cannot be interrupted */
	sn_task_work_fn *work;     /* thread pool: cancelled while queued it never runs;
	                            * cancelled while running, its result is discarded */
	void *arg;                 /* for start, cancel and work; owned by the caller */
	uint64_t timeout_ms;       /* 0: none. On expiry the task is cancelled; if it then
	                            * finishes with SN_E_CANCELLED it fails with SN_E_TIMEOUT */
	sn_task_done_cb *on_done;  /* may be NULL; runs when the task finishes, also when a
	                            * submitted task never started (SN_E_CANCELLED) */
	void *on_done_arg;
};

/* A new group on loop (the loop thread calls everything below). timeout_ms > 0 is a group
 * deadline: running tasks are cancelled, those that end cancelled fail with SN_E_TIMEOUT,
 * and the group's result is SN_E_TIMEOUT. The group lives until its completion callback
 * (see sn_taskgroup_close) has returned. Errors: SN_E_NOMEM, SN_E_IO (libuv handle). */
SN_MUST_CHECK int sn_taskgroup_new(struct sn_taskgroup **out, struct uv_loop_s *loop,
                                   uint64_t timeout_ms);
/* A group owned by the running task owner, on its loop: cancelling owner cancels the group,
 * and the group's failures are reported through owner if owner fails. owner must not
 * finish before the group does (if it does, the group is cancelled and detached).
 * Errors: as sn_taskgroup_new, SN_E_CANCELLED if owner is being cancelled. */
SN_MUST_CHECK int sn_taskgroup_new_child(struct sn_taskgroup **out, struct sn_task *owner,
                                         uint64_t timeout_ms);
/* Leaves the group: cb runs once every task (also those created meanwhile) has finished
 * and the group's handles are closed, at the earliest on the next loop iteration.
 * cb NULL on a child group: owner finishes with the group's result and failures.
 * SN_E_INVAL if the group is already closed (then cb never runs). */
SN_MUST_CHECK int sn_taskgroup_close(struct sn_taskgroup *g, sn_taskgroup_done_cb *cb,
                                     void *ud);
/* Cancels every running task (result SN_E_CANCELLED); later creates fail. Idempotent. */
void sn_taskgroup_cancel(struct sn_taskgroup *g);

/* Creates and starts a task. out may be NULL; else *out is a handle the caller owns and
 * releases with sn_task_release (it stays valid after the task finished). A call that fails
 * creates nothing and runs no callback. Errors: SN_E_INVAL (bad spec or group closed and
 * finished), SN_E_CANCELLED (the group is aborting), SN_E_NOMEM. */
SN_MUST_CHECK int sn_task_create(struct sn_task **out, struct sn_taskgroup *g,
                                 const struct sn_task_spec *spec);
/* Thread-safe create: queues the task for the loop thread (uv_async_t). spec->name is
 * copied. The group must outlive this call: stop submitting threads before the group can
 * finish, e.g. tie each thread's lifetime to a task of the group. An open group alone does
 * not keep uv_run going; a closed one does until its callback. Errors: SN_E_INVAL,
 * SN_E_CANCELLED (aborting or finished), SN_E_NOMEM. */
SN_MUST_CHECK int sn_taskgroup_submit(struct sn_taskgroup *g, const struct sn_task_spec *spec);

/* Finishes t with err (SN_OK, or a negative SN_E_*); sn_task_fail adds a message. Once per
 * task, on the loop thread. Afterwards t may be freed unless a handle holds it. */
void sn_task_done(struct sn_task *t, int err);
void sn_task_fail(struct sn_task *t, int err, const char *fmt, ...) SN_PRINTF(3, 4);
/* Requests cancellation (runs the task's cancel hook and cancels its child groups). No-op
 * when t has finished or was already asked. */
void sn_task_cancel(struct sn_task *t);
/* cb(t, result, ud) runs when t finishes — before sn_task_await returns if it already has.
 * Errors: SN_E_NOMEM. */
SN_MUST_CHECK int sn_task_await(struct sn_task *t, sn_task_done_cb *cb, void *ud);
/* SN_OK and *result set if t has finished, else SN_E_BUSY. */
SN_MUST_CHECK int sn_task_result(const struct sn_task *t, int *result);
void sn_task_release(struct sn_task *t); /* drops a handle from sn_task_create; accepts NULL */

bool sn_task_cancel_requested(const struct sn_task *t); /* any thread */
const char *sn_task_name(const struct sn_task *t);     /* valid as long as t is */
uint64_t sn_task_id(const struct sn_task *t);          /* unique in the process, from 1 */
struct uv_loop_s *sn_task_loop(const struct sn_task *t);

#endif
