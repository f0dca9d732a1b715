/* tests/fuzz/fuzz_net_handshake.c — the handshake's decoders on arbitrary bytes: the hello
 * (and its prefix, which the transport checks before reading the body) and the AUTH.
 * Each decoded value must re-encode to exactly the input (canonical encodings), and the key
 * derivation and signature check must run on a decoded hello without crashing; the suite
 * the keys get must be the one the hellos' ciphers bytes choose. */
#include "tests/fuzz/fuzz.h"
#include "net/net_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net__hs_hello h;
	struct net__cipher tx, rx;
	uint8_t enc[NET__HS_HELLO_MAX], sig[NET__SIG_LEN], auth[NET__AUTH_LEN], th[SN_HASH_LEN];
	uint8_t eph_sk[NET__EPH_KEY_LEN];
	size_t n, body;
	int err, perr = SN_E_TRUNCATED;

	if (sn_crypto_init() != SN_OK)
		abort();
	if (size >= NET__HS_PREFIX_LEN) {
		perr = net__hs_prefix_decode(&body, data);
		CHECK(perr == SN_OK || perr == SN_E_VERSION || perr == SN_E_TOOBIG ||
		      perr == SN_E_TRUNCATED);
	}
	err = net__hs_hello_decode(&h, data, size);
	if (err == SN_OK) {
		/* The transport reads exactly prefix + announced body: they must agree. */
		CHECK(perr == SN_OK && NET__HS_PREFIX_LEN + body == size);
		CHECK(net__hs_hello_encode(enc, sizeof(enc), &n, &h) == SN_OK);
		CHECK(n == size && memcmp(enc, data, size) == 0);
		CHECK(strlen(h.hello.user_agent) <= NET_USER_AGENT_MAX);
		/* Our side, as responder with a fixed ephemeral secret, against this hello. */
		memset(eph_sk, 0x24, sizeof(eph_sk));
		CHECK(h.ciphers == data[NET__HS_CIPHERS_OFF]);
		err = net__hs_keys(&tx, &rx, th, false, eph_sk, data, size, data, size);
		CHECK(err == SN_OK || err == SN_E_BADKEY);
		if (err == SN_OK)
			CHECK(tx.suite == rx.suite &&
			      tx.suite == net__suite_choose(h.ciphers, h.ciphers));
		memset(sig, 0x11, sizeof(sig));
		err = net__hs_verify(sig, th, true, h.hello.node_key);
		CHECK(err == SN_OK || err == SN_E_BADSIG);
	} else {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION ||
		      err == SN_E_TOOBIG || err == SN_E_NONCANONICAL);
	}
	err = net__hs_auth_decode(sig, data, size);
	if (err == SN_OK) {
		CHECK(size == NET__AUTH_LEN);
		net__hs_auth_encode(auth, sig);
		CHECK(memcmp(auth, data, size) == 0);
	} else {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING);
	}
	return 0;
}
