/* raw.c — logd's raw log (see raw.h). */
#include "trace/raw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "trace/store.h"
#include "trace/wire.h"

int pk_trace_raw_append(int fd, uint32_t conn, const struct pk_trace_frame *f, const void *payload,
			char *err, size_t errlen)
{
	struct pk_trace_raw_hdr h = { PK_TRACE_RAW_MAGIC, conn };
	struct iovec iov[3] = {
		{ &h, sizeof(h) },
		{ (void *)f, sizeof(*f) },
		{ (void *)payload, f->len },
	};
	size_t want = sizeof(h) + sizeof(*f) + f->len;
	ssize_t n = writev(fd, iov, f->len ? 3 : 2);

	if (n < 0)
		return pk_errbuf_set(-errno, err, errlen, "raw log: %s", strerror(errno));
	if ((size_t)n != want)
		return pk_errbuf_set(-ENOSPC, err, errlen, "raw log: short write (disk full?)");
	return 0;
}

int pk_trace_raw_each(const char *path,
		      int (*cb)(void *arg, uint32_t conn, const struct pk_trace_hello *h,
				const struct pk_trace_rec *r),
		      void *arg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t off = 0;
	int rc = 0;

	if (!f)
		return pk_errbuf_set(-errno, err, errlen, "%s: %s", path, strerror(errno));
	for (;;) {
		struct pk_trace_raw_hdr rh;
		struct pk_trace_frame fh;
		char why[200];
		size_t n = fread(&rh, 1, sizeof(rh), f);

		if (n == 0 && feof(f))
			break;
		if (n != sizeof(rh) || fread(&fh, 1, sizeof(fh), f) != sizeof(fh)) {
			rc = pk_errbuf_set(-EPROTO, err, errlen,
					   "%s: corrupt raw log at byte %llu: %s", path,
					   (unsigned long long)off, "cut in a frame header");
			break;
		}
		if (rh.magic != PK_TRACE_RAW_MAGIC) {
			rc = pk_errbuf_set(-EPROTO, err, errlen,
					   "%s: corrupt raw log at byte %llu: not a raw log entry",
					   path, (unsigned long long)off);
			break;
		}
		if (pk_trace_wire_check_hdr(&fh, why, sizeof(why))) {
			rc = pk_errbuf_set(-EPROTO, err, errlen,
					   "%s: corrupt raw log at byte %llu: %s", path,
					   (unsigned long long)off, why);
			break;
		}
		if (fh.len > cap) { /* grows to the largest frame, at most PK_TRACE_FRAME_MAX */
			uint8_t *nb = realloc(buf, fh.len);

			if (!nb) {
				rc = pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
				break;
			}
			buf = nb, cap = fh.len;
		}
		if (fh.len && fread(buf, 1, fh.len, f) != fh.len) {
			rc = pk_errbuf_set(-EPROTO, err, errlen,
					   "%s: corrupt raw log at byte %llu: %s", path,
					   (unsigned long long)off, "cut in a frame");
			break;
		}
		if (fh.type == PK_TRACE_FRAME_HELLO) {
			struct pk_trace_hello h;

			memcpy(&h, buf, sizeof(h));
			if (pk_trace_wire_check_hello(&h, why, sizeof(why))) {
				rc = pk_errbuf_set(-EPROTO, err, errlen,
						   "%s: corrupt raw log at byte %llu: %s", path,
						   (unsigned long long)off, why);
				break;
			}
			rc = cb(arg, rh.conn, &h, NULL);
		} else {
			for (uint32_t i = 0; i < fh.count && !rc; i++) {
				const struct pk_trace_rec *r = (const struct pk_trace_rec *)buf + i;

				if (pk_trace_wire_check_rec(r, why, sizeof(why))) {
					rc = pk_errbuf_set(-EPROTO, err, errlen,
							   "%s: corrupt raw log at byte %llu: %s",
							   path, (unsigned long long)off, why);
					break;
				}
				rc = cb(arg, rh.conn, NULL, r);
			}
		}
		if (rc)
			break;
		off += sizeof(rh) + sizeof(fh) + fh.len;
	}
	if (!rc && ferror(f))
		rc = pk_errbuf_set(-EIO, err, errlen, "%s: read error", path);
	free(buf);
	fclose(f);
	return rc;
}

/* What pk_trace_raw_load's callback carries: the store, logd's connection numbers mapped to
 * process rows, and the counts. */
struct raw_load {
	struct pk_trace_store *s;
	int64_t *proc; /* by connection number; 0: no hello yet */
	size_t nproc;
	struct pk_trace_raw_stats *st;
	uint64_t pending;
	char *err;
	size_t errlen;
};

static int raw_load_one(void *arg, uint32_t conn, const struct pk_trace_hello *h,
			const struct pk_trace_rec *r)
{
	struct raw_load *l = arg;
	int rc;

	if (conn >= l->nproc) {
		size_t n = conn + 1 > 2 * l->nproc ? conn + 1 : 2 * l->nproc;
		int64_t *p = realloc(l->proc, n * sizeof(*p));

		if (!p)
			return pk_errbuf_set(-ENOMEM, l->err, l->errlen, "out of memory");
		memset(p + l->nproc, 0, (n - l->nproc) * sizeof(*p));
		l->proc = p, l->nproc = n;
	}
	if (h) {
		rc = pk_trace_store_add_proc(l->s, h, &l->proc[conn], l->err, l->errlen);
		l->st->procs++;
	} else if (!l->proc[conn]) {
		rc = pk_errbuf_set(-EPROTO, l->err, l->errlen,
				   "a record of connection %u before its hello", conn);
	} else {
		rc = pk_trace_store_add_recs(l->s, l->proc[conn], r, 1, l->err, l->errlen);
		l->st->recs++;
	}
	if (!rc && ++l->pending >= PK_TRACE_RAW_COMMIT_ROWS) {
		rc = pk_trace_store_commit(l->s, l->err, l->errlen);
		l->pending = 0;
	}
	return rc;
}

int pk_trace_raw_load(const char *path, struct pk_trace_store *s, struct pk_trace_raw_stats *st,
		      char *err, size_t errlen)
{
	struct raw_load l = { .s = s, .st = st, .err = err, .errlen = errlen };
	int rc;

	memset(st, 0, sizeof(*st));
	rc = pk_trace_raw_each(path, raw_load_one, &l, err, errlen);
	/* what was read before a corrupt entry is kept */
	if (l.pending) {
		char cerr[256];
		int crc = pk_trace_store_commit(s, cerr, sizeof(cerr));

		if (crc && !rc)
			rc = pk_errbuf_set(crc, err, errlen, "%s", cerr);
	}
	free(l.proc);
	return rc;
}
