# pk-trace-chain.sh — the three-tier chain of the tracing test and bench, sourced by
# tests/integration/test_trace_chain.sh and bench/trace.sh:
#   nginx (master + 2 workers, HTTP on FPORT and HTTPS on SPORT with a self-signed
#   certificate, keep-alive upstream connections) -> tests/tools/pk-trace-backend.py on BPORT
#   -> redis-server on RPORT.
# The caller starts the processes (with or without `parikshan trace run`); these functions
# write what they need.

# trace_chain_conf DIR FPORT SPORT BPORT: writes DIR/front.conf, DIR/cert.pem and DIR/key.pem;
# fails with openssl's output on stderr.
trace_chain_conf() {
	local dir=$1 fport=$2 sport=$3 bport=$4
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" >"$dir/openssl.log" 2>&1 ||
		{ cat "$dir/openssl.log" >&2; return 1; }
	cat >"$dir/front.conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
user root;
pid $dir/front.pid;
error_log $dir/front-error.log;
events { worker_connections 1024; }
http {
	access_log off;
	upstream backend { server 127.0.0.1:$bport; keepalive 16; }
	server {
		listen 127.0.0.1:$fport;
		listen 127.0.0.1:$sport ssl;
		ssl_certificate $dir/cert.pem;
		ssl_certificate_key $dir/key.pem;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
CONF
}

# trace_chain_keys RPORT ID...: sets redis key "key:ID" to "value-ID" for every ID.
trace_chain_keys() {
	python3 - "$@" <<'PY'
import socket, sys
port, ids = int(sys.argv[1]), [i.encode() for i in sys.argv[2:]]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%s\r\n$%d\r\nvalue-%s\r\n" %
                   (len(i) + 4, i, len(i) + 6, i) for i in ids))
got = b""
while got.count(b"+OK\r\n") < len(ids):
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("redis closed the connection")
    got += chunk
PY
}

# trace_chain_get URL...: fetches every URL over one keep-alive connection (curl, certificates
# not checked), prints one status per URL.
trace_chain_get() {
	local args=() u
	for u in "$@"; do args+=(-o /dev/null "$u"); done
	curl -sk --max-time 60 -w '%{http_code}\n' "${args[@]}"
}

# trace_chain_warm FPORT BPORT OUT: 8 concurrent keep-alive clients fetch a URL each through the
# front on FPORT, so that nginx opens its upstream connections to the backend on BPORT; their
# statuses go to OUT.codes and the local ports of the upstream connections then established to
# OUT.ports (one per line).
trace_chain_warm() {
	local fport=$1 bport=$2 out=$3 clients=() i
	for i in 1 2 3 4 5 6 7 8; do
		trace_chain_get "http://127.0.0.1:$fport/r/w$i" >>"$out.codes" &
		clients+=($!)
	done
	wait "${clients[@]}"
	ss -tnH state established "( dport = :$bport )" | awk '{ split($3, a, ":"); print a[2] }' |
		sort -u >"$out.ports"
}

# trace_chain_requests N FPORT SPORT OUT: requests /r/1../r/N through the front over 4
# concurrent keep-alive clients, the first half over HTTP (FPORT), the rest over HTTPS (SPORT);
# client c's statuses go to OUT.c.
trace_chain_requests() {
	local n=$1 fport=$2 sport=$3 out=$4 c i clients=() urls
	for c in 0 1 2 3; do
		urls=()
		for ((i = c + 1; i <= n; i += 4)); do
			if ((i <= n / 2)); then urls+=("http://127.0.0.1:$fport/r/$i"); else urls+=("https://127.0.0.1:$sport/r/$i"); fi
		done
		trace_chain_get "${urls[@]}" >"$out.$c" &
		clients+=($!)
	done
	wait "${clients[@]}"
}

# trace_chain_wait_paths DB N (tests only: lib.sh's pk_wait_for): waits up to 60 s until
# `trace analyze` of DB counts N complete paths (the processes flush every few ms); at the
# deadline, prints what analyze said and fails.
trace_chain_wait_paths() {
	local db=$1 n=$2
	paths_ready() {
		"$PK_BIN" trace analyze --db "$db" --json >"$PK_TMP/analyze.json" 2>"$PK_TMP/analyze.err" &&
			python3 -c 'import json, sys; a = json.load(open(sys.argv[1])); sys.exit(a["complete"] < int(sys.argv[2]))' \
				"$PK_TMP/analyze.json" "$n"
	}
	pk_wait_for "$n complete paths" 60 paths_ready && return 0
	echo "# analyze at the deadline: $(cat "$PK_TMP/analyze.json" "$PK_TMP/analyze.err" 2>/dev/null | head -c 4000)"
	return 1
}

# trace_chain_verdict NAME DB (tests only: lib.sh's pk_ok/pk_fail): the check "paths-exact" by
# the exit status of the last command ($? when called); on failure the store and
# $PK_TMP/paths.json are kept as build/test-artifacts/trace-NAME-failed.*; prints the check's
# output ($PK_TMP/check.out) either way.
trace_chain_verdict() {
	local rc=$? name=$1 db=$2 art=${PK_ARTIFACTS:-$PK_ROOT/build/test-artifacts}
	if [ "$rc" -eq 0 ]; then
		pk_ok paths-exact
	else
		pk_fail paths-exact "$(tail -n 5 "$PK_TMP/check.out")"
		mkdir -p "$art" && cp "$db" "$art/trace-$name-failed.sqlite" &&
			cp "$PK_TMP/paths.json" "$art/trace-$name-failed.json"
	fi
	cat "$PK_TMP/check.out"
}
