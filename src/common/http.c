/* http.c — tiny HTTP/1.0 server and client. */
#include "common/http.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

struct httpd_conn {
	struct pk_io io;
	struct pk_httpd *h;
	char req[PK_HTTP_REQ_MAX];
	size_t req_len;
	struct pk_strbuf out;
	size_t out_off;
	bool done;
	struct httpd_conn *next;
};

struct pk_httpd {
	struct pk_loop *loop;
	struct pk_io lio;
	pk_http_handler fn;
	void *data;
	struct httpd_conn *conns;
};

static const char *status_text(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Internal Server Error";
	}
}

void pk_http_answer(const char *req, pk_http_handler fn, void *data, struct pk_strbuf *out)
{
	struct pk_strbuf body = { 0 };
	const char *ctype = "text/plain; charset=utf-8";
	char method[8], path[1024];
	int code;

	if (sscanf(req, "%7s %1023s", method, path) != 2) {
		code = 400;
		pk_strbuf_printf(&body, "bad request\n");
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
		code = 405;
		pk_strbuf_printf(&body, "only GET and POST\n");
	} else {
		code = fn(method, path, &body, &ctype, data);
	}
	if (!pk_strbuf_ok(&body))
		code = 500;
	pk_strbuf_printf(out,
			 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, status_text(code), ctype, body.len);
	pk_strbuf_append(out, pk_strbuf_str(&body), body.len);
	pk_strbuf_release(&body);
}

static void httpd_close(struct httpd_conn *c)
{
	int fd = pk_io_del(c->h->loop, &c->io);

	if (fd >= 0)
		close(fd);
	c->done = true;
}

static void httpd_conn_event(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct httpd_conn *c = io->data;

	if (io->mask & PK_READ) {
		ssize_t n = read(io->fd, c->req + c->req_len, PK_HTTP_REQ_MAX - 1 - c->req_len);

		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			httpd_close(c);
			return;
		}
		c->req_len += (size_t)n;
		c->req[c->req_len] = '\0';
		if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
			if (c->req_len < PK_HTTP_REQ_MAX - 1)
				return;
		}
		pk_http_answer(c->req, c->h->fn, c->h->data, &c->out);
		if (pk_io_set(loop, io, PK_WRITE) < 0)
			httpd_close(c); /* the answer could never be sent */
		return;
	}
	while (c->out_off < c->out.len) {
		ssize_t n =
			send(io->fd, c->out.s + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN)
				return;
			break;
		}
		c->out_off += (size_t)n;
	}
	httpd_close(c);
}

static void httpd_accept(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_httpd *h = io->data;

	for (int i = 0; i < 16; i++) {
		int fd = pk_sock_accept(io->fd, NULL);
		struct httpd_conn *c;

		if (fd < 0) {
			if (fd != -EAGAIN)
				pk_log(PK_LOG_WARN, "admin: accept: %s", strerror(-fd));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->h = h;
		pk_io_init(&c->io, fd, httpd_conn_event, c);
		if (pk_io_add(loop, &c->io, PK_READ) < 0) {
			close(fd);
			free(c);
			return;
		}
		c->next = h->conns;
		h->conns = c;
	}
}

struct pk_httpd *pk_httpd_new(struct pk_loop *loop, const struct pk_addr *a, pk_http_handler fn,
			      void *data)
{
	struct pk_httpd *h = calloc(1, sizeof(*h));
	int fd, err;

	if (!h)
		return NULL;
	fd = pk_sock_listen(a, 64);
	if (fd < 0) {
		free(h);
		errno = -fd;
		return NULL;
	}
	h->loop = loop;
	h->fn = fn;
	h->data = data;
	pk_io_init(&h->lio, fd, httpd_accept, h);
	err = pk_io_add(loop, &h->lio, PK_READ);
	if (err) {
		close(fd);
		free(h);
		errno = -err;
		return NULL;
	}
	return h;
}

void pk_httpd_reap(struct pk_httpd *h)
{
	struct httpd_conn **pp = &h->conns;

	while (*pp) {
		struct httpd_conn *c = *pp;

		if (c->done) {
			*pp = c->next;
			pk_strbuf_release(&c->out);
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

void pk_httpd_free(struct pk_httpd *h)
{
	int fd;

	if (!h)
		return;
	for (struct httpd_conn *c = h->conns; c; c = c->next)
		if (!c->done)
			httpd_close(c);
	pk_httpd_reap(h);
	fd = pk_io_del(h->loop, &h->lio);
	if (fd >= 0)
		close(fd);
	free(h);
}

/* Judges a send/read result n on fd: 0 when it moved bytes, 1 when it would block (after
 * waiting for ev), or -errno (-ETIMEDOUT past the deadline). */
static int io_result(ssize_t n, int fd, short ev, uint64_t deadline_ms)
{
	int err;

	if (n >= 0)
		return 0;
	if (errno != EAGAIN)
		return -errno;
	err = pk_sock_wait(fd, ev, deadline_ms);
	return err ? err : 1;
}

int pk_http_response_parse(const char *resp, size_t len, struct pk_strbuf *body)
{
	/* "HTTP/d.d ddd" then a space or the end of the line; then headers up to a blank line */
	const char *end = len ? memmem(resp, len, "\r\n\r\n", 4) : NULL;
	const char *s = resp;
	int code = 0;

	if (!end || len < 13 || memcmp(s, "HTTP/", 5) != 0 || !isdigit((unsigned char)s[5]) ||
	    s[6] != '.' || !isdigit((unsigned char)s[7]) || s[8] != ' ' ||
	    (s[12] != ' ' && s[12] != '\r'))
		return -EPROTO;
	for (int i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EPROTO;
		code = code * 10 + (s[i] - '0');
	}
	if (code < 100)
		return -EPROTO;
	end += 4;
	pk_strbuf_append(body, end, len - (size_t)(end - resp));
	return code;
}

int pk_http_get(const struct pk_addr *a, const char *path, int timeout_ms, struct pk_strbuf *body)
{
	return pk_http_request(a, "GET", path, timeout_ms, body);
}

int pk_http_request(const struct pk_addr *a, const char *method, const char *path, int timeout_ms,
		    struct pk_strbuf *body)
{
	uint64_t deadline = pk_now_ms() + (uint64_t)timeout_ms;
	struct pk_strbuf req = { 0 }, resp = { 0 };
	size_t off = 0;
	int fd, err = 0, code = 0;

	fd = pk_sock_connect_by(a, deadline);
	if (fd < 0)
		return fd;
	pk_strbuf_printf(&req, "%s %s HTTP/1.0\r\nHost: parikshan\r\nContent-Length: 0\r\n\r\n",
			 method, path);
	while (off < req.len) {
		ssize_t n = send(fd, req.s + off, req.len - off, MSG_NOSIGNAL);
		int r = io_result(n, fd, POLLOUT, deadline);

		if (r < 0) {
			err = r;
			goto out;
		}
		if (r == 0)
			off += (size_t)n;
	}
	for (;;) {
		char buf[16384];
		ssize_t n = read(fd, buf, sizeof(buf));
		int r = io_result(n, fd, POLLIN, deadline);

		if (n == 0)
			break;
		if (r < 0) {
			err = r;
			goto out;
		}
		if (r)
			continue;
		pk_strbuf_append(&resp, buf, (size_t)n);
		if (!pk_strbuf_ok(&resp)) {
			err = -ENOMEM;
			goto out;
		}
	}
	code = pk_http_response_parse(resp.s, resp.len, body);
	if (code < 0)
		err = code;
out:
	pk_strbuf_release(&req);
	pk_strbuf_release(&resp);
	close(fd);
	return err ? err : code;
}
