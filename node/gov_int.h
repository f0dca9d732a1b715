/* node/gov_int.h — the governance transactions' rules, shared by node/tx.c and node/gov.c.
 * Internal to node/. */
#ifndef SN_NODE_GOV_INT_H
#define SN_NODE_GOV_INT_H

#include "node/node.h"

/* Applies a PROPOSE, APPROVE or EXECUTE after node_tx_apply's common checks (fee, signer,
 * nonce): everything is checked first, then the governance records, the signer (fee, nonce;
 * *signer is its record read from w) and the treasury change. Errors as node_tx_apply's. */
SN_MUST_CHECK int node__gov_apply(struct store_wtxn *w, const struct store_tx *tx, uint64_t height,
                                  struct store_account *signer);
/* Whether transfers are paused in w. */
SN_MUST_CHECK int node__gov_paused(struct store_wtxn *w, bool *paused);

#endif
