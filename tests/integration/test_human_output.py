"""Human output of lookups (spec/cli.md: Human output): aligned columns,
relative ages, colour only on a terminal and never with NO_COLOR, a warning
when a jobset's data is older than `stale-after`, and hints on what to run
next.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_human_output
"""

from __future__ import annotations

import os
import pty
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, HsTestCase, hs_env, run_hs

HS_BIN = hs_testlib.skip_unless_binary()


class HumanCase(HsTestCase):
    template_dir: str
    template: str
    keys: dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.template_dir = tempfile.mkdtemp(prefix="hs-test-human-")
        cls.template = os.path.join(cls.template_dir, "index.sqlite")
        with FakeHydra(DEMO_DATASET) as hydra:
            proc = run_hs(["--url", hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                           "--jobset", "nixpkgs:staging", "--min-interval", "0", "-q"],
                          db=cls.template)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr)
            cls.keys = {name: hydra.expect[name]["key"]
                        for name in ("succeeded", "failed", "not_in_index", "queued")}
            cls.hydra_url = hydra.url

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.template_dir, ignore_errors=True)

    def setUp(self) -> None:
        super().setUp()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.template + suffix):
                shutil.copy(self.template + suffix, self.db + suffix)

    def age_jobsets(self, seconds: int) -> None:
        """Moves every jobset's last sync `seconds` into the past."""
        with sqlite3.connect(self.db) as conn:
            conn.execute("UPDATE jobset SET synced_at = ? - ?", (int(time.time()), seconds))
        conn.close()

    def on_tty(self, args: list[str], env: dict | None = None) -> tuple[int, str]:
        """Runs with stdout on a pseudo-terminal; returns (exit code, output)."""
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([HS_BIN, "--db", self.db, *args], stdout=slave,
                                    stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                    env=hs_env(self.home, env), cwd=self.home)
            os.close(slave)
            slave = -1
            chunks = []
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not data:
                    break
                chunks.append(data)
            code = proc.wait(timeout=30)
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)
        return code, b"".join(chunks).decode()


class ColumnsTest(HumanCase):

    def test_columns_are_aligned(self) -> None:
        k = self.keys
        proc = self.hs([k["succeeded"], k["failed"], k["not_in_index"], k["queued"]])
        self.assertExit(proc, 1)
        lines = proc.stdout.splitlines()
        self.assertEqual(len(lines), 4, proc.stdout)
        names = [line.split()[2] for line in lines]
        # The name, jobset and age columns start at the same place on each line.
        self.assertEqual(len({line.index(name) for line, name in zip(lines, names)}), 1, proc.stdout)
        jobsets = [line.index("nixpkgs:") for line in lines if "nixpkgs:" in line]
        self.assertEqual(len(jobsets), 3)
        self.assertEqual(len(set(jobsets)), 1, proc.stdout)
        self.assertEqual(lines[2].index("not in the index"), jobsets[0])
        ages = [line.index("synced") for line in lines if "synced" in line]
        self.assertEqual(len(set(ages)), 1, proc.stdout)
        for line in lines:
            self.assertEqual(line, line.rstrip(), "no trailing blanks")

    def test_what_each_line_says(self) -> None:
        k = self.keys
        proc = self.hs([k["succeeded"], k["failed"], k["not_in_index"]])
        ok, failed, unknown = proc.stdout.splitlines()
        self.assertTrue(ok.startswith("✓ succeeded"), ok)
        self.assertIn("synced just now", ok)
        self.assertNotIn("/build/", ok, "no URLs for a good build")
        self.assertTrue(failed.startswith("✗ failed"), failed)
        self.assertRegex(failed, r"/build/\d+  log \S+/build/\d+/log$")
        self.assertTrue(unknown.startswith("? unknown"), unknown)
        self.assertTrue(unknown.endswith(k["not_in_index"]), "the key itself, last")

    def test_local_failure_with_hydra_answer_under_it(self) -> None:
        failed = self.keys["failed"]
        self.assertExit(self.hs(["record", "--failed", failed, "--reason", "OOM"]), 0)
        proc = self.hs([failed, self.keys["succeeded"]])
        lines = proc.stdout.splitlines()
        self.assertEqual(len(lines), 3, proc.stdout)
        self.assertIn("local failure", lines[0])
        self.assertIn("last just now", lines[0])
        self.assertIn("reason: OOM", lines[0])
        self.assertIn("hydra: ", lines[1])
        self.assertEqual(lines[0].index("local failure"), lines[1].index("nixpkgs:"))

    def test_relative_ages(self) -> None:
        for seconds, text in ((3 * 3600 + 5, "synced 3 h ago"), (5 * 60, "synced 5 min ago"),
                              (3 * 86400, "synced 3 d ago")):
            with self.subTest(age=text):
                self.age_jobsets(seconds)
                proc = self.hs(["lookup", "--stale-after", "30d", self.keys["succeeded"]])
                self.assertIn(text, proc.stdout)


class ColourTest(HumanCase):

    def test_no_colour_on_a_pipe(self) -> None:
        proc = self.hs([self.keys["failed"], self.keys["succeeded"]])
        self.assertNotIn("\x1b[", proc.stdout)

    def test_colour_on_a_terminal(self) -> None:
        code, out = self.on_tty([self.keys["failed"], self.keys["succeeded"]])
        self.assertEqual(code, 1)
        self.assertIn("\x1b[31m✗ failed", out)
        self.assertIn("\x1b[32m✓ succeeded", out)

    def test_never_with_no_color(self) -> None:
        code, out = self.on_tty([self.keys["failed"]], env={"NO_COLOR": "1"})
        self.assertEqual(code, 1)
        self.assertIn("✗ failed", out)
        self.assertNotIn("\x1b[", out)


class StaleTest(HumanCase):

    def test_fresh_data_no_warning(self) -> None:
        proc = self.hs([self.keys["failed"]])
        self.assertExit(proc, 1)
        self.assertEqual(proc.stderr, "")

    def test_old_data_warns_once_per_jobset(self) -> None:
        self.age_jobsets(3 * 86400)
        k = self.keys
        proc = self.hs([k["failed"], k["succeeded"], k["not_in_index"]])
        self.assertExit(proc, 1)  # a warning does not change the exit code
        warnings = [l for l in proc.stderr.splitlines() if "warning" in l]
        self.assertEqual(len(warnings), 1, proc.stderr)
        self.assertIn("nixpkgs:trunk", warnings[0])
        self.assertIn("3 d ago", warnings[0])
        self.assertIn("stale-after (48h)", warnings[0])
        self.assertIn("run 'hydra-status sync'", warnings[0])
        self.assertEqual(len(proc.stdout.splitlines()), 3)

    def test_json_output_warns_on_stderr_only(self) -> None:
        self.age_jobsets(3 * 86400)
        proc = self.hs(["--json", self.keys["failed"]])
        self.assertExit(proc, 1)
        self.assertEqual(len(hs_testlib.json_lines(proc.stdout)), 1)
        self.assertIn("stale-after", proc.stderr)

    def test_threshold_from_option_config_and_zero(self) -> None:
        self.age_jobsets(3 * 86400)
        key = self.keys["failed"]
        self.assertEqual(self.hs(["lookup", "--stale-after", "4d", key]).stderr, "")
        self.assertIn("stale-after (2d)", self.hs(["lookup", "--stale-after", "2d", key]).stderr)
        self.write_config("stale-after = 0\n")
        self.assertEqual(self.hs([key]).stderr, "")
        self.write_config("stale-after = 1d\n")
        self.assertIn("stale-after (1d)", self.hs([key]).stderr)
        proc = self.hs(["lookup", "--stale-after", "soon", key])
        self.assertExit(proc, 2)


class HintTest(HumanCase):

    def test_missing_index_says_to_sync(self) -> None:
        proc = self.hs([self.keys["failed"]], db=os.path.join(self.tmp, "none.sqlite"))
        self.assertExit(proc, 5)
        self.assertIn("run 'hydra-status sync", proc.stderr)
        self.assertIn("none.sqlite", proc.stderr)

    def test_never_synced_index_says_to_sync(self) -> None:
        db = os.path.join(self.tmp, "fresh.sqlite")
        self.assertExit(self.hs(["forget", "--all"], db=db), 0)  # creates an empty index
        proc = self.hs([self.keys["failed"]], db=db)
        self.assertExit(proc, 5)
        self.assertIn("never synced", proc.stderr)
        self.assertIn("run 'hydra-status sync'", proc.stderr)


if __name__ == "__main__":
    unittest.main()
