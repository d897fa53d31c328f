#!/usr/bin/env bash
# Refresh the vendored Chart.js from the npm registry (no CDN at run time: the static
# history site and the results server must work offline and from file://).
#   scripts/vendor-chartjs.sh [VERSION]     default: the version pinned below
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-4.6.1}
dest=pytest_fioloadgen/assets/vendor/chartjs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "chart.js@$version" >/dev/null && tar xzf "chart.js-$version.tgz")
mkdir -p "$dest"
cp "$work/package/dist/chart.umd.min.js" "$dest/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$dest/LICENSE.md"
echo "$version" > "$dest/VERSION"
echo "vendored Chart.js $version into $dest"
