//! The JWS algorithms the provider signs with, and what the signer says of each key.

use serde::{Deserialize, Serialize};

/// A JWS algorithm this provider signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: the default (OpenID Connect Registration §2).
    #[default]
    RS256,
    /// ECDSA on P-256 with SHA-256; the signature is r || s (RFC 7518 §3.4).
    ES256,
    /// Ed25519 (RFC 8037 §3.1).
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn is_default(&self) -> bool {
        *self == Alg::RS256
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Alg {
    type Error = String;
    fn try_from(s: String) -> Result<Alg, String> {
        Alg::parse(&s).ok_or_else(|| format!("unsupported JWS algorithm '{s}' (supported: RS256, ES256, EdDSA)"))
    }
}

impl From<Alg> for &'static str {
    fn from(a: Alg) -> &'static str {
        a.as_str()
    }
}

/// What the protocol may know of a key: its id, its algorithm and whether it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: Alg,
    pub signs: bool,
}
