/* tests/bench/bench_gossip.c — how long a transaction takes to reach all of 8 nodes.
 *
 * Eight peer managers (net/peers.c), each on its own thread and libuv loop, over 127.0.0.1,
 * all given node 0 as their one seed: peer exchange makes them a full mesh. Node 0
 * broadcasts 1,000 transactions one after the other; each is timed from the broadcast to its
 * arrival at the last of the other 7 nodes, whose owners admit everything at once (no
 * signature check: settled adds its thread-pool check, ~0.1 ms, per hop). Prints
 * net.gossip_inproc_p50 and net.gossip_inproc_p99 in ms: the peer network alone.
 * bench_gossip_nodes.c measures the same across eight real settled processes. */
#include "testutil.h"

#include "net/net.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#define NODES 8
#define TXS 1000
#define WARMUP 20

struct bnode {
	int index;
	uv_loop_t loop;
	uv_async_t async; /* send (node 0) or stop */
	struct net_peers *pm;
	pthread_t thread;
	uint8_t sk[NET_NODE_SECKEY_LEN], pk[NET_NODE_KEY_LEN];
};

static struct bnode nodes[NODES];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static uint64_t current; /* the tx being timed */
static int arrived;
static uint64_t last_arrival_ns;
static bool stopping;
static uint8_t tx_buf[160];

static void on_tx(struct net_peers *pm, uint64_t peer, const uint8_t *tx, size_t len, void *ud)
{
	uint64_t seq;

	(void)ud;
	net_peers_tx_verdict(pm, peer, tx, len, NET_TX_ADMITTED);
	memcpy(&seq, tx, sizeof(seq));
	pthread_mutex_lock(&mu);
	if (seq == current) {
		arrived++;
		last_arrival_ns = sn_time_mono_ns();
		if (arrived == NODES - 1)
			pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&mu);
}

static void on_closed(void *ud)
{
	struct bnode *n = ud;

	uv_close((uv_handle_t *)&n->async, NULL);
}

static void on_async(uv_async_t *a)
{
	struct bnode *n = a->data;
	bool stop;
	uint8_t tx[sizeof(tx_buf)];

	pthread_mutex_lock(&mu);
	stop = stopping;
	memcpy(tx, tx_buf, sizeof(tx));
	pthread_mutex_unlock(&mu);
	if (stop) {
		if (n->pm)
			net_peers_close(n->pm, on_closed, n);
		n->pm = NULL;
		return;
	}
	(void)net_peers_broadcast_tx(n->pm, tx, sizeof(tx));
}

static void *run(void *arg)
{
	struct bnode *n = arg;

	uv_run(&n->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	static uint64_t lat[TXS];
	char seed[32];
	const char *seeds[1] = { seed };
	struct timespec wait;

	if (sn_crypto_init() != SN_OK)
		return 1;
	sn_log_set(NULL, NULL, SN_LOG_WARN);
	for (int i = 0; i < NODES; i++) {
		struct bnode *n = &nodes[i];
		struct net_peers_opts o = { .chain_id = 7, .backoff_min_ms = 50, .backoff_max_ms = 500,
			                    .pex_interval_ms = 200, .on_tx = on_tx, .ud = n };
		uint8_t s[32];

		n->index = i;
		memset(s, 0x60 + i, sizeof(s));
		crypto_sign_seed_keypair(n->pk, n->sk, s);
		o.node_seckey = n->sk;
		if (i > 0) {
			o.seeds = seeds;
			o.n_seeds = 1;
		}
		if (uv_loop_init(&n->loop) || uv_async_init(&n->loop, &n->async, on_async) ||
		    net_peers_new(&n->pm, &n->loop, &o) != SN_OK ||
		    net_peers_listen(n->pm, "127.0.0.1", 0) != SN_OK || net_peers_start(n->pm) != SN_OK) {
			fprintf(stderr, "cannot start node %d\n", i);
			return 1;
		}
		n->async.data = n;
		if (i == 0)
			snprintf(seed, sizeof(seed), "127.0.0.1:%u", net_peers_port(n->pm));
		pthread_create(&n->thread, NULL, run, n);
	}
	{
		struct timespec ts = { 3, 0 }; /* peer exchange makes the mesh */

		nanosleep(&ts, NULL);
	}
	for (int k = 0; k < WARMUP + TXS; k++) {
		uint64_t t0, seq = (uint64_t)k + 1;
		int got;

		pthread_mutex_lock(&mu);
		current = seq;
		arrived = 0;
		randombytes_buf(tx_buf, sizeof(tx_buf));
		memcpy(tx_buf, &seq, sizeof(seq));
		t0 = sn_time_mono_ns();
		uv_async_send(&nodes[0].async);
		clock_gettime(CLOCK_REALTIME, &wait);
		wait.tv_sec += 5;
		while (arrived < NODES - 1)
			if (pthread_cond_timedwait(&cv, &mu, &wait) != 0)
				break;
		got = arrived;
		if (k >= WARMUP)
			lat[k - WARMUP] = last_arrival_ns - t0;
		pthread_mutex_unlock(&mu);
		if (got < NODES - 1) {
			fprintf(stderr, "tx %d reached %d of %d nodes\n", k, got, NODES - 1);
			return 1;
		}
	}
	qsort(lat, TXS, sizeof(lat[0]), cmp_u64);
	printf("bench net.gossip_inproc_p50 %.3f ms\n", (double)lat[TXS / 2] / 1e6);
	printf("bench net.gossip_inproc_p99 %.3f ms\n", (double)lat[TXS * 99 / 100] / 1e6);
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < NODES; i++) {
		uv_async_send(&nodes[i].async);
		pthread_join(nodes[i].thread, NULL);
		uv_loop_close(&nodes[i].loop);
	}
	return 0;
}
