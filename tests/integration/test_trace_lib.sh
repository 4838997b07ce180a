#!/bin/bash
# libparikshan_trace.so under real programs (issue 12): curl against python3's http.server,
# redis-cli and redis-benchmark against redis-server, nginx (2 workers) as a reverse proxy, a
# fork+exec chain that strips LD_PRELOAD, a static binary, no sink at all, and a tight loop
# that overflows the rings.  A small Python sink (tests/tools/pk-trace-sink.py) stands in for
# logd and decodes the frames; every application result must be what it is without the library.
. "$(dirname "$0")/lib.sh"

LIB=$(dirname "$PK_BIN")/libparikshan_trace.so
SINK=$(dirname "$0")/../tools/pk-trace-sink.py
[ -f "$LIB" ] || {
	pk_fail setup "$LIB not built"
	exit 1
}
# nginx's workers run as nobody: the sink's socket must be reachable (0711 dir, 0666 socket)
chmod 0711 "$PK_TMP"
export PARIKSHAN_TRACE_SOCK=$PK_TMP/trace.sock
OUT=$PK_TMP/recs.jsonl
pk_bg sink python3 "$SINK" "$PARIKSHAN_TRACE_SOCK" "$OUT"
pk_wait_for "the sink's socket" 10 test -S "$PARIKSHAN_TRACE_SOCK" || exit 1
chmod 0666 "$PARIKSHAN_TRACE_SOCK"

# recs_ok PYTHON: the records so far satisfy PYTHON, an expression over H (hellos), R (records)
# and the helpers below; prints what it saw when not.
recs_ok() {
	python3 - "$OUT" "$1" <<'EOF'
import json, sys
H, R, B = [], [], []
for line in open(sys.argv[1]):
    o = json.loads(line)
    {"hello": H, "rec": R, "bad": B}[o["t"]].append(o)
comm = {h["conn"]: h["comm"] for h in H}  # per connection: an exec'ed image has its own
def by(call=None, c=None, **kw):
    return [r for r in R if (call is None or r["call"] == call) and
            (c is None or comm.get(r["conn"]) == c) and all(r[k] == v for k, v in kw.items())]
def offsets_ok(pid):
    """per (pid, fd, direction): each data record starts where the previous one ended (after
    the process lost records, at or after: the dropped ones moved bytes too)"""
    nxt = {}
    gaps = any(r["call"] == "DROPS" for r in R if r["pid"] == pid) or \
        any(h["dropped"] for h in H if h["pid"] == pid)
    for r in R:
        if r["pid"] != pid:
            continue
        if r["call"] in ("ACCEPT", "CONNECT", "CLOSE"):
            nxt = {k: v for k, v in nxt.items() if k[0] != r["fd"]}
        if r["call"] in ("READ", "WRITE") and r["ret"] > 0:
            k = (r["fd"], r["call"])
            if k in nxt and (r["offset"] < nxt[k] if gaps else r["offset"] != nxt[k]):
                print("offset gap: pid %d fd %d %s at %d, want %d" % (pid, r["fd"], r["call"],
                      r["offset"], nxt[k]))
                return False
            nxt[k] = r["offset"] + r["ret"]
    return True
ok = not B and eval("(" + sys.argv[2] + ")")
if not ok:
    print("bad frames: %s; %d hellos %s; %d records" % (B[:2], len(H),
          sorted({(h["pid"], h["comm"], h["flags"]) for h in H})[-8:], len(R)))
sys.exit(0 if ok else 1)
EOF
}
# expect_recs NAME PYTHON: waits (the flusher sends every ~10 ms) until recs_ok PYTHON.
expect_recs() {
	pk_wait_for "$1" 15 recs_ok "$2" && pk_ok "$1"
}

# ---- curl -> python3 http.server, both traced ----
HTTP=$(pk_free_port)
mkdir -p "$PK_TMP/www/r"
for i in $(seq 1 20); do echo "resource $i" >"$PK_TMP/www/r/$i"; done
pk_bg http env LD_PRELOAD="$LIB" python3 -m http.server --bind 127.0.0.1 --directory "$PK_TMP/www" \
	"$HTTP"
pk_wait_port "$HTTP" || exit 1
got=$(LD_PRELOAD="$LIB" curl -sf "http://127.0.0.1:$HTTP/r/17")
pk_expect_eq curl_result "$got" "resource 17"
expect_recs curl_records "
any(r['peek'].startswith('GET /r/17 HTTP/1.1') and r['flags'] & 0x14 == 0x14 and
    r['peer'] == '127.0.0.1:$HTTP' and r['offset'] == 0 for r in by('WRITE', 'curl'))
and any(r['peek'].startswith('HTTP/1.0 200') for r in by('READ', 'curl'))
and by('CONNECT', 'curl', peer='127.0.0.1:$HTTP')"
expect_recs server_records "
any(r['local'] == '127.0.0.1:$HTTP' and r['flags'] & 0x0c == 0x0c for r in by('ACCEPT'))
and any(r['peek'].startswith('GET /r/17 HTTP/1.1') and r['local'] == '127.0.0.1:$HTTP' and
        r['offset'] == 0 and
        r['peer'] in [w['local'] for w in by('WRITE', 'curl')] for r in by('READ'))
and any(r['peek'].startswith('HTTP/1.0 200') and r['local'] == '127.0.0.1:$HTTP'
        for r in by('WRITE'))
and all(offsets_ok(h['pid']) for h in H)"

# errno as the application sees it: the wrappers' own work never changes it
got=$(LD_PRELOAD="$LIB" python3 -c "
import errno, os, socket
try: os.read(999, 1)
except OSError as e: assert e.errno == errno.EBADF, e
a, b = socket.socketpair(); a.setblocking(False)
try: a.recv(1); assert False
except BlockingIOError: pass
s = socket.socket()
try: s.connect(('127.0.0.1', $(pk_free_port))); assert False
except ConnectionRefusedError: pass
b.send(b'z'); assert a.recv(1) == b'z'
print('errno ok')" 2>&1)
pk_expect_eq errno_kept "$got" "errno ok"

# bad pointers and descriptors: the same results and errnos, no crash
"$PK_TOOLS/trace-badargs" >"$PK_TMP/bad.plain" 2>&1
LD_PRELOAD="$LIB" "$PK_TOOLS/trace-badargs" >"$PK_TMP/bad.lib" 2>&1
pk_check bad_args diff "$PK_TMP/bad.plain" "$PK_TMP/bad.lib"

# the skew knob: this process's clock +200 ms, in its records and its hello
got=$(PARIKSHAN_TRACE_SKEW_MS=200 LD_PRELOAD="$LIB" curl -sf "http://127.0.0.1:$HTTP/r/18")
pk_expect_eq skew_result "$got" "resource 18"
expect_recs skew_records "
[w['ts'] - r['ts'] > 150e6 for w in by('WRITE', 'curl') if w['peek'].startswith('GET /r/18 ')
 for r in by('READ') if r['local'] == '127.0.0.1:$HTTP' and r['peek'].startswith('GET /r/18 ')]
 == [True]"

# ---- redis-server, redis-cli, redis-benchmark ----
RPORT=$(pk_free_port)
LD_PRELOAD="$LIB" pk_redis redis "$RPORT" || exit 1
got=$(LD_PRELOAD="$LIB" redis-cli -p "$RPORT" set k17 v17)$(LD_PRELOAD="$LIB" redis-cli -p "$RPORT" get k17)
pk_expect_eq redis_cli_result "$got" "OKv17"
got=$(LD_PRELOAD="$LIB" timeout 120 redis-benchmark -p "$RPORT" -n 2000 -c 5 -t set,get -q 2>&1 |
	tr '\r' '\n' | grep -cE '^(SET|GET): [0-9.]+ requests per second')
pk_expect_eq redis_benchmark_result "$got" 2
got=$(redis-cli -p "$RPORT" dbsize)
pk_expect_eq redis_keys "$got" 2
expect_recs redis_records "
any('k17' in r['peek'] and r['local'] == '127.0.0.1:$RPORT'
    for r in by('READ', 'redis-server'))
and any(r['peek'] == '+OK\r\n' for r in by('WRITE', 'redis-server'))
and len([r for r in by('READ', 'redis-benchmark') if r['ret'] > 0]) >= 100
and len([r for r in by('READ', 'redis-server') if r['ret'] > 0]) >= 100
and all(offsets_ok(h['pid']) for h in H if h['comm'].startswith('redis'))"

# ---- nginx (master + 2 workers) as a reverse proxy to the http.server ----
NPORT=$(pk_free_port)
SPORT=$(pk_free_port)
mkdir -p "$PK_TMP/nginx"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PK_TMP/tls.key" -out "$PK_TMP/tls.crt" \
	-days 2 -subj /CN=localhost >/dev/null 2>&1 || {
	pk_fail setup "openssl req failed"
	exit 1
}
cat >"$PK_TMP/nginx.conf" <<CONF
worker_processes 2;
pid $PK_TMP/nginx.pid;
error_log $PK_TMP/nginx-error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $PK_TMP/nginx/body;
	proxy_temp_path $PK_TMP/nginx/proxy;
	fastcgi_temp_path $PK_TMP/nginx/fastcgi;
	uwsgi_temp_path $PK_TMP/nginx/uwsgi;
	scgi_temp_path $PK_TMP/nginx/scgi;
	upstream back { server 127.0.0.1:$HTTP; keepalive 4; }
	server {
		listen 127.0.0.1:$NPORT;
		location / { proxy_pass http://back; proxy_http_version 1.1;
			proxy_set_header Connection ""; }
	}
	server {
		listen 127.0.0.1:$SPORT ssl;
		ssl_certificate $PK_TMP/tls.crt;
		ssl_certificate_key $PK_TMP/tls.key;
		location / { proxy_pass http://back; }
	}
}
CONF
pk_bg nginx env LD_PRELOAD="$LIB" nginx -c "$PK_TMP/nginx.conf" -g 'daemon off;'
pk_wait_port "$NPORT" || exit 1
bad=0
for i in $(seq 1 20); do
	got=$(curl -sf "http://127.0.0.1:$NPORT/r/$i") || got=failed
	[ "$got" = "resource $i" ] || bad=$((bad + 1))
done
pk_expect_eq nginx_results "$bad" 0
expect_recs nginx_records "
len([h for h in H if h['comm'] == 'nginx' and h['flags'] & 1]) >= 2
and len(by('FORK', 'nginx')) >= 2
and {r['arg'] for r in by('FORK', 'nginx')} >= {h['pid'] for h in H
                                                if h['comm'] == 'nginx' and h['flags'] & 1}
and all(h['ppid'] in {m['pid'] for m in H if m['comm'] == 'nginx' and not m['flags'] & 1}
        for h in H if h['comm'] == 'nginx' and h['flags'] & 1)
and len([r for r in by('ACCEPT', 'nginx') if r['local'] == '127.0.0.1:$NPORT']) >= 20
and {int(r['peek'].split()[1][3:]) for r in by('READ', 'nginx')
     if r['local'] == '127.0.0.1:$NPORT' and r['peek'].startswith('GET /r/')} == set(range(1, 21))
and {int(r['peek'].split()[1][3:]) for r in by('WRITE', 'nginx')
     if r['peer'] == '127.0.0.1:$HTTP' and r['peek'].startswith('GET /r/')} == set(range(1, 21))
and all(offsets_ok(h['pid']) for h in H if h['comm'] == 'nginx')"

# HTTPS at the front: nginx's plaintext recorded (PK_TRACE_F_TLS), never its ciphertext
bad=0
for i in $(seq 31 35); do
	echo "resource $i" >"$PK_TMP/www/r/$i"
	got=$(curl -sfk "https://127.0.0.1:$SPORT/r/$i") || got=failed
	[ "$got" = "resource $i" ] || bad=$((bad + 1))
done
pk_expect_eq https_results "$bad" 0
expect_recs https_records "
{r['peek'].split()[1] for r in by('READ', 'nginx')
 if r['local'] == '127.0.0.1:$SPORT' and r['flags'] & 1 and r['peek'].startswith('GET /r/')}
  == {'/r/%d' % i for i in range(31, 36)}
and len([r for r in by('WRITE', 'nginx') if r['local'] == '127.0.0.1:$SPORT' and
         r['flags'] & 1 and r['peek'].startswith('HTTP/1.1 200')]) == 5
and not [r for r in by(None, 'nginx') if r['local'] == '127.0.0.1:$SPORT' and
         r['call'] in ('READ', 'WRITE') and r['ret'] > 0 and not r['flags'] & 1]"

# python's ssl module (libssl loaded with it, SSL_read_ex/SSL_write_ex): same result, plaintext
got=$(LD_PRELOAD="$LIB" python3 -c "
import ssl, urllib.request
ctx = ssl._create_unverified_context()
print(urllib.request.urlopen('https://127.0.0.1:$SPORT/r/32', context=ctx).read().decode().strip())")
pk_expect_eq python_https_result "$got" "resource 32"
expect_recs python_https_records "
any(r['flags'] & 0x11 == 0x11 and r['peek'].startswith('GET /r/32 ') for r in by('WRITE', 'python3'))
and any(r['flags'] & 1 and r['peek'].startswith('HTTP/1.1 200') for r in by('READ', 'python3'))
and not [r for r in by(None, 'python3') if r['peer'] == '127.0.0.1:$SPORT' and
         r['call'] in ('READ', 'WRITE') and r['ret'] > 0 and not r['flags'] & 1]"

# curl gives OpenSSL a BIO of its own (SSL_get_fd says -1): the descriptor is learnt from the
# socket calls inside its SSL calls; plaintext only
got=$(LD_PRELOAD="$LIB" curl -sfk "https://127.0.0.1:$SPORT/r/33")
pk_expect_eq curl_https_result "$got" "resource 33"
expect_recs curl_https_records "
any(r['flags'] & 0x11 == 0x11 and r['peek'].startswith('GET /r/33 ') for r in by('WRITE', 'curl'))
and any(r['flags'] & 1 and r['peek'].startswith('HTTP/1.1 200') for r in by('READ', 'curl'))
and not [r for r in by(None, 'curl') if r['peer'] == '127.0.0.1:$SPORT' and
         r['call'] in ('READ', 'WRITE') and r['ret'] > 0 and not r['flags'] & 1]"

# ---- fork + exec chain: LD_PRELOAD removed by env, put back; a static binary reported ----
STATIC=$PK_TOOLS/static-hello
got=$(LD_PRELOAD="$LIB" bash -c "x=\$(env -u LD_PRELOAD curl -sf \
http://127.0.0.1:$HTTP/r/3); echo \"\$x\"; if [ -x '$STATIC' ]; then '$STATIC' chain; fi; true")
want="resource 3"
[ -x "$STATIC" ] && want="$want
static chain"
pk_expect_eq chain_results "$got" "$want"
expect_recs chain_records "
any(h['comm'] == 'curl' and h['flags'] & 2 for h in H)
and any(r['peek'].endswith('curl') for r in by('EXEC', 'env'))
and by('FORK', 'bash')
and any(r['peek'].startswith('GET /r/3 ') for r in by('WRITE', 'curl'))"
# posix_spawnp with an environment without the library: put back, the child says it was spawned
LD_PRELOAD="$LIB" python3 -c "
import os
env = {k: v for k, v in os.environ.items() if k not in ('LD_PRELOAD', '$(echo PARIKSHAN_TRACE_SOCK)')}
out = os.open('$PK_TMP/spawn.out', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
fa = [(os.POSIX_SPAWN_DUP2, out, 1)]
pid = os.posix_spawnp('curl', ['curl', '-sf', 'http://127.0.0.1:$HTTP/r/4'], env, file_actions=fa)
os.waitpid(pid, 0)
print(pid)" >"$PK_TMP/spawn.pid"
pk_expect_eq spawn_result "$(cat "$PK_TMP/spawn.out")" "resource 4"
SPID=$(cat "$PK_TMP/spawn.pid")
expect_recs spawn_records "
any(h['pid'] == $SPID and h['comm'] == 'curl' and h['flags'] == 3 for h in H)
and any(r['arg'] == $SPID for r in by('FORK', 'python3'))
and any(r['peek'].startswith('GET /r/4 ') and r['pid'] == $SPID for r in by('WRITE', 'curl'))"
if [ -x "$STATIC" ]; then
	expect_recs static_reported "any(r['peek'] == '$STATIC' for r in by('STATIC'))"
else
	pk_fail static_reported "no libc.a: no static test binary (scripts/deps.sh installs it)"
fi

# ---- no sink: the program runs the same, its records are dropped and counted ----
got=$(PARIKSHAN_TRACE_SOCK=$PK_TMP/nobody.sock LD_PRELOAD="$LIB" curl -sf \
	"http://127.0.0.1:$HTTP/r/5")
pk_expect_eq no_sink_result "$got" "resource 5"
# a process that starts without a sink and meets one later says how many it lost
LATE=$PK_TMP/late.sock
pk_bg late env PARIKSHAN_TRACE_SOCK="$LATE" LD_PRELOAD="$LIB" python3 -c "
import os, socket, sys, time
a, b = socket.socketpair()
for i in range(200):
    a.send(b'x' * 10); b.recv(10)
open('$PK_TMP/late.ready', 'w').write('1')
for i in range(400):
    if os.path.exists('$PK_TMP/late.go'): break
    time.sleep(0.05)
a.send(b'y'); b.recv(1)
for i in range(400):
    if os.path.exists('$PK_TMP/late.end'): break
    time.sleep(0.05)
"
pk_wait_file "$PK_TMP/late.ready" 20 || exit 1
OUT_MAIN=$OUT
OUT=$PK_TMP/late.jsonl
pk_bg sink2 python3 "$SINK" "$LATE" "$OUT"
pk_wait_for "the second sink's socket" 10 test -S "$LATE" || exit 1
expect_recs drops_counted "any(h['dropped'] >= 400 for h in H)"
touch "$PK_TMP/late.go"
expect_recs late_records "by('READ', ret=1) and by('WRITE', ret=1)"
touch "$PK_TMP/late.end"
OUT=$OUT_MAIN

# ---- a tight loop: rings overflow, every record is either sent or counted ----
N=200000
got=$(LD_PRELOAD="$LIB" "$PK_TOOLS/trace-bench" $N | cut -d' ' -f1-2)
pk_expect_eq bench_result "$got" "pairs $N"
expect_recs bench_accounting "
[len([r for r in R if r['pid'] == h['pid'] and r['call'] in ('READ', 'WRITE')]) +
 sum(r['ret'] for r in R if r['pid'] == h['pid'] and r['call'] == 'DROPS') + h['dropped']
 for h in H if h['comm'] == 'trace-bench'] == [2 * $N]"
