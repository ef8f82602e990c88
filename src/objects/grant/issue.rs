//! A grant's beginning: the id reserved when a sign-in page is shown (so each form works
//! once), the grant issued or declined by the consent, and the code redeemed at the token
//! endpoint (RFC 6749 §4.1.2, §4.1.3; RFC 7636 §4.6).

use super::{grant_of, hash_eq, wants_refresh, AccessToken, GrantOp, GrantState, NewRefresh, RefreshToken, Stored};
use crate::model::{pkce, Grant};
use serde::{Deserialize, Serialize};

/// The reply to a code presented again (RFC 6749 §4.1.2); the audit event is named after it.
pub const CODE_REUSED: &str = "the authorization code has already been used";

/// At sign-in: claim this grant id; refused if it was claimed before (a replayed form).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reserve {
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReserveReply {
    Reserved,
    /// The id was claimed before: the form was submitted before.
    Conflict,
}

impl GrantOp for Reserve {
    type Reply = ReserveReply;
    fn apply(self, state: Option<Stored>, _now: i64) -> (Option<Stored>, ReserveReply) {
        match state {
            None => (Some(Stored::Reserved { expires_at: self.expires_at }), ReserveReply::Reserved),
            Some(_) => (None, ReserveReply::Conflict),
        }
    }
}

/// At consent (or sign-in, for a consent on record): turn the reservation into the grant
/// with its code (hash) and expiry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Issue {
    pub state: Box<GrantState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum IssueReply {
    Issued,
    /// The form was used before (issued, or declined).
    Conflict,
    /// No live reservation: the sign-in expired.
    NotReserved,
}

impl GrantOp for Issue {
    type Reply = IssueReply;
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, IssueReply) {
        match state {
            Some(Stored::Reserved { expires_at }) if now < expires_at => {
                (Some(Stored::Grant(self.state)), IssueReply::Issued)
            }
            Some(Stored::Grant(_) | Stored::Declined { .. }) => (None, IssueReply::Conflict),
            _ => (None, IssueReply::NotReserved),
        }
    }
}

/// Create a grant with no reservation: `Conflict` if the id exists. A passkey sign-in
/// reserves none (its challenge is used once in the account object, `UseCredential`); the
/// password sign-in reserves first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Create {
    pub state: Box<GrantState>,
}

impl GrantOp for Create {
    type Reply = IssueReply;
    fn apply(self, state: Option<Stored>, _now: i64) -> (Option<Stored>, IssueReply) {
        match state {
            None => (Some(Stored::Grant(self.state)), IssueReply::Issued),
            Some(_) => (None, IssueReply::Conflict),
        }
    }
}

/// At consent, Deny: use up the reservation so the form cannot be replayed. `fresh_until`:
/// the sign-in reserved nothing (a passkey's): an id never used is declined as well, until the
/// form expires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decline {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DeclineReply {
    Declined,
    Conflict,
    NotReserved,
}

impl GrantOp for Decline {
    type Reply = DeclineReply;
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, DeclineReply) {
        match state {
            Some(Stored::Reserved { expires_at }) if now < expires_at => {
                (Some(Stored::Declined { expires_at }), DeclineReply::Declined)
            }
            None => match self.fresh_until {
                Some(expires_at) if now < expires_at => (Some(Stored::Declined { expires_at }), DeclineReply::Declined),
                _ => (None, DeclineReply::NotReserved),
            },
            Some(Stored::Grant(_) | Stored::Declined { .. }) => (None, DeclineReply::Conflict),
            _ => (None, DeclineReply::NotReserved),
        }
    }
}

/// Redeem the code at the token endpoint; on success store the new access token's hash, and
/// the refresh token's if given and the grant has `offline_access`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Redeem {
    pub code_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_verifier: Option<String>,
    pub access_token_hash: String,
    pub access_expires_at: i64,
    #[serde(default)]
    pub refresh: Option<NewRefresh>,
    /// A sealed code's grant (`protocol::sealed_code`): created by this redemption when the
    /// object holds nothing yet; ignored when it holds the grant (a replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Box<GrantState>>,
    /// When the sealed code was issued (for a home's revocation, `home::gate_sealed`).
    #[serde(default)]
    pub sealed_iat: i64,
    /// The token request's `resource` (RFC 8707 §2.2): it must be the grant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RedeemReply {
    /// The grant, for building the token response; whether a refresh token was stored.
    Granted { grant: Box<Grant>, refresh_issued: bool },
    /// RFC 6749 §5.2 `invalid_grant`, with this description.
    InvalidGrant { description: String },
    /// RFC 8707 §2: the token request named another resource than the grant's.
    InvalidTarget { description: String },
}

impl GrantOp for Redeem {
    type Reply = RedeemReply;
    fn apply(mut self, state: Option<Stored>, now: i64) -> (Option<Stored>, RedeemReply) {
        let invalid = |d: &str| RedeemReply::InvalidGrant { description: d.to_string() };
        // A sealed code's first redemption: its grant becomes the object's (written only if the
        // redemption succeeds). A tombstone or an existing grant takes precedence.
        let state = match state {
            None => self.sealed.take().map(Stored::Grant),
            state => state,
        };
        let Some(mut st) = grant_of(state) else {
            return (None, invalid("the authorization code is invalid or has expired"));
        };
        if !hash_eq(&st.code_hash, &self.code_hash) {
            return (None, invalid("the authorization code is invalid or has expired"));
        }
        // RFC 6749 §4.1.3: bound to the client. Checked first, so that another client holding
        // a leaked code cannot trigger the revocation below.
        if !hash_eq(&st.grant.client_id, &self.client_id) {
            return (None, invalid("the authorization code was issued to another client"));
        }
        if st.revoked && st.code_redeemed_at.is_none() {
            // Revoked before its code was used (consent withdrawn, a grant pushed out): no reuse.
            return (None, invalid("the authorization code is no longer valid: its grant was revoked"));
        }
        if st.code_redeemed_at.is_some() {
            // RFC 6749 §4.1.2: a code used twice revokes what was issued from it (access and
            // refresh tokens alike).
            let changed = !st.revoked;
            st.revoked = true;
            let write = changed.then(|| Stored::Grant(Box::new(st)));
            return (write, invalid(CODE_REUSED));
        }
        if now >= st.code_expires_at {
            return (None, invalid("the authorization code has expired"));
        }
        if st.grant.redirect_uri != self.redirect_uri {
            return (None, invalid("redirect_uri does not match the one in the authorization request"));
        }
        // RFC 7636 §4.6, and RFC 9700 §2.1.1: a verifier without a challenge is refused.
        match (&st.grant.code_challenge, self.code_verifier.as_deref()) {
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
        if self.resource.is_some() && self.resource != st.grant.resource {
            let description = "resource is not the one of the authorization request (RFC 8707 §2.2)".to_string();
            return (None, RedeemReply::InvalidTarget { description });
        }
        st.code_redeemed_at = Some(now);
        // The resource's own lifetime, as its record said when the grant was made.
        let expires_at = st.grant.access_token_ttl.map_or(self.access_expires_at, |ttl| now + ttl);
        let token = AccessToken { hash: self.access_token_hash, issued_at: now, expires_at, scope: None };
        st.add_access_token(token, now);
        let refresh_issued = self.refresh.is_some() && wants_refresh(&st.grant);
        if let Some(r) = self.refresh.filter(|_| refresh_issued) {
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
        (Some(Stored::Grant(Box::new(st))), RedeemReply::Granted { grant, refresh_issued })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{secret_hash, RevokeAll, TOMBSTONE_SECONDS};
    use super::*;

    fn grant() -> Grant {
        serde_json::from_value(serde_json::json!({
            "client_id": "app", "redirect_uri": "https://app.example/cb", "scope": "openid",
            "sub": "s", "username": "alice", "auth_time": 100
        }))
        .unwrap()
    }

    fn state() -> Box<GrantState> {
        Box::new(GrantState::new(grant(), secret_hash("code"), 1060))
    }

    fn redeem(client: &str) -> Redeem {
        Redeem {
            code_hash: secret_hash("code"),
            client_id: client.into(),
            redirect_uri: "https://app.example/cb".into(),
            code_verifier: None,
            access_token_hash: secret_hash("at"),
            access_expires_at: 4600,
            resource: None,
            refresh: None,
            sealed: None,
            sealed_iat: 0,
        }
    }

    /// Each form works once: a reservation is issued or declined once, and nothing is issued
    /// on an id that was never reserved or whose reservation expired.
    #[test]
    fn a_reservation_is_used_once() {
        let (s, r) = Reserve { expires_at: 1100 }.apply(None, 1000);
        assert_eq!(r, ReserveReply::Reserved);
        assert_eq!(Reserve { expires_at: 1100 }.apply(s.clone(), 1000), (None, ReserveReply::Conflict));
        assert_eq!(Issue { state: state() }.apply(s.clone(), 1100).1, IssueReply::NotReserved, "expired");
        let (issued, r) = Issue { state: state() }.apply(s.clone(), 1050);
        assert_eq!(r, IssueReply::Issued);
        assert_eq!(Issue { state: state() }.apply(issued.clone(), 1051).1, IssueReply::Conflict);
        assert_eq!(Decline { fresh_until: None }.apply(issued, 1051).1, DeclineReply::Conflict, "allowed, then denied");
        let (declined, r) = Decline { fresh_until: None }.apply(s, 1050);
        assert_eq!(r, DeclineReply::Declined);
        assert_eq!(Issue { state: state() }.apply(declined, 1051).1, IssueReply::Conflict, "denied, then allowed");
        assert_eq!(Issue { state: state() }.apply(None, 1000).1, IssueReply::NotReserved);
        assert_eq!(Decline { fresh_until: None }.apply(None, 1000).1, DeclineReply::NotReserved);
        // Revoked before it existed (consent withdrawn meanwhile): a tombstone, never created.
        let (tomb, _) = RevokeAll {}.apply(None, 1000);
        assert_eq!(tomb, Some(Stored::Declined { expires_at: 1000 + TOMBSTONE_SECONDS }));
        assert_eq!(Create { state: state() }.apply(tomb, 1001).1, IssueReply::Conflict);
    }

    /// A passkey sign-in reserves no id: its consent creates the grant (`Create`) or declines
    /// an id never used, once, and not after the form expired.
    #[test]
    fn a_form_without_reservation_is_used_once() {
        let (issued, r) = Create { state: state() }.apply(None, 1000);
        assert_eq!(r, IssueReply::Issued);
        assert_eq!(Create { state: state() }.apply(issued.clone(), 1001).1, IssueReply::Conflict);
        assert_eq!(Decline { fresh_until: Some(1100) }.apply(issued, 1001).1, DeclineReply::Conflict);
        let (declined, r) = Decline { fresh_until: Some(1100) }.apply(None, 1050);
        assert_eq!((declined.clone(), r), (Some(Stored::Declined { expires_at: 1100 }), DeclineReply::Declined));
        assert_eq!(Decline { fresh_until: Some(1100) }.apply(declined.clone(), 1051).1, DeclineReply::Conflict);
        assert_eq!(Create { state: state() }.apply(declined, 1051).1, IssueReply::Conflict, "denied, then allowed");
        assert_eq!(Decline { fresh_until: Some(1100) }.apply(None, 1100).1, DeclineReply::NotReserved, "expired");
    }

    /// RFC 6749 §4.1.2: once, by its client; a second use revokes (another client's does not).
    #[test]
    fn a_code_is_redeemed_once_by_its_client() {
        let (s, _) = Create { state: state() }.apply(None, 1000);
        let (after_foreign, r) = redeem("other").apply(s.clone(), 1001);
        assert!(after_foreign.is_none() && matches!(r, RedeemReply::InvalidGrant { .. }));
        let (s, r) = redeem("app").apply(s, 1001);
        assert!(matches!(r, RedeemReply::Granted { refresh_issued: false, .. }), "{r:?}");
        let (s, r) = redeem("app").apply(s, 1002);
        assert_eq!(r, RedeemReply::InvalidGrant { description: "the authorization code has already been used".into() });
        assert!(matches!(&s, Some(Stored::Grant(g)) if g.revoked), "the replay revoked the grant");
        // A code whose grant was revoked before it was used: refused, and not called a reuse
        // (no theft signal in the audit events).
        let (fresh, _) = Create { state: state() }.apply(None, 1000);
        let (revoked, _) = RevokeAll {}.apply(fresh, 1001);
        let (_, r) = redeem("app").apply(revoked, 1002);
        assert!(matches!(&r, RedeemReply::InvalidGrant { description } if description != CODE_REUSED), "{r:?}");
        let (s2, _) = Create { state: state() }.apply(None, 1000);
        assert_eq!(
            redeem("app").apply(s2, 1060).1,
            RedeemReply::InvalidGrant { description: "the authorization code has expired".into() }
        );
    }
}
