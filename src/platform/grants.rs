//! The `Grants` Durable Object class (one object per grant id) and the store that talks
//! to it. The object runs [`grant_object::apply`]: read, decide, write — atomic, because
//! a Durable Object processes one event at a time and its storage calls close the input
//! gate.

use super::objects::{object_class, ObjectClass, ObjectStorage};
use crate::error::StoreError;
use crate::protocol::grant_object::{self, Command, Reply, Stored};
use crate::store::GrantStore;
use worker::{ObjectNamespace, Result};

const KEY: &str = "grant";

pub struct GrantObject {
    store: ObjectStorage,
}

object_class!(Grants, GrantObject);

impl ObjectClass for GrantObject {
    const WHAT: &'static str = "grant";
    type Command = Command;
    type Reply = Reply;

    fn new(store: ObjectStorage) -> Self {
        GrantObject { store }
    }

    async fn apply(&self, cmd: Command) -> Result<Reply> {
        let current: Option<Stored> = self.store.load(KEY).await?;
        let first_write = current.is_none();
        let (write, reply) = grant_object::apply(current, cmd, super::now());
        if let Some(st) = write {
            self.store.save(KEY, &st).await?;
            // Delete the object's storage once nothing in it can be used any more. The alarm
            // is set at the first write only: when it fires on a grant that lives on (a code
            // redeemed for tokens, a refreshed grant), `alarm` sets it again. That keeps a
            // storage operation off every token and refresh request.
            if first_write {
                self.store.storage().set_alarm(alarm_time(&st)).await?;
            }
        }
        Ok(reply)
    }

    async fn alarm(&self) -> Result<()> {
        let storage = self.store.storage();
        match self.store.load::<Stored>(KEY).await {
            Ok(Some(st)) if st.expires_at() >= super::now() => storage.set_alarm(alarm_time(&st)).await,
            // Expired, or unreadable (nothing in it can be used): delete it.
            _ => storage.delete_all().await,
        }
    }
}

/// A minute after the last code or token in the object expires (milliseconds).
fn alarm_time(st: &Stored) -> i64 {
    (st.expires_at() + 60) * 1000
}

pub struct DoGrants(pub ObjectNamespace);

impl GrantStore for DoGrants {
    async fn send(&self, grant_id: &str, cmd: Command) -> std::result::Result<Reply, StoreError> {
        super::objects::call(&self.0, grant_id, &cmd).await
    }
}
