//! Errors at the authorization endpoint and in the login/consent pages.

use e2e::openidconnect::PkceCodeChallenge;
use e2e::*;
use url::Url;

/// A URI on the same loopback host as the registered one but a different path.
fn unregistered_redirect_uri() -> String {
    let mut u = Url::parse(&env().redirect_uri).unwrap();
    u.set_path("/not-registered");
    u.to_string()
}

#[test]
fn unknown_client_id_gets_an_error_page_not_a_redirect() {
    let req = AuthzRequest::new(Kind::Basic).set("client_id", "no-such-client-e2e");
    let page = Browser::new().get(&req.url());
    assert_error_page(&page);
}

#[test]
fn unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    for uri in [
        unregistered_redirect_uri(),
        "https://evil.example/callback".to_string(),
        format!("{}/extra", env().redirect_uri),
    ] {
        // A confidential and the public client.
        let req = AuthzRequest::new(Kind::Basic).set("redirect_uri", &uri);
        assert_error_page(&Browser::new().get(&req.url()));
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        let req = AuthzRequest::new(Kind::Public).pkce(&challenge).set("redirect_uri", &uri);
        assert_error_page(&Browser::new().get(&req.url()));
    }
}

#[test]
fn a_request_without_code_challenge_is_invalid_request() {
    // RFC 7636 §4.4.1, RFC 9700 §2.1.1: PKCE is required of public clients, and of
    // confidential ones unless their record opts out (e2e-post does: a legacy client).
    for kind in [Kind::Public, Kind::Basic] {
        let req = AuthzRequest::new(kind).without_pkce();
        let page = Browser::new().get(&req.url());
        assert_redirect_error(&page, req.state(), "invalid_request");
    }
    let code = obtain_code(&AuthzRequest::new(Kind::Post).without_pkce());
    assert_token_success(&token_request(Kind::Post.auth(), &code_grant_without_verifier(&code, &env().redirect_uri)));
}

#[test]
fn plain_pkce_is_invalid_request_and_not_advertised() {
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    // With "plain" the challenge is the verifier itself (RFC 9700 §2.1.1: not to be used).
    for kind in [Kind::Public, Kind::Basic, Kind::Post] {
        let req =
            AuthzRequest::new(kind).set("code_challenge", verifier.secret()).set("code_challenge_method", "plain");
        let page = Browser::new().get(&req.url());
        assert_redirect_error(&page, req.state(), "invalid_request");
    }
    let metadata = Browser::new().get(&endpoint("/.well-known/openid-configuration")).json();
    assert_eq!(metadata["code_challenge_methods_supported"], serde_json::json!(["S256"]));
}

#[test]
fn scope_without_openid_is_invalid_scope() {
    let req = AuthzRequest::new(Kind::Basic).set("scope", "profile email");
    let page = Browser::new().get(&req.url());
    assert_redirect_error(&page, req.state(), "invalid_scope");
}

#[test]
fn unsupported_response_type_is_redirected() {
    // RFC 6749 §4.1.2.1: the client and redirect URI are valid, so the error goes back to it.
    let req = AuthzRequest::new(Kind::Basic).set("response_type", "token");
    let page = Browser::new().get(&req.url());
    assert_redirect_error(&page, req.state(), "unsupported_response_type");
}

#[test]
fn wrong_password_shows_the_login_form_again_with_400() {
    let e = env();
    let req = AuthzRequest::new(Kind::Basic);
    let browser = Browser::new();
    let tx = browser.open_login(&req.url());
    let page = browser.login(&tx, &e.username, "definitely not the password");
    assert_eq!(page.status, 400, "a failed login answers 400:\n{}", page.describe());
    page.assert_html();
    assert!(
        text_of(&page).contains("Incorrect username or password"),
        "the page must say the credentials are wrong:\n{}",
        page.describe()
    );
    assert!(page.header("location").is_none(), "no redirect after a failed login:\n{}", page.describe());
    let form = login_form(&page);
    assert!(!page.body.contains("definitely not the password"), "the page echoes the password");

    // The same user agent can then log in with the right password from that form.
    let page = browser.login(&form.tx(), &e.username, &e.password);
    consent_form(&page);
}

#[test]
fn unknown_user_gets_the_same_message() {
    let req = AuthzRequest::new(Kind::Basic);
    let browser = Browser::new();
    let tx = browser.open_login(&req.url());
    let page = browser.login(&tx, "nobody-e2e", &env().password);
    assert_eq!(page.status, 400, "{}", page.describe());
    assert!(text_of(&page).contains("Incorrect username or password"), "{}", page.describe());
    login_form(&page);
}

#[test]
fn consent_deny_redirects_with_access_denied() {
    let req = AuthzRequest::new(Kind::Post);
    let page = Browser::new().authorize(&req.url(), "deny");
    assert_redirect_error(&page, req.state(), "access_denied");
}

#[test]
fn login_from_another_user_agent_is_rejected() {
    // The tx is bound to the cookie set with the login page (login CSRF protection): posting it
    // from a user agent without that cookie must not lead to a consent page.
    let req = AuthzRequest::new(Kind::Basic);
    let tx = Browser::new().open_login(&req.url());
    let other = Browser::new();
    let page = other.login(&tx, &env().username, &env().password);
    assert!(
        (400..500).contains(&page.status),
        "a login without the binding cookie must be refused with a 4xx:\n{}",
        page.describe()
    );
    assert!(
        forms(&page).iter().all(|f| f.action != endpoint("/consent")),
        "a consent form was served without the binding cookie:\n{}",
        page.describe()
    );
}

/// Changes one character in the middle of a sealed value.
fn tamper(tx: &str) -> String {
    let mut chars: Vec<char> = tx.chars().collect();
    let i = chars.len() / 3;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn assert_refused(page: &Page) {
    assert!((400..500).contains(&page.status), "a tampered tx must be refused with a 4xx:\n{}", page.describe());
    assert!(page.header("location").is_none(), "a tampered tx must not redirect:\n{}", page.describe());
    assert!(
        forms(page).iter().all(|f| f.action != endpoint("/consent")),
        "a consent form was served for a tampered tx:\n{}",
        page.describe()
    );
}

#[test]
fn tampered_tx_is_refused() {
    let e = env();
    let req = AuthzRequest::new(Kind::Basic);
    let browser = Browser::new();
    let tx = browser.open_login(&req.url());
    assert_refused(&browser.login(&tamper(&tx), &e.username, &e.password));

    // At the consent step too (the same browser, so only the tx is wrong).
    let page = browser.login(&tx, &e.username, &e.password);
    let consent_tx = consent_form(&page).tx();
    assert_refused(&browser.consent(&tamper(&consent_tx), "allow"));

    // The untampered tx still works: the refusals above were about the tx alone.
    let params = redirect_params(&browser.consent(&consent_tx, "allow"));
    assert_redirect_code(&params, req.state());
}

#[test]
fn consent_with_the_login_stage_tx_is_refused() {
    // The tx of the login page carries no signed-in user: posting it to /consent must not
    // skip authentication.
    let req = AuthzRequest::new(Kind::Basic);
    let browser = Browser::new();
    let tx = browser.open_login(&req.url());
    let page = browser.consent(&tx, "allow");
    assert!((400..500).contains(&page.status), "consent before login must be refused:\n{}", page.describe());
    assert!(page.header("location").is_none(), "consent before login must not redirect:\n{}", page.describe());
}

/// OpenID Connect Core §6: request objects are not supported, and say so with their codes.
#[test]
fn request_and_request_uri_are_refused_with_their_codes() {
    let req = AuthzRequest::new(Kind::Basic).set("request", "eyJhbGciOiJub25lIn0.e30.");
    assert_redirect_error(&Browser::new().get(&req.url()), req.state(), "request_not_supported");
    let req = AuthzRequest::new(Kind::Basic).set("request_uri", "https://rp.example/request.jwt");
    assert_redirect_error(&Browser::new().get(&req.url()), req.state(), "request_uri_not_supported");
}
