/* net/peers.c — the peer manager: address book (seeds, persistent peers, addresses learnt
 * through peer exchange), outbound dialing in task-group batches with backoff and jitter,
 * inbound and outbound caps, keepalive, misbehaviour scores and bans, transaction gossip.
 * The pure parts (backoff, seen-cache, ban list codec) are at the top. docs/p2p.md, "Peers". */
#include "net/net_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <uv.h>

#define SUBSYS "p2p"
#define TICK_MS 100u
#define GET_PEERS_MIN_GAP_MS 1000u /* a peer asking more often is ignored */
#define RECOVER_MS 60000u          /* a score recovers one point per minute */
#define DIAL_SLACK_MS 2000u
#define TX_TAG "settled-p2p-tx"

/* ================================================================ pure parts */

uint64_t net__backoff_ms(unsigned attempts, uint64_t min_ms, uint64_t max_ms, uint64_t rnd)
{
	uint64_t d = min_ms ? min_ms : 1;

	for (unsigned i = 0; i < attempts && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d - d / 2 + (d / 2 ? rnd % (d / 2 + 1) : 0);
}

struct net__seen {
	size_t gen_max, mask;
	uint8_t (*tab[2])[SN_HASH_LEN];
	uint8_t *used[2];
	size_t cnt[2];
	int cur;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

int net__seen_new(struct net__seen **out, size_t max)
{
	struct net__seen *s;
	size_t slots = 16;

	*out = NULL;
	if (max < 2)
		return SN_E_INVAL;
	s = sn_calloc(1, sizeof(*s));
	if (!s)
		return SN_E_NOMEM;
	s->gen_max = max / 2;
	while (slots < 2 * s->gen_max)
		slots *= 2;
	s->mask = slots - 1;
	for (int g = 0; g < 2; g++) {
		s->tab[g] = sn_malloc(slots * SN_HASH_LEN);
		s->used[g] = sn_calloc(slots, 1);
		if (!s->tab[g] || !s->used[g]) {
			net__seen_free(s);
			return SN_E_NOMEM;
		}
	}
	randombytes_buf(s->key, sizeof(s->key));
	*out = s;
	return SN_OK;
}

void net__seen_free(struct net__seen *s)
{
	if (!s)
		return;
	for (int g = 0; g < 2; g++) {
		sn_free(s->tab[g]);
		sn_free(s->used[g]);
	}
	sn_free(s);
}

static size_t seen_slot(const struct net__seen *s, const uint8_t id[SN_HASH_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, id, SN_HASH_LEN, s->key);
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)h[i] << (8 * i);
	return (size_t)v & s->mask;
}

static bool seen_gen_has(const struct net__seen *s, int g, const uint8_t id[SN_HASH_LEN], size_t i)
{
	for (; s->used[g][i]; i = (i + 1) & s->mask)
		if (memcmp(s->tab[g][i], id, SN_HASH_LEN) == 0)
			return true;
	return false;
}

bool net__seen_has(const struct net__seen *s, const uint8_t id[SN_HASH_LEN])
{
	size_t i = seen_slot(s, id);

	return seen_gen_has(s, 0, id, i) || seen_gen_has(s, 1, id, i);
}

bool net__seen_add(struct net__seen *s, const uint8_t id[SN_HASH_LEN])
{
	size_t i = seen_slot(s, id);
	int g;

	if (seen_gen_has(s, 0, id, i) || seen_gen_has(s, 1, id, i))
		return false;
	if (s->cnt[s->cur] >= s->gen_max) { /* forget the older generation */
		s->cur ^= 1;
		memset(s->used[s->cur], 0, s->mask + 1);
		s->cnt[s->cur] = 0;
	}
	g = s->cur;
	while (s->used[g][i])
		i = (i + 1) & s->mask;
	memcpy(s->tab[g][i], id, SN_HASH_LEN);
	s->used[g][i] = 1;
	s->cnt[g]++;
	return true;
}

size_t net__seen_count(const struct net__seen *s)
{
	return s->cnt[0] + s->cnt[1];
}

static bool id_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

int net__bans_encode(uint8_t **out, size_t *len, const struct net_ban *b, size_t n)
{
	size_t cap = 3 + n * (1 + NET_ID_MAX + 8);
	uint8_t *buf;
	struct sn_writer w;

	*out = NULL;
	*len = 0;
	if (n > NET_BANS_MAX)
		return SN_E_TOOBIG;
	buf = sn_malloc(cap);
	if (!buf)
		return SN_E_NOMEM;
	w = sn_writer_init(buf, cap);
	sn_write_u8(&w, NET__BANS_VERSION);
	sn_write_le16(&w, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t l = strnlen(b[i].id, NET_ID_MAX);

		if (l == 0 || l >= NET_ID_MAX || !id_printable(b[i].id, l)) {
			sn_free(buf);
			return SN_E_INVAL;
		}
		sn_write_u8(&w, (uint8_t)l);
		sn_write_bytes(&w, b[i].id, l);
		sn_write_le64(&w, b[i].until_ms);
	}
	assert(!sn_writer_failed(&w));
	*out = buf;
	*len = w.len;
	return SN_OK;
}

int net__bans_decode(struct net_ban *b, size_t cap, size_t *n, const uint8_t *in, size_t len)
{
	struct sn_reader r = sn_reader_init(in, len);
	size_t count;

	*n = 0;
	if (sn_read_u8(&r) != NET__BANS_VERSION)
		return sn_reader_failed(&r) ? SN_E_TRUNCATED : SN_E_VERSION;
	count = sn_read_le16(&r);
	if (sn_reader_failed(&r))
		return SN_E_TRUNCATED;
	if (count > NET_BANS_MAX || count > cap)
		return SN_E_TOOBIG;
	for (size_t i = 0; i < count; i++) {
		size_t l = sn_read_u8(&r);

		memset(&b[i], 0, sizeof(b[i]));
		if (sn_reader_failed(&r))
			return SN_E_TRUNCATED;
		if (l == 0 || l >= NET_ID_MAX)
			return SN_E_TOOBIG;
		sn_read_bytes(&r, b[i].id, l);
		b[i].until_ms = sn_read_le64(&r);
		if (sn_reader_failed(&r))
			return SN_E_TRUNCATED;
		if (!id_printable(b[i].id, l))
			return SN_E_NONCANONICAL;
	}
	if (sn_reader_left(&r))
		return SN_E_TRAILING;
	*n = count;
	return SN_OK;
}

/* ================================================================ the manager */

enum book_src { SRC_SEED, SRC_PERSISTENT, SRC_LEARNT };

/* A known address. Entries live in a fixed array, so pointers to them stay valid. */
struct book {
	bool used;
	struct net_addr a;
	char ip[INET6_ADDRSTRLEN];
	char s[64];
	enum book_src src;
	bool self;          /* it is us */
	bool key_known;     /* from PEERS, or a connection to it */
	uint8_t key[NET_NODE_KEY_LEN];
	struct peer *peer;  /* our outbound connection to it, NULL if none */
	unsigned attempts;  /* failed dials in a row */
	uint64_t next_try;  /* loop time */
	uint64_t added;
};

struct dial_task;

struct peer {
	struct net_peers *pm;
	struct peer *prev, *next;
	struct net_conn *c;
	uint64_t id;
	bool inbound, open;
	struct book *book;      /* outbound: the address dialled */
	struct dial_task *dial; /* while its dial task runs */
	uint8_t key[NET_NODE_KEY_LEN];
	char ip[INET6_ADDRSTRLEN];
	char addr[64];
	uint64_t connected_at;
	uint64_t ping_nonce, ping_sent, last_ping;
	bool ping_out;
	int64_t rtt_ms;
	uint64_t last_get_peers, last_pex;
	bool asked_peers;
	double tx_tokens;        /* its transaction budget (NET_TX_RATE_DEFAULT) */
	uint64_t tx_refilled;    /* when the budget was last refilled (monotonic ms) */
	uint32_t tx_dropped;     /* over budget since the last flood penalty */
	int blame;               /* penalty decided before closing, given in on_close */
	int blame_err;
	char blame_reason[NET_REASON_MAX];
};

struct dial_task {
	struct net_peers *pm;
	struct book *b;
	struct peer *p;
	struct sn_task *t;
};

struct dial_batch {
	struct net_peers *pm;
	struct dial_batch *next;
	struct sn_taskgroup *g;
	size_t n;
	struct dial_task tasks[];
};

struct score {
	char id[NET_ID_MAX];
	int score;
	uint64_t touched;
};

struct net_peers {
	uv_loop_t *loop;
	struct net_transport *t;
	uv_timer_t tick;
	bool started, closing, tick_closed, transport_closed;
	net_peers_closed_cb *closed_cb;
	void *closed_ud;
	uint8_t node_key[NET_NODE_KEY_LEN];
	unsigned max_in, max_out;
	uint64_t ping_interval, ping_timeout, backoff_min, backoff_max, pex_interval, ban_ms,
	        hs_timeout;
	uint32_t tx_rate; /* new transactions per second each peer may send */
	uint64_t (*wall_ms)(void *ud);
	void (*random)(void *buf, size_t len, void *ud);
	net_peers_tx_cb *on_tx;
	net_peers_bans_cb *on_bans;
	void *ud;

	struct peer *peers;
	uint64_t next_id;
	struct book *book; /* NET_ADDRBOOK_MAX */
	struct score *scores;
	size_t n_scores;
	struct net_ban *bans;
	size_t n_bans;
	struct net_peer_drop drops[NET_DROPS_MAX];
	size_t n_drops, drops_head;
	struct net__seen *seen;
	struct dial_batch *batches;
	struct net_peers_summary stats;
};

static uint64_t now_mono(const struct net_peers *pm)
{
	return uv_now(pm->loop);
}

static uint64_t now_wall(const struct net_peers *pm)
{
	uv_timeval64_t tv;

	if (pm->wall_ms)
		return pm->wall_ms(pm->ud);
	if (uv_gettimeofday(&tv) != 0)
		return 0;
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static uint64_t rand64(const struct net_peers *pm)
{
	uint64_t v;

	if (pm->random)
		pm->random(&v, sizeof(v), pm->ud);
	else
		sn_random_bytes(&v, sizeof(v));
	return v;
}

static void key_id(char out[NET_ID_MAX], const uint8_t key[NET_NODE_KEY_LEN])
{
	memcpy(out, "key:", 4);
	sn_hex_encode(out + 4, key, NET_NODE_KEY_LEN);
}

static void ip_id(char out[NET_ID_MAX], const char *ip)
{
	snprintf(out, NET_ID_MAX, "ip:%s", ip);
}

/* Splits "ip:port" / "[ip]:port" into the ip. */
static void addr_ip(char *ip, size_t cap, const char *addr)
{
	const char *end;

	if (addr[0] == '[') {
		end = strchr(addr, ']');
		addr++;
	} else {
		end = strrchr(addr, ':');
	}
	if (!end || (size_t)(end - addr) >= cap) {
		snprintf(ip, cap, "?");
		return;
	}
	memcpy(ip, addr, (size_t)(end - addr));
	ip[end - addr] = '\0';
}

/* ------------------------------------------------------------------ scores */

static struct score *score_get(struct net_peers *pm, const char *id, bool create)
{
	struct score *oldest = NULL;
	uint64_t now = now_mono(pm);

	for (size_t i = 0; i < pm->n_scores; i++) {
		struct score *s = &pm->scores[i];

		if (strcmp(s->id, id) == 0) {
			uint64_t gained = (now - s->touched) / RECOVER_MS;

			if (gained) {
				s->score = s->score + (int)gained > NET_SCORE_START ? NET_SCORE_START
				                                                    : s->score + (int)gained;
				s->touched += gained * RECOVER_MS;
			}
			return s;
		}
		if (!oldest || s->touched < oldest->touched)
			oldest = s;
	}
	if (!create)
		return NULL;
	if (pm->n_scores < NET_SCORES_MAX)
		oldest = &pm->scores[pm->n_scores++];
	snprintf(oldest->id, sizeof(oldest->id), "%s", id);
	oldest->score = NET_SCORE_START;
	oldest->touched = now;
	return oldest;
}

static int score_of(struct net_peers *pm, const char *id)
{
	struct score *s = score_get(pm, id, false);

	return s ? s->score : NET_SCORE_START;
}

/* ------------------------------------------------------------------- bans */

static void bans_prune(struct net_peers *pm, uint64_t wall)
{
	size_t k = 0;

	for (size_t i = 0; i < pm->n_bans; i++)
		if (pm->bans[i].until_ms > wall)
			pm->bans[k++] = pm->bans[i];
	pm->n_bans = k;
}

static void bans_changed(struct net_peers *pm)
{
	uint8_t *buf;
	size_t len;

	if (!pm->on_bans)
		return;
	if (net__bans_encode(&buf, &len, pm->bans, pm->n_bans) != SN_OK) {
		SN_LOG(SN_LOG_ERROR, SUBSYS, "cannot encode the ban list");
		return;
	}
	pm->on_bans(buf, len, pm->ud);
	sn_free(buf);
}

static bool is_banned(struct net_peers *pm, const char *id)
{
	uint64_t wall = now_wall(pm);

	for (size_t i = 0; i < pm->n_bans; i++)
		if (strcmp(pm->bans[i].id, id) == 0 && pm->bans[i].until_ms > wall)
			return true;
	return false;
}

static void ban_add(struct net_peers *pm, const char *id)
{
	uint64_t wall = now_wall(pm);
	struct net_ban *b = NULL;

	bans_prune(pm, wall);
	for (size_t i = 0; i < pm->n_bans && !b; i++)
		if (strcmp(pm->bans[i].id, id) == 0)
			b = &pm->bans[i];
	if (!b && pm->n_bans < NET_BANS_MAX)
		b = &pm->bans[pm->n_bans++];
	if (!b) { /* full: replace the one expiring first */
		b = &pm->bans[0];
		for (size_t i = 1; i < pm->n_bans; i++)
			if (pm->bans[i].until_ms < b->until_ms)
				b = &pm->bans[i];
	}
	snprintf(b->id, sizeof(b->id), "%s", id);
	b->until_ms = wall + pm->ban_ms;
	SN_LOG(SN_LOG_WARN, SUBSYS, "banned %s for %" PRIu64 " s", id, pm->ban_ms / 1000);
	bans_changed(pm);
}

/* ------------------------------------------------------------------ peers */

static struct peer *peer_by_id(struct net_peers *pm, uint64_t id)
{
	for (struct peer *p = pm->peers; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void peer_identity(const struct peer *p, char id[NET_ID_MAX])
{
	if (p->open)
		key_id(id, p->key);
	else
		ip_id(id, p->ip);
}

/* Takes points off p's identity; drops p (with reason) when it reaches 0, and bans it. */
static void peer_blame(struct peer *p, int points, int err, const char *why)
{
	struct net_peers *pm = p->pm;
	char id[NET_ID_MAX];
	struct score *s;

	if (points <= 0)
		return;
	peer_identity(p, id);
	s = score_get(pm, id, true);
	s->score -= points;
	s->touched = now_mono(pm);
	SN_LOG(SN_LOG_INFO, SUBSYS, "peer %s (%s) scored -%d to %d: %s", p->addr, id, points, s->score,
	       why);
	if (s->score <= 0 && !is_banned(pm, id)) {
		ban_add(pm, id);
		if (!p->blame) {
			p->blame_err = err;
			snprintf(p->blame_reason, sizeof(p->blame_reason), "banned: %s", why);
		}
		/* Every connection of the identity goes. */
		for (struct peer *q = pm->peers; q; q = q->next) {
			char qid[NET_ID_MAX];

			peer_identity(q, qid);
			if (strcmp(qid, id) == 0)
				net_conn_close(q->c);
		}
	}
}

/* Drops p for misbehaviour: the penalty is given when on_close runs. */
static void peer_drop(struct peer *p, int points, int err, const char *why)
{
	if (!p->blame_reason[0]) {
		p->blame_err = err;
		snprintf(p->blame_reason, sizeof(p->blame_reason), "%s", why);
	}
	peer_blame(p, points, err, why);
	p->blame = 1;
	net_conn_close(p->c);
}

static int peer_send(struct peer *p, const struct net_msg *m)
{
	uint8_t buf[NET_MSG_PEERS_MAX > 8 ? NET_MSG_PEERS_MAX : 8];
	size_t n;
	int rc;

	if (m->type == NET_MSG_TX) {
		rc = net_conn_send(p->c, NET_MSG_TX, m->u.tx.bytes, m->u.tx.len);
	} else {
		rc = net_msg_encode(buf, sizeof(buf), &n, m);
		if (rc == SN_OK)
			rc = net_conn_send(p->c, m->type, buf, n);
	}
	if (rc == SN_E_BUSY)
		peer_drop(p, NET_PENALTY_SLOW, SN_E_BUSY, "send queue full: the peer does not read");
	return rc;
}

static void record_drop(struct net_peers *pm, struct peer *p, int err, const char *reason)
{
	struct net_peer_drop *d = &pm->drops[pm->drops_head];
	char id[NET_ID_MAX];

	pm->drops_head = (pm->drops_head + 1) % NET_DROPS_MAX;
	if (pm->n_drops < NET_DROPS_MAX)
		pm->n_drops++;
	memset(d, 0, sizeof(*d));
	peer_identity(p, id);
	snprintf(d->addr, sizeof(d->addr), "%s", p->addr);
	d->has_key = p->open;
	if (p->open)
		memcpy(d->node_key, p->key, NET_NODE_KEY_LEN);
	d->inbound = p->inbound;
	d->banned = is_banned(pm, id);
	d->score = score_of(pm, id);
	d->err = err;
	snprintf(d->reason, sizeof(d->reason), "%s", reason);
	d->wall_ms = now_wall(pm);
}

static struct peer *peer_new(struct net_peers *pm, struct net_conn *c, bool inbound)
{
	struct peer *p = sn_calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pm = pm;
	p->c = c;
	p->id = ++pm->next_id;
	p->inbound = inbound;
	p->rtt_ms = -1;
	snprintf(p->addr, sizeof(p->addr), "%s", net_conn_peer_addr(c));
	addr_ip(p->ip, sizeof(p->ip), p->addr);
	p->next = pm->peers;
	if (pm->peers)
		pm->peers->prev = p;
	pm->peers = p;
	net_conn_set_data(c, p);
	return p;
}

static void peer_unlink(struct peer *p)
{
	struct net_peers *pm = p->pm;

	if (p->prev)
		p->prev->next = p->next;
	else
		pm->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	sn_free(p);
}

static size_t count_peers(const struct net_peers *pm, bool inbound, bool count_persistent)
{
	size_t n = 0;

	for (const struct peer *p = pm->peers; p; p = p->next)
		if (p->inbound == inbound &&
		    (count_persistent || !p->book || p->book->src != SRC_PERSISTENT))
			n++;
	return n;
}

static void dial_finished(struct peer *p);

/* ------------------------------------------------------------ address book */

static struct book *book_find(struct net_peers *pm, const struct net_addr *a)
{
	for (size_t i = 0; i < NET_ADDRBOOK_MAX; i++) {
		struct book *b = &pm->book[i];

		if (b->used && b->a.family == a->family && b->a.port == a->port &&
		    memcmp(b->a.ip, a->ip, a->family == 4 ? 4 : 16) == 0)
			return b;
	}
	return NULL;
}

static struct book *book_add(struct net_peers *pm, const struct net_addr *a, enum book_src src)
{
	struct book *b = book_find(pm, a), *victim = NULL;

	if (b) {
		if (src < b->src)
			b->src = src; /* a seed or persistent peer keeps its rank */
		return b;
	}
	for (size_t i = 0; i < NET_ADDRBOOK_MAX; i++) {
		struct book *e = &pm->book[i];

		if (!e->used) {
			victim = e;
			break;
		}
		if (e->src == SRC_LEARNT && !e->peer && (!victim || e->added < victim->added))
			victim = e;
	}
	if (!victim)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->a = *a;
	victim->src = src;
	victim->added = now_mono(pm);
	if (net_addr_format(victim->s, sizeof(victim->s), a) != SN_OK)
		return NULL;
	addr_ip(victim->ip, sizeof(victim->ip), victim->s);
	return victim;
}

static bool key_connected(const struct net_peers *pm, const uint8_t key[NET_NODE_KEY_LEN])
{
	for (const struct peer *p = pm->peers; p; p = p->next)
		if (p->open && memcmp(p->key, key, NET_NODE_KEY_LEN) == 0)
			return true;
	return false;
}

/* -------------------------------------------------------------- dialing */

static int dial_start(struct sn_task *t, void *arg)
{
	struct dial_task *dt = arg;
	struct net_peers *pm = dt->pm;
	struct book *b = dt->b;
	struct net_conn *c;
	int rc;

	dt->t = t;
	rc = net_transport_dial(pm->t, &c, b->ip, b->a.port);
	if (rc != SN_OK) {
		b->attempts++;
		b->next_try = now_mono(pm) + net__backoff_ms(b->attempts, pm->backoff_min,
		                                             pm->backoff_max, rand64(pm));
		SN_LOG(SN_LOG_DEBUG, SUBSYS, "dial %s: %s", b->s, sn_strerror(rc));
		sn_task_done(t, SN_OK); /* a failed dial must not cancel the batch */
		return SN_OK;
	}
	dt->p = peer_new(pm, c, false);
	if (!dt->p) {
		net_conn_set_data(c, NULL);
		net_conn_close(c);
		b->next_try = now_mono(pm) + pm->backoff_max;
		sn_task_done(t, SN_OK);
		return SN_OK;
	}
	dt->p->book = b;
	dt->p->dial = dt;
	b->peer = dt->p;
	return SN_OK;
}

static void dial_cancel(struct sn_task *t, void *arg)
{
	struct dial_task *dt = arg;

	(void)t;
	if (dt->p)
		net_conn_close(dt->p->c); /* its on_close finishes the task */
}

/* The dial's outcome is known (connected, or closed): the task is done. A failed dial is
 * not a failure of the batch (it would cancel the other dials): it is recorded on the
 * address and the task ends well. */
static void dial_finished(struct peer *p)
{
	struct dial_task *dt = p->dial;

	if (!dt)
		return;
	p->dial = NULL;
	dt->p = NULL;
	sn_task_done(dt->t, SN_OK);
}

static void peers_maybe_done(struct net_peers *pm);

static void batch_done(void *ud, int err, const struct sn_task_error *errs, size_t nerrs)
{
	struct dial_batch *bt = ud, **pp;
	struct net_peers *pm = bt->pm;

	for (size_t i = 0; i < nerrs; i++)
		SN_LOG(SN_LOG_DEBUG, SUBSYS, "dial task %s: %s (%s)", errs[i].task, errs[i].message,
		       sn_errname(errs[i].code));
	(void)err;
	for (pp = &pm->batches; *pp; pp = &(*pp)->next)
		if (*pp == bt) {
			*pp = bt->next;
			break;
		}
	sn_free(bt);
	peers_maybe_done(pm);
}

static void dial_batch(struct net_peers *pm, struct book **bs, size_t n)
{
	struct dial_batch *bt = sn_calloc(1, sizeof(*bt) + n * sizeof(bt->tasks[0]));
	int rc;

	size_t i;

	if (!bt || sn_taskgroup_new(&bt->g, pm->loop, pm->hs_timeout + DIAL_SLACK_MS) != SN_OK) {
		for (i = 0; i < n; i++)
			bs[i]->next_try = now_mono(pm) + pm->backoff_min;
		sn_free(bt);
		return;
	}
	bt->pm = pm;
	bt->n = n;
	bt->next = pm->batches;
	pm->batches = bt;
	for (i = 0; i < n; i++) {
		struct sn_task_spec spec = { .name = bs[i]->s, .start = dial_start, .cancel = dial_cancel,
			                     .arg = &bt->tasks[i] };

		bt->tasks[i].pm = pm;
		bt->tasks[i].b = bs[i];
		if (sn_task_create(NULL, bt->g, &spec) != SN_OK)
			break;
	}
	for (; i < n; i++) /* not started: try again later */
		bs[i]->next_try = now_mono(pm) + pm->backoff_min;
	rc = sn_taskgroup_close(bt->g, batch_done, bt);
	assert(rc == SN_OK);
	(void)rc;
}

/* Picks the addresses to dial now: persistent peers always, others while outbound slots
 * are free, in an order that starts at a random entry. */
static void dial_some(struct net_peers *pm)
{
	struct book *pick[NET_ADDRBOOK_MAX];
	size_t n = 0, out = count_peers(pm, false, false);
	size_t start = (size_t)(rand64(pm) % NET_ADDRBOOK_MAX);
	uint64_t now = now_mono(pm);

	for (size_t k = 0; k < NET_ADDRBOOK_MAX; k++) {
		struct book *b = &pm->book[(start + k) % NET_ADDRBOOK_MAX];
		char id[NET_ID_MAX];

		if (!b->used || b->self || b->peer || b->next_try > now)
			continue;
		if (b->key_known &&
		    (memcmp(b->key, pm->node_key, NET_NODE_KEY_LEN) == 0 || key_connected(pm, b->key)))
			continue;
		ip_id(id, b->ip);
		if (is_banned(pm, id))
			continue;
		if (b->key_known) {
			key_id(id, b->key);
			if (is_banned(pm, id))
				continue;
		}
		if (b->src != SRC_PERSISTENT) {
			if (out >= pm->max_out)
				continue;
			out++;
		}
		b->next_try = UINT64_MAX; /* until the dial ends */
		pick[n++] = b;
	}
	if (n)
		dial_batch(pm, pick, n);
}

/* --------------------------------------------------------- transport events */

static void on_accept(struct net_conn *c, void *ud)
{
	struct net_peers *pm = ud;
	struct peer *p = peer_new(pm, c, true);
	char id[NET_ID_MAX];

	if (!p) {
		net_conn_close(c);
		return;
	}
	ip_id(id, p->ip);
	if (is_banned(pm, id)) {
		snprintf(p->blame_reason, sizeof(p->blame_reason), "address is banned");
		p->blame_err = SN_E_BANNED;
		net_conn_close(c);
	} else if (count_peers(pm, true, true) > pm->max_in) {
		snprintf(p->blame_reason, sizeof(p->blame_reason), "too many inbound peers (%u)",
		         pm->max_in);
		p->blame_err = SN_E_BUSY;
		net_conn_close(c);
	}
}

static void send_get_peers(struct peer *p)
{
	struct net_msg m = { .type = NET_MSG_GET_PEERS };

	p->asked_peers = true;
	p->last_pex = now_mono(p->pm);
	(void)peer_send(p, &m);
}

/* Of two connections between the same pair of nodes, the one dialled by the smaller node
 * key stays (both sides decide alike). */
static bool conn_preferred(const struct net_peers *pm, const struct peer *p)
{
	const uint8_t *dialler = p->inbound ? p->key : pm->node_key;
	const uint8_t *other = p->inbound ? pm->node_key : p->key;

	return memcmp(dialler, other, NET_NODE_KEY_LEN) < 0;
}

static void on_connect(struct net_conn *c, const uint8_t key[NET_NODE_KEY_LEN], void *ud)
{
	struct net_peers *pm = ud;
	struct peer *p = net_conn_data(c), *dup = NULL;
	char id[NET_ID_MAX];

	if (!p)
		return;
	memcpy(p->key, key, NET_NODE_KEY_LEN);
	for (struct peer *q = pm->peers; q; q = q->next)
		if (q != p && q->open && memcmp(q->key, key, NET_NODE_KEY_LEN) == 0)
			dup = q;
	p->open = true;
	p->connected_at = p->last_ping = p->last_pex = p->tx_refilled = now_mono(pm);
	p->tx_tokens = 2.0 * pm->tx_rate;
	if (p->book) {
		p->book->key_known = true;
		memcpy(p->book->key, key, NET_NODE_KEY_LEN);
		p->book->attempts = 0;
	}
	dial_finished(p);
	key_id(id, key);
	if (is_banned(pm, id)) {
		snprintf(p->blame_reason, sizeof(p->blame_reason), "node key is banned");
		p->blame_err = SN_E_BANNED;
		net_conn_close(c);
		return;
	}
	if (dup) {
		/* Keep one connection per node. */
		struct peer *drop = conn_preferred(pm, p) && !conn_preferred(pm, dup) ? dup : p;

		snprintf(drop->blame_reason, sizeof(drop->blame_reason), "already connected to this node");
		net_conn_close(drop->c);
		if (drop == p)
			return;
	}
	SN_LOG(SN_LOG_INFO, SUBSYS, "%s peer %s connected (%s)", p->inbound ? "inbound" : "outbound",
	       p->addr, net_conn_hello(c)->user_agent);
	send_get_peers(p);
}

static void handle_get_peers(struct peer *p)
{
	struct net_peers *pm = p->pm;
	struct net_msg m = { .type = NET_MSG_PEERS };
	uint64_t now = now_mono(pm);

	if (p->last_get_peers && now - p->last_get_peers < GET_PEERS_MIN_GAP_MS)
		return; /* too often: ignored */
	p->last_get_peers = now;
	for (struct peer *q = pm->peers; q && m.u.peers.n < NET_PEERS_MAX; q = q->next) {
		const struct net_hello *h;
		struct net_peer_addr *e = &m.u.peers.addrs[m.u.peers.n];
		char s[80];

		if (q == p || !q->open || !(h = net_conn_hello(q->c)) || h->listen_port == 0)
			continue;
		/* The address it listens on: the one we reached it at, with its announced port. */
		snprintf(s, sizeof(s), strchr(q->ip, ':') ? "[%s]:%u" : "%s:%u", q->ip, h->listen_port);
		if (net_addr_parse(&e->addr, s) != SN_OK)
			continue;
		memcpy(e->node_key, q->key, NET_NODE_KEY_LEN);
		m.u.peers.n++;
	}
	(void)peer_send(p, &m);
}

static void handle_peers(struct peer *p, const struct net_msg *m)
{
	struct net_peers *pm = p->pm;

	if (!p->asked_peers) {
		peer_blame(p, NET_PENALTY_UNSOLICITED, SN_E_TYPE, "unsolicited PEERS");
		return;
	}
	p->asked_peers = false;
	for (size_t i = 0; i < m->u.peers.n; i++) {
		const struct net_peer_addr *e = &m->u.peers.addrs[i];
		struct book *b;

		if (memcmp(e->node_key, pm->node_key, NET_NODE_KEY_LEN) == 0)
			continue; /* us */
		b = book_add(pm, &e->addr, SRC_LEARNT);
		if (b && !b->key_known) {
			b->key_known = true;
			memcpy(b->key, e->node_key, NET_NODE_KEY_LEN);
		}
	}
}

/* Refills p's transaction budget for the time elapsed and takes cost tokens if it can. */
static bool tx_budget_take(struct peer *p, double cost)
{
	struct net_peers *pm = p->pm;
	uint64_t now = now_mono(pm);
	double cap = 2.0 * pm->tx_rate;

	p->tx_tokens += (double)(now - p->tx_refilled) * pm->tx_rate / 1000.0;
	if (p->tx_tokens > cap)
		p->tx_tokens = cap;
	p->tx_refilled = now;
	if (p->tx_tokens < cost)
		return false;
	p->tx_tokens -= cost;
	return true;
}

static void handle_tx(struct peer *p, const uint8_t *tx, size_t len)
{
	struct net_peers *pm = p->pm;
	uint8_t d[SN_HASH_LEN];

	pm->stats.txs_received++;
	sn_hash_tagged(d, TX_TAG, tx, len);
	if (net__seen_has(pm->seen, d)) {
		pm->stats.txs_duplicate++;
		return;
	}
	if (!tx_budget_take(p, 1.0)) {
		/* Not marked seen: the same transaction from an honest peer still gets in. */
		pm->stats.txs_over_budget++;
		if (++p->tx_dropped >= NET_TX_FLOOD_DROPS) {
			p->tx_dropped = 0;
			peer_blame(p, NET_PENALTY_FLOOD, SN_E_BUSY, "floods transactions over its budget");
		}
		return;
	}
	(void)net__seen_add(pm->seen, d);
	if (pm->on_tx)
		pm->on_tx(pm, p->id, tx, len, pm->ud);
}

static void on_message(struct net_conn *c, uint16_t type, const uint8_t *payload, size_t len,
                       void *ud)
{
	struct peer *p = net_conn_data(c);
	struct net_msg m;

	(void)ud;
	if (!p || net_msg_decode(&m, type, payload, len) != SN_OK)
		return; /* the transport validated it */
	switch (type) {
	case NET_MSG_PING: {
		struct net_msg pong = { .type = NET_MSG_PONG, .u.nonce = m.u.nonce };

		(void)peer_send(p, &pong);
		break;
	}
	case NET_MSG_PONG:
		if (p->ping_out && m.u.nonce == p->ping_nonce) {
			p->ping_out = false;
			p->rtt_ms = (int64_t)(now_mono(p->pm) - p->ping_sent);
		}
		break;
	case NET_MSG_TX:
		handle_tx(p, m.u.tx.bytes, m.u.tx.len);
		break;
	case NET_MSG_GET_PEERS:
		handle_get_peers(p);
		break;
	case NET_MSG_PEERS:
		handle_peers(p, &m);
		break;
	default:
		break;
	}
}

/* Points for how the transport dropped a peer. */
static int close_penalty(const struct peer *p, int err)
{
	switch (err) {
	case SN_OK:
	case SN_E_CANCELLED:
	case SN_E_IO:
	case SN_E_NOMEM:
	case SN_E_SELF:
		return 0;
	case SN_E_TRUNCATED:
		return p->open ? NET_PENALTY_PROTOCOL : 0; /* pre-handshake: e.g. our caps */
	case SN_E_TIMEOUT:
		return NET_PENALTY_SLOW;
	case SN_E_CHAIN:
		return NET_PENALTY_CHAIN;
	case SN_E_VERSION:
		return p->open ? NET_PENALTY_PROTOCOL : NET_PENALTY_GARBAGE;
	case SN_E_TOOBIG:
		return NET_PENALTY_TOOBIG;
	default: /* BADSIG, BADKEY, TYPE, TRAILING, NONCANONICAL */
		return p->open ? NET_PENALTY_PROTOCOL : NET_PENALTY_GARBAGE;
	}
}

static void on_close(struct net_conn *c, int err, const char *reason, void *ud)
{
	struct net_peers *pm = ud;
	struct peer *p = net_conn_data(c);
	struct book *b;

	if (!p)
		return;
	if (err != SN_OK && err != SN_E_CANCELLED && !pm->closing)
		peer_blame(p, close_penalty(p, err), err, reason);
	if (p->blame_reason[0]) { /* we closed it, for this */
		err = p->blame_err;
		reason = p->blame_reason;
	}
	if (err != SN_E_CANCELLED && (p->open || p->inbound || err != SN_E_IO))
		record_drop(pm, p, err, reason);
	if (p->open)
		SN_LOG(SN_LOG_INFO, SUBSYS, "peer %s disconnected: %s", p->addr, reason);
	b = p->book;
	if (b) {
		b->peer = NULL;
		if (err == SN_E_SELF) {
			b->self = true;
		} else {
			if (!p->open)
				b->attempts++;
			b->next_try = now_mono(pm) + net__backoff_ms(b->attempts, pm->backoff_min,
			                                             pm->backoff_max, rand64(pm));
		}
	}
	dial_finished(p);
	peer_unlink(p);
}

/* ------------------------------------------------------------------ tick */

static void keepalive(struct net_peers *pm)
{
	uint64_t now = now_mono(pm);
	struct peer *p, *next;

	for (p = pm->peers; p; p = next) {
		next = p->next;
		if (!p->open || p->blame)
			continue;
		if (p->ping_out && now - p->ping_sent > pm->ping_timeout) {
			peer_drop(p, NET_PENALTY_SLOW, SN_E_TIMEOUT, "PING not answered in time");
			continue;
		}
		if (!p->ping_out && now - p->last_ping >= pm->ping_interval) {
			struct net_msg m = { .type = NET_MSG_PING };

			m.u.nonce = rand64(pm);
			p->ping_nonce = m.u.nonce;
			p->ping_sent = p->last_ping = now;
			p->ping_out = true;
			if (peer_send(p, &m) != SN_OK)
				continue;
		}
		if (now - p->last_pex >= pm->pex_interval)
			send_get_peers(p);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct net_peers *pm = t->data;

	if (pm->closing)
		return;
	keepalive(pm);
	dial_some(pm);
	if (pm->n_bans) {
		size_t before = pm->n_bans;

		bans_prune(pm, now_wall(pm));
		if (pm->n_bans != before)
			bans_changed(pm);
	}
}

/* ------------------------------------------------------------- public API */

int net_peers_new(struct net_peers **out, struct uv_loop_s *loop, const struct net_peers_opts *o)
{
	struct net_peers *pm;
	struct net_opts no = { 0 };
	struct net_addr a;
	int rc;

	*out = NULL;
	if (!loop || !o || !o->node_seckey || (o->n_seeds && !o->seeds) ||
	    (o->n_persistent && !o->persistent) || o->n_seeds + o->n_persistent > NET_ADDRBOOK_MAX)
		return SN_E_INVAL;
	for (size_t i = 0; i < o->n_seeds; i++)
		if (net_addr_parse(&a, o->seeds[i]) != SN_OK)
			return SN_E_INVAL;
	for (size_t i = 0; i < o->n_persistent; i++)
		if (net_addr_parse(&a, o->persistent[i]) != SN_OK)
			return SN_E_INVAL;
	pm = sn_calloc(1, sizeof(*pm));
	if (!pm)
		return SN_E_NOMEM;
	pm->loop = loop;
	pm->max_in = o->max_inbound ? o->max_inbound : 32;
	pm->max_out = o->max_outbound ? o->max_outbound : 8;
	pm->ping_interval = o->ping_interval_ms ? o->ping_interval_ms : 10000;
	pm->ping_timeout = o->ping_timeout_ms ? o->ping_timeout_ms : 30000;
	pm->backoff_min = o->backoff_min_ms ? o->backoff_min_ms : 500;
	pm->backoff_max = o->backoff_max_ms ? o->backoff_max_ms : 60000;
	if (pm->backoff_max < pm->backoff_min)
		pm->backoff_max = pm->backoff_min;
	pm->pex_interval = o->pex_interval_ms ? o->pex_interval_ms : 30000;
	pm->ban_ms = (o->ban_seconds ? o->ban_seconds : 86400) * 1000u;
	pm->tx_rate = o->tx_rate ? o->tx_rate : NET_TX_RATE_DEFAULT;
	pm->hs_timeout = o->handshake_timeout_ms ? o->handshake_timeout_ms
	                                         : NET_HANDSHAKE_TIMEOUT_DEFAULT_MS;
	pm->wall_ms = o->wall_ms;
	pm->random = o->random;
	pm->on_tx = o->on_tx;
	pm->on_bans = o->on_bans;
	pm->ud = o->ud;
	pm->book = sn_calloc(NET_ADDRBOOK_MAX, sizeof(*pm->book));
	pm->scores = sn_calloc(NET_SCORES_MAX, sizeof(*pm->scores));
	pm->bans = sn_calloc(NET_BANS_MAX, sizeof(*pm->bans));
	rc = pm->book && pm->scores && pm->bans ? SN_OK : SN_E_NOMEM;
	if (rc == SN_OK)
		rc = net__seen_new(&pm->seen, o->seen_max ? o->seen_max : NET_SEEN_DEFAULT);
	if (rc == SN_OK) {
		no.node_seckey = o->node_seckey;
		no.chain_id = o->chain_id;
		no.user_agent = o->user_agent;
		no.frame_max = o->frame_max;
		no.sendq_max = o->sendq_max;
		no.handshake_timeout_ms = pm->hs_timeout;
		no.on_accept = on_accept;
		no.on_connect = on_connect;
		no.on_message = on_message;
		no.on_close = on_close;
		no.ud = pm;
		rc = net_transport_new(&pm->t, loop, &no);
	}
	if (rc != SN_OK) {
		net__seen_free(pm->seen);
		sn_free(pm->book);
		sn_free(pm->scores);
		sn_free(pm->bans);
		sn_free(pm);
		return rc;
	}
	memcpy(pm->node_key, net_transport_node_key(pm->t), NET_NODE_KEY_LEN);
	for (size_t i = 0; i < o->n_seeds; i++)
		if (net_addr_parse(&a, o->seeds[i]) == SN_OK)
			(void)book_add(pm, &a, SRC_SEED);
	for (size_t i = 0; i < o->n_persistent; i++)
		if (net_addr_parse(&a, o->persistent[i]) == SN_OK)
			(void)book_add(pm, &a, SRC_PERSISTENT);
	uv_timer_init(loop, &pm->tick);
	pm->tick.data = pm;
	*out = pm;
	return SN_OK;
}

int net_peers_bans_load(struct net_peers *pm, const uint8_t *data, size_t len)
{
	size_t n;
	int rc = net__bans_decode(pm->bans, NET_BANS_MAX, &n, data, len);

	if (rc != SN_OK) {
		pm->n_bans = 0;
		memset(pm->bans, 0, NET_BANS_MAX * sizeof(*pm->bans));
		return rc;
	}
	pm->n_bans = n;
	bans_prune(pm, now_wall(pm));
	return SN_OK;
}

int net_peers_listen(struct net_peers *pm, const char *ip, uint16_t port)
{
	return net_transport_listen(pm->t, ip, port);
}

uint16_t net_peers_port(const struct net_peers *pm)
{
	return net_transport_port(pm->t);
}

int net_peers_start(struct net_peers *pm)
{
	if (!pm || pm->started || pm->closing)
		return SN_E_INVAL;
	pm->started = true;
	uv_timer_start(&pm->tick, on_tick, 0, TICK_MS);
	return SN_OK;
}

static void peers_maybe_done(struct net_peers *pm)
{
	net_peers_closed_cb *cb;
	void *ud;

	if (!pm->closing || !pm->tick_closed || !pm->transport_closed || pm->batches)
		return;
	cb = pm->closed_cb;
	ud = pm->closed_ud;
	net__seen_free(pm->seen);
	sn_free(pm->book);
	sn_free(pm->scores);
	sn_free(pm->bans);
	sn_free(pm);
	if (cb)
		cb(ud);
}

static void on_tick_closed(uv_handle_t *h)
{
	struct net_peers *pm = h->data;

	pm->tick_closed = true;
	peers_maybe_done(pm);
}

static void on_transport_closed(void *ud)
{
	struct net_peers *pm = ud;

	pm->transport_closed = true;
	peers_maybe_done(pm);
}

void net_peers_close(struct net_peers *pm, net_peers_closed_cb *cb, void *ud)
{
	if (!pm || pm->closing)
		return;
	pm->closing = true;
	pm->closed_cb = cb;
	pm->closed_ud = ud;
	for (struct dial_batch *bt = pm->batches; bt; bt = bt->next)
		sn_taskgroup_cancel(bt->g);
	uv_close((uv_handle_t *)&pm->tick, on_tick_closed);
	net_transport_close(pm->t, on_transport_closed, pm);
}

static size_t relay(struct net_peers *pm, uint64_t except, const uint8_t *tx, size_t len)
{
	struct net_msg m = { .type = NET_MSG_TX, .u.tx = { tx, len } };
	struct peer *p, *next;
	size_t n = 0;

	for (p = pm->peers; p; p = next) {
		next = p->next;
		if (p->open && !p->blame && p->id != except && peer_send(p, &m) == SN_OK)
			n++;
	}
	pm->stats.txs_relayed += n;
	return n;
}

void net_peers_tx_verdict(struct net_peers *pm, uint64_t peer_id, const uint8_t *tx, size_t len,
                          enum net_tx_verdict v)
{
	if (!pm || pm->closing)
		return;
	if (v == NET_TX_ADMITTED) {
		relay(pm, peer_id, tx, len);
	} else if (v == NET_TX_INVALID) {
		struct peer *p = peer_by_id(pm, peer_id);

		pm->stats.txs_invalid++;
		if (p)
			peer_blame(p, NET_PENALTY_INVALID_TX, SN_E_BADSIG, "sent an invalid transaction");
	} else if (v == NET_TX_REJECTED && peer_id) {
		struct peer *p = peer_by_id(pm, peer_id);

		if (p) { /* may go below zero: the next ones are dropped until it refills */
			(void)tx_budget_take(p, 0.0);
			p->tx_tokens -= NET_TX_REJECT_COST;
		}
	}
}

size_t net_peers_broadcast_tx(struct net_peers *pm, const uint8_t *tx, size_t len)
{
	uint8_t d[SN_HASH_LEN];

	if (!pm || pm->closing || !len || len > NET_TX_MAX)
		return 0;
	sn_hash_tagged(d, TX_TAG, tx, len);
	if (!net__seen_add(pm->seen, d))
		return 0;
	return relay(pm, 0, tx, len);
}

void net_peers_penalize(struct net_peers *pm, uint64_t peer_id, int points, const char *why)
{
	struct peer *p = pm ? peer_by_id(pm, peer_id) : NULL;

	if (p)
		peer_blame(p, points, SN_E_BANNED, why ? why : "penalized");
}

size_t net_peers_list(const struct net_peers *pm, struct net_peer_info *out, size_t cap)
{
	size_t n = 0;
	uint64_t now = now_mono(pm);

	for (const struct peer *p = pm->peers; p; p = p->next) {
		struct net_peer_info *i;
		struct net_conn_stats st;
		const struct net_hello *h;
		char id[NET_ID_MAX];

		if (!p->open)
			continue;
		if (n++ >= cap)
			continue;
		i = &out[n - 1];
		memset(i, 0, sizeof(*i));
		h = net_conn_hello(p->c);
		net_conn_stats(p->c, &st);
		i->id = p->id;
		memcpy(i->node_key, p->key, NET_NODE_KEY_LEN);
		i->inbound = p->inbound;
		snprintf(i->addr, sizeof(i->addr), "%s", p->addr);
		i->listen_port = h ? h->listen_port : 0;
		if (h)
			memcpy(i->user_agent, h->user_agent, sizeof(i->user_agent));
		key_id(id, p->key);
		i->score = score_of((struct net_peers *)pm, id);
		i->bytes_in = st.bytes_in;
		i->bytes_out = st.bytes_out;
		i->msgs_in = st.msgs_in;
		i->msgs_out = st.msgs_out;
		i->queued = st.queued;
		i->connected_ms = now - p->connected_at;
		i->rtt_ms = p->rtt_ms;
	}
	return n;
}

size_t net_peers_drops(const struct net_peers *pm, struct net_peer_drop *out, size_t cap)
{
	for (size_t k = 0; k < pm->n_drops && k < cap; k++)
		out[k] = pm->drops[(pm->drops_head + NET_DROPS_MAX - 1 - k) % NET_DROPS_MAX];
	return pm->n_drops;
}

size_t net_peers_bans(const struct net_peers *pm, struct net_ban *out, size_t cap)
{
	for (size_t k = 0; k < pm->n_bans && k < cap; k++)
		out[k] = pm->bans[k];
	return pm->n_bans;
}

void net_peers_summary(const struct net_peers *pm, struct net_peers_summary *out)
{
	*out = pm->stats;
	out->listen_port = net_transport_port(pm->t);
	out->inbound = out->outbound = out->connecting = 0;
	for (const struct peer *p = pm->peers; p; p = p->next) {
		if (!p->open)
			out->connecting++;
		else if (p->inbound)
			out->inbound++;
		else
			out->outbound++;
	}
	out->known_addrs = 0;
	for (size_t i = 0; i < NET_ADDRBOOK_MAX; i++)
		out->known_addrs += pm->book[i].used;
	out->bans = pm->n_bans;
	out->seen = net__seen_count(pm->seen);
}
