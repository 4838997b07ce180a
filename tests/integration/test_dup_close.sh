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
# FIN reaches a clone only after the clone has sent its request (or the grace expired), and
# the grace expiry is counted.
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

# --- agg's debug side: the backend's FIN waits for the clone's request -------------------
# A backend that answers one request and closes; production's client and the clone are
# python peers.  The clone connects first, production's connection is answered and closed;
# once agg delivered every recorded byte, the clone must still see no EOF: it has not sent
# its request yet.  Then it sends it and the EOF follows.
PYPEER=$PK_TMP/peer.py
cat >"$PYPEER" <<'PY'
import socket, sys, time

def recv_until_eof(s, deadline):
    data = b""
    s.settimeout(1)
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            return data, True
        data += chunk
    return data, False

mode = sys.argv[1]
if mode == "backend":  # answer one request per connection, then close
    port, ready = int(sys.argv[2]), sys.argv[3]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    open(ready, "w").close()
    while True:
        c, _ = ls.accept()
        c.recv(65536)
        c.sendall(b"+ANSWER\r\n")
        c.close()
elif mode == "prod":  # production's service: one request, read the answer to EOF
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
    s.sendall(b"GET key\r\n")
    data, eof = recv_until_eof(s, time.monotonic() + 10)
    print(repr(data), eof)
elif mode == "clone":  # the clone's service, stepped by files
    port, step, admin_wait = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    open(step + ".connected", "w").close()
    deadline = time.monotonic() + 20
    while not __import__("os").path.exists(admin_wait) and time.monotonic() < deadline:
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
    s.sendall(b"GET key\r\n")
    rest, eof = (b"", True) if early_eof else recv_until_eof(s, time.monotonic() + 10)
    print("before-request=%r early-eof=%s after=%r eof=%s" % (data, early_eof, rest, eof))
PY
PB=$(pk_free_port) AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port)
pk_bg pybackend python3 "$PYPEER" backend "$PB" "$PK_TMP/pyb.ready"
pk_wait_port "$PB"
pk_agg agg2 -l "$AL" -x 127.0.0.1 -p "$PB" -D "$AD" --admin "$AADM" --close-grace 60s
AGG=$PK_LAST_PID
pk_bg pyclone python3 "$PYPEER" clone "$AD" "$PK_TMP/clone" "$PK_TMP/delivered"
CLONE=$PK_LAST_PID
wait_file "$PK_TMP/clone.connected" 10 || pk_fail agg-clone-connected "the python clone did not connect"
out=$(timeout 20 python3 "$PYPEER" prod "$AL")
pk_expect_eq agg-production-answered "$out" "b'+ANSWER\\r\\n' True"
# every recorded byte delivered to the clone: its FIN would have gone with the last of them
pk_check agg-delivered pk_wait_metric "$AADM" parikshan_debug_bytes_sent_total 9 10
touch "$PK_TMP/delivered"
wait "$CLONE"
pk_expect_eq agg-fin-after-clone-request "$(cat "$PK_TMP/pyclone.log")" \
	"before-request=b'+ANSWER\\r\\n' early-eof=False after=b'' eof=True"
pk_expect_eq agg-no-grace-expired "$(pk_metric "$AADM" parikshan_debug_close_grace_expired_total)" 0

# A clone that never sends its request gets the FIN when the grace expires, counted.
pk_stop_clean agg2 "$AGG"
AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port)
pk_agg agg3 -l "$AL" -x 127.0.0.1 -p "$PB" -D "$AD" --admin "$AADM" --close-grace 200ms
AGG=$PK_LAST_PID
out=$(timeout 20 python3 - "$AD" "$AL" <<'PY'
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
p = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
p.sendall(b"GET key\r\n")
while p.recv(65536):
    pass
t0, data = time.monotonic(), b""
while True:  # never sends: the EOF comes with the grace expiry
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode().strip(), "eof")
PY
)
pk_expect_eq agg-grace-fin "$out" "+ANSWER eof"
pk_check agg-grace-counted pk_wait_metric "$AADM" parikshan_debug_close_grace_expired_total 1 10
pk_stop_clean agg3 "$AGG"
