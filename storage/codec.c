/* storage/codec.c — transaction, block and account encodings (docs/protocol.md).
 * Explicit little-endian, a version byte first, every length checked against a named
 * maximum, canonical: exactly one encoding per value. */
#include "storage/store_int.h"

#define TAG_TX_SIG "settled/tx/sig"
#define TAG_TX_ID "settled/tx/id"
#define TAG_BLOCK "settled/block"
#define TAG_TX_ROOT "settled/txroot"

static bool tx_type_known(uint8_t type)
{
	return type >= STORE_TX_TYPE_FIRST && type <= STORE_TX_TYPE_LAST;
}

/* The payload framing of each type, given its length and (for EXECUTE) its count byte
 * (payload[8], when len > 8): SN_OK, or SN_E_TOOBIG / SN_E_TRUNCATED as the decoder says.
 *   REGISTER, TRANSFER  exactly 40
 *   PROPOSE             9 ..= 9 + 10,240
 *   APPROVE             exactly 104
 *   EXECUTE             exactly 9 + n × 96, n ≤ 64 */
static int tx_payload_framing(uint8_t type, const uint8_t *payload, size_t len)
{
	size_t want;

	switch (type) {
	case STORE_TX_REGISTER:
	case STORE_TX_TRANSFER:
		want = STORE_TX_PAYLOAD_V1;
		break;
	case STORE_TX_GOV_PROPOSE:
		if (len < STORE_TX_PROPOSE_HEADER_LEN)
			return SN_E_TRUNCATED;
		return len > STORE_TX_PAYLOAD_MAX ? SN_E_TOOBIG : SN_OK;
	case STORE_TX_GOV_APPROVE:
		want = STORE_TX_APPROVE_LEN;
		break;
	case STORE_TX_GOV_EXECUTE:
		if (len < STORE_TX_EXECUTE_HEADER_LEN)
			return SN_E_TRUNCATED;
		if (payload[8] > STORE_TX_EXECUTE_SIGS_MAX)
			return SN_E_TOOBIG;
		want = STORE_TX_EXECUTE_HEADER_LEN + (size_t)payload[8] * STORE_TX_EXECUTE_SIG_LEN;
		break;
	default:
		return SN_E_TYPE;
	}
	if (len != want)
		return len > want ? SN_E_TOOBIG : SN_E_TRUNCATED;
	return SN_OK;
}

static bool tx_is_gov(uint8_t type)
{
	return type >= STORE_TX_GOV_PROPOSE && type <= STORE_TX_GOV_EXECUTE;
}

/* v1: u8 version | u8 type | u32 chain_id | [32] signer | u64 nonce | u64 fee |
 *     u16 payload_len | payload | [64] signature
 * payload (REGISTER and TRANSFER, payload_len 40): [32] to | u64 amount
 * payload (PROPOSE, APPROVE, EXECUTE): the bytes of tx->payload (docs/protocol.md) */
static void tx_write_unsigned(struct sn_writer *w, const struct store_tx *tx)
{
	sn_write_u8(w, tx->version);
	sn_write_u8(w, tx->type);
	sn_write_le32(w, tx->chain_id);
	sn_write_bytes(w, tx->signer, SN_PUBKEY_LEN);
	sn_write_le64(w, tx->nonce);
	sn_write_le64(w, tx->fee);
	if (tx_is_gov(tx->type)) {
		sn_write_le16(w, tx->payload_len);
		sn_write_bytes(w, tx->payload, tx->payload_len);
		return;
	}
	sn_write_le16(w, STORE_TX_PAYLOAD_V1);
	sn_write_bytes(w, tx->to, SN_PUBKEY_LEN);
	sn_write_le64(w, tx->amount);
}

static int tx_check_kind(const struct store_tx *tx)
{
	if (tx->version != STORE_TX_V1)
		return SN_E_VERSION;
	if (!tx_type_known(tx->type))
		return SN_E_TYPE;
	if (!tx_is_gov(tx->type))
		return SN_OK;
	if (!tx->payload && tx->payload_len)
		return SN_E_INVAL;
	return tx_payload_framing(tx->type, tx->payload, tx->payload_len);
}

int store_tx_encode(uint8_t *out, size_t cap, size_t *outlen, const struct store_tx *tx)
{
	struct sn_writer w = sn_writer_init(out, cap);
	int err;

	*outlen = 0;
	if ((err = tx_check_kind(tx)))
		return err;
	tx_write_unsigned(&w, tx);
	sn_write_bytes(&w, tx->sig, SN_SIG_LEN);
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*outlen = w.len;
	return SN_OK;
}

int store_tx_decode(struct store_tx *tx, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint16_t payload_len;
	const uint8_t *payload;
	int err;

	memset(tx, 0, sizeof(*tx));
	if (len > STORE_TX_MAX)
		return SN_E_TOOBIG;
	tx->version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (tx->version != STORE_TX_V1)
		return SN_E_VERSION;
	tx->type = sn_read_u8(&r);
	tx->chain_id = sn_read_le32(&r);
	sn_read_bytes(&r, tx->signer, SN_PUBKEY_LEN);
	tx->nonce = sn_read_le64(&r);
	tx->fee = sn_read_le64(&r);
	payload_len = sn_read_le16(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (!tx_type_known(tx->type))
		return SN_E_TYPE;
	/* EXECUTE's count byte, if the input has it, decides its length. */
	if (tx->type == STORE_TX_GOV_EXECUTE && payload_len >= STORE_TX_EXECUTE_HEADER_LEN &&
	    r.left < STORE_TX_EXECUTE_HEADER_LEN)
		return SN_E_TRUNCATED;
	if ((err = tx_payload_framing(tx->type, r.p, payload_len)))
		return err;
	payload = sn_read_ptr(&r, payload_len);
	if (!payload)
		return SN_E_TRUNCATED;
	tx->payload = payload;
	tx->payload_len = payload_len;
	if (!tx_is_gov(tx->type)) {
		struct sn_reader pr = sn_reader_init(payload, payload_len);

		sn_read_bytes(&pr, tx->to, SN_PUBKEY_LEN);
		tx->amount = sn_read_le64(&pr);
	}
	sn_read_bytes(&r, tx->sig, SN_SIG_LEN);
	return sn_reader_finish(&r);
}

int store_tx_sighash(uint8_t out[SN_HASH_LEN], const struct store_tx *tx)
{
	uint8_t buf[STORE_TX_MAX];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));
	int err;

	memset(out, 0, SN_HASH_LEN);
	if ((err = tx_check_kind(tx)))
		return err;
	tx_write_unsigned(&w, tx);
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	sn_hash_tagged(out, TAG_TX_SIG, buf, w.len);
	return SN_OK;
}

void store_tx_id(uint8_t out[SN_HASH_LEN], const uint8_t *enc, size_t len)
{
	sn_hash_tagged(out, TAG_TX_ID, enc, len);
}

int store_tx_sign(struct store_tx *tx, const uint8_t seckey[SN_SECKEY_LEN])
{
	uint8_t msg[SN_HASH_LEN];
	int err;

	if ((err = store_tx_sighash(msg, tx)))
		return err;
	return sn_schnorr_sign(tx->sig, seckey, msg, sizeof(msg), NULL);
}

int store_tx_verify(const struct store_tx *tx)
{
	uint8_t msg[SN_HASH_LEN];
	int err;

	if ((err = store_tx_sighash(msg, tx)))
		return err;
	return sn_schnorr_verify_cached(tx->sig, msg, sizeof(msg), tx->signer);
}

/* header v1: u8 version | u32 chain_id | u64 height | [32] prev_hash | u64 time_ms |
 *            [32] proposer | [32] tx_root | [32] state_root | u32 tx_count
 * block: header | tx_count × (u32 tx_len | tx) */
void store_block_header_encode(uint8_t out[STORE_BLOCK_HEADER_LEN], const struct store_block_header *h)
{
	struct sn_writer w = sn_writer_init(out, STORE_BLOCK_HEADER_LEN);

	sn_write_u8(&w, h->version);
	sn_write_le32(&w, h->chain_id);
	sn_write_le64(&w, h->height);
	sn_write_bytes(&w, h->prev_hash, SN_HASH_LEN);
	sn_write_le64(&w, h->time_ms);
	sn_write_bytes(&w, h->proposer, 32);
	sn_write_bytes(&w, h->tx_root, SN_HASH_LEN);
	sn_write_bytes(&w, h->state_root, SN_HASH_LEN);
	sn_write_le32(&w, h->tx_count);
}

void store_block_hash(uint8_t out[SN_HASH_LEN], const struct store_block_header *h)
{
	uint8_t buf[STORE_BLOCK_HEADER_LEN];

	store_block_header_encode(buf, h);
	sn_hash_tagged(out, TAG_BLOCK, buf, sizeof(buf));
}

int store_block_decode(struct store_block *b, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	struct store_block_header *h = &b->hdr;

	memset(b, 0, sizeof(*b));
	if (len > STORE_BLOCK_MAX)
		return SN_E_TOOBIG;
	h->version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (h->version != STORE_BLOCK_V1)
		return SN_E_VERSION;
	h->chain_id = sn_read_le32(&r);
	h->height = sn_read_le64(&r);
	sn_read_bytes(&r, h->prev_hash, SN_HASH_LEN);
	h->time_ms = sn_read_le64(&r);
	sn_read_bytes(&r, h->proposer, 32);
	sn_read_bytes(&r, h->tx_root, SN_HASH_LEN);
	sn_read_bytes(&r, h->state_root, SN_HASH_LEN);
	h->tx_count = sn_read_le32(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (h->tx_count > STORE_BLOCK_MAX_TXS)
		return SN_E_TOOBIG;
	b->body = r.p;
	b->body_len = r.left;
	for (uint32_t i = 0; i < h->tx_count; i++) {
		uint32_t n = sn_read_le32(&r);

		if (!sn_reader_failed(&r) && n > STORE_TX_MAX)
			return SN_E_TOOBIG;
		(void)sn_read_ptr(&r, n);
		if (sn_reader_failed(&r))
			return SN_E_TRUNCATED;
	}
	return sn_reader_finish(&r);
}

bool store_block_next_tx(const struct store_block *b, size_t *pos, const uint8_t **tx, size_t *len)
{
	struct sn_reader r;
	uint32_t n;

	*tx = NULL;
	*len = 0;
	if (*pos >= b->body_len)
		return false;
	r = sn_reader_init(b->body + *pos, b->body_len - *pos);
	n = sn_read_le32(&r);
	*tx = sn_read_ptr(&r, n);
	if (!*tx)
		return false; /* cannot happen after store_block_decode */
	*len = n;
	*pos += 4 + (size_t)n;
	return true;
}

void store_tx_root(uint8_t out[SN_HASH_LEN], const uint8_t (*ids)[SN_HASH_LEN], uint32_t n)
{
	struct sn_hasher h;
	uint8_t cnt[4];
	struct sn_writer w = sn_writer_init(cnt, sizeof(cnt));

	sn_write_le32(&w, n);
	sn_hasher_init(&h, TAG_TX_ROOT);
	sn_hasher_update(&h, cnt, sizeof(cnt));
	if (n)
		sn_hasher_update(&h, ids, (size_t)n * SN_HASH_LEN);
	sn_hasher_final(&h, out);
}

/* account v1: u8 version | u64 seq | u64 balance | u64 nonce | [32] sponsor |
 *             u64 sponsor_seq | u64 personal_volume | u64 reg_height | u64 depth */
void store_account_encode(uint8_t out[STORE_ACCOUNT_LEN], const struct store_account *a)
{
	struct sn_writer w = sn_writer_init(out, STORE_ACCOUNT_LEN);

	sn_write_u8(&w, STORE_ACCOUNT_V1);
	sn_write_le64(&w, a->seq);
	sn_write_le64(&w, a->balance);
	sn_write_le64(&w, a->nonce);
	sn_write_bytes(&w, a->sponsor, SN_PUBKEY_LEN);
	sn_write_le64(&w, a->sponsor_seq);
	sn_write_le64(&w, a->personal_volume);
	sn_write_le64(&w, a->reg_height);
	sn_write_le64(&w, a->depth);
}

/* The two halves of an account as the store keeps them (docs/storage.md): what a transfer
 * changes (balance, nonce, personal volume) apart from what registration fixed. */
void store__account_cold_encode(uint8_t out[STORE_COLD_LEN], const struct store_account *a)
{
	struct sn_writer w = sn_writer_init(out, STORE_COLD_LEN);

	sn_write_u8(&w, STORE_COLD_V1);
	sn_write_le64(&w, a->seq);
	sn_write_bytes(&w, a->sponsor, SN_PUBKEY_LEN);
	sn_write_le64(&w, a->sponsor_seq);
	sn_write_le64(&w, a->reg_height);
	sn_write_le64(&w, a->depth);
}

int store__account_cold_decode(struct store_account *a, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t version;

	a->seq = a->sponsor_seq = a->reg_height = a->depth = 0;
	memset(a->sponsor, 0, SN_PUBKEY_LEN);
	version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (version != STORE_COLD_V1)
		return SN_E_VERSION;
	a->seq = sn_read_le64(&r);
	sn_read_bytes(&r, a->sponsor, SN_PUBKEY_LEN);
	a->sponsor_seq = sn_read_le64(&r);
	a->reg_height = sn_read_le64(&r);
	a->depth = sn_read_le64(&r);
	return sn_reader_finish(&r);
}

void store__account_hot_encode(uint8_t out[STORE_HOT_LEN], const struct store_account *a)
{
	struct sn_writer w = sn_writer_init(out, STORE_HOT_LEN);

	sn_write_u8(&w, STORE_HOT_V1);
	sn_write_le64(&w, a->balance);
	sn_write_le64(&w, a->nonce);
	sn_write_le64(&w, a->personal_volume);
}

int store__account_hot_decode(struct store_account *a, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t version;

	a->balance = a->nonce = a->personal_volume = 0;
	version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (version != STORE_HOT_V1)
		return SN_E_VERSION;
	a->balance = sn_read_le64(&r);
	a->nonce = sn_read_le64(&r);
	a->personal_volume = sn_read_le64(&r);
	return sn_reader_finish(&r);
}

int store_account_decode(struct store_account *a, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t version;

	memset((uint8_t *)a + sizeof(a->key), 0, sizeof(*a) - sizeof(a->key));
	version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (version != STORE_ACCOUNT_V1)
		return SN_E_VERSION;
	a->seq = sn_read_le64(&r);
	a->balance = sn_read_le64(&r);
	a->nonce = sn_read_le64(&r);
	sn_read_bytes(&r, a->sponsor, SN_PUBKEY_LEN);
	a->sponsor_seq = sn_read_le64(&r);
	a->personal_volume = sn_read_le64(&r);
	a->reg_height = sn_read_le64(&r);
	a->depth = sn_read_le64(&r);
	return sn_reader_finish(&r);
}
