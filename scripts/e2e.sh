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
# The hostile-request storm (tests/e2e/tests/hostile.rs) reads E2E_HOSTILE_REQUESTS (default
# 3000), E2E_HOSTILE_SEED, E2E_HOSTILE_THREADS (8) and E2E_HOSTILE_SECONDS (240) from the
# environment.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

say() { printf 'e2e: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- Preconditions ----------------------------------------------------------------------------
[[ -f build/index.js ]] || die "build/index.js is missing: the worker is not built. Run 'make build' first."
find build -name '*.wasm' -print -quit | grep -q . \
    || die "no .wasm under build/: the worker is not built. Run 'make build' first."
WRANGLER="$ROOT/node_modules/.bin/wrangler"
[[ -x "$WRANGLER" ]] || die "$WRANGLER is missing. Run 'npm ci' first."
command -v python3 >/dev/null || die "python3 is needed (free port, JSON parsing)."
command -v curl >/dev/null || die "curl is needed (readiness probe)."

# --- Run directory, port ----------------------------------------------------------------------
RUN_DIR="$ROOT/.e2e/$(date +%Y%m%d-%H%M%S)-$$"
STATE="$RUN_DIR/state"
DEV_VARS="$RUN_DIR/dev.vars"
LOG="$RUN_DIR/wrangler.log"
mkdir -p "$STATE"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
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
WRANGLER_PID=""
STATUS=1
show_log() {
    if [[ -s "$LOG" ]]; then
        say "last lines of the wrangler log ($LOG):"
        # Without network, wrangler warns on every request that it cannot fetch Request.cf:
        # drop that noise (and its stack) so the tail shows the worker's own messages.
        # Also drop the one-line-per-request entries ("[wrangler:info] GET /path 200 OK").
        awk '/Unable to fetch the `Request.cf` object/ {next}
             /^\[wrangler:info\] [A-Z]+ \// {next}
             /ENOTFOUND workers.cloudflare.com/ {skip=1; next}
             skip && /^[[:space:]]+at / {next}
             {skip=0; print}' "$LOG" | tail -n 60 >&2 || true
    fi
}
stop_wrangler() {
    [[ -n "$WRANGLER_PID" ]] || return 0
    if kill -0 "$WRANGLER_PID" 2>/dev/null; then
        # wrangler runs in its own process group (setsid): stop the whole group (workerd too).
        kill -TERM -- "-$WRANGLER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$WRANGLER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$WRANGLER_PID" 2>/dev/null || true
    fi
    wait "$WRANGLER_PID" 2>/dev/null || true
    WRANGLER_PID=""
}
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
cargo build -q --bin oidc-admin
ADMIN="$ROOT/target/debug/oidc-admin"
[[ -x "$ADMIN" ]] || die "$ADMIN was not built"
admin() { "$ADMIN" --persist-to "$STATE" --wrangler "$WRANGLER" "$@"; }

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
SIGNING_KEYS=$(cat "$KEYS_FILE")
SESSION_KEY=$(admin keys session-key) || die "oidc-admin keys session-key failed"
PAIRWISE_SALT=$(admin keys session-key) || die "oidc-admin keys session-key failed"
[[ -n "$SIGNING_KEYS" && -n "$SESSION_KEY" ]] || die "oidc-admin printed empty keys"
[[ "$SIGNING_KEYS$SESSION_KEY" != *"'"* ]] || die "generated keys contain a single quote; cannot write them dotenv-style"
{
    printf "SIGNING_KEYS='%s'\n" "$SIGNING_KEYS"
    printf "SESSION_KEY='%s'\n" "$SESSION_KEY"
    printf "PAIRWISE_SALT='%s'\n" "$PAIRWISE_SALT"
} > "$DEV_VARS"
chmod 600 "$DEV_VARS"

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
OUT=$(add_client e2e-post client_secret_post "$POST_NAME") || die "adding client e2e-post failed"
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
    --grant-type refresh_token) || die "adding client e2e-refresh failed"
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
# The worker is already built: run wrangler on a copy of wrangler.toml without its [build]
# section, so that it neither rebuilds at start nor rebuilds and reloads the worker when
# src/ changes in the middle of the run (its watcher would). `main` is made absolute.
CONFIG="$RUN_DIR/wrangler.toml"
python3 - "$ROOT/wrangler.toml" "$CONFIG" "$ROOT/build/index.js" <<'PY'
import re, sys
src, dst, main = sys.argv[1:]
out, skipping = [], False
for line in open(src, encoding="utf-8"):
    header = re.match(r"\s*\[", line)
    if header:
        skipping = re.match(r"\s*\[\s*build\s*\]", line) is not None
    if skipping:
        continue
    if not header and re.match(r"\s*main\s*=", line):
        line = 'main = "%s"\n' % main
    out.append(line)
open(dst, "w", encoding="utf-8").write("".join(out))
PY
grep -q "^main = " "$CONFIG" || die "wrangler.toml has no top-level main"

say "starting wrangler dev on port $PORT (log: $LOG)"
# --log-level log: the log keeps everything the worker prints (console.log as well as
# console.error) and one line per request; tests/e2e/tests/logs.rs searches it for secrets.
export WRANGLER_SEND_METRICS=false
setsid "$WRANGLER" dev --config "$CONFIG" \
    --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" --env-file "$DEV_VARS" \
    --var "ISSUER:$ISSUER" --var "CODE_TTL_SECONDS:$CODE_TTL" --var "REFRESH_GRACE_SECONDS:$REFRESH_GRACE" \
    --show-interactive-dev-session=false --log-level log </dev/null >"$LOG" 2>&1 &
WRANGLER_PID=$!

START_TIMEOUT=${E2E_START_TIMEOUT:-120}
DEADLINE=$((SECONDS + START_TIMEOUT))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$ISSUER/.well-known/openid-configuration" || true)" == 200 ]]; do
    kill -0 "$WRANGLER_PID" 2>/dev/null || die "wrangler dev exited before the provider answered"
    (( SECONDS < DEADLINE )) || die "the provider did not answer 200 at $ISSUER/.well-known/openid-configuration within $START_TIMEOUT s (E2E_START_TIMEOUT)"
    sleep 1
done
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
set -e

if [[ $STATUS -ne 0 ]]; then
    say "tests failed (cargo test exit $STATUS)"
else
    say "all end-to-end tests passed"
fi
exit "$STATUS"
