/* cmd_sim.c — `parikshan sim`: flags → (a trace) → one simulation per slowdown × buffer →
 * report, table, JSON and/or SVG.  The simulator and the models are src/window's. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/sim_view.h"
#include "common/args.h"
#include "window/window.h"

#define SIM_MAX_GRID 32 /* values of --slowdown, of --buffer */
#define SIM_DEFAULT_DURATION_S 3600
#define SIM_DEFAULT_SEED 1
#define SIM_MAX_RATE 1e9
#define SIM_MAX_SLOWDOWN 1e6
#define SIM_MAX_DURATION_NS ((uint64_t)PK_WINDOW_SIM_MAX_DURATION_S * 1000000000ull)
#define SIM_MAX_LIST 1024 /* characters of a comma list */

static const char sim_usage[] =
	"usage: parikshan sim --arrival const|poisson --rate REQ_PER_S --request-size SIZE\n"
	"                     --service-rate REQ_PER_S [--service const|exp] --slowdown X[,X...]\n"
	"                     --buffer SIZE[,SIZE...] [--duration S] [--seed N] [--json] [--svg "
	"FILE]\n"
	"       parikshan sim --trace FILE [--server-port P] [--service trace|const|exp]\n"
	"                     [--service-rate REQ_PER_S] --slowdown X[,X...] --buffer SIZE[,...] "
	"...\n"
	"\n"
	"Simulate one duplicator buffer (a clone's) and print the debug window: the time until\n"
	"the first request that does not fit, or none within --duration.  A request holds its\n"
	"bytes from its arrival until the clone has served it (FIFO, one server); each service\n"
	"time is multiplied by the slowdown.  The fluid and M/M/1/K predictions are shown beside.\n"
	"\n"
	"  --arrival KIND       const (every 1/RATE s) or poisson (exponential gaps)\n"
	"  --rate REQ_PER_S     arrival rate\n"
	"  --request-size SIZE  bytes per request (K/M/G suffixes)\n"
	"  --trace FILE         arrivals (times, sizes) from a pcap/pcapng capture instead: each\n"
	"                       client burst on a connection is a request; the service time is\n"
	"                       measured up to the server's answer; the trace repeats\n"
	"  --server-port P      only the capture's connections to port P\n"
	"  --service KIND       const, exp (exponential) or trace (measured; needs --trace);\n"
	"                       default exp, trace with --trace\n"
	"  --service-rate R     service rate of the clone before the slowdown, requests/s\n"
	"  --slowdown X[,X...]  how many times slower the clone serves (> 0)\n"
	"  --buffer SIZE[,...]  the duplicator's buffer (dup -b)\n"
	"  --duration S         simulated time, seconds (default " PK_STR(
		SIM_DEFAULT_DURATION_S) ")\n"
					"  --seed N             random seed (default " PK_STR(
						SIM_DEFAULT_SEED) ")\n"
								  "  --json               one JSON "
								  "object (an array for several "
								  "slowdowns or buffers)\n"
								  "  --svg FILE           also "
								  "write the plot: window against "
								  "slowdown, a line per buffer\n"
								  "  --help               show "
								  "this text\n"
								  "\n"
								  "Several slowdowns or buffers "
								  "print a table of windows "
								  "(seconds, or none).\n"
								  "Exit status: 0 ran, 1 the trace "
								  "or the plot file failed, 2 bad "
								  "usage.\n";

enum {
	OPT_ARRIVAL = 256,
	OPT_RATE,
	OPT_REQUEST_SIZE,
	OPT_TRACE,
	OPT_SERVER_PORT,
	OPT_SERVICE,
	OPT_SERVICE_RATE,
	OPT_SLOWDOWN,
	OPT_BUFFER,
	OPT_DURATION,
	OPT_SEED,
	OPT_JSON,
	OPT_SVG,
	OPT_HELP,
};

static const struct option sim_options[] = {
	{ "arrival", required_argument, NULL, OPT_ARRIVAL },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "request-size", required_argument, NULL, OPT_REQUEST_SIZE },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "server-port", required_argument, NULL, OPT_SERVER_PORT },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "service-rate", required_argument, NULL, OPT_SERVICE_RATE },
	{ "slowdown", required_argument, NULL, OPT_SLOWDOWN },
	{ "buffer", required_argument, NULL, OPT_BUFFER },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct sim_opts {
	struct pk_window_sim_params p; /* the slowdown and buffer are set per cell */
	bool arrival_set, rate_set, size_set, service_set, service_rate_set;
	const char *trace_file;
	uint16_t server_port;
	double slowdowns[SIM_MAX_GRID];
	size_t nslow;
	uint64_t buffers[SIM_MAX_GRID];
	size_t nbuf;
	bool json;
	const char *svg;
};

/* One element of a comma list: parses into slot i of the flag's array. */
typedef int (*parse_elem)(const char *s, void *v, size_t i);

static int parse_slowdown(const char *s, void *v, size_t i)
{
	return pk_parse_double(s, 1e-9, SIM_MAX_SLOWDOWN, (double *)v + i);
}

static int parse_buffer(const char *s, void *v, size_t i)
{
	uint64_t *b = (uint64_t *)v + i;
	int err = pk_parse_size(s, b);

	return err ? err : *b == 0 ? -ERANGE : 0;
}

/* Splits a comma list (no empty element, at most SIM_MAX_GRID) into v; *n gets the count. */
static int parse_list(const char *s, parse_elem fn, void *v, size_t *n)
{
	char buf[SIM_MAX_LIST];
	char *p = buf, *comma;
	int err;

	if (strlen(s) >= sizeof(buf))
		return -ERANGE;
	snprintf(buf, sizeof(buf), "%s", s);
	for (*n = 0;; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (*n == SIM_MAX_GRID)
			return -ERANGE;
		if ((err = fn(p, v, (*n)++)))
			return err;
		if (!comma)
			return 0;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts a flag's list (rows and lines in increasing order); false when a value repeats. */
static bool sort_unique(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	qsort(v, n, size, cmp);
	for (size_t i = 1; i < n; i++)
		if (cmp((char *)v + (i - 1) * size, (char *)v + i * size) == 0)
			return false;
	return true;
}

/* Parses one option into o; returns -1 to go on, else the exit status. */
static int parse_opt(int c, struct sim_opts *o, char **argv)
{
	uint64_t v;
	int err = 0, kind;

	switch (c) {
	case OPT_ARRIVAL:
		kind = pk_window_arrival_parse(optarg);
		if (kind < 0 || kind == PK_WINDOW_ARRIVAL_TRACE)
			return pk_cli_fail(PK_EXIT_USAGE, "sim",
					   "--arrival '%s': not a kind of arrivals (const or "
					   "poisson; --trace FILE for a capture)",
					   optarg);
		o->p.arrival = (enum pk_window_arrival)kind;
		o->arrival_set = true;
		return -1;
	case OPT_RATE:
		if ((err = pk_parse_double(optarg, 1e-9, SIM_MAX_RATE, &o->p.rate)))
			return pk_cli_bad_value("sim", "--rate", optarg, err);
		o->rate_set = true;
		return -1;
	case OPT_REQUEST_SIZE:
		if ((err = pk_parse_size(optarg, &o->p.request_bytes)) || o->p.request_bytes == 0)
			return pk_cli_bad_value("sim", "--request-size", optarg,
						err ? err : -ERANGE);
		o->size_set = true;
		return -1;
	case OPT_TRACE:
		o->trace_file = optarg;
		return -1;
	case OPT_SERVER_PORT:
		if ((err = pk_parse_port(optarg, &o->server_port)))
			return pk_cli_bad_value("sim", "--server-port", optarg, err);
		return -1;
	case OPT_SERVICE:
		if ((kind = pk_window_service_parse(optarg)) < 0)
			return pk_cli_fail(PK_EXIT_USAGE, "sim",
					   "--service '%s': not a kind of service (const, exp or "
					   "trace)",
					   optarg);
		o->p.service = (enum pk_window_service)kind;
		o->service_set = true;
		return -1;
	case OPT_SERVICE_RATE:
		if ((err = pk_parse_double(optarg, 1e-9, SIM_MAX_RATE, &o->p.service_rate)))
			return pk_cli_bad_value("sim", "--service-rate", optarg, err);
		o->service_rate_set = true;
		return -1;
	case OPT_SLOWDOWN:
		if ((err = parse_list(optarg, parse_slowdown, o->slowdowns, &o->nslow)))
			return pk_cli_bad_value("sim", "--slowdown", optarg, err);
		return -1;
	case OPT_BUFFER:
		if ((err = parse_list(optarg, parse_buffer, o->buffers, &o->nbuf)))
			return pk_cli_bad_value("sim", "--buffer", optarg, err);
		return -1;
	case OPT_DURATION:
		if ((err = pk_parse_duration(optarg, SIM_MAX_DURATION_NS, &v)) || v == 0)
			return pk_cli_bad_value("sim", "--duration", optarg, err ? err : -ERANGE);
		o->p.duration_s = (double)v / 1e9;
		return -1;
	case OPT_SEED:
		if ((err = pk_parse_uint(optarg, UINT64_MAX, &o->p.seed)))
			return pk_cli_bad_value("sim", "--seed", optarg, err);
		return -1;
	case OPT_JSON:
		o->json = true;
		return -1;
	case OPT_SVG:
		o->svg = optarg;
		return -1;
	case OPT_HELP:
		fputs(sim_usage, stdout);
		return PK_EXIT_OK;
	case ':':
		return pk_cli_bad("sim", argv[optind - 1], "needs a value");
	default:
		return pk_cli_bad("sim", argv[optind - 1],
				  "unknown option (see 'parikshan sim --help')");
	}
}

/* Checks that the flags given make one kind of run; returns -1 when they do. */
static int check_opts(struct sim_opts *o)
{
	if (o->trace_file) {
		if (o->arrival_set || o->rate_set || o->size_set)
			return pk_cli_bad("sim", "--trace",
					  "replaces --arrival, --rate and --request-size");
		if (!o->service_set)
			o->p.service = o->service_rate_set ? PK_WINDOW_SERVICE_EXP
							   : PK_WINDOW_SERVICE_TRACE;
		o->p.arrival = PK_WINDOW_ARRIVAL_TRACE;
	} else {
		if (o->server_port)
			return pk_cli_bad("sim", "--server-port", "needs --trace");
		if (!o->arrival_set || !o->rate_set || !o->size_set)
			return pk_cli_bad("sim", "--arrival/--rate/--request-size",
					  "required (or --trace FILE)");
		if (o->p.service == PK_WINDOW_SERVICE_TRACE)
			return pk_cli_bad("sim", "--service trace", "needs --trace");
	}
	if (o->p.service != PK_WINDOW_SERVICE_TRACE && !o->service_rate_set)
		return pk_cli_bad("sim", "--service-rate", "required");
	if (o->p.service == PK_WINDOW_SERVICE_TRACE && o->service_rate_set)
		return pk_cli_bad("sim", "--service-rate", "conflicts with --service trace");
	if (!o->nslow || !o->nbuf)
		return pk_cli_bad("sim", "--slowdown/--buffer", "required");
	if (!sort_unique(o->slowdowns, o->nslow, sizeof(double), cmp_double))
		return pk_cli_bad("sim", "--slowdown", "a value is given twice");
	if (!sort_unique(o->buffers, o->nbuf, sizeof(uint64_t), cmp_u64))
		return pk_cli_bad("sim", "--buffer", "a value is given twice");
	return -1;
}

/* Why a run was refused, as the CLI's error line; returns the exit status. */
static int run_failed(const struct sim_opts *o, const struct pk_window_sim_params *p, int err)
{
	if (err == -E2BIG)
		return pk_cli_fail(PK_EXIT_USAGE, "sim",
				   "--duration %.4g s: more than %llu arrivals to simulate "
				   "(shorten --duration)",
				   p->duration_s, (unsigned long long)PK_WINDOW_SIM_MAX_ARRIVALS);
	if (err == -EINVAL && o->trace_file)
		return pk_cli_fail(PK_EXIT_RUNTIME, "sim",
				   "%s: no service time could be measured (no answer from the "
				   "server in the capture); give --service-rate",
				   o->trace_file);
	return pk_cli_fail(err == -EINVAL ? PK_EXIT_USAGE : PK_EXIT_RUNTIME, "sim", "%s",
			   strerror(-err));
}

/* Writes text to path; returns the exit status. */
static int write_file(const char *path, const struct pk_strbuf *text)
{
	FILE *f = fopen(path, "we");
	const char *s = pk_strbuf_str(text);
	bool ok;

	if (!f)
		return pk_cli_fail(PK_EXIT_RUNTIME, "sim", "--svg %s: %s", path, strerror(errno));
	ok = fwrite(s, 1, strlen(s), f) == strlen(s);
	ok = (fclose(f) == 0) && ok;
	if (!ok)
		return pk_cli_fail(PK_EXIT_RUNTIME, "sim", "--svg %s: write failed", path);
	return PK_EXIT_OK;
}

/* Runs every cell and shows them; returns the exit status. */
static int run_grid(struct sim_opts *o, struct pk_sim_cell *cells)
{
	struct pk_sim_grid g = { .trace_file = o->trace_file,
				 .slowdowns = o->slowdowns,
				 .nslow = o->nslow,
				 .buffers = o->buffers,
				 .nbuf = o->nbuf,
				 .cells = cells };
	struct pk_strbuf out = { 0 }, svg = { 0 };
	int rc = PK_EXIT_OK, err = 0;

	for (size_t s = 0; s < o->nslow; s++)
		for (size_t b = 0; b < o->nbuf; b++) {
			struct pk_sim_cell *c = &cells[s * o->nbuf + b];

			c->params = o->p;
			c->params.slowdown = o->slowdowns[s];
			c->params.buffer_bytes = o->buffers[b];
			if ((err = pk_window_predict(&c->params, &c->pred)) ||
			    (err = pk_window_sim_run(&c->params, &c->res)))
				return run_failed(o, &c->params, err);
		}
	if (o->svg &&
	    ((err = pk_sim_render_svg(&g, &svg)) || (rc = write_file(o->svg, &svg)) != PK_EXIT_OK))
		goto out;
	if (o->json)
		err = pk_sim_render_json(&g, &out);
	else
		pk_sim_render_text(&g, &out);
	if (!err && !pk_strbuf_ok(&out))
		err = -ENOMEM;
	if (!err)
		fputs(pk_strbuf_str(&out), stdout);
out:
	if (err && rc == PK_EXIT_OK)
		rc = pk_cli_fail(PK_EXIT_RUNTIME, "sim", "%s", strerror(-err));
	pk_strbuf_release(&out);
	pk_strbuf_release(&svg);
	return rc;
}

int pk_cmd_sim(int argc, char **argv)
{
	struct sim_opts o = { .p = { .service = PK_WINDOW_SERVICE_EXP,
				     .duration_s = SIM_DEFAULT_DURATION_S,
				     .seed = SIM_DEFAULT_SEED } };
	struct pk_window_trace *trace = NULL;
	struct pk_sim_cell *cells;
	char err[512];
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", sim_options, NULL)) != -1)
		if ((rc = parse_opt(c, &o, argv)) >= 0)
			return rc;
	if (optind < argc)
		return pk_cli_bad("sim", argv[optind], "unexpected argument");
	if ((rc = check_opts(&o)) >= 0)
		return rc;
	if (o.trace_file) {
		if (pk_window_trace_read_file(o.trace_file, o.server_port, 0, &trace, err,
					      sizeof(err)) < 0)
			return pk_cli_fail(PK_EXIT_RUNTIME, "sim", "%s: %s", o.trace_file, err);
		o.p.trace = trace;
	}
	cells = calloc(o.nslow * o.nbuf, sizeof(*cells));
	if (!cells)
		rc = pk_cli_fail(PK_EXIT_RUNTIME, "sim", "%s", strerror(ENOMEM));
	else
		rc = run_grid(&o, cells);
	free(cells);
	pk_window_trace_free(trace);
	return rc;
}
