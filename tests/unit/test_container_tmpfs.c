/* test_container_tmpfs.c — which of production's mounts are copied as tmpfs before the freeze:
 * the mountinfo of a real runc container (cgroup v1 host), and the lines that must be left to
 * CRIU (binds of a sub-directory, the same tmpfs twice, escaped paths, other filesystems). */
#include <string.h>

#include "container/container_int.h"
#include "unit.h"

/* /proc/PID/mountinfo of a redis container made by `parikshan container run` (runc 1.1.5). */
static const char runc_mountinfo[] =
	"72 47 0:38 / / rw,relatime - overlay overlay "
	"rw,lowerdir=/,upperdir=/s/upper,workdir=/s/work\n"
	"73 72 0:41 / /proc rw,relatime - proc proc rw\n"
	"74 72 0:42 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
	"75 74 0:43 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts "
	"rw,gid=5,mode=620,ptmxmode=666\n"
	"76 74 0:44 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k\n"
	"77 74 0:40 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw\n"
	"78 72 0:45 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro\n"
	"79 78 0:46 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755\n"
	"80 79 0:28 /c /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu\n"
	"48 73 0:41 /bus /proc/bus ro,relatime - proc proc rw\n"
	"52 73 0:47 / /proc/acpi ro,relatime - tmpfs tmpfs ro\n"
	"53 73 0:42 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
	"55 78 0:48 / /sys/firmware ro,relatime - tmpfs tmpfs ro\n";

static void test_runc_container(void)
{
	struct pk_tmpfs_set s;

	memset(&s, 0xff, sizeof(s));
	CHECK_EQ_INT(pk_tmpfs_list(runc_mountinfo, &s), 0);
	CHECK_EQ_INT(s.n, 5);
	if (s.n != 5)
		return;
	CHECK_STR(s.m[0].mnt, "/dev");
	CHECK_STR(s.m[0].data, "size=65536k,mode=755");
	CHECK(!s.m[0].ro);
	CHECK_STR(s.m[1].mnt, "/dev/shm");
	CHECK_STR(s.m[1].data, "size=65536k");
	CHECK_STR(s.m[2].mnt, "/sys/fs/cgroup");
	CHECK_STR(s.m[2].data, "mode=755");
	CHECK_STR(s.m[3].mnt, "/proc/acpi"); /* a mask: read-only, no options */
	CHECK_STR(s.m[3].data, "");
	CHECK(s.m[3].ro);
	CHECK_STR(s.m[4].mnt, "/sys/firmware");
	CHECK(s.m[4].ro);
}

static void test_left_to_criu(void)
{
	struct pk_tmpfs_set s;

	/* the same tmpfs (0:50) mounted twice must stay one filesystem: neither is copied */
	CHECK_EQ_INT(pk_tmpfs_list("1 0 0:50 / /a rw - tmpfs tmpfs rw\n"
				   "2 0 0:51 / /b rw - tmpfs tmpfs ro,size=4k\n"
				   "3 0 0:50 / /c rw - tmpfs tmpfs rw\n"
				   "4 0 0:52 / /d\\040e rw - tmpfs tmpfs rw\n"
				   "5 0 0:53 / / rw - tmpfs tmpfs rw\n"
				   "6 0 0:54 /sub /f rw - tmpfs tmpfs rw\n"
				   "7 0 0:55 / /g rw shared:3 master:2 - tmpfs x rw,uid=5\n"
				   "8 0 0:56 / /h rw - ramfs ramfs rw\n"
				   "garbage\n"
				   "9 0 0:57 / /i rw -\n"
				   "10 0 0:58 / /j rw - tmpfs\n",
				   &s),
		     0);
	CHECK_EQ_INT(s.n, 2);
	if (s.n != 2)
		return;
	CHECK_STR(s.m[0].mnt, "/b");
	CHECK(s.m[0].ro);
	CHECK_STR(s.m[0].data, "size=4k");
	CHECK_STR(s.m[1].mnt, "/g"); /* optional fields (shared:, master:) are skipped */
	CHECK_STR(s.m[1].data, "uid=5");
	CHECK(!s.m[1].ro);
	CHECK_EQ_INT(pk_tmpfs_list("", &s), 0);
	CHECK_EQ_INT(s.n, 0);
}

/* More tmpfs mounts than the set holds: the first PK_TMPFS_MAX are copied, the rest archived. */
static void test_cap(void)
{
	char text[8192];
	size_t len = 0;
	struct pk_tmpfs_set s;

	for (int i = 0; i < PK_TMPFS_MAX + 4; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"%d 0 0:%d / /t%d rw - tmpfs tmpfs rw\n", i + 1, 100 + i,
					i);
	CHECK_EQ_INT(pk_tmpfs_list(text, &s), 0);
	CHECK_EQ_INT(s.n, PK_TMPFS_MAX);
	CHECK_STR(s.m[PK_TMPFS_MAX - 1].mnt, "/t15");
}

int main(void)
{
	UNIT_RUN(test_runc_container);
	UNIT_RUN(test_left_to_criu);
	UNIT_RUN(test_cap);
	return unit_done();
}
