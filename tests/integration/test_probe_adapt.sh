#!/usr/bin/env bash
# test_probe_adapt.sh — sampling (`probe sample`) on our target (tests/tools/iprobe-spin.c,
# cold-patched): THREADS threads each call work() (which calls leaf_a twice and leaf_b once)
# and bump() exactly K times.  Per probe, 1 call in 4 of work and leaf_a is recorded, exactly
# (a per-thread counter), est_calls gives back every call, and every exit follows its entry;
# globally, 1 in 8 of every probe, with a sampling marker per thread in the dump; the rates
# read back; bad input.
. "$(dirname "$0")/lib.sh"

SPIN=$PK_TOOLS/iprobe-spin
THREADS=2
K=4000

if ! "$PK_BIN" coldpatch "$SPIN" -o "$PK_TMP/spin" >"$PK_TMP/coldpatch.out" 2>&1; then
	pk_fail coldpatch "$(tail -n 3 "$PK_TMP/coldpatch.out")"
	exit 1
fi
pk_ok coldpatch

# spin_start NAME: a count target with every probe on; sets SPIN_PID.
spin_start() {
	pk_bg "$1" "$PK_TMP/spin" count "$THREADS" "$K"
	pk_wait_log "$PK_TMP/$1.log" '^ready ' 20 || exit 1
	SPIN_PID=$(awk '/^ready / { print $2; exit }' "$PK_TMP/$1.log")
	"$PK_BIN" probe enable --pid "$SPIN_PID" '*' >/dev/null 2>"$PK_TMP/$1.enable" ||
		pk_fail "$1-enable" "$(cat "$PK_TMP/$1.enable")"
}

# spin_run NAME: runs the calls of target NAME to their end.
spin_run() {
	kill -USR1 "$SPIN_PID"
	pk_wait_log "$PK_TMP/$1.log" '^done ' 60 || exit 1
	pk_expect_eq "$1-results" "$(grep '^done' "$PK_TMP/$1.log")" "done $((THREADS * K)) errors 0"
}

# col FILE FUNC N: column N of FUNC's row in a dump table.
col() {
	awk -v f="$2" -v n="$3" '$1 == f { print $n }' "$1"
}

# --- per probe: 1 in 4 of work and leaf_a ---------------------------------------------------
spin_start probe
pk_expect_eq probe-set "$("$PK_BIN" probe sample --pid "$SPIN_PID" --rate 4 work leaf_a 2>&1)" \
	"sampling 1 call in 4 of 2 functions in $SPIN_PID"
pk_expect_eq probe-read "$("$PK_BIN" probe sample --pid "$SPIN_PID" 2>&1 | sort | tr '\n' ' ')" \
	"global 1/1 leaf_a 1/4 work 1/4 "
spin_run probe
"$PK_BIN" probe dump --pid "$SPIN_PID" --format table -o "$PK_TMP/probe.table" 2>"$PK_TMP/probe.err"
pk_expect_eq probe-dump-exit "$?" 0
N=$((THREADS * K))
pk_expect_eq probe-header "$(head -n 1 "$PK_TMP/probe.table" | awk '{ print $2, $3, $4 }')" \
	"calls sample est_calls"
pk_expect_eq work-calls "$(col "$PK_TMP/probe.table" work 2) $(col "$PK_TMP/probe.table" work 3) $(col "$PK_TMP/probe.table" work 4)" \
	"$((N / 4)) 1/4 $N"
pk_expect_eq leaf_a-calls "$(col "$PK_TMP/probe.table" leaf_a 2) $(col "$PK_TMP/probe.table" leaf_a 4)" \
	"$((2 * N / 4)) $((2 * N))"
pk_expect_eq leaf_b-calls "$(col "$PK_TMP/probe.table" leaf_b 2) $(col "$PK_TMP/probe.table" leaf_b 3) $(col "$PK_TMP/probe.table" leaf_b 4)" \
	"$N 1/1 $N"
pk_expect_eq bump-calls "$(col "$PK_TMP/probe.table" bump 2) $(col "$PK_TMP/probe.table" bump 4)" "$N $N"
# every recorded call was timed: its exit came (no entry left without its exit)
pk_check probe-no-drops grep -qE '^events [0-9]+  threads 2  dropped 0 \(rings full\) \+ 0' "$PK_TMP/probe.table"
want_events=$((2 * (N / 4 + 2 * N / 4 + N + N)))
pk_check probe-events grep -qE "^events $want_events " "$PK_TMP/probe.table"
# back to every call (a rate of 1 forgets the probe's rate)
pk_check probe-reset "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 1 work leaf_a
pk_expect_eq probe-read-reset "$("$PK_BIN" probe sample --pid "$SPIN_PID" 2>&1)" "global 1/1"

# --- global: 1 in 8 of every probe, a marker per thread ---------------------------------------
spin_start global
pk_expect_eq global-set "$("$PK_BIN" probe sample --pid "$SPIN_PID" --rate 8 2>&1)" \
	"sampling 1 call in 8 of every probe in $SPIN_PID"
spin_run global
"$PK_BIN" probe dump --pid "$SPIN_PID" --format json -o "$PK_TMP/global.json" 2>"$PK_TMP/global.err"
pk_expect_eq global-dump-exit "$?" 0
pk_check global-json python3 - "$PK_TMP/global.json" "$N" "$THREADS" <<'PY'
import json, sys
from collections import Counter
d = json.load(open(sys.argv[1]))
n, threads = int(sys.argv[2]), int(sys.argv[3])
ev = d["events"]
entries = Counter(e["func"] for e in ev if e["ev"] == "entry")
exits = Counter(e["func"] for e in ev if e["ev"] == "exit")
want = {"work": n // 8, "leaf_a": 2 * n // 8, "leaf_b": n // 8, "bump": n // 8}
assert dict(entries) == want, entries
assert dict(exits) == want, exits  # each exit follows its entry's decision
marks = [e for e in ev if e["ev"] == "sample"]
assert len(marks) == threads and all(m["n"] == 3 and m["label"] == "sample 1/8" for m in marks), marks
# the marker comes before a thread's first recorded event
for tid in {e["tid"] for e in ev}:
    first = next(e for e in ev if e["tid"] == tid)
    assert first["ev"] == "sample", first
assert d["drops"] == 0, d["drops"]
PY
pk_check global-read sh -c "'$PK_BIN' probe sample --pid $SPIN_PID | grep -qx 'global 1/8'"
pk_check global-reset "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 1
pk_check global-read-reset sh -c "'$PK_BIN' probe sample --pid $SPIN_PID | grep -qx 'global 1/1'"

# --- bad input ---------------------------------------------------------------------------------
pk_expect_error rate-not-pow2 2 "[-]-rate '3': not a power of two" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 3
pk_expect_error rate-zero 2 "[-]-rate '0'" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 0
pk_expect_error rate-big 2 "[-]-rate '131072'" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 131072
pk_expect_error rate-elsewhere 2 "[-]-rate: goes with 'sample'" "$PK_BIN" probe dump --pid "$SPIN_PID" --rate 4
pk_expect_error no-match 1 "no function of [0-9]+ matches" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 4 'nosuchfunc*'
