/* cgroup.c — a clone's resource limits: read from production's live cgroups (cgroup v1, as runc
 * makes them on these hosts), overridden by `--mem`/`--cpus`, carried to an agent as JSON, and
 * written into the clone's OCI config, where `runc restore` applies them to the clone's own
 * cgroups (the restored processes stay in the cgroups runc made for the clone: criu.conf sets
 * manage-cgroups=ignore, see runc.c).
 */
#include "container/container_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CG_ROOT "/sys/fs/cgroup"
#define CG_UNLIMITED (1ull << 62) /* memory.limit_in_bytes at or above this: no limit */
#define CPU_PERIOD_DEFAULT 100000

/* Finds the path of pid's cgroup for controller ctl ("memory", "cpu") in /proc/PID/cgroup. */
static int cgroup_of(int pid, const char *ctl, char *path, size_t len)
{
	char file[64], line[PK_PATH_MAX];
	int rc = -ENOENT;
	FILE *f;

	pk_path(file, sizeof(file), "/proc/%d/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (rc && fgets(line, sizeof(line), f)) {
		/* "4:memory:/a/b" or "1:cpu,cpuacct:/a" */
		char *ctls = strchr(line, ':'), *p = ctls ? strchr(ctls + 1, ':') : NULL;

		if (!p)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		for (char *c = ctls + 1, *next; c; c = next) {
			next = strchr(c, ',');
			if (next)
				*next++ = '\0';
			if (strcmp(c, ctl) == 0) {
				snprintf(path, len, "%s", p);
				rc = 0;
				break;
			}
		}
	}
	fclose(f);
	return rc;
}

int pk_cgroup_dir(int pid, const char *ctl, char *dir, size_t len)
{
	char cg[PK_PATH_MAX];
	int rc = cgroup_of(pid, ctl, cg, sizeof(cg));

	if (rc)
		return rc;
	/* with cpu and cpuacct mounted together the directory is named "cpu,cpuacct" (with a
	 * "cpu" symlink); either way CG_ROOT/ctl/ leads there */
	return pk_path(dir, len, CG_ROOT "/%s%s", ctl, strcmp(cg, "/") == 0 ? "" : cg);
}

/* Reads the first line of controller ctl's file name in pid's cgroup into buf. */
static int cg_read(int pid, const char *ctl, const char *name, char *buf, size_t len)
{
	char dir[PK_PATH_MAX], file[PK_PATH_MAX + 128];
	FILE *f;
	int rc = pk_cgroup_dir(pid, ctl, dir, sizeof(dir));

	if (rc)
		return rc;
	if (pk_path(file, sizeof(file), "%s/%s", dir, name))
		return -ENAMETOOLONG;
	f = fopen(file, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return 0;
}

static bool cg_read_ll(int pid, const char *ctl, const char *name, long long *v)
{
	char buf[64], *end;

	if (cg_read(pid, ctl, name, buf, sizeof(buf)) || !buf[0])
		return false;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return !errno && *end == '\0';
}

void pk_cgroup_limits_read(int pid, struct pk_cg_limits *l)
{
	long long v;
	char buf[64];

	memset(l, 0, sizeof(*l));
	if (cg_read_ll(pid, "memory", "memory.limit_in_bytes", &v) && v > 0 &&
	    (unsigned long long)v < CG_UNLIMITED)
		l->mem = (uint64_t)v;
	if (cg_read_ll(pid, "cpu", "cpu.cfs_quota_us", &v) && v > 0)
		l->cpu_quota = v;
	if (cg_read_ll(pid, "cpu", "cpu.cfs_period_us", &v) && v > 0)
		l->cpu_period = (uint64_t)v;
	if (cg_read_ll(pid, "cpu", "cpu.shares", &v) && v > 0)
		l->cpu_shares = (uint64_t)v;
	if (cg_read(pid, "pids", "pids.max", buf, sizeof(buf)) == 0 && strcmp(buf, "max") != 0 &&
	    cg_read_ll(pid, "pids", "pids.max", &v) && v > 0)
		l->pids = v;
	if (cg_read(pid, "cpuset", "cpuset.cpus", buf, sizeof(buf)) == 0)
		snprintf(l->cpus, sizeof(l->cpus), "%s", buf);
	if (cg_read(pid, "cpuset", "cpuset.mems", buf, sizeof(buf)) == 0)
		snprintf(l->mems, sizeof(l->mems), "%s", buf);
}

void pk_cgroup_limits_override(struct pk_cg_limits *l, uint64_t mem, double cpus)
{
	if (mem)
		l->mem = mem;
	if (cpus > 0) {
		if (!l->cpu_period)
			l->cpu_period = CPU_PERIOD_DEFAULT;
		l->cpu_quota = (int64_t)(cpus * (double)l->cpu_period + 0.5);
	}
}

double pk_cgroup_limits_cpus(const struct pk_cg_limits *l)
{
	return l->cpu_quota > 0
		       ? (double)l->cpu_quota /
				 (double)(l->cpu_period ? l->cpu_period : CPU_PERIOD_DEFAULT)
		       : 0;
}

cJSON *pk_cgroup_limits_json(const struct pk_cg_limits *l)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "mem", (double)l->mem);
	cJSON_AddNumberToObject(o, "cpu_quota", (double)l->cpu_quota);
	cJSON_AddNumberToObject(o, "cpu_period", (double)l->cpu_period);
	cJSON_AddNumberToObject(o, "cpu_shares", (double)l->cpu_shares);
	cJSON_AddNumberToObject(o, "pids", (double)l->pids);
	cJSON_AddStringToObject(o, "cpus", l->cpus);
	cJSON_AddStringToObject(o, "mems", l->mems);
	return o;
}

/* A non-negative whole number below 2^53 from o[key], or 0. */
static double json_count(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9007199254740992.0
		       ? v->valuedouble
		       : 0;
}

/* Tells whether s is a cpuset list ("0-3,6"): digits, commas and dashes only. */
static bool cpuset_list(const char *s)
{
	return s && strspn(s, "0123456789,-") == strlen(s);
}

void pk_cgroup_limits_from_json(const cJSON *o, struct pk_cg_limits *l)
{
	const char *cpus = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "cpus"));
	const char *mems = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "mems"));

	memset(l, 0, sizeof(*l));
	if (!cJSON_IsObject(o))
		return;
	l->mem = (uint64_t)json_count(o, "mem");
	l->cpu_quota = (int64_t)json_count(o, "cpu_quota");
	l->cpu_period = (uint64_t)json_count(o, "cpu_period");
	l->cpu_shares = (uint64_t)json_count(o, "cpu_shares");
	l->pids = (int64_t)json_count(o, "pids");
	if (cpuset_list(cpus))
		snprintf(l->cpus, sizeof(l->cpus), "%s", cpus);
	if (cpuset_list(mems))
		snprintf(l->mems, sizeof(l->mems), "%s", mems);
}

/* Replaces object key of parent with a new empty one. */
static cJSON *fresh_object(cJSON *parent, const char *key)
{
	cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
	return cJSON_AddObjectToObject(parent, key);
}

int pk_cgroup_limits_apply(cJSON *spec, const struct pk_cg_limits *l)
{
	cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(spec, "linux");
	cJSON *res, *mem, *cpu, *pids;

	if (!linux_)
		return -EINVAL;
	res = cJSON_GetObjectItemCaseSensitive(linux_, "resources");
	if (!res)
		res = cJSON_AddObjectToObject(linux_, "resources");
	mem = fresh_object(res, "memory");
	if (l->mem)
		cJSON_AddNumberToObject(mem, "limit", (double)l->mem);
	cpu = fresh_object(res, "cpu");
	if (l->cpu_shares)
		cJSON_AddNumberToObject(cpu, "shares", (double)l->cpu_shares);
	if (l->cpu_quota > 0) {
		cJSON_AddNumberToObject(cpu, "quota", (double)l->cpu_quota);
		cJSON_AddNumberToObject(cpu, "period",
					(double)(l->cpu_period ?: CPU_PERIOD_DEFAULT));
	}
	if (l->cpus[0])
		cJSON_AddStringToObject(cpu, "cpus", l->cpus);
	if (l->mems[0])
		cJSON_AddStringToObject(cpu, "mems", l->mems);
	pids = fresh_object(res, "pids");
	cJSON_AddNumberToObject(pids, "limit", l->pids > 0 ? (double)l->pids : 0);
	return 0;
}
