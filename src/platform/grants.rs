//! The `Grants` Durable Object class (one object per grant id) and the store that talks
//! to it. The object runs [`grant_object::apply`]: read, decide, write — atomic, because
//! a Durable Object processes one event at a time and its storage calls close the input
//! gate.

use crate::error::StoreError;
use crate::protocol::grant_object::{self, Command, GrantState, Reply};
use crate::store::GrantStore;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response, Result, State,
};

const KEY: &str = "grant";

#[durable_object]
pub struct Grants {
    state: State,
}

impl DurableObject for Grants {
    fn new(state: State, _env: Env) -> Self {
        Grants { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let cmd: Command = match req.json().await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("malformed grant command: {e}"), 400),
        };
        let storage = self.state.storage();
        let current: Option<GrantState> = storage.get(KEY).await?;
        let now = (worker::Date::now().as_millis() / 1000) as i64;
        let (write, reply) = grant_object::apply(current, cmd, now);
        if let Some(st) = write {
            storage.put(KEY, &st).await?;
            // Delete the object's storage once nothing in it can be used any more.
            storage.set_alarm((st.expires_at() + 60) * 1000).await?;
        }
        Response::from_json(&reply)
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("expired")
    }
}

pub struct DoGrants(pub ObjectNamespace);

impl GrantStore for DoGrants {
    async fn send(&self, grant_id: &str, cmd: Command) -> std::result::Result<Reply, StoreError> {
        let unavailable = |e: worker::Error| StoreError::Unavailable(format!("grant object: {e}"));
        let body = serde_json::to_string(&cmd).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let stub = self.0.id_from_name(grant_id).map_err(unavailable)?.get_stub().map_err(unavailable)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
        let req = Request::new_with_init("https://grants.internal/", &init).map_err(unavailable)?;
        let mut resp = stub.fetch_with_request(req).await.map_err(unavailable)?;
        if resp.status_code() != 200 {
            let text = resp.text().await.unwrap_or_default();
            return Err(StoreError::Unavailable(format!("grant object answered {}: {text}", resp.status_code())));
        }
        resp.json::<Reply>().await.map_err(unavailable)
    }
}
