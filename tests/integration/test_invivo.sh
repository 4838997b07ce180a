#!/usr/bin/env bash
# test_invivo.sh — `parikshan invivo` end to end.  On our target (tests/tools/iprobe-invivo.c,
# cold-patched), THREADS threads call work() exactly K times, PACE ms apart; with --prob 1 every
# call draws a child (forked, or skipped when --max-live children are alive: runs + skipped =
# calls), the passing test passes in every child, the failing one fails in every child, a
# hanging one is killed at its deadline, a crashing one is counted crashed; the target's results are unchanged, no child and no
# zombie is left, the log holds the verdicts and the text is the cold-patched file's again.
# A process outside any debug clone is refused without --production, one in a clone's netns
# (a namespace recorded as a clone's in a state dir of ours) is accepted; every other run here
# gives --production (no real clone: containers are not this test's subject).  Bad input.  Then acceptance 6: a passing test
# at a hot function of the cold-patched redis with P=0.01 under a bounded redis-benchmark.
. "$(dirname "$0")/lib.sh"

THREADS=2
K=15
PACE=20
CALLS=$((THREADS * K))
TESTS=$(dirname "$PK_BIN")/invivo

if ! "$PK_BIN" coldpatch "$PK_TOOLS/iprobe-invivo" -o "$PK_TMP/iv" >"$PK_TMP/coldpatch.out" 2>&1; then
	pk_fail coldpatch "$(tail -n 3 "$PK_TMP/coldpatch.out")"
	exit 1
fi
pk_ok coldpatch

# A namespace standing for a debug clone's (a clone has its own netns; pk_clone_of_pid finds a
# process's clone by it), recorded in a state dir of ours as a clone's.
NS=pk-test-inv-$$
cleanup_all() {
	pk_cleanup
	ip netns del "$NS" 2>/dev/null
}
trap cleanup_all EXIT
ip netns add "$NS" || { pk_fail setup "ip netns add $NS"; exit 1; }
mkdir -p "$PK_TMP/state/dbg"
printf '{"name": "dbg", "kind": "clone", "netns": "%s"}\n' "$NS" >"$PK_TMP/state/dbg/meta.json"

# start_target NAME: a fresh target (its calls run once; in the clone's netns when IN_CLONE is
# set); sets TPID.
IN_CLONE=
start_target() {
	local pre=()
	[ -n "$IN_CLONE" ] && pre=(nsenter --net="/var/run/netns/$NS")
	pk_bg "$1" "${pre[@]}" "$PK_TMP/iv" "$THREADS" "$K" "$PACE"
	TPID=$PK_LAST_PID
	pk_wait_log "$PK_TMP/$1.log" '^ready ' 20 || exit 1
}

# no_children PID: no process has PID (any of its threads) as parent: no child, no zombie.
no_children() {
	local f
	for f in /proc/"$1"/task/*/children; do
		[ -s "$f" ] && { echo "children of $1: $(cat "$f")"; return 1; }
	done
	return 0
}

# run_test NAME TEST.so ARGS...: on a fresh target, runs invivo with the test at work() (JSON
# to NAME.json, stderr NAME.err, verdicts NAME.vlog) while the target makes its calls, stops it
# with SIGINT once they are done; checks the exit, the target's results, no child left.
run_test() {
	local name=$1 so=$2 ipid
	shift 2
	start_target "$name-target"
	local prod=(--production)
	[ -n "$IN_CLONE" ] && prod=()
	PARIKSHAN_STATE_DIR=$PK_TMP/state "$PK_BIN" invivo --pid "$TPID" "${prod[@]}" \
		--json -o "$PK_TMP/$name.vlog" "$@" work "$so" >"$PK_TMP/$name.json" 2>"$PK_TMP/$name.err" &
	ipid=$!
	PK_PIDS+=("$ipid")
	pk_wait_log "$PK_TMP/$name.err" '^parikshan: invivo: testing ' 30 || {
		pk_fail "$name-start" "$(cat "$PK_TMP/$name.err")"
		exit 1
	}
	kill -USR1 "$TPID"
	pk_wait_log "$PK_TMP/$name-target.log" '^done ' 60 || exit 1
	kill -INT "$ipid"
	pk_wait_exit "$ipid" 60 || exit 1
	wait "$ipid"
	pk_expect_eq "$name-exit" "$?" 0
	pk_check "$name-target-results" grep -qx "done $CALLS errors 0" "$PK_TMP/$name-target.log"
	pk_check "$name-no-child-left" no_children "$TPID"
	pk_check "$name-text-restored" pk_text_matches_file "$TPID" "$PK_TMP/iv"
}

# counts NAME VERDICT: checks the JSON counts: every call drew (runs + skipped = calls), at
# least one ran, and every run ended with VERDICT (passed, failed or timed_out).
counts() {
	python3 - "$PK_TMP/$1.json" "$CALLS" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
calls, verdict = int(sys.argv[2]), sys.argv[3]
(t,) = d["tests"]
assert t["function"] == "work", t
assert t["runs"] + t["skipped_busy"] == calls and t["fork_failed"] == 0, t
assert t["runs"] >= 1, t
for v in ("passed", "failed", "timed_out", "crashed"):
    assert t[v] == (t["runs"] if v == verdict else 0), (v, t)
assert d["still_running"] == 0, d
PY
}

# --- production refusal -------------------------------------------------------------------------
start_target plain
pk_expect_error refused 2 "invivo: process $TPID is not in a debug clone \(production\); add --production to run there anyway" \
	"$PK_BIN" invivo --pid "$TPID" work "$TESTS/invivo-pass.so"
pk_expect_error refused-with-state 2 "invivo: process $TPID is not in a debug clone" \
	env PARIKSHAN_STATE_DIR="$PK_TMP/state" "$PK_BIN" invivo --pid "$TPID" work "$TESTS/invivo-pass.so"
pk_check refused-nothing-loaded sh -c "! grep -qE 'libiprobe|invivo-pass' /proc/$TPID/maps"

# --- in a clone: accepted without --production -------------------------------------------------
IN_CLONE=1
run_test clone "$TESTS/invivo-pass.so" --max-live 16
pk_check clone-counts counts clone passed
IN_CLONE=

# --- a passing test in every child --------------------------------------------------------------
run_test pass "$TESTS/invivo-pass.so" --max-live 16
pk_check pass-counts counts pass passed
runs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"][0]["runs"])' "$PK_TMP/pass.json")
pk_expect_eq pass-log-verdicts "$(grep -c "func=work test=invivo-pass.so verdict=pass rc=0$" "$PK_TMP/pass.vlog")" "$runs"
pk_expect_eq pass-log-output "$(grep -cE "func=work: ppid $TPID, parent $TPID$" "$PK_TMP/pass.vlog")" "$runs"

# --- a failing test: every child fails, the target is unaffected --------------------------------
run_test fail "$TESTS/invivo-fail.so" --max-live 16
pk_check fail-counts counts fail failed
runs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"][0]["runs"])' "$PK_TMP/fail.json")
pk_expect_eq fail-log-verdicts "$(grep -c "test=invivo-fail.so verdict=fail rc=3$" "$PK_TMP/fail.vlog")" "$runs"
pk_expect_eq fail-log-output "$(grep -c ": failing on purpose$" "$PK_TMP/fail.vlog")" "$runs"

# --- a test that hangs: killed at its deadline, counted timed out -------------------------------
run_test hang "$TESTS/invivo-hang.so" --max-live 2 --deadline 200ms
pk_check hang-counts counts hang timed_out
runs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"][0]["runs"])' "$PK_TMP/hang.json")
pk_expect_eq hang-log-verdicts "$(grep -c "verdict=timeout$" "$PK_TMP/hang.vlog")" "$runs"

# --- a test that crashes: the child ends by SIGSEGV, counted crashed ----------------------------
run_test crash "$TESTS/invivo-crash.so" --max-live 16
pk_check crash-counts counts crash crashed
runs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"][0]["runs"])' "$PK_TMP/crash.json")
pk_expect_eq crash-log-verdicts "$(grep -c "verdict=crash signal=11$" "$PK_TMP/crash.vlog")" "$runs"

# --- bad input: one line, non-zero exit, the target keeps running --------------------------------
pk_expect_error bad-prob-0 2 "prob '0': not a probability in \(0,1\]" \
	"$PK_BIN" invivo --pid "$TPID" --production --prob 0 work "$TESTS/invivo-pass.so"
pk_expect_error bad-prob-big 2 "prob '1.5': not a probability in \(0,1\]" \
	"$PK_BIN" invivo --pid "$TPID" --production --prob 1.5 work "$TESTS/invivo-pass.so"
pk_expect_error no-such-pid 1 "invivo: no process 999999999" \
	"$PK_BIN" invivo --pid 999999999 --production work "$TESTS/invivo-pass.so"
start_target bad
pk_expect_error no-match 2 "no function of $TPID matches 'no_such_fn\*'" \
	"$PK_BIN" invivo --pid "$TPID" --production --duration 1s 'no_such_fn*' "$TESTS/invivo-pass.so"
pk_check no-match-nothing-loaded sh -c "! grep -qE 'libiprobe|invivo-pass' /proc/$TPID/maps"
pk_expect_error no-test-file 2 "invivo: $PK_TMP/nothing.so: No such file" \
	"$PK_BIN" invivo --pid "$TPID" --production work "$PK_TMP/nothing.so"
pk_expect_error no-test-symbol 2 "libinvivo.so: exports no pk_invivo_test" \
	"$PK_BIN" invivo --pid "$TPID" --production work "$(dirname "$PK_BIN")/libinvivo.so"
pk_expect_error no-args 2 "needs FUNC and TEST.so" "$PK_BIN" invivo --pid "$TPID" --production work
pk_check bad-target-alive kill -0 "$TPID"
pk_check bad-no-child no_children "$TPID"
pk_check bad-text-restored pk_text_matches_file "$TPID" "$PK_TMP/iv"

# --- acceptance 6: the cold-patched redis under a bounded benchmark, P = 0.01 -------------------
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
RPID=$PK_LAST_PID
# not in a clone here (the test starts none): --production
"$PK_BIN" invivo --pid "$RPID" --production --prob 0.01 --json -o "$PK_TMP/redis.vlog" \
	lookupKey "$TESTS/invivo-pass.so" >"$PK_TMP/redis.json" 2>"$PK_TMP/redis.err" &
IPID=$!
PK_PIDS+=("$IPID")
pk_wait_log "$PK_TMP/redis.err" '^parikshan: invivo: testing ' 30 || {
	pk_fail redis-invivo-start "$(cat "$PK_TMP/redis.err")"
	exit 1
}
timeout 120 redis-benchmark -h 127.0.0.1 -p "$PORT" -q -n 20000 -t set,get >"$PK_TMP/bench.out" 2>&1
pk_expect_eq redis-bench-exit "$?" 0
pk_check redis-bench-no-error sh -c "! grep -q Error '$PK_TMP/bench.out' &&
	tr '\r' '\n' <'$PK_TMP/bench.out' | grep -qE '^GET: [0-9.]+ requests per second'"
kill -INT "$IPID"
pk_wait_exit "$IPID" 60 || exit 1
wait "$IPID"
pk_expect_eq redis-invivo-exit "$?" 0
pk_expect_eq redis-set-calls "$(pk_redis_calls "$PORT" set)" 20000
pk_expect_eq redis-get-calls "$(pk_redis_calls "$PORT" get)" 20000
pk_check redis-counts python3 - "$PK_TMP/redis.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
(t,) = d["tests"]
assert t["runs"] > 0 and t["passed"] == t["runs"], t
assert t["failed"] == t["timed_out"] == t["crashed"] == t["fork_failed"] == 0, t
# P = 0.01 over >= 40000 calls of lookupKey: far from 1 in 100 would be a bad draw
assert 100 <= t["runs"] + t["skipped_busy"] <= 2000, t
assert d["still_running"] == 0, d
PY
runs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"][0]["runs"])' "$PK_TMP/redis.json")
pk_expect_eq redis-log-verdicts "$(grep -c "func=lookupKey test=invivo-pass.so verdict=pass rc=0$" "$PK_TMP/redis.vlog")" "$runs"
pk_check redis-no-zombie no_children "$RPID"
pk_expect_eq redis-alive "$(redis-cli -h 127.0.0.1 -p "$PORT" PING)" PONG
pk_check redis-text-restored pk_text_matches_file "$RPID" "$RDIR/redis-server.cold"
