/* tests/node/test_home.c — a node's home: key files (0600, atomic, never replaced, refused
 * when others may read them or when not hex), the Ed25519 node key, and the genesis JSON
 * (a valid file, each error with its message, write→parse round trip). */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/home_int.h"

struct fx {
	char *dir;
	char path[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sn_crypto_init(), SN_OK);
	f->dir = tu_tmpdir("test_home");
	assert_non_null(f->dir);
	snprintf(f->path, sizeof(f->path), "%s/k.key", f->dir);
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

static void write_raw(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ key files */

static void test_keyfile_write_read(void **state)
{
	struct fx *f = *state;
	uint8_t key[32], back[32];
	char err[512] = "";
	struct stat st;
	size_t len;
	uint8_t *text;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(node_keyfile_write(f->path, key, sizeof(key)), SN_OK);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(S_ISREG(st.st_mode));
	/* One line of lowercase hex. */
	text = tu_read_file(f->path, &len);
	assert_non_null(text);
	assert_int_equal(len, 65);
	assert_memory_equal(text, "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da\n", 65);
	free(text);
	/* No temporary file left behind. */
	assert_int_equal(dir_entries(f->dir), 1);
	memset(back, 0xEE, sizeof(back));
	assert_int_equal(node_keyfile_read(f->path, back, sizeof(back), err, sizeof(err)), SN_OK);
	assert_memory_equal(back, key, sizeof(key));
}

static void test_keyfile_never_overwritten(void **state)
{
	struct fx *f = *state;
	uint8_t a[32], b[32], back[32];
	char err[512];

	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	assert_int_equal(node_keyfile_write(f->path, a, sizeof(a)), SN_OK);
	assert_int_equal(node_keyfile_write(f->path, b, sizeof(b)), SN_E_EXISTS);
	assert_int_equal(node_keyfile_read(f->path, back, sizeof(back), err, sizeof(err)), SN_OK);
	assert_memory_equal(back, a, sizeof(a));
	assert_int_equal(dir_entries(f->dir), 1);
	/* Any existing file, even an empty one. */
	snprintf(f->path, sizeof(f->path), "%s/empty", f->dir);
	write_raw(f->path, "", 0600);
	assert_int_equal(node_keyfile_write(f->path, a, sizeof(a)), SN_E_EXISTS);
}

/* A file that cannot be written whole (the disk full, here a file-size limit of 0) is
 * refused as disk_full, the error operators look for, and leaves nothing behind. So is a
 * directory without write permission (access_denied, unless we are root). */
static void test_write_refused(void **state)
{
	struct fx *f = *state;
	uint8_t a[32];
	struct rlimit old, zero;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);

	memset(a, 0x11, sizeof(a));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	zero = old;
	zero.rlim_cur = 0;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &zero), 0);
	assert_int_equal(node_keyfile_write(f->path, a, sizeof(a)), SN_E_DISKFULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(dir_entries(f->dir), 0);
	assert_string_equal(sn_errname(SN_E_DISKFULL), "disk_full");
	if (geteuid() != 0) {
		assert_int_equal(chmod(f->dir, 0500), 0);
		assert_int_equal(node_keyfile_write(f->path, a, sizeof(a)), SN_E_ACCESS);
		assert_int_equal(chmod(f->dir, 0700), 0);
	}
	assert_int_equal(node_keyfile_write(f->path, a, sizeof(a)), SN_OK);
}

static void test_keyfile_readable_by_others(void **state)
{
	struct fx *f = *state;
	uint8_t key[32], back[32];
	char err[512] = "", want[1024];
	static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0602 };

	memset(key, 0x33, sizeof(key));
	assert_int_equal(node_keyfile_write(f->path, key, sizeof(key)), SN_OK);
	for (size_t i = 0; i < SN_ARRAY_LEN(modes); i++) {
		assert_int_equal(chmod(f->path, modes[i]), 0);
		memset(back, 0xEE, sizeof(back));
		assert_int_equal(node_keyfile_read(f->path, back, sizeof(back), err, sizeof(err)), SN_E_INVAL);
		snprintf(want, sizeof(want), "chmod 600 %s", f->path);
		assert_non_null(strstr(err, want));
		assert_non_null(strstr(err, "readable by group or others"));
		/* Nothing of the key is handed out. */
		for (size_t j = 0; j < sizeof(back); j++)
			assert_int_equal(back[j], 0);
	}
	assert_int_equal(chmod(f->path, 0400), 0);
	assert_int_equal(node_keyfile_read(f->path, back, sizeof(back), err, sizeof(err)), SN_OK);
	assert_memory_equal(back, key, sizeof(key));
}

static void test_keyfile_bad_contents(void **state)
{
	struct fx *f = *state;
	uint8_t back[32];
	char err[512], want[1024];
	static const char *const bad[] = {
		"zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", /* not hex */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\n",   /* short */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n", /* long */
		"",                                                                       /* empty */
		"00 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", /* space */
	};

	snprintf(want, sizeof(want), "%s: expected 64 hex characters", f->path);
	for (size_t i = 0; i < SN_ARRAY_LEN(bad); i++) {
		unlink(f->path);
		write_raw(f->path, bad[i], 0600);
		assert_int_equal(node_keyfile_read(f->path, back, sizeof(back), err, sizeof(err)), SN_E_INVAL);
		assert_string_equal(err, want);
	}
	/* Upper case and CRLF are fine. */
	unlink(f->path);
	write_raw(f->path, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\r\n", 0600);
	assert_int_equal(node_keyfile_read(f->path, back, sizeof(back), err, sizeof(err)), SN_OK);
	for (int i = 0; i < 32; i++)
		assert_int_equal(back[i], i);
}

static void test_keyfile_missing(void **state)
{
	struct fx *f = *state;
	uint8_t back[32];
	char err[512], want[1024];

	assert_int_not_equal(node_keyfile_read(f->path, back, sizeof(back), err, sizeof(err)), SN_OK);
	snprintf(want, sizeof(want), "%s: No such file or directory", f->path);
	assert_string_equal(err, want);
	/* A directory is not a key file. */
	assert_int_equal(node_keyfile_read(f->dir, back, sizeof(back), err, sizeof(err)), SN_E_INVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

/* RFC 8032, section 7.1, TEST 1. */
static void test_ed25519_from_seed(void **state)
{
	uint8_t seed[32], pk[NODE_ED25519_PK_LEN], sk[NODE_ED25519_SK_LEN], want[32];

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	assert_int_equal(sn_hex_decode(seed, 32, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
	                 SN_OK);
	assert_int_equal(sn_hex_decode(want, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
	                 SN_OK);
	node_ed25519_from_seed(pk, sk, seed);
	assert_memory_equal(pk, want, 32);
	assert_memory_equal(sk, seed, 32);
	assert_memory_equal(sk + 32, want, 32);
	sn_wipe(sk, sizeof(sk));
}

/* ------------------------------------------------------------------ genesis */

/* Valid BIP340 x-only keys (the generator's x, and those of secret keys 2 and 3). */
#define KEY_G "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
#define KEY_2 "c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
#define KEY_3 "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
#define NODE_A "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define NODE_B "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"

#define GENESIS_HEAD                                                         \
	"{\"chain_id\": 42, \"genesis_time_ms\": 1700000000000,\n"           \
	" \"root\": {\"address\": \"" KEY_G "\", \"balance\": \"1000000\"},\n"

#define GENESIS_ACCOUNTS                                                                     \
	" \"accounts\": [{\"address\": \"" KEY_2 "\", \"sponsor\": \"" KEY_G "\", \"balance\": \"5\"},\n" \
	"              {\"address\": \"" KEY_3 "\", \"sponsor\": \"" KEY_2 "\", \"balance\": 7}],\n"

#define GENESIS_PARAMS " \"params\": {\"min_fee\": \"3\", \"max_block_txs\": 500},\n"

#define GENESIS_VALIDATORS \
	" \"validators\": [{\"node_key\": \"" NODE_A "\", \"power\": 10}, {\"node_key\": \"" NODE_B "\", \"power\": \"2\"}],\n"

#define GENESIS_GOV                                                                             \
	" \"governance\": {\"developers\": [{\"address\": \"" KEY_G "\", \"weight\": 2}, {\"address\": \"" KEY_2 \
	"\"}],\n"                                                                                         \
	"                \"community\": [{\"address\": \"" KEY_3 "\", \"weight\": \"1000000\"}]}}\n"

static const char valid_genesis[] = GENESIS_HEAD GENESIS_ACCOUNTS GENESIS_PARAMS GENESIS_VALIDATORS GENESIS_GOV;

static void hex32(uint8_t out[32], const char *hex)
{
	assert_int_equal(sn_hex_decode(out, 32, hex), SN_OK);
}

static void test_genesis_valid(void **state)
{
	struct node_genesis *g = calloc(1, sizeof(*g));
	uint8_t k[32];
	char err[512] = "";

	(void)state;
	assert_non_null(g);
	assert_int_equal(node_genesis_parse(g, valid_genesis, strlen(valid_genesis), err, sizeof(err)), SN_OK);
	assert_int_equal(g->chain_id, 42);
	assert_int_equal(g->g.time_ms, 1700000000000ull);
	hex32(k, KEY_G);
	assert_memory_equal(g->g.root, k, 32);
	assert_int_equal(g->g.root_balance, 1000000);
	assert_int_equal(g->g.n_accounts, 2);
	assert_ptr_equal(g->g.accounts, g->accounts);
	hex32(k, KEY_2);
	assert_memory_equal(g->accounts[0].key, k, 32);
	assert_int_equal(g->accounts[0].balance, 5);
	assert_memory_equal(g->accounts[1].sponsor, k, 32);
	assert_int_equal(g->accounts[1].balance, 7);
	assert_int_equal(g->g.params.min_fee, 3);
	assert_int_equal(g->g.params.max_block_txs, 500);
	assert_int_equal(g->n_validators, 2);
	hex32(k, NODE_A);
	assert_memory_equal(g->validators[0].key, k, 32);
	assert_int_equal(g->validators[0].power, 10);
	assert_int_equal(g->validators[1].power, 2);
	assert_int_equal(g->n_developers, 2);
	assert_int_equal(g->developers[0].weight, 2);
	assert_int_equal(g->developers[1].weight, 1); /* default */
	assert_int_equal(g->n_community, 1);
	assert_int_equal(g->community[0].weight, 1000000);
	node_genesis_free(g);
	assert_null(g->accounts);
	node_genesis_free(g); /* twice is harmless */
	free(g);
}

static void test_genesis_defaults(void **state)
{
	static const char text[] = GENESIS_HEAD GENESIS_VALIDATORS GENESIS_GOV;
	struct node_genesis *g = calloc(1, sizeof(*g));
	char err[512];

	(void)state;
	assert_non_null(g);
	assert_int_equal(node_genesis_parse(g, text, strlen(text), err, sizeof(err)), SN_OK);
	assert_int_equal(g->g.n_accounts, 0);
	assert_int_equal(g->g.params.min_fee, 0);
	assert_int_equal(g->g.params.max_block_txs, 10000);
	node_genesis_free(g);
	free(g);
}

/* text must be refused with exactly reason. */
static void expect_genesis_error(const char *text, const char *reason)
{
	struct node_genesis *g = calloc(1, sizeof(*g));
	char err[512] = "";

	assert_non_null(g);
	assert_int_equal(node_genesis_parse(g, text, strlen(text), err, sizeof(err)), SN_E_INVAL);
	assert_string_equal(err, reason);
	assert_null(g->accounts); /* nothing left to free */
	free(g);
}

static void test_genesis_empty_track(void **state)
{
	(void)state;
	expect_genesis_error(GENESIS_HEAD GENESIS_VALIDATORS
	                     " \"governance\": {\"developers\": [], \"community\": [{\"address\": \"" KEY_3 "\"}]}}",
	                     "governance.developers: a track with no members can never give its half; add at least one");
	expect_genesis_error(GENESIS_HEAD GENESIS_ACCOUNTS GENESIS_VALIDATORS
	                     " \"governance\": {\"developers\": [{\"address\": \"" KEY_3 "\"}], \"community\": []}}",
	                     "governance.community: a track with no members can never give its half; add at least one");
	expect_genesis_error(GENESIS_HEAD GENESIS_VALIDATORS
	                     " \"governance\": {\"developers\": [{\"address\": \"" KEY_3 "\"}]}}",
	                     "governance.community: expected an array of members");
	expect_genesis_error(GENESIS_HEAD GENESIS_VALIDATORS "\"x\": 1}",
	                     "governance: expected an object with developers and community");
}

static void test_genesis_duplicate_member(void **state)
{
	(void)state;
	expect_genesis_error(GENESIS_HEAD GENESIS_VALIDATORS
	                     " \"governance\": {\"developers\": [{\"address\": \"" KEY_3 "\"}],"
	                     " \"community\": [{\"address\": \"" KEY_2 "\"}, {\"address\": \"" KEY_3 "\"},"
	                     " {\"address\": \"" KEY_2 "\"}]}}",
	                     "governance.community[2]: duplicate member");
	expect_genesis_error(GENESIS_HEAD
	                     " \"validators\": [{\"node_key\": \"" NODE_A "\", \"power\": 1}, {\"node_key\": \"" NODE_A
	                     "\", \"power\": 1}]," GENESIS_GOV,
	                     "validators[1]: duplicate node_key");
	expect_genesis_error(GENESIS_HEAD GENESIS_VALIDATORS
	                     " \"governance\": {\"developers\": [{\"address\": \"" KEY_3 "\", \"weight\": 0}],"
	                     " \"community\": [{\"address\": \"" KEY_2 "\"}]}}",
	                     "governance.developers[0].weight: expected a whole number from 1 to 1000000");
}

static void test_genesis_bad_chain_id(void **state)
{
	static const char *const ids[] = { "0", "-1", "4294967296", "\"x\"", "\"01\"", "1.5", "null" };
	static const char reason[] = "chain_id: expected a whole number from 1 to 4294967295";
	char text[4096];

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(ids); i++) {
		snprintf(text, sizeof(text),
		         "{\"chain_id\": %s, \"root\": {\"address\": \"" KEY_G "\", \"balance\": \"1\"},"
		         GENESIS_VALIDATORS GENESIS_GOV,
		         ids[i]);
		expect_genesis_error(text, reason);
	}
	expect_genesis_error("{\"root\": {\"address\": \"" KEY_G "\", \"balance\": \"1\"}," GENESIS_VALIDATORS GENESIS_GOV,
	                     reason);
	snprintf(text, sizeof(text), "{\"chain_id\": \"4294967295\", \"root\": {\"address\": \"" KEY_G
	                             "\", \"balance\": \"1\"}," GENESIS_VALIDATORS GENESIS_GOV);
	{
		struct node_genesis *g = calloc(1, sizeof(*g));
		char err[512];

		assert_int_equal(node_genesis_parse(g, text, strlen(text), err, sizeof(err)), SN_OK);
		assert_int_equal(g->chain_id, UINT32_MAX);
		node_genesis_free(g);
		free(g);
	}
}

static void test_genesis_bad_hex(void **state)
{
	(void)state;
	/* Not hex, too short, and hex that is not a point on the curve. */
	expect_genesis_error("{\"chain_id\": 1, \"root\": {\"address\": \"zz\", \"balance\": \"1\"}}",
	                     "root.address: expected a BIP340 public key (64 hex characters)");
	expect_genesis_error("{\"chain_id\": 1, \"root\": {\"address\": \"" KEY_G "00\", \"balance\": \"1\"}}",
	                     "root.address: expected a BIP340 public key (64 hex characters)");
	expect_genesis_error("{\"chain_id\": 1, \"root\": {\"address\": "
	                     "\"0000000000000000000000000000000000000000000000000000000000000000\", \"balance\": \"1\"}}",
	                     "root.address: expected a BIP340 public key (64 hex characters)");
	expect_genesis_error("{\"chain_id\": 1, \"root\": {\"address\": \"" KEY_G "\", \"balance\": \"-1\"}}",
	                     "root.balance: expected a decimal amount");
	expect_genesis_error(GENESIS_HEAD
	                     " \"accounts\": [{\"address\": \"" KEY_2 "\", \"sponsor\": \"xyz\", \"balance\": \"5\"}],"
	                     GENESIS_VALIDATORS GENESIS_GOV,
	                     "accounts[0]: expected address, sponsor (hex keys) and balance");
	expect_genesis_error(GENESIS_HEAD " \"validators\": [{\"node_key\": \"" NODE_A "0\", \"power\": 1}]," GENESIS_GOV,
	                     "validators[0]: expected node_key (64 hex characters) and power (1 to 2^40)");
	expect_genesis_error(GENESIS_HEAD GENESIS_VALIDATORS
	                     " \"governance\": {\"developers\": [{\"address\": \"" KEY_3 "x\"}],"
	                     " \"community\": [{\"address\": \"" KEY_2 "\"}]}}",
	                     "governance.developers[0].address: expected 64 hex characters");
}

static void test_genesis_missing_validators(void **state)
{
	static const char reason[] = "validators: expected an array of 1 to 128 validators";

	(void)state;
	expect_genesis_error(GENESIS_HEAD GENESIS_GOV, reason);
	expect_genesis_error(GENESIS_HEAD " \"validators\": []," GENESIS_GOV, reason);
	expect_genesis_error(GENESIS_HEAD " \"validators\": {}," GENESIS_GOV, reason);
	expect_genesis_error(GENESIS_HEAD " \"validators\": [{\"node_key\": \"" NODE_A "\", \"power\": 0}]," GENESIS_GOV,
	                     "validators[0]: expected node_key (64 hex characters) and power (1 to 2^40)");
	expect_genesis_error(GENESIS_HEAD " \"validators\": [{\"node_key\": \"" NODE_A "\", \"power\": 1099511627777}],"
	                     GENESIS_GOV,
	                     "validators[0]: expected node_key (64 hex characters) and power (1 to 2^40)");
}

/* Not JSON: the error says where (line and column); jansson's own words follow. */
static void expect_json_error(const char *text, const char *where, const char *words)
{
	struct node_genesis *g = calloc(1, sizeof(*g));
	char err[512] = "";

	assert_non_null(g);
	assert_int_equal(node_genesis_parse(g, text, strlen(text), err, sizeof(err)), SN_E_INVAL);
	assert_memory_equal(err, where, strlen(where));
	assert_non_null(strstr(err, words));
	free(g);
}

static void test_genesis_not_json(void **state)
{
	(void)state;
	expect_json_error("", "line 1 column 0: ", "expected");
	expect_json_error("{\"chain_id\": 1,\n  \"root\": {\"address\" \"x\"}}", "line 2 column 24: ", "':' expected");
	expect_json_error("{\"chain_id\": 1, \"chain_id\": 2}", "line 1 column 26: ", "duplicate object key");
	expect_json_error(GENESIS_HEAD GENESIS_VALIDATORS GENESIS_GOV "trailing", "line 6 column 8: ",
	                  "end of file expected");
	expect_genesis_error("[1, 2]", "expected a JSON object");
}

static void test_genesis_params_and_time(void **state)
{
	(void)state;
	expect_genesis_error(GENESIS_HEAD " \"params\": {\"max_block_txs\": 65537}," GENESIS_VALIDATORS GENESIS_GOV,
	                     "params.max_block_txs: expected 1 to 65536");
	expect_genesis_error(GENESIS_HEAD " \"params\": {\"min_fee\": \"x\"}," GENESIS_VALIDATORS GENESIS_GOV,
	                     "params.min_fee: expected a decimal amount");
	expect_genesis_error("{\"chain_id\": 1, \"genesis_time_ms\": \"soon\"}",
	                     "genesis_time_ms: expected milliseconds since 1970");
	expect_genesis_error(GENESIS_HEAD " \"accounts\": 3," GENESIS_VALIDATORS GENESIS_GOV, "accounts: expected an array");
}

static void assert_genesis_equal(const struct node_genesis *a, const struct node_genesis *b)
{
	assert_int_equal(a->chain_id, b->chain_id);
	assert_int_equal(a->g.time_ms, b->g.time_ms);
	assert_memory_equal(a->g.root, b->g.root, SN_PUBKEY_LEN);
	assert_int_equal(a->g.root_balance, b->g.root_balance);
	assert_int_equal(a->g.params.min_fee, b->g.params.min_fee);
	assert_int_equal(a->g.params.max_block_txs, b->g.params.max_block_txs);
	assert_int_equal(a->g.n_accounts, b->g.n_accounts);
	for (size_t i = 0; i < a->g.n_accounts; i++) {
		assert_memory_equal(a->g.accounts[i].key, b->g.accounts[i].key, SN_PUBKEY_LEN);
		assert_memory_equal(a->g.accounts[i].sponsor, b->g.accounts[i].sponsor, SN_PUBKEY_LEN);
		assert_int_equal(a->g.accounts[i].balance, b->g.accounts[i].balance);
	}
	assert_int_equal(a->n_validators, b->n_validators);
	for (size_t i = 0; i < a->n_validators; i++) {
		assert_memory_equal(a->validators[i].key, b->validators[i].key, NODE_ED25519_PK_LEN);
		assert_int_equal(a->validators[i].power, b->validators[i].power);
	}
	assert_int_equal(a->n_developers, b->n_developers);
	for (size_t i = 0; i < a->n_developers; i++) {
		assert_memory_equal(a->developers[i].key, b->developers[i].key, SN_PUBKEY_LEN);
		assert_int_equal(a->developers[i].weight, b->developers[i].weight);
	}
	assert_int_equal(a->n_community, b->n_community);
	for (size_t i = 0; i < a->n_community; i++) {
		assert_memory_equal(a->community[i].key, b->community[i].key, SN_PUBKEY_LEN);
		assert_int_equal(a->community[i].weight, b->community[i].weight);
	}
}

static void round_trip(struct fx *f, const struct node_genesis *g)
{
	struct node_genesis *back = calloc(1, sizeof(*back));
	char path[600], err[512] = "";
	struct stat st;

	assert_non_null(back);
	snprintf(path, sizeof(path), "%s/genesis.json", f->dir);
	unlink(path);
	assert_int_equal(node_genesis_write(g, path), SN_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(node_genesis_write(g, path), SN_E_EXISTS);
	assert_int_equal(node_genesis_load(back, path, err, sizeof(err)), SN_OK);
	assert_genesis_equal(g, back);
	node_genesis_free(back);
	free(back);
}

static void test_genesis_round_trip(void **state)
{
	struct fx *f = *state;
	struct node_genesis *g = calloc(1, sizeof(*g));
	char err[512];

	assert_non_null(g);
	assert_int_equal(node_genesis_parse(g, valid_genesis, strlen(valid_genesis), err, sizeof(err)), SN_OK);
	round_trip(f, g);
	/* Extremes of every field the writer emits. */
	g->chain_id = UINT32_MAX;
	g->g.root_balance = UINT64_MAX;
	g->accounts[0].balance = UINT64_MAX;
	g->g.params.min_fee = UINT64_MAX;
	g->g.params.max_block_txs = STORE_BLOCK_MAX_TXS;
	g->validators[1].power = 1ull << 40;
	g->community[0].weight = 1000000;
	g->g.time_ms = (uint64_t)INT64_MAX;
	round_trip(f, g);
	node_genesis_free(g);
	free(g);
}

/* Milliseconds past 2^63 parse (they are u64) and must write back as they parsed. */
static void test_genesis_round_trip_time_u64(void **state)
{
	struct fx *f = *state;
	struct node_genesis *g = calloc(1, sizeof(*g));
	char err[512];

	assert_non_null(g);
	assert_int_equal(node_genesis_parse(g, valid_genesis, strlen(valid_genesis), err, sizeof(err)), SN_OK);
	g->g.time_ms = UINT64_MAX;
	round_trip(f, g);
	node_genesis_free(g);
	free(g);
}

static void test_genesis_load_errors(void **state)
{
	struct fx *f = *state;
	struct node_genesis *g = calloc(1, sizeof(*g));
	char path[600], err[512], want[1024];

	assert_non_null(g);
	snprintf(path, sizeof(path), "%s/genesis.json", f->dir);
	assert_int_not_equal(node_genesis_load(g, path, err, sizeof(err)), SN_OK);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	write_raw(path, "{\"chain_id\": 0}", 0644);
	assert_int_equal(node_genesis_load(g, path, err, sizeof(err)), SN_E_INVAL);
	snprintf(want, sizeof(want), "%s: chain_id: expected a whole number from 1 to 4294967295", path);
	assert_string_equal(err, want);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keyfile_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyfile_never_overwritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyfile_readable_by_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyfile_bad_contents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyfile_missing, setup, teardown),
		cmocka_unit_test(test_ed25519_from_seed),
		cmocka_unit_test(test_genesis_valid),
		cmocka_unit_test(test_genesis_defaults),
		cmocka_unit_test(test_genesis_empty_track),
		cmocka_unit_test(test_genesis_duplicate_member),
		cmocka_unit_test(test_genesis_bad_chain_id),
		cmocka_unit_test(test_genesis_bad_hex),
		cmocka_unit_test(test_genesis_missing_validators),
		cmocka_unit_test(test_genesis_not_json),
		cmocka_unit_test(test_genesis_params_and_time),
		cmocka_unit_test_setup_teardown(test_genesis_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_genesis_round_trip_time_u64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_genesis_load_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
