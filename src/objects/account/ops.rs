//! The account object's commands, each with the replies it can give.

use super::{
    covers, push_capped, Account, AccountOp, Changes, Consent, GrantRef, Session, UseCredential, Used, MAX_SESSIONS,
};
use serde::{Deserialize, Serialize};

/// After a successful login: start a session; say whether `items` are already consented for
/// `client_id`, and if so record `grant` under that consent. `passkey`: the passkey that signed
/// in, used first (its challenge, its counter); refused, no session starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Start {
    pub session: Session,
    pub client_id: String,
    pub items: Vec<String>,
    pub grant: Option<GrantRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<UseCredential>,
}

/// `evicted`: grants pushed out of a full consent list, which the caller must revoke.
/// `passkey`: the passkey's use, when one was sent — accepted, or refused (and nothing
/// started). A caller that sent one and reads none here refuses the sign-in: the object did
/// not check it (an older version during a deployment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub consented: bool,
    pub evicted: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<Used>,
}

impl AccountOp for Start {
    type Reply = Started;
    fn apply(mut self, acct: &mut Account, now: i64, ch: &mut Changes) -> Started {
        let passkey = self.passkey.take().map(|used| used.apply(acct, now, ch));
        if passkey.as_ref().is_some_and(|u| !matches!(u, Used::Used { .. })) {
            return Started { consented: false, evicted: vec![], passkey };
        }
        let consented = covers(&acct.consents, &self.client_id, &self.items);
        let mut evicted = vec![];
        if consented {
            if let Some(g) = self.grant {
                evicted = acct.record_grant(&self.client_id, g, now, ch);
                self.session.clients.push(self.client_id);
            }
        }
        acct.sessions.push(self.session);
        acct.prune(now);
        ch.sessions = true;
        Started { consented, evicted, passkey }
    }
}

/// At the authorization endpoint: is the session live, and is `items` consented? When it is,
/// the session is no older than `max_age` (OpenID Connect Core §3.1.2.1) and `issue` (no
/// prompt=consent), the caller may issue a code without a page: the client is noted on the
/// session (written only when it is new there); the grant goes to the consent's home object,
/// not on record here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub id_hash: String,
    pub client_id: String,
    pub items: Vec<String>,
    pub max_age: Option<i64>,
    pub issue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CheckReply {
    Active {
        username: String,
        auth_time: i64,
        consented: bool,
        /// When the caller may issue: the consent's home, for the code's grant id.
        issue: Option<String>,
        /// How the session's sign-in was made, and what it achieved.
        #[serde(default)]
        amr: Vec<String>,
        #[serde(default)]
        acr: Option<String>,
    },
    NoSession,
}

impl AccountOp for Check {
    type Reply = CheckReply;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> CheckReply {
        let consented = covers(&acct.consents, &self.client_id, &self.items);
        let Some(s) = acct.session_mut(&self.id_hash, now) else { return CheckReply::NoSession };
        let (username, auth_time, amr, acr) = (s.username.clone(), s.auth_time, s.amr.clone(), s.acr.clone());
        let fresh = self.max_age.is_none_or(|m| now - auth_time <= m);
        let issue = self.issue && consented && fresh;
        // RP-Initiated Logout confirms a client by this list: written when the client is new.
        ch.sessions = issue && push_capped(&mut s.clients, self.client_id.clone(), MAX_SESSIONS);
        let home = acct.consents.iter().find(|c| c.client_id == self.client_id).map(|c| c.home.clone());
        CheckReply::Active { username, auth_time, consented, issue: home.filter(|_| issue), amr, acr }
    }
}

/// The user clicked Allow, in a live session (the consent form does not outlive the sign-in):
/// remember the consent (adding to what was allowed before) and the grant; note the client on
/// the session. `new_home`: a fresh random home, used by a consent made now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Allow {
    pub id_hash: String,
    pub client_id: String,
    pub items: Vec<String>,
    pub grant: GrantRef,
    pub new_home: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AllowReply {
    /// `evicted`: grants pushed out (of a full list, or of a consent being withdrawn) to revoke.
    Allowed {
        evicted: Vec<String>,
    },
    NoSession,
}

impl AccountOp for Allow {
    type Reply = AllowReply;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> AllowReply {
        let client_id = self.client_id;
        let Some(s) = acct.session_mut(&self.id_hash, now) else { return AllowReply::NoSession };
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
                for i in self.items {
                    if !c.items.contains(&i) {
                        c.items.push(i);
                    }
                }
                c.granted_at = now;
            }
            None => acct.consents.push(Consent {
                client_id: client_id.clone(),
                items: self.items,
                granted_at: now,
                grants: vec![],
                home: self.new_home,
                withdrawing: false,
            }),
        }
        ch.consents = true;
        evicted.extend(acct.record_grant(&client_id, self.grant, now, ch));
        ch.sessions |= acct.prune(now);
        AllowReply::Allowed { evicted }
    }
}

/// End the session. With `client_id`, only if that client received a grant through it (else
/// `Unconfirmed`, and nothing changes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct End {
    pub id_hash: String,
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum EndReply {
    Ended,
    Unconfirmed,
    NoSession,
}

impl AccountOp for End {
    type Reply = EndReply;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> EndReply {
        let Some(s) = acct.session_mut(&self.id_hash, now) else { return EndReply::NoSession };
        if let Some(c) = self.client_id {
            if !s.clients.contains(&c) {
                return EndReply::Unconfirmed;
            }
        }
        let id_hash = self.id_hash;
        acct.sessions.retain(|s| !crate::crypto::ct_eq(s.id_hash.as_bytes(), id_hash.as_bytes()));
        acct.prune(now);
        ch.sessions = true;
        EndReply::Ended
    }
}

/// After a password change: every session but `id_hash` (the one that changed it) ends
/// (OWASP ASVS V3.3.3). Replies how many ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndOthers {
    pub id_hash: String,
}

impl AccountOp for EndOthers {
    type Reply = usize;
    fn apply(self, acct: &mut Account, _now: i64, ch: &mut Changes) -> usize {
        let before = acct.sessions.len();
        let id_hash = self.id_hash;
        acct.sessions.retain(|s| crate::crypto::ct_eq(s.id_hash.as_bytes(), id_hash.as_bytes()));
        let ended = before - acct.sessions.len();
        ch.sessions |= ended > 0;
        ended
    }
}

/// The consents, for the page that lists them (needs a live session).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List {
    pub id_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ListReply {
    Consents { username: String, consents: Vec<Consent> },
    NoSession,
}

impl AccountOp for List {
    type Reply = ListReply;
    fn apply(self, acct: &mut Account, now: i64, _ch: &mut Changes) -> ListReply {
        match acct.session_mut(&self.id_hash, now) {
            Some(s) => {
                let username = s.username.clone();
                ListReply::Consents { username, consents: acct.consents.clone() }
            }
            None => ListReply::NoSession,
        }
    }
}

/// Begin withdrawing the consent given to `client_id` (needs a live session): it stops
/// authorizing anything; the reply names what to revoke. Repeatable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Withdraw {
    pub id_hash: String,
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum WithdrawReply {
    /// Revoke these grants and the home (none: there was no consent).
    Withdrawing {
        grants: Vec<String>,
        home: Option<String>,
    },
    NoSession,
}

impl AccountOp for Withdraw {
    type Reply = WithdrawReply;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> WithdrawReply {
        if acct.session_mut(&self.id_hash, now).is_none() {
            return WithdrawReply::NoSession;
        }
        let Some(c) = acct.consents.iter_mut().find(|c| c.client_id == self.client_id) else {
            return WithdrawReply::Withdrawing { grants: vec![], home: None };
        };
        ch.consents = !c.withdrawing;
        c.withdrawing = true;
        let grants = c.grants.iter().filter(|g| now < g.expires_at).map(|g| g.id.clone()).collect();
        WithdrawReply::Withdrawing { grants, home: Some(c.home.clone()) }
    }
}

/// Finish a withdrawal once `revoked` (and the home) are revoked: the consent is deleted,
/// unless it holds a live grant not in `revoked` (`Pending`: revoke it, then again). Nothing to
/// do (`Withdrawn`) when the consent is gone, or was given again since (another home).
/// Repeatable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forget {
    pub client_id: String,
    pub home: String,
    pub revoked: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ForgetReply {
    /// The consent is gone.
    Withdrawn,
    /// Not forgotten yet: these live grants are not revoked.
    Pending { grants: Vec<String> },
}

impl AccountOp for Forget {
    type Reply = ForgetReply;
    fn apply(self, acct: &mut Account, now: i64, ch: &mut Changes) -> ForgetReply {
        let Some(pos) =
            acct.consents.iter().position(|c| c.client_id == self.client_id && c.withdrawing && c.home == self.home)
        else {
            return ForgetReply::Withdrawn;
        };
        let Some(c) = acct.consents.get(pos) else { return ForgetReply::Withdrawn };
        let left: Vec<String> = c
            .grants
            .iter()
            .filter(|g| now < g.expires_at && !self.revoked.contains(&g.id))
            .map(|g| g.id.clone())
            .collect();
        if !left.is_empty() {
            return ForgetReply::Pending { grants: left };
        }
        let c = acct.consents.remove(pos);
        for s in &mut acct.sessions {
            if s.clients.contains(&self.client_id) {
                s.clients.retain(|x| *x != self.client_id);
                ch.sessions = true;
            }
        }
        ch.consents = true;
        ch.grants_removed.extend(c.grants.iter().map(|g| g.id.clone()));
        ForgetReply::Withdrawn
    }
}

/// Does this client's consent still stand for `grant_id` (a grant on record under it, or in
/// its home)? For refresh: a withdrawn consent ends its grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consented {
    pub client_id: String,
    pub grant_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub live: bool,
}

impl AccountOp for Consented {
    type Reply = Standing;
    fn apply(self, acct: &mut Account, _now: i64, _ch: &mut Changes) -> Standing {
        let live = acct.consents.iter().any(|c| {
            c.client_id == self.client_id
                && !c.withdrawing
                && (crate::model::grant::home_of(&self.grant_id) == Some(c.home.as_str())
                    || c.grants.iter().any(|g| g.id == self.grant_id))
        });
        Standing { live }
    }
}
