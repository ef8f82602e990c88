#!/usr/bin/env bash
# Installs every tool the build and the tests need, each pinned, each skipped when the
# pinned version is already there (idempotent). Nothing is downloaded from outside the
# package registries: worker-build is told where its three helper binaries are
# (WASM_BINDGEN_BIN, ESBUILD_BIN, WASM_OPT_BIN; see scripts/env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# Must equal the wasm-bindgen version in Cargo.lock (checked below).
WASM_BINDGEN_VERSION=0.2.130

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

have_version() { # command, expected version substring
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q -- "$2"
}

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo (Rust) is required: install it with rustup first" >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error: node and npm are required" >&2
  exit 1
fi

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  echo "==> rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo clippy --version >/dev/null 2>&1; then
  echo "==> rustup component add clippy"
  rustup component add clippy
fi

if [ -f Cargo.lock ]; then
  locked=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
  if [ -n "$locked" ] && [ "$locked" != "$WASM_BINDGEN_VERSION" ]; then
    echo "error: Cargo.lock has wasm-bindgen $locked but scripts/install-tools.sh pins $WASM_BINDGEN_VERSION" >&2
    exit 1
  fi
fi

if ! have_version "$CARGO_BIN/worker-build" "$WORKER_BUILD_VERSION"; then
  echo "==> cargo install worker-build $WORKER_BUILD_VERSION"
  cargo install --locked worker-build --version "$WORKER_BUILD_VERSION"
fi
if ! have_version "$CARGO_BIN/wasm-bindgen" "$WASM_BINDGEN_VERSION"; then
  echo "==> cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lock file names a webpki-roots release the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# The browser of the real-browser suite (scripts/browser.sh): Debian's Chromium, driven by the
# pinned playwright-core (no browser download), and a Japanese font so that its screenshots of
# Japanese pages are legible. Debian serves one (security-patched) version of each; the major
# version is checked, so that a Chromium too old for playwright-core fails here, clearly.
CHROMIUM_MIN_MAJOR=140
chromium_major() { /usr/bin/chromium --version 2>/dev/null | sed -n 's/^Chromium \([0-9]*\)\..*/\1/p'; }
if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-ipafont-gothic >/dev/null 2>&1; then
  echo "==> apt-get install chromium fonts-ipafont-gothic"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: installing chromium needs root (or sudo)" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-ipafont-gothic >/dev/null
fi
major=$(chromium_major)
if [ -z "$major" ] || [ "$major" -lt "$CHROMIUM_MIN_MAJOR" ]; then
  echo "error: /usr/bin/chromium is version '${major:-unknown}'; the browser suite needs $CHROMIUM_MIN_MAJOR or later" >&2
  exit 1
fi

# npm tools (wrangler, esbuild, binaryen, miniflare, playwright-core, axe-core) pinned in
# package-lock.json.
if [ ! -x node_modules/.bin/wrangler ] || ! cmp -s package-lock.json node_modules/.package-lock.stamp 2>/dev/null; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.stamp
fi
