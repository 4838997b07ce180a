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
#include "probe/probe.h"
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
	"services\n"
	"      --adapt-pid PID[,PID...]\n"
	"                           adaptive sampling: the process of each clone (in -m order, or\n"
	"                           PID@HOST:PORT naming the clone), whose probes are on (probe\n"
	"                           enable, before or after dup starts); when a clone's fullest\n"
	"                           buffer reaches --adapt-high,\n"
	"                           its probes record half as many calls (every 100 ms, down to 1\n"
	"                           in 65536), and under --adapt-low twice as many again, up to\n"
	"                           every call; each change is logged and in status (SAMPLE: k\n"
	"                           for 1 call in 2^k)\n"
	"      --adapt-high PCT     buffer fill that halves the rate (default 50)\n"
	"      --adapt-low PCT      buffer fill under which it doubles again (default "
	"10)\n" PK_PROXY_OPTIONS_HELP "\n"
	"A clone whose buffer overflows is dropped (desynced) and production goes on untouched.\n";

enum {
	OPT_THREADS = PK_OPT_FIRST_OWN,
	OPT_RESYNC,
	OPT_BALANCE,
	OPT_ADAPT_PID,
	OPT_ADAPT_HIGH,
	OPT_ADAPT_LOW,
};

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
	{ "adapt-pid", required_argument, NULL, OPT_ADAPT_PID },
	{ "adapt-high", required_argument, NULL, OPT_ADAPT_HIGH },
	{ "adapt-low", required_argument, NULL, OPT_ADAPT_LOW },
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
	int threads;		      /* 0 = one per online CPU */
	enum pk_proto resync;	      /* re-attach out-of-sync clones (--resync) */
	bool balance;		      /* --balance: each connection to one clone */
	const char *adapt_pids;	      /* --adapt-pid LIST, parsed once the targets are known */
	double adapt_high, adapt_low; /* percent */
};

/* --adapt-pid: the clone processes whose global sampling rate the proxy sets. */
struct dup_adapt {
	struct pk_probe_target t[PK_PROXY_MAX_TARGETS];
	bool open[PK_PROXY_MAX_TARGETS];
};

/* The proxy's adapt_set: one store into target i's libiprobe segment, mapped first when the
 * process has one by now (-EAGAIN while it has none: no probe was enabled there yet). */
static int adapt_set(void *arg, int i, uint32_t log2)
{
	struct dup_adapt *a = arg;
	char err[256];
	size_t funcs;
	int rc = pk_probe_segment(&a->t[i], err, sizeof(err));

	if (rc)
		return rc == -ENOENT ? -EAGAIN : rc;
	return pk_probe_sample_set(&a->t[i], NULL, 0, log2, &funcs, err, sizeof(err));
}

/* Parses --adapt-pid (PID in target order, or PID@HOST:PORT) and opens each process's probe
 * segment into a, marking cfg->adapt[]; 0 or the exit status of a failure (printed). */
static int adapt_open(const struct dup_opts *o, struct pk_proxy_config *cfg, struct dup_adapt *a)
{
	char list[1024], *save = NULL, *tok, err[512];
	int next = 0;

	if (snprintf(list, sizeof(list), "%s", o->adapt_pids) >= (int)sizeof(list))
		return pk_cli_bad("dup", "--adapt-pid", "too long");
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *at = strchr(tok, '@');
		uint64_t pid;
		int i = next, rc;

		if (at)
			*at = 0;
		if (pk_parse_uint(tok, INT32_MAX, &pid) || !pid)
			return pk_cli_bad_value("dup", "--adapt-pid", tok, -EINVAL);
		if (at) {
			char host[256];
			uint16_t port;
			struct pk_addr addr;

			if (pk_parse_hostport(at + 1, "127.0.0.1", host, sizeof(host), &port))
				return pk_cli_bad_value("dup", "--adapt-pid", at + 1, -EINVAL);
			if (pk_proxy_cli_resolve("dup", "--adapt-pid", host, port, &addr))
				return PK_EXIT_RUNTIME;
			char want[PK_ADDR_STRLEN], have[PK_ADDR_STRLEN];

			pk_addr_str(&addr, want, sizeof(want));
			for (i = 0; i < cfg->ntargets; i++)
				if (!strcmp(want,
					    pk_addr_str(&cfg->targets[i], have, sizeof(have))))
					break;
			if (i == cfg->ntargets)
				return pk_cli_bad("dup", "--adapt-pid",
						  "names no debug target (-m/-d)");
		} else {
			next++;
		}
		if (i >= cfg->ntargets)
			return pk_cli_bad("dup", "--adapt-pid", "more pids than debug targets");
		if (cfg->adapt[i])
			return pk_cli_bad("dup", "--adapt-pid", "a debug target given twice");
		rc = pk_probe_open((pid_t)pid, NULL, 0, &a->t[i], err, sizeof(err));
		if (rc)
			return pk_cli_fail(PK_EXIT_RUNTIME, "dup", "--adapt-pid %llu: %s",
					   (unsigned long long)pid, err);
		a->open[i] = true;
		if (!a->t[i].shm)
			pk_log(PK_LOG_INFO,
			       "dup: adapt: process %llu has no probes yet: its rate is set once "
			       "they are enabled",
			       (unsigned long long)pid);
		cfg->adapt[i] = true;
	}
	cfg->adapt_high = o->adapt_high / 100;
	cfg->adapt_low = o->adapt_low / 100;
	cfg->adapt_set = adapt_set;
	cfg->adapt_arg = a;
	return 0;
}

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
	struct dup_adapt adapt = { 0 };
	int rc;

	for (int i = 0; i < o->ntargets; i++)
		if (pk_proxy_cli_resolve("dup", "debug", o->dbg_hosts[i], o->dbg_ports[i],
					 &cfg.targets[i]))
			return PK_EXIT_RUNTIME;
	bool served = false;

	rc = o->adapt_pids ? adapt_open(o, &cfg, &adapt) : 0;
	if (!rc) {
		rc = pk_proxy_cli_serve(&cfg);
		served = true;
	}
	for (int i = 0; i < PK_PROXY_MAX_TARGETS; i++) {
		if (!adapt.open[i])
			continue;
		if (served && cfg.adapt[i]) /* leave the clone recording every call */
			adapt_set(&adapt, i, 0);
		pk_probe_close(&adapt.t[i]);
	}
	return rc;
}

int pk_cmd_dup(int argc, char **argv)
{
	struct dup_opts o = {
		.mode = PK_PROXY_ASYNC,
		.adapt_high = 50,
		.adapt_low = 10,
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
		case OPT_ADAPT_PID:
			o.adapt_pids = optarg;
			break;
		case OPT_ADAPT_HIGH:
			if (pk_parse_double(optarg, 1, 100, &o.adapt_high))
				return pk_cli_bad_value("dup", "--adapt-high", optarg, -EINVAL);
			break;
		case OPT_ADAPT_LOW:
			if (pk_parse_double(optarg, 0, 99, &o.adapt_low))
				return pk_cli_bad_value("dup", "--adapt-low", optarg, -EINVAL);
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
	if (o.adapt_low >= o.adapt_high)
		return pk_cli_bad("dup", "--adapt-low", "must be below --adapt-high");
	if ((err = pk_proxy_cli_check(&po)))
		return err;
	o.c = po.c; /* the compiled regexes move to o */
	err = dup_run(&o);
	pk_proxy_common_release(&o.c);
	return err;
}
