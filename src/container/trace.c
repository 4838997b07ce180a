/* trace.c — traced containers (`container run --trace`): every process of the container runs
 * with libparikshan_trace.so preloaded, and its records reach logd on the host.
 *
 *   host                                   container (same mount points in a clone)
 *   <lib>  -- bind, read-only ----------->  PK_CONTAINER_TRACE_LIB   (LD_PRELOAD)
 *   <dir of logd's socket> -- bind ------>  the same path            (PARIKSHAN_TRACE_SOCK)
 *
 * The library is bind-mounted rather than copied into the writable layer: a clone's bundle
 * carries the same mounts (runc maps bind mounts for CRIU on restore), so the clone's mappings
 * of the library resolve to the same file.  The socket's directory (not the socket itself: a
 * logd that restarts makes a new socket file) appears at its host path, so that the name a
 * process connected to is the same on both sides.
 */
#include "container/container_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "common/errbuf.h"
#include "parikshan/trace.h"

int pk_container_trace_check(const char *sock, char *err, size_t errlen)
{
	const char *slash = strrchr(sock, '/');
	size_t dirlen = slash ? (size_t)(slash - sock) : 0;

	if (sock[0] != '/')
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "trace socket '%s' is not an absolute path", sock);
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return pk_errbuf_set(-ENAMETOOLONG, err, errlen,
				     "trace socket path is too long (%zu bytes, at most %zu)",
				     strlen(sock), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (dirlen == 0)
		return pk_errbuf_set(
			-EINVAL, err, errlen,
			"trace socket '%s' is in /: its directory is bind-mounted into "
			"the container, give one of its own",
			sock);
	/* the library's mount point must not land inside the host directory mounted over it */
	if (strncmp(PK_CONTAINER_TRACE_LIB, sock, dirlen) == 0 &&
	    PK_CONTAINER_TRACE_LIB[dirlen] == '/')
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "trace socket '%s': its directory would hide %s, give a "
				     "directory of its own",
				     sock, PK_CONTAINER_TRACE_LIB);
	return 0;
}

/* Appends a bind mount of source at destination to the spec's mounts. */
static int add_bind(cJSON *spec, const char *source, const char *destination, bool ro)
{
	cJSON *mounts = cJSON_GetObjectItemCaseSensitive(spec, "mounts");
	cJSON *m, *opts;

	if (!mounts)
		mounts = cJSON_AddArrayToObject(spec, "mounts");
	if (!cJSON_IsArray(mounts) || !(m = cJSON_CreateObject()))
		return -EINVAL;
	cJSON_AddItemToArray(mounts, m);
	cJSON_AddStringToObject(m, "destination", destination);
	cJSON_AddStringToObject(m, "type", "bind");
	cJSON_AddStringToObject(m, "source", source);
	opts = cJSON_AddArrayToObject(m, "options");
	cJSON_AddItemToArray(opts, cJSON_CreateString("bind"));
	cJSON_AddItemToArray(opts, cJSON_CreateString("nosuid"));
	cJSON_AddItemToArray(opts, cJSON_CreateString("nodev"));
	if (ro)
		cJSON_AddItemToArray(opts, cJSON_CreateString("ro"));
	return 0;
}

/* Sets NAME=value in the process's env array (replacing an earlier NAME). */
static int set_env(cJSON *proc, const char *name, const char *value)
{
	cJSON *env = cJSON_GetObjectItemCaseSensitive(proc, "env");
	char kv[PK_PATH_MAX + 64];
	size_t n = strlen(name);
	int i = 0;
	cJSON *e;

	if (!env)
		env = cJSON_AddArrayToObject(proc, "env");
	if (!cJSON_IsArray(env) || pk_path(kv, sizeof(kv), "%s=%s", name, value))
		return -EINVAL;
	cJSON_ArrayForEach(e, env)
	{
		if (cJSON_IsString(e) && strncmp(e->valuestring, name, n) == 0 &&
		    e->valuestring[n] == '=') {
			cJSON_ReplaceItemInArray(env, i, cJSON_CreateString(kv));
			return 0;
		}
		i++;
	}
	cJSON_AddItemToArray(env, cJSON_CreateString(kv));
	return 0;
}

int pk_container_trace_spec(cJSON *spec, const char *lib, const char *sock)
{
	cJSON *proc = cJSON_GetObjectItemCaseSensitive(spec, "process");
	char dir[PK_PATH_MAX];
	const char *slash = strrchr(sock, '/');
	int rc;

	if (!proc || !slash || sock[0] != '/' || lib[0] != '/')
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - sock), sock);
	rc = add_bind(spec, lib, PK_CONTAINER_TRACE_LIB, true);
	if (!rc)
		rc = add_bind(spec, dir, dir, false);
	if (!rc)
		rc = set_env(proc, "LD_PRELOAD", PK_CONTAINER_TRACE_LIB);
	if (!rc)
		rc = set_env(proc, PK_TRACE_ENV_LIB, PK_CONTAINER_TRACE_LIB);
	if (!rc)
		rc = set_env(proc, PK_TRACE_ENV_SOCK, sock);
	return rc;
}

int pk_container_trace_socks(int pid, unsigned long *inos, int max)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/unix", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	/* "Num RefCount Protocol Flags Type St Inode [Path]": a connected (St 03) stream (Type
	 * 0001) socket without a name of its own is a client's end, such as the library's */
	while (fgets(line, sizeof(line), f)) {
		unsigned int type, st;
		unsigned long ino;
		char name[2];

		if (sscanf(line, "%*s %*x %*x %*x %x %x %lu %1s", &type, &st, &ino, name) == 3 &&
		    type == 1 && st == 3 && n < max)
			inos[n++] = ino;
	}
	fclose(f);
	return n;
}
