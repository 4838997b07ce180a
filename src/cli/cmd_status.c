/* cmd_status.c — `parikshan status`: fetch the status document (GET /status.json) from a running
 * proxy and show it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/status_view.h"
#include "common/args.h"
#include "common/http.h"

#define STATUS_TIMEOUT_MS 3000

static const char status_usage[] =
	"usage: parikshan status [--admin [ADDR:]PORT] [--json]\n"
	"\n"
	"Show a running proxy's connections, bytes, and per-clone buffers, lag and desyncs,\n"
	"read from its admin endpoint (default " PK_CLI_ADMIN_DEFAULT ").\n"
	"\n"
	"  --admin [ADDR:]PORT  the proxy's --admin address\n"
	"  --json               print JSON instead of a table\n"
	"  --help               show this text\n";

static const struct option status_options[] = {
	{ "admin", required_argument, NULL, 'A' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'H' },
	{ NULL, 0, NULL, 0 },
};

int pk_cmd_status(int argc, char **argv)
{
	char host[256] = PK_CLI_ADMIN_HOST, why[256], where[300];
	uint16_t port = PK_CLI_ADMIN_PORT;
	struct pk_strbuf body = { 0 }, out = { 0 };
	struct pk_addr a;
	bool json = false;
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", status_options, NULL)) != -1) {
		switch (c) {
		case 'A':
			if (pk_parse_hostport(optarg, PK_CLI_ADMIN_HOST, host, sizeof(host),
					      &port)) {
				pk_cli_error("status: --admin", "'%s' is not [ADDR:]PORT", optarg);
				return PK_EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'H':
			fputs(status_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			pk_cli_error("status", "%s needs a value", argv[optind - 1]);
			return PK_EXIT_USAGE;
		default:
			pk_cli_error("status",
				     "unknown option '%s' (see 'parikshan status --help')",
				     argv[optind - 1]);
			return PK_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pk_cli_error("status", "unexpected argument '%s'", argv[optind]);
		return PK_EXIT_USAGE;
	}
	snprintf(where, sizeof(where), "status: %s:%u", host, port);
	if (pk_addr_resolve(host, port, &a, why, sizeof(why)) < 0) {
		pk_cli_error(where, "%s", why);
		return PK_EXIT_RUNTIME;
	}
	rc = pk_http_get(&a, "/status.json", STATUS_TIMEOUT_MS, &body);
	if (rc != 200) {
		if (rc < 0)
			pk_cli_error(where, "%s (is a proxy running with --admin?)", strerror(-rc));
		else
			pk_cli_error(where, "HTTP status %d", rc);
		pk_strbuf_release(&body);
		return PK_EXIT_RUNTIME;
	}
	rc = pk_status_render(pk_strbuf_str(&body), json, &out);
	if (rc == -EINVAL)
		pk_cli_error(where, "the answer is not parikshan metrics");
	else if (rc < 0)
		pk_cli_error(where, "%s", strerror(-rc));
	else
		fputs(pk_strbuf_str(&out), stdout);
	pk_strbuf_release(&body);
	pk_strbuf_release(&out);
	return rc < 0 ? PK_EXIT_RUNTIME : PK_EXIT_OK;
}
