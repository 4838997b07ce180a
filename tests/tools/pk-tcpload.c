/*
 * pk-tcpload - TCP byte-integrity load tool for Parikshan integration tests.
 *
 * Contract (all addresses must be in 127.0.0.0/8; default 127.0.0.1):
 *
 * echo --port P [--addr A] [--conns N] [--no-echo] [--timeout S]
 *   Listens on A:P (P 0 = any free port), then prints "listening A:PORT"
 *   (flushed). Echoes every byte received on a connection (--no-echo: sink
 *   only) via a 256 KiB per-connection buffer; reading pauses while it is
 *   full, nothing is dropped. Hashes each connection's received bytes with
 *   XXH64 (seed 0). A connection completes once the peer has half-closed
 *   and the echo is flushed: shutdown(SHUT_WR), close. After N completed
 *   connections (with --conns) or on SIGINT/SIGTERM, prints
 *     conns=<completed> bytes=<received on completed> xor=<%016x>
 *   (xor: XOR of the per-connection hashes) and exits 0.
 *
 * client --port P [--addr A] --conns N --bytes B [--seed S] [--chunk C]
 *        [--no-echo] [--timeout S]
 *   Opens N connections at once; sends B pseudo-random bytes on each (a
 *   pure function of S, default 1, and the connection index) in writes of
 *   random size 1..C (default 16384); shutdown(SHUT_WR); reads until EOF.
 *   Unless --no-echo, the received bytes must equal the sent ones exactly.
 *   EOF before all bytes were sent is an error. Prints one line
 *     conns=<completed> bytes=<sent on completed> xor=<%016x>
 *     echo_ok=<n> errors=<n>                            (all on one line)
 *   where xor is as for echo but over the sent bytes, so both sides agree
 *   when the bytes arrive intact. Exits 0 only if all N completed with no
 *   errors and (unless --no-echo) echo_ok=N; else explains on stderr, 1.
 *
 * Both: after --timeout seconds (default 60) an error goes to stderr, the
 * summary line to stdout, and the exit status is 1. Bad usage: exit 2 with
 * "pk-tcpload: <what>: <why>" on stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <xxhash.h>

#define PROG "pk-tcpload"
#define ECHO_CAP (256 * 1024) /* per-connection echo backlog */
#define SCRATCH_MIN (64 * 1024)
#define MAX_EVENTS 256
#define MAX_ACCEPTS 256 /* accepts per wake-up */
#define MAX_CONNS 100000
#define MAX_FDS (1 << 20) /* cap for the raised RLIMIT_NOFILE */
#define MAX_CHUNK (1024 * 1024)
#define MAX_ERRMSG 10 /* detailed messages per kind */

static struct opts {
	bool client, no_echo, have_port, have_conns, have_bytes;
	const char *addr;
	uint64_t port, conns, bytes, seed, chunk, timeout;
	struct sockaddr_in sa;
} o;

/* Shared run state; both modes are single-threaded. */
static int ep = -1;
static unsigned char *rxbuf;
static size_t bufsize;
static uint64_t n_done, n_err, n_bad, n_echo_ok, n_bytes, xor_all;

static const char usage_text[] =
	"usage:\n"
	"  " PROG " echo --port P [--addr A] [--conns N] [--no-echo]\n"
	"         [--timeout S]\n"
	"  " PROG " client --port P [--addr A] --conns N --bytes B [--seed S]\n"
	"         [--chunk C] [--no-echo] [--timeout S]\n"
	"  A must be in 127.0.0.0/8 (default 127.0.0.1); S defaults to 60 s.\n"
	"  client: --seed defaults to 1, --chunk (max write size) to 16384.\n";

static void __attribute__((noreturn, format(printf, 2, 3))) die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		die(2, "%s: '%s': not a non-negative integer", flag, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		die(2, "%s: '%s': not a valid integer", flag, s);
	if (v < min || v > max)
		die(2, "%s: %llu: out of range [%" PRIu64 ", %" PRIu64 "]", flag, v, min, max);
	return v;
}

static void parse_args(int argc, char **argv)
{
	int i;

	o.addr = "127.0.0.1";
	o.seed = 1;
	o.chunk = 16384;
	o.timeout = 60;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_text, stdout);
			exit(0);
		}
	}
	if (argc < 2)
		die(2, "mode: missing (expected 'echo' or 'client')");
	if (!strcmp(argv[1], "client"))
		o.client = true;
	else if (strcmp(argv[1], "echo"))
		die(2, "%s: unknown mode (expected 'echo' or 'client')", argv[1]);

	for (i = 2; i < argc; i++) {
		const char *f = argv[i];

		if (!strcmp(f, "--no-echo")) {
			o.no_echo = true;
			continue;
		}
		if (strncmp(f, "--", 2))
			die(2, "%s: unexpected argument", f);
		if (i + 1 >= argc)
			die(2, "%s: missing value", f);
		if (!strcmp(f, "--port")) {
			o.port = parse_u64(f, argv[++i], o.client, 65535);
			o.have_port = true;
		} else if (!strcmp(f, "--addr")) {
			o.addr = argv[++i];
		} else if (!strcmp(f, "--conns")) {
			o.conns = parse_u64(f, argv[++i], 1, MAX_CONNS);
			o.have_conns = true;
		} else if (!strcmp(f, "--timeout")) {
			o.timeout = parse_u64(f, argv[++i], 1, 86400);
		} else if (o.client && !strcmp(f, "--bytes")) {
			o.bytes = parse_u64(f, argv[++i], 0, 1ULL << 40);
			o.have_bytes = true;
		} else if (o.client && !strcmp(f, "--seed")) {
			o.seed = parse_u64(f, argv[++i], 0, UINT64_MAX);
		} else if (o.client && !strcmp(f, "--chunk")) {
			o.chunk = parse_u64(f, argv[++i], 1, MAX_CHUNK);
		} else {
			die(2, "%s: unknown option for mode %s", f, argv[1]);
		}
	}
	if (!o.have_port || (o.client && (!o.have_conns || !o.have_bytes)))
		die(2, "%s: required option missing (see --help)",
		    !o.have_port    ? "--port"
		    : !o.have_conns ? "--conns"
				    : "--bytes");

	o.sa.sin_family = AF_INET;
	o.sa.sin_port = htons((uint16_t)o.port);
	if (inet_pton(AF_INET, o.addr, &o.sa.sin_addr) != 1)
		die(2, "--addr: '%s': not an IPv4 address", o.addr);
	if ((ntohl(o.sa.sin_addr.s_addr) >> 24) != 127)
		die(2, "--addr: '%s': must be in 127.0.0.0/8", o.addr);
}

/* Raise the soft fd limit to the hard one (at most MAX_FDS); return it. */
static uint64_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < MAX_FDS) {
		rl.rlim_cur = rl.rlim_max < MAX_FDS ? rl.rlim_max : MAX_FDS;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			fprintf(stderr, PROG ": setrlimit: %s\n", strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur < MAX_FDS ? rl.rlim_cur : MAX_FDS;
}

static void ep_set(int op, int fd, uint32_t ev, uint64_t data)
{
	struct epoll_event e = { .events = ev, .data.u64 = data };

	if (epoll_ctl(ep, op, fd, &e))
		die(1, "epoll_ctl(fd %d): %s", fd, strerror(errno));
}

/*
 * Dispatch epoll events until finished() or the --timeout deadline passes
 * (then returns false). Each wake-up handles at most MAX_EVENTS events.
 */
static bool event_loop(bool (*finished)(void), void (*handle)(const struct epoll_event *))
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t deadline = now_ms() + o.timeout * 1000, now;
	int n, i;

	while (!finished()) {
		now = now_ms();
		if (now >= deadline)
			return false;
		n = epoll_wait(ep, evs, MAX_EVENTS,
			       deadline - now > 1000 ? 1000 : (int)(deadline - now));
		if (n < 0 && errno != EINTR)
			die(1, "epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++)
			handle(&evs[i]);
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* echo server                                                         */

struct econn {
	int fd;
	bool eof;
	uint32_t ev;
	size_t head, len;   /* ring buffer of bytes waiting to be echoed */
	unsigned char *buf; /* NULL in --no-echo mode */
	uint64_t bytes;
	XXH64_state_t *hs;
};

static struct econn **tab; /* indexed by fd */
static size_t tabsize;
static int lfd = -1, sfd = -1;
static bool got_signal;

/* Close and forget a connection; what != NULL: it failed in errno. */
static void econn_close(struct econn *c, const char *what)
{
	if (what && n_err++ < MAX_ERRMSG)
		fprintf(stderr, PROG ": echo: fd %d: %s: %s\n", c->fd, what, strerror(errno));
	tab[c->fd] = NULL;
	close(c->fd);
	XXH64_freeState(c->hs);
	free(c->buf);
	free(c);
}

/* One read if there is room, then one write if bytes are pending. */
static void econn_io(struct econn *c)
{
	unsigned char *p = rxbuf;
	size_t room = bufsize, tail;
	uint32_t want;
	ssize_t n;

	if (!c->eof && c->len < ECHO_CAP) {
		if (c->buf) {
			if (c->len == 0)
				c->head = 0;
			tail = (c->head + c->len) % ECHO_CAP;
			room = tail >= c->head ? ECHO_CAP - tail : c->head - tail;
			p = c->buf + tail;
		}
		n = recv(c->fd, p, room, 0);
		if (n > 0) {
			XXH64_update(c->hs, p, (size_t)n);
			c->bytes += (uint64_t)n;
			if (c->buf)
				c->len += (size_t)n;
		} else if (n == 0) {
			c->eof = true;
		} else if (errno != EAGAIN && errno != EINTR) {
			econn_close(c, "recv");
			return;
		}
	}
	if (c->len > 0) {
		room = ECHO_CAP - c->head;
		n = send(c->fd, c->buf + c->head, c->len < room ? c->len : room, MSG_NOSIGNAL);
		if (n > 0) {
			c->head = (c->head + (size_t)n) % ECHO_CAP;
			c->len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			econn_close(c, "send");
			return;
		}
	}
	if (c->eof && c->len == 0) {
		if (shutdown(c->fd, SHUT_WR) && errno != ENOTCONN) {
			econn_close(c, "shutdown");
			return;
		}
		n_done++;
		n_bytes += c->bytes;
		xor_all ^= XXH64_digest(c->hs);
		econn_close(c, NULL);
		return;
	}
	want = (!c->eof && c->len < ECHO_CAP ? EPOLLIN : 0) | (c->len > 0 ? EPOLLOUT : 0);
	if (want != c->ev) {
		ep_set(EPOLL_CTL_MOD, c->fd, want, (uint64_t)c->fd);
		c->ev = want;
	}
}

static void echo_accept(void)
{
	static bool warned;
	struct econn *c;
	int i, fd;

	for (i = 0; i < MAX_ACCEPTS; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && !warned) {
				warned = true; /* e.g. EMFILE: retried later */
				fprintf(stderr, PROG ": echo: accept: %s\n", strerror(errno));
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		if ((size_t)fd >= tabsize || !c)
			die(1, "echo: cannot track connection fd %d", fd);
		c->fd = fd;
		c->hs = XXH64_createState();
		c->buf = o.no_echo ? NULL : malloc(ECHO_CAP);
		if (!c->hs || (!o.no_echo && !c->buf))
			die(1, "echo: out of memory");
		XXH64_reset(c->hs, 0);
		c->ev = EPOLLIN;
		tab[fd] = c;
		ep_set(EPOLL_CTL_ADD, fd, c->ev, (uint64_t)fd);
	}
}

static bool echo_finished(void)
{
	return got_signal || (o.have_conns && n_done >= o.conns);
}

static void echo_handle(const struct epoll_event *e)
{
	int fd = (int)e->data.u64;

	if (fd == lfd)
		echo_accept();
	else if (fd == sfd)
		got_signal = true;
	else if (tab[fd])
		econn_io(tab[fd]);
}

static int run_echo(uint64_t nofile)
{
	struct sockaddr_in sa = o.sa;
	socklen_t salen = sizeof(sa);
	sigset_t set;
	int one = 1, rc = 0;

	tabsize = nofile;
	tab = calloc(tabsize, sizeof(*tab));
	if (!tab)
		die(1, "echo: out of memory");

	/* Signals are blocked before "listening" so none can be lost. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die(1, "sigprocmask: %s", strerror(errno));
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sfd < 0 || lfd < 0)
		die(1, "echo: setup: %s", strerror(errno));
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen))
		die(1, "echo: listen on %s:%" PRIu64 ": %s", o.addr, o.port, strerror(errno));
	ep_set(EPOLL_CTL_ADD, lfd, EPOLLIN, (uint64_t)lfd);
	ep_set(EPOLL_CTL_ADD, sfd, EPOLLIN, (uint64_t)sfd);
	printf("listening %s:%u\n", o.addr, ntohs(sa.sin_port));
	fflush(stdout);

	if (!event_loop(echo_finished, echo_handle)) {
		fprintf(stderr,
			PROG ": echo: timeout after %" PRIu64 " s (%" PRIu64
			     " connections completed)\n",
			o.timeout, n_done);
		rc = 1;
	}
	if (n_err)
		fprintf(stderr, PROG ": echo: %" PRIu64 " connections aborted with errors\n",
			n_err);
	printf("conns=%" PRIu64 " bytes=%" PRIu64 " xor=%016" PRIx64 "\n", n_done, n_bytes,
	       xor_all);
	fflush(stdout);
	return rc;
}

/* ------------------------------------------------------------------ */
/* client                                                              */

/* splitmix64 finaliser */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * A connection's stream is random-access: the byte at offset off is byte
 * (off % 8), little-endian, of mix64(key ^ (off / 8)). So the echo can be
 * verified against a regenerated stream without keeping sent data.
 */
static void gen_fill(uint64_t key, uint64_t off, unsigned char *p, size_t len)
{
	while (len) {
		uint64_t v = mix64(key ^ (off / 8));
		unsigned int b;

		for (b = off % 8; b < 8 && len; b++, off++, len--)
			*p++ = (unsigned char)(v >> (8 * b));
	}
}

struct cconn {
	int fd;
	uint32_t ev;
	bool connected, wr_done, rd_eof, bad_echo;
	uint64_t key, rng, sent, chunk_left, recvd;
	XXH64_state_t *hs;
};

static struct cconn *cs;
static unsigned char *txbuf, *expbuf;
static uint64_t n_finished; /* completed or failed */

/* Finish a connection; what != NULL: it failed (err: errno or 0). */
static void cc_close(struct cconn *c, const char *what, int err)
{
	if (what && n_err++ < MAX_ERRMSG)
		fprintf(stderr, PROG ": client: conn %td: %s: %s\n", c - cs, what,
			err ? strerror(err) : "protocol error");
	close(c->fd);
	c->fd = -1;
	n_finished++;
}

static void cc_bad_echo(struct cconn *c, uint64_t off, const char *why)
{
	c->bad_echo = true;
	if (n_bad++ < MAX_ERRMSG)
		fprintf(stderr,
			PROG ": client: conn %td: echo mismatch: %s "
			     "at offset %" PRIu64 " (sent %" PRIu64 " bytes)\n",
			c - cs, why, off, o.bytes);
}

/* One write of (the rest of) the current random-sized chunk. */
static void cc_send(struct cconn *c)
{
	uint64_t left = o.bytes - c->sent;
	ssize_t n;

	if (left) {
		if (!c->chunk_left)
			c->chunk_left = 1 + xorshift64(&c->rng) % o.chunk;
		if (c->chunk_left > left)
			c->chunk_left = left;
		gen_fill(c->key, c->sent, txbuf, c->chunk_left);
		n = send(c->fd, txbuf, c->chunk_left, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				cc_close(c, "send", errno);
			return;
		}
		XXH64_update(c->hs, txbuf, (size_t)n);
		c->sent += (uint64_t)n;
		c->chunk_left -= (uint64_t)n;
	}
	if (c->sent == o.bytes) {
		if (shutdown(c->fd, SHUT_WR)) {
			cc_close(c, "shutdown", errno);
			return;
		}
		c->wr_done = true;
	}
}

/* One read; unless --no-echo, compare it with the regenerated stream. */
static void cc_recv(struct cconn *c)
{
	ssize_t n = recv(c->fd, rxbuf, bufsize, 0);
	size_t len = n > 0 ? (size_t)n : 0, want, k;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && !c->wr_done)) {
		cc_close(c, n ? "recv" : "EOF before all data was sent", n ? errno : 0);
		return;
	}
	if (n == 0)
		c->rd_eof = true;
	if (len && !o.no_echo && !c->bad_echo) {
		want = o.bytes - c->recvd < len ? o.bytes - c->recvd : len;
		gen_fill(c->key, c->recvd, expbuf, want);
		if (memcmp(expbuf, rxbuf, want)) {
			for (k = 0; k < want && expbuf[k] == rxbuf[k]; k++)
				;
			cc_bad_echo(c, c->recvd + k, "content differs");
		} else if (want < len) {
			cc_bad_echo(c, o.bytes, "more bytes than sent");
		}
	}
	c->recvd += len;
}

static void cc_event(struct cconn *c, uint32_t ev)
{
	socklen_t len = sizeof(int);
	uint32_t want;
	int err = 0;

	if (!c->connected) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err || !(ev & EPOLLOUT)) {
			if (err)
				cc_close(c, "connect", err);
			return;
		}
		c->connected = true;
	}
	if (!c->wr_done)
		cc_send(c);
	if (c->fd >= 0 && !c->rd_eof && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		cc_recv(c);
	if (c->fd < 0)
		return;
	if (c->wr_done && c->rd_eof) {
		n_done++;
		n_bytes += c->sent;
		xor_all ^= XXH64_digest(c->hs);
		if (!o.no_echo && !c->bad_echo && c->recvd != o.bytes)
			cc_bad_echo(c, c->recvd, "echo ended early");
		if (!o.no_echo && !c->bad_echo)
			n_echo_ok++;
		cc_close(c, NULL, 0);
		return;
	}
	want = (c->wr_done ? 0 : EPOLLOUT) | (c->rd_eof ? 0 : EPOLLIN);
	if (want != c->ev) {
		ep_set(EPOLL_CTL_MOD, c->fd, want, (uint64_t)(c - cs));
		c->ev = want;
	}
}

static bool client_finished(void)
{
	return n_finished >= o.conns;
}

static void client_handle(const struct epoll_event *e)
{
	struct cconn *c = &cs[e->data.u64];

	if (c->fd >= 0)
		cc_event(c, e->events);
}

static int run_client(uint64_t nofile)
{
	uint64_t i, base;
	bool ok;

	if (o.conns + 16 > nofile)
		die(1, "client: --conns %" PRIu64 " exceeds fd limit %" PRIu64, o.conns, nofile);
	cs = calloc(o.conns, sizeof(*cs));
	txbuf = malloc(bufsize);
	expbuf = malloc(bufsize);
	if (!cs || !txbuf || !expbuf)
		die(1, "client: out of memory");

	for (i = 0; i < o.conns; i++) {
		struct cconn *c = &cs[i];

		base = o.seed * 1000003ULL + i;
		c->rng = mix64(base) ? mix64(base) : 1;
		c->key = mix64(base ^ 0xa5a5a5a5a5a5a5a5ULL);
		c->hs = XXH64_createState();
		if (!c->hs)
			die(1, "client: out of memory");
		XXH64_reset(c->hs, 0);
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			die(1, "client: socket: %s", strerror(errno));
		if (connect(c->fd, (const struct sockaddr *)&o.sa, sizeof(o.sa)) &&
		    errno != EINPROGRESS) {
			cc_close(c, "connect", errno);
			continue;
		}
		c->ev = EPOLLOUT;
		ep_set(EPOLL_CTL_ADD, c->fd, c->ev, i);
	}

	if (!event_loop(client_finished, client_handle))
		fprintf(stderr,
			PROG ": client: timeout after %" PRIu64 " s (%" PRIu64 " of %" PRIu64
			     " connections unfinished)\n",
			o.timeout, o.conns - n_finished, o.conns);
	printf("conns=%" PRIu64 " bytes=%" PRIu64 " xor=%016" PRIx64 " echo_ok=%" PRIu64
	       " errors=%" PRIu64 "\n",
	       n_done, n_bytes, xor_all, n_echo_ok, n_err);
	fflush(stdout);
	ok = n_done == o.conns && !n_err && (o.no_echo || n_echo_ok == o.conns);
	if (!ok)
		fprintf(stderr,
			PROG ": client: FAILED: %" PRIu64 "/%" PRIu64 " completed, %" PRIu64
			     " errors, %" PRIu64 " echo mismatches\n",
			n_done, o.conns, n_err, n_bad);
	return ok ? 0 : 1;
}

/*
 * Nothing is freed or closed at exit: the kernel reclaims fds, and all heap
 * memory stays reachable from globals, so LeakSanitizer has nothing to say.
 */
int main(int argc, char **argv)
{
	uint64_t nofile;

	parse_args(argc, argv);
	nofile = raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	bufsize = o.chunk > SCRATCH_MIN ? o.chunk : SCRATCH_MIN;
	rxbuf = malloc(bufsize);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!rxbuf || ep < 0)
		die(1, "setup: %s", strerror(errno));
	return o.client ? run_client(nofile) : run_echo(nofile);
}
