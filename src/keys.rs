//! The signing key set: a JWK Set (RFC 7517 §5) of RSA private keys, kept in the
//! `SIGNING_KEYS` secret. The first key signs; every key is published in the JWKS
//! (public members only) so that a newly added key can be published before it signs.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One RSA private key as a JWK (RFC 7518 §6.3). All CRT members are required because
/// WebCrypto's JWK import needs them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrivateJwk {
    pub kty: String,
    pub kid: String,
    #[serde(default = "default_alg")]
    pub alg: String,
    #[serde(rename = "use", default = "default_use")]
    pub use_: String,
    pub n: String,
    pub e: String,
    pub d: String,
    pub p: String,
    pub q: String,
    pub dp: String,
    pub dq: String,
    pub qi: String,
}

fn default_alg() -> String {
    "RS256".into()
}
fn default_use() -> String {
    "sig".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivateJwkSet {
    pub keys: Vec<PrivateJwk>,
}

impl PrivateJwkSet {
    /// Parses and validates the `SIGNING_KEYS` secret.
    pub fn parse(json: &str) -> Result<Self, String> {
        let set: PrivateJwkSet = serde_json::from_str(json)
            .map_err(|e| format!("SIGNING_KEYS is not a JWK set of RSA private keys: {e}"))?;
        if set.keys.is_empty() {
            return Err("SIGNING_KEYS holds no keys".into());
        }
        for k in &set.keys {
            if k.kty != "RSA" || k.alg != "RS256" || k.use_ != "sig" {
                return Err(format!("SIGNING_KEYS key '{}': only kty RSA, alg RS256, use sig is supported", k.kid));
            }
            if k.kid.is_empty() {
                return Err("SIGNING_KEYS: every key needs a kid".into());
            }
        }
        Ok(set)
    }

    /// The key that signs new tokens (the first; `parse` guarantees there is one).
    pub fn active(&self) -> Option<&PrivateJwk> {
        self.keys.first()
    }

    /// The public JWK Set served at the JWKS endpoint: `kty`, `kid`, `use`, `alg`, `n`, `e`.
    pub fn public_jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| json!({"kty": k.kty, "kid": k.kid, "use": k.use_, "alg": k.alg, "n": k.n, "e": k.e}))
            .collect();
        json!({ "keys": keys })
    }
}

#[cfg(test)]
pub(crate) mod test_key {
    //! A fixed 2048-bit test key, generated once by `oidc-admin keys generate`.
    pub const JWKS: &str = include_str!("../tests/fixtures/test-signing-keys.json");
}
