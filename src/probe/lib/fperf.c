/* fperf.c — libiprobe's per-function performance counters (PK_IPROBE_F_FPERF).
 *
 * At each entry and exit of a flagged function the probed thread reads its own group of
 * counters (the tools' list in the segment: fperf_gen, fperf_n, fperf[]) and writes one
 * PK_IPROBE_MARK_COUNTER event per counter into its ring: after the entry's event, before the
 * exit's, so the dump pairs them as it pairs times.  The group is opened lazily, at the
 * thread's first such hit (perf_event_open on itself, any CPU), and reopened when the tools'
 * list changed; its fds are kept at 900 and above, close-on-exec, and closed by the control
 * thread when it frees the thread's ring (pk_lib_fperf_release).  Reading: rdpmc where the
 * kernel allows it, else one read() of the group (src/probe/perf_raw.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "probe/lib/lib_int.h"

/* A hit runs with the probed function's vector argument registers live (see ring.c): set
 * before perf_raw.h, whose inline functions compile into this file. */
#pragma GCC target("general-regs-only")

#include "probe/perf_raw.h"

#define FPERF_MIN_FD 900

/* One per ring (index = the ring's), owned by the thread that owns the ring. */
struct fperf_thread {
	uint32_t gen;  /* fperf_gen the group was opened for */
	uint32_t open; /* the group was opened (possibly with no counter) */
	struct pk_perf_raw_group g;
};

static struct fperf_thread *g_threads;
static uint32_t g_nthreads;

int pk_lib_fperf_init(void)
{
	const struct pk_iprobe_shm *s = pk_lib_shm;
	size_t bytes;
	void *p;

	if (!s)
		return -ENOENT;
	bytes = (size_t)s->max_threads * sizeof(struct fperf_thread);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	g_threads = p;
	g_nthreads = s->max_threads;
	return 0;
}

void pk_lib_fperf_release(uint32_t ring)
{
	struct fperf_thread *t;

	if (!g_threads || ring >= g_nthreads)
		return;
	t = &g_threads[ring];
	if (t->open)
		pk_perf_raw_close(&t->g);
	t->open = 0;
}

/* (Re)opens the thread's group for the tools' current list; false when the list is being
 * written (the hit reads no counter). */
static bool fperf_open(struct fperf_thread *t, const struct pk_iprobe_shm *s, uint32_t gen)
{
	uint32_t types[PK_IPROBE_FPERF_MAX];
	uint64_t configs[PK_IPROBE_FPERF_MAX];
	uint32_t n = __atomic_load_n(&s->fperf_n, __ATOMIC_RELAXED);

	if (t->open)
		pk_perf_raw_close(&t->g);
	t->open = 0;
	if (n > PK_IPROBE_FPERF_MAX)
		n = 0;
	for (uint32_t i = 0; i < n; i++) {
		types[i] = __atomic_load_n(&s->fperf[i].type, __ATOMIC_RELAXED);
		configs[i] = __atomic_load_n(&s->fperf[i].config, __ATOMIC_RELAXED);
	}
	if (__atomic_load_n(&s->fperf_gen, __ATOMIC_ACQUIRE) != gen)
		return false;
	pk_perf_raw_group_open(&t->g, n, types, configs, FPERF_MIN_FD);
	t->gen = gen;
	t->open = 1;
	return true;
}

void pk_lib_fperf_hit(uint32_t probe)
{
	const struct pk_iprobe_shm *s = pk_lib_shm;
	uint64_t val[PK_PERF_RAW_MAX];
	struct fperf_thread *t;
	int ring = pk_lib_ring_index();
	uint32_t gen, mask, exit_bit = probe & PK_IPROBE_EXIT ? PK_IPROBE_CTR_EXIT : 0;
	bool rdpmc;

	if (ring < 0 || !g_threads || (uint32_t)ring >= g_nthreads)
		return;
	t = &g_threads[ring];
	gen = __atomic_load_n(&s->fperf_gen, __ATOMIC_ACQUIRE);
	if (gen & 1)
		return; /* the tools are writing the list */
	if ((!t->open || t->gen != gen) && !fperf_open(t, s, gen))
		return;
	mask = pk_perf_raw_read(&t->g, val, &rdpmc);
	for (uint32_t i = 0; i < t->g.n; i++)
		if (mask & 1u << i)
			pk_lib_counter(i | exit_bit, val[i]);
}
