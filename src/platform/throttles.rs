//! The `Throttles` Durable Object class (one object per counter key) and its store.

use super::objects::{object_class, ObjectClass, ObjectStorage};
use crate::error::StoreError;
use crate::objects::throttle::{self, Command, Counter, Verdict, PENDING_TIMEOUT_MS};
use crate::store::ThrottleStore;
use std::cell::Cell;
use worker::{ObjectNamespace, Result};

const KEY: &str = "counter";

pub struct ThrottleObject {
    store: ObjectStorage,
    /// The alarm this instance last set (ms; 0 = none known). Alarms are set on whole
    /// minutes and only when the deadline moves past the one already set, so repeated
    /// attempts on one counter do not each pay a storage operation for the alarm. A new
    /// instance starts at 0 and sets it again; a late alarm only deletes a spent counter later.
    alarm_at: Cell<i64>,
}

object_class!(Throttles, ThrottleObject);

impl ObjectClass for ThrottleObject {
    const WHAT: &'static str = "throttle";
    type Command = Command;
    type Reply = Verdict;

    fn new(store: ObjectStorage) -> Self {
        ThrottleObject { store, alarm_at: Cell::new(0) }
    }

    async fn apply(&self, _at: &str, cmd: Command) -> Result<Verdict> {
        let current: Option<Counter> = self.store.load(KEY).await?;
        let now_ms = super::now_ms();
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
        Ok(verdict)
    }

    async fn alarm(&self) -> Result<()> {
        self.alarm_at.set(0);
        self.store.storage().delete_all().await
    }
}

#[derive(Clone)]
pub struct DoThrottles(pub ObjectNamespace);

impl ThrottleStore for DoThrottles {
    async fn send(&self, key: &str, cmd: Command) -> std::result::Result<Verdict, StoreError> {
        super::objects::call(&self.0, key, &cmd).await
    }
}
