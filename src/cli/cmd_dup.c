/* cmd_dup.c — `parikshan dup`: flags (compatible with the original proxyClone) → pk_dup_run. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
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
	"  -h, --listen-addr ADDR   address the front door listens on (default 0.0.0.0)\n"
	"  -x, --prod-host HOST     production host (required)\n"
	"  -p, --prod-port PORT     production port (required)\n"
	"  -m, --debug-host HOST    a debug clone's host; repeat for more clones (max 8)\n"
	"  -d, --debug-port PORT    that clone's port: one per -m, or one for all\n"
	"  -a, --async              production never waits on a clone (default)\n"
	"  -s, --sync               read a client's next bytes only after every in-sync clone\n"
	"                           took the previous ones (no drops, at production's expense)\n"
	"  -b, --buffer SIZE        per-connection buffer per clone, K/M/G suffixes (default 4M)\n"
	"      --flush-ms MS        coalesce writes to clones every MS ms (default 10; 0 = at "
	"once)\n"
	"      --threads N          worker threads, one event loop each (default: one per CPU)\n"
	"      --resync PROTO       re-attach an out-of-sync clone to open connections at the "
	"next\n"
	"                           request boundary: resp (Redis) or http (HTTP/1.x); default "
	"none\n"
	"      --spill DIR          when a buffer is full, continue in a file in DIR\n"
	"      --spill-max SIZE     cap of each connection's spill file (default 1G)\n"
	"      --admin [ADDR:]PORT  serve GET /metrics there (ADDR defaults to 127.0.0.1)\n"
	"      --log-level LEVEL    error, warn, info (default) or debug\n"
	"      --help               show this text\n"
	"\n"
	"A clone whose buffer overflows is dropped (desynced) and production goes on untouched.\n";

enum {
	OPT_FLUSH_MS = 256,
	OPT_SPILL,
	OPT_SPILL_MAX,
	OPT_ADMIN,
	OPT_LOG_LEVEL,
	OPT_THREADS,
	OPT_RESYNC,
	OPT_HELP,
};

static const struct option dup_options[] = {
	{ "listen-port", required_argument, NULL, 'l' },
	{ "listen-addr", required_argument, NULL, 'h' },
	{ "prod-host", required_argument, NULL, 'x' },
	{ "prod-port", required_argument, NULL, 'p' },
	{ "debug-host", required_argument, NULL, 'm' },
	{ "debug-port", required_argument, NULL, 'd' },
	{ "async", no_argument, NULL, 'a' },
	{ "sync", no_argument, NULL, 's' },
	{ "buffer", required_argument, NULL, 'b' },
	{ "flush-ms", required_argument, NULL, OPT_FLUSH_MS },
	{ "spill", required_argument, NULL, OPT_SPILL },
	{ "spill-max", required_argument, NULL, OPT_SPILL_MAX },
	{ "admin", required_argument, NULL, OPT_ADMIN },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "resync", required_argument, NULL, OPT_RESYNC },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Prints a usage error line and returns PK_EXIT_USAGE. */
static int bad(const char *what, const char *why)
{
	char w[160];

	snprintf(w, sizeof(w), "dup: %s", what);
	pk_cli_error(w, "%s", why);
	return PK_EXIT_USAGE;
}

static int bad_value(const char *flag, const char *val, int err)
{
	char w[160];

	snprintf(w, sizeof(w), "dup: %s '%s'", flag, val);
	pk_cli_error(w, "%s", err == -ERANGE ? "out of range" : "not a valid value");
	return PK_EXIT_USAGE;
}

int pk_cmd_dup(int argc, char **argv)
{
	struct pk_dup_opts o = {
		.listen_host = "0.0.0.0",
		.mode = PK_PROXY_ASYNC,
		.buffer_size = 4ull << 20,
		.spill_max = 1ull << 30,
		.flush_ms = 10,
	};
	char admin_host[256];
	bool have_l = false, have_p = false, spill_max_set = false;
	int nports = 0, c, err;
	enum pk_log_level level;
	uint64_t v;
	struct stat sb;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":l:h:x:p:m:d:asb:", dup_options, NULL)) != -1) {
		switch (c) {
		case 'l':
			if ((err = pk_parse_port(optarg, &o.listen_port)))
				return bad_value("listen port", optarg, err);
			have_l = true;
			break;
		case 'h':
			o.listen_host = optarg;
			break;
		case 'x':
			o.prod_host = optarg;
			break;
		case 'p':
			if ((err = pk_parse_port(optarg, &o.prod_port)))
				return bad_value("production port", optarg, err);
			have_p = true;
			break;
		case 'm':
			if (o.ntargets == PK_PROXY_MAX_TARGETS)
				return bad("-m", "at most 8 debug targets");
			o.dbg_hosts[o.ntargets++] = optarg;
			break;
		case 'd':
			if (nports == PK_PROXY_MAX_TARGETS)
				return bad("-d", "at most 8 debug targets");
			if ((err = pk_parse_port(optarg, &o.dbg_ports[nports])))
				return bad_value("debug port", optarg, err);
			nports++;
			break;
		case 'a':
			o.mode = PK_PROXY_ASYNC;
			break;
		case 's':
			o.mode = PK_PROXY_SYNC;
			break;
		case 'b':
			if ((err = pk_parse_size(optarg, &o.buffer_size)) || o.buffer_size == 0 ||
			    o.buffer_size > (16ull << 30))
				return bad_value("buffer size", optarg, err ? err : -ERANGE);
			break;
		case OPT_FLUSH_MS:
			if ((err = pk_parse_uint(optarg, 1000, &o.flush_ms)))
				return bad_value("--flush-ms", optarg, err);
			break;
		case OPT_SPILL:
			o.spill_dir = optarg;
			break;
		case OPT_SPILL_MAX:
			if ((err = pk_parse_size(optarg, &o.spill_max)) || o.spill_max == 0)
				return bad_value("--spill-max", optarg, err ? err : -ERANGE);
			spill_max_set = true;
			break;
		case OPT_ADMIN:
			if ((err = pk_parse_hostport(optarg, "127.0.0.1", admin_host,
						     sizeof(admin_host), &o.admin_port)))
				return bad_value("--admin", optarg, err);
			o.admin_host = admin_host;
			break;
		case OPT_LOG_LEVEL:
			if (pk_log_parse_level(optarg, &level))
				return bad_value("--log-level", optarg, -EINVAL);
			pk_log_set_level(level);
			break;
		case OPT_THREADS:
			if ((err = pk_parse_uint(optarg, 64, &v)) || v == 0)
				return bad_value("--threads", optarg, err ? err : -ERANGE);
			o.threads = (int)v;
			break;
		case OPT_RESYNC:
			if (pk_proto_parse(optarg, &o.resync))
				return bad_value("--resync", optarg, -EINVAL);
			break;
		case OPT_HELP:
			fputs(dup_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			return bad(argv[optind - 1], "needs a value");
		default:
			return bad(argv[optind - 1], "unknown option (see 'parikshan dup --help')");
		}
	}
	if (optind < argc)
		return bad(argv[optind], "unexpected argument");
	if (!have_l)
		return bad("-l", "a listen port is required");
	if (!o.prod_host || !have_p)
		return bad("-x/-p", "a production host and port are required");
	if (nports != o.ntargets && !(nports == 1 && o.ntargets > 1))
		return bad("-m/-d", "give one -d per -m, or a single -d for all");
	for (int i = nports; i < o.ntargets; i++)
		o.dbg_ports[i] = o.dbg_ports[0];
	for (int i = 0; i < o.ntargets; i++)
		for (int j = 0; j < i; j++)
			if (o.dbg_ports[i] == o.dbg_ports[j] &&
			    strcmp(o.dbg_hosts[i], o.dbg_hosts[j]) == 0)
				return bad("-m/-d", "the same debug target is given twice");
	if (spill_max_set && !o.spill_dir)
		return bad("--spill-max", "needs --spill DIR");
	if (o.spill_dir &&
	    (stat(o.spill_dir, &sb) < 0 || !S_ISDIR(sb.st_mode) || access(o.spill_dir, W_OK) < 0)) {
		char w[300];

		snprintf(w, sizeof(w), "dup: spill directory '%s'", o.spill_dir);
		pk_cli_error(w, "%s", errno ? strerror(errno) : "not a directory");
		return PK_EXIT_RUNTIME;
	}
	return pk_dup_run(&o);
}
