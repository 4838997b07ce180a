/* target.c — a live target process seen by the tools: its modules and their probe tables (read
 * through /proc/PID/map_files/, so namespaces do not matter), its libiprobe segment, and the
 * batches that switch probes.
 *
 * Batches: a tool takes the segment's lock word (compare-and-swap 0 -> its pid; a lock held by
 * a dead pid is taken over), fills the requests, bumps req_seq and wakes libiprobe's control
 * thread with a futex, then waits on ack_seq with a deadline, checking that the target lives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "probe/inject.h"
#include "probe/probe.h"
#include "probe/probe_int.h"
#include "probe/shm.h"

#define BATCH_TIMEOUT_MS 10000

/* A line of /proc/PID/maps, its path copied (kept across lines). */
struct map_line {
	uint64_t lo, hi, off;
	char path[PATH_MAX];
};

static bool map_parse(char *line, struct map_line *m)
{
	struct pk_maps_line l;

	if (!pk_maps_parse(line, &l))
		return false;
	m->lo = l.lo;
	m->hi = l.hi;
	m->off = l.off;
	snprintf(m->path, sizeof(m->path), "%s", l.path);
	return true;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* True when file `want` names the mapped path (the same path, or the same base name). */
static bool file_matches(const char *want, const char *path)
{
	const char *b = strrchr(path, '/');

	if (!strcmp(want, path))
		return true;
	return !strchr(want, '/') && b && !strcmp(b + 1, want);
}

int pk_elf_load_bias(int fd, uint64_t base, uint64_t *bias)
{
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;
	uint64_t lo = UINT64_MAX;
	size_t n = 0;
	int rc = -ENOEXEC;

	if (!e)
		return -ENOEXEC;
	if (!gelf_getehdr(e, &eh) || elf_getphdrnum(e, &n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lo)
			lo = ph.p_vaddr & ~(uint64_t)4095;
	}
	if (lo == UINT64_MAX)
		goto out;
	*bias = eh.e_type == ET_EXEC ? 0 : base - lo;
	rc = 0;
out:
	elf_end(e);
	return rc;
}

/* Adds the module mapped as m (its offset-0 mapping) to t, with its probe table. */
static int module_add(struct pk_probe_target *t, const struct map_line *m, uint64_t hi, char *err,
		      size_t errlen)
{
	char mf[128];
	struct pk_probe_module *mods, *mod;
	int fd, rc;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", (int)t->pid,
		 (unsigned long long)m->lo, (unsigned long long)m->hi);
	fd = open(mf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pk_errbuf_set(-errno, err, errlen, "open %s (%s): %s", mf, m->path,
				     strerror(errno));
	mods = realloc(t->mods, (t->nmods + 1) * sizeof(*mods));
	if (!mods) {
		close(fd);
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	}
	t->mods = mods;
	mod = &mods[t->nmods];
	memset(mod, 0, sizeof(*mod));
	mod->lo = m->lo;
	mod->hi = hi;
	rc = pk_elf_load_bias(fd, m->lo, &mod->bias);
	if (rc) {
		close(fd);
		return pk_errbuf_set(rc, err, errlen, "%s: not an ELF file", m->path);
	}
	rc = pk_probe_table_load_fd(fd, m->path, &mod->table, err, errlen);
	close(fd);
	if (rc)
		return rc;
	mod->path = strdup(m->path);
	if (!mod->path) {
		pk_probe_table_release(&mod->table);
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	}
	t->nmods++;
	return 0;
}

/* Maps the target's libiprobe segment when its maps show one; 0, -ENOENT (none) or -errno. */
static int shm_attach(struct pk_probe_target *t, char *err, size_t errlen)
{
	char path[64], line[PATH_MAX + 128];
	struct map_line m;
	FILE *f;
	int fd, rc = -ENOENT;
	struct stat st;
	void *p;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	f = fopen(path, "re");
	if (!f)
		return pk_errbuf_set(-errno, err, errlen, "read %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		const char *b;

		if (!map_parse(line, &m) || m.off != 0)
			continue;
		b = strrchr(m.path, '/');
		if (b && !strncmp(b + 1, PK_IPROBE_SHM_PREFIX, strlen(PK_IPROBE_SHM_PREFIX))) {
			rc = 0;
			break;
		}
	}
	fclose(f);
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "process %d has no libiprobe segment",
				     (int)t->pid);
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)t->pid,
		 (unsigned long long)m.lo, (unsigned long long)m.hi);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return pk_errbuf_set(-errno, err, errlen, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(struct pk_iprobe_shm)) {
		close(fd);
		return pk_errbuf_set(-EINVAL, err, errlen, "libiprobe segment of %d is too small",
				     (int)t->pid);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return pk_errbuf_set(-errno, err, errlen, "map libiprobe segment: %s",
				     strerror(errno));
	rc = pk_shm_check(p, (size_t)st.st_size, err, errlen);
	if (rc) {
		munmap(p, (size_t)st.st_size);
		return rc;
	}
	t->shm = p;
	t->shm_size = (size_t)st.st_size;
	return 0;
}

int pk_probe_open(pid_t pid, const char *const *files, size_t nfiles, struct pk_probe_target *t,
		  char *err, size_t errlen)
{
	char path[64], exe[PATH_MAX], line[PATH_MAX + 128];
	struct map_line m, first = { 0 };
	bool have_first = false, *found = NULL;
	FILE *f;
	ssize_t n;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	elf_version(EV_CURRENT);
	if (pid <= 0)
		return pk_errbuf_set(-EINVAL, err, errlen, "bad pid %d", (int)pid);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return pk_errbuf_set(-ESRCH, err, errlen, "no process %d", (int)pid);
		return pk_errbuf_set(rc, err, errlen, "process %d: %s", (int)pid,
				     rc == -EACCES || rc == -EPERM ? "not permitted (run as root)"
								   : strerror(-rc));
	}
	exe[n] = 0;
	if (nfiles) {
		found = calloc(nfiles, sizeof(*found));
		if (!found)
			return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		free(found);
		return pk_errbuf_set(-errno, err, errlen, "read %s: %s", path, strerror(errno));
	}
	/* a module = the run of mappings of one file that starts at offset 0 */
	for (;;) {
		bool more = fgets(line, sizeof(line), f) != NULL;

		if (more && !map_parse(line, &m))
			continue;
		if (have_first && (!more || strcmp(m.path, first.path) || m.off == 0)) {
			bool want = false;

			if (!nfiles) {
				want = !strcmp(first.path, exe);
			} else {
				for (size_t i = 0; i < nfiles; i++)
					if (!found[i] && file_matches(files[i], first.path))
						want = found[i] = true;
			}
			if (want) {
				rc = module_add(t, &first, m.lo, err, errlen);
				if (rc)
					break;
			}
			have_first = false;
		}
		if (!more)
			break;
		if (m.off == 0 && m.path[0] == '/') {
			first = m;
			have_first = true;
		}
	}
	fclose(f);
	for (size_t i = 0; !rc && i < nfiles; i++)
		if (!found[i])
			rc = pk_errbuf_set(-ENOENT, err, errlen, "process %d maps no file '%s'",
					   (int)pid, files[i]);
	free(found);
	if (!rc && !t->nmods)
		rc = pk_errbuf_set(-ENOENT, err, errlen,
				   "process %d: executable %s not found in its maps", (int)pid,
				   exe);
	if (!rc) {
		rc = shm_attach(t, err, errlen);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc)
		pk_probe_close(t);
	return rc;
}

void pk_probe_close(struct pk_probe_target *t)
{
	for (size_t i = 0; i < t->nmods; i++) {
		free(t->mods[i].path);
		pk_probe_table_release(&t->mods[i].table);
	}
	free(t->mods);
	free(t->idx);
	if (t->shm)
		munmap(t->shm, t->shm_size);
	memset(t, 0, sizeof(*t));
}

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

int pk_probe_segment(struct pk_probe_target *t, char *err, size_t errlen)
{
	if (t->shm)
		return 0;
	if (!alive(t->pid))
		return pk_errbuf_set(-ESRCH, err, errlen, "process %d exited", (int)t->pid);
	return shm_attach(t, err, errlen);
}

int pk_probe_attach(struct pk_probe_target *t, const char *lib_path, int timeout_ms, char *err,
		    size_t errlen)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int rc;

	if (t->shm)
		return 0;
	rc = pk_inject_library(t->pid, lib_path, err, errlen);
	if (rc)
		return rc;
	for (;;) {
		rc = shm_attach(t, err, errlen);
		if (rc != -ENOENT && rc != -EINVAL)
			return rc;
		if (!alive(t->pid))
			return pk_errbuf_set(-ESRCH, err, errlen, "process %d exited", (int)t->pid);
		if (now_ms() > deadline)
			return pk_errbuf_set(-ETIMEDOUT, err, errlen,
					     "libiprobe is loaded in %d but its segment did not "
					     "appear within %d ms (is /dev/shm a tmpfs there?)",
					     (int)t->pid, timeout_ms);
		/* the segment is created by the library's constructor: poll for it */
		struct timespec d = { 0, 5 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
}

bool pk_probe_id_valid(const struct pk_probe_target *t, uint32_t id)
{
	return t->shm && id < t->shm->max_probes &&
	       (pk_shm_probe(t->shm, id)->flags & PK_IPROBE_F_USED);
}

static size_t idx_slot(const struct pk_probe_target *t, uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 20) & (t->idx_cap - 1);
}

/* Adds the registry entries [t->idx_n, n) to the index (grown to stay under half full);
 * false when memory ran out (the caller scans instead). */
static bool idx_sync(struct pk_probe_target *t, uint32_t n)
{
	if ((size_t)n * 2 > t->idx_cap) {
		size_t cap = t->idx_cap ? t->idx_cap : 1024;
		uint32_t *nw;

		while ((size_t)n * 2 > cap)
			cap *= 2;
		nw = calloc(cap, sizeof(*nw));
		if (!nw)
			return false;
		free(t->idx);
		t->idx = nw;
		t->idx_cap = cap;
		t->idx_n = 0;
	}
	for (; t->idx_n < n; t->idx_n++) {
		const struct pk_iprobe_probe *p = pk_shm_probe(t->shm, t->idx_n);
		size_t k = idx_slot(t, p->addr);

		if (!(__atomic_load_n(&p->flags, __ATOMIC_ACQUIRE) & PK_IPROBE_F_USED))
			continue;
		while (t->idx[k])
			k = (k + 1) & (t->idx_cap - 1);
		t->idx[k] = t->idx_n + 1;
	}
	return true;
}

const struct pk_iprobe_probe *pk_probe_find(struct pk_probe_target *t, uint64_t addr)
{
	uint32_t n;

	if (!t->shm)
		return NULL;
	n = __atomic_load_n(&t->shm->nprobes, __ATOMIC_ACQUIRE);
	if (n > t->shm->max_probes)
		n = t->shm->max_probes;
	if (!idx_sync(t, n)) {
		for (uint32_t i = 0; i < n; i++) {
			const struct pk_iprobe_probe *p = pk_shm_probe(t->shm, i);

			if ((p->flags & PK_IPROBE_F_USED) && p->addr == addr)
				return p;
		}
		return NULL;
	}
	if (!t->idx)
		return NULL; /* an empty registry */
	for (size_t k = idx_slot(t, addr); t->idx[k]; k = (k + 1) & (t->idx_cap - 1)) {
		const struct pk_iprobe_probe *p = pk_shm_probe(t->shm, t->idx[k] - 1);

		if (p->addr == addr)
			return p;
	}
	return NULL;
}

/* The registry id of function f of module mod (registered if new); -ENOSPC when full. */
static int64_t probe_id(struct pk_probe_target *t, const struct pk_probe_module *mod,
			const struct pk_func *f)
{
	struct pk_iprobe_shm *s = t->shm;
	const struct pk_iprobe_probe *have = pk_probe_find(t, f->addr + mod->bias);
	struct pk_iprobe_probe *p;
	uint32_t n;

	if (have)
		return (int64_t)(have - pk_shm_probe(s, 0));
	n = s->nprobes;
	if (n >= s->max_probes)
		return -ENOSPC;
	p = pk_shm_probe(s, n);
	memset(p, 0, sizeof(*p));
	p->addr = f->addr + mod->bias;
	snprintf(p->name, sizeof(p->name), "%s", f->name);
	__atomic_store_n(&p->flags, PK_IPROBE_F_USED, __ATOMIC_RELEASE);
	__atomic_store_n(&s->nprobes, n + 1, __ATOMIC_RELEASE);
	return n;
}

static int lock_take(struct pk_iprobe_shm *s, char *err, size_t errlen)
{
	uint32_t me = (uint32_t)getpid();
	uint64_t deadline = now_ms() + BATCH_TIMEOUT_MS;

	for (;;) {
		uint32_t want = 0;

		if (__atomic_compare_exchange_n(&s->lock, &want, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 0;
		if (want && kill((pid_t)want, 0) && errno == ESRCH &&
		    __atomic_compare_exchange_n(&s->lock, &want, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 0; /* its holder died */
		if (now_ms() > deadline)
			return pk_errbuf_set(-EBUSY, err, errlen,
					     "another parikshan (pid %u) is switching probes",
					     want);
		struct timespec d = { 0, 1000 * 1000 }; /* back-off while another tool works */
		nanosleep(&d, NULL);
	}
}

/* The error of a target whose libiprobe is not loaded (-ENOENT). */
static int not_loaded(const struct pk_probe_target *t, char *err, size_t errlen)
{
	return pk_errbuf_set(-ENOENT, err, errlen, "libiprobe is not loaded in %d", (int)t->pid);
}

/* Takes the request lock of t's segment; 0, or -ENOENT (not loaded) / lock_take's error. */
static int target_lock(struct pk_probe_target *t, char *err, size_t errlen)
{
	return t->shm ? lock_take(t->shm, err, errlen) : not_loaded(t, err, errlen);
}

/* The error of a full registry (id: probe_id's negative result). */
static int registry_full(const struct pk_probe_target *t, int64_t id, char *err, size_t errlen)
{
	return pk_errbuf_set((int)id, err, errlen,
			     "the probe registry of %d is full (%u functions)", (int)t->pid,
			     t->shm->max_probes);
}

static void lock_drop(struct pk_iprobe_shm *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

/* Sends the nreq requests already in the segment and waits for libiprobe's answer. */
static int batch_run(struct pk_probe_target *t, uint32_t nreq, char *err, size_t errlen)
{
	struct pk_iprobe_shm *s = t->shm;
	uint64_t deadline = now_ms() + BATCH_TIMEOUT_MS;
	uint32_t seq;

	__atomic_store_n(&s->nreq, nreq, __ATOMIC_RELEASE);
	seq = __atomic_add_fetch(&s->req_seq, 1, __ATOMIC_ACQ_REL);
	syscall(SYS_futex, &s->req_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	for (;;) {
		uint32_t ack = __atomic_load_n(&s->ack_seq, __ATOMIC_ACQUIRE);
		struct timespec d = { 0, 100 * 1000 * 1000 };

		if (ack == seq)
			return 0;
		if (!alive(t->pid))
			return pk_errbuf_set(-ESRCH, err, errlen,
					     "process %d exited while probes were "
					     "being switched",
					     (int)t->pid);
		if (now_ms() > deadline)
			return pk_errbuf_set(-ETIMEDOUT, err, errlen,
					     "libiprobe in %d did not answer within %d ms",
					     (int)t->pid, BATCH_TIMEOUT_MS);
		syscall(SYS_futex, &s->ack_seq, FUTEX_WAIT, ack, &d, NULL, 0);
	}
}

static bool func_matches(const char *name, const char *const *globs, size_t nglobs)
{
	if (!nglobs)
		return true;
	for (size_t i = 0; i < nglobs; i++)
		if (!fnmatch(globs[i], name, 0))
			return true;
	return false;
}

/* Writes through ptrace (poke.c) the requests libiprobe handed back (-EAGAIN). */
static int batch_fallback(struct pk_probe_target *t, uint32_t nreq,
			  struct pk_probe_switch_stats *st, char *err, size_t errlen)
{
	struct pk_poke *pokes = NULL;
	size_t n = 0;
	uint64_t pause = 0;
	int rc = 0;

	for (uint32_t i = 0; i < nreq; i++) {
		const struct pk_iprobe_req *r = &t->shm->req[i];
		struct pk_poke *p;
		uint8_t call[5];
		int32_t rel;

		if (r->result != -EAGAIN)
			continue;
		if (!pokes) {
			pokes = calloc(nreq, sizeof(*pokes));
			if (!pokes)
				return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
		}
		rel = (int32_t)(int64_t)(r->stub - (r->site + 5));
		call[0] = 0xe8;
		memcpy(call + 1, &rel, 4);
		p = &pokes[n++];
		p->addr = r->site;
		p->len = 5;
		memcpy(p->bytes, r->op == PK_IPROBE_OP_ENABLE ? call : r->nop, 5);
		memcpy(p->expect, r->op == PK_IPROBE_OP_ENABLE ? r->nop : call, 5);
		p->guard_lo = r->site + 1;
		p->guard_hi = r->site + 5;
		/* a thread between the NOPs (one or five) may go on after them; one that reaches
		 * the site while it changes skips it: the probe's one hit is lost, nothing else
		 * (switching off, the bytes are one call: no thread is inside) */
		p->skip_to = r->site + 5;
	}
	if (n) {
		rc = pk_inject_poke(t->pid, pokes, n, 20, &pause, err, errlen);
		if (!rc) {
			st->stopped += n;
			st->sites += n;
			if (pause > st->pause_ns)
				st->pause_ns = pause;
		}
	}
	free(pokes);
	return rc;
}

/* Executes the batch of nreq requests and accounts its results. */
static int batch_finish(struct pk_probe_target *t, uint32_t nreq, struct pk_probe_switch_stats *st,
			char *err, size_t errlen)
{
	struct timespec a, b;
	uint64_t ns;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = batch_run(t, nreq, err, errlen);
	if (rc)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
	     (uint64_t)a.tv_nsec;
	if (ns > st->batch_ns)
		st->batch_ns = ns;
	for (uint32_t i = 0; i < nreq; i++) {
		const struct pk_iprobe_req *r = &t->shm->req[i];

		if (r->result == -EILSEQ)
			return pk_errbuf_set(-EILSEQ, err, errlen,
					     "unexpected bytes at site 0x%llx: the process's code "
					     "differs from its probe table",
					     (unsigned long long)r->site);
		if (r->result < 0 && r->result != -EAGAIN)
			return pk_errbuf_set(r->result, err, errlen, "switch site 0x%llx: %s",
					     (unsigned long long)r->site, strerror(-r->result));
		if (r->result == 0 || r->result == PK_IPROBE_DEFERRED)
			st->sites++;
		else if (r->result == PK_IPROBE_ALREADY)
			st->already++;
		st->deferred += r->result == PK_IPROBE_DEFERRED;
	}
	st->trap_hits += t->shm->trap_hits;
	st->trap_signalled += t->shm->trap_signalled;
	st->trap_moved += t->shm->trap_moved;
	if (t->shm->trap_ns > st->trap_ns)
		st->trap_ns = t->shm->trap_ns;
	return batch_fallback(t, nreq, st, err, errlen);
}

int pk_probe_switch(struct pk_probe_target *t, const char *const *globs, size_t nglobs, bool on,
		    unsigned kinds, struct pk_probe_switch_stats *st, char *err, size_t errlen)
{
	struct pk_iprobe_shm *s = t->shm;
	uint32_t nreq = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = target_lock(t, err, errlen);
	if (rc)
		return rc;
	for (size_t m = 0; !rc && m < t->nmods; m++) {
		const struct pk_probe_module *mod = &t->mods[m];
		const struct pk_probe_table *tb = &mod->table;

		for (size_t i = 0; !rc && i < tb->nsites; i++) {
			const struct pk_site *site = &tb->sites[i];
			const struct pk_func *f = &tb->funcs[site->func];
			struct pk_iprobe_req *r;
			int64_t id;

			if (!(kinds &
			      (site->kind == PK_SITE_EXIT ? PK_PROBE_EXIT : PK_PROBE_ENTRY)) ||
			    !func_matches(f->name, globs, nglobs))
				continue;
			/* A function never registered was never switched on (registering comes
			 * first): its sites are still the cold patch's NOPs.  Skipping it keeps a
			 * disable of every function from filling the registry and from costing a
			 * registry scan per site of the whole program. */
			if (!on && !pk_probe_find(t, f->addr + mod->bias))
				continue;
			id = probe_id(t, mod, f);
			if (id < 0) {
				rc = registry_full(t, id, err, errlen);
				break;
			}
			r = &s->req[nreq++];
			memset(r, 0, sizeof(*r));
			r->site = site->addr + mod->bias;
			r->probe = (uint32_t)id << 1 |
				   (site->kind == PK_SITE_EXIT ? PK_IPROBE_EXIT : 0);
			r->op = on ? PK_IPROBE_OP_ENABLE : PK_IPROBE_OP_DISABLE;
			r->how = site->how;
			r->len = site->len;
			memcpy(r->nop, site->nop, sizeof(r->nop));
			if (nreq == PK_IPROBE_MAX_REQ) {
				rc = batch_finish(t, nreq, st, err, errlen);
				nreq = 0;
			}
		}
	}
	if (!rc && nreq)
		rc = batch_finish(t, nreq, st, err, errlen);
	/* registry flags and the count of functions matched */
	for (size_t m = 0; !rc && m < t->nmods; m++) {
		const struct pk_probe_table *tb = &t->mods[m].table;

		for (size_t i = 0; i < tb->nfuncs; i++) {
			const struct pk_iprobe_probe *cp;
			struct pk_iprobe_probe *p;

			if (!func_matches(tb->funcs[i].name, globs, nglobs))
				continue;
			if (!on)
				st->funcs++; /* matched, and off now (registered or not) */
			cp = pk_probe_find(t, tb->funcs[i].addr + t->mods[m].bias);
			if (!cp)
				continue;
			if (on)
				st->funcs++;
			p = (struct pk_iprobe_probe *)cp;
			/* on: the user's word wins over the budget's earlier decision */
			if (on)
				__atomic_and_fetch(&p->flags, ~(uint32_t)PK_IPROBE_F_AUTOOFF,
						   __ATOMIC_RELEASE);
			if (on)
				__atomic_or_fetch(&p->flags, PK_IPROBE_F_ON, __ATOMIC_RELEASE);
			else
				__atomic_and_fetch(&p->flags, ~PK_IPROBE_F_ON, __ATOMIC_RELEASE);
		}
	}
	lock_drop(s);
	if (!rc && !st->funcs)
		rc = pk_errbuf_set(-ENOENT, err, errlen, "no function of %d matches", (int)t->pid);
	return rc;
}

/* What to do to one matching registry entry. */
struct entry_op {
	uint32_t flag; /* or/clear this flag ... */
	bool on;       /* ... (on: or) */
	bool sample;   /* instead: store log2 into the entry's sample */
	uint32_t log2;
};

/* Applies op to the registry entry of every function matching globs (registering it when op
 * sets something; never registering one to clear a flag or set its rate back to all calls);
 * *funcs: how many.  0 or -errno with a reason. */
static int for_matching(struct pk_probe_target *t, const char *const *globs, size_t nglobs,
			const struct entry_op *op, size_t *funcs, char *err, size_t errlen)
{
	struct pk_iprobe_shm *s = t->shm;
	bool sets = op->sample ? op->log2 != 0 : op->on;
	int rc;

	*funcs = 0;
	rc = target_lock(t, err, errlen);
	if (rc)
		return rc;
	for (size_t m = 0; !rc && m < t->nmods; m++) {
		const struct pk_probe_module *mod = &t->mods[m];

		for (size_t i = 0; i < mod->table.nfuncs; i++) {
			const struct pk_func *f = &mod->table.funcs[i];
			struct pk_iprobe_probe *p;
			int64_t id;

			if (!func_matches(f->name, globs, nglobs))
				continue;
			if (!sets && !pk_probe_find(t, f->addr + mod->bias))
				continue; /* never registered: nothing to undo */
			id = probe_id(t, mod, f);
			if (id < 0) {
				rc = registry_full(t, id, err, errlen);
				break;
			}
			p = pk_shm_probe(s, (uint32_t)id);
			if (op->sample)
				__atomic_store_n(&p->sample, op->log2, __ATOMIC_RELEASE);
			else if (op->on)
				__atomic_or_fetch(&p->flags, op->flag, __ATOMIC_RELEASE);
			else
				__atomic_and_fetch(&p->flags, ~op->flag, __ATOMIC_RELEASE);
			(*funcs)++;
		}
	}
	lock_drop(s);
	if (!rc && sets && !*funcs)
		rc = pk_errbuf_set(-ENOENT, err, errlen, "no function of %d matches", (int)t->pid);
	return rc;
}

int pk_probe_set_flag(struct pk_probe_target *t, const char *const *globs, size_t nglobs,
		      uint32_t flag, bool on, size_t *funcs, char *err, size_t errlen)
{
	struct entry_op op = { .flag = flag, .on = on };

	return for_matching(t, globs, nglobs, &op, funcs, err, errlen);
}

int pk_probe_sample_set(struct pk_probe_target *t, const char *const *globs, size_t nglobs,
			uint32_t log2, size_t *funcs, char *err, size_t errlen)
{
	struct entry_op op = { .sample = true, .log2 = log2 };

	*funcs = 0;
	if (log2 > PK_IPROBE_SAMPLE_MAX)
		return pk_errbuf_set(-EINVAL, err, errlen, "rate 1/2^%u: above 1/2^%u", log2,
				     PK_IPROBE_SAMPLE_MAX);
	if (!t->shm)
		return not_loaded(t, err, errlen);
	if (!nglobs) {
		__atomic_store_n(&t->shm->sample, log2, __ATOMIC_RELEASE);
		return 0;
	}
	return for_matching(t, globs, nglobs, &op, funcs, err, errlen);
}

int pk_probe_fperf_set(struct pk_probe_target *t, const uint32_t *types, const uint64_t *configs,
		       uint32_t n, char *err, size_t errlen)
{
	struct pk_iprobe_shm *s = t->shm;
	uint32_t gen;
	int rc;

	if (!s)
		return not_loaded(t, err, errlen);
	if (n > PK_IPROBE_FPERF_MAX)
		return pk_errbuf_set(-E2BIG, err, errlen, "more than %d counters",
				     PK_IPROBE_FPERF_MAX);
	rc = lock_take(s, err, errlen);
	if (rc)
		return rc;
	/* a seqlock: odd while the list is written (threads then read no counter) */
	gen = __atomic_load_n(&s->fperf_gen, __ATOMIC_RELAXED) | 1;
	__atomic_store_n(&s->fperf_gen, gen, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < n; i++) {
		__atomic_store_n(&s->fperf[i].type, types[i], __ATOMIC_RELAXED);
		__atomic_store_n(&s->fperf[i].config, configs[i], __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->fperf_n, n, __ATOMIC_RELAXED);
	__atomic_store_n(&s->fperf_gen, gen + 1, __ATOMIC_RELEASE);
	lock_drop(s);
	return 0;
}

int pk_probe_invivo_set(struct pk_probe_target *t, const struct pk_probe_invivo *cfg, char *err,
			size_t errlen)
{
	struct pk_iprobe_shm *s = t->shm;
	uint32_t gen;
	int rc;

	if (!s)
		return pk_errbuf_set(-ENOENT, err, errlen, "libiprobe is not loaded in %d",
				     (int)t->pid);
	if (cfg->max_live < 1 || cfg->max_live > PK_IPROBE_INVIVO_MAX_LIVE)
		return pk_errbuf_set(-EINVAL, err, errlen, "max live children %u: not within 1..%d",
				     cfg->max_live, PK_IPROBE_INVIVO_MAX_LIVE);
	if (strlen(cfg->log) >= sizeof(s->inv_log))
		return pk_errbuf_set(-ENAMETOOLONG, err, errlen, "log path longer than %zu bytes",
				     sizeof(s->inv_log) - 1);
	rc = lock_take(s, err, errlen);
	if (rc)
		return rc;
	/* a seqlock, as fperf's: no thread forks while the settings are half written */
	gen = __atomic_load_n(&s->inv_gen, __ATOMIC_RELAXED) | 1;
	__atomic_store_n(&s->inv_gen, gen, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&s->inv_threshold, cfg->threshold, __ATOMIC_RELAXED);
	__atomic_store_n(&s->inv_test, cfg->test, __ATOMIC_RELAXED);
	__atomic_store_n(&s->inv_max_live, cfg->max_live, __ATOMIC_RELAXED);
	__atomic_store_n(&s->inv_deadline_ms, cfg->deadline_ms, __ATOMIC_RELAXED);
	memset(s->inv_log, 0, sizeof(s->inv_log));
	memcpy(s->inv_log, cfg->log, strlen(cfg->log));
	memset(s->inv_name, 0, sizeof(s->inv_name));
	snprintf(s->inv_name, sizeof(s->inv_name), "%s", cfg->name);
	__atomic_store_n(&s->inv_gen, gen + 1, __ATOMIC_RELEASE);
	lock_drop(s);
	return 0;
}

int pk_probe_budget(struct pk_probe_target *t, double pct, char *err, size_t errlen)
{
	if (!t->shm)
		return not_loaded(t, err, errlen);
	if (!(pct >= 0 && pct <= 100))
		return pk_errbuf_set(-EINVAL, err, errlen, "budget %g%%: not within 0..100", pct);
	__atomic_store_n(&t->shm->budget_ppm, (uint32_t)(pct * 10000 + 0.5), __ATOMIC_RELEASE);
	return 0;
}
