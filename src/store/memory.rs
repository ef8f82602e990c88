//! In-memory stores for host tests. The grant store runs the same
//! [`grant_object::apply`] as the Durable Object.

use super::{AccountStore, ClientStore, GrantStore, ThrottleStore, UserStore};
use crate::error::StoreError;
use crate::model::grant::home_of;
use crate::model::user::user_key;
use crate::model::{Client, ScopeDef, User};
use crate::objects::account::{self as account_object, Account};
use crate::objects::grant::{self as grant_object, Command, Reply, Stored};
use crate::objects::throttle::{self, Counter, Verdict};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

/// A KV namespace: raw JSON strings by key, parsed on read like the real one.
#[derive(Default)]
pub struct MemoryKv {
    pub records: RefCell<HashMap<String, String>>,
    /// Reads made through the store traits (what a request costs in KV reads).
    pub reads: Cell<usize>,
}

impl MemoryKv {
    pub fn put(&self, key: &str, value: &str) {
        self.records.borrow_mut().insert(key.to_string(), value.to_string());
    }
    pub fn get(&self, key: &str) -> Option<String> {
        self.records.borrow().get(key).cloned()
    }
    fn read(&self, key: &str) -> Option<String> {
        self.reads.set(self.reads.get() + 1);
        self.get(key)
    }
}

impl ClientStore for MemoryKv {
    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        match self.read(client_id) {
            None => Ok(None),
            Some(json) => Client::from_record(client_id, &json).map(Some).map_err(StoreError::Malformed),
        }
    }
    async fn scope(&self, name: &str) -> Result<Option<ScopeDef>, StoreError> {
        let key = crate::model::custom_scope::scope_key(name);
        match self.read(&key) {
            None => Ok(None),
            Some(json) => ScopeDef::from_record(&key, &json).map(Some).map_err(StoreError::Malformed),
        }
    }
}

impl UserStore for MemoryKv {
    async fn find_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        crate::store::find_user_by_login(login, |k| async move { Ok(self.get(&k)) }).await
    }
    async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let key = user_key(username);
        match self.get(&key) {
            None => Ok(None),
            Some(json) => User::from_record(&key, &json).map(Some).map_err(StoreError::Malformed),
        }
    }
}

#[derive(Default)]
pub struct MemoryGrants {
    /// By grant id (a home's grants too: their ids start with the home).
    pub objects: RefCell<HashMap<String, Stored>>,
    /// Homes whose grants were revoked, and when.
    pub revoked_homes: RefCell<HashMap<String, i64>>,
    pub now: Cell<i64>,
    /// When set, every call fails as an unavailable Durable Object would.
    pub fail: Cell<bool>,
}

impl GrantStore for MemoryGrants {
    async fn send(&self, grant_id: &str, mut cmd: Command) -> Result<Reply, StoreError> {
        if self.fail.get() {
            return Err(StoreError::Unavailable("grant object did not answer".into()));
        }
        let current = self.objects.borrow().get(grant_id).cloned();
        if let (None, Some(home)) = (&current, home_of(grant_id)) {
            grant_object::gate_sealed(&mut cmd, self.revoked_homes.borrow().get(home).copied());
        }
        let (write, reply) = grant_object::apply(current, cmd, self.now.get());
        if let Some(st) = write {
            self.objects.borrow_mut().insert(grant_id.to_string(), st);
        }
        Ok(reply)
    }

    async fn revoke_home(&self, home: &str, revoked_at: i64) -> Result<(), StoreError> {
        if self.fail.get() {
            return Err(StoreError::Unavailable("grant object did not answer".into()));
        }
        self.objects.borrow_mut().retain(|id, _| home_of(id) != Some(home));
        let mut homes = self.revoked_homes.borrow_mut();
        let at = homes.entry(home.to_string()).or_insert(revoked_at);
        *at = (*at).max(revoked_at);
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryThrottles {
    pub counters: RefCell<HashMap<String, Counter>>,
    pub now: Cell<i64>,
    pub fail: Cell<bool>,
}

impl ThrottleStore for MemoryThrottles {
    async fn send(&self, key: &str, cmd: throttle::Command) -> Result<Verdict, StoreError> {
        if self.fail.get() {
            return Err(StoreError::Unavailable("throttle object did not answer".into()));
        }
        let current = self.counters.borrow().get(key).cloned();
        let (write, verdict) = throttle::apply(current, cmd, self.now.get() * 1000);
        match write {
            Some(Some(c)) => {
                self.counters.borrow_mut().insert(key.to_string(), c);
            }
            Some(None) => {
                self.counters.borrow_mut().remove(key);
            }
            None => {}
        }
        Ok(verdict)
    }
}

/// Account objects: each one's account as the object keeps it in memory (`objects`), and its
/// storage in the object's layout (`stored`), which must always read back as the former.
#[derive(Default)]
pub struct MemoryAccounts {
    pub objects: RefCell<HashMap<String, Account>>,
    pub stored: RefCell<HashMap<String, BTreeMap<String, String>>>,
    pub now: Cell<i64>,
    pub fail: Cell<bool>,
}

impl AccountStore for MemoryAccounts {
    async fn send(&self, sub: &str, cmd: account_object::Command) -> Result<account_object::Reply, StoreError> {
        if self.fail.get() {
            return Err(StoreError::Unavailable("account object did not answer".into()));
        }
        let before = self.objects.borrow().get(sub).cloned().unwrap_or_default();
        let mut acct = before.clone();
        let (changes, reply) = account_object::apply(&mut acct, cmd, self.now.get());
        // The contract the object's cached account and its writes rely on (platform/accounts.rs).
        if !changes.any() {
            assert_eq!(acct, before, "account_object::apply changed the account without asking for a write");
            return Ok(reply);
        }
        let mut stored = self.stored.borrow_mut();
        let map = stored.entry(sub.to_string()).or_default();
        account_object::map::write(map, &acct, &changes);
        assert_eq!(account_object::map::read(map), acct, "the changes apply reported do not store its account");
        self.objects.borrow_mut().insert(sub.to_string(), acct);
        Ok(reply)
    }
}
