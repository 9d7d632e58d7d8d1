"""history, bisect, evals and report against the fake Hydra (issue 18).

The dataset (tests/fake_hydra/datasets/history.json, made by history_dataset
below) has evals whose inputs are real commits of a small git repository
that the tests rebuild (fixed dates and names, so the same commit ids), and
jobs with known histories:

  nixpkgs:trunk, evals 201-208 on commits c0 c1 c2 c3 c5 c6 c7 c9 (c4 and c8
  never evaluated):
    hello   succeeded 201-204, aborted 205, failed 206-208 -> broke 204..206
    curl    failed everywhere                                -> never succeeded
    zlib    succeeded everywhere                             -> still good
    perl    failed 201-207, succeeded 208                    -> newly fixed in 208
    git     succeeded 201-207, failed 208                    -> newly failing
    <script>... a hostile job name, like git                 -> newly failing
    nodejs  only in 207-208, failed                          -> still failing
    python2 only in 201-207                                  -> removed in 208
    openssl only in 208                                      -> new in 208
  nixos:release, evals 301-303 with inputs nixpkgs (c0, c1, c2),
  nixos-hardware (h0, h1, h1) and small (a boolean): tests.boot succeeded,
  succeeded, failed.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hs_testlib  # noqa: E402
from hs_testlib import FakeHydra, HsTestCase, json_lines, run_hs  # noqa: E402

hs_testlib.skip_unless_binary()
make_dataset = hs_testlib.make_dataset

DATASET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "fake_hydra", "datasets", "history.json")
BASE_TIME = 1735689600
HOSTILE = '<script>alert("x")</script>\'.x86_64-linux'
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def make_repo(path: str, count: int = 10) -> list[str]:
    """A git repository with a line of `count` commits c0..c(count-1); their ids."""
    env = dict(os.environ, **GIT_ENV)
    subprocess.run(["git", "init", "-q", path], check=True, env=env)
    ids = []
    for i in range(count):
        with open(os.path.join(path, "f"), "w") as fh:
            fh.write(f"{i}\n")
        subprocess.run(["git", "-C", path, "add", "f"], check=True, env=env)
        subprocess.run(["git", "-C", path, "commit", "-q", "-m", f"c{i}"], check=True, env=env)
        ids.append(subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True, env=env,
                                  capture_output=True, text=True).stdout.strip())
    return ids


# status per eval (None: the eval does not hold the job); a new build when
# the status changes, or at the evals listed in REBUILT.
TRUNK_JOBS = {
    "hello.x86_64-linux": [0, 0, 0, 0, 3, 1, 1, 1],
    "curl.x86_64-linux": [1] * 8,
    "zlib.x86_64-linux": [0] * 8,
    "perl.aarch64-linux": [1] * 7 + [0],
    "git.aarch64-linux": [0] * 7 + [1],
    HOSTILE: [0] * 7 + [1],
    "nodejs.x86_64-darwin": [None] * 6 + [1, 1],
    "python2.x86_64-linux": [0] * 7 + [None],
    "openssl.x86_64-linux": [None] * 7 + [0],
}
REBUILT = {"hello.x86_64-linux": {2}}
TRUNK_COMMITS = [0, 1, 2, 3, 5, 6, 7, 9]
NIXOS_JOB = {"tests.boot.x86_64-linux": [0, 0, 1]}


def add_jobs(b, jobset: str, jobs: dict, n_evals: int, rebuilt: dict) -> list[list[int]]:
    members: list[list[int]] = [[] for _ in range(n_evals)]
    for job, statuses in jobs.items():
        name = job.split(".")[0].strip("<>'\"") or "job"
        nixname = "".join(c for c in name if c.isalnum()) + "-1.0"
        last = None
        for e, status in enumerate(statuses):
            if status is None:
                last = None
                continue
            if last is None or last["buildstatus"] != status or e in rebuilt.get(job, ()):
                last = b.add_build(jobset, job, nixname, status=status,
                                   timestamp=BASE_TIME + e * 86400 + 100,
                                   system=job.rsplit(".", 1)[-1])
            members[e].append(last["id"])
    return members


def history_dataset(commits: list[str]) -> dict:
    b = make_dataset.DatasetBuilder(seed=18)
    trunk = add_jobs(b, "nixpkgs:trunk", TRUNK_JOBS, 8, REBUILT)
    for e, ids in enumerate(trunk):
        b.add_eval("nixpkgs:trunk", ids, timestamp=BASE_TIME + e * 86400, eval_id=201 + e,
                   revision=commits[TRUNK_COMMITS[e]])
    nixos = add_jobs(b, "nixos:release", NIXOS_JOB, 3, {})
    hardware = ["%040x" % (0xa0 + i) for i in (0, 1, 1)]
    for e, ids in enumerate(nixos):
        ev = b.add_eval("nixos:release", ids, timestamp=BASE_TIME + e * 86400, eval_id=301 + e,
                        revision=commits[e])
        ev["jobsetevalinputs"]["nixos-hardware"] = {
            "type": "git", "uri": "https://github.com/NixOS/nixos-hardware.git",
            "revision": hardware[e], "value": None, "dependency": None}
        ev["jobsetevalinputs"]["small"] = {"type": "boolean", "uri": None, "revision": None,
                                           "value": "true", "dependency": None}
    return b.to_json("history, bisect, evals and report (tests/integration/test_history.py)")


class HistoryData:
    """The repository, the dataset, the fake Hydra and an index synced from it."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="hs-history-")
        self.repo = os.path.join(self.dir, "repo")
        self.commits = make_repo(self.repo)
        self.dataset = history_dataset(self.commits)
        self.hydra = FakeHydra(self.dataset).start()
        self.db = os.path.join(self.dir, "index.sqlite")
        for jobset in ("nixpkgs:trunk", "nixos:release"):
            proc = run_hs(["--url", self.hydra.url, "sync", "--jobset", jobset, "--max-evals",
                           "20", "--min-interval", "0", "-q"], db=self.db)
            if proc.returncode != 0:
                self.close()
                raise RuntimeError(proc.stderr)

    def close(self) -> None:
        self.hydra.stop()
        subprocess.run(["rm", "-rf", self.dir], check=False)


_DATA: list[HistoryData] = []


def setUpModule() -> None:  # noqa: N802
    _DATA.append(HistoryData())


def tearDownModule() -> None:  # noqa: N802
    while _DATA:
        _DATA.pop().close()


class HistoryCase(HsTestCase):
    @property
    def data(self) -> HistoryData:
        return _DATA[0]

    def run_hs(self, args, **kw):
        kw.setdefault("db", self.data.db)
        kw.setdefault("home", self.home)
        return run_hs(["--url", self.data.hydra.url] + list(args), **kw)

    def c(self, i: int) -> str:
        return self.data.commits[i]


class DatasetFileTest(unittest.TestCase):
    def test_committed_dataset_is_current(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            commits = make_repo(os.path.join(tmp, "repo"))
        with open(DATASET, encoding="utf-8") as fh:
            committed = json.load(fh)
        self.assertEqual(committed, json.loads(json.dumps(history_dataset(commits))),
                         "regenerate: python3 tests/integration/test_history.py --write-dataset")


class HistoryTest(HistoryCase):
    def test_job_history_marks_changes(self) -> None:
        proc = self.run_hs(["--json", "history", "--job", "hello.x86_64-linux",
                            "--jobset", "nixpkgs:trunk"])
        self.assertExit(proc, 0)
        rows = json_lines(proc.stdout)
        self.assertEqual([r["eval"]["eval_id"] for r in rows], list(range(208, 200, -1)))
        self.assertEqual([r["build"]["status"] for r in rows],
                         ["failed"] * 3 + ["aborted"] + ["succeeded"] * 4)
        self.assertEqual([r["changed"] for r in rows],
                         [False, False, True, True, False, False, False, False])
        self.assertEqual(rows[0]["eval"]["revision"], self.c(9))
        self.assertEqual(rows[0]["build"]["log_url"],
                         f"{self.data.hydra.url}/build/{rows[0]['build']['build_id']}/log")
        # eval 203 rebuilt hello with the same result: a new build id, no mark
        self.assertNotEqual(rows[5]["build"]["build_id"], rows[6]["build"]["build_id"])

    def test_history_by_key_and_limit(self) -> None:
        builds = self.data.dataset["phases"]["1"]["builds"]
        drv = next(b["drvpath"] for b in builds.values()
                   if b["job"] == "hello.x86_64-linux" and b["buildstatus"] == 1)
        proc = self.run_hs(["history", "--limit", "2", drv])
        self.assertExit(proc, 0)
        lines = proc.stdout.splitlines()
        self.assertIn("hello.x86_64-linux in nixpkgs:trunk", lines[0])
        self.assertEqual(len(lines), 4, proc.stdout)  # heading, column names, 2 evals
        self.assertTrue(lines[2].split()[0] == "208" and "failed" in lines[2], proc.stdout)
        self.assertTrue(all(len(line) <= 80 for line in lines), proc.stdout)

    def test_unknown_job_and_jobset_exit_2(self) -> None:
        proc = self.run_hs(["history", "--job", "nosuch", "--jobset", "nixpkgs:trunk"])
        self.assertExit(proc, 2)
        self.assertIn("'nosuch'", proc.stderr)
        proc = self.run_hs(["history", "--job", "hello.x86_64-linux", "--jobset", "nixpkgs:nosuch"])
        self.assertExit(proc, 2)
        self.assertIn("nixpkgs:trunk", proc.stderr)

    def test_missing_index_exit_5(self) -> None:
        proc = self.run_hs(["history", "--job", "x", "--jobset", "a:b"],
                           db=os.path.join(self.tmp, "none.sqlite"))
        self.assertExit(proc, 5)


class BisectTest(HistoryCase):
    def test_broke_prints_git_bisect_start(self) -> None:
        proc = self.run_hs(["bisect", "--job", "hello.x86_64-linux", "--jobset", "nixpkgs:trunk",
                            "--repo", self.data.repo])
        self.assertExit(proc, 1)
        self.assertIn(f"git bisect start {self.c(6)} {self.c(3)}\n", proc.stdout)
        self.assertIn("3 commits lie between them", proc.stdout)
        # within 80 columns but for the command, printed whole to be pasted
        self.assertTrue(all(len(line) <= 80 for line in proc.stdout.splitlines()
                            if not line.startswith("  git bisect start ")), proc.stdout)
        proc = self.run_hs(["--json", "bisect", "--job", "hello.x86_64-linux", "--jobset",
                            "nixpkgs:trunk", "--repo", self.data.repo])
        answer = json_lines(proc.stdout)[0]
        self.assertEqual(answer["result"], "broke")
        self.assertEqual(answer["good"]["eval"]["eval_id"], 204)
        self.assertEqual(answer["bad"]["eval"]["eval_id"], 206)
        self.assertEqual(answer["evals_between"], 1)
        self.assertEqual(answer["revisions_between"], [self.c(5)])
        self.assertEqual(answer["commits_between"], 3)
        self.assertEqual(answer["git_bisect"], f"git bisect start {self.c(6)} {self.c(3)}")

    def test_never_succeeded_exits_1_still_good_0(self) -> None:
        proc = self.run_hs(["--json", "bisect", "--job", "curl.x86_64-linux", "--jobset",
                            "nixpkgs:trunk"])
        self.assertExit(proc, 1)
        answer = json_lines(proc.stdout)[0]
        self.assertEqual(answer["result"], "never-succeeded")
        self.assertEqual(answer["bad"]["eval"]["eval_id"], 201)
        self.assertIsNone(answer["git_bisect"])
        proc = self.run_hs(["--json", "bisect", "--job", "perl.aarch64-linux", "--jobset",
                            "nixpkgs:trunk"])
        self.assertExit(proc, 0)
        self.assertEqual(json_lines(proc.stdout)[0]["result"], "still-good")

    def test_multiple_inputs_need_input(self) -> None:
        args = ["bisect", "--job", "tests.boot.x86_64-linux", "--jobset", "nixos:release"]
        proc = self.run_hs(args)
        self.assertExit(proc, 2)
        self.assertIn("nixos-hardware, nixpkgs, small", proc.stderr)
        proc = self.run_hs(["--json"] + args + ["--input", "nixpkgs"])
        self.assertExit(proc, 1)
        self.assertEqual(json_lines(proc.stdout)[0]["git_bisect"],
                         f"git bisect start {self.c(2)} {self.c(1)}")
        proc = self.run_hs(args + ["--input", "nixos-hardware"])
        self.assertExit(proc, 1)
        self.assertIn("did not change between them", proc.stdout)
        proc = self.run_hs(args + ["--input", "nosuch"])
        self.assertExit(proc, 2)


class EvalsTest(HistoryCase):
    def test_rev_exact_prefix(self) -> None:
        proc = self.run_hs(["--json", "evals", "--jobset", "nixpkgs:trunk", "--rev", self.c(5)[:7]])
        self.assertExit(proc, 0)
        rows = json_lines(proc.stdout)
        self.assertEqual([(r["match"], r["eval"]["eval_id"]) for r in rows], [("exact", 205)])

    def test_rev_nearest_before_and_after(self) -> None:
        proc = self.run_hs(["--json", "evals", "--jobset", "nixpkgs:trunk", "--rev", self.c(4),
                            "--repo", self.data.repo])
        self.assertExit(proc, 0)
        rows = json_lines(proc.stdout)
        self.assertEqual([(r["match"], r["eval"]["eval_id"]) for r in rows],
                         [("before", 204), ("after", 205)])
        # outside a checkout: exit 2, saying what is needed
        proc = self.run_hs(["evals", "--jobset", "nixpkgs:trunk", "--rev", self.c(4)],
                           cwd=self.tmp)
        self.assertExit(proc, 2)
        self.assertIn("--repo", proc.stderr)

    def test_rev_malformed(self) -> None:
        proc = self.run_hs(["evals", "--jobset", "nixpkgs:trunk", "--rev", "abc"])
        self.assertExit(proc, 2)


class ReportTest(HistoryCase):
    def test_categories_and_counts(self) -> None:
        proc = self.run_hs(["--json", "report", "--jobset", "nixpkgs:trunk"])
        self.assertExit(proc, 1)  # something is newly failing
        lines = json_lines(proc.stdout)
        head, rows = lines[0], lines[1:]
        self.assertEqual((head["eval"]["eval_id"], head["against"]["eval_id"]), (208, 207))
        totals = {k: v["total"] for k, v in head["counts"].items()}
        self.assertEqual(totals, {"newly-failing": 2, "newly-fixed": 1, "still-failing": 3,
                                  "new-job": 1, "removed-job": 1})
        by = {(r["change"], r["job"]) for r in rows}
        self.assertEqual(by, {("newly-failing", "git.aarch64-linux"), ("newly-failing", HOSTILE),
                              ("newly-fixed", "perl.aarch64-linux"),
                              ("still-failing", "curl.x86_64-linux"),
                              ("still-failing", "hello.x86_64-linux"),
                              ("still-failing", "nodejs.x86_64-darwin"),
                              ("new-job", "openssl.x86_64-linux"),
                              ("removed-job", "python2.x86_64-linux")})
        self.assertEqual(head["counts"]["newly-failing"]["systems"],
                         {"aarch64-linux": 1, "x86_64-linux": 1})
        git = next(r for r in rows if r["job"] == "git.aarch64-linux")
        self.assertEqual(git["now"]["log_url"],
                         f"{self.data.hydra.url}/build/{git['now']['build_id']}/log")
        self.assertEqual(git["before"]["status"], "succeeded")

    def test_against_older_eval_and_text(self) -> None:
        proc = self.run_hs(["report", "--jobset", "nixpkgs:trunk", "--eval", "206",
                            "--against", "204"])
        self.assertExit(proc, 1)
        self.assertIn("Newly failing (1):", proc.stdout)
        self.assertIn("hello.x86_64-linux", proc.stdout)
        self.assertTrue(all(len(line) <= 80 for line in proc.stdout.splitlines()), proc.stdout)
        proc = self.run_hs(["report", "--jobset", "nixpkgs:trunk", "--eval", "999"])
        self.assertExit(proc, 2)
        self.assertIn("201 to 208", proc.stderr)
        proc = self.run_hs(["report", "--jobset", "nixpkgs:trunk", "--eval", "201"])
        self.assertExit(proc, 2)

    def test_html_escapes_and_is_self_contained(self) -> None:
        page = os.path.join(self.tmp, "r.html")
        proc = self.run_hs(["report", "--jobset", "nixpkgs:trunk", "--html", page])
        self.assertExit(proc, 1)
        with open(page, encoding="utf-8") as fh:
            html = fh.read()
        self.assertNotIn("<script>alert", html)
        self.assertEqual(html.count("<script"), 2)  # the data and the code
        self.assertNotIn("src=", html)
        self.assertNotIn("<link", html)
        self.assertIn("Content-Security-Policy", html)
        proc = self.run_hs(["report", "--jobset", "nixpkgs:trunk", "--html",
                            os.path.join(self.tmp, "no", "such", "dir.html")])
        self.assertExit(proc, 2)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-dataset"]:
        with tempfile.TemporaryDirectory() as tmp:
            data = history_dataset(make_repo(os.path.join(tmp, "repo")))
        with open(DATASET, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        sys.exit(0)
    unittest.main()
