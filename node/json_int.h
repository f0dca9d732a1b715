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

#endif
