//! Helpers for the end-to-end tests.
//!
//! The tests run against a real `wrangler dev` started and seeded by `scripts/e2e.sh`, which
//! passes everything they need in `E2E_*` environment variables. Two kinds of HTTP client are
//! used:
//!
//! * [`Recorder`]: the relying party's client, handed to the `openidconnect` crate (no
//!   redirects, as openidconnect 4 requires). It keeps every response so a test can also check
//!   headers the crate does not expose (e.g. `Cache-Control: no-store` on the token response).
//! * [`Browser`]: the user agent, a cookie-keeping client that never follows redirects, used to
//!   drive the provider's HTML login and consent pages.
//!
//! Negative tests talk to the endpoints directly ([`token_request`], [`userinfo`],
//! [`AuthzRequest`]) so they can assert exact statuses, error codes and headers.

pub use openidconnect;

mod abuse;
mod authz;
mod browser;
mod clients;
mod env;
mod raw;
mod rp;
mod signing;

pub use abuse::*;
pub use authz::*;
pub use browser::*;
pub use clients::*;
pub use env::*;
pub use raw::*;
pub use rp::*;
pub use signing::*;
