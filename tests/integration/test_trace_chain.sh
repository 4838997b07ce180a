#!/usr/bin/env bash
# test_trace_chain.sh — request paths across a real three-tier chain (issue 12, acceptance 1-3):
# nginx (reverse proxy, master + 2 workers forked from it, keep-alive upstream connections) ->
# tests/tools/pk-trace-backend.py (a threaded HTTP/1.1 server, started through `sh -c exec` so
# that exec is followed) -> redis-server, every process under `parikshan trace run`.
#
# The chain starts with no logd: warm-up requests open the keep-alive connections between the
# tiers while nothing is recorded (the library drops and counts what it drains meanwhile).
# Then logd starts, every
# process says hello, and N requests with ids in their URLs go through 4 concurrent curl
# clients (keep-alive each), half over HTTP and half over HTTPS (nginx with a self-signed
# certificate).  `trace paths --format json` must give exactly N complete paths, one per id
# (beside them, parts of warm-up requests still in a ring when logd came, if any),
# each nginx -> backend -> redis with the id at every hop, some over the connections opened
# before tracing started, the backend's clock (skewed +200 ms) corrected by causality and its
# offset reported; the drops of the warm-up are reported; Chrome and OTLP outputs have their
# shapes; the HTML report renders in headless Chromium (screenshot in build/test-artifacts)
# with N requests; a static program exec'ed by a traced shell is reported untraceable, and
# `trace run` refuses one.  logd also keeps a raw log, which `trace load` puts into a throwaway
# PostgreSQL server: the paths read from there are the same as from SQLite (acceptance 4).
. "$(dirname "$0")/lib.sh"
. "$PK_ROOT/tests/tools/pk-trace-chain.sh"
. "$PK_ROOT/tests/tools/pk-pg.sh"

N=${PK_TRACE_N:-200}
FPORT=$(pk_free_port) SPORT=$(pk_free_port) BPORT=$(pk_free_port) RPORT=$(pk_free_port)
SOCK=$PK_TMP/trace.sock DB=$PK_TMP/trace.sqlite RAW=$PK_TMP/trace.raw
TRACE=("$PK_BIN" trace run --logd "$SOCK" --)
export PARIKSHAN_TRACE_SOCK=$SOCK

# (the backend runs with its clock 200 ms ahead: PARIKSHAN_TRACE_SKEW_MS, issue 12 acceptance 5)
# --- the chain, traced, without a logd ---------------------------------------------------------
pk_bg redis "${TRACE[@]}" redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
	--dir "$PK_TMP" --daemonize no
pk_wait_port "$RPORT" || { pk_fail setup "redis did not start: $(cat "$PK_TMP/redis.log")"; exit 1; }
trace_chain_keys "$RPORT" $(seq 1 "$N") w1 w2 w3 w4 w5 w6 w7 w8 || { pk_fail setup "redis keys"; exit 1; }
pk_bg backend env PARIKSHAN_TRACE_SKEW_MS=200 "${TRACE[@]}" sh -c "exec python3 '$PK_ROOT/tests/tools/pk-trace-backend.py' $BPORT $RPORT"
pk_wait_port "$BPORT" || { pk_fail setup "backend did not start: $(cat "$PK_TMP/backend.log")"; exit 1; }
trace_chain_conf "$PK_TMP" "$FPORT" "$SPORT" "$BPORT" 2>"$PK_TMP/conf.err" ||
	{ pk_fail setup "chain config: $(cat "$PK_TMP/conf.err")"; exit 1; }
pk_bg front "${TRACE[@]}" nginx -p "$PK_TMP" -c "$PK_TMP/front.conf"
pk_wait_port "$FPORT" && pk_wait_port "$SPORT" ||
	{ pk_fail setup "nginx did not start: $(cat "$PK_TMP/front.log" "$PK_TMP/front-error.log")"; exit 1; }

trace_chain_warm "$FPORT" "$BPORT" "$PK_TMP/warm"
pk_expect_eq warm-up "$(sort -u "$PK_TMP/warm.codes" | tr '\n' ' ')" "200 "
# the upstream connections nginx keeps open, made before any logd was there
cp "$PK_TMP/warm.ports" "$PK_TMP/early.ports"
pk_check early-connections test -s "$PK_TMP/early.ports"

# --- logd, then the requests ---------------------------------------------------------------------
pk_trace_logd --raw "$RAW" || exit 1
# procs: the comm of every process that said hello
procs() {
	python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(" ".join(sorted(r[0] for r in c.execute("select comm from procs"))))' "$DB" 2>/dev/null
}
# all_hello: nginx's master and 2 workers, the backend (after exec: python3) and redis
all_hello() {
	local p
	p=$(procs)
	[ "$(grep -o nginx <<<"$p" | wc -l)" -ge 3 ] && [[ $p == *python3* ]] && [[ $p == *redis-server* ]]
}
pk_wait_for "every traced process to say hello (have: $(procs))" 30 all_hello || exit 1

trace_chain_requests "$N" "$FPORT" "$SPORT" "$PK_TMP/codes"
pk_expect_eq requests "$(cat "$PK_TMP"/codes.* | sort | uniq -c | awk '{ print $1, $2 }')" "$N 200"

# a traced shell runs a statically linked program: the library cannot follow it, and says so
STATIC=$PK_TOOLS/static-hello
pk_check static-runs "${TRACE[@]}" sh -c "'$STATIC' >/dev/null"

# every numbered request's path complete (warm-up paths may come too: see below)
numbered_ready() {
	"$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/wait.json" 2>"$PK_TMP/wait.err" &&
		python3 -c 'import json, re, sys
d = json.load(open(sys.argv[1]))
sys.exit(sum(1 for p in d["paths"] if p["complete"] and re.match(r"GET /r/\d+ ", p["hops"][0]["request"])) < int(sys.argv[2]))' \
			"$PK_TMP/wait.json" "$N"
}
pk_wait_for "$N complete paths of the numbered requests" 60 numbered_ready ||
	echo "# at the deadline: $(cat "$PK_TMP/wait.err"; "$PK_BIN" trace analyze --db "$DB" 2>&1 | head -c 2000)"
pk_stop_clean logd "$LOGD"
pk_check paths-json "$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/paths.json"

# A warm-up request whose records were still in a process's ring when logd came (the flushers
# drain every 50 ms; without logd what they drain is counted as dropped) is delivered, in part
# or whole, not dropped: such paths (ids w1..w8) are allowed beside the N numbered ones.  The
# outputs below must hold what paths.json holds: PATHS paths of HOPS hops in all.
read -r PATHS HOPS < <(python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["paths"]
print(len(p), sum(len(x["hops"]) for x in p))' "$PK_TMP/paths.json" 2>/dev/null || echo "0 0")
echo "# $PATHS paths of $HOPS hops, $((PATHS - N)) of them from the warm-up"
python3 - "$PK_TMP/paths.json" "$N" "$PK_TMP/early.ports" "$FPORT" "$SPORT" >"$PK_TMP/check.out" 2>&1 <<'EOF'
import json, re, sys
doc = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
early = set(open(sys.argv[3]).read().split())
fport, sport = sys.argv[4], sys.argv[5]
warm = [p for p in doc["paths"] if any(re.search(r"/r/w\d|key:w\d", h["request"]) for h in p["hops"])]
assert len(warm) <= 24, "%d warm-up paths" % len(warm)
paths = [p for p in doc["paths"] if p not in warm]
assert len(paths) == n, "%d paths, want %d" % (len(paths), n)
seen, via_early, tls = set(), 0, 0
for p in paths:
    assert p["complete"], p
    hops = p["hops"]
    assert [h["comm"] for h in hops] == ["nginx", "python3", "redis-server"], [h["comm"] for h in hops]
    assert [h["parent"] for h in hops] == [-1, 0, 1], [h["parent"] for h in hops]
    m = re.match(r"GET /r/(\d+) HTTP/1\.1", hops[0]["request"])
    assert m, hops[0]["request"]
    rid = m.group(1)
    assert ("GET /r/%s HTTP/1." % rid) in hops[1]["request"], (rid, hops[1]["request"])
    assert ("key:%s" % rid) in hops[2]["request"], (rid, hops[2]["request"])
    assert hops[0]["proto"] == "http" and hops[1]["proto"] == "http" and hops[2]["proto"] == "resp", hops
    for a, b in zip(hops, hops[1:]):
        assert a["start_ns"] <= b["start_ns"] <= b["end_ns"] <= a["end_ns"], (a, b)
    assert rid not in seen, "id %s twice" % rid
    seen.add(rid)
    if hops[1]["peer"].rsplit(":", 1)[1] in early:
        via_early += 1
    if hops[0]["local"].endswith(":" + sport):
        tls += 1
assert seen == {str(i) for i in range(1, n + 1)}, "ids missing: %s" % sorted({str(i) for i in range(1, n + 1)} - seen)[:10]
assert via_early > 0, "no path went over an upstream connection opened before tracing"
assert tls == n - n // 2, "%d paths over https, want %d" % (tls, n - n // 2)
workers = {p["hops"][0]["pid"] for p in paths}
assert len(workers) == 2, "paths served by nginx pids %s, want both workers" % sorted(workers)
# the backend's clock runs 200 ms ahead (PARIKSHAN_TRACE_SKEW_MS): found by causality alone
off = {q["comm"]: q["clock_offset_ns"] for q in doc["processes"] if q["comm"] in ("nginx", "python3", "redis-server")}
assert abs(off["python3"] - 200e6) < 20e6, "backend offset %s, want ~200 ms" % off
assert abs(off["nginx"]) < 20e6 and abs(off["redis-server"]) < 20e6, off
print("ok: %d paths, %d over https, %d over connections opened before tracing, nginx pids %s" % (len(paths), tls, via_early, sorted(workers)))
EOF
trace_chain_verdict chain "$DB"

# --- the same paths from PostgreSQL ----------------------------------------------------------------
chmod 0711 "$PK_TMP"
if ! pg_start "$PK_TMP/pg"; then
	pk_fail pg-start "$PG_WHY"
else
	trap 'pg_down; pk_cleanup' EXIT
	pk_check pg-load "$PK_BIN" trace load "$RAW" --pg "$PGCONN"
	pk_check pg-paths "$PK_BIN" trace paths --pg "$PGCONN" --format json -o "$PK_TMP/paths.pg.json"
	pk_check pg-same-paths cmp "$PK_TMP/paths.json" "$PK_TMP/paths.pg.json"
	pg_down
fi

pk_check static-untraceable python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert any(u["path"].endswith("/static-hello") for u in d["untraceable"]), d["untraceable"]' "$PK_TMP/paths.json"
pk_check drops-reported python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["dropped"] > 0, d["dropped"]' "$PK_TMP/paths.json"
pk_check text-paths sh -c "'$PK_BIN' trace paths --db '$DB' --limit 30 | grep -qE '^path .* complete .*GET /r/[0-9]+ HTTP/1.1'"

# --- Chrome trace, OTLP, the HTML report in headless Chromium -------------------------------------
pk_check chrome-json "$PK_BIN" trace paths --db "$DB" --format chrome -o "$PK_TMP/paths.chrome.json"
pk_check chrome-shape python3 - "$PK_TMP/paths.chrome.json" "$HOPS" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"] if isinstance(d, dict) else d
x = [e for e in ev if e.get("ph") == "X"]
assert len(x) == int(sys.argv[2]), len(x)
assert all(isinstance(e["ts"], (int, float)) and e["dur"] >= 0 and "pid" in e and "tid" in e and e["name"] for e in x)
names = {e["pid"]: e["args"]["name"] for e in ev if e.get("ph") == "M" and e.get("name") == "process_name"}
assert {e["pid"] for e in x} <= set(names), "a track without a process name"
EOF
pk_check otlp-json "$PK_BIN" trace paths --db "$DB" --format otlp -o "$PK_TMP/paths.otlp.json"
pk_check otlp-shape python3 - "$PK_TMP/paths.otlp.json" "$PATHS" "$HOPS" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
n, hops = int(sys.argv[2]), int(sys.argv[3])
hexid = lambda s, k: isinstance(s, str) and re.fullmatch("[0-9a-f]{%d}" % k, s) and s != "0" * k
spans = []
for rs in d["resourceSpans"]:
    attrs = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
    assert "stringValue" in attrs["service.name"], attrs
    for ss in rs["scopeSpans"]:
        assert ss["scope"]["name"]
        for sp in ss["spans"]:
            assert hexid(sp["traceId"], 32) and hexid(sp["spanId"], 16), sp
            assert sp.get("parentSpanId", "") == "" or hexid(sp["parentSpanId"], 16), sp
            assert isinstance(sp["name"], str) and sp["kind"] in (1, 2, 3, 4, 5), sp
            s0, s1 = int(sp["startTimeUnixNano"]), int(sp["endTimeUnixNano"])
            assert isinstance(sp["startTimeUnixNano"], str) and 1.5e18 < s0 <= s1, sp
            for a in sp.get("attributes", []):
                assert isinstance(a["key"], str) and len(a["value"]) == 1, a
            spans.append(sp)
assert len(spans) == hops, len(spans)
ids = {(s["traceId"], s["spanId"]) for s in spans}
assert len(ids) == len(spans), "span ids repeat"
assert all(s.get("parentSpanId", "") == "" or (s["traceId"], s["parentSpanId"]) in ids for s in spans), "a parent outside its trace"
assert len({s["traceId"] for s in spans}) == n and sum(1 for s in spans if not s.get("parentSpanId")) == n
EOF
ART=${PK_ARTIFACTS:-$PK_ROOT/build/test-artifacts}
mkdir -p "$ART"
pk_check report "$PK_BIN" trace report --db "$DB" -o "$PK_TMP/report.html"
# chrome ARGS...: headless Chromium in a network namespace of its own (it reaches nothing)
chrome() {
	timeout 120 unshare -n chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --user-data-dir="$PK_TMP/chrome" "$@"
}
chrome --screenshot="$ART/trace-report.png" --window-size=1280,2400 "file://$PK_TMP/report.html" \
	>"$PK_TMP/chrome.log" 2>&1
pk_check report-screenshot test -s "$ART/trace-report.png"
chrome --dump-dom "file://$PK_TMP/report.html" >"$PK_TMP/dom.html" 2>>"$PK_TMP/chrome.log"
pk_expect_eq report-shows-requests "$(grep -o '<details class="req' "$PK_TMP/dom.html" | wc -l)" "$PATHS"
pk_check report-count grep -q "<b id=\"requests\">$PATHS</b>" "$PK_TMP/dom.html"

# --- trace run and a static program ------------------------------------------------------------
pk_expect_error run-static 2 "statically linked" "$PK_BIN" trace run --logd "$SOCK" -- "$STATIC"
