/* tests/fuzz/fuzz_governance_payload.c — gov_payload_decode for every kind (the first byte is
 * the kind, the rest the payload), and gov_council_decode on the same rest.
 * On success the re-encoding must give back exactly the input (canonical encoding). */
#include "tests/fuzz/fuzz.h"
#include "governance/governance.h"

#include <stdlib.h>

static bool decode_error(int err)
{
	return err == SN_E_TYPE || err == SN_E_TOOBIG || err == SN_E_TRUNCATED ||
	       err == SN_E_TRAILING || err == SN_E_VERSION || err == SN_E_NONCANONICAL ||
	       err == SN_E_PAYLOAD;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gov_payload p;
	static struct gov_council c;
	static uint8_t enc[GOV_COUNCIL_MAX > GOV_PAYLOAD_MAX ? GOV_COUNCIL_MAX : GOV_PAYLOAD_MAX];
	uint8_t h[SN_HASH_LEN];
	size_t len;
	int err;

	if (sn_crypto_init() != SN_OK)
		abort();
	if (size == 0)
		return 0;
	{
		/* The name parsers, on the input as a string: a parsed name prints back the same. */
		char name[64];
		size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
		uint8_t id;

		memcpy(name, data, n);
		name[n] = '\0';
		if (gov_kind_parse(&id, name) == SN_OK)
			CHECK(strcmp(gov_kind_name(id), name) == 0);
		if (gov_param_parse(&id, name) == SN_OK)
			CHECK(strcmp(gov_param_name(id), name) == 0);
	}
	err = gov_payload_decode(&p, data[0], data + 1, size - 1);
	if (err != SN_OK) {
		CHECK(decode_error(err));
	} else {
		CHECK(p.kind == data[0]);
		CHECK(gov_payload_encode(enc, sizeof(enc), &len, &p) == SN_OK);
		CHECK(len == size - 1);
		CHECK(memcmp(enc, data + 1, len) == 0);
		gov_payload_hash(h, data[0], data + 1, size - 1);
		if (p.kind == GOV_KIND_SET_PARAM)
			CHECK(gov_param_check(p.u.param.id, p.u.param.value) == SN_OK);
	}
	err = gov_council_decode(&c, data + 1, size - 1);
	if (err != SN_OK) {
		CHECK(decode_error(err));
	} else {
		CHECK(gov_council_encode(enc, sizeof(enc), &len, &c) == SN_OK);
		CHECK(len == size - 1);
		CHECK(memcmp(enc, data + 1, len) == 0);
	}
	return 0;
}
