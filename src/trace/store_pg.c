/* store_pg.c — store.h on PostgreSQL (libpq): records are buffered as COPY text and sent with
 * one COPY per commit; reads stream rows (single-row mode). */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "common/errbuf.h"
#include "trace/store_int.h"

struct pg_store {
	struct pk_trace_store base;
	PGconn *conn;
	char *copy; /* pending COPY text */
	size_t len, cap;
};

static const char pg_schema[] =
	"CREATE TABLE IF NOT EXISTS procs(id BIGSERIAL PRIMARY KEY, pid INTEGER, ppid INTEGER,"
	" flags BIGINT, mono_ns BIGINT, real_ns BIGINT, dropped BIGINT, exe TEXT, comm TEXT);"
	"CREATE TABLE IF NOT EXISTS events(seq BIGSERIAL PRIMARY KEY, proc BIGINT, tid BIGINT,"
	" ts BIGINT, call SMALLINT, flags SMALLINT, fd INTEGER, arg INTEGER, ret BIGINT,"
	" off BIGINT, lfam INTEGER, lport INTEGER, laddr BYTEA, pfam INTEGER, pport INTEGER,"
	" paddr BYTEA, peek BYTEA);";

/* The first line of libpq's message. */
static const char *pg_msg(PGconn *c, char *buf, size_t len)
{
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	size_t n = strcspn(m, "\n");

	snprintf(buf, len, "%.*s", (int)n, m);
	return buf;
}

/* A column of the current row as an integer (libpq gives text; NULL or junk is 0). */
static int64_t col_int(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* -errno and a reason from a failed result (or the connection's state). */
static int pg_fail(struct pg_store *s, PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char m[256];
	int code = -EIO;

	if (PQstatus(s->conn) != CONNECTION_OK)
		code = -ECONNRESET;
	else if (state && strcmp(state, "53100") == 0) /* disk_full */
		code = -ENOSPC;
	else if (state && (strncmp(state, "53", 2) == 0))
		code = -ENOMEM;
	else if (state && strcmp(state, "42P01") == 0) /* undefined_table */
		code = -EPROTO;
	if (res)
		snprintf(m, sizeof(m), "%.*s", (int)strcspn(PQresultErrorMessage(res), "\n"),
			 PQresultErrorMessage(res));
	else
		pg_msg(s->conn, m, sizeof(m));
	if (code == -ECONNRESET)
		return pk_errbuf_set(code, err, errlen, "%s: database is down: %s", what, m);
	if (code == -EPROTO)
		return pk_errbuf_set(code, err, errlen, "%s: not a trace store: %s", what, m);
	return pk_errbuf_set(code, err, errlen, "%s: %s", what, m);
}

/* Runs sql with no result rows; 0 or -errno. */
static int pg_exec(struct pg_store *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_fail(s, res, what, err, errlen);
	PQclear(res);
	return rc;
}

static void pg_close(struct pk_trace_store *b)
{
	struct pg_store *s = (struct pg_store *)b;

	if (s->len && PQstatus(s->conn) == CONNECTION_OK)
		b->ops->commit(b, NULL, 0);
	PQfinish(s->conn);
	free(s->copy);
	free(s);
}

static int pg_add_proc(struct pk_trace_store *b, const struct pk_trace_hello *h, int64_t *proc,
		       char *err, size_t errlen)
{
	struct pg_store *s = (struct pg_store *)b;
	char exe[PK_TRACE_EXE_MAX + 1], comm[17], v[6][24];
	const char *vals[8] = { v[0], v[1], v[2], v[3], v[4], v[5], exe, comm };
	PGresult *res;
	int rc = 0;

	pk_trace_store_text(exe, h->exe, sizeof(h->exe));
	pk_trace_store_text(comm, h->comm, sizeof(h->comm));
	snprintf(v[0], sizeof(v[0]), "%" PRId32, h->pid);
	snprintf(v[1], sizeof(v[1]), "%" PRId32, h->ppid);
	snprintf(v[2], sizeof(v[2]), "%" PRIu32, h->flags);
	snprintf(v[3], sizeof(v[3]), "%" PRId64, (int64_t)h->mono_ns);
	snprintf(v[4], sizeof(v[4]), "%" PRId64, (int64_t)h->real_ns);
	snprintf(v[5], sizeof(v[5]), "%" PRId64, (int64_t)h->dropped);
	res = PQexecParams(
		s->conn,
		"INSERT INTO procs(pid, ppid, flags, mono_ns, real_ns, dropped, exe, comm)"
		" VALUES($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
		8, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		rc = pg_fail(s, res, "add a process", err, errlen);
	else
		*proc = col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

/* Appends to the pending COPY text; false when memory ran out. */
static bool put(struct pg_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool put(struct pg_store *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = s->cap - s->len;

		va_start(ap, fmt);
		n = vsnprintf(s->copy ? s->copy + s->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return false;
		if ((size_t)n < room) {
			s->len += (size_t)n;
			return true;
		}
		size_t cap = s->cap ? s->cap * 2 : 1 << 16;
		char *nb;

		while (cap - s->len <= (size_t)n)
			cap *= 2;
		nb = realloc(s->copy, cap);
		if (!nb)
			return false;
		s->copy = nb, s->cap = cap;
	}
}

/* Appends bytes as a COPY-text bytea ("\\x0102..."). */
static bool put_hex(struct pg_store *s, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	char buf[2 * 64 + 4];
	size_t k = 0;

	buf[k++] = '\\', buf[k++] = '\\', buf[k++] = 'x';
	for (size_t i = 0; i < n && i < 64; i++)
		buf[k++] = hx[p[i] >> 4], buf[k++] = hx[p[i] & 15];
	buf[k] = 0;
	return put(s, "%s", buf);
}

static size_t alen(const struct pk_trace_addr *a)
{
	return a->family == 2 ? 4 : a->family == 10 ? 16 : 0;
}

static int pg_add_recs(struct pk_trace_store *b, int64_t proc, const struct pk_trace_rec *r,
		       size_t n, char *err, size_t errlen)
{
	struct pg_store *s = (struct pg_store *)b;

	for (size_t i = 0; i < n; i++, r++) {
		size_t pl = r->peek_len <= PK_TRACE_PEEK ? r->peek_len : PK_TRACE_PEEK;
		bool ok = put(s,
			      "%" PRId64 "\t%" PRIu32 "\t%" PRId64 "\t%u\t%u\t%d\t%d\t%" PRId64
			      "\t%" PRId64 "\t%u\t%u\t",
			      proc, r->tid, (int64_t)r->ts_ns, r->call, r->flags, r->fd, r->arg,
			      r->ret, (int64_t)r->offset, r->local.family, r->local.port) &&
			  put_hex(s, r->local.addr, alen(&r->local)) &&
			  put(s, "\t%u\t%u\t", r->peer.family, r->peer.port) &&
			  put_hex(s, r->peer.addr, alen(&r->peer)) && put(s, "\t") &&
			  put_hex(s, r->peek, pl) && put(s, "\n");

		if (!ok)
			return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	}
	return 0;
}

static int pg_commit(struct pk_trace_store *b, char *err, size_t errlen)
{
	struct pg_store *s = (struct pg_store *)b;
	PGresult *res;
	int rc = 0;

	if (!s->len)
		return 0;
	res = PQexec(s->conn, "COPY events(proc, tid, ts, call, flags, fd, arg, ret, off, lfam,"
			      " lport, laddr, pfam, pport, paddr, peek) FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = pg_fail(s, res, "commit", err, errlen);
		PQclear(res);
		s->len = 0;
		return rc;
	}
	PQclear(res);
	if (PQputCopyData(s->conn, s->copy, (int)s->len) != 1 || PQputCopyEnd(s->conn, NULL) != 1)
		rc = pg_fail(s, NULL, "commit", err, errlen);
	while ((res = PQgetResult(s->conn))) {
		if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_fail(s, res, "commit", err, errlen);
		PQclear(res);
	}
	s->len = 0;
	return rc;
}

static int pg_procs(struct pk_trace_store *b, struct pk_trace_proc **out, size_t *n, char *err,
		    size_t errlen)
{
	struct pg_store *s = (struct pg_store *)b;
	PGresult *res = PQexec(s->conn, "SELECT id, pid, ppid, flags, mono_ns, real_ns, dropped,"
					" exe, comm FROM procs ORDER BY id");
	struct pk_trace_proc *v;
	int rows;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		int rc = pg_fail(s, res, "read processes", err, errlen);

		PQclear(res);
		return rc;
	}
	rows = PQntuples(res);
	v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
	if (!v) {
		PQclear(res);
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	}
	for (int i = 0; i < rows; i++) {
		v[i].id = col_int(res, i, 0);
		v[i].pid = (int32_t)col_int(res, i, 1);
		v[i].ppid = (int32_t)col_int(res, i, 2);
		v[i].flags = (uint32_t)col_int(res, i, 3);
		v[i].mono_ns = (uint64_t)col_int(res, i, 4);
		v[i].real_ns = (uint64_t)col_int(res, i, 5);
		v[i].dropped = (uint64_t)col_int(res, i, 6);
		snprintf(v[i].exe, sizeof(v[i].exe), "%s", PQgetvalue(res, i, 7));
		snprintf(v[i].comm, sizeof(v[i].comm), "%s", PQgetvalue(res, i, 8));
	}
	PQclear(res);
	*out = v;
	*n = (size_t)rows;
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes a bytea in hex output ("\x0102") into dst (at most max bytes); its length. */
static size_t unhex(const char *t, uint8_t *dst, size_t max)
{
	size_t n = 0;

	if (t[0] != '\\' || t[1] != 'x')
		return 0;
	for (t += 2; n < max && hexval(t[0]) >= 0 && hexval(t[1]) >= 0; t += 2)
		dst[n++] = (uint8_t)(hexval(t[0]) << 4 | hexval(t[1]));
	return n;
}

static int pg_each(struct pk_trace_store *b,
		   int (*cb)(void *arg, int64_t proc, const struct pk_trace_rec *r), void *arg,
		   char *err, size_t errlen)
{
	struct pg_store *s = (struct pg_store *)b;
	PGresult *res;
	int rc = 0, stop = 0;

	if (!PQsendQuery(s->conn, "SELECT proc, tid, ts, call, flags, fd, arg, ret, off, lfam,"
				  " lport, laddr, pfam, pport, paddr, peek FROM events"
				  " ORDER BY proc, ts, seq") ||
	    !PQsetSingleRowMode(s->conn))
		return pg_fail(s, NULL, "read records", err, errlen);
	while ((res = PQgetResult(s->conn))) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && !stop && !rc) {
			struct pk_trace_rec r;

			memset(&r, 0, sizeof(r));
			r.tid = (uint32_t)col_int(res, 0, 1);
			r.ts_ns = (uint64_t)col_int(res, 0, 2);
			r.call = (uint8_t)col_int(res, 0, 3);
			r.flags = (uint8_t)col_int(res, 0, 4);
			r.fd = (int32_t)col_int(res, 0, 5);
			r.arg = (int32_t)col_int(res, 0, 6);
			r.ret = col_int(res, 0, 7);
			r.offset = (uint64_t)col_int(res, 0, 8);
			r.local.family = (uint16_t)col_int(res, 0, 9);
			r.local.port = (uint16_t)col_int(res, 0, 10);
			unhex(PQgetvalue(res, 0, 11), r.local.addr, sizeof(r.local.addr));
			r.peer.family = (uint16_t)col_int(res, 0, 12);
			r.peer.port = (uint16_t)col_int(res, 0, 13);
			unhex(PQgetvalue(res, 0, 14), r.peer.addr, sizeof(r.peer.addr));
			r.peek_len =
				(uint16_t)unhex(PQgetvalue(res, 0, 15), r.peek, sizeof(r.peek));
			stop = cb(arg, col_int(res, 0, 0), &r);
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !rc) {
			rc = pg_fail(s, res, "read records", err, errlen);
		}
		PQclear(res);
	}
	return stop ? stop : rc;
}

static const struct pk_trace_store_ops pg_ops = {
	.close = pg_close,
	.add_proc = pg_add_proc,
	.add_recs = pg_add_recs,
	.commit = pg_commit,
	.procs = pg_procs,
	.each = pg_each,
};

int pk_trace_store_pg_open(const char *conninfo, bool create, struct pk_trace_store **out,
			   char *err, size_t errlen)
{
	struct pg_store *s = calloc(1, sizeof(*s));
	char m[256];
	int rc;

	if (!s)
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	s->base.ops = &pg_ops;
	s->conn = PQconnectdb(conninfo);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		rc = pk_errbuf_set(-ECONNREFUSED, err, errlen, "database is down: %s",
				   pg_msg(s->conn, m, sizeof(m)));
		goto fail;
	}
	rc = pg_exec(s, "SET client_min_messages = warning", "connect", err, errlen);
	if (!rc && create)
		rc = pg_exec(s, pg_schema, "create the tables", err, errlen);
	if (!rc)
		rc = pg_exec(s, "SELECT 1 FROM procs, events LIMIT 0", "open", err, errlen);
	if (rc)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	PQfinish(s->conn);
	free(s);
	return rc;
}
