#!/usr/bin/env python3
"""pk-trace-client.py — plays traced processes against `parikshan trace logd`: writes the frames
of include/parikshan/trace.h (struct-packed) on its Unix socket.

  pk-trace-client.py SOCK good PID NRECS [DROPPED]  a hello, then NRECS records (READ/WRITE
                                                    pairs with HTTP peeks) in frames of 100,
                                                    one DROPS record of 5, then close
  pk-trace-client.py SOCK bad KIND                  a good connection A (hello), a connection B
                                                    sending KIND (magic, version, call, peek,
                                                    count, recs-first, garbage); waits until
                                                    logd closes B, then A sends 10 records
Prints "done" at the end.
"""
import socket
import struct
import sys

MAGIC = 0x31525450
HELLO, RECS = 1, 2
READ, WRITE, DROPS = 3, 4, 10


def frame(t, count, payload):
    return struct.pack("<IIII", MAGIC, t, len(payload), count) + payload


def hello(pid, version=1, dropped=0):
    return frame(HELLO, 1, struct.pack("<IiiIQQQ256s16s", version, pid, 1, 0, 1000,
                                       1700000000 * 10**9, dropped, b"/usr/bin/pk-fake",
                                       b"pk-fake"))


def addr(port):
    return struct.pack("<HH16s", 2, port, b"\x7f\0\0\x01")


def rec(call, ts, peek=b"", ret=None, plen=None):
    return struct.pack("<BBHIQiiqQ", call, 0x0C, len(peek) if plen is None else plen, 7, ts, 5,
                       0, len(peek) if ret is None else ret, 0) + addr(8080) + addr(40000) + \
        peek.ljust(64, b"\0")


def recs(n, base=0):
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(rec(READ, base + i, b"GET /r/%d HTTP/1.1\r\n" % (base + i)))
        else:
            out.append(rec(WRITE, base + i, b"HTTP/1.1 200 OK\r\n"))
    return out


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    return s


def send_recs(s, rs):
    for i in range(0, len(rs), 100):
        chunk = rs[i:i + 100]
        s.sendall(frame(RECS, len(chunk), b"".join(chunk)))


def good(path, pid, n, dropped=0):
    s = connect(path)
    s.sendall(hello(pid, dropped=dropped))
    send_recs(s, recs(n))
    s.sendall(frame(RECS, 1, rec(DROPS, n, ret=5)))
    s.close()


def bad(path, kind):
    a = connect(path)
    a.sendall(hello(1001))
    b = connect(path)
    data = {
        "magic": b"XXXX" + hello(1002)[4:],
        "version": hello(1002, version=9),
        "call": hello(1002) + frame(RECS, 1, rec(99, 1)),
        "peek": hello(1002) + frame(RECS, 1, rec(READ, 1, plen=200)),
        "count": hello(1002) + frame(RECS, 3, rec(READ, 1)),
        "recs-first": frame(RECS, 1, rec(READ, 1)),
        "garbage": bytes(range(256)) * 4,
    }[kind]
    try:
        b.sendall(data)
        while b.recv(4096):  # logd sends nothing: recv returns b"" when it closes B
            pass
    except ConnectionResetError:
        pass
    b.close()
    send_recs(a, recs(10, 500))
    a.close()


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "good":
        good(path, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    elif mode == "bad":
        bad(path, sys.argv[3])
    else:
        sys.exit("unknown mode " + mode)
    print("done", flush=True)


if __name__ == "__main__":
    main()
