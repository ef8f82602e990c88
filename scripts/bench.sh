#!/usr/bin/env bash
# The benchmark suite (method in bench/README.md). `make bench` runs this.
#
#   bash scripts/bench.sh            # build what is stale, then the full run (a few minutes)
#   bash scripts/bench.sh --quick    # small batches: checks that everything works, figures indicative
#
# Builds, with the pinned tools of scripts/env.sh and a cargo target directory of its own
# (target/bench, so the main build and `build/` used by the end-to-end tests are untouched):
#   .bench/out/oidc     edge-oidc, release, with the `bench` feature (probe routes): what is measured
#   .bench/out/release  edge-oidc, release, no features: what is deployed (its size is reported)
#   .bench/out/noop     bench/noop, the no-op Rust worker built the same way: the baseline
#   .bench/out/floor-rs bench/floor-rs, the Rust floor (the floor's authorization GET and
#                       userinfo in Rust, built the same way)
# then runs bench/run.mjs, which starts each worker with miniflare on loopback, measures, stops
# them, and writes bench/RESULTS.md and bench/results.json.
#
# Results are only meaningful on an otherwise idle machine: the script warns when other
# workerd or cargo processes are running (BENCH_IGNORE_BUSY=1 skips the warning's wait).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

say() { printf 'bench: %s\n' "$*" >&2; }

export CARGO_TARGET_DIR="$ROOT/target/bench"
OUT=.bench/out

# Rebuilds $OUT/<name> with worker-build when a source is newer than its stamp.
#   build <name> <crate dir> <sources...> -- <extra cargo options...>
build() {
    local name=$1 crate=$2; shift 2
    local sources=()
    while [[ $# -gt 0 && $1 != -- ]]; do sources+=("$1"); shift; done
    [[ ${1:-} == -- ]] && shift
    local dest="$ROOT/$OUT/$name" stamp="$ROOT/$OUT/$name/.stamp"
    if [[ -f $stamp && -f $dest/index.js ]] && \
       [[ -z "$(find "${sources[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]]; then
        return 0
    fi
    say "building $name (worker-build --release $*)"
    # --out-dir is relative to the crate directory. Computed before the build, so that a
    # failure stops here: an empty --out-dir makes worker-build write its package (including
    # a package.json and .gitignore) into the crate directory itself.
    mkdir -p "$dest"
    local rel
    rel=$(cd "$crate" && realpath --relative-to=. "$dest")
    (cd "$crate" && worker-build --release --out-dir "$rel" . "$@") >&2
    touch "$stamp"
}

MAIN_SOURCES=(src static Cargo.toml Cargo.lock .cargo scripts/entry.js)
build oidc . "${MAIN_SOURCES[@]}" -- --features bench
build release . "${MAIN_SOURCES[@]}" --
# The entry module around both (scripts/entry.js), as scripts/build.sh does.
bash scripts/entry.sh "$OUT/oidc"
bash scripts/entry.sh "$OUT/release"
# What is deployed: scripts/build.sh strips the name section (the measured `oidc` build keeps
# it, for BENCH_PROFILE).
if [[ $OUT/release/.stamp -nt $OUT/release/.stripped || ! -f $OUT/release/.stripped ]]; then
    "$WASM_OPT_BIN" "$OUT/release/index_bg.wasm" --strip-debug --strip-producers -o "$OUT/release/index_bg.wasm"
    touch "$OUT/release/.stripped"
fi
build noop bench/noop bench/noop/src bench/noop/Cargo.toml bench/noop/Cargo.lock --
build floor-rs bench/floor-rs bench/floor-rs/src bench/floor-rs/Cargo.toml bench/floor-rs/Cargo.lock bench/floor-rs/entry.js --
bash scripts/entry.sh "$OUT/floor-rs" bench/floor-rs/entry.js

# The operator tool generates keys and records (host build, the normal target directory).
CARGO_TARGET_DIR="$ROOT/target" cargo build -q --bin oidc-admin

# Anything else burning CPU skews the figures: wait (up to 10 minutes) for it to end.
busy() { ps -eo comm= | grep -cxE 'workerd|cargo|rustc' || true; }
if [[ ${BENCH_IGNORE_BUSY:-0} != 1 ]]; then
    for _ in $(seq 1 60); do
        [[ $(busy) -eq 0 ]] && break
        say "other workerd/cargo processes are running ($(busy)); waiting for the machine to be idle (BENCH_IGNORE_BUSY=1 to skip)"
        sleep 10
    done
    [[ $(busy) -eq 0 ]] || say "warning: the machine is still busy; figures will be inflated"
fi

node bench/run.mjs "$@"
