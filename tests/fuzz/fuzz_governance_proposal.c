/* tests/fuzz/fuzz_governance_proposal.c — gov_proposal_decode on arbitrary bytes.
 * On success the re-encoding must give back exactly the input (canonical encoding), and the
 * view, status, execute check, an approval attempt and cancel must run without crashing and
 * keep the record encodable. */
#include "tests/fuzz/fuzz.h"
#include "governance/governance.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t enc[GOV_PROPOSAL_MAX];
	struct gov_proposal *p, *q;
	struct gov_proposal_info info;
	struct gov_view v;
	struct gov_member m;
	uint8_t sig[SN_SIG_LEN] = { 0 };
	size_t len;
	bool approved;
	int err;

	if (sn_crypto_init() != SN_OK)
		abort();
	err = gov_proposal_decode(&p, data, size);
	if (err != SN_OK) {
		CHECK(p == NULL);
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION ||
		      err == SN_E_TOOBIG || err == SN_E_TYPE || err == SN_E_NONCANONICAL ||
		      err == SN_E_PAYLOAD || err == SN_E_CORRUPT);
		return 0;
	}
	CHECK(gov_proposal_encoded_len(p) == size);
	CHECK(gov_proposal_encode(enc, sizeof(enc), &len, p) == SN_OK);
	CHECK(len == size && memcmp(enc, data, size) == 0);

	gov_proposal_info_get(p, &info);
	{
		/* A record that decodes holds a payload that decodes, of its kind. */
		static struct gov_payload pl;

		CHECK(gov_proposal_payload_decode(p, &pl) == SN_OK);
		CHECK(pl.kind == info.kind);
	}
	gov_proposal_view(p, info.created_height, &v);
	CHECK(v.approval_bps <= 10000 && (v.approval_bps >= GOV_THRESHOLD_BPS) == info.ever_approved);
	gov_proposal_view(p, info.deadline_height, &v);
	gov_proposal_view(p, UINT64_MAX, &v);
	err = gov_proposal_execute_check(p, info.deadline_height);
	CHECK(err <= 0);
	CHECK(gov_proposal_member_get(p, GOV_TRACK_DEV, 0, &m, &approved) == SN_OK);
	/* An approval by a recorded member with a zero signature never verifies. */
	err = gov_proposal_approve(p, 1, info.deadline_height, m.key, sig, NULL);
	CHECK(err != SN_OK);
	if (gov_proposal_cancel(p, info.deadline_height) == SN_OK) {
		CHECK(gov_proposal_encode(enc, sizeof(enc), &len, p) == SN_OK);
		CHECK(gov_proposal_decode(&q, enc, len) == SN_OK);
		gov_proposal_free(q);
	}
	gov_proposal_free(p);
	return 0;
}
