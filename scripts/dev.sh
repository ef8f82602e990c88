#!/usr/bin/env bash
# `make dev`: local signing key and session key (once, in .dev.vars), demo client and user
# in the local KV, then `wrangler dev` on http://localhost:8787.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PORT="${PORT:-8787}"
STATE=.wrangler/state
ADMIN=target/debug/oidc-admin
ISSUER="http://localhost:$PORT"

touch .dev.vars
chmod 600 .dev.vars
if ! grep -q '^SIGNING_KEYS=' .dev.vars; then
  echo "==> creating a local signing key in .dev.vars (git-ignored)"
  echo "SIGNING_KEYS='$("$ADMIN" keys generate)'" >> .dev.vars
fi
if ! grep -q '^SESSION_KEY=' .dev.vars; then
  echo "SESSION_KEY='$("$ADMIN" keys session-key)'" >> .dev.vars
fi
if ! grep -q '^PAIRWISE_SALT=' .dev.vars; then
  echo "PAIRWISE_SALT='$("$ADMIN" keys session-key)'" >> .dev.vars
fi
# The admin endpoint's token (oidc-admin users invite|passkeys|... read it from here).
if ! grep -q '^ADMIN_TOKEN=' .dev.vars; then
  echo "ADMIN_TOKEN='$("$ADMIN" keys session-key)'" >> .dev.vars
fi

echo "==> seeding the demo client and user into the local KV ($STATE)"
DEMO_JSON="$("$ADMIN" --persist-to "$STATE" demo --json)"
field() { node -e 'const o=JSON.parse(process.argv[1]); console.log(o[process.argv[2]] ?? "")' "$DEMO_JSON" "$1"; }
CLIENT_ID="$(field client_id)"
CLIENT_SECRET="$(field client_secret)"
REDIRECT_URI="$(field redirect_uri)"
USERNAME="$(field username)"
PASSWORD="$(field password)"
ENC_REDIRECT="$(node -e 'console.log(encodeURIComponent(process.argv[1]))' "$REDIRECT_URI")"
# PKCE (RFC 7636, S256): every client sends a challenge, and the verifier with the code.
VERIFIER="$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')"
CHALLENGE="$(node -e 'console.log(require("crypto").createHash("sha256").update(process.argv[1]).digest("base64url"))' "$VERIFIER")"

cat <<MSG

  edge-oidc is starting on $ISSUER

  Discovery:      $ISSUER/.well-known/openid-configuration
  Demo client:    client_id=$CLIENT_ID
                  client_secret=$CLIENT_SECRET   (client_secret_basic)
                  redirect_uri=$REDIRECT_URI
  Demo user:      $USERNAME / $PASSWORD

  Open this to sign in:
  $ISSUER/authorize?response_type=code&client_id=$CLIENT_ID&redirect_uri=$ENC_REDIRECT&scope=openid%20profile%20email&state=demo-state&nonce=demo-nonce&code_challenge=$CHALLENGE&code_challenge_method=S256

  Your account (passkeys, one-time codes, password), once signed in:
  $ISSUER/account
  Invite a user to create a passkey:  $ADMIN --persist-to $STATE users invite NAME

  You land on $REDIRECT_URI?code=...; exchange the code within 60 s:
  curl -s -u '$CLIENT_ID:$CLIENT_SECRET' -d grant_type=authorization_code \\
       --data-urlencode redirect_uri=$REDIRECT_URI -d code_verifier=$VERIFIER -d code=PASTE_CODE $ISSUER/token

MSG
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" \
  --var "ISSUER:$ISSUER" --show-interactive-dev-session=false
