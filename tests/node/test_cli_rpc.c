/* tests/node/test_cli_rpc.c — the settle CLI's RPC client pieces that need no server: the
 * HOST:PORT endpoint, the HTTP response reader (http_parser), and a call to a port nobody
 * listens on. The calls against a real node are in the integration tests. */
#include "testutil.h"

#include <stdlib.h>

#include "node/cli_rpc_int.h"

static void test_endpoint(void **state)
{
	struct cli_rpc r;
	char err[256];
	static const char *const bad[] = { "localhost", ":8645", "host:", "host:0", "host:65536", "host:-1",
		                           "host:+1", "host:80x", "::1:8645", "[::1]8645", "[::1:8645", "[]:1" };

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(cli_rpc_endpoint_set(&r, "127.0.0.1:8645", err, sizeof(err)), SN_OK);
	assert_string_equal(r.host, "127.0.0.1");
	assert_string_equal(r.port, "8645");
	assert_string_equal(r.display, "127.0.0.1:8645");
	assert_int_equal(r.timeout_ms, CLI_RPC_TIMEOUT_MS);
	assert_int_equal(cli_rpc_endpoint_set(&r, "[::1]:65535", err, sizeof(err)), SN_OK);
	assert_string_equal(r.host, "::1");
	assert_string_equal(r.port, "65535");
	assert_int_equal(cli_rpc_endpoint_set(&r, "node.example:1", err, sizeof(err)), SN_OK);
	assert_string_equal(r.host, "node.example");
	/* A wildcard listen address is reached on the loopback. */
	assert_int_equal(cli_rpc_endpoint_set(&r, "0.0.0.0:8645", err, sizeof(err)), SN_OK);
	assert_string_equal(r.host, "127.0.0.1");
	assert_int_equal(cli_rpc_endpoint_set(&r, "[::]:8645", err, sizeof(err)), SN_OK);
	assert_string_equal(r.host, "::1");
	for (size_t i = 0; i < SN_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		assert_int_equal(cli_rpc_endpoint_set(&r, bad[i], err, sizeof(err)), SN_E_INVAL);
		assert_non_null(strstr(err, "is not HOST:PORT"));
	}
}

static void read_ok(const char *resp, int want_status, const char *want_body)
{
	char err[256] = "", *body;
	size_t len;
	int status;

	if (cli_http_response_read(resp, strlen(resp), &status, &body, &len, err, sizeof(err)) != SN_OK)
		fail_msg("%s: %s", resp, err);
	assert_int_equal(status, want_status);
	assert_int_equal(len, strlen(want_body));
	assert_string_equal(body, want_body);
	sn_free(body);
}

static void read_bad(const char *resp, size_t len, const char *why)
{
	char err[256] = "", *body = (char *)1;
	size_t blen = 1;
	int status = 1;

	assert_int_equal(cli_http_response_read(resp, len, &status, &body, &blen, err, sizeof(err)), SN_E_INVAL);
	assert_null(body);
	assert_int_equal(blen, 0);
	if (!strstr(err, why))
		fail_msg("'%s' instead of '%s'", err, why);
}

static void test_response(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
	                         "{\"a\":\"bc\"}\n";

	(void)state;
	read_ok(ok, 200, "{\"a\":\"bc\"}\n");
	read_ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n", 200,
	        "{\"a\":1}");
	read_ok("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", 200, "until the end");
	read_ok("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"settled\"\r\nContent-Length: 0\r\n\r\n",
	        401, "");
	read_ok("HTTP/1.1 204 No Content\r\n\r\n", 204, "");
	/* Bytes after a complete response are not ours to read. */
	read_ok("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200, "ok");

	read_bad(ok, strlen(ok) - 1, "closed before the response was complete");
	read_bad(ok, 20, "closed before the response was complete");
	read_bad("", 0, "closed before the response was complete");
	read_bad("SSH-2.0-OpenSSH_9.2\r\n", 21, "malformed HTTP response");
	read_bad("HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", 38, "malformed HTTP response (status 20)");
	read_bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 51, "malformed HTTP response");
}

static void test_call_refused(void **state)
{
	struct cli_rpc r;
	struct cli_rpc_error e;
	json_t *res = (json_t *)1;
	char err[256], hp[32];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(sn_crypto_init(), SN_OK);
	/* A free port that nothing listens on. */
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", (unsigned)tu_free_port());
	assert_int_equal(cli_rpc_endpoint_set(&r, hp, err, sizeof(err)), SN_OK);
	assert_int_equal(cli_rpc_call(&r, "status", json_array(), &res, &e), SN_E_IO);
	assert_null(res);
	assert_int_equal(e.rpc_code, 0);
	snprintf(err, sizeof(err), "cannot reach the node at %s: connection refused (is settled running?)", hp);
	assert_string_equal(e.msg, err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_call_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
