/* tests/net/test_wire.c — the peer protocol's codecs (net/wire.c): the message registry,
 * the handshake hello and AUTH, frame headers, sealing and opening under both cipher
 * suites, suite choice and key derivation.
 * Known answers come from tests/fuzz/make_net_corpus.py, which builds them with an
 * independent implementation (python3-cryptography) of docs/p2p.md. */
#include "testutil.h"

#include "net/net_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

static uint8_t *seed_file(const char *target, const char *name, size_t *len)
{
	char path[1024];
	uint8_t *p;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/%s", SN_SOURCE_DIR, target, name);
	p = tu_read_file(path, len);
	assert_non_null(p);
	return p;
}

static void test_registry(void **state)
{
	struct net_msg m;
	uint8_t buf[16], big[NET_TX_MAX + 1] = { 0 };
	const uint8_t ping[8] = { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
	size_t n;

	(void)state;
	assert_string_equal(net_msg_name(NET_MSG_PING), "PING");
	assert_string_equal(net_msg_name(NET_MSG_PONG), "PONG");
	assert_string_equal(net_msg_name(NET_MSG_TX), "TX");
	assert_null(net_msg_name(0));
	assert_string_equal(net_msg_name(NET_MSG_GET_PEERS), "GET_PEERS");
	assert_string_equal(net_msg_name(NET_MSG_PEERS), "PEERS");
	assert_null(net_msg_name(6));
	assert_int_equal(net_msg_max(NET_MSG_PING), 8);
	assert_int_equal(net_msg_max(NET_MSG_TX), NET_TX_MAX);
	assert_int_equal(net_msg_max(0), 0);

	assert_int_equal(net_msg_decode(&m, NET_MSG_PING, ping, 8), SN_OK);
	assert_int_equal(m.type, NET_MSG_PING);
	assert_int_equal(m.u.nonce, 0x1122334455667788ull);
	assert_int_equal(net_msg_encode(buf, sizeof(buf), &n, &m), SN_OK);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, ping, 8);
	/* Every truncation and a trailing byte. */
	for (size_t k = 0; k < 8; k++)
		assert_int_equal(net_msg_decode(&m, NET_MSG_PONG, ping, k), SN_E_TRUNCATED);
	assert_int_equal(net_msg_decode(&m, NET_MSG_PONG, buf, 9), SN_E_TOOBIG);
	assert_int_equal(net_msg_decode(&m, 0, ping, 8), SN_E_TYPE);
	assert_int_equal(net_msg_decode(&m, 77, ping, 8), SN_E_TYPE);
	assert_int_equal(m.type, 0);
	/* TX: 1..NET_TX_MAX bytes. */
	assert_int_equal(net_msg_decode(&m, NET_MSG_TX, big, 0), SN_E_TRUNCATED);
	assert_int_equal(net_msg_decode(&m, NET_MSG_TX, big, NET_TX_MAX + 1), SN_E_TOOBIG);
	assert_int_equal(net_msg_decode(&m, NET_MSG_TX, big, NET_TX_MAX), SN_OK);
	assert_int_equal(m.u.tx.len, NET_TX_MAX);
	assert_ptr_equal(m.u.tx.bytes, big);
	/* Encoding checks too. */
	assert_int_equal(net_msg_encode(buf, 4, &n, &(struct net_msg){ .type = NET_MSG_PING }),
	                 SN_E_TOOBIG);
	assert_int_equal(n, 0);
	assert_int_equal(net_msg_encode(buf, 16, &n, &(struct net_msg){ .type = 9 }), SN_E_TYPE);
	assert_int_equal(net_msg_encode(buf, 16, &n, &(struct net_msg){ .type = NET_MSG_TX }),
	                 SN_E_INVAL);
	m.type = NET_MSG_TX;
	m.u.tx.bytes = big;
	m.u.tx.len = NET_TX_MAX + 1;
	assert_int_equal(net_msg_encode(big, sizeof(big), &n, &m), SN_E_TOOBIG);
}

/* GET_PEERS is empty; PEERS: u8 n | n x (key[32] | u8 family | ip | u16 le port). */
static void test_peers_messages(void **state)
{
	struct net_msg m, back;
	uint8_t buf[NET_MSG_PEERS_MAX + 1], x = 0;
	size_t n, len;

	(void)state;
	assert_int_equal(net_msg_decode(&m, NET_MSG_GET_PEERS, NULL, 0), SN_OK);
	assert_int_equal(net_msg_encode(buf, sizeof(buf), &n, &m), SN_OK);
	assert_int_equal(net_msg_decode(&m, NET_MSG_GET_PEERS, &x, 1), SN_E_TOOBIG);
	assert_int_equal(n, 0);

	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_PEERS;
	m.u.peers.n = 2;
	memset(m.u.peers.addrs[0].node_key, 0xaa, 32);
	assert_int_equal(net_addr_parse(&m.u.peers.addrs[0].addr, "127.0.0.1:8646"), SN_OK);
	memset(m.u.peers.addrs[1].node_key, 0xbb, 32);
	assert_int_equal(net_addr_parse(&m.u.peers.addrs[1].addr, "[::1]:65535"), SN_OK);
	assert_int_equal(net_msg_encode(buf, sizeof(buf), &len, &m), SN_OK);
	assert_int_equal(len, 1 + (32 + 1 + 4 + 2) + (32 + 1 + 16 + 2));
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[33], 4);
	assert_int_equal(buf[38] | buf[39] << 8, 8646);
	assert_int_equal(net_msg_decode(&back, NET_MSG_PEERS, buf, len), SN_OK);
	assert_int_equal(back.u.peers.n, 2);
	assert_memory_equal(&back.u.peers.addrs[0], &m.u.peers.addrs[0], sizeof(m.u.peers.addrs[0]));
	assert_memory_equal(&back.u.peers.addrs[1], &m.u.peers.addrs[1], sizeof(m.u.peers.addrs[1]));
	for (size_t k = 0; k < len; k++)
		assert_int_equal(net_msg_decode(&back, NET_MSG_PEERS, buf, k), SN_E_TRUNCATED);
	buf[len] = 0;
	assert_int_equal(net_msg_decode(&back, NET_MSG_PEERS, buf, len + 1), SN_E_TRAILING);
	buf[33] = 5; /* no such family */
	assert_int_equal(net_msg_decode(&back, NET_MSG_PEERS, buf, len), SN_E_NONCANONICAL);
	buf[33] = 4;
	buf[38] = buf[39] = 0; /* port 0 */
	assert_int_equal(net_msg_decode(&back, NET_MSG_PEERS, buf, len), SN_E_NONCANONICAL);
	buf[0] = NET_PEERS_MAX + 1;
	assert_int_equal(net_msg_decode(&back, NET_MSG_PEERS, buf, len), SN_E_TOOBIG);
	m.u.peers.n = NET_PEERS_MAX + 1;
	assert_int_equal(net_msg_encode(buf, sizeof(buf), &len, &m), SN_E_TOOBIG);
	m.u.peers.n = 1;
	m.u.peers.addrs[0].addr.port = 0;
	assert_int_equal(net_msg_encode(buf, sizeof(buf), &len, &m), SN_E_INVAL);
	/* The largest PEERS fits its maximum. */
	m.u.peers.n = NET_PEERS_MAX;
	for (size_t i = 0; i < NET_PEERS_MAX; i++)
		assert_int_equal(net_addr_parse(&m.u.peers.addrs[i].addr, "[2001:db8::1]:1"), SN_OK);
	assert_int_equal(net_msg_encode(buf, sizeof(buf), &len, &m), SN_OK);
	assert_int_equal(len, NET_MSG_PEERS_MAX);
	assert_int_equal(net_msg_decode(&back, NET_MSG_PEERS, buf, len), SN_OK);
}

static void test_addr_parse_format(void **state)
{
	static const char *const good[] = { "127.0.0.1:8646", "10.1.2.3:1", "[::1]:65535",
		                            "[2001:db8::7]:26656" };
	static const char *const bad[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		                           "127.0.0.1:-1", "127.0.0.1:8x", "localhost:80", "::1:80",
		                           "[127.0.0.1]:80", "[::1]80", "[::1", ":80", "1.2.3.4: 80" };
	struct net_addr a;
	char out[80];

	(void)state;
	for (size_t i = 0; i < SN_ARRAY_LEN(good); i++) {
		assert_int_equal(net_addr_parse(&a, good[i]), SN_OK);
		assert_int_equal(net_addr_format(out, sizeof(out), &a), SN_OK);
		assert_string_equal(out, good[i]);
	}
	for (size_t i = 0; i < SN_ARRAY_LEN(bad); i++)
		if (net_addr_parse(&a, bad[i]) != SN_E_INVAL)
			fail_msg("'%s' parsed", bad[i]);
	assert_int_equal(net_addr_parse(&a, "1.2.3.4:80"), SN_OK);
	assert_int_equal(net_addr_format(out, 5, &a), SN_E_TOOBIG);
	a.port = 0;
	assert_int_equal(net_addr_format(out, sizeof(out), &a), SN_E_INVAL);
}

static void test_hello_known_answer(void **state)
{
	size_t len, n, body;
	uint8_t *seed = seed_file("fuzz_net_handshake", "seed-00-hello", &len);
	uint8_t sk[NET_NODE_SECKEY_LEN], pk[NET_NODE_KEY_LEN], s32[32], xpk[32], enc[NET__HS_HELLO_MAX];
	struct net__hs_hello h;

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	/* make_net_corpus.py: eph = X25519(0x01 x 32), node = Ed25519(seed 0x02 x 32),
	 * chain 7, version 1, port 26656, ciphers AES-256-GCM, "settled". */
	memset(s32, 2, sizeof(s32));
	crypto_sign_seed_keypair(pk, sk, s32);
	memset(s32, 1, sizeof(s32));
	crypto_scalarmult_base(xpk, s32);
	assert_int_equal(len, NET__HS_PREFIX_LEN + NET__HS_BODY_MIN + 7);
	assert_int_equal(net__hs_prefix_decode(&body, seed), SN_OK);
	assert_int_equal(body, NET__HS_BODY_MIN + 7);
	assert_int_equal(net__hs_hello_decode(&h, seed, len), SN_OK);
	assert_memory_equal(h.eph_key, xpk, 32);
	assert_memory_equal(h.hello.node_key, pk, 32);
	assert_int_equal(h.hello.chain_id, 7);
	assert_int_equal(h.hello.version, 1);
	assert_int_equal(h.hello.listen_port, 26656);
	assert_int_equal(h.ciphers, NET__CIPHER_AES256GCM);
	assert_int_equal(seed[NET__HS_CIPHERS_OFF], NET__CIPHER_AES256GCM);
	assert_string_equal(h.hello.user_agent, "settled");
	assert_int_equal(net__hs_hello_encode(enc, sizeof(enc), &n, &h), SN_OK);
	assert_int_equal(n, len);
	assert_memory_equal(enc, seed, len);
	assert_int_equal(net__hs_hello_encode(enc, len - 1, &n, &h), SN_E_TOOBIG);

	/* Every truncation, a trailing byte, each field's edges. */
	for (size_t k = 0; k < len; k++)
		assert_int_equal(net__hs_hello_decode(&h, seed, k), SN_E_TRUNCATED);
	memcpy(enc, seed, len);
	enc[len] = 0;
	assert_int_equal(net__hs_hello_decode(&h, enc, len + 1), SN_E_TRAILING);
	enc[0] = 'X';
	assert_int_equal(net__hs_hello_decode(&h, enc, len), SN_E_VERSION);
	assert_int_equal(net__hs_prefix_decode(&body, enc), SN_E_VERSION);
	memcpy(enc, seed, len);
	enc[NET__HS_PREFIX_LEN] = 3; /* hello version */
	assert_int_equal(net__hs_hello_decode(&h, enc, len), SN_E_VERSION);
	enc[NET__HS_PREFIX_LEN] = 1; /* the version before the ciphers byte */
	assert_int_equal(net__hs_hello_decode(&h, enc, len), SN_E_VERSION);
	free(seed);
	seed = seed_file("fuzz_net_handshake", "seed-15-hello-v1", &len);
	assert_int_equal(net__hs_hello_decode(&h, seed, len), SN_E_VERSION);
	free(seed);
	/* Reserved ciphers bits are kept as sent (so the bytes round-trip). */
	seed = seed_file("fuzz_net_handshake", "seed-17-hello-reserved-ciphers", &len);
	assert_int_equal(net__hs_hello_decode(&h, seed, len), SN_OK);
	assert_int_equal(h.ciphers, 0xfe);
	assert_int_equal(net__hs_hello_encode(enc, sizeof(enc), &n, &h), SN_OK);
	assert_memory_equal(enc, seed, len);
	free(seed);
	seed = seed_file("fuzz_net_handshake", "seed-00-hello", &len);
	memcpy(enc, seed, len);
	enc[len - 1] = 0x7f; /* DEL in the user agent */
	assert_int_equal(net__hs_hello_decode(&h, enc, len), SN_E_NONCANONICAL);
	memcpy(enc, seed, len);
	enc[4] = 0xff, enc[5] = 0x00; /* announced body above the maximum */
	assert_int_equal(net__hs_hello_decode(&h, enc, len), SN_E_TOOBIG);
	assert_int_equal(net__hs_prefix_decode(&body, enc), SN_E_TOOBIG);
	enc[4] = NET__HS_BODY_MIN - 1;
	assert_int_equal(net__hs_prefix_decode(&body, enc), SN_E_TRUNCATED);
	memcpy(enc, seed, len);
	enc[len - 8] = 8; /* ua_len one more than there is */
	assert_int_equal(net__hs_hello_decode(&h, enc, len), SN_E_TRUNCATED);
	enc[len - 8] = 65;
	assert_int_equal(net__hs_hello_decode(&h, enc, len), SN_E_TOOBIG);
	/* Encoding refuses what decoding would. */
	assert_int_equal(net__hs_hello_decode(&h, seed, len), SN_OK);
	strcpy(h.hello.user_agent, "bad\x01");
	assert_int_equal(net__hs_hello_encode(enc, sizeof(enc), &n, &h), SN_E_INVAL);
	free(seed);
}

static void test_auth_and_keys(void **state)
{
	uint8_t ska[64], pka[32], skb[64], pkb[32], seed[32], sig[64], sig2[64], auth[64];
	uint8_t eph_a_sk[32], eph_b_sk[32], ha[NET__HS_HELLO_MAX], hb[NET__HS_HELLO_MAX];
	uint8_t th_a[32], th_b[32], frame[NET__FRAME_LEN(8)], body[64];
	struct net__hs_hello a = { 0 }, b = { 0 };
	struct net__cipher atx, arx, btx, brx;
	size_t la, lb, plen;
	uint16_t type;
	const uint8_t *p;

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	memset(seed, 1, 32);
	crypto_sign_seed_keypair(pka, ska, seed);
	memset(seed, 2, 32);
	crypto_sign_seed_keypair(pkb, skb, seed);
	crypto_kx_keypair(a.eph_key, eph_a_sk);
	crypto_kx_keypair(b.eph_key, eph_b_sk);
	memcpy(a.hello.node_key, pka, 32);
	memcpy(b.hello.node_key, pkb, 32);
	a.hello.chain_id = b.hello.chain_id = 7;
	a.hello.version = b.hello.version = 1;
	assert_int_equal(net__hs_hello_encode(ha, sizeof(ha), &la, &a), SN_OK);
	assert_int_equal(net__hs_hello_encode(hb, sizeof(hb), &lb, &b), SN_OK);
	/* A dials B. */
	assert_int_equal(net__hs_keys(&atx, &arx, th_a, true, eph_a_sk, ha, la, hb, lb), SN_OK);
	assert_int_equal(net__hs_keys(&btx, &brx, th_b, false, eph_b_sk, ha, la, hb, lb), SN_OK);
	assert_memory_equal(th_a, th_b, 32);
	assert_memory_equal(atx.key, brx.key, 32);
	assert_memory_equal(arx.key, btx.key, 32);
	assert_memory_not_equal(atx.key, arx.key, 32);
	assert_int_equal(atx.ctr, 0);

	/* Signatures bind key, role and transcript. */
	net__hs_sign(sig, th_a, true, ska);
	assert_int_equal(net__hs_verify(sig, th_b, true, pka), SN_OK);
	assert_int_equal(net__hs_verify(sig, th_b, false, pka), SN_E_BADSIG); /* reflected */
	assert_int_equal(net__hs_verify(sig, th_b, true, pkb), SN_E_BADSIG);  /* other key */
	th_b[0] ^= 1;
	assert_int_equal(net__hs_verify(sig, th_b, true, pka), SN_E_BADSIG); /* other session */
	net__hs_auth_encode(auth, sig);
	assert_int_equal(net__hs_auth_decode(sig2, auth, 64), SN_OK);
	assert_memory_equal(sig, sig2, 64);
	assert_int_equal(net__hs_auth_decode(sig2, auth, 63), SN_E_TRUNCATED);
	assert_int_equal(net__hs_auth_decode(sig2, ha, 65), SN_E_TRAILING);

	/* A changed byte anywhere in either hello gives other keys. */
	ha[la - 1] ^= 1;
	assert_int_equal(net__hs_keys(&btx, &brx, th_b, false, eph_b_sk, ha, la, hb, lb), SN_OK);
	assert_memory_not_equal(atx.key, brx.key, 32);
	ha[la - 1] ^= 1;
	assert_int_equal(net__hs_keys(&btx, &brx, th_b, false, eph_b_sk, ha, la, hb, lb), SN_OK);

	/* A low-order ephemeral key is refused. */
	{
		struct net__cipher x, y;
		uint8_t th[32];

		memset(hb + NET__HS_PREFIX_LEN + 1, 0, 32);
		assert_int_equal(net__hs_keys(&x, &y, th, true, eph_a_sk, ha, la, hb, lb), SN_E_BADKEY);
		assert_memory_equal(x.key, (uint8_t[32]){ 0 }, 32);
	}

	/* A frame from B opens at A, once. */
	net__frame_seal(frame, &btx, NET_MSG_PING, (const uint8_t *)"12345678", 8);
	assert_int_equal(btx.ctr, 1);
	memcpy(body, frame + 5, sizeof(frame) - 5);
	assert_int_equal(net__frame_open(&arx, frame, body, sizeof(frame) - 5, &type, &p, &plen), SN_OK);
	assert_int_equal(type, NET_MSG_PING);
	assert_int_equal(plen, 8);
	assert_memory_equal(p, "12345678", 8);
	memcpy(body, frame + 5, sizeof(frame) - 5);
	assert_int_equal(net__frame_open(&arx, frame, body, sizeof(frame) - 5, &type, &p, &plen),
	                 SN_E_BADSIG);
	assert_int_equal(arx.ctr, 1);
	sodium_memzero(ska, sizeof(ska));
	sodium_memzero(skb, sizeof(skb));
}

static void test_frame_known_answer(void **state)
{
	size_t len, plen;
	uint8_t *seed = seed_file("fuzz_net_frame", "seed-00-ping", &len);
	uint8_t again[64];
	struct net__cipher c = { .ctr = 0 }, c2;
	uint32_t n;
	uint16_t type;
	const uint8_t *p;
	struct net_msg m;

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	memset(c.key, 0x42, 32);
	c2 = c;
	assert_int_equal(len, NET__FRAME_LEN(8));
	assert_int_equal(net__frame_header_decode(&n, seed, NET_FRAME_MAX_DEFAULT), SN_OK);
	assert_int_equal(n, NET__FRAME_BODY_MIN + 8);
	net__frame_seal(again, &c2, NET_MSG_PING, (const uint8_t *)"\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_memory_equal(again, seed, len); /* same bytes as the independent implementation */
	assert_int_equal(net__frame_open(&c, seed, seed + 5, n, &type, &p, &plen), SN_OK);
	assert_int_equal(type, NET_MSG_PING);
	assert_int_equal(net_msg_decode(&m, type, p, plen), SN_OK);
	assert_int_equal(m.u.nonce, 0x1122334455667788ull);

	/* Header edges. */
	net__frame_header_encode(again, NET__FRAME_BODY_MIN);
	assert_int_equal(net__frame_header_decode(&n, again, 1024), SN_OK);
	net__frame_header_encode(again, NET__FRAME_BODY_MIN - 1);
	assert_int_equal(net__frame_header_decode(&n, again, 1024), SN_E_TRUNCATED);
	net__frame_header_encode(again, 1024);
	assert_int_equal(net__frame_header_decode(&n, again, 1024), SN_OK);
	net__frame_header_encode(again, 1025);
	assert_int_equal(net__frame_header_decode(&n, again, 1024), SN_E_TOOBIG);
	assert_int_equal(n, 0);
	again[0] = 2;
	assert_int_equal(net__frame_header_decode(&n, again, 1 << 20), SN_E_VERSION);
	free(seed);
}

/* ------------------------------------------------------------ suites */

/* Two sides' handshake material: A dials B, each hello offering the ciphers given. */
struct hs_pair {
	uint8_t ska[64], pka[32], skb[64], pkb[32];
	uint8_t eph_a[32], eph_b[32];
	uint8_t ha[NET__HS_HELLO_MAX], hb[NET__HS_HELLO_MAX];
	size_t la, lb;
};

static void hs_pair_make(struct hs_pair *p, uint8_t ciphers_a, uint8_t ciphers_b)
{
	struct net__hs_hello a = { 0 }, b = { 0 };
	uint8_t seed[32];

	memset(seed, 1, 32);
	crypto_sign_seed_keypair(p->pka, p->ska, seed);
	memset(seed, 2, 32);
	crypto_sign_seed_keypair(p->pkb, p->skb, seed);
	crypto_kx_keypair(a.eph_key, p->eph_a);
	crypto_kx_keypair(b.eph_key, p->eph_b);
	memcpy(a.hello.node_key, p->pka, 32);
	memcpy(b.hello.node_key, p->pkb, 32);
	a.hello.chain_id = b.hello.chain_id = 7;
	a.hello.version = b.hello.version = 1;
	a.ciphers = ciphers_a;
	b.ciphers = ciphers_b;
	assert_int_equal(net__hs_hello_encode(p->ha, sizeof(p->ha), &p->la, &a), SN_OK);
	assert_int_equal(net__hs_hello_encode(p->hb, sizeof(p->hb), &p->lb, &b), SN_OK);
	assert_int_equal(p->ha[NET__HS_CIPHERS_OFF], ciphers_a);
}

static void test_suite_choice(void **state)
{
	bool aes = crypto_aead_aes256gcm_is_available();
	enum net__suite both = aes ? NET__SUITE_AES256GCM : NET__SUITE_CHACHA20POLY1305;
	struct net__cipher c;
	uint8_t key[32];
	struct hs_pair p;
	const uint8_t offers[][2] = { { 0, 0 }, { NET__CIPHER_AES256GCM, 0 },
		                      { 0, NET__CIPHER_AES256GCM },
		                      { NET__CIPHER_AES256GCM, NET__CIPHER_AES256GCM } };

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	printf("AES-256-GCM %savailable on this CPU\n", aes ? "" : "NOT ");
	assert_int_equal(net__ciphers_supported(), aes ? NET__CIPHER_AES256GCM : 0);
	assert_int_equal(net__suite_choose(0, 0), NET__SUITE_CHACHA20POLY1305);
	assert_int_equal(net__suite_choose(NET__CIPHER_AES256GCM, 0), NET__SUITE_CHACHA20POLY1305);
	assert_int_equal(net__suite_choose(0, NET__CIPHER_AES256GCM), NET__SUITE_CHACHA20POLY1305);
	assert_int_equal(net__suite_choose(NET__CIPHER_AES256GCM, NET__CIPHER_AES256GCM), both);
	assert_int_equal(net__suite_choose(0xfe, 0xff), NET__SUITE_CHACHA20POLY1305); /* reserved */
	assert_int_equal(net__suite_choose(0xff, 0x01), both);

	/* The keys carry the suite both hellos choose, the same on both sides. */
	for (size_t i = 0; i < SN_ARRAY_LEN(offers); i++) {
		struct net__cipher atx, arx, btx, brx;
		uint8_t th_a[32], th_b[32];
		enum net__suite want = net__suite_choose(offers[i][0], offers[i][1]);

		hs_pair_make(&p, offers[i][0], offers[i][1]);
		assert_int_equal(net__hs_keys(&atx, &arx, th_a, true, p.eph_a, p.ha, p.la, p.hb, p.lb),
		                 SN_OK);
		assert_int_equal(net__hs_keys(&btx, &brx, th_b, false, p.eph_b, p.ha, p.la, p.hb, p.lb),
		                 SN_OK);
		assert_int_equal(atx.suite, want);
		assert_int_equal(arx.suite, want);
		assert_int_equal(btx.suite, want);
		assert_int_equal(brx.suite, want);
		assert_memory_equal(atx.key, brx.key, 32);
		assert_memory_equal(arx.key, btx.key, 32);
		sodium_memzero(&atx, sizeof(atx));
		sodium_memzero(&arx, sizeof(arx));
		sodium_memzero(&btx, sizeof(btx));
		sodium_memzero(&brx, sizeof(brx));
	}

	/* Misuse. */
	memset(key, 7, sizeof(key));
	memset(&c, 0xaa, sizeof(c));
	assert_int_equal(net__cipher_init(&c, (enum net__suite)2, key), SN_E_INVAL);
	assert_memory_equal(c.key, (uint8_t[32]){ 0 }, 32);
	assert_int_equal(c.ctr, 0);
	if (!aes)
		assert_int_equal(net__cipher_init(&c, NET__SUITE_AES256GCM, key), SN_E_INVAL);
	assert_int_equal(net__cipher_init(&c, NET__SUITE_CHACHA20POLY1305, key), SN_OK);
	assert_int_equal(c.suite, NET__SUITE_CHACHA20POLY1305);
	assert_memory_equal(c.key, key, 32);
}

/* A hello altered in flight — here the initiator's AES-256-GCM offer cleared (or set) on
 * its way to the responder — gives the two sides different transcripts: each side's AUTH
 * neither opens nor verifies at the other, whatever suite each then picked. */
static void test_downgrade_breaks_handshake(void **state)
{
	struct hs_pair p;
	struct net__cipher atx, arx, btx, brx;
	uint8_t th_a[32], th_b[32], sig[64], auth[64], frame[NET__FRAME_LEN(NET__AUTH_LEN)];
	uint8_t seen_by_b[NET__HS_HELLO_MAX], body[sizeof(frame)];
	const uint8_t *pl;
	size_t plen;
	uint16_t type;

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	for (int flip = 0; flip < 2; flip++) {
		/* flip 0: both offer AES and the attacker strips A's offer (a downgrade: B
		 * would pick ChaCha20-Poly1305, A AES-256-GCM); flip 1: neither offers it and the
		 * attacker adds it to A's (the suite stays; only the transcript changes). */
		uint8_t offer = flip ? 0 : NET__CIPHER_AES256GCM;

		hs_pair_make(&p, offer, offer);
		memcpy(seen_by_b, p.ha, p.la);
		seen_by_b[NET__HS_CIPHERS_OFF] ^= NET__CIPHER_AES256GCM;
		assert_int_equal(net__hs_keys(&atx, &arx, th_a, true, p.eph_a, p.ha, p.la, p.hb, p.lb),
		                 SN_OK);
		assert_int_equal(net__hs_keys(&btx, &brx, th_b, false, p.eph_b, seen_by_b, p.la, p.hb,
		                              p.lb),
		                 SN_OK);
		assert_memory_not_equal(th_a, th_b, 32);
		if (!flip && crypto_aead_aes256gcm_is_available())
			assert_int_not_equal(atx.suite, brx.suite); /* the attacker's aim */
		/* A's AUTH at B. */
		net__hs_sign(sig, th_a, true, p.ska);
		net__hs_auth_encode(auth, sig);
		net__frame_seal(frame, &atx, NET__AUTH_TYPE, auth, sizeof(auth));
		memcpy(body, frame + 5, sizeof(frame) - 5);
		assert_int_equal(net__frame_open(&brx, frame, body, sizeof(frame) - 5, &type, &pl, &plen),
		                 SN_E_BADSIG);
		assert_int_equal(net__hs_verify(sig, th_b, true, p.pka), SN_E_BADSIG);
		/* B's AUTH at A. */
		net__hs_sign(sig, th_b, false, p.skb);
		net__hs_auth_encode(auth, sig);
		net__frame_seal(frame, &btx, NET__AUTH_TYPE, auth, sizeof(auth));
		memcpy(body, frame + 5, sizeof(frame) - 5);
		assert_int_equal(net__frame_open(&arx, frame, body, sizeof(frame) - 5, &type, &pl, &plen),
		                 SN_E_BADSIG);
		assert_int_equal(net__hs_verify(sig, th_a, false, p.pkb), SN_E_BADSIG);
	}
	sodium_memzero(&p, sizeof(p));
}

/* Frames under one suite: round trip, then every alteration, a replay and a reordering
 * are refused without advancing the counter. */
static void frames_under(enum net__suite suite)
{
	uint8_t key[32], payload[3000], f0[NET__FRAME_LEN(3000)], f1[NET__FRAME_LEN(8)];
	uint8_t body[sizeof(f0)];
	struct net__cipher tx, rx, other;
	const uint8_t *p;
	size_t plen;
	uint16_t type;
	/* A byte of: the header's length (the AD), the type, the payload, the tag. */
	const size_t at[] = { 1, NET__FRAME_HEADER_LEN, NET__FRAME_HEADER_LEN + 2 + 1000,
		              sizeof(f0) - 1 };

	memset(key, 0x5a, sizeof(key));
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(net__cipher_init(&tx, suite, key), SN_OK);
	assert_int_equal(net__cipher_init(&rx, suite, key), SN_OK);
	net__frame_seal(f0, &tx, NET_MSG_TX, payload, sizeof(payload));
	net__frame_seal(f1, &tx, NET_MSG_PING, payload, 8);
	assert_int_equal(tx.ctr, 2);

	/* Altered anywhere: refused, counter unchanged. */
	for (size_t k = 0; k < SN_ARRAY_LEN(at); k++) {
		uint8_t hdr[NET__FRAME_HEADER_LEN];

		memcpy(hdr, f0, sizeof(hdr));
		memcpy(body, f0 + 5, sizeof(f0) - 5);
		if (at[k] < NET__FRAME_HEADER_LEN)
			hdr[at[k]] ^= 0x01;
		else
			body[at[k] - NET__FRAME_HEADER_LEN] ^= 0x01;
		assert_int_equal(net__frame_open(&rx, hdr, body, sizeof(f0) - 5, &type, &p, &plen),
		                 SN_E_BADSIG);
		assert_int_equal(rx.ctr, 0);
	}
	/* Reordered: frame 1 first is refused; then both open in order. */
	memcpy(body, f1 + 5, sizeof(f1) - 5);
	assert_int_equal(net__frame_open(&rx, f1, body, sizeof(f1) - 5, &type, &p, &plen), SN_E_BADSIG);
	memcpy(body, f0 + 5, sizeof(f0) - 5);
	assert_int_equal(net__frame_open(&rx, f0, body, sizeof(f0) - 5, &type, &p, &plen), SN_OK);
	assert_int_equal(type, NET_MSG_TX);
	assert_int_equal(plen, sizeof(payload));
	assert_memory_equal(p, payload, sizeof(payload));
	/* Replayed: frame 0 again. */
	memcpy(body, f0 + 5, sizeof(f0) - 5);
	assert_int_equal(net__frame_open(&rx, f0, body, sizeof(f0) - 5, &type, &p, &plen), SN_E_BADSIG);
	assert_int_equal(rx.ctr, 1);
	memcpy(body, f1 + 5, sizeof(f1) - 5);
	assert_int_equal(net__frame_open(&rx, f1, body, sizeof(f1) - 5, &type, &p, &plen), SN_OK);
	assert_int_equal(type, NET_MSG_PING);
	assert_memory_equal(p, payload, 8);
	assert_int_equal(rx.ctr, 2);

	/* The same key under the other suite opens nothing (a forced mismatch). */
	if (crypto_aead_aes256gcm_is_available()) {
		assert_int_equal(net__cipher_init(&other,
		                                  suite == NET__SUITE_AES256GCM
		                                          ? NET__SUITE_CHACHA20POLY1305
		                                          : NET__SUITE_AES256GCM,
		                                  key),
		                 SN_OK);
		memcpy(body, f0 + 5, sizeof(f0) - 5);
		assert_int_equal(net__frame_open(&other, f0, body, sizeof(f0) - 5, &type, &p, &plen),
		                 SN_E_BADSIG);
		sodium_memzero(&other, sizeof(other));
	}
	sodium_memzero(&tx, sizeof(tx));
	sodium_memzero(&rx, sizeof(rx));
}

static void test_frames_chacha20poly1305(void **state)
{
	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	frames_under(NET__SUITE_CHACHA20POLY1305);
}

static void test_frames_aes256gcm(void **state)
{
	size_t len, plen;
	uint8_t *seed, again[64];
	struct net__cipher c, c2;
	uint8_t key[32];
	uint16_t type;
	const uint8_t *p;
	struct net_msg m;

	(void)state;
	assert_int_equal(sn_crypto_init(), SN_OK);
	if (!crypto_aead_aes256gcm_is_available())
		skip();
	frames_under(NET__SUITE_AES256GCM);

	/* Known answer: make_net_corpus.py seals with python3-cryptography's AESGCM. */
	seed = seed_file("fuzz_net_frame", "seed-15-aes-ping", &len);
	memset(key, 0x42, sizeof(key));
	assert_int_equal(net__cipher_init(&c, NET__SUITE_AES256GCM, key), SN_OK);
	c2 = c;
	assert_int_equal(len, NET__FRAME_LEN(8));
	net__frame_seal(again, &c2, NET_MSG_PING, (const uint8_t *)"\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_memory_equal(again, seed, len);
	assert_int_equal(net__frame_open(&c, seed, seed + 5, len - 5, &type, &p, &plen), SN_OK);
	assert_int_equal(type, NET_MSG_PING);
	assert_int_equal(net_msg_decode(&m, type, p, plen), SN_OK);
	assert_int_equal(m.u.nonce, 0x1122334455667788ull);
	free(seed);
	/* The ChaCha20-Poly1305 seed under the same key does not open as AES-256-GCM. */
	seed = seed_file("fuzz_net_frame", "seed-00-ping", &len);
	assert_int_equal(net__cipher_init(&c, NET__SUITE_AES256GCM, key), SN_OK);
	assert_int_equal(net__frame_open(&c, seed, seed + 5, len - 5, &type, &p, &plen), SN_E_BADSIG);
	free(seed);
	sodium_memzero(&c, sizeof(c));
	sodium_memzero(&c2, sizeof(c2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_peers_messages),
		cmocka_unit_test(test_addr_parse_format),
		cmocka_unit_test(test_hello_known_answer),
		cmocka_unit_test(test_auth_and_keys),
		cmocka_unit_test(test_frame_known_answer),
		cmocka_unit_test(test_suite_choice),
		cmocka_unit_test(test_downgrade_breaks_handshake),
		cmocka_unit_test(test_frames_chacha20poly1305),
		cmocka_unit_test(test_frames_aes256gcm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
