#!/usr/bin/env python3
"""A fake Hydra web application for tests and demos (Python 3.11 stdlib only).

It serves the JSON API of Hydra (hydra-api.md sections 1-5 and 15) from a
dataset file (see README.md in this folder), binds to 127.0.0.1 only, and
can be steered at run time through a control API under /_control/: dataset
phase, injected faults, optional gzip and ETag support, and a request log.

Usage:
  fake_hydra.py --dataset FILE [--port 0] [--port-file PATH] [--log FILE]
                [--seed N] [--gzip] [--etag] [--rate R] [--burst N]
                [--eval-builds-504-above N] [--eval-builds-504-delay S]
                [--verbose]
"""

from __future__ import annotations

import argparse
import copy
import email.utils
import gzip
import hashlib
import html
import http.server
import json
import math
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import zlib
from typing import Any, Callable, Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hydra_html  # noqa: E402  (tests/fake_hydra/hydra_html.py)

BIND_HOST = "127.0.0.1"
PAGE_SIZE = 20

JSON_TYPE = "application/json"
PAGE_TYPE = "text/html; charset=UTF-8"  # Hydra's templated pages
SMALL_HTML_TYPE = "text/html; charset=utf-8"  # redirects, log pages
TEXT_TYPE = "text/plain; charset=utf-8"

STORE_PATH_RE = re.compile(
    r"^/nix/store/[0123456789abcdfghijklmnpqrsvwxyz]{32}-[0-9a-zA-Z+\-._?=]{1,211}$"
)

BUILD_KEYS = (
    "id", "finished", "buildstatus", "timestamp", "starttime", "stoptime",
    "project", "jobset", "job", "nixname", "system", "priority", "releasename",
    "drvpath", "jobsetevals", "buildoutputs", "buildproducts", "buildmetrics",
)
EVAL_KEYS = (
    "id", "timestamp", "checkouttime", "evaltime", "hasnewbuilds", "flake",
    "builds", "jobsetevalinputs",
)
# /api/latestbuilds (Controller/API.pm buildToHash)
LATEST_KEYS = ("id", "project", "jobset", "job", "system", "nixname", "finished", "timestamp", "buildstatus")
LOGGED_HEADERS = (
    "accept", "accept-encoding", "user-agent", "if-none-match", "if-modified-since",
)
FAULT_KINDS = (
    "status", "429", "503", "reset", "truncate", "malformed", "slow",
    "gzip-bomb", "oversize", "html", "redirect-loop", "wrong-content-type",
    "delay", "omit-builds",
)


# Options of the control API and their types (see README.md "Options").
OPTION_TYPES: dict[str, type] = {
    "gzip": bool, "etag": bool, "rate": float, "burst": int,
    "eval_builds_504_above": int, "eval_builds_504_delay": float,
}
DEFAULT_OPTIONS: dict[str, Any] = {
    "gzip": False, "etag": False, "rate": 0.0, "burst": 7,
    "eval_builds_504_above": -1, "eval_builds_504_delay": 0.0,
}


def parse_options(payload: Any) -> dict[str, Any]:
    """The options of a POST /_control/options body, checked and typed."""
    if not isinstance(payload, dict):
        raise ValueError("options must be an object")
    unknown = set(payload) - set(OPTION_TYPES)
    if unknown:
        raise ValueError(f"unknown options: {sorted(unknown)}")
    out: dict[str, Any] = {}
    for name, value in payload.items():
        kind = OPTION_TYPES[name]
        if kind is bool:
            out[name] = bool(value)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"option {name}: not a number: {value!r}")
        out[name] = kind(value)
    if out.get("rate", 0) < 0 or out.get("burst", 0) < 0 or out.get("eval_builds_504_delay", 0) < 0:
        raise ValueError("rate, burst and eval_builds_504_delay must not be negative")
    return out


class RateLimiter:
    """nginx's limit_req (ngx_http_limit_req_module.c) for one client:
    `limit_req zone=... burst=B;` without nodelay, rate R requests/s.

    The excess (requests above the rate, leaking at R/s) of an accepted
    request is the previous excess minus what leaked since, plus one; the
    first request of an idle client has excess 0. An excess above B is
    refused (429, nothing recorded); otherwise the request is held for
    excess / R seconds before it goes to Hydra."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.excess = 0.0
        self.last: float | None = None

    def admit(self, rate: float, burst: int, now: float) -> float | None:
        """The delay in seconds for a request arriving at `now`, or None for a 429."""
        with self.lock:
            if self.last is None:
                excess = 0.0
            else:
                excess = max(0.0, self.excess - rate * max(0.0, now - self.last) + 1.0)
            if excess > burst + 1e-9:
                return None
            self.excess = excess
            self.last = now
            return excess / rate


class DatasetError(Exception):
    """The dataset JSON does not follow the documented format."""


# --------------------------------------------------------------------------
# Dataset


def _int_key(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{what}: not an integer id: {value!r}") from None


def _check_store_path(path: Any, what: str, nullable: bool = False) -> None:
    if path is None and nullable:
        return
    if not isinstance(path, str) or not STORE_PATH_RE.match(path):
        raise DatasetError(f"{what}: invalid store path {path!r}")
    name = path[len("/nix/store/") + 33:]
    if name in (".", ".."):
        raise DatasetError(f"{what}: invalid store path name {path!r}")


class Phase:
    """One phase of a dataset: the full state of jobsets, evals and builds."""

    def __init__(self, number: int, raw: dict, shared_logs: dict) -> None:
        self.number = number
        if not isinstance(raw, dict):
            raise DatasetError(f"phase {number}: not an object")
        self.jobsets: dict[tuple[str, str], list[int]] = {}
        self.projects: set[str] = set(raw.get("projects", []))
        for full_name, js in raw.get("jobsets", {}).items():
            project, sep, name = full_name.partition(":")
            if not sep or not project or not name:
                raise DatasetError(f"phase {number}: jobset key {full_name!r} is not 'project:jobset'")
            ids = [_int_key(e, f"phase {number} jobset {full_name}") for e in js.get("evals", [])]
            self.jobsets[(project, name)] = ids
            self.projects.add(project)
        self.renamed: dict[tuple[str, str], str] = {}
        for old, new in raw.get("renamed_jobsets", {}).items():
            project, _, name = old.partition(":")
            self.renamed[(project, name)] = new
            self.projects.add(project)

        self.evals: dict[int, dict] = {}
        for key, ev in raw.get("evals", {}).items():
            eid = _int_key(key, f"phase {number} eval")
            obj = {
                "id": eid,
                "timestamp": 0,
                "checkouttime": 0,
                "evaltime": 0,
                "hasnewbuilds": 1,
                "flake": None,
                "builds": [],
                "jobsetevalinputs": {},
            }
            obj.update({k: v for k, v in ev.items() if not k.startswith("_")})
            obj["id"] = eid
            self.evals[eid] = obj
        self.eval_jobset: dict[int, tuple[str, str]] = {}
        for js_key, ids in self.jobsets.items():
            for eid in ids:
                if eid not in self.evals:
                    raise DatasetError(f"phase {number}: jobset {js_key} lists unknown eval {eid}")
                self.eval_jobset[eid] = js_key

        self.builds: dict[int, dict] = {}
        for key, b in raw.get("builds", {}).items():
            bid = _int_key(key, f"phase {number} build")
            what = f"phase {number} build {bid}"
            for required in ("drvpath", "project", "jobset", "job", "system"):
                if required not in b:
                    raise DatasetError(f"{what}: missing {required!r}")
            _check_store_path(b["drvpath"], what)
            if not b["drvpath"].endswith(".drv"):
                raise DatasetError(f"{what}: drvpath does not end in .drv")
            for out_name, out in b.get("buildoutputs", {}).items():
                _check_store_path(out.get("path"), f"{what} output {out_name}", nullable=True)
            obj = {
                "id": bid,
                "finished": 1,
                "buildstatus": 0,
                "timestamp": 0,
                "starttime": None,
                "stoptime": None,
                "nixname": b["drvpath"][len("/nix/store/") + 33:-len(".drv")],
                "priority": 100,
                "releasename": None,
                "buildoutputs": {},
                "buildproducts": {},
                "buildmetrics": {},
            }
            obj.update({k: v for k, v in b.items() if not k.startswith("_")})
            obj["id"] = bid
            self.builds[bid] = obj
        for eid, ev in self.evals.items():
            for bid in ev["builds"]:
                if bid not in self.builds:
                    raise DatasetError(f"phase {number}: eval {eid} lists unknown build {bid}")
        # jobsetevals: every eval the build belongs to, unless given.
        member_of: dict[int, list[int]] = {}
        for eid in sorted(self.evals):
            for bid in self.evals[eid]["builds"]:
                member_of.setdefault(bid, []).append(eid)
        for bid, b in self.builds.items():
            if "jobsetevals" not in b:
                b["jobsetevals"] = member_of.get(bid, [])
            self.projects.add(b["project"])

        self.logs: dict[str, str] = dict(shared_logs)
        self.logs.update(raw.get("logs", {}))
        self.log_prefix: str | None = raw.get("log_prefix")

    def listed_evals(self, js_key: tuple[str, str]) -> list[dict]:
        """Evals shown by /jobset/p/j/evals: hasnewbuilds = 1, newest first."""
        ids = sorted(self.jobsets.get(js_key, []), reverse=True)
        return [self.evals[i] for i in ids if self.evals[i].get("hasnewbuilds") == 1]


class Dataset:
    def __init__(self, raw: Any) -> None:
        if not isinstance(raw, dict) or not isinstance(raw.get("phases"), dict):
            raise DatasetError("dataset must be an object with a 'phases' object")
        shared_logs = raw.get("logs", {})
        self.phases: dict[int, Phase] = {}
        for key, phase_raw in raw["phases"].items():
            number = _int_key(key, "phase")
            self.phases[number] = Phase(number, phase_raw, shared_logs)
        if not self.phases:
            raise DatasetError("dataset has no phases")
        self.initial_phase = int(raw.get("initial_phase", min(self.phases)))
        if self.initial_phase not in self.phases:
            raise DatasetError(f"initial_phase {self.initial_phase} does not exist")
        self.log_prefix: str | None = raw.get("log_prefix")


# --------------------------------------------------------------------------
# Responses


class Response:
    """An HTTP answer. The body is bytes, or an iterator of chunks with a length."""

    def __init__(
        self,
        status: int,
        content_type: str | None = None,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        chunks: Callable[[], Iterator[bytes]] | None = None,
        length: int | None = None,
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.headers = list(headers or [])
        self.chunks = chunks
        self.length = length if length is not None else len(body)
        self.delay = 0.0  # seconds to wait before the answer is sent

    def iter_body(self) -> Iterator[bytes]:
        if self.chunks is not None:
            yield from self.chunks()
        elif self.body:
            yield self.body


def shuffle_keys(value: Any, rng: random.Random) -> Any:
    """Copy of value with every object's keys in a random order."""
    if isinstance(value, dict):
        keys = list(value.keys())
        rng.shuffle(keys)
        return {k: shuffle_keys(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [shuffle_keys(v, rng) for v in value]
    return value


def dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_GZIP_BOMB_CACHE: dict[int, bytes] = {}
_GZIP_BOMB_LOCK = threading.Lock()


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip member that inflates to '[' followed by spaces, inflated_bytes long."""
    with _GZIP_BOMB_LOCK:
        cached = _GZIP_BOMB_CACHE.get(inflated_bytes)
        if cached is not None:
            return cached
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [comp.compress(b"[")]
        block = b" " * (1 << 20)
        left = max(0, inflated_bytes - 1)
        while left > 0:
            n = min(left, len(block))
            parts.append(comp.compress(block[:n]))
            left -= n
        parts.append(comp.flush())
        data = b"".join(parts)
        _GZIP_BOMB_CACHE[inflated_bytes] = data
        return data


def oversize_chunks(total: int) -> Callable[[], Iterator[bytes]]:
    """A valid JSON array '[0,0,...]' of exactly total bytes (total >= 2)."""

    def gen() -> Iterator[bytes]:
        if total < 3:
            yield b"[]"
            return
        middle = total - 3
        pairs, pad = divmod(middle, 2)
        yield b"[0"
        block_pairs = 32768
        block = b",0" * block_pairs
        while pairs > 0:
            n = min(pairs, block_pairs)
            yield block if n == block_pairs else b",0" * n
            pairs -= n
        yield b" " * pad + b"]"

    return gen


WORDS = (
    "nix store derivation hydra evaluation jobset closure substitute garbage "
    "collector channel overlay flake attribute fixed point lambda thunk "
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
    "tempor incididunt labore magna aliqua enim minim veniam quis nostrud "
    "exercitation ullamco laboris nisi aliquip commodo consequat duis aute "
    "irure reprehenderit voluptate velit esse cillum fugiat nulla pariatur"
).split()


def omit_builds(resp: Response, ids: list[int] | None) -> Response:
    """The answer without some elements of its JSON array of builds: those with
    an id in ids, or (ids None) every second one. Other answers are unchanged."""
    if resp.status != 200 or resp.content_type != JSON_TYPE or resp.chunks is not None:
        return resp
    gzipped = ("Content-Encoding", "gzip") in resp.headers
    value = json.loads(gzip.decompress(resp.body) if gzipped else resp.body)
    if not isinstance(value, list):
        return resp
    if ids is None:
        kept = value[::2]
    else:
        omitted = set(ids)
        kept = [b for b in value if not (isinstance(b, dict) and b.get("id") in omitted)]
    body = dump_json(kept)
    if gzipped:
        body = gzip.compress(body, mtime=0)
    return Response(resp.status, resp.content_type, body, resp.headers)


def nonsense_page(rng: random.Random) -> bytes:
    """Generated nonsense HTML, like the bot filter in front of hydra.nixos.org."""
    title = " ".join(rng.choice(WORDS) for _ in range(4)).title()
    parts = [f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n"]
    for _ in range(rng.randint(8, 16)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(20, 60))]
        link = "/" + "/".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        parts.append(f'<p>{" ".join(words)} <a href="{link}">{rng.choice(WORDS)}</a></p>\n')
    parts.append("</body></html>\n")
    return "".join(parts).encode("utf-8")


def nginx_page(status: int, reason: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode("utf-8")


def html_page(title: str, body_html: str) -> bytes:
    return (
        "<!DOCTYPE html>\n\n<html lang=\"en\">\n\n  <head>\n"
        f"    <title>Hydra - {html.escape(title)}</title>\n"
        "    <meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\" />\n"
        "  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body_html}\n"
        "    <footer>fake Hydra (tests/fake_hydra)</footer>\n  </body>\n</html>\n"
    ).encode("utf-8")


def moved_page(location: str) -> bytes:
    loc = html.escape(location)
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '    <html xmlns="http://www.w3.org/1999/xhtml">\n    <head>\n'
        "    <title>Moved</title>\n    </head>\n    <body>\n"
        f'   <p>This item has moved <a href="{loc}">here</a>.</p>\n</body>\n</html>\n'
    ).encode("utf-8")


def perl_int(text: str) -> int:
    """Perl's int() of a string: leading number or 0."""
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


def accepts_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    for item in accept_encoding.split(","):
        token, _, params = item.strip().partition(";")
        token = token.strip().lower()
        if token not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for p in params.split(";"):
            name, _, val = p.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


def wants_json(headers: Any) -> bool:
    accept = headers.get("Accept", "") or ""
    if "application/json" in accept or "text/x-json" in accept:
        return True
    # Catalyst::Action::REST also honours the request's own Content-Type
    # (tests/data/hydra/contenttype-only-eval-3.http).
    content_type = headers.get("Content-Type", "") or ""
    return content_type.split(";")[0].strip() == "application/json"


# --------------------------------------------------------------------------
# Server state


class State:
    def __init__(self, dataset_raw: Any, seed: int, log_path: str | None,
                 options: dict[str, Any] | None = None) -> None:
        self.lock = threading.Lock()
        # Notified when a request's record is added (see log_records).
        self.recorded = threading.Condition(self.lock)
        self.dataset = Dataset(dataset_raw)
        self.phase_number = self.dataset.initial_phase
        self.faults: list[dict] = []
        self.options = dict(DEFAULT_OPTIONS)
        self.options.update(options or {})
        self.limiter = RateLimiter()
        self.records: list[dict] = []
        self.arrivals = 0  # requests numbered since the last log/clear
        self.seed = seed
        self.counter = 0
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def next_rng(self) -> random.Random:
        with self.lock:
            self.counter += 1
            return random.Random(f"{self.seed}:{self.counter}")

    def snapshot(self) -> tuple[Phase, dict, Dataset]:
        with self.lock:
            return self.dataset.phases[self.phase_number], dict(self.options), self.dataset

    def take_fault(self, target: str) -> dict | None:
        with self.lock:
            for rule in self.faults:
                if rule["remaining"] == 0:
                    continue
                if not rule["regex"].search(target):
                    continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                if rule["remaining"] > 0:
                    rule["remaining"] -= 1
                rule["fired"] += 1
                return rule
        return None

    def log_records(self) -> list[dict]:
        """The log, once every request that arrived before is in it. A client
        has its answer as soon as the last byte is sent, before the thread
        that sent it adds the record, so a client that asks for the log right
        after an answer could miss that request. A request still being
        answered (a slow one) is waited for at most a second."""
        with self.lock:
            self.recorded.wait_for(lambda: len(self.records) >= self.arrivals, timeout=1.0)
            return list(self.records)

    def next_seq(self) -> int:
        """The number of a request that just arrived (1 after a log/clear)."""
        with self.lock:
            self.arrivals += 1
            return self.arrivals

    def add_record(self, record: dict) -> None:
        """Logs a finished request, in the order requests arrived: a client may
        have its answer (and send the next request) before this thread gets
        here, so a record can finish after a later one."""
        with self.lock:
            at = len(self.records)
            while at > 0 and self.records[at - 1]["seq"] > record["seq"]:
                at -= 1
            self.records.insert(at, record)
            self.recorded.notify_all()
            if self.log_file:
                self.log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.log_file.flush()


def parse_fault(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise ValueError("a fault rule must be an object")
    kind = str(raw.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    try:
        regex = re.compile(str(raw.get("match", "")))
    except re.error as e:
        raise ValueError(f"bad match regex: {e}") from None
    count = int(raw.get("count", 1))
    rule = dict(raw)
    rule.update(kind=kind, regex=regex, remaining=count, skip=int(raw.get("skip", 0)), fired=0)
    if kind == "slow":
        rule["sent"] = 0  # body bytes sent so far, for tests that act mid-answer
    if kind == "status" and "status" not in raw:
        raise ValueError("fault kind 'status' needs param 'status'")
    ids = raw.get("ids")
    if kind == "omit-builds" and ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise ValueError("fault kind 'omit-builds': param 'ids' must be a list of build ids")
    return rule


def public_fault(rule: dict) -> dict:
    return {k: v for k, v in rule.items() if k != "regex"}


# --------------------------------------------------------------------------
# The Hydra application


class HydraApp:
    """Routes a GET request to a Response, like Hydra's Catalyst controllers."""

    def __init__(self, phase: Phase, dataset: Dataset, options: dict,
                 rng: random.Random, headers: Any, base_url: str) -> None:
        self.phase = phase
        self.dataset = dataset
        self.options = options
        self.rng = rng
        self.headers = headers
        self.base_url = base_url
        self.json = wants_json(headers)

    # -- helpers ------------------------------------------------------------

    def json_answer(self, status: int, value: Any, extra: list[tuple[str, str]] | None = None) -> Response:
        return Response(status, JSON_TYPE, dump_json(shuffle_keys(value, self.rng)), extra)

    def error(self, status: int, message: str) -> Response:
        if self.json:
            return self.json_answer(status, {"error": message})
        body = html_page("Error", f"<p class=\"error\">{html.escape(message)}</p>")
        return Response(status, PAGE_TYPE, body)

    def redirect(self, location: str, status: int = 302) -> Response:
        if location.startswith("/"):
            location = self.base_url + location
        return Response(status, SMALL_HTML_TYPE, moved_page(location), [("Location", location)])

    def entity(self, value: Any, title: str, body_html: str,
               extra: list[tuple[str, str]] | None = None) -> Response:
        """JSON for API clients, an HTML page (status 200) for everyone else."""
        if self.json:
            return self.json_answer(200, value, extra)
        return Response(200, PAGE_TYPE, html_page(title, body_html), extra)

    def build_json(self, b: dict) -> dict:
        obj = {k: copy.deepcopy(b[k]) for k in BUILD_KEYS}
        self.rng.shuffle(obj["jobsetevals"])  # order is unspecified in Hydra
        return obj

    def eval_json(self, ev: dict) -> dict:
        return {k: copy.deepcopy(ev[k]) for k in EVAL_KEYS}

    def find_build(self, text: str) -> tuple[dict | None, Response | None]:
        if not re.fullmatch(r"\d+", text):
            return None, self.error(500, f"Invalid build ID ‘{text}’.")
        b = self.phase.builds.get(int(text))
        if b is None:
            return None, self.error(404, f"Build with ID {text} doesn't exist.")
        return b, None

    def find_eval(self, text: str) -> tuple[dict | None, Response | None]:
        if not re.fullmatch(r"\d+", text):
            return None, self.error(
                500,
                'DBIx::Class::ResultSet::find(): DBI Exception: DBD::Pg::st execute failed: '
                f'ERROR:  invalid input syntax for type integer: "{text}"',
            )
        ev = self.phase.evals.get(int(text))
        if ev is None:
            return None, self.error(404, f"Evaluation {text} doesn't exist.")
        return ev, None

    def find_jobset(self, project: str, jobset: str, rest: str, query: str) -> tuple[tuple[str, str] | None, Response | None]:
        if project not in self.phase.projects:
            return None, self.error(404, f"Project ‘{project}’ doesn't exist.")
        key = (project, jobset)
        if key in self.phase.jobsets:
            return key, None
        new_name = self.phase.renamed.get(key)
        if new_name is not None:
            new_project, _, new_jobset = new_name.partition(":")
            loc = "/jobset/" + urllib.parse.quote(new_project) + "/" + urllib.parse.quote(new_jobset) + rest
            if query:
                loc += "?" + query
            return None, self.redirect(loc, 301)
        return None, self.error(404, f"Jobset ‘{jobset}’ doesn't exist.")

    # -- routes ---------------------------------------------------------------

    def route(self, path: str, query: str) -> Response:
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        if parts and parts[-1] == "" and len(parts) > 1:
            parts = parts[:-1]
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        n = len(parts)
        if parts == [""] or not parts:
            return self.root()
        head = parts[0]
        if head == "project" and n == 2:
            return self.project(parts[1])
        if head == "jobset" and n >= 3:
            rest = "" if n == 3 else "/" + "/".join(parts[3:])
            key, err = self.find_jobset(parts[1], parts[2], rest, query)
            if err:
                return err
            assert key is not None
            if n == 3:
                return self.jobset(key)
            if n == 4 and parts[3] == "evals":
                return self.evals(key, params)
            if n == 4 and parts[3] == "latest-eval":
                return self.latest_eval(key)
        if head == "eval" and n >= 2:
            ev, err = self.find_eval(parts[1])
            if err:
                return err
            assert ev is not None
            if n == 2:
                return self.eval_view(ev)
            if n == 3 and parts[2] == "builds":
                return self.eval_builds(ev)
            if n == 4 and parts[2] == "job":
                for bid in ev["builds"]:
                    if self.phase.builds[bid]["job"] == parts[3]:
                        return self.redirect(f"/build/{bid}")
                return self.error(404, "This evaluation has no job with the specified name.")
        if head == "build" and n >= 2:
            b, err = self.find_build(parts[1])
            if err:
                return err
            assert b is not None
            if n == 2:
                return self.build_view(b)
            if parts[2] == "log" and n in (3, 4):
                return self.build_log(b, parts[3] if n == 4 else "pretty")
            if n == 4 and parts[2] == "api" and parts[3] == "get-info":
                outs = b["buildoutputs"]
                out_path = None
                if "out" in outs:
                    out_path = outs["out"].get("path")
                elif outs:
                    out_path = outs[sorted(outs)[0]].get("path")
                return self.json_answer(200, {"buildId": b["id"], "drvPath": b["drvpath"], "outPath": out_path})
        if head == "log" and n == 2:
            return self.raw_log(parts[1], params)
        if head == "api" and n == 2 and parts[1] == "latestbuilds":
            return self.latest_builds(params)
        return self.error(404, "Page not found.")

    def latest_builds(self, params: dict) -> Response:
        """GET /api/latestbuilds?nr=N[&project=&jobset=&job=&system=]
        (Controller/API.pm latestbuilds): the N finished builds with the
        highest ids, newest first, as short objects (buildToHash: no drvpath,
        no times but the queue timestamp). JSON whatever the Accept header
        (it goes through View::Plain); nr is required, unbounded."""
        nr_text = params.get("nr", [None])[-1]
        if nr_text is None:
            return Response(500, JSON_TYPE, dump_json({"error": "Parameter not defined!"}))
        if not re.fullmatch(r"\d+", nr_text):
            return Response(500, JSON_TYPE, dump_json({
                "error": "DBIx::Class::ResultSet::all(): DBI Exception: DBD::Pg::st execute failed: "
                         f'ERROR:  invalid input syntax for type bigint: "{nr_text}"'}))
        nr = int(nr_text)
        wanted = {k: params.get(k, [""])[-1] for k in ("project", "jobset", "job", "system")}
        out = []
        for bid in sorted(self.phase.builds, reverse=True):
            if len(out) >= nr:
                break
            b = self.phase.builds[bid]
            if b["finished"] != 1:
                continue
            if any(v and b[k] != v for k, v in wanted.items()):
                continue
            out.append({k: b[k] for k in LATEST_KEYS})
        return Response(200, JSON_TYPE, dump_json(shuffle_keys(out, self.rng)))

    def root(self) -> Response:
        projects = [self.project_json(p) for p in sorted(self.phase.projects)]
        items = "".join(f"<li>{html.escape(p['name'])}</li>" for p in projects)
        return self.entity(projects, "Overview", f"<ul>{items}</ul>")

    def project_json(self, name: str) -> dict:
        jobsets = sorted(j for (p, j) in self.phase.jobsets if p == name)
        return {
            "name": name, "displayname": name, "description": "", "homepage": "",
            "owner": "admin", "enabled": True, "hidden": False, "jobsets": jobsets,
            "declarative": {"file": "", "type": "", "value": ""},
            "enable_dynamic_run_command": False,
        }

    def project(self, name: str) -> Response:
        if name not in self.phase.projects:
            return self.error(404, f"Project ‘{name}’ doesn't exist.")
        return self.entity(self.project_json(name), f"Project {name}", "")

    def jobset(self, key: tuple[str, str]) -> Response:
        project, name = key
        obj = {
            "name": name, "project": project, "description": "", "enabled": 1,
            "visible": True, "hidden": False, "checkinterval": 300, "schedulingshares": 100,
            "keepnr": 3, "nixexprinput": "nixpkgs", "nixexprpath": "pkgs/top-level/release.nix",
            "errormsg": "", "fetcherrormsg": "", "emailoverride": "", "enableemail": False,
            "enable_dynamic_run_command": False, "flake": "", "type": 0, "inputs": {},
            "errortime": None, "lastcheckedtime": None, "starttime": None, "triggertime": None,
        }
        return self.entity(obj, f"Jobset {project}:{name}", "")

    def evals(self, key: tuple[str, str], params: dict) -> Response:
        page = perl_int(params.get("page", ["1"])[-1] or "1") or 1
        if page < 0:
            return self.error(
                500,
                "DBIx::Class::Storage::DBI::_select_args(): A supplied offset attribute must be a "
                "non-negative integer at /srv/hydra/subprojects/hydra/script/../lib/Hydra/Helper/Nix.pm line 312\n",
            )
        listed = self.phase.listed_evals(key)
        total = len(listed)
        last = math.ceil(total / PAGE_SIZE)
        shown = listed[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        obj: dict[str, Any] = {
            "evals": [self.eval_json(ev) for ev in shown],
            "first": "?page=1",
            "last": f"?page={last}",
        }
        if page > 1:
            obj["previous"] = f"?page={page - 1}"
        if page < last:
            obj["next"] = f"?page={page + 1}"

        extra: list[tuple[str, str]] = []
        if self.options.get("etag") and self.json:
            canonical = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")
            etag = '"' + hashlib.sha256(canonical).hexdigest()[:32] + '"'
            extra.append(("ETag", etag))
            modified = max((ev.get("timestamp") or 0 for ev in listed), default=None)
            if modified:
                extra.append(("Last-Modified", email.utils.formatdate(modified, usegmt=True)))
            if self.not_modified(etag, modified):
                return Response(304, None, b"", extra)
        if self.json:
            return self.json_answer(200, obj, extra)
        project, name = key
        older = {ev["id"]: listed[i + 1] if i + 1 < total else None for i, ev in enumerate(listed)}
        rows = [self.eval_row(ev, older[ev["id"]]) for ev in shown]
        body = hydra_html.evals_page(self.base_url, project, name, rows, page, total, PAGE_SIZE)
        return Response(200, PAGE_TYPE, body, extra)

    def eval_counts(self, ev: dict) -> tuple[int, int, int]:
        """(succeeded, failed, queued) over the eval's member builds, as the
        HTML listing counts them (nr_succeeded, the rest, nr_scheduled)."""
        succeeded = failed = queued = 0
        for bid in ev["builds"]:
            b = self.phase.builds[bid]
            if b["finished"] != 1:
                queued += 1
            elif b["buildstatus"] == 0:
                succeeded += 1
            else:
                failed += 1
        return succeeded, failed, queued

    def eval_row(self, ev: dict, previous: dict | None) -> hydra_html.EvalRow:
        succeeded, failed, queued = self.eval_counts(ev)
        diff = None if previous is None else succeeded - self.eval_counts(previous)[0]
        old_inputs = (previous or {}).get("jobsetevalinputs") or {}
        inputs = []
        for name, inp in sorted((ev.get("jobsetevalinputs") or {}).items()):
            rev = (inp or {}).get("revision") or (inp or {}).get("value")
            old = old_inputs.get(name) or {}
            if rev and rev != (old.get("revision") or old.get("value")):
                inputs.append((name, str(rev)))
        return hydra_html.EvalRow(ev["id"], int(ev.get("timestamp") or 0), inputs,
                                  succeeded, failed, queued, diff)

    def not_modified(self, etag: str, modified: int | None) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            tags = [t[2:] if t.startswith("W/") else t for t in tags]
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims and modified:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, IndexError):
                return False
            return modified <= since
        return False

    def latest_eval(self, key: tuple[str, str]) -> Response:
        for ev in self.phase.listed_evals(key):
            if all(self.phase.builds[b]["finished"] == 1 for b in ev["builds"]):
                return self.redirect(f"/eval/{ev['id']}")
        return self.error(404, "No evaluation found.")

    def eval_view(self, ev: dict) -> Response:
        js = self.phase.eval_jobset.get(ev["id"], ("?", "?"))
        return self.entity(self.eval_json(ev), f"Evaluation {ev['id']} of jobset {js[0]}:{js[1]}",
                           f"<p>{len(ev['builds'])} builds</p>")

    def eval_builds(self, ev: dict) -> Response:
        above = int(self.options.get("eval_builds_504_above", -1))
        if 0 <= above < len(ev["builds"]):
            # nginx gives up waiting for Hydra (hydra.nixos.org: after 900 s).
            resp = Response(504, "text/html", nginx_page(504, "Gateway Time-out"))
            resp.delay = float(self.options.get("eval_builds_504_delay", 0.0))
            return resp
        builds = [self.build_json(self.phase.builds[b]) for b in sorted(ev["builds"])]
        return self.entity(builds, f"Builds of evaluation {ev['id']}", "")

    def build_view(self, b: dict) -> Response:
        title = f"Build {b['id']} of job {b['project']}:{b['jobset']}:{b['job']}"
        return self.entity(self.build_json(b), title, f"<p>{html.escape(b['drvpath'])}</p>")

    def log_text(self, drvpath: str) -> str | None:
        return self.phase.logs.get(os.path.basename(drvpath))

    def build_log(self, b: dict, mode: str) -> Response:
        base = os.path.basename(b["drvpath"])
        title = f"Log of build {b['id']} of job {b['project']}:{b['jobset']}:{b['job']}"
        if mode == "raw":
            return self.redirect("/log/" + urllib.parse.quote(base))
        if mode not in ("pretty", "tail"):
            return self.error(500, f"Unknown log display mode ‘{mode}’.")
        text = self.log_text(b["drvpath"])
        if mode == "tail" and text is not None:
            text = "\n".join(text.splitlines()[-50:]) + "\n"
        shown = "<p>Log not available.</p>" if text is None else f"<pre>{html.escape(text)}</pre>"
        return Response(200, SMALL_HTML_TYPE, html_page(title, shown))

    def raw_log(self, base: str, params: dict) -> Response:
        text = self.phase.logs.get(base)
        if text is None:
            prefix = self.phase.log_prefix or self.dataset.log_prefix
            if prefix:
                return self.redirect(prefix + "log/" + urllib.parse.quote(base))
            return self.error(404, f"The build log of /nix/store/{base} is not available.")
        tail = params.get("tail", [""])[-1]
        if re.fullmatch(r"\d+", tail or ""):
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail):]) if int(tail) > 0 else ""
        return Response(200, TEXT_TYPE, text.encode("utf-8"))


# --------------------------------------------------------------------------
# HTTP handler


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-hydra"
    sys_version = ""
    state: State  # set on the subclass created in make_server
    verbose = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.verbose:
            sys.stderr.write("fake_hydra: " + (format % args) + "\n")

    def parse_request(self) -> bool:
        self.t_start = time.monotonic()
        return super().parse_request()

    def send_response(self, code: int, message: str | None = None) -> None:
        # Like Hydra: Date, no Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def do_GET(self) -> None:  # noqa: N802
        self.handle_request("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self.handle_request("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self.handle_request("POST")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # -- dispatch -------------------------------------------------------------

    def handle_request(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith("/_control/") or path == "/_control":
            self.control(method, path, query)
            return
        if method == "POST":
            self.read_body()
        record: dict[str, Any] = {
            "seq": self.state.next_seq(),
            "method": method,
            "path": path,
            "query": query,
            "headers": {h: self.headers.get(h) for h in LOGGED_HEADERS},
            "t_start": self.t_start,
            "t_end": None,
            "status": None,
            "bytes": 0,
            "fault": None,
        }
        try:
            if self.limit(method, record):
                self.answer(method, path, query, record)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        finally:
            record["t_end"] = time.monotonic()
            self.state.add_record(record)

    def base_url(self) -> str:
        host = self.headers.get("Host") or f"{BIND_HOST}:{self.server.server_address[1]}"
        return f"http://{host}"

    def app_response(self, method: str, path: str, query: str) -> Response:
        phase, options, dataset = self.state.snapshot()
        rng = self.state.next_rng()
        if method != "GET" and method != "HEAD":
            return Response(405, JSON_TYPE, dump_json({"error": "Method not allowed."}))
        app = HydraApp(phase, dataset, options, rng, self.headers, self.base_url())
        try:
            resp = app.route(path, query)
        except Exception as e:  # a bug in the fake: answer 500, keep serving
            traceback.print_exc()
            resp = Response(500, JSON_TYPE, dump_json({"error": f"fake_hydra internal error: {e}"}))
        self.finish_headers(resp, options, rng)
        if resp.delay > 0:
            time.sleep(resp.delay)  # e.g. the proxy waiting for Hydra before its 504
        return resp

    def finish_headers(self, resp: Response, options: dict, rng: random.Random) -> None:
        """Headers every Hydra answer has, and optional gzip (as nginx would add)."""
        vary = "Accept"
        if options.get("gzip"):
            vary = "Accept, Accept-Encoding"
            compressible = resp.content_type and (
                resp.content_type.startswith(JSON_TYPE) or resp.content_type.startswith("text/plain")
                or resp.content_type.startswith("text/html"))  # nginx's gzip_types always has text/html
            if (compressible and resp.chunks is None and resp.body
                    and accepts_gzip(self.headers.get("Accept-Encoding"))):
                resp.body = gzip.compress(resp.body, mtime=0)
                resp.length = len(resp.body)
                resp.headers.append(("Content-Encoding", "gzip"))
        resp.headers.insert(0, ("Vary", vary))
        session = "%040x" % rng.getrandbits(160)
        expires = time.strftime("%a, %d-%b-%Y %H:%M:%S GMT", time.gmtime(time.time() + 7 * 86400))
        resp.headers.append(("Set-Cookie", f"hydra_session={session}; path=/; expires={expires}; HttpOnly; SameSite=Lax"))

    def limit(self, method: str, record: dict) -> bool:
        """nginx's limit_req in front of Hydra (option `rate`, 0 = off): holds
        the request within the burst, or answers 429 (nginx's page, no
        Retry-After) beyond it. True when the request may go on."""
        with self.state.lock:
            rate = float(self.state.options.get("rate") or 0)
            burst = int(self.state.options.get("burst") or 0)
        if rate <= 0:
            return True
        delay = self.state.limiter.admit(rate, burst, time.monotonic())
        if delay is None:
            record["limited"] = True
            self.send(Response(429, "text/html", nginx_page(429, "Too Many Requests")), record, method)
            return False
        if delay > 0:
            record["delayed"] = round(delay, 3)
            time.sleep(delay)
        return True

    def answer(self, method: str, path: str, query: str, record: dict) -> None:
        target = path + ("?" + query if query else "")
        rule = self.state.take_fault(target)
        if rule is None:
            self.send(self.app_response(method, path, query), record, method)
            return
        kind = rule["kind"]
        record["fault"] = kind
        rng = random.Random(f"fault:{self.state.seed}:{record['t_start']}")

        if kind == "reset":
            self.reset_connection()
            return
        if kind == "delay":
            time.sleep(float(rule.get("seconds", 1.0)))
            self.send(self.app_response(method, path, query), record, method)
            return
        if kind == "status":
            status = int(rule["status"])
            headers = []
            if "retry_after" in rule:
                headers.append(("Retry-After", str(rule["retry_after"])))
            body = rule.get("body")
            ctype = rule.get("content_type", JSON_TYPE)
            data = body.encode("utf-8") if isinstance(body, str) else dump_json(
                {"error": f"Injected fault: status {status}."})
            self.send(Response(status, ctype, data, headers), record, method)
            return
        if kind in ("429", "503"):
            status = int(kind)
            reason = "Too Many Requests" if status == 429 else "Service Temporarily Unavailable"
            headers = []
            if rule.get("retry_after") is not None:
                headers.append(("Retry-After", str(rule["retry_after"])))
            self.send(Response(status, "text/html", nginx_page(status, reason), headers), record, method)
            return
        if kind == "html":
            self.send(Response(200, "text/html", nonsense_page(rng)), record, method)
            return
        if kind == "gzip-bomb":
            data = gzip_bomb(int(rule.get("inflated_bytes", 200 * 1000 * 1000)))
            self.send(Response(200, JSON_TYPE, data, [("Vary", "Accept"), ("Content-Encoding", "gzip")]),
                      record, method)
            return
        if kind == "oversize":
            size = max(2, int(rule.get("bytes", 64 * 1024 * 1024)))
            self.send(Response(200, JSON_TYPE, headers=[("Vary", "Accept")], chunks=oversize_chunks(size),
                               length=size), record, method)
            return
        if kind == "redirect-loop":
            status = int(rule.get("status", 302))
            if rule.get("mode", "self") == "pingpong":
                # A <-> B: toggle a marker parameter on every hop.
                q = [p for p in query.split("&") if p and p != "hsloop=1"]
                if "hsloop=1" not in query.split("&"):
                    q.append("hsloop=1")
                loc = path + ("?" + "&".join(q) if q else "")
            else:
                loc = target
            loc = self.base_url() + loc
            self.send(Response(status, SMALL_HTML_TYPE, moved_page(loc), [("Vary", "Accept"), ("Location", loc)]),
                      record, method)
            return

        # The remaining kinds distort the real answer.
        resp = self.app_response(method, path, query)
        if kind == "malformed":
            body = resp.body
            if ("Content-Encoding", "gzip") in resp.headers:
                body = gzip.decompress(body)
            if resp.content_type != JSON_TYPE or len(body) < 8:
                body = b'{"evals":[{"id":1,'
            cut = body[: max(1, len(body) // 2)] + b'",]}{'
            resp = Response(200, JSON_TYPE, cut, [h for h in resp.headers if h[0] != "Content-Encoding"])
            self.send(resp, record, method)
            return
        if kind == "wrong-content-type":
            resp.content_type = "text/plain"
            self.send(resp, record, method)
            return
        if kind == "omit-builds":
            self.send(omit_builds(resp, rule.get("ids")), record, method)
            return
        if kind == "truncate":
            self.send(resp, record, method, limit=resp.length // 2)
            self.close_connection = True
            return
        if kind == "slow":
            rate = max(1, int(rule.get("bytes_per_sec", 200)))
            self.send(resp, record, method, rate=rate, rule=rule)
            return
        raise AssertionError(f"unhandled fault kind {kind}")

    def reset_connection(self) -> None:
        """Close the socket with SO_LINGER 0, so the peer gets a RST and no answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # Only rfile holds a reference on the socket (wfile is a plain writer),
        # so after these two calls the descriptor is really closed.
        try:
            self.rfile.close()
        except OSError:
            pass
        self.connection.close()

    def send(self, resp: Response, record: dict, method: str,
             limit: int | None = None, rate: int | None = None,
             rule: dict | None = None) -> None:
        record["status"] = resp.status
        self.send_response(resp.status)
        names = {name.lower() for name, _ in resp.headers}
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        if resp.status != 304 and "content-length" not in names:
            self.send_header("Content-Length", str(resp.length))
        self.end_headers()
        if method == "HEAD" or resp.status == 304:
            return
        budget = resp.length if limit is None else limit
        for chunk in resp.iter_body():
            if budget <= 0:
                break
            chunk = chunk[:budget]
            if rate is None:
                self.wfile.write(chunk)
                record["bytes"] += len(chunk)
                budget -= len(chunk)
                continue
            # The first `after_bytes` of the body at once, then the drip.
            fast = max(0, int(rule.get("after_bytes", 0)) - record["bytes"]) if rule else 0
            step = max(1, rate // 20)
            at = 0
            while at < len(chunk):
                drip = fast <= 0
                piece = chunk[at:at + (step if drip else fast)]
                at += len(piece)
                fast -= len(piece)
                self.wfile.write(piece)
                self.wfile.flush()
                record["bytes"] += len(piece)
                budget -= len(piece)
                if rule is not None:
                    with self.state.lock:
                        rule["sent"] += len(piece)
                if drip:
                    time.sleep(len(piece) / rate)
        self.wfile.flush()

    # -- control API -----------------------------------------------------------

    def control_answer(self, status: int, value: Any) -> None:
        body = dump_json(value)
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self, method: str, path: str, query: str) -> None:
        st = self.state
        try:
            body = self.read_body() if method == "POST" else b""
            payload = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError) as e:
            self.control_answer(400, {"error": f"bad JSON: {e}"})
            return
        try:
            if method == "GET" and path == "/_control/log":
                self.control_answer(200, st.log_records())
            elif method == "POST" and path == "/_control/log/clear":
                with st.lock:
                    st.records.clear()
                    st.arrivals = 0
                self.control_answer(200, {"ok": True})
            elif method == "POST" and path == "/_control/phase":
                number = int((payload or {}).get("phase"))
                with st.lock:
                    if number not in st.dataset.phases:
                        raise ValueError(f"no phase {number} in the dataset")
                    st.phase_number = number
                self.control_answer(200, {"phase": number})
            elif method == "POST" and path == "/_control/faults":
                rules = payload if isinstance(payload, list) else [payload]
                parsed = [parse_fault(r) for r in rules]
                with st.lock:
                    st.faults.extend(parsed)
                    count = len(st.faults)
                self.control_answer(200, {"faults": count})
            elif method == "POST" and path == "/_control/faults/clear":
                with st.lock:
                    st.faults.clear()
                self.control_answer(200, {"ok": True})
            elif method == "GET" and path == "/_control/faults":
                with st.lock:
                    rules = [public_fault(r) for r in st.faults]
                self.control_answer(200, rules)
            elif method == "POST" and path == "/_control/options":
                parsed = parse_options(payload)
                with st.lock:
                    st.options.update(parsed)
                    options = dict(st.options)
                self.control_answer(200, options)
            elif method == "POST" and path == "/_control/dataset":
                dataset = Dataset(payload)
                with st.lock:
                    st.dataset = dataset
                    st.phase_number = dataset.initial_phase
                self.control_answer(200, {"phase": dataset.initial_phase, "phases": sorted(dataset.phases)})
            elif method == "GET" and path == "/_control/state":
                with st.lock:
                    value = {"phase": st.phase_number, "phases": sorted(st.dataset.phases),
                             "options": dict(st.options), "requests": len(st.records)}
                self.control_answer(200, value)
            else:
                self.control_answer(404, {"error": f"unknown control request {method} {path}"})
        except (DatasetError, ValueError, TypeError, KeyError) as e:
            self.control_answer(400, {"error": str(e)})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64


def make_server(state: State, port: int, verbose: bool = False) -> Server:
    handler = type("BoundHandler", (Handler,), {"state": state, "verbose": verbose})
    return Server((BIND_HOST, port), handler)


def write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{port}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fake Hydra web application for tests (binds 127.0.0.1).")
    ap.add_argument("--port", type=int, default=0, help="TCP port, 0 = any free port (default)")
    ap.add_argument("--port-file", help="write the port here (atomically) once listening")
    ap.add_argument("--dataset", required=True, help="dataset JSON file (see README.md)")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--seed", type=int, default=0, help="seed for key shuffling (default 0)")
    ap.add_argument("--gzip", action="store_true", help="start with gzip answers enabled")
    ap.add_argument("--etag", action="store_true", help="start with ETag/Last-Modified enabled")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="nginx's limit_req: requests/s, 0 = no limit (default; hydra.nixos.org: 2)")
    ap.add_argument("--burst", type=int, default=7, help="limit_req burst (default 7, as hydra.nixos.org)")
    ap.add_argument("--eval-builds-504-above", type=int, default=-1, metavar="N",
                    help="/eval/<id>/builds answers 504 when the eval has more than N builds (-1 = never)")
    ap.add_argument("--eval-builds-504-delay", type=float, default=0.0, metavar="S",
                    help="seconds to wait before that 504 (default 0)")
    ap.add_argument("--verbose", action="store_true", help="print each request on stderr")
    args = ap.parse_args(argv)

    try:
        with open(args.dataset, encoding="utf-8") as f:
            raw = json.load(f)
        options = parse_options({
            "gzip": args.gzip, "etag": args.etag, "rate": args.rate, "burst": args.burst,
            "eval_builds_504_above": args.eval_builds_504_above,
            "eval_builds_504_delay": args.eval_builds_504_delay})
        state = State(raw, args.seed, args.log, options)
    except (OSError, ValueError, DatasetError) as e:
        print(f"fake_hydra: {args.dataset}: {e}", file=sys.stderr)
        return 2

    server = make_server(state, args.port, args.verbose)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    if args.verbose:
        print(f"fake_hydra: listening on http://{BIND_HOST}:{port}", file=sys.stderr)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
