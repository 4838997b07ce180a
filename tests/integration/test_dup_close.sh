#!/usr/bin/env bash
# Issue 9, item 1: fidelity at close.  A client that closes right after production's answer
# must not cut off a clone that lags a few ms: nginx as a reverse proxy logs 499 and drops the
# upstream request when its client goes away mid-request.
#
#   curl ──► dup ──► production front (nginx) ──► agg ──► backend (nginx)
#             └────► clone front (nginx) ──► delay relay ──► agg's debug side
#
# The relay (tests/tools/pk-delay.py) hands the clone front its backend's answers 30 ms late:
# a clone that lags.  Both fronts open one backend connection per request (nginx's default),
# so agg pairs them in order.
#
# 60 sequential curl requests: production's and the clone's access logs must both show 200
# for every one (no 499).  Then agg's side of the rule, with small python peers: the backend's
# FIN reaches a clone only after the clone has sent its last request (or the grace expired),
# and the grace expiry is counted.
. "$(dirname "$0")/lib.sh"

N=60
BACK=$(pk_free_port) AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port) RL=$(pk_free_port)
PF=$(pk_free_port) DF=$(pk_free_port) FRONT=$(pk_free_port) DADM=$(pk_free_port)

# nginx_conf NAME PORT BODY: writes $PK_TMP/NAME/nginx.conf, an nginx listening on
# 127.0.0.1:PORT with BODY inside its server block; logs "$status" per request to access.log.
nginx_conf() {
	local name=$1 port=$2 body=$3 dir=$PK_TMP/$1
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 256; }
http {
	log_format st '\$status';
	access_log $dir/access.log st;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	keepalive_timeout 60s;
	$body
}
CONF
}

# front_conf NAME PORT UPSTREAM_PORT: a reverse proxy (one upstream connection per request).
front_conf() {
	nginx_conf "$1" "$2" "server {
		listen 127.0.0.1:$2;
		location / {
			proxy_pass http://127.0.0.1:$3;
			proxy_read_timeout 10s;
		}
	}"
}

# start_nginx NAME PORT: runs the nginx of $PK_TMP/NAME in the foreground (pk_bg).
start_nginx() {
	pk_bg "$1" nginx -p "$PK_TMP/$1" -c "$PK_TMP/$1/nginx.conf" -g 'daemon off;'
	pk_wait_port "$2"
}

# log_lines NAME: how many requests nginx NAME logged.
log_lines() {
	if [ -f "$PK_TMP/$1/access.log" ]; then wc -l <"$PK_TMP/$1/access.log"; else echo 0; fi
}

# wait_log NAME N SECONDS: waits until nginx NAME logged N requests.
wait_log() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		[ "$(log_lines "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "nginx $1 logged $(log_lines "$1") requests, not $2, within $3 s" >&2
	return 1
}

# wait_file PATH SECONDS: waits until PATH exists.
wait_file() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	echo "$1 not created within $2 s" >&2
	return 1
}

# statuses NAME: "STATUS xCOUNT ..." of nginx NAME's access log, sorted.
statuses() {
	sort "$PK_TMP/$1/access.log" 2>/dev/null | uniq -c | awk '{ printf "%s%sx%s", s, $2, $1; s = " " }'
}

mkdir -p "$PK_TMP/backend/html"
head -c 3000 /dev/zero | tr '\0' b >"$PK_TMP/backend/html/index.html"
nginx_conf backend "$BACK" "server { listen 127.0.0.1:$BACK; root $PK_TMP/backend/html; }"
front_conf prodfront "$PF" "$AL"
front_conf clonefront "$DF" "$RL"
start_nginx backend "$BACK" || { pk_fail setup "backend nginx did not start"; exit 1; }
pk_agg agg -l "$AL" -x 127.0.0.1 -p "$BACK" -D "$AD" --admin "$AADM"
AGG=$PK_LAST_PID
pk_bg relay python3 "$(dirname "$0")/../tools/pk-delay.py" "$RL" "$AD" 30
pk_wait_port "$RL" || { pk_fail setup "the delay relay did not start"; exit 1; }
start_nginx prodfront "$PF" && start_nginx clonefront "$DF" ||
	{ pk_fail setup "front nginx did not start"; exit 1; }
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PF" -m 127.0.0.1 -d "$DF" --admin "$DADM"
DUP=$PK_LAST_PID

codes=""
for ((i = 1; i <= N; i++)); do
	codes+=$(timeout 20 curl -s -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$FRONT/index.html")
done
want=$(printf '200 %.0s' $(seq $N))
pk_expect_eq curl-production-200 "$codes" "$want"
wait_log prodfront $N 20
pk_expect_eq production-front-all-200 "$(statuses prodfront)" "200x$N"
# The clone lags: its log lines come after curl is done (at most a grace period later).
wait_log clonefront $N 30
pk_expect_eq clone-front-all-200 "$(statuses clonefront)" "200x$N"
pk_expect_eq clone-front-no-499 "$(grep -c '^499' "$PK_TMP/clonefront/access.log")" 0
pk_expect_eq dup-no-desync "$(pk_metric "$DADM" parikshan_debug_desyncs_total)" 0
pk_expect_eq dup-no-grace-expired "$(pk_metric "$DADM" parikshan_debug_close_grace_expired_total)" 0
pk_stop_clean dup "$DUP"
pk_stop_clean agg "$AGG"

# --- agg's debug side: the backend's FIN waits for the clone's last request ---------------
# A backend that answers two requests on a connection and closes; production's service and the
# clone are python peers.  Production sends both requests and gets both answers and the EOF.
# The clone sends its first request (which pairs it), reads the first answer; once agg
# delivered every recorded byte, the clone must still see no EOF: it has not sent its second
# request yet.  Then it sends it and the EOF follows.
PYPEER=$PK_TMP/peer.py
cat >"$PYPEER" <<'PY'
import os, socket, sys, time

REQ = [b"GET one\r\n", b"GET two\r\n"]
ANS = [b"+ANSWER-1\r\n", b"+ANSWER-2\r\n"]

def read_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data

def read_to_eof(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk

mode = sys.argv[1]
if mode == "backend":  # answers two requests per connection, then closes
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(sys.argv[2])))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        for a in ANS:
            if not c.recv(65536):
                break
            c.sendall(a)
        c.close()
elif mode == "prod":  # production's service: both requests, then the answers to EOF
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
    got = b""
    for r, a in zip(REQ, ANS):
        s.sendall(r)
        got += read_exactly(s, len(a))
    print(repr(got + read_to_eof(s)))
elif mode == "clone":  # the clone's service: first request, then waits for a file
    port, connected, go = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(REQ[0])
    first = read_exactly(s, len(ANS[0]))
    open(connected, "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.02)
    s.setblocking(False)
    data, early_eof = b"", False
    while True:
        try:
            chunk = s.recv(65536)
        except BlockingIOError:
            break
        if not chunk:
            early_eof = True
            break
        data += chunk
    s.setblocking(True)
    s.settimeout(10)
    rest = b""
    if not early_eof:
        s.sendall(REQ[1])
        rest = read_to_eof(s)
    print("first=%r before-request=%r early-eof=%s after=%r" % (first, data, early_eof, rest))
elif mode == "stalled":  # sends its first request only: the EOF comes with the grace expiry
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
    s.sendall(REQ[0])
    print(repr(read_to_eof(s)))
PY
PB=$(pk_free_port) AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port)
pk_bg pybackend python3 "$PYPEER" backend "$PB"
pk_wait_port "$PB"
pk_agg agg2 -l "$AL" -x 127.0.0.1 -p "$PB" -D "$AD" --admin "$AADM" --close-grace 60s
AGG=$PK_LAST_PID
pk_expect_eq agg-production-answered "$(timeout 20 python3 "$PYPEER" prod "$AL")" \
	"b'+ANSWER-1\\r\\n+ANSWER-2\\r\\n'"
pk_bg pyclone python3 "$PYPEER" clone "$AD" "$PK_TMP/clone.first" "$PK_TMP/delivered"
CLONE=$PK_LAST_PID
wait_file "$PK_TMP/clone.first" 20 || pk_fail agg-clone-first "the python clone got no first answer"
# every recorded byte delivered to the clone: its FIN would have gone with the last of them
pk_check agg-delivered pk_wait_metric "$AADM" parikshan_debug_bytes_sent_total 22 10
touch "$PK_TMP/delivered"
wait "$CLONE"
pk_expect_eq agg-fin-after-clone-request "$(cat "$PK_TMP/pyclone.log")" \
	"first=b'+ANSWER-1\\r\\n' before-request=b'+ANSWER-2\\r\\n' early-eof=False after=b''"
pk_expect_eq agg-no-grace-expired "$(pk_metric "$AADM" parikshan_debug_close_grace_expired_total)" 0
pk_stop_clean agg2 "$AGG"

# A clone that never sends its second request gets the FIN when the grace expires, counted.
AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port)
pk_agg agg3 -l "$AL" -x 127.0.0.1 -p "$PB" -D "$AD" --admin "$AADM" --close-grace 200ms
AGG=$PK_LAST_PID
timeout 20 python3 "$PYPEER" prod "$AL" >/dev/null
pk_expect_eq agg-grace-fin "$(timeout 20 python3 "$PYPEER" stalled "$AD")" \
	"b'+ANSWER-1\\r\\n+ANSWER-2\\r\\n'"
pk_check agg-grace-counted pk_wait_metric "$AADM" parikshan_debug_close_grace_expired_total 1 10
pk_stop_clean agg3 "$AGG"
