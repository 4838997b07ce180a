#!/usr/bin/env bash
# test_trace_dns.sh — request paths with DNS over UDP, real servers: nginx (one worker) resolves
# a name that differs per request (`resolver` = a dnsmasq on loopback; no name repeats, so
# every request makes its own lookup) and proxies to a second nginx; dnsmasq, both nginx and dig
# under `parikshan trace run`.  Each request's path holds exactly its own lookup (the A
# question for its own name, paired with its answer by peer and query id on dnsmasq's one
# socket), shown readably, and its upstream hop; queries of dig alone are paths of their own.
. "$(dirname "$0")/lib.sh"
. "$PK_ROOT/tests/tools/pk-trace-chain.sh"

N=12
DPORT=$(pk_free_port) FPORT=$(pk_free_port) BPORT=$(pk_free_port)
pk_trace_logd || exit 1

pk_bg dnsmasq "${TRACE[@]}" dnsmasq --port="$DPORT" --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --address=/pk.test/127.0.0.1 --keep-in-foreground --log-facility=- \
	--user=root --pid-file= --cache-size=0
DNSMASQ=$PK_LAST_PID
udp_listening() { ss -lunH "( sport = :$DPORT )" | grep -q .; }
pk_wait_for "dnsmasq on udp $DPORT" 30 udp_listening || { pk_fail setup "$(tail -n 3 "$PK_TMP/dnsmasq.log")"; exit 1; }

# nginx_conf NAME HTTP-BODY: writes $PK_TMP/NAME.conf, an nginx in the foreground with one
# worker (pid and error log under $PK_TMP/NAME/) serving HTTP-BODY.
nginx_conf() {
	mkdir -p "$PK_TMP/$1"
	printf 'daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid %s;\nerror_log %s;\nevents { worker_connections 256; }\nhttp {\n\taccess_log off;\n%s\n}\n' \
		"$PK_TMP/$1/nginx.pid" "$PK_TMP/$1/error.log" "$2" >"$PK_TMP/$1.conf"
}
# front: resolves r<id>.pk.test for each request (a variable in proxy_pass), then proxies
nginx_conf front "	resolver 127.0.0.1:$DPORT ipv6=off valid=1s;
	server { listen 127.0.0.1:$FPORT; location / { proxy_pass http://\$arg_name:$BPORT; } }"
nginx_conf back "	server { listen 127.0.0.1:$BPORT; location / { return 200 \"back \$request_uri\\n\"; } }"
pk_bg back "${TRACE[@]}" nginx -p "$PK_TMP/back" -c "$PK_TMP/back.conf"
pk_bg front "${TRACE[@]}" nginx -p "$PK_TMP/front" -c "$PK_TMP/front.conf"
pk_wait_port "$BPORT" && pk_wait_port "$FPORT" || { pk_fail setup "nginx did not start"; exit 1; }

ok=0
for ((i = 1; i <= N; i++)); do
	out=$(curl -s --max-time 10 "http://127.0.0.1:$FPORT/q/$i?name=r$i.pk.test")
	[ "$out" = "back /q/$i?name=r$i.pk.test" ] && ok=$((ok + 1))
done
pk_expect_eq curl-through-resolver "$ok" "$N"
for i in 1 2 3; do
	timeout 20 "${TRACE[@]}" dig @127.0.0.1 -p "$DPORT" "d$i.pk.test" +short +tries=1 +time=5 \
		>"$PK_TMP/dig$i.out" 2>&1
	pk_expect_eq "dig-$i" "$(cat "$PK_TMP/dig$i.out")" 127.0.0.1
done
pk_stop_clean front "$(cat "$PK_TMP/front/nginx.pid")"
pk_stop_clean back "$(cat "$PK_TMP/back/nginx.pid")"
pk_stop_clean dnsmasq "$DNSMASQ"
pk_stop_clean logd "$LOGD"

pk_check paths "$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/paths.json"
python3 - "$PK_TMP/paths.json" "$N" >"$PK_TMP/check.out" 2>&1 <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
fronts, digs = {}, set()
for p in d["paths"]:
    h = p["hops"]
    assert p["complete"], ("incomplete", [x["title"] for x in h])
    if h[0]["proto"] == "dns":
        assert len(h) == 1 and h[0]["comm"] == "dnsmasq", h
        m = re.fullmatch(r"A (d\d)\.pk\.test", h[0]["title"])
        assert m, h[0]["title"]
        digs.add(m.group(1))
        continue
    m = re.fullmatch(r"GET /q/(\d+)\?name=r\d+\.pk\.test HTTP/1\.[01]", h[0]["title"])
    assert m and h[0]["comm"] == "nginx", h[0]["title"]
    i = m.group(1)
    assert i not in fronts, ("twice", i)
    kids = [x for x in h[1:] if x["parent"] == 0]
    dns = [x for x in kids if x["proto"] == "dns"]
    http = [x for x in kids if x["proto"] == "http"]
    assert [x["title"] for x in dns] == [f"A r{i}.pk.test"], (i, [x["title"] for x in h])
    assert dns[0]["comm"] == "dnsmasq" and dns[0]["rule"].endswith("tcp-endpoints"), dns[0]
    assert len(http) == 1 and http[0]["title"].startswith(f"GET /q/{i}?"), (i, http)
    assert dns[0]["end_ns"] <= http[0]["start_ns"], "the lookup comes before the upstream call"
    fronts[i] = True
print("front paths", len(fronts), "dig paths", sorted(digs))
assert sorted(fronts, key=int) == [str(i) for i in range(1, n + 1)], sorted(fronts)
assert digs == {"d1", "d2", "d3"}, digs
PY
trace_chain_verdict dns "$DB"
