//! A user's passkeys (WebAuthn) and one-time codes (TOTP, RFC 6238, with recovery codes), kept
//! in their account object: a passkey's signature counter moves forward atomically, a code is
//! accepted once, and the TOTP secret never leaves the object (codes are checked inside it).
//! Commands that change them from the account page need a live session (`id_hash`); the
//! operator's (through the admin endpoint) and a sign-in's do not.

use super::{Account, AccountOp, Changes};
use crate::crypto::{b64url_decode, ct_eq, totp};
use crate::model::passkey::Credential;
use serde::{Deserialize, Serialize};

/// Passkeys kept per user.
pub const MAX_CREDENTIALS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    #[serde(default)]
    pub credentials: Vec<Credential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<Totp>,
    /// SHA-256 (base64url) of each unused recovery code.
    #[serde(default)]
    pub recovery: Vec<String>,
    /// The username, kept for a passkey sign-in (which names the user by `sub` only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// The sign-in challenges this user's passkeys answered, until they expire: each is
    /// accepted once (WebAuthn §13.4.3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<Answered>,
}

/// A sign-in challenge answered: its nonce and when the challenge expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answered {
    pub n: String,
    pub exp: i64,
}

/// Challenges answered within their lifetime kept per user: more passkey sign-ins than this
/// within a challenge's minutes are refused until the oldest expire.
pub const MAX_ANSWERED: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totp {
    /// The shared secret, base64url (20 bytes).
    pub secret: String,
    pub enabled_at: i64,
    /// The last step whose code was accepted: a code works once (RFC 6238 §5.2).
    #[serde(default)]
    pub last_step: i64,
}

fn live(acct: &mut Account, id_hash: &Option<String>, now: i64) -> bool {
    match id_hash {
        Some(h) => acct.session_mut(h, now).is_some(),
        None => true,
    }
}

/// What the account page and a sign-in need to know: the passkeys (public keys and names),
/// whether one-time codes are on and how many recovery codes are left. Never the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FactorsOf {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorsReply {
    pub credentials: Vec<Credential>,
    pub totp: bool,
    pub recovery_left: usize,
}

impl AccountOp for FactorsOf {
    type Reply = FactorsReply;
    fn apply(self, acct: &mut Account, _now: i64, _ch: &mut Changes) -> FactorsReply {
        let f = &acct.factors;
        FactorsReply { credentials: f.credentials.clone(), totp: f.totp.is_some(), recovery_left: f.recovery.len() }
    }
}

/// The account page: who a live session is (`None`: no such session) and their factors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overview {
    pub id_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewReply {
    pub username: String,
    pub auth_time: i64,
    pub factors: FactorsReply,
}

impl AccountOp for Overview {
    type Reply = Option<OverviewReply>;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> Self::Reply {
        let s = acct.session_mut(&self.id_hash, now)?;
        let (username, auth_time) = (s.username.clone(), s.auth_time);
        Some(OverviewReply { username, auth_time, factors: FactorsOf {}.apply(acct, now, ch) })
    }
}

/// One passkey, for checking a sign-in's signature; and the username.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialOf {
    pub credential_id: String,
}

impl AccountOp for CredentialOf {
    type Reply = Option<(Credential, String)>;
    fn apply(self, acct: &mut Account, _now: i64, _ch: &mut Changes) -> Self::Reply {
        let f = &acct.factors;
        f.credentials.iter().find(|c| c.id == self.credential_id).map(|c| (c.clone(), f.username.clone()))
    }
}

/// A new passkey, from the account page (a live session) or an invitation (`id_hash` none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddCredential {
    pub id_hash: Option<String>,
    pub credential: Credential,
    pub username: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Added {
    Added,
    /// The same credential is registered already (WebAuthn §7.1 step 22).
    Exists,
    Full,
    NoSession,
}

impl AccountOp for AddCredential {
    type Reply = Added;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> Added {
        if !live(acct, &self.id_hash, now) {
            return Added::NoSession;
        }
        let f = &mut acct.factors;
        if f.credentials.iter().any(|c| c.id == self.credential.id) {
            return Added::Exists;
        }
        if f.credentials.len() >= MAX_CREDENTIALS {
            return Added::Full;
        }
        f.credentials.push(self.credential);
        f.username = self.username;
        ch.factors = true;
        Added::Added
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameCredential {
    pub id_hash: String,
    pub credential_id: String,
    pub name: String,
}

/// Whether a change was made (false: no live session, or no such passkey).
impl AccountOp for RenameCredential {
    type Reply = bool;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> bool {
        if acct.session_mut(&self.id_hash, now).is_none() {
            return false;
        }
        match acct.factors.credentials.iter_mut().find(|c| c.id == self.credential_id) {
            Some(c) => {
                c.name = self.name;
                ch.factors = true;
                true
            }
            None => false,
        }
    }
}

/// Removes a passkey: from the account page (a live session) or by the operator (none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveCredential {
    pub id_hash: Option<String>,
    pub credential_id: String,
}

impl AccountOp for RemoveCredential {
    type Reply = bool;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> bool {
        if !live(acct, &self.id_hash, now) {
            return false;
        }
        let before = acct.factors.credentials.len();
        acct.factors.credentials.retain(|c| c.id != self.credential_id);
        ch.factors = acct.factors.credentials.len() != before;
        ch.factors
    }
}

/// A sign-in with a passkey whose signature checked out: its challenge must not have been
/// answered before (`challenge`, its nonce, kept until `challenge_exp`), its counter must move
/// forward (WebAuthn §7.2 step 22; else the credential may have been cloned and is refused),
/// and the counter, backup state and last use are recorded. Also carried by a sign-in's
/// `Start`, so that a passkey sign-in writes its account once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UseCredential {
    pub credential_id: String,
    pub sign_count: u32,
    pub backup_state: bool,
    pub challenge: String,
    pub challenge_exp: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Used {
    Used {
        credential: Credential,
    },
    Unknown,
    CounterWentBack,
    /// The challenge was answered before (a replayed assertion).
    Replayed,
    /// The challenge has expired (by the account object's clock).
    Expired,
    /// Too many challenges answered within their lifetime ([`MAX_ANSWERED`]).
    TooMany,
}

impl AccountOp for UseCredential {
    type Reply = Used;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> Used {
        let f = &mut acct.factors;
        let before = f.answered.len();
        f.answered.retain(|a| now < a.exp);
        ch.factors |= f.answered.len() != before;
        // Expiry judged here, on the clock that forgets answered nonces: a replay either finds
        // its nonce kept or its challenge expired (the request's own check ran earlier).
        if now >= self.challenge_exp {
            return Used::Expired;
        }
        if f.answered.iter().any(|a| a.n == self.challenge) {
            return Used::Replayed;
        }
        if f.answered.len() >= MAX_ANSWERED {
            return Used::TooMany;
        }
        let Some(c) = f.credentials.iter_mut().find(|c| c.id == self.credential_id) else {
            return Used::Unknown;
        };
        if !crate::model::passkey::counter_moved_on(c.sign_count, self.sign_count) {
            return Used::CounterWentBack;
        }
        c.sign_count = self.sign_count;
        c.backup_state = self.backup_state;
        c.last_used_at = Some(now);
        let credential = c.clone();
        f.answered.push(Answered { n: self.challenge, exp: self.challenge_exp });
        ch.factors = true;
        Used::Used { credential }
    }
}

/// Turns one-time codes on (the code shown at setup was confirmed): the secret and the hashes
/// of fresh recovery codes (the previous ones stop working).
/// `id_hash`: the account page's live session; none during a sign-in (after the password).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetTotp {
    pub id_hash: Option<String>,
    pub secret: String,
    pub recovery: Vec<String>,
    /// The step of the code that confirmed the setup: it does not sign in again.
    #[serde(default)]
    pub last_step: i64,
}

impl AccountOp for SetTotp {
    type Reply = bool;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> bool {
        if !live(acct, &self.id_hash, now) {
            return false;
        }
        acct.factors.totp = Some(Totp { secret: self.secret, enabled_at: now, last_step: self.last_step });
        acct.factors.recovery = self.recovery;
        ch.factors = true;
        true
    }
}

/// Turns one-time codes off (the account page, or the operator resetting them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveTotp {
    pub id_hash: Option<String>,
}

impl AccountOp for RemoveTotp {
    type Reply = bool;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> bool {
        if !live(acct, &self.id_hash, now) {
            return false;
        }
        ch.factors = acct.factors.totp.is_some() || !acct.factors.recovery.is_empty();
        acct.factors.totp = None;
        acct.factors.recovery.clear();
        true
    }
}

/// A one-time code at sign-in, checked here where the secret is: accepted once per step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UseTotp {
    pub code: String,
}

impl AccountOp for UseTotp {
    /// Whether the code was good (and had not been used).
    type Reply = bool;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> bool {
        let Some(t) = acct.factors.totp.as_mut() else { return false };
        let Some(secret) = b64url_decode(&t.secret) else { return false };
        match totp::matching_step(&secret, &self.code, now) {
            Some(step) if step > t.last_step => {
                t.last_step = step;
                ch.factors = true;
                true
            }
            _ => false,
        }
    }
}

/// A recovery code (its hash): good once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UseRecovery {
    pub hash: String,
}

impl AccountOp for UseRecovery {
    type Reply = bool;
    fn apply(self, acct: &mut Account, _now: i64, ch: &mut Changes) -> bool {
        let r = &mut acct.factors.recovery;
        match r.iter().position(|h| ct_eq(h.as_bytes(), self.hash.as_bytes())) {
            Some(i) => {
                r.remove(i);
                ch.factors = true;
                true
            }
            None => false,
        }
    }
}
