#!/usr/bin/env python3
"""A simulated nixpkgs:trunk on hydra.nixos.org, for one day (bench/day).

The whole history is decided at start from the parameters and a seed, and
kept as compact per-build arrays; every answer is generated from them for
the server's simulated clock, so the state at time t is a pure function of
t (the clock may be set back, and two clients see the same Hydra).

History (DayParams): eval 0 builds every job (`eval_size` jobs over four
systems); each later eval, one every `eval_every` s, adds `new_share` new
builds (a new build for that many random jobs, new ids) and restarts
`restart_share` of the finished builds it keeps (finished -> 0, then they
finish again). `start_evals` evals exist at the start (t0), the newest one
hour old; `day_evals` more appear at t0 + 30 min + k * eval_every. A new or
restarted build finishes after a delay: 60% uniformly within 2 h, the rest
uniformly between 2 h and 8 h; its status follows gen_hydra.STATUS_SHARES
(~5% not 0).

Clock: POST /_control/clock {"t": T} sets it; each request is served at the
clock's time, then advances it by `pace` s (1: the client's default pacing),
so a sync's simulated duration is its request count x 1 s. A 504 (the
proxy giving up on /eval/<id>/builds) advances it by `proxy_wait` s more
(900 on hydra.nixos.org).

In front: nginx's limit_req (tests/fake_hydra RateLimiter, real time), gzip
level 5 when the client accepts it (JSON and HTML), and /eval/<id>/builds
answering 504 for an eval of more than `eval_builds_504_above` builds.

Endpoints (hydra-api.md section 2): /jobset/<p>/<j>/evals[?page=N] (JSON,
or Hydra's HTML page unless JSON is asked for), /eval/<id>,
/eval/<id>/builds (streamed, chunked), /build/<id>, /api/latestbuilds,
/jobset/<p>/<j>. Control under /_control/ (never counted): clock, options,
stats, truth, evals (see bench/README.md).

  day_hydra.py [--eval-size N] [--port-file F] [--rate R] [--burst B] ...
"""

from __future__ import annotations

import argparse
import array
import bisect
import dataclasses
import email.utils
import hashlib
import http.server
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse
import zlib
from typing import Any, Iterator

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "tests", "fake_hydra"))
import gen_hydra  # noqa: E402  (bench/gen_hydra.py: jobs, names, statuses)
import hydra_html  # noqa: E402  (tests/fake_hydra/hydra_html.py: Hydra's evals page)
from fake_hydra import RateLimiter, nginx_page  # noqa: E402

HOUR = 3600
NIX32_TABLE = bytes(ord(gen_hydra.benchlib.NIX32[b % 32]) for b in range(256))
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=UTF-8"
CHUNK_BUILDS = 2000


@dataclasses.dataclass
class DayParams:
    eval_size: int = 250_000
    start_evals: int = 20
    day_evals: int = 6
    eval_every: int = 4 * HOUR
    new_share: float = 0.02
    restart_share: float = 0.005
    seed: int = 1
    t0: int = 1_767_225_600  # 2026-01-01 00:00 UTC: the first sync
    project: str = "nixpkgs"
    jobset: str = "trunk"
    eval_id_base: int = 1_800_000
    build_id_base: int = 280_000_000


def finish_delay(rng: random.Random) -> int:
    """Seconds from a build's creation (or restart) to its finish."""
    if rng.random() < 0.6:
        return rng.randint(60, 2 * HOUR)
    return rng.randint(2 * HOUR + 1, 8 * HOUR)


def pick_status(rng: random.Random) -> int:
    return gen_hydra.STATUS_SHARES[bisect.bisect_left(gen_hydra.STATUS_CUM, rng.random())][0]


class Model:
    """The simulated jobset: builds as arrays (index = creation order = id order)."""

    def __init__(self, p: DayParams) -> None:
        self.p = p
        rng = random.Random(p.seed)
        self.jobs = gen_hydra.make_jobs(rng, p.eval_size)
        n_evals = p.start_evals + p.day_evals
        first = p.t0 - HOUR - (p.start_evals - 1) * p.eval_every
        self.appear = [first + k * p.eval_every for k in range(p.start_evals)]
        self.appear += [p.t0 + HOUR // 2 + k * p.eval_every for k in range(p.day_evals)]
        self.eval_ids = []
        eid = p.eval_id_base
        for _ in range(n_evals):
            self.eval_ids.append(eid)
            eid += rng.randint(3, 40)
        self.revs = [f"{rng.getrandbits(160):040x}" for _ in range(n_evals)]
        self.b_id = array.array("q")
        self.b_job = array.array("i")
        self.b_eval = array.array("h")
        self.b_last = array.array("h")
        self.b_created = array.array("q")
        self.b_fin1 = array.array("q")
        self.b_st1 = array.array("b")
        self.b_restart = array.array("q")
        self.b_fin2 = array.array("q")
        self.b_st2 = array.array("b")
        self.b_dur = array.array("i")
        self.members: list[array.array] = []
        self.new_builds: list[range] = []
        current = array.array("i", [-1]) * p.eval_size
        bid = p.build_id_base
        gaps = (1, 1, 1, 1, 1, 2, 2, 3, 5, 9)
        n_new = max(1, round(p.new_share * p.eval_size))
        n_restart = round(p.restart_share * p.eval_size)
        for k in range(n_evals):
            at = self.appear[k]
            if k == 0:
                jobs = list(range(p.eval_size))
                rng.shuffle(jobs)
            else:
                jobs = rng.sample(range(p.eval_size), n_new)
                bid += rng.randint(10_000, 400_000)  # other jobsets' builds
            start = len(self.b_id)
            replaced = set()
            for job in jobs:
                old = current[job]
                if old >= 0:
                    self.b_last[old] = k - 1
                    replaced.add(old)
                current[job] = len(self.b_id)
                created = at - rng.randint(0, 600)  # queued while the eval ran
                self.b_id.append(bid)
                self.b_job.append(job)
                self.b_eval.append(k)
                self.b_last.append(n_evals - 1)
                self.b_created.append(created)
                self.b_fin1.append(created + finish_delay(rng))
                self.b_st1.append(pick_status(rng))
                self.b_restart.append(-1)
                self.b_fin2.append(-1)
                self.b_st2.append(0)
                self.b_dur.append(min(8 * HOUR, int(rng.lognormvariate(4.5, 1.6)) + 1))
                bid += rng.choice(gaps)
            self.new_builds.append(range(start, len(self.b_id)))
            members = array.array("i", sorted(current))
            self.members.append(members)
            if k > 0 and n_restart:
                # Restarts among the kept members finished by now, once each.
                done = 0
                for i in rng.sample(range(len(members)), min(len(members), 4 * n_restart)):
                    b = members[i]
                    if b >= start or self.b_fin1[b] > at or self.b_restart[b] >= 0:
                        continue
                    self.b_restart[b] = at
                    self.b_fin2[b] = at + finish_delay(rng)
                    self.b_st2[b] = pick_status(rng)
                    done += 1
                    if done == n_restart:
                        break
        n = len(self.b_id)
        # Builds with an event at or after t0: the only ones whose state the day changes.
        self.dynamic = bytearray(n)
        events = []
        for i in range(n):
            last = max(self.b_fin1[i], self.b_fin2[i])
            if last >= p.t0:
                self.dynamic[i] = 1
                for t in (self.b_fin1[i], self.b_restart[i], self.b_fin2[i]):
                    if t >= p.t0:
                        events.append(t)
        events += [t for t in self.appear if t >= p.t0]
        self.events = sorted(events)
        # Per eval: the counts of its members whose state is final before t0,
        # and the list of the others.
        self.static_counts = []
        self.dyn_members = []
        for members in self.members:
            s = f = 0
            dyn = array.array("i")
            for b in members:
                if self.dynamic[b]:
                    dyn.append(b)
                    continue
                st = self.b_st2[b] if self.b_restart[b] >= 0 else self.b_st1[b]
                if st == 0:
                    s += 1
                else:
                    f += 1
            self.static_counts.append((s, f, 0))
            self.dyn_members.append(dyn)
        self.eval_text = [self._eval_json(k).encode() for k in range(n_evals)]
        self.jse_cache: dict[tuple[int, int], str] = {}
        self.names = [gen_hydra.nixname(j) for j in self.jobs]
        self.static: list[tuple[str, str, str] | None] = [None] * n

    # -- state at a time -----------------------------------------------------

    def version(self, t: int) -> int:
        """Changes whenever anything served changes: the number of events up to t."""
        return bisect.bisect_right(self.events, t)

    def visible(self, t: int) -> int:
        """How many evals exist at t."""
        return bisect.bisect_right(self.appear, t)

    def state(self, i: int, t: int) -> tuple[int, int | None, int | None, int | None]:
        """(finished, buildstatus, starttime, stoptime) of build i at t."""
        fin1 = self.b_fin1[i]
        if t < fin1:
            return 0, None, None, None
        r = self.b_restart[i]
        if r >= 0 and t >= r:
            fin2 = self.b_fin2[i]
            if t < fin2:
                return 0, self.b_st1[i], self._start(i, fin1, self.b_st1[i]), fin1
            return 1, self.b_st2[i], self._start(i, fin2, self.b_st2[i]), fin2
        return 1, self.b_st1[i], self._start(i, fin1, self.b_st1[i]), fin1

    def _start(self, i: int, stop: int, status: int) -> int:
        if status in (2, 8):
            return stop  # never ran: Hydra stamps both at once
        return max(self.b_created[i], stop - self.b_dur[i])

    def final_state(self, i: int) -> tuple[int, int]:
        """(finished, status) once every event happened."""
        return (1, self.b_st2[i] if self.b_restart[i] >= 0 else self.b_st1[i])

    def counts(self, k: int, t: int) -> tuple[int, int, int]:
        s, f, q = self.static_counts[k]
        for b in self.dyn_members[k]:
            finished, status, _, _ = self.state(b, t)
            if not finished:
                q += 1
            elif status == 0:
                s += 1
            else:
                f += 1
        return s, f, q

    def index_of(self, build_id: int) -> int | None:
        i = bisect.bisect_left(self.b_id, build_id)
        if i < len(self.b_id) and self.b_id[i] == build_id:
            return i
        return None

    # -- JSON ------------------------------------------------------------------

    def _eval_json(self, k: int) -> str:
        rng = random.Random(self.eval_ids[k])
        ids = ",".join(str(self.b_id[b]) for b in self.members[k])
        return (
            f'{{"id":{self.eval_ids[k]},"timestamp":{self.appear[k]},'
            f'"checkouttime":{rng.randint(2, 40)},"evaltime":{rng.randint(900, 4000)},'
            f'"hasnewbuilds":1,"flake":null,"builds":[{ids}],'
            f'"jobsetevalinputs":{{"nixpkgs":{{"type":"git","uri":'
            f'"https://github.com/NixOS/nixpkgs.git","revision":"{self.revs[k]}",'
            f'"value":null,"dependency":null}},"officialRelease":{{"type":"boolean",'
            f'"uri":null,"revision":null,"value":"false","dependency":null}}}}}}'
        )

    def jobsetevals(self, first: int, last: int) -> str:
        key = (first, last)
        text = self.jse_cache.get(key)
        if text is None:
            text = ",".join(str(self.eval_ids[k]) for k in range(first, last + 1))
            self.jse_cache[key] = text
        return text

    def hashes(self, i: int, count: int) -> list[str]:
        seed = struct.pack("<qq", self.p.seed, self.b_id[i])
        raw = hashlib.blake2b(seed, digest_size=64).digest()
        if count > 2:
            raw += hashlib.blake2b(seed, digest_size=64, person=b"more").digest()
        text = raw.translate(NIX32_TABLE).decode("ascii")
        return [text[j * 32:(j + 1) * 32] for j in range(count)]

    def static_parts(self, i: int) -> tuple[str, str, str]:
        """The parts of build i's object that never change: from "project" to
        the opening of "jobsetevals", and the tail after it for a success (with
        products) and for anything else. Cached (about 1 KB a build)."""
        parts = self.static[i]
        if parts is not None:
            return parts
        p = self.p
        job = self.jobs[self.b_job[i]]
        name = self.names[self.b_job[i]]
        outs = job.outputs
        hs = self.hashes(i, 1 + len(outs))
        store = gen_hydra.STORE
        paths = [f"{store}/{h}-{name if o == 'out' else name + '-' + o}" for h, o in zip(hs[1:], outs)]
        products = ",".join(
            f'"{n}":{{"type":"nix-build","subtype":"{"" if o == "out" else o}",'
            f'"name":"{name if o == "out" else name + "-" + o}","path":"{pp}",'
            f'"defaultpath":"","filesize":null,"sha256hash":null}}'
            for n, (o, pp) in enumerate(sorted(zip(outs, paths), key=lambda x: x[0] != "out"), start=1))
        outputs = ",".join(f'"{o}":{{"path":"{pp}"}}' for o, pp in zip(outs, paths))
        mid = (f'"project":"{p.project}","jobset":"{p.jobset}","job":"{job.job}",'
               f'"nixname":"{name}","system":"{job.system}","priority":100,'
               f'"releasename":null,"drvpath":"{store}/{hs[0]}-{name}.drv","jobsetevals":[')
        parts = (mid,
                 f'],"buildoutputs":{{{outputs}}},"buildproducts":{{{products}}},"buildmetrics":{{}}}}',
                 f'],"buildoutputs":{{{outputs}}},"buildproducts":{{}},"buildmetrics":{{}}}}')
        self.static[i] = parts
        return parts

    def build_json(self, i: int, t: int, newest: int) -> str:
        """The full build object (hydra-api.md section 5) of build i at t;
        `newest` is the index of the newest eval existing at t."""
        mid, tail_ok, tail_other = self.static_parts(i)
        finished, status, start, stop = self.state(i, t)
        jse = self.jobsetevals(self.b_eval[i], min(self.b_last[i], newest))
        return (
            f'{{"id":{self.b_id[i]},"finished":{finished},"buildstatus":{"null" if status is None else status},'
            f'"timestamp":{self.b_created[i]},"starttime":{"null" if start is None else start},'
            f'"stoptime":{"null" if stop is None else stop},{mid}{jse}'
            f'{tail_ok if finished and status == 0 else tail_other}'
        )

    def short_json(self, i: int, status: int) -> str:
        job = self.jobs[self.b_job[i]]
        return (f'{{"id":{self.b_id[i]},"project":"{self.p.project}","jobset":"{self.p.jobset}",'
                f'"job":"{job.job}","system":"{job.system}","nixname":"{self.names[self.b_job[i]]}",'
                f'"finished":1,"timestamp":{self.b_created[i]},"buildstatus":{status}}}')


# --------------------------------------------------------------------------
# Server


class Answer:
    """An answer: a body in memory, or chunks (sent chunked). objects/short:
    build objects it carries (for the stats)."""

    def __init__(self, status: int, ctype: str | None, body: bytes = b"",
                 chunks: list[bytes] | Iterator[bytes] | None = None,
                 gz: bool = False, objects: int = 0, short: int = 0) -> None:
        self.status = status
        self.ctype = ctype
        self.body = body
        self.chunks = chunks
        self.gz = gz
        self.objects = objects
        self.short = short


class BodyCache:
    """Encoded answers by key, least recently used dropped beyond max_bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.items: dict[Any, tuple[list[bytes], int]] = {}
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: Any) -> list[bytes] | None:
        with self.lock:
            item = self.items.pop(key, None)
            if item is None:
                return None
            self.items[key] = item
            return item[0]

    def put(self, key: Any, chunks: list[bytes]) -> None:
        size = sum(len(c) for c in chunks)
        if size > self.max_bytes:
            return
        with self.lock:
            old = self.items.pop(key, None)
            if old:
                self.size -= old[1]
            self.items[key] = (chunks, size)
            self.size += size
            while self.size > self.max_bytes and self.items:
                k = next(iter(self.items))
                self.size -= self.items.pop(k)[1]


def gzip_bytes(data: bytes) -> bytes:
    c = zlib.compressobj(5, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


class State:
    def __init__(self, model: Model, options: dict) -> None:
        self.model = model
        self.lock = threading.Lock()
        self.clock = model.p.t0
        self.pace = 1
        self.proxy_wait = 900
        self.options = options
        self.limiter = RateLimiter()
        self.cache = BodyCache(600 << 20)
        self.records: list[dict] = []

    def tick(self, extra: int = 0) -> int:
        with self.lock:
            t = self.clock
            self.clock += self.pace + extra
            return t


def kind_of(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[:1] == ["jobset"] and len(parts) == 4 and parts[3] == "evals":
        return "evals"
    if parts[:1] == ["jobset"] and len(parts) == 3:
        return "jobset"
    if parts[:1] == ["eval"] and len(parts) == 2:
        return "eval"
    if parts[:1] == ["eval"] and len(parts) == 3 and parts[2] == "builds":
        return "eval-builds"
    if parts[:1] == ["build"] and len(parts) == 2:
        return "build"
    if parts == ["api", "latestbuilds"]:
        return "latestbuilds"
    return "other"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.handle_one("GET")

    def do_POST(self) -> None:  # noqa: N802
        self.handle_one("POST")

    # -- sending -----------------------------------------------------------------

    def send_answer(self, ans: Answer, extra_headers: list[tuple[str, str]] = ()) -> int:
        """Writes the answer; returns the bytes on the wire (head and body)."""
        reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
                  504: "Gateway Time-out"}.get(ans.status, "Error")
        head = [f"HTTP/1.1 {ans.status} {reason}", "Server: nginx",
                f"Date: {email.utils.formatdate(usegmt=True)}"]
        if ans.ctype:
            head.append(f"Content-Type: {ans.ctype}")
        chunked = ans.chunks is not None
        head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(ans.body)}")
        head.append("Connection: keep-alive")
        if ans.status == 200 and ans.ctype != "text/html":
            head.append("Vary: Accept, Accept-Encoding")
            head.append("Set-Cookie: hydra_session=%040x; path=/; expires=Sat, 12-Dec-2026 03:21:23 GMT;"
                        " HttpOnly; SameSite=Lax" % random.getrandbits(160))
        if ans.gz:
            head.append("Content-Encoding: gzip")
        head += [f"{k}: {v}" for k, v in extra_headers]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data)
        sent = len(data)
        if not chunked:
            self.wfile.write(ans.body)
            return sent + len(ans.body)
        for chunk in ans.chunks:
            if not chunk:
                continue
            frame = b"%x\r\n" % len(chunk)
            self.wfile.write(frame)
            self.wfile.write(chunk)
            self.wfile.write(b"\r\n")
            sent += len(frame) + len(chunk) + 2
        self.wfile.write(b"0\r\n\r\n")
        return sent + 5

    def json_control(self, status: int, value: Any) -> None:
        body = json.dumps(value).encode()
        self.send_answer(Answer(status, JSON_TYPE, body))

    # -- requests ------------------------------------------------------------------

    def handle_one(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith("/_control/"):
            self.control(method, path, query)
            return
        st = self.state
        record = {"kind": kind_of(path), "path": path, "status": 0, "bytes": 0, "objects": 0,
                  "short": 0, "t": None, "delayed": 0.0}
        try:
            rate = float(st.options.get("rate") or 0)
            if rate > 0:
                delay = st.limiter.admit(rate, int(st.options.get("burst", 7)), time.monotonic())
                if delay is None:
                    record["status"] = 429
                    record["bytes"] = self.send_answer(Answer(429, "text/html", nginx_page(429, "Too Many Requests")))
                    return
                if delay > 0:
                    record["delayed"] = delay
                    time.sleep(delay)
            ans, t = self.route(path, query)
            record["t"] = t
            record["status"] = ans.status
            record["objects"] = ans.objects
            record["short"] = ans.short
            record["bytes"] = self.send_answer(ans)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with st.lock:
                st.records.append(record)

    def wants_gzip(self) -> bool:
        ae = self.headers.get("Accept-Encoding") or ""
        return any(p.strip().split(";")[0].strip() in ("gzip", "x-gzip", "*") and "q=0" not in p.replace(" ", "")
                   for p in ae.split(","))

    def wants_json(self) -> bool:
        return "application/json" in (self.headers.get("Accept") or "")

    def encoded(self, key: Any, make: Any, ctype: str, objects: int = 0, short: int = 0) -> Answer:
        gz = self.wants_gzip()
        full_key = (key, gz)
        body = self.state.cache.get(full_key)
        if body is None:
            data = make()
            body = [gzip_bytes(data) if gz else data]
            self.state.cache.put(full_key, body)
        return Answer(200, ctype, body[0], gz=gz, objects=objects, short=short)

    def error(self, status: int, message: str) -> Answer:
        return Answer(status, JSON_TYPE, json.dumps({"error": message}).encode())

    def route(self, path: str, query: str) -> tuple[Answer, int]:
        st = self.state
        m = st.model
        p = m.p
        kind = kind_of(path)
        parts = path.strip("/").split("/")
        params = urllib.parse.parse_qs(query)
        if kind == "eval-builds":
            k = self.eval_index(parts[1], None)
            above = int(st.options.get("eval_builds_504_above", -1))
            if k is not None and 0 <= above < len(m.members[k]):
                t = st.tick(st.proxy_wait)
                return Answer(504, "text/html", nginx_page(504, "Gateway Time-out")), t
        t = st.tick()
        newest = m.visible(t) - 1
        if kind in ("evals", "jobset") and (parts[1], parts[2]) != (p.project, p.jobset):
            return self.error(404, f"Jobset ‘{parts[2]}’ doesn't exist."), t
        if kind == "evals":
            try:
                page = max(1, int(params.get("page", ["1"])[-1]))
            except ValueError:
                page = 1
            if self.wants_json():
                return self.encoded(("evals", page, newest), lambda: self.evals_json(page, newest), JSON_TYPE), t
            version = m.version(t)
            return self.encoded(("html", page, version), lambda: self.evals_html(page, newest, t), HTML_TYPE), t
        if kind == "jobset":
            body = json.dumps({
                "name": p.jobset, "project": p.project, "enabled": 1, "visible": True, "checkinterval": 3600,
                "lastcheckedtime": t - t % 900, "starttime": None, "triggertime": None, "errortime": None,
                "fetcherrormsg": "", "errormsg": "", "description": "Nixpkgs master", "type": 0, "flake": "",
                "nixexprinput": "nixpkgs", "nixexprpath": "pkgs/top-level/release.nix", "keepnr": 3,
                "schedulingshares": 100, "emailoverride": "", "enableemail": False,
                "enable_dynamic_run_command": False, "inputs": {}}, separators=(",", ":")).encode()
            return self.encoded(("jobset", t - t % 900), lambda: body, JSON_TYPE), t
        if kind == "eval":
            k = self.eval_index(parts[1], t)
            if k is None:
                return self.error(404, f"Evaluation {parts[1]} doesn't exist."), t
            return self.encoded(("eval", k), lambda: m.eval_text[k], JSON_TYPE), t
        if kind == "eval-builds":
            k = self.eval_index(parts[1], t)
            if k is None:
                return self.error(404, f"Evaluation {parts[1]} doesn't exist."), t
            return self.eval_builds(k, t, newest), t
        if kind == "build":
            i = m.index_of(int(parts[1])) if parts[1].isdigit() else None
            if i is None or m.b_eval[i] > newest:
                return self.error(404, f"Build with ID {parts[1]} doesn't exist."), t
            data = m.build_json(i, t, newest).encode()
            gz = self.wants_gzip()
            return Answer(200, JSON_TYPE, gzip_bytes(data) if gz else data, gz=gz, objects=1), t
        if kind == "latestbuilds":
            return self.latest(params, t, newest), t
        return self.error(404, "Page not found."), t

    def eval_index(self, text: str, t: int | None) -> int | None:
        if not text.isdigit():
            return None
        m = self.state.model
        k = bisect.bisect_left(m.eval_ids, int(text))
        if k >= len(m.eval_ids) or m.eval_ids[k] != int(text):
            return None
        if t is not None and m.appear[k] > t:
            return None
        return k

    def evals_json(self, page: int, newest: int) -> bytes:
        m = self.state.model
        order = list(range(newest, -1, -1))
        last = max(1, -(-len(order) // 20))
        shown = order[(page - 1) * 20: page * 20]
        links = f'"first":"?page=1","last":"?page={last}"'
        if page > 1:
            links += f',"previous":"?page={page - 1}"'
        if page < last:
            links += f',"next":"?page={page + 1}"'
        return b'{"evals":[' + b",".join(m.eval_text[k] for k in shown) + b"]," + links.encode() + b"}"

    def evals_html(self, page: int, newest: int, t: int) -> bytes:
        m = self.state.model
        order = list(range(newest, -1, -1))
        shown = order[(page - 1) * 20: page * 20]
        rows = []
        counts = {k: m.counts(k, t) for k in shown + [k - 1 for k in shown if k > 0]}
        for k in shown:
            s, f, q = counts[k]
            diff = None if k == 0 else s - counts[k - 1][0]
            rows.append(hydra_html.EvalRow(m.eval_ids[k], m.appear[k], [("nixpkgs", m.revs[k])], s, f, q, diff))
        host = self.headers.get("Host") or "127.0.0.1"
        return hydra_html.evals_page(f"http://{host}", m.p.project, m.p.jobset, rows, page, len(order))

    def eval_builds(self, k: int, t: int, newest: int) -> Answer:
        m = self.state.model
        gz = self.wants_gzip()
        key = ("eval-builds", k, m.version(t), gz)
        members = m.members[k]
        cached = self.state.cache.get(key)
        if cached is not None:
            return Answer(200, JSON_TYPE, chunks=cached, gz=gz, objects=len(members))

        def gen() -> Iterator[bytes]:
            comp = zlib.compressobj(5, zlib.DEFLATED, 31) if gz else None
            out: list[bytes] = []
            for at in range(0, len(members), CHUNK_BUILDS):
                part = ",".join(m.build_json(b, t, newest) for b in members[at:at + CHUNK_BUILDS])
                data = (b"[" if at == 0 else b",") + part.encode()
                if at + CHUNK_BUILDS >= len(members):
                    data += b"]"
                if comp is not None:
                    data = comp.compress(data)
                if data:
                    out.append(data)
                    yield data
            if not members:
                data = b"[]" if comp is None else comp.compress(b"[]")
                out.append(data)
                yield data
            if comp is not None:
                tail = comp.flush()
                out.append(tail)
                yield tail
            self.state.cache.put(key, out)

        return Answer(200, JSON_TYPE, chunks=gen(), gz=gz, objects=len(members))

    def latest(self, params: dict, t: int, newest: int) -> Answer:
        m = self.state.model
        nr_text = params.get("nr", [None])[-1]
        if nr_text is None:
            return self.error(500, "Parameter not defined!")
        if not nr_text.isdigit():
            return self.error(500, "DBI Exception: invalid input syntax for type bigint")
        nr = int(nr_text)
        want = {k: params.get(k, [""])[-1] for k in ("project", "jobset", "job", "system")}
        out: list[str] = []
        if (not want["project"] or want["project"] == m.p.project) and (
                not want["jobset"] or want["jobset"] == m.p.jobset):
            i = m.new_builds[newest].stop - 1 if newest >= 0 else -1  # the newest build existing
            while i >= 0 and len(out) < nr:
                finished, status, _, _ = m.state(i, t)
                job = m.jobs[m.b_job[i]]
                if finished and (not want["job"] or job.job == want["job"]) and (
                        not want["system"] or job.system == want["system"]):
                    out.append(m.short_json(i, status))
                i -= 1
        data = ("[" + ",".join(out) + "]").encode()
        gz = self.wants_gzip()
        return Answer(200, JSON_TYPE, gzip_bytes(data) if gz else data, gz=gz, short=len(out))

    # -- control -----------------------------------------------------------------

    def control(self, method: str, path: str, query: str) -> None:
        st = self.state
        m = st.model
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"null") if length else None
        if path == "/_control/clock":
            if method == "POST":
                with st.lock:
                    st.clock = int(payload["t"])
            with st.lock:
                self.json_control(200, {"t": st.clock})
        elif path == "/_control/options" and method == "POST":
            with st.lock:
                st.options.update(payload)
                self.json_control(200, dict(st.options))
        elif path == "/_control/stats":
            with st.lock:
                records = list(st.records)
                if method == "POST":
                    st.records.clear()
            self.json_control(200, records)
        elif path == "/_control/evals":
            out = []
            for k in range(len(m.eval_ids)):
                new = m.new_builds[k] if k > 0 else range(0)
                out.append({"id": m.eval_ids[k], "appear": m.appear[k],
                            "new_builds": [m.b_id[i] for i in new],
                            "new_status": [m.b_st1[i] for i in new],
                            "new_restart": [m.b_restart[i] for i in new],
                            "settled": max((m.b_fin1[i] for i in new), default=m.appear[k])})
            self.json_control(200, {"t0": m.p.t0, "evals": out})
        elif path == "/_control/truth":
            q = urllib.parse.parse_qs(query)
            t = int(q["t"][0])
            ids, fin, status, changed = [], [], [], []
            n_visible = m.visible(t)
            since, until = int(q.get("since", [str(t)])[0]), int(q.get("until", [str(t)])[0])
            for i in range(len(m.b_id)):
                if m.b_eval[i] >= n_visible:
                    continue
                f, s, _, _ = m.state(i, t)
                ids.append(m.b_id[i])
                fin.append(f)
                status.append(s)
                if m.dynamic[i] and any(since < e <= until for e in (m.b_fin1[i], m.b_restart[i], m.b_fin2[i])):
                    changed.append(m.b_id[i])
            self.json_control(200, {"ids": ids, "finished": fin, "status": status, "changed": changed})
        else:
            self.json_control(404, {"error": f"unknown control request {method} {path}"})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="simulated nixpkgs:trunk for bench/day")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--eval-size", type=int, default=DayParams.eval_size)
    ap.add_argument("--start-evals", type=int, default=DayParams.start_evals)
    ap.add_argument("--day-evals", type=int, default=DayParams.day_evals)
    ap.add_argument("--seed", type=int, default=DayParams.seed)
    ap.add_argument("--rate", type=float, default=0.0, help="limit_req rate, requests/s of real time (0 = off)")
    ap.add_argument("--burst", type=int, default=7)
    ap.add_argument("--eval-builds-504-above", type=int, default=-1)
    args = ap.parse_args(argv)
    t_start = time.monotonic()
    model = Model(DayParams(eval_size=args.eval_size, start_evals=args.start_evals,
                            day_evals=args.day_evals, seed=args.seed))
    state = State(model, {"rate": args.rate, "burst": args.burst,
                          "eval_builds_504_above": args.eval_builds_504_above})
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = Server(("127.0.0.1", args.port), handler)
    port = server.server_address[1]
    print(f"day_hydra: {len(model.b_id)} builds, {len(model.eval_ids)} evals, "
          f"{sum(model.dynamic)} changing during the day; ready in {time.monotonic() - t_start:.1f} s "
          f"on port {port}", file=sys.stderr)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
