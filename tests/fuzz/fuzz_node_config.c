/* tests/fuzz/fuzz_node_config.c — the node's configuration on arbitrary input, three ways:
 *  1. the input as a whole INI file through node_config_load (a temporary file);
 *  2. the input split at NUL bytes into section, key and value for node_config_parse;
 *  3. the input up to its first NUL as a command-line override (node_config_set).
 * None may crash; every error must say why (and a file error where: "FILE:LINE: "), and
 * whatever was accepted must be within the documented bounds. */
#include "tests/fuzz/fuzz.h"
#include "node/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void check_bounds(const struct node_config *c)
{
	CHECK(memchr(c->data_dir, 0, sizeof(c->data_dir)));
	CHECK(memchr(c->rpc_address, 0, sizeof(c->rpc_address)));
	CHECK(memchr(c->rpc_user, 0, sizeof(c->rpc_user)));
	CHECK(memchr(c->rpc_password, 0, sizeof(c->rpc_password)));
	CHECK(c->log_level >= SN_LOG_TRACE && c->log_level <= SN_LOG_OFF);
	CHECK(c->block_interval_ms >= 10 && c->block_interval_ms <= 3600000);
	CHECK(c->engine_threads <= 64);
	CHECK(c->rpc_port >= 1 && c->rpc_port <= 65535);
	CHECK(c->rpc_max_body_bytes >= 1024);
	CHECK(c->rpc_max_connections >= 1);
	CHECK(c->mempool_max_txs >= 1);
}

static const char *tmp_path(void)
{
	static char path[256];

	if (!path[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(path, sizeof(path), "%s/fuzz_node_config.%ld.ini", base && *base ? base : "/tmp",
		         (long)getpid());
	}
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_config c;
	const char *path = tmp_path();
	char err[512], *copy, *parts[3] = { "", "", "" };
	size_t np = 0;
	FILE *f;
	int rc;

	/* 1. As a file. */
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	node_config_defaults(&c);
	err[0] = '\0';
	rc = node_config_load(&c, path, false, err, sizeof(err));
	if (rc != SN_OK) {
		CHECK(rc == SN_E_INVAL);
		CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
	}
	check_bounds(&c);
	unlink(path);

	/* 2. As section\0key\0value. */
	copy = malloc(size + 1);
	if (!copy)
		abort();
	if (size)
		memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; np < 3;) {
		parts[np++] = copy + i;
		i += strlen(copy + i) + 1;
		if (i > size)
			break;
	}
	node_config_defaults(&c);
	err[0] = '\0';
	rc = node_config_parse(&c, parts[0], parts[1], parts[2], err, sizeof(err));
	CHECK(rc == SN_OK || (rc == SN_E_INVAL && err[0]));
	check_bounds(&c);

	/* 3. As an override. */
	node_config_defaults(&c);
	err[0] = '\0';
	rc = node_config_set(&c, copy, err, sizeof(err));
	CHECK(rc == SN_OK || (rc == SN_E_INVAL && err[0]));
	check_bounds(&c);
	free(copy);
	return 0;
}
