//! ID tokens (OpenID Connect Core §2, §3.1.3.6): a JWS compact serialisation (RFC 7515
//! §7.1) signed with the client's `id_token_signed_response_alg` by that algorithm's signing
//! key, whose `kid` is in the header. Also the check of tokens this provider issued
//! ([`verify_own_token`]).

use crate::crypto::{b64url, b64url_decode, sha256, Alg, Crypto};
use crate::model::Grant;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

/// `at_hash` (§3.1.3.6): base64url of the left half of the hash of the access token, with
/// the hash of the ID token's `alg`: SHA-256 for RS256 and ES256, SHA-512 for EdDSA with
/// Ed25519 (the hash Ed25519 uses, RFC 8032 §5.1; OpenID Connect Core errata 2).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    match alg {
        Alg::RS256 | Alg::ES256 => b64url(&sha256(access_token.as_bytes())[..16]),
        Alg::EdDSA => {
            let h: [u8; 64] = Sha512::digest(access_token.as_bytes()).into();
            b64url(&h[..32])
        }
    }
}

pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub grant: &'a Grant,
    pub access_token: &'a str,
    pub now: i64,
    pub ttl: i64,
    /// The algorithm the token will be signed with (for `at_hash`).
    pub alg: Alg,
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
    if !i.grant.amr.is_empty() {
        c.insert("amr".into(), json!(i.grant.amr));
    }
    if let Some(acr) = &i.grant.acr {
        c.insert("acr".into(), json!(acr));
    }
    c.insert("at_hash".into(), json!(at_hash(i.alg, i.access_token)));
    match &i.grant.nonce {
        Some(n) => c.insert("nonce".into(), json!(n)),
        None => c.remove("nonce"),
    };
    c
}

/// Signs `claims` with the signing key of `alg`; its `kid` goes in the header.
pub async fn sign<K: Crypto>(crypto: &K, alg: Alg, claims: &Map<String, Value>) -> Result<String, String> {
    sign_jws(crypto, alg, "JWT", claims).await
}

/// Signs `claims` as a JWS of type `typ` (RFC 7515 §4.1.9: `JWT`, or `at+jwt` for an access
/// token, RFC 9068 §2.1).
pub async fn sign_jws<K: Crypto>(
    crypto: &K,
    alg: Alg,
    typ: &str,
    claims: &Map<String, Value>,
) -> Result<String, String> {
    let kid = crypto.signing_kid(alg).ok_or_else(|| format!("no {alg} signing key in SIGNING_KEYS"))?;
    let header = json!({"alg": alg.as_str(), "typ": typ, "kid": kid});
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(serde_json::to_string(claims).map_err(|e| e.to_string())?.as_bytes())
    );
    let sig = crypto.sign(alg, signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

fn json_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    b64url_decode(part).and_then(|b| serde_json::from_slice(&b).ok())
}

/// Checks that `jwt` is a token this provider issued: a compact JWS signed by one of the
/// published keys (found by `kid`; `alg` must be that key's), whose `iss` is `issuer`.
/// Returns its claims. `exp` is NOT checked: an `id_token_hint` may have expired (OpenID
/// Connect Core §3.1.2.1), as may the hint of RP-initiated logout; callers decide.
pub async fn verify_own_token<K: Crypto>(crypto: &K, issuer: &str, jwt: &str) -> Result<Map<String, Value>, String> {
    verify_own_jws(crypto, issuer, jwt, None).await
}

/// [`verify_own_token`] for a JWS of type `typ` (an access token: `at+jwt`); `None`: anything
/// but an access token, which is never taken for an ID token (RFC 9068 §4, RFC 8725 §3.11).
pub async fn verify_own_jws<K: Crypto>(
    crypto: &K,
    issuer: &str,
    jwt: &str,
    typ: Option<&str>,
) -> Result<Map<String, Value>, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header_b64, payload, signature] = parts.as_slice() else {
        return Err("not a compact JWS (three base64url parts separated by dots)".into());
    };
    let header: Map<String, Value> = json_part(header_b64).ok_or("the JWS header is not base64url-encoded JSON")?;
    // RFC 7515 §4.1.11: this provider never sets `crit`, so a token with it is not ours.
    if header.contains_key("crit") {
        return Err("the JWS header has a crit parameter".into());
    }
    let own_typ = header.get("typ").and_then(Value::as_str).map(|t| t.to_ascii_lowercase());
    let access = matches!(own_typ.as_deref(), Some("at+jwt" | "application/at+jwt"));
    match typ {
        Some(_) if !access => return Err("the token is not an access token (typ at+jwt)".into()),
        None if access => return Err("the token is an access token, not an ID token".into()),
        _ => {}
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or("the JWS header has no kid")?;
    let key_alg = crypto.key_alg(kid).ok_or("the token was not signed by a key of this provider (unknown kid)")?;
    // RFC 8725 §3.1: the algorithm is the key's, never the one the token names.
    if header.get("alg").and_then(Value::as_str) != Some(key_alg.as_str()) {
        return Err(format!("the JWS alg does not match its key's ({key_alg})"));
    }
    let sig = b64url_decode(signature).ok_or("the JWS signature is not base64url")?;
    let signing_input = format!("{header_b64}.{payload}");
    if !crypto.verify(kid, signing_input.as_bytes(), &sig).await? {
        return Err("the JWS signature does not verify".into());
    }
    let claims: Map<String, Value> = json_part(payload).ok_or("the JWS payload is not a JSON object")?;
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == issuer => Ok(claims),
        _ => Err("the token was not issued by this provider (iss)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_spec_example() {
        // OpenID Connect Core Appendix A.3 example (RS256, SHA-256 left half).
        assert_eq!(at_hash(Alg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash(Alg::ES256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
        // EdDSA: the left 32 bytes of SHA-512.
        let h: [u8; 64] = Sha512::digest(b"token").into();
        assert_eq!(at_hash(Alg::EdDSA, "token"), b64url(&h[..32]));
    }
}
