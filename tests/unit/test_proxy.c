/* test_proxy.c — the proxy core in-process, through its public API (proxy.h): pk_proxy_new()
 * on port 0 with two workers, pk_proxy_run() on a thread, echo servers on threads of this
 * process as production and debug targets.  Checks that the clients' bytes reach production
 * and every debug target unchanged, that production's answers come back byte-exact, that the
 * metrics count what happened, and that a debug target that refuses connections or stops
 * reading is desynced while production's traffic is untouched; and, as the aggregator, that
 * a clone's connection on the debug side gets the answers production's connection got.
 *
 * pk_proxy_run() stops on SIGTERM read through a signalfd: main() blocks SIGINT and SIGTERM
 * before any thread starts, so every thread inherits the mask and the signal stays pending
 * until the proxy's signalfd reads it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/prom.h"
#include "common/sock.h"
#include "common/strbuf.h"
#include "proxy/proxy.h"
#include "unit.h"

#define MAX_CONNS 16
#define DEADLINE_NS (30ull * 1000000000ull) /* generous: ASan on a loaded 2-core machine */

/* ---- servers on threads: echo (production, a debug target) or stall (never reads) ---- */

struct srv {
	int lfd, port;
	bool echo; /* false: accept and never read */
	pthread_t acceptor;
	pthread_t th[MAX_CONNS];
	int fds[MAX_CONNS];
	int nconns;	   /* written by the acceptor; read after it is joined */
	uint64_t bytes_in; /* __atomic */
	uint64_t hash_sum; /* __atomic: sum of the FNV-1a hashes of ended connections */
	int eofs;	   /* __atomic: connections whose peer half-closed */
	struct srv_conn *conns[MAX_CONNS];
};

struct srv_conn {
	struct srv *s;
	int fd;
};

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

#define FNV_INIT 14695981039346656037ull

/* Writes all of buf on a blocking fd; false on error. */
static bool write_all(int fd, const unsigned char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

static void *echo_conn(void *arg)
{
	struct srv_conn *c = arg;
	unsigned char buf[16384];
	uint64_t h = FNV_INIT;

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0) {
				__atomic_add_fetch(&c->s->hash_sum, h, __ATOMIC_SEQ_CST);
				__atomic_add_fetch(&c->s->eofs, 1, __ATOMIC_SEQ_CST);
				shutdown(c->fd, SHUT_WR);
			}
			return NULL;
		}
		h = fnv1a(h, buf, (size_t)n);
		__atomic_add_fetch(&c->s->bytes_in, (uint64_t)n, __ATOMIC_SEQ_CST);
		if (!write_all(c->fd, buf, (size_t)n))
			return NULL;
	}
}

static void *acceptor(void *arg)
{
	struct srv *s = arg;

	while (s->nconns < MAX_CONNS) {
		int fd = accept(s->lfd, NULL, NULL);
		struct srv_conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down by srv_stop() */
		}
		s->fds[s->nconns] = fd;
		c = calloc(1, sizeof(*c));
		s->conns[s->nconns] = c;
		if (c && s->echo) {
			c->s = s;
			c->fd = fd;
			if (pthread_create(&s->th[s->nconns], NULL, echo_conn, c) != 0) {
				free(c);
				s->conns[s->nconns] = NULL;
			}
		}
		s->nconns++;
	}
	return NULL;
}

/* A blocking listener on 127.0.0.1:0 (rcvbuf bytes of receive buffer when > 0). */
static int listen_local(int rcvbuf, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static bool srv_start(struct srv *s, bool echo)
{
	memset(s, 0, sizeof(*s));
	s->echo = echo;
	s->lfd = listen_local(echo ? 0 : 4096, &s->port);
	if (s->lfd < 0)
		return false;
	if (listen(s->lfd, 64) < 0 || pthread_create(&s->acceptor, NULL, acceptor, s) != 0) {
		close(s->lfd);
		return false;
	}
	return true;
}

static void srv_stop(struct srv *s)
{
	shutdown(s->lfd, SHUT_RDWR); /* wakes accept() */
	pthread_join(s->acceptor, NULL);
	for (int i = 0; i < s->nconns; i++) {
		shutdown(s->fds[i], SHUT_RDWR); /* wakes the connection's recv() */
		if (s->echo && s->conns[i])
			pthread_join(s->th[i], NULL);
		close(s->fds[i]);
		free(s->conns[i]);
	}
	close(s->lfd);
}

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_SEQ_CST);
}

static int load_int(const int *v)
{
	return __atomic_load_n(v, __ATOMIC_SEQ_CST);
}

/* ---- the proxy on a thread ---- */

struct running {
	struct pk_proxy *p;
	pthread_t th;
	int rc;
};

static void *run_proxy(void *arg)
{
	struct running *r = arg;

	r->rc = pk_proxy_run(r->p);
	return NULL;
}

static void config_init(struct pk_proxy_config *cfg, int prod_port)
{
	char err[128];

	memset(cfg, 0, sizeof(*cfg));
	cfg->role = "dup";
	pk_addr_resolve("127.0.0.1", 0, &cfg->listen, err, sizeof(err));
	pk_addr_resolve("127.0.0.1", (uint16_t)prod_port, &cfg->prod, err, sizeof(err));
	cfg->mode = PK_PROXY_ASYNC;
	cfg->buffer_size = 1 << 20;
	cfg->flush_ns = 1000000;
	cfg->drain_ns = 1000000000ull;
	cfg->threads = 2;
	cfg->resync = PK_PROTO_NONE;
}

static void config_add_target(struct pk_proxy_config *cfg, int port)
{
	char err[128];

	pk_addr_resolve("127.0.0.1", (uint16_t)port, &cfg->targets[cfg->ntargets++], err,
			sizeof(err));
}

static bool proxy_start(const struct pk_proxy_config *cfg, struct running *r)
{
	enum pk_proxy_step step = PK_PROXY_STEP_ALLOC;

	memset(r, 0, sizeof(*r));
	r->p = pk_proxy_new(cfg, &step);
	if (!r->p) {
		printf("  pk_proxy_new: %s: %s\n", pk_proxy_step_name(step), strerror(errno));
		return false;
	}
	if (pthread_create(&r->th, NULL, run_proxy, r) != 0) {
		pk_proxy_free(r->p);
		return false;
	}
	return true;
}

/* Stops the proxy as SIGTERM does in production, joins it; returns pk_proxy_run()'s result. */
static int proxy_stop(struct running *r)
{
	kill(getpid(), SIGTERM);
	pthread_join(r->th, NULL);
	pk_proxy_free(r->p);
	return r->rc;
}

/* ---- metrics ---- */

struct metric_query {
	const char *name, *target; /* target NULL: a sample without that label */
	const char *direction;
	const char *rule;		 /* parikshan_debug_paired_total's rule label, or NULL */
	const char *label, *label_value; /* any other label, or NULL */
	double value;
	bool found;
};

static void metric_cb(const char *name, const char *labels, double value, void *data)
{
	struct metric_query *q = data;
	char v[PK_ADDR_STRLEN];

	if (strcmp(name, q->name) != 0)
		return;
	if (q->target &&
	    (pk_prom_label(labels, "target", v, sizeof(v)) != 0 || strcmp(v, q->target) != 0))
		return;
	if (q->direction &&
	    (pk_prom_label(labels, "direction", v, sizeof(v)) != 0 || strcmp(v, q->direction) != 0))
		return;
	if (q->rule &&
	    (pk_prom_label(labels, "rule", v, sizeof(v)) != 0 || strcmp(v, q->rule) != 0))
		return;
	if (q->label &&
	    (pk_prom_label(labels, q->label, v, sizeof(v)) != 0 || strcmp(v, q->label_value) != 0))
		return;
	q->value = value;
	q->found = true;
}

/* The value of the sample of metric name matching q's labels in metrics text; -1 when absent. */
static double metric_in(const char *text, struct metric_query *q)
{
	if (pk_prom_parse(text, metric_cb, q) < 0)
		printf("  metrics text does not parse\n");
	return q->found ? q->value : -1;
}

/* The value of the sample of metric name matching q's labels in the proxy's metrics now; -1
 * when absent. */
static double metric_q(struct pk_proxy *p, struct metric_query *q)
{
	struct pk_strbuf out = { 0 };
	double v;

	pk_proxy_metrics(p, &out);
	v = metric_in(pk_strbuf_str(&out), q);
	pk_strbuf_release(&out);
	return v;
}

/* The value of metric name (for target "127.0.0.1:port" when port > 0, for a direction when
 * dir is not NULL) in the proxy's metrics now; -1 when absent. */
static double metric(struct pk_proxy *p, const char *name, int port, const char *dir)
{
	char target[PK_ADDR_STRLEN];
	struct metric_query q = { .name = name, .direction = dir };

	if (port > 0) {
		snprintf(target, sizeof(target), "127.0.0.1:%d", port);
		q.target = target;
	}
	return metric_q(p, &q);
}

/* How many clone connections agg paired by rule ("content", "order"). */
static double paired(struct pk_proxy *p, const char *rule)
{
	struct metric_query q = { .name = "parikshan_debug_paired_total", .rule = rule };

	return metric_q(p, &q);
}

/* Waits until metric name reaches want (exactly); prints what it saw on timeout. */
static bool wait_metric(struct pk_proxy *p, const char *name, int port, const char *dir,
			double want)
{
	uint64_t end = pk_now_ns() + DEADLINE_NS;
	double v;
	struct timespec tick = { 0, 1000000 };

	while ((v = metric(p, name, port, dir)) != want) {
		if (pk_now_ns() > end) {
			printf("  %s{%d} = %.0f, still not %.0f after %llu s\n", name, port, v,
			       want, DEADLINE_NS / 1000000000ull);
			return false;
		}
		nanosleep(&tick, NULL); /* polling the condition, with a deadline */
	}
	return true;
}

/* Waits until *v reaches want. */
static bool wait_int(const int *v, int want, const char *what)
{
	uint64_t end = pk_now_ns() + DEADLINE_NS;
	struct timespec tick = { 0, 1000000 };

	while (load_int(v) != want) {
		if (pk_now_ns() > end) {
			printf("  %s = %d, still not %d\n", what, load_int(v), want);
			return false;
		}
		nanosleep(&tick, NULL);
	}
	return true;
}

/* ---- the status document (/status.json) against /metrics ---- */

/* The summary numbers of the status document and the /metrics samples they are. */
static const struct {
	const char *group, *key, *metric, *direction;
} summary_samples[] = {
	{ "connections", "accepted", "parikshan_connections_accepted_total", NULL },
	{ "connections", "active", "parikshan_connections_active", NULL },
	{ "connections", "prod_connect_failures", "parikshan_prod_connect_failures_total", NULL },
	{ "connections", "capacity", "parikshan_connections_capacity", NULL },
	{ "connections", "open_files_limit", "parikshan_open_files_limit", NULL },
	{ "connections", "in_use", "parikshan_connections_in_use", NULL },
	{ "connections", "accept_paused", "parikshan_accept_paused_total", NULL },
	{ "bytes", "client_to_prod", "parikshan_bytes_total", "client_to_prod" },
	{ "bytes", "prod_to_client", "parikshan_bytes_total", "prod_to_client" },
	{ "recording", "packets", "parikshan_record_packets_total", NULL },
	{ "recording", "bytes", "parikshan_record_bytes_total", NULL },
	{ "recording", "dropped_bytes", "parikshan_record_dropped_bytes_total", NULL },
	{ "recording", "files", "parikshan_record_files", NULL },
};

/* The number under key in obj (null: INFINITY, a time without end); -2 when there is none. */
static double json_number(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsNull(it))
		return INFINITY;
	return cJSON_IsNumber(it) ? it->valuedouble : -2;
}

/* The values a target has in the status document: the rows of target_metrics.def with a key. */
static int target_keys(void)
{
	int n = 0;

	for (unsigned m = 0; m < PK_TM_NUM; m++)
		n += pk_proxy_target_metrics[m].key != NULL;
	return n;
}

static void check_same(const char *what, const char *key, double doc, double metrics)
{
	if (doc != metrics)
		printf("  %s %s: /status.json %.17g, /metrics %.17g\n", what, key, doc, metrics);
	CHECK(doc == metrics);
}

static void count_target_samples(const char *name, const char *labels, double value, void *data)
{
	if (strcmp(name, "parikshan_debug_connections_active") == 0)
		(*(int *)data)++;
}

/* Compares a status document with /metrics text of the same moment: every number of the one
 * is the value of its sample in the other (or 0 when /metrics does not show the family), for
 * every target /metrics has.  Returns the count of numbers compared. */
static int compare_status(const char *doc, const char *metrics)
{
	cJSON *root = cJSON_Parse(doc), *targets, *t;
	struct metric_query q;
	int n = 0, nmetrics = 0;

	CHECK(root != NULL);
	if (!root)
		return 0;
	for (size_t i = 0; i < sizeof(summary_samples) / sizeof(summary_samples[0]); i++) {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, summary_samples[i].group);

		memset(&q, 0, sizeof(q));
		q.name = summary_samples[i].metric;
		q.direction = summary_samples[i].direction;
		if (!g) { /* only the recording, and then /metrics has none of it either */
			CHECK(strcmp(summary_samples[i].group, "recording") == 0);
			CHECK(metric_in(metrics, &q) == -1);
			continue;
		}
		check_same(summary_samples[i].group, summary_samples[i].key,
			   json_number(g, summary_samples[i].key), metric_in(metrics, &q));
		n++;
	}
	targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
	CHECK(cJSON_IsArray(targets));
	pk_prom_parse(metrics, count_target_samples, &nmetrics);
	CHECK_EQ_INT(cJSON_GetArraySize(targets), nmetrics);
	cJSON_ArrayForEach(t, targets)
	{
		const char *name =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "target"));
		double v[PK_TM_NUM] = { 0 };

		CHECK(name != NULL);
		for (unsigned m = 0; name && m < PK_TM_NUM; m++) {
			const struct pk_target_metric *tm = &pk_proxy_target_metrics[m];

			memset(&q, 0, sizeof(q));
			q.name = tm->name;
			q.target = name;
			q.label = tm->label;
			q.label_value = tm->label_value;
			v[m] = metric_in(metrics, &q);
			if (!tm->key) /* /metrics only */
				continue;
			check_same(name, tm->key, json_number(t, tm->key), v[m] < 0 ? 0 : v[m]);
			v[m] = v[m] < 0 ? 0 : v[m];
			n++;
		}
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "state")),
			  pk_proxy_target_state(v));
	}
	cJSON_Delete(root);
	return n;
}

/* Takes /metrics, the status document and /metrics again, until both texts of /metrics are
 * the same (nothing moved meanwhile); then compares the document with them and checks that
 * the reader reads back what the writer wrote.  Returns the count of numbers compared. */
static int check_status_agrees(struct pk_proxy *p)
{
	struct pk_strbuf m1 = { 0 }, m2 = { 0 }, doc = { 0 }, again = { 0 };
	struct pk_proxy_status st, back;
	uint64_t end = pk_now_ns() + DEADLINE_NS;
	struct timespec tick = { 0, 1000000 };
	int n = 0;

	for (;;) {
		pk_proxy_metrics(p, &m1);
		pk_proxy_status_get(p, &st);
		CHECK_EQ_INT(pk_proxy_status_write(&st, &doc), 0);
		pk_proxy_metrics(p, &m2);
		if (strcmp(pk_strbuf_str(&m1), pk_strbuf_str(&m2)) == 0)
			break;
		if (pk_now_ns() > end) {
			CHECK(!"/metrics stood still for a moment");
			goto out;
		}
		pk_strbuf_release(&m1);
		pk_strbuf_release(&m2);
		pk_strbuf_release(&doc);
		nanosleep(&tick, NULL); /* polling the condition, with a deadline */
	}
	n = compare_status(pk_strbuf_str(&doc), pk_strbuf_str(&m2));
	CHECK_EQ_INT(pk_proxy_status_parse(pk_strbuf_str(&doc), &back), 0);
	CHECK_EQ_INT(pk_proxy_status_write(&back, &again), 0);
	CHECK_STR(pk_strbuf_str(&again), pk_strbuf_str(&doc));
out:
	pk_strbuf_release(&m1);
	pk_strbuf_release(&m2);
	pk_strbuf_release(&doc);
	pk_strbuf_release(&again);
	return n;
}

/* ---- a client ---- */

/* Connects to port, sends data, half-closes and reads until EOF, with a deadline.  Returns
 * true when what came back equals what was sent. */
static bool exchange(int port, const unsigned char *data, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	unsigned char *got = malloc(n + 1);
	size_t sent = 0, recvd = 0;
	uint64_t end = pk_now_ns() + DEADLINE_NS;
	bool eof = false, ok = false;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (!got || fd < 0)
		goto out;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
		goto out;
	while (!eof) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN | (sent < n ? POLLOUT : 0) };
		uint64_t now = pk_now_ns();

		if (now > end) {
			printf("  client: sent %zu of %zu, got %zu, no EOF in time\n", sent, n,
			       recvd);
			goto out;
		}
		if (poll(&pfd, 1, (int)((end - now) / 1000000 + 1)) < 0 && errno != EINTR)
			goto out;
		if ((pfd.revents & POLLOUT) && sent < n) {
			ssize_t w = send(fd, data + sent, n - sent, MSG_NOSIGNAL);

			if (w < 0 && errno != EAGAIN)
				goto out;
			if (w > 0 && (sent += (size_t)w) == n)
				shutdown(fd, SHUT_WR);
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, got + recvd, n + 1 - recvd, 0);

			if (r < 0 && errno != EAGAIN)
				goto out;
			if (r == 0)
				eof = true;
			if (r > 0 && (recvd += (size_t)r) > n)
				break;
		}
	}
	ok = recvd == n && memcmp(got, data, n) == 0;
	if (!ok)
		printf("  client: sent %zu, got back %zu, %s\n", n, recvd,
		       recvd == n ? "different bytes" : "not the same length");
out:
	if (fd >= 0)
		close(fd);
	free(got);
	return ok;
}

static unsigned char *random_bytes(size_t n, unsigned seed)
{
	unsigned char *b = malloc(n);

	for (size_t i = 0; b && i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (unsigned char)(seed >> 16);
	}
	return b;
}

/* ---- tests ---- */

#define NCONN 4
#define CONN_BYTES (200 * 1000)

/* Every byte reaches production and the debug target, production's answers come back, the
 * debug target sees each client's close, and the metrics count all of it. */
static void test_bytes_reach_production_and_debug(void)
{
	struct srv prod, dbg;
	struct pk_proxy_config cfg;
	struct running r;
	uint64_t hsum = 0, total = (uint64_t)NCONN * CONN_BYTES;
	int port;

	CHECK(srv_start(&prod, true));
	CHECK(srv_start(&dbg, true));
	config_init(&cfg, prod.port);
	config_add_target(&cfg, dbg.port);
	if (!proxy_start(&cfg, &r)) {
		CHECK(!"proxy started");
		goto stop_srv;
	}
	port = pk_proxy_listen_port(r.p);
	CHECK(port > 0);
	for (unsigned i = 0; i < NCONN; i++) {
		unsigned char *data = random_bytes(CONN_BYTES, i + 1);

		CHECK(data && exchange(port, data, CONN_BYTES));
		hsum += fnv1a(FNV_INIT, data, CONN_BYTES);
		free(data);
	}
	CHECK(wait_int(&dbg.eofs, NCONN, "debug connections closed by their client"));
	CHECK_EQ_INT(load(&dbg.bytes_in), total);
	CHECK(load(&dbg.hash_sum) == hsum); /* the same bytes, in order, per connection */
	CHECK_EQ_INT(load(&prod.bytes_in), total);
	CHECK(load(&prod.hash_sum) == hsum);
	CHECK(wait_metric(r.p, "parikshan_connections_active", 0, NULL, 0));
	CHECK(wait_metric(r.p, "parikshan_debug_response_bytes_total", dbg.port, NULL, total));
	CHECK(wait_metric(r.p, "parikshan_debug_connections_active", dbg.port, NULL, 0));
	CHECK(wait_metric(r.p, "parikshan_connections_in_use", 0, NULL, 0)); /* all released */
	CHECK_EQ_INT(metric(r.p, "parikshan_connections_accepted_total", 0, NULL), NCONN);
	CHECK_EQ_INT(metric(r.p, "parikshan_bytes_total", 0, "client_to_prod"), total);
	CHECK_EQ_INT(metric(r.p, "parikshan_bytes_total", 0, "prod_to_client"), total);
	CHECK_EQ_INT(metric(r.p, "parikshan_prod_connect_failures_total", 0, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_bytes_sent_total", dbg.port, NULL), total);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_bytes_dropped_total", dbg.port, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_desyncs_total", dbg.port, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_overflows_total", dbg.port, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_buffer_bytes", dbg.port, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_info", 0, NULL), 1);
	CHECK_EQ_INT(proxy_stop(&r), 0);
stop_srv:
	srv_stop(&dbg);
	srv_stop(&prod);
}

/* A debug target that refuses connections is desynced on every client connection; the
 * other target and production get every byte. */
static void test_refusing_target_is_desynced(void)
{
	struct srv prod, dbg;
	struct pk_proxy_config cfg;
	struct running r;
	uint64_t total = (uint64_t)NCONN * CONN_BYTES;
	int refused_port = 0, refused = listen_local(0, &refused_port); /* bound, not listening */
	int port;

	CHECK(refused >= 0);
	CHECK(srv_start(&prod, true));
	CHECK(srv_start(&dbg, true));
	config_init(&cfg, prod.port);
	config_add_target(&cfg, refused_port);
	config_add_target(&cfg, dbg.port);
	if (!proxy_start(&cfg, &r)) {
		CHECK(!"proxy started");
		goto stop_srv;
	}
	port = pk_proxy_listen_port(r.p);
	for (unsigned i = 0; i < NCONN; i++) {
		unsigned char *data = random_bytes(CONN_BYTES, 100 + i);

		CHECK(data && exchange(port, data, CONN_BYTES));
		free(data);
	}
	CHECK(wait_int(&dbg.eofs, NCONN, "debug connections closed by their client"));
	CHECK_EQ_INT(load(&dbg.bytes_in), total);
	CHECK_EQ_INT(load(&prod.bytes_in), total);
	CHECK(wait_metric(r.p, "parikshan_connections_active", 0, NULL, 0));
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_connect_failures_total", refused_port, NULL),
		     NCONN);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_desyncs_total", refused_port, NULL), NCONN);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_bytes_sent_total", refused_port, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_desyncs_total", dbg.port, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_bytes_sent_total", dbg.port, NULL), total);
	CHECK_EQ_INT(metric(r.p, "parikshan_bytes_total", 0, "prod_to_client"), total);
	CHECK_EQ_INT(metric(r.p, "parikshan_prod_connect_failures_total", 0, NULL), 0);
	CHECK_EQ_INT(proxy_stop(&r), 0);
stop_srv:
	srv_stop(&dbg);
	srv_stop(&prod);
	if (refused >= 0)
		close(refused);
}

/* The status document (GET /status.json) and /metrics say the same, number for number:
 * dup with --compare and --record, one target that answers and one that refuses. */
static void test_status_json_agrees_with_metrics(void)
{
	struct srv prod, dbg;
	struct pk_proxy_config cfg;
	struct pk_rec_opts ro = { .file_max = 1 << 30 };
	struct running r;
	char path[64];
	int refused_port = 0, refused = listen_local(0, &refused_port); /* bound, not listening */
	int port;

	snprintf(path, sizeof(path), "/tmp/pk-test-status-%d.pcap", (int)getpid());
	ro.path = path;
	CHECK(refused >= 0);
	CHECK(srv_start(&prod, true));
	CHECK(srv_start(&dbg, true));
	config_init(&cfg, prod.port);
	cfg.compare = true;
	cfg.record = &ro;
	config_add_target(&cfg, dbg.port);
	config_add_target(&cfg, refused_port);
	if (!proxy_start(&cfg, &r)) {
		CHECK(!"proxy started");
		goto stop_srv;
	}
	port = pk_proxy_listen_port(r.p);
	for (unsigned i = 0; i < 2; i++) {
		unsigned char *data = random_bytes(CONN_BYTES, 300 + i);

		CHECK(data && exchange(port, data, CONN_BYTES));
		free(data);
	}
	CHECK(wait_int(&dbg.eofs, 2, "debug connections closed by their client"));
	CHECK(wait_metric(r.p, "parikshan_connections_active", 0, NULL, 0));
	CHECK(wait_metric(r.p, "parikshan_debug_connections_active", dbg.port, NULL, 0));
	CHECK(wait_metric(r.p, "parikshan_connections_in_use", 0, NULL, 0));
	/* 9 summary + 4 recording numbers, and each target's */
	CHECK_EQ_INT(check_status_agrees(r.p), 13 + 2 * target_keys());
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_desyncs_total", refused_port, NULL), 2);
	CHECK_EQ_INT(proxy_stop(&r), 0);
stop_srv:
	srv_stop(&dbg);
	srv_stop(&prod);
	if (refused >= 0)
		close(refused);
	unlink(path);
}

#define STALL_BYTES (16u << 20)

/* A debug target that accepts and never reads fills its buffer: that connection overflows
 * and is desynced, its unsent bytes counted as dropped; production gets every byte. */
static void test_stalled_target_overflows(void)
{
	struct srv prod, stall;
	struct pk_proxy_config cfg;
	struct running r;
	unsigned char *data = random_bytes(STALL_BYTES, 7);
	int port;

	CHECK(data != NULL);
	CHECK(srv_start(&prod, true));
	CHECK(srv_start(&stall, false));
	config_init(&cfg, prod.port);
	cfg.buffer_size = 64 << 10;
	config_add_target(&cfg, stall.port);
	if (!data || !proxy_start(&cfg, &r)) {
		CHECK(!"proxy started");
		goto stop_srv;
	}
	port = pk_proxy_listen_port(r.p);
	CHECK(exchange(port, data, STALL_BYTES));
	CHECK_EQ_INT(load(&prod.bytes_in), STALL_BYTES);
	CHECK(wait_metric(r.p, "parikshan_connections_active", 0, NULL, 0));
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_desyncs_total", stall.port, NULL), 1);
	CHECK(metric(r.p, "parikshan_debug_overflows_total", stall.port, NULL) >= 1);
	CHECK(metric(r.p, "parikshan_debug_bytes_dropped_total", stall.port, NULL) > 0);
	CHECK(metric(r.p, "parikshan_debug_bytes_sent_total", stall.port, NULL) < STALL_BYTES);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_connections_active", stall.port, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_bytes_total", 0, "prod_to_client"), STALL_BYTES);
	CHECK_EQ_INT(proxy_stop(&r), 0);
stop_srv:
	srv_stop(&stall);
	srv_stop(&prod);
	free(data);
}

/* The aggregator (pair.c): production's service connects to the front, its requests reach the
 * backend and the answers come back; then the clone's service connects to the debug side and
 * gets exactly the answers production's connection got, while its own requests go nowhere. */
static void test_agg_replays_backend_answers(void)
{
	struct srv backend;
	struct pk_proxy_config cfg;
	struct running r;
	unsigned char *data = random_bytes(CONN_BYTES, 42);
	char err[128];

	CHECK(data != NULL);
	CHECK(srv_start(&backend, true));
	config_init(&cfg, backend.port);
	cfg.role = "agg";
	cfg.agg = true;
	cfg.threads = 1;
	cfg.ntargets = 1;
	cfg.pair_timeout_ns = DEADLINE_NS;
	pk_addr_resolve("127.0.0.1", 0, &cfg.debug_listen, err, sizeof(err));
	cfg.targets[0] = cfg.debug_listen; /* names the debug side, as agg.c does */
	if (!data || !proxy_start(&cfg, &r)) {
		CHECK(!"proxy started");
		goto stop_srv;
	}
	CHECK(pk_proxy_debug_port(r.p) > 0);
	CHECK(exchange(pk_proxy_listen_port(r.p), data, CONN_BYTES)); /* production */
	CHECK(wait_int(&backend.eofs, 1, "backend connection closed"));
	CHECK(exchange(pk_proxy_debug_port(r.p), data, CONN_BYTES)); /* the clone */
	CHECK_EQ_INT(load(&backend.bytes_in), CONN_BYTES); /* the clone's requests went nowhere */
	CHECK(wait_metric(r.p, "parikshan_debug_connections_active", 0, NULL, 0));
	CHECK(wait_metric(r.p, "parikshan_connections_in_use", 0, NULL, 0)); /* all released */
	CHECK_EQ_INT(metric(r.p, "parikshan_connections_accepted_total", 0, NULL), 1);
	CHECK_EQ_INT(metric(r.p, "parikshan_bytes_total", 0, "prod_to_client"), CONN_BYTES);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_bytes_sent_total", 0, NULL), CONN_BYTES);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_unpaired_total", 0, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_desyncs_total", 0, NULL), 0);
	CHECK_EQ_INT(proxy_stop(&r), 0);
stop_srv:
	srv_stop(&backend);
	CHECK_EQ_INT(backend.nconns, 1); /* only production's connection reached the backend */
	free(data);
}

/* Connects to port and closes at once, sending nothing (a port probe). */
static void probe(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	if (fd >= 0)
		close(fd);
}

/* pair.c: a probe on production's side is never paired, and two clone connections opened in
 * the other order than production's each get their own production connection's answers (the
 * same first request: rule "content"). */
static void test_agg_pairs_by_content_past_probes(void)
{
	struct srv backend;
	struct pk_proxy_config cfg;
	struct running r;
	unsigned char *a = random_bytes(CONN_BYTES, 7), *b = random_bytes(CONN_BYTES, 8);
	char err[128];
	int lport, dport;

	CHECK(a && b && srv_start(&backend, true));
	config_init(&cfg, backend.port);
	cfg.role = "agg";
	cfg.agg = true;
	cfg.threads = 1;
	cfg.ntargets = 1;
	cfg.pair_timeout_ns = DEADLINE_NS;
	pk_addr_resolve("127.0.0.1", 0, &cfg.debug_listen, err, sizeof(err));
	cfg.targets[0] = cfg.debug_listen;
	if (!a || !b || !proxy_start(&cfg, &r)) {
		CHECK(!"proxy started");
		goto stop_srv;
	}
	lport = pk_proxy_listen_port(r.p);
	dport = pk_proxy_debug_port(r.p);
	probe(lport);
	CHECK(wait_metric(r.p, "parikshan_connections_accepted_total", 0, NULL, 1));
	CHECK(exchange(lport, a, CONN_BYTES)); /* production: a, then b */
	probe(lport);
	CHECK(exchange(lport, b, CONN_BYTES));
	CHECK(wait_metric(r.p, "parikshan_connections_active", 0, NULL, 0));
	CHECK(exchange(dport, b, CONN_BYTES)); /* the clone: b, then a — each its own answers */
	CHECK(exchange(dport, a, CONN_BYTES));
	CHECK(wait_metric(r.p, "parikshan_debug_connections_active", 0, NULL, 0));
	CHECK(wait_metric(r.p, "parikshan_connections_in_use", 0, NULL, 0)); /* all released */
	CHECK_EQ_INT(paired(r.p, "content"), 2);
	CHECK_EQ_INT(paired(r.p, "order"), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_unpaired_total", 0, NULL), 0);
	CHECK_EQ_INT(metric(r.p, "parikshan_debug_desyncs_total", 0, NULL), 0);
	CHECK_EQ_INT(check_status_agrees(r.p), 9 + target_keys()); /* pairing columns included */
	CHECK_EQ_INT(proxy_stop(&r), 0);
stop_srv:
	srv_stop(&backend);
	free(a);
	free(b);
}

int main(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL); /* before any thread: see the top of the file */
	UNIT_RUN(test_bytes_reach_production_and_debug);
	UNIT_RUN(test_refusing_target_is_desynced);
	UNIT_RUN(test_status_json_agrees_with_metrics);
	UNIT_RUN(test_stalled_target_overflows);
	UNIT_RUN(test_agg_replays_backend_answers);
	UNIT_RUN(test_agg_pairs_by_content_past_probes);
	return unit_done();
}
