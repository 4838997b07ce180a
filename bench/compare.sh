#!/usr/bin/env bash
# bench/compare.sh — issue 10's benchmark: what per-request comparison costs the duplicator.
#
# 1. Throughput, in one run of bench/dup.sh (interleaved rounds, medians): dup with one debug
#    target against the same with --compare resp (redis-benchmark unpipelined and -P 16) and
#    --compare http (wrk against nginx); goal: >= 0.95x.
# 2. Memory: the resident size of a dup with one debug redis and 1,000 client connections open
#    (each has sent 20 SET/GET pairs, pipelined, and got its answers), with and without
#    --compare resp; and with the debug redis stopped (SIGSTOP), CONNS_STOPPED connections of
#    5,000 SET/GET pairs each, so that every connection's comparison holds its undecided
#    requests up to its bound (8,192 per connection; then that clone is `lag` there and they
#    are freed).  VmRSS once every answer came, and VmHWM (the peak); the difference per
#    connection is the comparison's.
# Same environment knobs as bench/dup.sh (ROUNDS, QUICK, PK_BIN, ...), and CONNS (default 1000),
# CONNS_STOPPED (default 100).  Progress on stderr, results on stdout.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
CONNS=${CONNS:-1000}
CONNS_STOPPED=${CONNS_STOPPED:-100}
die() { echo "compare.sh: $*" >&2; exit 1; }
[ "${1:-}" = --help ] && { sed -n 2,14p "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[ -x "$PK_BIN" ] || die "parikshan binary not found: $PK_BIN"
[ "$(ulimit -Hn)" -ge $((4 * CONNS + 100)) ] || die "open-files hard limit below $((4 * CONNS + 100))"
ulimit -n "$(ulimit -Hn)"

CONFIGS=${CONFIGS:-dup1 dup1cmp} WORKLOADS=${WORKLOADS:-redis redis-P16 http} "$HERE/dup.sh" "$@" ||
	die "bench/dup.sh failed"

TMP=$(mktemp -d /tmp/pk-bench-compare.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
read -r PROD DBG FRONT ADMIN <<<"$(python3 "$ROOT/tests/tools/pk-free-ports.py" 4)"
bg() { local n=$1; shift; "$@" >"$TMP/$n.log" 2>&1 & PIDS+=("$!"); eval "PID_$n=$!"; }
. "$ROOT/tests/integration/wait.sh"
listening() { ss -Hltn "sport = :$1" | grep -q .; }
bg prod redis-server --bind 127.0.0.1 --port "$PROD" --save '' --appendonly no
bg dbg redis-server --bind 127.0.0.1 --port "$DBG" --save '' --appendonly no
pk_poll 30 listening "$PROD" && pk_poll 30 listening "$DBG" || die "redis did not start"

# rss_with FLAGS...: starts dup with FLAGS, opens $CONN connections through it, prints its VmRSS
# in KiB once every answer came (and, with STOP=1, after the debug redis was stopped first).
rss_with() {
	bg dup "$PK_BIN" dup -h 127.0.0.1 -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" \
		--admin "127.0.0.1:$ADMIN" --log-level warn "$@"
	pk_poll 30 listening "$FRONT" || die "dup did not start: $(cat "$TMP/dup.log")"
	[ "${STOP:-0}" = 1 ] && kill -STOP "$PID_dbg"
	timeout 300 python3 - "$FRONT" "$CONN" "$PID_dup" "$PAIRS" <<'PY' || die "client failed"
import socket, sys
port, n, pid, pairs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
req = b"".join(b"*3\r\n$3\r\nSET\r\n$4\r\nk%03d\r\n$16\r\n0123456789abcdef\r\n*2\r\n$3\r\nGET\r\n$4\r\nk%03d\r\n"
               % (i % 1000, i % 1000) for i in range(pairs))
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
want = pairs * (len(b"+OK\r\n") + len(b"$16\r\n0123456789abcdef\r\n"))
for s in socks:
    got = 0
    while got < want:
        d = s.recv(65536)
        assert d, "closed"
        got += len(d)
st = {l.split(":")[0]: l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("Vm")}
print(st["VmRSS"], st["VmHWM"])
for s in socks:
    s.close()
PY
	kill -CONT "$PID_dbg"
	kill "$PID_dup"
	wait "$PID_dup" 2>/dev/null
}
echo "compare.sh: memory, $CONNS connections" >&2
CONN=$CONNS PAIRS=20
read -r plain plain_hwm <<<"$(rss_with)" || exit 1
read -r cmp cmp_hwm <<<"$(rss_with --compare resp)" || exit 1
echo "compare.sh: memory, $CONNS_STOPPED connections to a stopped clone" >&2
CONN=$CONNS_STOPPED PAIRS=5000 STOP=1
read -r splain splain_hwm <<<"$(rss_with)" || exit 1
read -r scmp scmp_hwm <<<"$(rss_with --compare resp)" || exit 1
per() { echo "scale=1; ($1 - $2) / $3" | bc -l; }
echo
echo "== memory: dup's VmRSS / VmHWM (peak) with one debug redis, KiB"
printf '%-48s %15s %17s %22s\n' "" "plain" "--compare resp" "per connection (peak)"
printf '%-48s %15s %17s %22s\n' "$CONNS connections x 40 requests, clone answering" \
	"$plain / $plain_hwm" "$cmp / $cmp_hwm" "$(per "$cmp" "$plain" "$CONNS") ($(per "$cmp_hwm" "$plain_hwm" "$CONNS"))"
printf '%-48s %15s %17s %22s\n' "$CONNS_STOPPED connections x 10000 requests, clone stopped" \
	"$splain / $splain_hwm" "$scmp / $scmp_hwm" "$(per "$scmp" "$splain" "$CONNS_STOPPED") ($(per "$scmp_hwm" "$splain_hwm" "$CONNS_STOPPED"))"
