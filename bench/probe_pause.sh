#!/usr/bin/env bash
# bench/probe_pause.sh — how long enabling patchable-entry probes holds up threads of a busy
# process: tests/tools/iprobe-spin.c built with -fpatchable-function-entry=5, 64 threads
# calling the probed functions in a loop at nice 19; SWITCHES enables of every probe (each
# followed by a disable) per round, ROUNDS interleaved rounds.
#   This build switches entries inside the process (libiprobe: the NOPs made one, then every
#   running thread moves itself past them in a signal handler): no thread is stopped.  What a
#   thread pays is one signal: the kernel's delivery and return (measured here by itself, a
#   thread signalling itself with an empty SA_SIGINFO handler) plus the handler's CPU time
#   (libiprobe measures it).  Also shown: how long an enable takes (it waits for every running
#   thread to be scheduled once) and how many fell back to ptrace.
#   A build before it (OLD_PK_BIN, e.g. 26302ec or 0eed0c6) reports the longest stop of one
#   thread of its ptrace scheme, or the pause of its stop-the-world fallback.
#   OLD_PK_BIN=/path/to/old/parikshan ROUNDS=3 SWITCHES=10 bash bench/probe_pause.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
. "$ROOT/bench/common.sh"
bench_init probe_pause gcc python3
ROUNDS=${ROUNDS:-3}
SWITCHES=${SWITCHES:-10}
BUILDS="new"
[ -n "${OLD_PK_BIN:-}" ] && BUILDS="old new"
gcc -O2 -pthread -fpatchable-function-entry=5 -o "$TMP/spin-entry" "$ROOT/tests/tools/iprobe-spin.c" ||
	{ echo "probe_pause.sh: build failed" >&2; exit 1; }
cat >"$TMP/sigrt.c" <<'C'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static void h(int s, siginfo_t *i, void *u) { (void)s; (void)i; (void)u; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(void) {
	struct sigaction sa = { .sa_sigaction = h, .sa_flags = SA_SIGINFO | SA_RESTART };
	double r[21];
	pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
	sigaction(SIGRTMAX, &sa, NULL);
	for (int k = 0; k < 21; k++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < 20000; i++)
			syscall(SYS_tgkill, pid, tid, SIGRTMAX);
		clock_gettime(CLOCK_MONOTONIC, &b);
		r[k] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 20000 / 1000;
	}
	qsort(r, 21, sizeof(r[0]), cmp);
	printf("%.2f\n", r[10]);
	return 0;
}
C
gcc -O2 -o "$TMP/sigrt" "$TMP/sigrt.c" || { echo "probe_pause.sh: build failed" >&2; exit 1; }
for ((r = 1; r <= ROUNDS; r++)); do
	echo "probe_pause.sh: round $r of $ROUNDS" >&2
	for b in $BUILDS; do
		bin=$PK_BIN
		[ "$b" = old ] && bin=$OLD_PK_BIN
		bench_switches "$bin" "$TMP/spin-entry" "$TMP/sw.out"
		cat "$TMP/sw.out" >>"$TMP/$b"
	done
	"$TMP/sigrt" >>"$TMP/sigrt.out"
done
for b in $BUILDS; do
	python3 - "$TMP/$b" "$b" "$TMP/sigrt.out" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
def dist(v):
    v = sorted(v)
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    return f"n={len(v)}: min {v[0]:.3f}, median {statistics.median(v):.3f}, p90 {q(0.9):.3f}, max {v[-1]:.3f} ms"
def grab(pat):
    return [float(m.group(1)) for l in lines if (m := re.search(pat, l))]
stops = grab(r"(?:longest pause|longest stop of a thread) ([0-9.]+) ms")
cpu = grab(r"most CPU in a handler ([0-9.]+) ms")
took = grab(r"\(([0-9.]+) ms in the process")
moved = sum(int(m.group(1)) for l in lines if (m := re.search(r"([0-9]+) moved past", l)))
if stops:
    print(f"| {sys.argv[2]}: ptrace, longest stop of one thread | {dist(stops)} |")
if cpu:
    rt = statistics.median(float(x) for x in open(sys.argv[3]))
    print(f"| {sys.argv[2]}: in the process, no thread stopped; CPU in libiprobe's handler per thread | {dist(cpu)} |")
    print(f"| {sys.argv[2]}: + one signal's delivery and return (kernel, measured alone) | median {rt:.2f} us |")
    print(f"| {sys.argv[2]}: enable, start to end (waits for each running thread to run once) | {dist(took)} |")
    print(f"| {sys.argv[2]}: enables in the process / through ptrace; threads moved past an entry | {len(cpu)} / {len(stops)}; {moved} |")
PY
done
