/* storage/deepsum_int.h — internals of the deep-sum index exposed to its own tests and
 * benchmark only (never included outside storage/ and tests/). */
#ifndef SN_STORAGE_DEEPSUM_INT_H
#define SN_STORAGE_DEEPSUM_INT_H

#include "storage/storage.h"

/* Walks the whole index and checks every structural invariant: parent links agree with
 * child slots, every leaf is at the same depth, every node's fill is within bounds, each
 * slot's totals (enter tokens, volume) equal its child's, exit tokens carry no volume,
 * leaf_of[] maps each token to its leaf, and the tokens in order form a valid Euler tour
 * of a tree in which every account sits inside one with a smaller seq.
 * O(n) time, O(n) extra memory. SN_OK, SN_E_CORRUPT on the first violation, SN_E_NOMEM. */
SN_MUST_CHECK int store__deepsum_check(const struct store_deepsum *ds);

/* Levels of the B+tree (leaves included; 0 when empty) and the mean leaf fill (0..1). */
void store__deepsum_shape(const struct store_deepsum *ds, uint32_t *levels, double *leaf_fill);

/* Bytes held for the current capacity, and bytes in use by the current accounts. */
size_t store__deepsum_bytes(const struct store_deepsum *ds);
size_t store__deepsum_bytes_used(const struct store_deepsum *ds);

#endif
