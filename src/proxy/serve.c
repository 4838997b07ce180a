/* serve.c — what both configurations (dup, agg) do around the core: resolve addresses, create
 * the proxy, report a failure in one line, serve until a signal. */
#include "proxy/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/log.h"

int pk_proxy_resolve(const char *cmd, const char *role, const char *host, uint16_t port,
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

int pk_proxy_common_apply(const char *cmd, const struct pk_proxy_common *c,
			  struct pk_proxy_config *cfg)
{
	cfg->buffer_size = c->buffer_size;
	cfg->spill_dir = c->spill_dir;
	cfg->spill_max = c->spill_max;
	cfg->flush_ns = c->flush_ms * 1000000ull;
	cfg->close_grace_ns = c->close_grace_ns;
	cfg->compare = c->compare;
	cfg->record = c->rec.path ? &c->rec : NULL;
	if (pk_proxy_resolve(cmd, "listen", c->listen_host, c->listen_port, &cfg->listen))
		return -EINVAL;
	if (!c->admin_host)
		return 0;
	cfg->admin_enabled = true;
	return pk_proxy_resolve(cmd, "admin", c->admin_host, c->admin_port, &cfg->admin);
}

/* Names the address or file a failed step of pk_proxy_new() was about ("" when none). */
static const char *step_address(const struct pk_proxy_config *cfg, const char *what, char *buf,
				size_t len)
{
	const struct pk_addr *at = NULL;

	if (cfg->record && strstr(what, "record file")) {
		snprintf(buf, len, " %s", cfg->record->path);
		return buf;
	}
	if (strcmp(what, "admin listen") == 0)
		at = &cfg->admin;
	else if (strcmp(what, "debug listen") == 0)
		at = &cfg->debug_listen;
	else if (strcmp(what, "listen") == 0)
		at = &cfg->listen;
	if (!at) {
		buf[0] = '\0';
		return buf;
	}
	buf[0] = ' ';
	pk_addr_str(at, buf + 1, len - 1);
	return buf;
}

int pk_proxy_serve(const struct pk_proxy_config *cfg)
{
	struct pk_proxy *p;
	const char *what;
	char addr[4096], w[4400]; /* an address, or the record file's path */
	int err;

	pk_raise_nofile(); /* up to the hard limit; the capacity is computed from it */
	p = pk_proxy_new(cfg, &what);
	if (!p) {
		snprintf(w, sizeof(w), "%s: %s%s", cfg->role, what,
			 step_address(cfg, what, addr, sizeof(addr)));
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
