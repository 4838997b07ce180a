/* proxy.c — the production path: accept, connect, forward both ways, back-pressure,
 * half-close, graceful stop.  Debug targets are fed through target.c.
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_NS (100 * 1000000ull)

static void session_close(struct session *s);

/* Recomputes the epoll interest of both sides of s from its state. */
static void session_update(struct session *s)
{
	struct pk_loop *loop = s->p->loop;
	uint32_t cmask = 0, pmask = 0;
	bool sync_wait = false;

	if (s->closing)
		return;
	if (s->p->cfg.mode == PK_PROXY_SYNC)
		for (int i = 0; i < s->p->cfg.ntargets; i++)
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
	pk_io_set(loop, &s->cio, cmask);
	pk_io_set(loop, &s->pio, pmask);
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

static void client_read(struct session *s)
{
	struct pk_proxy *p = s->p;
	ssize_t n = read(s->cio.fd, p->scratch, sizeof(p->scratch));
	int err;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		pk_log(PK_LOG_DEBUG, "%s: conn=%llu client read: %s", p->cfg.role,
		       (unsigned long long)s->id, strerror(errno));
		session_close(s);
		return;
	}
	if (n == 0) {
		s->c_eof = true;
		for (int i = 0; i < p->cfg.ntargets; i++)
			if (s->dbg[i])
				pk_dconn_detach(s->dbg[i]);
		pass_eofs(s);
		session_update(s);
		return;
	}
	p->bytes_c2p += (uint64_t)n;
	err = forward(s->pio.fd, &s->c2p, p->scratch, (size_t)n);
	for (int i = 0; i < p->cfg.ntargets; i++) {
		if (s->dbg[i])
			pk_dconn_append(s->dbg[i], p->scratch, (size_t)n);
		else
			p->targets[i].bytes_dropped += (uint64_t)n; /* this clone is out of sync */
	}
	if (err) {
		pk_log(PK_LOG_DEBUG, "%s: conn=%llu production write: %s", p->cfg.role,
		       (unsigned long long)s->id, strerror(-err));
		session_close(s);
		return;
	}
	session_update(s);
}

static void prod_read(struct session *s)
{
	struct pk_proxy *p = s->p;
	ssize_t n = read(s->pio.fd, p->scratch, sizeof(p->scratch));
	int err;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		pk_log(PK_LOG_DEBUG, "%s: conn=%llu production read: %s", p->cfg.role,
		       (unsigned long long)s->id, strerror(errno));
		session_close(s);
		return;
	}
	if (n == 0) {
		s->p_eof = true;
		pass_eofs(s);
		session_update(s);
		return;
	}
	p->bytes_p2c += (uint64_t)n;
	err = forward(s->cio.fd, &s->p2c, p->scratch, (size_t)n);
	if (err) {
		pk_log(PK_LOG_DEBUG, "%s: conn=%llu client write: %s", p->cfg.role,
		       (unsigned long long)s->id, strerror(-err));
		session_close(s);
		return;
	}
	session_update(s);
}

/* Production connect finished (writable for the first time). */
static void prod_connected(struct session *s)
{
	struct pk_proxy *p = s->p;
	int err = pk_sock_error(s->pio.fd);

	if (err) {
		p->prod_connect_failures++;
		pk_log(PK_LOG_WARN, "%s: conn=%llu production %s: connect: %s; closing client",
		       p->cfg.role, (unsigned long long)s->id, p->prod_name, strerror(-err));
		session_close(s);
		return;
	}
	s->prod_connected = true;
	for (int i = 0; i < p->cfg.ntargets; i++)
		s->dbg[i] = pk_dconn_open(p, s, i);
	session_update(s);
}

static void client_event(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct session *s = io->data;

	if ((events & PK_WRITE) && pk_ring_used(&s->p2c)) {
		int err = flush_queue(s->cio.fd, &s->p2c);

		if (err) {
			session_close(s);
			return;
		}
		pass_eofs(s);
		session_update(s);
	}
	if (s->closing)
		return;
	if ((events & (PK_READ | EPOLLHUP | EPOLLERR)) && (s->cio.mask & PK_READ))
		client_read(s);
	else if (events & EPOLLERR)
		session_close(s);
	else if (events & EPOLLHUP)
		pk_io_park(loop, io); /* peer gone, but we may not read yet: wait without spinning */
}

static void prod_event(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct session *s = io->data;

	if (!s->prod_connected) {
		if (events & (PK_WRITE | EPOLLERR | EPOLLHUP))
			prod_connected(s);
		return;
	}
	if ((events & PK_WRITE) && pk_ring_used(&s->c2p)) {
		int err = flush_queue(s->pio.fd, &s->c2p);

		if (err) {
			session_close(s);
			return;
		}
		pass_eofs(s);
		session_update(s);
	}
	if (s->closing)
		return;
	if ((events & (PK_READ | EPOLLHUP | EPOLLERR)) && (s->pio.mask & PK_READ))
		prod_read(s);
	else if (events & EPOLLERR)
		session_close(s);
	else if (events & EPOLLHUP)
		pk_io_park(loop, io); /* peer gone, but we may not read yet: wait without spinning */
}

/* Called by target.c when a dconn of s drained: in sync mode the client may read again. */
void pk_session_debug_drained(struct session *s)
{
	session_update(s);
}

/* Closes both production-side sockets of s; its dconns go on alone.  Freed when reaped. */
static void session_close(struct session *s)
{
	struct pk_proxy *p = s->p;
	int fd;

	if (s->closing)
		return;
	s->closing = true;
	for (int i = 0; i < p->cfg.ntargets; i++) {
		struct dconn *d = s->dbg[i];

		if (!d)
			continue;
		s->dbg[i] = NULL;
		d->s = NULL;
		pk_dconn_detach(d);
	}
	fd = pk_io_del(p->loop, &s->cio);
	if (fd >= 0)
		close(fd);
	fd = pk_io_del(p->loop, &s->pio);
	if (fd >= 0)
		close(fd);
	pk_list_del(&s->link);
	pk_list_add_tail(&p->dead_sessions, &s->link);
	p->conns_active--;
}

static void session_free(struct session *s)
{
	pk_ring_release(&s->c2p);
	pk_ring_release(&s->p2c);
	free(s);
}

static void session_open(struct pk_proxy *p, int cfd)
{
	struct session *s = calloc(1, sizeof(*s));
	int pfd;

	if (!s) {
		pk_log(PK_LOG_ERROR, "%s: out of memory for a session", p->cfg.role);
		close(cfd);
		return;
	}
	s->id = ++p->next_id;
	s->p = p;
	pk_ring_init(&s->c2p, PK_SCRATCH_SIZE);
	pk_ring_init(&s->p2c, PK_SCRATCH_SIZE);
	pk_list_init(&s->link);
	pk_list_add_tail(&p->sessions, &s->link);
	p->conns_accepted++;
	p->conns_active++;
	pk_io_init(&s->cio, cfd, client_event, s);
	pk_io_init(&s->pio, -1, prod_event, s);
	if (pk_io_add(p->loop, &s->cio, 0) < 0) {
		close(cfd);
		s->cio.fd = -1;
		session_close(s);
		return;
	}
	pfd = pk_sock_connect(&p->cfg.prod);
	if (pfd < 0) {
		p->prod_connect_failures++;
		pk_log(PK_LOG_WARN, "%s: conn=%llu production %s: connect: %s; closing client",
		       p->cfg.role, (unsigned long long)s->id, p->prod_name, strerror(-pfd));
		session_close(s);
		return;
	}
	s->pio.fd = pfd;
	if (pk_io_add(p->loop, &s->pio, PK_WRITE) < 0) {
		session_close(s);
		return;
	}
}

static void accept_resume(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_proxy *p = t->data;

	if (!p->draining)
		pk_io_set(loop, &p->lio, PK_READ);
}

static void on_accept(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_proxy *p = io->data;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = pk_sock_accept(io->fd, NULL);

		if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED)
			return;
		if (fd < 0) {
			/* Out of fds or memory: stop accepting for a moment instead of spinning. */
			pk_log(PK_LOG_WARN, "%s: accept: %s; pausing 100 ms", p->cfg.role,
			       strerror(-fd));
			pk_io_set(loop, io, 0);
			pk_timer_arm(loop, &p->accept_timer, ACCEPT_PAUSE_NS);
			return;
		}
		session_open(p, fd);
	}
}

/* Tells whether some production bytes are still queued inside the proxy. */
static bool prod_bytes_queued(struct pk_proxy *p)
{
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &p->sessions) {
		struct session *s = pk_container_of(pos, struct session, link);

		if (pk_ring_used(&s->c2p) || pk_ring_used(&s->p2c))
			return true;
	}
	return false;
}

static void drain_timeout(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_proxy *p = t->data;

	pk_log(PK_LOG_WARN, "%s: drain time is up; closing with bytes still queued", p->cfg.role);
	pk_loop_stop(loop);
}

static void on_signal(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_proxy *p = io->data;
	struct signalfd_siginfo si;
	int fd;

	if (read(io->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (p->draining)
		return;
	pk_log(PK_LOG_INFO, "%s: signal %u: no longer accepting; draining", p->cfg.role,
	       si.ssi_signo);
	p->draining = true;
	pk_timer_cancel(loop, &p->accept_timer);
	fd = pk_io_del(loop, &p->lio);
	if (fd >= 0)
		close(fd);
	pk_timer_arm(loop, &p->drain_timer, p->cfg.drain_ns);
}

static void before_sleep(struct pk_loop *loop, void *data)
{
	struct pk_proxy *p = data;
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &p->dead_sessions) {
		pk_list_del(pos);
		session_free(pk_container_of(pos, struct session, link));
	}
	pk_list_for_each_safe(pos, tmp, &p->dead_dconns) {
		pk_list_del(pos);
		pk_dconn_free(pk_container_of(pos, struct dconn, reap_link));
	}
	if (p->admin)
		pk_httpd_reap(p->admin);
	if (p->draining && !prod_bytes_queued(p))
		pk_loop_stop(loop);
}

static int admin_handler(const char *path, struct pk_strbuf *body, const char **ctype,
			 void *data)
{
	if (strcmp(path, "/metrics") == 0) {
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		pk_proxy_metrics(data, body);
		return 200;
	}
	if (strcmp(path, "/") == 0) {
		pk_strbuf_printf(body, "parikshan admin: GET /metrics\n");
		return 200;
	}
	pk_strbuf_printf(body, "not found\n");
	return 404;
}

struct pk_proxy *pk_proxy_new(const struct pk_proxy_config *cfg, const char **what)
{
	struct pk_proxy *p = calloc(1, sizeof(*p));
	int fd, err;

	*what = "allocate";
	if (!p)
		return NULL;
	p->cfg = *cfg;
	pk_list_init(&p->sessions);
	pk_list_init(&p->dead_sessions);
	pk_list_init(&p->dirty);
	pk_list_init(&p->dead_dconns);
	pk_addr_str(&cfg->prod, p->prod_name, sizeof(p->prod_name));
	for (int i = 0; i < cfg->ntargets; i++) {
		pk_addr_str(&cfg->targets[i], p->targets[i].name, sizeof(p->targets[i].name));
		pk_list_init(&p->targets[i].conns);
	}
	pk_timer_init(&p->flush_timer, pk_dconn_flush_timer, p);
	pk_timer_init(&p->accept_timer, accept_resume, p);
	pk_timer_init(&p->drain_timer, drain_timeout, p);
	pk_io_init(&p->lio, -1, on_accept, p);
	pk_io_init(&p->sigio, -1, on_signal, p);
	*what = "create event loop";
	p->loop = pk_loop_new();
	if (!p->loop)
		goto fail;
	*what = "listen";
	fd = pk_sock_listen(&cfg->listen, 4096);
	if (fd < 0) {
		errno = -fd;
		goto fail;
	}
	p->lio.fd = fd;
	err = pk_io_add(p->loop, &p->lio, PK_READ);
	if (err) {
		errno = -err;
		goto fail;
	}
	if (cfg->admin_enabled) {
		*what = "admin listen";
		p->admin = pk_httpd_new(p->loop, &cfg->admin, admin_handler, p);
		if (!p->admin)
			goto fail;
	}
	pk_loop_set_before_sleep(p->loop, before_sleep, p);
	return p;
fail:
	err = errno;
	pk_proxy_free(p);
	errno = err;
	return NULL;
}

int pk_proxy_listen_port(const struct pk_proxy *p)
{
	return pk_sock_local_port(p->lio.fd);
}

int pk_proxy_run(struct pk_proxy *p)
{
	sigset_t set, old;
	int sfd, err;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		return -errno;
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		err = -errno;
		goto restore;
	}
	p->sigio.fd = sfd;
	err = pk_io_add(p->loop, &p->sigio, PK_READ);
	if (err)
		goto close_sfd;
	err = pk_loop_run(p->loop);
	pk_io_del(p->loop, &p->sigio);
close_sfd:
	close(sfd);
restore:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return err;
}

void pk_proxy_free(struct pk_proxy *p)
{
	struct pk_list *pos, *tmp;
	int fd;

	if (!p)
		return;
	if (p->loop) {
		pk_list_for_each_safe(pos, tmp, &p->sessions)
			session_close(pk_container_of(pos, struct session, link));
		for (int i = 0; i < p->cfg.ntargets; i++)
			pk_list_for_each_safe(pos, tmp, &p->targets[i].conns)
				pk_dconn_close(pk_container_of(pos, struct dconn, target_link));
		before_sleep(p->loop, p);
		pk_httpd_free(p->admin);
		fd = pk_io_del(p->loop, &p->lio);
		if (fd >= 0)
			close(fd);
		pk_timer_cancel(p->loop, &p->flush_timer);
		pk_timer_cancel(p->loop, &p->accept_timer);
		pk_timer_cancel(p->loop, &p->drain_timer);
		pk_loop_free(p->loop);
	}
	free(p);
}
