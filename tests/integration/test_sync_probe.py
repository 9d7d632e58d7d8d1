"""How a sync learns what changed (issue 15): the evals listing read as
HTML (one page of tens of KB whatever the evals' size), /eval/<id> for a new
eval instead of the JSON listing, /api/latestbuilds for which unfinished
builds finished, and the JSON listing as the fallback when the HTML page is
not Hydra's (spec/cli.md "Politeness").
Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_sync_probe
"""
from __future__ import annotations

import re
import subprocess
import unittest

import hs_testlib
from hs_testlib import FakeHydra, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()

T0 = 1735689600
JOBSET = "proj:main"
LISTING = "/jobset/proj/main/evals"
BUILD_RE = re.compile(r"^/build/(\d+)$")


def probe_dataset() -> dict:
    """Phase 1: eval 1 of 40 builds, the newest 5 queued. Phase 2: the first
    of those finishes. Phase 3: eval 2 = eval 1 + 3 new builds."""
    db = make_dataset.DatasetBuilder(seed=15)
    ids = [db.add_build(JOBSET, f"p{i}.x86_64-linux", f"p{i}-1.0",
                        status=None if i >= 35 else (1 if i % 9 == 0 else 0),
                        timestamp=T0)["id"] for i in range(40)]
    db.add_eval(JOBSET, ids, timestamp=T0)
    db.new_phase()
    db.update_build(ids[35], finished=1, buildstatus=0, starttime=T0 + 10, stoptime=T0 + 20)
    db.new_phase()
    new = [db.add_build(JOBSET, f"n{i}.x86_64-linux", f"n{i}-2.0", status=0,
                        timestamp=T0 + 3600)["id"] for i in range(3)]
    db.add_eval(JOBSET, ids + new, timestamp=T0 + 3600)
    return db.to_json("test_sync_probe")


class ProbeTest(hs_testlib.HsTestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(probe_dataset()).start()
        phases = cls.hydra.dataset["phases"]
        cls.first = min(int(k) for k, b in phases["1"]["builds"].items() if not b["finished"])
        cls.new_builds = sorted(int(k) for k in phases["3"]["builds"]
                                if k not in phases["1"]["builds"])

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop_checked()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.set_phase(1)
        self.hydra.clear_log()

    def sync(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", JOBSET,
                        "--min-interval", "10ms", "--backoff-ceiling", "50ms", *args])
        self.assertExit(proc, code)
        return proc

    def paths(self) -> list[str]:
        return [r["path"] + (f"?{r['query']}" if r["query"] else "") for r in self.hydra.log()]

    def status(self, build_id: int) -> str:
        build = self.hydra.dataset["phases"]["3"]["builds"][str(build_id)]
        return hs_testlib.json_lines(self.hs(["--json", "lookup", build["drvpath"]]).stdout)[0][
            "status"]

    def test_nothing_new_is_one_request_of_a_few_kb(self) -> None:
        self.sync()
        self.hydra.clear_log()
        self.sync()
        log = self.hydra.log()
        self.assertEqual([(r["path"], r["headers"]["accept"]) for r in log],
                         [(LISTING, "text/html")])
        self.assertLess(log[0]["bytes"], 16 * 1024)

    def test_new_evals_are_read_by_eval_object_never_the_json_listing(self) -> None:
        self.sync()
        self.hydra.set_phase(3)
        self.hydra.clear_log()
        self.sync()
        log = self.hydra.log()
        self.assertEqual([r["headers"]["accept"] for r in log if r["path"] == LISTING],
                         ["text/html"])
        self.assertIn("/eval/2", self.paths())
        by_id = {int(m.group(1)) for p in self.paths() if (m := BUILD_RE.match(p))}
        # The eval's members the index lacks or has unfinished, once each.
        queued = set(range(self.first, self.first + 5))
        self.assertLessEqual(set(self.new_builds), by_id)
        self.assertLessEqual(by_id, set(self.new_builds) | queued)
        self.assertEqual(len(self.paths()), len(set(self.paths())))
        self.assertEqual(self.status(self.new_builds[0]), "succeeded")

    def test_a_finished_build_is_learned_from_latestbuilds_then_read_by_id(self) -> None:
        self.sync()
        self.assertEqual(self.status(self.first), "queued")
        self.hydra.set_phase(2)
        self.hydra.clear_log()
        self.sync()
        paths = self.paths()
        self.assertEqual(paths[0], LISTING)
        self.assertTrue(paths[1].startswith("/api/latestbuilds?nr="), paths)
        self.assertIn("&project=proj&jobset=main", paths[1])
        self.assertEqual(paths[2:], [f"/build/{self.first}"])
        self.assertEqual(self.status(self.first), "succeeded")

    def test_the_bot_filters_page_falls_back_to_the_json_listing(self) -> None:
        self.hydra.add_faults([{"match": f"^{LISTING}$", "kind": "html", "count": 1}])
        proc = self.sync()
        log = self.hydra.log()
        self.assertEqual([r["headers"]["accept"] for r in log if r["path"] == LISTING],
                         ["text/html", "application/json"])
        self.assertNotIn("/eval/1", self.paths(), "the JSON listing names the members")
        self.assertEqual(proc.stderr.count("reading the JSON listing instead"), 1, proc.stderr)
        self.assertEqual(self.status(self.first - 1), "succeeded")


if __name__ == "__main__":
    unittest.main()
