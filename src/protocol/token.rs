//! Token endpoint (RFC 6749 §3.2, §4.1.3, §5, §6; OpenID Connect Core §3.1.3, §12).
//!
//! Authenticates the client with its registered method, then runs the grant in the grant's
//! Durable Object (one round trip: the code is checked, consumed and the tokens' hashes
//! stored atomically; a refresh token is rotated the same way, see [`super::refresh`]),
//! then signs the ID token. A sealed code (returning users, [`super::sealed_code`]) brings its
//! grant along: that same round trip stores it (in the user's home object, model::grant::home_of).

use super::id_token::{self, IdTokenInput};
use super::{sealed_code, Backend, Provider};
use crate::crypto::{b64url, random_bytes, random_token, Crypto};
use crate::error::{ErrorCode, OAuthError};
use crate::http::{error_json, Params, Request, Response};
use crate::model::grant::split_handle;
use crate::model::{Client, Grant};
use crate::objects::grant::{secret_hash, Command, NewRefresh, Reply};
use crate::store::GrantStore;
use serde::Serialize;

/// What a successful grant hands back to the client.
pub(super) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: String,
    pub scope: String,
}

/// The successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: i64,
    id_token: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

impl<B: Backend> Provider<'_, B> {
    pub async fn token(&self, req: &Request) -> Response {
        let (form, client) = match self.client_form(req).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        let grant_type = match form.get("grant_type") {
            None => return error_json(&OAuthError::invalid_request("grant_type is required")),
            Some(g @ ("authorization_code" | "refresh_token")) => g,
            Some(_) => {
                return error_json(&OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    "supported grant types: authorization_code, refresh_token",
                ))
            }
        };
        if !client.allows_grant(grant_type) {
            return error_json(&OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {grant_type} grant"),
            ));
        }
        // Registration §2: the client's ID token algorithm needs a signing key. Checked before
        // the code is redeemed, so that fixing SIGNING_KEYS lets the same code be retried.
        let alg = client.id_token_signed_response_alg;
        if self.crypto.signing_kid(alg).is_none() {
            (self.log)(&format!(
                "token: client '{}' wants {alg} ID tokens but SIGNING_KEYS has no {alg} signing key",
                client.client_id
            ));
            return error_json(&OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client is registered for {alg} ID tokens (id_token_signed_response_alg), but the provider has no {alg} signing key; the operator must add one"),
            ));
        }
        let issued = match grant_type {
            "refresh_token" => self.refresh_grant(&form, &client).await,
            _ => self.code_grant(&form, &client).await,
        };
        match issued {
            Ok(t) => {
                // RFC 6749 §5.1; OpenID Connect Core §3.1.3.3 (id_token).
                let body = TokenResponse {
                    access_token: &t.access_token,
                    token_type: "Bearer",
                    expires_in: self.config.access_token_ttl,
                    id_token: &t.id_token,
                    scope: &t.scope,
                    refresh_token: t.refresh_token.as_deref(),
                };
                Response::json(200, &body).no_store().cors()
            }
            Err(r) => r,
        }
    }

    async fn code_grant(&self, form: &Params, client: &Client) -> Result<Issued, Response> {
        let Some(code) = form.get("code") else {
            return Err(error_json(&OAuthError::invalid_request("code is required")));
        };
        let Some(redirect_uri) = form.get("redirect_uri") else {
            return Err(error_json(&OAuthError::invalid_request("redirect_uri is required (RFC 6749 §4.1.3)")));
        };
        let invalid = || error_json(&OAuthError::invalid_grant("the authorization code is invalid or has expired"));
        // A sealed code carries its grant (sealed_code.rs); a handle code's grant is in its object.
        let (grant_id, code_hash, sealed, sealed_iat) = if let Some((id, sealed)) = sealed_code::split(code) {
            let opened = sealed_code::open(&self.keys.code, id, sealed).ok_or_else(invalid)?;
            (id, opened.state.code_hash.clone(), Some(Box::new(opened.state)), opened.issued_at)
        } else if let Some((id, secret)) = split_handle(code) {
            (id, secret_hash(secret), None, 0)
        } else {
            return Err(invalid());
        };
        let access_secret = self.random(random_token::<32>())?;
        // Sent whenever the client may refresh; the object keeps it only for offline_access.
        let refresh_secret =
            if client.allows_grant("refresh_token") { Some(self.random(random_bytes::<32>())?) } else { None };
        let refresh_secret = refresh_secret.map(|raw| b64url(&raw));
        let cmd = Command::Redeem {
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
        };
        let access_token = format!("{grant_id}.{access_secret}");
        let (grant, refresh_issued) = match self.grants.send(grant_id, cmd).await {
            Ok(Reply::Granted { grant, refresh_issued }) => (grant, refresh_issued),
            Ok(Reply::InvalidGrant { description }) => return Err(error_json(&OAuthError::invalid_grant(description))),
            Ok(other) => return Err(self.unexpected("token", &other)),
            Err(e) => return Err(self.store_unavailable("token", &e.to_string())),
        };
        let refresh_token = refresh_secret.filter(|_| refresh_issued).map(|s| format!("{grant_id}.{s}"));
        let id_token = self.signed_id_token(client, &grant, &access_token).await?;
        Ok(Issued { access_token, refresh_token, id_token, scope: grant.scope.clone() })
    }

    /// The ID token for `grant`, bound to `access_token` (`at_hash`).
    /// Signed with the client's `id_token_signed_response_alg` (Registration §2).
    pub(super) async fn signed_id_token(
        &self,
        client: &Client,
        grant: &Grant,
        access_token: &str,
    ) -> Result<String, Response> {
        let alg = client.id_token_signed_response_alg;
        let claims = id_token::claims(&IdTokenInput {
            issuer: &self.config.issuer,
            grant,
            access_token,
            now: self.now,
            ttl: self.config.id_token_ttl,
            alg,
        });
        id_token::sign(self.crypto, alg, &claims).await.map_err(|e| {
            (self.log)(&format!("token: signing failed: {e}"));
            error_json(&OAuthError::unavailable("signing failed, retry"))
        })
    }

    /// A random value, or the `temporarily_unavailable` response if the generator failed.
    pub(super) fn random<V>(&self, v: Result<V, String>) -> Result<V, Response> {
        v.map_err(|e| {
            (self.log)(&format!("token: {e}"));
            error_json(&OAuthError::unavailable("internal error, retry"))
        })
    }

    pub(super) fn unexpected(&self, what: &str, reply: &Reply) -> Response {
        (self.log)(&format!("{what}: unexpected grant object reply {reply:?}"));
        error_json(&OAuthError::unavailable("the grant store answered unexpectedly, retry"))
    }

    pub(super) fn store_unavailable(&self, what: &str, e: &str) -> Response {
        (self.log)(&format!("{what}: grant store: {e}"));
        error_json(&OAuthError::unavailable("the grant store is unavailable, retry"))
    }
}
