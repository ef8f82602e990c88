//! The only code that touches the Workers runtime: the fetch entry point, conversion of
//! requests and responses, configuration from the environment, and the KV, Durable
//! Object and WebCrypto implementations of the store and crypto traits.

mod accounts;
mod fetch;
mod grants;
mod kv;
mod objects;
#[cfg(feature = "bench")]
mod probes;
mod throttles;
mod webcrypto;

use crate::config::{Config, OriginCheck};
use crate::error::OAuthError;
use crate::http::{self, error_json, MAX_BODY_BYTES};
use crate::keys::PrivateJwkSet;
use crate::pages;
use crate::protocol::router::{self, Documents};
use crate::protocol::Provider;
use crate::store::cache::{CachedFetch, CleanChecks, TtlCache};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen_futures::JsFuture;
use worker::{console_error, console_log, event, Context, Env, Result};

/// What is prepared once per isolate: parsed configuration, the discovery document and
/// JWKS bytes, and the imported signing key (inside `crypto`). A Worker version's variables
/// and secrets are fixed for the life of its isolates (changing them deploys a new version),
/// so nothing is re-read per request.
struct Isolate {
    config: Config,
    docs: Documents,
    crypto: webcrypto::WebCrypto,
    keys: crate::crypto::SessionKeys,
    pairwise_salt: Option<Vec<u8>>,
}

/// The KV and Durable Object bindings, looked up once per isolate: a binding is the same
/// object for every request of an isolate, and `Env::kv` alone reads six properties across
/// the JavaScript boundary (2 % of an authorization request's isolate time in the profile).
struct Stores {
    clients: kv::KvClients,
    users: kv::KvUsers,
    grants: grants::DoGrants,
    throttles: throttles::DoThrottles,
    accounts: accounts::DoAccounts,
}

thread_local! {
    static ISOLATE: RefCell<Option<Rc<Isolate>>> = const { RefCell::new(None) };
    static STORES: RefCell<Option<Rc<Stores>>> = const { RefCell::new(None) };
    /// Throttle counters this isolate saw clean (store::cache::CleanChecks).
    static CLEAN_CHECKS: Rc<RefCell<TtlCache<()>>> = Rc::new(RefCell::new(TtlCache::default()));
    /// Documents fetched from other servers (store::cache::CachedFetch).
    static FETCHED: Rc<RefCell<TtlCache<http::Fetched>>> = Rc::new(RefCell::new(TtlCache::default()));
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string()).or_else(|| env.secret(name).ok().map(|v| v.to_string()))
}

fn isolate(env: &Env) -> std::result::Result<Rc<Isolate>, String> {
    if let Some(i) = ISOLATE.with(|c| c.borrow().clone()) {
        return Ok(i);
    }
    let keys_json = var(env, "SIGNING_KEYS").ok_or("the SIGNING_KEYS secret is not set (see docs/configuration.md)")?;
    let session = var(env, "SESSION_KEY").ok_or("the SESSION_KEY secret is not set (see docs/configuration.md)")?;
    let salt = var(env, "PAIRWISE_SALT");
    let config = Config::from_vars(|name| var(env, name))?;
    let keys = PrivateJwkSet::parse(&keys_json)?;
    let session_key = crate::crypto::b64url_decode(session.trim())
        .filter(|k| k.len() >= 32)
        .ok_or("SESSION_KEY must be at least 32 bytes, base64url-encoded (oidc-admin keys session-key)")?;
    let pairwise_salt = match salt.map(|s| s.trim().as_bytes().to_vec()) {
        Some(s) if s.len() < 32 => {
            return Err("PAIRWISE_SALT must be at least 32 characters (oidc-admin keys session-key)".into())
        }
        other => other,
    };
    let docs = Documents::new(&config, &keys, pairwise_salt.is_some());
    let i = Rc::new(Isolate {
        config,
        docs,
        crypto: webcrypto::WebCrypto::new(keys),
        keys: crate::crypto::SessionKeys::derive(&session_key),
        pairwise_salt,
    });
    ISOLATE.with(|c| *c.borrow_mut() = Some(i.clone()));
    Ok(i)
}

/// The bindings (None while one is missing: asked again on the next request).
fn stores(env: &Env) -> Option<Rc<Stores>> {
    if let Some(s) = STORES.with(|c| c.borrow().clone()) {
        return Some(s);
    }
    let s = Rc::new(Stores {
        clients: kv::KvClients(env.kv("CLIENTS").ok()?),
        users: kv::KvUsers(env.kv("USERS").ok()?),
        grants: grants::DoGrants(env.durable_object("GRANTS").ok()?),
        throttles: throttles::DoThrottles(env.durable_object("THROTTLES").ok()?),
        accounts: accounts::DoAccounts(env.durable_object("ACCOUNTS").ok()?),
    });
    STORES.with(|c| *c.borrow_mut() = Some(s.clone()));
    Some(s)
}

/// The provider on Workers: KV, Durable Objects (a throttle's clean checks remembered per
/// isolate, store::cache::CleanChecks), WebCrypto.
struct Workers;

impl crate::protocol::Backend for Workers {
    type Clients = kv::KvClients;
    type Users = kv::KvUsers;
    type Grants = grants::DoGrants;
    type Throttles = CleanChecks<throttles::DoThrottles>;
    type Accounts = accounts::DoAccounts;
    type Crypto = webcrypto::WebCrypto;
    type Fetch = CachedFetch<fetch::WorkerFetch>;
}

/// The clock, in milliseconds (`Date.now()`: one call, no `Date` object).
fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

fn now() -> i64 {
    now_ms() / 1000
}

fn log(line: &str) {
    console_error!("{}", line);
}

/// An audit event's JSON line (crate::audit), on the console's standard stream; and, with an
/// Analytics Engine dataset bound as `EVENTS`, a data point.
fn audit_event(env: &Env, e: crate::audit::Event<'_>, req: &http::Request, full_ip: bool) {
    console_log!("{}", crate::audit::line(&e, req, now(), full_ip));
    if let Ok(dataset) = env.analytics_engine("EVENTS") {
        let (index, blobs) = crate::audit::data_point(&e);
        let point = worker::AnalyticsEngineDataPointBuilder::new().indexes([index.as_str()]).add_double(1.0);
        let point = blobs.into_iter().fold(point, |p, b| p.add_blob(b.as_str()));
        if let Err(err) = dataset.write_data_point(&point.build()) {
            log(&format!("analytics engine: {err}"));
        }
    }
}

/// A `configuration.error` event, with the request's id, address and agent (the only headers
/// copied: the request is not read further).
fn configuration_event(env: &Env, req: &web_sys::Request, reason: &'static str) {
    let js = req.headers();
    let headers = ["cf-ray", "cf-connecting-ip", "user-agent"]
        .into_iter()
        .filter_map(|name| js.get(name).ok().flatten().map(|v| (name.to_string(), v)))
        .collect();
    let meta = http::Request { headers, ..Default::default() };
    let kind = crate::audit::Kind::ConfigurationError;
    audit_event(env, crate::audit::Event::new(kind).reason(reason), &meta, false);
}

/// The 503 page of a provider that must not answer (docs/configuration.md), with its event.
fn misconfigured(env: &Env, req: &web_sys::Request, detail: &str, reason: &'static str) -> Result<web_sys::Response> {
    log(&format!("configuration error: {detail}"));
    configuration_event(env, req, reason);
    let body = pages::bare_error_page(503, "Provider not configured", detail);
    from_http(body.with_header("retry-after", "60"))
}

/// Why a request could not be read: malformed (400) or too large (413).
enum Unreadable {
    Bad(OAuthError),
    TooLarge,
}

impl From<OAuthError> for Unreadable {
    fn from(e: OAuthError) -> Unreadable {
        Unreadable::Bad(e)
    }
}

/// The body, read chunk by chunk and given up at the first chunk past the cap (a chunked
/// upload declares no length: it is never read whole).
async fn read_body(req: &web_sys::Request) -> std::result::Result<Vec<u8>, Unreadable> {
    use wasm_bindgen::JsCast;
    let Some(stream) = req.body() else { return Ok(Vec::new()) };
    let unreadable = |_| OAuthError::invalid_request("the request body could not be read");
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = http::CappedBody::default();
    loop {
        let step = JsFuture::from(reader.read()).await.map_err(unreadable)?;
        let done = js_sys::Reflect::get(&step, &"done".into()).map_err(unreadable)?;
        if done.is_truthy() {
            return Ok(body.into_bytes());
        }
        let chunk = js_sys::Uint8Array::new(&js_sys::Reflect::get(&step, &"value".into()).map_err(unreadable)?);
        let len = chunk.length() as usize;
        if body.room_for(len).is_err() {
            // Stop the upload; nothing more is read (the promise's outcome does not matter).
            let _ = reader.cancel();
            return Err(Unreadable::TooLarge);
        }
        body.append(len, |dst| chunk.copy_to(dst)).map_err(|_| Unreadable::TooLarge)?;
    }
}

/// `bare` (method and path) completed with the query, the headers the provider reads
/// ([`http::READ_HEADERS`], by name: not every header the client sent) and the body, read out
/// of JavaScript.
async fn to_http(
    req: &web_sys::Request,
    bare: http::Request,
    query: &str,
) -> std::result::Result<http::Request, Unreadable> {
    let unreadable = |_| OAuthError::invalid_request("the request headers could not be read");
    let js_headers = req.headers();
    let mut headers = Vec::with_capacity(http::READ_HEADERS.len());
    for name in http::READ_HEADERS {
        if let Some(v) = js_headers.get(name).map_err(unreadable)? {
            headers.push((name.to_string(), v));
        }
    }
    // A body on GET, HEAD or OPTIONS is never read, so neither is its declared length.
    let body = if matches!(bare.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
        Vec::new()
    } else {
        let declared = js_headers.get("content-length").map_err(unreadable)?.and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(Unreadable::TooLarge);
        }
        read_body(req).await?
    };
    Ok(http::Request { query: query.to_string(), headers, body, ..bare })
}

/// The runtime's `Response` for `r`: status, headers, and the body copied into a buffer (or
/// none when it is empty: a redirect; 204 and 304 must not carry one, not even an empty one).
fn from_http(r: http::Response) -> Result<web_sys::Response> {
    let headers = web_sys::Headers::new()?;
    for (k, v) in &r.headers {
        headers.append(k, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers);
    Ok(if r.body.is_empty() {
        web_sys::Response::new_with_opt_str_and_init(None, &init)?
    } else {
        let body = js_sys::Uint8Array::new_with_length(r.body.len() as u32);
        body.copy_from(&r.body);
        web_sys::Response::new_with_opt_buffer_source_and_init(Some(&body), &init)?
    })
}

/// The bench build tells the benchmark how many Durable Object calls a request made, and in
/// how many sequential round trips (`objects::count`).
#[cfg(feature = "bench")]
fn counted(r: http::Response) -> http::Response {
    let (calls, trips) = objects::count::get();
    r.with_header("x-bench-do-calls", &calls.to_string()).with_header("x-bench-do-round-trips", &trips.to_string())
}
#[cfg(not(feature = "bench"))]
fn counted(r: http::Response) -> http::Response {
    r
}

/// The Worker's entry point. It takes and returns the runtime's own `Request` and `Response`
/// (not `worker::Request`, whose constructor also builds the request's `cf` object, unused here).
#[event(fetch)]
pub async fn main(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let url = req.url();
    let Some((path, query)) = http::path_and_query(&url) else {
        return from_http(error_json(&OAuthError::invalid_request("malformed URL")));
    };
    #[cfg(feature = "bench")]
    if let Some(r) = probes::route(&req, path, query, &env).await {
        return from_http(r);
    }
    #[cfg(feature = "bench")]
    objects::count::reset();
    let iso = match isolate(&env) {
        Ok(i) => i,
        Err(e) => return misconfigured(&env, &req, &e, "configuration"),
    };
    // Never tokens or discovery for the wrong issuer (a deployment that kept the development
    // ISSUER, or a route the issuer does not name).
    match iso.config.check_origin(&url) {
        Ok(()) => {}
        Err(OriginCheck::ToHttps(to)) => {
            return from_http(http::Response::new(308, "text/plain; charset=utf-8", "").with_header("location", &to))
        }
        Err(OriginCheck::Mismatch(e)) => return misconfigured(&env, &req, &e, "wrong_origin"),
    }
    // Discovery, JWKS and the static pages depend on the method and path only: answered
    // before the request's headers and body are copied out of JavaScript.
    let bare = http::Request { method: req.method(), path: path.to_string(), ..Default::default() };
    let finish = |r| from_http(counted(router::finish(r, &iso.config)));
    if let Some(r) = router::static_route(&bare, &iso.docs) {
        return finish(r);
    }
    let js_req = req;
    let req = match to_http(&js_req, bare, query).await {
        Ok(r) => r,
        Err(Unreadable::Bad(e)) => return finish(error_json(&e)),
        Err(Unreadable::TooLarge) => return finish(http::too_large()),
    };
    let Some(stores) = stores(&env) else {
        log("configuration error: a CLIENTS/USERS KV or GRANTS/THROTTLES/ACCOUNTS Durable Object binding is missing");
        configuration_event(&env, &js_req, "configuration");
        return finish(error_json(&OAuthError::unavailable("the provider's storage bindings are missing")));
    };
    let now_ms = now_ms();
    let throttles = CleanChecks { inner: stores.throttles.clone(), clean: CLEAN_CHECKS.with(Rc::clone), now_ms };
    let fetch = CachedFetch { inner: fetch::WorkerFetch, cache: FETCHED.with(Rc::clone), now_ms };
    let provider = Provider::<Workers> {
        config: &iso.config,
        clients: &stores.clients,
        users: &stores.users,
        grants: &stores.grants,
        throttles: &throttles,
        accounts: &stores.accounts,
        crypto: &iso.crypto,
        fetch: &fetch,
        keys: &iso.keys,
        pairwise_salt: iso.pairwise_salt.as_deref(),
        now: now_ms / 1000,
        log: &log,
        audit: &|e| audit_event(&env, e, &req, iso.config.audit_full_ip),
    };
    let resp = provider.handle(&req).await;
    finish(resp)
}
