"""Sync progress on a terminal (issue 13, point 12): the real binary on a
pseudo-terminal 50 columns wide, against the fake Hydra with a 429 +
Retry-After on the listing and an answer dripped over a few seconds. The
redrawn line shows the build counter as it grows, is cut to the width (no
half-line stays behind on the screen), shows the wait, and the per-eval
summary lines are printed only when stderr is not a terminal.

The screen is rendered by a small terminal emulator (auto-wrap at the
width, carriage return, erase to end of line), so the test sees what a user
sees.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_progress
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra

HS_BIN = hs_testlib.skip_unless_binary()

COLUMNS = 50
JOBSET = "nixpkgs:trunk"
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def render(text: str, columns: int) -> list[str]:
    """The rows a terminal `columns` wide shows after `text`: printable
    characters wrap at the width (xterm's deferred wrap), CR goes to column 0,
    LF to the next row, ESC [ K erases to the end of the row, other escape
    sequences (colours) take no room."""
    rows: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x1b":
            match = CSI.match(text, i)
            if match:
                if match.group().endswith("K"):
                    del rows[row][col:]
                i = match.end()
                continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            col = 0
            if row == len(rows):
                rows.append([])
        else:
            if col >= columns:  # the row is full: this character wraps
                row += 1
                col = 0
                if row == len(rows):
                    rows.append([])
            cells = rows[row]
            while len(cells) < col:
                cells.append(" ")
            if col < len(cells):
                cells[col] = ch
            else:
                cells.append(ch)
            col += 1
        i += 1
    return ["".join(cells).rstrip() for cells in rows]


def redrawn_lines(text: str) -> list[str]:
    """The lines drawn in place: each text between CR/LF that a later CR
    overwrites (escape sequences removed)."""
    out = []
    for match in re.finditer(r"([^\r\n]*)\r(?!\n)", text):
        line = CSI.sub("", match.group(1))
        if line:
            out.append(line)
    return out


def run_on_pty(argv: list[str], env: dict, columns: int, timeout: float = 60) -> tuple[int, str]:
    """Runs argv with stdin, stdout and stderr on a pseudo-terminal `columns`
    wide; returns (exit code, everything written to it)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                cwd=env["HOME"], start_new_session=True)
        os.close(slave)
        slave = -1
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer is gone
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=10)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


class ProgressTest(hs_testlib.HsTestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(DEMO_DATASET).start()
        cls.builds = len(cls.hydra.dataset["phases"]["1"]["evals"]["3"]["builds"])

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop_checked()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.argv = [HS_BIN, "--db", self.db, "--url", self.hydra.url, "sync", "--jobset", JOBSET,
                     "--min-interval", "10ms"]

    def env(self, **extra: str) -> dict:
        return hs_testlib.hs_env(self.home, {"TERM": "xterm", "COLUMNS": None, **extra})

    def test_terminal_line_counts_waits_and_fits_the_width(self) -> None:
        self.hydra.add_faults([
            {"match": f"^/jobset/{JOBSET.replace(':', '/')}/evals", "kind": "429",
             "retry_after": "2", "count": 1},
            # About 3 s for the 17 KiB answer: the builds arrive one by one.
            {"match": r"^/eval/3/builds", "kind": "slow", "bytes_per_sec": 6000, "count": 1},
        ])
        code, out = run_on_pty(self.argv, self.env(), COLUMNS)
        self.assertEqual(code, 0, out)

        drawn = redrawn_lines(out)
        self.assertTrue(drawn, out)
        for line in drawn:
            self.assertLess(len(line), COLUMNS, f"a redrawn line passes the width: {line!r}")
        # The build counter moves while the answer arrives, up to the eval's
        # size ("1 build", not "1 builds").
        counts = [int(m.group(1)) for line in drawn
                  for m in [re.search(r"eval 1/1, (\d+) builds?\b", line)] if m]
        self.assertGreaterEqual(len(set(counts)), 3, drawn)
        self.assertEqual(max(counts), self.builds, drawn)
        self.assertEqual(counts, sorted(counts), "the counter only grows")
        self.assertNotRegex(out, r"\b1 builds\b")
        # The Retry-After wait is shown, counting down.
        waits = [line for line in drawn if line.startswith("waiting ")]
        self.assertIn("waiting 2 s: Hydra asked to retry later", waits)
        self.assertIn("waiting 1 s: Hydra asked to retry later", waits)

        # On the screen: the jobset's summary and the run's, nothing left of
        # the redrawn line, and no per-eval line.
        screen = [row for row in render(out, COLUMNS) if row]
        text = "\n".join(screen)
        self.assertNotIn("eval 1/1", text, screen)
        self.assertNotIn("waiting", text, screen)
        self.assertNotIn(f"{JOBSET}: eval 3:", out, "per-eval lines only off a terminal")
        joined = "".join(screen)  # the summaries may wrap at 50 columns
        # The listing as HTML (429, then again), /eval/3, /eval/3/builds.
        self.assertIn(f"{JOBSET}: 1 new eval, {self.builds} builds; 4 requests", joined)
        self.assertIn("synced 1 of 1 jobset: 1 eval", joined)

    def test_plain_lines_on_a_pipe(self) -> None:
        self.hydra.add_faults([{"match": f"^/jobset/{JOBSET.replace(':', '/')}/evals",
                                "kind": "429", "retry_after": "1", "count": 1}])
        proc = subprocess.run(self.argv, capture_output=True, text=True, timeout=60,
                              env=self.env(), cwd=self.home)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(lines[0], f"{JOBSET}: eval 3: {self.builds} builds (eval-builds)")
        # The listing as HTML (429, then again), /eval/3, /eval/3/builds.
        self.assertRegex(lines[1], rf"^{JOBSET}: 1 new eval, {self.builds} builds; 4 requests, ")
        self.assertRegex(lines[2], r"^synced 1 of 1 jobset: 1 eval, \d+ builds; 4 requests, ")
        self.assertEqual(len(lines), 3, "waits are said off a terminal only with -v")
        self.assertNotIn("\r", proc.stderr)
        self.assertNotIn("\x1b", proc.stderr)

    def test_waits_on_a_pipe_with_verbose(self) -> None:
        self.hydra.add_faults([{"match": f"^/jobset/{JOBSET.replace(':', '/')}/evals",
                                "kind": "429", "retry_after": "1", "count": 1}])
        proc = subprocess.run([*self.argv, "-v"], capture_output=True, text=True, timeout=60,
                              env=self.env(), cwd=self.home)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("waiting 1 s: Hydra asked to retry later (try 2 of 6)\n", proc.stderr)

    def test_dumb_terminal_gets_plain_lines(self) -> None:
        code, out = run_on_pty(self.argv, self.env(TERM="dumb"), COLUMNS)
        self.assertEqual(code, 0, out)
        self.assertNotIn("\x1b", out)
        self.assertEqual(redrawn_lines(out), [])
        self.assertIn(f"{JOBSET}: eval 3: {self.builds} builds (eval-builds)", out)


if __name__ == "__main__":
    unittest.main()
