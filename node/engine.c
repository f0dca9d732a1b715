/* node/engine.c — the settlement engine: blocks are checked and applied in one store write
 * transaction each. Signature checks (the dominant cost) run on every core; application runs
 * on the calling thread in block order, overlapping with the checks of later transactions, so
 * the result is deterministic whatever the thread timing. Applying several blocks pipelines
 * them: the next block's signatures are checked while the current one commits. */
#include "node/node.h"

#include <pthread.h>
#include <sodium.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define CHUNK 32 /* transactions per unit of parallel work */

/* The checks of one batch of transactions, shared with the helper threads while posted. A
 * job of the caller's (engine_run, apply_blocks) lives on its stack and is taken back with
 * job_end (node_engine_check's too); an asynchronous one (node_engine_check_async) is the engine's, and the last
 * thread to leave it once every chunk is checked unlinks it, calls its done and frees it. */
struct vjob {
	const uint8_t *const *raw;
	const size_t *lens;
	size_t n, nchunks, chunk; /* chunk: transactions per unit of work */
	uint32_t chain_id;
	bool preverified;
	struct store_tx *txs;
	uint8_t (*ids)[SN_HASH_LEN];
	int *errs;
	atomic_size_t next;   /* next chunk to claim */
	atomic_uchar *done;   /* per chunk: checked (NULL for an asynchronous job) */
	atomic_bool cancel;
	struct vjob *next_job; /* posted jobs, oldest first (under eng->mu) */
	unsigned active;       /* helpers inside it (under eng->mu) */
	bool posted;
	/* an asynchronous job */
	node_check_fn *check;
	node_check_done_fn *done_fn;
	void *ud;
	atomic_size_t chunks_done;
};

struct node_engine {
	struct store *st;
	pthread_t *threads;
	unsigned n_threads; /* helper threads (not counting the caller) */
	uint64_t group_txs; /* node_engine_apply_blocks closes a commit group past this many */
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_idle;
	struct vjob *jobs;  /* posted, oldest first: helpers serve the oldest with work left */
	bool stop;
};

/* Claims the next unchecked chunk and checks it. false when none is left. */
static bool vjob_work(struct vjob *j)
{
	size_t c;

	if (atomic_load_explicit(&j->cancel, memory_order_relaxed))
		return false;
	c = atomic_fetch_add(&j->next, 1);
	if (c >= j->nchunks)
		return false;
	for (size_t i = c * j->chunk; i < j->n && i < (c + 1) * j->chunk; i++) {
		if (j->check) {
			j->check(j->ud, i);
		} else if (j->preverified) {
			j->errs[i] = store_tx_decode(&j->txs[i], j->raw[i], j->lens[i]);
			store_tx_id(j->ids[i], j->raw[i], j->lens[i]);
		} else {
			j->errs[i] = node_tx_check(j->raw[i], j->lens[i], j->chain_id, &j->txs[i], j->ids[i]);
		}
	}
	if (j->done)
		atomic_store_explicit(&j->done[c], 1, memory_order_release);
	else
		atomic_fetch_add_explicit(&j->chunks_done, 1, memory_order_release);
	return true;
}

/* Takes j off the posted list (under eng->mu). */
static void job_unlink(struct node_engine *eng, struct vjob *j)
{
	for (struct vjob **pp = &eng->jobs; *pp; pp = &(*pp)->next_job)
		if (*pp == j) {
			*pp = j->next_job;
			break;
		}
	j->posted = false;
}

/* A thread leaves j (under eng->mu). Returns j when it is an asynchronous job whose chunks
 * are all checked and this was the last thread in it: unlinked, for the caller to finish
 * with async_finish once it has let go of the lock. */
static struct vjob *job_leave(struct node_engine *eng, struct vjob *j)
{
	if (--j->active)
		return NULL;
	pthread_cond_broadcast(&eng->cv_idle);
	if (!j->done_fn || !j->posted ||
	    atomic_load_explicit(&j->chunks_done, memory_order_acquire) != j->nchunks)
		return NULL;
	job_unlink(eng, j);
	return j;
}

static void async_finish(struct vjob *j)
{
	if (j) {
		j->done_fn(j->ud);
		sn_free(j);
	}
}

static bool vjob_has_work(struct vjob *j)
{
	return !atomic_load_explicit(&j->cancel, memory_order_relaxed) &&
	       atomic_load_explicit(&j->next, memory_order_relaxed) < j->nchunks;
}

static void *engine_worker(void *arg)
{
	struct node_engine *eng = arg;

	pthread_mutex_lock(&eng->mu);
	while (!eng->stop) {
		struct vjob *j = eng->jobs, *fin;

		while (j && !vjob_has_work(j))
			j = j->next_job;
		if (!j) {
			pthread_cond_wait(&eng->cv_work, &eng->mu);
			continue;
		}
		j->active++;
		pthread_mutex_unlock(&eng->mu);
		while (vjob_work(j))
			;
		pthread_mutex_lock(&eng->mu);
		if ((fin = job_leave(eng, j))) {
			pthread_mutex_unlock(&eng->mu);
			async_finish(fin);
			pthread_mutex_lock(&eng->mu);
		}
	}
	pthread_mutex_unlock(&eng->mu);
	return NULL;
}

int node_engine_new(struct node_engine **out, struct store *st, const struct node_engine_opts *opts)
{
	struct node_engine *eng;
	unsigned threads = opts && opts->threads ? opts->threads : 0;

	*out = NULL;
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	if (threads > 64)
		threads = 64;
	eng = sn_calloc(1, sizeof(*eng));
	if (!eng)
		return SN_E_NOMEM;
	eng->st = st;
	eng->group_txs = opts && opts->group_txs ? opts->group_txs : NODE_ENGINE_GROUP_TXS;
	pthread_mutex_init(&eng->mu, NULL);
	pthread_cond_init(&eng->cv_work, NULL);
	pthread_cond_init(&eng->cv_idle, NULL);
	eng->threads = sn_calloc(threads, sizeof(*eng->threads));
	if (!eng->threads) {
		node_engine_free(eng);
		return SN_E_NOMEM;
	}
	/* One helper per CPU: the caller also checks, but while it commits a block the helpers
	 * keep every core checking the next one. */
	for (unsigned i = 0; i < threads && threads > 1; i++) {
		if (pthread_create(&eng->threads[i], NULL, engine_worker, eng) != 0) {
			node_engine_free(eng);
			return SN_E_NOMEM;
		}
		eng->n_threads++;
	}
	*out = eng;
	return SN_OK;
}

void node_engine_free(struct node_engine *eng)
{
	if (!eng)
		return;
	pthread_mutex_lock(&eng->mu);
	eng->stop = true;
	pthread_cond_broadcast(&eng->cv_work);
	pthread_mutex_unlock(&eng->mu);
	for (unsigned i = 0; i < eng->n_threads; i++)
		pthread_join(eng->threads[i], NULL);
	sn_free(eng->threads);
	pthread_mutex_destroy(&eng->mu);
	pthread_cond_destroy(&eng->cv_work);
	pthread_cond_destroy(&eng->cv_idle);
	sn_free(eng);
}

/* The arrays of one batch of transactions. */
struct batch {
	struct store_tx *txs;
	uint8_t (*ids)[SN_HASH_LEN];
	int *errs;
	atomic_uchar *done;
};

static void batch_free(struct batch *b)
{
	sn_free(b->txs);
	sn_free(b->ids);
	sn_free(b->errs);
	sn_free(b->done);
	memset(b, 0, sizeof(*b));
}

static int batch_alloc(struct batch *b, size_t n)
{
	size_t m = n ? n : 1;

	b->txs = sn_malloc(m * sizeof(*b->txs));
	b->ids = sn_malloc(m * SN_HASH_LEN);
	b->errs = sn_malloc(m * sizeof(*b->errs));
	b->done = sn_calloc((m + CHUNK - 1) / CHUNK, sizeof(*b->done));
	if (!b->txs || !b->ids || !b->errs || !b->done) {
		batch_free(b);
		return SN_E_NOMEM;
	}
	return SN_OK;
}

/* Called for each transaction in order once it is checked; returns non-zero to stop. */
typedef int apply_fn(void *ud, size_t i, int check_err, const struct store_tx *tx, const uint8_t *id);

static void job_init(struct vjob *j, const uint8_t *const *raw, const size_t *lens, size_t n, uint32_t chain_id,
                     bool preverified, struct batch *b)
{
	*j = (struct vjob){ .raw = raw, .lens = lens, .n = n, .nchunks = (n + CHUNK - 1) / CHUNK, .chunk = CHUNK,
		            .chain_id = chain_id, .preverified = preverified, .txs = b->txs, .ids = b->ids,
		            .errs = b->errs, .done = b->done };
	atomic_init(&j->next, 0);
	atomic_init(&j->cancel, false);
	atomic_init(&j->chunks_done, 0);
}

/* Hands j to the helper threads (they start on it once older jobs have no work left). */
static void job_post(struct node_engine *eng, struct vjob *j)
{
	struct vjob **tail;

	if (!eng->n_threads || !j->nchunks)
		return;
	pthread_mutex_lock(&eng->mu);
	for (tail = &eng->jobs; *tail; tail = &(*tail)->next_job)
		;
	*tail = j;
	j->posted = true;
	if (j->nchunks == 1)
		pthread_cond_signal(&eng->cv_work); /* one helper is enough: the others sleep on */
	else
		pthread_cond_broadcast(&eng->cv_work);
	pthread_mutex_unlock(&eng->mu);
}

/* Takes j back: no helper is inside it when this returns. */
static void job_end(struct node_engine *eng, struct vjob *j)
{
	atomic_store(&j->cancel, true);
	if (!j->posted)
		return;
	pthread_mutex_lock(&eng->mu);
	job_unlink(eng, j);
	while (j->active)
		pthread_cond_wait(&eng->cv_idle, &eng->mu);
	pthread_mutex_unlock(&eng->mu);
}

/* Checks one chunk of the oldest posted job other than j that has work left, as a helper
 * would. false if there is none. */
static bool engine_help(struct node_engine *eng, struct vjob *j)
{
	struct vjob *o;
	bool worked;

	pthread_mutex_lock(&eng->mu);
	for (o = eng->jobs; o && (o == j || !vjob_has_work(o)); o = o->next_job)
		;
	if (!o) {
		pthread_mutex_unlock(&eng->mu);
		return false;
	}
	o->active++;
	pthread_mutex_unlock(&eng->mu);
	worked = vjob_work(o);
	pthread_mutex_lock(&eng->mu);
	o = job_leave(eng, o);
	pthread_mutex_unlock(&eng->mu);
	async_finish(o);
	return worked;
}

unsigned node_engine_helpers(const struct node_engine *eng)
{
	return eng->n_threads;
}

void node_engine_check(struct node_engine *eng, size_t n, size_t chunk, node_check_fn *check, void *ud)
{
	struct vjob j = { .n = n, .chunk = chunk ? chunk : 1, .check = check, .ud = ud };

	j.nchunks = (n + j.chunk - 1) / j.chunk;
	atomic_init(&j.next, 0);
	atomic_init(&j.cancel, false);
	atomic_init(&j.chunks_done, 0);
	job_post(eng, &j);
	while (vjob_work(&j))
		;
	job_end(eng, &j); /* a helper still checking a chunk it took finishes it first */
}

int node_engine_check_async(struct node_engine *eng, size_t n, size_t chunk, node_check_fn *check,
                            node_check_done_fn *done, void *ud)
{
	struct vjob *j;

	if (!chunk)
		chunk = 1;
	if (!eng->n_threads || !n) { /* no helpers: the caller checks */
		for (size_t i = 0; i < n; i++)
			check(ud, i);
		done(ud);
		return SN_OK;
	}
	if (!(j = sn_calloc(1, sizeof(*j))))
		return SN_E_NOMEM;
	j->n = n;
	j->chunk = chunk;
	j->nchunks = (n + chunk - 1) / chunk;
	j->check = check;
	j->done_fn = done;
	j->ud = ud;
	atomic_init(&j->next, 0);
	atomic_init(&j->cancel, false);
	atomic_init(&j->chunks_done, 0);
	job_post(eng, j);
	return SN_OK;
}

/* Hands j's transactions to fn in order as they become checked, checking unclaimed chunks
 * itself meanwhile (j's, then the next block's). Returns fn's first non-zero result. */
static int job_consume(struct node_engine *eng, struct vjob *j, apply_fn *fn, void *ud)
{
	int stop = 0;

	for (size_t c = 0; c < j->nchunks && !stop; c++) {
		while (!atomic_load_explicit(&j->done[c], memory_order_acquire))
			if (!vjob_work(j) && !engine_help(eng, j))
				sched_yield(); /* chunk c is being checked by a helper */
		for (size_t i = c * CHUNK; i < j->n && i < (c + 1) * CHUNK && !stop; i++)
			stop = fn(ud, i, j->errs[i], &j->txs[i], j->ids[i]);
	}
	return stop;
}

/* Checks every transaction on all threads and hands them to fn in order. */
static int engine_run(struct node_engine *eng, const uint8_t *const *raw, const size_t *lens, size_t n,
                      uint32_t chain_id, bool preverified, struct batch *b, apply_fn *fn, void *ud)
{
	struct vjob j;
	int stop;

	job_init(&j, raw, lens, n, chain_id, preverified, b);
	if (j.nchunks > 1)
		job_post(eng, &j);
	stop = job_consume(eng, &j, fn, ud);
	job_end(eng, &j);
	return stop;
}

struct apply_ctx {
	struct store_wtxn *w;
	uint64_t height;
	struct node_block_result *res;
};

static int apply_strict(void *ud, size_t i, int check_err, const struct store_tx *tx, const uint8_t *id)
{
	struct apply_ctx *a = ud;
	int err = check_err;

	if (!err)
		err = node_tx_apply(a->w, tx, a->height);
	if (!err)
		err = store_wtxn_tx_add(a->w, id);
	if (err) {
		a->res->err = err;
		a->res->tx_index = (int32_t)i;
	}
	return err;
}

static int block_fail(struct node_block_result *res, int err, int32_t idx)
{
	res->err = err;
	res->tx_index = idx;
	return err;
}

/* A received block, decoded, with its signature checks posted to the helpers. */
struct prepared {
	const uint8_t *block, *commit;
	size_t len, commit_len;
	struct store_block b;
	const uint8_t **raw;
	size_t *lens;
	struct batch bt;
	struct vjob j;
	int err; /* a framing error found while preparing */
};

static void prepared_free(struct node_engine *eng, struct prepared *p)
{
	job_end(eng, &p->j);
	sn_free(p->raw);
	sn_free(p->lens);
	batch_free(&p->bt);
	memset(p, 0, sizeof(*p));
}

static void prepare(struct node_engine *eng, struct prepared *p, uint32_t chain_id, const uint8_t *block, size_t len,
                    const uint8_t *commit, size_t commit_len)
{
	size_t pos = 0, n;

	memset(p, 0, sizeof(*p));
	p->block = block;
	p->len = len;
	p->commit = commit;
	p->commit_len = commit_len;
	if ((p->err = store_block_decode(&p->b, block, len)))
		return;
	n = p->b.hdr.tx_count;
	p->raw = sn_malloc((n ? n : 1) * sizeof(*p->raw));
	p->lens = sn_malloc((n ? n : 1) * sizeof(*p->lens));
	if (!p->raw || !p->lens || batch_alloc(&p->bt, n)) {
		p->err = SN_E_NOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!store_block_next_tx(&p->b, &pos, &p->raw[i], &p->lens[i])) {
			p->err = SN_E_CORRUPT; /* store_block_decode checked the framing */
			return;
		}
	job_init(&p->j, p->raw, p->lens, n, chain_id, false, &p->bt);
	job_post(eng, &p->j);
}

/* Validates and commits a prepared block as the next one. On error the store is unchanged. */
static int apply_prepared(struct node_engine *eng, struct store_group *g, struct prepared *p,
                          struct node_block_result *res)
{
	const struct store_block_header *h = &p->b.hdr;
	struct store_wtxn *w = NULL;
	const struct store_info *tip;
	uint8_t root[SN_HASH_LEN];
	struct apply_ctx ctx;
	uint64_t t0, t1, t2;
	int err;

	res->err = SN_OK;
	res->tx_index = -1;
	if (p->err)
		return block_fail(res, p->err, -1);
	if ((err = store_wtxn_begin_in(g, &w)))
		return block_fail(res, err, -1);
	tip = store_wtxn_info(w);
	if (h->chain_id != tip->chain_id)
		err = SN_E_CHAIN;
	else if (!tip->has_genesis || h->height != tip->height + 1)
		err = SN_E_HEIGHT;
	else if (memcmp(h->prev_hash, tip->tip_hash, SN_HASH_LEN) != 0)
		err = SN_E_PREV;
	else if (h->time_ms < tip->tip_time_ms)
		err = SN_E_TIME;
	else if (h->tx_count > tip->params.max_block_txs)
		err = SN_E_TOOBIG;
	if (err)
		goto fail_block;
	ctx = (struct apply_ctx){ .w = w, .height = h->height, .res = res };
	t0 = sn_time_mono_ns();
	if (job_consume(eng, &p->j, apply_strict, &ctx))
		goto fail; /* res says which transaction */
	t1 = sn_time_mono_ns();
	store_tx_root(root, (const uint8_t(*)[SN_HASH_LEN])p->bt.ids, h->tx_count);
	if (memcmp(root, h->tx_root, SN_HASH_LEN) != 0) {
		err = SN_E_TXROOT;
		goto fail_block;
	}
	if ((err = store_wtxn_state_root(w, root)))
		goto fail_block;
	if (memcmp(root, h->state_root, SN_HASH_LEN) != 0) {
		err = SN_E_STATEROOT;
		goto fail_block;
	}
	t2 = sn_time_mono_ns();
	err = store_wtxn_commit(w, h, p->block, p->len, p->commit, p->commit_len);
	w = NULL;
	if (err)
		goto fail_block;
	SN_LOG(SN_LOG_DEBUG, "engine", "applied block %llu: %u txs; check+apply %.1f ms, roots %.1f ms, commit %.1f ms",
	       (unsigned long long)h->height, h->tx_count, (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6,
	       (double)(sn_time_mono_ns() - t2) / 1e6);
	return SN_OK;
fail_block:
	block_fail(res, err, -1);
fail:
	store_wtxn_abort(w);
	return res->err;
}

int node_engine_apply_block(struct node_engine *eng, const uint8_t *block, size_t len, const uint8_t *commit,
                            size_t commit_len, struct node_block_result *res)
{
	size_t applied;

	return node_engine_apply_blocks(eng, &block, &len, &commit, &commit_len, 1, &applied, res);
}

int node_engine_apply_blocks(struct node_engine *eng, const uint8_t *const *blocks, const size_t *lens,
                             const uint8_t *const *commits, const size_t *commit_lens, size_t n, size_t *applied,
                             struct node_block_result *res)
{
	/* Blocks prepared ahead: their signatures get checked while this one applies and while a
	 * group commits (the helpers never run dry during an fsync). */
	enum { MAPFULL_RETRIES = 20, AHEAD = 2, SLOTS = AHEAD + 1 };
	struct prepared p[SLOTS];
	struct store_group *g = NULL;
	struct store_info info;
	size_t i = 0, start = 0, prep = 0; /* start: the open group's first block; [i, prep) prepared */
	unsigned retries = 0;
	int err = SN_OK;

	*applied = 0;
	res->err = SN_OK;
	res->tx_index = -1;
	if (!n)
		return SN_OK;
	store_info_get(eng->st, &info);
	while (i < n) {
		int gerr;

		if (!g) {
			if ((err = store_group_begin(eng->st, &g))) {
				block_fail(res, err, -1);
				for (; prep > i; prep--)
					prepared_free(eng, &p[(prep - 1) % SLOTS]);
				break;
			}
			start = i;
		}
		for (; prep < n && prep <= i + AHEAD; prep++)
			prepare(eng, &p[prep % SLOTS], info.chain_id, blocks[prep], lens[prep],
			        commits ? commits[prep] : NULL, commit_lens ? commit_lens[prep] : 0);
		err = apply_prepared(eng, g, &p[i % SLOTS], res);
		prepared_free(eng, &p[i % SLOTS]);
		if (!err && i + 1 < n && store_group_txs(g) < eng->group_txs) {
			i++;
			continue;
		}
		/* Close the group: after the last block, a full group, or a rejected block (the
		 * blocks before it are good and are kept). */
		gerr = store_group_end(g);
		g = NULL;
		if (gerr == SN_E_MAPFULL && retries++ < MAPFULL_RETRIES) {
			/* The map was grown and nothing of the group kept: apply it again. */
			for (size_t k = i + 1; k < prep; k++)
				prepared_free(eng, &p[k % SLOTS]);
			i = prep = start;
			res->err = SN_OK;
			res->tx_index = -1;
			err = SN_OK;
			continue;
		}
		if (gerr)
			err = block_fail(res, gerr, -1);
		else
			*applied = err ? i : i + 1;
		if (err)
			break;
		i++;
	}
	for (size_t k = i + 1; k < prep; k++) /* prepared but not applied: a failure stopped the run */
		prepared_free(eng, &p[k % SLOTS]);
	return err;
}

struct propose_ctx {
	struct store_wtxn *w;
	uint64_t height;
	const size_t *lens;
	size_t bytes; /* the block's encoding so far */
	int *tx_errs;
	size_t *chosen;
	size_t n_chosen, max;
	int fatal;
};

static int apply_lenient(void *ud, size_t i, int check_err, const struct store_tx *tx, const uint8_t *id)
{
	struct propose_ctx *p = ud;
	int err = check_err;

	if (p->n_chosen == p->max || p->bytes + 4 + p->lens[i] > STORE_BLOCK_MAX) {
		p->tx_errs[i] = SN_E_TOOBIG; /* the block is full: left for the next one */
		return 0;
	}
	if (!err)
		err = node_tx_apply(p->w, tx, p->height);
	if (!err && (err = store_wtxn_tx_add(p->w, id))) {
		p->fatal = err; /* applied but not recorded: the whole block must go */
		return 1;
	}
	if (err == SN_E_NOMEM) {
		p->fatal = err;
		return 1;
	}
	p->tx_errs[i] = err;
	if (!err) {
		p->chosen[p->n_chosen++] = i;
		p->bytes += 4 + p->lens[i];
	}
	return 0;
}

void node_commit_message(uint8_t out[SN_HASH_LEN], uint32_t chain_id, uint64_t height,
                         const uint8_t block_hash[SN_HASH_LEN])
{
	uint8_t buf[4 + 8 + SN_HASH_LEN];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));

	sn_write_le32(&w, chain_id);
	sn_write_le64(&w, height);
	sn_write_bytes(&w, block_hash, SN_HASH_LEN);
	sn_hash_tagged(out, "settled/commit", buf, w.len);
}

#define COMMIT1_LEN (1 + 2 + 32 + NODE_ED25519_SIG_LEN)

/* commit v1: u8 version | u16 count | count × ([32] validator key | [64] Ed25519 signature
 * of node_commit_message). The devnet's single validator signs alone. */
static void commit_sign(uint8_t out[COMMIT1_LEN], const struct store_block_header *hdr, const uint8_t *node_sk)
{
	struct sn_writer w = sn_writer_init(out, COMMIT1_LEN);
	uint8_t hash[SN_HASH_LEN], msg[SN_HASH_LEN], sig[NODE_ED25519_SIG_LEN];

	store_block_hash(hash, hdr);
	node_commit_message(msg, hdr->chain_id, hdr->height, hash);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), node_sk);
	sn_write_u8(&w, NODE_COMMIT_V1);
	sn_write_le16(&w, 1);
	sn_write_bytes(&w, node_sk + 32, 32); /* libsodium keeps the public key in the second half */
	sn_write_bytes(&w, sig, sizeof(sig));
}

int node_engine_propose(struct node_engine *eng, const uint8_t *const *txs, const size_t *lens, size_t n,
                        const struct node_propose_opts *opts, int *tx_errs, uint8_t **out, size_t *out_len,
                        size_t *included)
{
	uint8_t commit[COMMIT1_LEN];
	size_t commit_len = 0;
	struct store_wtxn *w;
	const struct store_info *tip;
	struct store_block_header hdr;
	struct batch bt = { 0 };
	struct propose_ctx p = { 0 };
	uint8_t(*ids)[SN_HASH_LEN] = NULL;
	uint8_t *buf = NULL;
	size_t cap;
	struct sn_writer wr;
	int err;

	*out = NULL;
	*out_len = 0;
	*included = 0;
	if ((err = store_wtxn_begin(eng->st, &w)))
		return err;
	tip = store_wtxn_info(w);
	if (!tip->has_genesis) {
		store_wtxn_abort(w);
		return SN_E_HEIGHT;
	}
	p.w = w;
	p.height = tip->height + 1;
	p.tx_errs = tx_errs;
	p.lens = lens;
	p.bytes = STORE_BLOCK_HEADER_LEN;
	p.max = tip->params.max_block_txs;
	p.chosen = sn_malloc((n ? n : 1) * sizeof(*p.chosen));
	ids = sn_malloc((n ? n : 1) * SN_HASH_LEN);
	if (!p.chosen || !ids || batch_alloc(&bt, n)) {
		err = SN_E_NOMEM;
		goto out;
	}
	engine_run(eng, txs, lens, n, tip->chain_id, opts->preverified, &bt, apply_lenient, &p);
	if ((err = p.fatal))
		goto out;
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = STORE_BLOCK_V1;
	hdr.chain_id = tip->chain_id;
	hdr.height = tip->height + 1;
	memcpy(hdr.prev_hash, tip->tip_hash, SN_HASH_LEN);
	hdr.time_ms = opts->time_ms > tip->tip_time_ms ? opts->time_ms : tip->tip_time_ms;
	if (opts->node_sk)
		memcpy(hdr.proposer, opts->node_sk + 32, 32);
	hdr.tx_count = (uint32_t)p.n_chosen;
	cap = STORE_BLOCK_HEADER_LEN;
	for (size_t k = 0; k < p.n_chosen; k++) {
		memcpy(ids[k], bt.ids[p.chosen[k]], SN_HASH_LEN);
		cap += 4 + lens[p.chosen[k]];
	}
	store_tx_root(hdr.tx_root, (const uint8_t(*)[SN_HASH_LEN])ids, hdr.tx_count);
	if ((err = store_wtxn_state_root(w, hdr.state_root)))
		goto out;
	if (!(buf = sn_malloc(cap))) {
		err = SN_E_NOMEM;
		goto out;
	}
	store_block_header_encode(buf, &hdr);
	wr = sn_writer_init(buf, cap);
	wr.len = STORE_BLOCK_HEADER_LEN;
	for (size_t k = 0; k < p.n_chosen; k++) {
		sn_write_le32(&wr, (uint32_t)lens[p.chosen[k]]);
		sn_write_bytes(&wr, txs[p.chosen[k]], lens[p.chosen[k]]);
	}
	if (opts->node_sk) {
		commit_sign(commit, &hdr, opts->node_sk);
		commit_len = sizeof(commit);
	}
	err = store_wtxn_commit(w, &hdr, buf, wr.len, commit, commit_len);
	w = NULL;
	if (!err) {
		*out = buf;
		*out_len = wr.len;
		*included = p.n_chosen;
		buf = NULL;
	}
out:
	store_wtxn_abort(w);
	sn_free(buf);
	sn_free(ids);
	sn_free(p.chosen);
	batch_free(&bt);
	return err;
}
