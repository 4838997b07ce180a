/* dup.c — the duplicator: the proxy core with clones as debug targets. */
#include "proxy/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/log.h"

#define DUP_DRAIN_NS (5 * 1000000000ull)
#define DUP_RESYNC_BACKOFF_NS (1000000000ull) /* a clone that just desynced gets 1 s to recover */

/* Resolves host:port into a; prints the CLI error line on failure. */
static int resolve(const char *role, const char *host, uint16_t port, struct pk_addr *a)
{
	char why[256], what[300];
	int err = pk_addr_resolve(host, port, a, why, sizeof(why));

	if (err) {
		snprintf(what, sizeof(what), "resolve %s host '%s'", role, host);
		pk_cli_error(what, "%s", why);
	}
	return err;
}

int pk_dup_run(const struct pk_dup_opts *o)
{
	struct pk_proxy_config cfg = {
		.role = "dup",
		.mode = o->mode,
		.buffer_size = o->buffer_size,
		.spill_dir = o->spill_dir,
		.spill_max = o->spill_max,
		.flush_ns = o->flush_ms * 1000000ull,
		.ntargets = o->ntargets,
		.drain_ns = DUP_DRAIN_NS,
		.threads = o->threads,
		.resync = o->resync,
		.resync_backoff_ns = DUP_RESYNC_BACKOFF_NS,
	};
	struct pk_proxy *p;
	const char *what;
	char lname[PK_ADDR_STRLEN];
	long nofile;
	int err;

	if (resolve("listen", o->listen_host, o->listen_port, &cfg.listen) ||
	    resolve("production", o->prod_host, o->prod_port, &cfg.prod))
		return PK_EXIT_RUNTIME;
	for (int i = 0; i < o->ntargets; i++)
		if (resolve("debug", o->dbg_hosts[i], o->dbg_ports[i], &cfg.targets[i]))
			return PK_EXIT_RUNTIME;
	if (o->admin_host) {
		cfg.admin_enabled = true;
		if (resolve("admin", o->admin_host, o->admin_port, &cfg.admin))
			return PK_EXIT_RUNTIME;
	}
	nofile = pk_raise_nofile();
	if (nofile > 0 && nofile < 4096)
		pk_log(PK_LOG_WARN, "dup: only %ld file descriptors allowed (ulimit -n)", nofile);
	p = pk_proxy_new(&cfg, &what);
	if (!p) {
		const struct pk_addr *at =
			strcmp(what, "admin listen") == 0 ? &cfg.admin : &cfg.listen;
		char w[128];

		snprintf(w, sizeof(w), "dup: %s %s", what, pk_addr_str(at, lname, sizeof(lname)));
		pk_cli_error(w, "%s", strerror(errno));
		return PK_EXIT_RUNTIME;
	}
	pk_log(PK_LOG_INFO,
	       "dup: listening on %s port %d, production %s, %d debug target(s), %s, buffer %llu",
	       o->listen_host, pk_proxy_listen_port(p), o->prod_host, o->ntargets,
	       o->mode == PK_PROXY_SYNC ? "sync" : "async", (unsigned long long)o->buffer_size);
	err = pk_proxy_run(p);
	pk_proxy_free(p);
	if (err) {
		pk_cli_error("dup: event loop", "%s", strerror(-err));
		return PK_EXIT_RUNTIME;
	}
	pk_log(PK_LOG_INFO, "dup: stopped");
	return PK_EXIT_OK;
}
