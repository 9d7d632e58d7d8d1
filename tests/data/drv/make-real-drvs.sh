#!/usr/bin/env bash
# Regenerates tests/data/drv/real/ (ATerm fixtures written by real Nix) from
# real.nix with Debian's nix-bin 2.8 in a throw-away chroot store, following
# shared/reference/nix-drv.md §2.2. Never creates /nix on the host.
# Usage: make-real-drvs.sh [OUT_DIR]   (default: real/ next to this script)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/real}

command -v nix-instantiate >/dev/null || { echo "nix-instantiate not found (apt-get install nix-bin)" >&2; exit 125; }
if [ -e /nix ]; then
    echo "refusing to run: /nix exists on this host" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/conf"
cat > "$tmp/conf/nix.conf" <<CONF
store = $tmp/root
build-users-group =
substituters =
sandbox = true
extra-sandbox-paths = /bin /lib /lib64 /usr
experimental-features = nix-command
CONF
# Set before the first nix call: without it nix creates /nix/store on the host.
export NIX_CONF_DIR=$tmp/conf
export NIX_USER_CONF_FILES=
unset NIX_REMOTE

plain=(hello badLeaf mid top multi multiUser fixedFlat fixedRecursive withSrc structured escapes)
xp=(floating deferred impure)
xp_flags=(--extra-experimental-features 'ca-derivations impure-derivations')

mkdir -p "$out"
copy() {
    local attr=$1
    shift
    local drv
    drv=$(nix-instantiate --no-gc-warning "$@" "$here/real.nix" -A "$attr")
    cp "$tmp/root$drv" "$out/$(basename "$drv")"
    chmod 0644 "$out/$(basename "$drv")"
    printf '%-16s %s\n' "$attr" "$(basename "$drv")"
}
for attr in "${plain[@]}"; do
    copy "$attr"
done
for attr in "${xp[@]}"; do
    copy "$attr" "${xp_flags[@]}"
done

if [ -e /nix ]; then
    echo "error: /nix appeared on the host" >&2
    exit 1
fi
