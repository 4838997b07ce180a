/* wire.c — the incremental parser of a traced process's frames (see wire.h). */
#include "trace/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "common/errbuf.h"

_Static_assert(sizeof(struct pk_trace_frame) == 16, "frame header is 16 bytes");
_Static_assert(sizeof(struct pk_trace_rec) == 144, "a record is 144 bytes");

static const char *const call_names[PK_TRACE_CALL_MAX] = {
	[PK_TRACE_ACCEPT] = "accept", [PK_TRACE_CONNECT] = "connect",
	[PK_TRACE_READ] = "read",     [PK_TRACE_WRITE] = "write",
	[PK_TRACE_CLOSE] = "close",   [PK_TRACE_SHUTDOWN] = "shutdown",
	[PK_TRACE_FORK] = "fork",     [PK_TRACE_EXEC] = "exec",
	[PK_TRACE_DUP] = "dup",	      [PK_TRACE_DROPS] = "drops",
	[PK_TRACE_STATIC] = "static",
};

const char *pk_trace_call_name(unsigned call)
{
	return call > 0 && call < PK_TRACE_CALL_MAX ? call_names[call] : "?";
}

const char *pk_trace_wire_addr_str(const struct pk_trace_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == AF_INET && inet_ntop(AF_INET, a->addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, a->port);
	else if (a->family == AF_INET6 && inet_ntop(AF_INET6, a->addr, ip, sizeof(ip)))
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, len, "%s", a->family == AF_UNIX ? "unix" : "-");
	return buf;
}

void pk_trace_wire_init(struct pk_trace_wire *w)
{
	memset(w, 0, sizeof(*w));
}

void pk_trace_wire_free(struct pk_trace_wire *w)
{
	free(w->buf);
	w->buf = NULL;
	w->cap = 0;
}

bool pk_trace_wire_partial(const struct pk_trace_wire *w)
{
	return w->have > 0;
}

int pk_trace_wire_check_hdr(const struct pk_trace_frame *f, char *err, size_t errlen)
{
	if (f->magic != PK_TRACE_MAGIC)
		return pk_errbuf_set(-EPROTO, err, errlen, "bad magic 0x%08x", f->magic);
	if (f->len > PK_TRACE_FRAME_MAX)
		return pk_errbuf_set(-EPROTO, err, errlen, "frame of %u bytes (at most %u)", f->len,
				     PK_TRACE_FRAME_MAX);
	switch (f->type) {
	case PK_TRACE_FRAME_HELLO:
		if (f->count != 1 || f->len != sizeof(struct pk_trace_hello))
			return pk_errbuf_set(-EPROTO, err, errlen,
					     "hello of %u bytes, count %u (want %zu, 1)", f->len,
					     f->count, sizeof(struct pk_trace_hello));
		return 0;
	case PK_TRACE_FRAME_RECS:
		if ((uint64_t)f->count * sizeof(struct pk_trace_rec) != f->len)
			return pk_errbuf_set(-EPROTO, err, errlen,
					     "records frame of %u bytes for %u records", f->len,
					     f->count);
		return 0;
	default:
		return pk_errbuf_set(-EPROTO, err, errlen, "unknown frame type %u", f->type);
	}
}

int pk_trace_wire_check_hello(const struct pk_trace_hello *h, char *err, size_t errlen)
{
	if (h->version != PK_TRACE_VERSION)
		return pk_errbuf_set(-EPROTO, err, errlen, "version %u (want %u)", h->version,
				     PK_TRACE_VERSION);
	if (h->pid <= 0)
		return pk_errbuf_set(-EPROTO, err, errlen, "hello with pid %d", h->pid);
	return 0;
}

int pk_trace_wire_check_rec(const struct pk_trace_rec *r, char *err, size_t errlen)
{
	if (r->call == 0 || r->call >= PK_TRACE_CALL_MAX)
		return pk_errbuf_set(-EPROTO, err, errlen, "record with call %u", r->call);
	if (r->peek_len > PK_TRACE_PEEK)
		return pk_errbuf_set(-EPROTO, err, errlen, "record with peek_len %u", r->peek_len);
	return 0;
}

/* A whole frame is in w: validate its payload and hand it over. */
static int deliver(struct pk_trace_wire *w, pk_trace_wire_fn fn, void *arg, char *err,
		   size_t errlen)
{
	const struct pk_trace_frame *f = &w->hdr;
	int rc;

	if (f->type == PK_TRACE_FRAME_HELLO) {
		struct pk_trace_hello h;

		if (w->hello)
			return pk_errbuf_set(-EPROTO, err, errlen, "a second hello");
		memcpy(&h, w->buf, sizeof(h));
		rc = pk_trace_wire_check_hello(&h, err, errlen);
		if (rc)
			return rc;
		w->hello = true;
		return fn ? fn(arg, f, &h, NULL, 0) : 0;
	}
	if (!w->hello)
		return pk_errbuf_set(-EPROTO, err, errlen, "records before the hello");
	for (uint32_t i = 0; i < f->count; i++) {
		rc = pk_trace_wire_check_rec((const struct pk_trace_rec *)w->buf + i, err, errlen);
		if (rc)
			return rc;
	}
	if (!f->count || !fn)
		return 0;
	return fn(arg, f, NULL, (const struct pk_trace_rec *)w->buf, f->count);
}

int pk_trace_wire_feed(struct pk_trace_wire *w, const void *data, size_t len, pk_trace_wire_fn fn,
		       void *arg, char *err, size_t errlen)
{
	const uint8_t *p = data;
	const size_t hl = sizeof(struct pk_trace_frame);
	int rc;

	if (w->bad)
		return pk_errbuf_set(-EPROTO, err, errlen, "connection already refused");
	while (len) {
		size_t take;

		if (w->have < hl) {
			take = hl - w->have < len ? hl - w->have : len;
			memcpy((uint8_t *)&w->hdr + w->have, p, take);
			w->have += take, p += take, len -= take;
			if (w->have < hl)
				break;
			rc = pk_trace_wire_check_hdr(&w->hdr, err, errlen);
			if (rc)
				goto bad;
			if (w->hdr.len > w->cap) {
				size_t cap = w->cap ? w->cap : 4096;
				uint8_t *nb;

				while (cap < w->hdr.len)
					cap *= 2;
				nb = realloc(w->buf, cap);
				if (!nb) {
					rc = pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
					goto bad;
				}
				w->buf = nb, w->cap = cap;
			}
		}
		take = hl + w->hdr.len - w->have;
		if (take > len)
			take = len;
		if (take)
			memcpy(w->buf + (w->have - hl), p, take);
		w->have += take, p += take, len -= take;
		if (w->have < hl + w->hdr.len)
			break;
		w->have = 0;
		rc = deliver(w, fn, arg, err, errlen);
		if (rc)
			goto bad;
	}
	return 0;
bad:
	w->bad = true;
	return rc;
}
