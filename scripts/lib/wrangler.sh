# Shared by the end-to-end scripts (scripts/e2e.sh, scripts/browser.sh): a run directory,
# a free loopback port, the operator tool, a signing key set, and `wrangler dev` started on a
# copy of wrangler.toml and stopped again. Source it after setting ROOT; it defines:
#   say, die                    messages on stderr
#   free_port                   prints a free TCP port on 127.0.0.1
#   new_run NAME                sets RUN_DIR, STATE, DEV_VARS, LOG (under .e2e/)
#   build_admin                 sets ADMIN (the operator tool) and defines `admin`
#   write_dev_vars [KEYS_FILE]  SIGNING_KEYS (from KEYS_FILE, or one new RS256 key),
#                               SESSION_KEY, PAIRWISE_SALT into DEV_VARS
#   start_wrangler PORT ARGS... `wrangler dev` on PORT with extra ARGS (--var ...)
#   wait_ready URL              until URL answers 200 (E2E_START_TIMEOUT, default 120 s)
#   stop_wrangler, show_log
#   check_events [KINDS]        every audit event in LOG against schemas/event.schema.json,
#                               and KINDS (comma-separated; default: the e2e suite's) seen

say() { printf '%s: %s\n' "${SCRIPT_NAME:-e2e}" "$*" >&2; }
die() { say "error: $*"; exit 1; }

check_events() {
    EVENTS_LOG="$LOG" EVENTS_EXPECT="${1:-}" \
        cargo test -q -p edge-oidc --test schemas events::the_end_to_end_suites_events -- --ignored --exact
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

new_run() {
    RUN_DIR="$ROOT/.e2e/$1-$(date +%Y%m%d-%H%M%S)-$$"
    STATE="$RUN_DIR/state"
    DEV_VARS="$RUN_DIR/dev.vars"
    LOG="$RUN_DIR/wrangler.log"
    mkdir -p "$STATE"
}

build_admin() {
    cargo build -q --bin oidc-admin
    ADMIN="$ROOT/target/debug/oidc-admin"
    [[ -x "$ADMIN" ]] || die "$ADMIN was not built"
}
admin() { "$ADMIN" --persist-to "$STATE" --wrangler "$WRANGLER" "$@"; }

write_dev_vars() {
    local signing_keys session_key pairwise_salt admin_token
    if [[ -n "${1:-}" ]]; then
        signing_keys=$(cat "$1")
    else
        signing_keys=$(admin keys generate) || die "oidc-admin keys generate failed"
    fi
    session_key=$(admin keys session-key) || die "oidc-admin keys session-key failed"
    pairwise_salt=$(admin keys session-key) || die "oidc-admin keys session-key failed"
    admin_token=$(admin keys session-key) || die "oidc-admin keys session-key failed"
    [[ -n "$signing_keys" && -n "$session_key" ]] || die "oidc-admin printed empty keys"
    [[ "$signing_keys$session_key" != *"'"* ]] || die "generated keys contain a single quote; cannot write them dotenv-style"
    {
        printf "SIGNING_KEYS='%s'\n" "$signing_keys"
        printf "SESSION_KEY='%s'\n" "$session_key"
        printf "PAIRWISE_SALT='%s'\n" "$pairwise_salt"
        printf "ADMIN_TOKEN='%s'\n" "$admin_token"
    } > "$DEV_VARS"
    chmod 600 "$DEV_VARS"
}

WRANGLER="$ROOT/node_modules/.bin/wrangler"
WRANGLER_PID=""

# The worker is already built: wrangler runs on a copy of wrangler.toml without its [build]
# section, so that it neither rebuilds at start nor rebuilds and reloads the worker when src/
# changes in the middle of the run (its watcher would). `main` is made absolute.
# WRANGLER_EXTRA_TOML, when set, is appended (bindings only a suite uses).
start_wrangler() {
    local port=$1
    shift
    local config="$RUN_DIR/wrangler.toml"
    python3 - "$ROOT/wrangler.toml" "$config" "$ROOT/build/index.js" <<'PY'
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
    if [[ -n "${WRANGLER_EXTRA_TOML:-}" ]]; then printf '\n%s\n' "$WRANGLER_EXTRA_TOML" >>"$config"; fi
    grep -q "^main = " "$config" || die "wrangler.toml has no top-level main"
    say "starting wrangler dev on port $port (log: $LOG)"
    # --log-level log: the log keeps everything the worker prints and one line per request.
    export WRANGLER_SEND_METRICS=false
    setsid "$WRANGLER" dev --config "$config" \
        --ip 127.0.0.1 --port "$port" --persist-to "$STATE" --env-file "$DEV_VARS" \
        --show-interactive-dev-session=false --log-level log "$@" </dev/null >"$LOG" 2>&1 &
    WRANGLER_PID=$!
}

wait_ready() {
    local deadline=$((SECONDS + ${E2E_START_TIMEOUT:-120}))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true)" == 200 ]]; do
        kill -0 "$WRANGLER_PID" 2>/dev/null || die "wrangler dev exited before the provider answered"
        (( SECONDS < deadline )) || die "the provider did not answer 200 at $1 within ${E2E_START_TIMEOUT:-120} s (E2E_START_TIMEOUT)"
        sleep 1
    done
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
