/* storeq.c — logd's store behind a queue, written at idle priority (see storeq.h). */
#include "trace/storeq.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "trace/logd.h"

struct item {
	struct item *next;
	uint32_t conn;
	bool hello;
	size_t n, size;
	union {
		struct pk_trace_hello h;
		struct pk_trace_rec r[1];
	} u;
};

struct pk_trace_storeq {
	struct pk_trace_store *store;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work, room; /* the writer waits for work, the caller for room */
	struct item *head, *tail;
	size_t bytes, cap;
	bool done, raised, can_idle;
	int rc; /* the writer's error, 0 while none */
	char why[512];
	int efd;
	/* the writer's own */
	int64_t *rows; /* store row of each connection's hello, by connection id */
	size_t nrows;
	uint64_t pending;
};

/* Sets the writer's scheduling: idle (only cores nobody else wants) or normal. */
static void set_idle(struct pk_trace_storeq *q, bool idle)
{
	struct sched_param sp = { .sched_priority = 0 };

	pthread_setschedparam(q->thread, idle ? SCHED_IDLE : SCHED_OTHER, &sp);
	q->raised = !idle;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The writer: one item into the store.  0 or -errno (why says why). */
static int store_item(struct pk_trace_storeq *q, const struct item *it)
{
	int64_t row;
	int rc;

	if (it->hello) {
		if (it->conn >= q->nrows) {
			size_t n = q->nrows ? q->nrows : 64;
			int64_t *p;

			while (n <= it->conn)
				n *= 2;
			p = realloc(q->rows, n * sizeof(*p));
			if (!p)
				return pk_errbuf_set(-ENOMEM, q->why, sizeof(q->why),
						     "logd: out of memory");
			memset(p + q->nrows, 0xff, (n - q->nrows) * sizeof(*p));
			q->rows = p;
			q->nrows = n;
		}
		rc = pk_trace_store_add_proc(q->store, &it->u.h, &row, q->why, sizeof(q->why));
		if (!rc)
			q->rows[it->conn] = row;
		q->pending++;
		return rc;
	}
	/* (the wire parser lets no record come before its connection's hello) */
	row = it->conn < q->nrows ? q->rows[it->conn] : -1;
	if (row < 0)
		return 0;
	q->pending += it->n;
	return pk_trace_store_add_recs(q->store, row, it->u.r, it->n, q->why, sizeof(q->why));
}

static void *writer_main(void *arg)
{
	struct pk_trace_storeq *q = arg;
	uint64_t last_commit = now_ms();
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct item *it = q->head;

		if (!it) {
			bool stop = q->done;
			struct timespec ts;

			pthread_mutex_unlock(&q->mu);
			if (q->pending && !rc &&
			    (stop || now_ms() - last_commit >= PK_TRACE_LOGD_COMMIT_MS)) {
				rc = pk_trace_store_commit(q->store, q->why, sizeof(q->why));
				q->pending = 0;
				last_commit = now_ms();
			}
			pthread_mutex_lock(&q->mu);
			if (rc && !q->rc) {
				q->rc = rc;
				eventfd_write(q->efd, 1);
				pthread_cond_broadcast(&q->room);
			}
			if (q->head)
				continue;
			if (q->done) {
				if (stop)
					break;
				continue; /* done came during the commit: commit what is left first
					   */
			}
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += PK_TRACE_LOGD_COMMIT_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&q->work, &q->mu, &ts);
			continue;
		}
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);
		if (!rc) {
			rc = store_item(q, it);
			if (!rc && q->pending >= PK_TRACE_LOGD_COMMIT_ROWS) {
				rc = pk_trace_store_commit(q->store, q->why, sizeof(q->why));
				q->pending = 0;
				last_commit = now_ms();
			}
		}
		pthread_mutex_lock(&q->mu);
		q->bytes -= it->size;
		free(it);
		if (rc && !q->rc) {
			q->rc = rc;
			eventfd_write(q->efd, 1);
		}
		if (q->raised && q->can_idle && q->bytes <= q->cap / 2)
			set_idle(q, true);
		pthread_cond_broadcast(&q->room);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int pk_trace_storeq_start(struct pk_trace_store *s, size_t cap, struct pk_trace_storeq **out,
			  char *err, size_t errlen)
{
	struct pk_trace_storeq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!q)
		return pk_errbuf_set(-ENOMEM, err, errlen, "logd: out of memory");
	q->store = s;
	q->cap = cap ? cap : PK_TRACE_STOREQ_CAP;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&q->room, NULL);
	rc = q->efd < 0 ? errno : pthread_create(&q->thread, NULL, writer_main, q);
	if (rc) {
		if (q->efd >= 0)
			close(q->efd);
		pthread_cond_destroy(&q->work);
		pthread_cond_destroy(&q->room);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return pk_errbuf_set(-rc, err, errlen, "logd: writer thread: %s", strerror(rc));
	}
	/* (leaving SCHED_IDLE takes CAP_SYS_NICE: without it the writer keeps normal priority) */
	pthread_mutex_lock(&q->mu);
	q->can_idle = geteuid() == 0;
	if (q->can_idle)
		set_idle(q, true);
	else
		q->raised = true;
	pthread_mutex_unlock(&q->mu);
	*out = q;
	return 0;
}

int pk_trace_storeq_fd(const struct pk_trace_storeq *q)
{
	return q->efd;
}

/* Queues it (its size set), waiting for room; frees it on failure. */
static int push(struct pk_trace_storeq *q, struct item *it, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&q->mu);
	while (!q->rc && q->bytes && q->bytes + it->size > q->cap) {
		if (!q->raised)
			set_idle(q, false);
		pthread_cond_wait(&q->room, &q->mu);
	}
	rc = q->rc;
	if (!rc) {
		it->next = NULL;
		if (q->tail)
			q->tail->next = it;
		else
			q->head = it;
		q->tail = it;
		q->bytes += it->size;
		pthread_cond_signal(&q->work);
	} else {
		pk_errbuf_set(rc, err, errlen, "%s", q->why);
	}
	pthread_mutex_unlock(&q->mu);
	if (rc)
		free(it);
	return rc;
}

int pk_trace_storeq_hello(struct pk_trace_storeq *q, uint32_t conn, const struct pk_trace_hello *h,
			  char *err, size_t errlen)
{
	struct item *it = malloc(sizeof(*it));

	if (!it)
		return pk_errbuf_set(-ENOMEM, err, errlen, "logd: out of memory");
	it->conn = conn;
	it->hello = true;
	it->n = 0;
	it->size = sizeof(*it);
	it->u.h = *h;
	return push(q, it, err, errlen);
}

int pk_trace_storeq_recs(struct pk_trace_storeq *q, uint32_t conn, const struct pk_trace_rec *r,
			 size_t n, char *err, size_t errlen)
{
	size_t size = offsetof(struct item, u.r) + n * sizeof(*r);
	struct item *it;

	if (!n)
		return 0;
	it = malloc(size < sizeof(*it) ? sizeof(*it) : size);
	if (!it)
		return pk_errbuf_set(-ENOMEM, err, errlen, "logd: out of memory");
	it->conn = conn;
	it->hello = false;
	it->n = n;
	it->size = size;
	memcpy(it->u.r, r, n * sizeof(*r));
	return push(q, it, err, errlen);
}

int pk_trace_storeq_finish(struct pk_trace_storeq *q, char *err, size_t errlen)
{
	int rc;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->mu);
	q->done = true;
	set_idle(q, false);
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	rc = q->rc;
	if (rc)
		pk_errbuf_set(rc, err, errlen, "%s", q->why);
	for (struct item *it = q->head, *next; it; it = next) {
		next = it->next;
		free(it);
	}
	pk_trace_store_close(q->store);
	close(q->efd);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->room);
	pthread_mutex_destroy(&q->mu);
	free(q->rows);
	free(q);
	return rc;
}
