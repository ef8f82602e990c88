#!/usr/bin/env bash
# MCP clients against edge-oidc, end to end: the MCP TypeScript SDK's OAuth client
# (@modelcontextprotocol/sdk, pinned in package.json) authorizes against `wrangler dev` and
# calls the example resource server (examples/resource-server, run in workerd through
# miniflare): once presenting a client ID metadata document, once registering itself
# (RFC 7591), and as a machine client with client credentials and private_key_jwt.
# Runs tests/mcp/*.test.mjs with node's test runner and prints one cargo-style
# `test result:` line for .ci/run's total.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SCRIPT_NAME=mcp
source scripts/lib/wrangler.sh

[[ -f build/index.js ]] || die "build/index.js is missing: the worker is not built. Run 'make build' first."
[[ -x "$WRANGLER" ]] || die "$WRANGLER is missing. Run 'make tools' first."
[[ -f node_modules/@modelcontextprotocol/sdk/package.json ]] || die "the MCP SDK is missing. Run 'make tools' first."

new_run mcp
PORT=$(free_port)
RS_PORT=$(free_port)
RS2_PORT=$(free_port)
DOC_PORT=$(free_port)
ISSUER="http://127.0.0.1:$PORT"
RESOURCE="http://127.0.0.1:$RS_PORT/mcp"
# A second resource with opaque tokens, which its server introspects with its own client.
OPAQUE_RESOURCE="http://127.0.0.1:$RS2_PORT/mcp"
DOC_ORIGIN="https://mcp-client.test"
PASSWORD='a long and correct passphrase'
say "run directory $RUN_DIR, issuer $ISSUER, resource $RESOURCE"

on_exit() {
    local rc=$?
    stop_wrangler
    if [[ $rc -ne 0 ]]; then
        show_log
        say "FAILED (exit $rc); state and logs are in $RUN_DIR"
    elif [[ "${E2E_KEEP:-0}" != 1 ]]; then
        rm -rf "$RUN_DIR"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- The resource, a user, and a machine client with its own key -----------------------------
build_admin
write_dev_vars
admin resources add "$RESOURCE" --name "Example MCP server" --scope "mcp:tools=use your tools" \
    --format jwt >/dev/null || die "adding the resource failed"
printf '%s\n' "$PASSWORD" | admin users add mcp-user --password-stdin --name "Mia Client" \
    --email mcp-user@example.com --email-verified >/dev/null || die "adding the user failed"
ROBOT_KEY="$RUN_DIR/robot-key.json"
ROBOT_JWKS="$RUN_DIR/robot-jwks.json"
node -e '
const crypto = require("node:crypto"), fs = require("node:fs");
const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const pub = { ...publicKey.export({ format: "jwk" }), kid: "robot-1", alg: "ES256", use: "sig" };
fs.writeFileSync(process.argv[1], JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid: "robot-1", alg: "ES256" }));
fs.writeFileSync(process.argv[2], JSON.stringify({ keys: [pub] }));
' "$ROBOT_KEY" "$ROBOT_JWKS"
admin clients add mcp-robot --name "Nightly robot" --grant-type client_credentials --auth-method private_key_jwt \
    --jwks-file "$ROBOT_JWKS" --scope "mcp:tools" --resource "$RESOURCE" >/dev/null || die "adding the machine client failed"
OUT=$(admin clients add rs-introspect --name "Opaque resource server" --grant-type client_credentials \
    --scope "mcp:tools" --resource "$OPAQUE_RESOURCE" --json) || die "adding the resource server's client failed"
RS_SECRET=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])' <<<"$OUT")
admin resources add "$OPAQUE_RESOURCE" --name "Opaque MCP server" --scope "mcp:tools=use your tools" \
    --format opaque --introspection-client rs-introspect >/dev/null || die "adding the opaque resource failed"

# --- The provider: metadata documents and registration on; the document's https origin is
# served locally by the test (DEV_FETCH_ORIGINS, honoured on a loopback issuer only) --------------
start_wrangler "$PORT" --var "ISSUER:$ISSUER" --var "CLIENT_ID_METADATA_DOCUMENTS:on" --var "REGISTRATION:open" \
    --var "DEV_FETCH_ORIGINS:$DOC_ORIGIN=http://127.0.0.1:$DOC_PORT"
wait_ready "$ISSUER/.well-known/openid-configuration"
say "provider is up"

TAP="$RUN_DIR/results.tap"
set +e
MCP_ISSUER="$ISSUER" MCP_RESOURCE="$RESOURCE" MCP_RS_PORT="$RS_PORT" MCP_DOC_PORT="$DOC_PORT" \
MCP_OPAQUE_RESOURCE="$OPAQUE_RESOURCE" MCP_RS2_PORT="$RS2_PORT" MCP_RS_CLIENT=rs-introspect MCP_RS_SECRET="$RS_SECRET" \
MCP_DOC_ORIGIN="$DOC_ORIGIN" MCP_USER=mcp-user MCP_PASSWORD="$PASSWORD" MCP_ROBOT=mcp-robot \
MCP_ROBOT_KEY="$ROBOT_KEY" MCP_WRANGLER_LOG="$LOG" \
    node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$TAP" tests/mcp/*.test.mjs
STATUS=$?
# Every audit event the provider wrote matches schemas/event.schema.json (docs/events.md).
if [[ $STATUS -eq 0 ]]; then
    check_events sign_in.succeeded,consent.granted,code.issued,code.redeemed,token.revoked
    STATUS=$?
fi
set -e
PASS=$(awk '/^# pass /{print $3}' "$TAP" | tail -n 1)
FAIL=$(awk '/^# fail /{print $3}' "$TAP" | tail -n 1)
if [[ $STATUS -eq 0 && "${FAIL:-1}" == 0 ]]; then
    echo "test result: ok. ${PASS:-0} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out (mcp)"
else
    FAIL=${FAIL:-0}
    [[ $FAIL -gt 0 ]] || FAIL=1
    echo "test result: FAILED. ${PASS:-0} passed; $FAIL failed; 0 ignored; 0 measured; 0 filtered out (mcp)"
    exit 1
fi
