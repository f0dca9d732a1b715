/* net/transport.c — connections over libuv TCP: the handshake state machine, the frame
 * reader, the bounded send queue and the drop-with-a-reason path. Codecs: wire.c.
 *
 * Data path (docs/p2p.md, "Flow control and memory"). Receiving: one buffer per connection
 * (RBUF_LEN, grown to hold a larger frame once its header has been checked against
 * frame_max, shrunk back after it); reads go straight into it and every complete frame is
 * opened and delivered in place, so payload bytes are copied once, by the kernel. Sending:
 * frames are sealed into chunks of WCHUNK_LEN bytes; while a write is in flight, newly
 * sealed frames accumulate and go out together in the next write (one writev for up to
 * WRITE_BUFS chunks). Chunks are recycled per connection while it is busy, so a
 * busy connection neither mallocs nor faults in fresh pages per frame. */
#include "net/net_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <uv.h>

#define RBUF_LEN (256u * 1024)     /* receive buffer; a larger frame grows it for its time */
#define RBUF_MIN_READ (16u * 1024) /* less free room than this: move the unread rest down */
#define WCHUNK_LEN (4 * NET__FRAME_LEN(NET_TX_MAX)) /* send chunk: four largest TX frames */
#define WRITE_BUFS 4                /* chunks per uv_write (libuv keeps up to 4 inline) */
#define WCHUNK_SPARE_MAX 16         /* recycled chunks a busy connection keeps */
#define DEFAULT_USER_AGENT "settled"
#define SUBSYS "net"

struct net_transport {
	uv_loop_t *loop;
	uv_tcp_t listener; /* initialised in new, so close always has a handle to close */
	bool listening, closing;
	uint16_t port;
	uint8_t *seckey; /* sodium_malloc'd, NET_NODE_SECKEY_LEN */
	uint8_t node_key[NET_NODE_KEY_LEN];
	uint32_t chain_id;
	uint8_t ciphers; /* NET__CIPHER_* our hellos offer */
	char user_agent[NET_USER_AGENT_MAX + 1];
	uint32_t frame_max;
	size_t sendq_max;
	uint64_t hs_timeout_ms;
	net_accept_cb *on_accept;
	net_connect_cb *on_connect;
	net_message_cb *on_message;
	net_close_cb *on_close;
	void *ud;
	struct net_conn *conns;   /* every connection not yet freed */
	size_t open;              /* the listener plus every connection not yet freed */
	net_transport_closed_cb *closed_cb;
	void *closed_ud;
};

enum conn_state {
	CS_CONNECTING, /* dialled, TCP not yet connected */
	CS_HELLO,      /* our hello sent, reading theirs */
	CS_AUTH,       /* keys derived, our AUTH sent, reading theirs */
	CS_OPEN,       /* authenticated: messages flow */
	CS_CLOSING,    /* handles closing; on_close pending */
};

struct net_conn {
	struct net_transport *t;
	struct net_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer; /* handshake timeout */
	uv_connect_t connect_req;
	int handles; /* handles still to close */
	enum conn_state state;
	bool inbound, notify, authenticated;
	int close_err;
	char reason[NET_REASON_MAX];
	char addr[64];
	void *data;

	/* Handshake. */
	uint8_t eph_sk[NET__EPH_KEY_LEN];
	uint8_t my_hello[NET__HS_HELLO_MAX];
	size_t my_hello_len;
	uint8_t peer_hello[NET__HS_HELLO_MAX];
	size_t peer_hello_len;
	struct net_hello hello;
	uint8_t th[SN_HASH_LEN]; /* transcript hash */

	/* Channel. */
	struct net__cipher tx, rx;

	/* Reader: rbuf[rpos..rlen) is read and not yet consumed; the next hello or frame
	 * needs rneed bytes from rpos (only a checked length is ever put here). */
	uint8_t *rbuf;
	size_t rcap, rpos, rlen, rneed;

	/* Writer: sealed chunks wait in sendq (the tail one still filling) until the write
	 * in flight (inflight, one uv_write) completes; spare chunks are recycled. */
	struct wchunk *sendq, *sendq_tail, *inflight, *spare;
	unsigned n_spare;
	size_t inflight_len;
	bool writing;
	uv_write_t wreq;

	struct net_conn_stats st;
};

/* Sealed frames (or our hello) back to back, as they go on the wire. */
struct wchunk {
	struct wchunk *next;
	size_t cap, len;
	uint8_t data[];
};

static void conn_begin_close(struct net_conn *c);

/* --------------------------------------------------------------- helpers */

static void transport_maybe_done(struct net_transport *t)
{
	net_transport_closed_cb *cb;
	void *ud;

	if (!t->closing || t->open)
		return;
	cb = t->closed_cb;
	ud = t->closed_ud;
	sodium_free(t->seckey);
	sn_free(t);
	if (cb)
		cb(ud);
}

static void conn_fail(struct net_conn *c, int err, const char *fmt, ...) SN_PRINTF(3, 4);

/* Drops c with err and a reason, once: later failures keep the first reason. */
static void conn_fail(struct net_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->state == CS_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	c->close_err = err;
	SN_LOG(err == SN_OK || err == SN_E_CANCELLED ? SN_LOG_DEBUG : SN_LOG_INFO, SUBSYS,
	       "%s peer %s dropped: %s (%s)", c->inbound ? "inbound" : "outbound", c->addr,
	       c->reason, sn_errname(err));
	conn_begin_close(c);
}

static void chunk_list_free(struct wchunk *w)
{
	while (w) {
		struct wchunk *next = w->next;

		sn_free(w);
		w = next;
	}
}

static void conn_free(struct net_conn *c)
{
	struct net_transport *t = c->t;

	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sn_free(c->rbuf);
	chunk_list_free(c->sendq);
	chunk_list_free(c->inflight); /* empty: libuv cancelled the write before closing */
	chunk_list_free(c->spare);
	sodium_memzero(c, sizeof(*c)); /* keys, cipher states, ephemeral secret, transcript */
	sn_free(c);
	t->open--;
	transport_maybe_done(t);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct net_conn *c = h->data;

	if (--c->handles > 0)
		return;
	if (c->notify && c->t->on_close)
		c->t->on_close(c, c->close_err, c->reason, c->t->ud);
	conn_free(c);
}

static void conn_begin_close(struct net_conn *c)
{
	c->state = CS_CLOSING;
	sodium_memzero(c->eph_sk, sizeof(c->eph_sk));
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

/* A new connection with both handles initialised, linked into t. */
static int conn_new(struct net_conn **out, struct net_transport *t, bool inbound)
{
	struct net_conn *c = sn_calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return SN_E_NOMEM;
	/* Only touched as far as bytes arrive: an idle peer costs a few pages of it. */
	c->rbuf = sn_malloc(RBUF_LEN);
	if (!c->rbuf) {
		sn_free(c);
		return SN_E_NOMEM;
	}
	c->rcap = RBUF_LEN;
	c->rneed = NET__HS_PREFIX_LEN;
	if (uv_tcp_init(t->loop, &c->tcp) != 0) {
		sn_free(c->rbuf);
		sn_free(c);
		return SN_E_IO;
	}
	/* From here the handles exist: the connection is freed through the close path. */
	uv_timer_init(t->loop, &c->timer);
	c->t = t;
	c->inbound = inbound;
	c->handles = 2;
	c->tcp.data = c->timer.data = c->connect_req.data = c->wreq.data = c;
	c->state = CS_CONNECTING;
	snprintf(c->addr, sizeof(c->addr), "?");
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->open++;
	*out = c;
	return SN_OK;
}

/* ----------------------------------------------------------------- writer */

static struct wchunk *chunk_get(struct net_conn *c, size_t len)
{
	struct wchunk *w = c->spare;
	size_t cap = len > WCHUNK_LEN ? len : WCHUNK_LEN;

	if (w && w->cap >= len) {
		c->spare = w->next;
		c->n_spare--;
	} else {
		w = sn_malloc(sizeof(*w) + cap);
		if (!w)
			return NULL;
		w->cap = cap;
	}
	w->next = NULL;
	w->len = 0;
	return w;
}

/* Keeps w for reuse if it is a standard chunk and the spare list has room. */
static void chunk_put(struct net_conn *c, struct wchunk *w)
{
	if (w->cap == WCHUNK_LEN && c->n_spare < WCHUNK_SPARE_MAX) {
		w->next = c->spare;
		c->spare = w;
		c->n_spare++;
	} else {
		sn_free(w);
	}
}

static void on_write(uv_write_t *req, int status);

/* Hands the queued chunks (up to WRITE_BUFS) to libuv as one write. Only when no write is
 * in flight. On error the chunks stay with c (freed with it) and nothing runs. */
static int conn_flush(struct net_conn *c)
{
	uv_buf_t bufs[WRITE_BUFS];
	struct wchunk **link = &c->inflight;
	unsigned n = 0;
	int rc;

	assert(!c->writing && !c->inflight);
	while (c->sendq && n < WRITE_BUFS) {
		struct wchunk *w = c->sendq;

		c->sendq = w->next;
		if (!c->sendq)
			c->sendq_tail = NULL;
		w->next = NULL;
		*link = w;
		link = &w->next;
		bufs[n++] = uv_buf_init((char *)w->data, (unsigned int)w->len);
		c->inflight_len += w->len;
	}
	if (n == 0)
		return SN_OK;
	rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, on_write);
	if (rc != 0)
		return rc == UV_ENOMEM ? SN_E_NOMEM : SN_E_IO;
	c->writing = true;
	return SN_OK;
}

static void on_write(uv_write_t *req, int status)
{
	struct net_conn *c = req->data;
	struct wchunk *w = c->inflight;
	int rc;

	c->writing = false;
	c->st.queued -= c->inflight_len;
	if (status == 0)
		c->st.bytes_out += c->inflight_len;
	c->inflight = NULL;
	c->inflight_len = 0;
	while (w) {
		struct wchunk *next = w->next;

		chunk_put(c, w);
		w = next;
	}
	if (status != 0) {
		if (status != UV_ECANCELED)
			conn_fail(c, SN_E_IO, "write failed: %s", uv_strerror(status));
		return;
	}
	if (c->state == CS_CLOSING)
		return;
	if (!c->sendq) {
		/* Idle: keep no memory for it. */
		chunk_list_free(c->spare);
		c->spare = NULL;
		c->n_spare = 0;
		return;
	}
	rc = conn_flush(c);
	if (rc != SN_OK)
		conn_fail(c, rc, "write failed: %s", sn_strerror(rc));
}

/* Room for len more bytes at the end of the send queue (not counted until committed). */
static uint8_t *sendq_reserve(struct net_conn *c, size_t len)
{
	struct wchunk *w = c->sendq_tail;

	if (!w || w->cap - w->len < len) {
		w = chunk_get(c, len);
		if (!w)
			return NULL;
		if (c->sendq_tail)
			c->sendq_tail->next = w;
		else
			c->sendq = w;
		c->sendq_tail = w;
	}
	return w->data + w->len;
}

/* The len bytes at sendq_reserve's pointer are ready: queued, and written at once if no
 * write is in flight. A failed write drops c (its bytes would be missing from the
 * stream); the error is returned too. */
static int sendq_commit(struct net_conn *c, size_t len)
{
	int rc;

	c->sendq_tail->len += len;
	c->st.queued += len;
	if (c->writing || c->state == CS_CLOSING)
		return SN_OK;
	rc = conn_flush(c);
	if (rc != SN_OK)
		conn_fail(c, rc, "write failed: %s", sn_strerror(rc));
	return rc;
}

/* Seals and queues one frame (no queue bound: callers check it). */
static int conn_send_frame(struct net_conn *c, uint16_t type, const uint8_t *payload, size_t len)
{
	uint8_t *out = sendq_reserve(c, NET__FRAME_LEN(len));

	if (!out)
		return SN_E_NOMEM;
	net__frame_seal(out, &c->tx, type, payload, len);
	return sendq_commit(c, NET__FRAME_LEN(len));
}

static void key_hex(char out[2 * NET_NODE_KEY_LEN + 1], const uint8_t key[NET_NODE_KEY_LEN])
{
	sn_hex_encode(out, key, NET_NODE_KEY_LEN);
}

/* ------------------------------------------------------------- handshake */

static void hello_received(struct net_conn *c)
{
	struct net_transport *t = c->t;
	struct net__hs_hello hh;
	uint8_t sig[NET__SIG_LEN], auth[NET__AUTH_LEN];
	const uint8_t *ih, *rh;
	size_t il, rl;
	int rc;

	rc = net__hs_hello_decode(&hh, c->peer_hello, c->peer_hello_len);
	if (rc != SN_OK) {
		conn_fail(c, rc, "malformed handshake hello: %s", sn_strerror(rc));
		return;
	}
	if (hh.hello.version != NET_PROTOCOL_VERSION) {
		conn_fail(c, SN_E_VERSION, "peer speaks protocol version %u, we speak %u",
		          hh.hello.version, NET_PROTOCOL_VERSION);
		return;
	}
	if (hh.hello.chain_id != t->chain_id) {
		conn_fail(c, SN_E_CHAIN, "peer is on chain %" PRIu32 ", we are on chain %" PRIu32,
		          hh.hello.chain_id, t->chain_id);
		return;
	}
	if (sodium_memcmp(hh.hello.node_key, t->node_key, NET_NODE_KEY_LEN) == 0) {
		conn_fail(c, SN_E_SELF, "peer claims our own node key (connected to ourselves?)");
		return;
	}
	ih = c->inbound ? c->peer_hello : c->my_hello;
	il = c->inbound ? c->peer_hello_len : c->my_hello_len;
	rh = c->inbound ? c->my_hello : c->peer_hello;
	rl = c->inbound ? c->my_hello_len : c->peer_hello_len;
	rc = net__hs_keys(&c->tx, &c->rx, c->th, !c->inbound, c->eph_sk, ih, il, rh, rl);
	sodium_memzero(c->eph_sk, sizeof(c->eph_sk));
	if (rc != SN_OK) {
		conn_fail(c, rc, "peer's ephemeral key is not usable (low order)");
		return;
	}
	c->hello = hh.hello;
	net__hs_sign(sig, c->th, !c->inbound, t->seckey);
	net__hs_auth_encode(auth, sig);
	rc = conn_send_frame(c, NET__AUTH_TYPE, auth, sizeof(auth));
	if (rc != SN_OK) {
		conn_fail(c, rc, "cannot send the handshake AUTH: %s", sn_strerror(rc));
		return;
	}
	c->state = CS_AUTH;
}

static void auth_received(struct net_conn *c, uint16_t type, const uint8_t *p, size_t len)
{
	struct net_transport *t = c->t;
	uint8_t sig[NET__SIG_LEN];
	char hex[2 * NET_NODE_KEY_LEN + 1];
	int rc;

	if (type != NET__AUTH_TYPE) {
		conn_fail(c, SN_E_TYPE, "expected the handshake AUTH, got message type %u", type);
		return;
	}
	rc = net__hs_auth_decode(sig, p, len);
	if (rc != SN_OK) {
		conn_fail(c, rc, "malformed handshake AUTH: %s", sn_strerror(rc));
		return;
	}
	/* The peer signs its own role: it dialled iff we are inbound. */
	rc = net__hs_verify(sig, c->th, c->inbound, c->hello.node_key);
	if (rc != SN_OK) {
		key_hex(hex, c->hello.node_key);
		conn_fail(c, rc, "peer cannot prove node key %.16s...: bad handshake signature", hex);
		return;
	}
	uv_timer_stop(&c->timer);
	c->state = CS_OPEN;
	c->authenticated = true;
	if (t->on_connect)
		t->on_connect(c, c->hello.node_key, t->ud);
}

static void message_received(struct net_conn *c, uint16_t type, const uint8_t *p, size_t len)
{
	struct net_transport *t = c->t;
	struct net_msg m;
	int rc;

	rc = net_msg_decode(&m, type, p, len);
	if (rc != SN_OK) {
		if (rc == SN_E_TYPE)
			conn_fail(c, rc, "unknown message type %u", type);
		else
			conn_fail(c, rc, "malformed %s message (%zu bytes): %s", net_msg_name(type), len,
			          sn_strerror(rc));
		return;
	}
	c->st.msgs_in++;
	if (t->on_message)
		t->on_message(c, type, p, len, t->ud);
}

/* ---------------------------------------------------------------- reader */

/* Opens the frame whose 5 header bytes are hdr and body (in rbuf) follows, and acts on it. */
static void frame_complete(struct net_conn *c, const uint8_t *hdr, uint8_t *body, uint32_t n)
{
	uint16_t type;
	const uint8_t *p;
	size_t len;
	uint64_t ctr = c->rx.ctr;
	int rc;

	rc = net__frame_open(&c->rx, hdr, body, n, &type, &p, &len);
	if (rc != SN_OK) {
		conn_fail(c, rc, "frame %" PRIu64 " failed authentication (altered, replayed, "
		                 "reordered or not from the peer)", ctr);
		return;
	}
	if (c->state == CS_AUTH)
		auth_received(c, type, p, len);
	else
		message_received(c, type, p, len);
}

/* Checks a frame header; on SN_OK *n is its body length (within frame_max). */
static int header_check(struct net_conn *c, const uint8_t hdr[NET__FRAME_HEADER_LEN],
                        uint32_t *n)
{
	/* Before the peer has proven its key the only frame it may send is its AUTH, whose size
	 * is fixed: anything else is refused from the header, before a byte of it is buffered. */
	uint32_t limit = c->state == CS_AUTH ? NET__TYPE_LEN + NET__AUTH_LEN + NET__TAG_LEN : c->t->frame_max;
	int rc = net__frame_header_decode(n, hdr, limit);

	if (rc == SN_OK && c->state == CS_AUTH && *n != limit)
		rc = SN_E_TRUNCATED; /* shorter than an AUTH */
	if (rc == SN_E_TOOBIG)
		conn_fail(c, rc, "frame of %" PRIu32 " bytes is above the limit of %" PRIu32 "%s",
		          (uint32_t)(hdr[1] | hdr[2] << 8 | hdr[3] << 16 | (uint32_t)hdr[4] << 24), limit,
		          c->state == CS_AUTH ? " (the handshake AUTH)" : "");
	else if (rc != SN_OK)
		conn_fail(c, rc, "bad frame header (version %u): %s", hdr[0], sn_strerror(rc));
	return rc;
}

/* Consumes every complete hello or frame in rbuf[rpos..rlen), as far as the state allows,
 * and sets rneed for the next one. Lengths are checked from their prefix or header before
 * they become rneed, which is what the buffer may grow to. */
static void conn_process(struct net_conn *c)
{
	while (c->state == CS_HELLO || c->state == CS_AUTH || c->state == CS_OPEN) {
		uint8_t *p = c->rbuf + c->rpos;
		size_t avail = c->rlen - c->rpos, unit;

		if (c->state == CS_HELLO) {
			size_t body;
			int rc;

			c->rneed = NET__HS_PREFIX_LEN;
			if (avail < NET__HS_PREFIX_LEN)
				break;
			rc = net__hs_prefix_decode(&body, p);
			if (rc == SN_E_VERSION) {
				conn_fail(c, rc, "not a settled peer (bad handshake magic)");
				break;
			}
			if (rc != SN_OK) {
				conn_fail(c, rc, "bad handshake hello length %u: %s", p[4] | p[5] << 8,
				          sn_strerror(rc));
				break;
			}
			unit = NET__HS_PREFIX_LEN + body;
			c->rneed = unit;
			if (avail < unit)
				break;
			memcpy(c->peer_hello, p, unit); /* kept for the transcript */
			c->peer_hello_len = unit;
			c->rpos += unit;
			hello_received(c);
		} else {
			uint32_t n;

			c->rneed = NET__FRAME_HEADER_LEN;
			if (avail < NET__FRAME_HEADER_LEN)
				break;
			if (header_check(c, p, &n) != SN_OK)
				break;
			unit = NET__FRAME_HEADER_LEN + (size_t)n;
			c->rneed = unit;
			if (avail < unit)
				break;
			c->rpos += unit;
			frame_complete(c, p, p + NET__FRAME_HEADER_LEN, n);
		}
	}
	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	/* Do not let one large frame pin its buffer. */
	if (c->state != CS_CLOSING && c->rcap > RBUF_LEN && c->rneed <= RBUF_LEN &&
	    c->rlen - c->rpos <= RBUF_LEN) {
		uint8_t *small = sn_malloc(RBUF_LEN);

		if (small) {
			memcpy(small, c->rbuf + c->rpos, c->rlen - c->rpos);
			sn_free(c->rbuf);
			c->rbuf = small;
			c->rcap = RBUF_LEN;
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct net_conn *c = h->data;

	(void)suggested;
	/* Move the unread rest to the front when what is left after it is short. */
	if (c->rpos && (c->rcap - c->rpos < c->rneed || c->rcap - c->rlen < RBUF_MIN_READ)) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	/* A frame larger than the buffer (its length checked against frame_max already):
	 * room for exactly it. A failure reaches on_read as UV_ENOBUFS. */
	if (c->rcap < c->rneed) {
		uint8_t *big = sn_realloc(c->rbuf, c->rneed);

		if (!big) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->rbuf = big;
		c->rcap = c->rneed;
	}
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned int)(c->rcap - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct net_conn *c = s->data;

	(void)buf;
	if (c->state == CS_CLOSING)
		return;
	if (nread == UV_ENOBUFS) {
		conn_fail(c, SN_E_NOMEM, "no memory for a frame of %zu bytes",
		          c->rneed - NET__FRAME_HEADER_LEN);
		return;
	}
	if (nread < 0) {
		bool clean = c->state == CS_OPEN && c->rlen == c->rpos;

		if (nread != UV_EOF)
			conn_fail(c, SN_E_IO, "read failed: %s", uv_strerror((int)nread));
		else if (clean)
			conn_fail(c, SN_E_IO, "peer closed the connection");
		else
			conn_fail(c, SN_E_TRUNCATED, "peer closed the connection %s",
			          c->state == CS_OPEN ? "mid-frame" : "during the handshake");
		return;
	}
	c->st.bytes_in += (uint64_t)nread;
	c->rlen += (size_t)nread;
	conn_process(c);
}

static void on_timeout(uv_timer_t *timer)
{
	struct net_conn *c = timer->data;

	conn_fail(c, SN_E_TIMEOUT, "handshake not finished within %" PRIu64 " ms",
	          c->t->hs_timeout_ms);
}

static void set_peer_addr(struct net_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		uv_ip4_name(a, ip, sizeof(ip));
		port = ntohs(a->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		uv_ip6_name(a, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
	}
	snprintf(c->addr, sizeof(c->addr), ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

/* TCP is up: send our hello and read theirs. */
static void conn_start(struct net_conn *c)
{
	struct net_transport *t = c->t;
	struct net__hs_hello hh;
	uint8_t *out;
	int rc;

	set_peer_addr(c);
	uv_tcp_nodelay(&c->tcp, 1);
	c->state = CS_HELLO;
	c->rneed = NET__HS_PREFIX_LEN;
	memset(&hh, 0, sizeof(hh));
	crypto_kx_keypair(hh.eph_key, c->eph_sk);
	memcpy(hh.hello.node_key, t->node_key, NET_NODE_KEY_LEN);
	hh.hello.chain_id = t->chain_id;
	hh.hello.version = NET_PROTOCOL_VERSION;
	hh.hello.listen_port = t->port;
	hh.ciphers = t->ciphers;
	memcpy(hh.hello.user_agent, t->user_agent, sizeof(hh.hello.user_agent));
	rc = net__hs_hello_encode(c->my_hello, sizeof(c->my_hello), &c->my_hello_len, &hh);
	assert(rc == SN_OK);
	if (rc != SN_OK) {
		conn_fail(c, rc, "cannot encode our hello");
		return;
	}
	rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc != 0) {
		conn_fail(c, SN_E_IO, "cannot read: %s", uv_strerror(rc));
		return;
	}
	out = sendq_reserve(c, c->my_hello_len);
	if (!out) {
		conn_fail(c, SN_E_NOMEM, "no memory for our hello");
		return;
	}
	memcpy(out, c->my_hello, c->my_hello_len);
	rc = sendq_commit(c, c->my_hello_len);
	if (rc != SN_OK)
		conn_fail(c, rc, "cannot send our hello: %s", sn_strerror(rc));
}

static void on_connected(uv_connect_t *req, int status)
{
	struct net_conn *c = req->data;

	if (status == UV_ECANCELED || c->state == CS_CLOSING)
		return;
	if (status < 0) {
		conn_fail(c, SN_E_IO, "connect failed: %s", uv_strerror(status));
		return;
	}
	conn_start(c);
}

static void on_tmp_closed(uv_handle_t *h)
{
	sn_free(h);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct net_transport *t = server->data;
	struct net_conn *c;

	if (status < 0) {
		SN_LOG(SN_LOG_WARN, SUBSYS, "accept failed: %s", uv_strerror(status));
		return;
	}
	if (t->closing || conn_new(&c, t, true) != SN_OK) {
		/* Take the connection off the backlog and drop it. */
		uv_tcp_t *tmp = sn_malloc(sizeof(*tmp));

		if (tmp && uv_tcp_init(t->loop, tmp) == 0) {
			(void)uv_accept(server, (uv_stream_t *)tmp);
			uv_close((uv_handle_t *)tmp, on_tmp_closed);
		} else {
			sn_free(tmp);
		}
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		c->notify = false; /* the owner never saw it */
		conn_begin_close(c);
		return;
	}
	c->notify = true;
	set_peer_addr(c);
	if (t->on_accept) {
		t->on_accept(c, t->ud);
		if (c->state == CS_CLOSING)
			return; /* refused by the owner: on_close follows */
	}
	uv_timer_start(&c->timer, on_timeout, t->hs_timeout_ms, 0);
	conn_start(c);
}

/* ------------------------------------------------------------- public API */

int net_transport_new(struct net_transport **out, struct uv_loop_s *loop,
                      const struct net_opts *opts)
{
	struct net_transport *t;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	const char *ua;
	size_t ua_len;
	uint32_t frame_max;
	size_t sendq_max;
	bool match;

	*out = NULL;
	if (!loop || !opts || !opts->node_seckey)
		return SN_E_INVAL;
	frame_max = opts->frame_max ? opts->frame_max : NET_FRAME_MAX_DEFAULT;
	if (frame_max < NET_FRAME_MAX_MIN || frame_max > NET_FRAME_MAX_LIMIT)
		return SN_E_INVAL;
	sendq_max = opts->sendq_max;
	if (!sendq_max)
		sendq_max = NET_SENDQ_MAX_DEFAULT > (size_t)frame_max + NET__FRAME_HEADER_LEN
		                    ? NET_SENDQ_MAX_DEFAULT
		                    : (size_t)frame_max + NET__FRAME_HEADER_LEN;
	if (sendq_max < (size_t)frame_max + NET__FRAME_HEADER_LEN)
		return SN_E_INVAL; /* one largest frame must fit */
	ua = opts->user_agent ? opts->user_agent : DEFAULT_USER_AGENT;
	ua_len = strnlen(ua, NET_USER_AGENT_MAX + 1);
	if (ua_len > NET_USER_AGENT_MAX)
		return SN_E_INVAL;
	for (size_t i = 0; i < ua_len; i++)
		if ((unsigned char)ua[i] < 0x20 || (unsigned char)ua[i] > 0x7e)
			return SN_E_INVAL;
	/* The key's public half must be the one its seed gives. */
	crypto_sign_seed_keypair(pk, sk, opts->node_seckey);
	match = sodium_memcmp(sk, opts->node_seckey, sizeof(sk)) == 0;
	sodium_memzero(sk, sizeof(sk));
	if (!match)
		return SN_E_BADKEY;

	t = sn_calloc(1, sizeof(*t));
	if (!t)
		return SN_E_NOMEM;
	t->seckey = sodium_malloc(NET_NODE_SECKEY_LEN);
	if (!t->seckey) {
		sn_free(t);
		return SN_E_NOMEM;
	}
	memcpy(t->seckey, opts->node_seckey, NET_NODE_SECKEY_LEN);
	if (uv_tcp_init(loop, &t->listener) != 0) {
		sodium_free(t->seckey);
		sn_free(t);
		return SN_E_IO;
	}
	t->listener.data = t;
	t->open = 1;
	t->loop = loop;
	memcpy(t->node_key, pk, sizeof(pk));
	t->chain_id = opts->chain_id;
	t->ciphers = net__ciphers_supported();
	memcpy(t->user_agent, ua, ua_len);
	t->frame_max = frame_max;
	t->sendq_max = sendq_max;
	t->hs_timeout_ms = opts->handshake_timeout_ms ? opts->handshake_timeout_ms
	                                              : NET_HANDSHAKE_TIMEOUT_DEFAULT_MS;
	t->on_accept = opts->on_accept;
	t->on_connect = opts->on_connect;
	t->on_message = opts->on_message;
	t->on_close = opts->on_close;
	t->ud = opts->ud;
	*out = t;
	return SN_OK;
}

static int parse_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (!ip)
		return SN_E_INVAL;
	if (uv_ip4_addr(ip, port, (struct sockaddr_in *)ss) == 0)
		return SN_OK;
	if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss) == 0)
		return SN_OK;
	return SN_E_INVAL;
}

int net_transport_listen(struct net_transport *t, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	int rc;

	if (!t || t->closing || t->listening || parse_addr(&ss, ip, port) != SN_OK)
		return SN_E_INVAL;
	rc = uv_tcp_bind(&t->listener, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&t->listener, 128, on_connection);
	if (rc == UV_EADDRINUSE)
		return SN_E_EXISTS;
	if (rc != 0)
		return SN_E_IO;
	t->listening = true;
	if (uv_tcp_getsockname(&t->listener, (struct sockaddr *)&ss, &len) == 0)
		t->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                         : ((struct sockaddr_in *)&ss)->sin_port);
	return SN_OK;
}

uint16_t net_transport_port(const struct net_transport *t)
{
	return t && t->listening ? t->port : 0;
}

const uint8_t *net_transport_node_key(const struct net_transport *t)
{
	return t->node_key;
}

void net__transport_set_ciphers(struct net_transport *t, uint8_t ciphers)
{
	t->ciphers = ciphers & net__ciphers_supported();
}

enum net__suite net__conn_suite(const struct net_conn *c)
{
	return (enum net__suite)c->tx.suite;
}

int net_transport_dial(struct net_transport *t, struct net_conn **out, const char *ip,
                       uint16_t port)
{
	struct sockaddr_storage ss;
	struct net_conn *c;
	int rc;

	*out = NULL;
	if (!t || t->closing || parse_addr(&ss, ip, port) != SN_OK || port == 0)
		return SN_E_INVAL;
	rc = conn_new(&c, t, false);
	if (rc != SN_OK)
		return rc;
	snprintf(c->addr, sizeof(c->addr), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
	         port);
	rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss, on_connected);
	if (rc != 0) {
		c->notify = false; /* the call failed: no callback */
		conn_begin_close(c);
		return rc == UV_ENOMEM ? SN_E_NOMEM : SN_E_IO;
	}
	c->notify = true;
	uv_timer_start(&c->timer, on_timeout, t->hs_timeout_ms, 0);
	*out = c;
	return SN_OK;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct net_transport *t = h->data;

	t->open--;
	transport_maybe_done(t);
}

void net_transport_close(struct net_transport *t, net_transport_closed_cb *cb, void *ud)
{
	if (!t || t->closing)
		return;
	t->closing = true;
	t->closed_cb = cb;
	t->closed_ud = ud;
	for (struct net_conn *c = t->conns; c; c = c->next)
		conn_fail(c, SN_E_CANCELLED, "transport closed");
	uv_close((uv_handle_t *)&t->listener, on_listener_closed);
}

int net_conn_send(struct net_conn *c, uint16_t type, const uint8_t *payload, size_t len)
{
	struct net_msg m;
	size_t wire;
	int rc;

	if (!c || c->state != CS_OPEN || (len && !payload))
		return SN_E_INVAL;
	rc = net_msg_decode(&m, type, payload, len);
	if (rc != SN_OK)
		return rc;
	if (NET__FRAME_BODY_MIN + len > c->t->frame_max)
		return SN_E_TOOBIG;
	wire = NET__FRAME_LEN(len);
	if (c->st.queued + wire > c->t->sendq_max)
		return SN_E_BUSY;
	rc = conn_send_frame(c, type, payload, len);
	if (rc == SN_OK)
		c->st.msgs_out++;
	return rc;
}

void net_conn_close(struct net_conn *c)
{
	if (c)
		conn_fail(c, SN_OK, "closed by us");
}

void net_conn_stats(const struct net_conn *c, struct net_conn_stats *out)
{
	*out = c->st;
}

const struct net_hello *net_conn_hello(const struct net_conn *c)
{
	return c->authenticated ? &c->hello : NULL;
}

bool net_conn_inbound(const struct net_conn *c)
{
	return c->inbound;
}

const char *net_conn_peer_addr(const struct net_conn *c)
{
	return c->addr;
}

void net_conn_set_data(struct net_conn *c, void *data)
{
	c->data = data;
}

void *net_conn_data(const struct net_conn *c)
{
	return c->data;
}
