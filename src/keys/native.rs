//! Pure-Rust implementations for the host: the operator tool and `cargo test`.
//! (The worker uses WebCrypto instead: faster, and it avoids the `rsa` crate's
//! private-key timing issue RUSTSEC-2023-0071 on the request path.)

use crate::crypto::{b64url_decode, random_bytes, Alg, Crypto, KeyInfo, PasswordHash, PublicJwk, PublicKey};
use crate::keys::{KeyMaterial, PrivateJwk, PrivateJwkSet};
use rsa::pkcs1v15::{Signature as RsaSignature, SigningKey as RsaSigningKey};
use rsa::signature::{Keypair, SignatureEncoding, Signer, Verifier};
use rsa::{BigUint, RsaPrivateKey};
use sha2::Sha256;

/// A private key ready to sign and verify.
enum NativeKey {
    Rs256(RsaSigningKey<Sha256>),
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

impl NativeKey {
    fn from_jwk(jwk: &PrivateJwk) -> Result<Self, String> {
        let bytes = |name: &str, v: &str| b64url_decode(v).ok_or(format!("JWK member {name} is not base64url"));
        let int = |name: &str, v: &str| bytes(name, v).map(|b| BigUint::from_bytes_be(&b));
        let secret32 = |v: &str| -> Result<[u8; 32], String> {
            bytes("d", v)?.try_into().map_err(|_| "JWK member d must be 32 bytes".to_string())
        };
        Ok(match &jwk.key {
            KeyMaterial::Rsa { n, e, d, p, q, .. } => {
                let primes = vec![int("p", p)?, int("q", q)?];
                let key = RsaPrivateKey::from_components(int("n", n)?, int("e", e)?, int("d", d)?, primes)
                    .map_err(|e| format!("invalid RSA key: {e}"))?;
                NativeKey::Rs256(RsaSigningKey::<Sha256>::new(key))
            }
            KeyMaterial::Ec { d, .. } => NativeKey::Es256(
                p256::ecdsa::SigningKey::from_bytes(&secret32(d)?.into())
                    .map_err(|e| format!("invalid P-256 key: {e}"))?,
            ),
            KeyMaterial::Okp { d, .. } => NativeKey::EdDsa(ed25519_dalek::SigningKey::from_bytes(&secret32(d)?)),
        })
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        match self {
            NativeKey::Rs256(k) => k.sign(data).to_vec(),
            // RFC 7518 §3.4: the JWS signature is r || s, 32 bytes each.
            NativeKey::Es256(k) => Signer::<p256::ecdsa::Signature>::sign(k, data).to_bytes().to_vec(),
            NativeKey::EdDsa(k) => k.sign(data).to_bytes().to_vec(),
        }
    }

    fn verify(&self, data: &[u8], sig: &[u8]) -> bool {
        match self {
            NativeKey::Rs256(k) => {
                RsaSignature::try_from(sig).is_ok_and(|s| k.verifying_key().verify(data, &s).is_ok())
            }
            NativeKey::Es256(k) => {
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verifying_key().verify(data, &s).is_ok())
            }
            NativeKey::EdDsa(k) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| k.verifying_key().verify_strict(data, &s).is_ok()),
        }
    }
}

/// The host signer, built from a `SIGNING_KEYS` set.
pub struct NativeCrypto {
    infos: Vec<KeyInfo>,
    keys: Vec<(String, NativeKey)>,
}

impl NativeCrypto {
    pub fn from_set(set: &PrivateJwkSet) -> Result<Self, String> {
        let keys = set
            .keys
            .iter()
            .map(|k| NativeKey::from_jwk(k).map(|n| (k.kid.clone(), n)).map_err(|e| format!("key '{}': {e}", k.kid)))
            .collect::<Result<_, _>>()?;
        Ok(NativeCrypto { infos: set.infos(), keys })
    }

    fn key(&self, kid: &str) -> Option<&NativeKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}

impl Crypto for NativeCrypto {
    fn keys(&self) -> &[KeyInfo] {
        &self.infos
    }

    async fn sign(&self, alg: Alg, data: &[u8]) -> Result<Vec<u8>, String> {
        let key = self.signing_kid(alg).and_then(|kid| self.key(kid)).ok_or(format!("no {alg} signing key"))?;
        Ok(key.sign(data))
    }

    async fn verify(&self, kid: &str, data: &[u8], sig: &[u8]) -> Result<bool, String> {
        Ok(self.key(kid).is_some_and(|k| k.verify(data, sig)))
    }

    async fn verify_with(&self, key: &PublicJwk, data: &[u8], sig: &[u8]) -> Result<bool, String> {
        let bytes = |v: &str| b64url_decode(v).ok_or_else(|| "a JWK member is not base64url".to_string());
        Ok(match &key.key {
            PublicKey::Rsa { n, e } => {
                let public =
                    rsa::RsaPublicKey::new(BigUint::from_bytes_be(&bytes(n)?), BigUint::from_bytes_be(&bytes(e)?))
                        .map_err(|e| format!("invalid RSA key: {e}"))?;
                let k = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
                RsaSignature::try_from(sig).is_ok_and(|s| k.verify(data, &s).is_ok())
            }
            PublicKey::Ec { x, y } => {
                let point = p256::EncodedPoint::from_affine_coordinates(
                    bytes(x)?.as_slice().into(),
                    bytes(y)?.as_slice().into(),
                    false,
                );
                let k = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map_err(|e| format!("invalid P-256 key: {e}"))?;
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(data, &s).is_ok())
            }
            PublicKey::Ed25519 { x } => {
                let raw: [u8; 32] = bytes(x)?.try_into().map_err(|_| "an Ed25519 key is 32 bytes".to_string())?;
                let k =
                    ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|e| format!("invalid Ed25519 key: {e}"))?;
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| k.verify_strict(data, &s).is_ok())
            }
        })
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
    let salt = random_bytes::<16>()?.to_vec();
    let hash = pbkdf2_sha256(password.as_bytes(), &salt, iterations, 32);
    Ok(PasswordHash { iterations, salt, hash })
}

/// Runs a future of [`NativeCrypto`] to its end: it never waits on anything (the host's
/// crypto is synchronous behind the async trait), so polling once more is all it takes.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
