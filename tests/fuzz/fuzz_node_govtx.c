/* tests/fuzz/fuzz_node_govtx.c — the governance transaction payload decoders
 * (node_gov_propose_decode, node_gov_approve_decode, node_gov_execute_decode) on arbitrary
 * payloads: the first byte picks the type (3 PROPOSE, 4 APPROVE, 5 EXECUTE), the rest is the
 * payload. On success the matching encoder gives back exactly the payload. */
#include "tests/fuzz/fuzz.h"
#include "node/node.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t enc[STORE_TX_PAYLOAD_MAX];
	static struct node_gov_execute ex;
	struct store_tx tx;
	size_t len;
	int err;

	if (size < 1 || size - 1 > STORE_TX_PAYLOAD_MAX)
		return 0;
	memset(&tx, 0, sizeof(tx));
	tx.version = STORE_TX_V1;
	tx.type = (uint8_t)(STORE_TX_GOV_PROPOSE + data[0] % 3);
	tx.payload = data + 1;
	tx.payload_len = (uint16_t)(size - 1);
	switch (tx.type) {
	case STORE_TX_GOV_PROPOSE: {
		struct node_gov_propose p;

		err = node_gov_propose_decode(&p, &tx);
		if (err)
			break;
		CHECK(node_gov_propose_encode(enc, sizeof(enc), &len, p.kind, p.deadline_height, p.payload,
		                              p.payload_len) == SN_OK);
		CHECK(len == size - 1 && memcmp(enc, data + 1, len) == 0);
		break;
	}
	case STORE_TX_GOV_APPROVE: {
		struct node_gov_approval a;
		uint64_t id;

		err = node_gov_approve_decode(&id, &a, &tx);
		if (err)
			break;
		CHECK(node_gov_approve_encode(enc, sizeof(enc), &len, id, &a) == SN_OK);
		CHECK(len == size - 1 && memcmp(enc, data + 1, len) == 0);
		break;
	}
	default:
		err = node_gov_execute_decode(&ex, &tx);
		if (err)
			break;
		CHECK(ex.n <= STORE_TX_EXECUTE_SIGS_MAX);
		CHECK(node_gov_execute_encode(enc, sizeof(enc), &len, &ex) == SN_OK);
		CHECK(len == size - 1 && memcmp(enc, data + 1, len) == 0);
		break;
	}
	CHECK(err <= 0);
	return 0;
}
