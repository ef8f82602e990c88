//! A grant's tokens after redemption: checking an access token (userinfo, RFC 6750),
//! looking one up (introspection, RFC 7662), and revoking (RFC 7009; consent withdrawn).

use super::{grant_of, hash_eq, AccessToken, Done, GrantOp, GrantState, Stored, TOMBSTONE_SECONDS};
use crate::model::Grant;
use serde::{Deserialize, Serialize};

/// A client's own grant (RFC 6749 §4.4, client credentials): created with its one access
/// token, never a code. Refused if the id is taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mint {
    pub grant: Box<Grant>,
    pub access_token_hash: String,
    pub access_expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum MintReply {
    Minted,
    Conflict,
}

impl GrantOp for Mint {
    type Reply = MintReply;
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, MintReply) {
        if state.is_some() {
            return (None, MintReply::Conflict);
        }
        let mut st = GrantState::new(*self.grant, String::new(), now);
        st.code_redeemed_at = Some(now);
        let token = AccessToken {
            hash: self.access_token_hash,
            issued_at: now,
            expires_at: self.access_expires_at,
            scope: None,
        };
        st.add_access_token(token, now);
        (Some(Stored::Grant(Box::new(st))), MintReply::Minted)
    }
}

/// Validate an access token (userinfo).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Access {
    pub token_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AccessReply {
    /// A valid access token, with its lifetime (seconds since the epoch). `grant.scope` is the
    /// token's own scope.
    Active { grant: Box<Grant>, issued_at: i64, expires_at: i64 },
    /// RFC 6750 `invalid_token`, with this description.
    InvalidToken { description: String },
}

impl GrantOp for Access {
    type Reply = AccessReply;
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, AccessReply) {
        let reply = match access(grant_of(state).as_ref(), &self.token_hash, now) {
            Ok((grant, issued_at, expires_at)) => AccessReply::Active { grant, issued_at, expires_at },
            Err(description) => AccessReply::InvalidToken { description: description.into() },
        };
        (None, reply)
    }
}

/// Look up an access or a refresh token (introspection).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Introspect {
    pub token_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum IntrospectReply {
    /// A live access token (its grant narrowed to its scope).
    Access {
        grant: Box<Grant>,
        issued_at: i64,
        expires_at: i64,
    },
    /// A live refresh token.
    Refresh {
        grant: Box<Grant>,
        issued_at: i64,
        expires_at: i64,
    },
    Inactive,
}

impl GrantOp for Introspect {
    type Reply = IntrospectReply;
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, IntrospectReply) {
        let Some(st) = grant_of(state) else { return (None, IntrospectReply::Inactive) };
        if let Ok((grant, issued_at, expires_at)) = access(Some(&st), &self.token_hash, now) {
            return (None, IntrospectReply::Access { grant, issued_at, expires_at });
        }
        let reply = match &st.refresh {
            Some(r) if !st.revoked && now < r.expires_at && hash_eq(&r.hash, &self.token_hash) => {
                IntrospectReply::Refresh {
                    grant: Box::new(st.grant.clone()),
                    issued_at: r.issued_at,
                    expires_at: r.expires_at,
                }
            }
            _ => IntrospectReply::Inactive,
        };
        (None, reply)
    }
}

/// Revoke the grant's tokens if `token_hash` is one of its access or refresh tokens and it was
/// issued to `client_id` (RFC 7009 §2.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revoke {
    pub token_hash: String,
    pub client_id: String,
}

/// Whether a revocation revoked the grant, and whose it was (for the audit event; the client
/// gets the same answer either way, RFC 7009 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// The user's own `sub`, when this revocation revoked the grant.
    pub subject: Option<String>,
}

impl GrantOp for Revoke {
    type Reply = Revoked;
    fn apply(self, state: Option<Stored>, _now: i64) -> (Option<Stored>, Revoked) {
        match grant_of(state) {
            Some(mut st)
                if !st.revoked && hash_eq(&st.grant.client_id, &self.client_id) && st.issued(&self.token_hash) =>
            {
                st.revoked = true;
                let subject = Some(st.grant.local_sub().to_string());
                (Some(Stored::Grant(Box::new(st))), Revoked { subject })
            }
            _ => (None, Revoked { subject: None }),
        }
    }
}

/// Revoke every token of the grant (consent withdrawn, a grant pushed out of a full record).
/// Idempotent. An id with no grant yet (a code being issued, a consent form open) gets a
/// tombstone, so that the grant can never be created afterwards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeAll {}

impl GrantOp for RevokeAll {
    type Reply = Done;
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, Done) {
        match state {
            None | Some(Stored::Reserved { .. }) => {
                (Some(Stored::Declined { expires_at: now + TOMBSTONE_SECONDS }), Done {})
            }
            Some(Stored::Grant(mut st)) if !st.revoked => {
                st.revoked = true;
                (Some(Stored::Grant(st)), Done {})
            }
            Some(_) => (None, Done {}),
        }
    }
}

impl GrantState {
    /// Whether `hash` is one of this grant's live access tokens or any of its refresh tokens,
    /// current or rotated (revoking a rotated one revokes the family, as its reuse would).
    fn issued(&self, hash: &str) -> bool {
        self.access_token(hash).is_some()
            || self.refresh.as_ref().is_some_and(|r| {
                hash_eq(&r.hash, hash) | r.previous.iter().fold(false, |found, h| found | hash_eq(h, hash))
            })
    }
}

/// An active access token: its grant narrowed to the token's scope, and its lifetime.
fn access(state: Option<&GrantState>, token_hash: &str, now: i64) -> Result<(Box<Grant>, i64, i64), &'static str> {
    let st = state.ok_or("the access token is invalid")?;
    let token = st.access_token(token_hash).ok_or("the access token is invalid")?;
    if st.revoked {
        return Err("the access token has been revoked");
    }
    if now >= token.expires_at {
        return Err("the access token has expired");
    }
    let mut grant = Box::new(st.grant.clone());
    if let Some(scope) = &token.scope {
        grant.narrow(scope);
    }
    Ok((grant, token.issued_at, token.expires_at))
}
