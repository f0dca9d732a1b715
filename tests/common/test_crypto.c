/* tests/common/test_crypto.c — tagged BLAKE2b hashing and BIP340 Schnorr signatures. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define BIP340_CSV SN_SOURCE_DIR "/tests/data/bip340-test-vectors.csv"
#define BIP340_ROWS 15

static void hex32(uint8_t out[32], const char *hex)
{
	assert_int_equal(sn_hex_decode(out, 32, hex), SN_OK);
}

/* ------------------------------------------------------------ BIP340 vectors */

struct bip340_row {
	int index;
	bool has_seckey;
	uint8_t seckey[32];
	uint8_t pubkey[32];
	bool has_aux;
	uint8_t aux[32];
	uint8_t msg[256];
	size_t msglen;
	uint8_t sig[64];
	bool expect_ok;
	char comment[256];
};

/* Splits line at commas into at most nf fields (the last one keeps any further commas). */
static size_t split_csv(char *line, char **fields, size_t nf)
{
	size_t n = 0;

	fields[n++] = line;
	for (char *p = line; *p && n < nf; p++) {
		if (*p == ',') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	}
	return n;
}

static void parse_row(struct bip340_row *row, char *line)
{
	char *f[8];
	size_t n = split_csv(line, f, 8);

	memset(row, 0, sizeof(*row));
	assert_true(n >= 7);
	row->index = atoi(f[0]);
	row->has_seckey = f[1][0] != '\0';
	if (row->has_seckey)
		hex32(row->seckey, f[1]);
	hex32(row->pubkey, f[2]);
	row->has_aux = f[3][0] != '\0';
	if (row->has_aux)
		hex32(row->aux, f[3]);
	assert_int_equal(sn_hex_decode_var(row->msg, sizeof(row->msg), &row->msglen, f[4]), SN_OK);
	assert_int_equal(sn_hex_decode(row->sig, 64, f[5]), SN_OK);
	assert_true(strcmp(f[6], "TRUE") == 0 || strcmp(f[6], "FALSE") == 0);
	row->expect_ok = strcmp(f[6], "TRUE") == 0;
	if (n == 8)
		snprintf(row->comment, sizeof(row->comment), "%s", f[7]);
}

static void check_row(const struct bip340_row *row)
{
	int got;

	if (row->has_seckey) {
		uint8_t pk[32], sig[64];

		assert_true(row->has_aux);
		assert_int_equal(sn_schnorr_pubkey(pk, row->seckey), SN_OK);
		assert_memory_equal(pk, row->pubkey, 32);
		assert_int_equal(sn_schnorr_sign(sig, row->seckey, row->msg, row->msglen, row->aux),
		                 SN_OK);
		assert_memory_equal(sig, row->sig, 64);
	}
	got = sn_schnorr_verify(row->sig, row->msg, row->msglen, row->pubkey);
	if (row->expect_ok) {
		assert_int_equal(got, SN_OK);
		assert_int_equal(sn_schnorr_pubkey_check(row->pubkey), SN_OK);
	} else if (strstr(row->comment, "public key")) {
		/* The key itself is invalid (not on the curve or not below the field size). */
		assert_int_equal(got, SN_E_BADKEY);
		assert_int_equal(sn_schnorr_pubkey_check(row->pubkey), SN_E_BADKEY);
	} else {
		assert_int_equal(got, SN_E_BADSIG);
		assert_int_equal(sn_schnorr_pubkey_check(row->pubkey), SN_OK);
	}
}

static void test_bip340_vectors(void **state)
{
	size_t len;
	uint8_t *data = tu_read_file(BIP340_CSV, &len);
	char *text, *line, *save = NULL;
	int rows = 0, with_key = 0, expect_true = 0;

	(void)state;
	if (!data)
		fail_msg("cannot read %s", BIP340_CSV);
	text = (char *)data;
	text[len] = '\0';
	line = strtok_r(text, "\n", &save);
	assert_non_null(line);
	assert_true(strncmp(line, "index,secret key,public key,aux_rand,message,signature,", 55) == 0);
	while ((line = strtok_r(NULL, "\n", &save))) {
		struct bip340_row row;
		size_t l = strlen(line);

		if (l && line[l - 1] == '\r')
			line[--l] = '\0';
		if (!l)
			continue;
		parse_row(&row, line);
		print_message("BIP340 vector %d: %s %s\n", row.index, row.expect_ok ? "TRUE" : "FALSE",
		              row.comment);
		assert_int_equal(row.index, rows);
		check_row(&row);
		rows++;
		with_key += row.has_seckey;
		expect_true += row.expect_ok;
	}
	free(data);
	assert_int_equal(rows, BIP340_ROWS);
	assert_int_equal(with_key, 4);
	assert_int_equal(expect_true, 5);
}

/* Row 1 of the vectors, with every single bit of the signature, message and key flipped. */
static void test_bit_flips_fail(void **state)
{
	uint8_t pk[32], msg[32], sig[64];

	(void)state;
	hex32(pk, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659");
	hex32(msg, "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89");
	assert_int_equal(sn_hex_decode(sig, 64, "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8"
	                                        "DCF8C78DE33418906D11AC976ABCCB20B091292BFF4EA897EFCB6"
	                                        "39EA871CFA95F6DE339E4B0A"),
	                 SN_OK);
	assert_int_equal(sn_schnorr_verify(sig, msg, 32, pk), SN_OK);
	for (int bit = 0; bit < 64 * 8; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(sn_schnorr_verify(sig, msg, 32, pk), SN_E_BADSIG);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (int bit = 0; bit < 32 * 8; bit++) {
		int got;

		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(sn_schnorr_verify(sig, msg, 32, pk), SN_E_BADSIG);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		got = sn_schnorr_verify(sig, msg, 32, pk);
		assert_true(got == SN_E_BADSIG || got == SN_E_BADKEY);
		pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* A shorter or longer message is a different message. */
	assert_int_equal(sn_schnorr_verify(sig, msg, 31, pk), SN_E_BADSIG);
}

/* ---------------------------------------------------------- sign and verify */

static void test_keygen_sign_verify_round_trip(void **state)
{
	static const uint8_t fixed_aux[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

	(void)state;
	for (int i = 0; i < 16; i++) {
		uint8_t sk[32], pk[32], pk2[32], sig[64], sig2[64], other_pk[32], other_sk[32];
		uint8_t msg[100];
		size_t msglen = (size_t)i * 6; /* 0..90 bytes: any length */

		sn_random_bytes(msg, sizeof(msg));
		assert_int_equal(sn_schnorr_keygen(sk, pk), SN_OK);
		assert_int_equal(sn_schnorr_pubkey(pk2, sk), SN_OK);
		assert_memory_equal(pk, pk2, 32);
		assert_int_equal(sn_schnorr_pubkey_check(pk), SN_OK);
		assert_int_equal(sn_schnorr_sign(sig, sk, msg, msglen, NULL), SN_OK);
		assert_int_equal(sn_schnorr_verify(sig, msg, msglen, pk), SN_OK);
		/* Fresh aux randomness: a different but equally valid signature. */
		assert_int_equal(sn_schnorr_sign(sig2, sk, msg, msglen, NULL), SN_OK);
		assert_memory_not_equal(sig, sig2, 64);
		assert_int_equal(sn_schnorr_verify(sig2, msg, msglen, pk), SN_OK);
		/* Fixed aux: deterministic. */
		assert_int_equal(sn_schnorr_sign(sig, sk, msg, msglen, fixed_aux), SN_OK);
		assert_int_equal(sn_schnorr_sign(sig2, sk, msg, msglen, fixed_aux), SN_OK);
		assert_memory_equal(sig, sig2, 64);
		/* Someone else's key does not verify it. */
		assert_int_equal(sn_schnorr_keygen(other_sk, other_pk), SN_OK);
		assert_int_equal(sn_schnorr_verify(sig, msg, msglen, other_pk), SN_E_BADSIG);
		/* Flipped bits in message, signature and key. */
		if (msglen) {
			msg[i % msglen] ^= 0x01;
			assert_int_equal(sn_schnorr_verify(sig, msg, msglen, pk), SN_E_BADSIG);
			msg[i % msglen] ^= 0x01;
		}
		sig[(i * 5) % 64] ^= 0x80;
		assert_int_equal(sn_schnorr_verify(sig, msg, msglen, pk), SN_E_BADSIG);
		sig[(i * 5) % 64] ^= 0x80;
		pk[31 - i] ^= 0x04;
		{
			int got = sn_schnorr_verify(sig, msg, msglen, pk);

			assert_true(got == SN_E_BADSIG || got == SN_E_BADKEY);
		}
		pk[31 - i] ^= 0x04;
		assert_int_equal(sn_schnorr_verify(sig, msg, msglen, pk), SN_OK);
	}
}

static void test_invalid_secret_keys(void **state)
{
	uint8_t sk[32], pk[32], sig[64];

	(void)state;
	/* Zero. */
	memset(sk, 0, sizeof(sk));
	memset(pk, 0xaa, sizeof(pk));
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_E_BADKEY);
	assert_memory_equal(pk, (uint8_t[32]){ 0 }, 32);
	memset(sig, 0xaa, sizeof(sig));
	assert_int_equal(sn_schnorr_sign(sig, sk, "m", 1, NULL), SN_E_BADKEY);
	assert_memory_equal(sig, (uint8_t[64]){ 0 }, 64);
	/* The group order n, and n + 1 (not below n). */
	hex32(sk, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_E_BADKEY);
	sk[31]++;
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_E_BADKEY);
	memset(sk, 0xff, sizeof(sk));
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_E_BADKEY);
	/* x = 0 and x = p are not valid x-only keys. */
	memset(pk, 0, sizeof(pk));
	assert_int_equal(sn_schnorr_pubkey_check(pk), SN_E_BADKEY);
	hex32(pk, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F");
	assert_int_equal(sn_schnorr_pubkey_check(pk), SN_E_BADKEY);
	/* n - 1 is valid. */
	hex32(sk, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140");
	assert_int_equal(sn_schnorr_pubkey(pk, sk), SN_OK);
	assert_int_equal(sn_schnorr_sign(sig, sk, "m", 1, NULL), SN_OK);
	assert_int_equal(sn_schnorr_verify(sig, "m", 1, pk), SN_OK);
}

/* ------------------------------------------------------------- tagged hashes */

struct hash_kat {
	const char *tag;
	size_t len; /* data is bytes i & 0xff for i in 0..len-1, unless text is set */
	const char *text;
	const char *hex;
};

/* Expected values computed independently with Python's hashlib:
 *   hashlib.blake2b(data, digest_size=32, person=tag.encode().ljust(16, b'\0')).hexdigest()
 * (no key, no salt). The empty tag is all-zero personalization, i.e. plain BLAKE2b-256. */
static const struct hash_kat hash_kats[] = {
	{ "settled/tx/sig", 0, "", "ede7b41ab36a113d909689d6571567cdfa57ac3daf2fdf960731951652ffa3fb" },
	{ "settled/block", 0, "abc", "a7aa35c45b03fc8488e918ae10dd00e4b36f5edba7d05fc6e7495d90f1cc111a" },
	{ "0123456789abcdef", 100, NULL, "d1f9bf5596289c8d227f78d9676c9c2db38669e7cc5f232a5fddbfd4958be139" },
	{ "", 0, "abc", "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319" },
	{ "settled/tx/id", 300, NULL, "00c3a0bfaa8c4b69f50ab6a3ee57992ae7a271dc33d009d46f016eae3d025264" },
};

static size_t kat_data(const struct hash_kat *k, uint8_t *buf, size_t cap)
{
	if (k->text) {
		size_t n = strlen(k->text);

		memcpy(buf, k->text, n);
		return n;
	}
	assert_true(k->len <= cap);
	for (size_t i = 0; i < k->len; i++)
		buf[i] = (uint8_t)i;
	return k->len;
}

static void test_tagged_hash_known_answers(void **state)
{
	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(hash_kats); i++) {
		uint8_t data[512], want[32], got[32];
		size_t n = kat_data(&hash_kats[i], data, sizeof(data));

		hex32(want, hash_kats[i].hex);
		sn_hash_tagged(got, hash_kats[i].tag, data, n);
		assert_memory_equal(got, want, 32);
	}
}

static void test_streaming_equals_one_shot(void **state)
{
	uint8_t data[1000];
	uint64_t seed = tu_seed("test_streaming_equals_one_shot");
	struct tu_rng rng = { seed };

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)tu_rand(&rng);
	for (int iter = 0; iter < 200; iter++) {
		size_t len = (size_t)tu_rand_below(&rng, sizeof(data) + 1), off = 0;
		uint8_t one[32], streamed[32];
		struct sn_hasher h;

		sn_hash_tagged(one, "settled/test", data, len);
		sn_hasher_init(&h, "settled/test");
		while (off < len) {
			size_t chunk = (size_t)tu_rand_below(&rng, 200);

			if (chunk > len - off)
				chunk = len - off;
			sn_hasher_update(&h, data + off, chunk); /* chunk may be 0 */
			off += chunk;
		}
		sn_hasher_final(&h, streamed);
		assert_memory_equal(one, streamed, 32);
	}
	/* And the known answers through the streaming API. */
	for (size_t i = 0; i < SN_ARRAY_LEN(hash_kats); i++) {
		uint8_t buf[512], want[32], got[32];
		size_t n = kat_data(&hash_kats[i], buf, sizeof(buf));
		struct sn_hasher h;

		hex32(want, hash_kats[i].hex);
		sn_hasher_init(&h, hash_kats[i].tag);
		for (size_t j = 0; j < n; j++)
			sn_hasher_update(&h, buf + j, 1);
		sn_hasher_final(&h, got);
		assert_memory_equal(got, want, 32);
	}
}

static void test_different_tags_differ(void **state)
{
	static const char *const tags[] = { "settled/tx/sig", "settled/tx/id", "settled/block",
		                            "settled/txroot", "", "a", "b", "0123456789abcdef" };
	uint8_t h[SN_ARRAY_LEN(tags)][32];

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(tags); i++) {
		sn_hash_tagged(h[i], tags[i], "same data", 9);
		for (size_t j = 0; j < i; j++)
			assert_memory_not_equal(h[i], h[j], 32);
	}
	/* A tag is not a data prefix: tag "a" + "bc" differs from tag "" + "abc". */
	{
		uint8_t x[32], y[32];

		sn_hash_tagged(x, "a", "bc", 2);
		sn_hash_tagged(y, "", "abc", 3);
		assert_memory_not_equal(x, y, 32);
	}
}

static void test_ct_equal_and_wipe(void **state)
{
	uint8_t a[64], b[64];

	(void)state;
	sn_random_bytes(a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(sn_ct_equal(a, b, sizeof(a)));
	assert_true(sn_ct_equal(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x01;
		assert_false(sn_ct_equal(a, b, sizeof(a)));
		assert_true(sn_ct_equal(a, b, i)); /* the prefix before i still matches */
		b[i] ^= 0x01;
	}
	b[63] ^= 0x80;
	assert_false(sn_ct_equal(a, b, sizeof(a)));
	sn_wipe(a, sizeof(a));
	for (size_t i = 0; i < sizeof(a); i++)
		assert_int_equal(a[i], 0);
}

static void test_random_bytes_differ(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	sn_random_bytes(a, sizeof(a));
	sn_random_bytes(b, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
}

static void test_time_monotonic(void **state)
{
	uint64_t t0 = sn_time_mono_ns(), t1 = sn_time_mono_ns();

	(void)state;
	assert_true(t1 >= t0);
	assert_true(t0 > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bip340_vectors),
		cmocka_unit_test(test_bit_flips_fail),
		cmocka_unit_test(test_keygen_sign_verify_round_trip),
		cmocka_unit_test(test_invalid_secret_keys),
		cmocka_unit_test(test_tagged_hash_known_answers),
		cmocka_unit_test(test_streaming_equals_one_shot),
		cmocka_unit_test(test_different_tags_differ),
		cmocka_unit_test(test_ct_equal_and_wipe),
		cmocka_unit_test(test_random_bytes_differ),
		cmocka_unit_test(test_time_monotonic),
	};

	return cmocka_run_group_tests(tests, tu_setup_crypto, NULL);
}
