#!/usr/bin/env python3
"""pk-front.py — a tiny HTTP front service with a Redis backend, for the two-tier tests.

    pk-front.py LISTEN_PORT BACKEND_HOST BACKEND_PORT [--per-request] [--bind ADDR]

GET /incr/KEY, /get/KEY, /set/KEY/VALUE run INCR, GET, SET on the backend and answer
"HTTP/1.1 200 OK" with the backend's reply as the body.  Responses carry no Date header, so
two instances given the same backend answers send byte-identical responses.  One persistent
backend connection is opened at start (or one per request with --per-request).  One thread,
requests handled in arrival order.  Listens on 127.0.0.1 (or --bind ADDR).  Prints "ready"
once listening.
"""
import selectors
import socket
import sys


def resp_command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Backend:
    def __init__(self, host, port, per_request):
        self.addr, self.per_request, self.sock, self.buf = (host, port), per_request, None, b""
        if not per_request:
            self.connect()

    def connect(self):
        self.sock = socket.create_connection(self.addr, timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("backend closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def readn(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("backend closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def call(self, *args):
        if self.per_request:
            self.connect()
        self.sock.sendall(resp_command(*args))
        line = self.readline()
        if line[:1] == b"$":
            n = int(line[1:])
            reply = b"(nil)" if n < 0 else self.readn(n)
        else:
            reply = line[1:]
        if self.per_request:
            self.sock.close()
        return reply


def handle(backend, path):
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] in ("incr", "get"):
        return 200, backend.call(parts[0].upper(), parts[1])
    if len(parts) == 3 and parts[0] == "set":
        return 200, backend.call("SET", parts[1], parts[2])
    return 404, b"not found"


def main():
    port, bhost, bport = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    backend = Backend(bhost, bport, "--per-request" in sys.argv[4:])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    args = sys.argv[4:]
    bind = args[args.index("--bind") + 1] if "--bind" in args else "127.0.0.1"
    lsock.bind((bind, port))
    lsock.listen(128)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    print("ready", flush=True)
    bufs = {}
    while True:
        for key, _ in sel.select():
            if key.data is None:
                conn, _ = lsock.accept()
                conn.setblocking(True)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ, "client")
                bufs[conn] = b""
                continue
            conn = key.fileobj
            try:
                chunk = conn.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(conn)
                conn.close()
                del bufs[conn]
                continue
            bufs[conn] += chunk
            while b"\r\n\r\n" in bufs[conn]:
                head, bufs[conn] = bufs[conn].split(b"\r\n\r\n", 1)
                path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
                code, body = handle(backend, path)
                reason = b"OK" if code == 200 else b"Not Found"
                conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s" %
                             (code, reason, len(body), body))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
