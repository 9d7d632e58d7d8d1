"""Sync politeness, least requests and progress output (issue 5), against the
fake Hydra (tests/fake_hydra): settings reach the HTTP client, pacing,
Retry-After, retries, timeouts, the request budget, conditional requests,
one request per jobset when nothing changed, by-id versus whole-eval reads,
re-checks with the fewest requests, and what the sync prints off a TTY and
with --quiet (on a terminal: test_progress).

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_politeness
"""

from __future__ import annotations

import email.utils
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import unittest

import hs_testlib
from hs_testlib import FakeHydra, index_dump, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()

T0 = 1735689600
ALPHA = "proj:alpha"
BETA = "proj:beta"
MASK = hs_testlib.ID_MASK
LISTING_RE = re.compile(r"^/jobset/([^/]+)/([^/]+)/evals$")
EVAL_BUILDS_RE = re.compile(r"^/eval/(\d+)/builds$")
BUILD_RE = re.compile(r"^/build/(\d+)$")


def two_jobsets_dataset() -> dict:
    """alpha: 3 evals of 20 new builds each (every eval holds all builds so far);
    beta: 1 eval of 10 builds. Every build finished. Phase 2: alpha gets
    eval 5 with one new build, the rest reused; beta is unchanged. Phase 3:
    alpha gets 6 more evals with 3 new builds each (for the budget)."""
    db = make_dataset.DatasetBuilder(seed=7)
    ids_a: list[int] = []
    for e in range(3):
        for i in range(20):
            b = db.add_build(ALPHA, f"pkg{e}x{i}.x86_64-linux", f"pkg{e}x{i}-1.0",
                             status=1 if i % 7 == 0 else 0, timestamp=T0 + e * 3600)
            ids_a.append(b["id"])
        db.add_eval(ALPHA, ids_a, timestamp=T0 + e * 3600)
    ids_b = [db.add_build(BETA, f"b{i}.aarch64-linux", f"b{i}-2.0", timestamp=T0)["id"]
             for i in range(10)]
    db.add_eval(BETA, ids_b, timestamp=T0 + 100)
    db.new_phase()
    new = db.add_build(ALPHA, "fresh.x86_64-linux", "fresh-1.0", status=1, timestamp=T0 + 4 * 3600)
    ids_a.append(new["id"])
    db.add_eval(ALPHA, ids_a, timestamp=T0 + 4 * 3600)
    db.new_phase()
    for e in range(6):
        for i in range(3):
            b = db.add_build(ALPHA, f"late{e}x{i}.x86_64-linux", f"late{e}x{i}-1.0",
                             timestamp=T0 + (5 + e) * 3600)
            ids_a.append(b["id"])
        db.add_eval(ALPHA, ids_a, timestamp=T0 + (5 + e) * 3600)
    return db.to_json("test_sync_politeness: two jobsets")


def unfinished_dataset(n: int, unfinished: int) -> dict:
    """One jobset 'proj:queue', one eval of n builds of which the first
    `unfinished` are queued in phase 1 and finished in phase 2."""
    db = make_dataset.DatasetBuilder(seed=11)
    ids = []
    for i in range(n):
        queued = i < unfinished
        b = db.add_build("proj:queue", f"q{i}.x86_64-linux", f"q{i}-1.0",
                         status=None if queued else 0, timestamp=T0)
        ids.append(b["id"])
    db.add_eval("proj:queue", ids, timestamp=T0)
    db.new_phase()
    for i in ids[:unfinished]:
        db.update_build(i, finished=1, buildstatus=0 if i % 3 else 1, starttime=T0 + 100,
                        stoptime=T0 + 200)
    return db.to_json("test_sync_politeness: unfinished builds")


def query(path: str, sql: str, *args: object) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def paths(log: list[dict]) -> list[str]:
    return [r["path"] + ("?" + r["query"] if r["query"] else "") for r in log]


class SyncCase(hs_testlib.HsTestCase):
    """A fake Hydra per class; each test starts at phase 1 with no faults."""

    hydra: FakeHydra

    @classmethod
    def dataset(cls) -> dict:
        return two_jobsets_dataset()

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(cls.dataset()).start()

    @classmethod
    def tearDownClass(cls) -> None:
        errors = cls.hydra.stderr_text()
        cls.hydra.stop()
        if "Traceback" in errors:
            raise AssertionError(f"fake_hydra printed a traceback:\n{errors}")

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.set_options(gzip=False, etag=False)
        self.hydra.set_phase(1)
        self.hydra.clear_log()

    def sync(self, *args: str, jobsets: tuple[str, ...] = (ALPHA, BETA), code: int | None = 0,
             min_interval: str | None = "10ms", backoff_ceiling: str | None = "50ms",
             **kw) -> subprocess.CompletedProcess:
        argv = ["--url", self.hydra.url, "sync"]
        for js in jobsets:
            argv += ["--jobset", js]
        if min_interval is not None:
            argv += ["--min-interval", min_interval]
        if backoff_ceiling is not None:
            argv += ["--backoff-ceiling", backoff_ceiling]
        proc = self.hs(argv + list(args), **kw)
        if code is not None:
            self.assertExit(proc, code)
        return proc

    def new_log(self) -> list[dict]:
        log = self.hydra.log()
        self.hydra.clear_log()
        return log


class SettingsTest(SyncCase):

    EXPECTED = {
        "min-interval": ("250ms", "250 ms"),
        "max-in-flight": ("1", "1"),
        "max-tries": ("4", "4"),
        "backoff-ceiling": ("2s", "2000 ms"),
        "connect-timeout": ("7", "7 s"),
        "timeout": ("90s", "90 s"),
        "max-requests": ("1234", "1234"),
        "by-id-max": ("17", "17"),
        "recheck-interval": ("2h", "7200 s"),
        "max-evals": ("2", "2"),
    }

    @staticmethod
    def effective(stderr: str) -> dict[str, tuple[str, str]]:
        out = {}
        for m in re.finditer(r"^hydra-status: sync: (\S+) = (.*) \((.*)\)$", stderr, re.M):
            out[m.group(1)] = (m.group(2), m.group(3))
        return out

    def test_every_setting_reaches_the_client_from_the_command_line(self) -> None:
        args = ["-v"]
        for key, (value, _) in self.EXPECTED.items():
            args += [f"--{key}", value]
        args += ["--max-body", "3MiB"]
        proc = self.sync(*args, min_interval=None, backoff_ceiling=None)
        got = self.effective(proc.stderr)
        for key, (_, shown) in self.EXPECTED.items():
            with self.subTest(key=key):
                self.assertEqual(got.get(key), (shown, "command line"))
        self.assertEqual(got["max-body"], (str(3 << 20) + " bytes", "command line"))
        self.assertRegex(got["user-agent"][0], r"^hydra-status/\d+\.\d+\.\d+ \(\+https?://\S+\)$")
        # And they act: 250 ms between request starts.
        starts = [r["t_start"] for r in self.hydra.log()]
        self.assertGreaterEqual(len(starts), 4)
        # The fake stamps a request when it has read it, up to a connection
        # set-up later than the client started it: allow 25 ms of that.
        self.assertGreaterEqual(min(b - a for a, b in zip(starts, starts[1:])), 0.225)

    def test_every_setting_reaches_the_client_from_the_config_file(self) -> None:
        lines = [f"{key} = {value}" for key, (value, _) in self.EXPECTED.items()]
        config = self.write_config("\n".join(lines) + "\n")
        proc = self.sync("-v", min_interval=None, backoff_ceiling=None)
        got = self.effective(proc.stderr)
        for number, (key, (_, shown)) in enumerate(self.EXPECTED.items(), start=1):
            with self.subTest(key=key):
                self.assertEqual(got.get(key), (shown, f"{config}:{number}"))
        # The command line wins over the file.
        proc = self.sync("-v", "--by-id-max", "3", min_interval="20ms", backoff_ceiling=None)
        got = self.effective(proc.stderr)
        self.assertEqual(got["by-id-max"], ("3", "command line"))
        self.assertEqual(got["min-interval"], ("20 ms", "command line"))
        self.assertEqual(got["max-tries"], ("4", f"{config}:3"))

    def test_defaults_are_polite(self) -> None:
        proc = self.sync("-v", "--max-evals", "1", jobsets=(BETA,), min_interval=None,
                         backoff_ceiling=None)
        got = self.effective(proc.stderr)
        self.assertEqual(got["min-interval"], ("1000 ms", "default"))
        self.assertEqual(got["max-in-flight"], ("1", "default"))  # one at a time
        self.assertEqual(got["max-tries"], ("6", "default"))
        self.assertEqual(got["backoff-ceiling"], ("300000 ms", "default"))
        self.assertEqual(got["max-requests"], ("10000", "default"))
        self.assertEqual(got["max-body"], (str(4 << 30) + " bytes", "default"))
        log = self.hydra.log()
        self.assertEqual(len(log), 3)  # listing (as HTML), /eval/<id>, its builds
        self.assertGreaterEqual(log[1]["t_start"] - log[0]["t_start"], 0.975)

    def test_invalid_settings_are_usage_errors_without_requests(self) -> None:
        for args in (["--max-in-flight", "3"], ["--max-in-flight", "0"], ["--max-tries", "0"],
                     ["--max-requests", "0"], ["--by-id-max", "-1"], ["--timeout", "soon"],
                     ["--max-body", "0"], ["--max-body", "12parsecs"]):
            with self.subTest(args=args):
                proc = self.sync(*args, code=2)
                self.assertIn("hydra-status: error:", proc.stderr)
                self.assertEqual(self.hydra.log(), [])

    def test_headers_name_the_tool_and_ask_for_json_and_compression(self) -> None:
        self.hydra.set_options(gzip=True)
        self.sync()
        log = self.hydra.log()
        self.assertTrue(log)
        for r in log:
            h = r["headers"]
            # Only the evals listing is asked for as HTML (spec/cli.md).
            listing = r["path"].endswith("/evals")
            self.assertEqual(h["accept"], "text/html" if listing else "application/json")
            self.assertRegex(h["user-agent"], r"^hydra-status/\S+ \(\+https?://")
            self.assertIn("gzip", h["accept-encoding"])
            self.assertIsNone(h["if-none-match"])
        self.assertEqual(len(query(self.db, "SELECT id FROM build")), 70)


class PacingTest(SyncCase):

    def test_request_starts_are_paced_and_never_overlap(self) -> None:
        self.hydra.add_faults([{"match": "^/eval/\\d+/builds", "kind": "503", "count": 1}])
        self.sync("--max-in-flight", "2", min_interval="400ms")
        log = self.hydra.log()
        # Per jobset the listing (as HTML) and /eval/<id>, then its builds
        # (alpha: 503 + retry).
        self.assertEqual(len(log), 7)
        for a, b in zip(log, log[1:]):
            # Server-side stamps lag the client's start by up to a connection
            # set-up plus a thread wake-up, which reached 33 ms on a loaded
            # 2-core machine: 50 ms are allowed.
            self.assertGreaterEqual(b["t_start"] - a["t_start"], 0.35, paths([a, b]))
            self.assertGreaterEqual(b["t_start"], a["t_end"] - 0.001, "one request at a time")

    def test_retry_after_seconds_is_obeyed(self) -> None:
        self.hydra.add_faults([{"match": "^/jobset/proj/alpha/evals", "kind": "429",
                                "retry_after": "1", "count": 1}])
        self.sync(backoff_ceiling="10ms")
        log = [r for r in self.hydra.log() if r["path"] == "/jobset/proj/alpha/evals"]
        self.assertEqual([r["status"] for r in log], [429, 200])
        self.assertGreaterEqual(log[1]["t_start"] - log[0]["t_end"], 0.96)

    def test_retry_after_http_date_is_obeyed(self) -> None:
        when = email.utils.formatdate(time.time() + 3, usegmt=True)
        self.hydra.add_faults([{"match": "^/jobset/proj/beta/evals", "kind": "429",
                                "retry_after": when, "count": 1}])
        self.sync(backoff_ceiling="10ms")
        log = [r for r in self.hydra.log() if r["path"] == "/jobset/proj/beta/evals"]
        self.assertEqual([r["status"] for r in log], [429, 200])
        gap = log[1]["t_start"] - log[0]["t_end"]
        self.assertGreaterEqual(gap, 1.5)  # 2 to 3 s away when sent, whole seconds
        self.assertLess(gap, 4.0)

    def test_429_without_retry_after_backs_off_up_to_the_ceiling(self) -> None:
        self.hydra.add_faults([{"match": "^/jobset/proj/alpha/evals", "kind": "429",
                                "count": 3}])
        self.sync(backoff_ceiling="300ms")
        log = [r for r in self.hydra.log() if r["path"] == "/jobset/proj/alpha/evals"]
        self.assertEqual([r["status"] for r in log], [429, 429, 429, 200])
        for a, b in zip(log, log[1:]):
            self.assertLess(b["t_start"] - a["t_end"], 0.3 + 0.25)

    def test_max_tries_bounds_retries_and_4xx_is_not_retried(self) -> None:
        self.hydra.add_faults([
            {"match": "^/jobset/proj/alpha/evals", "kind": "503", "count": -1},
            {"match": "^/eval/\\d+/builds", "kind": "status", "status": 400, "count": -1},
        ])
        proc = self.sync("--max-tries", "3", code=1)
        log = self.hydra.log()
        self.assertEqual(paths(log).count("/jobset/proj/alpha/evals"), 3)
        self.assertEqual(len([p for p in paths(log) if EVAL_BUILDS_RE.match(p)]), 1)
        self.assertIn("proj:alpha: unable to download 'http://127.0.0.1:", proc.stderr)
        self.assertIn("/jobset/proj/alpha/evals': HTTP error 503 (gave up after 3 tries)",
                      proc.stderr)
        self.assertIn("HTTP error 400 (Injected fault: status 400.)", proc.stderr)
        self.assertIn("synced 0 of 2 jobsets (2 failed)", proc.stderr)

    def test_timeout_bounds_one_request(self) -> None:
        self.hydra.add_faults([{"match": "^/jobset/proj/beta/evals", "kind": "delay",
                                "seconds": 4, "count": -1}])
        start = time.monotonic()
        proc = self.sync("--timeout", "1", "--max-tries", "1", code=1)
        self.assertLess(time.monotonic() - start, 3.5)
        self.assertRegex(proc.stderr, r"proj:beta: unable to download '\S+/jobset/proj/beta/evals':"
                                      r" operation timed out after \d+ milliseconds")

    def test_connect_timeout_bounds_the_connection(self) -> None:
        # A listening socket whose accept queue is full drops further SYNs.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(3):
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                fillers.append(s)
            time.sleep(0.1)
            start = time.monotonic()
            proc = self.hs(["--url", f"http://127.0.0.1:{port}", "sync", "--jobset", ALPHA,
                            "--connect-timeout", "1", "--timeout", "30", "--max-tries", "1"])
            elapsed = time.monotonic() - start
        finally:
            for s in fillers:
                s.close()
            listener.close()
        self.assertExit(proc, 1)
        self.assertLess(elapsed, 5)
        self.assertIn("failed to connect to 127.0.0.1", proc.stderr)
        self.assertRegex(proc.stderr, r"after 1\d\d\d ms")


class BudgetTest(SyncCase):

    def test_budget_stops_after_the_current_eval_and_the_next_run_continues(self) -> None:
        reference = os.path.join(self.tmp, "reference.sqlite")
        self.hydra.set_phase(3)
        self.sync("--max-evals", "9", "--by-id-max", "0", db=reference)
        self.hydra.clear_log()
        runs = 0
        evals_seen = []
        while True:
            runs += 1
            self.assertLess(runs, 20, "the budget never let the sync finish")
            proc = self.sync("--max-evals", "9", "--by-id-max", "0", "--max-requests", "3")
            log = self.new_log()
            evals = len(query(self.db, "SELECT id FROM eval"))
            evals_seen.append(evals)
            if "request budget" not in proc.stderr:
                break
            self.assertIn("hydra-status: note: request budget of 3 spent", proc.stderr)
            self.assertIn("the next sync continues", proc.stderr)
            # It stopped after an eval, never in one: every request was answered
            # and went into a committed eval (or a listing).
            self.assertTrue(all(r["status"] == 200 for r in log))
            self.assertLessEqual(len(log), 3 + 1)
        self.assertGreater(runs, 2)
        self.assertEqual(evals_seen, sorted(evals_seen), "every run kept what it ingested")
        self.assertEqual(index_dump(self.db), index_dump(reference))
        self.assertEqual(len(index_dump(self.db)["eval"]), 10)

    def test_a_budget_smaller_than_one_eval_still_makes_progress(self) -> None:
        self.hydra.set_phase(2)
        proc = self.sync("--max-requests", "1", "--max-evals", "9")
        self.assertIn("request budget of 1 spent", proc.stderr)
        self.assertEqual(len(query(self.db, "SELECT id FROM eval")), 1)


class LeastRequestsTest(SyncCase):

    def test_nothing_new_is_one_request_per_jobset(self) -> None:
        self.sync("--max-evals", "3")
        self.hydra.clear_log()
        proc = self.sync("--max-evals", "3")
        self.assertEqual(sorted(paths(self.hydra.log())),
                         ["/jobset/proj/alpha/evals", "/jobset/proj/beta/evals"])
        self.assertIn("proj:alpha: no new eval; 1 request", proc.stderr)
        self.assertRegex(proc.stderr, r"synced 2 of 2 jobsets: 0 evals, 0 builds;"
                                      r" 2 requests, [\d.]+ KiB in [\d.]+ s\n$")

    def test_new_eval_reads_only_unknown_builds_by_id(self) -> None:
        self.sync()
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        proc = self.sync()
        fresh = [int(k) for k, b in self.hydra.dataset["phases"]["2"]["builds"].items()
                 if b["job"] == "fresh.x86_64-linux"]
        self.assertEqual(paths(self.hydra.log()),
                         ["/jobset/proj/alpha/evals", "/eval/5", f"/build/{fresh[0]}",
                          "/jobset/proj/beta/evals"])
        self.assertIn("proj:alpha: eval 5: 1 build (by-id)", proc.stderr)

    def test_zero_by_id_max_reads_the_whole_eval(self) -> None:
        self.sync()
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        self.sync("--by-id-max", "0")
        self.assertEqual(paths(self.hydra.log()),
                         ["/jobset/proj/alpha/evals", "/eval/5", "/eval/5/builds",
                          "/jobset/proj/beta/evals"])

    def test_recheck_interval_rereads_the_newest_eval(self) -> None:
        self.sync()
        self.hydra.clear_log()
        self.sync("--recheck-interval", "0", jobsets=(BETA,))
        self.assertEqual(paths(self.hydra.log()), ["/jobset/proj/beta/evals", "/eval/4/builds"])
        self.hydra.clear_log()
        self.sync("--recheck-interval", "1h", jobsets=(BETA,))
        self.assertEqual(paths(self.hydra.log()), ["/jobset/proj/beta/evals"])


class RecheckTest(SyncCase):

    @classmethod
    def dataset(cls) -> dict:
        return unfinished_dataset(400, 150)

    def test_many_unfinished_builds_are_rechecked_with_one_request(self) -> None:
        self.sync(jobsets=("proj:queue",))
        self.assertEqual(len(query(self.db, "SELECT id FROM build WHERE finished = 0")), 150)
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        # 150 of 400 by id cost Hydra less (300 objects against 401), but
        # take longer than by-id-max allows.
        proc = self.sync("--by-id-max", "100", jobsets=("proj:queue",))
        self.assertEqual(paths(self.hydra.log()), ["/jobset/proj/queue/evals",
                                                   "/api/latestbuilds?nr=400&project=proj&jobset=queue",
                                                   "/eval/1/builds"])
        self.assertIn("proj:queue: no new eval, 400 re-checked; 3 requests", proc.stderr)
        self.assertEqual(query(self.db, "SELECT count(*) FROM build WHERE finished = 0"), [(0,)])

    def test_few_unfinished_builds_are_rechecked_by_id(self) -> None:
        self.sync(jobsets=("proj:queue",))
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        self.sync("--by-id-max", "200", jobsets=("proj:queue",))
        log = paths(self.hydra.log())
        self.assertEqual(log[0], "/jobset/proj/queue/evals")
        # Which of them finished: /api/latestbuilds, then those by id.
        self.assertTrue(log[1].startswith("/api/latestbuilds"), log[1])
        self.assertEqual(len(log), 152)
        self.assertTrue(all(BUILD_RE.match(p) for p in log[2:]))
        self.assertEqual(query(self.db, "SELECT count(*) FROM build WHERE finished = 0"), [(0,)])


class ConditionalRequestTest(SyncCase):
    """The JSON listing's conditional request, which the sync uses when the
    listing as HTML is not Hydra's page: here the bot filter's page answers
    the first listing request of each jobset in every sync."""

    def sync(self, *args: str, jobsets: tuple[str, ...] = (ALPHA, BETA),
             **kw) -> subprocess.CompletedProcess:
        self.hydra.add_faults([{"match": f"^/jobset/{js.replace(':', '/')}/evals$",
                                "kind": "html", "count": 1} for js in jobsets])
        return super().sync(*args, jobsets=jobsets, **kw)

    def json_log(self) -> list[dict]:
        """The log without the listing as HTML."""
        return [r for r in self.hydra.log() if r["headers"]["accept"] == "application/json"]

    def jobset_validators(self) -> dict[str, tuple]:
        rows = query(self.db, "SELECT project || ':' || name, etag, last_modified FROM jobset")
        return {name: (etag, modified) for name, etag, modified in rows}

    def test_etag_makes_an_unchanged_listing_cost_no_body(self) -> None:
        self.hydra.set_options(etag=True)
        self.sync()
        validators = self.jobset_validators()
        self.assertRegex(validators[ALPHA][0] or "", r'^"[0-9a-f]+"$')
        self.assertRegex(validators[ALPHA][1] or "", r"GMT$")
        self.hydra.clear_log()
        proc = self.sync()
        log = self.json_log()
        self.assertEqual([(r["path"], r["status"], r["bytes"]) for r in log],
                         [("/jobset/proj/alpha/evals", 304, 0), ("/jobset/proj/beta/evals", 304, 0)])
        self.assertEqual(log[0]["headers"]["if-none-match"], validators[ALPHA][0])
        self.assertEqual(log[0]["headers"]["if-modified-since"], validators[ALPHA][1])
        # The bot filter's page, then the JSON listing's 304 without a body.
        self.assertIn("proj:alpha: not modified; 2 requests, ", proc.stderr)
        self.assertEqual(self.jobset_validators(), validators)
        # A new eval changes the listing: 200, the eval, new validators.
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        self.sync()
        self.assertEqual([r["status"] for r in self.json_log()], [200, 200, 304])
        self.assertNotEqual(self.jobset_validators()[ALPHA], validators[ALPHA])
        self.assertEqual(query(self.db, "SELECT max(id & ?) FROM eval", MASK), [(5,)])

    def test_last_modified_alone_is_sent_back(self) -> None:
        self.hydra.set_options(etag=True)
        self.sync(jobsets=(ALPHA,))
        con = sqlite3.connect(self.db)
        with con:
            con.execute("UPDATE jobset SET etag = NULL")
        con.close()
        self.hydra.clear_log()
        self.sync(jobsets=(ALPHA,))
        (r,) = self.json_log()
        self.assertIsNone(r["headers"]["if-none-match"])
        self.assertIsNotNone(r["headers"]["if-modified-since"])
        self.assertEqual(r["status"], 304)

    def test_validators_of_an_unfinished_sync_are_not_kept(self) -> None:
        self.hydra.set_options(etag=True)
        self.sync()
        before = self.jobset_validators()[ALPHA]
        self.hydra.set_phase(2)
        self.hydra.add_faults([{"match": "^/build/", "kind": "malformed", "count": 1}])
        self.sync(code=1)
        self.assertEqual(self.jobset_validators()[ALPHA], before)
        self.hydra.clear_log()
        self.sync()  # the listing is asked again in full and eval 5 arrives
        self.assertEqual(self.json_log()[0]["status"], 200)
        self.assertEqual(query(self.db, "SELECT max(id & ?) FROM eval", MASK), [(5,)])

    def test_version_one_index_is_migrated(self) -> None:
        self.sync(jobsets=(BETA,))
        before = index_dump(self.db)
        con = sqlite3.connect(self.db)
        con.execute("ALTER TABLE jobset DROP COLUMN etag")
        con.execute("ALTER TABLE jobset DROP COLUMN last_modified")
        for column in ("listing_digest", "eval_builds_failed_at", "eval_builds_failed_members"):
            con.execute(f"ALTER TABLE jobset DROP COLUMN {column}")  # of version 3
        # The tables of versions 1-3 (version 4 rebuilt them): ids as
        # hydra << 40 | id, starttime, "out" named, name.text UNIQUE.
        con.executescript("""
            CREATE TABLE b1 (id INTEGER PRIMARY KEY, drv BLOB NOT NULL, name TEXT NOT NULL,
                jobset INTEGER NOT NULL, job INTEGER NOT NULL, system INTEGER NOT NULL,
                finished INTEGER NOT NULL, status INTEGER, starttime INTEGER, stoptime INTEGER);
            INSERT INTO b1 SELECT id + (1 << 40), drv, name, jobset, job, system, finished,
                status, stoptime - duration, stoptime FROM build;
            DROP TABLE build;
            ALTER TABLE b1 RENAME TO build;
            CREATE INDEX build_by_drv ON build (drv);
            CREATE INDEX build_unfinished ON build (jobset) WHERE finished = 0;
            UPDATE output SET build = build + (1 << 40), name = coalesce(name, 'out');
            CREATE TABLE e1 (id INTEGER PRIMARY KEY, jobset INTEGER NOT NULL,
                timestamp INTEGER NOT NULL, inputs TEXT NOT NULL, builds BLOB NOT NULL);
            INSERT INTO e1 SELECT id + (1 << 40), jobset, timestamp, inputs, builds FROM eval;
            DROP TABLE eval;
            ALTER TABLE e1 RENAME TO eval;
            CREATE INDEX eval_by_jobset ON eval (jobset);
            CREATE UNIQUE INDEX name_text ON name (text);
            PRAGMA user_version = 1;
        """)
        con.close()
        self.hydra.set_options(etag=True)
        self.sync(jobsets=(BETA,))
        self.assertEqual(query(self.db, "PRAGMA user_version"), [(6,)])
        self.assertEqual(index_dump(self.db), before)
        self.assertIsNotNone(self.jobset_validators()[BETA][0])


class MeasureTest(SyncCase):
    """Request counts and bytes of typical syncs, printed for the issue's note."""

    N = 5000

    @classmethod
    def dataset(cls) -> dict:
        db = make_dataset.DatasetBuilder(seed=5)
        ids = [db.add_build("proj:big", f"p{i}.x86_64-linux", f"p{i}-1.0",
                            status=None if i < 50 else (1 if i % 10 == 0 else 0), timestamp=T0,
                            outputs=("out", "dev") if i % 5 == 0 else ("out",))["id"]
               for i in range(cls.N)]
        db.add_eval("proj:big", ids, timestamp=T0)
        db.new_phase()  # 2: nothing new, the 50 queued builds finish
        for i in ids[:50]:
            db.update_build(i, finished=1, buildstatus=0, starttime=T0 + 10, stoptime=T0 + 20)
        db.new_phase()  # 3: a new eval with 1% changed builds
        changed = ids[1000:1000 + cls.N // 100]
        fresh = [db.add_build("proj:big", db.build(i)["job"], db.build(i)["nixname"] + "-r2",
                              status=0, timestamp=T0 + 3600)["id"] for i in changed]
        db.add_eval("proj:big", [i for i in ids if i not in set(changed)] + fresh,
                    timestamp=T0 + 3600)
        db.new_phase()  # 4: 5,000 builds restarted in the newest eval, then finished
        for i in fresh + [i for i in ids if i not in set(changed)][: 5000 - len(fresh)]:
            db.update_build(i, finished=0)
        db.new_phase()
        for b in db.cur["builds"].values():
            if not b["finished"]:
                b["finished"] = 1
        return db.to_json("test_sync_politeness: measurements")

    def measure(self, label: str, *args: str) -> tuple[int, int]:
        self.hydra.clear_log()
        self.sync(*args, jobsets=("proj:big",))
        log = self.hydra.log()
        total = sum(r["bytes"] for r in log)
        print(f"\n  {label}: {len(log)} requests, {total} bytes", file=sys.stderr, end="")
        return len(log), total

    def test_request_counts_of_typical_syncs(self) -> None:
        # The listing as HTML, /eval/<id>, /eval/<id>/builds.
        self.assertEqual(self.measure("first sync")[0], 3)
        self.hydra.set_phase(2)
        self.assertEqual(self.measure("re-check of 50 builds that were queued")[0], 51)
        self.assertEqual(self.measure("no-change re-sync")[0], 1)
        self.hydra.set_phase(3)
        self.assertEqual(self.measure("new eval, 1% changed builds")[0], 2 + self.N // 100)
        self.hydra.set_phase(4)
        # The listing shows fewer failed builds for the newest eval than the
        # index has: its failed members are re-read by id (restarted
        # failures are the ones that matter), the other restarts wait for
        # the periodic re-read.
        failed = query(self.db, "SELECT count(*) FROM build WHERE finished = 1 AND status <> 0")[0][0]
        count = self.measure("5,000 restarts, re-read not due", "--recheck-interval", "1000d")[0]
        self.assertGreater(count, 1)
        self.assertLessEqual(count, 1 + failed)  # the newest eval's failed ones
        self.assertEqual(self.measure("5,000 restarts seen by the periodic re-read",
                                      "--recheck-interval", "0")[0], 2)
        self.assertEqual(query(self.db, "SELECT count(*) FROM build WHERE finished = 0"), [(5000,)])
        self.hydra.set_phase(5)
        # /api/latestbuilds says all finished: then the eval is read whole.
        self.assertEqual(self.measure("re-check of 5,000 unfinished builds")[0], 3)
        self.assertEqual(query(self.db, "SELECT count(*) FROM build WHERE finished = 0"), [(0,)])


class ProgressTest(SyncCase):

    def test_plain_lines_without_a_tty(self) -> None:
        proc = self.sync("--max-evals", "2")
        lines = proc.stderr.splitlines()
        self.assertEqual(lines, [
            "proj:alpha: eval 2: 40 builds (eval-builds)",
            "proj:alpha: eval 3: 20 builds (by-id)",
            lines[2],
            "proj:beta: eval 4: 10 builds (eval-builds)",
            lines[4],
            lines[5],
        ])
        # Each eval's /eval/<id> besides its builds.
        self.assertRegex(lines[2], r"^proj:alpha: 2 new evals, 60 builds; 24 requests, [\d.]+ KiB$")
        self.assertRegex(lines[4], r"^proj:beta: 1 new eval, 10 builds; 3 requests, [\d.]+ KiB$")
        self.assertRegex(lines[5], r"^synced 2 of 2 jobsets: 3 evals, 70 builds;"
                                   r" 27 requests, [\d.]+ KiB in [\d.]+ s$")
        self.assertNotIn("\r", proc.stderr)
        self.assertNotIn("\x1b", proc.stderr)
        self.assertEqual(proc.stdout, "")

    def test_quiet_prints_nothing(self) -> None:
        proc = self.sync("--quiet")
        self.assertEqual((proc.stdout, proc.stderr), ("", ""))
        self.hydra.set_phase(2)
        proc = self.sync("-q")
        self.assertEqual((proc.stdout, proc.stderr), ("", ""))
        # Errors are still said.
        # (on the listing as HTML and on the JSON listing it falls back to)
        self.hydra.add_faults([{"match": "^/jobset/proj/beta/evals", "kind": "html", "count": 2}])
        proc = self.sync("--quiet", code=1)
        self.assertIn("hydra-status: error: proj:beta:", proc.stderr)


if __name__ == "__main__":
    unittest.main()
