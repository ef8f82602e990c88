//! Other parties' public keys as JWKs (RFC 7517): a client's keys for `private_key_jwt`
//! (RFC 7523, OpenID Connect Core §9), from its record's `jwks` or its `jwks_uri`. The same
//! three kinds as our own keys; a key with private members is refused, never used.

use super::{b64url_decode, Alg};
use serde_json::Value;

/// A public key and the algorithm it verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub kid: Option<String>,
    pub alg: Alg,
    pub key: PublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RFC 7518 §6.3.1: modulus and exponent, base64url.
    Rsa { n: String, e: String },
    /// RFC 7518 §6.2.1, P-256.
    Ec { x: String, y: String },
    /// RFC 8037 §2, Ed25519.
    Ed25519 { x: String },
}

/// Members that only a private key has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl PublicJwk {
    /// One key of a JWK Set. Keys for other uses (`use` other than `sig`) are not for us.
    pub fn parse(v: &Value) -> Result<PublicJwk, String> {
        let s = |name: &str| v.get(name).and_then(Value::as_str);
        let member = |name: &str| s(name).map(str::to_string).ok_or(format!("the key has no '{name}'"));
        if PRIVATE_MEMBERS.iter().any(|m| v.get(m).is_some()) {
            return Err("the key has private members: publish public keys only".into());
        }
        if s("use").is_some_and(|u| u != "sig") {
            return Err("the key's 'use' is not 'sig'".into());
        }
        let sized = |name: &str, len: usize| -> Result<String, String> {
            let m = member(name)?;
            match b64url_decode(&m) {
                Some(b) if b.len() == len => Ok(m),
                _ => Err(format!("the key's '{name}' must be {len} bytes, base64url")),
            }
        };
        let (alg, key) = match s("kty") {
            Some("RSA") => {
                let n = member("n")?;
                if b64url_decode(&n).is_none_or(|b| b.len() < 256) {
                    return Err("the RSA modulus must be at least 2048 bits, base64url".into());
                }
                let e = member("e")?;
                b64url_decode(&e).filter(|b| !b.is_empty() && b.len() <= 8).ok_or("the RSA exponent is malformed")?;
                (Alg::RS256, PublicKey::Rsa { n, e })
            }
            Some("EC") if s("crv") == Some("P-256") => {
                (Alg::ES256, PublicKey::Ec { x: sized("x", 32)?, y: sized("y", 32)? })
            }
            Some("OKP") if s("crv") == Some("Ed25519") => (Alg::EdDSA, PublicKey::Ed25519 { x: sized("x", 32)? }),
            Some(kty) => {
                return Err(format!("key type '{kty}' with this curve is not supported (RSA, EC P-256, OKP Ed25519)"))
            }
            None => return Err("the key has no 'kty'".into()),
        };
        if let Some(a) = s("alg") {
            if a != alg.as_str() {
                return Err(format!("the key's 'alg' is '{a}', but such a key signs {alg}"));
            }
        }
        Ok(PublicJwk { kid: s("kid").map(str::to_string), alg, key })
    }

    /// Every key of a JWK Set (RFC 7517 §5); at least one, at most 10.
    pub fn parse_set(set: &Value) -> Result<Vec<PublicJwk>, String> {
        let keys = set.get("keys").and_then(Value::as_array).ok_or("a JWK Set is an object with 'keys', an array")?;
        if keys.is_empty() || keys.len() > 10 {
            return Err("a client's JWK Set holds 1-10 keys".into());
        }
        keys.iter().enumerate().map(|(i, k)| PublicJwk::parse(k).map_err(|e| format!("key {i}: {e}"))).collect()
    }

    /// The key as a JWK (public members, `kid` if any).
    pub fn to_jwk(&self) -> Value {
        let mut v = match &self.key {
            PublicKey::Rsa { n, e } => serde_json::json!({"kty": "RSA", "n": n, "e": e}),
            PublicKey::Ec { x, y } => serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            PublicKey::Ed25519 { x } => serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
        };
        if let (Some(kid), Some(o)) = (&self.kid, v.as_object_mut()) {
            o.insert("kid".into(), Value::String(kid.clone()));
        }
        v
    }

    /// The key of `keys` a JWS with header `kid` and `alg` was signed with: the one with that
    /// kid, else the only key of that algorithm.
    pub fn select<'k>(keys: &'k [PublicJwk], kid: Option<&str>, alg: Alg) -> Option<&'k PublicJwk> {
        let mut of_alg = keys.iter().filter(|k| k.alg == alg);
        match kid {
            Some(kid) => of_alg.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let first = of_alg.next()?;
                of_alg.next().is_none().then_some(first)
            }
        }
    }
}
