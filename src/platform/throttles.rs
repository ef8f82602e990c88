//! The `Throttles` Durable Object class (one object per counter key) and its store.

use crate::error::StoreError;
use crate::protocol::throttle::{self, Command, Counter, Verdict, PENDING_TIMEOUT_MS};
use crate::store::ThrottleStore;
use std::cell::Cell;
use worker::{durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State};

const KEY: &str = "counter";

#[durable_object]
pub struct Throttles {
    store: super::objects::ObjectStorage,
    /// The alarm this instance last set (ms; 0 = none known). Alarms are set on whole
    /// minutes and only when the deadline moves past the one already set, so repeated
    /// attempts on one counter do not each pay a storage operation for the alarm. A new
    /// instance starts at 0 and sets it again; a late alarm only deletes a spent counter later.
    alarm_at: Cell<i64>,
}

impl DurableObject for Throttles {
    fn new(state: State, _env: Env) -> Self {
        Throttles { store: super::objects::ObjectStorage::new(state), alarm_at: Cell::new(0) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let cmd: Command = match super::objects::command(&mut req).await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("malformed throttle command: {e}"), 400),
        };
        let current: Option<Counter> = self.store.load(KEY).await?;
        let now_ms = worker::Date::now().as_millis() as i64;
        // Attempt and Fail know how long failures count; Succeed and Release keep the alarm.
        let lock_ms = match &cmd {
            Command::Fail { policy } | Command::Attempt { policy } => Some(policy.lock_seconds.saturating_mul(1000)),
            _ => None,
        };
        let (write, verdict) = throttle::apply(current, cmd, now_ms);
        match write {
            Some(Some(c)) => {
                self.store.save(KEY, &c).await?;
                // Delete the counter once neither its failures nor its pending attempts count.
                if let Some(lock_ms) = lock_ms {
                    let until =
                        (c.last_failure_at + lock_ms).max(c.blocked_until).max(c.pending_since + PENDING_TIMEOUT_MS);
                    let at = (until + 60_000).div_euclid(60_000).saturating_add(1).saturating_mul(60_000);
                    if at > self.alarm_at.get() {
                        self.store.storage().set_alarm(at).await?;
                        self.alarm_at.set(at);
                    }
                }
            }
            Some(None) => {
                self.store.storage().delete_all().await?;
                self.alarm_at.set(0);
            }
            None => {}
        }
        Response::from_json(&verdict)
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(0);
        self.store.storage().delete_all().await?;
        Response::ok("expired")
    }
}

pub struct DoThrottles(pub ObjectNamespace);

impl ThrottleStore for DoThrottles {
    async fn send(&self, key: &str, cmd: Command) -> std::result::Result<Verdict, StoreError> {
        super::objects::call(&self.0, key, &cmd).await
    }
}
