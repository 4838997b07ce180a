/* ring.c — libiprobe's hot path: one 16-byte event into the calling thread's ring.
 *
 * A thread takes a free ring of the segment the first time it hits a probe (a compare-and-swap
 * on the ring's state) and keeps it in a thread-local pointer (initial-exec TLS: no call to
 * __tls_get_addr on the hot path).  Writing an event is: load head, check room against a
 * cached tail (read the consumer's tail only when the cache says full), two stores, rdtsc, one
 * release store of head.  A full ring counts a drop and returns; the next event that fits is
 * preceded by a marker with the number dropped since the last marker.  A forked child records
 * nothing: its thread would share its parent's ring.
 */
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "probe/lib/lib_int.h"

/* The entry handler runs with the probed function's arguments live in vector registers that
 * its stub does not save: nothing in this file may touch one. */
#pragma GCC target("general-regs-only")

#define PK_LIKELY(x) __builtin_expect(!!(x), 1)
#define PK_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Per-thread state: the ring, and the consumer's tail as last read. */
static __thread struct pk_iprobe_ring *t_ring __attribute__((tls_model("initial-exec")));
static __thread uint64_t t_tail __attribute__((tls_model("initial-exec")));
/* Set in a forked child (and when no ring was free): record nothing in this thread. */
static __thread int t_off __attribute__((tls_model("initial-exec")));
/* Sampling (see hit()): low byte, the global log2 rate this thread last wrote a marker for;
 * above it, the depth of the calls entered while sampling was on, whose decisions t_skip
 * keeps (bit d: the entry at depth d was sampled out).  0 while nothing is sampled. */
static __thread uint64_t t_samp __attribute__((tls_model("initial-exec")));
static __thread uint64_t t_skip __attribute__((tls_model("initial-exec")));
/* Entries seen while sampling, per probe id modulo SAMP_COUNTERS: an entry is recorded when
 * its counter's low bits are 0 (16 bits: a multiple of every rate, so wrapping keeps the
 * count exact; few of them: static TLS is scarce in a library loaded by dlopen). */
#define SAMP_COUNTERS 32
static __thread uint16_t t_count[SAMP_COUNTERS] __attribute__((tls_model("initial-exec")));

static inline __attribute__((always_inline)) struct pk_iprobe_event *
ring_ev(struct pk_iprobe_ring *r)
{
	return (struct pk_iprobe_event *)(r + 1);
}

/* gettid without libc (the entry handler must not touch vector registers). */
static inline __attribute__((always_inline)) uint32_t raw_gettid(void)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_gettid) : "rcx", "r11", "memory");
	return (uint32_t)ret;
}

static inline __attribute__((always_inline)) uint32_t raw_getpid(void)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getpid) : "rcx", "r11", "memory");
	return (uint32_t)ret;
}

/* Takes a free ring for the calling thread; NULL when none is free (counted) or when this is
 * a forked child. */
static __attribute__((noinline)) struct pk_iprobe_ring *ring_attach(void)
{
	struct pk_iprobe_shm *s = pk_lib_shm;

	if (!s || t_off)
		return NULL;
	if (raw_getpid() != s->pid) {
		t_off = 1;
		return NULL;
	}
	for (uint32_t i = 0; i < s->max_threads; i++) {
		struct pk_iprobe_ring *r = (struct pk_iprobe_ring *)((char *)s + s->rings_off +
								     (uint64_t)i * s->ring_bytes);
		uint32_t want = PK_IPROBE_RING_FREE;

		if (__atomic_load_n(&r->state, __ATOMIC_RELAXED) != PK_IPROBE_RING_FREE)
			continue;
		if (!__atomic_compare_exchange_n(&r->state, &want, PK_IPROBE_RING_OWNED, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&r->tid, raw_gettid(), __ATOMIC_RELEASE);
		t_tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		t_ring = r;
		return r;
	}
	__atomic_fetch_add(&s->no_ring, 1, __ATOMIC_RELAXED);
	return NULL; /* tried again at the next hit: a ring may be free by then */
}

/* True when the ring has room for n more events (refreshing the cached tail if needed). */
static inline __attribute__((always_inline)) bool ring_room(struct pk_iprobe_ring *r, uint64_t h,
							    uint32_t cap, uint32_t n)
{
	if (PK_LIKELY(h + n - t_tail <= cap))
		return true;
	t_tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	return h + n - t_tail <= cap;
}

/* Records one event (aux: a marker's argument; val: a counter's value to store instead of the
 * time, or NULL); the body both handlers share. */
static inline __attribute__((always_inline)) void record(uint32_t probe, uint32_t aux,
							 const uint64_t *val)
{
	struct pk_iprobe_ring *r = t_ring;
	const struct pk_iprobe_shm *s;
	struct pk_iprobe_event *ev;
	uint32_t cap, mask;
	uint64_t h;

	if (PK_UNLIKELY(!r)) {
		r = ring_attach();
		if (!r)
			return;
	}
	s = pk_lib_shm;
	cap = s->ring_events;
	mask = cap - 1;
	h = r->head;
	if (PK_UNLIKELY(r->drops != r->drops_told)) {
		if (!ring_room(r, h, cap, 2)) {
			__atomic_store_n(&r->drops, r->drops + 1, __ATOMIC_RELAXED);
			return;
		}
		ev = ring_ev(r) + (h & mask);
		ev->tsc = __builtin_ia32_rdtsc();
		ev->probe = PK_IPROBE_MARK_BASE | PK_IPROBE_MARK_DROPS;
		ev->aux = (uint32_t)(r->drops - r->drops_told);
		r->drops_told = r->drops;
		h++;
	} else if (PK_UNLIKELY(!ring_room(r, h, cap, 1))) {
		__atomic_store_n(&r->drops, r->drops + 1, __ATOMIC_RELAXED);
		return;
	}
	ev = ring_ev(r) + (h & mask);
	ev->tsc = val ? *val : __builtin_ia32_rdtsc();
	ev->probe = probe;
	ev->aux = aux;
	__atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
}

static inline __attribute__((always_inline)) const struct pk_iprobe_probe *probe_of(uint32_t probe)
{
	const struct pk_iprobe_shm *s = pk_lib_shm;

	return (const struct pk_iprobe_probe *)((const char *)s + s->probes_off) + (probe >> 1);
}

#define SAMP_DEPTH_ONE 0x100ull /* one level of t_samp's depth */
#define SAMP_STACK 64		/* depths whose decision t_skip keeps */

/* Sampling, outside the common case (a rate above 1 or calls entered under one still open):
 * true when this hit is recorded.  An entry is recorded when the thread's count of its
 * probe's entries (probes sharing a counter when their ids are equal modulo SAMP_COUNTERS) is 0
 * modulo 2^s (s = max(global, probe's), at most PK_IPROBE_SAMPLE_MAX), and its exit follows
 * the entry's decision (a per-thread stack of decisions, 64 deep: deeper entries are all
 * recorded).  An exit with no entry on that stack (its entry came before sampling began) is
 * recorded.  An entry with no exit probe (paired false: a patchable entry) pushes nothing.  A
 * recorded hit first writes a PK_IPROBE_MARK_SAMPLE marker when the global rate changed since the
 * thread's last one. */
static __attribute__((noinline)) bool sample_hit(uint32_t probe, uint32_t g, uint32_t p,
						 bool paired)
{
	uint64_t depth = t_samp >> 8;
	uint32_t sm = g > p ? g : p;
	bool rec;

	if (sm > PK_IPROBE_SAMPLE_MAX)
		sm = PK_IPROBE_SAMPLE_MAX;
	if (g > PK_IPROBE_SAMPLE_MAX)
		g = PK_IPROBE_SAMPLE_MAX;
	if (probe & PK_IPROBE_EXIT) {
		if (!depth) {
			rec = true;
		} else {
			depth--;
			t_samp -= SAMP_DEPTH_ONE;
			rec = depth >= SAMP_STACK || !(t_skip >> depth & 1);
		}
	} else if (!paired) {
		rec = !sm || !(t_count[(probe >> 1) % SAMP_COUNTERS]++ & ((1u << sm) - 1));
	} else if (!sm && !depth) {
		rec = true; /* nothing sampled and nothing open: only the marker to write */
	} else {
		rec = depth >= SAMP_STACK ||
		      !(t_count[(probe >> 1) % SAMP_COUNTERS]++ & ((1u << sm) - 1));
		if (depth < SAMP_STACK) {
			if (rec)
				t_skip &= ~(1ull << depth);
			else
				t_skip |= 1ull << depth;
		}
		t_samp += SAMP_DEPTH_ONE;
	}
	if (rec && (t_samp & 0xff) != g) {
		t_samp = (t_samp & ~0xffull) | g;
		pk_lib_mark(PK_IPROBE_MARK_SAMPLE, g);
	}
	return rec;
}

/* A hit: its event, and the slow path when its probe asks for one (after the entry's event,
 * before the exit's, so what the hook measures lies between them).  A hit sampled out records
 * nothing and runs no hook. */
static inline __attribute__((always_inline)) void hit(uint32_t probe, uint32_t flags,
						      uint32_t psample, bool paired)
{
	uint32_t g = __atomic_load_n(&pk_lib_shm->sample, __ATOMIC_RELAXED);

	if (PK_UNLIKELY(g | psample | t_samp) && !sample_hit(probe, g, psample, paired))
		return;
	if (PK_LIKELY(!(flags & PK_IPROBE_F_HOOKS))) {
		record(probe, 0, NULL);
		return;
	}
	if (probe & PK_IPROBE_EXIT) {
		pk_lib_hook(probe, flags);
		record(probe, 0, NULL);
	} else {
		record(probe, 0, NULL);
		pk_lib_hook(probe, flags);
	}
}

PK_LIB_EXPORT void pk_iprobe_call_hit(void *fn, uint32_t probe)
{
	const struct pk_iprobe_probe *p = probe_of(probe);

	(void)fn;
	hit(probe, __atomic_load_n(&p->flags, __ATOMIC_RELAXED),
	    __atomic_load_n(&p->sample, __ATOMIC_RELAXED), true);
}

PK_LIB_EXPORT void pk_iprobe_entry_hit(uint32_t probe)
{
	const struct pk_iprobe_probe *p = probe_of(probe);
	uint32_t flags = __atomic_load_n(&p->flags, __ATOMIC_RELAXED);

	/* an entry site cannot be switched off from inside the process (threads may sit in its
	 * NOPs): a probe the budget switched off stops here */
	if (PK_UNLIKELY(flags & PK_IPROBE_F_AUTOOFF))
		return;
	hit(probe, flags, __atomic_load_n(&p->sample, __ATOMIC_RELAXED), false);
}

void pk_lib_mark(uint32_t kind, uint32_t aux)
{
	record(PK_IPROBE_MARK_BASE | kind, aux, NULL);
}

void pk_lib_counter(uint32_t aux, uint64_t value)
{
	record(PK_IPROBE_MARK_BASE | PK_IPROBE_MARK_COUNTER, aux, &value);
}

int pk_lib_ring_index(void)
{
	const struct pk_iprobe_shm *s = pk_lib_shm;

	if (!t_ring || !s)
		return -1;
	return (int)(((const char *)t_ring - ((const char *)s + s->rings_off)) / s->ring_bytes);
}

/* One hit as pk_iprobe_call_hit makes it, of a probe whose registry entry is p: the cost
 * measurement's, on a quiet entry of its own (the registry's entries may ask for hooks, which
 * a measurement must never run). */
static __attribute__((noinline)) void cost_hit(const struct pk_iprobe_probe *p)
{
	hit(0, __atomic_load_n(&p->flags, __ATOMIC_RELAXED),
	    __atomic_load_n(&p->sample, __ATOMIC_RELAXED), true);
}

#define COST_BATCHES 4

uint64_t pk_lib_event_ps(void)
{
	static const struct pk_iprobe_probe quiet; /* no flags, no sampling */

	const struct pk_iprobe_shm *s = pk_lib_shm;
	uint32_t n = s->ring_events - 1 < 16384 ? s->ring_events - 1 : 16384;
	size_t bytes = sizeof(struct pk_iprobe_ring) +
		       (size_t)s->ring_events * sizeof(struct pk_iprobe_event);
	struct pk_iprobe_ring *saved = t_ring, *scratch;
	uint64_t tail = t_tail, ns = 0;
	struct timespec a, b;

	/* the handler as a thread calls it, into a scratch ring of the same size (reserved, only
	 * its first n slots touched) */
	scratch = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (scratch == MAP_FAILED)
		return 0;
	t_ring = scratch;
	t_tail = 0;
	for (uint32_t i = 0; i < n; i++) /* warm up: fault the slots in */
		cost_hit(&quiet);
	/* the thread's CPU time, not the clock's: on a loaded machine the thread may wait for a
	 * core in the middle, and a cost inflated that way made the budget switch off cold probes;
	 * the cheapest of a few batches, as interrupts only add */
	for (int k = 0; k < COST_BATCHES; k++) {
		uint64_t t;

		scratch->head = 0;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
		for (uint32_t i = 0; i < n / COST_BATCHES; i++)
			cost_hit(&quiet);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
		t = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
		    (uint64_t)a.tv_nsec;
		ns = k == 0 || t < ns ? t : ns;
	}
	t_ring = saved;
	t_tail = tail;
	munmap(scratch, bytes);
	return n / COST_BATCHES ? ns * 1000 / (n / COST_BATCHES) : 0;
}

void pk_lib_ring_forget(void)
{
	t_ring = NULL;
	t_off = 1;
}
