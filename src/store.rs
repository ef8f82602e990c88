//! Narrow storage interfaces, one per concern, and in-memory implementations for tests.
//! The Workers implementations (KV, Durable Objects) are in `platform`.

use crate::error::StoreError;
use crate::model::{Client, Resource, ScopeDef, User};
use crate::objects::account::AccountOp;
use crate::objects::grant::GrantOp;
use crate::objects::throttle;

pub mod cache;
pub mod memory;

#[allow(async_fn_in_trait)]
pub trait ClientStore {
    /// `Ok(None)` for an unknown client; `Err(Malformed)` names the record and field.
    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// A custom scope defined by the operator (key `scope:<name>`); `Ok(None)` if undefined.
    async fn scope(&self, name: &str) -> Result<Option<ScopeDef>, StoreError>;
    /// A resource server (key `resource:<uri>`, RFC 8707); `Ok(None)` if unknown.
    async fn resource(&self, uri: &str) -> Result<Option<Resource>, StoreError>;
    /// Writes a client that registered itself (RFC 7591), to be deleted by the store at
    /// `expires_at` (seconds since the epoch) unless written again.
    async fn put_client(&self, client: &Client, expires_at: i64) -> Result<(), StoreError>;
    /// Deletes a client that registered itself (RFC 7592 §2.3).
    async fn delete_client(&self, client_id: &str) -> Result<(), StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait UserStore {
    /// Finds a user by username, or by email when `login` contains '@'.
    async fn find_by_login(&self, login: &str) -> Result<Option<User>, StoreError>;
    async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Writes a user's record (a changed password).
    async fn put_user(&self, user: &User) -> Result<(), StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait GrantStore {
    /// Sends a command to the grant's object (one round trip) and returns its reply.
    async fn send<O: GrantOp>(&self, grant_id: &str, op: O) -> Result<O::Reply, StoreError>;
    /// Revokes every grant of a home (model::grant::home), and the codes issued for it
    /// until `revoked_at` (`RevokeHome`).
    async fn revoke_home(&self, home: &str, revoked_at: i64) -> Result<(), StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait AccountStore {
    /// Sends a command to the account object of the user whose own `sub` is `sub`.
    async fn send<O: AccountOp>(&self, sub: &str, op: O) -> Result<O::Reply, StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait ThrottleStore {
    /// Sends a command to the counter object named `key` (one round trip).
    async fn send(&self, key: &str, cmd: throttle::Command) -> Result<throttle::Verdict, StoreError>;
}

impl<T: ThrottleStore> ThrottleStore for &T {
    async fn send(&self, key: &str, cmd: throttle::Command) -> Result<throttle::Verdict, StoreError> {
        (**self).send(key, cmd).await
    }
}

/// Resolves a login (username, or email through its `email:` alias) with a raw KV getter.
/// A dangling or mismatched alias finds nobody.
pub async fn find_user_by_login<F, Fut>(login: &str, get: F) -> Result<Option<User>, StoreError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, StoreError>>,
{
    use crate::model::user::{email_key, user_key, valid_username, EmailAlias};
    let login = login.trim();
    let username = if login.contains('@') {
        let key = email_key(login);
        match get(key.clone()).await? {
            None => {
                // The same two reads as a known address, so timing does not tell them apart.
                let _ = get(user_key("")).await;
                return Ok(None);
            }
            Some(json) => {
                serde_json::from_str::<EmailAlias>(&json)
                    .map_err(|e| {
                        StoreError::Malformed(format!("email alias record '{key}' in USERS is malformed: {e}"))
                    })?
                    .username
            }
        }
    } else if valid_username(login) {
        login.to_string()
    } else {
        return Ok(None);
    };
    let key = user_key(&username);
    let Some(json) = get(key.clone()).await? else { return Ok(None) };
    let user = User::from_record(&key, &json).map_err(StoreError::Malformed)?;
    if login.contains('@') && user.email.as_deref().map(|e| e.to_lowercase()) != Some(login.to_lowercase()) {
        return Ok(None);
    }
    Ok(Some(user))
}
