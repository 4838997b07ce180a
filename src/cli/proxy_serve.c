/* proxy_serve.c — `dup` and `agg` around the proxy core: resolve addresses, create the proxy,
 * report a failed step in one line (naming the address or file it was about), serve until a
 * signal. */
#include "cli/proxy_serve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/log.h"

int pk_proxy_cli_resolve(const char *cmd, const char *role, const char *host, uint16_t port,
			 struct pk_addr *a)
{
	char why[256], what[300];
	int err = pk_addr_resolve(host, port, a, why, sizeof(why));

	if (err) {
		snprintf(what, sizeof(what), "%s: resolve %s host '%s'", cmd, role, host);
		pk_cli_error(what, "%s", why);
	}
	return err;
}

int pk_proxy_cli_apply(const char *cmd, const struct pk_proxy_common *c,
		       struct pk_proxy_config *cfg)
{
	cfg->buffer_size = c->buffer_size;
	cfg->spill_dir = c->spill_dir;
	cfg->spill_max = c->spill_max;
	cfg->flush_ns = c->flush_ms * 1000000ull;
	cfg->close_grace_ns = c->close_grace_ns;
	cfg->compare = c->compare && !c->compare_framed;
	cfg->compare_framed = c->compare_framed;
	cfg->compare_proto = c->compare_proto;
	cfg->compare_ignore = c->compare_ignore;
	cfg->ncompare_ignore = c->ncompare_ignore;
	cfg->compare_log = c->compare_log;
	cfg->window_warn_s = (double)c->window_warn_s;
	cfg->record = c->rec.path ? &c->rec : NULL;
	if (pk_proxy_cli_resolve(cmd, "listen", c->listen_host, c->listen_port, &cfg->listen))
		return -EINVAL;
	if (!c->admin_host)
		return 0;
	cfg->admin_enabled = true;
	return pk_proxy_cli_resolve(cmd, "admin", c->admin_host, c->admin_port, &cfg->admin);
}

/* Names the address or file a failed step of pk_proxy_new() was about, after a blank ("" when
 * none). */
static const char *step_subject(const struct pk_proxy_config *cfg, enum pk_proxy_step step,
				char *buf, size_t len)
{
	const struct pk_addr *at = NULL;

	switch (step) {
	case PK_PROXY_STEP_RECORD_OPEN:
	case PK_PROXY_STEP_RECORD_WRITE:
		snprintf(buf, len, " %s", cfg->record ? cfg->record->path : "");
		return buf;
	case PK_PROXY_STEP_COMPARE_LOG:
		snprintf(buf, len, " %s", cfg->compare_log ? cfg->compare_log : "");
		return buf;
	case PK_PROXY_STEP_ADMIN_LISTEN:
		at = &cfg->admin;
		break;
	case PK_PROXY_STEP_DEBUG_LISTEN:
		at = &cfg->debug_listen;
		break;
	case PK_PROXY_STEP_LISTEN:
		at = &cfg->listen;
		break;
	default:
		buf[0] = '\0';
		return buf;
	}
	buf[0] = ' ';
	pk_addr_str(at, buf + 1, len - 1);
	return buf;
}

int pk_proxy_cli_serve(const struct pk_proxy_config *cfg)
{
	enum pk_proxy_step step;
	struct pk_proxy *p;
	char addr[4096], w[4400]; /* an address, or the record file's path */
	int err;

	pk_raise_nofile(); /* up to the hard limit; the capacity is computed from it */
	p = pk_proxy_new(cfg, &step);
	if (!p) {
		snprintf(w, sizeof(w), "%s: %s%s", cfg->role, pk_proxy_step_name(step),
			 step_subject(cfg, step, addr, sizeof(addr)));
		pk_cli_error(w, "%s", strerror(errno));
		return PK_EXIT_RUNTIME;
	}
	if (cfg->agg)
		pk_log(PK_LOG_INFO, "agg: listening on port %d, backend %s, clones on port %d",
		       pk_proxy_listen_port(p), pk_addr_str(&cfg->prod, addr, sizeof(addr)),
		       pk_proxy_debug_port(p));
	else
		pk_log(PK_LOG_INFO,
		       "dup: listening on port %d, production %s, %d debug target(s), %s",
		       pk_proxy_listen_port(p), pk_addr_str(&cfg->prod, addr, sizeof(addr)),
		       cfg->ntargets, cfg->mode == PK_PROXY_SYNC ? "sync" : "async");
	err = pk_proxy_run(p);
	pk_proxy_free(p);
	if (err) {
		snprintf(w, sizeof(w), "%s: event loop", cfg->role);
		pk_cli_error(w, "%s", strerror(-err));
		return PK_EXIT_RUNTIME;
	}
	pk_log(PK_LOG_INFO, "%s: stopped", cfg->role);
	return PK_EXIT_OK;
}
