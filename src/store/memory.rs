//! In-memory stores for host tests. The grant store runs the same
//! [`grant_object::apply`] as the Durable Object.

use super::{AccountStore, ClientStore, GrantStore, ThrottleStore, UserStore};
use crate::error::StoreError;
use crate::http::{Fetch, Fetched};
use crate::model::user::user_key;
use crate::model::{Client, Resource, ScopeDef, User};
use crate::objects::account::{self as account_object, Account, AccountOp};
use crate::objects::grant::{self as grant_object, GrantOp, Stored};
use crate::objects::home;
use crate::objects::throttle::{self, Counter, Verdict};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// A KV namespace: raw JSON strings by key, parsed on read like the real one.
#[derive(Default)]
pub struct MemoryKv {
    pub records: RefCell<HashMap<String, String>>,
    /// Reads made through the store traits (what a request costs in KV reads).
    pub reads: Cell<usize>,
    /// When records written with an expiration go (seconds), as KV's `expiration`.
    pub expirations: RefCell<HashMap<String, i64>>,
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
    async fn resource(&self, uri: &str) -> Result<Option<Resource>, StoreError> {
        let key = crate::model::resource::resource_key(uri);
        match self.read(&key) {
            None => Ok(None),
            Some(json) => Resource::from_record(&key, &json).map(Some).map_err(StoreError::Malformed),
        }
    }
    async fn put_client(&self, client: &Client, expires_at: i64) -> Result<(), StoreError> {
        let json = serde_json::to_string(client).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.put(&client.client_id, &json);
        self.expirations.borrow_mut().insert(client.client_id.clone(), expires_at);
        Ok(())
    }
    async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        self.records.borrow_mut().remove(client_id);
        self.expirations.borrow_mut().remove(client_id);
        Ok(())
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
    async fn put_user(&self, user: &User) -> Result<(), StoreError> {
        let json = serde_json::to_string(user).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.put(&user_key(&user.username), &json);
        Ok(())
    }
}

/// Other servers, for the host tests: what each URL answers, and every fetch made (the URL
/// and when). A clone shares them.
#[derive(Clone, Default)]
pub struct MemoryFetch {
    pub answers: Rc<RefCell<HashMap<String, Fetched>>>,
    pub fetched: Rc<RefCell<Vec<String>>>,
}

impl MemoryFetch {
    /// `url` answers 200 with `body` (JSON) and `cache_control`.
    pub fn serve(&self, url: &str, body: &str, cache_control: Option<&str>) {
        let r = Fetched {
            status: 200,
            body: body.as_bytes().to_vec(),
            content_type: Some("application/json".into()),
            cache_control: cache_control.map(str::to_string),
            location: None,
        };
        self.answers.borrow_mut().insert(url.to_string(), r);
    }

    /// `url` answers with a redirect to `to`.
    pub fn redirect(&self, url: &str, to: &str) {
        let r = Fetched { status: 302, location: Some(to.to_string()), ..Default::default() };
        self.answers.borrow_mut().insert(url.to_string(), r);
    }
}

impl Fetch for MemoryFetch {
    async fn get(&self, url: &str, max_bytes: usize, _timeout_ms: u32) -> Result<Fetched, String> {
        self.fetched.borrow_mut().push(url.to_string());
        match self.answers.borrow().get(url) {
            Some(r) if r.body.len() > max_bytes => Err(format!("the response is larger than {max_bytes} bytes")),
            Some(r) => Ok(r.clone()),
            None => Err("could not connect".into()),
        }
    }
}

/// A `Grants` Durable Object's storage: its grants by storage key, a home's revocation time,
/// and its alarm (seconds).
#[derive(Debug, Clone, Default)]
pub struct MemoryObject {
    pub entries: BTreeMap<String, Stored>,
    pub revoked: Option<i64>,
    pub alarm: Option<i64>,
}

/// The `Grants` objects, by name, running the objects' own rules (`objects::home`,
/// `objects::grant`) as the Durable Object does; commands and replies go through their JSON
/// form, as on the wire.
#[derive(Default)]
pub struct MemoryGrants {
    pub objects: RefCell<HashMap<String, MemoryObject>>,
    pub now: Cell<i64>,
    /// When set, every call fails as an unavailable Durable Object would.
    pub fail: Cell<bool>,
}

impl MemoryGrants {
    /// The grant stored under `grant_id`, if any.
    pub fn stored(&self, grant_id: &str) -> Option<Stored> {
        let (object, at) = home::locate(grant_id);
        self.objects.borrow().get(&object).and_then(|o| o.entries.get(&home::storage_key(at)).cloned())
    }

    /// Runs every alarm due by `now`, as the runtime would.
    pub fn run_alarms(&self) {
        let now = self.now.get();
        let mut objects = self.objects.borrow_mut();
        objects.retain(|_, o| {
            if o.alarm.is_none_or(|a| a > now) {
                return true;
            }
            o.alarm = None;
            match home::alarm_step(Ok::<_, ()>(o.entries.get(home::OWN_KEY)), now) {
                home::AlarmStep::Again(at) => o.alarm = Some(at),
                home::AlarmStep::DeleteAll => return false,
                home::AlarmStep::Sweep => {
                    let entries = o.entries.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
                    let (gone, next) = home::sweep(entries, o.revoked, now);
                    match next {
                        None => return false,
                        Some(at) => {
                            gone.iter().for_each(|k| drop(o.entries.remove(k)));
                            o.alarm = Some(at);
                        }
                    }
                }
            }
            true
        });
    }
}

impl GrantStore for MemoryGrants {
    async fn send<O: GrantOp>(&self, grant_id: &str, op: O) -> Result<O::Reply, StoreError> {
        if self.fail.get() {
            return Err(StoreError::Unavailable("grant object did not answer".into()));
        }
        // On the wire: the command as JSON, parsed by the object.
        let json = serde_json::to_string(&op.into()).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let cmd: grant_object::Command =
            serde_json::from_str(&json).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (name, at) = home::locate(grant_id);
        let mut objects = self.objects.borrow_mut();
        let key = home::storage_key(at);
        let (current, revoked) = match objects.get(&name) {
            Some(o) => (o.entries.get(&key).cloned(), o.revoked),
            None => (None, None),
        };
        let step = home::apply_entry(at, current, cmd, || revoked, self.now.get());
        // An object exists once something is written to it.
        if let Some(st) = step.write {
            let object = objects.entry(name).or_default();
            object.entries.insert(key, st);
            if let Some(a) = step.alarm_by.and_then(|by| home::earlier_alarm(object.alarm, by)) {
                object.alarm = Some(a);
            }
        }
        serde_json::from_value(step.reply).map_err(|e| StoreError::Unavailable(format!("malformed reply: {e}")))
    }

    async fn revoke_home(&self, home_name: &str, revoked_at: i64) -> Result<(), StoreError> {
        if self.fail.get() {
            return Err(StoreError::Unavailable("grant object did not answer".into()));
        }
        let mut objects = self.objects.borrow_mut();
        let object = objects.entry(format!("home:{home_name}")).or_default();
        let (at, alarm_by) = home::revoke(object.revoked, revoked_at);
        object.revoked = Some(at);
        object.entries.clear();
        if let Some(a) = home::earlier_alarm(object.alarm, alarm_by) {
            object.alarm = Some(a);
        }
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
    async fn send<O: AccountOp>(&self, sub: &str, op: O) -> Result<O::Reply, StoreError> {
        if self.fail.get() {
            return Err(StoreError::Unavailable("account object did not answer".into()));
        }
        let wire = |e: serde_json::Error| StoreError::Unavailable(format!("malformed account message: {e}"));
        let json = serde_json::to_string(&op.into()).map_err(wire)?;
        let cmd: account_object::Command = serde_json::from_str(&json).map_err(wire)?;
        let before = self.objects.borrow().get(sub).cloned().unwrap_or_default();
        let mut acct = before.clone();
        let (changes, reply) = account_object::apply(&mut acct, cmd, self.now.get());
        let reply = serde_json::from_value(reply).map_err(wire)?;
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
