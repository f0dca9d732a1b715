/* node/cli_rpc.c — the `settle` CLI's JSON-RPC client (node/cli_rpc_int.h). One connection per
 * call ("Connection: close"): a CLI makes a handful of calls, and a fresh connection never
 * meets a server-side idle timeout. The request is written here; the response is parsed by
 * http_parser and its body by jansson. */
#include "node/cli_rpc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int cli_rpc_endpoint_set(struct cli_rpc *r, const char *hostport, char *err, size_t errlen)
{
	const char *host = hostport, *colon, *port;
	size_t hlen;
	char *end;
	unsigned long p;

	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');

		if (!close || close[1] != ':')
			goto bad;
		host = hostport + 1;
		hlen = (size_t)(close - host);
		port = close + 2;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon || strchr(hostport, ':') != colon)
			goto bad;
		hlen = (size_t)(colon - hostport);
		port = colon + 1;
	}
	errno = 0;
	p = strtoul(port, &end, 10);
	if (hlen == 0 || hlen >= sizeof(r->host) || !*port || *end || errno || p == 0 || p > 65535 ||
	    port[0] == '-' || port[0] == '+' || strlen(hostport) >= sizeof(r->display))
		goto bad;
	memcpy(r->host, host, hlen);
	r->host[hlen] = '\0';
	/* A server listening on the wildcard address is reached on the loopback. */
	if (strcmp(r->host, "0.0.0.0") == 0)
		strcpy(r->host, "127.0.0.1");
	else if (strcmp(r->host, "::") == 0)
		strcpy(r->host, "::1");
	snprintf(r->port, sizeof(r->port), "%lu", p);
	snprintf(r->display, sizeof(r->display), "%s", hostport);
	if (!r->timeout_ms)
		r->timeout_ms = CLI_RPC_TIMEOUT_MS;
	return SN_OK;
bad:
	snprintf(err, errlen, "'%s' is not HOST:PORT (e.g. 127.0.0.1:8645 or [::1]:8645)", hostport);
	return SN_E_INVAL;
}

/* ------------------------------------------------------------ response parsing */

struct http_resp {
	http_parser p;
	http_parser_settings s;
	char *body;
	size_t len, cap;
	bool complete, too_big, nomem;
};

static int resp_on_body(http_parser *p, const char *at, size_t n)
{
	struct http_resp *h = p->data;

	if (n > CLI_RPC_MAX_RESPONSE - h->len) {
		h->too_big = true;
		return 1;
	}
	if (h->len + n + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 4096;
		char *b;

		while (cap < h->len + n + 1)
			cap *= 2;
		b = sn_realloc(h->body, cap);
		if (!b) {
			h->nomem = true;
			return 1;
		}
		h->body = b;
		h->cap = cap;
	}
	memcpy(h->body + h->len, at, n);
	h->len += n;
	h->body[h->len] = '\0';
	return 0;
}

static int resp_on_complete(http_parser *p)
{
	struct http_resp *h = p->data;

	h->complete = true;
	http_parser_pause(p, 1); /* one response per connection: what follows is not ours */
	return 0;
}

static void resp_init(struct http_resp *h)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->p, HTTP_RESPONSE);
	h->p.data = h;
	http_parser_settings_init(&h->s);
	h->s.on_body = resp_on_body;
	h->s.on_message_complete = resp_on_complete;
}

static void resp_free(struct http_resp *h)
{
	sn_free(h->body);
	h->body = NULL;
}

/* Feeds n bytes (0: the peer closed). SN_OK, or an error with err set. */
static int resp_feed(struct http_resp *h, const char *data, size_t n, char *err, size_t errlen)
{
	size_t used;

	if (h->complete)
		return SN_OK;
	used = http_parser_execute(&h->p, &h->s, data, n);

	if (h->nomem) {
		snprintf(err, errlen, "out of memory reading the response");
		return SN_E_NOMEM;
	}
	if (h->too_big) {
		snprintf(err, errlen, "response body larger than %u bytes", CLI_RPC_MAX_RESPONSE);
		return SN_E_TOOBIG;
	}
	if (HTTP_PARSER_ERRNO(&h->p) == HPE_PAUSED && h->complete)
		return SN_OK;
	if (HTTP_PARSER_ERRNO(&h->p) == HPE_INVALID_EOF_STATE) {
		snprintf(err, errlen, "the connection closed before the response was complete");
		return SN_E_IO;
	}
	if (HTTP_PARSER_ERRNO(&h->p) != HPE_OK) {
		snprintf(err, errlen, "malformed HTTP response (%s)",
		         http_errno_description(HTTP_PARSER_ERRNO(&h->p)));
		return SN_E_INVAL;
	}
	if (used != n && !h->complete) {
		snprintf(err, errlen, "malformed HTTP response");
		return SN_E_INVAL;
	}
	return SN_OK;
}

static int resp_finish(struct http_resp *h, int *status, char **body, size_t *body_len, char *err,
                       size_t errlen)
{
	if (!h->complete) {
		snprintf(err, errlen, "the connection closed before the response was complete");
		return SN_E_IO;
	}
	/* http_parser takes any number of digits; HTTP has three. */
	if (h->p.status_code < 100 || h->p.status_code > 999) {
		snprintf(err, errlen, "malformed HTTP response (status %u)", (unsigned)h->p.status_code);
		return SN_E_INVAL;
	}
	if (!h->body && !(h->body = sn_calloc(1, 1))) {
		snprintf(err, errlen, "out of memory");
		return SN_E_NOMEM;
	}
	*status = (int)h->p.status_code;
	*body = h->body;
	*body_len = h->len;
	h->body = NULL;
	return SN_OK;
}

int cli_http_response_read(const char *resp, size_t len, int *status, char **body, size_t *body_len,
                           char *err, size_t errlen)
{
	struct http_resp h;
	int rc;

	*status = 0;
	*body = NULL;
	*body_len = 0;
	resp_init(&h);
	rc = resp_feed(&h, resp, len, err, errlen);
	if (!rc && !h.complete)
		rc = resp_feed(&h, NULL, 0, err, errlen);
	if (!rc)
		rc = resp_finish(&h, status, body, body_len, err, errlen);
	if (rc == SN_E_IO)
		rc = SN_E_INVAL;
	resp_free(&h);
	return rc;
}

/* ------------------------------------------------------------------ the socket */

static int ms_left(uint64_t deadline_ns)
{
	uint64_t now = sn_time_mono_ns();

	return now >= deadline_ns ? 0 : (int)((deadline_ns - now + 999999) / 1000000);
}

/* Waits for fd to be ready for events; SN_E_TIMEOUT at the deadline. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int left = ms_left(deadline_ns), n;

		if (left == 0)
			return SN_E_TIMEOUT;
		n = poll(&pfd, 1, left);
		if (n > 0)
			return SN_OK;
		if (n == 0)
			return SN_E_TIMEOUT;
		if (errno != EINTR)
			return SN_E_IO;
	}
}

static const char *connect_hint(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ? " (is settled running?)" : "";
}

/* Connects within the deadline to the first address that answers. Returns the socket or -1
 * with msg set. */
static int rpc_connect(const struct cli_rpc *r, uint64_t deadline_ns, char *msg, size_t msglen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	int gai, fd = -1, last = 0;

	gai = getaddrinfo(r->host, r->port, &hints, &res);
	if (gai != 0) {
		snprintf(msg, msglen, "cannot reach the node at %s: %s", r->display, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int rc, soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc != 0 && errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline_ns);
			if (rc == SN_E_TIMEOUT) {
				last = ETIMEDOUT;
			} else if (rc == SN_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0) {
				if (soerr == 0)
					break;
				last = soerr;
			} else {
				last = errno;
			}
		} else if (rc == 0) {
			break;
		} else {
			last = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (last == ETIMEDOUT)
			snprintf(msg, msglen, "cannot reach the node at %s: no answer within %d s", r->display,
			         r->timeout_ms / 1000);
		else
			snprintf(msg, msglen, "cannot reach the node at %s: %s%s", r->display,
			         last == ECONNREFUSED ? "connection refused" : strerror(last), connect_hint(last));
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline_ns)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT, deadline_ns);

			if (rc)
				return rc;
			continue;
		}
		return SN_E_IO;
	}
	return SN_OK;
}

/* POSTs body to r; on SN_OK *status and *resp (caller frees, sn_free) are the response. */
static int http_post(const struct cli_rpc *r, const char *body, size_t len, int *status, char **resp,
                     size_t *resp_len, char *msg, size_t msglen)
{
	uint64_t deadline = sn_time_mono_ns() + (uint64_t)r->timeout_ms * 1000000u;
	char b64[sodium_base64_ENCODED_LEN(sizeof(r->auth), sodium_base64_VARIANT_ORIGINAL)];
	char head[1024], auth_line[sizeof(b64) + 32] = "", buf[16384];
	struct http_resp h;
	int fd, rc, n;

	*status = 0;
	*resp = NULL;
	*resp_len = 0;
	if (r->auth[0]) {
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)r->auth, strlen(r->auth),
		                  sodium_base64_VARIANT_ORIGINAL);
		snprintf(auth_line, sizeof(auth_line), "Authorization: Basic %s\r\n", b64);
		sn_wipe(b64, sizeof(b64));
	}
	n = snprintf(head, sizeof(head),
	             "POST / HTTP/1.1\r\nHost: %s\r\nUser-Agent: settle\r\n%sContent-Type: application/json\r\n"
	             "Accept: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	             r->display, auth_line, len);
	sn_wipe(auth_line, sizeof(auth_line));
	if (n < 0 || (size_t)n >= sizeof(head)) {
		sn_wipe(head, sizeof(head));
		snprintf(msg, msglen, "request head too long");
		return SN_E_INVAL;
	}
	fd = rpc_connect(r, deadline, msg, msglen);
	if (fd < 0) {
		sn_wipe(head, sizeof(head));
		return SN_E_IO;
	}
	rc = send_all(fd, head, (size_t)n, deadline);
	sn_wipe(head, sizeof(head));
	if (!rc)
		rc = send_all(fd, body, len, deadline);
	if (rc) {
		close(fd);
		if (rc == SN_E_TIMEOUT)
			snprintf(msg, msglen, "the node at %s did not take the request within %d s", r->display,
			         r->timeout_ms / 1000);
		else
			snprintf(msg, msglen, "the node at %s closed the connection: %s", r->display, strerror(errno));
		return SN_E_IO;
	}
	resp_init(&h);
	for (;;) {
		char why[200];
		ssize_t got = recv(fd, buf, sizeof(buf), 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc == SN_E_TIMEOUT) {
				snprintf(msg, msglen, "the node at %s did not answer within %d s", r->display,
				         r->timeout_ms / 1000);
				break;
			}
			if (rc) {
				snprintf(msg, msglen, "reading from the node at %s: %s", r->display, strerror(errno));
				break;
			}
			continue;
		}
		if (got < 0) {
			rc = SN_E_IO;
			snprintf(msg, msglen, "reading from the node at %s: %s", r->display, strerror(errno));
			break;
		}
		rc = resp_feed(&h, buf, (size_t)got, why, sizeof(why));
		if (!rc && (got == 0 || h.complete))
			rc = resp_finish(&h, status, resp, resp_len, why, sizeof(why));
		if (rc || got == 0 || *resp) {
			if (rc)
				snprintf(msg, msglen, "the node at %s: %s", r->display, why);
			break;
		}
	}
	close(fd);
	resp_free(&h);
	if (rc == SN_E_TIMEOUT)
		rc = SN_E_IO;
	return rc;
}

/* ------------------------------------------------------------------ JSON-RPC */

static const char *http_reason(int status)
{
	switch (status) {
	case 400: return "bad request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not found";
	case 413: return "request too large";
	case 431: return "request head too large";
	case 500: return "internal server error";
	case 503: return "service unavailable";
	default: return "unexpected status";
	}
}

/* Fills e from a JSON-RPC error object and returns the call's error code. */
static int rpc_error(const json_t *err, struct cli_rpc_error *e)
{
	const json_t *code = json_object_get(err, "code"), *message = json_object_get(err, "message");
	const json_t *data = json_object_get(err, "data"), *name = NULL;

	if (!json_is_integer(code)) {
		snprintf(e->msg, sizeof(e->msg), "the node answered with a malformed error object");
		return SN_E_INVAL;
	}
	e->rpc_code = (int)json_integer_value(code);
	if (json_is_string(message))
		snprintf(e->rpc_message, sizeof(e->rpc_message), "%s", json_string_value(message));
	name = json_object_get(data, "error");
	if (!json_is_string(name))
		name = json_object_get(data, "param");
	if (json_is_string(name))
		snprintf(e->rpc_name, sizeof(e->rpc_name), "%s", json_string_value(name));
	switch (e->rpc_code) {
	case NODE_RPC_REJECTED:
		snprintf(e->msg, sizeof(e->msg), "transaction rejected: %s (%s)", e->rpc_name[0] ? e->rpc_name : "?",
		         e->rpc_message);
		break;
	case NODE_RPC_NOT_READY:
		snprintf(e->msg, sizeof(e->msg), "the node is not ready: %s%s%s%s", e->rpc_message,
		         e->rpc_name[0] ? " (" : "", e->rpc_name, e->rpc_name[0] ? ")" : "");
		break;
	case NODE_RPC_INVALID_PARAMS:
		snprintf(e->msg, sizeof(e->msg), "the node refused the request: %s%s%s", e->rpc_message,
		         e->rpc_name[0] ? ": " : "", e->rpc_name);
		break;
	default:
		snprintf(e->msg, sizeof(e->msg), "the node answered error %d: %s%s%s%s", e->rpc_code, e->rpc_message,
		         e->rpc_name[0] ? " (" : "", e->rpc_name, e->rpc_name[0] ? ")" : "");
	}
	return e->rpc_code == NODE_RPC_NOT_FOUND ? SN_E_NOTFOUND : SN_E_INVAL;
}

int cli_rpc_call(const struct cli_rpc *r, const char *method, json_t *params, json_t **result,
                 struct cli_rpc_error *e)
{
	json_t *req, *resp = NULL, *v;
	json_error_t je;
	char *text, *body = NULL;
	size_t body_len = 0;
	int status = 0, rc;

	*result = NULL;
	memset(e, 0, sizeof(*e));
	req = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", 1, "method", method, "params",
	                params ? params : json_array());
	if (!req || !(text = json_dumps(req, JSON_COMPACT))) {
		json_decref(req);
		snprintf(e->msg, sizeof(e->msg), "out of memory");
		return SN_E_NOMEM;
	}
	json_decref(req);
	rc = http_post(r, text, strlen(text), &status, &body, &body_len, e->msg, sizeof(e->msg));
	free(text);
	if (rc)
		return rc;
	if (status == 401) {
		snprintf(e->msg, sizeof(e->msg), "the node refused our credentials (%s)",
		         r->auth_source[0] ? r->auth_source : "none sent");
		rc = SN_E_INVAL;
		goto out;
	}
	resp = json_loadb(body, body_len, 0, &je);
	if (!resp) {
		if (status != 200)
			snprintf(e->msg, sizeof(e->msg), "the node at %s answered HTTP %d (%s)", r->display, status,
			         http_reason(status));
		else
			snprintf(e->msg, sizeof(e->msg), "the node at %s answered with invalid JSON (line %d: %s)",
			         r->display, je.line, je.text);
		rc = SN_E_INVAL;
		goto out;
	}
	if (!json_is_object(resp) || !json_is_string(json_object_get(resp, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(resp, "jsonrpc")), "2.0") != 0) {
		snprintf(e->msg, sizeof(e->msg), "the node at %s did not answer with a JSON-RPC 2.0 response (HTTP %d)",
		         r->display, status);
		rc = SN_E_INVAL;
		goto out;
	}
	if ((v = json_object_get(resp, "error")) && !json_is_null(v)) {
		rc = rpc_error(v, e);
		goto out;
	}
	v = json_object_get(resp, "result");
	if (!v || status != 200) {
		snprintf(e->msg, sizeof(e->msg), "the node at %s answered HTTP %d without a result", r->display,
		         status);
		rc = SN_E_INVAL;
		goto out;
	}
	*result = json_incref(v);
	rc = SN_OK;
out:
	json_decref(resp);
	sn_free(body);
	return rc;
}
