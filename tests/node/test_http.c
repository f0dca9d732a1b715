/* tests/node/test_http.c — the JSON-RPC HTTP server (node/http.c) on a real libuv loop and
 * loopback sockets, with a handler of the test's own: pipelined requests are handed over
 * while earlier ones wait, their replies come in request order, and parsing stops at the
 * pipeline's bounds (PIPE_MAX requests, max_body bytes of bodies not answered yet, OUT_MAX
 * bytes of replies waiting behind an unanswered one), also when allocations fail. A client thread sends and reads; the loop runs on the test's thread.
 * With worker threads (opts.threads): connections are dealt to every worker, handlers run
 * there and never on the listener's loop, replies given from another thread (http_reply_any)
 * keep their place in a connection's order, the connection limit counts every worker's
 * connections, and a stop waits for a reply still owed. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/http_int.h"

#define CRED "user:secret"
#define BIG (100 * 1024) /* a "big" request's reply body */
#define MAX_REPLIES 64

struct fx {
	uv_loop_t loop;
	struct http_server *srv;
	uv_timer_t slow_timer;
	uv_async_t done;
	struct http_req *slow[MAX_REPLIES]; /* the "slow" requests, answered by slow_timer */
	int n_slow;
	int calls;             /* requests handed to the handler */
	int calls_when_slow_answered;
	char *big;
	/* the client's side */
	char *req;
	size_t req_len;
	int expect; /* replies to read */
	int got;
	char bodies[MAX_REPLIES][16]; /* each reply body's first bytes */
	size_t lens[MAX_REPLIES];
	bool client_ok;
	bool timed_out; /* the client waited 5 s for bytes that never came */
	bool stopped; /* the server's stop finished: every connection freed */
	unsigned long fail_nth; /* the server's allocations from this one on fail (0: none) */
};

static void on_slow_timer(uv_timer_t *t)
{
	struct fx *f = t->data;

	if (!f->calls_when_slow_answered) /* the first time: what was handed over meanwhile */
		f->calls_when_slow_answered = f->calls;
	for (int i = 0; i < f->n_slow; i++)
		http_reply(f->slow[i], 200, "text/plain", "slow", 4);
	f->n_slow = 0;
}

/* A body starting "slow": answered 300 ms after the first such one; "big": BIG bytes at
 * once; anything else: echoed. */
static void on_post(void *ud, struct http_req *req, const char *body, size_t len)
{
	struct fx *f = ud;

	f->calls++;
	if (len >= 4 && memcmp(body, "slow", 4) == 0 && f->n_slow < MAX_REPLIES) {
		if (!f->n_slow)
			uv_timer_start(&f->slow_timer, on_slow_timer, 300, 0);
		f->slow[f->n_slow++] = req;
	} else if (len == 3 && memcmp(body, "big", 3) == 0) {
		http_reply(req, 200, "text/plain", f->big, BIG);
	} else {
		http_reply(req, 200, "text/plain", body, len);
	}
}

static void on_stopped(void *ud)
{
	((struct fx *)ud)->stopped = true;
}

static void on_done(uv_async_t *h)
{
	struct fx *f = h->data;

	http_server_stop(f->srv, on_stopped, f);
	uv_close((uv_handle_t *)&f->slow_timer, NULL);
	uv_close((uv_handle_t *)&f->done, NULL);
}

static void add_post(struct fx *f, const char *body)
{
	char b64[64];
	size_t cap = 1 << 16;

	if (!f->req)
		f->req = malloc(cap);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)CRED, strlen(CRED), sodium_base64_VARIANT_ORIGINAL);
	f->req_len += (size_t)snprintf(f->req + f->req_len, cap - f->req_len,
	                               "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Length: %zu\r\n\r\n%s",
	                               b64, strlen(body), body);
	f->expect++;
}

/* Reads n whole replies from fd (cap bytes of them at most): each body's first 15 bytes into
 * bodies, its length into lens (may be NULL). Stops early when fd closes, or after 5 s without
 * a byte (then *timed_out, may be NULL). Returns how many came. */
static int read_replies(int fd, int n, size_t cap, char (*bodies)[16], size_t *lens, bool *timed_out)
{
	size_t have = 0, pos = 0;
	char *buf = malloc(cap + 1);
	int got = 0;

	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		char *sep, *cl;
		size_t need;
		ssize_t k;

		buf[have] = '\0';
		sep = pos < have ? strstr(buf + pos, "\r\n\r\n") : NULL;
		cl = pos < have ? strstr(buf + pos, "Content-Length: ") : NULL;
		if (sep && cl && cl < sep && have >= (need = (size_t)(sep + 4 - buf) + strtoul(cl + 16, NULL, 10))) {
			size_t blen = need - (size_t)(sep + 4 - buf);

			if (lens)
				lens[got] = blen;
			snprintf(bodies[got], 16, "%.*s", (int)(blen < 15 ? blen : 15), sep + 4);
			got++;
			pos = need;
			continue;
		}
		if (poll(&p, 1, 5000) != 1) {
			if (timed_out)
				*timed_out = true;
			break;
		}
		if ((k = recv(fd, buf + have, cap - have, 0)) <= 0)
			break;
		have += (size_t)k;
	}
	free(buf);
	return got;
}

/* The client: sends every request in one write, reads f->expect whole replies. */
static void *client(void *arg)
{
	struct fx *f = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(http_server_port(f->srv)),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    send(fd, f->req, f->req_len, MSG_NOSIGNAL) == (ssize_t)f->req_len)
		f->got = read_replies(fd, f->expect, (size_t)f->expect * (BIG + 512), f->bodies, f->lens, &f->timed_out);
	f->client_ok = f->got == f->expect;
	if (fd >= 0)
		close(fd);
	uv_async_send(&f->done);
	return NULL;
}

/* Starts a server, runs the client against it until it has its replies, stops. */
static void run(struct fx *f)
{
	struct http_server_opts o = { .address = "127.0.0.1",
		                      .port = 0,
		                      .limits = { .max_body = 4096, .max_header = 4096, .max_connections = 8,
		                                  .idle_timeout_ms = 10000 },
		                      .credentials = { CRED, NULL },
		                      .on_post = on_post,
		                      .ud = f };
	pthread_t t;

	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(http_server_start(&f->srv, &f->loop, &o), SN_OK);
	uv_timer_init(&f->loop, &f->slow_timer);
	f->slow_timer.data = f;
	uv_async_init(&f->loop, &f->done, on_done);
	f->done.data = f;
	f->big = malloc(BIG);
	memset(f->big, 'b', BIG);
	assert_int_equal(pthread_create(&t, NULL, client, f), 0);
	sn_alloc_fail_after(f->fail_nth);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	sn_alloc_fail_after(0);
	pthread_join(t, NULL);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f->big);
	free(f->req);
	assert_true(f->stopped);
	assert_false(f->timed_out); /* every reply, or the connection closed: never silence */
	if (!f->fail_nth)
		assert_true(f->client_ok);
}

/* A slow request, then quick ones: the quick ones are handed over (and answered) while the
 * slow one waits, but their replies come after its own, in order. */
static void test_replies_in_request_order(void **state)
{
	struct fx f = { 0 };
	char body[16];

	(void)state;
	add_post(&f, "slow");
	for (int i = 0; i < 10; i++) {
		snprintf(body, sizeof(body), "quick %d", i);
		add_post(&f, body);
	}
	run(&f);
	assert_int_equal(f.calls_when_slow_answered, 11); /* all handed over meanwhile */
	assert_string_equal(f.bodies[0], "slow");
	for (int i = 0; i < 10; i++) {
		snprintf(body, sizeof(body), "quick %d", i);
		assert_string_equal(f.bodies[1 + i], body);
	}
}

/* Behind an unanswered request, at most PIPE_MAX (32) requests of a connection are handed
 * over; the rest wait until replies go out. */
static void test_pipeline_depth_bounded(void **state)
{
	struct fx f = { 0 };

	(void)state;
	add_post(&f, "slow");
	for (int i = 0; i < 50; i++)
		add_post(&f, "q");
	run(&f);
	assert_int_equal(f.calls_when_slow_answered, 32);
	assert_int_equal(f.got, 51);
	assert_string_equal(f.bodies[0], "slow");
	assert_string_equal(f.bodies[50], "q");
}

/* Behind an unanswered request, replies waiting to be written stop the parsing once they
 * pass OUT_MAX (256 KiB): three 100 KiB replies, not thirty. */
static void test_waiting_replies_bounded(void **state)
{
	struct fx f = { 0 };

	(void)state;
	add_post(&f, "slow");
	for (int i = 0; i < 30; i++)
		add_post(&f, "big");
	run(&f);
	assert_int_equal(f.calls_when_slow_answered, 1 + 3);
	assert_int_equal(f.got, 31);
	for (int i = 1; i <= 30; i++)
		assert_int_equal(f.lens[i], BIG);
}

/* Requests not answered yet may hold max_body (4096) bytes of bodies at most: of twenty
 * 1000-byte requests that all wait, five are handed over, not twenty (the work a connection
 * can queue stays that of one largest request, as without pipelining). */
static void test_pending_bodies_bounded(void **state)
{
	struct fx f = { 0 };
	char body[1001];

	(void)state;
	memset(body, 'p', 1000);
	memcpy(body, "slow", 4);
	body[1000] = '\0';
	for (int i = 0; i < 20; i++)
		add_post(&f, body);
	run(&f);
	assert_int_equal(f.calls_when_slow_answered, 5);
	assert_int_equal(f.got, 20);
}

/* The server's Nth allocation and every later one fail, for every N a pipelined pair (a
 * request, then malformed bytes) needs: the connection may end early (closed, even when
 * there is no memory to take it), but the client is never left waiting, the server always
 * stops with every connection freed (its stop's callback runs), and nothing leaks (the ASan
 * build checks). */
static void test_alloc_failures(void **state)
{
	(void)state;
	for (unsigned long nth = 1; nth <= 12; nth++) {
		struct fx f = { .fail_nth = nth };

		add_post(&f, "q");
		f.req_len += (size_t)snprintf(f.req + f.req_len, 64, "BAD LINE\r\n\r\n");
		f.expect++;
		run(&f);
	}
}

/* ---------------------------------------------------------------- worker threads */

#define T_CONNS 6
#define T_REQS 20

struct tfx {
	uv_loop_t loop;
	struct http_server *srv;
	uv_async_t done; /* the clients finished */
	uv_async_t fwd;  /* a handler passed requests to the listener's loop */
	pthread_mutex_t mu;
	struct http_req *fwd_q[T_CONNS * T_REQS]; /* under mu */
	int n_fwd;
	uv_loop_t *loops[8]; /* the distinct loops handlers ran on, under mu */
	int n_loops;
	atomic_int on_main;      /* handler calls on the listener's loop: must stay 0 */
	atomic_int clients_left;
	atomic_int clients_ok;
	bool hold;    /* forwarded requests are not answered until the stop began */
	bool stopped; /* the server's stop finished */
	bool stopped_before_reply;
	pthread_t clients[T_CONNS];
	int n_clients;
};

static void t_on_post(void *ud, struct http_req *req, const char *body, size_t len)
{
	struct tfx *f = ud;
	uv_loop_t *l = http_req_loop(req);
	bool seen = false;

	if (l == &f->loop)
		atomic_fetch_add(&f->on_main, 1);
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->n_loops; i++)
		seen |= f->loops[i] == l;
	if (!seen && f->n_loops < 8)
		f->loops[f->n_loops++] = l;
	if (len >= 3 && memcmp(body, "fwd", 3) == 0) {
		f->fwd_q[f->n_fwd++] = req;
		pthread_mutex_unlock(&f->mu);
		uv_async_send(&f->fwd);
		return;
	}
	pthread_mutex_unlock(&f->mu);
	http_reply(req, 200, "text/plain", body, len);
}

static void t_stopped(void *ud)
{
	((struct tfx *)ud)->stopped = true;
}

static void t_answer_forwarded(struct tfx *f)
{
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->n_fwd; i++)
		http_reply_any(f->fwd_q[i], 200, "text/plain", "main", 4);
	f->n_fwd = 0;
	pthread_mutex_unlock(&f->mu);
}

static void t_on_fwd(uv_async_t *h)
{
	struct tfx *f = h->data;

	if (!f->hold)
		t_answer_forwarded(f);
}

static void t_on_done(uv_async_t *h)
{
	struct tfx *f = h->data;

	if (atomic_load(&f->clients_left) > 0)
		return;
	http_server_stop(f->srv, t_stopped, f);
	if (f->hold) {
		/* A forwarded request is still owed its reply: the stop waits for it. */
		uv_run(&f->loop, UV_RUN_NOWAIT);
		f->stopped_before_reply = f->stopped;
		f->hold = false;
		t_answer_forwarded(f);
	}
	uv_close((uv_handle_t *)&f->done, NULL);
	uv_close((uv_handle_t *)&f->fwd, NULL);
}

static int t_connect(const struct tfx *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(http_server_port(f->srv)),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

struct t_client {
	struct tfx *f;
	int idx;
};

/* One connection: T_REQS pipelined requests, every third one answered by the listener's
 * loop ("fwd"); the replies must come back whole and in request order. */
static void *t_client_main(void *arg)
{
	struct t_client *c = arg;
	struct tfx *f = c->f;
	char req[T_REQS * 160], bodies[T_REQS][16], b64[64], body[32];
	size_t len = 0;
	int fd = t_connect(f), ok = fd >= 0;

	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)CRED, strlen(CRED), sodium_base64_VARIANT_ORIGINAL);
	for (int i = 0; i < T_REQS; i++) {
		snprintf(body, sizeof(body), i % 3 == 1 ? "fwd %d.%d" : "echo %d.%d", c->idx, i);
		len += (size_t)snprintf(req + len, sizeof(req) - len,
		                        "POST / HTTP/1.1\r\nAuthorization: Basic %s\r\nContent-Length: %zu\r\n\r\n%s", b64,
		                        strlen(body), body);
	}
	if (ok && send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		ok = 0;
	/* Holding the forwarded ones: only the first reply can come before the stop. */
	if (ok && read_replies(fd, f->hold ? 1 : T_REQS, 1 << 16, bodies, NULL, NULL) != (f->hold ? 1 : T_REQS))
		ok = 0;
	for (int i = 0; ok && i < (f->hold ? 1 : T_REQS); i++) {
		snprintf(body, sizeof(body), "echo %d.%d", c->idx, i);
		if (strcmp(bodies[i], i % 3 == 1 ? "main" : body) != 0)
			ok = 0;
	}
	if (fd >= 0)
		close(fd);
	atomic_fetch_add(&f->clients_ok, ok);
	atomic_fetch_sub(&f->clients_left, 1);
	uv_async_send(&f->done);
	free(c);
	return NULL;
}

static void t_start(struct tfx *f, unsigned threads, size_t max_conns)
{
	struct http_server_opts o = { .address = "127.0.0.1",
		                      .port = 0,
		                      .limits = { .max_body = 4096, .max_header = 4096, .max_connections = max_conns,
		                                  .idle_timeout_ms = 10000 },
		                      .credentials = { CRED, NULL },
		                      .threads = threads,
		                      .on_post = t_on_post,
		                      .ud = f };

	pthread_mutex_init(&f->mu, NULL);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(http_server_start(&f->srv, &f->loop, &o), SN_OK);
	uv_async_init(&f->loop, &f->done, t_on_done);
	f->done.data = f;
	uv_async_init(&f->loop, &f->fwd, t_on_fwd);
	f->fwd.data = f;
}

static void t_client_start(struct tfx *f)
{
	struct t_client *c = malloc(sizeof(*c));

	c->f = f;
	c->idx = f->n_clients;
	atomic_fetch_add(&f->clients_left, 1);
	assert_int_equal(pthread_create(&f->clients[f->n_clients++], NULL, t_client_main, c), 0);
}

/* Runs the loop until the stop finished; joins the clients; checks everything was closed. */
static void t_finish(struct tfx *f)
{
	uv_run(&f->loop, UV_RUN_DEFAULT);
	for (int i = 0; i < f->n_clients; i++)
		pthread_join(f->clients[i], NULL);
	assert_true(f->stopped);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	pthread_mutex_destroy(&f->mu);
}

/* Six connections at once over three workers: each is served by one of them (all three
 * used), never by the listener's loop; the replies given by that loop through
 * http_reply_any keep their place among the workers' own. */
static void test_threads_serve_connections(void **state)
{
	struct tfx f = { 0 };

	(void)state;
	t_start(&f, 3, 16);
	for (int i = 0; i < T_CONNS; i++)
		t_client_start(&f);
	t_finish(&f);
	assert_int_equal(atomic_load(&f.clients_ok), T_CONNS);
	assert_int_equal(atomic_load(&f.on_main), 0);
	assert_int_equal(f.n_loops, 3);
}

/* A stop while a forwarded request still waits for its reply: the stop finishes only after
 * the reply is given (a worker's server keeps the connection until then). */
static void test_threads_stop_waits_for_reply(void **state)
{
	struct tfx f = { .hold = true };

	(void)state;
	t_start(&f, 2, 16);
	t_client_start(&f);
	t_finish(&f);
	assert_false(f.stopped_before_reply);
	assert_int_equal(atomic_load(&f.clients_ok), 1);
}

static void *t_limit_client(void *arg)
{
	struct tfx *f = arg;
	char bodies[1][16], buf[16];
	int a = t_connect(f), b = t_connect(f), c, d, ok = a >= 0 && b >= 0;
	struct pollfd p;
	char req[256], b64[64];
	int n;

	/* Two connections are open (and served: each answers an echo), so a third is refused:
	 * closed at once. */
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)CRED, strlen(CRED), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nAuthorization: Basic %s\r\nContent-Length: 4\r\n\r\necho", b64);
	ok = ok && send(a, req, (size_t)n, MSG_NOSIGNAL) == n && read_replies(a, 1, 1 << 16, bodies, NULL, NULL) == 1;
	ok = ok && send(b, req, (size_t)n, MSG_NOSIGNAL) == n && read_replies(b, 1, 1 << 16, bodies, NULL, NULL) == 1;
	c = t_connect(f);
	p = (struct pollfd){ c, POLLIN, 0 };
	ok = ok && c >= 0 && poll(&p, 1, 5000) == 1 && recv(c, buf, sizeof(buf), 0) == 0;
	/* One closes: its place is free again, whichever worker served it. */
	close(a);
	for (int tries = 0; ok && tries < 100; tries++) {
		d = t_connect(f);
		if (d >= 0 && send(d, req, (size_t)n, MSG_NOSIGNAL) == n && read_replies(d, 1, 1 << 16, bodies, NULL, NULL) == 1) {
			close(d);
			break;
		}
		if (d >= 0)
			close(d);
		ok = tries < 99;
		usleep(20000);
	}
	close(b);
	if (c >= 0)
		close(c);
	atomic_fetch_add(&f->clients_ok, ok);
	atomic_fetch_sub(&f->clients_left, 1);
	uv_async_send(&f->done);
	return NULL;
}

/* max_connections counts the connections of every worker together. */
static void test_threads_connection_limit(void **state)
{
	struct tfx f = { 0 };

	(void)state;
	t_start(&f, 2, 2);
	atomic_fetch_add(&f.clients_left, 1);
	assert_int_equal(pthread_create(&f.clients[f.n_clients++], NULL, t_limit_client, &f), 0);
	t_finish(&f);
	assert_int_equal(atomic_load(&f.clients_ok), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replies_in_request_order),
		cmocka_unit_test(test_pipeline_depth_bounded),
		cmocka_unit_test(test_waiting_replies_bounded),
		cmocka_unit_test(test_pending_bodies_bounded),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_threads_serve_connections),
		cmocka_unit_test(test_threads_stop_waits_for_reply),
		cmocka_unit_test(test_threads_connection_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
