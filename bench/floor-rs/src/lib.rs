//! The Rust floor (bench/README.md, "The Rust floor"): the floor's authorization GET and
//! userinfo (bench/floor/index.js) written in Rust the way edge-oidc is built — workers-rs
//! entry point, the object called by JavaScript RPC (wrapped by entry.js), the synchronous
//! storage API, JSON text across the call and serde on both sides — and nothing else. The
//! same work as the JavaScript floor (same stored values, same replies, same headers), so
//! the difference between the two is what the Rust stack itself costs per request.
//!
//!   GET  /noop                       the empty request (this worker's baseline)
//!   GET  /authorize?state=…          cookie `s=<user>`: the user's account object checks the
//!                                    session (reads, writes nothing) → 303 with a code,
//!                                    and the audit line of the code issued
//!   GET  /userinfo                   Bearer `<user>~<grant>.<secret>`: the grant read in the
//!                                    user's home → JSON claims
//!   POST /seed?user=…&grant=…        (set-up) stores a redeemed grant as the floor's token does
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, Result};

/// The claims the floor's token endpoint stores with a grant.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: String,
    scope: String,
    nonce: String,
    email: String,
    email_verified: bool,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct Access {
    hash: String,
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredGrant {
    grant: Claims,
    redeemed_at: i64,
    access: Vec<Access>,
}

#[derive(Deserialize)]
struct Session {
    id: String,
}

#[derive(Deserialize)]
struct Account {
    sessions: Vec<Session>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Command {
    Read { id: String },
    Seed { id: String, stored: StoredGrant },
    Session { session: String, user: String },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
enum Reply {
    Grant { grant: Claims },
    Active { username: String, auth_time: i64 },
    Invalid,
    NoSession,
    Seeded,
}

#[derive(Serialize)]
struct UserInfo<'a> {
    sub: &'a str,
    email: &'a str,
    email_verified: bool,
    name: &'a str,
}

#[wasm_bindgen]
extern "C" {
    type Namespace;
    #[wasm_bindgen(method, js_name = idFromName)]
    fn id_from_name(this: &Namespace, name: &str) -> JsValue;
    #[wasm_bindgen(method)]
    fn get(this: &Namespace, id: &JsValue) -> Stub;
    type Stub;
    #[wasm_bindgen(method, catch)]
    fn command(this: &Stub, command: &str) -> std::result::Result<js_sys::Promise, JsValue>;

    type SyncKv;
    #[wasm_bindgen(method, catch)]
    fn get(this: &SyncKv, key: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn put(this: &SyncKv, key: &str, value: &JsValue) -> std::result::Result<(), JsValue>;

    /// `ctx.storage`, where there is no synchronous API (workerd's in-memory storage).
    type AsyncStorage;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn async_get(this: &AsyncStorage, key: &str) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = put)]
    fn async_put(this: &AsyncStorage, key: &str, value: &JsValue) -> std::result::Result<js_sys::Promise, JsValue>;

    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

fn respond(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<web_sys::Response> {
    let h = web_sys::Headers::new()?;
    for (k, v) in headers {
        h.append(k, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    let b = js_sys::Uint8Array::new_with_length(body.len() as u32);
    b.copy_from(body);
    Ok(web_sys::Response::new_with_opt_buffer_source_and_init(Some(&b), &init)?)
}

fn text(status: u16, body: &str) -> Result<web_sys::Response> {
    respond(status, &[("content-type", "text/plain")], body.as_bytes())
}

fn json(status: u16, body: &str) -> Result<web_sys::Response> {
    respond(status, &[("content-type", "application/json"), ("cache-control", "no-store")], body.as_bytes())
}

/// `n` random bytes, base64url without padding.
fn random(n: usize) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut buf = vec![0u8; n];
    get_random_values(&mut buf);
    let mut out = String::with_capacity(n * 4 / 3 + 2);
    for chunk in buf.chunks(3) {
        let v = chunk.iter().enumerate().fold(0u32, |v, (i, b)| v | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(v >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

async fn call(env: &Env, binding: &str, name: &str, cmd: &Command) -> Result<Reply> {
    let ns: Namespace = js_sys::Reflect::get(env, &binding.into())?.unchecked_into();
    let stub = ns.get(&ns.id_from_name(name));
    let reply = JsFuture::from(stub.command(&serde_json::to_string(cmd)?)?).await?;
    Ok(serde_json::from_str(&reply.as_string().unwrap_or_default())?)
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
}

#[event(fetch)]
pub async fn main(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let url = req.url();
    let origin_end = url.match_indices('/').nth(2).map_or(url.len(), |(i, _)| i);
    let (origin, rest) = url.split_at(origin_end);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    match path {
        "/noop" => text(200, "ok"),
        "/authorize" => {
            let cookie = req.headers().get("cookie")?.unwrap_or_default();
            let Some(user) = cookie.split("; ").find_map(|c| c.strip_prefix("s=")) else {
                return text(400, "no session");
            };
            let grant = random(16);
            match call(&env, "ACCOUNT", user, &Command::Session { session: user.into(), user: user.into() }).await? {
                Reply::Active { .. } => {}
                _ => return text(400, "no session"),
            }
            let to = format!(
                "{}?code={grant}~{user}&state={}&iss={}",
                param(query, "redirect_uri").unwrap_or("http://127.0.0.1:9/cb"),
                param(query, "state").unwrap_or(""),
                origin
            );
            audit(&req, "code.issued", user);
            respond(303, &[("location", &to), ("cache-control", "no-store")], b"")
        }
        "/userinfo" => {
            let auth = req.headers().get("authorization")?.unwrap_or_default();
            let token = auth.strip_prefix("Bearer ").and_then(|t| t.split('.').next()).and_then(|t| t.split_once('~'));
            let Some((user, grant)) = token else {
                return json(401, r#"{"error":"invalid_token"}"#);
            };
            match call(&env, "GRANT", &format!("home:{user}"), &Command::Read { id: grant.into() }).await? {
                Reply::Grant { grant: g } => json(
                    200,
                    &serde_json::to_string(&UserInfo {
                        sub: &g.sub,
                        email: &g.email,
                        email_verified: g.email_verified,
                        name: &g.name,
                    })?,
                ),
                _ => json(401, r#"{"error":"invalid_token"}"#),
            }
        }
        "/seed" => {
            let (user, id) = (param(query, "user").unwrap_or(""), param(query, "grant").unwrap_or(""));
            let stored = StoredGrant {
                grant: Claims {
                    sub: user.into(),
                    aud: "bench-client".into(),
                    scope: "openid profile email".into(),
                    nonce: "n".into(),
                    email: format!("{user}@example.com"),
                    email_verified: true,
                    name: "Bench User".into(),
                },
                redeemed_at: 1_790_000_000_000,
                access: vec![Access { hash: random(32), expires_at: 1_790_003_600_000 }],
            };
            match call(&env, "GRANT", &format!("home:{user}"), &Command::Seed { id: id.into(), stored }).await? {
                Reply::Seeded => text(200, "ok"),
                _ => text(500, "seed failed"),
            }
        }
        _ => text(404, "not found"),
    }
}

/// An audit event's line on the console, as the JavaScript floor writes it (the fields of
/// edge-oidc's line for the event, docs/events.md).
fn audit(req: &web_sys::Request, event: &str, subject: &str) {
    #[derive(Serialize)]
    struct Line<'a> {
        time: String,
        event: &'a str,
        outcome: &'a str,
        client_id: &'a str,
        subject: &'a str,
        ip: Option<String>,
    }
    let ip = req.headers().get("cf-connecting-ip").ok().flatten().map(|ip| match ip.rsplit_once('.') {
        Some((net, _)) => format!("{net}.0"),
        None => ip,
    });
    let time = String::from(js_sys::Date::new_0().to_iso_string()).get(..19).unwrap_or_default().to_string() + "Z";
    let line = Line { time, event, outcome: "success", client_id: "bench-client", subject, ip };
    worker::console_log!("{}", serde_json::to_string(&line).unwrap_or_default());
}

/// The floor's two object classes in one (entry.js exports it as `Grant` and `Account`):
/// one RPC method, `command`, on JSON text. Storage as edge-oidc's objects use it: the
/// synchronous API of SQLite-backed objects, else (in-memory storage) the asynchronous one.
#[wasm_bindgen]
pub struct FloorObject {
    kv: Option<SyncKv>,
    storage: AsyncStorage,
}

#[wasm_bindgen]
impl FloorObject {
    #[wasm_bindgen(constructor)]
    pub fn new(ctx: JsValue, _env: JsValue) -> FloorObject {
        let storage = js_sys::Reflect::get(&ctx, &"storage".into()).unwrap_or(JsValue::UNDEFINED);
        let kv = js_sys::Reflect::get(&storage, &"kv".into())
            .ok()
            .filter(|kv| kv.is_object())
            .map(JsCast::unchecked_into::<SyncKv>)
            .filter(|kv| kv.get("-").is_ok());
        FloorObject { kv, storage: storage.unchecked_into() }
    }

    async fn load(&self, key: &str) -> std::result::Result<Option<String>, JsValue> {
        Ok(match &self.kv {
            Some(kv) => kv.get(key)?.as_string(),
            None => JsFuture::from(self.storage.async_get(key)?).await?.as_string(),
        })
    }

    async fn save(&self, key: &str, text: &str) -> std::result::Result<(), JsValue> {
        let value = JsValue::from_str(text);
        match &self.kv {
            Some(kv) => kv.put(key, &value),
            None => JsFuture::from(self.storage.async_put(key, &value)?).await.map(|_| ()),
        }
    }

    pub async fn command(&self, command: String) -> std::result::Result<String, JsValue> {
        let err = |e: serde_json::Error| JsValue::from_str(&e.to_string());
        let reply = match serde_json::from_str::<Command>(&command).map_err(err)? {
            Command::Read { id } => match self.load(&format!("grant:{id}")).await? {
                Some(text) => Reply::Grant { grant: serde_json::from_str::<StoredGrant>(&text).map_err(err)?.grant },
                None => Reply::Invalid,
            },
            Command::Seed { id, stored } => {
                let text = serde_json::to_string(&stored).map_err(err)?;
                self.save(&format!("grant:{id}"), &text).await?;
                Reply::Seeded
            }
            // As the floor's: the account key is absent, so the session is the one asked for.
            Command::Session { session, user } => {
                let account = match self.load("account").await? {
                    Some(text) => serde_json::from_str::<Account>(&text).map_err(err)?,
                    None => Account { sessions: vec![Session { id: session.clone() }] },
                };
                if account.sessions.iter().any(|s| s.id == session) {
                    Reply::Active { username: user, auth_time: 1 }
                } else {
                    Reply::NoSession
                }
            }
        };
        serde_json::to_string(&reply).map_err(err)
    }
}
