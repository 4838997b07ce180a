/* stateful.h — which production services keep state, for `up --balance`: with --balance each
 * clone sees a subset of the connections, so a clone of a database or a cache diverges from
 * production (it misses the writes the other clones got).  Told by process name. */
#ifndef PK_CLI_STATEFUL_H
#define PK_CLI_STATEFUL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Tells whether comm (a process name, as ps shows it) is one of the servers known to keep state
 * (stateful.c's list: databases, caches, stores; USAGE.md lists them too). */
bool pk_stateful_name(const char *comm);

/* Tells whether process pid, or a process below it (up to three levels down, the first 64), is
 * one of those servers; then copies its name into name (len bytes; may be
 * NULL).  A process that cannot be read counts as not stateful. */
bool pk_stateful_proc(pid_t pid, char *name, size_t len);

#endif
