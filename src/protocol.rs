//! The endpoints, each a method on [`Provider`]: a function of the parsed request, the stores,
//! the clock and the signer, returning a response — or a [`failure::Failure`], which the
//! [`router`] turns into its response (JSON, page or redirect) and logs, once.
//!
//! - [`authorize`]: the authorization endpoint (OpenID Connect Core §3.1.2);
//! - [`interaction`]: the sign-in and consent forms it shows, and their state;
//! - [`token`]: the token endpoint, its grants and client authentication;
//! - [`userinfo`], [`revocation`] (and introspection), [`logout`], [`consents`] ("your
//!   applications"), [`discovery`];
//! - what several share, each in a module named after it: [`redirect`] (back to the client),
//!   [`issue`] (authorization codes), [`revoke`], [`subject`] (pairwise `sub`), [`claims`],
//!   [`id_token`], [`session`], [`sealed`] (page state), [`sealed_code`], [`device`].

pub mod access_token;
pub mod account;
pub mod admin;
pub mod authorize;
pub mod claims;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod device;
pub mod discovery;
pub mod enroll;
pub mod failure;
pub mod id_token;
pub mod interaction;
pub mod issue;
pub mod logout;
pub mod passkeys;
pub mod redirect;
pub mod registration;
pub mod resources;
pub mod revocation;
pub mod revoke;
pub mod router;
pub mod sealed;
pub mod sealed_code;
pub mod session;
pub mod strength;
pub mod subject;
pub mod token;
pub mod userinfo;

use crate::config::Config;
use crate::crypto::Crypto;
use crate::http::{Fetch, Request};
use crate::i18n::{self, Locale};
use crate::pages::Ui;
use crate::store::{AccountStore, ClientStore, GrantStore, ThrottleStore, UserStore};
use failure::Failure;

/// The stores and the crypto a provider runs on: KV, Durable Objects and WebCrypto in the
/// worker (`platform`), in-memory stores and a pure-Rust signer in the host tests.
pub trait Backend {
    type Clients: ClientStore;
    type Users: UserStore;
    type Grants: GrantStore;
    type Throttles: ThrottleStore;
    type Accounts: AccountStore;
    type Crypto: Crypto;
    /// Fetches from other servers (clients' metadata documents and JWK Sets).
    type Fetch: Fetch;
}

/// Everything an endpoint may use. Built per request by the platform layer (and by tests,
/// with in-memory stores and a fixed `now`).
pub struct Provider<'a, B: Backend> {
    pub config: &'a Config,
    pub clients: &'a B::Clients,
    pub users: &'a B::Users,
    pub grants: &'a B::Grants,
    pub throttles: &'a B::Throttles,
    /// Users' sessions and consents (one Durable Object per user).
    pub accounts: &'a B::Accounts,
    /// Signing (it owns the key set and its kids), verification, password hashing.
    pub crypto: &'a B::Crypto,
    pub fetch: &'a B::Fetch,
    /// The keys derived from `SESSION_KEY` (page state, sealed codes, device cookies).
    pub keys: &'a crate::crypto::SessionKeys,
    /// Key for pairwise subject identifiers (`PAIRWISE_SALT`), if configured.
    pub pairwise_salt: Option<&'a [u8]>,
    /// Seconds since the epoch.
    pub now: i64,
    /// Operator-facing log line (never given secrets, codes, tokens or passwords).
    pub log: &'a dyn Fn(&str),
    /// Security and audit events (crate::audit), one JSON line each.
    pub audit: &'a dyn Fn(crate::audit::Event<'_>),
}

impl<'a, B: Backend> Provider<'a, B> {
    /// The page language for this request: `ui_locales` (OpenID Connect Core §3.1.2.1,
    /// RP-Initiated Logout §2) if given, then `Accept-Language`, then `DEFAULT_LOCALE`.
    pub fn locale(&self, req: &Request, ui_locales: Option<&str>) -> Locale {
        i18n::negotiate(ui_locales, req.header("accept-language"), self.config.default_locale)
    }

    /// Reports a security or audit event (docs/events.md).
    pub fn event(&self, e: crate::audit::Event<'_>) {
        (self.audit)(e)
    }

    /// What pages in `locale` are rendered with.
    pub fn ui(&self, locale: Locale) -> Ui<'a> {
        Ui::new(self.config, locale)
    }
}

/// A random value, or the failure to make one (the platform's generator failed).
pub fn random<V>(v: Result<V, String>) -> Result<V, Failure> {
    v.map_err(|e| Failure::unavailable(format!("random: {e}")))
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
