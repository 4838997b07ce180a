/* test_trace_wire.c — the incremental parser of logd's connections: frames split at every
 * byte, hello first, each kind of bad input refused with -EPROTO and a reason, and the
 * connection stays refused after an error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/wire.h"
#include "unit.h"

struct seen {
	int hellos, frames;
	size_t recs;
	int32_t pid;
	uint64_t last_ts;
};

static int on_frame(void *arg, const struct pk_trace_frame *f, const struct pk_trace_hello *h,
		    const struct pk_trace_rec *r, size_t n)
{
	struct seen *s = arg;

	s->frames++;
	if (h) {
		s->hellos++;
		s->pid = h->pid;
	} else {
		s->recs += n;
		s->last_ts = r[n - 1].ts_ns;
	}
	return 0;
}

/* Appends a frame of type/count with payload p (len bytes) to buf at *off. */
static void put_frame(uint8_t *buf, size_t *off, uint32_t type, uint32_t count, const void *p,
		      size_t len)
{
	struct pk_trace_frame f = { PK_TRACE_MAGIC, type, (uint32_t)len, count };

	memcpy(buf + *off, &f, sizeof(f));
	memcpy(buf + *off + sizeof(f), p, len);
	*off += sizeof(f) + len;
}

static struct pk_trace_hello hello(int pid)
{
	struct pk_trace_hello h;

	memset(&h, 0, sizeof(h));
	h.version = PK_TRACE_VERSION;
	h.pid = pid;
	h.comm[0] = 'x';
	return h;
}

static struct pk_trace_rec rec(uint64_t ts)
{
	struct pk_trace_rec r;

	memset(&r, 0, sizeof(r));
	r.call = PK_TRACE_READ;
	r.ts_ns = ts;
	r.peek_len = 3;
	memcpy(r.peek, "GET", 3);
	return r;
}

/* A stream: hello, 3 records, 2 records. */
static size_t stream(uint8_t *buf)
{
	struct pk_trace_hello h = hello(42);
	struct pk_trace_rec r[3] = { rec(1), rec(2), rec(3) };
	size_t off = 0;

	put_frame(buf, &off, PK_TRACE_FRAME_HELLO, 1, &h, sizeof(h));
	put_frame(buf, &off, PK_TRACE_FRAME_RECS, 3, r, sizeof(r));
	put_frame(buf, &off, PK_TRACE_FRAME_RECS, 2, r + 1, 2 * sizeof(r[0]));
	return off;
}

static void test_whole_and_split(void)
{
	static uint8_t buf[4096];
	size_t len = stream(buf);

	for (size_t step = 1; step <= len; step = step < 8 ? step + 1 : step * 3) {
		struct pk_trace_wire w;
		struct seen s = { 0 };
		char err[128] = "";
		int rc = 0;

		pk_trace_wire_init(&w);
		for (size_t i = 0; i < len && !rc; i += step)
			rc = pk_trace_wire_feed(&w, buf + i, len - i < step ? len - i : step,
						on_frame, &s, err, sizeof(err));
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(s.hellos, 1);
		CHECK_EQ_INT(s.pid, 42);
		CHECK_EQ_INT(s.recs, 5);
		CHECK_EQ_INT(s.last_ts, 3);
		CHECK(!pk_trace_wire_partial(&w));
		pk_trace_wire_free(&w);
	}
}

/* Feeds buf (len) to a new parser; returns the result and the reason. */
static int feed_all(const uint8_t *buf, size_t len, struct seen *s, char *err, size_t errlen)
{
	struct pk_trace_wire w;
	int rc;

	pk_trace_wire_init(&w);
	rc = pk_trace_wire_feed(&w, buf, len, on_frame, s, err, errlen);
	if (rc) /* refused for good */
		CHECK(pk_trace_wire_feed(&w, buf, 1, on_frame, s, NULL, 0) == -EPROTO);
	pk_trace_wire_free(&w);
	return rc;
}

static void test_bad_input(void)
{
	static uint8_t buf[4096];
	struct pk_trace_hello h = hello(7);
	struct pk_trace_rec r = rec(1);
	struct seen s = { 0 };
	char err[128];
	size_t off;

	/* bad magic */
	off = stream(buf);
	buf[0] ^= 1;
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "magic"));
	/* records before the hello */
	off = 0;
	put_frame(buf, &off, PK_TRACE_FRAME_RECS, 1, &r, sizeof(r));
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "before the hello"));
	/* a second hello */
	off = 0;
	put_frame(buf, &off, PK_TRACE_FRAME_HELLO, 1, &h, sizeof(h));
	put_frame(buf, &off, PK_TRACE_FRAME_HELLO, 1, &h, sizeof(h));
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "second hello"));
	/* wrong version */
	h.version = 9;
	off = 0;
	put_frame(buf, &off, PK_TRACE_FRAME_HELLO, 1, &h, sizeof(h));
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "version"));
	h.version = PK_TRACE_VERSION;
	/* a count that does not match the length */
	off = 0;
	put_frame(buf, &off, PK_TRACE_FRAME_HELLO, 1, &h, sizeof(h));
	put_frame(buf, &off, PK_TRACE_FRAME_RECS, 2, &r, sizeof(r));
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	/* a call out of range, a peek too long */
	off = 0;
	put_frame(buf, &off, PK_TRACE_FRAME_HELLO, 1, &h, sizeof(h));
	r.call = PK_TRACE_CALL_MAX;
	put_frame(buf, &off, PK_TRACE_FRAME_RECS, 1, &r, sizeof(r));
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "call"));
	off = 0;
	put_frame(buf, &off, PK_TRACE_FRAME_HELLO, 1, &h, sizeof(h));
	r.call = PK_TRACE_WRITE;
	r.peek_len = PK_TRACE_PEEK + 1;
	put_frame(buf, &off, PK_TRACE_FRAME_RECS, 1, &r, sizeof(r));
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "peek_len"));
	/* an unknown type; a frame too large (refused from its header, before any payload) */
	off = 0;
	put_frame(buf, &off, 3, 1, &h, sizeof(h));
	CHECK_EQ_INT(feed_all(buf, off, &s, err, sizeof(err)), -EPROTO);
	{
		struct pk_trace_frame f = { PK_TRACE_MAGIC, PK_TRACE_FRAME_RECS,
					    PK_TRACE_FRAME_MAX + 144,
					    PK_TRACE_FRAME_MAX / 144 + 1 };

		CHECK_EQ_INT(feed_all((const uint8_t *)&f, sizeof(f), &s, err, sizeof(err)),
			     -EPROTO);
		CHECK(strstr(err, "at most"));
	}
}

static void test_partial_and_empty(void)
{
	static uint8_t buf[4096];
	size_t len = stream(buf);
	struct pk_trace_wire w;
	struct seen s = { 0 };
	struct pk_trace_rec r = rec(1);
	size_t off = len;

	pk_trace_wire_init(&w);
	CHECK_EQ_INT(pk_trace_wire_feed(&w, buf, len - 5, on_frame, &s, NULL, 0), 0);
	CHECK(pk_trace_wire_partial(&w));
	CHECK_EQ_INT(s.recs, 3);
	pk_trace_wire_free(&w);
	/* an empty records frame is fine */
	put_frame(buf, &off, PK_TRACE_FRAME_RECS, 0, &r, 0);
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(feed_all(buf, off, &s, NULL, 0), 0);
	CHECK_EQ_INT(s.recs, 5);
}

static void test_names(void)
{
	struct pk_trace_addr a = { 2, 8080, { 127, 0, 0, 1 } };
	char b[80];

	CHECK_STR(pk_trace_call_name(PK_TRACE_ACCEPT), "accept");
	CHECK_STR(pk_trace_call_name(PK_TRACE_STATIC), "static");
	CHECK_STR(pk_trace_call_name(0), "?");
	CHECK_STR(pk_trace_call_name(200), "?");
	CHECK_STR(pk_trace_wire_addr_str(&a, b, sizeof(b)), "127.0.0.1:8080");
	a.family = 0;
	CHECK_STR(pk_trace_wire_addr_str(&a, b, sizeof(b)), "-");
}

int main(void)
{
	UNIT_RUN(test_whole_and_split);
	UNIT_RUN(test_bad_input);
	UNIT_RUN(test_partial_and_empty);
	UNIT_RUN(test_names);
	return unit_done();
}
