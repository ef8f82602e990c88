//! The `Accounts` Durable Object class (one object per user, named after the user's own
//! `sub`) and the store that talks to it. The object runs [`account_object::apply`]:
//! read, decide, write — atomic, as for grants.

use super::objects::{object_class, ObjectClass, ObjectStorage};
use crate::error::StoreError;
use crate::protocol::account_object::{self, Account, Command, Reply};
use crate::store::AccountStore;
use worker::{ObjectNamespace, Result};

const KEY: &str = "account";

pub struct AccountObject {
    store: ObjectStorage,
}

object_class!(Accounts, AccountObject);

impl ObjectClass for AccountObject {
    const WHAT: &'static str = "account";
    type Command = Command;
    type Reply = Reply;

    fn new(store: ObjectStorage) -> Self {
        AccountObject { store }
    }

    async fn apply(&self, _at: &str, cmd: Command) -> Result<Reply> {
        let current: Option<Account> = self.store.load(KEY).await?;
        let (write, reply) = account_object::apply(current, cmd, super::now());
        if let Some(acct) = write {
            self.store.save(KEY, &acct).await?;
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
