/* tests/fuzz/fuzz_node_http_response.c — the settle CLI's HTTP response reader
 * (cli_http_response_read: http_parser over what a node, or anything listening on its port,
 * sends back). It must never crash; a response it accepts has a status code and a
 * NUL-terminated body no longer than the input. */
#include "tests/fuzz/fuzz.h"
#include "node/cli_rpc_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *body = NULL;
	size_t len = 0;
	int status = 0, rc;

	err[0] = '\0';
	rc = cli_http_response_read((const char *)data, size, &status, &body, &len, err, sizeof(err));
	if (rc != SN_OK) {
		CHECK(body == NULL && err[0]);
		return 0;
	}
	CHECK(body != NULL && body[len] == '\0');
	CHECK(len <= size);
	CHECK(status >= 100 && status <= 999);
	sn_free(body);
	return 0;
}
