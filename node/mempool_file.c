/* node/mempool_file.c — the pending transactions a node saves when it stops and admits again
 * when it starts (docs/storage.md, "Pending transactions across a restart"):
 *
 *   u8 version (1) | u32 chain_id | u32 count | count × (u32 len | len bytes) | [32] check
 *
 * little-endian, check = H("settled/mempool", every byte before it). */
#include "node/mempool_int.h"

#define MPF_VERSION 1
#define MPF_HEAD (1 + 4 + 4)
#define MPF_TAG "settled/mempool"

int node_mempool_file_encode(const struct node_mempool_saved *txs, size_t n, uint32_t chain_id, uint8_t **out,
                             size_t *len)
{
	size_t total = MPF_HEAD + SN_HASH_LEN;
	struct sn_writer w;
	uint8_t *buf;

	*out = NULL;
	*len = 0;
	if (n > UINT32_MAX)
		return SN_E_TOOBIG;
	for (size_t i = 0; i < n; i++) {
		if (!txs[i].len || txs[i].len > STORE_TX_MAX)
			return SN_E_INVAL;
		total += 4 + txs[i].len;
	}
	if (!(buf = sn_malloc(total)))
		return SN_E_NOMEM;
	w = sn_writer_init(buf, total);
	sn_write_u8(&w, MPF_VERSION);
	sn_write_le32(&w, chain_id);
	sn_write_le32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		sn_write_le32(&w, (uint32_t)txs[i].len);
		sn_write_bytes(&w, txs[i].raw, txs[i].len);
	}
	sn_hash_tagged(buf + w.len, MPF_TAG, buf, w.len);
	*out = buf;
	*len = total;
	return SN_OK;
}

/* The checks of node_mempool_file_decode, filling txs[0..count) on the way. */
static int mpf_read(const uint8_t *buf, size_t len, struct node_mempool_saved *txs, uint32_t count)
{
	struct sn_reader r = sn_reader_init(buf + MPF_HEAD, len - MPF_HEAD - SN_HASH_LEN);
	uint8_t check[SN_HASH_LEN];
	int err;

	for (uint32_t i = 0; i < count; i++) {
		uint32_t n = sn_read_le32(&r);

		if (sn_reader_failed(&r))
			return SN_E_TRUNCATED;
		if (!n || n > STORE_TX_MAX)
			return SN_E_TOOBIG;
		if (!(txs[i].raw = sn_read_ptr(&r, n)))
			return SN_E_TRUNCATED;
		txs[i].len = n;
	}
	if ((err = sn_reader_finish(&r)))
		return err;
	sn_hash_tagged(check, MPF_TAG, buf, len - SN_HASH_LEN);
	return sn_ct_equal(check, buf + len - SN_HASH_LEN, SN_HASH_LEN) ? SN_OK : SN_E_CORRUPT;
}

int node_mempool_file_decode(const uint8_t *buf, size_t len, uint32_t chain_id, struct node_mempool_saved **txs,
                             size_t *n)
{
	struct sn_reader r;
	uint32_t count;
	int err;

	*txs = NULL;
	*n = 0;
	if (len < MPF_HEAD + SN_HASH_LEN)
		return SN_E_TRUNCATED;
	r = sn_reader_init(buf, MPF_HEAD);
	if (sn_read_u8(&r) != MPF_VERSION)
		return SN_E_VERSION;
	if (sn_read_le32(&r) != chain_id)
		return SN_E_CHAIN;
	count = sn_read_le32(&r);
	if (count > (len - MPF_HEAD - SN_HASH_LEN) / 5) /* each takes 4 + at least 1 bytes */
		return SN_E_TRUNCATED;
	if (!(*txs = sn_calloc(count ? count : 1, sizeof(**txs))))
		return SN_E_NOMEM;
	if ((err = mpf_read(buf, len, *txs, count))) {
		sn_free(*txs);
		*txs = NULL;
		return err;
	}
	*n = count;
	return SN_OK;
}
