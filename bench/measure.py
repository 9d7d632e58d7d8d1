#!/usr/bin/env python3
"""Runs every benchmark of issue 7 and writes bench/RESULTS.md.

Called by bench/run after the Release build; see bench/README.md for the
measures, their targets and the environment variables that set the scales.

  measure.py --binary BUILD/hydra-status [--results FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

BENCH = benchlib.BENCH_DIR
REPO = benchlib.REPO_DIR
DATA = os.path.join(BENCH, "data")
OUT = os.path.join(BENCH, "out")


# --------------------------------------------------------------------------
# Configuration


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value.replace("_", "")) if value else default


def config() -> dict:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    d = {
        # one eval of this many builds: first sync, naive ingester
        "eval_builds": 25_000 if quick else 250_000,
        # the history: evals of ~eval_builds builds, hist_builds distinct in all
        "hist_evals": 8 if quick else 40,
        "hist_builds": 60_000 if quick else 2_000_000,
        "scales": "5000 10000 25000" if quick else "25000 100000 250000 1000000",
        "runs": 3 if quick else 5,            # repetitions of sync / batch measures
        "naive_runs": 1 if quick else 3,
        "scale_runs": 1 if quick else 3,
        "lookup_runs": 100 if quick else 1000,
        "batch_keys": 10_000 if quick else 100_000,
        "gate_drvs": 2_000 if quick else 20_000,
        "gate_runs": 5 if quick else 10,
        # which measures: any of sync, scaling, history, lookups, gate
        # (lookups and gate need history)
        "only": "sync scaling history lookups gate",
        # data series: synthetic (the first, kind to a parser) and hydra
        # (gen_hydra.py --shape hydra: the real Hydra's shape, gzip on the wire)
        "series": "synthetic hydra",
    }
    for key, value in list(d.items()):
        env = "BENCH_" + key.upper()
        if isinstance(value, int):
            d[key] = env_int(env, value)
        elif os.environ.get(env):
            d[key] = os.environ[env]
    d["scales"] = [int(s.replace("_", "")) for s in str(d["scales"]).split()]
    d["only"] = set(str(d["only"]).replace(",", " ").split())
    d["series"] = str(d["series"]).replace(",", " ").split()
    d["quick"] = quick
    return d


# --------------------------------------------------------------------------
# Running things


class Run:
    def __init__(self, wall: float, rss_kb: int, rc: int, user: float, sys_: float) -> None:
        self.end = time.time()  # unix time of the exit (the server logs arrivals in it)
        self.ingest = 0.0  # from the /eval/<id>/builds request to exit (first_sync_runs)
        self.wall = wall
        self.rss_kb = rss_kb
        self.rc = rc
        self.user = user
        self.sys = sys_


def bench_env() -> dict:
    home = os.path.join(OUT, "home")
    os.makedirs(home, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LC_ALL": "C",
           "XDG_CONFIG_HOME": os.path.join(home, "config"),
           "XDG_STATE_HOME": os.path.join(home, "state")}
    return env


ENV = None


def spawn(argv: list[str], stdin: str | None = None, stdout: str | None = None,
          stderr: str | None = None) -> Run:
    """Runs argv (no shell) and returns its wall time and rusage. posix_spawn
    and wait4 keep the harness's own overhead small and equal for every
    command compared."""
    global ENV
    if ENV is None:
        ENV = bench_env()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin or os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
    ]
    path = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    t0 = time.perf_counter()
    pid = os.posix_spawn(path, argv, ENV, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return Run(wall, ru.ru_maxrss, os.waitstatus_to_exitcode(status), ru.ru_utime, ru.ru_stime)


def summary(values: list[float]) -> dict:
    s = sorted(values)
    n = len(s)
    return {"n": n, "median": statistics.median(s), "min": s[0], "max": s[-1],
            "p99": s[max(0, math.ceil(0.99 * n) - 1)]}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Server:
    """static_hydra.py on a free loopback port, with its request log."""

    def __init__(self, root: str, name: str) -> None:
        self.root = root
        self.log = os.path.join(OUT, f"server-{name}.log")
        self.port_file = os.path.join(OUT, f"server-{name}.port")

    def __enter__(self) -> "Server":
        for f in (self.log, self.port_file):
            if os.path.exists(f):
                os.remove(f)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(BENCH, "static_hydra.py"), self.root,
             "--port-file", self.port_file, "--log", self.log],
            stdout=subprocess.DEVNULL, stderr=open(self.log + ".err", "w"))
        for _ in range(200):
            if os.path.exists(self.port_file):
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"static_hydra.py exited; see {self.log}.err")
            time.sleep(0.05)
        with open(self.port_file) as fh:
            self.url = f"http://127.0.0.1:{int(fh.read())}"
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def requests(self) -> list[dict]:
        if not os.path.exists(self.log):
            return []
        with open(self.log) as fh:
            return [json.loads(line) for line in fh if line.strip()]


# --------------------------------------------------------------------------
# Data


# The second jobset of the hydra series' history: a tenth of the newest
# eval's drvs built there too (gen_hydra.py --twin).
TWIN = "nixpkgs:staging-next"


def gen_hydra(series: str, name: str, jobset: str, evals: int, eval_size: int, distinct: int,
              queued_rate: float, eval_id_base: int, build_id_base: int, keys: int,
              twin: bool = False) -> str:
    out = os.path.join(DATA, "hydra" if series == "synthetic" else f"{series}-shaped", name)
    cmd = [sys.executable, os.path.join(BENCH, "gen_hydra.py"), out, "--jobset", jobset,
           "--evals", str(evals), "--eval-size", str(eval_size), "--distinct", str(distinct),
           "--queued-rate", str(queued_rate), "--eval-id-base", str(eval_id_base),
           "--build-id-base", str(build_id_base), "--keys", str(keys)]
    if series == "hydra":
        cmd += ["--shape", "hydra"] + (["--twin", TWIN] if twin else [])
    subprocess.run(["nice", "-n", "10"] + cmd, check=True)
    return out


def manifest(root: str) -> dict:
    with open(os.path.join(root, "manifest.json")) as fh:
        return json.load(fh)


def read_lines(path: str) -> list[str]:
    with open(path) as fh:
        return [line.strip() for line in fh if line.strip()]


# --------------------------------------------------------------------------
# Queries taken from the sources, so that the sqlite3 comparison runs the
# very query hydra-status prepares.


_LOOKUP_SQL: list[str] = []


def lookup_sql(drv_hex: str) -> str:
    """The one statement `lookup DRV` runs (IndexReader::answer_key: the
    builds, their jobsets and names, the local failure record), with the
    parameters written in: ?1 the drv hash, ?2 and ?3 NULL (a drv key),
    ?4 0 (local-ttl)."""
    if not _LOOKUP_SQL:
        # BENCH_SOURCE_DIR: the sources of the binary measured, when it is
        # not this checkout's (a comparison with an older build).
        src = os.environ.get("BENCH_SOURCE_DIR") or REPO
        with open(os.path.join(src, "src", "index", "index.cpp"), encoding="utf-8") as fh:
            text = fh.read()
        if "k_key_drv" not in text:  # before schema v4: the join, WHERE b.drv = ?1
            m = re.search(r'k_build_columns\s*=\s*R"sql\((.*?)\)sql"', text, re.S)
            if not m:
                raise SystemExit("measure: cannot find the lookup query in index.cpp")
            _LOOKUP_SQL.append(" ".join((m.group(1) + " WHERE b.drv = X'{}'").split()))
            return _LOOKUP_SQL[0].format(drv_hex)
        parts = []
        for name in ("k_key_drv", "k_answer_key"):
            m = re.search(name + r'\s*=\s*R"sql\((.*?)\)sql"', text, re.S)
            if not m:
                raise SystemExit(f"measure: cannot find {name} in index.cpp")
            parts.append(m.group(1))
        sql = " ".join(" ".join(parts).split())
        for param, value in (("?1", "X'{0}'"), ("?2", "NULL"), ("?3", "NULL"), ("?4", "0")):
            sql = sql.replace(param, value)
        _LOOKUP_SQL.append(sql)
    return _LOOKUP_SQL[0].format(drv_hex)


# --------------------------------------------------------------------------
# Measures


class Bench:
    def __init__(self, binary: str, cfg: dict, series: str = "synthetic") -> None:
        self.hs = binary
        self.cfg = cfg
        self.series = series
        self.results: list[dict] = []
        self.scaling: list[dict] = []
        self.extra: dict = {}

    def add(self, key: str, measure: str, target: str, value: str, met: bool | None,
            detail: str = "", raw: dict | None = None) -> None:
        self.results.append({"key": key, "series": self.series, "measure": measure,
                             "target": target, "value": value,
                             "met": met, "detail": detail, "raw": raw or {}})
        log(f"[{self.series}] {measure}: {value} (target {target}: "
            f"{'met' if met else 'not met' if met is not None else 'n/a'})")

    def sync_argv(self, db: str, url: str, jobset: str, max_evals: int = 1,
                  more: tuple[str, ...] = ()) -> list[str]:
        argv = [self.hs, "--db", db, "--url", url, "sync", "--jobset", jobset]
        for other in more:
            argv += ["--jobset", other]
        return argv + ["--max-evals", str(max_evals), "--min-interval", "0"]

    @staticmethod
    def fresh_db(name: str) -> str:
        db = os.path.join(OUT, name)
        for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        return db

    @staticmethod
    def db_bytes(db: str) -> int:
        """The index on disk after the process exited: the file and its -wal."""
        return sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))

    @staticmethod
    def wal_bytes(db: str) -> int:
        return os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0

    def first_sync_runs(self, root: str, jobset: str, runs: int, name: str,
                        max_evals: int = 1) -> tuple[list[Run], int, int, str]:
        """runs first syncs into a fresh index each; one untimed warm-up."""
        err = os.path.join(OUT, f"{name}.stderr")
        if os.path.exists(err):
            os.remove(err)
        with Server(root, name) as srv:
            results = []
            for i in range(runs + 1):
                db = self.fresh_db(f"{name}.sqlite")
                r = spawn(self.sync_argv(db, srv.url, jobset, max_evals), stderr=err)
                if r.rc != 0:
                    raise SystemExit(f"sync failed (exit {r.rc}); see {err}")
                if i > 0:
                    results.append(r)
            reqs = srv.requests()
        builds_reqs = [q for q in reqs if q["path"].endswith("/builds")]
        if len(builds_reqs) == runs + 1:
            for r, q in zip(results, builds_reqs[1:]):
                r.ingest = r.end - q["t"]
        per_run = len(reqs) // (runs + 1)
        body = sum(q["bytes"] for q in reqs) // (runs + 1)
        return results, per_run, body, db

    # 1 + 2 + scaling ------------------------------------------------------------

    def sync_and_naive(self, single: dict[int, str]) -> None:
        cfg = self.cfg
        n = cfg["eval_builds"]
        root = single[n]
        m = manifest(root)
        jobset = m["params"]["jobset"]
        log(f"first sync of one {n}-build eval, {cfg['runs']} runs")
        runs, reqs, body, db = self.first_sync_runs(root, jobset, cfg["runs"], f"single-{n}")
        wall = summary([r.wall for r in runs])
        rss = summary([r.rss_kb * 1024 / 1e6 for r in runs])
        builds = sqlite_count(db)
        size = self.db_bytes(db)
        self.first_sync = wall
        self.add("first_sync_wall", f"first sync of one {n:,}-build eval (wall)",
                 "≤ 2 s" if n == 250_000 else "≤ 2 s at 250k",
                 fmt_s(wall), wall["median"] <= 2.0 * n / 250_000,
                 f"{reqs} requests, {body / 1e6:.0f} MB of JSON, {builds:,} builds; "
                 f"user {statistics.median(r.user for r in runs):.2f} s, "
                 f"sys {statistics.median(r.sys for r in runs):.2f} s", {"wall": wall})
        self.add("first_sync_rss", f"first sync of one {n:,}-build eval (peak RSS)", "≤ 150 MB",
                 f"{rss['median']:.0f} MB [{rss['min']:.0f}–{rss['max']:.0f}]",
                 rss["max"] <= 150, "MB = 10^6 bytes, ru_maxrss via wait4", {"rss_mb": rss})
        ingest = summary([r.ingest for r in runs])
        rate = n / ingest["median"] if ingest["median"] > 0 else 0
        self.add("ingest_rate", f"ingest of one {n:,}-build eval, from the builds request "
                 "to exit", "≥ 125,000 builds/s", f"{rate:,.0f} builds/s", rate >= 125_000,
                 f"{fmt_s(ingest)} from the arrival of GET /eval/<id>/builds at the server to "
                 f"the exit of hydra-status", {"ingest": ingest})
        self.scaling.append({"builds": n, "wall": wall["median"], "runs": len(runs),
                             "cpu": statistics.median(r.user + r.sys for r in runs),
                             "rss_mb": rss["median"], "bytes": size, "json_bytes": body,
                             "wal": self.wal_bytes(db), "index_builds": builds})

        if os.path.exists(os.path.join(OUT, "naive.stderr")):
            os.remove(os.path.join(OUT, "naive.stderr"))
        log(f"naive reference ingester (Python json + sqlite3), {cfg['naive_runs']} runs")
        with Server(root, "naive") as srv:
            naive = []
            for _ in range(cfg["naive_runs"]):
                ndb = self.fresh_db("naive.sqlite")
                naive.append(spawn([sys.executable, os.path.join(BENCH, "naive_ingest.py"),
                                    "--url", srv.url, "--jobset", jobset, "--db", ndb],
                                   stderr=os.path.join(OUT, "naive.stderr")))
                if naive[-1].rc != 0:
                    raise SystemExit("naive_ingest.py failed; see bench/out/naive.stderr")
        nw = summary([r.wall for r in naive])
        ratio = nw["median"] / wall["median"]
        same = sqlite_count(ndb) == builds and os.path.getsize(ndb) > 0
        phases = ""
        with open(os.path.join(OUT, "naive.stderr")) as fh:
            lines = [line.strip() for line in fh if line.startswith("naive_ingest:")]
            if lines:
                phases = lines[-1].split("(", 1)[-1].rstrip(")")
        self.add("naive_ratio", "naive reference ingester time / hydra-status time", "≥ 10x",
                 f"{ratio:.1f}x", ratio >= 10,
                 f"naive {fmt_s(nw)}, peak RSS {statistics.median(r.rss_kb for r in naive) / 1e3:.0f} MB "
                 f"({phases}); same build count: {'yes' if same else 'NO'}",
                 {"naive_wall": nw})

    def scaling_curve(self, single: dict[int, str]) -> None:
        cfg = self.cfg
        for n in cfg["scales"]:
            if n == cfg["eval_builds"]:
                continue  # measured above
            root = single[n]
            log(f"scaling: first sync of {n} builds, {cfg['scale_runs']} runs")
            runs, reqs, body, db = self.first_sync_runs(
                root, manifest(root)["params"]["jobset"], cfg["scale_runs"], f"single-{n}")
            self.scaling.append({"builds": n, "wall": statistics.median(r.wall for r in runs),
                                 "ingest": statistics.median(r.ingest for r in runs),
                                 "cpu": statistics.median(r.user + r.sys for r in runs),
                                 "runs": len(runs),
                                 "rss_mb": statistics.median(r.rss_kb for r in runs) * 1024 / 1e6,
                                 "bytes": self.db_bytes(db), "json_bytes": body,
                                 "wal": self.wal_bytes(db), "index_builds": sqlite_count(db)})
        self.scaling.sort(key=lambda s: s["builds"])
        for s in self.scaling:
            if s["builds"] in (100_000, 1_000_000):
                self.add(f"rss_{s['builds']}", f"peak RSS of the first sync of "
                         f"{s['builds']:,} builds", "≤ 150 MB", f"{s['rss_mb']:.0f} MB",
                         s["rss_mb"] <= 150, f"median of {s['runs']} runs")
        if len(self.scaling) >= 2:
            a, z = self.scaling[0], self.scaling[-1]
            ratio = (z["wall"] / z["builds"]) / (a["wall"] / a["builds"])
            cpu = (z["cpu"] / z["builds"]) / max(a["cpu"] / a["builds"], 1e-12)
            self.add("linear", f"time per build, {z['builds']:,} vs {a['builds']:,} builds",
                     "≤ 1.2x", f"{ratio:.2f}x", ratio <= 1.2,
                     f"wall {a['wall'] / a['builds'] * 1e6:.1f} → "
                     f"{z['wall'] / z['builds'] * 1e6:.1f} µs per build; CPU (user + sys) "
                     f"per build {cpu:.2f}x")

    # 3 + 4: the history -------------------------------------------------------

    def history(self, hist: str) -> str:
        cfg = self.cfg
        m = manifest(hist)
        jobset = m["params"]["jobset"]
        log("first sync of the newest eval of the history jobset (evals listing included)")
        runs, reqs, body, _ = self.first_sync_runs(hist, jobset, 2, "hist-newest")
        w = summary([r.wall for r in runs])
        self.add("hist_newest", f"first sync, newest eval only, of a jobset with "
                 f"{cfg['hist_evals']} evals (info)", "—", fmt_s(w), None,
                 f"{reqs} requests, {body / 1e6:.0f} MB (the evals page lists every member "
                 f"build id of 20 evals); peak RSS "
                 f"{statistics.median(r.rss_kb for r in runs) * 1024 / 1e6:.0f} MB")

        twin = tuple(j for j in [m["params"].get("twin", "")] if j)
        log(f"history load: {cfg['hist_evals']} evals, {m['builds']} distinct builds"
            + (f", and {twin[0]}" if twin else ""))
        db = self.fresh_db("hist.sqlite")
        for f in ("hist.stderr", "resync.stderr"):
            if os.path.exists(os.path.join(OUT, f)):
                os.remove(os.path.join(OUT, f))
        with Server(hist, "hist") as srv:
            r = spawn(self.sync_argv(db, srv.url, jobset, cfg["hist_evals"], twin),
                      stderr=os.path.join(OUT, "hist.stderr"))
            if r.rc != 0:
                raise SystemExit(f"history sync failed (exit {r.rc}); see bench/out/hist.stderr")
            load_reqs = len(srv.requests())
            body = sum(q["bytes"] for q in srv.requests())
            distinct = sqlite_count(db)
            size = self.db_bytes(db)
            wal = self.wal_bytes(db)
            per = size / max(distinct, 1)
            self.add("hist_load", f"load of {cfg['hist_evals']} evals, "
                     f"{distinct:,} distinct builds (info)", "—",
                     f"{r.wall:.1f} s", None,
                     f"{load_reqs} requests, {body / 1e9:.1f} GB on the wire; "
                     f"peak RSS {r.rss_kb * 1024 / 1e6:.0f} MB; user {r.user:.1f} s, "
                     f"sys {r.sys:.1f} s"
                     + (f"; with {twin[0]} ({m.get('twin_builds', 0):,} builds, the same "
                        f"drvs as builds of the newest eval)" if twin else ""))
            self.add("index_size", f"index size per distinct build after the "
                     f"{cfg['hist_evals']}-eval load", "≤ 150 B",
                     f"{per:.0f} B", per <= 150,
                     f"{size / 1e6:.0f} MB on disk for {distinct:,} builds "
                     f"({m['jobs']:,} jobs, {len(m['eval_ids']) + len(twin)} evals): the file "
                     f"{(size - wal) / 1e6:.0f} MB ({(size - wal) / max(distinct, 1):.0f} B per build) "
                     f"and its -wal, left at {wal / 1e6:.0f} MB after the sync exited",
                     {"bytes": size, "wal": wal, "builds": distinct})
            self.extra["dbstat"] = dbstat(db)
            self.extra["dbstat_total"] = size

            log(f"re-sync with nothing new, {cfg['runs']} runs")
            walls = []
            counts = []
            for _ in range(cfg["runs"]):
                before = len(srv.requests())
                rr = spawn(self.sync_argv(db, srv.url, jobset, 1, twin),
                           stderr=os.path.join(OUT, "resync.stderr"))
                if rr.rc != 0:
                    raise SystemExit(f"re-sync failed (exit {rr.rc}); see bench/out/resync.stderr")
                walls.append(rr.wall)
                counts.append((len(srv.requests()) - before) / (1 + len(twin)))
            paths = sorted({q["path"] + ("?" + q["query"] if q["query"] else "")
                            for q in srv.requests()[load_reqs:]})
        self.add("resync", "re-sync with nothing new: requests per jobset", "1",
                 f"{max(counts):g}", max(counts) <= 1,
                 f"{fmt_s(summary(walls))}; requested: {', '.join(paths[:4])}"
                 f"{' …' if len(paths) > 4 else ''}")
        return db

    # 5, 6, 7: lookups and gate on the 2M index ---------------------------------

    def lookups(self, db: str, hist: str) -> None:
        cfg = self.cfg
        rng = random.Random(7)
        drvs = read_lines(os.path.join(hist, "keys", "drvs.txt"))
        outs = read_lines(os.path.join(hist, "keys", "outputs.txt"))

        n = cfg["lookup_runs"]
        log(f"single lookup, cold process: {n} runs each of hydra-status and sqlite3")
        keys = [rng.choice(drvs) for _ in range(n + 20)]
        hs_t: list[float] = []
        sq_t: list[float] = []
        bad = 0
        for i, key in enumerate(keys):
            sql = lookup_sql(benchlib.nix32_to_bytes(benchlib.path_hash(key)).hex())
            pair = [("hs", [self.hs, "--db", db, "lookup", key]),
                    ("sq", ["sqlite3", "-readonly", db, sql])]
            if i % 2:
                pair.reverse()  # alternate who goes first
            for who, argv in pair:
                r = spawn(argv)
                if who == "hs" and r.rc not in (0, 1, 4):
                    bad += 1
                if i >= 20:  # the first 20 are warm-up
                    (hs_t if who == "hs" else sq_t).append(r.wall * 1e3)
        hs, sq = summary(hs_t), summary(sq_t)
        r50 = hs["median"] / sq["median"]
        r99 = hs["p99"] / sq["p99"]
        detail = (f"hydra-status p50 {hs['median']:.2f} ms, p99 {hs['p99']:.2f} ms; "
                  f"sqlite3 CLI p50 {sq['median']:.2f} ms, p99 {sq['p99']:.2f} ms; "
                  f"{n} random known drv paths, interleaved")
        if bad:
            detail += f"; {bad} lookups exited with an unexpected code"
        self.add("lookup_p50", "single lookup, cold process, p50 vs sqlite3 CLI", "≤ 1.0x",
                 f"{r50:.2f}x", r50 <= 1.0, detail, {"hs_ms": hs, "sqlite_ms": sq})
        self.add("lookup_p99", "single lookup, cold process, p99 vs sqlite3 CLI", "≤ 1.0x",
                 f"{r99:.2f}x", r99 <= 1.0, "")

        nb = cfg["batch_keys"]
        log(f"batch lookup of {nb} keys, {cfg['runs']} runs")
        n_out = nb * 15 // 100
        n_unknown = nb * 5 // 100
        batch = [rng.choice(drvs) for _ in range(nb - n_out - n_unknown)]
        batch += [rng.choice(outs) for _ in range(n_out)]
        batch += [f"{benchlib.STORE_DIR}/{h}-unknown-1.0.drv"
                  for h in benchlib.random_hashes(rng, n_unknown)]
        rng.shuffle(batch)
        keys_file = os.path.join(OUT, "batch-keys.txt")
        with open(keys_file, "w") as fh:
            fh.write("\n".join(batch) + "\n")
        answers = os.path.join(OUT, "batch-answers.jsonl")
        spawn([self.hs, "--db", db, "--json", "lookup", "--stdin"], stdin=keys_file,
              stdout=answers)  # warm-up, and kept for the check below
        runs = [spawn([self.hs, "--db", db, "--json", "lookup", "--stdin"], stdin=keys_file)
                for _ in range(cfg["runs"])]
        w = summary([r.wall for r in runs])
        counts: dict[str, int] = {}
        lines = 0
        with open(answers) as fh:
            for line in fh:
                lines += 1
                status = json.loads(line).get("status", "?")
                counts[status] = counts.get(status, 0) + 1
        unknown = counts.get("unknown", 0)
        self.add("batch", f"batch lookup of {nb:,} keys (--stdin --json)",
                 "≤ 0.5 s" if nb == 100_000 else "≤ 0.5 s at 100k",
                 fmt_s(w), w["median"] <= 0.5 * nb / 100_000,
                 f"80% drv paths, 15% output paths, 5% unknown; {lines:,} answers, "
                 f"{unknown:,} unknown; peak RSS "
                 f"{statistics.median(r.rss_kb for r in runs) * 1024 / 1e6:.0f} MB",
                 {"wall": w, "statuses": counts})

    def gate(self, db: str, hist: str) -> None:
        cfg = self.cfg
        gate_dir = os.path.join(DATA, f"gate-{cfg['gate_drvs']}-{self.series}-"
                                      f"{os.path.basename(hist)}")
        subprocess.run(["nice", "-n", "10", sys.executable, os.path.join(BENCH, "gen_drvs.py"),
                        gate_dir, "--drvs", str(cfg["gate_drvs"]),
                        "--known", os.path.join(hist, "keys", "drvs.txt"),
                        "--known", os.path.join(hist, "keys", "failed-drvs.txt")], check=True)
        gm = manifest(gate_dir)
        root = gm["root"]
        argv = [self.hs, "--db", db, "gate", "--store-root", gate_dir, root]
        log(f"gate over {cfg['gate_drvs']} drvs, {cfg['gate_runs']} warm runs")
        err = os.path.join(OUT, "gate.stderr")
        if os.path.exists(err):
            os.remove(err)
        for _ in range(2):
            spawn(argv, stderr=err)  # warm the page cache
        runs = [spawn(argv) for _ in range(cfg["gate_runs"])]
        w = summary([r.wall * 1e3 for r in runs])
        with open(err) as fh:
            line = next((ln.strip() for ln in fh if ln.startswith("gate:")), "")
        n = cfg["gate_drvs"]
        self.add("gate", f"gate over a {n:,}-drv closure, warm",
                 "≤ 100 ms" if n == 20_000 else "≤ 100 ms at 20k",
                 f"{w['median']:.0f} ms [{w['min']:.0f}–{w['max']:.0f}]",
                 w["median"] <= 100 * n / 20_000,
                 f"{gm['bytes'] / 1e6:.0f} MB of .drv, {gm['edges']:,} inputDrvs edges, "
                 f"{gm['known']:,} drvs from the index; exit {runs[0].rc}; '{line}'",
                 {"wall_ms": w})


def sqlite_count(db: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM build").fetchone()[0]
    finally:
        con.close()


def dbstat(db: str) -> list[tuple[str, int, int]]:
    """(table or index, bytes, rows-ish) from SQLite's dbstat virtual table."""
    sql = ("SELECT name, SUM(pgsize), SUM(ncell) FROM dbstat WHERE aggregate = 0 "
           "GROUP BY name ORDER BY 2 DESC")
    try:
        out = subprocess.run(["sqlite3", "-readonly", db, sql], capture_output=True, text=True,
                             check=True, env=bench_env()).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    rows = []
    for line in out.splitlines():
        name, size, cells = line.split("|")
        rows.append((name, int(size), int(cells)))
    return rows


def fmt_s(s: dict) -> str:
    return f"{s['median']:.2f} s [{s['min']:.2f}–{s['max']:.2f}, n={s['n']}]"


# --------------------------------------------------------------------------
# Report


def machine(binary: str) -> dict:
    cpu = "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    compiler = "?"
    cache = os.path.join(os.path.dirname(binary), "CMakeCache.txt")
    build_type = "?"
    if os.path.exists(cache):
        with open(cache) as fh:
            for line in fh:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    cxx = line.split("=", 1)[1].strip()
                    try:
                        compiler = subprocess.run([cxx, "--version"], capture_output=True,
                                                  text=True).stdout.splitlines()[0]
                    except (OSError, IndexError):
                        pass
                elif line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip()
    mem = "?"
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    sqlite_cli = subprocess.run(["sqlite3", "--version"], capture_output=True,
                                text=True).stdout.split()[0]
    git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no",
                            "--", "src", "sync", "CMakeLists.txt", "cmake"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(), "cpu": cpu, "memory": mem, "compiler": compiler,
        "build_type": build_type, "kernel": platform.release(),
        "sqlite": f"{sqlite_cli} (CLI)", "python": platform.python_version(),
        "commit": git + (f" + {len(dirty.splitlines())} modified source files" if dirty else ""),
    }


SERIES_TEXT = {
    "synthetic": "synthetic: gen_hydra.py's first data, kind to a parser (keys in one order, "
                 "ids sorted, names ~20 characters, plain JSON on the wire)",
    "hydra": "hydra: gen_hydra.py --shape hydra, shaped like the real Hydra's answers (keys "
             "and ids in no order, nixpkgs' name lengths, metrics, gzip on the wire, a second "
             "jobset building a tenth of the same drvs in the history)",
}


def write_results(path: str, benches: list[Bench], info: dict, cfg: dict, started: float,
                  load_start: tuple, load_end: tuple) -> None:
    L = []
    L.append("# Benchmark results\n")
    L.append(f"Written by `bench/run` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
             f"in {(time.monotonic() - started) / 60:.1f} min"
             f"{' (BENCH_QUICK=1: reduced scales, not comparable with the targets)' if cfg['quick'] else ''}. "
             "How the data and each measure are made: [README.md](README.md); "
             "what bounds the targets not met and what to change: [ANALYSIS.md](ANALYSIS.md).\n")
    L.append("## Machine\n")
    L.append("| | |\n|---|---|")
    for k, label in (("cores", "cores (nproc)"), ("cpu", "CPU"), ("memory", "memory"),
                     ("compiler", "compiler"), ("build_type", "build type"),
                     ("kernel", "kernel"), ("sqlite", "SQLite"), ("python", "Python"),
                     ("commit", "sources")):
        L.append(f"| {label} | {info[k]} |")
    L.append(f"| load average (1, 5, 15 min) | {', '.join(f'{x:.2f}' for x in load_start)} at start, "
             f"{', '.join(f'{x:.2f}' for x in load_end)} at the end (the machine is shared) |")
    L.append("")
    L.append("All syncs run against `bench/static_hydra.py` on 127.0.0.1 with "
             "`--min-interval 0` (no pause between requests; the default of 1 s is for "
             "hydra.nixos.org). Times are wall clock from spawn to exit; peak RSS is "
             "`ru_maxrss` from wait4 (MB = 10^6 bytes). Ranges are [min–max, n runs] "
             "around the median; one untimed warm-up run precedes each series. "
             "Data series:\n")
    for b in benches:
        L.append(f"- {SERIES_TEXT.get(b.series, b.series)}")
    L.append("")
    L.append("## Summary\n")
    L.append("| series | measure | target | result | met |\n|---|---|---|---|---|")
    for b in benches:
        for r in b.results:
            met = "—" if r["met"] is None else ("**yes**" if r["met"] else "**no**")
            L.append(f"| {b.series} | {r['measure']} | {r['target']} | {r['value']} | {met} |")
    L.append("")
    L.append("## Details\n")
    for b in benches:
        for r in b.results:
            if r["detail"]:
                L.append(f"- **{b.series}, {r['measure']}**: {r['detail']}")
    L.append("")
    for b in benches:
        if not b.scaling:
            continue
        L.append(f"## Scaling: first sync of one eval ({b.series})\n")
        L.append("| builds | on the wire | wall (median) | µs / build | CPU µs / build | peak RSS | "
                 "index file | -wal left | bytes / build (file) |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in b.scaling:
            main = s["bytes"] - s["wal"]
            L.append(f"| {s['builds']:,} | {s['json_bytes'] / 1e6:.0f} MB | {s['wall']:.2f} s "
                     f"(n={s['runs']}) | {s['wall'] / s['builds'] * 1e6:.1f} | "
                     f"{s.get('cpu', 0) / s['builds'] * 1e6:.1f} | {s['rss_mb']:.0f} MB | "
                     f"{main / 1e6:.1f} MB | {s['wal'] / 1e6:.1f} MB | "
                     f"{main / max(s['index_builds'], 1):.0f} |")
        if len(b.scaling) >= 2:
            a, z = b.scaling[0], b.scaling[-1]
            L.append("")
            L.append(f"From {a['builds']:,} to {z['builds']:,} builds "
                     f"({z['builds'] / a['builds']:.0f}x) the time grows "
                     f"{z['wall'] / a['wall']:.1f}x (per build "
                     f"{(z['wall'] / z['builds']) / (a['wall'] / a['builds']):.2f}x; CPU per build "
                     f"{(z.get('cpu', 0) / z['builds']) / max(a.get('cpu', 0) / a['builds'], 1e-12):.2f}x) "
                     f"and the index file "
                     f"{(z['bytes'] - z['wal']) / (a['bytes'] - a['wal']):.1f}x.")
        L.append("")
    for b in benches:
        if not b.extra.get("dbstat"):
            continue
        total = sum(size for _, size, _ in b.extra["dbstat"])
        builds = next((r["raw"]["builds"] for r in b.results if r["key"] == "index_size"), 1)
        L.append(f"## Index file after the history load, by table and index ({b.series}, "
                 "SQLite dbstat)\n")
        L.append("| table or index | size | share | bytes / distinct build | cells |")
        L.append("|---|---:|---:|---:|---:|")
        for name, size, cells in b.extra["dbstat"]:
            if size == 0:
                continue
            L.append(f"| {name} | {size / 1e6:.1f} MB | {size / total * 100:.0f}% | "
                     f"{size / builds:.1f} | {cells:,} |")
        L.append("")
    L.append("## Scales used\n")
    L.append("| setting (env) | value |\n|---|---|")
    for k in ("eval_builds", "hist_evals", "hist_builds", "scales", "runs", "naive_runs",
              "scale_runs", "lookup_runs", "batch_keys", "gate_drvs", "gate_runs", "only",
              "series"):
        v = cfg[k]
        if isinstance(v, set):
            v = " ".join(sorted(v))
        elif isinstance(v, list):
            v = " ".join(f"{x:,}" if isinstance(x, int) else x for x in v)
        else:
            v = f"{v:,}"
        L.append(f"| `BENCH_{k.upper()}` | {v} |")
    L.append("")
    # bench/day's section ("## Simulated day", written by bench/day.py) is kept.
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            _, found, day = fh.read().partition("## Simulated day")
        if found:
            L.append(found + day.rstrip("\n") + "\n")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(L))


def generate(series: str, cfg: dict) -> tuple[str, dict[int, str]]:
    """The history dataset and the single-eval datasets of one series."""
    n_keys = max(cfg["batch_keys"], cfg["lookup_runs"] * 2, 20_000)
    e, hb, ev = cfg["hist_evals"], cfg["hist_builds"], cfg["eval_builds"]
    hist = ""
    if cfg["only"] & {"history", "lookups", "gate"}:
        hist = gen_hydra(series, f"trunk-{e}x{ev}-{hb}", "nixpkgs:trunk", e, ev, hb, 0.0,
                         1_800_000, 280_000_000, n_keys, twin=True)
    single: dict[int, str] = {}
    for i, n in enumerate(sorted(set(cfg["scales"] + [ev]))):
        if not cfg["only"] & {"sync", "scaling"}:
            break
        single[n] = gen_hydra(series, f"single-{n}", f"nixpkgs:single-{n}", 1, n, n, 0.003,
                              1_900_000 + 1000 * i, 400_000_000 + 50_000_000 * i, 2_000)
    return hist, single


def main(argv: list[str] | None = None) -> int:
    global OUT
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--binary", required=True)
    p.add_argument("--results", default=os.path.join(BENCH, "RESULTS.md"))
    p.add_argument("--data-only", action="store_true", help="generate the data, measure nothing")
    a = p.parse_args(argv)
    cfg = config()
    started = time.monotonic()
    load_start = os.getloadavg()
    os.makedirs(OUT, exist_ok=True)
    binary = os.path.abspath(a.binary)

    out_root = OUT
    benches = []
    for series in cfg["series"]:
        # Each series' scratch indexes and logs in a folder of its own.
        OUT = out_root if series == "synthetic" else os.path.join(out_root, series)
        os.makedirs(OUT, exist_ok=True)
        log(f"[{series}] generating data (cached in bench/data by parameters)")
        hist, single = generate(series, cfg)
        if a.data_only:
            continue
        b = Bench(binary, cfg, series)
        only = cfg["only"]
        if "sync" in only:
            b.sync_and_naive(single)
        if "scaling" in only:
            b.scaling_curve(single)
        if only & {"history", "lookups", "gate"}:
            db = b.history(hist)
            if "lookups" in only:
                b.lookups(db, hist)
            if "gate" in only:
                b.gate(db, hist)
        benches.append(b)
    OUT = out_root
    if a.data_only:
        return 0

    info = machine(binary)
    write_results(a.results, benches, info, cfg, started, load_start, os.getloadavg())
    with open(os.path.join(OUT, "results.json"), "w") as fh:
        json.dump({"machine": info, "config": {**cfg, "only": sorted(cfg["only"])},
                   "series": {b.series: {"results": b.results, "scaling": b.scaling,
                                         "dbstat": b.extra.get("dbstat")} for b in benches}},
                  fh, indent=1)
    log(f"wrote {a.results} in {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
