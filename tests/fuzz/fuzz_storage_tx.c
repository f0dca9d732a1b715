/* tests/fuzz/fuzz_storage_tx.c — store_tx_decode on arbitrary bytes.
 * On success the re-encoding must give back exactly the input (canonical encoding), and the
 * sighash, id and signature check must run on it without crashing. */
#include "tests/fuzz/fuzz.h"
#include "storage/storage.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_tx tx;
	uint8_t enc[STORE_TX_MAX], h[SN_HASH_LEN], id[SN_HASH_LEN], id2[SN_HASH_LEN];
	size_t len;
	int err, v;

	if (sn_crypto_init() != SN_OK)
		abort();
	err = store_tx_decode(&tx, data, size);
	if (err != SN_OK) {
		/* Only the documented decode errors. */
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION ||
		      err == SN_E_TYPE || err == SN_E_TOOBIG);
		return 0;
	}
	CHECK(store_tx_encode(enc, sizeof(enc), &len, &tx) == SN_OK);
	CHECK(len == size);
	CHECK(memcmp(enc, data, size) == 0);
	CHECK(store_tx_sighash(h, &tx) == SN_OK);
	store_tx_id(id, data, size);
	store_tx_id(id2, enc, len);
	CHECK(memcmp(id, id2, sizeof(id)) == 0);
	v = store_tx_verify(&tx);
	CHECK(v == SN_OK || v == SN_E_BADSIG || v == SN_E_BADKEY);
	return 0;
}
