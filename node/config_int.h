/* node/config_int.h — the node's configuration: defaults, the INI file (libinih) and overrides.
 * Internal to node/ (the daemon and the CLI). */
#ifndef SN_NODE_CONFIG_H
#define SN_NODE_CONFIG_H

#include <limits.h>
#include <stdio.h>

#include "common/common.h"

#define NODE_CONFIG_FILE "settled.conf"
#define NODE_GENESIS_FILE "genesis.json"
#define NODE_KEY_FILE "node.key"
#define NODE_ACCOUNT_KEY_FILE "account.key"
#define NODE_COOKIE_FILE "rpc.cookie"
#define NODE_DEFAULT_RPC_PORT 8645
#define NODE_DEFAULT_P2P_PORT 8646
#define NODE_P2P_BANS_FILE "p2p_bans.dat"
#define NODE_MEMPOOL_FILE "mempool.dat" /* pending transactions saved at a clean stop */

struct node_config {
	/* [node] */
	char data_dir[256];
	enum sn_log_level log_level;
	uint64_t block_interval_ms;
	uint64_t engine_threads;
	uint64_t map_size_mb;
	uint64_t tx_index;
	/* [rpc] */
	char rpc_address[64];
	uint64_t rpc_port;
	char rpc_user[64];
	char rpc_password[128];
	uint64_t rpc_max_body_bytes;
	uint64_t rpc_max_header_bytes;
	uint64_t rpc_max_connections;
	uint64_t rpc_threads;
	uint64_t rpc_idle_timeout_ms;
	/* [mempool] */
	uint64_t mempool_max_txs;
	uint64_t mempool_max_bytes;
	uint64_t mempool_persist;
	/* [p2p] */
	uint64_t p2p_enabled;
	char p2p_listen_address[64];
	uint64_t p2p_port;
	char p2p_seeds[1024];
	char p2p_persistent_peers[1024];
	uint64_t p2p_max_inbound;
	uint64_t p2p_max_outbound;
	uint64_t p2p_frame_max;
	uint64_t p2p_sendq_max_bytes;
	uint64_t p2p_handshake_timeout_ms;
	uint64_t p2p_ping_interval_ms;
	uint64_t p2p_ping_timeout_ms;
	uint64_t p2p_pex_interval_ms;
	uint64_t p2p_backoff_min_ms;
	uint64_t p2p_backoff_max_ms;
	uint64_t p2p_ban_seconds;
	uint64_t p2p_seen_cache;
	uint64_t p2p_tx_rate;
};

void node_config_defaults(struct node_config *c);
/* Reads path over c. A missing file is fine when optional. On error, err[errlen] says
 * "FILE:LINE: reason" (unknown section or key, bad value, syntax). */
SN_MUST_CHECK int node_config_load(struct node_config *c, const char *path, bool optional, char *err,
                                   size_t errlen);
/* Applies one "section.key=value" override (command line). */
SN_MUST_CHECK int node_config_set(struct node_config *c, const char *assignment, char *err, size_t errlen);
/* Parses one value for section/key into c (what the file parser and overrides share). */
SN_MUST_CHECK int node_config_parse(struct node_config *c, const char *section, const char *key,
                                    const char *value, char *err, size_t errlen);
/* Writes the default configuration, every key commented with its meaning, to f. */
void node_config_write_defaults(FILE *f);

#endif
