//! Calling a Durable Object, and what the objects share: one JSON command, one JSON reply,
//! bounded in time; values stored as JSON text. A failure or a timeout is
//! `StoreError::Unavailable` (→ `temporarily_unavailable`, 503).
//!
//! The call is a JavaScript RPC (`namespace.get(idFromName(name)).command(at, json)`), not an
//! HTTP request to the object's `fetch`: no `Request` or `Response` is built on either side and
//! no body is read through a promise, which makes the object round trip about half as costly
//! (bench/RESULTS.md). workerd offers RPC only on classes that extend `DurableObject`, which a
//! wasm-bindgen class cannot: the worker's entry module (scripts/entry.js, put around
//! worker-build's output by scripts/entry.sh) declares each class as such a subclass that
//! hands `command` and `alarm` to the wasm one.

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

    /// A `DurableObjectStub`, and the one RPC method every class here has (scripts/entry.js).
    type StubRef;
    #[wasm_bindgen(method, catch)]
    fn command(this: &StubRef, at: &str, command: &str) -> Result<js_sys::Promise, JsValue>;
}

fn js_error(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| format!("{e:?}"))
}

/// The bench build counts a request's Durable Object calls, for the benchmark's table: all of
/// them, and the sequential round trips among them (a call begun while none is in flight begins
/// one; calls made together, `join`, share it). Per isolate: read at concurrency 1.
#[cfg(feature = "bench")]
pub mod count {
    use std::cell::Cell;
    thread_local! {
        /// (calls, calls in flight, round trips)
        static COUNTS: Cell<(u32, u32, u32)> = const { Cell::new((0, 0, 0)) };
    }
    pub fn reset() {
        COUNTS.with(|c| c.set((0, 0, 0)));
    }
    pub(super) fn begin() {
        COUNTS.with(|c| {
            let (calls, flying, trips) = c.get();
            c.set((calls + 1, flying + 1, trips + u32::from(flying == 0)));
        });
    }
    pub(super) fn end() {
        COUNTS.with(|c| {
            let (calls, flying, trips) = c.get();
            c.set((calls, flying.saturating_sub(1), trips));
        });
    }
    /// (calls, sequential round trips) since [`reset`].
    pub fn get() -> (u32, u32) {
        COUNTS.with(|c| (c.get().0, c.get().2))
    }
}

pub async fn call<C: Serialize, R: DeserializeOwned>(
    ns: &ObjectNamespace,
    name: &str,
    cmd: &C,
) -> Result<R, StoreError> {
    call_at(ns, name, "", cmd).await
}

/// [`call`], for an entry `at` of an object that keeps several ([`ObjectClass::KEYED`]): it
/// travels as the call's first argument.
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
    let exchange = async {
        let reply = JsFuture::from(stub.command(at, &body).map_err(unavailable)?).await.map_err(unavailable)?;
        let text = reply.as_string().unwrap_or_default();
        serde_json::from_str::<R>(&text)
            .map_err(|e| StoreError::Unavailable(format!("durable object: malformed reply: {e}")))
    };
    #[cfg(feature = "bench")]
    count::begin();
    // Bound to a local so the pinned futures (which borrow `stub`) drop before it.
    #[allow(clippy::let_and_return)]
    let result = match select(pin!(exchange), pin!(Delay::from(TIMEOUT))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(StoreError::Unavailable(format!("durable object did not answer within {TIMEOUT:?}"))),
    };
    #[cfg(feature = "bench")]
    count::end();
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

/// An object's `command` (the RPC method of scripts/entry.js): the command is JSON text (parsed
/// in Rust: cheaper than passing a structured value and converting it), the reply JSON text. A
/// command that does not parse, or a storage failure, rejects the call.
pub async fn serve<O: ObjectClass>(obj: &O, at: &str, command: &str) -> Result<String, JsValue> {
    let cmd = serde_json::from_str::<O::Command>(command)
        .map_err(|e| js_sys::Error::new(&format!("malformed {} command: {e}", O::WHAT)))?;
    let at = if O::KEYED { at } else { "" };
    let reply = obj.apply(at, cmd).await.map_err(JsValue::from)?;
    serde_json::to_string(&reply).map_err(|e| js_sys::Error::new(&e.to_string()).into())
}

pub async fn alarm<O: ObjectClass>(obj: &O) -> Result<JsValue, JsValue> {
    obj.alarm().await.map_err(JsValue::from)?;
    Ok(JsValue::UNDEFINED)
}

/// Exports `$logic` (an [`ObjectClass`]) as the wasm class `$class` that the Durable Object class
/// of that name in scripts/entry.js wraps: the constructor (the object's state), `command` (the
/// RPC method) and `alarm`.
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

            pub async fn command(&self, at: String, command: String) -> Result<String, wasm_bindgen::JsValue> {
                std::panic::AssertUnwindSafe($crate::platform::objects::serve(&self.0, &at, &command)).await
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

    /// `ctx.storage`, for its asynchronous `get` (the value as it is: `worker::Storage::get`
    /// would convert it through serde-wasm-bindgen, a measurable share of a read).
    type AsyncStorage;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn async_get(this: &AsyncStorage, key: &str) -> Result<js_sys::Promise, JsValue>;
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
    raw: Option<AsyncStorage>,
}

impl ObjectStorage {
    pub fn new(state: State) -> ObjectStorage {
        let inner = state._inner();
        let raw = inner.storage().ok();
        let kv: Option<SyncKv> = raw
            .as_ref()
            .and_then(|s| js_sys::Reflect::get(s, &"kv".into()).ok())
            .filter(|kv| kv.is_object())
            .map(JsCast::unchecked_into);
        let sync = std::cell::Cell::new(kv.is_some());
        let raw = raw.map(JsCast::unchecked_into);
        ObjectStorage { state: State::from(inner), kv, sync, raw }
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
        let js = |e: JsValue| worker::Error::RustError(js_error(e));
        let value = match self.sync_kv().map(|kv| kv.kv_get(key)) {
            Some(Ok(v)) => v,
            // No synchronous API here (the call throws): use the asynchronous one from now on.
            Some(Err(_)) | None => {
                self.sync.set(false);
                let raw = self.raw.as_ref().ok_or_else(|| worker::Error::RustError("no object storage".into()))?;
                JsFuture::from(raw.async_get(key).map_err(js)?).await.map_err(js)?
            }
        };
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        let text = match value.as_string() {
            Some(text) => text,
            None => js_sys::JSON::stringify(&value).map(String::from).map_err(js)?,
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
        self.save_text(key, &serde_json::to_string(value).map_err(worker::Error::from)?).await
    }

    /// Writes JSON text under `key`. The write is issued before the first await (the runtime
    /// orders it before anything the object does next).
    pub async fn save_text(&self, key: &str, text: &str) -> worker::Result<()> {
        let text = JsValue::from_str(text);
        match self.sync_kv().map(|kv| kv.kv_put(key, &text)) {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) | None => {
                self.sync.set(false);
                self.storage().put_raw(key, text).await
            }
        }
    }
}
