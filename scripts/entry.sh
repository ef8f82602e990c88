#!/usr/bin/env bash
# Puts the entry module (scripts/entry.js, or ENTRY) around worker-build's output in DIR:
# index.js becomes wasm.mjs, and the entry module the new index.js. Run after every
# worker-build of the provider (scripts/build.sh, scripts/bench.sh; ENTRY: the benchmark's Rust
# floor); run again, it only refreshes the entry.
set -euo pipefail
dir=${1:?usage: entry.sh DIR [ENTRY]}
entry=${2:-"$(cd "$(dirname "$0")" && pwd)/entry.js"}
[[ -f $dir/index.js ]] || { echo "entry.sh: $dir/index.js is missing" >&2; exit 1; }
# worker-build's index.js imports the wasm; the entry module imports wasm.mjs.
if ! grep -q '"./wasm.mjs"' "$dir/index.js"; then
  mv "$dir/index.js" "$dir/wasm.mjs"
fi
cp "$entry" "$dir/index.js"
