/* tests/testutil.c — helpers shared by the tests. */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t tu_seed(const char *test_name)
{
	const char *env = getenv("SN_TEST_SEED");
	uint64_t seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		sn_random_bytes(&seed, sizeof(seed));
		seed &= 0xffffffffffffull;
	}
	fprintf(stderr, "%s: seed %llu (replay with SN_TEST_SEED=%llu)\n", test_name,
	        (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

uint64_t tu_rand(struct tu_rng *r)
{
	/* splitmix64 */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t tu_rand_below(struct tu_rng *r, uint64_t n)
{
	return tu_rand(r) % n;
}

char *tu_tmpdir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	path = malloc(strlen(base) + strlen(prefix) + 16);
	if (!path)
		return NULL;
	sprintf(path, "%s/%s.XXXXXX", base, prefix);
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void tu_rmtree(const char *path)
{
	if (path && getenv("SN_TEST_KEEP")) { /* debugging: keep homes and node logs */
		fprintf(stderr, "kept %s\n", path);
		return;
	}
	if (path)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0'; /* also usable as a string */
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

void tu_key(uint64_t i, uint8_t sk[SN_SECKEY_LEN], uint8_t pk[SN_PUBKEY_LEN])
{
	uint8_t le[8];

	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t)(i >> (8 * b));
	sn_hash_tagged(sk, "settled/testkey", le, sizeof(le));
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_OK);
}

void tu_register_hex(char hex[2 * STORE_TX_MAX + 1], const uint8_t sk[SN_SECKEY_LEN],
                     const uint8_t pk[SN_PUBKEY_LEN], uint64_t nonce, uint64_t to_index, uint8_t id[SN_HASH_LEN])
{
	struct store_tx tx = { .version = STORE_TX_V1, .type = STORE_TX_REGISTER, .chain_id = 1, .nonce = nonce,
		               .fee = 1, .amount = 1 };
	uint8_t raw[STORE_TX_MAX];
	size_t len;

	memcpy(tx.signer, pk, SN_PUBKEY_LEN);
	tu_pk(to_index, tx.to);
	assert_int_equal(store_tx_sign(&tx, sk), SN_OK);
	assert_int_equal(store_tx_encode(raw, sizeof(raw), &len, &tx), SN_OK);
	sn_hex_encode(hex, raw, len);
	if (id)
		store_tx_id(id, raw, len);
}

void tu_pk(uint64_t i, uint8_t pk[SN_PUBKEY_LEN])
{
	uint8_t sk[SN_SECKEY_LEN];

	tu_key(i, sk, pk);
	sn_wipe(sk, sizeof(sk));
}

size_t tu_tx_signed(uint8_t *out, struct store_tx *tx, uint64_t signer_index)
{
	uint8_t sk[SN_SECKEY_LEN];
	size_t len;

	tu_key(signer_index, sk, tx->signer);
	assert_int_equal(store_tx_sign(tx, sk), SN_OK);
	sn_wipe(sk, sizeof(sk));
	assert_int_equal(store_tx_encode(out, STORE_TX_MAX, &len, tx), SN_OK);
	return len;
}

size_t tu_tx(uint8_t *out, uint8_t type, uint64_t signer_index, uint64_t nonce, uint64_t fee,
             const uint8_t to[SN_PUBKEY_LEN], uint64_t amount)
{
	struct store_tx tx = { .version = STORE_TX_V1, .type = type, .chain_id = TU_CHAIN, .nonce = nonce,
		               .fee = fee, .amount = amount };

	memcpy(tx.to, to, SN_PUBKEY_LEN);
	return tu_tx_signed(out, &tx, signer_index);
}

/* Before main, in every test binary: tests/CMakeLists.txt links this object into each one
 * (-u tu_filter_from_env), whether it uses the rest or not. */
__attribute__((constructor)) void tu_filter_from_env(void)
{
	const char *f = getenv("SN_TEST_FILTER");

	if (f && *f)
		cmocka_set_test_filter(f);
}

int tu_setup_crypto(void **state)
{
	(void)state;
	return sn_crypto_init() == SN_OK ? 0 : -1;
}

uint8_t *tu_unhex(const char *hex, size_t *len)
{
	size_t cap = strlen(hex) / 2 + 1;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	assert_int_equal(sn_hex_decode_var(buf, cap, len, hex), SN_OK);
	return buf;
}

struct store *tu_store_new(char **dir, uint64_t root_balance, uint64_t min_fee, bool no_sync)
{
	return tu_store_new_map(dir, root_balance, min_fee, no_sync, 64u << 20);
}

struct store *tu_store_new_map(char **dir, uint64_t root_balance, uint64_t min_fee, bool no_sync, uint64_t map_size)
{
	struct store_opts o = { .chain_id = TU_CHAIN, .map_size = map_size, .no_sync = no_sync };
	struct store_genesis g;
	struct store *st;
	uint8_t sk[SN_SECKEY_LEN];

	*dir = tu_tmpdir("sn-store");
	assert_non_null(*dir);
	assert_int_equal(store_open(&st, *dir, &o), SN_OK);
	memset(&g, 0, sizeof(g));
	tu_key(0, sk, g.root);
	g.root_balance = root_balance;
	g.params.min_fee = min_fee;
	g.params.max_block_txs = 10000;
	g.time_ms = 1700000000000ull;
	assert_int_equal(store_genesis_init(st, &g), SN_OK);
	return st;
}

/* ---------------------------------------------------------------- real processes */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

void tu_fsize_limit(pid_t pid, rlim_t n)
{
	struct rlimit r;

	assert_int_equal(prlimit(pid, RLIMIT_FSIZE, NULL, &r), 0);
	r.rlim_cur = n == RLIM_INFINITY ? r.rlim_max : n;
	assert_int_equal(prlimit(pid, RLIMIT_FSIZE, &r, NULL), 0);
}

uint16_t tu_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

const char *tu_bin(const char *name)
{
	static char path[4][1024];
	static int slot;
	char *p = path[slot++ % 4];

	snprintf(p, 1024, "%s/%s", SN_BINARY_DIR, name);
	return p;
}

int tu_run(char *const argv[], char *out, size_t cap)
{
	int pipefd[2], status;
	pid_t pid;
	size_t got = 0;

	if (pipe(pipefd) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char buf[4096];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && got + 1 < cap) {
			size_t take = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;

			memcpy(out + got, buf, take);
			got += take;
		}
	}
	close(pipefd[0]);
	if (out && cap)
		out[got] = '\0';
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int tu_settle(const char *rpc, const char *home, const char *dir, char *out, size_t cap, char *err, size_t errcap,
              const char *arg0, ...)
{
	va_list ap;
	char errpath[4200];
	const char *argv[48];
	int n = 0, fd, saved, status;
	size_t len = 0;
	uint8_t *e;

	argv[n++] = tu_bin("settle");
	argv[n++] = "--rpc";
	argv[n++] = rpc;
	argv[n++] = "--home";
	argv[n++] = home;
	va_start(ap, arg0);
	for (const char *a = arg0; a && n < 47; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	/* stderr to a file, stdout through tu_run's pipe: save our stderr and restore it after. */
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	assert_true(saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	status = tu_run((char *const *)argv, out, cap);
	dup2(saved, 2);
	close(saved);
	e = tu_read_file(errpath, &len);
	snprintf(err, errcap, "%.*s", (int)len, e ? (const char *)e : "");
	free(e);
	return status;
}

json_t *tu_json_out(const char *out, const char *err)
{
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);

	if (!j)
		fail_msg("settle printed no JSON (%s): %s / %s", je.text, out, err);
	return j;
}

uint64_t tu_json_u64(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	unsigned long long u;
	char *end;

	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v);
	if (!json_is_string(v))
		fail_msg("member %s is missing", key);
	u = strtoull(json_string_value(v), &end, 10);
	assert_true(*end == '\0');
	return (uint64_t)u;
}

void tu_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

pid_t tu_node_start(const char *home, uint16_t port, const char *const *extra)
{
	char portstr[16], logpath[4096];
	const char *argv[32];
	int n = 0;
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%u", port);
	snprintf(logpath, sizeof(logpath), "%s/node.log", home);
	argv[n++] = tu_bin("settled");
	argv[n++] = "--home";
	argv[n++] = home;
	argv[n++] = "--rpc-port";
	argv[n++] = portstr;
	bool p2p = false;

	for (int i = 0; extra && extra[i] && n < 28; i++) {
		argv[n++] = extra[i];
		p2p = p2p || strstr(extra[i], "p2p.") != NULL;
	}
	if (!p2p) { /* nodes of tests that do not test the network stay off the p2p port */
		argv[n++] = "--set";
		argv[n++] = "p2p.enabled=0";
	}
	argv[n] = NULL;
	pid = tu_spawn(argv, logpath, true);
	for (int i = 0; i < 400; i++) {
		char resp[512];
		static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			tu_report_exit(pid, status);
			fail_msg("settled exited during start-up (see %s)", logpath);
		}
		if (tu_http_raw(port, req, sizeof(req) - 1, resp, sizeof(resp), 2000, NULL) > 0 &&
		    tu_http_status(resp) == 200)
			return pid;
		tu_sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("settled did not become healthy in 20 s (see %s)", logpath);
	return -1;
}

int tu_node_stop(pid_t pid, int sig)
{
	int status = -1;

	if (pid <= 0)
		return -1;
	if (waitpid(pid, &status, WNOHANG) == pid) { /* it stopped before being told to */
		tu_report_exit(pid, status);
		return status;
	}
	kill(pid, sig);
	for (int i = 0; i < 600; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		tu_sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

ssize_t tu_http_raw(uint16_t port, const void *req, size_t len, char *out, size_t cap, int timeout_ms,
                    bool *closed)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t got = 0, sent = 0;

	if (closed)
		*closed = false;
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	while (sent < len) {
		ssize_t n = send(fd, (const char *)req + sent, len - sent, MSG_NOSIGNAL);

		if (n <= 0)
			break; /* the server may close early (e.g. 413): read what it said */
		sent += (size_t)n;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		n = recv(fd, out + got, cap - 1 - got, 0);
		if (n <= 0) {
			if (closed)
				*closed = true;
			break;
		}
		got += (size_t)n;
		if (got + 1 >= cap)
			break;
	}
	out[got] = '\0';
	close(fd);
	return (ssize_t)got;
}

int tu_http_status(const char *resp)
{
	int status = 0;

	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		return 0;
	return status;
}

int tu_rpc(uint16_t port, const char *home, const char *json, char **body)
{
	char path[4096], cookie[256] = { 0 }, b64[400], *req, *resp, *sep;
	size_t clen = 0, cap = 1 << 20;
	FILE *f;
	int status;

	*body = NULL;
	snprintf(path, sizeof(path), "%s/rpc.cookie", home);
	f = fopen(path, "r");
	if (f) {
		clen = fread(cookie, 1, sizeof(cookie) - 1, f);
		fclose(f);
	}
	cookie[clen] = '\0';
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cookie, clen, sodium_base64_VARIANT_ORIGINAL);
	req = malloc(strlen(json) + 1024);
	resp = malloc(cap);
	sprintf(req,
	        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\n"
	        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	        b64, strlen(json), json);
	if (tu_http_raw(port, req, strlen(req), resp, cap, 30000, NULL) <= 0) {
		free(req);
		free(resp);
		return 0;
	}
	free(req);
	status = tu_http_status(resp);
	sep = strstr(resp, "\r\n\r\n");
	*body = strdup(sep ? sep + 4 : "");
	free(resp);
	return status;
}

/* The output files of the processes tu_spawn started, for tu_report_exit. */
static struct {
	pid_t pid;
	char path[4096];
} spawned[64];

static const char *spawned_log(pid_t pid)
{
	for (size_t i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++)
		if (spawned[i].pid == pid)
			return spawned[i].path;
	return NULL;
}

void tu_report_exit(pid_t pid, int status)
{
	const char *path = spawned_log(pid);
	uint8_t *log;
	size_t len = 0;

	if (WIFSIGNALED(status))
		fprintf(stderr, "process %d was killed by signal %d\n", (int)pid, WTERMSIG(status));
	else
		fprintf(stderr, "process %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
	if (!path || !(log = tu_read_file(path, &len)))
		return;
	/* its last 8 KiB: a sanitizer's report or the error that stopped it */
	fprintf(stderr, "--- the end of %s ---\n%s\n---\n", path, (const char *)log + (len > 8192 ? len - 8192 : 0));
	free(log);
}

void tu_assert_running(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) == pid) {
		tu_report_exit(pid, status);
		fail_msg("process %d is no longer running", (int)pid);
	}
}

pid_t tu_spawn(const char *const *argv, const char *outpath, bool append)
{
	static unsigned next;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid > 0) {
		spawned[next % 64].pid = pid;
		snprintf(spawned[next % 64].path, sizeof(spawned[0].path), "%s", outpath);
		next++;
	}
	if (pid == 0) {
		int fd = open(outpath, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);

		/* A test that fails before stopping its node must not leave it running. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

json_t *tu_rpc_result(uint16_t port, const char *home, const char *json)
{
	char *body;
	json_t *j, *r;

	if (tu_rpc(port, home, json, &body) != 200) {
		free(body);
		return NULL;
	}
	j = json_loads(body, 0, NULL);
	free(body);
	r = json_incref(json_object_get(j, "result"));
	json_decref(j);
	return r;
}

/* ---------------------------------------------------------------- networks of nodes */

void tu_pnode_init(struct tu_pnode *n, const char *dir, const char *name, const struct tu_pnode *genesis_from)
{
	char *init[] = { (char *)tu_bin("settle"), "init", "--home", n->home, NULL };

	memset(n, 0, sizeof(*n));
	snprintf(n->home, sizeof(n->home), "%s/%s", dir, name);
	assert_int_equal(tu_run(init, NULL, 0), 0);
	if (genesis_from) {
		char src[4200], dst[4200];
		size_t len;
		uint8_t *g;
		FILE *f;

		snprintf(src, sizeof(src), "%s/genesis.json", genesis_from->home);
		snprintf(dst, sizeof(dst), "%s/genesis.json", n->home);
		g = tu_read_file(src, &len);
		assert_non_null(g);
		f = fopen(dst, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(g, 1, len, f), len);
		fclose(f);
		free(g);
	}
	n->rpc = tu_free_port();
	n->p2p = tu_free_port();
}

void tu_pnode_run(struct tu_pnode *n, uint16_t seed, const char *more)
{
	char port[64], seeds[64];
	const char *extra[32] = { "--set", port, "--set", "p2p.ping_interval_ms=500", "--set",
		                  "p2p.ping_timeout_ms=2500", "--set", "p2p.pex_interval_ms=500", "--set",
		                  "p2p.backoff_min_ms=100", "--set", "p2p.backoff_max_ms=1000", "--set",
		                  "node.block_interval_ms=300", "--set", "p2p.handshake_timeout_ms=3000" };
	int k = 16;

	snprintf(port, sizeof(port), "p2p.port=%u", n->p2p);
	if (seed) {
		snprintf(seeds, sizeof(seeds), "p2p.seeds=127.0.0.1:%u", seed);
		extra[k++] = "--set";
		extra[k++] = seeds;
	}
	if (more) {
		extra[k++] = "--set";
		extra[k++] = more;
	}
	extra[k] = NULL;
	n->pid = tu_node_start(n->home, n->rpc, extra);
}

void tu_pnode_root_key(const struct tu_pnode *n, uint8_t sk[32], uint8_t pk[32])
{
	tu_home_root_key(n->home, sk, pk);
}

void tu_home_root_key(const char *home, uint8_t sk[32], uint8_t pk[32])
{
	char path[4200], hex[128] = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/account.key", home);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(hex, sizeof(hex), f));
	fclose(f);
	hex[64] = '\0';
	assert_int_equal(sn_hex_decode(sk, 32, hex), SN_OK);
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_OK);
}

static int tu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double tu_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), tu_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t tu_account_nonce(uint16_t port, const char *home, const uint8_t pk[32])
{
	char req[256], hex[65];
	json_t *r;
	uint64_t n;

	sn_hex_encode(hex, pk, 32);
	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get_account\",\"params\":[\"%s\"]}", hex);
	r = tu_rpc_result(port, home, req);
	assert_non_null(r);
	n = (uint64_t)json_integer_value(json_object_get(r, "nonce"));
	json_decref(r);
	return n;
}

void tu_header_next(struct store_block_header *h, const struct store_info *tip, const uint8_t (*ids)[SN_HASH_LEN],
                    uint32_t n)
{
	memset(h, 0, sizeof(*h));
	h->version = STORE_BLOCK_V1;
	h->chain_id = tip->chain_id;
	h->height = tip->height + 1;
	memcpy(h->prev_hash, tip->tip_hash, SN_HASH_LEN);
	h->time_ms = tip->tip_time_ms + 1;
	h->tx_count = n;
	store_tx_root(h->tx_root, ids, n);
}
