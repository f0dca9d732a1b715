/* common/crypto.c — tagged BLAKE2b hashing and BIP340 Schnorr on libsecp256k1. */
#include "common/crypto_int.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <time.h>

_Static_assert(sizeof(crypto_generichash_blake2b_state) <= sizeof(((struct sn_hasher *)0)->state),
               "sn_hasher too small");

/* One context for the process: created once, then only read (thread-safe to share). */
static secp256k1_context *secp_ctx;
static int crypto_init_err = SN_E_IO;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

/* Parsed x-only keys, per thread (sn_schnorr_verify_cached). Parsing a key (lift_x, a field
 * square root) costs ~7 µs of the ~65–70 µs a BIP340 check costs on these machines, and the
 * same signers are checked again and again (an active account sends many transactions), so
 * each thread that checks transactions keeps the keys it parsed in a direct-mapped table:
 * nothing shared, nothing locked. A slot is chosen by SipHash under a process-random key, so
 * no one can pick keys that all land in one slot and keep evicting each other. */
struct xonly_slot {
	bool used; /* else empty: a calloc'd slot must not "hold" x = 0 */
	uint8_t x[SN_PUBKEY_LEN];
	secp256k1_xonly_pubkey xpk; /* what secp256k1_xonly_pubkey_parse made of x */
};
struct xonly_set {
	struct xonly_slot way[SN__XONLY_CACHE_WAYS];
	uint8_t next; /* the way a miss replaces next (round robin) */
};
struct xonly_cache {
	uint64_t hits, misses;
	struct xonly_set set[SN__XONLY_CACHE_SETS];
};
_Static_assert((SN__XONLY_CACHE_SETS & (SN__XONLY_CACHE_SETS - 1)) == 0 && SN__XONLY_CACHE_SETS <= 1 << 24,
               "a power of two, indexed by 3 bytes of a hash");

static unsigned char xonly_cache_hashkey[crypto_shorthash_KEYBYTES];
static pthread_key_t xonly_cache_key; /* each thread's struct xonly_cache, freed at its exit */
static bool xonly_cache_ready;         /* the key exists (else every check runs uncached) */

static void crypto_init_once(void)
{
	unsigned char seed[32];

	if (sodium_init() < 0)
		return;
	secp_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!secp_ctx) {
		crypto_init_err = SN_E_NOMEM;
		return;
	}
	/* Blinding against side channels while signing. */
	randombytes_buf(seed, sizeof(seed));
	if (!secp256k1_context_randomize(secp_ctx, seed)) {
		secp256k1_context_destroy(secp_ctx);
		secp_ctx = NULL;
		sodium_memzero(seed, sizeof(seed));
		return;
	}
	sodium_memzero(seed, sizeof(seed));
	crypto_shorthash_keygen(xonly_cache_hashkey);
	xonly_cache_ready = pthread_key_create(&xonly_cache_key, sn_free) == 0;
	crypto_init_err = SN_OK;
}

int sn_crypto_init(void)
{
	pthread_once(&crypto_once, crypto_init_once);
	return crypto_init_err;
}

static void tag_personal(unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES],
                         const char *tag)
{
	size_t n = strlen(tag);

	/* Tags are compile-time constants of at most 16 bytes. */
	assert(n <= SN_TAG_MAX);
	if (n > SN_TAG_MAX)
		n = SN_TAG_MAX;
	memset(personal, 0, crypto_generichash_blake2b_PERSONALBYTES);
	memcpy(personal, tag, n);
}

void sn_hasher_init(struct sn_hasher *h, const char *tag)
{
	unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES];

	tag_personal(personal, tag);
	crypto_generichash_blake2b_init_salt_personal((crypto_generichash_blake2b_state *)h->state,
	                                              NULL, 0, SN_HASH_LEN, NULL, personal);
}

void sn_hasher_update(struct sn_hasher *h, const void *data, size_t len)
{
	crypto_generichash_blake2b_update((crypto_generichash_blake2b_state *)h->state, data, len);
}

void sn_hasher_final(struct sn_hasher *h, uint8_t out[SN_HASH_LEN])
{
	crypto_generichash_blake2b_final((crypto_generichash_blake2b_state *)h->state, out,
	                                 SN_HASH_LEN);
}

void sn_hash_tagged(uint8_t out[SN_HASH_LEN], const char *tag, const void *data, size_t len)
{
	unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES];

	tag_personal(personal, tag);
	crypto_generichash_blake2b_salt_personal(out, SN_HASH_LEN, data, len, NULL, 0, NULL,
	                                         personal);
}

void sn_random_bytes(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

bool sn_ct_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

void sn_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

int sn_schnorr_pubkey(uint8_t pubkey[SN_PUBKEY_LEN], const uint8_t seckey[SN_SECKEY_LEN])
{
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xpk;
	int ok;

	memset(pubkey, 0, SN_PUBKEY_LEN);
	if (sn_crypto_init())
		return SN_E_IO;
	ok = secp256k1_keypair_create(secp_ctx, &kp, seckey) &&
	     secp256k1_keypair_xonly_pub(secp_ctx, &xpk, NULL, &kp) &&
	     secp256k1_xonly_pubkey_serialize(secp_ctx, pubkey, &xpk);
	sodium_memzero(&kp, sizeof(kp));
	return ok ? SN_OK : SN_E_BADKEY;
}

int sn_schnorr_keygen(uint8_t seckey[SN_SECKEY_LEN], uint8_t pubkey[SN_PUBKEY_LEN])
{
	/* A random 32-byte string is a valid key except with probability ~2^-128. */
	for (int tries = 0; tries < 64; tries++) {
		randombytes_buf(seckey, SN_SECKEY_LEN);
		if (sn_schnorr_pubkey(pubkey, seckey) == SN_OK)
			return SN_OK;
	}
	sodium_memzero(seckey, SN_SECKEY_LEN);
	return SN_E_IO;
}

int sn_schnorr_sign(uint8_t sig[SN_SIG_LEN], const uint8_t seckey[SN_SECKEY_LEN], const void *msg,
                    size_t msglen, const uint8_t *aux32)
{
	secp256k1_keypair kp;
	secp256k1_schnorrsig_extraparams extra = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
	unsigned char aux[32];
	int ok;

	memset(sig, 0, SN_SIG_LEN);
	if (sn_crypto_init())
		return SN_E_IO;
	if (aux32)
		memcpy(aux, aux32, 32);
	else
		randombytes_buf(aux, sizeof(aux));
	extra.ndata = aux;
	ok = secp256k1_keypair_create(secp_ctx, &kp, seckey) &&
	     secp256k1_schnorrsig_sign_custom(secp_ctx, sig, msg, msglen, &kp, &extra);
	sodium_memzero(&kp, sizeof(kp));
	sodium_memzero(aux, sizeof(aux));
	if (!ok) {
		memset(sig, 0, SN_SIG_LEN);
		return SN_E_BADKEY;
	}
	return SN_OK;
}

int sn_schnorr_pubkey_check(const uint8_t pubkey[SN_PUBKEY_LEN])
{
	secp256k1_xonly_pubkey xpk;

	if (sn_crypto_init())
		return SN_E_IO;
	return secp256k1_xonly_pubkey_parse(secp_ctx, &xpk, pubkey) ? SN_OK : SN_E_BADKEY;
}

int sn_schnorr_verify(const uint8_t sig[SN_SIG_LEN], const void *msg, size_t msglen,
                      const uint8_t pubkey[SN_PUBKEY_LEN])
{
	secp256k1_xonly_pubkey xpk;

	if (sn_crypto_init())
		return SN_E_IO;
	if (!secp256k1_xonly_pubkey_parse(secp_ctx, &xpk, pubkey))
		return SN_E_BADKEY;
	return secp256k1_schnorrsig_verify(secp_ctx, sig, msg, msglen, &xpk) ? SN_OK : SN_E_BADSIG;
}

/* The calling thread's table, allocated on its first check; NULL if that fails. */
static struct xonly_cache *xonly_cache_get(void)
{
	struct xonly_cache *c;

	if (!xonly_cache_ready)
		return NULL;
	c = pthread_getspecific(xonly_cache_key);
	if (!c && (c = sn_calloc(1, sizeof(*c))) && pthread_setspecific(xonly_cache_key, c)) {
		sn_free(c);
		c = NULL;
	}
	return c;
}

size_t sn__xonly_cache_set(const uint8_t pubkey[SN_PUBKEY_LEN])
{
	unsigned char h[crypto_shorthash_BYTES];

	crypto_shorthash(h, pubkey, SN_PUBKEY_LEN, xonly_cache_hashkey);
	return ((size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16) & (SN__XONLY_CACHE_SETS - 1);
}

void sn__xonly_cache_stats(uint64_t *hits, uint64_t *misses)
{
	const struct xonly_cache *c = xonly_cache_ready ? pthread_getspecific(xonly_cache_key) : NULL;

	*hits = c ? c->hits : 0;
	*misses = c ? c->misses : 0;
}

int sn_schnorr_verify_cached(const uint8_t sig[SN_SIG_LEN], const void *msg, size_t msglen,
                             const uint8_t pubkey[SN_PUBKEY_LEN])
{
	struct xonly_cache *c;
	struct xonly_set *set;
	struct xonly_slot *s = NULL;

	if (sn_crypto_init())
		return SN_E_IO;
	if (!(c = xonly_cache_get()))
		return sn_schnorr_verify(sig, msg, msglen, pubkey);
	set = &c->set[sn__xonly_cache_set(pubkey)];
	for (unsigned w = 0; w < SN__XONLY_CACHE_WAYS && !s; w++)
		if (set->way[w].used && memcmp(set->way[w].x, pubkey, SN_PUBKEY_LEN) == 0)
			s = &set->way[w];
	if (s) {
		c->hits++;
	} else {
		secp256k1_xonly_pubkey xpk;

		c->misses++;
		/* Parsed aside: a key that does not parse leaves the set as it was. */
		if (!secp256k1_xonly_pubkey_parse(secp_ctx, &xpk, pubkey))
			return SN_E_BADKEY;
		s = &set->way[set->next];
		set->next = (uint8_t)((set->next + 1) % SN__XONLY_CACHE_WAYS);
		memcpy(s->x, pubkey, SN_PUBKEY_LEN);
		s->xpk = xpk;
		s->used = true;
	}
	return secp256k1_schnorrsig_verify(secp_ctx, sig, msg, msglen, &s->xpk) ? SN_OK : SN_E_BADSIG;
}

uint64_t sn_time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
