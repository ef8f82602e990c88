//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` protects nothing once the
//! challenge is seen (RFC 9700 §2.1.1), so it is neither accepted nor advertised.

use crate::crypto::{b64url, ct_eq, sha256};

/// RFC 7636 §4.1/§4.2: 43-128 characters of [A-Z a-z 0-9 - . _ ~].
pub fn valid_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The one `code_challenge_method` supported.
pub const S256: &str = "S256";

/// RFC 7636 §4.6: checks the verifier against the stored S256 challenge, in constant time.
pub fn verify(challenge: &str, method: &str, verifier: &str) -> Result<(), String> {
    if !valid_value(verifier) {
        return Err("code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)".into());
    }
    if method != S256 {
        return Err("unsupported code_challenge_method".into());
    }
    let computed = b64url(&sha256(verifier.as_bytes()));
    if ct_eq(computed.as_bytes(), challenge.as_bytes()) {
        Ok(())
    } else {
        Err("code_verifier does not match the code_challenge".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify(challenge, "S256", verifier).is_ok());
        assert!(verify(challenge, "S256", &verifier.replace('d', "e")).is_err());
        assert!(verify(challenge, "plain", verifier).is_err());
        assert!(verify(verifier, "plain", verifier).is_err(), "plain is not supported");
        assert!(verify(challenge, "S256", "short").unwrap_err().contains("43-128"));
    }
}
