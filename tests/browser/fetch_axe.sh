#!/usr/bin/env bash
# Fetch axe-core (the accessibility checker tests/browser/review_check.py runs on the
# index and the review pages) from npm at a pinned version, check the package's
# sha256 and the script's, and copy axe.min.js to target/axe-core/ (or $1). It is not
# committed: it is a third party's script (MPL-2.0), and the test only reads it.
# Without it the axe check skips (and fails under PROCTOR_NO_SKIP=1, as in CI).
# Does nothing when the script is already there with its hash; scripts/setup.sh
# --test-data runs it. Set PROCTOR_AXE to use a copy kept elsewhere.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(cd "$here/../.." && pwd)/target/axe-core}

version=4.14.1
tgz_sha256=e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
js_sha256=29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c

if echo "$js_sha256  $out/axe.min.js" | sha256sum -c --quiet - >/dev/null 2>&1; then
  echo "axe-core $version already in $out"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "fetch_axe.sh: npm not found (apt-get install npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null)
check() { # sha256 file
  echo "$1  $2" | sha256sum -c --quiet - || { echo "fetch_axe.sh: $2: sha256 mismatch" >&2; exit 1; }
}
check "$tgz_sha256" "$tmp/axe-core-$version.tgz"
tar -xzf "$tmp/axe-core-$version.tgz" -C "$tmp" package/axe.min.js package/LICENSE
check "$js_sha256" "$tmp/package/axe.min.js"
mkdir -p "$out"
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$out/"
echo "axe-core $version in $out"
