//! Host tests of the whole protocol: in-memory stores, a fixed clock, the pure-Rust
//! signer. Every request goes through [`Provider::handle`] as the worker's would.

use super::router::{static_route, Documents};
use super::Provider;
use crate::config::Config;
use crate::crypto::{b64url, hash_client_secret, sha256};
use crate::http::{Request, Response};
use crate::keys::native::{hash_password, NativeCrypto};
use crate::keys::{test_key, PrivateJwkSet};
use crate::model::Client;
use crate::store::memory::{MemoryAccounts, MemoryGrants, MemoryKv, MemoryThrottles};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use url::Url;

mod hardening;
mod pages;
mod refresh;
mod sessions;

const ISSUER: &str = "https://id.example.com";
const T0: i64 = 1_700_000_000;
const BASIC_SECRET: &str = "basic-secret-basic-secret-basic-secret-0001";
const POST_SECRET: &str = "post-secret-post-secret-post-secret-post-0002";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const PASSWORD: &str = "correct horse battery staple";
const CB: &str = "https://app.example/cb";

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// The in-memory stores never pend, so polling until ready is enough.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The provider on the in-memory stores and the pure-Rust signer.
pub(crate) struct Memory;

impl super::Backend for Memory {
    type Clients = MemoryKv;
    type Users = MemoryKv;
    type Grants = MemoryGrants;
    type Throttles = MemoryThrottles;
    type Accounts = MemoryAccounts;
    type Crypto = NativeCrypto;
}

pub(crate) struct World {
    config: Config,
    clients: MemoryKv,
    users: MemoryKv,
    grants: MemoryGrants,
    throttles: MemoryThrottles,
    accounts: MemoryAccounts,
    crypto: NativeCrypto,
    keys: PrivateJwkSet,
    /// `SESSION_KEY`'s derived keys (a test may replace them: a rotation).
    session_keys: crate::crypto::SessionKeys,
    now: Cell<i64>,
    logs: RefCell<Vec<String>>,
    /// The browser's cookies, name → value.
    cookies: RefCell<Vec<(String, String)>>,
    /// Every client must use PKCE unless its record opts out: authorization requests without
    /// a `code_challenge` get [`CHALLENGE`] (S256) added, and code redemptions without a
    /// `code_verifier` get [`VERIFIER`]. Off for the tests of PKCE itself.
    auto_pkce: Cell<bool>,
}

fn client_record(id: &str, method: &str, secret: Option<&str>) -> String {
    let mut v = json!({
        "client_id": id, "client_name": format!("{id} app"), "redirect_uris": [CB, "http://127.0.0.1:9000/cb"],
        "token_endpoint_auth_method": method, "scope": "openid profile email",
    });
    if let Some(s) = secret {
        v["client_secret_hash"] = json!(hash_client_secret(s));
    }
    v.to_string()
}

impl World {
    /// The fixture key set of every kind: a retired RS256 key (first), the active RS256 key,
    /// an ES256 and an EdDSA key.
    pub(crate) fn new() -> World {
        World::with_keys(test_key::MULTI)
    }

    pub(crate) fn with_keys(jwks: &str) -> World {
        let keys = PrivateJwkSet::parse(jwks).expect("fixture key");
        let crypto = NativeCrypto::from_set(&keys).expect("fixture key");
        let config = Config::from_vars(|k| match k {
            "ISSUER" => Some(ISSUER.into()),
            "CODE_TTL_SECONDS" => Some("60".into()),
            _ => None,
        })
        .unwrap();
        let w = World {
            config,
            clients: MemoryKv::default(),
            users: MemoryKv::default(),
            grants: MemoryGrants::default(),
            throttles: MemoryThrottles::default(),
            accounts: MemoryAccounts::default(),
            crypto,
            keys,
            session_keys: crate::crypto::SessionKeys::derive(&[42; 32]),
            now: Cell::new(T0),
            logs: RefCell::new(vec![]),
            cookies: RefCell::new(vec![]),
            auto_pkce: Cell::new(true),
        };
        w.grants.now.set(T0);
        w.throttles.now.set(T0);
        w.accounts.now.set(T0);
        w.clients.put("basic", &client_record("basic", "client_secret_basic", Some(BASIC_SECRET)));
        w.clients.put("post", &client_record("post", "client_secret_post", Some(POST_SECRET)));
        w.clients.put("public", &client_record("public", "none", None));
        w.clients.put(
            "narrow",
            &client_record("narrow", "client_secret_basic", Some(BASIC_SECRET))
                .replace("openid profile email", "openid"),
        );
        w.clients.put("broken", r#"{"client_id":"broken","redirect_uris":[]}"#);
        let mut legacy: Value =
            serde_json::from_str(&client_record("legacy", "client_secret_basic", Some(BASIC_SECRET))).unwrap();
        legacy["require_pkce"] = json!(false);
        w.clients.put("legacy", &legacy.to_string());
        let hash = hash_password(PASSWORD, 10_000).unwrap().to_phc();
        let alice = json!({"sub": "u-7f3a9c", "username": "alice", "password_hash": hash, "name": "Alice Example",
            "given_name": "Alice", "email": "Alice@Example.com", "email_verified": true, "picture": "https://example.com/a.png"});
        w.users.put("user:alice", &alice.to_string());
        w.users.put("email:alice@example.com", r#"{"username":"alice"}"#);
        w
    }

    fn advance(&self, secs: i64) {
        self.now.set(self.now.get() + secs);
        self.grants.now.set(self.now.get());
        self.throttles.now.set(self.now.get());
        self.accounts.now.set(self.now.get());
    }

    pub(crate) fn call(&self, mut req: Request) -> Response {
        if self.auto_pkce.get() {
            add_pkce(&mut req);
        }
        let jar = self.cookies.borrow().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        if !jar.is_empty() {
            req.headers.push(("cookie".into(), jar));
        }
        let docs = Documents::new(&self.config, &self.keys, true);
        if let Some(r) = static_route(&req, &docs) {
            return super::router::finish(r, &self.config);
        }
        let log = |l: &str| self.logs.borrow_mut().push(l.to_string());
        let p = Provider::<Memory> {
            config: &self.config,
            clients: &self.clients,
            users: &self.users,
            grants: &self.grants,
            throttles: &self.throttles,
            accounts: &self.accounts,
            crypto: &self.crypto,
            keys: &self.session_keys,
            pairwise_salt: Some(b"pairwise-salt-for-tests-0123456789"),
            now: self.now.get(),
            log: &log,
        };
        let r = super::router::finish(block_on(p.handle(&req)), &self.config);
        let ok = r.status < 500 || (r.status == 503 && r.header("retry-after").is_some());
        assert!(ok, "{} for {} {}: {}", r.status, req.method, req.path, r.body_str());
        for (k, v) in &r.headers {
            if k != "set-cookie" {
                continue;
            }
            let pair = v.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let mut jar = self.cookies.borrow_mut();
            jar.retain(|(n, _)| n != name);
            if !v.contains("Max-Age=0") {
                jar.push((name.to_string(), value.to_string()));
            }
        }
        r
    }

    pub(crate) fn get(&self, path_and_query: &str) -> Response {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        self.call(Request { method: "GET".into(), path: path.into(), query: query.into(), ..Default::default() })
    }

    fn post(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let mut h: Vec<(String, String)> = vec![("content-type".into(), "application/x-www-form-urlencoded".into())];
        h.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.call(Request {
            method: "POST".into(),
            path: path.into(),
            headers: h,
            body: body.into_bytes(),
            ..Default::default()
        })
    }

    /// GET /authorize with the given parameters.
    fn authorize(&self, params: &[(&str, &str)]) -> Response {
        let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        self.get(&format!("/authorize?{q}"))
    }

    fn login(&self, page: &Response, username: &str, password: &str) -> Response {
        let tx = hidden(page, "tx");
        self.post("/login", &[("tx", &tx), ("username", username), ("password", password)], &[])
    }

    fn consent(&self, page: &Response, decision: &str) -> Response {
        let tx = hidden(page, "tx");
        self.post("/consent", &[("tx", &tx), ("decision", decision)], &[])
    }

    /// A browser without a login session (other cookies kept).
    fn forget_session(&self) {
        self.cookies.borrow_mut().retain(|(n, _)| !n.ends_with("oidc_session"));
    }

    /// No session in the browser, and no consent remembered for anyone.
    fn fresh_browser(&self) {
        self.forget_session();
        self.accounts.objects.borrow_mut().clear();
        self.accounts.stored.borrow_mut().clear();
    }

    /// Authorization through login and consent, in a fresh browser; returns the
    /// redirect's query parameters.
    fn code_for(&self, client: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        self.fresh_browser();
        let mut params: Vec<(&str, &str)> = [
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", CB),
            ("scope", "openid profile email"),
            ("state", "st-1"),
            ("nonce", "n-1"),
        ]
        .into_iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .collect();
        params.extend_from_slice(extra);
        let page = self.authorize(&params);
        assert_eq!(page.status, 200, "{}", page.body_str());
        let consent = self.login(&page, "alice", PASSWORD);
        assert_eq!(consent.status, 200, "{}", consent.body_str());
        let r = self.consent(&consent, "allow");
        redirect_params(&r, CB)
    }

    fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value, Response) {
        let auth = basic.map(|(id, s)| {
            format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{id}:{s}")))
        });
        let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
        let r = self.post("/token", form, &headers);
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.status, v, r)
    }
}

impl World {
    /// A client-authenticated POST to a token-like endpoint (Basic when `basic` is given).
    fn token_like(&self, path: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
        let auth = basic.map(|(id, s)| {
            format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{id}:{s}")))
        });
        let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
        let r = self.post(path, form, &headers);
        (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }
}

/// [`World::auto_pkce`]: what a client that always uses PKCE adds to its requests.
fn add_pkce(req: &mut Request) {
    let form = req.is_form();
    let text = match (req.path.as_str(), req.method.as_str()) {
        ("/authorize", "GET") => req.query.clone(),
        ("/authorize" | "/token", "POST") if form => String::from_utf8_lossy(&req.body).to_string(),
        _ => return,
    };
    let has = |name: &str| url::form_urlencoded::parse(text.as_bytes()).any(|(k, _)| k == name);
    let extra = if req.path == "/authorize" {
        if has("code_challenge") || has("code_challenge_method") {
            return;
        }
        format!("code_challenge={CHALLENGE}&code_challenge_method=S256")
    } else {
        let redeem =
            url::form_urlencoded::parse(text.as_bytes()).any(|(k, v)| k == "grant_type" && v == "authorization_code");
        if !redeem || !has("code") || has("code_verifier") {
            return;
        }
        format!("code_verifier={VERIFIER}")
    };
    let sep = if text.is_empty() { "" } else { "&" };
    if req.method == "GET" {
        req.query = format!("{text}{sep}{extra}");
    } else {
        req.body = format!("{text}{sep}{extra}").into_bytes();
    }
}

fn hidden(page: &Response, name: &str) -> String {
    let body = page.body_str();
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no {name} in {body}")) + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].replace("&quot;", "\"").replace("&amp;", "&")
}

fn redirect_params(r: &Response, expected_base: &str) -> Vec<(String, String)> {
    assert_eq!(r.status, 303, "expected a redirect, got {}: {}", r.status, r.body_str());
    let loc = Url::parse(r.header("location").unwrap()).unwrap();
    assert!(loc.as_str().starts_with(expected_base), "{loc}");
    loc.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Verifies an ID token as a relying party would: the key named by its `kid`, taken from
/// the served JWKS, must be the signing key of the token's `alg`; the signature is checked by
/// jwt-compact with that public JWK. Returns the claims.
fn verify_id_token(w: &World, token: &str) -> Value {
    use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPublicKey};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{AlgorithmExt, UntrustedToken};
    let untrusted = UntrustedToken::new(token).unwrap();
    let kid = untrusted.header().key_id.clone().expect("kid in the header");
    let alg = crate::keys::Alg::parse(untrusted.algorithm()).expect("a supported alg");
    assert_eq!(w.keys.signer(alg).map(|k| k.kid.as_str()), Some(kid.as_str()), "signed by the {alg} signer");
    let jwks: Value = serde_json::from_slice(&w.get("/jwks.json").body).unwrap();
    let mut public = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap().clone();
    assert_eq!(public["alg"], alg.as_str());
    for member in ["kid", "alg", "use"] {
        public.as_object_mut().unwrap().remove(member);
    }
    let jwk: JsonWebKey<'_> = serde_json::from_value(public).unwrap();
    match alg {
        crate::keys::Alg::RS256 => {
            let key = RsaPublicKey::try_from(&jwk).unwrap();
            Rsa::rs256().validator::<Value>(&key).validate(&untrusted).map(drop)
        }
        crate::keys::Alg::ES256 => {
            let key = p256::ecdsa::VerifyingKey::try_from(&jwk).unwrap();
            Es256.validator::<Value>(&key).validate(&untrusted).map(drop)
        }
        crate::keys::Alg::EdDSA => {
            let key = ed25519_dalek::VerifyingKey::try_from(&jwk).unwrap();
            Ed25519.validator::<Value>(&key).validate(&untrusted).map(drop)
        }
    }
    .expect("ID token signature verifies with the published JWK");
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&crate::crypto::b64url_decode(payload).unwrap()).unwrap()
}

fn code_flow_tokens(w: &World) -> (Value, String) {
    let p = w.code_for("basic", &[]);
    let code = param(&p, "code").unwrap().to_string();
    let (status, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!(status, 200, "{v}");
    (v, code)
}

#[test]
fn discovery_and_jwks() {
    let w = World::new();
    let r = w.get("/.well-known/openid-configuration");
    assert_eq!(r.status, 200);
    let d: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(d["issuer"], ISSUER);
    assert_eq!(d["jwks_uri"], format!("{ISSUER}/jwks.json"));
    let r2 = w.get("/.well-known/oauth-authorization-server");
    assert_eq!(r2.body, r.body);
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256", "ES256", "EdDSA"]));
    let r = w.get("/jwks.json");
    assert_eq!(r.header("cache-control"), Some("public, max-age=600"));
    let jwks: Value = serde_json::from_slice(&r.body).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    let expected: Vec<&str> = w.keys.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, expected, "every key is published, retired ones too");
    for k in keys {
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "active", "retired_at"] {
            assert!(k.get(private).is_none(), "JWKS leaks {private}");
        }
    }
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "RS256", "ES256", "EdDSA"]);

    // With one RSA key, only RS256 is advertised.
    let w = World::with_keys(test_key::JWKS);
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
}

#[test]
fn full_flow_client_secret_basic() {
    let w = World::new();
    let p = w.code_for("basic", &[]);
    assert_eq!(param(&p, "state"), Some("st-1"));
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    let code = param(&p, "code").unwrap();
    let (status, v, r) = w.token(
        &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "openid profile email");
    let at = v["access_token"].as_str().unwrap();
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "u-7f3a9c");
    assert_eq!(c["aud"], "basic");
    assert_eq!(c["azp"], "basic");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["iat"], T0);
    assert_eq!(c["exp"], T0 + 3600);
    assert_eq!(c["auth_time"], T0);
    assert_eq!(c["at_hash"], b64url(&sha256(at.as_bytes())[..16]));
    assert_eq!(c["name"], "Alice Example");
    assert_eq!(c["preferred_username"], "alice");
    assert_eq!(c["email"], "Alice@Example.com");
    assert_eq!(c["email_verified"], true);
    // Userinfo: fresh claims for the granted scopes.
    let r = w.call(Request {
        method: "GET".into(),
        path: "/userinfo".into(),
        headers: vec![("authorization".into(), format!("Bearer {at}"))],
        ..Default::default()
    });
    assert_eq!(r.status, 200, "{}", r.body_str());
    let u: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(u["sub"], "u-7f3a9c");
    assert_eq!(u["email"], "Alice@Example.com");
    assert_eq!(u["picture"], "https://example.com/a.png");
    // No secrets or codes in the logs.
    let logs = w.logs.borrow().join("\n");
    assert!(!logs.contains(code) && !logs.contains(at) && !logs.contains(PASSWORD) && !logs.contains(BASIC_SECRET));
}

#[test]
fn full_flow_client_secret_post_and_scope_openid_only() {
    let w = World::new();
    let p = w.code_for("post", &[("scope", "openid")]);
    let code = param(&p, "code").unwrap();
    let (status, v, _) = w.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("client_id", "post"),
            ("client_secret", POST_SECRET),
        ],
        None,
    );
    assert_eq!(status, 200, "{v}");
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(v["scope"], "openid");
    assert!(c.get("email").is_none() && c.get("name").is_none());
}

#[test]
fn full_flow_public_client_pkce_and_login_by_email() {
    let w = World::new();
    w.auto_pkce.set(false);
    let params = [
        ("response_type", "code"),
        ("client_id", "public"),
        ("redirect_uri", CB),
        ("scope", "openid email"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let page = w.authorize(&params);
    assert_eq!(page.status, 200);
    let consent = w.login(&page, "ALICE@example.com", PASSWORD);
    assert_eq!(consent.status, 200, "{}", consent.body_str());
    assert!(consent.body_str().contains("See your email address"));
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    assert_eq!(param(&p, "state"), None);
    let code = param(&p, "code").unwrap();
    let base = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB), ("client_id", "public")];
    let (status, v, _) = w.token(&base, None);
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")), "missing verifier");
    let wrong = "x".repeat(43);
    let (status, v, _) = w.token(&[base.as_slice(), &[("code_verifier", wrong.as_str())]].concat(), None);
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")), "wrong verifier");
    let (status, v, _) = w.token(&[base.as_slice(), &[("code_verifier", VERIFIER)]].concat(), None);
    assert_eq!(status, 200, "{v}");
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["aud"], "public");
    assert!(c.get("nonce").is_none());
}

#[test]
fn authorize_errors_before_redirect_uri_is_trusted_are_pages() {
    let w = World::new();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("response_type", "code"), ("redirect_uri", CB), ("scope", "openid")], "no client_id"),
        (
            vec![("client_id", "nobody"), ("redirect_uri", CB), ("scope", "openid"), ("response_type", "code")],
            "No application",
        ),
        (vec![("client_id", "basic"), ("scope", "openid"), ("response_type", "code")], "no redirect_uri"),
        (
            vec![
                ("client_id", "basic"),
                ("redirect_uri", "https://evil.example/cb"),
                ("scope", "openid"),
                ("response_type", "code"),
            ],
            "not registered",
        ),
        (
            vec![
                ("client_id", "basic"),
                ("redirect_uri", "https://app.example/cb/"),
                ("scope", "openid"),
                ("response_type", "code"),
            ],
            "not registered",
        ),
        (
            vec![("client_id", "broken"), ("redirect_uri", CB), ("scope", "openid"), ("response_type", "code")],
            "client record &#39;broken&#39;",
        ),
    ];
    for (params, text) in cases {
        let r = w.authorize(&params);
        assert_eq!(r.status, 400, "{params:?}");
        assert!(r.header("location").is_none());
        assert!(r.body_str().contains(text), "{params:?}: {}", r.body_str());
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    // A repeated parameter cannot be trusted either: page, no redirect.
    let r = w.get(&format!("/authorize?client_id=basic&client_id=public&redirect_uri={CB}"));
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    assert!(w.logs.borrow().iter().any(|l| l.contains("'broken'")), "malformed record is logged");
}

#[test]
fn authorize_errors_after_redirect_uri_redirect_with_state_and_iss() {
    let w = World::new();
    w.auto_pkce.set(false);
    let base = |extra: &[(&'static str, &'static str)], client: &'static str| {
        let mut v = vec![("client_id", client), ("redirect_uri", CB), ("state", "s-9")];
        v.extend_from_slice(extra);
        v
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (base(&[("scope", "openid")], "basic"), "invalid_request"),
        (base(&[("response_type", "token"), ("scope", "openid")], "basic"), "unsupported_response_type"),
        (base(&[("response_type", "code"), ("scope", "profile email")], "basic"), "invalid_scope"),
        (base(&[("response_type", "code")], "basic"), "invalid_scope"),
        (base(&[("response_type", "code"), ("scope", "openid email")], "narrow"), "invalid_scope"),
        (base(&[("response_type", "code"), ("scope", "openid")], "public"), "invalid_request"),
        // PKCE is required by default, of confidential clients too (RFC 9700 §2.1.1) ...
        (base(&[("response_type", "code"), ("scope", "openid")], "basic"), "invalid_request"),
        // ... and S256 only: plain, or no method (which RFC 7636 makes plain), is refused.
        (
            base(
                &[
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", VERIFIER),
                    ("code_challenge_method", "plain"),
                ],
                "basic",
            ),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge", CHALLENGE)], "basic"),
            "invalid_request",
        ),
        (
            base(
                &[
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", VERIFIER),
                    ("code_challenge_method", "plain"),
                ],
                "public",
            ),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge", VERIFIER)], "public"),
            "invalid_request",
        ),
        (
            base(
                &[
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S512"),
                ],
                "basic",
            ),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge", "short")], "basic"),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge_method", "S256")], "basic"),
            "invalid_request",
        ),
        (base(&[("response_type", "code"), ("scope", "openid"), ("request", "eyJ")], "basic"), "request_not_supported"),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("request_uri", "https://x.example/r")], "basic"),
            "request_uri_not_supported",
        ),
        (base(&[("response_type", "code"), ("scope", "openid"), ("prompt", "none")], "legacy"), "login_required"),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("response_mode", "fragment")], "basic"),
            "invalid_request",
        ),
    ];
    for (params, code) in cases {
        let p = redirect_params(&w.authorize(&params), CB);
        assert_eq!(param(&p, "error"), Some(code), "{params:?}");
        assert!(param(&p, "error_description").is_some_and(|d| !d.is_empty()));
        assert_eq!(param(&p, "state"), Some("s-9"));
        assert_eq!(param(&p, "iss"), Some(ISSUER));
    }
    // Unknown scope values are ignored (OpenID Connect Core §3.1.2.1).
    let r = w.authorize(&base(
        &[
            ("response_type", "code"),
            ("scope", "openid weird"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
        "basic",
    ));
    assert_eq!(r.status, 200, "{}", r.body_str());
    // A legacy confidential client whose record opts out may leave PKCE out.
    let r = w.authorize(&base(&[("response_type", "code"), ("scope", "openid")], "legacy"));
    assert_eq!(r.status, 200, "{}", r.body_str());
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
}

#[test]
fn authorize_by_post_and_redirect_uri_query_is_kept() {
    let w = World::new();
    let r = w.post(
        "/authorize",
        &[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")],
        &[],
    );
    assert_eq!(r.status, 200);
    assert!(r.header("set-cookie").unwrap().contains("HttpOnly"));
    assert!(r.header("set-cookie").unwrap().starts_with("__Host-oidc_csrf="));
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
    assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
}

#[test]
fn login_failures() {
    let w = World::new();
    let page =
        w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")]);
    let wrong = w.login(&page, "alice", "nope");
    assert_eq!(wrong.status, 400);
    assert!(wrong.body_str().contains("Incorrect username or password."));
    let unknown = w.login(&page, "mallory", "nope");
    assert_eq!(unknown.status, 400);
    assert!(unknown.body_str().contains("Incorrect username or password."));
    let empty = w.login(&page, "alice", "");
    assert_eq!(empty.status, 400);
    // The retry page still works.
    assert_eq!(w.login(&wrong, "alice", PASSWORD).status, 200);
    // Without the browser's cookie (cross-site post), refused.
    let tx = hidden(&page, "tx");
    let saved = std::mem::take(&mut *w.cookies.borrow_mut());
    let r = w.post("/login", &[("tx", &tx), ("username", "alice"), ("password", PASSWORD)], &[]);
    assert_eq!(r.status, 403);
    *w.cookies.borrow_mut() = vec![("__Host-oidc_csrf".into(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into())];
    let r = w.post("/login", &[("tx", &tx), ("username", "alice"), ("password", PASSWORD)], &[]);
    assert_eq!(r.status, 403);
    *w.cookies.borrow_mut() = saved;
    // Tampered and expired page state.
    let r = w.post("/login", &[("tx", &format!("x{tx}")), ("username", "alice"), ("password", PASSWORD)], &[]);
    assert_eq!(r.status, 400);
    w.advance(601);
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("expired"));
    // A malformed user record is a clear page naming it, not a 500.
    w.users.put("user:bob", r#"{"sub":"b","username":"bob"}"#);
    w.fresh_browser();
    let page =
        w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")]);
    let r = w.login(&page, "bob", "whatever1");
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("user:bob"));
}

#[test]
fn consent_deny_and_stage_checks() {
    let w = World::new();
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "basic"),
        ("redirect_uri", CB),
        ("scope", "openid profile"),
        ("state", "s"),
    ]);
    let consent = w.login(&page, "alice", PASSWORD);
    let body = consent.body_str();
    assert!(body.contains("basic app") && body.contains("Sign you in") && body.contains("basic profile"));
    assert!(!body.contains("email address"));
    let p = redirect_params(&w.consent(&consent, "deny"), CB);
    assert_eq!(param(&p, "error"), Some("access_denied"));
    assert_eq!(param(&p, "state"), Some("s"));
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    // A login-stage page posted to /consent (skipping the password) is refused.
    let r = w.consent(&page, "allow");
    assert_eq!(r.status, 400);
    // Consent-stage state cannot be reused to log in again.
    assert_eq!(w.login(&consent, "alice", PASSWORD).status, 400);
    assert_eq!(w.consent(&consent, "maybe").status, 400);
}

#[test]
fn token_client_authentication() {
    let w = World::new();
    let p = w.code_for("basic", &[]);
    let code = param(&p, "code").unwrap();
    let f = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)];
    let (s, v, r) = w.token(&f, Some(("basic", "wrong")));
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    // The registered method only: basic client using client_secret_post.
    let (s, v, r) = w.token(&[f.as_slice(), &[("client_id", "basic"), ("client_secret", BASIC_SECRET)]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(r.header("www-authenticate").is_none());
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "post"), ("client_secret", "wrong")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "public"), ("client_secret", "anything")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "basic")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "confidential client without secret");
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "nobody")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) = w.token(&f, None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) =
        w.token(&[f.as_slice(), &[("client_secret", BASIC_SECRET)]].concat(), Some(("basic", BASIC_SECRET)));
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "two methods at once");
    let r = w.post("/token", &f, &[("authorization", "Basic %%%")]);
    assert_eq!(r.status, 401);
    let (s, v, _) = w.token(&f, Some(("broken", "x")));
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(v["error_description"].as_str().unwrap().contains("broken"));
    // After all that the code is still good for its client.
    let (s, _, _) = w.token(&f, Some(("basic", BASIC_SECRET)));
    assert_eq!(s, 200);
}

#[test]
#[allow(clippy::type_complexity)]
fn token_grant_errors() {
    let w = World::new();
    // A legacy client without PKCE, so that a verifier without a challenge can be sent.
    w.auto_pkce.set(false);
    let p = w.code_for("legacy", &[]);
    let code = param(&p, "code").unwrap();
    let basic = Some(("legacy", BASIC_SECRET));
    let tampered = format!("{}x", &code[..code.len() - 1]);
    let cases: Vec<(Vec<(&str, &str)>, u16, &str)> = vec![
        (vec![("code", code), ("redirect_uri", CB)], 400, "invalid_request"),
        (vec![("grant_type", "password"), ("code", code), ("redirect_uri", CB)], 400, "unsupported_grant_type"),
        (vec![("grant_type", "authorization_code"), ("redirect_uri", CB)], 400, "invalid_request"),
        (vec![("grant_type", "authorization_code"), ("code", code)], 400, "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:9000/cb")],
            400,
            "invalid_grant",
        ),
        (vec![("grant_type", "authorization_code"), ("code", "garbage"), ("redirect_uri", CB)], 400, "invalid_grant"),
        (vec![("grant_type", "authorization_code"), ("code", &tampered), ("redirect_uri", CB)], 400, "invalid_grant"),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (form, status, err) in cases {
        let (s, v, _) = w.token(&form, basic);
        assert_eq!((s, v["error"].as_str()), (status, Some(err)), "{form:?}");
    }
    // Code issued to another client.
    let (s, v, _) = w.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("client_id", "post"),
            ("client_secret", POST_SECRET),
        ],
        None,
    );
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    // Wrong method and content type.
    let r = w.get("/token");
    assert_eq!(r.status, 405);
    let r = w.call(Request {
        method: "POST".into(),
        path: "/token".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"grant_type":"authorization_code"}"#.to_vec(),
        ..Default::default()
    });
    assert_eq!(r.status, 400);
    // Expired code.
    w.advance(61);
    let (s, v, _) = w.token(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)], basic);
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    assert!(v["error_description"].as_str().unwrap().contains("expired"));
}

#[test]
fn code_reuse_revokes_the_access_token() {
    let w = World::new();
    let (v, code) = code_flow_tokens(&w);
    let at = v["access_token"].as_str().unwrap().to_string();
    let userinfo = |t: &str| {
        w.call(Request {
            method: "GET".into(),
            path: "/userinfo".into(),
            headers: vec![("authorization".into(), format!("Bearer {t}"))],
            ..Default::default()
        })
    };
    assert_eq!(userinfo(&at).status, 200);
    let (s, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    let r = userinfo(&at);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
}

#[test]
fn userinfo_errors() {
    let w = World::new();
    let (v, _) = code_flow_tokens(&w);
    let at = v["access_token"].as_str().unwrap().to_string();
    let r = w.get("/userinfo");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let with = |h: &str| {
        w.call(Request {
            method: "GET".into(),
            path: "/userinfo".into(),
            headers: vec![("authorization".into(), h.into())],
            ..Default::default()
        })
    };
    for bad in ["Bearer garbage", "Basic abc", &format!("Bearer {at}x")] {
        let r = with(bad);
        assert_eq!(r.status, 401, "{bad}");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer error=\"invalid_token\""));
    }
    // RFC 6750 §2.2 form body.
    let r = w.post("/userinfo", &[("access_token", &at)], &[]);
    assert_eq!(r.status, 200);
    // Removed user: token no longer works.
    w.users.records.borrow_mut().remove("user:alice");
    assert_eq!(with(&format!("Bearer {at}")).status, 401);
    w.advance(3600);
    assert_eq!(with(&format!("Bearer {at}")).status, 401);
}

#[test]
fn grant_store_failure_is_temporarily_unavailable() {
    let w = World::new();
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "basic"),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("state", "s"),
    ]);
    let consent = w.login(&page, "alice", PASSWORD);
    w.grants.fail.set(true);
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    assert_eq!(param(&p, "error"), Some("temporarily_unavailable"));
    w.grants.fail.set(false);
    let (v, _) = code_flow_tokens(&w);
    assert!(v["access_token"].is_string());
    let p = w.code_for("basic", &[]);
    w.grants.fail.set(true);
    let (s, v, r) = w.token(
        &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!((s, v["error"].as_str()), (503, Some("temporarily_unavailable")));
    assert!(r.header("retry-after").is_some());
}

#[test]
fn unknown_paths_and_methods() {
    let w = World::new();
    assert_eq!(w.get("/nope").status, 404);
    assert_eq!(w.get("/login").status, 405);
    let r = w.call(Request { method: "DELETE".into(), path: "/userinfo".into(), ..Default::default() });
    assert_eq!(r.status, 405);
    let r = w.call(Request { method: "OPTIONS".into(), path: "/token".into(), ..Default::default() });
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

fn login_from(w: &World, page: &Response, ip: &str, username: &str, password: &str) -> Response {
    let tx = hidden(page, "tx");
    w.post("/login", &[("tx", &tx), ("username", username), ("password", password)], &[("cf-connecting-ip", ip)])
}

fn fresh_login_page(w: &World) -> Response {
    w.fresh_browser();
    w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")])
}

#[test]
fn login_throttling_delays_then_locks_per_account() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let ip = "198.51.100.7";
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-1").status, 400);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-2").status, 400);
    // Growing delay: even the right password is refused, unchecked, until it passes.
    let r = login_from(&w, &page, ip, "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.body_str().contains("Too many failed sign-in attempts"));
    w.advance(1);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-3").status, 400);
    assert_eq!(login_from(&w, &page, ip, "Alice@Example.com ", "x").status, 429, "same account however typed");
    w.advance(2);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-4").status, 400);
    w.advance(4);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-5").status, 400);
    let r = login_from(&w, &page, ip, "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("900"));
    assert!(r.body_str().contains("locked"), "{}", r.body_str());
    // Another account from the same address is unaffected; the lock ends.
    w.users.put(
        "user:bob",
        &w.users.get("user:alice").unwrap().replace("\"alice\"", "\"bob\"").replace("u-7f3a9c", "u-b0b"),
    );
    assert_eq!(login_from(&w, &page, ip, "bob", PASSWORD).status, 200);
    w.advance(900);
    let page = fresh_login_page(&w);
    assert_eq!(login_from(&w, &page, ip, "alice", PASSWORD).status, 200);
}

/// An unknown name gets the same page as a wrong password, costs the same work, and is counted
/// under the client IP only: a made-up name creates no counter object of its own (each would
/// be a Durable Object with a write and an alarm).
#[test]
fn unknown_accounts_get_the_same_page_and_are_counted_per_ip() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let (a, b) = (login_from(&w, &page, "192.0.2.1", "nobody", "x"), login_from(&w, &page, "192.0.2.1", "alice", "x"));
    assert_eq!((a.status, b.status), (400, 400));
    let strip = |r: &Response| r.body_str().replace(&hidden(r, "tx"), "").replace("nobody", "").replace("alice", "");
    assert_eq!(strip(&a), strip(&b), "the same page for an unknown user and a wrong password");
    for i in 0..30 {
        login_from(&w, &page, "192.0.2.1", &format!("made-up-{i}"), "x");
    }
    let counters = w.throttles.counters.borrow();
    assert!(!counters.contains_key(&crate::objects::throttle::account_key("nobody")));
    assert!(!counters.keys().any(|k| k.starts_with("login:") && *k != crate::objects::throttle::account_key("alice")));
    assert!(counters.contains_key(&crate::objects::throttle::ip_key("192.0.2.1")), "the address is counted");
}

#[test]
fn login_throttling_per_ip() {
    let w = World::new();
    let page = fresh_login_page(&w);
    for i in 0..20 {
        assert_eq!(login_from(&w, &page, "203.0.113.9", &format!("user{i}"), "x").status, 400);
    }
    let r = login_from(&w, &page, "203.0.113.9", "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert!(r.body_str().contains("from your network"), "{}", r.body_str());
    assert!(!r.body_str().contains("for this account"), "the account did nothing wrong");
    assert_eq!(login_from(&w, &page, "203.0.113.10", "alice", PASSWORD).status, 200);
}

#[test]
fn client_authentication_throttling() {
    let w = World::new();
    let p = w.code_for("basic", &[]);
    let f = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let auth = |secret: &str| {
        format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("basic:{secret}"))
        )
    };
    for _ in 0..10 {
        let r = w.post("/token", &f, &[("authorization", &auth("wrong")), ("cf-connecting-ip", "198.51.100.1")]);
        assert_eq!(r.status, 401);
    }
    let r = w.post("/token", &f, &[("authorization", &auth(BASIC_SECRET)), ("cf-connecting-ip", "198.51.100.1")]);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert!(v["error_description"].as_str().unwrap().contains("too many"));
    // From another address the client still works.
    let r = w.post("/token", &f, &[("authorization", &auth(BASIC_SECRET)), ("cf-connecting-ip", "198.51.100.2")]);
    assert_eq!(r.status, 200, "{}", r.body_str());
}

#[test]
fn forms_work_once() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let consent = w.login(&page, "alice", PASSWORD);
    assert_eq!(consent.status, 200);
    // Replaying the login form after it succeeded is refused.
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("already used"));
    let first = w.consent(&consent, "allow");
    assert_eq!(first.status, 303);
    let again = w.consent(&consent, "allow");
    assert_eq!(again.status, 400);
    assert!(again.header("location").is_none());
    assert!(again.body_str().contains("already used"));
    assert_eq!(w.consent(&consent, "deny").status, 400, "allowed, then denied");
    // Denied, then allowed: no code after the user refused.
    let page = fresh_login_page(&w);
    let consent = w.login(&page, "alice", PASSWORD);
    let p = redirect_params(&w.consent(&consent, "deny"), CB);
    assert_eq!(param(&p, "error"), Some("access_denied"));
    let r = w.consent(&consent, "allow");
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
}

#[test]
fn throttle_store_failure_is_temporarily_unavailable() {
    let w = World::new();
    let page = fresh_login_page(&w);
    w.throttles.fail.set(true);
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    let (s, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", "a.b"), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!((s, v["error"].as_str()), (503, Some("temporarily_unavailable")));
}

#[test]
fn introspection_and_revocation() {
    let w = World::new();
    let (v, _) = code_flow_tokens(&w);
    let at = v["access_token"].as_str().unwrap().to_string();
    let introspect =
        |client: Option<(&str, &str)>, token: &str| w.token_like("/introspect", &[("token", token)], client);
    let (s, body) = introspect(Some(("basic", BASIC_SECRET)), &at);
    assert_eq!(s, 200);
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "basic");
    assert_eq!(body["sub"], "u-7f3a9c");
    assert_eq!(body["scope"], "openid profile email");
    assert_eq!(body["exp"], T0 + 3600);
    assert_eq!(body["iat"], T0);
    assert_eq!(body["token_type"], "Bearer");
    // Another client learns nothing about it, and cannot revoke it.
    let post = [("client_id", "post"), ("client_secret", POST_SECRET)];
    let r = w.post("/introspect", &[&[("token", at.as_str())], post.as_slice()].concat(), &[]);
    assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap(), json!({"active": false}));
    let r = w.post("/revoke", &[&[("token", at.as_str())], post.as_slice()].concat(), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(introspect(Some(("basic", BASIC_SECRET)), &at).1["active"], true);
    // Unauthenticated: invalid_client; garbage tokens: inactive / 200.
    assert_eq!(introspect(Some(("basic", "wrong")), &at).0, 401);
    assert_eq!(introspect(Some(("basic", BASIC_SECRET)), "garbage").1, json!({"active": false}));
    assert_eq!(w.token_like("/revoke", &[("token", "garbage")], Some(("basic", BASIC_SECRET))).0, 200);
    assert_eq!(w.token_like("/revoke", &[], Some(("basic", BASIC_SECRET))).0, 400);
    // The owner revokes: userinfo and introspection reject it at once.
    let (s, _) =
        w.token_like("/revoke", &[("token", &at), ("token_type_hint", "access_token")], Some(("basic", BASIC_SECRET)));
    assert_eq!(s, 200);
    assert_eq!(introspect(Some(("basic", BASIC_SECRET)), &at).1, json!({"active": false}));
    let r = w.call(Request {
        method: "GET".into(),
        path: "/userinfo".into(),
        headers: vec![("authorization".into(), format!("Bearer {at}"))],
        ..Default::default()
    });
    assert_eq!(r.status, 401);
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["revocation_endpoint"], format!("{ISSUER}/revoke"));
    assert_eq!(d["introspection_endpoint"], format!("{ISSUER}/introspect"));
}

#[test]
fn id_token_hint_must_be_one_of_ours() {
    let w = World::new();
    let (v, _) = code_flow_tokens(&w);
    let ours = v["id_token"].as_str().unwrap().to_string();
    let base =
        [("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid"), ("state", "s")];
    let foreign_claims = b64url(br#"{"iss":"https://other.example","sub":"x"}"#);
    let foreign = format!("eyJhbGciOiJSUzI1NiJ9.{foreign_claims}.c2ln");
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", foreign.as_str()] {
        let p = redirect_params(&w.authorize(&[base.as_slice(), &[("id_token_hint", bad)]].concat()), CB);
        assert_eq!(param(&p, "error"), Some("invalid_request"), "{bad}");
        assert_eq!(param(&p, "state"), Some("s"));
    }
    // Ours, for the signed-in user whose consent is remembered: a code, no page.
    let p = redirect_params(&w.authorize(&[base.as_slice(), &[("id_token_hint", ours.as_str())]].concat()), CB);
    assert!(param(&p, "code").is_some(), "{p:?}");
    // Without a session, the login page.
    w.forget_session();
    assert_eq!(w.authorize(&[base.as_slice(), &[("id_token_hint", ours.as_str())]].concat()).status, 200);
}

#[test]
fn every_page_renews_the_csrf_cookie() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let cookie = |r: &Response| r.header("set-cookie").map(|c| c.split(';').next().unwrap().to_string());
    let first = cookie(&page).expect("login page sets the cookie");
    let again = fresh_login_page(&w);
    assert_eq!(cookie(&again).as_deref(), Some(first.as_str()), "same value, fresh Max-Age");
    let consent = w.login(&again, "alice", PASSWORD);
    assert_eq!(cookie(&consent).as_deref(), Some(first.as_str()));
    assert!(consent.header("set-cookie").unwrap().contains("Max-Age=600"));
}

#[test]
fn concurrent_wrong_passwords_cannot_pass_the_lock() {
    // Attempts are counted before the password check: with the in-memory store the calls
    // interleave like concurrent requests would if each stopped between check and count.
    use crate::objects::throttle::{account_key, Command as T};
    use crate::store::ThrottleStore;
    let w = World::new();
    let policy = w.config.account_policy();
    let key = account_key("alice");
    let allowed =
        (0..50).filter(|_| block_on(w.throttles.send(&key, T::Attempt { policy })).unwrap().is_allowed()).count();
    assert_eq!(allowed, 5);
    let page = fresh_login_page(&w);
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 429, "the 51st concurrent attempt is refused");
}

#[test]
fn address_and_phone_scopes() {
    let w = World::new();
    w.clients.put(
        "full",
        &client_record("full", "client_secret_basic", Some(BASIC_SECRET))
            .replace("openid profile email", "openid address phone"),
    );
    let mut alice: Value = serde_json::from_str(&w.users.get("user:alice").unwrap()).unwrap();
    alice["address"] = json!({"street_address": "1 Main St", "locality": "Springfield", "country": "US"});
    alice["phone_number"] = json!("+1 425 555 1212");
    alice["phone_number_verified"] = json!(true);
    w.users.put("user:alice", &alice.to_string());
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "full"),
        ("redirect_uri", CB),
        ("scope", "openid address phone"),
    ]);
    let consent = w.login(&page, "alice", PASSWORD);
    assert!(consent.body_str().contains("See your postal address"));
    assert!(consent.body_str().contains("See your phone number"));
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    let (s, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)],
        Some(("full", BASIC_SECRET)),
    );
    assert_eq!(s, 200, "{v}");
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["address"], json!({"street_address": "1 Main St", "locality": "Springfield", "country": "US"}));
    assert_eq!(c["phone_number"], "+1 425 555 1212");
    assert_eq!(c["phone_number_verified"], true);
    assert!(c.get("email").is_none());
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["scopes_supported"], json!(["openid", "profile", "email", "address", "phone", "offline_access"]));
    assert!(d["claims_supported"].as_array().unwrap().contains(&json!("phone_number_verified")));
    // A client not registered for the scope cannot ask for it.
    let r = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "basic"),
        ("redirect_uri", CB),
        ("scope", "openid phone"),
        ("state", "s"),
    ]);
    assert_eq!(param(&redirect_params(&r, CB), "error"), Some("invalid_scope"));
}

#[test]
fn pairwise_subjects() {
    let w = World::new();
    let pairwise = |id: &str, cb: &str| {
        let mut c: Value = serde_json::from_str(&client_record(id, "client_secret_basic", Some(BASIC_SECRET))).unwrap();
        c["subject_type"] = json!("pairwise");
        c["redirect_uris"] = json!([cb]);
        w.clients.put(id, &c.to_string());
    };
    pairwise("pw1", CB);
    pairwise("pw2", "https://app.example/other"); // same sector (host) as pw1
    pairwise("pw3", "https://elsewhere.example/cb");
    let sub_for = |id: &str, cb: &str| {
        w.fresh_browser();
        let page =
            w.authorize(&[("response_type", "code"), ("client_id", id), ("redirect_uri", cb), ("scope", "openid")]);
        let p = redirect_params(&w.consent(&w.login(&page, "alice", PASSWORD), "allow"), cb);
        let (s, v, _) = w.token(
            &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", cb)],
            Some((id, BASIC_SECRET)),
        );
        assert_eq!(s, 200, "{v}");
        let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
        let at = v["access_token"].as_str().unwrap().to_string();
        let r = w.call(Request {
            method: "GET".into(),
            path: "/userinfo".into(),
            headers: vec![("authorization".into(), format!("Bearer {at}"))],
            ..Default::default()
        });
        let u: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(u["sub"], c["sub"], "userinfo and ID token agree");
        c["sub"].as_str().unwrap().to_string()
    };
    let s1 = sub_for("pw1", CB);
    assert_ne!(s1, "u-7f3a9c", "not the user's own sub");
    assert_eq!(sub_for("pw1", CB), s1, "stable");
    assert_eq!(sub_for("pw2", "https://app.example/other"), s1, "same sector, same sub");
    assert_ne!(sub_for("pw3", "https://elsewhere.example/cb"), s1, "other sector, other sub");
    // Pairwise needs one host, and the discovery document says it is supported.
    let mut bad: Value = serde_json::from_str(&client_record("pw4", "none", None)).unwrap();
    bad["subject_type"] = json!("pairwise");
    let e = Client::from_record("pw4", &bad.to_string()).unwrap_err();
    assert!(e.contains("one host"), "{e}");
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["subject_types_supported"], json!(["public", "pairwise"]));
}

// ---------------------------------------------------------------- signing algorithms and keys

/// Registers `id` like "basic" but with `id_token_signed_response_alg`.
fn put_client_with_alg(w: &World, id: &str, alg: &str) {
    let mut v: Value = serde_json::from_str(&client_record(id, "client_secret_basic", Some(BASIC_SECRET))).unwrap();
    v["id_token_signed_response_alg"] = json!(alg);
    w.clients.put(id, &v.to_string());
}

fn tokens_for(w: &World, client: &str) -> Value {
    let p = w.code_for(client, &[]);
    let code = param(&p, "code").unwrap().to_string();
    let (status, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)],
        Some((client, BASIC_SECRET)),
    );
    assert_eq!(status, 200, "{v}");
    v
}

fn jws_header(token: &str) -> Value {
    serde_json::from_slice(&crate::crypto::b64url_decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

#[test]
fn es256_and_eddsa_id_tokens_verify_with_the_published_jwk() {
    use crate::keys::Alg;
    let w = World::new();
    for (client, alg, sig_len) in [("es256", Alg::ES256, 64), ("eddsa", Alg::EdDSA, 64), ("basic", Alg::RS256, 256)] {
        if client != "basic" {
            put_client_with_alg(&w, client, alg.as_str());
        }
        let v = tokens_for(&w, client);
        let token = v["id_token"].as_str().unwrap();
        let header = jws_header(token);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], w.keys.signer(alg).unwrap().kid.as_str(), "kid = the {alg} signing key");
        let sig = crate::crypto::b64url_decode(token.rsplit('.').next().unwrap()).unwrap();
        assert_eq!(sig.len(), sig_len, "{alg} signature in its JWS form");
        let c = verify_id_token(&w, token);
        assert_eq!(c["aud"], client);
        assert_eq!(c["at_hash"], super::id_token::at_hash(alg, v["access_token"].as_str().unwrap()));
    }
}

#[test]
fn rs256_tokens_use_the_active_key_never_the_retired_one() {
    let w = World::new();
    let (retired, active) = (&w.keys.keys[0], &w.keys.keys[1]);
    assert!(retired.retired_at.is_some() && active.active);
    let (v, _) = code_flow_tokens(&w);
    let header = jws_header(v["id_token"].as_str().unwrap());
    assert_eq!(header["kid"], active.kid.as_str());
    assert_ne!(header["kid"], retired.kid.as_str());
    verify_id_token(&w, v["id_token"].as_str().unwrap());
}

#[test]
fn client_alg_without_a_signing_key_is_a_clear_error() {
    // Only an RSA key: an ES256 client is refused at the authorization endpoint...
    let w = World::with_keys(test_key::JWKS);
    put_client_with_alg(&w, "es256", "ES256");
    let r = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "es256"),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("state", "s"),
    ]);
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    let body = r.body_str();
    assert!(body.contains("Application misconfigured") && body.contains("ES256"), "{body}");
    assert!(w.logs.borrow().iter().any(|l| l.contains("no ES256 signing key")));

    // ... and at the token endpoint (the record changed after the code was issued): a JSON
    // error, and the code is not used up.
    let p = w.code_for("basic", &[]);
    let code = param(&p, "code").unwrap().to_string();
    put_client_with_alg(&w, "basic", "EdDSA");
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
    let (status, v, _) = w.token(&form, Some(("basic", BASIC_SECRET)));
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], "unauthorized_client");
    assert!(v["error_description"].as_str().unwrap().contains("EdDSA"), "{v}");
    put_client_with_alg(&w, "basic", "RS256");
    let (status, v, _) = w.token(&form, Some(("basic", BASIC_SECRET)));
    assert_eq!(status, 200, "{v}");
}

#[test]
fn verify_own_token_accepts_ours_and_refuses_the_rest() {
    use super::id_token::{sign, verify_own_token};
    use crate::keys::Alg;
    let w = World::new();
    let verify = |t: &str| block_on(verify_own_token(&w.crypto, ISSUER, t));
    put_client_with_alg(&w, "eddsa", "EdDSA");
    put_client_with_alg(&w, "es256", "ES256");
    let mut tokens = vec![code_flow_tokens(&w).0["id_token"].as_str().unwrap().to_string()];
    for client in ["es256", "eddsa"] {
        tokens.push(tokens_for(&w, client)["id_token"].as_str().unwrap().to_string());
    }
    for t in &tokens {
        let claims = verify(t).unwrap_or_else(|e| panic!("{e}: {t}"));
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], "u-7f3a9c");
    }
    // Expired tokens are still ours (id_token_hint, OpenID Connect Core §3.1.2.1).
    w.advance(10 * 3600);
    assert!(verify(&tokens[0]).is_ok());

    let rs = &tokens[0];
    let parts: Vec<&str> = rs.split('.').collect();
    // Tampered signature, tampered payload.
    let mut sig = crate::crypto::b64url_decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let e = verify(&format!("{}.{}.{}", parts[0], parts[1], b64url(&sig))).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
    let other_payload = b64url(br#"{"iss":"https://id.example.com","sub":"admin"}"#);
    assert!(verify(&format!("{}.{other_payload}.{}", parts[0], parts[2])).unwrap_err().contains("does not verify"));
    // Another key's signature under our kid (the ES256 token's signature on the RS256 input).
    let es_sig = tokens[1].rsplit('.').next().unwrap();
    assert!(verify(&format!("{}.{}.{es_sig}", parts[0], parts[1])).is_err());

    // Wrong alg for the key, and alg none.
    let mut header = jws_header(rs);
    for alg in ["ES256", "none", "HS256"] {
        header["alg"] = json!(alg);
        let forged = format!("{}.{}.{}", b64url(header.to_string().as_bytes()), parts[1], parts[2]);
        let e = verify(&forged).unwrap_err();
        assert!(e.contains("alg does not match"), "{alg}: {e}");
    }

    // A key we do not publish (unknown kid), and no kid.
    let foreign_keys = PrivateJwkSet::parse(test_key::JWKS).unwrap();
    let foreign = NativeCrypto::from_set(&foreign_keys).unwrap();
    let claims: serde_json::Map<String, Value> = serde_json::from_value(json!({"iss": ISSUER, "sub": "x"})).unwrap();
    let t = block_on(sign(&foreign, Alg::RS256, &claims)).unwrap();
    assert!(verify(&t).unwrap_err().contains("unknown kid"));
    let mut header = jws_header(rs);
    header.as_object_mut().unwrap().remove("kid");
    let no_kid = format!("{}.{}.{}", b64url(header.to_string().as_bytes()), parts[1], parts[2]);
    assert!(verify(&no_kid).unwrap_err().contains("no kid"));

    // Our key, a foreign issuer.
    let claims: serde_json::Map<String, Value> =
        serde_json::from_value(json!({"iss": "https://evil.example", "sub": "x"})).unwrap();
    let t = block_on(sign(&w.crypto, Alg::ES256, &claims)).unwrap();
    assert!(verify(&t).unwrap_err().contains("not issued by this provider"));

    // The retired key's tokens still verify (it stays published).
    let mut only_retired = PrivateJwkSet { keys: vec![w.keys.keys[0].clone()] };
    only_retired.keys[0].retired_at = None;
    let t = block_on(sign(&NativeCrypto::from_set(&only_retired).unwrap(), Alg::RS256, &claims_of(ISSUER))).unwrap();
    assert_eq!(jws_header(&t)["kid"], w.keys.keys[0].kid.as_str());
    assert!(verify(&t).is_ok());

    // Malformed input.
    for bad in ["", "a.b", "a.b.c.d", "!!.??.**", &format!("{}.{}", parts[0], parts[1])] {
        assert!(verify(bad).is_err(), "{bad}");
    }
}

fn claims_of(iss: &str) -> serde_json::Map<String, Value> {
    serde_json::from_value(json!({"iss": iss, "sub": "x"})).unwrap()
}

/// A loopback redirect URI matches by its parsed form (RFC 8252 §7.3), so the request's spelling
/// may differ from the registered one; what is sent back is the parser's, never the request's
/// (the e2e hostile storm sent `http:/127.0.0.1:…`).
#[test]
fn loopback_redirects_are_sent_back_as_parsed() {
    let w = World::new();
    for uri in ["http:/127.0.0.1:9000/cb", "http://127.0.0.1:9000/cb", "HTTP://127.0.0.1:4711/cb"] {
        let r =
            w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", uri), ("state", "s")]);
        assert_eq!(r.status, 303, "{uri}: {}", r.body_str());
        let loc = r.header("location").unwrap();
        assert!(loc.starts_with("http://127.0.0.1:") && loc.contains("/cb?error=invalid_scope"), "{uri}: {loc}");
    }
}
