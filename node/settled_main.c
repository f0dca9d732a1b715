/* node/settled_main.c — `settled`, the node daemon. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/daemon_int.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: settled [--home DIR] [options]\n"
	        "\n"
	        "Runs a settled node from its home directory (create one with `settle init --home DIR`).\n"
	        "It reads DIR/settled.conf (INI; every key is documented in README.md), DIR/genesis.json\n"
	        "and DIR/node.key, serves JSON-RPC (docs/rpc.md) and, when its node key is the chain's\n"
	        "only validator, produces blocks. SIGINT/SIGTERM stop it cleanly.\n"
	        "\n"
	        "options:\n"
	        "  --home DIR            home directory (default: $SETTLED_HOME, else ./.settled)\n"
	        "  --log-level LEVEL     trace, debug, info, warn, error or off (overrides node.log_level)\n"
	        "  --rpc-address ADDR    overrides rpc.address\n"
	        "  --rpc-port PORT       overrides rpc.port\n"
	        "  --set SECTION.KEY=VALUE  overrides any config key (repeatable)\n"
	        "  --version             prints the version\n"
	        "  --help                prints this help\n");
}

static int fail(const char *msg)
{
	fprintf(stderr, "settled: %s\n", msg);
	return 1;
}

#define LOCK_FILE "settled.lock"

/* One settled per home: an exclusive flock on HOME/settled.lock, held (the descriptor stays
 * open) until the process exits. A second node on the same home would overwrite the first
 * one's rpc.cookie, delete it when it stops, and write blocks into the same LMDB store behind
 * the first one's back (two tips, broken prev_hash links). The file holds the owner's pid
 * for the message; it is never removed (removing a lock file races with the next locker).
 * Prints why on stderr and returns -1 if the home is taken. */
static int home_lock(const char *home)
{
	char path[PATH_MAX + 64], pid[32] = { 0 };
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", home, LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "settled: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = (int)read(fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			fprintf(stderr, "settled: another settled%s%s%s is running on %s (%s is locked)\n",
			        pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", home, path);
		else
			fprintf(stderr, "settled: cannot lock %s: %s\n", path, strerror(e));
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		SN_LOG(SN_LOG_WARN, "node", "cannot write our pid to %s", path);
	return fd; /* kept open: the lock lasts as long as the process */
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'h' },      { "log-level", required_argument, NULL, 'l' },
		{ "rpc-address", required_argument, NULL, 'a' }, { "rpc-port", required_argument, NULL, 'p' },
		{ "set", required_argument, NULL, 's' },       { "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, '?' },            { NULL, 0, NULL, 0 },
	};
	static struct node_daemon d;
	const char *home = getenv("SETTLED_HOME");
	char err[512], path[PATH_MAX + 64], *sets[64];
	const char *log_level = NULL, *rpc_address = NULL, *rpc_port = NULL;
	size_t n_sets = 0;
	uint8_t seed[32];
	struct stat sb;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': home = optarg; break;
		case 'l': log_level = optarg; break;
		case 'a': rpc_address = optarg; break;
		case 'p': rpc_port = optarg; break;
		case 's':
			if (n_sets == SN_ARRAY_LEN(sets))
				return fail("too many --set options");
			sets[n_sets++] = optarg;
			break;
		case 'V': printf("settled %s\n", SETTLED_VERSION); return 0;
		default:
			usage(c == '?' && optopt == 0 && strcmp(argv[optind - 1], "--help") == 0 ? stdout : stderr);
			return strcmp(argv[optind - 1], "--help") == 0 ? 0 : 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "settled: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* libuv writes with write(2): a client that goes away mid-reply must not kill the node. */
	signal(SIGPIPE, SIG_IGN);
	/* A file-size limit (ulimit -f) reached by the store is a full disk, not a reason to die:
	 * the write fails with EFBIG and the store waits for room (store_disk_full). */
	signal(SIGXFSZ, SIG_IGN);
	if (!home || !*home)
		home = ".settled";
	if (strlen(home) >= sizeof(d.home) - 64)
		return fail("--home path too long");
	if (sn_crypto_init())
		return fail("cannot initialise libsodium/libsecp256k1");
	snprintf(d.home, sizeof(d.home), "%s", home);
	if (stat(home, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "settled: %s is not a node home; create one with: settle init --home %s\n", home, home);
		return 1;
	}

	/* Configuration: defaults, then the file, then the command line. */
	node_config_defaults(&d.cfg);
	snprintf(path, sizeof(path), "%s/%s", home, NODE_CONFIG_FILE);
	if (node_config_load(&d.cfg, path, true, err, sizeof(err)))
		return fail(err);
	for (size_t i = 0; i < n_sets; i++)
		if (node_config_set(&d.cfg, sets[i], err, sizeof(err))) {
			fprintf(stderr, "settled: --set %s\n", err);
			return 1;
		}
	if (log_level && node_config_parse(&d.cfg, "node", "log_level", log_level, err, sizeof(err)))
		return fail(err);
	if (rpc_address && node_config_parse(&d.cfg, "rpc", "address", rpc_address, err, sizeof(err)))
		return fail(err);
	if (rpc_port && node_config_parse(&d.cfg, "rpc", "port", rpc_port, err, sizeof(err)))
		return fail(err);
	if (node_p2p_config_check(&d.cfg, err, sizeof(err)))
		return fail(err);
	sn_log_set(NULL, NULL, d.cfg.log_level);

	/* Before anything is written: the cookie, the store. */
	if (home_lock(home) < 0)
		return 1;

	/* Keys: refused if group or others can read them. */
	snprintf(path, sizeof(path), "%s/%s", home, NODE_ACCOUNT_KEY_FILE);
	if (access(path, F_OK) == 0) {
		uint8_t sk[SN_SECKEY_LEN];

		rc = node_keyfile_read(path, sk, sizeof(sk), err, sizeof(err));
		sn_wipe(sk, sizeof(sk));
		if (rc)
			return fail(err);
	}
	snprintf(path, sizeof(path), "%s/%s", home, NODE_KEY_FILE);
	if (node_keyfile_read(path, seed, sizeof(seed), err, sizeof(err)))
		return fail(err);
	d.node_sk = sodium_malloc(NODE_ED25519_SK_LEN);
	if (!d.node_sk)
		return fail("out of memory");
	node_ed25519_from_seed(d.node_pk, d.node_sk, seed);
	sn_wipe(seed, sizeof(seed));
	sodium_mprotect_readonly(d.node_sk);

	snprintf(path, sizeof(path), "%s/%s", home, NODE_GENESIS_FILE);
	if (node_genesis_load(&d.gen, path, err, sizeof(err)))
		return fail(err);
	for (size_t i = 0; i < d.gen.n_validators; i++)
		if (memcmp(d.gen.validators[i].key, d.node_pk, NODE_ED25519_PK_LEN) == 0)
			d.producer = d.gen.n_validators == 1;
	if (!d.producer && d.gen.n_validators > 1)
		SN_LOG(SN_LOG_WARN, "node", "genesis has %zu validators: BFT consensus is not in this build yet, so this "
		       "node will serve but not produce blocks", d.gen.n_validators);
	SN_LOG(SN_LOG_INFO, "node", "settled %s, chain %u, home %s", SETTLED_VERSION, d.gen.chain_id, home);

	rc = node_daemon_run(&d);
	node_genesis_free(&d.gen);
	sodium_free(d.node_sk); /* zeroes before freeing */
	return rc;
}
