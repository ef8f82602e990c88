//! The signing key set: a JWK Set (RFC 7517 §5) of private keys kept in the `SIGNING_KEYS`
//! secret. Three kinds: RSA for RS256 (RFC 7518 §6.3), EC P-256 for ES256 (RFC 7518 §6.2),
//! OKP Ed25519 for EdDSA (RFC 8037 §2).
//!
//! Rotation without downtime: every key is published in the JWKS (public members only), so
//! a key can be published before it signs and after it stops. Per algorithm exactly one key
//! signs ([`PrivateJwkSet::signer`]): the one marked with the private member `"active": true`,
//! else the first of that algorithm not marked `"retired_at"`. A retired key never signs.

use crate::crypto::{b64url, b64url_decode, sha256};
pub use crate::crypto::{Alg, KeyInfo, PublicJwk};
#[cfg(not(target_arch = "wasm32"))]
pub mod native;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The key itself, by `kty`. Every member is base64url without padding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kty")]
pub enum KeyMaterial {
    /// RFC 7518 §6.3, with every CRT member (WebCrypto's JWK import needs them).
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String, d: String, p: String, q: String, dp: String, dq: String, qi: String },
    /// RFC 7518 §6.2; only `crv` P-256.
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String, d: String },
    /// RFC 8037 §2; only `crv` Ed25519.
    #[serde(rename = "OKP")]
    Okp { crv: String, x: String, d: String },
}

impl KeyMaterial {
    /// The algorithm this kind of key signs with, or why it is not supported.
    pub fn alg(&self) -> Result<Alg, String> {
        match self {
            KeyMaterial::Rsa { .. } => Ok(Alg::RS256),
            KeyMaterial::Ec { crv, .. } if crv == "P-256" => Ok(Alg::ES256),
            KeyMaterial::Okp { crv, .. } if crv == "Ed25519" => Ok(Alg::EdDSA),
            KeyMaterial::Ec { crv, .. } => Err(format!("EC curve '{crv}' is not supported (P-256 only)")),
            KeyMaterial::Okp { crv, .. } => Err(format!("OKP curve '{crv}' is not supported (Ed25519 only)")),
        }
    }

    pub fn kty(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::Ec { .. } => "EC",
            KeyMaterial::Okp { .. } => "OKP",
        }
    }

    /// The public members (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2), with `kty`.
    pub fn public(&self) -> Value {
        match self {
            KeyMaterial::Rsa { n, e, .. } => json!({"kty": "RSA", "n": n, "e": e}),
            KeyMaterial::Ec { crv, x, y, .. } => json!({"kty": "EC", "crv": crv, "x": x, "y": y}),
            KeyMaterial::Okp { crv, x, .. } => json!({"kty": "OKP", "crv": crv, "x": x}),
        }
    }

    /// RFC 7638 §3.2 JWK thumbprint (RFC 8037 §2 for OKP): SHA-256 of the required public
    /// members in lexicographic order, without whitespace; base64url.
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            KeyMaterial::Rsa { n, e, .. } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            KeyMaterial::Ec { crv, x, y, .. } => format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#),
            KeyMaterial::Okp { crv, x, .. } => format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{x}"}}"#),
        };
        b64url(&sha256(canonical.as_bytes()))
    }

    /// Decodes and checks the sizes of the members (a typo should fail at startup, not at
    /// the first signature).
    fn check(&self) -> Result<(), String> {
        let bytes = |name: &str, v: &str| b64url_decode(v).ok_or(format!("member {name} is not base64url"));
        let exact = |name: &str, v: &str, len: usize| match bytes(name, v)?.len() == len {
            true => Ok(()),
            false => Err(format!("member {name} must be {len} bytes")),
        };
        match self {
            KeyMaterial::Rsa { n, e, d, p, q, dp, dq, qi } => {
                if bytes("n", n)?.len() < 256 {
                    return Err("the RSA modulus must be at least 2048 bits".into());
                }
                for (name, v) in [("e", e), ("d", d), ("p", p), ("q", q), ("dp", dp), ("dq", dq), ("qi", qi)] {
                    bytes(name, v)?;
                }
                Ok(())
            }
            KeyMaterial::Ec { x, y, d, .. } => exact("x", x, 32).and(exact("y", y, 32)).and(exact("d", d, 32)),
            KeyMaterial::Okp { x, d, .. } => exact("x", x, 32).and(exact("d", d, 32)),
        }
    }
}

/// One private key as a JWK, with two private management members that are never published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrivateJwk {
    #[serde(flatten)]
    pub key: KeyMaterial,
    pub kid: String,
    /// Must match the key (RS256 for RSA, ES256 for EC P-256, EdDSA for OKP Ed25519);
    /// derived from it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<Alg>,
    #[serde(rename = "use", default = "default_use")]
    pub use_: String,
    /// Private member: this key signs for its algorithm.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub active: bool,
    /// Private member: seconds since the epoch when the key was retired; it stays
    /// published (tokens it signed still verify) but never signs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

fn default_use() -> String {
    "sig".into()
}

impl PrivateJwk {
    /// Zeroes and drops the private members.
    pub fn wipe_private(&mut self) {
        let wipe = |s: &mut String| std::mem::take(s).into_bytes().fill(0);
        match &mut self.key {
            KeyMaterial::Rsa { d, p, q, dp, dq, qi, .. } => [d, p, q, dp, dq, qi].into_iter().for_each(wipe),
            KeyMaterial::Ec { d, .. } | KeyMaterial::Okp { d, .. } => wipe(d),
        }
    }

    /// The key's algorithm (`parse` has checked that `alg`, when given, matches the key).
    pub fn alg(&self) -> Alg {
        self.alg.or_else(|| self.key.alg().ok()).unwrap_or_default()
    }

    /// The public JWK served in the JWKS: `kty`, `kid`, `use`, `alg` and the public members.
    pub fn public(&self) -> Value {
        let mut v = self.key.public();
        if let Some(o) = v.as_object_mut() {
            o.insert("kid".into(), json!(self.kid));
            o.insert("use".into(), json!(self.use_));
            o.insert("alg".into(), json!(self.alg().as_str()));
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivateJwkSet {
    pub keys: Vec<PrivateJwk>,
}

impl PrivateJwkSet {
    /// Parses and validates the `SIGNING_KEYS` secret: [`PrivateJwkSet::parse_any`], and an
    /// RS256 key must sign (OpenID Connect Discovery §3 requires RS256 among the ID token
    /// algorithms, and it is the clients' default, Registration §2).
    pub fn parse(json: &str) -> Result<Self, String> {
        let set = PrivateJwkSet::parse_any(json)?;
        if set.signer(Alg::RS256).is_none() {
            return Err("SIGNING_KEYS needs an RS256 (RSA) key that is not retired: RS256 is the default ID token algorithm (OpenID Connect Discovery §3)".into());
        }
        Ok(set)
    }

    /// Parses a key set and checks every key, without requiring an RS256 signer (the
    /// operator tool edits sets that are not complete yet).
    pub fn parse_any(json: &str) -> Result<Self, String> {
        let set: PrivateJwkSet = serde_json::from_str(json)
            .map_err(|e| format!("SIGNING_KEYS is not a JWK set of RSA, EC P-256 or OKP Ed25519 private keys: {e}"))?;
        set.validate()?;
        Ok(set)
    }

    /// Checks every key: kid present and unique, `alg` and `use` matching the key, members of
    /// the right size, at most one active key per algorithm, no active key retired.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys.is_empty() {
            return Err("SIGNING_KEYS holds no keys".into());
        }
        for (i, k) in self.keys.iter().enumerate() {
            let name = format!("SIGNING_KEYS key '{}'", k.kid);
            if k.kid.is_empty() {
                return Err("SIGNING_KEYS: every key needs a kid".into());
            }
            if self.keys.iter().take(i).any(|o| o.kid == k.kid) {
                return Err(format!("{name}: two keys have this kid"));
            }
            let alg = k.key.alg().map_err(|e| format!("{name}: {e}"))?;
            if k.alg.is_some_and(|a| a != alg) {
                return Err(format!("{name}: a {} key signs with {alg}, not {}", k.key.kty(), k.alg().as_str()));
            }
            if k.use_ != "sig" {
                return Err(format!("{name}: use must be sig"));
            }
            k.key.check().map_err(|e| format!("{name}: {e}"))?;
            if k.active && k.retired_at.is_some() {
                return Err(format!("{name}: a retired key cannot be active"));
            }
            if k.active && self.keys.iter().take(i).any(|o| o.active && o.alg() == alg) {
                return Err(format!("{name}: only one {alg} key may be active"));
            }
        }
        Ok(())
    }

    /// The key that signs `alg`: the active one, else the first of that algorithm that is
    /// not retired (sets written before `active` existed keep working).
    pub fn signer(&self, alg: Alg) -> Option<&PrivateJwk> {
        let of_alg = || self.keys.iter().filter(move |k| k.alg() == alg);
        of_alg().find(|k| k.active).or_else(|| of_alg().find(|k| k.retired_at.is_none()))
    }

    pub fn get(&self, kid: &str) -> Option<&PrivateJwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Zeroes and drops the private members of key `kid` (once the runtime holds it as a
    /// non-extractable key); its public members stay, for verification and the JWKS.
    pub fn forget_private(&mut self, kid: &str) {
        if let Some(k) = self.keys.iter_mut().find(|k| k.kid == kid) {
            k.wipe_private();
        }
    }

    /// Every key: its kid, algorithm and whether it is its algorithm's signer.
    pub fn infos(&self) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                alg: k.alg(),
                signs: self.signer(k.alg()).is_some_and(|s| s.kid == k.kid),
            })
            .collect()
    }

    /// The algorithms that have a signing key, in [`Alg::ALL`] order (RS256 first).
    pub fn signing_algs(&self) -> Vec<Alg> {
        Alg::ALL.into_iter().filter(|a| self.signer(*a).is_some()).collect()
    }

    /// The public JWK Set served at the JWKS endpoint: every key, public members only.
    pub fn public_jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(PrivateJwk::public).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
pub(crate) mod test_key {
    //! Fixed test keys, generated once by `oidc-admin keys generate` / `keys add`.
    /// One 2048-bit RSA key.
    pub const JWKS: &str = include_str!("../tests/fixtures/test-signing-keys.json");
    /// An active RS256 key, a retired RS256 key (listed first), an ES256 and an EdDSA key.
    pub const MULTI: &str = include_str!("../tests/fixtures/test-signing-keys-multi.json");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: Value) -> Result<PrivateJwkSet, String> {
        PrivateJwkSet::parse(&json!({ "keys": keys }).to_string())
    }

    fn fixture() -> Vec<Value> {
        let v: Value = serde_json::from_str(test_key::MULTI).unwrap();
        v["keys"].as_array().unwrap().clone()
    }

    #[test]
    fn private_members_can_be_dropped_keeping_the_public_ones() {
        let mut set = PrivateJwkSet::parse(test_key::MULTI).unwrap();
        let public_before = set.public_jwks();
        let kids: Vec<String> = set.keys.iter().map(|k| k.kid.clone()).collect();
        for kid in &kids {
            set.forget_private(kid);
        }
        for k in &set.keys {
            let d = match &k.key {
                KeyMaterial::Rsa { d, p, qi, .. } => [d, p, qi].iter().all(|s| s.is_empty()),
                KeyMaterial::Ec { d, .. } | KeyMaterial::Okp { d, .. } => d.is_empty(),
            };
            assert!(d, "{} keeps a private member", k.kid);
        }
        assert_eq!(set.public_jwks(), public_before, "the JWKS is unchanged");
    }

    #[test]
    fn rfc7638_and_rfc8037_thumbprints() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let s = String::new;
        let rsa = KeyMaterial::Rsa { n: n.into(), e: "AQAB".into(), d: s(), p: s(), q: s(), dp: s(), dq: s(), qi: s() };
        assert_eq!(rsa.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        // RFC 8037 Appendix A.3.
        let okp =
            KeyMaterial::Okp { crv: "Ed25519".into(), x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(), d: s() };
        assert_eq!(okp.thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn signer_per_alg_active_then_first_not_retired() {
        let keys = fixture();
        let s = set(Value::Array(keys.clone())).unwrap();
        // The fixture lists a retired RS256 key first, then the active one.
        assert!(s.keys[0].retired_at.is_some());
        let rs = s.signer(Alg::RS256).unwrap();
        assert!(rs.active && rs.kid != s.keys[0].kid);
        assert_eq!(s.signing_algs(), Alg::ALL.to_vec());
        let infos = s.infos();
        assert_eq!(infos.iter().filter(|i| i.signs).count(), 3);
        assert!(!infos[0].signs);

        // Without `active`, the first key that is not retired signs (old single-key sets).
        let mut plain = keys.clone();
        for k in &mut plain {
            k.as_object_mut().unwrap().remove("active");
        }
        let s2 = set(Value::Array(plain.clone())).unwrap();
        assert_eq!(s2.signer(Alg::RS256).unwrap().kid, rs.kid);
        // An active key wins over an earlier one.
        plain[0].as_object_mut().unwrap().remove("retired_at");
        let s3 = set(Value::Array(plain.clone())).unwrap();
        assert_eq!(s3.signer(Alg::RS256).unwrap().kid, s.keys[0].kid);
        plain[1]["active"] = json!(true);
        assert_eq!(set(Value::Array(plain)).unwrap().signer(Alg::RS256).unwrap().kid, rs.kid);
    }

    #[test]
    fn jwks_publishes_every_key_without_private_members() {
        let s = set(Value::Array(fixture())).unwrap();
        let jwks = s.public_jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 4);
        for k in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi", "active", "retired_at"] {
                assert!(k.get(private).is_none(), "JWKS leaks {private}: {k}");
            }
            assert_eq!(k["use"], "sig");
            let expected: &[&str] = match k["kty"].as_str().unwrap() {
                "RSA" => &["alg", "e", "kid", "kty", "n", "use"],
                "EC" => &["alg", "crv", "kid", "kty", "use", "x", "y"],
                _ => &["alg", "crv", "kid", "kty", "use", "x"],
            };
            let mut members: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
            members.sort();
            assert_eq!(members, expected);
        }
        assert_eq!(keys[2]["alg"], "ES256");
        assert_eq!(keys[2]["crv"], "P-256");
        assert_eq!(keys[3]["alg"], "EdDSA");
        assert_eq!(keys[3]["crv"], "Ed25519");
    }

    #[test]
    fn invalid_sets_are_refused_with_a_reason() {
        let keys = fixture();
        let with = |i: usize, f: &dyn Fn(&mut Value)| {
            let mut k = keys.clone();
            f(&mut k[i]);
            set(Value::Array(k)).unwrap_err()
        };
        assert!(with(2, &|k| k["alg"] = json!("RS256")).contains("signs with ES256"));
        assert!(with(2, &|k| k["crv"] = json!("P-384")).contains("P-256 only"));
        assert!(with(3, &|k| k["crv"] = json!("X25519")).contains("Ed25519 only"));
        assert!(with(3, &|k| k["x"] = json!("AAAA")).contains("32 bytes"));
        assert!(with(2, &|k| k["alg"] = json!("HS256")).contains("unsupported JWS algorithm"));
        assert!(with(0, &|k| k["active"] = json!(true)).contains("retired key cannot be active"));
        assert!(with(2, &|k| k["kid"] = keys[3]["kid"].clone()).contains("two keys"));
        assert!(with(2, &|k| k["use"] = json!("enc")).contains("use must be sig"));
        let mut two_active = keys.clone();
        two_active[0].as_object_mut().unwrap().remove("retired_at");
        two_active[0]["active"] = json!(true);
        assert!(set(Value::Array(two_active)).unwrap_err().contains("only one RS256"));
        // No RS256 signer: refused by the worker, accepted by the tool.
        assert!(set(Value::Array(keys[2..].to_vec())).unwrap_err().contains("RS256"));
        assert!(PrivateJwkSet::parse_any(&json!({ "keys": keys[2..] }).to_string()).is_ok());
        assert!(set(json!([])).unwrap_err().contains("no keys"));
        assert!(set(json!([{"kty": "oct", "kid": "x", "k": "AA"}])).is_err());
    }

    #[test]
    fn public_keys_of_every_kind_and_nothing_private() {
        let set = PrivateJwkSet::parse(test_key::MULTI).unwrap();
        let public = set.public_jwks();
        let keys = crate::crypto::PublicJwk::parse_set(&public).unwrap();
        assert_eq!(keys.iter().map(|k| k.alg).collect::<Vec<_>>(), [Alg::RS256, Alg::RS256, Alg::ES256, Alg::EdDSA]);
        // The private key set itself is refused.
        let private: Value = serde_json::from_str(test_key::MULTI).unwrap();
        let e = crate::crypto::PublicJwk::parse_set(&private).unwrap_err();
        assert!(e.contains("private members"), "{e}");
        let es = keys.iter().find(|k| k.alg == Alg::ES256).unwrap();
        assert_eq!(crate::crypto::PublicJwk::select(&keys, es.kid.as_deref(), Alg::ES256), Some(es));
        assert_eq!(crate::crypto::PublicJwk::select(&keys, None, Alg::ES256), Some(es), "the only ES256 key");
        assert_eq!(
            crate::crypto::PublicJwk::select(&keys, None, Alg::RS256),
            None,
            "two RS256 keys: the kid must say which"
        );
        assert_eq!(crate::crypto::PublicJwk::select(&keys, Some("nope"), Alg::ES256), None);
        let bad = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]});
        assert!(crate::crypto::PublicJwk::parse_set(&bad).is_err());
        let wrong_alg = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": es_x(), "alg": "ES256"});
        assert!(crate::crypto::PublicJwk::parse(&wrong_alg).unwrap_err().contains("signs EdDSA"));
    }

    fn es_x() -> String {
        crate::crypto::b64url(&[7u8; 32])
    }
}
