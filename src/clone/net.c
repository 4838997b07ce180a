/* net.c — network namespaces and veths, set up with iproute2 and iptables. */
#include "clone/clone_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/proc.h"

#define CLONE_HOST_END PK_CLONE_GATEWAY

/* Runs one command given as a NULL-terminated list of words. */
#define RUN(err, errlen, ...)                                                                      \
	pk_proc_check((char *[]){ __VA_ARGS__, NULL }, PK_CMD_TIMEOUT_MS, (err), (errlen))

bool pk_netns_exists(const char *name)
{
	char path[PK_PATH_MAX];
	struct stat st;

	pk_path(path, sizeof(path), "/var/run/netns/%s", name);
	return stat(path, &st) == 0;
}

/* Creates the netns and the veth pair; the namespace end is eth0, up, with lo up. */
static int veth_pair(const struct pk_meta *m, char *err, size_t errlen)
{
	char *ns = (char *)m->netns, *veth = (char *)m->veth;
	int rc;

	rc = RUN(err, errlen, "ip", "netns", "add", ns);
	if (!rc)
		rc = RUN(err, errlen, "ip", "link", "add", veth, "type", "veth", "peer", "name",
			 "eth0", "netns", ns);
	if (!rc)
		rc = RUN(err, errlen, "ip", "-n", ns, "link", "set", "lo", "up");
	if (!rc)
		rc = RUN(err, errlen, "ip", "-n", ns, "link", "set", "eth0", "up");
	if (!rc)
		rc = RUN(err, errlen, "ip", "link", "set", veth, "up");
	return rc;
}

int pk_net_create_container(const struct pk_meta *m, char *err, size_t errlen)
{
	char cidr[32], host32[32], svc32[32];
	char *ns = (char *)m->netns, *veth = (char *)m->veth, *gw = (char *)m->gw;
	int rc;

	snprintf(cidr, sizeof(cidr), "%s/%d", m->ip, m->prefix);
	snprintf(host32, sizeof(host32), "%s/32", m->gw);
	snprintf(svc32, sizeof(svc32), "%s/32", m->ip);
	rc = veth_pair(m, err, errlen);
	if (!rc)
		rc = RUN(err, errlen, "ip", "-n", ns, "addr", "add", cidr, "dev", "eth0");
	if (!rc)
		rc = RUN(err, errlen, "ip", "-n", ns, "route", "add", "default", "via", gw, "dev",
			 "eth0");
	if (!rc)
		rc = RUN(err, errlen, "ip", "addr", "add", host32, "dev", veth);
	if (!rc)
		rc = RUN(err, errlen, "ip", "route", "replace", svc32, "dev", veth, "src", gw);
	if (rc)
		pk_net_remove(m);
	return rc;
}

/* Sends the clone's connections to each backend of r to the aggregator at the clone's gateway
 * and refuses anything else toward those backends (iptables in the clone's namespace). */
static int redirect_clone(const struct pk_meta *m, const struct pk_clone_redirect *r, int n,
			  char *err, size_t errlen)
{
	char *ns = (char *)m->netns;
	int rc = 0;

	for (int i = 0; i < n && !rc; i++) {
		char ip[64], ip32[80], port[8], to[80];

		snprintf(ip, sizeof(ip), "%s", r[i].ip);
		snprintf(ip32, sizeof(ip32), "%s/32", r[i].ip);
		snprintf(port, sizeof(port), "%u", r[i].port);
		snprintf(to, sizeof(to), "%s:%u", CLONE_HOST_END, r[i].to_port);
		/* A route first (a locally made packet needs one before netfilter sees it), from
		 * the management address (the host routes that one back to this clone, while the
		 * service IP leads to production), then the rewrite toward the aggregator, then a
		 * refusal of whatever else heads there. */
		rc = RUN(err, errlen, "ip", "-n", ns, "route", "replace", ip32, "via",
			 CLONE_HOST_END, "dev", "eth0", "onlink", "src", (char *)m->mgmt);
		if (!rc)
			rc = RUN(err, errlen, "ip", "netns", "exec", ns, "iptables", "-w", "-t",
				 "nat", "-A", "OUTPUT", "-p", "tcp", "-d", ip, "--dport", port,
				 "-j", "DNAT", "--to-destination", to);
		if (!rc)
			rc = RUN(err, errlen, "ip", "netns", "exec", ns, "iptables", "-w", "-A",
				 "OUTPUT", "-d", ip, "-j", "REJECT");
	}
	return rc;
}

/* Kills every process left in netns ns: the tasks of a restore whose CRIU died half-way are
 * already in the clone's namespace, and nothing else would ever reap them. */
static void kill_netns_pids(char *ns)
{
	struct pk_strbuf out = { 0 };
	const char *p;
	char *end;
	long pid;

	if (pk_proc_run((char *[]){ "ip", "netns", "pids", ns, NULL }, PK_CMD_TIMEOUT_MS, &out) ==
	    0)
		for (p = pk_strbuf_str(&out); (pid = strtol(p, &end, 10)) > 1 && end != p; p = end)
			kill((pid_t)pid, SIGKILL);
	pk_strbuf_release(&out);
}

int pk_net_create_clone(const struct pk_meta *m, const struct pk_clone_redirect *r, int n,
			char *err, size_t errlen)
{
	char svc32[32], mgmt32[32];
	char *ns = (char *)m->netns, *veth = (char *)m->veth, *mgmt = (char *)m->mgmt;
	int rc;

	snprintf(svc32, sizeof(svc32), "%s/32", m->ip);
	snprintf(mgmt32, sizeof(mgmt32), "%s/32", m->mgmt);
	rc = veth_pair(m, err, errlen);
	/* The service IP as /32: no route into production's subnet. */
	if (!rc)
		rc = RUN(err, errlen, "ip", "-n", ns, "addr", "add", svc32, "dev", "eth0");
	if (!rc)
		rc = RUN(err, errlen, "ip", "-n", ns, "addr", "add", mgmt32, "dev", "eth0");
	/* The only route: to the host end, for answers to the duplicator. */
	if (!rc)
		rc = RUN(err, errlen, "ip", "-n", ns, "route", "add", CLONE_HOST_END "/32", "dev",
			 "eth0");
	if (!rc)
		rc = RUN(err, errlen, "ip", "netns", "exec", ns, "sysctl", "-q",
			 "net.ipv4.conf.all.arp_ignore=1");
	if (!rc)
		rc = RUN(err, errlen, "ip", "netns", "exec", ns, "iptables", "-w", "-t", "nat",
			 "-A", "PREROUTING", "-d", mgmt, "-j", "DNAT", "--to-destination",
			 (char *)m->ip);
	if (!rc)
		rc = RUN(err, errlen, "ip", "addr", "replace", CLONE_HOST_END "/32", "dev", veth);
	if (!rc)
		rc = RUN(err, errlen, "ip", "route", "replace", mgmt32, "dev", veth, "src",
			 CLONE_HOST_END);
	if (!rc)
		rc = redirect_clone(m, r, n, err, errlen);
	if (rc)
		pk_net_remove(m);
	return rc;
}

void pk_net_remove(const struct pk_meta *m)
{
	char *ns = (char *)m->netns, *veth = (char *)m->veth;

	/* Deleting the netns takes its end of the veth, and so the pair, with it. */
	if (pk_netns_exists(m->netns)) {
		kill_netns_pids(ns);
		RUN(NULL, 0, "ip", "netns", "del", ns);
	}
	RUN(NULL, 0, "ip", "link", "del", veth);
}
