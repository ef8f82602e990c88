//! One-time codes (RFC 6238 TOTP over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second steps —
//! what authenticator apps implement — and base32 (RFC 4648 §6) for the shared secret.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: i64 = 30;
/// Codes of the step before and after are accepted too (clock skew, RFC 6238 §5.2).
pub const WINDOW: i64 = 1;

/// RFC 4226 §5.3: the HOTP value of `counter`.
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return 0 };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.get(19).copied().unwrap_or(0) & 0x0f);
    let word = h
        .get(offset..offset + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_be_bytes(b) & 0x7fff_ffff);
    word % 10u32.pow(DIGITS)
}

/// The step `now` falls in.
pub fn step(now: i64) -> i64 {
    now.div_euclid(STEP_SECONDS)
}

/// The step whose code `code` is, within the window around `now`, if any (so that the caller
/// can refuse it a second time). Compared in constant time.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut found = None;
    for s in (step(now) - WINDOW)..=(step(now) + WINDOW) {
        let expected = format!("{:06}", hotp(secret, u64::try_from(s).unwrap_or(0)));
        if crate::crypto::ct_eq(expected.as_bytes(), code.as_bytes()) {
            found = Some(s);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn symbol(five_bits: u32) -> char {
    char::from(ALPHABET.get((five_bits & 31) as usize).copied().unwrap_or(b'A'))
}

/// RFC 4648 §6 base32, without padding (as `otpauth://` URIs carry it).
pub fn base32(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol(buffer >> bits));
        }
    }
    if bits > 0 {
        out.push(symbol(buffer << (5 - bits)));
    }
    out
}

/// The `otpauth://` URI authenticator apps take (Key Uri Format): issuer and account label.
pub fn otpauth_uri(secret_b32: &str, issuer: &str, account: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits there; the last 6 here).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, code8) in [
            (59, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
        ] {
            assert_eq!(hotp(secret, step(t) as u64), code8 % 1_000_000, "T={t}");
            assert_eq!(matching_step(secret, &format!("{:06}", code8 % 1_000_000), t), Some(step(t)));
        }
        // The next step is accepted, one further is not.
        let next = format!("{:06}", hotp(secret, (step(59) + 1) as u64));
        assert_eq!(matching_step(secret, &next, 59), Some(step(59) + 1));
        let far = format!("{:06}", hotp(secret, (step(59) + 2) as u64));
        assert_eq!(matching_step(secret, &far, 59), None);
        assert_eq!(matching_step(secret, "12345", 59), None);
        assert_eq!(matching_step(secret, "abcdef", 59), None);
    }

    #[test]
    fn base32_and_the_uri() {
        // RFC 4648 §10.
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        let uri = otpauth_uri("MZXW6YTBOI", "Example ID", "alice@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Example%20ID:alice%40example.com?secret=MZXW6YTBOI&issuer=Example%20ID"),
            "{uri}"
        );
    }
}
