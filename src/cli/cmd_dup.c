/* cmd_dup.c — `parikshan dup`: flags (compatible with the original proxyClone) → the
 * duplicator's configuration of the proxy core → served until a signal. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/proxy_opts.h"
#include "cli/proxy_serve.h"
#include "common/args.h"
#include "common/log.h"
#include "proxy/proxy.h"

static const char dup_usage[] =
	"usage: parikshan dup -l LPORT -x PROD_HOST -p PROD_PORT [-m DBG_HOST -d DBG_PORT]... "
	"[options]\n"
	"\n"
	"Forward client traffic to production and copy it, asynchronously, to debug clones.\n"
	"\n"
	"  -l, --listen-port PORT   port the front door listens on (required)\n"
	"  -h, --listen-addr ADDR   address the front door listens on "
	"(default " PK_PROXY_DEFAULT_LISTEN ")\n"
	"  -x, --prod-host HOST     production host (required)\n"
	"  -p, --prod-port PORT     production port (required)\n"
	"  -m, --debug-host HOST    a debug clone's host; repeat for more clones (max 8)\n"
	"  -d, --debug-port PORT    that clone's port: one per -m, or one for all\n"
	"  -a, --async              production never waits on a clone (default)\n"
	"  -s, --sync               read a client's next bytes only after every in-sync clone\n"
	"                           took the previous ones (no drops, at production's expense)\n"
	"      --threads N          worker threads, one event loop each (default: one per CPU)\n"
	"      --resync PROTO       re-attach an out-of-sync clone to open connections at the "
	"next\n"
	"                           request boundary: resp (Redis), http (HTTP/1.x) or mysql;\n"
	"                           default none\n"
	"      --balance            give each client connection to one clone only, the one with "
	"the\n"
	"                           fewest connections open (default: every clone gets every "
	"one);\n"
	"                           each clone then sees a subset: for stateless or read-only "
	"services\n" PK_PROXY_OPTIONS_HELP "\n"
	"A clone whose buffer overflows is dropped (desynced) and production goes on untouched.\n";

enum { OPT_THREADS = PK_OPT_FIRST_OWN, OPT_RESYNC, OPT_BALANCE };

static const struct option dup_options[] = {
	PK_PROXY_LONG_OPTIONS,
	{ "prod-host", required_argument, NULL, 'x' },
	{ "prod-port", required_argument, NULL, 'p' },
	{ "debug-host", required_argument, NULL, 'm' },
	{ "debug-port", required_argument, NULL, 'd' },
	{ "async", no_argument, NULL, 'a' },
	{ "sync", no_argument, NULL, 's' },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "resync", required_argument, NULL, OPT_RESYNC },
	{ "balance", no_argument, NULL, OPT_BALANCE },
	{ NULL, 0, NULL, 0 },
};

#define DUP_DRAIN_NS (5 * 1000000000ull)
#define DUP_RESYNC_BACKOFF_NS (1000000000ull) /* a clone that just desynced gets 1 s to recover */

/* What the flags say. */
struct dup_opts {
	struct pk_proxy_common c;
	const char *prod_host;
	uint16_t prod_port;
	const char *dbg_hosts[PK_PROXY_MAX_TARGETS];
	uint16_t dbg_ports[PK_PROXY_MAX_TARGETS];
	int ntargets;
	enum pk_proxy_mode mode;
	int threads;	      /* 0 = one per online CPU */
	enum pk_proto resync; /* re-attach out-of-sync clones (--resync) */
	bool balance;	      /* --balance: each connection to one clone */
};

/* The duplicator: the proxy core with clones as debug targets.  Resolves the addresses in o
 * and serves until SIGINT/SIGTERM; prints one error line on failure.  Returns a PK_EXIT_*
 * code. */
static int dup_run(const struct dup_opts *o)
{
	struct pk_proxy_config cfg = {
		.role = "dup",
		.mode = o->mode,
		.ntargets = o->ntargets,
		.drain_ns = DUP_DRAIN_NS,
		.threads = o->threads,
		.resync = o->resync,
		.resync_backoff_ns = DUP_RESYNC_BACKOFF_NS,
		.balance = o->balance,
	};

	if (pk_proxy_cli_apply("dup", &o->c, &cfg) ||
	    pk_proxy_cli_resolve("dup", "production", o->prod_host, o->prod_port, &cfg.prod))
		return PK_EXIT_RUNTIME;
	for (int i = 0; i < o->ntargets; i++)
		if (pk_proxy_cli_resolve("dup", "debug", o->dbg_hosts[i], o->dbg_ports[i],
					 &cfg.targets[i]))
			return PK_EXIT_RUNTIME;
	return pk_proxy_cli_serve(&cfg);
}

int pk_cmd_dup(int argc, char **argv)
{
	struct dup_opts o = {
		.mode = PK_PROXY_ASYNC,
	};
	struct pk_proxy_cli po;
	bool have_p = false;
	int nports = 0, c, err;
	uint64_t v;

	pk_proxy_cli_init(&po, "dup");
	while (!(err = pk_proxy_cli_next(&po, argc, argv, ":l:h:x:p:m:d:asb:", dup_options,
					 dup_usage, &c))) {
		switch (c) {
		case 'x':
			o.prod_host = optarg;
			break;
		case 'p':
			if ((err = pk_parse_port(optarg, &o.prod_port)))
				return pk_cli_bad_value("dup", "production port", optarg, err);
			have_p = true;
			break;
		case 'm':
			if (o.ntargets == PK_PROXY_MAX_TARGETS)
				return pk_cli_bad("dup", "-m", "at most 8 debug targets");
			o.dbg_hosts[o.ntargets++] = optarg;
			break;
		case 'd':
			if (nports == PK_PROXY_MAX_TARGETS)
				return pk_cli_bad("dup", "-d", "at most 8 debug targets");
			if ((err = pk_parse_port(optarg, &o.dbg_ports[nports])))
				return pk_cli_bad_value("dup", "debug port", optarg, err);
			nports++;
			break;
		case 'a':
			o.mode = PK_PROXY_ASYNC;
			break;
		case 's':
			o.mode = PK_PROXY_SYNC;
			break;
		case OPT_THREADS:
			if ((err = pk_parse_uint(optarg, 64, &v)) || v == 0)
				return pk_cli_bad_value("dup", "--threads", optarg,
							err ? err : -ERANGE);
			o.threads = (int)v;
			break;
		case OPT_RESYNC:
			if (pk_proto_parse(optarg, &o.resync))
				return pk_cli_bad_value("dup", "--resync", optarg, -EINVAL);
			break;
		case OPT_BALANCE:
			o.balance = true;
			break;
		case ':':
			return pk_cli_bad("dup", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("dup", argv[optind - 1],
					  "unknown option (see 'parikshan dup --help')");
		}
	}
	if (err == PK_PROXY_CLI_HELP)
		return PK_EXIT_OK;
	if (err != PK_PROXY_CLI_END)
		return err;
	if (optind < argc)
		return pk_cli_bad("dup", argv[optind], "unexpected argument");
	if (!o.prod_host || !have_p)
		return pk_cli_bad("dup", "-x/-p", "a production host and port are required");
	if (nports != o.ntargets && !(nports == 1 && o.ntargets > 1))
		return pk_cli_bad("dup", "-m/-d", "give one -d per -m, or a single -d for all");
	for (int i = nports; i < o.ntargets; i++)
		o.dbg_ports[i] = o.dbg_ports[0];
	for (int i = 0; i < o.ntargets; i++)
		for (int j = 0; j < i; j++)
			if (o.dbg_ports[i] == o.dbg_ports[j] &&
			    strcmp(o.dbg_hosts[i], o.dbg_hosts[j]) == 0)
				return pk_cli_bad("dup", "-m/-d",
						  "the same debug target is given twice");
	if ((err = pk_proxy_cli_check(&po)))
		return err;
	o.c = po.c; /* the compiled regexes move to o */
	err = dup_run(&o);
	pk_proxy_common_release(&o.c);
	return err;
}
