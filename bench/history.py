#!/usr/bin/env python3
"""Issue 18, point 5: history, bisect and report at nixpkgs scale.

  bench/history.py --binary BUILD/hydra-status [--db INDEX] [--runs N]

Reads the 2,000,000-build history index (40 evals of 250,000 builds) that
bench/run makes as bench/out/hist.sqlite; without one (or --db), it generates
the same data (cached in bench/data) and syncs it into bench/out/history.sqlite
first (a few minutes). BENCH_QUICK=1 uses bench/run's reduced scales.

Measures, each a cold process (wall time, posix_spawn to exit):
- history --job J: median and p99 over random jobs (target < 100 ms);
- history KEY, for a drv key;
- bisect --job J over jobs whose newest build failed (target < 100 ms);
- report over the newest two evals (250,000 builds each) with --html:
  time (target < 2 s), the page's size (target < 5 MB) and its row count.
Writes bench/out/history-results.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402



def NIX32_KEY(drv: bytes, name: str) -> str:  # noqa: N802
    """The drv basename of the index's 20 bytes (benchlib.nix32_to_bytes reversed)."""
    value = int.from_bytes(drv, "little")
    digits = "".join(measure.benchlib.NIX32[(value >> (5 * (31 - i))) & 31] for i in range(32))
    return f"{digits}-{name}.drv"


def history_index(binary: str, cfg: dict) -> tuple[str, str]:
    """The history index and its jobset: bench/run's, else one synced here."""
    e, hb, ev = cfg["hist_evals"], cfg["hist_builds"], cfg["eval_builds"]
    ready = os.path.join(measure.OUT, "hist.sqlite")
    if os.path.exists(ready) and measure.sqlite_count(ready) >= hb * 0.9:
        return ready, "nixpkgs:trunk"
    n_keys = max(cfg["batch_keys"], cfg["lookup_runs"] * 2, 20_000)
    hist = measure.gen_hydra(f"trunk-{e}x{ev}-{hb}", "nixpkgs:trunk", e, ev, hb, 0.0,
                             1_800_000, 280_000_000, n_keys)
    db = os.path.join(measure.OUT, "history.sqlite")
    if os.path.exists(db) and measure.sqlite_count(db) >= hb * 0.9:
        return db, "nixpkgs:trunk"
    db = measure.Bench.fresh_db("history.sqlite")
    measure.log(f"syncing {e} evals ({hb:,} builds) into {db}")
    with measure.Server(hist, "history") as srv:
        bench = measure.Bench(binary, cfg)
        run = measure.spawn(bench.sync_argv(db, srv.url, "nixpkgs:trunk", e),
                            stderr=os.path.join(measure.OUT, "history-sync.stderr"))
        if run.rc != 0:
            raise SystemExit(f"sync failed (exit {run.rc}); see bench/out/history-sync.stderr")
    return db, "nixpkgs:trunk"


def newest_members(con: sqlite3.Connection) -> list[int]:
    blob = con.execute("SELECT builds FROM eval ORDER BY id DESC LIMIT 1").fetchone()[0]
    ids, prev, delta, shift = [], 0, 0, 0
    for byte in blob:
        delta |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        prev += delta
        ids.append(prev)
        delta, shift = 0, 0
    return ids


def pick_jobs(db: str, n: int, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """Random jobs of the newest eval, jobs failing there, and their drv keys."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        members = newest_members(con)
        sample = rng.sample(members, min(len(members), 4000))
        instance = con.execute("SELECT id FROM hydra LIMIT 1").fetchone()[0]
        rows = []
        for bid in sample:
            row = con.execute(
                "SELECT jn.text, b.status, b.drv, b.name FROM build b JOIN name jn ON jn.id = b.job "
                "WHERE b.id = ?", ((instance << 40) | bid,)).fetchone()
            if row:
                rows.append(row)
    finally:
        con.close()
    jobs = [r[0] for r in rows[:n]]
    failing = [r[0] for r in rows if r[1] in (1, 2, 6, 8)][:n]
    keys = [NIX32_KEY(r[2], r[3]) for r in rows[:n]]
    return jobs, failing, keys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--binary", required=True)
    p.add_argument("--db")
    p.add_argument("--runs", type=int, default=20)
    a = p.parse_args()
    cfg = measure.config()
    os.makedirs(measure.OUT, exist_ok=True)
    binary = os.path.abspath(a.binary)
    db, jobset = (a.db, "nixpkgs:trunk") if a.db else history_index(binary, cfg)
    rng = random.Random(18)
    jobs, failing, keys = pick_jobs(db, a.runs, rng)
    base = [binary, "--db", db]
    results = {"db": db, "builds": measure.sqlite_count(db), "rows": []}

    cpu: list[float] = []  # user + sys of the runs of the measure being made

    def run(argv: list[str], stdout: str | None = None) -> measure.Run:
        r = measure.spawn(argv, stdout=stdout)
        cpu.append(r.user + r.sys)
        return r

    def row(name: str, target: str, s: dict, met: bool | None, detail: str = "") -> None:
        c = measure.summary(cpu)
        cpu.clear()
        results["rows"].append({"measure": name, "target": target, "summary": s, "cpu": c,
                                "met": met, "detail": detail})
        measure.log(f"{name}: median {s['median'] * 1000:.1f} ms, p99 {s['p99'] * 1000:.1f} ms"
                    f" (CPU median {c['median'] * 1000:.1f} ms)")

    load = os.getloadavg()
    # one untimed warm-up: the page cache holds the index, as on a machine in use
    measure.spawn(base + ["info"])
    walls = []
    for job in jobs:
        walls.append(run(base + ["history", "--job", job, "--jobset", jobset]).wall)
    s = measure.summary(walls)
    row("history --job (cold process)", "< 100 ms", s, s["p99"] < 0.1, f"{len(jobs)} random jobs")
    walls = []
    for key in keys:
        walls.append(run(base + ["history", key]).wall)
    if walls:
        s = measure.summary(walls)
        row("history KEY (cold process)", "< 100 ms", s, s["p99"] < 0.1, f"{len(keys)} drv keys")
    walls, kinds = [], {}
    for job in failing:
        out = os.path.join(measure.OUT, "bisect.json")
        r = run(base + ["--json", "bisect", "--job", job, "--jobset", jobset], stdout=out)
        walls.append(r.wall)
        with open(out) as fh:
            kind = json.loads(fh.readline())["result"]
        kinds[kind] = kinds.get(kind, 0) + 1
    if walls:
        s = measure.summary(walls)
        row("bisect --job (cold process)", "< 100 ms", s, s["p99"] < 0.1,
            f"{len(failing)} jobs failing in the newest eval: " +
            ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    page = os.path.join(measure.OUT, "report.html")
    out = os.path.join(measure.OUT, "report.txt")
    s = measure.summary([run(base + ["report", "--jobset", jobset, "--html", page], stdout=out).wall
                         for _ in range(5)])
    size = os.path.getsize(page)
    with open(page, encoding="utf-8") as fh:
        html = fh.read()
    data = json.loads(html.split('<script type="application/json" id="data">', 1)[1]
                      .split("</script>", 1)[0])
    row("report, newest two evals, with --html", "< 2 s", s, s["p99"] < 2.0,
        f"page {size / 1e6:.2f} MB (target < 5 MB), {len(data['rows']):,} rows")
    results["html_bytes"] = size
    results["html_rows"] = len(data["rows"])
    with open(os.path.join(measure.OUT, "history-results.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    print(f"\nIndex: {db} ({results['builds']:,} builds)\n")
    print(f"Load average before/after: {load[0]:.1f} / {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs\n")
    print("| measure | target | wall median | wall p99 | CPU median | met (p99) | detail |\n"
          "|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        print(f"| {r['measure']} | {r['target']} | {r['summary']['median'] * 1000:.1f} ms | "
              f"{r['summary']['p99'] * 1000:.1f} ms | {r['cpu']['median'] * 1000:.1f} ms | "
              f"{'yes' if r['met'] else 'no'} | {r['detail']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
