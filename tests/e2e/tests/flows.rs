//! Successful authorization code flows, driven by the `openidconnect` crate as the relying
//! party, one per token endpoint authentication method.

use e2e::openidconnect;
use e2e::*;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreIdTokenClaims, CoreTokenResponse, CoreTokenType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope, TokenResponse,
};

struct Outcome {
    claims: CoreIdTokenClaims,
    token: CoreTokenResponse,
    raw_token_json: serde_json::Value,
    http: Recorder,
    client: OidcClient,
}

/// Discovery → authorization URL → login → consent → code → token → ID token verification.
fn full_flow(kind: Kind, pkce: bool, extra_scopes: &[&str]) -> Outcome {
    let e = env();
    let http = Recorder::new();
    let client = oidc_client(kind, discover(&http));

    // prompt=consent: the consent page even when an earlier test's consent is remembered.
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_prompt(openidconnect::core::CoreAuthPrompt::Consent);
    for s in extra_scopes {
        request = request.add_scope(Scope::new(s.to_string()));
    }
    let verifier = if pkce {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        Some(verifier)
    } else {
        None
    };
    let (url, csrf, nonce) = request.url();

    // The user agent: login page, login, consent page, allow.
    let browser = Browser::new();
    let tx = browser.open_login(url.as_str());
    let consent = browser.login(&tx, &e.username, &e.password);
    let form = consent_form(&consent);
    let text = text_of(&consent);
    assert!(text.contains(kind.name()), "the consent page must name the client '{}':\n{text}", kind.name());
    assert!(text.to_lowercase().contains("sign you in"), "the consent page must describe the openid scope:\n{text}");
    assert!(!consent.body.contains(&e.password), "the consent page echoes the password!");
    for scope in extra_scopes {
        let described = match *scope {
            "profile" => "basic profile",
            "email" => "email address",
            _ => continue,
        };
        assert!(text.to_lowercase().contains(described), "the consent page must describe the {scope} scope:\n{text}");
    }
    if !extra_scopes.contains(&"email") {
        assert!(!text.to_lowercase().contains("email address"), "scope email was not asked for:\n{text}");
    }
    let redirect = browser.consent(&form.tx(), "allow");
    let params = redirect_params(&redirect);
    let code = assert_redirect_code(&params, csrf.secret());

    // The token request.
    let mut exchange = client.exchange_code(AuthorizationCode::new(code)).expect("token endpoint configured");
    if let Some(v) = verifier {
        exchange = exchange.set_pkce_verifier(v);
    }
    let token = exchange.request(&http).unwrap_or_else(|err| panic!("token request failed: {}", error_chain(&err)));
    let recorded = http.last_from(&endpoint("/token"));
    assert_eq!(recorded.status, 200);
    assert_no_store(&recorded.header("cache-control").into_iter().collect::<Vec<_>>(), "token response");
    let raw_token_json: serde_json::Value = serde_json::from_slice(&recorded.body).expect("token response JSON");

    assert_eq!(*token.token_type(), CoreTokenType::Bearer);
    let expires_in = token.expires_in().expect("expires_in (RFC 6749 §5.1)");
    assert!(expires_in.as_secs() > 0);
    let granted: Vec<String> =
        token.scopes().expect("scope in the token response").iter().map(|s| s.to_string()).collect();
    let mut wanted = vec!["openid".to_string()];
    wanted.extend(extra_scopes.iter().map(|s| s.to_string()));
    for s in &wanted {
        assert!(granted.contains(s), "scope {s} requested and consented but not granted: {granted:?}");
    }
    assert!(raw_token_json["scope"].is_string(), "scope is a space-delimited string: {raw_token_json:#}");

    // The ID token: openidconnect checks the signature against the JWKS, iss, aud, exp, iat and
    // the nonce.
    let id_token = token.id_token().expect("an id_token in the token response");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|err| panic!("ID token rejected: {}", error_chain(&err)))
        .clone();
    assert_eq!(claims.issuer().as_str(), e.issuer);
    assert_eq!(claims.audiences().len(), 1);
    assert_eq!(claims.audiences()[0].as_str(), kind.id());
    assert_ne!(claims.subject().as_str(), e.username, "sub must be a stable identifier, not the username");
    assert!(!claims.subject().as_str().is_empty());
    let auth_time = claims.auth_time().expect("auth_time").timestamp();
    assert!(auth_time <= now() + 5 && auth_time >= now() - 300, "auth_time {auth_time} is not 'just now'");
    assert_eq!(claims.authorized_party().map(|p| p.as_str()), Some(kind.id()), "azp must be the client");
    assert_eq!(claims.nonce().map(|n| n.secret().as_str()), Some(nonce.secret().as_str()));

    // at_hash (OIDC Core §3.1.3.6), recomputed with the key and algorithm that signed the token.
    let alg = id_token.signing_alg().expect("a signing alg");
    let key = id_token.signing_key(&verifier).expect("the signing key is in the JWKS");
    let expected = AccessTokenHash::from_token(token.access_token(), alg, key).expect("at_hash computable");
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash does not match the access token");
    drop(verifier);

    Outcome { claims, token, raw_token_json, http, client }
}

/// Asserts the seeded user's profile and email claims in the ID token.
fn assert_profile_and_email(claims: &CoreIdTokenClaims) {
    let e = env();
    assert_eq!(claims.email().map(|m| m.as_str()), Some(e.email.as_str()), "email claim");
    assert_eq!(claims.email_verified(), Some(true), "email_verified claim");
    assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice Example"), "name claim");
    assert_eq!(claims.given_name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice"));
    assert_eq!(claims.family_name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Example"));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some(e.username.as_str()), "preferred_username claim");
    assert_eq!(claims.picture().and_then(|p| p.get(None)).map(|p| p.as_str()), Some("https://example.com/alice.png"));
}

/// Userinfo through openidconnect (which checks the JSON and that `sub` matches the ID token),
/// plus the same request by POST.
fn assert_userinfo(outcome: &Outcome, expect_profile: bool) {
    let sub = outcome.claims.subject().clone();
    let info: CoreUserInfoClaims = outcome
        .client
        .user_info(outcome.token.access_token().clone(), Some(sub.clone()))
        .expect("userinfo endpoint advertised")
        .request(&outcome.http)
        .unwrap_or_else(|err| panic!("userinfo failed: {}", error_chain(&err)));
    assert_eq!(info.subject(), &sub);
    let e = env();
    if expect_profile {
        assert_eq!(info.email().map(|m| m.as_str()), Some(e.email.as_str()));
        assert_eq!(info.email_verified(), Some(true));
        assert_eq!(info.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice Example"));
        assert_eq!(info.preferred_username().map(|u| u.as_str()), Some(e.username.as_str()));
    }

    let page = userinfo_post(outcome.token.access_token().secret());
    page.assert_status(200);
    assert!(page.content_type().starts_with("application/json"), "{}", page.describe());
    let json = page.json();
    assert_eq!(json["sub"].as_str(), Some(sub.as_str()), "POST /userinfo: {json:#}");
    if expect_profile {
        assert_eq!(json["email"].as_str(), Some(e.email.as_str()), "POST /userinfo: {json:#}");
    }
}

#[test]
fn client_secret_basic_with_pkce() {
    let outcome = full_flow(Kind::Basic, true, &["profile", "email"]);
    assert_profile_and_email(&outcome.claims);
    assert_userinfo(&outcome, true);
}

#[test]
fn client_secret_post() {
    let outcome = full_flow(Kind::Post, false, &["profile", "email"]);
    assert_profile_and_email(&outcome.claims);
    assert_userinfo(&outcome, true);
}

#[test]
fn public_client_with_pkce_s256() {
    let outcome = full_flow(Kind::Public, true, &["profile", "email"]);
    assert_profile_and_email(&outcome.claims);
    assert_userinfo(&outcome, true);
}

#[test]
fn the_same_user_has_the_same_sub_across_logins() {
    let a = full_flow(Kind::Basic, true, &[]);
    let b = full_flow(Kind::Basic, true, &["email"]);
    assert_eq!(a.claims.subject(), b.claims.subject(), "sub must be stable for a user and client");
}

#[test]
fn openid_scope_alone_releases_no_profile_or_email_claims() {
    let outcome = full_flow(Kind::Post, false, &[]);
    let granted: Vec<String> = outcome.token.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(granted, vec!["openid".to_string()], "only openid was asked for");
    assert_eq!(outcome.raw_token_json["scope"].as_str(), Some("openid"));

    let payload = jwt_payload(outcome.token.id_token().unwrap().to_string().as_str());
    for claim in PROFILE_CLAIMS.iter().chain(EMAIL_CLAIMS) {
        assert!(payload.get(*claim).is_none(), "ID token releases '{claim}' without its scope: {payload:#}");
    }
    assert!(payload["sub"].is_string() && payload["auth_time"].is_number(), "{payload:#}");

    assert_userinfo(&outcome, false);
    let page = userinfo(Some(outcome.token.access_token().secret()));
    page.assert_status(200);
    let json = page.json();
    assert_eq!(json["sub"].as_str(), Some(outcome.claims.subject().as_str()));
    for claim in PROFILE_CLAIMS.iter().chain(EMAIL_CLAIMS) {
        assert!(json.get(*claim).is_none(), "userinfo releases '{claim}' without its scope: {json:#}");
    }
}
