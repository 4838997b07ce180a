/* agg.c — the aggregator: the proxy core between production's service and its backend, with
 * the clone's backend connections accepted on a debug side and fed production's responses. */
#include "proxy/proxy.h"

#include "common/args.h"

#define AGG_DRAIN_NS (5 * 1000000000ull)

int pk_agg_run(const struct pk_agg_opts *o)
{
	struct pk_proxy_config cfg = {
		.role = "agg",
		.agg = true,
		.ntargets = 1, /* the debug side */
		.mode = PK_PROXY_ASYNC,
		.buffer_size = o->buffer_size,
		.spill_dir = o->spill_dir,
		.spill_max = o->spill_max,
		.flush_ns = o->flush_ms * 1000000ull,
		.drain_ns = AGG_DRAIN_NS,
		.threads = 1,
		.pair_timeout_ns = o->pair_timeout_ms * 1000000ull,
		.compare = o->compare,
		.record = o->rec.path ? &o->rec : NULL,
	};

	if (pk_proxy_resolve("agg", "listen", o->listen_host, o->listen_port, &cfg.listen) ||
	    pk_proxy_resolve("agg", "backend", o->backend_host, o->backend_port, &cfg.prod) ||
	    pk_proxy_resolve("agg", "debug listen", o->debug_host, o->debug_port,
			     &cfg.debug_listen))
		return PK_EXIT_RUNTIME;
	cfg.targets[0] = cfg.debug_listen; /* names the debug side in metrics and logs */
	if (o->admin_host) {
		cfg.admin_enabled = true;
		if (pk_proxy_resolve("agg", "admin", o->admin_host, o->admin_port, &cfg.admin))
			return PK_EXIT_RUNTIME;
	}
	return pk_proxy_serve(&cfg);
}
