/* tests/fuzz/fuzz_net_message.c — the message registry's decoders on arbitrary bytes.
 * Input: u16 le type | payload (what a frame carries once opened). A payload that decodes
 * must re-encode to exactly the same bytes, within its type's maximum. */
#include "tests/fuzz/fuzz.h"
#include "net/net.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t enc[NET_TX_MAX];
	struct net_msg m;
	uint16_t type;
	size_t n;
	int err;

	if (size < 2)
		return 0;
	type = (uint16_t)(data[0] | data[1] << 8);
	err = net_msg_decode(&m, type, data + 2, size - 2);
	if (err != SN_OK) {
		CHECK(err == SN_E_TYPE || err == SN_E_TOOBIG || err == SN_E_TRUNCATED ||
		      err == SN_E_TRAILING || err == SN_E_NONCANONICAL);
		CHECK(err != SN_E_TYPE || net_msg_name(type) == NULL);
		return 0;
	}
	CHECK(m.type == type && net_msg_name(type) != NULL);
	CHECK(size - 2 <= net_msg_max(type));
	CHECK(net_msg_encode(enc, sizeof(enc), &n, &m) == SN_OK);
	CHECK(n == size - 2 && memcmp(enc, data + 2, n) == 0);
	return 0;
}
