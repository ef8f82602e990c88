//! UserInfo endpoint (OpenID Connect Core §5.3) with Bearer tokens (RFC 6750).

use super::failure::Failure;
use super::{Backend, Provider};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Request, Response};
use crate::model::grant::split_handle;
use crate::objects::grant::{secret_hash, Access, AccessReply};
use crate::store::{GrantStore, UserStore};
use serde_json::Value;

/// RFC 6750 §3: the challenge. A request with no credentials gets none of the error
/// attributes (§3.1); one with a bad token gets `error="invalid_token"`.
fn challenge(err: Option<&OAuthError>) -> String {
    match err {
        None => "Bearer".to_string(),
        Some(e) => format!(
            "Bearer error=\"{}\", error_description=\"{}\"",
            e.code.as_str(),
            e.description.replace(['"', '\\'], "'")
        ),
    }
}

fn unauthorized(err: OAuthError) -> Failure {
    let challenge = challenge(Some(&err));
    Failure::json(err).with_header("www-authenticate", challenge)
}

impl<B: Backend> Provider<'_, B> {
    pub async fn userinfo(&self, req: &Request) -> Result<Response, Failure> {
        let header = req.header("authorization").map(str::trim);
        let body_token = if req.method == "POST" && req.is_form() {
            req.form()?.get("access_token").map(str::to_string)
        } else {
            None
        };
        let token = match (header, body_token) {
            // RFC 6750 §2: one method only.
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request("send the access token in one place only").into())
            }
            (Some(h), None) => match h.split_once(' ') {
                Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim().to_string(),
                _ => {
                    return Err(unauthorized(OAuthError::invalid_token(
                        "the Authorization header is not a Bearer token",
                    )))
                }
            },
            (None, Some(t)) => t,
            (None, None) => {
                // RFC 6750 §3.1: no credentials, no error code — just the challenge.
                return Ok(Response { status: 401, headers: vec![], body: vec![] }
                    .with_header("www-authenticate", &challenge(None))
                    .no_store()
                    .cors());
            }
        };
        let (grant_id, secret) = split_handle(&token)
            .ok_or_else(|| unauthorized(OAuthError::invalid_token("the access token is invalid")))?;
        let grant = match self.grants.send(grant_id, Access { token_hash: secret_hash(secret) }).await? {
            AccessReply::Active { grant, .. } => grant,
            AccessReply::InvalidToken { description } => {
                return Err(unauthorized(OAuthError::invalid_token(description)))
            }
        };
        // Only an OpenID Connect grant's token reads the user's claims (RFC 6750 §3.1:
        // 403 insufficient_scope); a token for a resource server is for that server alone.
        if !grant.is_openid() {
            let e =
                OAuthError::new(ErrorCode::InsufficientScope, "userinfo needs an access token with the openid scope");
            let challenge = format!("{}, scope=\"openid\"", challenge(Some(&e)));
            return Err(Failure::json(e).with_header("www-authenticate", challenge));
        }
        if !self.client_exists(&grant.client_id).await? {
            return Err(unauthorized(OAuthError::invalid_token("the client the token was issued to no longer exists")));
        }
        if grant.resource.is_some() {
            return Err(unauthorized(OAuthError::invalid_token(
                "the access token is for a resource server, not for userinfo",
            )));
        }
        // Fresh claims from the user record; a removed or re-created user has no access.
        let user = match self.users.by_username(&grant.username).await {
            Ok(Some(u)) if u.sub == *grant.local_sub.as_ref().unwrap_or(&grant.sub) => u,
            Ok(_) => return Err(unauthorized(OAuthError::invalid_token("the user no longer exists"))),
            Err(StoreError::Malformed(m)) => {
                return Err(unauthorized(OAuthError::invalid_token("the user's record cannot be read")).logged(m))
            }
            Err(e) => return Err(e.into()),
        };
        let mut claims = if grant.userinfo_claims.is_empty() {
            user.claims_for_scopes(grant.scopes())
        } else {
            user.claims_named(grant.userinfo_claims.iter().map(String::as_str))
        };
        // The sub this client knows the user by (pairwise or public).
        claims.insert("sub".into(), Value::String(grant.sub.clone()));
        Ok(Response::json(200, &claims).no_store().cors())
    }
}
