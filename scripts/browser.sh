#!/usr/bin/env bash
# The pages in a real browser: headless Chromium (Debian's package) driven by playwright-core
# against `wrangler dev`, with the operator's look configured, a relying party on loopback
# (tests/browser/rp.mjs) and accounts seeded per scenario. Runs tests/browser/*.test.mjs with
# node's test runner and prints one cargo-style `test result:` line for .ci/run's total.
# (runtime.test.mjs runs the built worker in workerd through miniflare, without the dev proxy,
# for what only the runtime itself shows: a streaming upload cut off at the cap.)
#
#   bash scripts/browser.sh                 # every scenario
#   bash scripts/browser.sh flows           # only tests/browser/flows.test.mjs
#
# Screenshots of every page go to the run directory (.e2e/browser-*/screenshots), kept after
# a successful run; the rest of the run directory is removed unless E2E_KEEP=1.
# BROWSER_README_SHOTS=docs/screenshots also writes the README's screenshots there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SCRIPT_NAME=browser
source scripts/lib/wrangler.sh

# --- Preconditions ----------------------------------------------------------------------------
[[ -f build/index.js ]] || die "build/index.js is missing: the worker is not built. Run 'make build' first."
[[ -x "$WRANGLER" ]] || die "$WRANGLER is missing. Run 'make tools' first."
[[ -f node_modules/playwright-core/package.json ]] || die "playwright-core is missing. Run 'make tools' first."
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x "$CHROMIUM" ]] || die "$CHROMIUM is missing. Run 'make tools' (it installs Debian's chromium package)."

# --- Run directory, ports ---------------------------------------------------------------------
new_run browser
PORT=$(free_port)
RP_PORT=$(free_port)
ISSUER="http://localhost:$PORT"
RP="http://127.0.0.1:$RP_PORT"
PASSWORD='a long and correct passphrase'
PRODUCT="Example ID"
CLIENT_NAME="Example Notes"
# Forms expire after this many seconds: long enough for every scenario's pages, short enough
# for the expired-form scenario to wait it out.
INTERACTION_TTL=40
say "run directory $RUN_DIR, issuer $ISSUER, relying party $RP"

RP_PID=""
on_exit() {
    local rc=$?
    stop_wrangler
    [[ -z "$RP_PID" ]] || kill "$RP_PID" 2>/dev/null || true
    if [[ $rc -ne 0 ]]; then
        show_log
        say "FAILED (exit $rc); state, logs and screenshots are in $RUN_DIR"
    elif [[ "${E2E_KEEP:-0}" != 1 ]]; then
        rm -rf "$STATE" "$DEV_VARS"
        say "screenshots of every page: $RUN_DIR/screenshots"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Keys, client, accounts -------------------------------------------------------------------
build_admin
write_dev_vars
say "seeding the client and one account per scenario and layout"
OUT=$(admin clients add browser-app --name "$CLIENT_NAME" --auth-method client_secret_basic \
    --redirect-uri "$RP/callback" --post-logout-redirect-uri "$RP/signed-out" --scope "openid profile email" \
    --client-uri "$RP/" --logo-uri "$RP/logo.png" --policy-uri "$RP/privacy" --tos-uri "$RP/terms" --json) \
    || die "adding the client failed"
CLIENT_SECRET=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])' <<<"$OUT")
for who in first deny wrong locked race logout apps lang passkey codes nojs; do
    for vp in desktop phone; do
        printf '%s\n' "$PASSWORD" | admin users add "$who-$vp" --password-stdin --name "Ana $who" \
            --email "$who-$vp@example.com" --email-verified >/dev/null || die "adding user $who-$vp failed"
    done
done

# --- The relying party and the provider -------------------------------------------------------
RP_PORT=$RP_PORT node tests/browser/rp.mjs >"$RUN_DIR/rp.log" 2>&1 &
RP_PID=$!
start_wrangler "$PORT" --var "ISSUER:$ISSUER" --var "INTERACTION_TTL_SECONDS:$INTERACTION_TTL" \
    --var "BRAND_NAME:$PRODUCT" --var "BRAND_ACCENT:#0b6e4f" --var "BRAND_ACCENT_DARK:#6fd3a8"
wait_ready "$ISSUER/.well-known/openid-configuration"
say "provider is up"

# --- Tests ------------------------------------------------------------------------------------
FILES=()
if [[ $# -gt 0 ]]; then
    for f in "$@"; do FILES+=("tests/browser/$f.test.mjs"); done
else
    FILES=(tests/browser/*.test.mjs)
fi
TAP="$RUN_DIR/results.tap"
set +e
BROWSER_ISSUER="$ISSUER" BROWSER_RP="$RP" BROWSER_CLIENT_ID=browser-app BROWSER_CLIENT_SECRET="$CLIENT_SECRET" \
BROWSER_CLIENT_NAME="$CLIENT_NAME" BROWSER_PRODUCT="$PRODUCT" BROWSER_PASSWORD="$PASSWORD" \
BROWSER_INTERACTION_TTL="$INTERACTION_TTL" BROWSER_SCREENSHOTS="$RUN_DIR/screenshots" CHROMIUM="$CHROMIUM" \
BROWSER_DEV_VARS="$DEV_VARS" BROWSER_ADMIN="$ADMIN" BROWSER_STATE="$STATE" BROWSER_WRANGLER="$WRANGLER" \
    node --test --test-concurrency=2 --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$TAP" "${FILES[@]}"
STATUS=$?
# Every audit event the provider wrote matches schemas/event.schema.json (docs/events.md).
if [[ $STATUS -eq 0 && $# -eq 0 ]]; then
    check_events sign_in.succeeded,sign_in.failed,sign_in.locked,second_factor.used,consent.granted,consent.denied,consent.withdrawn,code.issued,logout
    STATUS=$?
fi
set -e
PASS=$(awk '/^# pass /{print $3}' "$TAP" | tail -n 1)
FAIL=$(awk '/^# fail /{print $3}' "$TAP" | tail -n 1)
# One line in cargo's words, so that .ci/run counts these tests with the others.
if [[ $STATUS -eq 0 && "${FAIL:-1}" == 0 ]]; then
    echo "test result: ok. ${PASS:-0} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out (browser)"
else
    FAIL=${FAIL:-0}
    [[ $FAIL -gt 0 ]] || FAIL=1
    echo "test result: FAILED. ${PASS:-0} passed; $FAIL failed; 0 ignored; 0 measured; 0 filtered out (browser)"
    exit 1
fi
