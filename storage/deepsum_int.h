/* storage/deepsum_int.h — internals of the deep-sum index exposed to its own tests and
 * benchmark only (never included outside storage/ and tests/). */
#ifndef SN_STORAGE_DEEPSUM_INT_H
#define SN_STORAGE_DEEPSUM_INT_H

#include "storage/storage.h"

/* Walks the whole index and checks every structural invariant: the search tree links
 * (parent/child agree), the heap order of the priorities, every node's aggregates equal
 * the sum of its children's plus its own, the in-order sequence is a valid Euler tour of
 * a tree with parent[i] < i, and the token counts. O(n) time, O(n) extra memory.
 * SN_OK, SN_E_CORRUPT on the first violation, SN_E_NOMEM. */
SN_MUST_CHECK int store__deepsum_check(const struct store_deepsum *ds);

/* Height of the balanced tree (longest root-to-leaf path, in nodes) and the mean depth of
 * the enter tokens, for the docs and the benchmark. O(n). */
void store__deepsum_shape(const struct store_deepsum *ds, uint32_t *height, double *mean_depth);

/* Bytes of memory held for the current capacity. */
size_t store__deepsum_bytes(const struct store_deepsum *ds);

#endif
