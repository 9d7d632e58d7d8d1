#!/usr/bin/env python3
"""Build datasets for fake_hydra.py (format: README.md in this folder).

Importable helpers:
  store_path(rng, name), drv_path(rng, name), is_valid_store_path(path)
  DatasetBuilder      - jobsets, evals, builds, phases; deterministic for a seed
  big_dataset(n, ...) - one jobset with n builds (lookup tests, benchmarks)
  demo_dataset()      - the dataset in datasets/demo.json
  resolve(dataset, phase, key), expected_answers(dataset, phase)
                      - what hydra-status should answer (cli.md), as an oracle
  drv_paths(dataset, phase)

Command line:
  make_dataset.py demo [-o FILE] [--check]
  make_dataset.py big N [--seed S] [--evals E] [-o FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import sys
from typing import Any, Iterable

NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"
STORE_DIR = "/nix/store"
STORE_PATH_RE = re.compile(r"^/nix/store/([0123456789abcdfghijklmnpqrsvwxyz]{32})-([0-9a-zA-Z+\-._?=]{1,211})$")

STATUS_WORDS = {
    0: "succeeded",
    1: "failed",
    2: "dependency-failed",
    3: "aborted",
    4: "cancelled",
    5: "failed",
    6: "failed-with-output",
    7: "timed-out",
    8: "cached-failure",
    9: "unsupported-system",
    10: "log-limit-exceeded",
    11: "output-limit-exceeded",
    12: "non-deterministic",
}
TRANSIENT_WORDS = {
    "aborted", "cancelled", "timed-out", "unsupported-system", "log-limit-exceeded",
    "output-limit-exceeded", "non-deterministic", "queued",
}


# --------------------------------------------------------------------------
# Store paths and status words


def store_hash(rng: random.Random) -> str:
    return "".join(rng.choice(NIX32) for _ in range(32))


def store_path(rng: random.Random, name: str) -> str:
    path = f"{STORE_DIR}/{store_hash(rng)}-{name}"
    if not is_valid_store_path(path):
        raise ValueError(f"invalid store path name {name!r}")
    return path


def drv_path(rng: random.Random, name: str) -> str:
    return store_path(rng, name + ".drv")


def is_valid_store_path(path: str) -> bool:
    m = STORE_PATH_RE.match(path)
    return bool(m) and m.group(2) not in (".", "..")


def status_word(finished: int, buildstatus: int | None) -> str:
    if not finished:
        return "queued"
    return STATUS_WORDS.get(buildstatus if buildstatus is not None else -1, "failed")


def status_class(word: str) -> str:
    if word == "succeeded":
        return "good"
    if word == "unknown":
        return "unknown"
    if word in TRANSIENT_WORDS:
        return "transient"
    return "permanent"


# --------------------------------------------------------------------------
# Builder


def _empty_phase() -> dict:
    return {"jobsets": {}, "evals": {}, "builds": {}, "logs": {}}


class DatasetBuilder:
    """Builds a dataset phase by phase. Every random choice comes from `seed`."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.phases: dict[int, dict] = {1: _empty_phase()}
        self.phase = 1
        self.next_build_id = 1
        self.next_eval_id = 1
        self.logs: dict[str, str] = {}
        self.expect: dict[str, dict] = {}

    @property
    def cur(self) -> dict:
        return self.phases[self.phase]

    def add_jobset(self, name: str) -> None:
        """name is 'project:jobset'."""
        self.cur["jobsets"].setdefault(name, {"evals": []})

    def add_build(
        self,
        jobset: str,
        job: str,
        nixname: str,
        *,
        status: int | None = 0,
        finished: bool | None = None,
        timestamp: int,
        starttime: int | None = None,
        stoptime: int | None = None,
        outputs: Iterable[str] = ("out",),
        drvpath: str | None = None,
        system: str | None = None,
        products: dict | None = None,
        metrics: dict | None = None,
        releasename: str | None = None,
        priority: int = 100,
        build_id: int | None = None,
        log: str | None = None,
        note: str | None = None,
        like: dict | None = None,
    ) -> dict:
        """Adds a build object (hydra-api.md section 5) to the current phase.
        like: another build of the same drv (same drvpath and output paths)."""
        project, _, js = jobset.partition(":")
        self.add_jobset(jobset)
        if build_id is None:
            build_id = self.next_build_id
        self.next_build_id = max(self.next_build_id, build_id + 1)
        if finished is None:
            finished = status is not None
        if system is None:
            system = job.rsplit(".", 1)[-1]
        if drvpath is None:
            drvpath = drv_path(self.rng, nixname)
        outs: dict[str, dict] = {}
        if like is not None:
            drvpath = like["drvpath"]
            outs = copy.deepcopy(like["buildoutputs"])
        for out in outputs:
            if out not in outs:
                outs[out] = {"path": store_path(self.rng, nixname if out == "out" else f"{nixname}-{out}")}
        if finished and starttime is None:
            starttime = timestamp + 60
        if finished and stoptime is None:
            stoptime = starttime + self.rng.randint(120, 900)
        if products is None:
            products = {}
            if finished and status == 0:
                for i, out in enumerate(sorted(outs, key=lambda o: (o != "out", o)), start=1):
                    products[str(i)] = {
                        "type": "nix-build", "subtype": "" if out == "out" else out,
                        "name": nixname if out == "out" else f"{nixname}-{out}",
                        "path": outs[out]["path"], "defaultpath": "", "filesize": None, "sha256hash": None,
                    }
        build = {
            "id": build_id,
            "finished": 1 if finished else 0,
            "buildstatus": status,
            "timestamp": timestamp,
            "starttime": starttime,
            "stoptime": stoptime,
            "project": project,
            "jobset": js,
            "job": job,
            "nixname": nixname,
            "system": system,
            "priority": priority,
            "releasename": releasename,
            "drvpath": drvpath,
            "buildoutputs": outs,
            "buildproducts": products,
            "buildmetrics": metrics or {},
        }
        if note:
            build["_note"] = note
        self.cur["builds"][str(build_id)] = build
        if log is not None:
            self.logs[os.path.basename(drvpath)] = log
        return build

    def build(self, build_id: int) -> dict:
        return self.cur["builds"][str(build_id)]

    def update_build(self, build_id: int, **fields: Any) -> dict:
        b = self.build(build_id)
        b.update(fields)
        return b

    def add_eval(
        self,
        jobset: str,
        builds: Iterable[int],
        *,
        timestamp: int,
        hasnewbuilds: int = 1,
        revision: str | None = None,
        eval_id: int | None = None,
        checkouttime: int = 5,
        evaltime: int = 60,
    ) -> dict:
        self.add_jobset(jobset)
        if eval_id is None:
            eval_id = self.next_eval_id
        self.next_eval_id = max(self.next_eval_id, eval_id + 1)
        if revision is None:
            revision = "%040x" % self.rng.getrandbits(160)
        ev = {
            "id": eval_id,
            "timestamp": timestamp,
            "checkouttime": checkouttime,
            "evaltime": evaltime,
            "hasnewbuilds": hasnewbuilds,
            "flake": None,
            "builds": sorted(set(builds)),
            "jobsetevalinputs": {
                "nixpkgs": {"type": "git", "uri": "https://github.com/NixOS/nixpkgs.git",
                            "revision": revision, "value": None, "dependency": None},
            },
        }
        for bid in ev["builds"]:
            if str(bid) not in self.cur["builds"]:
                raise ValueError(f"eval {eval_id} lists unknown build {bid}")
        self.cur["evals"][str(eval_id)] = ev
        self.cur["jobsets"][jobset]["evals"].append(eval_id)
        return ev

    def new_phase(self) -> int:
        """Starts the next phase as a copy of the current one."""
        number = max(self.phases) + 1
        self.phases[number] = copy.deepcopy(self.cur)
        self.phase = number
        return number

    def to_json(self, description: str = "") -> dict:
        phases = {}
        for number, ph in sorted(self.phases.items()):
            ph = copy.deepcopy(ph)
            member_of: dict[int, list[int]] = {}
            for key in sorted(ph["evals"], key=int):
                for bid in ph["evals"][key]["builds"]:
                    member_of.setdefault(bid, []).append(int(key))
            for key, b in ph["builds"].items():
                b["jobsetevals"] = member_of.get(int(key), [])
            if not ph["logs"]:
                del ph["logs"]
            phases[str(number)] = ph
        out: dict[str, Any] = {"format": "fake-hydra-dataset/1"}
        if description:
            out["description"] = description
        out["initial_phase"] = min(self.phases)
        if self.logs:
            out["logs"] = dict(sorted(self.logs.items()))
        out["phases"] = phases
        return out


# --------------------------------------------------------------------------
# Oracle: what hydra-status should answer (spec/cli.md "lookup")


def _phase(dataset: dict, phase: int | str | None) -> dict:
    if phase is None:
        phase = dataset.get("initial_phase", min(int(p) for p in dataset["phases"]))
    return dataset["phases"][str(phase)]


def drv_paths(dataset: dict, phase: int | str | None = None) -> list[str]:
    """Every distinct drv path of a phase, sorted."""
    return sorted({b["drvpath"] for b in _phase(dataset, phase)["builds"].values()})


def _key_to_drv(builds: Iterable[dict], key: str) -> str | None:
    key = key.strip()
    if not key.startswith("/"):
        key = f"{STORE_DIR}/{key}" if "-" in key else key
    for b in builds:
        if b["drvpath"] == key:
            return key
    for b in builds:
        for out in b.get("buildoutputs", {}).values():
            if out.get("path") == key:
                return b["drvpath"]
    if re.fullmatch(r"[0123456789abcdfghijklmnpqrsvwxyz]{32}", key):
        for b in builds:
            paths = [b["drvpath"]] + [o.get("path") or "" for o in b.get("buildoutputs", {}).values()]
            if any(p[len(STORE_DIR) + 1:len(STORE_DIR) + 33] == key for p in paths):
                return b["drvpath"]
    return None


def resolve(dataset: dict, phase: int | str | None, key: str,
            builds: Iterable[dict] | None = None) -> dict:
    """The deciding build for key: the latest finished build (greatest stoptime,
    then greatest id) of its drv across all jobsets; 'queued' if every build of
    the drv is unfinished; 'unknown' if no build has it."""
    if builds is None:
        builds = _phase(dataset, phase)["builds"].values()
    builds = list(builds)
    drv = _key_to_drv(builds, key)
    mine = [b for b in builds if drv is not None and b["drvpath"] == drv]
    answer: dict[str, Any] = {
        "status": "unknown", "class": "unknown", "build_id": None, "buildstatus": None,
        "drv_path": drv, "job": None, "jobset": None, "system": None, "stoptime": None,
    }
    if not mine:
        return answer
    finished = [b for b in mine if b["finished"]]
    if finished:
        best = max(finished, key=lambda b: (b.get("stoptime") or 0, b["id"]))
        word = status_word(1, best["buildstatus"])
        answer.update(buildstatus=best["buildstatus"], stoptime=best.get("stoptime"))
    else:
        best = max(mine, key=lambda b: b["id"])
        word = "queued"
    answer.update(
        status=word, **{"class": status_class(word)}, build_id=best["id"], job=best["job"],
        jobset=f"{best['project']}:{best['jobset']}", system=best["system"],
    )
    return answer


def expected_answers(dataset: dict, phase: int | str | None = None) -> dict[str, dict]:
    """resolve() for every drv path of a phase, keyed by drv path."""
    builds = list(_phase(dataset, phase)["builds"].values())
    by_drv: dict[str, list[dict]] = {}
    for b in builds:
        by_drv.setdefault(b["drvpath"], []).append(b)
    return {drv: resolve(dataset, phase, drv, bs) for drv, bs in sorted(by_drv.items())}


def newest_eval_builds(dataset: dict, phase: int | str | None) -> list[dict]:
    """Builds of the newest listed eval of every jobset (what --max-evals 1 sees)."""
    ph = _phase(dataset, phase)
    ids: set[int] = set()
    for js in ph["jobsets"].values():
        listed = [e for e in js["evals"] if ph["evals"][str(e)]["hasnewbuilds"] == 1]
        if listed:
            ids.update(ph["evals"][str(max(listed))]["builds"])
    return [ph["builds"][str(i)] for i in sorted(ids)]


# --------------------------------------------------------------------------
# Generated datasets


def big_dataset(
    n_builds: int,
    *,
    seed: int = 1,
    jobset: str = "nixpkgs:big",
    n_evals: int = 1,
    failure_rate: float = 0.1,
    queued_rate: float = 0.01,
    systems: tuple[str, ...] = ("x86_64-linux", "aarch64-linux", "x86_64-darwin"),
    start_time: int = 1735689600,
) -> dict:
    """One jobset with n_builds builds spread over n_evals evals (eval k holds
    every build created up to it). Valid random store paths; deterministic."""
    db = DatasetBuilder(seed)
    rng = random.Random(seed + 1)
    failures = [1, 1, 1, 2, 2, 3, 7]
    per_eval = max(1, -(-n_builds // max(1, n_evals)))
    members: list[int] = []
    t = start_time
    made = 0
    for k in range(max(1, n_evals)):
        ts = t + k * 3600
        chunk = min(per_eval, n_builds - made)
        for i in range(made, made + chunk):
            system = systems[i % len(systems)]
            name = f"pkg{i:06d}-1.{i % 7}"
            r = rng.random()
            status: int | None
            if r < queued_rate:
                status = None
            elif r < queued_rate + failure_rate:
                status = rng.choice(failures)
            else:
                status = 0
            outputs = ("out", "dev") if i % 5 == 0 else ("out",)
            b = db.add_build(jobset, f"pkg{i:06d}.{system}", name, status=status, timestamp=ts + 30,
                             outputs=outputs, products={})
            members.append(b["id"])
        made += chunk
        db.add_eval(jobset, members, timestamp=ts)
    return db.to_json(f"{n_builds} generated builds in {jobset} (seed {seed})")


T0 = 1735689600  # 2025-01-01 00:00 UTC, trunk eval 1


def demo_dataset() -> dict:
    """The demo dataset (datasets/demo.json); see README.md for its story."""
    db = DatasetBuilder(seed=20250101)
    trunk, staging, empty = "nixpkgs:trunk", "nixpkgs:staging", "nixpkgs:empty"
    for js in (trunk, staging, empty):
        db.add_jobset(js)

    def log_for(name: str, result: str) -> str:
        return (f"building '{name}'\nunpacking sources\nconfiguring\nbuilding\n"
                f"[fake log line 5]\n{result}\n")

    # --- trunk eval 1 ------------------------------------------------------
    ts = T0 + 30
    hello = db.add_build(trunk, "hello.x86_64-linux", "hello-2.12.1", status=0, timestamp=ts,
                         stoptime=T0 + 397, log=log_for("hello-2.12.1", "done"))
    coreutils = db.add_build(trunk, "coreutils.x86_64-linux", "coreutils-9.4", status=0, timestamp=ts,
                             outputs=("out", "info"))
    openssl_old = db.add_build(trunk, "openssl.x86_64-linux", "openssl-3.0.13", status=0, timestamp=ts,
                               outputs=("out", "dev"))
    db.add_build(trunk, "curl.x86_64-linux", "curl-8.6.0", status=1, timestamp=ts, outputs=("out", "dev"))
    python_old = db.add_build(trunk, "python3.x86_64-linux", "python3-3.11.8", status=0, timestamp=ts)
    db.add_build(trunk, "firefox.x86_64-linux", "firefox-123.0", status=7, timestamp=ts)
    db.add_build(trunk, "libreoffice.x86_64-linux", "libreoffice-7.6.4.1", status=2, timestamp=ts)
    db.add_build(trunk, "tests.foo.x86_64-linux", "foo-test", status=3, timestamp=ts)
    gnumake_a = db.add_build(trunk, "gnumake.x86_64-linux", "gnumake-4.4.1", status=1, timestamp=ts,
                             starttime=T0 + 90, stoptime=T0 + 700,
                             note="drv A, first build: failed; re-added in eval 3 (succeeded)")
    e1 = [b for b in range(1, db.next_build_id)]
    db.add_eval(trunk, e1, timestamp=T0, checkouttime=6, evaltime=61)

    # --- trunk eval 2 ------------------------------------------------------
    t2 = T0 + 3600
    ts = t2 + 30
    curl2 = db.add_build(trunk, "curl.x86_64-linux", "curl-8.7.1", status=6, timestamp=ts, outputs=("out", "dev"))
    firefox2 = db.add_build(trunk, "firefox.x86_64-linux", "firefox-124.0", status=0, timestamp=ts)
    lo2 = db.add_build(trunk, "libreoffice.x86_64-linux", "libreoffice-7.6.5.2", status=4, timestamp=ts)
    gnumake_b = db.add_build(trunk, "gnumake.x86_64-linux", "gnumake-4.4.1", status=0, timestamp=ts,
                             note="drv B (patched gnumake-4.4.1)")
    hello_arm = db.add_build(trunk, "hello.aarch64-linux", "hello-2.12.1", status=0, timestamp=ts)
    zlib = db.add_build(trunk, "zlib.x86_64-linux", "zlib-1.3.1", status=0, timestamp=ts, outputs=("out", "dev"))
    hello_darwin = db.add_build(trunk, "hello.x86_64-darwin", "hello-2.12.1", status=9, timestamp=ts)
    e2 = [hello["id"], coreutils["id"], openssl_old["id"], python_old["id"], curl2["id"], firefox2["id"],
          lo2["id"], gnumake_b["id"], hello_arm["id"], zlib["id"], hello_darwin["id"]]
    db.add_eval(trunk, e2, timestamp=t2, checkouttime=7, evaltime=62)

    # --- trunk eval 3 (the newest listed trunk eval in phase 1) ------------
    t3 = T0 + 7200
    ts = t3 + 30
    openssl = db.add_build(trunk, "openssl.x86_64-linux", "openssl-3.0.14", status=0, timestamp=ts,
                           outputs=("out", "dev", "lib"), note="multi-output out/dev/lib")
    curl = db.add_build(trunk, "curl.x86_64-linux", "curl-8.7.1", status=1, timestamp=ts, outputs=("out", "dev"),
                        log=log_for("curl-8.7.1", "error: builder failed with exit code 2"))
    python = db.add_build(trunk, "python3.x86_64-linux", "python3-3.11.9", status=1, timestamp=ts,
                          note="same drv as staging's python3 build, which succeeded later")
    lo = db.add_build(trunk, "libreoffice.x86_64-linux", "libreoffice-7.6.6.3", status=None, timestamp=ts,
                      note="never finished in phase 1; fails in phase 2")
    simple = db.add_build(trunk, "nixos.tests.simple.x86_64-linux", "vm-test-run-simple", status=0, timestamp=ts,
                          releasename="nixos-25.05pre700000.c0ffee0",
                          metrics={"time": {"value": 42.5, "unit": "s"}})
    glibc = db.add_build(trunk, "glibc.x86_64-linux", "glibc-2.39-5", status=0, timestamp=ts, outputs=("out", "dev"))
    flaky = db.add_build(trunk, "nixos.tests.flaky.x86_64-linux", "vm-test-run-flaky", status=3, timestamp=ts,
                         finished=False, starttime=ts + 60, stoptime=ts + 682, products={},
                         note="restarted: finished 0 with stale status 3 and stale times; succeeds in phase 2")
    gnumake_a2 = db.add_build(trunk, "gnumake.x86_64-linux", "gnumake-4.4.1", status=0, timestamp=ts,
                              like=gnumake_a, starttime=ts + 60, stoptime=ts + 500,
                              note="drv A re-added (second build of the same drv in trunk)")
    rustc = db.add_build(trunk, "rustc.aarch64-linux", "rustc-1.77.2", status=10, timestamp=ts)
    llvm = db.add_build(trunk, "llvm.x86_64-linux", "llvm-17.0.6", status=11, timestamp=ts, outputs=("out", "dev", "lib"))
    ghc = db.add_build(trunk, "ghc.x86_64-linux", "ghc-9.6.4", status=12, timestamp=ts)
    texlive = db.add_build(trunk, "texlive.combined.scheme-full.x86_64-linux", "texlive-2023-env", status=5,
                           timestamp=ts)
    chromium = db.add_build(trunk, "chromium.x86_64-linux", "chromium-123.0.6312.58", status=8, timestamp=ts)
    weird = db.add_build(trunk, "systemd.x86_64-linux", "systemd-255.4", status=99, timestamp=ts,
                         note="unknown buildstatus code")
    git = db.add_build(trunk, "git.x86_64-linux", "git-2.44.0", status=0, timestamp=ts,
                       starttime=T0 + 30000, stoptime=T0 + 30400,
                       note="same drv as a staging build with a higher id that failed earlier")
    perl = db.add_build(trunk, "perl.aarch64-linux", "perl-5.38.2", status=3, timestamp=ts,
                        note="aborted in phase 1; restarted (queued) in phase 2")
    coreutils_darwin = db.add_build(trunk, "coreutils.x86_64-darwin", "coreutils-9.4", status=0, timestamp=ts)
    nix = db.add_build(trunk, "nix.x86_64-linux", "nix-2.18.2", status=2, timestamp=ts)
    thunderbird = db.add_build(trunk, "thunderbird.x86_64-linux", "thunderbird-115.9.0", status=4, timestamp=ts)
    sqlite = db.add_build(trunk, "sqlite.x86_64-linux", "sqlite-3.45.1", status=6, timestamp=ts)
    qemu = db.add_build(trunk, "qemu.x86_64-linux", "qemu-8.2.2", status=7, timestamp=ts)
    e3 = [hello["id"], coreutils["id"], firefox2["id"], hello_arm["id"], zlib["id"], hello_darwin["id"]]
    e3 += [b for b in range(openssl["id"], db.next_build_id)]
    db.add_eval(trunk, e3, timestamp=t3, checkouttime=8, evaltime=63)
    # eval 4: nothing changed, so it is never listed and has no member builds.
    db.add_eval(trunk, [], timestamp=T0 + 10800, hasnewbuilds=0, checkouttime=9, evaltime=64)

    # --- staging: 25 evals (two pages), one job bumped per eval -----------
    ts5 = T0 + 20000
    current: dict[str, dict] = {}
    current["python3"] = db.add_build(staging, "python3.x86_64-linux", "python3-3.11.9", status=0,
                                      timestamp=ts5 + 30, like=python,
                                      starttime=ts5 + 90, stoptime=ts5 + 600,
                                      note="same drv as trunk's failed python3; this later success decides")
    current["git"] = db.add_build(staging, "git.x86_64-linux", "git-2.44.0", status=1, timestamp=ts5 + 30,
                                  like=git, starttime=ts5 + 90, stoptime=ts5 + 400,
                                  note="higher id, failed, but stopped before trunk's success")
    bumped = ["bash.x86_64-linux", "gcc.x86_64-linux", "binutils.aarch64-linux", "cmake.x86_64-darwin"]
    versions = {"bash": (5, 2), "gcc": (13, 2), "binutils": (2, 41), "cmake": (3, 28)}

    def bump(job: str, k: int, ts_eval: int) -> dict:
        attr = job.split(".")[0]
        major, minor = versions[attr]
        versions[attr] = (major, minor + 1)
        status = [0, 0, 1, 0, 2, 0][k % 6]
        return db.add_build(staging, job, f"{attr}-{major}.{minor}", status=status, timestamp=ts_eval + 30)

    for job in bumped:
        current[job.split(".")[0]] = bump(job, 0, ts5)
    db.add_eval(staging, [b["id"] for b in current.values()], timestamp=ts5, checkouttime=3, evaltime=20)
    for k in range(1, 25):
        ts_k = ts5 + 600 * k
        job = bumped[k % len(bumped)]
        current[job.split(".")[0]] = bump(job, k, ts_k)
        db.add_eval(staging, [b["id"] for b in current.values()], timestamp=ts_k, checkouttime=3, evaltime=20)
    last_staging_ts = ts5 + 600 * 24

    # --- phase 2 -----------------------------------------------------------
    db.new_phase()
    t30 = last_staging_ts + 1200
    db.update_build(flaky["id"], finished=1, buildstatus=0, starttime=t30 + 100, stoptime=t30 + 700)
    db.update_build(lo["id"], finished=1, buildstatus=1, starttime=t30 + 100, stoptime=t30 + 1000,
                    _note="never finished in phase 1; failed in phase 2")
    db.update_build(perl["id"], finished=0, _note="aborted in phase 1; restarted in phase 2 (stale status 3)")
    nodejs = db.add_build(trunk, "nodejs.x86_64-linux", "nodejs-20.12.0", status=1, timestamp=t30 + 30,
                          starttime=t30 + 90, stoptime=t30 + 500, note="new failed build of phase 2")
    db.add_eval(trunk, e3 + [nodejs["id"]], timestamp=t30, checkouttime=8, evaltime=65)

    # --- expectations --------------------------------------------------------
    dataset = db.to_json(
        "Demo dataset: project nixpkgs, jobsets trunk (3 listed evals + 1 unchanged), "
        "staging (25 evals, 2 pages) and empty. Phase 2: trunk gets a new eval, the "
        "restarted and the unfinished builds finish, a new failure appears, perl is restarted."
    )
    not_in_index = drv_path(random.Random(7), "never-built-1.0")
    dev_path = openssl["buildoutputs"]["dev"]["path"]
    situations: list[tuple[str, str, str, str | None]] = [
        # name, key, phase-1 word, phase-2 word (None = same)
        ("succeeded", hello["drvpath"], "succeeded", None),
        ("failed", curl["drvpath"], "failed", None),
        ("dependency_failed", nix["drvpath"], "dependency-failed", None),
        ("aborted", perl["drvpath"], "aborted", "queued"),
        ("cancelled", thunderbird["drvpath"], "cancelled", None),
        ("obsolete", texlive["drvpath"], "failed", None),
        ("failed_with_output", sqlite["drvpath"], "failed-with-output", None),
        ("timed_out", qemu["drvpath"], "timed-out", None),
        ("cached_failure", chromium["drvpath"], "cached-failure", None),
        ("unsupported_system", hello_darwin["drvpath"], "unsupported-system", None),
        ("log_limit_exceeded", rustc["drvpath"], "log-limit-exceeded", None),
        ("output_limit_exceeded", llvm["drvpath"], "output-limit-exceeded", None),
        ("non_deterministic", ghc["drvpath"], "non-deterministic", None),
        ("unknown_code", weird["drvpath"], "failed", None),
        ("queued", lo["drvpath"], "queued", "failed"),
        ("restarted_phase1", flaky["drvpath"], "queued", "succeeded"),
        ("restarted_phase2", perl["drvpath"], "aborted", "queued"),
        ("new_failed_phase2", nodejs["drvpath"], "unknown", "failed"),
        ("two_jobsets", python["drvpath"], "succeeded", None),
        ("two_jobsets_lower_id_wins", git["drvpath"], "succeeded", None),
        ("re_added", gnumake_a["drvpath"], "succeeded", None),
        ("multi_output_dev_path", dev_path, "succeeded", None),
        ("multi_output_lib_path", openssl["buildoutputs"]["lib"]["path"], "succeeded", None),
        ("aarch64_linux", hello_arm["drvpath"], "succeeded", None),
        ("x86_64_darwin", coreutils_darwin["drvpath"], "succeeded", None),
        ("with_products_and_metrics", simple["drvpath"], "succeeded", None),
        ("glibc_dev_output", glibc["buildoutputs"]["dev"]["path"], "succeeded", None),
        ("log_available", curl["drvpath"], "failed", None),
        ("log_missing", nix["drvpath"], "dependency-failed", None),
        ("not_in_index", not_in_index, "unknown", None),
    ]
    notes = {
        "restarted_phase2": "phase 2 shows it only after a re-check of finished builds (recheck-interval)",
        "two_jobsets": "trunk failed (lower stoptime), staging succeeded later: the latest stoptime wins",
        "two_jobsets_lower_id_wins": "staging's build has the higher id but the earlier stoptime (failed); "
                                     "trunk's success stopped later and wins",
        "re_added": "two builds of one drv in trunk: eval 1 failed, eval 3 succeeded later",
        "multi_output_dev_path": "key is an output path (dev) of a multi-output build",
        "log_available": "/log/<drv basename> serves a text log",
        "log_missing": "/log/<drv basename> answers 404",
        "obsolete": "buildstatus 5 (raw code kept)",
        "unknown_code": "buildstatus 99 (raw code kept)",
    }
    expect: dict[str, dict] = {}
    for name, key, word1, word2 in situations:
        entry: dict[str, Any] = {"key": key}
        if name in notes:
            entry["note"] = notes[name]
        phases = {}
        for number, word in ((1, word1), (2, word2 or word1)):
            got = resolve(dataset, number, key)
            if got["status"] != word:
                raise AssertionError(f"demo expect {name} phase {number}: {got['status']} != {word}")
            # The answer must not depend on how many evals were synced.
            narrow = resolve(dataset, number, key, newest_eval_builds(dataset, number))
            if narrow["status"] != word and name != "new_failed_phase2":
                raise AssertionError(f"demo expect {name} phase {number}: newest eval gives {narrow['status']}")
            phases[str(number)] = got
        entry["drv"] = phases["2"]["drv_path"] or phases["1"]["drv_path"] or (key if key.endswith(".drv") else None)
        entry["phases"] = phases
        expect[name] = entry
    expect["log_available"]["log"] = True
    expect["log_missing"]["log"] = False
    dataset["expect"] = expect

    summary: dict[str, Any] = {"jobsets": [trunk, staging, empty], "phases": {}}
    for number, ph in dataset["phases"].items():
        listed = {}
        newest = {}
        for name, js in ph["jobsets"].items():
            ids = [e for e in js["evals"] if ph["evals"][str(e)]["hasnewbuilds"] == 1]
            listed[name] = len(ids)
            newest[name] = max(ids) if ids else None
        summary["phases"][number] = {"listed_evals": listed, "newest_eval": newest,
                                     "builds": len(ph["builds"])}
    dataset["summary"] = summary
    return dataset


def dumps(dataset: dict) -> str:
    return json.dumps(dataset, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="the demo dataset")
    d.add_argument("-o", "--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                          "datasets", "demo.json"))
    d.add_argument("--check", action="store_true", help="exit 1 if the file differs from the generated dataset")
    b = sub.add_parser("big", help="one jobset with N generated builds")
    b.add_argument("n", type=int)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--evals", type=int, default=1)
    b.add_argument("--jobset", default="nixpkgs:big")
    b.add_argument("-o", "--output", default="-")
    args = ap.parse_args(argv)

    if args.cmd == "demo":
        text = dumps(demo_dataset())
        if args.check:
            try:
                with open(args.output, encoding="utf-8") as f:
                    same = f.read() == text
            except OSError:
                same = False
            if not same:
                print(f"{args.output} is not up to date; run: make_dataset.py demo", file=sys.stderr)
            return 0 if same else 1
        out = args.output
    else:
        text = dumps(big_dataset(args.n, seed=args.seed, n_evals=args.evals, jobset=args.jobset))
        out = args.output
    if out == "-":
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
