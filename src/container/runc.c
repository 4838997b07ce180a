/* runc.c — OCI bundles and the runc driver, and the keeper that owns a container's stdio. */
#include "container/container_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc.h"

#define LOG_MAX (64ll << 20)  /* each kept log stops growing here */
#define RUNC_ROOT "/run/runc" /* runc's default --root, which we never change */
#define START_TIMEOUT_S 60

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = -EIO;
	close(fd);
	return err;
}

/* Points the spec's network namespace at m's, and its CRIU config at dir/criu.conf (runc reads
 * that file, through the annotation, on checkpoint and restore). */
static int set_netns_and_criu(cJSON *spec, const char *dir, const struct pk_meta *m)
{
	cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(spec, "linux");
	cJSON *nss = linux_ ? cJSON_GetObjectItemCaseSensitive(linux_, "namespaces") : NULL;
	cJSON *ns, *ann;
	char path[PK_PATH_MAX];

	if (!nss)
		return -EINVAL;
	cJSON_ArrayForEach(ns, nss)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(ns, "type");

		if (cJSON_IsString(type) && strcmp(type->valuestring, "network") == 0) {
			pk_path(path, sizeof(path), "/var/run/netns/%s", m->netns);
			cJSON_DeleteItemFromObject(ns, "path");
			cJSON_AddStringToObject(ns, "path", path);
		}
	}
	pk_path(path, sizeof(path), "%s/criu.conf", dir);
	cJSON_DeleteItemFromObject(spec, "annotations");
	ann = cJSON_AddObjectToObject(spec, "annotations");
	cJSON_AddStringToObject(ann, "org.criu.config", path);
	return 0;
}

/* Docker's default capability set: what services (nginx chowns its temp dirs, mariadb switches
 * user) expect of a container; runc's own default is only three capabilities. */
static void set_capabilities(cJSON *proc)
{
	static const char *const caps[] = {
		"CAP_CHOWN",	   "CAP_DAC_OVERRIDE", "CAP_FOWNER",
		"CAP_FSETID",	   "CAP_KILL",	       "CAP_SETGID",
		"CAP_SETUID",	   "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE",
		"CAP_NET_RAW",	   "CAP_SYS_CHROOT",   "CAP_MKNOD",
		"CAP_AUDIT_WRITE", "CAP_SETFCAP",
	};
	static const char *const sets[] = { "bounding", "effective", "permitted" };
	cJSON *c = cJSON_CreateObject();

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		cJSON_AddItemToObject(
			c, sets[i], cJSON_CreateStringArray(caps, sizeof(caps) / sizeof(caps[0])));
	cJSON_ReplaceItemInObject(proc, "capabilities", c);
}

/* Our changes to runc's default spec. */
static int edit_spec(cJSON *spec, const char *dir, const struct pk_meta *m,
		     const struct pk_run_opts *o)
{
	cJSON *root = cJSON_GetObjectItemCaseSensitive(spec, "root");
	cJSON *proc = cJSON_GetObjectItemCaseSensitive(spec, "process");
	cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(spec, "linux");
	cJSON *args, *rl, *res, *mem, *nofile;
	struct rlimit lim;

	if (!root || !proc || !linux_)
		return -EINVAL;
	cJSON_ReplaceItemInObject(root, "path", cJSON_CreateString("rootfs"));
	cJSON_ReplaceItemInObject(root, "readonly", cJSON_CreateFalse());
	cJSON_ReplaceItemInObject(proc, "terminal", cJSON_CreateFalse());
	args = cJSON_CreateArray();
	for (char **a = o->argv; a && *a; a++)
		cJSON_AddItemToArray(args, cJSON_CreateString(*a));
	cJSON_ReplaceItemInObject(proc, "args", args);
	/* Servers want many fds (redis asks for 10032): give what the caller may have. */
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
		rl = cJSON_CreateArray();
		nofile = cJSON_CreateObject();
		cJSON_AddStringToObject(nofile, "type", "RLIMIT_NOFILE");
		cJSON_AddNumberToObject(nofile, "hard", (double)lim.rlim_max);
		cJSON_AddNumberToObject(nofile, "soft", (double)lim.rlim_max);
		cJSON_AddItemToArray(rl, nofile);
		cJSON_ReplaceItemInObject(proc, "rlimits", rl);
	}
	cJSON_ReplaceItemInObject(spec, "hostname", cJSON_CreateString(m->name));
	set_capabilities(proc);
	if (o->mem_limit) {
		res = cJSON_GetObjectItemCaseSensitive(linux_, "resources");
		if (!res)
			res = cJSON_AddObjectToObject(linux_, "resources");
		cJSON_DeleteItemFromObject(res, "memory");
		mem = cJSON_AddObjectToObject(res, "memory");
		cJSON_AddNumberToObject(mem, "limit", (double)o->mem_limit);
	}
	if (o->trace_lib && pk_container_trace_spec(spec, o->trace_lib, o->trace_sock))
		return -EINVAL;
	return set_netns_and_criu(spec, dir, m);
}

#define BIND_COPY_MAX (16ll << 20) /* a bound file larger than this stays shared (read-only) */

/* A clone's own copy of each regular file production has bind-mounted (Docker's resolv.conf,
 * hostname and hosts; the tracing library), into dir/files/: the clone never writes production's
 * files, and needs none of the engine's after production is removed.  0 or -errno. */
static int copy_file_binds(cJSON *spec, const char *dir, char *err, size_t errlen)
{
	cJSON *mounts = cJSON_GetObjectItemCaseSensitive(spec, "mounts"), *mnt;
	char files[PK_PATH_MAX], path[PK_PATH_MAX];
	int i = 0, rc;

	pk_path(files, sizeof(files), "%s/files", dir);
	cJSON_ArrayForEach(mnt, mounts)
	{
		const char *type =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mnt, "type"));
		const char *src =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mnt, "source"));
		const char *base;
		struct stat st;

		if (!type || strcmp(type, "bind") != 0 || !src || src[0] != '/' ||
		    stat(src, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > BIND_COPY_MAX ||
		    (!strncmp(src, files, strlen(files)) && src[strlen(files)] == '/'))
			continue; /* (a rewind's config: the copies are there already) */
		if (mkdir(files, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "mkdir %s: %s", files, strerror(-rc));
			return rc;
		}
		base = strrchr(src, '/') + 1;
		rc = pk_path(path, sizeof(path), "%s/%d-%s", files, i++, base);
		if (rc) {
			snprintf(err, errlen, "copy of %s: path too long", src);
			return rc;
		}
		rc = pk_fs_copy(src, path, err, errlen);
		if (rc)
			return rc;
		cJSON_ReplaceItemInObject(mnt, "source", cJSON_CreateString(path));
	}
	return 0;
}

/* Production's OCI config made a clone's: its root is the clone's overlay (dir/rootfs), the
 * engine's hooks go (Docker's would set up production's network again), runc names the clone's
 * cgroups after the clone (not production's cgroupsPath), bound files and the volumes of vols
 * are the clone's copies. */
static int clone_spec(cJSON *spec, const char *dir, const struct pk_volume *vols, int nvols,
		      char *err, size_t errlen)
{
	cJSON *root = cJSON_GetObjectItemCaseSensitive(spec, "root");
	cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(spec, "linux");
	cJSON *mnt;

	if (!cJSON_IsObject(root) || !cJSON_IsObject(linux_))
		return -EINVAL;
	cJSON_ArrayForEach(mnt, cJSON_GetObjectItemCaseSensitive(spec, "mounts"))
	{
		const char *dst =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mnt, "destination"));

		for (int i = 0; dst && i < nvols; i++)
			if (!strcmp(dst, vols[i].dest))
				cJSON_ReplaceItemInObject(mnt, "source",
							  cJSON_CreateString(vols[i].to));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, "path");
	cJSON_AddStringToObject(root, "path", "rootfs");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "hooks");
	cJSON_DeleteItemFromObjectCaseSensitive(linux_, "cgroupsPath");
	return copy_file_binds(spec, dir, err, errlen);
}

/* CRIU's options for `runc restore` (runc reads this file through the annotation, and it
 * overrides what runc asks for): never take TCP connections along, no iptables lock, fcntl locks
 * (databases) restored on the clone's own files, bind mounts mapped automatically as the dump
 * (dump.c) declared them, and cgroups left alone: the image names production's cgroups, and
 * CRIU would move the restored processes there (charging the clone's memory to production's
 * limit); left alone, they stay where runc put CRIU, in the cgroups it made for the clone.
 * ext-unix-sk: a traced container's connections to logd, dumped as external (dump.c), are
 * connected again to logd's socket by its name (harmless when an image has none). */
static int write_criu_conf(const char *dir)
{
	char path[PK_PATH_MAX];

	pk_path(path, sizeof(path), "%s/criu.conf", dir);
	return write_file(path, "tcp-close\nnetwork-lock skip\nfile-locks\next-mount-map auto\n"
				"enable-external-sharing\nenable-external-masters\n"
				"manage-cgroups=ignore\next-unix-sk\n");
}

/* Loads src_config, applies edit (o's command, limits and tracing for a new container; else the
 * network namespace and the limits lim of a clone), writes dir/config.json and dir/criu.conf.
 * Returns 0 or -errno. */
static int write_bundle(const char *src_config, const char *dir, const struct pk_meta *m,
			const struct pk_run_opts *o, const struct pk_cg_limits *lim,
			const struct pk_volume *vols, int nvols, char *err, size_t errlen)
{
	char path[PK_PATH_MAX];
	char *text = pk_read_file(src_config);
	cJSON *spec = text ? cJSON_Parse(text) : NULL;
	int rc;

	free(text);
	if (!spec)
		rc = -EINVAL;
	else if (!lim)
		rc = edit_spec(spec, dir, m, o);
	else if (!(rc = pk_cgroup_limits_apply(spec, lim)) &&
		 !(rc = set_netns_and_criu(spec, dir, m)))
		rc = clone_spec(spec, dir, vols, nvols, err, errlen);
	if (rc) {
		cJSON_Delete(spec);
		if (rc == -EINVAL)
			snprintf(err, errlen, "%s: not an OCI config we can use", src_config);
		return rc;
	}
	text = cJSON_Print(spec);
	cJSON_Delete(spec);
	pk_path(path, sizeof(path), "%s/config.json", dir);
	rc = text ? write_file(path, text) : -ENOMEM;
	cJSON_free(text);
	if (!rc)
		rc = write_criu_conf(dir);
	if (rc)
		snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
	return rc;
}

int pk_runc_bundle(const char *dir, const struct pk_meta *m, const struct pk_run_opts *o, char *err,
		   size_t errlen)
{
	char path[PK_PATH_MAX];
	int rc;

	pk_path(path, sizeof(path), "%s/config.json", dir);
	unlink(path);
	rc = pk_proc_check((char *[]){ "runc", "spec", "--bundle", (char *)dir, NULL },
			   PK_CMD_TIMEOUT_MS, err, errlen);
	return rc ? rc : write_bundle(path, dir, m, o, NULL, NULL, 0, err, errlen);
}

int pk_runc_bundle_from(const char *src_config, const char *dir, const struct pk_meta *m,
			const struct pk_cg_limits *lim, const struct pk_volume *vols, int n,
			char *err, size_t errlen)
{
	return write_bundle(src_config, dir, m, NULL, lim, vols, n, err, errlen);
}

/* The keeper: copies the container's stdout and stderr pipes into the logs until both end. */
static void keep_logs(const char *dir, int out, int errfd)
{
	char path[PK_PATH_MAX], buf[16384];
	int fds[2] = { out, errfd }, logs[2];
	long long written[2] = { 0, 0 };
	const char *names[2] = { "stdout.log", "stderr.log" };
	int open_count = 2;

	for (int i = 0; i < 2; i++) {
		pk_path(path, sizeof(path), "%s/%s", dir, names[i]);
		logs[i] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	}
	while (open_count > 0) {
		struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN },
				       { .fd = fds[1], .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(fds[i], buf, sizeof(buf));
			if (n <= 0) {
				close(fds[i]);
				fds[i] = -1;
				open_count--;
				continue;
			}
			if (logs[i] >= 0 && written[i] < LOG_MAX &&
			    write(logs[i], buf, (size_t)n) == n)
				written[i] += n;
		}
	}
}

/* Runs in the keeper (a session leader of its own): starts runc with stdio on pipes, reports
 * runc's exit status on status_fd, then keeps the logs.  Never returns. */
static void keeper_main(const char *dir, char *const argv[], int status_fd)
{
	int in[2], out[2], errp[2], st = 0, devnull, msg[2];
	pid_t pid;

	setsid();
	signal(SIGPIPE, SIG_IGN);
	/* Let go of the caller's terminal or pipes: a shell waiting on them must not wait on us. */
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		_exit(1);
	/* stdin is a pipe the keeper holds open and never writes (not the host's /dev/null: CRIU
	 * cannot dump a file on a host mount the container does not have). */
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		_exit(1);
	pid = fork();
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0 ||
		    chdir(dir) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	if (pid < 0)
		st = 127 << 8;
	else
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	msg[0] = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	msg[1] = (int)getpid();
	/* When runc failed, nothing else holds the pipes: drain its complaint into the logs first,
	 * so that the caller finds it there. */
	if (msg[0] != 0)
		keep_logs(dir, out[0], errp[0]);
	if (write(status_fd, msg, sizeof(msg)) != sizeof(msg))
		_exit(1);
	close(status_fd);
	if (msg[0] == 0)
		keep_logs(dir, out[0], errp[0]);
	_exit(0);
}

/* Copies the last line of dir/stderr.log (runc's complaint) into err. */
static void last_log_line(const char *dir, char *err, size_t errlen, const char *what)
{
	char path[PK_PATH_MAX];
	char *text, *end, *line;

	pk_path(path, sizeof(path), "%s/stderr.log", dir);
	text = pk_read_file(path);
	if (!text) {
		snprintf(err, errlen, "%s failed", what);
		return;
	}
	end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	line = strrchr(text, '\n');
	snprintf(err, errlen, "%s failed: %s", what, line ? line + 1 : text);
	free(text);
}

int pk_runc_start(const char *dir, const char *name, const char *image_dir, int *keeper_pid,
		  char *err, size_t errlen)
{
	char pidfile[PK_PATH_MAX], work[PK_PATH_MAX];
	char *run_argv[] = { "runc",	   "run",   "--detach",	  "--bundle", (char *)dir,
			     "--pid-file", pidfile, (char *)name, NULL };
	char *restore_argv[] = { "runc",      "restore",      "--detach",	 "--bundle",
				 (char *)dir, "--image-path", (char *)image_dir, "--work-path",
				 work,	      "--pid-file",   pidfile,		 (char *)name,
				 NULL };
	int sp[2], kp[2], msg[2] = { -1, 0 };
	pid_t pid, keeper = -1;
	struct pollfd p;

	pk_path(pidfile, sizeof(pidfile), "%s/init.pid", dir);
	pk_path(work, sizeof(work), "%s/restore-work", dir);
	if (pipe2(sp, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(kp, O_CLOEXEC) < 0) {
		close(sp[0]);
		close(sp[1]);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		close(kp[0]);
		close(kp[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sp[0]);
		close(kp[0]);
		/* The keeper is a grandchild: reparented to init, never a zombie. */
		keeper = fork();
		if (keeper == 0) {
			close(kp[1]);
			keeper_main(dir, image_dir ? restore_argv : run_argv, sp[1]);
		}
		/* The keeper's pid on a pipe of its own: the keeper may report on sp first. */
		_exit(write(kp[1], &keeper, sizeof(keeper)) == sizeof(keeper) ? 0 : 1);
	}
	close(sp[1]);
	close(kp[1]);
	waitpid(pid, NULL, 0);
	if (read(kp[0], &keeper, sizeof(keeper)) != sizeof(keeper))
		keeper = -1;
	close(kp[0]);
	p = (struct pollfd){ .fd = sp[0], .events = POLLIN };
	if (poll(&p, 1, START_TIMEOUT_S * 1000) != 1 ||
	    read(sp[0], msg, sizeof(msg)) != sizeof(msg)) {
		msg[0] = -1;
		/* runc never answered (a restore whose CRIU was killed can hang in runc): end the
		 * keeper's session, runc with it, so that nothing of this start lives on. */
		if (keeper > 1)
			kill(-keeper, SIGKILL);
	}
	close(sp[0]);
	*keeper_pid = msg[1];
	if (msg[0] != 0) {
		last_log_line(dir, err, errlen, image_dir ? "runc restore" : "runc run");
		return -EIO;
	}
	return 0;
}

int pk_runc_state(const char *name, char *status, size_t len, int *pid)
{
	struct pk_strbuf out = { 0 };
	int rc = pk_proc_run((char *[]){ "runc", "state", (char *)name, NULL }, PK_CMD_TIMEOUT_MS,
			     &out);
	cJSON *o = rc == 0 ? cJSON_Parse(pk_strbuf_str(&out)) : NULL;
	const cJSON *s = o ? cJSON_GetObjectItemCaseSensitive(o, "status") : NULL;
	const cJSON *p = o ? cJSON_GetObjectItemCaseSensitive(o, "pid") : NULL;

	pk_strbuf_release(&out);
	if (!cJSON_IsString(s)) {
		cJSON_Delete(o);
		return -ENOENT;
	}
	snprintf(status, len, "%s", s->valuestring);
	if (pid)
		*pid = cJSON_IsNumber(p) ? p->valueint : 0;
	cJSON_Delete(o);
	return 0;
}

void pk_runc_destroy(const char *name)
{
	char status[32], criu_root[PK_PATH_MAX];

	if (pk_runc_state(name, status, sizeof(status), NULL) == 0)
		pk_proc_run((char *[]){ "runc", "kill", (char *)name, "KILL", NULL },
			    PK_CMD_TIMEOUT_MS, NULL);
	/* A restore whose CRIU was killed leaves runc's directory without a state.json (runc
	 * state fails) and the rootfs still mounted at criu-root inside it; delete --force removes
	 * such a directory once that mount is gone. */
	pk_path(criu_root, sizeof(criu_root), "%s/%s/criu-root", RUNC_ROOT, name);
	umount2(criu_root, MNT_DETACH); /* best effort: usually not mounted */
	pk_proc_run((char *[]){ "runc", "delete", "--force", (char *)name, NULL },
		    PK_CMD_TIMEOUT_MS, NULL);
}
