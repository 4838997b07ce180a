/* container.c — `container run/ls/rm/logs`: production containers on runc. */
#include "container/container_int.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Checks that name is usable as a new container.  Returns 0, -EINVAL or -EEXIST. */
static int name_free(const char *state_dir, const char *name, char *err, size_t errlen)
{
	char dir[PK_PATH_MAX], status[32];
	struct pk_meta m = { 0 };
	struct stat st;

	if (!pk_name_valid(name)) {
		snprintf(err, errlen, "'%s' is not a valid name ([a-z0-9][a-z0-9_.-]*, at most %d)",
			 name, PK_NAME_MAX);
		return -EINVAL;
	}
	snprintf(m.name, sizeof(m.name), "%s", name);
	pk_meta_names(&m);
	if (!pk_state_path(state_dir, name, NULL, dir, sizeof(dir)) || stat(dir, &st) == 0 ||
	    pk_netns_exists(m.netns) || pk_runc_state(name, status, sizeof(status), NULL) == 0) {
		snprintf(err, errlen, "'%s' exists already (see 'parikshan container ls')", name);
		return -EEXIST;
	}
	return 0;
}

int pk_container_run(const struct pk_run_opts *o, char *err, size_t errlen)
{
	char dir[PK_PATH_MAX];
	struct pk_meta m = { 0 };
	struct stat st;
	int rc;

	rc = name_free(o->state_dir, o->name, err, errlen);
	if (rc)
		return rc;
	if (stat(o->rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "rootfs '%s' is not a directory", o->rootfs);
		return -ENOTDIR;
	}
	snprintf(m.name, sizeof(m.name), "%s", o->name);
	snprintf(m.kind, sizeof(m.kind), "container");
	if (pk_parse_cidr(o->ip, m.ip, sizeof(m.ip), &m.prefix, m.gw, sizeof(m.gw)) < 0) {
		snprintf(err, errlen, "--ip '%s' is not ADDR/PREFIX (IPv4, prefix 8..30)", o->ip);
		return -EINVAL;
	}
	if (!realpath(o->rootfs, m.lower)) {
		int e = errno;

		snprintf(err, errlen, "rootfs '%s': %s", o->rootfs, strerror(e));
		return -e;
	}
	if (o->trace_lib) {
		rc = pk_container_trace_check(o->trace_sock, err, errlen);
		if (rc)
			return rc;
		snprintf(m.trace_sock, sizeof(m.trace_sock), "%s", o->trace_sock);
	}
	pk_meta_names(&m);
	m.created = (long long)time(NULL);
	rc = pk_state_create(o->state_dir, &m, dir, sizeof(dir), err, errlen);
	if (rc)
		return rc;
	rc = pk_fs_mount(dir, m.lower, err, errlen);
	if (rc)
		goto undo_dir;
	rc = pk_net_create_container(&m, err, errlen);
	if (rc)
		goto undo_mount;
	rc = pk_runc_bundle(dir, &m, o, err, errlen);
	if (rc)
		goto undo_net;
	rc = pk_runc_start(dir, o->name, NULL, &m.keeper_pid, err, errlen);
	if (rc)
		goto undo_runc;
	rc = pk_meta_save(dir, &m);
	if (rc) {
		snprintf(err, errlen, "write %s/meta.json: %s", dir, strerror(-rc));
		goto undo_runc;
	}
	return 0;
undo_runc:
	pk_runc_destroy(o->name);
undo_net:
	pk_net_remove(&m);
undo_mount:
	pk_fs_umount(dir);
undo_dir:
	pk_rm_tree(dir);
	return rc;
}

int pk_container_rm(const char *state_dir, const char *name, char *err, size_t errlen)
{
	char dir[PK_PATH_MAX];
	struct pk_meta m = { 0 };
	struct stat st;
	int rc;

	if (!pk_name_valid(name)) {
		snprintf(err, errlen, "'%s' is not a valid name", name);
		return -EINVAL;
	}
	pk_state_path(state_dir, name, NULL, dir, sizeof(dir));
	rc = pk_meta_load(dir, &m);
	if (rc == -ENOENT && stat(dir, &st) < 0) {
		snprintf(err, errlen, "no container '%s' under %s", name, state_dir);
		return -ENOENT;
	}
	if (rc) { /* damaged state: derive what it would have made, and remove that */
		memset(&m, 0, sizeof(m));
		snprintf(m.name, sizeof(m.name), "%s", name);
		pk_meta_names(&m);
	}
	pk_runc_destroy(name);
	if (m.keeper_pid > 0)
		kill(m.keeper_pid, SIGTERM); /* normally gone already: its pipes closed */
	pk_net_remove(&m);
	pk_fs_umount(dir);
	rc = pk_rm_tree(dir);
	if (rc) {
		snprintf(err, errlen, "remove %s: %s", dir, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Live status: runc's, or "missing" when runc lost it (a crashed or rebooted run). */
static void live_status(const struct pk_meta *m, char *status, size_t len, int *pid)
{
	*pid = 0;
	if (pk_runc_state(m->name, status, len, pid) < 0)
		snprintf(status, len, "missing");
}

int pk_container_info(const char *state_dir, const char *name, struct pk_container_info *info)
{
	char dir[PK_PATH_MAX];
	struct pk_meta m;
	int rc;

	if (!pk_name_valid(name) || !pk_state_path(state_dir, name, NULL, dir, sizeof(dir)))
		return -EINVAL;
	rc = pk_meta_load(dir, &m);
	if (rc)
		return rc;
	memset(info, 0, sizeof(*info));
	snprintf(info->kind, sizeof(info->kind), "%s", m.kind);
	snprintf(info->parent, sizeof(info->parent), "%s", m.parent);
	snprintf(info->ip, sizeof(info->ip), "%s", m.ip);
	snprintf(info->mgmt, sizeof(info->mgmt), "%s", m.mgmt);
	snprintf(info->trace_sock, sizeof(info->trace_sock), "%s", m.trace_sock);
	live_status(&m, info->status, sizeof(info->status), &info->pid);
	return 0;
}

/* The other engines' running containers, which can be cloned by their reference: rows of the
 * table (kind: the engine), or objects of arr. */
static void list_foreign(bool json, cJSON *arr, struct pk_strbuf *out)
{
	struct pk_ctr_brief *b;
	size_t n;

	pk_ctr_list_foreign(&b, &n);
	for (size_t i = 0; i < n; i++) {
		char kind[16];

		snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(b[i].ref, ":"), b[i].ref);
		if (json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", b[i].ref);
			cJSON_AddStringToObject(o, "kind", kind);
			cJSON_AddStringToObject(o, "image", b[i].image);
			cJSON_AddStringToObject(o, "ip", b[i].ip);
			cJSON_AddStringToObject(o, "status", b[i].status);
			cJSON_AddItemToArray(arr, o);
		} else {
			pk_strbuf_printf(out, "%-20s %-9s %-20s %-15s %-15s %-10s %-8s %s\n",
					 b[i].ref, kind, "-", b[i].ip[0] ? b[i].ip : "-", "-",
					 b[i].status, "-", "-");
		}
	}
	free(b);
}

int pk_container_list(const char *state_dir, bool json, struct pk_strbuf *out)
{
	DIR *d = opendir(state_dir);
	cJSON *arr = cJSON_CreateArray();
	struct dirent *e;
	char *text;

	if (!json)
		pk_strbuf_printf(out, "%-20s %-9s %-20s %-15s %-15s %-10s %-8s %s\n", "NAME",
				 "KIND", "PARENT", "SERVICE-IP", "MGMT-IP", "STATUS", "PID",
				 "TRACE");
	while (d && (e = readdir(d))) {
		char dir[PK_PATH_MAX], status[32];
		struct pk_meta m;
		int pid;

		if (e->d_name[0] == '.' ||
		    !pk_state_path(state_dir, e->d_name, NULL, dir, sizeof(dir)))
			continue;
		if (pk_meta_load(dir, &m) < 0) {
			snprintf(m.name, sizeof(m.name), "%.32s", e->d_name);
			snprintf(m.kind, sizeof(m.kind), "?");
			m.parent[0] = m.ip[0] = m.mgmt[0] = m.trace_sock[0] = '\0';
			snprintf(status, sizeof(status), "damaged");
			pid = 0;
		} else {
			live_status(&m, status, sizeof(status), &pid);
		}
		if (json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", m.name);
			cJSON_AddStringToObject(o, "kind", m.kind);
			cJSON_AddStringToObject(o, "parent", m.parent);
			cJSON_AddStringToObject(o, "ip", m.ip);
			cJSON_AddStringToObject(o, "mgmt", m.mgmt);
			cJSON_AddStringToObject(o, "status", status);
			cJSON_AddNumberToObject(o, "pid", pid);
			cJSON_AddBoolToObject(o, "traced", m.trace_sock[0] != '\0');
			if (m.trace_sock[0])
				cJSON_AddStringToObject(o, "trace_sock", m.trace_sock);
			/* what the clone's firewall rejected or dropped */
			if (strcmp(m.kind, "clone") == 0 && pk_netns_exists(m.netns))
				cJSON_AddNumberToObject(o, "blocked_packets",
							(double)pk_net_blocked(&m));
			cJSON_AddItemToArray(arr, o);
		} else {
			pk_strbuf_printf(out, "%-20s %-9s %-20s %-15s %-15s %-10s %-8d %s\n",
					 m.name, m.kind, m.parent[0] ? m.parent : "-",
					 m.ip[0] ? m.ip : "-", m.mgmt[0] ? m.mgmt : "-", status,
					 pid, m.trace_sock[0] ? m.trace_sock : "-");
		}
	}
	if (d)
		closedir(d);
	list_foreign(json, arr, out);
	if (json) {
		text = cJSON_Print(arr);
		if (text)
			pk_strbuf_printf(out, "%s\n", text);
		cJSON_free(text);
	}
	cJSON_Delete(arr);
	return 0;
}

int pk_container_logs(const char *state_dir, const char *name, char *err, size_t errlen)
{
	const char *files[2] = { "stdout.log", "stderr.log" };
	char dir[PK_PATH_MAX], path[PK_PATH_MAX + 16], buf[16384];
	struct stat st;

	if (!pk_name_valid(name) || !pk_state_path(state_dir, name, NULL, dir, sizeof(dir)) ||
	    stat(dir, &st) < 0) {
		snprintf(err, errlen, "no container '%s' under %s", name, state_dir);
		return -ENOENT;
	}
	for (int i = 0; i < 2; i++) {
		int fd;
		ssize_t n;

		pk_path(path, sizeof(path), "%s/%s", dir, files[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(1 + i, buf, (size_t)n) != n)
				break;
		close(fd);
	}
	return 0;
}
