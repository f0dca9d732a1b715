/* tests/storage/test_protocol_doc.c — docs/protocol.md must agree with storage/codec.c.
 *
 * Reads the document, takes its `example-NAME: VALUE` lines (the worked example) and its
 * layout tables, rebuilds the example transaction with the code and checks every value, so
 * the document cannot drift from the implementation. */
#include "testutil.h"

#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>

#define PROTOCOL_DOC SN_SOURCE_DIR "/docs/protocol.md"

static const char *const example_keys[] = {
	"seckey", "to-seckey", "chain-id", "nonce",    "fee",    "amount",        "aux",
	"signer", "to",        "unsigned-hex", "sighash", "sig", "tx-hex",        "tx-id",
	"tx-root", "empty-tx-root",
};

struct doc {
	char *text;    /* the whole file, NUL-terminated */
	char *scratch; /* a copy split into lines; example values point into it */
	size_t len;
	const char *values[SN_ARRAY_LEN(example_keys)];
};

static struct doc *doc_load(void)
{
	struct doc *d = calloc(1, sizeof(*d));
	size_t len;
	uint8_t *data = tu_read_file(PROTOCOL_DOC, &len);

	assert_non_null(d);
	if (!data)
		fail_msg("cannot read %s", PROTOCOL_DOC);
	d->text = (char *)data;
	d->text[len] = '\0';
	d->len = len;
	return d;
}

static void doc_free(struct doc *d)
{
	if (d) {
		free(d->text);
		free(d->scratch);
		free(d);
	}
}

static int setup(void **state)
{
	if (sn_crypto_init() != SN_OK)
		return -1;
	*state = doc_load();
	return 0;
}

static int teardown(void **state)
{
	doc_free(*state);
	return 0;
}

/* Collects the example lines; every key must appear exactly once and no other. The values
 * point into d->scratch, a copy of the text split into lines; d->text stays intact. */
static void doc_collect_examples(struct doc *d)
{
	char *save = NULL;

	if (d->scratch)
		return;
	d->scratch = strdup(d->text);
	assert_non_null(d->scratch);
	for (char *line = strtok_r(d->scratch, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon, *end;
		size_t k;

		if (strncmp(line, "example-", 8) != 0)
			continue;
		colon = strstr(line, ": ");
		if (!colon)
			fail_msg("malformed example line: %s", line);
		*colon = '\0';
		for (k = 0; k < SN_ARRAY_LEN(example_keys); k++)
			if (strcmp(line + 8, example_keys[k]) == 0)
				break;
		if (k == SN_ARRAY_LEN(example_keys))
			fail_msg("unknown example key: %s", line);
		if (d->values[k])
			fail_msg("duplicate example key: %s", line);
		end = colon + 2 + strlen(colon + 2);
		while (end > colon + 2 && (end[-1] == ' ' || end[-1] == '\r' || end[-1] == '\t'))
			*--end = '\0';
		d->values[k] = colon + 2;
	}
	for (size_t k = 0; k < SN_ARRAY_LEN(example_keys); k++)
		if (!d->values[k])
			fail_msg("missing example-%s in %s", example_keys[k], PROTOCOL_DOC);
}

static const char *example(const struct doc *d, const char *key)
{
	for (size_t k = 0; k < SN_ARRAY_LEN(example_keys); k++)
		if (strcmp(example_keys[k], key) == 0)
			return d->values[k];
	fail_msg("no such example key %s", key);
	return NULL;
}

static uint64_t example_u64(const struct doc *d, const char *key)
{
	const char *v = example(d, key);
	char *end;
	unsigned long long x;

	assert_true(v[0] >= '0' && v[0] <= '9');
	x = strtoull(v, &end, 10);
	if (*end)
		fail_msg("example-%s is not a decimal number: %s", key, v);
	return x;
}

static void example_hex(const struct doc *d, const char *key, uint8_t *out, size_t len)
{
	const char *v = example(d, key);

	if (sn_hex_decode(out, len, v) != SN_OK)
		fail_msg("example-%s is not %zu bytes of hex: %s", key, len, v);
	/* Lowercase, as the document promises. */
	for (const char *p = v; *p; p++)
		assert_false(*p >= 'A' && *p <= 'F');
}

static void test_worked_example(void **state)
{
	struct doc *d = *state;
	uint8_t sk[32], to_sk[32], aux[32], pk[32];
	uint8_t want_unsigned[96], want_sighash[32], want_sig[64], want_tx[STORE_TX_V1_LEN];
	uint8_t want_id[32], want_root[32], want_empty_root[32];
	uint8_t sighash[32], enc[STORE_TX_MAX], id[32], root[32];
	struct store_tx tx, back;
	size_t len;

	doc_collect_examples(d);
	example_hex(d, "seckey", sk, 32);
	example_hex(d, "to-seckey", to_sk, 32);
	example_hex(d, "aux", aux, 32);
	example_hex(d, "unsigned-hex", want_unsigned, sizeof(want_unsigned));
	example_hex(d, "sighash", want_sighash, 32);
	example_hex(d, "sig", want_sig, 64);
	example_hex(d, "tx-hex", want_tx, sizeof(want_tx));
	example_hex(d, "tx-id", want_id, 32);
	example_hex(d, "tx-root", want_root, 32);
	example_hex(d, "empty-tx-root", want_empty_root, 32);

	/* Rebuild the transaction from the inputs. */
	memset(&tx, 0, sizeof(tx));
	tx.version = STORE_TX_V1;
	tx.type = STORE_TX_TRANSFER;
	{
		uint64_t chain = example_u64(d, "chain-id");

		assert_true(chain <= UINT32_MAX);
		tx.chain_id = (uint32_t)chain;
	}
	tx.nonce = example_u64(d, "nonce");
	tx.fee = example_u64(d, "fee");
	tx.amount = example_u64(d, "amount");
	assert_int_equal(sn_schnorr_pubkey(tx.signer, sk), SN_OK);
	assert_int_equal(sn_schnorr_pubkey(tx.to, to_sk), SN_OK);
	example_hex(d, "signer", pk, 32);
	assert_memory_equal(tx.signer, pk, 32);
	example_hex(d, "to", pk, 32);
	assert_memory_equal(tx.to, pk, 32);

	/* sighash, then the BIP340 signature with the documented aux_rand. */
	assert_int_equal(store_tx_sighash(sighash, &tx), SN_OK);
	assert_memory_equal(sighash, want_sighash, 32);
	assert_int_equal(sn_schnorr_sign(tx.sig, sk, sighash, sizeof(sighash), aux), SN_OK);
	assert_memory_equal(tx.sig, want_sig, 64);
	assert_int_equal(store_tx_verify(&tx), SN_OK);

	/* The encoding, its unsigned prefix and the id. */
	assert_int_equal(store_tx_encode(enc, sizeof(enc), &len, &tx), SN_OK);
	assert_int_equal(len, sizeof(want_tx));
	assert_memory_equal(enc, want_tx, len);
	assert_memory_equal(enc, want_unsigned, sizeof(want_unsigned));
	assert_memory_equal(enc + sizeof(want_unsigned), want_sig, 64);
	store_tx_id(id, enc, len);
	assert_memory_equal(id, want_id, 32);

	/* The documented bytes decode back to the same transaction, which verifies. */
	assert_int_equal(store_tx_decode(&back, want_tx, sizeof(want_tx)), SN_OK);
	/* The payload is borrowed from the input: the 40 bytes at offset 56. */
	assert_ptr_equal(back.payload, want_tx + STORE_TX_HEADER_LEN);
	assert_int_equal(back.payload_len, STORE_TX_PAYLOAD_V1);
	tx.payload = back.payload;
	tx.payload_len = back.payload_len;
	assert_memory_equal(&back, &tx, sizeof(tx));
	assert_int_equal(store_tx_verify(&back), SN_OK);

	/* tx_root of a block of just this tx, and of an empty block. */
	store_tx_root(root, (const uint8_t (*)[SN_HASH_LEN])id, 1);
	assert_memory_equal(root, want_root, 32);
	store_tx_root(root, NULL, 0);
	assert_memory_equal(root, want_empty_root, 32);

	/* The document's hash formulas, computed from its own words. */
	sn_hash_tagged(sighash, "settled/tx/sig", want_unsigned, sizeof(want_unsigned));
	assert_memory_equal(sighash, want_sighash, 32);
	sn_hash_tagged(id, "settled/tx/id", want_tx, sizeof(want_tx));
	assert_memory_equal(id, want_id, 32);
	sn_wipe(sk, sizeof(sk));
	sn_wipe(to_sk, sizeof(to_sk));
}

/* The tags the code uses are the ones the document names (checked through their hashes
 * above and here by name). */
static void test_tags_documented(void **state)
{
	struct doc *d = *state;
	static const char *const tags[] = { "\"settled/tx/sig\"", "\"settled/tx/id\"",
		                            "\"settled/txroot\"", "\"settled/block\"" };
	struct store_block_header h;
	uint8_t enc[STORE_BLOCK_HEADER_LEN], a[32], b[32];

	for (size_t i = 0; i < SN_ARRAY_LEN(tags); i++)
		if (!strstr(d->text, tags[i]))
			fail_msg("%s does not name the tag %s", PROTOCOL_DOC, tags[i]);
	/* block hash = H("settled/block", header) as documented. */
	memset(&h, 0, sizeof(h));
	h.version = STORE_BLOCK_V1;
	h.chain_id = 42;
	h.height = 1;
	store_block_header_encode(enc, &h);
	store_block_hash(a, &h);
	sn_hash_tagged(b, "settled/block", enc, sizeof(enc));
	assert_memory_equal(a, b, 32);
	assert_true(strstr(d->text, "Deep sums, state root and storage") != NULL);
	assert_true(strstr(d->text, "docs/deep-sums.md") != NULL);
	assert_true(strstr(d->text, "docs/storage.md") != NULL);
}

/* Reads the first layout table after `heading`: rows `| offset | size | `field` | ...`.
 * Checks offsets are contiguous from 0, the field names are `names` in order, and the sizes
 * add up to total. */
static void check_table(const struct doc *d, const char *heading, const char *const *names,
                        size_t n_names, size_t total)
{
	const char *p = strstr(d->text, heading);
	size_t off = 0, row = 0;
	bool in_table = false;

	if (!p)
		fail_msg("heading '%s' not found", heading);
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		unsigned long o, s;
		char field[64];

		if (sscanf(p, "| %lu | %lu | `%63[^`]` |", &o, &s, field) == 3) {
			in_table = true;
			if (row >= n_names)
				fail_msg("%s: extra row %s", heading, field);
			if (o != off)
				fail_msg("%s: field %s at offset %lu, expected %zu", heading, field, o, off);
			if (strcmp(field, names[row]) != 0)
				fail_msg("%s: row %zu is %s, expected %s", heading, row, field, names[row]);
			off += s;
			row++;
		} else if (in_table && !(l > 0 && p[0] == '|')) {
			break; /* end of the table */
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	assert_int_equal(row, n_names);
	assert_int_equal(off, total);
}

static void test_layout_tables(void **state)
{
	struct doc *d = *state;
	static const char *const tx_fields[] = { "version", "type",        "chain_id", "signer",
		                                 "nonce",   "fee",         "payload_len", "to",
		                                 "amount",  "signature" };
	static const char *const hdr_fields[] = { "version",  "chain_id", "height",
		                                  "prev_hash", "time_ms",  "proposer",
		                                  "tx_root",  "state_root", "tx_count" };
	static const char *const acct_fields[] = { "version",     "seq",   "balance",
		                                   "nonce",       "sponsor", "sponsor_seq",
		                                   "personal_volume", "reg_height", "depth" };

	check_table(d, "## Transactions (v1)", tx_fields, SN_ARRAY_LEN(tx_fields), STORE_TX_V1_LEN);
	check_table(d, "## Blocks (v1)", hdr_fields, SN_ARRAY_LEN(hdr_fields), STORE_BLOCK_HEADER_LEN);
	check_table(d, "## Account records (v1)", acct_fields, SN_ARRAY_LEN(acct_fields),
	            STORE_ACCOUNT_LEN);
	/* The limits quoted in the text. */
	assert_int_equal(STORE_TX_MAX, 10369);
	assert_int_equal(STORE_TX_PAYLOAD_MAX, 10249);
	assert_int_equal(STORE_TX_GOV_PAYLOAD_MAX, 10240);
	assert_int_equal(STORE_TX_APPROVE_LEN, 104);
	assert_int_equal(STORE_TX_EXECUTE_SIGS_MAX, 64);
	assert_int_equal(STORE_BLOCK_MAX_TXS, 65536);
	assert_int_equal(STORE_BLOCK_MAX, 67108864);
	assert_int_equal(STORE_TX_PAYLOAD_V1, 40);
	assert_non_null(strstr(d->text, "10,369 bytes (`STORE_TX_MAX`)"));
	assert_non_null(strstr(d->text, "67,108,864 bytes (`STORE_BLOCK_MAX`)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_tags_documented),
		cmocka_unit_test(test_layout_tables),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
