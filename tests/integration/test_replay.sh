#!/usr/bin/env bash
# parikshan replay: tcpdump records redis-benchmark's traffic to one redis; the capture is
# replayed (timed at a high --speed, and --fast) against fresh redis servers.  Each ends with the
# recorded server's dataset (DEBUG DIGEST), the reader's byte counts agree with tshark's, and the
# verdicts are what is true of the workload (see the two captures below).  Bad captures, a memory
# cap too small, an unreachable target and bad flags give one error line and the documented exit
# status.
. "$(dirname "$0")/lib.sh"

for tool in tcpdump redis-benchmark; do
	command -v "$tool" >/dev/null || { pk_skip setup "$tool not installed"; exit 0; }
done
N=20000
REC=$(pk_free_port)
# The recorded server also listens on a unix socket: the test's own questions (how many
# connections it has accepted) stay out of the capture.
pk_redis rec "$REC" --unixsocket "$PK_TMP/rec.sock" || { pk_fail setup "redis-server did not start"; exit 1; }
rec_conns() {
	redis-cli -s "$PK_TMP/rec.sock" INFO stats | tr -d '\r' | awk -F: '/^total_connections_received:/ {print $2}'
}

# capture NAME TESTS: records `redis-benchmark -t TESTS` against the recorded server into
# $PK_TMP/NAME.pcap.  tcpdump runs as root (-Z root: it writes into our private tmp dir),
# packet-buffered (-U), with a 32 MB kernel buffer so that nothing is dropped.  It gets SIGINT
# only once the file holds both FINs of every connection the benchmark made (the server's count):
# the kernel hands packets over in blocks, retired when full or after libpcap's 1 s timeout, and
# a block still open at SIGINT is lost (connections would end mid-request in the capture).
# --immediate-mode avoids that, but then drops packets here.
capture() {
	local name=$1 tests=$2 pid log c0 n
	log=$PK_TMP/tcpdump-$name.log
	timeout 180 tcpdump -i lo -Z root -U -B 32768 -w "$PK_TMP/$name.pcap" "tcp port $REC" \
		>"$log" 2>&1 &
	pid=$!
	PK_PIDS+=("$pid")
	pk_wait_log "$log" 'listening on' 30 || return 1
	c0=$(rec_conns)
	if ! pk_bench "$REC" -n "$N" -c 10 -r 1000 -t "$tests" >/dev/null 2>"$PK_TMP/bench-$name.err"; then
		pk_fail "$name-capture" "redis-benchmark failed: $(tail -n 3 "$PK_TMP/bench-$name.err")"
		return 1
	fi
	n=$(($(rec_conns) - c0 - 1)) # rec_conns's own connection is counted too
	pk_wait_for "both FINs of the $n connections in $name.pcap" 30 pcap_has_fins "$PK_TMP/$name.pcap" $((2 * n)) ||
		return 1
	kill -INT "$pid"
	wait "$pid" # tcpdump flushes the file and prints its counts on SIGINT
	if ! grep -q '^0 packets dropped by kernel' "$log"; then
		pk_fail "$name-capture" "tcpdump: $(tr '\n' ' ' <"$log")"
		return 1
	fi
	pk_ok "$name-capture"
}

# pcap_has_fins FILE N: true when the capture FILE (still being written) holds N packets with FIN.
pcap_has_fins() {
	local got
	got=$(tcpdump -nr "$1" 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null | wc -l)
	echo "$got FINs"
	[ "$got" -ge "$2" ]
}

# replay NAME ARGS...: runs `parikshan replay --json ARGS`; the JSON goes to $PK_TMP/NAME.json, the
# exit status to REPLAY_RC.  Fails on any stderr output (a sanitizer report, a warning).
replay() {
	local name=$1
	shift
	timeout 300 "$PK_BIN" replay --json "$@" >"$PK_TMP/$name.json" 2>"$PK_TMP/$name.err"
	REPLAY_RC=$?
	if [ -s "$PK_TMP/$name.err" ]; then
		pk_fail "$name-stderr" "$(head -c 1500 "$PK_TMP/$name.err")"
		return 1
	fi
}

# summary NAME KEY...: prints the named fields of the replay's JSON summary, space-separated.
summary() {
	local name=$1
	shift
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(d["summary"][k]) for k in sys.argv[2:]))' "$PK_TMP/$name.json" "$@"
}

# tshark_bytes FILE FILTER: the TCP payload bytes of the packets matching FILTER, by tshark: a
# second opinion on the reader's reassembly (loopback drops nothing, so no retransmissions).
tshark_bytes() {
	tshark -r "$1" -Y "$2 && tcp.len > 0" -T fields -e tcp.len 2>/dev/null |
		awk '{ s += $1 } END { print s + 0 }'
}

# cross_check NAME: the reader's client and server byte totals equal tshark's.
cross_check() {
	local name=$1 got want
	if ! command -v tshark >/dev/null; then
		pk_skip "$name-tshark" "tshark not installed"
		return 0
	fi
	got=$(summary "$name-timed" bytes_recorded bytes_expected)
	want="$(tshark_bytes "$PK_TMP/$name.pcap" "tcp.dstport == $REC") $(tshark_bytes "$PK_TMP/$name.pcap" "tcp.srcport == $REC")"
	pk_expect_eq "$name-bytes-equal-tshark" "$got" "$want"
}

# 1. A workload whose answers are deterministic per connection: SET always answers +OK and PING
# +PONG, whatever the other connections do.  Every connection must be "same" (exit 0), in both
# modes, and each target ends with the recorded dataset.
capture det set,ping || exit 1
WANT=$(pk_digest "$REC")
T1=$(pk_free_port) F1=$(pk_free_port)
pk_redis det-timed "$T1" && pk_redis det-fast "$F1" || { pk_fail setup "redis-server did not start"; exit 1; }
if replay det-timed "$PK_TMP/det.pcap" -x 127.0.0.1 -p "$T1" --speed 20; then
	pk_expect_eq det-timed-exit "$REPLAY_RC" 0
	conns=$(summary det-timed connections)
	pk_expect_eq det-timed-all-same "$(summary det-timed same different unknown)" "$conns 0 0"
	got=$(summary det-timed bytes_sent bytes_received)
	pk_expect_eq det-timed-bytes "$got" "$(summary det-timed bytes_recorded bytes_expected)"
	# 10 clients per test, 3 tests (PING_INLINE, PING_MBULK, SET), + the CONFIG GET connection
	[ "$conns" -ge 30 ] && pk_ok det-connections || pk_fail det-connections "only $conns"
	cross_check det
fi
pk_expect_eq det-timed-digest "$(pk_digest "$T1")" "$WANT"
if replay det-fast "$PK_TMP/det.pcap" -x 127.0.0.1 -p "$F1" --fast; then
	pk_expect_eq det-fast-exit "$REPLAY_RC" 0
	pk_expect_eq det-fast-all-same "$(summary det-fast same stalls)" "$(summary det-timed connections) 0"
fi
pk_expect_eq det-fast-digest "$(pk_digest "$F1")" "$WANT"

# The table (default output): one row per connection and the summary line; --server-port and a
# low --connections replay the same connections (SET and PING answers do not depend on state).
out=$(timeout 120 "$PK_BIN" replay "$PK_TMP/det.pcap" -x 127.0.0.1 -p "$F1" --fast --connections 3 --server-port "$REC" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && echo "$out" | head -n 1 | grep -q '^ID  *CLIENT  *SERVER  *SENT  *EXPECTED  *RECEIVED  *VERDICT' &&
	echo "$out" | tail -n 1 | grep -qE "^$conns connections: $conns same, 0 different, 0 unknown;" &&
	[ "$(echo "$out" | grep -c " 127.0.0.1:$REC .* same ")" -eq "$conns" ]; then
	pk_ok det-table
else
	pk_fail det-table "exit $rc: $(echo "$out" | tail -n 3)"
fi

# 2. The mixed workload (set, incr, lpush, sadd, hset with random keys).  Every command commutes
# (INCR adds, LPUSH pushes the same value, SADD/HSET set members), so the final dataset does not
# depend on how connections interleave, and every replay must end with the recorded digest.  The
# answers of INCR (the counter's value), LPUSH (the list's length), SADD and HSET (new or not) do
# depend on the interleaving of the 10 concurrent connections, which a replay cannot reproduce:
# those connections are legitimately "different" (exit 3 then); the SET connections and the
# CONFIG GET one stay "same", nothing is "unknown", and every client byte is sent.
capture mixed set,incr,lpush,sadd,hset || exit 1
WANT=$(pk_digest "$REC")
T2=$(pk_free_port) F2=$(pk_free_port)
pk_redis mixed-timed "$T2" && pk_redis mixed-fast "$F2" || { pk_fail setup "redis-server did not start"; exit 1; }
for mode in timed fast; do
	port=$T2 args=(--speed 50)
	[ "$mode" = fast ] && port=$F2 args=(--fast)
	replay "mixed-$mode" "$PK_TMP/mixed.pcap" -x 127.0.0.1 -p "$port" "${args[@]}" || continue
	read -r conns same diff unknown sent recorded < <(summary "mixed-$mode" connections same different unknown bytes_sent bytes_recorded)
	want_rc=0
	[ "$diff" -gt 0 ] && want_rc=3
	pk_expect_eq "mixed-$mode-exit" "$REPLAY_RC" "$want_rc"
	if [ "$unknown" -eq 0 ] && [ "$same" -ge 11 ] && [ "$sent" -eq "$recorded" ] &&
		[ "$((same + diff))" -eq "$conns" ]; then
		pk_ok "mixed-$mode-verdicts"
	else
		pk_fail "mixed-$mode-verdicts" "$conns connections: $same same, $diff different, $unknown unknown; sent $sent of $recorded"
	fi
	pk_expect_eq "mixed-$mode-digest" "$(pk_digest "$port")" "$WANT"
done
cross_check mixed

# 3. Bad input: one line on stderr, exit 1 (runtime) or 2 (usage), never a sanitizer report.
P=$PK_TMP/det.pcap
SEEDS=${PK_ROOT:-.}/tests/fuzz/corpus/pcap_read
FREE=$(pk_free_port)
X=("$PK_BIN" replay)
T=(-x 127.0.0.1 -p "$F1")
head -c 100000 "$P" >"$PK_TMP/cut.pcap"
cp "$P" "$PK_TMP/magic.pcap"
printf '\x00\x00\x00\x00' | dd of="$PK_TMP/magic.pcap" conv=notrunc status=none
cp "$P" "$PK_TMP/ihl.pcap"
# 24-byte file header, 16-byte record header, 14-byte Ethernet header: the first IP byte.
printf '\x41' | dd of="$PK_TMP/ihl.pcap" bs=1 seek=54 conv=notrunc status=none
pk_expect_error bad-cut 1 "replay: $PK_TMP/cut.pcap: after packet [0-9]+: truncated dump file" "${X[@]}" "$PK_TMP/cut.pcap" "${T[@]}"
pk_expect_error bad-magic 1 "replay: $PK_TMP/magic.pcap: unknown file format" "${X[@]}" "$PK_TMP/magic.pcap" "${T[@]}"
pk_expect_error bad-ip-header 1 "packet 1: bogus IPv4 header length 4" "${X[@]}" "$PK_TMP/ihl.pcap" "${T[@]}"
pk_expect_error not-tcp 1 "udp-only.pcap: no TCP connection to replay \(packets: 1, TCP: 0\)" "${X[@]}" "$SEEDS/udp-only.pcap" "${T[@]}"
pk_expect_error other-link-type 1 "link type IEEE802_11 \(105\) is not read" "${X[@]}" "$SEEDS/ieee802-11.pcap" "${T[@]}"
pk_expect_error no-such-file 1 "replay: /nonexistent/x.pcap: No such file or directory" "${X[@]}" /nonexistent/x.pcap "${T[@]}"
pk_expect_error memory-cap 1 "over the memory cap of 65536 bytes after packet [0-9]+ \(see --max-memory\)" "${X[@]}" "$P" "${T[@]}" --max-memory 64K
pk_expect_error other-server-port 1 "no TCP connection to server port 1 to replay" "${X[@]}" "$P" "${T[@]}" --server-port 1
pk_expect_error unreachable 1 "^parikshan: replay: connect 127.0.0.1:$FREE: Connection refused$" "${X[@]}" "$P" -x 127.0.0.1 -p "$FREE"
pk_expect_error unresolvable 1 "replay: resolve host 'no-such-host.invalid'" "${X[@]}" "$P" -x no-such-host.invalid -p 80
pk_expect_error usage-no-file 2 "replay: FILE: a capture file is required" "${X[@]}" "${T[@]}"
pk_expect_error usage-no-target 2 "replay: -x/-p: a target host and port are required" "${X[@]}" "$P" -x 127.0.0.1
pk_expect_error usage-speed-zero 2 "replay: --speed '0': out of range" "${X[@]}" "$P" "${T[@]}" --speed 0
pk_expect_error usage-speed-text 2 "replay: --speed 'fast': not a valid value" "${X[@]}" "$P" "${T[@]}" --speed fast
pk_expect_error usage-speed-and-fast 2 "replay: --speed/--fast: give one or the other" "${X[@]}" "$P" "${T[@]}" --speed 2 --fast
pk_expect_error usage-connections 2 "replay: --connections '0': out of range" "${X[@]}" "$P" "${T[@]}" --connections 0
pk_expect_error usage-unknown-flag 2 "replay: --bogus: unknown option" "${X[@]}" "$P" "${T[@]}" --bogus
pk_expect_error usage-two-files 2 "replay: extra: unexpected argument" "${X[@]}" "$P" extra "${T[@]}"
if "$PK_BIN" replay --help | grep -q '^usage: parikshan replay FILE -x HOST -p PORT'; then
	pk_ok help
else
	pk_fail help "no usage line"
fi
