//! Token revocation (RFC 7009) and introspection (RFC 7662), both client-authenticated
//! exactly like the token endpoint; introspection only for confidential clients (RFC 7662
//! §2.1: a public client cannot authenticate). A client can revoke and introspect the tokens
//! issued to it; a resource server (a client its resource record names in
//! `introspection_clients`) can introspect the access tokens for it (RFC 7662 §4); anything
//! else is answered as an unknown token. Revoking any token of a grant (access or refresh,
//! opaque or JWT) revokes the grant: all its tokens (RFC 7009 §2.1) — a JWT access token
//! its resource server checks on its own stays valid until it expires.

use super::failure::Failure;
use super::token::client_auth::BASIC_CHALLENGE;
use super::{Backend, Provider};
use crate::error::OAuthError;
use crate::error::StoreError;
use crate::http::{Request, Response};
use crate::model::Client;
use crate::objects::grant::{Introspect, IntrospectReply, Revoke};
use crate::store::{ClientStore, GrantStore};
use serde_json::json;

impl<B: Backend> Provider<'_, B> {
    /// The authenticated client and the required `token` parameter (RFC 7009 §2.1, RFC 7662 §2.1).
    async fn token_param(&self, req: &Request) -> Result<(Client, String), Failure> {
        let (form, client) = self.client_form(req).await?;
        let token = form.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        Ok((client, token.to_string()))
    }

    /// Whether `client` is the resource server of `resource` (its record's
    /// `introspection_clients`).
    async fn serves(&self, client: &Client, resource: Option<&str>) -> Result<bool, Failure> {
        let Some(uri) = resource else { return Ok(false) };
        match self.clients.resource(uri).await {
            Ok(Some(r)) => Ok(r.introspection_clients.contains(&client.client_id)),
            Ok(None) | Err(StoreError::Malformed(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the client `client_id` still exists (a registered client may delete itself).
    pub async fn client_exists(&self, client_id: &str) -> Result<bool, Failure> {
        match self.client(client_id).await {
            Ok(found) => Ok(found.is_some()),
            Err(crate::protocol::clients::ClientError::Unusable(_)) => Ok(true),
            Err(crate::protocol::clients::ClientError::Store(e)) => Err(e.into()),
        }
    }

    pub async fn revoke(&self, req: &Request) -> Result<Response, Failure> {
        let (client, token) = self.token_param(req).await?;
        // RFC 7009 §2.1: token_type_hint is only a hint; both kinds are looked up anyway.
        // §2.2: an invalid or unknown token is answered 200 as well.
        let ok = Response::new(200, "application/json", "{}").no_store().cors();
        let Some(r) = self.token_ref(&token).await else { return Ok(ok) };
        // §2.2.1: 503 when the server cannot revoke right now.
        let client_id = client.client_id;
        let revoked =
            self.grants.send(&r.grant_id, Revoke { token_hash: r.hash, client_id: client_id.clone() }).await?;
        if let Some(sub) = revoked.subject {
            let e = crate::audit::Event::new(crate::audit::Kind::TokenRevoked).client(&client_id).subject(&sub);
            self.event(e.reason("client_request"));
        }
        Ok(ok)
    }

    pub async fn introspect(&self, req: &Request) -> Result<Response, Failure> {
        let (client, token) = self.token_param(req).await?;
        // RFC 7662 §2.1, §4: the endpoint needs the caller's authentication (against token
        // scanning); a public client's id proves nothing.
        if client.token_endpoint_auth_method.is_public() {
            let d = "introspection needs client authentication (RFC 7662 §2.1): a public client cannot introspect";
            return Err(Failure::json(OAuthError::invalid_client(d)).with_header("www-authenticate", BASIC_CHALLENGE));
        }
        let inactive = Response::json(200, &json!({"active": false})).no_store().cors();
        let Some(r) = self.token_ref(&token).await else { return Ok(inactive) };
        let (grant, issued_at, expires_at, access) =
            match self.grants.send(&r.grant_id, Introspect { token_hash: r.hash }).await? {
                IntrospectReply::Access { grant, issued_at, expires_at } => (grant, issued_at, expires_at, true),
                IntrospectReply::Refresh { grant, issued_at, expires_at } => (grant, issued_at, expires_at, false),
                IntrospectReply::Inactive => return Ok(inactive),
            };
        if grant.client_id != client.client_id && !(access && self.serves(&client, grant.resource.as_deref()).await?) {
            return Ok(inactive);
        }
        // A client deleted since (RFC 7592 §2.3) holds no live token.
        if grant.client_id != client.client_id && !self.client_exists(&grant.client_id).await? {
            return Ok(inactive);
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
            "aud": grant.resource.as_deref().unwrap_or(&grant.client_id),
            "iss": self.config.issuer,
        });
        if let Some(fields) = body.as_object_mut() {
            if access {
                fields.insert("token_type".into(), json!("Bearer"));
            }
            // A pairwise client must not learn an identifier common to every client (OpenID
            // Connect Core §8.1): no username for it; a client's own token has none.
            if grant.local_sub.is_some() || grant.username.is_empty() {
                fields.remove("username");
            }
        }
        Ok(Response::json(200, &body).no_store().cors())
    }
}
