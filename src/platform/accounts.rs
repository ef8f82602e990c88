//! The `Accounts` Durable Object class (one object per user, named after the user's own
//! `sub`) and the store that talks to it. The object runs [`account_object::apply`]:
//! read, decide, write — atomic, as for grants — and writes only the parts the command
//! changed, in account_object's storage layout.

use super::objects::{object_class, ObjectClass, ObjectStorage};
use crate::error::StoreError;
use crate::objects::account::{
    self as account_object, entries, from_entries, Account, AccountOp, Command, Consent, Factors, Session, StoredGrant,
    CONSENTS_KEY, FACTORS_KEY, GRANT_PREFIX, SESSIONS_KEY,
};
use crate::store::AccountStore;
use serde_json::Value;
use std::cell::RefCell;
use worker::{ObjectNamespace, Result};

pub struct AccountObject {
    store: ObjectStorage,
    /// The account as this instance last read or wrote it (`None`: not known). An object
    /// instance is the only writer of its storage, so this stays true while the instance
    /// lives; it spares reading and parsing the account (its sessions and consents, several KB
    /// for an active user) on every call — a returning user's authorization request among them.
    cached: RefCell<Option<Account>>,
}

object_class!(Accounts, AccountObject);

impl ObjectClass for AccountObject {
    const WHAT: &'static str = "account";
    type Command = Command;
    type Reply = Value;

    fn new(store: ObjectStorage) -> Self {
        AccountObject { store, cached: RefCell::new(None) }
    }

    async fn apply(&self, _at: &str, cmd: Command) -> Result<Value> {
        // Taken out while the command runs: a failed read or write leaves it unknown.
        let cached = self.cached.borrow_mut().take();
        let mut acct = match cached {
            Some(acct) => acct,
            None => self.read().await?,
        };
        let (changes, reply) = account_object::apply(&mut acct, cmd, super::now());
        if !changes.any() {
            *self.cached.borrow_mut() = Some(acct);
            return Ok(reply);
        }
        let (put, delete) = entries(&acct, &changes);
        // Cached before the write is awaited: a command delivered meanwhile reads this
        // instance's latest account (or, if it finds none, storage, which has the write).
        *self.cached.borrow_mut() = Some(acct);
        if let Err(e) = self.write(put, delete).await {
            self.cached.borrow_mut().take();
            return Err(e);
        }
        Ok(reply)
    }
}

impl AccountObject {
    /// The stored account (account_object's layout).
    async fn read(&self) -> Result<Account> {
        let sessions = self.store.load::<Vec<Session>>(SESSIONS_KEY).await?;
        let consents = self.store.load::<Vec<Consent>>(CONSENTS_KEY).await?;
        let factors = self.store.load::<Factors>(FACTORS_KEY).await?;
        // Grants are only ever stored under a consent.
        let grants = match &consents {
            Some(c) if !c.is_empty() => self.store.list::<StoredGrant>(GRANT_PREFIX).await?,
            _ => vec![],
        };
        Ok(from_entries(sessions, consents, factors, grants.into_iter().filter_map(|(k, g)| Some((k, g?)))))
    }

    async fn write(&self, put: Vec<(String, String)>, delete: Vec<String>) -> Result<()> {
        for (key, text) in &put {
            self.store.save_text(key, text).await?;
        }
        if !delete.is_empty() {
            self.store.delete(&delete).await?;
        }
        Ok(())
    }
}

pub struct DoAccounts(pub ObjectNamespace);

impl AccountStore for DoAccounts {
    async fn send<O: AccountOp>(&self, sub: &str, op: O) -> std::result::Result<O::Reply, StoreError> {
        super::objects::call(&self.0, &format!("account:{sub}"), &op.into()).await
    }
}
