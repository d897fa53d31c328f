#!/usr/bin/env bash
# Vendor Chart.js from the npm registry (no CDN at run time): the UMD bundle and its licence.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-4.6.1}
dest=pytest_fioloadgen/assets/vendor/chartjs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "chart.js@$version" >/dev/null && tar xzf chart.js-"$version".tgz)
mkdir -p "$dest"
cp "$work/package/dist/chart.umd.min.js" "$dest/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$dest/LICENSE" 2>/dev/null || cp "$work/package/LICENSE" "$dest/LICENSE"
echo "Chart.js $version -> $dest"
