/* dup.c — the duplicator: the proxy core with clones as debug targets. */
#include "proxy/proxy.h"

#include "common/args.h"

#define DUP_DRAIN_NS (5 * 1000000000ull)
#define DUP_RESYNC_BACKOFF_NS (1000000000ull) /* a clone that just desynced gets 1 s to recover */

int pk_dup_run(const struct pk_dup_opts *o)
{
	struct pk_proxy_config cfg = {
		.role = "dup",
		.mode = o->mode,
		.ntargets = o->ntargets,
		.drain_ns = DUP_DRAIN_NS,
		.threads = o->threads,
		.resync = o->resync,
		.resync_backoff_ns = DUP_RESYNC_BACKOFF_NS,
	};

	if (pk_proxy_common_apply("dup", &o->c, &cfg) ||
	    pk_proxy_resolve("dup", "production", o->prod_host, o->prod_port, &cfg.prod))
		return PK_EXIT_RUNTIME;
	for (int i = 0; i < o->ntargets; i++)
		if (pk_proxy_resolve("dup", "debug", o->dbg_hosts[i], o->dbg_ports[i],
				     &cfg.targets[i]))
			return PK_EXIT_RUNTIME;
	return pk_proxy_serve(&cfg);
}
