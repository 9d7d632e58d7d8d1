"""Integration tests of `hydra-status gate`, `record` and `forget` (spec/cli.md:
gate, record / forget, JSON Lines local rule, Exit codes), the real binary
against an index synced from the fake Hydra. No Nix needed: the store root
holds the drv files written by real Nix (tests/data/drv/real) plus hand-made
ones, and the dry runs are real captures (tests/data/dryrun).

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_gate
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import (FakeHydra, HsTestCase, human_blocks, human_details, json_lines,
                        make_dataset, run_hs)

HS_BIN = hs_testlib.skip_unless_binary()

DATA = os.path.join(hs_testlib.TESTS_DIR, "data")
REAL_DRVS = os.path.join(DATA, "drv", "real")
DRYRUN = os.path.join(DATA, "dryrun")
STORE = "/nix/store"
NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"
JOBSET = "nixpkgs:trunk"
DAY = 86400

REQUIRED_FIELDS = ("query", "status", "class", "drv_path", "build_id", "build_url", "log_url",
                   "raw_log_url", "job", "jobset", "system", "stoptime", "buildstatus", "source",
                   "synced_at")


def real(name: str) -> str:
    """The store path of the real fixture drv called name ('top' -> /nix/store/jzyp...-top.drv)."""
    [path] = glob.glob(os.path.join(REAL_DRVS, f"*-{name}.drv"))
    return f"{STORE}/{os.path.basename(path)}"


def fake_hash(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return "".join(NIX32[b % 32] for b in digest)


def hand(name: str) -> str:
    """The store path of a hand-made drv."""
    return f"{STORE}/{fake_hash(name)}-{name}.drv"


def derive(name: str, inputs: list[str]) -> str:
    """An input-addressed Derive(...) like Nix writes it (sorted inputDrvs, no final newline)."""
    out = f"{STORE}/{fake_hash(name + '-out')}-{name}"
    ins = ",".join(f'("{p}",["out"])' for p in sorted(inputs))
    return (f'Derive([("out","{out}","","")],[{ins}],[],"x86_64-linux","/bin/sh",'
            f'["-c","echo hi > $out"],[("builder","/bin/sh"),("name","{name}"),'
            f'("out","{out}"),("system","x86_64-linux")])')


def short(path: str) -> str:
    """'/nix/store/<hash>-top.drv' -> 'top.drv' (how the human chain names drvs)."""
    return os.path.basename(path)[33:]


TOP, MID, HELLO, BAD = real("top"), real("mid"), real("hello"), real("bad-leaf")
WITH_SRC, MULTI, MULTI_USER = real("with-src"), real("multi"), real("multi-user")

# Hand-made closures (name -> inputs) on top of the real top -> mid -> {hello, bad-leaf}.
HAND = {
    # Diamond: both -> {left, right}; left -> mid; right -> {mid, hello}.
    "left": [MID],
    "right": [MID, HELLO],
    "both": [hand("left"), hand("right")],
    # Transient failures only: timed out on Hydra, and still queued.
    "slow-leaf": [],
    "queued-leaf": [],
    "flaky-top": [hand("slow-leaf"), hand("queued-leaf"), HELLO],
    # A permanent and a transient failure in one closure.
    "mixed-top": [TOP, hand("flaky-top")],
    # Errors: an input that is missing, an input that is malformed.
    "dangling-top": [hand("not-there")],
    "broken-top": [hand("malformed")],
}
MALFORMED = hand("malformed")
MALFORMED_TEXT = 'Derive([("out","/nix/store/x'  # truncated inside the outputs
# DrvWithVersion (dynamic derivations): bad-leaf asked for through a dynamic node.
DYN = hand("dyn-consumer")
DYN_TEXT = (f'DrvWithVersion("xp-dyn-drv",[("out","","","")],[("{BAD}",(["out"],'
            f'[("out",["dev"])]))],[],"x86_64-linux","/bin/sh",["-c","echo"],'
            f'[("name","dyn-consumer")])')

# Builds on the fake Hydra: bad-leaf failed, hello succeeded, slow-leaf timed out,
# queued-leaf unfinished. mid, top and the hand-made tops were never built by Hydra.
BUILDS = [
    ("bad-leaf.x86_64-linux", BAD, 1),
    ("hello.x86_64-linux", HELLO, 0),
    ("slow-leaf.x86_64-linux", hand("slow-leaf"), 7),
    ("queued-leaf.x86_64-linux", hand("queued-leaf"), None),
]


class Fixture:
    tmp: str
    root: str      # the store root: root/nix/store/<drv files>
    db: str        # the synced index (each test copies it)
    hydra: FakeHydra
    ids: dict[str, int]  # drv path -> build id


FX = Fixture()


def make_store_root(root: str) -> None:
    store = os.path.join(root, "nix", "store")
    os.makedirs(store)
    for path in glob.glob(os.path.join(REAL_DRVS, "*.drv")):
        shutil.copy(path, store)
    for name, inputs in HAND.items():
        with open(os.path.join(store, os.path.basename(hand(name))), "w") as f:
            f.write(derive(name, inputs))
    for path, text in ((MALFORMED, MALFORMED_TEXT), (DYN, DYN_TEXT)):
        with open(os.path.join(store, os.path.basename(path)), "w") as f:
            f.write(text)


def make_gate_dataset() -> tuple[dict, dict[str, int]]:
    b = make_dataset.DatasetBuilder(seed=6)
    ids = {}
    for job, drv, status in BUILDS:
        build = b.add_build(JOBSET, job, short(drv).removesuffix(".drv"), status=status,
                            timestamp=1_700_000_000, drvpath=drv)
        ids[drv] = build["id"]
    b.add_eval(JOBSET, ids.values(), timestamp=1_700_000_100)
    return b.to_json("gate tests"), ids


def sync(db: str) -> None:
    proc = run_hs(["--url", FX.hydra.url, "sync", "--jobset", JOBSET, "--min-interval", "0"],
                  db=db)
    if proc.returncode != 0:
        raise RuntimeError(f"sync failed ({proc.returncode}): {proc.stderr}")


def setUpModule() -> None:  # noqa: N802
    FX.tmp = tempfile.mkdtemp(prefix="hs-test-gate-")
    FX.root = os.path.join(FX.tmp, "root")
    make_store_root(FX.root)
    dataset, FX.ids = make_gate_dataset()
    FX.hydra = FakeHydra(dataset).start()
    FX.db = os.path.join(FX.tmp, "synced", "index.sqlite")
    os.makedirs(os.path.dirname(FX.db))
    sync(FX.db)


def tearDownModule() -> None:  # noqa: N802
    FX.hydra.stop()
    shutil.rmtree(FX.tmp, ignore_errors=True)


class GateCase(HsTestCase):
    """Each test gets its own copy of the synced index in self.db."""

    def setUp(self) -> None:
        super().setUp()
        for path in glob.glob(FX.db + "*"):
            shutil.copy(path, self.db + path[len(FX.db):])

    def gate(self, *args: str, root: bool = True, **kw) -> subprocess.CompletedProcess:
        extra = ["--store-root", FX.root] if root else []
        return self.hs(["gate", *extra, *args], **kw)

    def gate_json(self, *args: str, code: int, **kw) -> tuple[list[dict], dict]:
        """(failure objects, summary object) of `--json gate`; checks the exit code."""
        proc = self.hs(["--json", "gate", "--store-root", FX.root, *args], **kw)
        self.assertExit(proc, code)
        objects = json_lines(proc.stdout)
        self.assertTrue(objects, "no JSON output")
        summary = objects[-1]
        self.assertIs(summary.get("summary"), True, f"last object is not the summary: {summary}")
        self.assertEqual(summary["exit"], code)
        failures = objects[:-1]
        for obj in failures:
            self.assertNotIn("summary", obj)
            for field in REQUIRED_FIELDS + ("chain",):
                self.assertIn(field, obj, f"{field} missing in {obj}")
        return failures, summary

    def record(self, drv: str, *args: str, db: str | None = None) -> None:
        self.assertExit(self.hs(["record", "--failed", drv, *args], db=db or self.db), 0)

    def age_local(self, drv: str, seconds: int) -> None:
        """Moves a local failure record `seconds` into the past (the test cannot wait days)."""
        then = int(time.time()) - seconds
        con = sqlite3.connect(self.db)
        try:
            with con:
                n = con.execute("UPDATE local_failure SET first_at = ?, last_at = ? WHERE name = ?",
                                (then, then, short(drv).removesuffix(".drv"))).rowcount
        finally:
            con.close()
        self.assertEqual(n, 1, f"no local failure record for {drv}")

    def build_url(self, drv: str) -> str:
        return f"{FX.hydra.url}/build/{FX.ids[drv]}"


# --------------------------------------------------------------------------


class ReportTest(GateCase):
    """What a failure report says: drv, chain, status, source, build and log URL."""

    def test_human_report_names_bad_leaf_with_chain_status_and_urls(self) -> None:
        proc = self.gate(TOP)
        self.assertExit(proc, 1)
        # The layout of lookup (mark, status, name, jobset, age; URLs under
        # it), then the chain.
        [block] = human_blocks(proc.stdout)
        self.assertRegex(block[0], rf"^✗ failed +bad-leaf +{JOBSET} +just now$")
        self.assertEqual(block[1:], [f"    build  {self.build_url(BAD)}",
                                     f"    log    {self.build_url(BAD)}/log",
                                     "    chain  top.drv <- mid.drv <- bad-leaf.drv"])
        self.assertIn("gate: 4 drvs checked: 1 failed, 0 transient, 1 succeeded, "
                      "2 never built by Hydra", proc.stderr)
        self.assertNotIn("\x1b[", proc.stdout, "colour codes on a pipe")

    def test_json_one_object_per_failure_with_chain_and_summary(self) -> None:
        failures, summary = self.gate_json(TOP, code=1)
        [bad] = failures
        self.assertEqual(bad["query"], BAD)
        self.assertEqual(bad["drv_path"], BAD)
        self.assertEqual(bad["status"], "failed")
        self.assertEqual(bad["class"], "permanent")
        self.assertEqual(bad["source"], "hydra")
        self.assertEqual(bad["buildstatus"], 1)
        self.assertEqual(bad["build_id"], FX.ids[BAD])
        self.assertEqual(bad["build_url"], self.build_url(BAD))
        self.assertEqual(bad["log_url"], self.build_url(BAD) + "/log")
        self.assertEqual(bad["raw_log_url"], f"{FX.hydra.url}/log/{os.path.basename(BAD)}")
        self.assertEqual(bad["job"], "bad-leaf.x86_64-linux")
        self.assertEqual(bad["jobset"], JOBSET)
        self.assertIsInstance(bad["synced_at"], int)
        self.assertEqual(bad["chain"], [TOP, MID, BAD])
        self.assertNotIn("hydra", bad)
        self.assertEqual(summary, {"summary": True, "drvs": 4, "permanent": 1, "transient": 0,
                                   "succeeded": 1, "unknown": 2, "exit": 1})

    def test_root_itself_failed_has_a_one_element_chain(self) -> None:
        failures, summary = self.gate_json(BAD, code=1)
        self.assertEqual([f["chain"] for f in failures], [[BAD]])
        self.assertEqual(summary["drvs"], 1)
        proc = self.gate(BAD)
        self.assertEqual(proc.stdout.splitlines()[-1], "    chain  bad-leaf.drv")
        self.assertIn("gate: 1 drv checked: 1 failed, 0 transient, 0 succeeded, "
                      "0 never built by Hydra", proc.stderr)

    def test_dynamic_derivation_input_is_walked(self) -> None:
        failures, summary = self.gate_json(DYN, code=1)
        self.assertEqual([f["chain"] for f in failures], [[DYN, BAD]])
        self.assertEqual(summary["drvs"], 2)

    def test_drv_file_outside_the_store_as_root(self) -> None:
        # A root may be a file path whose name is a drv basename; inputs come from the root.
        outside = os.path.join(self.tmp, os.path.basename(TOP))
        shutil.copy(os.path.join(FX.root + TOP), outside)
        failures, _ = self.gate_json(outside, code=1)
        self.assertEqual([f["chain"] for f in failures], [[TOP, MID, BAD]])

    def test_succeeded_and_never_built_closure_exits_0(self) -> None:
        proc = self.gate(HELLO)
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, "")
        self.assertIn("1 succeeded", proc.stderr)


class SharedClosureTest(GateCase):
    """Each drv of the closure is visited once, however many ways lead to it."""

    def test_diamond_visits_shared_drvs_once(self) -> None:
        both = hand("both")
        failures, summary = self.gate_json(both, code=1)
        # both, left, right, mid, hello, bad-leaf: mid and hello are reached twice.
        self.assertEqual(summary["drvs"], 6)
        self.assertEqual(summary["unknown"], 4)
        self.assertEqual(summary["succeeded"], 1)
        [bad] = failures
        chain = bad["chain"]
        self.assertEqual(len(chain), 4, chain)  # a shortest chain
        self.assertEqual(chain[0], both)
        self.assertIn(chain[1], (hand("left"), hand("right")))
        self.assertEqual(chain[2:], [MID, BAD])

    def test_overlapping_roots_are_counted_once(self) -> None:
        failures, summary = self.gate_json(TOP, hand("both"), MID, TOP, code=1)
        self.assertEqual(summary["drvs"], 7)  # top's 4 plus both, left, right
        # Every root is a root: the shortest chain to bad-leaf starts at mid.
        self.assertEqual([f["chain"] for f in failures], [[MID, BAD]])

    def test_unrelated_roots_add_up(self) -> None:
        _, summary = self.gate_json(TOP, MULTI_USER, WITH_SRC, code=1)
        self.assertEqual(summary["drvs"], 7)
        self.assertEqual(summary["unknown"], 5)


class ExitCodeTest(GateCase):
    """--policy, --strict, and the contract's exit codes."""

    def test_permanent_failure_exits_1_by_default_and_with_policy_fail(self) -> None:
        self.assertExit(self.gate(TOP), 1)
        self.assertExit(self.gate("--policy", "fail", TOP), 1)
        self.assertExit(self.gate("--strict", TOP), 1)

    def test_only_transient_exits_0_with_a_warning(self) -> None:
        proc = self.gate(hand("flaky-top"))
        self.assertExit(proc, 0)
        self.assertIn("warning", proc.stderr)
        self.assertIn("transient", proc.stderr)
        self.assertIn("timed-out", proc.stdout)
        self.assertIn("queued", proc.stdout)
        self.assertIn("flaky-top.drv <- slow-leaf.drv", proc.stdout)
        failures, summary = self.gate_json(hand("flaky-top"), code=0)
        self.assertEqual(sorted(f["status"] for f in failures), ["queued", "timed-out"])
        self.assertEqual({f["class"] for f in failures}, {"transient"})
        self.assertEqual((summary["transient"], summary["succeeded"], summary["unknown"]),
                         (2, 1, 1))

    def test_only_transient_with_strict_exits_4(self) -> None:
        self.assertExit(self.gate("--strict", hand("flaky-top")), 4)
        _, summary = self.gate_json("--strict", hand("flaky-top"), code=4)
        self.assertEqual(summary["transient"], 2)

    def test_permanent_wins_over_transient(self) -> None:
        for args in ((), ("--strict",)):
            with self.subTest(args=args):
                failures, summary = self.gate_json(*args, hand("mixed-top"), code=1)
                self.assertEqual((summary["permanent"], summary["transient"]), (1, 2))
                self.assertEqual(len(failures), 3)

    def test_policy_warn_reports_everything_and_exits_0(self) -> None:
        for args in (("--policy", "warn", TOP),
                     ("--policy", "warn", "--strict", hand("mixed-top"))):
            with self.subTest(args=args):
                proc = self.gate(*args)
                self.assertExit(proc, 0)
                self.assertIn("bad-leaf", proc.stdout)
        failures, summary = self.gate_json("--policy", "warn", hand("mixed-top"), code=0)
        self.assertEqual(len(failures), 3)
        self.assertEqual(summary["permanent"], 1)

    def test_policy_from_config_and_command_line_wins(self) -> None:
        self.write_config("policy = warn\n")
        self.assertExit(self.gate(TOP), 0)
        self.assertExit(self.gate("--policy", "fail", TOP), 1)

    def test_bad_policy_is_a_usage_error(self) -> None:
        proc = self.gate("--policy", "maybe", TOP)
        self.assertExit(proc, 2)
        self.assertIn("policy", proc.stderr)
        self.write_config("policy = sometimes\n")
        proc = self.gate(TOP)
        self.assertExit(proc, 2)
        self.assertIn("config", proc.stderr)

    def test_never_built_drvs_are_counted_and_do_not_change_the_exit_code(self) -> None:
        for drv in (WITH_SRC, MULTI_USER, MID):
            with self.subTest(drv=drv):
                failures, summary = self.gate_json(drv, code=1 if drv == MID else 0)
                self.assertGreaterEqual(summary["unknown"], 1)
        _, summary = self.gate_json(MULTI_USER, code=0)
        self.assertEqual((summary["drvs"], summary["unknown"]), (2, 2))

    def test_no_drv_is_a_usage_error(self) -> None:
        proc = self.gate()
        self.assertExit(proc, 2)
        self.assertIn("gate", proc.stderr)


class DrvErrorTest(GateCase):
    """A missing or malformed .drv is exit 2 naming the file."""

    def assert_names(self, proc: subprocess.CompletedProcess, text: str) -> None:
        self.assertExit(proc, 2)
        self.assertIn(text, proc.stderr)
        self.assertEqual(proc.stdout, "")

    def test_missing_root(self) -> None:
        missing = hand("not-there")
        self.assert_names(self.gate(missing), FX.root + missing)

    def test_missing_input_names_the_input_file(self) -> None:
        self.assert_names(self.gate(hand("dangling-top")), FX.root + hand("not-there"))

    def test_malformed_root_names_the_file(self) -> None:
        self.assert_names(self.gate(MALFORMED), FX.root + MALFORMED)

    def test_malformed_input_names_the_file(self) -> None:
        self.assert_names(self.gate(hand("broken-top")), FX.root + MALFORMED)

    def test_error_wins_over_a_failure_found_and_over_policy_warn(self) -> None:
        proc = self.gate(TOP, hand("dangling-top"))
        self.assertExit(proc, 2)
        self.assertIn(FX.root + hand("not-there"), proc.stderr)
        self.assertIn(self.build_url(BAD), proc.stdout)
        self.assert_names(self.gate("--policy", "warn", hand("broken-top")), MALFORMED)

    def test_missing_root_does_not_hide_the_other_roots(self) -> None:
        missing = hand("not-there")
        for args in ((missing, TOP), (TOP, missing), ("not-a-drv", TOP)):
            with self.subTest(args=args):
                proc = self.gate(*args)
                self.assertExit(proc, 2)
                self.assertIn(self.build_url(BAD), proc.stdout)
                self.assertIn("top.drv <- mid.drv <- bad-leaf.drv", proc.stdout)
                self.assertIn("hydra-status: error: ", proc.stderr)
                # The error comes last, after the summary, so that it is seen.
                self.assertIn("not", proc.stderr.splitlines()[-1])
                failures, summary = self.gate_json(*args, code=2)
                self.assertEqual([f["chain"] for f in failures], [[TOP, MID, BAD]])
                # A missing drv is still looked up (by its path) and counted.
                self.assertEqual(summary["drvs"], 4 if args[0] == "not-a-drv" else 5)

    def test_missing_drv_is_still_looked_up(self) -> None:
        # bad-leaf's file is gone, but the index knows that Hydra failed it.
        root = os.path.join(self.tmp, "root")
        shutil.copytree(FX.root, root)
        os.remove(root + BAD)
        proc = self.hs(["--json", "gate", "--store-root", root, TOP])
        self.assertExit(proc, 2)
        *failures, summary = json_lines(proc.stdout)
        self.assertEqual([(f["query"], f["status"]) for f in failures], [(BAD, "failed")])
        self.assertEqual((summary["drvs"], summary["exit"]), (4, 2))
        self.assertIn(f"{root}{BAD}: No such file or directory", proc.stderr)

    def test_truncated_drv_says_unexpected_end_of_file(self) -> None:
        proc = self.gate(MALFORMED)
        self.assertExit(proc, 2)
        string_at = MALFORMED_TEXT.rindex('"')  # the string cut short
        self.assertIn(f"{FX.root}{MALFORMED}: unexpected end of file at byte "
                      f"{len(MALFORMED_TEXT)} in the string that starts at byte {string_at}",
                      proc.stderr)

    def test_error_wins_over_missing_index(self) -> None:
        proc = self.gate(hand("dangling-top"), db=os.path.join(self.tmp, "none.sqlite"))
        self.assert_names(proc, hand("not-there"))

    def test_not_a_drv(self) -> None:
        for arg, message in (
                (f"{STORE}/{fake_hash('x')}-hello", "not a .drv (give the derivation, not an "
                                                    "output)"),
                ("hello.drv", "no such file, and not a store path"),
                ("/nix/store/short-x.drv", "not a store path (expected <32 nix32 characters>")):
            with self.subTest(arg=arg):
                self.assert_names(self.gate(arg), f"{arg}: {message}")

    def test_drv_file_with_another_name_is_gated_by_its_contents(self) -> None:
        # Copied out of the store as ./foo.drv: its path comes from its bytes
        # (Nix's text-addressed store path), so Hydra's answers still match.
        shutil.copy(FX.root + TOP, os.path.join(self.home, "foo.drv"))
        shutil.copy(FX.root + BAD, os.path.join(self.tmp, "bad-leaf.drv"))
        for arg, chain in (("foo.drv", [TOP, MID, BAD]), ("./foo.drv", [TOP, MID, BAD]),
                           (os.path.join(self.tmp, "bad-leaf.drv"), [BAD])):
            with self.subTest(arg=arg):
                failures, summary = self.gate_json(arg, code=1)
                self.assertEqual([f["chain"] for f in failures], [chain])
        proc = self.gate("foo.drv")
        self.assertIn("top.drv <- mid.drv <- bad-leaf.drv", proc.stdout)

    def test_file_with_another_name_that_is_no_drv_is_explained(self) -> None:
        notes = os.path.join(self.home, "notes.txt")
        with open(notes, "w") as f:
            f.write("not a derivation\n")
        # Structured attrs (name inside __json) and no output path: no name.
        nameless = os.path.join(self.home, "nameless.drv")
        with open(nameless, "w") as f:
            f.write('Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",[],'
                    '[("__json","{}")])')
        self.assert_names(self.gate(notes),
                          f"{notes}: expected 'Derive(' or 'DrvWithVersion(' at byte 0")
        self.assert_names(self.gate(nameless),
                          f"{nameless}: cannot tell its store path: its name is neither a "
                          "\"name\" variable nor in an output path (give the file its store "
                          "name, <hash>-<name>.drv)")


class StoreRootHintTest(GateCase):
    """A drv missing from /nix/store without --store-root: which --store-root would find it."""

    def setUp(self) -> None:
        super().setUp()
        if os.path.exists(MID) or os.path.exists(TOP):
            self.skipTest("this host's /nix/store holds the fixture drvs")

    def test_root_in_a_chroot_store_suggests_its_dir(self) -> None:
        proc = self.gate(FX.root + TOP, root=False)
        self.assertExit(proc, 2)
        self.assertIn(f"{MID}: No such file or directory (it is in {FX.root}/nix/store: "
                      f"give --store-root {FX.root})", proc.stderr)
        # The suggestion works.
        self.assertExit(self.gate(FX.root + TOP), 1)

    def test_root_in_a_chroot_store_missing_an_input_there_too(self) -> None:
        root = os.path.join(self.tmp, "root")
        shutil.copytree(FX.root, root)
        os.remove(root + MID)
        proc = self.gate(root + TOP, root=False)
        self.assertExit(proc, 2)
        self.assertIn(f"(a root is in {root}/nix/store: give --store-root {root} to read its "
                      "inputs there too)", proc.stderr)

    def test_drv_in_nix_automatic_chroot_store_suggests_it(self) -> None:
        # Nix >= 2.4 keeps its store in ~/.local/share/nix/root when /nix
        # cannot be used.
        chroot = os.path.join(self.home, ".local", "share", "nix", "root")
        shutil.copytree(FX.root, chroot)
        proc = self.gate(TOP, root=False, env={"NIX_DATA_HOME": None})
        self.assertExit(proc, 2)
        self.assertIn(f"{TOP}: No such file or directory (it is in {chroot}/nix/store: "
                      f"give --store-root {chroot})", proc.stderr)
        data = os.path.join(self.tmp, "nix-data")
        os.makedirs(data)
        os.rename(chroot, os.path.join(data, "root"))
        proc = self.gate(TOP, root=False, env={"NIX_DATA_HOME": data})
        self.assertIn(f"give --store-root {data}/root)", proc.stderr)

    def test_no_store_at_all_says_so(self) -> None:
        if os.path.exists(STORE):
            self.skipTest("this host has a /nix/store")
        proc = self.gate(TOP, root=False)
        self.assertExit(proc, 2)
        self.assertIn(f"{TOP}: No such file or directory (there is no /nix/store here: "
                      "for a store in DIR/nix/store, give --store-root DIR)", proc.stderr)

    def test_no_suggestion_with_a_store_root(self) -> None:
        proc = self.gate(hand("not-there"))
        self.assertExit(proc, 2)
        self.assertIn(f"{FX.root}{hand('not-there')}: No such file or directory\n", proc.stderr)

    def test_symlink_out_of_the_store_root_is_refused(self) -> None:
        root = os.path.join(self.tmp, "root")
        shutil.copytree(FX.root, root)
        outside = os.path.join(self.tmp, os.path.basename(BAD))
        shutil.copy(FX.root + BAD, outside)
        os.remove(root + BAD)
        os.symlink(outside, root + BAD)
        proc = self.hs(["gate", "--store-root", root, TOP])
        self.assertExit(proc, 2)
        self.assertIn(root + BAD, proc.stderr)
        self.assertIn("outside", proc.stderr)


class IndexStateTest(GateCase):
    """A missing index is 5; an index that was never synced still has local records."""

    def test_missing_index_is_5(self) -> None:
        for policy in ("fail", "warn"):
            with self.subTest(policy=policy):
                proc = self.gate("--policy", policy, TOP,
                                 db=os.path.join(self.tmp, "missing", "index.sqlite"))
                self.assertExit(proc, 5)
                self.assertIn("index", proc.stderr)

    def test_never_synced_index_warns_and_still_checks_local_failures(self) -> None:
        fresh = os.path.join(self.tmp, "fresh.sqlite")
        self.record(BAD, "--reason", "broke here", db=fresh)
        proc = self.gate(TOP, db=fresh)
        self.assertExit(proc, 1)
        self.assertIn("never synced", proc.stderr)
        self.assertIn("warning", proc.stderr)
        self.assertIn("local failure", proc.stdout)
        self.assertIn("top.drv <- mid.drv <- bad-leaf.drv", proc.stdout)
        failures, summary = self.gate_json(TOP, code=1, db=fresh)
        [bad] = failures
        self.assertEqual((bad["source"], bad["chain"]), ("local", [TOP, MID, BAD]))
        self.assertNotIn("hydra", bad)
        self.assertEqual((summary["permanent"], summary["unknown"]), (1, 3))

    def test_never_synced_index_without_local_failure_is_5(self) -> None:
        # Contract: 5 = "never synced". A never-synced index that finds nothing
        # must not pass as "checked and clean" (nix-build-gated reports 5 as
        # "no usable index"); --policy warn still exits 0.
        fresh = os.path.join(self.tmp, "fresh.sqlite")
        self.record(HELLO, db=fresh)
        proc = self.gate(WITH_SRC, db=fresh)
        self.assertExit(proc, 5)
        self.assertIn("never synced", proc.stderr)
        self.assertExit(self.gate("--policy", "warn", WITH_SRC, db=fresh), 0)


class DryRunTest(GateCase):
    """--from-dry-run: exactly the drvs that will be built, no drv file read."""

    def dry(self, name: str) -> str:
        return os.path.join(DRYRUN, name)

    def test_file_with_every_drv_to_build(self) -> None:
        failures, summary = self.gate_json("--from-dry-run",
                                           self.dry("real-nix-build-top-nothing-built.txt"), code=1)
        self.assertEqual([(f["query"], f["chain"]) for f in failures], [(BAD, [BAD])])
        self.assertEqual(summary, {"summary": True, "drvs": 4, "permanent": 1, "transient": 0,
                                   "succeeded": 1, "unknown": 2, "exit": 1})

    def test_stdin_and_no_store_root_needed(self) -> None:
        with open(self.dry("real-nix-store-top-hello-built.txt")) as f:
            text = f.read()
        proc = self.hs(["--json", "gate", "--from-dry-run", "-"], input=text)
        self.assertExit(proc, 1)
        *failures, summary = json_lines(proc.stdout)
        self.assertEqual([f["query"] for f in failures], [BAD])
        self.assertEqual((summary["drvs"], summary["succeeded"]), (3, 0))
        proc = self.hs(["gate", "--from-dry-run", "-"], input=text)
        self.assertExit(proc, 1)
        self.assertIn(self.build_url(BAD), proc.stdout)

    def test_fetched_paths_are_not_checked(self) -> None:
        _, summary = self.gate_json("--from-dry-run",
                                    self.dry("real-nix-build-top-fetch-one.txt"), code=1)
        self.assertEqual((summary["drvs"], summary["succeeded"]), (3, 0))
        _, summary = self.gate_json("--from-dry-run",
                                    self.dry("real-nix-build-hello-fetch-only.txt"), code=0)
        self.assertEqual(summary["drvs"], 0)

    def test_nothing_to_build(self) -> None:
        # Honest reports that list nothing to build: only fetched paths, only
        # paths Nix cannot build.
        for name in ("real-nix-build-hello-fetch-only.txt", "real-nix-store-unknown-path.txt"):
            with self.subTest(name=name):
                _, summary = self.gate_json("--from-dry-run", self.dry(name), code=0)
                self.assertEqual(summary["drvs"], 0)

    def test_text_without_a_report_passes_nothing(self) -> None:
        # The report went to stderr (stdin empty), Nix failed, the text is
        # garbage or verbose: exit 2 naming the first bad line, nothing on stdout.
        with open(self.dry("real-nix-build-top-verbose.txt")) as f:
            verbose = f.read()
        cases = (
            ("", "dry-run output (stdin) is empty: Nix prints its dry-run report on stderr"),
            ("warning: you did not specify '--add-root'\n",
             "dry-run output (stdin) has no list of what will be built or fetched"),
            ("Hello, world!\n", "dry-run output (stdin) line 1: 'Hello, world!' is not part "
                                "of a Nix dry-run report"),
            (DRY_TOP + "error: attribute 'x' missing\n",
             "line 5: Nix reported an error: 'error: attribute 'x' missing'"),
            (DRY_TOP.replace("3 derivations", "4 derivations"),
             "line 1: 'these 4 derivations will be built:' is followed by 3 paths"),
            (verbose, "line 1: 'instantiated 'hello' -> "),
        )
        for text, message in cases:
            for json in ((), ("--json",)):
                with self.subTest(text=text[:30], json=json):
                    proc = self.hs([*json, "gate", "--from-dry-run", "-"], input=text)
                    self.assertExit(proc, 2)
                    self.assertIn(message, proc.stderr)
                    self.assertEqual(proc.stdout, "")
        proc = self.gate("--from-dry-run", self.dry("real-nix-build-missing-attribute.txt"))
        self.assertExit(proc, 2)
        self.assertIn("real-nix-build-missing-attribute.txt' line 1: Nix reported an error",
                      proc.stderr)

    def test_messages_around_the_report_are_skipped(self) -> None:
        for name, drvs in (("real-nix-build-top-trace.txt", 4),
                           ("hand-messages-around-list.txt", 2)):
            with self.subTest(name=name):
                _, summary = self.gate_json("--from-dry-run", self.dry(name), code=1)
                self.assertEqual(summary["drvs"], drvs)

    def test_generated_dry_run_with_transient_failures(self) -> None:
        text = ("these 3 derivations will be built:\n"
                f"  {hand('slow-leaf')}\n  {hand('queued-leaf')}\n  {hand('flaky-top')}\n")
        for args, code in (((), 0), (("--strict",), 4)):
            with self.subTest(args=args):
                proc = self.hs(["--json", "gate", *args, "--from-dry-run", "-"], input=text)
                self.assertExit(proc, code)
                *failures, summary = json_lines(proc.stdout)
                self.assertEqual(len(failures), 2)
                self.assertEqual(summary["transient"], 2)

    def test_malformed_dry_run_is_a_usage_error(self) -> None:
        proc = self.gate("--from-dry-run", self.dry("bad-not-drv.txt"))
        self.assertExit(proc, 2)
        self.assertIn("line", proc.stderr)
        proc = self.gate("--from-dry-run", os.path.join(self.tmp, "no-such-file"))
        self.assertExit(proc, 2)
        self.assertIn("no-such-file", proc.stderr)

    def test_dry_run_and_drv_arguments_check_each_drv_once(self) -> None:
        failures, summary = self.gate_json(
            "--from-dry-run", self.dry("real-nix-build-top-nothing-built.txt"), TOP, code=1)
        self.assertEqual(summary["drvs"], 4)
        self.assertEqual([f["query"] for f in failures], [BAD])
        failures, summary = self.gate_json(
            "--from-dry-run", self.dry("real-nix-store-one-derivation.txt"), hand("flaky-top"),
            code=1)
        self.assertEqual(summary["drvs"], 5)  # bad-leaf, then flaky-top's four
        self.assertEqual(len(failures), 3)


class LocalFailureTest(GateCase):
    """record / forget and how gate and lookup report local failures."""

    def lookup_json(self, drv: str, *args: str, code: int) -> dict:
        proc = self.hs(["--json", "lookup", *args, drv])
        self.assertExit(proc, code)
        [answer] = json_lines(proc.stdout)
        return answer

    def test_local_failure_of_a_drv_hydra_built_fine_shows_both(self) -> None:
        log = os.path.join(self.tmp, "hello.log")
        with open(log, "w") as f:
            f.write("builder failed\n")
        self.record(HELLO, "--log", log, "--reason", "out of luck")
        failures, summary = self.gate_json(TOP, code=1)
        by_query = {f["query"]: f for f in failures}
        self.assertEqual(set(by_query), {BAD, HELLO})
        hello = by_query[HELLO]
        self.assertEqual((hello["source"], hello["status"], hello["class"]),
                         ("local", "failed", "permanent"))
        self.assertEqual(hello["chain"], [TOP, MID, HELLO])
        self.assertEqual(hello["reason"], "out of luck")
        self.assertEqual(hello["log"], log)
        self.assertEqual(hello["count"], 1)
        self.assertEqual(hello["hydra"]["source"], "hydra")
        self.assertEqual(hello["hydra"]["status"], "succeeded")
        self.assertEqual(hello["hydra"]["build_url"], self.build_url(HELLO))
        self.assertEqual(by_query[BAD]["source"], "hydra")
        self.assertEqual((summary["permanent"], summary["succeeded"]), (2, 0))
        answer = self.lookup_json(HELLO, code=1)
        self.assertEqual((answer["source"], answer["status"]), ("local", "failed"))
        self.assertEqual(answer["hydra"]["status"], "succeeded")
        for field in REQUIRED_FIELDS:
            self.assertIn(field, answer)
            self.assertIn(field, answer["hydra"])
        proc = self.gate(HELLO)
        self.assertExit(proc, 1)
        [block] = human_blocks(proc.stdout)
        self.assertRegex(block[0], r"^✗ failed +hello +local failure +just now$")
        details = human_details(block)
        self.assertEqual(details["reason"], "out of luck")
        self.assertRegex(details["hydra"], rf"^✓ succeeded  {JOBSET}  just now$")
        self.assertEqual(details["chain"], "hello.drv")

    def test_local_and_hydra_failure(self) -> None:
        self.record(BAD)
        failures, _ = self.gate_json(TOP, code=1)
        [bad] = failures
        self.assertEqual(bad["source"], "local")
        self.assertEqual(bad["hydra"]["status"], "failed")
        self.assertEqual(bad["hydra"]["build_id"], FX.ids[BAD])
        answer = self.lookup_json(BAD, code=1)
        self.assertEqual((answer["source"], answer["hydra"]["source"]), ("local", "hydra"))

    def test_local_failure_of_a_drv_hydra_never_built(self) -> None:
        self.record(MID)
        failures, summary = self.gate_json(TOP, code=1)
        mid = next(f for f in failures if f["query"] == MID)
        self.assertEqual((mid["source"], mid["chain"]), ("local", [TOP, MID]))
        self.assertNotIn("hydra", mid)
        self.assertEqual((summary["permanent"], summary["unknown"]), (2, 1))
        self.assertNotIn("hydra", self.lookup_json(MID, code=1))

    def test_local_failure_blocks_a_transient_closure(self) -> None:
        self.assertExit(self.gate(hand("flaky-top")), 0)
        self.record(hand("slow-leaf"))
        self.assertExit(self.gate(hand("flaky-top")), 1)

    def test_record_again_counts_and_keeps_first_time(self) -> None:
        self.record(HELLO, "--reason", "first")
        self.age_local(HELLO, 3600)
        self.record(HELLO, "--reason", "second")
        answer = self.lookup_json(HELLO, code=1)
        self.assertEqual(answer["count"], 2)
        self.assertEqual(answer["reason"], "second")
        self.assertLess(answer["first_at"], answer["last_at"])
        self.assertLess(abs(answer["last_at"] - time.time()), 60)

    def test_record_basename_and_relative_log(self) -> None:
        with open(os.path.join(self.home, "build.log"), "w") as f:
            f.write("builder failed\n")
        self.assertExit(self.hs(["record", "--failed", os.path.basename(HELLO),
                                 "--log", "build.log"]), 0)
        answer = self.lookup_json(HELLO, code=1)
        self.assertEqual(answer["source"], "local")
        self.assertEqual(answer["log"], os.path.join(self.home, "build.log"))

    def test_record_usage_errors(self) -> None:
        for args in (["record"], ["record", "--failed", "not-a-path"],
                     ["record", "--failed", f"{STORE}/{fake_hash('o')}-hello"],
                     ["record", "--failed", HELLO, "extra"]):
            with self.subTest(args=args):
                self.assertExit(self.hs(args), 2)
        self.assertExit(self.gate(HELLO), 0)

    def test_expiry_default_seven_days(self) -> None:
        self.record(HELLO)
        self.age_local(HELLO, 6 * DAY)
        self.assertExit(self.gate(HELLO), 1)
        self.age_local(HELLO, 8 * DAY)
        self.assertExit(self.gate(HELLO), 0)
        self.assertEqual(self.lookup_json(HELLO, code=0)["source"], "hydra")

    def test_expiry_by_local_ttl_option(self) -> None:
        self.record(HELLO)
        self.age_local(HELLO, 2 * 3600)
        for ttl, code in (("1h", 0), ("3h", 1), ("90m", 0), ("7100", 0), ("7300s", 1)):
            with self.subTest(ttl=ttl):
                self.assertExit(self.gate("--local-ttl", ttl, HELLO), code)
                self.lookup_json(HELLO, "--local-ttl", ttl, code=code)

    def test_expiry_by_config_and_option_wins(self) -> None:
        self.record(HELLO)
        self.age_local(HELLO, 10 * DAY)
        self.assertExit(self.gate(HELLO), 0)
        self.write_config("local-ttl = 30d\n")
        self.assertExit(self.gate(HELLO), 1)
        self.assertEqual(self.lookup_json(HELLO, code=1)["source"], "local")
        self.assertExit(self.gate("--local-ttl", "1d", HELLO), 0)

    def test_bad_local_ttl_is_a_usage_error(self) -> None:
        proc = self.gate("--local-ttl", "soon", HELLO)
        self.assertExit(proc, 2)
        self.assertIn("local-ttl", proc.stderr)

    def test_forget_one(self) -> None:
        self.record(HELLO)
        self.record(BAD)
        proc = self.hs(["forget", HELLO])
        self.assertExit(proc, 0)
        self.assertExit(self.gate(HELLO), 0)
        failures, _ = self.gate_json(TOP, code=1)
        self.assertEqual([(f["query"], f["source"]) for f in failures], [(BAD, "local")])
        # Hydra's failure is still there once the local record is gone.
        self.assertExit(self.hs(["forget", os.path.basename(BAD)]), 0)
        failures, _ = self.gate_json(TOP, code=1)
        self.assertEqual([(f["query"], f["source"]) for f in failures], [(BAD, "hydra")])

    def test_forget_all(self) -> None:
        for drv in (HELLO, MID, hand("slow-leaf")):
            self.record(drv)
        self.assertExit(self.gate(hand("flaky-top")), 1)
        proc = self.hs(["forget", "--all"])
        self.assertExit(proc, 0)
        self.assertIn("3", proc.stderr)
        self.assertExit(self.gate(hand("flaky-top")), 0)
        _, summary = self.gate_json(TOP, code=1)
        self.assertEqual(summary["permanent"], 1)
        self.assertExit(self.hs(["forget", "--all"]), 0)

    def test_forget_without_a_record_warns(self) -> None:
        proc = self.hs(["forget", HELLO])
        self.assertExit(proc, 0)
        self.assertIn("no local failure record", proc.stderr)

    def test_forget_usage_errors(self) -> None:
        for args in (["forget"], ["forget", "bogus"], ["forget", f"{STORE}/{fake_hash('o')}-x"]):
            with self.subTest(args=args):
                self.assertExit(self.hs(args), 2)

    def test_record_and_forget_on_missing_index_directory(self) -> None:
        db = os.path.join(self.tmp, "no", "such", "dir", "index.sqlite")
        self.assertExit(self.hs(["record", "--failed", HELLO], db=db), 5)
        self.assertExit(self.hs(["forget", HELLO], db=db), 5)

    def test_hydra_resync_does_not_overwrite_a_local_record(self) -> None:
        self.record(BAD, "--reason", "mine")
        sync(self.db)
        answer = self.lookup_json(BAD, code=1)
        self.assertEqual((answer["source"], answer["reason"]), ("local", "mine"))
        self.assertEqual(answer["hydra"]["status"], "failed")


# --------------------------------------------------------------------------
# contrib/nix-build-gated with a stub nix-build: the message formats of Nix
# versions other than the installed one, and the wrapper's plumbing.

WRAPPER = os.path.join(hs_testlib.SOURCE_DIR, "contrib", "nix-build-gated")
STUB_NIX_BUILD = """#!/bin/sh
# Stub nix-build: the dry run prints $STUB/dry-run on stderr; a build prints
# $STUB/stdout and $STUB/stderr and exits with $STUB/rc. Every call is logged.
printf '%s\\n' "$*" >>"$STUB/calls"
for arg do
    if [ "$arg" = --dry-run ]; then
        cat "$STUB/dry-run" >&2
        exit "$(cat "$STUB/dry-rc" 2>/dev/null || echo 0)"
    fi
done
cat "$STUB/stdout"
cat "$STUB/stderr" >&2
exit "$(cat "$STUB/rc")"
"""
DRY_TOP = f"these 3 derivations will be built:\n  {BAD}\n  {MID}\n  {TOP}\n"
DRY_HELLO = f"this derivation will be built:\n  {HELLO}\n"


class WrapperStubTest(GateCase):

    def setUp(self) -> None:
        super().setUp()
        self.stub = os.path.join(self.tmp, "stub")
        bin_dir = os.path.join(self.stub, "bin")
        os.makedirs(bin_dir)
        path = os.path.join(bin_dir, "nix-build")
        with open(path, "w") as f:
            f.write(STUB_NIX_BUILD)
        os.chmod(path, 0o755)
        self.bin_dir = bin_dir

    def wrapper(self, *args: str, dry_run: str = DRY_TOP, stderr: str = "", rc: int = 100,
                stdout: str = "", db: str | None = None, dry_rc: int = 0,
                ) -> subprocess.CompletedProcess:
        for name, text in (("dry-run", dry_run), ("stderr", stderr), ("stdout", stdout),
                           ("rc", str(rc)), ("dry-rc", str(dry_rc))):
            with open(os.path.join(self.stub, name), "w") as f:
                f.write(text)
        env = hs_testlib.hs_env(self.home, {
            "PATH": self.bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "STUB": self.stub, "HYDRA_STATUS": HS_BIN, "HYDRA_STATUS_DB": db or self.db})
        return subprocess.run([WRAPPER, *args], capture_output=True, text=True, timeout=30,
                              env=env, cwd=self.home, stdin=subprocess.DEVNULL)

    def calls(self) -> list[str]:
        with open(os.path.join(self.stub, "calls")) as f:
            return f.read().splitlines()

    def recorded(self) -> dict[str, dict]:
        """drv -> local answer, for the drvs of top's closure that have a local record."""
        proc = self.hs(["--json", "lookup", TOP, MID, HELLO, BAD])
        return {a["query"]: a for a in json_lines(proc.stdout) if a["source"] == "local"}

    def test_refused_without_building(self) -> None:
        proc = self.wrapper("-A", "top")
        self.assertExit(proc, 1)
        self.assertIn(self.build_url(BAD), proc.stderr)
        self.assertIn("not building", proc.stderr)
        self.assertEqual(self.calls(), ["--dry-run -A top"])

    def test_dry_run_drops_quiet_and_log_format_but_the_build_keeps_them(self) -> None:
        args = ("--quiet", "-A", "hello", "--log-format", "internal-json", "--no-out-link")
        proc = self.wrapper(*args, dry_run=DRY_HELLO, rc=0, stdout="/nix/store/x-hello\n")
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, "/nix/store/x-hello\n")
        self.assertEqual(self.calls(), ["--dry-run -A hello --no-out-link", " ".join(args)])

    def test_dry_run_drops_verbose_flags(self) -> None:
        args = ("-vv", "-A", "hello", "--verbose", "-v")
        proc = self.wrapper(*args, dry_run=DRY_HELLO, rc=0)
        self.assertExit(proc, 0)
        self.assertEqual(self.calls(), ["--dry-run -A hello", " ".join(args)])

    def test_nothing_to_build_or_fetch_builds_without_the_gate(self) -> None:
        # Nix prints no report then (perhaps a warning): the gate would refuse
        # the text, but the wrapper made the dry run itself.
        for dry_run in ("", "warning: Nix search path entry '/x' does not exist, ignoring\n"):
            with self.subTest(dry_run=dry_run):
                calls = os.path.join(self.stub, "calls")
                if os.path.exists(calls):
                    os.remove(calls)
                proc = self.wrapper("-A", "hello", dry_run=dry_run, rc=0,
                                    stdout="/nix/store/x-hello\n")
                self.assertExit(proc, 0)
                self.assertEqual(proc.stdout, "/nix/store/x-hello\n")
                self.assertEqual(len(self.calls()), 2)

    def test_force_option_and_environment_skip_the_dry_run(self) -> None:
        self.assertExit(self.wrapper("-A", "top", "--force", rc=0), 0)
        self.assertEqual(self.calls(), ["-A top"])

    def test_nix_2_29_cannot_build_format(self) -> None:
        stderr = (f"error: Cannot build '{BAD}'.\n"
                  "       Reason: builder failed with exit code 2.\n"
                  "       Output paths:\n         /nix/store/x-bad-leaf\n"
                  "       Last 10 log lines:\n       > about to fail\n"
                  f"error: Cannot build '{MID}'.\n"
                  "       Reason: 1 dependency failed.\n"
                  "       Output paths:\n         /nix/store/x-mid\n")
        proc = self.wrapper("--force", stderr=stderr, rc=1)
        self.assertExit(proc, 1)
        got = self.recorded()
        self.assertEqual(set(got), {BAD})
        self.assertEqual(got[BAD]["reason"], "builder failed with exit code 2 (nix-build-gated)")
        with open(got[BAD]["log"]) as f:
            self.assertIn("about to fail", f.read())

    def test_nix_2_3_format_without_error_prefix(self) -> None:
        stderr = (f"builder for '{BAD}' failed with exit code 1\n"
                  f"cannot build derivation '{MID}': 1 dependencies couldn't be built\n"
                  f"error: build of '{TOP}' failed\n")
        self.assertExit(self.wrapper("--force", stderr=stderr), 100)
        self.assertEqual(set(self.recorded()), {BAD})

    def test_colour_codes_and_internal_json(self) -> None:
        for stderr in (
                f"\x1b[31;1merror:\x1b[0m builder for '\x1b[35;1m{BAD}\x1b[0m' failed with "
                "exit code 1\n",
                '@nix {"action":"msg","level":0,"msg":"\\u001b[31;1merror:\\u001b[0m builder '
                f"for '\\u001b[35;1m{BAD}\\u001b[0m' failed with exit code 1;\\n       last 1 "
                'log lines:\\n       > about to fail"}\n'):
            with self.subTest(stderr=stderr):
                self.assertExit(self.hs(["forget", "--all"]), 0)
                proc = self.wrapper("--force", stderr=stderr)
                self.assertExit(proc, 100)
                self.assertIn(f"recorded the failure of {BAD}", proc.stderr)
                self.assertEqual(set(self.recorded()), {BAD})

    def test_transient_failures_are_not_recorded(self) -> None:
        for stderr, rc in (
                (f"error: building of '{BAD}!out' from .drv file timed out after 1 seconds\n", 101),
                (f"error: builder for '{BAD}' failed due to signal 9 (Killed)\n", 100),
                (f"cc1: out of memory\nerror: builder for '{BAD}' failed with exit code 1\n", 100),
                (f"curl: (6) Could not resolve host: example.org\n"
                 f"error: builder for '{BAD}' failed with exit code 1\n", 100),
                (f"error: 1 dependencies of derivation '{MID}' failed to build\n", 100)):
            with self.subTest(stderr=stderr):
                proc = self.wrapper("--force", stderr=stderr, rc=rc)
                self.assertExit(proc, rc)
                self.assertEqual(self.recorded(), {})

    def test_gate_usage_error_stops_before_building(self) -> None:
        proc = self.wrapper(dry_run=f"these 1 derivations will be built:\n  {TOP} x\n")
        self.assertExit(proc, 2)
        self.assertEqual(len(self.calls()), 1)

    def test_failed_dry_run_stops_before_building(self) -> None:
        proc = self.wrapper("-A", "nope", dry_run="error: attribute 'nope' missing\n", dry_rc=1)
        self.assertExit(proc, 1)
        self.assertIn("attribute 'nope' missing", proc.stderr)
        self.assertEqual(len(self.calls()), 1)

    def test_missing_index_builds_without_the_gate(self) -> None:
        missing = os.path.join(self.tmp, "none", "index.sqlite")
        proc = self.wrapper(db=missing, rc=0)
        self.assertExit(proc, 0)
        self.assertIn("no usable index", proc.stderr)
        self.assertEqual(len(self.calls()), 2)

if __name__ == "__main__":
    unittest.main()
