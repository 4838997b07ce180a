#!/usr/bin/env bash
# bench/window_live.sh — the original study's MySQL debug-window rows (its Table 3.1) live: a
# production mariadbd and a debug mariadbd behind `parikshan dup -b SIZE`, one session sending
# `SELECT * FROM win.t` (a 24-byte COM_QUERY packet, as docs/WINDOW.md assumes) at the row's
# rate, the debug server slowed to 50/slowdown requests/s by a relay in front of it (one request
# at a time, each held for one service time).  For each row it prints the study's window, the
# simulator's (`parikshan sim`, seed 1, as bench/sim_study.sh), the window dup predicts
# (status.json window_s, taken when dup's buffer first holds a quarter of -b, as an overflow
# time from the start of the load; and the median of those over the run) and the measured one
# (the first poll where status.json's "overflows" > 0, from the start of the load).
# bench/window_live.py runs one row (relay, dup, session, monitor) and says how; docs/WINDOW.md
# explains the results.
#
#   bench/window_live.sh [--help]
#   env: PK_BIN (default build/release/parikshan); ROWS="2 4 5" (rows 1-7 of the table;
#        default all); QUICK=1 (rows 2 4 5, caps 60 s); JOBS (rows run at once, default 7:
#        each row has its own dup, relay and session, the two mariadbds are shared);
#        CAP (cap of a row the simulator sees overflow: default min(900, max(60, 2x its
#        window)) s); NONE_CAP (cap of a row the simulator sees none: 300 s);
#        SNDBUF (SO_SNDBUF of dup's socket toward the relay, set by an LD_PRELOAD shim built
#        from bench/window_sndbuf.c: default 2304, the kernel's minimum, which it doubles to
#        4608 bytes of buffer memory; 0 leaves it to the kernel's autotuning, up to 4 MiB);
#        RCVBUF (SO_RCVBUF of the relay's listening socket, default 2048); MSS (TCP_MAXSEG of
#        the relay's socket, default 88, the minimum: window updates in small steps; 0: the
#        route's); SEED (arrivals and service times of the Poisson rows, default 1)
# Everything on 127.0.0.1; every row is bounded by its cap (plus a bounded warm-up).
set -uo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then sed -n 2,26p "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
[ $# -eq 0 ] || { echo "window_live.sh: unknown argument: $1" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PK_BIN=${PK_BIN:-$HERE/../build/release/parikshan}
. "$HERE/common.sh" # bench_init; pk_poll, pk_listening: waits with a deadline
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then ROWS=${ROWS:-2 4 5} CAP=${CAP:-60}; fi
ROWS=${ROWS:-1 2 3 4 5 6 7} JOBS=${JOBS:-7} NONE_CAP=${NONE_CAP:-300}
SNDBUF=${SNDBUF:-2304} RCVBUF=${RCVBUF:-2048} MSS=${MSS:-88} SEED=${SEED:-1}
SIZE=24 MU=50
bench_init window_live mariadbd mariadb-install-db mariadb python3 ss curl cc
PORTS=$TMP/ports
ports() { python3 "$HERE/../tests/tools/pk-free-ports.py" "$1" "$PORTS"; }
start_db() {
	mariadb-install-db --no-defaults --datadir="$TMP/$1" --user=root --skip-test-db \
		--auth-root-authentication-method=normal >"$TMP/$1-install.log" 2>&1 || return 1
	mariadbd --no-defaults --datadir="$TMP/$1" --user=root --bind-address=127.0.0.1 --port="$2" \
		--socket="$TMP/$1.sock" --pid-file="$TMP/$1.pid" --skip-grant-tables --skip-name-resolve \
		--innodb-use-native-aio=0 --skip-log-bin --innodb-buffer-pool-size=64M \
		--thread-cache-size=0 >"$TMP/$1.log" 2>&1 &
	PIDS+=($!)
	pk_poll 60 pk_listening "$2"
}
read -r PROD DBG <<<"$(ports 2)"
start_db prod "$PROD" && start_db dbg "$DBG" || { echo "window_live.sh: mariadbd did not start" >&2; exit 1; }
for p in "$PROD" "$DBG"; do
	timeout 60 mariadb -h 127.0.0.1 -P "$p" -u root -e "create database win;
		create table win.t (id int primary key, name varchar(20));
		insert into win.t values (1, 'one'), (2, 'two'), (3, 'three')" ||
		{ echo "window_live.sh: could not create win.t on port $p" >&2; exit 1; }
done
SHIM=
if [ "$SNDBUF" != 0 ]; then
	SHIM=$TMP/window_sndbuf.so
	cc -shared -fPIC -O2 -o "$SHIM" "$HERE/window_sndbuf.c" -ldl ||
		{ echo "window_live.sh: could not build the SO_SNDBUF shim" >&2; exit 1; }
fi

# row: arrival rate service buffer slowdown study-window
TABLE="const 27 const 4096 1.8 none
const 27 const 4096 3 8
const 27 const 16384 3 72
poisson 17 exp 4096 8 16
poisson 17 exp 4096 5 18
poisson 17 exp 65536 3.2 none
poisson 17 exp 16384 3.2 376"

sim() { # arrival rate service buffer slowdown: the simulator's window_s (seed 1) and fluid_s
	"$PK_BIN" sim --arrival "$1" --rate "$2" --request-size $SIZE --service-rate $MU \
		--service "$3" --slowdown "$5" --buffer "$4" --seed 1 --json |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["window_s"], d["fluid_s"])'
}

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r); SNDBUF=$SNDBUF RCVBUF=$RCVBUF MSS=$MSS SEED=$SEED" >&2
running=0
for r in $ROWS; do
	line=$(sed -n "${r}p" <<<"$TABLE")
	[ -n "$line" ] || { echo "window_live.sh: no row $r (1-7)" >&2; exit 2; }
	read -r arrival rate service buffer slowdown study <<<"$line"
	read -r simw fluid <<<"$(sim "$arrival" "$rate" "$service" "$buffer" "$slowdown")"
	if [ "$simw" = None ]; then cap=$NONE_CAP; else
		cap=${CAP:-$(python3 -c "print(round(min(900, max(60, 2 * $fluid))))")}
	fi
	echo "$r $study $simw" >"$TMP/row$r.meta"
	read -r FRONT RELAY ADMIN <<<"$(ports 3)"
	echo "row $r: $arrival $rate req/s, -b $buffer, ${slowdown}x, cap ${cap} s" >&2
	timeout $((cap + 420)) python3 "$HERE/window_live.py" --bin "$PK_BIN" --prod "$PROD" --debug "$DBG" \
		--front "$FRONT" --relay "$RELAY" --admin "$ADMIN" --arrival "$arrival" --rate "$rate" \
		--service "$service" --service-rate "$(python3 -c "print($MU / $slowdown)")" \
		--buffer "$buffer" --cap "$cap" --seed "$SEED" --rcvbuf "$RCVBUF" --mss "$MSS" --sndbuf "$SNDBUF" \
		${SHIM:+--shim "$SHIM"} --log "$TMP/dup$r.log" >"$TMP/row$r.json" 2>"$TMP/row$r.err" &
	PIDS+=($!)
	running=$((running + 1))
	if ((running >= JOBS)); then
		wait -n
		running=$((running - 1))
	fi
done
wait "${PIDS[@]:2}" 2>/dev/null

echo "| row | input | buffer | slowdown | study | sim, seed 1 | live: predicted at ¼ full (median) | live: measured | kernel bytes, start–max | dup's buffer at start |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for r in $ROWS; do
	read -r arrival rate service buffer slowdown study <<<"$(sed -n "${r}p" <<<"$TABLE")"
	read -r _ _ simw <"$TMP/row$r.meta"
	python3 - "$r" "$arrival" "$rate" "$buffer" "$slowdown" "$study" "$simw" "$TMP/row$r.json" "$TMP/row$r.err" <<'EOF'
import json, sys
r, arrival, rate, buf, sd, study, simw, path, err = sys.argv[1:]
fmt = lambda s: "none" if s is None else "%.0f s" % s if s >= 100 else "%.1f s" % s
name = ("%s req/s constant" if arrival == "const" else "Poisson λ=%s req/s") % rate
try:
    d = json.load(open(path))
except (OSError, ValueError):
    d = {"error": "no result: " + open(err).read().strip()[-200:]}
print(json.dumps(d), file=sys.stderr)
cells = [r, name, "%d KiB" % (int(buf) // 1024), sd + "×", study if study == "none" else study + " s",
         fmt(None if simw == "None" else float(simw))]
if "error" in d:
    cells += ["error: " + d["error"], "", "", ""]
else:
    p = fmt(d.get("pred_s"))
    if d.get("pred_at") == "last":
        p += " (last, buffer below ¼)"
    if d.get("pred_median_s") is not None:
        p += " (%s)" % fmt(d["pred_median_s"])
    m = fmt(d["measured_s"]) if d["measured_s"] is not None else "none in %.0f s" % d["cap_s"]
    cells += [p, m, "%d–%d" % (d["kernel_start_bytes"], d.get("kernel_max_bytes", d["kernel_start_bytes"])),
              "%d B" % d["buffer_start_bytes"]]
print("| " + " | ".join(cells) + " |")
EOF
done
