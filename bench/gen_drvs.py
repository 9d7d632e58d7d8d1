#!/usr/bin/env python3
"""A synthetic closure of .drv files in Nix's ATerm format (nix-drv.md 1.2),
for timing `hydra-status gate --store-root OUT`.

Writes OUT/nix/store/<hash>-<name>.drv for N derivations forming one DAG
whose root (OUT/root.txt) reaches all of them through inputDrvs, shaped
like a nixpkgs closure: every drv depends on a few bootstrap drvs (stdenv,
bash, gcc...) plus 0-30 others, mostly nearby ones; outputs 1-3; env with
the usual stdenv variables, store paths of its inputs, and a script with
escaped newlines and quotes. A share of the drvs (--known-share) take the
paths of drvs that the index knows (one per line in --known, e.g.
gen_hydra.py's keys/drvs.txt and keys/failed-drvs.txt), so that the gate
finds Hydra builds, a few of them failed; the rest are intermediate drvs
Hydra never built. Drv paths are not checked against the file contents
(the gate does not either), so they come from random hashes.

  gen_drvs.py OUT --drvs 20000 --known keys/drvs.txt --known keys/failed-drvs.txt
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

STORE = benchlib.STORE_DIR
BOOTSTRAP = ["bash-5.2p37", "coreutils-9.5", "gcc-wrapper-14.2.1", "glibc-2.40-36",
             "binutils-wrapper-2.43.1", "gnumake-4.4.1", "gnused-4.9", "gnugrep-3.11",
             "gawk-5.3.1", "findutils-4.10.0", "diffutils-3.10", "patch-2.7.6",
             "xz-5.6.3", "gzip-1.13", "bzip2-1.0.8", "gnutar-1.35", "stdenv-linux",
             "pkg-config-wrapper-0.29.2", "perl-5.40.0", "python3-3.12.8", "cmake-3.30.5",
             "meson-1.6.0", "ninja-1.12.1", "autoconf-2.72", "automake-1.16.5",
             "libtool-2.5.4", "zlib-1.3.1", "openssl-3.3.2", "curl-8.11.0", "ncurses-6.5"]
WORDS = ("lib core util kit gtk qt py x11 gl net ssl xml json http font img audio video "
         "db sql fs io cli tool hook wrap make build test doc").split()


def esc(text: str) -> str:
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))


def aterm_list(items) -> str:
    return "[" + ",".join(items) + "]"


def q(text: str) -> str:
    return '"' + esc(text) + '"'


class Drv:
    __slots__ = ("path", "name", "outputs", "out_paths", "inputs")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--drvs", type=int, default=20_000)
    p.add_argument("--known", action="append", default=[],
                   help="file of drv paths the index knows (repeatable)")
    p.add_argument("--known-share", type=float, default=0.35)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)

    known: list[str] = []
    for f in a.known:
        with open(f) as fh:
            known.extend(line.strip() for line in fh if line.strip().endswith(".drv"))
    params = {"drvs": a.drvs, "seed": a.seed, "known_share": a.known_share,
              "known": benchlib.source_digest(*a.known) if a.known else "",
              "generator": benchlib.source_digest(__file__, benchlib.__file__)}
    manifest_path = os.path.join(a.out, "manifest.json")
    if not a.force and os.path.exists(manifest_path):
        with open(manifest_path) as fh:
            if json.load(fh).get("params") == params:
                print(f"gen_drvs: {a.out} is up to date", file=sys.stderr)
                return 0
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    store = os.path.join(a.out, "nix", "store")
    os.makedirs(store)
    t0 = time.monotonic()
    rng = random.Random(a.seed)
    n = a.drvs
    # Known drvs are shuffled and drawn without repeats.
    known = sorted(set(known))
    rng.shuffle(known)
    known_iter = iter(known)
    drvs: list[Drv] = []
    n_known = 0
    for i in range(n):
        d = Drv()
        path = None
        if i >= len(BOOTSTRAP) and i < n - 1 and rng.random() < a.known_share:
            path = next(known_iter, None)
        if path is not None:
            n_known += 1
            base = path[len(STORE) + 1:]
            d.name = base[33:-4]
            d.path = path
        else:
            if i < len(BOOTSTRAP):
                d.name = BOOTSTRAP[i]
            elif i == n - 1:
                d.name = "nixos-system-bench-25.05pre700000.c0ffee0"
            else:
                r = rng.random()
                stem = "".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
                if r < 0.25:
                    d.name = f"{stem}-{rng.randint(0, 9)}.{rng.randint(0, 30)}.tar.gz"
                elif r < 0.35:
                    d.name = "source"
                elif r < 0.45:
                    d.name = f"{stem}-hook"
                else:
                    d.name = f"{stem}-{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
            d.path = f"{STORE}/{benchlib.random_hashes(rng, 1)[0]}-{d.name}.drv"
        r = rng.random()
        d.outputs = ["out"] if r < 0.7 else (["dev", "out"] if r < 0.9 else ["dev", "lib", "out"])
        hashes = benchlib.random_hashes(rng, len(d.outputs))
        d.out_paths = {o: f"{STORE}/{h}-{d.name if o == 'out' else d.name + '-' + o}"
                       for o, h in zip(d.outputs, hashes)}
        # Inputs: a few bootstrap drvs and some others, mostly nearby.
        inputs: set[int] = set()
        if i > 0:
            for _ in range(min(i, rng.randint(1, 4))):
                inputs.add(rng.randrange(min(i, len(BOOTSTRAP))))
            if i > len(BOOTSTRAP):
                for _ in range(min(30, int(rng.expovariate(1 / 3.0)))):
                    j = i - 1 - int(rng.expovariate(1 / 400.0))
                    if j >= 0:
                        inputs.add(j)
        d.inputs = inputs
        drvs.append(d)
    # Every drv is reachable from the root: give each unreferenced one a later parent.
    referenced = [False] * n
    for d in drvs:
        for j in d.inputs:
            referenced[j] = True
    for i in range(n - 2, -1, -1):
        if not referenced[i]:
            drvs[rng.randrange(i + 1, n)].inputs.add(i)
            referenced[i] = True
    total = 0
    srcs_pool = [f"{STORE}/{h}-{nm}" for h, nm in zip(
        benchlib.random_hashes(rng, 6),
        ["default-builder.sh", "source-stdenv.sh", "setup-hook.sh", "fix-build.patch",
         "remove-references.patch", "wrapper.sh"])]
    for i, d in enumerate(drvs):
        ins = sorted(d.inputs, key=lambda j: drvs[j].path)
        input_drvs = aterm_list(
            "(" + q(drvs[j].path) + "," + aterm_list(q(o) for o in (
                drvs[j].outputs if len(drvs[j].outputs) > 1 and rng.random() < 0.3 else ["out"]))
            + ")" for j in ins)
        srcs = sorted(rng.sample(srcs_pool, rng.randint(1, 3)))
        dep_paths = [drvs[j].out_paths["out"] for j in ins]
        env = {
            "__structuredAttrs": "",
            "buildInputs": " ".join(dep_paths[len(dep_paths) // 2:]),
            "builder": drvs[0].out_paths["out"] + "/bin/bash",
            "cmakeFlags": "",
            "configureFlags": "--enable-shared --disable-static" if rng.random() < 0.5 else "",
            "depsBuildBuild": "",
            "depsBuildBuildPropagated": "",
            "depsBuildTarget": "",
            "depsBuildTargetPropagated": "",
            "depsHostHost": "",
            "depsHostHostPropagated": "",
            "depsTargetTarget": "",
            "depsTargetTargetPropagated": "",
            "doCheck": "1" if rng.random() < 0.4 else "",
            "doInstallCheck": "",
            "enableParallelBuilding": "1",
            "mesonFlags": "",
            "name": d.name,
            "nativeBuildInputs": " ".join(dep_paths[:len(dep_paths) // 2]),
            "outputs": " ".join(d.outputs),
            "patches": " ".join(s for s in srcs if s.endswith(".patch")),
            "propagatedBuildInputs": "",
            "propagatedNativeBuildInputs": "",
            "src": dep_paths[0] if dep_paths else srcs[0],
            "stdenv": drvs[min(16, max(0, i - 1))].out_paths["out"],
            "strictDeps": "",
            "system": "x86_64-linux",
        }
        if rng.random() < 0.3:
            env["postInstall"] = ("mkdir -p $out/share/doc\ncp README \"$out/share/doc/\"\n"
                                  "substituteInPlace $out/bin/x --replace-fail '\\$HOME' /tmp\n")
        for o, op in d.out_paths.items():
            env[o] = op
        text = (
            "Derive("
            + aterm_list("(" + q(o) + "," + q(d.out_paths[o]) + ",\"\",\"\")" for o in d.outputs)
            + "," + input_drvs
            + "," + aterm_list(q(s) for s in srcs)
            + ",\"x86_64-linux\"," + q(env["builder"])
            + "," + aterm_list([q("-e"), q(srcs[0])])
            + "," + aterm_list("(" + q(k) + "," + q(v) + ")" for k, v in sorted(env.items()))
            + ")"
        )
        with open(os.path.join(a.out, d.path[1:]), "w", encoding="utf-8") as fh:
            fh.write(text)
        total += len(text)
    with open(os.path.join(a.out, "root.txt"), "w") as fh:
        fh.write(drvs[-1].path + "\n")
    info = {"params": params, "drvs": n, "known": n_known, "root": drvs[-1].path,
            "bytes": total, "edges": sum(len(d.inputs) for d in drvs),
            "seconds": round(time.monotonic() - t0, 1)}
    benchlib.write_json(manifest_path, info)
    print(f"gen_drvs: {a.out}: {n} drvs ({n_known} known to the index), "
          f"{total / 1e6:.0f} MB in {info['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
