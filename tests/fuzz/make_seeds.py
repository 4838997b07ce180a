#!/usr/bin/env python3
"""make_seeds.py — writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

  make_seeds.py [TARGET...]   (default: every target)

pcap_read: small captures of one short TCP exchange (handshake, a request sent out of order and partly
retransmitted, an answer, FINs) under every link type the reader knows, in pcap (both byte
orders, micro- and nanosecond) and pcapng, plus broken files: cut, bad magic, another link type,
bogus header lengths, no TCP at all.
sim_trace: captures of request/answer sessions as `sim --trace` reads them (a server greeting,
requests in one or several segments, pipelined requests, answers in several packets, a request
never answered, two connections interleaved, timestamps that go back), plus a few of
pcap_read's.  framer: RESP and HTTP request streams (pipelined, bodies, stray line ends) and streams the
framers give up on.
msg: both directions of RESP, HTTP, MySQL and raw connections through the message framers
(pipelined commands and replies, RESP3, chunked and close-delimited HTTP, HEAD and 1xx, a MySQL
session and a result whose sequence ids wrap), and streams they give up on.
prom: /metrics text of dup, agg and a recording proxy, escaped label values, odd numbers (inf,
NaN, exponents), and malformed lines.
status: status documents (GET /status.json) of dup, agg and a recording proxy, odd numbers and
strings, and documents `status` refuses: a key misspelt or missing, a wrong type, a negative or
huge number, a control character, too many targets, deep nesting, trailing bytes.
http: requests to the admin server (good, odd and malformed) and responses to the CLI's client
(good, without an end of headers, with odd status lines, with NULs in the body).
wire: what a client sends `parikshan agent`: the answer to the challenge (with the MAC of the
target's fixed token and nonce, or a wrong one), then prepare and restore requests, good and
with each field broken, out of order, and lines that are not one JSON object.
trace_wire: what a traced process sends logd (a piece size byte, then frames: a hello and
records of each call, split anywhere), and the same as logd's raw log; each with one field broken.
trace_analyze: records of traced processes in fuzz_trace_analyze.c's encoding: an HTTP exchange,
a 3-tier chain (nginx -> backend -> redis), keep-alive, a lost request (offsets jump),
pipelined RESP, MySQL, memcached and DNS, skewed clocks (also 5.2e18 ns apart), exec and fork rows.  Deterministic: running it again writes the same bytes; files that fuzzing
merged into a corpus (named by their SHA-1) are left alone.
"""
import hashlib
import hmac
import json
import os
import struct
import sys

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def ip4(src, dst, proto, payload, ihl=5):
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0,
                    bytes(src), bytes(dst))
    return h + b"\0" * (ihl * 4 - 20 if ihl > 5 else 0) + payload


def ip6(src, dst, proto, payload, ext=False):
    if ext:  # hop-by-hop options header, 8 bytes
        payload = struct.pack("!BB6s", proto, 0, b"\x01\x04\0\0\0\0") + payload
        proto = 0
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), proto, 64, bytes(src),
                       bytes(dst)) + payload


def tcp(sport, dport, seq, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + data


SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


def exchange(v6=False, ext=False):
    """The IP packets of one short connection, some out of order and retransmitted."""
    c = [0xfd] + [0] * 14 + [1] if v6 else [10, 0, 0, 1]
    s = [0xfd] + [0] * 14 + [2] if v6 else [10, 0, 0, 2]
    ip = (lambda a, b, p: ip6(a, b, 6, p, ext)) if v6 else (lambda a, b, p: ip4(a, b, 6, p))
    up = lambda seq, fl, d=b"": ip(c, s, tcp(40000, 6379, seq, fl, d))
    down = lambda seq, fl, d=b"": ip(s, c, tcp(6379, 40000, seq, fl, d))
    return [
        up(0xfffffff0, SYN), down(500, SYN | ACK), up(0xfffffff1, ACK),
        up(0xfffffff1 + 9, ACK | PSH, b"b\r\n"),       # early: held
        up(0xfffffff1, ACK | PSH, b"SET a 1\r"),       # fills the hole (and wraps)
        up(0xfffffff1 + 4, ACK | PSH, b"a 1\r\nb\r\n"),  # overlapping retransmission
        down(501, ACK | PSH, b"+OK\r\n"),
        up(0xfffffff1 + 12, FIN | ACK), down(506, FIN | ACK),
    ]


def link(lt, pkt, v6):
    et = b"\x86\xdd" if v6 else b"\x08\x00"
    if lt == 1:
        return b"\0" * 12 + et + pkt
    if lt == "vlan":
        return b"\0" * 12 + b"\x81\x00\x00\x07" + et + pkt
    if lt == 113:
        return b"\0\0\x03\x04\0\x06" + b"\0" * 8 + et + pkt
    if lt == 276:
        return et + b"\0\0" + b"\0\0\0\x01" + b"\x03\x04\x06\0" + b"\0" * 8 + pkt
    if lt == 0:
        return struct.pack("<I", 10 if v6 else 2) + pkt
    if lt == 108:
        return struct.pack(">I", 30 if v6 else 2) + pkt
    return pkt  # raw IP: 101, 228, 229


def pcap(lt, frames, endian="<", nano=False):
    magic = 0xa1b23c4d if nano else 0xa1b2c3d4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, lt)
    for i, f in enumerate(frames):
        out += struct.pack(endian + "IIII", 1700000000, 1000 * i, len(f), len(f)) + f
    return out


def pcapng(lt, frames):
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", t, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    out = block(0x0a0d0d0a, struct.pack("<IHHq", 0x1a2b3c4d, 1, 0, -1))
    out += block(1, struct.pack("<HHI", lt, 0, 65535))
    for i, f in enumerate(frames):
        out += block(6, struct.pack("<IIIII", 0, 0, 1000 * i, len(f), len(f)) + f)
    return out


def pcap_read_seeds():
    seeds = {}
    for name, lt, file_lt, v6 in [
            ("en10mb", 1, 1, False), ("en10mb-v6", 1, 1, True), ("vlan", "vlan", 1, False),
            ("raw", 101, 101, False), ("raw-v6", 101, 101, True), ("ipv4", 228, 228, False),
            ("ipv6", 229, 229, True), ("sll", 113, 113, False), ("sll2", 276, 276, True),
            ("null", 0, 0, False), ("null-v6", 0, 0, True), ("loop", 108, 108, False)]:
        frames = [link(lt, p, v6) for p in exchange(v6)]
        seeds[name + ".pcap"] = pcap(file_lt, frames)
    frames = [link(1, p, False) for p in exchange()]
    seeds["big-endian.pcap"] = pcap(1, frames, ">")
    seeds["nano.pcap"] = pcap(1, frames, "<", True)
    seeds["en10mb.pcapng"] = pcapng(1, frames)
    seeds["ipv6-ext.pcapng"] = pcapng(229, exchange(True, True))
    seeds["cut.pcap"] = seeds["en10mb.pcap"][:-7]
    seeds["bad-magic.pcap"] = b"\x00\x01\x02\x03" + seeds["en10mb.pcap"][4:60]
    seeds["ieee802-11.pcap"] = pcap(105, [b"\x08\x00" + b"\0" * 22])
    seeds["bogus-ihl.pcap"] = pcap(101, [b"\x41" + exchange()[0][1:]])
    seeds["bogus-doff.pcap"] = pcap(101, [exchange()[0][:32] + b"\xf0" + exchange()[0][33:]])
    seeds["udp-only.pcap"] = pcap(101, [ip4([10, 0, 0, 1], [10, 0, 0, 2], 17, b"\0" * 12)])
    seeds["empty.pcap"] = pcap(1, [])
    return seeds


def framer_seeds():
    """First byte: 0 frames as RESP, 1 as HTTP; the rest is the client's stream.  With 2 (RESP)
    or 3 (HTTP) the rest describes requests (0xff between them, 0xfe between their parts) that
    the target encodes itself."""
    resp = lambda *args: b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a)
                                                           for a in args)
    http = lambda head, body=b"": head.replace(b"\n", b"\r\n") + b"\r\n" + body
    post = http(b"POST /k HTTP/1.1\nHost: x\nContent-Length: 5\n", b"hello")
    return {
        "resp-pipeline": b"\0" + resp(b"PING") + resp(b"SET", b"k", b"v" * 40) + resp(b"GET", b"k"),
        "resp-inline": b"\0PING\r\nSET a 1\r\n\r\n\nGET a\n",
        "resp-empty": b"\0*0\r\n$0\r\n\r\n" + resp(b"") + resp(b"INCR", b"c"),
        "resp-big-bulk": b"\0" + resp(b"SET", b"k", bytes(range(256)) * 8) + resp(b"PING"),
        "resp-lost-type": b"\0*2\r\n:1\r\n$1\r\nx\r\n" + resp(b"PING"),
        "resp-lost-negative": b"\0*-1\r\n" + resp(b"PING"),
        "resp-lost-overflow": b"\0*99999999999999999999\r\n" + resp(b"PING"),
        "http-get": b"\1" + http(b"GET / HTTP/1.1\nHost: x\n") * 2,
        "http-post": b"\1" + post + http(b"GET /a HTTP/1.0\n"),
        "http-lf-only": b"\1\n\nGET / HTTP/1.1\nHost: x\n\nPOST / HTTP/1.1\ncontent-length:2\n\nabGET /",
        "http-long-header": b"\1" + http(b"GET / HTTP/1.1\nX-" + b"a" * 200 + b": b\n"
                                         b"Content-Length:    00003\n", b"xyz") + post,
        "http-big-length": b"\1" + http(b"PUT / HTTP/1.1\nContent-Length: 99999999999999999\n",
                                         b"body"),
        "http-lost-chunked": b"\1" + http(b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n",
                                           b"5\r\nhello\r\n0\r\n\r\n") + post,
        "gen-resp": b"\2SET\xfek\xfev\r\n\xffGET\xfek\xff\xffPING\xff\xfdINCR c",
        "gen-http": b"\3ET / HTTP/1.1\xfeHost: x\xfeAccept: */*\xfe\xff"
                    b"POST /k HTTP/1.1\xfeHost: x\xfehello\r\n\r\nGET / HTTP/1.1\r\n\r\n\xff"
                    b"ET /a HTTP/1.0",
    }


def prom_seeds():
    """What a proxy's /metrics answers (see src/proxy/metrics.c)."""
    def sample(name, value, **labels):
        lab = ",".join('%s="%s"' % (k, v) for k, v in labels.items())
        return "%s%s %s\n" % (name, "{%s}" % lab if lab else "", value)

    def family(name, kind="counter"):
        return "# HELP %s Something.\n# TYPE %s %s\n" % (name, name, kind)

    def proxy(role, targets, record=False):
        out = family("parikshan_info", "gauge")
        out += sample("parikshan_info", 1, role=role, production="127.0.0.1:6379", mode="async")
        for name, v in [("parikshan_connections_accepted_total", 12),
                        ("parikshan_connections_active", 3),
                        ("parikshan_prod_connect_failures_total", 1)]:
            out += family(name) + sample(name, v)
        out += family("parikshan_bytes_total")
        out += sample("parikshan_bytes_total", 2048, direction="client_to_prod")
        out += sample("parikshan_bytes_total", 1572864, direction="prod_to_client")
        for m in ["connections_active", "bytes_sent_total", "bytes_dropped_total",
                  "response_bytes_total", "buffer_bytes", "buffer_high_water_bytes",
                  "spill_bytes", "overflows_total", "desyncs_total", "connect_failures_total",
                  "rejoins_total", "lag_bytes", "lag_seconds", "unpaired_total"]:
            out += family("parikshan_debug_" + m)
            for i, t in enumerate(targets):
                out += sample("parikshan_debug_" + m, i * 1000 + 0.25 * (m == "lag_seconds"),
                              target=t)
        out += family("parikshan_compare_bytes_total")
        out += family("parikshan_compare_connections_total")
        for t in targets:
            out += sample("parikshan_compare_bytes_total", 4096, target=t)
            for verdict in ["same", "different", "unknown"]:
                out += sample("parikshan_compare_connections_total", 2, target=t,
                              verdict=verdict)
        if record:
            for m, v in [("packets_total", 10), ("bytes_total", 5 << 30),
                         ("dropped_bytes_total", 0), ("files", 2), ("failed", 1)]:
                out += family("parikshan_record_" + m) + sample("parikshan_record_" + m, v)
        return out.encode()

    info = sample("parikshan_info", 1, role="dup", production="[::1]:80", mode="sync")
    return {
        "dup-two-targets": proxy("dup", ["127.0.0.1:6380", "127.0.0.1:6381"]),
        "agg-recording": proxy("agg", ["10.0.0.2:3306"], record=True),
        "no-targets": proxy("dup", []),
        "escapes": (info + sample("parikshan_debug_desyncs_total", 1,
                                  target='a\\"b\\\\c\\n,d=\\"e') +
                    'parikshan_bytes_total{ direction="client_to_prod" , x="}"} 1\n').encode(),
        "numbers": (info + "".join(sample("parikshan_debug_lag_seconds", v, target="t%d" % i)
                                   for i, v in enumerate(["+Inf", "-Inf", "NaN", "1e308",
                                                          "-0", "0x1p3", "1.5e-7",
                                                          "9999999999999999999999"]))).encode(),
        "not-parikshan": b"# only a comment\nup 1\nprocess_cpu_seconds_total 0.5\n",
        "bad-no-value": (info + "parikshan_connections_active\n").encode(),
        "bad-no-brace": (info + 'parikshan_bytes_total{direction="x" 1\n').encode(),
        "bad-long-line": (info + "x" * 5000 + " 1\n").encode(),
        "bad-overflow": (info + "parikshan_connections_active 1e999\n").encode(),
        "no-newline-at-end": info.encode() + b"parikshan_connections_active 7",
    }


def status_seeds():
    """Status documents as a proxy serves them (src/proxy/status.c), and broken ones."""
    keys = ["connections_active", "bytes_sent", "bytes_dropped", "response_bytes",
            "buffer_bytes", "buffer_high_water_bytes", "spill_bytes", "overflows", "desyncs",
            "connect_failures", "rejoins", "lag_bytes", "lag_seconds", "unpaired",
            "close_grace_expired", "compared_bytes", "diverged", "paired_by_content",
            "paired_by_order"]

    def target(name, base=0, **over):
        t = {"target": name}
        t.update({k: base + i for i, k in enumerate(keys)})
        t.update(over)
        t["state"] = "in-sync"
        return t

    def doc(role="dup", targets=(), record=False, **over):
        d = {"role": role, "production": "127.0.0.1:6379", "mode": "async",
             "connections": {"accepted": 12, "active": 3, "prod_connect_failures": 1,
                             "capacity": 6650, "open_files_limit": 20000, "in_use": 4,
                             "accept_paused": 7},
             "bytes": {"client_to_prod": 2048, "prod_to_client": 1572864}}
        if record:
            d["recording"] = {"packets": 120, "bytes": 5 << 30, "dropped_bytes": 0, "files": 2,
                              "failed": True}
        d["targets"] = list(targets)
        d.update(over)
        return d

    js = lambda d, **kw: json.dumps(d, **kw).encode()
    two = [target("127.0.0.1:6380", lag_seconds=0.25),
           target("[::1]:6381", 1000, desyncs=3, lag_seconds=2.5)]
    good = doc(targets=two, record=True)
    text = js(good, indent="\t")
    return {
        "dup-two-targets": text,
        "dup-compact": js(good, separators=(",", ":")),
        "agg": js(doc("agg", [target("127.0.0.1:7001", paired_by_content=6, diverged=2)])),
        "no-targets": js(doc()),
        "numbers": js(doc(targets=[target("t", bytes_sent=5e15, lag_seconds=1.23456789012,
                                          buffer_bytes=1e308, overflows=-0.0,
                                          spill_bytes=1.5e-7, rejoins=12345678901234567890)])),
        "extra-keys": js(doc(targets=two, version=2, extra={"a": [1, None, "x"]})),
        "unicode": js(doc(targets=[target("h\u00e9llo"), target("tab\there")])),
        "misspelt-column": text.replace(b'"desyncs"', b'"desync"'),
        "missing-capacity": text.replace(b'"capacity"', b'"capacit"'),
        "negative": text.replace(b'"accepted": 12', b'"accepted": -12'),
        "huge": text.replace(b'"accepted": 12', b'"accepted": 1e999'),
        "string-number": text.replace(b'"accepted": 12', b'"accepted": "12"'),
        "role-number": text.replace(b'"role": "dup"', b'"role": 3'),
        "long-mode": text.replace(b'"mode": "async"', b'"mode": "' + b"a" * 300 + b'"'),
        "escape-in-name": text.replace(b"127.0.0.1:6380", b"\\u001b[31m"),
        "failed-not-bool": text.replace(b'"failed": true', b'"failed": 1'),
        "recording-null": js(doc(targets=two, recording=None)),
        "targets-object": js(doc(targets=two)).replace(b'"targets": [', b'"targets": {"x": ['),
        "target-not-object": js(doc(targets=[7] + two)),
        "too-many-targets": js(doc(targets=[target("t%d" % i) for i in range(65)])),
        "trailing": text + b"}",
        "nul-inside": text[:40] + b"\0" + text[40:],
        "deep": b"[" * 2000 + b"]" * 2000,
        "not-json": b"parikshan_info{role=\"dup\"} 1\n",
        "empty-object": b"{}",
        "duplicate-keys": text.replace(b'"role": "dup"', b'"role": "dup", "role": 7'),
    }


def http_seeds():
    """Each input is read both as a request (server) and as a response (client)."""
    return {
        "get-metrics": b"GET /metrics HTTP/1.0\r\nHost: parikshan\r\nContent-Length: 0\r\n\r\n",
        "post-reset": b"POST /pairing/reset HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "get-reset": b"GET /pairing/reset HTTP/1.0\r\n\r\n",
        "get-lf-only": b"GET /status.json HTTP/1.0\n\n",
        "bad-method": b"DELETE /metrics HTTP/1.1\r\n\r\n",
        "long-method": b"GETTTTTTTTTTT /metrics HTTP/1.1\r\n\r\n",
        "long-path": b"GET /" + b"a" * 1500 + b" HTTP/1.0\r\n\r\n",
        "no-path": b"GET\r\n\r\n",
        "nul-in-path": b"GET /met\0rics HTTP/1.0\r\n\r\n",
        "tabs": b"\tGET\t/metrics\tHTTP/1.0\r\n\r\n",
        "resp-200": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                    b"Content-Length: 5\r\nConnection: close\r\n\r\nup 1\n",
        "resp-404-bare": b"HTTP/1.1 404\r\n\r\n",
        "resp-negative": b"HTTP/1.0 -11 Oops\r\n\r\n",
        "resp-no-end": b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n",
        "resp-http2": b"HTTP/2 200\r\n\r\nbody",
        "resp-binary": b"HTTP/1.0 200 OK\r\n\r\n\0\1\2\r\n\r\n\xff",
    }


def wire_seeds():
    """Lines as a client sends them after the agent's hello (see tests/fuzz/fuzz_wire.c)."""
    mac = hmac.new(b"fuzz-token-0123456789abcdef", b"00112233445566778899aabbccddeeff",
                   hashlib.sha256).hexdigest()
    line = lambda o: json.dumps(o, separators=(",", ":")).encode() + b"\n"
    config = json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                         "linux": {"namespaces": [{"type": "pid"}, {"type": "network",
                                                                    "path": "/x"}]}})
    prep = {"op": "prepare", "name": "web-clone", "parent": "web", "ip": "10.89.0.2",
            "lower": "/var/lib/parikshan/web/rootfs", "config": config}
    auth = line({"mac": mac})
    bad = lambda **kw: auth + line({**prep, **kw}) + line({"op": "restore"})
    return {
        "session": auth + line(prep) + line({"op": "restore"}),
        "session-crlf": auth.replace(b"\n", b"\r\n") + line(prep)[:-1] + b" \r\n",
        "no-parent": auth + line({k: v for k, v in prep.items() if k != "parent"}),
        "wrong-mac": line({"mac": mac[:-1] + "0"}) + line(prep),
        "mac-not-string": line({"mac": 7}) + line(prep),
        "restore-first": auth + line({"op": "restore"}) + line(prep),
        "prepare-twice": auth + line(prep) + line(prep),
        "bad-name": bad(name="../etc"),
        "bad-parent": bad(parent="Web Server"),
        "bad-ip": bad(ip="10.89.0.2/24"),
        "bad-ip-v6": bad(ip="fd00::2"),
        "bad-lower": bad(lower="rootfs"),
        "bad-config": bad(config="[1,2]"),
        "config-not-json": bad(config="{\"linux\":"),
        "fields-not-strings": bad(name=1, ip=None, lower=["/"], config={}),
        "nul-escape": bad(name="web\u0000x"),
        "not-json": auth + b"prepare web\n" + line(prep),
        "array": line([{"mac": mac}]) + line(prep),
        "trailing": auth[:-1] + b"{}\n" + line(prep),
        "nul-byte": auth + line(prep)[:20] + b"\0" + line(prep)[20:],
        "deep": auth + b"[" * 2000 + b"]" * 2000 + b"\n",
        "no-newline": auth + line(prep)[:-1],
    }


def sessions(conns, v6=False):
    """A raw-IP pcap of request/answer sessions: conns is a list of event lists, each event
    (ms, "c" or "s", bytes, flags); each connection gets a handshake at its first event."""
    frames = []
    for k, events in enumerate(conns):
        c, s = [10, 0, 0, 1 + k], [10, 0, 0, 100]
        port = 40000 + k
        seq = {"c": 1000 * (k + 1), "s": 90000 * (k + 1)}

        def pkt(ms, side, n, flags):
            a, b = (c, s) if side == "c" else (s, c)
            sp, dp = (port, 3306) if side == "c" else (3306, port)
            frames.append((int(ms * 1000), ip4(a, b, 6, tcp(sp, dp, seq[side], flags,
                                                              bytes([0x41 + k]) * n))))
            seq[side] += n + (1 if flags & (SYN | FIN) else 0)
        t0 = events[0][0]
        pkt(t0, "c", 0, SYN)
        pkt(t0, "s", 0, SYN | ACK)
        pkt(t0, "c", 0, ACK)
        for ms, side, n, flags in events:
            pkt(ms, side, n, flags)
    frames.sort(key=lambda f: f[0])
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101)
    for us, f in frames:
        out += struct.pack("<IIII", 1700000000 + us // 1000000, us % 1000000, len(f), len(f)) + f
    return out


def sim_trace_seeds():
    A, P = ACK, ACK | PSH
    mysql = [(0, "s", 78, P)] + [e for i in range(6) for e in (
        (100 + 40 * i, "c", 24, P), (104 + 40 * i + i, "s", 300, P))] + [(400, "c", 0, FIN | A)]
    split = [(0, "c", 20, A), (1, "c", 10, P), (5, "s", 150, A), (6, "s", 50, P),
             (100, "c", 40, P), (130, "s", 10, P), (200, "c", 25, P)]
    piped = [(0, "c", 30, P), (0, "c", 30, P), (2, "s", 10, P), (2, "s", 10, P),
             (50, "c", 30, P), (51, "s", 10, P)]
    seeds = {
        "mysql.pcap": sessions([mysql]),
        "split.pcap": sessions([split]),
        "pipelined.pcap": sessions([piped]),
        "two-conns.pcap": sessions([split, [(e[0] + 3, *e[1:]) for e in piped]]),
        "same-time.pcap": sessions([[(0, "c", 10, P)], [(0, "c", 10, P)]]),
        "one-request.pcap": sessions([[(0, "c", 10, P), (3, "s", 10, P)]]),
        "no-answer.pcap": sessions([[(0, "c", 10, P), (10, "c", 10, P)]]),
    }
    back = sessions([mysql])  # the last packet's timestamp before the first's
    seeds["time-back.pcap"] = back[:-56] + struct.pack("<I", 1600000000) + back[-52:]
    pr = pcap_read_seeds()
    for name in ("en10mb.pcap", "raw-v6.pcap", "en10mb.pcapng", "cut.pcap", "empty.pcap"):
        seeds["pcap-" + name] = pr[name]
    return seeds


def msg_seeds():
    """First byte: protocol (bits 0-1: RESP, HTTP, MySQL, NONE), bit 2 the server's side, bits
    5-7 HEAD hints for the first three HTTP responses; the rest is one direction's stream.  With
    bit 3 (GEN) the rest describes messages (0xff between them, 0xfe between their parts) that
    the target encodes itself."""
    RESP, HTTP, MYSQL, NONE, SERVER, GEN = 0, 1, 2, 3, 4, 8
    resp = lambda *args: b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a)
                                                           for a in args)
    crlf = lambda t: t.replace(b"\n", b"\r\n")
    pkt = lambda seq, p: struct.pack("<I", len(p))[:3] + bytes([seq % 256]) + p
    coldef = lambda name: pkt(2, b"\3def\4test\1t\1t" + bytes([len(name)]) + name +
                              bytes([len(name)]) + name + b"\x0c\x3f\0\x0b\0\0\0\3\3\x50\0\0\0")
    eof = b"\xfe\0\0\2\0"
    rows = lambda n: b"".join(pkt(4 + i, b"%c%d" % (len(b"%d" % i), i)) for i in range(n))
    return {
        "resp-req": bytes([RESP]) + resp(b"SET", b"key:__rand_int__", b"xxx") * 3 +
                    resp(b"GET", b"key:__rand_int__") + b"PING\r\n\r\n" + resp(b"INCR", b"c"),
        "resp-req-lost": bytes([RESP]) + resp(b"PING") + b"*2\r\n:1\r\n",
        "resp-rep": bytes([RESP | SERVER]) + b"+OK\r\n$3\r\nxxx\r\n$-1\r\n*-1\r\n:7\r\n"
                    b"-ERR wrong\r\n*2\r\n*2\r\n:1\r\n$0\r\n\r\n*0\r\n",
        "resp-rep3": bytes([RESP | SERVER]) + b"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"
                     b"~1\r\n,1.5\r\n_\r\n#f\r\n(12345678901234567890\r\n=7\r\ntxt:abc\r\n"
                     b"!3\r\nERR\r\n>2\r\n+message\r\n+hi\r\n|1\r\n+ttl\r\n:1\r\n+v\r\n",
        "http-req": bytes([HTTP]) + crlf(b"GET / HTTP/1.1\nHost: x\n\nHEAD / HTTP/1.1\n\n"
                                         b"POST /a HTTP/1.1\nContent-Length: 3\n\n") + b"abc" +
                    crlf(b"PUT /c HTTP/1.1\nTransfer-Encoding: chunked\n\n3;x\nabc\n0\nT: 1\n\n"),
        "http-req-lost": bytes([HTTP]) + crlf(b"POST / HTTP/1.1\nContent-Length: 1 2\n\nab"),
        "http-resp": bytes([HTTP | SERVER | 2 << 5]) +
                     crlf(b"HTTP/1.1 200 OK\nServer: nginx\nTransfer-Encoding: chunked\n\n"
                          b"1f\n<html><body>hello</body></html>\n0\n\n"
                          b"HTTP/1.1 200 OK\nContent-Length: 615\n\n"
                          b"HTTP/1.1 100 Continue\n\nHTTP/1.1 201 Created\nContent-Length: 2\n\nok"
                          b"HTTP/1.1 304 Not Modified\n\nHTTP/1.1 204 No Content\n\n"
                          b"HTTP/1.0 200 OK\n\n") + b"until the end",
        "http-resp-bad": bytes([HTTP | SERVER]) + crlf(b"HTTP/1.1 200 OK\nTransfer-Encoding: "
                                                       b"chunked\n\nzz\n"),
        "mysql-req": bytes([MYSQL]) + pkt(1, b"\x85\xa6\xff\x01" + b"\0" * 28 + b"root\0") +
                     pkt(3, b"auth") + pkt(0, b"\x03select 1") + pkt(0, b"\x16SELECT ?") +
                     pkt(0, b"\x18\1\0\0\0\0\0data") + pkt(0, b"\x19\1\0\0\0") + pkt(0, b"") +
                     pkt(0, b"\x01"),
        "mysql-resp": bytes([MYSQL | SERVER]) + pkt(0, b"\x0a8.0.36\0" + b"\1" * 40) +
                      pkt(2, b"\0\0\0\2\0\0\0") + pkt(1, b"\1") + coldef(b"a") + pkt(3, eof) +
                      pkt(4, b"\0011") + pkt(5, eof) + pkt(1, b"\xff\x28\x04#42000oops"),
        "mysql-resp-wrap": bytes([MYSQL | SERVER]) + pkt(1, b"\1") + coldef(b"v") + pkt(3, eof) +
                           rows(300) + pkt(304, eof) + pkt(1, b"\0\0\0\2\0\0\0"),
        "gen-resp-req": bytes([RESP | GEN]) + b"SET\xfek\xfev\r\n\xffGET\xfek\xff\xffPING",
        "gen-resp-rep": bytes([RESP | SERVER | GEN]) + b"OK\xffa\xfeb\xfe\xfec\xff\xff",
        "gen-http-req": bytes([HTTP | GEN]) + b"ET / HTTP/1.1\xfeHost: x\xfe\xffET /a HTTP/1.1"
                        b"\xfeHost: x\xfehello\r\n\xffT / HTTP/1.1\xfe\xfebody of seven",
        "gen-http-resp": bytes([HTTP | SERVER | GEN]) + b"OK\xfeServer: x\xfe<html/>\xff"
                         b"Created\xfeLocation: /a\xfe\xffOK\xfeA: b\xfechunk me please",
        "gen-mysql-req": bytes([MYSQL | GEN]) + b"\x03select 1\xff\x0e\xff\x01",
        "gen-mysql-resp": bytes([MYSQL | SERVER | GEN]) + b"\x0a8.0\xfe\0\0\0\xff\x01\xfe"
                          b"\3def\xfe\xfe\x00\x01\x02\xfe\xfe\xff\0\0\0\2\0\0\0" + b"\xfex" * 220,
        "none": bytes([NONE]) + b"anything\r\n*1\r\n",
        "none-server": bytes([NONE | SERVER]) + b"HTTP/1.1 200 OK\r\n\r\n",
    }


def trace_wire_seeds():
    """A step byte, then frames as libparikshan_trace.so sends them (see fuzz_trace_wire.c)."""
    magic, raw_magic = 0x31525450, 0x4C525450

    def frame(t, count, payload):
        return struct.pack("<IIII", magic, t, len(payload), count) + payload

    def hello(pid=4242, version=1, dropped=0):
        return struct.pack("<IiiIQQQ256s16s", version, pid, 1, 0, 1000, 1700000000 * 10**9,
                           dropped, b"/usr/sbin/nginx", b"nginx")

    def addr(port, ip=b"\x7f\0\0\x01"):
        return struct.pack("<HH16s", 2 if port else 0, port, ip)

    def rec(call, ts, peek=b"", flags=0x0C, lport=8080, pport=40000, plen=None):
        return struct.pack("<BBHIQiiqQ", call, flags, len(peek) if plen is None else plen, 77,
                           ts, 5, 0, len(peek), 0) + addr(lport) + addr(pport) + peek.ljust(64, b"\0")

    recs = [rec(1, 10), rec(3, 20, b"GET /r/1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            rec(4, 30, b"HTTP/1.1 200 OK\r\n\r\n"), rec(5, 40), rec(6, 41), rec(7, 42),
            rec(8, 43, b"/bin/true", 0, 0, 0), rec(9, 44), rec(10, 45), rec(11, 46, b"/x/static")]
    good = frame(1, 1, hello()) + frame(2, 3, b"".join(recs[:3])) + frame(2, 7, b"".join(recs[3:]))
    seeds = {"good-whole": b"\0" + good, "good-by-1": b"\1" + good, "good-by-7": b"\7" + good,
             "good-by-150": bytes([150]) + good}
    seeds["empty-recs"] = b"\0" + frame(1, 1, hello()) + frame(2, 0, b"")
    seeds["dropped-hello"] = b"\0" + frame(1, 1, hello(dropped=17)) + frame(2, 1, recs[0])
    seeds["bad-magic"] = b"\0" + b"XXXX" + good[4:]
    seeds["bad-version"] = b"\0" + frame(1, 1, hello(version=2))
    seeds["bad-pid"] = b"\0" + frame(1, 1, hello(pid=0))
    seeds["recs-first"] = b"\0" + frame(2, 1, recs[0])
    seeds["two-hellos"] = b"\0" + frame(1, 1, hello()) + frame(1, 1, hello())
    seeds["bad-count"] = b"\0" + frame(1, 1, hello()) + frame(2, 2, recs[0])
    seeds["bad-call"] = b"\0" + frame(1, 1, hello()) + frame(2, 1, rec(12, 1))
    seeds["bad-peek"] = b"\0" + frame(1, 1, hello()) + frame(2, 1, rec(3, 1, plen=65))
    seeds["bad-type"] = b"\0" + frame(3, 1, hello())
    seeds["too-big"] = b"\0" + struct.pack("<IIII", magic, 2, (1 << 20) + 144, 7283)
    seeds["cut"] = b"\0" + good[:-10]
    rawlog = b""
    for conn, fr in ((1, frame(1, 1, hello())), (2, frame(1, 1, hello(pid=5))),
                     (1, frame(2, 3, b"".join(recs[:3])))):
        rawlog += struct.pack("<II", raw_magic, conn) + fr
    seeds["raw-good"] = b"\0" + rawlog
    seeds["raw-cut"] = b"\0" + rawlog[:-5]
    seeds["raw-bad-magic"] = b"\0" + b"ZZZZ" + rawlog[4:]
    return seeds


def trace_analyze_seeds():
    """A processes byte, then 10-byte records (the encoding of fuzz_trace_analyze.c): four
    processes (rows 1..4, pids 100..103) talking over connections of a few ports."""
    accept, connect, read, write, close = 1, 2, 3, 4, 5
    fs, server, client, dgram = 0x04, 0x08, 0x10, 0x02
    port = {80: 0, 8080: 1, 6379: 2, 3306: 3, 53: 4, 11211: 5, 9000: 6, 50001: 8, 50002: 9,
            51001: 12, 40000: 14}
    tmpl = {"http-req": 0, "http-resp": 1, "resp-get": 2, "resp-reply": 3, "resp-pipe": 4,
            "mysql-query": 5, "mysql-ok": 6, "mysql-greeting": 7, "dns-query": 8,
            "dns-answer": 9, "mc-get": 10, "mc-value": 11, "http-404": 12, "none": 13}

    def rec(proc, call, fd, lport, pport, flags=0, t="none", num=0, dt=1, off=0, ret=0, tid=0,
            arg=0):
        return bytes([proc | tid << 3 | fd << 5, call, flags, ret, dt & 0xff, off,
                      port[lport], port[pport], tmpl[t] | num << 4, arg & 0xff])

    def conn(cl, sv, cfd, sfd, cport, sport, cflags=fs | client, sflags=fs | server):
        """Helpers for one connection: open it, and send t from the client or the server."""
        def open_():
            return (rec(cl, connect, cfd, cport, sport, cflags) +
                    rec(sv, accept, sfd, sport, cport, sflags))

        def c(call, t, num=0, off=0):
            return rec(cl, call, cfd, cport, sport, cflags, t, num, off=off)

        def s(call, t, num=0, off=0):
            return rec(sv, call, sfd, sport, cport, sflags, t, num, off=off)

        def shut():
            return rec(cl, close, cfd, cport, sport, cflags) + rec(sv, close, sfd, sport, cport, sflags)
        return open_, c, s, shut

    def http_exchange(cfg=0):
        o, c, s, shut = conn(0, 1, 0, 1, 50001, 8080)
        return bytes([cfg]) + (o() + c(write, "http-req", 1) + s(read, "http-req", 1) +
                               s(write, "http-resp") + c(read, "http-resp") + shut())

    def chain(cfg=0, n=1):
        # an untraced client -> nginx (row 1) -> backend (row 2) -> redis (row 3)
        o1, c1, s1, x1 = conn(4, 0, 0, 0, 40000, 80, 0, fs | server)
        o2, c2, s2, x2 = conn(0, 1, 1, 0, 50001, 9000)
        o3, c3, s3, x3 = conn(1, 2, 2, 0, 51001, 6379)
        out = bytes([cfg]) + o1() + o2() + o3()
        for r in range(n):
            out += (s1(read, "http-req", r) + c2(write, "http-req", r) + s2(read, "http-req", r) +
                    c3(write, "resp-get", r) + s3(read, "resp-get", r) +
                    s3(write, "resp-reply", r) + c3(read, "resp-reply", r) +
                    s2(write, "http-resp") + c2(read, "http-resp") + s1(write, "http-resp"))
        return out + x3() + x2() + x1()

    def keepalive(lose=None):
        o, c, s, shut = conn(0, 1, 0, 1, 50002, 8080)
        out = bytes([0]) + o()
        gap = 0
        for r in range(4):
            if r == lose:
                gap = 3  # the records of request r were lost: the next offsets jump
                continue
            off = 1 | gap << 2 if gap else 0
            out += (c(write, "http-req", r, off) + s(read, "http-req", r, off) +
                    s(write, "http-resp", 0, off) + c(read, "http-resp", 0, off))
            gap = 0
        return out + shut()

    def pipelined():
        o, c, s, shut = conn(0, 2, 3, 3, 51001, 6379)
        return bytes([0]) + (o() + c(write, "resp-pipe") + s(read, "resp-pipe") +
                             s(write, "resp-reply", 1) + s(write, "resp-reply", 2) +
                             s(write, "resp-reply", 3) + c(read, "resp-reply", 1) +
                             c(read, "resp-reply", 2) + c(read, "resp-reply", 3) + shut())

    def protocols():
        om, cm, sm, xm = conn(0, 1, 4, 4, 50001, 3306)
        oc, cc, sc, xc = conn(0, 3, 5, 5, 50002, 11211)
        od, cd, sd, xd = conn(0, 2, 2, 2, 40000, 53, dgram, dgram)
        return bytes([0x30]) + (om() + sm(write, "mysql-greeting") + cm(read, "mysql-greeting") +
                                cm(write, "mysql-query") + sm(read, "mysql-query") +
                                sm(write, "mysql-ok") + cm(read, "mysql-ok") + oc() +
                                cc(write, "mc-get", 7) + sc(read, "mc-get", 7) +
                                sc(write, "mc-value") + cc(read, "mc-value") +
                                cd(write, "dns-query") + sd(read, "dns-query") +
                                sd(write, "dns-answer") + cd(read, "dns-answer") +
                                xm() + xc())

    def clocks_apart():
        # the chain with each tier's clock 0x48 << 56 ns ahead of its caller's: jumps of the
        # timeline (a record of call 0, ignored, with time byte -128) between the tiers
        jump = bytes([4, 0, 0, 0, 0x80, 0, 0, 0, tmpl["none"], 0x48])
        o1, c1, s1, x1 = conn(4, 0, 0, 0, 40000, 80, 0, fs | server)
        o2, c2, s2, x2 = conn(0, 1, 1, 0, 50001, 9000)
        o3, c3, s3, x3 = conn(1, 2, 2, 0, 51001, 6379)
        return bytes([0]) + (o1() + s1(read, "http-req", 5) + o2()[:10] +
                             c2(write, "http-req", 5) + c2(read, "http-resp") +
                             s1(write, "http-resp") + jump + o2()[10:] +
                             s2(read, "http-req", 5) + o3()[:10] + c3(write, "resp-get", 5) +
                             c3(read, "resp-reply", 5) + s2(write, "http-resp") + jump +
                             o3()[10:] + s3(read, "resp-get", 5) + s3(write, "resp-reply", 5))

    return {"http-exchange": http_exchange(), "chain-clocks-apart": clocks_apart(), "chain": chain(), "chain-keepalive": chain(n=3),
            "chain-skewed": chain(cfg=0x02, n=2), "http-skewed-client": http_exchange(0x01),
            "keepalive": keepalive(), "keepalive-lost": keepalive(lose=1),
            "resp-pipelined": pipelined(), "protocols": protocols(),
            "exec-fork-drops": chain(cfg=0xf0, n=2)}


SEEDS = {
    "framer": framer_seeds,
    "http": http_seeds,
    "msg": msg_seeds,
    "pcap_read": pcap_read_seeds,
    "prom": prom_seeds,
    "sim_trace": sim_trace_seeds,
    "status": status_seeds,
    "trace_analyze": trace_analyze_seeds,
    "trace_wire": trace_wire_seeds,
    "wire": wire_seeds,
}


def main():
    for target in sys.argv[1:] or sorted(SEEDS):
        out = os.path.join(CORPUS, target)
        os.makedirs(out, exist_ok=True)
        seeds = SEEDS[target]()
        for name, data in sorted(seeds.items()):
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
        print(f"{len(seeds)} seeds in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
