/* cmd_container.c — `parikshan container run|ls|rm|logs`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "clone/clone.h"
#include "common/args.h"

static const char container_usage[] =
	"usage: parikshan container run NAME --rootfs DIR --ip ADDR/PREFIX [--mem SIZE] -- CMD...\n"
	"       parikshan container ls [--json]\n"
	"       parikshan container rm NAME\n"
	"       parikshan container logs NAME\n"
	"\n"
	"Production containers: an OCI bundle run by runc on an overlay root (lower DIR, which "
	"may\n"
	"be /), in network namespace pk-NAME with ADDR on eth0, stdio kept in logs by the tool.\n"
	"\n"
	"  --rootfs DIR       lower directory of the root filesystem (read-only to the container)\n"
	"  --ip ADDR/PREFIX   the service address inside the container (IPv4)\n"
	"  --mem SIZE         memory limit (K/M/G suffixes)\n"
	"  --state-dir DIR    where containers are kept (default $" PK_STATE_DIR_ENV
	" or " PK_STATE_DIR ")\n"
	"  --json             ls: JSON instead of a table\n"
	"  --help             show this text\n";

enum { OPT_ROOTFS = 256, OPT_IP, OPT_MEM, OPT_STATE, OPT_JSON, OPT_HELP };

static const struct option container_options[] = {
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "state-dir", required_argument, NULL, OPT_STATE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int pk_cmd_container(int argc, char **argv)
{
	struct pk_run_opts o = { .state_dir = pk_state_dir_default() };
	const char *sub;
	char err[PK_ERR_MAX], what[128]; /* "container SUB", then "container SUB NAME" */
	bool json = false;
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
			     ? pk_container_rm(o.state_dir, o.name, err, sizeof(err))
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
	rc = pk_container_run(&o, err, sizeof(err));
	if (rc)
		return pk_cli_fail(rc == -EINVAL || rc == -ENOTDIR ? PK_EXIT_USAGE
								   : PK_EXIT_RUNTIME,
				   what, "%s", err);
	printf("%s running (netns pk-%s)\n", o.name, o.name);
	return PK_EXIT_OK;
}
