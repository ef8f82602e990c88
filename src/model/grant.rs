//! A grant: what the user approved for a client, kept in a Durable Object of class `Grants`:
//! its own object, or the object holding a returning user's grants at one client (see
//! [`home_of`]). The authorization code and the access tokens issued from it refer to the
//! grant by id and carry a secret whose SHA-256 only the object stores.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// RFC 7636 §4.2 challenge and method (`S256`), when the client sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// The `sub` this client receives (pairwise or public).
    pub sub: String,
    /// The user's own `sub` when `sub` is pairwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_sub: Option<String>,
    pub username: String,
    pub auth_time: i64,
    /// The scope claims for the ID token, taken at consent time.
    #[serde(default)]
    pub id_token_claims: Map<String, Value>,
    /// Claim names the userinfo endpoint returns (read fresh from the user record). Empty
    /// in grants made before it existed: then those of the scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo_claims: Vec<String>,
    /// The custom scopes granted and the claims each releases (for narrowing on refresh).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_scopes: BTreeMap<String, Vec<String>>,
    /// The resource server its access tokens are for (RFC 8707), if one was named, with
    /// what its record said when the grant was made: its tokens' lifetime and format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "crate::model::TokenFormat::is_default")]
    pub access_token_format: crate::model::TokenFormat,
    /// How the user signed in (RFC 8176) and the level that achieved (`model::strength`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

impl Grant {
    /// The user's own `sub` (not the pairwise one a client sees): how operators know them.
    pub fn local_sub(&self) -> &str {
        self.local_sub.as_deref().unwrap_or(&self.sub)
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// An OpenID Connect grant (its tokens include an ID token, userinfo answers them), or
    /// plain OAuth (an access token for a resource).
    pub fn is_openid(&self) -> bool {
        self.scopes().any(|s| s == crate::model::scope::OPENID)
    }

    /// A client's own grant (RFC 6749 §4.4): no user in it.
    pub fn is_client_credentials(&self) -> bool {
        self.username.is_empty()
    }

    /// Narrows the grant to `scope` (a refresh with a smaller scope, RFC 6749 §6): standard
    /// claims no remaining scope releases are dropped from the ID token and userinfo claims.
    pub fn narrow(&mut self, scope: &str) {
        let kept: Vec<&str> =
            scope.split(' ').flat_map(|s| crate::model::scope::claims_for(s).iter().copied()).collect();
        let keep = |k: &str| !crate::model::scope::is_standard_claim(k) || kept.contains(&k);
        self.id_token_claims.retain(|k, _| keep(k));
        self.userinfo_claims.retain(|k| keep(k));
        self.scope = scope.to_string();
    }
}

/// Whether `s` is base64url (no padding) of `min..=max` characters.
pub fn is_b64url(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` can be a grant id (the first part of every code and token).
pub fn is_grant_id(s: &str) -> bool {
    is_b64url(s, 16, 64)
}

/// Characters of a grant id that name its home object, and the length of such an id.
pub const HOME_LEN: usize = 22;
pub const HOMED_ID_LEN: usize = 2 * HOME_LEN;

/// The home of a grant id made by [`homed_grant_id`]: the first 22 of its 44 characters.
/// Other grant ids (22 random characters, made when a page is shown) have an object of
/// their own, named after the id; `None` for them.
pub fn home_of(id: &str) -> Option<&str> {
    (id.len() == HOMED_ID_LEN && is_grant_id(id)).then(|| id.get(..HOME_LEN)).flatten()
}

/// The id of a grant made without a page for a returning user (authorization request with a
/// session, consent on record): the consent's home, naming the Durable Object that keeps every
/// such grant under that consent, then 22 random characters. The home object exists from the
/// user's earlier sign-ins, so redeeming the code creates no object (a new SQLite-backed object
/// costs ~2 ms of CPU, docs/performance.md). The home is random, made when the consent is
/// given and kept with it ([`new_home`]): it reveals nothing, differs per client (pairwise
/// subjects stay unlinkable), and depends on no key, so withdrawing the consent reaches it
/// after any `SESSION_KEY` rotation.
pub fn homed_grant_id(home: &str) -> Result<String, String> {
    Ok(format!("{home}{}", crate::crypto::random_token::<16>()?))
}

/// A new home for a consent: 22 random base64url characters.
pub fn new_home() -> Result<String, String> {
    crate::crypto::random_token::<16>()
}

/// A token handle: `<grant id>.<secret>`; both parts base64url.
pub fn split_handle(handle: &str) -> Option<(&str, &str)> {
    let (id, secret) = handle.split_once('.')?;
    (is_grant_id(id) && is_b64url(secret, 32, 128)).then_some((id, secret))
}
