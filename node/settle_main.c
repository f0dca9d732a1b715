/* node/settle_main.c — `settle`, the command-line client of settled (docs/cli.md).
 *
 * Local commands (keygen, init) work on files; the others talk JSON-RPC to a running node
 * (node/cli_rpc.c, docs/rpc.md). Commands and their options are described in one table,
 * which drives parsing, --help and the usage errors. Output is for people by default and
 * the node's raw JSON result with --json. A failure prints one line "settle: <reason>" on
 * stderr. Exit codes: 0 success, 1 error, 2 usage. Secret keys are wiped after use. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/cli_gov_int.h"
#include "node/cli_rpc_int.h"
#include "node/config_int.h"
#include "node/home_int.h"
#include "node/node.h"

#define EXIT_USAGE 2
#define DEFAULT_HOME ".settled"
#define WAIT_SECONDS 30
#define WAIT_POLL_FIRST_MS 4 /* a quiet node commits a transaction within a few ms */
#define WAIT_POLL_MAX_MS 200
#define INIT_ROOT_BALANCE 1000000000000000ull
#define INIT_VALIDATOR_POWER 10
#define INIT_MAX_BLOCK_TXS 10000
#define MEMPOOL_SCAN_LIMIT 10000 /* list_mempool's maximum: pending nonces of our signer */
#define MAX_POS 2
#define MAX_CMD_OPTS 8

struct cli;

struct cli_opt {
	const char *name; /* without the leading "--" */
	const char *arg;  /* metavariable, or NULL for a flag */
	const char *help;
};

struct cli_cmd {
	const char *name;
	const char *synopsis; /* after "settle NAME" */
	const char *summary;  /* one line for `settle --help` */
	const char *help;     /* what it does, for `settle NAME --help` */
	size_t min_pos, max_pos;
	struct cli_opt opts[MAX_CMD_OPTS];
	int (*run)(struct cli *c);
};

struct cli {
	const struct cli_cmd *cmd;
	const char *home;
	const char *rpc_addr, *rpc_user, *rpc_password;
	bool json, no_wait, help, version;
	const char *pos[MAX_POS];
	size_t npos;
	const char *val[MAX_CMD_OPTS]; /* by index in cmd->opts; flags get "" */
	struct cli_rpc rpc;
};

static const struct cli_opt global_opts[] = {
	{ "home", "DIR", "the node's home directory (default: $SETTLED_HOME, else ./" DEFAULT_HOME ")" },
	{ "rpc", "HOST:PORT", "the node's JSON-RPC address (default: [rpc] address and port of HOME/"
	                      NODE_CONFIG_FILE ", else 127.0.0.1:8645)" },
	{ "rpc-user", "USER", "basic-auth user instead of HOME/" NODE_COOKIE_FILE " (with --rpc-password)" },
	{ "rpc-password", "PASSWORD", "basic-auth password for --rpc-user" },
	{ "json", NULL, "print the node's JSON result instead of text (for scripts)" },
	{ "no-wait", NULL, "register, transfer: return once the node accepted the transaction" },
	{ "help", NULL, "say what a command does and its options" },
	{ "version", NULL, "print the version" },
};

/* ------------------------------------------------------------------ errors */

static int fail(const char *fmt, ...) SN_PRINTF(1, 2);
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("settle: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

static int usage(const struct cli_cmd *cmd, const char *fmt, ...) SN_PRINTF(2, 3);
static int usage(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("settle: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see settle %s%s--help)\n", cmd ? cmd->name : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/* snprintf that may cut long paths short (messages only). */
static void say(char *out, size_t len, const char *fmt, ...) SN_PRINTF(3, 4);
static void say(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ values */

/* A whole decimal number that fits u64 (digits only). */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	*out = 0;
	if (!s || !*s)
		return SN_E_INVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return SN_E_INVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return SN_OK;
}

static int parse_address(const char *s, uint8_t out[SN_PUBKEY_LEN])
{
	if (!s || sn_hex_decode(out, SN_PUBKEY_LEN, s) || sn_schnorr_pubkey_check(out))
		return SN_E_INVAL;
	return SN_OK;
}

static const char *opt_val(const struct cli *c, const char *name)
{
	for (size_t i = 0; i < MAX_CMD_OPTS && c->cmd->opts[i].name; i++)
		if (strcmp(c->cmd->opts[i].name, name) == 0)
			return c->val[i];
	assert(!"option not in the command's table");
	return NULL;
}

/* An optional u64 option: *out = def when absent. Returns 0, or the usage exit code. */
static int opt_u64(const struct cli *c, const char *name, uint64_t def, uint64_t *out)
{
	const char *v = opt_val(c, name);

	*out = def;
	if (v && parse_u64(v, out))
		return usage(c->cmd, "--%s: '%s' is not a whole number from 0 to 18446744073709551615", name, v);
	return 0;
}

static int opt_address(const struct cli *c, const char *name, uint8_t out[SN_PUBKEY_LEN])
{
	const char *v = opt_val(c, name);

	if (!v)
		return usage(c->cmd, "--%s ADDR is required", name);
	if (parse_address(v, out))
		return usage(c->cmd, "--%s: '%s' is not an address (64 hex characters of a BIP340 public key)", name,
		             v);
	return 0;
}

static void home_path(char *out, size_t len, const struct cli *c, const char *file)
{
	say(out, len, "%s/%s", c->home, file);
}

/* Text of a JSON member for people: strings as they are, numbers in decimal, null as given. */
static const char *jtext(const json_t *obj, const char *key, char *buf, size_t len, const char *if_null)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_true(v) || json_is_false(v))
		return json_is_true(v) ? "true" : "false";
	return if_null;
}
#define JT(obj, key) jtext((obj), (key), (char[32]){ 0 }, 32, "?")

static const char *time_text(const json_t *obj, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(obj, key);
	time_t t;
	struct tm tm;
	char when[32];

	if (!json_is_integer(v))
		return "?";
	t = (time_t)(json_integer_value(v) / 1000);
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof(when), "?");
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT " ms (%s)", json_integer_value(v), when);
	return buf;
}

static void print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s)
		puts(s);
	free(s);
}

static void print_json_new(json_t *v) /* steals v */
{
	print_json(v);
	json_decref(v);
}

/* ------------------------------------------------------------------ RPC */

static int read_cookie(const char *path, char *out, size_t len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	out[0] = '\0';
	if (!f) {
		say(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return sn_err_from_errno(errno);
	}
	n = fread(out, 1, len - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (!n || !strchr(out, ':')) {
		sn_wipe(out, len);
		say(why, whylen, "%s is not user:password", path);
		return SN_E_INVAL;
	}
	return SN_OK;
}

/* The endpoint and credentials (exit code or 0). */
static int rpc_auth_setup(struct cli *c, const struct node_config *cfg)
{
	char path[PATH_MAX], err[512], hostport[128];
	int rc;

	if (c->rpc_addr) {
		snprintf(hostport, sizeof(hostport), "%s", c->rpc_addr);
	} else if (strchr(cfg->rpc_address, ':')) {
		snprintf(hostport, sizeof(hostport), "[%s]:%llu", cfg->rpc_address, (unsigned long long)cfg->rpc_port);
	} else {
		snprintf(hostport, sizeof(hostport), "%s:%llu", cfg->rpc_address, (unsigned long long)cfg->rpc_port);
	}
	if (cli_rpc_endpoint_set(&c->rpc, hostport, err, sizeof(err)))
		return c->rpc_addr ? usage(NULL, "--rpc: %s", err)
		                   : fail("%s/%s: rpc.address: %s", c->home, NODE_CONFIG_FILE, err);

	if (!c->rpc_user != !c->rpc_password)
		return usage(NULL, "--rpc-user and --rpc-password go together");
	if (c->rpc_user) {
		if (snprintf(c->rpc.auth, sizeof(c->rpc.auth), "%s:%s", c->rpc_user, c->rpc_password) >=
		    (int)sizeof(c->rpc.auth))
			return usage(NULL, "--rpc-user/--rpc-password: too long");
		snprintf(c->rpc.auth_source, sizeof(c->rpc.auth_source), "--rpc-user/--rpc-password");
		return 0;
	}
	home_path(path, sizeof(path), c, NODE_COOKIE_FILE);
	rc = read_cookie(path, c->rpc.auth, sizeof(c->rpc.auth), err, sizeof(err));
	if (rc == SN_OK) {
		snprintf(c->rpc.auth_source, sizeof(c->rpc.auth_source), "rpc.cookie");
	} else if (cfg->rpc_user[0]) {
		snprintf(c->rpc.auth, sizeof(c->rpc.auth), "%s:%s", cfg->rpc_user, cfg->rpc_password);
		say(c->rpc.auth_source, sizeof(c->rpc.auth_source), "rpc.user of %s/%s", c->home, NODE_CONFIG_FILE);
	} else {
		/* Try without: a node that is not running is then reported as such. */
		say(c->rpc.auth_source, sizeof(c->rpc.auth_source),
		    "%s; is %s the node's home? else use --rpc-user/--rpc-password", err, c->home);
	}
	return 0;
}

/* Where the node is and how we authenticate: --rpc, else HOME/settled.conf; --rpc-user, else
 * HOME/rpc.cookie, else the config's rpc.user. */
static int rpc_setup(struct cli *c)
{
	struct node_config cfg;
	char path[PATH_MAX], err[512];
	int rc;

	node_config_defaults(&cfg);
	home_path(path, sizeof(path), c, NODE_CONFIG_FILE);
	rc = node_config_load(&cfg, path, true, err, sizeof(err));
	if (rc == SN_OK)
		rc = rpc_auth_setup(c, &cfg);
	sn_wipe(&cfg, sizeof(cfg));
	return rc ? (rc < 0 ? fail("%s", err) : rc) : 0;
}

/* Calls the node; on failure prints why and returns non-zero (the exit code). */
static int rpc(struct cli *c, const char *method, json_t *params, json_t **result)
{
	struct cli_rpc_error e;
	int rc = cli_rpc_call(&c->rpc, method, params, result, &e);

	return rc ? fail("%s", e.msg) : 0;
}

/* Like rpc(), but a "not found" answer gives *found = false instead of failing. */
static int rpc_find(struct cli *c, const char *method, json_t *params, json_t **result, bool *found)
{
	struct cli_rpc_error e;
	int rc = cli_rpc_call(&c->rpc, method, params, result, &e);

	*found = rc == SN_OK;
	if (rc == SN_E_NOTFOUND)
		return 0;
	return rc ? fail("%s", e.msg) : 0;
}

/* Prints the result as JSON (--json) or with the command's printer. */
static int show(struct cli *c, json_t *result, void (*print)(const json_t *))
{
	if (c->json)
		print_json(result);
	else
		print(result);
	json_decref(result);
	return 0;
}

/* ------------------------------------------------------------------ keygen, init */

static int cmd_address(struct cli *c)
{
	const char *key_opt = opt_val(c, "key");
	char key_path[PATH_MAX], err[512], addr[2 * SN_PUBKEY_LEN + 1];
	uint8_t sk[SN_SECKEY_LEN], pk[SN_PUBKEY_LEN];
	int rc;

	if (key_opt)
		snprintf(key_path, sizeof(key_path), "%s", key_opt);
	else
		home_path(key_path, sizeof(key_path), c, NODE_ACCOUNT_KEY_FILE);
	if (node_keyfile_read(key_path, sk, sizeof(sk), err, sizeof(err)))
		return fail("%s", err);
	rc = sn_schnorr_pubkey(pk, sk);
	sn_wipe(sk, sizeof(sk));
	if (rc)
		return fail("%s does not hold a valid BIP340 secret key", key_path);
	sn_hex_encode(addr, pk, sizeof(pk));
	if (c->json)
		print_json_new(json_pack("{s:s,s:s}", "address", addr, "key_file", key_path));
	else
		printf("%s\n", addr);
	return 0;
}

static int cmd_keygen(struct cli *c)
{
	const char *out = opt_val(c, "out");
	uint8_t sk[SN_SECKEY_LEN], pk[SN_PUBKEY_LEN];
	char addr[2 * SN_PUBKEY_LEN + 1], skhex[2 * SN_SECKEY_LEN + 1];
	int rc;

	if (sn_schnorr_keygen(sk, pk))
		return fail("cannot generate a key");
	sn_hex_encode(addr, pk, sizeof(pk));
	if (out) {
		rc = node_keyfile_write(out, sk, sizeof(sk));
		sn_wipe(sk, sizeof(sk));
		if (rc == SN_E_EXISTS)
			return fail("%s exists; a key file is never overwritten", out);
		if (rc)
			return fail("cannot write %s: %s", out, sn_strerror(rc));
		if (c->json)
			print_json_new(json_pack("{s:s,s:s}", "address", addr, "key_file", out));
		else
			printf("%s\n", addr);
		return 0;
	}
	sn_hex_encode(skhex, sk, sizeof(sk));
	sn_wipe(sk, sizeof(sk));
	if (c->json) {
		json_t *j = json_pack("{s:s,s:s}", "address", addr, "secret_key", skhex);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

		if (text) {
			puts(text);
			sn_wipe(text, strlen(text));
		}
		free(text);
		json_decref(j); /* jansson's copy of the hex is freed unwiped: only the output holds it anyway */
	} else
		printf("address     %s\nsecret key  %s\n", addr, skhex);
	sn_wipe(skhex, sizeof(skhex));
	return 0;
}

static int cmd_init(struct cli *c)
{
	static const char *const files[] = { NODE_KEY_FILE, NODE_ACCOUNT_KEY_FILE, NODE_GENESIS_FILE,
		                             NODE_CONFIG_FILE, "data" };
	char paths[SN_ARRAY_LEN(files)][PATH_MAX], err[512], addr[65], nodehex[65];
	bool created[SN_ARRAY_LEN(files)] = { false }, made_dir = false;
	uint8_t seed[32], node_sk[NODE_ED25519_SK_LEN], acct_sk[SN_SECKEY_LEN];
	uint64_t chain_id, min_fee;
	struct node_genesis *gen = NULL;
	struct timespec now;
	struct stat st;
	char *conf = NULL;
	size_t conf_len = 0;
	FILE *mf;
	int rc, exit_code = EXIT_FAILURE;

	if ((rc = opt_u64(c, "chain-id", 1, &chain_id)) || (rc = opt_u64(c, "min-fee", 1, &min_fee)))
		return rc;
	if (chain_id == 0 || chain_id > UINT32_MAX)
		return usage(c->cmd, "--chain-id: expected 1 to 4294967295");
	for (size_t i = 0; i < SN_ARRAY_LEN(files); i++) {
		home_path(paths[i], sizeof(paths[i]), c, files[i]);
		if (access(paths[i], F_OK) == 0)
			return fail("%s already exists: %s is an existing home and is left as it is", paths[i], c->home);
	}
	if (stat(c->home, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fail("%s exists and is not a directory", c->home);
	} else if (mkdir(c->home, 0700) != 0) {
		return fail("cannot create %s: %s", c->home, strerror(errno));
	} else {
		made_dir = true;
	}

	gen = sn_calloc(1, sizeof(*gen));
	if (!gen) {
		fail("out of memory");
		goto out;
	}
	sn_random_bytes(seed, sizeof(seed));
	node_ed25519_from_seed(gen->validators[0].key, node_sk, seed);
	gen->validators[0].power = INIT_VALIDATOR_POWER;
	gen->n_validators = 1;
	if (sn_schnorr_keygen(acct_sk, gen->g.root)) {
		fail("cannot generate a key");
		goto out;
	}
	gen->chain_id = (uint32_t)chain_id;
	gen->g.root_balance = INIT_ROOT_BALANCE;
	gen->g.params.min_fee = min_fee;
	gen->g.params.max_block_txs = INIT_MAX_BLOCK_TXS;
	gen->timelock_blocks = NODE_GOV_TIMELOCK_DEFAULT;
	gen->proposal_max_deadline_blocks = NODE_GOV_DEADLINE_DEFAULT;
	gen->mempool_max_txs = NODE_GOV_MEMPOOL_TXS_DEFAULT;
	gen->mempool_max_bytes = NODE_GOV_MEMPOOL_BYTES_DEFAULT;
	clock_gettime(CLOCK_REALTIME, &now);
	gen->g.time_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
	memcpy(gen->developers[0].key, gen->g.root, SN_PUBKEY_LEN);
	gen->developers[0].weight = 1;
	gen->n_developers = 1;
	gen->community[0] = gen->developers[0];
	gen->n_community = 1;

	if ((rc = node_keyfile_write(paths[0], seed, sizeof(seed)))) {
		fail("cannot write %s: %s", paths[0], sn_strerror(rc));
		goto out;
	}
	created[0] = true;
	if ((rc = node_keyfile_write(paths[1], acct_sk, sizeof(acct_sk)))) {
		fail("cannot write %s: %s", paths[1], sn_strerror(rc));
		goto out;
	}
	created[1] = true;
	if ((rc = node_genesis_write(gen, paths[2]))) {
		fail("cannot write %s: %s", paths[2], sn_strerror(rc));
		goto out;
	}
	created[2] = true;
	mf = open_memstream(&conf, &conf_len);
	if (!mf) {
		fail("out of memory");
		goto out;
	}
	node_config_write_defaults(mf);
	if (fclose(mf) != 0) {
		fail("out of memory");
		goto out;
	}
	/* 0600: the file may later hold rpc.password. */
	if ((rc = node_file_write_atomic(paths[3], conf, conf_len, 0600, false))) {
		fail("cannot write %s: %s", paths[3], sn_strerror(rc));
		goto out;
	}
	created[3] = true;
	/* What the node will read must read back. */
	node_genesis_free(gen);
	if ((rc = node_genesis_load(gen, paths[2], err, sizeof(err)))) {
		fail("the genesis written does not parse back: %s", err);
		goto out;
	}

	sn_hex_encode(addr, gen->g.root, SN_PUBKEY_LEN);
	sn_hex_encode(nodehex, gen->validators[0].key, NODE_ED25519_PK_LEN);
	if (c->json)
		print_json_new(json_pack("{s:s,s:I,s:s,s:s}", "home", c->home, "chain_id", (json_int_t)gen->chain_id,
		                         "address", addr, "node_key", nodehex));
	else
		printf("created %s for chain %u\n"
		       "  account  %s  (genesis root, balance %llu; key in %s)\n"
		       "  node     %s  (the one validator; seed in %s)\n"
		       "start the node with: settled --home %s\n",
		       c->home, gen->chain_id, addr, (unsigned long long)INIT_ROOT_BALANCE, paths[1], nodehex, paths[0],
		       c->home);
	exit_code = 0;
out:
	sn_wipe(seed, sizeof(seed));
	sn_wipe(node_sk, sizeof(node_sk));
	sn_wipe(acct_sk, sizeof(acct_sk));
	if (gen)
		node_genesis_free(gen);
	sn_free(gen);
	free(conf);
	if (exit_code) {
		for (size_t i = 0; i < SN_ARRAY_LEN(files); i++)
			if (created[i])
				unlink(paths[i]);
		if (made_dir)
			rmdir(c->home);
	}
	return exit_code;
}

/* ------------------------------------------------------------------ transactions */

/* The nonce the signer's next transaction needs: the account's, or past its pending ones.
 * The mempool is read first: a block committed between the two calls then shows in the
 * account's nonce. (Read the other way round, a block committed in between takes the
 * signer's pending transactions out of the mempool while the account read before it still
 * has the old nonce, and the transaction goes out with a spent nonce: bad_nonce.) */
static int next_nonce(struct cli *c, const char *signer_hex, const char *role, const char *key_path,
                      uint64_t *nonce)
{
	json_t *acct, *pool, *e;
	uint64_t pending = 0; /* one past the signer's highest pending nonce */
	bool found;
	size_t i;
	int rc;

	*nonce = 0;
	if ((rc = rpc(c, "list_mempool", json_pack("[i]", MEMPOOL_SCAN_LIMIT), &pool)))
		return rc;
	json_array_foreach(json_object_get(pool, "txs"), i, e) {
		uint64_t n;

		if (strcmp(JT(e, "signer"), signer_hex) == 0 && !parse_u64(JT(e, "nonce"), &n) && n >= pending &&
		    n != UINT64_MAX)
			pending = n + 1;
	}
	json_decref(pool);
	if ((rc = rpc_find(c, "get_account", json_pack("[s]", signer_hex), &acct, &found)))
		return rc;
	if (!found)
		return fail("the %s %s (key %s) is not a registered account", role, signer_hex, key_path);
	rc = parse_u64(JT(acct, "nonce"), nonce);
	json_decref(acct);
	if (rc)
		return fail("the node's get_account gave no nonce");
	if (pending > *nonce)
		*nonce = pending;
	return 0;
}

/* Waits until the transaction is committed; prints where (or its JSON). */
static int wait_committed(struct cli *c, const char *id)
{
	uint64_t deadline = sn_time_mono_ns() + WAIT_SECONDS * 1000000000ull;
	long poll_ms = WAIT_POLL_FIRST_MS; /* doubling up to WAIT_POLL_MAX_MS */
	json_t *tx;
	bool found;
	int rc;

	for (;;) {
		if ((rc = rpc_find(c, "get_tx", json_pack("[s]", id), &tx, &found)))
			return rc;
		if (!found)
			return fail("transaction %s is neither pending nor committed: the node dropped it "
			            "(it became invalid when a block changed the state)", id);
		if (strcmp(JT(tx, "status"), "committed") == 0) {
			if (c->json)
				print_json(tx);
			else
				printf("transaction %s committed in block %s\n", id, JT(tx, "height"));
			json_decref(tx);
			return 0;
		}
		json_decref(tx);
		if (sn_time_mono_ns() >= deadline)
			return fail("transaction %s still pending after %d s (settle tx %s shows it later)", id,
			            WAIT_SECONDS, id);
		nanosleep(&(struct timespec){ .tv_nsec = poll_ms * 1000000l }, NULL);
		poll_ms = poll_ms * 2 < WAIT_POLL_MAX_MS ? poll_ms * 2 : WAIT_POLL_MAX_MS;
	}
}

/* Signs a transaction with the key in --key (default HOME/account.key), submits it and
 * (unless --no-wait) waits for its block. want_signer, if not NULL, must be the key's. */
static int send_tx(struct cli *c, uint8_t type, const uint8_t to[SN_PUBKEY_LEN], uint64_t amount,
                   const uint8_t *want_signer, const char *role)
{
	struct store_tx tx = { .version = STORE_TX_V1, .type = type, .amount = amount };
	uint8_t sk[SN_SECKEY_LEN], raw[STORE_TX_MAX];
	char key_path[PATH_MAX], err[512], signer_hex[65], want_hex[65], hex[2 * STORE_TX_MAX + 1], id[65];
	const char *key_opt = opt_val(c, "key"), *fee_opt = opt_val(c, "fee");
	json_t *status, *res;
	uint64_t chain_id;
	size_t len;
	int rc;

	if (fee_opt && parse_u64(fee_opt, &tx.fee))
		return usage(c->cmd, "--fee: '%s' is not a whole number", fee_opt);
	if (key_opt)
		snprintf(key_path, sizeof(key_path), "%s", key_opt);
	else
		home_path(key_path, sizeof(key_path), c, NODE_ACCOUNT_KEY_FILE);
	if (node_keyfile_read(key_path, sk, sizeof(sk), err, sizeof(err)))
		return fail("%s", err);
	rc = sn_schnorr_pubkey(tx.signer, sk);
	if (rc) {
		sn_wipe(sk, sizeof(sk));
		return fail("%s does not hold a valid BIP340 secret key", key_path);
	}
	sn_hex_encode(signer_hex, tx.signer, SN_PUBKEY_LEN);
	if (want_signer && memcmp(want_signer, tx.signer, SN_PUBKEY_LEN) != 0) {
		sn_wipe(sk, sizeof(sk));
		sn_hex_encode(want_hex, want_signer, SN_PUBKEY_LEN);
		return fail("the key file %s holds the key of %s, not of the %s %s (pass --key with the %s's key file)",
		            key_path, signer_hex, role, want_hex, role);
	}
	if ((rc = rpc_setup(c)) || (rc = rpc(c, "status", NULL, &status))) {
		sn_wipe(sk, sizeof(sk));
		return rc;
	}
	rc = parse_u64(JT(status, "chain_id"), &chain_id) || chain_id > UINT32_MAX ||
	     (!fee_opt && parse_u64(JT(status, "min_fee"), &tx.fee));
	json_decref(status);
	if (rc) {
		sn_wipe(sk, sizeof(sk));
		return fail("the node's status has no valid chain_id or min_fee");
	}
	tx.chain_id = (uint32_t)chain_id;
	memcpy(tx.to, to, SN_PUBKEY_LEN);
	if ((rc = next_nonce(c, signer_hex, role, key_path, &tx.nonce))) {
		sn_wipe(sk, sizeof(sk));
		return rc;
	}
	rc = store_tx_sign(&tx, sk);
	sn_wipe(sk, sizeof(sk));
	if (rc || (rc = store_tx_encode(raw, sizeof(raw), &len, &tx)))
		return fail("cannot sign the transaction: %s", sn_strerror(rc));
	sn_hex_encode(hex, raw, len);
	if ((rc = rpc(c, "submit_tx", json_pack("[s]", hex), &res)))
		return rc;
	snprintf(id, sizeof(id), "%s", JT(res, "id"));
	if (c->no_wait) {
		if (c->json)
			print_json(res);
		else
			printf("transaction %s submitted (%s)\n", id, JT(res, "status"));
		json_decref(res);
		return 0;
	}
	json_decref(res);
	return wait_committed(c, id);
}

static int cmd_register(struct cli *c)
{
	uint8_t account[SN_PUBKEY_LEN], sponsor[SN_PUBKEY_LEN];
	uint64_t amount;
	int rc;

	if ((rc = opt_address(c, "account", account)) || (rc = opt_u64(c, "amount", 0, &amount)))
		return rc;
	if (opt_val(c, "sponsor") && (rc = opt_address(c, "sponsor", sponsor)))
		return rc;
	return send_tx(c, STORE_TX_REGISTER, account, amount, opt_val(c, "sponsor") ? sponsor : NULL, "sponsor");
}

static int cmd_transfer(struct cli *c)
{
	uint8_t to[SN_PUBKEY_LEN];
	uint64_t amount;
	int rc;

	if ((rc = opt_address(c, "to", to)))
		return rc;
	if (!opt_val(c, "amount"))
		return usage(c->cmd, "--amount N is required");
	if ((rc = opt_u64(c, "amount", 0, &amount)))
		return rc;
	if (amount == 0)
		return usage(c->cmd, "--amount must be greater than zero");
	return send_tx(c, STORE_TX_TRANSFER, to, amount, NULL, "sender");
}

/* ------------------------------------------------------------------ gov (node/cli_gov.c) */

/* `settle gov` parses its own arguments (main hands it argv); these give it the node and the
 * signer's nonce exactly as the commands here find them (node/cli_gov_int.h). */
int settle_rpc_setup(struct cli_rpc *r, const char *home, const char *rpc_addr, const char *rpc_user,
                     const char *rpc_password)
{
	struct cli c = { .home = home, .rpc_addr = rpc_addr, .rpc_user = rpc_user, .rpc_password = rpc_password };
	int rc = rpc_setup(&c);

	*r = c.rpc;
	sn_wipe(&c.rpc, sizeof(c.rpc));
	return rc;
}

int settle_next_nonce(const struct cli_rpc *r, const char *signer_hex, const char *role, const char *key_path,
                      uint64_t *nonce)
{
	struct cli c = { .rpc = *r };
	int rc = next_nonce(&c, signer_hex, role, key_path, nonce);

	sn_wipe(&c.rpc, sizeof(c.rpc));
	return rc;
}

static int cmd_gov(struct cli *c) /* not reached: main() hands `settle gov` to cli_gov_main */
{
	return usage(c->cmd, "expected a subcommand (settle gov --help)");
}

/* ------------------------------------------------------------------ queries */

static void print_account(const json_t *a)
{
	char b1[32];

	printf("address          %s\n", JT(a, "address"));
	printf("balance          %s\n", JT(a, "balance"));
	printf("nonce            %s\n", JT(a, "nonce"));
	printf("sponsor          %s\n", jtext(a, "sponsor", b1, sizeof(b1), "none (the genesis root)"));
	printf("personal volume  %s\n", JT(a, "personal_volume"));
	printf("registered       block %s, account #%s\n", JT(a, "reg_height"), JT(a, "seq"));
	printf("depth            %s\n", JT(a, "depth"));
}

static int cmd_account(struct cli *c)
{
	uint8_t key[SN_PUBKEY_LEN];
	json_t *res;
	bool found;
	int rc;

	if (parse_address(c->pos[0], key))
		return usage(c->cmd, "'%s' is not an address (64 hex characters of a BIP340 public key)", c->pos[0]);
	if ((rc = rpc_setup(c)) || (rc = rpc_find(c, "get_account", json_pack("[s]", c->pos[0]), &res, &found)))
		return rc;
	if (!found)
		return fail("%s is not a registered account", c->pos[0]);
	return show(c, res, print_account);
}

static void print_team(const json_t *t)
{
	const json_t *refs = json_object_get(t, "referrals"), *e;
	uint64_t direct = 0;
	size_t i;

	printf("account           %s\n", JT(t, "address"));
	printf("team size         %s\n", JT(t, "team_size"));
	printf("team volume       %s\n", JT(t, "team_volume"));
	printf("depth             %s\n", JT(t, "depth"));
	printf("direct referrals  %s\n", JT(t, "direct_referrals"));
	json_array_foreach(refs, i, e)
		printf("  %s\n", json_is_string(e) ? json_string_value(e) : "?");
	if (!parse_u64(JT(t, "direct_referrals"), &direct) && direct > json_array_size(refs))
		printf("  ... and %llu more (shown: the first %zu; --limit N shows up to 1000)\n",
		       (unsigned long long)(direct - json_array_size(refs)), json_array_size(refs));
}

static int cmd_team(struct cli *c)
{
	uint8_t key[SN_PUBKEY_LEN];
	uint64_t limit;
	json_t *res;
	bool found;
	int rc;

	if (parse_address(c->pos[0], key))
		return usage(c->cmd, "'%s' is not an address (64 hex characters of a BIP340 public key)", c->pos[0]);
	if ((rc = opt_u64(c, "limit", 100, &limit)))
		return rc;
	if (limit > 1000)
		return usage(c->cmd, "--limit: at most 1000");
	if ((rc = rpc_setup(c)) ||
	    (rc = rpc_find(c, "get_team", json_pack("[s,I]", c->pos[0], (json_int_t)limit), &res, &found)))
		return rc;
	if (!found)
		return fail("%s is not a registered account", c->pos[0]);
	return show(c, res, print_team);
}

static void print_block(const json_t *b)
{
	const json_t *e;
	size_t i;
	char t[96];

	printf("block %s  %s\n", JT(b, "height"), JT(b, "hash"));
	printf("  previous      %s\n", JT(b, "prev_hash"));
	printf("  time          %s\n", time_text(b, "time_ms", t, sizeof(t)));
	printf("  proposer      %s\n", JT(b, "proposer"));
	printf("  tx root       %s\n", JT(b, "tx_root"));
	printf("  state root    %s\n", JT(b, "state_root"));
	printf("  transactions  %s\n", JT(b, "tx_count"));
	json_array_foreach(json_object_get(b, "txs"), i, e)
		printf("    %s\n", json_is_string(e) ? json_string_value(e) : "?");
	if (json_is_string(json_object_get(b, "raw")))
		printf("  raw           %s\n", JT(b, "raw"));
}

static int cmd_block(struct cli *c)
{
	const char *arg = c->pos[0];
	uint8_t hash[SN_HASH_LEN];
	uint64_t height;
	json_t *which, *res;
	bool found;
	int rc;

	if (!parse_u64(arg, &height) && height <= INT64_MAX)
		which = json_integer((json_int_t)height);
	else if (!sn_hex_decode(hash, sizeof(hash), arg))
		which = json_string(arg);
	else
		return usage(c->cmd, "'%s' is neither a height nor a block hash (64 hex characters)", arg);
	if ((rc = rpc_setup(c))) {
		json_decref(which);
		return rc;
	}
	if ((rc = rpc_find(c, "get_block", json_pack("[o,b]", which, opt_val(c, "raw") != NULL), &res, &found)))
		return rc;
	if (!found)
		return fail("no block %s%s", strlen(arg) == 2 * SN_HASH_LEN ? "with hash " : "at height ", arg);
	return show(c, res, print_block);
}

static void print_tx(const json_t *t)
{
	printf("transaction  %s\n", JT(t, "id"));
	if (strcmp(JT(t, "status"), "committed") == 0)
		printf("status       committed in block %s (index %s)\n", JT(t, "height"), JT(t, "index"));
	else
		printf("status       %s\n", JT(t, "status"));
	printf("type         %s\n", JT(t, "type"));
	printf("signer       %s\n", JT(t, "signer"));
	printf("nonce        %s\n", JT(t, "nonce"));
	printf("fee          %s\n", JT(t, "fee"));
	printf("%-12s %s\n", strcmp(JT(t, "type"), "register") == 0 ? "account" : "to", JT(t, "to"));
	printf("amount       %s\n", JT(t, "amount"));
}

static int cmd_tx(struct cli *c)
{
	uint8_t id[SN_HASH_LEN];
	json_t *res;
	bool found;
	int rc;

	if (sn_hex_decode(id, sizeof(id), c->pos[0]))
		return usage(c->cmd, "'%s' is not a transaction id (64 hex characters)", c->pos[0]);
	if ((rc = rpc_setup(c)) || (rc = rpc_find(c, "get_tx", json_pack("[s]", c->pos[0]), &res, &found)))
		return rc;
	if (!found)
		return fail("no transaction %s (neither pending nor committed)", c->pos[0]);
	return show(c, res, print_tx);
}

static void print_status(const json_t *s)
{
	const json_t *mp = json_object_get(s, "mempool"), *txi = json_object_get(s, "tx_index");
	char t[96];

	printf("chain id       %s\n", JT(s, "chain_id"));
	printf("height         %s\n", JT(s, "height"));
	printf("tip            %s\n", JT(s, "tip_hash"));
	printf("tip time       %s\n", time_text(s, "tip_time_ms", t, sizeof(t)));
	printf("state root     %s\n", JT(s, "state_root"));
	printf("accounts       %s\n", JT(s, "accounts"));
	printf("treasury       %s\n", JT(s, "treasury"));
	printf("min fee        %s\n", JT(s, "min_fee"));
	printf("max block txs  %s\n", JT(s, "max_block_txs"));
	printf("mempool        %s transactions, %s bytes\n", JT(mp, "count"), JT(mp, "bytes"));
	if (json_is_integer(json_object_get(txi, "unindexed_from")))
		printf("tx index       %s (blocks from %s on are not indexed: settle tx finds them only with the index on)\n",
		       json_is_true(json_object_get(txi, "on")) ? "on" : "off", JT(txi, "unindexed_from"));
	else if (json_is_true(json_object_get(txi, "on")) && json_is_integer(json_object_get(txi, "generations")))
		printf("tx index       on (%s in memory, %s generations on disk)\n", JT(txi, "in_memory"),
		       JT(txi, "generations"));
	else
		printf("tx index       %s\n", json_is_true(json_object_get(txi, "on")) ? "on" : "off");
	if (json_is_string(json_object_get(s, "store"))) {
		const char *store = json_string_value(json_object_get(s, "store"));

		if (strcmp(store, "disk_full") == 0)
			store = "disk full: no block is written until there is room (free disk space; the node "
			        "resumes by itself)";
		else if (strcmp(store, "failed") == 0)
			store = "failed after a write error: restart the node";
		printf("store          %s\n", store);
	}
	printf("node key       %s\n", JT(s, "node_key"));
	printf("version        %s\n", JT(s, "version"));
}

static int cmd_status(struct cli *c)
{
	json_t *res;
	int rc;

	if ((rc = rpc_setup(c)) || (rc = rpc(c, "status", NULL, &res)))
		return rc;
	return show(c, res, print_status);
}

static void print_mempool(const json_t *m)
{
	const json_t *e;
	size_t i;

	printf("%s pending transactions, %s bytes\n", JT(m, "count"), JT(m, "bytes"));
	json_array_foreach(json_object_get(m, "txs"), i, e)
		printf("  %s  %-8s  signer %s  nonce %s\n", JT(e, "id"), JT(e, "type"), JT(e, "signer"), JT(e, "nonce"));
}

static int cmd_mempool(struct cli *c)
{
	uint64_t limit;
	json_t *res;
	int rc;

	if ((rc = opt_u64(c, "limit", 100, &limit)))
		return rc;
	if (limit > 10000)
		return usage(c->cmd, "--limit: at most 10000");
	if ((rc = rpc_setup(c)) || (rc = rpc(c, "list_mempool", json_pack("[I]", (json_int_t)limit), &res)))
		return rc;
	return show(c, res, print_mempool);
}

/* ------------------------------------------------------------------ peers */

static void print_peers(const json_t *m)
{
	const json_t *e;
	size_t i;

	if (!json_is_true(json_object_get(m, "enabled"))) {
		printf("peer network disabled (p2p.enabled = 0)\n");
		return;
	}
	printf("node key %s, listening on port %s\n", JT(m, "node_key"), JT(m, "listen_port"));
	printf("%s inbound, %s outbound, %s connecting, %s known addresses, %zu banned\n", JT(m, "inbound"),
	       JT(m, "outbound"), JT(m, "connecting"), JT(m, "known_addresses"),
	       json_array_size(json_object_get(m, "bans")));
	{
		const json_t *t = json_object_get(m, "txs");

		printf("transactions: %s received, %s duplicate, %s invalid, %s relayed, %s over budget, %s waiting\n",
		       JT(t, "received"), JT(t, "duplicate"), JT(t, "invalid"), JT(t, "relayed"), JT(t, "over_budget"),
		       JT(t, "waiting"));
	}
	json_array_foreach(json_object_get(m, "peers"), i, e)
		printf("  %-8s %-22s %.16s...  score %-4s in %-10s out %-10s rtt %s ms  %s\n", JT(e, "direction"),
		       JT(e, "address"), JT(e, "node_key"), JT(e, "score"), JT(e, "bytes_in"), JT(e, "bytes_out"),
		       JT(e, "rtt_ms"), JT(e, "user_agent"));
	if (json_array_size(json_object_get(m, "recent_drops")))
		printf("recent drops:\n");
	json_array_foreach(json_object_get(m, "recent_drops"), i, e)
		printf("  %-8s %-22s score %-4s %s%s (%s)\n", JT(e, "direction"), JT(e, "address"), JT(e, "score"),
		       json_is_true(json_object_get(e, "banned")) ? "banned, " : "",
		       json_string_value(json_object_get(e, "reason")) ? json_string_value(json_object_get(e, "reason")) : "?",
		       JT(e, "error"));
	json_array_foreach(json_object_get(m, "bans"), i, e)
		printf("  banned %s until %s\n",
		       json_string_value(json_object_get(e, "id")) ? json_string_value(json_object_get(e, "id")) : "?",
		       JT(e, "until_ms"));
}

static int cmd_peers(struct cli *c)
{
	json_t *res;
	int rc;

	if ((rc = rpc_setup(c)) || (rc = rpc(c, "net_info", json_array(), &res)))
		return rc;
	return show(c, res, print_peers);
}

/* ------------------------------------------------------------------ the table */

static const struct cli_cmd commands[] = {
	{ "keygen", "[--out FILE]", "make a new account key (BIP340)",
	  "Makes a new random BIP340 key pair; its public key is an account address. With --out the\n"
	  "secret key goes to FILE (mode 0600; an existing file is never overwritten) and only the\n"
	  "address is printed; without it both are printed.",
	  0, 0, { { "out", "FILE", "write the secret key to FILE instead of printing it" } }, cmd_keygen },
	{ "address", "[--key FILE]", "print the address of a key file",
	  "Prints the account address (public key) of the BIP340 key in FILE (default\n"
	  "HOME/account.key, the genesis account of a home made by init).",
	  0, 0, { { "key", "FILE", "the key file (default HOME/account.key)" } }, cmd_address },
	{ "init", "[--chain-id N] [--min-fee N]", "create a node home (keys, genesis, config)",
	  "Creates the home directory (--home, mode 0700) of a one-validator devnet: node.key (the\n"
	  "node's Ed25519 seed), account.key (a BIP340 account key), genesis.json (that account is the\n"
	  "root with 1000000000000000, the node the one validator with power 10, the account the one\n"
	  "developer and community member) and settled.conf (every key at its default). A home that\n"
	  "already has any of these files is never touched.",
	  0, 0,
	  { { "chain-id", "N", "the chain id (default 1)" },
	    { "min-fee", "N", "the smallest fee a transaction may pay (default 1)" } },
	  cmd_init },
	{ "register", "--account ADDR [--amount N] [--sponsor ADDR] [--key FILE] [--fee N]",
	  "register a new account under a sponsor",
	  "Registers the account ADDR under the sponsor whose key is in FILE, moving N from the\n"
	  "sponsor's balance to the new account. The sponsor pays the fee. Waits until the\n"
	  "transaction is in a block (up to 30 s) unless --no-wait.",
	  0, 0,
	  { { "account", "ADDR", "the new account's address (required)" },
	    { "amount", "N", "what the sponsor gives the new account (default 0)" },
	    { "sponsor", "ADDR", "the sponsor's address: checked against the key file's" },
	    { "key", "FILE", "the sponsor's key file (default HOME/account.key)" },
	    { "fee", "N", "the fee (default: the chain's minimum fee)" } },
	  cmd_register },
	{ "transfer", "--to ADDR --amount N [--key FILE] [--fee N]", "send an amount to a registered account",
	  "Sends N from the account whose key is in FILE to the registered account ADDR; the sender\n"
	  "also pays the fee. Waits until the transaction is in a block (up to 30 s) unless --no-wait.",
	  0, 0,
	  { { "to", "ADDR", "the recipient's address (required)" },
	    { "amount", "N", "the amount, greater than zero (required)" },
	    { "key", "FILE", "the sender's key file (default HOME/account.key)" },
	    { "fee", "N", "the fee (default: the chain's minimum fee)" } },
	  cmd_transfer },
	{ "gov", "propose|approve|sign|execute|show|list ...", "governance proposals (settle gov --help)",
	  "Proposes, approves, signs, executes, shows and lists governance proposals; settle gov\n"
	  "SUBCOMMAND --help says what each does and its options.",
	  0, 0, { { NULL, NULL, NULL } }, cmd_gov },
	{ "account", "ADDR", "show an account",
	  "Shows a registered account: balance, next nonce, sponsor, personal volume, the block it was\n"
	  "registered in and its depth in the referral tree.",
	  1, 1, { { NULL, NULL, NULL } }, cmd_account },
	{ "team", "ADDR [--limit N]", "show an account's team (referral tree below it)",
	  "Shows an account's team: team size (accounts below it at any depth), team volume (its own\n"
	  "personal volume plus everyone's below it), its depth and its direct referrals.",
	  1, 1, { { "limit", "N", "list at most N direct referrals (default 100, at most 1000)" } }, cmd_team },
	{ "block", "HEIGHT|HASH [--raw]", "show a block",
	  "Shows the block at HEIGHT, or with the hash HASH: header fields and transaction ids.", 1, 1,
	  { { "raw", NULL, "also print the block's encoding in hex" } }, cmd_block },
	{ "tx", "ID", "show a transaction",
	  "Shows a transaction, committed (with its block) or still pending.", 1, 1, { { NULL, NULL, NULL } }, cmd_tx },
	{ "status", "", "show the node's chain tip and mempool",
	  "Shows the chain id, the tip (height, hash, time, state root), accounts, treasury, chain\n"
	  "parameters, the mempool's size, the node key and version.",
	  0, 0, { { NULL, NULL, NULL } }, cmd_status },
	{ "mempool", "[--limit N]", "list pending transactions",
	  "Lists the pending transactions in the order the node admitted them.", 0, 0,
	  { { "limit", "N", "list at most N (default 100, at most 10000)" } }, cmd_mempool },
	{ "peers", "", "show the node's peers",
	  "Shows who the node is connected to (direction, address, node key, score, bytes in and\n"
	  "out, round trip), the peers it dropped lately with the reason and score, and its bans.",
	  0, 0, { { NULL, NULL, NULL } }, cmd_peers },
};

static void print_opt(FILE *f, const struct cli_opt *o)
{
	char left[48];

	snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "  %-24s %s\n", left, o->help);
}

static void print_help(FILE *f, const struct cli_cmd *cmd)
{
	if (cmd) {
		fprintf(f, "usage: settle %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->help);
		if (cmd->opts[0].name) {
			fprintf(f, "\noptions:\n");
			for (size_t i = 0; i < MAX_CMD_OPTS && cmd->opts[i].name; i++)
				print_opt(f, &cmd->opts[i]);
		}
		fprintf(f, "\nglobal options (before or after the command): --home DIR, --rpc HOST:PORT,\n"
		           "--rpc-user USER --rpc-password PASSWORD, --json%s (settle --help)\n",
		        cmd->run == cmd_register || cmd->run == cmd_transfer ? ", --no-wait" : "");
		return;
	}
	fprintf(f, "usage: settle [global options] COMMAND [options]\n\n"
	           "The command-line client of settled. keygen and init work on files; the other\n"
	           "commands ask the node over JSON-RPC.\n\ncommands:\n");
	for (size_t i = 0; i < SN_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nglobal options:\n");
	for (size_t i = 0; i < SN_ARRAY_LEN(global_opts); i++)
		print_opt(f, &global_opts[i]);
	fprintf(f, "\nsettle COMMAND --help says what a command does. Failures print one line\n"
	           "\"settle: reason\" on stderr; exit status 0 ok, 1 error, 2 usage.\n");
}

/* ------------------------------------------------------------------ arguments */

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < SN_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n && opts[i].name; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/* Global options go before or after the command; the command's own options after it. The
 * command is the first word that is not an option or a global option's value. Returns 0,
 * or the usage exit code. */
static int parse_args(struct cli *c, int argc, char **argv)
{
	const char *cmd_name = NULL;
	int cmd_index = 0;
	bool seen[SN_ARRAY_LEN(global_opts)] = { false }, only_pos = false;

	for (int i = 1; i < argc && !c->cmd; i++) {
		const struct cli_opt *o;
		const char *eq;

		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--", 2) != 0) {
			cmd_name = argv[i];
			cmd_index = i;
			if (strcmp(cmd_name, "help") != 0 && !(c->cmd = find_cmd(cmd_name)))
				return usage(NULL, "unknown command '%s'", cmd_name);
			break;
		}
		eq = strchr(argv[i], '=');
		o = find_opt(global_opts, SN_ARRAY_LEN(global_opts), argv[i] + 2,
		             eq ? (size_t)(eq - argv[i] - 2) : strlen(argv[i] + 2));
		if (o && o->arg && !eq)
			i++;
	}
	if (cmd_name && strcmp(cmd_name, "help") == 0) {
		c->help = true;
		c->cmd = cmd_index + 1 < argc ? find_cmd(argv[cmd_index + 1]) : NULL;
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *value = NULL;
		const struct cli_opt *o;
		size_t namelen, gi;

		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			if (c->cmd && a == cmd_name) {
				cmd_name = NULL; /* the command word itself */
				continue;
			}
			if (!c->cmd)
				return usage(NULL, "unexpected '%s' before the command", a);
			if (c->npos >= c->cmd->max_pos)
				return usage(c->cmd, "unexpected argument '%s'", a);
			c->pos[c->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(a, "-h") == 0) {
			c->help = true;
			continue;
		}
		if (a[1] != '-')
			return usage(c->cmd, "unknown option '%s'", a);
		eq = strchr(a, '=');
		namelen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		o = find_opt(global_opts, SN_ARRAY_LEN(global_opts), a + 2, namelen);
		if (!o && c->cmd)
			o = find_opt(c->cmd->opts, MAX_CMD_OPTS, a + 2, namelen);
		if (!o)
			return usage(c->cmd, "unknown option '%.*s'", (int)(namelen + 2), a);
		if (o->arg) {
			if (eq)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return usage(c->cmd, "--%s needs a value (%s)", o->name, o->arg);
		} else if (eq) {
			return usage(c->cmd, "--%s takes no value", o->name);
		} else {
			value = "";
		}
		if (o >= global_opts && o < global_opts + SN_ARRAY_LEN(global_opts)) {
			gi = (size_t)(o - global_opts);
			if (seen[gi] && strcmp(o->name, "help") != 0)
				return usage(c->cmd, "--%s given twice", o->name);
			seen[gi] = true;
			if (strcmp(o->name, "home") == 0)
				c->home = value;
			else if (strcmp(o->name, "rpc") == 0)
				c->rpc_addr = value;
			else if (strcmp(o->name, "rpc-user") == 0)
				c->rpc_user = value;
			else if (strcmp(o->name, "rpc-password") == 0)
				c->rpc_password = value;
			else if (strcmp(o->name, "json") == 0)
				c->json = true;
			else if (strcmp(o->name, "no-wait") == 0)
				c->no_wait = true;
			else if (strcmp(o->name, "version") == 0)
				c->version = true;
			else
				c->help = true;
			continue;
		}
		gi = (size_t)(o - c->cmd->opts);
		if (c->val[gi])
			return usage(c->cmd, "--%s given twice", o->name);
		c->val[gi] = value;
	}
	if (c->help || c->version)
		return 0;
	if (!c->cmd)
		return usage(NULL, "no command given");
	if (c->npos < c->cmd->min_pos)
		return usage(c->cmd, "expected %s", c->cmd->synopsis);
	if (!c->home[0])
		return usage(c->cmd, "--home: empty directory name");
	return 0;
}

int main(int argc, char **argv)
{
	static struct cli c;
	const char *env = getenv("SETTLED_HOME");
	int rc;

	c.home = env && *env ? env : DEFAULT_HOME;
	if (cli_gov_wanted(argc, argv))
		return cli_gov_main(argc, argv, c.home);
	if ((rc = parse_args(&c, argc, argv)))
		return rc;
	if (c.help) {
		print_help(stdout, c.cmd);
		return 0;
	}
	if (c.version) {
		printf("settle %s\n", SETTLED_VERSION);
		return 0;
	}
	if (sn_crypto_init())
		return fail("cannot initialise the crypto libraries");
	rc = c.cmd->run(&c);
	sn_wipe(&c.rpc, sizeof(c.rpc));
	if (fflush(stdout) != 0 && !rc)
		rc = fail("cannot write the output: %s", strerror(errno));
	return rc;
}
