/* tests/fuzz/fuzz_node_http_server.c — the JSON-RPC HTTP server (node/http.c) on arbitrary
 * bytes from a client: one real server on a libuv loop and 127.0.0.1, one connection per
 * input, which sends the input and shuts its sending side. Its handler answers some requests
 * at once and others a turn of the loop later, so pipelined replies are given out of order.
 * The server must never crash, must close the connection once everything is answered, and
 * what it sends must be whole HTTP responses one after the other, with at most one per
 * request the input could hold. */
#include "tests/fuzz/fuzz.h"
#include "node/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LATER_MAX 64

static uv_loop_t loop;
static struct http_server *srv;
static uv_idle_t later_idle;
static struct http_req *later[LATER_MAX];
static size_t n_later;

/* Answers the requests kept for later (a turn of the loop after they came). */
static void on_later(uv_idle_t *h)
{
	for (size_t i = 0; i < n_later; i++)
		http_reply(later[i], 200, "application/json", "{\"later\":true}", 14);
	n_later = 0;
	uv_idle_stop(h);
}

/* A body starting with 'L' is answered later; any other is echoed at once. */
static void on_post(void *ud, struct http_req *req, const char *body, size_t len)
{
	(void)ud;
	if (len && body[0] == 'L' && n_later < LATER_MAX) {
		later[n_later++] = req;
		uv_idle_start(&later_idle, on_later);
		return;
	}
	http_reply(req, 200, "application/json", body, len);
}

static int on_health(void *ud, const char **reason)
{
	(void)ud;
	*reason = "ok";
	return 200;
}

static void server_start(void)
{
	struct http_server_opts o = { .address = "127.0.0.1",
		                      .port = 0,
		                      .limits = { .max_body = 2048, .max_header = 1024, .max_connections = 64,
		                                  .idle_timeout_ms = 500 },
		                      .credentials = { "u:p", NULL },
		                      .on_post = on_post,
		                      .on_health = on_health };

	CHECK(uv_loop_init(&loop) == 0);
	CHECK(http_server_start(&srv, &loop, &o) == SN_OK);
	uv_idle_init(&loop, &later_idle);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static size_t n_msgs;
static bool in_msg;

static int on_msg_begin(http_parser *p)
{
	(void)p;
	in_msg = true;
	return 0;
}

static int on_msg_complete(http_parser *p)
{
	(void)p;
	in_msg = false;
	n_msgs++;
	return 0;
}

/* Counts the responses in out; CHECKs that it is whole responses and nothing else. */
static size_t responses(const char *out, size_t len)
{
	static const http_parser_settings s = { .on_message_begin = on_msg_begin,
		                                .on_message_complete = on_msg_complete };
	http_parser p;

	n_msgs = 0;
	in_msg = false;
	http_parser_init(&p, HTTP_RESPONSE);
	CHECK(http_parser_execute(&p, &s, out, len) == len);
	CHECK(HTTP_PARSER_ERRNO(&p) == HPE_OK);
	CHECK(!in_msg); /* no response cut short */
	return n_msgs;
}

/* Requests the input could hold, at most: one per line end (every request line has one). */
static size_t max_requests(const uint8_t *data, size_t size)
{
	size_t n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

/* A client connection to the server. Each run's connection ends in TIME_WAIT on this side
 * (it half-closes first), thousands of runs a second: each connects from a source address
 * of its own out of 127.1.0.0/16, and one whose address or port is still taken tries the
 * next (a failure of all of them is the harness's, not the server's: it says why). */
static int connect_client(const struct sockaddr_in *dst)
{
	static uint32_t k;

	for (int tries = 0; tries < 256; tries++) {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f010000u | (k++ & 0xffffu)) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		CHECK(fd >= 0);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0 &&
		    connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) == 0)
			return fd;
		close(fd);
	}
	fprintf(stderr, "fuzz_node_http_server: cannot connect to the server: %s\n", strerror(errno));
	CHECK(0);
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[1 << 20];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	size_t sent = 0, got = 0;
	bool closed = false, shut = false;
	uint64_t t0;
	int fd;

	if (!srv)
		server_start();
	a.sin_port = htons(http_server_port(srv));
	fd = connect_client(&a);
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
	t0 = now_ms();
	/* Send, read and turn the loop until the server closes the connection. */
	while (!closed) {
		ssize_t k;

		if (sent < size) {
			k = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (k > 0)
				sent += (size_t)k;
			else if (k < 0 && errno != EAGAIN)
				sent = size; /* the server closed (a bad request): stop sending */
		}
		if (sent == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		k = recv(fd, out + got, sizeof(out) - got, 0);
		if (k > 0)
			got += (size_t)k;
		else if (k == 0 || (k < 0 && errno != EAGAIN))
			closed = true;
		CHECK(got < sizeof(out));
		CHECK(now_ms() - t0 < 5000); /* everything answered, then closed: never a hang */
	}
	close(fd);
	uv_run(&loop, UV_RUN_NOWAIT); /* let the server free the connection */
	CHECK(responses(out, got) <= max_requests(data, size));
	return 0;
}
