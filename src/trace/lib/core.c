/* core.c — libparikshan_trace.so's state: the descriptor table, the per-thread rings and the
 * flusher thread that drains them into frames on a Unix stream socket to logd.
 *
 * Rings: one per thread, single producer (the thread), single consumer (whoever holds the
 * drain lock: the flusher thread, or a thread flushing before exec or at exit).
 *
 *   recs[PK_RING_RECS]   head: next slot the producer fills (published with release)
 *   +---+---+---+---+    tail: next slot the consumer reads
 *   | r | r |   |   |    full when head - tail == PK_RING_RECS: the record is dropped and
 *   +---+---+---+---+    counted; the count goes out as a DROPS record when two slots are free
 *
 * Rings are linked into one list (pushed with a CAS, never unlinked); a ring whose thread has
 * exited is reused by the next new thread once drained.  No lock and no malloc on the record
 * path: a ring is mmapped on the thread's first record.
 *
 * The flusher never produces records: its thread-local guard is set for its whole life, and it
 * talks to logd with raw system calls.  Without logd the drained records are counted and the
 * count goes in the next hello (PK_TRACE_FRAME_HELLO.dropped); it tries to connect again at
 * most every 200 ms.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib_int.h"

/* 4,096 records (576 KiB) a thread: with 1,024 a traced redis under redis-benchmark on two busy
 * cores dropped records whenever its flusher waited for a core for a few ms */
#define PK_RING_RECS 4096u
#define PK_FRAME_RECS 256u
/* The flusher's period when no ring is half full (a half-full ring wakes it at once): 50 ms
 * rather than 10 halved logd's CPU time under the chain of bench/trace.sh (fewer, larger
 * frames) and wakes idle traced processes 20 times a second, not 100. */
#define PK_FLUSH_MS 50
#define PK_RETRY_NS 200000000ull

struct pk_ring {
	_Atomic uint32_t head, tail;
	_Atomic int live;	      /* a thread owns it */
	uint32_t drops;		      /* producer only: records lost since the last DROPS */
	uint32_t pend;		      /* producer only: the slot being filled */
	struct pk_ring *_Atomic next; /* the list of every ring of the process */
	struct pk_trace_rec recs[PK_RING_RECS];
};

struct pk_fd pk_fds[PK_FD_MAX];
__thread int pk_tl_depth PK_TL;
char pk_cfg_lib[4096];
char pk_cfg_sock[108];

static __thread struct pk_ring *tl_ring PK_TL;
static __thread uint32_t tl_tid PK_TL;

static bool g_on;
static int64_t g_skew_ns;
static uint32_t g_hello_flags;
static int32_t g_ppid; /* the parent at fork time (it may have exited before the hello) */
static pthread_key_t g_key;
static struct pk_ring *_Atomic g_rings;
static _Atomic int g_flusher_started;
static _Atomic int g_drain_lock;
static _Atomic uint32_t g_wake;
static _Atomic uint64_t g_lost;	     /* records drained while no logd listened, or rings unmade */
static int g_conn = -1;		     /* logd connection (under the drain lock) */
static _Atomic int g_conn_seen = -1; /* g_conn as the application's threads read it */
static _Atomic int g_conn_gone;
static uint64_t g_last_try;
static struct {
	struct pk_trace_frame hdr;
	struct pk_trace_rec recs[PK_FRAME_RECS];
} g_frame;

void *pk_real(const char *name)
{
	void *p = pk_hook_attached() ? pk_hook_real(name) : dlsym(RTLD_NEXT, name);

	if (!p && strncmp(name, "SSL_", 4) == 0) {
		/* libssl loaded RTLD_LOCAL by a dlopened module (python's _ssl) */
		void *h = dlopen("libssl.so.3", RTLD_LAZY | RTLD_NOLOAD);

		if (h)
			p = dlsym(h, name);
	}
	return p;
}

bool pk_trace_on(void)
{
	return g_on;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t my_tid(void)
{
	if (!tl_tid)
		tl_tid = (uint32_t)syscall(SYS_gettid);
	return tl_tid;
}

void pk_addr_from(struct pk_trace_addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(a, 0, sizeof(*a));
	if (!sa || len < sizeof(sa_family_t))
		return;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		a->family = AF_INET;
		a->port = ntohs(in->sin_port);
		memcpy(a->addr, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		a->family = AF_INET6;
		a->port = ntohs(in6->sin6_port);
		memcpy(a->addr, &in6->sin6_addr, 16);
	} else if (sa->sa_family == AF_UNIX) {
		a->family = AF_UNIX;
	}
}

/* Fills F from socket FD; false when FD is not a socket of a traced family. */
static bool fd_fill(int fd, struct pk_fd *f)
{
	struct stat st;
	struct sockaddr_storage ss;
	socklen_t len;
	int v = 0;

	if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return false;
	len = sizeof(v);
	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &v, &len) != 0 ||
	    (v != AF_INET && v != AF_INET6 && v != AF_UNIX))
		return false;
	len = sizeof(v);
	f->flags = 0;
	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_DGRAM)
		f->flags |= PK_TRACE_F_DGRAM;
	len = sizeof(ss);
	if (syscall(SYS_getsockname, fd, &ss, &len) == 0)
		pk_addr_from(&f->local, (struct sockaddr *)&ss, len);
	else
		memset(&f->local, 0, sizeof(f->local));
	len = sizeof(ss);
	if (syscall(SYS_getpeername, fd, &ss, &len) == 0)
		pk_addr_from(&f->peer, (struct sockaddr *)&ss, len);
	else
		memset(&f->peer, 0, sizeof(f->peer));
	atomic_store(&f->off_in, 0);
	atomic_store(&f->off_out, 0);
	atomic_store(&f->tls, 0);
	return true;
}

/* True when a TCP socket listens on LOCAL's port (at LOCAL's address or any) in this network
 * namespace: a connection found already open, whose local port that is, was accepted (asked
 * of the kernel through sock_diag, raw system calls; false when it cannot say). */
static bool local_port_listens(const struct pk_trace_addr *local)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = (uint8_t)local->family,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1u << TCP_LISTEN },
	};
	static const uint8_t any[16];
	size_t alen = local->family == AF_INET ? 4 : 16;
	long buf[2048];
	bool found = false, done = false;
	int s = (int)syscall(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (s < 0)
		return false;
	if (syscall(SYS_sendto, s, &req, sizeof(req), 0, NULL, 0) != (long)sizeof(req))
		done = true;
	while (!done) {
		long n = syscall(SYS_recvfrom, s, buf, sizeof(buf), 0, NULL, NULL);
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

		if (n <= 0)
			break;
		for (; NLMSG_OK(h, (unsigned long)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
			    ntohs(m->id.idiag_sport) != local->port)
				continue;
			if (!memcmp(m->id.idiag_src, local->addr, alen) ||
			    !memcmp(m->id.idiag_src, any, alen))
				found = true;
		}
	}
	syscall(SYS_close, s);
	return found;
}

struct pk_fd *pk_fd_get(int fd)
{
	struct pk_fd *f;
	uint8_t st;

	if (fd < 0 || fd >= PK_FD_MAX)
		return NULL;
	f = &pk_fds[fd];
	st = atomic_load_explicit(&f->state, memory_order_acquire);
	if (st == PK_FD_SOCK)
		return f;
	if (st == PK_FD_OTHER)
		return NULL;
	if (!fd_fill(fd, f)) {
		atomic_store_explicit(&f->state, PK_FD_OTHER, memory_order_release);
		return NULL;
	}
	/* open before the library saw it (attach, inherited): which side it is, when it can tell
	 * (the analyzer guesses from ports otherwise) */
	if (!(f->flags & PK_TRACE_F_DGRAM) && f->peer.family &&
	    (f->local.family == AF_INET || f->local.family == AF_INET6) &&
	    local_port_listens(&f->local))
		f->flags |= PK_TRACE_F_SERVER;
	atomic_store_explicit(&f->state, PK_FD_SOCK, memory_order_release);
	return f;
}

void pk_fd_new(int fd, uint8_t side, const struct sockaddr *peer, socklen_t peerlen)
{
	struct pk_fd *f;

	if (fd < 0 || fd >= PK_FD_MAX)
		return;
	f = &pk_fds[fd];
	if (!fd_fill(fd, f)) {
		atomic_store_explicit(&f->state, PK_FD_OTHER, memory_order_release);
		return;
	}
	f->flags |= side | PK_TRACE_F_FROM_START;
	if (peer && f->peer.family == 0)
		pk_addr_from(&f->peer, peer, peerlen);
	atomic_store_explicit(&f->state, PK_FD_SOCK, memory_order_release);
}

void pk_fd_forget(int fd)
{
	if (fd >= 0 && fd < PK_FD_MAX)
		atomic_store_explicit(&pk_fds[fd].state, PK_FD_UNKNOWN, memory_order_release);
}

void pk_fd_dup(int oldfd, int newfd)
{
	struct pk_fd *o, *n;

	if (newfd < 0 || newfd >= PK_FD_MAX)
		return;
	n = &pk_fds[newfd];
	o = pk_fd_get(oldfd);
	if (!o) {
		pk_fd_forget(newfd);
		return;
	}
	n->flags = o->flags;
	n->local = o->local;
	n->peer = o->peer;
	atomic_store(&n->off_in, atomic_load(&o->off_in));
	atomic_store(&n->off_out, atomic_load(&o->off_out));
	atomic_store(&n->tls, atomic_load(&o->tls));
	atomic_store_explicit(&n->state, PK_FD_SOCK, memory_order_release);
}

static void *flusher_main(void *arg);
static void rec_init(struct pk_trace_rec *s, uint8_t call);

static void flusher_start(void)
{
	sigset_t all, old;
	pthread_t t;
	pthread_attr_t at;
	int expect = 0;

	if (!atomic_compare_exchange_strong(&g_flusher_started, &expect, 1))
		return;
	/* the application's signals are never delivered to the flusher */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	/* no second try when it fails (a thread limit): records then wait for an exec or exit
	 * flush, and what does not fit is dropped and counted */
	(void)pthread_create(&t, &at, flusher_main, NULL);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static struct pk_ring *ring_make(void)
{
	struct pk_ring *r;
	int zero;

	for (r = atomic_load(&g_rings); r; r = atomic_load(&r->next)) {
		zero = 0;
		if (atomic_load(&r->head) == atomic_load(&r->tail) &&
		    atomic_compare_exchange_strong(&r->live, &zero, 1)) {
			r->drops = 0;
			goto own;
		}
	}
	r = (struct pk_ring *)syscall(SYS_mmap, NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	atomic_store(&r->live, 1);
	{
		struct pk_ring *h = atomic_load(&g_rings);

		do
			atomic_store(&r->next, h);
		while (!atomic_compare_exchange_weak(&g_rings, &h, r));
	}
own:
	tl_ring = r;
	pthread_setspecific(g_key, r);
	return r;
}

/* The producer of R writes its pending drop count as a DROPS record when a slot is free. */
static void ring_emit_drops(struct pk_ring *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	struct pk_trace_rec *d;

	if (!r->drops || h - t >= PK_RING_RECS)
		return;
	d = &r->recs[h % PK_RING_RECS];
	rec_init(d, PK_TRACE_DROPS);
	d->ret = r->drops;
	r->drops = 0;
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

/* Thread exit: the ring is free for the next thread once the flusher has drained it. */
static void ring_release(void *p)
{
	struct pk_ring *r = p;

	ring_emit_drops(r);
	if (tl_ring == r)
		tl_ring = NULL;
	atomic_store(&r->live, 0);
}

/* The clock when this thread's pending write began (pk_rec_start; 0: none). */
static __thread uint64_t tl_start;

void pk_rec_start(void)
{
	tl_start = mono_ns() + (uint64_t)g_skew_ns;
}

/* A record's time: a write's when the call began (its bytes cannot be read before), any
 * other call's when it returned (its bytes were there by then), so that every send precedes
 * its receive however the two threads were scheduled around the calls. */
static void rec_init(struct pk_trace_rec *s, uint8_t call)
{
	memset(s, 0, sizeof(*s));
	s->call = call;
	s->tid = my_tid();
	s->ts_ns = call == PK_TRACE_WRITE && tl_start ? tl_start : mono_ns() + (uint64_t)g_skew_ns;
}

struct pk_trace_rec *pk_rec_begin(uint8_t call)
{
	struct pk_ring *r = tl_ring;
	uint32_t h, t, need;

	if (!g_on)
		return NULL;
	if (!atomic_load_explicit(&g_flusher_started, memory_order_relaxed))
		flusher_start();
	if (!r && !(r = ring_make())) {
		atomic_fetch_add(&g_lost, 1);
		return NULL;
	}
	h = atomic_load_explicit(&r->head, memory_order_relaxed);
	t = atomic_load_explicit(&r->tail, memory_order_acquire);
	need = r->drops ? 2 : 1;
	if (h - t + need > PK_RING_RECS) {
		r->drops++;
		return NULL;
	}
	if (r->drops) {
		struct pk_trace_rec *d = &r->recs[h % PK_RING_RECS];

		rec_init(d, PK_TRACE_DROPS);
		d->ret = r->drops;
		r->drops = 0;
		h++;
	}
	r->pend = h;
	rec_init(&r->recs[h % PK_RING_RECS], call);
	return &r->recs[h % PK_RING_RECS];
}

void pk_rec_commit(struct pk_trace_rec *s)
{
	struct pk_ring *r = tl_ring;
	uint32_t h, t;

	if (!r || !s)
		return;
	h = r->pend + 1;
	atomic_store_explicit(&r->head, h, memory_order_release);
	t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (h - t == PK_RING_RECS / 2) {
		atomic_fetch_add(&g_wake, 1);
		syscall(SYS_futex, &g_wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

struct pk_trace_rec *pk_rec_fd(uint8_t call, int fd, const struct pk_fd *f)
{
	struct pk_trace_rec *s = pk_rec_begin(call);

	if (!s)
		return NULL;
	s->fd = fd;
	if (f) {
		s->flags = f->flags;
		s->local = f->local;
		s->peer = f->peer;
	}
	return s;
}

void pk_rec_data(int fd, struct pk_fd *f, bool in, int64_t ret, const struct iovec *iov,
		 size_t iovcnt, uint8_t extra_flags, const struct sockaddr *peer, socklen_t peerlen)
{
	uint64_t off = 0;
	struct pk_trace_rec *s;
	size_t want, got = 0, i;

	if (ret > 0)
		off = atomic_fetch_add(in ? &f->off_in : &f->off_out, (uint64_t)ret);
	else
		off = atomic_load(in ? &f->off_in : &f->off_out);
	s = pk_rec_fd(in ? PK_TRACE_READ : PK_TRACE_WRITE, fd, f);
	tl_start = 0;
	if (!s)
		return;
	s->ret = ret;
	s->offset = off;
	s->flags |= extra_flags;
	if (peer)
		pk_addr_from(&s->peer, peer, peerlen);
	if (ret > 0 && iov) {
		want = (size_t)ret < PK_TRACE_PEEK ? (size_t)ret : PK_TRACE_PEEK;
		for (i = 0; i < iovcnt && got < want; i++) {
			size_t n = iov[i].iov_len < want - got ? iov[i].iov_len : want - got;

			if (n && iov[i].iov_base)
				memcpy(s->peek + got, iov[i].iov_base, n);
			got += n;
		}
		s->peek_len = (uint16_t)got;
		if ((size_t)ret > got)
			s->flags |= PK_TRACE_F_PEEK_CUT;
	} else if (ret > 0) {
		s->flags |= PK_TRACE_F_PEEK_CUT;
	}
	pk_rec_commit(s);
}

/* ---- the connection to logd (under the drain lock) ---- */

static int send_all(const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		long n = syscall(SYS_sendto, g_conn, p, len, MSG_NOSIGNAL, NULL, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void pk_conn_check_fd(int fd)
{
	if (fd >= 0 && fd == atomic_load_explicit(&g_conn_seen, memory_order_relaxed))
		atomic_store(&g_conn_gone, 1);
}

static void conn_close(void)
{
	atomic_store(&g_conn_seen, -1);
	if (g_conn >= 0) {
		syscall(SYS_close, g_conn);
		pk_fd_forget(g_conn);
	}
	g_conn = -1;
}

static void read_small(const char *path, char *buf, size_t cap)
{
	long fd = syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return;
	n = syscall(SYS_read, fd, buf, cap - 1);
	if (n > 0) {
		buf[n] = 0;
		if (buf[n - 1] == '\n')
			buf[n - 1] = 0;
	}
	syscall(SYS_close, fd);
}

static int send_hello(void)
{
	struct {
		struct pk_trace_frame hdr;
		struct pk_trace_hello h;
	} m;
	struct timespec ts;
	long n;

	memset(&m, 0, sizeof(m));
	m.hdr.magic = PK_TRACE_MAGIC;
	m.hdr.type = PK_TRACE_FRAME_HELLO;
	m.hdr.len = sizeof(m.h);
	m.hdr.count = 1;
	m.h.version = PK_TRACE_VERSION;
	m.h.pid = (int32_t)syscall(SYS_getpid);
	m.h.ppid = g_ppid ? g_ppid : (int32_t)syscall(SYS_getppid);
	m.h.flags = g_hello_flags;
	m.h.mono_ns = mono_ns() + (uint64_t)g_skew_ns;
	clock_gettime(CLOCK_REALTIME, &ts);
	m.h.real_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	m.h.dropped = atomic_exchange(&g_lost, 0);
	n = syscall(SYS_readlink, "/proc/self/exe", m.h.exe, sizeof(m.h.exe) - 1);
	if (n < 0)
		m.h.exe[0] = 0;
	read_small("/proc/self/comm", m.h.comm, sizeof(m.h.comm));
	if (send_all(&m, sizeof(m)) != 0) {
		atomic_fetch_add(&g_lost, m.h.dropped);
		return -1;
	}
	return 0;
}

static void conn_try(void)
{
	struct sockaddr_un sa;
	struct rlimit rl;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 500000 };
	uint64_t now = mono_ns();
	long fd, hi;
	long low = 64;

	if (g_conn >= 0 || (g_last_try && now - g_last_try < PK_RETRY_NS) || !pk_cfg_sock[0])
		return;
	g_last_try = now;
	fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, pk_cfg_sock, sizeof(sa.sun_path) - 1);
	if (syscall(SYS_connect, fd, &sa, sizeof(sa)) != 0) {
		syscall(SYS_close, fd);
		return;
	}
	/* keep out of the application's way: a high descriptor, but only half-way up to the
	 * limit: CRIU (a clone of a traced container) puts its service descriptors above a
	 * restored process's highest one, within the limit ("Can't chose service_fd_base") */
	if (syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 2 * (rlim_t)low)
		low = rl.rlim_cur / 2 > PK_FD_MAX - 16 ? PK_FD_MAX - 16 : (long)rl.rlim_cur / 2;
	hi = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, low);
	if (hi >= 0) {
		syscall(SYS_close, fd);
		fd = hi;
	}
	syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (fd < PK_FD_MAX)
		atomic_store(&pk_fds[fd].state, PK_FD_OTHER);
	g_conn = (int)fd;
	atomic_store(&g_conn_gone, 0);
	atomic_store(&g_conn_seen, g_conn);
	if (send_hello() != 0)
		conn_close();
}

static bool drain_lock(int ms)
{
	int zero = 0;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };

	for (;;) {
		if (atomic_compare_exchange_strong(&g_drain_lock, &zero, 1))
			return true;
		if (ms-- <= 0)
			return false;
		zero = 0;
		syscall(SYS_nanosleep, &ts, NULL);
	}
}

/* Drains every ring once into frames; true when some ring still holds records. */
static bool drain(void)
{
	struct pk_ring *r;
	bool more = false;

	if (atomic_exchange(&g_conn_gone, 0) && g_conn >= 0) {
		/* the application closed it: the number is its own now */
		atomic_store(&g_conn_seen, -1);
		g_conn = -1;
	}
	conn_try();
	for (r = atomic_load(&g_rings); r; r = atomic_load(&r->next)) {
		uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
		uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
		uint32_t n = 0;

		if (g_conn < 0) {
			/* nobody to send to: count, without copying */
			n = h - t;
			t = h;
		}
		while (t != h && n < PK_FRAME_RECS) {
			g_frame.recs[n++] = r->recs[t % PK_RING_RECS];
			t++;
		}
		atomic_store_explicit(&r->tail, t, memory_order_release);
		if (t != h)
			more = true;
		if (!n)
			continue;
		if (g_conn >= 0) {
			g_frame.hdr.magic = PK_TRACE_MAGIC;
			g_frame.hdr.type = PK_TRACE_FRAME_RECS;
			g_frame.hdr.len = n * (uint32_t)sizeof(struct pk_trace_rec);
			g_frame.hdr.count = n;
			if (send_all(&g_frame, sizeof(g_frame.hdr) + g_frame.hdr.len) == 0)
				continue;
			conn_close();
		}
		atomic_fetch_add(&g_lost, n);
	}
	return more;
}

void pk_flush_now(int ms)
{
	int i;

	if (!g_on)
		return;
	if (tl_ring) {
		/* this thread's drops, then wait for the flusher to make room */
		ring_emit_drops(tl_ring);
	}
	if (!drain_lock(ms))
		return;
	g_last_try = 0; /* an exec or exit is worth one more try */
	for (i = 0; i < 64 && drain(); i++)
		;
	if (tl_ring && tl_ring->drops) {
		ring_emit_drops(tl_ring);
		drain();
	}
	atomic_store(&g_drain_lock, 0);
}

static void *flusher_main(void *arg)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = PK_FLUSH_MS * 1000000L };

	(void)arg;
	pk_tl_enter(); /* forever: nothing this thread does is recorded */
	for (;;) {
		uint32_t seen = atomic_load(&g_wake);
		bool more = false;

		if (drain_lock(0)) {
			more = drain();
			atomic_store(&g_drain_lock, 0);
		}
		if (!more)
			syscall(SYS_futex, &g_wake, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
	}
	return NULL;
}

void pk_core_atfork_child(void)
{
	struct pk_ring *r, *mine = tl_ring;

	/* the parent's flusher does not exist here; its lock may have been held */
	atomic_store(&g_drain_lock, 0);
	atomic_store(&g_flusher_started, 0);
	if (g_conn >= 0)
		syscall(SYS_close, g_conn);
	if (g_conn >= 0 && g_conn < PK_FD_MAX)
		pk_fd_forget(g_conn);
	g_conn = -1;
	atomic_store(&g_conn_seen, -1);
	atomic_store(&g_conn_gone, 0);
	g_last_try = 0;
	atomic_store(&g_lost, 0);
	tl_tid = 0;
	g_hello_flags = PK_TRACE_HELLO_FORKED |
			(g_hello_flags & (PK_TRACE_HELLO_ATTACHED | PK_TRACE_HELLO_EXEC_UNTRACED));
	g_ppid = (int32_t)syscall(SYS_getppid);
	for (r = atomic_load(&g_rings); r;) {
		struct pk_ring *next = atomic_load(&r->next);

		if (r != mine)
			syscall(SYS_munmap, r, sizeof(*r));
		r = next;
	}
	if (mine) {
		atomic_store(&mine->head, 0);
		atomic_store(&mine->tail, 0);
		atomic_store(&mine->next, NULL);
		mine->drops = 0;
	}
	atomic_store(&g_rings, mine);
}

/* Attach mode's configuration: logd's socket from PK_TRACE_ATTACH_DIR/<pid> (else the
 * default); the library's path for an exec'd image when the file it was loaded from is one the
 * process can name again (not a memfd, which is closed once loaded). */
static void attach_config(void)
{
	char path[sizeof(PK_TRACE_ATTACH_DIR) + 24];
	Dl_info info;

	g_hello_flags |= PK_TRACE_HELLO_ATTACHED;
	memcpy(path, PK_TRACE_ATTACH_DIR "/", sizeof(PK_TRACE_ATTACH_DIR));
	snprintf(path + sizeof(PK_TRACE_ATTACH_DIR), sizeof(path) - sizeof(PK_TRACE_ATTACH_DIR),
		 "%ld", (long)syscall(SYS_getpid));
	read_small(path, pk_cfg_sock, sizeof(pk_cfg_sock));
	if (!pk_cfg_sock[0])
		memcpy(pk_cfg_sock, PK_TRACE_SOCK_DEFAULT, sizeof(PK_TRACE_SOCK_DEFAULT));
	if (dladdr((void *)attach_config, &info) && info.dli_fname && info.dli_fname[0] == '/' &&
	    strncmp(info.dli_fname, "/proc/", 6) != 0 && strstr(info.dli_fname, "memfd:") == NULL &&
	    strlen(info.dli_fname) < sizeof(pk_cfg_lib))
		memcpy(pk_cfg_lib, info.dli_fname, strlen(info.dli_fname) + 1);
	else
		g_hello_flags |= PK_TRACE_HELLO_EXEC_UNTRACED;
}

__attribute__((constructor)) static void pk_trace_init(void)
{
	const char *s;
	Dl_info info;

	pk_tl_enter();
	if (pk_hook_detect()) {
		attach_config();
	} else {
		s = getenv(PK_TRACE_ENV_SOCK);
		if (!s || !*s)
			s = PK_TRACE_SOCK_DEFAULT;
		if (strlen(s) < sizeof(pk_cfg_sock))
			memcpy(pk_cfg_sock, s, strlen(s) + 1);
		s = getenv(PK_TRACE_ENV_LIB);
		if (s && *s && strlen(s) < sizeof(pk_cfg_lib))
			memcpy(pk_cfg_lib, s, strlen(s) + 1);
	}
	if (!pk_cfg_lib[0] && !pk_hook_attached() && dladdr((void *)pk_trace_init, &info) &&
	    info.dli_fname && info.dli_fname[0] == '/' &&
	    strlen(info.dli_fname) < sizeof(pk_cfg_lib))
		memcpy(pk_cfg_lib, info.dli_fname, strlen(info.dli_fname) + 1);
	s = getenv(PK_TRACE_ENV_SKEW);
	if (s && *s)
		g_skew_ns = strtoll(s, NULL, 10) * 1000000ll;
	s = getenv("PARIKSHAN_TRACE_EXEC_PID");
	if (s && *s) {
		if (s[0] == 'p' && strtol(s + 1, NULL, 10) == (long)getppid())
			g_hello_flags |= PK_TRACE_HELLO_FORKED | PK_TRACE_HELLO_EXECED;
		else if (strtol(s, NULL, 10) == (long)getpid())
			g_hello_flags |= PK_TRACE_HELLO_EXECED;
	}
	{
		int e = errno;

		pk_net_prime();
		pk_proc_prime();
		errno = e;
	}
	if (pthread_key_create(&g_key, ring_release) == 0 &&
	    pthread_atfork(NULL, NULL, pk_core_atfork_child) == 0)
		g_on = true;
	if (g_on)
		pk_hook_install();
	pk_tl_leave();
}

__attribute__((destructor)) static void pk_trace_fini(void)
{
	pk_tl_enter();
	pk_flush_now(200);
	pk_tl_leave();
}
