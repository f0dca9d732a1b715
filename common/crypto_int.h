/* common/crypto_int.h — internals of common/crypto.c exposed to its own tests only (never
 * included outside common/ and tests/common/). */
#ifndef SN_COMMON_CRYPTO_INT_H
#define SN_COMMON_CRYPTO_INT_H

#include "common/common.h"

/* Each thread's table of parsed x-only keys (sn_schnorr_verify_cached): SETS sets (a power
 * of two) of WAYS slots, ~97 bytes each: ~1.6 MB per thread that checks transaction
 * signatures. A key may sit in any slot of its set, so up to WAYS keys that hash alike
 * live side by side (10,000 signers in a direct-mapped table of 16,384 would keep ~46% of
 * them evicting a neighbour). */
#define SN__XONLY_CACHE_WAYS 4
#define SN__XONLY_CACHE_SETS 4096
#define SN__XONLY_CACHE_SLOTS (SN__XONLY_CACHE_SETS * SN__XONLY_CACHE_WAYS)

/* The set pubkey maps to in every thread's table (the hash key is per process, made by
 * sn_crypto_init). */
size_t sn__xonly_cache_set(const uint8_t pubkey[SN_PUBKEY_LEN]);

/* The calling thread's counts of sn_schnorr_verify_cached lookups that found the key in its
 * table (hits) and that did not (misses: the key was parsed, or failed to parse). Both 0 if
 * the thread has no table (it has not called it yet, or the table's allocation failed). */
void sn__xonly_cache_stats(uint64_t *hits, uint64_t *misses);

#endif
