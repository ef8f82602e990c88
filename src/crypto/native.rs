//! Pure-Rust implementations for the host: the operator tool and `cargo test`.
//! (The worker uses WebCrypto instead: faster, and it avoids the `rsa` crate's
//! private-key timing issue RUSTSEC-2023-0071 on the request path.)

use super::{Crypto, PasswordHash};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;

pub struct NativeCrypto {
    key: SigningKey<Sha256>,
}

impl NativeCrypto {
    pub fn new(key: RsaPrivateKey) -> Self {
        NativeCrypto { key: SigningKey::<Sha256>::new(key) }
    }
}

impl Crypto for NativeCrypto {
    async fn sign_rs256(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        Ok(self.key.sign(data).to_vec())
    }
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
        len: usize,
    ) -> Result<Vec<u8>, String> {
        Ok(pbkdf2_sha256(password, salt, iterations, len))
    }
}

pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}

/// Hashes a password for a user record (operator tool).
pub fn hash_password(password: &str, iterations: u32) -> Result<PasswordHash, String> {
    let salt = super::random_bytes::<16>()?.to_vec();
    let hash = pbkdf2_sha256(password.as_bytes(), &salt, iterations, 32);
    Ok(PasswordHash { iterations, salt, hash })
}

impl NativeCrypto {
    /// The key of a JWK from a `SIGNING_KEYS` set.
    pub fn from_jwk(jwk: &crate::keys::PrivateJwk) -> Result<Self, String> {
        use rsa::BigUint;
        let int = |name: &str, v: &str| -> Result<BigUint, String> {
            super::b64url_decode(v)
                .map(|b| BigUint::from_bytes_be(&b))
                .ok_or(format!("JWK member {name} is not base64url"))
        };
        let key = RsaPrivateKey::from_components(
            int("n", &jwk.n)?,
            int("e", &jwk.e)?,
            int("d", &jwk.d)?,
            vec![int("p", &jwk.p)?, int("q", &jwk.q)?],
        )
        .map_err(|e| format!("invalid RSA key: {e}"))?;
        Ok(NativeCrypto::new(key))
    }
}
