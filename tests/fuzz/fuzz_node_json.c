/* tests/fuzz/fuzz_node_json.c — the node's request-body decoder (node_json_loadb: YAJL's
 * lexer with jansson values, jansson for what it declines) against jansson alone. The fast
 * path must never accept a text jansson refuses, nor build a different value from one it
 * accepts: a second parser with other rules in front of the RPC would let a client smuggle a
 * request past anything that reads bodies with jansson's rules. And node_json_loadb as a
 * whole must agree with jansson on every text, errors included. */
#include "tests/fuzz/fuzz.h"
#include "node/json_int.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je, ne;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	json_t *f = node__json_load_fast((const char *)data, size);
	json_t *n = node_json_loadb((const char *)data, size, &ne);

	if (f) {
		CHECK(j != NULL);
		CHECK(json_equal(f, j));
	}
	CHECK((n == NULL) == (j == NULL));
	if (n)
		CHECK(json_equal(n, j));
	else
		CHECK(strcmp(ne.text, je.text) == 0 && ne.line == je.line && ne.column == je.column);
	json_decref(j);
	json_decref(f);
	json_decref(n);
	return 0;
}
