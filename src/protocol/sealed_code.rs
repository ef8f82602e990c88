//! Authorization codes that carry their grant, for a returning user (live session, consent
//! on record): the authorization endpoint answers after one account-object call and stores no
//! grant; the token endpoint stores it at the first redemption (in the user's home object).
//!
//! Format: `<grant id>~<base64url(nonce ‖ XChaCha20-Poly1305(grant, expiry) ‖ tag)>`, under the
//! key derived from `SESSION_KEY` for this purpose (`SessionKeys::code`), the grant id as
//! associated data. Encrypted, not only
//! signed: the code travels through the browser (address bar, history, the client's logs) and
//! the grant holds the user's claims, username and own `sub` (which a pairwise client must not
//! see). `~` is unreserved in URIs (RFC 3986 §2.3) and a VSCHAR (RFC 6749 Appendix A.11).
//!
//! Single use (RFC 6749 §4.1.2) is still the grant object's: named after the grant id, it
//! stores the grant at the first redemption and treats a second as a replay (revoking what
//! was issued). Withdrawing the consent revokes the home: codes issued until then cannot
//! create their grant there afterwards (`grant_object::gate_sealed`, by the code's issue time).

use crate::crypto::{aead_open, aead_seal, b64url, b64url_decode};
use crate::model::grant::{is_b64url, is_grant_id};
use crate::model::Grant;
use crate::objects::grant::{secret_hash, GrantState};
use serde::{Deserialize, Serialize};

/// Separates the grant id from the sealed grant (never in a `<grant id>.<secret>` handle).
pub const SEPARATOR: char = '~';
/// Longest sealed part accepted (a grant with many claims stays far below).
const MAX_SEALED_LEN: usize = 8192;

/// What is sealed: `G` is `&Grant` when sealing, `Grant` when opening.
#[derive(Serialize, Deserialize)]
struct Payload<G> {
    grant: G,
    /// When the code expires (seconds since the epoch).
    exp: i64,
    /// When it was issued (0 in codes sealed before this field existed).
    #[serde(default)]
    iat: i64,
}

/// An opened code: the grant state it stands for, and when it was issued.
#[derive(Debug)]
pub struct Opened {
    pub state: GrantState,
    pub issued_at: i64,
}

/// The code for `grant`, issued at `issued_at`, valid until `expires_at`.
pub fn seal(key: &[u8; 32], grant_id: &str, grant: &Grant, issued_at: i64, expires_at: i64) -> Result<String, String> {
    let json = serde_json::to_vec(&Payload { grant, exp: expires_at, iat: issued_at }).map_err(|e| e.to_string())?;
    let sealed = aead_seal(key, grant_id.as_bytes(), &json)?;
    Ok(format!("{grant_id}{SEPARATOR}{}", b64url(&sealed)))
}

/// `(grant id, sealed part)` when `code` has this format (else it may be a handle code).
pub fn split(code: &str) -> Option<(&str, &str)> {
    let (id, sealed) = code.split_once(SEPARATOR)?;
    (is_grant_id(id) && is_b64url(sealed, 1, MAX_SEALED_LEN)).then_some((id, sealed))
}

/// The grant state a sealed code stands for: its `code_hash` is the hash of the sealed part
/// (so that the grant object recognises the same code presented again). `None` if it was
/// not sealed by this provider for this grant id. Expiry is left to the grant object, which
/// checks replay first (RFC 6749 §4.1.2: a used code presented again revokes, even late).
pub fn open(key: &[u8; 32], grant_id: &str, sealed: &str) -> Option<Opened> {
    let bytes = b64url_decode(sealed)?;
    let json = aead_open(key, grant_id.as_bytes(), &bytes)?;
    let p: Payload<Grant> = serde_json::from_slice(&json).ok()?;
    Some(Opened { state: GrantState::new(p.grant, secret_hash(sealed), p.exp), issued_at: p.iat })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        serde_json::from_value(serde_json::json!({
            "client_id": "app", "redirect_uri": "https://app.example/cb", "scope": "openid email",
            "sub": "pairwise-sub", "local_sub": "user-own-sub", "username": "alice",
            "auth_time": 100, "id_token_claims": {"email": "alice@example.com"}
        }))
        .unwrap()
    }

    #[test]
    fn round_trip_and_binding() {
        let code = seal(&[1; 32], "grant-id-0123456789", &grant(), 100, 160).unwrap();
        let (id, sealed) = split(&code).unwrap();
        assert_eq!(id, "grant-id-0123456789");
        let Opened { state: st, issued_at } = open(&[1; 32], id, sealed).unwrap();
        assert_eq!(issued_at, 100);
        assert_eq!(st.grant, grant());
        assert_eq!(st.code_expires_at, 160);
        assert_eq!(st.code_hash, secret_hash(sealed));
        // Another key, another grant id, a changed byte: nothing opens.
        assert!(open(&[2; 32], id, sealed).is_none());
        assert!(open(&[1; 32], "grant-id-0123456788", sealed).is_none());
        let mut bytes = b64url_decode(sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(open(&[1; 32], id, &b64url(&bytes)).is_none());
        // Two codes for the same grant differ (random nonce).
        assert_ne!(code, seal(&[1; 32], "grant-id-0123456789", &grant(), 100, 160).unwrap());
    }

    #[test]
    fn contents_are_not_readable() {
        let code = seal(&[1; 32], "grant-id-0123456789", &grant(), 100, 160).unwrap();
        let raw = b64url_decode(split(&code).unwrap().1).unwrap();
        let text = String::from_utf8_lossy(&raw);
        for secret in ["alice", "user-own-sub", "example.com", "openid"] {
            assert!(!text.contains(secret), "{secret} readable in the code");
        }
    }

    #[test]
    fn split_rejects_other_shapes() {
        assert!(split("grant-id-0123456789.secret").is_none());
        assert!(split("short~abc").is_none());
        assert!(split("grant-id-0123456789~").is_none());
        assert!(split("grant-id-0123456789~a b").is_none());
        assert!(split(&format!("grant-id-0123456789~{}", "a".repeat(MAX_SEALED_LEN + 1))).is_none());
    }
}
