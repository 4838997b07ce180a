#!/usr/bin/env bash
# bench/clone.sh — how long a live clone freezes production, and how long it takes.
#
# For redis containers holding ~3 MB, ~100 MB and ~1 GB (DEBUG POPULATE), an nginx serving a
# file and a mariadb with a 10k-row table, each round clones the container (`parikshan clone
# --recreate --json`) while a client pings production every ~1 ms over one connection (redis
# PING, HTTP keep-alive GET, MySQL COM_PING); it reports CRIU's frozen time (frozen + freezing,
# from its dump statistics), the largest gap the pinging client saw (client-observed stall), total
# clone time and image size; medians over ROUNDS (default 5; 2 for 1 GB).  Root only; traffic
# only into the bench's own namespace.
#
#   bash bench/clone.sh            SIZES="3 100 1000" (MB) ROUNDS=5 SERVICES="nginx mariadb"
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PK_BIN:-$ROOT/build/release/parikshan}
ROUNDS=${ROUNDS:-5}
SIZES=${SIZES:-3 100 1000}
SERVICES=${SERVICES:-nginx mariadb}
WORK=$(mktemp -d /tmp/pk-bench-clone-files.XXXXXX)
chmod 755 "$WORK"
export PARIKSHAN_STATE_DIR=$(mktemp -d /tmp/pk-bench-clone.XXXXXX)
PROD=pk-bench-prod DBG=pk-bench-dbg IP=10.77.240.2

[ "$(id -u)" -eq 0 ] || { echo "clone.sh: run as root" >&2; exit 1; }
[ -x "$BIN" ] || { echo "clone.sh: $BIN not built (make)" >&2; exit 1; }
cleanup() {
	"$BIN" container rm "$DBG" >/dev/null 2>&1
	"$BIN" container rm "$PROD" >/dev/null 2>&1
	rm -rf "$PARIKSHAN_STATE_DIR" "$WORK"
}
trap cleanup EXIT

# pinger KIND STOPFILE: pings production every ~1 ms over one connection until STOPFILE exists
# (at most 120 s); prints the largest gap between two answers, in ms.
pinger() {
	python3 - "$IP" "$1" "$2" <<'PY'
import os, socket, struct, sys, time
ip, kind, stop = sys.argv[1], sys.argv[2], sys.argv[3]
def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError
        b += c
    return b
def mysql_packet(s):
    hdr = recv_exact(s, 4); return recv_exact(s, hdr[0] | hdr[1] << 8 | hdr[2] << 16)
if kind == "redis":
    s = socket.create_connection((ip, 6379), timeout=30)
    def ping(): s.sendall(b"PING\r\n"); s.recv(16)
elif kind == "nginx":
    import http.client
    c = http.client.HTTPConnection(ip, 80, timeout=30)
    def ping(): c.request("GET", "/blob"); c.getresponse().read()
else:  # mariadb: handshake (no password, --skip-grant-tables), then COM_PING
    s = socket.create_connection((ip, 3306), timeout=30)
    mysql_packet(s)
    caps = 0x0200 | 0x8000 | 0x00080000  # protocol 41, secure connection, plugin auth
    body = struct.pack("<IIB23x", caps, 1 << 24, 33) + b"root\0" + b"\0" + b"mysql_native_password\0"
    s.sendall(struct.pack("<I", len(body))[:3] + b"\1" + body)
    mysql_packet(s)
    def ping(): s.sendall(b"\1\0\0\0\x0e"); mysql_packet(s)
end = time.monotonic() + 120; last = time.monotonic(); worst = 0.0
while time.monotonic() < end and not os.path.exists(stop):
    ping()
    now = time.monotonic(); worst = max(worst, now - last); last = now
    time.sleep(0.001)
print(f"{worst * 1000:.1f}")
PY
}

# start KIND [MB]: runs production for KIND; prints a label for the table.
start() {
	"$BIN" container rm "$PROD" >/dev/null 2>&1
	case "$1" in
	redis)
		"$BIN" container run "$PROD" --rootfs / --ip "$IP/24" -- redis-server --bind 0.0.0.0 \
			--port 6379 --save '' --protected-mode no --enable-debug-command yes >/dev/null || return 1 ;;
	nginx)
		head -c 1048576 /dev/urandom >"$WORK/blob"
		printf 'user root;\nworker_processes 1;\npid /run/nginx-pk-bench.pid;\nerror_log stderr warn;\nevents { worker_connections 256; }\nhttp { access_log off; keepalive_timeout 120s; keepalive_requests 1000000; server { listen 80; root %s; } }\n' "$WORK" >"$WORK/nginx.conf"
		"$BIN" container run "$PROD" --rootfs / --ip "$IP/24" -- nginx -c "$WORK/nginx.conf" -g 'daemon off;' >/dev/null || return 1 ;;
	mariadb)
		rm -rf "$WORK/data"
		mariadb-install-db --no-defaults --datadir="$WORK/data" --user=root --skip-test-db \
			--auth-root-authentication-method=normal >/dev/null 2>&1 || return 1
		"$BIN" container run "$PROD" --rootfs / --ip "$IP/24" -- mariadbd --no-defaults \
			--datadir="$WORK/data" --user=root --bind-address=0.0.0.0 --port=3306 \
			--socket="$WORK/sock" --pid-file="$WORK/pid" --skip-grant-tables --skip-name-resolve \
			--innodb-use-native-aio=0 --skip-log-bin >/dev/null || return 1 ;;
	esac
	ip route get "$IP" | grep -q ' dev pkh' || { echo "clone.sh: $IP not routed to the container" >&2; return 1; }
	for _ in $(seq 100); do
		case "$1" in
		redis) [ "$(redis-cli -h "$IP" PING 2>/dev/null)" = PONG ] && break ;;
		nginx) curl -sf -o /dev/null "http://$IP/blob" && break ;;
		mariadb) mariadb -h "$IP" -u root -e 'select 1' >/dev/null 2>&1 && break ;;
		esac
		sleep 0.1
	done
	case "$1" in
	redis)
		timeout 300 redis-cli -h "$IP" DEBUG POPULATE "$(($2 * 1000000 / 130))" key 64 >/dev/null # ~130 B per key
		echo "redis $(redis-cli -h "$IP" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {printf "%.0f", $2 / 1048576}') MB" ;;
	nginx) echo "nginx (1 MiB file)" ;;
	mariadb)
		mariadb -h "$IP" -u root -e "create database d; create table d.t (id int primary key auto_increment, v varchar(64)); use d; insert into t (v) select concat('row-', seq) from seq_1_to_10000" || return 1
		echo "mariadb (10k rows)" ;;
	esac
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# rounds KIND LABEL N: N clones of the running production, one table row.
rounds() {
	local kind=$1 label=$2 n=$3 r j stop pp
	: >"$PARIKSHAN_STATE_DIR/frozen" >"$PARIKSHAN_STATE_DIR/stall" >"$PARIKSHAN_STATE_DIR/total" >"$PARIKSHAN_STATE_DIR/image"
	for r in $(seq "$n"); do
		echo "clone.sh: $label round $r/$n" >&2
		stop=$PARIKSHAN_STATE_DIR/stop
		rm -f "$stop"
		pinger "$kind" "$stop" >>"$PARIKSHAN_STATE_DIR/stall" &
		pp=$!
		sleep 0.5
		j=$("$BIN" clone "$PROD" "$DBG" --recreate --json) || { touch "$stop"; echo "clone.sh: clone failed" >&2; return 1; }
		sleep 0.3
		touch "$stop"
		wait "$pp"
		echo "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.1f %.0f %.0f" % (d["frozen_ms"] + d["freezing_ms"], d["total_ms"], d["image_bytes"] / 1048576))' |
			while read -r f t i; do echo "$f" >>"$PARIKSHAN_STATE_DIR/frozen"; echo "$t" >>"$PARIKSHAN_STATE_DIR/total"; echo "$i" >>"$PARIKSHAN_STATE_DIR/image"; done
	done
	"$BIN" container rm "$DBG" >/dev/null 2>&1
	printf '| %s | %s | %s (%s-%s) | %s | %s | %s |\n' "$label" "$n" \
		"$(median <"$PARIKSHAN_STATE_DIR/frozen")" "$(sort -n "$PARIKSHAN_STATE_DIR/frozen" | head -1)" \
		"$(sort -n "$PARIKSHAN_STATE_DIR/frozen" | tail -1)" "$(median <"$PARIKSHAN_STATE_DIR/stall")" \
		"$(median <"$PARIKSHAN_STATE_DIR/total")" "$(median <"$PARIKSHAN_STATE_DIR/image")"
}

printf '| production | rounds | CRIU frozen+freezing ms (median, min-max) | client-observed max stall ms | total clone ms | image MB |\n'
printf '|:---|---:|---:|---:|---:|---:|\n'
for mb in $SIZES; do
	label=$(start redis "$mb") || exit 1
	n=$ROUNDS
	[ "$mb" -ge 1000 ] && n=$((ROUNDS < 2 ? ROUNDS : 2))
	rounds redis "$label" "$n" || exit 1
done
for kind in $SERVICES; do
	label=$(start "$kind") || exit 1
	rounds "$kind" "$label" "$ROUNDS" || exit 1
done
