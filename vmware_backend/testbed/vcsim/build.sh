#!/usr/bin/env bash
# Build the vmware_backend vCenter simulator (vcsim test bed).
#
#   build.sh OUTPUT_PATH
#
# Uses Debian's Go toolchain and govmomi 0.24.2 sources.  The govmomi
# `simulator` package is copied into a temporary GOPATH and patched there with
# patches/*.patch (in order); everything else is symlinked from
# /usr/share/gocode/src.  /usr/share is never modified.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTPUT_PATH" >&2
    exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "$1" in
    /*) OUT="$1" ;;
    *) OUT="$PWD/$1" ;;
esac

GOCODE=/usr/share/gocode/src
GOVMOMI=$GOCODE/github.com/vmware/govmomi

missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d "$GOVMOMI/simulator" ] || missing+=(golang-github-vmware-govmomi-dev)
command -v patch >/dev/null 2>&1 || missing+=(patch)
if [ ${#missing[@]} -ne 0 ]; then
    echo "vcsim build: missing ${missing[*]}; install with:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 2
fi

# A fixed GOPATH location (rebuilt from scratch every time) keeps file paths
# stable, so Go's build cache is reused across builds; flock serialises builds.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/vcsim-testbed"
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
WORK="$CACHE/work"
rm -rf "$WORK"
mkdir -p "$WORK"
GP="$WORK/gopath"

# mirror_dir SRC DST SKIP: DST gets a symlink to every entry of SRC except SKIP
mirror_dir() {
    local src="$1" dst="$2" skip="$3" e
    mkdir -p "$dst"
    for e in "$src"/* "$src"/.[!.]*; do
        [ -e "$e" ] || continue
        [ "$(basename "$e")" = "$skip" ] && continue
        ln -s "$e" "$dst/$(basename "$e")"
    done
}

# src/ mirrors /usr/share/gocode/src, with real directories down to govmomi
mirror_dir "$GOCODE" "$GP/src" github.com
mirror_dir "$GOCODE/github.com" "$GP/src/github.com" vmware
mirror_dir "$GOCODE/github.com/vmware" "$GP/src/github.com/vmware" govmomi
mirror_dir "$GOVMOMI" "$GP/src/github.com/vmware/govmomi" simulator
cp -r "$GOVMOMI/simulator" "$GP/src/github.com/vmware/govmomi/simulator"
chmod -R u+w "$GP/src/github.com/vmware/govmomi/simulator"

for p in "$HERE"/patches/*.patch; do
    [ -e "$p" ] || continue
    echo "vcsim build: applying $(basename "$p")" >&2
    if ! patch -p1 --forward --batch --no-backup-if-mismatch -d "$GP/src/github.com/vmware/govmomi/simulator" <"$p" >"$WORK/patch.log" 2>&1; then
        cat "$WORK/patch.log" >&2
        echo "vcsim build: patch $(basename "$p") does not apply to $GOVMOMI/simulator" >&2
        exit 1
    fi
done

# the command itself: main.go and its other top-level *.go files (selfcheck/ is a separate program)
mkdir -p "$GP/src/vcsim-testbed"
cp "$HERE"/*.go "$GP/src/vcsim-testbed/"

mkdir -p "$(dirname "$OUT")"
export GOPATH="$GP" GO111MODULE=off
unset GOFLAGS
(cd "$GP/src/vcsim-testbed" && go build -o "$OUT" .)
echo "vcsim build: built $OUT" >&2
