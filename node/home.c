/* node/home.c — key files and the genesis file. */
#include "node/home_int.h"
#include "node/json_int.h"
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int node_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, bool replace)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const uint8_t *p = data;
	int fd, dfd, err = SN_OK;

	if (!replace && access(path, F_OK) == 0)
		return SN_E_EXISTS;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return SN_E_INVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return sn_err_from_errno(errno);
	if (fchmod(fd, mode) != 0)
		err = sn_err_from_errno(errno);
	while (!err && len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* a full disk says so (disk_full), not just "input/output error" */
			err = n < 0 ? sn_err_from_errno(errno) : SN_E_IO;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!err && fsync(fd) != 0)
		err = sn_err_from_errno(errno);
	if (close(fd) != 0 && !err)
		err = sn_err_from_errno(errno);
	if (!err && !replace && access(path, F_OK) == 0)
		err = SN_E_EXISTS;
	if (!err && rename(tmp, path) != 0)
		err = sn_err_from_errno(errno);
	if (err) {
		unlink(tmp);
		return err;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return SN_OK;
}

int node_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;
	int err = SN_OK;

	*out = NULL;
	*len = 0;
	if (!f)
		return sn_err_from_errno(errno);
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		err = sn_err_from_errno(errno);
	else if ((unsigned long)n > max)
		err = SN_E_TOOBIG;
	else if (!(buf = sn_malloc((size_t)n + 1)))
		err = SN_E_NOMEM;
	else if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		sn_free(buf);
		err = SN_E_IO;
	} else {
		buf[n] = '\0';
		*out = buf;
		*len = (size_t)n;
	}
	fclose(f);
	return err;
}

int node_keyfile_write(const char *path, const uint8_t *key, size_t len)
{
	char hex[2 * 128 + 2];
	int err;

	if (len > 128)
		return SN_E_INVAL;
	sn_hex_encode(hex, key, len);
	hex[2 * len] = '\n';
	err = node_file_write_atomic(path, hex, 2 * len + 1, 0600, false);
	sn_wipe(hex, sizeof(hex));
	return err;
}

int node_keyfile_read(const char *path, uint8_t *key, size_t len, char *err, size_t errlen)
{
	char buf[2 * 128 + 8];
	struct stat st;
	ssize_t n;
	int fd, rc;

	memset(key, 0, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return sn_err_from_errno(errno);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s: not a regular file", path);
		return SN_E_INVAL;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(err, errlen, "%s: key file is readable by group or others (mode %03o); run chmod 600 %s",
		         path, (unsigned)(st.st_mode & 0777), path);
		return SN_E_INVAL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SN_E_IO;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	rc = sn_hex_decode(key, len, buf);
	sn_wipe(buf, sizeof(buf));
	if (rc)
		snprintf(err, errlen, "%s: expected %zu hex characters", path, 2 * len);
	return rc;
}

void node_ed25519_from_seed(uint8_t pk[NODE_ED25519_PK_LEN], uint8_t sk[NODE_ED25519_SK_LEN],
                            const uint8_t seed[32])
{
	crypto_sign_seed_keypair(pk, sk, seed);
}

/* ------------------------------------------------------------------ genesis JSON */

static int gerr(char *err, size_t errlen, const char *fmt, ...) SN_PRINTF(3, 4);
static int gerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return SN_E_INVAL;
}

static int json_hex(const json_t *v, uint8_t *out, size_t len)
{
	return json_is_string(v) ? sn_hex_decode(out, len, json_string_value(v)) : SN_E_INVAL;
}

/* Amounts are decimal strings (or non-negative integers) that fit u64. */
static int json_u64(const json_t *v, uint64_t *out)
{
	char *end;
	const char *s;

	*out = 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return SN_OK;
	}
	if (!json_is_string(v))
		return SN_E_INVAL;
	s = json_string_value(v);
	if (!*s || *s == '-' || *s == '+' || (s[0] == '0' && s[1]))
		return SN_E_INVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *end || errno ? SN_E_INVAL : SN_OK;
}

static int parse_members(const json_t *arr, struct node_member *m, size_t *n, const char *what, char *err,
                         size_t errlen)
{
	size_t i;
	json_t *e;

	*n = 0;
	if (!json_is_array(arr))
		return gerr(err, errlen, "governance.%s: expected an array of members", what);
	if (json_array_size(arr) == 0)
		return gerr(err, errlen, "governance.%s: a track with no members can never give its half; add at least one", what);
	if (json_array_size(arr) > NODE_MAX_MEMBERS)
		return gerr(err, errlen, "governance.%s: more than %d members", what, NODE_MAX_MEMBERS);
	json_array_foreach(arr, i, e) {
		json_t *w = json_object_get(e, "weight");

		if (json_hex(json_object_get(e, "address"), m[i].key, SN_PUBKEY_LEN))
			return gerr(err, errlen, "governance.%s[%zu].address: expected 64 hex characters", what, i);
		m[i].weight = 1;
		if (w && (json_u64(w, &m[i].weight) || m[i].weight == 0 || m[i].weight > 1000000))
			return gerr(err, errlen, "governance.%s[%zu].weight: expected a whole number from 1 to 1000000", what, i);
		for (size_t j = 0; j < i; j++)
			if (!memcmp(m[j].key, m[i].key, SN_PUBKEY_LEN))
				return gerr(err, errlen, "governance.%s[%zu]: duplicate member", what, i);
	}
	*n = json_array_size(arr);
	return SN_OK;
}

static void track_from(struct gov_track_members *t, const struct node_member *m, size_t n)
{
	t->count = (uint16_t)n;
	for (size_t i = 0; i < n; i++) {
		memcpy(t->members[i].key, m[i].key, SN_PUBKEY_LEN);
		t->members[i].weight = (uint32_t)m[i].weight;
	}
	gov_track_members_sort(t);
}

/* The governance records of the parsed genesis (node_gov_genesis_records). */
static int genesis_gov_build(struct node_genesis *gen, char *err, size_t errlen)
{
	struct gov_council *c = sn_calloc(1, sizeof(*c));
	struct gov_validator vals[GOV_VALIDATORS_MAX];
	struct gov_params p = { .min_fee = gen->g.params.min_fee, .max_block_txs = gen->g.params.max_block_txs,
		                .timelock_blocks = gen->timelock_blocks,
		                .proposal_max_deadline_blocks = gen->proposal_max_deadline_blocks,
		                .mempool_max_txs = gen->mempool_max_txs, .mempool_max_bytes = gen->mempool_max_bytes };
	int rc;

	if (!c)
		return SN_E_NOMEM;
	track_from(&c->track[GOV_TRACK_DEV], gen->developers, gen->n_developers);
	track_from(&c->track[GOV_TRACK_COMMUNITY], gen->community, gen->n_community);
	for (size_t i = 0; i < gen->n_validators; i++) {
		memcpy(vals[i].key, gen->validators[i].key, GOV_VALIDATOR_KEY_LEN);
		vals[i].power = gen->validators[i].power;
	}
	rc = node_gov_genesis_records(&gen->gov_records, &gen->g.n_gov, c, vals, gen->n_validators, &p);
	sn_free(c);
	if (rc == SN_E_NOMEM)
		return rc;
	if (rc)
		return gerr(err, errlen, "governance: the council, validators or params are not valid (%s)",
		            sn_strerror(rc));
	gen->g.gov = gen->gov_records;
	return SN_OK;
}

int node_genesis_parse(struct node_genesis *gen, const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *v, *e;
	size_t i;
	uint64_t u;
	int rc = SN_E_INVAL;

	memset(gen, 0, sizeof(*gen));
	if (!root)
		return gerr(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
	if (!json_is_object(root)) {
		gerr(err, errlen, "expected a JSON object");
		goto out;
	}
	if (json_u64(json_object_get(root, "chain_id"), &u) || u == 0 || u > UINT32_MAX) {
		gerr(err, errlen, "chain_id: expected a whole number from 1 to 4294967295");
		goto out;
	}
	gen->chain_id = (uint32_t)u;
	v = json_object_get(root, "genesis_time_ms");
	if (v && json_u64(v, &gen->g.time_ms)) {
		gerr(err, errlen, "genesis_time_ms: expected milliseconds since 1970");
		goto out;
	}
	v = json_object_get(root, "root");
	if (json_hex(json_object_get(v, "address"), gen->g.root, SN_PUBKEY_LEN) ||
	    sn_schnorr_pubkey_check(gen->g.root)) {
		gerr(err, errlen, "root.address: expected a BIP340 public key (64 hex characters)");
		goto out;
	}
	if (json_u64(json_object_get(v, "balance"), &gen->g.root_balance)) {
		gerr(err, errlen, "root.balance: expected a decimal amount");
		goto out;
	}
	v = json_object_get(root, "accounts");
	if (v && !json_is_array(v)) {
		gerr(err, errlen, "accounts: expected an array");
		goto out;
	}
	gen->accounts = sn_calloc(v ? json_array_size(v) + 1 : 1, sizeof(*gen->accounts));
	if (!gen->accounts) {
		rc = SN_E_NOMEM;
		goto out;
	}
	json_array_foreach(v, i, e) {
		struct store_genesis_account *a = &gen->accounts[i];

		if (json_hex(json_object_get(e, "address"), a->key, SN_PUBKEY_LEN) ||
		    json_hex(json_object_get(e, "sponsor"), a->sponsor, SN_PUBKEY_LEN) ||
		    json_u64(json_object_get(e, "balance"), &a->balance)) {
			gerr(err, errlen, "accounts[%zu]: expected address, sponsor (hex keys) and balance", i);
			goto out;
		}
	}
	gen->g.accounts = gen->accounts;
	gen->g.n_accounts = v ? json_array_size(v) : 0;
	v = json_object_get(root, "params");
	gen->g.params.min_fee = 0;
	gen->g.params.max_block_txs = 10000;
	if (v) {
		json_t *mf = json_object_get(v, "min_fee"), *mb = json_object_get(v, "max_block_txs");

		if (mf && json_u64(mf, &gen->g.params.min_fee)) {
			gerr(err, errlen, "params.min_fee: expected a decimal amount");
			goto out;
		}
		if (mb && (json_u64(mb, &u) || u == 0 || u > STORE_BLOCK_MAX_TXS)) {
			gerr(err, errlen, "params.max_block_txs: expected 1 to %d", STORE_BLOCK_MAX_TXS);
			goto out;
		}
		if (mb)
			gen->g.params.max_block_txs = (uint32_t)u;
	}
	{
		static const struct {
			const char *name;
			uint8_t id;
			uint64_t def;
			size_t off;
		} gp[] = {
			{ "timelock_blocks", GOV_PARAM_TIMELOCK_BLOCKS, NODE_GOV_TIMELOCK_DEFAULT,
			  offsetof(struct node_genesis, timelock_blocks) },
			{ "proposal_max_deadline_blocks", GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS, NODE_GOV_DEADLINE_DEFAULT,
			  offsetof(struct node_genesis, proposal_max_deadline_blocks) },
			{ "mempool_max_txs", GOV_PARAM_MEMPOOL_MAX_TXS, NODE_GOV_MEMPOOL_TXS_DEFAULT,
			  offsetof(struct node_genesis, mempool_max_txs) },
			{ "mempool_max_bytes", GOV_PARAM_MEMPOOL_MAX_BYTES, NODE_GOV_MEMPOOL_BYTES_DEFAULT,
			  offsetof(struct node_genesis, mempool_max_bytes) },
		};

		for (size_t k = 0; k < SN_ARRAY_LEN(gp); k++) {
			json_t *pv = v ? json_object_get(v, gp[k].name) : NULL;
			uint64_t *dst = (uint64_t *)((char *)gen + gp[k].off);

			*dst = gp[k].def;
			if (pv && (json_u64(pv, dst) || gov_param_check(gp[k].id, *dst))) {
				gerr(err, errlen, "params.%s: out of range (docs/governance.md, \"Parameters\")", gp[k].name);
				goto out;
			}
		}
		if (gen->timelock_blocks > gen->proposal_max_deadline_blocks) {
			gerr(err, errlen, "params.timelock_blocks: must not exceed params.proposal_max_deadline_blocks");
			goto out;
		}
	}
	v = json_object_get(root, "validators");
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > NODE_MAX_VALIDATORS) {
		gerr(err, errlen, "validators: expected an array of 1 to %d validators", NODE_MAX_VALIDATORS);
		goto out;
	}
	json_array_foreach(v, i, e) {
		struct node_validator *val = &gen->validators[i];

		if (json_hex(json_object_get(e, "node_key"), val->key, NODE_ED25519_PK_LEN) ||
		    json_u64(json_object_get(e, "power"), &val->power) || val->power == 0 ||
		    val->power > (1ull << 40)) {
			gerr(err, errlen, "validators[%zu]: expected node_key (64 hex characters) and power (1 to 2^40)", i);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!memcmp(gen->validators[j].key, val->key, NODE_ED25519_PK_LEN)) {
				gerr(err, errlen, "validators[%zu]: duplicate node_key", i);
				goto out;
			}
	}
	gen->n_validators = json_array_size(v);
	v = json_object_get(root, "governance");
	if (!json_is_object(v)) {
		gerr(err, errlen, "governance: expected an object with developers and community");
		goto out;
	}
	if ((rc = parse_members(json_object_get(v, "developers"), gen->developers, &gen->n_developers,
	                        "developers", err, errlen)) ||
	    (rc = parse_members(json_object_get(v, "community"), gen->community, &gen->n_community,
	                        "community", err, errlen)))
		goto out;
	if ((rc = genesis_gov_build(gen, err, errlen)))
		goto out;
	rc = SN_OK;
out:
	json_decref(root);
	if (rc)
		node_genesis_free(gen);
	return rc;
}

int node_genesis_load(struct node_genesis *gen, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	int rc;

	memset(gen, 0, sizeof(*gen));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return sn_err_from_errno(errno);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (64l << 20) || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		snprintf(err, errlen, "%s: unreadable or larger than 64 MiB", path);
		return SN_E_TOOBIG;
	}
	buf = sn_malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		sn_free(buf);
		snprintf(err, errlen, "%s: cannot read", path);
		return SN_E_IO;
	}
	fclose(f);
	{
		char inner[384];

		rc = node_genesis_parse(gen, buf, (size_t)n, inner, sizeof(inner));
		if (rc)
			snprintf(err, errlen, "%s: %s", path, inner);
	}
	sn_free(buf);
	return rc;
}

void node_genesis_free(struct node_genesis *gen)
{
	sn_free(gen->accounts);
	gen->accounts = NULL;
	gen->g.accounts = NULL;
	sn_free(gen->gov_records);
	gen->gov_records = NULL;
	gen->g.gov = NULL;
	gen->g.n_gov = 0;
}

static json_t *members_json(const struct node_member *m, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:o,s:I}", "address", node_json_hex(m[i].key, SN_PUBKEY_LEN), "weight",
		                                   (json_int_t)m[i].weight));
	return a;
}

int node_genesis_write(const struct node_genesis *gen, const char *path)
{
	json_t *root, *accts = json_array(), *vals = json_array();
	char *text;
	int err;

	for (size_t i = 0; i < gen->g.n_accounts; i++)
		json_array_append_new(accts, json_pack("{s:o,s:o,s:o}", "address",
		                                       node_json_hex(gen->g.accounts[i].key, SN_PUBKEY_LEN), "sponsor",
		                                       node_json_hex(gen->g.accounts[i].sponsor, SN_PUBKEY_LEN), "balance",
		                                       node_json_dec(gen->g.accounts[i].balance)));
	for (size_t i = 0; i < gen->n_validators; i++)
		json_array_append_new(vals, json_pack("{s:o,s:I}", "node_key",
		                                      node_json_hex(gen->validators[i].key, NODE_ED25519_PK_LEN), "power",
		                                      (json_int_t)gen->validators[i].power));
	/* Milliseconds are u64: past INT64_MAX they go as a decimal string (json_u64 takes both). */
	root = json_pack("{s:I,s:o,s:{s:o,s:o},s:o,s:{s:o,s:I,s:I,s:I,s:I,s:I},s:o,s:{s:o,s:o}}", "chain_id",
	                 (json_int_t)gen->chain_id, "genesis_time_ms",
	                 gen->g.time_ms > INT64_MAX ? node_json_dec(gen->g.time_ms) : json_integer((json_int_t)gen->g.time_ms),
	                 "root", "address",
	                 node_json_hex(gen->g.root, SN_PUBKEY_LEN), "balance", node_json_dec(gen->g.root_balance), "accounts",
	                 accts, "params", "min_fee", node_json_dec(gen->g.params.min_fee), "max_block_txs",
	                 (json_int_t)gen->g.params.max_block_txs, "timelock_blocks", (json_int_t)gen->timelock_blocks,
	                 "proposal_max_deadline_blocks", (json_int_t)gen->proposal_max_deadline_blocks,
	                 "mempool_max_txs", (json_int_t)gen->mempool_max_txs, "mempool_max_bytes",
	                 (json_int_t)gen->mempool_max_bytes, "validators", vals, "governance", "developers",
	                 members_json(gen->developers, gen->n_developers), "community",
	                 members_json(gen->community, gen->n_community));
	if (!root)
		return SN_E_NOMEM;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return SN_E_NOMEM;
	err = node_file_write_atomic(path, text, strlen(text), 0644, false);
	free(text);
	return err;
}

_Static_assert(NODE_MAX_VALIDATORS == GOV_VALIDATORS_MAX, "the genesis validator set is a governance record");
