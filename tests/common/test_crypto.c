/* tests/common/test_crypto.c — tagged BLAKE2b hashing and BIP340 Schnorr signatures. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/crypto_int.h"

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
	/* The cached path agrees, on a miss and on the hit after it (or, for a key that does
	 * not parse, on a second miss). */
	assert_int_equal(sn_schnorr_verify_cached(row->sig, row->msg, row->msglen, row->pubkey), got);
	assert_int_equal(sn_schnorr_verify_cached(row->sig, row->msg, row->msglen, row->pubkey), got);
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

/* ------------------------------------------------------- cached key parsing */

/* Asserts that the calling thread's cache counters moved by exactly (dh, dm) since *h, *m,
 * and advances them. */
static void expect_cache(uint64_t *h, uint64_t *m, uint64_t dh, uint64_t dm)
{
	uint64_t h2, m2;

	sn__xonly_cache_stats(&h2, &m2);
	assert_int_equal(h2 - *h, dh);
	assert_int_equal(m2 - *m, dm);
	*h = h2;
	*m = m2;
}

/* A signature whose r is not below p: libsecp256k1 rejects it before any curve arithmetic,
 * so checking it costs little more than parsing the key. */
static const uint8_t sig_r_ge_p[64] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* Both paths on one key, signature and message: the same result. */
static int both(const uint8_t sig[64], const void *msg, size_t msglen, const uint8_t pk[32])
{
	int want = sn_schnorr_verify(sig, msg, msglen, pk);

	assert_int_equal(sn_schnorr_verify_cached(sig, msg, msglen, pk), want);
	return want;
}

static void test_cached_agrees_and_hits(void **state)
{
	uint8_t sk[32], pk[32], sig[64], msg[32];
	uint64_t h, m;

	(void)state;
	tu_key(1, sk, pk);
	sn_random_bytes(msg, sizeof(msg));
	assert_int_equal(sn_schnorr_sign(sig, sk, msg, sizeof(msg), NULL), SN_OK);
	sn__xonly_cache_stats(&h, &m);
	/* First check a miss, then hits; a bad signature, message or length is still rejected
	 * on a hit. */
	assert_int_equal(both(sig, msg, 32, pk), SN_OK);
	expect_cache(&h, &m, 0, 1);
	assert_int_equal(both(sig, msg, 32, pk), SN_OK);
	expect_cache(&h, &m, 1, 0);
	sig[5] ^= 0x10;
	assert_int_equal(both(sig, msg, 32, pk), SN_E_BADSIG);
	sig[5] ^= 0x10;
	msg[31] ^= 0x01;
	assert_int_equal(both(sig, msg, 32, pk), SN_E_BADSIG);
	msg[31] ^= 0x01;
	assert_int_equal(both(sig, msg, 31, pk), SN_E_BADSIG);
	assert_int_equal(both(sig, msg, 0, pk), SN_E_BADSIG);
	assert_int_equal(both(sig_r_ge_p, msg, 32, pk), SN_E_BADSIG);
	expect_cache(&h, &m, 5, 0);
	/* Another signer's signature under this key. */
	{
		uint8_t sk2[32], pk2[32], sig2[64];

		tu_key(2, sk2, pk2);
		assert_int_equal(sn_schnorr_sign(sig2, sk2, msg, sizeof(msg), NULL), SN_OK);
		assert_int_equal(both(sig2, msg, 32, pk), SN_E_BADSIG);
		expect_cache(&h, &m, 1, 0);
		sn_wipe(sk2, sizeof(sk2));
	}
	assert_int_equal(both(sig, msg, 32, pk), SN_OK);
	expect_cache(&h, &m, 1, 0);
	sn_wipe(sk, sizeof(sk));
}

/* Keys that do not parse: never cached (each check is a miss), never evicting a good key. */
static void test_cached_bad_keys(void **state)
{
	static const char *const bad[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F", /* p */
		"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
		"EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34", /* no curve point */
	};
	uint8_t sk[32], pk[32], sig[64], msg[32] = { 7 };
	uint64_t h, m;
	uint64_t seed = tu_seed("test_cached_bad_keys");
	struct tu_rng rng = { seed };
	int found = 0;

	(void)state;
	tu_key(3, sk, pk);
	assert_int_equal(sn_schnorr_sign(sig, sk, msg, sizeof(msg), NULL), SN_OK);
	sn__xonly_cache_stats(&h, &m);
	for (size_t i = 0; i < SN_ARRAY_LEN(bad); i++) {
		uint8_t x[32];

		hex32(x, bad[i]);
		assert_int_equal(both(sig, msg, 32, x), SN_E_BADKEY);
		assert_int_equal(both(sig, msg, 32, x), SN_E_BADKEY);
		expect_cache(&h, &m, 0, 2);
	}
	/* Cache pk, then check keys that do not parse but map to pk's slot: pk stays a hit. */
	assert_int_equal(both(sig, msg, 32, pk), SN_OK);
	assert_int_equal(both(sig, msg, 32, pk), SN_OK);
	expect_cache(&h, &m, 1, 1);
	while (found < 3) {
		uint8_t x[32];

		for (size_t i = 0; i < sizeof(x); i++)
			x[i] = (uint8_t)tu_rand(&rng);
		if (sn__xonly_cache_set(x) != sn__xonly_cache_set(pk) ||
		    sn_schnorr_pubkey_check(x) == SN_OK)
			continue;
		assert_int_equal(both(sig, msg, 32, x), SN_E_BADKEY);
		expect_cache(&h, &m, 0, 1);
		assert_int_equal(both(sig, msg, 32, pk), SN_OK);
		expect_cache(&h, &m, 1, 0);
		found++;
	}
	sn_wipe(sk, sizeof(sk));
}

/* Keys that share a set: WAYS of them live side by side (all hits once cached); one more,
 * checked in turn with them, evicts the oldest each time (round robin: every check a miss).
 * Every result stays right either way. */
static void test_cached_set_collision(void **state)
{
	enum { N = SN__XONLY_CACHE_WAYS + 1, MAX_KEYS = 200000 };
	static uint32_t set_count[SN__XONLY_CACHE_SETS];
	static uint32_t set_keys[SN__XONLY_CACHE_SETS][N]; /* key indexes, in order found */
	uint8_t sk[N][32], pk[N][32], sig[N][64], msg[N][32];
	uint64_t h, m;
	size_t full = SIZE_MAX;

	(void)state;
	memset(set_count, 0, sizeof(set_count));
	/* Search over tu_key(5000...) until N keys share a set (a few thousand keys). */
	for (uint32_t i = 0; i < MAX_KEYS && full == SIZE_MAX; i++) {
		size_t set;

		tu_pk(5000 + i, pk[0]);
		set = sn__xonly_cache_set(pk[0]);
		set_keys[set][set_count[set]++] = i;
		if (set_count[set] == N)
			full = set;
	}
	assert_true(full != SIZE_MAX);
	for (int k = 0; k < N; k++) {
		tu_key(5000 + set_keys[full][k], sk[k], pk[k]);
		assert_int_equal(sn__xonly_cache_set(pk[k]), full);
		memset(msg[k], k + 1, 32);
		assert_int_equal(sn_schnorr_sign(sig[k], sk[k], msg[k], 32, NULL), SN_OK);
	}
	sn__xonly_cache_stats(&h, &m);
	/* WAYS keys: a miss each the first time round, then hits only. */
	for (int round = 0; round < 3; round++)
		for (int k = 0; k < SN__XONLY_CACHE_WAYS; k++) {
			assert_int_equal(both(sig[k], msg[k], 32, pk[k]), SN_OK);
			expect_cache(&h, &m, round > 0, round == 0);
			assert_int_equal(both(sig[(k + 1) % N], msg[k], 32, pk[k]), SN_E_BADSIG);
			expect_cache(&h, &m, 1, 0);
		}
	/* One more in turn: each check finds its key evicted by the one before. */
	for (int round = 0; round < 3 * N; round++) {
		int k = (SN__XONLY_CACHE_WAYS + round) % N;

		assert_int_equal(both(sig[k], msg[k], 32, pk[k]), SN_OK);
		expect_cache(&h, &m, 0, 1);
		assert_int_equal(both(sig[k], msg[(k + 1) % N], 32, pk[k]), SN_E_BADSIG);
		expect_cache(&h, &m, 1, 0);
	}
	sn_wipe(sk, sizeof(sk));
}

/* More distinct keys than slots: the first keys are mostly evicted, and checking them again
 * gives the same results. */
static void test_cached_more_keys_than_slots(void **state)
{
	enum { FIRST = 64, MORE = SN__XONLY_CACHE_SLOTS + SN__XONLY_CACHE_SLOTS / 8 };
	static uint8_t pk[FIRST][32], sig[FIRST][64];
	uint8_t msg[32] = { 9 };
	uint64_t seed = tu_seed("test_cached_more_keys_than_slots");
	struct tu_rng rng = { seed };
	uint64_t h, m, h0, m0;
	int cached = 0, not_parsed = 0;

	(void)state;
	for (int i = 0; i < FIRST; i++) {
		uint8_t sk[32];

		tu_key(2000 + (uint64_t)i, sk, pk[i]);
		assert_int_equal(sn_schnorr_sign(sig[i], sk, msg, 32, NULL), SN_OK);
		sn_wipe(sk, sizeof(sk));
		assert_int_equal(sn_schnorr_verify_cached(sig[i], msg, 32, pk[i]), SN_OK);
	}
	/* Random x: about half are curve points (cached), the rest do not parse. */
	while (cached < MORE) {
		uint8_t x[32];
		int got;

		for (size_t i = 0; i < sizeof(x); i++)
			x[i] = (uint8_t)tu_rand(&rng);
		got = sn_schnorr_verify_cached(sig_r_ge_p, msg, 32, x);
		assert_true(got == SN_E_BADSIG || got == SN_E_BADKEY);
		cached += got == SN_E_BADSIG;
		not_parsed += got == SN_E_BADKEY;
	}
	assert_true(not_parsed > 0);
	sn__xonly_cache_stats(&h0, &m0);
	for (int i = 0; i < FIRST; i++) {
		assert_int_equal(both(sig[i], msg, 32, pk[i]), SN_OK);
		assert_int_equal(both(sig[(i + 1) % FIRST], msg, 32, pk[i]), SN_E_BADSIG);
	}
	sn__xonly_cache_stats(&h, &m);
	assert_int_equal((h - h0) + (m - m0), 2 * FIRST);
	/* ~e^-1.1 of them survive, so some were evicted: P(none) ~ 0.33^64. */
	assert_true(m - m0 > 0);
	/* Each first check of an evicted key is a miss; the second, a hit. */
	assert_true(h - h0 >= FIRST);
}

/* Several threads at once, each with its own signers, results and table. */
enum { THREADS = 4, THREAD_KEYS = 24, THREAD_ROUNDS = 6 };

struct cache_thread {
	unsigned idx;
	pthread_barrier_t *start;
	uint8_t pk[THREAD_KEYS][32], sig[THREAD_KEYS][64], msg[THREAD_KEYS][32];
	unsigned wrong;           /* results that differed from the expected one */
	uint64_t hits0, misses0; /* the thread's counters before its first check */
	uint64_t hits, misses, checks;
};

static void *cache_thread_main(void *arg)
{
	struct cache_thread *t = arg;

	sn__xonly_cache_stats(&t->hits0, &t->misses0);
	pthread_barrier_wait(t->start);
	for (int round = 0; round < THREAD_ROUNDS; round++)
		for (unsigned k = 0; k < THREAD_KEYS; k++) {
			unsigned other = (k + 1 + t->idx) % THREAD_KEYS;

			t->wrong += sn_schnorr_verify_cached(t->sig[k], t->msg[k], 32, t->pk[k]) != SN_OK;
			t->wrong += sn_schnorr_verify_cached(t->sig[other], t->msg[other], 32, t->pk[k]) !=
			            SN_E_BADSIG;
			t->wrong += sn_schnorr_verify_cached(t->sig[k], t->msg[k], 31, t->pk[k]) !=
			            SN_E_BADSIG;
			t->checks += 3;
		}
	sn__xonly_cache_stats(&t->hits, &t->misses);
	return NULL;
}

static void test_cached_threads(void **state)
{
	static struct cache_thread t[THREADS];
	pthread_t tid[THREADS];
	pthread_barrier_t start;
	uint64_t h0, m0, h, m;

	(void)state;
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (unsigned i = 0; i < THREADS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].idx = i;
		t[i].start = &start;
		for (unsigned k = 0; k < THREAD_KEYS; k++) {
			uint8_t sk[32];

			tu_key(3000 + i * THREAD_KEYS + k, sk, t[i].pk[k]);
			sn_random_bytes(t[i].msg[k], 32);
			assert_int_equal(sn_schnorr_sign(t[i].sig[k], sk, t[i].msg[k], 32, NULL), SN_OK);
			sn_wipe(sk, sizeof(sk));
		}
	}
	sn__xonly_cache_stats(&h0, &m0);
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, cache_thread_main, &t[i]), 0);
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(t[i].wrong, 0);
		/* A new thread starts with no table of its own... */
		assert_int_equal(t[i].hits0, 0);
		assert_int_equal(t[i].misses0, 0);
		/* ...and counts only its own checks: every key parsed at least once, and nearly all
		 * later checks hits (two of 24 keys may share a slot). */
		assert_int_equal(t[i].hits + t[i].misses, t[i].checks);
		assert_true(t[i].misses >= THREAD_KEYS);
		assert_true(t[i].hits >= t[i].checks / 2);
	}
	/* The threads did not touch this thread's table. */
	sn__xonly_cache_stats(&h, &m);
	assert_int_equal(h, h0);
	assert_int_equal(m, m0);
}

/* If a thread's table cannot be allocated, its checks run uncached and stay right. */
struct alloc_fail_thread {
	const uint8_t *pk, *sig, *msg;
	int ok, badsig, badkey;
	uint64_t hits, misses;
};

static void *alloc_fail_thread_main(void *arg)
{
	struct alloc_fail_thread *a = arg;
	uint8_t not_x[32];

	memset(not_x, 0xff, sizeof(not_x));
	a->ok = sn_schnorr_verify_cached(a->sig, a->msg, 32, a->pk);
	a->ok |= sn_schnorr_verify_cached(a->sig, a->msg, 32, a->pk);
	a->badsig = sn_schnorr_verify_cached(a->sig, a->msg, 31, a->pk);
	a->badkey = sn_schnorr_verify_cached(a->sig, a->msg, 32, not_x);
	sn__xonly_cache_stats(&a->hits, &a->misses);
	return NULL;
}

static void test_cached_alloc_failure(void **state)
{
	uint8_t sk[32], pk[32], sig[64], msg[32] = { 4 };
	struct alloc_fail_thread a = { .pk = pk, .sig = sig, .msg = msg, .hits = 1, .misses = 1 };
	pthread_t tid;

	(void)state;
	tu_key(4, sk, pk);
	assert_int_equal(sn_schnorr_sign(sig, sk, msg, 32, NULL), SN_OK);
	sn_wipe(sk, sizeof(sk));
	sn_alloc_fail_after(1);
	assert_int_equal(pthread_create(&tid, NULL, alloc_fail_thread_main, &a), 0);
	assert_int_equal(pthread_join(tid, NULL), 0);
	sn_alloc_fail_after(0);
	assert_int_equal(a.ok, SN_OK);
	assert_int_equal(a.badsig, SN_E_BADSIG);
	assert_int_equal(a.badkey, SN_E_BADKEY);
	assert_int_equal(a.hits, 0); /* no table */
	assert_int_equal(a.misses, 0);
	/* With allocation back, a new thread gets its table. */
	assert_int_equal(pthread_create(&tid, NULL, alloc_fail_thread_main, &a), 0);
	assert_int_equal(pthread_join(tid, NULL), 0);
	assert_int_equal(a.ok, SN_OK);
	assert_int_equal(a.badsig, SN_E_BADSIG);
	assert_int_equal(a.badkey, SN_E_BADKEY);
	assert_int_equal(a.hits, 2);
	assert_int_equal(a.misses, 2);
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
		cmocka_unit_test(test_cached_agrees_and_hits),
		cmocka_unit_test(test_cached_bad_keys),
		cmocka_unit_test(test_cached_set_collision),
		cmocka_unit_test(test_cached_more_keys_than_slots),
		cmocka_unit_test(test_cached_threads),
		cmocka_unit_test(test_cached_alloc_failure),
		cmocka_unit_test(test_tagged_hash_known_answers),
		cmocka_unit_test(test_streaming_equals_one_shot),
		cmocka_unit_test(test_different_tags_differ),
		cmocka_unit_test(test_ct_equal_and_wipe),
		cmocka_unit_test(test_random_bytes_differ),
		cmocka_unit_test(test_time_monotonic),
	};

	return cmocka_run_group_tests(tests, tu_setup_crypto, NULL);
}
