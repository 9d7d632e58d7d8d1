"""Atomicity and crash safety of sync (issue 5): SIGTERM and SIGINT stop
cleanly and roll back the eval in progress; lookups answer while a sync
writes; a second sync exits 75 naming the first one's pid; and SIGKILL at 20
points (a fixed seed) always leaves an index that passes PRAGMA
integrity_check, holds no partial eval, and from which the next sync reaches
the same content as an uninterrupted sync.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_crash
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import unittest

import hs_testlib
from hs_testlib import FakeHydra, index_dump, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()

T0 = 1735689600
JOBSETS = ("proj:one", "proj:two", "proj:three")


def crash_dataset() -> dict:
    """Phase 1, read with --max-evals 3:
      one:   eval 1 (600 builds, read whole), eval 2 (+8: by id), eval 3 (+200: whole)
      two:   eval 4 (300 builds), eval 5 (+4: by id)
      three: eval 6 (150 builds)
    A few builds of each are queued. Phase 2: one gets eval 7 with 2,000 new
    builds (the slow stream that SIGTERM interrupts)."""
    db = make_dataset.DatasetBuilder(seed=99)
    rng = random.Random(5)
    counter = 0

    def builds(jobset: str, n: int, ts: int) -> list[int]:
        nonlocal counter
        out = []
        for _ in range(n):
            counter += 1
            status = None if rng.random() < 0.01 else rng.choice([0, 0, 0, 0, 1, 2, 3, 7])
            out.append(db.add_build(jobset, f"j{counter}.x86_64-linux", f"p{counter}-1.0",
                                    status=status, timestamp=ts,
                                    outputs=("out", "dev") if counter % 4 == 0 else ("out",))["id"])
        return out

    one = builds("proj:one", 600, T0)
    db.add_eval("proj:one", one, timestamp=T0, eval_id=1)
    one += builds("proj:one", 8, T0 + 3600)
    db.add_eval("proj:one", one, timestamp=T0 + 3600, eval_id=2)
    one += builds("proj:one", 200, T0 + 7200)
    db.add_eval("proj:one", one, timestamp=T0 + 7200, eval_id=3)
    two = builds("proj:two", 300, T0)
    db.add_eval("proj:two", two, timestamp=T0, eval_id=4)
    two += builds("proj:two", 4, T0 + 3600)
    db.add_eval("proj:two", two, timestamp=T0 + 3600, eval_id=5)
    db.add_eval("proj:three", builds("proj:three", 150, T0), timestamp=T0, eval_id=6)
    db.new_phase()
    one += builds("proj:one", 2000, T0 + 10800)
    db.add_eval("proj:one", one, timestamp=T0 + 10800, eval_id=7)
    return db.to_json("test_sync_crash")


class CrashCase(hs_testlib.HsTestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(crash_dataset()).start()
        cls.drvs = make_dataset.drv_paths(cls.hydra.dataset, 1)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop_checked()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.set_phase(1)
        self.hydra.clear_log()

    def sync_argv(self, *args: str, db: str | None = None) -> list[str]:
        # --by-id-max 100: the reads the dataset describes (eval 3's 200 new
        # builds whole; by the cost model alone they go by id, 200 requests).
        argv = [HS_BIN, "--db", db or self.db, "--url", self.hydra.url, "sync",
                "--max-evals", "3", "--min-interval", "10ms", "--backoff-ceiling", "50ms",
                "--by-id-max", "100"]
        for js in JOBSETS:
            argv += ["--jobset", js]
        return argv + list(args)

    def start_sync(self, *args: str, db: str | None = None) -> subprocess.Popen:
        return subprocess.Popen(self.sync_argv(*args, db=db), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=hs_testlib.hs_env(self.home), cwd=self.home)

    def run_sync(self, *args: str, db: str | None = None, code: int = 0) -> str:
        proc = subprocess.run(self.sync_argv(*args, db=db), capture_output=True, text=True,
                              env=hs_testlib.hs_env(self.home), cwd=self.home, timeout=120)
        self.assertEqual(proc.returncode, code, proc.stderr)
        return proc.stderr

    def wait_for(self, condition, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.005)

    def lookups(self) -> dict[str, tuple]:
        proc = self.hs(["--json", "lookup", "--stdin"], input="\n".join(self.drvs) + "\n",
                       timeout=30)
        self.assertIn(proc.returncode, (1, 3, 4), proc.stderr)
        return {a["query"]: (a["status"], a["build_id"]) for a in hs_testlib.json_lines(proc.stdout)}


class SignalTest(CrashCase):

    def slow_second_phase(self) -> None:
        """Synced phase 1; phase 2's new eval 7 then drips (about 20 s)."""
        self.run_sync()
        self.hydra.set_phase(2)
        self.hydra.add_faults([{"match": "^/eval/7/builds$", "kind": "slow",
                                "bytes_per_sec": 100_000, "count": 1}])
        self.hydra.clear_log()

    def test_sigterm_mid_stream_rolls_back_the_eval_while_lookups_answer(self) -> None:
        self.slow_second_phase()
        before = index_dump(self.db)
        answers = self.lookups()
        sync = self.start_sync()
        try:
            self.wait_for(lambda: any(f["fired"] for f in self.hydra.faults()), "the slow stream")
            time.sleep(1.0)  # rows of eval 7 are being written in its open transaction
            # Lookups answer at once, from the last committed state.
            for _ in range(3):
                start = time.monotonic()
                self.assertEqual(self.lookups(), answers)
                self.assertLess(time.monotonic() - start, 2.0, "a lookup waited for the sync")
            one = self.hs(["lookup", self.drvs[0]], timeout=10)
            self.assertIn(one.returncode, (0, 1, 4), one.stderr)
            # One sync per index: a second one exits 75 and names the first.
            second = subprocess.run(self.sync_argv(), capture_output=True, text=True,
                                    env=hs_testlib.hs_env(self.home), cwd=self.home, timeout=30)
            self.assertEqual(second.returncode, 75, second.stderr)
            self.assertIn(f"another sync (pid {sync.pid}) is writing {self.db}", second.stderr)
            self.assertIsNone(sync.poll(), "the stream is still running")
            start = time.monotonic()
            sync.send_signal(signal.SIGTERM)
            out, err = sync.communicate(timeout=20)
        finally:
            if sync.poll() is None:
                sync.kill()
                sync.wait()
        self.assertLess(time.monotonic() - start, 3.0, "the sync stops promptly")
        self.assertEqual(sync.returncode, 128 + signal.SIGTERM, err)
        self.assertIn("hydra-status: interrupted by SIGTERM; the eval in progress was rolled back",
                      err)
        self.assertEqual(index_dump(self.db), before)
        self.assertEqual(hs_testlib.check_index(self, self.db), 6)
        # Nothing else changed either: the next sync ingests eval 7.
        self.run_sync()
        self.assertEqual(len(index_dump(self.db)["eval"]), 7)

    def test_sigint_while_fetching_by_id_rolls_back_that_eval(self) -> None:
        # Eval 1 of proj:one is read whole, eval 2 (8 new builds) by id.
        self.hydra.add_faults([{"match": "^/build/\\d+$", "kind": "delay", "seconds": 0.1,
                                "count": -1}])
        sync = self.start_sync()
        try:
            self.wait_for(lambda: sum(r["path"].startswith("/build/") for r in self.hydra.log()) >= 3,
                          "a few by-id requests")
            sync.send_signal(signal.SIGINT)
            out, err = sync.communicate(timeout=20)
        finally:
            if sync.poll() is None:
                sync.kill()
                sync.wait()
        self.assertEqual(sync.returncode, 128 + signal.SIGINT, err)
        self.assertIn("interrupted by SIGINT", err)
        self.assertIn("proj:one: eval 1: 600 builds (eval-builds)", err)
        self.assertEqual([e[0] for e in index_dump(self.db)["eval"]], [1])
        hs_testlib.check_index(self, self.db)

    def test_a_second_signal_ends_the_sync_at_once(self) -> None:
        self.slow_second_phase()
        before = index_dump(self.db)
        sync = self.start_sync()
        try:
            self.wait_for(lambda: any(f["fired"] for f in self.hydra.faults()), "the slow stream")
            # Two signals in a row: the second one ends the process by default.
            sync.send_signal(signal.SIGTERM)
            sync.send_signal(signal.SIGTERM)
            sync.communicate(timeout=20)
        finally:
            if sync.poll() is None:
                sync.kill()
                sync.wait()
        self.assertIn(sync.returncode, (-signal.SIGTERM, 128 + signal.SIGTERM))
        hs_testlib.check_index(self, self.db)
        self.assertEqual(index_dump(self.db), before)


class KillTest(CrashCase):

    POINTS = 20
    SEED = 20250105

    def test_sigkill_at_twenty_points(self) -> None:
        # Whole-eval reads drip at 2 MB/s, as a busy Hydra sends them: the
        # sync spends most of its time writing inside an eval's transaction.
        self.hydra.add_faults([{"match": "^/eval/\\d+/builds$", "kind": "slow",
                                "bytes_per_sec": 2_000_000, "count": -1}])
        reference = os.path.join(self.tmp, "reference.sqlite")
        start = time.monotonic()
        self.run_sync(db=reference)
        duration = time.monotonic() - start
        total = len(self.hydra.log())
        expected = index_dump(reference)
        self.assertEqual(len(expected["eval"]), 6)
        rng = random.Random(self.SEED)
        # Even points: after N answered requests (and a little more); odd
        # points: after a random time within an uninterrupted sync's duration.
        points = [("requests", rng.randint(1, total), rng.uniform(0, 0.05)) if i % 2 == 0
                  else ("seconds", 0, rng.uniform(0.02, duration)) for i in range(self.POINTS)]
        seen_evals = set()
        for i, (how, after_requests, delay) in enumerate(points):
            with self.subTest(point=i, how=how, after_requests=after_requests,
                              delay=round(delay, 3)):
                db = os.path.join(self.tmp, f"kill-{i}.sqlite")
                self.hydra.clear_log()
                sync = self.start_sync(db=db)
                try:
                    deadline = time.monotonic() + 30
                    while len(self.hydra.log()) < after_requests and sync.poll() is None:
                        self.assertLess(time.monotonic(), deadline)
                        time.sleep(0.003)
                    time.sleep(delay)
                    sync.send_signal(signal.SIGKILL)
                    sync.communicate(timeout=20)
                finally:
                    if sync.poll() is None:
                        sync.kill()
                        sync.wait()
                evals = hs_testlib.check_index(self, db)
                seen_evals.add(evals)
                # The next sync continues where the killed one stopped.
                self.run_sync(db=db)
                hs_testlib.check_index(self, db)
                self.assertEqual(index_dump(db), expected)
        # The kills hit different stages of the sync.
        self.assertGreaterEqual(len(seen_evals), 3, seen_evals)


if __name__ == "__main__":
    unittest.main()
