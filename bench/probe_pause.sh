#!/usr/bin/env bash
# bench/probe_pause.sh — how long enabling patchable-entry probes stops threads of a busy
# process: tests/tools/iprobe-spin.c built with -fpatchable-function-entry=5, 64 threads
# calling the probed functions in a loop at nice 19; SWITCHES enables of every probe (each
# followed by a disable) per round, ROUNDS interleaved rounds.  Prints, per build, the
# distribution of the number each enable reports: the longest stop of one thread (this build:
# an int3, then one thread at a time) or, for a build before that (OLD_PK_BIN, e.g. commit
# 0eed0c6), the pause of its stop-the-world fallback.
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
for ((r = 1; r <= ROUNDS; r++)); do
	echo "probe_pause.sh: round $r of $ROUNDS" >&2
	for b in $BUILDS; do
		bin=$PK_BIN
		[ "$b" = old ] && bin=$OLD_PK_BIN
		bench_switches "$bin" "$TMP/spin-entry" "$TMP/sw.out"
		sed -nE 's/.*(longest pause|longest stop of a thread) ([0-9.]+) ms.*/\2/p' "$TMP/sw.out" >>"$TMP/$b"
	done
done
for b in $BUILDS; do
	python3 - "$TMP/$b" "$b" <<'PY'
import statistics, sys
v = sorted(float(x) for x in open(sys.argv[1]))
q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
what = "stop-the-world pause" if sys.argv[2] == "old" else "longest stop of one thread"
print(f"| {sys.argv[2]} ({what}) | n={len(v)} | min {v[0]:.3f}, median {statistics.median(v):.3f}, p90 {q(0.9):.3f}, max {v[-1]:.3f} ms |")
PY
done
