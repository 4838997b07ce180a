# bench/common.sh — what the bench scripts share, sourced by them: the parikshan binary and
# the tools a script needs checked, a scratch directory, and the cleanup of the processes it
# started (their pids in PIDS) when it exits, however it exits.
#   bench_init NAME TOOL...  checks PK_BIN and the tools (exit 1 with one line when missing),
#                            makes TMP (/tmp/pk-bench-NAME.XXXXXX), sets PIDS=() and the traps
#   bench_wrk_parse OUT      the "RPS P50_MS P99_MS REQUESTS" of a `wrk --latency` output;
#                            fails on non-2xx answers, connect errors or an unparsable run
#   bench_pinger IP KIND STOP  pings a redis, nginx or mariadb every ~1 ms until STOP exists;
#                            prints the largest gap between two answers (ms)
#   bench_switches PKBIN TARGET OUT
#                            TARGET (an iprobe-spin build) looping on 64 threads at nice 19;
#                            SWITCHES enables of every probe by PKBIN, each followed by a
#                            disable; the enables' output lines in OUT
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/wait.sh" # pk_poll: waits with a deadline

bench_cleanup() {
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}

bench_init() {
	local name=$1 t
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$name.sh: missing $t (run scripts/deps.sh)" >&2; exit 1; }
	done
	[ -x "$PK_BIN" ] || { echo "$name.sh: $PK_BIN not built (make)" >&2; exit 1; }
	TMP=$(mktemp -d "/tmp/pk-bench-$name.XXXXXX")
	PIDS=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_switches() {
	local bin=$1 target=$2 out=$3 pid i
	nice -n 19 "$target" loop 64 >"$TMP/switch-spin.out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	pk_poll 30 grep -q '^ready' "$TMP/switch-spin.out" || { echo "bench: $target did not start" >&2; exit 1; }
	for ((i = 0; i < SWITCHES; i++)); do
		"$bin" probe enable --pid "$pid" '*' || exit 1
		"$bin" probe disable --pid "$pid" >/dev/null || exit 1
	done >"$out"
	kill -TERM "$pid"
	wait "$pid"
	grep -q 'errors 0' "$TMP/switch-spin.out" || { echo "bench: $target reported errors" >&2; exit 1; }
}

bench_wrk_parse() {
	python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[m.group(2)]
try:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    reqs = int(re.search(r"(\d+) requests in", t).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
except Exception:
    sys.exit(1)
if reqs <= 0:
    sys.exit(1)
m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
if m and int(m.group(1)) > 0:
    sys.exit(2)
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
if m and int(m.group(1)) > 0:
    sys.exit(3)
if m and sum(map(int, m.groups())) > 0:
    print("warn: " + m.group(0), file=sys.stderr)
print(f"{rps:.1f} {p50:.4f} {p99:.4f} {reqs}")
PY
}

# bench_pinger IP KIND STOPFILE: pings production at IP (KIND: redis, nginx, mariadb) every
# ~1 ms over one connection until STOPFILE exists (at most 120 s); creates STOPFILE.ready after
# its first answer; prints the largest gap between two answers, in ms.  A ping in flight across the freeze is answered, and counted, before the
# pinger looks at STOPFILE again.
bench_pinger() {
	python3 - "$1" "$2" "$3" <<'PY'
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
ping(); open(stop + ".ready", "w").close()
end = time.monotonic() + 120; last = time.monotonic(); worst = 0.0
while time.monotonic() < end and not os.path.exists(stop):
    ping()
    now = time.monotonic(); worst = max(worst, now - last); last = now
    time.sleep(0.001)  # the client's pace (~1 ms between pings), not synchronisation
print(f"{worst * 1000:.1f}")
PY
}
