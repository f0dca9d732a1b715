/* tests/node/test_config.c — the node's configuration: defaults, every key through the INI
 * file, every kind of error with its exact "FILE:LINE: reason", command-line overrides, and
 * the commented default file (settle init) parsing back to the defaults. */
#include "testutil.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>

#include "node/config_int.h"

struct fx {
	char *dir;
	char path[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = tu_tmpdir("test_config");
	assert_non_null(f->dir);
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, NODE_CONFIG_FILE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Loads text as the config file; returns the error and leaves the message in err. */
static int load_text(struct fx *f, struct node_config *c, const char *text, char *err, size_t errlen)
{
	write_text(f->path, text);
	node_config_defaults(c);
	err[0] = '\0';
	return node_config_load(c, f->path, false, err, errlen);
}

/* The file's text must fail at line with exactly reason. */
static void expect_error(struct fx *f, const char *text, int line, const char *reason)
{
	struct node_config c;
	char err[512], want[1024];

	assert_int_equal(load_text(f, &c, text, err, sizeof(err)), SN_E_INVAL);
	snprintf(want, sizeof(want), "%s:%d: %s", f->path, line, reason);
	assert_string_equal(err, want);
}

static void assert_config_equal(const struct node_config *a, const struct node_config *b)
{
	assert_string_equal(a->data_dir, b->data_dir);
	assert_int_equal(a->log_level, b->log_level);
	assert_int_equal(a->block_interval_ms, b->block_interval_ms);
	assert_int_equal(a->engine_threads, b->engine_threads);
	assert_int_equal(a->map_size_mb, b->map_size_mb);
	assert_int_equal(a->tx_index, b->tx_index);
	assert_string_equal(a->rpc_address, b->rpc_address);
	assert_int_equal(a->rpc_port, b->rpc_port);
	assert_string_equal(a->rpc_user, b->rpc_user);
	assert_string_equal(a->rpc_password, b->rpc_password);
	assert_int_equal(a->rpc_max_body_bytes, b->rpc_max_body_bytes);
	assert_int_equal(a->rpc_max_header_bytes, b->rpc_max_header_bytes);
	assert_int_equal(a->rpc_max_connections, b->rpc_max_connections);
	assert_int_equal(a->rpc_idle_timeout_ms, b->rpc_idle_timeout_ms);
	assert_int_equal(a->mempool_max_txs, b->mempool_max_txs);
	assert_int_equal(a->mempool_max_bytes, b->mempool_max_bytes);
}

static void test_defaults(void **state)
{
	struct node_config c;

	(void)state;
	memset(&c, 0xA5, sizeof(c));
	node_config_defaults(&c);
	assert_string_equal(c.data_dir, "data");
	assert_int_equal(c.log_level, SN_LOG_INFO);
	assert_int_equal(c.block_interval_ms, 1000);
	assert_int_equal(c.engine_threads, 0);
	assert_int_equal(c.map_size_mb, 1024);
	assert_int_equal(c.tx_index, 1);
	assert_string_equal(c.rpc_address, "127.0.0.1");
	assert_int_equal(c.rpc_port, NODE_DEFAULT_RPC_PORT);
	assert_string_equal(c.rpc_user, "");
	assert_string_equal(c.rpc_password, "");
	assert_int_equal(c.rpc_max_body_bytes, 1048576);
	assert_int_equal(c.rpc_max_header_bytes, 16384);
	assert_int_equal(c.rpc_max_connections, 256);
	assert_int_equal(c.rpc_idle_timeout_ms, 30000);
	assert_int_equal(c.mempool_max_txs, 100000);
	assert_int_equal(c.mempool_max_bytes, 67108864);
}

static const char every_key[] = "; every key, none at its default\n"
                                "[node]\n"
                                "data_dir = /var/lib/settled\n"
                                "log_level = debug\n"
                                "block_interval_ms = 250\n"
                                "engine_threads = 4\n"
                                "map_size_mb = 64\n"
                                "tx_index = 0\n"
                                "\n"
                                "[rpc]\n"
                                "address = 0.0.0.0\n"
                                "port = 18645\n"
                                "user = alice\n"
                                "password = s3cret=with=equals\n"
                                "max_body_bytes = 2048\n"
                                "max_header_bytes = 1024\n"
                                "max_connections = 8\n"
                                "idle_timeout_ms = 500\n"
                                "# mempool limits\n"
                                "[mempool]\n"
                                "max_txs = 10\n"
                                "max_bytes = 4096\n";

static void every_key_config(struct node_config *c)
{
	node_config_defaults(c);
	strcpy(c->data_dir, "/var/lib/settled");
	c->log_level = SN_LOG_DEBUG;
	c->block_interval_ms = 250;
	c->engine_threads = 4;
	c->map_size_mb = 64;
	c->tx_index = 0;
	strcpy(c->rpc_address, "0.0.0.0");
	c->rpc_port = 18645;
	strcpy(c->rpc_user, "alice");
	strcpy(c->rpc_password, "s3cret=with=equals");
	c->rpc_max_body_bytes = 2048;
	c->rpc_max_header_bytes = 1024;
	c->rpc_max_connections = 8;
	c->rpc_idle_timeout_ms = 500;
	c->mempool_max_txs = 10;
	c->mempool_max_bytes = 4096;
}

static void test_every_key(void **state)
{
	struct fx *f = *state;
	struct node_config c, want;
	char err[512];

	assert_int_equal(load_text(f, &c, every_key, err, sizeof(err)), SN_OK);
	every_key_config(&want);
	assert_config_equal(&c, &want);
}

static void test_bounds_inclusive(void **state)
{
	struct fx *f = *state;
	struct node_config c;
	char err[512];

	assert_int_equal(load_text(f, &c, "[rpc]\nport = 1\n[node]\nblock_interval_ms = 3600000\n", err, sizeof(err)),
	                 SN_OK);
	assert_int_equal(c.rpc_port, 1);
	assert_int_equal(c.block_interval_ms, 3600000);
	assert_int_equal(load_text(f, &c, "[rpc]\nport = 65535\n[mempool]\nmax_bytes = 17179869184\n", err,
	                           sizeof(err)),
	                 SN_OK);
	assert_int_equal(c.rpc_port, 65535);
	assert_int_equal(c.mempool_max_bytes, 17179869184ull);
	/* Strings up to their size less one. */
	assert_int_equal(load_text(f, &c,
	                           "[rpc]\naddress = 123456789012345678901234567890123456789012345678901234567890123\n",
	                           err, sizeof(err)),
	                 SN_OK);
	assert_int_equal(strlen(c.rpc_address), 63);
}

static void test_unknown_section(void **state)
{
	expect_error(*state, "[node]\nlog_level = info\n\n[bogus]\nx = 1\n", 5,
	             "unknown section [bogus] (known: node, rpc, mempool, p2p)");
	/* A key before any section is in the unnamed section. */
	expect_error(*state, "port = 1\n", 1, "unknown section [] (known: node, rpc, mempool, p2p)");
}

static void test_unknown_key(void **state)
{
	expect_error(*state, "# comment\n[rpc]\nport = 8645\nprot = 1\n", 4, "unknown key 'prot' in [rpc]");
	/* A key of another section. */
	expect_error(*state, "[node]\nport = 1\n", 2, "unknown key 'port' in [node]");
}

static void test_bad_number(void **state)
{
	expect_error(*state, "[rpc]\nport = 80x\n", 2, "rpc.port: '80x' is not a whole number from 1 to 65535");
	expect_error(*state, "[rpc]\n\n\nport = -1\n", 4, "rpc.port: '-1' is not a whole number from 1 to 65535");
	expect_error(*state, "[rpc]\nport =\n", 2, "rpc.port: '' is not a whole number from 1 to 65535");
	expect_error(*state, "[rpc]\nport = 1.5\n", 2, "rpc.port: '1.5' is not a whole number from 1 to 65535");
	expect_error(*state, "[node]\nmap_size_mb = 99999999999999999999999\n", 2,
	             "node.map_size_mb: '99999999999999999999999' is not a whole number from 1 to 16777216");
}

static void test_out_of_range(void **state)
{
	expect_error(*state, "[rpc]\nport = 0\n", 2, "rpc.port: '0' is not a whole number from 1 to 65535");
	expect_error(*state, "[rpc]\nport = 65536\n", 2, "rpc.port: '65536' is not a whole number from 1 to 65535");
	expect_error(*state, "[node]\nblock_interval_ms = 9\n", 2,
	             "node.block_interval_ms: '9' is not a whole number from 10 to 3600000");
	expect_error(*state, "[mempool]\nmax_txs = 10000001\n", 2,
	             "mempool.max_txs: '10000001' is not a whole number from 1 to 10000000");
	expect_error(*state, "[rpc]\naddress = 1234567890123456789012345678901234567890123456789012345678901234\n", 2,
	             "rpc.address: value longer than 63 characters");
}

static void test_bad_log_level(void **state)
{
	expect_error(*state, "[node]\ndata_dir = x\nlog_level = loud\n", 3,
	             "node.log_level: 'loud' is not a log level (trace, debug, info, warn, error, off)");
}

static void test_syntax_error(void **state)
{
	char reason[160];

	snprintf(reason, sizeof(reason),
	         "syntax error (expected [section] or key = value, at most %d characters)", INI_MAX_LINE - 2);
	expect_error(*state, "[node]\nlog_level\n", 2, reason);
	expect_error(*state, "[node\nlog_level = info\n", 1, reason);
}

/* A line longer than the parser's buffer is an error at that line, not a truncated value
 * accepted silently (nor an error blamed on a later line). */
static void test_overlong_line(void **state)
{
	struct fx *f = *state;
	struct node_config c;
	char text[1024], err[512], want[1024];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "[node]\n# a comment\ndata_dir = ");
	memset(text + n, 'd', 250);
	strcpy(text + n + 250, "\nlog_level = info\n");
	assert_int_equal(load_text(f, &c, text, err, sizeof(err)), SN_E_INVAL);
	snprintf(want, sizeof(want), "%s:3: ", f->path);
	assert_memory_equal(err, want, strlen(want));
	assert_non_null(strstr(err, "characters"));
	/* Nothing of the line was applied. */
	assert_string_equal(c.data_dir, "data");
}

static void test_first_error_wins(void **state)
{
	expect_error(*state, "[rpc]\nport = 0\n[bogus]\nx = 1\n[node]\nlog_level = loud\n", 2,
	             "rpc.port: '0' is not a whole number from 1 to 65535");
}

static void test_missing_file(void **state)
{
	struct fx *f = *state;
	struct node_config c, d;
	char err[512] = "", want[1024];

	node_config_defaults(&c);
	node_config_defaults(&d);
	assert_int_equal(node_config_load(&c, f->path, true, err, sizeof(err)), SN_OK);
	assert_config_equal(&c, &d);
	assert_int_not_equal(node_config_load(&c, f->path, false, err, sizeof(err)), SN_OK);
	snprintf(want, sizeof(want), "%s: No such file or directory", f->path);
	assert_string_equal(err, want);
}

static void test_overrides(void **state)
{
	struct node_config c;
	char err[256];

	(void)state;
	node_config_defaults(&c);
	assert_int_equal(node_config_set(&c, "rpc.port=18645", err, sizeof(err)), SN_OK);
	assert_int_equal(c.rpc_port, 18645);
	assert_int_equal(node_config_set(&c, "node.log_level=trace", err, sizeof(err)), SN_OK);
	assert_int_equal(c.log_level, SN_LOG_TRACE);
	assert_int_equal(node_config_set(&c, "node.data_dir=./a.b=c", err, sizeof(err)), SN_OK);
	assert_string_equal(c.data_dir, "./a.b=c");
	assert_int_equal(node_config_set(&c, "rpc.password=", err, sizeof(err)), SN_OK);
	assert_string_equal(c.rpc_password, "");

	assert_int_equal(node_config_set(&c, "rpc.port", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "'rpc.port': expected section.key=value");
	assert_int_equal(node_config_set(&c, "port=1", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "'port=1': expected section.key=value");
	assert_int_equal(node_config_set(&c, "rpc=a.b", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "'rpc=a.b': expected section.key=value");
	assert_int_equal(node_config_set(&c, "rpc.prot=1", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "unknown key 'prot' in [rpc]");
	assert_int_equal(node_config_set(&c, "gossip.port=1", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "unknown section [gossip] (known: node, rpc, mempool, p2p)");
	assert_int_equal(node_config_set(&c, "p2p.max_inbound=0", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "p2p.max_inbound: '0' is not a whole number from 1 to 4096");
	assert_int_equal(node_config_set(&c, "rpc.port=0", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "rpc.port: '0' is not a whole number from 1 to 65535");
	/* A failed override changes nothing. */
	assert_int_equal(c.rpc_port, 18645);
}

static void test_overrides_after_file(void **state)
{
	struct fx *f = *state;
	struct node_config c;
	char err[512];

	assert_int_equal(load_text(f, &c, every_key, err, sizeof(err)), SN_OK);
	assert_int_equal(node_config_set(&c, "mempool.max_txs=77", err, sizeof(err)), SN_OK);
	assert_int_equal(c.mempool_max_txs, 77);
	assert_int_equal(c.rpc_port, 18645);
}

static void test_parse_direct(void **state)
{
	struct node_config c;
	char err[256];

	(void)state;
	node_config_defaults(&c);
	assert_int_equal(node_config_parse(&c, "rpc", "max_connections", "65536", err, sizeof(err)), SN_OK);
	assert_int_equal(c.rpc_max_connections, 65536);
	assert_int_equal(node_config_parse(&c, "rpc", "max_connections", "65537", err, sizeof(err)), SN_E_INVAL);
	assert_int_equal(node_config_parse(&c, "node", "log_level", "OFF", err, sizeof(err)), SN_OK);
	assert_int_equal(c.log_level, SN_LOG_OFF);
	assert_int_equal(node_config_parse(&c, "", "", "", err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, "unknown section [] (known: node, rpc, mempool, p2p)");
}

/* settle init writes this file: it must parse back to the defaults, whatever came before. */
static void test_defaults_file_round_trip(void **state)
{
	struct fx *f = *state;
	struct node_config c, d;
	char err[512];
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	node_config_write_defaults(fp);
	assert_int_equal(fclose(fp), 0);
	every_key_config(&c); /* every value differs from its default */
	assert_int_equal(node_config_load(&c, f->path, false, err, sizeof(err)), SN_OK);
	node_config_defaults(&d);
	assert_config_equal(&c, &d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_inclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_number, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_log_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_error_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test_setup_teardown(test_overrides_after_file, setup, teardown),
		cmocka_unit_test(test_parse_direct),
		cmocka_unit_test_setup_teardown(test_defaults_file_round_trip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
