//! The logic that runs inside a grant's Durable Object. The object is single-threaded and
//! its storage transactional, so each command below is read-check-write with no race:
//! an authorization code is redeemed exactly once (RFC 6749 §4.1.2).
//!
//! Pure: `apply(state, command, now) -> (new state to write, reply)`. The Durable Object
//! (`platform::grant_do`) and the in-memory store (`store::memory`) both run it.

use crate::crypto::{b64url, ct_eq, sha256};
use crate::model::Grant;
use crate::protocol::pkce;
use serde::{Deserialize, Serialize};

/// What the object stores (one value, key `grant`): first a reservation made when the
/// user signs in (so each login form and consent form works once), then the grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stored {
    Reserved {
        expires_at: i64,
    },
    /// The user chose Deny: the forms of this sign-in are used up.
    Declined {
        expires_at: i64,
    },
    Grant(Box<GrantState>),
}

impl Stored {
    /// When the object's storage may be deleted.
    pub fn expires_at(&self) -> i64 {
        match self {
            Stored::Reserved { expires_at } | Stored::Declined { expires_at } => *expires_at,
            Stored::Grant(g) => g.expires_at(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantState {
    pub grant: Grant,
    /// base64url SHA-256 of the code's secret part.
    pub code_hash: String,
    pub code_expires_at: i64,
    #[serde(default)]
    pub code_redeemed_at: Option<i64>,
    #[serde(default)]
    pub access_token_hash: Option<String>,
    #[serde(default)]
    pub access_expires_at: i64,
    /// Set when the code was presented again after redemption: every token issued from
    /// this grant is then rejected (RFC 6749 §4.1.2, RFC 9700 §4.5).
    #[serde(default)]
    pub revoked: bool,
}

impl GrantState {
    /// When the object's storage may be deleted.
    pub fn expires_at(&self) -> i64 {
        self.code_expires_at.max(self.access_expires_at)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// At login: claim this grant id; refused if it was claimed before (a replayed form).
    Reserve { expires_at: i64 },
    /// At consent: turn the reservation into the grant with its code (hash) and expiry.
    Issue { state: Box<GrantState> },
    /// At consent, Deny: use up the reservation so the form cannot be replayed.
    Decline,
    /// A returning user's grant, issued without a page: like `Issue` but needs no
    /// reservation (refused if the id exists).
    Create { state: Box<GrantState> },
    /// Revoke every token of the grant (consent withdrawn).
    RevokeAll,
    /// Redeem the code at the token endpoint; on success store the new access token's hash.
    Redeem {
        code_hash: String,
        client_id: String,
        redirect_uri: String,
        code_verifier: Option<String>,
        access_token_hash: String,
        access_expires_at: i64,
    },
    /// Validate an access token (userinfo, introspection).
    Access { token_hash: String },
    /// Revoke the grant's tokens if `token_hash` is its access token and it was issued to
    /// `client_id` (RFC 7009 §2.1).
    Revoke { token_hash: String, client_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    Reserved,
    Issued,
    Declined,
    /// The grant, for building the token response or the userinfo response.
    Granted {
        grant: Box<Grant>,
    },
    /// Redemption refused: RFC 6749 `invalid_grant` with this description.
    InvalidGrant {
        description: String,
    },
    /// Access token refused: RFC 6750 `invalid_token`.
    InvalidToken {
        description: String,
    },
    /// A valid access token, with its lifetime (seconds since the epoch).
    Active {
        grant: Box<Grant>,
        issued_at: i64,
        expires_at: i64,
    },
    /// Revocation handled (RFC 7009 §2.2: the same answer whether or not anything was revoked).
    Revoked,
    /// The id was already used: the form was submitted before.
    Conflict,
    /// Issue without a live reservation (the sign-in expired).
    NotReserved,
}

/// Hash of a secret as stored by the object.
pub fn secret_hash(secret: &str) -> String {
    b64url(&sha256(secret.as_bytes()))
}

fn hash_eq(a: &str, b: &str) -> bool {
    ct_eq(a.as_bytes(), b.as_bytes())
}

pub fn apply(state: Option<Stored>, cmd: Command, now: i64) -> (Option<Stored>, Reply) {
    let (grant, cmd) = match (state, cmd) {
        (None, Command::Reserve { expires_at }) => return (Some(Stored::Reserved { expires_at }), Reply::Reserved),
        (None, Command::Create { state }) => return (Some(Stored::Grant(state)), Reply::Issued),
        (Some(_), Command::Create { .. }) => return (None, Reply::Conflict),
        (Some(_), Command::Reserve { .. }) => return (None, Reply::Conflict),
        (Some(Stored::Reserved { expires_at }), Command::Issue { state }) if now < expires_at => {
            return (Some(Stored::Grant(state)), Reply::Issued)
        }
        (Some(Stored::Reserved { expires_at }), Command::Decline) if now < expires_at => {
            return (Some(Stored::Declined { expires_at }), Reply::Declined)
        }
        (Some(Stored::Grant(_) | Stored::Declined { .. }), Command::Issue { .. } | Command::Decline) => {
            return (None, Reply::Conflict)
        }
        (_, Command::Issue { .. } | Command::Decline) => return (None, Reply::NotReserved),
        (Some(Stored::Grant(g)), cmd) => (Some(*g), cmd),
        (_, cmd) => (None, cmd),
    };
    let (write, reply) = apply_grant(grant, cmd, now);
    (write.map(|g| Stored::Grant(Box::new(g))), reply)
}

fn apply_grant(state: Option<GrantState>, cmd: Command, now: i64) -> (Option<GrantState>, Reply) {
    match cmd {
        Command::Reserve { .. } | Command::Issue { .. } | Command::Decline | Command::Create { .. } => {
            (None, Reply::Conflict)
        }
        Command::RevokeAll => match state {
            Some(mut st) if !st.revoked => {
                st.revoked = true;
                (Some(st), Reply::Revoked)
            }
            _ => (None, Reply::Revoked),
        },
        Command::Redeem { code_hash, client_id, redirect_uri, code_verifier, access_token_hash, access_expires_at } => {
            let invalid = |d: &str| Reply::InvalidGrant { description: d.to_string() };
            let Some(mut st) = state else {
                return (None, invalid("the authorization code is invalid or has expired"));
            };
            if !hash_eq(&st.code_hash, &code_hash) {
                return (None, invalid("the authorization code is invalid or has expired"));
            }
            // RFC 6749 §4.1.3: bound to the client. Checked first, so that another client
            // holding a leaked code cannot trigger the revocation below.
            if !hash_eq(&st.grant.client_id, &client_id) {
                return (None, invalid("the authorization code was issued to another client"));
            }
            if st.code_redeemed_at.is_some() || st.revoked {
                // RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
                let changed = !st.revoked;
                st.revoked = true;
                return (changed.then_some(st), invalid("the authorization code has already been used"));
            }
            if now >= st.code_expires_at {
                return (None, invalid("the authorization code has expired"));
            }
            if st.grant.redirect_uri != redirect_uri {
                return (None, invalid("redirect_uri does not match the one in the authorization request"));
            }
            // RFC 7636 §4.6, and RFC 9700 §2.1.1: a verifier without a challenge is refused.
            match (&st.grant.code_challenge, code_verifier.as_deref()) {
                (Some(challenge), Some(verifier)) => {
                    let method = st.grant.code_challenge_method.as_deref().unwrap_or("plain");
                    if let Err(e) = pkce::verify(challenge, method, verifier) {
                        return (None, invalid(&e));
                    }
                }
                (Some(_), None) => {
                    return (None, invalid("code_verifier is required (PKCE was used in the authorization request)"))
                }
                (None, Some(_)) => {
                    return (None, invalid("code_verifier sent but the authorization request had no code_challenge"))
                }
                (None, None) => {}
            }
            st.code_redeemed_at = Some(now);
            st.access_token_hash = Some(access_token_hash);
            st.access_expires_at = access_expires_at;
            let grant = Box::new(st.grant.clone());
            (Some(st), Reply::Granted { grant })
        }
        Command::Access { token_hash } => {
            let invalid = |d: &str| (None, Reply::InvalidToken { description: d.to_string() });
            let Some(st) = state else { return invalid("the access token is invalid") };
            match &st.access_token_hash {
                Some(h) if hash_eq(h, &token_hash) => {}
                _ => return invalid("the access token is invalid"),
            }
            if st.revoked {
                return invalid("the access token has been revoked");
            }
            if now >= st.access_expires_at {
                return invalid("the access token has expired");
            }
            let issued_at = st.code_redeemed_at.unwrap_or(0);
            (None, Reply::Active { grant: Box::new(st.grant), issued_at, expires_at: st.access_expires_at })
        }
        Command::Revoke { token_hash, client_id } => match state {
            Some(mut st)
                if !st.revoked
                    && st.access_token_hash.as_deref().is_some_and(|h| hash_eq(h, &token_hash))
                    && hash_eq(&st.grant.client_id, &client_id) =>
            {
                st.revoked = true;
                (Some(st), Reply::Revoked)
            }
            _ => (None, Reply::Revoked),
        },
    }
}
