//! Access tokens. Opaque by default: `<grant id>.<256-bit secret>`, of which the grant's
//! object keeps the SHA-256; resource servers introspect them (RFC 7662). For a resource whose
//! record says `jwt`: an RFC 9068 JWT access token (`typ: at+jwt`) a resource server checks on
//! its own with the JWKS, signed RS256 by the active key. Its `jti` is `<grant id>.<hash>`: the
//! grant's object finds the token by it (introspection, revocation), and the token's secret
//! never leaves the provider, so a JWT cannot be turned into an opaque token.

use super::failure::Failure;
use super::id_token;
use super::{Backend, Provider};
use crate::crypto::Alg;
use crate::model::grant::split_handle;
use crate::model::{Grant, TokenFormat};
use crate::objects::grant::secret_hash;
use serde_json::{json, Map, Value};

/// RFC 9068 §2.1: the JWT access token's `typ`.
pub const AT_JWT: &str = "at+jwt";

/// A presented access (or refresh) token, as the grant's object knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRef {
    pub grant_id: String,
    /// The SHA-256 of its secret, as the object stores it.
    pub hash: String,
    /// A JWT access token (its claims checked: ours, signed, `at+jwt`).
    pub jwt: bool,
}

impl<B: Backend> Provider<'_, B> {
    /// The access token for `grant` with secret `secret` in the grant `grant_id`: the opaque
    /// handle, or the JWT (RFC 9068 §2.2) its resource asks for.
    pub async fn access_token(
        &self,
        grant_id: &str,
        secret: &str,
        grant: &Grant,
        expires_at: i64,
    ) -> Result<String, Failure> {
        let (TokenFormat::Jwt, Some(resource)) = (grant.access_token_format, &grant.resource) else {
            return Ok(format!("{grant_id}.{secret}"));
        };
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.config.issuer));
        c.insert("exp".into(), json!(expires_at));
        c.insert("aud".into(), json!(resource));
        c.insert("sub".into(), json!(grant.sub));
        c.insert("client_id".into(), json!(grant.client_id));
        c.insert("iat".into(), json!(self.now));
        c.insert("jti".into(), json!(format!("{grant_id}.{}", secret_hash(secret))));
        c.insert("scope".into(), json!(grant.scope));
        if !grant.is_client_credentials() {
            c.insert("auth_time".into(), json!(grant.auth_time));
        }
        id_token::sign_jws(self.crypto, Alg::RS256, AT_JWT, &c)
            .await
            .map_err(|e| Failure::unavailable(format!("signing an access token failed: {e}")))
    }

    /// What the grant's object knows a presented token by: an opaque handle's id and the
    /// hash of its secret, or a JWT access token's `jti` (after checking that the JWT is one
    /// of ours). `None` for anything else.
    pub async fn token_ref(&self, token: &str) -> Option<TokenRef> {
        if token.matches('.').count() == 2 {
            let claims = id_token::verify_own_jws(self.crypto, &self.config.issuer, token, Some(AT_JWT)).await.ok()?;
            let jti = claims.get("jti").and_then(Value::as_str)?;
            let (grant_id, hash) = jti.split_once('.')?;
            let ok = crate::model::grant::is_grant_id(grant_id) && crate::model::grant::is_b64url(hash, 43, 43);
            return ok.then(|| TokenRef { grant_id: grant_id.to_string(), hash: hash.to_string(), jwt: true });
        }
        let (grant_id, secret) = split_handle(token)?;
        Some(TokenRef { grant_id: grant_id.to_string(), hash: secret_hash(secret), jwt: false })
    }
}
