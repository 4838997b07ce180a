#!/usr/bin/env bash
# `parikshan diverge FILE` end to end: a compare log written here by hand (three connections on
# two targets, lines out of time and request order) shown as the table of first divergences per
# connection in time order, the later ones counted or (--all) listed; --json parsed with python;
# --verdict/--target filters; --wide; stdin; the bound (--max-rows); bad input: a missing file,
# an empty one ("no divergences", exit 0), bad lines skipped with FILE:LINE warnings, nothing
# valid at all (exit 1), random bytes, an unfinished last line, a log appended to while read;
# usage errors (exit 2).  Runs only the binary: no root, no network.
. "$(dirname "$0")/lib.sh"

D=("$PK_BIN" diverge)
export TZ=UTC
LOG=$PK_TMP/compare.log

# rec TIME TARGET CONN REQUEST VERDICT REASON [PART] [REQUESTS]: one line of the compare log.
rec() {
	local part=${7:-1} requests=${8:-1}
	printf '{"time": %s, "target": "%s", "conn": %s, "request": %s, "verdict": "%s", "reason": "%s", "part": %s, "requests": %s, "request_excerpt": "GET /r%s HTTP/1.1\\\\r\\\\nHost: shop.example\\\\r\\\\n\\\\r\\\\n", "production_excerpt": "HTTP/1.1 200 OK\\\\r\\\\nContent-Length: 2\\\\r\\\\n\\\\r\\\\nok", "clone_excerpt": "HTTP/1.1 500 Internal Server Error\\\\r\\\\n"}\n' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$part" "$requests" "$4"
}

# 2026-12-04 10:00:00 UTC = 1796378400
{
	rec 1796378405.5 web-dbg 7 4 different body
	rec 1796378403.25 web-dbg 7 2 noise "header Set-Cookie" 0
	rec 1796378401.125 127.0.0.1:7001 9 0 different body
	rec 1796378402 web-dbg 3 1 different "status line" 0
	rec 1796378404 web-dbg 3 5 lag "desynced: buffer full" null 12
	rec 1796378406 127.0.0.1:7001 9 3 noise "header Date" 0
	rec 1796378400.5 web-dbg 7 3 different body
} >"$LOG"

# json_get FILE EXPR: evaluates EXPR on the JSON document in FILE (as j); prints the result.
json_get() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# run NAME ARGS...: runs diverge; stdout in $PK_TMP/NAME.out, stderr in .err, status in $RC.
run() {
	local name=$1
	shift
	timeout 60 "${D[@]}" "$@" >"$PK_TMP/$name.out" 2>"$PK_TMP/$name.err"
	RC=$?
}

# rows FILE: the table's data rows (lines that start with a time), "TARGET CONN REQ VERDICT".
rows() {
	grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' "$1" | awk '{print $2, $3, $4, $5}' | tr '\n' ';'
}

# --- the table: first divergence of each connection, by time; later ones counted ---
run table "$LOG"
pk_expect_eq table-exit "$RC" 0
pk_expect_eq table-quiet "$(cat "$PK_TMP/table.err")" ""
pk_expect_eq table-firsts "$(rows "$PK_TMP/table.out")" \
	"127.0.0.1:7001 9 0 different;web-dbg 3 1 different;web-dbg 7 2 noise;"
if grep -q '^7 divergences (4 different, 2 noise, 1 lag) on 3 connections; by target: web-dbg 5, 127.0.0.1:7001 2$' "$PK_TMP/table.out" &&
	grep -q '^4 later divergences on these connections (--all lists them)$' "$PK_TMP/table.out" &&
	grep -q '^from 2026-12-04 10:00:00.500000 to 2026-12-04 10:00:06.000000$' "$PK_TMP/table.out"; then
	pk_ok table-summary
else
	pk_fail table-summary "$(head -c 600 "$PK_TMP/table.out")"
fi
wide=$(awk 'length($0) > 100' "$PK_TMP/table.out" | wc -l)
pk_expect_eq table-fits-100-columns "$wide" 0
if grep -q '^10:00:01.125 127.0.0.1:7001 ' "$PK_TMP/table.out" && grep -q '\.\.\.' "$PK_TMP/table.out"; then
	pk_ok table-cells
else
	pk_fail table-cells "$(head -c 600 "$PK_TMP/table.out")"
fi

# --- --all: the later rows under a second heading, in time order ---
run all --all "$LOG"
pk_expect_eq all-exit "$RC" 0
pk_expect_eq all-rows "$(rows "$PK_TMP/all.out")" \
	"127.0.0.1:7001 9 0 different;web-dbg 3 1 different;web-dbg 7 2 noise;web-dbg 7 3 different;web-dbg 3 5 lag;web-dbg 7 4 different;127.0.0.1:7001 9 3 noise;"
if grep -q '^later divergences on these connections, in time order:$' "$PK_TMP/all.out" &&
	grep -q 'desynced: buf' "$PK_TMP/all.out"; then
	pk_ok all-heading
else
	pk_fail all-heading "$(head -c 900 "$PK_TMP/all.out")"
fi

# --- --wide: excerpts, reasons and times whole ---
run wide --wide --all "$LOG"
if [ "$RC" -eq 0 ] && grep -q 'HTTP/1.1 500 Internal Server Error\\r\\n$' "$PK_TMP/wide.out" &&
	grep -q 'GET /r0 HTTP/1.1\\r\\nHost: shop.example\\r\\n\\r\\n' "$PK_TMP/wide.out" &&
	grep -q 'desynced: buffer full (12 not compared)' "$PK_TMP/wide.out" &&
	grep -q '^2026-12-04 10:00:01.125000 ' "$PK_TMP/wide.out"; then
	pk_ok wide
else
	pk_fail wide "exit $RC: $(head -c 900 "$PK_TMP/wide.out")"
fi

# --- --json: the summary and the rows in the table's order ---
run json --json "$LOG"
if [ "$RC" -eq 0 ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$PK_TMP/json.out"; then
	pk_ok json-parses
else
	pk_fail json-parses "exit $RC: $(head -c 300 "$PK_TMP/json.out")"
fi
pk_expect_eq json-summary "$(json_get "$PK_TMP/json.out" '(j["summary"]["divergences"], j["summary"]["connections"], j["summary"]["later"], j["summary"]["verdicts"])')" \
	"(7, 3, 4, {'different': 4, 'noise': 2, 'lag': 1})"
pk_expect_eq json-targets "$(json_get "$PK_TMP/json.out" '[(t["target"], t["divergences"], t["lag"]) for t in j["summary"]["targets"]]')" \
	"[('web-dbg', 5, 1), ('127.0.0.1:7001', 2, 0)]"
pk_expect_eq json-rows "$(json_get "$PK_TMP/json.out" '[(r["target"], r["conn"], r["request"], r["first"]) for r in j["rows"]]')" \
	"[('127.0.0.1:7001', 9, 0, True), ('web-dbg', 3, 1, True), ('web-dbg', 7, 2, True)]"
run json_all --json --all "$LOG"
pk_expect_eq json-all-rows "$(json_get "$PK_TMP/json_all.out" '[(r["conn"], r["request"], r["first"], r["part"], r["requests"]) for r in j["rows"]]')" \
	"[(9, 0, True, 1, 1), (3, 1, True, 0, 1), (7, 2, True, 0, 1), (7, 3, False, 1, 1), (3, 5, False, None, 12), (7, 4, False, 1, 1), (9, 3, False, 0, 1)]"
pk_expect_eq json-excerpt "$(json_get "$PK_TMP/json_all.out" 'j["rows"][0]["clone_excerpt"] + "|" + str(j["rows"][0]["time"])')" \
	'HTTP/1.1 500 Internal Server Error\r\n|1796378401.125'

# --- filters ---
run lag --verdict lag "$LOG"
pk_expect_eq verdict-lag "$(rows "$PK_TMP/lag.out")" "web-dbg 3 5 lag;"
if grep -q '^1 divergence (1 lag) on 1 connection; .*$' "$PK_TMP/lag.out" &&
	grep -q '1 of the log.s 7 match --verdict/--target' "$PK_TMP/lag.out"; then
	pk_ok verdict-lag-summary
else
	pk_fail verdict-lag-summary "$(head -c 400 "$PK_TMP/lag.out")"
fi
run two --verdict noise --verdict lag --all "$LOG"
pk_expect_eq verdict-two "$(rows "$PK_TMP/two.out")" "web-dbg 7 2 noise;web-dbg 3 5 lag;127.0.0.1:7001 9 3 noise;"
run target --target 127.0.0.1:7001 --all "$LOG"
pk_expect_eq target "$(rows "$PK_TMP/target.out")" "127.0.0.1:7001 9 0 different;127.0.0.1:7001 9 3 noise;"
run none --target nosuch "$LOG"
pk_expect_eq filter-matches-none "$RC:$(cat "$PK_TMP/none.out")" "0:no divergences match --verdict/--target (7 in the log)"

# --- standard input ---
timeout 60 "${D[@]}" - <"$LOG" >"$PK_TMP/stdin.out" 2>&1
pk_expect_eq stdin "$?:$(rows "$PK_TMP/stdin.out")" "0:$(rows "$PK_TMP/table.out")"

# --- the bound: --max-rows 2 keeps the log's first two rows (one connection: its lower request
# first), counts all, and says so ---
run bound --max-rows 2 --all "$LOG"
if [ "$RC" -eq 0 ] && [ "$(rows "$PK_TMP/bound.out")" = "web-dbg 7 2 noise;web-dbg 7 4 different;" ] &&
	grep -q '^note: 5 rows not shown: at most 2 rows are kept (--max-rows)' "$PK_TMP/bound.out" &&
	grep -q '^7 divergences (4 different, 2 noise, 1 lag) on at least 1 connection; ' "$PK_TMP/bound.out"; then
	pk_ok max-rows
else
	pk_fail max-rows "exit $RC: $(head -c 900 "$PK_TMP/bound.out")"
fi

# --- bad input ---
: >"$PK_TMP/empty.log"
run empty "$PK_TMP/empty.log"
pk_expect_eq empty "$RC:$(cat "$PK_TMP/empty.out"):$(cat "$PK_TMP/empty.err")" "0:no divergences:"
printf '\n  \n\r\n' >"$PK_TMP/blank.log"
run blank "$PK_TMP/blank.log"
pk_expect_eq blank-lines "$RC:$(cat "$PK_TMP/blank.out"):$(cat "$PK_TMP/blank.err")" "0:no divergences:"
run empty_json --json "$PK_TMP/empty.log"
pk_expect_eq empty-json "$RC:$(json_get "$PK_TMP/empty_json.out" '(j["summary"]["divergences"], j["rows"], j["summary"]["first_time"])')" "0:(0, [], None)"

pk_expect_error missing-file 1 "^parikshan: diverge: $PK_TMP/nope.log: No such file or directory$" "${D[@]}" "$PK_TMP/nope.log"
pk_expect_error directory 1 "^parikshan: diverge: $PK_TMP: Is a directory$" "${D[@]}" "$PK_TMP"

# some bad lines among good ones: skipped, the first three named, then the count; exit 0
{
	echo 'not json'
	rec 1796378401 web-dbg 1 0 different body
	echo '{"time": 1}'
	rec 1796378402 web-dbg 2 0 same body
	echo '[1, 2]'
	rec 1796378403 web-dbg 3 0 noise body | sed 's/"conn": 3/"conn": -3/'
} >"$PK_TMP/mixed.log"
run mixed "$PK_TMP/mixed.log"
want_err="parikshan: diverge: $PK_TMP/mixed.log:1: not JSON
parikshan: diverge: $PK_TMP/mixed.log:3: \"target\": missing or not a string
parikshan: diverge: $PK_TMP/mixed.log:4: \"verdict\": not \"different\", \"noise\" or \"lag\"
parikshan: diverge: $PK_TMP/mixed.log: 5 lines skipped (not divergence records)"
pk_expect_eq mixed-warnings "$(cat "$PK_TMP/mixed.err")" "$want_err"
pk_expect_eq mixed-table "$RC:$(rows "$PK_TMP/mixed.out")" "0:web-dbg 1 0 different;"
run mixed_json --json "$PK_TMP/mixed.log"
pk_expect_eq mixed-json "$(json_get "$PK_TMP/mixed_json.out" '(j["summary"]["skipped_lines"], j["summary"]["records"])')" "(5, 1)"

# nothing valid at all: exit 1, the first lines named, then one error line; nothing on stdout
printf 'a\nb\nc\nd\n' >"$PK_TMP/text.log"
run text "$PK_TMP/text.log"
if [ "$RC" -eq 1 ] && [ ! -s "$PK_TMP/text.out" ] && [ "$(wc -l <"$PK_TMP/text.err")" -eq 4 ] &&
	[ "$(tail -n 1 "$PK_TMP/text.err")" = "parikshan: diverge: $PK_TMP/text.log: not a compare log: no divergence record in 4 lines" ]; then
	pk_ok no-valid-line
else
	pk_fail no-valid-line "exit $RC: $(head -c 600 "$PK_TMP/text.err")"
fi

# random bytes (and a NUL, and a line far over the limit): refused, never a crash
head -c 200000 /dev/urandom >"$PK_TMP/random.log"
python3 -c 'import sys; sys.stdout.write("{" * 100000 + "\n" + "x" * 200000)' >>"$PK_TMP/random.log"
run random "$PK_TMP/random.log"
if [ "$RC" -eq 1 ] && grep -q 'not a compare log' "$PK_TMP/random.err"; then
	pk_ok random-bytes
else
	pk_fail random-bytes "exit $RC: $(head -c 600 "$PK_TMP/random.err")"
fi
{
	cat "$LOG"
	head -c 100000 /dev/urandom | tr -d '\n'
	echo
	printf '\0\0\0\n'
} >"$PK_TMP/tail-junk.log"
run tailjunk "$PK_TMP/tail-junk.log"
pk_expect_eq junk-after-records "$RC:$(rows "$PK_TMP/tailjunk.out")" "0:$(rows "$PK_TMP/table.out")"

# an unfinished last line (the writer is mid-line): skipped with a note, the rest shown
{
	cat "$LOG"
	rec 1796378409 web-dbg 11 0 different body | head -c 90
} >"$PK_TMP/unfinished.log"
run unfinished "$PK_TMP/unfinished.log"
if [ "$RC" -eq 0 ] && [ "$(rows "$PK_TMP/unfinished.out")" = "$(rows "$PK_TMP/table.out")" ] &&
	[ "$(cat "$PK_TMP/unfinished.err")" = "parikshan: diverge: $PK_TMP/unfinished.log:8: unfinished last line (still being written?): skipped" ]; then
	pk_ok unfinished-last-line
else
	pk_fail unfinished-last-line "exit $RC: $(cat "$PK_TMP/unfinished.err")"
fi

# a log appended to while it is read: a writer adds records (in pieces, so that lines are often
# unfinished) until told to stop or 8 MB; every read shows what was there, no line skipped as bad
cp "$LOG" "$PK_TMP/growing.log"
cat >"$PK_TMP/writer.py" <<'EOF'
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
line = open(path).readline()
deadline = time.time() + 60
with open(path, "a") as f:
    while not os.path.exists(stop) and time.time() < deadline and f.tell() < 8 << 20:
        for piece in (line[:50], line[50:]):
            f.write(piece)
            f.flush()
EOF
pk_bg writer python3 "$PK_TMP/writer.py" "$PK_TMP/growing.log" "$PK_TMP/stop"
writer=$PK_LAST_PID
grown() { [ "$(wc -c <"$PK_TMP/growing.log")" -gt 200000 ]; }
pk_wait_for "the log to grow" 20 grown
ok=1
for i in 1 2 3; do
	run growing "$PK_TMP/growing.log"
	if [ "$RC" -ne 0 ] || grep -v 'unfinished last line' "$PK_TMP/growing.err" | grep -q . ||
		! grep -qE '^[0-9]+ divergences ' "$PK_TMP/growing.out"; then
		ok=0
		pk_fail appended-while-read "exit $RC: $(head -c 300 "$PK_TMP/growing.err")"
		break
	fi
done
touch "$PK_TMP/stop"
pk_wait_exit "$writer" 20
[ "$ok" -eq 1 ] && pk_ok appended-while-read

# --- a large log: bounded rows, the counts of all ---
python3 - "$PK_TMP/large.log" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(60000):
        f.write('{"time": %d.5, "target": "t%d", "conn": %d, "request": %d, "verdict": "%s", '
                '"reason": "body", "part": 1, "requests": 1, "request_excerpt": "GET /", '
                '"production_excerpt": "200", "clone_excerpt": "500"}\n'
                % (1796378400 + i, i % 2, i % 20000, i // 20000,
                   ("different", "noise", "lag")[i % 3]))
EOF
run large --json --all "$PK_TMP/large.log"
pk_expect_eq large "$RC:$(json_get "$PK_TMP/large.out" '(j["summary"]["divergences"], j["summary"]["later"], j["summary"]["not_kept"], len(j["rows"]), j["summary"]["verdicts"]["lag"])')" \
	"0:(60000, 20000, 50000, 10000, 20000)"

# --- usage errors: exit 2 ---
pk_expect_error no-file 2 "^parikshan: diverge: FILE: required" "${D[@]}"
pk_expect_error two-files 2 "^parikshan: diverge: b: unexpected argument" "${D[@]}" a b
pk_expect_error bad-verdict 2 "^parikshan: diverge: --verdict 'same': not a verdict" "${D[@]}" --verdict same "$LOG"
pk_expect_error zero-max-rows 2 "^parikshan: diverge: --max-rows '0'" "${D[@]}" --max-rows 0 "$LOG"
pk_expect_error huge-max-rows 2 "^parikshan: diverge: --max-rows '100001'" "${D[@]}" --max-rows 100001 "$LOG"
pk_expect_error unknown-option 2 "^parikshan: diverge: --bogus: unknown option" "${D[@]}" --bogus "$LOG"
pk_expect_error verdict-without-value 2 "^parikshan: diverge: --verdict: needs a value" "${D[@]}" --verdict

# --help
if "${D[@]}" --help >"$PK_TMP/help" 2>&1 && grep -q -- '--all' "$PK_TMP/help" && grep -q 'no divergences' "$PK_TMP/help" &&
	"$PK_BIN" --help | grep -q '^  diverge '; then
	pk_ok help
else
	pk_fail help "$(head -c 300 "$PK_TMP/help")"
fi
