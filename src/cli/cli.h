/* cli.h — the subcommands of `parikshan`; each parses its own flags and returns an exit code
 * (PK_EXIT_OK, PK_EXIT_RUNTIME, PK_EXIT_USAGE). */
#ifndef PK_CLI_CLI_H
#define PK_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "common/args.h"

/* Where a proxy's admin endpoint is unless --admin says otherwise (status, up), and the
 * address of --admin PORT without ADDR (dup, agg, status, up). */
#define PK_CLI_ADMIN_HOST "127.0.0.1"
#define PK_CLI_ADMIN_PORT 9100
#define PK_CLI_ADMIN_DEFAULT PK_CLI_ADMIN_HOST ":" PK_STR(PK_CLI_ADMIN_PORT)

/* `parikshan agent`: receives external clones. */
int pk_cmd_agent(int argc, char **argv);

/* `parikshan agg`: runs the upstream aggregator. */
int pk_cmd_agg(int argc, char **argv);

/* `parikshan clone`: live-clones a running container. */
int pk_cmd_clone(int argc, char **argv);

/* `parikshan coldpatch`: turns a program's -finstrument-functions calls into probe sites. */
int pk_cmd_coldpatch(int argc, char **argv);

/* `parikshan container`: runs, lists, removes containers and shows their logs. */
int pk_cmd_container(int argc, char **argv);

/* `parikshan debug`: a shell, a command, gdb, strace or tcpdump inside a clone's namespaces. */
int pk_cmd_debug(int argc, char **argv);

/* `parikshan diverge`: shows the compare log of `dup --compare` as a table. */
int pk_cmd_diverge(int argc, char **argv);

/* `parikshan down`: stops what `up` started. */
int pk_cmd_down(int argc, char **argv);

/* `parikshan up`: clones plus a duplicator in front of production. */
int pk_cmd_up(int argc, char **argv);

/* `parikshan dup`: runs the network duplicator. */
int pk_cmd_dup(int argc, char **argv);

/* `parikshan fault`: injects network, CPU and kill faults into a clone. */
int pk_cmd_fault(int argc, char **argv);

/* `parikshan invivo`: runs a test in forked children of a live process at a function's entry. */
int pk_cmd_invivo(int argc, char **argv);

struct pk_probe_target;

/* Loads libiprobe (found as `probe` finds it) into t unless it is there and attaches to its
 * segment; 0, or the exit status of a failure (printed, as `what`). */
int pk_cli_probe_attach(struct pk_probe_target *t, const char *what);

/* `parikshan probe`: function probes in a live process (list, enable, disable, dump, fperf). */
int pk_cmd_probe(int argc, char **argv);

/* `parikshan replay`: replays a capture's clients against a target and compares the answers. */
int pk_cmd_replay(int argc, char **argv);

/* `parikshan sim`: simulates a duplicator buffer and prints the debug window. */
int pk_cmd_sim(int argc, char **argv);

/* `parikshan status`: prints a running proxy's state. */
int pk_cmd_status(int argc, char **argv);

/* `parikshan trace`: run a command under the tracing library, attach it to running processes,
 * the log daemon, expand. */
int pk_cmd_trace(int argc, char **argv);

/* `parikshan trace analyze|paths|report` (argv[0] is the verb): request paths from a trace
 * store (src/cli/trace_paths.c). */
int pk_cli_trace_paths(int argc, char **argv);

/* `parikshan use`: the USE report of a container or clone, beside its production. */
int pk_cmd_use(int argc, char **argv);

struct pk_pcap_opts;
struct pk_replay_opts;

/* Reads the capture file (po) and replays its clients against host:port (ro), printing the
 * table (or JSON); the exit status: 0 all answers the same, 3 some differ, 1 failed. */
int pk_cli_replay(const char *file, const char *host, uint16_t port, const struct pk_pcap_opts *po,
		  struct pk_replay_opts *ro, bool json);

/* `parikshan snapshot` and `parikshan rewind` (cmd_snapshot.c).  Return an exit status. */
int pk_cmd_snapshot(int argc, char **argv);
int pk_cmd_rewind(int argc, char **argv);

#endif
