/* logd.c — the trace log daemon on the src/common event loop (see logd.h). */
#include "trace/logd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/log.h"
#include "common/loop.h"
#include "trace/raw.h"
#include "trace/store.h"
#include "trace/storeq.h"
#include "trace/wire.h"

#define LOGD_READ_MAX (256 * 1024)

struct logd;

struct conn {
	struct pk_io io;
	struct pk_trace_wire w;
	struct logd *d;
	uint32_t id;
	int pid;
	int host_pid; /* the peer's pid as logd sees it, when it lives in another pid namespace */
	struct conn *prev, *next; /* live connections */
	struct conn *next_dead;
};

struct logd {
	struct pk_loop *loop;
	struct pk_io lio, sio, qio;
	struct pk_trace_storeq *q; /* NULL: the raw log only */
	int raw_fd;
	uint32_t next_id;
	struct conn *live, *dead;
	struct pk_trace_logd_stats *st;
	uint8_t *rbuf;
	int rc; /* fatal error, stops the loop */
	char *err;
	size_t errlen;
};

static void fatal(struct logd *d, int rc)
{
	if (!d->rc)
		d->rc = rc;
	pk_loop_stop(d->loop);
}

static void conn_end(struct conn *c)
{
	pk_io_close(c->d->loop, &c->io);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->d->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next_dead = c->d->dead;
	c->d->dead = c;
}

/* A validated frame of connection c. */
static int on_frame(void *arg, const struct pk_trace_frame *f, const struct pk_trace_hello *h,
		    const struct pk_trace_rec *recs, size_t n)
{
	struct conn *c = arg;
	struct logd *d = c->d;
	struct pk_trace_hello own;
	int rc;

	if (h && c->host_pid > 0 && c->host_pid != h->pid) {
		/* a container's or a clone's process: its own pid (1, 7, ...) is also production's
		 * and every other container's; stored as logd sees it, the raw log too */
		own = *h;
		own.pid = c->host_pid;
		h = &own;
	}
	if (d->raw_fd >= 0) {
		rc = pk_trace_raw_append(d->raw_fd, c->id, f,
					 h ? (const void *)h : (const void *)recs, d->err,
					 d->errlen);
		if (rc)
			return fatal(d, rc), rc;
	}
	if (h) {
		rc = d->q ? pk_trace_storeq_hello(d->q, c->id, h, d->err, d->errlen) : 0;
		if (rc)
			return fatal(d, rc), rc;
		c->pid = h->pid;
		d->st->procs++;
		d->st->dropped += h->dropped;
		return 0;
	}
	rc = d->q ? pk_trace_storeq_recs(d->q, c->id, recs, n, d->err, d->errlen) : 0;
	if (rc)
		return fatal(d, rc), rc;
	for (size_t i = 0; i < n; i++)
		if (recs[i].call == PK_TRACE_DROPS && recs[i].ret > 0)
			d->st->dropped += (uint64_t)recs[i].ret;
	d->st->recs += n;
	return 0;
}

static void on_conn(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct conn *c = io->data;
	struct logd *d = c->d;
	char why[256];

	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(io->fd, d->rbuf, LOGD_READ_MAX);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (pk_trace_wire_partial(&c->w))
				pk_log(PK_LOG_WARN,
				       "trace logd: connection %u (pid %d) ended inside a frame",
				       c->id, c->pid);
			conn_end(c);
			return;
		}
		rc = pk_trace_wire_feed(&c->w, d->rbuf, (size_t)n, on_frame, c, why, sizeof(why));
		if (rc && d->rc) {
			conn_end(c);
			return;
		}
		if (rc) {
			d->st->bad++;
			pk_log(PK_LOG_WARN, "trace logd: connection %u (pid %d) dropped: %s", c->id,
			       c->pid, why);
			conn_end(c);
			return;
		}
	}
}

/* The pid of the process at the other end of Unix socket fd as logd sees it, when that process
 * lives in another pid namespace than logd; 0 otherwise (same namespace, or not known). */
static int peer_pid_elsewhere(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char path[64];
	struct stat mine, theirs;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || cr.pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)cr.pid);
	if (stat("/proc/self/ns/pid", &mine) != 0 || stat(path, &theirs) != 0 ||
	    mine.st_ino == theirs.st_ino)
		return 0;
	return (int)cr.pid;
}

static void on_listen(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct logd *d = io->data;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				pk_log(PK_LOG_WARN, "trace logd: accept: %s", strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->d = d;
		c->id = ++d->next_id;
		c->host_pid = peer_pid_elsewhere(fd);
		pk_trace_wire_init(&c->w);
		pk_io_init(&c->io, fd, on_conn, c);
		if (pk_io_add(loop, &c->io, PK_READ)) {
			close(fd);
			pk_trace_wire_free(&c->w);
			free(c);
			continue;
		}
		c->next = d->live;
		if (d->live)
			d->live->prev = c;
		d->live = c;
	}
}

static void on_signal(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(io->fd, &si, sizeof(si)) == sizeof(si))
		;
	pk_loop_stop(loop);
}

/* The store's writer failed: stop (its reason comes with pk_trace_storeq_finish). */
static void on_store_failed(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	(void)loop;
	(void)events;
	fatal(io->data, -EIO);
}

static void before_sleep(struct pk_loop *loop, void *data)
{
	struct logd *d = data;

	while (d->dead) {
		struct conn *c = d->dead;

		d->dead = c->next_dead;
		pk_trace_wire_free(&c->w);
		free(c);
	}
}

/* Makes the socket's directory (0755) when missing and listens on path (mode 0666). */
static int listen_on(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	struct stat stt;
	char *slash;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return pk_errbuf_set(-ENAMETOOLONG, err, errlen, "%s: socket path too long", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = 0;
				mkdir(dir, 0755);
				*p = '/';
			}
		if (mkdir(dir, 0755) && errno != EEXIST)
			return pk_errbuf_set(-errno, err, errlen, "%s: %s", dir, strerror(errno));
	}
	if (lstat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode))
			return pk_errbuf_set(-EEXIST, err, errlen, "%s: exists and is not a socket",
					     path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return pk_errbuf_set(-EADDRINUSE, err, errlen,
					     "%s: another logd listens there", path);
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pk_errbuf_set(-errno, err, errlen, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) || listen(fd, 512)) {
		int e = errno;

		close(fd);
		return pk_errbuf_set(-e, err, errlen, "%s: %s", path, strerror(e));
	}
	return fd;
}

int pk_trace_logd_run(const struct pk_trace_logd_opts *o, struct pk_trace_logd_stats *st, char *err,
		      size_t errlen)
{
	struct logd d = { .raw_fd = -1, .st = st, .err = err, .errlen = errlen };
	sigset_t mask, old;
	int lfd = -1, sfd = -1, rc;

	memset(st, 0, sizeof(*st));
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	if (!o->db && !o->pg && !o->raw) {
		rc = pk_errbuf_set(-EINVAL, err, errlen, "logd: neither a store nor a raw log");
		goto out;
	}
	if (o->db || o->pg) {
		struct pk_trace_store *store;

		rc = pk_trace_store_open(o->db, o->pg, true, &store, err, errlen);
		if (!rc && (rc = pk_trace_storeq_start(store, 0, &d.q, err, errlen)))
			pk_trace_store_close(store);
		if (rc)
			goto out;
	}
	if (o->raw) {
		d.raw_fd = open(o->raw, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (d.raw_fd < 0) {
			rc = pk_errbuf_set(-errno, err, errlen, "%s: %s", o->raw, strerror(errno));
			goto out;
		}
	}
	d.rbuf = malloc(LOGD_READ_MAX);
	d.loop = pk_loop_new();
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (!d.rbuf || !d.loop || sfd < 0) {
		rc = pk_errbuf_set(-ENOMEM, err, errlen, "logd: out of memory or descriptors");
		goto out;
	}
	lfd = listen_on(o->sock, err, errlen);
	if (lfd < 0) {
		rc = lfd;
		goto out;
	}
	pk_io_init(&d.lio, lfd, on_listen, &d);
	pk_io_init(&d.sio, sfd, on_signal, &d);
	if (d.q)
		pk_io_init(&d.qio, pk_trace_storeq_fd(d.q), on_store_failed, &d);
	pk_loop_set_before_sleep(d.loop, before_sleep, &d);
	if ((rc = pk_io_add(d.loop, &d.lio, PK_READ)) ||
	    (rc = pk_io_add(d.loop, &d.sio, PK_READ)) ||
	    (d.q && (rc = pk_io_add(d.loop, &d.qio, PK_READ)))) {
		pk_errbuf_set(rc, err, errlen, "logd: event loop: %s", strerror(-rc));
		goto out;
	}
	pk_log(PK_LOG_INFO, "trace logd: listening on %s", o->sock);
	rc = pk_loop_run(d.loop);
	if (rc)
		pk_errbuf_set(rc, err, errlen, "logd: event loop: %s", strerror(-rc));
	if (d.rc)
		rc = d.rc; /* err holds its reason (but for the writer's: below) */
out:
	if (d.loop) {
		while (d.live)
			conn_end(d.live);
		before_sleep(d.loop, &d);
	}
	if (d.q) {
		/* what is queued is stored now; the writer's error, when it is why logd stopped */
		char why[512];
		int qrc = pk_trace_storeq_finish(d.q, why, sizeof(why));

		if (qrc && (!rc || d.rc)) {
			rc = qrc;
			pk_errbuf_set(rc, err, errlen, "%s", why);
		}
	}
	if (lfd >= 0) {
		close(lfd);
		unlink(o->sock);
	}
	if (sfd >= 0)
		close(sfd);
	if (d.raw_fd >= 0)
		close(d.raw_fd);
	pk_loop_free(d.loop);
	free(d.rbuf);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
