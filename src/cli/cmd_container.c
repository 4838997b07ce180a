/* cmd_container.c — `parikshan container run|ls|rm|logs`. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "clone/clone.h"
#include "common/args.h"
#include "common/proc.h"
#include "parikshan/trace.h"

#define TRACE_LIB_NAME "libparikshan_trace.so"

static const char container_usage[] =
	"usage: parikshan container run NAME --rootfs DIR --ip ADDR/PREFIX [--mem SIZE]\n"
	"                                [--trace [--trace-sock SOCK]] -- CMD...\n"
	"       parikshan container ls [--json]\n"
	"       parikshan container rm NAME\n"
	"       parikshan container logs NAME\n"
	"\n"
	"Production containers: an OCI bundle run by runc on an overlay root (lower DIR, which "
	"may\n"
	"be /), in network namespace pk-NAME with ADDR on eth0, stdio kept in logs by the tool.\n"
	"ls also lists the running containers of Docker (at $DOCKER_HOST or\n"
	"/var/run/docker.sock, when it answers) as docker:NAME: `parikshan clone docker:NAME`\n"
	"clones one.\n"
	"\n"
	"  --rootfs DIR       lower directory of the root filesystem (read-only to the container)\n"
	"  --ip ADDR/PREFIX   the service address inside the container (IPv4)\n"
	"  --mem SIZE         memory limit (K/M/G suffixes)\n"
	"  --trace            run every process of the container with " TRACE_LIB_NAME "\n"
	"                     preloaded (request-path tracing; see 'parikshan trace --help'): the\n"
	"                     library is bind-mounted read-only at " PK_CONTAINER_TRACE_LIB ",\n"
	"                     the socket's directory at its own path.  A logd that is not running\n"
	"                     yet stops nothing: records are dropped and counted, and each "
	"process\n"
	"                     connects again (at most every 200 ms) once logd listens.\n"
	"  --trace-sock SOCK  logd's socket (absolute; implies --trace; default $" PK_TRACE_ENV_SOCK
	"\n"
	"                     or " PK_TRACE_SOCK_DEFAULT ")\n"
	"  --state-dir DIR    where containers are kept (default $" PK_STATE_DIR_ENV
	" or " PK_STATE_DIR ")\n"
	"  --json             ls: JSON instead of a table\n"
	"  --help             show this text\n";

enum {
	OPT_ROOTFS = 256,
	OPT_IP,
	OPT_MEM,
	OPT_STATE,
	OPT_JSON,
	OPT_TRACE,
	OPT_TRACE_SOCK,
	OPT_HELP
};

static const struct option container_options[] = {
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "state-dir", required_argument, NULL, OPT_STATE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "trace", no_argument, NULL, OPT_TRACE },
	{ "trace-sock", required_argument, NULL, OPT_TRACE_SOCK },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* --trace: finds the library and logd's socket (sock: --trace-sock, $PARIKSHAN_TRACE_SOCK or
 * the default, made absolute) into lib and abs, and points o at them.  0, or the exit status
 * after the error line. */
static int trace_setup(struct pk_run_opts *o, const char *sock, char *lib, size_t liblen, char *abs,
		       size_t abslen, const char *what)
{
	char err[PK_ERR_MAX], cwd[PATH_MAX];
	const char *env = getenv(PK_TRACE_ENV_SOCK);
	int rc;

	if (!sock)
		sock = env && *env ? env : PK_TRACE_SOCK_DEFAULT;
	if (sock[0] == '/') {
		snprintf(abs, abslen, "%s", sock);
	} else if (!getcwd(cwd, sizeof(cwd)) ||
		   (size_t)snprintf(abs, abslen, "%s/%s", cwd, sock) >= abslen) {
		return pk_cli_fail(PK_EXIT_USAGE, what, "trace socket path '%s' is too long", sock);
	}
	rc = pk_container_trace_check(abs, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_USAGE, what, "%s", err);
	rc = pk_proc_own_lib(PK_TRACE_ENV_LIB, TRACE_LIB_NAME, lib, liblen);
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, what,
				   TRACE_LIB_NAME " not found (set " PK_TRACE_ENV_LIB "): %s",
				   strerror(-rc));
	o->trace_lib = lib;
	o->trace_sock = abs;
	return 0;
}

int pk_cmd_container(int argc, char **argv)
{
	struct pk_run_opts o = { .state_dir = pk_state_dir_default() };
	const char *sub;
	char err[PK_ERR_MAX], what[128]; /* "container SUB", then "container SUB NAME" */
	char lib[PATH_MAX], sock[PATH_MAX];
	const char *trace_sock = NULL;
	bool json = false, trace = false;
	int c, rc;

	if (argc < 2) {
		pk_cli_error("container", "missing subcommand: run, ls, rm or logs");
		return PK_EXIT_USAGE;
	}
	sub = argv[1];
	snprintf(what, sizeof(what), "container %s", sub);
	if (strcmp(sub, "--help") == 0) {
		fputs(container_usage, stdout);
		return PK_EXIT_OK;
	}
	opterr = 0;
	optind = 2;
	if (strcmp(sub, "ls") != 0 && argc > 2 && argv[2][0] != '-') {
		o.name = argv[2]; /* NAME comes before the options */
		optind = 3;
	}
	/* "+": stop at the first non-option, so that the container's command keeps its flags. */
	while ((c = getopt_long(argc, argv, "+:", container_options, NULL)) != -1) {
		switch (c) {
		case OPT_ROOTFS:
			o.rootfs = optarg;
			break;
		case OPT_IP:
			o.ip = optarg;
			break;
		case OPT_MEM:
			if (pk_parse_size(optarg, &o.mem_limit) || o.mem_limit < (4u << 20))
				return pk_cli_fail(PK_EXIT_USAGE, what,
						   "--mem needs a size of at least 4M");
			break;
		case OPT_STATE:
			if (strlen(optarg) > 256)
				return pk_cli_fail(PK_EXIT_USAGE, what, "--state-dir is too long");
			o.state_dir = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_TRACE:
			trace = true;
			break;
		case OPT_TRACE_SOCK:
			trace = true;
			trace_sock = optarg;
			break;
		case OPT_HELP:
			fputs(container_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			return pk_cli_fail(PK_EXIT_USAGE, what, "an option needs a value");
		default:
			pk_cli_error("container",
				     "unknown option '%s' (see 'parikshan container --help')",
				     argv[optind - 1]);
			return PK_EXIT_USAGE;
		}
	}
	if (strcmp(sub, "ls") == 0) {
		struct pk_strbuf out = { 0 };

		if (optind < argc)
			return pk_cli_fail(PK_EXIT_USAGE, what, "takes no arguments");
		pk_container_list(o.state_dir, json, &out);
		fputs(pk_strbuf_str(&out), stdout);
		pk_strbuf_release(&out);
		return PK_EXIT_OK;
	}
	if (strcmp(sub, "run") != 0 && strcmp(sub, "rm") != 0 && strcmp(sub, "logs") != 0) {
		pk_cli_error("container", "unknown subcommand '%s': run, ls, rm or logs", sub);
		return PK_EXIT_USAGE;
	}
	if (!o.name)
		return pk_cli_fail(PK_EXIT_USAGE, what, "needs a NAME");
	snprintf(what, sizeof(what), "container %s %s", sub, o.name);
	if (getuid() != 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, what, "must run as root");
	if (strcmp(sub, "rm") == 0 || strcmp(sub, "logs") == 0) {
		if (optind < argc)
			return pk_cli_fail(PK_EXIT_USAGE, what, "unexpected argument");
		rc = strcmp(sub, "rm") == 0
			     ? pk_clone_rm(o.state_dir, o.name, err, sizeof(err))
			     : pk_container_logs(o.state_dir, o.name, err, sizeof(err));
		return rc ? pk_cli_fail(PK_EXIT_RUNTIME, what, "%s", err) : PK_EXIT_OK;
	}
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (!o.rootfs || !o.ip)
		return pk_cli_fail(PK_EXIT_USAGE, what, "--rootfs and --ip are required");
	if (optind >= argc)
		return pk_cli_fail(PK_EXIT_USAGE, what, "needs a command after --");
	o.argv = argv + optind;
	if (trace) {
		rc = trace_setup(&o, trace_sock, lib, sizeof(lib), sock, sizeof(sock), what);
		if (rc)
			return rc;
	}
	rc = pk_container_run(&o, err, sizeof(err));
	if (rc)
		return pk_cli_fail(rc == -EINVAL || rc == -ENOTDIR ? PK_EXIT_USAGE
								   : PK_EXIT_RUNTIME,
				   what, "%s", err);
	if (o.trace_lib)
		printf("%s running (netns pk-%s), traced: logd at %s\n", o.name, o.name,
		       o.trace_sock);
	else
		printf("%s running (netns pk-%s)\n", o.name, o.name);
	return PK_EXIT_OK;
}
