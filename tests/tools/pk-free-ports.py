#!/usr/bin/env python3
"""pk-free-ports.py N [USED_FILE] -- prints N distinct TCP ports that are free now.

Used by the tests, the benchmarks and the demo for the servers they start on 127.0.0.1.
The ports come from outside the kernel's ephemeral range (net.ipv4.ip_local_port_range), so
that no client socket -- a redis-cli, a benchmark's connections, the proxy's own connects --
can be given one of them as its source port between now and the moment the server binds it
(a port from bind(0) is an ephemeral one, and that race made a test fail).  A port is free
when nothing is bound to it on any address (bound without SO_REUSEADDR, a TIME_WAIT socket
counts as a use).  With USED_FILE, ports listed there are never handed out and the new ones
are appended: a script gets distinct ports across calls, before it has bound any of them.
"""
import random
import socket
import sys


def ranges():
    """The port ranges outside the ephemeral one (below it from 10000 on, and above it)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = (int(x) for x in f.read().split())
    out = [(max(lo - 12768, 10000), lo - 1), (hi + 1, 65535)]
    return [r for r in out if r[1] >= r[0]]


def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def main():
    n = int(sys.argv[1])
    used_file = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    used = set()
    if used_file:
        try:
            with open(used_file) as f:
                used = {int(x) for x in f.read().split()}
        except FileNotFoundError:
            pass
    candidates = [p for lo, hi in ranges() for p in range(lo, hi + 1) if p not in used]
    random.shuffle(candidates)
    got = []
    for p in candidates:
        if free(p):
            got.append(p)
            if len(got) == n:
                break
    if len(got) < n:
        sys.exit("pk-free-ports: not enough free ports outside the ephemeral range")
    if used_file:
        with open(used_file, "a") as f:
            f.write("".join(f"{p}\n" for p in got))
    print(" ".join(str(p) for p in got))


main()
