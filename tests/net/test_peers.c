/* tests/net/test_peers.c — the peer manager (net/peers.c): the pure parts (backoff with
 * jitter, the seen-cache, the ban list codec) exhaustively, then several managers on one
 * libuv loop over 127.0.0.1: peer exchange from one seed, the inbound cap, gossip reaching
 * each node once, scoring an invalid-transaction flood down to a ban that a restart keeps. */
#include "testutil.h"

#include "net/net_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define CHAIN 7
#define WAIT_MS 10000

/* ------------------------------------------------------------ pure parts */

static void test_backoff(void **state)
{
	(void)state;
	/* Doubles from min up to max; jitter keeps it in [d/2, d]. */
	assert_int_equal(net__backoff_ms(0, 500, 60000, 0), 250);
	assert_int_equal(net__backoff_ms(0, 500, 60000, 250), 500);
	assert_int_equal(net__backoff_ms(0, 500, 60000, 251), 250); /* rnd mod (d/2 + 1) */
	assert_int_equal(net__backoff_ms(1, 500, 60000, 500), 1000);
	assert_int_equal(net__backoff_ms(3, 500, 60000, 0), 2000);
	assert_int_equal(net__backoff_ms(7, 500, 60000, 30000), 60000); /* 64000 capped */
	assert_int_equal(net__backoff_ms(1000, 500, 60000, 0), 30000);  /* no overflow */
	assert_int_equal(net__backoff_ms(0, 0, 10, 0), 1);
	for (unsigned a = 0; a < 70; a++) {
		uint64_t prev_max = 0;

		for (uint64_t r = 0; r < 5000; r += 37) {
			uint64_t d = net__backoff_ms(a, 100, 3600000, r * 2654435761u);
			uint64_t full = a < 20 ? 100ull << a : 3600000;

			if (full > 3600000)
				full = 3600000;
			assert_true(d >= full - full / 2 && d <= full);
			prev_max = d > prev_max ? d : prev_max;
		}
		assert_true(prev_max > 0);
	}
}

static void id_of(uint8_t id[SN_HASH_LEN], uint64_t i)
{
	sn_hash_tagged(id, "test-seen", &i, sizeof(i));
}

static void test_seen_cache(void **state)
{
	struct net__seen *s;
	uint8_t id[SN_HASH_LEN];
	const size_t max = 1000;

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	assert_int_equal(net__seen_new(&s, 1), SN_E_INVAL);
	assert_int_equal(net__seen_new(&s, max), SN_OK);
	id_of(id, 1);
	assert_false(net__seen_has(s, id));
	assert_true(net__seen_add(s, id));
	assert_false(net__seen_add(s, id));
	assert_true(net__seen_has(s, id));
	/* An all-zero id is an ordinary id. */
	memset(id, 0, sizeof(id));
	assert_true(net__seen_add(s, id));
	assert_false(net__seen_add(s, id));
	/* Bounded: after many more ids it holds at most max, and the newest max/2 always. */
	for (uint64_t i = 2; i < 10 * max; i++) {
		id_of(id, i);
		assert_true(net__seen_add(s, id));
		assert_true(net__seen_count(s) <= max);
		for (uint64_t k = i >= max / 2 ? i - max / 2 + 1 : 2; k <= i; k += 97) {
			id_of(id, k);
			assert_true(net__seen_has(s, id));
		}
	}
	id_of(id, 1);
	assert_false(net__seen_has(s, id)); /* long forgotten */
	net__seen_free(s);
	net__seen_free(NULL);
}

static void test_bans_codec(void **state)
{
	struct net_ban b[3] = { { "key:00ff", 1 }, { "ip:127.0.0.1", UINT64_MAX }, { "ip:[::1]", 42 } };
	struct net_ban back[3];
	uint8_t *enc, bad[600];
	size_t len, n;

	(void)state;
	assert_int_equal(net__bans_encode(&enc, &len, b, 3), SN_OK);
	assert_int_equal(len, 3 + (1 + 8 + 8) + (1 + 12 + 8) + (1 + 8 + 8));
	assert_int_equal(enc[0], NET__BANS_VERSION);
	assert_int_equal(net__bans_decode(back, 3, &n, enc, len), SN_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(back[i].id, b[i].id);
		assert_true(back[i].until_ms == b[i].until_ms);
	}
	for (size_t k = 0; k < len; k++)
		assert_int_equal(net__bans_decode(back, 3, &n, enc, k), SN_E_TRUNCATED);
	memcpy(bad, enc, len);
	bad[len] = 0;
	assert_int_equal(net__bans_decode(back, 3, &n, bad, len + 1), SN_E_TRAILING);
	assert_int_equal(net__bans_decode(back, 2, &n, enc, len), SN_E_TOOBIG);
	bad[0] = 2;
	assert_int_equal(net__bans_decode(back, 3, &n, bad, len), SN_E_VERSION);
	bad[0] = 1;
	bad[4] = ' '; /* an id with a space */
	assert_int_equal(net__bans_decode(back, 3, &n, bad, len), SN_E_NONCANONICAL);
	bad[4] = 'k';
	bad[3] = 0; /* empty id */
	assert_int_equal(net__bans_decode(back, 3, &n, bad, len), SN_E_TOOBIG);
	assert_int_equal(n, 0);
	sn_free(enc);
	/* Empty list; too many; a bad id refused by the encoder. */
	assert_int_equal(net__bans_encode(&enc, &len, b, 0), SN_OK);
	assert_int_equal(len, 3);
	assert_int_equal(net__bans_decode(back, 3, &n, enc, len), SN_OK);
	assert_int_equal(n, 0);
	sn_free(enc);
	assert_int_equal(net__bans_encode(&enc, &len, b, NET_BANS_MAX + 1), SN_E_TOOBIG);
	strcpy(b[0].id, "a b");
	assert_int_equal(net__bans_encode(&enc, &len, b, 1), SN_E_INVAL);
}

/* ------------------------------------------------------------ managers on a loop */

static uv_loop_t loop;
static uv_timer_t tick;
static uint64_t wall_now = 1700000000000ull;

struct node {
	const char *name;
	struct net_peers *pm;
	uint8_t sk[NET_NODE_SECKEY_LEN], pk[NET_NODE_KEY_LEN];
	unsigned txs;              /* on_tx calls */
	unsigned want_txs;         /* for got_txs_ge */
	enum net_tx_verdict verdict;
	uint8_t last_tx[64];
	size_t last_len;
	uint8_t *bans;
	size_t bans_len;
	unsigned bans_saved;
	bool closed;
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static uint64_t wall_ms(void *ud)
{
	(void)ud;
	return wall_now;
}

static void on_tx(struct net_peers *pm, uint64_t peer, const uint8_t *tx, size_t len, void *ud)
{
	struct node *n = ud;

	n->txs++;
	n->last_len = len < sizeof(n->last_tx) ? len : sizeof(n->last_tx);
	memcpy(n->last_tx, tx, n->last_len);
	net_peers_tx_verdict(pm, peer, tx, len, n->verdict);
}

static void on_bans(const uint8_t *data, size_t len, void *ud)
{
	struct node *n = ud;

	sn_free(n->bans);
	n->bans = sn_malloc(len);
	assert_non_null(n->bans);
	memcpy(n->bans, data, len);
	n->bans_len = len;
	n->bans_saved++;
}

static void on_closed(void *ud)
{
	((struct node *)ud)->closed = true;
}

static void loop_setup(void)
{
	assert_int_equal(sn_crypto_init(), SN_OK);
	assert_int_equal(uv_loop_init(&loop), 0);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 2, 2);
	uv_unref((uv_handle_t *)&tick);
}

static bool run_until(bool (*cond)(void *), void *arg, uint64_t ms)
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

static void run_for(uint64_t ms)
{
	uint64_t end = sn_time_mono_ns() + ms * 1000000u;

	while (sn_time_mono_ns() < end) {
		uv_ref((uv_handle_t *)&tick);
		uv_run(&loop, UV_RUN_ONCE);
		uv_unref((uv_handle_t *)&tick);
	}
}

/* A node with key seed byte seed; listens on a free port when listen; seed_port: its one seed. */
static void node_start(struct node *n, const char *name, uint8_t seed, bool listen, uint16_t seed_port,
                       const struct net_peers_opts *extra)
{
	struct net_peers_opts o = { 0 };
	uint8_t s32[32];
	char seed_addr[32];
	const char *seeds[1] = { seed_addr };

	memset(n, 0, sizeof(*n));
	n->name = name;
	n->verdict = NET_TX_ADMITTED;
	memset(s32, seed, sizeof(s32));
	crypto_sign_seed_keypair(n->pk, n->sk, s32);
	if (extra)
		o = *extra;
	o.node_seckey = n->sk;
	o.chain_id = CHAIN;
	o.user_agent = name;
	if (seed_port) {
		snprintf(seed_addr, sizeof(seed_addr), "127.0.0.1:%u", seed_port);
		o.seeds = seeds;
		o.n_seeds = 1;
	}
	o.backoff_min_ms = o.backoff_min_ms ? o.backoff_min_ms : 50;
	o.backoff_max_ms = o.backoff_max_ms ? o.backoff_max_ms : 400;
	o.pex_interval_ms = o.pex_interval_ms ? o.pex_interval_ms : 300;
	o.wall_ms = wall_ms;
	o.on_tx = on_tx;
	o.on_bans = on_bans;
	o.ud = n;
	assert_int_equal(net_peers_new(&n->pm, &loop, &o), SN_OK);
}

static void node_go(struct node *n, bool listen)
{
	if (listen)
		assert_int_equal(net_peers_listen(n->pm, "127.0.0.1", 0), SN_OK);
	assert_int_equal(net_peers_start(n->pm), SN_OK);
	assert_int_equal(net_peers_start(n->pm), SN_E_INVAL);
}

static bool node_closed(void *a)
{
	return ((struct node *)a)->closed;
}

static void node_stop(struct node *n)
{
	if (!n->pm)
		return;
	net_peers_close(n->pm, on_closed, n);
	n->pm = NULL;
	assert_true(run_until(node_closed, n, WAIT_MS));
}

static void loop_teardown(void)
{
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static size_t n_peers(const struct node *n)
{
	struct net_peers_summary s;

	net_peers_summary(n->pm, &s);
	return s.inbound + s.outbound;
}

struct mesh {
	struct node *n;
	size_t count, want;
};
static bool mesh_full(void *a)
{
	struct mesh *m = a;

	for (size_t i = 0; i < m->count; i++)
		if (n_peers(&m->n[i]) != m->want)
			return false;
	return true;
}

/* Five nodes, every one given only the first as seed: peer exchange makes a full mesh,
 * with one connection per pair. */
static void test_peer_exchange_mesh(void **state)
{
	struct node n[5];
	struct mesh m = { n, 5, 4 };
	struct net_peer_info info[8];
	uint16_t port;

	(void)state;
	loop_setup();
	node_start(&n[0], "n0", 1, true, 0, NULL);
	node_go(&n[0], true);
	port = net_peers_port(n[0].pm);
	for (int i = 1; i < 5; i++) {
		node_start(&n[i], "nX", (uint8_t)(1 + i), true, port, NULL);
		node_go(&n[i], true);
	}
	assert_true(run_until(mesh_full, &m, WAIT_MS));
	run_for(500); /* stays a mesh: no duplicate connections, no churn */
	assert_true(mesh_full(&m));
	for (int i = 0; i < 5; i++) {
		size_t k = net_peers_list(n[i].pm, info, 8);

		assert_int_equal(k, 4);
		for (size_t j = 0; j < k; j++) {
			assert_int_equal(info[j].score, NET_SCORE_START);
			assert_true(info[j].bytes_in > 0 && info[j].bytes_out > 0);
			assert_int_not_equal(info[j].listen_port, 0);
		}
	}
	for (int i = 4; i >= 0; i--)
		node_stop(&n[i]);
	loop_teardown();
}

struct txwait {
	struct node *n;
	size_t count;
	unsigned want;
};
static bool all_got_tx(void *a)
{
	struct txwait *w = a;

	for (size_t i = 0; i < w->count; i++)
		if (w->n[i].txs < w->want)
			return false;
	return true;
}

/* A transaction broadcast by one node reaches every other node exactly once, though each
 * relays it to all its peers; broadcasting it again sends nothing. */
static void test_gossip_once(void **state)
{
	struct node n[4];
	struct mesh m = { n, 4, 3 };
	struct txwait w = { n + 1, 3, 1 };
	const uint8_t tx[] = "a transaction, opaque to net/";
	struct net_peers_summary s;
	uint16_t port;

	(void)state;
	loop_setup();
	node_start(&n[0], "g0", 11, true, 0, NULL);
	node_go(&n[0], true);
	port = net_peers_port(n[0].pm);
	for (int i = 1; i < 4; i++) {
		node_start(&n[i], "gX", (uint8_t)(11 + i), true, port, NULL);
		node_go(&n[i], true);
	}
	assert_true(run_until(mesh_full, &m, WAIT_MS));
	assert_int_equal(net_peers_broadcast_tx(n[0].pm, tx, sizeof(tx)), 3);
	assert_int_equal(net_peers_broadcast_tx(n[0].pm, tx, sizeof(tx)), 0);
	assert_true(run_until(all_got_tx, &w, WAIT_MS));
	run_for(300);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(n[i].txs, 1);
		assert_memory_equal(n[i].last_tx, tx, sizeof(tx));
	}
	assert_int_equal(n[0].txs, 0); /* relays skip the node they heard it from */
	net_peers_summary(n[0].pm, &s);
	assert_int_equal(s.seen, 1);
	/* Each other node got it from n0 and from the two others, and kept the first copy. */
	for (int i = 1; i < 4; i++) {
		net_peers_summary(n[i].pm, &s);
		assert_int_equal(s.txs_received, 3);
		assert_int_equal(s.txs_duplicate, 2);
		assert_int_equal(s.txs_relayed, 2);
	}
	/* Rejected (valid but not admitted) ones are not relayed further. */
	for (int i = 1; i < 4; i++)
		n[i].verdict = NET_TX_REJECTED;
	{
		const uint8_t tx2[] = "second";

		assert_int_equal(net_peers_broadcast_tx(n[0].pm, tx2, sizeof(tx2)), 3);
		w.want = 2;
		assert_true(run_until(all_got_tx, &w, WAIT_MS));
		run_for(300);
		net_peers_summary(n[1].pm, &s);
		assert_int_equal(s.txs_relayed, 2); /* nothing more for tx2 */
		assert_int_equal(n[1].txs, 2);
	}
	for (int i = 3; i >= 0; i--)
		node_stop(&n[i]);
	loop_teardown();
}

static bool has_peers_ge(void *a)
{
	struct mesh *m = a;

	return n_peers(m->n) >= m->want;
}

/* max_inbound = 2: the third node to dial is refused before its handshake. */
static void test_inbound_cap(void **state)
{
	struct node n[4];
	struct net_peers_opts hub = { .max_inbound = 2 };
	struct mesh m = { n, 1, 2 };
	struct net_peer_drop d[NET_DROPS_MAX];
	size_t k;
	bool refused = false;

	(void)state;
	loop_setup();
	node_start(&n[0], "hub", 21, true, 0, &hub);
	node_go(&n[0], true);
	for (int i = 1; i < 4; i++) {
		/* No listening: nobody learns anyone else, each only dials the hub. */
		node_start(&n[i], "leaf", (uint8_t)(21 + i), false, net_peers_port(n[0].pm), NULL);
		node_go(&n[i], false);
	}
	assert_true(run_until(has_peers_ge, &m, WAIT_MS));
	run_for(800);
	assert_int_equal(n_peers(&n[0]), 2);
	k = net_peers_drops(n[0].pm, d, NET_DROPS_MAX);
	for (size_t i = 0; i < k && i < NET_DROPS_MAX; i++)
		if (strstr(d[i].reason, "too many inbound peers") && d[i].err == SN_E_BUSY) {
			refused = true;
			assert_int_equal(d[i].score, NET_SCORE_START); /* not blamed */
		}
	assert_true(refused);
	for (int i = 3; i >= 0; i--)
		node_stop(&n[i]);
	loop_teardown();
}

/* max_outbound = 2 with four seeds: two are dialled and kept, the others are not. */
static void test_outbound_cap(void **state)
{
	struct node n[5];
	char addrs[4][32];
	const char *seeds[4] = { addrs[0], addrs[1], addrs[2], addrs[3] };
	struct net_peers_opts o = { .max_outbound = 2, .seeds = seeds, .n_seeds = 4 };
	struct mesh m = { n, 1, 2 };
	struct net_peers_summary s;

	(void)state;
	loop_setup();
	for (int i = 1; i < 5; i++) {
		node_start(&n[i], "target", (uint8_t)(50 + i), true, 0, NULL);
		node_go(&n[i], true);
		snprintf(addrs[i - 1], sizeof(addrs[i - 1]), "127.0.0.1:%u", net_peers_port(n[i].pm));
	}
	node_start(&n[0], "dialler", 50, false, 0, &o);
	node_go(&n[0], false);
	assert_true(run_until(has_peers_ge, &m, WAIT_MS));
	run_for(800);
	net_peers_summary(n[0].pm, &s);
	assert_int_equal(s.outbound, 2);
	assert_int_equal(s.inbound, 0);
	assert_int_equal(s.connecting, 0);
	assert_true(s.known_addrs >= 4);
	for (int i = 4; i >= 0; i--)
		node_stop(&n[i]);
	loop_teardown();
}

static bool saved_bans(void *a)
{
	return ((struct node *)a)->bans_saved > 0;
}

static bool ban_refusal(void *a)
{
	struct node *n = a;
	struct net_peer_drop d[NET_DROPS_MAX];
	size_t k = net_peers_drops(n->pm, d, NET_DROPS_MAX);

	for (size_t i = 0; i < k && i < NET_DROPS_MAX; i++)
		if (strcmp(d[i].reason, "node key is banned") == 0)
			return true;
	return false;
}

/* A peer whose transactions are all invalid loses 20 points a transaction: the fifth takes
 * it to 0, it is dropped and its key banned; the ban list goes to on_bans, survives a
 * restart through net_peers_bans_load, keeps the peer out, and expires. */
static void test_invalid_flood_ban(void **state)
{
	struct node a, b, a2;
	struct mesh m = { &a, 1, 1 };
	struct net_ban bans[4];
	struct net_peer_drop d[NET_DROPS_MAX];
	char want[NET_ID_MAX];
	size_t k;

	(void)state;
	loop_setup();
	node_start(&a, "victim", 31, true, 0, &(struct net_peers_opts){ .ban_seconds = 60 });
	a.verdict = NET_TX_INVALID;
	node_go(&a, true);
	node_start(&b, "flooder", 32, false, net_peers_port(a.pm), NULL);
	node_go(&b, false);
	assert_true(run_until(has_peers_ge, &m, WAIT_MS));
	m.n = &b;
	assert_true(run_until(has_peers_ge, &m, WAIT_MS));
	for (int i = 0; i < 5; i++) {
		char tx[32];

		snprintf(tx, sizeof(tx), "invalid %d", i);
		(void)net_peers_broadcast_tx(b.pm, (const uint8_t *)tx, strlen(tx));
	}
	assert_true(run_until(saved_bans, &a, WAIT_MS));
	assert_int_equal(a.txs, 5);
	assert_int_equal(net_peers_bans(a.pm, bans, 4), 1);
	memcpy(want, "key:", 4);
	sn_hex_encode(want + 4, b.pk, 32);
	assert_string_equal(bans[0].id, want);
	assert_true(bans[0].until_ms == wall_now + 60000);
	k = net_peers_drops(a.pm, d, NET_DROPS_MAX);
	assert_true(k >= 1);
	assert_true(d[0].banned && d[0].has_key && d[0].score <= 0);
	assert_memory_equal(d[0].node_key, b.pk, 32);
	/* b keeps redialling (backoff): refused after the handshake, key banned. */
	assert_true(run_until(ban_refusal, &a, WAIT_MS));
	assert_int_equal(n_peers(&a), 0);

	/* Restart a with the saved list: still banned. */
	node_stop(&a);
	node_start(&a2, "victim2", 31, true, 0, &(struct net_peers_opts){ .ban_seconds = 60 });
	assert_int_equal(net_peers_bans_load(a2.pm, a.bans, a.bans_len), SN_OK);
	assert_int_equal(net_peers_bans(a2.pm, bans, 4), 1);
	assert_int_equal(net_peers_bans_load(a2.pm, a.bans, a.bans_len - 1), SN_E_TRUNCATED);
	assert_int_equal(net_peers_bans(a2.pm, bans, 4), 0); /* a bad file loads nothing */
	assert_int_equal(net_peers_bans_load(a2.pm, a.bans, a.bans_len), SN_OK);
	/* Expiry: an hour later the ban is gone (pruned on the next tick, and saved). */
	node_go(&a2, true);
	a2.bans_saved = 0;
	wall_now += 3600 * 1000;
	assert_true(run_until(saved_bans, &a2, WAIT_MS));
	assert_int_equal(net_peers_bans(a2.pm, bans, 4), 0);
	sn_free(a.bans);
	sn_free(a2.bans);
	node_stop(&b);
	node_stop(&a2);
	loop_teardown();
}

static bool got_txs_ge(void *a)
{
	const struct node *n = a;

	return n->txs >= n->want_txs;
}

/* A peer flooding well-signed but failing transactions (the owner rejects each) runs out of
 * budget: most are dropped unchecked, and the sustained flood ends in a ban. A transaction
 * dropped that way was not marked seen: an honest peer's copy still gets in. */
static void test_tx_budget(void **state)
{
	enum { RATE = 1, FLOOD = 12000 }; /* one token a second: the first is checked, then one every 5 s */
	struct node a, b, c;
	struct mesh m = { &a, 1, 1 };
	struct net_peers_summary sum;
	uint64_t t0, elapsed_ms;
	unsigned handed;

	(void)state;
	loop_setup();
	node_start(&a, "victim", 41, true, 0, &(struct net_peers_opts){ .ban_seconds = 60, .tx_rate = RATE });
	a.verdict = NET_TX_REJECTED;
	node_go(&a, true);
	node_start(&b, "flooder", 42, false, net_peers_port(a.pm), NULL);
	node_go(&b, false);
	assert_true(run_until(has_peers_ge, &m, WAIT_MS));
	m.n = &b;
	assert_true(run_until(has_peers_ge, &m, WAIT_MS));
	t0 = sn_time_mono_ns();
	for (int i = 0; i < FLOOD; i++) {
		char tx[32];

		snprintf(tx, sizeof(tx), "failing %d", i);
		(void)net_peers_broadcast_tx(b.pm, (const uint8_t *)tx, strlen(tx));
	}
	assert_true(run_until(saved_bans, &a, WAIT_MS));
	elapsed_ms = (sn_time_mono_ns() - t0) / 1000000u;
	handed = a.txs;
	/* a full bucket (2 tokens) pays for the first (1 + 4 for its rejection), then one in 5 s */
	assert_true(handed >= 1);
	assert_true(handed <= 1 + (unsigned)(elapsed_ms * RATE / 5000) + 1);
	net_peers_summary(a.pm, &sum);
	assert_true(sum.txs_over_budget >= 10 * NET_TX_FLOOD_DROPS);
	assert_true(sum.txs_over_budget + handed <= FLOOD);
	/* b is banned now; an honest peer sends one of the dropped ones (the flood took well under
	 * 5 s, so all but the first were dropped): it is checked */
	assert_true(elapsed_ms < 5000);
	assert_int_equal(n_peers(&a), 0);
	a.verdict = NET_TX_ADMITTED;
	node_start(&c, "honest", 43, false, net_peers_port(a.pm), NULL);
	node_go(&c, false);
	m.n = &c;
	assert_true(run_until(has_peers_ge, &m, WAIT_MS));
	a.want_txs = handed + 1;
	{
		char tx[32];

		snprintf(tx, sizeof(tx), "failing %d", 5000);
		(void)net_peers_broadcast_tx(c.pm, (const uint8_t *)tx, strlen(tx));
	}
	assert_true(run_until(got_txs_ge, &a, WAIT_MS));
	assert_memory_equal(a.last_tx, "failing 5000", 12);
	sn_free(a.bans);
	node_stop(&c);
	node_stop(&b);
	node_stop(&a);
	loop_teardown();
}

static void test_bad_options(void **state)
{
	struct net_peers *pm;
	struct node n;
	const char *bad[] = { "localhost:80" };
	struct net_peers_opts o = { .chain_id = CHAIN, .seeds = bad, .n_seeds = 1 };

	(void)state;
	loop_setup();
	node_start(&n, "x", 41, false, 0, NULL);
	o.node_seckey = n.sk;
	assert_int_equal(net_peers_new(&pm, &loop, &o), SN_E_INVAL);
	assert_null(pm);
	o.n_seeds = 0;
	o.persistent = bad;
	o.n_persistent = 1;
	assert_int_equal(net_peers_new(&pm, &loop, &o), SN_E_INVAL);
	o.n_persistent = 0;
	o.node_seckey = NULL;
	assert_int_equal(net_peers_new(&pm, &loop, &o), SN_E_INVAL);
	net_peers_close(NULL, NULL, NULL);
	node_stop(&n);
	loop_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_seen_cache),
		cmocka_unit_test(test_bans_codec),
		cmocka_unit_test(test_peer_exchange_mesh),
		cmocka_unit_test(test_gossip_once),
		cmocka_unit_test(test_inbound_cap),
		cmocka_unit_test(test_outbound_cap),
		cmocka_unit_test(test_invalid_flood_ban),
		cmocka_unit_test(test_tx_budget),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
