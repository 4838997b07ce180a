#!/usr/bin/env bash
# test_probe_clone.sh — probes inside a live clone (issue 11, acceptance 4): a production
# container runs the cold-patched, -finstrument-functions build of Debian's redis-server
# (scripts/redis-iprobe.sh); `up` clones it and puts a duplicator in front; probes are switched
# on in the clone's redis (its pid as the host sees it: the clone has its own PID and mount
# namespaces), traffic goes through the front door, and the clone's dump shows the SETs it
# executed.  Production is never touched: its text bytes are the same before and after, and
# libiprobe is not mapped in it.
#
# `up --adapt` hands the clone's process to dup's adaptive sampling before any probe is on in
# it: once probes are enabled, the clone's process is stopped (SIGSTOP) under 20 MB of SETs,
# its buffer passes the 1% mark and dup lowers its probes' rate (read back from the clone's
# segment); resumed and drained, the rate comes back to every call, with no desync.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu, ptrace)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
PROD=pk-test-pc$$ IP=10.77.207.2
FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
trap '"$PK_BIN" down "$PROD" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD-dbg1" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD" >/dev/null 2>&1; pk_cleanup' EXIT

if ! bash "$PK_ROOT/scripts/redis-iprobe.sh" "$PK_BIN" >"$PK_TMP/build.out" 2>&1; then
	pk_fail redis-build "$(tail -n 3 "$PK_TMP/build.out" | tr '\n' ' ')"
	exit 1
fi
REDIS=${PK_REDIS_IPROBE_DIR:-$PK_ROOT/build/redis-iprobe}/redis-server.cold
pk_container_up "$PROD" "$IP" 6379 pk_redis_pong -- "$REDIS" --bind 0.0.0.0 --port 6379 --save '' \
	--appendonly no --protected-mode no || exit 1

# text_sha PID: a digest of the process's mapped executable text (the redis binary's).
text_sha() {
	python3 - "$1" "$REDIS" <<'EOF'
import hashlib, os, sys
pid, path = sys.argv[1], os.path.realpath(sys.argv[2])
h = hashlib.sha256()
with open(f"/proc/{pid}/maps") as f, open(f"/proc/{pid}/mem", "rb") as mem:
    for line in f:
        p = line.split()
        if len(p) >= 6 and "x" in p[1] and os.path.basename(p[5]) == os.path.basename(path):
            lo, hi = (int(x, 16) for x in p[0].split("-"))
            mem.seek(lo)
            h.update(mem.read(hi - lo))
print(h.hexdigest())
EOF
}
pid_of() { # NAME: the host pid of a container's process
	"$PK_BIN" container ls --json | python3 -c "import json,sys; print([c['pid'] for c in json.load(sys.stdin) if c['name'] == sys.argv[1]][0])" "$1"
}

PPID_=$(pid_of "$PROD")
before=$(text_sha "$PPID_")
pk_check up "$PK_BIN" up "$PROD" -p 6379 -l "$FRONT" --admin "127.0.0.1:$ADMIN" -b 64M \
	--adapt --adapt-high 1 --adapt-low 0.5 || exit 1
CPID=$(pid_of "$PROD-dbg1")
pk_check clone-own-pidns sh -c "grep -qE '^NSpid:[[:space:]]+$CPID[[:space:]]+[0-9]+$' /proc/$CPID/status"

pk_check enable sh -c "'$PK_BIN' probe enable --pid $CPID 'setCommand' 'setGenericCommand' 'processCommand' >'$PK_TMP/en.out' 2>&1 &&
	grep -q 'enabled 3 functions' '$PK_TMP/en.out'"
pk_check load pk_bench "$FRONT" -n 2000 -c 5 -t set
pk_check drained pk_wait_metric "$ADMIN" parikshan_debug_buffer_bytes 0 60
"$PK_BIN" probe dump --pid "$CPID" --format table -o "$PK_TMP/table.out" 2>"$PK_TMP/dump.err"
sets=$(awk '$1 == "setCommand" { print $2 }' "$PK_TMP/table.out")
if [ "${sets:-0}" -ge 2000 ]; then pk_ok clone-dump-shows-sets; else pk_fail clone-dump-shows-sets "setCommand calls '${sets:-}' (want >= 2000): $(cat "$PK_TMP/table.out")"; fi

# --- up --adapt ------------------------------------------------------------------------------
pk_check adapt-lazy grep -q "dup: adapt: process $CPID has no probes yet" "$PK_STATE/$PROD/dup.log"
kill -STOP "$CPID"
pk_check adapt-load pk_bench "$FRONT" -n 20000 -c 1 -d 1000 -t set
pk_check adapt-went-up pk_wait_metric_ge "$ADMIN" parikshan_debug_sample_log2 1 30
pk_check adapt-clone-rate sh -c "'$PK_BIN' probe sample --pid $CPID | grep -qE '^global 1/([2-9]|[0-9]{2,})$'"
kill -CONT "$CPID"
pk_check adapt-drained pk_wait_metric "$ADMIN" parikshan_debug_buffer_bytes 0 60
pk_check adapt-back pk_wait_metric "$ADMIN" parikshan_debug_sample_log2 0 30
pk_check adapt-clone-back sh -c "'$PK_BIN' probe sample --pid $CPID | grep -qx 'global 1/1'"
pk_expect_eq adapt-no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_check adapt-status sh -c "'$PK_BIN' status --admin 127.0.0.1:$ADMIN | grep -qE '^TARGET .* SAMPLE '"
pk_expect_error adapt-marks 2 "[-]-adapt-low 60% is not below --adapt-high 50%" "$PK_BIN" up "$PROD" -p 6379 --adapt --adapt-low 60
pk_expect_error adapt-alone 2 "go with --adapt" "$PK_BIN" up "$PROD" -p 6379 --adapt-high 20

pk_check disable "$PK_BIN" probe disable --pid "$CPID"

pk_expect_eq production-text-unchanged "$(text_sha "$PPID_")" "$before"
if grep -qE 'libiprobe|parikshan-iprobe' "/proc/$PPID_/maps"; then
	pk_fail production-has-no-libiprobe "$(grep -E 'libiprobe|parikshan-iprobe' "/proc/$PPID_/maps" | head -n 2)"
else
	pk_ok production-has-no-libiprobe
fi
pk_expect_eq production-serves "$(redis-cli -h "$IP" PING)" PONG
pk_check down "$PK_BIN" down "$PROD"
pk_no_debris down-no-debris "$PROD-dbg1"
