//! The environment `scripts/e2e.sh` passes, and small shared helpers.

use crate::*;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use openidconnect::CsrfToken;

/// What `scripts/e2e.sh` seeded and where the provider runs.
#[derive(Debug)]
pub struct Env {
    pub issuer: String,
    pub basic_id: String,
    pub basic_secret: String,
    pub post_id: String,
    pub post_secret: String,
    pub public_id: String,
    /// Display names the clients were registered with (the consent page shows them).
    pub basic_name: String,
    pub post_name: String,
    pub public_name: String,
    /// Clients allowed the refresh_token grant and the offline_access scope.
    pub refresh_id: String,
    pub refresh_secret: String,
    pub refresh_name: String,
    pub public_refresh_id: String,
    pub public_refresh_name: String,
    /// The provider's REFRESH_GRACE_SECONDS.
    pub refresh_grace: u64,
    pub redirect_uri: String,
    pub username: String,
    pub password: String,
    pub email: String,
    pub code_ttl: u64,
}

pub(crate) fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "environment variable {name} is not set. The end-to-end tests need a running, seeded \
             provider: run them with `bash scripts/e2e.sh` (or `make e2e`), not bare `cargo test`."
        ),
    }
}

/// The test environment, read once.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| Env {
        issuer: var("E2E_ISSUER"),
        basic_id: var("E2E_BASIC_ID"),
        basic_secret: var("E2E_BASIC_SECRET"),
        post_id: var("E2E_POST_ID"),
        post_secret: var("E2E_POST_SECRET"),
        public_id: var("E2E_PUBLIC_ID"),
        basic_name: var("E2E_BASIC_NAME"),
        post_name: var("E2E_POST_NAME"),
        public_name: var("E2E_PUBLIC_NAME"),
        refresh_id: var("E2E_REFRESH_ID"),
        refresh_secret: var("E2E_REFRESH_SECRET"),
        refresh_name: var("E2E_REFRESH_NAME"),
        public_refresh_id: var("E2E_PUBLIC_REFRESH_ID"),
        public_refresh_name: var("E2E_PUBLIC_REFRESH_NAME"),
        refresh_grace: var("E2E_REFRESH_GRACE").parse().expect("E2E_REFRESH_GRACE must be a whole number of seconds"),
        redirect_uri: var("E2E_REDIRECT_URI"),
        username: var("E2E_USERNAME"),
        password: var("E2E_PASSWORD"),
        email: var("E2E_EMAIL"),
        code_ttl: var("E2E_CODE_TTL").parse().expect("E2E_CODE_TTL must be a whole number of seconds"),
    })
}

/// `{issuer}{path}`, e.g. `endpoint("/token")`.
pub fn endpoint(path: &str) -> String {
    format!("{}{}", env().issuer, path)
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A random URL-safe string (state, nonce...).
pub fn random() -> String {
    CsrfToken::new_random().secret().clone()
}
