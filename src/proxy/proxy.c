/* proxy.c — the proxy as a whole: listeners, worker threads, signals, the admin endpoint. */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"

#define LISTEN_BACKLOG 4096
#define MAX_WORKERS 64

/* Tells whether path is "/targets/N/recloned" and sets *target to N (decimal, no sign). */
static bool reclone_path(const char *path, unsigned *target)
{
	static const char pre[] = "/targets/", post[] = "/recloned";
	unsigned n = 0;
	const char *c;

	if (strncmp(path, pre, sizeof(pre) - 1) != 0)
		return false;
	c = path + sizeof(pre) - 1;
	if (*c < '0' || *c > '9')
		return false;
	for (; *c >= '0' && *c <= '9'; c++) {
		n = n * 10 + (unsigned)(*c - '0');
		if (n >= PK_PROXY_MAX_TARGETS)
			return false;
	}
	*target = n;
	return strcmp(c, post) == 0;
}

/* POST /targets/N/recloned: whoever re-cloned target N (`up --auto-reclone`) says so; counted
 * in parikshan_debug_reclones_total.  The proxy itself does nothing else: its connections to
 * the old clone end as they fail, and --resync attaches the new one. */
static int admin_reclone(struct pk_proxy *p, const char *method, unsigned target,
			 struct pk_strbuf *body)
{
	if (strcmp(method, "POST") != 0) {
		pk_strbuf_printf(body, "POST only\n");
		return 405;
	}
	if (p->cfg.agg || (int)target >= p->cfg.ntargets) {
		pk_strbuf_printf(body, "no target %u\n", target);
		return 404;
	}
	/* the admin thread is the counter's one writer */
	PK_STAT_ADD(p->workers[0].targets[target].reclones, 1);
	pk_log(PK_LOG_INFO, "%s: target=%s recloned", p->cfg.role, p->target_names[target]);
	pk_strbuf_printf(body, "target %u recloned\n", target);
	return 200;
}

static int admin_handler(const char *method, const char *path, struct pk_strbuf *body,
			 const char **ctype, void *data)
{
	struct pk_proxy *p = data;
	unsigned target;

	if (reclone_path(path, &target))
		return admin_reclone(p, method, target, body);
	if (strcmp(path, "/pairing/reset") == 0) {
		if (strcmp(method, "POST") != 0) {
			pk_strbuf_printf(body, "POST only\n");
			return 405;
		}
		if (!p->cfg.agg) {
			pk_strbuf_printf(body, "not an aggregator\n");
			return 404;
		}
		__atomic_add_fetch(&p->pair_epoch, 1, __ATOMIC_RELEASE);
		pk_log(PK_LOG_INFO,
		       "agg: pairing reset: the next connections on both sides are #1");
		pk_strbuf_printf(body, "pairing reset\n");
		return 200;
	}
	if (strcmp(method, "GET") != 0) {
		pk_strbuf_printf(body, "GET only\n");
		return 405;
	}
	if (strcmp(path, "/metrics") == 0) {
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		pk_proxy_metrics(data, body);
		return 200;
	}
	if (strcmp(path, "/status.json") == 0) {
		struct pk_proxy_status st;

		*ctype = "application/json";
		pk_proxy_status_get(p, &st);
		return pk_proxy_status_write(&st, body) == 0 ? 200 : 500;
	}
	if (strcmp(path, "/") == 0) {
		pk_strbuf_printf(body, "parikshan admin: GET /metrics, GET /status.json, %s\n",
				 p->cfg.agg ? "POST /pairing/reset" : "POST /targets/N/recloned");
		return 200;
	}
	pk_strbuf_printf(body, "not found\n");
	return 404;
}

static int worker_count(const struct pk_proxy_config *cfg)
{
	if (cfg->agg) /* pairing goes by accept order: one loop */
		return 1;
	long n = cfg->threads > 0 ? cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* Opens one SO_REUSEPORT listener per worker on the same port.  A plain bind first checks that
 * nobody else holds the port (SO_REUSEPORT alone would silently share it with another
 * process of the same user).  Returns 0 or -errno. */
static int open_listeners(struct pk_proxy *p, int *fds)
{
	struct pk_addr a = p->cfg.listen;
	int probe = pk_sock_listen(&a, 1), port;

	if (probe < 0)
		return probe;
	close(probe);
	for (int i = 0; i < p->nworkers; i++) {
		fds[i] = pk_sock_listen_shared(&a, LISTEN_BACKLOG);
		if (fds[i] < 0) {
			int err = fds[i];

			while (i-- > 0)
				close(fds[i]);
			return err;
		}
		if (i == 0) { /* with port 0, the others must join the port the kernel picked */
			port = pk_sock_local_port(fds[0]);
			p->listen_port = port;
			if (a.ss.ss_family == AF_INET6)
				((struct sockaddr_in6 *)&a.ss)->sin6_port = htons((uint16_t)port);
			else
				((struct sockaddr_in *)&a.ss)->sin_port = htons((uint16_t)port);
		}
	}
	return 0;
}

const char *pk_proxy_step_name(enum pk_proxy_step step)
{
	static const char *const names[] = {
#define PK_PROXY_STEP_NAME(id, text) [PK_PROXY_STEP_##id] = text,
		PK_PROXY_STEPS(PK_PROXY_STEP_NAME)
#undef PK_PROXY_STEP_NAME
	};

	return (unsigned)step < sizeof(names) / sizeof(names[0]) ? names[step] : "?";
}

/* The proxy's step for the recorder's step that failed. */
static enum pk_proxy_step record_step(enum pk_rec_step rs)
{
	switch (rs) {
	case PK_REC_STEP_OPEN:
		return PK_PROXY_STEP_RECORD_OPEN;
	case PK_REC_STEP_WRITE:
		return PK_PROXY_STEP_RECORD_WRITE;
	case PK_REC_STEP_THREAD:
		return PK_PROXY_STEP_RECORD_THREAD;
	default:
		return PK_PROXY_STEP_RECORD_ALLOC;
	}
}

struct pk_proxy *pk_proxy_new(const struct pk_proxy_config *cfg, enum pk_proxy_step *step)
{
	struct pk_proxy *p = calloc(1, sizeof(*p));
	int fds[MAX_WORKERS], dlfd = -1, n, err;

	*step = PK_PROXY_STEP_ALLOC;
	if (!p)
		return NULL;
	p->cfg = *cfg;
	pk_addr_str(&cfg->prod, p->prod_name, sizeof(p->prod_name));
	for (int i = 0; i < cfg->ntargets; i++)
		pk_addr_str(&cfg->targets[i], p->target_names[i], sizeof(p->target_names[i]));
	pk_io_init(&p->sigio, -1, NULL, p);
	p->cmp_log_fd = -1;
	n = worker_count(cfg);
	p->workers = calloc((size_t)n, sizeof(*p->workers));
	if (!p->workers)
		goto fail;
	p->nworkers = n; /* how many there will be; p->ninit says how many to release */
	*step = PK_PROXY_STEP_LOOP;
	p->loop = pk_loop_new();
	if (!p->loop)
		goto fail;
	/* The recorder and the debug side first: a failure there leaves no listener to close
	 * (pk_proxy_free() closes the recorder). */
	if (cfg->record) {
		struct pk_rec_opts ro = *cfg->record;

		enum pk_rec_step rs = PK_REC_STEP_ALLOC;

		ro.nqueues = n;
		p->rec = pk_rec_open(&ro, &rs);
		if (!p->rec) {
			*step = record_step(rs);
			goto fail;
		}
	}
	*step = PK_PROXY_STEP_COMPARE_LOG;
	err = pk_compare_log_open(p);
	if (err) {
		errno = -err;
		goto fail;
	}
	if (cfg->agg) {
		*step = PK_PROXY_STEP_DEBUG_LISTEN;
		dlfd = pk_sock_listen_freebind(&cfg->debug_listen, LISTEN_BACKLOG);
		if (dlfd < 0) {
			errno = -dlfd;
			goto fail;
		}
		p->debug_port = pk_sock_local_port(dlfd);
	}
	*step = PK_PROXY_STEP_LISTEN;
	err = open_listeners(p, fds);
	if (err) {
		if (dlfd >= 0)
			close(dlfd);
		errno = -err;
		goto fail;
	}
	*step = PK_PROXY_STEP_WORKER;
	for (int i = 0; i < n; i++) {
		/* counted before init: a worker that failed half-way is released too */
		p->ninit = i + 1;
		err = pk_worker_init(&p->workers[i], p, i, fds[i], i == 0 ? dlfd : -1);
		if (err) {
			for (int j = i + 1; j < n; j++)
				close(fds[j]);
			errno = -err;
			goto fail;
		}
	}
	if (cfg->admin_enabled) {
		*step = PK_PROXY_STEP_ADMIN_LISTEN;
		p->admin = pk_httpd_new(p->loop, &cfg->admin, admin_handler, p);
		if (!p->admin)
			goto fail;
	}
	*step = PK_PROXY_STEP_NOFILE;
	err = pk_cap_init(p); /* last: every fixed fd is open */
	if (err) {
		errno = -err;
		goto fail;
	}
	return p;
fail:
	err = errno;
	pk_proxy_free(p);
	errno = err;
	return NULL;
}

int pk_proxy_listen_port(const struct pk_proxy *p)
{
	return p->listen_port;
}

int pk_proxy_debug_port(const struct pk_proxy *p)
{
	return p->debug_port;
}

static void on_signal(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_proxy *p = io->data;
	struct signalfd_siginfo si;

	if (read(io->fd, &si, sizeof(si)) != sizeof(si))
		return;
	pk_log(PK_LOG_INFO, "%s: signal %u: no longer accepting; draining", p->cfg.role,
	       si.ssi_signo);
	for (int i = 0; i < p->nworkers; i++)
		pk_worker_stop(&p->workers[i]);
	pk_loop_stop(loop);
}

static void main_before_sleep(struct pk_loop *loop, void *data)
{
	struct pk_proxy *p = data;

	if (p->admin)
		pk_httpd_reap(p->admin);
}

int pk_proxy_run(struct pk_proxy *p)
{
	sigset_t set, old;
	int sfd, err = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Blocked before the workers start, so that they inherit the mask and only the signalfd
	 * of this thread sees the signals. */
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		return -errno;
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		err = -errno;
		goto restore;
	}
	pk_io_init(&p->sigio, sfd, on_signal, p);
	err = pk_io_add(p->loop, &p->sigio, PK_READ);
	if (err)
		goto close_sfd;
	pk_loop_set_before_sleep(p->loop, main_before_sleep, p);
	for (int i = 0; i < p->nworkers && !err; i++)
		err = pk_worker_start(&p->workers[i]);
	if (err) {
		pk_log(PK_LOG_ERROR, "%s: starting a worker thread: %s", p->cfg.role,
		       strerror(-err));
		for (int i = 0; i < p->nworkers; i++)
			pk_worker_stop(&p->workers[i]);
	} else {
		err = pk_loop_run(p->loop);
		if (err) /* the admin loop failed: stop the workers all the same */
			for (int i = 0; i < p->nworkers; i++)
				pk_worker_stop(&p->workers[i]);
	}
	for (int i = 0; i < p->nworkers; i++)
		pk_worker_release(&p->workers[i]);
	pk_io_del(p->loop, &p->sigio);
close_sfd:
	close(sfd);
restore:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return err;
}

void pk_proxy_free(struct pk_proxy *p)
{
	if (!p)
		return;
	PK_BUG_ON(p->ninit > p->nworkers || (p->ninit && !p->workers));
	for (int i = 0; i < p->ninit; i++) {
		pk_worker_stop(&p->workers[i]);
		pk_worker_release(&p->workers[i]);
	}
	free(p->workers);
	pk_rec_close(p->rec); /* after the workers: their last records are written out */
	pk_compare_log_close(p);
	pk_httpd_free(p->admin);
	pk_loop_free(p->loop);
	free(p);
}
