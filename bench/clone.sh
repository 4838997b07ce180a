#!/usr/bin/env bash
# bench/clone.sh — how long a live clone freezes production, and how long it takes.
#
# For redis containers holding ~3 MB, ~100 MB and ~1 GB (DEBUG POPULATE), an nginx serving a
# file and a mariadb with a 10k-row table, each round clones the container (`parikshan clone
# --recreate --json`) while a client pings production every ~1 ms over one connection (redis
# PING, HTTP keep-alive GET, MySQL COM_PING); it reports CRIU's frozen time (frozen + freezing,
# from its dump statistics) broken down into its parts (seize, memory, mounts, namespaces,
# post-dump copy, other), the largest gap the pinging client saw (client-observed stall), total
# clone time and image size; medians over ROUNDS (default 5; 2 for 1 GB); a summary against the
# frozen-time goals at the end.  Root only; traffic only into the bench's own namespace.
#
#   bash bench/clone.sh            SIZES="3 100 1000" (MB) ROUNDS=5 SERVICES="nginx mariadb"
# then the Docker rows (bench/clone_docker.sh: a Docker container, ours vs `docker checkpoint`;
# DOCKER=0 leaves them out).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PK_BIN:-$ROOT/build/release/parikshan}
. "$ROOT/bench/common.sh" # bench_pinger; pk_poll: waits on a condition with a deadline
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

# serves KIND: true when production's KIND service answers.
serves() {
	case "$1" in
	redis) pk_redis_pong "$IP" ;;
	nginx) curl -sf --max-time 5 -o /dev/null "http://$IP/blob" ;;
	mariadb) timeout 5 mariadb -h "$IP" -u root -e 'select 1' ;;
	esac
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
	pk_poll 60 serves "$1" || { echo "clone.sh: $1 in $PROD did not serve within 60 s" >&2; return 1; }
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

# rounds KIND LABEL N: N clones of the running production, one table row: medians of the
# client-observed stall, of the total clone time, the image size and of each part of the frozen
# time (clone --json: frozen_total_ms = seize + frozen; memory, mounts and namespaces from CRIU's
# statistics and dump log, the post-dump copy measured in parikshan's hook, other = the rest).
rounds() {
	local kind=$1 label=$2 n=$3 r stop pp
	: >"$PARIKSHAN_STATE_DIR/stall"
	: >"$PARIKSHAN_STATE_DIR/reports"
	for r in $(seq "$n"); do
		echo "clone.sh: $label round $r/$n" >&2
		stop=$PARIKSHAN_STATE_DIR/stop
		rm -f "$stop" "$stop.ready"
		bench_pinger "$IP" "$kind" "$stop" >>"$PARIKSHAN_STATE_DIR/stall" &
		pp=$!
		pk_poll 30 test -e "$stop.ready" || { touch "$stop"; wait "$pp"; echo "clone.sh: the pinger did not connect" >&2; return 1; }
		"$BIN" clone "$PROD" "$DBG" --recreate --json | tr -d '\n\t' >>"$PARIKSHAN_STATE_DIR/reports" ||
			{ touch "$stop"; wait "$pp"; echo "clone.sh: clone failed" >&2; return 1; }
		echo >>"$PARIKSHAN_STATE_DIR/reports"
		touch "$stop"
		wait "$pp"
	done
	"$BIN" container rm "$DBG" >/dev/null 2>&1
	python3 - "$label" "$n" "$PARIKSHAN_STATE_DIR/reports" "$PARIKSHAN_STATE_DIR/stall" "$SUMMARY" <<'PY'
import json, statistics, sys
label, n, reports, stalls, summary = sys.argv[1:6]
rs = [json.loads(l) for l in open(reports) if l.strip()]
stall = [float(l) for l in open(stalls) if l.strip()]
def med(key): return statistics.median(r[key] for r in rs)
frozen = sorted(r["frozen_total_ms"] for r in rs)
parts = ["freezing_ms", "memdump_ms", "mounts_ms", "namespaces_ms", "post_dump_ms", "frozen_other_ms"]
print("| %s | %s | %.1f (%.1f-%.1f) | %s | %.1f | %.0f | %.0f |" % (
    label, n, statistics.median(frozen), frozen[0], frozen[-1],
    " | ".join("%.1f" % med(k) for k in parts),
    statistics.median(stall) if stall else float("nan"), med("total_ms"), med("image_bytes") / 1048576))
with open(summary, "a") as f:
    f.write("%s\t%.1f\n" % (label, statistics.median(frozen)))
PY
}

SUMMARY=$PARIKSHAN_STATE_DIR/summary
: >"$SUMMARY"
echo "clone.sh: $(date -u '+%F %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), criu $(criu --version | awk '/Version/ {print $2}')"
printf '| production | rounds | frozen ms (median, min-max) | seize | memory | mounts | namespaces | post-dump copy | other | client-observed max stall ms | total clone ms | image MB |\n'
printf '|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
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

# Summary: the goals of issue 9 item 3 (small redis <= 40 ms, 100 MB redis <= 150 ms frozen).
python3 - "$SUMMARY" <<'PY'
import re, sys
print("\nsummary (median frozen ms; goals: small redis <= 40, ~100 MB redis <= 150):")
for line in open(sys.argv[1]):
    label, frozen = line.rstrip("\n").split("\t")
    m = re.match(r"redis (\d+) MB", label)
    goal = None
    if m:
        mb = int(m.group(1))
        goal = 40 if mb < 50 else 150 if mb < 500 else None
    verdict = "" if goal is None else ("  goal <= %d: %s" % (goal, "met" if float(frozen) <= goal else "MISSED"))
    print("  %-22s %8s%s" % (label, frozen, verdict))
PY

# The Docker rows: the same container frozen by our clone and by `docker checkpoint`.
if [ "${DOCKER:-1}" != 0 ]; then
	echo
	ROUNDS=$ROUNDS SIZES="$(echo "$SIZES" | tr ' ' '\n' | awk '$1 < 1000' | tr '\n' ' ')" \
		PK_BIN=$BIN bash "$ROOT/bench/clone_docker.sh"
fi
