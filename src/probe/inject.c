/* inject.c — loads a shared library into a live process: dlopen is called inside the target
 * on one of its threads (remote.c), the only thread ever stopped.
 *
 * Steps (CRIU/compel's prepare -> infect -> cure):
 *   checks      the process exists, nobody traces it, the library exists, it is not loaded yet
 *   resolve     dlopen, dlerror, memfd_create and close in the target's libc: its mapping in
 *               /proc/PID/maps, the file through /proc/PID/map_files (any mount namespace),
 *               .dynsym read with libelf, plus the mapping's load bias
 *   reach       the same file at the same path inside the target (same st_dev and st_ino
 *               through /proc/PID/root): dlopen that path; else a memfd created in the target
 *               (memfd_create called there), filled from our side through /proc/PID/fd/N and
 *               opened as /proc/self/fd/N — works where /tmp or /dev/shm is noexec; the fd is
 *               closed after dlopen (the mapping stays), maps shows "/memfd:NAME (deleted)"
 *   call        dlopen(path, RTLD_NOW); on NULL, dlerror() and its text
 *   cure        registers, FPU state and stack bytes restored, detach
 * The thread: one blocked in a syscall where it holds no libc lock (read, poll, epoll_wait,
 * nanosleep, accept, ...: /proc/PID/task/TID/syscall), else the main thread — dlopen on a
 * thread interrupted inside malloc would wait for itself (then: -ETIMEDOUT).
 */
#include "probe/inject.h"

#include "common/errbuf.h"
#include "probe/inject_int.h"
#include "probe/probe_int.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001u
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010u
#endif

#define PK_INJECT_STOP_MS 2000	/* for the thread to stop */
#define PK_INJECT_CALL_MS 10000 /* for dlopen (constructors included) to return */
#define PK_INJECT_SMALL_MS 2000 /* for memfd_create, dlerror, close */
#define PK_INJECT_ERRTEXT 512

enum { SYM_DLOPEN, SYM_DLERROR, SYM_MEMFD_CREATE, SYM_CLOSE, SYM_N };
static const char *const sym_names[SYM_N] = { "dlopen", "dlerror", "memfd_create", "close" };

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* A mapped file's name against `name`: the base name, without " (deleted)", without the
 * "memfd:" of a library we loaded through a memfd. */
static bool map_name_is(const char *path, const char *name)
{
	const char *base = strncmp(path, "/memfd:", 7) == 0 ? path + 7 : base_name(path);
	size_t len = strlen(base), del = strlen(" (deleted)");

	if (len >= del && strcmp(base + len - del, " (deleted)") == 0)
		len -= del;
	return len == strlen(name) && memcmp(base, name, len) == 0;
}

bool pk_inject_is_loaded(pid_t pid, const char *name)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	struct pk_maps_line m;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0)
		found = pk_maps_parse(line, &m) && m.path[0] && map_name_is(m.path, name);
	free(line);
	fclose(f);
	return found;
}

static bool is_libc_name(const char *base)
{
	return strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-2.", 7) == 0 ||
	       strncmp(base, "ld-musl-", 8) == 0;
}

/* Opens the target's libc (the mapping at file offset 0) from our side; *lo gets its start. */
static int open_target_libc(pid_t pid, unsigned long *lo, char *err, size_t errlen)
{
	char path[64], *line = NULL, file[PATH_MAX + 64];
	size_t cap = 0;
	struct pk_maps_line m;
	int fd = -1, rc = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pk_errbuf_set(-errno, err, errlen, "open %s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		if (!pk_maps_parse(line, &m) || m.off != 0 || m.path[0] != '/' ||
		    !is_libc_name(base_name(m.path)))
			continue;
		*lo = m.lo;
		snprintf(file, sizeof(file), "/proc/%d/map_files/%lx-%lx", (int)pid, m.lo, m.hi);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(file, sizeof(file), "/proc/%d/root%s", (int)pid, m.path);
			fd = open(file, O_RDONLY | O_CLOEXEC);
		}
		rc = fd < 0 ? pk_errbuf_set(-errno, err, errlen, "open %s: %s", file,
					    strerror(errno))
			    : fd;
		break;
	}
	free(line);
	fclose(f);
	if (rc == -ENOENT)
		pk_errbuf_set(rc, err, errlen, "no libc mapped in %d", (int)pid);
	return rc;
}

/* The lowest PT_LOAD's page: what the mapping at file offset 0 starts with. */
static int elf_first_load(Elf *elf, uint64_t *vaddr)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n) != 0)
		return -ENOEXEC;
	*vaddr = UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < *vaddr)
			*vaddr = ph.p_vaddr & ~0xfffull;
	return *vaddr == UINT64_MAX ? -ENOEXEC : 0;
}

/* Fills addr[] with the run-time addresses of sym_names in the ELF file `fd` loaded at `bias`
 * (0 for a symbol not found).  Of several versions of a name, the default one wins. */
static int elf_dynsyms(Elf *elf, uint64_t bias, uint64_t *addr)
{
	Elf_Scn *scn = NULL, *dynsym = NULL, *versym = NULL;
	GElf_Shdr sh, dsh;
	Elf_Data *data, *vdata = NULL;
	bool hidden_only[SYM_N] = { 0 };

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM)
			dynsym = scn;
		else if (sh.sh_type == SHT_GNU_versym)
			versym = scn;
	}
	if (!dynsym || !gelf_getshdr(dynsym, &dsh) || !(data = elf_getdata(dynsym, NULL)))
		return -ENOEXEC;
	if (versym)
		vdata = elf_getdata(versym, NULL);
	for (size_t i = 0; dsh.sh_entsize && i < dsh.sh_size / dsh.sh_entsize; i++) {
		GElf_Sym sym;
		GElf_Versym vs = 0;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
		     GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC))
			continue;
		name = elf_strptr(elf, dsh.sh_link, sym.st_name);
		if (!name)
			continue;
		if (vdata)
			gelf_getversym(vdata, (int)i, &vs);
		for (int k = 0; k < SYM_N; k++) {
			bool hidden = (vs & 0x8000) != 0;

			if (strcmp(name, sym_names[k]) != 0 ||
			    (addr[k] && (hidden || !hidden_only[k])))
				continue;
			addr[k] = bias + sym.st_value;
			hidden_only[k] = hidden;
		}
	}
	return 0;
}

/* The addresses of sym_names in `pid` (dlopen is required; the others may be 0). */
static int resolve_libc(pid_t pid, uint64_t *addr, char *err, size_t errlen)
{
	unsigned long lo = 0;
	uint64_t first;
	Elf *elf;
	int fd, rc;

	memset(addr, 0, SYM_N * sizeof(*addr));
	fd = open_target_libc(pid, &lo, err, errlen);
	if (fd < 0)
		return fd;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		rc = pk_errbuf_set(-ENOEXEC, err, errlen, "libc of %d: %s", (int)pid,
				   elf_errmsg(-1));
		goto undo_open;
	}
	rc = elf_first_load(elf, &first);
	if (rc == 0)
		rc = elf_dynsyms(elf, lo - first, addr);
	if (rc < 0)
		pk_errbuf_set(rc, err, errlen, "libc of %d: no program headers or no .dynsym",
			      (int)pid);
	else if (!addr[SYM_DLOPEN])
		rc = pk_errbuf_set(-ENOENT, err, errlen,
				   "no dlopen in the libc of %d (glibc older than 2.34?)",
				   (int)pid);
	elf_end(elf);
undo_open:
	close(fd);
	return rc;
}

/* A thread blocked where it holds no libc lock, else the main thread. */
static pid_t pick_thread(pid_t pid)
{
	static const long safe[] = {
		SYS_read,  SYS_poll,	    SYS_select,		 SYS_nanosleep,
		SYS_pause, SYS_accept,	    SYS_recvfrom,	 SYS_recvmsg,
		SYS_wait4, SYS_epoll_wait,  SYS_clock_nanosleep, SYS_pselect6,
		SYS_ppoll, SYS_epoll_pwait, SYS_accept4,	 SYS_epoll_pwait2
	};
	char path[96], buf[64];
	struct dirent *de;
	pid_t chosen = pid;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return pid;
	while (chosen == pid && (de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10), nr;
		ssize_t n;
		int fd;

		if (*end || tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/syscall", (int)pid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		nr = strtol(buf, &end, 10);
		if (end == buf)
			continue; /* "running" */
		for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
			if (nr == safe[i])
				chosen = (pid_t)tid;
	}
	closedir(d);
	return chosen;
}

/* Reads the NUL-terminated string at `addr` in the target (cut to len - 1 bytes). */
static void read_target_string(int memfd, uint64_t addr, char *buf, size_t len)
{
	size_t got = 0;

	buf[0] = '\0';
	while (got + 1 < len) {
		size_t chunk = 4096 - ((addr + got) & 4095);

		if (chunk > len - 1 - got)
			chunk = len - 1 - got;
		if (pk_ptrace_mem_read(memfd, addr + got, buf + got, chunk) < 0)
			break;
		got += chunk;
		buf[got] = '\0';
		if (memchr(buf + got - chunk, '\0', chunk))
			break;
	}
	buf[got] = '\0';
}

/* Copies the file `src` into the target's fd `tfd` from our side. */
static int copy_into_target_fd(pid_t pid, int tfd, const char *src, char *err, size_t errlen)
{
	char path[64];
	char *buf;
	int in, out, rc = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, tfd);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return pk_errbuf_set(-errno, err, errlen, "open %s: %s", src, strerror(errno));
	out = open(path, O_WRONLY | O_CLOEXEC);
	if (out < 0) {
		rc = pk_errbuf_set(-errno, err, errlen, "open %s: %s", path, strerror(errno));
		goto undo_in;
	}
	buf = malloc(65536);
	if (!buf) {
		rc = pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
		goto undo_out;
	}
	while ((n = read(in, buf, 65536)) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			rc = pk_errbuf_set(-EIO, err, errlen, "write %s: %s", path,
					   strerror(errno));
			break;
		}
	}
	if (n < 0)
		rc = pk_errbuf_set(-errno, err, errlen, "read %s: %s", src, strerror(errno));
	free(buf);
undo_out:
	close(out);
undo_in:
	close(in);
	return rc;
}

/* memfd_create(name) inside the target; *tfd gets the target's fd. */
static int target_memfd(struct pk_remote *r, const uint64_t *sym, const char *name, int *tfd,
			char *err, size_t errlen)
{
	static const unsigned flags[] = { MFD_CLOEXEC | MFD_EXEC, MFD_CLOEXEC };
	size_t len = strlen(name) + 1;
	uint64_t ret = (uint64_t)-1;

	if (!sym[SYM_MEMFD_CREATE])
		return pk_errbuf_set(-ENOENT, err, errlen, "no memfd_create in the libc of %d",
				     (int)r->pid);
	/* MFD_EXEC first (kernels >= 6.3 with vm.memfd_noexec), then without (older ones) */
	for (size_t i = 0; i < 2 && (int)ret < 0; i++) {
		uint64_t args[2] = { pk_remote_data_addr(r, len), flags[i] };
		int rc = pk_remote_call(r, sym[SYM_MEMFD_CREATE], args, 2, name, len,
					PK_INJECT_SMALL_MS, &ret, err, errlen);

		if (rc < 0)
			return rc;
	}
	if ((int)ret < 0)
		return pk_errbuf_set(-EIO, err, errlen, "memfd_create failed in %d", (int)r->pid);
	*tfd = (int)ret;
	return 0;
}

/* dlopen(path, RTLD_NOW) inside the target; on NULL the reason is dlerror's text. */
static int target_dlopen(struct pk_remote *r, const uint64_t *sym, const char *path, char *err,
			 size_t errlen)
{
	size_t len = strlen(path) + 1;
	uint64_t args[2] = { pk_remote_data_addr(r, len), RTLD_NOW }, handle = 0, msg = 0;
	char text[PK_INJECT_ERRTEXT];
	int rc;

	rc = pk_remote_call(r, sym[SYM_DLOPEN], args, 2, path, len, PK_INJECT_CALL_MS, &handle, err,
			    errlen);
	if (rc < 0 || handle)
		return rc;
	text[0] = '\0';
	if (sym[SYM_DLERROR] &&
	    pk_remote_call(r, sym[SYM_DLERROR], NULL, 0, NULL, 0, PK_INJECT_SMALL_MS, &msg, err,
			   errlen) == 0 &&
	    msg)
		read_target_string(r->memfd, msg, text, sizeof(text));
	return pk_errbuf_set(-ENOEXEC, err, errlen, "dlopen in %d failed: %s", (int)r->pid,
			     text[0] ? text : "(no dlerror text)");
}

/* True when `path` inside pid's mount namespace is the file `st`. */
static bool same_file_in_target(pid_t pid, const char *path, const struct stat *st)
{
	char tpath[PATH_MAX + 64];
	struct stat ts;

	if ((size_t)snprintf(tpath, sizeof(tpath), "/proc/%d/root%s", (int)pid, path) >=
	    sizeof(tpath))
		return false;
	return stat(tpath, &ts) == 0 && ts.st_dev == st->st_dev && ts.st_ino == st->st_ino;
}

int pk_inject_library(pid_t pid, const char *host_path, char *err, size_t errlen)
{
	char abs[PATH_MAX], procdir[64], fdpath[64];
	uint64_t sym[SYM_N], ret;
	struct pk_remote *r;
	struct stat st;
	int rc, tfd = -1;

	snprintf(procdir, sizeof(procdir), "/proc/%d", (int)pid);
	if (pid <= 0 || stat(procdir, &st) < 0)
		return pk_errbuf_set(-ESRCH, err, errlen, "no process %d", (int)pid);
	rc = pk_ptrace_untraced(pid, err, errlen);
	if (rc)
		return rc;
	if (!realpath(host_path, abs) || stat(abs, &st) < 0)
		return pk_errbuf_set(-errno, err, errlen, "library %s: %s", host_path,
				     strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pk_errbuf_set(-EINVAL, err, errlen, "library %s: not a regular file",
				     host_path);
	if (strlen(abs) + 1 > PK_REMOTE_DATA_MAX)
		return pk_errbuf_set(-ENAMETOOLONG, err, errlen, "library path too long");
	if (pk_inject_is_loaded(pid, base_name(abs)))
		return 0;
	rc = resolve_libc(pid, sym, err, errlen);
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	rc = pk_remote_attach(r, pid, pick_thread(pid), PK_INJECT_STOP_MS, err, errlen);
	if (rc < 0)
		goto undo_alloc;
	if (!same_file_in_target(pid, abs, &st)) {
		rc = target_memfd(r, sym, base_name(abs), &tfd, err, errlen);
		if (rc < 0)
			goto undo_attach;
		rc = copy_into_target_fd(pid, tfd, abs, err, errlen);
		if (rc < 0)
			goto undo_memfd;
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", tfd);
	}
	rc = target_dlopen(r, sym, tfd >= 0 ? fdpath : abs, err, errlen);
undo_memfd:
	/* after a timeout the thread is stopped inside dlopen: no call on top of it */
	if (tfd >= 0 && r->attached && rc != -ETIMEDOUT && sym[SYM_CLOSE]) {
		uint64_t arg = (uint64_t)tfd;
		char ignored[8];

		pk_remote_call(r, sym[SYM_CLOSE], &arg, 1, NULL, 0, PK_INJECT_SMALL_MS, &ret,
			       ignored, sizeof(ignored));
	}
undo_attach:
	if (pk_remote_detach(r) < 0 && rc == 0)
		rc = pk_errbuf_set(-EIO, err, errlen, "could not restore thread %d of %d",
				   (int)r->tid, (int)pid);
undo_alloc:
	free(r);
	return rc;
}
