//! Token revocation (RFC 7009) and introspection (RFC 7662), both client-authenticated
//! exactly like the token endpoint. A client can revoke and introspect only the tokens
//! issued to it; anything else is answered as an unknown token. Revoking any token of a
//! grant (access or refresh) revokes the grant: all its tokens (RFC 7009 §2.1).

use super::{Backend, Provider};
use crate::error::OAuthError;
use crate::http::{error_json, Request, Response};
use crate::model::grant::split_handle;
use crate::model::Client;
use crate::objects::grant::{secret_hash, Command, Reply};
use crate::store::GrantStore;
use serde_json::json;

impl<B: Backend> Provider<'_, B> {
    /// The authenticated client and the required `token` parameter (RFC 7009 §2.1, RFC 7662 §2.1).
    async fn token_param(&self, req: &Request) -> Result<(Client, String), Response> {
        let (form, client) = self.client_form(req).await?;
        let token = form.get("token").ok_or_else(|| error_json(&OAuthError::invalid_request("token is required")))?;
        Ok((client, token.to_string()))
    }

    pub async fn revoke(&self, req: &Request) -> Response {
        let (client, token) = match self.token_param(req).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        // RFC 7009 §2.1: token_type_hint is only a hint; both kinds are looked up anyway.
        // §2.2: an invalid or unknown token is answered 200 as well.
        let ok = Response::new(200, "application/json", "{}").no_store().cors();
        let Some((grant_id, secret)) = split_handle(&token) else { return ok };
        let cmd = Command::Revoke { token_hash: secret_hash(secret), client_id: client.client_id };
        match self.grants.send(grant_id, cmd).await {
            Ok(_) => ok,
            Err(e) => {
                (self.log)(&format!("revoke: grant store: {e}"));
                // §2.2.1: 503 when the server cannot revoke right now.
                error_json(&OAuthError::unavailable("revocation is temporarily unavailable, retry"))
            }
        }
    }

    pub async fn introspect(&self, req: &Request) -> Response {
        let (client, token) = match self.token_param(req).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        let inactive = Response::json(200, &json!({"active": false})).no_store().cors();
        let Some((grant_id, secret)) = split_handle(&token) else { return inactive };
        let (grant, issued_at, expires_at, access) =
            match self.grants.send(grant_id, Command::Introspect { token_hash: secret_hash(secret) }).await {
                Ok(Reply::Active { grant, issued_at, expires_at }) => (grant, issued_at, expires_at, true),
                Ok(Reply::ActiveRefresh { grant, issued_at, expires_at }) => (grant, issued_at, expires_at, false),
                Ok(_) => return inactive,
                Err(e) => {
                    (self.log)(&format!("introspect: grant store: {e}"));
                    return error_json(&OAuthError::unavailable("introspection is temporarily unavailable, retry"));
                }
            };
        if grant.client_id != client.client_id {
            return inactive;
        }
        // RFC 7662 §2.2: the token's meta-information. token_type (RFC 6749 §7.1) describes
        // access tokens only, so a refresh token has none.
        let mut body = json!({
            "active": true,
            "scope": grant.scope,
            "client_id": grant.client_id,
            "username": grant.username,
            "exp": expires_at,
            "iat": issued_at,
            "sub": grant.sub,
            "aud": grant.client_id,
            "iss": self.config.issuer,
        });
        if let Some(fields) = body.as_object_mut() {
            if access {
                fields.insert("token_type".into(), json!("Bearer"));
            }
            // A pairwise client must not learn an identifier common to every client (OpenID
            // Connect Core §8.1): no username for it.
            if grant.local_sub.is_some() {
                fields.remove("username");
            }
        }
        Response::json(200, &body).no_store().cors()
    }
}
