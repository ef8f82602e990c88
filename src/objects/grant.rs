//! The logic that runs inside a grant's Durable Object. The object is single-threaded and
//! its storage transactional, so each command below is read-check-write with no race:
//! an authorization code is redeemed exactly once (RFC 6749 §4.1.2).
//!
//! Pure: `apply(state, command, now) -> (new state to write, reply)`. The Durable Object
//! (`platform::grant_do`) and the in-memory store (`store::memory`) both run it.

use crate::crypto::{b64url, ct_eq, sha256};
use crate::model::pkce;
use crate::model::Grant;
use serde::{Deserialize, Serialize};

mod refresh;

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
#[serde(from = "StoredGrantState")]
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

/// [`GrantState`] as read from storage, also in its earlier form with a single access token
/// (`access_token_hash`, `access_expires_at`), so that objects written before keep working.
#[derive(Deserialize)]
struct StoredGrantState {
    grant: Grant,
    code_hash: String,
    code_expires_at: i64,
    #[serde(default)]
    code_redeemed_at: Option<i64>,
    #[serde(default)]
    access_tokens: Vec<AccessToken>,
    #[serde(default)]
    refresh: Option<RefreshToken>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    access_token_hash: Option<String>,
    #[serde(default)]
    access_expires_at: i64,
}

impl From<StoredGrantState> for GrantState {
    fn from(s: StoredGrantState) -> GrantState {
        let mut access_tokens = s.access_tokens;
        if let Some(hash) = s.access_token_hash {
            let issued_at = s.code_redeemed_at.unwrap_or(0);
            access_tokens.push(AccessToken { hash, issued_at, expires_at: s.access_expires_at, scope: None });
        }
        GrantState {
            grant: s.grant,
            code_hash: s.code_hash,
            code_expires_at: s.code_expires_at,
            code_redeemed_at: s.code_redeemed_at,
            access_tokens,
            refresh: s.refresh,
            revoked: s.revoked,
        }
    }
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
    fn add_access_token(&mut self, token: AccessToken, now: i64) {
        self.access_tokens.retain(|t| now < t.expires_at);
        self.access_tokens.push(token);
        let excess = self.access_tokens.len().saturating_sub(MAX_ACCESS_TOKENS);
        self.access_tokens.drain(..excess);
    }

    fn access_token(&self, hash: &str) -> Option<&AccessToken> {
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// At login: claim this grant id; refused if it was claimed before (a replayed form).
    Reserve { expires_at: i64 },
    /// At consent: turn the reservation into the grant with its code (hash) and expiry.
    Issue { state: Box<GrantState> },
    /// Create the grant without a reservation (no login page was shown): `Conflict` if the
    /// id exists.
    Create { state: Box<GrantState> },
    /// At consent, Deny: use up the reservation so the form cannot be replayed.
    Decline,
    /// Redeem the code at the token endpoint; on success store the new access token's hash,
    /// and the refresh token's if given and the grant has `offline_access`.
    Redeem {
        code_hash: String,
        client_id: String,
        redirect_uri: String,
        code_verifier: Option<String>,
        access_token_hash: String,
        access_expires_at: i64,
        #[serde(default)]
        refresh: Option<NewRefresh>,
        /// A sealed code's grant (`protocol::sealed_code`): created by this redemption when
        /// the object holds nothing yet; ignored when it holds the grant (a replay).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed: Option<Box<GrantState>>,
        /// When the sealed code was issued (for a home's revocation, [`gate_sealed`]).
        #[serde(default)]
        sealed_iat: i64,
    },
    /// The refresh token grant (RFC 6749 §6): rotate, retry within grace, or revoke on reuse.
    Refresh(Box<RefreshCommand>),
    /// Undo a refresh whose response could not be given (the user or consent could not be
    /// checked): drop its access token, and if it rotated to `new_hash`, make the presented
    /// token current again, so that the client's retry is not taken for reuse.
    Unrotate { new_hash: String, access_token_hash: String },
    /// Validate an access token (userinfo).
    Access { token_hash: String },
    /// Look up an access or a refresh token (introspection).
    Introspect { token_hash: String },
    /// Revoke the grant's tokens if `token_hash` is one of its access or refresh tokens and
    /// it was issued to `client_id` (RFC 7009 §2.1).
    Revoke { token_hash: String, client_id: String },
    /// Revoke every token of the grant (consent withdrawn, logout). Idempotent.
    RevokeAll,
    /// To a home object (model::grant::home_of), for every grant in it: the user withdrew
    /// the consent. Its grants are deleted, and a code issued until `revoked_at` cannot
    /// create its grant afterwards ([`gate_sealed`]). A single grant's object treats it as
    /// [`Command::RevokeAll`].
    RevokeHome { revoked_at: i64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshCommand {
    /// Hash of the presented refresh token's secret.
    pub token_hash: String,
    pub client_id: String,
    /// The narrower scope asked for, normalised (space-separated, no duplicates).
    pub scope: Option<String>,
    /// The rotated token: its hash and sealed secret (used unless this is a retry).
    pub new_hash: String,
    pub retry_box: String,
    pub refresh_expires_at: i64,
    pub access_token_hash: String,
    pub access_expires_at: i64,
    /// The client's `refresh_grace_seconds`: 0 disables retries.
    pub grace_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    Reserved,
    Issued,
    Declined,
    /// The grant, for building the token response; whether a refresh token was stored.
    Granted {
        grant: Box<Grant>,
        #[serde(default)]
        refresh_issued: bool,
    },
    /// A refresh succeeded. `retry_box` is `None` when the command's new token was stored,
    /// or the current token sealed for the previous one's holder on a retry within grace.
    Refreshed {
        grant: Box<Grant>,
        retry_box: Option<String>,
    },
    /// Redemption or refresh refused: RFC 6749 `invalid_grant` with this description.
    InvalidGrant {
        description: String,
    },
    /// The scope asked for at refresh is not within the grant (RFC 6749 §5.2).
    InvalidScope {
        description: String,
    },
    /// Access token refused: RFC 6750 `invalid_token`.
    InvalidToken {
        description: String,
    },
    /// A valid access token, with its lifetime (seconds since the epoch). `grant.scope` is
    /// the token's own scope.
    Active {
        grant: Box<Grant>,
        issued_at: i64,
        expires_at: i64,
    },
    /// A valid refresh token (introspection only).
    ActiveRefresh {
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

/// How long a grant id revoked before it existed stays unusable: longer than any login page or
/// code lives (INTERACTION_TTL_SECONDS and CODE_TTL_SECONDS are at most an hour).
pub const TOMBSTONE_SECONDS: i64 = 3600;

pub fn apply(state: Option<Stored>, mut cmd: Command, now: i64) -> (Option<Stored>, Reply) {
    // A sealed code's first redemption: its grant becomes the object's (written only if the
    // redemption succeeds). A tombstone or an existing grant takes precedence.
    let state = match (state, &mut cmd) {
        (None, Command::Redeem { sealed, .. }) => sealed.take().map(Stored::Grant),
        (state, _) => state,
    };
    let (grant, cmd) = match (state, cmd) {
        (None, Command::Reserve { expires_at }) => return (Some(Stored::Reserved { expires_at }), Reply::Reserved),
        (Some(_), Command::Reserve { .. } | Command::Create { .. }) => return (None, Reply::Conflict),
        (None, Command::Create { state }) => return (Some(Stored::Grant(state)), Reply::Issued),
        // Consent withdrawn before the grant exists (a code being issued, a consent form open):
        // leave a tombstone so that it can never be created afterwards.
        (None | Some(Stored::Reserved { .. }), Command::RevokeAll | Command::RevokeHome { .. }) => {
            return (Some(Stored::Declined { expires_at: now + TOMBSTONE_SECONDS }), Reply::Revoked)
        }
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
        Command::Reserve { .. } | Command::Issue { .. } | Command::Create { .. } | Command::Decline => {
            (None, Reply::Conflict)
        }
        Command::Redeem {
            code_hash,
            client_id,
            redirect_uri,
            code_verifier,
            access_token_hash,
            access_expires_at,
            refresh,
            sealed: _,
            sealed_iat: _,
        } => {
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
                // RFC 6749 §4.1.2: a code used twice revokes what was issued from it
                // (access and refresh tokens alike).
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
                    let method = st.grant.code_challenge_method.as_deref().unwrap_or_default();
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
            let token =
                AccessToken { hash: access_token_hash, issued_at: now, expires_at: access_expires_at, scope: None };
            st.add_access_token(token, now);
            let refresh_issued = refresh.is_some() && wants_refresh(&st.grant);
            if let Some(r) = refresh.filter(|_| refresh_issued) {
                st.refresh = Some(RefreshToken {
                    hash: r.hash,
                    issued_at: now,
                    expires_at: r.expires_at.min(r.max_expires_at),
                    previous: Vec::new(),
                    retry_box: None,
                    max_expires_at: r.max_expires_at,
                });
            }
            let grant = Box::new(st.grant.clone());
            (Some(st), Reply::Granted { grant, refresh_issued })
        }
        Command::Refresh(cmd) => refresh::apply(state, *cmd, now),
        Command::Unrotate { new_hash, access_token_hash } => match state {
            Some(st) => (Some(refresh::unrotate(st, &new_hash, &access_token_hash)), Reply::Revoked),
            None => (None, Reply::Revoked),
        },
        Command::Access { token_hash } => match access(state.as_ref(), &token_hash, now) {
            Ok(reply) => (None, reply),
            Err(description) => (None, Reply::InvalidToken { description: description.to_string() }),
        },
        Command::Introspect { token_hash } => {
            let inactive = || (None, Reply::InvalidToken { description: "the token is not active".into() });
            let Some(st) = state.as_ref() else { return inactive() };
            if let Ok(reply) = access(Some(st), &token_hash, now) {
                return (None, reply);
            }
            match &st.refresh {
                Some(r) if !st.revoked && now < r.expires_at && hash_eq(&r.hash, &token_hash) => {
                    let (issued_at, expires_at) = (r.issued_at, r.expires_at);
                    (None, Reply::ActiveRefresh { grant: Box::new(st.grant.clone()), issued_at, expires_at })
                }
                _ => inactive(),
            }
        }
        Command::Revoke { token_hash, client_id } => match state {
            Some(mut st) if !st.revoked && hash_eq(&st.grant.client_id, &client_id) && st.issued(&token_hash) => {
                st.revoked = true;
                (Some(st), Reply::Revoked)
            }
            _ => (None, Reply::Revoked),
        },
        Command::RevokeAll | Command::RevokeHome { .. } => match state {
            Some(mut st) if !st.revoked => {
                st.revoked = true;
                (Some(st), Reply::Revoked)
            }
            _ => (None, Reply::Revoked),
        },
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

/// An active access token's reply, with the grant's scope narrowed to the token's.
fn access(state: Option<&GrantState>, token_hash: &str, now: i64) -> Result<Reply, &'static str> {
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
    Ok(Reply::Active { grant, issued_at: token.issued_at, expires_at: token.expires_at })
}

/// When an object's storage for `st` may go: a minute after the last code or token in it
/// expires (seconds).
pub fn cleanup_at(st: &Stored) -> i64 {
    st.expires_at() + 60
}

/// Before a command reaches a grant of a home whose grants were revoked at `revoked_at`
/// ([`Command::RevokeHome`]): a sealed code issued until then no longer brings its grant, so
/// it finds nothing and is refused like any unknown code. Codes issued later (after a new
/// consent) are not touched.
pub fn gate_sealed(cmd: &mut Command, revoked_at: Option<i64>) {
    if let Command::Redeem { sealed, sealed_iat, .. } = cmd {
        if revoked_at.is_some_and(|r| *sealed_iat <= r) {
            *sealed = None;
        }
    }
}

/// How long a home keeps the time its grants were revoked: longer than any code lives
/// (CODE_TTL_SECONDS is at most 600), so no code issued before can be redeemed after.
pub fn revoked_until(revoked_at: i64) -> i64 {
    revoked_at + TOMBSTONE_SECONDS
}

/// When an alarm that could not read its storage runs again (seconds).
pub const ALARM_RETRY_SECONDS: i64 = 60;
/// When a home's alarm looks again at an entry it could not parse (seconds).
pub const UNREADABLE_RETRY_SECONDS: i64 = 86_400;

/// What an object's alarm does after reading the value of a grant's own object.
#[derive(Debug, PartialEq, Eq)]
pub enum AlarmStep {
    /// The grant lives on: run again at this time (seconds).
    Again(i64),
    /// Nothing in it can be used any more: delete the object's storage.
    DeleteAll,
    /// No value: the object is a home (or empty): sweep its grants.
    Sweep,
}

/// The alarm's step after reading `KEY`. A read that failed deletes nothing: the object runs
/// again a minute later. (Deleting on an error would forget a redeemed code, which could then
/// be redeemed again.)
pub fn alarm_step<E>(read: Result<Option<&Stored>, E>, now: i64) -> AlarmStep {
    match read {
        Ok(Some(st)) if st.expires_at() >= now => AlarmStep::Again(cleanup_at(st)),
        Ok(Some(_)) => AlarmStep::DeleteAll,
        Ok(None) => AlarmStep::Sweep,
        Err(_) => AlarmStep::Again(now + ALARM_RETRY_SECONDS),
    }
}

/// A home object's alarm (model::grant::home_of): of its grants, `None` where a value could
/// not be parsed, which to delete (nothing in them can be used any more) and when to run
/// again (the earliest [`cleanup_at`] of the rest, or when the home's revocation time may go;
/// `None`: nothing is left). An entry that cannot be parsed is kept (it may be a redeemed
/// code's grant) and looked at again a day later.
pub fn sweep(entries: Vec<(String, Option<Stored>)>, revoked_at: Option<i64>, now: i64) -> (Vec<String>, Option<i64>) {
    let mut gone = Vec::new();
    let mut next: Option<i64> = revoked_at.map(revoked_until).filter(|&at| at > now);
    let mut keep_until = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
    for (key, st) in entries {
        match st {
            Some(st) if st.expires_at() >= now => keep_until(cleanup_at(&st)),
            Some(_) => gone.push(key),
            None => keep_until(now + UNREADABLE_RETRY_SECONDS),
        }
    }
    (gone, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_deletes_what_expired_and_wakes_for_the_earliest_rest() {
        let reserved = |expires_at| Some(Stored::Reserved { expires_at });
        let entries = vec![
            ("grant:a".to_string(), reserved(100)),
            ("grant:b".to_string(), reserved(300)),
            ("grant:d".to_string(), Some(Stored::Declined { expires_at: 200 })),
        ];
        assert_eq!(sweep(entries.clone(), None, 150), (vec!["grant:a".into()], Some(260)));
        assert_eq!(sweep(entries.clone(), None, 100), (vec![], Some(160)));
        let all: Vec<String> = vec!["grant:a".into(), "grant:b".into(), "grant:d".into()];
        assert_eq!(sweep(entries.clone(), None, 301), (all.clone(), None));
        assert_eq!(sweep(vec![], None, 0), (vec![], None));
        // A revoked home keeps its revocation time until no code from before can be redeemed.
        assert_eq!(sweep(vec![], Some(100), 150), (vec![], Some(100 + TOMBSTONE_SECONDS)));
        assert_eq!(sweep(entries.clone(), Some(100), 150).1, Some(260));
        assert_eq!(sweep(entries, Some(100), 301), (all, Some(100 + TOMBSTONE_SECONDS)));
        assert_eq!(sweep(vec![], Some(100), 100 + TOMBSTONE_SECONDS), (vec![], None));
    }

    /// Nothing is deleted because it could not be read: a redeemed code's grant deleted by
    /// mistake would let the code be redeemed again.
    #[test]
    fn an_alarm_never_deletes_what_it_could_not_read() {
        let live = Stored::Reserved { expires_at: 500 };
        let done = Stored::Reserved { expires_at: 100 };
        assert_eq!(alarm_step(Ok::<_, ()>(Some(&live)), 200), AlarmStep::Again(560));
        assert_eq!(alarm_step(Ok::<_, ()>(Some(&done)), 200), AlarmStep::DeleteAll);
        assert_eq!(alarm_step(Ok::<_, ()>(None), 200), AlarmStep::Sweep);
        assert_eq!(alarm_step(Err("storage unavailable"), 200), AlarmStep::Again(200 + ALARM_RETRY_SECONDS));
        // In a home: an entry that cannot be parsed is kept and looked at again.
        let entries = vec![("grant:x".to_string(), None), ("grant:old".to_string(), Some(done))];
        assert_eq!(sweep(entries, None, 200), (vec!["grant:old".into()], Some(200 + UNREADABLE_RETRY_SECONDS)));
    }

    #[test]
    fn a_revoked_home_refuses_codes_issued_until_then() {
        let redeem = |iat| Command::Redeem {
            code_hash: secret_hash("code"),
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_verifier: None,
            access_token_hash: secret_hash("at"),
            access_expires_at: 4000,
            refresh: None,
            sealed: Some(Box::new(GrantState::new(
                serde_json::from_value(serde_json::json!({
                    "client_id": "app", "redirect_uri": "https://app.example/cb", "scope": "openid",
                    "sub": "s", "username": "alice", "auth_time": 100
                }))
                .unwrap(),
                secret_hash("code"),
                1060,
            ))),
            sealed_iat: iat,
        };
        let granted = |cmd| matches!(apply(None, cmd, 1010).1, Reply::Granted { .. });
        // No revocation: the code brings its grant.
        let mut cmd = redeem(1000);
        gate_sealed(&mut cmd, None);
        assert!(granted(cmd));
        // Issued at or before the revocation: refused, nothing written.
        for iat in [0, 999, 1000] {
            let mut cmd = redeem(iat);
            gate_sealed(&mut cmd, Some(1000));
            assert_eq!(
                apply(None, cmd, 1010),
                (None, Reply::InvalidGrant { description: "the authorization code is invalid or has expired".into() })
            );
        }
        // Issued after it (a new consent): granted.
        let mut cmd = redeem(1001);
        gate_sealed(&mut cmd, Some(1000));
        assert!(granted(cmd));
    }
}
