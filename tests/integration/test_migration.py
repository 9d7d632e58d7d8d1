"""Schema migration (issue 16, point 3): an index written by the release
before (schema v2, tests/data/index-v2, made by its make_fixture.py with that
release's binary) is migrated by the first command that writes, and then
answers every lookup exactly as that release did. Until then a lookup says
to sync, and writes nothing.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_migration
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import unittest

import hs_testlib
from hs_testlib import HsTestCase, json_lines

HS_BIN = hs_testlib.skip_unless_binary()

FIXTURE = os.path.join(hs_testlib.TESTS_DIR, "data", "index-v2")
UNKNOWN_DRV = "/nix/store/0000000000000000000000000000000z-nothing.drv"
ID_MASK = (1 << 40) - 1


def read_fixture(name: str) -> str:
    with open(os.path.join(FIXTURE, name), encoding="utf-8") as f:
        return f.read()


def content(path: str, v2: bool) -> dict:
    """The rows of an index, in a form both schemas share."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        duration = "stoptime - starttime" if v2 else "duration"
        return {
            "version": con.execute("PRAGMA user_version").fetchone()[0],
            "build": con.execute(
                f"SELECT id & ?, id >> 40, hex(drv), name, jobset, job, system, finished,"
                f" status, {duration}, stoptime FROM build ORDER BY 1", (ID_MASK,)).fetchall(),
            "eval": con.execute("SELECT id & ?, id >> 40, jobset, timestamp, inputs, hex(builds)"
                                " FROM eval ORDER BY 1", (ID_MASK,)).fetchall(),
            "output": con.execute("SELECT hex(substr(hash, 1, 8)), build & ?,"
                                  " coalesce(name, 'out') FROM output ORDER BY 1",
                                  (ID_MASK,)).fetchall(),
            "name": con.execute("SELECT id, text FROM name ORDER BY 1").fetchall(),
            "jobset": con.execute("SELECT id, hydra, project, name, synced_at, newest_eval"
                                  " FROM jobset ORDER BY 1").fetchall(),
            "local_failure": con.execute("SELECT hex(drv), name, count, first_at, last_at, log,"
                                         " reason FROM local_failure ORDER BY 1").fetchall(),
            "indexes": con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                                   " ORDER BY 1").fetchall(),
        }
    finally:
        con.close()


class MigrationFromV2(HsTestCase):
    def setUp(self) -> None:
        super().setUp()
        shutil.copyfile(os.path.join(FIXTURE, "index.sqlite"), self.db)
        self.expected = json.loads(read_fixture("expected.json"))
        self.write_config(self.expected["config"])

    def migrate(self) -> None:
        # forget writes nothing here, but opens the index for writing.
        proc = self.hs(["forget", UNKNOWN_DRV])
        self.assertExit(proc, 0)

    def test_lookup_of_an_unmigrated_index_says_to_sync_and_writes_nothing(self) -> None:
        before = os.stat(self.db)
        with open(self.db, "rb") as f:
            data = f.read()
        proc = self.hs(["lookup", UNKNOWN_DRV])
        self.assertExit(proc, 5)
        self.assertIn("schema version 2", proc.stderr)
        self.assertIn("run 'hydra-status sync'", proc.stderr)
        with open(self.db, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.stat(self.db).st_mtime_ns, before.st_mtime_ns)
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.db))),
                         sorted(["index.sqlite", "home"]))

    def test_migration_keeps_every_row(self) -> None:
        old = content(self.db, v2=True)
        self.assertEqual(old["version"], 2)
        self.migrate()
        new = content(self.db, v2=False)
        self.assertEqual(new["version"], 6)
        for table in ("build", "eval"):
            # Instance 1's keys are Hydra's own ids now (instance - 1 << 40).
            self.assertEqual([r[1] for r in old[table]], [1] * len(old[table]))
            self.assertEqual([r[1] for r in new[table]], [0] * len(new[table]))
            self.assertEqual([r[:1] + r[2:] for r in new[table]],
                             [r[:1] + r[2:] for r in old[table]], table)
        for table in ("output", "name", "jobset", "local_failure"):
            self.assertEqual(new[table], old[table], table)
        self.assertGreater(len(new["build"]), 60)
        self.assertGreater(len(new["output"]), 60)
        indexes = dict(new["indexes"])
        self.assertIn("substr(drv, 1, 8)", indexes["build_by_drv"])
        self.assertNotIn("sqlite_autoindex_name_1", indexes)  # no UNIQUE on name.text
        con = sqlite3.connect(self.db)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertEqual(con.execute("SELECT count(*) FROM output WHERE name = 'out'")
                             .fetchone()[0], 0)
        finally:
            con.close()

    def test_migrated_index_answers_every_lookup_as_the_old_release(self) -> None:
        self.migrate()
        keys = read_fixture("keys.txt")
        proc = self.hs(["--json", "lookup", "--all", "--stdin"], input=keys)
        self.assertExit(proc, self.expected["batch_exit"])
        want = json_lines(read_fixture("expected-batch.jsonl"))
        got = json_lines(proc.stdout)
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            self.assertEqual(g, w)
        # Each key alone (one statement, no snapshot) answers the same.
        single = {}
        for answer in want:
            single.setdefault(answer["query"], []).append(answer)
        for query in list(single)[::7]:
            proc = self.hs(["--json", "lookup", "--all", query])
            self.assertEqual(json_lines(proc.stdout), single[query], query)
        for job in self.expected["jobs"]:
            proc = self.hs(["--json", "lookup", "--all", "--job", job["job"],
                            "--jobset", job["jobset"]])
            self.assertExit(proc, job["exit"])
            self.assertEqual(json_lines(proc.stdout), job["answers"], job)

    def test_migrated_index_takes_new_writes(self) -> None:
        self.migrate()
        drv = "/nix/store/1111111111111111111111111111111z-new.drv"
        self.assertExit(self.hs(["record", "--failed", drv]), 0)
        proc = self.hs(["--json", "lookup", drv])
        self.assertExit(proc, 1)
        self.assertEqual(json_lines(proc.stdout)[0]["source"], "local")
        self.migrate()  # a second open finds version 4 and changes nothing
        self.assertEqual(content(self.db, v2=False)["version"], 6)


if __name__ == "__main__":
    unittest.main()
