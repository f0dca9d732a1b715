/* tests/bench/bench_gossip_nodes.c — how long a transaction takes to reach all of 8 settled
 * processes.
 *
 *   bench net.gossip_p50   ms from the submit_tx call at one node to the admission at the
 *   bench net.gossip_p99   last of the eight (median and 99th percentile over TXS)
 *
 * Nine settled on 127.0.0.1 from one genesis: n0 is the validator (it commits the
 * transactions, so its mempool forgets them) and n1..n8 are the eight measured; all are given
 * n0 as their one seed and find each other by peer exchange. TXS registrations signed by the
 * genesis account are submitted to n1, SPACING_MS apart (each spreads before the next is
 * sent). Every hop is real: encrypted transport, signature check on the node's thread pool,
 * admission against the node's state, relay. Each node's list_mempool says when it admitted
 * a transaction on the host's monotonic clock, which is also the clock this process reads. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MEASURED 8
#define TXS 200
#define SPACING_MS 15

static char *dir;
static struct tu_pnode nodes[MEASURED + 1];
static uint8_t root_sk[32], root_pk[32];

static json_t *call(const struct tu_pnode *n, const char *method, const char *params)
{
	static char req[2 * STORE_TX_MAX + 256];
	json_t *r;

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
	r = tu_rpc_result(n->rpc, n->home, req);
	if (!r) {
		fprintf(stderr, "bench_gossip_nodes: %s on port %u failed\n", method, n->rpc);
		exit(1);
	}
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void stop_all(void)
{
	for (int i = 0; i <= MEASURED; i++)
		if (nodes[i].pid > 0)
			tu_node_stop(nodes[i].pid, SIGTERM);
	tu_rmtree(dir);
}

int main(void)
{
	static char hex[2 * STORE_TX_MAX + 1], params[2 * STORE_TX_MAX + 16];
	static uint8_t ids[TXS][SN_HASH_LEN];
	static uint64_t sent_us[TXS], last_us[TXS], lat_us[TXS];
	uint32_t chain_id;
	int waited;

	if (sn_crypto_init())
		return 1;
	dir = tu_tmpdir("sn-gossip");
	tu_pnode_init(&nodes[0], dir, "n0", NULL);
	for (int i = 1; i <= MEASURED; i++) {
		char name[8];

		snprintf(name, sizeof(name), "n%d", i);
		tu_pnode_init(&nodes[i], dir, name, &nodes[0]);
	}
	tu_pnode_root_key(&nodes[0], root_sk, root_pk);
	tu_pnode_run(&nodes[0], 0, NULL);
	for (int i = 1; i <= MEASURED; i++)
		tu_pnode_run(&nodes[i], nodes[0].p2p, NULL);
	{
		json_t *st = call(&nodes[0], "status", "[]");

		chain_id = (uint32_t)tu_json_u64(st, "chain_id");
		json_decref(st);
	}
	/* A full mesh: every node connected to the other eight. */
	for (waited = 0; waited < 400; waited++) {
		int full = 1;

		for (int i = 0; i <= MEASURED && full; i++) {
			json_t *r = call(&nodes[i], "net_info", "[]");

			full = json_array_size(json_object_get(r, "peers")) >= MEASURED;
			json_decref(r);
		}
		if (full)
			break;
		tu_sleep_ms(50);
	}
	fprintf(stderr, "# mesh of %d nodes after %.1f s%s\n", MEASURED + 1, waited * 0.05,
	        waited == 400 ? " (not full: measuring anyway)" : "");

	for (int k = 0; k < TXS; k++) {
		struct store_tx tx = { .version = STORE_TX_V1, .type = STORE_TX_REGISTER, .chain_id = chain_id,
			               .nonce = (uint64_t)k, .fee = 1, .amount = 1 };
		uint8_t raw[STORE_TX_MAX], sk[32];
		size_t len;
		json_t *r;

		memcpy(tx.signer, root_pk, 32);
		tu_key(5000 + (uint64_t)k, sk, tx.to);
		if (store_tx_sign(&tx, root_sk) || store_tx_encode(raw, sizeof(raw), &len, &tx))
			return 1;
		store_tx_id(ids[k], raw, len);
		sn_hex_encode(hex, raw, len);
		snprintf(params, sizeof(params), "[\"%s\"]", hex);
		sent_us[k] = sn_time_mono_ns() / 1000u;
		r = call(&nodes[1], "submit_tx", params);
		json_decref(r);
		tu_sleep_ms(SPACING_MS);
	}
	tu_sleep_ms(500);

	/* When each of n1..n8 admitted each transaction; the last of them counts. */
	for (int i = 1; i <= MEASURED; i++) {
		json_t *m = call(&nodes[i], "list_mempool", "[10000]"), *e;
		size_t j;
		int seen = 0;

		json_array_foreach(json_object_get(m, "txs"), j, e) {
			uint8_t id[SN_HASH_LEN];
			const char *h = json_string_value(json_object_get(e, "id"));

			if (!h || sn_hex_decode(id, sizeof(id), h))
				continue;
			for (int k = 0; k < TXS; k++)
				if (memcmp(id, ids[k], SN_HASH_LEN) == 0) {
					uint64_t at = tu_json_u64(e, "admitted_mono_us");

					if (at > last_us[k])
						last_us[k] = at;
					seen++;
					break;
				}
		}
		json_decref(m);
		if (seen != TXS) {
			fprintf(stderr, "bench_gossip_nodes: n%d admitted %d of %d transactions\n", i, seen, TXS);
			stop_all();
			return 1;
		}
	}
	for (int k = 0; k < TXS; k++)
		lat_us[k] = last_us[k] > sent_us[k] ? last_us[k] - sent_us[k] : 0;
	qsort(lat_us, TXS, sizeof(lat_us[0]), cmp_u64);
	printf("bench net.gossip_p50 %.3f ms\n", (double)lat_us[TXS / 2] / 1e3);
	printf("bench net.gossip_p99 %.3f ms\n", (double)lat_us[TXS * 99 / 100] / 1e3);
	stop_all();
	return 0;
}
