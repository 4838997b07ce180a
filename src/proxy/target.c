/* target.c — debug connections: bounded buffers toward a clone, coalesced flushes,
 * desync on overflow, what the clone sends read and discarded (or compared with production's
 * stream), lag accounting.  Used by both configurations: dup connects to its clones, agg gives
 * a dconn the socket of a clone connection it accepted (pk_dconn_attach_fd).
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <linux/sockios.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define MARK_MERGE_NS 1000000ull /* appends within 1 ms share one lag mark */

static void dconn_flush(struct dconn *d);
static void dconn_update(struct dconn *d);
static void dconn_kill(struct dconn *d, bool desync, const char *reason);

static struct target_stats *stats_of(const struct dconn *d)
{
	return &d->w->targets[d->target];
}

/* What the clone sends on a connection: requests for agg, responses for dup. */
static const char *clone_stream(const struct dconn *d)
{
	return d->origin == PK_DCONN_ACCEPTED ? "requests" : "responses";
}

/* Logs the first difference between the clone's stream and production's, and writes it to
 * --compare-log as the divergence of the connection's one "request" (raw: the whole stream). */
static void compare_report(struct dconn *d)
{
	struct pk_rcmp_report r = {
		.conn = d->id, .verdict = PK_RCMP_DIFFERENT, .part = -1, .requests = 1
	};
	char reason[96];

	pk_log(PK_LOG_WARN,
	       "%s: diverged conn=%llu target=%s: the clone's %s differ from production's at byte "
	       "%llu",
	       d->w->cfg->role, (unsigned long long)d->id, d->w->p->target_names[d->target],
	       clone_stream(d), (unsigned long long)pk_scmp_diverge_offset(&d->cmp));
	snprintf(reason, sizeof(reason), "the %s differ at byte %llu", clone_stream(d),
		 (unsigned long long)pk_scmp_diverge_offset(&d->cmp));
	r.reason = reason;
	pk_compare_log_line(d->w, &r, d->target);
}

/* Stops d's comparison and frees what it held. */
static void compare_stop(struct dconn *d)
{
	pk_scmp_release(&d->cmp);
	d->cmp_on = false;
}

/* Counts the comparison's verdict as d ends.  Production's stream is complete once its session
 * is gone; a desynced connection was not compared to its end (unknown, unless it differed). */
static void compare_end(struct dconn *d, bool desync)
{
	enum pk_scmp_verdict v = pk_scmp_verdict(&d->cmp, d->s == NULL);

	if (desync && v == PK_SCMP_SAME)
		v = PK_SCMP_UNKNOWN;
	if (v == PK_SCMP_DIFFERENT && !d->cmp.diverged)
		compare_report(d); /* a length difference, seen only now */
	PK_STAT_ADD(stats_of(d)->cmp_verdicts[v], 1);
	compare_stop(d);
}

/* Feeds one side of d's comparison and reports a difference when it first shows. */
static void compare_feed(struct dconn *d, enum pk_scmp_side side, const char *buf, size_t n)
{
	bool before = d->cmp.diverged;
	uint64_t matched = d->cmp.matched;

	pk_scmp_feed(&d->cmp, side, buf, n);
	PK_STAT_ADD(stats_of(d)->cmp_bytes, d->cmp.matched - matched);
	if (!before && d->cmp.diverged)
		compare_report(d);
}

void pk_dconn_drop(struct dconn *d)
{
	if (d->cmp_on) /* never paired: nothing was compared, no verdict */
		compare_stop(d);
	dconn_kill(d, false, "unpaired");
}

void pk_dconn_set_compare(struct dconn *d, struct pk_conn_cmp *c)
{
	PK_BUG_ON(d->ccmp != NULL);
	d->ccmp = pk_ccmp_hold(c);
}

void pk_dconn_compare_skip(struct dconn *d)
{
	if (d->cmp_on)
		compare_end(d, true);
}

void pk_dconn_prod_output(struct dconn *d, const char *buf, size_t n)
{
	if (d->dead)
		return;
	d->prod_out += n;
	if (d->cmp_on)
		compare_feed(d, PK_SCMP_A, buf, n);
}

/* Removes d from the loop and its lists and queues it for freeing.  Bytes still buffered
 * are counted as dropped when desync is true. */
static void dconn_kill(struct dconn *d, bool desync, const char *reason)
{
	struct target_stats *ts = stats_of(d);
	struct session *s = d->s;
	uint64_t lost = pk_sbuf_used(&d->buf);
	int fd;

	if (d->dead)
		return;
	PK_BUG_ON(ts->buffered < lost || ts->conns_active == 0);
	d->dead = true;
	if (d->cmp_on)
		compare_end(d, desync);
	if (desync) /* what it had not answered yet, and all that follows, is not its doing */
		pk_ccmp_clone_lag(d->ccmp, d->target, reason);
	pk_ccmp_put(d->ccmp);
	d->ccmp = NULL;
	pk_pair_dconn_gone(d);
	pk_timer_cancel(d->w->loop, &d->grace_timer);
	if (desync) {
		PK_STAT_ADD(ts->desyncs, 1);
		PK_STAT_ADD(ts->bytes_dropped, lost);
		pk_log(PK_LOG_WARN,
		       "%s: desync conn=%llu target=%s offset=%llu reason=%s unsent=%llu",
		       d->w->cfg->role, (unsigned long long)d->id, d->w->p->target_names[d->target],
		       (unsigned long long)d->sent, reason, (unsigned long long)lost);
	}
	PK_STAT_ADD(ts->buffered, -lost);
	fd = pk_io_del(d->w->loop, &d->io);
	if (fd >= 0)
		close(fd);
	if (pk_list_linked(&d->dirty_link))
		pk_list_del(&d->dirty_link);
	pk_list_del(&d->target_link);
	PK_STAT_ADD(ts->conns_active, -1);
	if (d->balanced)
		pk_balance_release(&d->w->p->balance, d->target);
	pk_list_add_tail(&d->w->dead_dconns, &d->reap_link);
	if (s) {
		d->s = NULL;
		pk_session_dconn_gone(s, d->target);
	}
}

void pk_dconn_close(struct dconn *d)
{
	dconn_kill(d, false, "shutdown");
}

void pk_dconn_reap(struct pk_worker *w)
{
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &w->dead_dconns)
	{
		struct dconn *d = pk_container_of(pos, struct dconn, reap_link);

		pk_list_del(pos);
		pk_sbuf_release(&d->buf); /* its spill file: the last of its fds */
		if (d->charge)
			pk_cap_release(w->p, d->charge);
		free(d);
	}
}

void pk_dconn_close_all(struct pk_worker *w)
{
	struct pk_list *pos, *tmp;

	for (int i = 0; i < w->cfg->ntargets; i++)
		pk_list_for_each_safe(pos, tmp, &w->targets[i].conns)
			pk_dconn_close(pk_container_of(pos, struct dconn, target_link));
}

/* The bytes d's buffer can hold: memory, and the spill file if any. */
static uint64_t dconn_capacity(const struct dconn *d)
{
	const struct pk_proxy_config *cfg = d->w->cfg;

	return cfg->buffer_size + (cfg->spill_dir ? cfg->spill_max : 0);
}

/* Samples d's rates and returns its debug window in ns (UINT64_MAX: none predicted). */
static uint64_t dconn_window(struct dconn *d, uint64_t now)
{
	uint64_t used = pk_sbuf_used(&d->buf);
	double s;

	pk_window_live_sample(&d->win, now, d->appended, d->sent, d->requests, used);
	s = pk_window_live_predict(&d->win, used, dconn_capacity(d));
	return s * 1e9 < (double)UINT64_MAX / 2 ? (uint64_t)(s * 1e9) : UINT64_MAX;
}

/* Logs once when target i's debug window (the soonest over every worker) falls below
 * --window-warn, and again once it rose back above twice that and fell again. */
static void window_warn(struct pk_worker *w, int i)
{
	struct pk_proxy *p = w->p;
	const struct target_stats *ts = &w->targets[i];
	uint64_t soonest = UINT64_MAX, warn_ns = (uint64_t)(w->cfg->window_warn_s * 1e9);

	if (warn_ns == 0)
		return;
	for (int k = 0; k < p->nworkers; k++) {
		uint64_t x = PK_STAT_GET(p->workers[k].targets[i].pub_window_ns);

		soonest = x < soonest ? x : soonest;
	}
	if (soonest < warn_ns && !__atomic_exchange_n(&p->window_warned[i], 1, __ATOMIC_RELAXED))
		pk_log(PK_LOG_WARN,
		       "%s: debug window target=%s: a buffer overflows in %.1f s (below "
		       "--window-warn %.0f s): arrival %llu B/s, drain %llu B/s, service %llu B/s",
		       w->cfg->role, p->target_names[i], (double)soonest / 1e9,
		       w->cfg->window_warn_s, (unsigned long long)PK_STAT_GET(ts->pub_in_bps),
		       (unsigned long long)PK_STAT_GET(ts->pub_out_bps),
		       (unsigned long long)PK_STAT_GET(ts->pub_svc_bps));
	else if (soonest / 2 > warn_ns)
		__atomic_store_n(&p->window_warned[i], 0, __ATOMIC_RELAXED);
}

/* Whether d has written bytes the clone has not acknowledged yet (SIOCOUTQ); if so, *rtt_ns
 * gets the connection's smoothed round-trip time: about how long each of them waits.  Asks the
 * kernel only about a connection that wrote since the last publish or had bytes in flight. */
static bool dconn_in_flight(struct dconn *d, uint64_t *rtt_ns)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq = 0;

	*rtt_ns = 0;
	if (d->dead || !d->connected || d->io.fd < 0 || (d->sent == d->pub_sent && !d->pub_outq))
		return false;
	d->pub_sent = d->sent;
	if (ioctl(d->io.fd, SIOCOUTQ, &outq) < 0 || outq < 0)
		outq = 0;
	d->pub_outq = (uint32_t)outq;
	if (outq && getsockopt(d->io.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
		*rtt_ns = (uint64_t)ti.tcpi_rtt * 1000;
	return outq > 0;
}

void pk_dconn_publish(struct pk_worker *w, uint64_t now)
{
	for (int i = 0; i < w->cfg->ntargets; i++) {
		struct target_stats *ts = &w->targets[i];
		uint64_t spilled = 0, lag_bytes = 0, max_lag = 0, window = UINT64_MAX;
		double in = 0, rps = 0, out = 0, svc = 0;
		struct pk_list *pos, *tmp;

		pk_list_for_each_safe(pos, tmp, &ts->conns)
		{
			struct dconn *d = pk_container_of(pos, struct dconn, target_link);
			uint64_t used = pk_sbuf_used(&d->buf), lag = pk_dconn_lag_ns(d, now),
				 win = dconn_window(d, now), rtt;

			/* written but not acknowledged: the clone is (at least) a round trip behind
			 */
			if (dconn_in_flight(d, &rtt) && rtt > lag)
				lag = rtt;

			spilled += pk_sbuf_spilled(&d->buf);
			if (used > lag_bytes)
				lag_bytes = used;
			max_lag = lag > max_lag ? lag : max_lag;
			window = win < window ? win : window;
			in += d->win.in_bps;
			rps += d->win.rps;
			out += d->win.out_bps;
			svc = d->win.svc_bps > svc ? d->win.svc_bps : svc;
		}
		PK_STAT_SET(ts->pub_spilled, spilled);
		PK_STAT_SET(ts->pub_lag_bytes, lag_bytes);
		PK_STAT_SET(ts->pub_lag_ns, max_lag);
		PK_STAT_SET(ts->pub_window_ns, window);
		PK_STAT_SET(ts->pub_in_bps, (uint64_t)llround(in));
		PK_STAT_SET(ts->pub_in_rps, (uint64_t)llround(rps));
		PK_STAT_SET(ts->pub_out_bps, (uint64_t)llround(out));
		PK_STAT_SET(ts->pub_svc_bps, (uint64_t)llround(svc));
		window_warn(w, i);
	}
}

void pk_dconn_adapt(struct pk_worker *w)
{
	struct pk_proxy *p = w->p;
	const struct pk_proxy_config *cfg = w->cfg;
	uint64_t cap = cfg->buffer_size + (cfg->spill_dir ? cfg->spill_max : 0);

	for (int i = 0; i < cfg->ntargets; i++) {
		struct pk_adapt *a = &p->adapt[i];
		uint64_t fullest = 0;
		double fill;
		int step, err;

		if (!cfg->adapt[i])
			continue;
		for (int k = 0; k < p->nworkers; k++) {
			uint64_t x = PK_STAT_GET(p->workers[k].targets[i].pub_lag_bytes);

			fullest = x > fullest ? x : fullest;
		}
		fill = cap ? (double)fullest / (double)cap : 0;
		step = pk_adapt_step(a, fill, cfg->adapt_high, cfg->adapt_low);
		if (!step && !p->adapt_err[i])
			continue;
		err = cfg->adapt_set ? cfg->adapt_set(cfg->adapt_arg, i, a->log2) : 0;
		PK_STAT_SET(w->targets[i].sample_log2, a->log2);
		PK_STAT_SET(w->targets[i].sample_steps, a->steps);
		if (!err)
			pk_log(PK_LOG_INFO, "%s: adapt: target %d sample 1/2^%u (buffer %.0f%%)",
			       cfg->role, i, a->log2, fill * 100);
		else if (err != -EAGAIN && (step || err != p->adapt_err[i]))
			pk_log(PK_LOG_WARN, "%s: adapt: target %d (%s): set sample 1/2^%u: %s",
			       cfg->role, i, p->target_names[i], a->log2, strerror(-err));
		p->adapt_err[i] = err;
	}
}

bool pk_dconn_pending(const struct dconn *d)
{
	return !d->dead && pk_sbuf_used(&d->buf) > 0;
}

uint64_t pk_dconn_lag_ns(const struct dconn *d, uint64_t now_ns)
{
	if (d->mark_count == 0)
		return 0;
	return now_ns - d->marks[d->mark_head].t_ns;
}

/* Records that bytes up to d->appended arrived now. */
static void lag_mark_push(struct dconn *d, uint64_t now_ns)
{
	int last = (d->mark_head + d->mark_count - 1) % PK_LAG_MARKS;

	if (d->mark_count > 0 &&
	    (now_ns - d->marks[last].t_ns < MARK_MERGE_NS || d->mark_count == PK_LAG_MARKS)) {
		/* Extending the last mark keeps its (older) time: lag is never underestimated. */
		d->marks[last].off = d->appended;
		return;
	}
	last = (d->mark_head + d->mark_count) % PK_LAG_MARKS;
	d->marks[last] = (struct lag_mark){ .off = d->appended, .t_ns = now_ns };
	d->mark_count++;
}

/* Drops the marks of bytes that have been written out. */
static void lag_mark_pop(struct dconn *d)
{
	while (d->mark_count > 0 && d->marks[d->mark_head].off <= d->sent) {
		d->mark_head = (d->mark_head + 1) % PK_LAG_MARKS;
		d->mark_count--;
	}
}

/* The clone sent buf on d: counted, compared. */
static void clone_output(struct dconn *d, const char *buf, size_t n)
{
	PK_STAT_ADD(stats_of(d)->resp_bytes, n);
	d->clone_out += n;
	if (d->cmp_on)
		compare_feed(d, PK_SCMP_B, buf, n);
	pk_ccmp_clone(d->ccmp, d->target, buf, n);
}

static void dconn_read(struct dconn *d)
{
	struct pk_worker *w = d->w;

	for (int i = 0; i < 4; i++) {
		ssize_t n = read(d->io.fd, w->scratch, sizeof(w->scratch));

		if (n > 0) {
			clone_output(d, w->scratch, (size_t)n);
			if (d->eof_pending && !d->shut && pk_sbuf_used(&d->buf) == 0) {
				dconn_flush(d); /* the FIN may have waited for these bytes */
				return;
			}
			if ((size_t)n < sizeof(w->scratch))
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF or error from the target.  Once the client's stream ended and all of it
		 * was delivered, that is the normal end; before, the clone dropped the stream. */
		if (n == 0)
			pk_ccmp_clone_end(d->ccmp, d->target);
		if (d->eof_pending && pk_sbuf_used(&d->buf) == 0) {
			dconn_kill(d, false, "done");
		} else if (n == 0 && d->origin == PK_DCONN_ACCEPTED) {
			/* The clone's service closed its backend connection: it may still read
			 * what production got, until production's connection ends too. */
			d->peer_eof = true;
			dconn_update(d);
		} else {
			dconn_kill(d, true, n == 0 ? "closed by target" : strerror(errno));
		}
		return;
	}
}

static void dconn_update(struct dconn *d)
{
	uint32_t mask = d->peer_eof ? 0 : PK_READ;
	int err;

	if (!d->connected || pk_sbuf_used(&d->buf) > 0)
		mask |= PK_WRITE;
	if (mask == 0) /* nothing to read or write: don't spin on the hang-up */
		err = pk_io_park(d->w->loop, &d->io);
	else
		err = pk_io_set(d->w->loop, &d->io, mask);
	if (err) /* its events can no longer be followed: it would never be flushed */
		dconn_kill(d, true, "epoll");
}

/* Passes the client's FIN on to a drained d once the clone has sent as many bytes as
 * production's side did (or closed its own side, or the grace ran out), so that a clone that
 * lags is not cut off mid-request.  Arms the grace timer while it waits. */
static void pass_eof(struct dconn *d)
{
	bool caught_up = d->clone_out >= d->prod_out || d->peer_eof;

	if (!d->eof_pending || d->shut)
		return;
	if (!caught_up && !d->grace_over) {
		if (pk_timer_is_armed(&d->grace_timer))
			return;
		if (d->w->cfg->close_grace_ns > 0 &&
		    pk_timer_arm(d->w->loop, &d->grace_timer, d->w->cfg->close_grace_ns) == 0)
			return;
		d->grace_over = true; /* no grace (or no timer): the FIN goes now */
	} else if (!caught_up) {
		PK_STAT_ADD(stats_of(d)->grace_expired, 1);
		pk_log(PK_LOG_DEBUG,
		       "%s: conn=%llu target=%s: close grace expired; the clone sent %llu of %llu "
		       "bytes",
		       d->w->cfg->role, (unsigned long long)d->id, d->w->p->target_names[d->target],
		       (unsigned long long)d->clone_out, (unsigned long long)d->prod_out);
	}
	pk_timer_cancel(d->w->loop, &d->grace_timer);
	shutdown(d->io.fd, SHUT_WR);
	d->shut = true;
}

/* Writes out as much as the target takes.  May kill d. */
static void dconn_flush(struct dconn *d)
{
	struct target_stats *ts = stats_of(d);

	if (d->dead || !d->connected)
		return;
	if (pk_list_linked(&d->dirty_link))
		pk_list_del(&d->dirty_link);
	for (;;) {
		struct iovec iov[2];
		int segs = pk_sbuf_peek(&d->buf, iov);
		ssize_t w;

		if (segs < 0) {
			dconn_kill(d, true, strerror(-segs));
			return;
		}
		if (segs == 0)
			break;
		w = writev(d->io.fd, iov, segs);
		if (w < 0) {
			if (errno == EAGAIN)
				break;
			dconn_kill(d, true, strerror(errno));
			return;
		}
		pk_sbuf_consume(&d->buf, (size_t)w);
		d->sent += (uint64_t)w;
		PK_STAT_ADD(ts->bytes_sent, w);
		PK_STAT_ADD(ts->buffered, -w);
	}
	lag_mark_pop(d);
	if (pk_sbuf_used(&d->buf) == 0) {
		pass_eof(d);
		if (d->shut && d->peer_eof) { /* both sides are done */
			dconn_kill(d, false, "done");
			return;
		}
		if (d->s)
			pk_session_debug_drained(d->s);
	}
	dconn_update(d);
}

/* The close grace ran out: the FIN goes once the buffer is drained, caught up or not. */
static void grace_expired(struct pk_loop *loop, struct pk_timer *t)
{
	struct dconn *d = t->data;

	d->grace_over = true;
	dconn_flush(d);
}

static void dconn_event(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct dconn *d = io->data;

	if (!d->connected) {
		int err;

		if (!(events & (PK_WRITE | EPOLLERR | EPOLLHUP)))
			return;
		err = pk_sock_error(io->fd);
		if (err) {
			PK_STAT_ADD(stats_of(d)->connect_failures, 1);
			dconn_kill(d, true, strerror(-err));
			return;
		}
		d->connected = true;
		dconn_flush(d);
		return;
	}
	if (events & PK_WRITE)
		dconn_flush(d);
	if (!d->dead && (events & (PK_READ | EPOLLHUP | EPOLLERR)) && !d->peer_eof)
		dconn_read(d);
	else if (!d->dead && (events & EPOLLERR))
		dconn_kill(d, true, "connection error");
}

struct dconn *pk_dconn_new(struct pk_worker *w, struct session *s, int i,
			   enum pk_dconn_origin origin)
{
	const struct pk_proxy_config *cfg = w->cfg;
	struct target_stats *ts = &w->targets[i];
	struct dconn *d = calloc(1, sizeof(*d));

	if (!d) {
		PK_STAT_ADD(ts->desyncs, 1);
		pk_log(PK_LOG_WARN, "%s: desync conn=%llu target=%s offset=0 reason=out of memory",
		       cfg->role, s ? (unsigned long long)s->id : 0ull, w->p->target_names[i]);
		return NULL;
	}
	d->id = s ? s->id : 0;
	d->origin = origin;
	d->target = i;
	d->w = w;
	d->s = s;
	pk_sbuf_init(&d->buf, cfg->buffer_size, cfg->spill_dir, cfg->spill_max);
	if (cfg->compare) {
		d->cmp_on = true;
		pk_scmp_init(&d->cmp, cfg->buffer_size);
	}
	pk_list_init(&d->dirty_link);
	pk_list_init(&d->reap_link);
	pk_list_add_tail(&ts->conns, &d->target_link);
	PK_STAT_ADD(ts->conns_active, 1);
	pk_io_init(&d->io, -1, dconn_event, d);
	pk_timer_init(&d->grace_timer, grace_expired, d);
	return d;
}

struct dconn *pk_dconn_open(struct pk_worker *w, struct session *s, int i)
{
	struct dconn *d = pk_dconn_new(w, s, i, PK_DCONN_DIALED);
	int fd;

	if (!d)
		return NULL;
	fd = pk_sock_connect(&w->cfg->targets[i]);
	if (fd < 0) {
		PK_STAT_ADD(w->targets[i].connect_failures, 1);
		dconn_kill(d, true, strerror(-fd));
		return NULL;
	}
	d->io.fd = fd;
	if (pk_io_add(w->loop, &d->io, PK_WRITE) < 0) {
		dconn_kill(d, true, "epoll");
		return NULL;
	}
	return d;
}

int pk_dconn_attach_fd(struct dconn *d, int fd, const char *early, size_t n)
{
	int err;

	PK_BUG_ON(d->io.fd >= 0 || d->dead); /* one clone socket per dconn, while it lives */
	d->io.fd = fd;
	d->connected = true;
	err = pk_io_add(d->w->loop, &d->io, PK_READ | PK_WRITE);
	if (err) {
		dconn_kill(d, true, "epoll");
		return err;
	}
	if (n)
		clone_output(d, early, n);
	dconn_flush(d);
	return 0;
}

void pk_dconn_append(struct dconn *d, const char *buf, size_t n)
{
	struct pk_worker *w = d->w;
	struct target_stats *ts = stats_of(d);
	uint64_t used;
	int err;

	if (d->dead)
		return;
	err = pk_sbuf_append(&d->buf, buf, n);
	if (err) {
		PK_STAT_ADD(ts->overflows, 1);
		PK_STAT_ADD(ts->bytes_dropped, n);
		dconn_kill(d, true, err == -ENOSPC ? "buffer full" : strerror(-err));
		return;
	}
	d->appended += n;
	d->requests++;
	PK_STAT_ADD(ts->buffered, n);
	used = pk_sbuf_used(&d->buf);
	if (used > ts->high_water)
		PK_STAT_SET(ts->high_water, used);
	lag_mark_push(d, pk_now_ns());
	if (!d->connected)
		return;
	if (w->cfg->flush_ns == 0 || w->cfg->mode == PK_PROXY_SYNC || used >= PK_FLUSH_HIGH) {
		dconn_flush(d);
		return;
	}
	if (!pk_list_linked(&d->dirty_link) && !(d->io.mask & PK_WRITE)) {
		pk_list_add_tail(&w->dirty, &d->dirty_link);
		if (!pk_timer_is_armed(&w->flush_timer) &&
		    pk_timer_arm(w->loop, &w->flush_timer, w->cfg->flush_ns) < 0)
			dconn_flush(d); /* no timer would flush it: write now, uncoalesced */
	}
}

void pk_dconn_session_gone(struct dconn *d)
{
	unsigned cost = pk_cap_dconn_cost(d->w->cfg);

	/* d goes on alone: its share of the session's capacity charge is d's now, released when
	 * d is reaped (its socket closed and its spill file gone) */
	PK_BUG_ON(!d->s || d->s->charge < cost || d->dead);
	d->s->charge -= cost;
	d->charge += cost;
	d->s = NULL;
	pk_dconn_detach(d);
}

void pk_dconn_take_balance(struct dconn *d)
{
	PK_BUG_ON(d->balanced || d->dead);
	d->balanced = true;
}

void pk_dconn_detach(struct dconn *d)
{
	if (d->dead || d->eof_pending)
		return;
	d->eof_pending = true;
	d->ended_ns = pk_now_ns();
	if (d->connected)
		dconn_flush(d);
}

void pk_dconn_flush_timer(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_worker *w = t->data;
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &w->dirty)
		dconn_flush(pk_container_of(pos, struct dconn, dirty_link));
}
