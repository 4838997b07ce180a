/* cmd_fault.c — `parikshan fault NAME ...`: network, CPU and kill faults injected into a clone
 * (src/debug/fault.h); refused on anything that is not a clone. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "clone/clone.h"
#include "common/args.h"
#include "debug/fault.h"

static const char fault_usage[] =
	"usage: parikshan fault CLONE [--delay MS [--jitter MS]] [--loss PCT] [--reorder PCT]\n"
	"                             [--bandwidth RATE] [--limit PACKETS]\n"
	"       parikshan fault CLONE --cpu PCT | --kill PROCESS | --clear\n"
	"       parikshan fault CLONE\n"
	"\n"
	"Inject faults into a clone (never production): the network options combine into one\n"
	"netem qdisc on the clone's eth0 (replacing the one before; on a kernel without netem,\n"
	"a userspace delayer through NFQUEUE and tbf for the rate); --cpu limits the clone's\n"
	"cgroup to PCT percent of one CPU; --kill sends SIGKILL to its processes named PROCESS;\n"
	"--clear removes the qdisc and restores the CPU quota.  With no option, shows the faults.\n"
	"\n"
	"  --delay MS         delay every packet the clone sends (50, 2.5ms, 1s)\n"
	"  --jitter MS        vary the delay by up to MS\n"
	"  --loss PCT         drop PCT percent of the packets (0.5, 10%)\n"
	"  --reorder PCT      send PCT percent at once, the rest delayed (needs --delay)\n"
	"  --bandwidth RATE   limit to RATE (tc units: 10mbit, 500kbit, 1mbps)\n"
	"  --limit PACKETS    hold at most PACKETS, drop the rest (netem's limit; default 1000)\n"
	"  --cpu PCT          CFS quota: PCT percent of one CPU\n"
	"  --kill PROCESS     SIGKILL the clone's processes named PROCESS\n"
	"  --clear            remove every fault\n"
	"  --state-dir DIR    where containers are kept (default $" PK_STATE_DIR_ENV
	" or " PK_STATE_DIR ")\n"
	"  --help             show this text\n";

static const struct option fault_options[] = {
	{ "delay", required_argument, NULL, 'd' },
	{ "jitter", required_argument, NULL, 'J' },
	{ "loss", required_argument, NULL, 'l' },
	{ "reorder", required_argument, NULL, 'r' },
	{ "bandwidth", required_argument, NULL, 'b' },
	{ "limit", required_argument, NULL, 'L' },
	{ "cpu", required_argument, NULL, 'c' },
	{ "kill", required_argument, NULL, 'k' },
	{ "clear", no_argument, NULL, 'C' },
	{ "state-dir", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'H' },
	{ NULL, 0, NULL, 0 },
};

struct fault_opts {
	const char *state_dir;
	const char *name;
	struct pk_fault_net net;
	double cpu_pct; /* < 0: not given */
	const char *kill;
	bool clear;
};

/* Parses one option into o: 0 or an exit status (printed). */
static int fault_opt(struct fault_opts *o, int c, const char *arg)
{
	int rc = 0;

	switch (c) {
	case 'd':
		rc = pk_fault_parse_ms(arg, &o->net.delay_us);
		return rc ? pk_cli_bad_value("fault", "--delay", arg, rc) : 0;
	case 'J':
		rc = pk_fault_parse_ms(arg, &o->net.jitter_us);
		return rc ? pk_cli_bad_value("fault", "--jitter", arg, rc) : 0;
	case 'l':
		rc = pk_fault_parse_pct(arg, &o->net.loss_pct);
		return rc ? pk_cli_bad_value("fault", "--loss", arg, rc) : 0;
	case 'r':
		rc = pk_fault_parse_pct(arg, &o->net.reorder_pct);
		return rc ? pk_cli_bad_value("fault", "--reorder", arg, rc) : 0;
	case 'b':
		rc = pk_fault_parse_rate(arg, &o->net.rate_bps);
		return rc ? pk_cli_bad_value("fault", "--bandwidth", arg, rc) : 0;
	case 'L': {
		uint64_t v;

		rc = pk_parse_uint(arg, UINT32_MAX, &v);
		if (!rc && v == 0)
			rc = -ERANGE;
		o->net.limit = (uint32_t)v;
		return rc ? pk_cli_bad_value("fault", "--limit", arg, rc) : 0;
	}
	case 'c':
		rc = pk_parse_double(arg, 0, 100, &o->cpu_pct);
		if (!rc && o->cpu_pct <= 0)
			rc = -ERANGE;
		return rc ? pk_cli_bad_value("fault", "--cpu", arg, rc) : 0;
	case 'k':
		o->kill = arg;
		return arg[0] ? 0 : pk_cli_bad("fault", "--kill", "needs a process name");
	case 'C':
		o->clear = true;
		return 0;
	case 'S':
		o->state_dir = arg;
		return 0;
	}
	return PK_EXIT_USAGE;
}

/* Runs what o asks on the running clone pid.  Returns an exit status. */
static int fault_run(const struct fault_opts *o, int pid)
{
	struct pk_strbuf out = { 0 };
	char err[512];
	int rc = 0, killed = 0;

	if (o->clear)
		rc = pk_fault_clear(o->state_dir, o->name, pid, err, sizeof(err));
	else if (o->cpu_pct > 0)
		rc = pk_fault_cpu_apply(o->state_dir, o->name, pid, o->cpu_pct, err, sizeof(err));
	else if (o->kill) {
		rc = pk_fault_kill(pid, o->kill, &killed, err, sizeof(err));
		if (!rc)
			printf("killed %d process%s named %s in %s\n", killed,
			       killed == 1 ? "" : "es", o->kill, o->name);
	} else if (pk_fault_net_set(&o->net))
		rc = pk_fault_net_apply(o->state_dir, o->name, pid, &o->net, err, sizeof(err));
	else {
		rc = pk_fault_show(o->state_dir, o->name, pid, &out, err, sizeof(err));
		if (!rc)
			fputs(pk_strbuf_str(&out), stdout);
		pk_strbuf_release(&out);
	}
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "fault", "%s: %s", o->name, err);
	return PK_EXIT_OK;
}

int pk_cmd_fault(int argc, char **argv)
{
	struct fault_opts o = { .state_dir = pk_state_dir_default(), .cpu_pct = -1 };
	struct pk_container_info info;
	int c, rc, kinds;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", fault_options, NULL)) != -1) {
		if (c == 'H') {
			fputs(fault_usage, stdout);
			return PK_EXIT_OK;
		}
		if (c == ':')
			return pk_cli_fail(PK_EXIT_USAGE, "fault", "%s needs a value",
					   argv[optind - 1]);
		if (c == '?')
			return pk_cli_fail(PK_EXIT_USAGE, "fault", "unknown option '%s'",
					   argv[optind - 1]);
		if ((rc = fault_opt(&o, c, optarg)))
			return rc;
	}
	if (optind != argc - 1)
		return pk_cli_bad("fault", "CLONE", "give one clone (try --help)");
	o.name = argv[optind];
	kinds = pk_fault_net_set(&o.net) + (o.cpu_pct > 0) + (o.kill != NULL) + o.clear;
	if (kinds > 1)
		return pk_cli_bad("fault", "options",
				  "network options, --cpu, --kill and --clear go one at a time");
	if (pk_fault_net_set(&o.net)) {
		char args[256], err[256];

		if (pk_fault_netem_args(&o.net, args, sizeof(args), err, sizeof(err)))
			return pk_cli_bad("fault", "network options", err);
	}
	rc = pk_container_info(o.state_dir, o.name, &info);
	if (rc == -ENOENT || rc == -EINVAL)
		return pk_cli_fail(PK_EXIT_RUNTIME, "fault", "no clone named '%s' in %s", o.name,
				   o.state_dir);
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "fault", "%s: %s", o.name, strerror(-rc));
	if (strcmp(info.kind, "clone") != 0)
		return pk_cli_fail(
			PK_EXIT_RUNTIME, "fault",
			"%s is production (a %s, not a clone): faults go into clones only", o.name,
			info.kind);
	if (info.pid <= 0 || strcmp(info.status, "running") != 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "fault", "clone %s is not running (%s)", o.name,
				   info.status);
	return fault_run(&o, info.pid);
}
