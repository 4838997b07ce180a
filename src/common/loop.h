/* loop.h — a small epoll event loop: fd watches, one-shot timers, a before-sleep hook.
 *
 * Modelled on Redis's ae: the loop owns nothing but its epoll fd and timer heap.
 * Watches (struct pk_io) and timers (struct pk_timer) are embedded in the caller's
 * objects and owned by the caller.  Level-triggered.
 *
 * Freeing rule: an object whose watch fired may still have events queued later in
 * the same batch.  pk_io_del() marks the watch dead (fd = -1) so those events are
 * skipped; free the object only from the before-sleep hook (after the batch).
 */
#ifndef PK_COMMON_LOOP_H
#define PK_COMMON_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#define PK_READ EPOLLIN
#define PK_WRITE EPOLLOUT

struct pk_loop;
struct pk_io;
struct pk_timer;

typedef void (*pk_io_fn)(struct pk_loop *loop, struct pk_io *io, uint32_t events);
typedef void (*pk_timer_fn)(struct pk_loop *loop, struct pk_timer *t);
typedef void (*pk_hook_fn)(struct pk_loop *loop, void *data);

struct pk_io {
	int fd;	       /* -1 once deleted */
	uint32_t mask; /* PK_READ | PK_WRITE currently asked for */
	bool parked;   /* taken out of epoll by pk_io_park(); fd kept */
	pk_io_fn fn;
	void *data;
};

struct pk_timer {
	uint64_t when_ns;
	pk_timer_fn fn;
	void *data;
	int heap_idx; /* -1 when not armed */
};

/* Creates a loop; NULL with errno set on failure.  Caller frees with pk_loop_free(). */
struct pk_loop *pk_loop_new(void);

/* Frees the loop (not the watches or timers, which the caller owns). */
void pk_loop_free(struct pk_loop *loop);

/* Initialises a watch for fd (not yet registered). */
void pk_io_init(struct pk_io *io, int fd, pk_io_fn fn, void *data);

/* Registers io with the given mask (may be 0); returns 0 or -errno. */
int pk_io_add(struct pk_loop *loop, struct pk_io *io, uint32_t mask);

/* Changes the mask; no system call when it is unchanged.  Returns 0 or -errno. */
int pk_io_set(struct pk_loop *loop, struct pk_io *io, uint32_t mask);

/* Takes io out of epoll while keeping its fd, so that a hang-up that cannot be handled yet
 * (level-triggered EPOLLHUP ignores the mask) does not spin the loop.  The next pk_io_set()
 * with a non-zero mask registers it again.  Returns 0 or -errno. */
int pk_io_park(struct pk_loop *loop, struct pk_io *io);

/* Unregisters io and marks it dead (fd = -1); does not close the fd.  Returns the fd. */
int pk_io_del(struct pk_loop *loop, struct pk_io *io);

/* Unregisters io (as pk_io_del) and closes its fd, if it has one. */
void pk_io_close(struct pk_loop *loop, struct pk_io *io);

/* Initialises a timer (not armed). */
void pk_timer_init(struct pk_timer *t, pk_timer_fn fn, void *data);

/* Arms (or re-arms) t to fire once after delay_ns.  Returns 0 or -ENOMEM. */
int pk_timer_arm(struct pk_loop *loop, struct pk_timer *t, uint64_t delay_ns);

/* Disarms t if armed. */
void pk_timer_cancel(struct pk_loop *loop, struct pk_timer *t);

/* Tells whether t is armed. */
static inline bool pk_timer_is_armed(const struct pk_timer *t)
{
	return t->heap_idx >= 0;
}

/* Sets the hook run after each batch of events, before the loop sleeps. */
void pk_loop_set_before_sleep(struct pk_loop *loop, pk_hook_fn fn, void *data);

/* Runs until pk_loop_stop(); returns 0, or -errno if epoll_wait failed. */
int pk_loop_run(struct pk_loop *loop);

/* Makes pk_loop_run() return after the current batch. */
void pk_loop_stop(struct pk_loop *loop);

#endif
