//! `private_key_jwt` (RFC 7523 §2.2, §3; OpenID Connect Core §9): the client signs a short
//! JWT with one of its keys. Checked here: the signature (by the key its `kid` names, with
//! that key's algorithm, RFC 8725 §3.1), `iss` and `sub` the client, `aud` this provider (its
//! issuer, as draft-ietf-oauth-rfc7523bis asks, or the endpoint called), `exp` soon, and `jti`
//! used once: remembered in a Durable Object until the assertion expires.

use super::client_auth::AuthError;
use crate::crypto::{b64url, b64url_decode, sha256, Alg, Crypto, PublicJwk};
use crate::error::OAuthError;
use crate::http::Request;
use crate::model::Client;
use crate::objects::grant::{Reserve, ReserveReply};
use crate::protocol::clients::ClientError;
use crate::protocol::discovery::TOKEN_PATH;
use crate::protocol::failure::Failure;
use crate::protocol::{Backend, Provider};
use crate::store::GrantStore;
use serde_json::{Map, Value};

/// The longest an assertion may live (its `exp` after now): a few minutes is what clients use.
pub const MAX_LIFETIME: i64 = 600;
/// Clock difference tolerated between the client and the provider.
pub const LEEWAY: i64 = 60;

pub enum AssertionError {
    /// Not a valid assertion: `invalid_client`.
    Refused(AuthError),
    /// The client's keys or the `jti` store could not be reached.
    Failed(Failure),
}

fn json_part(part: &str) -> Option<Map<String, Value>> {
    b64url_decode(part).and_then(|b| serde_json::from_slice(&b).ok())
}

/// The `sub` of an assertion, before anything is checked: which client it claims to be.
pub fn unverified_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    json_part(payload)?.get("sub")?.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The object that remembers a client's used `jti` (no name from the assertion itself).
pub fn jti_object(client_id: &str, jti: &str) -> String {
    format!("assertion:{}", b64url(&sha256(format!("{client_id}\0{jti}").as_bytes())))
}

impl<B: Backend> Provider<'_, B> {
    pub(super) async fn check_assertion(
        &self,
        client: &Client,
        jwt: &str,
        req: &Request,
    ) -> Result<(), AssertionError> {
        let refuse = |d: &str| {
            AssertionError::Refused(AuthError {
                error: OAuthError::invalid_client(format!("client_assertion: {d}")),
                basic: false,
                unknown: false,
                detail: None,
            })
        };
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header_b64, payload_b64, sig_b64] = parts.as_slice() else { return Err(refuse("not a compact JWS")) };
        let header = json_part(header_b64).ok_or_else(|| refuse("the header is not base64url JSON"))?;
        let claims = json_part(payload_b64).ok_or_else(|| refuse("the payload is not base64url JSON"))?;
        if header.contains_key("crit") {
            return Err(refuse("the header has a crit parameter"));
        }
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => Alg::RS256,
            Some("ES256") => Alg::ES256,
            Some("EdDSA") => Alg::EdDSA,
            _ => return Err(refuse("alg must be RS256, ES256 or EdDSA")),
        };
        let keys = self.client_keys(client).await.map_err(|e| match e {
            ClientError::Store(e) => AssertionError::Failed(e.into()),
            ClientError::Unusable(m) => AssertionError::Refused(AuthError {
                error: OAuthError::invalid_client(m.clone()),
                basic: false,
                unknown: false,
                detail: Some(m),
            }),
        })?;
        let kid = header.get("kid").and_then(Value::as_str);
        let key =
            PublicJwk::select(&keys, kid, alg).ok_or_else(|| refuse("no key of the client matches its kid and alg"))?;
        let sig = b64url_decode(sig_b64).ok_or_else(|| refuse("the signature is not base64url"))?;
        let signing_input = format!("{header_b64}.{payload_b64}");
        match self.crypto.verify_with(key, signing_input.as_bytes(), &sig).await {
            Ok(true) => {}
            Ok(false) => return Err(refuse("the signature does not verify")),
            Err(e) => return Err(AssertionError::Failed(Failure::unavailable(format!("verifying an assertion: {e}")))),
        }
        // RFC 7523 §3: the claims.
        let s = |k: &str| claims.get(k).and_then(Value::as_str);
        if s("iss") != Some(client.client_id.as_str()) || s("sub") != Some(client.client_id.as_str()) {
            return Err(refuse("iss and sub must be the client_id"));
        }
        // draft-ietf-oauth-rfc7523bis: one audience, this provider (a list could name another
        // server too: an assertion made for it would be accepted here).
        let ours = [self.config.issuer.clone(), self.config.endpoint(TOKEN_PATH), self.config.endpoint(&req.path)];
        match claims.get("aud").and_then(Value::as_str) {
            Some(a) if ours.iter().any(|o| o == a) => {}
            _ => return Err(refuse("aud must be one string: this provider's issuer (or the endpoint called)")),
        }
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| refuse("exp is required"))?;
        if exp + LEEWAY <= self.now {
            return Err(refuse("the assertion has expired"));
        }
        if exp > self.now + MAX_LIFETIME {
            return Err(refuse("exp is too far ahead: an assertion lives a few minutes"));
        }
        for early in ["nbf", "iat"] {
            if claims.get(early).and_then(Value::as_i64).is_some_and(|t| t > self.now + LEEWAY) {
                return Err(refuse("the assertion is not valid yet (nbf or iat in the future)"));
            }
        }
        let jti = s("jti").filter(|j| !j.is_empty() && j.len() <= 256).ok_or_else(|| refuse("jti is required"))?;
        // Single use (RFC 7523 §3 item 7): the jti is reserved until the assertion expires.
        let reserve = Reserve { expires_at: exp + LEEWAY };
        match self.grants.send(&jti_object(&client.client_id, jti), reserve).await {
            Ok(ReserveReply::Reserved) => Ok(()),
            Ok(ReserveReply::Conflict) => Err(refuse("this assertion was used before (its jti)")),
            Err(e) => Err(AssertionError::Failed(e.into())),
        }
    }
}
