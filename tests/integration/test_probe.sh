#!/usr/bin/env bash
# test_probe.sh — iProbe end to end on our 8-thread target (tests/tools/iprobe-spin.c, built
# with -finstrument-functions): cold patch, injection of libiprobe into the running process,
# exact event counts with every thread calling the probed functions, every dump format checked
# against the table (perfetto decoded by protoc), the exact NOP bytes restored by disable (the
# process's text compared with the cold-patched file), patchable entries, 1,000 enable/disable cycles while 8 threads run the patched code
# (their results checked on every call), and bad input.
. "$(dirname "$0")/lib.sh"

SPIN=$PK_TOOLS/iprobe-spin
THREADS=8
K=6000 # calls of work() and bump() per thread: 10 events, within a thread's 65,536-event ring

if ! "$PK_BIN" coldpatch "$SPIN" -o "$PK_TMP/spin" >"$PK_TMP/coldpatch.out" 2>&1; then
	pk_fail coldpatch "$(tail -n 3 "$PK_TMP/coldpatch.out")"
	exit 1
fi
pk_ok coldpatch
SPINP=$PK_TMP/spin

# spin_start NAME CMD...: starts a target, waits for its "ready" line; sets SPIN_PID (the
# target's own pid, from that line: CMD may start with nice).
spin_start() {
	local name=$1
	shift
	pk_bg "$name" "$@"
	pk_wait_log "$PK_TMP/$name.log" '^ready ' 20 || exit 1
	SPIN_PID=$(awk '/^ready / { print $2; exit }' "$PK_TMP/$name.log")
}

# counted_run NAME THREADS K: a count target with every probe on, run to its end ("done").
counted_run() {
	spin_start "$1" "$SPINP" count "$2" "$3"
	"$PK_BIN" probe enable --pid "$SPIN_PID" '*' >/dev/null 2>"$PK_TMP/$1.enable" ||
		pk_fail "$1-enable" "$(cat "$PK_TMP/$1.enable")"
	kill -USR1 "$SPIN_PID"
	pk_wait_log "$PK_TMP/$1.log" '^done ' 60 || exit 1
}

# table_calls FILE FUNC: the calls column of FUNC in a dump table.
table_calls() {
	awk -v f="$2" '$1 == f { print $2 }' "$1"
}

# cycles N EVERY ERRFILE: N enable/disable cycles of every probe of SPIN_PID, draining the rings
# every EVERY cycles (0: never) while the threads write them; stops at the first failure (its
# message appended to ERRFILE) or when the target died.  Sets CYCLES="<done> fails <failures>".
cycles() {
	local n=$1 every=$2 errf=$3 i fails=0
	for ((i = 0; i < n; i++)); do
		"$PK_BIN" probe enable --pid "$SPIN_PID" '*' >>"$errf.out" 2>>"$errf" ||
			fails=$((fails + 1))
		if ((every && i % every == 0)); then
			"$PK_BIN" probe dump --pid "$SPIN_PID" --format table -o /dev/null 2>>"$errf" ||
				fails=$((fails + 1))
		fi
		"$PK_BIN" probe disable --pid "$SPIN_PID" >/dev/null 2>>"$errf" || fails=$((fails + 1))
		[ "$fails" -eq 0 ] || break
		kill -0 "$SPIN_PID" 2>/dev/null || break
	done
	CYCLES="$i fails $fails"
}

# --- exact counts: 8 threads x K calls, probes on before the calls start ---------------------
spin_start count "$SPINP" count "$THREADS" "$K"
pk_check list-before sh -c "'$PK_BIN' probe list --pid $SPIN_PID >'$PK_TMP/list.out' &&
	grep -qE '^work +1 +1 +off' '$PK_TMP/list.out' &&
	grep -qE '^leaf_a +1 +1 +off' '$PK_TMP/list.out' &&
	grep -qE '^bump +1 +1 +off' '$PK_TMP/list.out'"
pk_check enable sh -c "'$PK_BIN' probe enable --pid $SPIN_PID 'work' 'leaf_*' bump >'$PK_TMP/en.out' &&
	grep -q 'enabled 4 functions' '$PK_TMP/en.out'"
# the segment is reached through /proc/PID/map_files: its file is gone at once (nothing left
# in /dev/shm whatever way the process ends)
pk_check shm-unlinked sh -c "grep -q 'parikshan-iprobe.$SPIN_PID (deleted)' /proc/$SPIN_PID/maps &&
	[ ! -e /dev/shm/parikshan-iprobe.$SPIN_PID ]"
pk_check list-on sh -c "'$PK_BIN' probe list --pid $SPIN_PID --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
st = {f[\"name\"]: f[\"state\"] for f in d[\"functions\"]}
want = {\"work\": \"on\", \"leaf_a\": \"on\", \"leaf_b\": \"on\", \"bump\": \"on\", \"rare\": \"off\"}
sys.exit(0 if st == want else str(st))'"
kill -USR1 "$SPIN_PID"
pk_wait_log "$PK_TMP/count.log" '^done ' 60 || exit 1
pk_expect_eq results "$(grep '^done' "$PK_TMP/count.log")" "done $((THREADS * K)) errors 0"

"$PK_BIN" probe dump --pid "$SPIN_PID" --format table -o "$PK_TMP/table.out" 2>"$PK_TMP/dump.err"
pk_expect_eq table-work "$(table_calls "$PK_TMP/table.out" work)" $((THREADS * K))
pk_expect_eq table-leaf_b "$(table_calls "$PK_TMP/table.out" leaf_b)" $((THREADS * K))
pk_expect_eq table-leaf_a "$(table_calls "$PK_TMP/table.out" leaf_a)" $((2 * THREADS * K))
pk_expect_eq table-bump "$(table_calls "$PK_TMP/table.out" bump)" $((THREADS * K)) # tail site
pk_check table-no-drops grep -q "threads $THREADS  dropped 0 (rings full) + 0 (no ring)" "$PK_TMP/table.out"

# a dump consumes the events: each further format gets a fresh target
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 20

counted_run count2 "$THREADS" "$K"
pk_check dump-chrome "$PK_BIN" probe dump --pid "$SPIN_PID" --format chrome -o "$PK_TMP/trace.json"
pk_check chrome-shape python3 - "$PK_TMP/trace.json" "$THREADS" "$K" <<'EOF'
import json, sys, collections
d = json.load(open(sys.argv[1]))
threads, k = int(sys.argv[2]), int(sys.argv[3])
evs = d["traceEvents"]
begin = collections.Counter(e["name"] for e in evs if e["ph"] == "B")
end = collections.Counter(e["name"] for e in evs if e["ph"] == "E")
assert begin == end, (begin, end)
assert begin == {"work": threads * k, "leaf_b": threads * k, "leaf_a": 2 * threads * k,
                 "bump": threads * k}, begin
for e in evs:
    assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
    assert e["ph"] == "M" or isinstance(e["ts"], (int, float))
# per thread, timestamps never go back
last = {}
for e in evs:
    if e["ph"] in "BE":
        assert e["ts"] >= last.get(e["tid"], 0), e
        last[e["tid"]] = e["ts"]
assert len(last) == threads, len(last)
EOF
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 20

# folded stacks: their shape (that their sums equal the table's exclusive times holds by
# construction and is checked by test_probe_dump)
counted_run count3 2 3000
pk_check dump-folded "$PK_BIN" probe dump --pid "$SPIN_PID" --format folded -o "$PK_TMP/folded.out"
pk_check folded-shape python3 - "$PK_TMP/folded.out" <<'EOF'
import sys, re
stacks = {}
for line in open(sys.argv[1]):
    m = re.fullmatch(r"(tid \d+(?:;[A-Za-z_]\w*)+) (\d+)\n", line)
    assert m, line
    stacks[m.group(1)] = int(m.group(2))
leaves = {s.split(";")[-1] for s in stacks}
assert leaves == {"work", "leaf_a", "leaf_b", "bump"}, leaves
assert any(re.fullmatch(r"tid \d+;bump", s) for s in stacks), stacks  # its exits (tail jmps) close it
assert any(s.endswith(";work;leaf_b;leaf_a") for s in stacks), stacks
assert any(s.endswith(";work;leaf_a") for s in stacks), stacks
EOF

kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 20

# perfetto: the same events, decoded by protoc against our .proto
counted_run count4 2 3000
pk_check dump-perfetto "$PK_BIN" probe dump --pid "$SPIN_PID" --format perfetto -o "$PK_TMP/trace.pftrace"
(cd "$PK_ROOT" && protoc --proto_path=src --decode=pk_perfetto.Trace src/probe/perfetto_trace.proto) \
	<"$PK_TMP/trace.pftrace" >"$PK_TMP/trace.pftxt" 2>&1
pk_expect_eq perfetto-slices \
	"$(grep -c 'TYPE_SLICE_BEGIN' "$PK_TMP/trace.pftxt") $(grep -c 'TYPE_SLICE_END' "$PK_TMP/trace.pftxt")" \
	"$((2 * 3000 * 5)) $((2 * 3000 * 5))"

# disable restores the exact NOP bytes
pk_check disable sh -c "'$PK_BIN' probe disable --pid $SPIN_PID >'$PK_TMP/dis.out' &&
	grep -q 'disabled 5 functions' '$PK_TMP/dis.out'"
pk_check text-restored pk_text_matches_file "$SPIN_PID" "$PK_TMP/spin"
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 20

# --- 1,000 enable/disable cycles while 8 threads run the patched code --------------------------
# The target runs at nice 19 so that the 2,100 tool runs get a core on a 2-core machine; its 8
# threads never stop calling the probed functions.  Every 10th cycle also drains the rings while
# the threads write them.
spin_start loop nice -n 19 "$SPINP" loop "$THREADS"
cycles 1000 10 "$PK_TMP/cycles.err"
pk_expect_eq cycles "$CYCLES" "1000 fails 0" || tail -n 3 "$PK_TMP/cycles.err"
pk_check cycles-text-restored pk_text_matches_file "$SPIN_PID" "$PK_TMP/spin"
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 30
pk_check cycles-results grep -qE '^calls [1-9][0-9]* errors 0$' "$PK_TMP/loop.log"

# --- budget: the hot probes are switched off, the cold one (rare) stays on --------------------
spin_start budget nice -n 19 "$SPINP" loop "$THREADS"
pk_check budget-enable "$PK_BIN" probe enable --pid "$SPIN_PID" --budget 5 '*'
budget_applied() {
	"$PK_BIN" probe list --pid "$SPIN_PID" >"$PK_TMP/blist.out" &&
		grep -qE '^work +1 +1 +auto-off' "$PK_TMP/blist.out" &&
		grep -qE '^leaf_a +1 +1 +auto-off' "$PK_TMP/blist.out" &&
		grep -qE '^leaf_b +1 +1 +auto-off' "$PK_TMP/blist.out"
}
pk_wait_for "the budget to switch the hot probes off" 60 budget_applied &&
	pk_ok budget-hot-off
pk_check budget-cold-on grep -qE '^rare +1 +1 +on' "$PK_TMP/blist.out"
# rare is called a few hundred times a second: wait for some of its events, then dump
rare_seen() {
	"$PK_BIN" probe dump --pid "$SPIN_PID" >>"$PK_TMP/budget.txt" 2>/dev/null &&
		grep -q -- '-> rare' "$PK_TMP/budget.txt"
}
pk_wait_for "events of rare after the budget" 60 rare_seen && pk_ok budget-cold-recorded
for f in work leaf_a leaf_b; do
	pk_check "budget-marker-$f" grep -q "!! auto-disabled $f (over the budget)" "$PK_TMP/budget.txt"
done
pk_check budget-reenable sh -c "'$PK_BIN' probe enable --pid $SPIN_PID --budget 0 leaf_a >/dev/null &&
	'$PK_BIN' probe list --pid $SPIN_PID leaf_a | grep -qE '^leaf_a +1 +1 +on'"
"$PK_BIN" probe disable --pid "$SPIN_PID" >/dev/null
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 30
pk_check budget-results grep -qE '^calls [1-9][0-9]* errors 0$' "$PK_TMP/budget.log"

# --- patchable function entries: entry probes; libiprobe makes an entry's five NOPs one and
# has every running thread move itself past it (a signal each), no thread stopped ------------
ENTRY=$PK_TOOLS/iprobe-spin-entry
spin_start entry nice -n 19 "$ENTRY" count "$THREADS" 5000
pk_check entry-enable sh -c "'$PK_BIN' probe enable --pid $SPIN_PID '*' >'$PK_TMP/een.out' &&
	grep -q 'enabled 5 functions.*5 deferred ([0-9]* threads signalled' '$PK_TMP/een.out'"
kill -USR1 "$SPIN_PID"
pk_wait_log "$PK_TMP/entry.log" '^done ' 60 || exit 1
pk_expect_eq entry-results "$(grep '^done' "$PK_TMP/entry.log")" "done $((THREADS * 5000)) errors 0"
"$PK_BIN" probe dump --pid "$SPIN_PID" --format table -o "$PK_TMP/etable.out" 2>/dev/null
pk_expect_eq entry-table "$(table_calls "$PK_TMP/etable.out" work) $(table_calls "$PK_TMP/etable.out" leaf_a)" \
	"$((THREADS * 5000)) $((2 * THREADS * 5000))"
pk_check entry-disable "$PK_BIN" probe disable --pid "$SPIN_PID"
pk_check entry-text-restored pk_text_matches_file "$SPIN_PID" "$ENTRY"
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 20

spin_start entryloop nice -n 19 "$ENTRY" loop "$THREADS"
cycles 200 0 "$PK_TMP/ecycles.err"
pk_expect_eq entry-cycles "$CYCLES" "200 fails 0" || tail -n 3 "$PK_TMP/ecycles.err"
# (a sweep that waited 2 s for a thread starved of CPU would fall back to ptrace: a margin)
n=$(grep -c ' 5 deferred (' "$PK_TMP/ecycles.err.out")
if [ "$n" -ge 190 ]; then pk_ok entry-cycles-in-process; else
	pk_fail entry-cycles-in-process "$n of 200 enables switched in the process"; fi
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 30
pk_check entry-cycles-results grep -qE '^calls [1-9][0-9]* errors 0$' "$PK_TMP/entryloop.log"

# the ptrace fallback (poke.c), for a target whose threads block every signal (no sweep can
# reach them) and for one that asks for it (PK_IPROBE_PTRACE_ONLY=1)
for how in SPIN_BLOCK_ALL PK_IPROBE_PTRACE_ONLY; do
	spin_start "fb-$how" env "$how=1" nice -n 19 "$ENTRY" loop "$THREADS"
	cycles 50 0 "$PK_TMP/fb-$how.err"
	pk_expect_eq "fallback-$how-cycles" "$CYCLES" "50 fails 0" || tail -n 3 "$PK_TMP/fb-$how.err"
	pk_expect_eq "fallback-$how-ptrace" \
		"$(grep -c ' 5 through ptrace (longest stop of a thread' "$PK_TMP/fb-$how.err.out")" 50
	pk_check "fallback-$how-text-restored" pk_text_matches_file "$SPIN_PID" "$ENTRY"
	kill -TERM "$SPIN_PID"
	pk_wait_exit "$SPIN_PID" 30
	pk_check "fallback-$how-results" grep -qE '^calls [1-9][0-9]* errors 0$' "$PK_TMP/fb-$how.log"
done

# --- dump --follow: the events as they come, one stream across drains, until the exit -----------
spin_start follow "$SPINP" count "$THREADS" "$K"
pk_check follow-enable sh -c "'$PK_BIN' probe enable --pid $SPIN_PID '*' >/dev/null"
pk_bg follower "$PK_BIN" probe dump --pid "$SPIN_PID" --follow -o "$PK_TMP/follow.txt"
FOLLOWER=$PK_LAST_PID
pk_wait_log "$PK_TMP/follower.log" '^parikshan: probe dump: following ' 20 || exit 1
kill -USR1 "$SPIN_PID"
pk_wait_log "$PK_TMP/follow.log" '^done ' 60 || exit 1
# events reach the file while the target still runs (it waits for SIGTERM after "done")
pk_wait_for "the follower's file to hold every work() entry" 30 \
	sh -c "[ \$(grep -c -- '-> work\$' '$PK_TMP/follow.txt') -eq $((THREADS * K)) ]"
kill -TERM "$SPIN_PID"
pk_wait_exit "$FOLLOWER" 20
wait "$FOLLOWER"
pk_expect_eq follow-exit "$?" 0
pk_check follow-saw-exit grep -q "process $SPIN_PID exited" "$PK_TMP/follower.log"
pk_expect_eq follow-all-events "$(grep -cE -- '(->|<-) (work|leaf_a|leaf_b|bump)$' "$PK_TMP/follow.txt")" \
	$((10 * THREADS * K))
# leaf_a is only ever called from work() or leaf_b(): never at depth 0, whichever drain it
# fell in (each thread's open calls are carried from one drain to the next)
pk_expect_eq follow-depth-kept "$(grep -- '-> leaf_a$' "$PK_TMP/follow.txt" | grep -c 'tid [0-9]*    -> leaf_a')" 0
pk_check follow-summary grep -qE "probe dump: $((10 * THREADS * K)) events from $THREADS threads, 0 dropped" \
	"$PK_TMP/follower.log"

# --- bad input: clear errors, the target keeps running -----------------------------------------
spin_start bad "$SPINP" loop 2
pk_expect_error no-pid 1 'no process' "$PK_BIN" probe enable --pid 999999999 '*'
pk_expect_error no-match 1 'no function .* matches' "$PK_BIN" probe enable --pid "$SPIN_PID" 'nosuch*'
pk_expect_error no-file 1 "maps no file 'libnosuch.so'" "$PK_BIN" probe list --pid "$SPIN_PID" --file libnosuch.so
pk_expect_error no-pattern 2 'needs a PATTERN' "$PK_BIN" probe enable --pid "$SPIN_PID"
pk_expect_error bad-format 2 'not a format' "$PK_BIN" probe dump --pid "$SPIN_PID" --format xml
pk_expect_error follow-not-text 2 'streams text' "$PK_BIN" probe dump --pid "$SPIN_PID" --follow --format json
pk_expect_error follow-not-dump 2 "goes with 'dump'" "$PK_BIN" probe list --pid "$SPIN_PID" --follow
pk_expect_error duration-not-here 2 "goes with 'fperf' or 'dump --follow'" "$PK_BIN" probe dump --pid "$SPIN_PID" --duration 1s
pk_expect_error not-permitted 1 'not permitted|Permission denied|Operation not permitted' \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PK_BIN" probe enable --pid "$SPIN_PID" '*'
pk_bg plain sleep 600
pk_expect_error no-sites 1 'no probe sites|no symbol' "$PK_BIN" probe enable --pid "$PK_LAST_PID" '*'
pk_check alive-after-errors kill -0 "$SPIN_PID"
kill -TERM "$SPIN_PID"
pk_wait_exit "$SPIN_PID" 20
pk_check bad-results grep -qE '^calls [1-9][0-9]* errors 0$' "$PK_TMP/bad.log"
