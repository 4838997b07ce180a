/* clone_trace.h — `parikshan clone ... --trace`: request-path tracing in a clone (never in
 * production), started once the clone is up. */
#ifndef PK_CLI_CLONE_TRACE_H
#define PK_CLI_CLONE_TRACE_H

#include <stdbool.h>

/* Starts a logd for clone `name` (detached; its store `db`, or STATE/NAME/trace.sqlite when
 * NULL; it listens at PK_TRACE_SOCK_DEFAULT inside the clone's file system and stops when the
 * clone's init exits, i.e. when the clone is removed), then loads libparikshan_trace.so into
 * every process of the clone's pid namespace.  Prints where the store is unless `quiet`.
 * Returns an exit status (failures printed as `what`). */
int pk_cli_clone_trace(const char *state_dir, const char *name, const char *db, bool quiet,
		       const char *what);

#endif
