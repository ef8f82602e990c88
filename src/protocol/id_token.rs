//! ID tokens (OpenID Connect Core §2, §3.1.3.6): a JWS compact serialisation signed RS256
//! with the active key's `kid`.

use crate::crypto::{b64url, sha256, Crypto};
use crate::model::Grant;
use serde_json::{json, Map, Value};

/// `at_hash`: base64url of the left half of SHA-256 of the access token (§3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let h = sha256(access_token.as_bytes());
    b64url(&h[..16])
}

pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub grant: &'a Grant,
    pub access_token: &'a str,
    pub now: i64,
    pub ttl: i64,
}

/// The claim set. Scope claims first, then the registered claims, which therefore can
/// never be overridden by user data.
pub fn claims(i: &IdTokenInput<'_>) -> Map<String, Value> {
    let mut c = i.grant.id_token_claims.clone();
    c.insert("iss".into(), json!(i.issuer));
    c.insert("sub".into(), json!(i.grant.sub));
    c.insert("aud".into(), json!(i.grant.client_id));
    c.insert("azp".into(), json!(i.grant.client_id));
    c.insert("exp".into(), json!(i.now + i.ttl));
    c.insert("iat".into(), json!(i.now));
    c.insert("auth_time".into(), json!(i.grant.auth_time));
    c.insert("at_hash".into(), json!(at_hash(i.access_token)));
    match &i.grant.nonce {
        Some(n) => c.insert("nonce".into(), json!(n)),
        None => c.remove("nonce"),
    };
    c
}

pub async fn sign<K: Crypto>(crypto: &K, kid: &str, claims: &Map<String, Value>) -> Result<String, String> {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let sig = crypto.sign_rs256(signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_spec_example() {
        // OpenID Connect Core Appendix A.3 example (RS256, SHA-256 left half).
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
