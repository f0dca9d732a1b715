/* tests/fuzz/fuzz_consensus_vote.c — cons_vote_decode, and cons_sign_state_decode (the
 * last-signed record, the other fixed-size consensus encoding) on the same input. On success
 * each re-encoding must give back exactly the input (canonical encoding). */
#include "tests/fuzz/fuzz.h"
#include "consensus/consensus.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cons_vote vote;
	struct cons_sign_state ss;
	uint8_t enc[CONS_VOTE_LEN], ssenc[CONS_SIGNSTATE_LEN];
	int err, v;

	if (sn_crypto_init() != SN_OK)
		abort();
	err = cons_vote_decode(&vote, data, size);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION || err == SN_E_TYPE ||
		      err == SN_E_NONCANONICAL);
	} else {
		CHECK(size == CONS_VOTE_LEN);
		CHECK(cons_vote_encode(enc, &vote) == SN_OK);
		CHECK(memcmp(enc, data, size) == 0);
		v = cons_vote_verify(&vote);
		CHECK(v == SN_OK || v == SN_E_BADSIG);
	}
	err = cons_sign_state_decode(&ss, data, size);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION || err == SN_E_TYPE ||
		      err == SN_E_NONCANONICAL);
	} else {
		CHECK(size == CONS_SIGNSTATE_LEN);
		cons_sign_state_encode(ssenc, &ss);
		CHECK(memcmp(ssenc, data, size) == 0);
		/* The same record again is always allowed; an earlier step never. */
		CHECK(cons_sign_state_check(&ss, ss.height, ss.round, ss.step, ss.has_value, ss.value) == SN_OK);
		if (ss.step > CONS_STEP_PROPOSE)
			CHECK(cons_sign_state_check(&ss, ss.height, ss.round, ss.step - 1, ss.has_value, ss.value) ==
			      SN_E_DOUBLE_SIGN);
	}
	return 0;
}
