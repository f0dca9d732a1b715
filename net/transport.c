/* net/transport.c — connections over libuv TCP: the handshake state machine, the frame
 * reader, the bounded send queue and the drop-with-a-reason path. Codecs: wire.c. */
#include "net/net_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <uv.h>

#define READ_BUF_LEN (64u * 1024)
#define BODY_KEEP_MAX (256u * 1024) /* a larger receive buffer is freed after its frame */
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
	size_t hs_have, hs_need;
	struct net_hello hello;
	uint8_t th[SN_HASH_LEN]; /* transcript hash */

	/* Channel. */
	struct net__cipher tx, rx;

	/* Frame reader. */
	uint8_t hdr[NET__FRAME_HEADER_LEN];
	size_t hdr_have;
	bool in_body;
	uint8_t *body;
	size_t body_cap, body_have;
	uint32_t body_len;
	uint8_t *rbuf;

	struct net_conn_stats st;
};

/* A queued write: the frame's wire bytes follow the request. */
struct wbuf {
	uv_write_t req;
	struct net_conn *c;
	size_t len;
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

static void conn_free(struct net_conn *c)
{
	struct net_transport *t = c->t;

	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sn_free(c->body);
	sn_free(c->rbuf);
	sodium_memzero(c, sizeof(*c)); /* keys, ephemeral secret, transcript */
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
	c->rbuf = sn_malloc(READ_BUF_LEN);
	if (!c->rbuf) {
		sn_free(c);
		return SN_E_NOMEM;
	}
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
	c->tcp.data = c->timer.data = c->connect_req.data = c;
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

static void on_write(uv_write_t *req, int status)
{
	struct wbuf *wb = req->data;
	struct net_conn *c = wb->c;

	c->st.queued -= wb->len;
	if (status == 0)
		c->st.bytes_out += wb->len;
	else if (status != UV_ECANCELED)
		conn_fail(c, SN_E_IO, "write failed: %s", uv_strerror(status));
	sn_free(wb);
}

/* Queues wb on c. On error wb is freed. */
static int conn_write(struct net_conn *c, struct wbuf *wb)
{
	uv_buf_t b = uv_buf_init((char *)wb->data, (unsigned int)wb->len);
	int rc;

	wb->c = c;
	wb->req.data = wb;
	rc = uv_write(&wb->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc != 0) {
		sn_free(wb);
		return rc == UV_ENOMEM ? SN_E_NOMEM : SN_E_IO;
	}
	c->st.queued += wb->len;
	return SN_OK;
}

static struct wbuf *wbuf_new(size_t len)
{
	struct wbuf *wb = sn_malloc(sizeof(*wb) + len);

	if (wb)
		wb->len = len;
	return wb;
}

/* Seals and queues one frame (no queue bound: callers check it). */
static int conn_send_frame(struct net_conn *c, uint16_t type, const uint8_t *payload, size_t len)
{
	struct wbuf *wb = wbuf_new(NET__FRAME_LEN(len));

	if (!wb)
		return SN_E_NOMEM;
	net__frame_seal(wb->data, &c->tx, type, payload, len);
	return conn_write(c, wb);
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

	rc = net__hs_hello_decode(&hh, c->peer_hello, c->hs_have);
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
	il = c->inbound ? c->hs_have : c->my_hello_len;
	rh = c->inbound ? c->my_hello : c->peer_hello;
	rl = c->inbound ? c->my_hello_len : c->hs_have;
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

static void frame_complete(struct net_conn *c)
{
	uint16_t type;
	const uint8_t *p;
	size_t len;
	uint64_t ctr = c->rx.ctr;
	int rc;

	c->in_body = false;
	c->hdr_have = 0;
	rc = net__frame_open(&c->rx, c->hdr, c->body, c->body_len, &type, &p, &len);
	if (rc != SN_OK) {
		conn_fail(c, rc, "frame %" PRIu64 " failed authentication (altered, replayed, "
		                 "reordered or not from the peer)", ctr);
		return;
	}
	if (c->state == CS_AUTH)
		auth_received(c, type, p, len);
	else
		message_received(c, type, p, len);
	/* Do not let one large frame pin its buffer. */
	if (c->body_cap > BODY_KEEP_MAX) {
		sn_free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
}

static void header_complete(struct net_conn *c)
{
	uint32_t n;
	int rc = net__frame_header_decode(&n, c->hdr, c->t->frame_max);

	if (rc == SN_E_TOOBIG) {
		conn_fail(c, rc, "frame of %" PRIu32 " bytes is above the limit of %" PRIu32,
		          (uint32_t)(c->hdr[1] | c->hdr[2] << 8 | c->hdr[3] << 16 |
		                     (uint32_t)c->hdr[4] << 24),
		          c->t->frame_max);
		return;
	}
	if (rc != SN_OK) {
		conn_fail(c, rc, "bad frame header (version %u): %s", c->hdr[0], sn_strerror(rc));
		return;
	}
	/* The length is within frame_max: only now allocate. */
	if (c->body_cap < n) {
		sn_free(c->body);
		c->body = sn_malloc(n);
		c->body_cap = c->body ? n : 0;
		if (!c->body) {
			conn_fail(c, SN_E_NOMEM, "no memory for a frame of %" PRIu32 " bytes", n);
			return;
		}
	}
	c->body_len = n;
	c->body_have = 0;
	c->in_body = true;
}

/* Consumes bytes read from the peer, as far as the state allows. */
static void conn_feed(struct net_conn *c, const uint8_t *p, size_t n)
{
	while (n > 0 && c->state != CS_CLOSING) {
		size_t k;

		if (c->state == CS_HELLO) {
			k = c->hs_need - c->hs_have;
			k = k < n ? k : n;
			memcpy(c->peer_hello + c->hs_have, p, k);
			c->hs_have += k, p += k, n -= k;
			if (c->hs_have < c->hs_need)
				continue;
			if (c->hs_need == NET__HS_PREFIX_LEN) {
				size_t body;
				int rc = net__hs_prefix_decode(&body, c->peer_hello);

				if (rc == SN_E_VERSION)
					conn_fail(c, rc, "not a settled peer (bad handshake magic)");
				else if (rc != SN_OK)
					conn_fail(c, rc, "bad handshake hello length %u: %s",
					          c->peer_hello[4] | c->peer_hello[5] << 8, sn_strerror(rc));
				else
					c->hs_need += body;
				continue;
			}
			hello_received(c);
		} else if (!c->in_body) {
			k = NET__FRAME_HEADER_LEN - c->hdr_have;
			k = k < n ? k : n;
			memcpy(c->hdr + c->hdr_have, p, k);
			c->hdr_have += k, p += k, n -= k;
			if (c->hdr_have == NET__FRAME_HEADER_LEN)
				header_complete(c);
		} else {
			k = c->body_len - c->body_have;
			k = k < n ? k : n;
			memcpy(c->body + c->body_have, p, k);
			c->body_have += k, p += k, n -= k;
			if (c->body_have == c->body_len)
				frame_complete(c);
		}
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct net_conn *c = h->data;

	(void)suggested;
	/* Inside a large frame body, read straight into it (saves a copy). */
	if (c->in_body && c->body_len - c->body_have >= READ_BUF_LEN) {
		*buf = uv_buf_init((char *)c->body + c->body_have,
		                   (unsigned int)(c->body_len - c->body_have));
		return;
	}
	*buf = uv_buf_init((char *)c->rbuf, READ_BUF_LEN);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct net_conn *c = s->data;

	if (c->state == CS_CLOSING)
		return;
	if (nread < 0) {
		bool clean = c->state == CS_OPEN && !c->in_body && c->hdr_have == 0;

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
	if (buf->base == (char *)c->rbuf) {
		conn_feed(c, c->rbuf, (size_t)nread);
		return;
	}
	/* Read in place into the body. */
	c->body_have += (size_t)nread;
	if (c->body_have == c->body_len)
		frame_complete(c);
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
	struct wbuf *wb;
	int rc;

	set_peer_addr(c);
	uv_tcp_nodelay(&c->tcp, 1);
	c->state = CS_HELLO;
	c->hs_need = NET__HS_PREFIX_LEN;
	memset(&hh, 0, sizeof(hh));
	crypto_kx_keypair(hh.eph_key, c->eph_sk);
	memcpy(hh.hello.node_key, t->node_key, NET_NODE_KEY_LEN);
	hh.hello.chain_id = t->chain_id;
	hh.hello.version = NET_PROTOCOL_VERSION;
	hh.hello.listen_port = t->port;
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
	wb = wbuf_new(c->my_hello_len);
	if (!wb) {
		conn_fail(c, SN_E_NOMEM, "no memory for our hello");
		return;
	}
	memcpy(wb->data, c->my_hello, c->my_hello_len);
	rc = conn_write(c, wb);
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
