"""Helpers for the integration tests (unittest, Python 3.11 stdlib only).

  FakeHydra(dataset)      the fake Hydra server (tests/fake_hydra) as a context manager
  run_hs(args, db=...)    runs the hydra-status binary ($HS_BIN) in a sealed environment
  HsTestCase              unittest.TestCase with a temp dir, self.db and self.hs(...)
  skip_process(reason)    ends the test process with 125, which ctest reports as skipped
  skip_unless_binary()    ... unless $HS_BIN names an executable
  demo_dataset()          the demo dataset (tests/fake_hydra/datasets/demo.json) as a dict
  make_dataset            the dataset module (tests/fake_hydra/make_dataset.py)

Call the skip_* helpers at module level, before anything is started: they end
the process (a SystemExit raised inside a test would only count as an error).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from typing import Any, Iterable, Mapping

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = os.path.dirname(HERE)
SOURCE_DIR = os.environ.get("HS_SOURCE_DIR") or os.path.dirname(TESTS_DIR)
FAKE_HYDRA_DIR = os.path.join(TESTS_DIR, "fake_hydra")
FAKE_HYDRA = os.path.join(FAKE_HYDRA_DIR, "fake_hydra.py")
DEMO_DATASET = os.path.join(FAKE_HYDRA_DIR, "datasets", "demo.json")
SAMPLES_DIR = os.path.join(TESTS_DIR, "data", "hydra")

SKIP_EXIT_CODE = 125

if FAKE_HYDRA_DIR not in sys.path:
    sys.path.insert(0, FAKE_HYDRA_DIR)
import make_dataset  # noqa: E402  (tests/fake_hydra/make_dataset.py)

# Environment variables that could point the binary or urllib somewhere else.
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
               "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


# --------------------------------------------------------------------------
# Skipping


def skip_process(reason: str) -> None:
    """Ends the whole test process with exit code 125 (ctest: skipped)."""
    print(f"SKIP: {reason}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(SKIP_EXIT_CODE)


def skip_unless(condition: Any, reason: str) -> None:
    if not condition:
        skip_process(reason)


def hs_binary() -> str | None:
    path = os.environ.get("HS_BIN")
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return None


def skip_unless_binary() -> str:
    """Returns $HS_BIN, or skips the process when it is not an executable."""
    path = hs_binary()
    if path is None:
        skip_process(f"HS_BIN is not set to an executable hydra-status (HS_BIN={os.environ.get('HS_BIN')!r})")
    assert path is not None
    return path


def skip_unless_executable(name: str) -> str:
    """Returns the full path of a program on PATH (e.g. 'nix-store'), or skips."""
    path = shutil.which(name)
    if path is None:
        skip_process(f"{name} is not installed")
    assert path is not None
    return path


# --------------------------------------------------------------------------
# Datasets


def load_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def demo_dataset() -> dict:
    return load_json(DEMO_DATASET)


def sample(name: str) -> Any:
    """A JSON sample captured from the real Hydra (tests/data/hydra/<name>)."""
    return load_json(os.path.join(SAMPLES_DIR, name))


# --------------------------------------------------------------------------
# The fake Hydra


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FakeHydraError(RuntimeError):
    pass


class FakeHydra:
    """Runs tests/fake_hydra/fake_hydra.py on a free port of 127.0.0.1.

        with FakeHydra(DEMO_DATASET) as hydra:
            run_hs(["--url", hydra.url, "sync", ...], db=db)
            hydra.set_phase(2)
            hydra.add_faults([{"match": "/evals", "kind": "429", "count": 1}])
            paths = [r["path"] for r in hydra.log()]

    dataset: a file path or a dataset object (written to a temp file).
    rate, burst: nginx's limit_req in front (rate 0 = off; hydra.nixos.org: 2, 7).
    eval_builds_504_above, eval_builds_504_delay: /eval/<id>/builds answers
    504 (after the delay) for an eval of more builds (-1 = never).
    """

    def __init__(self, dataset: str | Mapping, *, gzip: bool = False, etag: bool = False,
                 log_file: str | None = None, seed: int = 0, verbose: bool = False,
                 startup_timeout: float = 10.0, rate: float = 0.0, burst: int = 7,
                 eval_builds_504_above: int = -1, eval_builds_504_delay: float = 0.0) -> None:
        self._dataset = dataset
        self._gzip = gzip
        self._etag = etag
        self._limits = ["--rate", str(rate), "--burst", str(burst),
                        "--eval-builds-504-above", str(eval_builds_504_above),
                        "--eval-builds-504-delay", str(eval_builds_504_delay)]
        self._log_file = log_file
        self._seed = seed
        self._verbose = verbose
        self._timeout = startup_timeout
        self._tmp: str | None = None
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.url = ""
        self.dataset: dict = {}

    # -- life cycle -------------------------------------------------------------

    def start(self) -> "FakeHydra":
        self._tmp = tempfile.mkdtemp(prefix="fake-hydra-")
        if isinstance(self._dataset, (str, os.PathLike)):
            dataset_path = os.fspath(self._dataset)
            self.dataset = load_json(dataset_path)
        else:
            self.dataset = dict(self._dataset)
            dataset_path = os.path.join(self._tmp, "dataset.json")
            with open(dataset_path, "w", encoding="utf-8") as f:
                json.dump(self.dataset, f)
        port_file = os.path.join(self._tmp, "port")
        cmd = [sys.executable, FAKE_HYDRA, "--port", "0", "--port-file", port_file,
               "--dataset", dataset_path, "--seed", str(self._seed)]
        if self._gzip:
            cmd.append("--gzip")
        if self._etag:
            cmd.append("--etag")
        cmd += self._limits
        if self._log_file:
            cmd += ["--log", self._log_file]
        if self._verbose:
            cmd.append("--verbose")
        stderr_path = os.path.join(self._tmp, "stderr")
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr)
        deadline = time.monotonic() + self._timeout
        while True:
            if os.path.exists(port_file):
                with open(port_file, encoding="utf-8") as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    break
            if self.proc.poll() is not None:
                err = self.stderr_text()
                self.stop()
                raise FakeHydraError(f"fake_hydra exited with {self.proc.returncode}: {err}")
            if time.monotonic() > deadline:
                self.stop()
                raise FakeHydraError(f"fake_hydra did not start within {self._timeout} s")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def stop_checked(self) -> None:
        """stop(), then fail if the fake printed a traceback: a bug in the fake
        itself, not a client hanging up (the fault suites provoke the latter)."""
        errors = self.stderr_text()
        self.stop()
        if "fake_hydra.py" in errors:
            raise AssertionError(f"fake_hydra printed a traceback:\n{errors}")

    def __enter__(self) -> "FakeHydra":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stderr_text(self) -> str:
        if self._tmp is None:
            return ""
        try:
            with open(os.path.join(self._tmp, "stderr"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- control API ------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + "/_control/" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with _NO_PROXY_OPENER.open(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise FakeHydraError(f"control {method} {path}: {e.code} {e.read().decode(errors='replace')}") from None

    def set_phase(self, phase: int) -> None:
        self.control("POST", "phase", {"phase": phase})

    def add_faults(self, rules: Iterable[Mapping]) -> None:
        """Fault rules: {"match": regex on path?query, "kind": ..., "count": N (-1 = forever), ...}."""
        self.control("POST", "faults", list(rules))

    def clear_faults(self) -> None:
        self.control("POST", "faults/clear", {})

    def hold_slow(self, at: int | None) -> None:
        """Moves the point where every `slow` answer stops (None: no stop)."""
        self.control("POST", "faults/hold", {"at": at})

    def faults(self) -> list[dict]:
        return self.control("GET", "faults")

    def set_options(self, *, gzip: bool | None = None, etag: bool | None = None,
                    rate: float | None = None, burst: int | None = None,
                    eval_builds_504_above: int | None = None,
                    eval_builds_504_delay: float | None = None) -> dict:
        """Changes the options given (README.md "Options"); answers those in force."""
        given = (("gzip", gzip), ("etag", etag), ("rate", rate), ("burst", burst),
                 ("eval_builds_504_above", eval_builds_504_above),
                 ("eval_builds_504_delay", eval_builds_504_delay))
        opts = {k: v for k, v in given if v is not None}
        return self.control("POST", "options", opts)

    def load_dataset(self, dataset: Mapping) -> None:
        """Replaces the dataset (and goes to its initial phase)."""
        self.control("POST", "dataset", dict(dataset))
        self.dataset = dict(dataset)

    def log(self) -> list[dict]:
        """Every request served since the last clear_log() (control requests excluded)."""
        return self.control("GET", "log")

    def clear_log(self) -> None:
        self.control("POST", "log/clear", {})

    def requests(self, path_contains: str = "") -> list[dict]:
        return [r for r in self.log() if path_contains in r["path"]]

    # -- dataset shortcuts -----------------------------------------------------

    @property
    def expect(self) -> dict:
        return self.dataset.get("expect", {})

    def expected(self, name: str, phase: int = 1) -> dict:
        """expect[name]['phases'][phase] plus the entry's 'key' and 'drv'."""
        entry = self.expect[name]
        answer = dict(entry["phases"][str(phase)])
        answer["key"] = entry["key"]
        answer["drv"] = entry["drv"]
        return answer


# --------------------------------------------------------------------------
# Running hydra-status


def hs_env(home: str, env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """An environment with HOME and XDG dirs inside home, no HYDRA_STATUS_* and no proxy."""
    out = {k: v for k, v in os.environ.items()
           if not k.startswith("HYDRA_STATUS_") and k not in _PROXY_VARS and not k.startswith("XDG_")}
    out.update(
        HOME=home,
        XDG_STATE_HOME=os.path.join(home, ".local", "state"),
        XDG_CONFIG_HOME=os.path.join(home, ".config"),
        XDG_CACHE_HOME=os.path.join(home, ".cache"),
        XDG_DATA_HOME=os.path.join(home, ".local", "share"),
    )
    for k, v in (env or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def config_path(home: str) -> str:
    """Where hydra-status looks for its config file under hs_env(home)."""
    return os.path.join(home, ".config", "hydra-status", "config")


def write_config(home: str, text: str) -> str:
    path = config_path(home)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def run_hs(args: Iterable[str], *, db: str | None, env: Mapping[str, str | None] | None = None,
           input: str | None = None, timeout: float = 60, home: str | None = None,
           cwd: str | None = None) -> subprocess.CompletedProcess:
    """Runs $HS_BIN [--db db] ARGS (text mode, stdout and stderr captured).

    HOME and XDG_* point into `home` (default: <dir of db>/home), so no real
    user file is read; HYDRA_STATUS_* and proxy variables are removed; env
    adds or (with None) removes variables. db=None leaves --db out.
    """
    binary = os.environ.get("HS_BIN")
    if not binary:
        raise RuntimeError("HS_BIN is not set (call skip_unless_binary() at module level)")
    if home is None:
        base = os.path.dirname(os.path.abspath(db)) if db else tempfile.mkdtemp(prefix="hs-home-")
        home = os.path.join(base, "home")
    os.makedirs(home, exist_ok=True)
    cmd = [binary] + (["--db", db] if db is not None else []) + list(args)
    return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                          env=hs_env(home, env), cwd=cwd or home)


def closed_port_url() -> str:
    """A URL of 127.0.0.1 on which nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def copy_index(src: str, dst: str) -> str:
    """Copies an index with its -wal and -shm (creating dst's directory); returns dst."""
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    shutil.copy(src, dst)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(src + suffix):
            shutil.copy(src + suffix, dst + suffix)
    return dst


def json_lines(text: str) -> list[dict]:
    """Parses JSON Lines output (blank lines ignored)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]

# Hydra's build and eval ids are stored as (hydra - 1) << 40 | id.
ID_MASK = (1 << 40) - 1


def decode_ids(blob: bytes) -> list[int]:
    """An eval's member list: sorted deltas as LEB128 varints (core/id_list.hpp)."""
    ids, previous, delta, shift = [], 0, 0, 0
    for byte in blob:
        delta |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        previous += delta
        ids.append(previous)
        delta, shift = 0, 0
    assert shift == 0, "truncated id list"
    return ids


def check_index(test: unittest.TestCase, path: str) -> int:
    """Asserts what a sync, however it ended, leaves: integrity_check ok, no
    eval naming a build the index lacks, each jobset's newest eval present.
    Returns the number of evals (0 if the file or its schema is not there)."""
    if not os.path.exists(path):
        return 0
    con = sqlite3.connect(path, timeout=10)
    try:
        test.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "eval" not in tables:
            return 0  # killed before the schema was committed
        builds = {r[0] for r in con.execute("SELECT id FROM build")}
        evals = con.execute("SELECT e.id, e.builds, j.hydra FROM eval e"
                            " JOIN jobset j ON j.id = e.jobset").fetchall()
        for eval_row, blob, hydra in evals:
            members = decode_ids(blob)
            missing = [m for m in members if ((hydra - 1) << 40 | m) not in builds]
            test.assertEqual(missing, [], f"eval {eval_row & ID_MASK} is partial")
        for name, newest, hydra, row in con.execute(
                "SELECT project || ':' || name, newest_eval, hydra, id FROM jobset"):
            if newest is not None:
                test.assertEqual(
                    con.execute("SELECT count(*) FROM eval WHERE id = ? AND jobset = ?",
                                ((hydra - 1) << 40 | newest, row)).fetchone()[0], 1,
                    f"{name}: newest_eval {newest} not in the index")
        return len(evals)
    finally:
        con.close()


def index_dump(path: str) -> dict:
    """The content of an index, without sync times: build, eval, output rows."""
    con = sqlite3.connect(path, timeout=10)
    try:
        return {
            "build": con.execute(
                "SELECT b.id & ?, j.project, j.name, hex(b.drv), b.name, jn.text, sn.text,"
                " b.finished, b.status, b.duration, b.stoptime FROM build b"
                " JOIN jobset j ON j.id = b.jobset JOIN name jn ON jn.id = b.job"
                " JOIN name sn ON sn.id = b.system ORDER BY 1", (ID_MASK,)).fetchall(),
            "eval": con.execute(
                "SELECT e.id & ?, j.project, j.name, e.timestamp, e.inputs, hex(e.builds)"
                " FROM eval e JOIN jobset j ON j.id = e.jobset ORDER BY 1",
                (ID_MASK,)).fetchall(),
            "output": con.execute("SELECT hex(hash), build & ?, name FROM output ORDER BY 1",
                                  (ID_MASK,)).fetchall(),
        }
    finally:
        con.close()



class HsTestCase(unittest.TestCase):
    """A TestCase with a fresh temp dir: self.tmp, self.home, self.db, self.hs()."""

    def setUp(self) -> None:
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix=f"hs-{self.id().rsplit('.', 1)[-1]}-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.db = os.path.join(self.tmp, "index.sqlite")

    def hs(self, args: Iterable[str], **kw: Any) -> subprocess.CompletedProcess:
        kw.setdefault("db", self.db)
        kw.setdefault("home", self.home)
        return run_hs(args, **kw)

    def write_config(self, text: str) -> str:
        return write_config(self.home, text)

    def assertExit(self, proc: subprocess.CompletedProcess, code: int) -> None:  # noqa: N802
        if proc.returncode != code:
            self.fail(f"exit {proc.returncode}, expected {code}\nargs: {proc.args}\n"
                      f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")


class TemplateIndexCase(HsTestCase):
    """A demo index synced once per class (cls.template), the fake Hydra serving it."""

    hydra: FakeHydra
    template: str
    template_dir: str

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.hydra = FakeHydra(DEMO_DATASET).start()
        cls.template_dir = tempfile.mkdtemp(prefix=f"hs-{cls.__name__}-")
        cls.template = os.path.join(cls.template_dir, "index.sqlite")
        proc = run_hs(["--url", cls.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                       "--min-interval", "0", "-q"], db=cls.template)
        if proc.returncode != 0:
            cls.hydra.stop()
            shutil.rmtree(cls.template_dir, ignore_errors=True)
            raise RuntimeError(proc.stderr)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.hydra.stop()
        shutil.rmtree(cls.template_dir, ignore_errors=True)
        super().tearDownClass()


# --------------------------------------------------------------------------
# Human output (spec/cli.md "Human output"): one unindented line per answer,
# then indented lines with its details (URLs, reason, key, chain).


def human_blocks(text: str) -> list[list[str]]:
    """Each answer's line followed by its indented detail lines."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith(" ") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def human_rows(text: str) -> list[str]:
    """The unindented lines of human output: one per answer."""
    return [block[0] for block in human_blocks(text)]


def human_details(block: list[str]) -> dict[str, str]:
    """The detail lines of one answer as {label: text} ('    build  URL')."""
    out = {}
    for line in block[1:]:
        label, _, text = line.strip().partition(" ")
        if label and not label.startswith("<-"):
            out.setdefault(label, text.strip())
    return out
