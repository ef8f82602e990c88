//! The logic that runs inside a user's account Durable Object (class `Accounts`, one
//! object per user, named after the user's own `sub`): their browser sessions and the
//! consents they gave. Keeping both in one object lets a returning user's session check,
//! consent check and grant bookkeeping happen in a single round trip, and lets a session
//! be ended server-side (RP-Initiated Logout) and a consent withdrawn at once.
//!
//! Pure, like [`super::grant_object`]: `apply(state, command, now) -> (write, reply)`.
//! Session ids are stored as SHA-256 hashes only.

use crate::crypto::ct_eq;
use serde::{Deserialize, Serialize};

/// Live sessions kept per user (oldest dropped first).
pub const MAX_SESSIONS: usize = 32;
/// Grant ids remembered per consent, so that withdrawing it revokes their tokens.
pub const MAX_GRANTS_PER_CONSENT: usize = 64;

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
    /// Grants issued under this consent (most recent last).
    #[serde(default)]
    pub grants: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// After a successful login: start a session; say whether `items` are already
    /// consented for `client_id`, and if so record `grant_id` under that consent.
    Start { session: Session, client_id: String, items: Vec<String>, grant_id: Option<String> },
    /// At the authorization endpoint: is the session live, and is `items` consented?
    /// When it is and `grant_id` is given, record it (the caller issues it without a page).
    Check { id_hash: String, client_id: String, items: Vec<String>, grant_id: Option<String> },
    /// The user clicked Allow: remember the consent (adding to what was allowed before)
    /// and the grant; note the client on the session.
    Allow { id_hash: Option<String>, client_id: String, items: Vec<String>, grant_id: String },
    /// End the session. With `client_id`, only if that client received a grant through
    /// it (else `Unconfirmed`, and nothing changes).
    End { id_hash: String, client_id: Option<String> },
    /// The consents, for the page that lists them (needs a live session).
    List { id_hash: String },
    /// Withdraw the consent given to `client_id` (needs a live session).
    Withdraw { id_hash: String, client_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    Started {
        consented: bool,
    },
    Active {
        username: String,
        auth_time: i64,
        consented: bool,
    },
    NoSession,
    Allowed,
    Ended,
    Unconfirmed,
    Consents {
        username: String,
        consents: Vec<Consent>,
    },
    /// The grants to revoke.
    Withdrawn {
        grants: Vec<String>,
    },
}

fn covers(consents: &[Consent], client_id: &str, items: &[String]) -> bool {
    consents.iter().any(|c| c.client_id == client_id && items.iter().all(|i| c.items.contains(i)))
}

fn push_capped(list: &mut Vec<String>, value: String, cap: usize) {
    if !list.contains(&value) {
        list.push(value);
    }
    while list.len() > cap {
        list.remove(0);
    }
}

impl Account {
    fn session_mut(&mut self, id_hash: &str, now: i64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| now < s.expires_at && ct_eq(s.id_hash.as_bytes(), id_hash.as_bytes()))
    }

    fn record_grant(&mut self, client_id: &str, grant_id: String) {
        if let Some(c) = self.consents.iter_mut().find(|c| c.client_id == client_id) {
            push_capped(&mut c.grants, grant_id, MAX_GRANTS_PER_CONSENT);
        }
    }

    fn prune(&mut self, now: i64) {
        self.sessions.retain(|s| now < s.expires_at);
        while self.sessions.len() > MAX_SESSIONS {
            self.sessions.remove(0);
        }
    }
}

pub fn apply(state: Option<Account>, cmd: Command, now: i64) -> (Option<Account>, Reply) {
    let mut acct = state.unwrap_or_default();
    match cmd {
        Command::Start { mut session, client_id, items, grant_id } => {
            let consented = covers(&acct.consents, &client_id, &items);
            if consented {
                if let Some(g) = grant_id {
                    acct.record_grant(&client_id, g);
                    session.clients.push(client_id);
                }
            }
            acct.sessions.push(session);
            acct.prune(now);
            (Some(acct), Reply::Started { consented })
        }
        Command::Check { id_hash, client_id, items, grant_id } => {
            let consented = covers(&acct.consents, &client_id, &items);
            let Some(s) = acct.session_mut(&id_hash, now) else { return (None, Reply::NoSession) };
            let reply = Reply::Active { username: s.username.clone(), auth_time: s.auth_time, consented };
            match grant_id {
                Some(g) if consented => {
                    push_capped(&mut s.clients, client_id.clone(), MAX_SESSIONS);
                    acct.record_grant(&client_id, g);
                    (Some(acct), reply)
                }
                _ => (None, reply),
            }
        }
        Command::Allow { id_hash, client_id, items, grant_id } => {
            if let Some(s) = id_hash.and_then(|h| acct.session_mut(&h, now)) {
                push_capped(&mut s.clients, client_id.clone(), MAX_SESSIONS);
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
                None => {
                    acct.consents.push(Consent { client_id: client_id.clone(), items, granted_at: now, grants: vec![] })
                }
            }
            acct.record_grant(&client_id, grant_id);
            acct.prune(now);
            (Some(acct), Reply::Allowed)
        }
        Command::End { id_hash, client_id } => {
            let Some(s) = acct.session_mut(&id_hash, now) else { return (None, Reply::NoSession) };
            if let Some(c) = client_id {
                if !s.clients.contains(&c) {
                    return (None, Reply::Unconfirmed);
                }
            }
            acct.sessions.retain(|s| !ct_eq(s.id_hash.as_bytes(), id_hash.as_bytes()));
            acct.prune(now);
            (Some(acct), Reply::Ended)
        }
        Command::List { id_hash } => match acct.session_mut(&id_hash, now) {
            Some(s) => {
                let username = s.username.clone();
                (None, Reply::Consents { username, consents: acct.consents })
            }
            None => (None, Reply::NoSession),
        },
        Command::Withdraw { id_hash, client_id } => {
            if acct.session_mut(&id_hash, now).is_none() {
                return (None, Reply::NoSession);
            }
            let Some(pos) = acct.consents.iter().position(|c| c.client_id == client_id) else {
                return (None, Reply::Withdrawn { grants: vec![] });
            };
            let c = acct.consents.remove(pos);
            for s in &mut acct.sessions {
                s.clients.retain(|x| *x != client_id);
            }
            (Some(acct), Reply::Withdrawn { grants: c.grants })
        }
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
    fn run(state: &mut Option<Account>, cmd: Command, now: i64) -> Reply {
        let (w, r) = apply(state.clone(), cmd, now);
        if let Some(w) = w {
            *state = Some(w);
        }
        r
    }

    #[test]
    fn session_consent_and_withdrawal() {
        let mut st = None;
        let start = |g: Option<&str>| Command::Start {
            session: session("h1", 100),
            client_id: "app".into(),
            items: items(&["openid", "email"]),
            grant_id: g.map(str::to_string),
        };
        assert_eq!(run(&mut st, start(Some("g0")), 20), Reply::Started { consented: false });
        let check = |h: &str, it: &[&str], g: Option<&str>| Command::Check {
            id_hash: h.into(),
            client_id: "app".into(),
            items: items(it),
            grant_id: g.map(str::to_string),
        };
        let active = |c| Reply::Active { username: "alice".into(), auth_time: 10, consented: c };
        assert_eq!(run(&mut st, check("h1", &["openid"], Some("g1")), 30), active(false));
        assert_eq!(run(&mut st, check("nope", &["openid"], None), 30), Reply::NoSession);
        let allow = |it: &[&str], g: &str| Command::Allow {
            id_hash: Some("h1".into()),
            client_id: "app".into(),
            items: items(it),
            grant_id: g.into(),
        };
        assert_eq!(run(&mut st, allow(&["openid", "email"], "g2"), 40), Reply::Allowed);
        assert_eq!(run(&mut st, check("h1", &["openid"], Some("g3")), 50), active(true));
        // More scopes than were allowed: ask again; allowing adds to the consent.
        assert_eq!(run(&mut st, check("h1", &["openid", "phone"], Some("g4")), 50), active(false));
        assert_eq!(run(&mut st, allow(&["openid", "phone"], "g5"), 55), Reply::Allowed);
        assert_eq!(run(&mut st, check("h1", &["openid", "email", "phone"], None), 56), active(true));
        // Expired session.
        assert_eq!(run(&mut st, check("h1", &["openid"], None), 100), Reply::NoSession);
        // A new session finds the consent; withdrawal returns the recorded grants.
        let mut s2 = session("h2", 500);
        s2.auth_time = 200;
        let r = run(
            &mut st,
            Command::Start {
                session: s2,
                client_id: "app".into(),
                items: items(&["openid"]),
                grant_id: Some("g6".into()),
            },
            200,
        );
        assert_eq!(r, Reply::Started { consented: true });
        let r = run(&mut st, Command::Withdraw { id_hash: "h2".into(), client_id: "app".into() }, 210);
        assert_eq!(r, Reply::Withdrawn { grants: items(&["g2", "g3", "g5", "g6"]) });
        let r = run(&mut st, check("h2", &["openid"], None), 220);
        assert_eq!(r, Reply::Active { username: "alice".into(), auth_time: 200, consented: false });
        assert_eq!(
            run(&mut st, Command::Withdraw { id_hash: "zz".into(), client_id: "app".into() }, 220),
            Reply::NoSession
        );
    }

    #[test]
    fn end_session_only_when_confirmed_by_client() {
        let mut st = None;
        run(
            &mut st,
            Command::Start { session: session("h", 100), client_id: "a".into(), items: vec![], grant_id: None },
            1,
        );
        let end = |c: Option<&str>| Command::End { id_hash: "h".into(), client_id: c.map(str::to_string) };
        assert_eq!(run(&mut st, end(Some("a")), 2), Reply::Unconfirmed);
        run(
            &mut st,
            Command::Allow { id_hash: Some("h".into()), client_id: "a".into(), items: vec![], grant_id: "g".into() },
            3,
        );
        assert_eq!(run(&mut st, end(Some("other")), 4), Reply::Unconfirmed);
        assert_eq!(run(&mut st, end(Some("a")), 4), Reply::Ended);
        assert_eq!(run(&mut st, end(None), 5), Reply::NoSession);
    }

    #[test]
    fn sessions_are_bounded() {
        let mut st = None;
        for i in 0..(MAX_SESSIONS + 5) {
            let s = session(&format!("h{i}"), 1000);
            run(&mut st, Command::Start { session: s, client_id: "a".into(), items: vec![], grant_id: None }, 1);
        }
        let acct = st.unwrap();
        assert_eq!(acct.sessions.len(), MAX_SESSIONS);
        assert_eq!(acct.sessions[0].id_hash, "h5");
    }
}
