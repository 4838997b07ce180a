#!/usr/bin/env bash
# test_trace_memcached.sh — request paths of a real memcached (4 worker threads: connections
# accepted on one thread and served on others) and a real client, memcslap (4 threads, text
# protocol), both under `parikshan trace run`.  Every command memcslap reports is one complete
# path of memcached, shown readably ("set KEY ...", "get KEY"); every key read was one written;
# the commands that expect no answer (quit) do not make a path incomplete.
. "$(dirname "$0")/lib.sh"

PORT=$(pk_free_port)
pk_trace_logd || exit 1
pk_bg memcached "${TRACE[@]}" memcached -p "$PORT" -U 0 -l 127.0.0.1 -t 4 -u root
MC=$PK_LAST_PID
pk_wait_port "$PORT" || { pk_fail setup "memcached did not start: $(tail -n 3 "$PK_TMP/memcached.log")"; exit 1; }
if timeout 120 "${TRACE[@]}" memcslap --servers="127.0.0.1:$PORT" --concurrency=4 --execute-number=100 \
	--test=get >"$PK_TMP/slap.log" 2>&1; then
	pk_ok memcslap
else
	pk_fail memcslap "$(tail -n 5 "$PK_TMP/slap.log")"
	exit 1
fi
SETS=$(sed -nE 's/^Time to set +([0-9]+) keys.*/\1/p' "$PK_TMP/slap.log")
GETS=$(sed -nE 's/^Time to get +([0-9]+) keys.*/\1/p' "$PK_TMP/slap.log")
pk_check memcslap-counts test "${SETS:-0}" -gt 0 -a "${GETS:-0}" -gt 0
pk_stop_clean memcached "$MC"
pk_stop_clean logd "$LOGD"

pk_check paths "$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/paths.json"
python3 - "$PK_TMP/paths.json" "$SETS" "$GETS" >"$PK_TMP/check.out" 2>&1 <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
sets, gets = int(sys.argv[2]), int(sys.argv[3])
kinds, written, read = collections.Counter(), set(), set()
for p in d["paths"]:
    h = p["hops"][0]
    assert len(p["hops"]) == 1 and h["comm"] == "memcached" and h["proto"] == "memcached", h
    assert p["complete"], ("incomplete", h["title"])
    words = h["title"].split()
    kinds[words[0]] += 1
    (written if words[0] == "set" else read).add(words[1] if len(words) > 1 else "")
print("paths", len(d["paths"]), dict(kinds))
assert kinds["set"] == sets and kinds["get"] == gets, (kinds, sets, gets)
assert set(kinds) <= {"set", "get", "quit"}, kinds
assert read - {""} <= written, "a key read that was never written"
PY
if [ $? -eq 0 ]; then pk_ok paths-exact; else pk_fail paths-exact "$(tail -n 5 "$PK_TMP/check.out")"; fi
cat "$PK_TMP/check.out"
