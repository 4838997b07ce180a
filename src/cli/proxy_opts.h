/* proxy_opts.h — the flags `dup` and `agg` share (buffers, spill, flush, admin, logging,
 * comparison, recording), parsed in one place. */
#ifndef PK_CLI_PROXY_OPTS_H
#define PK_CLI_PROXY_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "proxy/proxy.h"

/* Defaults of the shared flags: pk_proxy_cli_init() applies them, the help text prints them
 * (the _S forms, as a user would type them). */
#define PK_PROXY_DEFAULT_LISTEN "0.0.0.0"
#define PK_PROXY_DEFAULT_BUFFER_MB 4
#define PK_PROXY_DEFAULT_BUFFER_S PK_STR(PK_PROXY_DEFAULT_BUFFER_MB) "M"
#define PK_PROXY_DEFAULT_FLUSH_MS 10
#define PK_PROXY_DEFAULT_FLUSH_S PK_STR(PK_PROXY_DEFAULT_FLUSH_MS)
#define PK_PROXY_DEFAULT_SPILL_MAX_GB 1
#define PK_PROXY_DEFAULT_SPILL_MAX_S PK_STR(PK_PROXY_DEFAULT_SPILL_MAX_GB) "G"
#define PK_PROXY_DEFAULT_RECORD_MAX_GB 1
#define PK_PROXY_DEFAULT_RECORD_MAX_S PK_STR(PK_PROXY_DEFAULT_RECORD_MAX_GB) "G"
#define PK_PROXY_DEFAULT_CLOSE_GRACE_SEC 5
#define PK_PROXY_DEFAULT_CLOSE_GRACE_S PK_STR(PK_PROXY_DEFAULT_CLOSE_GRACE_SEC) "s"
#define PK_PROXY_MAX_CLOSE_GRACE_NS (3600 * 1000000000ull)
#define PK_PROXY_MAX_IGNORES 16 /* --compare-ignore flags */
#define PK_PROXY_DEFAULT_WINDOW_WARN_SEC 60
#define PK_PROXY_DEFAULT_WINDOW_WARN_S PK_STR(PK_PROXY_DEFAULT_WINDOW_WARN_SEC)
#define PK_PROXY_MAX_WINDOW_WARN_SEC (7 * 24 * 3600)

enum {
	PK_OPT_FLUSH_MS = 256,
	PK_OPT_SPILL,
	PK_OPT_SPILL_MAX,
	PK_OPT_ADMIN,
	PK_OPT_LOG_LEVEL,
	PK_OPT_COMPARE,
	PK_OPT_RECORD,
	PK_OPT_RECORD_MAX,
	PK_OPT_RECORD_FILES,
	PK_OPT_CLOSE_GRACE,
	PK_OPT_WINDOW_WARN,
	PK_OPT_COMPARE_IGNORE,
	PK_OPT_COMPARE_LOG,
	PK_OPT_HELP,
	PK_OPT_FIRST_OWN, /* a command's own long options start here */
};

/* The long options every proxy command has; put first in the command's option table (their
 * short forms: -l, -h, -b). */
#define PK_PROXY_LONG_OPTIONS                                                                      \
	{ "listen-port", required_argument, NULL, 'l' },                                           \
		{ "listen-addr", required_argument, NULL, 'h' },                                   \
		{ "buffer", required_argument, NULL, 'b' },                                        \
		{ "flush-ms", required_argument, NULL, PK_OPT_FLUSH_MS },                          \
		{ "spill", required_argument, NULL, PK_OPT_SPILL },                                \
		{ "spill-max", required_argument, NULL, PK_OPT_SPILL_MAX },                        \
		{ "admin", required_argument, NULL, PK_OPT_ADMIN },                                \
		{ "log-level", required_argument, NULL, PK_OPT_LOG_LEVEL },                        \
		{ "compare", optional_argument, NULL, PK_OPT_COMPARE },                            \
		{ "compare-ignore", required_argument, NULL, PK_OPT_COMPARE_IGNORE },              \
		{ "compare-log", required_argument, NULL, PK_OPT_COMPARE_LOG },                    \
		{ "record", required_argument, NULL, PK_OPT_RECORD },                              \
		{ "record-max", required_argument, NULL, PK_OPT_RECORD_MAX },                      \
		{ "record-files", required_argument, NULL, PK_OPT_RECORD_FILES },                  \
		{ "close-grace", required_argument, NULL, PK_OPT_CLOSE_GRACE },                    \
		{ "window-warn", required_argument, NULL, PK_OPT_WINDOW_WARN },                    \
	{                                                                                          \
		"help", no_argument, NULL, PK_OPT_HELP                                             \
	}

/* Help lines for the shared flags. */
#define PK_PROXY_OPTIONS_HELP                                                                      \
	"  -b, --buffer SIZE        per-connection buffer per clone, K/M/G suffixes "              \
	"(default " PK_PROXY_DEFAULT_BUFFER_S ")\n"                                                \
	"      --flush-ms MS        coalesce writes to clones every MS ms "                        \
	"(default " PK_PROXY_DEFAULT_FLUSH_S "; 0 = at once)\n"                                    \
	"      --close-grace DURATION\n"                                                           \
	"                           when a client closes, pass the close on to a clone only "      \
	"once\n"                                                                                   \
	"                           it answered as much as production did, or after DURATION\n"    \
	"                           (ms, s or m; default " PK_PROXY_DEFAULT_CLOSE_GRACE_S          \
	"; 0 = at once)\n"                                                                         \
	"      --spill DIR          when a buffer is full, continue in a file in DIR\n"            \
	"      --spill-max SIZE     cap of each connection's spill file "                          \
	"(default " PK_PROXY_DEFAULT_SPILL_MAX_S ")\n"                                             \
	"      --compare [PROTO]    compare what clones send with what production's peer sent:\n"  \
	"                           raw (the default: the whole connection, byte by byte), or\n"   \
	"                           per request with PROTO resp, http or mysql (dup only): each\n" \
	"                           divergence is different, noise or lag (metrics\n"              \
	"                           parikshan_compare_*, a log line per divergence)\n"             \
	"      --compare-ignore REGEX  mask what REGEX matches in each part of a response (a\n"    \
	"                           header line, a body, a RESP element) before comparing;\n"      \
	"                           repeatable (HTTP's Date header is masked by default)\n"        \
	"      --compare-log FILE   append one JSON line per divergence to FILE (read it with\n"   \
	"                           `parikshan diverge FILE`)\n"                                   \
	"      --record FILE.pcap   record production's connections as pcap (tshark, Wireshark)\n" \
	"      --record-max SIZE    start a new file (FILE.1.pcap, ...) past SIZE "                \
	"(default " PK_PROXY_DEFAULT_RECORD_MAX_S ")\n"                                            \
	"      --record-files N     keep at most N files, deleting the oldest (default: all)\n"    \
	"      --window-warn SECONDS  log a line when a clone's debug window (the predicted "      \
	"time\n"                                                                                   \
	"                           until a buffer overflows) falls below SECONDS "                \
	"(default " PK_PROXY_DEFAULT_WINDOW_WARN_S ";\n"                                           \
	"                           0 = never)\n"                                                  \
	"      --admin [ADDR:]PORT  serve GET /metrics and /status.json there (ADDR defaults "     \
	"to " PK_CLI_ADMIN_HOST ")\n"                                                              \
	"      --log-level LEVEL    error, warn, info (default) or debug\n"                        \
	"      --help               show this text\n"

/* What the shared flags set: the part of a struct pk_proxy_config both commands fill the
 * same way (pk_proxy_cli_apply() turns it into one). */
struct pk_proxy_common {
	const char *listen_host; /* default "0.0.0.0" */
	uint16_t listen_port;
	uint64_t buffer_size;  /* per connection, per clone */
	const char *spill_dir; /* NULL: no spill */
	uint64_t spill_max;
	uint64_t flush_ms;
	uint64_t close_grace_ns; /* --close-grace */
	uint64_t window_warn_s;	 /* --window-warn (0: never) */
	const char *admin_host;	 /* NULL: no admin endpoint */
	uint16_t admin_port;
	bool compare;	     /* --compare */
	bool compare_framed; /* --compare PROTO: per request */
	enum pk_proto compare_proto;
	regex_t compare_ignore[PK_PROXY_MAX_IGNORES]; /* --compare-ignore, compiled */
	size_t ncompare_ignore;
	const char *compare_log; /* --compare-log */
	struct pk_rec_opts rec;	 /* --record: rec.path != NULL */
};

struct pk_proxy_cli {
	const char *cmd;	  /* "dup" or "agg": names error lines */
	struct pk_proxy_common c; /* what the flags set */
	bool have_listen_port, spill_max_set, record_opts_set, started;
	char admin_buf[256];
	const char *ignore_src[PK_PROXY_MAX_IGNORES]; /* --compare-ignore, compiled by check */
	size_t nignore_src;
};

/* Sets the defaults of the shared flags for command cmd. */
void pk_proxy_cli_init(struct pk_proxy_cli *o, const char *cmd);

#define PK_PROXY_CLI_NOT_MINE (-1) /* not a shared option */
#define PK_PROXY_CLI_HELP (-2)	   /* --help: usage printed, exit 0 */
#define PK_PROXY_CLI_END (-3)	   /* no more options */

/* Handles option c (with optarg arg) when it is a shared one: returns 0 when handled,
 * PK_PROXY_CLI_NOT_MINE or PK_PROXY_CLI_HELP, or an exit code (> 0) after printing the
 * error line. */
int pk_proxy_cli_opt(struct pk_proxy_cli *o, int c, const char *arg, const char *usage);

/* Reads options (getopt_long with shortopts and opts) until one that is the command's own:
 * returns 0 with it in *c (optarg set), handling shared ones on the way; PK_PROXY_CLI_END
 * after the last; PK_PROXY_CLI_HELP after printing usage; or an exit code (> 0) after
 * printing the error line.  Resets getopt on the first call (o->started). */
int pk_proxy_cli_next(struct pk_proxy_cli *o, int argc, char **argv, const char *shortopts,
		      const struct option *opts, const char *usage, int *c);

/* Frees what the flags hold once checked (the compiled --compare-ignore regexes). */
void pk_proxy_common_release(struct pk_proxy_common *c);

/* Checks the shared flags together (a listen port given, spill directory usable, record and
 * compare flags consistent) and compiles the --compare-ignore regexes (the caller frees them
 * with pk_proxy_common_release() once it returned 0); returns 0 or an exit code after
 * printing the error line. */
int pk_proxy_cli_check(struct pk_proxy_cli *o);

#endif
