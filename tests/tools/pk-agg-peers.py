#!/usr/bin/env python3
"""pk-agg-peers.py — production's service and the clone's service as small python clients of
`parikshan agg` (a Redis backend behind it), for the pairing tests.

    pk-agg-peers.py sequence LISTEN_PORT DEBUG_PORT N same|differ
    pk-agg-peers.py reorder LISTEN_PORT DEBUG_PORT

sequence: production opens N connections one after the other, each sending ECHO msg-I, with a
port probe (connect, close, nothing sent) before and after each; then the clone opens N
connections in the same order (after two probes of its own), sending the same requests ("same") or other
requests of the same length ("differ").  reorder: production opens connections a, b, c and
sends on each, in that order, its first request (ECHO a-1 ...), then its second; the clone
opens c, a, b and sends in that order.  Every clone connection reads what agg replays until
EOF.  Prints one line per clone connection: "NAME got=ANSWERS want=ANSWERS" and finally "ok"
or "mismatch".  Every socket operation has a timeout.
"""
import socket
import sys

TIMEOUT = 10


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def bulk(s):
    return b"$%d\r\n%s\r\n" % (len(s), s.encode())


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def probe(port):
    connect(port).close()


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed after %r" % data)
        data += chunk
    return data


def read_to_eof(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def report(results):
    ok = True
    for name, got, want in results:
        print("%s got=%r want=%r" % (name, got, want))
        ok = ok and got == want
    print("ok" if ok else "mismatch")


def sequence(lport, dport, n, mode):
    for i in range(1, n + 1):  # production, one connection at a time, probes around
        probe(lport)
        s = connect(lport)
        s.sendall(resp("ECHO", "msg-%02d" % i))
        read_exactly(s, len(bulk("msg-%02d" % i)))
        s.close()
    probe(lport)
    results = []
    probe(dport)  # the clone's own probes, which do not line up with production's
    probe(dport)
    for i in range(1, n + 1):  # the clone, in the same order
        s = connect(dport)
        s.sendall(resp("ECHO", ("msg-%02d" if mode == "same" else "cln-%02d") % i))
        s.shutdown(socket.SHUT_WR)
        results.append(("clone-%02d" % i, read_to_eof(s), bulk("msg-%02d" % i)))
        s.close()
    report(results)


def reorder(lport, dport):
    names = ["a", "b", "c"]
    prod = {x: connect(lport) for x in names}
    for step in (1, 2):
        for x in names:
            prod[x].sendall(resp("ECHO", "%s-%d" % (x, step)))
            read_exactly(prod[x], len(bulk("%s-%d" % (x, step))))
    clone = {x: connect(dport) for x in ["c", "a", "b"]}  # opened in another order
    for step in (1, 2):
        for x in ["c", "a", "b"]:
            clone[x].sendall(resp("ECHO", "%s-%d" % (x, step)))
    for x in names:
        prod[x].close()
    results = []
    for x in ["c", "a", "b"]:
        clone[x].shutdown(socket.SHUT_WR)
        results.append(("clone-" + x, read_to_eof(clone[x]), bulk("%s-1" % x) + bulk("%s-2" % x)))
    report(results)


if sys.argv[1] == "sequence":
    sequence(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
else:
    reorder(int(sys.argv[2]), int(sys.argv[3]))
