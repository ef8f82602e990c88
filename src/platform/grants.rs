//! The `Grants` Durable Object class (one object per grant id) and the store that talks
//! to it. The object runs [`grant_object::apply`]: read, decide, write — atomic, because
//! a Durable Object processes one event at a time and its storage calls close the input
//! gate.

use crate::error::StoreError;
use crate::protocol::grant_object::{self, Command, Reply, Stored};
use crate::store::GrantStore;
use worker::{durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State};

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
        let current: Option<Stored> = storage.get(KEY).await?;
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
        super::objects::call(&self.0, grant_id, &cmd).await
    }
}
