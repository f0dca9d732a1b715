/* common/sorted.c — lookups in tables sorted by a leading 32-byte key. */
#include "common/common.h"

ptrdiff_t sn_sorted_key_find(const void *base, size_t n, size_t stride, const uint8_t key[32])
{
	const uint8_t *b = base;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(b + mid * stride, key, 32);

		if (c == 0)
			return (ptrdiff_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
