#!/usr/bin/env bash
# scripts/demo.sh — the whole duplicator workflow on loopback, narrated:
# production redis + debug redis, `parikshan dup` in front, load, status, proof that the
# clone got the same traffic, teardown.  (The live-clone issue replaces the second redis with
# a real clone of a production container.)  Run through `make demo`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PK_BIN:-$ROOT/build/release/parikshan}
TMP=$(mktemp -d /tmp/pk-demo.XXXXXX)
PIDS=()

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
cleanup() {
	step "teardown: stopping every process the demo started"
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
	echo "done"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 100); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done
	echo "parikshan: demo: port $1 did not open" >&2
	return 1
}

[ -x "$BIN" ] || { echo "parikshan: demo: $BIN is not built (make)" >&2; exit 1; }
PROD=$(free_port) DBG=$(free_port) FRONT=$(free_port) ADMIN=$(free_port)

step "production redis-server on 127.0.0.1:$PROD, debug redis-server on 127.0.0.1:$DBG"
for port in "$PROD" "$DBG"; do
	mkdir -p "$TMP/$port"
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--enable-debug-command yes --dir "$TMP/$port" >"$TMP/redis-$port.log" 2>&1 &
	PIDS+=($!)
	wait_port "$port"
done

step "front door: parikshan dup -l $FRONT -x 127.0.0.1 -p $PROD -m 127.0.0.1 -d $DBG --admin $ADMIN"
"$BIN" dup -h 127.0.0.1 -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" \
	--admin "127.0.0.1:$ADMIN" 2>"$TMP/dup.log" &
PIDS+=($!)
wait_port "$FRONT"

step "load: redis-benchmark, 50 clients, 100k requests of each of SET, INCR, LPUSH, through the front door"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$FRONT" -c 50 -n 100000 -t set,incr,lpush -q |
	tr '\r' '\n' | grep 'requests per second'

step "a key written through the front door"
redis-cli -p "$FRONT" SET demo:greeting "hello from a client" >/dev/null
sleep 0.1
echo "production: $(redis-cli -p "$PROD" GET demo:greeting)"
echo "debug copy: $(redis-cli -p "$DBG" GET demo:greeting)"

step "a key written directly into the debug copy stays there"
redis-cli -p "$DBG" SET demo:debug-only "experiment" >/dev/null
echo "debug copy: $(redis-cli -p "$DBG" GET demo:debug-only)"
echo "production: '$(redis-cli -p "$PROD" GET demo:debug-only)' (absent)"
redis-cli -p "$DBG" DEL demo:debug-only >/dev/null

step "status: parikshan status --admin 127.0.0.1:$ADMIN"
"$BIN" status --admin "127.0.0.1:$ADMIN"

step "the debug copy saw the same traffic: DEBUG DIGEST of both datasets"
p=$(redis-cli -p "$PROD" DEBUG DIGEST) d=$(redis-cli -p "$DBG" DEBUG DIGEST)
echo "production: $p"
echo "debug copy: $d"
[ "$p" = "$d" ] && echo "equal: the clone is in sync" || { echo "parikshan: demo: digests differ" >&2; exit 1; }

step "a slow clone never slows production: SIGSTOP the debug redis, load again"
kill -STOP "${PIDS[1]}"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$FRONT" -c 5 -n 20000 -d 4096 -t set -q |
	tr '\r' '\n' | grep 'requests per second'
"$BIN" status --admin "127.0.0.1:$ADMIN"
kill -CONT "${PIDS[1]}"
echo "(the clone fell out of sync on the connections whose buffers overflowed; re-clone it to resync)"
