"""Integration tests of `hydra-status lookup` (spec/cli.md: Invocation, lookup,
Status words, JSON Lines, Human output, Exit codes), the real binary against
indexes synced from the fake Hydra.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_lookup
"""

from __future__ import annotations

import os
import pty
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import hs_testlib
from hs_testlib import (DEMO_DATASET, FakeHydra, HsTestCase, human_blocks, human_details,
                        closed_port_url, human_rows, json_lines, make_dataset, run_hs)

HS_BIN = hs_testlib.skip_unless_binary()

JOBSETS = ("nixpkgs:trunk", "nixpkgs:staging", "nixpkgs:empty")

# The contract's status table (spec/cli.md "Status words"), written out here
# so that a broken row fails even if the dataset's expectations drift.
STATUS_TABLE = {
    0: ("succeeded", "good"),
    1: ("failed", "permanent"),
    2: ("dependency-failed", "permanent"),
    3: ("aborted", "transient"),
    4: ("cancelled", "transient"),
    5: ("failed", "permanent"),
    6: ("failed-with-output", "permanent"),
    7: ("timed-out", "transient"),
    8: ("cached-failure", "permanent"),
    9: ("unsupported-system", "transient"),
    10: ("log-limit-exceeded", "transient"),
    11: ("output-limit-exceeded", "transient"),
    12: ("non-deterministic", "transient"),
}
OTHER_CODE = ("failed", "permanent")
QUEUED = ("queued", "transient")
UNKNOWN = ("unknown", "unknown")

# Exit code of a single key by class (spec/cli.md "Exit codes").
EXIT_OF_CLASS = {"good": 0, "permanent": 1, "transient": 4, "unknown": 3}

REQUIRED_FIELDS = ("query", "status", "class", "drv_path", "build_id", "build_url", "log_url",
                   "raw_log_url", "job", "jobset", "system", "stoptime", "buildstatus", "source",
                   "synced_at")
NULL_WHEN_UNKNOWN = ("drv_path", "build_id", "build_url", "log_url", "raw_log_url", "job",
                     "jobset", "system", "stoptime", "buildstatus", "synced_at")

HASH = "p608vc291xc2mjhff4jjp675jisz40ij"  # a valid hash for malformed-key variants


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def hash_of(path: str) -> str:
    return basename(path)[:32]


def drv_name(drv: str) -> str:
    """'/nix/store/<hash>-hello-2.12.1.drv' -> 'hello-2.12.1'."""
    return basename(drv)[33:].removesuffix(".drv")


def contract_status(build: dict) -> tuple[str, str]:
    """(word, class) for a raw Hydra build object, from STATUS_TABLE."""
    if not build["finished"]:
        return QUEUED
    return STATUS_TABLE.get(build["buildstatus"], OTHER_CODE)


# --------------------------------------------------------------------------
# Shared fixture: one fake Hydra and four indexes synced from it.


class Fixture:
    hydra: FakeHydra
    tmp: str
    dbs: dict[str, str]           # name -> index path
    phase_of: dict[str, int]      # name -> dataset phase it was last synced at
    window: dict[str, tuple[int, int]]  # name -> (before, after) of its last sync


FX = Fixture()


def sync(db: str, *extra: str) -> tuple[int, int]:
    before = int(time.time())
    args = ["--url", FX.hydra.url, "sync", "--min-interval", "0"]
    for js in JOBSETS:
        args += ["--jobset", js]
    proc = run_hs(args + list(extra), db=db)
    after = int(time.time()) + 1
    if proc.returncode != 0:
        raise RuntimeError(f"sync failed ({proc.returncode}): {proc.stderr}")
    return before, after


def setUpModule() -> None:  # noqa: N802
    FX.tmp = tempfile.mkdtemp(prefix="hs-test-lookup-")
    FX.hydra = FakeHydra(DEMO_DATASET).start()
    FX.dbs = {name: os.path.join(FX.tmp, name, "index.sqlite")
              for name in ("p1_newest", "p1_all", "p2_newest", "p2_all")}
    for path in FX.dbs.values():
        os.makedirs(os.path.dirname(path))
    FX.window = {}
    FX.phase_of = {}
    # Phase 1: only the newest eval of each jobset (default --max-evals 1), or every eval.
    for name, extra in (("p1_newest", ()), ("p1_all", ("--max-evals", "100")),
                        ("p2_newest", ()), ("p2_all", ("--max-evals", "100"))):
        FX.window[name] = sync(FX.dbs[name], *extra)
        FX.phase_of[name] = 1
    # Phase 2, with re-checks due (the restarted perl build shows only after one).
    FX.hydra.set_phase(2)
    for name in ("p2_newest", "p2_all"):
        FX.window[name] = sync(FX.dbs[name], "--recheck-interval", "0")
        FX.phase_of[name] = 2


def tearDownModule() -> None:  # noqa: N802
    FX.hydra.stop()
    shutil.rmtree(FX.tmp, ignore_errors=True)


class LookupCase(HsTestCase):
    """HsTestCase with helpers for the shared indexes."""

    def lookup(self, db_name: str, args: list[str], **kw) -> subprocess.CompletedProcess:
        return self.hs(args, db=FX.dbs[db_name], **kw)

    def lookup_json(self, db_name: str, keys: list[str], *extra: str,
                    code: int | None = None) -> list[dict]:
        proc = self.lookup(db_name, ["--json", "lookup", *extra, *keys])
        if code is not None:
            self.assertExit(proc, code)
        return json_lines(proc.stdout)

    def assert_answer(self, got: dict, query: str, exp: dict, db_name: str) -> None:
        """got matches the dataset expectation exp (hs_testlib.FakeHydra.expected)."""
        url = FX.hydra.url
        for field in REQUIRED_FIELDS:
            self.assertIn(field, got, f"field {field} missing in {got}")
        self.assertEqual(got["query"], query)
        self.assertEqual(got["status"], exp["status"])
        self.assertEqual(got["class"], exp["class"])
        self.assertEqual(got["source"], "hydra")
        for field in ("build_id", "job", "jobset", "system", "stoptime", "buildstatus"):
            self.assertEqual(got[field], exp[field], f"{field} of {query}")
        if exp["status"] == "unknown":
            for field in NULL_WHEN_UNKNOWN:
                self.assertIsNone(got[field], f"{field} of unknown {query}")
            return
        drv = exp["drv"]
        self.assertEqual(got["drv_path"], drv)
        self.assertEqual(got["build_url"], f"{url}/build/{exp['build_id']}")
        self.assertEqual(got["log_url"], f"{url}/build/{exp['build_id']}/log")
        self.assertEqual(got["raw_log_url"], f"{url}/log/{basename(drv)}")
        self.assertRegex(got["jobset"], r"^[^:]+:[^:]+$")
        if exp["status"] == "queued":
            self.assertIsNone(got["buildstatus"])
        before, after = FX.window[db_name]
        self.assertIsInstance(got["synced_at"], int)
        self.assertTrue(before - 1 <= got["synced_at"] <= after + 1,
                        f"synced_at {got['synced_at']} not within the sync ({before}..{after})")
        self.assertLess(abs(got["synced_at"] - time.time()), 600)


# --------------------------------------------------------------------------


class ExpectTest(LookupCase):
    """Every `expect` situation of the demo dataset, phase 1 and phase 2."""

    def check_all_expectations(self, db_name: str) -> None:
        phase = FX.phase_of[db_name]
        names = sorted(FX.hydra.expect)
        keys = [FX.hydra.expect[n]["key"] for n in names]
        answers = self.lookup_json(db_name, keys, code=1)
        self.assertEqual(len(answers), len(keys), "one JSON object per key")
        for name, key, got in zip(names, keys, answers):
            with self.subTest(db=db_name, key=name):
                self.assert_answer(got, key, FX.hydra.expected(name, phase), db_name)

    def test_phase1_newest_evals_only(self) -> None:
        self.check_all_expectations("p1_newest")

    def test_phase1_every_eval(self) -> None:
        self.check_all_expectations("p1_all")

    def test_phase2_after_resync_newest(self) -> None:
        self.check_all_expectations("p2_newest")

    def test_phase2_after_resync_every_eval(self) -> None:
        self.check_all_expectations("p2_all")

    def test_each_key_alone_exits_by_its_class(self) -> None:
        for db_name in ("p1_newest", "p2_newest"):
            phase = FX.phase_of[db_name]
            for name in sorted(FX.hydra.expect):
                exp = FX.hydra.expected(name, phase)
                with self.subTest(db=db_name, key=name):
                    proc = self.lookup(db_name, ["--json", exp["key"]])
                    self.assertExit(proc, EXIT_OF_CLASS[exp["class"]])
                    [got] = json_lines(proc.stdout)
                    self.assert_answer(got, exp["key"], exp, db_name)
                    self.assertEqual(proc.stderr, "")


class UrlsTest(LookupCase):
    """The printed URLs lead to the build, its log page and its plain-text log."""

    def get(self, url: str) -> tuple[int, str, str]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=10) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()

    def test_urls_work_on_the_fake(self) -> None:
        keys = [FX.hydra.expect[n]["key"] for n in ("log_available", "log_missing")]
        available, missing = self.lookup_json("p1_newest", keys, code=1)
        self.assertTrue(FX.hydra.expect["log_available"]["log"])
        self.assertFalse(FX.hydra.expect["log_missing"]["log"])
        status, ctype, body = self.get(available["raw_log_url"])
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertIn(drv_name(available["drv_path"]), body)
        self.assertEqual(self.get(missing["raw_log_url"])[0], 404)
        for answer in (available, missing):
            self.assertEqual(self.get(answer["build_url"])[0], 200)
            self.assertEqual(self.get(answer["log_url"])[0], 200)


class StatusTableTest(LookupCase):
    """Every row of the status table, checked against the contract's own table
    (not only against the dataset's expectations)."""

    def answers_by_build(self, db_name: str) -> dict[int, tuple[dict, dict]]:
        """build id -> (raw dataset build, answer) for every expect key that has a build."""
        phase = FX.phase_of[db_name]
        builds = FX.hydra.dataset["phases"][str(phase)]["builds"]
        names = sorted(FX.hydra.expect)
        answers = self.lookup_json(db_name, [FX.hydra.expect[n]["key"] for n in names])
        out = {}
        for got in answers:
            if got["build_id"] is not None:
                out[got["build_id"]] = (builds[str(got["build_id"])], got)
        return out

    def test_every_row_is_covered_and_right(self) -> None:
        seen_codes: set = set()
        seen_queued_stale = False
        seen_queued_null = False
        for db_name in ("p1_newest", "p2_newest"):
            for build_id, (raw, got) in self.answers_by_build(db_name).items():
                with self.subTest(db=db_name, build=build_id):
                    word, cls = contract_status(raw)
                    self.assertEqual((got["status"], got["class"]), (word, cls))
                    if raw["finished"]:
                        # The raw code is kept, also for 5 and unknown codes.
                        self.assertEqual(got["buildstatus"], raw["buildstatus"])
                        self.assertEqual(got["stoptime"], raw["stoptime"])
                        seen_codes.add(raw["buildstatus"] if raw["buildstatus"] in STATUS_TABLE
                                       else "other")
                    else:
                        self.assertIsNone(got["buildstatus"], "queued: buildstatus is null")
                        if raw["buildstatus"] is None:
                            seen_queued_null = True
                        else:
                            seen_queued_stale = True
        # The test is only worth something if the dataset has every row.
        self.assertEqual(seen_codes, set(STATUS_TABLE) | {"other"})
        self.assertTrue(seen_queued_null, "no never-finished build seen")
        self.assertTrue(seen_queued_stale, "no restarted build (finished 0, stale code) seen")

    def test_unknown_row(self) -> None:
        key = FX.hydra.expect["not_in_index"]["key"]
        proc = self.lookup("p1_all", ["--json", "lookup", key])
        self.assertExit(proc, 3)
        [got] = json_lines(proc.stdout)
        self.assertEqual((got["status"], got["class"]), UNKNOWN)
        self.assertEqual(got["query"], key)
        self.assertEqual(got["source"], "hydra")
        for field in NULL_WHEN_UNKNOWN:
            self.assertIsNone(got[field], field)


class DecidingBuildTest(LookupCase):
    """The latest finished build (stoptime, then id) across jobsets decides."""

    def test_latest_stoptime_wins_across_jobsets(self) -> None:
        builds = FX.hydra.dataset["phases"]["1"]["builds"]
        for name, winner_jobset in (("two_jobsets", "nixpkgs:staging"),
                                    ("two_jobsets_lower_id_wins", "nixpkgs:trunk")):
            exp = FX.hydra.expected(name)
            mine = [b for b in builds.values() if b["drvpath"] == exp["drv"]]
            self.assertGreaterEqual(len({b["jobset"] for b in mine}), 2, "dataset: two jobsets")
            best = max((b for b in mine if b["finished"]), key=lambda b: (b["stoptime"], b["id"]))
            for db_name in ("p1_newest", "p1_all"):
                with self.subTest(key=name, db=db_name):
                    [got] = self.lookup_json(db_name, [exp["key"]], code=0)
                    self.assertEqual(got["build_id"], best["id"])
                    self.assertEqual(got["jobset"], winner_jobset)
                    self.assertEqual(got["status"], "succeeded")

    def test_higher_id_with_earlier_stoptime_loses(self) -> None:
        exp = FX.hydra.expected("two_jobsets_lower_id_wins")
        rows = self.lookup_json("p1_all", [exp["key"]], "--all", code=0)
        self.assertEqual(len(rows), 2)
        self.assertLess(rows[0]["build_id"], rows[1]["build_id"])
        self.assertGreater(rows[0]["stoptime"], rows[1]["stoptime"])

    def test_newer_build_of_same_drv_wins_in_one_jobset(self) -> None:
        exp = FX.hydra.expected("re_added")
        [got] = self.lookup_json("p1_all", [exp["key"]], code=0)
        self.assertEqual(got["build_id"], exp["build_id"])
        self.assertEqual(got["status"], "succeeded")


class KeyKindsTest(LookupCase):
    """Drv path, drv basename, output path, bare hash (of a drv or an output)."""

    def strip(self, answer: dict) -> dict:
        return {k: v for k, v in answer.items() if k != "query"}

    def test_basename_and_hash_of_drv_answer_like_the_drv_path(self) -> None:
        for name in ("succeeded", "failed", "queued", "aborted", "two_jobsets", "not_in_index"):
            drv = FX.hydra.expect[name]["drv"]
            forms = [drv, basename(drv), hash_of(drv)]
            for db_name in ("p1_all", "p2_newest"):
                with self.subTest(key=name, db=db_name):
                    answers = self.lookup_json(db_name, forms)
                    self.assertEqual([a["query"] for a in answers], forms)
                    exp = FX.hydra.expected(name, FX.phase_of[db_name])
                    for form, got in zip(forms, answers):
                        self.assert_answer(got, form, exp, db_name)

    def test_every_output_path_of_a_multi_output_build(self) -> None:
        builds = FX.hydra.dataset["phases"]["1"]["builds"]
        for name in ("multi_output_dev_path", "multi_output_lib_path", "glibc_dev_output"):
            exp = FX.hydra.expected(name)
            self.assertNotEqual(exp["key"], exp["drv"], "the key is an output path")
            outputs = builds[str(exp["build_id"])]["buildoutputs"]
            self.assertGreaterEqual(len(outputs), 2)
            paths = [o["path"] for o in outputs.values()]
            self.assertIn(exp["key"], paths)
            with self.subTest(key=name):
                answers = self.lookup_json("p1_newest", paths, code=0)
                self.assertEqual(len(answers), len(paths))
                for path, got in zip(paths, answers):
                    self.assert_answer(got, path, exp, "p1_newest")
                    self.assertEqual(got["drv_path"], exp["drv"])

    def test_bare_hash_of_an_output(self) -> None:
        for name in ("multi_output_dev_path", "glibc_dev_output"):
            exp = FX.hydra.expected(name)
            with self.subTest(key=name):
                [got] = self.lookup_json("p1_newest", [hash_of(exp["key"])], code=0)
                self.assert_answer(got, hash_of(exp["key"]), exp, "p1_newest")

    def test_output_path_of_failed_build_is_a_failure(self) -> None:
        exp = FX.hydra.expected("failed")
        build = FX.hydra.dataset["phases"]["1"]["builds"][str(exp["build_id"])]
        out = build["buildoutputs"]["out"]["path"]
        [got] = self.lookup_json("p1_newest", [out], code=1)
        self.assert_answer(got, out, exp, "p1_newest")

    def test_unknown_output_path_and_hash(self) -> None:
        rng = random.Random(7)
        out = make_dataset.store_path(rng, "never-built-2.0")
        answers = self.lookup_json("p1_all", [out, hash_of(out)], code=3)
        self.assertEqual([a["status"] for a in answers], ["unknown", "unknown"])
        self.assertEqual([a["query"] for a in answers], [out, hash_of(out)])
        for got in answers:
            for field in NULL_WHEN_UNKNOWN:
                self.assertIsNone(got[field])

    def test_longest_valid_name_is_a_key(self) -> None:
        key = f"/nix/store/{HASH}-" + "a" * 211
        [got] = self.lookup_json("p1_all", [key], code=3)
        self.assertEqual(got["status"], "unknown")


class MalformedKeyTest(LookupCase):
    MALFORMED = [
        f"/nix/store/{HASH[:-1]}-hello-2.12.1.drv",     # 31 hash characters
        f"/nix/store/{HASH}x-hello-2.12.1.drv",         # 33 hash characters
        f"/nix/store/e{HASH[1:]}-hello-2.12.1.drv",     # 'e' is not nix32
        f"/nix/store/{HASH.upper()}-hello.drv",         # upper case is not nix32
        f"/nix/store/{HASH}-hel lo.drv",                # space in the name
        f"/nix/store/{HASH}-hello\u00e9.drv",           # non-ASCII name
        f"/nix/store/{HASH}-" + "a" * 212,              # name longer than 211
        f"/nix/store/{HASH}-.",
        f"/nix/store/{HASH}-..",
        f"/nix/store/{HASH}",                           # no name
        f"/nix/store/{HASH}-",                          # empty name
        f"/gnu/store/{HASH}-hello.drv",                 # another store dir
        f"/nix/store/{HASH}-hello.drv/",                # a path inside
        f"/nix/store/{HASH}-hello.drv/bin",
        f"nix/store/{HASH}-hello.drv",
        HASH[:-1],
        HASH + "x",
        "hello",
    ]

    def test_each_malformed_key_exits_2_and_valid_keys_are_answered(self) -> None:
        good = FX.hydra.expected("succeeded")
        failed = FX.hydra.expected("failed")
        for bad in self.MALFORMED:
            with self.subTest(key=bad):
                proc = self.lookup("p1_newest",
                                   ["--json", "lookup", good["key"], bad, failed["key"]])
                self.assertExit(proc, 2)
                self.assertIn(f"'{bad}'", proc.stderr, "the error names the key")
                answers = json_lines(proc.stdout)
                self.assertEqual([a["query"] for a in answers], [good["key"], failed["key"]])
                self.assert_answer(answers[0], good["key"], good, "p1_newest")
                self.assert_answer(answers[1], failed["key"], failed, "p1_newest")

    def test_all_malformed_keys_at_once_each_named(self) -> None:
        good = FX.hydra.expected("queued")
        proc = self.lookup("p1_newest", ["lookup", *self.MALFORMED, good["key"]])
        self.assertExit(proc, 2)
        for bad in self.MALFORMED:
            self.assertIn(f"'{bad}'", proc.stderr)
        lines = human_rows(proc.stdout)
        self.assertEqual(len(lines), 1, "human output: one line for the one valid key")
        self.assertIn("queued", lines[0])

    def test_empty_key_is_malformed(self) -> None:
        proc = self.lookup("p1_newest", ["lookup", "", FX.hydra.expected("succeeded")["key"]])
        self.assertExit(proc, 2)
        self.assertEqual(len(human_rows(proc.stdout)), 1)

    def test_malformed_first_argument_is_a_malformed_key_not_a_command(self) -> None:
        bad = f"/nix/store/{HASH[:-1]}-hello.drv"
        proc = self.lookup("p1_newest", [bad])
        self.assertExit(proc, 2)
        self.assertIn(f"'{bad}'", proc.stderr)
        self.assertNotIn("unknown command", proc.stderr)

    def test_output_basename_without_store_dir_is_malformed(self) -> None:
        # Only a drv basename is a key without /nix/store (spec: KEY is one of ...).
        out_base = basename(FX.hydra.expected("multi_output_dev_path")["key"])
        proc = self.lookup("p1_newest", ["lookup", out_base])
        self.assertExit(proc, 2)
        self.assertIn(out_base, proc.stderr)


class ExitCodeTest(LookupCase):
    """Precedence 2 > 5 > 1 > 4 > 3 > 0 over combinations of keys."""

    def key(self, name: str) -> str:
        return FX.hydra.expect[name]["key"]

    def test_precedence_over_combinations(self) -> None:
        G, P, T, Q, U = (self.key(n) for n in ("succeeded", "failed", "timed_out", "queued",
                                                "not_in_index"))
        P2 = self.key("dependency_failed")
        M = f"/nix/store/{HASH[:-1]}-bad.drv"
        cases = [
            ([G], 0),
            ([G, self.key("multi_output_dev_path"), self.key("two_jobsets")], 0),
            ([U], 3),
            ([G, U], 3),
            ([U, G, U], 3),
            ([T], 4),
            ([Q], 4),
            ([G, Q], 4),
            ([U, T], 4),
            ([T, U, G, Q], 4),
            ([P], 1),
            ([G, P], 1),
            ([P, G], 1),
            ([U, P], 1),
            ([T, P], 1),
            ([P, T, U, G, Q, P2], 1),
            ([M], 2),
            ([M, G], 2),
            ([G, M], 2),
            ([U, M], 2),
            ([T, M], 2),
            ([P, T, U, M, G], 2),
        ]
        for keys, code in cases:
            with self.subTest(keys=keys):
                proc = self.lookup("p1_newest", ["lookup", *keys])
                self.assertExit(proc, code)
                valid = [k for k in keys if k != M]
                self.assertEqual(len(human_rows(proc.stdout)), len(valid))

    def test_phase2_classes_change_exit_codes(self) -> None:
        # aborted (4) becomes queued (4); queued (4) becomes failed (1); nodejs unknown (3) -> failed (1)
        for name, p1, p2 in (("queued", 4, 1), ("restarted_phase1", 4, 0),
                             ("new_failed_phase2", 3, 1), ("aborted", 4, 4)):
            with self.subTest(key=name):
                self.assertExit(self.lookup("p1_newest", [self.key(name)]), p1)
                self.assertExit(self.lookup("p2_newest", [self.key(name)]), p2)


class NoIndexTest(LookupCase):
    """Exit 5: index missing, not an index, never synced; still 2 for a malformed key."""

    def good(self) -> str:
        return FX.hydra.expect["succeeded"]["key"]

    def failed(self) -> str:
        return FX.hydra.expect["failed"]["key"]

    def test_missing_index(self) -> None:
        db = os.path.join(self.tmp, "missing.sqlite")
        proc = self.hs(["lookup", self.good()], db=db)
        self.assertExit(proc, 5)
        self.assertIn(db, proc.stderr)
        self.assertFalse(os.path.exists(db), "a lookup must not create the index")

    def test_missing_index_still_answers_each_valid_key_unknown(self) -> None:
        # Issue 13 point 13 asked for the error alone; the contract's reading
        # of v1.2 says valid keys are still answered unknown (exit 5).
        db = os.path.join(self.tmp, "missing.sqlite")
        proc = self.hs(["--json", "lookup", self.good(), self.failed()], db=db)
        self.assertExit(proc, 5)
        answers = hs_testlib.json_lines(proc.stdout)
        self.assertEqual([(a["query"], a["status"]) for a in answers],
                         [(self.good(), "unknown"), (self.failed(), "unknown")])
        self.assertIn("no index", proc.stderr)

    def test_missing_index_directory(self) -> None:
        db = os.path.join(self.tmp, "nodir", "index.sqlite")
        proc = self.hs(["lookup", self.failed()], db=db)
        self.assertExit(proc, 5)
        self.assertFalse(os.path.exists(os.path.dirname(db)))

    def test_missing_index_with_malformed_key_is_2(self) -> None:
        db = os.path.join(self.tmp, "missing.sqlite")
        bad = f"/nix/store/{HASH}"
        proc = self.hs(["lookup", self.good(), bad], db=db)
        self.assertExit(proc, 2)
        self.assertIn(f"'{bad}'", proc.stderr)

    def test_file_that_is_not_an_index(self) -> None:
        cases = {
            "garbage.sqlite": b"this is not a database\n" * 100,
            "empty.sqlite": b"",
        }
        for name, content in cases.items():
            db = os.path.join(self.tmp, name)
            with open(db, "wb") as f:
                f.write(content)
            with self.subTest(file=name):
                proc = self.hs(["lookup", self.good()], db=db)
                self.assertExit(proc, 5)
                self.assertIn(db, proc.stderr)
        # An SQLite database of some other program.
        db = os.path.join(self.tmp, "other.sqlite")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE notes (x TEXT)")
        con.commit()
        con.close()
        with self.subTest(file="other.sqlite"):
            proc = self.hs(["lookup", self.good()], db=db)
            self.assertExit(proc, 5)
            self.assertIn(db, proc.stderr)
        # A directory.
        with self.subTest(file="a directory"):
            self.assertExit(self.hs(["lookup", self.good()], db=self.tmp), 5)

    @unittest.skipIf(os.geteuid() == 0, "root reads any file")
    def test_unreadable_index(self) -> None:
        db = os.path.join(self.tmp, "copy.sqlite")
        shutil.copy(FX.dbs["p1_newest"], db)
        os.chmod(db, 0)
        self.assertExit(self.hs(["lookup", self.good()], db=db), 5)

    def test_index_never_synced(self) -> None:
        # A sync whose every jobset fails leaves an index that was never synced.
        proc = self.hs(["--url", closed_port_url(), "sync", "--jobset", "nixpkgs:trunk",
                        "--min-interval", "0", "--max-tries", "1", "-q"])
        self.assertExit(proc, 1)
        self.assertTrue(os.path.exists(self.db))
        for keys, code in (([self.good()], 5), ([self.failed()], 5),
                           ([self.good(), f"/nix/store/{HASH}-"], 2)):
            with self.subTest(keys=keys):
                proc = self.hs(["--json", "lookup", *keys])
                self.assertExit(proc, code)
                self.assertTrue(proc.stderr)

    def test_local_failure_in_never_synced_index_is_5(self) -> None:
        # 5 wins over 1: the index only holds a local failure record.
        drv = self.failed()
        self.assertExit(self.hs(["record", "--failed", drv]), 0)
        proc = self.hs(["--json", "lookup", drv])
        self.assertExit(proc, 5)
        self.assertIn("never synced", proc.stderr)
        proc = self.hs(["--json", "lookup", drv, "nonsense-key"])
        self.assertExit(proc, 2)

    def test_info_exit_codes(self) -> None:
        self.assertExit(self.hs(["info"], db=os.path.join(self.tmp, "missing.sqlite")), 5)
        self.assertExit(self.hs(["info", "--json"], db=os.path.join(self.tmp, "nope.sqlite")), 5)
        garbage = os.path.join(self.tmp, "garbage.sqlite")
        with open(garbage, "wb") as f:
            f.write(b"no" * 1000)
        self.assertExit(self.hs(["info"], db=garbage), 5)
        self.assertExit(self.hs(["info", "extra"], db=FX.dbs["p1_newest"]), 2)
        self.assertExit(self.hs(["info"], db=FX.dbs["p1_newest"]), 0)


class AllAndJobTest(LookupCase):

    def builds_of_drv(self, phase: int, drv: str) -> list[dict]:
        ph = FX.hydra.dataset["phases"][str(phase)]
        listed = {e for js in ph["jobsets"].values() for e in js["evals"]
                  if ph["evals"][str(e)].get("hasnewbuilds", 1)}
        return [b for b in ph["builds"].values()
                if b["drvpath"] == drv and listed & set(b["jobsetevals"])]

    def test_all_lists_every_build_newest_first(self) -> None:
        for name in ("re_added", "two_jobsets", "two_jobsets_lower_id_wins", "failed"):
            exp = FX.hydra.expected(name)
            mine = self.builds_of_drv(1, exp["drv"])
            order = sorted(mine, key=lambda b: (b["stoptime"] or 0, b["id"]), reverse=True)
            with self.subTest(key=name):
                rows = self.lookup_json("p1_all", [exp["key"]], "--all",
                                        code=EXIT_OF_CLASS[exp["class"]])
                self.assertEqual([r["build_id"] for r in rows], [b["id"] for b in order])
                self.assert_answer(rows[0], exp["key"], exp, "p1_all")  # the deciding one first
                for row, raw in zip(rows, order):
                    self.assertEqual(row["query"], exp["key"])
                    self.assertEqual((row["status"], row["class"]), contract_status(raw))
                    self.assertEqual(row["jobset"], f"{raw['project']}:{raw['jobset']}")
                    self.assertEqual(row["build_url"], f"{FX.hydra.url}/build/{raw['id']}")

    def test_all_exit_code_is_from_the_deciding_build(self) -> None:
        exp = FX.hydra.expected("re_added")  # older build failed, newer succeeded
        rows = self.lookup_json("p1_all", [exp["key"]], "--all", code=0)
        self.assertEqual([r["status"] for r in rows], ["succeeded", "failed"])

    def test_all_with_several_keys_keeps_key_order(self) -> None:
        keys = [FX.hydra.expect[n]["key"] for n in ("re_added", "not_in_index", "failed")]
        rows = self.lookup_json("p1_all", keys, "--all", code=1)
        self.assertEqual([r["query"] for r in rows], [keys[0], keys[0], keys[1], keys[2]])
        self.assertEqual(rows[2]["status"], "unknown")

    def test_all_human_output_one_line_per_build(self) -> None:
        exp = FX.hydra.expected("re_added")
        proc = self.lookup("p1_all", ["lookup", "--all", exp["key"]])
        self.assertExit(proc, 0)
        builds = self.lookup_json("p1_all", [exp["key"]], "--all", code=0)
        # The key's drv name, then a row per build (indented by 2) that tells
        # it apart: status, jobset, build id and date; URLs under a failure.
        [block] = human_blocks(proc.stdout)
        self.assertEqual(block[0], drv_name(exp["drv"]))
        self.assertEqual(len(block), 5, proc.stdout)
        for row, build in zip((block[1], block[2]), builds):
            date = time.strftime("%Y-%m-%d", time.gmtime(build["stoptime"]))
            self.assertRegex(row, rf"^  . {build['status']} +{build['jobset']}"
                                  rf" +#{build['build_id']}  {date}$")
        self.assertEqual(block[3:], [f"      build  {builds[1]['build_url']}",
                                     f"      log    {builds[1]['log_url']}"])

    def test_job_answers_latest_build_of_job_in_jobset(self) -> None:
        git = FX.hydra.expected("two_jobsets_lower_id_wins")
        builds = self.builds_of_drv(1, git["drv"])
        staging = [b for b in builds if b["jobset"] == "staging"][0]
        cases = [
            ("curl.x86_64-linux", "nixpkgs:trunk", FX.hydra.expected("failed")["build_id"], 1),
            ("gnumake.x86_64-linux", "nixpkgs:trunk", FX.hydra.expected("re_added")["build_id"], 0),
            (git["job"], "nixpkgs:trunk", git["build_id"], 0),
            (staging["job"], "nixpkgs:staging", staging["id"], 1),
            ("libreoffice.x86_64-linux", "nixpkgs:trunk", FX.hydra.expected("queued")["build_id"], 4),
        ]
        for job, jobset, build_id, code in cases:
            with self.subTest(job=job, jobset=jobset):
                [got] = self.lookup_json("p1_all", [], "--job", job, "--jobset", jobset, code=code)
                self.assertEqual(got["build_id"], build_id)
                self.assertEqual(got["job"], job)
                self.assertEqual(got["jobset"], jobset)
                self.assertEqual(got["build_url"], f"{FX.hydra.url}/build/{build_id}")

    def test_job_unknown(self) -> None:
        for job, jobset in (("nosuch.x86_64-linux", "nixpkgs:trunk"),
                            ("curl.x86_64-linux", "nixpkgs:empty"),
                            ("curl.x86_64-linux", "other:trunk")):
            with self.subTest(job=job, jobset=jobset):
                [got] = self.lookup_json("p1_all", [], "--job", job, "--jobset", jobset, code=3)
                self.assertEqual(got["status"], "unknown")
                self.assertIsNone(got["build_id"])

    def test_job_usage_errors(self) -> None:
        for args in (["--job", "curl.x86_64-linux"],
                     ["--jobset", "nixpkgs:trunk", FX.hydra.expect["failed"]["key"]],
                     ["--job", "curl.x86_64-linux", "--jobset", "trunk"],
                     ["--job", "curl.x86_64-linux", "--jobset", ":trunk"]):
            with self.subTest(args=args):
                proc = self.lookup("p1_all", ["lookup", *args])
                self.assertExit(proc, 2)
                self.assertEqual(proc.stdout, "")
                self.assertTrue(proc.stderr)

    def test_lookup_without_keys_is_usage_error(self) -> None:
        proc = self.lookup("p1_all", ["lookup"])
        self.assertExit(proc, 2)
        self.assertTrue(proc.stderr)


class StdinTest(LookupCase):

    def test_stdin_demo_keys_blank_lines_ignored_in_order(self) -> None:
        names = sorted(FX.hydra.expect)
        keys = [FX.hydra.expect[n]["key"] for n in names]
        text = "\n\n".join(keys[:5]) + "\n   \n\t\n" + "\n".join(keys[5:]) + "\n\n"
        proc = self.lookup("p1_newest", ["--json", "lookup", "--stdin"], input=text)
        self.assertExit(proc, 1)
        answers = json_lines(proc.stdout)
        self.assertEqual([a["query"] for a in answers], keys)
        for name, got in zip(names, answers):
            self.assert_answer(got, FX.hydra.expect[name]["key"], FX.hydra.expected(name), "p1_newest")

    def test_stdin_without_final_newline(self) -> None:
        key = FX.hydra.expect["succeeded"]["key"]
        proc = self.lookup("p1_newest", ["--json", "lookup", "--stdin"], input=f"{key}\n{key}")
        self.assertExit(proc, 0)
        self.assertEqual(len(json_lines(proc.stdout)), 2)

    def test_stdin_malformed_line(self) -> None:
        good = FX.hydra.expect["succeeded"]["key"]
        proc = self.lookup("p1_newest", ["--json", "lookup", "--stdin"],
                           input=f"{good}\nnot a key\n{good}\n")
        self.assertExit(proc, 2)
        self.assertIn("'not a key'", proc.stderr)
        self.assertEqual(len(json_lines(proc.stdout)), 2)

    def test_stdin_empty_input(self) -> None:
        proc = self.lookup("p1_newest", ["--json", "lookup", "--stdin"], input="\n\n")
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, "")


class BigStdinTest(HsTestCase):
    """--stdin with 10,000 keys of a generated dataset (and some extra forms)."""

    N = 10_000

    @classmethod
    def setUpClass(cls) -> None:
        cls.dataset = make_dataset.big_dataset(cls.N, seed=3, n_evals=2)
        cls.tmpdir = tempfile.mkdtemp(prefix="hs-test-big-")
        cls.big_db = os.path.join(cls.tmpdir, "index.sqlite")
        with FakeHydra(cls.dataset) as hydra:
            cls.url = hydra.url
            proc = run_hs(["--url", hydra.url, "sync", "--jobset", "nixpkgs:big",
                           "--min-interval", "0", "--max-evals", "2"], db=cls.big_db)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def test_10000_keys(self) -> None:
        expected = make_dataset.expected_answers(self.dataset, 1)
        self.assertEqual(len(expected), self.N)
        build_of = {b["drvpath"]: b for b in self.dataset["phases"]["1"]["builds"].values()}
        drv_of = {drv: drv for drv in expected}
        rng = random.Random(11)
        keys = list(expected)
        rng.shuffle(keys)
        # Some keys in other forms: basenames, hashes, output paths, output hashes.
        for i in range(0, len(keys), 97):
            drv = keys[i]
            form = i % 4
            if form == 0:
                keys[i] = basename(drv)
            elif form == 1:
                keys[i] = hash_of(drv)
            else:
                outputs = build_of[drv]["buildoutputs"].values()
                out = sorted(o["path"] for o in outputs)[-1]
                keys[i] = out if form == 2 else hash_of(out)
            drv_of[keys[i]] = drv
        unknown = [make_dataset.drv_path(rng, f"unknown-{i}") for i in range(20)]
        for i, u in enumerate(unknown):
            keys.insert(i * 500, u)
        lines = []
        for i, k in enumerate(keys):
            lines.append(k)
            if i % 1000 == 0:
                lines.append("")
        text = "\n".join(lines) + "\n"
        start = time.monotonic()
        proc = run_hs(["--json", "lookup", "--stdin"], db=self.big_db, input=text)
        elapsed = time.monotonic() - start
        self.assertExit(proc, 1)  # the dataset has permanent failures
        answers = json_lines(proc.stdout)
        self.assertEqual(len(answers), len(keys))
        self.assertEqual([a["query"] for a in answers], keys, "answers in input order")
        mismatches = []
        for key, got in zip(keys, answers):
            if key in unknown:
                want = {"status": "unknown", "class": "unknown", "build_id": None}
            else:
                e = expected[drv_of[key]]
                want = {"status": e["status"], "class": e["class"], "build_id": e["build_id"]}
                if got.get("drv_path") != drv_of[key]:
                    mismatches.append((key, "drv_path", got.get("drv_path")))
            for field, value in want.items():
                if got.get(field) != value:
                    mismatches.append((key, field, got.get(field), value))
        self.assertEqual(mismatches[:10], [])
        statuses = {a["status"] for a in answers}
        self.assertTrue({"succeeded", "failed", "queued", "unknown"} <= statuses, statuses)
        self.assertLess(elapsed, 30, f"10,000 lookups took {elapsed:.1f} s")

    def test_10000_keys_human(self) -> None:
        keys = list(make_dataset.drv_paths(self.dataset, 1))
        proc = run_hs(["lookup", "--stdin"], db=self.big_db, input="\n".join(keys) + "\n")
        self.assertExit(proc, 1)
        self.assertEqual(len(human_rows(proc.stdout)), len(keys))


class InvocationTest(LookupCase):

    def test_implicit_lookup_equals_lookup(self) -> None:
        exp = FX.hydra.expected("failed")
        out = FX.hydra.expected("multi_output_dev_path")["key"]
        for key in (exp["key"], basename(exp["key"]), hash_of(exp["key"]), out, hash_of(out)):
            for json_flag in ([], ["--json"]):
                with self.subTest(key=key, json=json_flag):
                    implicit = self.lookup("p1_newest", [*json_flag, key])
                    explicit = self.lookup("p1_newest", [*json_flag, "lookup", key])
                    self.assertEqual(implicit.returncode, explicit.returncode)
                    self.assertEqual(implicit.stdout, explicit.stdout)
                    self.assertTrue(implicit.stdout)

    def test_implicit_lookup_of_several_keys(self) -> None:
        keys = [FX.hydra.expect[n]["key"] for n in ("succeeded", "queued", "not_in_index")]
        proc = self.lookup("p1_newest", ["--json", *keys])
        self.assertExit(proc, 4)
        self.assertEqual([a["query"] for a in json_lines(proc.stdout)], keys)

    def test_unknown_command_and_no_arguments(self) -> None:
        for args in ([], ["frobnicate"], ["lookups"], ["Lookup"], ["--json"],
                     ["hello"], ["--json", "frobnicate", "x"]):
            with self.subTest(args=args):
                proc = self.lookup("p1_newest", args)
                self.assertExit(proc, 2)
                self.assertEqual(proc.stdout, "")
                self.assertIn("usage", proc.stderr.lower())
                for command in ("lookup", "sync", "info"):
                    self.assertIn(command, proc.stderr)

    def test_unknown_option_is_usage_error(self) -> None:
        proc = self.lookup("p1_newest", ["lookup", "--frobnicate", FX.hydra.expect["failed"]["key"]])
        self.assertExit(proc, 2)
        self.assertIn("frobnicate", proc.stderr)

    def test_version(self) -> None:
        proc = self.hs(["--version"], db=None)
        self.assertExit(proc, 0)
        self.assertRegex(proc.stdout, r"^hydra-status \d+\.\d+\.\d+\S*\n$")
        self.assertEqual(proc.stderr, "")

    def test_help(self) -> None:
        for args in (["--help"], ["-h"]):
            with self.subTest(args=args):
                proc = self.hs(args, db=None)
                self.assertExit(proc, 0)
                self.assertIn("usage", proc.stdout.lower())
                for command in ("lookup", "sync", "gate", "info", "record", "forget"):
                    self.assertIn(command, proc.stdout)
                for option in ("--db", "--url", "--config", "--json", "--verbose", "--version"):
                    self.assertIn(option, proc.stdout)
        proc = self.hs(["lookup", "--help"], db=None)
        self.assertExit(proc, 0)
        for option in ("--all", "--stdin", "--job", "--jobset"):
            self.assertIn(option, proc.stdout)

    def test_verbose_does_not_change_answers(self) -> None:
        key = FX.hydra.expect["failed"]["key"]
        quiet = self.lookup("p1_newest", ["--json", key])
        for flag in (["-v"], ["-vv"], ["--verbose", "-v"]):
            with self.subTest(flag=flag):
                loud = self.lookup("p1_newest", [*flag, "--json", key])
                self.assertEqual(loud.returncode, quiet.returncode)
                self.assertEqual(loud.stdout, quiet.stdout)


class HumanOutputTest(LookupCase):

    def test_one_line_per_key_mark_word_name(self) -> None:
        names = sorted(FX.hydra.expect)
        keys = [FX.hydra.expect[n]["key"] for n in names]
        proc = self.lookup("p1_newest", ["lookup", *keys])
        self.assertExit(proc, 1)
        self.assertNotIn("\x1b", proc.stdout, "no ANSI escapes when stdout is not a TTY")
        blocks = human_blocks(proc.stdout)
        self.assertEqual(len(blocks), len(keys))
        marks: dict[str, set] = {}
        for name, block in zip(names, blocks):
            exp = FX.hydra.expected(name)
            line, details = block[0], human_details(block)
            with self.subTest(key=name):
                tokens = line.split()
                self.assertFalse(tokens[0].isalnum(), f"a mark first: {line!r}")
                marks.setdefault(exp["class"], set()).add(tokens[0])
                self.assertEqual(tokens[1], exp["status"], "the status word")
                self.assertIn(drv_name(exp["drv"] or exp["key"]), tokens, "the drv name")
                if exp["status"] == "unknown":
                    self.assertIn("not in the index", line)
                    self.assertEqual(details, {"key": exp["key"]})
                    continue
                self.assertIn(exp["jobset"], tokens)
                self.assertRegex(line, rf" {exp['jobset']} +just now$", "jobset and age")
                if exp["class"] != "good":  # failures, and the queued build
                    url = f"{FX.hydra.url}/build/{exp['build_id']}"
                    self.assertEqual(details, {"build": url, "log": url + "/log"})
                else:
                    self.assertEqual(details, {}, "no URLs for a good build")
        for cls, seen in marks.items():
            self.assertEqual(len(seen), 1, f"one mark per class: {cls} {seen}")
        self.assertEqual(len({next(iter(s)) for s in marks.values()}), len(marks),
                         "each class has its own mark")

    def test_colour_only_on_a_tty(self) -> None:
        key = FX.hydra.expect["failed"]["key"]
        master, slave = pty.openpty()
        try:
            env = hs_testlib.hs_env(self.home, {"TERM": "xterm", "NO_COLOR": None})
            proc = subprocess.Popen([HS_BIN, "--db", FX.dbs["p1_newest"], key], stdout=slave,
                                    stderr=subprocess.PIPE, env=env, cwd=self.home)
            os.close(slave)
            slave = -1
            chunks = []
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            proc.communicate(timeout=30)
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)
        self.assertEqual(proc.returncode, 1)
        text = b"".join(chunks).decode("utf-8", "replace")
        self.assertIn("\x1b[", text, "colour on a TTY")
        self.assertIn("failed", text)


class NoNetworkTest(LookupCase):
    """lookup and info never touch the network."""

    def test_no_request_reaches_hydra(self) -> None:
        FX.hydra.clear_log()
        keys = [FX.hydra.expect[n]["key"] for n in sorted(FX.hydra.expect)]
        drv = FX.hydra.expect["failed"]["drv"]
        runs = [
            ["lookup", *keys],
            ["--json", "lookup", *keys],
            ["--json", "lookup", "--all", *keys],
            [keys[0]],
            [basename(drv)],
            [hash_of(drv)],
            ["--json", "lookup", "--job", "curl.x86_64-linux", "--jobset", "nixpkgs:trunk"],
            ["info"],
            ["info", "--json"],
            ["--json", "info"],
        ]
        for args in runs:
            for db_name in ("p1_newest", "p2_all"):
                proc = self.lookup(db_name, ["--url", FX.hydra.url, *args])
                self.assertIn(proc.returncode, (0, 1, 3, 4), proc.stderr)
        proc = self.lookup("p1_newest", ["--url", FX.hydra.url, "--json", "lookup", "--stdin"],
                           input="\n".join(keys))
        self.assertExit(proc, 1)
        self.assertEqual(FX.hydra.log(), [], "lookup/info sent requests to Hydra")

    def test_lookup_with_unreachable_url(self) -> None:
        keys = [FX.hydra.expect[n]["key"] for n in sorted(FX.hydra.expect)]
        reference = self.lookup("p1_newest", ["--json", "lookup", *keys])
        dead = closed_port_url()
        for how in ("option", "env"):
            with self.subTest(how=how):
                if how == "option":
                    proc = self.lookup("p1_newest", ["--url", dead, "--json", "lookup", *keys])
                else:
                    proc = self.lookup("p1_newest", ["--json", "lookup", *keys],
                                       env={"HYDRA_STATUS_URL": dead})
                self.assertEqual(proc.returncode, reference.returncode)
                self.assertEqual(json_lines(proc.stdout), json_lines(reference.stdout))
                # URLs are those of the instance the build was synced from.
                for got in json_lines(proc.stdout):
                    if got["build_url"]:
                        self.assertTrue(got["build_url"].startswith(FX.hydra.url + "/"))
        info = self.lookup("p1_newest", ["--url", dead, "info"])
        self.assertExit(info, 0)



class UnknownJobsetTest(LookupCase):
    """issue 13, point 8: --jobset naming a jobset the index does not hold."""

    def test_unknown_jobset_warns_naming_the_jobsets_held(self) -> None:
        for extra in ([], ["--json"]):
            with self.subTest(extra=extra):
                proc = self.lookup("p1_all", [*extra, "lookup", "--job", "curl.x86_64-linux",
                                              "--jobset", "nixpkgs:nosuch"])
                self.assertExit(proc, 3)
                warnings = [l for l in proc.stderr.splitlines() if "warning" in l]
                self.assertEqual(len(warnings), 1, proc.stderr)
                self.assertIn("'nixpkgs:nosuch' is not in the index", warnings[0])
                self.assertIn("it holds: " + ", ".join(sorted(JOBSETS)), warnings[0])
                self.assertIn("unknown", proc.stdout)

    def test_known_jobset_without_the_job_does_not_warn(self) -> None:
        for jobset in ("nixpkgs:trunk", "nixpkgs:empty"):
            with self.subTest(jobset=jobset):
                proc = self.lookup("p1_all", ["lookup", "--job", "nosuch.x86_64-linux",
                                              "--jobset", jobset])
                self.assertExit(proc, 3)
                self.assertNotIn("warning", proc.stderr)

    def test_the_list_is_what_the_index_holds(self) -> None:
        db = os.path.join(self.tmp, "one.sqlite")
        shutil.copy(FX.dbs["p1_all"], db)
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA foreign_keys = OFF")
            # Keep the index "synced" (a jobset row with synced_at) but under
            # a name that is not asked for: the list names just that one.
            conn.execute("DELETE FROM jobset WHERE name != 'trunk'")
        proc = self.hs(["lookup", "--job", "x", "--jobset", "nixpkgs:trunc"], db=db)
        self.assertExit(proc, 3)
        self.assertIn("(it holds: nixpkgs:trunk)", proc.stderr)


class StdinLinesTest(LookupCase):
    """issue 13, point 10: --stdin trims each line and numbers bad ones."""

    def test_surrounding_blanks_and_cr_are_trimmed(self) -> None:
        good = FX.hydra.expect["succeeded"]["key"]
        failed = FX.hydra.expect["failed"]["key"]
        text = f"  {good}\t\r\n\t{failed}  \n \r\n{good} \r\n"
        proc = self.lookup("p1_newest", ["--json", "lookup", "--stdin"], input=text)
        self.assertExit(proc, 1)
        self.assertEqual(proc.stderr, "")
        self.assertEqual([a["query"] for a in json_lines(proc.stdout)], [good, failed, good])

    def test_malformed_key_names_its_line(self) -> None:
        good = FX.hydra.expect["succeeded"]["key"]
        lines = [good, "", good, "   ", good, good, " not-a-key \r", good]
        proc = self.lookup("p1_newest", ["--json", "lookup", "--stdin"],
                           input="\n".join(lines) + "\n")
        self.assertExit(proc, 2)
        self.assertIn("stdin line 7: malformed key 'not-a-key'", proc.stderr)
        self.assertEqual(len(json_lines(proc.stdout)), 5)

    def test_keys_on_the_command_line_have_no_line_number(self) -> None:
        proc = self.lookup("p1_newest", ["lookup", "not-a-key"])
        self.assertExit(proc, 2)
        self.assertNotIn("line", proc.stderr)
        self.assertIn("malformed key 'not-a-key'", proc.stderr)


if __name__ == "__main__":
    unittest.main()
