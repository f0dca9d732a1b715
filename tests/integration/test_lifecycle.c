/* tests/integration/test_lifecycle.c — how a real settled starts and stops: SIGTERM and
 * SIGINT exit 0 after "stopped cleanly" and a restart finds the same blocks and accounts; a
 * typo in settled.conf, or a key file others may read, stops it at once with a message that
 * names the file (and line); `settle init` never touches an existing home; the RPC cookie is
 * written 0600 at start and removed on a clean exit; a second settled on the same home while
 * the first runs fails cleanly and leaves the first one alone. Every process started here is
 * killed in the teardown, also when a test fails. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/home_int.h"

#define MAX_PROCS 16

static char *dir;
static pid_t procs[MAX_PROCS]; /* started here and not yet reaped */

static void track(pid_t pid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i] == 0) {
			procs[i] = pid;
			return;
		}
	fail_msg("too many processes");
}

static void untrack(pid_t pid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i] == pid)
			procs[i] = 0;
}

static int setup(void **state)
{
	(void)state;
	dir = tu_tmpdir("sn-life");
	memset(procs, 0, sizeof(procs));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i] > 0) {
			kill(procs[i], SIGKILL);
			waitpid(procs[i], NULL, 0);
			procs[i] = 0;
		}
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* A new home dir/name made by `settle init`. */
static void make_home(char *home, size_t cap, const char *name)
{
	char *init[] = { (char *)tu_bin("settle"), "init", "--home", home, NULL };

	snprintf(home, cap, "%s/%s", dir, name);
	assert_int_equal(tu_run(init, NULL, 0), 0);
}

static pid_t node_start(const char *home, uint16_t port)
{
	const char *extra[] = { "--set", "node.block_interval_ms=100", NULL };
	pid_t pid = tu_node_start(home, port, extra);

	track(pid);
	return pid;
}

/* Sends sig, waits (tu_node_stop kills it after 30 s) and returns the wait status. */
static int node_stop(pid_t pid, int sig)
{
	int status = tu_node_stop(pid, sig);

	untrack(pid);
	return status;
}

/* Starts argv with stdout and stderr to outpath; the process is tracked. */
static pid_t spawn(const char *const *argv, const char *outpath)
{
	pid_t pid = tu_spawn(argv, outpath, false);

	track(pid);
	return pid;
}

/* Waits up to ms for pid to exit; true with its wait status if it did. */
static bool wait_exit(pid_t pid, int ms, int *status)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		if (waitpid(pid, status, WNOHANG) == pid) {
			untrack(pid);
			return true;
		}
		usleep(10000);
	}
	return false;
}

/* Runs settled with args that must make it fail at once: returns its output (malloc'd) and
 * checks it exited with status 1 within 3 s. */
static char *settled_must_fail(const char *home, const char *portstr)
{
	const char *argv[] = { tu_bin("settled"), "--home", home, "--rpc-port", portstr, NULL };
	char outpath[4200];
	uint64_t t0 = sn_time_mono_ns();
	size_t len;
	uint8_t *text;
	int status;
	pid_t pid;
	char *s;

	snprintf(outpath, sizeof(outpath), "%s/must-fail.out", dir);
	pid = spawn(argv, outpath);
	if (!wait_exit(pid, 3000, &status))
		fail_msg("settled on %s is still running after 3 s (it should have refused to start)", home);
	text = tu_read_file(outpath, &len);
	assert_non_null(text);
	s = strndup((const char *)text, len);
	free(text);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		fail_msg("settled exited with wait status %d, expected exit 1: %s", status, s);
	fprintf(stderr, "lifecycle: refused in %.0f ms: %s", (double)(sn_time_mono_ns() - t0) / 1e6, s);
	return s;
}

static json_t *get_block(uint16_t port, const char *home, uint64_t h)
{
	char req[128];

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get_block\",\"params\":[%llu]}",
	         (unsigned long long)h);
	return tu_rpc_result(port, home, req);
}

static json_t *get_account(uint16_t port, const char *home, const char *addr)
{
	char req[256];

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get_account\",\"params\":[\"%s\"]}", addr);
	return tu_rpc_result(port, home, req);
}

static json_t *status(uint16_t port, const char *home)
{
	json_t *st = tu_rpc_result(port, home, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}");

	assert_non_null(st);
	return st;
}

static char settle_rpc[32], settle_err[8192];

static const char *rpc_of(uint16_t port)
{
	snprintf(settle_rpc, sizeof(settle_rpc), "127.0.0.1:%u", port);
	return settle_rpc;
}

/* `settle --rpc 127.0.0.1:PORT --home HOME args...` (stderr into settle_err); the exit status. */
#define settle(port, home, out, cap, ...) \
	tu_settle(rpc_of(port), home, home, out, cap, settle_err, sizeof(settle_err), __VA_ARGS__)

static int count_in_file(const char *path, const char *needle)
{
	size_t len;
	uint8_t *text = tu_read_file(path, &len);
	int n = 0;

	if (!text)
		return 0;
	/* tu_read_file does not NUL-terminate */
	for (const uint8_t *p = text, *end = text + len; (p = memmem(p, (size_t)(end - p), needle, strlen(needle)));
	     p++)
		n++;
	free(text);
	return n;
}

static void assert_cookie_fresh(const char *home, char *cookie, size_t cap)
{
	char path[4200];
	struct stat sb;
	size_t len;
	uint8_t *text;

	snprintf(path, sizeof(path), "%s/rpc.cookie", home);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	if ((sb.st_mode & 0777) != 0600)
		fail_msg("%s has mode %03o, expected 600", path, (unsigned)(sb.st_mode & 0777));
	text = tu_read_file(path, &len);
	assert_non_null(text);
	assert_int_equal(len, 11 + 64);
	assert_memory_equal(text, "__cookie__:", 11);
	snprintf(cookie, cap, "%.*s", (int)len, (const char *)text);
	free(text);
}

static bool exists(const char *home, const char *file)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", home, file);
	return access(path, F_OK) == 0;
}

/* ------------------------------------------------------------------ clean stops */

/* Start, a few blocks with transactions, sig: exit 0 and "stopped cleanly"; a restart finds
 * the block of the last height seen before the signal unchanged and every account as it was. */
static void stop_restart(int sig, const char *signame)
{
	char home[4096], logpath[4200], out[4096], addr[6][65], keyfile[4200], cookie[128], want[64];
	uint16_t port = tu_free_port();
	json_t *before[6], *st, *blk;
	uint64_t height;
	char *tip_hash, *state_root;
	int wstatus;
	pid_t pid;

	make_home(home, sizeof(home), signame);
	snprintf(logpath, sizeof(logpath), "%s/node.log", home);
	pid = node_start(home, port);
	assert_cookie_fresh(home, cookie, sizeof(cookie));

	/* Five accounts registered by the root, then transfers among them, through the CLI. */
	assert_int_equal(settle(port, home, out, sizeof(out), "address", NULL), 0);
	snprintf(addr[0], sizeof(addr[0]), "%.64s", out);
	for (int i = 1; i < 6; i++) {
		char amount[16];

		snprintf(keyfile, sizeof(keyfile), "%s/k%d.key", dir, i);
		unlink(keyfile);
		assert_int_equal(settle(port, home, out, sizeof(out), "keygen", "--out", keyfile, NULL), 0);
		snprintf(addr[i], sizeof(addr[i]), "%.64s", out);
		snprintf(amount, sizeof(amount), "%d", 1000 * i);
		assert_int_equal(settle(port, home, out, sizeof(out), i == 5 ? "--json" : "--no-wait", "register",
		                        "--account", addr[i], "--amount", amount, NULL),
		                 0);
	}
	for (int i = 1; i < 6; i++) {
		snprintf(keyfile, sizeof(keyfile), "%s/k%d.key", dir, i);
		assert_int_equal(settle(port, home, out, sizeof(out), i == 5 ? "--json" : "--no-wait", "transfer", "--to",
		                        addr[i % 5 + 1], "--amount", "7", "--key", keyfile, NULL),
		                 0);
	}
	/* The last one was waited for; let the heartbeat make a few more blocks. */
	usleep(300000);
	for (int i = 0; i < 6; i++) {
		before[i] = get_account(port, home, addr[i]);
		assert_non_null(before[i]);
	}
	st = status(port, home);
	height = (uint64_t)json_integer_value(json_object_get(st, "height"));
	tip_hash = strdup(json_string_value(json_object_get(st, "tip_hash")));
	state_root = strdup(json_string_value(json_object_get(st, "state_root")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "mempool"), "count")), 0);
	json_decref(st);
	assert_true(height >= 2);

	wstatus = node_stop(pid, sig);
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
		fail_msg("settled after %s: wait status %d, expected exit 0 (see %s)", signame, wstatus, logpath);
	snprintf(want, sizeof(want), "%s: finishing the block in progress and stopping", signame);
	assert_int_equal(count_in_file(logpath, want), 1);
	assert_int_equal(count_in_file(logpath, "stopped cleanly"), 1);
	assert_false(exists(home, "rpc.cookie"));

	/* Restart: the block at that height is the one seen, with the same state root (single
	 * validator: heartbeat blocks may have come after it), and every account is as it was. */
	port = tu_free_port();
	pid = node_start(home, port);
	{
		char cookie2[128];

		assert_cookie_fresh(home, cookie2, sizeof(cookie2));
		assert_string_not_equal(cookie, cookie2); /* a new one every start */
	}
	st = status(port, home);
	assert_true((uint64_t)json_integer_value(json_object_get(st, "height")) >= height);
	json_decref(st);
	blk = get_block(port, home, height);
	assert_non_null(blk);
	assert_string_equal(json_string_value(json_object_get(blk, "hash")), tip_hash);
	assert_string_equal(json_string_value(json_object_get(blk, "state_root")), state_root);
	json_decref(blk);
	for (int i = 0; i < 6; i++) {
		json_t *after = get_account(port, home, addr[i]);

		assert_non_null(after);
		if (!json_equal(before[i], after)) {
			char *a = json_dumps(before[i], JSON_SORT_KEYS), *b = json_dumps(after, JSON_SORT_KEYS);

			fail_msg("account %d changed over the restart: %s became %s", i, a, b);
		}
		json_decref(after);
		json_decref(before[i]);
	}
	assert_int_equal(settle(port, home, out, sizeof(out), "--json", "account", addr[5], NULL), 0);
	wstatus = node_stop(pid, SIGTERM);
	assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	assert_int_equal(count_in_file(logpath, "stopped cleanly"), 2);
	fprintf(stderr, "lifecycle: %s at height %llu, restart found block %llu and 6 accounts unchanged\n", signame,
	        (unsigned long long)height, (unsigned long long)height);
	free(tip_hash);
	free(state_root);
}

static void test_sigterm(void **state)
{
	(void)state;
	stop_restart(SIGTERM, "SIGTERM");
}

static void test_sigint(void **state)
{
	(void)state;
	stop_restart(SIGINT, "SIGINT");
}

/* ------------------------------------------------------------------ refusing to start */

/* Replaces HOME/settled.conf with its lines, plus `extra` inserted after line `after`
 * (0: appended). Returns the line number extra's last line gets. */
/* ------------------------------------------------------------------ pending across a restart */

/* Submits registrations from the root of home, nonces from..to-1 (each a new account); every
 * one must be accepted. */
static void submit_pending(uint16_t port, const char *home, uint64_t from, uint64_t to)
{
	uint8_t sk[32], pk[32];

	tu_home_root_key(home, sk, pk);
	for (uint64_t i = from; i < to; i++) {
		char hex[2 * STORE_TX_MAX + 1], req[2 * STORE_TX_MAX + 128], *body;

		tu_register_hex(hex, sk, pk, i, 7000 + i, NULL);
		snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit_tx\",\"params\":[\"%s\"]}",
		         hex);
		assert_int_equal(tu_rpc(port, home, req, &body), 200);
		assert_null(strstr(body, "\"error\""));
		free(body);
	}
	sn_wipe(sk, sizeof(sk));
}

static uint64_t pending_count(uint16_t port, const char *home)
{
	json_t *st = status(port, home);
	uint64_t n = tu_json_u64(json_object_get(st, "mempool"), "count");

	json_decref(st);
	return n;
}

static pid_t node_start_with(const char *home, uint16_t port, const char *set)
{
	const char *extra[] = { "--set", "node.block_interval_ms=100", "--set", set, NULL };
	pid_t pid = tu_node_start(home, port, extra);

	track(pid);
	return pid;
}

/* Transactions still pending at a clean stop are saved (mempool.dat, mode 0600) and pending
 * again after the next start, then committed once the node produces. The home's node key is
 * swapped for another meanwhile: the node is then no validator and commits nothing. With
 * mempool.persist = 0 nothing is saved; a file that is not a saved mempool is set aside as
 * mempool.dat.bad and the node starts with nothing pending. */
static void test_pending_saved_at_stop(void **state)
{
	enum { N = 20 };
	char home[4096], key[4200], validator_key[4200], logpath[4200], mpf[4200], out[4096];
	uint16_t port = tu_free_port();
	struct stat sb;
	json_t *st;
	pid_t pid;

	(void)state;
	make_home(home, sizeof(home), "pending");
	snprintf(key, sizeof(key), "%s/node.key", home);
	snprintf(validator_key, sizeof(validator_key), "%s/node.key.validator", dir);
	snprintf(logpath, sizeof(logpath), "%s/node.log", home);
	snprintf(mpf, sizeof(mpf), "%s/mempool.dat", home);
	assert_int_equal(rename(key, validator_key), 0);
	assert_int_equal(settle(port, home, out, sizeof(out), "keygen", "--out", key, NULL), 0);

	/* mempool.persist = 0: dropped at the stop */
	pid = node_start_with(home, port, "mempool.persist=0");
	submit_pending(port, home, 0, N);
	assert_int_equal(pending_count(port, home), N);
	assert_int_equal(node_stop(pid, SIGTERM), 0);
	assert_false(exists(home, "mempool.dat"));

	/* saved at the stop, pending again after the start */
	pid = node_start(home, port);
	assert_int_equal(pending_count(port, home), 0);
	submit_pending(port, home, 0, N);
	assert_int_equal(node_stop(pid, SIGTERM), 0);
	assert_int_equal(count_in_file(logpath, "saved 20 pending transactions to"), 1);
	assert_int_equal(stat(mpf, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	pid = node_start(home, port);
	assert_int_equal(pending_count(port, home), N); /* before RPC answers at all */
	assert_int_equal(count_in_file(logpath, "20 of the 20 transactions saved at the last stop are pending again"), 1);
	assert_false(exists(home, "mempool.dat"));
	assert_int_equal(node_stop(pid, SIGTERM), 0);

	/* the validator's key again: it commits them */
	assert_int_equal(rename(validator_key, key), 0);
	pid = node_start(home, port);
	for (int t = 0; t < 600 && pending_count(port, home); t++) /* up to a minute */
		tu_sleep_ms(100);
	st = status(port, home);
	assert_int_equal(tu_json_u64(json_object_get(st, "mempool"), "count"), 0);
	assert_int_equal(tu_json_u64(st, "accounts"), N + 1);
	json_decref(st);
	assert_int_equal(count_in_file(logpath, "20 of the 20 transactions saved at the last stop are pending again"), 2);
	assert_int_equal(node_stop(pid, SIGTERM), 0);
	assert_false(exists(home, "mempool.dat")); /* nothing pending: no file */

	/* not a saved mempool: set aside, the node starts all the same */
	{
		FILE *f = fopen(mpf, "wb");

		assert_non_null(f);
		assert_int_equal(fputs("not a mempool", f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
	}
	pid = node_start(home, port);
	assert_int_equal(pending_count(port, home), 0);
	assert_int_equal(count_in_file(logpath, "is not a saved mempool (input is truncated): kept as"), 1);
	assert_true(exists(home, "mempool.dat.bad"));
	assert_false(exists(home, "mempool.dat"));
	assert_int_equal(node_stop(pid, SIGTERM), 0);
}

static int conf_insert(const char *home, int after, const char *extra)
{
	char path[4200];
	size_t len;
	uint8_t *text;
	FILE *f;
	int line = 0, at = 0;

	snprintf(path, sizeof(path), "%s/settled.conf", home);
	text = tu_read_file(path, &len);
	assert_non_null(text);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < len; i++) {
		fputc(text[i], f);
		if (text[i] == '\n' && ++line == after) {
			fputs(extra, f);
			for (const char *p = extra; *p; p++)
				line += *p == '\n';
			at = line;
		}
	}
	if (after == 0) {
		fputs(extra, f);
		for (const char *p = extra; *p; p++)
			line += *p == '\n';
		at = line;
	}
	fclose(f);
	free(text);
	return at;
}

/* The line of HOME/settled.conf that is exactly s (1-based). */
static int conf_line_of(const char *home, const char *s)
{
	char path[4200], buf[1024];
	FILE *f;
	int line = 0;

	snprintf(path, sizeof(path), "%s/settled.conf", home);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, s) == 0) {
			fclose(f);
			return line;
		}
	}
	fclose(f);
	fail_msg("settled.conf has no line '%s'", s);
	return 0;
}

static void test_config_typo(void **state)
{
	char home[4096], portstr[16], want[4400], conf[4200], *msg;
	size_t len;
	uint8_t *orig;
	int line;

	(void)state;
	make_home(home, sizeof(home), "typo");
	snprintf(conf, sizeof(conf), "%s/settled.conf", home);
	orig = tu_read_file(conf, &len);
	assert_non_null(orig);
	snprintf(portstr, sizeof(portstr), "%u", tu_free_port());

	/* A second [node] section at the end, as someone might append one. */
	line = conf_insert(home, 0, "[node]\nblock_intervl_ms = 5\n");
	msg = settled_must_fail(home, portstr);
	snprintf(want, sizeof(want), "settled: %s:%d: unknown key 'block_intervl_ms' in [node]\n", conf, line);
	assert_string_equal(msg, want);
	free(msg);
	assert_false(exists(home, "rpc.cookie"));
	assert_false(exists(home, "data"));

	/* Inside the existing [node] section. */
	assert_int_equal(node_file_write_atomic(conf, orig, len, 0600, true), SN_OK);
	line = conf_insert(home, conf_line_of(home, "[node]"), "block_intervl_ms = 5\n");
	msg = settled_must_fail(home, portstr);
	snprintf(want, sizeof(want), "settled: %s:%d: unknown key 'block_intervl_ms' in [node]\n", conf, line);
	assert_string_equal(msg, want);
	free(msg);

	/* A value out of range is named with its line too. */
	assert_int_equal(node_file_write_atomic(conf, orig, len, 0600, true), SN_OK);
	line = conf_insert(home, conf_line_of(home, "[node]"), "block_interval_ms = 5\n");
	msg = settled_must_fail(home, portstr);
	snprintf(want, sizeof(want), "settled: %s:%d: ", conf, line);
	if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, "block_interval_ms"))
		fail_msg("expected '%s...block_interval_ms...', got '%s'", want, msg);
	free(msg);

	/* Fixed: it starts. */
	assert_int_equal(node_file_write_atomic(conf, orig, len, 0600, true), SN_OK);
	free(orig);
	{
		uint16_t port = tu_free_port();
		pid_t pid = node_start(home, port);

		assert_int_equal(node_stop(pid, SIGTERM), 0);
	}
}

static void test_key_file_modes(void **state)
{
	static const char *const files[] = { "node.key", "account.key" };
	char home[4096], portstr[16], path[4200], want[9000], *msg;

	(void)state;
	make_home(home, sizeof(home), "keys");
	snprintf(portstr, sizeof(portstr), "%u", tu_free_port());
	for (size_t i = 0; i < SN_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", home, files[i]);
		assert_int_equal(chmod(path, 0644), 0);
		msg = settled_must_fail(home, portstr);
		snprintf(want, sizeof(want),
		         "settled: %s: key file is readable by group or others (mode 644); run chmod 600 %s\n", path, path);
		assert_string_equal(msg, want);
		free(msg);
		assert_false(exists(home, "rpc.cookie"));
		assert_int_equal(chmod(path, 0600), 0);
	}
	/* Group-readable only (0640) is refused as well. */
	snprintf(path, sizeof(path), "%s/node.key", home);
	assert_int_equal(chmod(path, 0640), 0);
	free(settled_must_fail(home, portstr));
	assert_int_equal(chmod(path, 0600), 0);
	{
		uint16_t port = tu_free_port();
		pid_t pid = node_start(home, port);

		assert_int_equal(node_stop(pid, SIGTERM), 0);
	}
}

/* ------------------------------------------------------------------ settle init */

/* BLAKE2b over every entry under path (sorted names, type, mode, size, content). */
static void tree_hash(crypto_generichash_state *h, const char *path)
{
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		char sub[4200];
		struct stat sb;

		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			assert_int_equal(lstat(sub, &sb), 0);
			crypto_generichash_update(h, (const uint8_t *)names[i]->d_name, strlen(names[i]->d_name) + 1);
			crypto_generichash_update(h, (const uint8_t *)&sb.st_mode, sizeof(sb.st_mode));
			if (S_ISDIR(sb.st_mode)) {
				tree_hash(h, sub);
			} else {
				size_t len;
				uint8_t *text = tu_read_file(sub, &len);

				assert_non_null(text);
				crypto_generichash_update(h, (const uint8_t *)&len, sizeof(len));
				crypto_generichash_update(h, text, len);
				free(text);
			}
		}
		free(names[i]);
	}
	free(names);
}

static void home_checksum(const char *home, uint8_t out[32])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, 32);
	tree_hash(&h, home);
	crypto_generichash_final(&h, out, 32);
}

/* `settle init` on home: exit 1, a one-line reason naming an existing file, nothing changed. */
static void init_refused(const char *home)
{
	char errpath[4200], *init[] = { (char *)tu_bin("settle"), "init", "--home", (char *)home, NULL };
	uint8_t sum1[32], sum2[32], *err;
	size_t len;
	int saved, fd;

	home_checksum(home, sum1);
	snprintf(errpath, sizeof(errpath), "%s/init.err", dir);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	fd = tu_run(init, NULL, 0);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(fd, 1);
	err = tu_read_file(errpath, &len);
	assert_non_null(err);
	assert_true(len > 0 && err[len - 1] == '\n' && memchr(err, '\n', len) == err + len - 1);
	if (!memmem(err, len, "already exists", 14) || !memmem(err, len, home, strlen(home)))
		fail_msg("settle init said: %.*s", (int)len, (const char *)err);
	free(err);
	home_checksum(home, sum2);
	assert_memory_equal(sum1, sum2, 32);
}

static void test_init_existing_home(void **state)
{
	char home[4096], partial[4200], path[4300];
	uint16_t port;
	pid_t pid;
	FILE *f;

	(void)state;
	make_home(home, sizeof(home), "init");
	init_refused(home);
	/* After the node ran (a data directory, a node.log) and while it runs. */
	port = tu_free_port();
	pid = node_start(home, port);
	usleep(300000);
	{
		/* The node writes its store and log meanwhile: check only the exit and the keys. */
		char *init[] = { (char *)tu_bin("settle"), "init", "--home", home, NULL };
		uint8_t *k1, *k2;
		size_t l1, l2;

		snprintf(path, sizeof(path), "%s/account.key", home);
		k1 = tu_read_file(path, &l1);
		assert_int_equal(tu_run(init, NULL, 0), 1);
		k2 = tu_read_file(path, &l2);
		assert_true(l1 == l2 && memcmp(k1, k2, l1) == 0);
		free(k1);
		free(k2);
	}
	assert_int_equal(node_stop(pid, SIGTERM), 0);
	init_refused(home);

	/* A home with only one of the files (here a settled.conf) is not completed either. */
	snprintf(partial, sizeof(partial), "%s/partial", dir);
	assert_int_equal(mkdir(partial, 0700), 0);
	snprintf(path, sizeof(path), "%s/settled.conf", partial);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[node]\nlog_level = debug\n", f);
	fclose(f);
	init_refused(partial);
	assert_false(exists(partial, "node.key"));
	assert_false(exists(partial, "account.key"));
	assert_false(exists(partial, "genesis.json"));
}

/* ------------------------------------------------------------------ cookie, second node */

static void test_cookie_and_second_node(void **state)
{
	char home[4096], cookie[128], cookie2[128], out[4096], outpath[4200], p1[16], p2[16], bin[1024];
	uint16_t port = tu_free_port(), port2 = tu_free_port();
	/* tu_bin's buffer is reused by later calls: keep a copy. */
	const char *argv_same_port[] = { bin, "--home", NULL, "--rpc-port", p1, NULL };
	const char *argv_other_port[] = { bin, "--home", NULL, "--rpc-port", p2, NULL };
	bool second_ran = false;
	int wstatus;
	pid_t pid, pid2;

	(void)state;
	snprintf(bin, sizeof(bin), "%s", tu_bin("settled"));
	make_home(home, sizeof(home), "cookie");
	argv_same_port[2] = argv_other_port[2] = home;
	snprintf(p1, sizeof(p1), "%u", port);
	snprintf(p2, sizeof(p2), "%u", port2);
	assert_false(exists(home, "rpc.cookie"));
	pid = node_start(home, port);
	assert_cookie_fresh(home, cookie, sizeof(cookie));
	assert_int_equal(settle(port, home, out, sizeof(out), "status", NULL), 0);

	/* A second settled on the same home and the same port. */
	snprintf(outpath, sizeof(outpath), "%s/second-same-port.out", dir);
	pid2 = spawn(argv_same_port, outpath);
	if (!wait_exit(pid2, 5000, &wstatus)) {
		kill(pid2, SIGKILL);
		waitpid(pid2, NULL, 0);
		untrack(pid2);
		fail_msg("a second settled on the same home and port was still running after 5 s");
	}
	assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 1);
	{
		size_t len;
		uint8_t *text = tu_read_file(outpath, &len);

		assert_non_null(text);
		if (!memmem(text, len, "address already in use", 22) && !memmem(text, len, "is running on", 13))
			fail_msg("the second settled said: %.*s", (int)len, (const char *)text);
		free(text);
	}
	fprintf(stderr, "lifecycle: second settled, same home and port: exit 1\n");
	assert_cookie_fresh(home, cookie2, sizeof(cookie2));
	assert_string_equal(cookie, cookie2);

	/* A second settled on the same home and another port: it must not start (it would take
	 * the cookie and write blocks into the same store); stopped with SIGKILL if it does, so
	 * that it cannot delete the first one's cookie on its way out. */
	snprintf(outpath, sizeof(outpath), "%s/second-other-port.out", dir);
	pid2 = spawn(argv_other_port, outpath);
	if (!wait_exit(pid2, 5000, &wstatus)) {
		second_ran = true;
		kill(pid2, SIGKILL);
		waitpid(pid2, NULL, 0);
		untrack(pid2);
	} else {
		assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0);
		fprintf(stderr, "lifecycle: second settled, same home, other port: exit %d\n", WEXITSTATUS(wstatus));
	}
	assert_cookie_fresh(home, cookie2, sizeof(cookie2));
	if (second_ran)
		fail_msg("a second settled on the same home (port %u) started while the first ran%s; see %s", port2,
		         strcmp(cookie, cookie2) ? " and replaced its rpc.cookie" : "", outpath);
	assert_string_equal(cookie, cookie2);
	/* The first one still serves the CLI with its cookie. */
	assert_int_equal(settle(port, home, out, sizeof(out), "status", NULL), 0);

	/* Clean exit removes the cookie; kill -9 leaves a stale one that the next start replaces. */
	wstatus = node_stop(pid, SIGTERM);
	assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	assert_false(exists(home, "rpc.cookie"));
	pid = node_start(home, port);
	assert_cookie_fresh(home, cookie, sizeof(cookie));
	node_stop(pid, SIGKILL);
	assert_true(exists(home, "rpc.cookie"));
	pid = node_start(home, port);
	assert_cookie_fresh(home, cookie2, sizeof(cookie2));
	assert_string_not_equal(cookie, cookie2);
	assert_int_equal(settle(port, home, out, sizeof(out), "status", NULL), 0);
	wstatus = node_stop(pid, SIGINT);
	assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	assert_false(exists(home, "rpc.cookie"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_typo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_existing_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_and_second_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_saved_at_stop, setup, teardown),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
