/* tests/bench/bench_net.c — throughput of the encrypted framed channel against plain libuv
 * TCP, on loopback, in the same run.
 *
 *   bench net.throughput              MB/s of TX payload through two transports (sealed
 *                                     frames of the negotiated suite, 64 KiB messages)
 *   bench net.raw_tcp                 MB/s of the same 64 KiB writes over plain libuv TCP
 *   bench net.ratio_encrypted_vs_raw  the first over the second
 *
 * Each side has its own thread and loop (sender and receiver on different cores, as two
 * nodes would be). The sender keeps its queue full (sends until SN_E_BUSY, refills after
 * each loop iteration); the receiver counts payload bytes for SN_BENCH_NET_SECONDS
 * (default 2) from its first byte. SN_BENCH_NET_RUNS (default 5) runs of each, interleaved;
 * the medians are printed (the machines are shared and noisy), each run on stderr.
 * SN_BENCH_NET_ONLY=encrypted|raw runs one side only (for profiling).
 * SN_BENCH_NET_CIPHER=chacha makes the sender offer ChaCha20-Poly1305 only (default: what
 * the CPU supports, AES-256-GCM with AES-NI); the suite used is printed on stderr. */
#include "testutil.h"

#include "net/net_int.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define MSG_LEN (64u * 1024)
#define RAW_INFLIGHT_MAX NET_SENDQ_MAX_DEFAULT
#define CHAIN 7

static uint8_t payload[MSG_LEN];

struct run {
	bool encrypted;
	bool chacha_only;
	atomic_int suite; /* negotiated, set by the sender; -1 before */
	double seconds;
	atomic_int port; /* set by the receiver once listening */
	atomic_bool stop;
	/* receiver results */
	uint64_t bytes, t0, t1;
};

/* ------------------------------------------------------------ receiver */

struct receiver {
	struct run *r;
	uv_loop_t loop;
	uv_timer_t timer;
	struct net_transport *t;
	uv_tcp_t listener, conn;
	bool conn_open;
	uint8_t buf[MSG_LEN];
};

static void rx_count(struct receiver *rv, size_t n)
{
	if (!rv->r->t0)
		rv->r->t0 = sn_time_mono_ns();
	rv->r->bytes += n;
}

static void rx_on_message(struct net_conn *c, uint16_t type, const uint8_t *p, size_t len, void *ud)
{
	(void)c;
	(void)type;
	(void)p;
	rx_count(ud, len);
}

static void rx_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	struct receiver *rv = h->data;

	(void)s;
	*b = uv_buf_init((char *)rv->buf, sizeof(rv->buf));
}

static void rx_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)b;
	if (n > 0)
		rx_count(s->data, (size_t)n);
}

static void rx_accept(uv_stream_t *server, int status)
{
	struct receiver *rv = server->data;

	if (status < 0 || rv->conn_open)
		return;
	uv_tcp_init(&rv->loop, &rv->conn);
	rv->conn.data = rv;
	rv->conn_open = true;
	if (uv_accept(server, (uv_stream_t *)&rv->conn) == 0)
		uv_read_start((uv_stream_t *)&rv->conn, rx_alloc, rx_read);
}

static void rx_tick(uv_timer_t *tm)
{
	struct receiver *rv = tm->data;
	struct run *r = rv->r;

	if (!r->t0 || sn_time_mono_ns() - r->t0 < (uint64_t)(r->seconds * 1e9))
		return;
	r->t1 = sn_time_mono_ns();
	atomic_store(&r->stop, true);
	uv_timer_stop(tm);
	uv_close((uv_handle_t *)tm, NULL);
	if (r->encrypted) {
		net_transport_close(rv->t, NULL, NULL);
	} else {
		uv_close((uv_handle_t *)&rv->listener, NULL);
		if (rv->conn_open)
			uv_close((uv_handle_t *)&rv->conn, NULL);
	}
}

static void *receiver_main(void *arg)
{
	struct receiver *rv = calloc(1, sizeof(*rv));
	struct run *r = arg;
	uint8_t seed[32], pk[32], sk[64];

	rv->r = r;
	uv_loop_init(&rv->loop);
	uv_timer_init(&rv->loop, &rv->timer);
	rv->timer.data = rv;
	uv_timer_start(&rv->timer, rx_tick, 5, 5);
	if (r->encrypted) {
		struct net_opts o = { .node_seckey = sk, .chain_id = CHAIN, .on_message = rx_on_message,
			              .ud = rv };

		memset(seed, 1, sizeof(seed));
		crypto_sign_seed_keypair(pk, sk, seed);
		if (net_transport_new(&rv->t, &rv->loop, &o) != SN_OK ||
		    net_transport_listen(rv->t, "127.0.0.1", 0) != SN_OK)
			abort();
		atomic_store(&r->port, net_transport_port(rv->t));
	} else {
		struct sockaddr_in a;
		struct sockaddr_storage ss;
		int len = sizeof(ss);

		uv_ip4_addr("127.0.0.1", 0, &a);
		uv_tcp_init(&rv->loop, &rv->listener);
		rv->listener.data = rv;
		if (uv_tcp_bind(&rv->listener, (struct sockaddr *)&a, 0) != 0 ||
		    uv_listen((uv_stream_t *)&rv->listener, 8, rx_accept) != 0)
			abort();
		uv_tcp_getsockname(&rv->listener, (struct sockaddr *)&ss, &len);
		atomic_store(&r->port, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	uv_run(&rv->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&rv->loop) != 0)
		abort();
	sodium_memzero(sk, sizeof(sk));
	free(rv);
	return NULL;
}

/* -------------------------------------------------------------- sender */

struct sender {
	struct run *r;
	uv_loop_t loop;
	uv_check_t check;
	uv_timer_t timer;
	struct net_transport *t;
	struct net_conn *conn;
	uv_tcp_t tcp;
	uv_connect_t creq;
	bool connected, closed;
	size_t inflight;
};

static void tx_on_connect(struct net_conn *c, const uint8_t key[NET_NODE_KEY_LEN], void *ud)
{
	struct sender *sd = ud;

	(void)key;
	sd->conn = c;
	atomic_store(&sd->r->suite, (int)net__conn_suite(c));
}

static void tx_on_close(struct net_conn *c, int err, const char *reason, void *ud)
{
	struct sender *sd = ud;

	(void)c;
	(void)err;
	(void)reason;
	sd->conn = NULL;
}

static void raw_write_done(uv_write_t *req, int status)
{
	struct sender *sd = req->data;

	(void)status;
	sd->inflight -= MSG_LEN;
	free(req);
}

static void tx_fill(struct sender *sd)
{
	if (sd->r->encrypted) {
		while (sd->conn && net_conn_send(sd->conn, NET_MSG_TX, payload, MSG_LEN) == SN_OK)
			;
		return;
	}
	while (sd->connected && sd->inflight + MSG_LEN <= RAW_INFLIGHT_MAX) {
		uv_write_t *req = malloc(sizeof(*req));
		uv_buf_t b = uv_buf_init((char *)payload, MSG_LEN);

		req->data = sd;
		if (uv_write(req, (uv_stream_t *)&sd->tcp, &b, 1, raw_write_done) != 0) {
			free(req);
			return;
		}
		sd->inflight += MSG_LEN;
	}
}

static void tx_shutdown(struct sender *sd)
{
	if (sd->closed)
		return;
	sd->closed = true;
	uv_check_stop(&sd->check);
	uv_close((uv_handle_t *)&sd->check, NULL);
	uv_timer_stop(&sd->timer);
	uv_close((uv_handle_t *)&sd->timer, NULL);
	if (sd->r->encrypted)
		net_transport_close(sd->t, NULL, NULL);
	else
		uv_close((uv_handle_t *)&sd->tcp, NULL);
}

static void tx_check(uv_check_t *h)
{
	struct sender *sd = h->data;

	if (atomic_load(&sd->r->stop))
		tx_shutdown(sd);
	else
		tx_fill(sd);
}

static void tx_tick(uv_timer_t *tm)
{
	tx_check(&((struct sender *)tm->data)->check);
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct sender *sd = req->data;

	if (status != 0)
		abort();
	sd->connected = true;
	uv_tcp_nodelay(&sd->tcp, 1);
	tx_fill(sd);
}

static void *sender_main(void *arg)
{
	struct sender *sd = calloc(1, sizeof(*sd));
	struct run *r = arg;
	uint8_t seed[32], pk[32], sk[64];
	uint16_t port = (uint16_t)atomic_load(&r->port);

	sd->r = r;
	uv_loop_init(&sd->loop);
	uv_check_init(&sd->loop, &sd->check);
	sd->check.data = sd;
	uv_check_start(&sd->check, tx_check);
	uv_timer_init(&sd->loop, &sd->timer);
	sd->timer.data = sd;
	uv_timer_start(&sd->timer, tx_tick, 5, 5);
	if (r->encrypted) {
		struct net_opts o = { .node_seckey = sk, .chain_id = CHAIN, .on_connect = tx_on_connect,
			              .on_close = tx_on_close, .ud = sd };
		struct net_conn *c;

		memset(seed, 2, sizeof(seed));
		crypto_sign_seed_keypair(pk, sk, seed);
		if (net_transport_new(&sd->t, &sd->loop, &o) != SN_OK)
			abort();
		if (r->chacha_only)
			net__transport_set_ciphers(sd->t, 0);
		if (net_transport_dial(sd->t, &c, "127.0.0.1", port) != SN_OK)
			abort();
	} else {
		struct sockaddr_in a;

		uv_ip4_addr("127.0.0.1", port, &a);
		uv_tcp_init(&sd->loop, &sd->tcp);
		sd->creq.data = sd;
		if (uv_tcp_connect(&sd->creq, &sd->tcp, (struct sockaddr *)&a, raw_connected) != 0)
			abort();
	}
	uv_run(&sd->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&sd->loop) != 0)
		abort();
	sodium_memzero(sk, sizeof(sk));
	free(sd);
	return NULL;
}

/* ---------------------------------------------------------------- main */

static int last_suite = -1;

static double one_run(bool encrypted, bool chacha_only, double seconds)
{
	struct run r = { .encrypted = encrypted, .chacha_only = chacha_only, .seconds = seconds };
	pthread_t rt, st;

	atomic_init(&r.port, 0);
	atomic_init(&r.stop, false);
	atomic_init(&r.suite, -1);
	pthread_create(&rt, NULL, receiver_main, &r);
	while (!atomic_load(&r.port))
		uv_sleep(1);
	pthread_create(&st, NULL, sender_main, &r);
	pthread_join(st, NULL);
	pthread_join(rt, NULL);
	if (encrypted)
		last_suite = atomic_load(&r.suite);
	return (double)r.bytes / ((double)(r.t1 - r.t0) / 1e9) / 1e6;
}

int main(void)
{
	const char *e;
	int runs = 5;
	double seconds = 2, enc[32], raw[32], ratio[32];
	bool chacha_only;

	if (sn_crypto_init() != SN_OK)
		return 1;
	signal(SIGPIPE, SIG_IGN); /* libuv writes with write(2): a closed peer raises it */
	sn_log_set(NULL, NULL, SN_LOG_WARN);
	if ((e = getenv("SN_BENCH_NET_RUNS")) && atoi(e) > 0)
		runs = atoi(e) < 31 ? atoi(e) : 31;
	if ((e = getenv("SN_BENCH_NET_SECONDS")) && atof(e) > 0)
		seconds = atof(e);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 131 + 7);
	chacha_only = (e = getenv("SN_BENCH_NET_CIPHER")) && !strcmp(e, "chacha");
	e = getenv("SN_BENCH_NET_ONLY"); /* "encrypted" or "raw": one side only, for profiling */
	for (int i = 0; i < runs; i++) {
		raw[i] = e && !strcmp(e, "encrypted") ? 1 : one_run(false, false, seconds);
		enc[i] = e && !strcmp(e, "raw") ? 1 : one_run(true, chacha_only, seconds);
		ratio[i] = enc[i] / raw[i];
		fprintf(stderr, "run %d: encrypted %.0f MB/s, raw %.0f MB/s, ratio %.3f\n", i + 1,
		        enc[i], raw[i], ratio[i]);
	}
	fprintf(stderr, "suite: %s\n",
	        last_suite == NET__SUITE_AES256GCM         ? "AES-256-GCM"
	        : last_suite == NET__SUITE_CHACHA20POLY1305 ? "ChaCha20-Poly1305"
	                                                    : "?");
	printf("bench net.throughput %.0f MB/s\n", tu_median(enc, runs));
	printf("bench net.raw_tcp %.0f MB/s\n", tu_median(raw, runs));
	/* The median of the per-run ratios: each pair ran back to back, under the same noise. */
	printf("bench net.ratio_encrypted_vs_raw %.3f x\n", tu_median(ratio, runs));
	return 0;
}
