//! Token endpoint (RFC 6749 §3.2, §4.1.3, §5; OpenID Connect Core §3.1.3).
//!
//! Authenticates the client with its registered method, redeems the code in the grant's
//! Durable Object (one round trip: the code is checked, consumed and the access token's
//! hash stored atomically), then signs the ID token.

use super::grant_object::{secret_hash, Command, Reply};
use super::id_token::{self, IdTokenInput};
use super::Provider;
use crate::crypto::{random_token, Crypto};
use crate::error::{ErrorCode, OAuthError};
use crate::http::{error_json, Request, Response};
use crate::model::grant::split_handle;
use crate::store::{ClientStore, GrantStore, ThrottleStore, UserStore};
use serde_json::json;

impl<C: ClientStore, U: UserStore, G: GrantStore, T: ThrottleStore, K: Crypto> Provider<'_, C, U, G, T, K> {
    pub async fn token(&self, req: &Request) -> Response {
        let (form, client) = match self.client_form(req).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        match form.get("grant_type") {
            None => return error_json(&OAuthError::invalid_request("grant_type is required")),
            Some("authorization_code") => {}
            Some(_) => {
                return error_json(&OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    "only grant_type=authorization_code is supported",
                ))
            }
        }
        if !client.grant_types.iter().any(|g| g == "authorization_code") {
            return error_json(&OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use the authorization_code grant",
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
        let Some(code) = form.get("code") else {
            return error_json(&OAuthError::invalid_request("code is required"));
        };
        let Some(redirect_uri) = form.get("redirect_uri") else {
            return error_json(&OAuthError::invalid_request("redirect_uri is required (RFC 6749 §4.1.3)"));
        };
        let Some((grant_id, code_secret)) = split_handle(code) else {
            return error_json(&OAuthError::invalid_grant("the authorization code is invalid or has expired"));
        };
        let access_secret = match random_token::<32>() {
            Ok(t) => t,
            Err(e) => {
                (self.log)(&format!("token: {e}"));
                return error_json(&OAuthError::unavailable("internal error, retry"));
            }
        };
        let cmd = Command::Redeem {
            code_hash: secret_hash(code_secret),
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            code_verifier: form.get("code_verifier").map(str::to_string),
            access_token_hash: secret_hash(&access_secret),
            access_expires_at: self.now + self.config.access_token_ttl,
        };
        let access_token = format!("{grant_id}.{access_secret}");
        let grant = match self.grants.send(grant_id, cmd).await {
            Ok(Reply::Granted { grant }) => grant,
            Ok(Reply::InvalidGrant { description }) => return error_json(&OAuthError::invalid_grant(description)),
            Ok(other) => {
                (self.log)(&format!("token: unexpected grant object reply {other:?}"));
                return error_json(&OAuthError::unavailable("the grant store answered unexpectedly, retry"));
            }
            Err(e) => {
                (self.log)(&format!("token: grant store: {e}"));
                return error_json(&OAuthError::unavailable("the grant store is unavailable, retry"));
            }
        };
        let claims = id_token::claims(&IdTokenInput {
            issuer: &self.config.issuer,
            grant: &grant,
            access_token: &access_token,
            now: self.now,
            ttl: self.config.id_token_ttl,
            alg,
        });
        let id_token = match id_token::sign(self.crypto, alg, &claims).await {
            Ok(t) => t,
            Err(e) => {
                (self.log)(&format!("token: signing failed: {e}"));
                return error_json(&OAuthError::unavailable("signing failed, retry"));
            }
        };
        Response::json(
            200,
            &json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": self.config.access_token_ttl,
                "id_token": id_token,
                "scope": grant.scope,
            }),
        )
        .no_store()
        .cors()
    }
}
