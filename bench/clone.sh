#!/usr/bin/env bash
# bench/clone.sh — how long a live clone freezes production, and how long it takes.
#
# For redis containers holding ~3 MB, ~100 MB and ~1 GB (DEBUG POPULATE), each round clones the
# container (`parikshan clone --recreate --json`) while a client pings production every ~1 ms;
# it reports CRIU's frozen time (frozen + freezing, from its dump statistics), the largest gap
# the pinging client saw (client-observed stall), total clone time and image size; medians
# over ROUNDS (default 5; 2 for 1 GB).  Root only; traffic only into the bench's own namespace.
#
#   bash bench/clone.sh            SIZES="3 100 1000" (MB) ROUNDS=5
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PK_BIN:-$ROOT/build/release/parikshan}
ROUNDS=${ROUNDS:-5}
SIZES=${SIZES:-3 100 1000}
export PARIKSHAN_STATE_DIR=$(mktemp -d /tmp/pk-bench-clone.XXXXXX)
PROD=pk-bench-prod DBG=pk-bench-dbg IP=10.77.240.2

[ "$(id -u)" -eq 0 ] || { echo "clone.sh: run as root" >&2; exit 1; }
[ -x "$BIN" ] || { echo "clone.sh: $BIN not built (make)" >&2; exit 1; }
cleanup() {
	"$BIN" container rm "$DBG" >/dev/null 2>&1
	"$BIN" container rm "$PROD" >/dev/null 2>&1
	rm -rf "$PARIKSHAN_STATE_DIR"
}
trap cleanup EXIT

# pinger STOPFILE: PINGs production every ~1 ms until STOPFILE exists (at most 120 s); prints
# the largest gap between two answers, in ms.
pinger() {
	python3 - "$IP" "$1" <<'PY'
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 6379), timeout=30)
end = time.monotonic() + 120; last = time.monotonic(); worst = 0.0
while time.monotonic() < end and not os.path.exists(sys.argv[2]):
    s.sendall(b"PING\r\n"); s.recv(16)
    now = time.monotonic(); worst = max(worst, now - last); last = now
    time.sleep(0.001)
print(f"{worst * 1000:.1f}")
PY
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

printf '| data | rounds | CRIU frozen+freezing ms (median, min-max) | client-observed max stall ms | total clone ms | image MB |\n'
printf '|---:|---:|---:|---:|---:|---:|\n'
for mb in $SIZES; do
	"$BIN" container rm "$PROD" >/dev/null 2>&1
	"$BIN" container run "$PROD" --rootfs / --ip "$IP/24" -- redis-server --bind 0.0.0.0 --port 6379 \
		--save '' --protected-mode no --enable-debug-command yes >/dev/null || exit 1
	ip route get "$IP" | grep -q ' dev pkh' || { echo "clone.sh: $IP not routed to the container" >&2; exit 1; }
	for _ in $(seq 50); do [ "$(redis-cli -h "$IP" PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
	keys=$((mb * 1000000 / 130)) # ~130 bytes of redis memory per 64-byte value
	timeout 300 redis-cli -h "$IP" DEBUG POPULATE "$keys" key 64 >/dev/null
	used=$(redis-cli -h "$IP" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {printf "%.0f", $2 / 1048576}')
	rounds=$ROUNDS
	[ "$mb" -ge 1000 ] && rounds=$((ROUNDS < 2 ? ROUNDS : 2))
	: >"$PARIKSHAN_STATE_DIR/frozen" >"$PARIKSHAN_STATE_DIR/stall" >"$PARIKSHAN_STATE_DIR/total" >"$PARIKSHAN_STATE_DIR/image"
	for r in $(seq "$rounds"); do
		echo "clone.sh: ${used} MB round $r/$rounds" >&2
		stop=$PARIKSHAN_STATE_DIR/stop
		rm -f "$stop"
		pinger "$stop" >>"$PARIKSHAN_STATE_DIR/stall" &
		pp=$!
		sleep 0.5
		j=$("$BIN" clone "$PROD" "$DBG" --recreate --json) || { touch "$stop"; echo "clone.sh: clone failed" >&2; exit 1; }
		sleep 0.3
		touch "$stop"
		wait "$pp"
		echo "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.1f %.0f %.0f" % (d["frozen_ms"] + d["freezing_ms"], d["total_ms"], d["image_bytes"] / 1048576))' |
			while read -r f t i; do echo "$f" >>"$PARIKSHAN_STATE_DIR/frozen"; echo "$t" >>"$PARIKSHAN_STATE_DIR/total"; echo "$i" >>"$PARIKSHAN_STATE_DIR/image"; done
	done
	"$BIN" container rm "$DBG" >/dev/null 2>&1
	printf '| %s MB | %s | %s (%s-%s) | %s | %s | %s |\n' "$used" "$rounds" \
		"$(median <"$PARIKSHAN_STATE_DIR/frozen")" "$(sort -n "$PARIKSHAN_STATE_DIR/frozen" | head -1)" \
		"$(sort -n "$PARIKSHAN_STATE_DIR/frozen" | tail -1)" "$(median <"$PARIKSHAN_STATE_DIR/stall" 2>/dev/null || echo -)" \
		"$(median <"$PARIKSHAN_STATE_DIR/total")" "$(median <"$PARIKSHAN_STATE_DIR/image")"
done
