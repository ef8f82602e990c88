//! Helpers for the end-to-end tests.
//!
//! The tests run against a real `wrangler dev` started and seeded by `scripts/e2e.sh`, which
//! passes everything they need in `E2E_*` environment variables. Two kinds of HTTP client are
//! used:
//!
//! * [`Recorder`]: the relying party's client, handed to the `openidconnect` crate (no
//!   redirects, as openidconnect 4 requires). It keeps every response so a test can also check
//!   headers the crate does not expose (e.g. `Cache-Control: no-store` on the token response).
//! * [`Browser`]: the user agent, a cookie-keeping client that never follows redirects, used to
//!   drive the provider's HTML login and consent pages.
//!
//! Negative tests talk to the endpoints directly ([`token_request`], [`userinfo`],
//! [`AuthzRequest`]) so they can assert exact statuses, error codes and headers.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthType, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError,
    HttpRequest, HttpResponse, IssuerUrl, PkceCodeChallenge, RedirectUrl, SyncHttpClient,
};
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use url::Url;

pub use openidconnect;

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

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

fn var(name: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// Seeded clients
// ---------------------------------------------------------------------------------------------

/// The clients the script registers: one per token endpoint authentication method, and two
/// that may use refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `client_secret_basic`
    Basic,
    /// `client_secret_post`, and registered without PKCE (`--pkce optional`, a legacy client)
    Post,
    /// `none` (public client, PKCE required)
    Public,
    /// `client_secret_basic`, refresh_token grant, scope with offline_access
    Refresh,
    /// `none`, refresh_token grant, scope with offline_access
    PublicRefresh,
}

impl Kind {
    pub fn id(self) -> &'static str {
        let e = env();
        match self {
            Kind::Basic => &e.basic_id,
            Kind::Post => &e.post_id,
            Kind::Public => &e.public_id,
            Kind::Refresh => &e.refresh_id,
            Kind::PublicRefresh => &e.public_refresh_id,
        }
    }

    pub fn name(self) -> &'static str {
        let e = env();
        match self {
            Kind::Basic => &e.basic_name,
            Kind::Post => &e.post_name,
            Kind::Public => &e.public_name,
            Kind::Refresh => &e.refresh_name,
            Kind::PublicRefresh => &e.public_refresh_name,
        }
    }

    pub fn secret(self) -> Option<&'static str> {
        let e = env();
        match self {
            Kind::Basic => Some(&e.basic_secret),
            Kind::Post => Some(&e.post_secret),
            Kind::Refresh => Some(&e.refresh_secret),
            Kind::Public | Kind::PublicRefresh => None,
        }
    }

    /// How this client correctly authenticates at the token endpoint.
    pub fn auth(self) -> ClientAuth<'static> {
        match self {
            Kind::Basic | Kind::Refresh => ClientAuth::Basic(self.id(), self.secret().unwrap()),
            Kind::Post => ClientAuth::Post(self.id(), self.secret().unwrap()),
            Kind::Public | Kind::PublicRefresh => ClientAuth::IdOnly(self.id()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The relying party (openidconnect)
// ---------------------------------------------------------------------------------------------

/// One response seen by the [`Recorder`].
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub headers: openidconnect::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap_or("<non-ascii>").to_string())
    }
}

/// The relying party's HTTP client: reqwest without redirects, remembering every response.
pub struct Recorder {
    inner: Client,
    pub log: Mutex<Vec<Recorded>>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            inner: Client::builder()
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building the HTTP client"),
            log: Mutex::new(Vec::new()),
        }
    }

    /// The last response received from `url` (exact match, without query).
    pub fn last_from(&self, url: &str) -> Recorded {
        let log = self.log.lock().unwrap();
        log.iter().rev().find(|r| r.url.split('?').next() == Some(url)).cloned().unwrap_or_else(|| {
            let seen: Vec<&str> = log.iter().map(|r| r.url.as_str()).collect();
            panic!("no response recorded from {url}; seen: {seen:?}")
        })
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncHttpClient for Recorder {
    type Error = HttpClientError<reqwest::Error>;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, Self::Error> {
        let method = request.method().to_string();
        let url = request.uri().to_string();
        let response = self.inner.call(request)?;
        self.log.lock().unwrap().push(Recorded {
            method,
            url,
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.body().clone(),
        });
        Ok(response)
    }
}

/// The `CoreClient` type `from_provider_metadata` returns.
pub type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// OpenID Connect Discovery through the openidconnect crate (also fetches and parses the JWKS,
/// and checks that the advertised issuer is exactly E2E_ISSUER).
pub fn discover(http: &Recorder) -> CoreProviderMetadata {
    let issuer = IssuerUrl::new(env().issuer.clone()).expect("E2E_ISSUER is a URL");
    CoreProviderMetadata::discover(&issuer, http)
        .unwrap_or_else(|e| panic!("discovery at {} failed: {}", env().issuer, error_chain(&e)))
}

/// A relying party configured for one of the seeded clients.
pub fn oidc_client(kind: Kind, metadata: CoreProviderMetadata) -> OidcClient {
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(kind.id().to_string()),
        kind.secret().map(|s| ClientSecret::new(s.to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(env().redirect_uri.clone()).expect("E2E_REDIRECT_URI is a URL"));
    match kind {
        Kind::Basic | Kind::Refresh => client.set_auth_type(AuthType::BasicAuth),
        // A public client sends its client_id in the body and no secret.
        Kind::Post | Kind::Public | Kind::PublicRefresh => client.set_auth_type(AuthType::RequestBody),
    }
}

/// `error: cause: cause...` for an error and its sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The user agent
// ---------------------------------------------------------------------------------------------

/// An HTTP response read in full.
#[derive(Debug)]
pub struct Page {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn read(method: &str, url: &str, r: reqwest::Result<reqwest::blocking::Response>) -> Page {
        let r = r.unwrap_or_else(|e| panic!("{method} {url} failed: {}", error_chain(&e)));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().unwrap_or_else(|e| panic!("reading the body of {method} {url}: {e}"));
        Page { method: method.to_string(), url: url.to_string(), status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap_or("<non-ascii>").to_string())
    }

    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("<non-ascii>").to_string()).collect()
    }

    /// A description for assertion messages.
    pub fn describe(&self) -> String {
        let mut body = self.body.clone();
        if body.len() > 3000 {
            let mut cut = 3000;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push_str("...");
        }
        let headers: Vec<String> =
            self.headers.iter().map(|(k, v)| format!("  {}: {}", k, v.to_str().unwrap_or("<non-ascii>"))).collect();
        format!("{} {} -> {}\n{}\n{}", self.method, self.url, self.status, headers.join("\n"), body)
    }

    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status:\n{}", self.describe());
        self
    }

    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default().to_ascii_lowercase()
    }

    pub fn assert_html(&self) -> &Self {
        assert!(self.content_type().starts_with("text/html"), "expected an HTML page:\n{}", self.describe());
        self
    }

    /// The `Location` header resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        self.header("location").map(|l| {
            Url::parse(&self.url)
                .unwrap()
                .join(&l)
                .unwrap_or_else(|e| panic!("Location '{l}' is not a URL ({e}):\n{}", self.describe()))
        })
    }

    /// The body as JSON (panics with the response if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("response is not JSON ({e}):\n{}", self.describe()))
    }
}

/// A parsed HTML form.
#[derive(Debug, Clone)]
pub struct Form {
    pub method: String,
    /// The action resolved against the page URL.
    pub action: String,
    /// `(name, value)` of every named input, in order.
    pub inputs: Vec<(String, String, String)>,
    /// `(name, value)` of every named submit button.
    pub buttons: Vec<(String, String)>,
}

impl Form {
    pub fn input(&self, name: &str) -> Option<&(String, String, String)> {
        self.inputs.iter().find(|(n, _, _)| n == name)
    }
    /// The value of the hidden `tx` input.
    pub fn tx(&self) -> String {
        let (_, ty, value) = self.input("tx").unwrap_or_else(|| panic!("form has no tx input: {self:?}"));
        assert_eq!(ty, "hidden", "the tx input must be hidden: {self:?}");
        assert!(!value.is_empty(), "the tx input is empty: {self:?}");
        value.clone()
    }
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css}: {e:?}"))
}

/// All forms on a page.
pub fn forms(page: &Page) -> Vec<Form> {
    let html = page.html();
    let base = Url::parse(&page.url).unwrap();
    let input_sel = sel("input[name]");
    let button_sel = sel("button[name], input[type=submit][name]");
    html.select(&sel("form"))
        .map(|f: ElementRef| {
            let attr = |n: &str| f.value().attr(n).unwrap_or("").to_string();
            let action = base.join(&attr("action")).map(|u| u.to_string()).unwrap_or_default();
            let inputs = f
                .select(&input_sel)
                .map(|i| {
                    let v = i.value();
                    (
                        v.attr("name").unwrap_or("").to_string(),
                        v.attr("type").unwrap_or("text").to_ascii_lowercase(),
                        v.attr("value").unwrap_or("").to_string(),
                    )
                })
                .collect();
            let buttons = f
                .select(&button_sel)
                .filter(|b| {
                    b.value().name() == "input"
                        || b.value().attr("type").map(|t| t.eq_ignore_ascii_case("submit")).unwrap_or(true)
                })
                .map(|b| {
                    (
                        b.value().attr("name").unwrap_or("").to_string(),
                        b.value().attr("value").unwrap_or("").to_string(),
                    )
                })
                .collect();
            Form { method: attr("method").to_ascii_lowercase(), action, inputs, buttons }
        })
        .collect()
}

/// The form posting to `{issuer}{path}`, asserting there is exactly one and it uses POST.
pub fn form_to(page: &Page, path: &str) -> Form {
    let target = endpoint(path);
    let found: Vec<Form> = forms(page).into_iter().filter(|f| f.action == target).collect();
    assert_eq!(found.len(), 1, "expected one form posting to {target}:\n{}", page.describe());
    let form = found.into_iter().next().unwrap();
    assert_eq!(form.method, "post", "the {path} form must use method=post:\n{}", page.describe());
    form
}

/// Plain-text content of the page (tags stripped, whitespace collapsed).
pub fn text_of(page: &Page) -> String {
    let html = page.html();
    let words: Vec<&str> = html.root_element().text().flat_map(|t| t.split_whitespace()).collect();
    words.join(" ")
}

/// A user agent: keeps cookies, never follows redirects.
pub struct Browser {
    pub http: Client,
}

impl Browser {
    pub fn new() -> Self {
        Browser {
            http: Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building the browser client"),
        }
    }

    pub fn get(&self, url: &str) -> Page {
        Page::read("GET", url, self.http.get(url).send())
    }

    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Page {
        Page::read("POST", url, self.http.post(url).form(form).send())
    }

    /// `GET /authorize...`: asserts the login page (200, HTML, a cookie set, a POST form to
    /// /login with a hidden tx, username and password inputs) and returns the tx.
    pub fn open_login(&self, authorize_url: &str) -> String {
        let page = self.get(authorize_url);
        page.assert_status(200).assert_html();
        let cookies = page.header_all("set-cookie");
        assert!(!cookies.is_empty(), "the login page must set the anti-CSRF cookie:\n{}", page.describe());
        assert!(
            cookies.iter().any(|c| c.to_ascii_lowercase().split(';').any(|a| a.trim() == "httponly")),
            "the anti-CSRF cookie must be HttpOnly:\n{}",
            page.describe()
        );
        login_form(&page).tx()
    }

    /// `POST /login`.
    pub fn login(&self, tx: &str, username: &str, password: &str) -> Page {
        self.post_form(&endpoint("/login"), &[("tx", tx), ("username", username), ("password", password)])
    }

    /// `POST /consent`.
    pub fn consent(&self, tx: &str, decision: &str) -> Page {
        self.post_form(&endpoint("/consent"), &[("tx", tx), ("decision", decision)])
    }

    /// The whole interactive part as the seeded user: login page, login, consent page,
    /// `decision`. Returns the consent response (the redirect back to the client).
    pub fn authorize(&self, authorize_url: &str, decision: &str) -> Page {
        let tx = self.open_login(authorize_url);
        let page = self.login(&tx, &env().username, &env().password);
        let tx = consent_form(&page).tx();
        self.consent(&tx, decision)
    }

    /// [`Browser::authorize`] with `allow`, asserting a 303 to the redirect URI; returns the
    /// redirect's query parameters.
    pub fn authorize_allow(&self, authorize_url: &str) -> HashMap<String, String> {
        let page = self.authorize(authorize_url, "allow");
        redirect_params(&page)
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

/// Asserts a login form (POST /login, hidden tx, username, password of type password).
pub fn login_form(page: &Page) -> Form {
    let form = form_to(page, "/login");
    form.tx();
    assert!(form.input("username").is_some(), "login form has no username input:\n{}", page.describe());
    let pw = form.input("password").unwrap_or_else(|| panic!("login form has no password input:\n{}", page.describe()));
    assert_eq!(pw.1, "password", "the password input must be type=password:\n{}", page.describe());
    form
}

/// Asserts a consent page (200, HTML, POST /consent with hidden tx and allow/deny buttons).
pub fn consent_form(page: &Page) -> Form {
    page.assert_status(200).assert_html();
    let form = form_to(page, "/consent");
    form.tx();
    for value in ["allow", "deny"] {
        assert!(
            form.buttons.iter().any(|(n, v)| n == "decision" && v == value),
            "consent form has no decision={value} submit button ({:?}):\n{}",
            form.buttons,
            page.describe()
        );
    }
    form
}

/// Asserts a `303` whose `Location` is the registered redirect URI (same scheme, host, port and
/// path, no fragment) and returns its query parameters (each must appear once).
pub fn redirect_params(page: &Page) -> HashMap<String, String> {
    assert_eq!(page.status, 303, "expected a 303 redirect to the client:\n{}", page.describe());
    let location = page.location().unwrap_or_else(|| panic!("303 without Location:\n{}", page.describe()));
    let expected = Url::parse(&env().redirect_uri).unwrap();
    assert_eq!(
        (location.scheme(), location.host_str(), location.port_or_known_default(), location.path()),
        (expected.scheme(), expected.host_str(), expected.port_or_known_default(), expected.path()),
        "redirect goes somewhere other than the registered redirect URI: {location}"
    );
    assert!(location.fragment().is_none(), "the code flow response must not use the fragment: {location}");
    let mut params = HashMap::new();
    for (k, v) in location.query_pairs() {
        let previous = params.insert(k.to_string(), v.to_string());
        assert!(previous.is_none(), "parameter {k} repeated in {location}");
    }
    params
}

/// Asserts an authorization error redirect (RFC 6749 §4.1.2.1, RFC 9207): 303 to the redirect
/// URI with `error`, a non-empty `error_description`, the request's `state` and `iss`, no code.
pub fn assert_redirect_error(page: &Page, state: &str, error: &str) -> HashMap<String, String> {
    let params = redirect_params(page);
    assert_eq!(params.get("error").map(String::as_str), Some(error), "wrong error in redirect: {params:?}");
    assert!(
        params.get("error_description").is_some_and(|d| !d.is_empty()),
        "error redirect without error_description: {params:?}"
    );
    assert_eq!(params.get("state").map(String::as_str), Some(state), "state not echoed: {params:?}");
    assert_eq!(params.get("iss"), Some(&env().issuer), "iss (RFC 9207) missing or wrong: {params:?}");
    assert!(!params.contains_key("code"), "an error redirect must not carry a code: {params:?}");
    params
}

/// Asserts a successful authorization response (code, state echoed, iss) and returns the code.
pub fn assert_redirect_code(params: &HashMap<String, String>, state: &str) -> String {
    assert!(!params.contains_key("error"), "authorization failed: {params:?}");
    assert_eq!(params.get("state").map(String::as_str), Some(state), "state not echoed: {params:?}");
    assert_eq!(params.get("iss"), Some(&env().issuer), "iss (RFC 9207) missing or wrong: {params:?}");
    let code = params.get("code").unwrap_or_else(|| panic!("no code in the redirect: {params:?}"));
    assert!(!code.is_empty());
    code.clone()
}

/// Asserts the provider's 400 error page for requests whose redirect URI cannot be trusted:
/// HTML, no `Location`, not a redirect.
pub fn assert_error_page(page: &Page) {
    assert_eq!(page.status, 400, "expected a 400 error page:\n{}", page.describe());
    assert!(page.header("location").is_none(), "must not redirect to an untrusted URI:\n{}", page.describe());
    page.assert_html();
}

// ---------------------------------------------------------------------------------------------
// Raw authorization requests
// ---------------------------------------------------------------------------------------------

/// A hand-built authorization request (for negative tests and for getting codes quickly).
#[derive(Debug, Clone)]
pub struct AuthzRequest {
    pub params: Vec<(String, String)>,
}

impl AuthzRequest {
    /// `response_type=code`, the client's id, the registered redirect URI,
    /// `scope=openid profile email`, a random state and nonce, `prompt=consent` (so the
    /// consent page shows even when the seeded user's consent is remembered; tests of
    /// remembered consent remove it), and PKCE (every client must use it unless its record
    /// opts out): the S256 challenge of [`VERIFIER`], which [`code_grant`] sends by default.
    pub fn new(kind: Kind) -> Self {
        AuthzRequest { params: Vec::new() }
            .set("response_type", "code")
            .set("client_id", kind.id())
            .set("redirect_uri", &env().redirect_uri)
            .set("scope", "openid profile email")
            .set("state", &random())
            .set("nonce", &random())
            .set("prompt", "consent")
            .set("code_challenge", CHALLENGE)
            .set("code_challenge_method", "S256")
    }

    /// No PKCE (for the client registered with `--pkce optional`, and the tests of PKCE).
    pub fn without_pkce(self) -> Self {
        self.remove("code_challenge").remove("code_challenge_method")
    }

    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self
    }

    pub fn pkce(self, challenge: &PkceCodeChallenge) -> Self {
        self.set("code_challenge", challenge.as_str()).set("code_challenge_method", challenge.method().as_str())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn state(&self) -> &str {
        self.get("state").expect("request has a state")
    }

    pub fn url(&self) -> String {
        let mut url = Url::parse(&endpoint("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(self.params.iter());
        url.to_string()
    }
}

/// Runs a full authorization (login as the seeded user, allow) and returns the code.
pub fn obtain_code(req: &AuthzRequest) -> String {
    let browser = Browser::new();
    let params = browser.authorize_allow(&req.url());
    assert_redirect_code(&params, req.state())
}

// ---------------------------------------------------------------------------------------------
// Raw token and userinfo requests
// ---------------------------------------------------------------------------------------------

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

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn plain_client() -> &'static Client {
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

// ---------------------------------------------------------------------------------------------
// Abuse-resistance tests: extra seeded accounts, the wrangler log, a complete flow that returns
// every secret it handled, throttling responses
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

// ---------------------------------------------------------------------------------------------
// Signing keys: the key set and the clients of the other algorithms (tests/signing.rs)
// ---------------------------------------------------------------------------------------------

/// What `scripts/e2e.sh` puts in SIGNING_KEYS (an active RS256 key, a retired RS256 key, an
/// ES256 and an EdDSA key) and the clients registered for ES256 and EdDSA ID tokens.
#[derive(Debug)]
pub struct SigningEnv {
    pub active_kid: String,
    pub retired_kid: String,
    pub es256_kid: String,
    pub eddsa_kid: String,
    /// `client_secret_basic` clients with `id_token_signed_response_alg` ES256 / EdDSA.
    pub es256_id: String,
    pub es256_secret: String,
    pub eddsa_id: String,
    pub eddsa_secret: String,
}

/// The signing environment, read once.
pub fn signing_env() -> &'static SigningEnv {
    static ENV: OnceLock<SigningEnv> = OnceLock::new();
    ENV.get_or_init(|| SigningEnv {
        active_kid: var("E2E_ACTIVE_KID"),
        retired_kid: var("E2E_RETIRED_KID"),
        es256_kid: var("E2E_ES256_KID"),
        eddsa_kid: var("E2E_EDDSA_KID"),
        es256_id: var("E2E_ES256_ID"),
        es256_secret: var("E2E_ES256_SECRET"),
        eddsa_id: var("E2E_EDDSA_ID"),
        eddsa_secret: var("E2E_EDDSA_SECRET"),
    })
}

/// A relying party for any `client_secret_basic` client.
pub fn basic_client(client_id: &str, secret: &str, metadata: CoreProviderMetadata) -> OidcClient {
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_string()),
        Some(ClientSecret::new(secret.to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(env().redirect_uri.clone()).expect("E2E_REDIRECT_URI is a URL"))
    .set_auth_type(AuthType::BasicAuth)
}

/// Decodes (without verifying) the protected header of a compact JWS.
pub fn jwt_header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("JWS header is not base64url ({e}): {jwt}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWS header is not JSON ({e}): {jwt}"))
}
