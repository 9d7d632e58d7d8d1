#!/usr/bin/env python3
"""Makes the schema-v2 index fixture of test_migration.py with a hydra-status
binary of the release that wrote schema v2, and records its answers.

  HS_BIN=/path/to/old/hydra-status python3 make_fixture.py

Writes, next to this script: index.sqlite (the v2 index: the demo dataset's
three jobsets synced in phase 1, then again in phase 2, plus two local
failures), keys.txt (every key the migration test asks), expected-batch.jsonl (the old
binary's answers to them, `lookup --json --all --stdin`) and expected.json
(its exit code, and the answer and exit code of one `lookup --json --all
--job` per job).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "integration"))
import hs_testlib  # noqa: E402
from hs_testlib import FakeHydra, run_hs  # noqa: E402

JOBSETS = ("nixpkgs:trunk", "nixpkgs:staging", "nixpkgs:empty")
# Local failures never expire in the test (the default ttl is 7 days).
CONFIG = "local-ttl = 36500d\nstale-after = 0\n"
STORE = "/nix/store"
UNKNOWN_HASH = "mjs27ix6ig2bkbi3s3sm470vrv4lf7ic"


def keys_of(dataset: dict) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """The keys, the (jobset, job) pairs, and two drvs to record as failed."""
    drvs, outs, jobs = set(), set(), set()
    for phase in dataset["phases"].values():
        for build in phase["builds"].values():
            drvs.add(build["drvpath"])
            jobs.add((f"{build['project']}:{build['jobset']}", build["job"]))
            for out in build.get("buildoutputs", {}).values():
                if out.get("path"):
                    outs.add(out["path"])
    keys = []
    for i, drv in enumerate(sorted(drvs)):
        base = os.path.basename(drv)
        keys += [drv, base[:32]]
        if i % 4 == 0:  # a basename, and a known hash with another name
            keys += [base, f"{STORE}/{base[:32]}-renamed.drv"]
    for out in sorted(outs):
        keys += [out, os.path.basename(out)[:32]]
    keys += [f"{STORE}/{UNKNOWN_HASH}-nowhere.drv", UNKNOWN_HASH,
             f"{STORE}/{UNKNOWN_HASH}-nowhere"]
    failed = [sorted(drvs)[0], f"{STORE}/{UNKNOWN_HASH}-nowhere.drv"]
    jobs.add(("nixpkgs:trunk", "no-such-job"))
    jobs.add(("nixpkgs:nowhere", "hello.x86_64-linux"))
    return keys, sorted(jobs), failed


def main() -> int:
    if not os.environ.get("HS_BIN"):
        raise SystemExit("make_fixture.py: set HS_BIN to the old hydra-status binary")
    dataset = hs_testlib.demo_dataset()
    keys, jobs, failed = keys_of(dataset)
    tmp = tempfile.mkdtemp(prefix="hs-fixture-v2-")
    try:
        db = os.path.join(tmp, "index.sqlite")
        home = os.path.join(tmp, "home")
        hs_testlib.write_config(home, CONFIG)
        with FakeHydra(hs_testlib.DEMO_DATASET) as hydra:
            for phase in (1, 2):
                hydra.set_phase(phase)
                for jobset in JOBSETS:
                    proc = run_hs(["--url", hydra.url, "sync", "--jobset", jobset,
                                   "--max-evals", "100", "--min-interval", "0", "-q"],
                                  db=db, home=home)
                    if proc.returncode != 0:
                        raise SystemExit(f"sync {jobset}: {proc.stderr}")
        for drv in failed:
            proc = run_hs(["record", "--failed", drv, "--reason", "fixture"], db=db, home=home)
            if proc.returncode != 0:
                raise SystemExit(f"record {drv}: {proc.stderr}")
        with sqlite3.connect(db) as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
        if version != 2:
            raise SystemExit(f"the binary wrote schema {version}, not 2")
        if os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0:
            raise SystemExit("the index's -wal is not empty")
        batch = run_hs(["--json", "lookup", "--all", "--stdin"], db=db, home=home,
                       input="".join(k + "\n" for k in keys))
        expected = {"batch_exit": batch.returncode, "jobs": []}
        for jobset, job in jobs:
            proc = run_hs(["--json", "lookup", "--all", "--job", job, "--jobset", jobset],
                          db=db, home=home)
            expected["jobs"].append({"jobset": jobset, "job": job, "exit": proc.returncode,
                                     "answers": hs_testlib.json_lines(proc.stdout)})
        shutil.copyfile(db, os.path.join(HERE, "index.sqlite"))
        with open(os.path.join(HERE, "keys.txt"), "w", encoding="utf-8") as f:
            f.write("".join(k + "\n" for k in keys))
        with open(os.path.join(HERE, "expected-batch.jsonl"), "w", encoding="utf-8") as f:
            f.write(batch.stdout)
        with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
            json.dump({"config": CONFIG, **expected}, f)
            f.write("\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
