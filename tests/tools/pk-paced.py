#!/usr/bin/env python3
"""pk-paced.py — a client that sends at a constant rate, and a server that reads at one: a
steady arrival stream and a clone of known speed, for the debug-window tests.

    pk-paced.py send PORT RATE_BPS CHUNK SECONDS
        connects to 127.0.0.1:PORT and writes CHUNK-byte messages so that RATE_BPS bytes/s
        leave on average (deadline-paced: a late writer catches up), for SECONDS at most,
        then closes; prints "sent BYTES" and exits 0.
    pk-paced.py sink PORT RATE_BPS
        listens on 127.0.0.1:PORT with a small receive buffer, prints "listening PORT"; reads
        each connection at RATE_BPS bytes/s at most (in 10 ms slices) until it ends; runs
        until killed.
"""
import socket
import sys
import threading
import time

SLICE = 0.01


def send(port, rate, chunk, seconds):
    s = socket.create_connection(("127.0.0.1", port))
    msg = b"x" * (chunk - 1) + b"\n"
    start = time.monotonic()
    sent = 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        due = int((now - start) * rate)
        if sent + chunk > due:
            time.sleep(min(SLICE, (sent + chunk - due) / rate))  # pacing, not synchronisation
            continue
        try:
            s.sendall(msg)
        except OSError:
            break
        sent += chunk
    s.close()
    print("sent", sent, flush=True)


def drain(conn, rate):
    per = max(1, int(rate * SLICE))
    start = time.monotonic()
    got = 0
    while True:
        due = int((time.monotonic() - start) * rate)
        if got >= due:
            time.sleep(SLICE)  # pacing the reader, not synchronisation
            continue
        try:
            data = conn.recv(min(per, due - got))
        except OSError:
            break
        if not data:
            break
        got += len(data)
    conn.close()


def sink(port, rate):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print("listening", port, flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=drain, args=(conn, rate), daemon=True).start()


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "send":
        send(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "sink":
        sink(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
