#!/usr/bin/env python3
"""bench/day: follow a simulated nixpkgs:trunk for one day (issue 15).

Starts bench/day_hydra.py, then for each binary given (baseline, candidate):
a first sync (the 504 threshold off, so that any sync can complete it), then
`--hours` hourly syncs on the simulated clock, then one more sync right
after the last (the no-change check). Each sync runs with `--min-interval 0`
(and a short backoff ceiling) and HYDRA_STATUS_NOW set to its simulated
start; its simulated duration is its request count x 1 s (+ 900 s for each
504: the proxy's wait); hour h's sync starts at t0 + h h, and is skipped
when the previous one still runs then (as cron with a lock). After each sync the index is read with sqlite3
for freshness. Prints the figures, writes them as JSON to OUT/day.json and
with --write-results the "Simulated day" section of bench/RESULTS.md.

  bench/day --baseline BIN [--candidate BIN] [--quick] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
SERVER = os.path.join(BENCH, "day_hydra.py")
ID_MASK = (1 << 40) - 1
HOUR = 3600

# Full day and the quick one (the integration test's): eval size, the 504
# threshold, the limiter's real-time rate. The limiter is nginx's algorithm
# at 2 r/s x a speed-up: the day runs ~100x faster than real time.
FULL = {"eval_size": 250_000, "eval_builds_504_above": 100_000, "rate": 100.0}
QUICK = {"eval_size": 5_000, "eval_builds_504_above": 2_000, "rate": 100.0}

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Issue 15 point 2, for the day at 250,000 builds an eval (scaled by
# eval_size / 250,000 for smaller days, except the per-check bounds).
TARGET_DAY_BYTES = 60e6
TARGET_DAY_REQUESTS = 45_000
TARGET_NOCHANGE_REQUESTS = 2
TARGET_NOCHANGE_BYTES = 128 * 1024
TARGET_OBJECTS_PER_CHANGE = 1.2
TARGET_FRESH_S = 2 * HOUR
TARGET_BYTES_FACTOR = 10


class DayServer:
    def __init__(self, eval_size: int, rate: float, burst: int, threshold: int, workdir: str,
                 day_evals: int = 6, start_evals: int = 20) -> None:
        port_file = os.path.join(workdir, "port")
        if os.path.exists(port_file):
            os.remove(port_file)  # of an earlier run
        self.log = open(os.path.join(workdir, "day_hydra.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port-file", port_file, "--eval-size", str(eval_size),
             "--rate", str(rate), "--burst", str(burst), "--eval-builds-504-above", str(threshold),
             "--day-evals", str(day_evals), "--start-evals", str(start_evals)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 600
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"day_hydra did not start; see {self.log.name}")
            time.sleep(0.1)
        with open(port_file) as f:
            self.url = f"http://127.0.0.1:{int(f.read())}"
        self.threshold = threshold

    def control(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_control/" + path, data=data,
                                     method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with OPENER.open(req, timeout=600) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def summarize(records: list[dict]) -> dict:
    by_kind: dict[str, int] = {}
    bytes_by_kind: dict[str, int] = {}
    for r in records:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
        bytes_by_kind[r["kind"]] = bytes_by_kind.get(r["kind"], 0) + r["bytes"]
    # A /eval/<id>/builds asked again after it answered 504 in the same run.
    failed: set[str] = set()
    repeated = 0
    for r in records:
        if r["kind"] == "eval-builds":
            if r["path"] in failed:
                repeated += 1
            if r["status"] == 504:
                failed.add(r["path"])
    return {
        "requests": len(records),
        "bytes": sum(r["bytes"] for r in records),
        "objects": sum(r["objects"] for r in records if r["status"] == 200),
        "short": sum(r["short"] for r in records if r["status"] == 200),
        "429": sum(1 for r in records if r["status"] == 429),
        "504": sum(1 for r in records if r["status"] == 504),
        "repeated_after_504": repeated,
        "by_kind": dict(sorted(by_kind.items())),
        "bytes_by_kind": dict(sorted(bytes_by_kind.items())),
    }


def add(total: dict, part: dict) -> None:
    for k, v in part.items():
        if isinstance(v, dict):
            add(total.setdefault(k, {}), v)
        elif isinstance(v, (int, float)):
            total[k] = total.get(k, 0) + v


def index_builds(db: str) -> dict[int, tuple[int, int | None]]:
    if not os.path.exists(db):
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return {bid & ID_MASK: (f, s) for bid, f, s in con.execute("SELECT id, finished, status FROM build")}
    finally:
        con.close()


class Client:
    def __init__(self, label: str, binary: str, workdir: str, url: str) -> None:
        self.label = label
        self.binary = os.path.abspath(binary)
        self.dir = os.path.join(workdir, "".join(c if c.isalnum() else "-" for c in label))
        shutil.rmtree(self.dir, ignore_errors=True)
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.db = os.path.join(self.dir, "index.sqlite")
        self.url = url

    def sync(self, now: int) -> tuple[int, float, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("HYDRA_STATUS_") and not k.lower().endswith("_proxy") and not k.startswith("XDG_")}
        env.update(HOME=self.home, HYDRA_STATUS_NOW=str(now), HYDRA_STATUS_SYSTEM_CONFIG="/dev/null",
                   XDG_CONFIG_HOME=os.path.join(self.home, ".config"),
                   XDG_STATE_HOME=os.path.join(self.home, ".state"))
        cmd = [self.binary, "--db", self.db, "--url", self.url, "sync", "--jobset", "nixpkgs:trunk",
               "--min-interval", "0", "--backoff-ceiling", "50ms", "-q"]
        start = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=self.home, timeout=3600)
        return proc.returncode, time.monotonic() - start, proc.stderr.strip()


def run_day(server: DayServer, label: str, binary: str, workdir: str, hours: int,
            evals_info: dict, log: Any, threshold: int | None = None) -> dict:
    """One client's day; threshold: the 504 threshold of the hourly syncs
    (default the server's)."""
    threshold = server.threshold if threshold is None else threshold
    wall0 = time.monotonic()
    client = Client(label, binary, workdir, server.url)
    t0 = evals_info["t0"]
    day_evals = [e for e in evals_info["evals"] if e["appear"] >= t0]
    fresh: dict[int, dict] = {e["id"]: {"appear": e["appear"], "in": None, "final": None} for e in day_evals}
    syncs = []

    def one_sync(start: int, what: str) -> dict:
        server.control("stats", {})  # clears
        server.control("clock", {"t": start})
        rc, real, err = client.sync(start)
        end = server.control("clock")["t"]
        s = summarize(server.control("stats", {}))
        s.update(what=what, start=start, end=end, sim_s=end - start, real_s=round(real, 2), rc=rc)
        if err:
            s["stderr"] = err[-300:]
        builds = index_builds(client.db)
        for e in day_evals:
            f = fresh[e["id"]]
            if e["appear"] > end:
                continue
            ids = e["new_builds"]
            if f["in"] is None and all(b in builds for b in ids):
                f["in"] = end - e["appear"]
            # Final: finished with the status of its first finish; a build
            # restarted since is a later change, not this eval's.
            if f["final"] is None and all(builds.get(b) == (1, st) or 0 <= r <= end
                                          for b, st, r in zip(ids, e["new_status"], e["new_restart"])):
                f["final"] = end - e["appear"]
        syncs.append(s)
        print(f"  {label} {what:>9}: {s['requests']:6d} requests {s['bytes'] / 1e6:9.2f} MB "
              f"{s['objects']:7d} objects  sim {s['sim_s']:6d} s  real {s['real_s']:7.1f} s  rc {rc}"
              + (f"  ({err.splitlines()[-1][:60]})" if rc and err else ""), file=log, flush=True)
        return s

    server.control("options", {"eval_builds_504_above": -1})
    first = one_sync(t0, "first")
    server.control("options", {"eval_builds_504_above": threshold})
    last_end = first["end"]
    skipped = 0
    for h in range(1, hours + 1):
        # Hourly, as cron would start it; an hour whose start falls while the
        # previous sync still runs (on the simulated clock) is skipped.
        start = t0 + h * HOUR
        if start < last_end:
            skipped += 1
            continue
        last_end = one_sync(start, f"hour {h}")["end"]
    last = syncs[-1]
    nochange = one_sync(last_end, "no-change")
    day = {}
    for s in syncs[1:-1]:
        add(day, {k: v for k, v in s.items() if k not in ("start", "end", "rc", "what")})
    day["failed_syncs"] = sum(1 for s in syncs[1:-1] if s["rc"] != 0)
    day["skipped_syncs"] = skipped
    # Correctness: the index against the truth at the last hourly sync's start,
    # builds that changed while it ran excepted.
    truth = server.control(f"truth?t={last['start']}&until={last['end']}")
    changed = set(truth["changed"])
    builds = index_builds(client.db)
    wrong = []
    for bid, fin, st in zip(truth["ids"], truth["finished"], truth["status"]):
        got = builds.get(bid)
        if got is None or bid in changed:
            continue
        if got[0] != fin or (fin and got[1] != st):
            wrong.append(bid)
    # Builds new or changed during the day (after the first sync).
    day_changes = server.control(f"truth?t={last['end']}&since={first['end']}&until={last['end']}")
    new_ids = {b for e in day_evals for b in e["new_builds"]}
    changes = len(new_ids | set(day_changes["changed"]))
    return {
        "label": label, "binary": binary, "eval_builds_504_above": threshold, "first": first, "day": day, "nochange": nochange,
        "syncs": syncs, "fresh": {str(k): v for k, v in fresh.items()},
        "index_builds": len(builds), "wrong": len(wrong), "wrong_examples": wrong[:10],
        "wall_s": round(time.monotonic() - wall0, 1),
        "changes": changes, "objects_per_change": round(day.get("objects", 0) / max(1, changes), 3),
    }


def targets(res: dict, scale: float, baselines: list[dict]) -> list[tuple[str, bool, str]]:
    day, nc = res["day"], res["nochange"]
    fresh_in = [f["in"] for f in res["fresh"].values()]
    out = [
        ("every hourly sync succeeds", day["failed_syncs"] == 0, f"{day['failed_syncs']} failed"),
        ("no-change check <= 2 requests, 128 KB",
         nc["requests"] <= TARGET_NOCHANGE_REQUESTS and nc["bytes"] <= TARGET_NOCHANGE_BYTES,
         f"{nc['requests']} requests, {nc['bytes'] / 1024:.0f} KB"),
        (f"day <= {TARGET_DAY_BYTES * scale / 1e6:g} MB", day["bytes"] <= TARGET_DAY_BYTES * scale,
         f"{day['bytes'] / 1e6:.1f} MB"),
        (f"day <= {TARGET_DAY_REQUESTS * scale:,.0f} requests", day["requests"] <= TARGET_DAY_REQUESTS * scale,
         f"{day['requests']:,}"),
        (f"<= {TARGET_OBJECTS_PER_CHANGE} build objects per new or changed build",
         res["objects_per_change"] <= TARGET_OBJECTS_PER_CHANGE and None not in fresh_in,
         f"{day['objects']:,} / {res['changes']:,} = {res['objects_per_change']}"
         + ("" if None not in fresh_in else "; new builds missing")),
        ("every new build in the index within 2 h",
         all(f is not None and f <= TARGET_FRESH_S for f in fresh_in),
         "max " + ("never" if None in fresh_in or not fresh_in else f"{max(fresh_in) / 3600:.1f} h")),
        ("no /eval/<id>/builds repeated after a 504 in a run", day.get("repeated_after_504", 0) == 0,
         f"{day.get('repeated_after_504', 0)} repeated, {day.get('504', 0)} 504s"),
    ]
    for base in baselines:
        if not res["label"].startswith("baseline"):
            factor = base["day"]["bytes"] / max(1, day["bytes"])
            out.append((f"10x fewer bytes than the {base['label']}", factor >= TARGET_BYTES_FACTOR,
                        f"{factor:.1f}x"))
    return out


def fmt_fresh(v: int | None) -> str:
    return "not within the day" if v is None else f"{v / 3600:.1f} h"


def report(results: list[dict], params: dict, wall: float) -> str:
    scale = params["eval_size"] / 250_000
    base = results[0]
    lines = [
        f"Eval size {params['eval_size']:,} builds; {params['day_evals']} new evals a day; "
        f"/eval/<id>/builds 504 above {params['eval_builds_504_above']:,} members (not in the first "
        f"sync); limiter "
        f"{params['rate']:g} r/s (real time), burst {params['burst']}. Wall time {wall / 60:.1f} min.",
        "",
        "| | " + " | ".join(r["label"] for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]

    def row(name: str, f: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(f(r) for r in results) + " |")

    row("/eval/<id>/builds 504 above (hourly syncs)",
        lambda r: "never" if r["eval_builds_504_above"] < 0 else f"{r['eval_builds_504_above']:,} builds")
    row("first sync: requests", lambda r: f"{r['first']['requests']:,}")
    row("first sync: MB on the wire", lambda r: f"{r['first']['bytes'] / 1e6:.1f}")
    row("first sync: build objects", lambda r: f"{r['first']['objects']:,}")
    row("first sync: time real / simulated", lambda r: f"{r['first']['real_s']:.0f} s / {r['first']['sim_s']:,} s")
    row("day: requests", lambda r: f"{r['day']['requests']:,}")
    row("day: requests by endpoint", lambda r: ", ".join(f"{k} {v:,}" for k, v in r["day"]["by_kind"].items()))
    row("day: MB on the wire", lambda r: f"{r['day']['bytes'] / 1e6:.1f}")
    row("day: MB by endpoint", lambda r: ", ".join(f"{k} {v / 1e6:.1f}"
                                                   for k, v in r["day"]["bytes_by_kind"].items()))
    row("day: full build objects served", lambda r: f"{r['day']['objects']:,}")
    row("day: short objects (latestbuilds)", lambda r: f"{r['day']['short']:,}")
    row("day: new or changed builds", lambda r: f"{r['changes']:,}")
    row("day: 429s / 504s", lambda r: f"{r['day']['429']} / {r['day']['504']}")
    row("day: syncs failed (exit != 0) / skipped (previous still running)",
        lambda r: f"{r['day']['failed_syncs']} / {r['day']['skipped_syncs']}")
    row("day: sync time real / simulated",
        lambda r: f"{r['day']['real_s']:.0f} s / {r['day']['sim_s']:,} s")
    row("no-change check", lambda r: f"{r['nochange']['requests']} requests, {r['nochange']['bytes'] / 1024:.1f} KB")
    for eid in base["fresh"]:
        row(f"eval {eid}: new builds in / final",
            lambda r, e=eid: f"{fmt_fresh(r['fresh'][e]['in'])} / {fmt_fresh(r['fresh'][e]['final'])}")
    row("wall time of the run", lambda r: f"{r['wall_s'] / 60:.1f} min")
    row("index at the end: builds, wrong", lambda r: f"{r['index_builds']:,}, {r['wrong']}")
    lines += ["", "Targets of issue 15 point 2" + (f" (scaled by {scale:g})" if scale != 1 else "") + ":", ""]
    lines += ["| target | " + " | ".join(r["label"] for r in results) + " |", "|---|" + "---|" * len(results)]
    baselines = [r for r in results if r["label"].startswith("baseline")]
    checks = [targets(r, scale, baselines) for r in results]
    names = list(dict.fromkeys(n for c in checks for n, _, _ in c))
    for name in names:
        cells = []
        for c in checks:
            hit = [x for x in c if x[0] == name]
            cells.append("—" if not hit else f"{'met' if hit[0][1] else 'not met'} ({hit[0][2]})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(text: str, path: str) -> None:
    with open(path, encoding="utf-8") as f:
        old = f.read()
    head = "## Simulated day"
    section = (f"{head}\n\n`bench/day` (see README.md): a simulated nixpkgs:trunk followed hourly for a day.\n\n"
               + text)
    if head in old:
        before, _, rest = old.partition(head)
        nxt = rest.find("\n## ")
        after = rest[nxt + 1:] if nxt >= 0 else ""
        new = before + section + ("\n" + after if after else "")
    else:
        new = old.rstrip("\n") + "\n\n" + section
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default=os.path.join(REPO, "build", "hydra-status"),
                    help="hydra-status binary of the baseline (default build/hydra-status)")
    ap.add_argument("--candidate", help="hydra-status binary to compare")
    ap.add_argument("--quick", action="store_true", help="5,000 builds an eval (about a minute)")
    ap.add_argument("--eval-size", type=int)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--day-evals", type=int, default=6)
    ap.add_argument("--rate", type=float, help="limiter rate, requests/s of real time")
    ap.add_argument("--burst", type=int, default=7)
    ap.add_argument("--eval-builds-504-above", type=int)
    ap.add_argument("--baseline-without-504", action="store_true",
                    help="also run the baseline with the 504 threshold off (what today's code costs when "
                         "Hydra serves every /eval/<id>/builds)")
    ap.add_argument("--out", default=os.path.join(BENCH, "out", "day"))
    ap.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    a = ap.parse_args(argv)
    params = dict(QUICK if a.quick else FULL)
    for key in ("eval_size", "rate", "eval_builds_504_above"):
        if getattr(a, key) is not None:
            params[key] = getattr(a, key)
    params.update(burst=a.burst, day_evals=a.day_evals, hours=a.hours)
    os.makedirs(a.out, exist_ok=True)
    wall0 = time.monotonic()
    server = DayServer(params["eval_size"], params["rate"], a.burst, params["eval_builds_504_above"], a.out,
                       day_evals=a.day_evals)
    try:
        info = server.control("evals")
        results = []
        runs = [("baseline", a.baseline, None)]
        if a.baseline_without_504:
            runs.append(("baseline, no 504", a.baseline, -1))
        if a.candidate:
            runs.append(("candidate", a.candidate, None))
        for label, binary, threshold in runs:
            print(f"{label}: {binary}", file=sys.stderr)
            results.append(run_day(server, label, binary, a.out, a.hours, info, sys.stderr, threshold))
    finally:
        server.stop()
    wall = time.monotonic() - wall0
    text = report(results, params, wall)
    print(text)
    with open(os.path.join(a.out, "day.json"), "w") as f:
        json.dump({"params": params, "wall_s": round(wall, 1), "results": results}, f, indent=1)
    if a.write_results:
        write_results(text, os.path.join(BENCH, "RESULTS.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
