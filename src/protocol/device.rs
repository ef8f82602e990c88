//! Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser
//! in which an account signed in successfully carries a cookie that says so, with a random
//! id, HMAC-protected under the device key derived from `SESSION_KEY`. A sign-in to that
//! account from that browser is counted against that device alone, not against the account
//! or the client IP: a password-guessing storm (from anywhere, a shared address included)
//! neither slows down nor locks out the people who signed in there before. A device that
//! fails is locked like an account.

use super::sealed::{self, OpenError};
use crate::http::Request;
use serde::{Deserialize, Serialize};

const CONTEXT: &[u8] = b"edge-oidc/device/v1\0";
/// How long a browser stays known after its last successful sign-in.
pub const LIFETIME_SECONDS: i64 = 90 * 86_400;

#[derive(Serialize, Deserialize)]
struct Device {
    /// The account's throttle key (`throttle::account_key`): a hash, not the name.
    a: String,
    /// The device's random id: its failures are counted under it.
    n: String,
    exp: i64,
}

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-oidc_device"
    } else {
        "oidc_device"
    }
}

/// The id of this browser as a device of the account `account_key`, if it signed in to it
/// before (a valid, unexpired device cookie for it).
pub fn known(req: &Request, secure: bool, key: &[u8; 32], account_key: &str, now: i64) -> Option<String> {
    let value = req.cookie(cookie_name(secure))?;
    match sealed::open::<Device>(CONTEXT, key, value, now, |d| d.exp) {
        Ok(d) if crate::crypto::ct_eq(d.a.as_bytes(), account_key.as_bytes()) && !d.n.is_empty() => Some(d.n),
        Ok(_) | Err(OpenError::Invalid | OpenError::Expired) => None,
    }
}

/// `Set-Cookie` for a browser that just signed in to `account_key` as the device `id` (its
/// id kept, or a new random one).
pub fn set_cookie(secure: bool, key: &[u8; 32], account_key: &str, id: &str, now: i64) -> String {
    let device = Device { a: account_key.to_string(), n: id.to_string(), exp: now + LIFETIME_SECONDS };
    let value = sealed::seal(CONTEXT, key, &device);
    let mut c = format!("{}={value}; Path=/; Max-Age={LIFETIME_SECONDS}; HttpOnly; SameSite=Lax", cookie_name(secure));
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(c: &str) -> Request {
        let pair = c.split(';').next().unwrap_or_default().to_string();
        Request { headers: vec![("cookie".into(), pair)], ..Default::default() }
    }

    #[test]
    fn known_only_for_its_account_key_and_lifetime() {
        let key = [3u8; 32];
        let c = set_cookie(true, &key, "login:abc", "dev-1", 100);
        assert!(c.starts_with("__Host-oidc_device=") && c.contains("HttpOnly") && c.ends_with("; Secure"));
        let req = with_cookie(&c);
        assert_eq!(known(&req, true, &key, "login:abc", 100).as_deref(), Some("dev-1"));
        assert_eq!(known(&req, true, &key, "login:other", 100), None, "another account");
        assert_eq!(known(&req, true, &[4u8; 32], "login:abc", 100), None, "another key (SESSION_KEY replaced)");
        assert_eq!(known(&req, true, &key, "login:abc", 100 + LIFETIME_SECONDS), None, "expired");
        assert_eq!(known(&req, false, &key, "login:abc", 100), None, "the http name is another cookie");
        let forged = with_cookie("__Host-oidc_device=eyJhIjoibG9naW46YWJjIiwiZXhwIjo5OTk5OTk5OTk5fQ.AAAA");
        assert_eq!(known(&forged, true, &key, "login:abc", 100), None);
    }
}
