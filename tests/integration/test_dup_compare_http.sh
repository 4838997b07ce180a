#!/usr/bin/env bash
# Issue 10, acceptance 1 (nginx) and 2: per-request divergence with `dup --compare http`.
#  - nginx, production and a debug copy serving the same files: a wrk run through dup gives no
#    `different` (the Date header is masked by default); a file changed in the copy only: its
#    GET is `different`, with its request index;
#  - a service whose answers carry a random token (tests/tools/pk-token-http.py): two unchanged
#    clones' differences are `noise` without any --compare-ignore; a third, changed clone is
#    still `different` on exactly the requests whose body changed, token or not.
. "$(dirname "$0")/lib.sh"

# start_nginx NAME PORT ROOT: nginx in the foreground on 127.0.0.1:PORT serving ROOT.  Its
# keep-alive connections never end on their own (keepalive_requests: nginx closes one after 1000
# requests by default, production and the copy at the same request; when the copy's FIN reaches
# dup before the client's, dup takes the copy for one that dropped its stream: a desync and
# "lag" verdicts, seen once in CI; that race is dup's to fix, not this test's subject).
start_nginx() {
	local name=$1 port=$2 root=$3
	cat >"$PK_TMP/$name.conf" <<CONF
daemon off;
master_process off;
user root;
worker_processes 1;
pid $PK_TMP/$name.pid;
error_log $PK_TMP/$name-error.log;
events { worker_connections 512; }
http {
	access_log off;
	keepalive_requests 1000000;
	server { listen 127.0.0.1:$port; root $root; }
}
CONF
	pk_bg "$name" nginx -p "$PK_TMP" -c "$PK_TMP/$name.conf"
}

NP=$(pk_free_port) ND=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
mkdir -p "$PK_TMP/www"
head -c 20000 /dev/urandom | base64 >"$PK_TMP/www/index.html"
echo "the same" >"$PK_TMP/www/page.html"
cp -a "$PK_TMP/www" "$PK_TMP/www-dbg"
echo "in production" >"$PK_TMP/www/page.html"
touch -r "$PK_TMP/www-dbg/page.html" "$PK_TMP/www/page.html"
start_nginx nginx-prod "$NP" "$PK_TMP/www"
start_nginx nginx-dbg "$ND" "$PK_TMP/www-dbg"
pk_wait_port "$NP" && pk_wait_port "$ND" || { pk_fail setup "nginx did not start: $(cat "$PK_TMP"/nginx-*-error.log)"; exit 1; }
LOG=$PK_TMP/nginx.jsonl
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$NP" -m 127.0.0.1 -d "$ND" --compare http \
	--compare-log "$LOG" --admin "$ADMIN"
DUP=$PK_LAST_PID
verdict() { pk_metric "$1" parikshan_compare_requests_total "${3:+target=\"127.0.0.1:$3\",}verdict=\"$2\""; }

if timeout 60 wrk -t 2 -c 8 -d 3s "http://127.0.0.1:$FRONT/index.html" >"$PK_TMP/wrk.out" 2>&1 &&
	grep -q 'requests in' "$PK_TMP/wrk.out" && ! grep -q 'Non-2xx' "$PK_TMP/wrk.out"; then
	pk_ok wrk-run
else
	pk_fail wrk-run "$(cat "$PK_TMP/wrk.out")"
fi
pk_check nginx-drained pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 60
same=$(verdict "$ADMIN" same)
if [ "$same" != none ] && [ "$same" -ge 100 ]; then pk_ok nginx-compared; else pk_fail nginx-compared "same=$same"; fi
pk_expect_eq nginx-none-different "$(verdict "$ADMIN" different)" 0
pk_expect_eq nginx-none-lag "$(verdict "$ADMIN" lag)" 0
body=$(timeout 10 curl -s "http://127.0.0.1:$FRONT/page.html")
pk_expect_eq client-sees-production "$body" "in production"
pk_check page-different pk_wait_metric "$ADMIN" parikshan_compare_requests_total 1 10 'verdict="different"'
pk_check page-logged pk_wait_log "$LOG" '"different"' 10
if python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if "\"different\"" in l][0]
assert r["request"] == 0 and "GET /page.html" in r["request_excerpt"], r
assert "200" in r["production_excerpt"] and "200" in r["clone_excerpt"], r
' "$LOG"; then pk_ok page-report; else pk_fail page-report "$(head -3 "$LOG")"; fi
pk_stop_clean dup "$DUP"

# Noise: production and three clones of the token service, the third changed.
TP=$(pk_free_port) T1=$(pk_free_port) T2=$(pk_free_port) T3=$(pk_free_port)
FRONT2=$(pk_free_port) ADMIN2=$(pk_free_port)
TOKEN=$PK_ROOT/tests/tools/pk-token-http.py
pk_bg tok-prod python3 "$TOKEN" "$TP"
pk_bg tok-1 python3 "$TOKEN" "$T1"
pk_bg tok-2 python3 "$TOKEN" "$T2"
pk_bg tok-3 python3 "$TOKEN" "$T3" --changed
for p in "$TP" "$T1" "$T2" "$T3"; do pk_wait_port "$p" || { pk_fail setup "token service did not start"; exit 1; }; done
pk_dup dup2 -l "$FRONT2" -x 127.0.0.1 -p "$TP" -m 127.0.0.1 -d "$T1" -m 127.0.0.1 -d "$T2" \
	-m 127.0.0.1 -d "$T3" --compare http --compare-log "$PK_TMP/token.jsonl" --admin "$ADMIN2"
DUP2=$PK_LAST_PID
urls=()
for i in $(seq 0 49); do urls+=("http://127.0.0.1:$FRONT2/item/$i"); done
if timeout 60 curl -s --fail "${urls[@]}" >"$PK_TMP/items.out"; then pk_ok token-requests; else pk_fail token-requests "curl failed"; fi
pk_expect_eq token-keepalive-answers "$(grep -c '^item' "$PK_TMP/items.out")" 50
pk_check token-drained pk_wait_metric "$ADMIN2" parikshan_debug_connections_active 0 30
k=0
for t in "$T1" "$T2"; do
	k=$((k + 1))
	pk_expect_eq "unchanged-$k-noise" "$(verdict "$ADMIN2" noise "$t")" 50
	pk_expect_eq "unchanged-$k-none-different" "$(verdict "$ADMIN2" different "$t")" 0
done
pk_expect_eq changed-different "$(verdict "$ADMIN2" different "$T3")" 5
pk_expect_eq changed-rest-noise "$(verdict "$ADMIN2" noise "$T3")" 45
if python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
diff = sorted(r["request"] for r in rows if r["verdict"] == "different")
assert diff == [0, 10, 20, 30, 40], diff
assert all(r["target"].endswith(":" + sys.argv[2]) for r in rows if r["verdict"] == "different")
' "$PK_TMP/token.jsonl" "$T3"; then pk_ok changed-requests-named; else pk_fail changed-requests-named "$(grep different "$PK_TMP/token.jsonl" | head -3)"; fi
pk_stop_clean dup2 "$DUP2"
