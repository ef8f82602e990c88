//! The logic that runs inside a grant's Durable Object. The object is single-threaded and
//! its storage transactional, so each command is read-check-write with no race: an
//! authorization code is redeemed exactly once (RFC 6749 §4.1.2).
//!
//! Each command is a type of its own with a reply of its own ([`GrantOp`]): the caller gets
//! exactly the answers that command can give. Pure: `op.apply(state, now) -> (new state to
//! write, reply)`; on the wire (JSON over RPC) a [`Command`], dispatched by [`apply`]. The
//! Durable Object (`platform/grants.rs`, through [`super::home`]) and the in-memory store
//! (`store::memory`) both run it.
//!
//! - [`issue`]: reserving a grant id, issuing or declining it, redeeming the code;
//! - [`tokens`]: access tokens (userinfo, introspection), revocation;
//! - [`refresh`]: the refresh token grant.

use crate::crypto::{b64url, ct_eq, sha256};
use crate::model::Grant;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod issue;
pub mod refresh;
pub mod tokens;

pub use issue::{
    Create, Decline, DeclineReply, Issue, IssueReply, Redeem, RedeemReply, Reserve, ReserveReply, CODE_REUSED,
};
pub use refresh::{Refresh, RefreshReply, Unrotate, REFRESH_REUSED};
pub use tokens::{Access, AccessReply, Introspect, IntrospectReply, Mint, MintReply, Revoke, RevokeAll, Revoked};

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

/// Live access tokens kept per grant: expired ones are pruned first, then the oldest goes.
/// Several, so that a retried refresh does not invalidate a sibling's access token.
pub const MAX_ACCESS_TOKENS: usize = 16;
/// Rotated-out refresh token hashes remembered for reuse detection (RFC 9700 §4.14.2).
pub const MAX_PREVIOUS_REFRESH: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantState {
    pub grant: Grant,
    /// base64url SHA-256 of the code's secret part.
    pub code_hash: String,
    pub code_expires_at: i64,
    #[serde(default)]
    pub code_redeemed_at: Option<i64>,
    /// Live access tokens issued from this grant (code redemption and refreshes).
    #[serde(default)]
    pub access_tokens: Vec<AccessToken>,
    /// The refresh token, when the grant has one (OpenID Connect Core §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<RefreshToken>,
    /// Every token issued from this grant is rejected: set when the code was presented
    /// again after redemption (RFC 6749 §4.1.2, RFC 9700 §4.5), a rotated refresh token was
    /// reused, or a token was revoked (RFC 7009).
    #[serde(default)]
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessToken {
    /// base64url SHA-256 of the token's secret part.
    pub hash: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// Narrower than the grant's when the refresh request asked for less (RFC 6749 §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// base64url SHA-256 of the current token's secret part.
    pub hash: String,
    /// When the current token was issued: the grace window for a retry starts here.
    pub issued_at: i64,
    /// Idle expiry, pushed forward by each rotation.
    pub expires_at: i64,
    /// Hashes of the tokens it replaced, newest first (reuse detection).
    #[serde(default)]
    pub previous: Vec<String>,
    /// The current token's secret XOR a key derived from the previous token's secret
    /// (see `protocol::refresh`): only a retry with the previous token can open it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_box: Option<String>,
    /// The family's absolute end (`REFRESH_TOKEN_MAX_LIFETIME_SECONDS` after the code was
    /// redeemed): no rotation sets `expires_at` beyond it.
    pub max_expires_at: i64,
}

impl GrantState {
    /// A grant with its authorization code (hash), before redemption.
    pub fn new(grant: Grant, code_hash: String, code_expires_at: i64) -> GrantState {
        GrantState {
            grant,
            code_hash,
            code_expires_at,
            code_redeemed_at: None,
            access_tokens: Vec::new(),
            refresh: None,
            revoked: false,
        }
    }

    /// When the object's storage may be deleted: once no code or token in it can be used.
    pub fn expires_at(&self) -> i64 {
        let access = self.access_tokens.iter().map(|t| t.expires_at).max().unwrap_or(0);
        let refresh = match (&self.refresh, self.revoked) {
            (Some(r), false) => r.expires_at,
            _ => 0,
        };
        self.code_expires_at.max(access).max(refresh)
    }

    /// Adds an access token, pruning expired ones and keeping at most [`MAX_ACCESS_TOKENS`].
    pub(crate) fn add_access_token(&mut self, token: AccessToken, now: i64) {
        self.access_tokens.retain(|t| now < t.expires_at);
        self.access_tokens.push(token);
        let excess = self.access_tokens.len().saturating_sub(MAX_ACCESS_TOKENS);
        self.access_tokens.drain(..excess);
    }

    pub(crate) fn access_token(&self, hash: &str) -> Option<&AccessToken> {
        self.access_tokens.iter().find(|t| hash_eq(&t.hash, hash))
    }
}

/// A refresh token to store at code redemption.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewRefresh {
    pub hash: String,
    /// Idle expiry of the first token.
    pub expires_at: i64,
    /// The family's absolute end.
    pub max_expires_at: i64,
}

/// Whether a grant gets a refresh token at redemption (OpenID Connect Core §11), given that
/// the client may use the refresh_token grant.
pub fn wants_refresh(grant: &Grant) -> bool {
    grant.scopes().any(|s| s == crate::model::scope::OFFLINE_ACCESS)
}

/// A command to a grant's object, with the reply it gets.
pub trait GrantOp: Serialize + DeserializeOwned + Into<Command> {
    type Reply: Serialize + DeserializeOwned;
    /// What the command writes (`None`: nothing) and answers.
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, Self::Reply);
}

/// The reply of a command that only says it was handled (revocation: RFC 7009 §2.2 gives
/// the same answer whether or not anything was revoked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {}

/// The commands as they travel to the object: JSON, tagged by `op`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Reserve(Reserve),
    Issue(Issue),
    Create(Create),
    Decline(Decline),
    Redeem(Box<Redeem>),
    Refresh(Box<Refresh>),
    Unrotate(Unrotate),
    Access(Access),
    Introspect(Introspect),
    Revoke(Revoke),
    RevokeAll(RevokeAll),
    Mint(Mint),
}

macro_rules! into_command {
    ($($op:ident => $wrap:expr),* $(,)?) => {
        $(impl From<$op> for Command {
            fn from(op: $op) -> Command {
                $wrap(op)
            }
        })*
    };
}

into_command! {
    Reserve => Command::Reserve,
    Issue => Command::Issue,
    Create => Command::Create,
    Decline => Command::Decline,
    Redeem => |op| Command::Redeem(Box::new(op)),
    Refresh => |op| Command::Refresh(Box::new(op)),
    Unrotate => Command::Unrotate,
    Access => Command::Access,
    Introspect => Command::Introspect,
    Revoke => Command::Revoke,
    RevokeAll => Command::RevokeAll,
    Mint => Command::Mint,
}

/// Runs a command that came over the wire; the reply as JSON, for the caller to read as the
/// command's own reply type.
pub fn apply(state: Option<Stored>, cmd: Command, now: i64) -> (Option<Stored>, Value) {
    fn run<O: GrantOp>(state: Option<Stored>, op: O, now: i64) -> (Option<Stored>, Value) {
        let (write, reply) = op.apply(state, now);
        (write, serde_json::to_value(reply).unwrap_or(Value::Null))
    }
    match cmd {
        Command::Reserve(op) => run(state, op, now),
        Command::Issue(op) => run(state, op, now),
        Command::Create(op) => run(state, op, now),
        Command::Decline(op) => run(state, op, now),
        Command::Redeem(op) => run(state, *op, now),
        Command::Refresh(op) => run(state, *op, now),
        Command::Unrotate(op) => run(state, op, now),
        Command::Access(op) => run(state, op, now),
        Command::Introspect(op) => run(state, op, now),
        Command::Revoke(op) => run(state, op, now),
        Command::RevokeAll(op) => run(state, op, now),
        Command::Mint(op) => run(state, op, now),
    }
}

/// The grant a state holds, if it holds one.
pub(crate) fn grant_of(state: Option<Stored>) -> Option<GrantState> {
    match state {
        Some(Stored::Grant(g)) => Some(*g),
        _ => None,
    }
}

/// Hash of a secret as stored by the object.
pub fn secret_hash(secret: &str) -> String {
    b64url(&sha256(secret.as_bytes()))
}

pub(crate) fn hash_eq(a: &str, b: &str) -> bool {
    ct_eq(a.as_bytes(), b.as_bytes())
}

/// How long a grant id revoked before it existed stays unusable: longer than any login page or
/// code lives (INTERACTION_TTL_SECONDS and CODE_TTL_SECONDS are at most an hour).
pub const TOMBSTONE_SECONDS: i64 = 3600;

/// When an object's storage for `st` may go: a minute after the last code or token in it
/// expires (seconds).
pub fn cleanup_at(st: &Stored) -> i64 {
    st.expires_at() + 60
}
