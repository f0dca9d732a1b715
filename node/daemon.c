/* node/daemon.c — the settled loop: start-up (config, keys, genesis, store opened on the
 * thread pool while /health says 503), the single-validator block producer, graceful
 * shutdown on SIGINT/SIGTERM. The block producer is the one piece BFT consensus replaces. */
#include "node/daemon_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_POLL_MS 50 /* how often the producer looks at the mempool */
#define DISKFULL_RETRY_MS 1000 /* how often it tries a block again while the disk is full */

static uint64_t now_ms_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms_mono(void)
{
	return sn_time_mono_ns() / 1000000u;
}

static void daemon_maybe_finish(struct node_daemon *d);
static void on_http_stopped(void *ud);

/* ------------------------------------------------------------------ admission */

static void on_block_timer(uv_timer_t *t);

/* A transaction was just admitted. A producer that has not finished a block for a tick builds
 * the next one at the start of the next loop turn (with everything admitted in this one)
 * rather than at its next tick: on a quiet node a transaction is committed in a few ms, not
 * after half a tick on average. Under load nothing changes: a block ends less than a tick
 * after the last, and the tick paces them. */
static void block_soon(struct node_daemon *d)
{
	if (!d->producer || d->producing || d->stopping || !d->ready ||
	    now_ms_mono() - d->last_block_mono_ms < BLOCK_POLL_MS || uv_timer_get_due_in(&d->block_timer) == 0)
		return;
	uv_timer_start(&d->block_timer, on_block_timer, 0, BLOCK_POLL_MS);
}

#define GROW_WAIT_NS 30000000000ull /* how long an RPC thread waits for the map to grow */

/* Admits under the mempool's lock, on any thread; the store is read (refuse_why) outside it.
 * An RPC thread (may_wait) that finds the view let go while the map grows waits for it, as
 * requests waited for the one loop before RPC threads: the client gets its answer, not
 * "busy". The loop thread never waits: it is the one that grows the map. */
static int mempool_admit(struct node_daemon *d, const uint8_t *raw, size_t len, const struct store_tx *tx,
                         const uint8_t id[SN_HASH_LEN], bool may_wait)
{
	bool broken;
	int rc;

	if (!d->ready)
		return SN_E_BUSY;
	uv_mutex_lock(&d->mp_lock);
	while (may_wait && d->mp_growing)
		if (uv_cond_timedwait(&d->mp_view, &d->mp_lock, GROW_WAIT_NS) != 0)
			break;
	rc = node_mempool_try_add(d->mp, raw, len, tx, id);
	broken = rc == SN_E_NOMEM && node_mempool_broken(d->mp);
	uv_mutex_unlock(&d->mp_lock);
	if (broken) /* out of memory in the view: the loop rebuilds it */
		node_rpc_mempool_broken(d);
	return node_mempool_refuse_why(d->mp, id, rc);
}

int node_daemon_admit(struct node_daemon *d, const uint8_t *raw, size_t len, const struct store_tx *tx,
                      const uint8_t id[SN_HASH_LEN])
{
	int rc = mempool_admit(d, raw, len, tx, id, false);

	if (rc == SN_OK) {
		node_p2p_gossip(d, raw, len); /* admitted: every peer hears of it once */
		node_p2p_after_admit(d, tx->signer);
		block_soon(d);
	}
	return rc;
}

int node_daemon_admit_rpc(struct node_daemon *d, const uint8_t *raw, size_t len, const struct store_tx *tx,
                          const uint8_t id[SN_HASH_LEN])
{
	int rc = mempool_admit(d, raw, len, tx, id, true);

	if (rc == SN_OK)
		node_rpc_admitted(d, raw, len, tx->signer);
	return rc;
}

void node_daemon_block_soon(struct node_daemon *d)
{
	block_soon(d);
}

/* ------------------------------------------------------------------ producer */

/* After a block (or when the mempool's view broke): the view is remade on the tip and the
 * pending transactions re-checked (node_mempool_resume_view), or, with keep (nothing was
 * written) and the view intact, only the hold ends. Lock order: the view holds the store's
 * map lock for reading from its begin until the next resume, so this thread takes mp_lock
 * inside it; the new view is begun before mp_lock is taken, never under it. */
int node_daemon_mempool_resume(struct node_daemon *d, bool keep, const uint8_t (*ids)[SN_HASH_LEN], size_t n,
                               size_t *dropped)
{
	struct store_wtxn *view = NULL;
	int err;

	*dropped = 0;
	if (keep) {
		uv_mutex_lock(&d->mp_lock);
		keep = node_mempool_unhold(d->mp);
		uv_mutex_unlock(&d->mp_lock);
		if (keep)
			return SN_OK;
	}
	err = store_wtxn_begin_speculative(d->st, &view);
	uv_mutex_lock(&d->mp_lock);
	if (err)
		node_mempool_suspend(d->mp); /* admission says busy until the next block */
	else
		err = node_mempool_resume_view(d->mp, view, ids, n, dropped);
	d->mp_growing = false;
	uv_cond_broadcast(&d->mp_view);
	uv_mutex_unlock(&d->mp_lock);
	return err;
}

struct produce_job {
	uv_work_t work;
	struct node_daemon *d;
	const uint8_t **txs;
	size_t *lens;
	size_t n;
	int *errs;
	uint8_t *block;
	size_t block_len, included;
	int err;
	uint64_t t0;
};

static void produce_work(uv_work_t *w)
{
	struct produce_job *j = w->data;
	struct node_propose_opts o = { .time_ms = now_ms_wall(), .node_sk = j->d->node_sk, .preverified = true };

	j->err = node_engine_propose(j->d->eng, j->txs, j->lens, j->n, &o, j->errs, &j->block, &j->block_len,
	                             &j->included);
}

static void produce_done(uv_work_t *w, int status)
{
	struct produce_job *j = w->data;
	struct node_daemon *d = j->d;
	uint8_t(*ids)[SN_HASH_LEN] = sn_malloc((j->n ? j->n : 1) * SN_HASH_LEN);
	size_t k = 0, dropped = 0;
	int err;

	(void)status;
	d->jobs--;
	d->producing = false;
	if (j->err == SN_E_MAPFULL) {
		/* The commit could not grow the map while the mempool's view held it. */
		uv_mutex_lock(&d->mp_lock);
		node_mempool_suspend(d->mp);
		d->mp_growing = true; /* until node_daemon_mempool_resume below */
		uv_mutex_unlock(&d->mp_lock);
		if (getenv("SN_TEST_GROW_DELAY_MS")) /* tests: widen the window RPC threads wait through */
			uv_sleep((unsigned)strtoul(getenv("SN_TEST_GROW_DELAY_MS"), NULL, 10));
		err = store_grow_map(d->st);
		SN_LOG(err ? SN_LOG_ERROR : SN_LOG_INFO, "producer", "block not produced: storage map full; %s",
		       err ? sn_strerror(err) : "map grown, the next block follows");
	} else if (j->err == SN_E_DISKFULL) {
		/* The store said so (once); the block is tried again every DISKFULL_RETRY_MS, its
		 * transactions still pending. */
		SN_LOG(SN_LOG_DEBUG, "producer", "block not produced: %s", sn_strerror(j->err));
	} else if (j->err) {
		SN_LOG(SN_LOG_ERROR, "producer", "block not produced: %s", sn_strerror(j->err));
	} else {
		struct store_info info;

		store_info_get(d->st, &info);
		uv_mutex_lock(&d->mp_lock);
		for (size_t i = 0; i < j->n && ids; i++)
			if (j->errs[i] == SN_OK)
				memcpy(ids[k++], node_mempool_at(d->mp, i)->id, SN_HASH_LEN);
		uv_mutex_unlock(&d->mp_lock);
		SN_LOG(j->included ? SN_LOG_INFO : SN_LOG_DEBUG, "producer", "block %llu: %zu txs in %.1f ms, %llu accounts",
		       (unsigned long long)info.height, j->included,
		       (double)(sn_time_mono_ns() - j->t0) / 1e6, (unsigned long long)info.accounts);
	}
	if (!ids) {
		SN_LOG(SN_LOG_ERROR, "producer", "out of memory after a block");
		k = 0;
	}
	/* Nothing written on a full disk: the tip did not move, the view stays. */
	err = node_daemon_mempool_resume(d, j->err == SN_E_DISKFULL, (const uint8_t(*)[SN_HASH_LEN])ids, k, &dropped);
	atomic_store(&d->want_admit_wake, true);
	if (err)
		SN_LOG(SN_LOG_ERROR, "mempool", "re-check after the block failed: %s", sn_strerror(err));
	if (dropped)
		SN_LOG(SN_LOG_INFO, "mempool", "dropped %zu transactions no longer valid", dropped);
	sn_free(ids);
	sn_free(j->txs);
	sn_free(j->lens);
	sn_free(j->errs);
	sn_free(j->block);
	sn_free(j);
	d->last_block_mono_ms = now_ms_mono();
	daemon_maybe_finish(d);
}

static void produce_start(struct node_daemon *d)
{
	struct produce_job *j = sn_calloc(1, sizeof(*j));
	size_t n;
	struct store_info info;

	if (!j)
		return;
	uv_mutex_lock(&d->mp_lock); /* until the hold: RPC threads only append after it */
	n = node_mempool_count(d->mp);
	store_info_get(d->st, &info);
	if (n > info.params.max_block_txs)
		n = info.params.max_block_txs;
	j->d = d;
	j->n = n;
	j->txs = sn_malloc((n ? n : 1) * sizeof(*j->txs));
	j->lens = sn_malloc((n ? n : 1) * sizeof(*j->lens));
	j->errs = sn_calloc(n ? n : 1, sizeof(*j->errs));
	if (!j->txs || !j->lens || !j->errs) {
		uv_mutex_unlock(&d->mp_lock);
		sn_free(j->txs);
		sn_free(j->lens);
		sn_free(j->errs);
		sn_free(j);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct node_mempool_entry *e = node_mempool_at(d->mp, i);

		j->txs[i] = e->raw;
		j->lens[i] = e->len;
	}
	j->t0 = sn_time_mono_ns();
	j->work.data = j;
	/* Admission goes on meanwhile (the view keeps its snapshot across the commit); the
	 * block's entries stay put until node_mempool_resume in produce_done. */
	node_mempool_hold(d->mp);
	uv_mutex_unlock(&d->mp_lock);
	d->producing = true;
	d->jobs++;
	if (uv_queue_work(d->loop, &j->work, produce_work, produce_done) != 0) {
		j->err = SN_E_IO;
		produce_done(&j->work, 0);
	}
}

/* Governance can take this node out of the validator set (CHANGE_VALIDATORS, in force from
 * the height after the block that executed it): it then no longer produces. The set can only
 * change with a block, so it is read once per height (an error is retried at the next tick). */
static bool producer_still_validator(struct node_daemon *d)
{
	struct store_info info;
	bool yes = false;
	int err;

	store_info_get(d->st, &info);
	if (d->validator_height == info.height + 1)
		return d->validator_yes;
	err = node_gov_is_validator(d->st, d->node_pk, info.height + 1, &yes);
	if ((err || !yes) && !d->validator_said)
		SN_LOG(SN_LOG_WARN, "producer", "not producing: %s", err ? sn_strerror(err) : "this node is no longer a validator");
	d->validator_said = err || !yes;
	d->validator_yes = !err && yes;
	d->validator_height = err ? 0 : info.height + 1;
	return d->validator_yes;
}

static void on_block_timer(uv_timer_t *t)
{
	struct node_daemon *d = t->data;
	uint64_t since = now_ms_mono() - d->last_block_mono_ms;
	size_t pending;

	if (d->stopping || d->producing || !d->ready || store_status(d->st) || !producer_still_validator(d))
		return;
	if (store_disk_full(d->st) && since < DISKFULL_RETRY_MS)
		return;
	uv_mutex_lock(&d->mp_lock);
	pending = node_mempool_count(d->mp);
	uv_mutex_unlock(&d->mp_lock);
	if (pending > 0 || since >= d->cfg.block_interval_ms)
		produce_start(d);
}

/* ------------------------------------------------------------------ signature checks */

/* The engine's helpers finished checks for the loop: submitted transactions' rounds
 * (node/rpc.c) or gossiped ones (node/p2p.c). */
static void on_checks_done(uv_async_t *h)
{
	struct node_daemon *d = h->data;

	node_rpc_checked(d);
	node_p2p_checked(d);
}

/* ------------------------------------------------------------------ health */

static int on_health(void *ud, const char **reason)
{
	struct node_daemon *d = ud;

	if (d->stopping) {
		*reason = "stopping";
		return 503;
	}
	if (!d->ready) {
		*reason = d->open_err ? "store failed to open" : "starting";
		return 503;
	}
	if (store_status(d->st)) {
		*reason = "store failed: restart the node";
		return 503;
	}
	if (store_disk_full(d->st)) {
		*reason = "disk full: free space for the store (blocks resume by themselves)";
		return 503;
	}
	*reason = "ok";
	return 200;
}

/* ------------------------------------------------------------------ peer network */

/* The peer network starts once the store is open (gossiped transactions need it); a
 * failure to start it stops the node. */
static void daemon_p2p_start(struct node_daemon *d)
{
	if (node_p2p_start(d) == SN_OK)
		return;
	d->exit_code = 1;
	d->stopping = true;
	uv_timer_stop(&d->block_timer);
	http_server_stop(d->http, on_http_stopped, d);
	d->http = NULL;
	daemon_maybe_finish(d);
}

void node_daemon_maybe_finish(struct node_daemon *d)
{
	daemon_maybe_finish(d);
}

/* ------------------------------------------------------------------ pending across a restart */

static void mempool_file_path(const struct node_daemon *d, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", d->home, NODE_MEMPOOL_FILE);
}

/* At a stop, once no block is being built and RPC is closed: what is still pending goes to
 * mempool.dat, admitted again at the next start. Nothing pending: no file. */
static void mempool_save(struct node_daemon *d)
{
	char path[PATH_MAX + 32];
	struct node_mempool_saved *txs;
	size_t n, len = 0;
	uint8_t *buf = NULL;
	int err = SN_OK;

	mempool_file_path(d, path, sizeof(path));
	uv_mutex_lock(&d->mp_lock);
	n = node_mempool_count(d->mp);
	if (!(txs = sn_malloc((n ? n : 1) * sizeof(*txs))))
		err = SN_E_NOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		txs[i].raw = node_mempool_at(d->mp, i)->raw;
		txs[i].len = node_mempool_at(d->mp, i)->len;
	}
	if (!err && n)
		err = node_mempool_file_encode(txs, n, d->gen.chain_id, &buf, &len);
	uv_mutex_unlock(&d->mp_lock);
	if (!err && n)
		err = node_file_write_atomic(path, buf, len, 0600, true);
	else if (!err && unlink(path) != 0 && errno != ENOENT) /* one left by an older stop */
		err = sn_err_from_errno(errno);
	if (err)
		SN_LOG(SN_LOG_ERROR, "mempool", "cannot save the %zu pending transactions to %s: %s", n, path,
		       sn_strerror(err));
	else if (n)
		SN_LOG(SN_LOG_INFO, "mempool", "saved %zu pending transactions to %s", n, path);
	sn_free(buf);
	sn_free(txs);
}

/* A saved transaction being restored: the stateless checks' results, then admission's. */
struct restored {
	struct store_tx tx;
	uint8_t id[SN_HASH_LEN];
	int err;
};

struct restore {
	struct node_daemon *d;
	const struct node_mempool_saved *txs;
	struct restored *e;
};

static void restore_check(void *ud, size_t i)
{
	struct restore *r = ud;
	struct restored *e = &r->e[i];

	e->err = node_tx_check(r->txs[i].raw, r->txs[i].len, r->d->gen.chain_id, &e->tx, e->id);
}

/* At start, before RPC and peers are served: the transactions the last stop saved are checked
 * (signatures on the engine's helpers) and admitted again in their order, as if submitted;
 * those no longer valid (committed meanwhile, say) are dropped. The file is then removed (a
 * later stop saves again); one that is not a saved mempool is kept as mempool.dat.bad. */
static void mempool_restore(struct node_daemon *d)
{
	char path[PATH_MAX + 32], bad[PATH_MAX + 40];
	struct node_mempool_saved *txs = NULL;
	struct restore r = { .d = d };
	size_t admitted = 0, len, n = 0;
	bool not_one; /* the file is not a saved mempool */
	uint8_t *buf;
	int err;

	mempool_file_path(d, path, sizeof(path));
	err = node_file_read(path, d->cfg.mempool_max_bytes + d->cfg.mempool_max_txs * 4 + 64, &buf, &len);
	if (err == SN_E_NOTFOUND)
		return;
	not_one = err == SN_E_TOOBIG;
	if (!err) {
		err = node_mempool_file_decode(buf, len, d->gen.chain_id, &txs, &n);
		not_one = err && err != SN_E_NOMEM;
	}
	if (!err && !(r.e = sn_calloc(n ? n : 1, sizeof(*r.e))))
		err = SN_E_NOMEM;
	if (err && !not_one) { /* unreadable now, or no memory: left as it is for the next start */
		SN_LOG(SN_LOG_WARN, "mempool", "cannot restore %s (%s): nothing restored", path, sn_strerror(err));
	} else if (err) {
		snprintf(bad, sizeof(bad), "%s.bad", path);
		SN_LOG(SN_LOG_WARN, "mempool", "%s is not a saved mempool (%s): kept as %s, nothing restored", path,
		       sn_strerror(err), bad);
		if (rename(path, bad) != 0)
			SN_LOG(SN_LOG_WARN, "mempool", "cannot rename %s: %s", path, strerror(errno));
	}
	if (err) {
		sn_free(txs);
		sn_free(buf);
		return;
	}
	r.txs = txs;
	node_engine_check(d->eng, n, 16, restore_check, &r);
	for (size_t i = 0; i < n; i++) {
		struct restored *e = &r.e[i];

		if (e->err)
			continue;
		uv_mutex_lock(&d->mp_lock);
		e->err = node_mempool_try_add(d->mp, txs[i].raw, txs[i].len, &e->tx, e->id);
		uv_mutex_unlock(&d->mp_lock);
		admitted += e->err == SN_OK;
	}
	SN_LOG(SN_LOG_INFO, "mempool", "%zu of the %zu transactions saved at the last stop are pending again%s", admitted,
	       n, admitted < n ? " (the others are no longer valid)" : "");
	if (unlink(path) != 0)
		SN_LOG(SN_LOG_WARN, "mempool", "cannot remove %s: %s", path, strerror(errno));
	sn_free(r.e);
	sn_free(txs);
	sn_free(buf);
}

/* ------------------------------------------------------------------ start-up */

static void open_work(uv_work_t *w)
{
	struct node_daemon *d = w->data;
	struct store_opts so = { .chain_id = d->gen.chain_id, .map_size = d->cfg.map_size_mb << 20,
		                 .no_tx_index = !d->cfg.tx_index };
	const char *fail_at = getenv("SN_TEST_FAIL_COMMIT_AT"); /* tests: a store that fails */
	struct node_engine_opts eo = { .threads = (unsigned)d->cfg.engine_threads };
	struct store_info info;
	char path[PATH_MAX + 300];
	uint64_t t0 = sn_time_mono_ns();
	int err;

	if (fail_at)
		so.fail_commit_at = strtoull(fail_at, NULL, 10);
	if (d->cfg.data_dir[0] == '/')
		snprintf(path, sizeof(path), "%s", d->cfg.data_dir);
	else
		snprintf(path, sizeof(path), "%s/%s", d->home, d->cfg.data_dir);
	if ((err = store_open(&d->st, path, &so))) {
		SN_LOG(SN_LOG_ERROR, "node", "cannot open the store in %s: %s", path, sn_strerror(err));
		d->open_err = err;
		return;
	}
	store_info_get(d->st, &info);
	if (!info.has_genesis) {
		if ((err = store_genesis_init(d->st, &d->gen.g))) {
			SN_LOG(SN_LOG_ERROR, "node", "cannot write the genesis state: %s", sn_strerror(err));
			d->open_err = err;
			return;
		}
		SN_LOG(SN_LOG_INFO, "node", "wrote the genesis state of chain %u", d->gen.chain_id);
		store_info_get(d->st, &info);
	}
	if ((err = node_engine_new(&d->eng, d->st, &eo))) {
		SN_LOG(SN_LOG_ERROR, "node", "cannot start the engine: %s", sn_strerror(err));
		d->open_err = err;
		return;
	}
	SN_LOG(SN_LOG_INFO, "node", "store open at height %llu with %llu accounts (%.0f ms)",
	       (unsigned long long)info.height, (unsigned long long)info.accounts,
	       (double)(sn_time_mono_ns() - t0) / 1e6);
}

static void open_done(uv_work_t *w, int status)
{
	struct node_daemon *d = w->data;
	int err;

	(void)status;
	d->jobs--;
	/* The mempool's view holds the store's map lock for reading until the loop thread ends
	 * it (node_mempool_resume), so it begins on the loop thread: a rwlock is released by the
	 * thread that took it (POSIX; ThreadSanitizer also keeps it held by the pool thread
	 * otherwise and reports a false lock-order cycle when that thread next produces). */
	if (!d->open_err &&
	    (err = node_mempool_new(&d->mp, d->st, d->cfg.mempool_max_txs, d->cfg.mempool_max_bytes))) {
		SN_LOG(SN_LOG_ERROR, "node", "cannot start the mempool: %s", sn_strerror(err));
		d->open_err = err;
	}
	if (d->open_err) {
		d->exit_code = 1;
		d->stopping = true;
		http_server_stop(d->http, NULL, NULL);
		d->http = NULL;
		d->http_stopped = true;
		daemon_maybe_finish(d);
		return;
	}
	node_mempool_defer_rebuild(d->mp); /* rebuilt by node_daemon_mempool_resume, in lock order */
	if (d->cfg.mempool_persist)
		mempool_restore(d);
	d->last_block_mono_ms = now_ms_mono();
	atomic_store(&d->want_admit_wake, true);
	d->ready = true;
	if (d->stopping) {
		daemon_maybe_finish(d);
		return;
	}
	if (d->producer) {
		uv_timer_start(&d->block_timer, on_block_timer, BLOCK_POLL_MS, BLOCK_POLL_MS);
		SN_LOG(SN_LOG_INFO, "node", "single validator: producing blocks (at least every %llu ms)",
		       (unsigned long long)d->cfg.block_interval_ms);
	}
	SN_LOG(SN_LOG_INFO, "node", "serving JSON-RPC on %s:%u", d->cfg.rpc_address, http_server_port(d->http));
	daemon_p2p_start(d);
}

/* ------------------------------------------------------------------ shutdown */

static void on_http_stopped(void *ud)
{
	struct node_daemon *d = ud;

	d->http_stopped = true;
	daemon_maybe_finish(d);
}

static void daemon_maybe_finish(struct node_daemon *d)
{
	if (!d->stopping || d->jobs || !d->http_stopped)
		return;
	if (!uv_is_closing((uv_handle_t *)&d->block_timer)) {
		uv_close((uv_handle_t *)&d->block_timer, NULL);
		uv_close((uv_handle_t *)&d->verify_check, NULL);
		uv_close((uv_handle_t *)&d->verify_soon, NULL);
		uv_close((uv_handle_t *)&d->checks_done, NULL);
		uv_close((uv_handle_t *)&d->inbox, NULL);
		uv_close((uv_handle_t *)&d->sig_int, NULL);
		uv_close((uv_handle_t *)&d->sig_term, NULL);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct node_daemon *d = s->data;

	if (d->stopping)
		return;
	SN_LOG(SN_LOG_INFO, "node", "%s: finishing the block in progress and stopping",
	       signum == SIGINT ? "SIGINT" : "SIGTERM");
	d->stopping = true;
	uv_timer_stop(&d->block_timer);
	node_p2p_stop(d);
	http_server_stop(d->http, on_http_stopped, d);
	d->http = NULL;
	daemon_maybe_finish(d);
}

/* The thread pool opens the store and builds blocks; signature checks run on the engine's
 * helper threads (node/rpc.c, node/p2p.c). So two threads: the producer's and one for the
 * rest. libuv's default of 4 would leave idle threads that get woken (a cross-CPU wake-up,
 * dear on a VM) for work the busy ones would take next. A UV_THREADPOOL_SIZE in the
 * environment wins. Before the pool's first use (it reads the variable once). */
static void pool_size_set(void)
{
	if (!getenv("UV_THREADPOOL_SIZE"))
		setenv("UV_THREADPOOL_SIZE", "2", 0);
}

int node_daemon_run(struct node_daemon *d)
{
	struct http_server_opts ho = {
		.address = d->cfg.rpc_address,
		.port = (uint16_t)d->cfg.rpc_port,
		.limits = { .max_body = d->cfg.rpc_max_body_bytes, .max_header = d->cfg.rpc_max_header_bytes,
		            .max_connections = d->cfg.rpc_max_connections,
		            .idle_timeout_ms = d->cfg.rpc_idle_timeout_ms },
		.threads = (unsigned)d->cfg.rpc_threads,
		.on_post = node_rpc_post,
		.on_health = on_health,
		.ud = d,
	};
	char user_pass[sizeof(d->cfg.rpc_user) + sizeof(d->cfg.rpc_password) + 2];
	uint8_t rnd[32];
	int err;

	pool_size_set();
	d->loop = uv_default_loop();
	uv_mutex_init(&d->mp_lock);
	uv_cond_init(&d->mp_view);
	uv_mutex_init(&d->inbox_lock);
	uv_async_init(d->loop, &d->inbox, node_rpc_inbox);
	d->inbox.data = d;
	/* Random password for this run, written to <home>/rpc.cookie (0600). */
	sn_random_bytes(rnd, sizeof(rnd));
	memcpy(d->cookie, "__cookie__:", 11);
	sn_hex_encode(d->cookie + 11, rnd, sizeof(rnd));
	sn_wipe(rnd, sizeof(rnd));
	snprintf(d->cookie_path, sizeof(d->cookie_path), "%s/%s", d->home, NODE_COOKIE_FILE);
	snprintf(user_pass, sizeof(user_pass), "%s:%s", d->cfg.rpc_user, d->cfg.rpc_password);
	ho.credentials[0] = d->cookie;
	ho.credentials[1] = d->cfg.rpc_user[0] ? user_pass : NULL;
	if ((err = http_server_start(&d->http, d->loop, &ho))) {
		uv_close((uv_handle_t *)&d->inbox, NULL);
		uv_run(d->loop, UV_RUN_DEFAULT); /* let the failed listener close */
		return 1;
	}
	if ((err = node_file_write_atomic(d->cookie_path, d->cookie, strlen(d->cookie), 0600, true))) {
		SN_LOG(SN_LOG_ERROR, "node", "cannot write %s: %s", d->cookie_path, sn_strerror(err));
		http_server_stop(d->http, NULL, NULL);
		uv_close((uv_handle_t *)&d->inbox, NULL);
		uv_run(d->loop, UV_RUN_DEFAULT);
		return 1;
	}
	sn_wipe(user_pass, sizeof(user_pass));
	uv_timer_init(d->loop, &d->block_timer);
	d->block_timer.data = d;
	uv_check_init(d->loop, &d->verify_check);
	d->verify_check.data = d;
	uv_idle_init(d->loop, &d->verify_soon);
	uv_async_init(d->loop, &d->checks_done, on_checks_done);
	d->checks_done.data = d;
	uv_signal_init(d->loop, &d->sig_int);
	uv_signal_init(d->loop, &d->sig_term);
	d->sig_int.data = d->sig_term.data = d;
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	d->open_work.data = d;
	d->jobs++;
	uv_queue_work(d->loop, &d->open_work, open_work, open_done);
	uv_run(d->loop, UV_RUN_DEFAULT);

	unlink(d->cookie_path);
	sn_wipe(d->cookie, sizeof(d->cookie));
	/* A helper may still be in a done callback (its job already counted as finished: the
	 * unlock of node/p2p.c's list, the uv_async_send): the helpers are joined first, before
	 * what those touch is freed and the loop closed. */
	node_engine_free(d->eng);
	node_rpc_inbox_free(d);
	node_p2p_free(d);
	if (d->mp && d->cfg.mempool_persist)
		mempool_save(d);
	node_mempool_free(d->mp);
	if (d->st && store_status(d->st)) { /* a supervisor's on-failure restart is the remedy */
		SN_LOG(SN_LOG_ERROR, "node", "stopped with the store failed: start the node again to recover");
		d->exit_code = 1;
	}
	store_close(d->st);
	uv_loop_close(d->loop);
	uv_mutex_destroy(&d->mp_lock);
	uv_cond_destroy(&d->mp_view);
	uv_mutex_destroy(&d->inbox_lock);
	if (!d->exit_code)
		SN_LOG(SN_LOG_INFO, "node", "stopped cleanly");
	return d->exit_code;
}
