#!/usr/bin/env bash
# bench/clone_docker.sh — a Docker container's production frozen by `parikshan clone docker:` vs
# by `docker checkpoint create --leave-running`, same container, same run (issue 14, item 4).
#
# A dockerd of the bench's own (tests/tools/pk-docker.sh, --experimental for checkpoints) runs a
# redis container holding SIZES MB (DEBUG POPULATE).  Each round, interleaved:
#   ours     `parikshan clone docker:NAME --recreate --json` while a client pings production
#            every ~1 ms over one connection: CRIU's frozen time (seize + frozen, its dump
#            statistics) and the largest gap the client saw;
#   docker   `docker checkpoint create --leave-running` with that client connected (it fails:
#            an established TCP connection, and Docker has no tcp-close), then again with no
#            client: the time production was frozen, from the stats-dump CRIU leaves in the
#            checkpoint, and the command's wall time.
# Medians over ROUNDS (default 5).  Root only; traffic only to the bench's own bridge.
#
#   bash bench/clone_docker.sh        SIZES="3 100" ROUNDS=5
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
. "$ROOT/bench/common.sh"
. "$ROOT/tests/tools/pk-docker.sh"
ROUNDS=${ROUNDS:-5}
SIZES=${SIZES:-3 100}
WEB=pk-bench-web DBG=pk-bench-web-dbg

[ "$(id -u)" -eq 0 ] || { echo "clone_docker.sh: run as root" >&2; exit 1; }
bench_init clone_docker docker dockerd redis-cli criu
export PARIKSHAN_STATE_DIR=$TMP/state
mkdir -p "$PARIKSHAN_STATE_DIR"
trap '"$PK_BIN" container rm "$DBG" >/dev/null 2>&1; pk_docker_stop; bench_cleanup' EXIT
pk_docker_start "$TMP/docker" --experimental || { echo "clone_docker.sh: $PK_DOCKER_ERR" >&2; exit 1; }
pk_docker_image pk-bench-redis:1 "$TMP" || { echo "clone_docker.sh: docker import failed" >&2; exit 1; }

# frozen_ms DIR: the time CRIU's stats-dump in DIR says the tasks were frozen (seize + frozen),
# in ms.  The image: u32 magic, u32 magic, u32 length, stats_entry { dump_stats_entry dump = 1 {
# freezing_time = 1; frozen_time = 2 (us) } } (src/clone/stats.c reads the same).
frozen_ms() {
	python3 - "$1/stats-dump" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if not c & 0x80: return v, i
def fields(b):
    i, out = 0, {}
    while i < len(b):
        key, i = varint(b, i)
        if key & 7 == 0: v, i = varint(b, i)
        elif key & 7 == 2: n, i = varint(b, i); v = b[i:i + n]; i += n
        else: raise SystemExit("stats-dump: unexpected wire type")
        out[key >> 3] = v
    return out
n = struct.unpack_from("<I", b, 8)[0]
dump = fields(fields(b[12:12 + n])[1])
print("%.1f" % ((dump.get(1, 0) + dump.get(2, 0)) / 1000))
PY
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "clone_docker.sh: $(date -u '+%F %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), criu $(criu --version | awk '/Version/ {print $2}'), docker $(docker version -f '{{.Server.Version}}')"
printf '| production | rounds | parikshan: frozen ms (median, min-max) | client-observed max stall ms | docker checkpoint, client connected | docker checkpoint, no client: frozen ms (median, min-max) | its wall ms | frozen: docker / parikshan |\n'
printf '|:---|---:|---:|---:|:---|---:|---:|---:|\n'
for mb in $SIZES; do
	docker rm -f "$WEB" >/dev/null 2>&1
	docker run -d --name "$WEB" pk-bench-redis:1 /bin/redis-server --bind 0.0.0.0 --save '' \
		--protected-mode no --enable-debug-command yes >/dev/null || exit 1
	IP=$(pk_docker_ip "$WEB")
	pk_docker_routed "$IP" || { echo "clone_docker.sh: '$IP' not routed to the bench's bridge" >&2; exit 1; }
	pk_poll 60 pk_redis_pong "$IP" || { echo "clone_docker.sh: redis in $WEB did not answer" >&2; exit 1; }
	timeout 300 redis-cli -h "$IP" DEBUG POPULATE "$((mb * 1000000 / 130))" key 64 >/dev/null
	label="redis $(redis-cli -h "$IP" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {printf "%.0f", $2 / 1048576}') MB"
	: >"$TMP/ours" && : >"$TMP/stall" && : >"$TMP/docker" && : >"$TMP/wall" && : >"$TMP/with-client"
	for r in $(seq "$ROUNDS"); do
		echo "clone_docker.sh: $label round $r/$ROUNDS" >&2
		stop=$TMP/stop
		rm -f "$stop" "$stop.ready"
		bench_pinger "$IP" redis "$stop" >>"$TMP/stall" &
		pp=$!
		pk_poll 30 test -e "$stop.ready" || { echo "clone_docker.sh: the pinger did not connect" >&2; exit 1; }
		"$PK_BIN" clone "docker:$WEB" "$DBG" --recreate --json |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["frozen_total_ms"])' >>"$TMP/ours" ||
			{ echo "clone_docker.sh: parikshan clone failed" >&2; exit 1; }
		if docker checkpoint create --leave-running "$WEB" "c$r" >"$TMP/cp.out" 2>&1; then
			echo ok >>"$TMP/with-client"
			docker checkpoint rm "$WEB" "c$r" >/dev/null 2>&1
		else
			echo fails >>"$TMP/with-client"
			grep -m1 -oE 'Error[^"]*' "$TMP/cp.out" | cut -c1-160 >"$TMP/why"
		fi
		touch "$stop"
		wait "$pp"
		t0=${EPOCHREALTIME/./}
		docker checkpoint create --leave-running "$WEB" "n$r" >"$TMP/cp.out" 2>&1 ||
			{ echo "clone_docker.sh: docker checkpoint failed with no client: $(tail -n 2 "$TMP/cp.out")" >&2; exit 1; }
		echo $(((${EPOCHREALTIME/./} - t0) / 1000)) >>"$TMP/wall"
		cpdir=$TMP/docker/data/containers/$(docker inspect -f '{{.Id}}' "$WEB")/checkpoints/n$r
		frozen_ms "$cpdir" >>"$TMP/docker" || { echo "clone_docker.sh: no stats-dump in $cpdir" >&2; exit 1; }
		docker checkpoint rm "$WEB" "n$r" >/dev/null 2>&1
	done
	ours=$(median <"$TMP/ours") theirs=$(median <"$TMP/docker")
	printf '| %s | %s | %s (%s-%s) | %s | %s | %s (%s-%s) | %s | %.1fx |\n' "$label" "$ROUNDS" \
		"$ours" "$(sort -n "$TMP/ours" | head -n1)" "$(sort -n "$TMP/ours" | tail -n1)" \
		"$(median <"$TMP/stall")" "$(sort "$TMP/with-client" | uniq -c | awk '{printf "%s%s %d/'"$ROUNDS"'", NR > 1 ? ", " : "", $2, $1}')" \
		"$theirs" "$(sort -n "$TMP/docker" | head -n1)" "$(sort -n "$TMP/docker" | tail -n1)" \
		"$(median <"$TMP/wall")" "$(python3 -c "print($theirs / $ours)")"
done
"$PK_BIN" container rm "$DBG" >/dev/null 2>&1
echo
[ -s "$TMP/why" ] && echo "docker checkpoint with a client connected: $(cat "$TMP/why")"
echo "goal (issue 14): production frozen at least 4x shorter than docker checkpoint, and with connected clients"
