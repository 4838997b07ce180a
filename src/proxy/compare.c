/* compare.c — per-request divergence in the proxy (dup --compare resp|http|mysql): one
 * comparison (src/diverge/reqcmp.h) per client connection, fed by the session (the client's
 * requests, production's responses) and by its debug connections (each clone's responses),
 * and its verdicts counted per target, logged, and written to --compare-log.
 *
 * A debug connection outlives its session, so the comparison is shared and counted: the
 * session holds one reference and every debug connection that takes part another; the last
 * one to let go frees it.  Only debug connections open from the connection's first byte take
 * part (a clone re-attached later is LAG from its desync on).
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"

struct pk_conn_cmp {
	struct pk_worker *w;
	struct pk_rcmp *rc;
	unsigned refs;
	int idx[PK_PROXY_MAX_TARGETS];	  /* the comparison's clone index of target i, or -1 */
	int target[PK_PROXY_MAX_TARGETS]; /* the target of clone index k */
	bool prod_ended;
};

void pk_compare_log_line(struct pk_worker *w, const struct pk_rcmp_report *r, int target)
{
	struct pk_proxy *p = w->p;
	struct pk_strbuf line = { 0 };
	struct timeval tv;

	if (p->cmp_log_fd < 0 || __atomic_load_n(&p->cmp_log_failed, __ATOMIC_RELAXED))
		return;
	gettimeofday(&tv, NULL);
	if (pk_rcmp_report_json(r, p->target_names[target],
				(double)tv.tv_sec + (double)tv.tv_usec / 1e6, &line) == 0 &&
	    write(p->cmp_log_fd, pk_strbuf_str(&line), line.len) < 0 &&
	    !__atomic_exchange_n(&p->cmp_log_failed, 1, __ATOMIC_RELAXED))
		pk_log(PK_LOG_ERROR, "%s: compare log %s: %s; no more lines are written",
		       w->cfg->role, p->cfg.compare_log, strerror(errno));
	pk_strbuf_release(&line);
}

void pk_compare_log(struct pk_worker *w, const struct pk_rcmp_report *r, int target)
{
	const char *name = w->p->target_names[target];

	pk_log(r->verdict == PK_RCMP_DIFFERENT ? PK_LOG_WARN : PK_LOG_INFO,
	       "%s: %s conn=%llu target=%s request=%llu reason=%s", w->cfg->role,
	       pk_rcmp_verdict_name(r->verdict), (unsigned long long)r->conn, name,
	       (unsigned long long)r->request, r->reason ? r->reason : "");
	pk_compare_log_line(w, r, target);
}

static void on_report(void *ctx, const struct pk_rcmp_report *r)
{
	struct pk_conn_cmp *c = ctx;

	pk_compare_log(c->w, r, c->target[r->clone]);
}

static void on_count(void *ctx, int clone, enum pk_rcmp_verdict v, uint64_t n)
{
	struct pk_conn_cmp *c = ctx;

	PK_STAT_ADD(c->w->targets[c->target[clone]].rq_verdicts[v], n);
}

struct pk_conn_cmp *pk_ccmp_start(struct pk_worker *w, uint64_t conn, struct dconn *const *dbg)
{
	const struct pk_proxy_config *cfg = w->cfg;
	struct pk_rcmp_config rcfg = {
		.proto = cfg->compare_proto,
		.ignore = cfg->compare_ignore,
		.nignore = cfg->ncompare_ignore,
		.mask_limit = 0,
		.max_pending = 0,
	};
	struct pk_conn_cmp *c;
	struct pk_rcmp_sink sink;
	int n = 0;

	if (!cfg->compare_framed)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->w = w;
	c->refs = 1;
	for (int i = 0; i < cfg->ntargets; i++) {
		c->idx[i] = -1;
		if (dbg[i]) {
			c->idx[i] = n;
			c->target[n++] = i;
		}
	}
	if (n == 0) {
		free(c);
		return NULL;
	}
	sink = (struct pk_rcmp_sink){ .report = on_report, .count = on_count, .ctx = c };
	c->rc = pk_rcmp_new(&rcfg, n, conn, &sink);
	if (!c->rc)
		goto fail;
	return c;
fail:
	free(c);
	pk_log(PK_LOG_WARN, "%s: conn=%llu: not compared: out of memory", cfg->role,
	       (unsigned long long)conn);
	return NULL;
}

bool pk_ccmp_has(const struct pk_conn_cmp *c, int target)
{
	return c && c->idx[target] >= 0;
}

struct pk_conn_cmp *pk_ccmp_hold(struct pk_conn_cmp *c)
{
	if (c)
		c->refs++;
	return c;
}

void pk_ccmp_put(struct pk_conn_cmp *c)
{
	if (!c || --c->refs > 0)
		return;
	pk_rcmp_free(c->rc);
	free(c);
}

void pk_ccmp_request(struct pk_conn_cmp *c, const char *buf, size_t n)
{
	if (c)
		pk_rcmp_request(c->rc, buf, n);
}

void pk_ccmp_prod(struct pk_conn_cmp *c, const char *buf, size_t n)
{
	if (c)
		pk_rcmp_response(c->rc, PK_RCMP_PROD, buf, n);
}

void pk_ccmp_prod_end(struct pk_conn_cmp *c)
{
	if (!c || c->prod_ended)
		return;
	c->prod_ended = true;
	pk_rcmp_finish(c->rc, PK_RCMP_PROD);
}

void pk_ccmp_clone(struct pk_conn_cmp *c, int target, const char *buf, size_t n)
{
	if (pk_ccmp_has(c, target))
		pk_rcmp_response(c->rc, c->idx[target], buf, n);
}

void pk_ccmp_clone_end(struct pk_conn_cmp *c, int target)
{
	if (pk_ccmp_has(c, target))
		pk_rcmp_finish(c->rc, c->idx[target]);
}

void pk_ccmp_clone_lag(struct pk_conn_cmp *c, int target, const char *reason)
{
	if (pk_ccmp_has(c, target))
		pk_rcmp_lag(c->rc, c->idx[target], reason);
}

int pk_compare_log_open(struct pk_proxy *p)
{
	p->cmp_log_fd = -1;
	if (!p->cfg.compare_log)
		return 0;
	p->cmp_log_fd = open(p->cfg.compare_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	return p->cmp_log_fd < 0 ? -errno : 0;
}

void pk_compare_log_close(struct pk_proxy *p)
{
	if (p->cmp_log_fd >= 0)
		close(p->cmp_log_fd);
	p->cmp_log_fd = -1;
}
