/* pair.c — the aggregator's pairing: the k-th connection a clone opens to the debug side gets
 * the responses production's k-th backend connection received.
 *
 *   production conn k ──► session (seq k) ──► dconn (seq k) ◄── clone conn k
 *
 * Whichever side comes first makes the dconn and waits on pair_wait (in seq order, so the
 * side that is ahead always has its oldest waiter at the head); the other side's k-th arrival
 * takes it.  A production connection that ended and found no clone connection within
 * pair_timeout is dropped (counted as unpaired); a clone connection whose production partner
 * already desynced is closed at once, as dup closes a clone that fell out of sync.
 * Ordering needs a single accept loop: the aggregator runs one worker.
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define PAIR_SCAN_NS (200 * 1000000ull)

/* Takes the waiter with sequence number seq off pair_wait, dropping none; NULL when it is gone
 * (it desynced or expired). */
static struct dconn *take_waiter(struct pk_worker *w, uint64_t seq)
{
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &w->pair_wait)
	{
		struct dconn *d = pk_container_of(pos, struct dconn, pair_link);

		if (d->seq == seq) {
			pk_list_del(&d->pair_link);
			return d;
		}
		if (d->seq > seq)
			break;
	}
	return NULL;
}

/* Applies a pairing reset asked for since the last accept: production connections still
 * waiting for their clone connection are dropped (unpaired), and both sides count from 1 again.
 * Connections already paired go on. */
static void check_reset(struct pk_worker *w)
{
	uint64_t epoch = __atomic_load_n(&w->p->pair_epoch, __ATOMIC_ACQUIRE);
	struct pk_list *pos, *tmp;

	if (epoch == w->pair_epoch)
		return;
	w->pair_epoch = epoch;
	pk_list_for_each_safe(pos, tmp, &w->pair_wait)
	{
		struct dconn *d = pk_container_of(pos, struct dconn, pair_link);

		if (d->io.fd < 0) /* a production connection nobody will take now */
			PK_STAT_ADD(w->targets[0].unpaired, 1);
		pk_dconn_drop(d);
	}
	w->prod_seq = w->dbg_seq = 0;
}

void pk_pair_session(struct pk_worker *w, struct session *s)
{
	uint64_t k;
	struct dconn *d;

	check_reset(w);
	k = ++w->prod_seq;
	if (k <= w->dbg_seq) { /* the clone's k-th connection is already here (or was) */
		d = take_waiter(w, k);
		if (!d) {
			PK_STAT_ADD(w->targets[0].unpaired, 1);
			return;
		}
		d->s = s;
		d->id = s->id;
		s->dbg[0] = d;
		return;
	}
	d = pk_dconn_new(w, s, 0);
	if (!d)
		return;
	d->seq = k;
	s->dbg[0] = d;
	pk_list_add_tail(&w->pair_wait, &d->pair_link);
}

/* A clone connection arrived on the debug side. */
static void pair_clone(struct pk_worker *w, int fd)
{
	uint64_t j;
	struct dconn *d;

	check_reset(w);
	j = ++w->dbg_seq;
	if (j <= w->prod_seq) {
		d = take_waiter(w, j);
		if (!d) {
			pk_log(PK_LOG_WARN,
			       "%s: clone connection #%llu: its production connection is already "
			       "out of sync; closing it",
			       w->cfg->role, (unsigned long long)j);
			PK_STAT_ADD(w->targets[0].desyncs, 1);
			close(fd);
			return;
		}
		pk_dconn_attach_fd(d, fd);
		return;
	}
	d = pk_dconn_new(w, NULL, 0);
	if (!d) {
		close(fd);
		return;
	}
	d->seq = j;
	pk_list_add_tail(&w->pair_wait, &d->pair_link);
	pk_dconn_attach_fd(d, fd); /* reads (and compares) the clone's requests meanwhile */
}

static void on_debug_accept(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_worker *w = io->data;

	for (int i = 0; i < 64; i++) {
		int fd = pk_sock_accept(io->fd, NULL);

		if (fd < 0) {
			if (fd != -EAGAIN && fd != -EINTR && fd != -ECONNABORTED)
				pk_log(PK_LOG_WARN, "%s: debug side accept: %s", w->cfg->role,
				       strerror(-fd));
			return;
		}
		pair_clone(w, fd);
	}
}

/* Drops production connections that ended and waited for their clone longer than allowed. */
static void pair_scan(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_worker *w = t->data;
	uint64_t now = pk_now_ns();
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &w->pair_wait)
	{
		struct dconn *d = pk_container_of(pos, struct dconn, pair_link);

		if (d->io.fd < 0 && !d->s && d->ended_ns &&
		    now - d->ended_ns > w->cfg->pair_timeout_ns) {
			pk_log(PK_LOG_INFO,
			       "%s: conn=%llu: no clone connection #%llu within the pair timeout; "
			       "dropping its responses",
			       w->cfg->role, (unsigned long long)d->id, (unsigned long long)d->seq);
			PK_STAT_ADD(w->targets[0].unpaired, 1);
			pk_dconn_drop(d);
		}
	}
	pk_timer_arm(loop, t, PAIR_SCAN_NS);
}

int pk_pair_init(struct pk_worker *w)
{
	int err;

	pk_timer_init(&w->pair_timer, pair_scan, w);
	pk_io_init(&w->dlio, w->dlio.fd, on_debug_accept, w);
	w->pairing = true;
	err = pk_io_add(w->loop, &w->dlio, PK_READ);
	if (err)
		return err;
	return pk_timer_arm(w->loop, &w->pair_timer, PAIR_SCAN_NS);
}

void pk_pair_release(struct pk_worker *w)
{
	pk_io_close(w->loop, &w->dlio);
	if (w->pairing)
		pk_timer_cancel(w->loop, &w->pair_timer);
	w->pairing = false;
}
