#!/usr/bin/env bash
# bench/probe.sh — the cost of a probe event, side by side on one function (bench/probe_target.c:
# one thread calls hot() N times; each call is 2 events, entry and exit), in interleaved rounds,
# medians:
#   plain        uninstrumented build (gcc -O2): the loop itself
#   off          -finstrument-functions, cold-patched, probes off (5-byte NOPs)
#   rdtsc        no probes; hot() reads the TSC twice: the floor of 2 timestamped events
#   ours         the same with hot()'s probes on: libiprobe records every event in the thread's
#                ring, in passes of OURS_CHUNK events drained by a dump after each (which checks
#                the count and that nothing was dropped), summed to EVENTS; ours-cold: the
#                first pass, which also touches the ring's new shared-memory pages (scaled)
#   ours-1/16    ours with the process's global sampling rate at 1 call in 16 (`probe sample
#                --rate 16`): what a sampled-out hit costs (its check), one pass
#   ours-fperf   ours with `probe fperf hot --events task-clock` (two counter reads per call,
#                read(2) of a software event: no rdpmc here); FPERF_EVENTS
#   xray-fdr     clang -fxray-instrument, XRAY_OPTIONS xray_mode=xray-fdr (in-memory buffers)
#   xray-basic   xray_mode=xray-basic (writes every event); fewer events (XRAY_BASIC_EVENTS)
#   uftrace      uftrace record of the -finstrument-functions build; UFTRACE_EVENTS
#   uprobes      bpftrace uprobe + uretprobe counting hits; UPROBE_EVENTS
# ns/event = (loop time - plain's loop time for the same calls) / events.  Then the switch
# latency with 64 busy threads (tests/tools/iprobe-spin.c loop 64): for call sites, the round
# trip of an enable to libiprobe (no thread is stopped); for patchable entries, the enable's
# duration and the most CPU a thread spent in libiprobe's signal handler (no thread is stopped;
# bench/probe_pause.sh has more), and the longest stop of one thread when an enable fell back to
# ptrace.  Prints markdown tables.
#   EVENTS=100000000 ROUNDS=3 bash bench/probe.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
LIB=${PK_IPROBE_LIB:-$(dirname "$PK_BIN")/libiprobe.so}
. "$ROOT/bench/common.sh"
bench_init probe gcc clang-14 uftrace bpftrace python3
EVENTS=${EVENTS:-100000000}
ROUNDS=${ROUNDS:-3}
XRAY_BASIC_EVENTS=${XRAY_BASIC_EVENTS:-10000000}
UFTRACE_EVENTS=${UFTRACE_EVENTS:-10000000}
UPROBE_EVENTS=${UPROBE_EVENTS:-400000}
FPERF_EVENTS=${FPERF_EVENTS:-2000000}
SWITCHES=${SWITCHES:-20}
SRC=$ROOT/bench/probe_target.c

echo "probe.sh: building the targets" >&2
gcc -O2 -o "$TMP/plain" "$SRC" &&
	gcc -O2 -DPK_TSC_ONLY -o "$TMP/rdtsc" "$SRC" &&
	gcc -O2 -finstrument-functions -o "$TMP/cyg" "$SRC" &&
	"$PK_BIN" coldpatch "$TMP/cyg" -o "$TMP/ours" >/dev/null &&
	clang-14 -O2 -fxray-instrument -fxray-instruction-threshold=1 -o "$TMP/xray" "$SRC" &&
	gcc -O2 -pthread -finstrument-functions -o "$TMP/spin-cyg" "$ROOT/tests/tools/iprobe-spin.c" &&
	"$PK_BIN" coldpatch "$TMP/spin-cyg" -o "$TMP/spin" >/dev/null &&
	gcc -O2 -pthread -fpatchable-function-entry=5 -o "$TMP/spin-entry" "$ROOT/tests/tools/iprobe-spin.c" ||
	{ echo "probe.sh: build failed" >&2; exit 1; }

# loop_ns LOGFILE: the loop time the target printed.
loop_ns() { awk '/^ns / { print $2 }' "$1"; }

# start_waiting NAME CMD...: starts a target in wait mode; waits for its "ready"; sets TPID.
start_waiting() {
	local name=$1
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	TPID=$!
	PIDS+=("$TPID")
	pk_poll 30 grep -q '^ready' "$TMP/$name.out" || { echo "probe.sh: $name did not start" >&2; exit 1; }
}

# plain and off run 10 times the calls (their loop takes ~60 ms for EVENTS: too short to time)
run_plain() { "$TMP/plain" $((5 * EVENTS)) >"$TMP/r.out" && loop_ns "$TMP/r.out"; }
run_off() { "$TMP/ours" $((5 * EVENTS)) >"$TMP/r.out" && loop_ns "$TMP/r.out"; }
run_rdtsc() { "$TMP/rdtsc" $((EVENTS / 2)) >"$TMP/r.out" && loop_ns "$TMP/r.out"; }
# ours_check FILE CALLS: the table of a dump holds CALLS calls of hot and no drop.
ours_check() {
	if ! grep -qE "^hot +$2 " "$1" || ! grep -q 'dropped 0 (rings full) + 0' "$1"; then
		echo "probe.sh: ours recorded a wrong count: $(cat "$1")" >&2
		exit 1
	fi
}
# EVENTS events in passes of OURS_CHUNK events, the ring drained by a dump after each (as a
# consumer would; dumps are not timed).  A first pass touches the ring's new shared-memory
# pages and is reported apart (ours-cold); the next ones (ours) add up to EVENTS.
OURS_CHUNK=${OURS_CHUNK:-16776192} # 2^24 - 1024: each pass reuses the pages of the last
run_ours() {
	local ring=1 passes=$(((EVENTS + OURS_CHUNK - 1) / OURS_CHUNK + 1)) p sum=0 cold
	while ((ring < OURS_CHUNK + 64)); do ring=$((ring * 2)); done
	start_waiting ours env LD_PRELOAD="$LIB" PK_IPROBE_RING_EVENTS=$ring "$TMP/ours" \
		$((OURS_CHUNK / 2)) wait "$passes"
	"$PK_BIN" probe enable --pid "$TPID" hot >/dev/null || { echo "probe.sh: enable failed" >&2; exit 1; }
	for ((p = 1; p <= passes; p++)); do
		kill -USR1 "$TPID"
		local want="^pass $p "
		((p == passes)) && want='^ns '
		pk_poll 600 grep -q "$want" "$TMP/ours.out" || { echo "probe.sh: ours pass $p did not finish" >&2; exit 1; }
		"$PK_BIN" probe dump --pid "$TPID" --format table -o "$TMP/ours.table" 2>/dev/null
		ours_check "$TMP/ours.table" $((OURS_CHUNK / 2))
	done
	kill -USR1 "$TPID"
	wait "$TPID"
	cold=$(awk '/^pass 1 / { print $4 }' "$TMP/ours.out")
	sum=$(awk '/^pass / && $2 > 1 { s += $4 } /^ns / { s += $2 } END { print s }' "$TMP/ours.out")
	# scaled to EVENTS when the passes hold a little more
	echo "$((cold * EVENTS / OURS_CHUNK)) $((sum * EVENTS / ((passes - 1) * OURS_CHUNK)))"
}
# ours with hot() sampled at 1 in 16 (every event of the process, one pass of EVENTS: the ring
# holds the sixteenth recorded); the dump checks the recorded count.
run_sampled() {
	local ring=1
	while ((ring < EVENTS / 16 + 64)); do ring=$((ring * 2)); done
	start_waiting sampled env LD_PRELOAD="$LIB" PK_IPROBE_RING_EVENTS=$ring "$TMP/ours" \
		$((EVENTS / 2)) wait
	"$PK_BIN" probe enable --pid "$TPID" hot >/dev/null &&
		"$PK_BIN" probe sample --pid "$TPID" --rate 16 >/dev/null ||
		{ echo "probe.sh: sampled: enable failed" >&2; exit 1; }
	kill -USR1 "$TPID"
	pk_poll 600 grep -q '^ns ' "$TMP/sampled.out" || { echo "probe.sh: sampled run did not finish" >&2; exit 1; }
	"$PK_BIN" probe dump --pid "$TPID" --format table -o "$TMP/sampled.table" 2>/dev/null
	ours_check "$TMP/sampled.table" $((EVENTS / 32))
	kill -USR1 "$TPID"
	wait "$TPID"
	loop_ns "$TMP/sampled.out"
}
# ours with fperf counting task-clock at hot()'s entry and exit (FPERF_EVENTS events).
run_fperf() {
	start_waiting fp env LD_PRELOAD="$LIB" "$TMP/ours" $((FPERF_EVENTS / 2)) wait
	"$PK_BIN" probe fperf --pid "$TPID" --events task-clock hot >"$TMP/fperf.out" 2>"$TMP/fperf.err" &
	local fp=$!
	PIDS+=("$fp")
	pk_poll 60 grep -q 'counting in' "$TMP/fperf.err" || { echo "probe.sh: fperf did not start: $(cat "$TMP/fperf.err")" >&2; exit 1; }
	kill -USR1 "$TPID"
	pk_poll 600 grep -q '^ns ' "$TMP/fp.out" || { echo "probe.sh: fperf run did not finish" >&2; exit 1; }
	kill -INT "$fp"
	wait "$fp"
	# every call measured, or lost to a full ring and counted as dropped (events: at most one
	# call each); the drops are reported
	local calls dropped
	calls=$(awk '$1 == "hot" { print $2 }' "$TMP/fperf.out")
	dropped=$(sed -nE 's/.*dropped ([0-9]+) \(rings full\).*/\1/p' "$TMP/fperf.out")
	[ -n "$calls" ] && [ "$calls" -le $((FPERF_EVENTS / 2)) ] &&
		[ $((calls + ${dropped:-0})) -ge $((FPERF_EVENTS / 2)) ] ||
		{ echo "probe.sh: fperf counted a wrong number of calls: $(cat "$TMP/fperf.out")" >&2; exit 1; }
	echo "probe.sh: fperf measured $calls calls, dropped ${dropped:-0} events (rings full)" >&2
	kill -USR1 "$TPID"
	wait "$TPID"
	loop_ns "$TMP/fp.out"
}
run_xray() { # MODE CALLS
	XRAY_OPTIONS="patch_premain=true xray_mode=xray-$1 verbosity=0 xray_logfile_base=$TMP/xray-" \
		"$TMP/xray" "$2" >"$TMP/r.out" 2>/dev/null && loop_ns "$TMP/r.out"
	rm -f "$TMP"/xray-*
}
run_uftrace() {
	uftrace record -d "$TMP/uftrace.data" "$TMP/cyg" $((UFTRACE_EVENTS / 2)) >"$TMP/r.out" 2>/dev/null &&
		loop_ns "$TMP/r.out"
	rm -rf "$TMP/uftrace.data"
}
run_uprobes() {
	start_waiting up "$TMP/plain" $((UPROBE_EVENTS / 2)) wait
	bpftrace -e "uprobe:$TMP/plain:hot { @e = count(); } uretprobe:$TMP/plain:hot { @x = count(); }" \
		>"$TMP/bt.out" 2>&1 &
	local bt=$!
	PIDS+=("$bt")
	pk_poll 60 grep -q 'Attaching' "$TMP/bt.out" || { echo "probe.sh: bpftrace did not attach" >&2; exit 1; }
	kill -USR1 "$TPID"
	pk_poll 600 grep -q '^ns ' "$TMP/up.out" || { echo "probe.sh: uprobes run did not finish" >&2; exit 1; }
	kill -USR1 "$TPID"
	wait "$TPID"
	kill -INT "$bt"
	wait "$bt"
	loop_ns "$TMP/up.out"
}

declare -A T
TOOLS="plain off rdtsc ours-cold ours ours-1/16 ours-fperf xray-fdr xray-basic uftrace uprobes"
# ONLY="plain ours" (a subset of TOOLS; ours-cold comes with ours): run only those, no switch
# latency (e.g. to compare two builds of libiprobe with PK_BIN)
ONLY=${ONLY:-}
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
[ -z "$ONLY" ] || TOOLS="plain $ONLY"
for ((r = 1; r <= ROUNDS; r++)); do
	echo "probe.sh: round $r of $ROUNDS" >&2
	T[plain]+=" $(run_plain)"
	want off && T[off]+=" $(run_off)"
	want rdtsc && T[rdtsc]+=" $(run_rdtsc)"
	if want ours; then
		read -r cold warm <<<"$(run_ours)"
		T[ours-cold]+=" $cold"
		T[ours]+=" $warm"
	fi
	want ours-1/16 && T[ours-1/16]+=" $(run_sampled)"
	want ours-fperf && T[ours-fperf]+=" $(run_fperf)"
	want xray-fdr && T[xray-fdr]+=" $(run_xray fdr $((EVENTS / 2)))"
	want xray-basic && T[xray-basic]+=" $(run_xray basic $((XRAY_BASIC_EVENTS / 2)))"
	want uftrace && T[uftrace]+=" $(run_uftrace)"
	want uprobes && T[uprobes]+=" $(run_uprobes)"
done

if [ -n "$ONLY" ]; then # loop time medians only (ms)
	for n in $TOOLS ${T[ours-cold]:+ours-cold}; do
		printf '%s %s\n' "$n" "$(tr ' ' '\n' <<<"${T[$n]}" | sed '/^$/d' | sort -n |
			awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f ms (%d rounds)", m / 1e6, NR }')"
	done
	exit 0
fi

# the switch latency with 64 busy threads
PK_IPROBE_LIB=$LIB bench_switches "$PK_BIN" "$TMP/spin" "$TMP/sw.out"
CALL_MS=$(sed -nE 's/.*\(([0-9.]+) ms in the process.*/\1/p' "$TMP/sw.out")
PK_IPROBE_LIB=$LIB bench_switches "$PK_BIN" "$TMP/spin-entry" "$TMP/sw.out"
PAUSE_MS=$(sed -nE 's/.*longest stop of a thread ([0-9.]+) ms.*/\1/p' "$TMP/sw.out")
HANDLER_MS=$(sed -nE 's/.*most CPU in a handler ([0-9.]+) ms.*/\1/p' "$TMP/sw.out")
ENTRY_MS=$(sed -nE 's/.*\(([0-9.]+) ms in the process.*/\1/p' "$TMP/sw.out")

python3 - "$EVENTS" "$XRAY_BASIC_EVENTS" "$UFTRACE_EVENTS" "$UPROBE_EVENTS" "$FPERF_EVENTS" "$CALL_MS" "$PAUSE_MS" "$HANDLER_MS" "$ENTRY_MS" \
	"${T[plain]}" "${T[off]}" "${T[rdtsc]}" "${T[ours-cold]}" "${T[ours]}" "${T[ours-1/16]}" "${T[ours-fperf]}" "${T[xray-fdr]}" "${T[xray-basic]}" "${T[uftrace]}" "${T[uprobes]}" <<'EOF'
import statistics, sys
ev, xb, uf, up, fp = (int(x) for x in sys.argv[1:6])
call_ms = [float(x) for x in sys.argv[6].split()]
pause_ms, handler_ms, entry_ms = ([float(x) for x in a.split()] for a in sys.argv[7:10])
names = ["plain", "off", "rdtsc", "ours-cold", "ours", "ours-1/16", "ours-fperf", "xray-fdr", "xray-basic", "uftrace", "uprobes"]
events = {"plain": 10 * ev, "off": 10 * ev, "rdtsc": ev, "ours-cold": ev, "ours": ev, "ours-1/16": ev, "ours-fperf": fp, "xray-fdr": ev, "xray-basic": xb, "uftrace": uf, "uprobes": up}
med = {n: statistics.median(int(x) for x in v.split()) for n, v in zip(names, sys.argv[10:])}
plain_per_call = med["plain"] / (10 * ev / 2)
print("| tool | events | loop time (median) | ns/event (net of the loop) | vs ours |")
print("|---|---:|---:|---:|---:|")
net = {}
for n in names:
    base = plain_per_call * events[n] / 2
    net[n] = (med[n] - base) / events[n]
for n in names:
    ratio = "" if n in ("plain", "off", "rdtsc", "ours", "ours-1/16") or net["ours"] <= 0 else f"{net[n] / net['ours']:.1f}x"
    print(f"| {n} | {events[n]:,} | {med[n] / 1e6:,.1f} ms | {net[n]:.2f} | {ratio} |")
print()
print(f"ours: {ev:,} events in {med['ours'] / 1e9:.3f} s (first pass, new ring pages: "
      f"{med['ours-cold'] / 1e9:.3f} s); cold-patched but off: "
      f"{(med['off'] / med['plain'] - 1) * 100:+.1f}% vs the uninstrumented loop; the "
      f"timestamps alone (rdtsc): {net['rdtsc']:.2f} ns/event, {ev:,} of them in "
      f"{net['rdtsc'] * ev / 1e9:.3f} s")
def dist(v):
    if not v:
        return "none"
    v = sorted(v)
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    return f"min {v[0]:.3f}, median {statistics.median(v):.3f}, p90 {q(0.9):.3f}, max {v[-1]:.3f} ms (n={len(v)})"
print()
print("| 64 busy threads | per enable |")
print("|---|---|")
print(f"| call sites: round trip to libiprobe (no thread stopped) | {dist(call_ms)} |")
print(f"| patchable entries: the enable, start to end (no thread stopped: each running thread moves itself in a signal handler) | {dist(entry_ms)} |")
print(f"| patchable entries: most CPU one thread spent in that handler | {dist(handler_ms)} |")
print(f"| patchable entries: enables that fell back to ptrace, longest stop of one thread | {dist(pause_ms)} |")
EOF
