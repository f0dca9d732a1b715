/* consensus/cons_int.h — the consensus module's internals: vote sets (shared by the state
 * machine and its tests; never included from outside consensus/ and tests/consensus/). */
#ifndef SN_CONS_INT_H
#define SN_CONS_INT_H

#include "consensus/consensus.h"

/* The votes of one (chain, height, round, type) from the members of a validator set and the
 * power behind each value and nil. A member's first vote counts for its value and for "any";
 * a second, conflicting one counts for its own value only (safe, and needed for liveness:
 * see voteset.c); later ones are only evidence. */
struct cons_voteset;

/* On SN_OK *out is owned by the caller (cons__voteset_free); vs is borrowed for its life.
 * Errors: SN_E_INVAL (type not a vote type), SN_E_NOMEM. */
SN_MUST_CHECK int cons__voteset_new(struct cons_voteset **out, const struct cons_valset *vs,
                                    uint32_t chain_id, uint64_t height, uint32_t round, uint8_t type);
void cons__voteset_free(struct cons_voteset *s); /* accepts NULL */

/* Adds a signed vote. SN_OK: counted. SN_E_INVAL: another chain, height, round or type.
 * SN_E_NOT_VALIDATOR: not a member. SN_E_EXISTS: this member's vote for this value is
 * already in (ignored; its signature is not checked again). SN_E_BADSIG. SN_E_EQUIVOCATION:
 * a valid vote for another value than the member's first: *ev (may be NULL) gets both, the
 * first one first; it counts for its value if it is the member's second. */
SN_MUST_CHECK int cons__voteset_add(struct cons_voteset *s, const struct cons_vote *v,
                                    struct cons_evidence *ev);

/* The power of the members whose counted vote is for (has_block, block); block is ignored
 * for nil. */
uint64_t cons__voteset_power_for(const struct cons_voteset *s, bool has_block,
                                 const uint8_t block[SN_HASH_LEN]);
/* Power of the members with a vote in, each once, whatever its value. */
uint64_t cons__voteset_power_any(const struct cons_voteset *s);
/* +2/3 for one value or for nil: true and the value in *has_block, block. */
bool cons__voteset_quorum_value(const struct cons_voteset *s, bool *has_block,
                                uint8_t block[SN_HASH_LEN]);
bool cons__voteset_has_quorum_for(const struct cons_voteset *s, bool has_block,
                                  const uint8_t block[SN_HASH_LEN]);
bool cons__voteset_has_quorum_any(const struct cons_voteset *s); /* +2/3 of any values */
bool cons__voteset_has_one_third_any(const struct cons_voteset *s); /* +1/3 of any values */
/* Whether member i (canonical index) has a vote in. */
bool cons__voteset_has_member(const struct cons_voteset *s, size_t i);
/* The certificate of the precommits for block (s must hold precommits): signers in
 * canonical order. It need not be a quorum; cons_commit_verify says. */
void cons__voteset_commit(const struct cons_voteset *s, const uint8_t block[SN_HASH_LEN],
                          struct cons_commit *out);

#endif
