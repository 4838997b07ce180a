/* test_trace_store.c — the SQLite store (and the PostgreSQL one when PK_TRACE_TEST_PG names a
 * database): tables made on open, hellos and records round-trip
 * in (proc, ts, insertion) order, uncommitted rows invisible to a reader, readers refuse a
 * missing file or a file that is not a trace store, a stop from the callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/store.h"
#include "unit.h"

static char dir[] = "/tmp/pk-test-store.XXXXXX";
static char path[128];

struct got {
	size_t n;
	int64_t procs[16];
	struct pk_trace_rec r[16];
	size_t stop_at;
};

static int collect(void *arg, int64_t proc, const struct pk_trace_rec *r)
{
	struct got *g = arg;

	if (g->n < 16) {
		g->procs[g->n] = proc;
		g->r[g->n] = *r;
	}
	g->n++;
	return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

static struct pk_trace_rec rec(uint64_t ts, uint8_t call, const char *peek)
{
	struct pk_trace_rec r;

	memset(&r, 0, sizeof(r));
	r.call = call;
	r.flags = PK_TRACE_F_SERVER | PK_TRACE_F_FROM_START;
	r.tid = 99;
	r.ts_ns = ts;
	r.fd = 5;
	r.arg = -1;
	r.ret = -11;
	r.offset = 1ull << 40;
	r.local.family = 2;
	r.local.port = 8080;
	memcpy(r.local.addr, "\x7f\0\0\x01", 4);
	r.peer.family = 10;
	r.peer.port = 40000;
	r.peer.addr[15] = 1;
	r.peek_len = (uint16_t)strlen(peek);
	memcpy(r.peek, peek, r.peek_len);
	return r;
}

/* The round trip on the SQLite file db or (db NULL) the empty PostgreSQL database pg. */
static void roundtrip(const char *db, const char *pg)
{
	struct pk_trace_store *w = NULL, *rd = NULL;
	struct pk_trace_hello h;
	struct pk_trace_proc *ps = NULL;
	struct pk_trace_rec in[3] = { rec(30, PK_TRACE_READ, "GET / HTTP/1.1"),
				      rec(10, PK_TRACE_WRITE, "HTTP/1.1 200"),
				      rec(30, PK_TRACE_CLOSE, "") };
	struct got g = { 0 };
	int64_t p1 = 0, p2 = 0;
	size_t n = 0;
	char err[256] = "";

	memset(&h, 0, sizeof(h));
	h.version = PK_TRACE_VERSION;
	h.pid = 1234;
	h.ppid = 1;
	h.flags = PK_TRACE_HELLO_FORKED;
	h.mono_ns = 5;
	h.real_ns = 1700000000000000000ull;
	h.dropped = 3;
	snprintf(h.exe, sizeof(h.exe), "%s", "/usr/sbin/nginx");
	snprintf(h.comm, sizeof(h.comm), "%s", "nginx\xff");
	CHECK_EQ_INT(pk_trace_store_open(db, pg, true, &w, err, sizeof(err)), 0);
	if (!w)
		return;
	CHECK_EQ_INT(pk_trace_store_add_proc(w, &h, &p1, err, sizeof(err)), 0);
	h.pid = 1235;
	CHECK_EQ_INT(pk_trace_store_add_proc(w, &h, &p2, err, sizeof(err)), 0);
	CHECK(p1 != p2);
	CHECK_EQ_INT(pk_trace_store_add_recs(w, p2, in, 1, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_trace_store_add_recs(w, p1, in, 3, err, sizeof(err)), 0);
	/* a reader sees nothing before the commit */
	CHECK_EQ_INT(pk_trace_store_open(db, pg, false, &rd, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_trace_store_each(rd, collect, &g, err, sizeof(err)), 0);
	CHECK_EQ_INT(g.n, 0);
	CHECK_EQ_INT(pk_trace_store_commit(w, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_trace_store_each(rd, collect, &g, err, sizeof(err)), 0);
	CHECK_EQ_INT(g.n, 4);
	/* ordered by proc, ts, insertion */
	CHECK_EQ_INT(g.procs[0], p1);
	CHECK_EQ_INT(g.r[0].ts_ns, 10);
	CHECK_EQ_INT(g.r[1].call, PK_TRACE_READ);
	CHECK_EQ_INT(g.r[2].call, PK_TRACE_CLOSE);
	CHECK_EQ_INT(g.procs[3], p2);
	CHECK(memcmp(&g.r[1], &in[0], sizeof(in[0])) == 0);
	CHECK(memcmp(&g.r[0], &in[1], sizeof(in[0])) == 0);
	CHECK(memcmp(&g.r[2], &in[2], sizeof(in[0])) == 0);
	CHECK_EQ_INT(pk_trace_store_procs(rd, &ps, &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK_EQ_INT(ps[0].id, p1);
		CHECK_EQ_INT(ps[0].pid, 1234);
		CHECK_EQ_INT(ps[0].ppid, 1);
		CHECK_EQ_INT(ps[0].flags, PK_TRACE_HELLO_FORKED);
		CHECK_EQ_INT(ps[0].dropped, 3);
		CHECK(ps[0].real_ns == 1700000000000000000ull);
		CHECK_STR(ps[0].exe, "/usr/sbin/nginx");
		CHECK_STR(ps[0].comm, "nginx?");
		CHECK_EQ_INT(ps[1].pid, 1235);
	}
	free(ps);
	/* the callback stops the walk */
	memset(&g, 0, sizeof(g));
	g.stop_at = 2;
	CHECK_EQ_INT(pk_trace_store_each(rd, collect, &g, err, sizeof(err)), 7);
	CHECK_EQ_INT(g.n, 2);
	pk_trace_store_close(rd);
	pk_trace_store_close(w);
	/* reopening for writing keeps the rows */
	CHECK_EQ_INT(pk_trace_store_open(db, pg, true, &w, err, sizeof(err)), 0);
	memset(&g, 0, sizeof(g));
	CHECK_EQ_INT(pk_trace_store_each(w, collect, &g, err, sizeof(err)), 0);
	CHECK_EQ_INT(g.n, 4);
	pk_trace_store_close(w);
}

static void test_roundtrip(void)
{
	roundtrip(path, NULL);
}

/* PK_TRACE_TEST_PG: the conninfo of an empty PostgreSQL database (test_trace_logd sets it). */
static void test_roundtrip_pg(void)
{
	roundtrip(NULL, getenv("PK_TRACE_TEST_PG"));
}

static void test_refusals(void)
{
	struct pk_trace_store *s = NULL;
	char err[256] = "", p[160];
	FILE *f;

	snprintf(p, sizeof(p), "%s/missing.sqlite", dir);
	CHECK(pk_trace_store_open(p, NULL, false, &s, err, sizeof(err)) < 0);
	CHECK(s == NULL);
	CHECK(err[0]);
	snprintf(p, sizeof(p), "%s/garbage.sqlite", dir);
	f = fopen(p, "w");
	if (f) {
		for (int i = 0; i < 200; i++)
			fputs("this is not a database ", f);
		fclose(f);
	}
	err[0] = 0;
	CHECK_EQ_INT(pk_trace_store_open(p, NULL, false, &s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "not a trace store"));
	CHECK_EQ_INT(pk_trace_store_open(p, NULL, true, &s, err, sizeof(err)), -EPROTO);
	CHECK(pk_trace_store_open(NULL, NULL, true, &s, err, sizeof(err)) == -EINVAL);
	pk_trace_store_close(NULL);
}

int main(void)
{
	char cmd[200];

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/t.sqlite", dir);
	UNIT_RUN(test_roundtrip);
	/* on PostgreSQL only when test_trace_logd runs this binary against its own server */
	if (getenv("PK_TRACE_TEST_PG"))
		UNIT_RUN(test_roundtrip_pg);
	UNIT_RUN(test_refusals);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return unit_done();
}
