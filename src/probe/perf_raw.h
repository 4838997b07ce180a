/* perf_raw.h — one group of perf_event_open counters of the calling thread, opened and read
 * with raw system calls only.  Shared by libiprobe (src/probe/lib/fperf.c, which runs inside a
 * target on general registers only: no libc call here, no memset/memcpy the compiler could
 * emit) and by the tools' perf module (src/probe/perf.c), so the reading path the unit test
 * exercises is the one libiprobe runs.
 *
 * Reading: an event the kernel lets user space read (its mmap page says cap_user_rdpmc and a
 * non-zero index: a hardware counter scheduled on this CPU) is read with rdpmc, without a
 * system call; otherwise (software events, or a counter not scheduled right now) the group is
 * read with one read() of its leader (PERF_FORMAT_GROUP).
 *
 * The clocks (task-clock, cpu-clock) are never in the group: each is opened alone and read
 * with its own read().  Measured on kernel 6.18: software counters in a group led by
 * task-clock count a fraction of their events (51 of 262 page faults), and a task-clock
 * joining a group led by page-faults may read 0 for good; alone, each is exact.
 */
#ifndef PK_PROBE_PERF_RAW_H
#define PK_PROBE_PERF_RAW_H

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PK_PERF_RAW_MAX 8
#define PK_PERF_RAW_PAGE 4096

struct pk_perf_raw_group {
	int32_t fd[PK_PERF_RAW_MAX];	/* fd[i] of counter i; -1: the kernel refused it */
	uint32_t n;			/* counters asked for */
	uint32_t nopen;			/* of them opened */
	uint32_t ngroup;		/* of them in the group (the others: clocks, alone) */
	uint8_t order[PK_PERF_RAW_MAX]; /* order[k]: the counter of the group's k-th member */
	struct perf_event_mmap_page *pg[PK_PERF_RAW_MAX]; /* hardware events: their page */
};

static inline long pk_perf_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Opens counter (type, config) of the calling thread on any CPU, in the group of group_fd (-1:
 * a new group, read as one with PERF_FORMAT_GROUP); kernel time is counted when allowed,
 * else user time only (perf_event_paranoid).  With min_fd > 0 the fd is moved to min_fd or
 * above (code inside a target keeps the target's low fds free).  An fd (close-on-exec) or
 * -errno. */
static inline int pk_perf_raw_open(uint32_t type, uint64_t config, int group_fd, int min_fd)
{
	struct perf_event_attr attr;
	long fd = -EINVAL;

	for (int excl = 0; excl < 2; excl++) {
		/* zeroed word by word: the barrier keeps the compiler from making it a memset */
		for (unsigned i = 0; i < sizeof(attr) / 8; i++) {
			((uint64_t *)&attr)[i] = 0;
			__asm__ volatile("" ::: "memory");
		}
		attr.size = sizeof(attr);
		attr.type = type;
		attr.config = config;
		attr.read_format = PERF_FORMAT_GROUP;
		attr.exclude_hv = 1;
		attr.exclude_kernel = (uint64_t)excl;
		fd = pk_perf_raw_syscall(SYS_perf_event_open, (long)&attr, 0, -1, group_fd,
					 PERF_FLAG_FD_CLOEXEC, 0);
		if (fd >= 0 || (fd != -EACCES && fd != -EPERM))
			break;
	}
	if (fd >= 0 && min_fd > 0 && fd < min_fd) {
		long hi = pk_perf_raw_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, min_fd, 0, 0, 0);

		if (hi >= 0) {
			pk_perf_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
			fd = hi;
		}
	}
	return (int)fd;
}

/* Closes what g holds (g may be partly opened, or all -1). */
static inline void pk_perf_raw_close(struct pk_perf_raw_group *g)
{
	/* members first, the leader last */
	for (int i = PK_PERF_RAW_MAX - 1; i >= 0; i--) {
		if (g->pg[i])
			pk_perf_raw_syscall(SYS_munmap, (long)g->pg[i], PK_PERF_RAW_PAGE, 0, 0, 0,
					    0);
		if (g->fd[i] >= 0)
			pk_perf_raw_syscall(SYS_close, g->fd[i], 0, 0, 0, 0, 0);
		g->pg[i] = 0;
		g->fd[i] = -1;
	}
	g->n = g->nopen = g->ngroup = 0;
}

/* True for the clock counters, which are opened alone (see the top of this file). */
static inline bool pk_perf_raw_is_clock(uint32_t type, uint64_t config)
{
	return type == PERF_TYPE_SOFTWARE &&
	       (config == PERF_COUNT_SW_TASK_CLOCK || config == PERF_COUNT_SW_CPU_CLOCK);
}

/* Opens counters (types[i], configs[i]), i < n (at most PK_PERF_RAW_MAX), of the calling
 * thread: one group, and each clock alone; a counter the kernel refuses is left out (its fd
 * -1).  Returns how many opened; g is then closed with pk_perf_raw_close (also when none
 * opened). */
static inline uint32_t pk_perf_raw_group_open(struct pk_perf_raw_group *g, uint32_t n,
					      const uint32_t *types, const uint64_t *configs,
					      int min_fd)
{
	int leader = -1;

	for (int i = 0; i < PK_PERF_RAW_MAX; i++) {
		g->fd[i] = -1;
		g->pg[i] = 0;
	}
	g->n = n > PK_PERF_RAW_MAX ? PK_PERF_RAW_MAX : n;
	g->nopen = g->ngroup = 0;
	for (uint32_t i = 0; i < g->n; i++) {
		bool alone = pk_perf_raw_is_clock(types[i], configs[i]);
		int fd = pk_perf_raw_open(types[i], configs[i], alone ? -1 : leader, min_fd);

		if (fd < 0)
			continue;
		g->fd[i] = fd;
		g->nopen++;
		if (alone)
			continue;
		g->order[g->ngroup++] = (uint8_t)i;
		if (leader < 0)
			leader = fd;
		if (types[i] != PERF_TYPE_SOFTWARE) {
			long p = pk_perf_raw_syscall(SYS_mmap, 0, PK_PERF_RAW_PAGE, PROT_READ,
						     MAP_SHARED, fd, 0);

			if (p >= 0 || p < -4095)
				g->pg[i] = (struct perf_event_mmap_page *)p;
		}
	}
	return g->nopen;
}

/* Reads counter pg's value with rdpmc; false when the kernel does not allow it now. */
static inline bool pk_perf_raw_rdpmc(const volatile struct perf_event_mmap_page *pc, uint64_t *v)
{
	uint32_t seq, idx, lo, hi;
	uint64_t count;
	int64_t pmc;
	uint16_t width;

	do {
		seq = pc->lock;
		__asm__ volatile("" ::: "memory");
		idx = pc->index;
		count = (uint64_t)pc->offset;
		if (!pc->cap_user_rdpmc || !idx)
			return false;
		width = pc->pmc_width;
		__asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(idx - 1));
		pmc = (int64_t)((uint64_t)hi << 32 | lo);
		if (width && width < 64) {
			pmc = (int64_t)((uint64_t)pmc << (64 - width));
			pmc >>= 64 - width;
		}
		count += (uint64_t)pmc;
		__asm__ volatile("" ::: "memory");
	} while (pc->lock != seq);
	*v = count;
	return true;
}

/* Reads the group's counters into val[i] (i < g->n); returns a mask of the counters read (bit
 * i: val[i] is valid), 0 when nothing could be read.  *rdpmc is set when every counter was
 * read with rdpmc (no system call). */
static inline uint32_t pk_perf_raw_read(const struct pk_perf_raw_group *g, uint64_t *val,
					bool *rdpmc)
{
	uint64_t buf[1 + PK_PERF_RAW_MAX];
	uint32_t mask = 0;
	int leader;
	long got;

	*rdpmc = g->nopen > 0;
	for (uint32_t i = 0; i < g->n && *rdpmc; i++) {
		if (g->fd[i] < 0)
			continue;
		if (!g->pg[i] || !pk_perf_raw_rdpmc(g->pg[i], &val[i]))
			*rdpmc = false;
		else
			mask |= 1u << i;
	}
	if (*rdpmc)
		return mask;
	mask = 0;
	if (g->ngroup) {
		leader = g->fd[g->order[0]];
		got = pk_perf_raw_syscall(SYS_read, leader, (long)buf, (long)sizeof(buf), 0, 0, 0);
		if (got >= 8 && buf[0] <= g->ngroup && (uint64_t)got >= 8 * (1 + buf[0])) {
			/* the group's values come in the order its members were opened */
			for (uint32_t k = 0; k < buf[0]; k++) {
				val[g->order[k]] = buf[1 + k];
				mask |= 1u << g->order[k];
			}
		}
	}
	/* the clocks, alone: each read() gives nr = 1 and the value */
	for (uint32_t i = 0; i < g->n; i++) {
		if (g->fd[i] < 0 || (mask & 1u << i))
			continue;
		got = pk_perf_raw_syscall(SYS_read, g->fd[i], (long)buf, 16, 0, 0, 0);
		if (got == 16 && buf[0] == 1) {
			val[i] = buf[1];
			mask |= 1u << i;
		}
	}
	return mask;
}

#endif
