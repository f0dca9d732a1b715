/* tests/fuzz/fuzz_net_peers.c — the peer manager's decoders on arbitrary bytes: the persisted
 * ban list (net__bans_decode; decode→encode gives the same bytes) and peer addresses
 * (net_addr_parse on the input as a string; a parsed address formats and parses back to
 * itself). */
#include "tests/fuzz/fuzz.h"
#include "net/net_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_ban bans[NET_BANS_MAX];
	struct net_addr a, b;
	char s[128], f[128];
	uint8_t *enc;
	size_t n, len, sl = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	if (net__bans_decode(bans, NET_BANS_MAX, &n, data, size) == SN_OK) {
		CHECK(n <= NET_BANS_MAX);
		CHECK(net__bans_encode(&enc, &len, bans, n) == SN_OK);
		CHECK(len == size && memcmp(enc, data, size) == 0);
		sn_free(enc);
	}
	memcpy(s, data, sl);
	s[sl] = '\0';
	if (net_addr_parse(&a, s) == SN_OK) {
		CHECK(a.port != 0);
		CHECK(net_addr_format(f, sizeof(f), &a) == SN_OK);
		CHECK(net_addr_parse(&b, f) == SN_OK);
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	}
	return 0;
}
