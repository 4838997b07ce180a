#!/usr/bin/env bash
# Issue 13, acceptance 6: `fault --delay 50` on a clone behind dup raises the clone's lag as
# `status` shows it, production is unaffected, `--clear` restores.  A redis container, its
# clone, dup in front; redis-benchmark through the front door in three phases (before, with
# the delay, after --clear), `parikshan status --json` sampled while each runs.  The delay is
# netem where the kernel has it, else our userspace delayer: the same expectations.
# The bounds come from this run's own baseline: the delay adds 50 ms to every round trip of
# the clone's connections, so the lag it shows must rise by most of that.
. "$(dirname "$0")/lib.sh"

pk_clone_frame fl
IP=10.77.247.2 # no other test uses 10.77.247.0/24
pk_redis_container "$PROD" "$IP" || exit 1
pk_clone_up "$PROD" "$DBG" || exit 1
pk_wait_for "the clone answering at $MGMT" 30 pk_redis_pong "$MGMT" || exit 1
pk_route_ok "$IP" || { pk_fail route "$IP not routed into our veth"; exit 1; }
FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_dup front -l "$FRONT" -x "$IP" -p 6379 -m "$MGMT" -d 6379 --admin "$ADMIN" || exit 1
DUP=$PK_LAST_PID

# phase NAME: redis-benchmark (bounded: -n, timeout) through the front door while `status
# --json` is sampled; writes "lag_median window_min desyncs rps p99" to $PK_TMP/NAME.res.
phase() {
	timeout 120 redis-benchmark -p "$FRONT" -t get -n 150000 -c 20 -r 1000 --csv \
		>"$PK_TMP/$1.csv" 2>&1 &
	local b=$!
	PK_PIDS+=("$b")
	timeout 120 python3 - "$PK_BIN" "$ADMIN" "$b" "$PK_TMP/$1.csv" >"$PK_TMP/$1.res" <<'PY'
import json, os, statistics, subprocess, sys, time
pk, admin, bench, csv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def running():
    try:
        os.kill(bench, 0)
        return open(f"/proc/{bench}/stat").read().split()[2] != "Z"
    except OSError:
        return False
def status():
    out = subprocess.run([pk, "status", "--json", "--admin", admin], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    return json.loads(out)["targets"][0]
lags, wins, t = [], [], None
while running() and len(lags) < 40:
    t = status()
    if t["connections_active"] > 0:
        lags.append(t["lag_seconds"] or 0)
        wins.append(float("inf") if t["window_s"] is None else t["window_s"])
    time.sleep(0.1)  # the sampling period, not synchronisation
while running():
    time.sleep(0.05)  # waiting for the bounded benchmark to end (it has its own timeout)
rows = {l.split(",")[0].strip('"'): l.split(",") for l in open(csv) if l.startswith('"GET"')}
if len(lags) < 5 or "GET" not in rows:
    print("too few samples", len(lags), open(csv).read()[-300:]); sys.exit(1)
g = rows["GET"]
print(statistics.median(lags), min(wins), status()["desyncs"], float(g[1].strip('"')),
      float(g[6].strip('"')))
PY
}
for p in before delay after; do
	case $p in
	delay) pk_check fault-delay "$PK_BIN" fault "$DBG" --delay 50 ;;
	after) pk_check fault-clear "$PK_BIN" fault "$DBG" --clear ;;
	esac
	phase "$p" || { pk_fail "phase-$p" "$(cat "$PK_TMP/$p.res")"; exit 1; }
	read -r lag win desyncs rps p99 <"$PK_TMP/$p.res"
	echo "# $p: lag median ${lag} s, window min ${win} s, desyncs $desyncs; production GET $rps/s p99 $p99 ms"
	declare "LAG_$p=$lag" "RPS_$p=$rps" "P99_$p=$p99" "DESYNCS_$p=$desyncs"
done
cmp() { python3 -c "import sys; sys.exit(0 if $1 else 1)"; }
# status shows the clone a delay behind; it stays in sync (a 50 ms delay fits its buffer)
if cmp "$LAG_delay >= $LAG_before + 0.035"; then pk_ok delay-raises-lag; else
	pk_fail delay-raises-lag "lag before $LAG_before s, with the delay $LAG_delay s"; fi
if cmp "$LAG_after <= $LAG_delay - 0.035"; then pk_ok clear-restores-lag; else
	pk_fail clear-restores-lag "lag with the delay $LAG_delay s, after --clear $LAG_after s"; fi
pk_expect_eq delay-no-desync "$DESYNCS_after" 0
# production through the front door: unchanged beyond noise (generous bounds)
if cmp "$RPS_delay >= 0.5 * $RPS_before and $P99_delay <= 3 * $P99_before + 2"; then
	pk_ok production-unaffected
else
	pk_fail production-unaffected "GET $RPS_before/s p99 $P99_before ms before; $RPS_delay/s p99 $P99_delay ms with the delay"
fi
table=$("$PK_BIN" status --admin "127.0.0.1:$ADMIN" 2>&1)
pk_check status-table-has-lag grep -q LAG-S <<<"$table"
pk_stop_clean front "$DUP"
