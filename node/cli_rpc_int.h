/* node/cli_rpc_int.h — the `settle` CLI's JSON-RPC client: one blocking HTTP/1.1 POST per call
 * over a POSIX socket, the response parsed by http_parser and its body by jansson
 * (docs/rpc.md). Internal to node/; used by node/settle_main.c only. Not thread-safe. */
#ifndef SN_NODE_CLI_RPC_H
#define SN_NODE_CLI_RPC_H

#include <jansson.h>

#include "common/common.h"
#include "node/json_int.h"

#define CLI_RPC_TIMEOUT_MS 10000           /* connect, and the whole response after it */
#define CLI_RPC_MAX_RESPONSE (256u << 20) /* a block with raw=true is ~68 MB of hex at most */
#define CLI_RPC_MSG_LEN 1024

struct cli_rpc {
	char host[256];    /* name or address, without IPv6 brackets */
	char port[8];
	char display[272]; /* HOST:PORT as people wrote it, for messages */
	char auth[256];    /* "user:password" for basic auth; empty: none */
	char auth_source[640]; /* where auth came from, for the 401 message */
	int timeout_ms;
};

/* Sets the endpoint from "HOST:PORT" or "[V6ADDR]:PORT". A wildcard listen address (0.0.0.0,
 * ::) becomes the loopback address. SN_E_INVAL with err set on a malformed value. */
SN_MUST_CHECK int cli_rpc_endpoint_set(struct cli_rpc *r, const char *hostport, char *err, size_t errlen);

/* What a failed call knows. rpc_code is the JSON-RPC error code when the node answered with
 * an error object (0 otherwise); rpc_name its data.error or data.param (may be empty);
 * msg one line for people in every failure. */
struct cli_rpc_error {
	int rpc_code;
	char rpc_name[64];
	char rpc_message[256];
	char msg[CLI_RPC_MSG_LEN];
};

/* Calls method with params (a JSON array or object; the reference is stolen, also on
 * failure). On SN_OK *result is the "result" member, a new reference owned by the caller
 * (json_decref); on failure *result is NULL and e says why (e is zeroed on entry).
 * Errors: SN_E_IO (cannot connect, send or receive, or timed out), SN_E_NOTFOUND (JSON-RPC
 * error -32001), SN_E_INVAL (any other JSON-RPC error, with e->rpc_code set; an HTTP error
 * status such as 401; or a response that is not a JSON-RPC 2.0 response), SN_E_NOMEM. */
SN_MUST_CHECK int cli_rpc_call(const struct cli_rpc *r, const char *method, json_t *params, json_t **result,
                               struct cli_rpc_error *e);

/* The HTTP exchange alone, for tests: parses one HTTP/1.1 response held in resp[len] (as if
 * the peer then closed the connection). On SN_OK *status is the status code and *body (owned
 * by the caller, sn_free; NUL-terminated) and *body_len the decoded body (chunked or not).
 * SN_E_INVAL with err set if the bytes are not one complete HTTP response. */
SN_MUST_CHECK int cli_http_response_read(const char *resp, size_t len, int *status, char **body,
                                         size_t *body_len, char *err, size_t errlen);

#endif
