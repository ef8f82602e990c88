//! Raw token, userinfo and client-authenticated requests, and what their answers must look like.

use crate::*;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use openidconnect::PkceCodeChallenge;
use reqwest::blocking::Client;
use reqwest::redirect::Policy;
use serde_json::Value;

/// How a raw token request authenticates the client.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// HTTP Basic (RFC 6749 §2.3.1: id and secret form-urlencoded, then base64).
    Basic(&'a str, &'a str),
    /// `client_id` and `client_secret` in the body.
    Post(&'a str, &'a str),
    /// `client_id` in the body only (public client).
    IdOnly(&'a str),
    /// No client identification at all.
    Nothing,
}

pub(crate) fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn plain_client() -> &'static Client {
    static C: OnceLock<Client> = OnceLock::new();
    C.get_or_init(|| {
        Client::builder()
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("building the HTTP client")
    })
}

/// `POST /token` with the given client authentication and form.
pub fn token_request(auth: ClientAuth, form: &[(&str, &str)]) -> Page {
    client_request("/token", auth, form)
}

/// A client-authenticated form `POST` to `path` (token, revocation, introspection endpoints).
pub fn client_request(path: &str, auth: ClientAuth, form: &[(&str, &str)]) -> Page {
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    let url = endpoint(path);
    let mut req = plain_client().post(&url);
    match auth {
        ClientAuth::Basic(id, secret) => {
            let credentials = format!("{}:{}", form_encode(id), form_encode(secret));
            let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials));
            req = req.header("authorization", header);
        }
        ClientAuth::Post(id, secret) => {
            fields.push(("client_id", id));
            fields.push(("client_secret", secret));
        }
        ClientAuth::IdOnly(id) => fields.push(("client_id", id)),
        ClientAuth::Nothing => {}
    }
    let req = req.header("accept", "application/json").form(&fields);
    Page::read("POST", &url, req.send())
}

/// The PKCE verifier of [`AuthzRequest::new`]'s challenge (RFC 7636 Appendix B's example).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The authorization code grant form, with `verifier` (`None`: [`VERIFIER`], for a code from
/// [`AuthzRequest::new`]).
pub fn code_grant<'a>(code: &'a str, redirect_uri: &'a str, verifier: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = code_grant_without_verifier(code, redirect_uri);
    form.push(("code_verifier", verifier.unwrap_or(VERIFIER)));
    form
}

/// [`CHALLENGE`] for an `openidconnect` authorization request.
pub fn pkce_challenge() -> PkceCodeChallenge {
    PkceCodeChallenge::from_code_verifier_sha256(&pkce_verifier())
}

/// [`VERIFIER`] for an `openidconnect` code exchange.
pub fn pkce_verifier() -> openidconnect::PkceCodeVerifier {
    openidconnect::PkceCodeVerifier::new(VERIFIER.to_string())
}

/// The authorization code grant form with no `code_verifier`.
pub fn code_grant_without_verifier<'a>(code: &'a str, redirect_uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)]
}

/// Asserts an RFC 6749 §5.2 error: the status, JSON content type, the `error` code and (if
/// present) a string `error_description`. Returns the JSON.
pub fn assert_oauth_error(page: &Page, status: u16, error: &str) -> Value {
    assert_eq!(page.status, status, "expected {status} {error}:\n{}", page.describe());
    assert!(
        page.content_type().starts_with("application/json"),
        "error responses are JSON (RFC 6749 §5.2):\n{}",
        page.describe()
    );
    let json = page.json();
    assert_eq!(json["error"].as_str(), Some(error), "wrong error code:\n{}", page.describe());
    if let Some(d) = json.get("error_description") {
        assert!(d.is_string(), "error_description must be a string:\n{}", page.describe());
    }
    assert!(json.get("access_token").is_none() && json.get("id_token").is_none(), "error with tokens?!");
    json
}

/// Asserts a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3) and returns it.
pub fn assert_token_success(page: &Page) -> Value {
    page.assert_status(200);
    assert!(page.content_type().starts_with("application/json"), "token response is JSON:\n{}", page.describe());
    assert_no_store(&page.header_all("cache-control"), &page.describe());
    let json = page.json();
    assert!(json["access_token"].as_str().is_some_and(|t| !t.is_empty()), "no access_token:\n{}", page.describe());
    assert!(json["id_token"].as_str().is_some_and(|t| !t.is_empty()), "no id_token:\n{}", page.describe());
    assert!(
        json["token_type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "token_type must be Bearer:\n{}",
        page.describe()
    );
    json
}

/// Asserts `Cache-Control` contains `no-store` (RFC 6749 §5.1).
pub fn assert_no_store(cache_control: &[String], context: &str) {
    let has = cache_control.iter().flat_map(|v| v.split(',')).any(|d| d.trim().eq_ignore_ascii_case("no-store"));
    assert!(
        has,
        "the token response must have Cache-Control: no-store (RFC 6749 §5.1), got {cache_control:?}:\n{context}"
    );
}

/// `GET /userinfo`, with `Authorization: Bearer <token>` if given.
pub fn userinfo(token: Option<&str>) -> Page {
    let url = endpoint("/userinfo");
    let mut req = plain_client().get(&url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    Page::read("GET", &url, req.send())
}

/// `POST /userinfo` with the bearer token in the header.
pub fn userinfo_post(token: &str) -> Page {
    let url = endpoint("/userinfo");
    let req = plain_client().post(&url).header("authorization", format!("Bearer {token}"));
    Page::read("POST", &url, req.send())
}

/// Asserts a 401 from a protected resource with `WWW-Authenticate: Bearer ...` (RFC 6750 §3);
/// with `error`, also asserts `error="<error>"` in the challenge. Returns the challenge.
pub fn assert_bearer_challenge(page: &Page, error: Option<&str>) -> String {
    assert_eq!(page.status, 401, "expected 401:\n{}", page.describe());
    let challenge = page
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("401 without WWW-Authenticate (RFC 6750 §3):\n{}", page.describe()));
    assert!(
        challenge.len() >= 6 && challenge[..6].eq_ignore_ascii_case("bearer"),
        "the challenge must use the Bearer scheme:\n{}",
        page.describe()
    );
    if let Some(e) = error {
        assert!(
            challenge.contains(&format!("error=\"{e}\"")),
            "the challenge must carry error=\"{e}\":\n{}",
            page.describe()
        );
    }
    challenge
}

/// Decodes (without verifying) the payload of a compact JWS.
pub fn jwt_payload(jwt: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {jwt}");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .unwrap_or_else(|e| panic!("JWT payload is not base64url ({e}): {jwt}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT payload is not JSON ({e}): {jwt}"))
}

/// Claims released by the `profile` scope (OIDC Core §5.4).
pub const PROFILE_CLAIMS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
];
/// Claims released by the `email` scope.
pub const EMAIL_CLAIMS: &[&str] = &["email", "email_verified"];
