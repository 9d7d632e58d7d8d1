"""`hydra-status record` repeated and with bad input (issue 13, point 4): a
repeat keeps the log and reason recorded before unless it gives new ones,
what was never recorded is JSON null (not ""), and a --log that names no
file is a usage error (exit 2) naming it. The real binary, on an index
synced from the fake Hydra.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_record
"""

from __future__ import annotations

import os
import sqlite3
import shutil
import tempfile
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, HsTestCase, json_lines, run_hs

HS_BIN = hs_testlib.skip_unless_binary()

TEMPLATE: dict[str, str] = {}


def setUpModule() -> None:  # noqa: N802
    tmp = tempfile.mkdtemp(prefix="hs-test-record-")
    db = os.path.join(tmp, "index.sqlite")
    with FakeHydra(DEMO_DATASET) as hydra:
        proc = run_hs(["--url", hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                       "--min-interval", "0", "-q"], db=db)
        if proc.returncode != 0:
            raise RuntimeError(f"sync failed ({proc.returncode}): {proc.stderr}")
        TEMPLATE.update(dir=tmp, db=db, good=hydra.expect["succeeded"]["key"])


def tearDownModule() -> None:  # noqa: N802
    shutil.rmtree(TEMPLATE["dir"], ignore_errors=True)


class RecordTest(HsTestCase):
    def setUp(self) -> None:
        super().setUp()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(TEMPLATE["db"] + suffix):
                shutil.copy(TEMPLATE["db"] + suffix, self.db + suffix)
        self.drv = TEMPLATE["good"]  # Hydra built it fine: a local record is the answer

    def log(self, name: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("builder failed\n")
        return path

    def record(self, *args: str) -> None:
        self.assertExit(self.hs(["record", "--failed", self.drv, *args]), 0)

    def local(self) -> dict:
        proc = self.hs(["--json", "lookup", self.drv])
        self.assertExit(proc, 1)
        [answer] = json_lines(proc.stdout)
        self.assertEqual(answer["source"], "local")
        return answer

    def test_repeat_keeps_earlier_log_and_reason_unless_given(self) -> None:
        first, second = self.log("first.log"), self.log("second.log")
        self.record("--log", first, "--reason", "out of memory")
        self.record()
        answer = self.local()
        self.assertEqual(answer["count"], 2)
        self.assertEqual((answer["reason"], answer["log"], answer["log_url"]),
                         ("out of memory", first, "file://" + first))
        self.record("--reason", "exit code 2")
        answer = self.local()
        self.assertEqual((answer["reason"], answer["log"]), ("exit code 2", first))
        self.record("--log", second)
        answer = self.local()
        self.assertEqual((answer["count"], answer["reason"], answer["log"]),
                         (4, "exit code 2", second))
        self.record("--reason", "")  # an empty reason is none given
        self.assertEqual(self.local()["reason"], "exit code 2")
        proc = self.hs(["lookup", self.drv])
        self.assertExit(proc, 1)
        self.assertIn("exit code 2", proc.stdout)

    def test_what_was_never_recorded_is_null(self) -> None:
        self.record()
        answer = self.local()
        for field in ("reason", "log", "log_url"):
            self.assertIn(field, answer)
            self.assertIsNone(answer[field], field)
        self.assertEqual(answer["hydra"]["status"], "succeeded")
        self.record("--reason", "flaky test")
        answer = self.local()
        self.assertEqual(answer["reason"], "flaky test")
        self.assertIsNone(answer["log"])
        self.assertIsNone(answer["log_url"])

    def test_log_that_does_not_exist_is_a_usage_error(self) -> None:
        missing = os.path.join(self.tmp, "no-such.log")
        proc = self.hs(["record", "--failed", self.drv, "--log", missing, "--reason", "x"])
        self.assertExit(proc, 2)
        self.assertIn(missing, proc.stderr)
        self.assertIn("does not exist", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        # Nothing was recorded.
        proc = self.hs(["--json", "lookup", self.drv])
        self.assertExit(proc, 0)
        self.assertEqual(json_lines(proc.stdout)[0]["source"], "hydra")

    def test_log_that_is_a_directory_is_a_usage_error(self) -> None:
        proc = self.hs(["record", "--failed", self.drv, "--log", self.tmp])
        self.assertExit(proc, 2)
        self.assertIn(self.tmp, proc.stderr)
        self.assertIn("is a directory", proc.stderr)
        self.assertExit(self.hs(["lookup", self.drv]), 0)


if __name__ == "__main__":
    unittest.main()


class LockedIndexTest(HsTestCase):
    """A write lock held past SQLite's busy timeout (10 s) is the index that
    cannot be used (exit 5), never 1, the code for a failure found."""

    def test_record_and_forget_exit_5_while_another_writer_holds_the_lock(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(TEMPLATE["db"] + suffix):
                shutil.copy(TEMPLATE["db"] + suffix, self.db + suffix)
        writer = sqlite3.connect(self.db, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            for command in (["record", "--failed", TEMPLATE["good"]],
                            ["forget", TEMPLATE["good"]]):
                with self.subTest(command=command[0]):
                    proc = self.hs(command)
                    self.assertExit(proc, 5)
                    self.assertIn(self.db, proc.stderr)
                    self.assertIn("write lock", proc.stderr)
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        proc = self.hs(["record", "--failed", TEMPLATE["good"]])
        self.assertExit(proc, 0)
