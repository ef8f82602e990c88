//! edge-oidc: an OpenID Connect provider for Cloudflare Workers.
//!
//! Layers, from the top down (docs/architecture.md; `tests/layout.rs` keeps them):
//! - `platform` (wasm32 only): the only code that touches the Workers runtime.
//! - [`protocol`]: one module per endpoint, each a function of a parsed request, the stores,
//!   the clock and the signer. Runs under plain `cargo test` on the host.
//! - [`pages`], [`config`], [`brand`]: what people see, and the operator's settings.
//! - [`store`]: the narrow storage traits, per-isolate caches, in-memory implementations.
//! - [`objects`]: the Durable Objects' state machines, `apply(state, command, now)`.
//! - [`model`]: the records operators keep in KV (clients, users, scopes) and the grant;
//!   plain data with validation.
//! - [`audit`]: the security and audit events, one JSON line each.
//! - [`i18n`], [`keys`], [`crypto`], [`html`], [`http`], [`error`]: the foundations.

// No panic can be reached from a request: request paths may not
// unwrap, expect, panic or index unchecked. Enforced by `make clippy`, part of `make test`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::todo,
        clippy::unimplemented,
        clippy::unreachable
    )
)]

pub mod audit;
pub mod brand;
pub mod config;
pub mod crypto;
pub mod error;
pub mod html;
pub mod http;
pub mod i18n;
pub mod keys;
pub mod model;
pub mod objects;
pub mod pages;
pub mod protocol;
pub mod store;

#[cfg(target_arch = "wasm32")]
mod platform;
