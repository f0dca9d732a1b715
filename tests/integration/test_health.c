/* tests/integration/test_health.c — GET /health says 503 while the node is starting (its store
 * is opened, here a genesis of 300,000 accounts written, on the thread pool after the RPC
 * server is up), without authentication, then 200 once it serves; RPC methods meanwhile
 * answer -32002 "node is starting". */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_503_while_starting(void **state)
{
	char *dir = tu_tmpdir("sn-health"), home[4096], path[4200], logpath[4200], portstr[16], resp[1024];
	char *init[] = { (char *)tu_bin("settle"), "init", "--home", home, NULL };
	static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	uint16_t port = tu_free_port();
	int saw_503 = 0, saw_200 = 0;
	struct tu_rng rng = { 1 };
	char *text, *p;
	size_t len;
	FILE *f;
	pid_t pid;

	(void)state;
	snprintf(home, sizeof(home), "%s/node", dir);
	assert_int_equal(tu_run(init, NULL, 0), 0);
	/* A genesis with 300,000 accounts under the root: writing it takes the node a while. */
	snprintf(path, sizeof(path), "%s/genesis.json", home);
	text = (char *)tu_read_file(path, &len);
	assert_non_null(text);
	text = realloc(text, len + 1);
	text[len] = '\0';
	p = strstr(text, "\"accounts\": []");
	assert_non_null(p);
	*p = '\0';
	{
		char root[65];
		const char *r = strstr(text, "\"address\": \"");

		assert_non_null(r);
		memcpy(root, r + 12, 64);
		root[64] = '\0';
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "%s\"accounts\": [", text);
		for (int i = 0; i < 300000; i++) {
			uint64_t a = tu_rand(&rng), b = tu_rand(&rng), c = tu_rand(&rng), d = tu_rand(&rng);

			fprintf(f, "%s{\"address\":\"%016llx%016llx%016llx%016llx\",\"sponsor\":\"%s\",\"balance\":\"1\"}",
			        i ? "," : "", (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
			        (unsigned long long)d, root);
		}
		fprintf(f, "]%s", p + strlen("\"accounts\": []"));
		fclose(f);
	}
	free(text);
	snprintf(portstr, sizeof(portstr), "%u", port);
	snprintf(logpath, sizeof(logpath), "%s/node.log", home);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(tu_bin("settled"), "settled", "--home", home, "--rpc-port", portstr, "--set", "p2p.enabled=0",
		      (char *)NULL);
		_exit(127);
	}
	/* Writing the genesis takes seconds, many more under a sanitizer on a loaded machine: the
	 * bound is 5 minutes of waiting, and a node that dies meanwhile fails at once. */
	for (uint64_t t0 = sn_time_mono_ns(); !saw_200 && sn_time_mono_ns() - t0 < 300000000000ull;) {
		int ws;

		if (waitpid(pid, &ws, WNOHANG) == pid) {
			tu_report_exit(pid, ws);
			fail_msg("settled exited while starting (see %s)", logpath);
		}
		if (tu_http_raw(port, req, sizeof(req) - 1, resp, sizeof(resp), 2000, NULL) > 0) {
			int status = tu_http_status(resp);

			if (status == 503) {
				assert_non_null(strstr(resp, "starting"));
				if (!saw_503) {
					char *body;

					/* methods say so too (the cookie is written before the store opens) */
					assert_int_equal(tu_rpc(port, home, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}",
					                        &body),
					                 200);
					assert_non_null(strstr(body, "-32002"));
					free(body);
				}
				saw_503++;
			} else {
				assert_int_equal(status, 200);
				saw_200 = 1;
			}
		}
		usleep(10000);
	}
	tu_node_stop(pid, SIGTERM);
	fprintf(stderr, "health: %d answers 503 while starting, then 200\n", saw_503);
	assert_true(saw_503 > 0);
	assert_true(saw_200);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_503_while_starting),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
