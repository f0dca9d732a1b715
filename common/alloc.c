/* common/alloc.c — the one allocation hook, with fault injection for tests. */
#include "common/common.h"

#include <stdatomic.h>
#include <stdlib.h>

/* 0: never fail. Otherwise the number of allocations still allowed plus one. */
static atomic_ulong fail_countdown;

static bool alloc_should_fail(void)
{
	unsigned long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (c == 0)
		return false;
	if (c == 1)
		return true;
	/* Several threads may race here; failing slightly late is fine for tests. */
	atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
	return false;
}

void sn_alloc_fail_after(unsigned long n)
{
	atomic_store(&fail_countdown, n);
}

void *sn_malloc(size_t n)
{
	return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void *sn_calloc(size_t nmemb, size_t size)
{
	return alloc_should_fail() ? NULL : calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *sn_realloc(void *p, size_t n)
{
	return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

void sn_free(void *p)
{
	free(p);
}
