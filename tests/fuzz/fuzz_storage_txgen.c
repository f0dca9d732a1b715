/* tests/fuzz/fuzz_storage_txgen.c — the txs index's meta record "txgen" (store__txgen_decode,
 * docs/storage.md) on arbitrary bytes. What decodes holds the invariants the merges rely on
 * (dead <= first <= next at every level, a merge's sources among the live generations and
 * none out of the top level); a v2 record re-encodes to exactly its bytes, a v1 record (from
 * before levels) to a v2 one that decodes to the same state. */
#include "tests/fuzz/fuzz.h"
#include "storage/store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_txgen s, t;
	uint8_t enc[STORE_TXGEN_REC_MAX];
	uint64_t live = 0;
	size_t len;
	int err = store__txgen_decode(&s, data, size);

	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION || err == SN_E_CORRUPT);
		return 0;
	}
	CHECK(size >= 1 && (data[0] == STORE_TXGEN_V1 || data[0] == STORE_TXGEN_V2));
	for (unsigned l = 0; l < STORE_TXGEN_LEVELS; l++) {
		const struct store_txgen_level *lv = &s.lvl[l];

		CHECK(lv->dead <= lv->first && lv->first <= lv->next);
		if (lv->n_src) {
			CHECK(lv->n_src >= 2 && lv->n_src <= STORE_TXGEN_SRC_MAX);
			CHECK((uint64_t)lv->first + lv->n_src <= lv->next);
			CHECK(l + 1 < STORE_TXGEN_LEVELS);
		} else {
			CHECK(!lv->started);
		}
		live += lv->next - lv->first;
	}
	CHECK(store__txgen_live(&s) == live);
	store__txgen_encode(enc, &len, &s);
	CHECK(len <= STORE_TXGEN_REC_MAX);
	if (data[0] == STORE_TXGEN_V2)
		CHECK(len == size && memcmp(enc, data, size) == 0);
	else
		CHECK(size == 1 + 4 + 8 && live == s.lvl[0].next);
	CHECK(store__txgen_decode(&t, enc, len) == SN_OK);
	CHECK(memcmp(&s, &t, sizeof(s)) == 0); /* both zeroed, then the same fields set */
	return 0;
}
