/* governance/payload.c — member lists, the council record, chain parameters, proposal
 * payloads and their canonical encodings (docs/governance.md). Explicit little-endian, a
 * version byte first, every count bounded by a named maximum before anything is copied,
 * lists sorted by key so that each value has exactly one encoding. */
#include "governance/gov_int.h"

#include <stdlib.h>

/* A PROPOSE transaction must be able to carry the largest payload (storage/ cannot include
 * this header, so it names the same number). */
_Static_assert(GOV_PAYLOAD_MAX == STORE_TX_GOV_PAYLOAD_MAX, "PROPOSE payload bound");

/* ------------------------------------------------------------------ members */

static int key_order(const uint8_t *prev, const uint8_t *next, size_t len)
{
	int c = memcmp(prev, next, len);

	if (c == 0)
		return SN_E_PAYLOAD; /* duplicate */
	return c > 0 ? SN_E_NONCANONICAL : SN_OK;
}

int gov_track_members_check(const struct gov_track_members *t)
{
	int err;

	if (t->count == 0)
		return SN_E_PAYLOAD;
	if (t->count > GOV_TRACK_MEMBERS_MAX)
		return SN_E_TOOBIG;
	for (size_t i = 0; i < t->count; i++) {
		if (t->members[i].weight == 0 || t->members[i].weight > GOV_WEIGHT_MAX)
			return SN_E_PAYLOAD;
		if (i && (err = key_order(t->members[i - 1].key, t->members[i].key, SN_PUBKEY_LEN)))
			return err;
	}
	return SN_OK;
}

int gov_council_check(const struct gov_council *c)
{
	int err;

	for (int k = 0; k < GOV_TRACKS; k++)
		if ((err = gov_track_members_check(&c->track[k])))
			return err;
	return SN_OK;
}

static int member_cmp(const void *a, const void *b)
{
	return memcmp(((const struct gov_member *)a)->key, ((const struct gov_member *)b)->key,
	              SN_PUBKEY_LEN);
}

void gov_track_members_sort(struct gov_track_members *t)
{
	if (t->count > 1 && t->count <= GOV_TRACK_MEMBERS_MAX)
		qsort(t->members, t->count, sizeof(t->members[0]), member_cmp);
}

uint64_t gov_track_members_total(const struct gov_track_members *t)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < t->count && i < GOV_TRACK_MEMBERS_MAX; i++)
		sum += t->members[i].weight;
	return sum;
}

int gov__member_find(const struct gov_track_members *t, const uint8_t key[SN_PUBKEY_LEN])
{
	_Static_assert(offsetof(struct gov_member, key) == 0 && SN_PUBKEY_LEN == 32, "key first");
	return (int)sn_sorted_key_find(t->members, t->count, sizeof(t->members[0]), key);
}

/* member list: u16 count | count × ([32] key | u32 weight) */
static void members_write(struct sn_writer *w, const struct gov_track_members *t)
{
	sn_write_le16(w, t->count);
	for (size_t i = 0; i < t->count; i++) {
		sn_write_bytes(w, t->members[i].key, SN_PUBKEY_LEN);
		sn_write_le32(w, t->members[i].weight);
	}
}

/* Reads the framing only; SN_E_TRUNCATED or SN_E_TOOBIG (count), else SN_OK. */
static int members_read(struct sn_reader *r, struct gov_track_members *t)
{
	t->count = sn_read_le16(r);
	if (sn_reader_failed(r))
		return SN_E_TRUNCATED;
	if (t->count > GOV_TRACK_MEMBERS_MAX)
		return SN_E_TOOBIG;
	for (size_t i = 0; i < t->count; i++) {
		sn_read_bytes(r, t->members[i].key, SN_PUBKEY_LEN);
		t->members[i].weight = sn_read_le32(r);
	}
	return sn_reader_failed(r) ? SN_E_TRUNCATED : SN_OK;
}

/* council v1: u8 version | developers' member list | community's member list */
int gov_council_encode(uint8_t *out, size_t cap, size_t *outlen, const struct gov_council *c)
{
	struct sn_writer w = sn_writer_init(out, cap);
	int err;

	*outlen = 0;
	if ((err = gov_council_check(c)))
		return err;
	sn_write_u8(&w, GOV_COUNCIL_V1);
	for (int k = 0; k < GOV_TRACKS; k++)
		members_write(&w, &c->track[k]);
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*outlen = w.len;
	return SN_OK;
}

int gov_council_decode(struct gov_council *c, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t version;
	int err;

	memset(c, 0, sizeof(*c));
	if (len > GOV_COUNCIL_MAX)
		return SN_E_TOOBIG;
	version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (version != GOV_COUNCIL_V1)
		return SN_E_VERSION;
	for (int k = 0; k < GOV_TRACKS; k++)
		if ((err = members_read(&r, &c->track[k])))
			return err;
	if ((err = sn_reader_finish(&r)))
		return err;
	return gov_council_check(c);
}

/* --------------------------------------------------------------- parameters */

struct param_range {
	const char *name;
	uint64_t min, max;
};

static const struct param_range param_ranges[] = {
	[GOV_PARAM_MIN_FEE] = { "min_fee", 0, UINT64_MAX },
	[GOV_PARAM_MAX_BLOCK_TXS] = { "max_block_txs", 1, STORE_BLOCK_MAX_TXS },
	[GOV_PARAM_TIMELOCK_BLOCKS] = { "timelock_blocks", 0, GOV_TIMELOCK_MAX },
	[GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS] = { "proposal_max_deadline_blocks", 1, GOV_DEADLINE_MAX },
	[GOV_PARAM_MEMPOOL_MAX_TXS] = { "mempool_max_txs", 1, GOV_MEMPOOL_MAX_TXS_MAX },
	[GOV_PARAM_MEMPOOL_MAX_BYTES] = { "mempool_max_bytes", GOV_MEMPOOL_MAX_BYTES_MIN,
	                                  GOV_MEMPOOL_MAX_BYTES_MAX },
};

static bool param_known(uint8_t id)
{
	return id >= GOV_PARAM_FIRST && id <= GOV_PARAM_LAST;
}

int gov_param_check(uint8_t id, uint64_t value)
{
	if (!param_known(id))
		return SN_E_PAYLOAD;
	if (value < param_ranges[id].min || value > param_ranges[id].max)
		return SN_E_PAYLOAD;
	return SN_OK;
}

static uint64_t *param_slot(struct gov_params *p, uint8_t id)
{
	switch (id) {
	case GOV_PARAM_MIN_FEE: return &p->min_fee;
	case GOV_PARAM_MAX_BLOCK_TXS: return &p->max_block_txs;
	case GOV_PARAM_TIMELOCK_BLOCKS: return &p->timelock_blocks;
	case GOV_PARAM_PROPOSAL_MAX_DEADLINE_BLOCKS: return &p->proposal_max_deadline_blocks;
	case GOV_PARAM_MEMPOOL_MAX_TXS: return &p->mempool_max_txs;
	case GOV_PARAM_MEMPOOL_MAX_BYTES: return &p->mempool_max_bytes;
	default: return NULL;
	}
}

int gov_params_check(const struct gov_params *p)
{
	struct gov_params tmp = *p;
	int err;

	for (uint8_t id = GOV_PARAM_FIRST; id <= GOV_PARAM_LAST; id++)
		if ((err = gov_param_check(id, *param_slot(&tmp, id))))
			return err;
	/* A timelock longer than the longest deadline would make every new proposal
	 * impossible to create, governance included: refuse it. */
	if (p->timelock_blocks > p->proposal_max_deadline_blocks)
		return SN_E_PAYLOAD;
	return SN_OK;
}

int gov_params_set(struct gov_params *p, uint8_t id, uint64_t value)
{
	struct gov_params tmp = *p;
	uint64_t *slot = param_slot(&tmp, id);
	int err;

	if (!slot)
		return SN_E_PAYLOAD;
	*slot = value;
	if ((err = gov_params_check(&tmp)))
		return err;
	*p = tmp;
	return SN_OK;
}

int gov_params_get(const struct gov_params *p, uint8_t id, uint64_t *value)
{
	struct gov_params tmp = *p;
	uint64_t *slot = param_slot(&tmp, id);

	*value = 0;
	if (!slot)
		return SN_E_PAYLOAD;
	*value = *slot;
	return SN_OK;
}

/* ------------------------------------------------------------------ names */

static const char *const kind_names[] = {
	[GOV_KIND_CHANGE_VALIDATORS] = "change_validators",
	[GOV_KIND_CHANGE_MEMBERS] = "change_members",
	[GOV_KIND_SET_PARAM] = "set_param",
	[GOV_KIND_TREASURY_SPEND] = "treasury_spend",
	[GOV_KIND_PAUSE_TRANSFERS] = "pause_transfers",
	[GOV_KIND_UNPAUSE_TRANSFERS] = "unpause_transfers",
	[GOV_KIND_SIGNAL_UPGRADE] = "signal_upgrade",
	[GOV_KIND_CANCEL] = "cancel",
};

static bool kind_known(uint8_t kind)
{
	return kind >= GOV_KIND_FIRST && kind <= GOV_KIND_LAST;
}

const char *gov_kind_name(uint8_t kind)
{
	return kind_known(kind) ? kind_names[kind] : "unknown";
}

const char *gov_track_name(uint8_t track)
{
	switch (track) {
	case GOV_TRACK_DEV: return "developers";
	case GOV_TRACK_COMMUNITY: return "community";
	default: return "unknown";
	}
}

const char *gov_param_name(uint8_t id)
{
	return param_known(id) ? param_ranges[id].name : "unknown";
}

int gov_kind_parse(uint8_t *kind, const char *name)
{
	*kind = 0;
	for (uint8_t k = GOV_KIND_FIRST; k <= GOV_KIND_LAST; k++)
		if (strcmp(name, kind_names[k]) == 0) {
			*kind = k;
			return SN_OK;
		}
	return SN_E_INVAL;
}

int gov_param_parse(uint8_t *id, const char *name)
{
	*id = 0;
	for (uint8_t k = GOV_PARAM_FIRST; k <= GOV_PARAM_LAST; k++)
		if (strcmp(name, param_ranges[k].name) == 0) {
			*id = k;
			return SN_OK;
		}
	return SN_E_INVAL;
}

/* ---------------------------------------------------------------- payloads */

static bool upgrade_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

int gov__payload_validate(const struct gov_payload *p)
{
	int err;

	switch (p->kind) {
	case GOV_KIND_CHANGE_VALIDATORS:
		if (p->u.validators.count == 0)
			return SN_E_PAYLOAD;
		if (p->u.validators.count > GOV_VALIDATORS_MAX)
			return SN_E_TOOBIG;
		for (size_t i = 0; i < p->u.validators.count; i++) {
			const struct gov_validator *v = &p->u.validators.v[i];

			if (v->power == 0 || v->power > GOV_VALIDATOR_POWER_MAX)
				return SN_E_PAYLOAD;
			if (i && (err = key_order(v[-1].key, v->key, GOV_VALIDATOR_KEY_LEN)))
				return err;
		}
		return SN_OK;
	case GOV_KIND_CHANGE_MEMBERS:
		if (p->u.members.track != GOV_TRACK_DEV && p->u.members.track != GOV_TRACK_COMMUNITY)
			return SN_E_PAYLOAD;
		return gov_track_members_check(&p->u.members.list);
	case GOV_KIND_SET_PARAM:
		return gov_param_check(p->u.param.id, p->u.param.value);
	case GOV_KIND_TREASURY_SPEND:
		return p->u.spend.amount ? SN_OK : SN_E_PAYLOAD;
	case GOV_KIND_PAUSE_TRANSFERS:
	case GOV_KIND_UNPAUSE_TRANSFERS:
		return SN_OK;
	case GOV_KIND_SIGNAL_UPGRADE:
		if (p->u.upgrade.name_len == 0)
			return SN_E_PAYLOAD;
		if (p->u.upgrade.name_len > GOV_UPGRADE_NAME_MAX)
			return SN_E_TOOBIG;
		for (size_t i = 0; i < p->u.upgrade.name_len; i++)
			if (!upgrade_char_ok(p->u.upgrade.name[i]))
				return SN_E_PAYLOAD;
		if (p->u.upgrade.name[p->u.upgrade.name_len] != '\0')
			return SN_E_PAYLOAD; /* the struct must hold exactly the name */
		return p->u.upgrade.activation_height ? SN_OK : SN_E_PAYLOAD;
	case GOV_KIND_CANCEL:
		return p->u.cancel.proposal_id ? SN_OK : SN_E_PAYLOAD;
	default:
		return SN_E_TYPE;
	}
}

/* payload v1, after u8 version (1), by kind:
 *   CHANGE_VALIDATORS  u16 count | count × ([32] ed25519 key | u64 power), keys ascending
 *   CHANGE_MEMBERS     u8 track | u16 count | count × ([32] x-only key | u32 weight), keys ascending
 *   SET_PARAM          u8 param | u64 value
 *   TREASURY_SPEND     [32] recipient | u64 amount
 *   PAUSE_TRANSFERS    (nothing)
 *   UNPAUSE_TRANSFERS  (nothing)
 *   SIGNAL_UPGRADE     u8 name_len | name | u64 activation_height
 *   CANCEL             u64 proposal_id */
int gov_payload_encode(uint8_t *out, size_t cap, size_t *outlen, const struct gov_payload *p)
{
	struct sn_writer w = sn_writer_init(out, cap);
	int err;

	*outlen = 0;
	if ((err = gov__payload_validate(p)))
		return err;
	sn_write_u8(&w, GOV_PAYLOAD_V1);
	switch (p->kind) {
	case GOV_KIND_CHANGE_VALIDATORS:
		sn_write_le16(&w, p->u.validators.count);
		for (size_t i = 0; i < p->u.validators.count; i++) {
			sn_write_bytes(&w, p->u.validators.v[i].key, GOV_VALIDATOR_KEY_LEN);
			sn_write_le64(&w, p->u.validators.v[i].power);
		}
		break;
	case GOV_KIND_CHANGE_MEMBERS:
		sn_write_u8(&w, p->u.members.track);
		members_write(&w, &p->u.members.list);
		break;
	case GOV_KIND_SET_PARAM:
		sn_write_u8(&w, p->u.param.id);
		sn_write_le64(&w, p->u.param.value);
		break;
	case GOV_KIND_TREASURY_SPEND:
		sn_write_bytes(&w, p->u.spend.recipient, SN_PUBKEY_LEN);
		sn_write_le64(&w, p->u.spend.amount);
		break;
	case GOV_KIND_SIGNAL_UPGRADE:
		sn_write_u8(&w, p->u.upgrade.name_len);
		sn_write_bytes(&w, p->u.upgrade.name, p->u.upgrade.name_len);
		sn_write_le64(&w, p->u.upgrade.activation_height);
		break;
	case GOV_KIND_CANCEL:
		sn_write_le64(&w, p->u.cancel.proposal_id);
		break;
	default: /* PAUSE/UNPAUSE: the version byte only */
		break;
	}
	if (sn_writer_failed(&w))
		return SN_E_TOOBIG;
	*outlen = w.len;
	return SN_OK;
}

int gov_payload_decode(struct gov_payload *p, uint8_t kind, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	uint8_t version;
	int err;

	memset(p, 0, sizeof(*p));
	if (!kind_known(kind))
		return SN_E_TYPE;
	if (len > GOV_PAYLOAD_MAX)
		return SN_E_TOOBIG;
	p->kind = kind;
	version = sn_read_u8(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (version != GOV_PAYLOAD_V1)
		return SN_E_VERSION;
	switch (kind) {
	case GOV_KIND_CHANGE_VALIDATORS:
		p->u.validators.count = sn_read_le16(&r);
		if (sn_reader_failed(&r))
			return SN_E_TRUNCATED;
		if (p->u.validators.count > GOV_VALIDATORS_MAX)
			return SN_E_TOOBIG;
		for (size_t i = 0; i < p->u.validators.count; i++) {
			sn_read_bytes(&r, p->u.validators.v[i].key, GOV_VALIDATOR_KEY_LEN);
			p->u.validators.v[i].power = sn_read_le64(&r);
		}
		break;
	case GOV_KIND_CHANGE_MEMBERS:
		p->u.members.track = sn_read_u8(&r);
		if ((err = members_read(&r, &p->u.members.list)))
			return err;
		break;
	case GOV_KIND_SET_PARAM:
		p->u.param.id = sn_read_u8(&r);
		p->u.param.value = sn_read_le64(&r);
		break;
	case GOV_KIND_TREASURY_SPEND:
		sn_read_bytes(&r, p->u.spend.recipient, SN_PUBKEY_LEN);
		p->u.spend.amount = sn_read_le64(&r);
		break;
	case GOV_KIND_SIGNAL_UPGRADE:
		p->u.upgrade.name_len = sn_read_u8(&r);
		if (sn_reader_failed(&r))
			return SN_E_TRUNCATED;
		if (p->u.upgrade.name_len > GOV_UPGRADE_NAME_MAX)
			return SN_E_TOOBIG;
		sn_read_bytes(&r, p->u.upgrade.name, p->u.upgrade.name_len);
		p->u.upgrade.activation_height = sn_read_le64(&r);
		break;
	case GOV_KIND_CANCEL:
		p->u.cancel.proposal_id = sn_read_le64(&r);
		break;
	default: /* PAUSE/UNPAUSE: nothing after the version */
		break;
	}
	if ((err = sn_reader_finish(&r)))
		return err;
	return gov__payload_validate(p);
}

void gov_payload_hash(uint8_t out[SN_HASH_LEN], uint8_t kind, const uint8_t *payload, size_t len)
{
	struct sn_hasher h;

	sn_hasher_init(&h, GOV_TAG_PAYLOAD);
	sn_hasher_update(&h, &kind, 1);
	if (len)
		sn_hasher_update(&h, payload, len);
	sn_hasher_final(&h, out);
}

/* approval message v1: u8 version (1) | u32 chain_id | u64 proposal_id | [32] payload_hash */
void gov_approval_message(uint8_t out[SN_HASH_LEN], uint32_t chain_id, uint64_t proposal_id,
                          const uint8_t payload_hash[SN_HASH_LEN])
{
	uint8_t buf[1 + 4 + 8 + SN_HASH_LEN];
	struct sn_writer w = sn_writer_init(buf, sizeof(buf));

	sn_write_u8(&w, GOV_APPROVAL_V1);
	sn_write_le32(&w, chain_id);
	sn_write_le64(&w, proposal_id);
	sn_write_bytes(&w, payload_hash, SN_HASH_LEN);
	assert(!sn_writer_failed(&w) && w.len == sizeof(buf));
	sn_hash_tagged(out, GOV_TAG_APPROVAL, buf, sizeof(buf));
}
