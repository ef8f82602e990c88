//! Benchmark probes (compiled only with the `bench` cargo feature; see bench/README.md).
//!
//! Each route under `/__bench/` performs exactly one primitive that the endpoints are built
//! from, through the same platform code the endpoints use, and answers `200 ok`. The
//! benchmark (bench/run.mjs) measures the workerd process's CPU per request of each probe,
//! so that every endpoint can be compared with the sum of the primitives it inherently needs.
//!
//! | route | primitive |
//! |---|---|
//! | `/__bench/noop` | nothing: the request/response path of this worker |
//! | `/__bench/kv` | one KV read (`CLIENTS`, key `?key=`, default `bench-client`) |
//! | `/__bench/do-read` | one Durable Object round trip, storage read only (`Throttles` `Check` on a counter never written, so the read finds nothing); `?object=written`: on the counter `/__bench/do-write-existing` writes (the read finds a value); `?spread=N`: on one of N objects at random |
//! | `/__bench/do-write` | one Durable Object round trip with one storage write to a **new** object (`Grants` `Reserve` on a fresh id, as at login; the object also sets its alarm) |
//! | `/__bench/do-write-existing` | one Durable Object round trip with one storage write to an **existing** object (`Throttles` `Fail` on a fixed key with a policy that never locks; its alarm is set on whole minutes, so nearly every call is one write) |
//! | `/__bench/rs256` | one RS256 signature with the isolate's signing key (`WebCrypto::sign`) |
//! | `/__bench/es256` | one ES256 signature through WebCrypto (P-256 key generated once per isolate) |
//! | `/__bench/audit` | one audit event's line (`consent.granted`), built and written as the endpoints write theirs |
//! | `/__bench/pbkdf2?i=N` | one PBKDF2-HMAC-SHA256 derivation, N iterations (default 100,000) |
//! | `/__bench/userinfo-steps` | not a primitive: the pieces of a userinfo request, chosen by `?with=` ([`userinfo_steps`]) |
//!
//! Never enable the feature in a deployed build: the probes are unauthenticated.

use super::objects;
use crate::crypto::{random_token, Crypto};
use crate::objects::grant::{Access, AccessReply, Reserve, ReserveReply};
use crate::objects::home;
use crate::objects::throttle::{Command as TCommand, Policy, Verdict};
use crate::store::GrantStore;
use js_sys::{Array, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, WorkerGlobalScope};
use worker::Env;

const PREFIX: &str = "/__bench/";

thread_local! {
    /// The ES256 probe's private key, generated on first use in this isolate.
    static EC_KEY: RefCell<Option<CryptoKey>> = const { RefCell::new(None) };
}

/// Answers a probe route, or `None` for every other path (the worker then proceeds as usual).
pub async fn route(req: &web_sys::Request, path: &str, query: &str, env: &Env) -> Option<crate::http::Response> {
    let probe = path.strip_prefix(PREFIX)?;
    let params = crate::http::Params::parse(query.as_bytes()).unwrap_or_default();
    let query = |name: &str| params.get(name).map(str::to_string);
    let outcome: Result<(), String> = match probe {
        "noop" => Ok(()),
        "kv" => kv_read(env, &query("key").unwrap_or_else(|| "bench-client".into())).await,
        "do-read" => do_read(env, query("object").as_deref(), query("spread").and_then(|n| n.parse().ok())).await,
        "do-write" => do_write(env).await,
        "do-write-existing" => do_write_existing(env).await,
        "userinfo-steps" => return Some(userinfo_steps(req, env, &params).await),
        "rs256" => rs256(env).await,
        "es256" => es256().await,
        "audit" => {
            audit_line(env);
            Ok(())
        }
        "pbkdf2" => pbkdf2(env, query("i").and_then(|i| i.parse().ok()).unwrap_or(100_000)).await,
        _ => Err(format!("unknown probe '{probe}'")),
    };
    Some(match outcome {
        Ok(()) => crate::http::Response::new(200, "text/plain", "ok"),
        Err(e) => crate::http::Response::new(500, "text/plain", format!("probe {probe} failed: {e}")),
    })
}

/// The bindings as the endpoints get them (once per isolate).
fn bindings(env: &Env) -> Result<std::rc::Rc<super::Stores>, String> {
    super::stores(env).ok_or_else(|| "a KV or Durable Object binding is missing".to_string())
}

async fn kv_read(env: &Env, key: &str) -> Result<(), String> {
    let stores = bindings(env)?;
    match stores.clients.0.get(key).text().await.map_err(|e| e.to_string())? {
        Some(_) => Ok(()),
        None => Err(format!("KV key '{key}' not found (seed it first)")),
    }
}

async fn do_read(env: &Env, object: Option<&str>, spread: Option<u32>) -> Result<(), String> {
    let ns = &bindings(env)?.throttles.0;
    let name = match (object, spread) {
        // The object /__bench/do-write-existing writes: the read finds a value.
        (Some("written"), _) => "bench:probe-write".to_string(),
        (_, Some(n)) if n > 0 => format!("bench:probe:{}", u32::from_le_bytes(crate::crypto::random_bytes::<4>()?) % n),
        _ => "bench:probe".to_string(),
    };
    let verdict: Verdict = objects::call(ns, &name, &TCommand::Check).await.map_err(|e| e.to_string())?;
    verdict.is_allowed().then_some(()).ok_or_else(|| format!("unexpected verdict {verdict:?}"))
}

async fn do_write(env: &Env) -> Result<(), String> {
    let stores = bindings(env)?;
    let id = random_token::<16>()?;
    // Far in the future, so that the object's alarm never fires during a benchmark run.
    let expires_at = super::now() + 3600;
    match stores.grants.send(&id, Reserve { expires_at }).await.map_err(|e| e.to_string())? {
        ReserveReply::Reserved => Ok(()),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// `/__bench/userinfo-steps?with=…&token=…`: the pieces of a userinfo request, each only when
/// its letter is in `with` — `h` copy the request's headers as every endpoint does, `o` the
/// grant object's call (`Access`, as userinfo makes it; with `m` a refusal counts as done; with
/// `i` its reply is not parsed and nothing else follows; with `g` it goes to a grant object of
/// its own that was never written, and nothing else follows), `u` the user record and the
/// claims, `r` userinfo's response (else `200 ok`). Comparing them
/// in one process (`BENCH_INTERLEAVE`, bench/README.md) tells where userinfo's cost lies.
async fn userinfo_steps(req: &web_sys::Request, env: &Env, params: &crate::http::Params) -> crate::http::Response {
    let with = params.get("with").unwrap_or("").to_string();
    let token = params.get("token").unwrap_or("").to_string();
    let fail = |e: String| crate::http::Response::new(500, "text/plain", e);
    if with.contains('h') {
        let bare = crate::http::Request { method: req.method(), path: "/".into(), ..Default::default() };
        if let Err(e) = super::to_http(req, bare, "").await {
            return fail(match e {
                super::Unreadable::Bad(e) => e.description,
                super::Unreadable::TooLarge => "too large".into(),
            });
        }
    }
    let Ok(stores) = bindings(env) else { return fail("bindings".into()) };
    let mut grant = None;
    if with.contains('o') {
        let Some((id, secret)) = crate::model::grant::split_handle(&token) else { return fail("token".into()) };
        let access = Access { token_hash: crate::objects::grant::secret_hash(secret) };
        let cmd = crate::objects::grant::Command::from(access.clone());
        if with.contains('i') {
            // The same call, its reply not parsed.
            let (object, at) = home::locate(id);
            let r: Result<serde::de::IgnoredAny, _> = objects::call_at(&stores.grants.0, &object, at, &cmd).await;
            return match r {
                Ok(_) => crate::http::Response::new(200, "text/plain", "ok"),
                Err(e) => fail(e.to_string()),
            };
        }
        if with.contains('g') {
            // A grant object of its own that was never written (the read finds nothing).
            let r: Result<AccessReply, _> = objects::call(&stores.grants.0, "bench:probe-grant", &cmd).await;
            return match r {
                Ok(AccessReply::InvalidToken { .. }) => crate::http::Response::new(200, "text/plain", "ok"),
                other => fail(format!("{other:?}")),
            };
        }
        match stores.grants.send(id, access).await {
            Ok(AccessReply::Active { grant: g, .. }) => grant = Some(g),
            Ok(AccessReply::InvalidToken { .. }) if with.contains('m') => {}
            other => return fail(format!("{other:?}")),
        }
    }
    let mut body = serde_json::Map::new();
    if with.contains('u') {
        use crate::store::UserStore;
        let Some(g) = &grant else { return fail("u needs o".into()) };
        let user = match stores.users.by_username(&g.username).await {
            Ok(Some(u)) => u,
            other => return fail(format!("{other:?}")),
        };
        body = user.claims_named(g.userinfo_claims.iter().map(String::as_str));
        body.insert("sub".into(), serde_json::Value::String(g.sub.clone()));
    }
    if with.contains('r') {
        return crate::http::Response::json(200, &body).no_store().cors();
    }
    crate::http::Response::new(200, "text/plain", "ok")
}

async fn do_write_existing(env: &Env) -> Result<(), String> {
    let ns = &bindings(env)?.throttles.0;
    // Never locks, no delays; the alarm lands an hour after the last failure.
    let policy = Policy { delay_from: u32::MAX, lock_at: None, lock_seconds: 3600 };
    let verdict: Verdict =
        objects::call(ns, "bench:probe-write", &TCommand::Fail { policy }).await.map_err(|e| e.to_string())?;
    verdict.is_allowed().then_some(()).ok_or_else(|| format!("unexpected verdict {verdict:?}"))
}

async fn rs256(env: &Env) -> Result<(), String> {
    let iso = super::isolate(env)?;
    iso.crypto.sign(crate::crypto::Alg::RS256, b"header.payload").await.map(|_| ())
}

async fn pbkdf2(env: &Env, iterations: u32) -> Result<(), String> {
    let iso = super::isolate(env)?;
    iso.crypto.pbkdf2_sha256(b"bench password", &[7u8; 16], iterations, 32).await.map(|_| ())
}

fn js_err(context: &str, e: JsValue) -> String {
    let msg = e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| format!("{e:?}"));
    format!("{context}: {msg}")
}

fn object(pairs: &[(&str, JsValue)]) -> Result<Object, String> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).map_err(|e| js_err("building algorithm", e))?;
    }
    Ok(o)
}

async fn es256() -> Result<(), String> {
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let subtle = global.crypto().map_err(|e| js_err("crypto", e))?.subtle();
    let key = match EC_KEY.with(|k| k.borrow().clone()) {
        Some(k) => k,
        None => {
            let alg = object(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())])?;
            let usages = Array::of2(&"sign".into(), &"verify".into());
            let promise =
                subtle.generate_key_with_object(&alg, false, &usages).map_err(|e| js_err("generateKey", e))?;
            let pair = JsFuture::from(promise).await.map_err(|e| js_err("generateKey", e))?;
            let private: CryptoKey =
                Reflect::get(&pair, &"privateKey".into()).map_err(|e| js_err("privateKey", e))?.unchecked_into();
            EC_KEY.with(|k| *k.borrow_mut() = Some(private.clone()));
            private
        }
    };
    let alg = object(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())])?;
    let promise = subtle.sign_with_object_and_u8_array(&alg, &key, b"header.payload").map_err(|e| js_err("sign", e))?;
    let sig = JsFuture::from(promise).await.map_err(|e| js_err("sign", e))?;
    (Uint8Array::new(&sig).length() == 64).then_some(()).ok_or_else(|| "unexpected signature length".into())
}

/// One audit event line, as a consent POST writes it (`consent.granted`: client, subject,
/// address, agent), through the endpoints' own path (super::audit_event).
fn audit_line(env: &Env) {
    let headers = [("cf-connecting-ip", "203.0.113.7"), ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let req = crate::http::Request { headers, ..Default::default() };
    let e = crate::audit::Event::new(crate::audit::Kind::ConsentGranted).client("bench-client").subject("user-0001");
    super::audit_event(env, e, &req, false);
}
