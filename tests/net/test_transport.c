/* tests/net/test_transport.c — the encrypted transport on a real libuv loop over 127.0.0.1.
 *
 * Two transports in one process and loop talk to each other; for the hostile cases a
 * hand-made peer ("raw peer": a plain socket driven from the test, speaking the protocol
 * through the codecs of net_int.h) connects to a transport and misbehaves. The loop is
 * pumped whenever the raw peer waits, so everything runs on one thread. */
#include "testutil.h"

#include "net/net_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define CHAIN 7
#define WAIT_MS 5000

/* ------------------------------------------------------------ fixtures */

struct side {
	const char *name;
	struct net_transport *t;
	uint8_t sk[NET_NODE_SECKEY_LEN], pk[NET_NODE_KEY_LEN];
	struct net_conn *conn; /* the last connection that connected */
	int connects, closes, close_err;
	char reason[NET_REASON_MAX];
	uint8_t peer_key[NET_NODE_KEY_LEN];
	bool peer_inbound;
	uint64_t pings, pongs, txs, last_ping, last_pong;
	uint8_t last_tx[NET_TX_MAX];
	size_t last_tx_len;
	bool no_auto_pong;
	bool closed_transport;
};

static uv_loop_t loop;
static uv_timer_t tick;

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void key_for(uint8_t seed_byte, uint8_t sk[NET_NODE_SECKEY_LEN], uint8_t pk[NET_NODE_KEY_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
}

static void on_connect(struct net_conn *c, const uint8_t key[NET_NODE_KEY_LEN], void *ud)
{
	struct side *s = ud;

	s->connects++;
	s->conn = c;
	memcpy(s->peer_key, key, NET_NODE_KEY_LEN);
	s->peer_inbound = net_conn_inbound(c);
	assert_non_null(net_conn_hello(c));
	assert_memory_equal(net_conn_hello(c)->node_key, key, NET_NODE_KEY_LEN);
}

static void on_message(struct net_conn *c, uint16_t type, const uint8_t *p, size_t len, void *ud)
{
	struct side *s = ud;
	struct net_msg m;

	assert_int_equal(net_msg_decode(&m, type, p, len), SN_OK);
	switch (type) {
	case NET_MSG_PING:
		s->pings++;
		s->last_ping = m.u.nonce;
		if (!s->no_auto_pong) {
			uint8_t out[8];
			size_t n;
			struct net_msg pong = { .type = NET_MSG_PONG, .u.nonce = m.u.nonce };

			assert_int_equal(net_msg_encode(out, sizeof(out), &n, &pong), SN_OK);
			assert_int_equal(net_conn_send(c, NET_MSG_PONG, out, n), SN_OK);
		}
		break;
	case NET_MSG_PONG:
		s->pongs++;
		s->last_pong = m.u.nonce;
		break;
	case NET_MSG_TX:
		s->txs++;
		memcpy(s->last_tx, p, len);
		s->last_tx_len = len;
		break;
	default:
		fail();
	}
}

static void on_close(struct net_conn *c, int err, const char *reason, void *ud)
{
	struct side *s = ud;

	s->closes++;
	s->close_err = err;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	if (s->conn == c)
		s->conn = NULL;
}

static void on_transport_closed(void *ud)
{
	((struct side *)ud)->closed_transport = true;
}

static void side_init(struct side *s, const char *name, uint8_t seed, uint32_t chain,
                      const struct net_opts *extra)
{
	struct net_opts o = { 0 };

	memset(s, 0, sizeof(*s));
	s->name = name;
	key_for(seed, s->sk, s->pk);
	if (extra)
		o = *extra;
	o.node_seckey = s->sk;
	o.chain_id = chain;
	o.user_agent = name;
	o.on_connect = on_connect;
	o.on_message = on_message;
	o.on_close = on_close;
	o.ud = s;
	assert_int_equal(net_transport_new(&s->t, &loop, &o), SN_OK);
}

static void loop_setup(void)
{
	assert_int_equal(sn_crypto_init(), SN_OK);
	assert_int_equal(uv_loop_init(&loop), 0);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 2, 2); /* so UV_RUN_ONCE never blocks long */
	uv_unref((uv_handle_t *)&tick);
}

/* Runs the loop until cond(arg) holds; false after ms. */
static bool run_once_until(bool (*cond)(void *), void *arg, uint64_t ms)
{
	uint64_t end = sn_time_mono_ns() + ms * 1000000u;

	while (!cond(arg)) {
		if (sn_time_mono_ns() > end)
			return false;
		uv_ref((uv_handle_t *)&tick);
		uv_run(&loop, UV_RUN_ONCE);
		uv_unref((uv_handle_t *)&tick);
	}
	return true;
}

static bool closes_ge1(void *a) { return ((struct side *)a)->closes >= 1; }
static bool connects_ge1(void *a) { return ((struct side *)a)->connects >= 1; }

struct pair {
	struct side *a, *b;
};
static bool both_closed(void *p)
{
	return ((struct pair *)p)->a->closes >= 1 && ((struct pair *)p)->b->closes >= 1;
}
static bool both_connected(void *p)
{
	return ((struct pair *)p)->a->connects >= 1 && ((struct pair *)p)->b->connects >= 1;
}

static bool transport_closed(void *a) { return ((struct side *)a)->closed_transport; }

static void loop_teardown(struct side *a, struct side *b)
{
	if (a)
		net_transport_close(a->t, on_transport_closed, a);
	if (b)
		net_transport_close(b->t, on_transport_closed, b);
	if (a)
		assert_true(run_once_until(transport_closed, a, WAIT_MS));
	if (b)
		assert_true(run_once_until(transport_closed, b, WAIT_MS));
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------------------ raw peer */

struct raw {
	int fd;
	uint8_t sk[NET_NODE_SECKEY_LEN], pk[NET_NODE_KEY_LEN];
	struct net__cipher tx, rx;
	uint8_t th[SN_HASH_LEN];
	uint8_t my_hello[NET__HS_HELLO_MAX], peer_hello[NET__HS_HELLO_MAX];
	size_t my_len, peer_len;
	struct net__hs_hello peer;
};

static void raw_connect(struct raw *r, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(connect(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void pump(void)
{
	uv_ref((uv_handle_t *)&tick);
	uv_run(&loop, UV_RUN_ONCE);
	uv_unref((uv_handle_t *)&tick);
}

static void raw_send(struct raw *r, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = send(r->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			pump();
			continue;
		}
		p += k;
		n -= (size_t)k;
	}
	pump();
}

/* Reads exactly n bytes; false if the peer closed first or WAIT_MS passed. */
static bool raw_recv(struct raw *r, void *buf, size_t n)
{
	uint8_t *p = buf;
	uint64_t end = sn_time_mono_ns() + (uint64_t)WAIT_MS * 1000000u;

	while (n > 0) {
		ssize_t k = recv(r->fd, p, n, MSG_DONTWAIT);

		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return false;
		if (k < 0) {
			if (sn_time_mono_ns() > end)
				return false;
			pump();
			continue;
		}
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* The raw side of a handshake with a transport, as the dialler. claim: the node key put in
 * the hello (NULL: its own); signing: the secret key it signs with (NULL: its own).
 * Returns after sending AUTH; reads the transport's AUTH first if it comes. */
static void raw_handshake(struct raw *r, uint16_t port, uint32_t chain, uint16_t version,
                          const uint8_t *claim, const uint8_t *signing_sk)
{
	struct net__hs_hello h;
	uint8_t eph_sk[32], sig[NET__SIG_LEN], auth[NET__AUTH_LEN];
	uint8_t frame[NET__FRAME_LEN(NET__AUTH_LEN)];
	size_t body;

	key_for(0x77, r->sk, r->pk);
	raw_connect(r, port);
	memset(&h, 0, sizeof(h));
	crypto_kx_keypair(h.eph_key, eph_sk);
	memcpy(h.hello.node_key, claim ? claim : r->pk, NET_NODE_KEY_LEN);
	h.hello.chain_id = chain;
	h.hello.version = version;
	strcpy(h.hello.user_agent, "raw-peer");
	assert_int_equal(net__hs_hello_encode(r->my_hello, sizeof(r->my_hello), &r->my_len, &h), SN_OK);
	raw_send(r, r->my_hello, r->my_len);
	assert_true(raw_recv(r, r->peer_hello, NET__HS_PREFIX_LEN));
	assert_int_equal(net__hs_prefix_decode(&body, r->peer_hello), SN_OK);
	assert_true(raw_recv(r, r->peer_hello + NET__HS_PREFIX_LEN, body));
	r->peer_len = NET__HS_PREFIX_LEN + body;
	assert_int_equal(net__hs_hello_decode(&r->peer, r->peer_hello, r->peer_len), SN_OK);
	assert_int_equal(net__hs_keys(&r->tx, &r->rx, r->th, true, eph_sk, r->my_hello, r->my_len,
	                              r->peer_hello, r->peer_len),
	                 SN_OK);
	sodium_memzero(eph_sk, sizeof(eph_sk));
	net__hs_sign(sig, r->th, true, signing_sk ? signing_sk : r->sk);
	net__hs_auth_encode(auth, sig);
	net__frame_seal(frame, &r->tx, NET__AUTH_TYPE, auth, sizeof(auth));
	raw_send(r, frame, sizeof(frame));
}

/* Reads and opens the transport's next frame. */
static bool raw_read_frame(struct raw *r, uint16_t *type, uint8_t *payload, size_t *len)
{
	uint8_t hdr[NET__FRAME_HEADER_LEN];
	static uint8_t body[NET_FRAME_MAX_DEFAULT];
	uint32_t n;
	const uint8_t *p;

	if (!raw_recv(r, hdr, sizeof(hdr)))
		return false;
	assert_int_equal(net__frame_header_decode(&n, hdr, NET_FRAME_MAX_DEFAULT), SN_OK);
	if (!raw_recv(r, body, n))
		return false;
	assert_int_equal(net__frame_open(&r->rx, hdr, body, n, type, &p, len), SN_OK);
	memcpy(payload, p, *len);
	return true;
}

/* A full, good handshake: the transport's AUTH is read and verified too. */
static void raw_connected(struct raw *r, struct side *s, uint16_t port)
{
	uint16_t type;
	uint8_t p[NET__AUTH_LEN], sig[NET__SIG_LEN];
	size_t len;

	raw_handshake(r, port, CHAIN, NET_PROTOCOL_VERSION, NULL, NULL);
	assert_true(raw_read_frame(r, &type, p, &len));
	assert_int_equal(type, NET__AUTH_TYPE);
	assert_int_equal(net__hs_auth_decode(sig, p, len), SN_OK);
	assert_int_equal(net__hs_verify(sig, r->th, false, r->peer.hello.node_key), SN_OK);
	assert_true(run_once_until(connects_ge1, s, WAIT_MS));
	assert_memory_equal(s->peer_key, r->pk, NET_NODE_KEY_LEN);
}

static size_t raw_frame(struct raw *r, uint8_t *out, uint16_t type, const void *p, size_t len)
{
	net__frame_seal(out, &r->tx, type, p, len);
	return NET__FRAME_LEN(len);
}

static size_t ping_frame(struct raw *r, uint8_t *out, uint64_t nonce)
{
	uint8_t p[8];

	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(nonce >> (8 * i));
	return raw_frame(r, out, NET_MSG_PING, p, sizeof(p));
}

/* The transport dropped the raw peer: its socket sees EOF or a reset. */
static bool raw_closed(struct raw *r)
{
	uint8_t b[4096];
	uint64_t end = sn_time_mono_ns() + (uint64_t)WAIT_MS * 1000000u;

	for (;;) {
		ssize_t k = recv(r->fd, b, sizeof(b), MSG_DONTWAIT);

		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return true;
		if (sn_time_mono_ns() > end)
			return false;
		pump();
	}
}

static void raw_free(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	sodium_memzero(r, sizeof(*r));
}

/* A listening side A for the raw peer. */
static uint16_t listen_side(struct side *a, const struct net_opts *o)
{
	side_init(a, "A", 1, CHAIN, o);
	assert_int_equal(net_transport_listen(a->t, "127.0.0.1", 0), SN_OK);
	assert_true(net_transport_port(a->t) != 0);
	return net_transport_port(a->t);
}

/* --------------------------------------------------------------- tests */

static void test_ping_pong_tx_both_ways(void **state)
{
	struct side a, b;
	struct pair pr = { &a, &b };
	struct net_conn *dialled;
	struct net_conn_stats sa, sb;
	uint8_t tx[300], ping[8];
	size_t n;
	struct net_msg m = { .type = NET_MSG_PING, .u.nonce = 0x1122334455667788ull };

	(void)state;
	loop_setup();
	side_init(&a, "A", 1, CHAIN, NULL);
	side_init(&b, "B", 2, CHAIN, NULL);
	assert_int_equal(net_transport_listen(a.t, "127.0.0.1", 0), SN_OK);
	assert_int_equal(net_transport_dial(b.t, &dialled, "127.0.0.1", net_transport_port(a.t)),
	                 SN_OK);
	assert_non_null(dialled);
	/* Not connected yet: sending is misuse. */
	assert_int_equal(net_conn_send(dialled, NET_MSG_PING, ping, 8), SN_E_INVAL);
	assert_true(run_once_until(both_connected, &pr, WAIT_MS));
	assert_ptr_equal(b.conn, dialled);
	assert_memory_equal(a.peer_key, b.pk, NET_NODE_KEY_LEN);
	assert_memory_equal(b.peer_key, a.pk, NET_NODE_KEY_LEN);
	assert_true(a.peer_inbound);
	assert_false(b.peer_inbound);
	assert_string_equal(net_conn_hello(a.conn)->user_agent, "B");
	assert_string_equal(net_conn_hello(b.conn)->user_agent, "A");
	assert_int_equal(net_conn_hello(b.conn)->listen_port, net_transport_port(a.t));
	assert_int_equal(net_conn_hello(a.conn)->chain_id, CHAIN);

	/* B → A PING, A answers PONG. */
	assert_int_equal(net_msg_encode(ping, sizeof(ping), &n, &m), SN_OK);
	assert_int_equal(net_conn_send(b.conn, NET_MSG_PING, ping, n), SN_OK);
	/* A → B PING, B answers. */
	m.u.nonce = 42;
	assert_int_equal(net_msg_encode(ping, sizeof(ping), &n, &m), SN_OK);
	assert_int_equal(net_conn_send(a.conn, NET_MSG_PING, ping, n), SN_OK);
	/* TX both ways. */
	for (size_t i = 0; i < sizeof(tx); i++)
		tx[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(net_conn_send(a.conn, NET_MSG_TX, tx, sizeof(tx)), SN_OK);
	tx[0] ^= 0xff;
	assert_int_equal(net_conn_send(b.conn, NET_MSG_TX, tx, 123), SN_OK);
	while (!(a.pongs == 1 && b.pongs == 1 && a.txs == 1 && b.txs == 1))
		pump();
	assert_int_equal(b.last_pong, 0x1122334455667788ull);
	assert_int_equal(a.last_ping, 0x1122334455667788ull);
	assert_int_equal(a.last_pong, 42);
	assert_int_equal(b.last_ping, 42);
	assert_int_equal(b.last_tx_len, sizeof(tx));
	assert_int_equal(a.last_tx_len, 123);
	assert_memory_equal(a.last_tx, tx, 123);
	tx[0] ^= 0xff;
	assert_memory_equal(b.last_tx, tx, sizeof(tx));

	/* Misuse is refused and changes nothing. */
	assert_int_equal(net_conn_send(a.conn, 99, tx, 1), SN_E_TYPE);
	assert_int_equal(net_conn_send(a.conn, NET_MSG_PING, tx, 7), SN_E_TRUNCATED);
	assert_int_equal(net_conn_send(a.conn, NET_MSG_PING, tx, 9), SN_E_TOOBIG);
	assert_int_equal(net_conn_send(a.conn, NET_MSG_TX, tx, 0), SN_E_TRUNCATED);
	assert_int_equal(net_conn_send(a.conn, NET__AUTH_TYPE, tx, NET__AUTH_LEN), SN_E_TYPE);

	/* Counters: 3 messages each way (PING, PONG, TX), and the wire bytes agree. */
	while (a.conn && b.conn) {
		net_conn_stats(a.conn, &sa);
		net_conn_stats(b.conn, &sb);
		if (sa.queued == 0 && sb.queued == 0 && sa.bytes_out == sb.bytes_in &&
		    sb.bytes_out == sa.bytes_in)
			break;
		pump();
	}
	assert_int_equal(sa.msgs_in, 3);
	assert_int_equal(sa.msgs_out, 3);
	assert_int_equal(sb.msgs_in, 3);
	assert_int_equal(sb.msgs_out, 3);
	assert_true(sa.bytes_out > 300 + 123);

	/* B closes: B hears SN_OK, A hears the peer went away. */
	net_conn_close(b.conn);
	net_conn_close(dialled); /* idempotent */
	assert_true(run_once_until(both_closed, &pr, WAIT_MS));
	assert_int_equal(b.close_err, SN_OK);
	assert_int_equal(a.close_err, SN_E_IO);
	assert_non_null(strstr(a.reason, "peer closed"));
	assert_int_equal(a.closes, 1);
	assert_int_equal(b.closes, 1);
	loop_teardown(&a, &b);
}

static void test_wrong_chain_both_drop(void **state)
{
	struct side a, b;
	struct pair pr = { &a, &b };
	struct net_conn *c;

	(void)state;
	loop_setup();
	side_init(&a, "A", 1, CHAIN, NULL);
	side_init(&b, "B", 2, CHAIN + 1, NULL);
	assert_int_equal(net_transport_listen(a.t, "127.0.0.1", 0), SN_OK);
	assert_int_equal(net_transport_dial(b.t, &c, "127.0.0.1", net_transport_port(a.t)), SN_OK);
	assert_true(run_once_until(both_closed, &pr, WAIT_MS));
	assert_int_equal(a.connects + b.connects, 0);
	assert_int_equal(a.close_err, SN_E_CHAIN);
	assert_int_equal(b.close_err, SN_E_CHAIN);
	assert_string_equal(a.reason, "peer is on chain 8, we are on chain 7");
	assert_string_equal(b.reason, "peer is on chain 7, we are on chain 8");
	loop_teardown(&a, &b);
}

static void test_wrong_version_dropped(void **state)
{
	struct side a;
	struct raw r;
	uint16_t port;

	(void)state;
	loop_setup();
	port = listen_side(&a, NULL);
	raw_handshake(&r, port, CHAIN, NET_PROTOCOL_VERSION + 1, NULL, NULL);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.connects, 0);
	assert_int_equal(a.close_err, SN_E_VERSION);
	assert_string_equal(a.reason, "peer speaks protocol version 2, we speak 1");
	assert_true(raw_closed(&r));
	raw_free(&r);
	loop_teardown(&a, NULL);
}

static void test_unproven_key_dropped(void **state)
{
	struct side a;
	struct raw r;
	uint8_t victim_sk[NET_NODE_SECKEY_LEN], victim_pk[NET_NODE_KEY_LEN];
	uint16_t port;

	(void)state;
	loop_setup();
	port = listen_side(&a, NULL);
	/* Claims the victim's key, but can only sign with its own. */
	key_for(0x55, victim_sk, victim_pk);
	raw_handshake(&r, port, CHAIN, NET_PROTOCOL_VERSION, victim_pk, NULL);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.connects, 0);
	assert_int_equal(a.close_err, SN_E_BADSIG);
	assert_non_null(strstr(a.reason, "cannot prove node key"));
	assert_true(raw_closed(&r));
	raw_free(&r);

	/* A signature by the right key over the wrong role (a reflected AUTH) fails too:
	 * the transport's own AUTH, sent back, is over role 'R'. Covered by net__hs_verify. */
	loop_teardown(&a, NULL);
}

static void test_garbage_dropped(void **state)
{
	struct side a;
	struct raw r;
	uint16_t port;
	const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t junk[64];

	(void)state;
	loop_setup();
	port = listen_side(&a, NULL);
	raw_connect(&r, port);
	raw_send(&r, http, sizeof(http) - 1);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_VERSION);
	assert_string_equal(a.reason, "not a settled peer (bad handshake magic)");
	raw_free(&r);

	/* Garbage after a good handshake: the frame does not authenticate. */
	a.closes = 0;
	a.connects = 0;
	raw_connected(&r, &a, port);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 31 + 7);
	junk[0] = NET__FRAME_VERSION;
	junk[1] = 40, junk[2] = junk[3] = junk[4] = 0; /* a 40-byte body of junk */
	raw_send(&r, junk, sizeof(junk));
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_BADSIG);
	assert_non_null(strstr(a.reason, "failed authentication"));
	assert_true(raw_closed(&r));
	raw_free(&r);

	/* A hello with the right magic but a body length above the maximum. */
	a.closes = 0;
	{
		uint8_t h[6] = { 'S', 'E', 'T', 'L', 0xff, 0xff };

		raw_connect(&r, port);
		raw_send(&r, h, sizeof(h));
		assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
		assert_int_equal(a.close_err, SN_E_TOOBIG);
		raw_free(&r);
	}
	loop_teardown(&a, NULL);
}

static void test_oversized_frame_dropped_before_allocating(void **state)
{
	struct side a;
	struct raw r;
	struct net_opts o = { .frame_max = 64 * 1024 };
	uint16_t port;
	uint8_t hdr[NET__FRAME_HEADER_LEN];

	(void)state;
	loop_setup();
	port = listen_side(&a, &o);
	for (int k = 0; k < 2; k++) {
		uint32_t n = k == 0 ? 64 * 1024 + 1 : UINT32_MAX;

		a.closes = a.connects = 0;
		raw_connected(&r, &a, port);
		net__frame_header_encode(hdr, n);
		/* Any allocation from here on fails: a transport that allocated the body before
		 * checking would report SN_E_NOMEM. */
		sn_alloc_fail_after(1);
		raw_send(&r, hdr, sizeof(hdr));
		assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
		sn_alloc_fail_after(0);
		assert_int_equal(a.close_err, SN_E_TOOBIG);
		assert_non_null(strstr(a.reason, "above the limit of 65536"));
		raw_free(&r);
	}
	loop_teardown(&a, NULL);
}

static void test_tampered_frame_dropped(void **state)
{
	struct side a;
	struct raw r;
	uint16_t port;
	uint8_t f[NET__FRAME_LEN(8)];
	size_t n;
	/* Flip a byte of: the type, the payload, the tag, the header's version. */
	const size_t at[] = { NET__FRAME_HEADER_LEN, NET__FRAME_HEADER_LEN + 4, sizeof(f) - 1, 0 };
	const int want[] = { SN_E_BADSIG, SN_E_BADSIG, SN_E_BADSIG, SN_E_VERSION };

	(void)state;
	loop_setup();
	port = listen_side(&a, NULL);
	a.no_auto_pong = true;
	for (size_t k = 0; k < SN_ARRAY_LEN(at); k++) {
		a.closes = a.connects = 0;
		a.pings = 0;
		raw_connected(&r, &a, port);
		n = ping_frame(&r, f, 1);
		f[at[k]] ^= 0x01;
		raw_send(&r, f, n);
		assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
		assert_int_equal(a.close_err, want[k]);
		assert_int_equal(a.pings, 0);
		raw_free(&r);
	}
	loop_teardown(&a, NULL);
}

static void test_replayed_and_reordered_frames_dropped(void **state)
{
	struct side a;
	struct raw r;
	uint16_t port;
	uint8_t f1[NET__FRAME_LEN(8)], f2[NET__FRAME_LEN(8)];

	(void)state;
	loop_setup();
	port = listen_side(&a, NULL);
	a.no_auto_pong = true;

	/* Replay: the same frame twice. */
	raw_connected(&r, &a, port);
	ping_frame(&r, f1, 7);
	raw_send(&r, f1, sizeof(f1));
	while (a.pings < 1 && a.closes == 0)
		pump();
	assert_int_equal(a.pings, 1);
	raw_send(&r, f1, sizeof(f1));
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_BADSIG);
	assert_string_equal(a.reason, "frame 2 failed authentication (altered, replayed, "
	                              "reordered or not from the peer)");
	assert_int_equal(a.pings, 1);
	raw_free(&r);

	/* Reorder: the second frame first. */
	a.closes = a.connects = 0;
	a.pings = 0;
	raw_connected(&r, &a, port);
	ping_frame(&r, f1, 1);
	ping_frame(&r, f2, 2);
	raw_send(&r, f2, sizeof(f2));
	raw_send(&r, f1, sizeof(f1));
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_BADSIG);
	assert_int_equal(a.pings, 0);
	raw_free(&r);

	/* Truncation: half a frame, then the peer closes. */
	a.closes = a.connects = 0;
	raw_connected(&r, &a, port);
	ping_frame(&r, f1, 1);
	raw_send(&r, f1, sizeof(f1) / 2);
	shutdown(r.fd, SHUT_WR);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_TRUNCATED);
	assert_string_equal(a.reason, "peer closed the connection mid-frame");
	raw_free(&r);
	loop_teardown(&a, NULL);
}

static void test_bad_messages_dropped(void **state)
{
	struct side a;
	struct raw r;
	uint16_t port;
	uint8_t f[NET__FRAME_LEN(NET__AUTH_LEN)], p[NET__AUTH_LEN] = { 0 };
	size_t n;

	(void)state;
	loop_setup();
	port = listen_side(&a, NULL);
	/* An authentic frame of an unknown type. */
	raw_connected(&r, &a, port);
	n = raw_frame(&r, f, 99, p, 4);
	raw_send(&r, f, n);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_TYPE);
	assert_string_equal(a.reason, "unknown message type 99");
	raw_free(&r);
	/* A PING one byte short. */
	a.closes = a.connects = 0;
	raw_connected(&r, &a, port);
	n = raw_frame(&r, f, NET_MSG_PING, p, 7);
	raw_send(&r, f, n);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_TRUNCATED);
	assert_non_null(strstr(a.reason, "malformed PING message (7 bytes)"));
	raw_free(&r);
	/* A second AUTH after the handshake. */
	a.closes = a.connects = 0;
	raw_connected(&r, &a, port);
	n = raw_frame(&r, f, NET__AUTH_TYPE, p, NET__AUTH_LEN);
	raw_send(&r, f, n);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_int_equal(a.close_err, SN_E_TYPE);
	raw_free(&r);
	loop_teardown(&a, NULL);
}

static void test_silent_peer_times_out(void **state)
{
	struct side a, b;
	struct raw r;
	struct net_opts o = { .handshake_timeout_ms = 150 };
	uint16_t port;
	uint64_t t0;
	struct net_conn *c;

	(void)state;
	loop_setup();
	port = listen_side(&a, &o);
	/* Connects and says nothing. */
	t0 = sn_time_mono_ns();
	raw_connect(&r, port);
	assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
	assert_true(sn_time_mono_ns() - t0 >= 140 * 1000000ull);
	assert_int_equal(a.close_err, SN_E_TIMEOUT);
	assert_string_equal(a.reason, "handshake not finished within 150 ms");
	assert_true(raw_closed(&r));
	raw_free(&r);

	/* Sends its hello, never its AUTH: also dropped. */
	a.closes = 0;
	{
		struct net__hs_hello h = { 0 };
		uint8_t buf[NET__HS_HELLO_MAX], eph_sk[32];
		size_t n;

		raw_connect(&r, port);
		crypto_kx_keypair(h.eph_key, eph_sk);
		key_for(9, r.sk, h.hello.node_key);
		h.hello.chain_id = CHAIN;
		h.hello.version = NET_PROTOCOL_VERSION;
		assert_int_equal(net__hs_hello_encode(buf, sizeof(buf), &n, &h), SN_OK);
		raw_send(&r, buf, n);
		assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
		assert_int_equal(a.close_err, SN_E_TIMEOUT);
		raw_free(&r);
	}

	/* A dialler whose peer accepts TCP but never answers (a raw listener). */
	{
		int lfd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);

		assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(lfd, 4), 0);
		assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
		side_init(&b, "B", 2, CHAIN, &o);
		assert_int_equal(net_transport_dial(b.t, &c, "127.0.0.1", ntohs(sa.sin_port)), SN_OK);
		assert_true(run_once_until(closes_ge1, &b, WAIT_MS));
		assert_int_equal(b.close_err, SN_E_TIMEOUT);
		close(lfd);
	}
	loop_teardown(&a, &b);
}

static void test_slow_reader_backpressure(void **state)
{
	struct side a;
	struct raw r;
	struct net_opts o = { .sendq_max = 1u << 20, .frame_max = 128 * 1024 };
	uint16_t port;
	static uint8_t tx[NET_TX_MAX];
	struct net_conn_stats st;
	int busy = 0;
	size_t sent = 0, peak = 0;
	int rcvbuf = 64 * 1024;

	(void)state;
	loop_setup();
	port = listen_side(&a, &o);
	raw_connected(&r, &a, port);
	setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(tx, 0xab, sizeof(tx));
	/* The raw peer never reads: A sends until the queue is full, then keeps trying
	 * while the loop runs. Memory stays bounded by sendq_max. */
	for (int i = 0; i < 2000 && busy < 200; i++) {
		int rc = net_conn_send(a.conn, NET_MSG_TX, tx, sizeof(tx));

		if (rc == SN_E_BUSY) {
			busy++;
			pump();
		} else {
			assert_int_equal(rc, SN_OK);
			sent++;
		}
		net_conn_stats(a.conn, &st);
		peak = st.queued > peak ? st.queued : peak;
		assert_true(st.queued <= o.sendq_max);
	}
	assert_int_equal(busy, 200);
	assert_true(peak > o.sendq_max - NET__FRAME_LEN(sizeof(tx)));
	assert_true(sent < 200); /* kernel buffers plus 1 MiB of queue, not the 2000 asked */
	assert_int_equal(a.closes, 0);

	/* The peer reads: the queue drains and sending works again. */
	{
		uint16_t type;
		static uint8_t p[NET_TX_MAX];
		size_t len;

		for (size_t i = 0; i < sent; i++) {
			assert_true(raw_read_frame(&r, &type, p, &len));
			assert_int_equal(type, NET_MSG_TX);
			assert_int_equal(len, sizeof(tx));
		}
		net_conn_stats(a.conn, &st);
		assert_int_equal(st.queued, 0);
		assert_int_equal(net_conn_send(a.conn, NET_MSG_TX, tx, sizeof(tx)), SN_OK);
	}
	raw_free(&r);
	loop_teardown(&a, NULL);
}

static void test_misuse_and_lifecycle(void **state)
{
	struct side a, b;
	struct pair pr = { &a, &b };
	struct net_conn *c = NULL;
	struct net_transport *t;
	struct net_opts o = { 0 };
	uint8_t bad_sk[NET_NODE_SECKEY_LEN];

	(void)state;
	loop_setup();
	side_init(&a, "A", 1, CHAIN, NULL);
	side_init(&b, "B", 2, CHAIN, NULL);
	/* Options. */
	assert_int_equal(net_transport_new(&t, &loop, &o), SN_E_INVAL);
	memcpy(bad_sk, a.sk, sizeof(bad_sk));
	bad_sk[40] ^= 1; /* public half does not match the seed */
	o.node_seckey = bad_sk;
	assert_int_equal(net_transport_new(&t, &loop, &o), SN_E_BADKEY);
	assert_null(t);
	o.node_seckey = a.sk;
	o.frame_max = 100;
	assert_int_equal(net_transport_new(&t, &loop, &o), SN_E_INVAL);
	o.frame_max = 0;
	o.sendq_max = 1000;
	assert_int_equal(net_transport_new(&t, &loop, &o), SN_E_INVAL);
	o.sendq_max = 0;
	o.user_agent = "tab\there";
	assert_int_equal(net_transport_new(&t, &loop, &o), SN_E_INVAL);

	/* A dial that fails at once runs no callback. */
	assert_int_equal(net_transport_dial(b.t, &c, "not an ip", 1), SN_E_INVAL);
	assert_null(c);
	assert_int_equal(net_transport_listen(a.t, "nope", 0), SN_E_INVAL);
	/* Nobody listening: the dial is reported through on_close. */
	assert_int_equal(net_transport_dial(b.t, &c, "127.0.0.1", tu_free_port()), SN_OK);
	assert_true(run_once_until(closes_ge1, &b, WAIT_MS));
	assert_int_equal(b.close_err, SN_E_IO);
	assert_non_null(strstr(b.reason, "connect failed"));
	b.closes = 0;

	/* Listening twice, and on a used port. */
	assert_int_equal(net_transport_listen(a.t, "127.0.0.1", 0), SN_OK);
	assert_int_equal(net_transport_listen(a.t, "127.0.0.1", 0), SN_E_INVAL);
	assert_int_equal(net_transport_listen(b.t, "127.0.0.1", net_transport_port(a.t)), SN_E_EXISTS);

	/* Dialling ourselves. */
	assert_int_equal(net_transport_dial(a.t, &c, "127.0.0.1", net_transport_port(a.t)), SN_OK);
	while (a.closes < 2)
		pump();
	assert_int_equal(a.close_err, SN_E_SELF);
	assert_int_equal(a.connects, 0);
	a.closes = 0;

	/* Closing the transport closes its connections with SN_E_CANCELLED. */
	assert_int_equal(net_transport_dial(b.t, &c, "127.0.0.1", net_transport_port(a.t)), SN_OK);
	assert_true(run_once_until(both_connected, &pr, WAIT_MS));
	net_transport_close(b.t, on_transport_closed, &b);
	net_transport_close(b.t, NULL, NULL); /* second call: nothing */
	assert_int_equal(net_transport_dial(b.t, &c, "127.0.0.1", 1), SN_E_INVAL);
	assert_true(run_once_until(both_closed, &pr, WAIT_MS));
	assert_true(run_once_until(transport_closed, &b, WAIT_MS));
	assert_int_equal(b.close_err, SN_E_CANCELLED);
	assert_string_equal(b.reason, "transport closed");
	assert_int_equal(a.close_err, SN_E_IO);
	loop_teardown(&a, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_pong_tx_both_ways),
		cmocka_unit_test(test_wrong_chain_both_drop),
		cmocka_unit_test(test_wrong_version_dropped),
		cmocka_unit_test(test_unproven_key_dropped),
		cmocka_unit_test(test_garbage_dropped),
		cmocka_unit_test(test_oversized_frame_dropped_before_allocating),
		cmocka_unit_test(test_tampered_frame_dropped),
		cmocka_unit_test(test_replayed_and_reordered_frames_dropped),
		cmocka_unit_test(test_bad_messages_dropped),
		cmocka_unit_test(test_silent_peer_times_out),
		cmocka_unit_test(test_slow_reader_backpressure),
		cmocka_unit_test(test_misuse_and_lifecycle),
	};

	sn_log_set(NULL, NULL, SN_LOG_WARN);
	signal(SIGPIPE, SIG_IGN); /* libuv writes with write(2): a closed peer raises it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
