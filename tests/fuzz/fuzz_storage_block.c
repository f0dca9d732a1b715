/* tests/fuzz/fuzz_storage_block.c — store_block_decode on arbitrary bytes.
 * On success, the re-encoded header followed by the transactions that store_block_next_tx
 * yields (each as u32 length | bytes) must reproduce the input exactly, and each
 * transaction must be within bounds and safe to decode. */
#include "tests/fuzz/fuzz.h"
#include "storage/storage.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_block b;
	uint8_t hdr[STORE_BLOCK_HEADER_LEN];
	const uint8_t *tx;
	size_t pos = 0, off, tlen;
	uint32_t count = 0;
	int err;

	err = store_block_decode(&b, data, size);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION ||
		      err == SN_E_TOOBIG);
		return 0;
	}
	CHECK(size >= STORE_BLOCK_HEADER_LEN);
	store_block_header_encode(hdr, &b.hdr);
	CHECK(memcmp(hdr, data, sizeof(hdr)) == 0);
	CHECK(b.body == data + STORE_BLOCK_HEADER_LEN);
	CHECK(b.body_len == size - STORE_BLOCK_HEADER_LEN);
	off = STORE_BLOCK_HEADER_LEN;
	while (store_block_next_tx(&b, &pos, &tx, &tlen)) {
		struct store_tx t;

		CHECK(tlen <= STORE_TX_MAX);
		CHECK(off + 4 + tlen <= size);
		CHECK(data[off] == (uint8_t)tlen && data[off + 1] == (uint8_t)(tlen >> 8) &&
		      data[off + 2] == (uint8_t)(tlen >> 16) && data[off + 3] == (uint8_t)(tlen >> 24));
		CHECK(tx == data + off + 4);
		off += 4 + tlen;
		count++;
		CHECK(count <= b.hdr.tx_count);
		err = store_tx_decode(&t, tx, tlen);
		CHECK(err == SN_OK || err == SN_E_TRUNCATED || err == SN_E_TRAILING ||
		      err == SN_E_VERSION || err == SN_E_TYPE || err == SN_E_TOOBIG);
	}
	CHECK(count == b.hdr.tx_count);
	CHECK(off == size);
	CHECK(pos == b.body_len);
	return 0;
}
