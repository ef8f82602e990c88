//! The refresh token grant at the token endpoint (RFC 6749 §6, OpenID Connect Core §12).
//!
//! Every use rotates the token (RFC 9700 §4.14.2); the grant's object detects reuse of a
//! rotated-out token and revokes the grant. A retry with the token just replaced, within the
//! client's `refresh_grace_seconds` (0 by default), gets the *same* current token back: at
//! rotation the worker
//! stores `retry_box = new secret XOR SHA-256("edge-oidc/refresh-retry\0" || presented
//! secret)`, a one-time pad only the holder of the previous token can open, so the object
//! still keeps nothing but hashes and sealed values.

use super::Issued;
use crate::audit::{Event, Kind};
use crate::crypto::{b64url, b64url_decode, random_bytes, random_token, sha256};
use crate::error::{OAuthError, StoreError};
use crate::http::Params;
use crate::model::grant::split_handle;
use crate::model::Client;
use crate::objects::account::{Consented, Standing};
use crate::objects::grant::{secret_hash, Refresh, RefreshReply, RevokeAll, Unrotate, REFRESH_REUSED};
use crate::protocol::failure::Failure;
use crate::protocol::{random, Backend, Provider};
use crate::store::{AccountStore, GrantStore, UserStore};
use futures_util::future::join;

const RETRY_LABEL: &[u8] = b"edge-oidc/refresh-retry\0";

/// The pad that seals the next secret for the holder of `presented` (a refresh secret).
fn retry_key(presented: &str) -> [u8; 32] {
    sha256(&[RETRY_LABEL, presented.as_bytes()].concat())
}

fn seal(secret: &[u8; 32], key: &[u8; 32]) -> String {
    let mut out = [0u8; 32];
    for (o, (s, k)) in out.iter_mut().zip(secret.iter().zip(key)) {
        *o = s ^ k;
    }
    b64url(&out)
}

/// The refresh secret (base64url) in a box sealed with `key`.
fn open(boxed: &str, key: &[u8; 32]) -> Option<String> {
    let bytes: [u8; 32] = b64url_decode(boxed)?.try_into().ok()?;
    let mut out = [0u8; 32];
    for (o, (b, k)) in out.iter_mut().zip(bytes.iter().zip(key)) {
        *o = b ^ k;
    }
    Some(b64url(&out))
}

/// The `scope` parameter, normalised (RFC 6749 §3.3: space-delimited, order irrelevant).
fn requested_scope(form: &Params) -> Result<Option<String>, OAuthError> {
    let Some(raw) = form.get("scope") else { return Ok(None) };
    let mut scopes: Vec<&str> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope("scope is empty: omit it to keep the granted scope"));
    }
    Ok(Some(scopes.join(" ")))
}

impl<B: Backend> Provider<'_, B> {
    pub(super) async fn refresh_grant(&self, form: &Params, client: &Client) -> Result<Issued, Failure> {
        let presented =
            form.get("refresh_token").ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        let asked = requested_scope(form)?;
        let (grant_id, secret) = split_handle(presented)
            .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid or has expired"))?;
        let access_secret = random(random_token::<32>())?;
        let next = random(random_bytes::<32>())?;
        let key = retry_key(secret);
        let new_hash = secret_hash(&b64url(&next));
        let access_token_hash = secret_hash(&access_secret);
        let refresh = Refresh {
            token_hash: secret_hash(secret),
            client_id: client.client_id.clone(),
            scope: asked.clone(),
            new_hash: new_hash.clone(),
            retry_box: seal(&next, &key),
            refresh_expires_at: self.now + self.config.refresh_token_ttl,
            access_token_hash: access_token_hash.clone(),
            access_expires_at: self.now + self.config.access_token_ttl,
            grace_seconds: client.refresh_grace_seconds,
            resource: form.get("resource").map(str::to_string),
        };
        let (mut grant, retry_box) = match self.grants.send(grant_id, refresh).await? {
            RefreshReply::Refreshed { grant, retry_box } => (grant, retry_box),
            RefreshReply::InvalidGrant { description } => {
                if description == REFRESH_REUSED {
                    self.event(
                        Event::new(Kind::RefreshReuseDetected).client(&client.client_id).reason("grant_revoked"),
                    );
                }
                return Err(OAuthError::invalid_grant(description).into());
            }
            RefreshReply::InvalidScope { description } => return Err(OAuthError::invalid_scope(description).into()),
            RefreshReply::InvalidTarget { description } => return Err(OAuthError::invalid_target(description).into()),
        };
        // A retry within the client's grace window hands out the current token again: no rotation.
        let retried = retry_box.is_some();
        let refresh_secret = match retry_box {
            None => b64url(&next),
            // A retry within grace: the current token, opened with the presented one.
            Some(b) => open(&b, &key)
                .ok_or_else(|| Failure::unavailable("refresh: the grant object's retry box is malformed"))?,
        };
        // The user must still exist (the same person), and the consent still stand: checked
        // together. A removed user or a withdrawn consent ends the grant; a check that could
        // not be made undoes the rotation, so that the client's retry is not taken for reuse.
        let own_sub = grant.local_sub.as_ref().unwrap_or(&grant.sub).clone();
        let consented = Consented { client_id: client.client_id.clone(), grant_id: grant_id.to_string() };
        let (user, consent) =
            join(self.users.by_username(&grant.username), self.accounts.send(&own_sub, consented)).await;
        let ended = match (&user, &consent) {
            (Ok(Some(u)), _) if u.sub != own_sub => Some("the user no longer exists"),
            (Ok(None), _) => Some("the user no longer exists"),
            (_, Ok(Standing { live: false })) => Some("the user withdrew the consent"),
            _ => None,
        };
        if let Some(why) = ended {
            if let Err(e) = self.grants.send(grant_id, RevokeAll {}).await {
                (self.log)(&format!("refresh: grant store: {e}"));
            }
            let reason = if consent.is_ok_and(|s| !s.live) { "consent_withdrawn" } else { "user_removed" };
            self.event(Event::new(Kind::TokenRevoked).client(&client.client_id).subject(&own_sub).reason(reason));
            return Err(OAuthError::invalid_grant(why).into());
        }
        let failure = match (user, consent) {
            (Ok(_), Ok(_)) => None,
            (Err(StoreError::Malformed(m)), _) => {
                Some(Failure::json(OAuthError::invalid_grant("the user's record cannot be read")).logged(m))
            }
            (Err(e), _) | (_, Err(e)) => Some(Failure::from(e)),
        };
        if let Some(f) = failure {
            if let Err(e) = self.grants.send(grant_id, Unrotate { new_hash, access_token_hash }).await {
                (self.log)(&format!("refresh: could not undo the rotation: {e}"));
            }
            return Err(f);
        }
        // OpenID Connect Core §12.2: same iss, sub, aud, azp and auth_time; a new iat; no
        // nonce. A narrowed scope narrows the claims too.
        grant.nonce = None;
        if let Some(s) = &asked {
            grant.narrow(s);
        }
        let expires_at = self.access_expires_at(&grant);
        let access_token = self.access_token(grant_id, &access_secret, &grant, expires_at).await?;
        let id_token = self.signed_id_token(client, &grant, &access_token).await?;
        if !retried {
            self.event(Event::new(Kind::RefreshRotated).client(&client.client_id).subject(&own_sub));
        }
        Ok(Issued {
            access_token,
            expires_in: expires_at - self.now,
            refresh_token: Some(format!("{grant_id}.{refresh_secret}")),
            id_token,
            scope: grant.scope.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_previous_token_opens_the_box() {
        let next = [7u8; 32];
        let boxed = seal(&next, &retry_key("previous-secret"));
        assert_eq!(open(&boxed, &retry_key("previous-secret")), Some(b64url(&next)));
        assert_ne!(open(&boxed, &retry_key("another-secret")), Some(b64url(&next)));
        assert_ne!(boxed, b64url(&next));
        assert_eq!(open("short", &retry_key("x")), None);
    }
}
