//! Passkeys (WebAuthn Level 3): what a registration and a sign-in must show before the
//! provider trusts them, everything but the signature itself (checked through the platform's
//! crypto). The relying party is the issuer: its host is the RP ID, its origin the only origin
//! accepted. Attestation is not asked for (`none`) and not verified.

use crate::crypto::cbor::Cbor;
use crate::crypto::{b64url, b64url_decode, sha256, Alg, PublicJwk, PublicKey};
use serde::{Deserialize, Serialize};

/// Authenticator data flags (WebAuthn §6.1).
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const BE: u8 = 0x08;
pub const BS: u8 = 0x10;
pub const AT: u8 = 0x40;

/// COSE algorithms offered at registration, in order of preference (WebAuthn §5.8.5):
/// ES256, EdDSA, RS256.
pub const COSE_ALGS: [i64; 3] = [-7, -8, -257];

/// A stored passkey (the user's account object keeps them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// The credential id, base64url.
    pub id: String,
    /// The public key as a JWK.
    pub public_key: serde_json::Value,
    /// The user's name for it ("Laptop", "Phone").
    pub name: String,
    pub sign_count: u32,
    /// Backup eligible and backed up (synced passkeys), as last reported.
    #[serde(default)]
    pub backup_eligible: bool,
    #[serde(default)]
    pub backup_state: bool,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

impl Credential {
    pub fn key(&self) -> Result<PublicJwk, String> {
        PublicJwk::parse(&self.public_key)
    }

    /// RFC 8176: `swk` for a key that can leave the device (a synced passkey), else `hwk`.
    pub fn amr(&self) -> &'static str {
        if self.backup_eligible {
            "swk"
        } else {
            "hwk"
        }
    }
}

/// What a ceremony must match.
pub struct Expected<'a> {
    pub challenge: &'a str,
    pub origin: &'a str,
    pub rp_id: &'a str,
    pub require_uv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    /// With the AT flag: the credential id and its public key.
    pub credential: Option<(Vec<u8>, PublicJwk)>,
}

impl AuthData {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }
}

/// WebAuthn §6.1: rpIdHash (32), flags (1), signCount (4, big endian), then with AT the
/// attested credential data: aaguid (16), credentialIdLength (2), credentialId, the COSE key.
pub fn parse_auth_data(b: &[u8]) -> Result<AuthData, String> {
    let head = b.get(..37).ok_or("authenticator data is too short")?;
    let rp_id_hash: [u8; 32] =
        head.get(..32).and_then(|h| h.try_into().ok()).ok_or("authenticator data is too short")?;
    let flags = *head.get(32).ok_or("authenticator data is too short")?;
    let count: [u8; 4] = head.get(33..37).and_then(|c| c.try_into().ok()).ok_or("authenticator data is too short")?;
    let mut auth = AuthData { rp_id_hash, flags, sign_count: u32::from_be_bytes(count), credential: None };
    if auth.has(AT) {
        let rest = b.get(37..).unwrap_or_default();
        let len_bytes: [u8; 2] =
            rest.get(16..18).and_then(|l| l.try_into().ok()).ok_or("attested credential data is too short")?;
        let len = usize::from(u16::from_be_bytes(len_bytes));
        if len > 1023 {
            return Err("the credential id is too long".into());
        }
        let id = rest.get(18..18 + len).ok_or("attested credential data is too short")?.to_vec();
        let key_bytes = rest.get(18 + len..).unwrap_or_default();
        let (cose, _) = Cbor::decode(key_bytes)?;
        auth.credential = Some((id, cose_key(&cose)?));
    }
    Ok(auth)
}

/// A COSE_Key (RFC 9052 §7; RFC 9053) as a JWK: EC2 P-256 with ES256, OKP Ed25519 with EdDSA,
/// RSA with RS256.
pub fn cose_key(c: &Cbor) -> Result<PublicJwk, String> {
    let bytes = |label: i64| c.get_int(label).and_then(Cbor::as_bytes).ok_or(format!("the COSE key lacks {label}"));
    let alg = c.get_int(3).and_then(Cbor::as_int).ok_or("the COSE key has no alg")?;
    let key = match (c.get_int(1).and_then(Cbor::as_int), alg) {
        (Some(2), -7) if c.get_int(-1).and_then(Cbor::as_int) == Some(1) => {
            let (x, y) = (bytes(-2)?, bytes(-3)?);
            if x.len() != 32 || y.len() != 32 {
                return Err("a P-256 key's coordinates are 32 bytes".into());
            }
            (Alg::ES256, PublicKey::Ec { x: b64url(x), y: b64url(y) })
        }
        (Some(1), -8) if c.get_int(-1).and_then(Cbor::as_int) == Some(6) => {
            let x = bytes(-2)?;
            if x.len() != 32 {
                return Err("an Ed25519 key is 32 bytes".into());
            }
            (Alg::EdDSA, PublicKey::Ed25519 { x: b64url(x) })
        }
        (Some(3), -257) => {
            let n = bytes(-1)?;
            if n.len() < 256 {
                return Err("an RSA key must have at least 2048 bits".into());
            }
            (Alg::RS256, PublicKey::Rsa { n: b64url(n), e: b64url(bytes(-2)?) })
        }
        _ => return Err("the key is not ES256, EdDSA (Ed25519) or RS256".into()),
    };
    Ok(PublicJwk { kid: None, alg: key.0, key: key.1 })
}

/// WebAuthn §5.8.1: the client data: its type, the challenge and the origin, as expected.
pub fn check_client_data(json: &[u8], typ: &str, e: &Expected<'_>) -> Result<(), String> {
    let cd: serde_json::Value = serde_json::from_slice(json).map_err(|_| "clientDataJSON is not JSON")?;
    let s = |k: &str| cd.get(k).and_then(serde_json::Value::as_str);
    if s("type") != Some(typ) {
        return Err(format!("the ceremony is not {typ}"));
    }
    let challenge = s("challenge").ok_or("clientDataJSON has no challenge")?;
    if !crate::crypto::ct_eq(challenge.as_bytes(), e.challenge.as_bytes()) {
        return Err("the challenge is not the one sent".into());
    }
    if s("origin") != Some(e.origin) {
        return Err("the origin is not this provider's".into());
    }
    if cd.get("crossOrigin").and_then(serde_json::Value::as_bool) == Some(true) {
        return Err("a cross-origin ceremony is not accepted".into());
    }
    Ok(())
}

/// WebAuthn §7.2 steps 15-17 (and §7.1 13-15): the RP ID hash, user presence, and user
/// verification when required.
pub fn check_auth_data(a: &AuthData, e: &Expected<'_>) -> Result<(), String> {
    if !crate::crypto::ct_eq(&a.rp_id_hash, &sha256(e.rp_id.as_bytes())) {
        return Err("the credential is for another relying party (RP ID)".into());
    }
    if !a.has(UP) {
        return Err("the user was not present".into());
    }
    if e.require_uv && !a.has(UV) {
        return Err("the user was not verified".into());
    }
    Ok(())
}

/// A registration (WebAuthn §7.1): the new credential, if everything but attestation holds.
pub fn registration(
    attestation_object: &[u8],
    client_data_json: &[u8],
    e: &Expected<'_>,
) -> Result<(Vec<u8>, PublicJwk, AuthData), String> {
    check_client_data(client_data_json, "webauthn.create", e)?;
    let att = Cbor::decode_all(attestation_object)?;
    att.get_text("fmt").and_then(Cbor::as_text).ok_or("the attestation object has no fmt")?;
    let auth_bytes =
        att.get_text("authData").and_then(Cbor::as_bytes).ok_or("the attestation object has no authData")?;
    let auth = parse_auth_data(auth_bytes)?;
    check_auth_data(&auth, e)?;
    let (id, key) = auth.credential.clone().ok_or("no credential in the registration")?;
    Ok((id, key, auth))
}

/// What an assertion's signature covers (WebAuthn §7.2 step 19): the authenticator data and
/// the hash of the client data.
pub fn signed_data(auth_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    [auth_data, &sha256(client_data_json)].concat()
}

/// An assertion's signature in the form the verifier takes: ES256 arrives DER-encoded (WebAuthn
/// §6.5.6), JWS and WebCrypto want r || s.
pub fn jws_signature(alg: Alg, sig: &[u8]) -> Result<Vec<u8>, String> {
    if alg != Alg::ES256 {
        return Ok(sig.to_vec());
    }
    let bad = || "the ECDSA signature is not DER".to_string();
    let seq = der(sig, 0x30).ok_or_else(bad)?;
    if seq.1 != sig.len() {
        return Err(bad());
    }
    let (r, used) = der(seq.0, 0x02).ok_or_else(bad)?;
    let (s, used2) = der(seq.0.get(used..).ok_or_else(bad)?, 0x02).ok_or_else(bad)?;
    if used + used2 != seq.0.len() {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(64);
    for int in [r, s] {
        let int = int.strip_prefix(&[0]).unwrap_or(int);
        if int.len() > 32 {
            return Err(bad());
        }
        out.extend(std::iter::repeat_n(0, 32 - int.len()));
        out.extend(int);
    }
    Ok(out)
}

/// One DER TLV with short or one-byte long length: its content and the bytes it took.
fn der(b: &[u8], tag: u8) -> Option<(&[u8], usize)> {
    if *b.first()? != tag {
        return None;
    }
    let (len, head) = match *b.get(1)? {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 => (usize::from(*b.get(2)?), 3),
        _ => return None,
    };
    Some((b.get(head..head + len)?, head + len))
}

/// WebAuthn §7.2 step 22: a counter that did not move forward (both zero is a device
/// without one) means the credential may have been cloned.
pub fn counter_moved_on(stored: u32, presented: u32) -> bool {
    (stored == 0 && presented == 0) || presented > stored
}

/// Decodes a base64url member of a browser's JSON (`PublicKeyCredential.toJSON()`).
pub fn bytes(v: &serde_json::Value, name: &str) -> Result<Vec<u8>, String> {
    v.get(name)
        .and_then(serde_json::Value::as_str)
        .and_then(b64url_decode)
        .ok_or(format!("{name} is missing or not base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_ecdsa_signatures_become_r_and_s() {
        // r with a leading zero (high bit set), s short.
        let mut r = vec![0x00];
        r.extend([0x80; 32]);
        let s = vec![0x01; 31];
        let mut der_sig = vec![0x30, (2 + r.len() + 2 + s.len()) as u8, 0x02, r.len() as u8];
        der_sig.extend(&r);
        der_sig.extend([0x02, s.len() as u8]);
        der_sig.extend(&s);
        let raw = jws_signature(Alg::ES256, &der_sig).unwrap();
        assert_eq!(&raw[..32], &[0x80; 32]);
        assert_eq!(raw[32], 0);
        assert_eq!(&raw[33..], &[0x01; 31]);
        assert!(jws_signature(Alg::ES256, &[0x30, 0x02, 0x02, 0x00]).is_err());
        assert_eq!(jws_signature(Alg::EdDSA, &[1, 2]).unwrap(), vec![1, 2]);
    }

    /// A registration and a sign-in recorded from Chromium's virtual authenticator (CTAP2,
    /// platform, ES256) against this provider at `issuer` (tests/browser/passkeys.test.mjs's
    /// set-up): the bytes a browser really sends, checked as the provider checks them.
    #[test]
    fn a_recorded_chromium_registration_and_sign_in_verify() {
        use crate::crypto::Crypto;
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/webauthn-chromium.json")).unwrap();
        let origin = v["issuer"].as_str().unwrap();
        let challenge_of = |cd: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(cd).unwrap()["challenge"].as_str().unwrap().to_string()
        };
        let reg = &v["registration"]["response"];
        let cd = bytes(reg, "clientDataJSON").unwrap();
        let challenge = challenge_of(&cd);
        let e = Expected { challenge: &challenge, origin, rp_id: "localhost", require_uv: true };
        let (id, key, auth) = registration(&bytes(reg, "attestationObject").unwrap(), &cd, &e).unwrap();
        assert_eq!(b64url(&id), v["registration"]["id"].as_str().unwrap());
        assert_eq!(key.alg, Alg::ES256);
        assert!(auth.has(UP) && auth.has(UV));
        // The same bytes for another origin or RP ID, or as a sign-in: refused.
        assert!(registration(
            &bytes(reg, "attestationObject").unwrap(),
            &cd,
            &Expected { origin: "https://evil.example", ..e }
        )
        .is_err());
        assert!(registration(&bytes(reg, "attestationObject").unwrap(), &cd, &Expected { rp_id: "evil.example", ..e })
            .is_err());
        assert!(check_client_data(&cd, "webauthn.get", &e).is_err());

        let a = &v["assertion"]["response"];
        let (cd, ad, sig) = (
            bytes(a, "clientDataJSON").unwrap(),
            bytes(a, "authenticatorData").unwrap(),
            bytes(a, "signature").unwrap(),
        );
        let challenge = challenge_of(&cd);
        let e = Expected { challenge: &challenge, origin, rp_id: "localhost", require_uv: true };
        check_client_data(&cd, "webauthn.get", &e).unwrap();
        let parsed = parse_auth_data(&ad).unwrap();
        check_auth_data(&parsed, &e).unwrap();
        assert!(counter_moved_on(auth.sign_count, parsed.sign_count));
        let crypto = crate::keys::native::NativeCrypto::from_set(
            &crate::keys::PrivateJwkSet::parse(crate::keys::test_key::MULTI).unwrap(),
        )
        .unwrap();
        let verify = |data: &[u8]| {
            crate::keys::native::block_on(crypto.verify_with(&key, data, &jws_signature(Alg::ES256, &sig).unwrap()))
                .unwrap()
        };
        assert!(verify(&signed_data(&ad, &cd)), "the recorded signature verifies");
        let mut changed = ad.clone();
        changed[32] ^= BE;
        assert!(!verify(&signed_data(&changed, &cd)), "one flag changed: it does not");
    }

    #[test]
    fn counters_must_move_forward() {
        assert!(counter_moved_on(0, 0));
        assert!(counter_moved_on(5, 6));
        assert!(!counter_moved_on(5, 5));
        assert!(!counter_moved_on(5, 3));
        assert!(!counter_moved_on(5, 0));
    }
}
