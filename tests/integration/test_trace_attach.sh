#!/usr/bin/env bash
# test_trace_attach.sh — `parikshan trace attach` on the real chain of test_trace_chain.sh
# (nginx master + 2 workers, HTTP and HTTPS -> tests/tools/pk-trace-backend.py -> redis-server)
# started WITHOUT the tracing library: every process gets it live (ptrace + dlopen; the library
# binds the GOT slots of the wrapped calls itself).
#
# Warm-up requests open the keep-alive connections between the tiers before the attach; a
# client keeps sending requests while the attach happens (every answer checked); then N
# requests with ids go through 4 concurrent keep-alive curl clients, half over HTTP and half
# over HTTPS.  `trace paths --format json` must give exactly N complete paths for those ids,
# each nginx -> python3 -> redis-server with the id at every hop, some over connections opened
# before the attach, HTTPS ones in plaintext (SSL_read/SSL_write hooked in nginx), both
# workers seen.  Attaching twice says "already attached" (exit 0); a bad pid, a non-number, a
# process of another user (not permitted), the host's pid namespace for --all-in, a
# static program are one clear error each; a program exec'd by an attached process is traced
# (LD_PRELOAD put back).
. "$(dirname "$0")/lib.sh"
. "$PK_ROOT/tests/tools/pk-trace-chain.sh"

N=${PK_TRACE_N:-100}
FPORT=$(pk_free_port) SPORT=$(pk_free_port) BPORT=$(pk_free_port) RPORT=$(pk_free_port)
SOCK=$PK_TMP/trace.sock DB=$PK_TMP/trace.sqlite
unset PARIKSHAN_TRACE_SOCK LD_PRELOAD

# --- the chain, untraced --------------------------------------------------------------------------
pk_bg redis redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
	--dir "$PK_TMP" --daemonize no
REDIS=$PK_LAST_PID
pk_wait_port "$RPORT" || { pk_fail setup "redis did not start: $(cat "$PK_TMP/redis.log")"; exit 1; }
trace_chain_keys "$RPORT" $(seq 1 "$N") $(printf 'a%d ' $(seq 1 40)) \
	w1 w2 w3 w4 w5 w6 w7 w8 ||
	{ pk_fail setup "redis keys"; exit 1; }
pk_bg backend python3 "$PK_ROOT/tests/tools/pk-trace-backend.py" "$BPORT" "$RPORT"
BACKEND=$PK_LAST_PID
pk_wait_port "$BPORT" || { pk_fail setup "backend did not start: $(cat "$PK_TMP/backend.log")"; exit 1; }
trace_chain_conf "$PK_TMP" "$FPORT" "$SPORT" "$BPORT" 2>"$PK_TMP/conf.err" ||
	{ pk_fail setup "chain config: $(cat "$PK_TMP/conf.err")"; exit 1; }
pk_bg front nginx -p "$PK_TMP" -c "$PK_TMP/front.conf"
FRONT=$PK_LAST_PID
pk_wait_port "$FPORT" && pk_wait_port "$SPORT" ||
	{ pk_fail setup "nginx did not start: $(cat "$PK_TMP/front.log" "$PK_TMP/front-error.log")"; exit 1; }
# workers: nginx's two worker processes
workers() { pgrep -P "$FRONT" -x nginx | sort -n | tr '\n' ' '; }
pk_wait_for "two nginx workers (have: $(workers))" 30 sh -c "[ \$(pgrep -P $FRONT -x nginx | wc -l) -eq 2 ]" || exit 1
WORKERS=$(workers)

get() { trace_chain_get "$@"; }
trace_chain_warm "$FPORT" "$BPORT" "$PK_TMP/warm"
pk_expect_eq warm-up "$(sort -u "$PK_TMP/warm.codes" | tr '\n' ' ')" "200 "
# the upstream connections nginx keeps open, made before the attach
cp "$PK_TMP/warm.ports" "$PK_TMP/early.ports"
pk_check early-connections test -s "$PK_TMP/early.ports"
pk_check untraced-before sh -c "! grep -l libparikshan_trace /proc/$FRONT/maps /proc/$REDIS/maps /proc/$BACKEND/maps $(for w in $WORKERS; do printf '/proc/%s/maps ' "$w"; done)"

# --- logd, the attach (a client keeps going meanwhile), the requests ---------------------------------
pk_trace_logd || exit 1

during=()
for i in $(seq 1 40); do during+=("http://127.0.0.1:$FPORT/r/a$i"); done
get "${during[@]}" >"$PK_TMP/during.codes" &
DURING=$!
pk_check attach "$PK_BIN" trace attach --logd "$SOCK" "$FRONT" $WORKERS "$BACKEND" "$REDIS"
wait "$DURING"
pk_expect_eq requests-during-attach "$(sort | uniq -c <"$PK_TMP/during.codes" | awk '{ print $1, $2 }')" "40 200"
for p in "$FRONT" $WORKERS "$BACKEND" "$REDIS"; do
	grep -q libparikshan_trace "/proc/$p/maps" || pk_fail "loaded-$p" "no libparikshan_trace in /proc/$p/maps"
done
pk_check attach-again sh -c "'$PK_BIN' trace attach --logd '$SOCK' $REDIS | grep -q 'already attached'"
pk_expect_error attach-bad-pid 1 "trace attach: 999999999: no such process" \
	"$PK_BIN" trace attach --logd "$SOCK" 999999999
pk_expect_error attach-not-a-pid 2 "trace attach" "$PK_BIN" trace attach --logd "$SOCK" abc
pk_expect_error attach-not-permitted 1 "trace attach: $REDIS: not permitted" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PK_BIN" trace attach "$REDIS"
pk_expect_error attach-all-in-host 2 "this host's pid namespace" "$PK_BIN" trace attach --all-in "$REDIS"
pk_bg static "$PK_TOOLS/static-hello" --wait
STATIC=$PK_LAST_PID
pk_wait_log "$PK_TMP/static.log" '^ready$' 30 &&
	pk_expect_error attach-static 1 "trace attach: $STATIC: statically linked" "$PK_BIN" trace attach "$STATIC"

# No settling: the backend's threads wait for the next request on their keep-alive connections
# in poll (pk-trace-backend.py), nginx's and redis's in epoll_wait, so every request sent from
# now on is read by hooked calls, over the connections opened before the attach too.
trace_chain_requests "$N" "$FPORT" "$SPORT" "$PK_TMP/codes"
pk_expect_eq requests "$(cat "$PK_TMP"/codes.* | sort | uniq -c | awk '{ print $1, $2 }')" "$N 200"

trace_chain_wait_paths "$DB" "$N"
# exec after the attach: the new image gets the library back through LD_PRELOAD (it was loaded
# by its path); the execer waits on a FIFO (its read is not one the library needs to see)
mkfifo "$PK_TMP/exec.go"
pk_bg execer python3 -c 'import os, sys
print("ready", flush=True)
open(sys.argv[1]).read()
os.execvp("curl", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\n", sys.argv[2]])' \
	"$PK_TMP/exec.go" "http://127.0.0.1:$FPORT/r/a40"
EXECER=$PK_LAST_PID
pk_wait_log "$PK_TMP/execer.log" '^ready$' 30 &&
	pk_check attach-execer "$PK_BIN" trace attach --logd "$SOCK" "$EXECER"
timeout 30 sh -c 'echo go >"$1"' sh "$PK_TMP/exec.go"
pk_wait_exit "$EXECER" 30
pk_expect_eq exec-request "$(tail -n 1 "$PK_TMP/execer.log")" 200
# exec_traced: the curl image said hello as an exec of the attached process, and recorded
exec_traced() {
	python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = list(c.execute("select p.flags, count(e.seq) from procs p join events e on e.proc = p.id where p.pid = ? and p.comm = ? group by p.id", (int(sys.argv[2]), "curl")))
sys.exit(0 if rows and rows[0][0] & 2 and rows[0][1] > 0 else 1)' "$DB" "$EXECER"
}
pk_wait_for "the exec'ed curl traced" 30 exec_traced && pk_ok exec-traced
pk_stop_clean logd "$LOGD"
pk_check paths-json "$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/paths.json"

python3 - "$PK_TMP/paths.json" "$N" "$PK_TMP/early.ports" "$SPORT" "$WORKERS" >"$PK_TMP/check.out" 2>&1 <<'EOF'
import json, re, sys
doc = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
early = set(open(sys.argv[3]).read().split())
sport = sys.argv[4]
want_workers = {int(w) for w in sys.argv[5].split()}
seen, via_early, tls, workers = set(), 0, 0, set()
for p in doc["paths"]:
    hops = p["hops"]
    m = re.match(r"GET /r/([as]?\d+) HTTP/1\.1", hops[0]["request"])
    if not m:
        # a request whose first hops went unseen (attach, settle): only ever a non-numeric id
        assert re.search(r"key:[asw]\d+\r\n", hops[0]["request"]), hops[0]["request"]
        continue
    rid = m.group(1)
    if not rid.isdigit():
        continue  # sent while the attach went on, or to settle: traced or not, by the moment
    assert p["complete"], p
    assert [h["comm"] for h in hops] == ["nginx", "python3", "redis-server"], [h["comm"] for h in hops]
    assert [h["parent"] for h in hops] == [-1, 0, 1], [h["parent"] for h in hops]
    assert ("GET /r/%s HTTP/1." % rid) in hops[1]["request"], (rid, hops[1]["request"])
    assert ("key:%s" % rid) in hops[2]["request"], (rid, hops[2]["request"])
    assert hops[0]["proto"] == "http" and hops[1]["proto"] == "http" and hops[2]["proto"] == "resp", hops
    assert rid not in seen, "id %s twice" % rid
    seen.add(rid)
    if hops[1]["peer"].rsplit(":", 1)[1] in early:
        via_early += 1
    if hops[0]["local"].endswith(":" + sport):
        tls += 1
    workers.add(hops[0]["pid"])
assert seen == {str(i) for i in range(1, n + 1)}, "ids missing: %s" % sorted({str(i) for i in range(1, n + 1)} - seen)[:10]
assert via_early > 0, "no path went over an upstream connection opened before the attach"
assert tls == n - n // 2, "%d paths over https, want %d" % (tls, n - n // 2)
assert workers == want_workers, "paths served by nginx pids %s, want %s" % (sorted(workers), sorted(want_workers))
print("ok: %d paths, %d over https, %d over connections opened before the attach, nginx pids %s" % (len(seen), tls, via_early, sorted(workers)))
EOF
trace_chain_verdict attach "$DB"
pk_check hello-attached python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = list(c.execute("select comm, flags from procs"))
# attached: every process but the image execed after the attach (preloaded: flag execed only)
assert rows and all(f & 4 if comm != "curl" else f == 2 for comm, f in rows), rows' "$DB"
# the backend's connections from nginx, open before the attach too, are known as its server side
# (the library asks the kernel whether their local port listens), whatever the port's range
pk_check server-side-known python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = list(c.execute("select e.flags from events e join procs p on e.proc = p.id where p.pid = ? and e.lport = ? and e.call in (3, 4)", (int(sys.argv[2]), int(sys.argv[3]))))
assert rows and all(f & 8 for (f,) in rows), rows[:5]' "$DB" "$BACKEND" "$BPORT"
# the chain still serves after everything
pk_expect_eq requests-after "$(get "http://127.0.0.1:$FPORT/r/1" "https://127.0.0.1:$SPORT/r/2" | tr '\n' ' ')" "200 200 "
