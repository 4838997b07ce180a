/* cmd_trace.c — `parikshan trace`: run a command under libparikshan_trace.so, attach it to
 * running processes, the log daemon, expand a raw log; analyze, paths and report go to
 * pk_cli_trace_paths (trace_paths.c). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/proc.h"
#include "common/args.h"
#include "parikshan/trace.h"
#include "trace/attach.h"
#include "trace/logd.h"
#include "trace/raw.h"
#include "trace/wire.h"

#define TRACE_LIB_NAME PK_TRACE_LIB_NAME
#define TRACE_DB_DEFAULT "parikshan-trace.sqlite"
#define TRACE_ATTACH_MAX 4096 /* processes per `trace attach` */

static const char trace_usage[] =
	"usage: parikshan trace run [--logd SOCK] -- CMD [ARGS...]\n"
	"       parikshan trace attach [--logd SOCK] (PID... | --all-in PID)\n"
	"       parikshan trace logd [--socket SOCK] [--db FILE.sqlite | --pg CONNINFO] [--raw "
	"FILE]\n"
	"       parikshan trace logd [--socket SOCK] --no-db --raw FILE\n"
	"       parikshan trace expand FILE\n"
	"       parikshan trace load FILE (--db FILE.sqlite | --pg CONNINFO)\n"
	"       parikshan trace analyze (--db FILE | --pg CONNINFO) [--json]\n"
	"       parikshan trace paths (--db FILE | --pg CONNINFO) [--format "
	"text|json|chrome|otlp]\n"
	"                             [-o FILE] [--limit N]\n"
	"       parikshan trace report (--db FILE | --pg CONNINFO) -o report.html\n\n"
	"Trace request paths across processes without changing them.\n\n"
	"  run      run CMD with " TRACE_LIB_NAME " preloaded (followed across fork and exec);\n"
	"           its events go to logd at SOCK; without logd the command runs anyway and its\n"
	"           events are dropped and counted.  Exit status: CMD's.\n"
	"  attach   load " TRACE_LIB_NAME " into running processes (ptrace, dlopen in the\n"
	"           process; it then hooks their calls itself).  SOCK is a path as the process\n"
	"           sees it (default " PK_TRACE_SOCK_DEFAULT "); their children forked later are\n"
	"           traced too.  A process already traced is said so (exit 0).  --all-in PID:\n"
	"           every process of PID's pid namespace (a container's; not this host's).\n"
	"  logd     collect the events of every traced process into a SQLite file (default\n"
	"           " TRACE_DB_DEFAULT " here) or a PostgreSQL database (--pg), and with --raw\n"
	"           every frame into a raw log; SIGINT/SIGTERM: commit, print a summary, exit.\n"
	"           --no-db: the raw log only (the cheapest while tracing; `load` it later).\n"
	"  expand   print a raw log readably, one line per record.\n"
	"  load     store a raw log into a store, as logd would have.\n"
	"  analyze, paths, report  build the request paths from the store.\n\n"
	"SOCK: $" PK_TRACE_ENV_SOCK ", else " PK_TRACE_SOCK_DEFAULT ".\n";

static void usage(void)
{
	fputs(trace_usage, stdout);
}

static const char *default_sock(void)
{
	const char *s = getenv(PK_TRACE_ENV_SOCK);

	return s && *s ? s : PK_TRACE_SOCK_DEFAULT;
}

/* cmd as execvp would find it, into out. */
static int which(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if ((size_t)snprintf(out, len, "%.*s/%s", (int)n ? (int)n : 1, n ? path : ".",
				     cmd) < len &&
		    access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

static int trace_run(int argc, char **argv)
{
	static const struct option opts[] = { { "logd", required_argument, NULL, 'l' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *sock = default_sock(), *old;
	char lib[PATH_MAX], exe[PATH_MAX], cwd[PATH_MAX], abs_sock[2 * PATH_MAX + 2], *pre;
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			sock = optarg;
			break;
		case 'h':
			usage();
			return PK_EXIT_OK;
		case ':':
			return pk_cli_bad("trace run", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("trace run", argv[optind - 1],
					  "unknown option (see 'parikshan trace --help')");
		}
	}
	if (optind >= argc)
		return pk_cli_bad("trace run", "CMD", "required (trace run [--logd SOCK] -- CMD)");
	if ((rc = which(argv[optind], exe, sizeof(exe))))
		return pk_cli_fail(PK_EXIT_USAGE, "trace run", "%s: %s", argv[optind],
				   strerror(-rc));
	if (pk_trace_is_static(exe))
		return pk_cli_fail(PK_EXIT_USAGE, "trace run",
				   "%s is statically linked: the tracing library cannot be "
				   "preloaded into it",
				   exe);
	if ((rc = pk_proc_own_lib(PK_TRACE_ENV_LIB, TRACE_LIB_NAME, lib, sizeof(lib))))
		return pk_cli_fail(PK_EXIT_RUNTIME, "trace run",
				   TRACE_LIB_NAME " not found (set " PK_TRACE_ENV_LIB "): %s",
				   strerror(-rc));
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		if (asprintf(&pre, "%s:%s", lib, old) < 0)
			return pk_cli_fail(PK_EXIT_RUNTIME, "trace run", "%s", strerror(ENOMEM));
	} else {
		pre = lib;
	}
	if (sock[0] != '/' && getcwd(cwd, sizeof(cwd)) && strlen(sock) < PATH_MAX) {
		snprintf(abs_sock, sizeof(abs_sock), "%s/%s", cwd,
			 sock); /* the command may chdir */
		sock = abs_sock;
	}
	if (setenv("LD_PRELOAD", pre, 1) || setenv(PK_TRACE_ENV_SOCK, sock, 1) ||
	    setenv(PK_TRACE_ENV_LIB, lib, 1))
		return pk_cli_fail(PK_EXIT_RUNTIME, "trace run", "setenv: %s", strerror(errno));
	if (!pk_trace_logd_listening(sock))
		pk_cli_error("trace run",
			     "warning: no logd listens on %s: the command runs, its events are "
			     "dropped and counted",
			     sock);
	fflush(NULL);
	execv(exe, argv + optind);
	rc = errno;
	return pk_cli_fail(rc == ENOENT ? 127 : 126, "trace run", "%s: %s", exe, strerror(rc));
}

static int trace_attach(int argc, char **argv)
{
	static const struct option opts[] = { { "logd", required_argument, NULL, 'l' },
					      { "all-in", required_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *sock = PK_TRACE_SOCK_DEFAULT, *all_in = NULL;
	char lib[PATH_MAX], cwd[PATH_MAX], abs_sock[2 * PATH_MAX + 2], err[512];
	pid_t pids[TRACE_ATTACH_MAX];
	int c, rc, n = 0, status = PK_EXIT_OK;
	uint64_t v;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			sock = optarg;
			break;
		case 'a':
			all_in = optarg;
			break;
		case 'h':
			usage();
			return PK_EXIT_OK;
		case ':':
			return pk_cli_bad("trace attach", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("trace attach", argv[optind - 1],
					  "unknown option (see 'parikshan trace --help')");
		}
	}
	if (all_in && optind < argc)
		return pk_cli_bad("trace attach", argv[optind],
				  "PIDs and --all-in: give one of them");
	if (!all_in && optind >= argc)
		return pk_cli_bad("trace attach", "PID",
				  "required (trace attach [--logd SOCK] (PID... | --all-in PID))");
	if (all_in) {
		if (pk_parse_uint(all_in, INT32_MAX, &v) || v == 0)
			return pk_cli_bad("trace attach", all_in, "not a process id");
		if (pk_trace_pidns_is_ours((pid_t)v))
			return pk_cli_fail(PK_EXIT_USAGE, "trace attach",
					   "--all-in %s: that is this host's pid namespace (every "
					   "process): name the processes instead",
					   all_in);
		n = pk_trace_pidns_pids((pid_t)v, pids, TRACE_ATTACH_MAX);
		if (n < 0)
			return pk_cli_fail(PK_EXIT_RUNTIME, "trace attach", "--all-in %s: %s",
					   all_in, strerror(-n));
	}
	for (int i = optind; i < argc; i++) {
		if (pk_parse_uint(argv[i], INT32_MAX, &v) || v == 0)
			return pk_cli_bad("trace attach", argv[i], "not a process id");
		if (n == TRACE_ATTACH_MAX)
			return pk_cli_bad("trace attach", argv[i], "too many processes");
		pids[n++] = (pid_t)v;
	}
	if (sock[0] != '/' && getcwd(cwd, sizeof(cwd)) && strlen(sock) < PATH_MAX) {
		snprintf(abs_sock, sizeof(abs_sock), "%s/%s", cwd, sock);
		sock = abs_sock;
	}
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return pk_cli_bad("trace attach", sock, "socket path too long");
	if ((rc = pk_proc_own_lib(PK_TRACE_ENV_LIB, TRACE_LIB_NAME, lib, sizeof(lib))))
		return pk_cli_fail(PK_EXIT_RUNTIME, "trace attach",
				   TRACE_LIB_NAME " not found (set " PK_TRACE_ENV_LIB "): %s",
				   strerror(-rc));
	for (int i = 0; i < n; i++) {
		pid_t pid = pids[i];

		err[0] = 0;
		rc = pk_trace_attach(pid, lib, sock, err, sizeof(err));
		if (rc == 0)
			printf("trace attach: %d: attached (logd at %s)\n", (int)pid, sock);
		else if (rc == -EALREADY)
			printf("trace attach: %d: already attached\n", (int)pid);
		else
			status = pk_cli_fail(PK_EXIT_RUNTIME, "trace attach", "%s",
					     err[0] ? err : strerror(-rc));
	}
	fflush(stdout);
	return status;
}

static int trace_logd(int argc, char **argv)
{
	static const struct option opts[] = { { "socket", required_argument, NULL, 's' },
					      { "db", required_argument, NULL, 'd' },
					      { "pg", required_argument, NULL, 'p' },
					      { "raw", required_argument, NULL, 'r' },
					      { "no-db", no_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	bool no_db = false;
	struct pk_trace_logd_opts o = { .sock = default_sock() };
	struct pk_trace_logd_stats st;
	char err[512] = "";
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.sock = optarg;
			break;
		case 'd':
			o.db = optarg;
			break;
		case 'p':
			o.pg = optarg;
			break;
		case 'r':
			o.raw = optarg;
			break;
		case 'n':
			no_db = true;
			break;
		case 'h':
			usage();
			return PK_EXIT_OK;
		case ':':
			return pk_cli_bad("trace logd", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("trace logd", argv[optind - 1],
					  "unknown option (see 'parikshan trace --help')");
		}
	}
	if (optind < argc)
		return pk_cli_bad("trace logd", argv[optind], "unexpected argument");
	if (o.db && o.pg)
		return pk_cli_bad("trace logd", "--db and --pg", "give one of them");
	if (no_db && (o.db || o.pg))
		return pk_cli_bad("trace logd", "--no-db", "conflicts with --db and --pg");
	if (no_db && !o.raw)
		return pk_cli_bad("trace logd", "--no-db",
				  "needs --raw FILE (where the events go)");
	if (!o.db && !o.pg && !no_db)
		o.db = TRACE_DB_DEFAULT;
	rc = pk_trace_logd_run(&o, &st, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "trace logd", "%s", err);
	printf("trace logd: %llu processes, %llu records, %llu dropped by the processes, %llu bad "
	       "connections\n",
	       (unsigned long long)st.procs, (unsigned long long)st.recs,
	       (unsigned long long)st.dropped, (unsigned long long)st.bad);
	fflush(stdout);
	return PK_EXIT_OK;
}

static void put_flags(unsigned f)
{
	static const char *const names[] = { "tls",    "dgram",	 "from_start",
					     "server", "client", "peek_cut" };
	bool first = true;

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & (1u << i)) {
			printf("%s%s", first ? " flags " : ",", names[i]);
			first = false;
		}
}

static int expand_one(void *arg, uint32_t conn, const struct pk_trace_hello *h,
		      const struct pk_trace_rec *r)
{
	int *pids = arg; /* a small map conn -> pid, by conn modulo its size */
	char a[80], b[80];

	if (h) {
		pids[conn % 4096] = h->pid;
		printf("conn %u hello pid %d ppid %d%s%s%s%s mono %llu real %llu dropped %llu exe "
		       "%.*s comm %.*s\n",
		       conn, h->pid, h->ppid, h->flags & PK_TRACE_HELLO_FORKED ? " forked" : "",
		       h->flags & PK_TRACE_HELLO_EXECED ? " execed" : "",
		       h->flags & PK_TRACE_HELLO_ATTACHED ? " attached" : "",
		       h->flags & PK_TRACE_HELLO_EXEC_UNTRACED ? " exec_untraced" : "",
		       (unsigned long long)h->mono_ns, (unsigned long long)h->real_ns,
		       (unsigned long long)h->dropped, (int)strnlen(h->exe, sizeof(h->exe)), h->exe,
		       (int)strnlen(h->comm, sizeof(h->comm)), h->comm);
		return 0;
	}
	printf("conn %u pid %d tid %u ts %llu %s fd %d arg %d ret %lld off %llu", conn,
	       pids[conn % 4096], r->tid, (unsigned long long)r->ts_ns, pk_trace_call_name(r->call),
	       r->fd, r->arg, (long long)r->ret, (unsigned long long)r->offset);
	put_flags(r->flags);
	if (r->local.family || r->peer.family)
		printf(" %s %s", pk_trace_wire_addr_str(&r->local, a, sizeof(a)),
		       pk_trace_wire_addr_str(&r->peer, b, sizeof(b)));
	if (r->peek_len) {
		fputs(" peek \"", stdout);
		for (unsigned i = 0; i < r->peek_len && i < PK_TRACE_PEEK; i++) {
			unsigned char ch = r->peek[i];

			if (ch == '"' || ch == '\\')
				printf("\\%c", ch);
			else if (isprint(ch))
				putchar(ch);
			else
				printf("\\x%02x", ch);
		}
		putchar('"');
	}
	putchar('\n');
	return 0;
}

static int trace_expand(int argc, char **argv)
{
	static int pids[4096];
	char err[512] = "";
	int rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage();
		return PK_EXIT_OK;
	}
	if (argc < 2)
		return pk_cli_bad("trace expand", "FILE", "required");
	if (argc > 2)
		return pk_cli_bad("trace expand", argv[2], "unexpected argument");
	rc = pk_trace_raw_each(argv[1], expand_one, pids, err, sizeof(err));
	fflush(stdout);
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "trace expand", "%s", err);
	return PK_EXIT_OK;
}

int pk_cmd_trace(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (!verb)
		return pk_cli_bad("trace", "VERB",
				  "required (run, attach, logd, expand, load, analyze, paths, "
				  "report; see 'parikshan trace --help')");
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
		usage();
		return PK_EXIT_OK;
	}
	if (strcmp(verb, "run") == 0)
		return trace_run(argc - 1, argv + 1);
	if (strcmp(verb, "attach") == 0)
		return trace_attach(argc - 1, argv + 1);
	if (strcmp(verb, "logd") == 0)
		return trace_logd(argc - 1, argv + 1);
	if (strcmp(verb, "expand") == 0)
		return trace_expand(argc - 1, argv + 1);
	if (strcmp(verb, "analyze") == 0 || strcmp(verb, "paths") == 0 ||
	    strcmp(verb, "report") == 0 || strcmp(verb, "load") == 0)
		return pk_cli_trace_paths(argc - 1, argv + 1);
	return pk_cli_bad("trace", verb, "unknown verb (see 'parikshan trace --help')");
}
