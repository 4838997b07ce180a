/* test_trace_storeq.c — logd's store behind a queue: with a cap far below what is queued (the
 * caller waits for room), every hello and record of several connections interleaved reaches
 * the SQLite store, each record under its own connection's process; a record of a
 * connection without a hello is dropped, never stored under another process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/storeq.h"
#include "unit.h"

#define CONNS 3
#define BATCHES 200
#define PER 50 /* records a batch */

struct seen {
	int64_t proc_of_pid[CONNS];
	size_t n, wrong_proc;
};

static int collect(void *arg, int64_t proc, const struct pk_trace_rec *r)
{
	struct seen *s = arg;
	int c = (int)(r->tid - 1);

	s->n++;
	if (c < 0 || c >= CONNS || s->proc_of_pid[c] != proc)
		s->wrong_proc++;
	return 0;
}

static void test_everything_stored(void)
{
	char dir[] = "/tmp/pk-test-storeq.XXXXXX", path[128], err[256] = "";
	struct pk_trace_store *s = NULL;
	struct pk_trace_storeq *q = NULL;
	static struct pk_trace_rec recs[PER];
	struct seen seen = { 0 };
	struct pk_trace_proc *procs = NULL;
	size_t nprocs = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/t.sqlite", dir);
	CHECK_EQ_INT(pk_trace_store_open(path, NULL, true, &s, err, sizeof(err)), 0);
	/* a cap of two batches: the caller waits for the writer most of the time */
	CHECK_EQ_INT(pk_trace_storeq_start(s, 2 * PER * sizeof(struct pk_trace_rec), &q, err,
					   sizeof(err)),
		     0);
	CHECK(pk_trace_storeq_fd(q) >= 0);
	for (uint32_t c = 0; c < CONNS; c++) {
		struct pk_trace_hello h = { .pid = (int32_t)(1000 + c), .ppid = 1 };

		snprintf(h.comm, sizeof(h.comm), "p%u", c);
		CHECK_EQ_INT(pk_trace_storeq_hello(q, c + 1, &h, err, sizeof(err)), 0);
	}
	for (int b = 0; b < BATCHES; b++) {
		uint32_t c = (uint32_t)b % CONNS;

		for (int i = 0; i < PER; i++) {
			memset(&recs[i], 0, sizeof(recs[i]));
			recs[i].call = PK_TRACE_READ;
			recs[i].tid = c + 1;
			recs[i].ts_ns = (uint64_t)b * PER + (uint64_t)i + 1;
		}
		CHECK_EQ_INT(pk_trace_storeq_recs(q, c + 1, recs, PER, err, sizeof(err)), 0);
	}
	/* connection 9 never said hello: its records go nowhere */
	CHECK_EQ_INT(pk_trace_storeq_recs(q, 9, recs, 1, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_trace_storeq_recs(q, 1, recs, 0, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_trace_storeq_finish(q, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_trace_storeq_finish(NULL, err, sizeof(err)), 0);

	CHECK_EQ_INT(pk_trace_store_open(path, NULL, false, &s, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_trace_store_procs(s, &procs, &nprocs, err, sizeof(err)), 0);
	CHECK_EQ_INT(nprocs, CONNS);
	for (size_t i = 0; i < nprocs && i < CONNS; i++)
		if (procs[i].pid >= 1000 && procs[i].pid < 1000 + CONNS)
			seen.proc_of_pid[procs[i].pid - 1000] = procs[i].id;
	CHECK_EQ_INT(pk_trace_store_each(s, collect, &seen, err, sizeof(err)), 0);
	CHECK_EQ_INT(seen.n, BATCHES * PER);
	CHECK_EQ_INT(seen.wrong_proc, 0);
	free(procs);
	pk_trace_store_close(s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.sqlite-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.sqlite-shm", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	UNIT_RUN(test_everything_stored);
	return unit_done();
}
