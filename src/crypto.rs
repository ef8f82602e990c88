//! Small cryptographic helpers shared by the worker and the operator tool, and the
//! [`Crypto`] trait through which the protocol signs tokens and verifies passwords
//! (WebCrypto in the worker, pure Rust on the host).

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

mod alg;
pub mod cbor;
mod jwk;
pub mod totp;
pub use alg::{Alg, KeyInfo};
pub use jwk::{PublicJwk, PublicKey};

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// How many keys [`hmac_sha256`] keeps keyed (SESSION_KEY, the pairwise salt, a few more).
const KEYED_MAX: usize = 4;

thread_local! {
    /// HMAC states already keyed, per key (RFC 2104 §4: the hashes of `K ⊕ ipad` and
    /// `K ⊕ opad` "can be precomputed only once"). Keying costs two SHA-256 blocks, half of a
    /// short message's HMAC; the keys are the isolate's own (configuration), so they live as
    /// long as the isolate does anyway.
    static KEYED: std::cell::RefCell<Vec<(Vec<u8>, Hmac<Sha256>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let keyed = KEYED.with(|k| k.borrow().iter().find(|(kk, _)| kk == key).map(|(_, m)| m.clone()));
    let mut mac = match keyed {
        Some(m) => m,
        None => {
            // HMAC accepts keys of any length, so this cannot fail.
            let Ok(m) = <Hmac<Sha256> as Mac>::new_from_slice(key) else { return [0; 32] };
            KEYED.with(|k| {
                let mut k = k.borrow_mut();
                if k.len() == KEYED_MAX {
                    k.remove(0);
                }
                k.push((key.to_vec(), m.clone()));
            });
            m
        }
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 (RFC 5869): extract with `salt` (empty: a string of zeros, §2.2), then expand
/// with `info` into `out` (at most 255 × 32 bytes; more is left zero).
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) {
    let hmac = |key: &[u8], parts: &[&[u8]]| -> [u8; 32] {
        let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key) else { return [0; 32] };
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    };
    let prk = hmac(if salt.is_empty() { &[0; 32] } else { salt }, &[ikm]);
    let mut t: Vec<u8> = Vec::new();
    for (i, chunk) in out.chunks_mut(32).enumerate().take(255) {
        t = hmac(&prk, &[&t, info, &[(i + 1) as u8]]).to_vec();
        for (o, b) in chunk.iter_mut().zip(&t) {
            *o = *b;
        }
    }
}

/// The keys derived from `SESSION_KEY`, one per purpose (RFC 5869 §3.2: `info` binds each to
/// its use), so that no value made for one purpose can be taken for another's. Derived once
/// per isolate. Nothing that must outlive a `SESSION_KEY` rotation depends on them.
pub struct SessionKeys {
    /// HMAC of the state the sign-in, consent and sign-out pages carry.
    pub page: [u8; 32],
    /// XChaCha20-Poly1305 of a returning user's authorization codes.
    pub code: [u8; 32],
    /// HMAC of the device cookie (a browser that signed in before).
    pub device: [u8; 32],
}

impl SessionKeys {
    pub fn derive(session_key: &[u8]) -> SessionKeys {
        let key = |label: &[u8]| {
            let mut k = [0u8; 32];
            hkdf_sha256(b"edge-oidc", session_key, label, &mut k);
            k
        };
        SessionKeys {
            page: key(b"edge-oidc/v1 page state"),
            code: key(b"edge-oidc/v1 authorization code"),
            device: key(b"edge-oidc/v1 device cookie"),
        }
    }
}

/// Encrypts `plaintext` under a 32-byte `key` with XChaCha20-Poly1305 (a random 192-bit
/// nonce, so random nonces never collide in practice), bound to `aad`: nonce ‖ ciphertext ‖ tag.
pub fn aead_seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let nonce = random_bytes::<24>()?;
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    let sealed = cipher
        .encrypt((&nonce).into(), Payload { msg: plaintext, aad })
        .map_err(|_| "encryption failed".to_string())?;
    let mut out = Vec::with_capacity(nonce.len() + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`aead_seal`] made with the same key and `aad`; `None` if anything differs.
pub fn aead_open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    if sealed.len() < 24 + 16 {
        return None;
    }
    let (nonce, msg) = sealed.split_at(24);
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    cipher.decrypt(nonce.into(), Payload { msg, aad }).ok()
}

/// Constant-time equality (RFC 9700 §4.x: compare secrets without timing leaks).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// How many bytes of the platform's CSPRNG [`random_bytes`] draws at a time.
const POOL_BYTES: usize = 256;

thread_local! {
    /// Bytes drawn from the CSPRNG and not yet handed out, and where they start: one
    /// `crypto.getRandomValues` call (a call across the JavaScript boundary) serves several
    /// requests' grant ids, nonces and tokens instead of one each. A byte is handed out once
    /// and zeroed as it is.
    static POOL: std::cell::RefCell<([u8; POOL_BYTES], usize)> =
        const { std::cell::RefCell::new(([0; POOL_BYTES], POOL_BYTES)) };
}

/// `n` random bytes from the platform's CSPRNG (crypto.getRandomValues in Workers).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let failed = |e: getrandom::Error| format!("random number generator failed: {e}");
    let mut buf = [0u8; N];
    if N > POOL_BYTES {
        getrandom::fill(&mut buf).map_err(failed)?;
        return Ok(buf);
    }
    POOL.with(|pool| {
        let (bytes, start) = &mut *pool.borrow_mut();
        if POOL_BYTES - *start < N {
            getrandom::fill(bytes).map_err(failed)?;
            *start = 0;
        }
        let taken = bytes.get_mut(*start..*start + N).ok_or("random pool out of range")?;
        buf.copy_from_slice(taken);
        taken.fill(0);
        *start += N;
        Ok(buf)
    })
}

/// A random, URL-safe token with `N` bytes of entropy.
pub fn random_token<const N: usize>() -> Result<String, String> {
    Ok(b64url(&random_bytes::<N>()?))
}

/// A pairwise subject identifier (OpenID Connect Core §8.1): HMAC-SHA256 under the
/// provider's salt of the sector identifier and the user's own `sub`.
pub fn pairwise_sub(salt: &[u8], sector: &str, local_sub: &str) -> String {
    b64url(&hmac_sha256(salt, format!("{sector}\0{local_sub}").as_bytes()))
}

/// The stored form of a high-entropy secret (client secret): `sha256:<base64url>`.
/// A fast hash is right here because the secret itself has 256 bits of entropy.
pub fn hash_client_secret(secret: &str) -> String {
    format!("sha256:{}", b64url(&sha256(secret.as_bytes())))
}

/// Checks a presented client secret against its stored hash, in constant time.
pub fn verify_client_secret(secret: &str, stored: &str) -> bool {
    match stored.strip_prefix("sha256:").and_then(b64url_decode) {
        Some(expected) => ct_eq(&sha256(secret.as_bytes()), &expected),
        None => false,
    }
}

/// PBKDF2-HMAC-SHA256 password hash in PHC string format, as written by the RustCrypto
/// `pbkdf2` crate: `$pbkdf2-sha256$i=<iterations>,l=<len>$<salt>$<hash>` (standard
/// base64 without padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Iterations used by the operator tool unless told otherwise. 100,000 is the most that
/// production Workers' WebCrypto allows; docs/configuration.md, "Password hashing cost", has the measured cost.
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 100_000;
pub const MIN_PBKDF2_ITERATIONS: u32 = 10_000;
pub const MAX_PBKDF2_ITERATIONS: u32 = 100_000;

impl PasswordHash {
    pub fn parse(phc: &str) -> Result<Self, String> {
        let parts: Vec<&str> = phc.split('$').collect();
        if let ["", alg, ..] = parts.as_slice() {
            if *alg != "pbkdf2-sha256" {
                return Err(format!("unsupported password hash algorithm '{alg}' (expected pbkdf2-sha256)"));
            }
        }
        let ["", _, params, salt, hash] = parts.as_slice() else {
            return Err("not a PHC string of the form $pbkdf2-sha256$i=N,l=32$salt$hash".into());
        };
        let mut iterations = None;
        let mut len = 32usize;
        for param in params.split(',') {
            match param.split_once('=') {
                Some(("i", v)) => iterations = v.parse::<u32>().ok(),
                Some(("l", v)) => len = v.parse::<usize>().map_err(|_| "bad l= parameter".to_string())?,
                _ => return Err(format!("unknown PHC parameter '{param}'")),
            }
        }
        let iterations = iterations.ok_or("missing or invalid i= (iterations) parameter")?;
        if !(MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "iterations {iterations} outside {MIN_PBKDF2_ITERATIONS}..={MAX_PBKDF2_ITERATIONS} (Workers' WebCrypto caps PBKDF2 at 100,000)"
            ));
        }
        let salt = STANDARD_NO_PAD.decode(salt).map_err(|_| "salt is not base64")?;
        let hash = STANDARD_NO_PAD.decode(hash).map_err(|_| "hash is not base64")?;
        if salt.len() < 16 {
            return Err("salt shorter than 16 bytes".into());
        }
        if hash.len() != len || !(16..=64).contains(&len) {
            return Err("hash length does not match l= (16..=64 bytes)".into());
        }
        Ok(PasswordHash { iterations, salt, hash })
    }

    pub fn to_phc(&self) -> String {
        format!(
            "$pbkdf2-sha256$i={},l={}${}${}",
            self.iterations,
            self.hash.len(),
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }
}

/// Signing, signature verification and password hashing, provided by the platform.
/// Implementations: WebCrypto (`platform::webcrypto`) in the worker, `keys::native::NativeCrypto`
/// on the host. Both are built from the `SIGNING_KEYS` set and own its key ids.
#[allow(async_fn_in_trait)] // futures are polled on one thread in Workers
pub trait Crypto {
    /// Every published key: kid, algorithm, and whether it is its algorithm's signer.
    fn keys(&self) -> &[KeyInfo];

    /// The `kid` of the key that signs `alg`, if there is one.
    fn signing_kid(&self, alg: Alg) -> Option<&str> {
        self.keys().iter().find(|k| k.alg == alg && k.signs).map(|k| k.kid.as_str())
    }

    /// The algorithm of the published key `kid`.
    fn key_alg(&self, kid: &str) -> Option<Alg> {
        self.keys().iter().find(|k| k.kid == kid).map(|k| k.alg)
    }

    /// Signs `data` with the signing key of `alg` (the key [`Crypto::signing_kid`] names).
    /// The signature is in its JWS form (RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
    async fn sign(&self, alg: Alg, data: &[u8]) -> Result<Vec<u8>, String>;

    /// Verifies a JWS signature made by the published key `kid`, with that key's algorithm.
    /// `Ok(false)` for a wrong signature or an unknown kid.
    async fn verify(&self, kid: &str, data: &[u8], sig: &[u8]) -> Result<bool, String>;

    /// Verifies a JWS signature made with another party's key (a client's, RFC 7523), with
    /// that key's algorithm. `Ok(false)` for a wrong signature.
    async fn verify_with(&self, key: &PublicJwk, data: &[u8], sig: &[u8]) -> Result<bool, String>;

    /// PBKDF2-HMAC-SHA256.
    async fn pbkdf2_sha256(&self, password: &[u8], salt: &[u8], iterations: u32, len: usize)
        -> Result<Vec<u8>, String>;
}

/// Verifies `password` against a stored PHC string, in constant time.
pub async fn verify_password<C: Crypto>(crypto: &C, password: &str, stored: &PasswordHash) -> Result<bool, String> {
    let derived = crypto.pbkdf2_sha256(password.as_bytes(), &stored.salt, stored.iterations, stored.hash.len()).await?;
    Ok(ct_eq(&derived, &stored.hash))
}

/// A new PHC hash of `password` with a fresh salt.
pub async fn hash_password<C: Crypto>(crypto: &C, password: &str, iterations: u32) -> Result<PasswordHash, String> {
    let salt = random_bytes::<16>()?.to_vec();
    let hash = crypto.pbkdf2_sha256(password.as_bytes(), &salt, iterations, 32).await?;
    Ok(PasswordHash { iterations, salt, hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 Appendix A.1 and A.3 (no salt, no info).
    #[test]
    fn hkdf_rfc5869_vectors() {
        let hex = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let mut okm = [0u8; 42];
        hkdf_sha256(&hex("000102030405060708090a0b0c"), &[0x0b; 22], &hex("f0f1f2f3f4f5f6f7f8f9"), &mut okm);
        assert_eq!(
            okm.to_vec(),
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
        hkdf_sha256(&[], &[0x0b; 22], &[], &mut okm);
        assert_eq!(
            okm.to_vec(),
            hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
        );
        let k = SessionKeys::derive(&[7; 32]);
        assert!(k.page != k.code && k.code != k.device && k.page != k.device);
        assert!(SessionKeys::derive(&[8; 32]).page != k.page);
    }

    #[test]
    fn random_bytes_from_the_pool_are_never_handed_out_twice() {
        // 100 draws of 24 bytes cross the pool's refill several times, at different offsets.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            let b = random_bytes::<24>().unwrap();
            assert!(b.iter().any(|&x| x != 0));
            assert!(seen.insert(b), "a draw repeated");
        }
        // Larger than the pool: drawn directly.
        let big = random_bytes::<300>().unwrap();
        assert!(big.iter().filter(|&&x| x == 0).count() < 20);
        assert_ne!(random_token::<16>().unwrap(), random_token::<16>().unwrap());
    }

    #[test]
    fn client_secret_hash_round_trip() {
        let h = hash_client_secret("s3cret");
        assert!(h.starts_with("sha256:"));
        assert!(verify_client_secret("s3cret", &h));
        assert!(!verify_client_secret("s3cret ", &h));
        assert!(!verify_client_secret("s3cret", "plain"));
    }

    #[test]
    fn phc_parse_rejects_bad_input() {
        let ok = PasswordHash { iterations: 100_000, salt: vec![1; 16], hash: vec![2; 32] };
        assert_eq!(PasswordHash::parse(&ok.to_phc()).unwrap(), ok);
        assert!(PasswordHash::parse("$argon2id$v=19$m=1$abc$def").unwrap_err().contains("unsupported"));
        assert!(PasswordHash::parse("$pbkdf2-sha256$i=5,l=32$AAAAAAAAAAAAAAAAAAAAAA$AA").is_err());
        assert!(PasswordHash::parse("plaintext").is_err());
        let too_many = PasswordHash { iterations: 600_000, ..ok };
        assert!(PasswordHash::parse(&too_many.to_phc()).unwrap_err().contains("100,000"));
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231_with_keys_kept_and_evicted() {
        fn hex(b: &[u8]) -> String {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
        // RFC 4231 §4.3 (test case 2).
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        for _ in 0..2 {
            assert_eq!(hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")), expected);
        }
        // More keys than are kept: each still gets its own MAC, also after being evicted.
        let keys: Vec<Vec<u8>> = (0..=KEYED_MAX as u8).map(|i| vec![i; 20]).collect();
        let first: Vec<[u8; 32]> = keys.iter().map(|k| hmac_sha256(k, b"data")).collect();
        for (k, m) in keys.iter().zip(&first) {
            let fresh = <Hmac<Sha256> as Mac>::new_from_slice(k).unwrap().chain_update(b"data").finalize();
            assert_eq!(&fresh.into_bytes()[..], &m[..]);
            assert_eq!(hmac_sha256(k, b"data"), *m);
        }
        assert_eq!(hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")), expected);
    }

    #[test]
    fn ct_eq_lengths() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
