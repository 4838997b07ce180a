#!/usr/bin/env python3
"""pk-trace-backend.py — the middle tier of the tracing tests and bench: an HTTP/1.1 server
(a thread per client connection, keep-alive) whose GET /r/ID answers 200 with the value of the
redis key "key:ID", read over one persistent redis connection per thread (RESP); a missing key
is a 404.  Nothing but the standard library, so that every call it makes goes through libc.
It listens on HOST (default 127.0.0.1); redis is at 127.0.0.1.

usage: pk-trace-backend.py PORT REDIS_PORT [HOST]     prints "ready PORT" once it listens
"""
import http.server
import socket
import sys
import threading

REDIS_PORT = 0
LOCAL = threading.local()


def redis_get(key):
    """GET key over this thread's redis connection (opened on first use); None when missing."""
    conn = getattr(LOCAL, "redis", None)
    if conn is None:
        conn = socket.create_connection(("127.0.0.1", REDIS_PORT))
        LOCAL.redis = conn
        LOCAL.buf = b""
    k = key.encode()
    conn.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k))
    while b"\r\n" not in LOCAL.buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        LOCAL.buf += chunk
    head, _, rest = LOCAL.buf.partition(b"\r\n")
    if head == b"$-1":
        LOCAL.buf = rest
        return None
    if not head.startswith(b"$"):
        raise ValueError("unexpected redis reply %r" % head)
    n = int(head[1:])
    while len(rest) < n + 2:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        rest += chunk
    LOCAL.buf = rest[n + 2:]
    return rest[:n]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are two writes: without TCP_NODELAY the second waits for the peer's
    # delayed ACK (40 ms) on every keep-alive request
    disable_nagle_algorithm = True
    # an idle timeout, as servers have: a thread then waits for the next request on its
    # keep-alive connection in poll and reads it with recv once it is there, so a request
    # arriving after `trace attach` is read by a hooked recv (a thread blocked in recv itself
    # when the library arrives would miss that one request, USAGE)
    timeout = 3600

    def do_GET(self):
        if not self.path.startswith("/r/"):
            self.send_error(404)
            return
        value = redis_get("key:" + self.path[3:])
        body = value if value is not None else b"no such key\n"
        self.send_response(200 if value is not None else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    global REDIS_PORT
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    port, REDIS_PORT = int(sys.argv[1]), int(sys.argv[2])
    host = sys.argv[3] if len(sys.argv) == 4 else "127.0.0.1"
    # the default backlog (5) overflows when nginx opens connections in a burst, and a dropped
    # SYN is retried after a second
    http.server.ThreadingHTTPServer.request_queue_size = 128
    srv = http.server.ThreadingHTTPServer((host, port), Handler)
    srv.daemon_threads = True
    print("ready", port, flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
