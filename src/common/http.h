/* http.h — the smallest HTTP/1.0 needed for an admin endpoint, and a client to read it.
 *
 * Server: one request per connection (GET only), answered from a handler callback, then
 * closed.  Requests are capped at 8 KiB, responses at PK_STRBUF_MAX.  Runs on a pk_loop.
 * Client: a blocking GET with a deadline, for CLI commands.
 */
#ifndef PK_COMMON_HTTP_H
#define PK_COMMON_HTTP_H

#include "common/loop.h"
#include "common/sock.h"
#include "common/strbuf.h"

/* The longest request the server reads (request line and headers, with room for a NUL). */
#define PK_HTTP_REQ_MAX 8192

struct pk_httpd;

/* Fills body and content type for a GET or POST (method) of path; returns the HTTP status
 * (200, 404, 405, ...). */
typedef int (*pk_http_handler)(const char *method, const char *path, struct pk_strbuf *body,
			       const char **ctype, void *data);

/* Starts serving on a (listening at once); NULL with errno set on failure.  The server keeps
 * pointers to loop and data; free it with pk_httpd_free() before the loop. */
struct pk_httpd *pk_httpd_new(struct pk_loop *loop, const struct pk_addr *a, pk_http_handler fn,
			      void *data);

/* Closes the listener and every open admin connection. */
void pk_httpd_free(struct pk_httpd *h);

/* Frees connections that finished; call from the loop's before-sleep hook. */
void pk_httpd_reap(struct pk_httpd *h);

/* The server's answer to a request, without I/O: parses the request line of req (the request
 * as received, NUL-terminated) and appends the whole response to out: 400 for a malformed
 * line, 405 for a method other than GET and POST, else what fn makes of it (500 when its body
 * could not be built).  fn is called at most once. */
void pk_http_answer(const char *req, pk_http_handler fn, void *data, struct pk_strbuf *out);

/* The client's reading of a whole response of len bytes at resp, without I/O: returns the
 * status (100..999) and appends the body (after the blank line) to body, or -EPROTO for
 * anything else (no status line "HTTP/d.d ddd", no end of headers). */
int pk_http_response_parse(const char *resp, size_t len, struct pk_strbuf *body);

/* GETs path from a with a timeout; the body goes to body.  Returns the HTTP status or
 * -errno (-ETIMEDOUT, -ECONNREFUSED, -EPROTO for a malformed answer). */
int pk_http_get(const struct pk_addr *a, const char *path, int timeout_ms, struct pk_strbuf *body);

/* Like pk_http_get() with another method ("POST", with an empty body). */
int pk_http_request(const struct pk_addr *a, const char *method, const char *path, int timeout_ms,
		    struct pk_strbuf *body);

#endif
