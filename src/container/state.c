/* state.c — the state directory: names, paths, meta.json, address allocation. */
#include "container/container_int.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pk_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *pk_state_dir_default(void)
{
	const char *e = getenv(PK_STATE_DIR_ENV);

	return e && *e ? e : PK_STATE_DIR;
}

bool pk_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > PK_NAME_MAX ||
	    !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

const char *pk_state_path(const char *state_dir, const char *name, const char *file, char *buf,
			  size_t len)
{
	int n = file ? snprintf(buf, len, "%s/%s/%s", state_dir, name, file)
		     : snprintf(buf, len, "%s/%s", state_dir, name);

	return n < 0 || (size_t)n >= len ? NULL : buf;
}

void pk_meta_names(struct pk_meta *m)
{
	uint32_t h = 2166136261u; /* FNV-1a: a short, stable veth name (IFNAMSIZ is 16) */

	for (const char *p = m->name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(m->netns, sizeof(m->netns), "pk-%s", m->name);
	snprintf(m->veth, sizeof(m->veth), "pkh%08x", h);
}

int pk_meta_save(const char *dir, const struct pk_meta *m)
{
	char path[PK_PATH_MAX], tmp[PK_PATH_MAX];
	cJSON *o = cJSON_CreateObject();
	char *text;
	int fd, err = 0;
	size_t len;

	if (!o)
		return -ENOMEM;
	cJSON_AddStringToObject(o, "name", m->name);
	cJSON_AddStringToObject(o, "kind", m->kind);
	cJSON_AddStringToObject(o, "parent", m->parent);
	cJSON_AddStringToObject(o, "ip", m->ip);
	cJSON_AddNumberToObject(o, "prefix", m->prefix);
	cJSON_AddStringToObject(o, "gateway", m->gw);
	cJSON_AddStringToObject(o, "mgmt", m->mgmt);
	cJSON_AddStringToObject(o, "netns", m->netns);
	cJSON_AddStringToObject(o, "veth", m->veth);
	cJSON_AddStringToObject(o, "lower", m->lower);
	cJSON_AddNumberToObject(o, "created", (double)m->created);
	cJSON_AddNumberToObject(o, "keeper_pid", m->keeper_pid);
	if (m->trace_sock[0])
		cJSON_AddStringToObject(o, "trace_sock", m->trace_sock);
	text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/.meta.json.tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
out:
	cJSON_free(text);
	return err;
}

int pk_state_create(const char *state_dir, const struct pk_meta *m, char *dir, size_t dirlen,
		    char *err, size_t errlen)
{
	int rc;

	if (mkdir(state_dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "state dir %s: %s", state_dir, strerror(-rc));
		return rc;
	}
	if (!pk_state_path(state_dir, m->name, NULL, dir, dirlen))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755) < 0) {
		rc = -errno;
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = pk_meta_save(dir, m);
	if (rc) {
		snprintf(err, errlen, "write %s/meta.json: %s", dir, strerror(-rc));
		pk_rm_tree(dir);
	}
	return rc;
}

char *pk_read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size > (16 << 20) ||
	    !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		errno = errno ? errno : EFBIG;
		return NULL;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static void copy_str(cJSON *o, const char *key, char *dst, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int pk_meta_load(const char *dir, struct pk_meta *m)
{
	char path[PK_PATH_MAX], *text;
	const cJSON *v;
	cJSON *o;

	snprintf(path, sizeof(path), "%s/meta.json", dir);
	text = pk_read_file(path);
	if (!text)
		return errno == EFBIG || errno == EIO ? -EINVAL : -errno;
	o = cJSON_Parse(text);
	free(text);
	if (!o)
		return -EINVAL;
	v = cJSON_GetObjectItemCaseSensitive(o, "name");
	if (!cJSON_IsString(v) || !pk_name_valid(v->valuestring)) { /* never a cut-down name */
		cJSON_Delete(o);
		return -EINVAL;
	}
	memset(m, 0, sizeof(*m));
	copy_str(o, "name", m->name, sizeof(m->name));
	copy_str(o, "kind", m->kind, sizeof(m->kind));
	copy_str(o, "parent", m->parent, sizeof(m->parent));
	copy_str(o, "ip", m->ip, sizeof(m->ip));
	copy_str(o, "gateway", m->gw, sizeof(m->gw));
	copy_str(o, "mgmt", m->mgmt, sizeof(m->mgmt));
	copy_str(o, "netns", m->netns, sizeof(m->netns));
	copy_str(o, "veth", m->veth, sizeof(m->veth));
	copy_str(o, "lower", m->lower, sizeof(m->lower));
	copy_str(o, "trace_sock", m->trace_sock, sizeof(m->trace_sock));
	v = cJSON_GetObjectItemCaseSensitive(o, "prefix");
	m->prefix = cJSON_IsNumber(v) ? v->valueint : 0;
	v = cJSON_GetObjectItemCaseSensitive(o, "created");
	m->created = cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
	v = cJSON_GetObjectItemCaseSensitive(o, "keeper_pid");
	m->keeper_pid = cJSON_IsNumber(v) ? v->valueint : 0;
	cJSON_Delete(o);
	return m->name[0] && pk_name_valid(m->name) ? 0 : -EINVAL;
}

int pk_parse_cidr(const char *s, char *ip, size_t iplen, int *prefix, char *gw, size_t gwlen)
{
	char addr[32];
	const char *slash = strchr(s, '/');
	struct in_addr a, g;
	uint32_t h, mask, net, first, last;
	char *end;
	long p;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		return -EINVAL;
	if (!isdigit((unsigned char)slash[1]))
		return -EINVAL;
	errno = 0;
	p = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || p < 8 || p > 30)
		return -EINVAL;
	h = ntohl(a.s_addr);
	mask = 0xffffffffu << (32 - p);
	net = h & mask;
	first = net + 1;
	last = (net | ~mask) - 1;
	if (h == net || h == (net | ~mask))
		return -EINVAL; /* network or broadcast address */
	g.s_addr = htonl(h == first ? last : first);
	inet_ntop(AF_INET, &a, ip, (socklen_t)iplen);
	inet_ntop(AF_INET, &g, gw, (socklen_t)gwlen);
	*prefix = (int)p;
	return 0;
}

/* Marks in used[] (bit i: 10.78.i/256.i%256) the 10.78/16 addresses that routes, a table in
 * /proc/net/route's form, routes as a /32: management addresses in use by any state directory.
 * Destination and mask are hexadecimal numbers whose bytes are the address in network order. */
static void mark_routed(const char *routes, uint8_t *used)
{
	FILE *f = routes ? fopen(routes, "re") : NULL;
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char iface[64];
		unsigned int dst, gw, flags, ref, use, metric, mask;
		struct in_addr a;
		uint32_t h;

		if (sscanf(line, "%63s %x %x %x %u %u %u %x", iface, &dst, &gw, &flags, &ref, &use,
			   &metric, &mask) != 8 ||
		    mask != 0xffffffffu)
			continue;
		a.s_addr = dst;
		h = ntohl(a.s_addr);
		if ((h >> 16) == ((10u << 8) | 78u))
			used[(h & 0xffff) / 8] |= (uint8_t)(1u << ((h & 0xffff) % 8));
	}
	fclose(f);
}

int pk_mgmt_alloc(const char *state_dir, const char *routes, char *ip, size_t len)
{
	uint8_t used[65536 / 8] = { 0 };
	DIR *d = opendir(state_dir);
	struct dirent *e;

	mark_routed(routes, used);

	while (d && (e = readdir(d))) {
		char dir[PK_PATH_MAX];
		struct pk_meta m;
		struct in_addr a;

		if (e->d_name[0] == '.' ||
		    !pk_state_path(state_dir, e->d_name, NULL, dir, sizeof(dir)))
			continue;
		if (pk_meta_load(dir, &m) == 0 && m.mgmt[0] &&
		    inet_pton(AF_INET, m.mgmt, &a) == 1) {
			uint32_t i = ntohl(a.s_addr) & 0xffff;

			used[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	}
	if (d)
		closedir(d);
	for (uint32_t i = 2; i < 65535; i++) { /* 10.78.0.1 is the host end */
		if (!(used[i / 8] & (1u << (i % 8))) && (i & 0xff) != 0 && (i & 0xff) != 255) {
			snprintf(ip, len, "10.78.%u.%u", i >> 8, i & 0xff);
			return 0;
		}
	}
	return -ENOSPC;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int pk_rm_tree(const char *path)
{
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
