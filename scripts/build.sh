#!/usr/bin/env bash
# Builds the worker (release wasm, wasm-opt on) into build/, unless it is up to date.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
stamp=build/.stamp
if [ -f "$stamp" ] && [ -f build/index.js ] && \
   [ -z "$(find src static Cargo.toml Cargo.lock .cargo -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
echo "==> worker-build --release" >&2
worker-build --release >&2
touch "$stamp"
