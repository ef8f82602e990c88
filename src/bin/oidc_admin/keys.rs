//! `oidc-admin keys`: the SIGNING_KEYS and SESSION_KEY secrets.

use crate::cli::KeysCommand;
use crate::error::{failed, usage, Result};
use edge_oidc::crypto::{b64url, random_token, sha256};
use edge_oidc::keys::{PrivateJwk, PrivateJwkSet};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use std::io::Read;

/// Runs a `keys` subcommand; returns what to print on stdout.
pub fn run(cmd: &KeysCommand) -> Result<String> {
    match cmd {
        KeysCommand::Generate { bits } => generate_set(*bits as usize),
        KeysCommand::SessionKey => random_token::<32>().map_err(failed),
        KeysCommand::Public => public_jwks(&read_stdin()?),
    }
}

/// A one-key private JWK set, as one line of JSON.
fn generate_set(bits: usize) -> Result<String> {
    let set = PrivateJwkSet { keys: vec![generate_jwk(bits)?] };
    serde_json::to_string(&set).map_err(|e| failed(format!("cannot serialise the key set: {e}")))
}

/// A new RS256 signing key with every CRT member (WebCrypto's JWK import needs them).
pub fn generate_jwk(bits: usize) -> Result<PrivateJwk> {
    let mut key = RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|e| failed(format!("RSA key generation failed: {e}")))?;
    key.precompute().map_err(|e| failed(format!("RSA key generation failed: {e}")))?;
    let missing = || failed("RSA key generation failed: CRT values missing");
    let [p, q] = key.primes() else { return Err(failed("RSA key generation failed: expected two primes")) };
    // RFC 7518 §6.3.2: dp = d mod (p-1), dq = d mod (q-1), qi = q^-1 mod p.
    let (dp, dq, qi) =
        (key.dp().ok_or_else(missing)?, key.dq().ok_or_else(missing)?, key.crt_coefficient().ok_or_else(missing)?);
    let (n, e) = (uint(key.n()), uint(key.e()));
    Ok(PrivateJwk {
        kty: "RSA".into(),
        kid: thumbprint(&n, &e),
        alg: "RS256".into(),
        use_: "sig".into(),
        d: uint(key.d()),
        p: uint(p),
        q: uint(q),
        dp: uint(dp),
        dq: uint(dq),
        qi: uint(&qi),
        n,
        e,
    })
}

/// base64url of the unsigned big-endian bytes (RFC 7518 §2 Base64urlUInt).
fn uint(x: &BigUint) -> String {
    b64url(&x.to_bytes_be())
}

/// RFC 7638 JWK thumbprint: SHA-256 of the required members in lexicographic order, no
/// whitespace.
pub fn thumbprint(n: &str, e: &str) -> String {
    b64url(&sha256(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#).as_bytes()))
}

fn read_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| failed(format!("cannot read stdin: {e}")))?;
    Ok(s)
}

fn public_jwks(private_set: &str) -> Result<String> {
    let set = PrivateJwkSet::parse(private_set.trim()).map_err(|e| usage(format!("stdin: {e}")))?;
    serde_json::to_string_pretty(&set.public_jwks()).map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
