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
//! Pure: `apply(&mut account, command, now) -> (changes, reply)`. It changes the account only
//! as far as `changes` says, so the object may keep the account it last read or wrote in
//! memory and skip reading (and parsing) it on every call. Session ids are stored as SHA-256
//! hashes only.
//!
//! Storage layout ([`entries`], [`from_entries`]): the sessions under one key, the consents
//! (without their grants) under another, and each grant on record under a key of its own —
//! so that recording a grant writes a few hundred bytes, not every grant of the consent and
//! every session again (an active user's account is several KB).

use crate::crypto::ct_eq;
use serde::{Deserialize, Serialize};

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
    /// Grants newly on record (their consent holds them).
    pub grants_added: Vec<String>,
    /// Grants no longer on record (expired, pushed out, or their consent withdrawn).
    pub grants_removed: Vec<String>,
}

impl Changes {
    pub fn any(&self) -> bool {
        self.sessions || self.consents || !self.grants_added.is_empty() || !self.grants_removed.is_empty()
    }

    /// A grant leaves the record: added and gone in one command, it is neither.
    fn forget_grant(&mut self, id: &str) {
        match self.grants_added.iter().position(|g| g == id) {
            Some(i) => {
                self.grants_added.remove(i);
            }
            None => self.grants_removed.push(id.to_string()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// After a successful login: start a session; say whether `items` are already
    /// consented for `client_id`, and if so record `grant` under that consent.
    Start { session: Session, client_id: String, items: Vec<String>, grant: Option<GrantRef> },

    /// At the authorization endpoint: is the session live, and is `items` consented? When it
    /// is, the session is no older than `max_age` (OpenID Connect Core §3.1.2.1) and `issue`
    /// (no prompt=consent), the caller may issue a code without a page: the client is noted on
    /// the session (written only when it is new there); the grant goes to the user's home
    /// object at the client, not on record here.
    Check { id_hash: String, client_id: String, items: Vec<String>, max_age: Option<i64>, issue: bool },
    /// The user clicked Allow, in a live session (`NoSession` otherwise: the consent form
    /// does not outlive the sign-in): remember the consent (adding to what was allowed
    /// before) and the grant; note the client on the session.
    Allow { id_hash: String, client_id: String, items: Vec<String>, grant: GrantRef, new_home: String },
    /// End the session. With `client_id`, only if that client received a grant through
    /// it (else `Unconfirmed`, and nothing changes).
    End { id_hash: String, client_id: Option<String> },
    /// The consents, for the page that lists them (needs a live session).
    List { id_hash: String },
    /// Begin withdrawing the consent given to `client_id` (needs a live session): it stops
    /// authorizing anything; the reply names what to revoke. Repeatable.
    Withdraw { id_hash: String, client_id: String },
    /// Finish a withdrawal once `revoked` (and the home) are revoked: the consent is deleted,
    /// unless it holds a live grant not in `revoked` (`Pending`: revoke it, then again).
    /// Nothing to do (`Withdrawn`) when the consent is gone, or was given again since
    /// (another home). Repeatable.
    Forget { client_id: String, home: String, revoked: Vec<String> },
    /// Does this client's consent still stand for `grant_id` (a grant on record under it,
    /// or in its home)? For refresh: a withdrawn consent ends its grants.
    Consented { client_id: String, grant_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    /// `evicted`: grants pushed out of a full consent list, which the caller must revoke.
    Started {
        consented: bool,
        #[serde(default)]
        evicted: Vec<String>,
    },
    /// `issue`: the session is fresh enough and the consent covers the request, so the caller
    /// may issue a code without a page.
    Active {
        username: String,
        auth_time: i64,
        consented: bool,
        /// When the caller may issue: the consent's home, for the code's grant id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue: Option<String>,
    },
    NoSession,
    Allowed {
        #[serde(default)]
        evicted: Vec<String>,
    },
    Ended,
    Unconfirmed,
    Consents {
        username: String,
        consents: Vec<Consent>,
    },
    /// Withdrawal begun: revoke these grants and the home (none: there was no consent).
    Withdrawing {
        grants: Vec<String>,
        home: Option<String>,
    },
    /// Not forgotten yet: these live grants are not revoked.
    Pending {
        grants: Vec<String>,
    },
    /// The consent is gone.
    Withdrawn,
    Consent {
        live: bool,
    },
}

fn covers(consents: &[Consent], client_id: &str, items: &[String]) -> bool {
    consents.iter().any(|c| c.client_id == client_id && !c.withdrawing && items.iter().all(|i| c.items.contains(i)))
}

/// Adds `value` (if new) to a list of at most `cap`; whether the list changed.
fn push_capped<T: PartialEq>(list: &mut Vec<T>, value: T, cap: usize) -> bool {
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
    fn session_mut(&mut self, id_hash: &str, now: i64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| now < s.expires_at && ct_eq(s.id_hash.as_bytes(), id_hash.as_bytes()))
    }

    /// Records a grant under the client's consent (forgetting the expired ones); returns the
    /// grants pushed out (to revoke).
    fn record_grant(&mut self, client_id: &str, mut grant: GrantRef, now: i64, ch: &mut Changes) -> Vec<String> {
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
        insert_in_order(&mut c.grants, grant);
        let over = c.grants.len().saturating_sub(MAX_GRANTS_PER_CONSENT);
        let evicted: Vec<String> = c.grants.drain(..over).map(|g| g.id).collect();
        for id in &evicted {
            ch.forget_grant(id);
        }
        evicted
    }

    /// Drops expired sessions and the oldest beyond [`MAX_SESSIONS`]; whether any went.
    fn prune(&mut self, now: i64) -> bool {
        let before = self.sessions.len();
        self.sessions.retain(|s| now < s.expires_at);
        while self.sessions.len() > MAX_SESSIONS {
            self.sessions.remove(0);
        }
        self.sessions.len() != before
    }
}

/// Applies `cmd` to the account (an empty one for a new user). `changes` says what changed
/// and must be stored; where it says nothing, `acct` is as it was.
pub fn apply(acct: &mut Account, cmd: Command, now: i64) -> (Changes, Reply) {
    let mut ch = Changes::default();
    let reply = match cmd {
        Command::Start { mut session, client_id, items, grant } => {
            let consented = covers(&acct.consents, &client_id, &items);
            let mut evicted = vec![];
            if consented {
                if let Some(g) = grant {
                    evicted = acct.record_grant(&client_id, g, now, &mut ch);
                    session.clients.push(client_id);
                }
            }
            acct.sessions.push(session);
            acct.prune(now);
            ch.sessions = true;
            Reply::Started { consented, evicted }
        }
        Command::Check { id_hash, client_id, items, max_age, issue } => {
            let consented = covers(&acct.consents, &client_id, &items);
            let Some(s) = acct.session_mut(&id_hash, now) else { return (ch, Reply::NoSession) };
            let (username, auth_time) = (s.username.clone(), s.auth_time);
            let fresh = max_age.is_none_or(|m| now - auth_time <= m);
            let issue = issue && consented && fresh;
            // RP-Initiated Logout confirms a client by this list: written when the client is new.
            ch.sessions = issue && push_capped(&mut s.clients, client_id.clone(), MAX_SESSIONS);
            let home = acct.consents.iter().find(|c| c.client_id == client_id).map(|c| c.home.clone());
            Reply::Active { username, auth_time, consented, issue: home.filter(|_| issue) }
        }
        Command::Allow { id_hash, client_id, items, grant, new_home } => {
            let Some(s) = acct.session_mut(&id_hash, now) else { return (ch, Reply::NoSession) };
            ch.sessions = push_capped(&mut s.clients, client_id.clone(), MAX_SESSIONS);
            let mut evicted = vec![];
            // Allowed again while a withdrawal is under way: a new consent, with a home of its
            // own; the old one's grants are revoked (by the withdrawal, and by the caller).
            if let Some(pos) = acct.consents.iter().position(|c| c.client_id == client_id && c.withdrawing) {
                let old = acct.consents.remove(pos);
                for g in &old.grants {
                    ch.forget_grant(&g.id);
                }
                evicted.extend(old.grants.into_iter().map(|g| g.id));
            }
            match acct.consents.iter_mut().find(|c| c.client_id == client_id) {
                Some(c) => {
                    for i in items {
                        if !c.items.contains(&i) {
                            c.items.push(i);
                        }
                    }
                    c.granted_at = now;
                }
                None => acct.consents.push(Consent {
                    client_id: client_id.clone(),
                    items,
                    granted_at: now,
                    grants: vec![],
                    home: new_home,
                    withdrawing: false,
                }),
            }
            ch.consents = true;
            evicted.extend(acct.record_grant(&client_id, grant, now, &mut ch));
            ch.sessions |= acct.prune(now);
            Reply::Allowed { evicted }
        }
        Command::End { id_hash, client_id } => {
            let Some(s) = acct.session_mut(&id_hash, now) else { return (ch, Reply::NoSession) };
            if let Some(c) = client_id {
                if !s.clients.contains(&c) {
                    return (ch, Reply::Unconfirmed);
                }
            }
            acct.sessions.retain(|s| !ct_eq(s.id_hash.as_bytes(), id_hash.as_bytes()));
            acct.prune(now);
            ch.sessions = true;
            Reply::Ended
        }
        Command::List { id_hash } => match acct.session_mut(&id_hash, now) {
            Some(s) => {
                let username = s.username.clone();
                Reply::Consents { username, consents: acct.consents.clone() }
            }
            None => Reply::NoSession,
        },
        Command::Withdraw { id_hash, client_id } => {
            if acct.session_mut(&id_hash, now).is_none() {
                return (ch, Reply::NoSession);
            }
            let Some(c) = acct.consents.iter_mut().find(|c| c.client_id == client_id) else {
                return (ch, Reply::Withdrawing { grants: vec![], home: None });
            };
            ch.consents = !c.withdrawing;
            c.withdrawing = true;
            let grants = c.grants.iter().filter(|g| now < g.expires_at).map(|g| g.id.clone()).collect();
            Reply::Withdrawing { grants, home: Some(c.home.clone()) }
        }
        Command::Forget { client_id, home, revoked } => {
            let Some(pos) =
                acct.consents.iter().position(|c| c.client_id == client_id && c.withdrawing && c.home == home)
            else {
                return (ch, Reply::Withdrawn);
            };
            let Some(c) = acct.consents.get(pos) else { return (ch, Reply::Withdrawn) };
            let left: Vec<String> = c
                .grants
                .iter()
                .filter(|g| now < g.expires_at && !revoked.contains(&g.id))
                .map(|g| g.id.clone())
                .collect();
            if !left.is_empty() {
                return (ch, Reply::Pending { grants: left });
            }
            let c = acct.consents.remove(pos);
            for s in &mut acct.sessions {
                if s.clients.contains(&client_id) {
                    s.clients.retain(|x| *x != client_id);
                    ch.sessions = true;
                }
            }
            ch.consents = true;
            ch.grants_removed.extend(c.grants.iter().map(|g| g.id.clone()));
            Reply::Withdrawn
        }
        Command::Consented { client_id, grant_id } => {
            let live = acct.consents.iter().any(|c| {
                c.client_id == client_id
                    && !c.withdrawing
                    && (crate::model::grant::home_of(&grant_id) == Some(c.home.as_str())
                        || c.grants.iter().any(|g| g.id == grant_id))
            });
            Reply::Consent { live }
        }
    };
    (ch, reply)
}

// ---------------------------------------------------------------------------------------------
// Storage layout

/// The key of the sessions (a JSON list).
pub const SESSIONS_KEY: &str = "sessions";
/// The key of the consents, without their grants (a JSON list).
pub const CONSENTS_KEY: &str = "consents";
/// The prefix of a grant's key: `grant:<id>` → [`StoredGrant`].
pub const GRANT_PREFIX: &str = "grant:";

/// A consent as stored: its grants are stored one by one.
#[derive(Serialize)]
struct StoredConsent<'a> {
    client_id: &'a str,
    items: &'a [String],
    granted_at: i64,
    home: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    withdrawing: bool,
}

/// A grant on record, as stored under `grant:<id>`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredGrant {
    pub client_id: String,
    pub expires_at: i64,
    pub added_at: i64,
}

/// The storage writes that make stored what `changes` says changed: values to put (JSON
/// text) and keys to delete.
pub fn entries(acct: &Account, ch: &Changes) -> (Vec<(String, String)>, Vec<String>) {
    let mut put = vec![];
    if ch.sessions {
        put.push((SESSIONS_KEY.to_string(), serde_json::to_string(&acct.sessions).unwrap_or_default()));
    }
    if ch.consents {
        let consents: Vec<StoredConsent> = acct
            .consents
            .iter()
            .map(|c| StoredConsent {
                client_id: &c.client_id,
                items: &c.items,
                granted_at: c.granted_at,
                home: &c.home,
                withdrawing: c.withdrawing,
            })
            .collect();
        put.push((CONSENTS_KEY.to_string(), serde_json::to_string(&consents).unwrap_or_default()));
    }
    for id in &ch.grants_added {
        let found = acct.consents.iter().find_map(|c| c.grants.iter().find(|g| g.id == *id).map(|g| (c, g)));
        if let Some((c, g)) = found {
            let stored = StoredGrant { client_id: c.client_id.clone(), expires_at: g.expires_at, added_at: g.added_at };
            put.push((format!("{GRANT_PREFIX}{id}"), serde_json::to_string(&stored).unwrap_or_default()));
        }
    }
    let delete = ch.grants_removed.iter().map(|id| format!("{GRANT_PREFIX}{id}")).collect();
    (put, delete)
}

/// The account from its stored parts (any may be missing: a new user). A grant whose consent
/// is gone is left out.
pub fn from_entries(
    sessions: Option<Vec<Session>>,
    consents: Option<Vec<Consent>>,
    grants: impl IntoIterator<Item = (String, StoredGrant)>,
) -> Account {
    let mut acct = Account { sessions: sessions.unwrap_or_default(), consents: consents.unwrap_or_default() };
    for (key, g) in grants {
        let Some(id) = key.strip_prefix(GRANT_PREFIX) else { continue };
        if let Some(c) = acct.consents.iter_mut().find(|c| c.client_id == g.client_id) {
            insert_in_order(
                &mut c.grants,
                GrantRef { id: id.to_string(), expires_at: g.expires_at, added_at: g.added_at },
            );
        }
    }
    acct
}

/// Inserts `grant` where a consent's grants keep it: by `added_at`, then id, oldest first (at
/// most 256: inserting is cheap, and leaves the sort routines out of the wasm).
fn insert_in_order(grants: &mut Vec<GrantRef>, grant: GrantRef) {
    let at = grants.partition_point(|g| (g.added_at, &g.id) <= (grant.added_at, &grant.id));
    grants.insert(at, grant);
}

/// Changes that say every part of `acct` is new (to store an account whole).
pub fn everything(acct: &Account) -> Changes {
    let grants_added = acct.consents.iter().flat_map(|c| c.grants.iter().map(|g| g.id.clone())).collect();
    Changes { sessions: true, consents: true, grants_added, grants_removed: vec![] }
}

/// Storage as a map of key → JSON text: the in-memory store's, and the tests'.
pub mod map {
    use super::*;
    use std::collections::BTreeMap;

    /// Makes `map` hold what `changes` says changed in `acct`.
    pub fn write(map: &mut BTreeMap<String, String>, acct: &Account, changes: &Changes) {
        let (put, delete) = entries(acct, changes);
        for key in delete {
            map.remove(&key);
        }
        map.extend(put);
    }

    /// The account `map` holds (as the object reads it when it has none in memory).
    pub fn read(map: &BTreeMap<String, String>) -> Account {
        fn parse<T: serde::de::DeserializeOwned>(map: &BTreeMap<String, String>, key: &str) -> Option<T> {
            map.get(key).and_then(|t| serde_json::from_str(t).ok())
        }
        let grants = map
            .range(GRANT_PREFIX.to_string()..)
            .take_while(|(k, _)| k.starts_with(GRANT_PREFIX))
            .filter_map(|(k, v)| Some((k.clone(), serde_json::from_str(v).ok()?)));
        from_entries(parse(map, SESSIONS_KEY), parse(map, CONSENTS_KEY), grants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, exp: i64) -> Session {
        Session { id_hash: id.into(), username: "alice".into(), auth_time: 10, expires_at: exp, clients: vec![] }
    }
    fn items(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn g(id: &str) -> GrantRef {
        GrantRef::new(id.into(), 10_000)
    }
    /// Applies `cmd` as the object does, checking the contract: no write, no change.
    fn run(state: &mut Option<Account>, cmd: Command, now: i64) -> Reply {
        let (w, r) = try_apply(state, cmd, now);
        if let Some(w) = w {
            *state = Some(w);
        }
        r
    }
    /// What `apply` asks to write (None: nothing), leaving `state` alone. Checks the
    /// contract: what it says changed, written over the stored account, reads back as the
    /// account it left in memory; nothing changed, nothing to write.
    fn try_apply(state: &Option<Account>, cmd: Command, now: i64) -> (Option<Account>, Reply) {
        let before = state.clone().unwrap_or_default();
        let mut stored = std::collections::BTreeMap::new();
        map::write(&mut stored, &before, &everything(&before));
        assert_eq!(map::read(&stored), before, "the account does not read back as it was written");
        let mut acct = before.clone();
        let (changes, reply) = apply(&mut acct, cmd, now);
        if !changes.any() {
            assert_eq!(acct, before, "apply changed the account without asking for a write");
        }
        map::write(&mut stored, &acct, &changes);
        assert_eq!(map::read(&stored), acct, "what apply said changed does not store the account it made");
        (changes.any().then_some(acct), reply)
    }
    fn check(h: &str, it: &[&str], max_age: Option<i64>, issue: bool) -> Command {
        Command::Check { id_hash: h.into(), client_id: "app".into(), items: items(it), max_age, issue }
    }
    const HOME: &str = "home-of-app-0123456789";
    fn allow(it: &[&str], grant: &str) -> Command {
        allow_in("h1", "app", it, grant)
    }
    fn allow_in(session: &str, client: &str, it: &[&str], grant: &str) -> Command {
        Command::Allow {
            id_hash: session.into(),
            client_id: client.into(),
            items: items(it),
            grant: g(grant),
            new_home: HOME.into(),
        }
    }
    fn active(auth_time: i64, consented: bool, issue: bool) -> Reply {
        Reply::Active { username: "alice".into(), auth_time, consented, issue: issue.then(|| HOME.to_string()) }
    }

    #[test]
    fn session_consent_and_withdrawal() {
        let mut st = None;
        let start = Command::Start {
            session: session("h1", 100),
            client_id: "app".into(),
            items: items(&["openid", "email"]),
            grant: Some(g("g0")),
        };
        assert_eq!(run(&mut st, start, 20), Reply::Started { consented: false, evicted: vec![] });
        assert_eq!(run(&mut st, check("h1", &["openid"], None, true), 30), active(10, false, false));
        assert_eq!(run(&mut st, check("nope", &["openid"], None, false), 30), Reply::NoSession);
        assert_eq!(run(&mut st, allow(&["openid", "email"], "g2"), 40), Reply::Allowed { evicted: vec![] });
        // A code without a page: the account is not written (the client is on the session
        // already, and the grant goes to the user's home object).
        let before = st.clone();
        assert_eq!(try_apply(&before, check("h1", &["openid"], None, true), 50), (None, active(10, true, true)));
        // Older than max_age: no code (the caller signs the user in again).
        assert_eq!(run(&mut st, check("h1", &["openid"], Some(30), true), 50), active(10, true, false));
        // More scopes than were allowed: ask again; allowing adds to the consent.
        assert_eq!(run(&mut st, check("h1", &["openid", "phone"], None, true), 50), active(10, false, false));
        assert_eq!(run(&mut st, allow(&["openid", "phone"], "g5"), 55), Reply::Allowed { evicted: vec![] });
        // prompt=consent (issue: false): consented, but no code without the page.
        assert_eq!(run(&mut st, check("h1", &["openid", "email", "phone"], None, false), 56), active(10, true, false));
        // Expired session.
        assert_eq!(run(&mut st, check("h1", &["openid"], None, false), 100), Reply::NoSession);
        // A new session finds the consent; withdrawal returns the recorded live grants.
        let mut s2 = session("h2", 500);
        s2.auth_time = 200;
        let start =
            Command::Start { session: s2, client_id: "app".into(), items: items(&["openid"]), grant: Some(g("g6")) };
        assert_eq!(run(&mut st, start, 200), Reply::Started { consented: true, evicted: vec![] });
        let r = run(&mut st, Command::Withdraw { id_hash: "h2".into(), client_id: "app".into() }, 210);
        assert_eq!(r, Reply::Withdrawing { grants: items(&["g2", "g5", "g6"]), home: Some(HOME.into()) });
        // From then on it authorizes nothing, and refreshes under it fail; it is still listed.
        assert_eq!(run(&mut st, check("h2", &["openid"], None, true), 211), active(200, false, false));
        let consented = |grant: &str| Command::Consented { client_id: "app".into(), grant_id: grant.into() };
        assert_eq!(run(&mut st, consented("g2"), 211), Reply::Consent { live: false });
        assert!(
            matches!(run(&mut st, Command::List { id_hash: "h2".into() }, 211), Reply::Consents { consents, .. } if consents.len() == 1)
        );
        // Forgotten only once every grant it holds is revoked.
        let forget =
            |revoked: &[&str]| Command::Forget { client_id: "app".into(), home: HOME.into(), revoked: items(revoked) };
        assert_eq!(run(&mut st, forget(&["g2"]), 212), Reply::Pending { grants: items(&["g5", "g6"]) });
        assert_eq!(run(&mut st, forget(&["g2", "g5", "g6"]), 213), Reply::Withdrawn);
        assert_eq!(run(&mut st, forget(&["g2", "g5", "g6"]), 214), Reply::Withdrawn, "repeatable");
        assert!(
            matches!(run(&mut st, Command::List { id_hash: "h2".into() }, 214), Reply::Consents { consents, .. } if consents.is_empty())
        );
        let r = run(&mut st, Command::Withdraw { id_hash: "zz".into(), client_id: "app".into() }, 220);
        assert_eq!(r, Reply::NoSession);
        let r = run(&mut st, Command::Withdraw { id_hash: "h2".into(), client_id: "app".into() }, 220);
        assert_eq!(r, Reply::Withdrawing { grants: vec![], home: None }, "nothing left to withdraw");
    }

    #[test]
    fn consent_needs_a_live_session_and_stands_for_its_grants() {
        let mut st = None;
        let start = Command::Start { session: session("h1", 100), client_id: "app".into(), items: vec![], grant: None };
        run(&mut st, start, 1);
        // A consent form posted after the session ended (or by another browser) is refused.
        assert_eq!(run(&mut st, allow_in("other", "app", &["openid"], "g1"), 2), Reply::NoSession);
        assert_eq!(run(&mut st, allow(&["openid"], "g1"), 2), Reply::Allowed { evicted: vec![] });
        let consented = |grant: &str| Command::Consented { client_id: "app".into(), grant_id: grant.into() };
        assert_eq!(run(&mut st, consented("g1"), 3), Reply::Consent { live: true }, "on record");
        let homed = format!("{HOME}{}", "r".repeat(22));
        assert_eq!(run(&mut st, consented(&homed), 3), Reply::Consent { live: true }, "in its home");
        let elsewhere = format!("{}{}", "x".repeat(22), "r".repeat(22));
        assert_eq!(run(&mut st, consented(&elsewhere), 3), Reply::Consent { live: false });
        assert_eq!(run(&mut st, consented("g9"), 3), Reply::Consent { live: false });
    }

    #[test]
    fn allowed_again_during_a_withdrawal_is_a_new_consent() {
        let mut st = None;
        let start =
            Command::Start { session: session("h1", 1000), client_id: "app".into(), items: vec![], grant: None };
        run(&mut st, start, 1);
        run(&mut st, allow(&["openid"], "g1"), 2);
        run(&mut st, Command::Withdraw { id_hash: "h1".into(), client_id: "app".into() }, 3);
        let again = Command::Allow {
            id_hash: "h1".into(),
            client_id: "app".into(),
            items: items(&["openid"]),
            grant: g("g2"),
            new_home: "another-home-0123456789".into(),
        };
        assert_eq!(run(&mut st, again, 4), Reply::Allowed { evicted: items(&["g1"]) });
        // The withdrawal's end finds another consent (another home) and leaves it.
        let forget = Command::Forget { client_id: "app".into(), home: HOME.into(), revoked: items(&["g1"]) };
        assert_eq!(run(&mut st, forget, 5), Reply::Withdrawn);
        let c = &st.as_ref().unwrap().consents[0];
        assert_eq!((c.home.as_str(), c.withdrawing, c.grants.len()), ("another-home-0123456789", false, 1));
    }

    #[test]
    fn grant_records_drop_expired_and_evict_to_revoke() {
        let mut st = None;
        run(
            &mut st,
            Command::Start { session: session("h1", 1_000_000), client_id: "app".into(), items: vec![], grant: None },
            1,
        );
        let allow_at = |id: String, exp: i64| Command::Allow {
            id_hash: "h1".into(),
            client_id: "app".into(),
            items: vec![],
            grant: GrantRef::new(id, exp),
            new_home: HOME.into(),
        };
        // A short-lived grant is forgotten once it expired; a refreshable one never is.
        run(&mut st, allow_at("short".into(), 5), 2);
        run(&mut st, allow_at("offline".into(), NEVER), 3);
        let mut evicted = vec![];
        for i in 0..MAX_GRANTS_PER_CONSENT {
            if let Reply::Allowed { evicted: e } = run(&mut st, allow_at(format!("g{i}"), 100), 10) {
                evicted.extend(e);
            }
        }
        // The list was full: the oldest live grant was pushed out, and reported to be revoked.
        assert_eq!(evicted, vec!["offline".to_string()]);
        let c = &st.as_ref().unwrap().consents[0];
        assert_eq!(c.grants.len(), MAX_GRANTS_PER_CONSENT);
        assert!(c.grants.iter().all(|g| g.id != "short"));
    }

    #[test]
    fn end_session_only_when_confirmed_by_client() {
        let mut st = None;
        run(
            &mut st,
            Command::Start { session: session("h", 100), client_id: "a".into(), items: vec![], grant: None },
            1,
        );
        let end = |c: Option<&str>| Command::End { id_hash: "h".into(), client_id: c.map(str::to_string) };
        assert_eq!(run(&mut st, end(Some("a")), 2), Reply::Unconfirmed);
        run(&mut st, allow_in("h", "a", &[], "g"), 3);
        assert_eq!(run(&mut st, end(Some("other")), 4), Reply::Unconfirmed);
        assert_eq!(run(&mut st, end(Some("a")), 4), Reply::Ended);
        assert_eq!(run(&mut st, end(None), 5), Reply::NoSession);
    }

    #[test]
    fn a_code_without_a_page_notes_the_client_on_the_session_once() {
        let mut st = None;
        let start =
            |h: &str| Command::Start { session: session(h, 1000), client_id: "a".into(), items: vec![], grant: None };
        run(&mut st, start("h1"), 1);
        run(&mut st, allow_in("h1", "b", &["openid"], "g"), 2);
        // A second session, started at client a, reaches b without a page.
        run(&mut st, start("h2"), 3);
        let check_b = Command::Check {
            id_hash: "h2".into(),
            client_id: "b".into(),
            items: items(&["openid"]),
            max_age: None,
            issue: true,
        };
        let (write, _) = try_apply(&st, check_b.clone(), 4);
        let written = write.expect("the new client is noted");
        assert!(written.sessions.iter().any(|s| s.id_hash == "h2" && s.clients.contains(&"b".to_string())));
        st = Some(written);
        // Noted once: the next code writes nothing, and b may end that session.
        assert!(try_apply(&st, check_b, 5).0.is_none());
        let end = Command::End { id_hash: "h2".into(), client_id: Some("b".into()) };
        assert_eq!(run(&mut st, end, 6), Reply::Ended);
    }

    #[test]
    fn a_consent_writes_its_consents_and_its_grant_not_the_rest() {
        let mut st = None;
        for i in 0..MAX_SESSIONS {
            let s = session(&format!("h{i}"), 1000);
            run(&mut st, Command::Start { session: s, client_id: "app".into(), items: vec![], grant: None }, 1);
        }
        for i in 0..100 {
            run(&mut st, allow(&["openid"], &format!("g{i}")), 2);
        }
        // The client is on session h1 already: the sessions and the other grants stay as stored.
        let mut acct = st.clone().unwrap();
        let (changes, _) = apply(&mut acct, allow(&["openid"], "new"), 3);
        let (put, delete) = entries(&acct, &changes);
        let keys: Vec<&str> = put.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, [CONSENTS_KEY, "grant:new"]);
        assert!(delete.is_empty());
        assert!(put.iter().map(|(_, v)| v.len()).sum::<usize>() < 200, "{put:?}");
    }

    #[test]
    fn sessions_are_bounded() {
        let mut st = None;
        for i in 0..(MAX_SESSIONS + 5) {
            let s = session(&format!("h{i}"), 1000);
            run(&mut st, Command::Start { session: s, client_id: "a".into(), items: vec![], grant: None }, 1);
        }
        let acct = st.unwrap();
        assert_eq!(acct.sessions.len(), MAX_SESSIONS);
        assert_eq!(acct.sessions[0].id_hash, "h5");
    }
}
