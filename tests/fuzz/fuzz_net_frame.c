/* tests/fuzz/fuzz_net_frame.c — one frame on the wire (header | body) on arbitrary bytes.
 * The header decoder must bound the length before anything is allocated and re-encode to
 * the same 5 bytes. If the body is exactly the announced length it is opened with the
 * fixed key FUZZ_KEY (0x42 x 32) at counter 0 — the key tests/fuzz/make_net_corpus.py
 * seals its seed frames with — under each suite (ChaCha20-Poly1305, and AES-256-GCM when
 * the CPU runs it); a frame that opens must re-seal to the same bytes under that suite,
 * and its message (if of a known type) must round-trip through the registry. */
#include "tests/fuzz/fuzz.h"
#include "net/net_int.h"

#include <stdlib.h>

#define FUZZ_FRAME_MAX (1u << 20)

/* Opens body (a copy of the frame's) under suite; checks what an opened frame must give. */
static void open_as(enum net__suite suite, const uint8_t *data, size_t size, uint32_t n)
{
	uint8_t key[32], *body, *again, menc[NET_TX_MAX];
	struct net__cipher c, c2;
	const uint8_t *payload;
	struct net_msg m;
	uint16_t type;
	size_t plen, mlen;
	int err;

	memset(key, 0x42, sizeof(key));
	if (net__cipher_init(&c, suite, key) != SN_OK) {
		CHECK(suite == NET__SUITE_AES256GCM && !crypto_aead_aes256gcm_is_available());
		return;
	}
	c2 = c;
	body = malloc(n);
	CHECK(body != NULL);
	memcpy(body, data + NET__FRAME_HEADER_LEN, n);
	err = net__frame_open(&c, data, body, n, &type, &payload, &plen);
	if (err != SN_OK) {
		CHECK(err == SN_E_BADSIG && c.ctr == 0);
		free(body);
		return;
	}
	CHECK(c.ctr == 1 && plen + NET__FRAME_BODY_MIN == n);
	again = malloc(size);
	CHECK(again != NULL);
	net__frame_seal(again, &c2, type, payload, plen);
	CHECK(memcmp(again, data, size) == 0);
	if (net_msg_decode(&m, type, payload, plen) == SN_OK) {
		CHECK(net_msg_encode(menc, sizeof(menc), &mlen, &m) == SN_OK);
		CHECK(mlen == plen && memcmp(menc, payload, plen) == 0);
	}
	free(again);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[NET__FRAME_HEADER_LEN];
	uint32_t n;
	int err;

	if (sn_crypto_init() != SN_OK)
		abort();
	if (size < NET__FRAME_HEADER_LEN)
		return 0;
	err = net__frame_header_decode(&n, data, FUZZ_FRAME_MAX);
	if (err != SN_OK) {
		CHECK(err == SN_E_VERSION || err == SN_E_TOOBIG || err == SN_E_TRUNCATED);
		return 0;
	}
	CHECK(n >= NET__FRAME_BODY_MIN && n <= FUZZ_FRAME_MAX);
	net__frame_header_encode(hdr, n);
	CHECK(memcmp(hdr, data, sizeof(hdr)) == 0);
	if (size - NET__FRAME_HEADER_LEN != n)
		return 0; /* the transport would wait for more, or read the rest as the next frame */
	open_as(NET__SUITE_CHACHA20POLY1305, data, size, n);
	open_as(NET__SUITE_AES256GCM, data, size, n);
	return 0;
}
