/* store.c — store.h's entry points: the SQLite or the PostgreSQL back end. */
#include <errno.h>
#include <string.h>

#include "common/errbuf.h"
#include "trace/store_int.h"

void pk_trace_store_text(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = 0;
}

int pk_trace_store_open(const char *db, const char *pg, bool create, struct pk_trace_store **out,
			char *err, size_t errlen)
{
	*out = NULL;
	if (db)
		return pk_trace_store_sqlite_open(db, create, out, err, errlen);
	if (pg)
		return pk_trace_store_pg_open(pg, create, out, err, errlen);
	return pk_errbuf_set(-EINVAL, err, errlen, "no database named");
}

void pk_trace_store_close(struct pk_trace_store *s)
{
	if (s)
		s->ops->close(s);
}

int pk_trace_store_add_proc(struct pk_trace_store *s, const struct pk_trace_hello *h, int64_t *proc,
			    char *err, size_t errlen)
{
	return s->ops->add_proc(s, h, proc, err, errlen);
}

int pk_trace_store_add_recs(struct pk_trace_store *s, int64_t proc, const struct pk_trace_rec *r,
			    size_t n, char *err, size_t errlen)
{
	return n ? s->ops->add_recs(s, proc, r, n, err, errlen) : 0;
}

int pk_trace_store_commit(struct pk_trace_store *s, char *err, size_t errlen)
{
	return s->ops->commit(s, err, errlen);
}

int pk_trace_store_procs(struct pk_trace_store *s, struct pk_trace_proc **procs, size_t *n,
			 char *err, size_t errlen)
{
	*procs = NULL;
	*n = 0;
	return s->ops->procs(s, procs, n, err, errlen);
}

int pk_trace_store_each(struct pk_trace_store *s,
			int (*cb)(void *arg, int64_t proc, const struct pk_trace_rec *r), void *arg,
			char *err, size_t errlen)
{
	return s->ops->each(s, cb, arg, err, errlen);
}
