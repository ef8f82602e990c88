//! Errors at the token endpoint (RFC 6749 §5.2, RFC 7636 §4.6) and the userinfo endpoint
//! (RFC 6750 §3.1).

use e2e::openidconnect::PkceCodeChallenge;
use e2e::*;
use url::Url;

/// A code for a confidential client (no PKCE).
fn code_for(kind: Kind) -> String {
    obtain_code(&AuthzRequest::new(kind))
}

/// A code with an S256 challenge; returns (code, verifier).
fn code_with_pkce(kind: Kind) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let code = obtain_code(&AuthzRequest::new(kind).pkce(&challenge));
    (code, verifier.secret().clone())
}

fn redirect_uri() -> &'static str {
    &env().redirect_uri
}

/// Asserts 401 invalid_client with a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2:
/// required when the client attempted HTTP Basic authentication).
fn assert_invalid_client_basic(page: &Page) {
    assert_oauth_error(page, 401, "invalid_client");
    let challenge = page.header("www-authenticate").unwrap_or_else(|| {
        panic!("401 after Basic auth without WWW-Authenticate (RFC 6749 §5.2):\n{}", page.describe())
    });
    assert!(challenge.to_ascii_lowercase().starts_with("basic"), "challenge must be Basic:\n{}", page.describe());
}

#[test]
fn wrong_secret_with_client_secret_basic_is_invalid_client() {
    let code = code_for(Kind::Basic);
    let page =
        token_request(ClientAuth::Basic(Kind::Basic.id(), "wrong-secret"), &code_grant(&code, redirect_uri(), None));
    assert_invalid_client_basic(&page);
}

#[test]
fn wrong_secret_with_client_secret_post_is_invalid_client() {
    let code = code_for(Kind::Post);
    let page =
        token_request(ClientAuth::Post(Kind::Post.id(), "wrong-secret"), &code_grant(&code, redirect_uri(), None));
    assert_oauth_error(&page, 401, "invalid_client");
}

#[test]
fn unknown_client_at_the_token_endpoint_is_invalid_client() {
    let code = code_for(Kind::Basic);
    let page =
        token_request(ClientAuth::Basic("no-such-client-e2e", "secret"), &code_grant(&code, redirect_uri(), None));
    // Made-up client ids are counted per address (CLIENT_MAX_FAILURES of them, then 429): the
    // hostile storm of this suite, from the same address, may have used them up already.
    if page.status == 429 {
        assert_oauth_error(&page, 429, "invalid_client");
        retry_after(&page);
        return;
    }
    assert_invalid_client_basic(&page);
    let page = token_request(ClientAuth::Nothing, &code_grant(&code, redirect_uri(), None));
    assert_oauth_error(&page, 401, "invalid_client");
}

#[test]
fn basic_client_using_client_secret_post_is_invalid_client() {
    // e2e-basic is registered for client_secret_basic only.
    let code = code_for(Kind::Basic);
    let e = env();
    let page = token_request(ClientAuth::Post(&e.basic_id, &e.basic_secret), &code_grant(&code, redirect_uri(), None));
    assert_oauth_error(&page, 401, "invalid_client");
}

#[test]
fn post_client_using_client_secret_basic_is_invalid_client() {
    let code = code_for(Kind::Post);
    let e = env();
    let page = token_request(ClientAuth::Basic(&e.post_id, &e.post_secret), &code_grant(&code, redirect_uri(), None));
    assert_invalid_client_basic(&page);
}

#[test]
fn public_client_sending_a_secret_is_invalid_client() {
    let id = Kind::Public.id();
    let (code, verifier) = code_with_pkce(Kind::Public);
    let page = token_request(ClientAuth::Basic(id, "some-secret"), &code_grant(&code, redirect_uri(), Some(&verifier)));
    assert_invalid_client_basic(&page);

    let (code, verifier) = code_with_pkce(Kind::Public);
    let page = token_request(ClientAuth::Post(id, "some-secret"), &code_grant(&code, redirect_uri(), Some(&verifier)));
    assert_oauth_error(&page, 401, "invalid_client");
}

#[test]
fn redirect_uri_mismatch_at_the_token_endpoint_is_invalid_grant() {
    let code = code_for(Kind::Basic);
    let mut other = Url::parse(redirect_uri()).unwrap();
    other.set_path("/not-registered");
    let page = token_request(Kind::Basic.auth(), &code_grant(&code, other.as_str(), None));
    assert_oauth_error(&page, 400, "invalid_grant");
}

#[test]
fn code_reuse_is_invalid_grant_and_revokes_the_tokens() {
    let code = code_for(Kind::Post);
    let first = token_request(Kind::Post.auth(), &code_grant(&code, redirect_uri(), None));
    let tokens = assert_token_success(&first);
    assert!(tokens["expires_in"].as_u64().is_some_and(|n| n > 0), "expires_in: {tokens:#}");
    assert!(tokens["scope"].as_str().is_some_and(|s| s.split(' ').any(|x| x == "openid")), "scope: {tokens:#}");
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    userinfo(Some(&access_token)).assert_status(200);

    let second = token_request(Kind::Post.auth(), &code_grant(&code, redirect_uri(), None));
    assert_oauth_error(&second, 400, "invalid_grant");

    // RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization
    // server MUST deny the request and SHOULD revoke (when possible) all tokens previously
    // issued based on that authorization code."
    let page = userinfo(Some(&access_token));
    assert_bearer_challenge(&page, Some("invalid_token"));
}

#[test]
fn code_issued_to_another_client_is_invalid_grant() {
    let code = code_for(Kind::Basic);
    let page = token_request(Kind::Post.auth(), &code_grant(&code, redirect_uri(), None));
    assert_oauth_error(&page, 400, "invalid_grant");
}

#[test]
fn missing_code_verifier_is_invalid_grant() {
    let (code, _) = code_with_pkce(Kind::Public);
    let page = token_request(Kind::Public.auth(), &code_grant_without_verifier(&code, redirect_uri()));
    assert_oauth_error(&page, 400, "invalid_grant");
}

#[test]
fn wrong_code_verifier_is_invalid_grant() {
    let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
    let (code, _) = code_with_pkce(Kind::Public);
    let page = token_request(Kind::Public.auth(), &code_grant(&code, redirect_uri(), Some(other_verifier.secret())));
    assert_oauth_error(&page, 400, "invalid_grant");

    // Also for a confidential client that used PKCE.
    let (code, _) = code_with_pkce(Kind::Basic);
    let page = token_request(Kind::Basic.auth(), &code_grant(&code, redirect_uri(), Some(other_verifier.secret())));
    assert_oauth_error(&page, 400, "invalid_grant");
}

#[test]
fn garbage_code_is_invalid_grant() {
    let page = token_request(Kind::Basic.auth(), &code_grant("not-a-real-code", redirect_uri(), None));
    assert_oauth_error(&page, 400, "invalid_grant");
}

#[test]
fn expired_code_is_invalid_grant() {
    let code = code_for(Kind::Basic);
    std::thread::sleep(std::time::Duration::from_secs(env().code_ttl + 2));
    let page = token_request(Kind::Basic.auth(), &code_grant(&code, redirect_uri(), None));
    assert_oauth_error(&page, 400, "invalid_grant");
}

#[test]
fn token_endpoint_with_get_is_a_json_client_error() {
    let url = format!("{}?grant_type=authorization_code&code=x&redirect_uri={}", endpoint("/token"), redirect_uri());
    let page = Browser::new().get(&url);
    assert!((400..500).contains(&page.status), "GET /token must be a 4xx:\n{}", page.describe());
    assert!(page.content_type().starts_with("application/json"), "{}", page.describe());
    assert!(page.json()["error"].is_string(), "{}", page.describe());
}

#[test]
fn unsupported_grant_type() {
    for grant in ["password", "urn:example:magic"] {
        let form = [("grant_type", grant), ("username", "alice"), ("password", "x")];
        let page = token_request(Kind::Basic.auth(), &form);
        assert_oauth_error(&page, 400, "unsupported_grant_type");
    }
}

#[test]
fn userinfo_without_a_token_is_401_with_a_bearer_challenge() {
    let page = userinfo(None);
    assert_bearer_challenge(&page, None);
}

#[test]
fn userinfo_with_a_garbage_token_is_invalid_token() {
    let page = userinfo(Some("garbage.token.value"));
    assert_bearer_challenge(&page, Some("invalid_token"));
    let page = userinfo(Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_bearer_challenge(&page, Some("invalid_token"));
    let page = userinfo_post("garbage");
    assert_bearer_challenge(&page, Some("invalid_token"));
}
