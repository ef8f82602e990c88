//! One failure type for every endpoint: the error the client or the person is told (an RFC
//! error code and a description safe to show), what the operator's log says (never a secret,
//! code, token or password), and how it is delivered — JSON (RFC 6749 §5.2, RFC 6750 §3), an
//! error page in the person's language, or a redirect back to the client (RFC 6749 §4.1.2.1,
//! with `state` and `iss`). Endpoints return `Result<Response, Failure>`; the router turns a
//! failure into its response and logs it, once.

use super::redirect::{error_redirect, ErrorRedirect};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{error_json, Response};
use crate::i18n::Locale;
use crate::pages::{self, ErrorText};

/// How a failure reaches its reader.
#[derive(Debug)]
pub enum Delivery {
    /// A JSON error body (token, userinfo, revocation, introspection endpoints).
    Json,
    /// An error page: its texts, status and language, and a technical detail for the
    /// application's developer (shown under the message).
    Page { text: ErrorText<'static>, status: u16, locale: Locale, detail: Option<String> },
    /// A page already rendered: a form shown again with what went wrong (a sign-in page
    /// that says "try again in a moment").
    Rendered(Response),
    /// Back to the client's (registered, matched) redirect URI.
    Redirect { redirect_uri: String, state: Option<String> },
}

#[derive(Debug)]
pub struct Failure {
    /// What the client or the person is told.
    pub error: OAuthError,
    /// What the operator's log says, if anything.
    pub detail: Option<String>,
    /// Boxed: a failure travels through every `?` of an endpoint.
    pub delivery: Box<Delivery>,
    /// A status other than the error code's own (429 for a throttled client).
    pub status: Option<u16>,
    /// Headers the response carries besides the usual (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
}

/// What a store that did not answer (or answered badly) is for the client: RFC 6749
/// `temporarily_unavailable`, one sentence for every store.
pub const UNAVAILABLE: &str = "the service is temporarily unavailable, retry";

impl Failure {
    /// A JSON error.
    pub fn json(error: OAuthError) -> Failure {
        Failure { error, detail: None, delivery: Box::new(Delivery::Json), status: None, headers: vec![] }
    }

    /// `temporarily_unavailable`, with what failed for the log.
    pub fn unavailable(detail: impl Into<String>) -> Failure {
        Failure { detail: Some(detail.into()), ..Failure::json(OAuthError::unavailable(UNAVAILABLE)) }
    }

    /// An error page; `text.code` is the RFC code shown to the application's developer.
    pub fn page(locale: Locale, status: u16, text: ErrorText<'static>) -> Failure {
        let error = OAuthError::invalid_request(text.detail.unwrap_or_default());
        Failure { delivery: Box::new(Delivery::Page { text, status, locale, detail: None }), ..Failure::json(error) }
    }

    /// An error page with a technical detail for the application's developer, shown under
    /// the message (`.logged(..)` puts it in the operator's log too).
    pub fn page_detail(locale: Locale, status: u16, text: ErrorText<'static>, detail: impl Into<String>) -> Failure {
        let detail = detail.into();
        let error = OAuthError::invalid_request(detail.clone());
        let delivery = Box::new(Delivery::Page { text, status, locale, detail: Some(detail) });
        Failure { delivery, ..Failure::json(error) }
    }

    /// A page already rendered (with `detail` for the log).
    pub fn rendered(response: Response, detail: impl Into<String>) -> Failure {
        let error = OAuthError::unavailable(UNAVAILABLE);
        Failure {
            detail: Some(detail.into()),
            delivery: Box::new(Delivery::Rendered(response)),
            ..Failure::json(error)
        }
    }

    /// Back to the client with `error`.
    pub fn redirect(to: &ErrorRedirect<'_>, error: OAuthError) -> Failure {
        Failure::json(error).to_client(to)
    }

    /// With another status than the error code's own.
    pub fn with_status(mut self, status: u16) -> Failure {
        self.status = Some(status);
        self
    }

    /// With a header (`WWW-Authenticate`, `Retry-After`).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Failure {
        self.headers.push((name, value.into()));
        self
    }

    /// With a line for the operator's log.
    pub fn logged(mut self, detail: impl Into<String>) -> Failure {
        self.detail = Some(detail.into());
        self
    }

    /// The same failure, delivered as a page in `locale` (a store failure met while a page
    /// is being answered): `temporarily_unavailable` becomes the "try again" page.
    pub fn on_page(self, locale: Locale) -> Failure {
        let text = match self.error.code {
            ErrorCode::TemporarilyUnavailable => UNAVAILABLE_PAGE,
            _ => ErrorText::new("error.invalid_request.title", "error.invalid_request.message", "invalid_request"),
        };
        let status = if self.error.code == ErrorCode::TemporarilyUnavailable { 503 } else { 400 };
        Failure { delivery: Box::new(Delivery::Page { text, status, locale, detail: None }), ..self }
    }

    /// The same failure, delivered back to the client.
    pub fn to_client(self, to: &ErrorRedirect<'_>) -> Failure {
        let delivery =
            Delivery::Redirect { redirect_uri: to.redirect_uri.to_string(), state: to.state.map(str::to_string) };
        Failure { delivery: Box::new(delivery), ..self }
    }

    /// The response, in the language and look of `config`.
    pub fn into_response(self, config: &crate::config::Config) -> Response {
        let mut r = match *self.delivery {
            Delivery::Json => error_json(&self.error),
            Delivery::Page { text, status, locale, detail } => {
                let ui = pages::Ui::new(config, locale);
                let text = ErrorText { detail: detail.as_deref().or(text.detail), ..text };
                let r = pages::error_page(&ui, status, text);
                if status == 503 {
                    r.with_header("retry-after", "5")
                } else {
                    r
                }
            }
            Delivery::Rendered(r) => r,
            Delivery::Redirect { redirect_uri, state } => {
                let to = ErrorRedirect { redirect_uri: &redirect_uri, state: state.as_deref() };
                error_redirect(&to, &config.issuer, &self.error)
            }
        };
        if let Some(s) = self.status {
            r = r.with_status(s);
        }
        for (name, value) in &self.headers {
            r = r.with_header(name, value);
        }
        r
    }
}

/// An error for a JSON reader (redirected or shown by the caller where that is the way).
impl From<OAuthError> for Failure {
    fn from(error: OAuthError) -> Failure {
        Failure::json(error)
    }
}

/// A store's failure: `temporarily_unavailable` (a malformed record is the caller's to name).
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::unavailable(e.to_string())
    }
}

/// Error pages shared by the endpoints (message keys; see static/i18n/en.json).
pub const INVALID: ErrorText<'static> =
    ErrorText::new("error.invalid_request.title", "error.invalid_request.message", "invalid_request");
pub const MISCONFIGURED: ErrorText<'static> =
    ErrorText::new("error.misconfigured.title", "error.misconfigured.message", "invalid_client");
pub const EXPIRED: ErrorText<'static> =
    ErrorText::new("error.expired.title", "error.expired.message", "invalid_request");
pub const USED: ErrorText<'static> = ErrorText::new("error.used.title", "error.used.message", "invalid_request");
pub const REFUSED: ErrorText<'static> =
    ErrorText::new("error.refused.title", "error.refused.message", "invalid_request");
pub const CROSS_SITE: ErrorText<'static> =
    ErrorText::new("error.refused.title", "error.cross_site.message", "invalid_request");
pub const SESSION_ENDED: ErrorText<'static> =
    ErrorText::new("error.refused.title", "error.session_ended.message", "invalid_request");
pub const UNAVAILABLE_PAGE: ErrorText<'static> =
    ErrorText::new("error.unavailable.title", "error.unavailable.message", "temporarily_unavailable");
