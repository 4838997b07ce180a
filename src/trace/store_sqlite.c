/* store_sqlite.c — store.h on a SQLite file: WAL, one transaction per commit, prepared
 * statements, one thread per handle (no SQLite mutexes).  Writers run with synchronous=OFF: a
 * checkpoint's fsync stalled logd long enough for the traced processes' rings to overflow
 * (34,679 records of 1M dropped under redis-benchmark; none without it).  A crash of logd
 * loses nothing committed; a crash of the machine may lose or damage the last commits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "common/errbuf.h"
#include "trace/store_int.h"

#define SQ_BUSY_MS 5000

struct sq_store {
	struct pk_trace_store base;
	sqlite3 *db;
	sqlite3_stmt *ins_proc, *ins_rec;
	bool in_tx;
};

static const char sq_schema[] =
	"CREATE TABLE IF NOT EXISTS procs(id INTEGER PRIMARY KEY, pid INTEGER, ppid INTEGER,"
	" flags INTEGER, mono_ns INTEGER, real_ns INTEGER, dropped INTEGER, exe TEXT, comm TEXT);"
	"CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, proc INTEGER, tid INTEGER,"
	" ts INTEGER, call INTEGER, flags INTEGER, fd INTEGER, arg INTEGER, ret INTEGER,"
	" off INTEGER, lfam INTEGER, lport INTEGER, laddr BLOB, pfam INTEGER, pport INTEGER,"
	" paddr BLOB, peek BLOB);";

/* -errno and a reason from db's last error. */
static int sq_fail(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_FULL:
		code = -ENOSPC;
		break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return pk_errbuf_set(-EPROTO, err, errlen, "%s: not a trace store (%s)", what,
				     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	case SQLITE_CANTOPEN:
		code = -ENOENT;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = -EBUSY;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		code = -EACCES;
		break;
	case SQLITE_NOMEM:
		code = -ENOMEM;
		break;
	default:
		code = -EIO;
	}
	return pk_errbuf_set(code, err, errlen, "%s: %s", what,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static void sq_close(struct pk_trace_store *b)
{
	struct sq_store *s = (struct sq_store *)b;

	if (s->in_tx)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_finalize(s->ins_proc);
	sqlite3_finalize(s->ins_rec);
	sqlite3_close(s->db);
	free(s);
}

static int sq_begin(struct sq_store *s, char *err, size_t errlen)
{
	int rc;

	if (s->in_tx)
		return 0;
	rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s->db, rc, "begin", err, errlen);
	s->in_tx = true;
	return 0;
}

static int sq_add_proc(struct pk_trace_store *b, const struct pk_trace_hello *h, int64_t *proc,
		       char *err, size_t errlen)
{
	struct sq_store *s = (struct sq_store *)b;
	char exe[PK_TRACE_EXE_MAX + 1], comm[17];
	sqlite3_stmt *st = s->ins_proc;
	int rc = sq_begin(s, err, errlen);

	if (rc)
		return rc;
	pk_trace_store_text(exe, h->exe, sizeof(h->exe));
	pk_trace_store_text(comm, h->comm, sizeof(h->comm));
	sqlite3_bind_int64(st, 1, h->pid);
	sqlite3_bind_int64(st, 2, h->ppid);
	sqlite3_bind_int64(st, 3, h->flags);
	sqlite3_bind_int64(st, 4, (int64_t)h->mono_ns);
	sqlite3_bind_int64(st, 5, (int64_t)h->real_ns);
	sqlite3_bind_int64(st, 6, (int64_t)h->dropped);
	sqlite3_bind_text(st, 7, exe, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, comm, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s->db, rc, "add a process", err, errlen);
	*proc = sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* An address's bytes: 4 for AF_INET, 16 for AF_INET6, none otherwise. */
static int addr_len(const struct pk_trace_addr *a)
{
	return a->family == 2 /* AF_INET */ ? 4 : a->family == 10 /* AF_INET6 */ ? 16 : 0;
}

static int sq_add_recs(struct pk_trace_store *b, int64_t proc, const struct pk_trace_rec *r,
		       size_t n, char *err, size_t errlen)
{
	struct sq_store *s = (struct sq_store *)b;
	sqlite3_stmt *st = s->ins_rec;
	int rc = sq_begin(s, err, errlen);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++, r++) {
		size_t pl = r->peek_len <= PK_TRACE_PEEK ? r->peek_len : PK_TRACE_PEEK;

		sqlite3_bind_int64(st, 1, proc);
		sqlite3_bind_int64(st, 2, r->tid);
		sqlite3_bind_int64(st, 3, (int64_t)r->ts_ns);
		sqlite3_bind_int(st, 4, r->call);
		sqlite3_bind_int(st, 5, r->flags);
		sqlite3_bind_int(st, 6, r->fd);
		sqlite3_bind_int(st, 7, r->arg);
		sqlite3_bind_int64(st, 8, r->ret);
		sqlite3_bind_int64(st, 9, (int64_t)r->offset);
		sqlite3_bind_int(st, 10, r->local.family);
		sqlite3_bind_int(st, 11, r->local.port);
		sqlite3_bind_blob(st, 12, r->local.addr, addr_len(&r->local), SQLITE_STATIC);
		sqlite3_bind_int(st, 13, r->peer.family);
		sqlite3_bind_int(st, 14, r->peer.port);
		sqlite3_bind_blob(st, 15, r->peer.addr, addr_len(&r->peer), SQLITE_STATIC);
		sqlite3_bind_blob(st, 16, r->peek, (int)pl, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return sq_fail(s->db, rc, "add records", err, errlen);
	}
	return 0;
}

static int sq_commit(struct pk_trace_store *b, char *err, size_t errlen)
{
	struct sq_store *s = (struct sq_store *)b;
	int rc;

	if (!s->in_tx)
		return 0;
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(s->db, rc, "commit", err, errlen);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_tx = false;
		return rc;
	}
	s->in_tx = false;
	return 0;
}

static int sq_procs(struct pk_trace_store *b, struct pk_trace_proc **out, size_t *n, char *err,
		    size_t errlen)
{
	struct sq_store *s = (struct sq_store *)b;
	struct pk_trace_proc *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
		s->db,
		"SELECT id, pid, ppid, flags, mono_ns, real_ns, dropped, exe, comm"
		" FROM procs ORDER BY id",
		-1, &st, NULL);

	if (rc != SQLITE_OK)
		return sq_fail(s->db, rc, "read processes", err, errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pk_trace_proc *p;
		const char *t;

		if (cnt == cap) {
			struct pk_trace_proc *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
		}
		p = &v[cnt++];
		memset(p, 0, sizeof(*p));
		p->id = sqlite3_column_int64(st, 0);
		p->pid = (int32_t)sqlite3_column_int64(st, 1);
		p->ppid = (int32_t)sqlite3_column_int64(st, 2);
		p->flags = (uint32_t)sqlite3_column_int64(st, 3);
		p->mono_ns = (uint64_t)sqlite3_column_int64(st, 4);
		p->real_ns = (uint64_t)sqlite3_column_int64(st, 5);
		p->dropped = (uint64_t)sqlite3_column_int64(st, 6);
		t = (const char *)sqlite3_column_text(st, 7);
		snprintf(p->exe, sizeof(p->exe), "%s", t ? t : "");
		t = (const char *)sqlite3_column_text(st, 8);
		snprintf(p->comm, sizeof(p->comm), "%s", t ? t : "");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return sq_fail(s->db, rc, "read processes", err, errlen);
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* Copies a blob column into dst (at most max bytes); returns its length. */
static size_t col_blob(sqlite3_stmt *st, int col, void *dst, size_t max)
{
	const void *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if (n > max)
		n = max;
	if (p && n)
		memcpy(dst, p, n);
	return n;
}

static int sq_each(struct pk_trace_store *b,
		   int (*cb)(void *arg, int64_t proc, const struct pk_trace_rec *r), void *arg,
		   char *err, size_t errlen)
{
	struct sq_store *s = (struct sq_store *)b;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db,
				    "SELECT proc, tid, ts, call, flags, fd, arg, ret, off, lfam,"
				    " lport, laddr, pfam, pport, paddr, peek FROM events"
				    " ORDER BY proc, ts, seq",
				    -1, &st, NULL);
	int stop = 0;

	if (rc != SQLITE_OK)
		return sq_fail(s->db, rc, "read records", err, errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pk_trace_rec r;

		memset(&r, 0, sizeof(r));
		r.tid = (uint32_t)sqlite3_column_int64(st, 1);
		r.ts_ns = (uint64_t)sqlite3_column_int64(st, 2);
		r.call = (uint8_t)sqlite3_column_int(st, 3);
		r.flags = (uint8_t)sqlite3_column_int(st, 4);
		r.fd = sqlite3_column_int(st, 5);
		r.arg = sqlite3_column_int(st, 6);
		r.ret = sqlite3_column_int64(st, 7);
		r.offset = (uint64_t)sqlite3_column_int64(st, 8);
		r.local.family = (uint16_t)sqlite3_column_int(st, 9);
		r.local.port = (uint16_t)sqlite3_column_int(st, 10);
		col_blob(st, 11, r.local.addr, sizeof(r.local.addr));
		r.peer.family = (uint16_t)sqlite3_column_int(st, 12);
		r.peer.port = (uint16_t)sqlite3_column_int(st, 13);
		col_blob(st, 14, r.peer.addr, sizeof(r.peer.addr));
		r.peek_len = (uint16_t)col_blob(st, 15, r.peek, sizeof(r.peek));
		stop = cb(arg, sqlite3_column_int64(st, 0), &r);
		if (stop)
			break;
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return sq_fail(s->db, rc, "read records", err, errlen);
	return 0;
}

static const struct pk_trace_store_ops sq_ops = {
	.close = sq_close,
	.add_proc = sq_add_proc,
	.add_recs = sq_add_recs,
	.commit = sq_commit,
	.procs = sq_procs,
	.each = sq_each,
};

int pk_trace_store_sqlite_open(const char *path, bool create, struct pk_trace_store **out,
			       char *err, size_t errlen)
{
	struct sq_store *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st = NULL;
	int rc, have = 0;

	if (!s)
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	s->base.ops = &sq_ops;
	rc = sqlite3_open_v2(
		path, &s->db,
		(create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
			SQLITE_OPEN_NOMUTEX,
		NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(s->db, rc, path, err, errlen);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, SQ_BUSY_MS);
	if (create) {
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;", NULL,
				  NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, sq_schema, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			rc = sq_fail(s->db, rc, path, err, errlen);
			goto fail;
		}
	}
	rc = sqlite3_prepare_v2(s->db,
				"SELECT count(*) FROM sqlite_master WHERE type='table' AND"
				" name IN ('procs','events')",
				-1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		have = sqlite3_column_int(st, 0), rc = SQLITE_OK;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		rc = sq_fail(s->db, rc, path, err, errlen);
		goto fail;
	}
	if (have != 2) {
		rc = pk_errbuf_set(-EPROTO, err, errlen, "%s: not a trace store (no tables)", path);
		goto fail;
	}
	if (create) {
		rc = sqlite3_prepare_v2(s->db,
					"INSERT INTO procs(pid, ppid, flags, mono_ns, real_ns,"
					" dropped, exe, comm) VALUES(?,?,?,?,?,?,?,?)",
					-1, &s->ins_proc, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_prepare_v2(
				s->db,
				"INSERT INTO events(proc, tid, ts, call, flags, fd, arg, ret, off,"
				" lfam, lport, laddr, pfam, pport, paddr, peek)"
				" VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				-1, &s->ins_rec, NULL);
		if (rc != SQLITE_OK) {
			rc = sq_fail(s->db, rc, path, err, errlen);
			goto fail;
		}
	}
	*out = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return rc;
}
