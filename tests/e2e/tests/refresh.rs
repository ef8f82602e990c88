//! Refresh tokens end to end (RFC 6749 §6, OpenID Connect Core §11 and §12), with the
//! `openidconnect` crate as the relying party: rotation, reuse detection, the grace window
//! for retries, concurrent refreshes, and revocation.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use e2e::openidconnect;
use e2e::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreIdTokenClaims, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RefreshToken, Scope, TokenResponse,
};
use serde_json::Value;

/// A relying party that signed the user in with `offline_access`.
struct Session {
    http: Recorder,
    client: OidcClient,
    claims: CoreIdTokenClaims,
    tokens: CoreTokenResponse,
}

impl Session {
    fn refresh_token(&self) -> String {
        self.tokens.refresh_token().expect("a refresh token").secret().clone()
    }
    fn access_token(&self) -> String {
        self.tokens.access_token().secret().clone()
    }

    /// `exchange_refresh_token` through openidconnect; checks the new ID token against the
    /// first one (OpenID Connect Core §12.2) and returns the new token response.
    fn refresh_with(&self, refresh_token: &str) -> CoreTokenResponse {
        let rt = RefreshToken::new(refresh_token.to_string());
        let tokens = self
            .client
            .exchange_refresh_token(&rt)
            .expect("the token endpoint is configured")
            .request(&self.http)
            .unwrap_or_else(|e| panic!("refresh failed: {}", error_chain(&e)));
        let recorded = self.http.last_from(&endpoint("/token"));
        assert_no_store(&[recorded.header("cache-control").unwrap_or_default()], "refresh response");
        let id_token = tokens.id_token().expect("an ID token in the refresh response (OpenID Connect Core §12.2)");
        // No nonce in a refreshed ID token.
        let no_nonce =
            |n: Option<&Nonce>| if n.is_none() { Ok(()) } else { Err("nonce in a refreshed ID token".into()) };
        let claims = id_token
            .claims(&self.client.id_token_verifier(), no_nonce)
            .unwrap_or_else(|e| panic!("refreshed ID token rejected: {}", error_chain(&e)));
        assert_eq!(claims.subject(), self.claims.subject());
        assert_eq!(claims.audiences(), self.claims.audiences());
        assert_eq!(claims.auth_time(), self.claims.auth_time());
        assert!(claims.issue_time() >= self.claims.issue_time());
        tokens
    }
}

/// Discovery, authorization with `offline_access` (and PKCE, which every client uses), code
/// exchange: the relying party's session.
fn sign_in(kind: Kind) -> Session {
    let http = Recorder::new();
    let client = oidc_client(kind, discover(&http));
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        // OpenID Connect Core §11: offline access is asked for with prompt=consent (and so the
        // consent page shows even when an earlier test's consent is remembered).
        .add_prompt(openidconnect::core::CoreAuthPrompt::Consent);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    request = request.set_pkce_challenge(challenge);
    let (url, csrf, nonce) = request.url();
    let browser = Browser::new();
    let tx = browser.open_login(url.as_str());
    let page = browser.login(&tx, &env().username, &env().password);
    let text = text_of(&page).to_lowercase();
    assert!(text.contains("stay connected"), "the consent page must describe offline_access:\n{text}");
    let params = redirect_params(&browser.consent(&consent_form(&page).tx(), "allow"));
    let code = assert_redirect_code(&params, csrf.secret());
    let exchange =
        client.exchange_code(AuthorizationCode::new(code)).expect("token endpoint").set_pkce_verifier(verifier);
    let tokens = exchange.request(&http).unwrap_or_else(|e| panic!("token request failed: {}", error_chain(&e)));
    assert!(tokens.refresh_token().is_some(), "offline_access granted to a refresh client: a refresh token");
    let scopes: Vec<String> = tokens.scopes().expect("scope").iter().map(|s| s.to_string()).collect();
    assert!(scopes.contains(&"offline_access".to_string()), "{scopes:?}");
    let claims = tokens
        .id_token()
        .expect("ID token")
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap_or_else(|e| panic!("ID token rejected: {}", error_chain(&e)))
        .clone();
    Session { http, client, claims, tokens }
}

/// A raw refresh request (for the cases openidconnect would turn into an error).
fn raw_refresh(kind: Kind, refresh_token: &str) -> Page {
    token_request(kind.auth(), &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
}

fn json_str(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).to_string()
}

fn past_the_grace_window() {
    thread::sleep(Duration::from_secs(env().refresh_grace + 1));
}

#[test]
fn rotation_on_every_use() {
    let s = sign_in(Kind::Refresh);
    let first = s.refresh_with(&s.refresh_token());
    let rt1 = first.refresh_token().expect("a new refresh token").secret().clone();
    assert_ne!(rt1, s.refresh_token(), "the refresh token rotates");
    assert_ne!(first.access_token().secret(), &s.access_token());
    let second = s.refresh_with(&rt1);
    let rt2 = second.refresh_token().expect("a new refresh token").secret().clone();
    assert_ne!(rt2, rt1);
    // Every access token issued along the way works until it expires.
    for at in [s.access_token(), first.access_token().secret().clone(), second.access_token().secret().clone()] {
        userinfo(Some(&at)).assert_status(200);
    }
}

#[test]
fn reuse_of_a_rotated_token_revokes_everything() {
    let s = sign_in(Kind::Refresh);
    let rt0 = s.refresh_token();
    let t1 = s.refresh_with(&rt0);
    let t2 = s.refresh_with(t1.refresh_token().unwrap().secret());
    // rt0 was rotated out two refreshes ago: reuse, whatever the grace window.
    let page = raw_refresh(Kind::Refresh, &rt0);
    assert_oauth_error(&page, 400, "invalid_grant");
    for at in [s.access_token(), t1.access_token().secret().clone(), t2.access_token().secret().clone()] {
        assert_bearer_challenge(&userinfo(Some(&at)), Some("invalid_token"));
    }
    assert_oauth_error(&raw_refresh(Kind::Refresh, t2.refresh_token().unwrap().secret()), 400, "invalid_grant");
}

#[test]
fn a_retry_within_the_grace_window_gets_the_same_token() {
    let s = sign_in(Kind::Refresh);
    let rt0 = s.refresh_token();
    let t1 = s.refresh_with(&rt0);
    // The client lost that response and retries with rt0.
    let retry = s.refresh_with(&rt0);
    assert_eq!(retry.refresh_token().unwrap().secret(), t1.refresh_token().unwrap().secret());
    assert_ne!(retry.access_token().secret(), t1.access_token().secret());
    userinfo(Some(t1.access_token().secret())).assert_status(200);
    userinfo(Some(retry.access_token().secret())).assert_status(200);
    // Past the window, rt0 is reuse: everything goes.
    past_the_grace_window();
    assert_oauth_error(&raw_refresh(Kind::Refresh, &rt0), 400, "invalid_grant");
    assert_bearer_challenge(&userinfo(Some(retry.access_token().secret())), Some("invalid_token"));
    assert_oauth_error(&raw_refresh(Kind::Refresh, t1.refresh_token().unwrap().secret()), 400, "invalid_grant");
}

#[test]
fn concurrent_refreshes_with_one_token_converge() {
    const THREADS: usize = 8;
    let s = sign_in(Kind::Refresh);
    let rt0 = s.refresh_token();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (barrier, rt0) = (barrier.clone(), rt0.clone());
            thread::spawn(move || {
                barrier.wait();
                raw_refresh(Kind::Refresh, &rt0)
            })
        })
        .collect();
    let pages: Vec<Page> = handles.into_iter().map(|h| h.join().expect("a racing thread panicked")).collect();
    let responses: Vec<Value> = pages.iter().map(|p| assert_token_success(p).clone()).collect();
    let rt1 = json_str(&responses[0], "refresh_token");
    for r in &responses {
        assert_eq!(json_str(r, "refresh_token"), rt1, "all concurrent refreshes get the same new token");
    }
    let mut access: Vec<String> = responses.iter().map(|r| json_str(r, "access_token")).collect();
    access.sort();
    access.dedup();
    assert_eq!(access.len(), THREADS, "each gets its own access token");
    // The family is intact: every access token works, and the converged token refreshes.
    for at in &access {
        userinfo(Some(at)).assert_status(200);
    }
    s.refresh_with(&rt1);
}

#[test]
fn public_client_and_client_binding() {
    let s = sign_in(Kind::PublicRefresh);
    let rt0 = s.refresh_token();
    // Another client presenting it: invalid_grant, and nothing is revoked.
    assert_oauth_error(&raw_refresh(Kind::Refresh, &rt0), 400, "invalid_grant");
    userinfo(Some(&s.access_token())).assert_status(200);
    let t1 = s.refresh_with(&rt0);
    assert!(t1.refresh_token().is_some());
    // A client not allowed the grant cannot use it at all.
    let page = raw_refresh(Kind::Basic, t1.refresh_token().unwrap().secret());
    assert_oauth_error(&page, 400, "unauthorized_client");
    s.refresh_with(t1.refresh_token().unwrap().secret());
}

#[test]
fn no_refresh_token_for_clients_without_the_grant() {
    // OpenID Connect Core §11: offline_access is ignored for them.
    let req = AuthzRequest::new(Kind::Basic).set("scope", "openid offline_access");
    let code = obtain_code(&req);
    let page = token_request(Kind::Basic.auth(), &code_grant(&code, &env().redirect_uri, None));
    let json = assert_token_success(&page);
    assert!(json.get("refresh_token").is_none(), "{json}");
    assert_eq!(json["scope"], "openid");
    let metadata = Browser::new().get(&endpoint("/.well-known/openid-configuration")).json();
    assert!(metadata["grant_types_supported"].as_array().unwrap().contains(&"refresh_token".into()));
    assert!(metadata["scopes_supported"].as_array().unwrap().contains(&"offline_access".into()));
}

#[test]
fn introspection_and_revocation_of_a_refresh_token() {
    let s = sign_in(Kind::Refresh);
    let (rt, at) = (s.refresh_token(), s.access_token());
    let owner = Kind::Refresh.auth();
    let info = client_request("/introspect", owner, &[("token", &rt)]).assert_status(200).json();
    assert_eq!(info["active"], true, "{info:#}");
    assert!(info["exp"].as_i64().unwrap() > now() + 86_400, "{info:#}");
    assert!(info.get("token_type").is_none_or(|t| t == "refresh_token"), "{info:#}");
    // A refresh token is not an access token.
    assert_bearer_challenge(&userinfo(Some(&rt)), Some("invalid_token"));
    // Revoking it revokes the grant's access tokens too (RFC 7009 §2.1).
    client_request("/revoke", owner, &[("token", &rt), ("token_type_hint", "refresh_token")]).assert_status(200);
    assert_eq!(client_request("/introspect", owner, &[("token", &rt)]).json(), serde_json::json!({"active": false}));
    assert_bearer_challenge(&userinfo(Some(&at)), Some("invalid_token"));
    assert_oauth_error(&raw_refresh(Kind::Refresh, &rt), 400, "invalid_grant");
}
