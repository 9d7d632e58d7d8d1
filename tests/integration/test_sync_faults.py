"""Faults are data (issue 5): every fault kind of the fake Hydra against each
kind of request the sync makes (the evals listing, /eval/<id>/builds,
/build/<id>). For each: the sync's outcome and exit code, a message naming
the URL and what was wrong, nothing of a failed answer ingested (row counts
and every earlier lookup answer unchanged), the other jobset still synced,
and the next sync after the fault heals completing the job.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_faults
"""

from __future__ import annotations

import email.utils
import json
import sqlite3
import subprocess
import time
import unittest
from dataclasses import dataclass, field

import hs_testlib
from hs_testlib import FakeHydra, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()

T0 = 1735689600
ALPHA = "proj:alpha"
BETA = "proj:beta"
MASK = hs_testlib.ID_MASK


def faults_dataset() -> dict:
    """Phase 1: alpha eval 1 (30 builds, every status), beta eval 2 (10 builds).
    Phase 2: alpha eval 3 = eval 1 + 3 new builds (one replaces a failure);
    beta eval 4 = eval 2 + 2 new builds."""
    db = make_dataset.DatasetBuilder(seed=3)
    alpha = [db.add_build(ALPHA, f"a{i}.x86_64-linux", f"a{i}-1.0", status=i % 13,
                          timestamp=T0, outputs=("out", "dev") if i % 4 == 0 else ("out",))["id"]
             for i in range(30)]
    db.add_eval(ALPHA, alpha, timestamp=T0)
    beta = [db.add_build(BETA, f"b{i}.aarch64-linux", f"b{i}-1.0", timestamp=T0)["id"]
            for i in range(10)]
    db.add_eval(BETA, beta, timestamp=T0)
    db.new_phase()
    new_alpha = [db.add_build(ALPHA, f"n{i}.x86_64-linux", f"n{i}-2.0", status=0,
                              timestamp=T0 + 3600)["id"] for i in range(3)]
    db.add_eval(ALPHA, alpha + new_alpha, timestamp=T0 + 3600)
    new_beta = [db.add_build(BETA, f"m{i}.aarch64-linux", f"m{i}-2.0", timestamp=T0 + 3600)["id"]
                for i in range(2)]
    db.add_eval(BETA, beta + new_beta, timestamp=T0 + 3600)
    return db.to_json("test_sync_faults")


def query(path: str, sql: str, *args: object) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def jobset_rows(path: str, jobset: str) -> dict[str, object]:
    """Row counts and sync state of one jobset."""
    project, name = jobset.split(":")
    rows = query(path, "SELECT id, synced_at, newest_eval FROM jobset WHERE project = ? AND name = ?",
                 project, name)
    if not rows:
        return {"row": None}
    row, synced_at, newest = rows[0]
    return {
        "row": row,
        "synced_at": synced_at,
        "newest_eval": newest,
        "builds": query(path, "SELECT count(*) FROM build WHERE jobset = ?", row)[0][0],
        "evals": query(path, "SELECT count(*) FROM eval WHERE jobset = ?", row)[0][0],
        "outputs": query(path, "SELECT count(*) FROM output o JOIN build b ON b.id = o.build"
                               " WHERE b.jobset = ?", row)[0][0],
    }


@dataclass
class Case:
    kind: str
    target: str                    # "listing", "eval" or "build"
    params: dict = field(default_factory=dict)
    args: tuple = ()
    heals: bool = False            # count 1 and retried: the sync succeeds
    message: str = ""              # regex for what was wrong
    fired: int | tuple[int, int] = 2  # how often a persistent fault fires (a range: min, max)
    # A fault on the listing that is no transient failure fires twice as
    # often: on the listing asked for as HTML, then on the JSON listing the
    # sync falls back to (spec/cli.md "Politeness").


# The persistent faults run with --max-tries 2; see FaultTest.run_case.
CASES: dict[str, Case] = {
    "429_retry_after_seconds": Case("429", "listing", {"retry_after": "1"}, heals=True),
    "429_retry_after_date": Case("429", "eval", {"retry_after": "date+2"}, heals=True),
    "503_once": Case("503", "build", heals=True),
    # A reset, a truncated answer or a timeout on /eval/<id>/builds is not
    # tried again (the eval is read by id: test_sync_large_eval); on other
    # requests it is.
    "reset_once": Case("reset", "build", heals=True),
    "truncate_once": Case("truncate", "build", heals=True),
    "slow_drip_completes": Case("slow", "eval", {"bytes_per_sec": 40000}, heals=True),
    "429_without_retry_after": Case("429", "listing",
                                    message=r"HTTP error 429 \(gave up after 2 tries\)"),
    "503": Case("503", "eval", message=r"HTTP error 503 \(gave up after 2 tries\)"),
    "500_with_hydra_error": Case("status", "build", {"status": 500},
                                 message=r"HTTP error 500 \(Injected fault: status 500\.\)"
                                         r" \(gave up after 2 tries\)"),
    "404_eval_builds": Case("status", "eval", {"status": 404},
                            message=r"HTTP error 404 \(Injected fault: status 404\.\)$",
                            fired=1),
    # libcurl retries a request on a reused connection that died before any
    # answer once by itself, so a reset may fire once more than max-tries.
    "reset": Case("reset", "build", message=r"(connection reset|recv failure|empty reply)"
                                            r".* \(gave up after 2 tries\)", fired=(2, 3)),
    "truncate": Case("truncate", "build", message=r"transfer closed with \d+ bytes remaining"
                                                 r" to read \(gave up after 2 tries\)"),
    "malformed_listing": Case("malformed", "listing", message=r"': .+", fired=2),
    "malformed_eval_builds": Case("malformed", "eval", message=r"': .+", fired=1),
    "malformed_build": Case("malformed", "build", message=r"': .+", fired=1),
    "slow_drip_times_out": Case("slow", "build", {"bytes_per_sec": 300},
                                args=("--timeout", "1", "--max-tries", "1"),
                                message=r"operation timed out after \d+ milliseconds",
                                fired=1),
    "gzip_bomb": Case("gzip-bomb", "eval", {"inflated_bytes": 20_000_000},
                      args=("--max-body", "1MiB"), message=r"answer larger than 1048576 bytes$",
                      fired=1),
    "gzip_bomb_listing": Case("gzip-bomb", "listing", {"inflated_bytes": 20_000_000},
                              args=("--max-body", "1MiB"),
                              message=r"answer larger than 1048576 bytes$", fired=2),
    "oversize": Case("oversize", "listing", {"bytes": 3_000_000}, args=("--max-body", "1MiB"),
                     message=r"answer larger than 1048576 bytes$", fired=2),
    # The stream of /eval/<id>/builds stops at the first element that is no build.
    "oversize_eval_builds": Case("oversize", "eval", {"bytes": 3_000_000},
                                 args=("--max-body", "1MiB"),
                                 message=r"element 1: expected a json object$", fired=1),
    "oversize_build": Case("oversize", "build", {"bytes": 3_000_000},
                           args=("--max-body", "1000000"),
                           message=r"answer larger than 1000000 bytes$", fired=1),
    "html_listing": Case("html", "listing",
                         message=r"Hydra answered 'text/html' instead of JSON \(a bot filter",
                         fired=2),
    "html_build": Case("html", "build", message=r"Hydra answered 'text/html' instead of JSON",
                       fired=1),
    # One try: the first request and 5 redirects, then curl stops (twice
    # on the listing: as HTML, then as JSON).
    "redirect_loop": Case("redirect-loop", "listing",
                          message=r"redirect loop \(more than 5 redirects\)$", fired=12),
    "redirect_pingpong": Case("redirect-loop", "eval", {"mode": "pingpong", "status": 301},
                              message=r"redirect loop \(more than 5 redirects\)$", fired=6),
    "wrong_content_type": Case("wrong-content-type", "eval",
                               message=r"Hydra answered 'text/plain' instead of JSON",
                               fired=1),
}


class FaultBase(hs_testlib.HsTestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(faults_dataset()).start()
        phases = cls.hydra.dataset["phases"]
        cls.new_alpha_build = min(int(k) for k, b in phases["2"]["builds"].items()
                                  if b["jobset"] == "alpha" and k not in phases["1"]["builds"])
        cls.alpha_drvs = sorted({b["drvpath"] for b in phases["1"]["builds"].values()
                                 if b["jobset"] == "alpha"})
        cls.all_drvs = make_dataset.drv_paths(cls.hydra.dataset, 2)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop_checked()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.set_options(gzip=False, etag=False)
        self.hydra.set_phase(1)
        self.hydra.clear_log()

    def sync(self, *args: str, jobsets: tuple[str, ...] = (ALPHA, BETA)) -> subprocess.CompletedProcess:
        argv = ["--url", self.hydra.url, "sync", "--min-interval", "10ms",
                "--backoff-ceiling", "50ms"]
        for js in jobsets:
            argv += ["--jobset", js]
        return self.hs(argv + list(args))

    def answers(self) -> dict[str, tuple]:
        """lookup --json of every drv: (status, build_id) per drv."""
        proc = self.hs(["--json", "lookup", "--stdin"], input="\n".join(self.all_drvs) + "\n")
        self.assertIn(proc.returncode, (0, 1, 3, 4), proc.stderr)
        out = {}
        for line in hs_testlib.json_lines(proc.stdout):
            out[line["query"]] = (line["status"], line["build_id"])
        self.assertEqual(len(out), len(self.all_drvs))
        return out

    def target(self, case: Case) -> tuple[str, tuple]:
        """The fault's match regex, the URL path it hits, and the args that make
        the sync send that request."""
        if case.target == "listing":
            return "^/jobset/proj/alpha/evals$", "/jobset/proj/alpha/evals", ()
        if case.target == "eval":
            return r"^/eval/3/builds(\?hsloop=1)?$", "/eval/3/builds", ("--by-id-max", "0")
        build = self.new_alpha_build
        return f"^/build/{build}$", f"/build/{build}", ()



class FaultTest(FaultBase):
    """One test per entry of CASES (added below the class)."""

    def run_case(self, case: Case) -> None:
        self.assertExit(self.sync(), 0)
        before_alpha = jobset_rows(self.db, ALPHA)
        before_answers = self.answers()
        self.hydra.set_phase(2)
        match, path, args = self.target(case)
        rule = {"match": match, "kind": case.kind, "count": 1 if case.heals else -1}
        rule.update(case.params)
        if rule.get("retry_after") == "date+2":
            rule["retry_after"] = email.utils.formatdate(time.time() + 2, usegmt=True)
        self.hydra.add_faults([rule])
        self.hydra.clear_log()
        extra = ("--max-tries", "2") if "--max-tries" not in case.args else ()
        proc = self.sync(*(args + case.args + extra))
        tries = [r for r in self.hydra.log() if r["path"] == path]
        beta = jobset_rows(self.db, BETA)
        self.assertEqual(beta["newest_eval"], 4, "the other jobset synced")

        if case.heals:
            self.assertExit(proc, 0)
            self.assertGreaterEqual(len(tries), 1 if case.kind == "slow" else 2,
                                    "the fault was retried")
            self.assertEqual(tries[0]["fault"], case.kind)
            self.assertEqual(jobset_rows(self.db, ALPHA)["newest_eval"], 3)
            self.assertEqual(jobset_rows(self.db, ALPHA)["builds"], 33)
            self.assertNotIn("error", proc.stderr)
            return

        self.assertExit(proc, 1)
        url = self.hydra.url + path
        errors = [line for line in proc.stderr.splitlines() if line.startswith("hydra-status: error:")]
        self.assertEqual(len(errors), 1, proc.stderr)
        self.assertTrue(errors[0].startswith(f"hydra-status: error: {ALPHA}: "), errors[0])
        self.assertIn(f"'{url}'", errors[0], "the message names the URL")
        self.assertRegex(errors[0], case.message)
        if case.target != "listing":
            self.assertIn(": eval 3: ", errors[0])
        self.assertRegex(proc.stderr, r"synced 1 of 2 jobsets \(1 failed\):")
        fired = sum(rule["fired"] for rule in self.hydra.faults())
        low, high = case.fired if isinstance(case.fired, tuple) else (case.fired, case.fired)
        self.assertTrue(low <= fired <= high, f"fired {fired} times, expected {case.fired}")
        # Nothing of the faulted eval was ingested; every answer stands.
        self.assertEqual(jobset_rows(self.db, ALPHA), before_alpha)
        after = self.answers()
        for drv in self.alpha_drvs:
            self.assertEqual(after[drv], before_answers[drv], drv)
        for drv, answer in before_answers.items():
            if answer[0] != "unknown":
                self.assertNotEqual(after[drv][0], "unknown", drv)
        self.assertEqual(query(self.db, "PRAGMA integrity_check"), [("ok",)])
        # The fault heals: the next sync completes the job.
        self.hydra.clear_faults()
        self.assertExit(self.sync(*args), 0)
        alpha = jobset_rows(self.db, ALPHA)
        self.assertEqual((alpha["newest_eval"], alpha["builds"]), (3, 33))


def _make_test(name: str, case: Case):
    def test(self: FaultTest) -> None:
        self.run_case(case)
    test.__name__ = f"test_{name}"
    test.__doc__ = f"{case.kind} on the {case.target} request"
    return test


for _name, _case in CASES.items():
    setattr(FaultTest, f"test_{_name}", _make_test(_name, _case))


class FaultExtrasTest(FaultBase):
    """Faults that need more than the table: messages, hints, jobsets."""

    def test_bot_filter_html_is_said_plainly(self) -> None:
        self.hydra.add_faults([{"match": "^/jobset/proj/", "kind": "html", "count": -1}])
        proc = self.sync()
        self.assertExit(proc, 1)
        self.assertIn("hint:", proc.stderr)
        self.assertIn("bot filter", proc.stderr)
        self.assertIn("nothing of it was ingested", proc.stderr)
        self.assertIn("'hydra-status/", proc.stderr)
        self.assertIsNone(jobset_rows(self.db, ALPHA)["row"])

    def test_nonexistent_jobset_and_project_are_clear_errors(self) -> None:
        proc = self.sync(jobsets=("proj:nope", "nothere:trunk", BETA))
        self.assertExit(proc, 1)
        self.assertIn(f"hydra-status: error: proj:nope: jobset proj:nope does not exist on "
                      f"{self.hydra.url} (unable to download '{self.hydra.url}/jobset/proj/nope/"
                      f"evals': HTTP error 404 (Jobset ‘nope’ doesn't exist.))", proc.stderr)
        self.assertIn("hydra-status: error: nothere:trunk: jobset nothere:trunk does not exist",
                      proc.stderr)
        self.assertIn("Project ‘nothere’ doesn't exist.", proc.stderr)
        self.assertEqual(jobset_rows(self.db, "proj:nope"), {"row": None})
        self.assertEqual(jobset_rows(self.db, "nothere:trunk"), {"row": None})
        self.assertEqual(jobset_rows(self.db, BETA)["newest_eval"], 2)
        info = self.hs(["--json", "info"])
        self.assertNotIn("nope", info.stdout)

    def test_gzip_answers_are_accepted(self) -> None:
        self.hydra.set_options(gzip=True)
        self.assertExit(self.sync(), 0)
        log = self.hydra.log()
        self.assertTrue(all(r["status"] == 200 for r in log))
        self.assertEqual(jobset_rows(self.db, ALPHA)["builds"], 30)

    def test_fault_on_a_recheck_rolls_back_only_that_step(self) -> None:
        self.assertExit(self.sync(), 0)
        self.hydra.clear_log()
        self.hydra.add_faults([{"match": "^/eval/1/builds$", "kind": "malformed"}])
        proc = self.sync("--recheck-interval", "0", jobsets=(ALPHA,))
        self.assertExit(proc, 1)
        self.assertRegex(proc.stderr, r"proj:alpha: re-check of eval 1: .*'\S+/eval/1/builds': ")
        self.assertEqual(jobset_rows(self.db, ALPHA)["builds"], 30)


if __name__ == "__main__":
    unittest.main()
