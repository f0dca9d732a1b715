/* net/net_int.h — the net module's private codecs and handshake crypto (wire.c), shared
 * with transport.c, the module's tests and its fuzz targets. Layouts: docs/p2p.md. */
#ifndef SN_NET_INT_H
#define SN_NET_INT_H

#include "net/net.h"

#include <sodium.h>

/* ------------------------------------------------------------- handshake */

#define NET__MAGIC "SETL"
#define NET__MAGIC_LEN 4
#define NET__HS_VERSION 2
#define NET__EPH_KEY_LEN 32 /* X25519 */
#define NET__SIG_LEN 64     /* Ed25519 */
/* The hello on the wire: magic[4] | u16 le body length | body. */
#define NET__HS_PREFIX_LEN (NET__MAGIC_LEN + 2)
#define NET__HS_BODY_MIN (1 + NET__EPH_KEY_LEN + NET_NODE_KEY_LEN + 4 + 2 + 2 + 1 + 1)
/* Where the ciphers byte sits in a hello as sent (prefix included). */
#define NET__HS_CIPHERS_OFF (NET__HS_PREFIX_LEN + 1 + NET__EPH_KEY_LEN + NET_NODE_KEY_LEN + 4 + 2 + 2)
#define NET__HS_BODY_MAX (NET__HS_BODY_MIN + NET_USER_AGENT_MAX)
#define NET__HS_HELLO_MAX (NET__HS_PREFIX_LEN + NET__HS_BODY_MAX)
#define NET__AUTH_TYPE 0 /* frame type of the handshake's AUTH message */
#define NET__AUTH_LEN NET__SIG_LEN

/* Frame cipher suites. ChaCha20-Poly1305 is the one every peer has; AES-256-GCM is used
 * when both hellos offer it (offered only with AES-NI and PCLMUL: libsodium's
 * crypto_aead_aes256gcm_is_available). */
enum net__suite {
	NET__SUITE_CHACHA20POLY1305 = 0, /* ChaCha20-Poly1305-IETF */
	NET__SUITE_AES256GCM = 1,        /* AES-256-GCM */
};
/* The hello's ciphers byte: optional suites the sender offers besides ChaCha20-Poly1305.
 * Other bits are reserved: sent as 0, ignored when received. */
#define NET__CIPHER_AES256GCM 0x01

/* The first message each side sends, in the clear. */
struct net__hs_hello {
	uint8_t eph_key[NET__EPH_KEY_LEN];
	uint8_t ciphers; /* NET__CIPHER_* offered; 0: ChaCha20-Poly1305 only */
	struct net_hello hello;
};

/* Decodes a whole hello (prefix included). Errors: SN_E_VERSION (bad magic or hello
 * version), SN_E_TOOBIG (body length above NET__HS_BODY_MAX, user agent too long),
 * SN_E_TRUNCATED, SN_E_TRAILING, SN_E_NONCANONICAL (user agent not printable ASCII). */
SN_MUST_CHECK int net__hs_hello_decode(struct net__hs_hello *h, const uint8_t *in, size_t len);
/* Errors: SN_E_TOOBIG (cap), SN_E_INVAL (user agent too long or not printable). */
SN_MUST_CHECK int net__hs_hello_encode(uint8_t *out, size_t cap, size_t *outlen,
                                       const struct net__hs_hello *h);
/* The body length announced by a hello's prefix (NET__HS_PREFIX_LEN bytes), checked before
 * reading the body. Errors: SN_E_VERSION (bad magic), SN_E_TOOBIG, SN_E_TRUNCATED. */
SN_MUST_CHECK int net__hs_prefix_decode(size_t *body_len, const uint8_t in[NET__HS_PREFIX_LEN]);
/* AUTH payload: exactly sig[64]. Errors: SN_E_TRUNCATED, SN_E_TRAILING. */
SN_MUST_CHECK int net__hs_auth_decode(uint8_t sig[NET__SIG_LEN], const uint8_t *in, size_t len);
void net__hs_auth_encode(uint8_t out[NET__AUTH_LEN], const uint8_t sig[NET__SIG_LEN]);

/* One direction of the channel: its suite, key (with AES-256-GCM's expanded key, computed
 * once) and the next frame's counter (the nonce). A zeroed struct with a key written in
 * is a ChaCha20-Poly1305 cipher at counter 0. Secret: wipe with sodium_memzero. */
struct net__cipher {
	crypto_aead_aes256gcm_state aes; /* NET__SUITE_AES256GCM only */
	uint8_t key[32];
	uint64_t ctr;
	uint8_t suite; /* enum net__suite */
};

/* c = suite with key, counter 0. AES-256-GCM needs crypto_aead_aes256gcm_is_available()
 * (SN_E_INVAL otherwise, and for an unknown suite; c is then zeroed). */
SN_MUST_CHECK int net__cipher_init(struct net__cipher *c, enum net__suite suite,
                                   const uint8_t key[32]);
/* The ciphers byte our hellos carry: what this CPU can run. */
uint8_t net__ciphers_supported(void);
/* The suite two hellos' ciphers bytes agree on: AES-256-GCM if both offer it (and this
 * CPU runs it), else ChaCha20-Poly1305. Symmetric. */
enum net__suite net__suite_choose(uint8_t ciphers_a, uint8_t ciphers_b);

/* Session keys and transcript hash from both hellos (as sent, byte for byte, each at
 * least NET__HS_PREFIX_LEN + NET__HS_BODY_MIN bytes). The suite of tx and rx is
 * net__suite_choose of the two hellos' ciphers bytes: it is part of the transcript, so a
 * hello altered in flight (a downgrade) gives the two sides different keys and the AUTH
 * fails. initiator: whether we dialled. eph_sk is our ephemeral secret for the eph_key in
 * our hello. Errors: SN_E_BADKEY (the peer's ephemeral key gives an all-zero secret).
 * Intermediate secrets are wiped; the caller wipes tx, rx and eph_sk. */
SN_MUST_CHECK int net__hs_keys(struct net__cipher *tx, struct net__cipher *rx,
                               uint8_t th[SN_HASH_LEN], bool initiator,
                               const uint8_t eph_sk[NET__EPH_KEY_LEN],
                               const uint8_t *init_hello, size_t init_len,
                               const uint8_t *resp_hello, size_t resp_len);
/* The signature over the transcript a side sends in its AUTH (role: it dialled or not). */
void net__hs_sign(uint8_t sig[NET__SIG_LEN], const uint8_t th[SN_HASH_LEN], bool initiator,
                  const uint8_t seckey[NET_NODE_SECKEY_LEN]);
/* SN_OK if sig is the AUTH signature of the side with node_key and role over th, else
 * SN_E_BADSIG. */
SN_MUST_CHECK int net__hs_verify(const uint8_t sig[NET__SIG_LEN], const uint8_t th[SN_HASH_LEN],
                                 bool initiator, const uint8_t node_key[NET_NODE_KEY_LEN]);

/* ---------------------------------------------------------------- frames */

#define NET__FRAME_VERSION 1
#define NET__FRAME_HEADER_LEN 5 /* u8 version | u32 le body length */
#define NET__TAG_LEN 16
#define NET__TYPE_LEN 2
#define NET__FRAME_BODY_MIN (NET__TYPE_LEN + NET__TAG_LEN)
/* Wire bytes of a frame carrying a payload of len bytes. */
#define NET__FRAME_LEN(len) (NET__FRAME_HEADER_LEN + NET__FRAME_BODY_MIN + (len))

/* Decodes a frame header; *body_len is checked against frame_max before anyone allocates.
 * Errors: SN_E_VERSION, SN_E_TOOBIG, SN_E_TRUNCATED (body shorter than type and tag). */
SN_MUST_CHECK int net__frame_header_decode(uint32_t *body_len,
                                           const uint8_t in[NET__FRAME_HEADER_LEN],
                                           uint32_t frame_max);
void net__frame_header_encode(uint8_t out[NET__FRAME_HEADER_LEN], uint32_t body_len);
/* Seals (type, payload) into out[0..NET__FRAME_LEN(len)) with c's suite, key and counter,
 * then advances the counter. The caller has checked the frame against frame_max. */
void net__frame_seal(uint8_t *out, struct net__cipher *c, uint16_t type,
                     const uint8_t *payload, size_t len);
/* Opens a frame body in place: body[0..body_len) as read after header (already decoded).
 * On SN_OK the counter advanced and *payload points into body. Errors: SN_E_BADSIG
 * (authentication failed: altered, replayed, reordered or misdirected frame). */
SN_MUST_CHECK int net__frame_open(struct net__cipher *c, const uint8_t hdr[NET__FRAME_HEADER_LEN],
                                  uint8_t *body, size_t body_len, uint16_t *type,
                                  const uint8_t **payload, size_t *plen);

/* ------------------------------------------------------- transport (tests) */

/* The ciphers byte t's hellos offer from now on, masked with net__ciphers_supported()
 * (tests force a ChaCha20-Poly1305-only side with 0). */
void net__transport_set_ciphers(struct net_transport *t, uint8_t ciphers);
/* The suite c's channel uses; meaningful once c is authenticated. */
enum net__suite net__conn_suite(const struct net_conn *c);

/* ----------------------------------------------------------- peer manager */

/* The delay before dial attempt number attempts+1: min(max, min_ms * 2^attempts), then
 * "equal jitter": uniform in [d/2, d] from rnd. Pure. */
uint64_t net__backoff_ms(unsigned attempts, uint64_t min_ms, uint64_t max_ms, uint64_t rnd);

/* A bounded set of 32-byte digests: two generations of max/2 entries each; when the current
 * one is full the older is forgotten, so the newest max/2 digests at least are remembered
 * and memory never grows. Keyed hashing (SipHash) so peers cannot aim at one bucket. */
struct net__seen;
SN_MUST_CHECK int net__seen_new(struct net__seen **out, size_t max);
void net__seen_free(struct net__seen *s);
/* true if id was not in the set (it is now). */
bool net__seen_add(struct net__seen *s, const uint8_t id[SN_HASH_LEN]);
bool net__seen_has(const struct net__seen *s, const uint8_t id[SN_HASH_LEN]);
size_t net__seen_count(const struct net__seen *s);

/* Ban list: u8 version (1) | u16 le n (<= NET_BANS_MAX) |
 *           n x (u8 id_len (1..NET_ID_MAX-1) | id (printable ASCII) | u64 le until_ms). */
#define NET__BANS_VERSION 1
SN_MUST_CHECK int net__bans_encode(uint8_t **out, size_t *len, const struct net_ban *b, size_t n);
SN_MUST_CHECK int net__bans_decode(struct net_ban *b, size_t cap, size_t *n, const uint8_t *in,
                                   size_t len);

#endif
