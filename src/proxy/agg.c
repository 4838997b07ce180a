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
		.drain_ns = AGG_DRAIN_NS,
		.threads = 1,
		.pair_timeout_ns = o->pair_timeout_ms * 1000000ull,
	};

	if (pk_proxy_common_apply("agg", &o->c, &cfg) ||
	    pk_proxy_resolve("agg", "backend", o->backend_host, o->backend_port, &cfg.prod) ||
	    pk_proxy_resolve("agg", "debug listen", o->debug_host, o->debug_port,
			     &cfg.debug_listen))
		return PK_EXIT_RUNTIME;
	cfg.targets[0] = cfg.debug_listen; /* names the debug side in metrics and logs */
	return pk_proxy_serve(&cfg);
}
