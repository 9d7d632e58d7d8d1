"""Human output of lookups (spec/cli.md: Human output): aligned columns,
relative ages, colour only on a terminal and never with NO_COLOR, a warning
when a jobset's data is older than `stale-after`, and hints on what to run
next.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_human_output
"""

from __future__ import annotations

import hashlib
import os
import pty
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import (DEMO_DATASET, FakeHydra, HsTestCase, hs_env, human_blocks, human_rows,
                        make_dataset, run_hs)

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
            cls.build_ids = {"failed": hydra.expected("failed")["build_id"]}
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
                                    env=hs_env(self.home, {"TERM": "xterm", "NO_COLOR": None,
                                                           **(env or {})}),
                                    cwd=self.home)
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
        lines = human_rows(proc.stdout)
        self.assertEqual(len(lines), 4, proc.stdout)
        self.assert_aligned(lines)
        for line in proc.stdout.splitlines():
            self.assertEqual(line, line.rstrip(), "no trailing blanks")

    def assert_aligned(self, lines: list[str]) -> None:
        """The name, jobset and age columns start at the same place on each line."""
        names = [line.split()[2] for line in lines]
        self.assertEqual(len({line.index(name) for line, name in zip(lines, names)}), 1, lines)
        jobsets = [line.index("nixpkgs:") for line in lines if "nixpkgs:" in line]
        self.assertGreaterEqual(len(jobsets), 2, lines)
        self.assertEqual(len(set(jobsets)), 1, lines)
        for line in lines:
            if "not in the index" in line:
                self.assertEqual(line.index("not in the index"), jobsets[0], line)
        ages = [line.index("just now") for line in lines if "just now" in line]
        self.assertEqual(len(set(ages)), 1, lines)

    def test_what_each_line_says(self) -> None:
        k = self.keys
        proc = self.hs([k["succeeded"], k["failed"], k["not_in_index"]])
        ok, failed, unknown = human_blocks(proc.stdout)
        self.assertRegex(ok[0], r"^✓ succeeded +hello-2\.12\.1 +nixpkgs:trunk +just now$")
        self.assertEqual(ok[1:], [], "no URLs for a good build")
        self.assertRegex(failed[0], r"^✗ failed +curl-8\.7\.1 +nixpkgs:trunk +just now$")
        build = f"{self.hydra_url}/build/{self.build_ids['failed']}"
        self.assertEqual(failed[1:], [f"    build  {build}", f"    log    {build}/log"])
        self.assertRegex(unknown[0], r"^\? unknown +never-built-1\.0 +not in the index$")
        self.assertEqual(unknown[1:], [f"    key    {k['not_in_index']}"], "the key itself")

    def test_local_failure_with_hydra_answer_under_it(self) -> None:
        failed = self.keys["failed"]
        log = os.path.join(self.tmp, "build.log")
        with open(log, "w") as f:
            f.write("boom\n")
        self.assertExit(self.hs(["record", "--failed", failed, "--reason", "OOM", "--log", log]), 0)
        proc = self.hs([failed, self.keys["succeeded"]])
        local, ok = human_blocks(proc.stdout)
        self.assertRegex(local[0], r"^✗ failed +curl-8\.7\.1 +local failure +just now$")
        build = f"{self.hydra_url}/build/{self.build_ids['failed']}"
        self.assertEqual(local[1:], ["    reason OOM",
                                     f"    log    {log}",
                                     "    hydra  ✗ failed  nixpkgs:trunk  just now",
                                     f"    build  {build}",
                                     f"    log    {build}/log"])
        self.assertEqual(local[0].index("local failure"), ok[0].index("nixpkgs:"))
        self.assertEqual(len(ok), 1)

    def test_relative_ages(self) -> None:
        for seconds, text in ((3 * 3600 + 5, "3 h ago"), (5 * 60, "5 min ago"),
                              (3 * 86400, "3 d ago")):
            with self.subTest(age=text):
                self.age_jobsets(seconds)
                proc = self.hs(["lookup", "--stale-after", "30d", self.keys["succeeded"]])
                self.assertRegex(proc.stdout, rf"^✓ succeeded +hello-2\.12\.1 +nixpkgs:trunk"
                                              rf" +{text}\n$")

    def test_a_malformed_line_leaves_the_columns_aligned(self) -> None:
        k = self.keys
        keys = [k["succeeded"], k["failed"], "/nix/store/not-a-key.drv", k["not_in_index"],
                k["queued"]]
        proc = self.hs(["lookup", "--stdin"], input="\n".join(keys) + "\n")
        self.assertExit(proc, 2)
        self.assertIn("'/nix/store/not-a-key.drv'", proc.stderr)
        lines = human_rows(proc.stdout)
        self.assertEqual(len(lines), 4, proc.stdout)
        self.assert_aligned(lines)

    def test_singular_and_plural(self) -> None:
        for n in (1, 2):
            with self.subTest(jobsets=n):
                with FakeHydra(DEMO_DATASET) as hydra:
                    args = ["--url", hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                            "--min-interval", "0"]
                    if n == 2:
                        args += ["--jobset", "nixpkgs:staging"]
                    proc = self.hs(args, db=os.path.join(self.tmp, f"{n}.sqlite"))
                self.assertExit(proc, 0)
                self.assertIn("synced 1 of 1 jobset:" if n == 1 else "synced 2 of 2 jobsets:",
                              proc.stderr)
                # The listing as HTML, /eval/<id>, /eval/<id>/builds.
                self.assertIn(": 1 new eval, 27 builds; 3 requests, ", proc.stderr)
                self.assertNotRegex(proc.stderr, r"\b1 (evals|builds|requests|jobsets)\b")


class ColourTest(HumanCase):

    def test_no_colour_on_a_pipe(self) -> None:
        proc = self.hs([self.keys["failed"], self.keys["succeeded"]])
        self.assertNotIn("\x1b[", proc.stdout)

    def test_colour_on_a_terminal(self) -> None:
        code, out = self.on_tty([self.keys["failed"], self.keys["succeeded"]])
        self.assertEqual(code, 1)
        self.assertIn("\x1b[31m✗ failed", out)
        self.assertIn("\x1b[32m✓ succeeded", out)

    def test_never_on_a_dumb_terminal(self) -> None:
        code, out = self.on_tty([self.keys["failed"]], env={"TERM": "dumb"})
        self.assertEqual(code, 1)
        self.assertIn("✗ failed", out)
        self.assertNotIn("\x1b[", out)

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
        self.assertEqual(len(human_rows(proc.stdout)), 3)

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


# Realistic long names (nixpkgs has many past 60 characters) and jobsets.
GOOD = "python3.12-azure-mgmt-recoveryservicesbackup-9.1.0-unstable-2024-05-28"
FAILED = "python3.12-azure-mgmt-recoveryservicesbackup-9.1.0"
LIMIT = "texlive-combined-full-2024-with-every-collection-and-documentation-env"
LEAF = "ghc-9.8.2-haskell-language-server-2.7.0.0-with-plugins-and-documentation"
HISTORY = "linux-6.8.12-modules-shrunk-nvidia-x11-550.78-open-kernel-modules"
UNKNOWN = "python3.12-azure-mgmt-recoveryservicesbackup-9.1.0-not-built-anywhere"
CHAIN = ["nixos-system-workstation-with-a-rather-long-hostname-24.05.20240601.abcdef0",
         "system-path-with-every-package-of-the-workstation-profile-and-then-some",
         "haskell-env-for-the-workstation-with-language-servers-and-documentation",
         LEAF]
JOBSET = "nixpkgs:staging-next-24.05"
OTHER = "nixos:release-24.05-small"
NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"
T0 = 1_717_200_000


def drv(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return "/nix/store/" + "".join(NIX32[b % 32] for b in digest[:32]) + f"-{name}.drv"


def derive(name: str, inputs: list[str]) -> str:
    out = drv(name + "-out").removesuffix(".drv")
    ins = ",".join(f'("{p}",["out"])' for p in sorted(inputs))
    return (f'Derive([("out","{out}","","")],[{ins}],[],"x86_64-linux","/bin/sh",'
            f'["-c","true"],[("name","{name}"),("out","{out}"),("system","x86_64-linux")])')


def long_names_dataset() -> dict:
    b = make_dataset.DatasetBuilder(seed=13)
    ids = []
    for name, status, jobset, build_id in ((GOOD, 0, JOBSET, 283719462),
                                           (FAILED, 1, JOBSET, 283719463),
                                           (LIMIT, 11, JOBSET, 283719464),
                                           (LEAF, 1, JOBSET, 283719465),
                                           (HISTORY, 1, JOBSET, 283700001)):
        ids.append(b.add_build(jobset, f"{name}.x86_64-linux", name, status=status,
                               timestamp=T0, drvpath=drv(name), build_id=build_id)["id"])
    b.add_eval(JOBSET, ids, timestamp=T0 + 100)
    first = b.build(283700001)
    later = [b.add_build(OTHER, f"{HISTORY}.x86_64-linux", HISTORY, status=status,
                         timestamp=T0 + hours * 3600, like=first, build_id=build_id)["id"]
             for status, hours, build_id in ((2, 1, 283710000), (0, 30, 283720000))]
    b.add_eval(OTHER, later, timestamp=T0 + 31 * 3600)
    return b.to_json("test_human_output: long names")


class EightyColumnsTest(HsTestCase):
    """Every line of lookup (good, failed, unknown, local), lookup --all, gate
    with a chain and info fits in 80 columns, with long names."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = tempfile.mkdtemp(prefix="hs-test-80-")
        cls.template = os.path.join(cls.dir, "index.sqlite")
        cls.root = os.path.join(cls.dir, "root")
        store = os.path.join(cls.root, "nix", "store")
        os.makedirs(store)
        for i, name in enumerate(CHAIN):
            inputs = [drv(CHAIN[i + 1])] if i + 1 < len(CHAIN) else []
            with open(os.path.join(store, os.path.basename(drv(name))), "w") as f:
                f.write(derive(name, inputs))
        with FakeHydra(long_names_dataset()) as hydra:
            cls.url = hydra.url
            proc = run_hs(["--url", hydra.url, "sync", "--jobset", JOBSET, "--jobset", OTHER,
                           "--min-interval", "0", "-q"], db=cls.template)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self) -> None:
        super().setUp()
        shutil.copy(self.template, self.db)

    def run_80(self, args: list[str], code: int) -> list[str]:
        """Runs, checks the exit code and that no line passes 80 columns; the stdout lines."""
        proc = self.hs(args)
        self.assertExit(proc, code)
        for line in proc.stdout.splitlines() + proc.stderr.splitlines():
            self.assertLessEqual(len(line), 80, f"{args[0]}: {line!r}")
        return proc.stdout.splitlines()

    def test_lookup(self) -> None:
        lines = self.run_80([drv(n) for n in (GOOD, FAILED, LIMIT, UNKNOWN)], 1)
        text = "\n".join(lines)
        for build_id in (283719463, 283719464):  # URLs are never cut
            self.assertIn(f"    build  {self.url}/build/{build_id}\n", text)
            self.assertIn(f"    log    {self.url}/build/{build_id}/log", text)
        # A name cut to its column keeps its start and its end (the version).
        rows = human_rows(text)
        self.assertEqual(len(rows), 4, text)
        # Cut in the middle: the widest status word, a long jobset and the age
        # leave 43 columns for the name and the jobset.
        word, name, jobset = rows[0].split()[1:4]
        self.assertEqual(word, "succeeded")
        self.assertRegex(name, r"^python3\.12-azu.*….*-05-28$")
        self.assertRegex(jobset, r"^nixpkgs:st.*….*-24\.05$")
        self.assertIn("not in the index", rows[3])
        # The unknown key keeps its hash.
        self.assertRegex(text, r"\n    key    /nix/store/[0-9a-z]{32}-python3\.12-azu[^ ]*…[^ ]*\.drv$")

    def test_local_failure(self) -> None:
        log = os.path.join(self.tmp, "build.log")
        with open(log, "w") as f:
            f.write("boom\n")
        self.assertExit(self.hs(["record", "--failed", drv(LEAF), "--log", log, "--reason",
                                 "the linker ran out of memory after three hours of building "
                                 "every module of the language server"]), 0)
        lines = self.run_80([drv(LEAF), drv(GOOD)], 1)
        self.assertTrue(any(line.startswith("    reason the linker ran out of memory")
                            and line.endswith("…") for line in lines), lines)

    def test_all(self) -> None:
        lines = self.run_80(["lookup", "--all", drv(HISTORY), drv(GOOD)], 0)
        # Each key's name (whole: it has the line to itself), then a row per
        # build: status, jobset, build id, date.
        self.assertEqual(human_rows("\n".join(lines)), [HISTORY, GOOD])
        rows = [line for line in lines if re.match(r"  \S", line)]
        self.assertEqual([row.split()[1] for row in rows],
                         ["succeeded", "dependency-failed", "failed", "succeeded"])
        for row, build_id in zip(rows, (283720000, 283710000, 283700001, 283719462)):
            self.assertRegex(row, rf" #{build_id}  \d{{4}}-\d\d-\d\d$")

    def test_gate_with_a_chain(self) -> None:
        lines = self.run_80(["gate", "--store-root", self.root, drv(CHAIN[0])], 1)
        [block] = human_blocks("\n".join(lines))
        self.assertIn(f"    build  {self.url}/build/283719465", block)
        chain = [line for line in block if line.startswith("    chain  ")
                 or line.startswith("           <- ")]
        self.assertGreater(len(chain), 1, "a long chain is wrapped")
        elements = " ".join(line[11:] for line in chain).split(" <- ")
        self.assertEqual(len(elements), len(CHAIN), chain)
        self.assertTrue(elements[-1].endswith(".drv"))

    def test_info(self) -> None:
        # A Hydra behind a path prefix (the contract allows one).
        url = "https://hydra.example.org/instances/nixos-infrastructure"
        con = sqlite3.connect(self.db)
        with con:
            con.execute("UPDATE hydra SET url = ?", (url,))
        con.close()
        lines = self.run_80(["info"], 0)
        self.assertEqual(lines[:2], [f"index          {self.db}",
                                     f"size           {lines[1].split()[1]} KiB"])
        at = lines.index(JOBSET)
        self.assertEqual(lines[at + 1], f"  url          {url}")
        self.assertRegex(lines[at + 2], r"^  last sync    \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(just now\)$")
        self.assertEqual(lines[at + 3:at + 6], ["  newest eval  1", "  evals        1",
                                                "  builds       5"])


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
