/* tests/integration/test_cli.c — the settle CLI against a real settled process: 40 keys
 * made with `settle keygen`, registered in a random tree (chains several levels deep) with
 * `settle register`, then 960 random `settle transfer`s, 1,000 transactions in all, every
 * one through the binary. An oracle kept here predicts every balance, nonce, sponsor,
 * personal volume and the treasury; team figures are computed naively by walking ancestors
 * and compared with `settle --json team`. Failures: exit 1 with the one-line reason for
 * rejected transactions, exit 2 for usage errors. */
#include "testutil.h"

#include "node/node.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_KEYS 40                  /* accounts besides the genesis root */
#define N_TXS 1000                 /* registrations + transfers */
#define ROOT 0                     /* index of the genesis root in accounts[] */
#define OUT_CAP (256 * 1024)

struct acct {
	char addr[2 * SN_PUBKEY_LEN + 1];
	char key[4200];  /* key file */
	bool registered; /* committed (registrations are waited for) */
	int sponsor;     /* index, -1 for the root */
	uint64_t balance, nonce, personal_volume;
};

static char *dir, home[4096], rpcaddr[32];
static uint16_t port;
static pid_t pid;
static struct acct accounts[N_KEYS + 1];
static uint64_t treasury;
static bool oracle_in_sync; /* the first test passed: the second builds on its oracle */
static char out[OUT_CAP], err[8192];

/* Runs `settle --rpc 127.0.0.1:PORT --home HOME args...` (NULL-terminated); its stdout goes
 * to out, its stderr to err. Returns the exit status (-1 if it did not exit). */
#define settle(...) tu_settle(rpcaddr, home, dir, out, sizeof(out), err, sizeof(err), __VA_ARGS__)

/* Parses out as JSON; fails with what settle said if it is not. */
static json_t *out_json(void)
{
	return tu_json_out(out, err);
}

#define jdec tu_json_u64

static int setup(void **state)
{
	char path[4200];
	const char *extra[] = { "--set", "node.block_interval_ms=100", "--log-level", "warn", NULL };
	json_t *j;

	(void)state;
	dir = tu_tmpdir("sn-cli");
	snprintf(home, sizeof(home), "%s/node", dir);
	port = tu_free_port();
	snprintf(rpcaddr, sizeof(rpcaddr), "127.0.0.1:%u", port);
	if (settle("--json", "init", NULL) != 0)
		fail_msg("settle init: %s", err);
	j = out_json();
	snprintf(accounts[ROOT].addr, sizeof(accounts[ROOT].addr), "%s", json_string_value(json_object_get(j, "address")));
	json_decref(j);
	snprintf(accounts[ROOT].key, sizeof(accounts[ROOT].key), "%s/account.key", home);
	/* `settle address` gives the genesis account's address from HOME/account.key. */
	assert_int_equal(settle("address", NULL), 0);
	snprintf(path, sizeof(path), "%s\n", accounts[ROOT].addr);
	assert_string_equal(out, path);
	pid = tu_node_start(home, port, extra);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_node_stop(pid, SIGTERM);
	pid = 0;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* Height and mempool count from `settle --json status`; the treasury in *tr. */
static void status(uint64_t *height, uint64_t *mempool, uint64_t *tr)
{
	json_t *j;

	if (settle("--json", "status", NULL) != 0)
		fail_msg("settle status: %s", err);
	j = out_json();
	*height = jdec(j, "height");
	*mempool = jdec(json_object_get(j, "mempool"), "count");
	*tr = jdec(j, "treasury");
	json_decref(j);
}

static void wait_mempool_empty(void)
{
	uint64_t h, n = 1, tr;

	for (int i = 0; i < 600 && n; i++) {
		status(&h, &n, &tr);
		if (n)
			usleep(50000);
	}
	if (n)
		fail_msg("the mempool still holds %llu transactions after 30 s", (unsigned long long)n);
}

/* A signed transaction through the CLI; the oracle applies it when the node accepted it. */
static void send(int from, int to, bool reg, uint64_t amount, uint64_t fee, bool wait)
{
	char amt[24], feestr[24];
	int rc;

	snprintf(amt, sizeof(amt), "%llu", (unsigned long long)amount);
	snprintf(feestr, sizeof(feestr), "%llu", (unsigned long long)fee);
	if (reg)
		rc = settle(wait ? "--json" : "--no-wait", "register", "--account", accounts[to].addr, "--amount", amt,
		            "--sponsor", accounts[from].addr, "--key", accounts[from].key, "--fee", feestr, NULL);
	else
		rc = settle(wait ? "--json" : "--no-wait", "transfer", "--to", accounts[to].addr, "--amount", amt, "--key",
		            accounts[from].key, "--fee", feestr, NULL);
	if (rc != 0)
		fail_msg("settle %s from #%d to #%d amount %llu fee %llu: exit %d: %s", reg ? "register" : "transfer",
		         from, to, (unsigned long long)amount, (unsigned long long)fee, rc, err);
	if (wait) {
		json_t *j = out_json();

		assert_string_equal(json_string_value(json_object_get(j, "status")), "committed");
		assert_true(jdec(j, "height") > 0);
		json_decref(j);
	} else {
		assert_non_null(strstr(out, "submitted (pending)"));
	}
	accounts[from].balance -= amount + fee;
	accounts[from].nonce++;
	accounts[from].personal_volume += amount;
	treasury += fee;
	if (reg) {
		accounts[to].registered = true;
		accounts[to].sponsor = from;
		accounts[to].balance = amount;
	} else {
		accounts[to].balance += amount;
	}
}

static bool is_ancestor(int a, int of)
{
	for (int s = accounts[of].sponsor; s >= 0; s = accounts[s].sponsor)
		if (s == a)
			return true;
	return false;
}

static void check_account(int i)
{
	json_t *j;
	uint64_t size = 0, direct = 0, depth = 0;
	unsigned __int128 volume = accounts[i].personal_volume;
	char want[64];

	if (settle("--json", "account", accounts[i].addr, NULL) != 0)
		fail_msg("settle account #%d: %s", i, err);
	j = out_json();
	if (jdec(j, "balance") != accounts[i].balance || jdec(j, "nonce") != accounts[i].nonce ||
	    jdec(j, "personal_volume") != accounts[i].personal_volume)
		fail_msg("account #%d: node says balance %llu nonce %llu volume %llu, oracle %llu %llu %llu", i,
		         (unsigned long long)jdec(j, "balance"), (unsigned long long)jdec(j, "nonce"),
		         (unsigned long long)jdec(j, "personal_volume"), (unsigned long long)accounts[i].balance,
		         (unsigned long long)accounts[i].nonce, (unsigned long long)accounts[i].personal_volume);
	if (accounts[i].sponsor < 0)
		assert_true(json_is_null(json_object_get(j, "sponsor")));
	else
		assert_string_equal(json_string_value(json_object_get(j, "sponsor")), accounts[accounts[i].sponsor].addr);
	for (int s = accounts[i].sponsor; s >= 0; s = accounts[s].sponsor)
		depth++;
	assert_int_equal(jdec(j, "depth"), depth);
	json_decref(j);

	/* Team figures, naively: everyone who has i among their ancestors. */
	for (int k = 0; k <= N_KEYS; k++) {
		if (!accounts[k].registered || k == i || !is_ancestor(i, k))
			continue;
		size++;
		volume += accounts[k].personal_volume;
		if (accounts[k].sponsor == i)
			direct++;
	}
	if (settle("--json", "team", accounts[i].addr, NULL) != 0)
		fail_msg("settle team #%d: %s", i, err);
	j = out_json();
	assert_true(volume <= UINT64_MAX);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)volume);
	if (jdec(j, "team_size") != size || jdec(j, "direct_referrals") != direct || jdec(j, "depth") != depth ||
	    strcmp(json_string_value(json_object_get(j, "team_volume")), want) != 0)
		fail_msg("team of #%d: node says size %llu volume %s depth %llu direct %llu; oracle %llu %s %llu %llu", i,
		         (unsigned long long)jdec(j, "team_size"), json_string_value(json_object_get(j, "team_volume")),
		         (unsigned long long)jdec(j, "depth"), (unsigned long long)jdec(j, "direct_referrals"),
		         (unsigned long long)size, want, (unsigned long long)depth, (unsigned long long)direct);
	assert_int_equal(json_array_size(json_object_get(j, "referrals")), direct);
	json_decref(j);
}

static void test_thousand_txs_through_the_cli(void **state)
{
	struct tu_rng rng = { tu_seed("cli_thousand_txs") };
	uint64_t t0 = sn_time_mono_ns(), h, n, tr, total = 0, max_depth = 0;
	int order[N_KEYS], n_reg = 1, waited = 0, drains = 0, bursts = 0;
	bool committed[N_KEYS + 1] = { [ROOT] = true };

	(void)state;
	accounts[ROOT].registered = true;
	accounts[ROOT].sponsor = -1;
	status(&h, &n, &tr);
	treasury = tr;
	{
		json_t *j;

		assert_int_equal(settle("--json", "account", accounts[ROOT].addr, NULL), 0);
		j = out_json();
		accounts[ROOT].balance = jdec(j, "balance");
		accounts[ROOT].nonce = jdec(j, "nonce");
		json_decref(j);
	}

	/* Keys; `settle address --key` agrees with what keygen printed. */
	for (int i = 1; i <= N_KEYS; i++) {
		snprintf(accounts[i].key, sizeof(accounts[i].key), "%s/k%02d.key", dir, i);
		if (settle("keygen", "--out", accounts[i].key, NULL) != 0)
			fail_msg("settle keygen: %s", err);
		assert_int_equal(strlen(out), 65);
		snprintf(accounts[i].addr, sizeof(accounts[i].addr), "%.64s", out);
		accounts[i].sponsor = -1;
		if (i % 10 == 1) {
			assert_int_equal(settle("address", "--key", accounts[i].key, NULL), 0);
			assert_memory_equal(out, accounts[i].addr, 64);
		}
		order[i - 1] = i;
	}
	for (int i = N_KEYS - 1; i > 0; i--) {
		int k = (int)tu_rand_below(&rng, (uint64_t)i + 1), t = order[i];

		order[i] = order[k];
		order[k] = t;
	}

	/* Registrations in a random tree: the first eight a chain under the root, then a third
	 * under the root, a third under the account registered just before, the rest under any
	 * registered account. Sponsors give a quarter to a half of what they hold (a few give
	 * nothing). Most go with --no-wait; the CLI needs a sponsor's account committed, so before
	 * a sponsor registered since the last drain signs, the mempool is drained. */
	for (int r = 0; r < N_KEYS; r++) {
		int who = order[r], sponsor, pick = (int)tu_rand_below(&rng, 3);
		uint64_t fee = 1 + tu_rand_below(&rng, 3), amount;

		if (r == 0)
			sponsor = ROOT;
		else if (r < 8 || pick == 1)
			sponsor = order[r - 1];
		else if (pick == 0)
			sponsor = ROOT;
		else
			sponsor = order[tu_rand_below(&rng, (uint64_t)r)];
		if (accounts[sponsor].balance < fee + 4) /* too poor at the end of a long chain */
			sponsor = ROOT;
		if (sponsor == ROOT)
			amount = 1000000000 + tu_rand_below(&rng, 9000000000);
		else
			amount = accounts[sponsor].balance / 4 + tu_rand_below(&rng, accounts[sponsor].balance / 4 + 1);
		if (r % 13 == 12)
			amount = 0; /* a registration need not fund */
		assert_true(accounts[sponsor].balance >= amount + fee);
		if (!committed[sponsor]) {
			wait_mempool_empty();
			for (int i = 0; i <= N_KEYS; i++)
				committed[i] = accounts[i].registered;
			drains++;
		}
		send(sponsor, who, true, amount, fee, tu_rand_below(&rng, 4) == 0);
		n_reg++;
	}
	assert_int_equal(n_reg, N_KEYS + 1);
	wait_mempool_empty(); /* the CLI signs only for committed accounts */
	for (int i = 1; i <= N_KEYS; i++) {
		uint64_t d = 0;

		for (int s = accounts[i].sponsor; s >= 0; s = accounts[s].sponsor)
			d++;
		if (d > max_depth)
			max_depth = d;
	}
	fprintf(stderr, "cli: %d registrations in %.1f s (%d drains), tree depth %llu\n", N_KEYS,
	        (double)(sn_time_mono_ns() - t0) / 1e9, drains, (unsigned long long)max_depth);

	/* Random transfers, most with --no-wait: the CLI takes the next nonce from the account
	 * and the signer's pending transactions, and we never send from one key concurrently.
	 * A third of the time the sender sends a burst of 2 to 6 in a row, so many go out while
	 * the same signer's previous ones are still pending (or being committed). */
	for (int t = N_KEYS; t < N_TXS;) {
		int from, burst = tu_rand_below(&rng, 3) ? 1 : 2 + (int)tu_rand_below(&rng, 5);
		uint64_t fee0 = tu_rand_below(&rng, 4) ? 1 : 1 + tu_rand_below(&rng, 5);

		do {
			from = (int)tu_rand_below(&rng, N_KEYS + 1);
		} while (accounts[from].balance < fee0 + 1);
		for (int b = 0; b < burst && t < N_TXS && accounts[from].balance >= fee0 + 1; b++, t++) {
			int to;
			uint64_t fee = fee0, amount;
			bool wait = tu_rand_below(&rng, 25) == 0;

			do {
				to = (int)tu_rand_below(&rng, N_KEYS + 1);
			} while (to == from);
			amount = 1 + tu_rand_below(&rng, (accounts[from].balance - fee) /
			                                         (tu_rand_below(&rng, 2) ? 2 : 20) + 1);
			if (amount > accounts[from].balance - fee)
				amount = accounts[from].balance - fee;
			send(from, to, false, amount, fee, wait);
			waited += wait;
			bursts += burst > 1;
		}
	}
	wait_mempool_empty();
	fprintf(stderr, "cli: %d transactions (%d transfers waited for, %d in bursts from one key) sent and committed "
	        "in %.1f s\n", N_TXS, waited, bursts, (double)(sn_time_mono_ns() - t0) / 1e9);

	/* Every account, its team, and the treasury against the oracle. */
	for (int i = 0; i <= N_KEYS; i++) {
		check_account(i);
		total += accounts[i].balance;
	}
	status(&h, &n, &tr);
	assert_int_equal(tr, treasury);
	assert_int_equal(total + treasury, 1000000000000000ull); /* settle init's root balance */
	{
		json_t *j;

		assert_int_equal(settle("--json", "status", NULL), 0);
		j = out_json();
		assert_int_equal(jdec(j, "accounts"), N_KEYS + 1);
		json_decref(j);
	}
	oracle_in_sync = true;
	fprintf(stderr, "cli: oracle matches (balances, nonces, volumes, teams, treasury %llu) after %.1f s\n",
	        (unsigned long long)treasury, (double)(sn_time_mono_ns() - t0) / 1e9);
}

/* The reason line: exactly one line on stderr. */
static void assert_one_line(const char *want)
{
	if (strcmp(err, want) != 0)
		fail_msg("stderr was \"%s\", expected \"%s\"", err, want);
}

static void test_failures(void **state)
{
	char stranger_key[4200], stranger[65], amt[32], line[8800];
	int poor = 1;
	uint64_t h, n, tr;

	(void)state;
	if (!oracle_in_sync)
		skip();
	status(&h, &n, &tr);
	/* The poorest funded account (the previous test leaves the oracle in sync). */
	for (int i = 1; i <= N_KEYS; i++)
		if (accounts[i].balance < accounts[poor].balance)
			poor = i;

	/* insufficient_balance: more than it holds */
	snprintf(amt, sizeof(amt), "%llu", (unsigned long long)accounts[poor].balance + 1);
	assert_int_equal(settle("transfer", "--to", accounts[ROOT].addr, "--amount", amt, "--key", accounts[poor].key, NULL), 1);
	assert_one_line("settle: transaction rejected: insufficient_balance (insufficient balance)\n");
	assert_string_equal(out, "");

	/* unknown_recipient: a key never registered */
	snprintf(stranger_key, sizeof(stranger_key), "%s/stranger.key", dir);
	assert_int_equal(settle("keygen", "--out", stranger_key, NULL), 0);
	snprintf(stranger, sizeof(stranger), "%.64s", out);
	assert_int_equal(settle("transfer", "--to", stranger, "--amount", "1", NULL), 1);
	assert_one_line("settle: transaction rejected: unknown_recipient (recipient is not registered)\n");

	/* an unregistered signer is named with its key file */
	assert_int_equal(settle("transfer", "--to", accounts[ROOT].addr, "--amount", "1", "--key", stranger_key, NULL), 1);
	snprintf(line, sizeof(line), "settle: the sender %s (key %s) is not a registered account\n", stranger,
	         stranger_key);
	assert_one_line(line);

	/* already_registered: any registered account again, by any sponsor */
	assert_int_equal(settle("register", "--account", accounts[N_KEYS].addr, "--amount", "1", NULL), 1);
	assert_one_line("settle: transaction rejected: already_registered (account is already registered)\n");

	/* usage errors: exit 2 and a pointer to --help */
	assert_int_equal(settle("transfer", "--to", accounts[ROOT].addr, NULL), 2);
	assert_one_line("settle: transfer: --amount N is required (see settle transfer --help)\n");
	assert_int_equal(settle("transfer", "--to", "xyz", "--amount", "1", NULL), 2);
	assert_int_equal(settle("transfer", "--to", accounts[ROOT].addr, "--amount", "-5", NULL), 2);
	assert_int_equal(settle("frobnicate", NULL), 2);
	assert_int_equal(settle("--version", NULL), 0); /* as settled's */
	assert_string_equal(out, "settle " SETTLED_VERSION "\n");
	assert_int_equal(settle("address", "--key", NULL), 2);
	assert_non_null(strchr(err, '\n'));
	assert_true(strchr(err, '\n')[1] == '\0');

	/* nothing of the above reached the chain */
	for (int i = 0; i <= N_KEYS; i++)
		if (i == ROOT || i == poor || i == N_KEYS)
			check_account(i);
	{
		uint64_t h2, n2, tr2;

		status(&h2, &n2, &tr2);
		assert_int_equal(tr2, tr);
		assert_int_equal(n2, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thousand_txs_through_the_cli),
		cmocka_unit_test(test_failures),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, setup, teardown);
}
