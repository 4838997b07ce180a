/* net.c — network namespaces and veths, set up with iproute2 and iptables. */
#include "container/container_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int pk_clone_of_pid(const char *state_dir, pid_t pid, char *name, size_t len)
{
	char path[PK_PATH_MAX];
	struct stat want, st;
	struct dirent *d;
	int rc = -ENOENT;
	DIR *dir;

	pk_path(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &want))
		return -errno;
	dir = opendir(state_dir);
	if (!dir)
		return -ENOENT; /* no state: no clone */
	while (rc && (d = readdir(dir))) {
		struct pk_meta m;

		if (d->d_name[0] == '.' ||
		    !pk_state_path(state_dir, d->d_name, NULL, path, sizeof(path)))
			continue;
		if (pk_meta_load(path, &m) || strcmp(m.kind, "clone") || !m.netns[0])
			continue;
		if (pk_path(path, sizeof(path), "/var/run/netns/%s", m.netns) || stat(path, &st))
			continue;
		if (st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
			snprintf(name, len, "%s", m.name);
			rc = 0;
		}
	}
	closedir(dir);
	return rc;
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

/* The clone's firewall, in two places, so that what the clone sends meets a wall even if one of
 * them is missing.  Packets from the clone may only be answers to the host's connections (the
 * duplicator's, in through the management address) and new connections to --agg's debug ports
 * at the gateway; the rest is rejected (or dropped, where a rejection could not go back to the
 * clone) and counted.
 *   - in the clone's namespace: chains pk-out and pk-in, first in OUTPUT and INPUT (stateful);
 *     new connections sourced from the service IP leave with the management address (SNAT):
 *     the host routes the service IP into production's namespace, never into the clone's;
 *   - on the host end of the veth: chain pkfw-VETH, first in INPUT and FORWARD for what comes
 *     from the clone (stateless: the host's own traffic is not made to pay for conntrack),
 *     and a rule dropping anything forwarded toward the clone. */
#define FW_OUT "pk-out"
#define FW_IN "pk-in"

static void fw_chain(const struct pk_meta *m, char *buf, size_t len)
{
	snprintf(buf, len, "pkfw-%s", m->veth);
}

/* Loads rules (iptables-restore text, added to what is there) in netns ns, or here if NULL. */
static int fw_restore(const char *ns, struct pk_strbuf *rules, char *err, size_t errlen)
{
	char path[] = "/tmp/parikshan-fw.XXXXXX";
	const char *text = pk_strbuf_str(rules);
	size_t len = strlen(text);
	int fd = mkostemp(path, O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "firewall rules file: %s", strerror(-rc));
		return rc;
	}
	rc = write(fd, text, len) == (ssize_t)len ? 0 : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (rc)
		snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
	else if (ns)
		rc = RUN(err, errlen, "ip", "netns", "exec", (char *)ns, "iptables-restore", "-w",
			 "--noflush", path);
	else
		rc = RUN(err, errlen, "iptables-restore", "-w", "--noflush", path);
	unlink(path);
	return rc;
}

/* The clone's side: NAT (management address, --agg redirects) and its filter chains. */
static int fw_clone(const struct pk_meta *m, const struct pk_clone_redirect *r, int n, char *err,
		    size_t errlen)
{
	struct pk_strbuf t = { 0 };
	int rc;

	pk_strbuf_printf(&t, "*nat\n-A PREROUTING -d %s -j DNAT --to-destination %s\n", m->mgmt,
			 m->ip);
	pk_strbuf_printf(&t, "-A POSTROUTING -o eth0 -s %s -j SNAT --to-source %s\n", m->ip,
			 m->mgmt);
	for (int i = 0; i < n; i++)
		pk_strbuf_printf(&t,
				 "-A OUTPUT -p tcp -d %s --dport %u -j DNAT --to-destination "
				 "%s:%u\n",
				 r[i].ip, r[i].port, CLONE_HOST_END, r[i].to_port);
	pk_strbuf_printf(&t,
			 "COMMIT\n*filter\n:" FW_OUT " - [0:0]\n:" FW_IN " - [0:0]\n"
			 "-I OUTPUT 1 -j " FW_OUT "\n-I INPUT 1 -j " FW_IN "\n"
			 "-A " FW_OUT " -o lo -j RETURN\n"
			 "-A " FW_OUT " -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN\n");
	for (int i = 0; i < n; i++)
		pk_strbuf_printf(&t,
				 "-A " FW_OUT " -p tcp -d %s --dport %u -m conntrack --ctstate "
				 "NEW -j RETURN\n",
				 CLONE_HOST_END, r[i].to_port);
	pk_strbuf_printf(&t,
			 "-A " FW_OUT " -j REJECT\n"
			 "-A " FW_IN " -i lo -j RETURN\n"
			 "-A " FW_IN " -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN\n"
			 "-A " FW_IN " -s %s -p tcp --syn -m conntrack --ctstate NEW -j RETURN\n"
			 "-A " FW_IN " -j DROP\nCOMMIT\n",
			 CLONE_HOST_END);
	rc = fw_restore(m->netns, &t, err, errlen);
	pk_strbuf_release(&t);
	return rc;
}

/* Removes the host's side of m's firewall, whatever of it exists. */
static void fw_host_remove(const struct pk_meta *m)
{
	char *v = (char *)m->veth, c[32];

	fw_chain(m, c, sizeof(c));
	if (RUN(NULL, 0, "iptables", "-w", "-n", "-L", c) != 0)
		return; /* never made (iptables-restore adds all of it or nothing) */
	for (int i = 0;
	     i < 8 && RUN(NULL, 0, "iptables", "-w", "-D", "INPUT", "-i", v, "-j", c) == 0; i++)
		;
	for (int i = 0;
	     i < 8 && RUN(NULL, 0, "iptables", "-w", "-D", "FORWARD", "-i", v, "-j", c) == 0; i++)
		;
	for (int i = 0;
	     i < 8 && RUN(NULL, 0, "iptables", "-w", "-D", "FORWARD", "-o", v, "-j", "DROP") == 0;
	     i++)
		;
	RUN(NULL, 0, "iptables", "-w", "-F", c);
	RUN(NULL, 0, "iptables", "-w", "-X", c);
}

/* The host's side (in the namespace where the host end of the veth lives). */
static int fw_host(const struct pk_meta *m, const struct pk_clone_redirect *r, int n, char *err,
		   size_t errlen)
{
	struct pk_strbuf t = { 0 };
	const char *v = m->veth;
	char c[32];
	int rc;

	fw_chain(m, c, sizeof(c));
	fw_host_remove(m); /* a crashed run's leftovers of the same name: never two jumps */
	pk_strbuf_printf(&t, "*filter\n:%s - [0:0]\n-I INPUT 1 -i %s -j %s\n", c, v, c);
	pk_strbuf_printf(&t, "-I FORWARD 1 -i %s -j %s\n-I FORWARD 1 -o %s -j DROP\n", v, c, v);
	/* the service IP (or any other) as source: a rejection would be routed to production */
	pk_strbuf_printf(&t, "-A %s ! -s %s -j DROP\n", c, m->mgmt);
	/* segments of the host's connections to the clone (SYN-ACK, data, FIN, RST) */
	pk_strbuf_printf(&t, "-A %s -d %s -p tcp ! --syn -j RETURN\n", c, CLONE_HOST_END);
	for (int i = 0; i < n; i++)
		pk_strbuf_printf(&t, "-A %s -d %s -p tcp --syn --dport %u -j RETURN\n", c,
				 CLONE_HOST_END, r[i].to_port);
	pk_strbuf_printf(&t, "-A %s -j REJECT\nCOMMIT\n", c);
	rc = fw_restore(NULL, &t, err, errlen);
	pk_strbuf_release(&t);
	return rc;
}

/* Sums the packet counters of the REJECT and DROP rules in a `iptables -nvxL` listing, of the
 * rules whose output interface is out (any when NULL). */
static uint64_t fw_count(char *const argv[], const char *out)
{
	struct pk_strbuf o = { 0 };
	uint64_t sum = 0;

	if (pk_proc_run(argv, PK_CMD_TIMEOUT_MS, &o) == 0) {
		char *save = NULL;

		for (char *l = strtok_r((char *)pk_strbuf_str(&o), "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			unsigned long long pkts;
			char target[32], in[32], oif[32];

			if (sscanf(l, "%llu %*s %31s %*s %*s %31s %31s", &pkts, target, in, oif) ==
				    4 &&
			    (strcmp(target, "REJECT") == 0 || strcmp(target, "DROP") == 0) &&
			    (!out || strcmp(oif, out) == 0))
				sum += pkts;
		}
	}
	pk_strbuf_release(&o);
	return sum;
}

uint64_t pk_net_blocked(const struct pk_meta *m)
{
	char *ns = (char *)m->netns, c[32];

	fw_chain(m, c, sizeof(c));
	return fw_count((char *[]){ "ip", "netns", "exec", ns, "iptables", "-w", "-nvxL", FW_OUT,
				    NULL },
			NULL) +
	       fw_count((char *[]){ "ip", "netns", "exec", ns, "iptables", "-w", "-nvxL", FW_IN,
				    NULL },
			NULL) +
	       fw_count((char *[]){ "iptables", "-w", "-nvxL", c, NULL }, NULL) +
	       fw_count((char *[]){ "iptables", "-w", "-nvxL", "FORWARD", NULL }, m->veth);
}

/* Routes the clone's connections to each backend of r toward the gateway, from the management
 * address (a locally made packet needs a route before netfilter's DNAT sends it to the
 * aggregator; the host routes the management address back to this clone, while the service
 * IP leads to production). */
static int redirect_routes(const struct pk_meta *m, const struct pk_clone_redirect *r, int n,
			   char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 0; i < n && !rc; i++) {
		char ip32[80];

		snprintf(ip32, sizeof(ip32), "%s/32", r[i].ip);
		rc = RUN(err, errlen, "ip", "-n", (char *)m->netns, "route", "replace", ip32, "via",
			 CLONE_HOST_END, "dev", "eth0", "onlink", "src", (char *)m->mgmt);
	}
	return rc;
}

int pk_net_create_clone(const struct pk_meta *m, const struct pk_clone_redirect *r, int n,
			char *err, size_t errlen)
{
	char svc32[32], mgmt32[32];
	char *ns = (char *)m->netns, *veth = (char *)m->veth;
	int rc;

	snprintf(svc32, sizeof(svc32), "%s/32", m->ip);
	snprintf(mgmt32, sizeof(mgmt32), "%s/32", m->mgmt);
	rc = veth_pair(m, err, errlen);
	/* No IPv6 on the clone's link: a link-local address would reach the host's [::] services
	 * around the IPv4 firewall. */
	if (!rc && access("/proc/sys/net/ipv6", F_OK) == 0) {
		char key[96];

		snprintf(key, sizeof(key), "net.ipv6.conf.%s.disable_ipv6=1", m->veth);
		rc = RUN(err, errlen, "ip", "netns", "exec", ns, "sysctl", "-q",
			 "net.ipv6.conf.eth0.disable_ipv6=1");
		if (!rc)
			rc = RUN(err, errlen, "sysctl", "-q", key);
	}
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
		rc = redirect_routes(m, r, n, err, errlen);
	if (!rc)
		rc = fw_clone(m, r, n, err, errlen);
	if (!rc)
		rc = fw_host(m, r, n, err, errlen);
	if (!rc)
		rc = RUN(err, errlen, "ip", "addr", "replace", CLONE_HOST_END "/32", "dev", veth);
	if (!rc)
		rc = RUN(err, errlen, "ip", "route", "replace", mgmt32, "dev", veth, "src",
			 CLONE_HOST_END);
	if (rc)
		pk_net_remove(m);
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

void pk_net_remove(const struct pk_meta *m)
{
	char *ns = (char *)m->netns, *veth = (char *)m->veth;

	fw_host_remove(m);
	/* Deleting the netns takes its end of the veth, and so the pair, with it. */
	if (pk_netns_exists(m->netns)) {
		kill_netns_pids(ns);
		RUN(NULL, 0, "ip", "netns", "del", ns);
	}
	RUN(NULL, 0, "ip", "link", "del", veth);
}
