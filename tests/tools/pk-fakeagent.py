#!/usr/bin/env python3
"""pk-fakeagent.py - a fake `parikshan agent` that answers with broken or incomplete messages.

usage: pk-fakeagent.py PORT_FILE SCENARIO...

Listens on 127.0.0.1 (a free port, written to PORT_FILE once listening) and serves one client
connection per SCENARIO, in order, speaking the agent's wire protocol (src/clone/wire.c: one
JSON object per line): a greeting with this host's kernel and CRIU version, then the answer of
the scenario to the client's auth and prepare requests.  Scenarios:
  hello-bare        greeting without nonce, kernel or criu
  hello-garbage     a greeting that is not JSON
  auth-ok-number    auth answered {"ok": 1}
  prepare-bare      prepare answered {"ok": true} (no ports, no address)
  prepare-badport   prepare answered with ports 0 and "x"
  prepare-nomgmt    prepare answered with ports but no management address
Exits 0 after the last scenario; every read has a 30 s timeout.
"""
import json
import os
import socket
import subprocess
import sys


def criu_version():
    out = subprocess.run(["criu", "--version"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Version:"):
            return line.split()[1]
    return "?"


def send(conn, obj):
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    conn.sendall(data + b"\n")


def recv_line(f):
    line = f.readline()
    if not line:
        raise EOFError("client closed")
    return json.loads(line)


def serve(conn, scenario, criu):
    f = conn.makefile("rb")
    hello = {"hello": "parikshan-agent", "proto": 1, "nonce": "00" * 16,
             "kernel": os.uname().release, "criu": criu}
    if scenario == "hello-bare":
        send(conn, {"hello": "parikshan-agent"})
    elif scenario == "hello-garbage":
        send(conn, b"this is not json")
    else:
        send(conn, hello)
    if scenario.startswith("hello-"):
        return
    recv_line(f)  # auth: any mac will do
    if scenario == "auth-ok-number":
        send(conn, {"ok": 1})
        return
    send(conn, {"ok": True})
    recv_line(f)  # prepare
    if scenario == "prepare-bare":
        send(conn, {"ok": True})
    elif scenario == "prepare-badport":
        send(conn, {"ok": True, "rsync_port": 0, "page_server_port": "x", "mgmt": "10.78.0.9"})
    elif scenario == "prepare-nomgmt":
        send(conn, {"ok": True, "rsync_port": 8730, "page_server_port": 8731})
    else:
        raise ValueError("unknown scenario " + scenario)


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    criu = criu_version()
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as pf:
        pf.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, sys.argv[1])  # the port file appears complete
    for scenario in sys.argv[2:]:
        ls.settimeout(120)
        conn, _ = ls.accept()
        conn.settimeout(30)
        try:
            serve(conn, scenario, criu)
            conn.shutdown(socket.SHUT_WR)
            conn.recv(1)  # until the client closes
        except (OSError, EOFError, ValueError) as e:
            print("scenario %s: %s" % (scenario, e), file=sys.stderr)
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
