/* tests/fuzz/fuzz_consensus_commit.c — cons_commit_decode. On success the re-encoding must
 * give back exactly the input (canonical: keys strictly ascending), and verifying it against
 * a validator set must end in one of its documented results. */
#include "tests/fuzz/fuzz.h"
#include "consensus/consensus.h"

#include <sodium.h>
#include <stdlib.h>

/* Four validators whose keys come from fixed seeds 1..4 (the seed corpus signs with them). */
static struct cons_valset *valset(void)
{
	static struct cons_valset *vs;

	if (!vs) {
		struct cons_validator v[4];

		for (int i = 0; i < 4; i++) {
			uint8_t seed[32] = { (uint8_t)(i + 1) }, sk[CONS_SECKEY_LEN];

			crypto_sign_seed_keypair(v[i].key, sk, seed);
			v[i].power = (uint64_t)i + 1;
		}
		if (cons_valset_new(&vs, v, 4) != SN_OK)
			abort();
	}
	return vs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cons_commit c;
	static uint8_t enc[CONS_COMMIT_MAX];
	size_t len;
	int err;

	if (sn_crypto_init() != SN_OK)
		abort();
	err = cons_commit_decode(&c, data, size);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION || err == SN_E_TOOBIG ||
		      err == SN_E_NONCANONICAL);
		return 0;
	}
	CHECK(c.count <= CONS_VALIDATORS_MAX);
	CHECK(cons_commit_encode(enc, sizeof(enc), &len, &c) == SN_OK);
	CHECK(len == size);
	CHECK(memcmp(enc, data, size) == 0);
	err = cons_commit_verify(&c, 7, valset());
	CHECK(err == SN_OK || err == SN_E_NOT_VALIDATOR || err == SN_E_BADSIG || err == SN_E_NO_QUORUM);
	return 0;
}
