#!/usr/bin/env bash
# `parikshan use` and `parikshan fault` (issue 13, USE report and faults in the sandbox): a redis
# container and a live clone of it.  A CPU burner put into the clone's cgroup shows in the
# clone's column of `use` and not in production's; `fault --cpu` throttles it and `--clear`
# gives the quota back; `fault --delay 50` slows the clone's answers and not production's;
# `--kill redis-server` kills the clone's redis only; production and unknown names are refused.
. "$(dirname "$0")/lib.sh"

pk_clone_frame uf
IP=10.77.243.2 # no other test uses 10.77.243.0/24 (test_trace_clone has .231)
BURN=
stop_burner() { for b in $BURN; do kill "$b" 2>/dev/null; pk_poll 10 pk_gone "$b"; done; }
trap 'stop_burner; cleanup_containers; pk_cleanup' EXIT

pk_redis_container "$PROD" "$IP" || exit 1
pk_clone_up "$PROD" "$DBG" || exit 1
pk_wait_for "the clone answering at $MGMT" 30 pk_redis_pong "$MGMT" || exit 1

# cg_dir PID CTL: the cgroup v1 directory of process PID for controller CTL.
cg_dir() {
	local p
	p=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$1/cgroup")
	echo "/sys/fs/cgroup/$2$p"
}
# col FILE ROLE KEY: the value of KEY in the column ROLE of a `use --json` report.
col() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(next(c for c in d["columns"] if c["role"] == sys.argv[2])[sys.argv[3]])' "$@"
}
# ping_ms HOST: the fastest of 5 PINGs to HOST:6379 over one connection, in ms.
ping_ms() {
	timeout 30 python3 - "$1" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 6379), timeout=10)
best = None
for _ in range(5):
    t = time.monotonic()
    s.sendall(b"PING\r\n")
    assert s.recv(64).startswith(b"+PONG")
    ms = (time.monotonic() - t) * 1000
    best = ms if best is None else min(best, ms)
print("%.1f" % best)
PY
}
ge() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"; }

# --- use ---------------------------------------------------------------------------------
CPU_CG=$(cg_dir "$CPID" cpu) ACCT_CG=$(cg_dir "$CPID" cpuacct)
[ -d "$CPU_CG" ] && [ -d "$ACCT_CG" ] && [ "$CPU_CG" != /sys/fs/cgroup/cpu/ ] ||
	{ pk_fail cgroups "no cgroup of its own for the clone: '$CPU_CG' '$ACCT_CG'"; exit 1; }
# the burners: two busy loops moved into the clone's cpu and cpuacct cgroups, both on CPU 0 (so
# that each waits for the other: saturation, on one core only), bounded by timeout
for i in 1 2; do
	bash -c 'echo $$ >"$1/cgroup.procs" && echo $$ >"$2/cgroup.procs" &&
		exec taskset -c 0 timeout 90 sh -c "while :; do :; done"' _ "$CPU_CG" "$ACCT_CG" &
	BURN+=" $!"
	PK_PIDS+=("$!")
done
in_clone() { for b in $BURN; do grep -qx "$b" "$ACCT_CG/cgroup.procs" || return 1; done; }
pk_wait_for "the burners in the clone's cgroup" 10 in_clone || exit 1
if "$PK_BIN" use "$DBG" --json --interval 2s >"$PK_TMP/use.json" 2>"$PK_TMP/use.err"; then
	c=$(col "$PK_TMP/use.json" clone cpu_used) p=$(col "$PK_TMP/use.json" production cpu_used)
	cw=$(col "$PK_TMP/use.json" clone cpu_runq_wait) pw=$(col "$PK_TMP/use.json" production cpu_runq_wait)
	echo "# use: clone cpu_used $c% (of 2 CPUs: the burners share one), run-queue wait $cw threads;" \
		"production $p%, $pw threads"
	if ge "$c" 15 && ! ge "$p" 5; then pk_ok use-burner-in-clone-only; else
		pk_fail use-burner-in-clone-only "clone $c%, production $p%"; fi
	if ge "$cw" 0.5 && ! ge "$pw" 0.2; then pk_ok use-saturation-in-clone-only; else
		pk_fail use-saturation-in-clone-only "run-queue wait: clone $cw, production $pw"; fi
else
	pk_fail use-burner-in-clone-only "$(cat "$PK_TMP/use.err")"
fi
"$PK_BIN" use "$DBG" --interval 200ms >"$PK_TMP/use.txt" 2>&1
ok=1
for re in '^rates over 0\.2 s' 'RESOURCE +USE +METRIC' "clone $DBG" 'production' '^cpu +U +used' \
	'^memory +U +used' '^disk +U' '^network +U +rx\+tx' ' E +tcp retransmits'; do
	grep -qE -- "$re" "$PK_TMP/use.txt" || { ok=0; pk_fail use-table "no /$re/ in: $(head -c 600 "$PK_TMP/use.txt")"; }
done
[ $ok = 1 ] && pk_ok use-table
n=$("$PK_BIN" use "$DBG" --watch 0.3 --interval 100ms --count 2 | grep -c $'\033\[H')
pk_expect_eq use-watch-count "$n" 2
# --watch without --count runs until SIGINT, then exits 0
"$PK_BIN" use "$DBG" --watch 0.2 --interval 100ms >"$PK_TMP/watch.out" 2>&1 &
WATCH=$!
PK_PIDS+=("$WATCH")
two_frames() { [ "$(grep -c $'\033\[H' "$PK_TMP/watch.out")" -ge 2 ]; }
pk_wait_for "two frames of use --watch" 20 two_frames
kill -INT "$WATCH"
wait "$WATCH"
pk_expect_eq use-watch-stops-on-sigint "$?" 0
"$PK_BIN" use "$PROD" --json --interval 100ms >"$PK_TMP/prod.json"
pk_expect_eq use-production-alone "$(python3 -c 'import json,sys; print([c["role"] for c in json.load(open(sys.argv[1]))["columns"]])' "$PK_TMP/prod.json")" "['container']"
pk_expect_error use-unknown-name 1 'no container or clone named' "$PK_BIN" use nosuch
pk_expect_error use-bad-interval 2 'interval' "$PK_BIN" use "$DBG" --interval soon

# --- fault --cpu: the quota, and throttling as saturation -----------------------------------
orig_quota=$(cat "$CPU_CG/cpu.cfs_quota_us")
period=$(cat "$CPU_CG/cpu.cfs_period_us")
pk_check fault-cpu "$PK_BIN" fault "$DBG" --cpu 10
pk_expect_eq fault-cpu-quota "$(cat "$CPU_CG/cpu.cfs_quota_us")" "$((period / 10))"
pk_check fault-lists-cpu bash -c "'$PK_BIN' fault '$DBG' | grep -q '^cpu: quota $((period / 10))/$period us (10% of a CPU; was $orig_quota)'"
if "$PK_BIN" use "$DBG" --json --interval 1s >"$PK_TMP/use2.json" 2>"$PK_TMP/use.err"; then
	t=$(col "$PK_TMP/use2.json" clone cpu_throttled) u=$(col "$PK_TMP/use2.json" clone cpu_used)
	echo "# use under --cpu 10: clone throttled in $t% of periods, used $u% of its limit"
	if ge "$t" 50; then pk_ok use-saturation-throttled; else pk_fail use-saturation-throttled "throttled $t%"; fi
else
	pk_fail use-saturation-throttled "$(cat "$PK_TMP/use.err")"
fi
pk_check fault-cpu-clear "$PK_BIN" fault "$DBG" --clear
pk_expect_eq fault-cpu-restored "$(cat "$CPU_CG/cpu.cfs_quota_us")" "$orig_quota"
stop_burner
BURN=

# --- fault --delay: the clone's answers slow down, production's do not ----------------------
pk_route_ok "$IP" || { pk_fail route "$IP not routed into our veth"; exit 1; }
base=$(ping_ms "$MGMT") pbase=$(ping_ms "$IP")
echo "# PING before: clone ${base} ms, production ${pbase} ms"
# netem where the kernel has it, else the userspace delayer (NFQUEUE): the same behaviour
if "$PK_BIN" fault "$DBG" --delay 50 >"$PK_TMP/delay.out" 2>"$PK_TMP/delay.err"; then
	pk_ok fault-delay
else
	pk_fail fault-delay "$(cat "$PK_TMP/delay.err")"
fi
slow=$(ping_ms "$MGMT") pslow=$(ping_ms "$IP")
echo "# PING with --delay 50: clone ${slow} ms, production ${pslow} ms; $("$PK_BIN" fault "$DBG")"
if ge "$slow" 40; then pk_ok delay-slows-clone; else pk_fail delay-slows-clone "clone PING $slow ms"; fi
if ! ge "$pslow" 20; then pk_ok delay-spares-production; else pk_fail delay-spares-production "production PING $pslow ms"; fi
pk_check fault-lists-delay bash -c "'$PK_BIN' fault '$DBG' | grep -qE '^network: (netem .*)?delay 50ms'"
pk_check fault-net-combined bash -c "'$PK_BIN' fault '$DBG' --delay 5 --jitter 1 --loss 0.1 --bandwidth 100mbit &&
	'$PK_BIN' fault '$DBG' | tee /dev/stderr | grep -q 'loss 0.1%' && '$PK_BIN' fault '$DBG' | grep -q 'rate 100Mbit'"
# a delayer of ours, if this kernel needed one: its pid, gone after --clear with its rules
DELAYER=$(sed -n 's/^network: .*(userspace delayer, pid \([0-9]*\).*/\1/p' <("$PK_BIN" fault "$DBG"))
pk_check fault-clear "$PK_BIN" fault "$DBG" --clear
fast=$(ping_ms "$MGMT")
echo "# PING after --clear: clone ${fast} ms"
limit=$(python3 -c 'import sys; print(max(20, 5 * float(sys.argv[1])))' "$base")
if ! ge "$fast" "$limit"; then pk_ok clear-restores; else pk_fail clear-restores "clone PING $fast ms (limit $limit)"; fi
pk_expect_eq fault-none-after-clear "$("$PK_BIN" fault "$DBG")" none
if [ -n "$DELAYER" ]; then
	pk_check delayer-gone-after-clear pk_gone "$DELAYER"
	pk_check delayer-rules-gone bash -c "! nsenter -t '$CPID' -n iptables -w -t mangle -S | grep -q PK-FAULT"
fi

# --bandwidth 2mbit: a 400 kB value takes >= 1 s to come back from the clone (3.2 Mbit at 2);
# from production it does not.
# get_s HOST: seconds to GET the key big from HOST:6379 (the whole value read).
get_s() {
	timeout 60 python3 - "$1" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 6379), timeout=30)
t = time.monotonic()
s.sendall(b"GET big\r\n")
buf = b""
while not buf.endswith(b"\r\n") or len(buf) < 400000:
    chunk = s.recv(65536)
    assert chunk
    buf += chunk
print("%.3f" % (time.monotonic() - t))
PY
}
head -c 300000 /dev/urandom | base64 -w0 | head -c 400000 >"$PK_TMP/big"
for h in "$MGMT" "$IP"; do redis-cli -h "$h" -x SET big <"$PK_TMP/big" >/dev/null; done
pk_check fault-bandwidth "$PK_BIN" fault "$DBG" --bandwidth 2mbit
echo "# fault list: $("$PK_BIN" fault "$DBG" | tr "\n" ";")"
pk_check fault-lists-bandwidth bash -c "'$PK_BIN' fault '$DBG' | grep -qE '^network: (tbf|netem) .*rate 2Mbit.*[^ ]\$'"
cs=$(get_s "$MGMT") ps=$(get_s "$IP")
echo "# GET of 400 kB with --bandwidth 2mbit: clone ${cs} s, production ${ps} s"
if ge "$cs" 1; then pk_ok bandwidth-slows-clone; else pk_fail bandwidth-slows-clone "clone GET $cs s"; fi
if ! ge "$ps" 0.5; then pk_ok bandwidth-spares-production; else pk_fail bandwidth-spares-production "production GET $ps s"; fi
pk_check fault-clear-bandwidth "$PK_BIN" fault "$DBG" --clear
cs=$(get_s "$MGMT")
echo "# GET of 400 kB after --clear: clone ${cs} s"
if ! ge "$cs" 0.5; then pk_ok bandwidth-cleared; else pk_fail bandwidth-cleared "clone GET $cs s"; fi
pk_expect_error fault-reorder-needs-delay 2 'need --delay' "$PK_BIN" fault "$DBG" --reorder 5
pk_expect_error fault-bad-rate 2 'bandwidth' "$PK_BIN" fault "$DBG" --bandwidth fast
pk_expect_error fault-bad-limit 2 'limit' "$PK_BIN" fault "$DBG" --limit 0
pk_expect_error fault-limit-alone 2 'needs --delay' "$PK_BIN" fault "$DBG" --limit 100
pk_expect_error fault-one-kind 2 'one at a time' "$PK_BIN" fault "$DBG" --cpu 5 --delay 5

# --- refusals ------------------------------------------------------------------------------
pk_expect_error fault-refuses-production 1 'is production' "$PK_BIN" fault "$PROD" --delay 50
pk_expect_error fault-unknown-name 1 'no clone named' "$PK_BIN" fault nosuch --delay 50
pk_expect_error fault-kill-nothing 1 "no process named 'nosuch-proc'" "$PK_BIN" fault "$DBG" --kill nosuch-proc

# --- fault --kill: the clone's redis only --------------------------------------------------
pk_check fault-kill bash -c "'$PK_BIN' fault '$DBG' --kill redis-server | grep -q '^killed 1 process named redis-server'"
clone_dead() { ! pk_redis_pong "$MGMT"; }
pk_wait_for "the clone's redis to die" 20 clone_dead && pk_ok kill-stops-clone
pk_expect_eq kill-spares-production "$(timeout 5 redis-cli -h "$IP" PING)" PONG
clone_stopped() { [ "$(runc state "$DBG" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" != running ]; }
pk_wait_for "the clone to stop" 20 clone_stopped
pk_expect_error fault-not-running 1 'not running' "$PK_BIN" fault "$DBG" --delay 50
