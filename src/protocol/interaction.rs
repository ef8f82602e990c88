//! The sign-in and consent forms (`login`, `consent`, their `pages`) and the state
//! they carry between requests: the validated authorization request (and, after sign-in, who
//! signed in), sealed into a hidden form field with HMAC-SHA256 under a key derived from
//! `SESSION_KEY`. It is bound to the browser by an anti-CSRF cookie whose value it carries: a
//! form posted from another site, or from a browser that did not load the page, is refused.

mod complete;
mod consent;
mod login;
mod pages;
mod second;

pub use login::{MAX_LOGIN_LEN, MAX_PASSWORD_LEN};
pub use second::{device_name, Step};

use super::failure::{Failure, CROSS_SITE, EXPIRED, INVALID, REFUSED};
pub use super::sealed::OpenError;
use super::{sealed, Backend, Provider};
use crate::crypto::ct_eq;
use crate::http::{Params, Request};
use crate::i18n::Locale;
use crate::model::{Client, Grant, TokenFormat};
use crate::pages::ErrorText;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const CONTEXT: &[u8] = b"edge-oidc/interaction/v1\0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uri: String,
    /// Scopes to grant, space-separated.
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// The anti-CSRF cookie value this page belongs to.
    pub csrf: String,
    /// The id the grant will have: reserved at login and used at consent, so that each
    /// form can be submitted once.
    pub grant_id: String,
    /// The sign-in reserved no grant id (a passkey's: its challenge is answered once in the
    /// account object): the consent creates the grant, or declines an id never used.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreserved: bool,
    /// Seconds since the epoch after which the page is refused.
    pub exp: i64,
    /// The sector identifier when the client receives pairwise subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    /// Set once the user has signed in (consent stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<SignedIn>,
    /// Claim names for the ID token and for userinfo ([`super::claims::Release`]).
    #[serde(default)]
    pub id_token_claims: Vec<String>,
    #[serde(default)]
    pub userinfo_claims: Vec<String>,
    /// What the user consents to (scopes and `claim:<name>` items) and its description.
    #[serde(default)]
    pub consent: Vec<String>,
    #[serde(default)]
    pub descriptions: Vec<String>,
    /// `prompt=consent`: ask even when the consent is remembered.
    #[serde(default)]
    pub force_consent: bool,
    /// The `sub` the signed-in user must have (id_token_hint, claims `sub` value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_subs: Vec<String>,
    /// The custom scopes granted and the claims each releases.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_scopes: BTreeMap<String, Vec<String>>,
    /// The language of the pages (chosen at the authorization request).
    #[serde(default)]
    pub locale: Locale,
    /// The client's links and logo, for the consent page.
    #[serde(default, skip_serializing_if = "ClientLinks::is_empty")]
    pub links: ClientLinks,
    /// The resource the access tokens are for (RFC 8707), and its tokens' lifetime and
    /// format, as its record says now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "TokenFormat::is_default")]
    pub access_token_format: TokenFormat,
    /// A client the operator did not register (a metadata document, a registration): the
    /// consent page says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unregistered: bool,
    /// The level the sign-in must reach (`model::strength`): `mfa` or `phr`; none: a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_acr: Option<String>,
    /// `acr` values asked for as an essential claim: the ID token reports one of them
    /// (OpenID Connect Core §5.5.1.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_essential: Vec<String>,
    /// A first factor was given and a second is asked for: who, and what they did so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// A sign-in half done: the user and how they signed in so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub sub: String,
    pub username: String,
    pub amr: Vec<String>,
    /// The device cookie's id for this account (kept, or made at the first factor).
    pub device: String,
}

/// OpenID Connect Registration §2 metadata the consent page shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
}

impl ClientLinks {
    pub fn of(c: &Client) -> ClientLinks {
        ClientLinks {
            client_uri: c.client_uri.clone(),
            logo_uri: c.logo_uri.clone(),
            policy_uri: c.policy_uri.clone(),
            tos_uri: c.tos_uri.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == ClientLinks::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedIn {
    /// The `sub` for this client.
    pub sub: String,
    /// The user's own `sub`, when `sub` is pairwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_sub: Option<String>,
    pub username: String,
    pub auth_time: i64,
    /// The ID token claims for the granted scopes, read at login.
    pub claims: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

impl Interaction {
    /// The level the sign-in must reach.
    pub fn required(&self) -> crate::model::strength::Level {
        self.required_acr.as_deref().and_then(crate::model::strength::Level::parse).unwrap_or_default()
    }

    pub fn seal(&self, key: &[u8]) -> String {
        sealed::seal(CONTEXT, key, self)
    }

    pub fn open(sealed: &str, key: &[u8], now: i64) -> Result<Interaction, OpenError> {
        sealed::open(CONTEXT, key, sealed, now, |i: &Interaction| i.exp)
    }

    /// The grant this interaction produces once the user allows it.
    pub fn into_grant(self, user: SignedIn) -> Grant {
        Grant {
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            scope: self.scope,
            nonce: self.nonce,
            code_challenge: self.code_challenge,
            code_challenge_method: self.code_challenge_method,
            sub: user.sub,
            local_sub: user.local_sub,
            username: user.username,
            auth_time: user.auth_time,
            id_token_claims: user.claims,
            userinfo_claims: self.userinfo_claims,
            custom_scopes: self.custom_scopes,
            resource: self.resource,
            access_token_ttl: self.access_token_ttl,
            access_token_format: self.access_token_format,
            amr: user.amr,
            acr: crate::protocol::strength::reported(user.acr, &self.acr_essential),
        }
    }
}

pub fn csrf_cookie_name(secure: bool) -> &'static str {
    // RFC 6265bis §4.1.3.2: `__Host-` pins the cookie to this origin (needs Secure).
    if secure {
        "__Host-oidc_csrf"
    } else {
        "oidc_csrf"
    }
}

/// A state-changing form post to a page of the signed-in person ("Applications you allowed",
/// the account page): refused from another site (403), read, and its `csrf` field compared in
/// constant time with the browser's anti-CSRF cookie (403 when they differ).
pub fn signed_in_form(req: &Request, issuer: &str, secure: bool, locale: Locale) -> Result<Params, Failure> {
    if req.is_cross_site(issuer) {
        return Err(Failure::page(locale, 403, CROSS_SITE));
    }
    let form = req.form().map_err(|e| Failure::page_detail(locale, 400, INVALID, e.description))?;
    let csrf_ok = match (form.get("csrf"), csrf_cookie(req, secure)) {
        (Some(a), Some(b)) => ct_eq(a.as_bytes(), b.as_bytes()),
        _ => false,
    };
    if !csrf_ok {
        let e = ErrorText::new("error.refused.title", "error.consents.reload", "invalid_request");
        return Err(Failure::page(locale, 403, e));
    }
    Ok(form)
}

/// The browser's anti-CSRF value, if it sent a well-formed one.
pub fn csrf_cookie(req: &Request, secure: bool) -> Option<&str> {
    req.cookie(csrf_cookie_name(secure))
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The browser's anti-CSRF value if it has one (so several tabs can share it), else a fresh
/// one from the CSPRNG.
pub fn csrf_value(req: &Request, secure: bool) -> Result<String, String> {
    match csrf_cookie(req, secure) {
        Some(existing) => Ok(existing.to_string()),
        None => crate::crypto::random_token::<32>(),
    }
}

pub fn set_csrf_cookie(value: &str, secure: bool, max_age: i64) -> String {
    let mut c = format!("{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax", csrf_cookie_name(secure));
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Does the posting browser hold the cookie this page was issued for?
pub fn csrf_matches(req: &Request, secure: bool, interaction: &Interaction) -> bool {
    csrf_cookie(req, secure).is_some_and(|v| ct_eq(v.as_bytes(), interaction.csrf.as_bytes()))
}

/// A form whose state cannot be read (tampered with, or not ours).
const INVALID_FORM: ErrorText<'static> = ErrorText { message: "error.invalid_form.message", ..INVALID };

impl<B: Backend> Provider<'_, B> {
    /// Parses a posted form and opens its interaction, checking the anti-CSRF binding.
    /// Problems found before the interaction is open are shown in the browser's language.
    fn open_form(&self, req: &Request) -> Result<(Params, Interaction), Failure> {
        let locale = self.locale(req, None);
        // A form posted from another site is refused before anything else (CSRF, RFC 9700
        // §4.4.1; the anti-CSRF cookie and SameSite are the other two lines).
        if req.is_cross_site(&self.config.issuer) {
            return Err(Failure::page(locale, 403, CROSS_SITE));
        }
        let form = req.form().map_err(|e| Failure::page_detail(locale, 400, INVALID, e.description))?;
        let tx = form.get("tx").ok_or_else(|| Failure::page(locale, 400, INVALID_FORM))?;
        let ix = match Interaction::open(tx, &self.keys.page, self.now) {
            Ok(ix) => ix,
            Err(OpenError::Expired) => return Err(Failure::page(locale, 400, EXPIRED)),
            Err(OpenError::Invalid) => return Err(Failure::page(locale, 400, INVALID_FORM)),
        };
        if !csrf_matches(req, self.config.secure_cookies, &ix) {
            return Err(Failure::page(ix.locale, 403, REFUSED));
        }
        Ok((form, ix))
    }

    /// Until when a grant with this scope can hold a live token: for the account object's
    /// record of it. A grant with `offline_access` lives as long as it is refreshed.
    fn grant_expiry(&self, scope: &str) -> i64 {
        if scope.split(' ').any(|s| s == crate::model::scope::OFFLINE_ACCESS) {
            crate::objects::account::NEVER
        } else {
            self.now + self.config.code_ttl + self.config.access_token_ttl
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Interaction {
        Interaction {
            client_id: "c".into(),
            client_name: "C".into(),
            redirect_uri: "https://c.example/cb".into(),
            scope: "openid".into(),
            state: Some("s".into()),
            nonce: None,
            code_challenge: None,
            code_challenge_method: None,
            csrf: "x".repeat(43),
            grant_id: "g".repeat(22),
            unreserved: false,
            sector: None,
            exp: 100,
            user: None,
            id_token_claims: vec![],
            userinfo_claims: vec!["email".into()],
            consent: vec!["openid".into()],
            descriptions: vec![],
            force_consent: false,
            expected_subs: vec![],
            custom_scopes: Default::default(),
            locale: Locale::De,
            links: ClientLinks { policy_uri: Some("https://c.example/privacy".into()), ..Default::default() },
            resource: None,
            access_token_ttl: None,
            access_token_format: TokenFormat::Opaque,
            unregistered: false,
            required_acr: None,
            acr_essential: vec![],
            pending: None,
        }
    }

    #[test]
    fn seal_open_tamper_expire() {
        let key = b"0123456789abcdef0123456789abcdef";
        let s = sample().seal(key);
        assert_eq!(Interaction::open(&s, key, 50).unwrap(), sample());
        assert_eq!(Interaction::open(&s, key, 100), Err(OpenError::Expired));
        assert_eq!(Interaction::open(&s, b"another key", 50), Err(OpenError::Invalid));
        let (p, t) = s.split_once('.').unwrap();
        let mut forged = sample();
        forged.client_id = "evil".into();
        let forged_payload = crate::crypto::b64url(serde_json::to_string(&forged).unwrap().as_bytes());
        assert_eq!(Interaction::open(&format!("{forged_payload}.{t}"), key, 50), Err(OpenError::Invalid));
        assert_eq!(Interaction::open(p, key, 50), Err(OpenError::Invalid));
        assert_eq!(Interaction::open("garbage", key, 50), Err(OpenError::Invalid));
    }
}
