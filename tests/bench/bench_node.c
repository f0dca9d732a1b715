/* tests/bench/bench_node.c — a real settled on 127.0.0.1 under load.
 *
 *   bench rpc.submit             signed transfers accepted per second through submit_tx, one
 *                                per request, from SN_BENCH_CLIENTS (default 8) concurrent
 *                                keep-alive connections, one request in flight on each (a
 *                                single-threaded epoll client, as wrk is)
 *   bench node.commit            the same transfers per second end to end: from the first
 *                                submit to the block that commits the last one
 *   bench rpc.submit_pipelined   the same, one transfer per request, with SN_BENCH_PIPELINE
 *   bench node.commit_pipelined  (default 8) requests in flight on each connection: HTTP/1.1
 *                                pipelining, sent and answered as wrk's pipelining does (the
 *                                next requests once the replies of the last ones are in)
 *   bench rpc.submit_batch       the same with JSON-RPC batches: SN_BENCH_BATCH (default 100)
 *   bench node.commit_batch      submit_tx requests in each HTTP request
 *   bench node.commit_latency_idle
 *                                after the runs: a transfer submitted to a node idle for 150 ms,
 *                                from the submit until get_tx says committed (polled every
 *                                0.5 ms); the median of 15
 *   bench settle.apply_node_blocks
 *                                the paired baseline: transfers per second applying the very
 *                                blocks the node committed in a run, right after that run, in
 *                                this process, on a store of our own replaying the node's chain
 *                                as bench_settle's settle.apply does (node_engine_apply_blocks,
 *                                a 2-thread engine, all of a run's blocks at once; fetching them
 *                                over RPC is not timed); the median over all runs
 *   bench ratio.node_commit_vs_apply_same_blocks
 *   bench ratio.node_commit_pipelined_vs_apply_same_blocks
 *   bench ratio.node_commit_batch_vs_apply_same_blocks
 *                                for each kind, the median over its runs of node.commit divided
 *                                by the settle.apply of that run's own blocks, measured seconds
 *                                later: the target's ratio (node.commit >= 0.70 x settle.apply)
 *                                with both figures taken on the machine as it was then, so much
 *                                less noisy than scripts/bench's ratios of figures taken a minute
 *                                apart by two programs. The replay also checks that the node's
 *                                blocks give the same state roots on a fresh store.
 *   bench node.storage_write_per_tx
 *                                bytes the node sent to storage per transaction over a run,
 *                                until its last commit (/proc/PID/io write_bytes, whole pages);
 *                                the median over all runs, beside
 *   bench settle.apply_node_blocks.storage_write_per_tx
 *                                the paired baseline's for the same blocks: one commit group
 *                                for all of a run's blocks, where the node commits (and fsyncs)
 *                                each block, rewriting every page a block touches
 *   bench rpc.roundtrip_cpu      CPU time, node and load generator together, per bare HTTP
 *   bench rpc.roundtrip_cpu_pipelined
 *                                round trip: GET /health (no authentication, JSON, signature
 *                                or storage) over the same connections, one in flight on each
 *                                or pipelined as submit_pipelined is; what any request costs
 *                                here whatever the node does with it (loopback TCP and the
 *                                wake-ups on both sides, libuv, HTTP parsing); the median
 *   bench ceiling.node_commit_vs_apply_same_blocks
 *   bench ceiling.node_commit_pipelined_vs_apply_same_blocks
 *                                the best ratio a node could reach on this machine with this
 *                                load generator: every core busy, and per transaction nothing
 *                                but the paired baseline's CPU and one bare round trip, i.e.
 *                                cores / (apply CPU per transaction + rpc.roundtrip_cpu),
 *                                divided by settle.apply_node_blocks, per run; the median.
 *                                The gap between ratio.* and ceiling.* is the node's own
 *                                overhead (and idle cores); the gap between ceiling.* and 1 is
 *                                the machine's price of one request per transaction.
 *
 * Each figure is the median of SN_BENCH_REPEAT (default 3) runs, the three kinds taking turns
 * (a shared machine's speed drifts; every run's figures go to stderr, with its paired
 * baseline and ratio). The node runs from a fresh `settle init` home: a small store (a few
 * hundred accounts), so settle.apply_node_blocks is not bench_settle's settle.apply, which
 * applies other blocks to 1M accounts (scripts/bench's ratio.*_vs_settle_apply lines divide
 * by that one). Senders are registered first; each sender's transactions go over one
 * connection, in nonce order. The CPU time the node and this load generator (which shares
 * the cores with it) spend per transaction, and the share of the run the machine sat idle
 * (/proc/stat), are printed as a comment after each run: on a shared machine they are
 * steadier than the rates.
 *
 * Environment: SN_BENCH_CLIENTS (default 8), SN_BENCH_TXS (transfers per run; default 15360),
 * SN_BENCH_REPEAT (default 3), SN_BENCH_PIPELINE (default 8), SN_BENCH_BATCH (default 100),
 * SN_BENCH_NODE_SET ("section.key=value ...": settled's --set options, e.g.
 * "node.engine_threads=3"), SN_BENCH_NODE_LOG (settled's log level, default warn; when set
 * the node's home and its node.log are kept and their path printed), SN_BENCH_DEBUG
 * (monotonic clock times of each run; the shadow store's engine logs at debug). */
#include "testutil.h"

#include "node/config_int.h"
#include "node/home_int.h"
#include "node/node.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static char home[4096], auth_b64[400];
static uint16_t port;
static pid_t node_pid;

/* CPU time (user + system, all threads) of the node since it started, in µs. */
static double node_cpu_us(void)
{
	char path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)node_pid);
	if (!(f = fopen(path, "r")))
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')) || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* CPU time of this process (the load generator), in µs. */
static double self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec * 1e6 +
	       (double)ru.ru_stime.tv_usec;
}

/* Bytes process pid (0: this one) has sent or will send to storage so far: /proc/PID/io's
 * write_bytes, counted as page-cache pages (or larger folios) are dirtied, so a 100-byte write
 * into a page counts at least 4 KiB. */
static double write_bytes(pid_t pid)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), pid ? "/proc/%d/io" : "/proc/self/io", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %llu", &v) == 1)
			break;
	fclose(f);
	return (double)v;
}

/* The machine's idle and busy time so far, in clock ticks (/proc/stat's first line: idle and
 * iowait are idle; steal, time the hypervisor gave to others, is neither). */
static void machine_ticks(double *idle, double *busy)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*idle = *busy = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
	           &v[7]) == 8) {
		*idle = (double)(v[3] + v[4]);
		*busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]);
	}
	fclose(f);
}

static double idle_pct(double idle, double busy)
{
	return idle + busy > 0 ? 100.0 * idle / (idle + busy) : 0;
}

struct conn {
	int fd;
	char buf[1 << 16];
	size_t have;
	char *reply; /* conn_call's last reply body */
};

static const char *conn_call(struct conn *c, const char *json);

static void conn_open(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	c->have = 0;
	c->reply = NULL;
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("bench_node: connect");
		exit(1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}


/* One client connection of the load generator: its requests, in order (each sender's
 * transactions go over one connection, in nonce order), up to depth in flight at a time. */
struct worker {
	char **reqs;   /* request bodies: one submit_tx, or a batch of them */
	size_t *count; /* transactions in each */
	size_t n, ok, rejected;
	size_t depth;  /* requests in flight at once: 1, or pipelined (HTTP/1.1) */
	bool health;   /* every request is GET /health (reqs and count unused) */
	char first_err[256];
	/* while the phase runs */
	char **http;      /* the whole HTTP request for each body (prepare_workers) */
	size_t *http_len;
	struct conn c;
	size_t sent;    /* requests whole in the socket */
	size_t out_off; /* bytes of request `sent` in the socket so far */
	size_t next;    /* the request whose reply comes next */
};

/* Counts the "result" and "error" members of a reply (one object or a batch array). */
static void count_replies(const char *body, size_t *ok, size_t *bad)
{
	for (const char *p = body; (p = strstr(p, "\"result\"")); p++)
		(*ok)++;
	for (const char *p = body; (p = strstr(p, "\"error\"")); p++)
		(*bad)++;
}

/* The HTTP request for body. */
static char *http_request(const char *json, size_t *len)
{
	size_t jl = strlen(json);
	char *req = malloc(jl + 1024);
	int hn = snprintf(req, 1024,
	                  "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
	                  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	                  auth_b64, jl);

	memcpy(req + hn, json, jl);
	*len = (size_t)hn + jl;
	return req;
}

static char health_get[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/* Every request of every worker, built before the phase starts, so that the phase measures
 * sending and receiving, not formatting. */
static void prepare_workers(struct worker *w, size_t clients)
{
	for (size_t c = 0; c < clients; c++) {
		w[c].http = calloc(w[c].n + 1, sizeof(*w[c].http));
		w[c].http_len = calloc(w[c].n + 1, sizeof(*w[c].http_len));
		for (size_t i = 0; i < w[c].n; i++)
			if (w[c].health) {
				w[c].http[i] = health_get;
				w[c].http_len[i] = sizeof(health_get) - 1;
			} else {
				w[c].http[i] = http_request(w[c].reqs[i], &w[c].http_len[i]);
			}
	}
}

/* Sends what is left of the requests in flight, with one writev; false when the connection
 * failed. */
static bool worker_send(struct worker *w)
{
	while (w->sent < w->n && w->sent < w->next + w->depth) {
		struct iovec iov[64];
		int k = 0;
		ssize_t n;

		for (size_t i = w->sent; i < w->n && i < w->next + w->depth && k < 64; i++, k++) {
			size_t off = i == w->sent ? w->out_off : 0;

			iov[k].iov_base = w->http[i] + off;
			iov[k].iov_len = w->http_len[i] - off;
		}
		n = writev(w->c.fd, iov, k);
		if (n < 0 && errno == EAGAIN)
			return true; /* the rest when the socket is writable: EPOLLOUT */
		if (n <= 0)
			return false;
		while (n > 0) {
			size_t left = w->http_len[w->sent] - w->out_off;

			if ((size_t)n < left) {
				w->out_off += (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			w->sent++;
			w->out_off = 0;
		}
	}
	return true;
}

/* Reads what the socket has and tallies every whole reply; once the replies of all the
 * requests in flight are in, sends the next depth requests at once (as wrk's pipelining
 * does). False when the connection failed. */
static bool worker_read(struct worker *w)
{
	for (;;) {
		size_t room = sizeof(w->c.buf) - 1 - w->c.have;
		ssize_t n = recv(w->c.fd, w->c.buf + w->c.have, room, 0);

		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		w->c.have += (size_t)n;
		w->c.buf[w->c.have] = '\0';
		for (;;) {
			const char *sep = strstr(w->c.buf, "\r\n\r\n"), *cl = strstr(w->c.buf, "Content-Length: ");
			size_t need, ok = 0, bad = 0;
			char saved;

			if (!sep || !cl || cl > sep)
				break;
			need = (size_t)(sep + 4 - w->c.buf) + strtoul(cl + 16, NULL, 10);
			if (w->c.have < need)
				break;
			saved = w->c.buf[need];
			w->c.buf[need] = '\0';
			if (w->health)
				ok = strstr(sep + 4, "\"status\":\"ok\"") != NULL;
			else
				count_replies(sep + 4, &ok, &bad);
			if (ok != (w->health ? 1 : w->count[w->next]))
				bad = (w->health ? 1 : w->count[w->next]) - ok;
			w->ok += ok;
			w->rejected += bad;
			if (bad && !w->first_err[0])
				snprintf(w->first_err, sizeof(w->first_err), "%s", sep + 4);
			w->c.buf[need] = saved;
			memmove(w->c.buf, w->c.buf + need, w->c.have - need + 1);
			w->c.have -= need;
			w->next++;
		}
		if (w->next == w->sent && !worker_send(w))
			return false;
		/* Less than asked for: the socket had no more (as wrk, no read just to see EAGAIN;
		 * with EPOLLET, data arriving later raises a new event). */
		if ((size_t)n < room)
			return true;
	}
}

/* Runs every worker's requests over its own connection, all from this thread with epoll,
 * as a load generator like wrk does: no thread per connection, no blocking per request. */
static void run_workers(struct worker *w, size_t clients)
{
	int ep = epoll_create1(0);
	size_t open = 0;

	if (ep < 0) {
		perror("bench_node: epoll_create1");
		exit(1);
	}
	for (size_t c = 0; c < clients; c++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &w[c] };

		conn_open(&w[c].c);
		fcntl(w[c].c.fd, F_SETFL, fcntl(w[c].c.fd, F_GETFL) | O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, w[c].c.fd, &ev);
		if (!worker_send(&w[c])) {
			fprintf(stderr, "bench_node: client %zu: connection lost\n", c);
			exit(1);
		}
		open += w[c].next < w[c].n;
	}
	while (open) {
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, 10000);

		if (k <= 0) {
			fprintf(stderr, "bench_node: no reply for 10 s\n");
			exit(1);
		}
		for (int i = 0; i < k; i++) {
			struct worker *x = evs[i].data.ptr;
			bool was_open = x->next < x->n;

			if (!was_open)
				continue;
			if (((evs[i].events & EPOLLOUT) && !worker_send(x)) || !worker_read(x)) {
				fprintf(stderr, "bench_node: a client's connection was lost\n");
				exit(1);
			}
			open -= x->next == x->n;
		}
	}
	for (size_t c = 0; c < clients; c++) {
		close(w[c].c.fd);
		for (size_t i = 0; i < w[c].n && !w[c].health; i++)
			free(w[c].http[i]);
		free(w[c].http);
		free(w[c].http_len);
	}
	close(ep);
}

static uint64_t status_u64(struct conn *c, const char *field)
{
	const char *body = conn_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}");
	json_t *j = body ? json_loads(body, 0, NULL) : NULL, *r = json_object_get(j, "result");
	uint64_t v;

	if (strcmp(field, "mempool") == 0)
		v = (uint64_t)json_integer_value(json_object_get(json_object_get(r, "mempool"), "count"));
	else
		v = (uint64_t)json_integer_value(json_object_get(r, field));
	json_decref(j);
	return v;
}

static char *submit_json(const struct store_tx *tx)
{
	static uint8_t raw[STORE_TX_MAX];
	static char hex[2 * STORE_TX_MAX + 1];
	char *out;
	size_t len;

	if (store_tx_encode(raw, sizeof(raw), &len, tx))
		exit(1);
	sn_hex_encode(hex, raw, len);
	out = malloc(strlen(hex) + 80);
	sprintf(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit_tx\",\"params\":[\"%s\"]}", hex);
	return out;
}

/* Joins reqs[0..n) into one JSON-RPC batch (and frees them). */
static char *batch_json(char **reqs, size_t n)
{
	size_t total = 3;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		total += strlen(reqs[i]) + 1;
	out = p = malloc(total);
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(reqs[i]);

		memcpy(p, reqs[i], l);
		p += l;
		*p++ = i + 1 < n ? ',' : ']';
		free(reqs[i]);
	}
	*p = '\0';
	return out;
}

/* One keep-alive request on c (one write, as an HTTP client library does). Returns the
 * reply's body, NUL-terminated, in a buffer of its own that grows as needed (a block's hex
 * can be megabytes; the caller frees it), or NULL if the connection failed. */
static char *conn_call_alloc(struct conn *c, const char *json)
{
	size_t len, cap = 1 << 14, have = 0, head = 0, need = 0; /* doubled as needed */
	char *req = http_request(json, &len), *buf = malloc(cap + 1);
	ssize_t sent = send(c->fd, req, len, MSG_NOSIGNAL);

	free(req);
	if (sent != (ssize_t)len) {
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (have == cap)
			buf = realloc(buf, (cap *= 2) + 1);
		if ((n = recv(c->fd, buf + have, cap - have, 0)) <= 0) {
			free(buf);
			return NULL;
		}
		have += (size_t)n;
		buf[have] = '\0';
		if (!need) {
			const char *sep = strstr(buf, "\r\n\r\n"), *cl = strstr(buf, "Content-Length: ");

			if (!sep || !cl || cl > sep)
				continue;
			head = (size_t)(sep + 4 - buf);
			need = head + strtoul(cl + 16, NULL, 10);
		}
		if (have >= need) {
			memmove(buf, buf + head, need - head);
			buf[need - head] = '\0';
			return buf;
		}
	}
}

/* conn_call_alloc, the body kept in c until the next call (NULL if the connection failed). */
static const char *conn_call(struct conn *c, const char *json)
{
	free(c->reply);
	return c->reply = conn_call_alloc(c, json);
}

/* The paired baseline: the node's chain replayed in this process on a store of its own, as
 * bench_settle's settle.apply store is set up (same map size, a 2-thread engine, commit
 * groups). Each run's blocks are applied right after the run, so each node.commit figure
 * has a settle.apply figure of the very same blocks measured seconds later, on the machine
 * as it was then: their ratio is much less noisy than one of figures taken a minute apart
 * by two programs. */
struct shadow {
	char *dir;
	struct store *st;
	struct node_engine *eng;
	uint64_t height; /* blocks applied so far */
};

static void shadow_open(struct shadow *sh)
{
	struct node_engine_opts eo = { .threads = 2 };
	struct node_genesis gen;
	struct store_opts o;
	char path[4200], err[512];
	const char *set = getenv("SN_BENCH_NODE_SET");
	int rc;

	snprintf(path, sizeof(path), "%s/%s", home, NODE_GENESIS_FILE);
	if ((rc = node_genesis_load(&gen, path, err, sizeof(err)))) {
		fprintf(stderr, "bench_node: %s: %s (%s)\n", path, err, sn_errname(rc));
		exit(1);
	}
	/* Without the txs index when the node runs without it (SN_BENCH_NODE_SET), as the node does. */
	o = (struct store_opts){ .chain_id = gen.chain_id, .map_size = 1ull << 30,
		                 .no_tx_index = set && strstr(set, "node.tx_index=0") };
	memset(sh, 0, sizeof(*sh));
	sh->dir = tu_tmpdir("sn-bench-shadow");
	if (!sh->dir || (rc = store_open(&sh->st, sh->dir, &o)) || (rc = store_genesis_init(sh->st, &gen.g)) ||
	    (rc = node_engine_new(&sh->eng, sh->st, &eo))) {
		fprintf(stderr, "bench_node: cannot create the shadow store: %s\n", sn_errname(rc));
		exit(1);
	}
	node_genesis_free(&gen);
}

static void shadow_close(struct shadow *sh)
{
	node_engine_free(sh->eng);
	store_close(sh->st);
	tu_rmtree(sh->dir);
	free(sh->dir);
}

/* Block h of the node, through get_block (docs/rpc.md); *len gets its length. The caller
 * frees it. */
static uint8_t *fetch_block(struct conn *c, uint64_t h, size_t *len)
{
	char req[128];
	char *body;
	json_t *j, *raw;
	const char *hex;
	uint8_t *blk = NULL;

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get_block\",\"params\":[%llu,true]}",
	         (unsigned long long)h);
	body = conn_call_alloc(c, req);
	j = body ? json_loads(body, 0, NULL) : NULL;
	raw = json_object_get(json_object_get(j, "result"), "raw");
	hex = json_string_value(raw);
	if (hex && (blk = malloc(strlen(hex) / 2 + 1)) && sn_hex_decode_var(blk, strlen(hex) / 2, len, hex)) {
		free(blk);
		blk = NULL;
	}
	if (!blk) {
		fprintf(stderr, "bench_node: get_block %llu failed: %.200s\n", (unsigned long long)h,
		        body ? body : "(no reply)");
		exit(1);
	}
	json_decref(j);
	free(body);
	return blk;
}

struct per_tx {
	double cpu_us, disk_bytes; /* CPU time and write_bytes per transaction */
};

/* Fetches the node's blocks (sh->height, to] and applies them to the shadow store all at once
 * through node_engine_apply_blocks, as bench_settle's apply_all does (NULL commits: the
 * engine checks no commit; the node has checked its own). Only the apply is timed: its wall
 * time in ns, *txs the blocks' transactions, *per (if not NULL) the apply's CPU and writes per
 * transaction; with a name (a run's) the times go to stderr.
 * The engine checks every state root against the node's, so a failure means the node's
 * blocks do not replay: the benchmark fails. */

static uint64_t shadow_apply(struct shadow *sh, struct conn *ctl, uint64_t to, const char *name, uint64_t *txs,
                             struct per_tx *per)
{
	size_t n = to > sh->height ? (size_t)(to - sh->height) : 0, applied;
	uint8_t **blk = calloc(n ? n : 1, sizeof(*blk));
	size_t *len = calloc(n ? n : 1, sizeof(*len));
	uint64_t t0 = sn_time_mono_ns(), t1, dt;
	struct node_block_result r;
	double c0, cpu, w0, wrote;

	*txs = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_block b;

		blk[i] = fetch_block(ctl, sh->height + 1 + i, &len[i]);
		if (store_block_decode(&b, blk[i], len[i])) {
			fprintf(stderr, "bench_node: block %llu does not decode\n", (unsigned long long)(sh->height + 1 + i));
			exit(1);
		}
		*txs += b.hdr.tx_count;
	}
	t1 = sn_time_mono_ns();
	c0 = self_cpu_us();
	w0 = write_bytes(0);
	if (node_engine_apply_blocks(sh->eng, (const uint8_t *const *)blk, len, NULL, NULL, n, &applied, &r)) {
		fprintf(stderr, "bench_node: %s: applying the node's blocks failed: %s at block %llu tx %d\n",
		        name ? name : "catching up", sn_errname(r.err), (unsigned long long)(sh->height + 1 + applied), r.tx_index);
		exit(1);
	}
	dt = sn_time_mono_ns() - t1;
	cpu = self_cpu_us() - c0;
	wrote = write_bytes(0) - w0;
	if (per) {
		per->cpu_us = cpu / (double)(*txs ? *txs : 1);
		per->disk_bytes = wrote / (double)(*txs ? *txs : 1);
	}
	if (name)
		fprintf(stderr, "# %s: settle.apply of blocks %llu..%llu (%llu transfers): fetched in %.2f s; applied in %.2f s wall, %.2f s CPU, %.1f us CPU per transaction, %.1f KiB written per transaction\n",
		        name, (unsigned long long)(sh->height + 1), (unsigned long long)to, (unsigned long long)*txs,
		        (double)(t1 - t0) / 1e9, (double)dt / 1e9, cpu / 1e6, cpu / (double)(*txs ? *txs : 1),
		        wrote / 1024 / (double)(*txs ? *txs : 1));
	sh->height = to;
	for (size_t i = 0; i < n; i++)
		free(blk[i]);
	free(blk);
	free(len);
	return dt;
}

/* One run's rates, and the heights around it: its transfers are in blocks (h0, h1]. */
struct rates {
	double submit, commit;
	double disk_bytes; /* the node's write_bytes per transaction, until the last commit */
	uint64_t h0, h1;
};

/* Sends every worker's requests at once and waits until the mempool is empty again. */
/* node.commit_latency_idle: LAT_N transfers, each submitted to a node that has been idle
 * for LAT_IDLE_MS, from the submit until get_tx says it is committed (polled every 0.5 ms);
 * their median in ms. sk/pk: a sender whose next nonce is nonce; to: the receiver. */
enum { LAT_N = 15, LAT_IDLE_MS = 150 };

static double idle_latency_ms(struct conn *ctl, const uint8_t *sk, const uint8_t *pk, const uint8_t *to,
                              uint64_t nonce)
{
	static const char result_id[] = "\"result\":{\"id\":\"";
	double lat[LAT_N];

	for (int i = 0; i < LAT_N; i++) {
		struct store_tx tx = { .version = STORE_TX_V1, .type = STORE_TX_TRANSFER, .chain_id = 1,
			               .nonce = nonce + (uint64_t)i, .fee = 1, .amount = 1 };
		char *req, get[256], id[2 * SN_HASH_LEN + 1];
		const char *body, *at;
		uint64_t t0;

		memcpy(tx.signer, pk, 32);
		memcpy(tx.to, to, 32);
		if (store_tx_sign(&tx, sk))
			exit(1);
		req = submit_json(&tx);
		usleep(LAT_IDLE_MS * 1000);
		t0 = sn_time_mono_ns();
		body = conn_call(ctl, req);
		free(req);
		if (!body || !(at = strstr(body, result_id)) || strlen(at) < sizeof(result_id) - 1 + 2 * SN_HASH_LEN) {
			fprintf(stderr, "bench_node: latency submit refused: %s\n", body ? body : "(no reply)");
			exit(1);
		}
		memcpy(id, at + sizeof(result_id) - 1, 2 * SN_HASH_LEN);
		id[2 * SN_HASH_LEN] = '\0';
		snprintf(get, sizeof(get), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get_tx\",\"params\":[\"%s\"]}", id);
		for (;;) {
			body = conn_call(ctl, get);
			if (!body) {
				fprintf(stderr, "bench_node: get_tx: no reply\n");
				exit(1);
			}
			/* committed; or, on a node without the txs index, no longer pending */
			if (strstr(body, "\"status\":\"committed\"") || strstr(body, "node.tx_index = 0"))
				break;
			if (sn_time_mono_ns() - t0 > 10ull * 1000000000) {
				fprintf(stderr, "bench_node: transfer %s not committed after 10 s\n", id);
				exit(1);
			}
			usleep(500);
		}
		lat[i] = (double)(sn_time_mono_ns() - t0) / 1e6;
	}
	return tu_median(lat, LAT_N);
}

enum { RTT_N = 4000 }; /* GET /health per connection, one in flight (times the depth, pipelined) */

static struct rates run_phase(struct worker *w, size_t clients, struct conn *ctl, const char *name, size_t total)
{
	uint64_t t0, t_submitted, t_committed, h0;
	size_t ok = 0, rejected = 0;
	double node0, self0, disk0, idle0, busy0, idle_s, busy_s, idle1, busy1;
	struct rates r;

	prepare_workers(w, clients);
	h0 = status_u64(ctl, "height");
	node0 = node_cpu_us();
	self0 = self_cpu_us();
	disk0 = write_bytes(node_pid);
	machine_ticks(&idle0, &busy0);
	t0 = sn_time_mono_ns();
	run_workers(w, clients);
	for (size_t c = 0; c < clients; c++) {
		ok += w[c].ok;
		rejected += w[c].rejected;
		if (w[c].first_err[0])
			fprintf(stderr, "# %s client %zu: first rejection: %s\n", name, c, w[c].first_err);
	}
	t_submitted = sn_time_mono_ns();
	machine_ticks(&idle_s, &busy_s);
	while (status_u64(ctl, "mempool") > 0)
		usleep(2000);
	t_committed = sn_time_mono_ns();
	/* The blocks produced while the mempool emptied are all committed: an entry leaves the
	 * mempool only once its block is (node_mempool_resume after the commit). */
	r.h0 = h0;
	r.h1 = status_u64(ctl, "height");
	if (getenv("SN_BENCH_DEBUG"))
		fprintf(stderr, "# %s: CLOCK_MONOTONIC %.6f to %.6f s\n", name, (double)t0 / 1e9, (double)t_committed / 1e9);
	fprintf(stderr, "# %s: %zu transfers over %zu connections: %zu accepted, %zu rejected, %llu blocks\n", name,
	        total, clients, ok, rejected, (unsigned long long)(r.h1 - h0));
	r.submit = (double)ok / ((double)(t_submitted - t0) / 1e9);
	r.commit = (double)ok / ((double)(t_committed - t0) / 1e9);
	/* CPU per transaction (2 cores: 2 s of CPU per second at most). */
	machine_ticks(&idle1, &busy1);
	fprintf(stderr, "# %s: %.0f tx/s submitted, %.0f tx/s committed; CPU per transaction: node %.1f us, load generator %.1f us (%.2f s elapsed; the machine %.0f%% idle while submitting, %.0f%% until the last commit)\n",
	        name, r.submit, r.commit, (node_cpu_us() - node0) / (double)(ok ? ok : 1),
	        (self_cpu_us() - self0) / (double)(ok ? ok : 1), (double)(t_committed - t0) / 1e9,
	        idle_pct(idle_s - idle0, busy_s - busy0), idle_pct(idle1 - idle0, busy1 - busy0));
	r.disk_bytes = (write_bytes(node_pid) - disk0) / (double)(ok ? ok : 1);
	fprintf(stderr, "# %s: the node wrote %.1f KiB to storage per transaction (write_bytes, until the last commit)\n",
	        name, r.disk_bytes / 1024);
	if (rejected)
		exit(1);
	return r;
}

/* The HTTP round trip alone: n GET /health requests on each of `clients` connections, depth
 * in flight on each (1, or pipelined as submit_pipelined is). The node answers them with no
 * authentication, JSON, signature check or storage: what is left is what any request costs on
 * this machine, whatever the node does with it (loopback TCP and the wake-ups on both sides,
 * libuv, HTTP parsing). Returns the CPU time of the node and the load generator together per
 * request, in µs; the details go to stderr. */
static double roundtrip_cpu_us(size_t clients, size_t n, size_t depth, const char *name)
{
	struct worker *w = calloc(clients, sizeof(*w));
	double node0, self0, node_us, self_us, idle0, busy0, idle1, busy1;
	size_t ok = 0, bad = 0;
	uint64_t t0, dt;

	for (size_t c = 0; c < clients; c++) {
		w[c].n = n;
		w[c].depth = depth;
		w[c].health = true;
	}
	prepare_workers(w, clients);
	node0 = node_cpu_us();
	self0 = self_cpu_us();
	machine_ticks(&idle0, &busy0);
	t0 = sn_time_mono_ns();
	run_workers(w, clients);
	dt = sn_time_mono_ns() - t0;
	machine_ticks(&idle1, &busy1);
	node_us = node_cpu_us() - node0;
	self_us = self_cpu_us() - self0;
	for (size_t c = 0; c < clients; c++) {
		ok += w[c].ok;
		bad += w[c].rejected;
	}
	free(w);
	if (bad || ok != clients * n) {
		fprintf(stderr, "bench_node: %s: %zu of %zu GET /health not answered 200\n", name, clients * n - ok, clients * n);
		exit(1);
	}
	fprintf(stderr, "# %s: %zu GET /health over %zu connections: %.0f requests/s; CPU per request: node %.1f us, load generator %.1f us (the machine %.0f%% idle)\n",
	        name, ok, clients, (double)ok / ((double)dt / 1e9), node_us / (double)ok, self_us / (double)ok,
	        idle_pct(idle1 - idle0, busy1 - busy0));
	return (node_us + self_us) / (double)ok;
}

int main(void)
{
	size_t clients = getenv("SN_BENCH_CLIENTS") ? strtoul(getenv("SN_BENCH_CLIENTS"), NULL, 10) : 8;
	size_t repeat = getenv("SN_BENCH_REPEAT") ? strtoul(getenv("SN_BENCH_REPEAT"), NULL, 10) : 3;
	size_t senders = 256, per_run = getenv("SN_BENCH_TXS") ? strtoul(getenv("SN_BENCH_TXS"), NULL, 10) / 256 : 60;
	size_t depth = getenv("SN_BENCH_PIPELINE") ? strtoul(getenv("SN_BENCH_PIPELINE"), NULL, 10) : 8;
	static const char *const kinds[3] = { "submit", "submit_pipelined", "submit_batch" };
	char *dir, path[4200], hex[128] = { 0 }, cookie[256] = { 0 };
	uint8_t root_sk[32], root_pk[32], (*sk)[32], (*pk)[32];
	struct worker *w;
	double *sub, *com, *app, *ratio, *node_disk; /* [kind][run] */
	struct per_tx *app_per;
	double *rtt, *ceil_ratio;                   /* [one in flight or pipelined][run] */
	double ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
	struct shadow sh;
	uint64_t txs;
	size_t batch = getenv("SN_BENCH_BATCH") ? strtoul(getenv("SN_BENCH_BATCH"), NULL, 10) : 100;
	struct conn *ctl = malloc(sizeof(*ctl));
	const char *node_log = getenv("SN_BENCH_NODE_LOG");
	const char *extra[2 + 2 * 8 + 1] = { "--log-level", node_log && *node_log ? node_log : "warn", NULL };
	char *node_set = getenv("SN_BENCH_NODE_SET") ? strdup(getenv("SN_BENCH_NODE_SET")) : NULL;
	char *init[] = { (char *)tu_bin("settle"), "init", "--home", home, "--min-fee", "1", NULL };
	pid_t pid;
	FILE *f;

	if (sn_crypto_init())
		return 1;
	sn_log_set(NULL, NULL, getenv("SN_BENCH_DEBUG") ? SN_LOG_DEBUG : SN_LOG_WARN); /* the shadow store's engine */
	dir = tu_tmpdir("sn-bench-node");
	snprintf(home, sizeof(home), "%s/node", dir);
	if (tu_run(init, NULL, 0) != 0) {
		fprintf(stderr, "bench_node: settle init failed\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/account.key", home);
	if (!(f = fopen(path, "r")) || !fgets(hex, sizeof(hex), f))
		return 1;
	fclose(f);
	hex[64] = '\0';
	if (sn_hex_decode(root_sk, 32, hex) || sn_schnorr_pubkey(root_pk, root_sk))
		return 1;
	/* SN_BENCH_NODE_SET: "section.key=value ..." passed to settled as --set options. */
	for (char *sp = NULL, *kv = node_set ? strtok_r(node_set, " ", &sp) : NULL; kv; kv = strtok_r(NULL, " ", &sp)) {
		size_t n = 2;

		while (extra[n])
			n++;
		if (n + 2 >= sizeof(extra) / sizeof(extra[0]))
			break;
		extra[n] = "--set";
		extra[n + 1] = kv;
	}
	port = tu_free_port();
	pid = tu_node_start(home, port, extra);
	node_pid = pid;
	snprintf(path, sizeof(path), "%s/rpc.cookie", home);
	if (!(f = fopen(path, "r")) || !fgets(cookie, sizeof(cookie), f))
		return 1;
	fclose(f);
	sodium_bin2base64(auth_b64, sizeof(auth_b64), (const unsigned char *)cookie, strlen(cookie),
	                  sodium_base64_VARIANT_ORIGINAL);
	conn_open(ctl);

	/* Register and fund the senders (one connection, root nonces in order). */
	sk = calloc(senders, 32);
	pk = calloc(senders, 32);
	for (size_t s = 0; s < senders; s++) {
		struct store_tx tx = { .version = STORE_TX_V1, .type = STORE_TX_REGISTER, .chain_id = 1, .nonce = s,
			               .fee = 1, .amount = 1000000000 };
		char *req;
		const char *body;

		if (sn_schnorr_keygen(sk[s], pk[s]))
			return 1;
		memcpy(tx.signer, root_pk, 32);
		memcpy(tx.to, pk[s], 32);
		if (store_tx_sign(&tx, root_sk))
			return 1;
		req = submit_json(&tx);
		body = conn_call(ctl, req);
		if (!body || !strstr(body, "\"result\"")) {
			fprintf(stderr, "bench_node: registering a sender failed: %s\n", body ? body : "(no reply)");
			return 1;
		}
		free(req);
	}
	while (status_u64(ctl, "mempool") > 0)
		usleep(20000);
	/* The paired baseline's store, brought to the node's height (untimed). */
	shadow_open(&sh);
	(void)shadow_apply(&sh, ctl, status_u64(ctl, "height"), "registrations (untimed)", &txs, NULL);

	/* Pre-sign every transfer. Run r of kind k gets every sender's nonces
	 * [(3r + k) per_run, (3r + k + 1) per_run): runs go in that order, so each sender's
	 * nonces arrive in order. */
	if (!depth)
		depth = 1;
	if (!repeat)
		repeat = 1;
	if (!per_run)
		per_run = 1;
	w = calloc(3 * repeat * clients, sizeof(*w)); /* [run][kind][client] */
	sub = calloc(3 * repeat, sizeof(*sub));
	com = calloc(3 * repeat, sizeof(*com));
	app = calloc(3 * repeat, sizeof(*app));
	app_per = calloc(3 * repeat, sizeof(*app_per));
	node_disk = calloc(3 * repeat, sizeof(*node_disk));
	rtt = calloc(2 * repeat, sizeof(*rtt));
	ceil_ratio = calloc(2 * repeat, sizeof(*ceil_ratio));
	ratio = calloc(3 * repeat, sizeof(*ratio));
	for (size_t i = 0; i < 3 * repeat * clients; i++) {
		size_t cap = senders * per_run / clients + per_run + 1;

		w[i].reqs = calloc(cap, sizeof(char *));
		w[i].count = calloc(cap, sizeof(size_t));
		w[i].depth = (i / clients) % 3 == 1 ? depth : 1;
	}
	for (size_t k = 0; k < 3 * repeat * per_run; k++)
		for (size_t s = 0; s < senders; s++) {
			struct store_tx tx = { .version = STORE_TX_V1, .type = STORE_TX_TRANSFER, .chain_id = 1,
				               .nonce = k, .fee = 1, .amount = 1 + (k + s) % 100 };
			struct worker *wk = &w[(k / per_run) * clients + s % clients];

			memcpy(tx.signer, pk[s], 32);
			memcpy(tx.to, pk[(s + 1 + k % (senders - 1)) % senders], 32); /* never the sender */
			if (store_tx_sign(&tx, sk[s]))
				return 1;
			wk->count[wk->n] = 1;
			wk->reqs[wk->n++] = submit_json(&tx);
		}
	/* Group each batch client's requests (in order, so each sender's nonces stay in order). */
	for (size_t r = 0; r < repeat; r++)
		for (size_t c = 0; c < clients; c++) {
			struct worker *wb = &w[(3 * r + 2) * clients + c];
			size_t m = 0;

			for (size_t i = 0; i < wb->n; i += batch, m++) {
				size_t take = wb->n - i < batch ? wb->n - i : batch;

				wb->reqs[m] = batch_json(&wb->reqs[i], take);
				wb->count[m] = take;
			}
			wb->n = m;
		}
	for (size_t r = 0; r < repeat; r++) {
		rtt[r] = roundtrip_cpu_us(clients, RTT_N, 1, "roundtrip");
		rtt[repeat + r] = roundtrip_cpu_us(clients, RTT_N * depth, depth, "roundtrip_pipelined");
		for (size_t k = 0; k < 3; k++) {
			struct rates rt = run_phase(&w[(3 * r + k) * clients], clients, ctl, kinds[k], senders * per_run);
			size_t i = k * repeat + r;
			uint64_t dt;

			sub[i] = rt.submit;
			com[i] = rt.commit;
			node_disk[i] = rt.disk_bytes;
			/* The empty blocks produced since the last run, untimed; then this run's. */
			(void)shadow_apply(&sh, ctl, rt.h0, NULL, &txs, NULL);
			dt = shadow_apply(&sh, ctl, rt.h1, kinds[k], &txs, &app_per[i]);
			app[i] = (double)txs / ((double)dt / 1e9);
			ratio[i] = com[i] / app[i];
			fprintf(stderr, "# %s: node.commit %.0f tx/s, settle.apply of the same blocks %.0f tx/s: %.2f x\n",
			        kinds[k], com[i], app[i], ratio[i]);
			if (k < 2) {
				/* The ceiling: every core busy, and per transaction nothing but the apply's
				 * CPU and one bare round trip. */
				ceil_ratio[k * repeat + r] = ncpu * 1e6 / (app_per[i].cpu_us + rtt[k * repeat + r]) / app[i];
				fprintf(stderr, "# %s: ceiling %.0f tx/s (%.0f cores / (%.1f us apply + %.1f us round trip)): %.2f x\n",
				        kinds[k], ncpu * 1e6 / (app_per[i].cpu_us + rtt[k * repeat + r]), ncpu, app_per[i].cpu_us,
				        rtt[k * repeat + r], ceil_ratio[k * repeat + r]);
			}
		}
	}
	for (size_t k = 0; k < 3; k++) {
		printf("bench rpc.%s %.0f tx/s\n", kinds[k], tu_median(&sub[k * repeat], repeat));
		printf("bench node.commit%s %.0f tx/s\n", kinds[k] + strlen("submit"), tu_median(&com[k * repeat], repeat));
	}
	printf("bench settle.apply_node_blocks %.0f tx/s\n", tu_median(app, 3 * repeat));
	/* Sender 0 has used nonces [0, 3 repeat per_run). */
	printf("bench node.commit_latency_idle %.1f ms\n", idle_latency_ms(ctl, sk[0], pk[0], pk[1], 3 * repeat * per_run));
	for (size_t k = 0; k < 3; k++)
		printf("bench ratio.node_commit%s_vs_apply_same_blocks %.2f x\n", kinds[k] + strlen("submit"),
		       tu_median(&ratio[k * repeat], repeat));
	{
		double *app_disk = calloc(3 * repeat, sizeof(*app_disk));

		for (size_t i = 0; i < 3 * repeat; i++)
			app_disk[i] = app_per[i].disk_bytes;
		printf("bench node.storage_write_per_tx %.1f KiB\n", tu_median(node_disk, 3 * repeat) / 1024);
		printf("bench settle.apply_node_blocks.storage_write_per_tx %.1f KiB\n", tu_median(app_disk, 3 * repeat) / 1024);
		free(app_disk);
	}
	printf("bench rpc.roundtrip_cpu %.1f us\n", tu_median(rtt, repeat));
	printf("bench rpc.roundtrip_cpu_pipelined %.1f us\n", tu_median(&rtt[repeat], repeat));
	for (size_t k = 0; k < 2; k++)
		printf("bench ceiling.node_commit%s_vs_apply_same_blocks %.2f x\n", kinds[k] + strlen("submit"),
		       tu_median(&ceil_ratio[k * repeat], repeat));
	close(ctl->fd);
	free(ctl->reply);
	shadow_close(&sh);
	tu_node_stop(pid, SIGTERM);
	free(node_set);
	if (node_log && *node_log)
		fprintf(stderr, "# the node's log: %s/node.log\n", home);
	else
		tu_rmtree(dir);
	return 0;
}
