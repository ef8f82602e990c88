//! The logic that runs inside a user's account Durable Object (class `Accounts`, one
//! object per user, named after the user's own `sub`): their browser sessions and the
//! consents they gave. Keeping both in one object lets a returning user's session check,
//! consent check and grant bookkeeping happen in a single round trip, and lets a session
//! be ended server-side (RP-Initiated Logout) and a consent withdrawn at once.
//!
//! Grants made through a page (login, consent) are recorded under the consent, so that
//! withdrawing it revokes them. A returning user's grants (made with no page) are not: they
//! all live in the consent's home object (a random name kept with the consent, see
//! `model::grant::homed_grant_id`), which withdrawal revokes as a whole, so a returning user's
//! authorization request writes nothing here.
//!
//! Withdrawal revokes first and forgets afterwards, each step repeatable: [`Command::Withdraw`]
//! marks the consent (it authorizes nothing from then on) and names what to revoke; only once
//! all of it is revoked does [`Command::Forget`] delete it. A failed revocation leaves the
//! consent listed, for the user to try again.
//!
//! Each command is a type with a reply of its own ([`AccountOp`], `ops.rs`). Pure:
//! `op.apply(&mut account, now, &mut changes) -> reply`. It changes the account only
//! as far as `changes` says, so the object may keep the account it last read or wrote in
//! memory and skip reading (and parsing) it on every call. Session ids are stored as SHA-256
//! hashes only.
//!
//! Storage layout ([`entries`], [`from_entries`]): the sessions under one key, the consents
//! (without their grants) under another, and each grant on record under a key of its own —
//! so that recording a grant writes a few hundred bytes, not every grant of the consent and
//! every session again (an active user's account is several KB).

use crate::crypto::ct_eq;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod factors;
mod ops;
mod storage;
#[cfg(test)]
mod tests;

pub use factors::{
    AddCredential, Added, CredentialOf, Factors, FactorsOf, FactorsReply, Overview, OverviewReply, RemoveCredential,
    RemoveTotp, RenameCredential, SetTotp, Totp, UseCredential, UseRecovery, UseTotp, Used, MAX_ANSWERED,
    MAX_CREDENTIALS,
};
pub use ops::{
    Allow, AllowReply, Check, CheckReply, Consented, End, EndOthers, EndReply, Forget, ForgetReply, List, ListReply,
    Standing, Start, Started, Withdraw, WithdrawReply,
};
pub use storage::{
    entries, everything, from_entries, map, StoredGrant, CONSENTS_KEY, FACTORS_KEY, GRANT_PREFIX, SESSIONS_KEY,
};

/// Live sessions kept per user (oldest dropped first).
pub const MAX_SESSIONS: usize = 32;
/// Live grants made through a page remembered per consent, so that withdrawing it revokes
/// their tokens. A grant pushed out of a full list is revoked at once (the caller is told), so
/// withdrawal always reaches every live token.
pub const MAX_GRANTS_PER_CONSENT: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    #[serde(default)]
    pub sessions: Vec<Session>,
    #[serde(default)]
    pub consents: Vec<Consent>,
    /// Passkeys and one-time codes (`factors`).
    #[serde(default)]
    pub factors: Factors,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// base64url SHA-256 of the session id (the secret half of the cookie).
    pub id_hash: String,
    pub username: String,
    pub auth_time: i64,
    pub expires_at: i64,
    /// Clients that received a grant through this session (RP-Initiated Logout §2: a
    /// logout request from one of them is clearly from the session's client).
    #[serde(default)]
    pub clients: Vec<String>,
    /// How the user signed in (RFC 8176 `amr` values) and what that achieved (`acr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub client_id: String,
    /// What the user allowed: scopes, and `claim:<name>` for claims asked for one by one
    /// (OpenID Connect Core §5.5).
    pub items: Vec<String>,
    pub granted_at: i64,
    /// Grants made through a page under this consent (most recent last).
    #[serde(default)]
    pub grants: Vec<GrantRef>,
    /// The home of the grants made without a page under this consent: 22 random base64url
    /// characters naming a `GRANTS` object (`model::grant::homed_grant_id`).
    pub home: String,
    /// Withdrawal has begun: the consent authorizes nothing; it goes once its grants are revoked.
    #[serde(default, skip_serializing_if = "is_false")]
    pub withdrawing: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// "Never" for [`GrantRef::expires_at`]: 9999-12-31. Durable Object storage holds JavaScript
/// numbers, so this stays far inside 2^53 (i64::MAX would not store).
pub const NEVER: i64 = 253_402_300_799;

/// A grant issued under a consent, and until when it can hold a live token ([`NEVER`] for a
/// grant with a refresh token, whose lifetime is extended by every refresh).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantRef {
    pub id: String,
    pub expires_at: i64,
    /// When it was recorded (set by the account object): a consent's grants are kept in this
    /// order (then by id), oldest first, which is also the order they are read back in.
    #[serde(default)]
    pub added_at: i64,
}

impl GrantRef {
    pub fn new(id: String, expires_at: i64) -> GrantRef {
        GrantRef { id, expires_at, added_at: 0 }
    }
}

/// What [`apply`] changed: the parts of the account to write again, and the grants recorded
/// or forgotten. Nothing else changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub sessions: bool,
    pub consents: bool,
    pub factors: bool,
    /// Grants newly on record (their consent holds them).
    pub grants_added: Vec<String>,
    /// Grants no longer on record (expired, pushed out, or their consent withdrawn).
    pub grants_removed: Vec<String>,
}

impl Changes {
    pub fn any(&self) -> bool {
        self.sessions
            || self.consents
            || self.factors
            || !self.grants_added.is_empty()
            || !self.grants_removed.is_empty()
    }

    /// A grant leaves the record: added and gone in one command, it is neither.
    pub(crate) fn forget_grant(&mut self, id: &str) {
        match self.grants_added.iter().position(|g| g == id) {
            Some(i) => {
                self.grants_added.remove(i);
            }
            None => self.grants_removed.push(id.to_string()),
        }
    }
}

/// A command to a user's account object, with the reply it gets.
pub trait AccountOp: Serialize + DeserializeOwned + Into<Command> {
    type Reply: Serialize + DeserializeOwned;
    /// Applies the command to the account (an empty one for a new user), noting in `changes`
    /// what must be stored; where it notes nothing, the account is as it was.
    fn apply(self, acct: &mut Account, now: i64, changes: &mut Changes) -> Self::Reply;
}

/// The commands as they travel to the object: JSON, tagged by `op`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Start(Start),
    Check(Check),
    Allow(Allow),
    End(End),
    EndOthers(EndOthers),
    List(List),
    Withdraw(Withdraw),
    Forget(Forget),
    Consented(Consented),
    FactorsOf(FactorsOf),
    CredentialOf(CredentialOf),
    AddCredential(AddCredential),
    RenameCredential(RenameCredential),
    RemoveCredential(RemoveCredential),
    UseCredential(UseCredential),
    SetTotp(SetTotp),
    RemoveTotp(RemoveTotp),
    UseTotp(UseTotp),
    UseRecovery(UseRecovery),
    Overview(Overview),
}

macro_rules! into_command {
    ($($op:ident),*) => {
        $(impl From<$op> for Command {
            fn from(op: $op) -> Command {
                Command::$op(op)
            }
        })*
    };
}

into_command!(
    Start,
    Check,
    Allow,
    End,
    EndOthers,
    List,
    Withdraw,
    Forget,
    Consented,
    FactorsOf,
    CredentialOf,
    AddCredential,
    RenameCredential,
    RemoveCredential,
    UseCredential,
    SetTotp,
    RemoveTotp,
    UseTotp,
    UseRecovery,
    Overview
);

/// Runs a command that came over the wire: what changed, and the reply as JSON, for the
/// caller to read as the command's own reply type.
pub fn apply(acct: &mut Account, cmd: Command, now: i64) -> (Changes, Value) {
    fn run<O: AccountOp>(acct: &mut Account, op: O, now: i64) -> (Changes, Value) {
        let mut changes = Changes::default();
        let reply = op.apply(acct, now, &mut changes);
        (changes, serde_json::to_value(reply).unwrap_or(Value::Null))
    }
    match cmd {
        Command::Start(op) => run(acct, op, now),
        Command::Check(op) => run(acct, op, now),
        Command::EndOthers(op) => run(acct, op, now),
        Command::Allow(op) => run(acct, op, now),
        Command::End(op) => run(acct, op, now),
        Command::List(op) => run(acct, op, now),
        Command::Withdraw(op) => run(acct, op, now),
        Command::Forget(op) => run(acct, op, now),
        Command::Consented(op) => run(acct, op, now),
        Command::FactorsOf(op) => run(acct, op, now),
        Command::CredentialOf(op) => run(acct, op, now),
        Command::AddCredential(op) => run(acct, op, now),
        Command::RenameCredential(op) => run(acct, op, now),
        Command::RemoveCredential(op) => run(acct, op, now),
        Command::UseCredential(op) => run(acct, op, now),
        Command::SetTotp(op) => run(acct, op, now),
        Command::RemoveTotp(op) => run(acct, op, now),
        Command::UseTotp(op) => run(acct, op, now),
        Command::UseRecovery(op) => run(acct, op, now),
        Command::Overview(op) => run(acct, op, now),
    }
}

pub(crate) fn covers(consents: &[Consent], client_id: &str, items: &[String]) -> bool {
    consents.iter().any(|c| c.client_id == client_id && !c.withdrawing && items.iter().all(|i| c.items.contains(i)))
}

/// Adds `value` (if new) to a list of at most `cap`; whether the list changed.
pub(crate) fn push_capped<T: PartialEq>(list: &mut Vec<T>, value: T, cap: usize) -> bool {
    if list.contains(&value) {
        return false;
    }
    list.push(value);
    while list.len() > cap {
        list.remove(0);
    }
    true
}

impl Account {
    pub(crate) fn session_mut(&mut self, id_hash: &str, now: i64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| now < s.expires_at && ct_eq(s.id_hash.as_bytes(), id_hash.as_bytes()))
    }

    /// Records a grant under the client's consent (forgetting the expired ones); returns the
    /// grants pushed out (to revoke).
    pub(crate) fn record_grant(
        &mut self,
        client_id: &str,
        mut grant: GrantRef,
        now: i64,
        ch: &mut Changes,
    ) -> Vec<String> {
        let Some(c) = self.consents.iter_mut().find(|c| c.client_id == client_id) else { return vec![] };
        c.grants.retain(|g| {
            let live = now < g.expires_at;
            if !live {
                ch.grants_removed.push(g.id.clone());
            }
            live
        });
        if c.grants.iter().any(|g| g.id == grant.id) {
            return vec![];
        }
        grant.added_at = now;
        ch.grants_added.push(grant.id.clone());
        storage::insert_in_order(&mut c.grants, grant);
        let over = c.grants.len().saturating_sub(MAX_GRANTS_PER_CONSENT);
        let evicted: Vec<String> = c.grants.drain(..over).map(|g| g.id).collect();
        for id in &evicted {
            ch.forget_grant(id);
        }
        evicted
    }

    /// Drops expired sessions and the oldest beyond [`MAX_SESSIONS`]; whether any went.
    pub(crate) fn prune(&mut self, now: i64) -> bool {
        let before = self.sessions.len();
        self.sessions.retain(|s| now < s.expires_at);
        while self.sessions.len() > MAX_SESSIONS {
            self.sessions.remove(0);
        }
        self.sessions.len() != before
    }
}
