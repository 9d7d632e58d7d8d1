#!/usr/bin/env python3
"""Snapshot figures (issue 17): base and delta sizes, publish and pull times.

Uses a gen_hydra.py dataset (one jobset, N evals) served by static_hydra.py.
The publisher first sees only the first eval (the evals listing is rewritten
between steps), syncs it and publishes the base; then each later eval is
listed, synced and published as one delta. A client pulls after each publish
(file://, so the times are the client's own work: verify, decompress, apply),
and a fresh client pulls the base and every delta at the end. Answers of both
indexes are compared for a sample of keys.

  python3 bench/gen_hydra.py --evals 4 --eval-size 250000 --distinct 265000 DATA
  python3 bench/snapshot.py --bin build/hydra-status DATA [--work DIR]

Prints one JSON object of figures and a short table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd: list[str], env: dict, **kw) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    seconds = time.monotonic() - start
    if proc.returncode not in (0, 1, 3, 4) or (proc.returncode != 0 and "lookup" not in cmd):
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return seconds, proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "hydra-status"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--base-only", action="store_true",
                    help="sync every eval at once, publish the base, pull it (large data)")
    args = ap.parse_args()

    manifest = json.load(open(os.path.join(args.data, "manifest.json")))
    project, jobset = manifest["params"]["jobset"].split(":")
    page = os.path.join(args.data, "jobset", project, jobset, "evals", "page-1.json")
    original = open(page, encoding="utf-8").read()
    listing = json.loads(original)
    evals = sorted(listing["evals"], key=lambda e: e["id"])

    work = args.work or tempfile.mkdtemp(prefix="hs-snapshot-bench-")
    os.makedirs(work, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_STATUS_")}
    env.update(HOME=work, XDG_CONFIG_HOME=os.path.join(work, "config"),
               HYDRA_STATUS_SYSTEM_CONFIG="/dev/null")
    pub_db = os.path.join(work, "publisher.sqlite")
    client_db = os.path.join(work, "client.sqlite")
    fresh_db = os.path.join(work, "fresh.sqlite")
    snap = os.path.join(work, "www")
    secret = os.path.join(work, "snap.secret")
    for path in (pub_db, client_db, fresh_db, secret):
        for suffix in ("", "-wal", "-shm", ".lock"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    shutil.rmtree(snap, ignore_errors=True)

    port_file = os.path.join(work, "port")
    if os.path.exists(port_file):
        os.remove(port_file)
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "static_hydra.py"), args.data,
                               "--port-file", port_file], stdout=subprocess.DEVNULL)
    figures: dict = {"builds": manifest["builds"], "eval_size": manifest["params"]["eval_size"],
                     "evals": len(manifest["eval_ids"]), "deltas": []}
    try:
        deadline = time.monotonic() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.monotonic() > deadline:
                sys.exit("static_hydra.py did not start")
            time.sleep(0.05)  # the server writes its port when it listens
        url = f"http://127.0.0.1:{open(port_file).read().strip()}"
        _, keygen = run([args.bin, "snapshot", "keygen", "bench-1", "--secret-key-file", secret],
                        env)
        public = keygen.stdout.strip()
        sync = [args.bin, "--db", pub_db, "--url", url, "sync", "--jobset",
                f"{project}:{jobset}", "--min-interval", "0", "--max-requests", "1000000",
                "--by-id-max", "0", "-q"]  # gen_hydra.py serves /build/<id> for unfinished builds only
        pull = ["sync", "--from", "file://" + snap, "--trusted-keys", public]
        # The listing's first page holds the newest 20 evals (Hydra's paging):
        # steps go through those; --base-only syncs every eval of every page.
        total = len(manifest["eval_ids"])
        steps = [total] if args.base_only else list(range(1, len(evals) + 1))
        for k in steps:
            if not args.base_only:  # the listing's first page, up to eval k
                shown = dict(listing, evals=[e for e in listing["evals"]
                                             if e["id"] <= evals[k - 1]["id"]])
                with open(page, "w", encoding="utf-8") as f:
                    json.dump(shown, f)
            first = k == steps[0]
            sync_s, _ = run(sync + (["--max-evals", str(k)] if first else []), env)
            pub_s, pub = run([args.bin, "--db", pub_db, "--url", url, "snapshot", "publish", snap,
                              "--secret-key-file", secret], env)
            m = json.load(open(os.path.join(snap, "manifest.json")))["signed"]
            pull_s, pulled = run([args.bin, "--db", client_db, *pull], env)
            if first:
                figures.update(
                    index_bytes=os.path.getsize(pub_db),
                    base_bytes=m["base"]["size"], base_raw_bytes=m["base"]["raw_size"],
                    base_publish_s=round(pub_s, 2), base_pull_s=round(pull_s, 2),
                    first_sync_s=round(sync_s, 1))
            else:
                delta = m["deltas"][-1]
                figures["deltas"].append({
                    "eval": delta["evals"], "bytes": delta["size"],
                    "raw_bytes": delta["raw_size"], "publish_s": round(pub_s, 2),
                    "pull_s": round(pull_s, 2), "sync_s": round(sync_s, 1),
                    "pull": pulled.stderr.strip()})
            print(f"eval {k}: {pub.stderr.strip()}\n  client: {pulled.stderr.strip()}",
                  file=sys.stderr)
        fresh_s, fresh = run([args.bin, "--db", fresh_db, *pull], env)
        figures.update(fresh_pull_s=round(fresh_s, 2), fresh_pull=fresh.stderr.strip(),
                       client_index_bytes=os.path.getsize(client_db))
        # The same answers: a sample of known drvs, on publisher and client.
        keys = open(os.path.join(args.data, "keys", "drvs.txt")).read().splitlines()[:5000]
        answers = []
        for db in (pub_db, client_db, fresh_db):
            _, proc = run([args.bin, "--db", db, "--json", "lookup", "--stdin"], env,
                          input="\n".join(keys) + "\n")
            answers.append(proc.stdout)
        figures["answers_equal"] = answers[0] == answers[1] == answers[2]
        figures["answers_compared"] = len(keys)
    finally:
        with open(page, "w", encoding="utf-8") as f:
            f.write(original)
        server.terminate()
        server.wait()
    print(json.dumps(figures, indent=1))
    return 0 if figures["answers_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
