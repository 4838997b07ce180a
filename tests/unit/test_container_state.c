/* test_container_state.c — the container module's state directory: names, paths, derived netns and
 * veth names, meta.json save/load, CIDR parsing, management address allocation, tree removal. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/container_int.h"
#include "unit.h"

/* Creates a fresh private directory under /tmp into buf; returns buf or NULL. */
static char *dir_make(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/pk-clone-state-test.XXXXXX");
	return mkdtemp(buf);
}

/* Tells whether path exists (without following a final symlink). */
static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Writes len bytes of data to path (created or truncated); returns 0 or -1. */
static int file_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Writes the string text to dir/meta.json; returns 0 or -1. */
static int meta_write_raw(const char *dir, const char *text)
{
	char path[PK_PATH_MAX];

	if (pk_path(path, sizeof(path), "%s/meta.json", dir))
		return -1;
	return file_write(path, text, strlen(text));
}

/* Makes state_dir/name and saves a clone meta with management address mgmt there (mgmt may
 * be "" for a container).  Returns 0 or -errno. */
static int meta_put(const char *state_dir, const char *name, const char *mgmt)
{
	char dir[PK_PATH_MAX];
	struct pk_meta m;

	memset(&m, 0, sizeof(m));
	if (!pk_state_path(state_dir, name, NULL, dir, sizeof(dir)))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.kind, sizeof(m.kind), "%s", mgmt[0] ? "clone" : "container");
	snprintf(m.ip, sizeof(m.ip), "10.77.0.2");
	m.prefix = 24;
	snprintf(m.gw, sizeof(m.gw), "10.77.0.1");
	snprintf(m.mgmt, sizeof(m.mgmt), "%s", mgmt);
	pk_meta_names(&m);
	return pk_meta_save(dir, &m);
}

static void test_name_valid(void)
{
	char name[PK_NAME_MAX + 2];

	CHECK(pk_name_valid("a"));
	CHECK(pk_name_valid("0"));
	CHECK(pk_name_valid("0x"));
	CHECK(pk_name_valid("pk-test-1"));
	CHECK(pk_name_valid("a.b_c"));
	CHECK(pk_name_valid("9-._"));
	CHECK(pk_name_valid("web.1"));

	CHECK(!pk_name_valid(""));
	CHECK(!pk_name_valid("-a"));
	CHECK(!pk_name_valid(".a"));
	CHECK(!pk_name_valid("_a"));
	CHECK(!pk_name_valid("A"));
	CHECK(!pk_name_valid("aB"));
	CHECK(!pk_name_valid("a/b"));
	CHECK(!pk_name_valid("a b"));
	CHECK(!pk_name_valid("a\tb"));
	CHECK(!pk_name_valid("a\n"));
	CHECK(!pk_name_valid("a:b"));
	CHECK(!pk_name_valid(".."));
	CHECK(!pk_name_valid("\xc3\xa9"));

	/* exactly 32 characters is the limit */
	memset(name, 'a', PK_NAME_MAX);
	name[PK_NAME_MAX] = '\0';
	CHECK_EQ_INT(strlen(name), 32);
	CHECK(pk_name_valid(name));
	name[PK_NAME_MAX] = 'a';
	name[PK_NAME_MAX + 1] = '\0';
	CHECK_EQ_INT(strlen(name), 33);
	CHECK(!pk_name_valid(name));
}

static void test_state_path(void)
{
	char buf[64];

	CHECK(pk_state_path("/s", "web", NULL, buf, sizeof(buf)) == buf);
	CHECK_STR(buf, "/s/web");
	CHECK(pk_state_path("/var/lib/parikshan", "web", "meta.json", buf, sizeof(buf)) == buf);
	CHECK_STR(buf, "/var/lib/parikshan/web/meta.json");

	/* "/s/a" needs 5 bytes with its NUL */
	CHECK(pk_state_path("/s", "a", NULL, buf, 5) == buf);
	CHECK_STR(buf, "/s/a");
	CHECK(pk_state_path("/s", "a", NULL, buf, 4) == NULL);
	/* "/s/a/f" needs 7 */
	CHECK(pk_state_path("/s", "a", "f", buf, 7) == buf);
	CHECK_STR(buf, "/s/a/f");
	CHECK(pk_state_path("/s", "a", "f", buf, 6) == NULL);
	CHECK(pk_state_path("/var/lib/parikshan", "a-rather-long-container-name", "stdout.log", buf,
			    sizeof(buf)) != NULL);
	CHECK(pk_state_path("/var/lib/parikshan/deeper/and/deeper", "a-rather-long-container-name",
			    "stdout.log", buf, sizeof(buf)) == NULL);
}

static void test_path(void)
{
	char buf[8];

	CHECK_EQ_INT(pk_path(buf, sizeof(buf), "%s/%d", "ab", 42), 0);
	CHECK_STR(buf, "ab/42");
	CHECK_EQ_INT(pk_path(buf, sizeof(buf), "%s", "1234567"), 0); /* 7 + NUL fits */
	CHECK_STR(buf, "1234567");
	CHECK_EQ_INT(pk_path(buf, sizeof(buf), "%s", "12345678"), -ENAMETOOLONG);
	CHECK_STR(buf, "1234567"); /* cut, still terminated */
	CHECK_EQ_INT(pk_path(buf, sizeof(buf), "%s/%s", "/var/lib", "parikshan"), -ENAMETOOLONG);
	CHECK_EQ_INT(strlen(buf), 7);
	CHECK_EQ_INT(pk_path(buf, sizeof(buf), "%s", ""), 0);
	CHECK_STR(buf, "");
}

/* Tells whether s is "pkh" followed by lowercase hex digits only. */
static bool veth_shaped(const char *s)
{
	if (strncmp(s, "pkh", 3) != 0 || !s[3])
		return false;
	for (s += 3; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static void test_meta_names(void)
{
	static const char *const names[] = { "a",     "b",    "web",	     "web1",
					     "web-1", "1bew", "pk-test-1",   "pk-test-2",
					     "ab",    "ba",   "prod.clone_1" };
	enum { N = sizeof(names) / sizeof(names[0]) };
	char veths[N][16];
	struct pk_meta m, m2;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "pk-test-1");
	pk_meta_names(&m);
	CHECK_STR(m.netns, "pk-pk-test-1");
	CHECK(veth_shaped(m.veth));
	CHECK(strlen(m.veth) <= 15); /* IFNAMSIZ - 1 */

	/* stable: same name, different other fields, same derived names */
	memset(&m2, 0x5a, sizeof(m2));
	snprintf(m2.name, sizeof(m2.name), "pk-test-1");
	snprintf(m2.ip, sizeof(m2.ip), "10.77.0.9");
	pk_meta_names(&m2);
	CHECK_STR(m2.netns, m.netns);
	CHECK_STR(m2.veth, m.veth);
	pk_meta_names(&m2);
	CHECK_STR(m2.veth, m.veth);

	/* the longest name still gives a full netns name and a short veth */
	memset(&m, 0, sizeof(m));
	memset(m.name, 'z', PK_NAME_MAX);
	pk_meta_names(&m);
	CHECK_EQ_INT(strlen(m.netns), 3 + PK_NAME_MAX);
	CHECK(strncmp(m.netns, "pk-zzz", 6) == 0);
	CHECK(veth_shaped(m.veth));
	CHECK(strlen(m.veth) <= 15);

	/* different names, different veths */
	for (size_t i = 0; i < N; i++) {
		memset(&m, 0, sizeof(m));
		snprintf(m.name, sizeof(m.name), "%s", names[i]);
		pk_meta_names(&m);
		CHECK(veth_shaped(m.veth));
		CHECK(strlen(m.veth) <= 15);
		CHECK(strncmp(m.netns, "pk-", 3) == 0 && strcmp(m.netns + 3, names[i]) == 0);
		snprintf(veths[i], sizeof(veths[i]), "%s", m.veth);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t j = i + 1; j < N; j++)
			CHECK(strcmp(veths[i], veths[j]) != 0);
}

/* Fills m with a full, valid meta. */
static void meta_sample(struct pk_meta *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "pk-test-1");
	snprintf(m->kind, sizeof(m->kind), "clone");
	snprintf(m->parent, sizeof(m->parent), "prod.web_0");
	snprintf(m->ip, sizeof(m->ip), "10.77.0.2");
	m->prefix = 24;
	snprintf(m->gw, sizeof(m->gw), "10.77.0.1");
	snprintf(m->mgmt, sizeof(m->mgmt), "10.78.255.254");
	pk_meta_names(m);
	snprintf(m->lower, sizeof(m->lower), "/srv/images/with \"quotes\" and \\ backslash/rootfs");
	m->created = 1700000000123ll;
	m->keeper_pid = 4194303;
}

static void test_meta_round_trip(void)
{
	char dir[64], path[PK_PATH_MAX];
	struct pk_meta m, got;

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	meta_sample(&m);
	CHECK_EQ_INT(pk_meta_save(dir, &m), 0);
	memset(&got, 0x5a, sizeof(got));
	CHECK_EQ_INT(pk_meta_load(dir, &got), 0);
	CHECK_STR(got.name, m.name);
	CHECK_STR(got.kind, m.kind);
	CHECK_STR(got.parent, m.parent);
	CHECK_STR(got.ip, m.ip);
	CHECK_EQ_INT(got.prefix, 24);
	CHECK_STR(got.gw, m.gw);
	CHECK_STR(got.mgmt, m.mgmt);
	CHECK_STR(got.netns, "pk-pk-test-1");
	CHECK_STR(got.veth, m.veth);
	CHECK_STR(got.lower, m.lower);
	CHECK_EQ_INT(got.created, 1700000000123ll);
	CHECK_EQ_INT(got.keeper_pid, 4194303);

	/* atomic: no temporary file left behind; a second save replaces the first */
	pk_path(path, sizeof(path), "%s/.meta.json.tmp", dir);
	CHECK(!exists(path));
	snprintf(m.kind, sizeof(m.kind), "container");
	m.parent[0] = '\0';
	m.mgmt[0] = '\0';
	m.keeper_pid = 0;
	m.prefix = 16;
	CHECK_EQ_INT(pk_meta_save(dir, &m), 0);
	CHECK(!exists(path));
	CHECK_EQ_INT(pk_meta_load(dir, &got), 0);
	CHECK_STR(got.kind, "container");
	CHECK_STR(got.parent, "");
	CHECK_STR(got.mgmt, "");
	CHECK_EQ_INT(got.keeper_pid, 0);
	CHECK_EQ_INT(got.prefix, 16);
	CHECK_STR(got.name, "pk-test-1");

	/* a stale temporary file from a crash does not hurt the next save */
	CHECK_EQ_INT(file_write(path, "garbage", 7), 0);
	CHECK_EQ_INT(pk_meta_save(dir, &m), 0);
	CHECK(!exists(path));
	CHECK_EQ_INT(pk_meta_load(dir, &got), 0);
	CHECK_STR(got.name, "pk-test-1");

	/* the longest path fits */
	memset(m.lower, 'l', sizeof(m.lower) - 1);
	m.lower[0] = '/';
	m.lower[sizeof(m.lower) - 1] = '\0';
	CHECK_EQ_INT(pk_meta_save(dir, &m), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &got), 0);
	CHECK_STR(got.lower, m.lower);

	CHECK_EQ_INT(pk_rm_tree(dir), 0);
	CHECK(!exists(dir));
}

static void test_meta_save_missing_dir(void)
{
	char dir[64], sub[PK_PATH_MAX], path[PK_PATH_MAX];
	struct pk_meta m;

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	meta_sample(&m);
	pk_path(sub, sizeof(sub), "%s/missing", dir);
	CHECK_EQ_INT(pk_meta_save(sub, &m), -ENOENT);
	pk_path(path, sizeof(path), "%s/.meta.json.tmp", sub);
	CHECK(!exists(path));
	CHECK(!exists(sub));
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

static void test_meta_load_bad(void)
{
	char dir[64], sub[PK_PATH_MAX];
	struct pk_meta m;

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	/* missing file, missing directory */
	CHECK_EQ_INT(pk_meta_load(dir, &m), -ENOENT);
	pk_path(sub, sizeof(sub), "%s/nope", dir);
	CHECK_EQ_INT(pk_meta_load(sub, &m), -ENOENT);

	/* damaged files */
	CHECK_EQ_INT(meta_write_raw(dir, ""), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "{\"name\": \"web\", \"kind\": \"cl"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "not json at all"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	{
		char path[PK_PATH_MAX];
		static const unsigned char junk[] = { 0x00, 0xff, 0x7b, 0x00, 0x22 };

		pk_path(path, sizeof(path), "%s/meta.json", dir);
		CHECK_EQ_INT(file_write(path, junk, sizeof(junk)), 0);
		CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	}

	/* parseable, but no usable name */
	CHECK_EQ_INT(meta_write_raw(dir, "{}"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "[\"web\"]"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "{\"name\": 42}"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "{\"name\": \"\"}"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "{\"name\": \"Web\"}"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "{\"name\": \"../etc\"}"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	CHECK_EQ_INT(meta_write_raw(dir, "{\"name\": \"a/b\"}"), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);

	/* a minimal valid file: missing fields read as empty or 0 */
	CHECK_EQ_INT(meta_write_raw(dir, "{\"name\": \"web\", \"prefix\": \"24\"}"), 0);
	memset(&m, 0x5a, sizeof(m));
	CHECK_EQ_INT(pk_meta_load(dir, &m), 0);
	CHECK_STR(m.name, "web");
	CHECK_STR(m.kind, "");
	CHECK_STR(m.mgmt, "");
	CHECK_STR(m.lower, "");
	CHECK_EQ_INT(m.prefix, 0); /* a string is not a number */
	CHECK_EQ_INT(m.created, 0);
	CHECK_EQ_INT(m.keeper_pid, 0);

	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

/* A name longer than PK_NAME_MAX must not load as a cut-down (and then valid) name. */
static void test_meta_load_long_name(void)
{
	char dir[64], text[128];
	struct pk_meta m;

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	/* 33 characters, all valid ones */
	snprintf(text, sizeof(text), "{\"name\": \"%s\"}", "abcdefghijklmnopqrstuvwxyz0123456");
	CHECK_EQ_INT(meta_write_raw(dir, text), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), -EINVAL);
	/* 32 are fine */
	snprintf(text, sizeof(text), "{\"name\": \"%s\"}", "abcdefghijklmnopqrstuvwxyz012345");
	CHECK_EQ_INT(meta_write_raw(dir, text), 0);
	CHECK_EQ_INT(pk_meta_load(dir, &m), 0);
	CHECK_STR(m.name, "abcdefghijklmnopqrstuvwxyz012345");
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

/* Parses s; on success checks ip, prefix and gateway.  Returns pk_parse_cidr's result. */
static int cidr(const char *s, const char *want_ip, int want_prefix, const char *want_gw)
{
	char ip[16] = "", gw[16] = "";
	int prefix = -1;
	int rc = pk_parse_cidr(s, ip, sizeof(ip), &prefix, gw, sizeof(gw));

	if (rc == 0 && want_ip) {
		CHECK_STR(ip, want_ip);
		CHECK_EQ_INT(prefix, want_prefix);
		CHECK_STR(gw, want_gw);
	}
	return rc;
}

static void test_parse_cidr_ok(void)
{
	CHECK_EQ_INT(cidr("10.77.0.2/24", "10.77.0.2", 24, "10.77.0.1"), 0);
	CHECK_EQ_INT(cidr("10.77.0.1/24", "10.77.0.1", 24, "10.77.0.254"), 0);
	CHECK_EQ_INT(cidr("10.77.0.254/24", "10.77.0.254", 24, "10.77.0.1"), 0);
	CHECK_EQ_INT(cidr("192.168.10.20/16", "192.168.10.20", 16, "192.168.0.1"), 0);
	CHECK_EQ_INT(cidr("10.0.0.1/8", "10.0.0.1", 8, "10.255.255.254"), 0);
	CHECK_EQ_INT(cidr("10.200.3.4/8", "10.200.3.4", 8, "10.0.0.1"), 0);
	CHECK_EQ_INT(cidr("10.77.0.1/30", "10.77.0.1", 30, "10.77.0.2"), 0);
	CHECK_EQ_INT(cidr("10.77.0.2/30", "10.77.0.2", 30, "10.77.0.1"), 0);
	CHECK_EQ_INT(cidr("10.77.0.6/30", "10.77.0.6", 30, "10.77.0.5"), 0);
	CHECK_EQ_INT(cidr("172.16.5.129/25", "172.16.5.129", 25, "172.16.5.254"), 0);
	CHECK_EQ_INT(cidr("10.77.0.2/024", "10.77.0.2", 24, "10.77.0.1"), 0);
}

static void test_parse_cidr_bad(void)
{
	CHECK_EQ_INT(cidr("10.77.0.2", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.256/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.x/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("web/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr(" 10.77.0.2/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("::1/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("0000000000000000000000000010.77.0.2/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/7", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/31", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/32", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/0", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/-24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/99999999999999999999", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/24x", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/24 ", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/24/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.2/2.4", NULL, 0, NULL), -EINVAL);
	/* network and broadcast addresses */
	CHECK_EQ_INT(cidr("10.77.0.0/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.255/24", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.0.0.0/8", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.255.255.255/8", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.4/30", NULL, 0, NULL), -EINVAL);
	CHECK_EQ_INT(cidr("10.77.0.7/30", NULL, 0, NULL), -EINVAL);
}

/* Runs pk_mgmt_alloc on state_dir; returns the address or "ERR". */
static const char *mgmt(const char *state_dir, char *buf, size_t len)
{
	if (pk_mgmt_alloc(state_dir, NULL, buf, len) != 0)
		snprintf(buf, len, "ERR");
	return buf;
}

static void test_mgmt_alloc_basic(void)
{
	char dir[64], sub[PK_PATH_MAX], ip[16];

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	/* an empty or missing state directory */
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.0.2");
	pk_path(sub, sizeof(sub), "%s/missing", dir);
	CHECK_STR(mgmt(sub, ip, sizeof(ip)), "10.78.0.2");

	/* containers (no management address) take nothing */
	CHECK_EQ_INT(meta_put(dir, "prod", ""), 0);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.0.2");

	CHECK_EQ_INT(meta_put(dir, "c1", "10.78.0.2"), 0);
	CHECK_EQ_INT(meta_put(dir, "c2", "10.78.0.3"), 0);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.0.4");

	/* the lowest free address, not the one after the highest */
	CHECK_EQ_INT(meta_put(dir, "c3", "10.78.0.5"), 0);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.0.4");
	pk_path(sub, sizeof(sub), "%s/c1", dir);
	CHECK_EQ_INT(pk_rm_tree(sub), 0);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.0.2");

	/* hidden entries, stray files and damaged metas are not clones */
	pk_path(sub, sizeof(sub), "%s/.hidden", dir);
	CHECK_EQ_INT(mkdir(sub, 0755), 0);
	CHECK_EQ_INT(meta_write_raw(sub, "{\"name\": \"hidden\", \"mgmt\": \"10.78.0.2\"}"), 0);
	pk_path(sub, sizeof(sub), "%s/stray", dir);
	CHECK_EQ_INT(file_write(sub, "x", 1), 0);
	pk_path(sub, sizeof(sub), "%s/broken", dir);
	CHECK_EQ_INT(mkdir(sub, 0755), 0);
	CHECK_EQ_INT(meta_write_raw(sub, "{\"name\": \"broken\", \"mgmt\": "), 0);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.0.2");

	CHECK_EQ_INT(pk_rm_tree(dir), 0);
	CHECK(!exists(dir));
}

static void test_mgmt_alloc_skips_0_and_255(void)
{
	char dir[64], name[16], addr[32], ip[16], sub[PK_PATH_MAX];
	int ok = 0;

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	/* 10.78.0.2 .. 10.78.0.254 used: next is 10.78.1.1 (not .255, not 10.78.1.0) */
	for (int i = 2; i <= 254; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		snprintf(addr, sizeof(addr), "10.78.0.%d", i);
		ok += meta_put(dir, name, addr) == 0;
	}
	CHECK_EQ_INT(ok, 253);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.1.1");

	/* the next one after 10.78.1.1 is 10.78.1.2 */
	CHECK_EQ_INT(meta_put(dir, "d1", "10.78.1.1"), 0);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.1.2");

	/* freeing the last of the first block hands it out again */
	pk_path(sub, sizeof(sub), "%s/c254", dir);
	CHECK_EQ_INT(pk_rm_tree(sub), 0);
	CHECK_STR(mgmt(dir, ip, sizeof(ip)), "10.78.0.254");

	CHECK_EQ_INT(pk_rm_tree(dir), 0);
	CHECK(!exists(dir));
}

/* Another state directory's clones show only as host routes: /32 routes to 10.78/16 are taken
 * (read in /proc/net/route's form: hex, the address's bytes in network order), other routes
 * are not. */
static void test_mgmt_alloc_skips_routed(void)
{
	char dir[64], routes[PK_PATH_MAX], ip[16];
	/* 10.78.0.2/32 and 10.78.0.3/32 via veths; 10.78.0.4/24 (not a /32); 10.77.0.5/32 (not
	 * 10.78); a short line; 0.0.0.0/0 */
	static const char table[] = "Iface\tDestination\tGateway "
				    "\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
				    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
				    "pkh1\t02004E0A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
				    "pkh2\t03004E0A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
				    "pkh3\t04004E0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
				    "pkh4\t05004D0A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
				    "pkh5\t04004E0A\n";

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	pk_path(routes, sizeof(routes), "%s/route", dir);
	CHECK_EQ_INT(file_write(routes, table, sizeof(table) - 1), 0);
	CHECK_EQ_INT(pk_mgmt_alloc(dir, routes, ip, sizeof(ip)), 0);
	CHECK_STR(ip, "10.78.0.4");
	/* with a clone of this directory on 10.78.0.4 as well */
	CHECK_EQ_INT(meta_put(dir, "c4", "10.78.0.4"), 0);
	CHECK_EQ_INT(pk_mgmt_alloc(dir, routes, ip, sizeof(ip)), 0);
	CHECK_STR(ip, "10.78.0.5");
	/* a missing table takes nothing */
	pk_path(routes, sizeof(routes), "%s/none", dir);
	CHECK_EQ_INT(pk_mgmt_alloc(dir, routes, ip, sizeof(ip)), 0);
	CHECK_STR(ip, "10.78.0.2");
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

static void test_rm_tree(void)
{
	char dir[64], tree[PK_PATH_MAX], outside[PK_PATH_MAX], p[PK_PATH_MAX];

	if (!dir_make(dir, sizeof(dir))) {
		CHECK(!"mkdtemp");
		return;
	}
	/* dir/outside/keep survives; dir/tree is removed */
	pk_path(outside, sizeof(outside), "%s/outside", dir);
	CHECK_EQ_INT(mkdir(outside, 0755), 0);
	pk_path(p, sizeof(p), "%s/keep", outside);
	CHECK_EQ_INT(file_write(p, "keep", 4), 0);

	pk_path(tree, sizeof(tree), "%s/tree", dir);
	CHECK_EQ_INT(mkdir(tree, 0755), 0);
	pk_path(p, sizeof(p), "%s/a", tree);
	CHECK_EQ_INT(mkdir(p, 0755), 0);
	pk_path(p, sizeof(p), "%s/a/b", tree);
	CHECK_EQ_INT(mkdir(p, 0755), 0);
	pk_path(p, sizeof(p), "%s/a/b/c", tree);
	CHECK_EQ_INT(mkdir(p, 0700), 0);
	pk_path(p, sizeof(p), "%s/a/b/c/deep.txt", tree);
	CHECK_EQ_INT(file_write(p, "deep", 4), 0);
	pk_path(p, sizeof(p), "%s/a/file", tree);
	CHECK_EQ_INT(file_write(p, "f", 1), 0);
	pk_path(p, sizeof(p), "%s/empty", tree);
	CHECK_EQ_INT(mkdir(p, 0755), 0);
	pk_path(p, sizeof(p), "%s/.hidden", tree);
	CHECK_EQ_INT(file_write(p, "", 0), 0);
	/* symlinks to a directory and to a file outside, and a dangling one */
	pk_path(p, sizeof(p), "%s/a/link-dir", tree);
	CHECK_EQ_INT(symlink(outside, p), 0);
	pk_path(p, sizeof(p), "%s/link-file", tree);
	{
		char target[PK_PATH_MAX];

		pk_path(target, sizeof(target), "%s/keep", outside);
		CHECK_EQ_INT(symlink(target, p), 0);
	}
	pk_path(p, sizeof(p), "%s/dangling", tree);
	CHECK_EQ_INT(symlink("/nonexistent/pk-test", p), 0);

	CHECK_EQ_INT(pk_rm_tree(tree), 0);
	CHECK(!exists(tree));
	CHECK(exists(outside));
	pk_path(p, sizeof(p), "%s/keep", outside);
	CHECK(exists(p));

	/* a missing path, twice */
	CHECK_EQ_INT(pk_rm_tree(tree), 0);
	pk_path(p, sizeof(p), "%s/never/was", dir);
	CHECK_EQ_INT(pk_rm_tree(p), 0);

	/* a plain file, and a symlink itself (its target stays) */
	pk_path(p, sizeof(p), "%s/plain", dir);
	CHECK_EQ_INT(file_write(p, "x", 1), 0);
	CHECK_EQ_INT(pk_rm_tree(p), 0);
	CHECK(!exists(p));
	pk_path(p, sizeof(p), "%s/top-link", dir);
	CHECK_EQ_INT(symlink(outside, p), 0);
	CHECK_EQ_INT(pk_rm_tree(p), 0);
	CHECK(!exists(p));
	CHECK(exists(outside));
	pk_path(p, sizeof(p), "%s/keep", outside);
	CHECK(exists(p));

	CHECK_EQ_INT(pk_rm_tree(dir), 0);
	CHECK(!exists(dir));
}

int main(void)
{
	UNIT_RUN(test_name_valid);
	UNIT_RUN(test_state_path);
	UNIT_RUN(test_path);
	UNIT_RUN(test_meta_names);
	UNIT_RUN(test_meta_round_trip);
	UNIT_RUN(test_meta_save_missing_dir);
	UNIT_RUN(test_meta_load_bad);
	UNIT_RUN(test_meta_load_long_name);
	UNIT_RUN(test_parse_cidr_ok);
	UNIT_RUN(test_parse_cidr_bad);
	UNIT_RUN(test_mgmt_alloc_basic);
	UNIT_RUN(test_mgmt_alloc_skips_0_and_255);
	UNIT_RUN(test_mgmt_alloc_skips_routed);
	UNIT_RUN(test_rm_tree);
	return unit_done();
}
