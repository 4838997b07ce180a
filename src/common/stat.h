/* stat.h — counters and flags written by one thread and read by others (the admin thread,
 * the recorder's producers): relaxed atomics, plain moves on x86-64, so there is no lock and
 * no data race.  Only the owning thread may use PK_STAT_ADD (a load and a store, not a
 * locked read-modify-write).
 */
#ifndef PK_COMMON_STAT_H
#define PK_COMMON_STAT_H

#include <stdint.h>

#define PK_STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define PK_STAT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define PK_STAT_ADD(field, n) PK_STAT_SET(field, PK_STAT_GET(field) + (uint64_t)(n))

#endif
