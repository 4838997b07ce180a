/* fuzz_trace_wire.c — libFuzzer target: the bytes a traced process (or anything that connects
 * to logd's socket) sends, through the incremental parser logd runs per connection, and the
 * same bytes read as a raw log by `trace expand`.
 *
 * Input: byte 0 picks the size of the pieces the stream arrives in (0: all at once), the rest
 * is the stream.  Besides the sanitizers' checks, it asserts the promises: a hello comes first
 * and once; every record handed over has its call in range and peek_len <= PK_TRACE_PEEK; a
 * refusal is -EPROTO with a reason and is final; the raw log reader refuses with -EPROTO and a
 * reason or hands over only valid hellos and records.
 * Built with clang by `make fuzz`, and with gcc+ASan into test_fuzz_corpus.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace/raw.h"
#include "trace/wire.h"

#define FUZZ_TARGET "fuzz_trace_wire"
#include "fuzz.h"

struct fz {
	int hellos;
	size_t recs;
};

static int on_frame(void *arg, const struct pk_trace_frame *f, const struct pk_trace_hello *h,
		    const struct pk_trace_rec *r, size_t n)
{
	struct fz *z = arg;

	require(f->magic == PK_TRACE_MAGIC, "a frame has the magic");
	if (h) {
		require(z->hellos++ == 0 && z->recs == 0, "one hello, first");
		require(h->version == PK_TRACE_VERSION && h->pid > 0, "a valid hello");
		return 0;
	}
	require(z->hellos == 1, "records after the hello");
	require(n > 0 && n == f->count && f->len == n * sizeof(*r), "count matches length");
	for (size_t i = 0; i < n; i++)
		require(r[i].call > 0 && r[i].call < PK_TRACE_CALL_MAX &&
				r[i].peek_len <= PK_TRACE_PEEK,
			"a valid record");
	z->recs += n;
	return 0;
}

static int on_raw(void *arg, uint32_t conn, const struct pk_trace_hello *h,
		  const struct pk_trace_rec *r)
{
	require(!h != !r, "a hello or a record");
	if (h)
		require(h->version == PK_TRACE_VERSION, "a valid raw hello");
	else
		require(r->call > 0 && r->call < PK_TRACE_CALL_MAX && r->peek_len <= PK_TRACE_PEEK,
			"a valid raw record");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pk_trace_wire w;
	struct fz z = { 0 };
	char err[256];
	size_t step, i;
	int rc = 0, fd;

	if (size < 1)
		return 0;
	step = data[0] ? data[0] : size;
	data++, size--;
	pk_trace_wire_init(&w);
	for (i = 0; i < size && !rc; i += step) {
		err[0] = 0;
		rc = pk_trace_wire_feed(&w, data + i, size - i < step ? size - i : step, on_frame,
					&z, err, sizeof(err));
		require(rc == 0 || ((rc == -EPROTO || rc == -ENOMEM) && err[0]),
			"a refusal is -EPROTO with a reason");
	}
	if (rc)
		require(pk_trace_wire_feed(&w, data, size, on_frame, &z, NULL, 0) == -EPROTO,
			"a refusal is final");
	pk_trace_wire_free(&w);

	fd = memfd_create("raw", MFD_CLOEXEC);
	if (fd >= 0) {
		char path[64];

		if (write(fd, data, size) == (ssize_t)size) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			err[0] = 0;
			rc = pk_trace_raw_each(path, on_raw, NULL, err, sizeof(err));
			require(rc == 0 || (rc == -EPROTO && err[0]),
				"a corrupt raw log is -EPROTO with a reason");
		}
		close(fd);
	}
	return 0;
}
