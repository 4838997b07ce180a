#!/usr/bin/env python3
"""pk-trace-sink.py SOCK OUT — a stand-in for `parikshan trace logd` in the library's tests.

Listens on the Unix stream socket SOCK, decodes the frames of include/parikshan/trace.h with
struct, checks them (magic, hello first, len == count * record size, call in range, peek_len <=
64) and appends one JSON object per hello and per record to OUT (flushed per frame):
  {"t":"hello","conn":N,"pid":..,"ppid":..,"flags":..,"dropped":..,"exe":..,"comm":..}
  {"t":"rec","conn":N,"pid":..,"call":"READ",..,"local":"127.0.0.1:80","peek":"<latin-1>"}
  {"t":"bad","conn":N,"why":..}   (then that connection is dropped)
Runs until SIGTERM.
"""
import json, os, selectors, signal, socket, struct, sys

FRAME = struct.Struct("<IIII")
HELLO = struct.Struct("<IiiIQQQ256s16s")
REC = struct.Struct("<BBHIQiiqQHH16sHH16s64s")
MAGIC = 0x31525450
CALLS = ["?", "ACCEPT", "CONNECT", "READ", "WRITE", "CLOSE", "SHUTDOWN", "FORK", "EXEC", "DUP",
         "DROPS", "STATIC"]
assert HELLO.size == 312 and REC.size == 144


def addr(fam, port, raw):
    if fam == socket.AF_INET:
        return "%s:%d" % (socket.inet_ntop(socket.AF_INET, raw[:4]), port)
    if fam == socket.AF_INET6:
        return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, raw), port)
    if fam == socket.AF_UNIX:
        return "unix"
    return ""


def main():
    path, out_path = sys.argv[1], sys.argv[2]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(128)
    out = open(out_path, "a")
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    conns = {}
    nconn = [0]
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

    def emit(o):
        out.write(json.dumps(o) + "\n")

    def parse(c):
        st = conns[c]
        buf = st["buf"]
        while len(buf) >= FRAME.size:
            magic, typ, ln, count = FRAME.unpack_from(buf)
            if magic != MAGIC or ln > (1 << 20):
                return "bad magic/len"
            if len(buf) < FRAME.size + ln:
                break
            body = bytes(buf[FRAME.size:FRAME.size + ln])
            del buf[:FRAME.size + ln]
            if typ == 1:
                if ln != HELLO.size or count != 1:
                    return "bad hello size"
                v, pid, ppid, fl, mono, real, dropped, exe, comm = HELLO.unpack(body)
                if v != 1:
                    return "bad version"
                st["pid"] = pid
                emit({"t": "hello", "conn": st["id"], "pid": pid, "ppid": ppid, "flags": fl,
                      "mono_ns": mono, "real_ns": real, "dropped": dropped,
                      "exe": exe.rstrip(b"\0").decode("latin-1"),
                      "comm": comm.rstrip(b"\0").decode("latin-1")})
            elif typ == 2:
                if st["pid"] is None:
                    return "records before hello"
                if ln != count * REC.size:
                    return "len != count * 144"
                for i in range(count):
                    (call, fl, pl, tid, ts, fd, arg, ret, off, lf, lp, la, pf, pp, pa,
                     peek) = REC.unpack_from(body, i * REC.size)
                    if not 1 <= call < len(CALLS) or pl > 64:
                        return "bad record"
                    emit({"t": "rec", "conn": st["id"], "pid": st["pid"], "call": CALLS[call],
                          "flags": fl, "tid": tid, "ts": ts, "fd": fd, "arg": arg, "ret": ret,
                          "offset": off, "local": addr(lf, lp, la), "peer": addr(pf, pp, pa),
                          "peek": peek[:pl].decode("latin-1")})
            else:
                return "bad type"
        out.flush()
        return None

    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is srv:
                c, _ = srv.accept()
                nconn[0] += 1
                conns[c] = {"buf": bytearray(), "pid": None, "id": nconn[0]}
                sel.register(c, selectors.EVENT_READ)
                continue
            data = s.recv(1 << 16)
            why = None
            if data:
                conns[s]["buf"] += data
                why = parse(s)
            if not data or why:
                if why:
                    emit({"t": "bad", "conn": conns[s]["id"], "why": why})
                    out.flush()
                sel.unregister(s)
                s.close()
                del conns[s]


if __name__ == "__main__":
    main()
