#!/usr/bin/env bash
# test_probe_adapt.sh — sampling (`probe sample`) on our target (tests/tools/iprobe-spin.c,
# cold-patched): THREADS threads each call work() (which calls leaf_a twice and leaf_b once)
# and bump() exactly K times.  Per probe, 1 call in 4 of work and leaf_a is recorded, exactly
# (a per-thread counter), est_calls gives back every call, and every exit follows its entry;
# globally, 1 in 8 of every probe, with a sampling marker per thread in the dump; the rates
# read back; bad input.
#
# Then the acceptance of dup --adapt-pid: the cold-patched redis as a clone behind dup with
# fperf probes on every function (each hit reads three counters: ~900 SETs/s of 16 KiB values
# on this machine where it takes 12,000 without), fed by a paced client (twice the
# probed clone's rate, measured first, of 16 KiB SETs for 15 s) through a 16 MiB buffer.
# Without --adapt-pid the clone desyncs; with it, the rate of its probes goes up as its buffer passes 10% (the highest
# fill seen was about a third of the buffer), no connection desyncs, and the rate comes back
# to every call once the load is over.
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

# --- patchable entries (no exit probe): 1 in 4, past any stack depth ---------------------------
pk_bg entry "$PK_TOOLS/iprobe-spin-entry" count "$THREADS" "$K"
pk_wait_log "$PK_TMP/entry.log" '^ready ' 20 || exit 1
SPIN_PID=$(awk '/^ready / { print $2; exit }' "$PK_TMP/entry.log")
pk_check entry-enable "$PK_BIN" probe enable --pid "$SPIN_PID" '*'
pk_check entry-sample "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 4 work
spin_run entry
"$PK_BIN" probe dump --pid "$SPIN_PID" --format table -o "$PK_TMP/entry.table" 2>/dev/null
pk_expect_eq entry-calls "$(col "$PK_TMP/entry.table" work 2) $(col "$PK_TMP/entry.table" work 4) $(col "$PK_TMP/entry.table" bump 2)" \
	"$((N / 4)) $N $N"

# --- bad input ---------------------------------------------------------------------------------
pk_expect_error rate-not-pow2 2 "[-]-rate '3': not a power of two" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 3
pk_expect_error rate-zero 2 "[-]-rate '0'" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 0
pk_expect_error rate-big 2 "[-]-rate '131072'" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 131072
pk_expect_error rate-elsewhere 2 "[-]-rate: goes with 'sample'" "$PK_BIN" probe dump --pid "$SPIN_PID" --rate 4
pk_expect_error no-match 1 "no function of [0-9]+ matches" "$PK_BIN" probe sample --pid "$SPIN_PID" --rate 4 'nosuchfunc*'

# --- dup --adapt-pid: a clone slowed by its probes survives the load that desyncs it without --
RDIR=${PK_REDIS_IPROBE_DIR:-$PK_ROOT/build/redis-iprobe}
if ! bash "$PK_ROOT/scripts/redis-iprobe.sh" "$PK_BIN" >"$PK_TMP/build.out" 2>&1; then
	pk_fail redis-build "$(tail -n 3 "$PK_TMP/build.out" | tr '\n' ' ')"
	exit 1
fi
PPORT=$(pk_free_port)
pk_redis prod "$PPORT" || exit 1
CPORT=$(pk_free_port)
pk_redis_bin "$RDIR/redis-server.cold" clone "$CPORT" || exit 1
CPID=$PK_LAST_PID
VALUE=16384
SECS=15
# sets_per_s PORT: SETs of VALUE bytes a second that the redis at PORT takes, pipelined (as
# dup's one stream per client delivers them), from a bounded redis-benchmark run
sets_per_s() {
	timeout 120 redis-benchmark -p "$1" -t set -d "$VALUE" -n 4000 -c 1 -P 16 --csv |
		awk -F'"' '/^"SET"/ { print int($4) }'
}
FAST=$(sets_per_s "$CPORT")
"$PK_BIN" probe fperf --pid "$CPID" --events task-clock,page-faults,context-switches '*' \
	>"$PK_TMP/fperf.out" 2>"$PK_TMP/fperf.err" &
FPID=$!
PK_PIDS+=("$FPID")
pk_wait_log "$PK_TMP/fperf.err" 'counting in [0-9]+ functions' 60 || exit 1
SLOW=$(sets_per_s "$CPORT")
# the load: twice what the probed clone takes (at least 1000/s), and at most half of what it
# takes with its probes off, so that sampling can save it (three times overflowed the buffer
# before the rate had come down, once, on a loaded CI machine)
RATE=$((2 * ${SLOW:-0} > 1000 ? 2 * ${SLOW:-0} : 1000))
RATE=$((RATE > ${FAST:-0} / 2 ? ${FAST:-0} / 2 : RATE))
echo "# the clone takes ${FAST:-?} SETs/s, ${SLOW:-?} with every probe on; load $RATE SETs/s"
if [ -z "$SLOW" ] || [ -z "$FAST" ] || [ $((4 * RATE)) -lt $((7 * SLOW)) ]; then
	pk_fail clone-rates "probes on every function do not slow the clone enough to test adapting: ${FAST:-?} SETs/s vs ${SLOW:-?}"
	exit 1
fi

# dup_run NAME ARGS...: dup in front of production and the clone (16 MiB buffers, admin port
# ADMIN), then the paced load through it; the client must get every reply.
dup_run() {
	local name=$1
	shift
	LPORT=$(pk_free_port)
	ADMIN=$(pk_free_port)
	pk_dup "$name" -l "$LPORT" -x 127.0.0.1 -p "$PPORT" -m 127.0.0.1 -d "$CPORT" -b 16M \
		--admin "127.0.0.1:$ADMIN" "$@"
	DPID=$PK_LAST_PID
	pk_wait_port "$ADMIN"
	if out=$(timeout 120 python3 "$PK_ROOT/tests/tools/pk-redispaced.py" "$LPORT" "$RATE" "$VALUE" "$SECS" 2>&1); then
		pk_ok "$name-load"
	else
		pk_fail "$name-load" "$out"
	fi
}

dup_run off
pk_check off-desyncs pk_wait_metric_ge "$ADMIN" parikshan_debug_desyncs_total 1 30
pk_check off-log grep -q 'desync conn=.* reason=buffer full' "$PK_TMP/off.log"
pk_check off-no-adapt sh -c "! grep -q 'adapt:' '$PK_TMP/off.log'"
pk_stop_clean off "$DPID"

dup_run adapt --adapt-pid "$CPID" --adapt-high 10 --adapt-low 2
pk_expect_eq adapt-desyncs "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_expect_eq adapt-overflows "$(pk_metric "$ADMIN" parikshan_debug_overflows_total)" 0
pk_check adapt-went-up grep -qE 'dup: adapt: target 0 sample 1/2\^1 \(buffer [0-9]+%\)' "$PK_TMP/adapt.log"
pk_check adapt-steps pk_wait_metric_ge "$ADMIN" parikshan_debug_sample_steps_total 2 30
# the load is over and the buffer drained: back to every call
pk_check adapt-back-down pk_wait_metric "$ADMIN" parikshan_debug_sample_log2 0 30
pk_check adapt-back-log sh -c "grep 'dup: adapt:' '$PK_TMP/adapt.log' | tail -n 1 | grep -q 'sample 1/2^0 '"
pk_check adapt-status sh -c "'$PK_BIN' status --admin 127.0.0.1:$ADMIN | grep -qE '^TARGET .* SAMPLE '"
# (waited for like adapt-back-down: a last step may still come while the clone drains)
status_json_back() {
	"$PK_BIN" status --admin "127.0.0.1:$ADMIN" --json >"$PK_TMP/status.json" &&
		python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["targets"][0]; assert t["sample_log2"] == 0 and t["sample_steps"] >= 2 and t["desyncs"] == 0, t' "$PK_TMP/status.json"
}
pk_check adapt-status-json pk_poll 30 status_json_back
pk_stop_clean adapt "$DPID"
pk_check adapt-reset-at-exit sh -c "'$PK_BIN' probe sample --pid $CPID | grep -qx 'global 1/1'"
kill -INT "$FPID"
pk_wait_exit "$FPID" 30 || exit 1
wait "$FPID"
pk_expect_eq fperf-exit "$?" 0
pk_expect_eq clone-alive "$(redis-cli -h 127.0.0.1 -p "$CPORT" PING)" PONG

# --- dup's flags -------------------------------------------------------------------------------
pk_expect_error adapt-low-high 2 "[-]-adapt-low" "$PK_BIN" dup -l 1 -x 127.0.0.1 -p 2 -m 127.0.0.1 -d 3 --adapt-pid 1 --adapt-low 60
pk_expect_error adapt-too-many 2 "more pids than debug targets" "$PK_BIN" dup -l "$(pk_free_port)" -x 127.0.0.1 -p 2 -m 127.0.0.1 -d 3 --adapt-pid "$CPID,$CPID"
pk_expect_error adapt-bad-pid 2 "[-]-adapt-pid" "$PK_BIN" dup -l 1 -x 127.0.0.1 -p 2 -m 127.0.0.1 -d 3 --adapt-pid x
pk_expect_error adapt-no-target 2 "names no debug target" "$PK_BIN" dup -l "$(pk_free_port)" -x 127.0.0.1 -p 2 -m 127.0.0.1 -d 3 --adapt-pid "$CPID@127.0.0.1:4"
