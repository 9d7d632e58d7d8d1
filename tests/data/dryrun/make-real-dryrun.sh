#!/usr/bin/env bash
# Regenerates the real-*.txt fixtures: stderr of `nix-store -r --dry-run` and
# `nix-build --dry-run` from Debian's nix-bin 2.8 on the closures of
# tests/data/drv/real.nix, in throw-away chroot stores (nix-drv.md §2.2).
# A second store substitutes from a file:// binary cache filled from the
# first one, so the "will be fetched" sections are real too. Never creates
# /nix on the host.
# Usage: make-real-dryrun.sh [OUT_DIR]   (default: this script's directory)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
nix_file=$here/../drv/real.nix

command -v nix-build >/dev/null || { echo "nix-build not found (apt-get install nix-bin)" >&2; exit 125; }
if [ -e /nix ]; then
    echo "refusing to run: /nix exists on this host" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# conf_a: the store that builds. conf_b: a store that substitutes from $tmp/cache.
mkdir -p "$tmp/conf_a" "$tmp/conf_b"
common="build-users-group =
sandbox = true
extra-sandbox-paths = /bin /lib /lib64 /usr
experimental-features = nix-command"
printf 'store = %s\nsubstituters =\n%s\n' "$tmp/root_a" "$common" > "$tmp/conf_a/nix.conf"
printf 'store = %s\nsubstituters = file://%s\nrequire-sigs = false\n%s\n' \
    "$tmp/root_b" "$tmp/cache" "$common" > "$tmp/conf_b/nix.conf"
# Set before the first nix call: without it nix creates /nix/store on the host.
export NIX_CONF_DIR=$tmp/conf_a
export NIX_USER_CONF_FILES=
unset NIX_REMOTE

# Runs a nix command and keeps its stderr (the dry-run report) in $out/$1.
capture() {
    local name=$1
    shift
    "$@" 2> "$out/$name" >/dev/null || true
    echo "== $name: $*" >&2
    cat "$out/$name" >&2
}

top=$(nix-instantiate --no-gc-warning "$nix_file" -A top)
leaf=$(nix-instantiate --no-gc-warning "$nix_file" -A badLeaf)
capture real-nix-store-top-nothing-built.txt nix-store -r --dry-run "$top"
capture real-nix-build-top-nothing-built.txt nix-build --dry-run "$nix_file" -A top
capture real-nix-store-one-derivation.txt nix-store -r --dry-run "$leaf"
# Lines around the report: -vv adds "instantiated ..." lines (not part of a
# report: gate refuses them), builtins.trace adds "trace: ..." (skipped).
capture real-nix-build-top-verbose.txt nix-build -vv --dry-run "$nix_file" -A top
capture real-nix-build-top-trace.txt nix-build --dry-run \
    -E "builtins.trace \"tracing top\" (import $nix_file).top"

hello=$(nix-build --no-out-link "$nix_file" -A hello 2>/dev/null)
capture real-nix-store-top-hello-built.txt nix-store -r --dry-run "$top"
capture real-nix-build-hello-valid.txt nix-build --dry-run "$nix_file" -A hello

# A valid path with no deriver and no substituter.
capture real-nix-store-unknown-path.txt \
    nix-store -r --dry-run /nix/store/l9r346p3d25vs4g5v37f3r3f28js97kb-missing

# Fill a binary cache from store A and let store B substitute from it.
nix-build --no-out-link "$nix_file" -A multi >/dev/null 2>&1
mapfile -t multi < <(nix-store -q --outputs "$(nix-instantiate --no-gc-warning "$nix_file" -A multi)")
nix copy --to "file://$tmp/cache" "$hello" "${multi[@]}"
export NIX_CONF_DIR=$tmp/conf_b
capture real-nix-build-top-fetch-one.txt nix-build --dry-run "$nix_file" -A top
capture real-nix-build-multi-user-fetch-two.txt nix-build --dry-run "$nix_file" -A multiUser
capture real-nix-build-hello-fetch-only.txt nix-build --dry-run "$nix_file" -A hello
capture real-nix-build-missing-attribute.txt nix-build --dry-run "$nix_file" -A noSuchAttribute

if [ -e /nix ]; then
    echo "error: /nix appeared on the host" >&2
    exit 1
fi
