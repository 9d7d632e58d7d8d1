"""A shared index that the user may only read (issue 13, point 1): the system
timer's index, root-owned (or the hydra-status user's) in a 0755 directory,
0644 files, read by every other user. Lookups (single, --stdin, --all,
--job, --json), gate and info must answer from it, with its -wal and -shm
files absent (an admin's sqlite3 session deletes them), present, or held by
a writer whose commit is still in the -wal, and while a writer comes during
a lookup; they must write nothing next to it. record and forget exit 5 with
a message that the index is not writable.

Runs the real binary as a second user (uid 65534, "nobody"), so it needs
root, as in CI; skipped otherwise (root ignores file modes).

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_shared_index
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import FakeHydra, HsTestCase, hs_env, json_lines, make_dataset, run_hs

HS_BIN = hs_testlib.skip_unless_binary()
if os.geteuid() != 0:
    hs_testlib.skip_process("needs root to run hydra-status as a second user (uid 65534)")

try:
    _NOBODY = pwd.getpwnam("nobody")
    READER = (_NOBODY.pw_uid, _NOBODY.pw_gid)
except KeyError:
    READER = (65534, 65534)

REAL_DRVS = os.path.join(hs_testlib.TESTS_DIR, "data", "drv", "real")
STORE = "/nix/store"
JOBSET = "nixpkgs:trunk"


def real(name: str) -> str:
    [path] = glob.glob(os.path.join(REAL_DRVS, f"*-{name}.drv"))
    return f"{STORE}/{os.path.basename(path)}"


TOP, HELLO, BAD = real("top"), real("hello"), real("bad-leaf")  # TOP's closure holds both
UNKNOWN = f"{STORE}/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-nowhere.drv"
HELLO_JOB = "hello.x86_64-linux"

FX: dict[str, str] = {}


def setUpModule() -> None:  # noqa: N802
    tmp = tempfile.mkdtemp(prefix="hs-test-shared-")
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0700: the reader must get through
    store = os.path.join(tmp, "root", "nix", "store")
    os.makedirs(store, mode=0o755)
    for path in glob.glob(os.path.join(REAL_DRVS, "*.drv")):
        shutil.copy(path, store)
        os.chmod(os.path.join(store, os.path.basename(path)), 0o644)
    b = make_dataset.DatasetBuilder(seed=13)
    ids = [b.add_build(JOBSET, job, os.path.basename(drv)[33:-4], status=status,
                       timestamp=1_700_000_000, drvpath=drv)["id"]
           for job, drv, status in ((HELLO_JOB, HELLO, 0), ("bad-leaf.x86_64-linux", BAD, 1))]
    b.add_eval(JOBSET, ids, timestamp=1_700_000_100)
    db = os.path.join(tmp, "template", "index.sqlite")
    os.makedirs(os.path.dirname(db))
    with FakeHydra(b.to_json("shared index tests")) as hydra:
        proc = run_hs(["--url", hydra.url, "sync", "--jobset", JOBSET, "--min-interval", "0",
                       "-q"], db=db)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"sync failed ({proc.returncode}): {proc.stderr}")
    FX.update(tmp=tmp, root=os.path.join(tmp, "root"), template=db)


def tearDownModule() -> None:  # noqa: N802
    shutil.rmtree(FX["tmp"], ignore_errors=True)


def locked_inodes() -> set[int]:
    """Inodes with a lock on them, from /proc/locks ("... maj:min:inode start end")."""
    with open("/proc/locks") as f:
        return {int(line.split()[5].rsplit(":", 1)[1]) for line in f if len(line.split()) > 5}


class SharedIndexTest(HsTestCase):
    def setUp(self) -> None:
        super().setUp()
        os.chmod(self.tmp, 0o755)
        os.chmod(self.home, 0o777)
        self.dir = os.path.join(self.tmp, "system")
        os.mkdir(self.dir, 0o755)
        self.db = os.path.join(self.dir, "index.sqlite")
        for suffix in ("", "-wal", "-shm"):  # the sync leaves (keeps) -wal and -shm
            shutil.copy(FX["template"] + suffix, self.db + suffix)
            os.chmod(self.db + suffix, 0o644)
        self.writer: sqlite3.Connection | None = None
        self.addCleanup(self.close_writer)

    def close_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # --- the index's states ------------------------------------------------

    def remove_wal_and_shm(self) -> None:
        """What an admin's sqlite3 session leaves: as the last connection to
        close, it checkpoints and deletes the -wal and -shm files."""
        con = sqlite3.connect(self.db)
        con.execute("SELECT count(*) FROM build").fetchall()
        con.close()
        self.assertEqual(sorted(os.listdir(self.dir)), ["index.sqlite"])

    def hold_writer_with(self, sql: str) -> None:
        """A writer (root) that commits and stays open: the commit stays in the
        -wal, and only a reader that reads the WAL sees it."""
        self.writer = sqlite3.connect(self.db, isolation_level=None)
        self.assertEqual(self.writer.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        self.writer.execute("PRAGMA wal_autocheckpoint = 0")
        self.writer.execute(sql)
        self.assertGreater(os.path.getsize(self.db + "-wal"), 0)

    def files(self) -> list[tuple[str, int, int, int]]:
        out = []
        for name in sorted(os.listdir(self.dir)):
            st = os.stat(os.path.join(self.dir, name))
            out.append((name, st.st_uid, st.st_size, st.st_mtime_ns))
        return out

    # --- running as the reader ----------------------------------------------

    def reader_args(self, args: list[str]) -> dict:
        return dict(env=hs_env(self.home), cwd=self.home, user=READER[0], group=READER[1],
                    extra_groups=[])

    def read(self, args: list[str], input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([HS_BIN, "--db", self.db, *args], input=input, text=True,
                              capture_output=True, timeout=30, **self.reader_args(args))

    def expect(self, args: list[str], code: int, input: str | None = None) -> str:
        proc = self.read(args, input)
        self.assertExit(proc, code)
        self.assertNotIn("readonly", proc.stderr)
        return proc.stdout

    def check_reads(self, hello: str) -> None:
        """Every reading command answers; hello is HELLO's status."""
        before = self.files()
        hello_code = 0 if hello == "succeeded" else 1
        self.assertIn(hello, self.expect(["lookup", HELLO], hello_code))
        self.assertIn("failed", self.expect(["lookup", BAD], 1))
        self.assertIn("unknown", self.expect(["lookup", UNKNOWN], 3))
        answers = json_lines(self.expect(["--json", "lookup", HELLO, BAD, UNKNOWN], 1))
        self.assertEqual([a["status"] for a in answers], [hello, "failed", "unknown"])
        self.assertEqual(answers[1]["jobset"], JOBSET)
        answers = json_lines(self.expect(["--json", "lookup", "--stdin"], 1,
                                         input=f"{HELLO}\n{BAD}\n{UNKNOWN}\n"))
        self.assertEqual([a["status"] for a in answers], [hello, "failed", "unknown"])
        answers = json_lines(self.expect(["--json", "lookup", "--all", HELLO], hello_code))
        self.assertEqual([a["status"] for a in answers], [hello])
        answers = json_lines(self.expect(["--json", "lookup", "--job", HELLO_JOB, "--jobset",
                                          JOBSET], hello_code))
        self.assertEqual([a["status"] for a in answers], [hello])
        gate = ["gate", "--store-root", FX["root"]]
        self.expect(gate + [HELLO], hello_code)
        self.assertIn("bad-leaf", self.expect(gate + [TOP], 1))
        self.assertIn(JOBSET, self.expect(["info"], 0))
        [*jobsets, total] = json_lines(self.expect(["--json", "info"], 0))
        self.assertEqual((total["index"], total["jobsets"]), (self.db, 1))
        self.assertEqual(jobsets[0]["builds"], 2)
        for args in (["record", "--failed", HELLO, "--reason", "oom"], ["forget", BAD],
                     ["forget", "--all"]):
            with self.subTest(args=args):
                proc = self.read(args)
                self.assertExit(proc, 5)
                self.assertIn(self.db, proc.stderr)
                self.assertIn("not writable", proc.stderr)
        self.assertEqual(self.files(), before, "a reader wrote or created something")

    # --- the tests ----------------------------------------------------------

    def test_without_wal_and_shm(self) -> None:
        self.remove_wal_and_shm()
        self.check_reads(hello="succeeded")

    def test_with_wal_and_shm_left_by_the_sync(self) -> None:
        self.assertEqual(sorted(os.listdir(self.dir)),
                         ["index.sqlite", "index.sqlite-shm", "index.sqlite-wal"])
        self.check_reads(hello="succeeded")

    def test_with_a_writer_whose_commit_is_in_the_wal(self) -> None:
        self.remove_wal_and_shm()
        self.hold_writer_with("UPDATE build SET status = 1 WHERE name = 'hello'")
        self.check_reads(hello="failed")

    def test_writer_comes_while_a_lookup_reads(self) -> None:
        self.remove_wal_and_shm()
        reader = subprocess.Popen([HS_BIN, "--db", self.db, "--json", "lookup", "--stdin"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, **self.reader_args([]))
        self.addCleanup(reader.kill)
        # The reader holds its lock on the index while it waits for keys.
        inode = os.stat(self.db).st_ino
        deadline = time.monotonic() + 10
        while inode not in locked_inodes():
            if reader.poll() is not None:
                self.fail(f"the reader ended ({reader.returncode}): {reader.communicate()}")
            self.assertLess(time.monotonic(), deadline, "the reader never locked the index")
            time.sleep(0.01)
        # A writer commits and checkpoints into the main file, then closes.
        con = sqlite3.connect(self.db, isolation_level=None)
        con.execute("UPDATE build SET status = 1 WHERE name = 'hello'")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        out, err = reader.communicate(f"{HELLO}\n{BAD}\n", timeout=30)
        self.assertEqual(reader.returncode, 1, err)
        self.assertEqual([a["status"] for a in json_lines(out)], ["failed", "failed"])
        # The reader's lock kept the closing writer from deleting them.
        self.assertEqual(sorted(os.listdir(self.dir)),
                         ["index.sqlite", "index.sqlite-shm", "index.sqlite-wal"])

    def test_wal_with_commits_but_no_shm_is_exit_5_naming_it(self) -> None:
        self.remove_wal_and_shm()
        self.hold_writer_with("UPDATE build SET status = 1 WHERE name = 'hello'")
        # A copy as a crash could leave it: the commit in the -wal, no -shm.
        other = os.path.join(self.tmp, "crashed")
        os.mkdir(other, 0o755)
        for suffix in ("", "-wal"):
            shutil.copy(self.db + suffix, os.path.join(other, "index.sqlite" + suffix))
        self.db = os.path.join(other, "index.sqlite")
        proc = self.read(["lookup", HELLO])
        self.assertExit(proc, 5)
        self.assertIn(self.db + "-shm", proc.stderr)
        self.assertNotIn("succeeded", proc.stdout)  # never the stale answer of the main file
        self.assertEqual(sorted(os.listdir(other)), ["index.sqlite", "index.sqlite-wal"])


if __name__ == "__main__":
    unittest.main()
