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
use crate::store::cache::{CachedFetch, TtlCache};
use crate::store::memory::{MemoryAccounts, MemoryFetch, MemoryGrants, MemoryKv, MemoryThrottles};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use url::Url;

mod account;
mod authenticator;
mod authorize;
mod clients;
mod events;
mod factors;
mod flows;
mod forms;
mod hardening;
mod pages;
mod passkeys;
mod refresh;
mod resources;
mod sessions;
mod signing;
mod tokens;

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
    type Fetch = CachedFetch<MemoryFetch>;
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
    /// The audit events' JSON lines (crate::audit::line).
    events: RefCell<Vec<String>>,
    /// The browser's cookies, name → value.
    cookies: RefCell<Vec<(String, String)>>,
    /// Every client must use PKCE unless its record opts out: authorization requests without
    /// a `code_challenge` get [`CHALLENGE`] (S256) added, and code redemptions without a
    /// `code_verifier` get [`VERIFIER`]. Off for the tests of PKCE itself.
    auto_pkce: Cell<bool>,
    /// Other servers (metadata documents, JWK Sets), and the isolate's cache of them.
    fetch: MemoryFetch,
    fetch_cache: Rc<RefCell<TtlCache<crate::http::Fetched>>>,
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
        World::with(jwks, &[])
    }

    /// A world with settings besides the issuer (`[vars]` and secrets by name).
    pub(crate) fn with_vars(vars: &[(&str, &str)]) -> World {
        World::with(test_key::MULTI, vars)
    }

    fn with(jwks: &str, vars: &[(&str, &str)]) -> World {
        let keys = PrivateJwkSet::parse(jwks).expect("fixture key");
        let crypto = NativeCrypto::from_set(&keys).expect("fixture key");
        let config = Config::from_vars(|k| match k {
            "ISSUER" => Some(ISSUER.into()),
            "CODE_TTL_SECONDS" => Some("60".into()),
            _ => vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()),
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
            events: RefCell::new(vec![]),
            cookies: RefCell::new(vec![]),
            auto_pkce: Cell::new(true),
            fetch: MemoryFetch::default(),
            fetch_cache: Rc::new(RefCell::new(TtlCache::default())),
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
        let now = self.now.get();
        let audit = |e: crate::audit::Event<'_>| {
            let line = crate::audit::line(&e, &req, now, self.config.audit_full_ip);
            self.events.borrow_mut().push(line)
        };
        let fetch =
            CachedFetch { inner: self.fetch.clone(), cache: self.fetch_cache.clone(), now_ms: self.now.get() * 1000 };
        let p = Provider::<Memory> {
            config: &self.config,
            clients: &self.clients,
            users: &self.users,
            grants: &self.grants,
            throttles: &self.throttles,
            accounts: &self.accounts,
            crypto: &self.crypto,
            fetch: &fetch,
            keys: &self.session_keys,
            pairwise_salt: Some(b"pairwise-salt-for-tests-0123456789"),
            now: self.now.get(),
            log: &log,
            audit: &audit,
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
