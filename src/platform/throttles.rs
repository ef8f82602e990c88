//! The `Throttles` Durable Object class (one object per counter key) and its store.

use crate::error::StoreError;
use crate::protocol::throttle::{self, Command, Counter, Verdict, PENDING_TIMEOUT_MS};
use crate::store::ThrottleStore;
use worker::{durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State};

const KEY: &str = "counter";

#[durable_object]
pub struct Throttles {
    state: State,
}

impl DurableObject for Throttles {
    fn new(state: State, _env: Env) -> Self {
        Throttles { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let cmd: Command = match req.json().await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("malformed throttle command: {e}"), 400),
        };
        let storage = self.state.storage();
        let current: Option<Counter> = storage.get(KEY).await?;
        let now_ms = worker::Date::now().as_millis() as i64;
        // Attempt and Fail know how long failures count; Succeed and Release keep the alarm.
        let lock_ms = match &cmd {
            Command::Fail { policy } | Command::Attempt { policy } => Some(policy.lock_seconds.saturating_mul(1000)),
            _ => None,
        };
        let (write, verdict) = throttle::apply(current, cmd, now_ms);
        match write {
            Some(Some(c)) => {
                storage.put(KEY, &c).await?;
                // Delete the counter once neither its failures nor its pending attempts count.
                if let Some(lock_ms) = lock_ms {
                    let until =
                        (c.last_failure_at + lock_ms).max(c.blocked_until).max(c.pending_since + PENDING_TIMEOUT_MS);
                    storage.set_alarm(until + 60_000).await?;
                }
            }
            Some(None) => storage.delete_all().await?,
            None => {}
        }
        Response::from_json(&verdict)
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("expired")
    }
}

pub struct DoThrottles(pub ObjectNamespace);

impl ThrottleStore for DoThrottles {
    async fn send(&self, key: &str, cmd: Command) -> std::result::Result<Verdict, StoreError> {
        super::objects::call(&self.0, key, &cmd).await
    }
}
