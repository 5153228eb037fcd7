#!/usr/bin/env bash
# Build the vcsim test bed and run the Go self-check against it over HTTP.
#
#   selfcheck.sh [-scale]
#
# -scale additionally starts a 5000-VM inventory (-vms 2500) and times it.
# Exits non-zero on any failure; the last line is "selfcheck: N passed, M failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/vcsim-selfcheck.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

t0=$(date +%s)
"$HERE/build.sh" "$OUT/vcsim"
echo "selfcheck.sh: build took $(( $(date +%s) - t0 ))s" >&2

# the self-check only uses govmomi's client packages (unpatched) from Debian's GOPATH
(cd "$HERE/selfcheck" && GOPATH=/usr/share/gocode GO111MODULE=off go build -o "$OUT/selfcheck" .)

# the real vCenter VI/JSON samples the VI/JSON checks compare shapes with
export VIJSON_FIXTURES="$HERE/../../../tests/fixtures/vijson"
"$OUT/selfcheck" "$OUT/vcsim"
if [ "${1:-}" = "-scale" ]; then
    "$OUT/selfcheck" -scale "$OUT/vcsim"
fi
