"""A small simulated day (bench/day --quick, shortened): the real binary
follows a simulated nixpkgs:trunk hourly, behind nginx's limiter, with
/eval/<id>/builds answering 504 above 2,000 builds (issue 15 point 5).

The day (bench/day_hydra.py, bench/day.py): 5,000 builds an eval, 20 evals
at the start, then 12 hourly syncs during which 3 new evals appear (100 new
builds and 25 restarts each). The bounds are issue 15's, scaled to the
eval size (5,000 / 250,000 = 0.02) where they grow with it: requests
45,000 x 0.02 a day (x 12/24 for half a day), bytes 60 MB x 0.02 plus 128 KB
for each hourly check (a check's page does not shrink with the eval).

Run: cd tests/integration && HS_BIN=... python3 -m unittest -v test_sync_day
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest

import hs_testlib

HS_BIN = hs_testlib.skip_unless_binary()
sys.path.insert(0, os.path.join(hs_testlib.SOURCE_DIR, "bench"))
import day  # noqa: E402  (bench/day.py)

EVAL_SIZE = 5_000
HOURS = 12
NEW_EVALS = 3
SCALE = EVAL_SIZE / 250_000
RATE = 50.0  # nginx's algorithm; 2 r/s sped up 25x, as the day runs faster than real time
BURST = 7
THRESHOLD = 2_000
MAX_DAY_REQUESTS = day.TARGET_DAY_REQUESTS * SCALE * HOURS / 24
MAX_DAY_BYTES = day.TARGET_DAY_BYTES * SCALE * HOURS / 24 + HOURS * day.TARGET_NOCHANGE_BYTES


class SmallDayTest(unittest.TestCase):
    result: dict

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="hs-day-")
        server = day.DayServer(EVAL_SIZE, RATE, BURST, THRESHOLD, cls.tmp, day_evals=NEW_EVALS)
        try:
            info = server.control("evals")
            with open(os.path.join(cls.tmp, "progress.log"), "w") as log:
                cls.result = day.run_day(server, "test", HS_BIN, cls.tmp, HOURS, info, log)
        finally:
            server.stop()

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def hourly(self) -> list[dict]:
        return [s for s in self.result["syncs"] if s["what"].startswith("hour")]

    # -- what holds today -------------------------------------------------------

    def test_first_sync_ingests_the_newest_eval(self) -> None:
        first = self.result["first"]
        self.assertEqual(first["rc"], 0, first.get("stderr"))
        self.assertGreaterEqual(self.result["index_builds"], EVAL_SIZE)
        self.assertEqual(first["429"], 0)

    def test_the_client_stays_within_the_limiter(self) -> None:
        # Sequential requests are held by nginx, never refused.
        self.assertEqual(sum(s["429"] for s in self.result["syncs"]), 0)

    def test_the_day_ran(self) -> None:
        self.assertEqual(len(self.hourly()) + self.result["day"]["skipped_syncs"], HOURS)
        self.assertEqual(len(self.result["fresh"]), NEW_EVALS)
        self.assertGreater(self.result["day"]["requests"], HOURS - 1)  # a listing an hour at least

    # -- issue 15's bounds: they need the new sync ------------------------------

    def test_no_change_check_costs_two_requests_and_128_kb(self) -> None:
        nc = self.result["nochange"]
        self.assertEqual(nc["rc"], 0, nc.get("stderr"))
        self.assertLessEqual(nc["requests"], day.TARGET_NOCHANGE_REQUESTS)
        self.assertLessEqual(nc["bytes"], day.TARGET_NOCHANGE_BYTES)

    # Not met yet (issue 15's note has the figures): restarts are looked for
    # by re-reading the newest eval's failed builds by id, and restarted
    # successes are not seen while /eval/<id>/builds is unusable.
    @unittest.expectedFailure
    def test_day_within_request_and_byte_bounds(self) -> None:
        d = self.result["day"]
        self.assertEqual(d["failed_syncs"], 0, [s.get("stderr") for s in self.hourly() if s["rc"]])
        self.assertLessEqual(d["requests"], MAX_DAY_REQUESTS)
        self.assertLessEqual(d["bytes"], MAX_DAY_BYTES)
        self.assertLessEqual(self.result["objects_per_change"], day.TARGET_OBJECTS_PER_CHANGE)

    def test_no_eval_builds_request_repeated_after_a_504(self) -> None:
        # Today's code asked a 504ing /eval/<id>/builds six times a run. The
        # new sync may never ask it on this day (new evals go by id, by
        # cost); test_sync_large_eval provokes the 504 itself.
        self.assertEqual(self.result["day"]["repeated_after_504"], 0)

    def test_every_new_build_in_the_index_within_two_hours(self) -> None:
        late = {eid: f["in"] for eid, f in self.result["fresh"].items()
                if f["in"] is None or f["in"] > day.TARGET_FRESH_S}
        self.assertEqual(late, {})

    # Not met yet (issue 15's note has the figures): restarts are looked for
    # by re-reading the newest eval's failed builds by id, and restarted
    # successes are not seen while /eval/<id>/builds is unusable.
    @unittest.expectedFailure
    def test_index_agrees_with_hydra_at_the_end(self) -> None:
        self.assertEqual((self.result["wrong"], self.result["wrong_examples"]), (0, []))


if __name__ == "__main__":
    unittest.main()
