"""hydra-status runs `sync` in a helper executable, hydra-status-sync, so that
lookups never load libcurl: hydra-status links neither libcurl nor simdjson;
`hydra-status sync` becomes the helper in the same process (same pid, so its
exit code, signal handling and lock are the helper's); the helper is found
beside hydra-status or in the libexec directory of an install; and a
hydra-status without its helper says so in one line and exits 1.

The other sync suites run `hydra-status sync` too, so they all go through the
helper.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_exec
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, HsTestCase, hs_env

HS_BIN = hs_testlib.skip_unless_binary()
BUILD_DIR = os.path.dirname(os.path.realpath(HS_BIN))
HELPER = os.path.join(BUILD_DIR, "hydra-status-sync")
LDD = shutil.which("ldd")


def install_dirs() -> tuple[str, str]:
    """CMAKE_INSTALL_BINDIR and CMAKE_INSTALL_LIBEXECDIR of the build tree."""
    dirs = {"CMAKE_INSTALL_BINDIR": "bin", "CMAKE_INSTALL_LIBEXECDIR": "libexec"}
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                name, _, value = line.strip().partition("=")
                if name.split(":")[0] in dirs:
                    dirs[name.split(":")[0]] = value
    except OSError:
        pass
    return dirs["CMAKE_INSTALL_BINDIR"], dirs["CMAKE_INSTALL_LIBEXECDIR"]


def libraries(binary: str) -> list[str]:
    """The shared libraries that `ldd` lists for a binary (their sonames)."""
    proc = subprocess.run([LDD, binary], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


class LinkTest(unittest.TestCase):

    def test_helper_is_built_beside_hydra_status(self) -> None:
        self.assertTrue(os.access(HELPER, os.X_OK), f"{HELPER} is missing (build every target)")

    @unittest.skipUnless(LDD, "ldd is not installed")
    def test_hydra_status_links_no_network_library(self) -> None:
        libs = libraries(HS_BIN)
        self.assertFalse([lib for lib in libs if lib.startswith(("libcurl", "libsimdjson"))], libs)
        self.assertTrue(any(lib.startswith("libsqlite3") for lib in libs), libs)
        # The helper has them: what the first check looks for is what a link shows.
        helper_libs = libraries(HELPER)
        for prefix in ("libcurl", "libsimdjson"):
            self.assertTrue(any(lib.startswith(prefix) for lib in helper_libs),
                            (prefix, helper_libs))


class ExecTest(HsTestCase):

    def test_sync_end_to_end_through_the_helper(self) -> None:
        with FakeHydra(DEMO_DATASET) as hydra:
            proc = self.hs(["--url", hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                            "--min-interval", "0"])
            self.assertExit(proc, 0)
            self.assertIn("synced 1 of 1 jobset:", proc.stderr)
            failed = hydra.expect["failed"]["key"]
        proc = self.hs(["--json", failed])
        self.assertExit(proc, 1)
        [answer] = hs_testlib.json_lines(proc.stdout)
        self.assertEqual(answer["status"], "failed")

    def test_helper_exit_codes_and_help_come_through(self) -> None:
        proc = self.hs(["sync", "--jobset", "no colon"])
        self.assertExit(proc, 2)
        self.assertIn("hydra-status: error: invalid jobset 'no colon'", proc.stderr)
        proc = self.hs(["sync", "--help"])
        self.assertExit(proc, 0)
        self.assertIn("--max-evals", proc.stdout)
        self.assertIn("sync", self.hs(["--help"]).stdout)

    def test_sync_is_the_same_process_and_takes_signals(self) -> None:
        with FakeHydra(DEMO_DATASET) as hydra:
            hydra.add_faults([{"match": "/evals", "kind": "delay", "seconds": 20, "count": 1}])
            sync = subprocess.Popen(
                [HS_BIN, "--db", self.db, "--url", hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                 "--min-interval", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=hs_env(self.home), cwd=self.home)
            try:
                deadline = time.monotonic() + 20
                while not any(f["fired"] for f in hydra.faults()):
                    self.assertLess(time.monotonic(), deadline, "the sync sent no request")
                    time.sleep(0.01)
                self.assertEqual(os.readlink(f"/proc/{sync.pid}/exe"), os.path.realpath(HELPER))
                sync.send_signal(signal.SIGTERM)
                out, err = sync.communicate(timeout=10)
            finally:
                if sync.poll() is None:
                    sync.kill()
                    sync.communicate()
        self.assertEqual(sync.returncode, 128 + signal.SIGTERM, err)
        self.assertIn("hydra-status: interrupted by SIGTERM", err)
        self.assertEqual(out, "")


class FindHelperTest(HsTestCase):
    """Copies of hydra-status (and of its helper) in a temp tree."""

    def place(self, path: str, source: str = HS_BIN, mode: int = 0o755) -> str:
        path = os.path.join(self.tmp, path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(source, path)
        os.chmod(path, mode)
        return path

    def run_copy(self, binary: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([binary, "--db", self.db, *args], capture_output=True, text=True,
                              timeout=60, env=hs_env(self.home), cwd=self.home)

    def assertCannotRun(self, proc: subprocess.CompletedProcess, path: str,  # noqa: N802
                        why: str) -> None:
        self.assertEqual((proc.returncode, proc.stdout, proc.stderr),
                         (1, "", f"hydra-status: error: sync: cannot run {path}: {why}\n"))

    def test_alone_it_names_the_missing_helper_and_exits_1(self) -> None:
        bindir, libexecdir = install_dirs()
        if os.path.isabs(bindir) or os.path.isabs(libexecdir):
            self.skipTest("absolute install dirs")
        binary = self.place(os.path.join("prefix", bindir, "hydra-status"))
        expected = os.path.normpath(os.path.join(self.tmp, "prefix", libexecdir, "hydra-status",
                                                 "hydra-status-sync"))
        for args in (["sync"], ["sync", "--help"], ["-v", "sync", "--jobset", "p:j"]):
            self.assertCannotRun(self.run_copy(binary, *args), expected, "No such file or directory")
        # Everything else works without the helper.
        self.assertEqual(self.run_copy(binary, "--version").returncode, 0)
        proc = self.run_copy(binary, "config", "get", "max-evals")
        self.assertEqual((proc.returncode, proc.stdout), (0, "1\n"), proc.stderr)

    def test_found_in_the_libexec_dir_of_an_install(self) -> None:
        bindir, libexecdir = install_dirs()
        if os.path.isabs(bindir) or os.path.isabs(libexecdir):
            self.skipTest("absolute install dirs")
        binary = self.place(os.path.join("prefix", bindir, "hydra-status"))
        self.place(os.path.join("prefix", libexecdir, "hydra-status", "hydra-status-sync"), HELPER)
        proc = self.run_copy(binary, "sync", "--help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("--max-evals", proc.stdout)

    def test_found_beside_it_and_through_a_symlink(self) -> None:
        binary = self.place(os.path.join("a", "hydra-status"))
        self.place(os.path.join("a", "hydra-status-sync"), HELPER)
        link = os.path.join(self.tmp, "link-to-hydra-status")
        os.symlink(binary, link)
        for program in (binary, link):
            proc = self.run_copy(program, "sync", "--help")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("--max-evals", proc.stdout)

    def test_a_helper_that_cannot_run_is_named(self) -> None:
        # execve needs an x bit even for root.
        binary = self.place(os.path.join("a", "hydra-status"))
        helper = self.place(os.path.join("a", "hydra-status-sync"), HELPER, mode=0o644)
        self.assertCannotRun(self.run_copy(binary, "sync"), helper, "Permission denied")


if __name__ == "__main__":
    unittest.main()
