//! Calling a Durable Object, and what the objects share: one JSON command, one JSON reply,
//! bounded in time; values stored as JSON text. A failure or a timeout is
//! `StoreError::Unavailable` (→ `temporarily_unavailable`, 503).
//!
//! The call goes straight to the runtime's stub (`namespace.get(idFromName(name)).fetch`)
//! and reads the reply with `Response.text()`: `worker::Stub` would wrap the reply body in a
//! Rust stream read chunk by chunk, a measurable share of a token request (bench/README.md).

use crate::error::StoreError;
use futures_util::future::{select, Either};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, ObjectNamespace, State, Storage};

/// The URL of an object call: the origin, and the entry as the path (mostly empty).
const OBJECT_ORIGIN: &str = "https://object.internal";

/// How long a Durable Object call may take before the request gives up.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[wasm_bindgen]
extern "C" {
    /// `DurableObjectNamespace`, as far as a call needs it.
    type Namespace;
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &Namespace, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Namespace, id: &JsValue) -> Result<StubRef, JsValue>;

    /// A `DurableObjectStub`.
    type StubRef;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &StubRef, url: &str, init: &JsValue) -> Result<js_sys::Promise, JsValue>;

    /// The reply, a `Response`.
    type Reply;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Reply) -> u16;
    #[wasm_bindgen(method, catch)]
    fn text(this: &Reply) -> Result<js_sys::Promise, JsValue>;
}

fn js_error(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| format!("{e:?}"))
}

pub async fn call<C: Serialize, R: DeserializeOwned>(
    ns: &ObjectNamespace,
    name: &str,
    cmd: &C,
) -> Result<R, StoreError> {
    call_at(ns, name, "", cmd).await
}

/// [`call`], for an entry `at` of an object that keeps several ([`ObjectClass::KEYED`]): it
/// travels as the request's path.
pub async fn call_at<C: Serialize, R: DeserializeOwned>(
    ns: &ObjectNamespace,
    name: &str,
    at: &str,
    cmd: &C,
) -> Result<R, StoreError> {
    let unavailable = |e: JsValue| StoreError::Unavailable(format!("durable object: {}", js_error(e)));
    let body = serde_json::to_string(cmd).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let ns: &Namespace = AsRef::<JsValue>::as_ref(ns).unchecked_ref();
    let stub = ns.get(&ns.id_from_name(name).map_err(unavailable)?).map_err(unavailable)?;
    let init = js_sys::Object::new();
    js_sys::Reflect::set(&init, &"method".into(), &"POST".into()).map_err(unavailable)?;
    js_sys::Reflect::set(&init, &"body".into(), &JsValue::from_str(&body)).map_err(unavailable)?;
    let exchange = async {
        let promise = stub.fetch(&format!("{OBJECT_ORIGIN}/{at}"), &init).map_err(unavailable)?;
        let reply: Reply = JsFuture::from(promise).await.map_err(unavailable)?.unchecked_into();
        let status = reply.status();
        let text = JsFuture::from(reply.text().map_err(unavailable)?).await.map_err(unavailable)?;
        let text = text.as_string().unwrap_or_default();
        if status != 200 {
            return Err(StoreError::Unavailable(format!("durable object answered {status}: {text}")));
        }
        serde_json::from_str::<R>(&text)
            .map_err(|e| StoreError::Unavailable(format!("durable object: malformed reply: {e}")))
    };
    // Bound to a local so the pinned futures (which borrow `stub`) drop before it.
    #[allow(clippy::let_and_return)]
    let result = match select(pin!(exchange), pin!(Delay::from(TIMEOUT))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(StoreError::Unavailable(format!("durable object did not answer within {TIMEOUT:?}"))),
    };
    result
}

/// What a Durable Object class does: one JSON command in, one JSON reply out, and its alarm.
/// [`object_class!`] exports it to the runtime.
pub trait ObjectClass: Sized {
    /// In error messages: "account", "grant", "throttle".
    const WHAT: &'static str;
    /// Whether a call names an entry of the object ([`call_at`]); else `at` is always empty.
    const KEYED: bool = false;
    type Command: DeserializeOwned;
    type Reply: Serialize;
    fn new(store: ObjectStorage) -> Self;
    async fn apply(&self, at: &str, cmd: Self::Command) -> worker::Result<Self::Reply>;
    async fn alarm(&self) -> worker::Result<()> {
        Ok(())
    }
}

/// An object's `fetch`, on the runtime's own `Request` and `Response`: the command is the
/// body (JSON text, parsed in Rust: cheaper than `Request.json()` plus a conversion of the
/// JavaScript value), the reply a body of JSON text. Not through `worker::Request`, whose
/// constructor also builds the request's `cf` object, nor `worker::Response`.
pub async fn serve<O: ObjectClass>(obj: &O, req: web_sys::Request) -> Result<JsValue, JsValue> {
    // The entry, from the request's path (read only where the class has entries).
    let url = if O::KEYED { req.url() } else { String::new() };
    let at = url.strip_prefix(OBJECT_ORIGIN).and_then(|p| p.strip_prefix('/')).unwrap_or("");
    let text = JsFuture::from(req.text()?).await?.as_string().unwrap_or_default();
    let (status, body) = match serde_json::from_str::<O::Command>(&text) {
        Ok(cmd) => {
            let reply = obj.apply(at, cmd).await.map_err(JsValue::from)?;
            (200, serde_json::to_string(&reply).map_err(|e| JsValue::from_str(&e.to_string()))?)
        }
        Err(e) => (400, format!("malformed {} command: {e}", O::WHAT)),
    };
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    Ok(web_sys::Response::new_with_opt_str_and_init(Some(&body), &init)?.into())
}

pub async fn alarm<O: ObjectClass>(obj: &O) -> Result<JsValue, JsValue> {
    obj.alarm().await.map_err(JsValue::from)?;
    Ok(JsValue::UNDEFINED)
}

/// Exports `$logic` (an [`ObjectClass`]) as the Durable Object class `$class`: the constructor
/// the runtime calls with the object's state, `fetch` and `alarm`. (What `#[worker::durable_object]`
/// generates, without converting to and from `worker::Request` and `worker::Response`.)
macro_rules! object_class {
    ($class:ident, $logic:ty) => {
        #[wasm_bindgen::prelude::wasm_bindgen]
        pub struct $class($logic);

        #[wasm_bindgen::prelude::wasm_bindgen]
        impl $class {
            #[wasm_bindgen(constructor)]
            pub fn new(state: worker::worker_sys::DurableObjectState, _env: wasm_bindgen::JsValue) -> $class {
                let store = $crate::platform::objects::ObjectStorage::new(worker::State::from(state));
                $class(<$logic as $crate::platform::objects::ObjectClass>::new(store))
            }

            pub async fn fetch(&self, req: web_sys::Request) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue> {
                std::panic::AssertUnwindSafe($crate::platform::objects::serve(&self.0, req)).await
            }

            pub async fn alarm(&self) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue> {
                std::panic::AssertUnwindSafe($crate::platform::objects::alarm(&self.0)).await
            }
        }
    };
}
pub(crate) use object_class;

#[wasm_bindgen]
extern "C" {
    /// `ctx.storage.kv`: the synchronous key-value API of a SQLite-backed object. It reads
    /// and writes the same entries as the asynchronous API (`ctx.storage.get/put`), inside
    /// the same implicit transaction, without a promise per operation.
    type SyncKv;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn kv_get(this: &SyncKv, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = put)]
    fn kv_put(this: &SyncKv, key: &str, value: &JsValue) -> Result<(), JsValue>;
}

/// One object's storage. Its value goes through the synchronous KV API of SQLite-backed
/// objects (every class here is: wrangler.toml `new_sqlite_classes`), which spares a promise
/// and a turn of the event loop per operation; where the runtime has no synchronous API
/// (workerd's in-memory storage, used by the benchmark's default mode) the first call finds out
/// and the object uses `ctx.storage.get/put`, which read and write the same entries.
/// Alarms and deletion always go through `worker::Storage`.
pub struct ObjectStorage {
    state: State,
    kv: Option<SyncKv>,
    sync: std::cell::Cell<bool>,
}

impl ObjectStorage {
    pub fn new(state: State) -> ObjectStorage {
        let inner = state._inner();
        let kv: Option<SyncKv> = inner
            .storage()
            .ok()
            .and_then(|s| js_sys::Reflect::get(&s, &"kv".into()).ok())
            .filter(|kv| kv.is_object())
            .map(JsCast::unchecked_into);
        let sync = std::cell::Cell::new(kv.is_some());
        ObjectStorage { state: State::from(inner), kv, sync }
    }

    /// For alarms and `delete_all`.
    pub fn storage(&self) -> Storage {
        self.state.storage()
    }

    /// The synchronous API, while it works.
    fn sync_kv(&self) -> Option<&SyncKv> {
        self.kv.as_ref().filter(|_| self.sync.get())
    }

    /// Reads the value under `key`. Values are stored as JSON text (one string crosses from
    /// JavaScript); a value stored as a structured object by an earlier version is still read.
    pub async fn load<T: DeserializeOwned>(&self, key: &str) -> worker::Result<Option<T>> {
        let text = match self.sync_kv().map(|kv| kv.kv_get(key)) {
            Some(Ok(v)) if v.is_undefined() || v.is_null() => return Ok(None),
            Some(Ok(v)) => match v.as_string() {
                Some(text) => text,
                None => {
                    js_sys::JSON::stringify(&v).map(String::from).map_err(|e| worker::Error::RustError(js_error(e)))?
                }
            },
            // No synchronous API here (the call throws): use the asynchronous one from now on.
            Some(Err(_)) | None => {
                self.sync.set(false);
                match self.storage().get::<serde_json::Value>(key).await? {
                    None => return Ok(None),
                    Some(serde_json::Value::String(text)) => text,
                    Some(value) => value.to_string(),
                }
            }
        };
        serde_json::from_str(&text).map(Some).map_err(worker::Error::from)
    }

    /// The values under keys starting with `prefix` (through the asynchronous API: for alarms),
    /// `None` for a value that does not parse.
    pub async fn list<T: DeserializeOwned>(&self, prefix: &str) -> worker::Result<Vec<(String, Option<T>)>> {
        let map = self.storage().list_with_options(worker::ListOptions::new().prefix(prefix)).await?;
        let mut out = Vec::new();
        for entry in map.entries() {
            let pair: js_sys::Array = entry.map_err(|e| worker::Error::RustError(js_error(e)))?.unchecked_into();
            let Some(key) = pair.get(0).as_string() else { continue };
            let value = pair.get(1);
            let text = value.as_string().or_else(|| js_sys::JSON::stringify(&value).ok().map(String::from));
            out.push((key, text.and_then(|t| serde_json::from_str(&t).ok())));
        }
        Ok(out)
    }

    /// Deletes `keys` (at most 128 per storage call).
    pub async fn delete(&self, keys: &[String]) -> worker::Result<()> {
        for chunk in keys.chunks(128) {
            self.storage().delete_multiple(chunk.iter().map(String::as_str).collect()).await?;
        }
        Ok(())
    }

    /// Writes `value` under `key` as JSON text.
    pub async fn save<T: Serialize>(&self, key: &str, value: &T) -> worker::Result<()> {
        let text = JsValue::from_str(&serde_json::to_string(value).map_err(worker::Error::from)?);
        match self.sync_kv().map(|kv| kv.kv_put(key, &text)) {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) | None => {
                self.sync.set(false);
                self.storage().put_raw(key, text).await
            }
        }
    }
}
