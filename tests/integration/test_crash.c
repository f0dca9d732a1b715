/* tests/integration/test_crash.c — kill -9 a settled process while transactions stream in,
 * ten times, restarting it each time, every other time without the txs index
 * (node.tx_index = 0). Every block it had committed is still there with the same hash, a
 * replay of all its blocks on a fresh store reaches the same state root, no transaction was
 * applied twice, and once the store is opened with the index every transaction is found
 * where its block holds it. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "node/home_int.h"
#include "node/node.h"

static uint8_t root_sk[32], root_pk[32];

static void test_kill9_restarts(void **state)
{
	char *dir = tu_tmpdir("sn-crash"), home[4096], path[4200];
	char *init[] = { (char *)tu_bin("settle"), "init", "--home", home, NULL };
	const char *extra[] = { "--set", "node.block_interval_ms=100", "--log-level", "warn", NULL };
	const char *no_index[] = { "--set", "node.block_interval_ms=100", "--set", "node.tx_index=0", "--log-level",
		                   "warn", NULL };
	struct tu_rng rng = { tu_seed("kill9_restarts") };
	uint8_t (*hashes)[32] = calloc(100000, 32);
	uint64_t known_height = 0;

	(void)state;
	snprintf(home, sizeof(home), "%s/node", dir);
	assert_int_equal(tu_run(init, NULL, 0), 0);
	tu_home_root_key(home, root_sk, root_pk);

	for (int round = 0; round < 10; round++) {
		uint16_t port = tu_free_port();
		pid_t pid = tu_node_start(home, port, round % 2 ? no_index : extra);
		uint64_t nonce = tu_account_nonce(port, home, root_pk), deadline;
		json_t *st;

		/* Every block seen before the crash is still there, with the same hash. */
		for (uint64_t h = 1; h <= known_height; h++) {
			char req[128];
			json_t *b;
			uint8_t hash[32];

			snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get_block\",\"params\":[%llu]}",
			         (unsigned long long)h);
			b = tu_rpc_result(port, home, req);
			if (!b)
				fail_msg("round %d: block %llu is gone after kill -9", round, (unsigned long long)h);
			assert_int_equal(sn_hex_decode(hash, 32, json_string_value(json_object_get(b, "hash"))), SN_OK);
			assert_memory_equal(hash, hashes[h], 32);
			json_decref(b);
		}
		/* Stream registrations for a random while, then kill -9 without warning. */
		deadline = sn_time_mono_ns() / 1000000 + 150 + tu_rand_below(&rng, 600);
		while (sn_time_mono_ns() / 1000000 < deadline) {
			struct store_tx tx = { .version = STORE_TX_V1, .type = STORE_TX_REGISTER, .chain_id = 1,
				               .nonce = nonce, .fee = 1, .amount = 1 };
			uint8_t raw[STORE_TX_MAX], sk[32];
			char txhex[2 * STORE_TX_MAX + 1], req[2 * STORE_TX_MAX + 128], *body;
			size_t len;

			assert_int_equal(sn_schnorr_keygen(sk, tx.to), SN_OK);
			memcpy(tx.signer, root_pk, 32);
			assert_int_equal(store_tx_sign(&tx, root_sk), SN_OK);
			assert_int_equal(store_tx_encode(raw, sizeof(raw), &len, &tx), SN_OK);
			sn_hex_encode(txhex, raw, len);
			snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit_tx\",\"params\":[\"%s\"]}", txhex);
			if (tu_rpc(port, home, req, &body) == 200 && strstr(body, "\"result\""))
				nonce++;
			free(body);
		}
		/* What the node says it committed, just before the kill. */
		st = tu_rpc_result(port, home, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}");
		assert_non_null(st);
		{
			uint64_t height = (uint64_t)json_integer_value(json_object_get(st, "height"));

			for (uint64_t h = known_height + 1; h <= height; h++) {
				char req[128];
				json_t *b;

				snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get_block\",\"params\":[%llu]}",
				         (unsigned long long)h);
				b = tu_rpc_result(port, home, req);
				assert_non_null(b);
				assert_int_equal(sn_hex_decode(hashes[h], 32, json_string_value(json_object_get(b, "hash"))), SN_OK);
				json_decref(b);
			}
			known_height = height;
		}
		json_decref(st);
		tu_node_stop(pid, SIGKILL);
	}
	assert_true(known_height > 0);

	/* Replay every block on a fresh store with the same genesis: same state root, and no
	 * transaction id twice. */
	{
		struct node_genesis gen;
		struct store *orig, *fresh;
		struct node_engine *eng;
		struct store_info a, b;
		char err[256], freshdir[4200];
		struct store_opts o;
		size_t n_ids = 0, cap_ids = 1024;
		uint8_t (*ids)[32] = malloc(cap_ids * 32);
		uint64_t (*where)[2] = malloc(cap_ids * sizeof(*where)); /* each id's height and index */

		snprintf(path, sizeof(path), "%s/genesis.json", home);
		assert_int_equal(node_genesis_load(&gen, path, err, sizeof(err)), SN_OK);
		o = (struct store_opts){ .chain_id = gen.chain_id, .no_sync = true };
		snprintf(path, sizeof(path), "%s/data", home);
		assert_int_equal(store_open(&orig, path, &o), SN_OK);
		snprintf(freshdir, sizeof(freshdir), "%s/replay", dir);
		assert_int_equal(store_open(&fresh, freshdir, &o), SN_OK);
		assert_int_equal(store_genesis_init(fresh, &gen.g), SN_OK);
		assert_int_equal(node_engine_new(&eng, fresh, NULL), SN_OK);
		store_info_get(orig, &a);
		assert_true(a.height >= known_height);
		for (uint64_t h = 1; h <= a.height; h++) {
			uint8_t *blk, *commit;
			size_t len, clen, pos = 0;
			struct node_block_result r;
			struct store_block sb;
			const uint8_t *tx;
			size_t tlen;

			assert_int_equal(store_block_get(orig, h, &blk, &len), SN_OK);
			assert_int_equal(store_commit_get(orig, h, &commit, &clen), SN_OK);
			assert_int_equal(store_block_decode(&sb, blk, len), SN_OK);
			for (uint64_t i = 0; store_block_next_tx(&sb, &pos, &tx, &tlen); i++) {
				if (n_ids == cap_ids) {
					cap_ids *= 2;
					ids = realloc(ids, cap_ids * 32);
					where = realloc(where, cap_ids * sizeof(*where));
				}
				where[n_ids][0] = h;
				where[n_ids][1] = i;
				store_tx_id(ids[n_ids++], tx, tlen);
			}
			if (node_engine_apply_block(eng, blk, len, commit, clen, &r))
				fail_msg("replay of block %llu failed: %s at %d", (unsigned long long)h, sn_errname(r.err),
				         r.tx_index);
			sn_free(blk);
			sn_free(commit);
		}
		store_info_get(fresh, &b);
		assert_int_equal(a.height, b.height);
		assert_memory_equal(a.state_root, b.state_root, SN_HASH_LEN);
		for (size_t i = 0; i < n_ids; i++)
			for (size_t k = i + 1; k < n_ids; k++)
				if (memcmp(ids[i], ids[k], 32) == 0)
					fail_msg("transaction applied twice (blocks hold it at %zu and %zu)", i, k);
		/* orig was opened with the index: every block the killed nodes committed without it
		 * is indexed by now */
		{
			uint64_t from, height;
			uint32_t index;

			assert_int_equal(store_tx_index_gap(orig, &from), SN_E_NOTFOUND);
			for (size_t i = 0; i < n_ids; i++) {
				assert_int_equal(store_tx_locate(orig, ids[i], &height, &index), SN_OK);
				assert_int_equal(height, where[i][0]);
				assert_int_equal(index, where[i][1]);
			}
		}
		fprintf(stderr, "kill9_restarts: %llu blocks, %zu transactions, replay root matches, all indexed\n",
		        (unsigned long long)a.height, n_ids);
		node_engine_free(eng);
		store_close(fresh);
		store_close(orig);
		node_genesis_free(&gen);
		free(ids);
		free(where);
	}
	free(hashes);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_restarts),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
