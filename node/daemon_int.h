/* node/daemon_int.h — the settled daemon: one libuv loop serving JSON-RPC, admitting transactions
 * into the mempool and (single-validator devnet) producing blocks. Internal to node/. */
#ifndef SN_NODE_DAEMON_H
#define SN_NODE_DAEMON_H

#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <uv.h>

#include "node/config_int.h"
#include "node/home_int.h"
#include "node/http_int.h"
#include "node/mempool_int.h"


struct submit_job;
struct node_p2p;
struct rpc_fwd;
struct rpc_admitted;

struct node_daemon {
	uv_loop_t *loop;
	char home[PATH_MAX];
	struct node_config cfg;
	struct node_genesis gen;
	uint8_t node_pk[NODE_ED25519_PK_LEN];
	uint64_t validator_height; /* the producer's last validator-set check was for this height (0: none) */
	bool validator_yes, validator_said; /* its result; whether "not producing" was logged */
	uint8_t *node_sk; /* NODE_ED25519_SK_LEN bytes in sodium_malloc'd memory */
	bool producer;    /* the single genesis validator: produces blocks */

	struct store *st;
	struct node_engine *eng;
	struct node_mempool *mp;
	struct http_server *http;
	char cookie[128];
	char cookie_path[PATH_MAX + 64];

	uv_timer_t block_timer;
	uv_signal_t sig_int, sig_term;
	uv_work_t open_work;
	atomic_int open_err; /* written by open_work on a pool thread, read by on_health meanwhile */
	atomic_bool ready;    /* store open, serving (read by the RPC threads) */
	bool producing;    /* a block is being built on the thread pool */
	atomic_bool stopping; /* (read by the RPC threads) */
	bool http_stopped;
	unsigned jobs;     /* work items in flight (signature checks, block production) */
	uint64_t last_block_mono_ms;
	struct submit_job *verify_q, *verify_q_tail; /* signature checks queued in this loop turn */
	uv_check_t verify_check;                     /* hands them to the helpers after the turn's I/O */
	uv_idle_t verify_soon;                       /* keeps the loop from sleeping before that */
	uv_async_t checks_done;                      /* a helper finished a round or a gossiped tx */
	struct verify_round *rounds, *rounds_tail;   /* handed to the helpers, oldest first (node/rpc.c) */
	int exit_code;
	struct node_p2p *p2p; /* the peer network (node/p2p.c); NULL when p2p.enabled = 0 */

	/* RPC threads (rpc.threads > 0, node/rpc.c): they check and admit submitted transactions
	 * themselves and pass the rest to this loop through the inbox. */
	uv_mutex_t mp_lock;  /* the mempool, taken by every thread that uses it */
	uv_cond_t mp_view;   /* signalled when the mempool has its view again (mp_lock) */
	bool mp_growing;     /* the view is let go while the map grows: RPC threads wait (mp_lock) */
	uv_mutex_t inbox_lock; /* guards the three below */
	struct rpc_fwd *fwd_q, *fwd_tail;     /* requests for this loop's handlers, in order */
	struct rpc_admitted *adm_q, *adm_tail; /* admitted there, for the peer network */
	bool mp_rebuild;     /* the mempool's view must be rebuilt here (out of memory there) */
	atomic_bool want_admit_wake; /* the producer would start a block on the next admission */
	uv_async_t inbox;
};

/* Runs the daemon until SIGINT/SIGTERM; returns the process exit code. */
int node_daemon_run(struct node_daemon *d);

/* JSON-RPC (node/rpc.c): handles one HTTP POST body. */
void node_rpc_post(void *ud, struct http_req *req, const char *body, size_t len);
/* Admission of a checked transaction (node/daemon.c), on the loop thread. */
int node_daemon_admit(struct node_daemon *d, const uint8_t *raw, size_t len, const struct store_tx *tx,
                      const uint8_t id[SN_HASH_LEN]);
/* The same on an RPC thread: what follows an admission on the loop (gossip, the gossiped
 * transactions that waited for it, an early block) goes there through the inbox. */
int node_daemon_admit_rpc(struct node_daemon *d, const uint8_t *raw, size_t len, const struct store_tx *tx,
                          const uint8_t id[SN_HASH_LEN]);
/* After node_daemon_admit_rpc admitted a transaction (node/rpc.c): to the inbox. */
void node_rpc_admitted(struct node_daemon *d, const uint8_t *raw, size_t len, const uint8_t signer[SN_PUBKEY_LEN]);
/* The mempool's view is broken (out of memory on an RPC thread): the loop rebuilds it. */
void node_rpc_mempool_broken(struct node_daemon *d);
/* Ends a block's hold on the mempool, remaking its view on the tip (node/daemon.c). */
SN_MUST_CHECK int node_daemon_mempool_resume(struct node_daemon *d, bool keep, const uint8_t (*ids)[SN_HASH_LEN],
                                             size_t n, size_t *dropped);
/* A producer idle for a tick builds the next block now (node/daemon.c; on the loop thread). */
void node_daemon_block_soon(struct node_daemon *d);
/* The loop's end of the inbox (node/rpc.c): forwarded requests and admissions. */
void node_rpc_inbox(uv_async_t *h);
/* Frees what the inbox still holds (after the RPC threads are joined). */
void node_rpc_inbox_free(struct node_daemon *d);

/* Ends the loop once stopping and nothing is in flight (node/daemon.c). */
void node_daemon_maybe_finish(struct node_daemon *d);

/* The peer network (node/p2p.c). config_check: the [p2p] values the table cannot check
 * (address lists); start after the store opened (SN_OK and nothing started when
 * p2p.enabled = 0); stop closes every peer (the loop finishes it); free after the loop. */
SN_MUST_CHECK int node_p2p_config_check(const struct node_config *c, char *err, size_t errlen);
SN_MUST_CHECK int node_p2p_start(struct node_daemon *d);
void node_p2p_stop(struct node_daemon *d);
void node_p2p_free(struct node_daemon *d);
/* Gossips a transaction the node admitted (once: later calls for it do nothing). */
void node_p2p_gossip(struct node_daemon *d, const uint8_t *raw, size_t len);
/* After a transaction of signer was admitted: admits (and relays) the gossiped ones of the
 * same signer that waited for it (a nonce gap, node/p2p.c). */
void node_p2p_after_admit(struct node_daemon *d, const uint8_t signer[SN_PUBKEY_LEN]);
/* From the checks_done callback: admits (or refuses) the gossiped transactions whose
 * signature checks ran on the engine's helpers. */
void node_p2p_checked(struct node_daemon *d);
/* RPC net_info's result (NULL: out of memory). */
json_t *node_p2p_info(struct node_daemon *d);

/* submit_tx requests whose signatures are checked by the engine's helper threads
 * (node/rpc.c): one request, or a whole batch of them; those of one turn of the loop are
 * checked together, as one round. */
struct submit_entry {
	uint8_t *raw; /* sn_malloc'd; for a single request, one_raw in its job */
	size_t len;
	struct store_tx tx;
	uint8_t txid[SN_HASH_LEN];
	int err;
	json_t *id;      /* NULL: a notification (no reply entry) */
	json_t *error;   /* set when the request itself was bad (params) */
	uint8_t want_type; /* gov_propose/approve/execute: the type the transaction must have; 0 any */
};
struct submit_job {
	struct node_daemon *d;
	struct http_req *req;
	bool batch; /* reply with an array */
	bool on_rpc_thread; /* checked and admitted there (rpc.threads > 0) */
	size_t n;
	struct submit_entry *e; /* n entries (sn_calloc'd), or &one for a single request */
	struct submit_job *next; /* in the check queue or its round */
	struct submit_entry one;
	uint8_t one_raw[]; /* a single request's transaction (allocated with the job) */
};
/* Finishes a submit job (admits it or replies with its error) and frees it. */
void node_rpc_submit_finish(struct submit_job *job);
/* The verify_check callback: hands the queued jobs' signature checks to the helpers. */
void node_rpc_verify_check(uv_check_t *h);
/* The verify_soon callback: stops itself (it only keeps one poll from blocking). */
void node_rpc_verify_soon(uv_idle_t *h);
/* From the checks_done callback: finishes the rounds whose checks all ran, oldest first. */
void node_rpc_checked(struct node_daemon *d);

#endif
