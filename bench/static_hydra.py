#!/usr/bin/env python3
"""A minimal, fast stand-in for Hydra's JSON API, serving files that
gen_hydra.py wrote, for the benchmarks only (the full fake in
tests/fake_hydra/ builds every answer in Python: it needs seconds for one
250,000-build /eval/<id>/builds, which would swamp what we measure).

Hydra's URL layout, Content-Type application/json, HTTP/1.1 keep-alive,
bodies sent with sendfile(2). Binds 127.0.0.1 only. A client that accepts
gzip (Accept-Encoding, as bench/day_hydra.py reads it) gets FILE.gz when
gen_hydra.py wrote one (--shape hydra), with Content-Encoding: gzip, as
nginx in front of hydra.nixos.org sends; other answers go uncompressed.

  GET /jobset/<p>/<j>/evals[?page=N]  ROOT/jobset/<p>/<j>/evals/page-N.json
  GET /eval/<id>                      ROOT/eval/<id>.json
  GET /eval/<id>/builds               ROOT/eval/<id>/builds.json
  GET /build/<id>                     ROOT/build/<id>.json (gen_hydra.py writes the unfinished ones)
  anything else                       404 {"error": ...}

--log FILE appends one JSON line per request: method, path, query, status, bytes
(as sent), t (unix time of its arrival).

  static_hydra.py ROOT [--port 0] [--port-file PATH] [--log FILE]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import signal
import socketserver
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

EVALS_RE = re.compile(r"^/jobset/([^/]+)/([^/]+)/evals$")
EVAL_RE = re.compile(r"^/eval/([0-9]+)$")
EVAL_BUILDS_RE = re.compile(r"^/eval/([0-9]+)/builds$")
BUILD_RE = re.compile(r"^/build/([0-9]+)$")


def perl_int(text: str) -> int:
    m = re.match(r"\s*([+-]?[0-9]+)", text)
    return int(m.group(1)) if m else 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The status line and headers go out in a write of their own before the
    # body: with Nagle's algorithm the body then waits for the client's
    # delayed ACK (~40 ms a request on keep-alive connections).
    disable_nagle_algorithm = True
    server_version = "static-hydra"
    sys_version = ""
    root = "."
    log_file = None
    log_lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 - silence stderr
        pass

    def do_GET(self):  # noqa: N802
        self.started = time.time()  # the request's arrival, in the log as "t"
        self.answer(send_body=True)

    def do_HEAD(self):  # noqa: N802
        self.started = time.time()
        self.answer(send_body=False)

    def record(self, path: str, query: str, status: int, size: int) -> None:
        if self.log_file is None:
            return
        line = json.dumps({"method": self.command, "path": path, "query": query,
                           "status": status, "bytes": size, "t": self.started})
        with self.log_lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def resolve(self, path: str, query: str) -> tuple[str | None, bytes | None, int]:
        m = EVALS_RE.match(path)
        if m:
            page = perl_int(parse_qs(query).get("page", ["1"])[0])
            if page < 0:
                return None, b'{"error":"DBIx::Class::ResultSet::pager(): bad page"}', 500
            page = max(page, 1)
            d = os.path.join(self.root, "jobset", m.group(1), m.group(2), "evals")
            f = os.path.join(d, f"page-{page}.json")
            if os.path.exists(f):
                return f, None, 200
            if not os.path.isdir(d):
                return None, json.dumps({"error": f"Jobset ‘{m.group(2)}’ doesn't exist."},
                                        ensure_ascii=False).encode(), 404
            last = len([n for n in os.listdir(d) if n.startswith("page-")])
            return None, json.dumps({"evals": [], "first": "?page=1", "last": f"?page={last}",
                                     "previous": f"?page={page - 1}"}).encode(), 200
        m = EVAL_RE.match(path)
        if m:
            f = os.path.join(self.root, "eval", f"{int(m.group(1))}.json")
            if os.path.isfile(f):
                return f, None, 200
            return None, json.dumps({"error": f"Evaluation {int(m.group(1))} doesn't exist."}
                                    ).encode(), 404
        m = EVAL_BUILDS_RE.match(path)
        if m:
            return os.path.join(self.root, "eval", str(int(m.group(1))), "builds.json"), None, 200
        m = BUILD_RE.match(path)
        if m:
            f = os.path.join(self.root, "build", f"{int(m.group(1))}.json")
            if os.path.isfile(f):
                return f, None, 200
            return None, json.dumps({"error": f"Build with ID {int(m.group(1))} doesn't exist."}
                                    ).encode(), 404
        return None, None, 404

    def wants_gzip(self) -> bool:
        """Whether Accept-Encoding allows gzip (day_hydra.py's reading)."""
        ae = self.headers.get("Accept-Encoding") or ""
        return any(p.strip().split(";")[0].strip() in ("gzip", "x-gzip", "*")
                   and "q=0" not in p.replace(" ", "") for p in ae.split(","))

    def answer(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        file, inline, status = self.resolve(path, query)
        if inline is None and (not file or not os.path.isfile(file)):
            status = 404
            inline = b'{"error":"Page not found."}'
        if inline is not None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(inline)))
            self.end_headers()
            if send_body:
                self.wfile.write(inline)
            self.record(path, query, status, len(inline) if send_body else 0)
            return
        gz = self.wants_gzip() and os.path.isfile(file + ".gz")
        with open(file + ".gz" if gz else file, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.send_header("Vary", "Accept, Accept-Encoding")
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.flush()
            sent = 0
            if send_body:
                sent = self.connection.sendfile(fh)
        self.record(path, query, status, sent)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    a = p.parse_args(argv)
    Handler.root = os.path.abspath(a.root)
    if a.log:
        Handler.log_file = open(a.log, "a", encoding="utf-8")
    server = Server(("127.0.0.1", a.port), Handler)
    port = server.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{port}\n")
        os.replace(tmp, a.port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
