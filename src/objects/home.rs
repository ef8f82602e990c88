//! Where a grant lives, and a returning user's "home": the one object that keeps every grant
//! made without a page under one consent (`model::grant::homed_grant_id`). Withdrawing the
//! consent revokes the home as a whole: its grants go, and the time is kept so that a code
//! sealed until then cannot bring its grant back afterwards.
//!
//! Everything here is pure. The Durable Object (`platform/grants.rs`) does the storage reads
//! and writes these functions ask for; the in-memory store (`store::memory`) runs the same
//! functions over maps, so the host tests test the object's own rules.

use super::grant::{self as grant_object, Command, Redeem, Stored, TOMBSTONE_SECONDS};
use crate::model::grant::home_of;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The key of an object that holds one grant.
pub const OWN_KEY: &str = "grant";
/// The prefix of a home's entries: `grant:<id>`.
pub const ENTRY_PREFIX: &str = "grant:";
/// A home's key for when its grants were revoked (seconds).
pub const REVOKED_KEY: &str = "revoked";

/// When an alarm that could not read its storage runs again (seconds).
pub const ALARM_RETRY_SECONDS: i64 = 60;
/// When a home's alarm looks again at an entry it could not parse (seconds).
pub const UNREADABLE_RETRY_SECONDS: i64 = 86_400;

/// Where a grant lives: the object (`home:<home>` for a homed id, else the id itself) and the
/// entry within it (empty for an object of its own).
pub fn locate(grant_id: &str) -> (String, &str) {
    match home_of(grant_id) {
        Some(home) => (format!("home:{home}"), grant_id),
        None => (grant_id.to_string(), ""),
    }
}

/// The storage key of a grant at entry `at` of its object (`""`: an object of its own).
pub fn storage_key(at: &str) -> String {
    if at.is_empty() {
        OWN_KEY.to_string()
    } else {
        format!("{ENTRY_PREFIX}{at}")
    }
}

/// To a home object (called at its entry `""`), for every grant in it: the user withdrew the
/// consent. Its grants are deleted, and a code issued until `revoked_at` cannot create its
/// grant afterwards ([`gate_sealed`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeHome {
    pub revoked_at: i64,
}

/// What a `Grants` object is sent: a command for one of its grants, or a home's revocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ObjectCommand {
    RevokeHome { revoke_home: RevokeHome },
    Grant(Command),
}

/// What happens to a grant's entry: the write, the reply, and when the object's alarm must run
/// at the latest (set at a grant's first write only: the alarm sets itself again while the
/// grant lives, which keeps a storage operation off every token and refresh request).
pub struct EntryStep {
    pub write: Option<Stored>,
    pub reply: Value,
    pub alarm_by: Option<i64>,
}

/// Whether running `cmd` on the entry `at` holding `current` needs the home's revocation time:
/// only a sealed code's first redemption in a home does.
pub fn needs_revoked(at: &str, current: Option<&Stored>, cmd: &Command) -> bool {
    !at.is_empty() && current.is_none() && matches!(cmd, Command::Redeem(r) if r.sealed.is_some())
}

/// Runs `cmd` on the grant at entry `at` (`""`: an object of its own) whose stored value is
/// `current`. For an entry of a home, only a sealed code's first redemption needs to know
/// whether (and when) the home was revoked: `revoked_at` is asked for then, and only then.
pub fn apply_entry(
    at: &str,
    current: Option<Stored>,
    mut cmd: Command,
    revoked_at: impl FnOnce() -> Option<i64>,
    now: i64,
) -> EntryStep {
    let first_write = current.is_none();
    if needs_revoked(at, current.as_ref(), &cmd) {
        if let Command::Redeem(r) = &mut cmd {
            gate_sealed(r, revoked_at());
        }
    }
    let (write, reply) = grant_object::apply(current, cmd, now);
    let alarm_by = write.as_ref().filter(|_| first_write).map(grant_object::cleanup_at);
    EntryStep { write, reply, alarm_by }
}

/// A sealed code's redemption in a home revoked at `revoked_at`: a code issued until then no
/// longer brings its grant, so it finds nothing and is refused like any unknown code. Codes
/// issued later (after a new consent) are not touched.
pub fn gate_sealed(r: &mut Redeem, revoked_at: Option<i64>) {
    if revoked_at.is_some_and(|at| r.sealed_iat <= at) {
        r.sealed = None;
    }
}

/// A home revoked at `revoked_at`, having been revoked at `before` (if ever): the time to
/// keep (the later) and when its alarm must run at the latest (when that time may go).
pub fn revoke(before: Option<i64>, revoked_at: i64) -> (i64, i64) {
    let at = before.map_or(revoked_at, |b| b.max(revoked_at));
    (at, revoked_until(at))
}

/// How long a home keeps the time its grants were revoked: longer than any code lives
/// (CODE_TTL_SECONDS is at most 600), so no code issued before can be redeemed after.
pub fn revoked_until(revoked_at: i64) -> i64 {
    revoked_at + TOMBSTONE_SECONDS
}

/// The alarm to set so that it runs no later than `wanted`, given the one set (`None`: none):
/// `Some(wanted)` when none is set or it is later, else `None` (leave it).
pub fn earlier_alarm(current: Option<i64>, wanted: i64) -> Option<i64> {
    current.is_none_or(|c| c > wanted).then_some(wanted)
}

/// What an object's alarm does after reading the value of a grant's own object.
#[derive(Debug, PartialEq, Eq)]
pub enum AlarmStep {
    /// The grant lives on: run again at this time (seconds).
    Again(i64),
    /// Nothing in it can be used any more: delete the object's storage.
    DeleteAll,
    /// No value: the object is a home (or empty): [`sweep`] its grants.
    Sweep,
}

/// The alarm's step after reading [`OWN_KEY`]. A read that failed deletes nothing: the object
/// runs again a minute later. (Deleting on an error would forget a redeemed code, which could
/// then be redeemed again.)
pub fn alarm_step<E>(read: Result<Option<&Stored>, E>, now: i64) -> AlarmStep {
    match read {
        Ok(Some(st)) if st.expires_at() >= now => AlarmStep::Again(grant_object::cleanup_at(st)),
        Ok(Some(_)) => AlarmStep::DeleteAll,
        Ok(None) => AlarmStep::Sweep,
        Err(_) => AlarmStep::Again(now + ALARM_RETRY_SECONDS),
    }
}

/// A home's alarm: of its entries (`None` where a value could not be parsed), which to delete
/// (nothing in them can be used any more) and when to run again (the earliest cleanup of the
/// rest, or when the home's revocation time may go; `None`: nothing is left, delete it all).
/// An entry that cannot be parsed is kept (it may be a redeemed code's grant) and looked at
/// again a day later.
pub fn sweep(entries: Vec<(String, Option<Stored>)>, revoked_at: Option<i64>, now: i64) -> (Vec<String>, Option<i64>) {
    let mut gone = Vec::new();
    let mut next: Option<i64> = revoked_at.map(revoked_until).filter(|&at| at > now);
    let mut keep_until = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
    for (key, st) in entries {
        match st {
            Some(st) if st.expires_at() >= now => keep_until(grant_object::cleanup_at(&st)),
            Some(_) => gone.push(key),
            None => keep_until(now + UNREADABLE_RETRY_SECONDS),
        }
    }
    (gone, next)
}

#[cfg(test)]
mod tests {
    use super::super::grant::{secret_hash, GrantOp, GrantState, RedeemReply};
    use super::*;

    /// Runs a typed command on a grant at entry `at` (the in-memory store's way in).
    fn apply_op<O: GrantOp>(
        at: &str,
        current: Option<Stored>,
        op: O,
        revoked_at: impl FnOnce() -> Option<i64>,
        now: i64,
    ) -> (EntryStep, Result<O::Reply, String>) {
        let step = apply_entry(at, current, op.into(), revoked_at, now);
        let reply = serde_json::from_value(step.reply.clone()).map_err(|e| e.to_string());
        (step, reply)
    }

    #[test]
    fn grants_are_located_by_their_id() {
        let homed = format!("{}{}", "h".repeat(22), "r".repeat(22));
        assert_eq!(locate(&homed), (format!("home:{}", "h".repeat(22)), homed.as_str()));
        assert_eq!(locate("own-grant-id-0123456"), ("own-grant-id-0123456".to_string(), ""));
        assert_eq!(storage_key(""), "grant");
        assert_eq!(storage_key(&homed), format!("grant:{homed}"));
        assert_eq!(revoke(Some(500), 400), (500, 500 + TOMBSTONE_SECONDS), "a revocation time never goes back");
        assert_eq!(earlier_alarm(None, 10), Some(10));
        assert_eq!(earlier_alarm(Some(20), 10), Some(10));
        assert_eq!(earlier_alarm(Some(5), 10), None);
    }

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
        let homed = format!("{}{}", "h".repeat(22), "r".repeat(22));
        let redeem = |iat| Redeem {
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
            resource: None,
        };
        let run = |iat, revoked: Option<i64>| apply_op(&homed, None, redeem(iat), || revoked, 1010);
        // No revocation: the code brings its grant, and the alarm is set by its first write.
        let (step, reply) = run(1000, None);
        assert!(matches!(reply, Ok(RedeemReply::Granted { .. })));
        assert_eq!(step.alarm_by, step.write.as_ref().map(grant_object::cleanup_at));
        // Issued at or before the revocation: refused, nothing written.
        for iat in [0, 999, 1000] {
            let (step, reply) = run(iat, Some(1000));
            assert!(step.write.is_none());
            assert_eq!(
                reply,
                Ok(RedeemReply::InvalidGrant {
                    description: "the authorization code is invalid or has expired".into()
                })
            );
        }
        // Issued after it (a new consent): granted.
        assert!(matches!(run(1001, Some(1000)).1, Ok(RedeemReply::Granted { .. })));
        // An object of its own never asks when a home was revoked.
        let (_, reply) = apply_op("", None, redeem(0), || panic!("not a home"), 1010);
        assert!(matches!(reply, Ok(RedeemReply::Granted { .. })));
    }
}
