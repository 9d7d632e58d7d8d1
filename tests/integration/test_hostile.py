"""Hostile and broken input (issue 8): keys, config files, index files, the
index's directory, a disk that fills during a sync, hostile JSON on the
wire, URLs with credentials, --insecure, the index file's mode, and
--store-root confinement. The real binary against the fake Hydra.

Every error must be one clear line: "hydra-status: error: ...", lowercase,
naming the input, valid UTF-8 without raw control bytes, never a crash or a
stack trace, with the exit code of spec/cli.md.

Some cases need root (a tmpfs for a full disk) or a second user (a
read-only index: root writes any file, so they run as 'nobody' under root);
they are skipped where that is not possible.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_hostile
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import pwd
import resource
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, Iterable

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, HsTestCase, json_lines, make_dataset, run_hs

HS_BIN = hs_testlib.skip_unless_binary()

HASH = "mjs27ix6ig2bkbi3s3sm470vrv4lf7ic"  # a valid nix32 hash no build has
STORE = "/nix/store"
DRV_DIR = os.path.join(hs_testlib.TESTS_DIR, "data", "drv", "real")
TOP = f"{STORE}/jzypq3liijznyjv5k4dx0z66nq14lyv0-top.drv"
MID = f"{STORE}/4d6036pbqyd4n0gls08lqa9zxaj3lmqp-mid.drv"
HELLO = f"{STORE}/76w21n1f03fs5kw8fnffphx7qrqffw6r-hello.drv"

# What must never appear in the output of the tool.
CRASH_MARKS = ("terminate called", "what():", "Traceback", "AddressSanitizer",
               "runtime error:", "Segmentation fault", "core dumped", "Aborted")


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def copy_index(src: str, dst: str) -> str:
    shutil.copy(src, dst)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(src + suffix):
            shutil.copy(src + suffix, dst + suffix)
    return dst


def user_version(path: str) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def file_digest(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def nobody() -> tuple[int, int] | None:
    """(uid, gid) to run as when root (root ignores file modes), else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def run_raw(args: Iterable[str | bytes], *, home: str, input: bytes | None = None,
            preexec_fn: Callable[[], None] | None = None, timeout: float = 60,
            env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """Runs $HS_BIN ARGS with bytes in and out (argv may hold any bytes but NUL)."""
    os.makedirs(home, exist_ok=True)
    return subprocess.run([HS_BIN, *args], input=input, capture_output=True, timeout=timeout,
                          env=hs_testlib.hs_env(home, env), cwd=home, preexec_fn=preexec_fn)


def check_clean(test: unittest.TestCase, proc: subprocess.CompletedProcess, code: int,
                *names: str, error: bool | None = None) -> str:
    """Exit code as given; stdout and stderr valid UTF-8, stderr without raw
    control characters or crash marks; every error or warning line lowercase
    after its prefix (an acronym may start it); an error line when `error`
    (default: for exit codes 2, 5 and 75, which are always errors); each of
    `names` in stderr. Returns stderr."""
    out = proc.stdout if isinstance(proc.stdout, bytes) else proc.stdout.encode()
    err = proc.stderr if isinstance(proc.stderr, bytes) else proc.stderr.encode()
    text = err.decode("utf-8")  # raises on invalid UTF-8
    out.decode("utf-8")
    if proc.returncode != code:
        test.fail(f"exit {proc.returncode}, expected {code}\nargs: {proc.args!r}\n"
                  f"stdout:\n{out[:2000]!r}\nstderr:\n{text[:2000]}")
    for mark in CRASH_MARKS:
        test.assertNotIn(mark, text)
    for c in text:
        test.assertFalse((ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f,
                         f"raw control character {c!r} in stderr: {text[:500]!r}")
    if error or (error is None and code in (2, 5, 75)) or (names and code != 0):
        test.assertIn("hydra-status: error: ", text)
    for line in text.splitlines():
        for prefix in ("hydra-status: error: ", "hydra-status: warning: "):
            if line.startswith(prefix):
                rest = line[len(prefix):]
                test.assertFalse(rest[:1].isupper() and not rest[:2].isupper(),
                                 f"not lowercase: {line!r}")
    for name in names:
        test.assertIn(name, text)
    return text


class RawServer:
    """Serves fixed bytes as application/json for every GET (for bodies the
    fake Hydra cannot send, e.g. invalid UTF-8)."""

    def __init__(self, body: bytes) -> None:
        body_bytes = body

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body_bytes)))
                self.end_headers()
                self.wfile.write(body_bytes)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "RawServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class HostileCase(HsTestCase):
    """A demo index synced once per class (self.template), the fake Hydra serving it."""

    hydra: FakeHydra
    template: str
    template_dir: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.hydra = FakeHydra(DEMO_DATASET).start()
        cls.template_dir = tempfile.mkdtemp(prefix="hs-hostile-")
        cls.template = os.path.join(cls.template_dir, "index.sqlite")
        proc = run_hs(["--url", cls.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                       "--min-interval", "0", "-q"], db=cls.template)
        if proc.returncode != 0:
            cls.hydra.stop()
            raise RuntimeError(proc.stderr)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop()
        shutil.rmtree(cls.template_dir, ignore_errors=True)

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_faults()
        self.hydra.clear_log()

    def key(self, name: str) -> str:
        return self.hydra.expect[name]["key"]

    def synced_copy(self, name: str = "index.sqlite") -> str:
        return copy_index(self.template, os.path.join(self.tmp, name))

    def raw(self, args: Iterable[str | bytes], **kw: Any) -> subprocess.CompletedProcess:
        kw.setdefault("home", self.home)
        return run_raw(args, **kw)

    def assertClean(self, proc: subprocess.CompletedProcess, code: int,  # noqa: N802
                    *names: str, error: bool | None = None) -> str:
        return check_clean(self, proc, code, *names, error=error)


# ---------------------------------------------------------------------------
# Keys


class KeyTest(HostileCase):
    """Malformed keys: exit 2, each named (escaped), every valid key still answered."""

    def setUp(self) -> None:
        super().setUp()
        self.db = self.synced_copy()

    def lookup_json(self, *args: str | bytes, input: bytes | None = None,
                    code: int = 2) -> tuple[list[dict], str]:
        proc = self.raw(["--db", self.db, "--json", "lookup", *args], input=input)
        err = self.assertClean(proc, code)
        return json_lines(proc.stdout.decode("utf-8")), err

    def test_dot_dot(self) -> None:
        good = self.key("failed")
        for bad in (f"{STORE}/{HASH}-..", f"{STORE}/{HASH}-.", f"{STORE}/{HASH}-../../etc/passwd",
                    f"{STORE}/../etc/passwd", f"{STORE}/{HASH}-..-x.drv", f"{HASH}-...drv/..",
                    "..", "../../nix/store/" + HASH):
            with self.subTest(key=bad):
                answers, err = self.lookup_json(bad, good)
                self.assertIn(f"malformed key '{bad}'", err)
                self.assertEqual([a["query"] for a in answers], [good])
                self.assertEqual(answers[0]["status"], "failed")

    def test_nul_byte_on_stdin(self) -> None:
        good = self.key("succeeded")
        answers, err = self.lookup_json("--stdin", input=f"{STORE}/{HASH}-a\0b.drv\n{good}\n"
                                        .encode())
        self.assertIn(f"'{STORE}/{HASH}-a\\x00b.drv'", err)
        self.assertEqual([(a["query"], a["status"]) for a in answers], [(good, "succeeded")])

    def test_control_characters(self) -> None:
        good = self.key("succeeded")
        cases = {
            f"{HASH}-a\x1b[2Jb.drv": f"'{HASH}-a\\x1b[2Jb.drv'",
            f"{STORE}/{HASH}-a\x07.drv": f"'{STORE}/{HASH}-a\\x07.drv'",
            f"{STORE}/{HASH}-a\nb": f"'{STORE}/{HASH}-a\\x0ab'",
            f"{STORE}/{HASH}-\x7f.drv": f"'{STORE}/{HASH}-\\x7f.drv'",
            f"{STORE}/{HASH}-\u009b31m.drv": f"'{STORE}/{HASH}-\\xc2\\x9b31m.drv'",
            f"{STORE}/{HASH}-a\tb.drv": f"'{STORE}/{HASH}-a\\x09b.drv'",
        }
        for bad, shown in cases.items():
            with self.subTest(key=bad):
                answers, err = self.lookup_json(bad, good)
                self.assertIn(shown, err)
                self.assertEqual(len(answers), 1)
        # On stdin (a line cannot hold \n, but \r can come from a CRLF file).
        answers, err = self.lookup_json("--stdin", input=f"{HASH}-\x1b]0;pwned\x07.drv\n{good}\r\n"
                                        .encode())
        self.assertIn("\\x1b]0;pwned\\x07", err)

    def test_one_megabyte_line_on_stdin(self) -> None:
        good = self.key("failed")
        line = f"{STORE}/{HASH}-" + "a" * (1 << 20)
        start = time.monotonic()
        answers, err = self.lookup_json("--stdin", input=f"{line}\n{good}\n".encode(), code=2)
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn("longer than 211", err)
        self.assertLess(len(err), 2000, "the message shows a bounded part of the key")
        self.assertEqual([a["query"] for a in answers], [good])
        # Without a final newline, and a megabyte of spaces.
        answers, err = self.lookup_json("--stdin", input=(" " * (1 << 20) + "x").encode())
        self.assertLess(len(err), 2000)

    def test_wrong_hash_alphabet(self) -> None:
        good = self.key("succeeded")
        bad_hashes = [HASH[:-1] + c for c in "eotuE-_."] + [HASH.upper(), HASH[:-1], HASH + "a"]
        for h in bad_hashes:
            for bad in (f"{STORE}/{h}-x.drv", f"{h}-x.drv", h):
                with self.subTest(key=bad):
                    answers, err = self.lookup_json(bad, good)
                    self.assertIn(f"malformed key '{bad}'", err)
                    self.assertEqual(len(answers), 1)

    def test_non_utf8(self) -> None:
        good = self.key("succeeded").encode()
        for bad, shown in ((f"{STORE}/{HASH}-caf".encode() + b"\xe9.drv", "caf\\xe9.drv"),
                           (b"\xff\xfe" + HASH.encode(), "'\\xff\\xfe"),
                           (f"{STORE}/{HASH}-".encode() + b"\xc0\xaf.drv", "\\xc0\\xaf"),
                           (f"{STORE}/{HASH}-".encode() + b"\xed\xa0\x80.drv", "\\xed\\xa0\\x80")):
            with self.subTest(key=bad):
                answers, err = self.lookup_json(bad, good)
                self.assertIn(shown, err)
                self.assertEqual(len(answers), 1)
                answers, err = self.lookup_json("--stdin", input=bad + b"\n" + good + b"\n")
                self.assertIn(shown, err)
                self.assertEqual(len(answers), 1)

    def test_gate_with_hostile_drv_arguments(self) -> None:
        for bad in (f"{STORE}/{HASH}-../../etc/passwd", f"{STORE}/{HASH}-a\x1b.drv", "/etc/passwd"):
            with self.subTest(arg=bad):
                self.assertClean(self.raw(["--db", self.db, "gate", bad]), 2)


# ---------------------------------------------------------------------------
# Config files


class ConfigFileTest(HostileCase):
    """Unknown keys and bad values: exit 2, "<file>:<line>: ...", nothing run."""

    def config(self, content: bytes, name: str = "config") -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def run_with(self, path: str, *args: str) -> subprocess.CompletedProcess:
        return self.raw(["--config", path, "--db", self.synced_copy(), *args])

    def test_unknown_key_names_file_and_line(self) -> None:
        path = self.config(b"# comment\n\nurl = http://127.0.0.1:9\nfrobnicate = yes\n")
        for args in (["lookup", self.key("failed")], ["info"], ["sync", "--jobset", "p:j"]):
            with self.subTest(args=args):
                self.assertClean(self.run_with(path, *args), 2, f"{path}:4:", "'frobnicate'")

    def test_bad_values_name_file_and_line(self) -> None:
        cases = {
            b"max-evals = lots\n": "max-evals",
            b"max-evals = -1\n": "max-evals",
            b"max-evals = 99999999999999999999999\n": "max-evals",
            b"min-interval = 99999999999999999999s\n": "min-interval",
            b"min-interval = 1 fortnight\n": "min-interval",
            b"url = ftp://example.org\n": "url",
            b"insecure = maybe\n": "insecure",
            b"max-body = -5\n": "max-body",
        }
        for content, key in cases.items():
            with self.subTest(content=content):
                path = self.config(b"# first line\n" + content)
                self.assertClean(self.run_with(path, "sync", "--jobset", "nixpkgs:trunk"), 2,
                                 f"{path}:2:", key)
        self.assertEqual(self.hydra.log(), [], "a bad config must stop before any request")

    def test_malformed_lines(self) -> None:
        cases = {
            b"max-evals 3\n": "expected 'key = value'",
            b" = 3\n": "missing key",
            b"Max-Evals = 3\n": "invalid key 'Max-Evals'",
            b"max-evals = 2\0\n": "NUL",
            b"caf\xe9 = 1\n": "'caf\\xe9'",
            b"\x1b[2J = 1\n": "'\\x1b[2J'",
            b"url " + b"x" * (1 << 20) + b"\n": "...",
        }
        for content, shown in cases.items():
            with self.subTest(content=content[:40]):
                path = self.config(content)
                err = self.assertClean(self.run_with(path, "lookup", self.key("failed")), 2,
                                       f"{path}:1:", shown)
                self.assertLess(len(err), 2000)

    def test_config_that_is_missing_or_a_directory(self) -> None:
        for path in (os.path.join(self.tmp, "nope", "config"), self.tmp):
            with self.subTest(path=path):
                self.assertClean(self.run_with(path, "lookup", self.key("failed")), 2, path)


# ---------------------------------------------------------------------------
# Index files


class IndexFileTest(HostileCase):
    """Broken index files: lookups exit 5 naming the file; a sync never
    overwrites a file that is not (or no longer) its index."""

    def broken(self, name: str, content: bytes) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def check_refused(self, db: str, *names: str) -> None:
        before = file_digest(db)
        proc = self.raw(["--db", db, "lookup", self.key("failed")])
        self.assertClean(proc, 5, db, *names)
        self.assertClean(self.raw(["--db", db, "info"]), 5, db, *names)
        self.assertClean(self.raw(["--db", db, "gate", "--store-root", self.tmp, TOP]), 2)
        proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                         "--min-interval", "0"])
        self.assertIn(proc.returncode, (1, 5))
        self.assertClean(proc, proc.returncode, db, *names)
        self.assertEqual(file_digest(db), before, "the sync changed a file that is not an index")
        self.assertEqual(self.hydra.requests("/jobset/"), [],
                         "the sync went to Hydra with an index it cannot write")

    def test_random_bytes(self) -> None:
        db = self.broken("random.sqlite", os.urandom(100_000))
        self.check_refused(db, "not a database")

    def test_truncated(self) -> None:
        # A self-contained copy (no -wal), cut in half.
        whole = os.path.join(self.tmp, "whole.sqlite")
        src = sqlite3.connect(f"file:{self.template}?mode=ro", uri=True)
        dst = sqlite3.connect(whole)
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")
        src.close()
        dst.close()
        data = file_digest(whole)
        db = self.broken("truncated.sqlite", data[:len(data) // 2])
        self.check_refused(db, "malformed")

    def test_sqlite_header_then_garbage(self) -> None:
        data = file_digest(self.template)
        db = self.broken("garbled.sqlite", data[:4096] + os.urandom(len(data) - 4096))
        self.check_refused(db)

    def test_newer_schema_version(self) -> None:
        db = self.synced_copy()
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 99")
        con.commit()
        con.close()
        for args in (["lookup", self.key("failed")], ["info"]):
            with self.subTest(args=args):
                self.assertClean(self.raw(["--db", db, *args]), 5, db, "99", "upgrade")
        proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                         "--min-interval", "0"])
        self.assertClean(proc, 5, db, "upgrade")
        self.assertEqual(user_version(db), 99, "a sync must not touch a newer index")

    def test_index_is_a_directory(self) -> None:
        db = os.path.join(self.tmp, "dir.sqlite")
        os.mkdir(db)
        self.assertClean(self.raw(["--db", db, "lookup", self.key("failed")]), 5, db)
        proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk"])
        self.assertClean(proc, proc.returncode, db, "directory")
        self.assertNotEqual(proc.returncode, 0)


class ReadOnlyIndexTest(HostileCase):
    """A read-only index (chmod 0444, or owned by another user): lookups answer,
    a sync fails clearly and changes nothing. Under root this runs as
    'nobody', because root may write any file."""

    def setUp(self) -> None:
        super().setUp()
        self.as_user = nobody()
        if os.geteuid() == 0 and self.as_user is None:
            self.skipTest("root without a 'nobody' user: cannot test a read-only file")
        os.chmod(self.tmp, 0o755)
        os.chmod(self.home, 0o777)

    def run_ro(self, args: list[str]) -> subprocess.CompletedProcess:
        def drop() -> None:
            if self.as_user is not None:
                os.setgid(self.as_user[1])
                os.setuid(self.as_user[0])
        return self.raw(args, preexec_fn=drop)

    def answers(self, db: str) -> list[tuple]:
        keys = [self.key(k) for k in ("failed", "succeeded", "queued", "not_in_index")]
        proc = self.run_ro(["--db", db, "--json", "lookup", *keys])
        self.assertClean(proc, 1)
        return [(a["query"], a["status"], a["build_id"]) for a in
                json_lines(proc.stdout.decode())]

    def test_read_only_file_lookups_answer_and_sync_fails_clearly(self) -> None:
        db = self.synced_copy()
        expected = [(a["query"], a["status"], a["build_id"]) for a in json_lines(
            run_hs(["--json", "lookup", self.key("failed"), self.key("succeeded"),
                    self.key("queued"), self.key("not_in_index")], db=db).stdout)]
        os.chmod(db, 0o444)
        self.assertEqual(self.answers(db), expected)
        self.hydra.set_phase(2)
        try:
            before = file_digest(db)
            proc = self.run_ro(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                                "nixpkgs:trunk", "--min-interval", "0"])
            self.assertNotEqual(proc.returncode, 0)
            self.assertClean(proc, proc.returncode, db)
            self.assertEqual(file_digest(db), before)
            self.assertEqual(self.answers(db), expected)
        finally:
            self.hydra.set_phase(1)

    def test_read_only_directory_and_file_fresh_from_a_sync(self) -> None:
        # A system index: written by a service user, read by everyone else,
        # who may not create the -wal and -shm files next to it.
        sub = os.path.join(self.tmp, "system")
        os.mkdir(sub)
        db = os.path.join(sub, "index.sqlite")
        proc = run_hs(["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                       "--min-interval", "0", "-q"], db=db)
        self.assertExit(proc, 0)
        os.chmod(sub, 0o755)
        for name in os.listdir(sub):
            os.chmod(os.path.join(sub, name), 0o644)
        if self.as_user is None:
            os.chmod(sub, 0o555)
            self.addCleanup(os.chmod, sub, 0o755)
        self.assertEqual(len(self.answers(db)), 4)

    def test_index_in_a_directory_that_is_not_writable(self) -> None:
        sub = os.path.join(self.tmp, "locked")
        os.mkdir(sub, 0o555)
        self.addCleanup(os.chmod, sub, 0o755)
        db = os.path.join(sub, "index.sqlite")
        proc = self.run_ro(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                            "nixpkgs:trunk", "--min-interval", "0"])
        self.assertClean(proc, 1, db, "Permission denied")
        self.assertEqual(os.listdir(sub), [])


class IndexDirectoryTest(HostileCase):
    """--db in a directory that does not exist, or under a file."""

    def test_directory_does_not_exist(self) -> None:
        db = os.path.join(self.tmp, "no", "such", "index.sqlite")
        self.assertClean(self.raw(["--db", db, "lookup", self.key("failed")]), 5, db)
        proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk"])
        self.assertClean(proc, 1, db, "does not exist")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "no")))
        self.assertEqual(self.hydra.requests("/jobset/"), [])

    def test_file_in_place_of_the_directory(self) -> None:
        # Root may write anywhere, so "not writable" is a file where the
        # directory should be (like --db /etc/passwd/x).
        blocker = os.path.join(self.tmp, "file")
        with open(blocker, "w") as f:
            f.write("keep me\n")
        for db in (os.path.join(blocker, "index.sqlite"), "/etc/passwd/x"):
            with self.subTest(db=db):
                self.assertClean(self.raw(["--db", db, "lookup", self.key("failed")]), 5, db)
                proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                                 "nixpkgs:trunk"])
                self.assertClean(proc, 1, db)
        with open(blocker) as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_file_in_place_of_the_directory_is_named_as_such(self) -> None:
        proc = self.raw(["--db", "/etc/passwd/x", "--url", self.hydra.url, "sync", "--jobset",
                         "nixpkgs:trunk"])
        self.assertClean(proc, 1, "/etc/passwd", "not a directory")

    def test_empty_db_path_is_a_usage_error(self) -> None:
        self.assertClean(self.raw(["--db", "", "lookup", self.key("failed")]), 2, "--db")


# ---------------------------------------------------------------------------
# A disk that fills during a sync


def two_phase_big_dataset(n: int) -> dict:
    """Phase 1 lists the first of two evals (n/2 builds), phase 2 both (n)."""
    dataset = make_dataset.big_dataset(n, n_evals=2, jobset="nixpkgs:big")
    first = dataset["phases"]["1"]
    second = copy.deepcopy(first)
    first["jobsets"]["nixpkgs:big"]["evals"] = first["jobsets"]["nixpkgs:big"]["evals"][:1]
    dataset["phases"]["2"] = second
    dataset["initial_phase"] = 1
    return dataset


class DiskFullTest(HsTestCase):
    """The disk fills while a sync writes: a clear error, every earlier eval
    intact (lookups answer the same), and the next sync completes."""

    hydra: FakeHydra
    keys: list[str]

    @classmethod
    def setUpClass(cls) -> None:
        dataset = two_phase_big_dataset(6000)
        builds = list(dataset["phases"]["1"]["builds"].values())
        cls.keys = [b["drvpath"] for b in builds[:5] + builds[-5:]]
        cls.hydra = FakeHydra(dataset).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop()

    def setUp(self) -> None:
        super().setUp()
        self.hydra.set_phase(1)

    def sync(self, db: str, preexec_fn: Callable[[], None] | None = None
             ) -> subprocess.CompletedProcess:
        return run_raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset", "nixpkgs:big",
                        "--min-interval", "0"], home=self.home, preexec_fn=preexec_fn)

    def answers(self, db: str) -> list[dict]:
        proc = self.hs(["--json", "lookup", *self.keys], db=db)
        self.assertIn(proc.returncode, (1, 3, 4))
        return json_lines(proc.stdout)

    def run_full_disk_case(self, db: str, fill: Callable[[], Callable[[], None] | None],
                           free: Callable[[], None]) -> str:
        proc = self.sync(db)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        before = self.answers(db)
        self.assertEqual(sum(a["status"] == "unknown" for a in before), 5)
        self.hydra.set_phase(2)
        proc = self.sync(db, fill())
        # The index could not be written: exit 5 (never 1, the code for a
        # failure found, or here a jobset that Hydra failed to serve).
        self.assertEqual(proc.returncode, 5, proc.stderr)
        err = check_clean(self, proc, 5, db)
        self.assertEqual(self.answers(db), before, "a failed sync changed what lookups answer")
        free()
        proc = self.sync(db)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        after = self.answers(db)
        self.assertEqual(sum(a["status"] == "unknown" for a in after), 0)
        # The builds of the first eval answer as before (only synced_at moved).
        self.assertEqual([dict(a, synced_at=None) for a in after[:5]],
                         [dict(a, synced_at=None) for a in before[:5]])
        return err

    def test_file_size_limit(self) -> None:
        db = os.path.join(self.tmp, "index.sqlite")

        def fill() -> Callable[[], None]:
            limit = max(os.path.getsize(db), os.path.getsize(db + "-wal")
                        if os.path.exists(db + "-wal") else 0) + 64 * 1024

            def limit_file_size() -> None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            return limit_file_size

        err = self.run_full_disk_case(db, fill, lambda: None)
        self.assertTrue("disk" in err or "full" in err or "too large" in err, err)

    def test_small_tmpfs(self) -> None:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            self.skipTest("mounting a tmpfs needs root")
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        db = os.path.join(mnt, "index.sqlite")
        ballast = os.path.join(mnt, "ballast")

        def fill() -> None:
            # Leave 128 KiB: the second eval (6000 builds) needs far more.
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize - 128 * 1024
            with open(ballast, "wb") as f:
                f.write(b"\0" * max(0, free))
            return None

        err = self.run_full_disk_case(db, fill, lambda: os.remove(ballast))
        self.assertIn("full", err)


# ---------------------------------------------------------------------------
# Hostile JSON on the wire


class HostileJsonTest(HostileCase):
    """Whatever Hydra (or something in front of it) answers, a sync fails that
    jobset with a message naming the URL, and keeps what the index had."""

    BODIES = {
        "wrong type": '{"evals": {"id": 1}}',
        "huge number": '{"evals": [{"id": 123456789012345678901234567890, "builds": []}]}',
        "float id": '{"evals": [{"id": 1.5, "builds": []}]}',
        "duplicate key": '{"evals": [], "evals": []}',
        "deep nesting": '{"first": ' + "[" * 100_000 + "]" * 100_000 + ', "evals": []}',
        "control in key": '{"evals": [], "\\u001b[2Jx": [1,]}',
        "nul in string": '{"evals": [{"id": 9, "builds": [], "jobsetevalinputs": '
                         '{"a\\u0000b": {"revision": 1}}}]}',
        "not json": "<html><body>Checking your browser</body></html>",
        "empty": "",
        "truncated": '{"evals": [{"id": 9, "builds": [1, 2',
        "array": "[]",
    }

    def test_hostile_evals_listing(self) -> None:
        db = self.synced_copy()
        before = run_hs(["--json", "lookup", self.key("failed")], db=db).stdout
        for name, body in self.BODIES.items():
            with self.subTest(body=name):
                self.hydra.clear_faults()
                self.hydra.add_faults([{"match": "/jobset/nixpkgs/trunk/evals", "kind": "status",
                                        "status": 200, "body": body,
                                        "content_type": "application/json", "count": -1}])
                proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                                 "nixpkgs:trunk", "--min-interval", "0", "--max-tries", "1"])
                self.assertClean(proc, 1, "/jobset/nixpkgs/trunk/evals")
                self.assertEqual(run_hs(["--json", "lookup", self.key("failed")], db=db).stdout,
                                 before)

    def test_invalid_utf8(self) -> None:
        db = self.synced_copy()
        for body in (b'{"evals": [{"id": 9, "builds": [], "x": "\xff\xfe"}]}',
                     b'{"evals": [], "\xc0\xaf": 1}', b'\xef\xbb\xbf{"evals": []}'):
            with self.subTest(body=body), RawServer(body) as server:
                proc = self.raw(["--db", db, "--url", server.url, "sync", "--jobset",
                                 "nixpkgs:trunk", "--min-interval", "0", "--max-tries", "1"])
                self.assertClean(proc, 1, "/jobset/nixpkgs/trunk/evals")

    def test_hostile_build_objects(self) -> None:
        db = self.synced_copy()
        before = run_hs(["--json", "lookup", self.key("failed")], db=db).stdout
        build = {"id": 1, "finished": 1, "buildstatus": 0, "drvpath": f"{STORE}/{HASH}-x.drv",
                 "project": "nixpkgs", "jobset": "trunk", "job": "x", "system": "x86_64-linux"}
        bodies = {
            "drvpath with ..": dict(build, drvpath=f"{STORE}/{HASH}-.."),
            "drvpath outside the store": dict(build, drvpath="/etc/passwd"),
            "output path with control": dict(build, buildoutputs={"out": {"path": "/x\u001b"}}),
            "finished 2": dict(build, finished=2),
            "id out of range": dict(build, id=1 << 50),
            "status not a number": dict(build, buildstatus="0"),
        }
        self.hydra.set_phase(2)
        try:
            for name, obj in bodies.items():
                with self.subTest(body=name):
                    self.hydra.clear_faults()
                    body = json.dumps([obj] * 3)
                    self.hydra.add_faults([{"match": r"/eval/\d+/builds",
                                            "kind": "status", "status": 200, "body": body,
                                            "content_type": "application/json", "count": -1}])
                    proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                                     "nixpkgs:trunk", "--min-interval", "0", "--max-tries", "1",
                                     "--by-id-max", "0"])
                    self.assertClean(proc, 1, "eval 30")
                    self.assertEqual(
                        run_hs(["--json", "lookup", self.key("failed")], db=db).stdout, before)
        finally:
            self.hydra.set_phase(1)


    def test_eval_id_out_of_range_is_refused(self) -> None:
        # The index keys evals as instance << 40 | id: an eval id of 2^41 + 5
        # must fail the listing, not poison newest_eval for every later sync.
        db = self.synced_copy()
        eval3 = self.hydra.dataset["phases"]["1"]["evals"]["3"]
        bogus = dict(eval3, id=(1 << 41) + 5)
        self.hydra.add_faults([{"match": "/jobset/nixpkgs/trunk/evals", "kind": "status",
                                "status": 200, "body": json.dumps({"evals": [bogus]}),
                                "count": 1}])
        proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                         "nixpkgs:trunk", "--min-interval", "0", "-q"])
        self.assertClean(proc, proc.returncode)
        self.hydra.set_phase(2)
        try:
            proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                             "nixpkgs:trunk", "--min-interval", "0", "-q"])
            self.assertClean(proc, 0)
        finally:
            self.hydra.set_phase(1)
        [answer] = json_lines(run_hs(["--json", "lookup", self.key("new_failed_phase2")],
                                     db=db).stdout)
        self.assertEqual(answer["status"], "failed")

    def test_hydra_strings_never_reach_the_terminal_raw(self) -> None:
        # Project, jobset, job and system come from Hydra: the index stores
        # them with control characters escaped (Index::put_build), so no
        # output can set the terminal title or clear the screen.
        db = self.synced_copy()
        drv = f"{STORE}/{HASH}-evil.drv"
        build = {"id": 999, "finished": 1, "buildstatus": 1, "stoptime": 5, "drvpath": drv,
                 "project": "x\u001b[31mRED", "jobset": "j\u001b]0;title\u0007",
                 "job": "job\u009b2J", "system": "sys\u001b[2J", "buildoutputs": {}}
        self.hydra.set_phase(2)
        try:
            self.hydra.add_faults([{"match": r"/eval/\d+/builds", "kind": "status", "status": 200,
                                    "body": json.dumps([build]), "count": 1}])
            proc = self.raw(["--db", db, "--url", self.hydra.url, "sync", "--jobset",
                             "nixpkgs:trunk", "--min-interval", "0", "--by-id-max", "0", "-q"])
            self.assertClean(proc, 0)
        finally:
            self.hydra.set_phase(1)
        for args in (["lookup", drv], ["lookup", "--all", drv], ["info"]):
            with self.subTest(args=args):
                out = self.raw(["--db", db, *args]).stdout.decode()
                self.assertNotIn("\x1b", out)
                self.assertNotIn("\x07", out)
                self.assertNotIn("\u009b", out)


# ---------------------------------------------------------------------------
# Credentials in URLs, --insecure


class CredentialsTest(HostileCase):
    """Userinfo and query tokens are never printed (stdout and stderr)."""

    SECRET = "s3cr3t-Pa55"

    def assertNoSecret(self, proc: subprocess.CompletedProcess) -> None:  # noqa: N802
        both = (proc.stdout or "") + (proc.stderr or "")
        self.assertNotIn(self.SECRET, both)
        self.assertNotIn("user:", both)

    def sync(self, url: str, *args: str, db: str | None = None) -> subprocess.CompletedProcess:
        return self.hs(["-vv", "--url", url, "sync", "--min-interval", "0", "--max-tries", "1",
                        *args], db=db or self.db)

    def userinfo_url(self, base: str | None = None) -> str:
        base = base or self.hydra.url
        return base.replace("http://", f"http://user:{self.SECRET}@")

    def test_userinfo_never_printed_by_sync(self) -> None:
        url = self.userinfo_url()
        cases = [
            ("ok", url, [], 0),
            ("unknown jobset", url, [], 1),
            ("http 500", url, [{"match": "/evals", "kind": "status", "status": 500}], 1),
            ("reset", url, [{"match": "/evals", "kind": "reset"}], 1),
            ("malformed", url, [{"match": "/evals", "kind": "malformed"}], 1),
            ("html", url, [{"match": "/evals", "kind": "html"}], 1),
            ("redirect loop", url, [{"match": "/evals", "kind": "redirect-loop"}], 1),
            ("connection refused", self.userinfo_url(closed_port_url()), [], 1),
        ]
        for name, u, faults, code in cases:
            with self.subTest(case=name):
                self.hydra.clear_faults()
                if faults:
                    self.hydra.add_faults([dict(f, count=-1) for f in faults])
                jobset = "nixpkgs:nope" if name == "unknown jobset" else "nixpkgs:staging"
                proc = self.sync(u, "--jobset", jobset)
                self.assertExit(proc, code)
                self.assertNoSecret(proc)

    def test_userinfo_never_printed_for_a_url_without_host(self) -> None:
        # Accepted by the url check (a gap: it should be a usage error), then
        # refused by libcurl; the message is redacted.
        proc = self.sync(f"http://user:{self.SECRET}@", "--jobset", "nixpkgs:trunk")
        self.assertIn(proc.returncode, (1, 2))
        self.assertNoSecret(proc)

    def test_userinfo_never_printed_by_config_errors(self) -> None:
        proc = self.hs(["--url", f"ftp://user:{self.SECRET}@example.org", "sync", "--jobset",
                        "nixpkgs:trunk"])
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertNoSecret(proc)

    def test_query_token_never_printed(self) -> None:
        url = f"{self.hydra.url}/?token={self.SECRET}"
        proc = self.sync(url, "--jobset", "nixpkgs:trunk")
        self.assertNoSecret(proc)

    def test_userinfo_never_printed_by_lookup_info_and_config(self) -> None:
        url = self.userinfo_url()
        self.assertExit(self.sync(url, "--jobset", "nixpkgs:trunk"), 0)
        for args in (["lookup", self.key("failed")], ["--json", "lookup", self.key("failed")],
                     ["info"], ["--url", url, "config", "show"]):
            with self.subTest(args=args):
                self.assertNoSecret(self.hs(args))


class InsecureTest(HostileCase):
    """TLS verification is never off silently: a warning on every use."""

    def test_warns_on_every_use(self) -> None:
        for args in (["--insecure"], ["--insecure", "-q"], ["--insecure", "--max-evals", "1"]):
            for run in range(2):
                with self.subTest(args=args, run=run):
                    proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                                    "--min-interval", "0", *args])
                    err = self.assertClean(proc, 0)
                    self.assertIn("hydra-status: warning: ", err)
                    self.assertIn("TLS", err)
                    self.assertIn("command line", err)

    def test_config_key_warns_and_names_its_origin(self) -> None:
        path = self.write_config("insecure = true\n")
        proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                        "--min-interval", "0", "-q"])
        err = self.assertClean(proc, 0)
        self.assertIn("TLS", err)
        self.assertIn(f"{path}:1", err)

    def test_no_warning_without_it(self) -> None:
        proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                        "--min-interval", "0", "-q"])
        self.assertEqual(self.assertClean(proc, 0), "")


# ---------------------------------------------------------------------------
# The index file's mode


class FileModeTest(HostileCase):
    """The index (and its -wal, -shm and lock files) is created 0644, and the
    state directory 0755, minus the umask."""

    def sync_with_umask(self, mask: int, db: str | None) -> None:
        proc = run_raw((["--db", db] if db else []) + [
            "--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk", "--min-interval", "0",
            "-q"], home=self.home, preexec_fn=lambda: os.umask(mask) and None)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def modes(self, directory: str) -> dict[str, int]:
        return {name: stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode)
                for name in os.listdir(directory)}

    def test_index_files_honour_the_umask(self) -> None:
        for mask, expected in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o644), (0o027, 0o640)):
            with self.subTest(umask=oct(mask)):
                directory = os.path.join(self.tmp, f"u{mask:03o}")
                os.mkdir(directory, 0o755)
                self.sync_with_umask(mask, os.path.join(directory, "index.sqlite"))
                modes = self.modes(directory)
                self.assertIn("index.sqlite", modes)
                for name, mode in modes.items():
                    self.assertEqual(mode, expected, f"{name}: {oct(mode)}")
                self.assertEqual(stat.S_IMODE(os.stat(directory).st_mode), 0o755)

    def test_default_state_directory(self) -> None:
        for mask, dir_mode, file_mode in ((0o022, 0o755, 0o644), (0o077, 0o700, 0o600)):
            with self.subTest(umask=oct(mask)):
                shutil.rmtree(os.path.join(self.home, ".local"), ignore_errors=True)
                self.sync_with_umask(mask, None)
                state = os.path.join(self.home, ".local", "state", "hydra-status")
                self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), dir_mode)
                self.assertEqual(self.modes(state)["index.sqlite"], file_mode)

    def test_existing_index_mode_is_kept(self) -> None:
        db = self.synced_copy()
        os.chmod(db, 0o600)
        self.sync_with_umask(0o022, db)
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)


# ---------------------------------------------------------------------------
# --store-root


class StoreRootTest(HostileCase):
    """gate --store-root never reads outside the root."""

    def setUp(self) -> None:
        super().setUp()
        self.db = self.synced_copy()
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "nix", "store"))
        for name in os.listdir(DRV_DIR):
            shutil.copy(os.path.join(DRV_DIR, name), os.path.join(self.root, "nix", "store"))
        self.outside = os.path.join(self.tmp, "outside")
        os.mkdir(self.outside)

    def gate(self, *args: str, root: str | None = None) -> subprocess.CompletedProcess:
        return self.raw(["--db", self.db, "gate", "--store-root", root or self.root, *args],
                        timeout=20)

    def in_root(self, store_path: str) -> str:
        return self.root + store_path

    def move_out(self, store_path: str) -> str:
        """Moves a drv out of the root; returns where it went."""
        target = os.path.join(self.outside, os.path.basename(store_path))
        shutil.move(self.in_root(store_path), target)
        return target

    def test_the_root_works(self) -> None:
        self.assertClean(self.gate(TOP), 0)

    def test_absolute_symlink_out_of_the_root(self) -> None:
        target = self.move_out(HELLO)
        os.symlink(target, self.in_root(HELLO))
        self.assertClean(self.gate(TOP), 2, self.in_root(HELLO), "outside the store root")

    def test_relative_symlink_climbing_out_with_dot_dot(self) -> None:
        target = self.move_out(HELLO)
        os.symlink(os.path.relpath(target, os.path.dirname(self.in_root(HELLO))),
                   self.in_root(HELLO))
        self.assertIn("..", os.readlink(self.in_root(HELLO)))
        self.assertClean(self.gate(TOP), 2, "outside the store root")

    def test_symlinked_store_directory(self) -> None:
        store = os.path.join(self.root, "nix", "store")
        shutil.move(store, os.path.join(self.outside, "store"))
        os.symlink(os.path.join(self.outside, "store"), store)
        self.assertClean(self.gate(TOP), 2, "outside the store root")

    def test_symlink_to_a_host_file(self) -> None:
        os.remove(self.in_root(HELLO))
        os.symlink("/etc/passwd", self.in_root(HELLO))
        err = self.assertClean(self.gate(TOP), 2, "outside the store root")
        self.assertNotIn("root:", err)

    def test_symlink_inside_the_root_is_followed(self) -> None:
        elsewhere = os.path.join(self.root, "elsewhere")
        os.mkdir(elsewhere)
        shutil.move(self.in_root(HELLO), os.path.join(elsewhere, "hello.drv"))
        os.symlink("../../elsewhere/hello.drv", self.in_root(HELLO))
        self.assertClean(self.gate(TOP), 0)

    def test_dot_dot_in_an_input_drv_path(self) -> None:
        # A drv whose inputDrvs names "/nix/store/../../etc/x.drv": refused as
        # a malformed drv (the parser checks every input is a store path).
        with open(self.in_root(TOP), "rb") as f:
            text = f.read()
        mid_path = MID.encode()
        self.assertIn(mid_path, text)
        for evil in (b"/nix/store/../../../etc/passwd.drv", b"/nix/store/../" + mid_path[11:]):
            with self.subTest(input=evil):
                with open(self.in_root(TOP), "wb") as f:
                    f.write(text.replace(mid_path, evil))
                self.assertClean(self.gate(TOP), 2, self.in_root(TOP))

    def test_dot_dot_in_the_root_itself_is_resolved(self) -> None:
        self.assertClean(self.gate(TOP, root=os.path.join(self.root, "nix", "..")), 0)

    def test_fifo_does_not_hang(self) -> None:
        os.remove(self.in_root(HELLO))
        os.mkfifo(self.in_root(HELLO))
        self.assertClean(self.gate(TOP), 2, self.in_root(HELLO), "not a regular file")

    def test_directory_named_like_a_drv(self) -> None:
        os.remove(self.in_root(HELLO))
        os.mkdir(self.in_root(HELLO))
        self.assertClean(self.gate(TOP), 2, self.in_root(HELLO))

    def test_missing_root(self) -> None:
        missing = os.path.join(self.tmp, "nope")
        self.assertClean(self.gate(TOP, root=missing), 2, missing)


if __name__ == "__main__":
    unittest.main()
