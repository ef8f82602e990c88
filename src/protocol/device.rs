//! Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser
//! in which an account signed in successfully carries a cookie that says so, HMAC-protected
//! under the device key derived from `SESSION_KEY`. A sign-in to that account from that
//! browser is not counted against the client IP, so a password-guessing storm from a shared
//! address (carrier NAT, an office, a relay) does not slow down the people behind it who
//! signed in there before. The per-account lock still applies to everyone.

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
    exp: i64,
}

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-oidc_device"
    } else {
        "oidc_device"
    }
}

/// Whether the browser signed in to the account `account_key` before (a valid, unexpired
/// device cookie for it).
pub fn knows(req: &Request, secure: bool, key: &[u8; 32], account_key: &str, now: i64) -> bool {
    let Some(value) = req.cookie(cookie_name(secure)) else { return false };
    match sealed::open::<Device>(CONTEXT, key, value, now, |d| d.exp) {
        Ok(d) => crate::crypto::ct_eq(d.a.as_bytes(), account_key.as_bytes()),
        Err(OpenError::Invalid | OpenError::Expired) => false,
    }
}

/// `Set-Cookie` for a browser that just signed in to `account_key`.
pub fn set_cookie(secure: bool, key: &[u8; 32], account_key: &str, now: i64) -> String {
    let value = sealed::seal(CONTEXT, key, &Device { a: account_key.to_string(), exp: now + LIFETIME_SECONDS });
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
        let c = set_cookie(true, &key, "login:abc", 100);
        assert!(c.starts_with("__Host-oidc_device=") && c.contains("HttpOnly") && c.ends_with("; Secure"));
        let req = with_cookie(&c);
        assert!(knows(&req, true, &key, "login:abc", 100));
        assert!(!knows(&req, true, &key, "login:other", 100), "another account");
        assert!(!knows(&req, true, &[4u8; 32], "login:abc", 100), "another key (SESSION_KEY replaced)");
        assert!(!knows(&req, true, &key, "login:abc", 100 + LIFETIME_SECONDS), "expired");
        assert!(!knows(&req, false, &key, "login:abc", 100), "the http name is another cookie");
        let forged = with_cookie("__Host-oidc_device=eyJhIjoibG9naW46YWJjIiwiZXhwIjo5OTk5OTk5OTk5fQ.AAAA");
        assert!(!knows(&forged, true, &key, "login:abc", 100));
    }
}
