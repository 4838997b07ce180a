/* loop.c — epoll loop with a binary min-heap of timers. */
#include "common/loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"

#define PK_LOOP_BATCH 256

struct pk_loop {
	int epfd;
	bool stop;
	struct pk_timer **heap;
	int heap_len;
	int heap_cap;
	pk_hook_fn before_sleep;
	void *before_sleep_data;
};

struct pk_loop *pk_loop_new(void)
{
	struct pk_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = errno;

		free(loop);
		errno = err;
		return NULL;
	}
	return loop;
}

void pk_loop_free(struct pk_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop->heap);
	free(loop);
}

void pk_io_init(struct pk_io *io, int fd, pk_io_fn fn, void *data)
{
	io->fd = fd;
	io->mask = 0;
	io->parked = false;
	io->fn = fn;
	io->data = data;
}

int pk_io_add(struct pk_loop *loop, struct pk_io *io, uint32_t mask)
{
	struct epoll_event ev = { .events = mask, .data.ptr = io };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0)
		return -errno;
	io->mask = mask;
	return 0;
}

int pk_io_set(struct pk_loop *loop, struct pk_io *io, uint32_t mask)
{
	struct epoll_event ev = { .events = mask, .data.ptr = io };

	if (io->fd < 0)
		return 0;
	if (io->parked) {
		if (mask == 0)
			return 0;
		io->parked = false;
		return pk_io_add(loop, io, mask);
	}
	if (io->mask == mask)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->mask = mask;
	return 0;
}

int pk_io_park(struct pk_loop *loop, struct pk_io *io)
{
	if (io->fd < 0 || io->parked)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0)
		return -errno;
	io->parked = true;
	io->mask = 0;
	return 0;
}

int pk_io_del(struct pk_loop *loop, struct pk_io *io)
{
	int fd = io->fd;

	if (fd >= 0 && !io->parked)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	io->fd = -1;
	io->mask = 0;
	io->parked = false;
	return fd;
}

void pk_io_close(struct pk_loop *loop, struct pk_io *io)
{
	int fd = pk_io_del(loop, io);

	if (fd >= 0)
		close(fd);
}

void pk_timer_init(struct pk_timer *t, pk_timer_fn fn, void *data)
{
	t->when_ns = 0;
	t->fn = fn;
	t->data = data;
	t->heap_idx = -1;
}

static void heap_swap(struct pk_loop *loop, int a, int b)
{
	struct pk_timer *ta = loop->heap[a];

	loop->heap[a] = loop->heap[b];
	loop->heap[b] = ta;
	loop->heap[a]->heap_idx = a;
	loop->heap[b]->heap_idx = b;
}

static void heap_up(struct pk_loop *loop, int i)
{
	while (i > 0) {
		int parent = (i - 1) / 2;

		if (loop->heap[parent]->when_ns <= loop->heap[i]->when_ns)
			break;
		heap_swap(loop, i, parent);
		i = parent;
	}
}

static void heap_down(struct pk_loop *loop, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;

		if (l < loop->heap_len && loop->heap[l]->when_ns < loop->heap[m]->when_ns)
			m = l;
		if (r < loop->heap_len && loop->heap[r]->when_ns < loop->heap[m]->when_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(loop, i, m);
		i = m;
	}
}

void pk_timer_cancel(struct pk_loop *loop, struct pk_timer *t)
{
	int i = t->heap_idx;

	if (i < 0)
		return;
	t->heap_idx = -1;
	loop->heap_len--;
	if (i == loop->heap_len)
		return;
	loop->heap[i] = loop->heap[loop->heap_len];
	loop->heap[i]->heap_idx = i;
	heap_up(loop, i);
	heap_down(loop, loop->heap[i]->heap_idx);
}

int pk_timer_arm(struct pk_loop *loop, struct pk_timer *t, uint64_t delay_ns)
{
	pk_timer_cancel(loop, t);
	if (loop->heap_len == loop->heap_cap) {
		int cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
		struct pk_timer **h = realloc(loop->heap, (size_t)cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		loop->heap = h;
		loop->heap_cap = cap;
	}
	t->when_ns = pk_now_ns() + delay_ns;
	t->heap_idx = loop->heap_len;
	loop->heap[loop->heap_len++] = t;
	heap_up(loop, t->heap_idx);
	return 0;
}

void pk_loop_set_before_sleep(struct pk_loop *loop, pk_hook_fn fn, void *data)
{
	loop->before_sleep = fn;
	loop->before_sleep_data = data;
}

void pk_loop_stop(struct pk_loop *loop)
{
	loop->stop = true;
}

/* Milliseconds until the next timer, rounded up; -1 when none is armed. */
static int next_timeout_ms(struct pk_loop *loop)
{
	uint64_t now, when;

	if (loop->heap_len == 0)
		return -1;
	now = pk_now_ns();
	when = loop->heap[0]->when_ns;
	if (when <= now)
		return 0;
	if (when - now > (uint64_t)INT_MAX * 1000000ull)
		return INT_MAX;
	return (int)((when - now + 999999) / 1000000);
}

static void run_timers(struct pk_loop *loop)
{
	uint64_t now = pk_now_ns();

	while (loop->heap_len > 0 && loop->heap[0]->when_ns <= now) {
		struct pk_timer *t = loop->heap[0];

		pk_timer_cancel(loop, t);
		t->fn(loop, t);
	}
}

int pk_loop_run(struct pk_loop *loop)
{
	struct epoll_event evs[PK_LOOP_BATCH];

	loop->stop = false;
	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, evs, PK_LOOP_BATCH, next_timeout_ms(loop));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct pk_io *io = evs[i].data.ptr;

			if (io->fd < 0)
				continue;
			io->fn(loop, io, evs[i].events);
		}
		run_timers(loop);
		if (loop->before_sleep)
			loop->before_sleep(loop, loop->before_sleep_data);
	}
	return 0;
}
