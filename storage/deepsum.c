/* storage/deepsum.c — the deep cumulative sums index (docs/deep-sums.md).
 *
 * The referral tree is kept as its Euler tour: every account has an enter token and an
 * exit token, and the tokens of an account's descendants lie strictly between its two.
 * A new leaf's two tokens go right after its sponsor's enter token, so the tour of the
 * grown tree stays a tour. An account's team is then one contiguous range of tokens:
 *
 *   team_volume = sum of the personal volumes carried by the tokens in [enter, exit)
 *   team_size   = number of enter tokens in [enter, exit) - 1
 *
 * The tour is stored in a counted B+tree. Leaves hold up to LEAF_CAP tokens in tour order
 * with the personal volume each carries (enter tokens carry the account's, exit tokens 0);
 * inner nodes hold up to FANOUT children with, per child, the number of enter tokens and
 * the volume below it. Every node knows its parent and leaf_of[] maps a token to its leaf.
 * An operation starts at the token's leaf and walks up to the root: the B+tree's height
 * (about log_12 of 2n, 6 levels for two million tokens), whatever the depth of the
 * account in the referral tree. Nothing is recursive.
 *
 * Tokens: enter(s) = 2s, exit(s) = 2s + 1. Leaf ids start at 0; inner ids start at 1 so
 * that 0 means "no parent". */
#include "storage/deepsum_int.h"

#include <assert.h>
#include <sys/mman.h>

#define LEAF_CAP 20      /* tokens per leaf: a leaf is 256 bytes, four cache lines */
#define FANOUT 16        /* children per inner node (448 bytes) */
#define BUILD_LEAF 16    /* tokens per leaf in a bulk build: room for 2 inserts each */
#define BUILD_FANOUT 14
#define MAX_HEIGHT 32    /* inner levels; log_6(2^32) < 13, so never reached */
#define DS_MAX_ACCOUNTS 0x7fffffffu
#define DS_HUGE_PAGE ((size_t)2 << 20)

struct ds_leaf {
	uint32_t parent;          /* inner id, 0 for the root */
	uint32_t n;
	uint32_t tok[LEAF_CAP];
	uint64_t volume[LEAF_CAP]; /* personal volume carried by tok[i] */
	uint64_t pad;
};

struct ds_inner {
	uint32_t parent;          /* inner id, 0 for the root */
	uint16_t n;
	uint16_t leaf_children;   /* child[] are leaf ids (else inner ids) */
	uint32_t child[FANOUT];
	uint32_t count[FANOUT];   /* enter tokens below child[i] */
	unsigned __int128 volume[FANOUT];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct ds_leaf) == 256, "a leaf is four cache lines");
_Static_assert(sizeof(struct ds_inner) == 448, "an inner node is seven cache lines");

/* A growable array of fixed-size elements whose storage is cache-line aligned. */
struct ds_pool {
	void *raw;
	void *base;
	size_t cap; /* elements */
};

struct store_deepsum {
	struct ds_pool leaf_of_pool; /* uint32_t per token */
	struct ds_pool leaf_pool;    /* struct ds_leaf */
	struct ds_pool inner_pool;   /* struct ds_inner, [0] unused */
	uint32_t *leaf_of;
	struct ds_leaf *leaf;
	struct ds_inner *inner;
	uint32_t count;              /* accounts */
	uint32_t capacity;           /* accounts for which every insert is guaranteed */
	uint32_t nleaves, ninner;    /* ninner counts the unused [0] */
	uint32_t root;               /* leaf id if height == 0, else inner id */
	uint32_t height;             /* inner levels above the leaves */
};

static inline uint32_t tok_enter(uint32_t seq) { return 2 * seq; }
static inline uint32_t tok_exit(uint32_t seq) { return 2 * seq + 1; }
static inline bool tok_is_enter(uint32_t t) { return (t & 1) == 0; }
static inline uint32_t tok_seq(uint32_t t) { return t / 2; }

/* ---------------------------------------------------------------- memory */

/* Operations touch a few nodes spread over arrays of tens of MiB: with 4 KiB pages nearly
 * every step is also a TLB miss. Transparent huge pages (where the kernel offers them on
 * request) cover the arrays with a handful of TLB entries. Only a hint. */
static void ds_advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	uintptr_t lo = ((uintptr_t)p + DS_HUGE_PAGE - 1) & ~(uintptr_t)(DS_HUGE_PAGE - 1);
	uintptr_t hi = ((uintptr_t)p + bytes) & ~(uintptr_t)(DS_HUGE_PAGE - 1);

	if (bytes >= 4 * DS_HUGE_PAGE && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* Makes room for cap elements of size elem, keeping the first used ones. */
static int pool_grow(struct ds_pool *pool, size_t cap, size_t elem, size_t used)
{
	void *raw, *base;

	if (cap <= pool->cap)
		return SN_OK;
	if (cap > SIZE_MAX / elem - 64)
		return SN_E_NOMEM;
	raw = sn_malloc(cap * elem + 63);
	if (!raw)
		return SN_E_NOMEM;
	base = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
	ds_advise_huge(base, cap * elem);
	if (used && pool->base)
		memcpy(base, pool->base, (used < pool->cap ? used : pool->cap) * elem);
	sn_free(pool->raw);
	pool->raw = raw;
	pool->base = base;
	pool->cap = cap;
	return SN_OK;
}

static void ds_sync(struct store_deepsum *ds)
{
	ds->leaf_of = ds->leaf_of_pool.base;
	ds->leaf = ds->leaf_pool.base;
	ds->inner = ds->inner_pool.base;
}

/* Every leaf but a lone root holds at least LEAF_CAP/2 - 1 = 9 tokens, so n accounts need
 * at most 2n/9 + 1 leaves; every inner node but the root has at least 7 children (a full
 * node splits 8 + 9; a bulk build deals BUILD_FANOUT evenly), so the inner levels need at
 * most leaves/6 + MAX_HEIGHT nodes. The bounds are generous. */
static size_t leaves_for(uint32_t accounts)
{
	return (size_t)accounts / 4 + 2;
}

static size_t inners_for(uint32_t accounts)
{
	return leaves_for(accounts) / 6 + MAX_HEIGHT + 2;
}

/* Grows the pools to hold the given numbers (not a promise about later inserts). */
static int ds_grow(struct store_deepsum *ds, size_t tokens, size_t leaves, size_t inners)
{
	int err;

	err = pool_grow(&ds->leaf_of_pool, tokens, sizeof(uint32_t), 2 * (size_t)ds->count);
	if (!err)
		err = pool_grow(&ds->leaf_pool, leaves, sizeof(struct ds_leaf), ds->nleaves);
	if (!err)
		err = pool_grow(&ds->inner_pool, inners, sizeof(struct ds_inner), ds->ninner);
	ds_sync(ds);
	return err;
}

int store_deepsum_reserve(struct store_deepsum *ds, uint32_t n)
{
	int err;

	if (n > DS_MAX_ACCOUNTS)
		return SN_E_TOOBIG;
	if (n <= ds->capacity)
		return SN_OK;
	if ((err = ds_grow(ds, 2 * (size_t)n, leaves_for(n), inners_for(n))))
		return err;
	ds->capacity = n;
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
	ds->ninner = 1;
	if ((err = store_deepsum_reserve(ds, capacity))) {
		store_deepsum_free(ds);
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
	sn_free(ds->leaf_of_pool.raw);
	sn_free(ds->leaf_pool.raw);
	sn_free(ds->inner_pool.raw);
	sn_free(ds);
}

uint32_t store_deepsum_count(const struct store_deepsum *ds)
{
	return ds->count;
}

/* ---------------------------------------------------------------- walking up */

static inline uint32_t child_slot(const struct ds_inner *p, uint32_t c)
{
	uint32_t j = 0;

	while (p->child[j] != c)
		j++;
	assert(j < p->n);
	return j;
}

static inline uint32_t leaf_slot(const struct ds_leaf *l, uint32_t t)
{
	uint32_t i = 0;

	while (l->tok[i] != t)
		i++;
	assert(i < l->n);
	return i;
}

/* The slot arrays' lines are requested together with the child[] line, so a level costs
 * one memory latency rather than two in a row (the slot index comes from child[]). */
static inline void inner_prefetch(const struct ds_inner *in)
{
	const char *p = (const char *)in;

	for (size_t off = 64; off < sizeof(*in); off += 64)
		__builtin_prefetch(p + off);
}

/* Adds (count, volume) to the slot of every ancestor of leaf id c. */
static void ds_propagate(struct store_deepsum *ds, uint32_t c, uint32_t count, uint64_t volume)
{
	uint32_t p = ds->leaf[c].parent;

	while (p) {
		struct ds_inner *in = &ds->inner[p];
		uint32_t j;

		inner_prefetch(in);
		j = child_slot(in, c);

		in->count[j] += count;
		in->volume[j] += volume;
		c = p;
		p = in->parent;
	}
}

int store_deepsum_add_volume(struct store_deepsum *ds, uint32_t seq, uint64_t delta)
{
	uint32_t t, l, i;

	if (seq >= ds->count)
		return SN_E_INVAL;
	t = tok_enter(seq);
	l = ds->leaf_of[t];
	i = leaf_slot(&ds->leaf[l], t);
	if (ds->leaf[l].volume[i] > UINT64_MAX - delta)
		return SN_E_OVERFLOW;
	ds->leaf[l].volume[i] += delta;
	ds_propagate(ds, l, 0, delta);
	return SN_OK;
}

/* Everything strictly before token t in tour order. */
static void ds_prefix(const struct store_deepsum *ds, uint32_t t, uint64_t *count,
                      unsigned __int128 *volume)
{
	uint32_t c = ds->leaf_of[t], p;
	const struct ds_leaf *l = &ds->leaf[c];
	uint64_t cnt = 0;
	unsigned __int128 vol = 0;

	for (uint32_t i = 0; l->tok[i] != t; i++) {
		cnt += tok_is_enter(l->tok[i]);
		vol += l->volume[i];
	}
	for (p = l->parent; p; c = p, p = ds->inner[p].parent) {
		const struct ds_inner *in = &ds->inner[p];

		inner_prefetch(in);
		for (uint32_t j = 0; in->child[j] != c; j++) {
			cnt += in->count[j];
			vol += in->volume[j];
		}
	}
	*count = cnt;
	*volume = vol;
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
	ds_prefix(ds, tok_enter(seq), &c_in, &v_in);
	ds_prefix(ds, tok_exit(seq), &c_out, &v_out);
	assert(c_out > c_in);
	*team_size = c_out - c_in - 1;
	*team_volume = v_out - v_in;
	return SN_OK;
}

/* ---------------------------------------------------------------- insert */

struct ds_totals {
	uint32_t count;
	unsigned __int128 volume;
};

static struct ds_totals leaf_totals(const struct ds_leaf *l)
{
	struct ds_totals s = { 0, 0 };

	for (uint32_t i = 0; i < l->n; i++) {
		s.count += tok_is_enter(l->tok[i]);
		s.volume += l->volume[i];
	}
	return s;
}

static struct ds_totals inner_totals(const struct ds_inner *in)
{
	struct ds_totals s = { 0, 0 };

	for (uint32_t j = 0; j < in->n; j++) {
		s.count += in->count[j];
		s.volume += in->volume[j];
	}
	return s;
}

static void set_parent(struct store_deepsum *ds, bool leaf, uint32_t c, uint32_t p)
{
	if (leaf)
		ds->leaf[c].parent = p;
	else
		ds->inner[c].parent = p;
}

/* Puts (c, totals) into slot j of p, shifting the later slots right (p has room). */
static void inner_put(struct store_deepsum *ds, uint32_t p, uint32_t j, uint32_t c,
                      struct ds_totals s)
{
	struct ds_inner *in = &ds->inner[p];

	for (uint32_t k = in->n; k > j; k--) {
		in->child[k] = in->child[k - 1];
		in->count[k] = in->count[k - 1];
		in->volume[k] = in->volume[k - 1];
	}
	in->child[j] = c;
	in->count[j] = s.count;
	in->volume[j] = s.volume;
	in->n++;
	set_parent(ds, in->leaf_children, c, p);
}

/* Node `left` (a leaf if `leaf`) has just been split into left and right (new, placed after
 * it in tour order); their totals are given. Hangs right next to left in left's parent,
 * splitting full inner nodes upward and growing a new root if the old one splits. The
 * pools have room (checked before anything changed). */
static void ds_hang(struct store_deepsum *ds, bool leaf, uint32_t left, struct ds_totals ls,
                    uint32_t right, struct ds_totals rs)
{
	for (;;) {
		uint32_t p = leaf ? ds->leaf[left].parent : ds->inner[left].parent;
		struct ds_inner *in, *q;
		uint32_t j, h, qid;

		if (!p) {
			uint32_t r = ds->ninner++;

			in = &ds->inner[r];
			memset(in, 0, sizeof(*in));
			in->leaf_children = leaf;
			inner_put(ds, r, 0, left, ls);
			inner_put(ds, r, 1, right, rs);
			ds->root = r;
			ds->height++;
			return;
		}
		in = &ds->inner[p];
		j = child_slot(in, left);
		in->count[j] = ls.count;
		in->volume[j] = ls.volume;
		if (in->n < FANOUT) {
			inner_put(ds, p, j + 1, right, rs);
			return;
		}
		/* Split p: slots [h, FANOUT) move to a new node q, then right goes in. */
		qid = ds->ninner++;
		in = &ds->inner[p]; /* (no reallocation happens here; kept for clarity) */
		q = &ds->inner[qid];
		memset(q, 0, sizeof(*q));
		q->leaf_children = in->leaf_children;
		q->parent = in->parent;
		h = FANOUT / 2;
		for (uint32_t k = h; k < FANOUT; k++) {
			q->child[k - h] = in->child[k];
			q->count[k - h] = in->count[k];
			q->volume[k - h] = in->volume[k];
			set_parent(ds, in->leaf_children, in->child[k], qid);
		}
		q->n = FANOUT - h;
		in->n = h;
		if (j + 1 <= h)
			inner_put(ds, p, j + 1, right, rs);
		else
			inner_put(ds, qid, j + 1 - h, right, rs);
		leaf = false;
		left = p;
		ls = inner_totals(in);
		right = qid;
		rs = inner_totals(q);
	}
}

/* How many new leaves and inner nodes inserting into leaf l will take. */
static void ds_need(const struct store_deepsum *ds, uint32_t l, size_t *leaves, size_t *inners)
{
	uint32_t p;

	*leaves = 0;
	*inners = 0;
	if (ds->leaf[l].n + 2 <= LEAF_CAP)
		return;
	*leaves = 1;
	for (p = ds->leaf[l].parent; p && ds->inner[p].n == FANOUT; p = ds->inner[p].parent)
		(*inners)++;
	if (!p)
		(*inners)++; /* a new root */
}

static int ds_make_room(struct store_deepsum *ds, size_t leaves, size_t inners)
{
	size_t tok = 2 * (size_t)ds->count + 2;
	size_t nl = ds->nleaves + leaves, ni = ds->ninner + inners;

	if (tok <= ds->leaf_of_pool.cap && nl <= ds->leaf_pool.cap && ni <= ds->inner_pool.cap)
		return SN_OK;
	/* Outside a reservation: grow by half again. */
	return ds_grow(ds, tok > ds->leaf_of_pool.cap ? tok + tok / 2 + 64 : 0,
	               nl > ds->leaf_pool.cap ? nl + nl / 2 + 16 : 0,
	               ni > ds->inner_pool.cap ? ni + ni / 2 + 16 : 0);
}

int store_deepsum_insert(struct store_deepsum *ds, uint32_t seq, uint32_t parent, uint64_t pvol)
{
	uint32_t e = tok_enter(seq), x = tok_exit(seq), l = 0, i;
	struct ds_leaf *lf;
	size_t need_leaves = 1, need_inners = 0;
	int err;

	if (seq != ds->count || (seq > 0 && parent >= seq))
		return SN_E_INVAL;
	if (seq >= DS_MAX_ACCOUNTS)
		return SN_E_TOOBIG;
	if (seq > 0) {
		l = ds->leaf_of[tok_enter(parent)];
		ds_need(ds, l, &need_leaves, &need_inners);
	}
	if ((err = ds_make_room(ds, need_leaves, need_inners)))
		return err;
	if (seq == 0) {
		lf = &ds->leaf[ds->nleaves++];
		memset(lf, 0, sizeof(*lf));
		lf->n = 2;
		lf->tok[0] = e;
		lf->volume[0] = pvol;
		lf->tok[1] = x;
		ds->leaf_of[e] = ds->leaf_of[x] = 0;
		ds->root = 0;
		ds->height = 0;
		ds->count = 1;
		return SN_OK;
	}
	lf = &ds->leaf[l];
	i = leaf_slot(lf, tok_enter(parent)) + 1; /* the new tokens go at i and i + 1 */
	if (lf->n + 2 > LEAF_CAP) {
		uint32_t rid = ds->nleaves++, h = lf->n / 2;
		struct ds_leaf *rf = &ds->leaf[rid];

		memset(rf, 0, sizeof(*rf));
		rf->parent = lf->parent;
		rf->n = lf->n - h;
		memcpy(rf->tok, lf->tok + h, rf->n * sizeof(rf->tok[0]));
		memcpy(rf->volume, lf->volume + h, rf->n * sizeof(rf->volume[0]));
		lf->n = h;
		for (uint32_t k = 0; k < rf->n; k++)
			ds->leaf_of[rf->tok[k]] = rid;
		ds_hang(ds, true, l, leaf_totals(lf), rid, leaf_totals(rf));
		if (i > h) {
			l = rid;
			lf = rf;
			i -= h;
		}
	}
	for (uint32_t k = lf->n + 1; k > i + 1; k--) {
		lf->tok[k] = lf->tok[k - 2];
		lf->volume[k] = lf->volume[k - 2];
	}
	lf->tok[i] = e;
	lf->volume[i] = pvol;
	lf->tok[i + 1] = x;
	lf->volume[i + 1] = 0;
	lf->n += 2;
	ds->leaf_of[e] = ds->leaf_of[x] = l;
	ds_propagate(ds, l, 1, pvol);
	ds->count++;
	return SN_OK;
}

/* ---------------------------------------------------------------- bulk build */

/* Lays the tour into leaves of BUILD_LEAF tokens (dealt evenly, so none is nearly empty)
 * and the inner levels bottom-up, BUILD_FANOUT children each: O(n), sequential writes. */
struct ds_builder {
	struct store_deepsum *ds;
	const uint64_t *pvol;
	uint64_t tokens, done;     /* tokens in all, tokens laid so far */
	uint32_t nleaves, cur;     /* leaves to fill, the leaf being filled */
};

/* Token k (0-based in tour order) goes to leaf k * nleaves / tokens: an even deal. */
static void ds_lay(struct ds_builder *b, uint32_t t)
{
	struct store_deepsum *ds = b->ds;
	uint32_t l = (uint32_t)(b->done * b->nleaves / b->tokens);
	struct ds_leaf *lf = &ds->leaf[l];

	if (l != b->cur || b->done == 0) {
		memset(lf, 0, sizeof(*lf));
		b->cur = l;
	}
	lf->tok[lf->n] = t;
	lf->volume[lf->n] = tok_is_enter(t) ? b->pvol[tok_seq(t)] : 0;
	lf->n++;
	ds->leaf_of[t] = l;
	b->done++;
}

/* The inner levels over nodes [first, first + m) of the level below. */
static void ds_build_inner(struct store_deepsum *ds, uint32_t m)
{
	bool leaf = true;
	uint32_t first = 0;

	while (m > 1) {
		uint32_t groups = (m + BUILD_FANOUT - 1) / BUILD_FANOUT;
		uint32_t base = ds->ninner;

		for (uint32_t g = 0; g < groups; g++)
			memset(&ds->inner[base + g], 0, sizeof(ds->inner[0]));
		for (uint32_t k = 0; k < m; k++) {
			uint32_t p = base + (uint32_t)((uint64_t)k * groups / m);
			uint32_t c = first + k;
			struct ds_totals s = leaf ? leaf_totals(&ds->leaf[c]) : inner_totals(&ds->inner[c]);
			struct ds_inner *in = &ds->inner[p];

			in->leaf_children = leaf;
			in->child[in->n] = c;
			in->count[in->n] = s.count;
			in->volume[in->n] = s.volume;
			in->n++;
			set_parent(ds, leaf, c, p);
		}
		ds->ninner += groups;
		ds->height++;
		first = base;
		m = groups;
		leaf = false;
	}
	ds->root = first;
	if (leaf)
		ds->leaf[first].parent = 0;
	else
		ds->inner[first].parent = 0;
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
	if (!end || !kids || !stack) {
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
	b.tokens = 2 * (uint64_t)n;
	b.nleaves = (uint32_t)((b.tokens + BUILD_LEAF - 1) / BUILD_LEAF);
	assert(b.nleaves <= ds->leaf_pool.cap);
	sp = 0;
	ds_lay(&b, tok_enter(0));
	stack[sp][0] = 0;
	stack[sp][1] = 0;
	sp++;
	while (sp > 0) {
		uint32_t s = stack[sp - 1][0], next = stack[sp - 1][1];

		if (next < end[s]) {
			uint32_t c = kids[next];

			stack[sp - 1][1] = next + 1;
			ds_lay(&b, tok_enter(c));
			stack[sp][0] = c;
			stack[sp][1] = end[c - 1];
			sp++;
		} else {
			ds_lay(&b, tok_exit(s));
			sp--;
		}
	}
	ds->nleaves = b.nleaves;
	ds->count = n;
	ds_build_inner(ds, b.nleaves);
	err = SN_OK;
out:
	sn_free(end);
	sn_free(kids);
	sn_free(stack);
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
	return sizeof(*ds) + ds->leaf_of_pool.cap * sizeof(uint32_t) +
	       ds->leaf_pool.cap * sizeof(struct ds_leaf) + ds->inner_pool.cap * sizeof(struct ds_inner);
}

size_t store__deepsum_bytes_used(const struct store_deepsum *ds)
{
	return sizeof(*ds) + 2 * (size_t)ds->count * sizeof(uint32_t) +
	       ds->nleaves * sizeof(struct ds_leaf) + ds->ninner * sizeof(struct ds_inner);
}

int store__deepsum_check(const struct store_deepsum *ds)
{
	struct frame {
		uint32_t node, next;
	} stack[MAX_HEIGHT + 1];
	uint64_t tokens = 2 * (uint64_t)ds->count, seen = 0;
	uint32_t *open = NULL, depth = 0, sp = 0, leaves_seen = 0;
	int err = SN_E_CORRUPT;

	if (ds->count == 0)
		return ds->nleaves == 0 && ds->ninner == 1 ? SN_OK : SN_E_CORRUPT;
	if (ds->nleaves > ds->leaf_pool.cap || ds->ninner > ds->inner_pool.cap ||
	    tokens > ds->leaf_of_pool.cap || ds->height > MAX_HEIGHT)
		return SN_E_CORRUPT;
	open = sn_malloc((size_t)ds->count * sizeof(*open));
	if (!open)
		return SN_E_NOMEM;
	if (ds->height == 0) {
		if (ds->root >= ds->nleaves || ds->leaf[ds->root].parent != 0)
			goto out;
	} else {
		if (ds->root < 1 || ds->root >= ds->ninner || ds->inner[ds->root].parent != 0)
			goto out;
	}
	/* Depth-first over the B+tree: frames are inner nodes; leaves are visited inline. */
	if (ds->height > 0)
		stack[sp++] = (struct frame){ ds->root, 0 };
	for (;;) {
		uint32_t l;

		if (sp > 0) {
			struct frame *f = &stack[sp - 1];
			const struct ds_inner *in = &ds->inner[f->node];
			struct ds_totals s;
			uint32_t c;

			if (in->n < 1 || in->n > FANOUT || (sp > 1 && in->n < 2))
				goto out;
			if (f->next == in->n) {
				sp--;
				if (sp == 0)
					break;
				continue;
			}
			c = in->child[f->next++];
			if (in->leaf_children != (sp == ds->height))
				goto out;
			if (!in->leaf_children) {
				if (c < 1 || c >= ds->ninner || ds->inner[c].parent != f->node)
					goto out;
				s = inner_totals(&ds->inner[c]);
				if (s.count != in->count[f->next - 1] || s.volume != in->volume[f->next - 1])
					goto out;
				stack[sp++] = (struct frame){ c, 0 };
				continue;
			}
			if (c >= ds->nleaves || ds->leaf[c].parent != f->node)
				goto out;
			s = leaf_totals(&ds->leaf[c]);
			if (s.count != in->count[f->next - 1] || s.volume != in->volume[f->next - 1])
				goto out;
			l = c;
		} else {
			l = ds->root;
		}
		/* A leaf: its tokens continue the tour. */
		leaves_seen++;
		if (ds->leaf[l].n < 1 || ds->leaf[l].n > LEAF_CAP)
			goto out;
		for (uint32_t i = 0; i < ds->leaf[l].n; i++) {
			uint32_t t = ds->leaf[l].tok[i];

			if (t >= tokens || ds->leaf_of[t] != l || seen++ >= tokens)
				goto out;
			if (tok_is_enter(t)) {
				uint32_t s = tok_seq(t);

				if (depth == 0 ? (s != 0 || seen != 1) : open[depth - 1] >= s)
					goto out;
				open[depth++] = s;
			} else if (ds->leaf[l].volume[i] != 0 || depth == 0 || open[--depth] != tok_seq(t)) {
				goto out;
			}
		}
		if (sp == 0)
			break;
	}
	if (seen == tokens && depth == 0 && leaves_seen == ds->nleaves)
		err = SN_OK;
out:
	sn_free(open);
	return err;
}

void store__deepsum_shape(const struct store_deepsum *ds, uint32_t *levels, double *leaf_fill)
{
	*levels = ds->count ? ds->height + 1 : 0;
	*leaf_fill = ds->nleaves ? 2.0 * ds->count / ((double)ds->nleaves * LEAF_CAP) : 0;
}
