/* tests/fuzz/fuzz_storage_account.c — the account record decoders on arbitrary bytes: the
 * protocol's record v1 (store_account_decode) and the store's two halves of schema 2
 * (store__account_cold_decode, store__account_hot_decode). On success the re-encoding must
 * give back exactly the input; each decoder touches only its own fields. */
#include "tests/fuzz/fuzz.h"
#include "storage/store_int.h"

#define CHECK_ERR(err) CHECK((err) == SN_E_TRUNCATED || (err) == SN_E_TRAILING || (err) == SN_E_VERSION)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_account a;
	uint8_t enc[STORE_ACCOUNT_LEN], cold[STORE_COLD_LEN], hot[STORE_HOT_LEN];
	int err;

	memset(a.key, 0x5a, sizeof(a.key));
	err = store_account_decode(&a, data, size);
	/* The key is the caller's and never touched. */
	for (size_t i = 0; i < sizeof(a.key); i++)
		CHECK(a.key[i] == 0x5a);
	if (err != SN_OK) {
		CHECK_ERR(err);
	} else {
		CHECK(size == STORE_ACCOUNT_LEN);
		store_account_encode(enc, &a);
		CHECK(memcmp(enc, data, size) == 0);
	}

	/* The fixed half leaves balance, nonce and volume as they were, and the reverse. */
	memset(&a, 0x5a, sizeof(a));
	err = store__account_cold_decode(&a, data, size);
	CHECK(a.balance == 0x5a5a5a5a5a5a5a5aull && a.nonce == a.balance && a.personal_volume == a.balance);
	if (err != SN_OK) {
		CHECK_ERR(err);
	} else {
		CHECK(size == STORE_COLD_LEN);
		store__account_cold_encode(cold, &a);
		CHECK(memcmp(cold, data, size) == 0);
	}
	memset(&a, 0x5a, sizeof(a));
	err = store__account_hot_decode(&a, data, size);
	CHECK(a.seq == 0x5a5a5a5a5a5a5a5aull && a.depth == a.seq && a.sponsor[0] == 0x5a);
	if (err != SN_OK) {
		CHECK_ERR(err);
	} else {
		CHECK(size == STORE_HOT_LEN);
		store__account_hot_encode(hot, &a);
		CHECK(memcmp(hot, data, size) == 0);
	}
	return 0;
}
