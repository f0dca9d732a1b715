/* tests/fuzz/fuzz_node_mempool_file.c — node_mempool_file_decode (a saved mempool, chain 1)
 * on arbitrary bytes. A refusal is one of the documented errors and returns nothing; an
 * accepted file returns its transactions in order, each within the input and its bounds, and
 * encoding them again gives back exactly the input. */
#include "tests/fuzz/fuzz.h"
#include "node/mempool_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_mempool_saved *txs;
	uint8_t *enc;
	size_t n, len;
	int err;

	if (sn_crypto_init() != SN_OK)
		abort();
	err = node_mempool_file_decode(data, size, 1, &txs, &n);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION || err == SN_E_CHAIN ||
		      err == SN_E_TOOBIG || err == SN_E_CORRUPT || err == SN_E_NOMEM);
		CHECK(!txs && n == 0);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		CHECK(txs[i].len >= 1 && txs[i].len <= STORE_TX_MAX && txs[i].raw >= data &&
		      txs[i].raw + txs[i].len <= data + size);
	CHECK(node_mempool_file_encode(txs, n, 1, &enc, &len) == SN_OK);
	CHECK(len == size && memcmp(enc, data, size) == 0);
	sn_free(enc);
	sn_free(txs);
	return 0;
}
