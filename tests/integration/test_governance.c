/* tests/integration/test_governance.c — `settle gov` against a real settled: a home made
 * by `settle init` whose genesis gets a council of 3 developers and 3 community members
 * (keys from `settle keygen --out`, weight 1) and a timelock of 3 blocks before the node first
 * starts. Through the CLI only: a min_fee change proposed, approved member by member
 * (`settle gov show --json` after each: 1 developer + 2 community = 50% does not pass,
 * 2 + 2 = 66.66% does), refused while timelocked, executed, and then in force (status
 * min_fee, a transfer at the old fee refused with fee_too_low); a non-member's and a
 * duplicate approval refused; Safe-style executes carrying approvals made offline with
 * `settle gov sign`. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define OUT_CAP (64 * 1024)

enum { D1, D2, D3, C1, C2, C3, OUTSIDER, N_KEYS };
static const char *const key_names[N_KEYS] = { "d1", "d2", "d3", "c1", "c2", "c3", "outsider" };

static char *dir, home[4096], rpcaddr[32], root[65];
static char keys[N_KEYS][4200], addrs[N_KEYS][65];
static uint16_t port;
static pid_t pid;
static char out[OUT_CAP], err[8192];
static bool min_fee_done; /* the first test passed: the second builds on its chain */

/* `settle --rpc 127.0.0.1:PORT --home HOME args...` (NULL-terminated): stdout in out,
 * stderr in err; the exit status. */
#define settle(...) tu_settle(rpcaddr, home, dir, out, sizeof(out), err, sizeof(err), __VA_ARGS__)

static json_t *out_json(void)
{
	return tu_json_out(out, err);
}

/* A member that is a number or a decimal string. */
#define jnum tu_json_u64

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		fail_msg("member %s is missing", key);
	return s ? s : "";
}

/* The failure ran to exit 1 with one line naming what (the engine's error name). */
static void refused(int rc, const char *what)
{
	if (rc != 1 || !strstr(err, what) || strncmp(err, "settle: ", 8) != 0 || strchr(err, '\n') != err + strlen(err) - 1)
		fail_msg("expected exit 1 with one line naming %s; got exit %d: %s", what, rc, err);
}

/* `settle gov show ID --json`, checked to be the proposal. */
static json_t *show(uint64_t id)
{
	char ids[24];
	json_t *p;

	snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
	if (settle("gov", "show", ids, "--json", NULL) != 0)
		fail_msg("settle gov show %s: %s", ids, err);
	p = out_json();
	assert_int_equal(jnum(p, "id"), id);
	return p;
}

/* Approval of the proposal in bps, each track's number of approvals, and its status. */
static void expect(uint64_t id, uint64_t bps, uint64_t devs, uint64_t comms, const char *status)
{
	json_t *p = show(id);

	if (jnum(p, "approval_bps") != bps || jnum(json_object_get(p, "developers"), "approvals") != devs ||
	    jnum(json_object_get(p, "community"), "approvals") != comms || (status && strcmp(jstr(p, "status"), status)))
		fail_msg("proposal %llu: %llu bps, %llu + %llu approvals, %s; expected %llu, %llu + %llu, %s",
		         (unsigned long long)id, (unsigned long long)jnum(p, "approval_bps"),
		         (unsigned long long)jnum(json_object_get(p, "developers"), "approvals"),
		         (unsigned long long)jnum(json_object_get(p, "community"), "approvals"), jstr(p, "status"),
		         (unsigned long long)bps, (unsigned long long)devs, (unsigned long long)comms, status ? status : "any");
	assert_int_equal(jnum(p, "threshold_bps"), 6500);
	json_decref(p);
}

static void approve(const char *id, int member)
{
	if (settle("gov", "approve", id, "--key", keys[member], NULL) != 0)
		fail_msg("settle gov approve %s as %s: %s", id, key_names[member], err);
	assert_non_null(strstr(out, "approved in block"));
}

/* Polls `settle gov show` until the proposal is executable (timelock over). */
static void wait_executable(uint64_t id)
{
	for (int i = 0; i < 300; i++) {
		json_t *p = show(id);
		bool done = strcmp(jstr(p, "status"), "executable") == 0;

		if (!done)
			assert_string_equal(jstr(p, "status"), "timelocked");
		json_decref(p);
		if (done)
			return;
		usleep(100000);
	}
	fail_msg("proposal %llu still timelocked after 30 s", (unsigned long long)id);
}

/* The id `settle gov propose` printed (rc its exit status). */
static uint64_t created(int rc)
{
	if (rc != 0)
		fail_msg("settle gov propose: exit %d: %s", rc, err);
	return strtoull(out, NULL, 10);
}

static uint64_t balance(int who)
{
	json_t *j;
	uint64_t b;

	if (settle("--json", "account", who < 0 ? root : addrs[who], NULL) != 0)
		fail_msg("settle account: %s", err);
	j = out_json();
	b = jnum(j, "balance");
	json_decref(j);
	return b;
}

static int setup(void **state)
{
	const char *extra[] = { "--set", "node.block_interval_ms=100", "--log-level", "warn", NULL };
	char path[4200];
	json_t *g, *gov, *tracks[2];
	json_error_t je;

	(void)state;
	dir = tu_tmpdir("sn-gov");
	snprintf(home, sizeof(home), "%s/node", dir);
	port = tu_free_port();
	snprintf(rpcaddr, sizeof(rpcaddr), "127.0.0.1:%u", port);
	if (settle("--json", "init", NULL) != 0)
		fail_msg("settle init: %s", err);
	g = out_json();
	snprintf(root, sizeof(root), "%s", jstr(g, "address"));
	json_decref(g);

	/* The council: 3 developers and 3 community members of weight 1; timelock 3 blocks. */
	tracks[0] = json_array();
	tracks[1] = json_array();
	for (int i = 0; i < N_KEYS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%s/%s.key", dir, key_names[i]);
		if (settle("keygen", "--out", keys[i], NULL) != 0)
			fail_msg("settle keygen: %s", err);
		snprintf(addrs[i], sizeof(addrs[i]), "%.64s", out);
		if (i != OUTSIDER)
			json_array_append_new(tracks[i >= C1], json_pack("{s:s,s:i}", "address", addrs[i], "weight", 1));
	}
	snprintf(path, sizeof(path), "%s/genesis.json", home);
	g = json_load_file(path, 0, &je);
	assert_non_null(g);
	gov = json_object_get(g, "governance");
	json_object_set_new(gov, "developers", tracks[0]);
	json_object_set_new(gov, "community", tracks[1]);
	json_object_set_new(json_object_get(g, "params"), "timelock_blocks", json_integer(3));
	assert_int_equal(json_dump_file(g, path, JSON_INDENT(2)), 0);
	json_decref(g);
	pid = tu_node_start(home, port, extra);

	/* d1 and c1 are accounts and pay for their own approvals; the others' are paid by the
	 * home's account. */
	if (settle("register", "--account", addrs[D1], "--amount", "1000000", NULL) != 0 ||
	    settle("register", "--account", addrs[C1], "--amount", "1000000", NULL) != 0)
		fail_msg("settle register: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_node_stop(pid, SIGTERM);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static void test_min_fee_change(void **state)
{
	char id[24];
	uint64_t n, root_before;
	json_t *p, *t;

	(void)state;
	/* usage errors: exit 2 */
	assert_int_equal(settle("gov", "propose", "set_param", "--param", "min_fee", NULL), 2);
	assert_string_equal(err, "settle: gov propose: --value N is required (see settle gov propose --help)\n");
	assert_int_equal(settle("gov", "propose", "frobnicate", NULL), 2);
	assert_int_equal(settle("gov", "propose", "pause_transfers", "--to", root, NULL), 2);
	assert_int_equal(settle("gov", "propose", "set_param", "--param", "min_fee", "--value", "x", NULL), 2);
	assert_int_equal(settle("gov", "frobnicate", NULL), 2);
	assert_int_equal(settle("gov", "show", NULL), 2);
	assert_int_equal(settle("gov", "show", "--help", NULL), 0);
	assert_non_null(strstr(out, "usage: settle gov show ID"));
	refused(settle("gov", "show", "99", NULL), "no proposal 99");

	/* min_fee 1 -> 5, proposed by the home's account */
	n = created(settle("gov", "propose", "set_param", "--param", "min_fee", "--value", "5", NULL));
	assert_true(n == 1);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)n);
	p = show(n);
	assert_string_equal(jstr(p, "kind"), "set_param");
	assert_string_equal(jstr(p, "proposer"), root);
	assert_string_equal(jstr(json_object_get(p, "details"), "param"), "min_fee");
	assert_int_equal(jnum(json_object_get(p, "details"), "value"), 5);
	assert_int_equal(jnum(p, "timelock_blocks"), 3);
	/* --deadline 1000 by default: after the next block, where it lands unless a block came first */
	assert_in_range(jnum(p, "deadline_height") - jnum(p, "created_height"), 990, 1000);
	t = json_object_get(p, "developers");
	assert_int_equal(jnum(t, "total_weight"), 3);
	assert_int_equal(json_array_size(json_object_get(t, "members")), 3);
	json_decref(p);
	expect(n, 0, 0, 0, "proposed");

	/* 1 developer, then 2 community members: 16.66 + 33.33 = 50% is not enough */
	approve(id, D1);
	expect(n, 1666, 1, 0, "proposed");
	approve(id, C1);
	expect(n, 3333, 1, 1, "proposed");
	approve(id, C2);
	expect(n, 5000, 1, 2, "proposed");
	assert_int_equal(settle("gov", "show", id, NULL), 0);
	assert_non_null(strstr(out, "developers  [######--------------]  16.66% of 50%   (1 of 3 members)"));
	assert_non_null(strstr(out, "community   [#############-------]  33.33% of 50%   (2 of 3 members)"));
	assert_non_null(strstr(out, "total       [##########|---|-------]  50.00%   needs 65.00%"));
	refused(settle("gov", "execute", id, NULL), "not_approved");

	/* a duplicate approval and a non-member's are refused, and change nothing */
	root_before = balance(-1);
	refused(settle("gov", "approve", id, "--key", keys[C2], NULL), "duplicate_approval");
	refused(settle("gov", "approve", id, "--key", keys[OUTSIDER], NULL), "not_a_member");
	refused(settle("gov", "sign", id, "--key", keys[OUTSIDER], NULL), "not_a_member");
	expect(n, 5000, 1, 2, "proposed");
	assert_int_equal(balance(-1), root_before);

	/* the second developer: 33.33 + 33.33 = 66.66% passes. Sent without waiting and the
	 * execute right after it: the timelock (3 blocks) has certainly not elapsed. */
	assert_int_equal(settle("--no-wait", "gov", "approve", id, "--key", keys[D2], NULL), 0);
	assert_non_null(strstr(out, "submitted (pending)"));
	refused(settle("gov", "execute", id, NULL), "timelock");
	assert_string_equal(err, "settle: transaction rejected: timelock (proposal's timelock has not elapsed)\n");
	for (int i = 0; i < 300; i++) {
		p = show(n);
		if (jnum(p, "approval_bps") == 6666)
			break;
		json_decref(p);
		p = NULL;
		usleep(100000);
	}
	if (!p)
		fail_msg("the second developer's approval is not committed after 30 s");
	assert_string_equal(jstr(p, "state"), "approved");
	assert_int_equal(jnum(p, "executable_height"), jnum(p, "approved_height") + 3);
	assert_int_equal(jnum(json_object_get(p, "developers"), "approvals"), 2);
	json_decref(p);
	assert_int_equal(settle("gov", "show", id, NULL), 0);
	assert_non_null(strstr(out, "developers  [#############-------]  33.33% of 50%   (2 of 3 members)"));
	assert_non_null(strstr(out, "66.66%   passes (needs 65.00%)"));

	/* executed once the timelock is over, and min_fee is 5 from then on */
	wait_executable(n);
	if (settle("gov", "execute", id, NULL) != 0)
		fail_msg("settle gov execute: %s", err);
	assert_non_null(strstr(out, "executed in block"));
	expect(n, 6666, 2, 2, "executed");
	refused(settle("gov", "execute", id, NULL), "already_executed");
	refused(settle("gov", "approve", id, "--key", keys[D3], NULL), "already_executed");
	assert_int_equal(settle("--json", "status", NULL), 0);
	p = out_json();
	assert_string_equal(jstr(p, "min_fee"), "5");
	json_decref(p);
	refused(settle("transfer", "--to", addrs[D1], "--amount", "1", "--fee", "1", NULL), "fee_too_low");
	assert_string_equal(err, "settle: transaction rejected: fee_too_low (fee is below the chain's minimum fee)\n");
	if (settle("--json", "transfer", "--to", addrs[D1], "--amount", "1", NULL) != 0)
		fail_msg("a transfer at the new minimum fee: %s", err);
	p = out_json();
	assert_string_equal(jstr(p, "fee"), "5");
	json_decref(p);
	min_fee_done = true;
}

/* Executes that carry approvals made offline: `settle gov sign` by each member, then
 * `settle gov execute --sig ...`. */
static void test_safe_style(void **state)
{
	char id[24], sigs[N_KEYS][200], amount[24];
	uint64_t n, c3_before, treasury;
	json_t *p;

	(void)state;
	if (!min_fee_done)
		skip();
	/* Proposal 2: timelock 0, approved with transactions by 2 + 2; executed with the last two
	 * members' approvals riding on the EXECUTE (accepted: they only raise the tally). */
	n = created(settle("gov", "propose", "set_param", "--param", "timelock_blocks", "--value", "0", "--key", keys[D1], NULL));
	assert_true(n == 2);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)n);
	approve(id, D1);
	approve(id, D2);
	approve(id, C1);
	approve(id, C2);
	expect(n, 6666, 2, 2, NULL);
	for (int i = D3; i <= C3; i += C3 - D3) { /* d3, c3 */
		if (settle("gov", "sign", id, "--key", keys[i], NULL) != 0)
			fail_msg("settle gov sign: %s", err);
		assert_int_equal(strlen(out), 64 + 1 + 128 + 1);
		assert_memory_equal(out, addrs[i], 64);
		snprintf(sigs[i], sizeof(sigs[i]), "%.193s", out);
	}
	assert_int_equal(settle("gov", "execute", id, "--sig", "nothex", NULL), 2);
	wait_executable(n);
	if (settle("gov", "execute", id, "--sig", sigs[D3], "--sig", sigs[C3], "--key", keys[C1], NULL) != 0)
		fail_msg("settle gov execute --sig: %s", err);
	expect(n, 10000, 3, 3, "executed");

	/* Proposal 3, created under timelock 0: a treasury spend to c3 (registered now: a
	 * spend pays an account) with no APPROVE at all. */
	if (settle("register", "--account", addrs[C3], NULL) != 0)
		fail_msg("settle register: %s", err);
	assert_int_equal(settle("--json", "status", NULL), 0);
	p = out_json();
	treasury = jnum(p, "treasury");
	json_decref(p);
	assert_true(treasury >= 2);
	snprintf(amount, sizeof(amount), "%llu", (unsigned long long)treasury / 2);
	if (settle("--json", "gov", "propose", "treasury_spend", "--to", addrs[C3], "--amount", amount, NULL) != 0)
		fail_msg("settle gov propose treasury_spend: %s", err);
	p = out_json();
	n = jnum(p, "id");
	assert_int_equal(n, 3);
	assert_string_equal(jstr(p, "kind"), "treasury_spend");
	json_decref(p);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)n);
	c3_before = balance(C3);
	for (int i = D1; i <= C2; i++) {
		if (i == D3)
			continue; /* its signature stays the one of proposal 2 */
		if (settle("gov", "sign", id, "--key", keys[i], NULL) != 0)
			fail_msg("settle gov sign: %s", err);
		snprintf(sigs[i], sizeof(sigs[i]), "%.193s", out);
	}
	/* An approval of proposal 2 is not one of proposal 3. */
	refused(settle("gov", "execute", id, "--sig", sigs[D3], NULL), "approval_signature");
	/* 2 developers + 1 community member: 33.33 + 16.66 = 50% */
	refused(settle("gov", "execute", id, "--sig", sigs[D1], "--sig", sigs[D2], "--sig", sigs[C1], NULL),
	        "not_approved");
	expect(n, 0, 0, 0, "proposed");
	/* + a second community member: approved and executed by one transaction */
	if (settle("gov", "execute", id, "--sig", sigs[D1], "--sig", sigs[D2], "--sig", sigs[C1], "--sig", sigs[C2],
	           NULL) != 0)
		fail_msg("settle gov execute (Safe-style): %s", err);
	expect(n, 6666, 2, 2, "executed");
	p = show(n);
	assert_int_equal(jnum(p, "approved_height"), jnum(p, "closed_height"));
	json_decref(p);
	assert_int_equal(balance(C3), c3_before + treasury / 2);

	/* The list: three executed proposals. */
	assert_int_equal(settle("--json", "gov", "list", "--status", "executed", NULL), 0);
	p = out_json();
	assert_int_equal(json_array_size(json_object_get(p, "proposals")), 3);
	assert_int_equal(jnum(p, "next_id"), 4);
	json_decref(p);
	assert_int_equal(settle("gov", "list", NULL), 0);
	assert_non_null(strstr(out, "3 proposals"));
	assert_non_null(strstr(out, "set min_fee to 5"));

	/* A payload over 256 bytes (8 members) shows whole in gov_get and get_tx. */
	n = created(settle("gov", "propose", "change_members", "--track", "community", "--member", addrs[D1], "--member",
	                   addrs[D2], "--member", addrs[D3], "--member", addrs[C1], "--member", addrs[C2], "--member",
	                   addrs[C3], "--member", addrs[OUTSIDER], "--member", root, NULL));
	assert_int_equal(n, 4);
	p = show(n);
	assert_int_equal(json_array_size(json_object_get(json_object_get(p, "details"), "members")), 8);
	assert_int_equal(strlen(jstr(p, "payload")), 2 * (1 + 1 + 2 + 8 * 36));
	json_decref(p);
	/* a payload the encoder refuses is a usage error, named as the engine names it */
	assert_int_equal(settle("gov", "propose", "change_members", "--track", "community", "--member", addrs[D1],
	                        "--member", addrs[D1], NULL), 2);
	assert_non_null(strstr(err, "malformed_payload"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_min_fee_change),
		cmocka_unit_test(test_safe_style),
	};

	assert_int_equal(sn_crypto_init(), SN_OK);
	return cmocka_run_group_tests(tests, setup, teardown);
}
