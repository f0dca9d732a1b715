/* node/cli_gov.c — `settle gov`: propose, approve, sign, execute, show and list governance
 * proposals (docs/cli.md, docs/governance.md) through the node's JSON-RPC (docs/rpc.md).
 *
 * The subcommands and their options are described in two tables, which drive parsing,
 * --help and the usage errors. Transactions are signed here from key files (wiped after
 * use), submitted with gov_propose/gov_approve/gov_execute and waited for (unless
 * --no-wait). Exit codes and the one-line "settle: reason" errors are those of every settle
 * command: 0 ok, 1 error, 2 usage. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "node/cli_gov_int.h"
#include "node/config_int.h"
#include "node/home_int.h"
#include "node/node.h"

#define GOV_WAIT_MS 30000
#define GOV_POLL_MS 200
#define GOV_DEADLINE_BLOCKS 1000 /* default --deadline */
#define BAR_CELLS 20
#define SUB_MAX_OPTS 14

#define K(kind) (1u << (kind))
#define K_ANY 0xffffu

struct gov_opt {
	const char *name; /* without "--" */
	const char *arg;  /* metavariable; NULL for a flag */
	const char *help;
	unsigned kinds;   /* propose: the kinds it applies to */
	bool repeat;
};

static const struct gov_opt gov_opts[] = {
	{ "param", "NAME", "set_param: the parameter (min_fee, max_block_txs, timelock_blocks,\n"
	                   "                           proposal_max_deadline_blocks, mempool_max_txs, mempool_max_bytes)",
	  K(GOV_KIND_SET_PARAM), false },
	{ "value", "N", "set_param: its new value", K(GOV_KIND_SET_PARAM), false },
	{ "to", "ADDR", "treasury_spend: the registered account paid", K(GOV_KIND_TREASURY_SPEND), false },
	{ "amount", "N", "treasury_spend: the amount (> 0)", K(GOV_KIND_TREASURY_SPEND), false },
	{ "track", "TRACK", "change_members: developers or community", K(GOV_KIND_CHANGE_MEMBERS), false },
	{ "member", "ADDR[:WEIGHT]", "change_members: one member of the track's whole new list (weight\n"
	                            "                           1..1000000, default 1); repeat it for each",
	  K(GOV_KIND_CHANGE_MEMBERS), true },
	{ "validator", "KEY:POWER", "change_validators: one node key (Ed25519, hex) of the whole new set\n"
	                           "                           and its power; repeat it for each",
	  K(GOV_KIND_CHANGE_VALIDATORS), true },
	{ "name", "NAME", "signal_upgrade: the upgrade's name ([a-z0-9.-], 1 to 64)", K(GOV_KIND_SIGNAL_UPGRADE), false },
	{ "height", "H", "signal_upgrade: its activation height", K(GOV_KIND_SIGNAL_UPGRADE), false },
	{ "proposal", "ID", "cancel: the proposal to cancel", K(GOV_KIND_CANCEL), false },
	{ "deadline", "BLOCKS", "it may be approved and executed until BLOCKS blocks after the\n"
	                        "                           next one (default 1000)",
	  K_ANY, false },
	{ "key", "FILE", "the signer's key file (default HOME/account.key)", K_ANY, false },
	{ "payer-key", "FILE", "the account that signs and pays the APPROVE (default: the member\n"
	                       "                           if it is a registered account, else HOME/account.key)",
	  K_ANY, false },
	{ "fee", "N", "the fee (default: the chain's minimum fee)", K_ANY, false },
	{ "sig", "MEMBER:SIG", "an approval made by settle gov sign, carried by the EXECUTE;\n"
	                       "                           repeat it for each (at most 64)",
	  K_ANY, true },
	{ "status", "S", "only proposals whose status is S: proposed, timelocked, executable,\n"
	                 "                           executed, cancelled or expired",
	  K_ANY, false },
	{ "limit", "N", "list at most N (default 100, at most 1000)", K_ANY, false },
};

/* The global options of settle (settle_main.c), accepted before and after the command. */
static const struct gov_opt global_opts[] = {
	{ "home", "DIR", NULL, 0, false },         { "rpc", "HOST:PORT", NULL, 0, false },
	{ "rpc-user", "USER", NULL, 0, false },    { "rpc-password", "PASSWORD", NULL, 0, false },
	{ "json", NULL, NULL, 0, false },          { "no-wait", NULL, NULL, 0, false },
	{ "help", NULL, NULL, 0, false },
};

struct gov_given {
	const struct gov_opt *opt;
	const char *val;
};

struct gov;

struct gov_sub {
	const char *name;
	const char *synopsis; /* after "settle gov NAME" */
	const char *summary;
	const char *help;
	size_t npos; /* positional arguments, exactly */
	const char *opts[SUB_MAX_OPTS];
	int (*run)(struct gov *g);
};

struct gov {
	const struct gov_sub *sub;
	const char *home, *rpc_addr, *rpc_user, *rpc_password;
	bool json, no_wait, help;
	const char *pos[2];
	size_t npos;
	struct gov_given *given;
	size_t ngiven;
	struct cli_rpc rpc;
	uint32_t chain_id; /* from status (node_info) */
	uint64_t min_fee, height;
};

/* ------------------------------------------------------------------ output */

static int gfail(const char *fmt, ...) SN_PRINTF(1, 2);
static int gfail(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "settle: %s\n", line);
	return EXIT_FAILURE;
}

static int gusage(const struct gov *g, const char *fmt, ...) SN_PRINTF(2, 3);
static int gusage(const struct gov *g, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (g->sub)
		fprintf(stderr, "settle: gov %s: %s (see settle gov %s --help)\n", g->sub->name, line, g->sub->name);
	else
		fprintf(stderr, "settle: gov: %s (see settle gov --help)\n", line);
	return 2;
}

static void gprint_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s)
		puts(s);
	free(s);
}

static void gprint_json_new(json_t *v) /* steals v */
{
	gprint_json(v);
	json_decref(v);
}

/* A member as text: strings as they are, numbers in decimal; "" when absent. */
static const char *str(const json_t *o, const char *key, char buf[32])
{
	const json_t *v = json_object_get(o, key);

	buf[0] = '\0';
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}
#define S(o, key) str((o), (key), (char[32]){ 0 })

/* A whole decimal number (digits only) that fits u64. */
static int to_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* A member that is a number or a decimal string; 0 when absent or malformed. */
static uint64_t num(const json_t *o, const char *key)
{
	uint64_t v = 0;

	if (to_u64(S(o, key), &v))
		v = 0;
	return v;
}

/* "12.34%" of basis points. */
static const char *pct(uint64_t bps, char buf[48])
{
	snprintf(buf, 48, "%llu.%02llu%%", (unsigned long long)(bps / 100), (unsigned long long)(bps % 100));
	return buf;
}
#define PCT(bps) pct((bps), (char[48]){ 0 })

/* ------------------------------------------------------------------ options */

static const struct gov_opt *opt_find(const struct gov_opt *opts, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static bool sub_takes(const struct gov_sub *s, const struct gov_opt *o)
{
	for (size_t i = 0; i < SUB_MAX_OPTS && s->opts[i]; i++)
		if (strcmp(s->opts[i], o->name) == 0)
			return true;
	return false;
}

/* The value of option name (the first, for a repeatable one); NULL if not given. */
static const char *val(const struct gov *g, const char *name)
{
	for (size_t i = 0; i < g->ngiven; i++)
		if (strcmp(g->given[i].opt->name, name) == 0)
			return g->given[i].val;
	return NULL;
}

/* An optional number: def when absent. 0, or the usage exit code. */
static int val_u64(const struct gov *g, const char *name, uint64_t def, uint64_t *out)
{
	const char *v = val(g, name);

	*out = def;
	if (v && to_u64(v, out))
		return gusage(g, "--%s: '%s' is not a whole number from 0 to 18446744073709551615", name, v);
	return 0;
}

/* A required number. */
static int need_u64(const struct gov *g, const char *name, uint64_t *out)
{
	if (!val(g, name))
		return gusage(g, "--%s %s is required", name, opt_find(gov_opts, SN_ARRAY_LEN(gov_opts), name,
		                                                      strlen(name))->arg);
	return val_u64(g, name, 0, out);
}

static int key_of(const char *s, uint8_t out[SN_PUBKEY_LEN])
{
	return !s || sn_hex_decode(out, SN_PUBKEY_LEN, s) || sn_schnorr_pubkey_check(out) ? -1 : 0;
}

/* The proposal id, the first positional argument. */
static int pos_id(const struct gov *g, uint64_t *id)
{
	*id = 0;
	if (to_u64(g->pos[0], id) || *id == 0 || *id > INT64_MAX)
		return gusage(g, "'%s' is not a proposal id (a whole number from 1)", g->pos[0]);
	return 0;
}

/* ------------------------------------------------------------------ the node */

/* Calls the node; with found (may be NULL) a "not found" answer sets *found = false instead
 * of failing. 0, or the exit code after printing why. */
static int call(struct gov *g, const char *method, json_t *params, json_t **res, bool *found)
{
	struct cli_rpc_error e;
	int rc = cli_rpc_call(&g->rpc, method, params, res, &e);

	if (found)
		*found = rc == SN_OK;
	if (rc == SN_E_NOTFOUND && found)
		return 0;
	return rc ? gfail("%s", e.msg) : 0;
}

/* The endpoint, then the chain id, minimum fee and height from status. */
static int connect_node(struct gov *g)
{
	uint64_t chain_id;
	json_t *st;
	int rc;

	if ((rc = settle_rpc_setup(&g->rpc, g->home, g->rpc_addr, g->rpc_user, g->rpc_password)) ||
	    (rc = call(g, "status", json_array(), &st, NULL)))
		return rc;
	rc = to_u64(S(st, "chain_id"), &chain_id) || chain_id > UINT32_MAX || to_u64(S(st, "min_fee"), &g->min_fee) ||
	     to_u64(S(st, "height"), &g->height);
	json_decref(st);
	if (rc)
		return gfail("the node's status has no valid chain_id, min_fee or height");
	g->chain_id = (uint32_t)chain_id;
	return 0;
}

static int get_proposal(struct gov *g, uint64_t id, json_t **p)
{
	bool found;
	int rc = call(g, "gov_get", json_pack("[I]", (json_int_t)id), p, &found);

	if (!rc && !found)
		return gfail("there is no proposal %llu", (unsigned long long)id);
	return rc;
}

/* Reads a BIP340 key file: the secret into sk (the caller wipes it), its address into pk. */
static int read_key(const char *path, uint8_t sk[SN_SECKEY_LEN], uint8_t pk[SN_PUBKEY_LEN])
{
	char err[512];

	if (node_keyfile_read(path, sk, SN_SECKEY_LEN, err, sizeof(err)))
		return gfail("%s", err);
	if (sn_schnorr_pubkey(pk, sk)) {
		sn_wipe(sk, SN_SECKEY_LEN);
		return gfail("%s does not hold a valid BIP340 secret key", path);
	}
	return 0;
}

static void key_path(const struct gov *g, const char *opt, char out[PATH_MAX])
{
	const char *v = val(g, opt);

	if (v)
		snprintf(out, PATH_MAX, "%s", v);
	else
		snprintf(out, PATH_MAX, "%s/%s", g->home, NODE_ACCOUNT_KEY_FILE);
}

/* Polls get_tx until the transaction is committed; *tx is then its JSON. */
static int wait_tx(struct gov *g, const char *id, json_t **tx)
{
	for (unsigned waited = 0;; waited += GOV_POLL_MS) {
		bool found;
		int rc = call(g, "get_tx", json_pack("[s]", id), tx, &found);

		if (rc)
			return rc;
		if (!found)
			return gfail("transaction %s is neither pending nor committed: the node dropped it "
			             "(it became invalid when a block changed the state)", id);
		if (strcmp(S(*tx, "status"), "committed") == 0)
			return 0;
		json_decref(*tx);
		*tx = NULL;
		if (waited >= GOV_WAIT_MS)
			return gfail("transaction %s still pending after %d s (settle tx %s shows it later)", id,
			             GOV_WAIT_MS / 1000, id);
		nanosleep(&(struct timespec){ .tv_nsec = GOV_POLL_MS * 1000000l }, NULL);
	}
}

/* Signs a governance transaction of type with the key in key_file, submits it and (unless
 * --no-wait) waits for its block: *tx is then the committed transaction, else NULL. id gets
 * the transaction id. connect_node() has run. */
static int send_gov(struct gov *g, uint8_t type, const uint8_t *payload, size_t len, const char *key_file,
                    const char *role, json_t **tx, char id[2 * SN_HASH_LEN + 1])
{
	static const char *const methods[] = { [STORE_TX_GOV_PROPOSE] = "gov_propose",
		                               [STORE_TX_GOV_APPROVE] = "gov_approve",
		                               [STORE_TX_GOV_EXECUTE] = "gov_execute" };
	struct store_tx t = { .version = STORE_TX_V1, .type = type, .chain_id = g->chain_id, .payload = payload,
		              .payload_len = (uint16_t)len };
	uint8_t sk[SN_SECKEY_LEN], *raw = NULL;
	char signer[2 * SN_PUBKEY_LEN + 1], *hex = NULL;
	json_t *res;
	size_t raw_len;
	int rc;

	*tx = NULL;
	if ((rc = val_u64(g, "fee", g->min_fee, &t.fee)) || (rc = read_key(key_file, sk, t.signer)))
		return rc;
	sn_hex_encode(signer, t.signer, SN_PUBKEY_LEN);
	if ((rc = settle_next_nonce(&g->rpc, signer, role, key_file, &t.nonce))) {
		sn_wipe(sk, sizeof(sk));
		return rc;
	}
	rc = store_tx_sign(&t, sk);
	sn_wipe(sk, sizeof(sk));
	raw = sn_malloc(STORE_TX_MAX);
	hex = sn_malloc(2 * STORE_TX_MAX + 1);
	if (!raw || !hex)
		rc = SN_E_NOMEM;
	if (rc || (rc = store_tx_encode(raw, STORE_TX_MAX, &raw_len, &t))) {
		sn_free(raw);
		sn_free(hex);
		return gfail("cannot sign the transaction: %s", sn_strerror(rc));
	}
	sn_hex_encode(hex, raw, raw_len);
	sn_free(raw);
	rc = call(g, methods[type], json_pack("[s]", hex), &res, NULL);
	sn_free(hex);
	if (rc)
		return rc;
	snprintf(id, 2 * SN_HASH_LEN + 1, "%s", S(res, "id"));
	json_decref(res);
	return g->no_wait ? 0 : wait_tx(g, id, tx);
}

/* Prints a transaction sent with --no-wait. */
static int print_submitted(const struct gov *g, const char *id)
{
	if (g->json)
		gprint_json_new(json_pack("{s:s,s:s}", "id", id, "status", "pending"));
	else
		printf("transaction %s submitted (pending)\n", id);
	return 0;
}

/* ------------------------------------------------------------------ propose */

static int cmp_validators(const void *a, const void *b)
{
	return memcmp(a, b, GOV_VALIDATOR_KEY_LEN);
}

/* The repeated "KEY:N" values of option name, one by one: *key and *n of the i-th. */
static int key_number(const struct gov *g, const char *item, const char *name, uint8_t *key, uint64_t *n,
                      uint64_t def)
{
	char hex[2 * SN_PUBKEY_LEN + 1];
	const char *colon = strchr(item, ':');
	size_t hlen = colon ? (size_t)(colon - item) : strlen(item);

	*n = def;
	if (hlen != 2 * SN_PUBKEY_LEN || (colon && to_u64(colon + 1, n)) || (!colon && !def))
		return gusage(g, "--%s: '%s' is not %s", name, item,
		              def ? "ADDR or ADDR:WEIGHT (64 hex characters, a whole number)"
		                  : "KEY:POWER (64 hex characters, a whole number)");
	memcpy(hex, item, hlen);
	hex[hlen] = '\0';
	if (sn_hex_decode(key, SN_PUBKEY_LEN, hex))
		return gusage(g, "--%s: '%s' is not hex", name, hex);
	return 0;
}

static int payload_lists(struct gov *g, struct gov_payload *p)
{
	uint64_t n;
	int rc;

	for (size_t i = 0; i < g->ngiven; i++) {
		const char *name = g->given[i].opt->name, *v = g->given[i].val;

		if (strcmp(name, "member") == 0) {
			struct gov_member *m = &p->u.members.list.members[p->u.members.list.count];

			if (p->u.members.list.count >= GOV_TRACK_MEMBERS_MAX)
				return gusage(g, "--member: at most %d", GOV_TRACK_MEMBERS_MAX);
			if ((rc = key_number(g, v, name, m->key, &n, GOV_WEIGHT_DEFAULT)))
				return rc;
			if (sn_schnorr_pubkey_check(m->key))
				return gusage(g, "--member: %.64s is not a BIP340 public key", v);
			if (n == 0 || n > GOV_WEIGHT_MAX)
				return gusage(g, "--member: the weight must be 1 to %u", GOV_WEIGHT_MAX);
			m->weight = (uint32_t)n;
			p->u.members.list.count++;
		} else if (strcmp(name, "validator") == 0) {
			struct gov_validator *x = &p->u.validators.v[p->u.validators.count];

			if (p->u.validators.count >= GOV_VALIDATORS_MAX)
				return gusage(g, "--validator: at most %d", GOV_VALIDATORS_MAX);
			if ((rc = key_number(g, v, name, x->key, &x->power, 0)))
				return rc;
			p->u.validators.count++;
		}
	}
	gov_track_members_sort(&p->u.members.list);
	qsort(p->u.validators.v, p->u.validators.count, sizeof(p->u.validators.v[0]), cmp_validators);
	return 0;
}

/* The payload of a proposal of kind from the options. 0, or the usage exit code. */
static int build_payload(struct gov *g, struct gov_payload *p, uint8_t *out, size_t *len)
{
	const char *v;
	uint64_t n;
	int rc = 0;

	switch (p->kind) {
	case GOV_KIND_SET_PARAM:
		if (!(v = val(g, "param")))
			return gusage(g, "--param NAME is required");
		if (gov_param_parse(&p->u.param.id, v))
			return gusage(g, "--param: unknown parameter '%s'", v);
		if ((rc = need_u64(g, "value", &p->u.param.value)))
			return rc;
		break;
	case GOV_KIND_TREASURY_SPEND:
		if (key_of(val(g, "to"), p->u.spend.recipient))
			return gusage(g, "--to ADDR is required (64 hex characters of a BIP340 public key)");
		if ((rc = need_u64(g, "amount", &p->u.spend.amount)))
			return rc;
		break;
	case GOV_KIND_CHANGE_MEMBERS:
		v = val(g, "track");
		if (v && strcmp(v, gov_track_name(GOV_TRACK_DEV)) == 0)
			p->u.members.track = GOV_TRACK_DEV;
		else if (v && strcmp(v, gov_track_name(GOV_TRACK_COMMUNITY)) == 0)
			p->u.members.track = GOV_TRACK_COMMUNITY;
		else
			return gusage(g, "--track: expected developers or community");
		if (!val(g, "member"))
			return gusage(g, "--member ADDR[:WEIGHT] is required (once for each member of the new list)");
		rc = payload_lists(g, p);
		break;
	case GOV_KIND_CHANGE_VALIDATORS:
		if (!val(g, "validator"))
			return gusage(g, "--validator KEY:POWER is required (once for each validator of the new set)");
		rc = payload_lists(g, p);
		break;
	case GOV_KIND_SIGNAL_UPGRADE:
		if (!(v = val(g, "name")) || strlen(v) > GOV_UPGRADE_NAME_MAX)
			return gusage(g, "--name NAME is required (1 to %d of a-z 0-9 . -)", GOV_UPGRADE_NAME_MAX);
		p->u.upgrade.name_len = (uint8_t)strlen(v);
		memcpy(p->u.upgrade.name, v, p->u.upgrade.name_len);
		if ((rc = need_u64(g, "height", &p->u.upgrade.activation_height)))
			return rc;
		break;
	case GOV_KIND_CANCEL:
		if ((rc = need_u64(g, "proposal", &n)))
			return rc;
		p->u.cancel.proposal_id = n;
		break;
	default: /* pause_transfers, unpause_transfers: nothing */
		break;
	}
	if (rc)
		return rc;
	if ((rc = gov_payload_encode(out, GOV_PAYLOAD_MAX, len, p)))
		return gusage(g, "the %s proposal is refused: %s (%s)", gov_kind_name(p->kind), sn_errname(rc),
		              sn_strerror(rc));
	return 0;
}

/* Among the proposals created at the PROPOSE's height, the one it created: same proposer,
 * kind, payload and deadline; several such (one signer proposing the same twice in a block)
 * are told apart by the order of the signer's identical PROPOSEs in the block. */
static int find_created(struct gov *g, const json_t *tx, const char *kind, const char *payload_hex,
                        uint64_t deadline, uint64_t *id)
{
	uint64_t height = num(tx, "height"), next, found[64];
	size_t nfound = 0, k = 0;
	json_t *r, *p, *txs;
	int rc;

	if ((rc = call(g, "gov_list", json_pack("[n,i]", 0), &r, NULL)))
		return rc;
	next = num(r, "next_id");
	json_decref(r);
	for (uint64_t i = next; i-- > 1 && nfound < SN_ARRAY_LEN(found);) {
		uint64_t created;
		bool same;

		if ((rc = get_proposal(g, i, &p)))
			return rc;
		created = num(p, "created_height");
		same = created == height && strcmp(S(p, "proposer"), S(tx, "signer")) == 0 &&
		       strcmp(S(p, "kind"), kind) == 0 && strcmp(S(p, "payload"), payload_hex) == 0 &&
		       num(p, "deadline_height") == deadline;
		json_decref(p);
		if (created < height)
			break;
		if (same)
			found[nfound++] = i; /* descending */
	}
	if (nfound == 0)
		return gfail("transaction %s is committed in block %llu, but its proposal is not found", S(tx, "id"),
		             (unsigned long long)height);
	if (nfound > 1) {
		if ((rc = call(g, "get_block", json_pack("[I]", (json_int_t)height), &r, NULL)))
			return rc;
		txs = json_object_get(r, "txs");
		for (size_t i = 0; i < num(tx, "index") && i < json_array_size(txs); i++) {
			if ((rc = call(g, "get_tx", json_pack("[O]", json_array_get(txs, i)), &p, NULL))) {
				json_decref(r);
				return rc;
			}
			k += strcmp(S(p, "type"), "gov_propose") == 0 && strcmp(S(p, "signer"), S(tx, "signer")) == 0 &&
			     strcmp(S(p, "payload"), S(tx, "payload")) == 0;
			json_decref(p);
		}
		json_decref(r);
		if (k >= nfound)
			return gfail("cannot tell which proposal transaction %s created", S(tx, "id"));
	}
	*id = found[nfound - 1 - k];
	return 0;
}

static int cmd_propose(struct gov *g)
{
	struct gov_payload *p = NULL;
	uint8_t kind, *payload = NULL, *txp = NULL;
	char path[PATH_MAX], txid[2 * SN_HASH_LEN + 1], *phex = NULL;
	uint64_t blocks, deadline, id = 0;
	size_t plen, tlen;
	json_t *tx = NULL;
	int rc;

	if (gov_kind_parse(&kind, g->pos[0]))
		return gusage(g, "unknown kind '%s' (change_validators, change_members, set_param, treasury_spend, "
		                 "pause_transfers, unpause_transfers, signal_upgrade, cancel)",
		              g->pos[0]);
	for (size_t i = 0; i < g->ngiven; i++)
		if (!(g->given[i].opt->kinds & K(kind)))
			return gusage(g, "--%s does not apply to %s", g->given[i].opt->name, g->pos[0]);
	if ((rc = val_u64(g, "deadline", GOV_DEADLINE_BLOCKS, &blocks)))
		return rc;
	p = sn_calloc(1, sizeof(*p));
	payload = sn_malloc(GOV_PAYLOAD_MAX);
	txp = sn_malloc(STORE_TX_PAYLOAD_MAX);
	phex = sn_malloc(2 * GOV_PAYLOAD_MAX + 1);
	if (!p || !payload || !txp || !phex) {
		rc = gfail("out of memory");
		goto out;
	}
	p->kind = kind;
	if ((rc = build_payload(g, p, payload, &plen)) || (rc = connect_node(g)))
		goto out;
	/* The tip's next block is where the transaction lands (or later). */
	if (blocks > UINT64_MAX - g->height - 1) {
		rc = gusage(g, "--deadline: too far");
		goto out;
	}
	deadline = g->height + 1 + blocks;
	if ((rc = node_gov_propose_encode(txp, STORE_TX_PAYLOAD_MAX, &tlen, kind, deadline, payload, plen))) {
		rc = gfail("cannot encode the proposal: %s", sn_strerror(rc));
		goto out;
	}
	key_path(g, "key", path);
	if ((rc = send_gov(g, STORE_TX_GOV_PROPOSE, txp, tlen, path, "proposer", &tx, txid)))
		goto out;
	if (!tx) {
		rc = print_submitted(g, txid);
		goto out;
	}
	sn_hex_encode(phex, payload, plen);
	if ((rc = find_created(g, tx, gov_kind_name(kind), phex, deadline, &id)))
		goto out;
	if (g->json)
		gprint_json_new(json_pack("{s:I,s:s,s:s,s:I,s:I}", "id", (json_int_t)id, "kind", gov_kind_name(kind), "tx", txid,
		                      "height", (json_int_t)num(tx, "height"), "deadline_height", (json_int_t)deadline));
	else
		printf("%llu\n", (unsigned long long)id);
out:
	json_decref(tx);
	sn_free(p);
	sn_free(payload);
	sn_free(txp);
	sn_free(phex);
	return rc;
}

/* ------------------------------------------------------------------ approve, sign, execute */

/* The member's approval of proposal id (key in --key, default HOME/account.key). With
 * check_member, a key that is in neither of the proposal's recorded tracks is refused. */
static int make_approval(struct gov *g, uint64_t id, bool check_member, struct node_gov_approval *a,
                         char member_key[PATH_MAX])
{
	uint8_t sk[SN_SECKEY_LEN], pk[SN_PUBKEY_LEN], hash[SN_HASH_LEN];
	char addr[2 * SN_PUBKEY_LEN + 1];
	bool member = false;
	json_t *p, *e;
	size_t i;
	int rc;

	key_path(g, "key", member_key);
	if ((rc = read_key(member_key, sk, pk)))
		return rc;
	sn_hex_encode(addr, pk, sizeof(pk));
	if ((rc = connect_node(g)) || (rc = get_proposal(g, id, &p))) {
		sn_wipe(sk, sizeof(sk));
		return rc;
	}
	json_array_foreach(json_object_get(json_object_get(p, "developers"), "members"), i, e)
		member |= strcmp(S(e, "address"), addr) == 0;
	json_array_foreach(json_object_get(json_object_get(p, "community"), "members"), i, e)
		member |= strcmp(S(e, "address"), addr) == 0;
	rc = sn_hex_decode(hash, sizeof(hash), S(p, "payload_hash"));
	json_decref(p);
	if (rc) {
		sn_wipe(sk, sizeof(sk));
		return gfail("the node's gov_get gave no payload_hash");
	}
	if (check_member && !member) {
		sn_wipe(sk, sizeof(sk));
		return gfail("not_a_member: %s (key %s) is in neither track of proposal %llu", addr, member_key,
		             (unsigned long long)id);
	}
	rc = node_gov_approval_sign(a, g->chain_id, id, hash, sk);
	sn_wipe(sk, sizeof(sk));
	return rc ? gfail("cannot sign the approval: %s", sn_strerror(rc)) : 0;
}

/* After an APPROVE or EXECUTE committed: the proposal as it is now, with the transaction. */
static int report(struct gov *g, uint64_t id, const json_t *tx, const char *txid, const char *what)
{
	json_t *p;
	int rc;

	if ((rc = get_proposal(g, id, &p)))
		return rc;
	if (g->json) {
		json_object_set_new(p, "tx", json_string(txid));
		json_object_set_new(p, "tx_height", json_integer((json_int_t)num(tx, "height")));
		gprint_json(p);
	} else {
		printf("proposal %llu %s in block %llu: %s approval (needs %s), %s\n", (unsigned long long)id, what,
		       (unsigned long long)num(tx, "height"), PCT(num(p, "approval_bps")), PCT(GOV_THRESHOLD_BPS),
		       S(p, "status"));
	}
	json_decref(p);
	return 0;
}

static int cmd_approve(struct gov *g)
{
	struct node_gov_approval a;
	uint8_t buf[STORE_TX_APPROVE_LEN];
	char member_key[PATH_MAX], payer[PATH_MAX], addr[2 * SN_PUBKEY_LEN + 1], txid[2 * SN_HASH_LEN + 1];
	uint64_t id;
	size_t len;
	json_t *tx, *acct;
	bool registered;
	int rc;

	if ((rc = pos_id(g, &id)) || (rc = make_approval(g, id, false, &a, member_key)))
		return rc;
	if (val(g, "payer-key")) {
		key_path(g, "payer-key", payer);
	} else {
		sn_hex_encode(addr, a.member, SN_PUBKEY_LEN);
		if ((rc = call(g, "get_account", json_pack("[s]", addr), &acct, &registered)))
			return rc;
		json_decref(acct);
		if (registered)
			snprintf(payer, sizeof(payer), "%s", member_key);
		else
			snprintf(payer, sizeof(payer), "%s/%s", g->home, NODE_ACCOUNT_KEY_FILE);
	}
	if ((rc = node_gov_approve_encode(buf, sizeof(buf), &len, id, &a)))
		return gfail("cannot encode the approval: %s", sn_strerror(rc));
	if ((rc = send_gov(g, STORE_TX_GOV_APPROVE, buf, len, payer, "payer", &tx, txid)))
		return rc;
	if (!tx)
		return print_submitted(g, txid);
	rc = report(g, id, tx, txid, "approved");
	json_decref(tx);
	return rc;
}

static int cmd_sign(struct gov *g)
{
	struct node_gov_approval a;
	char member_key[PATH_MAX], addr[2 * SN_PUBKEY_LEN + 1], sig[2 * SN_SIG_LEN + 1], both[sizeof(addr) + sizeof(sig)];
	uint64_t id;
	int rc;

	if ((rc = pos_id(g, &id)) || (rc = make_approval(g, id, true, &a, member_key)))
		return rc;
	sn_hex_encode(addr, a.member, SN_PUBKEY_LEN);
	sn_hex_encode(sig, a.sig, SN_SIG_LEN);
	snprintf(both, sizeof(both), "%s:%s", addr, sig);
	if (g->json)
		gprint_json_new(json_pack("{s:I,s:s,s:s,s:s}", "proposal", (json_int_t)id, "member", addr, "sig", sig,
		                      "approval", both));
	else
		printf("%s\n", both);
	return 0;
}

static int cmd_execute(struct gov *g)
{
	struct node_gov_execute *e = sn_calloc(1, sizeof(*e));
	uint8_t *buf = sn_malloc(STORE_TX_PAYLOAD_MAX);
	char path[PATH_MAX], txid[2 * SN_HASH_LEN + 1], hex[2 * SN_PUBKEY_LEN + 1];
	size_t len;
	json_t *tx = NULL;
	int rc;

	if (!e || !buf) {
		rc = gfail("out of memory");
		goto out;
	}
	if ((rc = pos_id(g, &e->proposal_id)))
		goto out;
	for (size_t i = 0; i < g->ngiven; i++) {
		const char *v = g->given[i].val, *colon = strchr(v, ':');
		struct node_gov_approval *a = &e->a[e->n];

		if (strcmp(g->given[i].opt->name, "sig") != 0)
			continue;
		if (e->n >= STORE_TX_EXECUTE_SIGS_MAX) {
			rc = gusage(g, "--sig: at most %d", STORE_TX_EXECUTE_SIGS_MAX);
			goto out;
		}
		if (!colon || colon - v != 2 * SN_PUBKEY_LEN) {
			rc = gusage(g, "--sig: '%s' is not MEMBER:SIG (as settle gov sign prints it)", v);
			goto out;
		}
		memcpy(hex, v, 2 * SN_PUBKEY_LEN);
		hex[2 * SN_PUBKEY_LEN] = '\0';
		if (sn_hex_decode(a->member, SN_PUBKEY_LEN, hex) || sn_hex_decode(a->sig, SN_SIG_LEN, colon + 1)) {
			rc = gusage(g, "--sig: '%s' is not MEMBER:SIG (64 and 128 hex characters)", v);
			goto out;
		}
		e->n++;
	}
	if ((rc = node_gov_execute_encode(buf, STORE_TX_PAYLOAD_MAX, &len, e))) {
		rc = gfail("cannot encode the execution: %s", sn_strerror(rc));
		goto out;
	}
	key_path(g, "key", path);
	if ((rc = connect_node(g)) || (rc = send_gov(g, STORE_TX_GOV_EXECUTE, buf, len, path, "executor", &tx, txid)))
		goto out;
	rc = tx ? report(g, e->proposal_id, tx, txid, "executed") : print_submitted(g, txid);
out:
	json_decref(tx);
	sn_free(e);
	sn_free(buf);
	return rc;
}

/* ------------------------------------------------------------------ show, list */

/* [####----] of cells, filled for part out of whole; marks (cell indexes, ascending, may be
 * NULL) get a '|' before that cell. */
static void bar(uint64_t part, uint64_t whole, int cells, const int *marks, size_t nmarks)
{
	int filled = whole ? (int)(part * (uint64_t)cells / whole) : 0;
	size_t m = 0;

	putchar('[');
	for (int i = 0; i < cells; i++) {
		if (m < nmarks && marks[m] == i) {
			putchar('|');
			m++;
		}
		putchar(i < filled ? '#' : '-');
	}
	putchar(']');
}

/* What a proposal does, in a few words, from its "details". */
static void print_summary(const json_t *p)
{
	const json_t *d = json_object_get(p, "details"), *e;
	const char *kind = S(p, "kind");
	size_t i;

	if (strcmp(kind, "set_param") == 0)
		printf("set %s to %s", S(d, "param"), S(d, "value"));
	else if (strcmp(kind, "treasury_spend") == 0)
		printf("pay %s from the treasury to %s", S(d, "amount"), S(d, "recipient"));
	else if (strcmp(kind, "pause_transfers") == 0 || strcmp(kind, "unpause_transfers") == 0)
		printf("%s transfers", kind[0] == 'p' ? "pause" : "unpause");
	else if (strcmp(kind, "signal_upgrade") == 0)
		printf("signal upgrade %s at height %s", S(d, "name"), S(d, "activation_height"));
	else if (strcmp(kind, "cancel") == 0)
		printf("cancel proposal %s", S(d, "proposal_id"));
	else if (strcmp(kind, "change_members") == 0) {
		printf("%s become %zu members:", S(d, "track"), json_array_size(json_object_get(d, "members")));
		json_array_foreach(json_object_get(d, "members"), i, e)
			printf("\n               %s  weight %s", S(e, "address"), S(e, "weight"));
	} else if (strcmp(kind, "change_validators") == 0) {
		printf("the validator set becomes %zu:", json_array_size(json_object_get(d, "validators")));
		json_array_foreach(json_object_get(d, "validators"), i, e)
			printf("\n               %s  power %s", S(e, "node_key"), S(e, "power"));
	} else
		printf("%s", kind);
}

static void print_track(const json_t *p, const char *name)
{
	const json_t *t = json_object_get(p, name);
	uint64_t yes = num(t, "yes_weight"), total = num(t, "total_weight");
	size_t n = json_array_size(json_object_get(t, "members"));

	printf("%-11s ", name);
	bar(num(t, "half_bps"), 5000, BAR_CELLS, NULL, 0);
	printf("  %6s of 50%%   (%s of %zu members", PCT(num(t, "half_bps")), S(t, "approvals"), n);
	if (total != n)
		printf(", weight %llu of %llu", (unsigned long long)yes, (unsigned long long)total);
	printf(")\n");
}

static void print_proposal(const json_t *p)
{
	static const int marks[] = { BAR_CELLS / 2, BAR_CELLS * GOV_THRESHOLD_BPS / 10000 };
	uint64_t bps = num(p, "approval_bps");
	const char *status = S(p, "status");
	const json_t *e;
	size_t i;

	printf("proposal %s  %s\n", S(p, "id"), S(p, "kind"));
	printf("  does       ");
	print_summary(p);
	printf("\n  status     %s (state %s, as of block %s)\n", status, S(p, "state"), S(p, "as_of_height"));
	printf("  proposer   %s\n", S(p, "proposer"));
	printf("\n");
	print_track(p, "developers");
	print_track(p, "community");
	printf("%-11s ", "total");
	bar(bps, 10000, BAR_CELLS, marks, SN_ARRAY_LEN(marks));
	printf("  %6s   %s%s%s\n\n", PCT(bps), bps >= GOV_THRESHOLD_BPS ? "passes (needs " : "needs ", PCT(GOV_THRESHOLD_BPS),
	       bps >= GOV_THRESHOLD_BPS ? ")" : "");
	printf("  created    block %s\n", S(p, "created_height"));
	if (strcmp(status, "timelocked") == 0)
		printf("  timelock   %s blocks left (approved in block %s, executable from block %s)\n",
		       S(p, "timelock_left"), S(p, "approved_height"), S(p, "executable_height"));
	else if (strcmp(status, "executable") == 0)
		printf("  timelock   over (approved in block %s, executable since block %s)\n", S(p, "approved_height"),
		       S(p, "executable_height"));
	else
		printf("  timelock   %s blocks after approval\n", S(p, "timelock_blocks"));
	if (strcmp(status, "proposed") == 0 || strcmp(status, "timelocked") == 0 || strcmp(status, "executable") == 0)
		printf("  deadline   block %s, %s blocks left\n", S(p, "deadline_height"), S(p, "deadline_left"));
	else
		printf("  deadline   block %s\n", S(p, "deadline_height"));
	if (num(p, "closed_height"))
		printf("  closed     block %s\n", S(p, "closed_height"));
	printf("  payload    %s\n  hash       %s\n", S(p, "payload"), S(p, "payload_hash"));
	for (int t = 0; t < 2; t++) {
		const char *track = t ? "community" : "developers";

		printf("  %s:\n", track);
		json_array_foreach(json_object_get(json_object_get(p, track), "members"), i, e)
			printf("    %s %s  weight %s\n", json_is_true(json_object_get(e, "approved")) ? "[x]" : "[ ]",
			       S(e, "address"), S(e, "weight"));
	}
}

static int cmd_show(struct gov *g)
{
	uint64_t id;
	json_t *p;
	int rc;

	if ((rc = pos_id(g, &id)) || (rc = connect_node(g)) || (rc = get_proposal(g, id, &p)))
		return rc;
	if (g->json)
		gprint_json(p);
	else
		print_proposal(p);
	json_decref(p);
	return 0;
}

static int cmd_list(struct gov *g)
{
	const char *status = val(g, "status");
	uint64_t limit;
	json_t *r, *e;
	size_t i;
	int rc;

	if ((rc = val_u64(g, "limit", 100, &limit)))
		return rc;
	if (limit > 1000)
		return gusage(g, "--limit: at most 1000");
	if ((rc = connect_node(g)) ||
	    (rc = call(g, "gov_list", json_pack("[s?,I]", status, (json_int_t)limit), &r, NULL)))
		return rc;
	if (g->json) {
		gprint_json(r);
	} else {
		printf("%zu proposals%s%s (next id %s, transfers %s, as of block %s)\n",
		       json_array_size(json_object_get(r, "proposals")), status ? " " : "", status ? status : "",
		       S(r, "next_id"), json_is_true(json_object_get(r, "transfers_paused")) ? "paused" : "not paused",
		       S(r, "as_of_height"));
		json_array_foreach(json_object_get(r, "proposals"), i, e) {
			printf("  %4s  %-11s %7s  %-18s deadline %-8s ", S(e, "id"), S(e, "status"),
			       PCT(num(e, "approval_bps")), S(e, "kind"), S(e, "deadline_height"));
			print_summary(e);
			printf("\n");
		}
	}
	json_decref(r);
	return 0;
}

/* ------------------------------------------------------------------ the table */

static const struct gov_sub subs[] = {
	{ "propose", "KIND [kind's options] [--deadline BLOCKS] [--key FILE] [--fee N]", "propose a governance action",
	  "Signs a PROPOSE with the key in FILE (a registered account; it pays the fee), waits until\n"
	  "it is in a block and prints the new proposal's id. KIND and its options:\n"
	  "  set_param          --param NAME --value N\n"
	  "  treasury_spend     --to ADDR --amount N\n"
	  "  change_members     --track developers|community --member ADDR[:WEIGHT] ...\n"
	  "  change_validators  --validator KEY:POWER ...\n"
	  "  signal_upgrade     --name NAME --height H\n"
	  "  cancel             --proposal ID\n"
	  "  pause_transfers, unpause_transfers (none)\n"
	  "The proposal may be approved and executed until its deadline, BLOCKS blocks after the\n"
	  "next block.",
	  1,
	  { "param", "value", "to", "amount", "track", "member", "validator", "name", "height", "proposal", "deadline",
	    "key", "fee" },
	  cmd_propose },
	{ "approve", "ID [--key MEMBER_KEY] [--payer-key FILE] [--fee N]", "approve a proposal as a member",
	  "The member whose key is in MEMBER_KEY (default HOME/account.key) signs its approval of\n"
	  "proposal ID (bound to the chain, the id and the payload hash); an APPROVE carrying it is\n"
	  "signed and paid by the payer: --payer-key, else the member if it is a registered account,\n"
	  "else HOME/account.key. Waits for the block, then says the proposal's approval.",
	  1, { "key", "payer-key", "fee" }, cmd_approve },
	{ "sign", "ID [--key MEMBER_KEY]", "print a member's approval for someone else's execute",
	  "Prints the approval of proposal ID by the member whose key is in MEMBER_KEY (default\n"
	  "HOME/account.key) as MEMBER:SIG in hex, for settle gov execute --sig. Nothing is sent.",
	  1, { "key" }, cmd_sign },
	{ "execute", "ID [--sig MEMBER:SIG ...] [--key FILE] [--fee N]", "execute an approved proposal",
	  "Signs an EXECUTE of proposal ID with the key in FILE (a registered account; it pays the\n"
	  "fee). The approvals given with --sig are recorded first, in the same transaction, so a\n"
	  "proposal can collect its approvals offline and execute at once once its timelock allows.\n"
	  "Waits for the block.",
	  1, { "sig", "key", "fee" }, cmd_execute },
	{ "show", "ID", "show a proposal and how far it is from passing",
	  "Shows proposal ID: what it does, its status, each track's approval against its 50% and\n"
	  "the total against the 65% needed, timelock and deadline, the members and who approved.",
	  1, { NULL }, cmd_show },
	{ "list", "[--status S] [--limit N]", "list proposals",
	  "Lists proposals in id order with status, approval, kind and deadline.", 0, { "status", "limit" },
	  cmd_list },
};

static void print_help(const struct gov_sub *s)
{
	if (!s) {
		printf("usage: settle gov SUBCOMMAND [options]\n\n"
		       "Governance: two tracks (developers, community) each hold 50%%; a proposal passes\n"
		       "at 65.00%% and executes after the timelock (docs/governance.md).\n\nsubcommands:\n");
		for (size_t i = 0; i < SN_ARRAY_LEN(subs); i++)
			printf("  %-8s %s\n", subs[i].name, subs[i].summary);
		printf("\nsettle gov SUBCOMMAND --help says more. Global options as for every command (settle --help).\n");
		return;
	}
	printf("usage: settle gov %s %s\n\n%s\n", s->name, s->synopsis, s->help);
	if (s->opts[0])
		printf("\noptions:\n");
	for (size_t i = 0; i < SUB_MAX_OPTS && s->opts[i]; i++) {
		const struct gov_opt *o = opt_find(gov_opts, SN_ARRAY_LEN(gov_opts), s->opts[i], strlen(s->opts[i]));
		char left[48];

		snprintf(left, sizeof(left), "--%s %s", o->name, o->arg);
		printf("  %-24s %s\n", left, o->help);
	}
	printf("\nglobal options: --home DIR, --rpc HOST:PORT, --rpc-user USER --rpc-password PASSWORD,\n"
	       "--json, --no-wait (settle --help)\n");
}

/* ------------------------------------------------------------------ arguments */

bool cli_gov_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const struct gov_opt *o;

		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strncmp(argv[i], "--", 2) != 0)
			return strcmp(argv[i], "gov") == 0;
		o = opt_find(global_opts, SN_ARRAY_LEN(global_opts), argv[i] + 2, strlen(argv[i] + 2));
		if (o && o->arg)
			i++; /* its value */
	}
	return false;
}

static int set_global(struct gov *g, const struct gov_opt *o, const char *v)
{
	const char **dst[] = { &g->home, &g->rpc_addr, &g->rpc_user, &g->rpc_password };
	size_t i = (size_t)(o - global_opts);

	if (i < SN_ARRAY_LEN(dst)) {
		*dst[i] = v;
		return 0;
	}
	if (strcmp(o->name, "json") == 0)
		g->json = true;
	else if (strcmp(o->name, "no-wait") == 0)
		g->no_wait = true;
	else
		g->help = true;
	return 0;
}

static int parse(struct gov *g, int argc, char **argv)
{
	bool only_pos = false, seen_gov = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *v = "";
		const struct gov_opt *o;
		size_t n;

		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			if (!seen_gov) {
				seen_gov = true; /* "gov" itself (cli_gov_wanted) */
			} else if (!g->sub) {
				for (size_t k = 0; k < SN_ARRAY_LEN(subs); k++)
					if (strcmp(subs[k].name, a) == 0)
						g->sub = &subs[k];
				if (!g->sub)
					return gusage(g, "unknown subcommand '%s'", a);
			} else if (g->npos >= g->sub->npos) {
				return gusage(g, "unexpected argument '%s'", a);
			} else {
				g->pos[g->npos++] = a;
			}
			continue;
		}
		if (strcmp(a, "--") == 0 || strcmp(a, "-h") == 0) {
			only_pos |= a[1] == '-';
			g->help |= a[1] == 'h';
			continue;
		}
		if (a[1] != '-')
			return gusage(g, "unknown option '%s'", a);
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		o = opt_find(global_opts, SN_ARRAY_LEN(global_opts), a + 2, n);
		if (!o && g->sub && (o = opt_find(gov_opts, SN_ARRAY_LEN(gov_opts), a + 2, n)) && !sub_takes(g->sub, o))
			o = NULL;
		if (!o)
			return gusage(g, "unknown option '%.*s'", (int)(n + 2), a);
		if (o->arg && eq)
			v = eq + 1;
		else if (o->arg && i + 1 < argc)
			v = argv[++i];
		else if (o->arg)
			return gusage(g, "--%s needs a value (%s)", o->name, o->arg);
		else if (eq)
			return gusage(g, "--%s takes no value", o->name);
		if (o >= global_opts && o < global_opts + SN_ARRAY_LEN(global_opts)) {
			set_global(g, o, v);
			continue;
		}
		if (!o->repeat && val(g, o->name))
			return gusage(g, "--%s given twice", o->name);
		g->given[g->ngiven++] = (struct gov_given){ o, v };
	}
	if (g->help)
		return 0;
	if (!g->sub)
		return gusage(g, "no subcommand given (propose, approve, sign, execute, show, list)");
	if (g->npos < g->sub->npos)
		return gusage(g, "expected %s", g->sub->synopsis);
	if (!g->home[0])
		return gusage(g, "--home: empty directory name");
	return 0;
}

int cli_gov_main(int argc, char **argv, const char *home)
{
	struct gov g = { .home = home };
	int rc;

	g.given = sn_calloc((size_t)argc + 1, sizeof(*g.given));
	if (!g.given)
		return gfail("out of memory");
	rc = parse(&g, argc, argv);
	if (!rc && g.help)
		print_help(g.sub);
	else if (!rc && sn_crypto_init())
		rc = gfail("cannot initialise the crypto libraries");
	else if (!rc)
		rc = g.sub->run(&g);
	sn_wipe(&g.rpc, sizeof(g.rpc));
	sn_free(g.given);
	if (fflush(stdout) != 0 && !rc)
		rc = gfail("cannot write the output: %s", strerror(errno));
	return rc;
}
