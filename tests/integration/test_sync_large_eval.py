"""An eval that /eval/<id>/builds cannot serve (issue 15), against the fake
Hydra's fault injection: a 504, a connection reset, a truncated answer or a
timeout on /eval/<id>/builds is not asked again in the run, the eval is read
by id instead and committed when complete, and lookups give the right
answers; a first sync with a small --max-requests completes across runs,
each exiting 0 with a progress line, the index consistent after each (no
committed eval names a build it lacks), and later runs never ask for
/eval/<id>/builds again.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_large_eval
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
import unittest

import hs_testlib
from hs_testlib import FakeHydra, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()

T0 = 1735689600
TRUNK = "big:trunk"  # one eval of 210 builds: by id in batches of 100 (k_by_id_batch)
SMALL = "big:small"  # one eval of 30 builds
EVALS = {TRUNK: (7, 210), SMALL: (3, 30)}  # jobset: (eval id, builds)
MASK = hs_testlib.ID_MASK


def large_eval_dataset() -> dict:
    """Per jobset one eval of its builds over three systems, a tenth failed."""
    db = make_dataset.DatasetBuilder(seed=15)
    systems = ("x86_64-linux", "aarch64-linux", "x86_64-darwin")
    for jobset, (eval_id, n) in EVALS.items():
        name = jobset.split(":")[1]
        ids = [db.add_build(jobset, f"{name}{i}.{systems[i % 3]}", f"{name}{i}-1.0",
                            status=1 if i % 10 == 0 else 0, timestamp=T0,
                            system=systems[i % 3], stoptime=T0 + i)["id"]
               for i in range(n)]
        db.add_eval(jobset, ids, timestamp=T0, eval_id=eval_id)
    return db.to_json("test_sync_large_eval: one eval per jobset")


class LargeEvalCase(hs_testlib.HsTestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(large_eval_dataset()).start()
        cls.expected = make_dataset.expected_answers(cls.hydra.dataset, 1)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop_checked()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.clear_log()

    def sync(self, jobset: str, *args: str) -> subprocess.CompletedProcess:
        proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", jobset,
                        "--min-interval", "0", "--backoff-ceiling", "50ms", *args])
        self.assertExit(proc, 0)
        return proc

    def fault(self, kind: str, **params: object) -> None:
        self.hydra.add_faults([{"match": r"^/eval/\d+/builds$", "kind": kind, "count": -1,
                                **params}])

    def run_log(self, whole_at_least: int = 0) -> tuple[int, int]:
        """(requests for /eval/<id>/builds, requests for /build/<id>) since the
        last call, and clears the log. The fake logs a request when its
        answer ends: one the client gave up on (a delay fault) may still be
        answered after the sync is over, so wait for `whole_at_least`."""
        deadline = time.monotonic() + 30
        while True:
            log = self.hydra.log()
            whole = sum(1 for r in log if re.fullmatch(r"/eval/\d+/builds", r["path"]))
            if whole >= whole_at_least or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.hydra.clear_log()
        by_id = sum(1 for r in log if re.fullmatch(r"/build/\d+", r["path"]))
        return whole, by_id

    def query(self, sql: str, *args: object) -> list[tuple]:
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def check_consistent(self) -> int:
        """The index is consistent (hs_testlib.check_index). Returns the
        number of builds in it."""
        hs_testlib.check_index(self, self.db)
        return self.query("SELECT count(*) FROM build")[0][0]

    def assert_complete(self, jobset: str) -> None:
        eval_id, n = EVALS[jobset]
        self.assertEqual(self.query("SELECT id & ? FROM eval", MASK), [(eval_id,)])
        self.assertEqual(self.check_consistent(), n)
        mine = {drv: e for drv, e in self.expected.items() if e["jobset"] == jobset}
        self.assertEqual(len(mine), n)
        proc = self.hs(["--json", "lookup", "--stdin"], input="\n".join(mine) + "\n")
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        got = {line["query"]: (line["status"], line["build_id"])
               for line in hs_testlib.json_lines(proc.stdout)}
        want = {drv: (e["status"], e["build_id"]) for drv, e in mine.items()}
        self.assertEqual(got, want)

    def assert_remembered(self, jobset: str) -> None:
        [(failed_at, members)] = self.query(
            "SELECT eval_builds_failed_at, eval_builds_failed_members FROM jobset")
        self.assertIsNotNone(failed_at)
        self.assertEqual(members, EVALS[jobset][1])


class GaveUpTest(LargeEvalCase):
    """Each way /eval/<id>/builds gives up: one request, then by id."""

    def check_by_id_instead(self, proc: subprocess.CompletedProcess, whole: int) -> None:
        eval_id, n = EVALS[SMALL]
        self.assertEqual(self.run_log(whole), (whole, n))
        self.assertIn(f"{SMALL}: eval {eval_id}: unable to download '{self.hydra.url}"
                      f"/eval/{eval_id}/builds': ", proc.stderr)
        self.assertIn("not asked again, its builds are read by id", proc.stderr)
        self.assertIn(f"{SMALL}: eval {eval_id}: {n} builds (by-id)", proc.stderr)
        self.assert_complete(SMALL)
        self.assert_remembered(SMALL)

    def test_504_is_asked_once_and_the_eval_read_by_id(self) -> None:
        self.fault("status", status=504)
        proc = self.sync(SMALL)
        self.check_by_id_instead(proc, 1)
        self.assertIn("HTTP error 504", proc.stderr)

    def test_truncated_answer_is_asked_once_and_the_eval_read_by_id(self) -> None:
        self.fault("truncate")
        self.check_by_id_instead(self.sync(SMALL), 1)

    def test_timeout_is_asked_once_and_the_eval_read_by_id(self) -> None:
        self.fault("delay", seconds=3)
        proc = self.sync(SMALL, "--timeout", "1")
        self.check_by_id_instead(proc, 1)
        self.assertIn("timed out", proc.stderr)

    def test_reset_is_not_asked_again_by_the_client(self) -> None:
        self.fault("reset")
        proc = self.sync(SMALL, "--max-tries", "6")
        # libcurl itself sends a request once more on a fresh connection when
        # a reused one dies before any answer; the client never asks again
        # (before: 6 tries, each perhaps twice).
        whole, by_id = self.run_log()
        self.assertLessEqual(whole, 2)
        self.assertEqual(by_id, EVALS[SMALL][1])
        self.assertIn("not asked again, its builds are read by id", proc.stderr)
        self.assert_complete(SMALL)
        self.assert_remembered(SMALL)


class ResumableFirstSyncTest(LargeEvalCase):

    def test_a_small_budget_completes_across_runs(self) -> None:
        eval_id, n = EVALS[TRUNK]
        self.fault("status", status=504)
        runs = []
        while True:
            self.assertLess(len(runs), 10, "the first sync never completed")
            proc = self.sync(TRUNK, "--max-requests", "60")
            whole, by_id = self.run_log()
            in_index = self.check_consistent()
            runs.append((whole, by_id, in_index))
            if "request budget" not in proc.stderr:
                break
            self.assertIn("hydra-status: note: request budget of 60 spent", proc.stderr)
            # The progress line (min-interval 0: no pace to estimate a time
            # by), within 80 columns.
            progress = (f"{TRUNK}: eval {eval_id}: {in_index} of {n} builds; "
                        f"{n - in_index} requests more;\n"
                        "  a snapshot from a machine that has synced avoids this\n")
            self.assertIn("\n" + progress, "\n" + proc.stderr)
            self.assertTrue(all(len(line) <= 80 for line in progress.splitlines()))
            self.assertRegex(proc.stderr, rf"synced 0 of 1 jobset: 0 evals, {by_id} builds;")
            self.assertEqual(self.query("SELECT count(*) FROM eval"), [(0,)],
                             "an incomplete eval was committed")
        # Run 1 asks /eval/<id>/builds once and reads the first 100 builds by
        # id; the budget then stops every run after its first 100; no later
        # run asks /eval/<id>/builds again.
        self.assertEqual(runs, [(1, 100, 100), (0, 100, 200), (0, 10, n)])
        self.assertIn(f"{TRUNK}: eval {eval_id}: 10 builds (by-id)", proc.stderr)
        self.assert_complete(TRUNK)
        self.assert_remembered(TRUNK)
        # A later sync has nothing to read.
        self.sync(TRUNK)
        self.assertEqual(self.run_log(), (0, 0))


if __name__ == "__main__":
    unittest.main()
