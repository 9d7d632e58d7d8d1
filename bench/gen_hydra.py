#!/usr/bin/env python3
"""Synthetic Hydra at nixpkgs scale, written as static files for static_hydra.py.

One dataset is one jobset with `evals` evals of about `eval_size` builds each
and `distinct` distinct builds in all: the first eval builds every job, each
later eval rebuilds a random set of jobs (new build ids, new drv and output
paths, sometimes a new version) and reuses the other builds, as Hydra does.
Build objects have Hydra's exact shape (hydra-api.md section 5): every field,
drv and output paths with random nix32 hashes and nixpkgs-like names, 1-3
outputs, ~95% succeeded and the rest spread over the failure codes,
`jobsetevals` listing every eval that holds the build, one nix-build product
per output of a success, a few metrics.

Layout under OUT (Hydra's URL layout; static_hydra.py maps URLs to files):
  manifest.json                                   parameters and counts (written last)
  jobset/<project>/<jobset>/evals/page-<n>.json   GET /jobset/<p>/<j>/evals?page=n
  eval/<id>.json                                  GET /eval/<id>
  eval/<id>/builds.json                           GET /eval/<id>/builds
  build/<id>.json                                 GET /build/<id>, unfinished builds only
  keys/drvs.txt, keys/outputs.txt                 sampled known drv and output paths
  keys/failed-drvs.txt                            sampled drvs whose build failed

The data depends only on the parameters and the seed. An existing OUT whose
manifest has the same parameters is kept (generation of 2M builds takes a
while): use --force to rewrite.

  gen_hydra.py OUT --jobset nixpkgs:trunk --evals 40 --eval-size 250000 --distinct 2000000

--shape hydra makes the objects like the real Hydra's rather than kind to a
parser (hydra-samples/real-hydra/, hydra-api.md section 5): keys in a random
order in every object (Perl's hash order), member ids and `jobsetevals` in
no order, nixpkgs' spread of name lengths (median ~25 characters, a tail
past 60), `jobsetevals` as long as the build is old, metrics on ~3% of the
successes, and every JSON file also gzipped (FILE.gz, level 5 as the NixOS
module's nginx settings) for static_hydra.py to send when asked. --twin
JOBSET adds a second jobset of the same project with one eval whose builds
are --twin-share of the newest eval's, with their own ids: the same drvs
built in two jobsets.
"""

from __future__ import annotations

import argparse
import array
import bisect
import json
import os
import random
import re
import shutil
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

STORE = benchlib.STORE_DIR

# buildstatus of finished builds: code -> share. Shaped like a nixpkgs
# trunk eval (mostly successes; dependency failures outnumber direct ones).
STATUS_SHARES = [
    (0, 0.9505), (2, 0.0220), (1, 0.0160), (3, 0.0030), (7, 0.0025), (9, 0.0015),
    (6, 0.0010), (4, 0.0010), (8, 0.0010), (10, 0.0005), (11, 0.0005), (5, 0.0003),
    (12, 0.0002),
]
SYSTEMS = [("x86_64-linux", 1.0), ("aarch64-linux", 0.8), ("aarch64-darwin", 0.6),
           ("x86_64-darwin", 0.55)]
# attribute set prefix, share of packages, nixname template ({p} pname, {P} Pname, {v} version)
PACKAGE_SETS = [
    ("", 0.35, "{p}-{v}"),
    ("haskellPackages", 0.16, "{p}-{v}"),
    ("python312Packages", 0.10, "python3.12-{p}-{v}"),
    ("python313Packages", 0.06, "python3.13-{p}-{v}"),
    ("rPackages", 0.07, "r-{P}-{v}"),
    ("emacsPackages", 0.05, "emacs-{p}-{v}"),
    ("perlPackages", 0.03, "perl5.40.0-{P}-{v}"),
    ("texlivePackages", 0.03, "texlive-{p}-{v}"),
    ("nixosTests", 0.03, "vm-test-run-{p}"),
    ("vimPlugins", 0.02, "vimplugin-{p}-{v}"),
    ("ocamlPackages", 0.02, "ocaml5.2.1-{p}-{v}"),
    ("nodePackages", 0.02, "{p}-{v}"),
    ("rubyPackages", 0.02, "ruby3.3-{p}-{v}"),
    ("linuxPackages_6_6", 0.01, "{p}-{v}-6.6.63"),
    ("coqPackages", 0.01, "coq8.20-{p}-{v}"),
]
OUTPUT_SETS = [
    (("out",), 0.68), (("out", "dev"), 0.12), (("out", "doc"), 0.05), (("dist", "out"), 0.05),
    (("dev", "lib", "out"), 0.05), (("bin", "dev", "out"), 0.03), (("dev", "man", "out"), 0.02),
]
SYLLABLES = (
    "ba be bi bo bu ca ce co cu da de di do du fa fe fi fo ga ge go ha he hi ho ka ke ki ko "
    "la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su "
    "ta te ti to tu va ve vi vo wa we xa xe ya za ze zo lib gtk qt py rs go nix hs ml js net "
    "ssl core util tool kit fs db sql http json yaml xml cli lsp gl vk x11 wl av img pdf font"
).split()


def cumulative(shares):
    total = 0.0
    acc = []
    for _, share in shares:
        total += share
        acc.append(total)
    return [a / total for a in acc]


STATUS_CUM = cumulative(STATUS_SHARES)
SET_CUM = cumulative([(s[0], s[1]) for s in PACKAGE_SETS])
OUTPUT_CUM = cumulative(OUTPUT_SETS)


def pick(rng, table, cum):
    return table[bisect.bisect_left(cum, rng.random())][0]


class Job:
    __slots__ = ("job", "system", "template", "pname", "Pname", "version", "outputs")


def random_version(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.12:
        return "0-unstable-2024-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))
    if r < 0.2:
        return "%d.%d" % (rng.randint(0, 30), rng.randint(0, 20))
    return "%d.%d.%d" % (rng.randint(0, 12), rng.randint(0, 40), rng.randint(0, 30))


# --shape hydra: words per pname (nixpkgs' pnames: `zlib`, `gtk-layer-shell`,
# `azure-mgmt-recoveryservicesbackup`, `texlive-collection-fontsrecommended`)
# and syllables per word; with the set prefixes and versions, nixnames have a
# median of ~25 characters and ~3% past 60.
WORDS_CUM = [0.40, 0.73, 0.90, 0.965, 0.99, 1.0]  # 1..6 words
HYDRA_SYLLABLES = (1, 2, 2, 2, 3, 3, 4, 5)


def hydra_pname(rng: random.Random) -> str:
    words = bisect.bisect_left(WORDS_CUM, rng.random()) + 1
    return "-".join("".join(rng.choice(SYLLABLES) for _ in range(rng.choice(HYDRA_SYLLABLES)))
                    for _ in range(words))


def make_jobs(rng: random.Random, count: int, hydra: bool = False) -> list[Job]:
    """count jobs (attribute path + system), each package on 1-4 systems."""
    jobs: list[Job] = []
    used: set[tuple[str, str]] = set()
    while len(jobs) < count:
        pset, _, template = PACKAGE_SETS[bisect.bisect_left(SET_CUM, rng.random())]
        if hydra:
            pname = hydra_pname(rng)
        else:
            n = rng.choice((1, 2, 2, 3, 3, 4))
            pname = "".join(rng.choice(SYLLABLES) for _ in range(n))
            if rng.random() < 0.3:
                pname += "-" + "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 2)))
        if (pset, pname) in used:
            pname += str(rng.randint(2, 99))
            if (pset, pname) in used:
                continue
        used.add((pset, pname))
        attr = f"{pset}.{pname}" if pset else pname
        version = random_version(rng)
        outputs = pick(rng, OUTPUT_SETS, OUTPUT_CUM)
        if hydra and rng.random() < 0.02:
            outputs = ("bin", "dev", "man", "out")
        for system, share in SYSTEMS:
            if len(jobs) == count:
                break
            if system != "x86_64-linux" and rng.random() >= share:
                continue
            j = Job()
            j.job = f"{attr}.{system}"
            j.system = system
            j.template = template
            j.pname = pname
            j.Pname = pname.capitalize()
            j.version = version
            j.outputs = outputs
            jobs.append(j)
    rng.shuffle(jobs)
    return jobs


def nixname(job: Job) -> str:
    return job.template.format(p=job.pname, P=job.Pname, v=job.version)


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.hydra = args.shape == "hydra"
        self.srng = random.Random(args.seed * 7919 + 5)  # --shape hydra's orders and extras
        self.project, _, self.jobset = args.jobset.partition(":")
        self.rng = random.Random(args.seed)

    # -- membership: which build each eval holds --------------------------

    def simulate(self) -> None:
        a = self.a
        rng = self.rng
        n_jobs = a.eval_size
        self.jobs = make_jobs(rng, n_jobs, a.shape == "hydra")
        extra = a.distinct - n_jobs
        if a.evals == 1 or extra <= 0:
            per_eval = [0] * a.evals
        else:
            base, rem = divmod(extra, a.evals - 1)
            per_eval = [0] + [base + (1 if k <= rem else 0) for k in range(1, a.evals)]
        # Eval ids: other jobsets' evals come in between on a real Hydra.
        self.eval_ids = []
        eid = a.eval_id_base
        for _ in range(a.evals):
            self.eval_ids.append(eid)
            eid += rng.randint(3, 40)
        self.eval_ts = [a.time_base + k * 21600 + rng.randint(0, 3000) for k in range(a.evals)]
        # Builds, in creation (= id) order.
        self.b_id = array.array("q")
        self.b_job = array.array("l")
        self.b_first = array.array("h")
        self.b_last = array.array("h")
        current = [-1] * n_jobs  # job -> build index
        bid = a.build_id_base
        gaps = (1, 1, 1, 1, 1, 2, 2, 3, 5, 9)
        for k in range(a.evals):
            if k == 0:
                created = list(range(n_jobs))
                rng.shuffle(created)
            else:
                created = rng.sample(range(n_jobs), per_eval[k])
                bid += rng.randint(10_000, 400_000)  # other jobsets' builds
            for job in created:
                old = current[job]
                if old >= 0:
                    self.b_last[old] = k - 1
                current[job] = len(self.b_id)
                self.b_id.append(bid)
                self.b_job.append(job)
                self.b_first.append(k)
                self.b_last.append(a.evals - 1)
                bid += rng.choice(gaps)

    # -- JSON ---------------------------------------------------------------

    def jobsetevals(self, first: int, last: int, prior: int) -> str:
        key = (first, last, prior)
        text = self.jse_cache.get(key)
        if text is None:
            ids = self.prior_ids[len(self.prior_ids) - prior:] if prior else []
            ids += [self.eval_ids[k] for k in range(first, last + 1)]
            text = ",".join(map(str, ids))
            self.jse_cache[key] = text
        if self.hydra:  # Hydra's order: none (a Perl hash's keys)
            ids = text.split(",")
            self.srng.shuffle(ids)
            text = ",".join(ids)
        return text

    def obj(self, fields: list[tuple[str, str]]) -> str:
        """A JSON object from (key, value text) pairs: in this order, or in
        a random one for --shape hydra (as Perl's hash order is)."""
        if self.hydra:
            fields = list(fields)
            self.srng.shuffle(fields)
        return "{" + ",".join(f'"{k}":{v}' for k, v in fields) + "}"

    def build_json(self, i: int, queued: bool) -> tuple[bytes, str, list[str], int | None]:
        rng = self.grng
        job = self.jobs[self.b_job[i]]
        first = self.b_first[i]
        if first > 0 and rng.random() < 0.25:
            job.version = random_version(rng)
        name = nixname(job)
        outs = job.outputs
        prior = 0
        if first == 0 and self.a.prior_evals > 0:
            # Builds of the first eval existed before it: they also belong to
            # older evals (not served), as on a jobset with a long history.
            prior = min(len(self.prior_ids),
                        int(rng.expovariate(1.0 / self.a.prior_evals)))
        hashes = benchlib.random_hashes(rng, 1 + len(outs))
        drv = f"{STORE}/{hashes[0]}-{name}.drv"
        paths = [f"{STORE}/{h}-{name if o == 'out' else name + '-' + o}"
                 for h, o in zip(hashes[1:], outs)]
        ts = self.eval_ts[first] + rng.randint(0, 900)
        if queued:
            status = None
            finished = 0
            start = stop = "null"
            status_text = "null"
        else:
            finished = 1
            status = STATUS_SHARES[bisect.bisect_left(STATUS_CUM, rng.random())][0]
            status_text = str(status)
            begin = ts + rng.randint(60, 30_000)
            if status in (2, 8):
                start = stop = str(begin)  # never ran: Hydra stamps both at once
            else:
                start = str(begin)
                stop = str(begin + min(86_400, int(rng.lognormvariate(4.5, 1.6)) + 1))
        outputs = [(o, self.obj([("path", f'"{p}"')])) for o, p in zip(outs, paths)]
        products = []
        if status == 0:
            ordered = sorted(zip(outs, paths), key=lambda x: x[0] != "out")
            for n, (o, p) in enumerate(ordered, start=1):
                products.append((str(n), self.obj([
                    ("type", '"nix-build"'), ("subtype", f'"{"" if o == "out" else o}"'),
                    ("name", f'"{name if o == "out" else name + "-" + o}"'), ("path", f'"{p}"'),
                    ("defaultpath", '""'), ("filesize", "null"), ("sha256hash", "null")])))
        metrics = []
        if status == 0 and rng.random() < 0.003:
            metrics.append(("closuresize", self.obj([("value", str(rng.randint(10**5, 10**9))),
                                                     ("unit", '"B"')])))
        if self.hydra and status == 0 and self.srng.random() < 0.03:
            for metric, unit, top in (("time", "s", 7200), ("maxmem", "KiB", 10**7),
                                      ("output_size", "B", 10**9)):
                if self.srng.random() < 0.6:
                    metrics.append((metric, self.obj([("value", str(self.srng.randint(1, top))),
                                                      ("unit", f'"{unit}"')])))
        releasename = "null"
        if rng.random() < 0.001:
            releasename = f'"nixos-25.05pre{rng.randint(700000, 800000)}.{rng.getrandbits(28):07x}"'
        priority = 100 if rng.random() < 0.99 else 10
        text = self.obj([
            ("id", str(self.b_id[i])), ("finished", str(finished)),
            ("buildstatus", status_text), ("timestamp", str(ts)), ("starttime", start),
            ("stoptime", stop), ("project", f'"{self.project}"'),
            ("jobset", f'"{self.jobset}"'), ("job", f'"{job.job}"'), ("nixname", f'"{name}"'),
            ("system", f'"{job.system}"'), ("priority", str(priority)),
            ("releasename", releasename), ("drvpath", f'"{drv}"'),
            ("jobsetevals", f"[{self.jobsetevals(first, self.b_last[i], prior)}]"),
            ("buildoutputs", self.obj(outputs)), ("buildproducts", self.obj(products)),
            ("buildmetrics", self.obj(metrics)),
        ])
        return text.encode("utf-8"), drv, paths, status

    def eval_object(self, k: int, members: list[int], eval_id: int = 0) -> str:
        rng = self.erng
        return (
            f'{{"id":{eval_id or self.eval_ids[k]},"timestamp":{self.eval_ts[k]},'
            f'"checkouttime":{rng.randint(2, 40)},"evaltime":{rng.randint(900, 4000)},'
            f'"hasnewbuilds":1,"flake":null,"builds":[{",".join(map(str, members))}],'
            f'"jobsetevalinputs":{{"nixpkgs":{{"type":"git","uri":'
            f'"https://github.com/NixOS/nixpkgs.git","revision":"{rng.getrandbits(160):040x}",'
            f'"value":null,"dependency":null}},"officialRelease":{{"type":"boolean",'
            f'"uri":null,"revision":null,"value":"false","dependency":null}}}}}}'
        )

    # -- files ----------------------------------------------------------------

    def write(self, out: str) -> dict:
        a = self.a
        self.grng = random.Random(a.seed * 7919 + 1)
        self.erng = random.Random(a.seed * 7919 + 2)
        krng = random.Random(a.seed * 7919 + 3)
        self.jse_cache: dict[tuple[int, int, int], str] = {}
        self.prior_ids = [a.eval_id_base - 13 * j for j in range(200, 0, -1)]
        os.makedirs(os.path.join(out, "eval"), exist_ok=True)
        os.makedirs(os.path.join(out, "keys"), exist_ok=True)
        os.makedirs(os.path.join(out, "build"), exist_ok=True)
        n_builds = len(self.b_id)
        newest = a.evals - 1
        # Unfinished builds: only among those the newest eval created.
        newest_created = [i for i in range(n_builds) if self.b_first[i] == newest]
        n_queued = min(len(newest_created), int(round(a.queued_rate * a.eval_size)))
        queued = set(krng.sample(newest_created, n_queued))
        p_key = min(1.0, a.keys / max(n_builds, 1))
        key_drvs: list[str] = []
        key_outs: list[str] = []
        key_failed: list[str] = []
        live: dict[int, bytes] = {}
        status_counts: dict[str, int] = {}
        evals_json: list[str] = []
        body_bytes = []
        i = 0
        for k in range(a.evals):
            while i < n_builds and self.b_first[i] == k:
                text, drv, paths, status = self.build_json(i, i in queued)
                live[self.b_id[i]] = text
                if status is None:  # re-read by id until it finishes
                    self.write_file(os.path.join(out, "build", f"{self.b_id[i]}.json"), text)
                sk = "queued" if status is None else str(status)
                status_counts[sk] = status_counts.get(sk, 0) + 1
                if krng.random() < p_key:
                    key_drvs.append(drv)
                    key_outs.append(krng.choice(paths))
                if status not in (0, None) and krng.random() < 0.05:
                    key_failed.append(drv)
                i += 1
            members = sorted(live)
            if self.hydra:  # Hydra lists members in no particular order
                self.srng.shuffle(members)
            path = os.path.join(out, "eval", str(self.eval_ids[k]), "builds.json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.write_file(path, b"[" + b",".join(live[m] for m in members) + b"]")
            body_bytes.append(os.path.getsize(path))
            ev = self.eval_object(k, members)
            evals_json.append(ev)
            self.write_file(os.path.join(out, "eval", f"{self.eval_ids[k]}.json"), ev.encode())
            if k + 1 < a.evals:
                self._drop_replaced(live, k)  # the next eval replaces them
            if a.verbose:
                print(f"  eval {k + 1}/{a.evals}: {len(members)} builds, "
                      f"{body_bytes[-1] / 1e6:.0f} MB", file=sys.stderr)
        self.write_pages(out, self.project, self.jobset, evals_json)
        twin = self.write_twin(out, live) if a.twin else 0
        with open(os.path.join(out, "keys", "drvs.txt"), "w") as fh:
            fh.write("\n".join(key_drvs) + "\n")
        with open(os.path.join(out, "keys", "outputs.txt"), "w") as fh:
            fh.write("\n".join(key_outs) + "\n")
        with open(os.path.join(out, "keys", "failed-drvs.txt"), "w") as fh:
            fh.write("\n".join(key_failed) + "\n")
        return {
            "builds": n_builds,
            "eval_ids": self.eval_ids,
            "newest_eval": self.eval_ids[-1],
            "newest_eval_builds": len(live),
            "newest_eval_bytes": body_bytes[-1],
            "eval_builds_bytes_total": sum(body_bytes),
            "queued": n_queued,
            "status_counts": dict(sorted(status_counts.items())),
            "jobs": len(self.jobs),
            "twin_builds": twin,
            "json_bytes_per_build": round(body_bytes[-1] / max(len(live), 1)),
        }

    def write_file(self, path: str, data: bytes) -> None:
        """path, and for --shape hydra path.gz beside it (gzip level 5, what
        the NixOS module's recommended nginx settings send)."""
        with open(path + ".tmp", "wb") as fh:
            fh.write(data)
        os.replace(path + ".tmp", path)
        if self.hydra:
            c = zlib.compressobj(5, zlib.DEFLATED, 31)
            with open(path + ".gz.tmp", "wb") as fh:
                for at in range(0, len(data), 1 << 22):
                    fh.write(c.compress(data[at:at + (1 << 22)]))
                fh.write(c.flush())
            os.replace(path + ".gz.tmp", path + ".gz")

    def write_twin(self, out: str, live: dict[int, bytes]) -> int:
        """The --twin jobset: one eval whose builds are a share of the newest
        eval's with ids of their own, the same drvs and outputs (Hydra makes
        one build per jobset for a drv both evaluate)."""
        a = self.a
        project, _, jobset = a.twin.partition(":")
        rng = random.Random(a.seed * 7919 + 4)
        chosen = sorted(rng.sample(sorted(live), int(len(live) * a.twin_share)))
        eval_id = self.eval_ids[-1] + 1
        base = max(self.b_id) + 1_000_000
        id_re = re.compile(rb'"id":[0-9]+')
        jobset_re = re.compile(rb'"jobset":"[^"]*"')
        evals_re = re.compile(rb'"jobsetevals":\[[^\]]*\]')
        members = []
        texts = []
        for n, bid in enumerate(chosen):
            new_id = base + n
            text = id_re.sub(f'"id":{new_id}'.encode(), live[bid], count=1)
            text = jobset_re.sub(f'"jobset":"{jobset}"'.encode(), text, count=1)
            text = evals_re.sub(f'"jobsetevals":[{eval_id}]'.encode(), text, count=1)
            members.append(new_id)
            texts.append(text)
        path = os.path.join(out, "eval", str(eval_id), "builds.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.write_file(path, b"[" + b",".join(texts) + b"]")
        ev = self.eval_object(len(self.eval_ids) - 1, members, eval_id)
        self.write_file(os.path.join(out, "eval", f"{eval_id}.json"), ev.encode())
        self.write_pages(out, project, jobset, [ev])
        return len(members)

    def _drop_replaced(self, live: dict[int, bytes], k: int) -> None:
        """Removes builds whose last eval is k (the next eval replaces them)."""
        if not hasattr(self, "_by_last"):
            self._by_last: dict[int, list[int]] = {}
            for j in range(len(self.b_id)):
                self._by_last.setdefault(self.b_last[j], []).append(self.b_id[j])
        for bid in self._by_last.get(k, ()):
            live.pop(bid, None)

    def write_pages(self, out: str, project: str, jobset: str, evals_json: list[str]) -> None:
        d = os.path.join(out, "jobset", project, jobset, "evals")
        os.makedirs(d, exist_ok=True)
        newest_first = evals_json[::-1]
        last = max(1, (len(newest_first) + 19) // 20)
        for page in range(1, last + 1):
            chunk = newest_first[(page - 1) * 20:page * 20]
            links = f'"first":"?page=1","last":"?page={last}"'
            if page > 1:
                links += f',"previous":"?page={page - 1}"'
            if page < last:
                links += f',"next":"?page={page + 1}"'
            self.write_file(os.path.join(d, f"page-{page}.json"),
                            f'{{"evals":[{",".join(chunk)}],{links}}}'.encode())


def params_of(a: argparse.Namespace) -> dict:
    return {
        "jobset": a.jobset, "evals": a.evals, "eval_size": a.eval_size, "distinct": a.distinct,
        "seed": a.seed, "queued_rate": a.queued_rate, "eval_id_base": a.eval_id_base,
        "build_id_base": a.build_id_base, "time_base": a.time_base, "keys": a.keys,
        "prior_evals": a.prior_evals, "shape": a.shape, "twin": a.twin,
        "twin_share": a.twin_share,
        "generator": benchlib.source_digest(__file__, benchlib.__file__),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--jobset", default="nixpkgs:trunk")
    p.add_argument("--evals", type=int, default=1)
    p.add_argument("--eval-size", type=int, default=250_000)
    p.add_argument("--distinct", type=int, default=0, help="distinct builds (default: eval size)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--queued-rate", type=float, default=0.0,
                   help="share of the newest eval left unfinished")
    p.add_argument("--eval-id-base", type=int, default=1_800_000)
    p.add_argument("--build-id-base", type=int, default=280_000_000)
    p.add_argument("--time-base", type=int, default=1_735_000_000)
    p.add_argument("--prior-evals", type=float, default=8.0,
                   help="mean number of older (unserved) evals in a first-eval build's jobsetevals")
    p.add_argument("--shape", choices=("synthetic", "hydra"), default="synthetic",
                   help="hydra: objects shaped like the real Hydra's (see above)")
    p.add_argument("--twin", default="", help="PROJECT:JOBSET sharing drvs with the newest eval")
    p.add_argument("--twin-share", type=float, default=0.1)
    p.add_argument("--keys", type=int, default=100_000, help="known paths to sample into keys/")
    p.add_argument("--force", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    a.distinct = max(a.distinct, a.eval_size)
    params = params_of(a)
    manifest_path = os.path.join(a.out, "manifest.json")
    if not a.force and os.path.exists(manifest_path):
        with open(manifest_path) as fh:
            if json.load(fh).get("params") == params:
                print(f"gen_hydra: {a.out} is up to date", file=sys.stderr)
                return 0
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    t0 = time.monotonic()
    g = Generator(a)
    g.simulate()
    counts = g.write(a.out)
    counts["seconds"] = round(time.monotonic() - t0, 1)
    benchlib.write_json(manifest_path, {"params": params, **counts})
    print(f"gen_hydra: {a.out}: {counts['builds']} builds, {a.evals} evals, "
          f"{counts['eval_builds_bytes_total'] / 1e6:.0f} MB of /eval/<id>/builds "
          f"in {counts['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
