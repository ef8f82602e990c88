//! Calling a Durable Object: one JSON command, one JSON reply, bounded in time. A failure
//! or a timeout is `StoreError::Unavailable` (→ `temporarily_unavailable`, 503).

use crate::error::StoreError;
use futures_util::future::{select, Either};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{Delay, Method, ObjectNamespace, Request, RequestInit};

/// How long a Durable Object call may take before the request gives up.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn call<C: Serialize, R: DeserializeOwned>(
    ns: &ObjectNamespace,
    name: &str,
    cmd: &C,
) -> Result<R, StoreError> {
    let unavailable = |e: worker::Error| StoreError::Unavailable(format!("durable object: {e}"));
    let body = serde_json::to_string(cmd).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let stub = ns.id_from_name(name).map_err(unavailable)?.get_stub().map_err(unavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init("https://object.internal/", &init).map_err(unavailable)?;
    let exchange = async {
        let mut resp = stub.fetch_with_request(req).await.map_err(unavailable)?;
        if resp.status_code() != 200 {
            let text = resp.text().await.unwrap_or_default();
            return Err(StoreError::Unavailable(format!("durable object answered {}: {text}", resp.status_code())));
        }
        resp.json::<R>().await.map_err(unavailable)
    };
    // Bound to a local so the pinned futures (which borrow `stub`) drop before it.
    #[allow(clippy::let_and_return)]
    let result = match select(pin!(exchange), pin!(Delay::from(TIMEOUT))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(StoreError::Unavailable(format!("durable object did not answer within {TIMEOUT:?}"))),
    };
    result
}
