"""record, forget and lookups while a sync receives a slow answer (issue 13,
point 2). No write transaction of a sync ever waits on the network: builds
are parsed and staged as they arrive and written in short transactions, so
that `record --failed` (what nix-build-gated runs after a failed build),
`forget` and a lookup each finish within a second at any point of a sync,
instead of waiting for SQLite's busy timeout (10 s) and failing with
"database is locked". The sync, in turn, waits for a writer that holds the
lock briefly, and its data is the same as an undisturbed sync's.

A first sync reads a small eval; then the fake Hydra sends the 10,000
builds of the next one (more than one of the sync's write batches) and
stops at given fractions of the answer (the slow rule's `hold_at`) until
the test has acted there: a writer that waited for the whole answer would
make every `record` wait for SQLite's busy timeout (10 s). The test acts
on events (the fake holding), not after fixed sleeps, so a slow machine
or a sanitizer build changes nothing. The same holds for a re-check that reads an eval whole; and a
sync killed after a batch of an eval's builds was written, before the eval
was committed, leaves a consistent index that the next sync completes.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_concurrent_writes
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import FakeHydra, index_dump, json_lines, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()

N_BUILDS = 10_000
JOBSET = "nixpkgs:big"
BUILDS_PATH = "/eval/20/builds"
# Seconds that record, forget and a lookup may take during a sync: the
# issue's bound of 1 s. A writer waits for at most one of the sync's batch
# transactions (0.1-0.5 s), where a sync that held a transaction while the
# answer is held would make it wait SQLite's busy timeout (10 s). A build
# under the sanitizers runs several times slower (one commit took 1.05 s
# under ASan on 2 busy cores): .ci/sanitize sets HS_TEST_TIME_SCALE.
DEADLINE = 1.0 * float(os.environ.get("HS_TEST_TIME_SCALE", "1"))
# A command over DEADLINE may have met the batch the sync was committing
# as the answer stopped, on a loaded machine: then it must still be far
# from the busy timeout, and a write right after it must take < DEADLINE
# (the sync is held: it writes nothing until the answer moves on).
BUSY_TIMEOUT = 10.0


def two_phase_dataset() -> dict:
    """Phase 1 lists eval 1 (the first 500 builds); phase 2 adds eval 20,
    which holds all 10,000, more than one of the sync's write batches
    (8,192 builds; evals 2-19 are never listed)."""
    dataset = make_dataset.big_dataset(N_BUILDS, n_evals=20, jobset=JOBSET, seed=13)
    first = dataset["phases"]["1"]
    evals = first["jobsets"][JOBSET]["evals"]
    assert evals[0] == 1 and evals[-1] == 20
    dataset["phases"]["2"] = dict(first, jobsets={JOBSET: {"evals": [1, 20]}})
    first["jobsets"] = {JOBSET: {"evals": [1]}}
    dataset["initial_phase"] = 1
    return dataset


class ConcurrentWritesCase(hs_testlib.HsTestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(two_phase_dataset()).start()
        cls.dataset_drvs = make_dataset.drv_paths(cls.hydra.dataset, 2)
        # A normal sync, for the content every other sync must reach, and the
        # size of the answer to drip.
        cls.reference_dir = tempfile.mkdtemp(prefix="hs-concurrent-writes-")
        reference = os.path.join(cls.reference_dir, "reference.sqlite")
        cls.hydra.set_phase(2)
        proc = hs_testlib.run_hs(cls.sync_args(cls.hydra.url, "--max-evals", "2"), db=reference,
                                 timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"reference sync: exit {proc.returncode}\n{proc.stderr}")
        cls.reference = index_dump(reference)
        cls.first_eval_builds = len(cls.hydra.dataset["phases"]["1"]["evals"]["1"]["builds"])
        [answer] = [r for r in cls.hydra.log() if r["path"] == BUILDS_PATH]
        cls.answer_bytes = answer["bytes"]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop_checked()
        shutil.rmtree(cls.reference_dir, True)

    @staticmethod
    def sync_args(url: str, *more: str) -> list[str]:
        return ["--url", url, "sync", "--jobset", JOBSET, "--min-interval", "0", *more]

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        self.rng = random.Random(self.id())

    def sync_first_eval(self) -> None:
        """Eval 1 alone, so that the index was synced (else lookups exit 5)."""
        self.hydra.set_phase(1)
        self.assertExit(self.hs(self.sync_args(self.hydra.url), timeout=120), 0)
        self.hydra.set_phase(2)
        self.hydra.clear_log()

    def new_drv(self, name: str) -> str:
        return make_dataset.drv_path(self.rng, name)

    def start_slow_sync(self, hold: float, *more: str) -> subprocess.Popen:
        """A sync whose answer of eval 20 stops at the fraction `hold` until
        hold_at() moves it; between stops it flows in about a second."""
        self.hydra.clear_faults()
        self.hydra.add_faults([{"match": f"^{BUILDS_PATH}$", "kind": "slow", "count": 1,
                                "bytes_per_sec": self.answer_bytes,
                                "hold_at": self.at(hold)}])
        sync = subprocess.Popen([HS_BIN, "--db", self.db, *self.sync_args(self.hydra.url, *more)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=hs_testlib.hs_env(self.home), cwd=self.home)
        self.addCleanup(self.reap, sync)
        return sync

    @staticmethod
    def reap(sync: subprocess.Popen) -> None:
        if sync.poll() is None:
            sync.kill()
        sync.communicate()

    def at(self, fraction: float) -> int:
        return int(fraction * self.answer_bytes)

    def slow_rule(self) -> dict:
        [rule] = [f for f in self.hydra.faults() if f["kind"] == "slow"]
        return rule

    def sent(self) -> int:
        """Bytes of the slow answer the fake Hydra has sent so far."""
        return self.slow_rule()["sent"]

    def hold_at(self, fraction: float | None) -> None:
        self.hydra.hold_slow(None if fraction is None else self.at(fraction))

    def wait_until_held(self, fraction: float, sync: subprocess.Popen) -> None:
        """Until the answer stands still at `fraction`."""
        self.hold_at(fraction)
        deadline = time.monotonic() + 60
        while not ((rule := self.slow_rule())["held"] and rule["sent"] == self.at(fraction)):
            self.assertIsNone(sync.poll(), "the sync ended before its answer was sent")
            self.assertLess(time.monotonic(), deadline, f"{fraction:.0%} of the answer not sent")
            time.sleep(0.01)

    def assert_mid_answer(self, sync: subprocess.Popen) -> None:
        """The answer is still held: what ran before happened during it."""
        self.assertIsNone(sync.poll())
        self.assertLess(self.sent(), self.answer_bytes)

    def timed_hs(self, args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
        start = time.monotonic()
        proc = self.hs(args, timeout=30)
        return proc, time.monotonic() - start

    def finish_sync(self, sync: subprocess.Popen) -> str:
        out, err = sync.communicate(timeout=120)
        self.assertEqual(sync.returncode, 0, err)
        return err

    def local_answers(self, drvs: list[str]) -> dict[str, dict]:
        proc = self.hs(["--json", "lookup", "--stdin"], input="\n".join(drvs) + "\n", timeout=30)
        self.assertEqual(proc.stderr, "")
        return {a["query"]: a for a in json_lines(proc.stdout)}

    def assert_prompt(self, took: float, what: str) -> None:
        """took < DEADLINE; or, if the command met the sync's last batch
        commit on a loaded machine, far from the busy timeout and a write
        just after it (the sync held, writing nothing) within DEADLINE."""
        if took < DEADLINE:
            return
        self.assertLess(took, BUSY_TIMEOUT / 2, what)
        probe, again = self.timed_hs(["record", "--failed", self.new_drv("probe")])
        self.assertEqual(probe.returncode, 0, probe.stderr)
        self.assertLess(again, DEADLINE, f"{what}; a write right after took {again:.2f} s")

    def write_at_once(self, fractions: tuple[float, ...], sync: subprocess.Popen,
                      recorded: list[str], forgotten: list[str], timings: list[float]) -> None:
        """At each fraction of the answer: record a failure, forget one
        recorded before the sync, look the new record up; each at once."""
        for i, fraction in enumerate(fractions):
            self.wait_until_held(fraction, sync)
            # Every other point records a drv the sync is writing: Hydra's
            # answer and the local record are kept side by side.
            drv = self.dataset_drvs[i * 997] if i % 2 else self.new_drv(f"local-{i}")
            recorded.append(drv)
            record, took = self.timed_hs(["record", "--failed", drv, "--reason", f"point {i}"])
            timings.append(took)
            context = f"at {fraction:.0%} of the answer, after {took:.2f} s"
            self.assertEqual((record.returncode, record.stderr), (0, ""), f"record {context}")
            self.assert_prompt(took, f"record {context}")
            forget, took = self.timed_hs(["forget", forgotten[i]])
            self.assertEqual((forget.returncode, forget.stderr), (0, ""), f"forget {context}")
            self.assert_prompt(took, f"forget {context}")
            lookup, took = self.timed_hs(["--json", "lookup", drv])
            self.assertEqual(lookup.returncode, 1, f"lookup {context}: {lookup.stderr}")
            self.assert_prompt(took, f"lookup {context}")
            [answer] = json_lines(lookup.stdout)
            self.assertEqual((answer["source"], answer["status"]), ("local", "failed"))
            self.assert_mid_answer(sync)
        self.hold_at(None)

    def check_after(self, recorded: list[str], forgotten: list[str]) -> None:
        """The records made during the sync are there, the forgotten ones
        gone, and the sync's data is complete."""
        answers = self.local_answers(recorded + forgotten)
        for drv in recorded:
            self.assertEqual(answers[drv]["source"], "local", drv)
        for drv in forgotten:
            self.assertNotEqual(answers[drv]["source"], "local", drv)
        self.assertEqual(index_dump(self.db), self.reference)

    def counts(self) -> tuple[int, int]:
        """(evals, builds) committed in the index so far."""
        if not os.path.exists(self.db):
            return 0, 0
        con = sqlite3.connect(self.db, timeout=DEADLINE)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            if "eval" not in tables:
                return 0, 0
            return (con.execute("SELECT count(*) FROM eval").fetchone()[0],
                    con.execute("SELECT count(*) FROM build").fetchone()[0])
        finally:
            con.close()

    def wait_for_a_batch_of_eval_20(self, sync: subprocess.Popen) -> int:
        """Until a batch of eval 20's builds is committed, and eval 20 is
        not: returns the number of builds then."""
        deadline = time.monotonic() + 30
        while True:
            evals, builds = self.counts()
            if evals == 1 and builds > self.first_eval_builds:
                return builds
            self.assertIsNone(sync.poll(), "the sync ended before a batch was written")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)


class ConcurrentWritesTest(ConcurrentWritesCase):

    def test_record_forget_and_lookup_answer_at_once_while_an_answer_streams_in(self) -> None:
        self.sync_first_eval()
        fractions = (0.05, 0.25, 0.45, 0.65, 0.85)
        forgotten = [self.new_drv(f"forget-{i}") for i in range(len(fractions) + 2)]
        for drv in forgotten:
            self.assertEqual(self.hs(["record", "--failed", drv]).returncode, 0)
        sync = self.start_slow_sync(fractions[0])
        recorded: list[str] = []
        timings: list[float] = []
        self.write_at_once(fractions, sync, recorded, forgotten[:5], timings)
        self.finish_sync(sync)
        print(f"\nrecord during a slow answer: max {max(timings) * 1000:.0f} ms over "
              f"{len(timings)} points", file=sys.stderr)
        self.check_after(recorded, forgotten[:5])
        # A re-check reads the newest eval whole again (it is due at once):
        # the same holds while that answer streams in.
        self.hydra.clear_log()
        sync = self.start_slow_sync(0.5, "--recheck-interval", "0")
        self.write_at_once((0.5, 0.7), sync, recorded, forgotten[5:], timings)
        self.finish_sync(sync)
        self.assertEqual(len(self.hydra.requests(BUILDS_PATH)), 1)
        self.check_after(recorded, forgotten)

    def test_the_sync_waits_for_a_writer_that_holds_the_lock_briefly(self) -> None:
        # A first sync of both evals: eval 1, then eval 20, whose last tenth
        # (less than a batch) is held back.
        sync = self.start_slow_sync(0.9, "--max-evals", "2")
        self.wait_for_a_batch_of_eval_20(sync)
        # The rest of the answer is less than a batch: the sync reads it to
        # the end, then writes it and commits the eval. Another writer takes
        # the lock at once (the sync holds none while it waits for data) and
        # keeps it past the end of the answer.
        con = sqlite3.connect(self.db, timeout=DEADLINE, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            self.hold_at(None)
            deadline = time.monotonic() + 30
            while not self.hydra.requests(BUILDS_PATH):  # logged once fully sent
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            time.sleep(0.5)  # how long the lock is held: the sync waits meanwhile
            self.assertIsNone(sync.poll(), "the sync did not wait for the lock")
            self.assertEqual(self.counts()[0], 1)
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")
            con.close()
        self.finish_sync(sync)
        self.assertEqual(index_dump(self.db), self.reference)

    def test_a_sync_killed_between_two_batches_leaves_a_consistent_index(self) -> None:
        # A first sync of both evals: eval 1, then eval 20, whose last tenth
        # is held back.
        sync = self.start_slow_sync(0.9, "--max-evals", "2")
        builds = self.wait_for_a_batch_of_eval_20(sync)
        sync.send_signal(signal.SIGKILL)
        sync.communicate(timeout=20)
        self.assertLess(self.sent(), self.answer_bytes)
        # Integrity, every member of every eval present, newest_eval committed.
        self.assertEqual(hs_testlib.check_index(self, self.db), 1)
        self.assertEqual(self.counts(), (1, builds))
        # The next sync completes eval 20 and reaches a normal sync's content.
        self.hydra.clear_faults()
        self.assertExit(self.hs(self.sync_args(self.hydra.url, "--max-evals", "2"), timeout=120),
                        0)
        self.assertEqual(index_dump(self.db), self.reference)


if __name__ == "__main__":
    unittest.main()
