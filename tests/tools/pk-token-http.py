#!/usr/bin/env python3
"""pk-token-http.py — a small HTTP/1.1 service whose every answer carries a random token.

    pk-token-http.py PORT [--changed]

Listens on 127.0.0.1:PORT (keep-alive).  GET /item/N answers 200 with a header
"X-Token: <random hex>" (different in every answer) and the body "item N\\n"; with --changed,
the body of every tenth item (N divisible by 10) is "item N, changed\\n" instead: a changed
build of the same service.  Prints "listening PORT" once it accepts; runs until killed.
"""
import http.server
import secrets
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    changed = False

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "item" or not parts[1].isdigit():
            body = b"not found\n"
            self.send_response(404)
        else:
            n = int(parts[1])
            text = f"item {n}, changed\n" if self.changed and n % 10 == 0 else f"item {n}\n"
            body = text.encode()
            self.send_response(200)
        self.send_header("X-Token", secrets.token_hex(8))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def version_string(self):
        return "pk-token-http"

    def log_message(self, *args):
        pass


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--changed"):
        sys.exit(__doc__)
    Handler.changed = len(sys.argv) == 3
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("listening", sys.argv[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
