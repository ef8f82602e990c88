//! The `Grants` Durable Object class and the store that talks to it. The object runs
//! [`grant_object::apply`]: read, decide, write — atomic, because a Durable Object processes
//! one event at a time and its storage calls close the input gate.
//!
//! Two kinds of object, told apart by the grant id (model::grant::home_of):
//! - one object per grant, named after its id, the value under `grant` — grants made through
//!   a page (login or consent), whose id is reserved when the page is shown;
//! - a home: the object named `home:<home>` that keeps every grant of one user at one client
//!   made without a page (a returning user's code), each under `grant:<id>`; the call names
//!   the grant in its path ([`objects::call_at`]). Withdrawing the consent revokes the whole
//!   home (`Command::RevokeHome`): its grants are deleted, and the time is kept under
//!   `revoked` so that codes issued until then cannot create their grant afterwards.
//!
//! An instance keeps the grants it last wrote in memory (store::cache::Recent) and reads
//! storage only for the others; the alarm and `RevokeHome`, which delete, clear it.

use super::objects::{self, object_class, ObjectClass, ObjectStorage};
use crate::error::StoreError;
use crate::objects::grant::{GrantOp, Stored};
use crate::objects::home::{self, AlarmStep, ObjectCommand, RevokeHome, ENTRY_PREFIX, OWN_KEY, REVOKED_KEY};
use crate::store::cache::Recent;
use crate::store::GrantStore;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use worker::{ObjectNamespace, Result};

pub struct GrantObject {
    store: ObjectStorage,
    /// A home's alarm as this instance last saw or set it (outer `None`: not read yet), so
    /// that a grant's first write reads it at most once per instance.
    alarm: Cell<Option<Option<i64>>>,
    /// A home's revocation time, likewise (only this instance writes it).
    revoked: Cell<Option<Option<i64>>>,
    /// The grants this instance last wrote, and some it read (store::cache::Recent).
    recent: RefCell<Recent<Stored>>,
}

/// Grants kept in an instance's memory. A home holds one user's grants at one client, few of
/// them in use at once; a grant is a kilobyte or two.
const RECENT: usize = 16;

object_class!(Grants, GrantObject);

impl ObjectClass for GrantObject {
    const WHAT: &'static str = "grant";
    const KEYED: bool = true;
    type Command = ObjectCommand;
    type Reply = Value;

    fn new(store: ObjectStorage) -> Self {
        GrantObject {
            store,
            alarm: Cell::new(None),
            revoked: Cell::new(None),
            recent: RefCell::new(Recent::new(RECENT)),
        }
    }

    async fn apply(&self, at: &str, cmd: ObjectCommand) -> Result<Value> {
        let cmd = match (cmd, at) {
            (ObjectCommand::RevokeHome { revoke_home }, "") => return self.revoke_home(revoke_home.revoked_at).await,
            (ObjectCommand::RevokeHome { .. }, _) => {
                return Err(worker::Error::RustError("a home is revoked as a whole".into()))
            }
            (ObjectCommand::Grant(cmd), _) => cmd,
        };
        if !at.is_empty() && crate::model::grant::home_of(at).is_none() {
            return Err(worker::Error::RustError(format!("not a grant of a home: {at:?}")));
        }
        let key = home::storage_key(at);
        let remembered = self.recent.borrow().get(&key);
        let current: Option<Stored> = match remembered {
            Some(st) => Some(st),
            None => {
                let loaded: Option<Stored> = self.store.load(&key).await?;
                if let Some(st) = &loaded {
                    self.recent.borrow_mut().read(&key, st);
                }
                loaded
            }
        };
        // A home's revocation time is read only when a sealed code's first redemption asks.
        let revoked = if home::needs_revoked(at, current.as_ref(), &cmd) { self.revoked_at().await? } else { None };
        let step = home::apply_entry(at, current, cmd, || revoked, super::now());
        if let Some(st) = step.write {
            self.store.save(&key, &st).await?;
            self.recent.borrow_mut().written(&key, st);
            if let Some(by) = step.alarm_by {
                if at.is_empty() {
                    self.store.storage().set_alarm(by * 1000).await?;
                } else {
                    self.schedule_home(by).await?;
                }
            }
        }
        Ok(step.reply)
    }

    async fn alarm(&self) -> Result<()> {
        // Unknown until this handler sets it (a failed run may leave any alarm behind).
        self.alarm.set(None);
        // It deletes what is done.
        self.recent.borrow_mut().clear();
        let storage = self.store.storage();
        let now = super::now();
        let retry = || storage.set_alarm((now + home::ALARM_RETRY_SECONDS) * 1000);
        let read = self.store.load::<Stored>(OWN_KEY).await;
        match home::alarm_step(read.as_ref().map(Option::as_ref), now) {
            AlarmStep::Again(at) => return storage.set_alarm(at * 1000).await,
            AlarmStep::DeleteAll => return storage.delete_all().await,
            AlarmStep::Sweep => {}
        }
        // A home (or nothing): delete the grants that are done, wake again for the next. A
        // read that fails deletes nothing: the alarm runs again a minute later.
        let (Ok(revoked_at), Ok(entries)) = (self.revoked_at().await, self.store.list::<Stored>(ENTRY_PREFIX).await)
        else {
            return retry().await;
        };
        let (gone, next) = home::sweep(entries, revoked_at, now);
        match next {
            None => {
                self.alarm.set(Some(None));
                self.revoked.set(Some(None));
                storage.delete_all().await
            }
            Some(at) => {
                self.store.delete(&gone).await?;
                self.alarm.set(Some(Some(at * 1000)));
                storage.set_alarm(at * 1000).await
            }
        }
    }
}

impl GrantObject {
    /// When this home's grants were revoked, if they were (read once per instance).
    async fn revoked_at(&self) -> Result<Option<i64>> {
        if let Some(known) = self.revoked.get() {
            return Ok(known);
        }
        let at = self.store.load::<i64>(REVOKED_KEY).await?;
        self.revoked.set(Some(at));
        Ok(at)
    }

    /// Consent withdrawn: delete every grant of this home (their tokens stop working), and
    /// keep the time so that codes issued until then cannot create their grant afterwards.
    async fn revoke_home(&self, revoked_at: i64) -> Result<Value> {
        let (at, alarm_by) = home::revoke(self.revoked_at().await?, revoked_at);
        self.store.save(REVOKED_KEY, &at).await?;
        self.revoked.set(Some(Some(at)));
        let keys: Vec<String> =
            self.store.list::<serde::de::IgnoredAny>(ENTRY_PREFIX).await?.into_iter().map(|(k, _)| k).collect();
        self.store.delete(&keys).await?;
        self.recent.borrow_mut().clear();
        self.schedule_home(alarm_by).await?;
        Ok(serde_json::json!({}))
    }

    /// A home's alarm runs no later than `at` (seconds): set when none is set or it is later.
    async fn schedule_home(&self, at: i64) -> Result<()> {
        let current = match self.alarm.get() {
            Some(known) => known,
            None => self.store.storage().get_alarm().await?,
        };
        match home::earlier_alarm(current.map(|ms| ms / 1000), at) {
            Some(at) => {
                self.store.storage().set_alarm(at * 1000).await?;
                self.alarm.set(Some(Some(at * 1000)));
            }
            None => self.alarm.set(Some(current)),
        }
        Ok(())
    }
}

pub struct DoGrants(pub ObjectNamespace);

impl GrantStore for DoGrants {
    async fn send<O: GrantOp>(&self, grant_id: &str, op: O) -> std::result::Result<O::Reply, StoreError> {
        let (object, at) = home::locate(grant_id);
        objects::call_at(&self.0, &object, at, &op.into()).await
    }

    async fn revoke_home(&self, home_name: &str, revoked_at: i64) -> std::result::Result<(), StoreError> {
        let cmd = ObjectCommand::RevokeHome { revoke_home: RevokeHome { revoked_at } };
        let _: serde::de::IgnoredAny = objects::call_at(&self.0, &format!("home:{home_name}"), "", &cmd).await?;
        Ok(())
    }
}
