#!/usr/bin/env python3
"""pk-redispaced.py - Redis SETs at a constant rate, replies read and checked.

usage: pk-redispaced.py PORT RATE VALUE_BYTES SECONDS

Connects to 127.0.0.1:PORT and sends "SET pk:paced:<i % 1000> <VALUE_BYTES bytes>" so that RATE
commands a second leave on average (deadline-paced: a late sender catches up), for SECONDS,
while a thread reads the replies; then waits (up to 60 s) for every reply.  Prints one line
"sent=<n> ok=<n> errors=<n>" and exits 0 only when every reply is +OK.  Only 127.0.0.1 is
ever contacted.
"""
import socket
import sys
import threading
import time


def main():
    port, rate, size, seconds = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.create_connection(("127.0.0.1", port))
    value = b"v" * size
    counts = {"ok": 0, "err": 0}
    done = threading.Event()

    def reader():
        buf = b""
        while not done.is_set() or counts["ok"] + counts["err"] < sent:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                counts["ok" if line == b"+OK" else "err"] += 1

    s.settimeout(0.5)
    sent = 1 << 62  # until the sender knows its count
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        due = start + n / rate
        now = time.monotonic()
        if due > now:
            time.sleep(min(due - now, 0.01))
            continue
        key = b"pk:paced:%d" % (n % 1000)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value))
        n += 1
    sent = n
    done.set()
    th.join(60)
    print(f"sent={n} ok={counts['ok']} errors={counts['err']}")
    s.close()
    return 0 if counts["ok"] == n and counts["err"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
