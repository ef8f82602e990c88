//! Abuse-resistance tests: extra seeded accounts, the wrangler log, a complete flow that returns what it saw.

use crate::*;
use std::sync::OnceLock;

use openidconnect::{CsrfToken, PkceCodeChallenge};

// ---------------------------------------------------------------------------------------------

/// Accounts and a client that `scripts/e2e.sh` seeds for the throttling and log tests only
/// (so that locking them, or failing to sign in with them, never disturbs the other tests).
#[derive(Debug)]
pub struct AbuseEnv {
    /// Locked by `throttle.rs` (5 failures).
    pub throttled_username: String,
    pub throttled_password: String,
    /// Used by `throttle.rs` for delays, the counter reset and "another account still works".
    pub throttled2_username: String,
    pub throttled2_password: String,
    /// Signs in in `logs.rs` (its password is searched for in the log).
    pub logs_username: String,
    pub logs_password: String,
    /// A confidential client (`client_secret_basic`) locked by `throttle.rs`.
    pub throttled_client_id: String,
    pub throttled_client_secret: String,
    /// The file wrangler dev writes its output (and the worker's console) to.
    pub wrangler_log: std::path::PathBuf,
}

/// The extra environment of the abuse-resistance tests, read once.
pub fn abuse_env() -> &'static AbuseEnv {
    static ENV: OnceLock<AbuseEnv> = OnceLock::new();
    ENV.get_or_init(|| AbuseEnv {
        throttled_username: var("E2E_THROTTLED_USERNAME"),
        throttled_password: var("E2E_THROTTLED_PASSWORD"),
        throttled2_username: var("E2E_THROTTLED2_USERNAME"),
        throttled2_password: var("E2E_THROTTLED2_PASSWORD"),
        logs_username: var("E2E_LOGS_USERNAME"),
        logs_password: var("E2E_LOGS_PASSWORD"),
        throttled_client_id: var("E2E_THROTTLED_CLIENT_ID"),
        throttled_client_secret: var("E2E_THROTTLED_CLIENT_SECRET"),
        wrangler_log: var("E2E_WRANGLER_LOG").into(),
    })
}

/// The message of the login page when sign-in is throttled.
pub const THROTTLED_MESSAGE: &str = "Too many failed sign-in attempts";
/// The message of the login page for a wrong password or an unknown user.
pub const BAD_CREDENTIALS_MESSAGE: &str = "Incorrect username or password.";

/// The `Retry-After` header as a number of seconds (RFC 9110 §10.2.3, delay-seconds form),
/// asserting it is present and a whole number.
pub fn retry_after(page: &Page) -> u64 {
    let v = page.header("retry-after").unwrap_or_else(|| panic!("no Retry-After header:\n{}", page.describe()));
    v.trim().parse().unwrap_or_else(|_| panic!("Retry-After '{v}' is not a number of seconds:\n{}", page.describe()))
}

/// Everything a complete flow handled: the test can look for each of these where they must not
/// appear (logs).
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub login_tx: String,
    pub consent_tx: String,
    pub code: String,
    pub access_token: String,
    pub id_token: String,
    pub sub: String,
}

/// A complete authorization code flow as `username`/`password`, with the `openidconnect` crate
/// as the relying party: discovery, authorization URL (PKCE S256 if `pkce`), login, consent
/// (allow), code, token request (the client's registered authentication method), ID token
/// verification (signature against the JWKS, issuer, audience, nonce, at_hash), userinfo (sub
/// must match). Panics with the details on any failure.
pub fn complete_flow_as(kind: Kind, pkce: bool, username: &str, password: &str) -> FlowRecord {
    use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreUserInfoClaims};
    use openidconnect::{AccessTokenHash, AuthorizationCode, Nonce, OAuth2TokenResponse, Scope, TokenResponse};

    let http = Recorder::new();
    let client = oidc_client(kind, discover(&http));
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".to_string()))
        .add_scope(Scope::new("email".to_string()))
        // The consent page every time, even when the user's consent is remembered.
        .add_prompt(CoreAuthPrompt::Consent);
    let verifier = if pkce {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        Some(verifier)
    } else {
        None
    };
    let (url, csrf, nonce) = request.url();

    let browser = Browser::new();
    let login_tx = browser.open_login(url.as_str());
    let page = browser.login(&login_tx, username, password);
    let consent_tx = consent_form(&page).tx();
    let params = redirect_params(&browser.consent(&consent_tx, "allow"));
    let code = assert_redirect_code(&params, csrf.secret());

    let mut exchange =
        client.exchange_code(AuthorizationCode::new(code.clone())).expect("the token endpoint is configured");
    if let Some(v) = verifier {
        exchange = exchange.set_pkce_verifier(v);
    }
    let token = exchange.request(&http).unwrap_or_else(|err| panic!("token request failed: {}", error_chain(&err)));
    let id_token = token.id_token().expect("an id_token in the token response");
    let id_verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .unwrap_or_else(|err| panic!("ID token rejected: {}", error_chain(&err)))
        .clone();
    assert_eq!(claims.issuer().as_str(), env().issuer);
    assert_eq!(claims.audiences().iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec![kind.id()]);
    let alg = id_token.signing_alg().expect("a signing alg");
    let key = id_token.signing_key(&id_verifier).expect("the signing key is in the JWKS");
    let expected = AccessTokenHash::from_token(token.access_token(), alg, key).expect("at_hash computable");
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash does not match the access token");

    let sub = claims.subject().clone();
    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), Some(sub.clone()))
        .expect("userinfo endpoint advertised")
        .request(&http)
        .unwrap_or_else(|err| panic!("userinfo failed: {}", error_chain(&err)));
    assert_eq!(info.subject(), &sub);

    FlowRecord {
        login_tx,
        consent_tx,
        code,
        access_token: token.access_token().secret().clone(),
        id_token: id_token.to_string(),
        sub: sub.to_string(),
    }
}

/// [`complete_flow_as`] as the seeded user.
pub fn complete_flow(kind: Kind, pkce: bool) -> FlowRecord {
    complete_flow_as(kind, pkce, &env().username, &env().password)
}
