/* node/http_int.h — a small HTTP/1.1 server on libuv for JSON-RPC: http_parser parses, this file
 * enforces limits, basic auth and keep-alive. Internal to node/. It runs on the loop thread
 * given to http_server_start, or with opts.threads > 0 accepts there and serves each
 * connection on one of that many worker threads, each with a loop of its own. */
#ifndef SN_NODE_HTTP_H
#define SN_NODE_HTTP_H

#include <uv.h>

#include "common/common.h"

struct http_server;
struct http_req; /* one request awaiting its reply; owned by the server */

struct http_limits {
	size_t max_body, max_header, max_connections;
	uint64_t idle_timeout_ms;
};

/* Called for an authenticated POST with its body (borrowed until the handler returns), on the
 * thread that serves the connection (http_req_loop's). The handler must reply exactly once:
 * http_reply on that thread, now or later, or http_reply_any from any thread. A pipelining
 * client's next requests may be handed over before that: replies go out in request order
 * whatever the order they are given in. */
typedef void http_post_fn(void *ud, struct http_req *req, const char *body, size_t len);
/* GET /health: returns the status (200 or 503) and a short reason (on the serving thread). */
typedef int http_health_fn(void *ud, const char **reason);

struct http_server_opts {
	const char *address;
	uint16_t port;
	struct http_limits limits;
	/* Accepted "user:password" credentials (NULL entries ignored), compared in constant time. */
	const char *credentials[2];
	/* 0: one loop; N: N worker threads serve the connections (on_post and on_health run there). */
	unsigned threads;
	http_post_fn *on_post;
	http_health_fn *on_health;
	void *ud;
};

/* Binds and listens. Errors: SN_E_IO with a log line saying why (address in use, ...). */
SN_MUST_CHECK int http_server_start(struct http_server **out, uv_loop_t *loop, const struct http_server_opts *opts);
/* Stops listening and closes every connection; pending requests' replies are dropped.
 * done (may be NULL) runs on the loop thread when everything is closed and freed: once every
 * request handed to on_post has had its reply, and the worker threads are joined. */
void http_server_stop(struct http_server *srv, void (*done)(void *ud), void *ud);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const struct http_server *srv);

/* Replies to req with a status and a body (copied). The request is finished after this; the
 * reply is written in this turn of the loop, after those of the connection's earlier
 * requests. */
void http_reply(struct http_req *req, int status, const char *content_type, const char *body, size_t len);
/* The same from any thread: on the thread serving req, http_reply; from another, the reply
 * (body copied; content_type must stay valid: a string literal) is queued to that thread,
 * which gives it in its next turn. */
void http_reply_any(struct http_req *req, int status, const char *content_type, const char *body, size_t len);
/* The loop of the thread serving req. */
uv_loop_t *http_req_loop(const struct http_req *req);

#endif
