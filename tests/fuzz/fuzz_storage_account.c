/* tests/fuzz/fuzz_storage_account.c — store_account_decode on arbitrary bytes.
 * On success the re-encoding must give back exactly the input. */
#include "tests/fuzz/fuzz.h"
#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_account a;
	uint8_t enc[STORE_ACCOUNT_LEN];
	int err;

	memset(a.key, 0x5a, sizeof(a.key));
	err = store_account_decode(&a, data, size);
	/* The key is the caller's and never touched. */
	for (size_t i = 0; i < sizeof(a.key); i++)
		CHECK(a.key[i] == 0x5a);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION);
		return 0;
	}
	CHECK(size == STORE_ACCOUNT_LEN);
	store_account_encode(enc, &a);
	CHECK(memcmp(enc, data, size) == 0);
	return 0;
}
