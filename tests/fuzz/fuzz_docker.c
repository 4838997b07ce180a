/* fuzz_docker.c — libFuzzer target: any bytes, as dockerd's body of an answer to
 * GET /containers/{name}/json (inspect) and to GET /containers/json (list), read by the pure
 * functions the Docker client reads them with (pk_docker_inspect_parse, pk_docker_list_parse;
 * no I/O), and an accepted inspection mapped onto a pk_ctr (pk_docker_ctr_map) as
 * pk_docker_resolve does.
 *
 * Both parsers get the bytes as they are, without a NUL after them (only len bytes may be read).
 * Besides the sanitizers' checks, it asserts the promises: a refusal is -EPROTO with a reason
 * and leaves nothing behind; an accepted answer has every string NUL-terminated within its
 * field, a 64-hex-digit id, a valid name, a pid > 0 when running, absolute overlay dirs for
 * overlay2, IPv4 addresses, ports in 1..65535, lists within their bounds; a mapping refused is
 * -ESRCH or -ENOTSUP with a reason, an accepted one names a running container with an IPv4
 * address and its root filesystem.
 * Built with clang by `make fuzz`, and with gcc+ASan into test_fuzz_corpus.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container/docker.h"

#define FUZZ_TARGET "fuzz_docker"
#include "fuzz.h"

/* Whether the string in field (an array) ends within it. */
#define ENDS(field) (memchr((field), '\0', sizeof(field)) != NULL)

static bool ipv4_or_empty(const char *s)
{
	struct in_addr a;

	return !s[0] || inet_pton(AF_INET, s, &a) == 1;
}

static bool abs_path(const char *s)
{
	return s[0] == '/';
}

static bool hex_id(const char *id)
{
	return strlen(id) == PK_DOCKER_ID_LEN && strspn(id, "0123456789abcdef") == PK_DOCKER_ID_LEN;
}

static bool is_one_of(const char *s, const char *a, const char *b, const char *c)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, c) == 0;
}

static void check_nets_ports_mounts(const struct pk_docker_ctr *d)
{
	require(d->nnets >= 0 && d->nnets <= PK_DOCKER_NETS_MAX, "networks within bounds");
	require(!d->nets_more || d->nnets == PK_DOCKER_NETS_MAX, "more networks only when full");
	for (int i = 0; i < d->nnets; i++) {
		const struct pk_docker_net *n = &d->nets[i];

		require(ENDS(n->name) && ENDS(n->ip) && ENDS(n->gateway), "network strings end");
		require(n->name[0], "a network has a name");
		require(ipv4_or_empty(n->ip) && ipv4_or_empty(n->gateway), "IPv4 addresses");
		require(n->prefix >= 0 && n->prefix <= 32, "a prefix of 0..32");
	}
	require(d->nports >= 0 && d->nports <= PK_DOCKER_PORTS_MAX, "ports within bounds");
	require(!d->ports_more || d->nports == PK_DOCKER_PORTS_MAX, "more ports only when full");
	for (int i = 0; i < d->nports; i++) {
		const struct pk_docker_port *p = &d->ports[i];
		struct in6_addr a;

		require(ENDS(p->proto) && ENDS(p->host_ip), "port strings end");
		require(p->port >= 1 && p->port <= 65535 && p->host_port >= 1 &&
				p->host_port <= 65535,
			"ports of 1..65535");
		require(is_one_of(p->proto, "tcp", "udp", "sctp"), "tcp, udp or sctp");
		require(!p->host_ip[0] || inet_pton(AF_INET, p->host_ip, &a) == 1 ||
				inet_pton(AF_INET6, p->host_ip, &a) == 1,
			"a host IP address");
	}
	require(d->nmounts >= 0 && d->nmounts <= PK_CTR_MOUNTS_MAX, "mounts within bounds");
	for (int i = 0; i < d->nmounts; i++) {
		const struct pk_ctr_mount *m = &d->mounts[i];

		require(ENDS(m->kind) && ENDS(m->name) && ENDS(m->source) && ENDS(m->dest),
			"mount strings end");
		require(is_one_of(m->kind, "volume", "bind", "tmpfs"), "volume, bind or tmpfs");
		require(abs_path(m->dest), "an absolute destination");
		require(strcmp(m->kind, "tmpfs") == 0 || abs_path(m->source), "a source");
	}
}

/* Checks pk_docker_ctr_map's answer for an accepted inspection. */
static void check_map(const struct pk_docker_ctr *d, struct pk_ctr *c)
{
	char err[PK_ERR_MAX] = "";
	int rc = pk_docker_ctr_map(d, "fuzz", c, err, sizeof(err));

	if (rc) {
		require((rc == -ESRCH || rc == -ENOTSUP) && err[0],
			"a mapping refused is -ESRCH or -ENOTSUP with a reason");
		return;
	}
	require(d->running && strcmp(d->status, "running") == 0, "only a running container");
	require(c->pid > 0 && c->pid == d->pid, "its init");
	require(c->ip[0] && ipv4_or_empty(c->ip) && c->prefix >= 0 && c->prefix <= 32,
		"an IPv4 address");
	require(strcmp(c->ref, "docker:fuzz") == 0 && strcmp(c->name, d->name) == 0 &&
			strcmp(c->id, d->id) == 0,
		"named as asked");
	require(abs_path(c->root) && abs_path(c->upper) && abs_path(c->lower), "overlay dirs");
	require(!c->config[0] && !c->trace_sock[0] && c->source == NULL, "nothing else set");
	require(c->nmounts >= 0 && c->nmounts <= d->nmounts, "no more mounts than Docker's");
}

static void check_inspect(const uint8_t *data, size_t size)
{
	struct pk_docker_ctr *d = malloc(sizeof(*d));
	struct pk_ctr *c = malloc(sizeof(*c));
	char err[PK_ERR_MAX] = "";
	int rc;

	if (!d || !c)
		goto out;
	rc = pk_docker_inspect_parse((const char *)data, size, d, err, sizeof(err));
	if (rc) {
		require(rc == -EPROTO && err[0], "a refusal is -EPROTO with a reason");
		require(!d->id[0] && !d->pid && !d->nnets && !d->nmounts && !d->nports,
			"a refusal leaves nothing behind");
		goto out;
	}
	require(ENDS(d->id) && ENDS(d->name) && ENDS(d->image) && ENDS(d->status) &&
			ENDS(d->driver) && ENDS(d->lower) && ENDS(d->upper) && ENDS(d->merged) &&
			ENDS(d->work) && ENDS(d->network_mode) && ENDS(d->resolv_conf) &&
			ENDS(d->hostname_path) && ENDS(d->hosts_path),
		"strings end within their fields");
	require(hex_id(d->id), "an id of 64 hex digits");
	require(pk_docker_name_valid(d->name), "a valid name");
	require(d->status[0] && d->driver[0], "a status and a driver");
	require(d->pid >= 0 && (!d->running || d->pid > 0), "a pid > 0 when running");
	require(strcmp(d->driver, "overlay2") != 0 || (abs_path(d->lower) && abs_path(d->upper) &&
						       abs_path(d->merged) && abs_path(d->work)),
		"overlay2 has its dirs");
	check_nets_ports_mounts(d);
	check_map(d, c);
out:
	free(d);
	free(c);
}

static void check_list(const uint8_t *data, size_t size)
{
	struct pk_docker_brief *b = (void *)&b; /* not NULL: a refusal must reset it */
	char err[PK_ERR_MAX] = "";
	size_t n = 7;
	int rc = pk_docker_list_parse((const char *)data, size, &b, &n, err, sizeof(err));

	if (rc) {
		require((rc == -EPROTO || rc == -ENOMEM) && err[0], "a refusal with a reason");
		require(b == NULL && n == 0, "a refusal returns nothing");
		return;
	}
	require(n <= PK_DOCKER_LIST_MAX && (n == 0) == (b == NULL), "a list within bounds");
	for (size_t i = 0; i < n; i++) {
		require(ENDS(b[i].id) && ENDS(b[i].name) && ENDS(b[i].image) && ENDS(b[i].state) &&
				ENDS(b[i].ip),
			"strings end within their fields");
		require(hex_id(b[i].id), "an id of 64 hex digits");
		require(pk_docker_name_valid(b[i].name), "a valid name");
		require(b[i].state[0] && ipv4_or_empty(b[i].ip),
			"a state, an IPv4 address or none");
	}
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_inspect(data, size);
	check_list(data, size);
	return 0;
}
