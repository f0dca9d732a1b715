/* node/config.c — one table describes every configuration key: its default, its bounds and
 * its documentation; the INI parser (libinih), command-line overrides and `settle init`'s
 * commented default file are all driven by it. */
#include "node/config_int.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum cfg_type { CFG_U64, CFG_STR, CFG_LOGLEVEL };

struct cfg_key {
	const char *section, *key;
	enum cfg_type type;
	size_t off, size;
	uint64_t min, max;
	const char *def, *doc;
};

#define U64(sec, k, field, lo, hi, d, doc) \
	{ sec, k, CFG_U64, offsetof(struct node_config, field), 0, lo, hi, d, doc }
#define STR(sec, k, field, d, doc) \
	{ sec, k, CFG_STR, offsetof(struct node_config, field), sizeof(((struct node_config *)0)->field), 0, 0, d, doc }

static const struct cfg_key cfg_keys[] = {
	STR("node", "data_dir", data_dir, "data", "store directory, relative to the home directory unless absolute"),
	{ "node", "log_level", CFG_LOGLEVEL, offsetof(struct node_config, log_level), 0, 0, 0, "info",
	  "trace, debug, info, warn, error or off" },
	U64("node", "block_interval_ms", block_interval_ms, 10, 3600000, "1000",
	    "single-validator devnet: longest gap between blocks (transactions are committed within ~50 ms)"),
	U64("node", "engine_threads", engine_threads, 0, 64, "0",
	    "signature-check helper threads (0 = one per CPU; 1 = none)"),
	U64("node", "map_size_mb", map_size_mb, 1, 1u << 24, "1024",
	    "initial LMDB map size in MiB (it grows when full)"),
	U64("node", "tx_index", tx_index, 0, 1, "1",
	    "1: index committed transactions by id (get_tx, settle tx); 0: do not (get_tx finds pending ones "
	    "only); turned back on, the node indexes the blocks it missed when it starts"),
	STR("rpc", "address", rpc_address, "127.0.0.1", "JSON-RPC listen address (127.0.0.1 keeps it local)"),
	U64("rpc", "port", rpc_port, 1, 65535, "8645", "JSON-RPC listen port"),
	STR("rpc", "user", rpc_user, "", "optional basic-auth user (the cookie file always works)"),
	STR("rpc", "password", rpc_password, "", "password for rpc.user"),
	U64("rpc", "max_body_bytes", rpc_max_body_bytes, 1024, 64u << 20, "1048576", "largest request body"),
	U64("rpc", "max_header_bytes", rpc_max_header_bytes, 512, 1u << 20, "16384",
	    "largest request line plus headers"),
	U64("rpc", "max_connections", rpc_max_connections, 1, 65536, "256", "open RPC connections at most"),
	U64("rpc", "threads", rpc_threads, 0, 64, "4",
	    "threads serving RPC connections, each checking and admitting its requests' transactions "
	    "itself (0: the main loop serves them and hands signature checks to the engine's helpers)"),
	U64("rpc", "idle_timeout_ms", rpc_idle_timeout_ms, 100, 3600000, "30000",
	    "close a connection idle (or sending a request) this long"),
	U64("mempool", "max_txs", mempool_max_txs, 1, 10000000, "100000", "pending transactions at most"),
	U64("mempool", "max_bytes", mempool_max_bytes, 1024, 1ull << 34, "67108864",
	    "pending transaction bytes at most"),
	U64("mempool", "persist", mempool_persist, 0, 1, "1",
	    "1: a clean stop saves the pending transactions to mempool.dat in the home and the next "
	    "start admits them again; 0: they are dropped at a stop"),
	U64("p2p", "enabled", p2p_enabled, 0, 1, "1", "1: join the peer network (docs/p2p.md); 0: RPC only"),
	STR("p2p", "listen_address", p2p_listen_address, "127.0.0.1",
	    "peer listen address (IPv4 or IPv6 literal; 0.0.0.0 to accept peers from other hosts)"),
	U64("p2p", "port", p2p_port, 0, 65535, "8646", "peer listen port (0: do not listen, dial out only)"),
	STR("p2p", "seeds", p2p_seeds, "",
	    "comma-separated ip:port ([ipv6]:port) of nodes to learn peers from"),
	STR("p2p", "persistent_peers", p2p_persistent_peers, "",
	    "comma-separated ip:port of peers always kept connected (redialled, outside max_outbound)"),
	U64("p2p", "max_inbound", p2p_max_inbound, 1, 4096, "32", "inbound peers at most"),
	U64("p2p", "max_outbound", p2p_max_outbound, 1, 1024, "8", "outbound peers at most (persistent peers aside)"),
	U64("p2p", "frame_max", p2p_frame_max, 1024, 64u << 20, "4194304", "largest frame accepted or sent, bytes"),
	U64("p2p", "sendq_max_bytes", p2p_sendq_max_bytes, 2048, 1u << 30, "16777216",
	    "bytes queued to one peer at most (a peer that does not read is dropped)"),
	U64("p2p", "handshake_timeout_ms", p2p_handshake_timeout_ms, 100, 600000, "10000",
	    "a peer must finish the handshake within this"),
	U64("p2p", "ping_interval_ms", p2p_ping_interval_ms, 100, 3600000, "10000", "PING each peer this often"),
	U64("p2p", "ping_timeout_ms", p2p_ping_timeout_ms, 100, 3600000, "30000",
	    "drop a peer that has not answered a PING within this"),
	U64("p2p", "pex_interval_ms", p2p_pex_interval_ms, 100, 3600000, "30000", "ask each peer for its peers this often"),
	U64("p2p", "backoff_min_ms", p2p_backoff_min_ms, 10, 3600000, "500",
	    "first redial delay; doubles per failed dial, with jitter"),
	U64("p2p", "backoff_max_ms", p2p_backoff_max_ms, 10, 86400000, "60000", "longest redial delay"),
	U64("p2p", "ban_seconds", p2p_ban_seconds, 1, 31536000, "86400",
	    "how long a misbehaving peer stays banned (kept in p2p_bans.dat across restarts)"),
	U64("p2p", "seen_cache", p2p_seen_cache, 1024, 16u << 20, "65536",
	    "transaction digests remembered so each is gossiped once"),
	U64("p2p", "tx_rate", p2p_tx_rate, 1, 1000000, "10000",
	    "new transactions a second one peer may send (burst twice that); more are dropped and scored"),
};

static int cfg_set(struct node_config *c, const struct cfg_key *k, const char *value, char *err, size_t errlen)
{
	char *end;
	uint64_t v;
	enum sn_log_level lvl;

	switch (k->type) {
	case CFG_STR:
		if (strlen(value) >= k->size) {
			snprintf(err, errlen, "%s.%s: value longer than %zu characters", k->section, k->key,
			         k->size - 1);
			return SN_E_INVAL;
		}
		memcpy((char *)c + k->off, value, strlen(value) + 1);
		return SN_OK;
	case CFG_LOGLEVEL:
		if (sn_log_level_parse(&lvl, value)) {
			snprintf(err, errlen, "%s.%s: '%s' is not a log level (trace, debug, info, warn, error, off)",
			         k->section, k->key, value);
			return SN_E_INVAL;
		}
		memcpy((char *)c + k->off, &lvl, sizeof(lvl));
		return SN_OK;
	case CFG_U64:
		errno = 0;
		v = strtoull(value, &end, 10);
		if (!*value || *end || errno || value[0] == '-' || v < k->min || v > k->max) {
			snprintf(err, errlen, "%s.%s: '%s' is not a whole number from %llu to %llu", k->section,
			         k->key, value, (unsigned long long)k->min, (unsigned long long)k->max);
			return SN_E_INVAL;
		}
		memcpy((char *)c + k->off, &v, sizeof(v));
		return SN_OK;
	}
	return SN_E_INVAL;
}

int node_config_parse(struct node_config *c, const char *section, const char *key, const char *value,
                      char *err, size_t errlen)
{
	bool section_known = false;

	for (size_t i = 0; i < SN_ARRAY_LEN(cfg_keys); i++) {
		if (strcmp(cfg_keys[i].section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(cfg_keys[i].key, key) == 0)
			return cfg_set(c, &cfg_keys[i], value, err, errlen);
	}
	if (!section_known)
		snprintf(err, errlen, "unknown section [%s] (known: node, rpc, mempool, p2p)", section);
	else
		snprintf(err, errlen, "unknown key '%s' in [%s]", key, section);
	return SN_E_INVAL;
}

void node_config_defaults(struct node_config *c)
{
	char err[128];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < SN_ARRAY_LEN(cfg_keys); i++) {
		int rc = cfg_set(c, &cfg_keys[i], cfg_keys[i].def, err, sizeof(err));

		assert(rc == SN_OK);
		(void)rc;
	}
}

struct ini_ctx {
	struct node_config *c;
	FILE *f;
	int line;       /* line the reader returned last */
	int err_line;   /* first line our handler refused */
	int long_line;  /* first line longer than the parser's buffer */
	char reason[256];
};

static char *cfg_ini_read(char *buf, int size, void *stream)
{
	struct ini_ctx *x = stream;
	char *r = fgets(buf, size, x->f);
	size_t n;
	int ch;

	if (!r)
		return NULL;
	x->line++;
	n = strlen(buf);
	if (n && buf[n - 1] != '\n' && (ch = fgetc(x->f)) != EOF && ch != '\n') {
		/* Longer than the buffer: skip the rest of the line and hand the parser a line it
		 * refuses, so the error is at this line and no cut-off value is taken. */
		while ((ch = fgetc(x->f)) != EOF && ch != '\n')
			;
		if (!x->long_line)
			x->long_line = x->line;
		snprintf(buf, (size_t)size, "[");
	}
	return r;
}

static int cfg_ini_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	char reason[256];

	if (node_config_parse(x->c, section, name, value, reason, sizeof(reason)) == SN_OK)
		return 1;
	if (!x->err_line) {
		x->err_line = x->line;
		snprintf(x->reason, sizeof(x->reason), "%s", reason);
	}
	return 0;
}

int node_config_load(struct node_config *c, const char *path, bool optional, char *err, size_t errlen)
{
	struct ini_ctx x = { .c = c };
	int rc;

	x.f = fopen(path, "r");
	if (!x.f) {
		if (optional && errno == ENOENT)
			return SN_OK;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return sn_err_from_errno(errno);
	}
	rc = ini_parse_stream(cfg_ini_read, &x, cfg_ini_key, &x);
	fclose(x.f);
	if (rc == 0)
		return SN_OK;
	if (rc < 0)
		snprintf(err, errlen, "%s: cannot read", path);
	else if (rc == x.long_line)
		snprintf(err, errlen, "%s:%d: line longer than %d characters", path, rc, INI_MAX_LINE - 2);
	else if (rc == x.err_line)
		snprintf(err, errlen, "%s:%d: %s", path, rc, x.reason);
	else
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value, at most %d characters)",
		         path, rc, INI_MAX_LINE - 2);
	return SN_E_INVAL;
}

int node_config_set(struct node_config *c, const char *assignment, char *err, size_t errlen)
{
	char buf[512], *dot, *eq;

	if (strlen(assignment) >= sizeof(buf)) {
		snprintf(err, errlen, "override too long");
		return SN_E_INVAL;
	}
	strcpy(buf, assignment);
	dot = strchr(buf, '.');
	eq = strchr(buf, '=');
	if (!dot || !eq || dot > eq) {
		snprintf(err, errlen, "'%s': expected section.key=value", assignment);
		return SN_E_INVAL;
	}
	*dot = *eq = '\0';
	return node_config_parse(c, buf, dot + 1, eq + 1, err, errlen);
}

void node_config_write_defaults(FILE *f)
{
	const char *section = "";

	fprintf(f, "# settled configuration. Every key is shown with its default value.\n"
	           "# An unknown key or a bad value stops the node at start with FILE:LINE: reason.\n"
	           "# Command-line overrides: settled --set section.key=value\n");
	for (size_t i = 0; i < SN_ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(f, "\n[%s]\n", section);
		}
		fprintf(f, "# %s\n%s = %s\n", k->doc, k->key, k->def);
	}
}
