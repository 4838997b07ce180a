/* cmd_agg.c — `parikshan agg`: flags → the aggregator's configuration of the proxy core →
 * served until a signal. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/proxy_opts.h"
#include "cli/proxy_serve.h"
#include "common/args.h"
#include "proxy/proxy.h"

#define AGG_DEFAULT_DEBUG_ADDR "127.0.0.1"
#define AGG_DEFAULT_PAIR_TIMEOUT_S 30
#define AGG_DEFAULT_PAIR_TIMEOUT_SS PK_STR(AGG_DEFAULT_PAIR_TIMEOUT_S)

static const char agg_usage[] =
	"usage: parikshan agg -l LPORT -x BACKEND_HOST -p BACKEND_PORT -D DEBUG_PORT [options]\n"
	"\n"
	"Sit between a service and its backend (a database, a cache): production's backend\n"
	"connections pass straight through, and the backend's responses are recorded and\n"
	"replayed to the clone's backend connections, which never reach the real backend.\n"
	"The k-th connection a clone opens to the debug side gets the responses of production's\n"
	"k-th backend connection; the clone's requests are read and dropped (or compared).\n"
	"\n"
	"  -l, --listen-port PORT   port production's service connects to (required)\n"
	"  -h, --listen-addr ADDR   address for it (default " PK_PROXY_DEFAULT_LISTEN ")\n"
	"  -x, --backend-host HOST  the real backend's host (required)\n"
	"  -p, --backend-port PORT  the real backend's port (required)\n"
	"  -D, --debug-port PORT    port the clones' service connects to (required)\n"
	"      --debug-addr ADDR    address for it (default " AGG_DEFAULT_DEBUG_ADDR ")\n"
	"      --pair-timeout SECS  how long a finished production connection waits for its\n"
	"                           clone connection before its responses are dropped "
	"(default " AGG_DEFAULT_PAIR_TIMEOUT_SS ")\n" PK_PROXY_OPTIONS_HELP "\n"
	"A clone connection that falls behind by more than its buffer is closed (desynced);\n"
	"production never waits on a clone.\n";

enum { OPT_DEBUG_ADDR = PK_OPT_FIRST_OWN, OPT_PAIR_TIMEOUT };

static const struct option agg_options[] = {
	PK_PROXY_LONG_OPTIONS,
	{ "backend-host", required_argument, NULL, 'x' },
	{ "backend-port", required_argument, NULL, 'p' },
	{ "debug-port", required_argument, NULL, 'D' },
	{ "debug-addr", required_argument, NULL, OPT_DEBUG_ADDR },
	{ "pair-timeout", required_argument, NULL, OPT_PAIR_TIMEOUT },
	{ NULL, 0, NULL, 0 },
};

#define AGG_DRAIN_NS (5 * 1000000000ull)

/* What the flags say. */
struct agg_opts {
	struct pk_proxy_common c; /* c.listen_*: where production's service connects */
	const char *backend_host; /* the real backend */
	uint16_t backend_port;
	const char *debug_host; /* clones connect here (default 127.0.0.1) */
	uint16_t debug_port;
	uint64_t pair_timeout_ms;
};

/* The aggregator: the proxy core between production's service and its backend, with the
 * clone's backend connections accepted on a debug side and fed production's responses.
 * Resolves the addresses in o and serves until SIGINT/SIGTERM; prints one error line on
 * failure.  Returns a PK_EXIT_* code. */
static int agg_run(const struct agg_opts *o)
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

	if (pk_proxy_cli_apply("agg", &o->c, &cfg) ||
	    pk_proxy_cli_resolve("agg", "backend", o->backend_host, o->backend_port, &cfg.prod) ||
	    pk_proxy_cli_resolve("agg", "debug listen", o->debug_host, o->debug_port,
				 &cfg.debug_listen))
		return PK_EXIT_RUNTIME;
	cfg.targets[0] = cfg.debug_listen; /* names the debug side in metrics and logs */
	return pk_proxy_cli_serve(&cfg);
}

int pk_cmd_agg(int argc, char **argv)
{
	struct agg_opts o = {
		.debug_host = AGG_DEFAULT_DEBUG_ADDR,
		.pair_timeout_ms = AGG_DEFAULT_PAIR_TIMEOUT_S * 1000,
	};
	struct pk_proxy_cli po;
	bool have_p = false, have_d = false;
	uint64_t v;
	int c, err;

	pk_proxy_cli_init(&po, "agg");
	while (!(err = pk_proxy_cli_next(&po, argc, argv, ":l:h:x:p:D:b:", agg_options, agg_usage,
					 &c))) {
		switch (c) {
		case 'x':
			o.backend_host = optarg;
			break;
		case 'p':
			if ((err = pk_parse_port(optarg, &o.backend_port)))
				return pk_cli_bad_value("agg", "backend port", optarg, err);
			have_p = true;
			break;
		case 'D':
			if ((err = pk_parse_port(optarg, &o.debug_port)))
				return pk_cli_bad_value("agg", "debug port", optarg, err);
			have_d = true;
			break;
		case OPT_DEBUG_ADDR:
			o.debug_host = optarg;
			break;
		case OPT_PAIR_TIMEOUT:
			if ((err = pk_parse_uint(optarg, 86400, &v)) || v == 0)
				return pk_cli_bad_value("agg", "--pair-timeout", optarg,
							err ? err : -ERANGE);
			o.pair_timeout_ms = v * 1000;
			break;
		case ':':
			return pk_cli_bad("agg", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("agg", argv[optind - 1],
					  "unknown option (see 'parikshan agg --help')");
		}
	}
	if (err == PK_PROXY_CLI_HELP)
		return PK_EXIT_OK;
	if (err != PK_PROXY_CLI_END)
		return err;
	if (optind < argc)
		return pk_cli_bad("agg", argv[optind], "unexpected argument");
	if (!o.backend_host || !have_p)
		return pk_cli_bad("agg", "-x/-p", "a backend host and port are required");
	if (!have_d)
		return pk_cli_bad("agg", "-D", "a debug port is required");
	if (o.debug_port && o.debug_port == po.c.listen_port)
		return pk_cli_bad("agg", "-D", "the debug port must differ from the listen port");
	if (po.c.compare_framed) /* clone connections pair with production's: whole streams */
		return pk_cli_bad("agg", "--compare", "agg compares raw byte streams only");
	if ((err = pk_proxy_cli_check(&po)))
		return err;
	o.c = po.c;
	return agg_run(&o);
}
