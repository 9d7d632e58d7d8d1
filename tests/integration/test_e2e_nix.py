"""End-to-end test of the pre-build gate with REAL Nix (issue 6 §5): Debian's
nix-bin in throw-away chroot stores (shared/reference/nix-drv.md §2.2: no
daemon, no network, no /nix on the host), the fake Hydra serving the real drv
paths, `hydra-status gate`, and contrib/nix-build-gated.

Skips (exit 125) only when nix-instantiate / nix-build are not installed (CI
installs nix-bin through contrib/install-deps).

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_e2e_nix
"""

from __future__ import annotations

import glob
import os
import pty
import select
import shutil
import subprocess
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import FakeHydra, HsTestCase, json_lines, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()
hs_testlib.skip_unless_executable("nix-instantiate")
hs_testlib.skip_unless_executable("nix-build")

WRAPPER = os.path.join(hs_testlib.SOURCE_DIR, "contrib", "nix-build-gated")
JOBSET = "nixpkgs:trunk"
NIX_EXISTED = os.path.lexists("/nix")

# The closure of the issue: top -> mid -> {hello, bad-leaf} (nix-drv.md §2.2),
# plus builds that fail in ways the wrapper must not record.
NIX_FILE = r"""
let mk = name: script: derivation {
      inherit name; system = builtins.currentSystem;
      builder = "/bin/sh"; args = [ "-c" script ]; };
in rec {
  hello   = mk "hello"    "echo hi > $out";
  badLeaf = mk "bad-leaf" "echo 'about to fail' >&2; exit 1";
  mid     = mk "mid"      "echo ${hello} ${badLeaf} > $out";
  top     = mk "top"      "echo ${mid} > $out";
  slow    = mk "slow"     "/bin/sleep 30";
  noOutput = mk "no-output" "echo made nothing";
  noSpace = mk "no-space" "echo 'write: No space left on device' >&2; exit 1";
}
"""


class NixStore:
    """A throw-away chroot store: logical paths /nix/store/..., files under root."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.root = os.path.join(base, "root")
        self.home = os.path.join(base, "home")
        conf_dir = os.path.join(base, "conf")
        os.makedirs(conf_dir)
        os.makedirs(self.home)
        with open(os.path.join(conf_dir, "nix.conf"), "w") as f:
            f.write(f"store = {self.root}\n"
                    "build-users-group =\n"
                    "substituters =\n"
                    "sandbox = true\n"
                    "extra-sandbox-paths = /bin /lib /lib64 /usr\n"
                    "experimental-features = nix-command\n")
        self.nix_file = os.path.join(base, "t.nix")
        with open(self.nix_file, "w") as f:
            f.write(NIX_FILE)
        # NIX_CONF_DIR before the first nix call, or nix creates /nix/store on the host.
        self.nix_env = {"NIX_CONF_DIR": conf_dir, "NIX_USER_CONF_FILES": "", "NIX_REMOTE": None,
                        "NIX_PATH": None}

    def env(self, **extra: str | None) -> dict[str, str]:
        return hs_testlib.hs_env(self.home, {**self.nix_env, **extra})

    def run(self, args: list[str], *, check: bool = True, **extra: str | None
            ) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60,
                              env=self.env(**extra), cwd=self.home, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{args} exited {proc.returncode}: {proc.stderr}")
        return proc

    def instantiate(self, *attrs: str) -> list[str]:
        args = ["nix-instantiate", "--no-gc-warning", self.nix_file]
        for attr in attrs:
            args += ["-A", attr]
        return self.run(args).stdout.split()

    def file(self, store_path: str) -> str:
        return self.root + store_path

    def build_log_exists(self, drv: str) -> bool:
        base = os.path.basename(drv)
        return bool(glob.glob(os.path.join(self.root, "nix", "var", "log", "nix", "drvs",
                                           base[:2], base[2:] + "*")))


class Fixture:
    tmp: str
    drvs: dict[str, str]   # attribute -> drv path
    outs: dict[str, str]   # attribute -> out path
    dataset1: dict         # Hydra: bad-leaf failed, hello succeeded
    dataset2: dict         # later: bad-leaf rebuilt on Hydra and succeeded
    hydra: FakeHydra       # serves dataset1 for the tests that do not change it


FX = Fixture()


def make_datasets(drvs: dict[str, str]) -> tuple[dict, dict]:
    b = make_dataset.DatasetBuilder(seed=66)
    bad = b.add_build(JOBSET, "badLeaf.x86_64-linux", "bad-leaf", status=1,
                      timestamp=1_700_000_000, drvpath=drvs["badLeaf"], log="about to fail\n")
    hello = b.add_build(JOBSET, "hello.x86_64-linux", "hello", status=0,
                        timestamp=1_700_000_000, drvpath=drvs["hello"])
    b.add_eval(JOBSET, [bad["id"], hello["id"]], timestamp=1_700_000_100)
    first = b.to_json("e2e: bad-leaf failed")
    again = b.add_build(JOBSET, "badLeaf.x86_64-linux", "bad-leaf", status=0,
                        timestamp=1_700_100_000, like=bad)
    b.add_eval(JOBSET, [again["id"], hello["id"]], timestamp=1_700_100_100)
    return first, b.to_json("e2e: bad-leaf rebuilt and succeeded")


def setUpModule() -> None:  # noqa: N802
    FX.tmp = tempfile.mkdtemp(prefix="hs-test-e2e-nix-")
    store = NixStore(os.path.join(FX.tmp, "probe"))
    attrs = ("hello", "badLeaf", "mid", "top")
    FX.drvs = dict(zip(attrs, store.instantiate(*attrs)))
    FX.outs = {}
    for attr, drv in FX.drvs.items():
        out = store.run(["nix-store", "-q", "--outputs", drv]).stdout.strip()
        FX.outs[attr] = out
    FX.dataset1, FX.dataset2 = make_datasets(FX.drvs)
    FX.hydra = FakeHydra(FX.dataset1).start()


def tearDownModule() -> None:  # noqa: N802
    FX.hydra.stop()
    shutil.rmtree(FX.tmp, ignore_errors=True)
    if not NIX_EXISTED and os.path.lexists("/nix"):
        raise AssertionError("/nix appeared on the host")


class E2eCase(HsTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.store = NixStore(os.path.join(self.tmp, "nix"))

    def sync(self, hydra: FakeHydra, db: str | None = None) -> None:
        proc = self.hs(["--url", hydra.url, "sync", "--jobset", JOBSET, "--min-interval", "0"],
                       db=db or self.db)
        self.assertExit(proc, 0)

    def wrapper(self, *args: str, db: str | None = None, attr: str = "top",
                **extra: str | None) -> subprocess.CompletedProcess:
        """nix-build-gated NIX_FILE -A attr --no-out-link ARGS, stdin not a TTY."""
        cmd = [WRAPPER, self.store.nix_file, "-A", attr, "--no-out-link", *args]
        env = self.store.env(HYDRA_STATUS=HS_BIN, HYDRA_STATUS_DB=db or self.db, **extra)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env,
                              cwd=self.store.home, stdin=subprocess.DEVNULL)

    def lookup(self, drv: str, db: str | None = None) -> tuple[int, dict]:
        proc = self.hs(["--json", "lookup", drv], db=db or self.db)
        [answer] = json_lines(proc.stdout)
        return proc.returncode, answer

    def assert_refused(self, proc: subprocess.CompletedProcess, *texts: str) -> None:
        self.assertExit(proc, 1)
        self.assertEqual(proc.stdout, "")
        self.assertIn("not building", proc.stderr)
        for text in texts:
            self.assertIn(text, proc.stderr)
        self.assertNotIn("building '", proc.stderr, "nix-build ran")

    def assert_built_and_failed(self, proc: subprocess.CompletedProcess) -> None:
        self.assertExit(proc, 100)
        self.assertIn(f"builder for '{FX.drvs['badLeaf']}' failed with exit code 1", proc.stderr)
        self.assertIn("about to fail", proc.stderr)
        self.assertTrue(self.store.build_log_exists(FX.drvs["badLeaf"]))


class ScenarioTest(E2eCase):
    """Issue 6 §5, step by step, on one chroot store and one index."""

    def test_gate_refuse_force_record_refuse_again_forget(self) -> None:
        d = FX.drvs
        bad = d["badLeaf"]
        hydra = FakeHydra(FX.dataset1).start()
        self.addCleanup(hydra.stop)
        # The store of this test instantiates the same paths as the probe.
        self.assertEqual(self.store.instantiate("top"), [d["top"]])
        self.sync(hydra)
        [bad_id] = [b["id"] for b in FX.dataset1["phases"]["1"]["builds"].values()
                    if b["drvpath"] == bad]
        bad_url = f"{hydra.url}/build/{bad_id}"

        # 1. gate on the real top.drv names bad-leaf and the chain.
        proc = self.hs(["gate", "--store-root", self.store.root, d["top"]])
        self.assertExit(proc, 1)
        self.assertIn("bad-leaf", proc.stdout)
        self.assertIn(bad_url, proc.stdout)
        self.assertIn(bad_url + "/log", proc.stdout)
        self.assertIn("top.drv <- mid.drv <- bad-leaf.drv", proc.stdout)
        proc = self.hs(["--json", "gate", "--store-root", self.store.root, d["top"]])
        *failures, summary = json_lines(proc.stdout)
        self.assertEqual([(f["query"], f["source"], f["status"], f["chain"]) for f in failures],
                         [(bad, "hydra", "failed", [d["top"], d["mid"], bad])])
        self.assertEqual((summary["drvs"], summary["succeeded"], summary["unknown"]), (4, 1, 2))

        # 2. nix-build-gated refuses (stdin is not a TTY): report on stderr, nothing built.
        proc = self.wrapper()
        self.assert_refused(proc, bad_url, "bad-leaf")
        self.assertFalse(self.store.build_log_exists(bad), "bad-leaf was built")

        # 3. --force: Nix builds, bad-leaf fails (rc 100), and only it is recorded.
        proc = self.wrapper("--force")
        self.assert_built_and_failed(proc)
        self.assertIn(f"recorded the failure of {bad}", proc.stderr)
        code, answer = self.lookup(bad)
        self.assertEqual(code, 1)
        self.assertEqual((answer["source"], answer["status"], answer["count"]),
                         ("local", "failed", 1))
        self.assertIn("exit code 1", answer["reason"])
        with open(answer["log"]) as f:
            self.assertIn("about to fail", f.read())
        self.assertEqual(answer["hydra"]["status"], "failed")
        for attr in ("mid", "top"):  # dependency failures are not root failures
            code, answer = self.lookup(d[attr])
            self.assertEqual((code, answer["status"]), (3, "unknown"), attr)

        # 4. Hydra no longer reports the failure: a newer eval rebuilt bad-leaf
        # and it succeeded. (A dataset that merely leaves bad-leaf out would
        # not do: the index keeps every build it has synced, so Hydra's old
        # failure would still block and prove nothing about the local record.)
        hydra.load_dataset(FX.dataset2)
        self.sync(hydra)
        code, answer = self.lookup(bad)
        self.assertEqual((code, answer["source"], answer["hydra"]["status"]),
                         (1, "local", "succeeded"))
        proc = self.wrapper()
        self.assert_refused(proc, "local failure", "bad-leaf")
        # HYDRA_STATUS_FORCE=1 is --force.
        proc = self.wrapper(HYDRA_STATUS_FORCE="1")
        self.assert_built_and_failed(proc)
        self.assertEqual(self.lookup(bad)[1]["count"], 2)

        # 5. forget: the gate lets it through; Nix builds it again (and it fails again).
        self.assertExit(self.hs(["forget", bad]), 0)
        self.assertEqual(self.lookup(bad)[1]["source"], "hydra")
        proc = self.wrapper()
        self.assert_built_and_failed(proc)
        self.assertNotIn("not building", proc.stderr)
        self.assertIn(f"recorded the failure of {bad}", proc.stderr)

    def test_fresh_index_holding_only_the_local_record(self) -> None:
        # An index that was never synced: nix-build-gated --force creates it
        # through `record`; then the local record alone refuses the build.
        d = FX.drvs
        fresh = os.path.join(self.tmp, "fresh.sqlite")
        self.assertFalse(os.path.exists(fresh))
        proc = self.wrapper("--force", db=fresh)
        self.assert_built_and_failed(proc)
        self.assertTrue(os.path.exists(fresh))
        proc = self.wrapper(db=fresh)
        self.assert_refused(proc, "local failure", "never synced")
        proc = self.hs(["--json", "gate", "--store-root", self.store.root, d["top"]], db=fresh)
        self.assertExit(proc, 1)
        *failures, _ = json_lines(proc.stdout)
        self.assertEqual([(f["query"], f["source"], f["chain"]) for f in failures],
                         [(d["badLeaf"], "local", [d["top"], d["mid"], d["badLeaf"]])])
        # Forgotten: nothing blocks, the index has no Hydra data (gate exit 5),
        # and the wrapper builds without the gate.
        self.assertExit(self.hs(["forget", "--all"], db=fresh), 0)
        proc = self.wrapper(db=fresh)
        self.assert_built_and_failed(proc)
        self.assertIn("no usable index", proc.stderr)


class WrapperTest(E2eCase):
    """nix-build-gated details with nix 2.8: dry-run parsing, options, TTY, what is recorded."""

    def setUp(self) -> None:
        super().setUp()
        self.sync(FX.hydra)

    def test_dry_run_stderr_of_nix_28_feeds_the_gate(self) -> None:
        d = FX.drvs
        runs = (["nix-build", "--dry-run", self.store.nix_file, "-A", "top"],
                ["nix-store", "-r", "--dry-run", d["top"]])
        for args in runs:
            with self.subTest(args=args[:2]):
                dry = self.store.run(args)
                self.assertIn("will be built", dry.stderr)
                proc = self.hs(["--json", "gate", "--from-dry-run", "-"], input=dry.stderr)
                self.assertExit(proc, 1)
                *failures, summary = json_lines(proc.stdout)
                self.assertEqual([f["query"] for f in failures], [d["badLeaf"]])
                self.assertEqual((summary["drvs"], summary["succeeded"]), (4, 1))
        # Once hello is valid it is no longer listed, so no longer checked.
        proc = self.wrapper(attr="hello")
        self.assertExit(proc, 0)
        dry = self.store.run(runs[0])
        proc = self.hs(["--json", "gate", "--from-dry-run", "-"], input=dry.stderr)
        self.assertExit(proc, 1)
        self.assertEqual(json_lines(proc.stdout)[-1]["drvs"], 3)

    def test_result_path_stays_on_stdout_and_success_records_nothing(self) -> None:
        proc = self.wrapper(attr="hello")
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, FX.outs["hello"] + "\n")
        self.assertIn("building '", proc.stderr)
        self.assertNotIn("recorded", proc.stderr)
        self.assertEqual(self.lookup(FX.drvs["hello"])[1]["source"], "hydra")

    def test_quiet_and_internal_json_do_not_blind_the_gate(self) -> None:
        for args in (("--quiet",), ("--log-format", "internal-json"),
                     ("--log-format", "internal-json", "--quiet")):
            with self.subTest(args=args):
                self.assert_refused(self.wrapper(*args), "bad-leaf")

    def test_internal_json_build_failure_is_recorded(self) -> None:
        proc = self.wrapper("--force", "--log-format", "internal-json")
        self.assertExit(proc, 100)
        self.assertIn("@nix {", proc.stderr)
        self.assertIn(f"recorded the failure of {FX.drvs['badLeaf']}", proc.stderr)
        self.assertEqual(self.lookup(FX.drvs["badLeaf"])[1]["source"], "local")

    def test_transient_looking_failures_are_not_recorded(self) -> None:
        # Out of disk space, timed out. (A builder killed by a signal cannot be
        # made here: in the sandbox the builder is PID 1 of its namespace.)
        cases = (("noSpace", (), 100, "No space left on device"),
                 ("slow", ("--timeout", "1"), 101, "timed out after 1 seconds"))
        for attr, args, code, text in cases:
            with self.subTest(attr=attr):
                proc = self.wrapper("--force", *args, attr=attr)
                self.assertExit(proc, code)
                self.assertIn(text, proc.stderr)
                self.assertNotIn("recorded the failure", proc.stderr)
        drvs = self.store.instantiate("noSpace", "slow")
        proc = self.hs(["--json", "lookup", *drvs])
        self.assertEqual({a["source"] for a in json_lines(proc.stdout)}, {"hydra"})
        self.assertEqual({a["status"] for a in json_lines(proc.stdout)}, {"unknown"})

    def test_builder_without_output_is_recorded(self) -> None:
        proc = self.wrapper(attr="noOutput")
        self.assertExit(proc, 1)  # what nix-build 2.8 exits with here, not 100
        self.assertIn("failed to produce output path", proc.stderr)
        [drv] = self.store.instantiate("noOutput")
        self.assertIn(f"recorded the failure of {drv}", proc.stderr)
        code, answer = self.lookup(drv)
        self.assertEqual((code, answer["source"]), (1, "local"))
        self.assertIn("failed to produce output path", answer["reason"])
        self.assert_refused(self.wrapper(attr="noOutput"), "local failure")

    def tty_run(self, answer: str) -> tuple[int, str]:
        """The wrapper with stdin and stderr on a pseudo-terminal, answering the prompt."""
        master, slave = pty.openpty()
        cmd = [WRAPPER, self.store.nix_file, "-A", "top", "--no-out-link"]
        env = self.store.env(HYDRA_STATUS=HS_BIN, HYDRA_STATUS_DB=self.db)
        proc = subprocess.Popen(cmd, stdin=slave, stdout=subprocess.DEVNULL, stderr=slave,
                                env=env, cwd=self.store.home, start_new_session=True)
        os.close(slave)
        seen = b""
        answered = False
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if not ready:
                    if proc.poll() is not None:
                        break
                    continue
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                seen += chunk
                if not answered and b"build anyway? [y/N]" in seen:
                    os.write(master, answer.encode())
                    answered = True
        finally:
            os.close(master)
            rc = proc.wait(timeout=30)
        self.assertTrue(answered, f"no prompt; output:\n{seen.decode(errors='replace')}")
        return rc, seen.decode(errors="replace")

    def test_tty_asks_before_building(self) -> None:
        rc, out = self.tty_run("n\n")
        self.assertEqual(rc, 1, out)
        self.assertFalse(self.store.build_log_exists(FX.drvs["badLeaf"]))
        rc, out = self.tty_run("y\n")
        self.assertEqual(rc, 100, out)
        self.assertIn("about to fail", out)
        self.assertTrue(self.store.build_log_exists(FX.drvs["badLeaf"]))


if __name__ == "__main__":
    unittest.main()
