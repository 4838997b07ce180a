#!/usr/bin/env bash
# Issue 13, acceptance 6: `fault --delay 50` on a clone behind dup raises the clone's lag and
# shrinks its debug window as `status` shows them, production is unaffected, `--clear`
# restores.  A redis container, its clone, dup in front (a 128 MB buffer per connection);
# load through the front door in phases while `parikshan status --json` is sampled:
# redis-benchmark GETs before the delay, with it and after --clear (lag), and SETs of 8 KB at a
# steady 80 MB/s on one connection (tests/tools/pk-redispaced.py) before the delay, with it and
# after --clear (window).  The delay is netem where the kernel has it, else our userspace delayer: the same
# expectations.
# The bounds come from this run's own baselines: the delay adds 50 ms to every round trip of
# the clone's connections, so the lag must rise by most of that.  The GETs are a few MB/s: the
# clone keeps up with or without the delay (the bytes in flight wait in the kernel's socket
# buffers) and the window stays as good as infinite.  80 MB/s on one connection is about what
# the kernel's default socket buffers (4-6 MB) carry over 50 ms round trips, so with the delay
# dup's buffer for the clone fills by tens of MB and the window status shows falls to seconds;
# without it the clone keeps up.
. "$(dirname "$0")/lib.sh"

pk_clone_frame fl
IP=10.77.247.2 # no other test uses 10.77.247.0/24
pk_redis_container "$PROD" "$IP" || exit 1
pk_clone_up "$PROD" "$DBG" || exit 1
pk_wait_for "the clone answering at $MGMT" 30 pk_redis_pong "$MGMT" || exit 1
pk_route_ok "$IP" || { pk_fail route "$IP not routed into our veth"; exit 1; }
FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_dup front -l "$FRONT" -x "$IP" -p 6379 -m "$MGMT" -d 6379 --admin "$ADMIN" -b 128M || exit 1
DUP=$PK_LAST_PID

# phase NAME CMD...: runs CMD (a bounded load through the front door: its stdout and stderr in
# $PK_TMP/NAME.out) while `status --json` is sampled; writes "lag_median window_min desyncs"
# to $PK_TMP/NAME.res (window_min: inf when none was predicted).
phase() {
	timeout 120 "${@:2}" >"$PK_TMP/$1.out" 2>&1 &
	local b=$!
	PK_PIDS+=("$b")
	timeout 120 python3 - "$PK_BIN" "$ADMIN" "$b" >"$PK_TMP/$1.res" <<'PY'
import json, os, statistics, subprocess, sys, time
pk, admin, load = sys.argv[1], sys.argv[2], int(sys.argv[3])
def running():
    try:
        os.kill(load, 0)
        return open(f"/proc/{load}/stat").read().split()[2] != "Z"
    except OSError:
        return False
def status():
    out = subprocess.run([pk, "status", "--json", "--admin", admin], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    return json.loads(out)["targets"][0]
lags, wins = [], []
while running() and len(lags) < 60:
    t = status()
    if t["connections_active"] > 0:
        lags.append(t["lag_seconds"] or 0)
        wins.append(float("inf") if t["window_s"] is None else t["window_s"])
    time.sleep(0.1)  # the sampling period, not synchronisation
while running():
    time.sleep(0.05)  # waiting for the bounded load to end (it has its own timeout)
if len(lags) < 5:
    print("too few samples", len(lags)); sys.exit(1)
print(statistics.median(lags), min(wins), status()["desyncs"])
PY
}
# gets NAME: the "rps p99" of phase NAME's redis-benchmark GETs
gets() {
	python3 - "$PK_TMP/$1.out" <<'PY'
import sys
rows = [l.split(",") for l in open(sys.argv[1]) if l.startswith('"GET"')]
print(float(rows[0][1].strip('"')), float(rows[0][6].strip('"'))) if rows else sys.exit(1)
PY
}
GETS=(redis-benchmark -p "$FRONT" -t get -n 150000 -c 20 -r 1000 --csv)
PACED=(python3 "$PK_ROOT/tests/tools/pk-redispaced.py" "$FRONT" 10000 8192 4)
for p in before paced0 delay paced after paced1; do
	case $p in
	delay) pk_check fault-delay "$PK_BIN" fault "$DBG" --delay 50 ;;
	after) pk_check fault-clear "$PK_BIN" fault "$DBG" --clear ;;
	esac
	case $p in
	paced*) phase "$p" "${PACED[@]}" ;;
	*) phase "$p" "${GETS[@]}" ;;
	esac || { pk_fail "phase-$p" "$(cat "$PK_TMP/$p.res" "$PK_TMP/$p.out" | tail -c 300)"; exit 1; }
	read -r lag win desyncs <"$PK_TMP/$p.res"
	case $p in
	paced*) what=$(tail -n 1 "$PK_TMP/$p.out") ;;
	*)
		read -r rps p99 < <(gets "$p") || { pk_fail "phase-$p" "$(tail -c 300 "$PK_TMP/$p.out")"; exit 1; }
		what="GET $rps/s p99 $p99 ms"
		declare "RPS_$p=$rps" "P99_$p=$p99"
		;;
	esac
	echo "# $p: lag median ${lag} s, window min ${win} s, desyncs $desyncs; production: $what"
	declare "LAG_$p=$lag" "WIN_$p=$win" "DESYNCS_$p=$desyncs"
done
cmp() { python3 -c "import sys; inf = float('inf'); sys.exit(0 if $1 else 1)"; }
# status shows the clone a delay behind; it stays in sync (what the delay piles up fits)
if cmp "$LAG_delay >= $LAG_before + 0.035"; then pk_ok delay-raises-lag; else
	pk_fail delay-raises-lag "lag before $LAG_before s, with the delay $LAG_delay s"; fi
if cmp "$LAG_after <= $LAG_delay - 0.035"; then pk_ok clear-restores-lag; else
	pk_fail clear-restores-lag "lag with the delay $LAG_delay s, after --clear $LAG_after s"; fi
# at 80 MB/s the window falls under a minute (where dup warns) with the delay, and below the
# lowest it showed without it
if cmp "$WIN_paced < 60 and $WIN_paced < $WIN_paced0"; then pk_ok delay-shrinks-window; else
	pk_fail delay-shrinks-window "window min $WIN_paced0 s without the delay, $WIN_paced s with it"; fi
if cmp "$WIN_paced1 > $WIN_paced"; then pk_ok clear-restores-window; else
	pk_fail clear-restores-window "window min $WIN_paced s with the delay, $WIN_paced1 s after --clear"; fi
pk_expect_eq delay-no-desync "$DESYNCS_after" 0
# production through the front door: every SET answered +OK, GETs unchanged beyond noise
# (generous bounds)
for p in paced0 paced paced1; do
	pk_check "production-answers-$p" grep -qE '^sent=([0-9]+) ok=\1 errors=0$' "$PK_TMP/$p.out"
done
if cmp "$RPS_delay >= 0.5 * $RPS_before and $P99_delay <= 3 * $P99_before + 2"; then
	pk_ok production-unaffected
else
	pk_fail production-unaffected "GET $RPS_before/s p99 $P99_before ms before; $RPS_delay/s p99 $P99_delay ms with the delay"
fi
table=$("$PK_BIN" status --admin "127.0.0.1:$ADMIN" 2>&1)
pk_check status-table-has-lag grep -q LAG-S <<<"$table"
pk_check status-table-has-window grep -q WINDOW <<<"$table"
pk_stop_clean front "$DUP"
