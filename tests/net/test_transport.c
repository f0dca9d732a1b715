/* tests/net/test_transport.c — the encrypted transport on a real libuv loop over 127.0.0.1.
 *
 * Two transports in one process and loop talk to each other; for the hostile cases a
 * hand-made peer ("raw peer": a plain socket driven from the test, speaking the protocol
 * through the codecs of net_int.h) connects to a transport and misbehaves; for a change in
 * flight a proxy on the same loop sits between two transports and alters bytes. The loop
 * is pumped whenever the raw peer waits, so everything runs on one thread.
 * The random splits of test_reads_split_anywhere print their seed; SN_TEST_SEED replays. */
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
	bool check_seq; /* every TX must be seq_tx(txs) */
	bool closed_transport;
};

/* The i-th message of a sequence: length 1..NET_TX_MAX, bytes from i. */
static size_t seq_tx(uint64_t i, uint8_t *out)
{
	size_t len = 1 + (size_t)((i * 7919u + i * i * 31u) % NET_TX_MAX);

	for (size_t j = 0; j < len; j++)
		out[j] = (uint8_t)(i * 31u + j * 7u);
	return len;
}

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
		if (s->check_seq) {
			static uint8_t want[NET_TX_MAX];
			size_t n = seq_tx(s->txs, want);

			assert_int_equal(len, n);
			assert_memory_equal(p, want, n);
		}
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

/* What the raw peer's hello offers (NET__CIPHER_*), and how it misbehaves about suites:
 * raw_auth_suite >= 0 seals from its AUTH on under that suite whatever was agreed;
 * raw_strip_peer derives keys as if the transport's hello had not offered AES-256-GCM
 * (what an attacker stripping it in flight would make the dialler believe). */
static uint8_t raw_offer;
static int raw_auth_suite = -1;
static bool raw_strip_peer;
static bool raw_skip_auth;  /* raw_handshake stops before sending its AUTH */

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
	uint8_t frame[NET__FRAME_LEN(NET__AUTH_LEN)], peer_view[NET__HS_HELLO_MAX];
	size_t body;

	key_for(0x77, r->sk, r->pk);
	raw_connect(r, port);
	memset(&h, 0, sizeof(h));
	crypto_kx_keypair(h.eph_key, eph_sk);
	memcpy(h.hello.node_key, claim ? claim : r->pk, NET_NODE_KEY_LEN);
	h.hello.chain_id = chain;
	h.hello.version = version;
	strcpy(h.hello.user_agent, "raw-peer");
	h.ciphers = raw_offer;
	assert_int_equal(net__hs_hello_encode(r->my_hello, sizeof(r->my_hello), &r->my_len, &h), SN_OK);
	raw_send(r, r->my_hello, r->my_len);
	assert_true(raw_recv(r, r->peer_hello, NET__HS_PREFIX_LEN));
	assert_int_equal(net__hs_prefix_decode(&body, r->peer_hello), SN_OK);
	assert_true(raw_recv(r, r->peer_hello + NET__HS_PREFIX_LEN, body));
	r->peer_len = NET__HS_PREFIX_LEN + body;
	assert_int_equal(net__hs_hello_decode(&r->peer, r->peer_hello, r->peer_len), SN_OK);
	memcpy(peer_view, r->peer_hello, r->peer_len);
	if (raw_strip_peer)
		peer_view[NET__HS_CIPHERS_OFF] &= (uint8_t)~NET__CIPHER_AES256GCM;
	assert_int_equal(net__hs_keys(&r->tx, &r->rx, r->th, true, eph_sk, r->my_hello, r->my_len,
	                              peer_view, r->peer_len),
	                 SN_OK);
	sodium_memzero(eph_sk, sizeof(eph_sk));
	if (raw_skip_auth)
		return;
	if (raw_auth_suite >= 0) {
		uint8_t key[32];

		memcpy(key, r->tx.key, sizeof(key));
		assert_int_equal(net__cipher_init(&r->tx, (enum net__suite)raw_auth_suite, key), SN_OK);
		sodium_memzero(key, sizeof(key));
	}
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
	/* Both ends run the suite the two hellos choose. */
	assert_int_equal(r->rx.suite, net__suite_choose(raw_offer, net__ciphers_supported()));
	assert_int_equal(net__conn_suite(s->conn), r->rx.suite);
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

/* Before its AUTH a peer may send one frame of one size: a header announcing anything else
 * (even within frame_max) is refused at once, before any of it is buffered. */
static void test_preauth_frame_must_be_auth_sized(void **state)
{
	struct side a;
	struct raw r;
	uint16_t port;
	uint8_t hdr[NET__FRAME_HEADER_LEN], p[NET__AUTH_LEN];
	uint16_t type;
	size_t len;
	const uint32_t sizes[] = { 1u << 20, NET__TYPE_LEN + NET__AUTH_LEN + NET__TAG_LEN - 1 };
	const int want[] = { SN_E_TOOBIG, SN_E_TRUNCATED };

	(void)state;
	loop_setup();
	port = listen_side(&a, NULL); /* frame_max: the 4 MiB default */
	raw_skip_auth = true;
	for (size_t k = 0; k < SN_ARRAY_LEN(sizes); k++) {
		a.closes = a.connects = 0;
		raw_handshake(&r, port, CHAIN, NET_PROTOCOL_VERSION, NULL, NULL);
		/* its AUTH: it has our hello and waits for our AUTH */
		assert_true(raw_read_frame(&r, &type, p, &len));
		assert_int_equal(type, NET__AUTH_TYPE);
		net__frame_header_encode(hdr, sizes[k]);
		sn_alloc_fail_after(1); /* a transport that buffered it first would fail with no_memory */
		raw_send(&r, hdr, sizeof(hdr));
		assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
		sn_alloc_fail_after(0);
		assert_int_equal(a.close_err, want[k]);
		assert_int_equal(a.connects, 0);
		assert_non_null(strstr(a.reason, k == 0 ? "(the handshake AUTH)" : "bad frame header"));
		raw_free(&r);
	}
	raw_skip_auth = false;
	loop_teardown(&a, NULL);
}

static void tampered_frame_dropped_under_offer(void)
{
	struct side a;
	struct raw r;
	uint16_t port;
	uint8_t f[NET__FRAME_LEN(8)];
	size_t n;
	/* Flip a byte of: the type, the payload, the tag, the header's version. */
	const size_t at[] = { NET__FRAME_HEADER_LEN, NET__FRAME_HEADER_LEN + 4, sizeof(f) - 1, 0 };
	const int want[] = { SN_E_BADSIG, SN_E_BADSIG, SN_E_BADSIG, SN_E_VERSION };

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

/* Under each suite: the raw peer offers nothing (ChaCha20-Poly1305), then AES-256-GCM. */
static void test_tampered_frame_dropped(void **state)
{
	(void)state;
	raw_offer = 0;
	tampered_frame_dropped_under_offer();
	raw_offer = NET__CIPHER_AES256GCM;
	tampered_frame_dropped_under_offer();
	raw_offer = 0;
}

static void replayed_and_reordered_frames_dropped_under_offer(void)
{
	struct side a;
	struct raw r;
	uint16_t port;
	uint8_t f1[NET__FRAME_LEN(8)], f2[NET__FRAME_LEN(8)];

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

/* Under each suite: the raw peer offers nothing (ChaCha20-Poly1305), then AES-256-GCM. */
static void test_replayed_and_reordered_frames_dropped(void **state)
{
	(void)state;
	raw_offer = 0;
	replayed_and_reordered_frames_dropped_under_offer();
	raw_offer = NET__CIPHER_AES256GCM;
	replayed_and_reordered_frames_dropped_under_offer();
	raw_offer = 0;
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

/* -------------------------------------------------------- cipher suites */

static void connect_pair(struct side *a, struct side *b, uint8_t a_ciphers, uint8_t b_ciphers)
{
	struct pair pr = { a, b };
	struct net_conn *c;

	side_init(a, "A", 1, CHAIN, NULL);
	side_init(b, "B", 2, CHAIN, NULL);
	net__transport_set_ciphers(a->t, a_ciphers);
	net__transport_set_ciphers(b->t, b_ciphers);
	assert_int_equal(net_transport_listen(a->t, "127.0.0.1", 0), SN_OK);
	assert_int_equal(net_transport_dial(b->t, &c, "127.0.0.1", net_transport_port(a->t)), SN_OK);
	assert_true(run_once_until(both_connected, &pr, WAIT_MS));
}

/* Messages both ways, each checked byte for byte. */
static void exchange_txs(struct side *a, struct side *b)
{
	static uint8_t tx[NET_TX_MAX];
	const size_t lens[] = { 1, 300, NET_TX_MAX };

	for (size_t i = 0; i < SN_ARRAY_LEN(lens); i++) {
		uint64_t at = a->txs, bt = b->txs;

		for (size_t j = 0; j < lens[i]; j++)
			tx[j] = (uint8_t)(i + j * 3);
		assert_int_equal(net_conn_send(a->conn, NET_MSG_TX, tx, lens[i]), SN_OK);
		assert_int_equal(net_conn_send(b->conn, NET_MSG_TX, tx, lens[i]), SN_OK);
		while (a->txs == at || b->txs == bt)
			pump();
		assert_int_equal(a->last_tx_len, lens[i]);
		assert_int_equal(b->last_tx_len, lens[i]);
		assert_memory_equal(a->last_tx, tx, lens[i]);
		assert_memory_equal(b->last_tx, tx, lens[i]);
	}
}

static void test_suites_negotiated(void **state)
{
	const uint8_t aes = NET__CIPHER_AES256GCM;
	/* listener's offer, dialler's offer */
	const uint8_t cases[][2] = { { aes, aes }, { aes, 0 }, { 0, aes }, { 0, 0 } };

	(void)state;
	for (size_t k = 0; k < SN_ARRAY_LEN(cases); k++) {
		struct side a, b;
		enum net__suite want;

		loop_setup();
		connect_pair(&a, &b, cases[k][0], cases[k][1]);
		/* AES-256-GCM only when both offer it (and the CPU runs it). */
		want = cases[k][0] && cases[k][1] && crypto_aead_aes256gcm_is_available()
		               ? NET__SUITE_AES256GCM
		               : NET__SUITE_CHACHA20POLY1305;
		assert_int_equal(net__conn_suite(a.conn), want);
		assert_int_equal(net__conn_suite(b.conn), want);
		exchange_txs(&a, &b);
		loop_teardown(&a, &b);
	}
	/* By default a transport offers what the CPU runs. */
	{
		struct side a, b;
		struct pair pr = { &a, &b };
		struct net_conn *c;

		loop_setup();
		side_init(&a, "A", 1, CHAIN, NULL);
		side_init(&b, "B", 2, CHAIN, NULL);
		assert_int_equal(net_transport_listen(a.t, "127.0.0.1", 0), SN_OK);
		assert_int_equal(net_transport_dial(b.t, &c, "127.0.0.1", net_transport_port(a.t)),
		                 SN_OK);
		assert_true(run_once_until(both_connected, &pr, WAIT_MS));
		assert_int_equal(net__conn_suite(a.conn), crypto_aead_aes256gcm_is_available()
		                                                  ? NET__SUITE_AES256GCM
		                                                  : NET__SUITE_CHACHA20POLY1305);
		loop_teardown(&a, &b);
	}
}

/* A peer that seals under another suite than the hellos chose, or derives its keys from a
 * hello it did not receive as sent, fails at its AUTH. */
static void test_suite_mismatch_refused(void **state)
{
	struct side a;
	struct raw r;
	uint16_t port;
	struct {
		uint8_t offer;
		int auth_suite;
		bool strip;
	} cases[] = {
		/* AES-256-GCM agreed, AUTH sealed with ChaCha20-Poly1305. */
		{ NET__CIPHER_AES256GCM, NET__SUITE_CHACHA20POLY1305, false },
		/* ChaCha20-Poly1305 agreed, AUTH sealed with AES-256-GCM. */
		{ 0, NET__SUITE_AES256GCM, false },
		/* The dialler saw the transport's hello without its AES offer (stripped). */
		{ NET__CIPHER_AES256GCM, -1, true },
	};

	(void)state;
	if (!crypto_aead_aes256gcm_is_available())
		skip();
	loop_setup();
	port = listen_side(&a, NULL);
	for (size_t k = 0; k < SN_ARRAY_LEN(cases); k++) {
		a.closes = a.connects = 0;
		raw_offer = cases[k].offer;
		raw_auth_suite = cases[k].auth_suite;
		raw_strip_peer = cases[k].strip;
		raw_handshake(&r, port, CHAIN, NET_PROTOCOL_VERSION, NULL, NULL);
		assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
		assert_int_equal(a.connects, 0);
		assert_int_equal(a.close_err, SN_E_BADSIG);
		assert_string_equal(a.reason, "frame 0 failed authentication (altered, replayed, "
		                              "reordered or not from the peer)");
		assert_true(raw_closed(&r));
		raw_free(&r);
	}
	raw_offer = 0;
	raw_auth_suite = -1;
	raw_strip_peer = false;
	loop_teardown(&a, NULL);
}

/* A proxy on the loop between a dialler (down) and a listener (up) that forwards bytes
 * and can flip bits of the ciphers byte of the hello going either way. */
struct proxy {
	uv_tcp_t listener, down, up;
	uv_connect_t creq;
	struct sockaddr_in target;
	uint16_t port;
	uint8_t flip_to_up, flip_to_down; /* XORed into the ciphers byte of that hello */
	size_t off_to_up, off_to_down;    /* bytes forwarded each way */
	bool accepted, closed;
	uint8_t buf_down[65536], buf_up[65536];
};

struct proxy_write {
	uv_write_t req;
	uint8_t data[];
};

static void proxy_write_done(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
}

static void proxy_close(struct proxy *px)
{
	if (px->closed || !px->accepted)
		return;
	px->closed = true;
	uv_close((uv_handle_t *)&px->down, NULL);
	uv_close((uv_handle_t *)&px->up, NULL);
}

static void proxy_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	struct proxy *px = h->data;

	(void)sz;
	if (h == (uv_handle_t *)&px->down)
		*b = uv_buf_init((char *)px->buf_down, sizeof(px->buf_down));
	else
		*b = uv_buf_init((char *)px->buf_up, sizeof(px->buf_up));
}

static void proxy_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct proxy *px = s->data;
	bool from_down = s == (uv_stream_t *)&px->down;
	size_t *off = from_down ? &px->off_to_up : &px->off_to_down;
	uint8_t flip = from_down ? px->flip_to_up : px->flip_to_down;
	struct proxy_write *w;
	uv_buf_t out;

	if (n < 0) {
		proxy_close(px);
		return;
	}
	if (n == 0 || px->closed)
		return;
	w = malloc(sizeof(*w) + (size_t)n);
	assert_non_null(w);
	memcpy(w->data, b->base, (size_t)n);
	if (*off <= NET__HS_CIPHERS_OFF && NET__HS_CIPHERS_OFF < *off + (size_t)n)
		w->data[NET__HS_CIPHERS_OFF - *off] ^= flip;
	*off += (size_t)n;
	w->req.data = w;
	out = uv_buf_init((char *)w->data, (unsigned int)n);
	assert_int_equal(uv_write(&w->req, from_down ? (uv_stream_t *)&px->up : (uv_stream_t *)&px->down,
	                          &out, 1, proxy_write_done),
	                 0);
}

static void proxy_connected(uv_connect_t *req, int status)
{
	struct proxy *px = req->data;

	if (status != 0 || px->closed) {
		proxy_close(px);
		return;
	}
	uv_read_start((uv_stream_t *)&px->down, proxy_alloc, proxy_read);
	uv_read_start((uv_stream_t *)&px->up, proxy_alloc, proxy_read);
}

static void proxy_accept(uv_stream_t *server, int status)
{
	struct proxy *px = server->data;

	assert_int_equal(status, 0);
	assert_false(px->accepted); /* one connection */
	uv_tcp_init(&loop, &px->down);
	uv_tcp_init(&loop, &px->up);
	px->down.data = px->up.data = px->creq.data = px;
	px->accepted = true;
	assert_int_equal(uv_accept(server, (uv_stream_t *)&px->down), 0);
	assert_int_equal(uv_tcp_connect(&px->creq, &px->up, (struct sockaddr *)&px->target,
	                                proxy_connected),
	                 0);
}

static void proxy_start(struct proxy *px, uint16_t target)
{
	struct sockaddr_in a;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(px, 0, sizeof(*px));
	uv_ip4_addr("127.0.0.1", target, &px->target);
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_init(&loop, &px->listener);
	px->listener.data = px;
	assert_int_equal(uv_tcp_bind(&px->listener, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&px->listener, 4, proxy_accept), 0);
	uv_tcp_getsockname(&px->listener, (struct sockaddr *)&ss, &len);
	px->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void proxy_stop(struct proxy *px)
{
	proxy_close(px);
	uv_close((uv_handle_t *)&px->listener, NULL);
}

/* The real thing: two transports that both offer AES-256-GCM, and an attacker in the
 * middle who strips the offer from one hello, or both. The transcripts differ, so
 * neither side authenticates the other: no connection, whatever suite each picked. */
static void test_downgrade_in_flight_refused(void **state)
{
	const uint8_t aes = NET__CIPHER_AES256GCM;
	/* flip the hello to the listener, flip the hello to the dialler */
	const uint8_t cases[][2] = { { 0, 0 }, { aes, 0 }, { 0, aes }, { aes, aes } };

	(void)state;
	for (size_t k = 0; k < SN_ARRAY_LEN(cases); k++) {
		struct side a, b;
		struct pair pr = { &a, &b };
		struct proxy *px = calloc(1, sizeof(*px));
		struct net_conn *c;

		assert_non_null(px);
		loop_setup();
		side_init(&a, "A", 1, CHAIN, NULL);
		side_init(&b, "B", 2, CHAIN, NULL);
		assert_int_equal(net_transport_listen(a.t, "127.0.0.1", 0), SN_OK);
		proxy_start(px, net_transport_port(a.t));
		px->flip_to_up = cases[k][0];
		px->flip_to_down = cases[k][1];
		assert_int_equal(net_transport_dial(b.t, &c, "127.0.0.1", px->port), SN_OK);
		if (k == 0) {
			/* Control: the proxy alone changes nothing. */
			assert_true(run_once_until(both_connected, &pr, WAIT_MS));
			assert_int_equal(net__conn_suite(a.conn), net__suite_choose(net__ciphers_supported(),
			                                                            net__ciphers_supported()));
			exchange_txs(&a, &b);
		} else {
			assert_true(run_once_until(both_closed, &pr, WAIT_MS));
			assert_int_equal(a.connects + b.connects, 0);
			/* A side refuses the other's AUTH; the other may hear the close first. */
			assert_true(a.close_err == SN_E_BADSIG || b.close_err == SN_E_BADSIG);
			assert_true(a.close_err == SN_E_BADSIG || a.close_err == SN_E_TRUNCATED ||
			            a.close_err == SN_E_IO);
			assert_true(b.close_err == SN_E_BADSIG || b.close_err == SN_E_TRUNCATED ||
			            b.close_err == SN_E_IO);
		}
		proxy_stop(px);
		loop_teardown(&a, &b);
		free(px);
	}
}

/* ------------------------------------------------------------ data path */

/* Frames cut at random places, sent piece by piece (the reader keeps partial headers and
 * bodies across reads), then a frame larger than the receive buffer (it grows for it and
 * shrinks back). */
static void test_reads_split_anywhere(void **state)
{
	struct side a;
	struct raw r;
	struct net_opts o = { .frame_max = 1u << 20 };
	uint16_t port;
	static uint8_t stream[8u << 20], tx[NET_TX_MAX];
	size_t len = 0, off = 0, n_tx = 0;
	uint64_t seed = sn_time_mono_ns();
	const char *e = getenv("SN_TEST_SEED");

	(void)state;
	if (e)
		seed = strtoull(e, NULL, 0);
	printf("test_reads_split_anywhere: SN_TEST_SEED=%llu\n", (unsigned long long)seed);
	loop_setup();
	port = listen_side(&a, &o);
	a.check_seq = true;
	for (int offer = 0; offer < 2; offer++) {
		a.closes = a.connects = 0;
		a.txs = 0;
		len = off = n_tx = 0;
		raw_offer = offer ? NET__CIPHER_AES256GCM : 0;
		raw_connected(&r, &a, port);
		while (len + NET__FRAME_LEN(NET_TX_MAX) <= sizeof(stream) && n_tx < 200) {
			size_t n = seq_tx(n_tx++, tx);

			len += raw_frame(&r, stream + len, NET_MSG_TX, tx, n);
		}
		while (off < len) {
			size_t k;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			/* 1 byte to 256 KiB, mostly small */
			k = (size_t)(seed >> 33) % ((seed >> 20) % 3 == 0 ? 262144 : 97) + 1;
			k = k < len - off ? k : len - off;
			raw_send(&r, stream + off, k);
			off += k;
		}
		while (a.txs < n_tx && a.closes == 0)
			pump();
		assert_int_equal(a.closes, 0);
		assert_int_equal(a.txs, n_tx);

		/* An authentic frame of 1 MiB (larger than the 256 KiB receive buffer): opened,
		 * then refused as a message (a TX is at most 64 KiB). */
		{
			size_t big = (1u << 20) - NET__FRAME_BODY_MIN;

			memset(stream, 0x33, big);
			n_tx = raw_frame(&r, stream + big, NET_MSG_TX, stream, big);
			raw_send(&r, stream + big, n_tx);
			assert_true(run_once_until(closes_ge1, &a, WAIT_MS));
			assert_int_equal(a.close_err, SN_E_TOOBIG);
			assert_non_null(strstr(a.reason, "malformed TX message (1048558 bytes)"));
		}
		raw_free(&r);
	}
	raw_offer = 0;
	loop_teardown(&a, NULL);
}

/* Many messages of every size queued at once (they go out batched): all arrive, in order,
 * intact; the queue drains to 0. */
static void test_many_messages_in_order(void **state)
{
	struct side a, b;
	static uint8_t tx[NET_TX_MAX];
	struct net_conn_stats st;
	const uint64_t total = 600;
	uint64_t sent = 0;
	int busy = 0;

	(void)state;
	loop_setup();
	connect_pair(&a, &b, net__ciphers_supported(), net__ciphers_supported());
	b.check_seq = true;
	while (sent < total) {
		size_t n = seq_tx(sent, tx);
		int rc = net_conn_send(a.conn, NET_MSG_TX, tx, n);

		if (rc == SN_E_BUSY) {
			busy++;
			pump();
			continue;
		}
		assert_int_equal(rc, SN_OK);
		sent++;
		if (sent % 50 == 0)
			pump();
	}
	while (b.txs < total && b.closes == 0)
		pump();
	assert_int_equal(b.txs, total);
	do {
		pump();
		net_conn_stats(a.conn, &st);
	} while (st.queued);
	assert_int_equal(st.msgs_out, total);
	net_conn_stats(b.conn, &st);
	assert_int_equal(st.msgs_in, total);
	loop_teardown(&a, &b);
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
		cmocka_unit_test(test_preauth_frame_must_be_auth_sized),
		cmocka_unit_test(test_tampered_frame_dropped),
		cmocka_unit_test(test_replayed_and_reordered_frames_dropped),
		cmocka_unit_test(test_bad_messages_dropped),
		cmocka_unit_test(test_silent_peer_times_out),
		cmocka_unit_test(test_slow_reader_backpressure),
		cmocka_unit_test(test_misuse_and_lifecycle),
		cmocka_unit_test(test_suites_negotiated),
		cmocka_unit_test(test_suite_mismatch_refused),
		cmocka_unit_test(test_downgrade_in_flight_refused),
		cmocka_unit_test(test_reads_split_anywhere),
		cmocka_unit_test(test_many_messages_in_order),
	};

	sn_log_set(NULL, NULL, SN_LOG_WARN);
	signal(SIGPIPE, SIG_IGN); /* libuv writes with write(2): a closed peer raises it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
