/* control.c — libiprobe's life in the target: at load, the shared-memory segment and one
 * control thread ("pk-iprobe"); that thread waits on a futex in the segment for batches of
 * requests from `parikshan probe`, executes them (patch.c) and acknowledges.  It also measures
 * the TSC's rate once, so the tools can turn timestamps into time; every 200 ms, when a tool set
 * a budget, counts each probe's events and switches off the hottest probes while their
 * estimated cost exceeds the budget's share of the process's CPU time; and, once a second when
 * idle, frees the rings of threads that exited.  It also reaps the children of in-vivo tests
 * (invivo.c), every 20 ms while there are some.
 *
 * The control thread is this library's only thread; it blocks every signal (the target's
 * handlers never run on it) and is never joined: it lives as long as the process.  The segment
 * stays mapped; its file is unlinked as soon as it is mapped (the tools open it through
 * /proc/PID/map_files/), so nothing is left in /dev/shm even when the process crashes.
 *
 * Settings, for a preloaded library (an injected one takes the defaults):
 *   PK_IPROBE_RING_EVENTS  events per thread ring (power of two, default 65536, at most 2^27)
 *   PK_IPROBE_MAX_THREADS  rings (default 256)
 * and, read by any (the target's environment): PK_IPROBE_PTRACE_ONLY=1, the sites that one
 * store cannot switch are left to the tool's ptrace fallback (patch.c; for tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "probe/lib/lib_int.h"

#define DEF_RING_EVENTS 65536u
#define DEF_MAX_THREADS 256u
#define MAX_PROBES 16384u

struct pk_iprobe_shm *pk_lib_shm;
static char shm_path[64];

static uint32_t env_u32(const char *name, uint32_t def, uint32_t lo, uint32_t hi)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return def;
	return (uint32_t)n;
}

static uint64_t ns_of(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int pk_lib_shm_open(void)
{
	uint32_t ring_events = env_u32("PK_IPROBE_RING_EVENTS", DEF_RING_EVENTS, 64, 1u << 27);
	uint32_t max_threads = env_u32("PK_IPROBE_MAX_THREADS", DEF_MAX_THREADS, 1, 65536);
	uint64_t probes_off, rings_off, ring_bytes, size;
	struct pk_iprobe_shm *s;
	int fd, hi;

	if (ring_events & (ring_events - 1))
		ring_events = DEF_RING_EVENTS;
	probes_off = (sizeof(struct pk_iprobe_shm) + 4095) & ~4095ull;
	rings_off = probes_off + ((MAX_PROBES * sizeof(struct pk_iprobe_probe) + 4095) & ~4095ull);
	ring_bytes = sizeof(struct pk_iprobe_ring) +
		     (uint64_t)ring_events * sizeof(struct pk_iprobe_event);
	size = rings_off + ring_bytes * max_threads;
	snprintf(shm_path, sizeof(shm_path), "/dev/shm/" PK_IPROBE_SHM_PREFIX "%d", (int)getpid());
	unlink(shm_path); /* a segment left by an earlier process with this pid */
	fd = open(shm_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* keep the target's low fds free while we hold this one */
	hi = fcntl(fd, F_DUPFD_CLOEXEC, 900);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	if (ftruncate(fd, (off_t)size)) {
		int e = errno;

		close(fd);
		unlink(shm_path);
		return -e;
	}
	s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (s == MAP_FAILED) {
		int e = errno;

		unlink(shm_path);
		return -e;
	}
	s->version = PK_IPROBE_VERSION;
	s->pid = (uint32_t)getpid();
	s->size = size;
	s->probes_off = probes_off;
	s->rings_off = rings_off;
	s->max_probes = MAX_PROBES;
	s->max_threads = max_threads;
	s->ring_events = ring_events;
	s->ring_bytes = (uint32_t)ring_bytes;
	s->tsc0 = __builtin_ia32_rdtsc();
	s->realtime0_ns = ns_of(CLOCK_REALTIME);
	__atomic_store_n(&s->magic, PK_IPROBE_MAGIC, __ATOMIC_RELEASE);
	pk_lib_shm = s;
	/* the tools reach the segment through /proc/PID/map_files/: its name is not needed, and
	 * without it nothing is left in /dev/shm however the process ends */
	unlink(shm_path);
	return 0;
}

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

/* Measures tsc_hz once at least 100 ms of CLOCK_MONOTONIC have passed since (t0, c0); true
 * once done.  Batches are served meanwhile. */
static bool tsc_calibrate(struct pk_iprobe_shm *s, uint64_t t0, uint64_t c0)
{
	uint64_t t1 = ns_of(CLOCK_MONOTONIC), c1 = __builtin_ia32_rdtsc();

	if (t1 < t0 + 100 * 1000 * 1000)
		return false;
	__atomic_store_n(&s->tsc_hz, (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0)),
			 __ATOMIC_RELEASE);
	return true;
}

/* Executes the batch in the segment: every request, then one core sync. */
static void serve(struct pk_iprobe_shm *s)
{
	uint32_t n = __atomic_load_n(&s->nreq, __ATOMIC_ACQUIRE);
	struct pk_lib_trap_stats ts;
	int first = 0, rc;

	if (n > PK_IPROBE_MAX_REQ)
		n = 0, first = -EINVAL;
	pk_lib_patch_begin();
	for (uint32_t i = 0; i < n; i++)
		s->req[i].result = pk_lib_patch(&s->req[i]);
	pk_lib_patch_deferred(s->req, n);
	for (uint32_t i = 0; i < n; i++)
		if (s->req[i].result < 0 && s->req[i].result != -EAGAIN && !first)
			first = s->req[i].result;
	rc = pk_lib_sync_cores();
	if (rc && !first)
		first = rc;
	pk_lib_trap_stats_take(&ts);
	s->trap_hits = ts.trapped;
	s->trap_signalled = ts.signalled;
	s->trap_moved = ts.moved;
	s->trap_ns = ts.longest_ns;
	s->batch_result = first;
	s->served++;
}

/* Frees the rings of threads that exited once their events were read, so that a server that
 * starts a thread per connection does not run out of rings.  A ring is taken by a
 * compare-and-swap of its state, then its tid is set: a ring with tid 0 is being taken. */
static void rings_reclaim(struct pk_iprobe_shm *s)
{
	for (uint32_t i = 0; i < s->max_threads; i++) {
		struct pk_iprobe_ring *r = (struct pk_iprobe_ring *)((char *)s + s->rings_off +
								     (uint64_t)i * s->ring_bytes);
		uint32_t tid = __atomic_load_n(&r->tid, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != PK_IPROBE_RING_OWNED || !tid)
			continue;
		if (syscall(SYS_tgkill, (pid_t)s->pid, (pid_t)tid, 0) == 0 || errno != ESRCH)
			continue; /* alive (or its tid reused: kept) */
		if (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) !=
		    __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE))
			continue; /* events not read yet */
		/* the thread is gone: close its counters */
		pk_lib_fperf_release(i);
		__atomic_store_n(&r->tid, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&r->state, PK_IPROBE_RING_FREE, __ATOMIC_RELEASE);
	}
}

/* The budget loop's memory (control thread only). */
struct budget {
	bool on;
	uint64_t cpu0;	  /* CLOCK_PROCESS_CPUTIME_ID at the period's start */
	uint64_t *cursor; /* per ring: events counted up to here */
	uint64_t *drops;  /* per ring: drops counted up to here */
	uint32_t *hits;	  /* per probe: events in this period */
};

#define BUDGET_PERIOD_MS 200

/* The probe to switch off next: the most events this period (its dropped ones included,
 * attribute_drops), ties to the most counted so far; -1 when none is on. */
static int64_t budget_pick(const struct pk_iprobe_shm *s, const struct budget *b)
{
	const struct pk_iprobe_probe *p =
		(const struct pk_iprobe_probe *)((const char *)s + s->probes_off);
	uint32_t n = s->nprobes < s->max_probes ? s->nprobes : s->max_probes;
	int64_t best = -1;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t f = __atomic_load_n(&p[i].flags, __ATOMIC_ACQUIRE);

		if (!(f & PK_IPROBE_F_ON) || (f & PK_IPROBE_F_AUTOOFF))
			continue;
		if (best < 0 || b->hits[i] > b->hits[best] ||
		    (b->hits[i] == b->hits[best] && p[i].hits > p[best].hits))
			best = i;
	}
	return best;
}

static bool budget_alloc(const struct pk_iprobe_shm *s, struct budget *b)
{
	if (b->hits)
		return true;
	b->hits = calloc(s->max_probes, sizeof(*b->hits));
	b->cursor = calloc(s->max_threads, sizeof(*b->cursor));
	b->drops = calloc(s->max_threads, sizeof(*b->drops));
	if (b->hits && b->cursor && b->drops)
		return true;
	free(b->hits);
	free(b->cursor);
	free(b->drops);
	b->hits = NULL;
	return false;
}

#define DROP_SAMPLE 1024 /* events of a full ring read to share its drops among probes */

/* Shares the dropped events of a full ring (head h, events ev) among the probes in proportion to
 * the ring's last events (a full ring holds the latest that fit), into hits: without that, a
 * period of full rings counts drops but no probe, and the budget would switch off probes blindly,
 * cold ones too. */
static void attribute_drops(const struct pk_iprobe_shm *s, const struct pk_iprobe_event *ev,
			    uint64_t h, uint64_t dropped, uint32_t *hits)
{
	uint64_t k = h < s->ring_events ? h : s->ring_events, seen = 0;

	k = k < DROP_SAMPLE ? k : DROP_SAMPLE;
	for (uint64_t c = h - k; c < h; c++) {
		uint32_t probe = ev[c & (s->ring_events - 1)].probe;

		if (!PK_IPROBE_IS_MARK(probe) && (probe >> 1) < s->max_probes)
			seen++;
	}
	for (uint64_t c = h - k, j = 0; seen && c < h; c++) {
		uint32_t probe = ev[c & (s->ring_events - 1)].probe;

		if (PK_IPROBE_IS_MARK(probe) || (probe >> 1) >= s->max_probes)
			continue;
		/* dropped / seen each, the remainder to the first ones: they sum to dropped */
		hits[probe >> 1] += (uint32_t)(dropped / seen + (j++ < dropped % seen));
	}
}

/* Counts the events of every ring since the last period (read, not consumed) into b->hits;
 * returns them plus the events dropped meanwhile (which cost too). */
static uint64_t budget_count(const struct pk_iprobe_shm *s, struct budget *b)
{
	uint32_t mask = s->ring_events - 1;
	uint64_t events = 0;

	memset(b->hits, 0, s->max_probes * sizeof(*b->hits));
	for (uint32_t i = 0; i < s->max_threads; i++) {
		const struct pk_iprobe_ring *r =
			(const struct pk_iprobe_ring *)((const char *)s + s->rings_off +
							(uint64_t)i * s->ring_bytes);
		const struct pk_iprobe_event *ev = (const struct pk_iprobe_event *)(r + 1);
		uint64_t h = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
		uint64_t d = __atomic_load_n(&r->drops, __ATOMIC_RELAXED), c = b->cursor[i];
		uint64_t dropped = b->on && d > b->drops[i] ? d - b->drops[i] : 0;

		events += dropped;
		b->drops[i] = d;
		if (!b->on)
			c = h;
		else if (h < c || h - c > s->ring_events)
			c = h - (h < s->ring_events ? h : s->ring_events);
		if (dropped) /* a ring that filled up: its last events say who dropped the rest */
			attribute_drops(s, ev, h, dropped, b->hits);
		for (; c < h; c++) {
			uint32_t probe = ev[c & mask].probe;

			if (!PK_IPROBE_IS_MARK(probe) && (probe >> 1) < s->max_probes) {
				b->hits[probe >> 1]++;
				events++;
			}
		}
		b->cursor[i] = h;
	}
	return events;
}

/* One period of the budget: estimates the probes' cost (events x the measured cost of one) and
 * compares it with the process's CPU time in the period; over budget, switches off the hottest
 * probes until the estimate fits, each with a marker event. */
static void budget_tick(struct pk_iprobe_shm *s, struct budget *b)
{
	struct pk_iprobe_probe *p = (struct pk_iprobe_probe *)((char *)s + s->probes_off);
	uint32_t ppm = __atomic_load_n(&s->budget_ppm, __ATOMIC_ACQUIRE);
	uint64_t cpu, cost, events;
	bool changed = false;

	if (!ppm || !budget_alloc(s, b)) {
		b->on = false;
		return;
	}
	events = budget_count(s, b);
	cpu = ns_of(CLOCK_PROCESS_CPUTIME_ID);
	if (!b->on) {
		b->on = true;
		b->cpu0 = cpu;
		return;
	}
	cost = events * s->event_ps / 1000;
	s->cost_ns = cost;
	s->cpu_ns = cpu - b->cpu0;
	for (uint32_t i = 0; i < s->nprobes && i < s->max_probes; i++)
		p[i].hits += b->hits[i];
	while ((double)cost * 1e6 > (double)ppm * (double)(cpu - b->cpu0)) {
		int64_t id = budget_pick(s, b);
		uint64_t its = id < 0 ? 0 : b->hits[id] * s->event_ps / 1000;

		if (id < 0 || !its)
			break; /* none of the cost is known to be this probe's: it stays on */
		pk_lib_autooff((uint32_t)id);
		pk_lib_mark(PK_IPROBE_MARK_AUTOOFF, (uint32_t)id);
		__atomic_add_fetch(&s->autooff, 1, __ATOMIC_RELAXED);
		cost = its < cost ? cost - its : 0;
		b->hits[id] = 0;
		changed = true;
	}
	if (changed)
		pk_lib_sync_cores();
	b->cpu0 = cpu;
}

static void *control_main(void *arg)
{
	struct pk_iprobe_shm *s = arg;
	uint64_t t0 = ns_of(CLOCK_MONOTONIC), c0 = __builtin_ia32_rdtsc(), last = t0;
	struct budget budget = { 0 };
	bool timed = false;

	/* what one event costs, plus the site's call and the stub's jump (~1 ns) */
	s->event_ps = pk_lib_event_ps() + 1000;
	for (;;) {
		uint32_t seq = __atomic_load_n(&s->req_seq, __ATOMIC_ACQUIRE);
		bool budgeted = __atomic_load_n(&s->budget_ppm, __ATOMIC_RELAXED) != 0;
		/* in-vivo children are reaped (and their deadline kept) every tick */
		bool children = pk_lib_invivo_reap();
		long wait_ms = !timed || children ? 20 : budgeted ? BUDGET_PERIOD_MS : 1000;
		struct timespec tick = { wait_ms / 1000, (wait_ms % 1000) * 1000 * 1000 };
		uint64_t now;

		if (!timed)
			timed = tsc_calibrate(s, t0, c0);
		now = ns_of(CLOCK_MONOTONIC);
		if (now - last >= (uint64_t)BUDGET_PERIOD_MS * 1000 * 1000) {
			budget_tick(s, &budget);
			last = now;
		}
		if (seq == __atomic_load_n(&s->ack_seq, __ATOMIC_ACQUIRE)) {
			if (futex(&s->req_seq, FUTEX_WAIT, seq, &tick) && errno == ETIMEDOUT &&
			    timed)
				rings_reclaim(s);
			continue;
		}
		serve(s);
		__atomic_store_n(&s->ack_seq, seq, __ATOMIC_RELEASE);
		futex(&s->ack_seq, FUTEX_WAKE, INT_MAX, NULL);
	}
	return NULL;
}

static void after_fork_child(void)
{
	pk_lib_ring_forget();
}

__attribute__((constructor)) static void pk_lib_init(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;

	if (pk_lib_shm_open())
		return;
	pk_lib_sync_init(); /* without it, a batch reports the failed core sync */
	pk_lib_fperf_init();
	pthread_atfork(NULL, NULL, after_fork_child);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (!pthread_create(&th, &attr, control_main, pk_lib_shm))
		pthread_setname_np(th, "pk-iprobe");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
