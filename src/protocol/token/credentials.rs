//! The client credentials grant (RFC 6749 §4.4): a confidential client's own access token,
//! for a resource (RFC 8707) and the API scopes its record lists. No user, so no ID token, no
//! refresh token (§4.4.3); the grant's object is created with its one token, so that
//! introspection and revocation treat it like any other.

use super::Issued;
use crate::crypto::random_token;
use crate::error::OAuthError;
use crate::http::Params;
use crate::model::{scope, Client, Grant, Resource};
use crate::objects::grant::{secret_hash, Mint, MintReply};
use crate::protocol::failure::Failure;
use crate::protocol::{random, Backend, Provider};
use crate::store::GrantStore;

impl<B: Backend> Provider<'_, B> {
    pub(super) async fn client_credentials_grant(&self, form: &Params, client: &Client) -> Result<Issued, Failure> {
        // The resource asked for, or the one the client's record names.
        let named = form.get("resource").or(match client.resources.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        });
        // A client's own token is for an API: RFC 6749 §4.4 ("resources ... previously arranged").
        let Some(resource) = self.resource_for(client, named).await? else {
            return Err(OAuthError::invalid_target("name the resource (RFC 8707) the token is for").into());
        };
        let resource = Some(resource);
        let scope = granted_scope(client, resource.as_ref(), form.get("scope"))?;
        let grant = Grant {
            client_id: client.client_id.clone(),
            redirect_uri: String::new(),
            scope,
            nonce: None,
            code_challenge: None,
            code_challenge_method: None,
            // RFC 9068 §2.2: the client itself is the subject.
            sub: client.client_id.clone(),
            local_sub: None,
            username: String::new(),
            auth_time: self.now,
            id_token_claims: Default::default(),
            userinfo_claims: vec![],
            custom_scopes: Default::default(),
            resource: resource.as_ref().map(|r| r.resource.clone()),
            access_token_ttl: resource.as_ref().and_then(|r| r.access_token_ttl_seconds),
            access_token_format: resource.as_ref().map(|r| r.access_token_format).unwrap_or_default(),
            amr: vec![],
            acr: None,
        };
        let grant_id = random(random_token::<16>())?;
        let secret = random(random_token::<32>())?;
        let expires_at = self.access_expires_at(&grant);
        let mint = Mint {
            grant: Box::new(grant.clone()),
            access_token_hash: secret_hash(&secret),
            access_expires_at: expires_at,
        };
        match self.grants.send(&grant_id, mint).await? {
            MintReply::Minted => {}
            MintReply::Conflict => return Err(Failure::unavailable("client credentials: a new grant id was taken")),
        }
        let access_token = self.access_token(&grant_id, &secret, &grant, expires_at).await?;
        Ok(Issued {
            access_token,
            expires_in: expires_at - self.now,
            refresh_token: None,
            id_token: None,
            scope: grant.scope,
        })
    }
}

/// The scope of a client's own token: what it asks for (all of it granted, or `invalid_scope`),
/// else every scope its record lists that the resource defines. OpenID Connect's scopes are
/// about a user: none here.
fn granted_scope(client: &Client, resource: Option<&Resource>, asked: Option<&str>) -> Result<String, Failure> {
    let usable =
        |s: &str| !scope::is_supported(s) && client.allows_scope(s) && resource.is_none_or(|r| r.scope(s).is_some());
    let scopes: Vec<&str> = match asked {
        Some(asked) => {
            let mut v: Vec<&str> = vec![];
            for s in asked.split(' ').filter(|s| !s.is_empty()) {
                if !usable(s) {
                    let d = "a requested scope is not one this client may have for itself (its record's scope, defined by the resource)";
                    return Err(OAuthError::invalid_scope(d).into());
                }
                if !v.contains(&s) {
                    v.push(s);
                }
            }
            v
        }
        None => client.scope.split(' ').filter(|s| !s.is_empty() && usable(s)).collect(),
    };
    Ok(scopes.join(" "))
}
