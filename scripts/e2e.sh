#!/usr/bin/env bash
# End-to-end tests: seed a fresh local state with the operator tool, start `wrangler dev` on a
# free loopback port, run the relying-party test suite (tests/e2e) against it, stop wrangler.
#
#   bash scripts/e2e.sh                  # everything
#   bash scripts/e2e.sh code_reuse       # extra arguments go to `cargo test -p e2e`
#
# Expects the worker to be built already (`make build`: build/index.js and its wasm).
# Each run uses its own directory .e2e/<timestamp>-<pid>/ (state, dev vars, wrangler config and
# log), kept when the run fails and deleted after a successful one unless E2E_KEEP=1.
# E2E_START_TIMEOUT (seconds, default 120) bounds the wait for the provider to answer.
# The hostile-request storm (tests/e2e/tests/hostile/) reads E2E_HOSTILE_REQUESTS (default
# 3000), E2E_HOSTILE_SEED, E2E_HOSTILE_THREADS (8) and E2E_HOSTILE_SECONDS (240) from the
# environment.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SCRIPT_NAME=e2e
source scripts/lib/wrangler.sh

# --- Preconditions ----------------------------------------------------------------------------
[[ -f build/index.js ]] || die "build/index.js is missing: the worker is not built. Run 'make build' first."
find build -name '*.wasm' -print -quit | grep -q . \
    || die "no .wasm under build/: the worker is not built. Run 'make build' first."
[[ -x "$WRANGLER" ]] || die "$WRANGLER is missing. Run 'npm ci' first."
command -v python3 >/dev/null || die "python3 is needed (free port, JSON parsing)."
command -v curl >/dev/null || die "curl is needed (readiness probe)."

# --- Run directory, port ----------------------------------------------------------------------
new_run e2e
PORT=$(free_port)
ISSUER="http://127.0.0.1:$PORT"
# The client's redirect URI: nothing listens there, the tests read the Location header.
REDIRECT_URI="http://127.0.0.1:9/callback"
CODE_TTL=10
# Short, so that tests/e2e/tests/refresh.rs can wait past it; long enough for concurrent
# refreshes with one token to land inside it.
REFRESH_GRACE=3
USERNAME=alice
PASSWORD='correct horse battery staple'
EMAIL=alice@example.com
say "run directory $RUN_DIR, issuer $ISSUER"

# --- Cleanup ----------------------------------------------------------------------------------
STATUS=1
on_exit() {
    local rc=$?
    stop_wrangler
    if [[ $rc -ne 0 ]]; then
        show_log
        say "FAILED (exit $rc); state, dev vars and logs are in $RUN_DIR"
    elif [[ "${E2E_KEEP:-0}" != 1 ]]; then
        rm -rf "$RUN_DIR"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Operator tool ----------------------------------------------------------------------------
say "building the operator tool"
build_admin

# --- Secrets ----------------------------------------------------------------------------------
# The signing key set, built with the rotation commands (tests/e2e/tests/signing.rs): an RS256
# key that is then retired (still published), the active RS256 key, an ES256 and an EdDSA key.
KEYS_FILE="$RUN_DIR/signing-keys.json"
kid_at() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["keys"][int(sys.argv[2])]["kid"])' "$KEYS_FILE" "$1"; }
(umask 077 && admin keys generate > "$KEYS_FILE") || die "oidc-admin keys generate failed"
RETIRED_KID=$(kid_at 0)
admin keys add --alg RS256 --file "$KEYS_FILE" >/dev/null || die "oidc-admin keys add --alg RS256 failed"
ACTIVE_KID=$(kid_at 1)
admin keys activate "$ACTIVE_KID" --file "$KEYS_FILE" >/dev/null || die "oidc-admin keys activate failed"
admin keys retire "$RETIRED_KID" --file "$KEYS_FILE" >/dev/null || die "oidc-admin keys retire failed"
admin keys add --alg ES256 --file "$KEYS_FILE" >/dev/null || die "oidc-admin keys add --alg ES256 failed"
ES256_KID=$(kid_at 2)
admin keys add --alg EdDSA --file "$KEYS_FILE" >/dev/null || die "oidc-admin keys add --alg EdDSA failed"
EDDSA_KID=$(kid_at 3)
write_dev_vars "$KEYS_FILE"

# --- Seed (before wrangler starts) ------------------------------------------------------------
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

add_client() { # <id> <auth method> <name> [extra flags...]  -> prints the JSON; $SCOPE overrides
    admin clients add "$1" --redirect-uri "$REDIRECT_URI" --auth-method "$2" --name "$3" \
        --scope "${SCOPE:-openid profile email}" --json "${@:4}"
}

BASIC_NAME="E2E Basic Client"
POST_NAME="E2E Post Client"
PUBLIC_NAME="E2E Public Client"

say "seeding clients and the user"
OUT=$(add_client e2e-basic client_secret_basic "$BASIC_NAME") || die "adding client e2e-basic failed"
BASIC_ID=$(json_field client_id <<<"$OUT") && BASIC_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-basic --json': $OUT"
# A legacy confidential client that may leave PKCE out (every other client must use it).
OUT=$(add_client e2e-post client_secret_post "$POST_NAME" --pkce optional) || die "adding client e2e-post failed"
POST_ID=$(json_field client_id <<<"$OUT") && POST_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-post --json': $OUT"
OUT=$(add_client e2e-public none "$PUBLIC_NAME") || die "adding client e2e-public failed"
PUBLIC_ID=$(json_field client_id <<<"$OUT") || die "unexpected output from 'clients add e2e-public --json': $OUT"
# A pairwise client (OpenID Connect Core §8.1) that may also ask for address and phone.
OUT=$(SCOPE="openid profile email address phone" add_client e2e-pairwise client_secret_basic \
    "E2E Pairwise Client" --pairwise) || die "adding client e2e-pairwise failed"
PAIRWISE_ID=$(json_field client_id <<<"$OUT") && PAIRWISE_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-pairwise --json': $OUT"
# Clients that may use refresh tokens (refresh.rs): confidential and public.
REFRESH_NAME="E2E Refresh Client"
PUBLIC_REFRESH_NAME="E2E Public Refresh Client"
OUT=$(SCOPE="openid profile email offline_access" add_client e2e-refresh client_secret_basic "$REFRESH_NAME" \
    --grant-type refresh_token --refresh-grace "$REFRESH_GRACE") || die "adding client e2e-refresh failed"
REFRESH_ID=$(json_field client_id <<<"$OUT") && REFRESH_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-refresh --json': $OUT"
OUT=$(SCOPE="openid profile email offline_access" add_client e2e-public-refresh none "$PUBLIC_REFRESH_NAME" \
    --grant-type refresh_token) || die "adding client e2e-public-refresh failed"
PUBLIC_REFRESH_ID=$(json_field client_id <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-public-refresh --json': $OUT"
# Clients whose ID tokens are signed ES256 and EdDSA (OpenID Connect Registration §2).
OUT=$(add_client e2e-es256 client_secret_basic "E2E ES256 Client" --id-token-alg ES256) \
    || die "adding client e2e-es256 failed"
ES256_ID=$(json_field client_id <<<"$OUT") && ES256_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-es256 --json': $OUT"
OUT=$(add_client e2e-eddsa client_secret_basic "E2E EdDSA Client" --id-token-alg EdDSA) \
    || die "adding client e2e-eddsa failed"
EDDSA_ID=$(json_field client_id <<<"$OUT") && EDDSA_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-eddsa --json': $OUT"
for s in "$BASIC_SECRET" "$POST_SECRET" "$PAIRWISE_SECRET" "$REFRESH_SECRET" "$ES256_SECRET" "$EDDSA_SECRET"; do
    [[ -n "$s" && "$s" != None && "$s" != null ]] || die "a confidential client got no secret"
done

printf '%s\n' "$PASSWORD" | admin users add "$USERNAME" --password-stdin \
    --email "$EMAIL" --email-verified --name "Alice Example" --given-name Alice --family-name Example \
    --picture https://example.com/alice.png --phone-number "+1 425 555 0100" --phone-number-verified \
    --street-address "1 Main Street" --locality Springfield --country US >/dev/null \
    || die "adding user $USERNAME failed"

# Sessions, consent memory, logout, custom scopes and the claims parameter (sessions.rs): a
# client that may ask for the custom scope `groups` and return users after logout, and one
# account per test so that remembered consents and ended sessions never cross tests.
LOGOUT_URI="http://127.0.0.1:9/signed-out"
admin scopes add groups --description "see the teams you belong to" \
    --claim groups --claim https://example.com/roles >/dev/null || die "adding scope groups failed"
OUT=$(SCOPE="openid profile email phone groups" add_client e2e-sessions client_secret_basic "E2E Sessions Client" \
    --post-logout-redirect-uri "$LOGOUT_URI") || die "adding client e2e-sessions failed"
SESSIONS_ID=$(json_field client_id <<<"$OUT") && SESSIONS_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-sessions --json': $OUT"
SESSION_USERS="session-a session-b session-c session-d session-e session-f"
for u in $SESSION_USERS; do
    printf '%s\n' "$PASSWORD" | admin users add "$u" --password-stdin --name "$u" --email "$u@example.com" \
        --phone-number "+1 425 555 0199" --claim 'groups=["staff","ops"]' --claim 'https://example.com/roles=["admin"]' \
        >/dev/null || die "adding user $u failed"
done

# Accounts and a client used only by the abuse-resistance tests (throttle.rs, logs.rs): they
# get locked or fail to sign in on purpose, so the accounts above are never disturbed. Random
# passwords and secret per run (logs.rs searches the log for them).
random_secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
THROTTLED_USER=throttled-user
THROTTLED_PASSWORD=$(random_secret)
THROTTLED2_USER=throttled-user2
THROTTLED2_PASSWORD=$(random_secret)
LOGS_USER=logs-user
LOGS_PASSWORD=$(random_secret)
for pair in "$THROTTLED_USER:$THROTTLED_PASSWORD" "$THROTTLED2_USER:$THROTTLED2_PASSWORD" "$LOGS_USER:$LOGS_PASSWORD"; do
    printf '%s\n' "${pair#*:}" | admin users add "${pair%%:*}" --password-stdin --name "${pair%%:*}" >/dev/null \
        || die "adding user ${pair%%:*} failed"
done
THROTTLED_CLIENT_NAME="E2E Throttled Client"
OUT=$(add_client e2e-throttled client_secret_basic "$THROTTLED_CLIENT_NAME") || die "adding client e2e-throttled failed"
THROTTLED_CLIENT_ID=$(json_field client_id <<<"$OUT") && THROTTLED_CLIENT_SECRET=$(json_field client_secret <<<"$OUT") \
    || die "unexpected output from 'clients add e2e-throttled --json': $OUT"

# --- wrangler dev -----------------------------------------------------------------------------
# An Analytics Engine dataset for the audit events (docs/events.md): written to, never read here.
export WRANGLER_EXTRA_TOML=$'[[analytics_engine_datasets]]\nbinding = "EVENTS"\ndataset = "edge_oidc_events"'
start_wrangler "$PORT" --var "ISSUER:$ISSUER" --var "CODE_TTL_SECONDS:$CODE_TTL"
wait_ready "$ISSUER/.well-known/openid-configuration"
say "provider is up"

# --- Tests ------------------------------------------------------------------------------------
set +e
E2E_ISSUER="$ISSUER" \
E2E_BASIC_ID="$BASIC_ID" E2E_BASIC_SECRET="$BASIC_SECRET" E2E_BASIC_NAME="$BASIC_NAME" \
E2E_POST_ID="$POST_ID" E2E_POST_SECRET="$POST_SECRET" E2E_POST_NAME="$POST_NAME" \
E2E_PUBLIC_ID="$PUBLIC_ID" E2E_PUBLIC_NAME="$PUBLIC_NAME" \
E2E_PAIRWISE_ID="$PAIRWISE_ID" E2E_PAIRWISE_SECRET="$PAIRWISE_SECRET" \
E2E_SESSIONS_ID="$SESSIONS_ID" E2E_SESSIONS_SECRET="$SESSIONS_SECRET" E2E_SESSION_USERS="$SESSION_USERS" \
E2E_LOGOUT_URI="$LOGOUT_URI" \
E2E_REFRESH_ID="$REFRESH_ID" E2E_REFRESH_SECRET="$REFRESH_SECRET" E2E_REFRESH_NAME="$REFRESH_NAME" \
E2E_PUBLIC_REFRESH_ID="$PUBLIC_REFRESH_ID" E2E_PUBLIC_REFRESH_NAME="$PUBLIC_REFRESH_NAME" \
E2E_REFRESH_GRACE="$REFRESH_GRACE" \
E2E_ES256_ID="$ES256_ID" E2E_ES256_SECRET="$ES256_SECRET" E2E_EDDSA_ID="$EDDSA_ID" E2E_EDDSA_SECRET="$EDDSA_SECRET" \
E2E_ACTIVE_KID="$ACTIVE_KID" E2E_RETIRED_KID="$RETIRED_KID" E2E_ES256_KID="$ES256_KID" E2E_EDDSA_KID="$EDDSA_KID" \
E2E_REDIRECT_URI="$REDIRECT_URI" \
E2E_USERNAME="$USERNAME" E2E_PASSWORD="$PASSWORD" E2E_EMAIL="$EMAIL" \
E2E_CODE_TTL="$CODE_TTL" \
E2E_THROTTLED_USERNAME="$THROTTLED_USER" E2E_THROTTLED_PASSWORD="$THROTTLED_PASSWORD" \
E2E_THROTTLED2_USERNAME="$THROTTLED2_USER" E2E_THROTTLED2_PASSWORD="$THROTTLED2_PASSWORD" \
E2E_LOGS_USERNAME="$LOGS_USER" E2E_LOGS_PASSWORD="$LOGS_PASSWORD" \
E2E_THROTTLED_CLIENT_ID="$THROTTLED_CLIENT_ID" E2E_THROTTLED_CLIENT_SECRET="$THROTTLED_CLIENT_SECRET" \
E2E_WRANGLER_LOG="$LOG" \
    cargo test -p e2e --no-fail-fast "$@"
STATUS=$?
# Every audit event the provider wrote during the suite matches schemas/event.schema.json, and
# the suite's flows produced the events operators rely on (docs/events.md).
if [[ $STATUS -eq 0 && $# -eq 0 ]]; then
    check_events
    STATUS=$?
fi
set -e

if [[ $STATUS -ne 0 ]]; then
    say "tests failed (cargo test exit $STATUS)"
else
    say "all end-to-end tests passed"
fi
exit "$STATUS"
