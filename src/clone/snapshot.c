/* snapshot.c — snapshots of a clone and rewinds to them (see clone.h).
 *
 * A snapshot TAG of clone NAME lives in NAME's state directory, snap/TAG/:
 *   img/        CRIU's image of the clone (leave-running, as a clone is made from production)
 *   dump-work/  CRIU's log and statistics
 *   upper/      the clone's overlay upper dir, copied before the dump and again while frozen
 *   volumes/    the same of the clone's copies of production's volumes (a Docker container's)
 *   tmpfs/<i>   copies of the clone's tmpfs mounts (external to the image, as for a clone)
 *   input.pcap  the clone's input from then on, captured in its network namespace
 *   meta.json   tag, time, port, the recorder's pid, the clone's limits, the tmpfs list
 *   recorder.json  what the recorder says when it stops (packets, drops, error)
 * The recorder is a process of its own (forked, in its own session, in the clone's network
 * namespace) so that it outlives the command that took the snapshot.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/live.h"
#include "clone/clone.h"
#include "clone/clone_int.h"
#include "common/clock.h"
#include "common/errbuf.h"
#include "common/proc.h"

#define RECORDER_READY_MS 5000
#define RECORDER_STOP_MS 10000
#define SNAP_IF "eth0"

static volatile sig_atomic_t rec_stop;

static void on_rec_signal(int sig)
{
	rec_stop = sig;
}

/* The clone's state: its directory, meta and running init pid; refuses what is not a running
 * clone.  0 or -errno with a reason. */
static int load_clone(const char *state_dir, const char *name, char dir[PK_PATH_MAX],
		      struct pk_meta *m, int *pid, char *err, size_t errlen)
{
	char status[32];

	if (!pk_name_valid(name) || !pk_state_path(state_dir, name, NULL, dir, PK_PATH_MAX))
		return pk_errbuf_set(-EINVAL, err, errlen, "'%s' is not a valid name", name);
	if (pk_meta_load(dir, m) < 0)
		return pk_errbuf_set(-ENOENT, err, errlen, "no container '%s' under %s", name,
				     state_dir);
	if (strcmp(m->kind, "clone"))
		return pk_errbuf_set(-EPERM, err, errlen,
				     "'%s' is production (a container, not a clone): snapshots "
				     "and rewinds are for clones",
				     name);
	*pid = 0;
	if (pk_runc_state(name, status, sizeof(status), pid) < 0 || strcmp(status, "running") ||
	    *pid <= 0)
		return pk_errbuf_set(-ESRCH, err, errlen, "clone '%s' is not running", name);
	return 0;
}

static bool tag_valid(const char *tag)
{
	return pk_name_valid(tag);
}

/* The single TCP port the clone listens on (its network namespace's /proc/PID/net/tcp and
 * tcp6), or -errno with a reason. */
static int listening_port(int pid, char *err, size_t errlen)
{
	static const char *const files[] = { "tcp", "tcp6" };
	unsigned ports[16];
	size_t n = 0;

	for (size_t k = 0; k < 2; k++) {
		char path[64], line[512];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[k]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned port, st;
			size_t i;

			/* "  0: 0100007F:1F90 00000000:0000 0A ..." */
			if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &port,
				   &st) != 2 ||
			    st != 0x0A)
				continue;
			for (i = 0; i < n && ports[i] != port; i++)
				;
			if (i == n && n < sizeof(ports) / sizeof(ports[0]))
				ports[n++] = port;
		}
		fclose(f);
	}
	if (n == 1)
		return (int)ports[0];
	return pk_errbuf_set(-EINVAL, err, errlen,
			     n ? "the clone listens on %zu TCP ports: say which with -p PORT"
			       : "the clone listens on no TCP port%.0zu: say which with -p PORT",
			     n);
}

/* -EBUSY (err names it) when init pid has a zombie child (an orphan it never reaps: a
 * clone's service is rarely a real init). */
static int check_zombies(int pid, char *err, size_t errlen)
{
	char path[96];
	struct dirent *d;
	DIR *tasks;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	tasks = opendir(path);
	while (tasks && !rc && (d = readdir(tasks))) {
		char line[4096], *p, *end;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/children", pid, d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f))
			for (p = line; !rc; p = end) {
				long child = strtol(p, &end, 10);

				if (end == p)
					break;
				if (child > 0 && kill((pid_t)child, 0) == 0 &&
				    !pk_proc_alive((pid_t)child))
					rc = pk_errbuf_set(
						-EBUSY, err, errlen,
						"process %ld of the clone is a zombie that its "
						"init never reaps: CRIU cannot checkpoint the "
						"clone (make a new clone)",
						child);
			}
		fclose(f);
	}
	if (tasks)
		closedir(tasks);
	return rc;
}

/* -EBUSY (err names it) when a process in the clone's network namespace is ptraced or a
 * zombie: CRIU can checkpoint neither. */
static int check_dumpable(int pid, char *err, size_t errlen)
{
	char path[64];
	struct stat want, st;
	struct dirent *d;
	DIR *proc;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &want) < 0 || !(proc = opendir("/proc")))
		return 0;
	while (!rc && (d = readdir(proc))) {
		unsigned long long tracer = 0;
		int p = atoi(d->d_name);

		snprintf(path, sizeof(path), "/proc/%d/ns/net", p);
		if (p <= 0 || stat(path, &st) < 0 || st.st_ino != want.st_ino ||
		    st.st_dev != want.st_dev)
			continue;
		if (pk_proc_status_field(p, "TracerPid:", 10, &tracer) == 0 && tracer)
			rc = pk_errbuf_set(
				-EBUSY, err, errlen,
				"process %d of the clone is traced by %llu (gdb, strace?): "
				"CRIU cannot checkpoint a traced process; detach it first",
				p, tracer);
	}
	closedir(proc);
	return rc ? rc : check_zombies(pid, err, errlen);
}

/* The recorder, in a child: the clone's network namespace, its input into path until SIGTERM,
 * then what it saw into info.  Never returns. */
static void recorder_main(int pid, uint16_t port, const char *path, const char *info)
{
	struct sigaction sa = { .sa_handler = on_rec_signal };
	struct pk_live_stats st = { 0 };
	char ns[64], err[512] = "";
	cJSON *o;
	char *text;
	int fd, rc;

	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", pid);
	fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		rc = pk_errbuf_set(-errno, err, sizeof(err), "enter %s: %s", ns, strerror(errno));
	else
		rc = pk_live_capture(SNAP_IF, port, path, &rec_stop, &st, err, sizeof(err));
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "packets", (double)st.packets);
	cJSON_AddNumberToObject(o, "dropped", (double)st.dropped);
	cJSON_AddStringToObject(o, "error", rc ? err : "");
	text = cJSON_PrintUnformatted(o);
	fd = text ? open(info, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
	if (fd >= 0) {
		(void)!write(fd, text, strlen(text));
		close(fd);
	}
	_exit(rc ? 1 : 0);
}

/* Starts the recorder of snapshot dir snap; waits until its file exists.  Its pid, or -errno. */
static int recorder_start(int pid, uint16_t port, const char *snap, char *err, size_t errlen)
{
	char path[PK_PATH_MAX], info[PK_PATH_MAX];
	uint64_t deadline = pk_now_ns() + RECORDER_READY_MS * 1000000ull;
	pid_t child;
	struct stat st;

	pk_path(path, sizeof(path), "%s/input.pcap", snap);
	pk_path(info, sizeof(info), "%s/recorder.json", snap);
	fflush(NULL);
	child = fork();
	if (child < 0)
		return pk_errbuf_set(-errno, err, errlen, "start the recorder: %s",
				     strerror(errno));
	if (child == 0)
		recorder_main(pid, port, path, info);
	/* the recorder's own child of ours no more: it is reaped by init once we exit; here it
	 * must have opened its file (capture on) before the checkpoint */
	while (stat(path, &st) < 0) {
		int status;

		if (waitpid(child, &status, WNOHANG) == child) {
			char *why = pk_read_file(info);

			pk_errbuf_set(-EIO, err, errlen, "the recorder failed: %s",
				      why ? why : "no reason given");
			free(why);
			return -EIO;
		}
		if (pk_now_ns() > deadline) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			return pk_errbuf_set(-ETIMEDOUT, err, errlen,
					     "the recorder did not start within %d ms",
					     RECORDER_READY_MS);
		}
		usleep(1000); /* polling a condition with a deadline */
	}
	return child;
}

/* Stops a recorder (SIGTERM, waiting for it with a deadline; it may be our child or not). */
static void recorder_stop(int rpid)
{
	uint64_t deadline = pk_now_ns() + RECORDER_STOP_MS * 1000000ull;

	if (rpid <= 0 || kill(rpid, SIGTERM) < 0)
		return;
	while (pk_proc_alive(rpid) && pk_now_ns() < deadline) {
		if (waitpid(rpid, NULL, WNOHANG) == rpid)
			return;
		usleep(1000); /* polling its exit with a deadline */
	}
	if (pk_proc_alive(rpid))
		kill(rpid, SIGKILL);
	waitpid(rpid, NULL, WNOHANG); /* when it is our child */
}

static cJSON *load_json(const char *path)
{
	char *text = pk_read_file(path);
	cJSON *o = text ? cJSON_Parse(text) : NULL;

	free(text);
	return o;
}

static int save_json(const char *path, cJSON *o)
{
	char *text = cJSON_Print(o);
	FILE *f = text ? fopen(path, "we") : NULL;
	int rc = 0;

	if (!f || fputs(text, f) < 0)
		rc = -EIO;
	if (f && fclose(f))
		rc = -EIO;
	cJSON_free(text);
	return rc;
}

/* The next free tag s1, s2, ... of the snapshots in snaps. */
static void next_tag(const char *snaps, char *tag, size_t len)
{
	char path[PK_PATH_MAX];
	struct stat st;

	for (int i = 1;; i++) {
		snprintf(tag, len, "s%d", i);
		pk_path(path, sizeof(path), "%s/%s", snaps, tag);
		if (stat(path, &st) < 0)
			return;
	}
}

int pk_snapshot_take(const char *state_dir, const char *name, const char *tag_in, uint16_t port_in,
		     struct pk_snapshot_info *out, char *err, size_t errlen)
{
	char dir[PK_PATH_MAX], snaps[PK_PATH_MAX], snap[PK_PATH_MAX], path[PK_PATH_MAX];
	char work[PK_PATH_MAX], upper[PK_PATH_MAX];
	struct pk_tmpfs_set *tmpfs = NULL;
	struct pk_ctr *self = NULL;
	struct pk_volume vols = { .dest = "" };
	struct stat st;
	int nvols = 0;
	struct pk_cg_limits lim;
	struct pk_meta m;
	cJSON *meta = NULL, *arr;
	int pid, port, rpid = -1, rc;
	uint64_t t0 = pk_now_ns();

	memset(out, 0, sizeof(*out));
	rc = load_clone(state_dir, name, dir, &m, &pid, err, errlen);
	if (rc)
		return rc;
	if (tag_in && !tag_valid(tag_in))
		return pk_errbuf_set(-EINVAL, err, errlen, "'%s' is not a valid tag", tag_in);
	port = port_in ? port_in : listening_port(pid, err, errlen);
	if (port < 0)
		return port;
	rc = check_dumpable(pid, err, errlen);
	if (rc)
		return rc;
	pk_path(snaps, sizeof(snaps), "%s/snap", dir);
	if (mkdir(snaps, 0700) < 0 && errno != EEXIST)
		return pk_errbuf_set(-errno, err, errlen, "mkdir %s: %s", snaps, strerror(errno));
	if (tag_in)
		snprintf(out->tag, sizeof(out->tag), "%s", tag_in);
	else
		next_tag(snaps, out->tag, sizeof(out->tag));
	pk_path(snap, sizeof(snap), "%s/%s", snaps, out->tag);
	if (mkdir(snap, 0700) < 0)
		return pk_errbuf_set(-errno, err, errlen, "snapshot %s of %s: %s", out->tag, name,
				     errno == EEXIST ? "exists already" : strerror(errno));
	pk_path(path, sizeof(path), "%s/img", snap);
	pk_path(work, sizeof(work), "%s/dump-work", snap);
	pk_path(upper, sizeof(upper), "%s/upper", snap);
	tmpfs = calloc(1, sizeof(*tmpfs));
	if (!tmpfs) {
		rc = pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
		goto undo;
	}
	if (mkdir(path, 0700) < 0 || mkdir(work, 0700) < 0) {
		rc = pk_errbuf_set(-errno, err, errlen, "prepare the checkpoint: %s",
				   strerror(errno));
		goto undo;
	}
	/* the upper dir (and the copies of production's volumes) once while the clone runs, again
	 * while it is frozen (the dump's hook) */
	pk_path(work, sizeof(work), "%s/upper", dir);
	rc = pk_fs_copy(work, upper, err, errlen);
	pk_path(vols.from, sizeof(vols.from), "%s/volumes", dir);
	pk_path(vols.to, sizeof(vols.to), "%s/volumes", snap);
	if (!rc && stat(vols.from, &st) == 0 && (nvols = 1))
		rc = pk_fs_copy(vols.from, vols.to, err, errlen);
	if (!rc)
		rc = pk_tmpfs_prepare(tmpfs, pid, snap, err, errlen);
	if (rc)
		goto undo;
	pk_cgroup_limits_read(pid, &lim);
	/* record from before the checkpoint: no input after it is missed */
	rpid = recorder_start(pid, (uint16_t)port, snap, err, errlen);
	if (rpid < 0) {
		rc = rpid;
		goto undo;
	}
	pk_path(work, sizeof(work), "%s/dump-work", snap);
	self = calloc(1, sizeof(*self));
	if (!self || pk_ctr_from_meta(dir, &m, pid, self)) {
		rc = pk_errbuf_set(-ENOMEM, err, errlen, "describe %s for the dump", name);
		goto undo;
	}
	rc = pk_criu_dump(
		self, path, work,
		&(struct pk_dump_target){
			.clone_upper = upper, .tmpfs = tmpfs, .volumes = &vols, .nvolumes = nvols },
		err, errlen);
	if (rc) {
		pk_criu_error(work, "dump.log", err, errlen);
		goto undo;
	}
	meta = cJSON_CreateObject();
	cJSON_AddStringToObject(meta, "tag", out->tag);
	cJSON_AddNumberToObject(meta, "created", (double)time(NULL));
	cJSON_AddNumberToObject(meta, "port", port);
	cJSON_AddNumberToObject(meta, "recorder_pid", rpid);
	cJSON_AddItemToObject(meta, "limits", pk_cgroup_limits_json(&lim));
	arr = cJSON_AddArrayToObject(meta, "tmpfs");
	for (int i = 0; arr && i < tmpfs->n; i++) {
		cJSON *t = cJSON_CreateObject();

		cJSON_AddStringToObject(t, "mnt", tmpfs->m[i].mnt);
		cJSON_AddStringToObject(t, "data", tmpfs->m[i].data);
		cJSON_AddBoolToObject(t, "ro", tmpfs->m[i].ro);
		cJSON_AddItemToArray(arr, t);
	}
	pk_path(path, sizeof(path), "%s/meta.json", snap);
	rc = save_json(path, meta);
	if (rc) {
		pk_errbuf_set(rc, err, errlen, "write %s: %s", path, strerror(-rc));
		goto undo;
	}
	out->created = (long long)time(NULL);
	out->port = (uint16_t)port;
	out->recorder_pid = rpid;
	out->recording = true;
	out->ms = (double)(pk_now_ns() - t0) / 1e6;
	cJSON_Delete(meta);
	free(tmpfs);
	free(self);
	return 0;
undo:
	recorder_stop(rpid);
	cJSON_Delete(meta);
	free(tmpfs);
	free(self);
	pk_fs_umount(snap);
	pk_rm_tree(snap);
	return rc;
}

/* Fills info from snapshot directory snap (tag = its name); 0 or -ENOENT. */
static int read_info(const char *snap, const char *tag, struct pk_snapshot_info *info)
{
	char path[PK_PATH_MAX];
	cJSON *meta, *rec;
	struct stat st;

	memset(info, 0, sizeof(*info));
	pk_path(path, sizeof(path), "%s/meta.json", snap);
	meta = load_json(path);
	if (!meta)
		return -ENOENT;
	snprintf(info->tag, sizeof(info->tag), "%s", tag);
	info->created = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(meta, "created"));
	info->port = (uint16_t)cJSON_GetNumberValue(cJSON_GetObjectItem(meta, "port"));
	info->recorder_pid = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(meta, "recorder_pid"));
	cJSON_Delete(meta);
	pk_path(path, sizeof(path), "%s/recorder.json", snap);
	rec = load_json(path);
	info->recording = !rec && pk_proc_alive(info->recorder_pid);
	if (rec) {
		info->dropped = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "dropped"));
		snprintf(info->rec_error, sizeof(info->rec_error), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(rec, "error")) ?: "");
	}
	cJSON_Delete(rec);
	pk_path(path, sizeof(path), "%s/input.pcap", snap);
	info->input_bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

int pk_snapshot_list(const char *state_dir, const char *name, struct pk_snapshot_info **out,
		     size_t *n, char *err, size_t errlen)
{
	char dir[PK_PATH_MAX], snaps[PK_PATH_MAX], snap[PK_PATH_MAX];
	struct pk_meta m;
	struct dirent *d;
	DIR *sd;

	*out = NULL;
	*n = 0;
	if (!pk_name_valid(name) || !pk_state_path(state_dir, name, NULL, dir, sizeof(dir)) ||
	    pk_meta_load(dir, &m) < 0)
		return pk_errbuf_set(-ENOENT, err, errlen, "no container '%s' under %s", name,
				     state_dir);
	pk_path(snaps, sizeof(snaps), "%s/snap", dir);
	sd = opendir(snaps);
	if (!sd)
		return 0;
	while ((d = readdir(sd))) {
		struct pk_snapshot_info *p;

		if (d->d_name[0] == '.')
			continue;
		p = realloc(*out, (*n + 1) * sizeof(**out));
		if (!p) {
			closedir(sd);
			return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
		}
		*out = p;
		pk_path(snap, sizeof(snap), "%s/%s", snaps, d->d_name);
		if (read_info(snap, d->d_name, &p[*n]) == 0)
			(*n)++;
	}
	closedir(sd);
	return 0;
}

int pk_snapshot_rewind(const char *state_dir, const char *name, const char *tag,
		       struct pk_snapshot_info *info, char *input, size_t inlen, char *err,
		       size_t errlen)
{
	char dir[PK_PATH_MAX], snap[PK_PATH_MAX], path[PK_PATH_MAX], conf[PK_PATH_MAX];
	char prod_config[PK_PATH_MAX];
	struct pk_tmpfs_set *tmpfs = NULL;
	struct pk_cg_limits lim = { 0 };
	struct pk_meta m;
	struct stat st;
	cJSON *meta = NULL, *arr, *t;
	int pid, rc;

	rc = load_clone(state_dir, name, dir, &m, &pid, err, errlen);
	if (rc == -ESRCH) /* a clone that died may be rewound too */
		rc = 0;
	if (rc)
		return rc;
	if (!tag_valid(tag))
		return pk_errbuf_set(-EINVAL, err, errlen, "'%s' is not a valid tag", tag);
	pk_path(snap, sizeof(snap), "%s/snap/%s", dir, tag);
	pk_path(path, sizeof(path), "%s/meta.json", snap);
	meta = load_json(path);
	if (!meta)
		return pk_errbuf_set(
			-ENOENT, err, errlen,
			"clone '%s' has no snapshot '%s' (parikshan snapshot %s --list)", name, tag,
			name);
	/* the recording ends here: the input since the snapshot is complete */
	recorder_stop((int)cJSON_GetNumberValue(cJSON_GetObjectItem(meta, "recorder_pid")));
	pk_cgroup_limits_from_json(cJSON_GetObjectItem(meta, "limits"), &lim);
	tmpfs = calloc(1, sizeof(*tmpfs));
	if (!tmpfs) {
		rc = pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	snprintf(tmpfs->dir, sizeof(tmpfs->dir), "%s", snap);
	arr = cJSON_GetObjectItem(meta, "tmpfs");
	cJSON_ArrayForEach(t, arr)
	{
		if (tmpfs->n == PK_TMPFS_MAX)
			break;
		snprintf(tmpfs->m[tmpfs->n].mnt, sizeof(tmpfs->m[0].mnt), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(t, "mnt")) ?: "");
		snprintf(tmpfs->m[tmpfs->n].data, sizeof(tmpfs->m[0].data), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(t, "data")) ?: "");
		tmpfs->m[tmpfs->n].ro = cJSON_IsTrue(cJSON_GetObjectItem(t, "ro"));
		tmpfs->n++;
	}
	/* the clone goes (its network stays), its filesystem back to the snapshot's */
	pk_runc_destroy(name);
	if (m.keeper_pid > 0)
		kill(m.keeper_pid, SIGTERM);
	pk_path(path, sizeof(path), "%s/rootfs", dir);
	if (umount2(path, 0) < 0 && errno == EBUSY)
		umount2(path, MNT_DETACH);
	pk_path(path, sizeof(path), "%s/upper", dir);
	rc = pk_rm_tree(path);
	pk_path(conf, sizeof(conf), "%s/work", dir);
	if (!rc)
		rc = pk_rm_tree(conf);
	if (rc) {
		pk_errbuf_set(rc, err, errlen, "clear the clone's filesystem: %s", strerror(-rc));
		goto out;
	}
	pk_path(conf, sizeof(conf), "%s/upper", snap);
	rc = pk_fs_copy(conf, path, err, errlen);
	if (rc)
		goto out;
	/* the copies of production's volumes, as they were too */
	pk_path(conf, sizeof(conf), "%s/volumes", snap);
	pk_path(path, sizeof(path), "%s/volumes", dir);
	if (stat(conf, &st) == 0 && (rc = pk_fs_mirror(conf, path, err, errlen)))
		goto out; /* (in place: each copy is a mount point, dump.c) */
	/* restored as it was cloned: its own bundle (production's, made the clone's), its limits
	 * and network */
	pk_path(prod_config, sizeof(prod_config), "%s/config.json", dir);
	pk_path(path, sizeof(path), "%s/img", snap);
	rc = pk_clone_restore(dir, &m, prod_config, path, &lim,
			      &(struct pk_restore_extra){ .tmpfs = tmpfs }, err, errlen);
	if (rc)
		goto out;
	if (read_info(snap, tag, info) == 0 && input)
		pk_path(input, inlen, "%s/input.pcap", snap);
out:
	cJSON_Delete(meta);
	free(tmpfs);
	return rc;
}

void pk_snapshot_stop_all(const char *dir)
{
	char snaps[PK_PATH_MAX], snap[PK_PATH_MAX];
	struct dirent *d;
	DIR *sd;

	pk_path(snaps, sizeof(snaps), "%s/snap", dir);
	sd = opendir(snaps);
	if (!sd)
		return;
	while ((d = readdir(sd))) {
		struct pk_snapshot_info info;

		if (d->d_name[0] == '.')
			continue;
		pk_path(snap, sizeof(snap), "%s/%s", snaps, d->d_name);
		if (read_info(snap, d->d_name, &info) == 0 && info.recording)
			recorder_stop(info.recorder_pid);
	}
	closedir(sd);
}
