/* test_container_trace.c — traced containers (trace.c): the socket path checks, the OCI spec edit
 * (bind mounts, env), the listing of a namespace's client Unix sockets, trace_sock in meta.json. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/container_int.h"
#include "parikshan/trace.h"
#include "unit.h"

static void test_check(void)
{
	char err[PK_ERR_MAX], long_path[200];

	CHECK_EQ_INT(pk_container_trace_check("/run/parikshan/trace.sock", err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_container_trace_check("/tmp/a/b/t.sock", err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_container_trace_check("rel/t.sock", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "absolute") != NULL);
	CHECK_EQ_INT(pk_container_trace_check("/t.sock", err, sizeof(err)), -EINVAL);
	/* its directory would be mounted over the library's mount point */
	CHECK_EQ_INT(pk_container_trace_check("/run/t.sock", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(pk_container_trace_check("/run/parikshan-trace/t.sock", err, sizeof(err)),
		     -EINVAL);
	memset(long_path, 'd', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	memcpy(long_path + 100, "/t.sock", 8);
	CHECK_EQ_INT(pk_container_trace_check(long_path, err, sizeof(err)), 0);
	long_path[100] = 'd';
	memcpy(long_path + 101, "/t.sock", 8); /* 108 bytes: one more than sun_path holds */
	CHECK_EQ_INT(pk_container_trace_check(long_path, err, sizeof(err)), -ENAMETOOLONG);
	CHECK(strstr(err, "too long") != NULL);
}

/* The env entry of spec that starts with prefix, or NULL; *count: how many do. */
static const char *env_get(cJSON *spec, const char *prefix, int *count)
{
	cJSON *env = cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "process"), "env"), *e;
	const char *found = NULL;

	*count = 0;
	cJSON_ArrayForEach(e, env)
	{
		if (cJSON_IsString(e) && strncmp(e->valuestring, prefix, strlen(prefix)) == 0) {
			found = e->valuestring;
			(*count)++;
		}
	}
	return found;
}

static void test_spec(void)
{
	cJSON *spec =
		cJSON_Parse("{\"process\": {\"env\": [\"PATH=/bin\", \"LD_PRELOAD=/old.so\"]},"
			    " \"mounts\": [{\"destination\": \"/proc\"}]}");
	cJSON *mounts, *m;
	char *opts;
	int n;

	CHECK(spec != NULL);
	CHECK_EQ_INT(pk_container_trace_spec(spec, "/host/lib/libparikshan_trace.so",
					     "/run/parikshan/trace.sock"),
		     0);
	CHECK_STR(env_get(spec, "LD_PRELOAD=", &n), "LD_PRELOAD=" PK_CONTAINER_TRACE_LIB);
	CHECK_EQ_INT(n, 1);
	CHECK_STR(env_get(spec, PK_TRACE_ENV_LIB "=", &n),
		  PK_TRACE_ENV_LIB "=" PK_CONTAINER_TRACE_LIB);
	CHECK_STR(env_get(spec, PK_TRACE_ENV_SOCK "=", &n),
		  PK_TRACE_ENV_SOCK "=/run/parikshan/trace.sock");
	CHECK_STR(env_get(spec, "PATH=", &n), "PATH=/bin");
	mounts = cJSON_GetObjectItem(spec, "mounts");
	CHECK_EQ_INT(cJSON_GetArraySize(mounts), 3);
	m = cJSON_GetArrayItem(mounts, 1);
	CHECK_STR(cJSON_GetObjectItem(m, "destination")->valuestring, PK_CONTAINER_TRACE_LIB);
	CHECK_STR(cJSON_GetObjectItem(m, "source")->valuestring, "/host/lib/libparikshan_trace.so");
	CHECK_STR(cJSON_GetObjectItem(m, "type")->valuestring, "bind");
	opts = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "options"));
	CHECK(opts && strstr(opts, "\"ro\"") != NULL);
	cJSON_free(opts);
	m = cJSON_GetArrayItem(mounts, 2);
	CHECK_STR(cJSON_GetObjectItem(m, "destination")->valuestring, "/run/parikshan");
	CHECK_STR(cJSON_GetObjectItem(m, "source")->valuestring, "/run/parikshan");
	cJSON_Delete(spec);

	/* no env, no mounts: both made; no process: refused */
	spec = cJSON_Parse("{\"process\": {}}");
	CHECK_EQ_INT(pk_container_trace_spec(spec, "/l.so", "/s/t.sock"), 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(spec, "mounts")), 2);
	CHECK(env_get(spec, "LD_PRELOAD=", &n) != NULL);
	cJSON_Delete(spec);
	spec = cJSON_Parse("{\"mounts\": []}");
	CHECK_EQ_INT(pk_container_trace_spec(spec, "/l.so", "/s/t.sock"), -EINVAL);
	cJSON_Delete(spec);
}

static void test_socks(void)
{
	unsigned long inos[PK_TRACE_SOCKS_MAX];
	struct stat st[2];
	int sv[2], n, seen = 0;

	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_EQ_INT(fstat(sv[0], &st[0]), 0);
	CHECK_EQ_INT(fstat(sv[1], &st[1]), 0);
	n = pk_container_trace_socks(getpid(), inos, PK_TRACE_SOCKS_MAX);
	CHECK(n >= 2);
	for (int i = 0; i < n; i++)
		seen += inos[i] == st[0].st_ino || inos[i] == st[1].st_ino;
	CHECK_EQ_INT(seen, 2);
	CHECK(pk_container_trace_socks(getpid(), inos, 1) == 1);
	CHECK_EQ_INT(pk_container_trace_socks(-1, inos, 1), -ENOENT);
	close(sv[0]);
	close(sv[1]);
}

static void test_meta(void)
{
	char dir[] = "/tmp/pk-clone-trace-test.XXXXXX", path[64];
	struct pk_meta m = { 0 }, got;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(m.name, sizeof(m.name), "web");
	snprintf(m.trace_sock, sizeof(m.trace_sock), "/run/parikshan/trace.sock");
	CHECK_EQ_INT(pk_meta_save(dir, &m), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &got), 0);
	CHECK_STR(got.trace_sock, "/run/parikshan/trace.sock");
	m.trace_sock[0] = '\0'; /* not traced: no key, read back as "" */
	CHECK_EQ_INT(pk_meta_save(dir, &m), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &got), 0);
	CHECK_STR(got.trace_sock, "");
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	UNIT_RUN(test_check);
	UNIT_RUN(test_spec);
	UNIT_RUN(test_socks);
	UNIT_RUN(test_meta);
	return unit_done();
}
