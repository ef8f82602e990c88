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
use crate::model::grant::home_of;
use crate::objects::grant::{self as grant_object, cleanup_at, revoked_until, AlarmStep, Command, Reply, Stored};
use crate::store::cache::Recent;
use crate::store::GrantStore;
use std::cell::{Cell, RefCell};
use worker::{ObjectNamespace, Result};

/// The value of an object of one grant.
const KEY: &str = "grant";
/// The prefix of a home's entries: `grant:<id>`.
const HOME_PREFIX: &str = "grant:";
/// A home's key for when its grants were revoked (seconds).
const REVOKED: &str = "revoked";

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
    type Command = Command;
    type Reply = Reply;

    fn new(store: ObjectStorage) -> Self {
        GrantObject {
            store,
            alarm: Cell::new(None),
            revoked: Cell::new(None),
            recent: RefCell::new(Recent::new(RECENT)),
        }
    }

    async fn apply(&self, at: &str, mut cmd: Command) -> Result<Reply> {
        if let (Command::RevokeHome { revoked_at }, "") = (&cmd, at) {
            return self.revoke_home(*revoked_at).await;
        }
        let key = match at {
            "" => KEY.to_string(),
            id if home_of(id).is_some() => format!("{HOME_PREFIX}{id}"),
            _ => return Err(worker::Error::RustError(format!("not a grant of a home: {at:?}"))),
        };
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
        let first_write = current.is_none();
        // Only a sealed code's first redemption can create an entry: only it needs to know
        // whether (and when) the home was revoked.
        if first_write && key != KEY && matches!(cmd, Command::Redeem { sealed: Some(_), .. }) {
            grant_object::gate_sealed(&mut cmd, self.revoked_at().await?);
        }
        let (write, reply) = grant_object::apply(current, cmd, super::now());
        if let Some(st) = write {
            self.store.save(&key, &st).await?;
            let first_cleanup = first_write.then(|| cleanup_at(&st) * 1000);
            self.recent.borrow_mut().written(&key, st);
            // Delete what nothing can use any more. The alarm is set at a grant's first write
            // only: when it fires on a grant that lives on (a code redeemed for tokens, a
            // refreshed grant), `alarm` sets it again. That keeps a storage operation off every
            // token and refresh request.
            if let Some(at_ms) = first_cleanup {
                if key == KEY {
                    self.store.storage().set_alarm(at_ms).await?;
                } else {
                    self.schedule_home(at_ms).await?;
                }
            }
        }
        Ok(reply)
    }

    async fn alarm(&self) -> Result<()> {
        // Unknown until this handler sets it (a failed run may leave any alarm behind).
        self.alarm.set(None);
        // It deletes what is done.
        self.recent.borrow_mut().clear();
        let storage = self.store.storage();
        let now = super::now();
        let retry = || storage.set_alarm((now + grant_object::ALARM_RETRY_SECONDS) * 1000);
        let read = self.store.load::<Stored>(KEY).await;
        match grant_object::alarm_step(read.as_ref().map(Option::as_ref), now) {
            AlarmStep::Again(at) => return storage.set_alarm(at * 1000).await,
            AlarmStep::DeleteAll => return storage.delete_all().await,
            AlarmStep::Sweep => {}
        }
        // A home (or nothing): delete the grants that are done, wake again for the next. A
        // read that fails deletes nothing: the alarm runs again a minute later.
        let (Ok(revoked_at), Ok(entries)) = (self.revoked_at().await, self.store.list::<Stored>(HOME_PREFIX).await)
        else {
            return retry().await;
        };
        let (gone, next) = grant_object::sweep(entries, revoked_at, now);
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
        let at = self.store.load::<i64>(REVOKED).await?;
        self.revoked.set(Some(at));
        Ok(at)
    }

    /// Consent withdrawn: delete every grant of this home (their tokens stop working), and
    /// keep the time so that codes issued until then cannot create their grant afterwards.
    async fn revoke_home(&self, revoked_at: i64) -> Result<Reply> {
        let at = self.revoked_at().await?.map_or(revoked_at, |r| r.max(revoked_at));
        self.store.save(REVOKED, &at).await?;
        self.revoked.set(Some(Some(at)));
        let keys: Vec<String> =
            self.store.list::<serde::de::IgnoredAny>(HOME_PREFIX).await?.into_iter().map(|(k, _)| k).collect();
        self.store.delete(&keys).await?;
        self.recent.borrow_mut().clear();
        self.schedule_home(revoked_until(at) * 1000).await?;
        Ok(Reply::Revoked)
    }

    /// A home's alarm fires no later than `at_ms`: set when none is set or it is later.
    async fn schedule_home(&self, at_ms: i64) -> Result<()> {
        let current = match self.alarm.get() {
            Some(known) => known,
            None => self.store.storage().get_alarm().await?,
        };
        if current.is_none_or(|c| c > at_ms) {
            self.store.storage().set_alarm(at_ms).await?;
            self.alarm.set(Some(Some(at_ms)));
        } else {
            self.alarm.set(Some(current));
        }
        Ok(())
    }
}

pub struct DoGrants(pub ObjectNamespace);

impl DoGrants {
    /// Where a grant lives: its home's entry (the object `home:<home>`, the entry named by the
    /// id), or an object of its own named after the id (no entry).
    pub fn object_of(grant_id: &str) -> (String, &str) {
        match home_of(grant_id) {
            Some(home) => (format!("home:{home}"), grant_id),
            None => (grant_id.to_string(), ""),
        }
    }
}

impl GrantStore for DoGrants {
    async fn send(&self, grant_id: &str, cmd: Command) -> std::result::Result<Reply, StoreError> {
        let (object, at) = Self::object_of(grant_id);
        objects::call_at(&self.0, &object, at, &cmd).await
    }

    async fn revoke_home(&self, home: &str, revoked_at: i64) -> std::result::Result<(), StoreError> {
        match objects::call_at(&self.0, &format!("home:{home}"), "", &Command::RevokeHome { revoked_at }).await? {
            Reply::Revoked => Ok(()),
            other => Err(StoreError::Unavailable(format!("grant home: unexpected reply {other:?}"))),
        }
    }
}
