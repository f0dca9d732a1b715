/* tests/fuzz/fuzz_consensus_proposal.c — cons_proposal_decode. On success the re-encoding must
 * give back exactly the input (canonical encoding), and checking its signature must not fail
 * in any other way than SN_E_BADSIG. */
#include "tests/fuzz/fuzz.h"
#include "consensus/consensus.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cons_proposal p;
	uint8_t enc[CONS_PROPOSAL_LEN];
	int err, v;

	if (sn_crypto_init() != SN_OK)
		abort();
	err = cons_proposal_decode(&p, data, size);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION);
		return 0;
	}
	CHECK(size == CONS_PROPOSAL_LEN);
	CHECK(cons_proposal_encode(enc, &p) == SN_OK);
	CHECK(memcmp(enc, data, size) == 0);
	v = cons_proposal_verify(&p);
	CHECK(v == SN_OK || v == SN_E_BADSIG);
	return 0;
}
