/* node/tx.c — the settlement rules of one transaction (docs/protocol.md, "Validation"). */
#include "node/gov_int.h"

int node_tx_check(const uint8_t *raw, size_t len, uint32_t chain_id, struct store_tx *tx,
                  uint8_t id[SN_HASH_LEN])
{
	int err;

	memset(id, 0, SN_HASH_LEN);
	if ((err = store_tx_decode(tx, raw, len)))
		return err;
	store_tx_id(id, raw, len);
	if (tx->chain_id != chain_id)
		return SN_E_CHAIN;
	if (tx->type == STORE_TX_REGISTER && (err = sn_schnorr_pubkey_check(tx->to)))
		return err;
	return store_tx_verify(tx);
}

static int add_checked(uint64_t *sum, uint64_t a, uint64_t b)
{
	if (a > UINT64_MAX - b)
		return SN_E_OVERFLOW;
	*sum = a + b;
	return SN_OK;
}

int node_tx_apply(struct store_wtxn *w, const struct store_tx *tx, uint64_t height)
{
	const struct store_info *tip = store_wtxn_info(w);
	struct store_account from, to;
	uint64_t cost, pvol;
	int err;

	if (tx->fee < tip->params.min_fee)
		return SN_E_FEE;
	err = store_wtxn_account_get(w, tx->signer, &from);
	if (err == SN_E_NOTFOUND)
		return tx->type == STORE_TX_REGISTER ? SN_E_UNKNOWN_SPONSOR : SN_E_UNKNOWN_ACCOUNT;
	if (err)
		return err;
	if (tx->nonce != from.nonce)
		return SN_E_NONCE;
	if ((err = add_checked(&cost, tx->amount, tx->fee)))
		return err;
	if ((err = add_checked(&pvol, from.personal_volume, tx->amount)))
		return err;
	if (from.nonce == UINT64_MAX || store_wtxn_treasury(w) > UINT64_MAX - tx->fee)
		return SN_E_OVERFLOW;

	switch (tx->type) {
	case STORE_TX_GOV_PROPOSE:
	case STORE_TX_GOV_APPROVE:
	case STORE_TX_GOV_EXECUTE:
		/* Governance: its own checks, then the records, the fee and the nonce (node/gov.c). */
		return node__gov_apply(w, tx, height, &from);
	case STORE_TX_REGISTER:
		err = store_wtxn_account_get(w, tx->to, &to);
		if (err == SN_OK)
			return SN_E_REGISTERED;
		if (err != SN_E_NOTFOUND)
			return err;
		if (from.balance < cost)
			return SN_E_BALANCE;
		/* The only change that can fail (SN_E_NOMEM) comes first. */
		if ((err = store_wtxn_account_create(w, tx->to, &from, height, tx->amount, &to)))
			return err;
		break;
	case STORE_TX_TRANSFER: {
		bool paused;

		if ((err = node__gov_paused(w, &paused)))
			return err;
		if (paused)
			return SN_E_PAUSED;
		if (tx->amount == 0)
			return SN_E_AMOUNT_ZERO;
		if (memcmp(tx->to, tx->signer, SN_PUBKEY_LEN) == 0)
			return SN_E_SELF;
		err = store_wtxn_account_get(w, tx->to, &to);
		if (err == SN_E_NOTFOUND)
			return SN_E_UNKNOWN_RECIPIENT;
		if (err)
			return err;
		if (from.balance < cost)
			return SN_E_BALANCE;
		if (to.balance > UINT64_MAX - tx->amount)
			return SN_E_OVERFLOW;
		to.balance += tx->amount;
		if ((err = store_wtxn_account_put(w, &to)))
			return err;
		break;
	}
	default:
		return SN_E_TYPE;
	}
	/* Every account involved is in the overlay and every sum was checked: nothing below fails. */
	from.balance -= cost;
	from.nonce++;
	from.personal_volume = pvol;
	if ((err = store_wtxn_account_put(w, &from)))
		return err;
	return store_wtxn_treasury_add(w, tx->fee);
}
