/* tests/common/test_cursor.c — the bounds-checked little-endian readers and writers. */
#include "testutil.h"

static const uint8_t seq_bytes[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	                             0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10 };

static void test_read_widths_little_endian(void **state)
{
	struct sn_reader r = sn_reader_init(seq_bytes, sizeof(seq_bytes));
	uint8_t two[2];

	(void)state;
	assert_int_equal(sn_read_u8(&r), 0x01);
	assert_int_equal(sn_read_le16(&r), 0x0302);
	assert_int_equal(sn_read_le32(&r), 0x07060504u);
	assert_int_equal(sn_reader_left(&r), 9);
	assert_true(sn_read_le64(&r) == 0x0f0e0d0c0b0a0908ull);
	assert_int_equal(sn_reader_left(&r), 1);
	sn_read_bytes(&r, two, 1);
	assert_int_equal(two[0], 0x10);
	assert_false(sn_reader_failed(&r));
	assert_int_equal(sn_reader_left(&r), 0);
	assert_int_equal(sn_reader_finish(&r), SN_OK);
}

static void test_read_high_bits(void **state)
{
	static const uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t top[8] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
	struct sn_reader r;

	(void)state;
	r = sn_reader_init(ff, 8);
	assert_int_equal(sn_read_u8(&r), 0xff);
	r = sn_reader_init(ff, 8);
	assert_int_equal(sn_read_le16(&r), 0xffff);
	r = sn_reader_init(ff, 8);
	assert_true(sn_read_le32(&r) == 0xffffffffu);
	r = sn_reader_init(ff, 8);
	assert_true(sn_read_le64(&r) == UINT64_MAX);
	r = sn_reader_init(top, 8);
	assert_true(sn_read_le64(&r) == 0x8000000000000000ull);
	r = sn_reader_init(top + 4, 4);
	assert_true(sn_read_le32(&r) == 0x80000000u);
	r = sn_reader_init(top + 6, 2);
	assert_int_equal(sn_read_le16(&r), 0x8000);
}

static void test_read_ptr_borrows(void **state)
{
	struct sn_reader r = sn_reader_init(seq_bytes, sizeof(seq_bytes));
	const uint8_t *p;

	(void)state;
	p = sn_read_ptr(&r, 4);
	assert_ptr_equal(p, seq_bytes);
	p = sn_read_ptr(&r, 12);
	assert_ptr_equal(p, seq_bytes + 4);
	assert_int_equal(sn_reader_finish(&r), SN_OK);
	/* Reading zero bytes at the end is not a short read. */
	p = sn_read_ptr(&r, 0);
	assert_false(sn_reader_failed(&r));
	p = sn_read_ptr(&r, 1);
	assert_null(p);
	assert_true(sn_reader_failed(&r));
}

/* Each width, read from an input one byte too short, poisons the reader; every later read
 * of every width returns 0 (or zeros), even where enough bytes would have been left. */
static void test_short_read_poisons(void **state)
{
	static const size_t widths[] = { 1, 2, 4, 8, 5 /* bytes */, 3 /* ptr */ };

	(void)state;
	for (size_t wi = 0; wi < SN_ARRAY_LEN(widths); wi++) {
		size_t wdt = widths[wi];
		struct sn_reader r = sn_reader_init(seq_bytes, wdt - 1);
		uint8_t out[8];
		uint64_t v = 1;

		memset(out, 0xaa, sizeof(out));
		switch (wi) {
		case 0: v = sn_read_u8(&r); break;
		case 1: v = sn_read_le16(&r); break;
		case 2: v = sn_read_le32(&r); break;
		case 3: v = sn_read_le64(&r); break;
		case 4:
			sn_read_bytes(&r, out, wdt);
			for (size_t i = 0; i < wdt; i++)
				assert_int_equal(out[i], 0);
			assert_int_equal(out[wdt], 0xaa); /* no write past n */
			v = 0;
			break;
		case 5: v = (uintptr_t)sn_read_ptr(&r, wdt); break;
		}
		assert_true(v == 0);
		assert_true(sn_reader_failed(&r));
		assert_int_equal(sn_reader_left(&r), 0);
		assert_int_equal(sn_reader_finish(&r), SN_E_TRUNCATED);
	}
}

static void test_poisoned_reader_stays_poisoned(void **state)
{
	struct sn_reader r = sn_reader_init(seq_bytes, sizeof(seq_bytes));
	uint8_t out[4];

	(void)state;
	assert_int_equal(sn_read_u8(&r), 1);
	/* 15 left; ask for 16. */
	assert_null(sn_read_ptr(&r, 16));
	assert_true(sn_reader_failed(&r));
	/* The input is still there, but a poisoned reader never yields it. */
	assert_int_equal(sn_read_u8(&r), 0);
	assert_int_equal(sn_read_le16(&r), 0);
	assert_true(sn_read_le32(&r) == 0);
	assert_true(sn_read_le64(&r) == 0);
	memset(out, 0xaa, sizeof(out));
	sn_read_bytes(&r, out, sizeof(out));
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
	assert_null(sn_read_ptr(&r, 0));
	assert_true(sn_reader_failed(&r));
	assert_int_equal(sn_reader_finish(&r), SN_E_TRUNCATED);
}

static void test_reader_finish_codes(void **state)
{
	struct sn_reader r;

	(void)state;
	r = sn_reader_init(NULL, 0);
	assert_int_equal(sn_reader_finish(&r), SN_OK);
	r = sn_reader_init(seq_bytes, 3);
	assert_int_equal(sn_reader_finish(&r), SN_E_TRAILING);
	(void)sn_read_le16(&r);
	assert_int_equal(sn_reader_finish(&r), SN_E_TRAILING);
	(void)sn_read_u8(&r);
	assert_int_equal(sn_reader_finish(&r), SN_OK);
	(void)sn_read_u8(&r);
	assert_int_equal(sn_reader_finish(&r), SN_E_TRUNCATED);
	/* Poisoned with bytes still notionally present: truncated wins over trailing. */
	r = sn_reader_init(seq_bytes, 3);
	(void)sn_read_le32(&r);
	assert_int_equal(sn_reader_finish(&r), SN_E_TRUNCATED);
}

static void test_write_widths_little_endian(void **state)
{
	static const uint8_t want[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		                        0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xde, 0xad };
	uint8_t buf[sizeof(want)];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));

	(void)state;
	sn_write_u8(&w, 0x01);
	sn_write_le16(&w, 0x0302);
	sn_write_le32(&w, 0x07060504u);
	sn_write_le64(&w, 0x0f0e0d0c0b0a0908ull);
	sn_write_bytes(&w, "\xde\xad", 2);
	assert_false(sn_writer_failed(&w));
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_write_read_round_trip(void **state)
{
	uint8_t buf[64];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));
	struct sn_reader r;
	uint64_t seed = tu_seed("test_write_read_round_trip");
	struct tu_rng rng = { seed };

	(void)state;
	for (int iter = 0; iter < 1000; iter++) {
		uint8_t a = (uint8_t)tu_rand(&rng);
		uint16_t b = (uint16_t)tu_rand(&rng);
		uint32_t c = (uint32_t)tu_rand(&rng);
		uint64_t d = tu_rand(&rng);

		w = sn_writer_init(buf, sizeof(buf));
		sn_write_u8(&w, a);
		sn_write_le16(&w, b);
		sn_write_le32(&w, c);
		sn_write_le64(&w, d);
		assert_false(sn_writer_failed(&w));
		assert_int_equal(w.len, 15);
		/* Layout independent of host order. */
		assert_int_equal(buf[1], b & 0xff);
		assert_int_equal(buf[3], c & 0xff);
		assert_int_equal(buf[7], d & 0xff);
		assert_int_equal(buf[14], d >> 56);
		r = sn_reader_init(buf, w.len);
		assert_int_equal(sn_read_u8(&r), a);
		assert_int_equal(sn_read_le16(&r), b);
		assert_true(sn_read_le32(&r) == c);
		assert_true(sn_read_le64(&r) == d);
		assert_int_equal(sn_reader_finish(&r), SN_OK);
	}
}

/* Each width overflowing by one byte poisons the writer without writing past cap; later
 * writes (even ones that would fit) are dropped. */
static void test_writer_overflow_poisons(void **state)
{
	static const size_t widths[] = { 1, 2, 4, 8, 5 };

	(void)state;
	for (size_t wi = 0; wi < SN_ARRAY_LEN(widths); wi++) {
		uint8_t buf[16];
		size_t cap = widths[wi] - 1;
		struct sn_writer w = sn_writer_init(buf, cap);

		memset(buf, 0xaa, sizeof(buf));
		switch (wi) {
		case 0: sn_write_u8(&w, 0x11); break;
		case 1: sn_write_le16(&w, 0x1111); break;
		case 2: sn_write_le32(&w, 0x11111111u); break;
		case 3: sn_write_le64(&w, 0x1111111111111111ull); break;
		case 4: sn_write_bytes(&w, "\x11\x11\x11\x11\x11", 5); break;
		}
		assert_true(sn_writer_failed(&w));
		assert_int_equal(w.len, 0);
		for (size_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xaa);
		/* A later small write that would fit is dropped too. */
		sn_write_bytes(&w, "", 0);
		if (cap) {
			sn_write_u8(&w, 0x22);
			assert_int_equal(buf[0], 0xaa);
		}
		assert_int_equal(w.len, 0);
		assert_true(sn_writer_failed(&w));
	}
}

static void test_writer_exact_fit(void **state)
{
	uint8_t buf[8];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));

	(void)state;
	sn_write_le32(&w, 1);
	sn_write_le32(&w, 2);
	assert_false(sn_writer_failed(&w));
	assert_int_equal(w.len, 8);
	sn_write_bytes(&w, NULL, 0); /* zero bytes always fit */
	assert_false(sn_writer_failed(&w));
	sn_write_u8(&w, 3);
	assert_true(sn_writer_failed(&w));
	assert_int_equal(w.len, 8);
}

static void test_be64_helpers(void **state)
{
	uint8_t b[8];

	(void)state;
	sn_put_be64(b, 0x0102030405060708ull);
	assert_memory_equal(b, seq_bytes, 8);
	assert_true(sn_get_be64(b) == 0x0102030405060708ull);
	sn_put_be64(b, UINT64_MAX);
	assert_true(sn_get_be64(b) == UINT64_MAX);
	sn_put_be32(b, 0x01020304u); /* the txs index's generation keys */
	assert_memory_equal(b, seq_bytes, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_widths_little_endian),
		cmocka_unit_test(test_read_high_bits),
		cmocka_unit_test(test_read_ptr_borrows),
		cmocka_unit_test(test_short_read_poisons),
		cmocka_unit_test(test_poisoned_reader_stays_poisoned),
		cmocka_unit_test(test_reader_finish_codes),
		cmocka_unit_test(test_write_widths_little_endian),
		cmocka_unit_test(test_write_read_round_trip),
		cmocka_unit_test(test_writer_overflow_poisons),
		cmocka_unit_test(test_writer_exact_fit),
		cmocka_unit_test(test_be64_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
