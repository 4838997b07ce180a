#!/usr/bin/env bash
# bench/clone_docker.sh — a Docker container's production frozen by `parikshan clone docker:` vs
# by `docker checkpoint create --leave-running`, same container, same run (issue 14, item 4).
#
# A dockerd of the bench's own (tests/tools/pk-docker.sh, --experimental for checkpoints) runs a
# redis container holding SIZES MB (DEBUG POPULATE).  Each round, interleaved:
#   ours     `parikshan clone docker:NAME --recreate --json` while a client pings production
#            every ~1 ms over one connection: CRIU's frozen time (seize + frozen, its dump
#            statistics) and the largest gap the client saw;
#   docker   `docker checkpoint create --leave-running` with such a client connected (it fails:
#            an established TCP connection, and Docker has no tcp-close; the client's largest
#            gap is reported: the failed attempt froze production too), then again with no
#            client: the time production was frozen (its freezer cgroup, polled: runc stops a
#            container that way; Docker keeps no CRIU statistics), and the command's wall time.
# Medians over ROUNDS (default 5).  Root only; traffic only to the bench's own bridge.
# With VOLUME_MB (default 0: left out), then a redis container whose named volume holds
# VOLUME_MB of files (64 of them), cloned with `--volumes copy` and `--volumes overlay` in
# turn: each mode's clone time, first-copy time and frozen time (medians).
#
#   bash bench/clone_docker.sh        SIZES="3 100" ROUNDS=5 VOLUME_MB=0
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
. "$ROOT/bench/common.sh"
. "$ROOT/tests/tools/pk-docker.sh"
ROUNDS=${ROUNDS:-5}
SIZES=${SIZES-3 100} # SIZES= (empty): none
VOLUME_MB=${VOLUME_MB:-0}
WEB=pk-bench-web DBG=pk-bench-web-dbg

[ "$(id -u)" -eq 0 ] || { echo "clone_docker.sh: run as root" >&2; exit 1; }
bench_init clone_docker docker dockerd redis-cli criu
export PARIKSHAN_STATE_DIR=$TMP/state
mkdir -p "$PARIKSHAN_STATE_DIR"
trap '"$PK_BIN" container rm "$DBG" >/dev/null 2>&1; pk_docker_stop; bench_cleanup' EXIT
pk_docker_start "$TMP/dockerd" --experimental || { echo "clone_docker.sh: $PK_DOCKER_ERR" >&2; exit 1; }
pk_docker_image pk-bench-redis:1 "$TMP" || { echo "clone_docker.sh: docker import failed" >&2; exit 1; }

# freezer_watch ID STOPFILE: polls container ID's freezer cgroup (cgroup v1, how `runc
# checkpoint` stops a container) until STOPFILE exists (at most 120 s); prints the time it was
# not THAWED, in ms.  Creates STOPFILE.ready once it reads the state.
freezer_watch() {
	python3 - "/sys/fs/cgroup/freezer/docker/$1/freezer.state" "$2" <<'PY'
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
f = open(path)
def state():
    f.seek(0); return f.read().strip()
state(); open(stop + ".ready", "w").close()
end = time.monotonic() + 120; since = None; total = 0.0
while time.monotonic() < end and not os.path.exists(stop):
    now, s = time.monotonic(), state()
    if s != "THAWED" and since is None: since = now
    elif s == "THAWED" and since is not None: total += now - since; since = None
if since is not None: total += time.monotonic() - since
print("%.1f" % (total * 1000))
PY
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "clone_docker.sh: $(date -u '+%F %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), criu $(criu --version | awk '/Version/ {print $2}'), docker $(docker version -f '{{.Server.Version}}')"
printf '| production | rounds | parikshan: frozen ms (median, min-max) | client-observed max stall ms | docker checkpoint, client connected | docker checkpoint, no client: frozen ms (freezer cgroup; median, min-max) | its wall ms | frozen: docker / parikshan |\n'
printf '|:---|---:|---:|---:|:---|---:|---:|---:|\n'
for mb in $SIZES; do
	docker rm -f "$WEB" >/dev/null 2>&1
	docker run -d --name "$WEB" pk-bench-redis:1 /bin/redis-server --bind 0.0.0.0 --save '' \
		--protected-mode no --enable-debug-command yes >/dev/null || exit 1
	pk_docker_addr "$WEB" || { echo "clone_docker.sh: $PK_DOCKER_ERR" >&2; exit 1; }
	IP=$PK_DOCKER_ADDR
	pk_poll 60 pk_redis_pong "$IP" || { echo "clone_docker.sh: redis in $WEB did not answer" >&2; exit 1; }
	timeout 300 redis-cli -h "$IP" DEBUG POPULATE "$((mb * 1000000 / 130))" key 64 >/dev/null
	label="redis $(redis-cli -h "$IP" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {printf "%.0f", $2 / 1048576}') MB"
	: >"$TMP/ours" && : >"$TMP/stall" && : >"$TMP/theirs" && : >"$TMP/wall" && : >"$TMP/with-client"
	: >"$TMP/stall-docker"
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
		touch "$stop"
		wait "$pp"
		rm -f "$stop" "$stop.ready"
		bench_pinger "$IP" redis "$stop" >>"$TMP/stall-docker" &
		pp=$!
		pk_poll 30 test -e "$stop.ready" || { echo "clone_docker.sh: the pinger did not connect" >&2; exit 1; }
		if docker checkpoint create --leave-running "$WEB" "c$r" >"$TMP/cp.out" 2>&1; then
			echo ok >>"$TMP/with-client"
			docker checkpoint rm "$WEB" "c$r" >/dev/null 2>&1
		else
			echo fails >>"$TMP/with-client"
			grep -m1 -oE 'Error[^"]*' "$TMP/cp.out" | cut -c1-160 >"$TMP/why"
		fi
		touch "$stop"
		wait "$pp"
		rm -f "$stop" "$stop.ready"
		freezer_watch "$(docker inspect -f '{{.Id}}' "$WEB")" "$stop" >>"$TMP/theirs" &
		pp=$!
		pk_poll 30 test -e "$stop.ready" || { echo "clone_docker.sh: no freezer cgroup to watch" >&2; exit 1; }
		t0=${EPOCHREALTIME/./}
		docker checkpoint create --leave-running "$WEB" "n$r" >"$TMP/cp.out" 2>&1 ||
			{ echo "clone_docker.sh: docker checkpoint failed with no client: $(tail -n 2 "$TMP/cp.out")" >&2; exit 1; }
		echo $(((${EPOCHREALTIME/./} - t0) / 1000)) >>"$TMP/wall"
		touch "$stop"
		wait "$pp"
		docker checkpoint rm "$WEB" "n$r" >/dev/null 2>&1
	done
	ours=$(median <"$TMP/ours") theirs=$(median <"$TMP/theirs")
	printf '| %s | %s | %s (%s-%s) | %s | fails %s of %s, client stalled %s ms | %s (%s-%s) | %s | %.1fx |\n' \
		"$label" "$ROUNDS" "$ours" "$(sort -n "$TMP/ours" | head -n1)" "$(sort -n "$TMP/ours" | tail -n1)" \
		"$(median <"$TMP/stall")" "$(grep -c fails "$TMP/with-client")" "$ROUNDS" "$(median <"$TMP/stall-docker")" \
		"$theirs" "$(sort -n "$TMP/theirs" | head -n1)" "$(sort -n "$TMP/theirs" | tail -n1)" \
		"$(median <"$TMP/wall")" "$(python3 -c "print($theirs / $ours)")"
done
"$PK_BIN" container rm "$DBG" >/dev/null 2>&1
echo
[ -s "$TMP/why" ] && echo "docker checkpoint with a client connected: $(cat "$TMP/why")"
echo "goal (issue 14): production frozen at least 4x shorter than docker checkpoint, and with connected clients"

[ "$VOLUME_MB" -gt 0 ] || exit 0
# --- a volume of VOLUME_MB: --volumes copy vs --volumes overlay, interleaved ---------------------
docker rm -f "$WEB" >/dev/null 2>&1
docker run -d --name "$WEB" -v pk-bench-vol:/data pk-bench-redis:1 /bin/redis-server --bind 0.0.0.0 \
	--save '' --protected-mode no --dir /data --appendonly yes >/dev/null || exit 1
pk_docker_addr "$WEB" || { echo "clone_docker.sh: $PK_DOCKER_ERR" >&2; exit 1; }
IP=$PK_DOCKER_ADDR
pk_poll 60 pk_redis_pong "$IP" || { echo "clone_docker.sh: redis in $WEB did not answer" >&2; exit 1; }
vol=$(docker volume inspect -f '{{.Mountpoint}}' pk-bench-vol)
for i in $(seq 64); do
	head -c "$((VOLUME_MB * 1048576 / 64))" /dev/urandom >"$vol/blob$i" || exit 1
done
sync
echo
printf '| redis, a volume of %s MB (64 files) | rounds | clone total ms | first copy ms (production running) | frozen ms | of which the frozen-time copy ms |\n' "$VOLUME_MB"
printf '|:---|---:|---:|---:|---:|---:|\n'
for mode in copy overlay; do : >"$TMP/vol-$mode"; done
for r in $(seq "$ROUNDS"); do
	for mode in copy overlay; do
		echo "clone_docker.sh: volume $VOLUME_MB MB, --volumes $mode, round $r/$ROUNDS" >&2
		"$PK_BIN" clone "docker:$WEB" "$DBG" --json --volumes "$mode" |
			python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["total_ms"], d["sync1_ms"], d["frozen_total_ms"], d["post_dump_ms"])' \
			>>"$TMP/vol-$mode" || { echo "clone_docker.sh: clone --volumes $mode failed" >&2; exit 1; }
		"$PK_BIN" container rm "$DBG" >/dev/null # (untimed: the next clone's --recreate would)
	done
done
for mode in copy overlay; do
	printf '| --volumes %s | %s | %.0f | %.0f | %.1f | %.1f |\n' "$mode" "$ROUNDS" \
		"$(cut -d' ' -f1 "$TMP/vol-$mode" | median)" "$(cut -d' ' -f2 "$TMP/vol-$mode" | median)" \
		"$(cut -d' ' -f3 "$TMP/vol-$mode" | median)" "$(cut -d' ' -f4 "$TMP/vol-$mode" | median)"
done
