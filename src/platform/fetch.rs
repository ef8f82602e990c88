//! Fetching from other servers (clients' metadata documents and JWK Sets) with the runtime's
//! `fetch`: redirects not followed (the caller checks each hop, `protocol::clients`), a
//! deadline, and the body read chunk by chunk up to a cap. Cached per isolate as the
//! responses allow (`store::cache::CachedFetch`).

use crate::http::{Fetch, Fetched};
use futures_util::future::{select, Either};
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::Delay;

pub struct WorkerFetch;

fn js_error(e: wasm_bindgen::JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| "fetch failed".into())
}

async fn fetch(url: &str, max_bytes: usize) -> Result<Fetched, String> {
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let headers = web_sys::Headers::new().map_err(js_error)?;
    headers.set("accept", "application/json").map_err(js_error)?;
    init.set_headers(&headers);
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let promise = global.fetch_with_str_and_init(url, &init);
    let resp: web_sys::Response = JsFuture::from(promise).await.map_err(js_error)?.unchecked_into();
    let h = resp.headers();
    let header = |name: &str| h.get(name).ok().flatten();
    if header("content-length").and_then(|v| v.parse::<usize>().ok()).is_some_and(|n| n > max_bytes) {
        return Err(format!("the response is larger than {max_bytes} bytes"));
    }
    let mut body = Vec::new();
    if let Some(stream) = resp.body() {
        let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
        loop {
            let step = JsFuture::from(reader.read()).await.map_err(js_error)?;
            if js_sys::Reflect::get(&step, &"done".into()).map_err(js_error)?.is_truthy() {
                break;
            }
            let chunk = js_sys::Uint8Array::new(&js_sys::Reflect::get(&step, &"value".into()).map_err(js_error)?);
            if body.len() + chunk.length() as usize > max_bytes {
                let _ = reader.cancel();
                return Err(format!("the response is larger than {max_bytes} bytes"));
            }
            body.extend(chunk.to_vec());
        }
    }
    Ok(Fetched {
        status: resp.status(),
        location: header("location"),
        cache_control: header("cache-control"),
        content_type: header("content-type"),
        body,
    })
}

impl Fetch for WorkerFetch {
    async fn get(&self, url: &str, max_bytes: usize, timeout_ms: u32) -> Result<Fetched, String> {
        let deadline = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
        match select(pin!(fetch(url, max_bytes)), pin!(deadline)).await {
            Either::Left((r, _)) => r,
            Either::Right(_) => Err(format!("no answer within {timeout_ms} ms")),
        }
    }
}
