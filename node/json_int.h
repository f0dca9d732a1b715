/* node/json_int.h — what the node's JSON speakers share: the JSON-RPC error codes of docs/rpc.md
 * and jansson builders for our value conventions (hex bytes, decimal-string amounts).
 * Internal to node/. */
#ifndef SN_NODE_JSON_H
#define SN_NODE_JSON_H

#include <jansson.h>

#include "common/common.h"

enum node_rpc_code {
	NODE_RPC_PARSE_ERROR = -32700,
	NODE_RPC_INVALID_REQUEST = -32600,
	NODE_RPC_NO_METHOD = -32601,
	NODE_RPC_INVALID_PARAMS = -32602,
	NODE_RPC_INTERNAL = -32603,
	NODE_RPC_REJECTED = -32000,
	NODE_RPC_NOT_FOUND = -32001,
	NODE_RPC_NOT_READY = -32002,
};

/* A new JSON string of n bytes in lowercase hex (NULL when out of memory). */
json_t *node_json_hex(const uint8_t *b, size_t n);
/* A new JSON string with v in decimal (amounts may exceed 2^53). */
json_t *node_json_dec(uint64_t v);
json_t *node_json_dec128(unsigned __int128 v);

/* Decodes a JSON text exactly as json_loadb(text, len, JSON_REJECT_DUPLICATES, err) does: the
 * same texts accepted, the same values (types included), the same errors. Most texts (no
 * backslash, nesting under NODE_JSON_FAST_DEPTH) are decoded through YAJL's lexer, about
 * three times faster than jansson's on a submit_tx request; the rest, and every text YAJL or
 * the tree builder declines, go to jansson, which then has the last word (and gives the error
 * message). tests/fuzz/fuzz_node_json.c checks that both agree on every input. Returns a new
 * reference (the caller's), NULL with *err filled in on error. */
json_t *node_json_loadb(const char *text, size_t len, json_error_t *err);
/* The fast path alone: NULL when it declines (the text may still be valid JSON). Internal;
 * exposed for the tests. */
json_t *node__json_load_fast(const char *text, size_t len);
#define NODE_JSON_FAST_DEPTH 64

#endif
