#!/usr/bin/env bash
# `parikshan sim` end to end (issue 10): bad input gets one "parikshan: sim: ..." line and exit 2
# (usage) or 1 (the trace or the plot file); --json prints exactly one JSON object (window_s,
# null for no overflow) or, for a grid, an array; the table; --svg writes well-formed XML with
# a line per buffer; --trace reads a capture written here; the same seed gives the same output.
# Runs only the binary: no root, no network, no server.
. "$(dirname "$0")/lib.sh"

S=("$PK_BIN" sim)
RUN=(--arrival const --rate 27 --request-size 20 --service-rate 49 --service const)

# A capture (pcap, raw IPv4) of one connection to port 3306: the server's greeting, then 40
# requests of 24 bytes every 50 ms, each answered 8 ms later; $2 requests when given.
write_pcap() {
	python3 - "$1" "${2:-40}" <<'EOF'
import socket, struct, sys
path, nreq = sys.argv[1], int(sys.argv[2])
out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101)]
seq = {"c": 1000, "s": 5000}
def seg(src, t, flags, n):
    cl, sv = ("10.0.0.1", 40000), ("10.0.0.2", 3306)
    a, b = (cl, sv) if src == "c" else (sv, cl)
    tcp = struct.pack("!HHIIBBHHH", a[1], b[1], seq[src], 0, 5 << 4, flags, 65535, 0, 0) + b"x" * n
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0,
                     socket.inet_aton(a[0]), socket.inet_aton(b[0])) + tcp
    seq[src] += n + (1 if flags & 0x03 else 0)
    sec, usec = divmod(int(round(t * 1e6)), 1000000)
    out.append(struct.pack("<IIII", 1700000000 + sec, usec, len(ip), len(ip)) + ip)
seg("c", 0.0, 0x02, 0); seg("s", 0.0, 0x12, 0); seg("c", 0.0, 0x10, 0)
seg("s", 0.001, 0x18, 78)
for i in range(nreq):
    seg("c", 0.1 + 0.05 * i, 0x18, 24)
    seg("s", 0.108 + 0.05 * i, 0x18, 300)
open(path, "wb").write(b"".join(out))
EOF
}

# json_get FILE EXPR: evaluates EXPR on the JSON document in FILE (as j); prints the result.
json_get() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# usage errors: exit 2
pk_expect_error unknown-arrival 2 "sim: --arrival 'bursty': not a kind" "${S[@]}" --arrival bursty --rate 1 --request-size 1 --service-rate 1 --slowdown 1 --buffer 1K
pk_expect_error negative-rate 2 "sim: --rate '-3': not a valid value" "${S[@]}" --arrival const --rate -3 --request-size 20 --service-rate 49 --slowdown 2 --buffer 4K
pk_expect_error zero-rate 2 "sim: --rate '0': out of range" "${S[@]}" --arrival const --rate 0 --request-size 20 --service-rate 49 --slowdown 2 --buffer 4K
pk_expect_error zero-service-rate 2 "sim: --service-rate '0'" "${S[@]}" --arrival const --rate 5 --request-size 20 --service-rate 0 --slowdown 2 --buffer 4K
pk_expect_error zero-buffer 2 "sim: --buffer '4K,0'" "${S[@]}" "${RUN[@]}" --slowdown 2 --buffer 4K,0
pk_expect_error zero-slowdown 2 "sim: --slowdown '0'" "${S[@]}" "${RUN[@]}" --slowdown 0 --buffer 4K
pk_expect_error negative-slowdown 2 "sim: --slowdown '-1'" "${S[@]}" "${RUN[@]}" --slowdown -1 --buffer 4K
pk_expect_error empty-list-element 2 "sim: --slowdown '2,,3'" "${S[@]}" "${RUN[@]}" --slowdown 2,,3 --buffer 4K
pk_expect_error repeated-slowdown 2 "sim: --slowdown: a value is given twice" "${S[@]}" "${RUN[@]}" --slowdown 2,3,2 --buffer 4K
pk_expect_error zero-request-size 2 "sim: --request-size '0'" "${S[@]}" --arrival const --rate 5 --request-size 0 --service-rate 9 --slowdown 2 --buffer 4K
pk_expect_error missing-service-rate 2 "sim: --service-rate: required" "${S[@]}" --arrival poisson --rate 5 --request-size 20 --slowdown 2 --buffer 4K
pk_expect_error missing-arrival 2 "sim: --arrival/--rate/--request-size: required" "${S[@]}" --rate 5 --request-size 20 --service-rate 9 --slowdown 2 --buffer 4K
pk_expect_error missing-buffer 2 "sim: --slowdown/--buffer: required" "${S[@]}" "${RUN[@]}" --slowdown 2
pk_expect_error unknown-service 2 "sim: --service 'gamma'" "${S[@]}" "${RUN[@]}" --service gamma --slowdown 2 --buffer 4K
pk_expect_error service-trace-without-trace 2 "sim: --service trace: needs --trace" "${S[@]}" "${RUN[@]}" --service trace --slowdown 2 --buffer 4K
pk_expect_error zero-duration 2 "sim: --duration '0'" "${S[@]}" "${RUN[@]}" --slowdown 2 --buffer 4K --duration 0
pk_expect_error endless 2 "sim: --duration 3600 s: more than 100000000 arrivals" "${S[@]}" --arrival poisson --rate 1000000 --request-size 20 --service-rate 9 --slowdown 2 --buffer 4K
pk_expect_error unknown-option 2 "sim: --bogus: unknown option" "${S[@]}" "${RUN[@]}" --slowdown 2 --buffer 4K --bogus
pk_expect_error stray-argument 2 "sim: extra: unexpected argument" "${S[@]}" "${RUN[@]}" --slowdown 2 --buffer 4K extra
pk_expect_error trace-and-rate 2 "sim: --trace: replaces --arrival" "${S[@]}" --trace "$PK_TMP/x.pcap" --rate 5 --slowdown 2 --buffer 4K

# runtime errors: exit 1
: >"$PK_TMP/empty.pcap"
head -c 300 /dev/urandom >"$PK_TMP/junk.pcap"
write_pcap "$PK_TMP/one.pcap" 1
pk_expect_error missing-trace 1 "sim: $PK_TMP/none.pcap: No such file" "${S[@]}" --trace "$PK_TMP/none.pcap" --slowdown 2 --buffer 4K
pk_expect_error empty-trace 1 "sim: $PK_TMP/empty.pcap: " "${S[@]}" --trace "$PK_TMP/empty.pcap" --slowdown 2 --buffer 4K
pk_expect_error corrupt-trace 1 "sim: $PK_TMP/junk.pcap: " "${S[@]}" --trace "$PK_TMP/junk.pcap" --slowdown 2 --buffer 4K
pk_expect_error one-request-trace 1 "sim: $PK_TMP/one.pcap: 1 client request in 1 TCP connection" "${S[@]}" --trace "$PK_TMP/one.pcap" --slowdown 2 --buffer 4K
pk_expect_error unwritable-svg 1 "sim: --svg /nonexistent/w.svg: No such file" "${S[@]}" "${RUN[@]}" --slowdown 2 --buffer 4K --svg /nonexistent/w.svg

# --help
if "${S[@]}" --help >"$PK_TMP/help" 2>&1 && grep -q -- '--slowdown X' "$PK_TMP/help" && grep -q 'default 3600' "$PK_TMP/help"; then
	pk_ok help
else
	pk_fail help "$(head -c 300 "$PK_TMP/help")"
fi

# one run, --json: one object; the study's 27 req/s at 3x into 16 KiB overflows, at 1.8x not
if "${S[@]}" "${RUN[@]}" --slowdown 3 --buffer 16K --json >"$PK_TMP/one.json" 2>"$PK_TMP/err" &&
	[ "$(json_get "$PK_TMP/one.json" 'type(j).__name__')" = dict ] &&
	[ "$(json_get "$PK_TMP/one.json" 'j["window_s"] is not None and 60 < j["window_s"] < 90')" = True ] &&
	[ "$(json_get "$PK_TMP/one.json" 'abs(j["window_s"] - j["fluid_s"]) < 1')" = True ] &&
	[ "$(json_get "$PK_TMP/one.json" '(j["arrival"], j["rate"], j["request_size"], j["service"], j["service_rate"], j["slowdown"], j["buffer"], j["duration_s"], j["seed"])')" = "('const', 27, 20, 'const', 49, 3, 16384, 3600, 1)" ] &&
	[ "$(json_get "$PK_TMP/one.json" 'j["arrivals"] > j["served"] > 0 and j["max_occupancy"] <= 16384 and "mm1k_s" in j')" = True ] &&
	[ ! -s "$PK_TMP/err" ]; then
	pk_ok json-one-run
else
	pk_fail json-one-run "$(head -c 600 "$PK_TMP/one.json") $(head -c 300 "$PK_TMP/err")"
fi
if "${S[@]}" "${RUN[@]}" --slowdown 1.8 --buffer 4K --json >"$PK_TMP/none.json" &&
	[ "$(json_get "$PK_TMP/none.json" '(j["window_s"], j["fluid_s"])')" = "(None, None)" ]; then
	pk_ok json-no-overflow
else
	pk_fail json-no-overflow "$(head -c 600 "$PK_TMP/none.json")"
fi

# the grid: a table, a JSON array, and the SVG
G=(--arrival poisson --rate 17 --request-size 20 --service-rate 49 --slowdown 8,1.5,3.2,5 --buffer 64K,4K,16K)
if "${S[@]}" "${G[@]}" >"$PK_TMP/table" && grep -qE '^slowdown +4K +16K +64K$' "$PK_TMP/table" &&
	grep -qE '^1\.5 +none +none +none$' "$PK_TMP/table" && [ "$(grep -cE '^[0-9.]+ ' "$PK_TMP/table")" -eq 4 ]; then
	pk_ok table
else
	pk_fail table "$(cat "$PK_TMP/table")"
fi
if "${S[@]}" "${G[@]}" --json --svg "$PK_TMP/w.svg" >"$PK_TMP/grid.json" &&
	[ "$(json_get "$PK_TMP/grid.json" 'len(j)')" = 12 ] &&
	[ "$(json_get "$PK_TMP/grid.json" '[(c["slowdown"], c["buffer"]) for c in j][:4]')" = "[(1.5, 4096), (1.5, 16384), (1.5, 65536), (3.2, 4096)]" ] &&
	[ "$(json_get "$PK_TMP/grid.json" 'all(("window_s" in c) for c in j)')" = True ]; then
	pk_ok json-grid
else
	pk_fail json-grid "$(head -c 600 "$PK_TMP/grid.json")"
fi
if out=$(python3 - "$PK_TMP/w.svg" 2>&1 <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
texts = [t.text or "" for t in root.iter(ns + "text")]
lines = list(root.iter(ns + "polyline"))
assert len(lines) == 3, len(lines)
for l in lines:
    assert len(l.get("points").split()) == 4, l.get("points")
for want in ("4K buffer", "16K buffer", "64K buffer", "no overflow", "slowdown of the clone (x)",
             "debug window (s, log scale)"):
    assert want in texts, (want, texts)
EOF
); then
	pk_ok svg-well-formed
else
	pk_fail svg-well-formed "$out"
fi

# a trace: measured arrivals (20 req/s, 24 B) and service (8 ms); slowed 10x the clone takes
# 80 ms a request and 1K (42 requests) fills at 7.5 requests/s
write_pcap "$PK_TMP/t.pcap"
if "${S[@]}" --trace "$PK_TMP/t.pcap" --server-port 3306 --slowdown 10 --buffer 1K --json >"$PK_TMP/t.json" &&
	[ "$(json_get "$PK_TMP/t.json" '(j["arrival"], j["service"], j["trace_requests"], j["trace_measured"], j["request_size"])')" = "('trace', 'trace', 40, 40, 24)" ] &&
	[ "$(json_get "$PK_TMP/t.json" 'abs(j["rate"] - 20) < 1e-6 and abs(j["service_rate"] - 125) < 1e-3')" = True ] &&
	[ "$(json_get "$PK_TMP/t.json" 'j["window_s"] is not None and abs(j["window_s"] - j["fluid_s"]) < 0.3')" = True ]; then
	pk_ok trace
else
	pk_fail trace "$(head -c 800 "$PK_TMP/t.json")"
fi
pk_expect_error trace-other-port 1 "sim: $PK_TMP/t.pcap: 0 client requests" "${S[@]}" --trace "$PK_TMP/t.pcap" --server-port 80 --slowdown 2 --buffer 4K

# the same seed, the same output; another seed, another window
"${S[@]}" "${G[@]}" --seed 9 >"$PK_TMP/a" && "${S[@]}" "${G[@]}" --seed 9 >"$PK_TMP/b" &&
	"${S[@]}" "${G[@]}" --seed 10 >"$PK_TMP/c"
if cmp -s "$PK_TMP/a" "$PK_TMP/b" && ! cmp -s "$PK_TMP/a" "$PK_TMP/c"; then
	pk_ok deterministic
else
	pk_fail deterministic "$(diff "$PK_TMP/a" "$PK_TMP/c" | head -5)"
fi
