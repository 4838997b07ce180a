#!/usr/bin/env python3
"""pk-redisconc.py - many concurrent Redis client connections, each checked exactly.

usage: pk-redisconc.py PORT CONNS INCRS [TIMEOUT_S]

Opens CONNS connections to 127.0.0.1:PORT at once (non-blocking connects, all before any
reply is read), sends on each INCRS pipelined "INCR pk:conc:<i>" commands, then reads every
connection's replies; a connection whose replies (":1" ... ":INCRS") are all in is closed at
once, so a server (or proxy) that serves only some connections at a time still gets through
the rest as others close.  Prints one line "served=<n> errors=<n>" and exits 0
only when every connection got exactly its expected replies before TIMEOUT_S (default 60).
Only 127.0.0.1 is ever contacted.
"""
import selectors
import socket
import sys
import time


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    port, conns, incrs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) == 5 else 60.0)
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        req = b"".join(b"INCR pk:conc:%d\r\n" % i for _ in range(incrs))
        want = b"".join(b":%d\r\n" % k for k in range(1, incrs + 1))
        state[s] = {"i": i, "out": req, "want": want, "got": b""}
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
    served = errors = 0
    while state and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.5):
            s = key.fileobj
            st = state.get(s)
            if st is None:
                continue
            try:
                if ev & selectors.EVENT_WRITE and st["out"]:
                    n = s.send(st["out"])
                    st["out"] = st["out"][n:]
                    if not st["out"]:
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    data = s.recv(65536)
                    if not data:
                        raise ConnectionError("closed by peer after %d reply bytes"
                                              % len(st["got"]))
                    st["got"] += data
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                print("conn %d: %s" % (st["i"], e), file=sys.stderr)
                errors += 1
                sel.unregister(s)
                s.close()
                del state[s]
                continue
            if len(st["got"]) >= len(st["want"]):
                if st["got"] == st["want"]:
                    served += 1
                else:
                    print("conn %d: wrong replies %r" % (st["i"], st["got"][:80]),
                          file=sys.stderr)
                    errors += 1
                sel.unregister(s)
                s.close()
                del state[s]
    if state:
        print("%d connection(s) not served within the timeout" % len(state), file=sys.stderr)
        errors += len(state)
    print("served=%d errors=%d" % (served, errors))
    return 0 if served == conns and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
