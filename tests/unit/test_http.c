/* test_http.c — the admin HTTP server on a loop, and the blocking client: 200 and 404
 * answers, bad methods and requests, a large body, refused and silent servers, a malformed
 * answer.  The blocking client runs in a thread while the main thread runs the loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/http.h"
#include "unit.h"

#define MS 1000000ull
#define BIG_BODY (1u << 20)

struct handler_state {
	int calls;
	char last_path[128];
	char last_method[8];
};

static int handler(const char *method, const char *path, struct pk_strbuf *body, const char **ctype,
		   void *data)
{
	struct handler_state *h = data;

	h->calls++;
	snprintf(h->last_method, sizeof(h->last_method), "%s", method);
	snprintf(h->last_path, sizeof(h->last_path), "%s", path);
	if (strcmp(path, "/metrics") == 0) {
		*ctype = "text/plain; version=0.0.4";
		pk_strbuf_printf(body, "up 1\n");
		return 200;
	}
	if (strcmp(path, "/big") == 0) {
		for (unsigned i = 0; i < BIG_BODY / 16; i++)
			pk_strbuf_printf(body, "%015u\n", i);
		return 200;
	}
	pk_strbuf_printf(body, "no such page\n");
	return 404;
}

/* Finds the listening TCP socket the server opened: the highest fd with SO_ACCEPTCONN. */
static int find_listener(void)
{
	int found = -1;

	for (int fd = 3; fd < 1024; fd++) {
		int v = 0;
		socklen_t len = sizeof(v);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v)
			found = fd;
	}
	return found;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int loopback(uint16_t port, struct pk_addr *a)
{
	char err[128];

	return pk_addr_resolve("127.0.0.1", port, a, err, sizeof(err));
}

/* Sends raw request text on a blocking socket and reads the whole answer into out. */
static int raw_exchange(const struct pk_addr *a, const char *req, char *out, size_t outlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t off = 0;
	struct timeval tv = { .tv_sec = 3 };

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -errno;
	}
	for (;;) {
		ssize_t n = read(fd, out + off, outlen - 1 - off);

		if (n <= 0)
			break;
		off += (size_t)n;
		if (off == outlen - 1)
			break;
	}
	out[off] = '\0';
	close(fd);
	return (int)off;
}

/* What the client thread did; checked by the main thread after join. */
struct client {
	struct pk_addr addr;
	int wake_fd; /* written when done, to stop the loop */
	int code_metrics, code_missing, code_big, code_post;
	struct pk_strbuf body_metrics, body_missing, body_big, body_post;
	char raw_ok[1024], raw_post[1024], raw_bad[1024];
	int raw_ok_len, raw_post_len, raw_bad_len;
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	c->code_metrics = pk_http_get(&c->addr, "/metrics", 3000, &c->body_metrics);
	c->code_missing = pk_http_get(&c->addr, "/nope", 3000, &c->body_missing);
	c->code_big = pk_http_get(&c->addr, "/big", 5000, &c->body_big);
	c->raw_ok_len = raw_exchange(&c->addr, "GET /metrics HTTP/1.0\r\n\r\n", c->raw_ok,
				     sizeof(c->raw_ok));
	c->raw_post_len = raw_exchange(&c->addr, "PUT /metrics HTTP/1.0\r\n\r\n", c->raw_post,
				       sizeof(c->raw_post));
	c->code_post = pk_http_request(&c->addr, "POST", "/metrics", 3000, &c->body_post);
	c->raw_bad_len = raw_exchange(&c->addr, "GARBAGE\n\n", c->raw_bad, sizeof(c->raw_bad));
	if (write(c->wake_fd, "x", 1) != 1)
		c->code_metrics = -999;
	return NULL;
}

struct run_ctx {
	struct pk_httpd *h;
	int reaps;
};

static void reap_hook(struct pk_loop *loop, void *data)
{
	struct run_ctx *r = data;

	pk_httpd_reap(r->h);
	r->reaps++;
}

static void wake_fn(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	pk_loop_stop(loop);
}

static void guard_fn(struct pk_loop *loop, struct pk_timer *t)
{
	int *fired = t->data;

	*fired = 1;
	pk_loop_stop(loop);
}

static void test_server_and_client(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct handler_state hs = { 0 };
	struct run_ctx rc = { 0 };
	struct client *c = calloc(1, sizeof(*c));
	struct pk_addr any;
	struct pk_timer guard;
	struct pk_io wake;
	pthread_t th;
	int wp[2] = { -1, -1 }, lfd, port, guard_fired = 0;

	CHECK(loop != NULL && c != NULL);
	if (!loop || !c)
		goto out;
	CHECK_EQ_INT(loopback(0, &any), 0);
	rc.h = pk_httpd_new(loop, &any, handler, &hs);
	CHECK(rc.h != NULL);
	if (!rc.h)
		goto out;
	lfd = find_listener();
	CHECK(lfd >= 0);
	port = lfd >= 0 ? pk_sock_local_port(lfd) : -1;
	CHECK(port > 0);
	if (port <= 0)
		goto out;
	CHECK_EQ_INT(loopback((uint16_t)port, &c->addr), 0);

	CHECK_EQ_INT(pipe2(wp, O_NONBLOCK | O_CLOEXEC), 0);
	c->wake_fd = wp[1];
	pk_io_init(&wake, wp[0], wake_fn, NULL);
	CHECK_EQ_INT(pk_io_add(loop, &wake, PK_READ), 0);
	pk_timer_init(&guard, guard_fn, &guard_fired);
	CHECK_EQ_INT(pk_timer_arm(loop, &guard, 10000 * MS), 0);
	pk_loop_set_before_sleep(loop, reap_hook, &rc);

	CHECK_EQ_INT(pthread_create(&th, NULL, client_main, c), 0);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	pthread_join(th, NULL);
	CHECK_EQ_INT(guard_fired, 0);
	CHECK(rc.reaps > 0);

	CHECK_EQ_INT(c->code_metrics, 200);
	CHECK_STR(pk_strbuf_str(&c->body_metrics), "up 1\n");
	CHECK_EQ_INT(c->code_missing, 404);
	CHECK_STR(pk_strbuf_str(&c->body_missing), "no such page\n");
	CHECK_EQ_INT(c->code_big, 200);
	CHECK_EQ_INT(c->body_big.len, BIG_BODY);
	if (c->body_big.len == BIG_BODY) {
		char line[17];

		snprintf(line, sizeof(line), "%015u\n", BIG_BODY / 16 - 1);
		CHECK(memcmp(c->body_big.s + BIG_BODY - 16, line, 16) == 0);
		CHECK(memcmp(c->body_big.s, "000000000000000\n", 16) == 0);
	}
	/* the exact response, headers included */
	CHECK(c->raw_ok_len > 0);
	CHECK_STR(c->raw_ok, "HTTP/1.0 200 OK\r\n"
			     "Content-Type: text/plain; version=0.0.4\r\n"
			     "Content-Length: 5\r\n"
			     "Connection: close\r\n"
			     "\r\n"
			     "up 1\n");
	CHECK(starts_with(c->raw_post, "HTTP/1.0 405 Method Not Allowed\r\n"));
	CHECK(strstr(c->raw_post, "\r\n\r\nonly GET and POST\n") != NULL);
	CHECK(starts_with(c->raw_bad, "HTTP/1.0 400 Bad Request\r\n"));
	/* the handler saw the GETs (3 through the client, 1 raw) and the POST, not the PUT */
	CHECK_EQ_INT(c->code_post, 200);
	CHECK_EQ_INT(hs.calls, 5);
	CHECK_STR(hs.last_path, "/metrics");
	CHECK_STR(hs.last_method, "POST");

	pk_io_del(loop, &wake);
	pk_timer_cancel(loop, &guard);
out:
	if (c) {
		pk_strbuf_release(&c->body_metrics);
		pk_strbuf_release(&c->body_missing);
		pk_strbuf_release(&c->body_big);
		pk_strbuf_release(&c->body_post);
		free(c);
	}
	if (wp[0] >= 0) {
		close(wp[0]);
		close(wp[1]);
	}
	pk_httpd_free(rc.h);
	pk_loop_free(loop);
}

/* An admin connection still open when the server is freed is closed with it. */
static void test_free_with_open_connection(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct handler_state hs = { 0 };
	struct pk_httpd *h;
	struct pk_addr any, a;
	struct pk_timer guard;
	int lfd, port, cfd = -1, guard_fired = 0;
	struct pollfd p;
	char buf[16];

	CHECK(loop != NULL);
	CHECK_EQ_INT(loopback(0, &any), 0);
	h = pk_httpd_new(loop, &any, handler, &hs);
	CHECK(h != NULL);
	if (!h)
		goto out;
	lfd = find_listener();
	port = lfd >= 0 ? pk_sock_local_port(lfd) : -1;
	CHECK(port > 0);
	if (port <= 0)
		goto out;
	CHECK_EQ_INT(loopback((uint16_t)port, &a), 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(cfd >= 0);
	CHECK_EQ_INT(connect(cfd, (const struct sockaddr *)&a.ss, a.len), 0);
	CHECK_EQ_INT(write(cfd, "GET /met", 8), 8); /* an unfinished request */
	/* let the loop accept it and read the partial request */
	pk_timer_init(&guard, guard_fn, &guard_fired);
	CHECK_EQ_INT(pk_timer_arm(loop, &guard, 50 * MS), 0);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(guard_fired, 1);
	CHECK_EQ_INT(hs.calls, 0);
	pk_httpd_free(h);
	h = NULL;
	/* the client sees the connection closed without an answer */
	p = (struct pollfd){ .fd = cfd, .events = POLLIN };
	CHECK_EQ_INT(poll(&p, 1, 2000), 1);
	CHECK_EQ_INT(read(cfd, buf, sizeof(buf)), 0);
	/* and the listener is gone */
	CHECK(find_listener() < 0 || find_listener() != lfd);
out:
	if (cfd >= 0)
		close(cfd);
	pk_httpd_free(h);
	pk_loop_free(loop);
}

static void test_httpd_port_in_use(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct pk_addr any, a;
	struct pk_httpd *h;
	int lfd, port;

	CHECK(loop != NULL);
	CHECK_EQ_INT(loopback(0, &any), 0);
	lfd = pk_sock_listen(&any, 4);
	CHECK(lfd >= 0);
	port = pk_sock_local_port(lfd);
	CHECK_EQ_INT(loopback((uint16_t)port, &a), 0);
	errno = 0;
	h = pk_httpd_new(loop, &a, handler, NULL);
	CHECK(h == NULL);
	CHECK_EQ_INT(errno, EADDRINUSE);
	pk_httpd_free(h);
	pk_httpd_free(NULL);
	close(lfd);
	pk_loop_free(loop);
}

static void test_get_refused(void)
{
	struct pk_strbuf body = { 0 };
	struct pk_addr any, a;
	int lfd, port, rc;

	CHECK_EQ_INT(loopback(0, &any), 0);
	lfd = pk_sock_listen(&any, 4);
	CHECK(lfd >= 0);
	port = pk_sock_local_port(lfd);
	close(lfd);
	CHECK_EQ_INT(loopback((uint16_t)port, &a), 0);
	rc = pk_http_get(&a, "/metrics", 2000, &body);
	CHECK(rc < 0);
	CHECK_EQ_INT(rc, -ECONNREFUSED);
	CHECK_EQ_INT(body.len, 0);
	pk_strbuf_release(&body);
}

/* A server that completes the handshake (the kernel does it) but never answers. */
static void test_get_timeout(void)
{
	struct pk_strbuf body = { 0 };
	struct pk_addr any, a;
	uint64_t t0, ms;
	int lfd, port, rc;

	CHECK_EQ_INT(loopback(0, &any), 0);
	lfd = pk_sock_listen(&any, 4);
	CHECK(lfd >= 0);
	port = pk_sock_local_port(lfd);
	CHECK_EQ_INT(loopback((uint16_t)port, &a), 0);
	t0 = pk_now_ms();
	rc = pk_http_get(&a, "/metrics", 200, &body);
	ms = pk_now_ms() - t0;
	CHECK_EQ_INT(rc, -ETIMEDOUT);
	CHECK(ms >= 190);
	CHECK(ms < 1500);
	CHECK_EQ_INT(body.len, 0);
	pk_strbuf_release(&body);
	close(lfd);
}

/* A one-shot server thread that answers anything with fixed text and closes. */
struct canned {
	int lfd;
	const char *answer;
};

static void *canned_main(void *arg)
{
	struct canned *k = arg;
	struct pollfd p = { .fd = k->lfd, .events = POLLIN };
	char buf[1024];
	int fd;

	if (poll(&p, 1, 3000) != 1)
		return NULL;
	fd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 3000) == 1 && read(fd, buf, sizeof(buf)) > 0 &&
	    write(fd, k->answer, strlen(k->answer)) < 0)
		buf[0] = '\0';
	close(fd);
	return NULL;
}

static int get_from_canned(const char *answer, struct pk_strbuf *body)
{
	struct canned k = { .answer = answer };
	struct pk_addr any, a;
	pthread_t th;
	int rc;

	if (loopback(0, &any) != 0)
		return -9999;
	k.lfd = pk_sock_listen(&any, 4);
	if (k.lfd < 0)
		return -9998;
	if (loopback((uint16_t)pk_sock_local_port(k.lfd), &a) != 0 ||
	    pthread_create(&th, NULL, canned_main, &k) != 0) {
		close(k.lfd);
		return -9997;
	}
	rc = pk_http_get(&a, "/x", 3000, body);
	pthread_join(th, NULL);
	close(k.lfd);
	return rc;
}

static void test_get_malformed_answers(void)
{
	struct pk_strbuf body = { 0 };

	CHECK_EQ_INT(get_from_canned("hello world\n", &body), -EPROTO);
	CHECK_EQ_INT(body.len, 0);
	CHECK_EQ_INT(get_from_canned("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n", &body), -EPROTO);
	CHECK_EQ_INT(get_from_canned("", &body), -EPROTO);
	CHECK_EQ_INT(get_from_canned("FTP/1.0 200 OK\r\n\r\nbody", &body), -EPROTO);
	CHECK_EQ_INT(body.len, 0);
	/* a well-formed answer from another server works, whatever its status */
	CHECK_EQ_INT(get_from_canned("HTTP/1.1 503 Busy\r\nX: y\r\n\r\ntry later", &body), 503);
	CHECK_STR(pk_strbuf_str(&body), "try later");
	pk_strbuf_release(&body);
	/* a negative status used to come back as is, indistinguishable from -errno (-11: EAGAIN) */
	CHECK_EQ_INT(get_from_canned("HTTP/1.0 -11 Oops\r\n\r\n", &body), -EPROTO);
	CHECK_EQ_INT(get_from_canned("HTTP/1.0 2000 Big\r\n\r\n", &body), -EPROTO);
	CHECK_EQ_INT(body.len, 0);
}

/* The parsers without sockets: a response with NULs in its body, status lines, the end of the
 * headers; the server's answers to requests it refuses without calling the handler. */
static void test_parsers(void)
{
	static const char resp[] = "HTTP/1.1 404\r\n\r\n\0a\0";
	struct pk_strbuf body = { 0 }, out = { 0 };
	struct handler_state h = { 0 };

	CHECK_EQ_INT(pk_http_response_parse(resp, sizeof(resp) - 1, &body), 404);
	CHECK_EQ_INT(body.len, 3);
	CHECK(memcmp(body.s, "\0a\0", 3) == 0);
	pk_strbuf_release(&body);
	CHECK_EQ_INT(pk_http_response_parse("HTTP/1.0 099 x\r\n\r\n", 18, &body), -EPROTO);
	CHECK_EQ_INT(pk_http_response_parse("HTTP/1.0 200\r\n\r", 15, &body), -EPROTO);
	CHECK_EQ_INT(pk_http_response_parse("HTTP/1.0 200", 12, &body), -EPROTO);
	CHECK_EQ_INT(pk_http_response_parse("HTTP/1.0 20 OK\r\n\r\n", 19, &body), -EPROTO);
	CHECK_EQ_INT(body.len, 0);
	pk_http_answer("DELETE /metrics HTTP/1.1\r\n\r\n", handler, &h, &out);
	CHECK_EQ_INT(pk_http_response_parse(out.s, out.len, &body), 405);
	pk_strbuf_release(&out);
	pk_http_answer("GET\r\n\r\n", handler, &h, &out);
	CHECK_EQ_INT(pk_http_response_parse(out.s, out.len, &body), 400);
	CHECK_EQ_INT(h.calls, 0);
	pk_http_answer("GET /metrics HTTP/1.0\r\n\r\n", handler, &h, &out);
	CHECK(strstr(out.s, "Content-Length: 5\r\n") != NULL);
	CHECK_EQ_INT(h.calls, 1);
	pk_strbuf_release(&out);
	pk_strbuf_release(&body);
}

int main(void)
{
	UNIT_RUN(test_server_and_client);
	UNIT_RUN(test_free_with_open_connection);
	UNIT_RUN(test_httpd_port_in_use);
	UNIT_RUN(test_get_refused);
	UNIT_RUN(test_get_timeout);
	UNIT_RUN(test_get_malformed_answers);
	UNIT_RUN(test_parsers);
	return unit_done();
}
