//! Token endpoint (RFC 6749 §3.2, §4.1.3, §5, §6; OpenID Connect Core §3.1.3, §12).
//!
//! Authenticates the client with its registered method ([`client_auth`]; `private_key_jwt`
//! in `assertion`), then runs the grant in the grant's Durable Object (one round trip: the
//! code is checked, consumed and the tokens' hashes stored atomically, `code`; a refresh
//! token is rotated the same way, `refresh`; a client's own grant is minted, `credentials`),
//! then signs the access token if its resource takes JWTs (RFC 9068) and the ID token if the
//! grant is an OpenID Connect one.

mod assertion;
pub mod client_auth;
mod code;
mod credentials;
mod refresh;

use super::failure::Failure;
use super::id_token::{self, IdTokenInput};
use super::{Backend, Provider};
use crate::crypto::Crypto;
use crate::error::{ErrorCode, OAuthError};
use crate::http::{Request, Response};
use crate::model::{Client, Grant};
use serde::Serialize;

/// What a successful grant hands back to the client.
struct Issued {
    access_token: String,
    expires_in: i64,
    refresh_token: Option<String>,
    /// For an OpenID Connect grant (`openid`); none for plain OAuth.
    id_token: Option<String>,
    scope: String,
}

/// The successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

impl<B: Backend> Provider<'_, B> {
    pub async fn token(&self, req: &Request) -> Result<Response, Failure> {
        let (form, client) = self.client_form(req).await?;
        if form.several_resources {
            return Err(OAuthError::invalid_target("one resource per request is supported (RFC 8707 §2)").into());
        }
        let grant_type = match form.get("grant_type") {
            None => return Err(OAuthError::invalid_request("grant_type is required").into()),
            Some(g @ ("authorization_code" | "refresh_token" | "client_credentials")) => g,
            Some(_) => {
                let d = "supported grant types: authorization_code, refresh_token, client_credentials";
                return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, d).into());
            }
        };
        if !client.allows_grant(grant_type) {
            let d = format!("this client may not use the {grant_type} grant");
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, d).into());
        }
        // Registration §2: the client's ID token algorithm needs a signing key. Checked before
        // the code is redeemed, so that fixing SIGNING_KEYS lets the same code be retried.
        let alg = client.id_token_signed_response_alg;
        if grant_type != "client_credentials" && self.crypto.signing_kid(alg).is_none() {
            let d = format!("this client is registered for {alg} ID tokens (id_token_signed_response_alg), but the provider has no {alg} signing key; the operator must add one");
            return Err(Failure::json(OAuthError::new(ErrorCode::UnauthorizedClient, d)).logged(format!(
                "client '{}' wants {alg} ID tokens but SIGNING_KEYS has no {alg} signing key",
                client.client_id
            )));
        }
        let t = match grant_type {
            "refresh_token" => self.refresh_grant(&form, &client).await?,
            "client_credentials" => self.client_credentials_grant(&form, &client).await?,
            _ => self.code_grant(&form, &client).await?,
        };
        // A client that registered itself is kept while what it got can be used.
        let until = if t.refresh_token.is_some() { self.config.refresh_token_max_lifetime } else { t.expires_in };
        self.keep_registered(&client, self.now + until).await;
        // RFC 6749 §5.1; OpenID Connect Core §3.1.3.3 (id_token).
        let body = TokenResponse {
            access_token: &t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            id_token: t.id_token.as_deref(),
            scope: &t.scope,
            refresh_token: t.refresh_token.as_deref(),
        };
        Ok(Response::json(200, &body).no_store().cors())
    }

    /// The ID token for `grant`, bound to `access_token` (`at_hash`), if the grant is an
    /// OpenID Connect one. Signed with the client's `id_token_signed_response_alg`
    /// (Registration §2).
    async fn signed_id_token(
        &self,
        client: &Client,
        grant: &Grant,
        access_token: &str,
    ) -> Result<Option<String>, Failure> {
        if !grant.is_openid() {
            return Ok(None);
        }
        let alg = client.id_token_signed_response_alg;
        let claims = id_token::claims(&IdTokenInput {
            issuer: &self.config.issuer,
            grant,
            access_token,
            now: self.now,
            ttl: self.config.id_token_ttl,
            alg,
        });
        let signed = id_token::sign(self.crypto, alg, &claims).await;
        signed.map(Some).map_err(|e| Failure::unavailable(format!("signing failed: {e}")))
    }

    /// When an access token for `grant` issued now expires.
    fn access_expires_at(&self, grant: &Grant) -> i64 {
        self.now + grant.access_token_ttl.unwrap_or(self.config.access_token_ttl)
    }
}
