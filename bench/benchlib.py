"""Small helpers shared by the benchmark scripts (standard library only)."""

from __future__ import annotations

import hashlib
import json
import os
import random

NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"
STORE_DIR = "/nix/store"
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

# 256 % 32 == 0, so mapping a random byte to NIX32[b % 32] is uniform.
_NIX32_TABLE = bytes(ord(NIX32[b % 32]) for b in range(256))


def random_hashes(rng: random.Random, count: int) -> list[str]:
    """count random 32-character nix32 hashes."""
    raw = rng.randbytes(32 * count).translate(_NIX32_TABLE).decode("ascii")
    return [raw[i:i + 32] for i in range(0, 32 * count, 32)]


def nix32_to_bytes(text: str) -> bytes:
    """The 20 bytes a nix32 hash stands for (Nix's order: the last character
    holds the lowest bits), as the index stores them."""
    value = 0
    for ch in text:
        value = value * 32 + NIX32.index(ch)
    return value.to_bytes(20, "little")


def path_hash(path: str) -> str:
    return path[len(STORE_DIR) + 1:len(STORE_DIR) + 33]


def source_digest(*files: str) -> str:
    """Short digest of some source files: part of a cache key, so that a
    change to a generator regenerates its data."""
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:10]


def write_json(path: str, value: object) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)
