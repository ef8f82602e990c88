#!/usr/bin/env bash
# Builds the worker (release wasm, wasm-opt on) into build/, unless it is up to date.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
stamp=build/.stamp
if [ -f "$stamp" ] && [ -f build/index.js ] && \
   [ -z "$(find src static Cargo.toml Cargo.lock .cargo scripts/entry.js -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
echo "==> worker-build --release" >&2
worker-build --release >&2
# The entry module: Durable Object classes callable by RPC (scripts/entry.js).
bash scripts/entry.sh build
# Drop the name and producers sections (function names for debuggers: ~45 KB gzip, nothing at
# run time) so the deployed wasm stays under the 400 KB gzip budget (docs/performance.md).
"$WASM_OPT_BIN" build/index_bg.wasm --strip-debug --strip-producers -o build/index_bg.wasm
touch "$stamp"
