"""sync --from file:///DIR (issue 17): never half-applied, local failure records
kept, verification before anything changes.

A pull killed with SIGKILL at a fixed point (the hidden
HYDRA_STATUS_TEST_KILL_AT: "downloaded" after every file is verified,
"applying" inside the transaction just before its commit; the process kills
itself there, so the point is exact) leaves the old index, and the next pull
brings the new one. A truncated file, an unsigned manifest and --no-verify
over anything but file:// are refused with nothing changed.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_snapshot_pull
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, HsTestCase, index_dump

HS_BIN = hs_testlib.skip_unless_binary()

JOBSET = "nixpkgs:trunk"
LOCAL_DRV = "/nix/store/0a7wp2nnn3kzqymkz4ba3ip8qlxdq7wl-local-only-1.0.drv"


class SnapshotPullTest(HsTestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.hydra = FakeHydra(DEMO_DATASET).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop()
        super().tearDownClass()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.set_phase(1)
        self.dir = os.path.join(self.tmp, "snap")
        self.publisher = os.path.join(self.tmp, "pub", "index.sqlite")
        os.makedirs(os.path.dirname(self.publisher))
        self.secret = os.path.join(self.tmp, "pub", "k.secret")
        proc = self.hs(["snapshot", "keygen", "test-1", "--secret-key-file", self.secret],
                       db=self.publisher)
        self.assertExit(proc, 0)
        self.public = proc.stdout.strip()
        self.url = "file://" + self.dir

    def publish_sync(self) -> None:
        self.assertExit(self.hs(["--url", self.hydra.url, "sync", "--jobset", JOBSET,
                                 "--min-interval", "0", "-q", "--publish", self.dir,
                                 "--secret-key-file", self.secret], db=self.publisher), 0)

    def pull(self, *extra: str, env: dict | None = None):
        return self.hs(["sync", "--from", self.url, "--trusted-keys", self.public, *extra],
                       env=env)

    def local_failures(self) -> list:
        con = sqlite3.connect(self.db)
        try:
            return con.execute("SELECT name, count FROM local_failure").fetchall()
        finally:
            con.close()

    def test_sigkill_at_any_point_leaves_old_or_new(self) -> None:
        self.publish_sync()
        self.assertExit(self.hs(["record", "--failed", LOCAL_DRV]), 0)
        # A first pull killed: no data from the snapshot at all, the record kept.
        for point in ("downloaded", "applying"):
            with self.subTest(point=point):
                proc = self.pull(env={"HYDRA_STATUS_TEST_KILL_AT": point})
                self.assertEqual(proc.returncode, -signal.SIGKILL, proc.stderr)
                self.assertEqual(index_dump(self.db), {"build": [], "eval": [], "output": []})
                self.assertEqual(self.local_failures(), [("local-only-1.0", 1)])
        self.assertExit(self.pull(), 0)
        self.assertEqual(index_dump(self.db), index_dump(self.publisher))
        self.assertEqual(self.local_failures(), [("local-only-1.0", 1)])
        old = index_dump(self.db)
        # Deltas killed mid-apply: the old index; then the new one.
        self.hydra.set_phase(2)
        self.publish_sync()
        self.assertNotEqual(index_dump(self.publisher), old)
        for point in ("downloaded", "applying"):
            with self.subTest(point=point):
                proc = self.pull(env={"HYDRA_STATUS_TEST_KILL_AT": point})
                self.assertEqual(proc.returncode, -signal.SIGKILL, proc.stderr)
                self.assertEqual(index_dump(self.db), old)
        proc = self.pull()
        self.assertExit(proc, 0)
        self.assertIn("delta", proc.stderr)
        self.assertNotIn("base", proc.stderr)
        self.assertEqual(index_dump(self.db), index_dump(self.publisher))
        self.assertEqual(self.local_failures(), [("local-only-1.0", 1)])
        # Nothing left behind beside the index.
        self.assertEqual([n for n in os.listdir(self.tmp) if ".pull-" in n], [])

    def test_truncated_file_changes_nothing(self) -> None:
        self.publish_sync()
        with open(os.path.join(self.dir, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        base = os.path.join(self.dir, manifest["signed"]["base"]["file"])
        with open(base, "rb") as f:
            data = f.read()
        with open(base, "wb") as f:
            f.write(data[: len(data) // 2])
        proc = self.pull()
        self.assertExit(proc, 1)
        self.assertIn("truncated", proc.stderr)
        self.assertIn("nothing was changed", proc.stderr)
        self.assertEqual(index_dump(self.db), {"build": [], "eval": [], "output": []})

    def test_unsigned_or_unverified(self) -> None:
        self.publish_sync()
        path = os.path.join(self.dir, "manifest.json")
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        manifest["signatures"] = []
        with open(path, "w") as f:
            json.dump(manifest, f)
        proc = self.pull()
        self.assertExit(proc, 1)
        self.assertIn("is not signed", proc.stderr)
        self.assertEqual(index_dump(self.db), {"build": [], "eval": [], "output": []})
        # --no-verify: only for file://, where the user vouches for the files.
        proc = self.hs(["sync", "--from", self.url, "--no-verify"])
        self.assertExit(proc, 0)
        self.assertEqual(index_dump(self.db), index_dump(self.publisher))
        info = self.hs(["info"])
        self.assertIn("not verified", info.stdout)
        proc = self.hs(["sync", "--from", "http://127.0.0.1:9/", "--no-verify"])
        self.assertExit(proc, 2)
        self.assertIn("--no-verify is only for a file:// source", proc.stderr)
        proc = self.hs(["sync", "--from", self.url])
        self.assertExit(proc, 2)
        self.assertIn("trusted-keys", proc.stderr)

    def test_a_sync_from_hydra_makes_the_index_its_own(self) -> None:
        self.publish_sync()
        self.assertExit(self.pull(), 0)
        self.assertIn("pulled from", self.hs(["info"]).stdout)
        # The client syncs from Hydra itself: the pull state goes, and the
        # next pull takes a base (its rows are no longer the publisher's).
        self.assertExit(self.hs(["--url", self.hydra.url, "sync", "--jobset", JOBSET,
                                 "--min-interval", "0", "-q"]), 0)
        self.assertNotIn("pulled from", self.hs(["info"]).stdout)
        proc = self.pull()
        self.assertExit(proc, 0)
        self.assertIn("pulled a base", proc.stderr)


if __name__ == "__main__":
    unittest.main()
