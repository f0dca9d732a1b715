/* storage/deepsum.c — the deep cumulative sums index (docs/deep-sums.md).
 *
 * The referral tree is kept as its Euler tour: every account has an enter token and an
 * exit token, and the tokens of an account's descendants lie strictly between its two.
 * A new leaf's two tokens go right after its sponsor's enter token, so the tour of the
 * grown tree stays a tour. An account's team is then one contiguous range of tokens:
 *
 *   team_volume = sum of personal volumes carried by the tokens in [enter, exit)
 *   team_size   = number of enter tokens in [enter, exit) - 1
 *
 * The tour is stored as a treap (a binary search tree ordered by tour position, heap
 * ordered by a keyed hash of the token number) with parent links and, in every node, the
 * aggregates of its subtree: the number of enter tokens and the sum of volumes. Only
 * enter tokens carry volume (the account's personal volume). Every operation walks
 * between one node and the treap root — O(log n) expected, independent of how deep the
 * account sits in the referral tree — and nothing is recursive.
 *
 * Node numbers are token numbers: enter(s) = 2s + 2, exit(s) = 2s + 3, so an account's
 * two nodes share one 64-byte cache line; node 0 is the nil node (all zero, never
 * written) and node 1 is unused. */
#include "storage/deepsum_int.h"

#include <assert.h>
#include <sys/mman.h>

/* Largest number of accounts: every token number must fit a u32. */
#define DS_MAX_ACCOUNTS 0x7ffffffeu
#define DS_NODE_ALIGN 64
#define DS_MIN_GROW 1024u
#define DS_HUGE_PAGE ((uintptr_t)2 << 20)

/* 32 bytes: two nodes per cache line. */
struct ds_node {
	uint32_t left, right, parent;
	uint32_t count;            /* enter tokens in this subtree */
	unsigned __int128 volume;  /* personal volumes of the enter tokens in this subtree */
};

struct store_deepsum {
	struct ds_node *node; /* DS_NODE_ALIGN-aligned view into raw */
	void *raw;
	uint32_t count;       /* accounts */
	uint32_t capacity;    /* accounts that fit node[] */
	uint32_t root;        /* 0 when empty */
	uint64_t seed;        /* keys the priorities; secret, so inputs cannot unbalance */
};

static inline uint32_t tok_enter(uint32_t seq) { return 2 * seq + 2; }
static inline uint32_t tok_exit(uint32_t seq) { return 2 * seq + 3; }
static inline bool tok_is_enter(uint32_t t) { return (t & 1) == 0; }
static inline uint32_t tok_seq(uint32_t t) { return t / 2 - 1; }

/* A bijection of the token number keyed by the seed (splitmix64's finaliser), so no two
 * tokens ever share a priority. Not stored: recomputing costs less than a cache miss. */
static inline uint64_t ds_prio(const struct store_deepsum *ds, uint32_t t)
{
	uint64_t z = ((uint64_t)t ^ ds->seed) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t ds_nodes_for(uint32_t accounts)
{
	return 2 * (size_t)accounts + 2;
}

/* Operations walk ~2 log2(n) nodes spread over the whole array: with 4 KiB pages nearly
 * each step is also a TLB miss. Transparent huge pages (where the kernel offers them on
 * request) cover the array with a few dozen TLB entries. Only a hint: failure is fine. */
static void ds_advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	uintptr_t lo = ((uintptr_t)p + DS_HUGE_PAGE - 1) & ~(uintptr_t)(DS_HUGE_PAGE - 1);
	uintptr_t hi = ((uintptr_t)p + bytes) & ~(uintptr_t)(DS_HUGE_PAGE - 1);

	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* Moves the nodes into an array for new_cap accounts (new_cap >= count). */
static int ds_resize(struct store_deepsum *ds, uint32_t new_cap)
{
	size_t bytes = ds_nodes_for(new_cap) * sizeof(struct ds_node);
	void *raw = sn_malloc(bytes + DS_NODE_ALIGN - 1);
	struct ds_node *node;

	if (!raw)
		return SN_E_NOMEM;
	node = (struct ds_node *)(((uintptr_t)raw + DS_NODE_ALIGN - 1) & ~(uintptr_t)(DS_NODE_ALIGN - 1));
	ds_advise_huge(node, bytes);
	if (ds->node)
		memcpy(node, ds->node, ds_nodes_for(ds->count) * sizeof(struct ds_node));
	else
		memset(node, 0, 2 * sizeof(struct ds_node));
	sn_free(ds->raw);
	ds->raw = raw;
	ds->node = node;
	ds->capacity = new_cap;
	return SN_OK;
}

static int ds_alloc(struct store_deepsum **out, uint32_t capacity)
{
	struct store_deepsum *ds;
	int err;

	*out = NULL;
	if (capacity > DS_MAX_ACCOUNTS)
		return SN_E_TOOBIG;
	ds = sn_calloc(1, sizeof(*ds));
	if (!ds)
		return SN_E_NOMEM;
	sn_random_bytes(&ds->seed, sizeof(ds->seed));
	if ((err = ds_resize(ds, capacity))) {
		sn_free(ds);
		return err;
	}
	*out = ds;
	return SN_OK;
}

int store_deepsum_new(struct store_deepsum **out, uint32_t capacity)
{
	return ds_alloc(out, capacity);
}

void store_deepsum_free(struct store_deepsum *ds)
{
	if (!ds)
		return;
	sn_free(ds->raw);
	sn_free(ds);
}

uint32_t store_deepsum_count(const struct store_deepsum *ds)
{
	return ds->count;
}

int store_deepsum_reserve(struct store_deepsum *ds, uint32_t n)
{
	if (n > DS_MAX_ACCOUNTS)
		return SN_E_TOOBIG;
	if (n <= ds->capacity)
		return SN_OK;
	return ds_resize(ds, n);
}

/* Lifts n above its parent p, keeping the in-order sequence and fixing both aggregates
 * (the pair's combined subtree, and so every ancestor above, is unchanged). */
static void ds_rotate_up(struct store_deepsum *ds, uint32_t n)
{
	struct ds_node *node = ds->node;
	uint32_t p = node[n].parent, g = node[p].parent, b;
	uint32_t n_count = node[n].count;
	unsigned __int128 n_volume = node[n].volume;

	if (node[p].left == n) {
		b = node[n].right;
		node[p].left = b;
		node[n].right = p;
	} else {
		b = node[n].left;
		node[p].right = b;
		node[n].left = p;
	}
	if (b)
		node[b].parent = p;
	node[p].parent = n;
	node[n].parent = g;
	if (!g)
		ds->root = n;
	else if (node[g].left == p)
		node[g].left = n;
	else
		node[g].right = n;
	node[n].count = node[p].count;
	node[n].volume = node[p].volume;
	node[p].count = node[p].count - n_count + node[b].count;
	node[p].volume = node[p].volume - n_volume + node[b].volume;
}

/* Links the fresh node t (own aggregates count/volume) right after node y in tour order
 * (as the root if the tree is empty), adds its aggregates to every ancestor, then restores
 * the heap order by rotating it up. */
static void ds_link_after(struct store_deepsum *ds, uint32_t y, uint32_t t, uint32_t count,
                          uint64_t volume)
{
	struct ds_node *node = ds->node;
	uint64_t prio;
	uint32_t p;

	node[t].left = node[t].right = 0;
	node[t].count = count;
	node[t].volume = volume;
	if (!y) {
		assert(ds->root == 0);
		node[t].parent = 0;
		ds->root = t;
		return;
	}
	if (!node[y].right) {
		node[y].right = t;
		p = y;
	} else {
		p = node[y].right;
		while (node[p].left)
			p = node[p].left;
		node[p].left = t;
	}
	node[t].parent = p;
	if (count || volume) {
		for (uint32_t q = p; q; q = node[q].parent) {
			node[q].count += count;
			node[q].volume += volume;
		}
	}
	prio = ds_prio(ds, t);
	while ((p = node[t].parent) && ds_prio(ds, p) < prio)
		ds_rotate_up(ds, t);
}

int store_deepsum_insert(struct store_deepsum *ds, uint32_t seq, uint32_t parent, uint64_t pvol)
{
	uint32_t e;
	int err;

	if (seq != ds->count || (seq > 0 && parent >= seq))
		return SN_E_INVAL;
	if (seq >= DS_MAX_ACCOUNTS)
		return SN_E_TOOBIG;
	if (seq == ds->capacity) {
		uint32_t grow = ds->capacity / 2 > DS_MIN_GROW ? ds->capacity / 2 : DS_MIN_GROW;
		uint32_t cap = DS_MAX_ACCOUNTS - ds->capacity > grow ? ds->capacity + grow : DS_MAX_ACCOUNTS;

		if ((err = ds_resize(ds, cap)))
			return err;
	}
	e = tok_enter(seq);
	ds_link_after(ds, seq ? tok_enter(parent) : 0, e, 1, pvol);
	ds_link_after(ds, e, tok_exit(seq), 0, 0); /* carries nothing: no ancestor changes */
	ds->count++;
	return SN_OK;
}

int store_deepsum_add_volume(struct store_deepsum *ds, uint32_t seq, uint64_t delta)
{
	struct ds_node *node = ds->node;

	if (seq >= ds->count)
		return SN_E_INVAL;
	for (uint32_t t = tok_enter(seq); t; t = node[t].parent)
		node[t].volume += delta;
	return SN_OK;
}

/* Aggregates of every token strictly before t in tour order: its left subtree, plus, at
 * each step up from a right child, the parent and the parent's left subtree. */
static void ds_prefix(const struct ds_node *node, uint32_t t, uint64_t *count,
                      unsigned __int128 *volume)
{
	uint32_t l = node[t].left;
	uint64_t c = node[l].count;
	unsigned __int128 v = node[l].volume;

	for (uint32_t x = t, p = node[t].parent; p; x = p, p = node[p].parent) {
		if (node[p].right == x) {
			c += node[p].count - node[x].count;
			v += node[p].volume - node[x].volume;
		}
	}
	*count = c;
	*volume = v;
}

int store_deepsum_team(const struct store_deepsum *ds, uint32_t seq, uint64_t *team_size,
                       unsigned __int128 *team_volume)
{
	uint64_t c_in, c_out;
	unsigned __int128 v_in, v_out;

	*team_size = 0;
	*team_volume = 0;
	if (seq >= ds->count)
		return SN_E_INVAL;
	ds_prefix(ds->node, tok_enter(seq), &c_in, &v_in);
	ds_prefix(ds->node, tok_exit(seq), &c_out, &v_out);
	assert(c_out > c_in);
	*team_size = c_out - c_in - 1;
	*team_volume = v_out - v_in;
	return SN_OK;
}

/* ---------------------------------------------------------------- bulk build */

/* The treap of a whole tour at once: tokens arrive in tour order and hang off the right
 * spine (a stack), the classic O(n) Cartesian-tree construction. A node popped off the
 * spine never changes again, so its aggregates are summed right then (its right child
 * was popped just before it, its left child when it was pushed). */
struct ds_builder {
	struct store_deepsum *ds;
	const uint64_t *pvol;
	uint32_t *spine;
	uint32_t depth;
};

static void ds_finish(struct ds_builder *b, uint32_t t)
{
	struct ds_node *node = b->ds->node;
	uint32_t l = node[t].left, r = node[t].right;

	node[t].count = node[l].count + node[r].count;
	node[t].volume = node[l].volume + node[r].volume;
	if (tok_is_enter(t)) {
		node[t].count++;
		node[t].volume += b->pvol[tok_seq(t)];
	}
}

static void ds_push(struct ds_builder *b, uint32_t t)
{
	struct ds_node *node = b->ds->node;
	uint64_t prio = ds_prio(b->ds, t);
	uint32_t last = 0;

	while (b->depth > 0 && ds_prio(b->ds, b->spine[b->depth - 1]) < prio) {
		last = b->spine[--b->depth];
		ds_finish(b, last);
	}
	node[t].left = last;
	node[t].right = 0;
	if (last)
		node[last].parent = t;
	if (b->depth > 0) {
		node[b->spine[b->depth - 1]].right = t;
		node[t].parent = b->spine[b->depth - 1];
	} else {
		node[t].parent = 0;
	}
	b->spine[b->depth++] = t;
}

int store_deepsum_build(struct store_deepsum **out, const uint32_t *parent, const uint64_t *pvol,
                        uint32_t n)
{
	struct store_deepsum *ds = NULL;
	struct ds_builder b = { 0 };
	uint32_t *end = NULL, *kids = NULL, (*stack)[2] = NULL;
	uint32_t sp;
	int err;

	*out = NULL;
	if (n > 0 && (!parent || !pvol))
		return SN_E_INVAL;
	if (n > DS_MAX_ACCOUNTS)
		return SN_E_TOOBIG;
	for (uint32_t i = 1; i < n; i++) {
		if (parent[i] >= i)
			return SN_E_INVAL;
	}
	if ((err = ds_alloc(&ds, n)))
		return err;
	if (n == 0) {
		*out = ds;
		return SN_OK;
	}
	/* Children lists by counting sort: kids[end[p-1] .. end[p]) are p's children, newest
	 * first (the order incremental inserts give). stack: (account, next child index). */
	end = sn_calloc((size_t)n + 1, sizeof(*end));
	kids = sn_malloc((size_t)n * sizeof(*kids));
	stack = sn_malloc((size_t)n * sizeof(*stack));
	b.spine = sn_malloc(2 * (size_t)n * sizeof(*b.spine));
	if (!end || !kids || !stack || !b.spine) {
		err = SN_E_NOMEM;
		goto out;
	}
	for (uint32_t i = 1; i < n; i++)
		end[parent[i] + 1]++;
	for (uint32_t p = 0; p < n; p++)
		end[p + 1] += end[p];
	for (uint32_t i = n - 1; i >= 1; i--)
		kids[end[parent[i]]++] = i;
	/* Now end[p] is the end of p's list and the start of p+1's. */

	b.ds = ds;
	b.pvol = pvol;
	sp = 0;
	ds_push(&b, tok_enter(0));
	stack[sp][0] = 0;
	stack[sp][1] = 0;
	sp++;
	while (sp > 0) {
		uint32_t s = stack[sp - 1][0], next = stack[sp - 1][1];

		if (next < end[s]) {
			uint32_t c = kids[next];

			stack[sp - 1][1] = next + 1;
			ds_push(&b, tok_enter(c));
			stack[sp][0] = c;
			stack[sp][1] = c ? end[c - 1] : 0;
			sp++;
		} else {
			ds_push(&b, tok_exit(s));
			sp--;
		}
	}
	while (b.depth > 0)
		ds_finish(&b, b.spine[--b.depth]);
	ds->root = b.spine[0];
	ds->count = n;
	err = SN_OK;
out:
	sn_free(end);
	sn_free(kids);
	sn_free(stack);
	sn_free(b.spine);
	if (err) {
		store_deepsum_free(ds);
		return err;
	}
	*out = ds;
	return SN_OK;
}

/* ---------------------------------------------------------------- checks */

size_t store__deepsum_bytes(const struct store_deepsum *ds)
{
	return sizeof(*ds) + ds_nodes_for(ds->capacity) * sizeof(struct ds_node) + DS_NODE_ALIGN - 1;
}

static uint32_t ds_leftmost(const struct ds_node *node, uint32_t t)
{
	while (node[t].left)
		t = node[t].left;
	return t;
}

int store__deepsum_check(const struct store_deepsum *ds)
{
	const struct ds_node *node = ds->node;
	uint64_t tokens = 2 * (uint64_t)ds->count, seen = 0;
	uint32_t *open = NULL, depth = 0, t;
	int err = SN_E_CORRUPT;

	if (ds->count > ds->capacity || ds->capacity > DS_MAX_ACCOUNTS)
		return SN_E_CORRUPT;
	if (node[0].left || node[0].right || node[0].parent || node[0].count || node[0].volume)
		return SN_E_CORRUPT;
	if (ds->count == 0)
		return ds->root == 0 ? SN_OK : SN_E_CORRUPT;
	if (ds->root < 2 || ds->root >= tokens + 2 || node[ds->root].parent != 0)
		return SN_E_CORRUPT;
	open = sn_malloc((size_t)ds->count * sizeof(*open));
	if (!open)
		return SN_E_NOMEM;
	/* In-order walk through the parent links (no recursion, no stack). */
	for (t = ds_leftmost(node, ds->root); t; seen++) {
		uint32_t l, r;
		uint64_t c;

		if (seen >= tokens || t < 2 || t >= tokens + 2)
			goto out;
		l = node[t].left;
		r = node[t].right;
		if ((l && (l < 2 || l >= tokens + 2)) || (r && (r < 2 || r >= tokens + 2)))
			goto out;
		c = (uint64_t)node[l].count + node[r].count + tok_is_enter(t);
		if ((l && (node[l].parent != t || ds_prio(ds, l) > ds_prio(ds, t))) ||
		    (r && (node[r].parent != t || ds_prio(ds, r) > ds_prio(ds, t))))
			goto out;
		if (node[t].count != c)
			goto out;
		if (tok_is_enter(t) ? node[t].volume < node[l].volume + node[r].volume
		                    : node[t].volume != node[l].volume + node[r].volume)
			goto out;
		/* The tour: balanced, the root outermost, each account inside a smaller one. */
		if (tok_is_enter(t)) {
			uint32_t s = tok_seq(t);

			if (depth == 0 ? (s != 0 || seen != 0) : open[depth - 1] >= s)
				goto out;
			open[depth++] = s;
		} else if (depth == 0 || open[--depth] != tok_seq(t)) {
			goto out;
		}
		if (r) {
			t = ds_leftmost(node, r);
		} else {
			while (node[t].parent && node[node[t].parent].right == t)
				t = node[t].parent;
			t = node[t].parent;
		}
	}
	if (seen == tokens && depth == 0 && node[ds->root].count == ds->count)
		err = SN_OK;
out:
	sn_free(open);
	return err;
}

void store__deepsum_shape(const struct store_deepsum *ds, uint32_t *height, double *mean_depth)
{
	const struct ds_node *node = ds->node;
	uint64_t sum = 0;
	uint32_t h = 0;

	/* Every enter token's distance to the root: O(n log n), diagnostics only. */
	for (uint32_t s = 0; s < ds->count; s++) {
		uint32_t d = 0;

		for (uint32_t t = tok_enter(s); t; t = node[t].parent)
			d++;
		sum += d;
		if (d > h)
			h = d;
	}
	for (uint32_t s = 0; s < ds->count; s++) {
		uint32_t d = 0;

		for (uint32_t t = tok_exit(s); t; t = node[t].parent)
			d++;
		if (d > h)
			h = d;
	}
	*height = h;
	*mean_depth = ds->count ? (double)sum / ds->count : 0;
}
