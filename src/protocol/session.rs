//! The browser login session cookie. Its value is `<base64url(sub)>.<session id>`: the
//! user's own `sub` names their account Durable Object (where the session lives, see
//! [`crate::objects::account`]), and the 256-bit random session id is the secret, stored
//! there only as a SHA-256 hash. HttpOnly, SameSite=Lax, and `__Host-` with Secure when
//! the issuer is https (RFC 6265bis §4.1.3.2).

use crate::crypto::{b64url, b64url_decode, random_token};
use crate::http::Request;
use crate::objects::grant::secret_hash;

pub struct SessionCookie {
    /// The user's own `sub` (not pairwise).
    pub sub: String,
    pub id: String,
}

impl SessionCookie {
    pub fn new(sub: &str) -> Result<SessionCookie, String> {
        Ok(SessionCookie { sub: sub.to_string(), id: random_token::<32>()? })
    }

    pub fn id_hash(&self) -> String {
        secret_hash(&self.id)
    }

    pub fn value(&self) -> String {
        format!("{}.{}", b64url(self.sub.as_bytes()), self.id)
    }
}

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-oidc_session"
    } else {
        "oidc_session"
    }
}

/// The session cookie the browser sent, if well-formed.
pub fn from_request(req: &Request, secure: bool) -> Option<SessionCookie> {
    let v = req.cookie(cookie_name(secure))?;
    let (sub, id) = v.split_once('.')?;
    if sub.len() > 344 || id.len() != 43 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    let sub = String::from_utf8(b64url_decode(sub)?).ok().filter(|s| !s.is_empty() && s.is_ascii())?;
    Some(SessionCookie { sub, id: id.to_string() })
}

/// `Set-Cookie` for a new session lasting `max_age` seconds.
pub fn set_cookie(c: &SessionCookie, secure: bool, max_age: i64) -> String {
    let mut s = format!("{}={}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax", cookie_name(secure), c.value());
    if secure {
        s.push_str("; Secure");
    }
    s
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let mut s = format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax", cookie_name(secure));
    if secure {
        s.push_str("; Secure");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let c = SessionCookie::new("u-1").unwrap();
        let req = Request {
            headers: vec![("cookie".into(), format!("a=b; oidc_session={}", c.value()))],
            ..Default::default()
        };
        let back = from_request(&req, false).unwrap();
        assert_eq!((back.sub.as_str(), back.id.as_str()), ("u-1", c.id.as_str()));
        assert!(from_request(&req, true).is_none(), "the secure name is different");
        for bad in ["x", "dS0x.short", ".AAAA", "!!!.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let req = Request { headers: vec![("cookie".into(), format!("oidc_session={bad}"))], ..Default::default() };
            assert!(from_request(&req, false).is_none(), "{bad}");
        }
        assert!(set_cookie(&c, true, 60).starts_with("__Host-oidc_session="));
        assert!(set_cookie(&c, true, 60).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
