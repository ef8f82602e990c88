//! OAuth 2.0 / OpenID Connect errors.
//!
//! Each [`ErrorCode`] variant is an error code registered by RFC 6749 (§4.1.2.1, §5.2),
//! RFC 6750 (§3.1), RFC 7591 (§3.2.2), RFC 8707 (§2) or OpenID Connect Core 1.0 (§3.1.2.6). An [`OAuthError`] pairs a code
//! with a client-safe description; the platform layer turns every error into a response,
//! so nothing reaches the runtime as `Err`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2: missing, repeated or malformed parameter.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the code is invalid, expired, used, or bound to something else.
    InvalidGrant,
    /// RFC 6749 §4.1.2.1, §5.2: the client may not use this grant or response type.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1, §5.2.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the user or the server denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1.
    ServerError,
    /// RFC 6749 §4.1.2.1: a store did not answer; retry later.
    TemporarilyUnavailable,
    /// OpenID Connect Core §3.1.2.6: `prompt=none` and no authenticated session.
    LoginRequired,
    /// OpenID Connect Core §3.1.2.6.
    ConsentRequired,
    /// OpenID Connect Core §3.1.2.6.
    RequestNotSupported,
    /// OpenID Connect Core §3.1.2.6.
    RequestUriNotSupported,
    /// RFC 6750 §3.1: the access token is missing, expired, revoked or malformed.
    InvalidToken,
    /// RFC 6750 §3.1: the access token does not carry the scope the request needs.
    InsufficientScope,
    /// RFC 8707 §2: the resource is invalid, missing, unknown or malformed.
    InvalidTarget,
    /// RFC 7591 §3.2.2: a redirect URI of a registration is not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: other client metadata of a registration is not acceptable.
    InvalidClientMetadata,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
        }
    }

    /// HTTP status for JSON error responses (RFC 6749 §5.2, RFC 6750 §3.1).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            ErrorCode::AccessDenied | ErrorCode::InsufficientScope => 403,
            _ => 400,
        }
    }
}

/// An error with a description safe to show the client or the user. Descriptions never
/// echo what a request sent (a value, a claim name, an unknown parameter's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// Only RFC 6749 §5.2's characters (%x20-21 / %x23-5B / %x5D-7E) ([`description_text`]).
    pub description: String,
}

/// `text` in the characters RFC 6749 §5.2 allows in `error_description`: `§` is spelled
/// "section", quotes become apostrophes, a backslash a slash, anything else outside the set
/// (non-ASCII, controls) a question mark.
pub fn description_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '§' => out.push_str("section "),
            '"' | '“' | '”' | '’' => out.push('\''),
            '\\' => out.push('/'),
            '\u{20}'..='\u{7e}' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.replace("section  ", "section ")
}

/// A name taken from a request, for a description: shown when it is plainly a parameter or
/// claim name (`a-z`, `_`, at most 32), else "a parameter".
pub fn quoted_name(name: &str) -> String {
    if !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        format!("'{name}'")
    } else {
        "a parameter".into()
    }
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError { code, description: description_text(&description.into()) }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTarget, d)
    }
    pub fn unavailable(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, d)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_stay_within_rfc6749_characters() {
        let e = OAuthError::invalid_request("repeated (RFC 6749 §3.1): \"x\" \\ é\u{7}\nend");
        assert_eq!(e.description, "repeated (RFC 6749 section 3.1): 'x' / ???end");
        assert!(e
            .description
            .bytes()
            .all(|b| b == 0x20 || b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)));
        assert_eq!(quoted_name("client_id"), "'client_id'");
        assert_eq!(quoted_name("<script>"), "a parameter");
        assert_eq!(quoted_name(&"a".repeat(33)), "a parameter");
    }
}

/// A storage failure. `Unavailable` is a store that failed or timed out (maps to
/// `temporarily_unavailable`); `Malformed` is a record that does not parse or validate, with a
/// message naming the record and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    Unavailable(String),
    Malformed(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
            StoreError::Malformed(m) => write!(f, "{m}"),
        }
    }
}
