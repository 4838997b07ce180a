#!/usr/bin/env bash
# test_probe_fperf.sh — `probe fperf` end to end: on our target (tests/tools/iprobe-fperf.c,
# cold-patched), THREADS threads call touch_pages() (a page fault per page it touches) and
# compute() (no fault) exactly K times each while fperf counts; the page faults go to the
# right function (>= PAGES per call for one, ~0 for the other), the calls are exact, every call
# is measured, task-clock grows, the JSON is valid, and the process's text is the cold-patched
# file's again afterwards.  Then the default counters (the software fallback, said on stderr,
# where the kernel has no hardware counter), bad input, and one run on the cold-patched redis
# under a bounded redis-benchmark.
. "$(dirname "$0")/lib.sh"

THREADS=2
K=40
PAGES=64
FALLBACK="task-clock,page-faults,context-switches"

if ! "$PK_BIN" coldpatch "$PK_TOOLS/iprobe-fperf" -o "$PK_TMP/fp" >"$PK_TMP/coldpatch.out" 2>&1; then
	pk_fail coldpatch "$(tail -n 3 "$PK_TMP/coldpatch.out")"
	exit 1
fi
pk_ok coldpatch

pk_bg target "$PK_TMP/fp" "$THREADS" "$K" "$PAGES"
TPID=$PK_LAST_PID
pk_wait_log "$PK_TMP/target.log" '^ready ' 20 || exit 1

# fperf_start NAME ARGS...: starts `probe fperf` in the background (stdout NAME.out, stderr
# NAME.err) and waits until its probes are on; sets FPID.
fperf_start() {
	local name=$1
	shift
	"$PK_BIN" probe fperf --pid "$TPID" "$@" >"$PK_TMP/$name.out" 2>"$PK_TMP/$name.err" &
	FPID=$!
	PK_PIDS+=("$FPID")
	pk_wait_log "$PK_TMP/$name.err" 'counting in [0-9]+ functions' 30 || {
		pk_fail "$name-start" "$(cat "$PK_TMP/$name.err")"
		exit 1
	}
}

# --- the counted run: probes on, then the calls, then SIGINT ----------------------------------
fperf_start run --events "$FALLBACK" --json touch_pages compute
kill -USR1 "$TPID"
pk_wait_log "$PK_TMP/target.log" '^done ' 120 || exit 1
kill -INT "$FPID"
pk_wait_exit "$FPID" 30 || exit 1
wait "$FPID"
pk_expect_eq run-exit "$?" 0
pk_check target-results grep -qx "done $((THREADS * K)) errors 0" "$PK_TMP/target.log"
pk_check run-json python3 - "$PK_TMP/run.out" "$((THREADS * K))" "$PAGES" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
calls, pages = int(sys.argv[2]), int(sys.argv[3])
assert d["counters"] == ["task-clock", "page-faults", "context-switches"], d["counters"]
f = {x["function"]: x for x in d["functions"]}
assert set(f) == {"touch_pages", "compute"}, list(f)
for name in f:
    assert f[name]["calls"] == calls, (name, f[name]["calls"])
    for c, v in f[name]["counters"].items():
        assert v["calls"] == calls, (name, c, v)  # every call measured at entry and exit
    assert f[name]["counters"]["task-clock"]["per_call"] > 0, name
tp = f["touch_pages"]["counters"]["page-faults"]
cp = f["compute"]["counters"]["page-faults"]
assert pages <= tp["per_call"] < 2 * pages, tp
assert cp["per_call"] < 1, cp
assert d["dropped"] == 0 and d["no_ring"] == 0, d
PY
pk_check run-stderr grep -qE "^parikshan: probe fperf: .* s, $((4 * THREADS * K)) events, $((4 * 3 * THREADS * K)) counter reads, 0 dropped$" "$PK_TMP/run.err"
pk_check run-off sh -c "'$PK_BIN' probe list --pid $TPID >'$PK_TMP/list.out' &&
	grep -qE '^touch_pages +1 +1 +off' '$PK_TMP/list.out' && grep -qE '^compute +1 +1 +off' '$PK_TMP/list.out'"
pk_check run-text-restored pk_text_matches_file "$TPID" "$PK_TMP/fp"

# --- default counters, text table, --duration: the fallback is said when there is no hardware
fperf_start default --duration 300ms -o "$PK_TMP/default.table" 'touch_*'
pk_wait_exit "$FPID" 30 || exit 1
wait "$FPID"
pk_expect_eq default-exit "$?" 0
if grep -q 'no hardware counters here' "$PK_TMP/default.err"; then
	want="task-clock page-faults context-switches"
	pk_check default-fallback-one-line test "$(grep -c 'no hardware' "$PK_TMP/default.err")" -eq 1
else
	want="cycles instructions"
fi
pk_expect_eq default-columns "$(awk 'NR == 1 { for (i = 3; i <= NF; i += 3) printf "%s%s", (i > 3 ? " " : ""), $i }' "$PK_TMP/default.table")" "$want"
pk_check default-text-restored pk_text_matches_file "$TPID" "$PK_TMP/fp"

# --- bad input ---------------------------------------------------------------------------------
pk_expect_error bad-event 2 "events: 'bogus': not a counter \(cycles, instructions, .*context-switches" \
	"$PK_BIN" probe fperf --pid "$TPID" --events task-clock,bogus compute
pk_expect_error no-func 2 "fperf.*needs a FUNC" "$PK_BIN" probe fperf --pid "$TPID"
pk_expect_error no-match 1 "no function of $TPID matches" \
	"$PK_BIN" probe fperf --pid "$TPID" --duration 1s 'no_such_fn*'
pk_expect_error events-elsewhere 2 "events: goes with 'fperf'" \
	"$PK_BIN" probe enable --pid "$TPID" --events task-clock compute
pk_expect_error bad-duration 2 "duration 'soon'" "$PK_BIN" probe fperf --pid "$TPID" --duration soon compute
pk_check bad-text-restored pk_text_matches_file "$TPID" "$PK_TMP/fp"
kill -TERM "$TPID"
pk_wait_exit "$TPID" 30

# --- the cold-patched redis under a bounded benchmark -------------------------------------------
RDIR=${PK_REDIS_IPROBE_DIR:-$PK_ROOT/build/redis-iprobe}
if ! bash "$PK_ROOT/scripts/redis-iprobe.sh" "$PK_BIN" >"$PK_TMP/build.out" 2>&1; then
	pk_fail redis-build "$(tail -n 3 "$PK_TMP/build.out" | tr '\n' ' ')"
	exit 1
fi
PORT=$(pk_free_port)
pk_redis_bin "$RDIR/redis-server.cold" redis "$PORT" || {
	pk_fail redis-start "$(tail -n 5 "$PK_TMP/redis.log")"
	exit 1
}
TPID=$PK_LAST_PID
fperf_start redis --json setCommand lookupKey
timeout 120 redis-benchmark -h 127.0.0.1 -p "$PORT" -q -n 20000 -t set,get >"$PK_TMP/bench.out" 2>&1
pk_expect_eq redis-bench-exit "$?" 0
pk_check redis-bench-no-error sh -c "! grep -q Error '$PK_TMP/bench.out' &&
	tr '\r' '\n' <'$PK_TMP/bench.out' | grep -qE '^GET: [0-9.]+ requests per second'"
kill -INT "$FPID"
pk_wait_exit "$FPID" 30 || exit 1
wait "$FPID"
pk_expect_eq redis-fperf-exit "$?" 0
pk_check redis-json python3 - "$PK_TMP/redis.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["function"]: x for x in d["functions"]}
# every call measured, or lost with an event dropped from a full ring (counted: an event
# dropped loses at most one call); a good share measured (how many the rings lose depends on
# how often the reader gets a core on this 2-core machine: 74-100% measured seen, so a
# generous bound)
drops = d["dropped"]
for name in ("setCommand", "lookupKey"):
    assert f[name]["calls"] + drops >= 20000 and f[name]["calls"] >= 5000, (f.get(name), drops)
for name in f:
    for c, v in f[name]["counters"].items():
        assert 0 < v["calls"] <= f[name]["calls"], (name, c, v)
PY
pk_expect_eq redis-alive "$(redis-cli -h 127.0.0.1 -p "$PORT" PING)" PONG
pk_check redis-text-restored pk_text_matches_file "$TPID" "$RDIR/redis-server.cold"
