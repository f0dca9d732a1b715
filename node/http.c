/* node/http.c — HTTP/1.1 for JSON-RPC over libuv with http_parser (Debian libhttp-parser).
 *
 * Pipelining: a connection's requests are parsed and handed to the handler as they come, up to
 * PIPE_MAX at once (a submit_tx is answered only after its signature check on a helper thread,
 * so several of one client's requests are checked together); their replies go out in request
 * order. A reply is not written when it is given: the connections with replies ready are
 * flushed once per turn of the loop (a uv_prepare, before the loop waits), each with one
 * writev of every reply ready at the head of its queue, so a pipelining client's replies of
 * one turn cost one system call and one wake-up of the client. Parsing stops while PIPE_MAX
 * requests wait, while the requests not answered yet hold max_body bytes of bodies (the
 * work a connection may queue is that of one request of the largest size, as without
 * pipelining), while OUT_MAX bytes of replies wait behind an unanswered one, after a request
 * without keep-alive, and while libuv still writes an earlier reply (a client that does not
 * read its replies stops being read); what arrives meanwhile is
 * kept unparsed, and reading stops while more than IN_MAX bytes wait (backpressure). Limits:
 * head size, body size, connection count and an idle timer that also bounds how long a slow
 * client may take to send a request. */
#include "node/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_CRED 256
#define IN_MAX 65536  /* unparsed bytes kept while requests are in flight; reading stops beyond */
#define PIPE_MAX 32   /* a connection's requests awaiting their reply or its writing, at most */
#define OUT_MAX 262144 /* replies given but not written yet beyond which nothing more is parsed */
#define FLUSH_IOV 16  /* replies written by one writev, at most */

static const char oom_body[] = "{\"error\":\"out of memory\"}";

struct http_pool;
struct http_worker;

struct http_server {
	uv_loop_t *loop;
	struct http_pool *pool;     /* threads > 0: the workers (both on the listener's server and theirs) */
	struct http_worker *worker; /* a worker's own server: its thread; NULL for the listener's */
	uv_tcp_t listener;
	uv_prepare_t flush;      /* writes the replies given in this turn of the loop */
	uv_tcp_t reject;         /* accepts and closes a connection there is no memory for */
	bool reject_busy;        /* reject is closing one */
	bool accept_waiting;     /* another waits meanwhile (libuv holds it, the listener paused) */
	struct http_conn *dirty; /* connections with a reply ready at the head of their queue */
	struct http_server_opts opts;
	char cred[2][MAX_CRED];
	char cred_b64[2][sodium_base64_ENCODED_LEN(MAX_CRED, sodium_base64_VARIANT_ORIGINAL)]; /* as clients send it */
	bool has_cred[2];
	uint16_t port;
	size_t n_conns;
	struct http_conn *conns; /* list, for stop */
	bool stopping;
	unsigned pending_closes;
	void (*done)(void *ud);
	void *done_ud;
};

/* One parsed request, from its parsing until its reply is written (or dropped). */
struct http_req {
	struct http_conn *conn;
	struct http_req *next; /* the connection's next younger request */
	char *out;             /* the whole response, once answered */
	size_t out_len;
	size_t body_len;  /* its body's length, counted in conn->pending_body until answered */
	bool answered;
	bool keep_alive;  /* the client keeps the connection after this request */
	bool close_after; /* close once this reply is written */
	/* http_reply_any's reply from another thread, queued for the worker's loop (w->replies) */
	struct http_req *a_next;
	char *a_body; /* NULL: out of memory, a 500 goes instead */
	const char *a_ctype;
	size_t a_len;
	int a_status;
};

struct http_conn {
	uv_tcp_t tcp;
	uv_timer_t idle;
	struct http_server *srv;
	struct http_conn *next, *prev;
	struct http_conn *dirty_next; /* in srv->dirty */
	bool dirty;
	http_parser parser;
	size_t head_bytes;
	char url[256];
	size_t url_len;
	char *body;
	size_t body_len, body_cap;
	char auth[MAX_CRED * 2];
	size_t auth_len;
	int header_state; /* 0 other, 1 in Authorization field name, 2 in its value */
	bool header_is_auth;
	char field[32];
	size_t field_len;
	char rbuf[16384]; /* read buffer, reused: libuv fills it, on_read consumes it at once */
	char *in;         /* bytes received but not parsed yet */
	size_t in_len, in_cap;
	struct http_req *q_head, *q_tail; /* requests in order, until their reply is written */
	unsigned q_len;   /* requests in the queue */
	size_t out_bytes; /* of their replies, given but not written yet */
	unsigned pending; /* of those, not answered yet (the handler works on them) */
	size_t pending_body; /* the body bytes of those */
	bool last;        /* a request without keep-alive was parsed: nothing after it is */
	bool write_wait;  /* replies are being written by libuv: parse nothing more until they are */
	bool reading;     /* uv_read_start is in effect */
	bool eof;         /* the client sent everything it will send */
	bool failed;      /* a malformed or refused request: nothing more is parsed */
	bool driving;     /* inside conn_drive or on_read's parsing (no recursion) */
	bool closing;
	int handles_open; /* tcp + timer */
	int reject_status; /* set by a callback that rejects the request */
};

static void conn_close(struct http_conn *c);
static void conn_drive(struct http_conn *c);
static void idle_restart(struct http_conn *c);
static void pool_conn_gone(struct http_pool *pool);

static void server_maybe_done(struct http_server *srv)
{
	if (srv->stopping && srv->pending_closes == 0 && srv->n_conns == 0) {
		void (*done)(void *) = srv->done;
		void *ud = srv->done_ud;

		sn_wipe(srv->cred, sizeof(srv->cred));
		sn_wipe(srv->cred_b64, sizeof(srv->cred_b64));
		sn_free(srv);
		if (done)
			done(ud);
	}
}

static void conn_free(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->dirty)
		for (struct http_conn **pp = &srv->dirty; *pp; pp = &(*pp)->dirty_next)
			if (*pp == c) {
				*pp = c->dirty_next;
				break;
			}
	srv->n_conns--;
	if (srv->pool)
		pool_conn_gone(srv->pool);
	sn_free(c->body);
	sn_free(c->in);
	sn_free(c);
	server_maybe_done(srv);
}

/* Takes r out of c's queue and frees it. */
static void req_drop(struct http_conn *c, struct http_req *r)
{
	struct http_req *prev = NULL;

	for (struct http_req *x = c->q_head; x && x != r; x = x->next)
		prev = x;
	if (prev)
		prev->next = r->next;
	else
		c->q_head = r->next;
	if (c->q_tail == r)
		c->q_tail = prev;
	c->q_len--;
	if (!r->answered) {
		c->pending--;
		c->pending_body -= r->body_len;
	} else {
		c->out_bytes -= r->out_len;
	}
	sn_free(r->out);
	sn_free(r);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;

	if (--c->handles_open == 0 && !c->q_head)
		conn_free(c);
}

/* Closes c. Answered replies not written yet are dropped now; requests the handler still
 * works on stay queued until it answers them (http_reply drops them then), and keep c. */
static void conn_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	for (struct http_req *r = c->q_head, *next; r; r = next) {
		next = r->next;
		if (r->answered)
			req_drop(c, r);
	}
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_dec(char *p, size_t v)
{
	char tmp[24];
	int k = (int)sizeof(tmp);

	do {
		tmp[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(p, tmp + k, sizeof(tmp) - (size_t)k);
	return p + sizeof(tmp) - (size_t)k;
}

/* The whole response (head and body) in one allocation; NULL when out of memory. */
static char *response_build(int status, const char *ctype, const char *body, size_t len, bool close_after,
                            size_t *out_len)
{
	char head[512], *p = head, *out;
	size_t hn;

	if (!ctype)
		ctype = "application/json";
	if (strlen(ctype) > 200)
		ctype = "application/octet-stream";
	/* "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n" [WWW-Authenticate] [close] "\r\n" */
	p = put_str(p, "HTTP/1.1 ");
	p = put_dec(p, (size_t)(status > 0 && status < 1000 ? status : 500));
	*p++ = ' ';
	p = put_str(p, status_text(status));
	p = put_str(p, "\r\nContent-Type: ");
	p = put_str(p, ctype);
	p = put_str(p, "\r\nContent-Length: ");
	p = put_dec(p, len);
	p = put_str(p, "\r\n");
	if (status == 401)
		p = put_str(p, "WWW-Authenticate: Basic realm=\"settled\"\r\n");
	if (close_after)
		p = put_str(p, "Connection: close\r\n");
	p = put_str(p, "\r\n");
	hn = (size_t)(p - head);
	if (!(out = sn_malloc(hn + len)))
		return NULL;
	memcpy(out, head, hn);
	if (len)
		memcpy(out + hn, body, len);
	*out_len = hn + len;
	return out;
}

static void on_flush(uv_prepare_t *h);

/* c has a reply ready at the head of its queue: written in this turn's flush. */
static void conn_mark_dirty(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->dirty || c->closing || srv->stopping)
		return;
	c->dirty = true;
	c->dirty_next = srv->dirty;
	srv->dirty = c;
	if (!uv_is_active((uv_handle_t *)&srv->flush))
		uv_prepare_start(&srv->flush, on_flush);
}

/* Appends a parsed request to c's queue; NULL when out of memory. */
static struct http_req *req_new(struct http_conn *c, bool keep_alive)
{
	struct http_req *r = sn_calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->conn = c;
	r->keep_alive = keep_alive;
	if (c->q_tail)
		c->q_tail->next = r;
	else
		c->q_head = r;
	c->q_tail = r;
	c->q_len++;
	c->pending++;
	if (!keep_alive)
		c->last = true;
	return r;
}

/* Gives r its reply; it is written, in order, by the flush. */
static void req_answer(struct http_req *r, int status, const char *ctype, const char *body, size_t len)
{
	struct http_conn *c = r->conn;

	r->close_after = !r->keep_alive || c->srv->stopping;
	if (!(r->out = response_build(status, ctype, body, len, r->close_after, &r->out_len))) {
		conn_close(c); /* r stays (unanswered) until the caller's http_reply drops it */
		return;
	}
	r->answered = true;
	c->pending--;
	c->pending_body -= r->body_len;
	c->out_bytes += r->out_len;
	if (r == c->q_head)
		conn_mark_dirty(c);
}

void http_reply(struct http_req *req, int status, const char *content_type, const char *body, size_t len)
{
	struct http_conn *c = req->conn;

	if (c->closing) { /* the client left or the server stops: drop the reply */
		req_drop(c, req);
		if (c->handles_open == 0 && !c->q_head)
			conn_free(c);
		return;
	}
	req_answer(req, status, content_type, body, len);
	if (c->closing) { /* out of memory: closed */
		req_drop(c, req);
		if (c->handles_open == 0 && !c->q_head)
			conn_free(c);
	}
}

/* Replies libuv writes later (the socket did not take them whole at once). */
struct write_ctx {
	uv_write_t w;
	struct http_conn *c;
	bool close_after;
	char data[];
};

static void conn_flush(struct http_conn *c);

static void on_written(uv_write_t *w, int status)
{
	struct write_ctx *wc = (struct write_ctx *)w;
	struct http_conn *c = wc->c;

	c->write_wait = false;
	if (status < 0 || wc->close_after)
		conn_close(c);
	else if (!c->closing)
		conn_flush(c);
	sn_free(wc);
}

/* Writes the replies ready at the head of c's queue, FLUSH_IOV per writev, until one is not
 * ready or the socket does not take them whole (libuv writes the rest, then on_written
 * flushes on); then parses on. */
static void conn_flush(struct http_conn *c)
{
	bool wrote = false;

	while (!c->closing && !c->write_wait && c->q_head && c->q_head->answered) {
		uv_buf_t bufs[FLUSH_IOV];
		struct http_req *r = c->q_head;
		size_t n = 0, total = 0, done;
		bool close_after = false;
		struct write_ctx *wc = NULL;
		int k;

		for (; r && r->answered && n < FLUSH_IOV; r = r->next) {
			bufs[n++] = uv_buf_init(r->out, (unsigned)r->out_len);
			total += r->out_len;
			if ((close_after = r->close_after))
				break;
		}
		/* Usually the socket takes it all: no copy, no callback. */
		k = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)n);
		if (k < 0 && k != UV_EAGAIN) {
			conn_close(c);
			return;
		}
		done = k > 0 ? (size_t)k : 0;
		wrote = true;
		if (done < total) {
			size_t skip = done, at = 0;

			if (!(wc = sn_malloc(sizeof(*wc) + total - done))) {
				conn_close(c);
				return;
			}
			for (size_t i = 0; i < n; i++) {
				size_t l = bufs[i].len;

				if (skip >= l) {
					skip -= l;
					continue;
				}
				memcpy(wc->data + at, bufs[i].base + skip, l - skip);
				at += l - skip;
				skip = 0;
			}
			wc->c = c;
			wc->close_after = close_after;
		}
		for (size_t i = 0; i < n; i++)
			req_drop(c, c->q_head);
		if (wc) {
			uv_buf_t rest = uv_buf_init(wc->data, (unsigned)(total - done));

			if (uv_write(&wc->w, (uv_stream_t *)&c->tcp, &rest, 1, on_written) != 0) {
				sn_free(wc);
				conn_close(c);
				return;
			}
			c->write_wait = true;
		} else if (close_after) {
			conn_close(c);
			return;
		}
	}
	if (c->closing)
		return;
	if (wrote)
		idle_restart(c);
	conn_drive(c); /* the next pipelined requests, if any (not from inside the parser) */
}

static void on_flush(uv_prepare_t *h)
{
	struct http_server *srv = h->data;
	struct http_conn *c;

	/* A flush may parse more requests whose replies are given at once (mark_dirty again). */
	while ((c = srv->dirty)) {
		srv->dirty = c->dirty_next;
		c->dirty = false;
		conn_flush(c);
	}
	uv_prepare_stop(h);
}

/* Refuses what c sent (malformed, too large, ...): the error is the reply after those of the
 * requests before it, and the connection closes once it is written. */
static void conn_error(struct http_conn *c, int status, const char *msg)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	struct http_req *r;

	c->failed = true;
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	if (!(r = req_new(c, false))) {
		conn_close(c);
		return;
	}
	req_answer(r, status, "application/json", body, (size_t)n);
	if (c->closing) /* out of memory: closed, and nobody else will answer r */
		req_drop(c, r);
}

/* ------------------------------------------------------------ parser callbacks */

static int head_count(struct http_conn *c, size_t n)
{
	c->head_bytes += n;
	if (c->head_bytes > c->srv->opts.limits.max_header) {
		c->reject_status = 431;
		return -1;
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	c->head_bytes = 0;
	c->url_len = 0;
	c->body_len = 0;
	c->auth_len = 0;
	c->field_len = 0;
	c->header_state = 0;
	c->reject_status = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;

	if (head_count(c, n))
		return -1;
	if (c->url_len + n < sizeof(c->url)) {
		memcpy(c->url + c->url_len, at, n);
		c->url_len += n;
	}
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;

	if (head_count(c, n))
		return -1;
	if (c->header_state != 1) { /* a new field starts */
		c->field_len = 0;
		c->header_state = 1;
	}
	if (c->field_len + n < sizeof(c->field)) {
		memcpy(c->field + c->field_len, at, n);
		c->field_len += n;
	} else {
		c->field_len = sizeof(c->field); /* too long to be one we care about */
	}
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;

	if (head_count(c, n))
		return -1;
	if (c->header_state == 1) {
		c->header_is_auth = c->field_len == 13 && strncasecmp(c->field, "authorization", 13) == 0;
		c->header_state = 2;
	}
	if (c->header_is_auth) {
		if (c->auth_len + n >= sizeof(c->auth))
			c->auth_len = sizeof(c->auth); /* too long: cannot match */
		else {
			memcpy(c->auth + c->auth_len, at, n);
			c->auth_len += n;
		}
	}
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	if (p->content_length != ULLONG_MAX && p->content_length > c->srv->opts.limits.max_body) {
		c->reject_status = 413;
		return -1;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	size_t max = c->srv->opts.limits.max_body;

	if (c->body_len + n > max) {
		c->reject_status = 413;
		return -1;
	}
	if (c->body_len + n > c->body_cap) {
		size_t ncap = c->body_cap ? c->body_cap : 4096;
		char *nb;

		while (ncap < c->body_len + n)
			ncap *= 2;
		if (ncap > max)
			ncap = max;
		nb = sn_realloc(c->body, ncap + 1);
		if (!nb) {
			c->reject_status = 500;
			return -1;
		}
		c->body = nb;
		c->body_cap = ncap;
	}
	memcpy(c->body + c->body_len, at, n);
	c->body_len += n;
	return 0;
}

static bool auth_ok(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	char decoded[MAX_CRED];
	size_t dlen = 0;
	const char *b64;
	bool ok = false;

	if (c->auth_len >= sizeof(c->auth) || c->auth_len < 6 || strncasecmp(c->auth, "Basic ", 6) != 0)
		return false;
	c->auth[c->auth_len] = '\0';
	for (b64 = c->auth + 6; *b64 == ' '; b64++)
		;
	/* Usually the value is exactly the credentials' encoding: compared as is, in constant
	 * time, without decoding (the decoder below is strict, so this accepts nothing more). */
	for (int i = 0; i < 2; i++) {
		size_t elen = strlen(srv->cred_b64[i]);

		if (srv->has_cred[i] && strlen(b64) == elen && sn_ct_equal(b64, srv->cred_b64[i], elen))
			ok = true;
	}
	if (ok)
		return true;
	if (sodium_base642bin((unsigned char *)decoded, sizeof(decoded) - 1, b64, strlen(b64), NULL, &dlen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	for (int i = 0; i < 2; i++) {
		size_t clen = strlen(srv->cred[i]);

		/* Length is not secret (the format is fixed); the bytes are compared in constant time. */
		if (srv->has_cred[i] && dlen == clen && sn_ct_equal(decoded, srv->cred[i], clen))
			ok = true;
	}
	sn_wipe(decoded, sizeof(decoded));
	return ok;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_server *srv = c->srv;
	struct http_req *r = req_new(c, http_should_keep_alive(p));

	if (!r) {
		conn_close(c);
		return -1;
	}
	/* Paused after each request: conn_parse's caller decides whether to parse the next. */
	http_parser_pause(p, 1);
	if (p->method == HTTP_GET && (strcmp(c->url, "/health") == 0 || strncmp(c->url, "/health?", 8) == 0)) {
		const char *reason = "ok";
		int status = srv->opts.on_health ? srv->opts.on_health(srv->opts.ud, &reason) : 200;
		char body[160];
		int n = snprintf(body, sizeof(body), "{\"status\":\"%s\"}", reason);

		http_reply(r, status, "application/json", body, (size_t)n);
		return 0;
	}
	if (p->method != HTTP_POST) {
		static const char msg[] = "{\"error\":\"use POST for JSON-RPC or GET /health\"}";

		http_reply(r, 405, "application/json", msg, sizeof(msg) - 1);
		return 0;
	}
	if (!auth_ok(c)) {
		static const char msg[] = "{\"error\":\"authentication required: basic auth with the rpc.cookie or rpc.user\"}";

		http_reply(r, 401, "application/json", msg, sizeof(msg) - 1);
		return 0;
	}
	if (c->body)
		c->body[c->body_len] = '\0';
	r->body_len = c->body_len;
	c->pending_body += c->body_len;
	srv->opts.on_post(srv->opts.ud, r, c->body ? c->body : "", c->body_len);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ------------------------------------------------------------ I/O */

static void on_idle(uv_timer_t *t)
{
	struct http_conn *c = t->data;

	if (c->pending)
		return; /* our own reply is pending: not the client's fault */
	SN_LOG(SN_LOG_DEBUG, "rpc", "closing an idle or slow connection");
	conn_close(c);
}

static void idle_restart(struct http_conn *c)
{
	uv_timer_start(&c->idle, on_idle, c->srv->opts.limits.idle_timeout_ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct http_conn *c = h->data;

	(void)suggested;
	buf->base = c->rbuf;
	buf->len = sizeof(c->rbuf);
}

/* Parses what can be parsed now; returns the bytes consumed. The parser pauses after each
 * complete request (conn_can_parse says whether to go on). */
static size_t conn_parse(struct http_conn *c, const char *data, size_t len)
{
	size_t done;
	enum http_errno e;

	if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
		http_parser_pause(&c->parser, 0);
	done = http_parser_execute(&c->parser, &parser_settings, data, len);
	e = HTTP_PARSER_ERRNO(&c->parser);
	if (c->closing || e == HPE_OK || e == HPE_PAUSED)
		return done;
	{
		int status = c->reject_status ? c->reject_status : 400;

		SN_LOG(SN_LOG_DEBUG, "rpc", "bad request: %s", c->reject_status ? status_text(status) : http_errno_description(e));
		conn_error(c, status, c->reject_status ? status_text(status) : "malformed HTTP request");
	}
	return len;
}

static bool conn_can_parse(const struct http_conn *c)
{
	return !c->closing && !c->failed && !c->last && !c->write_wait && c->q_len < PIPE_MAX &&
	       c->out_bytes < OUT_MAX && c->pending_body < c->srv->opts.limits.max_body;
}

/* Keeps bytes that cannot be parsed yet. */
static bool conn_keep(struct http_conn *c, const char *data, size_t len)
{
	if (c->in_len + len > c->in_cap) {
		size_t ncap = c->in_cap ? c->in_cap : 4096;
		char *nb;

		while (ncap < c->in_len + len)
			ncap *= 2;
		if (!(nb = sn_realloc(c->in, ncap)))
			return false;
		c->in = nb;
		c->in_cap = ncap;
	}
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	return true;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Parses the kept bytes while conn_can_parse, then decides whether to read on: not while
 * IN_MAX bytes wait or after a bad request; closes once the client has sent everything and
 * every reply is out. */
static void conn_drive(struct http_conn *c)
{
	size_t off = 0;

	if (c->driving)
		return;
	c->driving = true;
	while (off < c->in_len && conn_can_parse(c))
		off += conn_parse(c, c->in + off, c->in_len - off);
	if (off && !c->closing) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	c->driving = false;
	if (c->closing)
		return;
	if (c->eof || c->failed) {
		if (c->eof && !c->failed && !c->q_head && !c->write_wait)
			conn_close(c); /* all answered; what is left is an unfinished request */
		return;
	}
	if (c->in_len < IN_MAX && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
			conn_close(c);
			return;
		}
		c->reading = true;
	} else if (c->in_len >= IN_MAX && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct http_conn *c = s->data;
	const char *p = buf->base; /* c->rbuf */
	size_t left = n > 0 ? (size_t)n : 0;

	if (n < 0) {
		if (n != UV_EOF || c->failed) {
			conn_close(c);
			return;
		}
		/* The client sent all it will (it may still read): answer what came, then close. */
		c->eof = true;
		c->reading = false; /* libuv stopped reading */
		conn_drive(c);
		return;
	}
	if (!left)
		return;
	idle_restart(c);
	if (c->failed)
		return;
	/* Parsed straight from the read buffer when nothing waits before it. */
	c->driving = true;
	while (left && !c->in_len && conn_can_parse(c)) {
		size_t k = conn_parse(c, p, left);

		p += k;
		left -= k;
	}
	c->driving = false;
	if (c->closing || c->failed)
		return;
	if (left && !conn_keep(c, p, left)) {
		conn_close(c);
		return;
	}
	conn_drive(c);
}

static void on_connection(uv_stream_t *server, int status);

static void on_reject_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	srv->reject_busy = false;
	srv->pending_closes--;
	if (srv->accept_waiting && !srv->stopping) {
		srv->accept_waiting = false;
		on_connection((uv_stream_t *)&srv->listener, 0); /* its turn now */
		return;
	}
	server_maybe_done(srv);
}

/* A connection came and there is no memory for it: it is accepted and closed at once with the
 * server's own handle (libuv holds an accepted connection until someone takes it, and
 * listens for no other meanwhile). */
static void conn_reject(struct http_server *srv)
{
	if (srv->reject_busy) {
		srv->accept_waiting = true; /* taken when the handle is free again */
		return;
	}
	uv_tcp_init(srv->loop, &srv->reject);
	srv->reject.data = srv;
	(void)uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&srv->reject);
	srv->reject_busy = true;
	srv->pending_closes++;
	uv_close((uv_handle_t *)&srv->reject, on_reject_closed);
	SN_LOG(SN_LOG_WARN, "rpc", "out of memory: refusing a connection");
}

/* Starts serving c, whose tcp handle is open: the limit, then reading. */
static void conn_start(struct http_conn *c)
{
	uv_tcp_nodelay(&c->tcp, 1);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	idle_restart(c);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
	else
		c->reading = true;
}

/* A new connection of srv's (tcp initialized, not open yet); NULL when out of memory. */
static struct http_conn *conn_new(struct http_server *srv)
{
	struct http_conn *c = sn_calloc(1, sizeof(*c));

	if (!c || uv_tcp_init(srv->loop, &c->tcp) != 0) {
		sn_free(c);
		return NULL;
	}
	c->srv = srv;
	c->tcp.data = c;
	c->handles_open = 1;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	uv_timer_init(srv->loop, &c->idle);
	c->idle.data = c;
	c->handles_open++;
	return c;
}

static bool pool_hand_over(struct http_server *srv);

static void on_connection(uv_stream_t *server, int status)
{
	struct http_server *srv = server->data;
	struct http_conn *c;

	if (status < 0)
		return;
	if (srv->pool) {
		if (!pool_hand_over(srv))
			conn_reject(srv);
		return;
	}
	if (!(c = conn_new(srv))) {
		conn_reject(srv);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	if (srv->stopping || srv->n_conns > srv->opts.limits.max_connections) {
		SN_LOG(SN_LOG_WARN, "rpc", "connection limit (%zu) reached: refusing a connection",
		       srv->opts.limits.max_connections);
		conn_close(c);
		return;
	}
	conn_start(c);
}

/* ------------------------------------------------------------ worker threads
 * With opts.threads = N > 0, the listener's loop only accepts: each connection goes to one of N
 * worker threads in turn, each running a loop of its own with a server of its own (no
 * listener), which serves it from then on: parsing, handlers, replies. So a request is read,
 * handled and answered on one thread, without waking another. The accepted socket is handed
 * over as a duplicate file descriptor (the listener's loop closes its own handle), through a
 * queue and a uv_async. The connection limit counts every worker's connections together. */

struct http_worker {
	struct http_pool *pool;
	uv_thread_t tid;
	bool thread_started;
	uv_loop_t loop;
	uv_async_t wake;
	struct http_server *srv; /* on loop */
	uv_mutex_t mu;           /* guards what follows */
	int *fds;                /* accepted sockets to serve */
	size_t n_fds, cap_fds;
	struct http_req *replies, *replies_tail; /* http_reply_any's, in order (a_next) */
	bool stop;
};

struct http_pool {
	struct http_server *srv; /* the listener's */
	unsigned n, next;
	atomic_size_t conns;     /* open on every worker, and handed over */
	uv_async_t exited;       /* on the listener's loop: a worker's loop ended */
	atomic_uint n_exited;
	struct http_worker w[];
};

static _Thread_local struct http_worker *tl_worker; /* the worker this thread runs, if any */

static void pool_conn_gone(struct http_pool *pool)
{
	atomic_fetch_sub(&pool->conns, 1);
}

/* Socket descriptors change threads here: the listener's loop accepts one, a worker serves
 * and closes it, and its number comes back in a later accept. libuv closes a socket with a
 * raw close system call, which ThreadSanitizer does not see, so the descriptor calls of ours
 * that it does see (dup, close) on a number a worker used before would look like data races
 * on that descriptor. These two make the same calls the way libuv does (and a test build
 * free of false reports is what lets TSan fail the tests on a true one). */
static int sock_dup(int fd)
{
	return (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0);
}

static void sock_close(int fd)
{
	(void)syscall(SYS_close, fd);
}

static void on_accepted_closed(uv_handle_t *h)
{
	sn_free(h);
}

/* Accepts a connection on the listener and hands it to the next worker; false when out of
 * memory (the caller refuses it). */
static bool pool_hand_over(struct http_server *srv)
{
	struct http_pool *pool = srv->pool;
	uv_tcp_t *t = sn_malloc(sizeof(*t));
	struct http_worker *w;
	uv_os_fd_t fd;
	int dup_fd, dup_errno;

	if (!t || uv_tcp_init(srv->loop, t) != 0) {
		sn_free(t);
		return false;
	}
	if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)t) != 0 || uv_fileno((uv_handle_t *)t, &fd) != 0) {
		uv_close((uv_handle_t *)t, on_accepted_closed);
		return true;
	}
	if (srv->stopping || atomic_load(&pool->conns) >= srv->opts.limits.max_connections) {
		SN_LOG(SN_LOG_WARN, "rpc", "connection limit (%zu) reached: refusing a connection",
		       srv->opts.limits.max_connections);
		uv_close((uv_handle_t *)t, on_accepted_closed);
		return true;
	}
	dup_fd = sock_dup(fd);
	dup_errno = errno; /* before uv_close, whose epoll_ctl may set errno */
	uv_close((uv_handle_t *)t, on_accepted_closed);
	if (dup_fd < 0) {
		SN_LOG(SN_LOG_WARN, "rpc", "refusing a connection: %s", strerror(dup_errno));
		return true;
	}
	w = &pool->w[pool->next++ % pool->n];
	uv_mutex_lock(&w->mu);
	if (w->n_fds == w->cap_fds) {
		size_t cap = w->cap_fds ? 2 * w->cap_fds : 16;
		int *nf = sn_realloc(w->fds, cap * sizeof(*nf));

		if (!nf) {
			uv_mutex_unlock(&w->mu);
			sock_close(dup_fd);
			SN_LOG(SN_LOG_WARN, "rpc", "out of memory: refusing a connection");
			return true;
		}
		w->fds = nf;
		w->cap_fds = cap;
	}
	w->fds[w->n_fds++] = dup_fd;
	atomic_fetch_add(&pool->conns, 1);
	uv_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
	return true;
}

/* Serves a socket the listener accepted, on the worker's loop. */
static void worker_adopt(struct http_worker *w, int fd)
{
	struct http_conn *c = w->srv->stopping ? NULL : conn_new(w->srv);

	if (!c) {
		sock_close(fd);
		pool_conn_gone(w->pool);
		return;
	}
	if (uv_tcp_open(&c->tcp, fd) != 0) {
		sock_close(fd);
		conn_close(c); /* counted: conn_free gives it back */
		return;
	}
	conn_start(c);
}

static void on_worker_wake_closed(uv_handle_t *h)
{
	(void)h; /* the loop ends: nothing else is open */
}

static void on_worker_server_done(void *ud)
{
	struct http_worker *w = ud;

	w->srv = NULL;
	uv_close((uv_handle_t *)&w->wake, on_worker_wake_closed);
}

static void on_worker_wake(uv_async_t *h)
{
	struct http_worker *w = h->data;
	struct http_req *replies;
	int *fds;
	size_t n_fds;
	bool stop;

	uv_mutex_lock(&w->mu);
	fds = w->fds;
	n_fds = w->n_fds;
	w->fds = NULL;
	w->n_fds = w->cap_fds = 0;
	replies = w->replies;
	w->replies = w->replies_tail = NULL;
	stop = w->stop;
	uv_mutex_unlock(&w->mu);
	for (size_t i = 0; i < n_fds; i++)
		worker_adopt(w, fds[i]);
	sn_free(fds);
	while (replies) {
		struct http_req *r = replies;
		char *body = r->a_body;

		replies = r->a_next; /* r may be freed by its reply */
		if (body)
			http_reply(r, r->a_status, r->a_ctype, body, r->a_len);
		else
			http_reply(r, 500, "application/json", oom_body, sizeof(oom_body) - 1);
		sn_free(body);
	}
	if (stop && w->srv && !w->srv->stopping)
		http_server_stop(w->srv, on_worker_server_done, w);
}

void http_reply_any(struct http_req *req, int status, const char *content_type, const char *body, size_t len)
{
	struct http_worker *w = req->conn->srv->worker;

	if (!w || w == tl_worker) { /* on the thread serving req */
		http_reply(req, status, content_type, body, len);
		return;
	}
	if ((req->a_body = sn_malloc(len ? len : 1))) {
		memcpy(req->a_body, body, len);
		req->a_len = len;
		req->a_status = status;
		req->a_ctype = content_type;
	}
	req->a_next = NULL;
	uv_mutex_lock(&w->mu);
	if (w->replies_tail)
		w->replies_tail->a_next = req;
	else
		w->replies = req;
	w->replies_tail = req;
	uv_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
}

uv_loop_t *http_req_loop(const struct http_req *req)
{
	return req->conn->srv->loop;
}

static void worker_main(void *arg)
{
	struct http_worker *w = arg;
	struct http_pool *pool = w->pool;

	tl_worker = w;
	uv_run(&w->loop, UV_RUN_DEFAULT);
	atomic_fetch_add(&pool->n_exited, 1);
	uv_async_send(&pool->exited);
}
static void server_set_credentials(struct http_server *srv, const char *a, const char *b)
{
	const char *in[2] = { a, b };

	for (int i = 0; i < 2; i++) {
		sn_wipe(srv->cred[i], MAX_CRED);
		sn_wipe(srv->cred_b64[i], sizeof(srv->cred_b64[i]));
		srv->has_cred[i] = in[i] && *in[i] && strlen(in[i]) < MAX_CRED;
		if (srv->has_cred[i]) {
			memcpy(srv->cred[i], in[i], strlen(in[i]) + 1);
			sodium_bin2base64(srv->cred_b64[i], sizeof(srv->cred_b64[i]), (const unsigned char *)in[i],
			                  strlen(in[i]), sodium_base64_VARIANT_ORIGINAL);
		}
	}
}

static void on_listener_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	srv->pending_closes--;
	server_maybe_done(srv);
}

/* A server on loop with opts' limits, credentials and handlers; no listener yet. */
static struct http_server *server_new(uv_loop_t *loop, const struct http_server_opts *opts)
{
	struct http_server *srv = sn_calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->opts = *opts;
	server_set_credentials(srv, opts->credentials[0], opts->credentials[1]);
	uv_prepare_init(loop, &srv->flush);
	srv->flush.data = srv;
	return srv;
}

static void on_pool_closed(uv_handle_t *h)
{
	struct http_pool *pool = h->data;
	struct http_server *srv = pool->srv;

	sn_free(pool);
	srv->pool = NULL;
	srv->pending_closes--;
	server_maybe_done(srv);
}

/* Joins the workers whose threads started and frees what they leave. */
static void pool_join(struct http_pool *pool)
{
	for (unsigned i = 0; i < pool->n; i++) {
		struct http_worker *w = &pool->w[i];

		if (!w->thread_started)
			continue;
		uv_thread_join(&w->tid);
		uv_loop_close(&w->loop);
		uv_mutex_destroy(&w->mu);
		for (size_t k = 0; k < w->n_fds; k++) /* handed over after the worker stopped */
			sock_close(w->fds[k]);
		sn_free(w->fds);
	}
}

/* On the listener's loop: a worker's loop ended. Once every one has, they are joined. */
static void on_pool_exited(uv_async_t *h)
{
	struct http_pool *pool = h->data;
	unsigned started = 0;

	if (uv_is_closing((uv_handle_t *)h))
		return;
	for (unsigned i = 0; i < pool->n; i++)
		started += pool->w[i].thread_started;
	if (atomic_load(&pool->n_exited) < started)
		return;
	pool_join(pool);
	uv_close((uv_handle_t *)&pool->exited, on_pool_closed);
}

static void pool_stop(struct http_pool *pool)
{
	for (unsigned i = 0; i < pool->n; i++) {
		struct http_worker *w = &pool->w[i];

		if (!w->thread_started)
			continue;
		uv_mutex_lock(&w->mu);
		w->stop = true;
		uv_mutex_unlock(&w->mu);
		uv_async_send(&w->wake);
	}
}

/* Starts opts->threads workers for srv (the listener's). On failure the ones started are
 * stopped and joined, and srv has no pool. */
static int pool_start(struct http_server *srv, const struct http_server_opts *opts)
{
	struct http_pool *pool = sn_calloc(1, sizeof(*pool) + opts->threads * sizeof(pool->w[0]));
	int rc = 0;

	if (!pool)
		return SN_E_NOMEM;
	pool->srv = srv;
	pool->n = opts->threads;
	atomic_init(&pool->conns, 0);
	atomic_init(&pool->n_exited, 0);
	for (unsigned i = 0; i < pool->n && !rc; i++) {
		struct http_worker *w = &pool->w[i];

		w->pool = pool;
		if ((rc = uv_loop_init(&w->loop)) != 0)
			break;
		uv_mutex_init(&w->mu);
		uv_async_init(&w->loop, &w->wake, on_worker_wake);
		w->wake.data = w;
		if (!(w->srv = server_new(&w->loop, opts))) {
			rc = UV_ENOMEM;
		} else {
			w->srv->pool = pool;
			w->srv->worker = w;
			rc = uv_thread_create(&w->tid, worker_main, w);
		}
		if (rc) {
			/* Not started: its loop is run here once to close what it has. */
			if (w->srv) {
				w->srv->stopping = true;
				w->srv->pending_closes = 1;
				uv_close((uv_handle_t *)&w->srv->flush, on_listener_closed); /* frees w->srv */
			}
			uv_close((uv_handle_t *)&w->wake, NULL);
			uv_run(&w->loop, UV_RUN_DEFAULT);
			uv_loop_close(&w->loop);
			uv_mutex_destroy(&w->mu);
			break;
		}
		w->thread_started = true;
	}
	if (rc) {
		SN_LOG(SN_LOG_ERROR, "rpc", "cannot start the RPC threads: %s", uv_strerror(rc));
		pool_stop(pool);
		pool_join(pool);
		sn_free(pool);
		return SN_E_IO;
	}
	uv_async_init(srv->loop, &pool->exited, on_pool_exited);
	pool->exited.data = pool;
	srv->pool = pool;
	return SN_OK;
}

int http_server_start(struct http_server **out, uv_loop_t *loop, const struct http_server_opts *opts)
{
	struct http_server *srv;
	struct sockaddr_storage addr;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
	int namelen = sizeof(addr), rc;

	*out = NULL;
	if (!(srv = server_new(loop, opts)))
		return SN_E_NOMEM;
	uv_tcp_init(loop, &srv->listener);
	srv->listener.data = srv;
	srv->stopping = true; /* until it listens: the error paths below close what is open */
	srv->pending_closes = 2; /* listener and flush */
	if (uv_ip4_addr(opts->address, opts->port, a4) != 0 &&
	    uv_ip6_addr(opts->address, opts->port, (struct sockaddr_in6 *)&addr) != 0) {
		SN_LOG(SN_LOG_ERROR, "rpc", "rpc.address '%s' is not an IPv4 or IPv6 address", opts->address);
		rc = SN_E_INVAL;
	} else if ((rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0)) != 0 ||
	           (rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection)) != 0) {
		SN_LOG(SN_LOG_ERROR, "rpc", "cannot listen on %s:%u: %s", opts->address, opts->port, uv_strerror(rc));
		rc = SN_E_IO;
	} else if (opts->threads) {
		rc = pool_start(srv, opts);
	}
	if (rc) {
		uv_close((uv_handle_t *)&srv->flush, on_listener_closed);
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed); /* frees srv */
		return rc;
	}
	srv->stopping = false;
	srv->pending_closes = 0;
	uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&addr, &namelen);
	srv->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port : a4->sin_port);
	*out = srv;
	return SN_OK;
}

uint16_t http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_stop(struct http_server *srv, void (*done)(void *ud), void *ud)
{
	if (!srv) {
		if (done)
			done(ud);
		return;
	}
	srv->stopping = true;
	srv->done = done;
	srv->done_ud = ud;
	srv->pending_closes += 1 + !srv->worker; /* flush, and the listener (+ a rejected connection closing) */
	for (struct http_conn *c = srv->conns; c; c = c->next)
		conn_close(c);
	srv->dirty = NULL; /* closing connections write nothing more */
	uv_close((uv_handle_t *)&srv->flush, on_listener_closed);
	if (!srv->worker)
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
	if (srv->pool && !srv->worker) {
		/* Each worker stops its server; once all have, on_pool_exited joins them. */
		srv->pending_closes++;
		pool_stop(srv->pool);
		on_pool_exited(&srv->pool->exited); /* none started: done now */
	}
}
