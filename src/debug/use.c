/* use.c — the USE report: raw counters of a container from its cgroups (v1) and the network
 * namespace of its init (/proc/PID/net/{dev,snmp,netstat}), turned into rates over an interval,
 * and rendered as a table or JSON.
 */
#include "debug/use.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clone/clone.h"

#define CG_UNLIMITED (1ull << 62) /* memory.limit_in_bytes at or above this: no limit */
#define USE_PATH_MAX 4200
#define USE_CG_V2_MARK "/sys/fs/cgroup/cgroup.controllers" /* a cgroup v2 host */
#define USE_CELL_MIN 18 /* the least width of a column of values */

static const struct {
	const char *key, *res, *kind, *metric, *unit;
} rows[PK_USE_NROWS] = {
#define PK_USE_DESC(id, res, kind, metric, unit) { #id, res, kind, metric, unit },
	PK_USE_ROWS(PK_USE_DESC)
#undef PK_USE_DESC
};

/* Opens file name in directory dir ("" when unknown: fails). */
static FILE *dir_open(const char *dir, const char *name)
{
	char path[USE_PATH_MAX + 64];

	if (!dir[0] || (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return NULL;
	return fopen(path, "re");
}

/* The first number of dir/name, or 0. */
static uint64_t dir_u64(const char *dir, const char *name)
{
	FILE *f = dir_open(dir, name);
	long long v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%lld", &v) != 1 || v < 0)
		v = 0;
	fclose(f);
	return (uint64_t)v;
}

/* The value of the line "KEY VALUE" of dir/name, or 0. */
static uint64_t dir_keyed(const char *dir, const char *name, const char *key)
{
	FILE *f = dir_open(dir, name);
	char line[256], k[128];
	unsigned long long v, found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %llu", k, &v) == 2 && strcmp(k, key) == 0) {
			found = v;
			break;
		}
	fclose(f);
	return found;
}

/* The host's MemTotal in bytes, or 0. */
static uint64_t mem_total(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* Adds /proc/PID/net/dev's counters of every interface but lo into s. */
static void net_dev(int pid, struct pk_use_sample *s)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/dev", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *name = line;
		unsigned long long v[16];

		if (!colon)
			continue;
		*colon = '\0';
		name += strspn(name, " ");
		if (strcmp(name, "lo") == 0)
			continue;
		/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets
		 * errs drop fifo colls carrier compressed */
		if (sscanf(colon + 1,
			   "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
			   &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]) != 16)
			continue;
		s->net_bytes += v[0] + v[8];
		s->net_packets += v[1] + v[9];
		s->net_errs += v[2] + v[10];
		s->net_drops += v[3] + v[11];
	}
	fclose(f);
}

/* Reads field key of the table prefix ("Tcp:", "TcpExt:") of /proc/PID/net/file: a header line
 * of names followed by a line of values.  Returns 0 when absent. */
static uint64_t net_field(int pid, const char *file, const char *prefix, const char *key)
{
	char path[64], names[4096], vals[4096];
	uint64_t found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		char *sn, *sv, *n, *v;
		size_t plen = strlen(prefix);

		if (strncmp(names, prefix, plen) != 0 || strncmp(vals, prefix, plen) != 0)
			continue;
		n = strtok_r(names + plen, " \n", &sn);
		v = strtok_r(vals + plen, " \n", &sv);
		for (; n && v; n = strtok_r(NULL, " \n", &sn), v = strtok_r(NULL, " \n", &sv))
			if (strcmp(n, key) == 0) {
				found = strtoull(v, NULL, 10);
				break;
			}
		break;
	}
	fclose(f);
	return found;
}

/* Sums the time every thread listed in dir/tasks spent runnable but waiting for a CPU (the
 * second field of /proc/TID/schedstat): CPU saturation even without a quota.  A thread that
 * ends between two samples takes its time with it; rate() counts a drop from 0. */
static uint64_t runq_wait(const char *dir, const char *tasks)
{
	FILE *f = dir_open(dir, tasks);
	unsigned long long run, wait;
	uint64_t sum = 0;
	long tid;

	if (!f)
		return 0;
	while (fscanf(f, "%ld", &tid) == 1) {
		char path[64];
		FILE *st;

		snprintf(path, sizeof(path), "/proc/%ld/schedstat", tid);
		st = fopen(path, "re");
		if (!st)
			continue;
		if (fscanf(st, "%llu %llu", &run, &wait) == 2)
			sum += wait;
		fclose(st);
	}
	fclose(f);
	return sum;
}

/* The CPU limit in CPUs from a quota and period (quota <= 0: none, every online CPU). */
static double cpu_limit(long long quota, uint64_t period)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	return quota > 0 && period ? (double)quota / (double)period
				   : (double)(online > 0 ? online : 1);
}

/* The cgroup v1 counters of pid. */
static int sample_v1(int pid, struct pk_use_sample *s)
{
	char cpu[USE_PATH_MAX] = "", acct[USE_PATH_MAX] = "", mem[USE_PATH_MAX] = "";
	char blk[USE_PATH_MAX] = "";
	long long quota = -1;
	FILE *f;
	int rc = pk_cgroup_dir(pid, "cpuacct", acct, sizeof(acct));

	if (rc)
		return rc;
	if (pk_cgroup_dir(pid, "cpu", cpu, sizeof(cpu)))
		cpu[0] = '\0';
	if (pk_cgroup_dir(pid, "memory", mem, sizeof(mem)))
		mem[0] = '\0';
	if (pk_cgroup_dir(pid, "blkio", blk, sizeof(blk)))
		blk[0] = '\0';
	s->cpu_ns = dir_u64(acct, "cpuacct.usage");
	s->nr_periods = dir_keyed(cpu, "cpu.stat", "nr_periods");
	s->nr_throttled = dir_keyed(cpu, "cpu.stat", "nr_throttled");
	s->runq_wait_ns = runq_wait(acct, "tasks");
	f = dir_open(cpu, "cpu.cfs_quota_us");
	if (f) {
		if (fscanf(f, "%lld", &quota) != 1)
			quota = -1;
		fclose(f);
	}
	s->cpus = cpu_limit(quota, dir_u64(cpu, "cpu.cfs_period_us"));
	s->mem_used = dir_u64(mem, "memory.usage_in_bytes");
	s->mem_limit = dir_u64(mem, "memory.limit_in_bytes");
	s->mem_majfault = dir_keyed(mem, "memory.stat", "total_pgmajfault");
	s->mem_failcnt = dir_u64(mem, "memory.failcnt");
	s->io_bytes = dir_keyed(blk, "blkio.throttle.io_service_bytes", "Total");
	s->io_ops = dir_keyed(blk, "blkio.throttle.io_serviced", "Total");
	return 0;
}

/* The "total=" of the "some" line of a PSI file (microseconds stalled); false when absent. */
static bool psi_total(const char *dir, const char *name, uint64_t *us)
{
	FILE *f = dir_open(dir, name);
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *t = strstr(line, "total=");

		if (strncmp(line, "some ", 5) == 0 && t) {
			*us = strtoull(t + 6, NULL, 10);
			found = true;
		}
	}
	fclose(f);
	return found;
}

int pk_use_sample_v2(const char *dir, struct pk_use_sample *s)
{
	char line[512], max[32];
	unsigned long long period = 0;
	long long quota = -1;
	FILE *f;

	if (!(f = dir_open(dir, "cgroup.procs")))
		return -errno;
	fclose(f);
	s->cpu_ns = dir_keyed(dir, "cpu.stat", "usage_usec") * 1000;
	s->nr_periods = dir_keyed(dir, "cpu.stat", "nr_periods");
	s->nr_throttled = dir_keyed(dir, "cpu.stat", "nr_throttled");
	s->runq_wait_ns = runq_wait(dir, "cgroup.threads");
	f = dir_open(dir, "cpu.max"); /* "max 100000" or "50000 100000" */
	if (f) {
		if (fscanf(f, "%31s %llu", max, &period) == 2 && strcmp(max, "max") != 0)
			quota = strtoll(max, NULL, 10);
		fclose(f);
	}
	s->cpus = cpu_limit(quota, period);
	s->mem_used = dir_u64(dir, "memory.current");
	s->mem_limit = dir_u64(dir, "memory.max"); /* "max" reads as 0: the host's */
	s->mem_majfault = dir_keyed(dir, "memory.stat", "pgmajfault");
	s->mem_failcnt = dir_keyed(dir, "memory.events", "max");
	f = dir_open(dir, "io.stat"); /* "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" */
	while (f && fgets(line, sizeof(line), f)) {
		static const char *const keys[] = { "rbytes=", "wbytes=", "rios=", "wios=" };

		for (int i = 0; i < 4; i++) {
			const char *k = strstr(line, keys[i]);
			uint64_t v = k ? strtoull(k + strlen(keys[i]), NULL, 10) : 0;

			if (i < 2)
				s->io_bytes += v;
			else
				s->io_ops += v;
		}
	}
	if (f)
		fclose(f);
	s->has_psi = psi_total(dir, "cpu.pressure", &s->psi_cpu_us) &&
		     psi_total(dir, "memory.pressure", &s->psi_mem_us) &&
		     psi_total(dir, "io.pressure", &s->psi_io_us);
	return 0;
}

int pk_use_sample_read(int pid, struct pk_use_sample *s)
{
	char dir[USE_PATH_MAX];
	struct timespec ts;
	int rc;

	memset(s, 0, sizeof(*s));
	if (access(USE_CG_V2_MARK, F_OK) == 0) {
		/* the unified hierarchy: /proc/PID/cgroup's "0::/path" */
		rc = pk_cgroup_dir(pid, "", dir, sizeof(dir));
		if (!rc)
			rc = pk_use_sample_v2(dir, s);
	} else {
		rc = sample_v1(pid, s);
	}
	if (rc)
		return rc;
	if (!s->mem_limit || s->mem_limit >= CG_UNLIMITED)
		s->mem_limit = mem_total();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	net_dev(pid, s);
	s->tcp_retrans = net_field(pid, "snmp", "Tcp:", "RetransSegs");
	s->listen_drops = net_field(pid, "netstat", "TcpExt:", "ListenOverflows") +
			  net_field(pid, "netstat", "TcpExt:", "ListenDrops");
	return 0;
}

/* The rate of a counter from a to b over dt seconds (NaN without an interval; a counter that
 * went back, as after a restart, counts from 0). */
static double rate(uint64_t a, uint64_t b, double dt)
{
	if (!(dt > 0))
		return NAN;
	return (double)(b >= a ? b - a : b) / dt;
}

void pk_use_compute(const struct pk_use_sample *a, const struct pk_use_sample *b,
		    struct pk_use_report *r)
{
	double dt = b->t - a->t;
	uint64_t periods = b->nr_periods - a->nr_periods;

	r->interval_s = dt;
	r->v[PK_USE_CPU_USED] = b->cpus > 0 ? rate(a->cpu_ns, b->cpu_ns, dt) / 1e7 / b->cpus : NAN;
	r->v[PK_USE_CPU_PRESSURE] =
		a->has_psi && b->has_psi ? rate(a->psi_cpu_us, b->psi_cpu_us, dt) / 1e4 : NAN;
	r->v[PK_USE_MEM_PRESSURE] =
		a->has_psi && b->has_psi ? rate(a->psi_mem_us, b->psi_mem_us, dt) / 1e4 : NAN;
	r->v[PK_USE_IO_PRESSURE] =
		a->has_psi && b->has_psi ? rate(a->psi_io_us, b->psi_io_us, dt) / 1e4 : NAN;
	r->v[PK_USE_CPU_RUNQ_WAIT] = rate(a->runq_wait_ns, b->runq_wait_ns, dt) / 1e9;
	r->v[PK_USE_CPU_THROTTLED] =
		b->nr_periods >= a->nr_periods && periods
			? 100.0 * (double)(b->nr_throttled - a->nr_throttled) / (double)periods
			: 0;
	r->v[PK_USE_MEM_USED] =
		b->mem_limit ? 100.0 * (double)b->mem_used / (double)b->mem_limit : NAN;
	r->v[PK_USE_MEM_MAJFAULT] = rate(a->mem_majfault, b->mem_majfault, dt);
	r->v[PK_USE_MEM_LIMIT_HITS] = rate(a->mem_failcnt, b->mem_failcnt, dt);
	r->v[PK_USE_IO_BYTES] = rate(a->io_bytes, b->io_bytes, dt);
	r->v[PK_USE_IO_OPS] = rate(a->io_ops, b->io_ops, dt);
	r->v[PK_USE_NET_BYTES] = rate(a->net_bytes, b->net_bytes, dt);
	r->v[PK_USE_NET_PACKETS] = rate(a->net_packets, b->net_packets, dt);
	r->v[PK_USE_NET_DROPS] = rate(a->net_drops, b->net_drops, dt);
	r->v[PK_USE_NET_LISTEN_DROPS] = rate(a->listen_drops, b->listen_drops, dt);
	r->v[PK_USE_NET_ERRS] = rate(a->net_errs, b->net_errs, dt);
	r->v[PK_USE_NET_RETRANS] = rate(a->tcp_retrans, b->tcp_retrans, dt);
}

/* The lower-case JSON key of row i ("cpu_used"). */
static void row_key(int i, char *buf, size_t len)
{
	size_t j = 0;

	for (; rows[i].key[j] && j + 1 < len; j++)
		buf[j] = (char)(rows[i].key[j] >= 'A' && rows[i].key[j] <= 'Z' ? rows[i].key[j] + 32
									       : rows[i].key[j]);
	buf[j] = '\0';
}

/* Appends v as a table cell of width w: "-" for NaN, one decimal below 100, else a whole
 * number (byte rates with K/M/G). */
static void cell(struct pk_strbuf *out, int w, double v, bool bytes)
{
	char buf[32];

	if (isnan(v))
		snprintf(buf, sizeof(buf), "-");
	else if (bytes && v >= 1e9)
		snprintf(buf, sizeof(buf), "%.1fG", v / 1e9);
	else if (bytes && v >= 1e6)
		snprintf(buf, sizeof(buf), "%.1fM", v / 1e6);
	else if (bytes && v >= 1e4)
		snprintf(buf, sizeof(buf), "%.1fK", v / 1e3);
	else if (v < 100)
		snprintf(buf, sizeof(buf), "%.1f", v);
	else
		snprintf(buf, sizeof(buf), "%.0f", v);
	pk_strbuf_printf(out, " %*s", w, buf);
}

static void render_json(const struct pk_use_column *cols, int n, struct pk_strbuf *out)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	char key[64], *text;

	cJSON_AddNumberToObject(o, "interval_s", n > 0 ? cols[0].r->interval_s : 0);
	arr = cJSON_AddArrayToObject(o, "columns");
	for (int c = 0; c < n; c++) {
		cJSON *col = cJSON_CreateObject();

		cJSON_AddStringToObject(col, "role", cols[c].role);
		cJSON_AddStringToObject(col, "name", cols[c].name);
		for (int i = 0; i < PK_USE_NROWS; i++) {
			row_key(i, key, sizeof(key));
			if (isnan(cols[c].r->v[i]))
				cJSON_AddNullToObject(col, key);
			else
				cJSON_AddNumberToObject(col, key,
							round(cols[c].r->v[i] * 100) / 100);
		}
		cJSON_AddItemToArray(arr, col);
	}
	text = cJSON_PrintUnformatted(o);
	if (text)
		pk_strbuf_printf(out, "%s\n", text);
	free(text);
	cJSON_Delete(o);
}

void pk_use_render(const struct pk_use_column *cols, int n, bool json, struct pk_strbuf *out)
{
	int width[PK_USE_MAX_COLUMNS];
	const char *last = "";

	if (json) {
		render_json(cols, n, out);
		return;
	}
	pk_strbuf_printf(out, "rates over %.1f s\n%-8s %-3s %-17s %-13s",
			 n > 0 ? cols[0].r->interval_s : 0.0, "RESOURCE", "USE", "METRIC", "UNIT");
	for (int c = 0; c < n && c < PK_USE_MAX_COLUMNS; c++) {
		char head[128];

		snprintf(head, sizeof(head), "%s %s", cols[c].role, cols[c].name);
		width[c] = strlen(head) > USE_CELL_MIN ? (int)strlen(head) : USE_CELL_MIN;
		pk_strbuf_printf(out, " %*s", width[c], head);
	}
	pk_strbuf_printf(out, "\n");
	for (int i = 0; i < PK_USE_NROWS; i++) {
		pk_strbuf_printf(out, "%-8s %-3s %-17s %-13s",
				 strcmp(last, rows[i].res) == 0 ? "" : rows[i].res, rows[i].kind,
				 rows[i].metric, rows[i].unit);
		last = rows[i].res;
		for (int c = 0; c < n && c < PK_USE_MAX_COLUMNS; c++)
			cell(out, width[c], cols[c].r->v[i], strcmp(rows[i].unit, "B/s") == 0);
		pk_strbuf_printf(out, "\n");
	}
}
