/* storage/merkle.c — the 4-ary Merkle tree over account leaves that the state root commits to.
 * Updates are computed per block over the dirty leaves only, without touching the committed
 * tree, then applied after the LMDB commit succeeds. */
#include "storage/store_int.h"

#define TAG_LEAF "settled/account"
#define TAG_NODE "settled/node4"
#define TAG_STATE "settled/state"

static uint32_t level_size(uint32_t n, uint32_t level)
{
	uint64_t s = n;

	for (uint32_t l = 0; l < level; l++)
		s = (s + 3) / 4;
	return (uint32_t)s;
}

static uint32_t level_count(uint32_t n)
{
	uint32_t levels = 1;

	for (uint64_t s = n; s > 1; s = (s + 3) / 4)
		levels++;
	return levels;
}

void store__account_leaf(uint8_t out[SN_HASH_LEN], const struct store_account *a)
{
	uint8_t buf[SN_PUBKEY_LEN + STORE_ACCOUNT_LEN];

	memcpy(buf, a->key, SN_PUBKEY_LEN);
	store_account_encode(buf + SN_PUBKEY_LEN, a);
	sn_hash_tagged(out, TAG_LEAF, buf, sizeof(buf));
}

void store__state_root(uint8_t out[SN_HASH_LEN], uint64_t accounts, const uint8_t acct_root[SN_HASH_LEN],
                       uint64_t treasury, const struct store_params *p, const uint8_t gov_root[SN_HASH_LEN])
{
	uint8_t buf[8 + SN_HASH_LEN + 8 + 8 + 4 + SN_HASH_LEN];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));

	sn_write_le64(&w, accounts);
	sn_write_bytes(&w, acct_root, SN_HASH_LEN);
	sn_write_le64(&w, treasury);
	sn_write_le64(&w, p->min_fee);
	sn_write_le32(&w, p->max_block_txs);
	sn_write_bytes(&w, gov_root, SN_HASH_LEN);
	sn_hash_tagged(out, TAG_STATE, buf, w.len);
}

void store__merkle_free(struct merkle *m)
{
	for (uint32_t l = 0; l < MERKLE_MAX_LEVELS; l++)
		sn_free(m->node[l]);
	memset(m, 0, sizeof(*m));
}

static void hash4(uint8_t out[SN_HASH_LEN], const uint8_t (*children)[SN_HASH_LEN])
{
	sn_hash_tagged(out, TAG_NODE, children, 4 * SN_HASH_LEN);
}

int store__merkle_build(struct merkle *m, uint8_t (*leaves)[SN_HASH_LEN], uint32_t n, uint32_t leaves_cap)
{
	memset(m, 0, sizeof(*m));
	m->n = n;
	m->levels = level_count(n);
	m->node[0] = leaves;
	m->cap[0] = leaves_cap;
	for (uint32_t l = 1; l < m->levels; l++) {
		uint32_t below = level_size(n, l - 1), size = level_size(n, l);

		m->node[l] = sn_malloc((size_t)size * SN_HASH_LEN);
		if (!m->node[l]) {
			store__merkle_free(m);
			return SN_E_NOMEM;
		}
		m->cap[l] = size;
		for (uint32_t i = 0; i < size; i++) {
			uint8_t ch[4][SN_HASH_LEN];

			memset(ch, 0, sizeof(ch));
			for (uint32_t c = 0; c < 4 && 4 * i + c < below; c++)
				memcpy(ch[c], m->node[l - 1][4 * i + c], SN_HASH_LEN);
			hash4(m->node[l][i], (const uint8_t(*)[SN_HASH_LEN])ch);
		}
	}
	return SN_OK;
}

void store__merkle_root(const struct merkle *m, uint8_t out[SN_HASH_LEN])
{
	if (m->n == 0)
		memset(out, 0, SN_HASH_LEN);
	else
		memcpy(out, m->node[m->levels - 1][0], SN_HASH_LEN);
}

static int lvl_push(struct merkle_level_update *lu, uint32_t idx, const uint8_t hash[SN_HASH_LEN])
{
	if (lu->cnt == lu->cap) {
		uint32_t ncap = lu->cap ? 2 * lu->cap : 64;
		uint32_t *ni = sn_realloc(lu->idx, (size_t)ncap * sizeof(*ni));

		if (!ni)
			return SN_E_NOMEM;
		lu->idx = ni;
		uint8_t(*nh)[SN_HASH_LEN] = sn_realloc(lu->hash, (size_t)ncap * SN_HASH_LEN);
		if (!nh)
			return SN_E_NOMEM;
		lu->hash = nh;
		lu->cap = ncap;
	}
	lu->idx[lu->cnt] = idx;
	memcpy(lu->hash[lu->cnt], hash, SN_HASH_LEN);
	lu->cnt++;
	return SN_OK;
}

void store__merkle_update_free(struct merkle_update *u)
{
	for (uint32_t l = 0; l < MERKLE_MAX_LEVELS; l++) {
		sn_free(u->lvl[l].idx);
		sn_free(u->lvl[l].hash);
	}
	memset(u, 0, sizeof(*u));
}

int store__merkle_compute(const struct merkle *m, struct merkle_update *u, uint32_t n,
                          const uint32_t *idx, const uint8_t (*hash)[SN_HASH_LEN], uint32_t cnt)
{
	int err;

	for (uint32_t l = 0; l < MERKLE_MAX_LEVELS; l++)
		u->lvl[l].cnt = 0;
	u->n = n;
	u->levels = level_count(n);
	if (n < m->n)
		return SN_E_INVAL;
	for (uint32_t i = 0; i < cnt; i++) {
		if (idx[i] >= n || (i && idx[i] <= idx[i - 1]))
			return SN_E_INVAL;
		if ((err = lvl_push(&u->lvl[0], idx[i], hash[i])))
			return err;
	}
	for (uint32_t l = 1; l < u->levels; l++) {
		const struct merkle_level_update *below = &u->lvl[l - 1];
		uint32_t below_size = level_size(n, l - 1);
		uint32_t old_below = l - 1 < m->levels ? level_size(m->n, l - 1) : 0;

		for (uint32_t i = 0; i < below->cnt;) {
			uint32_t parent = below->idx[i] / 4;
			uint8_t ch[4][SN_HASH_LEN], out[SN_HASH_LEN];

			memset(ch, 0, sizeof(ch));
			for (uint32_t c = 0; c < 4; c++) {
				uint32_t k = 4 * parent + c;

				if (k >= below_size)
					break;
				if (i < below->cnt && below->idx[i] == k) {
					memcpy(ch[c], below->hash[i], SN_HASH_LEN);
					i++;
				} else if (k < old_below && m->n) {
					memcpy(ch[c], m->node[l - 1][k], SN_HASH_LEN);
				} else {
					return SN_E_INVAL; /* a new node that no dirty leaf reaches */
				}
			}
			hash4(out, (const uint8_t(*)[SN_HASH_LEN])ch);
			if ((err = lvl_push(&u->lvl[l], parent, out)))
				return err;
		}
	}
	if (n == 0) {
		memset(u->root, 0, SN_HASH_LEN);
	} else if (u->lvl[u->levels - 1].cnt) {
		memcpy(u->root, u->lvl[u->levels - 1].hash[0], SN_HASH_LEN);
	} else {
		store__merkle_root(m, u->root); /* nothing changed */
	}
	return SN_OK;
}

int store__merkle_reserve(struct merkle *m, const struct merkle_update *u)
{
	for (uint32_t l = 0; l < u->levels; l++) {
		uint32_t size = level_size(u->n, l);

		if (size > m->cap[l]) {
			uint32_t ncap = size + size / 2 + 16;
			uint8_t(*nn)[SN_HASH_LEN] = sn_realloc(m->node[l], (size_t)ncap * SN_HASH_LEN);

			if (!nn)
				return SN_E_NOMEM;
			m->node[l] = nn;
			m->cap[l] = ncap;
		}
	}
	return SN_OK;
}

void store__merkle_apply(struct merkle *m, const struct merkle_update *u)
{
	for (uint32_t l = 0; l < u->levels; l++) {
		const struct merkle_level_update *lu = &u->lvl[l];

		for (uint32_t i = 0; i < lu->cnt; i++)
			memcpy(m->node[l][lu->idx[i]], lu->hash[i], SN_HASH_LEN);
	}
	m->n = u->n;
	m->levels = u->levels;
}
