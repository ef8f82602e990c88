//! Client authentication at the token endpoint (RFC 6749 §2.3.1, OpenID Connect Core §9):
//! exactly the method the client is registered with, one method per request: a secret
//! (Basic or in the body), a signed JWT (`private_key_jwt`, RFC 7523, checked in
//! `assertion`), or none for a public client.

use super::assertion::AssertionError;
use crate::audit::{Event, Kind};
use crate::crypto::{b64url, verify_client_secret};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Params, Request};
use crate::model::{AuthMethod, Client};
use crate::objects::throttle::{self, Command as TCommand, Verdict};
use crate::protocol::clients::ClientError;
use crate::protocol::failure::Failure;
use crate::protocol::{Backend, Provider};
use crate::store::ThrottleStore;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::join;

/// The credentials a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    pub method: AuthMethod,
    /// A `private_key_jwt` client's assertion (RFC 7523 §2.2).
    pub assertion: Option<String>,
}

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An authentication failure; `basic` says whether the request used HTTP Basic (then the
/// 401 carries `WWW-Authenticate: Basic`, RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub error: OAuthError,
    pub basic: bool,
    /// No client has the presented id.
    pub unknown: bool,
    /// For the operator's log (a client record that cannot be read).
    pub detail: Option<String>,
}

/// RFC 6749 §2.3.1: the id and the secret are each form-urlencoded (Appendix B) before
/// Basic encoding, so each is decoded as one value: `+` is a space, `%XX` a byte, and nothing
/// else is special (a literal `&` or `=` stays as it is). `None` for a bad `%` sequence or
/// bytes that are not UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let hex = |c: Option<u8>| (c? as char).to_digit(16);
                (hex(bytes.next())? * 16 + hex(bytes.next())?) as u8
            }
            other => other,
        });
    }
    String::from_utf8(out).ok()
}

pub fn presented(req: &Request, form: &Params) -> Result<Presented, AuthError> {
    let basic = req.header("authorization").and_then(|h| {
        let (scheme, rest) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim().to_string())
    });
    let body_secret = form.get("client_secret");
    let body_id = form.get("client_id");
    let assertion = form.get("client_assertion");
    if assertion.is_some() || form.get("client_assertion_type").is_some() {
        let fail = |d: &str| AuthError {
            error: OAuthError::invalid_client(d),
            basic: basic.is_some(),
            unknown: false,
            detail: None,
        };
        if basic.is_some() || body_secret.is_some() {
            return Err(fail("use one client authentication method, not a client assertion and a secret together"));
        }
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(fail("client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        }
        let assertion = assertion.ok_or_else(|| fail("client_assertion is missing"))?;
        // RFC 7523 §3: the client is the assertion's subject; client_id, if sent, must agree.
        let sub = super::assertion::unverified_subject(assertion)
            .ok_or_else(|| fail("client_assertion is not a JWT with a sub"))?;
        if body_id.is_some_and(|b| b != sub) {
            return Err(fail("client_id does not match the client assertion's sub"));
        }
        return Ok(Presented {
            client_id: sub,
            secret: None,
            method: AuthMethod::PrivateKeyJwt,
            assertion: Some(assertion.to_string()),
        });
    }
    if let Some(b64) = basic {
        let fail =
            |d: &str| AuthError { error: OAuthError::invalid_client(d), basic: true, unknown: false, detail: None };
        if body_secret.is_some() {
            return Err(fail("use one client authentication method, not Basic and client_secret together"));
        }
        let raw =
            STANDARD.decode(b64.as_bytes()).map_err(|_| fail("the Basic authorization header is not valid base64"))?;
        let raw = String::from_utf8(raw).map_err(|_| fail("the Basic authorization header is not valid UTF-8"))?;
        let (id, secret) = raw.split_once(':').ok_or_else(|| fail("the Basic authorization header has no ':'"))?;
        let id = form_decode(id).ok_or_else(|| fail("malformed client id in the Basic header"))?;
        let secret = form_decode(secret).ok_or_else(|| fail("malformed client secret in the Basic header"))?;
        if id.is_empty() {
            return Err(fail("the Basic authorization header has an empty client id"));
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(fail("client_id in the body does not match the Basic authorization header"));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            method: AuthMethod::ClientSecretBasic,
            assertion: None,
        });
    }
    let fail = |d: &str| AuthError { error: OAuthError::invalid_client(d), basic: false, unknown: false, detail: None };
    let Some(id) = body_id else {
        return Err(fail("client authentication is required (client_secret_basic, client_secret_post, private_key_jwt, or client_id for public clients)"));
    };
    let (secret, method) = match body_secret {
        Some(s) => (Some(s.to_string()), AuthMethod::ClientSecretPost),
        None => (None, AuthMethod::None),
    };
    Ok(Presented { client_id: id.to_string(), secret, method, assertion: None })
}

/// Checks the presented credentials against the client found (or not) for them; an
/// assertion's signature is checked afterwards (`assertion`), with the client's keys.
pub fn authenticate(
    found: Result<Option<Client>, ClientError>,
    p: &Presented,
) -> Result<Result<Client, AuthError>, StoreError> {
    let basic = p.method == AuthMethod::ClientSecretBasic;
    let fail = |d: String| AuthError { error: OAuthError::invalid_client(d), basic, unknown: false, detail: None };
    let client = match found {
        Ok(Some(c)) => c,
        Ok(None) => {
            // Same work as a real check, so unknown ids are not told apart by timing.
            let _ = verify_client_secret(p.secret.as_deref().unwrap_or(""), &format!("sha256:{}", b64url(&[0; 32])));
            return Ok(Err(AuthError { unknown: true, ..fail("client authentication failed".into()) }));
        }
        Err(ClientError::Unusable(m)) => return Ok(Err(AuthError { detail: Some(m.clone()), ..fail(m) })),
        Err(ClientError::Store(e)) => return Err(e),
    };
    if client.token_endpoint_auth_method != p.method {
        return Ok(Err(fail(format!(
            "this client is registered for {}, not {}",
            client.token_endpoint_auth_method.as_str(),
            p.method.as_str()
        ))));
    }
    Ok(match (&p.secret, &client.client_secret_hash, &p.assertion) {
        (Some(secret), Some(hash), None) if verify_client_secret(secret, hash) => Ok(client),
        (None, None, _) => Ok(client),
        _ => Err(fail("client authentication failed".into())),
    })
}

/// The failure: RFC 6749 §5.2 JSON. `invalid_client` is a 401, which carries a challenge
/// (RFC 9110 §15.5.2): the scheme a client may authenticate with in a header, Basic (RFC 6749
/// §5.2 requires it when the client tried the header).
impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Failure {
        let challenge = e.error.code == ErrorCode::InvalidClient;
        let f = Failure { detail: e.detail, ..Failure::json(e.error) };
        if challenge {
            f.with_header("www-authenticate", BASIC_CHALLENGE)
        } else {
            f
        }
    }
}

/// The challenge of a client authentication failure.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"token\", charset=\"UTF-8\"";

/// 429 for a client (or an address) past its limit, with `Retry-After`.
fn too_many(description: String, retry_after: i64) -> Failure {
    Failure::json(OAuthError::invalid_client(description))
        .with_status(429)
        .with_header("retry-after", retry_after.to_string())
}

impl<B: Backend> Provider<'_, B> {
    /// The prologue of the token, revocation and introspection endpoints: the form body and
    /// the client it authenticates.
    pub async fn client_form(&self, req: &Request) -> Result<(Params, Client), Failure> {
        let form = req.form()?;
        let client = self.authenticate_client(req, &form).await?;
        Ok((form, client))
    }

    /// Client authentication for the token, revocation and introspection endpoints, with
    /// failures counted per client and IP (the check runs in parallel with the client lookup).
    pub async fn authenticate_client(&self, req: &Request, form: &Params) -> Result<Client, Failure> {
        let p = presented(req, form)?;
        let key = throttle::client_key(&p.client_id, req.client_ip());
        let (verdict, found) = join(self.throttles.send(&key, TCommand::Check), self.client(&p.client_id)).await;
        let auth = match authenticate(found, &p) {
            // A client assertion is checked with the client's keys (fetched, for a jwks_uri).
            Ok(Ok(client)) if p.method == AuthMethod::PrivateKeyJwt => {
                let assertion = p.assertion.as_deref().unwrap_or_default();
                match self.check_assertion(&client, assertion, req).await {
                    Ok(()) => Ok(Ok(client)),
                    Err(AssertionError::Refused(e)) => Ok(Err(e)),
                    Err(AssertionError::Failed(f)) => return Err(f),
                }
            }
            other => other,
        };
        let had_failures = match verdict? {
            Verdict::Busy => {
                return Err(too_many("too many client authentications at once; retry after 1 second".into(), 1))
            }
            Verdict::Blocked { retry_after, .. } => {
                self.event(Event::new(Kind::ClientAuthenticationFailed).client(&p.client_id).reason("locked"));
                let d = format!("too many failed client authentications; retry after {retry_after} seconds");
                return Err(too_many(d, retry_after));
            }
            v => v == Verdict::AllowedAfterFailures,
        };
        let e = match auth? {
            Ok(client) => {
                if had_failures {
                    if let Err(e) = self.throttles.send(&key, TCommand::Succeed).await {
                        (self.log)(&format!("client authentication: throttle store: {e}"));
                    }
                }
                return Ok(client);
            }
            Err(e) => e,
        };
        if e.error.code == ErrorCode::InvalidClient {
            let reason = if e.unknown { "unknown_client" } else { "bad_credentials" };
            self.event(Event::new(Kind::ClientAuthenticationFailed).client(&p.client_id).reason(reason));
            // A made-up client id is counted under the address only: no object per id.
            let key = if e.unknown { throttle::unknown_clients_key(req.client_ip()) } else { key };
            let fail = TCommand::Fail { policy: self.config.client_policy() };
            match self.throttles.send(&key, fail).await {
                // The address is past its limit of made-up ids: it waits like a guesser.
                Ok(Verdict::Blocked { retry_after, .. }) if e.unknown => {
                    let d = format!("too many failed client authentications; retry after {retry_after} seconds");
                    return Err(too_many(d, retry_after));
                }
                Ok(_) => {}
                Err(se) => (self.log)(&format!("client authentication: throttle store: {se}")),
            }
        }
        Err(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_each_form_decoded_once() {
        assert_eq!(form_decode("a+b%2Bc").as_deref(), Some("a b+c"));
        assert_eq!(form_decode("s&e=c%26r%3Det").as_deref(), Some("s&e=c&r=et"), "a literal & or = is kept");
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        for bad in ["%", "%4", "%zz", "%FF"] {
            assert_eq!(form_decode(bad), None, "{bad}");
        }
        let basic = |id: &str, secret: &str| {
            let v = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
            Request { headers: vec![("authorization".into(), v)], ..Default::default() }
        };
        let p = presented(&basic("my%3Aclient", "pa:ss&w=rd"), &Params::default()).unwrap();
        assert_eq!(
            (p.client_id.as_str(), p.secret.as_deref()),
            ("my:client", Some("pa:ss&w=rd")),
            "split on the first ':'"
        );
    }
}
