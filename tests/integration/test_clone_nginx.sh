#!/usr/bin/env bash
# Live clone of an nginx container serving a file (issue 4, acceptance 2 and 3): the clone serves
# the same file; a keep-alive client of production keeps working across the clone; a file
# changed in production afterwards is not changed in the clone, and the other way round.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE" "$PK_TMP/www"
PROD=pk-test-ng$$ DBG=pk-test-ng$$-dbg IP=10.77.204.2
trap '"$PK_BIN" container rm "$DBG" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD" >/dev/null 2>&1; pk_cleanup' EXIT
python3 -c 'import os; open(os.sys.argv[1], "wb").write(os.urandom(300000))' "$PK_TMP/www/blob"
chmod 755 "$PK_TMP" "$PK_TMP/www"
# Workers run as root: root on these machines lacks CAP_SYS_RESOURCE, and CRIU then cannot read
# the rlimits of a process of another uid (nginx's default "nobody" worker).
cat >"$PK_TMP/nginx.conf" <<CONF
user root;
worker_processes 1;
pid /run/nginx-pk.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    keepalive_timeout 60s;
    client_body_temp_path /tmp/pk-ng-body;
    proxy_temp_path /tmp/pk-ng-proxy;
    fastcgi_temp_path /tmp/pk-ng-fcgi;
    uwsgi_temp_path /tmp/pk-ng-uwsgi;
    scgi_temp_path /tmp/pk-ng-scgi;
    server { listen 80; root $PK_TMP/www; }
}
CONF
blob_served() { curl -sf --max-time 5 -o /dev/null "http://$1/blob"; }
pk_container_up "$PROD" "$IP" 80 blob_served -- nginx -c "$PK_TMP/nginx.conf" -g 'daemon off;' || exit 1
want=$(sha256sum <"$PK_TMP/www/blob" | cut -d' ' -f1)
pk_expect_eq production-serves-file "$(curl -sf "http://$IP/blob" | sha256sum | cut -d' ' -f1)" "$want"

# A keep-alive client: one request before the clone, one after, on the same connection.  It
# signals "ready" after the first and waits for the test's "go" (a FIFO) before the second.
mkfifo "$PK_TMP/ka.go"
python3 - "$IP" "$PK_TMP/ka.go" >"$PK_TMP/ka.out" 2>&1 <<'PY' &
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=60)
def get():
    c.request("GET", "/blob"); r = c.getresponse(); body = r.read(); return r.status, len(body)
a = get()
sock = c.sock
print("ready", flush=True)
open(sys.argv[2]).read()             # blocks until the test writes "go": the clone is done
b = get()
print("keepalive", a, b, "same-socket" if c.sock is sock else "reconnected")
PY
KA=$!
PK_PIDS+=("$KA")
pk_wait_log "$PK_TMP/ka.out" '^ready$' 30 || exit 1
if "$PK_BIN" clone "$PROD" "$DBG" --json >"$PK_TMP/clone.json" 2>"$PK_TMP/clone.err"; then pk_ok clone; else pk_fail clone "$(cat "$PK_TMP/clone.err")"; exit 1; fi
MGMT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mgmt_ip"])' "$PK_TMP/clone.json")
pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth"; exit 1; }
pk_expect_eq clone-serves-same-file "$(curl -sf "http://$MGMT/blob" | sha256sum | cut -d' ' -f1)" "$want"
timeout 30 sh -c 'echo go >"$1"' sh "$PK_TMP/ka.go" # bounded: the client may have died
wait "$KA"
pk_expect_eq keepalive-client-unbroken "$(grep -v '^ready$' "$PK_TMP/ka.out")" "keepalive (200, 300000) (200, 300000) same-socket"

# Writes inside either container stay there (each has its own overlay upper dir).
runc exec "$PROD" sh -c 'echo production-only > /srv-pk-test' && runc exec "$DBG" sh -c 'echo clone-only > /srv-pk-test-clone'
pk_expect_eq prod-file-not-in-clone "$(runc exec "$DBG" sh -c 'cat /srv-pk-test 2>/dev/null || echo absent')" absent
pk_expect_eq clone-file-not-in-prod "$(runc exec "$PROD" sh -c 'cat /srv-pk-test-clone 2>/dev/null || echo absent')" absent
pk_expect_eq host-untouched "$( [ -e /srv-pk-test ] || [ -e /srv-pk-test-clone ] && echo touched || echo clean)" clean
pk_expect_eq both-serve "$(curl -s -o /dev/null -w '%{http_code}' "http://$IP/blob") $(curl -s -o /dev/null -w '%{http_code}' "http://$MGMT/blob")" "200 200"
pk_check rm "$PK_BIN" container rm "$DBG"
pk_check rm-prod "$PK_BIN" container rm "$PROD"
pk_no_debris no-debris "$PROD" "$DBG"
