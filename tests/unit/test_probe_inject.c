/* test_probe_inject.c — ptrace injection into a live program built at test time: a target with
 * a thread blocked in read() on a pipe, one in epoll_wait, one spinning and one in nanosleep,
 * and a library whose constructor leaves a marker file.  The library is loaded (by path, and
 * through a memfd into a target whose mount namespace hides the path), loading twice is a
 * no-op, every failure leaves the target running and answering; pk_inject_poke changes what a
 * function returns, refuses while a thread runs in the guarded range and on unexpected bytes.
 * Needs root (ptrace, a mount namespace); skips otherwise.  Conditions are awaited with
 * deadlines; every target is killed and reaped at the end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/proc.h"
#include "probe/inject.h"
#include "unit.h"

#define DEADLINE_MS 5000

static const char target_src[] =
	"#include <errno.h>\n#include <pthread.h>\n#include <sched.h>\n#include "
	"<stdint.h>\n#include <stdio.h>\n"
	"#include <sys/epoll.h>\n#include <time.h>\n#include <unistd.h>\n"
	"__attribute__((noipa)) int answer(void) { return 1; }\n"
	"static volatile unsigned long spins;\n"
	"static void *busy(void *a) { for (;;) spins++; return a; }\n"
	"static void *sleeper(void *a) { for (;;) { struct timespec ts = { 1, 0 };\n"
	"  nanosleep(&ts, NULL); } return a; }\n"
	"static void *reader(void *a) { char c; for (;;) { ssize_t n = read(3, &c, 1);\n"
	"  if (n == 1) { char o = (char)('0' + answer()); if (write(5, &o, 1) != 1) _exit(5); }\n"
	"  else if (n == 0) _exit(0); else if (errno != EINTR) _exit(3); } return a; }\n"
	"static void *poller(void *a) { int ep = epoll_create1(0); struct epoll_event ev = {\n"
	"  .events = EPOLLIN }; epoll_ctl(ep, EPOLL_CTL_ADD, 4, &ev); for (;;) {\n"
	"  int n = epoll_wait(ep, &ev, 1, -1); char c;\n"
	"  if (n == 1) { if (read(4, &c, 1) != 1) _exit(0); if (write(5, \"e\", 1) != 1) _exit(5); "
	"}\n"
	"  else if (n < 0 && errno != EINTR) _exit(4); } return a; }\n"
	"int main(void) { pthread_t t[4]; char line[64]; int len;\n"
	"  pthread_create(&t[0], NULL, reader, NULL); pthread_create(&t[1], NULL, poller, NULL);\n"
	"  pthread_create(&t[2], NULL, busy, NULL); pthread_create(&t[3], NULL, sleeper, NULL);\n"
	"  while (!spins) sched_yield(); /* ready: the spinning thread is in busy() */\n"
	"  len = snprintf(line, sizeof(line), \"ready %lx\\n\", (unsigned "
	"long)(uintptr_t)&answer);\n"
	"  if (write(5, line, (size_t)len) != len) return 5;\n"
	"  pthread_join(t[0], NULL); return 0; }\n";

static const char lib_src[] =
	"#include <fcntl.h>\n#include <stdio.h>\n#include <unistd.h>\n"
	"__attribute__((constructor)) static void mark(void) { char p[512];\n"
	"  snprintf(p, sizeof(p), MARK_DIR \"/loaded.%d\", (int)getpid());\n"
	"  int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644); if (fd >= 0) close(fd); }\n";

static char dir[64] = "/tmp/pk-inject.XXXXXX";
static const char hang_src[] =
	"#include <unistd.h>\n"
	"__attribute__((constructor)) static void hang(void) { for (;;) pause(); }\n";

static char target_bin[128], lib_dir[128], lib_path[160], notelf_path[160], hang_path[160];
static bool built, made_dir;

struct target {
	pid_t pid;
	int to_reader, to_poller, from; /* our ends of the pipes */
	uint64_t answer;		/* address of answer() */
};

static pid_t started[16];
static size_t n_started;

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static bool build(void)
{
	char src[128], libsrc[128], hangsrc[128], def[160];
	struct pk_strbuf out = { 0 };
	int rc;

	if (!mkdtemp(dir))
		return false;
	made_dir = true;
	snprintf(src, sizeof(src), "%s/target.c", dir);
	snprintf(libsrc, sizeof(libsrc), "%s/mark.c", dir);
	snprintf(target_bin, sizeof(target_bin), "%s/target", dir);
	snprintf(lib_dir, sizeof(lib_dir), "%s/lib", dir);
	snprintf(lib_path, sizeof(lib_path), "%s/libpkmark.so", lib_dir);
	snprintf(notelf_path, sizeof(notelf_path), "%s/libnotelf.so", dir);
	snprintf(hangsrc, sizeof(hangsrc), "%s/hang.c", dir);
	snprintf(hang_path, sizeof(hang_path), "%s/libpkhang.so", dir);
	snprintf(def, sizeof(def), "-DMARK_DIR=\"%s\"", dir);
	if (mkdir(lib_dir, 0755) < 0 || write_file(src, target_src) < 0 ||
	    write_file(libsrc, lib_src) < 0 || write_file(hangsrc, hang_src) < 0 ||
	    write_file(notelf_path, "this is not an ELF file, only text standing in for a "
				    "shared library so that dlopen fails in the target\n") < 0)
		return false;
	rc = pk_proc_run((char *[]){ "cc", "-O1", "-fcf-protection=none", "-pthread", "-o",
				     target_bin, src, NULL },
			 60000, &out);
	if (rc == 0)
		rc = pk_proc_run(
			(char *[]){ "cc", "-shared", "-fPIC", def, "-o", lib_path, libsrc, NULL },
			60000, &out);
	if (rc == 0)
		rc = pk_proc_run(
			(char *[]){ "cc", "-shared", "-fPIC", "-o", hang_path, hangsrc, NULL },
			60000, &out);
	if (rc != 0)
		printf("  cc: %d %s\n", rc, pk_strbuf_str(&out));
	pk_strbuf_release(&out);
	return rc == 0;
}

/* Reads one byte from fd within the deadline: the byte, or -1. */
static int read_byte(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, DEADLINE_MS) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return (unsigned char)c;
}

/* Sends a byte to the reader (to_reader) or the epoll thread and returns its answer. */
static int ask(const struct target *t, int fd)
{
	if (write(fd, "x", 1) != 1)
		return -1;
	return read_byte(t->from);
}

static void child_exec(int rd, int po, int out, bool own_ns)
{
	int fds[3] = { rd, po, out };

	if (own_ns &&
	    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	     mount("tmpfs", lib_dir, "tmpfs", 0, NULL) < 0))
		_exit(126);
	for (int i = 0; i < 3; i++)
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100);
	for (int i = 0; i < 3; i++)
		if (fds[i] < 0 || dup2(fds[i], 3 + i) < 0)
			_exit(126);
	execl(target_bin, target_bin, (char *)NULL);
	_exit(127);
}

/* Starts the target (in a mount namespace of its own where lib_dir is an empty tmpfs when
 * own_ns) and waits for its "ready ADDR" line. */
static bool target_start(struct target *t, bool own_ns)
{
	int rd[2], po[2], out[2];
	char line[64];
	size_t got = 0;
	uint64_t deadline = pk_now_ms() + DEADLINE_MS;

	memset(t, 0, sizeof(*t));
	if (pipe2(rd, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return false;
	t->pid = fork();
	if (t->pid == 0)
		child_exec(rd[0], po[0], out[1], own_ns);
	close(rd[0]);
	close(po[0]);
	close(out[1]);
	t->to_reader = rd[1];
	t->to_poller = po[1];
	t->from = out[0];
	if (t->pid < 0)
		return false;
	started[n_started++] = t->pid;
	while (got < sizeof(line) - 1 && pk_now_ms() < deadline) {
		struct pollfd p = { .fd = t->from, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)(deadline - pk_now_ms())) != 1)
			break;
		n = read(t->from, line + got, 1);
		if (n != 1)
			break;
		if (line[got++] == '\n')
			break;
	}
	line[got] = '\0';
	return sscanf(line, "ready %lx", (unsigned long *)&t->answer) == 1;
}

static void target_stop(struct target *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	close(t->to_reader);
	close(t->to_poller);
	close(t->from);
	t->pid = 0;
}

/* The target is alive and both blocked threads answer. */
static bool target_works(const struct target *t, char reader_answer)
{
	return kill(t->pid, 0) == 0 && ask(t, t->to_reader) == reader_answer &&
	       ask(t, t->to_poller) == 'e';
}

/* Waits (with the deadline) for the constructor's marker file of pid. */
static bool marker_appears(pid_t pid)
{
	char path[128];
	uint64_t deadline = pk_now_ms() + DEADLINE_MS;
	struct timespec pause = { 0, 1000000 };

	snprintf(path, sizeof(path), "%s/loaded.%d", dir, (int)pid);
	while (access(path, F_OK) != 0) {
		if (pk_now_ms() >= deadline)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

/* True when pid's maps mention `text`. */
static bool maps_have(pid_t pid, const char *text)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

static void test_inject_by_path(void)
{
	struct target t;
	char err[256] = "";

	CHECK(built);
	if (!built || !target_start(&t, false)) {
		CHECK(!"target started");
		return;
	}
	CHECK(target_works(&t, '1'));
	CHECK(!pk_inject_is_loaded(t.pid, "libpkmark.so"));
	CHECK_EQ_INT(pk_inject_library(t.pid, lib_path, err, sizeof(err)), 0);
	if (err[0])
		printf("  err: %s\n", err);
	CHECK(marker_appears(t.pid));
	CHECK(pk_inject_is_loaded(t.pid, "libpkmark.so"));
	CHECK(maps_have(t.pid, lib_path));
	CHECK(target_works(&t, '1'));
	/* loaded already: no-op */
	CHECK_EQ_INT(pk_inject_library(t.pid, lib_path, err, sizeof(err)), 0);
	CHECK(target_works(&t, '1'));
	target_stop(&t);
}

static void test_inject_through_memfd(void)
{
	struct target t;
	char err[256] = "", hidden[256];

	CHECK(built);
	if (!built || !target_start(&t, true)) {
		CHECK(!"target started in its own mount namespace");
		return;
	}
	snprintf(hidden, sizeof(hidden), "/proc/%d/root%s", (int)t.pid, lib_path);
	CHECK(access(hidden, F_OK) != 0); /* the path does not reach the library there */
	CHECK_EQ_INT(pk_inject_library(t.pid, lib_path, err, sizeof(err)), 0);
	if (err[0])
		printf("  err: %s\n", err);
	CHECK(marker_appears(t.pid));
	CHECK(maps_have(t.pid, "/memfd:libpkmark.so"));
	CHECK(pk_inject_is_loaded(t.pid, "libpkmark.so"));
	CHECK(target_works(&t, '1'));
	CHECK_EQ_INT(pk_inject_library(t.pid, lib_path, err, sizeof(err)), 0);
	CHECK(target_works(&t, '1'));
	target_stop(&t);
}

static void test_inject_failures(void)
{
	struct target t, gone;
	char err[256] = "", missing[192];
	int rc;

	CHECK(built);
	if (!built || !target_start(&t, false)) {
		CHECK(!"target started");
		return;
	}
	/* a pid that existed and is reaped */
	if (target_start(&gone, false)) {
		pid_t pid = gone.pid;

		target_stop(&gone);
		CHECK_EQ_INT(pk_inject_library(pid, lib_path, err, sizeof(err)), -ESRCH);
		CHECK(strstr(err, "no process") != NULL);
	}
	snprintf(missing, sizeof(missing), "%s/libnothere.so", dir);
	CHECK_EQ_INT(pk_inject_library(t.pid, missing, err, sizeof(err)), -ENOENT);
	/* dlopen fails inside the target: dlerror's text, and the target goes on */
	rc = pk_inject_library(t.pid, notelf_path, err, sizeof(err));
	CHECK(rc < 0);
	CHECK(strstr(err, "ELF") != NULL);
	if (!strstr(err, "ELF"))
		printf("  err: %s\n", err);
	CHECK(!pk_inject_is_loaded(t.pid, "libnotelf.so"));
	CHECK(target_works(&t, '1'));
	target_stop(&t);
}

static void test_inject_traced_target(void)
{
	struct target t;
	char err[256] = "", want[64];
	int st;

	CHECK(built);
	if (!built || !target_start(&t, false)) {
		CHECK(!"target started");
		return;
	}
	CHECK_EQ_INT(ptrace(PTRACE_SEIZE, t.pid, 0, 0), 0);
	CHECK_EQ_INT(pk_inject_library(t.pid, lib_path, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "traced by %d", (int)getpid());
	CHECK(strstr(err, want) != NULL);
	/* let go: a seized thread is detached from a stop */
	ptrace(PTRACE_INTERRUPT, t.pid, 0, 0);
	waitpid(t.pid, &st, __WALL);
	CHECK_EQ_INT(ptrace(PTRACE_DETACH, t.pid, 0, 0), 0);
	CHECK(target_works(&t, '1'));
	target_stop(&t);
}

/* A constructor that never returns: the call is abandoned after its 10 s and the thread gets
 * its own registers back (the loader's lock stays held: the target must not dlopen again). */
static void test_inject_timeout(void)
{
	struct target t;
	char err[256] = "";
	uint64_t t0;

	CHECK(built);
	if (!built || !target_start(&t, false)) {
		CHECK(!"target started");
		return;
	}
	t0 = pk_now_ms();
	CHECK_EQ_INT(pk_inject_library(t.pid, hang_path, err, sizeof(err)), -ETIMEDOUT);
	CHECK(pk_now_ms() - t0 < 20000);
	CHECK(strstr(err, "did not return") != NULL);
	CHECK(target_works(&t, '1'));
	target_stop(&t);
}

/* The executable mapping holding addr: [*lo, *hi). */
static bool text_range(pid_t pid, uint64_t addr, uint64_t *lo, uint64_t *hi)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && addr >= a && addr < b) {
			*lo = a;
			*hi = b;
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void test_poke(void)
{
	struct target t;
	char err[256] = "";
	uint64_t pause_ns = 0, lo = 0, hi = 0;
	struct pk_poke p = { .len = 5,
			     .expect = { 0xb8, 0x01, 0x00, 0x00, 0x00 }, /* mov $1,%eax */
			     .bytes = { 0xb8, 0x02, 0x00, 0x00, 0x00 } };
	struct pk_poke wrong;

	CHECK(built);
	if (!built || !target_start(&t, false)) {
		CHECK(!"target started");
		return;
	}
	p.addr = t.answer;
	CHECK(text_range(t.pid, t.answer, &lo, &hi));
	/* the spinning thread never leaves the program's text */
	p.guard_lo = lo;
	p.guard_hi = hi;
	CHECK_EQ_INT(pk_inject_poke(t.pid, &p, 1, 3, &pause_ns, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "guarded range") != NULL);
	CHECK(target_works(&t, '1'));
	/* unexpected bytes: nothing written */
	wrong = p;
	wrong.guard_lo = wrong.guard_hi = 0;
	wrong.expect[1] = 0x07;
	CHECK_EQ_INT(pk_inject_poke(t.pid, &wrong, 1, 3, &pause_ns, err, sizeof(err)), -EILSEQ);
	CHECK(target_works(&t, '1'));
	/* guard = answer()'s 6 bytes, where no thread waits */
	p.guard_lo = t.answer;
	p.guard_hi = t.answer + 6;
	pause_ns = 0;
	err[0] = '\0';
	CHECK_EQ_INT(pk_inject_poke(t.pid, &p, 1, 3, &pause_ns, err, sizeof(err)), 0);
	if (err[0])
		printf("  err: %s\n", err);
	CHECK(pause_ns > 0 && pause_ns < 2000000000ull);
	CHECK(target_works(&t, '2'));
	CHECK_EQ_INT(pk_inject_poke(-1, &p, 1, 0, NULL, err, sizeof(err)), -ESRCH);
	target_stop(&t);
}

static void cleanup(void)
{
	char cmd[128];

	for (size_t i = 0; i < n_started; i++) {
		kill(started[i], SIGKILL);
		waitpid(started[i], NULL, 0);
	}
	if (made_dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("  could not remove %s\n", dir);
	}
}

int main(void)
{
	if (geteuid() != 0) {
		UNIT_SKIP(test_inject_by_path, "needs root (ptrace)");
		UNIT_SKIP(test_inject_through_memfd, "needs root (ptrace)");
		UNIT_SKIP(test_inject_failures, "needs root (ptrace)");
		UNIT_SKIP(test_inject_traced_target, "needs root (ptrace)");
		UNIT_SKIP(test_inject_timeout, "needs root (ptrace)");
		UNIT_SKIP(test_poke, "needs root (ptrace)");
		return 0;
	}
	built = build();
	UNIT_RUN(test_inject_by_path);
	UNIT_RUN(test_inject_through_memfd);
	UNIT_RUN(test_inject_failures);
	UNIT_RUN(test_inject_traced_target);
	UNIT_RUN(test_inject_timeout);
	UNIT_RUN(test_poke);
	cleanup();
	return unit_done();
}
