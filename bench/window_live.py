#!/usr/bin/env python3
"""window_live.py -- one row of bench/window_live.sh: the live debug window of `parikshan dup`.

  window_live.py --bin PARIKSHAN --prod PORT --debug PORT --front PORT --relay PORT --admin PORT
                 --arrival const|poisson --rate REQ_S --service const|exp --service-rate REQ_S
                 --buffer BYTES --cap SECONDS [--seed N] [--rcvbuf BYTES] [--mss BYTES]
                 [--sndbuf BYTES --shim window_sndbuf.so] [--log FILE]

Runs, all on 127.0.0.1:
  - a relay on --relay in front of the debug mariadbd (--debug): it reads one MySQL packet at a
    time from dup, holds it for one service time (1/--service-rate s, constant, or exponential
    with that mean, seeded), forwards it, and only then reads the next: the slowed clone.  Its
    listening socket gets SO_RCVBUF --rcvbuf before listen(), so the accepted socket takes only
    a few KiB into the kernel, and TCP_MAXSEG --mss, so that its window reopens in small steps
    as it reads (the receiver announces a window only once MSS or half its buffer is free);
    the debug mariadbd's answers go back to dup unchanged.
  - `parikshan dup -b BYTES --admin PORT` (--front -> production, clone -> the relay);
  - one MySQL session (raw socket: handshake with an empty password, the servers run with
    --skip-grant-tables) through dup, reading every answer from production.
Warm-up, then load.  The kernel's buffers between dup and the relay come before dup's own: the
relay's receive buffer (--rcvbuf) and dup's send buffer, which the kernel autotunes to
net.ipv4.tcp_wmem's maximum (4 MiB) on loopback unless dup runs with bench/window_sndbuf.c
preloaded (--sndbuf, --shim: a fixed SO_SNDBUF).  The study's window is about the duplicator's
own buffer.  So the session first sends queries as fast as production answers them, in chunks
that fit in dup's buffer and shrink as dup's socket fills (ss: skmem tb - w), until dup's buffer
still holds bytes 30 ms after a send (its write met a full socket): the kernel's buffers are then
full, and the relay has a backlog.  Then the paced load (constant or Poisson with --seed) starts, and
the clock with it.  The monitor polls /status.json every 50 ms and records:
  pred_s     the overflow time predicted from the start of the load: t + window_s at the first
             poll where buffer_bytes >= BYTES/4 and window_s is not null (if the buffer never
             gets there, at the last non-null window_s; null when dup never predicted one);
  measured_s the first poll where "overflows" > 0, from the start of the load (null: none
             within --cap);
plus the kernel's bytes between dup and the relay (ss: dup's Send-Q + the relay's Recv-Q) at
the start and the end, dup's send buffer (skmem tb) then, and dup's buffer when the load
started.  Prints one JSON object.  Every wait has a deadline; the load stops at --cap.
"""
import argparse
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

QUERY = b"SELECT * FROM win.t"  # 19 bytes: a 24-byte COM_QUERY packet, the study's size
PACKET = struct.pack("<I", 1 + len(QUERY))[:3] + b"\x00" + b"\x03" + QUERY


def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return bytes(b)


def read_packet(s):
    h = recv_exact(s, 4)
    n = h[0] | h[1] << 8 | h[2] << 16
    return h, recv_exact(s, n)


# ---- the relay: the slowed debug server ----------------------------------------------------


class Relay:
    def __init__(self, port, backend, service, rate, seed, rcvbuf, mss):
        self.backend, self.service, self.rate = backend, service, rate
        self.rng = random.Random(seed + 1000)
        self.read_bytes = 0
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if mss:  # small segments: window updates as the relay reads, not once per half buffer
            self.lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(4)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.lsock.accept()
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def hold(self):
        return 1 / self.rate if self.service == "const" else self.rng.expovariate(self.rate)

    def serve(self, c):
        b = socket.create_connection(("127.0.0.1", self.backend), timeout=10)
        b.settimeout(None)

        def back():  # the debug mariadbd's answers, unchanged, to dup
            try:
                while True:
                    d = b.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            finally:
                c.close()

        threading.Thread(target=back, daemon=True).start()
        busy_until = 0.0
        try:
            while True:
                h, p = read_packet(c)
                self.read_bytes += len(h) + len(p)
                now = time.monotonic()
                busy_until = max(busy_until, now) + self.hold()
                # the service time of this request (what the relay simulates), not a wait
                time.sleep(max(0.0, busy_until - time.monotonic()))
                b.sendall(h + p)
        except (EOFError, OSError):
            pass
        finally:
            b.close()


# ---- the session --------------------------------------------------------------------------


class Session:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        _, greeting = read_packet(self.s)
        if greeting[:1] == b"\xff":
            raise RuntimeError("server refused: %r" % greeting[3:])
        caps = 0x1 | 0x200 | 0x2000 | 0x8000  # LONG_PASSWORD PROTOCOL_41 TRANSACTIONS SECURE
        body = struct.pack("<IIB", caps, 1 << 24, 33) + b"\x00" * 23 + b"root\x00" + b"\x00"
        self.s.sendall(struct.pack("<I", len(body))[:3] + b"\x01" + body)
        h, p = read_packet(self.s)
        if p[:1] == b"\xfe":  # auth switch: an empty answer
            self.s.sendall(b"\x00\x00\x00" + bytes([h[3] + 1]))
            h, p = read_packet(self.s)
        if p[:1] != b"\x00":
            raise RuntimeError("login failed: %r" % p)
        self.s.settimeout(None)
        self.sent = 0
        self.answered = 0
        self.errors = 0
        self.cv = threading.Condition()
        threading.Thread(target=self.reader, daemon=True).start()

    def reader(self):
        """Counts complete answers: OK, ERR, or a result set (two EOF packets, no
        CLIENT_DEPRECATE_EOF)."""
        eofs, start = 0, True
        try:
            while True:
                _, p = read_packet(self.s)
                done = False
                if start:
                    if p[:1] in (b"\x00", b"\xff"):
                        done = True
                        if p[:1] == b"\xff":
                            self.errors += 1
                    else:
                        start, eofs = False, 0
                elif p[:1] == b"\xfe" and len(p) < 9:
                    eofs += 1
                    done = eofs == 2
                elif p[:1] == b"\xff":
                    done = True
                    self.errors += 1
                if done:
                    start = True
                    with self.cv:
                        self.answered += 1
                        self.cv.notify_all()
        except (EOFError, OSError):
            with self.cv:
                self.answered = -1
                self.cv.notify_all()

    def send(self, n=1):
        self.s.sendall(PACKET * n)
        self.sent += n

    def wait_answers(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while 0 <= self.answered < self.sent:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
        return self.answered >= 0


# ---- dup's state ----------------------------------------------------------------------------


def status(admin):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/status.json", timeout=3) as r:
        return json.load(r)["targets"][0]


def kernel(relay):
    """(bytes held by the kernel between dup and the relay, dup's sndbuf, dup's wmem_queued)."""
    out = subprocess.run(["ss", "-tnmH", "state", "established"], capture_output=True,
                         text=True, timeout=5).stdout
    held, tb, w = 0, 0, 0
    lines = out.splitlines()
    for i, line in enumerate(lines):
        f = line.split()
        if len(f) < 4:
            continue
        recvq, sendq, local, peer = int(f[0]), int(f[1]), f[2], f[3]
        if peer.endswith(":%d" % relay):  # dup's socket toward the relay
            held += sendq
            m = re.search(r"skmem:\((.*?)\)", line + " " + (lines[i + 1] if i + 1 < len(lines) else ""))
            if m:
                kv = dict(re.findall(r"([a-z]+)(\d+)", m.group(1)))
                tb, w = int(kv.get("tb", 0)), int(kv.get("w", 0))
        elif local.endswith(":%d" % relay):  # the relay's accepted socket
            held += recvq
    return held, tb, w


def main():
    ap = argparse.ArgumentParser()
    for a in ("prod", "debug", "front", "relay", "admin", "buffer"):
        ap.add_argument("--" + a, type=int, required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--arrival", choices=("const", "poisson"), required=True)
    ap.add_argument("--service", choices=("const", "exp"), required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--service-rate", type=float, required=True)
    ap.add_argument("--cap", type=float, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rcvbuf", type=int, default=2048)
    ap.add_argument("--mss", type=int, default=0, help="TCP_MAXSEG of the relay's socket (0: the route's)")
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--sndbuf", type=int, default=0, help="SO_SNDBUF of dup's clone socket (0: autotuned)")
    ap.add_argument("--shim", help="window_sndbuf.so (needed with --sndbuf)")
    o = ap.parse_args()
    res = {"sndbuf": o.sndbuf, "rcvbuf": o.rcvbuf, "mss": o.mss, "arrival": o.arrival, "rate": o.rate, "service_rate": o.service_rate,
           "buffer": o.buffer, "cap_s": o.cap}

    Relay(o.relay, o.debug, o.service, o.service_rate, o.seed, o.rcvbuf, o.mss)
    log = open(o.log, "w")
    env = dict(os.environ)
    if o.sndbuf:
        env.update(LD_PRELOAD=o.shim, PK_SNDBUF=str(o.sndbuf), PK_SNDBUF_PORT=str(o.relay))
    dup = subprocess.Popen([o.bin, "dup", "-h", "127.0.0.1", "-l", str(o.front), "-x", "127.0.0.1",
                            "-p", str(o.prod), "-m", "127.0.0.1", "-d", str(o.relay),
                            "-b", str(o.buffer), "--admin", str(o.admin), "--threads", "1",
                            "--window-warn", "0", "--log-level", "warn"],
                           stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:  # dup's admin port answers: it is up
            try:
                status(o.admin)
                break
            except OSError:
                if time.monotonic() > deadline or dup.poll() is not None:
                    raise RuntimeError("dup did not start")
                time.sleep(0.05)  # poll interval of a deadline-bounded wait
        run(o, res)
    except Exception as e:  # one row fails, the table goes on
        res["error"] = str(e)
    finally:
        dup.terminate()
        try:
            dup.wait(10)
        except subprocess.TimeoutExpired:
            dup.kill()
    print(json.dumps(res))


def run(o, res):
    sess = Session(o.front)
    if not sess.wait_answers(10):
        raise RuntimeError("no answer")
    # Warm-up: fill the kernel's buffers between dup and the relay.  dup appends what it reads
    # from the client to its buffer and writes it to the clone 10 ms later (--flush-ms), so a
    # chunk must fit in the buffer: a quarter of it, or half of what dup's socket has free
    # (ss: tb - w) if less, at least one request, sent when the buffer is empty; the warm-up
    # ends when dup's buffer still holds bytes 30 ms after a send (its write met a full socket).
    t_w = time.monotonic()
    while status(o.admin)["buffer_bytes"] > 0:  # the login's bytes still on their way
        if time.monotonic() - t_w > 10:
            raise RuntimeError("the login's bytes did not reach the relay in 10 s")
        time.sleep(0.02)  # poll interval of a deadline-bounded wait
    while True:
        if time.monotonic() - t_w > 300:
            raise RuntimeError("warm-up: the kernel's buffers did not fill in 300 s")
        held, tb, w = kernel(o.relay)
        sess.send(max(1, min(o.buffer // 4, (tb - w) // 2) // len(PACKET)))
        if not sess.wait_answers(60):
            raise RuntimeError("warm-up: production did not answer")
        time.sleep(0.03)  # lets dup flush (--flush-ms 10) before its buffer is read
        t = status(o.admin)
        if t["overflows"] > 0:
            raise RuntimeError("warm-up overflowed the buffer")
        if t["buffer_bytes"] > 0:  # 30 ms after a send: dup's write met a full socket
            break
    res["warmup_s"] = round(time.monotonic() - t_w, 1)
    res["warmup_requests"] = sess.sent
    res["kernel_start_bytes"], res["sndbuf_start"], _ = kernel(o.relay)
    res["buffer_start_bytes"] = status(o.admin)["buffer_bytes"]

    # The paced load, and the monitor.
    rng = random.Random(o.seed)
    t0 = time.monotonic()
    next_send = t0
    last_poll = 0.0
    last_ss = t0
    quarter = last = None
    measured = None
    preds = []
    while True:
        now = time.monotonic()
        if now - t0 >= o.cap:
            break
        if now >= next_send:
            sess.send()
            next_send += 1 / o.rate if o.arrival == "const" else rng.expovariate(o.rate)
        if now - last_poll >= 0.05:
            last_poll = now
            t = status(o.admin)
            el = time.monotonic() - t0
            if t["overflows"] > 0:
                measured = el
                break
            if t["window_s"] is not None:
                last = (el, t["window_s"], t)
                preds.append(el + t["window_s"])
                if quarter is None and t["buffer_bytes"] >= o.buffer // 4:
                    quarter = last
        if now - last_ss >= 5:
            last_ss = now
            held, tb, _ = kernel(o.relay)
            res["kernel_last_bytes"], res["sndbuf_last"] = held, tb
            res["kernel_max_bytes"] = max(res.get("kernel_max_bytes", 0), held)
        # pacing of the load: until the next request or the next poll, whichever comes first
        time.sleep(max(0.0, min(next_send, last_poll + 0.05) - time.monotonic()))
    res["sent"] = sess.sent
    res["measured_s"] = None if measured is None else round(measured, 1)
    res["run_s"] = round(time.monotonic() - t0, 1)
    p = quarter or last
    res["pred_at"] = "quarter" if quarter else ("last" if last else None)
    if p:
        el, w, t = p
        res["pred_s"] = round(el + w, 1)
        res["pred_t_s"] = round(el, 1)
        res["pred_window_s"] = round(w, 1)
        for k in ("arrival_bytes_per_s", "drain_bytes_per_s", "service_bytes_per_s", "buffer_bytes"):
            res["pred_" + k] = t.get(k)
    else:
        res["pred_s"] = None
    if preds:
        preds.sort()
        res["pred_median_s"] = round(preds[len(preds) // 2], 1)


if __name__ == "__main__":
    sys.exit(main())
