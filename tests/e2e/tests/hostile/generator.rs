//! The generator: a seeded xorshift PRNG, the endpoints attacked and the attack each starts
//! from; request `i` depends only on the seed and `i`.

use super::*;

/// xorshift64, seeded through splitmix64. Also carries the real tx to tamper with, if any.
pub(crate) struct Rng(u64, Option<&'static str>);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z }, None)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub(crate) fn chars_of(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    pub(crate) fn alnum(&mut self, n: usize) -> String {
        self.chars_of(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", n)
    }

    pub(crate) fn b64url(&mut self, n: usize) -> String {
        self.chars_of(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", n)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
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

pub(crate) const TARGETS: &[Target] = &[
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
    pub(crate) fn path(self) -> &'static str {
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

    pub(crate) fn method(self) -> &'static str {
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
pub(crate) enum Mutation {
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

pub(crate) const MUTATIONS: &[Mutation] = &[
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
pub(crate) fn registered_redirect() -> Url {
    Url::parse(&env().redirect_uri).unwrap()
}

/// Redirect URIs an attacker would try.
pub(crate) fn evil_redirects() -> Vec<String> {
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
pub(crate) fn hostile_client_id(r: &mut Rng) -> String {
    format!("hostile-{}", r.alnum(10))
}

/// `<22 b64url>.<43 b64url>`: the shape of codes and access tokens.
pub(crate) fn shaped_handle(r: &mut Rng) -> String {
    format!("{}.{}", r.b64url(22), r.b64url(43))
}

/// A forged page state: base64url.base64url, often with a plausible JSON payload.
pub(crate) fn forged_tx(r: &mut Rng) -> String {
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
pub(crate) fn forged_now() -> i64 {
    static AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *AT.get_or_init(now)
}

/// The `tx` of a real login page, for tampering (set by the storm before it starts; the
/// offline generator test runs without it).
pub(crate) static REAL_TX: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// One hostile request, fully determined by (seed, index) (and the real tx, when tampered).
pub(crate) struct Attack {
    pub(crate) index: usize,
    pub(crate) target: Target,
    pub(crate) mutations: Vec<Mutation>,
    pub(crate) method: String,
    pub(crate) path: String,
    /// Form parameters as raw bytes (encoded at the end), plus raw pieces appended verbatim.
    pub(crate) params: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) raw_tail: Vec<u8>,
    /// Parameters go in the query string (else in the body).
    pub(crate) in_query: bool,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    /// A body that replaces the encoded parameters.
    pub(crate) body_override: Option<Vec<u8>>,
    pub(crate) content_type: Option<Vec<u8>>,
    /// An extra query string for a POST (parameters both places).
    pub(crate) extra_query: Option<String>,
}

/// The request as sent.
pub(crate) struct Built {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Option<Vec<u8>>,
    /// Over a size limit: the server may answer early and close the connection.
    pub(crate) oversized: bool,
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    url::form_urlencoded::byte_serialize(bytes).collect()
}

impl Attack {
    pub(crate) fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.params.retain(|(n, _)| n != name.as_bytes());
        self.params.push((name.as_bytes().to_vec(), value.into()));
    }

    pub(crate) fn param_names(&self) -> Vec<String> {
        self.params.iter().map(|(n, _)| String::from_utf8_lossy(n).into_owned()).collect()
    }

    /// A parameter to mutate: an existing one, or a new one with a name the endpoint reads.
    /// Never a client credential at the token endpoint (see the module comment).
    pub(crate) fn victim(&self, r: &mut Rng) -> String {
        let safe: Vec<String> =
            self.param_names().into_iter().filter(|n| n != "client_id" && n != "client_secret").collect();
        if !safe.is_empty() && r.chance(80) {
            return r.pick(&safe).clone();
        }
        r.pick(&["state", "nonce", "scope", "code", "redirect_uri", "tx", "username", "decision", "x"]).to_string()
    }

    pub(crate) fn header(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.headers.push((name.to_string(), value.into()));
    }

    pub(crate) fn encoded_params(&self) -> Vec<u8> {
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

    pub(crate) fn build(&self) -> Built {
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
    pub(crate) fn describe(&self, built: &Built) -> String {
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

pub(crate) fn base_attack(r: &mut Rng, index: usize, target: Target) -> Attack {
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

pub(crate) fn generate(seed: u64, index: usize, real_tx: Option<&'static str>) -> Attack {
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
