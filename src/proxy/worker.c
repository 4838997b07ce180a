/* worker.c — one worker thread: the production path (accept, connect, forward both ways,
 * back-pressure, half-close) and its graceful stop.  Debug targets are fed through target.c.
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_NS (100 * 1000000ull)
#define CAPACITY_POLL_NS                                                                           \
	(10 * 1000000ull) /* at capacity: how often room freed by another                          \
			     worker is looked for */
#define GAUGE_PERIOD_NS (100 * 1000000ull)

static void session_close(struct session *s);

/* Recomputes the epoll interest of both sides of s from its state. */
static void session_update(struct session *s)
{
	struct pk_loop *loop = s->w->loop;
	uint32_t cmask = 0, pmask = 0;
	bool sync_wait = false;
	int err;

	if (s->closing)
		return;
	if (s->w->cfg->mode == PK_PROXY_SYNC)
		for (int i = 0; i < s->w->cfg->ntargets; i++)
			if (s->dbg[i] && pk_dconn_pending(s->dbg[i]))
				sync_wait = true;
	if (!s->prod_connected) {
		pmask = PK_WRITE;
	} else {
		if (!s->c_eof && pk_ring_used(&s->c2p) == 0 && !sync_wait)
			cmask |= PK_READ;
		if (!s->p_eof && pk_ring_used(&s->p2c) == 0)
			pmask |= PK_READ;
		if (pk_ring_used(&s->c2p))
			pmask |= PK_WRITE;
		if (pk_ring_used(&s->p2c))
			cmask |= PK_WRITE;
	}
	err = pk_io_set(loop, &s->cio, cmask);
	if (!err)
		err = pk_io_set(loop, &s->pio, pmask);
	if (err) { /* its events can no longer be followed */
		pk_log(PK_LOG_WARN, "%s: conn=%llu epoll: %s; closing", s->w->cfg->role,
		       (unsigned long long)s->id, strerror(-err));
		session_close(s);
	}
}

/* Writes buf to fd; what does not fit goes to q.  Returns 0 or -errno (connection broken). */
static int forward(int fd, struct pk_ring *q, const char *buf, size_t n)
{
	ssize_t w = write(fd, buf, n);

	if (w < 0) {
		if (errno != EAGAIN)
			return -errno;
		w = 0;
	}
	if ((size_t)w < n)
		return pk_ring_write(q, buf + w, n - (size_t)w);
	return 0;
}

/* Writes as much of q to fd as it takes.  Returns 0 or -errno. */
static int flush_queue(int fd, struct pk_ring *q)
{
	while (pk_ring_used(q)) {
		struct iovec iov[2];
		int segs = pk_ring_peek(q, iov);
		ssize_t w = writev(fd, iov, segs);

		if (w < 0)
			return errno == EAGAIN ? 0 : -errno;
		pk_ring_consume(q, (size_t)w);
	}
	return 0;
}

/* Once a side has sent EOF and its queue toward the peer is empty, pass the EOF on. */
static void pass_eofs(struct session *s)
{
	if (s->c_eof && !s->c2p_shut && pk_ring_used(&s->c2p) == 0 && s->prod_connected) {
		shutdown(s->pio.fd, SHUT_WR);
		s->c2p_shut = true;
	}
	if (s->p_eof && !s->p2c_shut && pk_ring_used(&s->p2c) == 0) {
		shutdown(s->cio.fd, SHUT_WR);
		s->p2c_shut = true;
	}
	if (s->c_eof && s->p_eof && pk_ring_used(&s->c2p) == 0 && pk_ring_used(&s->p2c) == 0)
		session_close(s);
}

/* Tells whether s's client bytes go to target i: to every target, or with --balance to its
 * one. */
static bool session_feeds(const struct session *s, int i)
{
	const struct pk_proxy_config *cfg = s->w->cfg;

	return !cfg->balance || cfg->agg || s->assigned == i;
}

/* Appends a client chunk to every clone of s.  A clone that is out of sync on this connection
 * (never attached, or desynced) gets nothing — unless resync is on and a request starts in this
 * chunk: then it is attached again from that request on. */
static void duplicate(struct session *s, const char *buf, size_t n)
{
	struct pk_worker *w = s->w;
	ssize_t start = -1;

	if (w->cfg->resync != PK_PROTO_NONE)
		start = pk_framer_feed(&s->framer, buf, n); /* fed always, to stay in step */
	pk_ccmp_request(s->ccmp, buf, n);
	for (int i = 0; i < w->cfg->ntargets; i++) {
		struct target_stats *ts = &w->targets[i];

		if (!session_feeds(s, i)) /* --balance: another target's connection */
			continue;
		if (!s->dbg[i] && start >= 0 && pk_now_ns() >= s->rejoin_after[i]) {
			s->dbg[i] = pk_dconn_open(w, s, i);
			if (s->dbg[i]) {
				pk_dconn_compare_skip(s->dbg[i]);
				PK_STAT_ADD(ts->rejoins, 1);
				PK_STAT_ADD(ts->bytes_dropped, start);
				pk_dconn_append(s->dbg[i], buf + start, n - (size_t)start);
				continue;
			}
		}
		if (s->dbg[i])
			pk_dconn_append(s->dbg[i], buf, n);
		else /* this clone is out of sync on this connection */
			PK_STAT_ADD(ts->bytes_dropped, n);
	}
}

/* Tells every debug connection of s what production's side sent (what the clone's output
 * mirrors: counted for the close rule, compared with --compare). */
static void prod_output(struct session *s, const char *buf, size_t n)
{
	for (int i = 0; i < s->w->cfg->ntargets; i++)
		if (s->dbg[i])
			pk_dconn_prod_output(s->dbg[i], buf, n);
	pk_ccmp_prod(s->ccmp, buf, n);
}

/* Reads once from one side of s and forwards to the other.  The duplicated side's bytes (the
 * client's for dup, the backend's for agg) are also appended to every debug connection of s;
 * the other side's are what the clone's output is compared with.  Whatever the other side
 * can't take now is queued. */
static void side_read(struct session *s, bool from_client)
{
	struct pk_worker *w = s->w;
	int ntargets = w->cfg->ntargets;
	int from = from_client ? s->cio.fd : s->pio.fd, to = from_client ? s->pio.fd : s->cio.fd;
	struct pk_ring *q = from_client ? &s->c2p : &s->p2c;
	uint64_t *forwarded = from_client ? &w->bytes_c2p : &w->bytes_p2c;
	const char *side = from_client ? "client" : "production";
	bool dup_side = from_client != w->cfg->agg;
	ssize_t n = read(from, w->scratch, sizeof(w->scratch));
	int err;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		pk_log(PK_LOG_DEBUG, "%s: conn=%llu %s read: %s", w->cfg->role,
		       (unsigned long long)s->id, side, strerror(errno));
		session_close(s);
		return;
	}
	if (n == 0) {
		if (from_client) {
			s->c_eof = true;
		} else {
			s->p_eof = true;
			pk_ccmp_prod_end(s->ccmp);
		}
		if (dup_side)
			for (int i = 0; i < ntargets; i++)
				if (s->dbg[i])
					pk_dconn_detach(s->dbg[i]);
		if (w->recq)
			pk_rec_fin(w->recq, &s->rec, from_client);
		pass_eofs(s);
		session_update(s);
		return;
	}
	if (w->cfg->agg && !s->carried && s->dbg[0])
		pk_pair_first_bytes(w, s->dbg[0], from_client, w->scratch, (size_t)n);
	s->carried = true;
	PK_STAT_ADD(*forwarded, n);
	err = forward(to, q, w->scratch, (size_t)n);
	if (dup_side)
		duplicate(s, w->scratch, (size_t)n);
	else
		prod_output(s, w->scratch, (size_t)n);
	if (w->recq)
		pk_rec_data(w->recq, &s->rec, from_client, w->scratch, (size_t)n);
	if (err) {
		pk_log(PK_LOG_DEBUG, "%s: conn=%llu write toward the %s: %s", w->cfg->role,
		       (unsigned long long)s->id, from_client ? "production" : "client",
		       strerror(-err));
		session_close(s);
		return;
	}
	session_update(s);
}

/* Opens the debug connections of s: one per target, or with --balance one, to the target
 * with the fewest debug connections open. */
static void open_debug(struct session *s)
{
	struct pk_worker *w = s->w;
	int n = w->cfg->ntargets;

	if (w->cfg->balance && n > 0) {
		s->assigned = pk_balance_pick(&w->p->balance, n);
		pk_balance_hold(&w->p->balance, s->assigned); /* until s ends: session_close() */
		pk_log(PK_LOG_DEBUG, "%s: conn=%llu balanced to target=%s", w->cfg->role,
		       (unsigned long long)s->id, w->p->target_names[s->assigned]);
	}
	for (int i = 0; i < n; i++) {
		if (!session_feeds(s, i))
			continue;
		PK_STAT_ADD(w->targets[i].assigned, 1);
		s->dbg[i] = pk_dconn_open(w, s, i);
	}
	s->ccmp = pk_ccmp_start(w, s->id, s->dbg); /* --compare PROTO */
	for (int i = 0; i < n; i++)
		if (pk_ccmp_has(s->ccmp, i))
			pk_dconn_set_compare(s->dbg[i], s->ccmp);
}

/* Production connect finished (writable for the first time). */
static void prod_connected(struct session *s)
{
	struct pk_worker *w = s->w;
	int err = pk_sock_error(s->pio.fd);

	if (err) {
		PK_STAT_ADD(w->prod_connect_failures, 1);
		pk_log(PK_LOG_WARN, "%s: conn=%llu production %s: connect: %s; closing client",
		       w->cfg->role, (unsigned long long)s->id, w->prod_name, strerror(-err));
		session_close(s);
		return;
	}
	s->prod_connected = true;
	if (!w->cfg->agg) /* agg paired its debug side at accept */
		open_debug(s);
	session_update(s);
}

/* Handles the events of one side of s (io): writes out what is queued toward it (outq),
 * then reads from it.  A hang-up that can't be read yet is parked, not spun on. */
static void side_event(struct session *s, struct pk_io *io, struct pk_ring *outq, bool client,
		       uint32_t events)
{
	if ((events & PK_WRITE) && pk_ring_used(outq)) {
		if (flush_queue(io->fd, outq)) {
			session_close(s);
			return;
		}
		pass_eofs(s);
		session_update(s);
	}
	if (s->closing)
		return;
	if ((events & (PK_READ | EPOLLHUP | EPOLLERR)) && (io->mask & PK_READ))
		side_read(s, client);
	else if (events & EPOLLERR)
		session_close(s);
	else if ((events & EPOLLHUP) && pk_io_park(s->w->loop, io) < 0)
		session_close(s); /* a hang-up that can be neither read nor parked would spin */
}

static void client_event(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct session *s = io->data;

	side_event(s, io, &s->p2c, true, events);
}

static void prod_event(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct session *s = io->data;

	if (!s->prod_connected) {
		if (events & (PK_WRITE | EPOLLERR | EPOLLHUP))
			prod_connected(s);
		return;
	}
	side_event(s, io, &s->c2p, false, events);
}

/* Called by target.c when a dconn of s drained: in sync mode the client may read again. */
void pk_session_debug_drained(struct session *s)
{
	session_update(s);
}

void pk_session_dconn_gone(struct session *s, int i)
{
	s->dbg[i] = NULL;
	s->rejoin_after[i] = pk_now_ns() + s->w->cfg->resync_backoff_ns;
	session_update(s);
}

/* Closes both production-side sockets of s; its dconns go on alone.  Freed when reaped. */
static void session_close(struct session *s)
{
	struct pk_worker *w = s->w;

	if (s->closing)
		return;
	PK_BUG_ON(w->conns_active == 0);
	s->closing = true;
	if (w->cfg->agg && !s->carried && s->dbg[0]) /* a probe: never paired */
		pk_dconn_drop(s->dbg[0]);
	if (s->assigned >= 0) { /* --balance: the count goes on with the clone's connection */
		if (s->dbg[s->assigned])
			pk_dconn_take_balance(s->dbg[s->assigned]);
		else
			pk_balance_release(&w->p->balance, s->assigned);
	}
	for (int i = 0; i < w->cfg->ntargets; i++) {
		struct dconn *d = s->dbg[i];

		if (!d)
			continue;
		s->dbg[i] = NULL;
		pk_dconn_session_gone(d);
	}
	if (w->recq)
		pk_rec_conn_close(w->recq, &s->rec);
	pk_ccmp_prod_end(s->ccmp); /* production's side of it is over */
	pk_ccmp_put(s->ccmp);
	s->ccmp = NULL;
	pk_io_close(w->loop, &s->cio);
	pk_io_close(w->loop, &s->pio);
	pk_list_del(&s->link);
	pk_list_add_tail(&w->dead_sessions, &s->link);
	PK_STAT_ADD(w->conns_active, -1);
}

static void session_free(struct session *s)
{
	pk_cap_release(s->w->p, s->charge);
	pk_ring_release(&s->c2p);
	pk_ring_release(&s->p2c);
	free(s);
}

/* Opens a session around the accepted client fd cfd, which holds one connection's charge
 * of the capacity (the session's from now on). */
static void session_open(struct pk_worker *w, int cfd, const struct pk_addr *peer)
{
	struct session *s = calloc(1, sizeof(*s));
	int pfd;

	if (!s) {
		pk_log(PK_LOG_ERROR, "%s: out of memory for a session", w->cfg->role);
		close(cfd);
		pk_cap_release(w->p, w->p->cap.cost);
		return;
	}
	s->id = __atomic_add_fetch(&w->p->next_id, 1, __ATOMIC_RELAXED);
	s->w = w;
	s->charge = w->p->cap.cost;
	s->assigned = -1;
	pk_ring_init(&s->c2p, PK_SCRATCH_SIZE);
	pk_ring_init(&s->p2c, PK_SCRATCH_SIZE);
	pk_framer_init(&s->framer, w->cfg->resync);
	pk_list_init(&s->link);
	pk_list_add_tail(&w->sessions, &s->link);
	PK_STAT_ADD(w->conns_accepted, 1);
	PK_STAT_ADD(w->conns_active, 1);
	pk_io_init(&s->cio, cfd, client_event, s);
	pk_io_init(&s->pio, -1, prod_event, s);
	if (w->recq)
		pk_rec_conn_open(w->recq, &s->rec, s->id, &peer->ss, &w->cfg->prod.ss);
	if (w->cfg->agg)
		s->dbg[0] = pk_pair_open(w, s);
	if (pk_io_add(w->loop, &s->cio, 0) < 0) {
		close(cfd);
		s->cio.fd = -1;
		session_close(s);
		return;
	}
	pfd = pk_sock_connect(&w->cfg->prod);
	if (pfd < 0) {
		PK_STAT_ADD(w->prod_connect_failures, 1);
		pk_log(PK_LOG_WARN, "%s: conn=%llu production %s: connect: %s; closing client",
		       w->cfg->role, (unsigned long long)s->id, w->prod_name, strerror(-pfd));
		session_close(s);
		return;
	}
	s->pio.fd = pfd;
	if (pk_io_add(w->loop, &s->pio, PK_WRITE) < 0) {
		session_close(s);
		return;
	}
}

/* Stops polling the listener for delay_ns (then accept_resume() looks again): new clients
 * wait in the listen backlog meanwhile.  at_capacity: room made by this worker's own closes
 * resumes it earlier (before_sleep).  If even the timer can't be armed, the listener stays on
 * (a spinning accept is better than one never resumed). */
static void accept_pause(struct pk_worker *w, uint64_t delay_ns, bool at_capacity)
{
	int err = pk_timer_arm(w->loop, &w->accept_timer, delay_ns);

	if (err) {
		pk_log(PK_LOG_ERROR, "%s: worker %d: accept pause timer: %s", w->cfg->role, w->idx,
		       strerror(-err));
		return;
	}
	err = pk_io_set(w->loop, &w->lio, 0);
	if (err) {
		pk_log(PK_LOG_ERROR, "%s: worker %d: pausing accept: %s", w->cfg->role, w->idx,
		       strerror(-err));
		pk_timer_cancel(w->loop, &w->accept_timer);
		return;
	}
	w->at_capacity = at_capacity;
}

/* Polls the listener again if one more connection fits now; else pauses again (room may come
 * from another worker, which does not wake this one). */
static void accept_resume(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_worker *w = t->data;
	int err;

	if (w->draining)
		return;
	if (!pk_cap_has_room(w->p)) {
		accept_pause(w, CAPACITY_POLL_NS, true);
		return;
	}
	err = pk_io_set(loop, &w->lio, PK_READ);
	if (err) {
		pk_log(PK_LOG_ERROR, "%s: worker %d: resuming accept: %s", w->cfg->role, w->idx,
		       strerror(-err));
		accept_pause(w, ACCEPT_PAUSE_NS, false);
		return;
	}
	w->at_capacity = false;
	pk_timer_cancel(loop, &w->accept_timer);
}

/* The next connection would not fit the open-files capacity: leave it in the backlog. */
static void accept_at_capacity(struct pk_worker *w)
{
	uint64_t n = PK_STAT_GET(w->accept_pauses) + 1;

	PK_STAT_SET(w->accept_pauses, n);
	pk_log(n == 1 ? PK_LOG_WARN : PK_LOG_DEBUG,
	       "%s: worker %d: at capacity (%llu client connections for the open-files limit "
	       "%llu); new connections wait in the listen backlog until some close",
	       w->cfg->role, w->idx, (unsigned long long)w->p->cap.conns,
	       (unsigned long long)w->p->cap.nofile);
	accept_pause(w, CAPACITY_POLL_NS, true);
}

static void on_accept(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_worker *w = io->data;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct pk_addr peer;
		int fd;

		if (!pk_cap_take(w->p)) {
			accept_at_capacity(w);
			return;
		}
		fd = pk_sock_accept(io->fd, &peer);
		if (fd < 0)
			pk_cap_release(w->p, w->p->cap.cost);
		if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED)
			return;
		if (fd < 0) {
			/* Out of fds or memory: stop accepting for a moment instead of spinning. */
			pk_log(PK_LOG_WARN, "%s: accept: %s; pausing 100 ms", w->cfg->role,
			       strerror(-fd));
			accept_pause(w, ACCEPT_PAUSE_NS, false);
			return;
		}
		session_open(w, fd, &peer);
	}
}

/* Tells whether some production bytes are still queued inside this worker. */
static bool prod_bytes_queued(struct pk_worker *w)
{
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &w->sessions)
	{
		struct session *s = pk_container_of(pos, struct session, link);

		if (pk_ring_used(&s->c2p) || pk_ring_used(&s->p2c))
			return true;
	}
	return false;
}

static void drain_timeout(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_worker *w = t->data;

	pk_log(PK_LOG_WARN, "%s: worker %d: drain time is up; closing with bytes still queued",
	       w->cfg->role, w->idx);
	pk_loop_stop(loop);
}

/* The main thread asked this worker to stop: no more accepts, drain, then leave the loop. */
static void on_stop(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_worker *w = io->data;
	uint64_t v;

	if (read(io->fd, &v, sizeof(v)) != sizeof(v) || w->draining)
		return;
	w->draining = true;
	pk_timer_cancel(loop, &w->accept_timer);
	pk_io_close(loop, &w->lio);
	if (pk_timer_arm(loop, &w->drain_timer, w->cfg->drain_ns) < 0) {
		pk_log(PK_LOG_ERROR, "%s: worker %d: no drain timer; stopping without draining",
		       w->cfg->role, w->idx);
		pk_loop_stop(loop);
	}
}

void pk_worker_publish(struct pk_worker *w)
{
	pk_dconn_publish(w, pk_now_ns());
}

static void gauge_tick(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_worker *w = t->data;

	pk_worker_publish(w);
	if (w->idx == 0)
		pk_dconn_adapt(w);
	if (pk_timer_arm(loop, t, GAUGE_PERIOD_NS) < 0) /* then published at each scrape only */
		pk_log(PK_LOG_ERROR,
		       "%s: worker %d: gauge timer: out of memory; lag and spill "
		       "gauges stop updating",
		       w->cfg->role, w->idx);
}

static void before_sleep(struct pk_loop *loop, void *data)
{
	struct pk_worker *w = data;
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &w->dead_sessions)
	{
		pk_list_del(pos);
		session_free(pk_container_of(pos, struct session, link));
	}
	pk_dconn_reap(w);
	pk_pair_reap(w);
	if (w->at_capacity && pk_cap_has_room(w->p)) /* this worker's closes made room */
		accept_resume(loop, &w->accept_timer);
	if (w->draining && !prod_bytes_queued(w))
		pk_loop_stop(loop);
}

int pk_worker_init(struct pk_worker *w, struct pk_proxy *p, int idx, int lfd, int dlfd)
{
	int efd, err;

	w->p = p;
	w->cfg = &p->cfg;
	w->prod_name = p->prod_name;
	w->idx = idx;
	w->recq = p->rec ? pk_rec_queue(p->rec, idx) : NULL;
	pk_io_init(&w->dlio, dlfd, NULL, w); /* agg: armed by pk_pair_init() */
	pk_list_init(&w->sessions);
	pk_list_init(&w->dead_sessions);
	pk_list_init(&w->dirty);
	pk_list_init(&w->dead_dconns);
	for (int i = 0; i < PK_PROXY_MAX_TARGETS; i++) {
		pk_list_init(&w->targets[i].conns);
		w->targets[i].pub_window_ns = UINT64_MAX; /* no connection: no predicted overflow */
	}
	pk_timer_init(&w->flush_timer, pk_dconn_flush_timer, w);
	pk_timer_init(&w->accept_timer, accept_resume, w);
	pk_timer_init(&w->drain_timer, drain_timeout, w);
	pk_timer_init(&w->gauge_timer, gauge_tick, w);
	pk_io_init(&w->lio, lfd, on_accept, w);
	pk_io_init(&w->stopio, -1, on_stop, w);
	w->loop = pk_loop_new();
	if (!w->loop) {
		err = -errno;
		close(lfd);
		w->lio.fd = -1;
		if (dlfd >= 0)
			close(dlfd);
		w->dlio.fd = -1;
		return err;
	}
	pk_loop_set_before_sleep(w->loop, before_sleep, w);
	err = pk_io_add(w->loop, &w->lio, PK_READ);
	if (err)
		return err;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -errno;
	w->stopio.fd = efd;
	err = pk_io_add(w->loop, &w->stopio, PK_READ);
	if (err)
		return err;
	if (dlfd >= 0 && (err = pk_pair_init(w)))
		return err;
	/* the gauges, and the debug window behind --window-warn, even without an admin */
	return pk_timer_arm(w->loop, &w->gauge_timer, GAUGE_PERIOD_NS);
}

static void *worker_main(void *arg)
{
	struct pk_worker *w = arg;
	int err = pk_loop_run(w->loop);

	if (err)
		pk_log(PK_LOG_ERROR, "%s: worker %d: event loop: %s", w->cfg->role, w->idx,
		       strerror(-err));
	return NULL;
}

int pk_worker_start(struct pk_worker *w)
{
	int err = pthread_create(&w->thread, NULL, worker_main, w);

	if (err)
		return -err;
	w->started = true;
	return 0;
}

void pk_worker_stop(struct pk_worker *w)
{
	uint64_t one = 1;

	if (w->stopio.fd >= 0 && write(w->stopio.fd, &one, sizeof(one)) < 0)
		pk_log(PK_LOG_ERROR, "%s: worker %d: stop: %s", w->cfg->role, w->idx,
		       strerror(errno));
}

void pk_worker_release(struct pk_worker *w)
{
	struct pk_list *pos, *tmp;

	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
	if (!w->loop)
		return;
	pk_list_for_each_safe(pos, tmp, &w->sessions)
		session_close(pk_container_of(pos, struct session, link));
	pk_dconn_close_all(w);
	before_sleep(w->loop, w);
	pk_pair_release(w);
	pk_io_close(w->loop, &w->lio);
	pk_io_close(w->loop, &w->stopio);
	pk_timer_cancel(w->loop, &w->flush_timer);
	pk_timer_cancel(w->loop, &w->accept_timer);
	pk_timer_cancel(w->loop, &w->drain_timer);
	pk_timer_cancel(w->loop, &w->gauge_timer);
	pk_loop_free(w->loop);
	w->loop = NULL;
}
