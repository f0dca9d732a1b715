/* tests/fuzz/fuzz_node_mempool_file.c — node_mempool_file_decode (a saved mempool, chain 1)
 * on arbitrary bytes. A refusal is one of the documented errors and hands out nothing; an
 * accepted file hands out its transactions in order, and encoding them again gives back
 * exactly the input. */
#include "tests/fuzz/fuzz.h"
#include "node/mempool_int.h"

#include <stdlib.h>

struct seen {
	const uint8_t **raws;
	size_t *lens;
	size_t n, cap;
};

static int take(void *ud, const uint8_t *raw, size_t len)
{
	struct seen *s = ud;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->raws = realloc(s->raws, s->cap * sizeof(*s->raws));
		s->lens = realloc(s->lens, s->cap * sizeof(*s->lens));
		if (!s->raws || !s->lens)
			abort();
	}
	s->raws[s->n] = raw;
	s->lens[s->n++] = len;
	return SN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	uint8_t *enc;
	size_t len;
	int err;

	if (sn_crypto_init() != SN_OK)
		abort();
	err = node_mempool_file_decode(data, size, 1, take, &s);
	if (err != SN_OK) {
		CHECK(err == SN_E_TRUNCATED || err == SN_E_TRAILING || err == SN_E_VERSION || err == SN_E_CHAIN ||
		      err == SN_E_TOOBIG || err == SN_E_CORRUPT);
		CHECK(s.n == 0);
	} else {
		for (size_t i = 0; i < s.n; i++)
			CHECK(s.lens[i] >= 1 && s.lens[i] <= STORE_TX_MAX && s.raws[i] >= data &&
			      s.raws[i] + s.lens[i] <= data + size);
		CHECK(node_mempool_file_encode(s.raws, s.lens, s.n, 1, &enc, &len) == SN_OK);
		CHECK(len == size && memcmp(enc, data, size) == 0);
		sn_free(enc);
	}
	free(s.raws);
	free(s.lens);
	return 0;
}
