/* clone_agg.c — the flags `clone` and `up` share: --agg, --agg-admin, --mem, --cpus. */
#include "cli/clone_agg.h"

#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/http.h"

int pk_clone_agg_flag(struct pk_clone_opts *o, struct pk_clone_agg *a, bool admin, const char *arg,
		      const char *verb)
{
	const char *flag = admin ? "--agg-admin" : "--agg";
	char what[64], host[256], why[256];
	uint16_t port;

	snprintf(what, sizeof(what), "%s: %s", verb, flag);
	if ((admin ? a->nadmin : o->nredirects) == PK_CLONE_MAX_REDIRECTS) {
		pk_cli_error(what, "at most %d", PK_CLONE_MAX_REDIRECTS);
		return PK_EXIT_USAGE;
	}
	if (!admin) {
		if (pk_clone_redirect_parse(arg, &o->redirects[o->nredirects])) {
			pk_cli_error(what, "'%s' is not IPV4:PORT=PORT", arg);
			return PK_EXIT_USAGE;
		}
		o->nredirects++;
		return 0;
	}
	if (pk_parse_hostport(arg, "127.0.0.1", host, sizeof(host), &port) ||
	    pk_addr_resolve(host, port, &a->admin[a->nadmin], why, sizeof(why))) {
		pk_cli_error(what, "'%s' is not [ADDR:]PORT", arg);
		return PK_EXIT_USAGE;
	}
	a->nadmin++;
	return 0;
}

int pk_clone_limit_flag(struct pk_clone_opts *o, bool cpus, const char *arg, const char *verb)
{
	char what[64];

	snprintf(what, sizeof(what), "%s: %s", verb, cpus ? "--cpus" : "--mem");
	if (cpus ? pk_parse_double(arg, 0.01, 1024, &o->cpus)
		 : pk_parse_size(arg, &o->mem_limit) || o->mem_limit < (4u << 20)) {
		pk_cli_error(what,
			     cpus ? "'%s' is not a number of CPUs (0.01..1024)"
				  : "'%s' is not a size of at least 4M",
			     arg);
		return PK_EXIT_USAGE;
	}
	return 0;
}

int pk_clone_volume_flag(struct pk_clone_opts *o, bool share, char *arg, const char *verb)
{
	size_t n = strlen(arg);
	int m;

	if (!share) {
		m = pk_volume_mode_parse(arg);
		if (m < 0) {
			pk_cli_error(verb, "--volumes '%s': copy or overlay", arg);
			return PK_EXIT_USAGE;
		}
		o->volumes = (enum pk_volume_mode)m;
		return 0;
	}
	if (n < 4 || strcmp(arg + n - 3, ":ro") != 0 || arg[0] != '/') {
		pk_cli_error(verb,
			     "--share-volume '%s': must be /PATH:ro (a clone never writes "
			     "production's data)",
			     arg);
		return PK_EXIT_USAGE;
	}
	if (o->nshare == PK_CTR_MOUNTS_MAX) {
		pk_cli_error(verb, "--share-volume: at most %d", PK_CTR_MOUNTS_MAX);
		return PK_EXIT_USAGE;
	}
	arg[n - 3] = '\0';
	o->share[o->nshare++] = arg;
	return 0;
}

/* on_frozen hook: POST /pairing/reset to every aggregator (bounded: production is frozen). */
static void reset_pairing(void *arg)
{
	struct pk_clone_agg *a = arg;

	for (int i = 0; i < a->nadmin; i++) {
		struct pk_strbuf body = { 0 };

		a->rc[i] = pk_http_request(&a->admin[i], "POST", "/pairing/reset", 200, &body);
		pk_strbuf_release(&body);
	}
}

void pk_clone_agg_hook(struct pk_clone_opts *o, struct pk_clone_agg *a)
{
	if (a->nadmin == 0)
		return;
	o->on_frozen = reset_pairing;
	o->on_frozen_arg = a;
}

void pk_clone_agg_warn(const struct pk_clone_agg *a)
{
	for (int i = 0; i < a->nadmin; i++) {
		char addr[PK_ADDR_STRLEN];

		if (a->rc[i] == 200)
			continue;
		fprintf(stderr,
			"parikshan: warning: reset the pairing of agg at %s: %s; restart it (or "
			"POST "
			"/pairing/reset) before the clone connects\n",
			pk_addr_str(&a->admin[i], addr, sizeof(addr)),
			a->rc[i] < 0 ? strerror(-a->rc[i]) : "unexpected answer");
	}
}
