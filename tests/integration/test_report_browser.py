"""The HTML report in headless Chromium (issue 18, point 4).

Opens `report --html` pages with `chromium --headless --dump-dom` and reads
the DOM the page's script built: the counts, the rows, the build and log
links, the filter box (typed into through the page's #filter=TEXT fragment,
which feeds the text to the box as input events), sorting (#sort=N clicks a
heading), escaping of a hostile job name, and a 5,000-failure page.

Chromium is Debian's `chromium` (contrib/install-deps). Without it the test
skips, except in CI (CI=true), where it fails.

  python3 test_report_browser.py --screenshot FILE   # the doc/ screenshot
"""

import html.parser
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hs_testlib  # noqa: E402
from hs_testlib import FakeHydra, HsTestCase, run_hs  # noqa: E402
from test_history import HOSTILE, HistoryData  # noqa: E402

hs_testlib.skip_unless_binary()
make_dataset = hs_testlib.make_dataset

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-extensions", "--mute-audio"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI") == "true":
            raise AssertionError("chromium is missing (contrib/install-deps installs it); "
                                 "in CI the browser test must run")
        raise unittest.SkipTest("chromium is not installed (contrib/install-deps installs it)")
    return path


def browse(page: str, fragment: str = "", *, screenshot: str | None = None,
           size: str = "1200,900") -> str:
    """The DOM of file://page#fragment after its script ran (or a screenshot)."""
    with tempfile.TemporaryDirectory(prefix="hs-chromium-") as profile:
        cmd = [chromium()] + CHROMIUM_FLAGS + [f"--user-data-dir={profile}",
                                               f"--window-size={size}"]
        cmd += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        cmd.append("file://" + os.path.abspath(page) + fragment)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, HOME=profile))
    if proc.returncode != 0:
        raise AssertionError(f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


class Dom(html.parser.HTMLParser):
    """What the tests read from a dumped DOM: elements by id, table rows, links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self.text_of: dict[str, str] = {}
        self.rows: list[list[str]] = []  # cells of #rows tbody
        self.links: list[list[str]] = []  # hrefs per row
        self.scripts = 0
        self._stack: list[str] = []
        self._open_id: list[str] = []
        self._in_rows = False
        self._in_body = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if "id" in a:
            self.by_id[a["id"]] = a
            self._open_id.append(a["id"])
            self.text_of.setdefault(a["id"], "")
        if a.get("id") == "rows":
            self._in_rows = True
        if self._in_rows and tag == "tbody":
            self._in_body = True
        if self._in_body and tag == "tr":
            self.rows.append([])
            self.links.append([])
        if self._in_body and tag == "td":
            self._cell = []
        if self._in_body and tag == "a":
            self.links[-1].append(a["href"])
        self._stack.append(a.get("id", ""))

    def handle_endtag(self, tag):
        if self._in_body and tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        if tag == "tbody":
            self._in_body = False
        if tag == "table":
            self._in_rows = False
        if self._stack:
            ident = self._stack.pop()
            if ident and self._open_id and self._open_id[-1] == ident:
                self._open_id.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        for ident in self._open_id:
            self.text_of[ident] += data


class ReportBrowserTest(HsTestCase):
    data: HistoryData

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        chromium()
        cls.data = HistoryData()
        cls.page = os.path.join(cls.data.dir, "report.html")
        proc = run_hs(["--url", cls.data.hydra.url, "report", "--jobset", "nixpkgs:trunk",
                       "--html", cls.page], db=cls.data.db)
        if proc.returncode != 1:
            cls.data.close()
            raise RuntimeError(proc.stderr)
        # one browser run per page state: each takes seconds on a busy machine
        cls.plain = Dom(browse(cls.page))
        cls.sorted_filtered = Dom(browse(cls.page, "#sort=1&filter=LINUX"))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.data.close()
        super().tearDownClass()

    def test_counts_rows_and_links(self) -> None:
        dom = self.plain
        totals = {k: dom.text_of[f"total-{k}"] for k in
                  ("newly-failing", "newly-fixed", "still-failing", "new-job", "removed-job")}
        self.assertEqual(totals, {"newly-failing": "2", "newly-fixed": "1", "still-failing": "3",
                                  "new-job": "1", "removed-job": "1"})
        self.assertEqual(dom.by_id["shown"]["data-shown"], "8")
        self.assertEqual(len(dom.rows), 8)
        builds = self.data.dataset["phases"]["1"]["builds"]
        git = next(b["id"] for b in builds.values()
                   if b["job"] == "git.aarch64-linux" and b["buildstatus"] == 1)
        row = next(i for i, cells in enumerate(dom.rows) if cells[1] == "git.aarch64-linux")
        self.assertEqual(dom.rows[row][0], "newly-failing")
        url = self.data.hydra.url
        self.assertEqual(dom.links[row][:2], [f"{url}/build/{git}", f"{url}/build/{git}/log"])
        # the hostile name is text in a cell, not markup
        self.assertIn(HOSTILE, [cells[1] for cells in dom.rows])
        self.assertEqual(dom.scripts, 2)
        self.assertNotIn("alert", "".join(dom.by_id))
        # the chart has a bar group per system with failures
        self.assertIn("chart", dom.by_id)

    def test_typing_into_the_filter_box_filters(self) -> None:
        dom = self.sorted_filtered  # every job but nodejs.x86_64-darwin, any case
        jobs = [cells[1] for cells in dom.rows]
        self.assertEqual(len(jobs), 7)
        self.assertNotIn("nodejs.x86_64-darwin", jobs)
        self.assertEqual(dom.by_id["shown"]["data-shown"], "7")
        self.assertEqual(dom.text_of["shown"], "7 of 8 rows")

    def test_clicking_a_heading_sorts(self) -> None:
        jobs = [cells[1] for cells in self.sorted_filtered.rows]
        self.assertEqual(jobs, sorted(jobs))
        self.assertEqual(jobs[0], HOSTILE)  # '<' sorts first
        plain = [cells[1] for cells in self.plain.rows]
        self.assertNotEqual(plain, sorted(plain))  # unsorted, by change


def failures_dataset(n: int) -> dict:
    """Two evals of the same n failed builds over four systems (n still failing)."""
    b = make_dataset.DatasetBuilder(seed=5)
    systems = ["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]
    ids = []
    for i in range(n):
        system = systems[i % 4]
        build = b.add_build("nixpkgs:big", f"python312Packages.pkg-{i}.{system}", f"pkg-{i}-1.1",
                            status=1 if i % 3 else 2, timestamp=1000 + i, system=system)
        ids.append(build["id"])
    b.add_eval("nixpkgs:big", ids, timestamp=1000, eval_id=1)
    b.add_eval("nixpkgs:big", ids, timestamp=90000, eval_id=2)
    return b.to_json("5,000 failures for the report's browser test")


class LargeReportBrowserTest(HsTestCase):
    def test_five_thousand_failures_stay_responsive(self) -> None:
        chromium()
        n = 5000
        with FakeHydra(failures_dataset(n)) as hydra:
            proc = self.hs(["--url", hydra.url, "sync", "--jobset", "nixpkgs:big",
                            "--max-evals", "2", "--min-interval", "0", "-q"])
            self.assertExit(proc, 0)
            page = os.path.join(self.tmp, "big.html")
            proc = self.hs(["--url", hydra.url, "report", "--jobset", "nixpkgs:big",
                            "--html", page])
            self.assertExit(proc, 0)  # nothing newly failing
        self.assertLess(os.path.getsize(page), 1_000_000)
        # the first page of rows at once, the count of every match
        dom = Dom(browse(page))
        self.assertEqual(dom.text_of["total-still-failing"], str(n))
        self.assertEqual(len(dom.rows), 1000)
        self.assertEqual(dom.by_id["shown"]["data-matching"], str(n))
        self.assertLess(int(dom.by_id["shown"]["data-render-ms"]), 1000)
        self.assertNotIn("hidden", dom.by_id["more"])
        # typing filters all 5,000
        dom = Dom(browse(page, "#filter=pkg-4999."))
        self.assertEqual([cells[1] for cells in dom.rows],
                         ["python312Packages.pkg-4999.aarch64-darwin"])
        # "show all" builds every row
        dom = Dom(browse(page, "#all"))
        self.assertEqual(len(dom.rows), n)
        self.assertIn("hidden", dom.by_id["more"])  # nothing more to show


if __name__ == "__main__":
    if sys.argv[1:2] == ["--screenshot"]:
        data = HistoryData()
        try:
            page = os.path.join(data.dir, "report.html")
            run_hs(["--url", "https://hydra.example.org", "report", "--jobset", "nixpkgs:trunk",
                    "--html", page], db=data.db)
            browse(page, screenshot=os.path.abspath(sys.argv[2]), size="1000,1100")
        finally:
            data.close()
        sys.exit(0)
    unittest.main()
