//! The `Accounts` Durable Object class (one object per user, named after the user's own
//! `sub`) and the store that talks to it. The object runs [`account_object::apply`]:
//! read, decide, write — atomic, as for grants.

use super::objects::{object_class, ObjectClass, ObjectStorage};
use crate::error::StoreError;
use crate::protocol::account_object::{self, Account, Command, Reply};
use crate::store::AccountStore;
use std::cell::RefCell;
use worker::{ObjectNamespace, Result};

const KEY: &str = "account";

pub struct AccountObject {
    store: ObjectStorage,
    /// The account as this instance last read or wrote it (`None`: not known). An object
    /// instance is the only writer of its storage, so this stays true while the instance
    /// lives; it spares parsing the account (its sessions and consents, several KB for an
    /// active user) on every call — a returning user's authorization request among them.
    cached: RefCell<Option<Account>>,
}

object_class!(Accounts, AccountObject);

impl ObjectClass for AccountObject {
    const WHAT: &'static str = "account";
    type Command = Command;
    type Reply = Reply;

    fn new(store: ObjectStorage) -> Self {
        AccountObject { store, cached: RefCell::new(None) }
    }

    async fn apply(&self, _at: &str, cmd: Command) -> Result<Reply> {
        // Taken out while the command runs: a failed read or write leaves it unknown.
        let cached = self.cached.borrow_mut().take();
        let mut acct = match cached {
            Some(acct) => acct,
            None => self.store.load::<Account>(KEY).await?.unwrap_or_default(),
        };
        let (write, reply) = account_object::apply(&mut acct, cmd, super::now());
        if !write {
            *self.cached.borrow_mut() = Some(acct);
            return Ok(reply);
        }
        let text = serde_json::to_string(&acct)?;
        // Cached before the write is awaited: a command delivered meanwhile reads this
        // instance's latest account (or, if it finds none, storage, which has the write).
        *self.cached.borrow_mut() = Some(acct);
        if let Err(e) = self.store.save_text(KEY, &text).await {
            self.cached.borrow_mut().take();
            return Err(e);
        }
        Ok(reply)
    }
}

pub struct DoAccounts(pub ObjectNamespace);

impl AccountStore for DoAccounts {
    async fn send(&self, sub: &str, cmd: Command) -> std::result::Result<Reply, StoreError> {
        super::objects::call(&self.0, &format!("account:{sub}"), &cmd).await
    }
}
