#!/usr/bin/env bash
# Installs the browser libraries pinned in webapp/assets/package.json (and package-lock.json)
# from the npm registry and copies the files the pages use into webapp/static/vendor, which
# the binary embeds. Government networks are isolated: pages never load anything from a CDN.
# Idempotent and fast when nothing changed (the lock file's hash is remembered).
set -euo pipefail
cd "$(dirname "$0")/.."
src=webapp/assets
dst=webapp/static/vendor
stamp="$dst/.lock-sha256"

if ! command -v npm >/dev/null 2>&1; then
	echo "assets: npm is not installed (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi
want=$(sha256sum "$src/package-lock.json" scripts/assets.sh | sha256sum | cut -c1-64)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
echo "assets: npm ci in $src"
(cd "$src" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
m="$src/node_modules"
rm -rf "$dst"
mkdir -p "$dst"
# name in vendor <- file in node_modules
copy() { install -m 0644 "$m/$2" "$dst/$1"; }
copy quill.js quill/dist/quill.js
copy quill.snow.css quill/dist/quill.snow.css
copy quill.LICENSE.txt quill/LICENSE
copy echarts.min.js echarts/dist/echarts.min.js
copy echarts.LICENSE.txt echarts/LICENSE
copy Sortable.min.js sortablejs/Sortable.min.js
copy sortablejs.LICENSE.txt sortablejs/LICENSE
echo "$want" >"$stamp"
echo "assets: $(ls "$dst" | grep -vc LICENSE) files in $dst"
