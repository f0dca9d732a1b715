/* tests/integration/test_validator_change.c — a validator-set change executed through
 * governance changes who may produce blocks from the next height: on a devnet made by
 * `settle init` (its one account is the one member of both tracks, so its approval alone is
 * 100%), the node's own key is replaced by another through `settle gov`; once executed, the
 * node stops producing (its height stays put) and says why in its log. */
#include "testutil.h"

#include <jansson.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *dir, home[4096], rpcaddr[32], out[65536], err[8192];

#define settle(...) tu_settle(rpcaddr, home, dir, out, sizeof(out), err, sizeof(err), __VA_ARGS__)

static uint64_t height(void)
{
	json_t *j;
	uint64_t h;

	if (settle("status", "--json", NULL) != 0)
		fail_msg("settle status: %s", err);
	j = tu_json_out(out, err);
	h = tu_json_u64(j, "height");
	json_decref(j);
	return h;
}

static void test_removed_validator_stops_producing(void **state)
{
	char *init[] = { (char *)tu_bin("settle"), "init", "--home", home, NULL };
	const char *extra[] = { "--set", "node.block_interval_ms=100", NULL };
	char path[4200], *text, id[32], other[2 * 32 + 8], logbuf[8192];
	uint8_t seed[32], pk[32], sk[64];
	uint16_t port;
	size_t len;
	pid_t pid;
	FILE *f;

	(void)state;
	dir = tu_tmpdir("sn-valchange");
	snprintf(home, sizeof(home), "%s/node", dir);
	assert_int_equal(tu_run(init, NULL, 0), 0);
	/* A timelock of 2 blocks instead of the default, so the test is quick. */
	snprintf(path, sizeof(path), "%s/genesis.json", home);
	text = (char *)tu_read_file(path, &len);
	assert_non_null(text);
	text = realloc(text, len + 1);
	text[len] = '\0';
	{
		char *p = strstr(text, "\"timelock_blocks\": ");

		assert_non_null(p);
		f = fopen(path, "w");
		fwrite(text, 1, (size_t)(p - text), f);
		fprintf(f, "\"timelock_blocks\": 2%s", strpbrk(p + 19, ",}"));
		fclose(f);
	}
	free(text);
	port = tu_free_port();
	snprintf(rpcaddr, sizeof(rpcaddr), "127.0.0.1:%u", port);
	pid = tu_node_start(home, port, extra);

	/* Another node's key replaces ours. */
	sn_random_bytes(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sn_hex_encode(other, pk, 32);
	strcat(other, ":5");
	assert_int_equal(settle("gov", "propose", "change_validators", "--validator", other, NULL), 0);
	snprintf(id, sizeof(id), "%llu", strtoull(out, NULL, 10));
	assert_true(strtoull(id, NULL, 10) > 0);
	assert_int_equal(settle("gov", "approve", id, NULL), 0);
	for (int i = 0; i < 300; i++) { /* wait out the timelock */
		int rc = settle("gov", "execute", id, NULL);

		if (rc == 0)
			break;
		if (!strstr(err, "timelock"))
			fail_msg("execute: %s", err);
		usleep(100000);
	}
	/* Once the change is committed the node says so in its log (waited for: on a loaded
	 * machine that can take a while) and its height stops. */
	snprintf(path, sizeof(path), "%s/node.log", home);
	for (int i = 0;; i++) {
		text = (char *)tu_read_file(path, &len);
		assert_non_null(text);
		snprintf(logbuf, sizeof(logbuf), "%.*s", (int)(len < sizeof(logbuf) - 1 ? len : sizeof(logbuf) - 1),
		         text + (len > sizeof(logbuf) - 1 ? len - (sizeof(logbuf) - 1) : 0));
		free(text);
		if (strstr(logbuf, "no longer a validator"))
			break;
		if (i == 300)
			fail_msg("the node never said it is no longer a validator; log tail:\n%s", logbuf);
		usleep(100000);
	}
	{
		uint64_t h1, h2;

		h1 = height();
		usleep(1200000); /* more than ten block intervals */
		h2 = height();
		if (h2 > h1 + 1)
			fail_msg("still producing after the validator change: height %llu -> %llu",
			         (unsigned long long)h1, (unsigned long long)h2);
	}
	tu_node_stop(pid, SIGTERM);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removed_validator_stops_producing),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
