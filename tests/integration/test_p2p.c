/* tests/integration/test_p2p.c — real settled processes on 127.0.0.1 forming a peer network.
 *
 * A network of 6 nodes sharing one genesis (only the first is its validator) connects from
 * one seed, learns the rest through peer exchange, and a transaction submitted to any node
 * reaches every mempool (or the validator's chain). Then hostile peers, each a test, written
 * here with the net/ codecs (each from its own 127.0.0.x source address, so one's score does
 * not ban the next): wrong chain id, a key it cannot prove, garbage bytes, an oversized frame,
 * a flood of invalid transactions (banned; the ban survives a restart), a peer that never
 * reads. Each is dropped and scored down while the node keeps its honest peer and serves RPC.
 * Last, 40 hostile peers at once; the node's peak RSS (VmHWM) is printed. */
#include "testutil.h"

#include "net/net_int.h"
#include "storage/storage.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES 6
#define WAIT_S 30

static char *dir;
static struct tu_pnode nodes[NODES];
static uint8_t root_sk[32], root_pk[32];
static uint32_t chain_id;

/* The result of an RPC call (asserts it has one). */
static json_t *rpc(const struct tu_pnode *n, const char *method, const char *params)
{
	static char req[4 * STORE_TX_MAX + 1024];
	char *body;
	json_t *j, *r;
	int len = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}",
	                 method, params ? params : "[]");

	assert_true(len > 0 && (size_t)len < sizeof(req));
	assert_int_equal(tu_rpc(n->rpc, n->home, req, &body), 200);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	r = json_object_get(j, "result");
	if (!r)
		fail_msg("%s on port %u: %s", method, n->rpc, body);
	json_incref(r);
	json_decref(j);
	free(body);
	return r;
}

/* The RPC error name, or NULL with *res set. */
static const char *rpc_try(const struct tu_pnode *n, const char *method, const char *params, json_t **res,
                           char *errname, size_t cap)
{
	char req[2048], *body;
	json_t *j, *e;

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
	assert_int_equal(tu_rpc(n->rpc, n->home, req, &body), 200);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	free(body);
	*res = NULL;
	e = json_object_get(j, "error");
	if (e) {
		const char *s = json_string_value(json_object_get(json_object_get(e, "data"), "error"));

		snprintf(errname, cap, "%s", s ? s : "error");
		json_decref(j);
		return errname;
	}
	*res = json_incref(json_object_get(j, "result"));
	json_decref(j);
	return NULL;
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* A signed REGISTER of a fresh account by the root, as hex; its id in id_hex. */
static void root_register(char *hex, char id_hex[65], uint64_t nonce, uint64_t account)
{
	struct store_tx tx = { .version = STORE_TX_V1, .type = STORE_TX_REGISTER, .chain_id = chain_id,
		               .nonce = nonce, .fee = 1, .amount = 5 };
	uint8_t raw[STORE_TX_MAX], id[32], sk[32];
	size_t len;

	memcpy(tx.signer, root_pk, 32);
	tu_key(1000 + account, sk, tx.to);
	assert_int_equal(store_tx_sign(&tx, root_sk), SN_OK);
	assert_int_equal(store_tx_encode(raw, sizeof(raw), &len, &tx), SN_OK);
	sn_hex_encode(hex, raw, len);
	store_tx_id(id, raw, len);
	sn_hex_encode(id_hex, id, 32);
}

static size_t peer_count(const struct tu_pnode *n)
{
	json_t *r = rpc(n, "net_info", NULL);
	size_t k = json_array_size(json_object_get(r, "peers"));

	json_decref(r);
	return k;
}

/* ------------------------------------------------------------ the network */

static int net_setup(void **state)
{
	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	dir = tu_tmpdir("sn-p2p");
	tu_pnode_init(&nodes[0], dir, "n0", NULL);
	for (int i = 1; i < NODES; i++) {
		char name[8];

		snprintf(name, sizeof(name), "n%d", i);
		tu_pnode_init(&nodes[i], dir, name, &nodes[0]);
	}
	tu_pnode_root_key(&nodes[0], root_sk, root_pk);
	tu_pnode_run(&nodes[0], 0, NULL);
	for (int i = 1; i < NODES; i++)
		tu_pnode_run(&nodes[i], nodes[0].p2p, NULL);
	{
		json_t *st = rpc(&nodes[0], "status", NULL);

		chain_id = (uint32_t)jint(st, "chain_id");
		json_decref(st);
	}
	return 0;
}

static int net_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NODES; i++)
		if (nodes[i].pid > 0)
			assert_int_equal(tu_node_stop(nodes[i].pid, SIGTERM), 0);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static void test_mesh_from_one_seed(void **state)
{
	int s;

	(void)state;
	for (s = 0; s < WAIT_S * 10; s++) {
		int full = 0;

		for (int i = 0; i < NODES; i++)
			full += peer_count(&nodes[i]) == NODES - 1;
		if (full == NODES)
			break;
		tu_sleep_ms(100);
	}
	if (s == WAIT_S * 10)
		fail_msg("no full mesh of %d nodes in %d s", NODES, WAIT_S);
	/* Each peer of each node is proven, with bytes both ways and a full score. */
	for (int i = 0; i < NODES; i++) {
		json_t *r = rpc(&nodes[i], "net_info", NULL), *p;
		size_t k;

		assert_true(json_is_true(json_object_get(r, "enabled")));
		assert_int_equal(jint(r, "listen_port"), nodes[i].p2p);
		json_array_foreach(json_object_get(r, "peers"), k, p) {
			assert_int_equal(jint(p, "score"), NET_SCORE_START);
			assert_true(jint(p, "bytes_in") > 0 && jint(p, "bytes_out") > 0);
			assert_int_equal(strlen(json_string_value(json_object_get(p, "node_key"))), 64);
		}
		json_decref(r);
	}
}

static void test_only_the_validator_produces(void **state)
{
	json_t *st;

	(void)state;
	tu_sleep_ms(1000); /* several block intervals */
	st = rpc(&nodes[0], "status", NULL);
	assert_true(json_is_true(json_object_get(st, "validator")));
	assert_true(jint(st, "height") >= 1);
	json_decref(st);
	for (int i = 1; i < NODES; i++) {
		st = rpc(&nodes[i], "status", NULL);
		assert_false(json_is_true(json_object_get(st, "validator")));
		assert_int_equal(jint(st, "height"), 0);
		assert_int_equal(jint(st, "chain_id"), chain_id);
		json_decref(st);
	}
}

/* pending or committed on node n. */
static bool tx_known(const struct tu_pnode *n, const char *id_hex)
{
	char params[200], err[64];
	json_t *res;

	snprintf(params, sizeof(params), "[\"%s\"]", id_hex);
	if (rpc_try(n, "get_tx", params, &res, err, sizeof(err)))
		return false;
	json_decref(res);
	return true;
}

static void test_tx_reaches_every_node(void **state)
{
	char hex[2 * STORE_TX_MAX + 1], id[2][65], params[2 * STORE_TX_MAX + 16];
	int from[2] = { NODES - 1, 2 };

	(void)state;
	/* Two transactions of the root (nonces 0 and 1), each submitted to a different
	 * non-validator once the one before has reached every node. (Out of order, nonce 1 would
	 * wait for nonce 0 on the nodes it reaches first: test_gossip_ahead_of_nonce_waits.) */
	for (int t = 0; t < 2; t++) {
		json_t *r;

		root_register(hex, id[t], (uint64_t)t, (uint64_t)t);
		snprintf(params, sizeof(params), "[\"%s\"]", hex);
		r = rpc(&nodes[from[t]], "submit_tx", params);
		assert_string_equal(json_string_value(json_object_get(r, "id")), id[t]);
		json_decref(r);
		for (int i = 0; i < NODES; i++) {
			int s;

			for (s = 0; s < 200 && !tx_known(&nodes[i], id[t]); s++)
				tu_sleep_ms(50);
			if (s == 200)
				fail_msg("tx %d (submitted to n%d) never reached n%d", t, from[t], i);
		}
	}
	/* Non-validators hold both pending, in order; the validator commits them. */
	for (int i = 1; i < NODES; i++) {
		json_t *m = rpc(&nodes[i], "list_mempool", NULL);

		assert_int_equal(jint(m, "count"), 2);
		json_decref(m);
	}
	/* Each node admitted each gossiped transaction once: its relays counted no more. */
	for (int i = 0; i < NODES; i++) {
		json_t *r = rpc(&nodes[i], "net_info", NULL), *tx = json_object_get(r, "txs");

		assert_int_equal(jint(tx, "invalid"), 0);
		assert_true(jint(tx, "relayed") <= 2 * (NODES - 1));
		json_decref(r);
	}
}

/* ------------------------------------------------------------ hostile peers */

struct raw {
	int fd;
	uint8_t sk[NET_NODE_SECKEY_LEN], pk[NET_NODE_KEY_LEN];
	struct net__cipher tx, rx;
	uint8_t th[SN_HASH_LEN];
	uint8_t my_hello[NET__HS_HELLO_MAX], peer_hello[NET__HS_HELLO_MAX];
	size_t my_len, peer_len;
	struct net__hs_hello peer;
};

static void raw_key(struct raw *r, uint8_t seed)
{
	uint8_t s[32];

	memset(s, seed, sizeof(s));
	crypto_sign_seed_keypair(r->pk, r->sk, s);
}

/* Connects from src (a 127.0.0.x address) to the node's p2p port. */
static void raw_connect(struct raw *r, const char *src, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) }, b = { .sin_family = AF_INET };
	struct timeval tv = { 5, 0 };

	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	inet_pton(AF_INET, src, &b.sin_addr);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&b, sizeof(b)), 0);
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static bool raw_send(struct raw *r, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = send(r->fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static bool raw_recv(struct raw *r, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = recv(r->fd, p, n, 0);

		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* The node dropped us: EOF or reset within 10 s (bytes before that are discarded). */
static bool raw_dropped(struct raw *r)
{
	uint8_t b[4096];

	for (int i = 0; i < 2; i++) {
		for (;;) {
			ssize_t k = recv(r->fd, b, sizeof(b), 0);

			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
				return true;
			if (k < 0)
				break; /* 5 s without anything */
		}
	}
	return false;
}

static void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* Sends our hello (claiming claim, or our key) and reads the node's; false if the node
 * closed first (refused us). */
static bool raw_hello(struct raw *r, uint32_t chain, const uint8_t *claim, uint8_t eph_sk[32])
{
	struct net__hs_hello h;
	size_t body;

	memset(&h, 0, sizeof(h));
	crypto_kx_keypair(h.eph_key, eph_sk);
	memcpy(h.hello.node_key, claim ? claim : r->pk, NET_NODE_KEY_LEN);
	h.hello.chain_id = chain;
	h.hello.version = NET_PROTOCOL_VERSION;
	strcpy(h.hello.user_agent, "hostile");
	assert_int_equal(net__hs_hello_encode(r->my_hello, sizeof(r->my_hello), &r->my_len, &h), SN_OK);
	if (!raw_send(r, r->my_hello, r->my_len) || !raw_recv(r, r->peer_hello, NET__HS_PREFIX_LEN))
		return false;
	assert_int_equal(net__hs_prefix_decode(&body, r->peer_hello), SN_OK);
	if (!raw_recv(r, r->peer_hello + NET__HS_PREFIX_LEN, body))
		return false;
	r->peer_len = NET__HS_PREFIX_LEN + body;
	assert_int_equal(net__hs_hello_decode(&r->peer, r->peer_hello, r->peer_len), SN_OK);
	return true;
}

/* A full handshake as the dialler, signing with signing_sk (NULL: our own key); false if
 * the node refused us before it. */
static bool raw_try_handshake(struct raw *r, const uint8_t *signing_sk, bool read_auth)
{
	uint8_t eph_sk[32], sig[NET__SIG_LEN], auth[NET__AUTH_LEN], frame[NET__FRAME_LEN(NET__AUTH_LEN)];

	if (!raw_hello(r, chain_id, NULL, eph_sk))
		return false;
	assert_int_equal(net__hs_keys(&r->tx, &r->rx, r->th, true, eph_sk, r->my_hello, r->my_len, r->peer_hello,
	                              r->peer_len),
	                 SN_OK);
	net__hs_sign(sig, r->th, true, signing_sk ? signing_sk : r->sk);
	net__hs_auth_encode(auth, sig);
	net__frame_seal(frame, &r->tx, NET__AUTH_TYPE, auth, sizeof(auth));
	if (!raw_send(r, frame, sizeof(frame)))
		return false;
	if (read_auth) {
		uint8_t hdr[NET__FRAME_HEADER_LEN], body[256];
		uint32_t n;
		uint16_t type;
		const uint8_t *p;
		size_t len;

		assert_true(raw_recv(r, hdr, sizeof(hdr)));
		assert_int_equal(net__frame_header_decode(&n, hdr, sizeof(body)), SN_OK);
		assert_true(raw_recv(r, body, n));
		assert_int_equal(net__frame_open(&r->rx, hdr, body, n, &type, &p, &len), SN_OK);
		assert_int_equal(type, NET__AUTH_TYPE);
	}
	return true;
}

static void raw_handshake(struct raw *r, const uint8_t *signing_sk, bool read_auth)
{
	assert_true(raw_try_handshake(r, signing_sk, read_auth));
}

static void raw_send_msg(struct raw *r, uint16_t type, const void *p, size_t len)
{
	uint8_t *f = malloc(NET__FRAME_LEN(len));

	assert_non_null(f);
	net__frame_seal(f, &r->tx, type, p, len);
	(void)raw_send(r, f, NET__FRAME_LEN(len));
	free(f);
}

/* The newest drop on node n from source address src: its score, error name and banned flag. */
/* Gossiped transactions n holds back for a nonce gap (net_info txs.waiting). */
static json_int_t waiting(const struct tu_pnode *n)
{
	json_t *r = rpc(n, "net_info", NULL);
	json_int_t w = jint(json_object_get(r, "txs"), "waiting");

	json_decref(r);
	return w;
}

/* The root's nonce 3, gossiped to n1 by a peer of ours before its nonce 2 exists anywhere,
 * waits there instead of being lost (refused as not the next nonce and then, having been
 * seen, ignored in every later copy); once nonce 2 is admitted, nonce 3 is too, and both
 * reach every node. */
static void test_gossip_ahead_of_nonce_waits(void **state)
{
	char hex[2 * STORE_TX_MAX + 1], id2[65], id3[65], params[2 * STORE_TX_MAX + 16];
	uint8_t raw3[STORE_TX_MAX];
	size_t len3;
	struct raw r;
	json_t *res;
	int s;

	(void)state;
	root_register(hex, id3, 3, 3); /* test_tx_reaches_every_node used nonces 0 and 1 */
	len3 = strlen(hex) / 2;
	assert_int_equal(sn_hex_decode(raw3, len3, hex), SN_OK);
	raw_key(&r, 0x66);
	raw_connect(&r, "127.0.0.90", nodes[1].p2p);
	raw_handshake(&r, NULL, true);
	raw_send_msg(&r, NET_MSG_TX, raw3, len3);
	for (s = 0; s < 100 && waiting(&nodes[1]) != 1; s++)
		tu_sleep_ms(50);
	assert_int_equal(waiting(&nodes[1]), 1);
	assert_false(tx_known(&nodes[1], id3));
	{ /* an operator sees it too */
		char rpcaddr[64], out[8192], err[1024];

		snprintf(rpcaddr, sizeof(rpcaddr), "127.0.0.1:%u", nodes[1].rpc);
		assert_int_equal(tu_settle(rpcaddr, nodes[1].home, dir, out, sizeof(out), err, sizeof(err), "peers", NULL),
		                 0);
		assert_non_null(strstr(out, "over budget, 1 waiting"));
	}

	root_register(hex, id2, 2, 2);
	snprintf(params, sizeof(params), "[\"%s\"]", hex);
	res = rpc(&nodes[1], "submit_tx", params);
	json_decref(res);
	for (int i = 0; i < NODES; i++)
		for (int t = 0; t < 2; t++) {
			const char *id = t ? id3 : id2;

			for (s = 0; s < 200 && !tx_known(&nodes[i], id); s++)
				tu_sleep_ms(50);
			if (s == 200)
				fail_msg("nonce %d never reached n%d", 2 + t, i);
		}
	assert_int_equal(waiting(&nodes[1]), 0);
	raw_close(&r);
}

static bool find_drop(const struct tu_pnode *n, const char *src, int *score, char *err, size_t cap, bool *banned)
{
	json_t *r = rpc(n, "net_info", NULL), *d;
	size_t i;
	bool found = false;
	char prefix[40];

	snprintf(prefix, sizeof(prefix), "%s:", src);
	json_array_foreach(json_object_get(r, "recent_drops"), i, d) {
		if (strncmp(json_string_value(json_object_get(d, "address")), prefix, strlen(prefix)) != 0)
			continue;
		*score = (int)jint(d, "score");
		snprintf(err, cap, "%s", json_string_value(json_object_get(d, "error")));
		if (banned)
			*banned = json_is_true(json_object_get(d, "banned"));
		found = true;
		break;
	}
	json_decref(r);
	return found;
}

/* Peers of n that are settled nodes (not our hostile ones). */
static size_t honest_peers(const struct tu_pnode *n)
{
	json_t *r = rpc(n, "net_info", NULL), *p;
	size_t i, k = 0;

	json_array_foreach(json_object_get(r, "peers"), i, p)
		k += strncmp(json_string_value(json_object_get(p, "user_agent")), "settled/", 8) == 0;
	json_decref(r);
	return k;
}

/* The victim keeps serving: RPC answers and its honest peers are still connected. */
static void assert_serving(void)
{
	json_t *st = rpc(&nodes[0], "status", NULL);

	json_decref(st);
	assert_int_equal(honest_peers(&nodes[0]), NODES - 1);
}

static void expect_drop(const char *src, const char *errname, int max_score)
{
	int score = 0, s;
	char err[64] = "";

	for (s = 0; s < 50 && !find_drop(&nodes[0], src, &score, err, sizeof(err), NULL); s++)
		tu_sleep_ms(100);
	if (s == 50)
		fail_msg("no drop recorded for %s", src);
	if (strcmp(err, errname) != 0 || score > max_score)
		fail_msg("%s: dropped with %s, score %d (wanted %s, at most %d)", src, err, score, errname, max_score);
	assert_serving();
}

static void test_hostile_wrong_chain(void **state)
{
	struct raw r;
	uint8_t eph[32];

	(void)state;
	raw_key(&r, 0x51);
	raw_connect(&r, "127.0.0.2", nodes[0].p2p);
	assert_true(raw_hello(&r, chain_id + 1, NULL, eph));
	assert_true(raw_dropped(&r));
	raw_close(&r);
	expect_drop("127.0.0.2", "wrong_chain", NET_SCORE_START - NET_PENALTY_CHAIN);
}

static void test_hostile_unproven_key(void **state)
{
	struct raw r, other;

	(void)state;
	raw_key(&r, 0x52);
	raw_key(&other, 0x53);
	raw_connect(&r, "127.0.0.3", nodes[0].p2p);
	raw_handshake(&r, other.sk, false); /* claims r.pk, signs with another key */
	assert_true(raw_dropped(&r));
	raw_close(&r);
	expect_drop("127.0.0.3", "bad_signature", NET_SCORE_START - NET_PENALTY_GARBAGE);
}

static void test_hostile_garbage(void **state)
{
	struct raw r;
	static const char junk[] = "GET / HTTP/1.1\r\nHost: settled\r\n\r\n\x01\x02\x03";

	(void)state;
	raw_connect(&r, "127.0.0.4", nodes[0].p2p);
	assert_true(raw_send(&r, junk, sizeof(junk) - 1));
	assert_true(raw_dropped(&r));
	raw_close(&r);
	expect_drop("127.0.0.4", "unknown_version", NET_SCORE_START - NET_PENALTY_GARBAGE);
}

static void test_hostile_oversized_frame(void **state)
{
	struct raw r;
	uint8_t hdr[NET__FRAME_HEADER_LEN];

	(void)state;
	raw_key(&r, 0x54);
	raw_connect(&r, "127.0.0.5", nodes[0].p2p);
	raw_handshake(&r, NULL, true);
	net__frame_header_encode(hdr, NET_FRAME_MAX_DEFAULT + 1);
	assert_true(raw_send(&r, hdr, sizeof(hdr)));
	assert_true(raw_dropped(&r));
	raw_close(&r);
	expect_drop("127.0.0.5", "too_big", NET_SCORE_START - NET_PENALTY_TOOBIG);
}

/* Invalid transactions: 20 points each; at 0 the key is banned, the ban written to
 * p2p_bans.dat, and it holds after a restart. */
static void test_hostile_invalid_tx_flood(void **state)
{
	struct raw r;
	int score = 0;
	char err[64], key_id[NET_ID_MAX], path[4200];
	bool banned = false, listed = false;
	json_t *ni, *b;
	size_t i;

	(void)state;
	raw_key(&r, 0x55);
	raw_connect(&r, "127.0.0.6", nodes[0].p2p);
	raw_handshake(&r, NULL, true);
	for (int k = 0; k < 50; k++) {
		uint8_t tx[120];

		memset(tx, k + 1, sizeof(tx)); /* not a transaction */
		raw_send_msg(&r, NET_MSG_TX, tx, sizeof(tx));
	}
	assert_true(raw_dropped(&r));
	raw_close(&r);
	for (int s = 0; s < 50 && !find_drop(&nodes[0], "127.0.0.6", &score, err, sizeof(err), &banned); s++)
		tu_sleep_ms(100);
	assert_true(banned);
	assert_true(score <= 0);
	memcpy(key_id, "key:", 4);
	sn_hex_encode(key_id + 4, r.pk, 32);
	snprintf(path, sizeof(path), "%s/p2p_bans.dat", nodes[0].home);
	assert_int_equal(access(path, F_OK), 0);
	assert_serving();

	/* Restart the node: the ban is loaded back, and the key is refused. */
	assert_int_equal(tu_node_stop(nodes[0].pid, SIGTERM), 0);
	tu_pnode_run(&nodes[0], 0, NULL);
	ni = rpc(&nodes[0], "net_info", NULL);
	json_array_foreach(json_object_get(ni, "bans"), i, b)
		listed |= strcmp(json_string_value(json_object_get(b, "id")), key_id) == 0;
	json_decref(ni);
	assert_true(listed);
	raw_connect(&r, "127.0.0.7", nodes[0].p2p);
	raw_handshake(&r, NULL, false);
	assert_true(raw_dropped(&r));
	raw_close(&r);
	/* The honest nodes reconnect (persistently: they redial the seed). */
	for (int s = 0; s < WAIT_S * 10 && peer_count(&nodes[0]) != NODES - 1; s++)
		tu_sleep_ms(100);
	assert_serving();
}

/* A peer that completes the handshake and never reads: its PINGs go unanswered. */
static void test_hostile_never_reads(void **state)
{
	struct raw r;
	int rcvbuf = 1024;

	(void)state;
	raw_key(&r, 0x56);
	raw_connect(&r, "127.0.0.8", nodes[0].p2p);
	setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	raw_handshake(&r, NULL, true);
	expect_drop("127.0.0.8", "timeout", NET_SCORE_START - NET_PENALTY_SLOW);
	raw_close(&r);
}

static long vm_hwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* 40 hostile peers at once, from 40 addresses, mixed: half announce a frame of frame_max
 * bytes and stall inside it (the node holds the body buffer), a quarter flood invalid
 * transactions, a quarter send garbage. The node stays healthy; its peak RSS is printed. */
static void test_forty_hostile_peers(void **state)
{
	struct raw r[40];
	long before = vm_hwm_kb(nodes[0].pid), after;

	(void)state;
	for (int i = 0; i < 40; i++) {
		char src[32];

		snprintf(src, sizeof(src), "127.0.1.%d", i + 1);
		raw_key(&r[i], (uint8_t)(0x80 + i));
		raw_connect(&r[i], src, nodes[0].p2p);
		if (i % 4 == 3) {
			(void)raw_send(&r[i], "garbage!garbage!", 16);
			continue;
		}
		(void)raw_try_handshake(&r[i], NULL, false); /* beyond max_inbound: refused */
	}
	for (int i = 0; i < 40; i++) {
		if (i % 2 == 0) {
			uint8_t hdr[NET__FRAME_HEADER_LEN], *chunk = calloc(1, 3u << 20);

			net__frame_header_encode(hdr, NET_FRAME_MAX_DEFAULT);
			(void)raw_send(&r[i], hdr, sizeof(hdr));
			(void)raw_send(&r[i], chunk, 3u << 20); /* most of it, then nothing */
			free(chunk);
		} else if (i % 4 == 1) {
			for (int k = 0; k < 10; k++) {
				uint8_t tx[200];

				memset(tx, k, sizeof(tx));
				raw_send_msg(&r[i], NET_MSG_TX, tx, sizeof(tx));
			}
		}
	}
	tu_sleep_ms(500);
	assert_serving();
	after = vm_hwm_kb(nodes[0].pid);
	printf("40 hostile peers: node peak RSS (VmHWM) %ld kB, %ld kB before\n", after, before);
	for (int i = 0; i < 40; i++)
		raw_close(&r[i]);
	assert_true(after > 0 && after < 256 * 1024);
	tu_sleep_ms(300);
	assert_serving();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mesh_from_one_seed),
		cmocka_unit_test(test_only_the_validator_produces),
		cmocka_unit_test(test_tx_reaches_every_node),
		cmocka_unit_test(test_gossip_ahead_of_nonce_waits),
		cmocka_unit_test(test_hostile_wrong_chain),
		cmocka_unit_test(test_hostile_unproven_key),
		cmocka_unit_test(test_hostile_garbage),
		cmocka_unit_test(test_hostile_oversized_frame),
		cmocka_unit_test(test_hostile_invalid_tx_flood),
		cmocka_unit_test(test_hostile_never_reads),
		cmocka_unit_test(test_forty_hostile_peers),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, net_setup, net_teardown);
}
