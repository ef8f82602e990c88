//! Workers KV implementations of the client and user stores.

use super::now_ms;
use crate::error::StoreError;
use crate::model::custom_scope::scope_key;
use crate::model::resource::resource_key;
use crate::model::user::user_key;
use crate::model::{Client, Resource, ScopeDef, User};
use crate::store::cache::{TtlCache, NEGATIVE_TTL_MS};
use crate::store::{find_user_by_login, ClientStore, UserStore};
use std::cell::RefCell;
use worker::kv::KvStore;

thread_local! {
    // Per isolate (store::cache): client records and custom scopes, 60 s; that one does not
    // exist, 30 s.
    static CLIENTS: RefCell<TtlCache<Option<Client>>> = RefCell::new(TtlCache::default());
    static SCOPES: RefCell<TtlCache<Option<ScopeDef>>> = RefCell::new(TtlCache::default());
    static RESOURCES: RefCell<TtlCache<Option<Resource>>> = RefCell::new(TtlCache::default());
    // User records read by username (an ongoing session, userinfo, refresh), 60 s. Sign-in
    // (`find_by_login`) always reads KV: a changed password or a removed account counts at once.
    static USERS: RefCell<TtlCache<Option<User>>> = RefCell::new(TtlCache::default());
}

pub struct KvClients(pub KvStore);
pub struct KvUsers(pub KvStore);

async fn get(kv: &KvStore, key: &str) -> Result<Option<String>, StoreError> {
    kv.get(key).text().await.map_err(|e| StoreError::Unavailable(format!("KV get '{key}': {e}")))
}

/// A record from the isolate's cache, or read from KV, parsed, and cached; `negative`: also
/// remember for a short time that there is none.
async fn cached<V: Clone + 'static>(
    cache: &'static std::thread::LocalKey<RefCell<TtlCache<Option<V>>>>,
    kv: &KvStore,
    key: &str,
    negative: bool,
    parse: impl FnOnce(&str) -> Result<V, String>,
) -> Result<Option<V>, StoreError> {
    if let Some(v) = cache.with(|c| c.borrow().get(key, now_ms())) {
        return Ok(v);
    }
    match get(kv, key).await? {
        None => {
            if negative {
                cache.with(|c| c.borrow_mut().put_for(key, None, now_ms(), NEGATIVE_TTL_MS));
            }
            Ok(None)
        }
        Some(json) => {
            let v = parse(&json).map_err(StoreError::Malformed)?;
            cache.with(|c| c.borrow_mut().put(key, Some(v.clone()), now_ms()));
            Ok(Some(v))
        }
    }
}

impl ClientStore for KvClients {
    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        if !crate::model::client::valid_client_id(client_id) {
            return Ok(None);
        }
        cached(&CLIENTS, &self.0, client_id, true, |json| Client::from_record(client_id, json)).await
    }
    async fn scope(&self, name: &str) -> Result<Option<ScopeDef>, StoreError> {
        let key = scope_key(name);
        cached(&SCOPES, &self.0, &key, true, |json| ScopeDef::from_record(&key, json)).await
    }
    async fn resource(&self, uri: &str) -> Result<Option<Resource>, StoreError> {
        let key = resource_key(uri);
        cached(&RESOURCES, &self.0, &key, true, |json| Resource::from_record(&key, json)).await
    }
    async fn put_client(&self, client: &Client, expires_at: i64) -> Result<(), StoreError> {
        let json = serde_json::to_string(client).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let unavailable =
            |e: worker::kv::KvError| StoreError::Unavailable(format!("KV put '{}': {e}", client.client_id));
        self.0
            .put(&client.client_id, json)
            .map_err(unavailable)?
            .expiration(expires_at.max(0) as u64)
            .execute()
            .await
            .map_err(unavailable)?;
        CLIENTS.with(|c| c.borrow_mut().put(&client.client_id, Some(client.clone()), now_ms()));
        Ok(())
    }
    async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        self.0.delete(client_id).await.map_err(|e| StoreError::Unavailable(format!("KV delete '{client_id}': {e}")))?;
        CLIENTS.with(|c| c.borrow_mut().put_for(client_id, None, now_ms(), NEGATIVE_TTL_MS));
        Ok(())
    }
}

impl UserStore for KvUsers {
    async fn find_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        find_user_by_login(login, |k| async move { get(&self.0, &k).await }).await
    }
    async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let key = user_key(username);
        // A user removed is not cached as absent: sessions and refreshes find out at once.
        cached(&USERS, &self.0, &key, false, |json| User::from_record(&key, json)).await
    }
    async fn put_user(&self, user: &User) -> Result<(), StoreError> {
        let key = user_key(&user.username);
        let json = serde_json::to_string(user).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let put = self.0.put(&key, json).map_err(|e| StoreError::Unavailable(format!("KV put '{key}': {e}")))?;
        put.execute().await.map_err(|e| StoreError::Unavailable(format!("KV put '{key}': {e}")))?;
        USERS.with(|c| c.borrow_mut().put(&key, Some(user.clone()), now_ms()));
        Ok(())
    }
}
