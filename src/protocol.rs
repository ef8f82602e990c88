//! One module per endpoint. Each is a method on [`Provider`]: a function of the parsed
//! request, the stores, the clock and the signer, returning a response value.
//! [`router::handle`] dispatches by method and path.

pub mod account_object;
pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod consents;
pub mod device;
pub mod discovery;
pub mod grant_object;
pub mod id_token;
pub mod interaction;
pub mod login;
pub mod logout;
pub mod pkce;
pub mod refresh;
pub mod revocation;
pub mod router;
pub mod sealed;
pub mod sealed_code;
pub mod session;
pub mod throttle;
pub mod token;
pub mod userinfo;

use crate::config::Config;
use crate::http::Request;
use crate::i18n::{self, Locale};
use crate::pages::Ui;

/// Everything an endpoint may use. Built per request by the platform layer (and by tests,
/// with in-memory stores and a fixed `now`).
pub struct Provider<'a, C, U, G, T, A, K> {
    pub config: &'a Config,
    pub clients: &'a C,
    pub users: &'a U,
    pub grants: &'a G,
    pub throttles: &'a T,
    /// Users' sessions and consents (one Durable Object per user).
    pub accounts: &'a A,
    /// Signing (it owns the key set and its kids), verification, password hashing.
    pub crypto: &'a K,
    /// The keys derived from `SESSION_KEY` (page state, sealed codes, device cookies).
    pub keys: &'a crate::crypto::SessionKeys,
    /// Key for pairwise subject identifiers (`PAIRWISE_SALT`), if configured.
    pub pairwise_salt: Option<&'a [u8]>,
    /// Seconds since the epoch.
    pub now: i64,
    /// Operator-facing log line (never given secrets, codes, tokens or passwords).
    pub log: &'a dyn Fn(&str),
}

impl<'a, C, U, G, T, A, K> Provider<'a, C, U, G, T, A, K> {
    /// The page language for this request: `ui_locales` (OpenID Connect Core §3.1.2.1,
    /// RP-Initiated Logout §2) if given, then `Accept-Language`, then `DEFAULT_LOCALE`.
    pub fn locale(&self, req: &Request, ui_locales: Option<&str>) -> Locale {
        i18n::negotiate(ui_locales, req.header("accept-language"), self.config.default_locale)
    }

    /// What pages in `locale` are rendered with.
    pub fn ui(&self, locale: Locale) -> Ui<'a> {
        Ui::new(self.config, locale)
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
