//! Login sessions, prompts, remembered consent and its withdrawal, custom scopes, the claims
//! parameter and RP-Initiated Logout, end to end with the `openidconnect` crate as the relying
//! party (client `e2e-sessions`). Each test signs in as its own seeded account
//! (E2E_SESSION_USERS), so remembered consents and ended sessions never cross tests.

use e2e::openidconnect;
use e2e::*;
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LoginHint, Nonce, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use std::collections::HashMap;
use std::time::Duration;

fn var(n: &str) -> String {
    std::env::var(n).unwrap_or_else(|_| panic!("{n} is not set: run scripts/e2e.sh"))
}

/// The seeded account number `i` (0-based) of E2E_SESSION_USERS.
fn user(i: usize) -> String {
    var("E2E_SESSION_USERS").split(' ').nth(i).expect("enough session users").to_string()
}

struct Rp {
    http: Recorder,
    client: OidcClient,
    metadata: CoreProviderMetadata,
}

impl Rp {
    fn new() -> Rp {
        let http = Recorder::new();
        let metadata = discover(&http);
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(var("E2E_SESSIONS_ID")),
            Some(ClientSecret::new(var("E2E_SESSIONS_SECRET"))),
        )
        .set_redirect_uri(RedirectUrl::new(env().redirect_uri.clone()).unwrap())
        .set_auth_type(AuthType::BasicAuth);
        Rp { http, client, metadata }
    }

    /// An authorization URL for `scopes` (besides openid), customised by `f`.
    fn url(
        &self,
        scopes: &[&str],
        f: impl FnOnce(
            openidconnect::AuthorizationRequest<
                '_,
                openidconnect::core::CoreAuthDisplay,
                CoreAuthPrompt,
                openidconnect::core::CoreResponseType,
            >,
        ) -> openidconnect::AuthorizationRequest<
            '_,
            openidconnect::core::CoreAuthDisplay,
            CoreAuthPrompt,
            openidconnect::core::CoreResponseType,
        >,
    ) -> (String, CsrfToken, Nonce) {
        let mut req = self
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(pkce_challenge());
        for s in scopes {
            req = req.add_scope(Scope::new(s.to_string()));
        }
        let (url, state, nonce) = f(req).url();
        (url.to_string(), state, nonce)
    }

    /// Code → tokens through openidconnect; the ID token verified (signature, iss, aud, nonce).
    fn redeem(&self, code: &str, nonce: &Nonce) -> (CoreIdToken, String) {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .unwrap()
            .set_pkce_verifier(pkce_verifier())
            .request(&self.http)
            .unwrap_or_else(|e| panic!("token request failed: {}", error_chain(&e)));
        let id_token = token.id_token().expect("an ID token").clone();
        id_token
            .claims(&self.client.id_token_verifier(), nonce)
            .unwrap_or_else(|e| panic!("ID token rejected: {}", error_chain(&e)));
        (id_token, openidconnect::OAuth2TokenResponse::access_token(&token).secret().clone())
    }

    /// The code is refused with `invalid_grant` (RFC 6749 §5.2).
    fn assert_refused(&self, code: &str) {
        let err = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .unwrap()
            .set_pkce_verifier(pkce_verifier())
            .request(&self.http)
            .expect_err("the code was accepted");
        match err {
            openidconnect::RequestTokenError::ServerResponse(r) => {
                assert_eq!(r.error().as_ref(), "invalid_grant", "{r:?}")
            }
            other => panic!("expected invalid_grant, got {}", error_chain(&other)),
        }
    }
}

/// Login page → login as `username` → (consent page → allow, if asked). Returns the code redirect.
fn sign_in(browser: &Browser, url: &str, username: &str) -> HashMap<String, String> {
    let tx = browser.open_login(url);
    let page = browser.login(&tx, username, &env().password);
    if page.status == 303 {
        return redirect_params(&page);
    }
    let tx = consent_form(&page).tx();
    redirect_params(&browser.consent(&tx, "allow"))
}

fn auth_time(id_token: &CoreIdToken) -> i64 {
    jwt_payload(&id_token.to_string())["auth_time"].as_i64().expect("auth_time")
}

#[test]
fn returning_user_gets_a_code_with_no_page() {
    let rp = Rp::new();
    let browser = Browser::new();
    let (url, state, nonce) = rp.url(&["email"], |r| r);
    let tx = browser.open_login(&url);
    let page = browser.login(&tx, &user(0), &env().password);
    let cookie = page
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("oidc_session="))
        .unwrap_or_else(|| panic!("a session cookie at login:\n{}", page.describe()));
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "session cookie lacks {attr}: {cookie}");
    }
    let params = if page.status == 303 {
        redirect_params(&page)
    } else {
        redirect_params(&browser.consent(&consent_form(&page).tx(), "allow"))
    };
    let (first, _) = rp.redeem(&assert_redirect_code(&params, state.secret()), &nonce);

    // The same browser again: straight back with a code, the original auth_time.
    std::thread::sleep(Duration::from_millis(1100));
    let (url, state, nonce) = rp.url(&["email"], |r| r);
    let page = browser.get(&url);
    let code = assert_redirect_code(&redirect_params(&page), state.secret());
    let (second, access_token) = rp.redeem(&code, &nonce);
    assert_eq!(auth_time(&second), auth_time(&first), "a session's auth_time is when the user signed in");
    assert!(userinfo(Some(&access_token)).assert_status(200).json()["email"].is_string());
    // This code carried its grant (sealed, created in the grant object at redemption): it still
    // works once (RFC 6749 §4.1.2), and presented again it revokes the tokens it gave.
    let (id, secret) = (var("E2E_SESSIONS_ID"), var("E2E_SESSIONS_SECRET"));
    let again = token_request(ClientAuth::Basic(&id, &secret), &code_grant(&code, &env().redirect_uri, None));
    assert_oauth_error(&again, 400, "invalid_grant");
    userinfo(Some(&access_token)).assert_status(401);
    // prompt=none too.
    let (url, state, _) = rp.url(&["email"], |r| r.add_prompt(CoreAuthPrompt::None));
    assert_redirect_code(&redirect_params(&browser.get(&url)), state.secret());
    // Another browser has no session: prompt=none → login_required, redirected, never a page.
    let (url, state, _) = rp.url(&["email"], |r| r.add_prompt(CoreAuthPrompt::None));
    assert_redirect_error(&Browser::new().get(&url), state.secret(), "login_required");
}

#[test]
fn prompt_login_and_max_age_force_a_fresh_login() {
    let rp = Rp::new();
    let browser = Browser::new();
    let (url, state, nonce) = rp.url(&[], |r| r);
    let (first, _) = rp.redeem(&assert_redirect_code(&sign_in(&browser, &url, &user(1)), state.secret()), &nonce);
    std::thread::sleep(Duration::from_millis(2100));
    // max_age larger than the session's age: a code.
    let (url, state, nonce) = rp.url(&[], |r| r.set_max_age(Duration::from_secs(3600)));
    let (t, _) = rp.redeem(&assert_redirect_code(&redirect_params(&browser.get(&url)), state.secret()), &nonce);
    assert_eq!(auth_time(&t), auth_time(&first));
    // Older than max_age: sign in again (prompt=none: login_required).
    let (url, state, _) = rp.url(&[], |r| r.set_max_age(Duration::from_secs(1)).add_prompt(CoreAuthPrompt::None));
    assert_redirect_error(&browser.get(&url), state.secret(), "login_required");
    let (url, state, nonce) = rp.url(&[], |r| r.set_max_age(Duration::from_secs(1)));
    let (t, _) = rp.redeem(&assert_redirect_code(&sign_in(&browser, &url, &user(1)), state.secret()), &nonce);
    assert!(auth_time(&t) > auth_time(&first), "a fresh login has a later auth_time");
    std::thread::sleep(Duration::from_millis(1100));
    // prompt=login: the login page although the session is live; a later auth_time again.
    let (url, state, nonce) = rp.url(&[], |r| r.add_prompt(CoreAuthPrompt::Login));
    let (t2, _) = rp.redeem(&assert_redirect_code(&sign_in(&browser, &url, &user(1)), state.secret()), &nonce);
    assert!(auth_time(&t2) > auth_time(&t));
}

#[test]
fn consent_is_remembered_per_scope_set() {
    let rp = Rp::new();
    let browser = Browser::new();
    let (url, state, _) = rp.url(&[], |r| r);
    let tx = browser.open_login(&url);
    let page = browser.login(&tx, &user(2), &env().password);
    // First time for this account: the consent page.
    let tx = consent_form(&page).tx();
    assert_redirect_code(&redirect_params(&browser.consent(&tx, "allow")), state.secret());
    // More scopes than were allowed: prompt=none → consent_required; otherwise the consent page.
    let (url, state, _) = rp.url(&["email", "phone"], |r| r.add_prompt(CoreAuthPrompt::None));
    assert_redirect_error(&browser.get(&url), state.secret(), "consent_required");
    let (url, state, nonce) = rp.url(&["email", "phone"], |r| r);
    let page = browser.get(&url);
    let text = text_of(&page);
    assert!(text.contains("E2E Sessions Client") && text.contains("phone number"), "{text}");
    let params = redirect_params(&browser.consent(&consent_form(&page).tx(), "allow"));
    let (id_token, _) = rp.redeem(&assert_redirect_code(&params, state.secret()), &nonce);
    assert_eq!(jwt_payload(&id_token.to_string())["phone_number"], "+1 425 555 0199");
    // Remembered now, for that set and any smaller one.
    for scopes in [&["email", "phone"][..], &["phone"][..]] {
        let (url, state, _) = rp.url(scopes, |r| r.add_prompt(CoreAuthPrompt::None));
        assert_redirect_code(&redirect_params(&browser.get(&url)), state.secret());
    }
    // prompt=consent asks anyway.
    let (url, _, _) = rp.url(&["email"], |r| r.add_prompt(CoreAuthPrompt::Consent));
    consent_form(&browser.get(&url));
}

#[test]
fn id_token_hint_and_login_hint() {
    let rp = Rp::new();
    let (b1, b2) = (Browser::new(), Browser::new());
    let (url, state, nonce) = rp.url(&[], |r| r);
    let (d_token, _) = rp.redeem(&assert_redirect_code(&sign_in(&b1, &url, &user(3)), state.secret()), &nonce);
    let (url, state, nonce) = rp.url(&[], |r| r);
    let (e_token, _) = rp.redeem(&assert_redirect_code(&sign_in(&b2, &url, &user(4)), state.secret()), &nonce);
    // b2 is signed in as another user than the hint's: login_required.
    let (url, state, _) =
        rp.url(&[], |r| r.add_extra_param("id_token_hint", d_token.to_string()).add_prompt(CoreAuthPrompt::None));
    assert_redirect_error(&b2.get(&url), state.secret(), "login_required");
    // Its own ID token (expired or not, a hint is accepted): a code.
    let (url, state, _) =
        rp.url(&[], |r| r.add_extra_param("id_token_hint", e_token.to_string()).add_prompt(CoreAuthPrompt::None));
    assert_redirect_code(&redirect_params(&b2.get(&url)), state.secret());
    // login_hint pre-fills the login form; display, ui_locales, claims_locales, acr_values and
    // unknown parameters are accepted.
    let (url, _, _) = rp.url(&[], |r| {
        r.set_login_hint(LoginHint::new("someone@example.com".into()))
            .add_extra_param("display", "page")
            .add_extra_param("ui_locales", "fr-CA fr")
            .add_extra_param("claims_locales", "fr")
            .add_extra_param("acr_values", "urn:mace:incommon:iap:silver")
            .add_extra_param("x-unknown", "1")
    });
    let page = Browser::new().get(&url);
    let username = login_form(&page).input("username").cloned().expect("username input");
    assert_eq!(username.2, "someone@example.com", "login_hint pre-fills the username");
}

#[test]
fn withdrawing_consent_revokes_tokens_at_once() {
    let rp = Rp::new();
    let browser = Browser::new();
    let (url, state, nonce) = rp.url(&["email"], |r| r);
    let (_, access_token) =
        rp.redeem(&assert_redirect_code(&sign_in(&browser, &url, &user(5)), state.secret()), &nonce);
    userinfo(Some(&access_token)).assert_status(200);
    // Back without a page (the grants go to the user's home object at this client): one code
    // redeemed, one not yet.
    let returning = || {
        let (url, state, nonce) = rp.url(&["email"], |r| r);
        (assert_redirect_code(&redirect_params(&browser.get(&url)), state.secret()), nonce)
    };
    let (code, nonce) = returning();
    let (_, returning_access) = rp.redeem(&code, &nonce);
    userinfo(Some(&returning_access)).assert_status(200);
    let (unredeemed, _) = returning();
    let page = browser.get(&endpoint("/consents"));
    page.assert_status(200).assert_html();
    assert!(text_of(&page).contains("E2E Sessions Client"), "{}", page.describe());
    let form = form_to(&page, "/consents");
    let csrf = form.input("csrf").expect("csrf").2.clone();
    let client_id = form.input("client_id").expect("client_id").2.clone();
    assert_eq!(client_id, var("E2E_SESSIONS_ID"));
    // A post without the page's anti-CSRF value (another site's form) is refused, even from
    // the signed-in browser.
    let forged = browser.post_form(&endpoint("/consents"), &[("client_id", &client_id), ("csrf", "forged")]);
    assert_eq!(forged.status, 403, "{}", forged.describe());
    assert!(!text_of(&forged).contains("was revoked"));
    userinfo(Some(&access_token)).assert_status(200);
    let page = browser.post_form(&endpoint("/consents"), &[("client_id", &client_id), ("csrf", &csrf)]);
    assert!(text_of(&page).contains("Access for E2E Sessions Client was revoked"), "{}", page.describe());
    assert_bearer_challenge(&userinfo(Some(&access_token)), Some("invalid_token"));
    assert_bearer_challenge(&userinfo(Some(&returning_access)), Some("invalid_token"));
    // Codes issued before the withdrawal cannot bring their grant back.
    rp.assert_refused(&unredeemed);
    rp.assert_refused(&code);
    let (url, state, _) = rp.url(&["email"], |r| r.add_prompt(CoreAuthPrompt::None));
    assert_redirect_error(&browser.get(&url), state.secret(), "consent_required");
}

#[test]
fn custom_scope_and_claims_parameter() {
    let rp = Rp::new();
    let browser = Browser::new();
    let claims = r#"{"id_token":{"phone_number":{"essential":true},"email":null},"userinfo":{"email":null}}"#;
    let (url, state, nonce) =
        rp.url(&["groups"], |r| r.add_extra_param("claims", claims).add_prompt(CoreAuthPrompt::Consent));
    let tx = browser.open_login(&url);
    let page = browser.login(&tx, &user(4), &env().password);
    let text = text_of(&page);
    assert!(text.contains("See the teams you belong to"), "{text}");
    assert!(text.contains("phone number") && text.contains("email"), "{text}");
    let params = redirect_params(&browser.consent(&consent_form(&page).tx(), "allow"));
    let (id_token, access_token) = rp.redeem(&assert_redirect_code(&params, state.secret()), &nonce);
    let c = jwt_payload(&id_token.to_string());
    assert_eq!(c["groups"], serde_json::json!(["staff", "ops"]), "{c:#}");
    assert_eq!(c["https://example.com/roles"], serde_json::json!(["admin"]), "{c:#}");
    assert_eq!(c["phone_number"], "+1 425 555 0199", "{c:#}");
    assert_eq!(c["email"], format!("{}@example.com", user(4)), "{c:#}");
    let info = userinfo(Some(&access_token)).assert_status(200).json();
    assert_eq!(info["groups"], serde_json::json!(["staff", "ops"]), "{info:#}");
    assert_eq!(info["email"], format!("{}@example.com", user(4)), "{info:#}");
    assert!(info.get("phone_number").is_none(), "phone_number was asked for the ID token only: {info:#}");
    // A client whose record does not list the custom scope is refused it.
    // A client whose record does not list the scope: it is ignored (not looked up at all).
    let req = AuthzRequest::new(Kind::Basic).set("scope", "openid groups");
    let code = obtain_code(&req);
    let tokens =
        assert_token_success(&token_request(Kind::Basic.auth(), &code_grant(&code, &env().redirect_uri, None)));
    assert_eq!(tokens["scope"], "openid", "{tokens}");
}

#[test]
fn rp_initiated_logout() {
    let rp = Rp::new();
    let http = Recorder::new();
    let issuer = IssuerUrl::new(env().issuer.clone()).unwrap();
    let logout_meta = ProviderMetadataWithLogout::discover(&issuer, &http).expect("discovery with logout metadata");
    let end_session = logout_meta.additional_metadata().end_session_endpoint.clone().expect("end_session_endpoint");
    assert_eq!(end_session.url().as_str(), endpoint("/logout"));
    let doc = Browser::new().get(&endpoint("/.well-known/openid-configuration")).json();
    assert_eq!(doc["claims_parameter_supported"], true);
    assert_eq!(doc["prompt_values_supported"], serde_json::json!(["none", "login", "consent", "select_account"]));
    let _ = &rp.metadata;

    let browser = Browser::new();
    let (url, state, nonce) = rp.url(&[], |r| r);
    let tx = browser.open_login(&url);
    let page = browser.login(&tx, &user(3), &env().password);
    let session_cookie = page
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("oidc_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let params = if page.status == 303 {
        redirect_params(&page)
    } else {
        redirect_params(&browser.consent(&consent_form(&page).tx(), "allow"))
    };
    let (id_token, _) = rp.redeem(&assert_redirect_code(&params, state.secret()), &nonce);
    let after = PostLogoutRedirectUrl::new(var("E2E_LOGOUT_URI")).unwrap();

    // An unregistered post_logout_redirect_uri: an error page, no redirect, the session lives on.
    let bad = openidconnect::LogoutRequest::from(end_session.clone())
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new("https://evil.example/".into()).unwrap())
        .http_get_url();
    assert_error_page(&browser.get(bad.as_str()));

    // From the session's client, with its ID token: signed out at once, back with state.
    let logout_state = CsrfToken::new_random();
    let url = openidconnect::LogoutRequest::from(end_session.clone())
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(after.clone())
        .set_state(logout_state.clone())
        .http_get_url();
    let page = browser.get(url.as_str());
    assert_eq!(page.status, 303, "{}", page.describe());
    let location = page.location().unwrap();
    assert_eq!(location.as_str().split('?').next(), Some(var("E2E_LOGOUT_URI").as_str()));
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(q.get("state"), Some(logout_state.secret()));
    assert!(
        page.header_all("set-cookie").iter().any(|c| c.starts_with("oidc_session=;") && c.contains("Max-Age=0")),
        "the session cookie is removed:\n{}",
        page.describe()
    );
    // Ended server-side: the old cookie replayed by hand no longer signs in.
    let (url, state, _) = rp.url(&[], |r| r.add_prompt(CoreAuthPrompt::None));
    let replay = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .header("cookie", &session_cookie)
        .send()
        .unwrap();
    let location = url::Url::parse(replay.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(q.get("error").map(String::as_str), Some("login_required"), "{location}");
    assert_eq!(q.get("state"), Some(state.secret()));

    // Not clearly from the client (no ID token): the user confirms first.
    let (url, state, _) = rp.url(&[], |r| r);
    assert_redirect_code(&sign_in(&browser, &url, &user(3)), state.secret());
    let url = openidconnect::LogoutRequest::from(end_session)
        .set_client_id(ClientId::new(var("E2E_SESSIONS_ID")))
        .set_post_logout_redirect_uri(after)
        .http_get_url();
    let page = browser.get(url.as_str());
    page.assert_status(200).assert_html();
    let tx = form_to(&page, "/logout").tx();
    let done = browser.post_form(&endpoint("/logout"), &[("tx", &tx), ("decision", "logout")]);
    assert_eq!(done.status, 303, "{}", done.describe());
    let (url, state, _) = rp.url(&[], |r| r.add_prompt(CoreAuthPrompt::None));
    assert_redirect_error(&browser.get(&url), state.secret(), "login_required");
}
