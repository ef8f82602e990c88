//! The refresh token grant inside the grant's object (RFC 6749 §6, RFC 9700 §4.14.2):
//! rotation on every use, reuse detection over a bounded list of rotated-out hashes, and a
//! short grace window in which a retry with the immediately previous token (the client lost
//! the response, or sent concurrent refreshes) gets the same current token back instead of
//! revoking the grant. The family never branches: there is one current token.

use super::{grant_of, hash_eq, AccessToken, Done, GrantOp, GrantState, RefreshToken, Stored, MAX_PREVIOUS_REFRESH};
use crate::model::Grant;
use serde::{Deserialize, Serialize};

/// The reply to a rotated-out refresh token presented again (RFC 9700 §4.14.2).
pub const REFRESH_REUSED: &str = "the refresh token was already used: it and every token of its grant are now revoked";

const UNKNOWN: &str = "the refresh token is invalid or has expired";

/// The refresh token grant (RFC 6749 §6): rotate, retry within grace, or revoke on reuse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refresh {
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
    /// The request's `resource` (RFC 8707 §2.2): it must be the grant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RefreshReply {
    /// `retry_box` is `None` when the command's new token was stored, or the current token
    /// sealed for the previous one's holder on a retry within grace.
    Refreshed { grant: Box<Grant>, retry_box: Option<String> },
    /// RFC 6749 `invalid_grant`, with this description.
    InvalidGrant { description: String },
    /// The scope asked for is not within the grant (RFC 6749 §5.2).
    InvalidScope { description: String },
    /// The resource asked for is not the grant's (RFC 8707 §2).
    InvalidTarget { description: String },
}

impl GrantOp for Refresh {
    type Reply = RefreshReply;
    fn apply(self, state: Option<Stored>, now: i64) -> (Option<Stored>, RefreshReply) {
        let (write, reply) = refresh(grant_of(state), self, now);
        (write.map(|g| Stored::Grant(Box::new(g))), reply)
    }
}

/// Undo a refresh whose response could not be given (the user or consent could not be
/// checked): drop its access token, and if it rotated to `new_hash`, make the presented token
/// current again, so that the client's retry is not taken for reuse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unrotate {
    pub new_hash: String,
    pub access_token_hash: String,
}

impl GrantOp for Unrotate {
    type Reply = Done;
    fn apply(self, state: Option<Stored>, _now: i64) -> (Option<Stored>, Done) {
        let write =
            grant_of(state).map(|st| Stored::Grant(Box::new(unrotate(st, &self.new_hash, &self.access_token_hash))));
        (write, Done {})
    }
}

fn refresh(state: Option<GrantState>, cmd: Refresh, now: i64) -> (Option<GrantState>, RefreshReply) {
    let invalid = |d: &str| RefreshReply::InvalidGrant { description: d.to_string() };
    let Some(mut st) = state else { return (None, invalid(UNKNOWN)) };
    let Some(rt) = st.refresh.as_ref() else { return (None, invalid(UNKNOWN)) };
    let current = hash_eq(&rt.hash, &cmd.token_hash);
    let previous = rt.previous.iter().position(|h| hash_eq(h, &cmd.token_hash));
    if !current && previous.is_none() {
        return (None, invalid(UNKNOWN));
    }
    // Bound to the client (RFC 6749 §6), checked before anything is revoked: another client
    // holding a leaked token cannot log the user out.
    if !hash_eq(&st.grant.client_id, &cmd.client_id) {
        return (None, invalid("the refresh token was issued to another client"));
    }
    if st.revoked {
        return (None, invalid("the refresh token has been revoked"));
    }
    if now >= rt.expires_at {
        return (None, invalid("the refresh token has expired"));
    }
    let retry_box = match (current, previous) {
        (true, _) => None,
        // The token just replaced, within the grace window: a retry.
        (false, Some(0)) if cmd.grace_seconds > 0 && now < rt.issued_at.saturating_add(cmd.grace_seconds) => {
            match &rt.retry_box {
                Some(b) => Some(b.clone()),
                None => return revoke_family(st),
            }
        }
        // RFC 9700 §4.14.2: a rotated-out token was used again; one of its holders is not
        // the legitimate client, so the whole grant goes.
        _ => return revoke_family(st),
    };
    if cmd.resource.is_some() && cmd.resource != st.grant.resource {
        let description = "resource is not the one this grant is for (RFC 8707 §2.2)".to_string();
        return (None, RefreshReply::InvalidTarget { description });
    }
    if let Some(scope) = &cmd.scope {
        if scope.split(' ').any(|s| !st.grant.scopes().any(|g| g == s)) {
            let description = format!("a requested scope was not granted: ask for a subset of '{}'", st.grant.scope);
            return (None, RefreshReply::InvalidScope { description });
        }
    }
    let scope = cmd.scope.filter(|s| *s != st.grant.scope);
    let expires_at = st.grant.access_token_ttl.map_or(cmd.access_expires_at, |ttl| now + ttl);
    let token = AccessToken { hash: cmd.access_token_hash, issued_at: now, expires_at, scope };
    st.add_access_token(token, now);
    if retry_box.is_none() {
        let (previous, max_expires_at) = match st.refresh.take() {
            Some(old) => {
                (std::iter::once(old.hash).chain(old.previous).take(MAX_PREVIOUS_REFRESH).collect(), old.max_expires_at)
            }
            None => (Vec::new(), cmd.refresh_expires_at),
        };
        st.refresh = Some(RefreshToken {
            hash: cmd.new_hash,
            issued_at: now,
            // Idle expiry pushed forward, never past the family's absolute end.
            expires_at: cmd.refresh_expires_at.min(max_expires_at),
            previous,
            retry_box: Some(cmd.retry_box),
            max_expires_at,
        });
    }
    let grant = Box::new(st.grant.clone());
    (Some(st), RefreshReply::Refreshed { grant, retry_box })
}

fn unrotate(mut st: GrantState, new_hash: &str, access_token_hash: &str) -> GrantState {
    st.access_tokens.retain(|t| !hash_eq(&t.hash, access_token_hash));
    if let Some(rt) = st.refresh.as_mut().filter(|rt| hash_eq(&rt.hash, new_hash)) {
        if !rt.previous.is_empty() {
            rt.hash = rt.previous.remove(0);
            // Its own issue time is not kept: no grace for the token before it.
            rt.issued_at = 0;
            rt.retry_box = None;
        }
    }
    st
}

fn revoke_family(mut st: GrantState) -> (Option<GrantState>, RefreshReply) {
    st.revoked = true;
    (Some(st), RefreshReply::InvalidGrant { description: REFRESH_REUSED.into() })
}

#[cfg(test)]
mod tests {
    use super::super::{
        secret_hash, Access, AccessReply, Create, Introspect, IntrospectReply, Issue, IssueReply, NewRefresh, Redeem,
        RedeemReply, Revoke, RevokeAll, MAX_ACCESS_TOKENS,
    };
    use super::*;

    const T0: i64 = 1_000_000;
    const GRACE: i64 = 10;
    /// The family's absolute lifetime in these tests.
    const MAX_LIFE: i64 = 1_000_000;

    fn grant(scope: &str) -> Grant {
        Grant {
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            scope: scope.into(),
            nonce: Some("n".into()),
            code_challenge: None,
            code_challenge_method: None,
            sub: "s".into(),
            local_sub: None,
            username: "alice".into(),
            auth_time: T0,
            id_token_claims: Default::default(),
            userinfo_claims: vec![],
            custom_scopes: Default::default(),
            resource: None,
            access_token_ttl: None,
            access_token_format: Default::default(),
            amr: vec![],
            acr: None,
        }
    }

    /// A redeemed grant whose refresh token is `rt0` and access token `at0`.
    fn redeemed(scope: &str) -> Option<Stored> {
        let st = GrantState::new(grant(scope), secret_hash("code"), T0 + 60);
        let (s, r) = Create { state: Box::new(st) }.apply(None, T0);
        assert_eq!(r, IssueReply::Issued);
        let (s, r) = redeem().apply(s, T0);
        assert!(matches!(r, RedeemReply::Granted { refresh_issued: true, .. }), "{r:?}");
        s
    }

    fn redeem() -> Redeem {
        Redeem {
            code_hash: secret_hash("code"),
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_verifier: None,
            access_token_hash: secret_hash("at0"),
            access_expires_at: T0 + 3600,
            resource: None,
            refresh: Some(NewRefresh {
                hash: secret_hash("rt0"),
                expires_at: T0 + 86_400,
                max_expires_at: T0 + MAX_LIFE,
            }),
            sealed: None,
            sealed_iat: 0,
        }
    }

    fn refresh(presented: &str, new: &str, client: &str, scope: Option<&str>) -> Refresh {
        Refresh {
            token_hash: secret_hash(presented),
            client_id: client.into(),
            scope: scope.map(str::to_string),
            new_hash: secret_hash(new),
            retry_box: format!("box-of-{new}"),
            refresh_expires_at: T0 + 200_000,
            access_token_hash: secret_hash(&format!("at-{new}")),
            access_expires_at: T0 + 100_000,
            resource: None,
            grace_seconds: GRACE,
        }
    }

    /// Applies and keeps the write.
    fn run<O: GrantOp>(s: &mut Option<Stored>, op: O, now: i64) -> O::Reply {
        let (w, r) = op.apply(s.clone(), now);
        if w.is_some() {
            *s = w;
        }
        r
    }

    fn access_ok(s: &Option<Stored>, token: &str, now: i64) -> bool {
        matches!(Access { token_hash: secret_hash(token) }.apply(s.clone(), now).1, AccessReply::Active { .. })
    }

    fn state(s: &Option<Stored>) -> &GrantState {
        match s {
            Some(Stored::Grant(g)) => g,
            other => panic!("not a grant: {other:?}"),
        }
    }

    #[test]
    fn no_refresh_token_without_offline_access() {
        let st = GrantState::new(grant("openid"), secret_hash("code"), T0 + 60);
        let (s, _) = Create { state: Box::new(st) }.apply(None, T0);
        let (s, r) = redeem().apply(s, T0);
        assert!(matches!(r, RedeemReply::Granted { refresh_issued: false, .. }));
        assert!(state(&s).refresh.is_none());
        let mut s = s;
        assert!(matches!(run(&mut s, refresh("rt0", "rt1", "app", None), T0 + 1), RefreshReply::InvalidGrant { .. }));
    }

    #[test]
    fn rotation_then_reuse_revokes_the_family() {
        let mut s = redeemed("openid offline_access");
        let r = run(&mut s, refresh("rt0", "rt1", "app", None), T0 + 100);
        assert!(matches!(r, RefreshReply::Refreshed { retry_box: None, .. }), "{r:?}");
        assert_eq!(state(&s).refresh.as_ref().unwrap().expires_at, T0 + 200_000, "idle expiry extended");
        assert!(state(&s).expires_at() >= T0 + 200_000, "storage outlives the refresh token");
        assert!(access_ok(&s, "at0", T0 + 100) && access_ok(&s, "at-rt1", T0 + 100), "both access tokens live");
        let r = run(&mut s, refresh("rt1", "rt2", "app", None), T0 + 200);
        assert!(matches!(r, RefreshReply::Refreshed { retry_box: None, .. }));
        // rt0 is two rotations old: reuse.
        let r = run(&mut s, refresh("rt0", "rt3", "app", None), T0 + 201);
        assert!(
            matches!(&r, RefreshReply::InvalidGrant { description } if description.contains("already used")),
            "{r:?}"
        );
        assert!(state(&s).revoked);
        for t in ["at0", "at-rt1", "at-rt2"] {
            assert!(!access_ok(&s, t, T0 + 202), "{t} survived");
        }
        let r = run(&mut s, refresh("rt2", "rt4", "app", None), T0 + 202);
        assert!(matches!(&r, RefreshReply::InvalidGrant { description } if description.contains("revoked")));
    }

    #[test]
    fn grace_retry_returns_the_current_token_and_reuse_after_grace_revokes() {
        let mut s = redeemed("openid offline_access");
        run(&mut s, refresh("rt0", "rt1", "app", None), T0 + 100);
        // Retries with rt0 within grace: the same sealed current token, a new access token each.
        for (i, now) in [T0 + 100, T0 + 105, T0 + 100 + GRACE - 1].into_iter().enumerate() {
            let r = run(&mut s, refresh("rt0", &format!("x{i}"), "app", None), now);
            assert!(matches!(&r, RefreshReply::Refreshed { retry_box: Some(b), .. } if b == "box-of-rt1"), "{r:?}");
            assert!(access_ok(&s, &format!("at-x{i}"), now));
        }
        assert_eq!(state(&s).refresh.as_ref().unwrap().hash, secret_hash("rt1"), "no branch");
        assert!(access_ok(&s, "at-rt1", T0 + 110), "a retry keeps the sibling's access token");
        let r = run(&mut s, refresh("rt0", "late", "app", None), T0 + 100 + GRACE);
        assert!(matches!(r, RefreshReply::InvalidGrant { .. }));
        assert!(state(&s).revoked);
    }

    #[test]
    fn grace_zero_disables_retries() {
        let mut s = redeemed("openid offline_access");
        run(&mut s, refresh("rt0", "rt1", "app", None), T0 + 100);
        let mut cmd = refresh("rt0", "x", "app", None);
        cmd.grace_seconds = 0;
        assert!(matches!(run(&mut s, cmd, T0 + 100), RefreshReply::InvalidGrant { .. }));
        assert!(state(&s).revoked);
    }

    #[test]
    fn another_client_revokes_nothing() {
        let mut s = redeemed("openid offline_access");
        run(&mut s, refresh("rt0", "rt1", "app", None), T0 + 100);
        for presented in ["rt0", "rt1"] {
            let r = run(&mut s, refresh(presented, "y", "other", None), T0 + 500);
            assert!(matches!(&r, RefreshReply::InvalidGrant { description } if description.contains("another client")));
        }
        assert!(!state(&s).revoked);
        let r = run(&mut s, refresh("rt1", "rt2", "app", None), T0 + 500);
        assert!(matches!(r, RefreshReply::Refreshed { .. }));
    }

    #[test]
    fn expiry_unknown_tokens_and_scope() {
        let mut s = redeemed("openid profile offline_access");
        let r = run(&mut s, refresh("nope", "y", "app", None), T0 + 1);
        assert!(matches!(&r, RefreshReply::InvalidGrant { description } if description == UNKNOWN));
        assert!(!state(&s).revoked, "an unknown token revokes nothing");
        let r = run(&mut s, refresh("rt0", "y", "app", Some("openid email")), T0 + 1);
        assert!(matches!(&r, RefreshReply::InvalidScope { description } if description.contains("subset of")), "{r:?}");
        assert_eq!(state(&s).refresh.as_ref().unwrap().hash, secret_hash("rt0"), "no rotation on error");
        let r = run(&mut s, refresh("rt0", "rt1", "app", Some("openid")), T0 + 1);
        assert!(matches!(r, RefreshReply::Refreshed { .. }));
        match (Access { token_hash: secret_hash("at-rt1") }).apply(s.clone(), T0 + 2).1 {
            AccessReply::Active { grant, .. } => assert_eq!(grant.scope, "openid"),
            other => panic!("{other:?}"),
        }
        let r = run(&mut s, refresh("rt1", "rt2", "app", None), T0 + 200_000);
        assert!(matches!(&r, RefreshReply::InvalidGrant { description } if description.contains("expired")), "{r:?}");
    }

    #[test]
    fn code_reuse_revokes_the_refresh_token() {
        let mut s = redeemed("openid offline_access");
        let r = run(&mut s, redeem(), T0 + 5);
        assert!(matches!(r, RedeemReply::InvalidGrant { .. }));
        let r = run(&mut s, refresh("rt0", "rt1", "app", None), T0 + 6);
        assert!(matches!(&r, RefreshReply::InvalidGrant { description } if description.contains("revoked")), "{r:?}");
    }

    #[test]
    fn revocation_and_introspection() {
        let mut s = redeemed("openid offline_access");
        run(&mut s, refresh("rt0", "rt1", "app", None), T0 + 100);
        let inspect =
            |s: &Option<Stored>, t: &str| Introspect { token_hash: secret_hash(t) }.apply(s.clone(), T0 + 101).1;
        assert!(
            matches!(inspect(&s, "rt1"), IntrospectReply::Refresh { expires_at, .. } if expires_at == T0 + 200_000)
        );
        assert!(matches!(inspect(&s, "at0"), IntrospectReply::Access { .. }));
        assert_eq!(inspect(&s, "rt0"), IntrospectReply::Inactive, "a rotated token is inactive");
        // userinfo never accepts a refresh token.
        assert!(!access_ok(&s, "rt1", T0 + 101));
        // Another client's revocation does nothing; the owner's revokes everything.
        let revoke = |t: &str, c: &str| Revoke { token_hash: secret_hash(t), client_id: c.into() };
        assert_eq!(run(&mut s, revoke("rt1", "other"), T0 + 101), crate::objects::grant::Revoked { subject: None });
        assert!(!state(&s).revoked);
        assert_eq!(
            run(&mut s, revoke("rt1", "app"), T0 + 101),
            crate::objects::grant::Revoked { subject: Some("s".into()) }
        );
        assert!(state(&s).revoked);
        assert_eq!(
            run(&mut s, revoke("rt1", "app"), T0 + 102),
            crate::objects::grant::Revoked { subject: None },
            "once"
        );
        assert_eq!(inspect(&s, "rt1"), IntrospectReply::Inactive);
        assert!(!access_ok(&s, "at0", T0 + 101) && !access_ok(&s, "at-rt1", T0 + 101));
    }

    #[test]
    fn revoke_all_is_idempotent_and_create_conflicts() {
        let mut s = redeemed("openid offline_access");
        run(&mut s, RevokeAll {}, T0 + 1);
        assert!(state(&s).revoked);
        assert_eq!(RevokeAll {}.apply(s.clone(), T0 + 2), (None, Done {}));
        let st = GrantState::new(grant("openid"), secret_hash("c"), T0 + 60);
        // Revoked before it exists (consent withdrawn while its code was being issued, or its
        // consent form was open): a tombstone, so it can never be created or issued.
        let (tomb, _) = RevokeAll {}.apply(None, T0);
        assert_eq!(Create { state: Box::new(st.clone()) }.apply(tomb.clone(), T0 + 1).1, IssueReply::Conflict);
        let (tomb, _) = RevokeAll {}.apply(Some(Stored::Reserved { expires_at: T0 + 60 }), T0);
        assert_eq!(Issue { state: Box::new(st.clone()) }.apply(tomb, T0 + 1).1, IssueReply::Conflict);
        assert_eq!(Create { state: Box::new(st.clone()) }.apply(s, T0).1, IssueReply::Conflict);
        let reserved = Some(Stored::Reserved { expires_at: T0 + 60 });
        assert_eq!(Create { state: Box::new(st) }.apply(reserved, T0).1, IssueReply::Conflict);
    }

    #[test]
    fn bounded_lists() {
        let mut s = redeemed("openid offline_access");
        let mut presented = "rt0".to_string();
        for i in 0..(MAX_PREVIOUS_REFRESH + 5) {
            let new = format!("rt-{i}");
            let r = run(&mut s, refresh(&presented, &new, "app", None), T0 + 1 + i as i64);
            assert!(matches!(r, RefreshReply::Refreshed { retry_box: None, .. }), "{r:?}");
            presented = new;
        }
        let st = state(&s);
        assert_eq!(st.refresh.as_ref().unwrap().previous.len(), MAX_PREVIOUS_REFRESH);
        assert_eq!(st.access_tokens.len(), MAX_ACCESS_TOKENS);
        // The newest access token is kept; expired ones are pruned on the next write.
        assert!(access_ok(&s, &format!("at-{presented}"), T0 + 100));
        run(&mut s, refresh(&presented, "late", "app", None), T0 + 100_000);
        assert_eq!(state(&s).access_tokens.len(), 1);
    }
}
