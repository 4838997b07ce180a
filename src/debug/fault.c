/* fault.c — faults in a clone: netem through `nsenter -t PID -n tc` (iproute2), the CFS quota
 * of its cgroup (v1), SIGKILL through pidfds of the processes of its cgroup.
 */
#include "debug/fault.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "clone/clone.h"
#include "common/args.h"
#include "common/errbuf.h"
#include "common/proc.h"
#include "debug/netdelay.h"

#define FAULT_TC_TIMEOUT_MS 10000
#define FAULT_DEV "eth0"
#define FAULT_PATH_MAX 4200
#define FAULT_MIN_QUOTA_US 1000 /* the kernel's least cfs_quota_us */
#define FAULT_CPU_FILE "fault-cpu"
#define FAULT_NET_FILE "fault-net" /* the userspace delayer: "PID START\nWHAT\n" */
#define FAULT_NET_LOG "fault-net.log"
#define FAULT_TBF_LATENCY "200ms"

/* Splits s into a decimal number (pk_parse_double's form) and the unit after it. */
static int number_unit(const char *s, double max, double *v, const char **unit)
{
	char num[32];
	size_t n = strspn(s, "0123456789.");

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	*unit = s + n;
	return pk_parse_double(num, 0, max, v);
}

int pk_fault_parse_rate(const char *s, uint64_t *bps)
{
	static const struct {
		const char *unit;
		double mul;
	} units[] = {
		{ "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 },
		{ "bps", 8 }, { "kbps", 8e3 }, { "mbps", 8e6 }, { "gbps", 8e9 },
	};
	const char *unit;
	double v;
	int rc = number_unit(s, 1e12, &v, &unit);

	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(unit, units[i].unit) == 0) {
			double r = v * units[i].mul;

			if (r < 1 || r > 1e13)
				return -ERANGE;
			*bps = (uint64_t)(r + 0.5);
			return 0;
		}
	return -EINVAL;
}

int pk_fault_parse_pct(const char *s, double *pct)
{
	const char *unit;
	int rc = number_unit(s, 100, pct, &unit);

	if (rc)
		return rc;
	return strcmp(unit, "") == 0 || strcmp(unit, "%") == 0 ? 0 : -EINVAL;
}

int pk_fault_parse_ms(const char *s, uint64_t *us)
{
	const char *unit;
	double v, mul;
	int rc = number_unit(s, 60e6, &v, &unit);

	if (rc)
		return rc;
	if (strcmp(unit, "") == 0 || strcmp(unit, "ms") == 0)
		mul = 1e3;
	else if (strcmp(unit, "s") == 0)
		mul = 1e6;
	else if (strcmp(unit, "us") == 0)
		mul = 1;
	else
		return -EINVAL;
	if (v * mul > 60e6)
		return -ERANGE;
	*us = (uint64_t)(v * mul + 0.5);
	return 0;
}

bool pk_fault_net_set(const struct pk_fault_net *n)
{
	return n->delay_us || n->jitter_us || n->loss_pct > 0 || n->reorder_pct > 0 ||
	       n->rate_bps || n->limit;
}

/* Appends formatted text at buf + *off; on overflow sets *off to len. */
__attribute__((format(printf, 4, 5))) static void add(char *buf, size_t len, size_t *off,
						      const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	*off = w < 0 || (size_t)w >= len - *off ? len : *off + (size_t)w;
}

int pk_fault_netem_args(const struct pk_fault_net *n, char *buf, size_t len, char *err,
			size_t errlen)
{
	size_t off = 0;

	if (!pk_fault_net_set(n))
		return pk_errbuf_set(-EINVAL, err, errlen, "no network fault given");
	if ((n->jitter_us || n->reorder_pct > 0) && !n->delay_us)
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "--jitter and --reorder need --delay (netem delays the rest)");
	if (n->limit && !n->delay_us && !(n->loss_pct > 0) && !n->rate_bps)
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "--limit needs --delay, --loss or --bandwidth");
	if (len)
		buf[0] = '\0';
	if (n->limit)
		add(buf, len, &off, "limit %" PRIu32 " ", n->limit);
	if (n->delay_us) {
		add(buf, len, &off, "delay %gms", (double)n->delay_us / 1e3);
		if (n->jitter_us)
			add(buf, len, &off, " %gms", (double)n->jitter_us / 1e3);
	}
	if (n->loss_pct > 0)
		add(buf, len, &off, "%sloss %g%%", off ? " " : "", n->loss_pct);
	if (n->reorder_pct > 0)
		add(buf, len, &off, "%sreorder %g%%", off ? " " : "", n->reorder_pct);
	if (n->rate_bps)
		add(buf, len, &off, "%srate %" PRIu64 "bit", off ? " " : "", n->rate_bps);
	if (off >= len)
		return pk_errbuf_set(-ENOSPC, err, errlen, "netem arguments too long");
	return 0;
}

/* Runs `nsenter -t PID -n tc ARGS...` (args: at most 24 words). */
static int tc(int pid, char *const args[], struct pk_strbuf *out, char *err, size_t errlen)
{
	char pidbuf[16];
	char *argv[32] = { "nsenter", "-t", pidbuf, "-n", "tc" };
	int i = 5, rc;

	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	for (int j = 0; args[j] && i < 31; j++)
		argv[i++] = args[j];
	argv[i] = NULL;
	if (out) {
		rc = pk_proc_run(argv, FAULT_TC_TIMEOUT_MS, out);
		if (rc > 0)
			return pk_errbuf_set(-EIO, err, errlen, "tc exited with %d: %.200s", rc,
					     pk_strbuf_str(out));
		return rc < 0 ? pk_errbuf_set(rc, err, errlen, "cannot run nsenter/tc: %s",
					      strerror(-rc))
			      : 0;
	}
	return pk_proc_check(argv, FAULT_TC_TIMEOUT_MS, err, errlen);
}

/* Whether only a rate is asked for: tbf does it, where a kernel without netem has tbf. */
static bool rate_only(const struct pk_fault_net *n)
{
	return n->rate_bps && !n->delay_us && !n->jitter_us && !(n->loss_pct > 0) &&
	       !(n->reorder_pct > 0) && !n->limit;
}

/* Tells whether tc's output shows one of our qdiscs (netem, tbf) at the root. */
static bool has_qdisc(int pid)
{
	char *args[] = { "qdisc", "show", "dev", FAULT_DEV, NULL };
	struct pk_strbuf out = { 0 };
	char err[64];
	bool yes = tc(pid, args, &out, err, sizeof(err)) == 0 &&
		   (strstr(pk_strbuf_str(&out), "qdisc netem") ||
		    strstr(pk_strbuf_str(&out), "qdisc tbf"));

	pk_strbuf_release(&out);
	return yes;
}

/* Removes our qdisc from eth0. */
static int qdisc_del(int pid, char *err, size_t errlen)
{
	char *args[] = { "qdisc", "del", "dev", FAULT_DEV, "root", NULL };

	return tc(pid, args, NULL, err, errlen);
}

/* Replaces the root qdisc of eth0 with what args (tc words after "root") say. */
static int qdisc_replace(int pid, char *words, char *err, size_t errlen)
{
	char *args[32] = { "qdisc", "replace", "dev", FAULT_DEV, "root" };
	char *save = NULL, *w;
	int i = 5;

	for (w = strtok_r(words, " ", &save); w && i < 31; w = strtok_r(NULL, " ", &save))
		args[i++] = w;
	args[i] = NULL;
	return tc(pid, args, NULL, err, errlen);
}

/* tbf's words for a rate: a bucket of 10 ms of traffic (at least two full frames); packets
 * that would wait more than FAULT_TBF_LATENCY are dropped, as a slow link does. */
static void tbf_words(uint64_t rate_bps, char *buf, size_t len)
{
	uint64_t burst = rate_bps / 8 / 100;

	snprintf(buf, len, "tbf rate %" PRIu64 "bit burst %" PRIu64 " latency " FAULT_TBF_LATENCY,
		 rate_bps, burst < 3200 ? 3200 : burst);
}

static void state_path(const char *state_dir, const char *name, const char *file, char *path,
		       size_t len)
{
	snprintf(path, len, "%s/%s/%s", state_dir, name, file);
}

/* The userspace delayer the clone has (from its state file): 0, or -ENOENT when none. */
static int delayer_read(const char *state_dir, const char *name, pid_t *daemon, uint64_t *start,
			char *what, size_t whatlen)
{
	char path[FAULT_PATH_MAX];
	FILE *f;
	int d, rc = 0;

	state_path(state_dir, name, FAULT_NET_FILE, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%d %" SCNu64 "\n", &d, start) != 2 || d <= 0 ||
	    !fgets(what, (int)whatlen, f))
		rc = -EINVAL;
	fclose(f);
	what[strcspn(what, "\n")] = '\0';
	*daemon = d;
	return rc;
}

/* Stops the clone's userspace delayer, if it has one, and forgets it. */
static int delayer_stop(const char *state_dir, const char *name, int pid, char *err, size_t errlen)
{
	char path[FAULT_PATH_MAX], what[256];
	uint64_t start = 0;
	pid_t daemon = 0;
	int rc = delayer_read(state_dir, name, &daemon, &start, what, sizeof(what));

	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = pk_netdelay_stop(daemon, start, pid, err, errlen);
	else
		rc = pk_netdelay_stop(0, 0, pid, err, errlen); /* damaged: the rules at least */
	if (rc)
		return rc;
	state_path(state_dir, name, FAULT_NET_FILE, path, sizeof(path));
	unlink(path);
	return 0;
}

/* Without netem: tbf for a rate, the userspace delayer for the rest. */
static int net_apply_userspace(const char *state_dir, const char *name, int pid,
			       const struct pk_fault_net *n, char *err, size_t errlen)
{
	struct pk_fault_net rest = *n;
	char words[256], path[FAULT_PATH_MAX], log[FAULT_PATH_MAX];
	uint64_t start;
	pid_t daemon;
	FILE *f;
	int rc;

	rest.rate_bps = 0;
	if (n->rate_bps) {
		tbf_words(n->rate_bps, words, sizeof(words));
		rc = qdisc_replace(pid, words, err, errlen);
		if (rc)
			return rc;
	}
	if (!rest.delay_us && !(rest.loss_pct > 0)) /* a limit alone holds nothing */
		return 0;
	rc = pk_fault_netem_args(&rest, words, sizeof(words), err, errlen);
	if (rc)
		return rc;
	state_path(state_dir, name, FAULT_NET_LOG, log, sizeof(log));
	rc = pk_netdelay_start(pid, &rest, log, &daemon, &start, err, errlen);
	if (rc)
		return rc;
	state_path(state_dir, name, FAULT_NET_FILE, path, sizeof(path));
	f = fopen(path, "we");
	if (!f || fprintf(f, "%d %" PRIu64 "\n%s\n", (int)daemon, start, words) < 0 || fclose(f)) {
		rc = -errno ? -errno : -EIO;
		pk_netdelay_stop(daemon, start, pid, NULL, 0);
		return pk_errbuf_set(rc, err, errlen, "cannot write %s: %s", path, strerror(-rc));
	}
	return 0;
}

int pk_fault_net_apply(const char *state_dir, const char *name, int pid,
		       const struct pk_fault_net *n, char *err, size_t errlen)
{
	char words[256];
	int rc = pk_fault_netem_args(n, words, sizeof(words), err, errlen);

	if (!rc)
		rc = delayer_stop(state_dir, name, pid, err, errlen);
	if (rc)
		return rc;
	if (rate_only(n)) {
		tbf_words(n->rate_bps, words, sizeof(words));
		return qdisc_replace(pid, words, err, errlen);
	}
	if (strlen(words) + 7 > sizeof(words))
		return pk_errbuf_set(-ENOSPC, err, errlen, "netem arguments too long");
	memmove(words + 6, words, strlen(words) + 1);
	memcpy(words, "netem ", 6);
	rc = qdisc_replace(pid, words, err, errlen);
	if (rc && strstr(err, "qdisc kind is unknown")) {
		/* this kernel has no netem (CONFIG_NET_SCH_NETEM): do it in user space */
		if (has_qdisc(pid))
			qdisc_del(pid, NULL, 0);
		return net_apply_userspace(state_dir, name, pid, n, err, errlen);
	}
	return rc;
}

/* The path of file name in pid's cgroup of controller cpu. */
static int cpu_file(int pid, const char *name, char *path, size_t len)
{
	char dir[FAULT_PATH_MAX];
	int rc = pk_cgroup_dir(pid, "cpu", dir, sizeof(dir));

	if (rc)
		return rc;
	return (size_t)snprintf(path, len, "%s/%s", dir, name) < len ? 0 : -ENAMETOOLONG;
}

static int read_ll(const char *path, long long *v)
{
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return -errno;
	if (fscanf(f, "%lld", v) != 1)
		rc = -EINVAL;
	fclose(f);
	return rc;
}

static int write_ll(const char *path, long long v)
{
	FILE *f = fopen(path, "we");
	int rc = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%lld\n", v) < 0)
		rc = -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}

/* Reads the clone's current quota and period. */
static int cpu_quota(int pid, long long *quota, long long *period, char *err, size_t errlen)
{
	char path[FAULT_PATH_MAX + 64];
	int rc = cpu_file(pid, "cpu.cfs_quota_us", path, sizeof(path));

	if (!rc)
		rc = read_ll(path, quota);
	if (!rc)
		rc = cpu_file(pid, "cpu.cfs_period_us", path, sizeof(path));
	if (!rc)
		rc = read_ll(path, period);
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "cannot read the clone's CPU quota: %s",
				     strerror(-rc));
	return 0;
}

static int set_quota(int pid, long long quota, char *err, size_t errlen)
{
	char path[FAULT_PATH_MAX + 64];
	int rc = cpu_file(pid, "cpu.cfs_quota_us", path, sizeof(path));

	if (!rc)
		rc = write_ll(path, quota);
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "cannot write cpu.cfs_quota_us: %s",
				     strerror(-rc));
	return 0;
}

static void saved_path(const char *state_dir, const char *name, char *path, size_t len)
{
	state_path(state_dir, name, FAULT_CPU_FILE, path, len);
}

/* Reads the quota remembered before the first CPU fault.  Returns 0, -ENOENT or -EINVAL. */
static int saved_quota(const char *state_dir, const char *name, long long *quota)
{
	char path[FAULT_PATH_MAX];

	saved_path(state_dir, name, path, sizeof(path));
	return read_ll(path, quota);
}

int pk_fault_cpu_apply(const char *state_dir, const char *name, int pid, double pct, char *err,
		       size_t errlen)
{
	char path[FAULT_PATH_MAX];
	long long quota, period, orig, want;
	int rc = cpu_quota(pid, &quota, &period, err, errlen);

	if (rc)
		return rc;
	if (saved_quota(state_dir, name, &orig) == -ENOENT) {
		saved_path(state_dir, name, path, sizeof(path));
		rc = write_ll(path, quota);
		if (rc)
			return pk_errbuf_set(rc, err, errlen, "cannot remember the quota in %s: %s",
					     path, strerror(-rc));
	}
	want = llround((double)period * pct / 100);
	if (want < FAULT_MIN_QUOTA_US)
		want = FAULT_MIN_QUOTA_US;
	return set_quota(pid, want, err, errlen);
}

/* Tells whether process p is named process: its comm, or the base name of its argv[0]. */
static bool named(int p, const char *process)
{
	char path[64], buf[512];
	FILE *f;
	bool yes = false;

	snprintf(path, sizeof(path), "/proc/%d/comm", p);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			yes = strcmp(buf, process) == 0;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", p);
	f = yes ? NULL : fopen(path, "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		char *base, *sp;

		buf[n] = '\0';
		/* redis-server rewrites its argv[0] into "redis-server 0.0.0.0:6379" */
		sp = strchr(buf, ' ');
		if (sp)
			*sp = '\0';
		base = strrchr(buf, '/');
		yes = strcmp(base ? base + 1 : buf, process) == 0;
		fclose(f);
	}
	return yes;
}

int pk_fault_kill(int pid, const char *process, int *killed, char *err, size_t errlen)
{
	char path[FAULT_PATH_MAX + 64];
	FILE *f;
	long p;
	int rc = cpu_file(pid, "cgroup.procs", path, sizeof(path));

	*killed = 0;
	f = rc ? NULL : fopen(path, "re");
	if (!f) {
		rc = rc ? rc : -errno;
		return pk_errbuf_set(rc, err, errlen, "cannot list the clone's processes: %s",
				     strerror(-rc));
	}
	while (fscanf(f, "%ld", &p) == 1) {
		uint64_t start;
		int fd;

		if (p <= 0 || p > INT32_MAX || !named((int)p, process) ||
		    pk_proc_start_time((pid_t)p, &start))
			continue;
		fd = pk_proc_open_checked((pid_t)p, start);
		if (fd < 0)
			continue;
		if (pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0)
			(*killed)++;
		close(fd);
	}
	fclose(f);
	if (!*killed)
		return pk_errbuf_set(-ESRCH, err, errlen, "no process named '%s' in the clone",
				     process);
	return 0;
}

int pk_fault_clear(const char *state_dir, const char *name, int pid, char *err, size_t errlen)
{
	char path[FAULT_PATH_MAX];
	long long orig;
	int rc = delayer_stop(state_dir, name, pid, err, errlen);

	if (rc)
		return rc;
	if (has_qdisc(pid)) {
		rc = qdisc_del(pid, err, errlen);
		if (rc)
			return rc;
	}
	rc = saved_quota(state_dir, name, &orig);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "damaged %s/%s/" FAULT_CPU_FILE, state_dir,
				     name);
	rc = set_quota(pid, orig, err, errlen);
	if (rc)
		return rc;
	saved_path(state_dir, name, path, sizeof(path));
	unlink(path);
	return 0;
}

int pk_fault_show(const char *state_dir, const char *name, int pid, struct pk_strbuf *out,
		  char *err, size_t errlen)
{
	char *args[] = { "qdisc", "show", "dev", FAULT_DEV, NULL };
	struct pk_strbuf tcout = { 0 };
	char delayed[256];
	uint64_t start;
	pid_t daemon;
	long long quota, period, orig;
	size_t before = out->len;
	const char *line;
	int rc = tc(pid, args, &tcout, err, errlen);

	for (line = pk_strbuf_str(&tcout); !rc && line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (strncmp(line, "qdisc netem ", 12) == 0) {
			/* "qdisc netem 8001: root refcnt 2 limit 1000 delay 50ms" */
			const char *lim = strstr(line, " limit ");
			const char *what = lim && lim < line + n ? lim + 7 : line;

			what += strspn(what, "0123456789");
			what += strspn(what, " ");
			pk_strbuf_printf(out, "network: netem %.*s\n", (int)(line + n - what),
					 what);
		} else if (strncmp(line, "qdisc tbf ", 10) == 0) {
			/* "qdisc tbf 8001: root refcnt 2 rate 4Mbit burst 5000b lat 200ms" */
			const char *rate = strstr(line, " rate ");

			size_t len = rate && rate < line + n ? (size_t)(line + n - rate) : 0;

			while (len && rate[len - 1] == ' ') /* tc ends its lines with a space */
				len--;
			if (len)
				pk_strbuf_printf(out, "network: tbf%.*s\n", (int)len, rate);
		}
		line = nl ? nl + 1 : NULL;
	}
	pk_strbuf_release(&tcout);
	if (rc)
		return rc;
	if (delayer_read(state_dir, name, &daemon, &start, delayed, sizeof(delayed)) == 0) {
		int fd = pk_proc_open_checked(daemon, start);

		if (fd >= 0)
			pk_strbuf_printf(out,
					 "network: %s (userspace delayer, pid %d: this kernel "
					 "has no netem)\n",
					 delayed, (int)daemon);
		else
			pk_strbuf_printf(out,
					 "network: %s: its userspace delayer (pid %d) has ended "
					 "(see %s/%s/" FAULT_NET_LOG ")\n",
					 delayed, (int)daemon, state_dir, name);
		if (fd >= 0)
			close(fd);
	}
	if (saved_quota(state_dir, name, &orig) == 0) {
		rc = cpu_quota(pid, &quota, &period, err, errlen);
		if (rc)
			return rc;
		pk_strbuf_printf(out, "cpu: quota %lld/%lld us (%.0f%% of a CPU; was %lld)\n",
				 quota, period, 100.0 * (double)quota / (double)period, orig);
	}
	if (out->len == before)
		pk_strbuf_printf(out, "none\n");
	return 0;
}
