#!/usr/bin/env bash
# `parikshan debug` (issue 13, attach): a redis container is cloned; inside the clone, with the
# host's tools: ss shows redis's socket, ps only the clone's processes (and debug's reaper), the prompt names the
# clone, tcpdump sees traffic sent to the clone's address, gdb --bt prints redis's backtraces
# and detaches (the clone keeps serving), strace attaches and goes away with its parent.
# Production is refused without --production; unknown names, dead pids, missing tools fail
# with one line; nothing stays attached.
. "$(dirname "$0")/lib.sh"

pk_clone_frame dbg
IP=10.77.237.2
pkd() { timeout 60 "$PK_BIN" debug "$@"; }

pk_redis_container "$PROD" "$IP" || exit 1
pk_clone_up "$PROD" "$DBG" || exit 1
pk_expect_eq clone-serves "$(redis-cli -h "$MGMT" PING)" PONG
tracer() { awk '/^TracerPid:/ {print $2}' "/proc/$CPID/status"; }

# Inside: the clone's sockets, its processes only, its name in the prompt, the exit status.
out=$(pkd "$DBG" -- ss -ltn 2>&1)
if grep -qE 'LISTEN .*:6379 ' <<<"$out"; then pk_ok ss-shows-redis-port; else pk_fail ss-shows-redis-port "$out"; fi
pk_expect_eq ps-shows-only-clone "$(pkd "$DBG" -- ps -e -o pid=,comm= 2>&1 | awk '{print $2 ($2 == "redis-server" ? $1 : "")}' | sort | tr '\n' ' ')" "pk-debug ps redis-server1 "
out=$(pkd "$DBG" -- sh -c 'echo "$PS1|$PK_DEBUG_TARGET"' 2>&1)
if [[ "$out" == *"[debug $DBG]"*"|$DBG" ]]; then pk_ok prompt-names-clone; else pk_fail prompt-names-clone "$out"; fi
pk_expect_eq uts-is-clones "$(pkd "$DBG" -- hostname 2>&1)" "$(nsenter -t "$CPID" -u hostname)"
pk_expect_eq target-root-reachable "$(pkd "$DBG" -- sh -c 'readlink /proc/1/exe; test -d "$PK_DEBUG_ROOT/proc" && echo root' 2>&1 | tr '\n' ' ')" "$(readlink "/proc/$CPID/exe") root "
# The default command: an interactive shell (here on a pipe) whose prompt names the clone.
echo 'hostname; exit 3' | timeout 60 "$PK_BIN" debug "$DBG" >"$PK_TMP/shell.out" 2>"$PK_TMP/shell.err"
rc=$?
if [ $rc -eq 3 ] && grep -qF "[debug $DBG]" "$PK_TMP/shell.err" && [ "$(cat "$PK_TMP/shell.out")" = "$(nsenter -t "$CPID" -u hostname)" ]; then
	pk_ok default-shell
else
	pk_fail default-shell "rc=$rc out=$(cat "$PK_TMP/shell.out") err=$(tr '\n' ' ' <"$PK_TMP/shell.err")"
fi
# CAP_SYS_PTRACE (19) and CAP_NET_RAW (13) kept.
capeff=$(pkd "$DBG" -- awk '/^CapEff/ {print $2}' /proc/self/status 2>&1)
if [[ "$capeff" =~ ^[0-9a-f]+$ ]] && (((0x$capeff >> 19) & 1)) && (((0x$capeff >> 13) & 1)); then pk_ok caps-kept; else pk_fail caps-kept "CapEff '$capeff'"; fi
# pid:PID of a process in the clone is the clone: allowed without --production.
pk_expect_eq pid-in-clone-allowed "$(pkd "pid:$CPID" -- ps -e -o comm= 2>&1 | grep -c redis-server)" 1
# A bpftrace one-liner in the clone sees its traffic: a uprobe on the clone's redis-server
# (through the target's root) fires for a command sent to the clone's address.
pk_bg bpf "$PK_BIN" debug "$DBG" -- bpftrace -e \
	'uprobe:/proc/1/root/usr/bin/redis-server:processCommand { printf("pk-bpf-cmd %d\n", pid); exit(); }'
BPF=$PK_LAST_PID
pk_wait_log "$PK_TMP/bpf.log" 'Attaching 1 probe' 60 || { cat "$PK_TMP/bpf.log"; exit 1; }
bpf_saw_command() { redis-cli -h "$MGMT" PING >/dev/null; grep -q pk-bpf-cmd "$PK_TMP/bpf.log"; }
pk_wait_for "bpftrace to see a command in the clone" 30 bpf_saw_command && pk_ok bpftrace-sees-traffic
pk_wait_exit "$BPF" 30
# the clone's redis-server it saw (its pid as the clone or as the host numbers it), no other
pk_check bpftrace-saw-the-clone grep -qE "^pk-bpf-cmd (1|$CPID)\$" "$PK_TMP/bpf.log"
pkd "$DBG" -- sh -c 'exit 7' >/dev/null 2>&1
pk_expect_eq exit-status-passed-on "$?" 7
mkdir -p "$PK_TMP/tools" && printf '#!/bin/sh\necho pk-tool\n' >"$PK_TMP/tools/pk-dbg-tool" && chmod +x "$PK_TMP/tools/pk-dbg-tool"
pk_expect_eq tools-dir-in-path "$(pkd "$DBG" --tools "$PK_TMP/tools" -- pk-dbg-tool 2>&1)" pk-tool

# tcpdump in the clone's network namespace sees PINGs sent to the clone's address (only there).
pk_bg tcpdump timeout 60 "$PK_BIN" debug "$DBG" --tcpdump -w "$PK_TMP/clone.pcap" -- -c 6 tcp port 6379
TD=$PK_LAST_PID
pk_wait_log "$PK_TMP/tcpdump.log" 'listening on' 30 || exit 1
ping_until_captured() { redis-cli -h "$MGMT" PING >/dev/null; pk_gone "$TD"; }
pk_wait_for "tcpdump to capture 6 packets" 30 ping_until_captured
wait "$TD"
pk_expect_eq tcpdump-exit "$?" 0
n=$(tcpdump -n -r "$PK_TMP/clone.pcap" 2>/dev/null | grep -c '\.6379')
if [ "$n" -ge 6 ]; then pk_ok tcpdump-sees-clone-traffic; else pk_fail tcpdump-sees-clone-traffic "$n packets: $(cat "$PK_TMP/tcpdump.log")"; fi

# gdb --bt: every thread with function names, then detached; the clone keeps serving.
for who in "" redis-server 1; do
	out=$(pkd "$DBG" --gdb $who --bt 2>&1)
	if grep -q 'aeMain' <<<"$out" && grep -qE '^Thread [0-9]+ ' <<<"$out" && grep -q 'detached' <<<"$out"; then
		pk_ok "gdb-bt${who:+-$who}"
	else
		pk_fail "gdb-bt${who:+-$who}" "$(tail -n 5 <<<"$out" | tr '\n' ' ')"
	fi
done
pk_expect_eq gdb-detached "$(tracer)" 0
pk_expect_eq clone-serves-after-gdb "$(redis-cli -h "$MGMT" PING)" PONG

# strace attaches and goes away with `parikshan debug` (TERM forwarded), leaving no tracer.
pk_bg strace "$PK_BIN" debug "$DBG" --strace redis-server -- -e trace=epoll_wait,read
ST=$PK_LAST_PID
strace_sees_ping() { redis-cli -h "$MGMT" PING >/dev/null; grep -q 'PING' "$PK_TMP/strace.log"; }
pk_wait_for "strace to show a PING read" 30 strace_sees_ping && pk_ok strace-attached
kill -TERM "$ST"
pk_wait_exit "$ST" 30
no_tracer() { [ "$(tracer)" = 0 ]; }
pk_wait_for "strace to detach" 30 no_tracer && pk_ok strace-detached
pk_expect_eq clone-serves-after-strace "$(redis-cli -h "$MGMT" PING)" PONG
# An orphan the command leaves in the clone is reaped by `debug`, not handed to the clone's init
# (which never reaps: a zombie there would stop CRIU from checkpointing the clone).
pk_check orphan-command "$PK_BIN" debug "$DBG" -- sh -c '(sleep 0.2 &); exit 0'
zombies() {
	cat /proc/"$CPID"/task/*/children 2>/dev/null | tr ' ' '\n' | while read -r c; do
		[ -n "$c" ] && pk_gone "$c" && echo "$c"
	done
}
pk_expect_eq no-zombie-in-clone "$(zombies)" ""

# Bad input: one line, non-zero exit, nothing attached.
pk_expect_error production-refused 1 "'$PROD' is production: debugging production directly defeats the purpose; use a clone \(parikshan clone $PROD $PROD-dbg\) or --production" \
	"$PK_BIN" debug "$PROD" -- true
pk_check production-allowed-with-flag "$PK_BIN" debug "$PROD" --production -- true
pk_expect_error unknown-container 1 "no container 'nosuch'" "$PK_BIN" debug nosuch -- true
true &
DEAD=$!
wait "$DEAD"
pk_expect_error dead-pid 1 "no process $DEAD" "$PK_BIN" debug "pid:$DEAD" -- true
pk_expect_error bad-pid 1 "not a valid pid:PID" "$PK_BIN" debug pid:x -- true
# A PATH with runc (container status) but without gdb.
mkdir -p "$PK_TMP/nogdb" && ln -s "$(command -v runc)" "$PK_TMP/nogdb/runc"
pk_expect_error missing-tool 1 "gdb is not installed \(apt-get install gdb" env PATH="$PK_TMP/nogdb" "$PK_BIN" debug "$DBG" --gdb --bt
pk_expect_error no-such-process 1 "no process named 'nosuch'" "$PK_BIN" debug "$DBG" --gdb nosuch --bt
pk_expect_error no-such-command 1 "pk-no-such-cmd: No such file" "$PK_BIN" debug "$DBG" -- pk-no-such-cmd
pk_expect_error usage-bt-without-gdb 2 "bt: goes with --gdb" "$PK_BIN" debug "$DBG" --bt
pk_expect_eq nothing-attached "$(tracer)" 0
pk_expect_eq clone-serves-at-end "$(redis-cli -h "$MGMT" PING) $(redis-cli -h "$IP" PING)" "PONG PONG"

pk_check rm-clone "$PK_BIN" container rm "$DBG"
pk_check rm-production "$PK_BIN" container rm "$PROD"
pk_no_debris rm-no-debris "$PROD" "$DBG"
