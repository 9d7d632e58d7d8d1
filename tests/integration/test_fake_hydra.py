"""Tests of the fake Hydra server itself (tests/fake_hydra).

Run: cd tests/integration && python3 -m unittest -v test_fake_hydra
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest
import urllib.parse
import zlib

import hs_testlib
from hs_testlib import DEMO_DATASET, SAMPLES_DIR, FakeHydra, FakeHydraError, make_dataset

import fake_hydra  # noqa: E402  (tests/fake_hydra, on sys.path through hs_testlib)
import hydra_html  # noqa: E402

JSON_ACCEPT = {"Accept": "application/json"}


def sample_keys(name: str) -> set[str]:
    return set(hs_testlib.sample(name).keys())


def sample_http_body(name: str) -> bytes:
    with open(os.path.join(SAMPLES_DIR, name), "rb") as f:
        raw = f.read()
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    return body.rstrip(b"\r\n")


def sample_http_body_real(name: str) -> bytes:
    """The body of a capture (tests/data/hydra), as long as its Content-Length."""
    with open(os.path.join(SAMPLES_DIR, name), "rb") as f:
        raw = f.read()
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return body[: int(length.group(1))] if length else body


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> object:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class FakeHydraTest(unittest.TestCase):
    hydra: FakeHydra

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(DEMO_DATASET).start()
        cls.demo = cls.hydra.dataset

    @classmethod
    def tearDownClass(cls) -> None:
        errors = cls.hydra.stderr_text()
        cls.hydra.stop()
        if "Traceback" in errors:
            raise AssertionError(f"fake_hydra printed a traceback:\n{errors}")

    def setUp(self) -> None:
        self.hydra.clear_faults()
        self.hydra.set_options(gzip=False, etag=False, rate=0, burst=7, eval_builds_504_above=-1,
                               eval_builds_504_delay=0)
        self.hydra.set_phase(1)
        self.hydra.clear_log()

    # -- helpers ----------------------------------------------------------------

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.hydra.port, timeout=10)
        try:
            conn.request(method, path, headers=headers if headers is not None else JSON_ACCEPT)
            resp = conn.getresponse()
            body = resp.read()
            return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
        finally:
            conn.close()

    def get_json(self, path: str) -> object:
        ans = self.get(path)
        self.assertEqual(ans.status, 200, ans.body[:200])
        self.assertEqual(ans.content_type, "application/json")
        return ans.json()

    def raw_exchange(self, path: str) -> bytes:
        """Sends a request on a raw socket and reads until the server closes."""
        with socket.create_connection(("127.0.0.1", self.hydra.port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                      "Connection: close\r\n\r\n".encode())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    return b"".join(chunks)
                chunks.append(data)

    def expect(self, name: str, phase: int = 1) -> dict:
        return self.hydra.expected(name, phase)

    def newest_eval(self, jobset: str, phase: int = 1) -> int:
        return self.demo["summary"]["phases"][str(phase)]["newest_eval"][jobset]

    # -- shapes -----------------------------------------------------------------

    def test_build_has_the_key_set_of_real_hydra(self) -> None:
        want = sample_keys("build-4-failed.json")
        for name in ("failed", "queued", "restarted_phase1", "with_products_and_metrics"):
            with self.subTest(name=name):
                build = self.get_json(f"/build/{self.expect(name)['build_id']}")
                self.assertEqual(set(build), want)
        restarted = self.get_json(f"/build/{self.expect('restarted_phase1')['build_id']}")
        self.assertEqual((restarted["finished"], restarted["buildstatus"]), (0, 3))
        self.assertIsNotNone(restarted["stoptime"])
        queued = self.get_json(f"/build/{self.expect('queued')['build_id']}")
        self.assertEqual((queued["finished"], queued["buildstatus"], queued["stoptime"]), (0, None, None))

    def test_evals_listing_has_the_shape_of_real_hydra(self) -> None:
        listing = self.get_json("/jobset/nixpkgs/trunk/evals")
        self.assertEqual(set(listing), sample_keys("evals-trunk.json"))
        sample_eval_keys = set(hs_testlib.sample("evals-trunk.json")["evals"][0])
        ids = [ev["id"] for ev in listing["evals"]]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(ids), self.demo["summary"]["phases"]["1"]["listed_evals"]["nixpkgs:trunk"])
        for ev in listing["evals"]:
            self.assertEqual(set(ev), sample_eval_keys)
            self.assertEqual(ev["hasnewbuilds"], 1)
        self.assertEqual((listing["first"], listing["last"]), ("?page=1", "?page=1"))

    def test_eval_has_the_shape_of_real_hydra(self) -> None:
        newest = self.newest_eval("nixpkgs:trunk")
        ev = self.get_json(f"/eval/{newest}")
        self.assertEqual(set(ev), sample_keys("eval-3.json"))
        self.assertEqual(ev["id"], newest)
        builds = self.get_json(f"/eval/{newest}/builds")
        self.assertIsInstance(builds, list)
        self.assertEqual(sorted(b["id"] for b in builds), sorted(ev["builds"]))
        want = set(hs_testlib.sample("eval-3-builds.json")[0])
        for b in builds:
            self.assertEqual(set(b), want)
            self.assertIn(newest, b["jobsetevals"])

    def test_unchanged_eval_is_not_listed_but_exists(self) -> None:
        phase = self.demo["phases"]["1"]
        hidden = [int(k) for k, ev in phase["evals"].items() if ev["hasnewbuilds"] == 0]
        self.assertTrue(hidden)
        listed = [ev["id"] for ev in self.get_json("/jobset/nixpkgs/trunk/evals")["evals"]]
        for eid in hidden:
            self.assertNotIn(eid, listed)
            self.assertEqual(self.get_json(f"/eval/{eid}")["hasnewbuilds"], 0)

    def test_staging_pages_like_real_hydra(self) -> None:
        page1 = self.get_json("/jobset/nixpkgs/staging/evals")
        self.assertEqual(set(page1), sample_keys("evals-staging-page1.json"))
        self.assertEqual((page1["first"], page1["last"], page1["next"]), ("?page=1", "?page=2", "?page=2"))
        self.assertEqual(len(page1["evals"]), 20)
        page2 = self.get_json("/jobset/nixpkgs/staging/evals?page=2")
        self.assertEqual(set(page2), sample_keys("evals-staging-page2.json"))
        self.assertEqual(page2["previous"], "?page=1")
        self.assertEqual(len(page2["evals"]), 5)
        ids = [e["id"] for e in page1["evals"] + page2["evals"]]
        self.assertEqual(ids, sorted(set(ids), reverse=True))
        self.assertEqual(self.get_json("/jobset/nixpkgs/staging/evals?page=3"),
                         hs_testlib.sample("evals-staging-page3.json"))
        for odd in ("abc", "0", ""):
            with self.subTest(page=odd):
                same = self.get_json(f"/jobset/nixpkgs/staging/evals?page={odd}")
                self.assertEqual([e["id"] for e in same["evals"]], [e["id"] for e in page1["evals"]])
                self.assertEqual(set(same), sample_keys("evals-staging-pageabc.json"))
        self.assertEqual(self.get("/jobset/nixpkgs/staging/evals?page=-1").status, 500)

    def test_empty_jobset_lists_last_page_zero(self) -> None:
        self.assertEqual(self.get_json("/jobset/nixpkgs/empty/evals"), hs_testlib.sample("evals-empty.json"))

    def test_html_unless_json_is_accepted(self) -> None:
        for headers in ({}, {"Accept": "*/*"}, {"Accept": "text/html"}):
            with self.subTest(headers=headers):
                ans = self.get("/build/1", headers=headers)
                self.assertEqual(ans.status, 200)
                self.assertTrue(ans.content_type.startswith("text/html"))
                self.assertIn(b"<html", ans.body)
                self.assertEqual(ans.headers["vary"], "Accept")
        ans = self.get("/build/1", headers={"Accept": "text/html, application/json"})
        self.assertEqual(ans.content_type, "application/json")
        self.assertEqual(ans.headers["vary"], "Accept")

    def test_errors_are_those_of_real_hydra(self) -> None:
        cases = [
            ("/build/99999", 404, "build-99999-notfound.http"),
            ("/eval/99999", 404, "eval-99999-notfound.http"),
            ("/jobset/nixpkgs/nope/evals", 404, "jobset-notfound-evals.http"),
            ("/build/abc", 500, "build-abc-invalid.http"),
        ]
        for path, status, sample in cases:
            with self.subTest(path=path):
                ans = self.get(path)
                self.assertEqual(ans.status, status)
                self.assertEqual(ans.content_type, "application/json")
                self.assertEqual(ans.body, sample_http_body(sample))
        self.assertEqual(self.get("/jobset/nope/trunk/evals").json(), {"error": "Project ‘nope’ doesn't exist."})

    def test_object_keys_come_in_random_order(self) -> None:
        orders = {tuple(json.loads(self.get("/build/1").body)) for _ in range(8)}
        self.assertGreater(len(orders), 1)

    def test_logs(self) -> None:
        available = self.expect("log_available")
        base = os.path.basename(available["drv"])
        ans = self.get(f"/log/{base}")
        self.assertEqual((ans.status, ans.content_type), (200, "text/plain; charset=utf-8"))
        self.assertIn(b"builder failed", ans.body)
        self.assertEqual(self.get(f"/log/{base}?tail=1").body, ans.body.splitlines(keepends=True)[-1])
        missing = os.path.basename(self.expect("log_missing")["drv"])
        ans = self.get(f"/log/{missing}")
        self.assertEqual(ans.status, 404)
        self.assertEqual(ans.json(), {"error": f"The build log of /nix/store/{missing} is not available."})
        for name in ("log_available", "log_missing"):
            page = self.get(f"/build/{self.expect(name)['build_id']}/log")
            self.assertEqual(page.status, 200)
            self.assertTrue(page.content_type.startswith("text/html"))
        raw = self.get(f"/build/{available['build_id']}/log/raw")
        self.assertEqual(raw.status, 302)
        self.assertEqual(raw.headers["location"], f"{self.hydra.url}/log/{base}")

    # -- dataset and phases ---------------------------------------------------------

    def test_phase_two_changes_builds_and_adds_an_eval(self) -> None:
        before = self.get_json("/jobset/nixpkgs/trunk/evals")["evals"][0]["id"]
        self.hydra.set_phase(2)
        after = self.get_json("/jobset/nixpkgs/trunk/evals")["evals"][0]["id"]
        self.assertEqual(after, self.newest_eval("nixpkgs:trunk", 2))
        self.assertGreater(after, before)
        restarted = self.get_json(f"/build/{self.expect('restarted_phase1', 2)['build_id']}")
        self.assertEqual((restarted["finished"], restarted["buildstatus"]), (1, 0))
        queued = self.get_json(f"/build/{self.expect('queued', 2)['build_id']}")
        self.assertEqual((queued["finished"], queued["buildstatus"]), (1, 1))
        new = self.expect("new_failed_phase2", 2)
        self.assertIn(new["build_id"], self.get_json(f"/eval/{after}")["builds"])
        self.hydra.set_phase(1)
        self.assertEqual(self.get(f"/build/{new['build_id']}").status, 404)

    def test_expect_section_agrees_with_served_builds(self) -> None:
        for phase in (1, 2):
            self.hydra.set_phase(phase)
            for name in self.demo["expect"]:
                answer = self.expect(name, phase)
                if answer["build_id"] is None:
                    self.assertEqual(answer["status"], "unknown")
                    continue
                with self.subTest(name=name, phase=phase):
                    build = self.get_json(f"/build/{answer['build_id']}")
                    self.assertEqual(build["drvpath"], answer["drv"])
                    word = make_dataset.status_word(build["finished"], build["buildstatus"])
                    self.assertEqual(word, answer["status"])
                    if not answer["key"].endswith(".drv"):
                        outputs = [o["path"] for o in build["buildoutputs"].values()]
                        self.assertIn(answer["key"], outputs)

    def test_demo_covers_the_required_situations(self) -> None:
        builds = list(self.demo["phases"]["1"]["builds"].values())
        finished_codes = {b["buildstatus"] for b in builds if b["finished"]}
        self.assertLessEqual(set(range(13)) | {99}, finished_codes)
        self.assertTrue(any(not b["finished"] and b["buildstatus"] is None for b in builds))
        self.assertTrue(any(not b["finished"] and b["buildstatus"] == 3 and b["stoptime"] for b in builds))
        self.assertTrue(any({"out", "dev", "lib"} <= set(b["buildoutputs"]) for b in builds))
        self.assertEqual({b["system"] for b in builds}, {"x86_64-linux", "aarch64-linux", "x86_64-darwin"})
        self.assertIn("hello.x86_64-linux", {b["job"] for b in builds})
        by_drv: dict[str, list[dict]] = {}
        for b in builds:
            by_drv.setdefault(b["drvpath"], []).append(b)
        self.assertTrue(any(len({x["jobset"] for x in bs}) > 1 for bs in by_drv.values()))
        self.assertTrue(any(len(bs) > 1 and len({x["jobset"] for x in bs}) == 1 for bs in by_drv.values()))
        for b in builds:
            paths = [b["drvpath"]] + [o["path"] for o in b["buildoutputs"].values()]
            for p in paths:
                self.assertTrue(make_dataset.is_valid_store_path(p), p)

    def test_demo_json_is_generated_by_make_dataset(self) -> None:
        self.assertEqual(make_dataset.main(["demo", "--check", "-o", DEMO_DATASET]), 0)

    def test_big_dataset_is_valid_and_deterministic(self) -> None:
        big = make_dataset.big_dataset(10000, seed=5)
        drvs = make_dataset.drv_paths(big)
        self.assertEqual(len(drvs), 10000)
        self.assertTrue(all(make_dataset.is_valid_store_path(p) for p in drvs))
        self.assertEqual(make_dataset.big_dataset(300, seed=9), make_dataset.big_dataset(300, seed=9))
        self.assertNotEqual(make_dataset.big_dataset(300, seed=9), make_dataset.big_dataset(300, seed=10))

    def test_load_dataset_replaces_the_dataset(self) -> None:
        self.addCleanup(self.hydra.load_dataset, self.demo)
        big = make_dataset.big_dataset(50, seed=3, jobset="nixpkgs:big", n_evals=2)
        self.hydra.load_dataset(big)
        listing = self.get_json("/jobset/nixpkgs/big/evals")
        self.assertEqual(len(listing["evals"]), 2)
        newest = listing["evals"][0]
        self.assertEqual(len(newest["builds"]), 50)
        build = self.get_json(f"/build/{newest['builds'][0]}")
        self.assertTrue(make_dataset.is_valid_store_path(build["drvpath"]))
        self.assertEqual(self.get("/jobset/nixpkgs/trunk/evals").status, 404)

    def test_invalid_dataset_is_rejected(self) -> None:
        bad = make_dataset.big_dataset(2, seed=1)
        next(iter(bad["phases"]["1"]["builds"].values()))["drvpath"] = "/nix/store/tooshort-x.drv"
        with self.assertRaises(FakeHydraError):
            self.hydra.load_dataset(bad)
        self.assertEqual(self.get("/jobset/nixpkgs/trunk/evals").status, 200)

    # -- faults -------------------------------------------------------------------

    def test_status_fault_fires_count_times(self) -> None:
        self.hydra.add_faults([{"match": r"^/build/1$", "kind": "status", "status": 502, "count": 2,
                                "retry_after": "3"}])
        for _ in range(2):
            ans = self.get("/build/1")
            self.assertEqual(ans.status, 502)
            self.assertEqual(ans.headers["retry-after"], "3")
            self.assertIn("error", ans.json())
        self.assertEqual(self.get("/build/1").status, 200)
        self.assertEqual(self.get("/build/10").status, 200)

    def test_429_retry_after_forms(self) -> None:
        date = email.utils.formatdate(time.time() + 5, usegmt=True)
        self.hydra.add_faults([
            {"match": "/build/2", "kind": "429", "retry_after": "7"},
            {"match": "/build/2", "kind": "429", "retry_after": date},
            {"match": "/build/2", "kind": "429"},
        ])
        seen = []
        for _ in range(3):
            ans = self.get("/build/2")
            self.assertEqual(ans.status, 429)
            self.assertTrue(ans.content_type.startswith("text/html"))
            seen.append(ans.headers.get("retry-after"))
        self.assertEqual(seen, ["7", date, None])
        self.assertEqual(self.get("/build/2").status, 200)

    def test_503_fault(self) -> None:
        self.hydra.add_faults([{"match": "evals", "kind": "503"}])
        self.assertEqual(self.get("/jobset/nixpkgs/trunk/evals").status, 503)
        self.assertEqual(self.get("/jobset/nixpkgs/trunk/evals").status, 200)

    def test_reset_fault_sends_a_reset(self) -> None:
        self.hydra.add_faults([{"match": "^/build/3$", "kind": "reset"}])
        with self.assertRaises(ConnectionResetError):
            self.raw_exchange("/build/3")
        self.assertEqual(self.get("/build/3").status, 200)
        record = self.hydra.log()[0]
        self.assertEqual((record["fault"], record["status"], record["bytes"]), ("reset", None, 0))

    def test_truncate_fault_sends_half_the_declared_length(self) -> None:
        full = self.get("/build/4").body
        self.hydra.add_faults([{"match": "^/build/4$", "kind": "truncate"}])
        conn = http.client.HTTPConnection("127.0.0.1", self.hydra.port, timeout=10)
        try:
            conn.request("GET", "/build/4", headers=JSON_ACCEPT)
            resp = conn.getresponse()
            self.assertEqual(int(resp.getheader("Content-Length")), len(full))
            with self.assertRaises(http.client.IncompleteRead) as ctx:
                resp.read()
            self.assertEqual(len(ctx.exception.partial), len(full) // 2)
        finally:
            conn.close()

    def test_malformed_fault(self) -> None:
        self.hydra.add_faults([{"match": "^/eval/", "kind": "malformed"}])
        ans = self.get(f"/eval/{self.newest_eval('nixpkgs:trunk')}")
        self.assertEqual((ans.status, ans.content_type), (200, "application/json"))
        with self.assertRaises(ValueError):
            json.loads(ans.body)

    def test_slow_fault_drips_the_real_body(self) -> None:
        plain = self.get("/build/5").body
        rate = 4000
        self.hydra.add_faults([{"match": "^/build/5$", "kind": "slow", "bytes_per_sec": rate}])
        start = time.monotonic()
        ans = self.get("/build/5")
        elapsed = time.monotonic() - start
        self.assertEqual(ans.status, 200)
        self.assertEqual(json.loads(ans.body)["id"], 5)
        self.assertEqual(len(ans.body), len(plain))
        self.assertGreaterEqual(elapsed, 0.8 * len(plain) / rate)

    def test_gzip_bomb_fault(self) -> None:
        size = 4_000_000
        self.hydra.add_faults([{"match": "evals", "kind": "gzip-bomb", "inflated_bytes": size}])
        ans = self.get("/jobset/nixpkgs/trunk/evals", headers={"Accept": "application/json",
                                                               "Accept-Encoding": "gzip"})
        self.assertEqual((ans.status, ans.headers["content-encoding"]), (200, "gzip"))
        self.assertLess(len(ans.body), size // 100)
        inflated = zlib.decompressobj(31).decompress(ans.body)
        self.assertEqual(len(inflated), size)
        self.assertTrue(inflated.startswith(b"[ "))

    def test_oversize_fault(self) -> None:
        self.hydra.add_faults([{"match": "builds", "kind": "oversize", "bytes": 300001}])
        ans = self.get(f"/eval/{self.newest_eval('nixpkgs:trunk')}/builds")
        self.assertEqual(len(ans.body), 300001)
        self.assertIsInstance(json.loads(ans.body), list)

    def test_html_fault_answers_nonsense_with_200(self) -> None:
        self.hydra.add_faults([{"match": "", "kind": "html"}])
        ans = self.get("/build/1")
        self.assertEqual((ans.status, ans.content_type), (200, "text/html"))
        self.assertTrue(ans.body.startswith(b"<!DOCTYPE html>"))

    def test_redirect_loop_faults(self) -> None:
        self.hydra.add_faults([{"match": "^/build/6", "kind": "redirect-loop", "count": 1}])
        ans = self.get("/build/6")
        self.assertEqual(ans.status, 302)
        self.assertEqual(ans.headers["location"], f"{self.hydra.url}/build/6")
        self.hydra.add_faults([{"match": "^/build/7", "kind": "redirect-loop", "mode": "pingpong",
                                "status": 301, "count": -1}])
        path = "/build/7"
        seen = []
        for _ in range(4):
            ans = self.get(path)
            self.assertEqual(ans.status, 301)
            loc = urllib.parse.urlsplit(ans.headers["location"])
            path = loc.path + ("?" + loc.query if loc.query else "")
            seen.append(path)
        self.assertEqual(seen, ["/build/7?hsloop=1", "/build/7"] * 2)

    def test_wrong_content_type_fault_keeps_the_body(self) -> None:
        self.hydra.add_faults([{"match": "^/build/8$", "kind": "wrong-content-type"}])
        ans = self.get("/build/8")
        self.assertEqual((ans.status, ans.content_type), (200, "text/plain"))
        self.assertEqual(json.loads(ans.body)["id"], 8)

    def test_delay_fault(self) -> None:
        self.hydra.add_faults([{"match": "^/build/9$", "kind": "delay", "seconds": 0.2}])
        start = time.monotonic()
        self.assertEqual(self.get("/build/9").status, 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.2)

    def test_fault_forever_skip_query_match_and_clear(self) -> None:
        self.hydra.add_faults([{"match": r"evals\?page=2", "kind": "status", "status": 500, "count": -1},
                               {"match": "^/build/11$", "kind": "503", "skip": 1}])
        for _ in range(3):
            self.assertEqual(self.get("/jobset/nixpkgs/staging/evals?page=2").status, 500)
        self.assertEqual(self.get("/jobset/nixpkgs/staging/evals").status, 200)
        self.assertEqual([self.get("/build/11").status for _ in range(3)], [200, 503, 200])
        self.hydra.clear_faults()
        self.assertEqual(self.get("/jobset/nixpkgs/staging/evals?page=2").status, 200)

    def test_bad_fault_rule_is_rejected(self) -> None:
        with self.assertRaises(FakeHydraError):
            self.hydra.add_faults([{"match": "x", "kind": "no-such-kind"}])
        with self.assertRaises(FakeHydraError):
            self.hydra.add_faults([{"match": "(", "kind": "503"}])

    # -- log, compression, conditional requests ------------------------------------------

    def test_log_records_every_request(self) -> None:
        self.hydra.add_faults([{"match": "^/build/12$", "kind": "503"}])
        t0 = time.monotonic()
        ok = self.get("/build/1", headers={"Accept": "application/json", "User-Agent": "hs-test/1",
                                           "Accept-Encoding": "gzip"})
        self.get("/build/12")
        self.get("/jobset/nixpkgs/staging/evals?page=2")
        self.hydra.set_phase(1)  # control requests are not logged
        log = self.hydra.log()
        self.assertEqual([(r["method"], r["path"], r["query"]) for r in log],
                         [("GET", "/build/1", ""), ("GET", "/build/12", ""),
                          ("GET", "/jobset/nixpkgs/staging/evals", "page=2")])
        first = log[0]
        self.assertEqual(first["headers"], {"accept": "application/json", "accept-encoding": "gzip",
                                            "user-agent": "hs-test/1", "if-none-match": None,
                                            "if-modified-since": None})
        self.assertEqual((first["status"], first["bytes"], first["fault"]), (200, len(ok.body), None))
        self.assertLessEqual(t0, first["t_start"])
        self.assertLessEqual(first["t_start"], first["t_end"])
        self.assertEqual((log[1]["status"], log[1]["fault"]), (503, "503"))
        self.hydra.clear_log()
        self.assertEqual(self.hydra.log(), [])

    def test_log_file_gets_one_json_line_per_request(self) -> None:
        tmp = tempfile.mkdtemp(prefix="fake-hydra-log-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "requests.jsonl")
        with FakeHydra(DEMO_DATASET, log_file=path) as other:
            conn = http.client.HTTPConnection("127.0.0.1", other.port, timeout=10)
            conn.request("GET", "/build/1", headers=JSON_ACCEPT)
            conn.getresponse().read()
            conn.close()
            other.log()
        with open(path, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual([r["path"] for r in lines], ["/build/1"])

    # -- real limits: nginx's limit_req, the proxy's 504 -------------------------

    def test_limiter_follows_nginx_limit_req(self) -> None:
        # Times given, so exact: 2 r/s, burst 7, as hydra.nixos.org.
        limiter = fake_hydra.RateLimiter()
        delays = [limiter.admit(2.0, 7, 100.0) for _ in range(9)]
        self.assertEqual(delays, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, None])
        self.assertEqual(limiter.admit(2.0, 7, 101.0), 3.0)  # 7 - 2 leaked + 1
        self.assertEqual(limiter.admit(2.0, 7, 200.0), 0.0)  # idle: empty again
        self.assertEqual(limiter.admit(2.0, 7, 200.25), 0.25)

    def test_limiter_holds_the_burst_and_refuses_beyond_with_429(self) -> None:
        self.hydra.set_options(rate=2, burst=3)
        n = 6
        conns = [http.client.HTTPConnection("127.0.0.1", self.hydra.port, timeout=10) for _ in range(n)]
        for c in conns:
            c.connect()
        barrier = threading.Barrier(n)
        answers: list[tuple[int, dict[str, str], bytes, float]] = [None] * n  # type: ignore[list-item]

        def one(i: int) -> None:
            barrier.wait()
            start = time.monotonic()
            conns[i].request("GET", "/build/1", headers=JSON_ACCEPT)
            resp = conns[i].getresponse()
            body = resp.read()
            answers[i] = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, body,
                          time.monotonic() - start)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in conns:
            c.close()
        statuses = sorted(a[0] for a in answers)
        self.assertEqual(statuses, [200] * 4 + [429] * 2)
        for status, headers, body, took in answers:
            if status == 429:
                self.assertNotIn("retry-after", headers)
                self.assertTrue(headers["content-type"].startswith("text/html"))
                self.assertIn(b"<title>429 Too Many Requests</title>", body)
                self.assertLess(took, 1.0)  # refused at once, not held
        self.assertGreaterEqual(max(a[3] for a in answers if a[0] == 200), 1.4)  # the 4th waits 1.5 s
        log = self.hydra.log()
        self.assertEqual(sum(1 for r in log if r.get("limited")), 2)
        held = sorted(r.get("delayed", 0) for r in log if r["status"] == 200)
        for got, want in zip(held, [0, 0.5, 1.0, 1.5]):
            self.assertAlmostEqual(got, want, delta=0.05)

    def test_limiter_lets_one_request_a_second_through_undelayed(self) -> None:
        self.hydra.set_options(rate=50, burst=0)
        for _ in range(3):
            self.assertEqual(self.get("/build/1").status, 200)
            time.sleep(0.05)  # pacing, as the client's min-interval: the point of the test
        self.assertTrue(all(r["status"] == 200 and not r.get("limited") for r in self.hydra.log()))

    def test_eval_builds_504_above_a_member_count(self) -> None:
        newest = self.newest_eval("nixpkgs:trunk")
        members = len(self.get_json(f"/eval/{newest}")["builds"])
        self.hydra.set_options(eval_builds_504_above=members - 1, eval_builds_504_delay=0.3)
        start = time.monotonic()
        ans = self.get(f"/eval/{newest}/builds")
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual(ans.status, 504)
        self.assertTrue(ans.content_type.startswith("text/html"))
        self.assertIn(b"<title>504 Gateway Time-out</title>", ans.body)
        self.assertEqual(self.get(f"/eval/{newest}").status, 200)  # only the builds listing
        self.hydra.set_options(eval_builds_504_above=members, eval_builds_504_delay=0)
        self.assertEqual(len(self.get_json(f"/eval/{newest}/builds")), members)

    def test_options_are_typed_and_checked(self) -> None:
        self.assertEqual(self.hydra.set_options(rate=2.5)["rate"], 2.5)
        for bad in ({"rate": "fast"}, {"burst": -1}, {"eval_builds_504_above": True}, {"nodelay": 1}):
            with self.subTest(options=bad), self.assertRaises(FakeHydraError):
                self.hydra.control("POST", "options", bad)

    def test_limits_from_the_command_line(self) -> None:
        with FakeHydra(DEMO_DATASET, rate=3, burst=2, eval_builds_504_above=0,
                       eval_builds_504_delay=0.1) as other:
            state = other.control("GET", "state")
            self.assertEqual({k: state["options"][k] for k in ("rate", "burst", "eval_builds_504_above",
                                                              "eval_builds_504_delay")},
                             {"rate": 3.0, "burst": 2, "eval_builds_504_above": 0, "eval_builds_504_delay": 0.1})

    # -- the HTML evals listing and /api/latestbuilds ------------------------------

    def html_rows(self, body: str) -> list[dict]:
        rows = []
        for tr in re.findall(r"<tr>\s*<td><a class=\"row-link\".*?</tr>", body, re.S):
            badge = {kind: int(v) for kind, v in re.findall(r'class="badge badge-(\w+)">(\d+)<', tr)}
            rows.append({
                "id": int(re.search(r'href="[^"]*/eval/(\d+)"', tr).group(1)),
                "timestamp": int(re.search(r'data-timestamp="(\d+)"', tr).group(1)),
                "succeeded": badge.get("success", 0), "failed": badge.get("danger", 0),
                "queued": badge.get("secondary", 0),
            })
        return rows

    def counts_of(self, eval_id: int) -> dict:
        builds = self.get_json(f"/eval/{eval_id}/builds")
        return {
            "succeeded": sum(1 for b in builds if b["finished"] == 1 and b["buildstatus"] == 0),
            "failed": sum(1 for b in builds if b["finished"] == 1 and b["buildstatus"] != 0),
            "queued": sum(1 for b in builds if b["finished"] != 1),
        }

    def test_html_evals_listing_is_hydras_page(self) -> None:
        for phase in (1, 2):
            self.hydra.set_phase(phase)
            with self.subTest(phase=phase):
                listing = self.get_json("/jobset/nixpkgs/trunk/evals")
                ans = self.get("/jobset/nixpkgs/trunk/evals", headers={"Accept": "text/html"})
                self.assertEqual(ans.status, 200)
                self.assertEqual(ans.content_type, "text/html; charset=UTF-8")
                text = ans.body.decode()
                self.assertIn("<title>Hydra - Evaluations of jobset nixpkgs:trunk</title>", text)
                rows = self.html_rows(text)
                self.assertEqual([r["id"] for r in rows], [e["id"] for e in listing["evals"]])
                for row, ev in zip(rows, listing["evals"]):
                    self.assertEqual(row["timestamp"], ev["timestamp"])
                    self.assertEqual({k: row[k] for k in ("succeeded", "failed", "queued")},
                                     self.counts_of(ev["id"]))
                self.assertIn(f'href="{self.hydra.url}/eval/{rows[0]["id"]}"', text)

    def test_html_evals_listing_pages_like_the_json_one(self) -> None:
        page2 = self.get("/jobset/nixpkgs/staging/evals?page=2", headers={"Accept": "text/html"}).body.decode()
        json2 = self.get_json("/jobset/nixpkgs/staging/evals?page=2")
        self.assertEqual([r["id"] for r in self.html_rows(page2)], [e["id"] for e in json2["evals"]])
        self.assertIn("<p>Showing evaluations 21 - 25 out of 25.</p>", page2)
        self.assertIn('<li class="page-item"><a class="page-link" href="?page=1">&lsaquo; Previous</a></li>',
                      page2)
        self.assertIn('<li class="page-item disabled"><a class="page-link" href="?page=3">Next', page2)
        for headers in ({}, {"Accept": "*/*"}):
            body = self.get("/jobset/nixpkgs/staging/evals", headers=headers).body.decode()
            self.assertEqual(len(self.html_rows(body)), 20)

    def test_html_evals_page_renders_the_capture_byte_for_byte(self) -> None:
        capture = sample_http_body_real("probe-evals-html.http")
        rows = [hydra_html.EvalRow(3, 1735696800, [("nixpkgs", "c0ffee00" * 5)], 8, 1, 2, 1),
                hydra_html.EvalRow(2, 1735693200, [("nixpkgs", "a3c5e7f90b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e")],
                                   7, 2, 0, 3),
                hydra_html.EvalRow(1, 1735689600, [("nixpkgs", "0b7f5a1c3e2d4f6a8b9c0d1e2f3a4b5c6d7e8f90")],
                                   4, 4, 0, None)]
        ours = hydra_html.evals_page("http://127.0.0.1:3000", "nixpkgs", "trunk", rows, 1, 3)
        # Hydra printed one <time>'s attributes in another order (a Perl hash).
        capture = capture.replace(
            b'<time title="2025-01-01 00:00:00 (UTC)" datetime="2025-01-01T00:00:00Z" data-timestamp="1735689600"',
            b'<time data-timestamp="1735689600" title="2025-01-01 00:00:00 (UTC)" datetime="2025-01-01T00:00:00Z"')
        self.assertEqual(ours, capture)

    def test_latestbuilds_lists_finished_builds_newest_first(self) -> None:
        want_keys = set(json.loads(sample_http_body_real("probe-api-latestbuilds.http"))[0])
        phase = self.demo["phases"]["1"]["builds"]
        finished = sorted((int(k) for k, b in phase.items() if b.get("finished", 1) == 1), reverse=True)
        got = self.get_json("/api/latestbuilds?nr=5")
        self.assertEqual([b["id"] for b in got], finished[:5])
        for b in got:
            self.assertEqual(set(b), want_keys)
            self.assertEqual(b["finished"], 1)
            self.assertEqual(b["job"], phase[str(b["id"])]["job"])
        self.assertEqual(len(self.get_json("/api/latestbuilds?nr=100000")), len(finished))
        staging = self.get_json("/api/latestbuilds?nr=3&project=nixpkgs&jobset=staging")
        self.assertEqual(len(staging), 3)
        self.assertTrue(all(b["jobset"] == "staging" for b in staging))
        job = staging[0]["job"]
        self.assertTrue(all(b["job"] == job for b in self.get_json(f"/api/latestbuilds?nr=9&job={job}")))
        self.assertEqual(self.get_json("/api/latestbuilds?nr=5&project=nope"), [])
        self.assertEqual(self.get_json("/api/latestbuilds?nr=5&jobset=")[0]["id"], finished[0])
        # JSON whatever the Accept header; nr is required
        self.assertEqual(self.get("/api/latestbuilds?nr=1", headers={}).content_type, "application/json")
        missing = self.get("/api/latestbuilds")
        self.assertEqual((missing.status, missing.json()), (500, {"error": "Parameter not defined!"}))
        self.assertEqual(self.get("/api/latestbuilds?nr=x").status, 500)

    def test_latestbuilds_sees_a_restart(self) -> None:
        restarted = self.expect("restarted_phase2", 2)["build_id"]
        self.assertIn(restarted, [b["id"] for b in self.get_json("/api/latestbuilds?nr=1000")])
        self.hydra.set_phase(2)
        self.assertNotIn(restarted, [b["id"] for b in self.get_json("/api/latestbuilds?nr=1000")])

    def test_no_compression_by_default(self) -> None:
        ans = self.get("/build/1", headers={"Accept": "application/json", "Accept-Encoding": "gzip"})
        self.assertNotIn("content-encoding", ans.headers)
        self.assertEqual(json.loads(ans.body)["id"], 1)

    def test_gzip_when_enabled_and_accepted(self) -> None:
        self.hydra.set_options(gzip=True)
        ans = self.get("/jobset/nixpkgs/trunk/evals", headers={"Accept": "application/json",
                                                               "Accept-Encoding": "deflate, gzip"})
        self.assertEqual(ans.headers["content-encoding"], "gzip")
        self.assertIn("Accept-Encoding", ans.headers["vary"])
        self.assertIn("evals", json.loads(gzip.decompress(ans.body)))
        for ae in (None, "gzip;q=0", "br"):
            with self.subTest(accept_encoding=ae):
                headers = {"Accept": "application/json"}
                if ae:
                    headers["Accept-Encoding"] = ae
                plain = self.get("/jobset/nixpkgs/trunk/evals", headers=headers)
                self.assertNotIn("content-encoding", plain.headers)
                self.assertIn("evals", plain.json())

    def test_etag_and_last_modified_when_enabled(self) -> None:
        path = "/jobset/nixpkgs/trunk/evals"
        self.assertNotIn("etag", self.get(path).headers)
        self.hydra.set_options(etag=True)
        first = self.get(path)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = self.get(path, headers={"Accept": "application/json", "If-None-Match": etag})
        self.assertEqual((again.status, again.body), (304, b""))
        since = self.get(path, headers={"Accept": "application/json", "If-Modified-Since": modified})
        self.assertEqual(since.status, 304)
        older = email.utils.formatdate(email.utils.parsedate_to_datetime(modified).timestamp() - 60, usegmt=True)
        self.assertEqual(self.get(path, headers={"Accept": "application/json", "If-Modified-Since": older}).status,
                         200)
        self.hydra.set_phase(2)
        changed = self.get(path, headers={"Accept": "application/json", "If-None-Match": etag})
        self.assertEqual(changed.status, 200)
        self.assertNotEqual(changed.headers["etag"], etag)
        log = self.hydra.log()
        self.assertEqual(log[2]["headers"]["if-none-match"], etag)

    # -- process ------------------------------------------------------------------

    def test_listens_on_loopback_only(self) -> None:
        self.assertTrue(self.hydra.url.startswith("http://127.0.0.1:"))
        if not os.path.exists("/proc/net/tcp"):
            self.skipTest("no /proc/net/tcp")
        port_hex = f"{self.hydra.port:04X}"
        with open("/proc/net/tcp", encoding="ascii") as f:
            rows = [line.split() for line in f.readlines()[1:]]
        listening = [r[1] for r in rows if r[1].endswith(":" + port_hex) and r[3] == "0A"]
        self.assertEqual(listening, ["0100007F:" + port_hex])

    def test_hs_env_hides_the_user_environment(self) -> None:
        os.environ["HYDRA_STATUS_URL"] = "https://example.invalid"
        self.addCleanup(os.environ.pop, "HYDRA_STATUS_URL", None)
        env = hs_testlib.hs_env("/tmp/h", {"EXTRA": "1"})
        self.assertNotIn("HYDRA_STATUS_URL", env)
        self.assertEqual((env["HOME"], env["XDG_CONFIG_HOME"], env["XDG_STATE_HOME"], env["EXTRA"]),
                         ("/tmp/h", "/tmp/h/.config", "/tmp/h/.local/state", "1"))
        self.assertTrue(re.fullmatch(r"/tmp/h/\.config/hydra-status/config", hs_testlib.config_path("/tmp/h")))


if __name__ == "__main__":
    unittest.main()
