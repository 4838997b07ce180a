/* proxy_opts.c — parsing of the flags `dup` and `agg` share. */
#include "cli/proxy_opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/args.h"
#include "common/log.h"
#include "proto/msg.h"

void pk_proxy_cli_init(struct pk_proxy_cli *o, const char *cmd)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->c.listen_host = PK_PROXY_DEFAULT_LISTEN;
	o->c.buffer_size = (uint64_t)PK_PROXY_DEFAULT_BUFFER_MB << 20;
	o->c.spill_max = (uint64_t)PK_PROXY_DEFAULT_SPILL_MAX_GB << 30;
	o->c.flush_ms = PK_PROXY_DEFAULT_FLUSH_MS;
	o->c.close_grace_ns = PK_PROXY_DEFAULT_CLOSE_GRACE_SEC * 1000000000ull;
	o->c.window_warn_s = PK_PROXY_DEFAULT_WINDOW_WARN_SEC;
	o->c.rec.file_max = (uint64_t)PK_PROXY_DEFAULT_RECORD_MAX_GB << 30;
}

/* Compiles the --compare-ignore regexes (a bad one is a usage error: the line printed, the
 * ones compiled so far freed); returns 0 or the exit code. */
static int compile_ignores(struct pk_proxy_cli *o)
{
	for (size_t i = 0; i < o->nignore_src; i++) {
		regex_t *re = &o->c.compare_ignore[i];
		char what[80], why[256];
		int rc = regcomp(re, o->ignore_src[i], REG_EXTENDED);

		if (rc) {
			regerror(rc, re, why, sizeof(why));
			pk_proxy_common_release(&o->c);
			snprintf(what, sizeof(what), "--compare-ignore '%.40s'", o->ignore_src[i]);
			return pk_cli_bad(o->cmd, what, why);
		}
		o->c.ncompare_ignore = i + 1;
	}
	return 0;
}

void pk_proxy_common_release(struct pk_proxy_common *c)
{
	for (size_t i = 0; i < c->ncompare_ignore; i++)
		regfree(&c->compare_ignore[i]);
	c->ncompare_ignore = 0;
}

int pk_proxy_cli_opt(struct pk_proxy_cli *o, int c, const char *arg, const char *usage)
{
	enum pk_log_level level;
	uint64_t v;
	int err;

	switch (c) {
	case 'l':
		if ((err = pk_parse_port(arg, &o->c.listen_port)))
			return pk_cli_bad_value(o->cmd, "listen port", arg, err);
		o->have_listen_port = true;
		return 0;
	case 'h':
		o->c.listen_host = arg;
		return 0;
	case 'b':
		if ((err = pk_parse_size(arg, &o->c.buffer_size)) || o->c.buffer_size == 0 ||
		    o->c.buffer_size > (16ull << 30))
			return pk_cli_bad_value(o->cmd, "buffer size", arg, err ? err : -ERANGE);
		return 0;
	case PK_OPT_FLUSH_MS:
		if ((err = pk_parse_uint(arg, 1000, &o->c.flush_ms)))
			return pk_cli_bad_value(o->cmd, "--flush-ms", arg, err);
		return 0;
	case PK_OPT_CLOSE_GRACE:
		if ((err = pk_parse_duration(arg, PK_PROXY_MAX_CLOSE_GRACE_NS,
					     &o->c.close_grace_ns)))
			return pk_cli_bad_value(o->cmd, "--close-grace", arg, err);
		return 0;
	case PK_OPT_WINDOW_WARN:
		if ((err = pk_parse_uint(arg, PK_PROXY_MAX_WINDOW_WARN_SEC, &o->c.window_warn_s)))
			return pk_cli_bad_value(o->cmd, "--window-warn", arg, err);
		return 0;
	case PK_OPT_SPILL:
		o->c.spill_dir = arg;
		return 0;
	case PK_OPT_SPILL_MAX:
		if ((err = pk_parse_size(arg, &o->c.spill_max)) || o->c.spill_max == 0)
			return pk_cli_bad_value(o->cmd, "--spill-max", arg, err ? err : -ERANGE);
		o->spill_max_set = true;
		return 0;
	case PK_OPT_ADMIN:
		if ((err = pk_parse_hostport(arg, PK_CLI_ADMIN_HOST, o->admin_buf,
					     sizeof(o->admin_buf), &o->c.admin_port)))
			return pk_cli_bad_value(o->cmd, "--admin", arg, err);
		o->c.admin_host = o->admin_buf;
		return 0;
	case PK_OPT_LOG_LEVEL:
		if (pk_log_parse_level(arg, &level))
			return pk_cli_bad_value(o->cmd, "--log-level", arg, -EINVAL);
		pk_log_set_level(level);
		return 0;
	case PK_OPT_COMPARE:
		o->c.compare = true;
		if (!arg)
			return 0;
		if (pk_msg_proto_parse(arg, &o->c.compare_proto))
			return pk_cli_bad_value(o->cmd, "--compare (raw, resp, http or mysql)", arg,
						-EINVAL);
		o->c.compare_framed = o->c.compare_proto != PK_PROTO_NONE;
		return 0;
	case PK_OPT_COMPARE_IGNORE:
		if (o->nignore_src == PK_PROXY_MAX_IGNORES)
			return pk_cli_bad(o->cmd, "--compare-ignore",
					  "at most " PK_STR(PK_PROXY_MAX_IGNORES) " of them");
		o->ignore_src[o->nignore_src++] = arg;
		return 0;
	case PK_OPT_COMPARE_LOG:
		if (!*arg)
			return pk_cli_bad_value(o->cmd, "--compare-log", arg, -EINVAL);
		o->c.compare_log = arg;
		return 0;
	case PK_OPT_RECORD:
		if (!*arg)
			return pk_cli_bad_value(o->cmd, "--record", arg, -EINVAL);
		o->c.rec.path = arg;
		return 0;
	case PK_OPT_RECORD_MAX:
		/* below 64 KiB, every file would hold a packet or two */
		if ((err = pk_parse_size(arg, &o->c.rec.file_max)) ||
		    o->c.rec.file_max < (64u << 10))
			return pk_cli_bad_value(o->cmd, "--record-max", arg, err ? err : -ERANGE);
		o->record_opts_set = true;
		return 0;
	case PK_OPT_RECORD_FILES:
		if ((err = pk_parse_uint(arg, 1000000, &v)) || v == 0)
			return pk_cli_bad_value(o->cmd, "--record-files", arg, err ? err : -ERANGE);
		o->c.rec.files_max = (uint32_t)v;
		o->record_opts_set = true;
		return 0;
	case PK_OPT_HELP:
		fputs(usage, stdout);
		return PK_PROXY_CLI_HELP;
	default:
		return PK_PROXY_CLI_NOT_MINE;
	}
}

int pk_proxy_cli_next(struct pk_proxy_cli *o, int argc, char **argv, const char *shortopts,
		      const struct option *opts, const char *usage, int *c)
{
	if (!o->started) {
		opterr = 0;
		optind = 1;
		o->started = true;
	}
	while ((*c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		int rc;

		/* --compare PROTO as well as --compare=PROTO (its argument is optional; neither
		 * command takes operands, so a word that is no option is its value) */
		if (*c == PK_OPT_COMPARE && !optarg && optind < argc && argv[optind][0] != '-')
			optarg = argv[optind++];
		rc = pk_proxy_cli_opt(o, *c, optarg, usage);

		if (rc == PK_PROXY_CLI_NOT_MINE)
			return 0;
		if (rc)
			return rc;
	}
	return PK_PROXY_CLI_END;
}

int pk_proxy_cli_check(struct pk_proxy_cli *o)
{
	struct stat sb;

	if (!o->have_listen_port)
		return pk_cli_bad(o->cmd, "-l", "a listen port is required");
	if (o->spill_max_set && !o->c.spill_dir)
		return pk_cli_bad(o->cmd, "--spill-max", "needs --spill DIR");
	if (o->nignore_src && !o->c.compare_framed)
		return pk_cli_bad(o->cmd, "--compare-ignore",
				  "needs --compare resp, http or mysql");
	if (o->c.compare_log && !o->c.compare)
		return pk_cli_bad(o->cmd, "--compare-log", "needs --compare");
	if (o->record_opts_set && !o->c.rec.path)
		return pk_cli_bad(o->cmd, "--record-max/--record-files", "needs --record FILE");
	if (o->c.spill_dir && (stat(o->c.spill_dir, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
			       access(o->c.spill_dir, W_OK) < 0)) {
		char w[300];

		snprintf(w, sizeof(w), "%s: spill directory '%s'", o->cmd, o->c.spill_dir);
		pk_cli_error(w, "%s", errno ? strerror(errno) : "not a directory");
		return PK_EXIT_RUNTIME;
	}
	return compile_ignores(o); /* last: nothing fails after it */
}
