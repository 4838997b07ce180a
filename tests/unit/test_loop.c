/* test_loop.c — the epoll loop: io callbacks, mask changes, deletion inside a batch,
 * timer order, re-arm and cancel, the before-sleep hook, stop, park and re-register. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/loop.h"
#include "unit.h"

#define MS 1000000ull

/* A guard timer that stops a loop that would otherwise hang, and says so. */
struct guard {
	struct pk_timer t;
	int fired;
};

static void guard_fire(struct pk_loop *loop, struct pk_timer *t)
{
	struct guard *g = t->data;

	g->fired = 1;
	pk_loop_stop(loop);
}

/* (Re-)arms the guard; g must start zeroed, the timer is initialised on first use. */
static void guard_arm(struct pk_loop *loop, struct guard *g, uint64_t ms)
{
	if (!g->t.fn)
		pk_timer_init(&g->t, guard_fire, g);
	g->fired = 0;
	CHECK_EQ_INT(pk_timer_arm(loop, &g->t, ms * MS), 0);
}

struct rec {
	int calls;
	uint32_t events;
	char got[16];
	size_t got_len;
	int stop;
};

static void rec_read(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct rec *r = io->data;

	r->calls++;
	r->events |= events;
	if (events & EPOLLIN) {
		ssize_t n = read(io->fd, r->got + r->got_len, sizeof(r->got) - r->got_len);

		if (n > 0)
			r->got_len += (size_t)n;
	}
	if (r->stop)
		pk_loop_stop(loop);
}

static void test_new_free(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct pk_io io;

	CHECK(loop != NULL);
	if (!loop)
		return;
	/* a bad fd is reported, not crashed on */
	pk_io_init(&io, 1000000, rec_read, NULL);
	CHECK_EQ_INT(pk_io_add(loop, &io, PK_READ), -EBADF);
	CHECK_EQ_INT(io.mask, 0);
	pk_loop_free(loop);
	pk_loop_free(NULL);
}

static void test_io_fires_on_pipe(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct guard g = { 0 };
	struct rec r = { .stop = 1 };
	struct pk_io io;
	int p[2];

	CHECK(loop != NULL);
	CHECK_EQ_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	pk_io_init(&io, p[0], rec_read, &r);
	CHECK_EQ_INT(io.fd, p[0]);
	CHECK_EQ_INT(pk_io_add(loop, &io, PK_READ), 0);
	CHECK_EQ_INT(io.mask, PK_READ);
	CHECK_EQ_INT(write(p[1], "ping", 4), 4);
	guard_arm(loop, &g, 2000);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 0);
	CHECK_EQ_INT(r.calls, 1);
	CHECK(r.events & EPOLLIN);
	CHECK_EQ_INT(r.got_len, 4);
	CHECK(memcmp(r.got, "ping", 4) == 0);
	/* nothing more to read: the loop now only wakes for the guard */
	r.stop = 0;
	guard_arm(loop, &g, 20);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 1);
	CHECK_EQ_INT(r.calls, 1);
	CHECK_EQ_INT(pk_io_del(loop, &io), p[0]);
	pk_timer_cancel(loop, &g.t);
	close(p[0]);
	close(p[1]);
	pk_loop_free(loop);
}

static void test_io_set_mask(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct guard g = { 0 };
	struct rec r = { .stop = 1 };
	struct pk_io io;
	int sv[2];

	CHECK(loop != NULL);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	pk_io_init(&io, sv[0], rec_read, &r);
	CHECK_EQ_INT(pk_io_add(loop, &io, 0), 0);

	/* mask 0: a writable socket does not wake the loop */
	guard_arm(loop, &g, 20);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 1);
	CHECK_EQ_INT(r.calls, 0);

	/* asking for writability makes it fire with EPOLLOUT */
	CHECK_EQ_INT(pk_io_set(loop, &io, PK_WRITE), 0);
	CHECK_EQ_INT(io.mask, PK_WRITE);
	CHECK_EQ_INT(pk_io_set(loop, &io, PK_WRITE), 0); /* unchanged: no-op */
	guard_arm(loop, &g, 2000);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 0);
	CHECK_EQ_INT(r.calls, 1);
	CHECK(r.events & EPOLLOUT);
	CHECK(!(r.events & EPOLLIN));

	/* switch to read: silent until the peer writes */
	CHECK_EQ_INT(pk_io_set(loop, &io, PK_READ), 0);
	CHECK_EQ_INT(io.mask, PK_READ);
	r.calls = 0;
	r.events = 0;
	guard_arm(loop, &g, 20);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 1);
	CHECK_EQ_INT(r.calls, 0);
	CHECK_EQ_INT(write(sv[1], "x", 1), 1);
	guard_arm(loop, &g, 2000);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 0);
	CHECK_EQ_INT(r.calls, 1);
	CHECK(r.events & EPOLLIN);
	CHECK(!(r.events & EPOLLOUT));
	CHECK_EQ_INT(r.got_len, 1);

	pk_timer_cancel(loop, &g.t);
	pk_io_del(loop, &io);
	/* a deleted watch ignores later mask changes */
	CHECK_EQ_INT(pk_io_set(loop, &io, PK_READ), 0);
	CHECK_EQ_INT(io.fd, -1);
	CHECK_EQ_INT(io.mask, 0);
	close(sv[0]);
	close(sv[1]);
	pk_loop_free(loop);
}

/* Two ready watches; whichever runs first deletes the other, whose event is already in the
 * same batch and must be skipped. */
struct pair {
	struct pk_io io[2];
	int calls[2];
	int fd_seen_deleted;
};

static void pair_fn(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pair *p = io->data;
	int me = io == &p->io[0] ? 0 : 1;
	struct pk_io *other = &p->io[1 - me];

	p->calls[me]++;
	if (other->fd >= 0) {
		pk_io_del(loop, other);
		p->fd_seen_deleted = other->fd == -1;
	}
	pk_io_del(loop, io);
}

static void stop_hook(struct pk_loop *loop, void *data)
{
	int *n = data;

	(*n)++;
	pk_loop_stop(loop);
}

static void test_io_del_skips_batch(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct pair p;
	int a[2], b[2], hooks = 0;

	CHECK(loop != NULL);
	memset(&p, 0, sizeof(p));
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	pk_io_init(&p.io[0], a[0], pair_fn, &p);
	pk_io_init(&p.io[1], b[0], pair_fn, &p);
	CHECK_EQ_INT(pk_io_add(loop, &p.io[0], PK_READ), 0);
	CHECK_EQ_INT(pk_io_add(loop, &p.io[1], PK_READ), 0);
	/* both readable before the loop starts: one epoll_wait returns both */
	CHECK_EQ_INT(write(a[1], "a", 1), 1);
	CHECK_EQ_INT(write(b[1], "b", 1), 1);
	pk_loop_set_before_sleep(loop, stop_hook, &hooks);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(hooks, 1);
	CHECK_EQ_INT(p.calls[0] + p.calls[1], 1);
	CHECK_EQ_INT(p.fd_seen_deleted, 1);
	CHECK_EQ_INT(p.io[0].fd, -1);
	CHECK_EQ_INT(p.io[1].fd, -1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	pk_loop_free(loop);
}

struct order {
	struct pk_timer t[3];
	int seq[8];
	int n;
	int last;
};

static void order_fire(struct pk_loop *loop, struct pk_timer *t)
{
	struct order *o = t->data;

	if (o->n < 8)
		o->seq[o->n++] = (int)(t - o->t);
	CHECK(!pk_timer_is_armed(t)); /* disarmed before its callback */
	if (o->n == o->last)
		pk_loop_stop(loop);
}

static void test_timers_fire_in_order(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct order o;
	struct guard g = { 0 };
	uint64_t t0;

	CHECK(loop != NULL);
	memset(&o, 0, sizeof(o));
	o.last = 3;
	for (int i = 0; i < 3; i++)
		pk_timer_init(&o.t[i], order_fire, &o);
	CHECK(!pk_timer_is_armed(&o.t[0]));
	t0 = pk_now_ns();
	CHECK_EQ_INT(pk_timer_arm(loop, &o.t[0], 30 * MS), 0);
	CHECK_EQ_INT(pk_timer_arm(loop, &o.t[1], 10 * MS), 0);
	CHECK_EQ_INT(pk_timer_arm(loop, &o.t[2], 20 * MS), 0);
	CHECK(pk_timer_is_armed(&o.t[0]));
	guard_arm(loop, &g, 2000);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 0);
	CHECK_EQ_INT(o.n, 3);
	CHECK_EQ_INT(o.seq[0], 1);
	CHECK_EQ_INT(o.seq[1], 2);
	CHECK_EQ_INT(o.seq[2], 0);
	CHECK(pk_now_ns() - t0 >= 30 * MS);
	pk_timer_cancel(loop, &g.t);
	pk_loop_free(loop);
}

static void test_timer_rearm_and_cancel(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct order o;
	struct guard g = { 0 };
	uint64_t t0;

	CHECK(loop != NULL);
	memset(&o, 0, sizeof(o));
	o.last = 2;
	for (int i = 0; i < 3; i++)
		pk_timer_init(&o.t[i], order_fire, &o);
	t0 = pk_now_ns();
	CHECK_EQ_INT(pk_timer_arm(loop, &o.t[0], 5 * MS), 0);
	CHECK_EQ_INT(pk_timer_arm(loop, &o.t[1], 20 * MS), 0);
	CHECK_EQ_INT(pk_timer_arm(loop, &o.t[2], 10 * MS), 0);
	/* re-arm t0 later than t1: it fires once, last */
	CHECK_EQ_INT(pk_timer_arm(loop, &o.t[0], 40 * MS), 0);
	/* cancel t2: it never fires; cancelling twice is harmless */
	pk_timer_cancel(loop, &o.t[2]);
	CHECK(!pk_timer_is_armed(&o.t[2]));
	pk_timer_cancel(loop, &o.t[2]);
	guard_arm(loop, &g, 2000);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 0);
	CHECK_EQ_INT(o.n, 2);
	CHECK_EQ_INT(o.seq[0], 1);
	CHECK_EQ_INT(o.seq[1], 0);
	CHECK(pk_now_ns() - t0 >= 40 * MS);
	/* nothing else pending: a short guard run sees no more timer callbacks */
	guard_arm(loop, &g, 60);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 1);
	CHECK_EQ_INT(o.n, 2);
	pk_loop_free(loop);
}

/* Many timers, some cancelled, some re-armed: they fire by deadline, each once. */
struct many {
	struct pk_timer t[64];
	uint64_t last_when;
	int fired[64];
	int out_of_order;
	int total;
};

static void many_fire(struct pk_loop *loop, struct pk_timer *t)
{
	struct many *m = t->data;

	if (t->when_ns < m->last_when)
		m->out_of_order++;
	m->last_when = t->when_ns;
	m->fired[t - m->t]++;
	m->total++;
}

static void test_timer_heap_many(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct many *m = calloc(1, sizeof(*m));
	struct guard g = { 0 };
	uint64_t x = 88172645463325252ull;
	int expect = 0;

	CHECK(loop != NULL && m != NULL);
	if (!loop || !m)
		goto out;
	for (int i = 0; i < 64; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pk_timer_init(&m->t[i], many_fire, m);
		CHECK_EQ_INT(pk_timer_arm(loop, &m->t[i], (x % 30) * MS), 0);
	}
	for (int i = 0; i < 64; i += 3)
		pk_timer_cancel(loop, &m->t[i]);
	for (int i = 1; i < 64; i += 5)
		CHECK_EQ_INT(pk_timer_arm(loop, &m->t[i], (uint64_t)(i % 7) * MS), 0);
	for (int i = 0; i < 64; i++)
		expect += pk_timer_is_armed(&m->t[i]);
	guard_arm(loop, &g, 100);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 1);
	CHECK_EQ_INT(m->total, expect);
	CHECK_EQ_INT(m->out_of_order, 0);
	for (int i = 0; i < 64; i++)
		CHECK_EQ_INT(m->fired[i], i % 3 == 0 && i % 5 != 1 ? 0 : 1);
out:
	free(m);
	pk_loop_free(loop);
}

struct hook_state {
	int hooks;
	int timer_fired_before_hook;
	int fired;
	int stop_after;
};

static void hook_count(struct pk_loop *loop, void *data)
{
	struct hook_state *h = data;

	h->hooks++;
	if (h->fired && !h->timer_fired_before_hook)
		h->timer_fired_before_hook = h->hooks;
	if (h->hooks >= h->stop_after)
		pk_loop_stop(loop);
}

static void hook_timer(struct pk_loop *loop, struct pk_timer *t)
{
	struct hook_state *h = t->data;

	h->fired++;
	/* keep the loop turning so that the hook runs after several batches */
	if (h->fired < 5)
		CHECK_EQ_INT(pk_timer_arm(loop, t, 1 * MS), 0);
}

static void test_before_sleep_and_stop(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct hook_state h = { .stop_after = 5 };
	struct pk_timer t;
	struct guard g = { 0 };

	CHECK(loop != NULL);
	pk_loop_set_before_sleep(loop, hook_count, &h);
	pk_timer_init(&t, hook_timer, &h);
	CHECK_EQ_INT(pk_timer_arm(loop, &t, 1 * MS), 0);
	guard_arm(loop, &g, 2000);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 0);
	CHECK_EQ_INT(h.hooks, 5); /* stopped by the hook, right after the 5th batch */
	CHECK(h.fired >= 1);
	CHECK(h.timer_fired_before_hook >= 1);

	/* the loop can be run again after a stop; without a hook it stops on the guard */
	pk_loop_set_before_sleep(loop, NULL, NULL);
	pk_timer_cancel(loop, &t);
	guard_arm(loop, &g, 10);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 1);
	CHECK_EQ_INT(h.hooks, 5);
	pk_loop_free(loop);
}

/* A hung-up socket is readable forever (level-triggered); parking it stops the spinning,
 * and pk_io_set() with a mask registers it again. */
struct parkrec {
	int calls;
	int park_err;
};

static void park_fn(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct parkrec *r = io->data;

	r->calls++;
	r->park_err = pk_io_park(loop, io);
}

static void test_park_and_reregister(void)
{
	struct pk_loop *loop = pk_loop_new();
	struct parkrec r = { 0 };
	struct pk_io io;
	struct guard g = { 0 };
	int sv[2];

	CHECK(loop != NULL);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]); /* peer gone: EPOLLIN|EPOLLHUP until handled */
	pk_io_init(&io, sv[0], park_fn, &r);
	CHECK_EQ_INT(pk_io_add(loop, &io, PK_READ), 0);
	guard_arm(loop, &g, 30);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(g.fired, 1);
	CHECK_EQ_INT(r.calls, 1); /* parked after the first call: no spinning */
	CHECK_EQ_INT(r.park_err, 0);
	CHECK(io.parked);
	CHECK_EQ_INT(io.fd, sv[0]); /* fd kept */
	CHECK_EQ_INT(io.mask, 0);
	CHECK_EQ_INT(pk_io_park(loop, &io), 0); /* parking twice is harmless */

	/* a zero mask keeps it parked */
	CHECK_EQ_INT(pk_io_set(loop, &io, 0), 0);
	CHECK(io.parked);
	guard_arm(loop, &g, 20);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(r.calls, 1);

	/* a non-zero mask registers it again: it fires (and parks itself) once more */
	CHECK_EQ_INT(pk_io_set(loop, &io, PK_READ), 0);
	CHECK(!io.parked);
	CHECK_EQ_INT(io.mask, PK_READ);
	guard_arm(loop, &g, 30);
	CHECK_EQ_INT(pk_loop_run(loop), 0);
	CHECK_EQ_INT(r.calls, 2);
	CHECK(io.parked);

	/* deleting a parked watch returns its fd and leaves it closed-over to the caller */
	CHECK_EQ_INT(pk_io_del(loop, &io), sv[0]);
	CHECK_EQ_INT(io.fd, -1);
	CHECK(!io.parked);
	CHECK_EQ_INT(pk_io_del(loop, &io), -1);
	close(sv[0]);
	pk_loop_free(loop);
}

int main(void)
{
	UNIT_RUN(test_new_free);
	UNIT_RUN(test_io_fires_on_pipe);
	UNIT_RUN(test_io_set_mask);
	UNIT_RUN(test_io_del_skips_batch);
	UNIT_RUN(test_timers_fire_in_order);
	UNIT_RUN(test_timer_rearm_and_cancel);
	UNIT_RUN(test_timer_heap_many);
	UNIT_RUN(test_before_sleep_and_stop);
	UNIT_RUN(test_park_and_reregister);
	return unit_done();
}
