/* perf.h — perf_event_open counters from the tools' side: the names a user gives (one table),
 * whether the kernel offers hardware counters, and a group of counters of the calling thread
 * (opened and read exactly as libiprobe does inside a target, src/probe/perf_raw.h). */
#ifndef PK_PROBE_PERF_H
#define PK_PROBE_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/perf_raw.h"

/* The counters by name, one table: X(name, PERF_TYPE_*, PERF_COUNT_*). */
#define PK_PERF_EVENTS(X)                                                                          \
	X("cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES)                                  \
	X("instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS)                          \
	X("cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES)                          \
	X("branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES)                        \
	X("task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK)                              \
	X("cpu-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK)                                \
	X("page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS)                            \
	X("minor-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN)                       \
	X("major-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ)                       \
	X("context-switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES)                  \
	X("cpu-migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS)

#define PK_PERF_MAX PK_PERF_RAW_MAX
#define PK_PERF_DEFAULT "cycles,instructions"
#define PK_PERF_FALLBACK "task-clock,page-faults,context-switches"

struct pk_perf_event {
	uint32_t type;
	uint64_t config;
};

/* Parses a comma-separated list of counter names into ev[0..max); returns how many, or
 * -EINVAL (an unknown or repeated name, an empty list) / -E2BIG (more than max) with a reason
 * that lists the valid names. */
int pk_perf_parse(const char *list, struct pk_perf_event *ev, size_t max, char *err, size_t errlen);

/* The name of counter (type, config), or NULL when it is not one of the table's. */
const char *pk_perf_name(uint32_t type, uint64_t config);

/* The valid names, comma-separated (a static string). */
const char *pk_perf_names(void);

/* True when the list asks for a hardware counter. */
bool pk_perf_any_hardware(const struct pk_perf_event *ev, size_t n);

/* True when the kernel lets this process count hardware events (a cycles counter of the
 * calling thread opens); errno-free probe, no side effect. */
bool pk_perf_hardware_available(void);

/* Opens counters ev[0..n) (n <= PK_PERF_MAX) of the calling thread as one group into g;
 * returns how many the kernel accepted (those refused have g->fd[i] = -1).  The caller closes
 * g with pk_perf_close, also when none opened. */
uint32_t pk_perf_open(struct pk_perf_raw_group *g, const struct pk_perf_event *ev, size_t n);

/* Reads g's counters into val[]; returns a mask of those read (bit i: val[i] valid); *rdpmc:
 * every one was read in user space with rdpmc. */
uint32_t pk_perf_read(const struct pk_perf_raw_group *g, uint64_t *val, bool *rdpmc);

/* Closes g. */
void pk_perf_close(struct pk_perf_raw_group *g);

#endif
