/* common/cursor.c — bounds-checked little-endian readers and writers. */
#include "common/common.h"

static const uint8_t *reader_take(struct sn_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->failed || r->left < n) {
		r->failed = true;
		r->left = 0;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t sn_read_u8(struct sn_reader *r)
{
	const uint8_t *p = reader_take(r, 1);

	return p ? p[0] : 0;
}

uint16_t sn_read_le16(struct sn_reader *r)
{
	const uint8_t *p = reader_take(r, 2);

	return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

uint32_t sn_read_le32(struct sn_reader *r)
{
	const uint8_t *p = reader_take(r, 4);

	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
		 : 0;
}

uint64_t sn_read_le64(struct sn_reader *r)
{
	const uint8_t *p = reader_take(r, 8);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void sn_read_bytes(struct sn_reader *r, void *out, size_t n)
{
	const uint8_t *p = reader_take(r, n);

	if (p)
		memcpy(out, p, n);
	else if (n)
		memset(out, 0, n);
}

const uint8_t *sn_read_ptr(struct sn_reader *r, size_t n)
{
	return reader_take(r, n);
}

int sn_reader_finish(const struct sn_reader *r)
{
	if (r->failed)
		return SN_E_TRUNCATED;
	return r->left ? SN_E_TRAILING : SN_OK;
}

static uint8_t *writer_take(struct sn_writer *w, size_t n)
{
	uint8_t *p;

	if (w->failed || w->cap - w->len < n) {
		w->failed = true;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void sn_write_u8(struct sn_writer *w, uint8_t v)
{
	uint8_t *p = writer_take(w, 1);

	if (p)
		p[0] = v;
}

void sn_write_le16(struct sn_writer *w, uint16_t v)
{
	uint8_t *p = writer_take(w, 2);

	if (p) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

void sn_write_le32(struct sn_writer *w, uint32_t v)
{
	uint8_t *p = writer_take(w, 4);

	if (p)
		for (int i = 0; i < 4; i++, v >>= 8)
			p[i] = (uint8_t)v;
}

void sn_write_le64(struct sn_writer *w, uint64_t v)
{
	uint8_t *p = writer_take(w, 8);

	if (p)
		for (int i = 0; i < 8; i++, v >>= 8)
			p[i] = (uint8_t)v;
}

void sn_write_bytes(struct sn_writer *w, const void *src, size_t n)
{
	uint8_t *p = writer_take(w, n);

	if (p && n)
		memcpy(p, src, n);
}
