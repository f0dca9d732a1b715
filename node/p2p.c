/* node/p2p.c — the daemon's side of the peer network: starts the peer manager (net/) with the
 * node key and chain id from the [p2p] config, admits gossiped transactions through the
 * same admission as submit_tx (signature check on an engine helper, then node_daemon_admit),
 * persists the ban list in HOME/p2p_bans.dat and builds RPC net_info. */
#include "node/daemon_int.h"
#include "node/json_int.h"

#include "net/net.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define GOSSIP_INFLIGHT_MAX 4096 /* signature checks queued for gossiped txs */
#define ADDR_LIST_MAX 64

struct gossip_job {
	struct gossip_job *next; /* in the checked list */
	struct node_daemon *d;
	uint64_t peer;
	uint8_t raw[STORE_TX_MAX];
	size_t len;
	struct store_tx tx;
	uint8_t id[SN_HASH_LEN];
	int err;
};

/* Gossip may bring a signer's nonce n+1 before its nonce n (they travel different paths).
 * Refused, it would be lost here: marked seen, its later copies are ignored. So a gossiped
 * transaction at most HOLD_GAP_MAX nonces ahead waits, up to HOLD_MS, for the gap to close,
 * and is admitted (and relayed) when its signer's previous one is. At most HOLD_MAX wait;
 * the oldest gives way. */
#define HOLD_MAX 256
#define HOLD_GAP_MAX 16
#define HOLD_MS 30000

struct held_tx {
	uint8_t *raw;
	size_t len;
	struct store_tx tx; /* its payload points into raw */
	uint8_t id[SN_HASH_LEN];
	uint64_t peer, until_ms;
};

struct node_p2p {
	struct net_peers *pm; /* NULL once closing */
	char bans_path[PATH_MAX + 64];
	unsigned inflight; /* gossiped transactions being checked (or checked, not admitted yet) */
	pthread_mutex_t checked_mu;
	struct gossip_job *checked, **checked_tail; /* checked by a helper, for the loop to admit */
	bool closed;
	struct held_tx held[HOLD_MAX]; /* oldest first */
	size_t n_held;
	bool retrying; /* inside node_p2p_after_admit */
};

/* Splits a comma-separated address list into out[] (pointers into buf). */
static int split_addrs(char *buf, const char **out, size_t cap, size_t *n, const char *key, char *err,
                       size_t errlen)
{
	char *save = NULL;

	*n = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct net_addr a;
		char *end;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*tok)
			continue;
		if (net_addr_parse(&a, tok) != SN_OK) {
			snprintf(err, errlen, "p2p.%s: '%s' is not ip:port (or [ipv6]:port)", key, tok);
			return SN_E_INVAL;
		}
		if (*n == cap) {
			snprintf(err, errlen, "p2p.%s: more than %zu addresses", key, cap);
			return SN_E_INVAL;
		}
		out[(*n)++] = tok;
	}
	return SN_OK;
}

int node_p2p_config_check(const struct node_config *c, char *err, size_t errlen)
{
	char buf[sizeof(c->p2p_seeds)];
	const char *v[ADDR_LIST_MAX];
	size_t n;
	struct net_addr a;
	char probe[80];

	snprintf(buf, sizeof(buf), "%s", c->p2p_seeds);
	if (split_addrs(buf, v, ADDR_LIST_MAX, &n, "seeds", err, errlen))
		return SN_E_INVAL;
	snprintf(buf, sizeof(buf), "%s", c->p2p_persistent_peers);
	if (split_addrs(buf, v, ADDR_LIST_MAX, &n, "persistent_peers", err, errlen))
		return SN_E_INVAL;
	snprintf(probe, sizeof(probe), strchr(c->p2p_listen_address, ':') ? "[%s]:1" : "%s:1",
	         c->p2p_listen_address);
	if (net_addr_parse(&a, probe) != SN_OK) {
		snprintf(err, errlen, "p2p.listen_address: '%s' is not an IPv4 or IPv6 address",
		         c->p2p_listen_address);
		return SN_E_INVAL;
	}
	if (c->p2p_backoff_max_ms < c->p2p_backoff_min_ms) {
		snprintf(err, errlen, "p2p.backoff_max_ms is below p2p.backoff_min_ms");
		return SN_E_INVAL;
	}
	if (c->p2p_sendq_max_bytes < c->p2p_frame_max + 5) {
		snprintf(err, errlen, "p2p.sendq_max_bytes must hold one frame of p2p.frame_max bytes");
		return SN_E_INVAL;
	}
	return SN_OK;
}

/* ------------------------------------------------------------------ gossip in */

static void gossip_verdict(struct node_daemon *d, uint64_t peer, const uint8_t *raw, size_t len, int rc)
{
	enum net_tx_verdict v = rc == SN_OK ? NET_TX_ADMITTED : NET_TX_REJECTED;

	if (d->p2p && d->p2p->pm)
		net_peers_tx_verdict(d->p2p->pm, peer, raw, len, v);
	if (rc && rc != SN_E_DUPTX)
		SN_LOG(SN_LOG_DEBUG, "p2p", "gossiped tx not admitted: %s", sn_strerror(rc));
}

static uint64_t mono_ms(void)
{
	return sn_time_mono_ns() / 1000000u;
}

/* Whether tx is ahead of its signer's next nonce by at most HOLD_GAP_MAX. */
static bool nonce_gap(struct node_daemon *d, const struct store_tx *tx)
{
	uint64_t next;
	int err;

	uv_mutex_lock(&d->mp_lock);
	err = node_mempool_next_nonce(d->mp, tx->signer, &next);
	uv_mutex_unlock(&d->mp_lock);
	return err == SN_OK && tx->nonce > next && tx->nonce - next <= HOLD_GAP_MAX;
}

static void held_drop(struct node_p2p *p, size_t i)
{
	sn_free(p->held[i].raw);
	memmove(&p->held[i], &p->held[i + 1], (p->n_held - i - 1) * sizeof(p->held[0]));
	p->n_held--;
}

static void held_expire(struct node_p2p *p, uint64_t now)
{
	while (p->n_held && p->held[0].until_ms <= now) /* oldest first: they expire in order */
		held_drop(p, 0);
}

/* Keeps j's transaction until its signer's nonce gap closes; false if it cannot wait. */
static bool hold(struct node_daemon *d, const struct gossip_job *j)
{
	struct node_p2p *p = d->p2p;
	struct held_tx *h;
	uint64_t now = mono_ms();

	if (!nonce_gap(d, &j->tx))
		return false;
	held_expire(p, now);
	for (size_t i = 0; i < p->n_held; i++)
		if (memcmp(p->held[i].id, j->id, SN_HASH_LEN) == 0)
			return true; /* already waiting */
	if (p->n_held == HOLD_MAX)
		held_drop(p, 0);
	h = &p->held[p->n_held];
	if (!(h->raw = sn_malloc(j->len)))
		return false;
	memcpy(h->raw, j->raw, j->len);
	h->len = j->len;
	h->tx = j->tx;
	h->tx.payload = j->tx.payload_len ? h->raw + STORE_TX_HEADER_LEN : NULL;
	memcpy(h->id, j->id, SN_HASH_LEN);
	h->peer = j->peer;
	h->until_ms = now + HOLD_MS;
	p->n_held++;
	SN_LOG(SN_LOG_DEBUG, "p2p", "gossiped tx waits for its signer's nonce %llu", (unsigned long long)j->tx.nonce);
	return true;
}

void node_p2p_after_admit(struct node_daemon *d, const uint8_t signer[SN_PUBKEY_LEN])
{
	struct node_p2p *p = d->p2p;
	bool progress = true;

	if (!p || !p->n_held || p->retrying)
		return;
	p->retrying = true; /* the admissions below call back here */
	held_expire(p, mono_ms());
	while (progress) {
		progress = false;
		for (size_t i = 0; i < p->n_held;) {
			struct held_tx *h = &p->held[i];
			int rc;

			if (memcmp(h->tx.signer, signer, SN_PUBKEY_LEN) != 0) {
				i++;
				continue;
			}
			rc = node_daemon_admit(d, h->raw, h->len, &h->tx, h->id);
			if (rc == SN_E_NONCE && nonce_gap(d, &h->tx)) {
				i++;
				continue;
			}
			gossip_verdict(d, h->peer, h->raw, h->len, rc); /* admitted: relayed now */
			progress |= rc == SN_OK;
			held_drop(p, i);
		}
	}
	p->retrying = false;
}

/* Admits a checked job (or keeps it for a nonce gap) and frees it. */
static void gossip_admit(struct node_daemon *d, struct gossip_job *j)
{
	struct node_p2p *p = d->p2p;
	int rc;

	rc = d->stopping ? SN_E_BUSY : node_daemon_admit(d, j->raw, j->len, &j->tx, j->id);
	if (!(rc == SN_E_NONCE && hold(d, j)))
		gossip_verdict(d, j->peer, j->raw, j->len, rc);
	p->inflight--;
	sn_free(j);
}

/* On an engine helper thread. */
static void gossip_check(void *ud, size_t i)
{
	struct gossip_job *j = ud;

	(void)i;
	j->err = node_tx_check(j->raw, j->len, j->d->gen.chain_id, &j->tx, j->id);
}

/* On an engine helper thread: hands the job to the loop (node_p2p_checked). */
static void gossip_checked(void *ud)
{
	struct gossip_job *j = ud;
	struct node_daemon *d = j->d;
	struct node_p2p *p = d->p2p;

	j->next = NULL;
	pthread_mutex_lock(&p->checked_mu);
	*p->checked_tail = j;
	p->checked_tail = &j->next;
	pthread_mutex_unlock(&p->checked_mu);
	uv_async_send(&d->checks_done);
}

void node_p2p_checked(struct node_daemon *d)
{
	struct node_p2p *p = d->p2p;
	struct gossip_job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->checked_mu);
	j = p->checked;
	p->checked = NULL;
	p->checked_tail = &p->checked;
	pthread_mutex_unlock(&p->checked_mu);
	while (j) {
		struct gossip_job *next = j->next;

		d->jobs--;
		if (j->err) {
			if (p->pm)
				net_peers_tx_verdict(p->pm, j->peer, j->raw, j->len, NET_TX_INVALID);
			p->inflight--;
			sn_free(j);
		} else {
			gossip_admit(d, j);
		}
		j = next;
	}
	node_daemon_maybe_finish(d);
}

static void on_peer_tx(struct net_peers *pm, uint64_t peer, const uint8_t *tx, size_t len, void *ud)
{
	struct node_daemon *d = ud;
	struct gossip_job *j;

	if (len > STORE_TX_MAX) {
		net_peers_tx_verdict(pm, peer, tx, len, NET_TX_INVALID);
		return;
	}
	if (!d->ready || d->stopping || d->p2p->inflight >= GOSSIP_INFLIGHT_MAX ||
	    !(j = sn_calloc(1, sizeof(*j)))) {
		SN_LOG(SN_LOG_DEBUG, "p2p", "gossiped tx dropped: node busy");
		return;
	}
	j->d = d;
	j->peer = peer;
	memcpy(j->raw, tx, len);
	j->len = len;
	d->jobs++;
	d->p2p->inflight++;
	if (node_engine_check_async(d->eng, 1, 1, gossip_check, gossip_checked, j) != SN_OK) {
		d->jobs--;
		d->p2p->inflight--;
		sn_free(j);
	}
}

void node_p2p_gossip(struct node_daemon *d, const uint8_t *raw, size_t len)
{
	if (d->p2p && d->p2p->pm)
		(void)net_peers_broadcast_tx(d->p2p->pm, raw, len);
}

/* ------------------------------------------------------------------ ban file */

static void on_bans(const uint8_t *data, size_t len, void *ud)
{
	struct node_daemon *d = ud;
	int rc = node_file_write_atomic(d->p2p->bans_path, data, len, 0600, true);

	if (rc)
		SN_LOG(SN_LOG_ERROR, "p2p", "cannot write %s: %s", d->p2p->bans_path, sn_strerror(rc));
}

static void load_bans(struct node_daemon *d)
{
	FILE *f = fopen(d->p2p->bans_path, "rb");
	uint8_t *buf;
	size_t len;
	int rc;

	if (!f) {
		if (errno != ENOENT)
			SN_LOG(SN_LOG_WARN, "p2p", "cannot read %s: %s", d->p2p->bans_path, strerror(errno));
		return;
	}
	buf = sn_malloc(3 + NET_BANS_MAX * (1 + NET_ID_MAX + 8) + 1);
	len = buf ? fread(buf, 1, 3 + NET_BANS_MAX * (1 + NET_ID_MAX + 8) + 1, f) : 0;
	fclose(f);
	if (!buf)
		return;
	rc = net_peers_bans_load(d->p2p->pm, buf, len);
	sn_free(buf);
	if (rc)
		SN_LOG(SN_LOG_WARN, "p2p", "%s is not a ban list (%s): starting with no bans", d->p2p->bans_path,
		       sn_strerror(rc));
}

/* ------------------------------------------------------------------ start, stop */

int node_p2p_start(struct node_daemon *d)
{
	struct node_config *c = &d->cfg;
	char seeds_buf[sizeof(c->p2p_seeds)], pers_buf[sizeof(c->p2p_persistent_peers)], err[256];
	const char *seeds[ADDR_LIST_MAX], *pers[ADDR_LIST_MAX];
	size_t n_seeds = 0, n_pers = 0;
	struct net_peers_opts o = { 0 };
	char ua[NET_USER_AGENT_MAX + 1];
	int rc;

	if (!c->p2p_enabled)
		return SN_OK;
	snprintf(seeds_buf, sizeof(seeds_buf), "%s", c->p2p_seeds);
	snprintf(pers_buf, sizeof(pers_buf), "%s", c->p2p_persistent_peers);
	if (split_addrs(seeds_buf, seeds, ADDR_LIST_MAX, &n_seeds, "seeds", err, sizeof(err)) ||
	    split_addrs(pers_buf, pers, ADDR_LIST_MAX, &n_pers, "persistent_peers", err, sizeof(err))) {
		SN_LOG(SN_LOG_ERROR, "p2p", "%s", err);
		return SN_E_INVAL;
	}
	d->p2p = sn_calloc(1, sizeof(*d->p2p));
	if (!d->p2p)
		return SN_E_NOMEM;
	pthread_mutex_init(&d->p2p->checked_mu, NULL);
	d->p2p->checked_tail = &d->p2p->checked;
	snprintf(d->p2p->bans_path, sizeof(d->p2p->bans_path), "%s/%s", d->home, NODE_P2P_BANS_FILE);
	snprintf(ua, sizeof(ua), "settled/%s", SETTLED_VERSION);
	o.node_seckey = d->node_sk;
	o.chain_id = d->gen.chain_id;
	o.user_agent = ua;
	o.frame_max = (uint32_t)c->p2p_frame_max;
	o.sendq_max = c->p2p_sendq_max_bytes;
	o.handshake_timeout_ms = c->p2p_handshake_timeout_ms;
	o.seeds = seeds;
	o.n_seeds = n_seeds;
	o.persistent = pers;
	o.n_persistent = n_pers;
	o.max_inbound = (unsigned)c->p2p_max_inbound;
	o.max_outbound = (unsigned)c->p2p_max_outbound;
	o.ping_interval_ms = c->p2p_ping_interval_ms;
	o.ping_timeout_ms = c->p2p_ping_timeout_ms;
	o.pex_interval_ms = c->p2p_pex_interval_ms;
	o.backoff_min_ms = c->p2p_backoff_min_ms;
	o.backoff_max_ms = c->p2p_backoff_max_ms;
	o.ban_seconds = c->p2p_ban_seconds;
	o.seen_max = c->p2p_seen_cache;
	o.tx_rate = (uint32_t)c->p2p_tx_rate;
	o.on_tx = on_peer_tx;
	o.on_bans = on_bans;
	o.ud = d;
	if ((rc = net_peers_new(&d->p2p->pm, d->loop, &o))) {
		SN_LOG(SN_LOG_ERROR, "p2p", "cannot start the peer network: %s", sn_strerror(rc));
		node_p2p_free(d);
		return rc;
	}
	load_bans(d);
	if (c->p2p_port) {
		rc = net_peers_listen(d->p2p->pm, c->p2p_listen_address, (uint16_t)c->p2p_port);
		if (rc)
			SN_LOG(SN_LOG_ERROR, "p2p", "cannot listen for peers on %s:%llu: %s (dialling out only)",
			       c->p2p_listen_address, (unsigned long long)c->p2p_port, sn_strerror(rc));
		else
			SN_LOG(SN_LOG_INFO, "p2p", "listening for peers on %s:%u", c->p2p_listen_address,
			       net_peers_port(d->p2p->pm));
	}
	rc = net_peers_start(d->p2p->pm);
	assert(rc == SN_OK);
	return rc;
}

static void on_peers_closed(void *ud)
{
	struct node_daemon *d = ud;

	if (d->p2p)
		d->p2p->closed = true;
}

void node_p2p_stop(struct node_daemon *d)
{
	struct net_peers *pm;

	if (!d->p2p || !d->p2p->pm)
		return;
	pm = d->p2p->pm;
	d->p2p->pm = NULL;
	net_peers_close(pm, on_peers_closed, d);
}

void node_p2p_free(struct node_daemon *d)
{
	struct node_p2p *p = d->p2p;

	if (!p)
		return;
	while (p->n_held)
		held_drop(p, p->n_held - 1);
	pthread_mutex_destroy(&p->checked_mu);
	sn_free(p);
	d->p2p = NULL;
}

/* ------------------------------------------------------------------ net_info */

static const char *dir_name(bool inbound)
{
	return inbound ? "inbound" : "outbound";
}

json_t *node_p2p_info(struct node_daemon *d)
{
	struct net_peers *pm = d->p2p ? d->p2p->pm : NULL;
	struct net_peers_summary s;
	struct net_peer_info *peers;
	struct net_peer_drop drops[NET_DROPS_MAX];
	struct net_ban *bans;
	size_t n, nd, nb;
	json_t *res, *arr;

	if (!pm)
		return json_pack("{s:b,s:o,s:[],s:[],s:[]}", "enabled", false, "node_key",
		                 node_json_hex(d->node_pk, NODE_ED25519_PK_LEN), "peers", "recent_drops", "bans");
	net_peers_summary(pm, &s);
	n = net_peers_list(pm, NULL, 0);
	peers = sn_calloc(n ? n : 1, sizeof(*peers));
	bans = sn_calloc(NET_BANS_MAX, sizeof(*bans));
	if (!peers || !bans) {
		sn_free(peers);
		sn_free(bans);
		return NULL;
	}
	n = net_peers_list(pm, peers, n);
	nd = net_peers_drops(pm, drops, NET_DROPS_MAX);
	nb = net_peers_bans(pm, bans, NET_BANS_MAX);
	res = json_pack("{s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "enabled", true, "node_key",
	                node_json_hex(d->node_pk, NODE_ED25519_PK_LEN), "listen_port", (json_int_t)s.listen_port,
	                "inbound", (json_int_t)s.inbound, "outbound", (json_int_t)s.outbound, "connecting",
	                (json_int_t)s.connecting, "known_addresses", (json_int_t)s.known_addrs, "seen_txs",
	                (json_int_t)s.seen, "txs", "received", (json_int_t)s.txs_received, "duplicate",
	                (json_int_t)s.txs_duplicate, "invalid", (json_int_t)s.txs_invalid, "relayed",
	                (json_int_t)s.txs_relayed, "over_budget", (json_int_t)s.txs_over_budget, "waiting",
	                (json_int_t)d->p2p->n_held);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct net_peer_info *p = &peers[i];

		json_array_append_new(
		        arr, json_pack("{s:I,s:o,s:s,s:s,s:I,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "id", (json_int_t)p->id,
		                       "node_key", node_json_hex(p->node_key, NET_NODE_KEY_LEN), "direction",
		                       dir_name(p->inbound), "address", p->addr, "listen_port", (json_int_t)p->listen_port,
		                       "user_agent", p->user_agent, "score", p->score, "bytes_in", (json_int_t)p->bytes_in,
		                       "bytes_out", (json_int_t)p->bytes_out, "msgs_in", (json_int_t)p->msgs_in, "msgs_out",
		                       (json_int_t)p->msgs_out, "queued", (json_int_t)p->queued, "connected_ms",
		                       (json_int_t)p->connected_ms, "rtt_ms", (json_int_t)p->rtt_ms));
	}
	json_object_set_new(res, "peers", arr);
	arr = json_array();
	for (size_t i = 0; i < nd && i < NET_DROPS_MAX; i++) {
		const struct net_peer_drop *x = &drops[i];

		json_array_append_new(
		        arr, json_pack("{s:s,s:o,s:s,s:i,s:b,s:s,s:s,s:I}", "address", x->addr, "node_key",
		                       x->has_key ? node_json_hex(x->node_key, NET_NODE_KEY_LEN) : json_null(),
		                       "direction", dir_name(x->inbound), "score", x->score, "banned", x->banned,
		                       "error", sn_errname(x->err), "reason", x->reason, "time_ms",
		                       (json_int_t)x->wall_ms));
	}
	json_object_set_new(res, "recent_drops", arr);
	arr = json_array();
	for (size_t i = 0; i < nb && i < NET_BANS_MAX; i++)
		json_array_append_new(arr, json_pack("{s:s,s:I}", "id", bans[i].id, "until_ms",
		                                     (json_int_t)bans[i].until_ms));
	json_object_set_new(res, "bans", arr);
	sn_free(peers);
	sn_free(bans);
	return res;
}
