"""Integration tests of `hydra-status sync` basics and `info` (spec/cli.md: sync,
Politeness headers, info, sync exit codes), the real binary against the fake
Hydra, counting the requests in the fake's log.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_basic
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import unittest

import hs_testlib
from hs_testlib import (DEMO_DATASET, FakeHydra, HsTestCase, closed_port_url, json_lines,
                        make_dataset)

HS_BIN = hs_testlib.skip_unless_binary()

DEMO_JOBSETS = ("nixpkgs:trunk", "nixpkgs:staging", "nixpkgs:empty")
T0 = 1735689600

EVAL_RE = re.compile(r"^/eval/(\d+)(/builds)?$")
BUILD_RE = re.compile(r"^/build/(\d+)$")
LISTING_RE = re.compile(r"^/jobset/([^/]+)/([^/]+)/evals$")


def page_of(record: dict) -> int:
    """The page of an evals listing request (no query = page 1)."""
    m = re.search(r"(?:^|&)page=(\d+)", record["query"] or "")
    return int(m.group(1)) if m else 1


def small_dataset() -> dict:
    """Three jobsets, no unfinished build.

    phase 1: proj:a has 22 evals (two listing pages), one job bumped per eval;
             proj:b has 2 evals; proj:c has none.
    phase 2: proj:a gets one more eval with a new failed build.
    phase 3: proj:b gets three more evals, each with a new build.
    """
    db = make_dataset.DatasetBuilder(seed=42)
    for js in ("proj:a", "proj:b", "proj:c"):
        db.add_jobset(js)
    current = {}
    for j in range(5):
        b = db.add_build("proj:a", f"job{j}.x86_64-linux", f"pkg{j}-1.0",
                         status=0 if j % 3 else 1, timestamp=T0)
        current[j] = b["id"]
    for k in range(22):
        if k > 0:
            j = k % 5
            b = db.add_build("proj:a", f"job{j}.x86_64-linux", f"pkg{j}-1.{k}",
                             status=0, timestamp=T0 + k * 3600)
            current[j] = b["id"]
        db.add_eval("proj:a", current.values(), timestamp=T0 + k * 3600)
    b_builds = [db.add_build("proj:b", f"tool{j}.aarch64-linux", f"tool{j}-2.0", status=0,
                             timestamp=T0)["id"] for j in range(3)]
    db.add_eval("proj:b", b_builds[:2], timestamp=T0)
    db.add_eval("proj:b", b_builds, timestamp=T0 + 100)
    db.new_phase()
    new = db.add_build("proj:a", "newjob.x86_64-linux", "newpkg-1.0", status=1,
                       timestamp=T0 + 100 * 3600)
    db.add_eval("proj:a", list(current.values()) + [new["id"]], timestamp=T0 + 100 * 3600)
    db.new_phase()
    for k in range(3):
        b = db.add_build("proj:b", f"extra{k}.aarch64-linux", f"extra{k}-1.0", status=0,
                         timestamp=T0 + 200 * 3600 + k)
        b_builds.append(b["id"])
        db.add_eval("proj:b", b_builds, timestamp=T0 + 200 * 3600 + k)
    return db.to_json("small dataset without unfinished builds")


class SyncCase(HsTestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(DEMO_DATASET).start()
        cls.demo = hs_testlib.demo_dataset()
        cls.version = subprocess.run([HS_BIN, "--version"], capture_output=True, text=True,
                                     env=hs_testlib.hs_env("/nonexistent")).stdout.split()[-1]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.load_dataset(self.demo)  # also back to phase 1
        self.hydra.clear_faults()
        self.hydra.clear_log()

    def sync(self, *args: str, jobsets=DEMO_JOBSETS, url: str | None = None,
             code: int | None = 0, **kw) -> subprocess.CompletedProcess:
        cmd = ["--url", url or self.hydra.url, "sync", "--min-interval", "0"]
        for js in jobsets:
            cmd += ["--jobset", js]
        proc = self.hs(cmd + list(args), **kw)
        if code is not None:
            self.assertExit(proc, code)
        return proc

    def info(self) -> dict[str, dict]:
        proc = self.hs(["info", "--json"])
        self.assertExit(proc, 0)
        return {o["jobset"]: o for o in json_lines(proc.stdout) if "jobset" in o}

    def lookup(self, key: str) -> dict:
        proc = self.hs(["--json", "lookup", key])
        [answer] = json_lines(proc.stdout)
        return answer

    def requests_by_jobset(self, log: list[dict], jobset: str) -> list[dict]:
        project, name = jobset.split(":")
        return [r for r in log if r["path"] == f"/jobset/{project}/{name}/evals"]

    def assert_no_duplicates(self, log: list[dict]) -> None:
        seen = [(r["path"], r["query"]) for r in log]
        dups = {x for x in seen if seen.count(x) > 1}
        self.assertEqual(dups, set(), "a request was sent twice in one sync")

    def listed_evals(self, dataset: dict, phase: int, jobset: str) -> list[int]:
        ph = dataset["phases"][str(phase)]
        return sorted(e for e in ph["jobsets"][jobset]["evals"]
                      if ph["evals"][str(e)].get("hasnewbuilds", 1) == 1)

    def eval_builds(self, dataset: dict, phase: int, evals) -> set[int]:
        ph = dataset["phases"][str(phase)]
        return {b for e in evals for b in ph["evals"][str(e)]["builds"]}


class FirstSyncTest(SyncCase):

    def test_three_jobsets_every_eval_with_paging(self) -> None:
        before = int(time.time())
        self.sync("--max-evals", "30")
        after = int(time.time()) + 1
        log = self.hydra.log()
        self.assert_no_duplicates(log)
        listing = [(r["path"], page_of(r)) for r in log if LISTING_RE.match(r["path"])]
        self.assertEqual(sorted(listing), sorted([
            ("/jobset/nixpkgs/trunk/evals", 1),
            ("/jobset/nixpkgs/staging/evals", 1),
            ("/jobset/nixpkgs/staging/evals", 2),   # 25 evals: pages of 20 and 5
            ("/jobset/nixpkgs/empty/evals", 1),
        ]))
        evals_fetched: dict[int, set[str]] = {}
        by_id_builds: list[int] = []
        for r in log:
            if m := EVAL_RE.match(r["path"]):
                eid = int(m.group(1))
                kind = "builds" if m.group(2) else "eval"
                self.assertNotIn(kind, evals_fetched.setdefault(eid, set()),
                                 "one request of each kind per eval")
                evals_fetched[eid].add(kind)
            elif m := BUILD_RE.match(r["path"]):
                by_id_builds.append(int(m.group(1)))
            else:
                self.assertRegex(r["path"], LISTING_RE, "no other requests")
        expected_evals = set()
        for js in DEMO_JOBSETS:
            expected_evals |= set(self.listed_evals(self.demo, 1, js))
        # An eval is read whole (/eval/<id>/builds), or its few new builds one
        # by one (/build/<id>, with /eval/<id> or from the listing's eval object).
        self.assertLessEqual(set(evals_fetched), expected_evals)
        self.assertNotIn(4, evals_fetched, "eval 4 has no new builds and is not listed")
        whole = [e for e, how in evals_fetched.items() if "builds" in how]
        by_id_evals = expected_evals - set(whole)
        self.assertLessEqual(set(by_id_builds), self.eval_builds(self.demo, 1, by_id_evals))
        self.assertEqual(self.eval_builds(self.demo, 1, expected_evals),
                         self.eval_builds(self.demo, 1, whole) | set(by_id_builds),
                         "every build of every eval was read")
        self.assertEqual(len(log), len(listing) + sum(len(how) for how in evals_fetched.values())
                         + len(by_id_builds))
        for r in log:
            self.assertEqual(r["method"], "GET")
            self.assertEqual(r["status"], 200)

        info = self.info()
        summary = self.demo["summary"]["phases"]["1"]
        self.assertEqual(set(info), set(DEMO_JOBSETS))
        for js in DEMO_JOBSETS:
            with self.subTest(jobset=js):
                self.assertEqual(info[js]["evals"], summary["listed_evals"][js])
                self.assertEqual(info[js]["newest_eval"], summary["newest_eval"][js])
                builds = {b for b in self.eval_builds(self.demo, 1, self.listed_evals(self.demo, 1, js))}
                self.assertEqual(info[js]["builds"], len(builds))
                self.assertTrue(before - 1 <= info[js]["synced_at"] <= after + 1)
                self.assertEqual(info[js]["url"], self.hydra.url)
        # Answers for phase 1 hold.
        for name in ("failed", "two_jobsets", "re_added", "queued"):
            exp = self.hydra.expected(name)
            got = self.lookup(exp["key"])
            self.assertEqual((got["status"], got["build_id"]), (exp["status"], exp["build_id"]))

    def test_default_reads_only_the_newest_eval(self) -> None:
        proc = self.sync()
        log = self.hydra.log()
        self.assert_no_duplicates(log)
        listing = [(r["path"], page_of(r)) for r in log if LISTING_RE.match(r["path"])]
        self.assertEqual(sorted(listing), sorted((f"/jobset/nixpkgs/{j}/evals", 1)
                                                 for j in ("trunk", "staging", "empty")))
        fetched = {int(m.group(1)) for r in log if (m := EVAL_RE.match(r["path"]))}
        self.assertEqual(fetched, {3, 29})
        info = self.info()
        self.assertEqual({js: info[js]["evals"] for js in info},
                         {"nixpkgs:trunk": 1, "nixpkgs:staging": 1, "nixpkgs:empty": 0})
        self.assertEqual(info["nixpkgs:staging"]["newest_eval"], 29)
        self.assertIsNone(info["nixpkgs:empty"]["newest_eval"])
        self.assertEqual(proc.stdout, "", "sync reports on stderr only")

    def test_max_evals_3(self) -> None:
        self.sync("--max-evals", "3", jobsets=["nixpkgs:staging"])
        log = self.hydra.log()
        fetched = {int(m.group(1)) for r in log if (m := EVAL_RE.match(r["path"]))}
        self.assertLessEqual(fetched, {27, 28, 29})
        by_id = {int(m.group(1)) for r in log if (m := BUILD_RE.match(r["path"]))}
        self.assertLessEqual(by_id, self.eval_builds(self.demo, 1, [27, 28, 29]))
        self.assertGreater(len(fetched) + len(by_id), 0)
        self.assertEqual([page_of(r) for r in log if LISTING_RE.match(r["path"])], [1])
        info = self.info()["nixpkgs:staging"]
        self.assertEqual(info["evals"], 3)
        self.assertEqual(info["newest_eval"], 29)

    def test_requests_carry_accept_and_user_agent(self) -> None:
        self.sync("--max-evals", "30")
        log = self.hydra.log()
        self.assertGreater(len(log), 5)
        ua = re.compile(r"^hydra-status/(\S+) \(\+(https?://\S+)\)$")
        for r in log:
            with self.subTest(path=r["path"], query=r["query"]):
                # Only the evals listing is asked for as HTML (spec/cli.md).
                wanted = "text/html" if LISTING_RE.match(r["path"]) else "application/json"
                self.assertIn(wanted, r["headers"]["accept"] or "")
                m = ua.match(r["headers"]["user-agent"] or "")
                self.assertIsNotNone(m, r["headers"]["user-agent"])
                self.assertEqual(m.group(1), self.version)
                self.assertIn("gzip", r["headers"]["accept-encoding"] or "")

    def test_gzip_answers_are_understood(self) -> None:
        self.hydra.set_options(gzip=True)
        try:
            self.sync("--max-evals", "30")
        finally:
            self.hydra.set_options(gzip=False)
        exp = self.hydra.expected("two_jobsets")
        self.assertEqual(self.lookup(exp["key"])["build_id"], exp["build_id"])


class ResyncTest(SyncCase):

    def test_nothing_new_one_request_per_jobset(self) -> None:
        dataset = small_dataset()
        self.hydra.load_dataset(dataset)
        jobsets = ("proj:a", "proj:b", "proj:c")
        self.sync("--max-evals", "30", jobsets=jobsets)
        first = self.info()
        self.assertEqual(first["proj:a"]["evals"], 22)
        self.assertEqual(first["proj:b"]["evals"], 2)
        for round_ in range(2):
            with self.subTest(round=round_):
                self.hydra.clear_log()
                time.sleep(1.0 if round_ == 0 else 0)  # let synced_at move on
                self.sync(jobsets=jobsets)
                log = self.hydra.log()
                self.assertLessEqual(len(log), len(jobsets))
                for js in jobsets:
                    self.assertLessEqual(len(self.requests_by_jobset(log, js)), 1)
                self.assertTrue(all(page_of(r) == 1 for r in log))
                again = self.info()
                for js in jobsets:
                    self.assertEqual(again[js]["evals"], first[js]["evals"])
                    self.assertEqual(again[js]["builds"], first[js]["builds"])
                    self.assertGreaterEqual(again[js]["synced_at"], first[js]["synced_at"])
                if round_ == 0:
                    self.assertGreater(again["proj:a"]["synced_at"], first["proj:a"]["synced_at"],
                                       "a successful sync updates synced_at")

        # Phase 2: one new eval in proj:a; only it is read.
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        self.sync(jobsets=jobsets)
        log = self.hydra.log()
        self.assert_no_duplicates(log)
        new_eval = max(self.listed_evals(dataset, 2, "proj:a"))
        fetched = {int(m.group(1)) for r in log if (m := EVAL_RE.match(r["path"]))}
        self.assertLessEqual(fetched, {new_eval})
        old_builds = self.eval_builds(dataset, 1, self.listed_evals(dataset, 1, "proj:a"))
        by_id = {int(m.group(1)) for r in log if (m := BUILD_RE.match(r["path"]))}
        self.assertEqual(by_id & old_builds, set(), "known finished builds are not re-read")
        self.assertLessEqual(len(self.requests_by_jobset(log, "proj:a")) + len(fetched)
                             + len(by_id), 3)
        self.assertEqual(len(self.requests_by_jobset(log, "proj:b")), 1)
        self.assertEqual(len(self.requests_by_jobset(log, "proj:c")), 1)
        new_build = [b for b in dataset["phases"]["2"]["builds"].values()
                     if b["job"] == "newjob.x86_64-linux"][0]
        got = self.lookup(new_build["drvpath"])
        self.assertEqual((got["status"], got["build_id"]), ("failed", new_build["id"]))
        self.assertEqual(self.info()["proj:a"]["evals"], 23)

        # Phase 3: three new evals in proj:b; --max-evals only bounds a first sync.
        self.hydra.set_phase(3)
        self.hydra.clear_log()
        self.sync("--max-evals", "1", jobsets=jobsets)
        log = self.hydra.log()
        fetched = {int(m.group(1)) for r in log if (m := EVAL_RE.match(r["path"]))}
        self.assertLessEqual(fetched, set(self.listed_evals(dataset, 3, "proj:b")[-3:]))
        self.assertEqual(self.info()["proj:b"]["evals"], 5)
        for b in dataset["phases"]["3"]["builds"].values():
            if b["job"].startswith("extra"):
                self.assertEqual(self.lookup(b["drvpath"])["build_id"], b["id"])

        # And nothing new again: one request per jobset.
        self.hydra.clear_log()
        self.sync(jobsets=jobsets)
        self.assertEqual(len(self.hydra.log()), len(jobsets))

    def test_unfinished_builds_are_rechecked_until_they_finish(self) -> None:
        self.sync()
        ph1 = self.demo["phases"]["1"]
        unfinished = {b for b in ph1["evals"]["3"]["builds"] if not ph1["builds"][str(b)]["finished"]}
        self.assertEqual(len(unfinished), 2, "demo: a queued and a restarted build in eval 3")
        for round_ in range(2):  # still unfinished, but nothing changed on Hydra
            with self.subTest(round=round_):
                self.hydra.clear_log()
                self.sync()
                log = self.hydra.log()
                # The listing as HTML shows the same counts: nothing else.
                self.assertEqual(len(log), len(DEMO_JOBSETS))
                self.assertTrue(all(LISTING_RE.match(r["path"]) for r in log))
                self.assertEqual(self.lookup(self.hydra.expect["queued"]["key"])["status"], "queued")

        # Phase 2: they finish.
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        self.sync()
        for name in ("queued", "restarted_phase1", "new_failed_phase2"):
            exp = self.hydra.expected(name, 2)
            got = self.lookup(exp["key"])
            self.assertEqual((got["status"], got["build_id"], got["buildstatus"]),
                             (exp["status"], exp["build_id"], exp["buildstatus"]))

        # Finished now, and nothing changed since: no longer re-read.
        self.hydra.clear_log()
        self.sync()
        log = self.hydra.log()
        self.assertEqual(len(log), len(DEMO_JOBSETS))
        self.assertTrue(all(LISTING_RE.match(r["path"]) for r in log))

    def test_restart_is_seen_after_a_recheck(self) -> None:
        self.sync()
        self.hydra.set_phase(2)
        self.sync("--recheck-interval", "0")
        exp = self.hydra.expected("restarted_phase2", 2)
        got = self.lookup(exp["key"])
        self.assertEqual((got["status"], got["buildstatus"]), ("queued", None))
        # Unfinished now; nothing changed on Hydra since, so the next sync
        # reads the listing alone and keeps it queued.
        self.hydra.clear_log()
        self.sync()
        self.assertEqual(len(self.hydra.log()), len(DEMO_JOBSETS))
        self.assertEqual(self.lookup(exp["key"])["status"], "queued")


class SyncErrorsTest(SyncCase):

    def test_nonexistent_jobset_exits_1_others_synced(self) -> None:
        for bad in ("nixpkgs:nope", "noproject:trunk"):
            with self.subTest(jobset=bad):
                self.hydra.clear_log()
                proc = self.sync(jobsets=[bad, "nixpkgs:trunk", "nixpkgs:empty"], code=1)
                self.assertIn(bad, proc.stderr)
                project, name = bad.split(":")
                tries = [r for r in self.hydra.log() if r["path"] == f"/jobset/{project}/{name}/evals"]
                # The listing as HTML, then the JSON one that names the
                # missing jobset: each once.
                self.assertEqual([r["headers"]["accept"] for r in tries],
                                 ["text/html", "application/json"], "a 404 is not retried")
                info = self.info()
                self.assertIsNotNone(info["nixpkgs:trunk"]["synced_at"])
                self.assertIsNotNone(info["nixpkgs:empty"]["synced_at"])
                self.assertIsNone(info.get(bad, {}).get("synced_at"))
                exp = self.hydra.expected("failed")
                self.assertEqual(self.lookup(exp["key"])["build_id"], exp["build_id"])

    def test_bad_jobset_value_exits_2_without_requests(self) -> None:
        for bad in ("trunk", ":trunk", "nixpkgs:", "", "nixpkgs/trunk", "nixpkgs:tr unk",
                    "a:b:c", "nix pkgs:trunk"):
            with self.subTest(jobset=bad):
                proc = self.sync(jobsets=["nixpkgs:trunk", bad], code=2)
                self.assertTrue(proc.stderr)
                self.assertEqual(self.hydra.log(), [])
                self.assertFalse(os.path.exists(self.db), "no index created on a usage error")

    def test_other_usage_errors(self) -> None:
        cases = [
            ([], []),                                     # no jobsets at all
            (["extra-argument"], ["nixpkgs:trunk"]),
            (["--max-evals", "abc"], ["nixpkgs:trunk"]),
            (["--max-evals", "0"], ["nixpkgs:trunk"]),
            (["--max-evals", "-1"], ["nixpkgs:trunk"]),
            (["--min-interval", "soon"], ["nixpkgs:trunk"]),
            (["--no-such-option"], ["nixpkgs:trunk"]),
        ]
        for args, jobsets in cases:
            with self.subTest(args=args):
                proc = self.sync(*args, jobsets=jobsets, code=2)
                self.assertTrue(proc.stderr)
                self.assertEqual(self.hydra.log(), [])
        proc = self.hs(["--url", "ftp://example.invalid", "sync", "--jobset", "nixpkgs:trunk"])
        self.assertExit(proc, 2)

    def test_unreachable_hydra_exits_1(self) -> None:
        proc = self.sync("--max-tries", "1", jobsets=["nixpkgs:trunk"], url=closed_port_url(),
                         code=1)
        self.assertIn("nixpkgs:trunk", proc.stderr)
        # The index was never synced: lookups say so with exit 5.
        self.assertExit(self.hs(["lookup", self.hydra.expect["failed"]["key"]]), 5)

    def test_second_sync_while_one_runs_exits_75(self) -> None:
        self.hydra.add_faults([{"match": "/jobset/nixpkgs/trunk/evals", "kind": "delay",
                                "seconds": 3, "count": 1}])
        cmd = [HS_BIN, "--db", self.db, "--url", self.hydra.url, "sync", "--min-interval", "0",
               "--jobset", "nixpkgs:trunk"]
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=hs_testlib.hs_env(self.home), cwd=self.home)
        try:
            deadline = time.monotonic() + 10
            while not any(f["fired"] for f in self.hydra.faults()):
                self.assertLess(time.monotonic(), deadline, "the first sync never asked")
                time.sleep(0.05)
            second = self.sync(jobsets=["nixpkgs:trunk"], code=75)
            self.assertTrue(second.stderr)
        finally:
            out, err = first.communicate(timeout=60)
        self.assertEqual(first.returncode, 0, err)


class InfoTest(SyncCase):

    def test_info_figures(self) -> None:
        before = int(time.time())
        self.sync("--max-evals", "5")
        after = int(time.time()) + 1
        proc = self.hs(["info", "--json"])
        self.assertExit(proc, 0)
        objects = json_lines(proc.stdout)
        per_jobset = {o["jobset"]: o for o in objects if "jobset" in o}
        expected = {
            "nixpkgs:trunk": (3, 3),       # (evals, newest eval): only 3 listed
            "nixpkgs:staging": (5, 29),
            "nixpkgs:empty": (0, None),
        }
        for js, (evals, newest) in expected.items():
            with self.subTest(jobset=js):
                o = per_jobset[js]
                self.assertEqual(o["evals"], evals)
                self.assertEqual(o["newest_eval"], newest)
                self.assertTrue(before - 1 <= o["synced_at"] <= after + 1)
                listed = self.listed_evals(self.demo, 1, js)[-evals:] if evals else []
                self.assertEqual(o["builds"], len(self.eval_builds(self.demo, 1, listed)))
        [index] = [o for o in objects if "jobset" not in o]
        self.assertGreater(index["size"], 0)
        self.assertGreaterEqual(index["size"], os.path.getsize(self.db))
        # The human form shows the same figures.
        proc = self.hs(["info"])
        self.assertExit(proc, 0)
        text = proc.stdout
        for js, (evals, newest) in expected.items():
            self.assertIn(js, text)
            block = text[text.index(js):]
            nxt = [block.find(other, 1) for other in expected if other != js]
            block = block[:min([n for n in nxt if n > 0] or [len(block)])]
            if newest is not None:
                self.assertRegex(block, rf"\b{newest}\b")
            self.assertRegex(block, rf"\b{evals}\b")
            self.assertRegex(block, rf"\b{per_jobset[js]['builds']}\b")
        # lookup's synced_at is the jobset's last successful sync.
        exp = self.hydra.expected("two_jobsets")
        self.assertEqual(self.lookup(exp["key"])["synced_at"],
                         per_jobset["nixpkgs:staging"]["synced_at"])

    def test_info_sends_no_request(self) -> None:
        self.sync()
        self.hydra.clear_log()
        self.assertExit(self.hs(["info"]), 0)
        self.assertExit(self.hs(["info", "--json"]), 0)
        self.assertEqual(self.hydra.log(), [])


if __name__ == "__main__":
    unittest.main()
