//! The `Accounts` Durable Object class (one object per user, named after the user's own
//! `sub`) and the store that talks to it. The object runs [`account_object::apply`]:
//! read, decide, write — atomic, as for grants.

use crate::error::StoreError;
use crate::protocol::account_object::{self, Account, Command, Reply};
use crate::store::AccountStore;
use worker::{durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State};

const KEY: &str = "account";

#[durable_object]
pub struct Accounts {
    store: super::objects::ObjectStorage,
}

impl DurableObject for Accounts {
    fn new(state: State, _env: Env) -> Self {
        Accounts { store: super::objects::ObjectStorage::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let cmd: Command = match super::objects::command(&mut req).await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("malformed account command: {e}"), 400),
        };
        let current: Option<Account> = self.store.load(KEY).await?;
        let now = (worker::Date::now().as_millis() / 1000) as i64;
        let (write, reply) = account_object::apply(current, cmd, now);
        if let Some(acct) = write {
            self.store.save(KEY, &acct).await?;
        }
        Response::from_json(&reply)
    }
}

pub struct DoAccounts(pub ObjectNamespace);

impl AccountStore for DoAccounts {
    async fn send(&self, sub: &str, cmd: Command) -> std::result::Result<Reply, StoreError> {
        super::objects::call(&self.0, &format!("account:{sub}"), &cmd).await
    }
}
