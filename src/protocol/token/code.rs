//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.5). A sealed code (returning
//! users, [`crate::protocol::sealed_code`]) brings its grant along: the same round trip stores
//! it, in the user's home object for this client.

use super::Issued;
use crate::audit::{Event, Kind};
use crate::crypto::{b64url, random_bytes, random_token};
use crate::error::OAuthError;
use crate::http::Params;
use crate::model::grant::split_handle;
use crate::model::Client;
use crate::objects::grant::{secret_hash, NewRefresh, Redeem, RedeemReply, CODE_REUSED};
use crate::protocol::failure::Failure;
use crate::protocol::{random, sealed_code, Backend, Provider};
use crate::store::GrantStore;

impl<B: Backend> Provider<'_, B> {
    pub(super) async fn code_grant(&self, form: &Params, client: &Client) -> Result<Issued, Failure> {
        let code = form.get("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let redirect_uri = form
            .get("redirect_uri")
            .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required (RFC 6749 §4.1.3)"))?;
        let invalid = || Failure::json(OAuthError::invalid_grant("the authorization code is invalid or has expired"));
        // A sealed code carries its grant (sealed_code.rs); a handle code's grant is in its object.
        let (grant_id, code_hash, sealed, sealed_iat) = if let Some((id, sealed)) = sealed_code::split(code) {
            let opened = sealed_code::open(&self.keys.code, id, sealed).ok_or_else(invalid)?;
            (id, opened.state.code_hash.clone(), Some(Box::new(opened.state)), opened.issued_at)
        } else if let Some((id, secret)) = split_handle(code) {
            (id, secret_hash(secret), None, 0)
        } else {
            return Err(invalid());
        };
        let access_secret = random(random_token::<32>())?;
        // Sent whenever the client may refresh; the object keeps it only for offline_access.
        let refresh_secret =
            if client.allows_grant("refresh_token") { Some(b64url(&random(random_bytes::<32>())?)) } else { None };
        let redeem = Redeem {
            code_hash,
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            code_verifier: form.get("code_verifier").map(str::to_string),
            access_token_hash: secret_hash(&access_secret),
            access_expires_at: self.now + self.config.access_token_ttl,
            refresh: refresh_secret.as_deref().map(|s| NewRefresh {
                hash: secret_hash(s),
                expires_at: self.now + self.config.refresh_token_ttl,
                max_expires_at: self.now + self.config.refresh_token_max_lifetime,
            }),
            sealed,
            sealed_iat,
            resource: form.get("resource").map(str::to_string),
        };

        let (grant, refresh_issued) = match self.grants.send(grant_id, redeem).await? {
            RedeemReply::Granted { grant, refresh_issued } => (grant, refresh_issued),
            RedeemReply::InvalidGrant { description } => {
                if description == CODE_REUSED {
                    self.event(Event::new(Kind::CodeReuseDetected).client(&client.client_id).reason("grant_revoked"));
                }
                return Err(OAuthError::invalid_grant(description).into());
            }
            RedeemReply::InvalidTarget { description } => return Err(OAuthError::invalid_target(description).into()),
        };
        let expires_at = self.access_expires_at(&grant);
        let access_token = self.access_token(grant_id, &access_secret, &grant, expires_at).await?;
        let refresh_token = refresh_secret.filter(|_| refresh_issued).map(|s| format!("{grant_id}.{s}"));
        let id_token = self.signed_id_token(client, &grant, &access_token).await?;
        let expires_in = expires_at - self.now;
        self.event(Event::new(Kind::CodeRedeemed).client(&client.client_id).subject(grant.local_sub()));
        Ok(Issued { access_token, expires_in, refresh_token, id_token, scope: grant.scope.clone() })
    }
}
