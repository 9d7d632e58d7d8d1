"""A short /eval/<id>/builds answer: Hydra's list lacks member builds that the
eval's `builds` names. The sync fetches those by id, ends with every member
build and the right statuses (as a sync of the full answer, and as the demo
dataset's expect section says), and asks for each missing build once in the
run: the re-check of unfinished builds that follows does not fetch them again.

Also the fake Hydra's `omit-builds` fault itself.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_short_eval
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import subprocess
import unittest
import urllib.request
from collections import Counter

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()

T0 = 1735689600
JOBSET = "proj:short"
BUILD_RE = re.compile(r"^/build/(\d+)$")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def short_dataset() -> tuple[dict, list[int]]:
    """One eval of 40 builds: every status, 12 of them unfinished (queued, or
    restarted with a stale status). Returns the dataset and the 10 builds the
    fault leaves out: 6 unfinished, 4 finished."""
    db = make_dataset.DatasetBuilder(seed=11)
    finished, unfinished = [], []
    for i in range(28):
        finished.append(db.add_build(JOBSET, f"f{i}.x86_64-linux", f"f{i}-1.0", status=i % 13,
                                     timestamp=T0, starttime=T0 + i, stoptime=T0 + 60 + i)["id"])
    for i in range(12):
        if i % 3 == 0:  # restarted: unfinished, stale status and times
            b = db.add_build(JOBSET, f"u{i}.aarch64-linux", f"u{i}-1.0", status=3,
                             finished=False, timestamp=T0, starttime=T0, stoptime=T0 + 5)
        else:
            b = db.add_build(JOBSET, f"u{i}.aarch64-linux", f"u{i}-1.0", status=None,
                             timestamp=T0)
        unfinished.append(b["id"])
    db.add_eval(JOBSET, finished + unfinished, timestamp=T0)
    omitted = sorted(unfinished[::2] + finished[3:7])
    return db.to_json("test_sync_short_eval"), omitted


def build_rows(path: str) -> list[tuple]:
    """Every build of the index with what decides lookups, by id."""
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT id, hex(drv), name, finished, status, duration, stoptime"
                           " FROM build ORDER BY id").fetchall()
    finally:
        con.close()


def by_id_requests(log: list[dict]) -> Counter:
    return Counter(int(m.group(1)) for r in log if (m := BUILD_RE.match(r["path"])))


class ShortEvalBase(hs_testlib.HsTestCase):
    hydra: FakeHydra

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop_checked()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.set_options(gzip=False)
        self.hydra.clear_log()

    def sync(self, jobsets: list[str], *args: str, db: str | None = None) -> subprocess.CompletedProcess:
        argv = ["--url", self.hydra.url, "sync", "--min-interval", "0"]
        for js in jobsets:
            argv += ["--jobset", js]
        proc = self.hs(argv + list(args), db=db or self.db)
        self.assertExit(proc, 0)
        return proc

    def answers(self, drvs: list[str], db: str | None = None) -> dict[str, tuple]:
        """lookup --json of every drv: (status, build_id) per drv."""
        proc = self.hs(["--json", "lookup", "--stdin"], input="\n".join(drvs) + "\n",
                       db=db or self.db)
        self.assertIn(proc.returncode, (0, 1, 3, 4), proc.stderr)
        out = {line["query"]: (line["status"], line["build_id"])
               for line in hs_testlib.json_lines(proc.stdout)}
        self.assertEqual(len(out), len(drvs))
        return out


class ShortEvalTest(ShortEvalBase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.dataset, cls.omitted = short_dataset()
        cls.hydra = FakeHydra(cls.dataset).start()
        cls.eval_id = int(cls.dataset["phases"]["1"]["jobsets"][JOBSET]["evals"][0])
        cls.members = cls.dataset["phases"]["1"]["evals"][str(cls.eval_id)]["builds"]
        cls.drvs = make_dataset.drv_paths(cls.dataset, 1)

    def test_missing_members_are_fetched_once_and_ingested(self) -> None:
        # The reference: a sync of the full answer.
        full_db = self.tmp + "/full.sqlite"
        self.sync([JOBSET], db=full_db)
        self.assertEqual(by_id_requests(self.hydra.log()), Counter())
        self.hydra.clear_log()

        self.hydra.add_faults([{"match": f"^/eval/{self.eval_id}/builds$", "kind": "omit-builds",
                                "ids": self.omitted}])
        proc = self.sync([JOBSET])
        log = self.hydra.log()
        self.assertEqual([r["fault"] for r in log if r["path"].endswith("/builds")],
                         ["omit-builds"])
        self.assertIn(f"/eval/{self.eval_id}/builds lacks {len(self.omitted)} member build(s); "
                      "fetching them by id", proc.stderr)

        # (a) every member build, as the full sync wrote it.
        rows = build_rows(self.db)
        self.assertEqual(len(rows), len(self.members))
        self.assertEqual(rows, build_rows(full_db))
        self.assertEqual(self.answers(self.drvs), self.answers(self.drvs, db=full_db))
        statuses = Counter(status for status, _ in self.answers(self.drvs).values())
        self.assertEqual(statuses["queued"], 12)

        # (b) each missing build asked for exactly once; nothing else by id.
        self.assertEqual(by_id_requests(log), Counter({i: 1 for i in self.omitted}))
        # The listing (as HTML), /eval/<id>, /eval/<id>/builds, the missing.
        self.assertEqual(len(log), 3 + len(self.omitted), [r["path"] for r in log])

        # The next run, with nothing changed on Hydra, reads the listing
        # (as HTML) alone: its counts say no unfinished build finished.
        self.hydra.clear_faults()
        self.hydra.clear_log()
        self.sync([JOBSET], "--recheck-interval", "24h")
        self.assertEqual(by_id_requests(self.hydra.log()), Counter())
        self.assertEqual(len(self.hydra.log()), 1)

    def test_gzip_answer_is_cut_too(self) -> None:
        self.hydra.set_options(gzip=True)
        self.hydra.add_faults([{"match": f"^/eval/{self.eval_id}/builds$", "kind": "omit-builds",
                                "ids": self.omitted}])
        self.sync([JOBSET])
        self.assertEqual(by_id_requests(self.hydra.log()), Counter({i: 1 for i in self.omitted}))
        self.assertEqual(len(build_rows(self.db)), len(self.members))


class ShortDemoEvalTest(ShortEvalBase):
    """The demo dataset with every second build of trunk's eval 3 left out."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(DEMO_DATASET).start()

    def test_expect_section_holds(self) -> None:
        demo = self.hydra.dataset
        members = sorted(demo["phases"]["1"]["evals"]["3"]["builds"])
        omitted = members[1::2]
        builds = demo["phases"]["1"]["builds"]
        self.assertTrue(any(builds[str(i)].get("finished", 1) == 0 for i in omitted),
                        "an unfinished build is among those left out")
        self.hydra.add_faults([{"match": "^/eval/3/builds$", "kind": "omit-builds"}])
        self.sync(["nixpkgs:trunk", "nixpkgs:staging", "nixpkgs:empty"])
        log = self.hydra.log()
        self.assertEqual(by_id_requests(log), Counter({i: 1 for i in omitted}))
        for name, entry in self.hydra.expect.items():
            with self.subTest(expect=name):
                exp = self.hydra.expected(name)
                answer = self.answers([entry["key"]])[entry["key"]]
                self.assertEqual(answer, (exp["status"], exp["build_id"]))


class OmitBuildsFaultTest(ShortEvalBase):
    """The fault itself, on the demo dataset."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(DEMO_DATASET).start()

    def get(self, path: str, gzip_ok: bool = False) -> tuple[int, dict, bytes]:
        headers = {"Accept": "application/json"}
        if gzip_ok:
            headers["Accept-Encoding"] = "gzip"
        req = urllib.request.Request(self.hydra.url + path, headers=headers)
        with NO_PROXY.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()

    def ids(self, path: str) -> list[int]:
        return [b["id"] for b in json.loads(self.get(path)[2])]

    def test_leaves_out_the_ids_given_or_every_second(self) -> None:
        full = self.ids("/eval/3/builds")
        self.hydra.add_faults([{"match": "^/eval/3/builds$", "kind": "omit-builds",
                                "ids": full[:3]}])
        self.assertEqual(self.ids("/eval/3/builds"), full[3:])
        self.hydra.add_faults([{"match": "^/eval/3/builds$", "kind": "omit-builds"}])
        self.assertEqual(self.ids("/eval/3/builds"), full[::2])
        self.assertEqual(self.ids("/eval/3/builds"), full, "count 1 by default")
        self.assertEqual([r["fault"] for r in self.hydra.log()],
                         [None, "omit-builds", "omit-builds", None])

    def test_gzip_answer_stays_gzip(self) -> None:
        self.hydra.set_options(gzip=True)
        self.hydra.add_faults([{"match": "^/eval/3/builds$", "kind": "omit-builds"}])
        status, headers, body = self.get("/eval/3/builds", gzip_ok=True)
        self.assertEqual((status, headers.get("Content-Encoding")), (200, "gzip"))
        self.assertEqual(int(headers["Content-Length"]), len(body))
        kept = [b["id"] for b in json.loads(gzip.decompress(body))]
        self.hydra.set_options(gzip=False)
        self.assertEqual(kept, self.ids("/eval/3/builds")[::2])

    def test_other_answers_pass_unchanged(self) -> None:
        plain = self.get("/build/1")[2]
        self.hydra.add_faults([{"match": "^/build/1$", "kind": "omit-builds"}])
        self.assertEqual(json.loads(self.get("/build/1")[2])["id"], 1)
        self.assertEqual(len(self.get("/build/1")[2]), len(plain))

    def test_bad_ids_are_rejected(self) -> None:
        with self.assertRaises(hs_testlib.FakeHydraError):
            self.hydra.add_faults([{"match": "x", "kind": "omit-builds", "ids": "1,2"}])


if __name__ == "__main__":
    unittest.main()
