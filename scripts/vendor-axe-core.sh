#!/usr/bin/env bash
# Refresh the vendored axe-core from the npm registry. The accessibility tests
# (tests/browser/test_accessibility.py) inject it into each page in Chromium, so they run
# with no network. It lives under tests/, not in the package: users are never served it.
#   scripts/vendor-axe-core.sh [VERSION]     default: the version pinned below
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-4.14.1}
dest=tests/browser/vendor/axe-core
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$version" >/dev/null && tar xzf "axe-core-$version.tgz")
mkdir -p "$dest"
cp "$work/package/axe.min.js" "$dest/axe.min.js"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "$version" > "$dest/VERSION"
echo "vendored axe-core $version into $dest"
