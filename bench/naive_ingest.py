#!/usr/bin/env python3
"""The reference a user would write by hand: ingest the newest eval of a
jobset with Python's json and sqlite3 modules into the same schema as
hydra-status (k_schema_v1, read from src/index/index.cpp so that the two
never drift apart). Same requests as `hydra-status sync --max-evals 1` on a
first sync: the evals listing, then /eval/<id>/builds, read whole and parsed
whole. Plain code, one transaction, executemany: naive, not careless.

  naive_ingest.py --url http://127.0.0.1:PORT --jobset nixpkgs:trunk --db FILE
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ID_SHIFT = 40  # hydra << 40 | id, as in index.cpp


def read_schema() -> str:
    path = os.path.join(benchlib.REPO_DIR, "src", "index", "index.cpp")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    m = re.search(r'k_schema_v1\s*=\s*R"sql\((.*?)\)sql"', text, re.S)
    if not m:
        raise SystemExit(f"naive_ingest: no k_schema_v1 in {path}")
    return m.group(1)


def get_json(url: str):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def leb128_deltas(ids: list[int]) -> bytes:
    out = bytearray()
    prev = 0
    for i in sorted(set(ids)):
        d = i - prev
        prev = i
        while True:
            b = d & 0x7F
            d >>= 7
            if d:
                out.append(b | 0x80)
            else:
                out.append(b)
                break
    return bytes(out)


def path_parts(path: str) -> tuple[bytes, str]:
    base = path[len(benchlib.STORE_DIR) + 1:]
    return benchlib.nix32_to_bytes(base[:32]), base[33:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--jobset", required=True)
    p.add_argument("--db", required=True)
    a = p.parse_args(argv)
    project, _, jobset = a.jobset.partition(":")
    t0 = time.monotonic()

    db = sqlite3.connect(a.db)
    db.execute("PRAGMA journal_mode = WAL")
    if db.execute("PRAGMA user_version").fetchone()[0] == 0:
        db.executescript(read_schema())
        db.execute("PRAGMA user_version = 1")

    evals = get_json(f"{a.url}/jobset/{project}/{jobset}/evals")["evals"]
    newest = max(evals, key=lambda e: e["id"])
    t_fetch = time.monotonic()
    builds = get_json(f"{a.url}/eval/{newest['id']}/builds")
    t_parsed = time.monotonic()

    with db:
        db.execute("INSERT OR IGNORE INTO hydra (url) VALUES (?)", (a.url,))
        hydra = db.execute("SELECT id FROM hydra WHERE url = ?", (a.url,)).fetchone()[0]
        db.execute("INSERT OR IGNORE INTO jobset (hydra, project, name) VALUES (?, ?, ?)",
                   (hydra, project, jobset))
        jobsets: dict[tuple[str, str], int] = {}
        names: dict[str, int] = dict(
            (t, i) for i, t in db.execute("SELECT id, text FROM name"))

        def jobset_id(pr: str, js: str) -> int:
            key = (pr, js)
            if key not in jobsets:
                db.execute("INSERT OR IGNORE INTO jobset (hydra, project, name) VALUES (?, ?, ?)",
                           (hydra, pr, js))
                jobsets[key] = db.execute(
                    "SELECT id FROM jobset WHERE hydra = ? AND project = ? AND name = ?",
                    (hydra, pr, js)).fetchone()[0]
            return jobsets[key]

        def intern(text: str) -> int:
            i = names.get(text)
            if i is None:
                i = db.execute("INSERT INTO name (text) VALUES (?)", (text,)).lastrowid
                names[text] = i
            return i

        build_rows = []
        output_rows = []
        for b in builds:
            row_id = (hydra << ID_SHIFT) | b["id"]
            drv_hash, drv_name = path_parts(b["drvpath"])
            build_rows.append((
                row_id, drv_hash, drv_name[:-4], jobset_id(b["project"], b["jobset"]),
                intern(b["job"]), intern(b["system"]), b["finished"], b["buildstatus"],
                b["starttime"], b["stoptime"]))
            for out_name, out in b["buildoutputs"].items():
                if out.get("path"):
                    output_rows.append((path_parts(out["path"])[0], row_id, out_name))
        t_rows = time.monotonic()
        db.executemany(
            "INSERT OR REPLACE INTO build (id, drv, name, jobset, job, system, finished, status, "
            "starttime, stoptime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", build_rows)
        db.executemany("INSERT OR IGNORE INTO output (hash, build, name) VALUES (?, ?, ?)",
                       output_rows)
        inputs = "".join(f"{k} {v.get('revision') or v.get('value') or ''}\n"
                         for k, v in newest.get("jobsetevalinputs", {}).items())
        js_row = jobset_id(project, jobset)
        db.execute("INSERT OR REPLACE INTO eval (id, jobset, timestamp, inputs, builds) "
                   "VALUES (?, ?, ?, ?, ?)",
                   ((hydra << ID_SHIFT) | newest["id"], js_row, newest.get("timestamp", 0),
                    inputs, leb128_deltas(newest["builds"])))
        db.execute("UPDATE jobset SET synced_at = ?, newest_eval = ? WHERE id = ?",
                   (int(time.time()), newest["id"], js_row))
    db.close()
    t_end = time.monotonic()
    print(f"naive_ingest: {len(builds)} builds in {t_end - t0:.2f} s (fetch+parse "
          f"{t_parsed - t_fetch:.2f} s, rows {t_rows - t_parsed:.2f} s, sqlite "
          f"{t_end - t_rows:.2f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
