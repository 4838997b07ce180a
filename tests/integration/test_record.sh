#!/usr/bin/env bash
# Issue 5, acceptance 3: `dup --record` writes a pcap that tshark opens with zero malformed
# packets, whose streams tshark follows back to the original bytes exactly, and whose replay
# against a fresh redis-server gives production's DEBUG DIGEST.  Also: rotation, a failing
# file (/dev/full) that must not disturb production, and `agg --record`.
. "$(dirname "$0")/lib.sh"

PROD=$(pk_free_port) FRESH=$(pk_free_port) DBG=$(pk_free_port)
pk_redis prod "$PROD" && pk_redis fresh "$FRESH" && pk_redis dbg "$DBG" ||
	{ pk_fail setup "redis-server did not start"; exit 1; }

# malformed FILE: prints the number of malformed packets tshark finds (and its errors) in the
# layers we write (link, IP, TCP).  Dissectors above TCP are off: tshark picks one by port, and
# a random test port or ephemeral client port that happens to be registered (SMB, DNS, ...)
# would have it parse RESP as that protocol and report "malformed" packets that are not.
malformed() {
	timeout 120 tshark -r "$1" --disable-protocol ALL --enable-protocol eth,ethertype,ip,ipv6,tcp,sll \
		-Y '_ws.malformed || _ws.expert.severity >= error' 2>&1 |
		grep -vc '^Running as user'
}

# follow_bytes FILE CLIENT_PORT DIR: the bytes tshark's "follow tcp raw" gives for the stream
# whose client port is CLIENT_PORT, one direction (c2s or s2c), as hex.
follow_bytes() {
	local stream
	stream=$(timeout 60 tshark -r "$1" -Y "tcp.srcport == $2 && tcp.flags.syn == 1" -T fields -e tcp.stream | head -n 1)
	[ -n "$stream" ] || return 1
	timeout 60 tshark -r "$1" -q -z "follow,tcp,raw,$stream" |
		awk -v d="$3" '/^=+$/ { n++; next } n == 1 && /^(Follow|Filter|Node)/ { next }
			n == 1 && d == "c2s" && /^[0-9a-f]+$/ { printf "%s", $0 }
			n == 1 && d == "s2c" && /^\t[0-9a-f]+$/ { sub(/^\t/, ""); printf "%s", $0 }'
}

# --- Record redis-benchmark through dup, plus one connection with known bytes ---------------
FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_dup rec -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" --admin "$ADMIN" \
	--record "$PK_TMP/cap.pcap"
DUP=$PK_LAST_PID
pk_check load pk_bench "$FRONT" -n 20000 -c 10 -r 1000 -t set,incr,lpush,sadd,hset
# A client with known bytes: a 300 KB SET (several packets) and its reply, on one connection.
python3 - "$FRONT" "$PK_TMP/known" <<'PY' || pk_fail known-client "client failed"
import hashlib, os, socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
val = os.urandom(300000)
req = b"*3\r\n$3\r\nSET\r\n$5\r\nknown\r\n$%d\r\n%s\r\n" % (len(val), val)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(req)
resp = b""
while not resp.endswith(b"\r\n"):
    resp += s.recv(100)
open(out + ".port", "w").write(str(s.getsockname()[1]))
open(out + ".c2s", "w").write(req.hex())
open(out + ".s2c", "w").write(resp.hex())
s.close()
PY
pk_stop_clean rec "$DUP" # the recorder writes out everything queued before it exits

[ -s "$PK_TMP/cap.pcap" ] && pk_ok pcap-written || pk_fail pcap-written "no file"
pk_expect_eq pcap-zero-malformed "$(malformed "$PK_TMP/cap.pcap")" 0
streams=$(timeout 60 tshark -r "$PK_TMP/cap.pcap" -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)
# redis-benchmark: one config connection + 10 per test (5 tests); then the known client
if [ "$streams" -ge 52 ]; then pk_ok pcap-all-connections; else pk_fail pcap-all-connections "$streams streams"; fi
kport=$(cat "$PK_TMP/known.port")
pk_expect_eq follow-client-bytes-exact "$(follow_bytes "$PK_TMP/cap.pcap" "$kport" c2s | sha256sum)" \
	"$(tr -d '\n' <"$PK_TMP/known.c2s" | sha256sum)"
pk_expect_eq follow-server-bytes-exact "$(follow_bytes "$PK_TMP/cap.pcap" "$kport" s2c)" \
	"$(cat "$PK_TMP/known.s2c")"

# --- Replay against a fresh server: same dataset ------------------------------------------
# The dataset is the same whatever the interleaving (the commands commute), but some replies
# are not: INCR's counter, LPUSH's length, SADD's and HSET's "added" count depend on which
# connection came first.  So replay reports those connections as different (exit 3), while the
# known client's connection must be the same, and every byte must have been sent.
timeout 120 "$PK_BIN" replay "$PK_TMP/cap.pcap" -x 127.0.0.1 -p "$FRESH" --fast \
	>"$PK_TMP/replay.out" 2>"$PK_TMP/replay.err"
rc=$?
sent=$(grep -oE 'sent [0-9]+ of [0-9]+ client bytes' "$PK_TMP/replay.out")
if { [ $rc -eq 0 ] || [ $rc -eq 3 ]; } && [ -n "$sent" ] &&
	[ "$(echo "$sent" | awk '{print $2}')" = "$(echo "$sent" | awk '{print $4}')" ]; then
	pk_ok replay-sent-everything
else
	pk_fail replay-sent-everything "exit $rc: $(tail -n 3 "$PK_TMP/replay.err") $(tail -n 2 "$PK_TMP/replay.out")"
fi
pk_expect_eq replay-same-digest "$(pk_digest "$FRESH")" "$(pk_digest "$PROD")"
if grep -qE "127\.0\.0\.1:$kport .* same " "$PK_TMP/replay.out"; then
	pk_ok replay-known-connection-same
else
	pk_fail replay-known-connection-same "$(grep ":$kport" "$PK_TMP/replay.out")"
fi

# --- Rotation: small files, at most 3 kept, each valid -------------------------------------
FRONT=$(pk_free_port)
pk_dup rot -l "$FRONT" -x 127.0.0.1 -p "$PROD" --record "$PK_TMP/rot.pcap" --record-max 64K --record-files 3
DUP=$PK_LAST_PID
pk_check rot-load pk_bench "$FRONT" -n 20000 -c 10 -t set
pk_stop_clean rot "$DUP"
n=$(ls "$PK_TMP"/rot*.pcap | wc -l)
if [ "$n" -eq 3 ]; then pk_ok rotation-keeps-3; else pk_fail rotation-keeps-3 "$n files: $(ls "$PK_TMP")"; fi
bad=0
for f in "$PK_TMP"/rot*.pcap; do
	[ "$(malformed "$f")" -eq 0 ] || bad=1
	sz=$(stat -c %s "$f")
	[ "$sz" -le $((64 * 1024 + 70000)) ] || bad=1 # a file ends at the first packet past 64K
done
if [ $bad = 0 ]; then pk_ok rotation-files-valid; else pk_fail rotation-files-valid "$(ls -l "$PK_TMP"/rot*)"; fi

# --- A file that cannot be written at all: a clear error at start -----------------------------
pk_expect_error unwritable-file-error 1 '^parikshan: dup: .*No space left' \
	"$PK_BIN" dup -h 127.0.0.1 -l "$(pk_free_port)" -x 127.0.0.1 -p "$PROD" --record /dev/full

# --- A disk that fills up while recording: recording stops, production does not notice ----
mkdir -p "$PK_TMP/small"
mount -t tmpfs -o size=256k pk-test-record "$PK_TMP/small" || { pk_fail tmpfs "mount failed"; exit 1; }
trap 'umount "$PK_TMP/small" 2>/dev/null; pk_cleanup' EXIT
FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
redis-cli -p "$PROD" FLUSHALL >/dev/null
redis-cli -p "$FRESH" FLUSHALL >/dev/null
pk_dup full -l "$FRONT" -x 127.0.0.1 -p "$PROD" --admin "$ADMIN" --record "$PK_TMP/small/full.pcap"
DUP=$PK_LAST_PID
pk_check full-disk-production-completes pk_bench "$FRONT" -n 20000 -c 10 -t set,incr
pk_bench "$FRESH" -n 20000 -c 10 -t set,incr >/dev/null 2>&1
pk_expect_eq full-disk-production-dataset "$(pk_digest "$PROD")" "$(pk_digest "$FRESH")"
pk_check full-disk-failed-metric pk_wait_metric "$ADMIN" parikshan_record_failed 1 10
pk_wait_log "$PK_TMP/full.log" 'record: .*full.pcap.*recording stopped' 20 && pk_ok full-disk-logged
pk_stop_clean full "$DUP"
umount "$PK_TMP/small"

# --- agg --record: the backend connections, followed exactly -------------------------------
AL=$(pk_free_port) AD=$(pk_free_port)
pk_agg agg -l "$AL" -x 127.0.0.1 -p "$PROD" -D "$AD" --record "$PK_TMP/agg.pcap"
AGG=$PK_LAST_PID
python3 - "$AL" "$PK_TMP/aggknown" <<'PY' || pk_fail agg-client "client failed"
import socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
req = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello agg!\n\r\n"
s.sendall(req)
resp = b""
while resp.count(b"\r\n") < 2:
    resp += s.recv(100)
open(out + ".port", "w").write(str(s.getsockname()[1]))
open(out + ".s2c", "w").write(resp.hex())
s.close()
PY
pk_stop_clean agg "$AGG"
pk_expect_eq agg-pcap-zero-malformed "$(malformed "$PK_TMP/agg.pcap")" 0
pk_expect_eq agg-follow-backend-bytes "$(follow_bytes "$PK_TMP/agg.pcap" "$(cat "$PK_TMP/aggknown.port")" s2c)" \
	"$(cat "$PK_TMP/aggknown.s2c")"
