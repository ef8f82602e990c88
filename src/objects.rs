//! The Durable Objects' state machines, with no runtime types: each is
//! `apply(state, command, now) -> (what to write, reply)`, run atomically inside its object
//! (`platform/`: one event at a time, transactional storage) and, unchanged, by the in-memory
//! store of the host tests (`store::memory`).
//!
//! - [`grant`]: one authorization: its code, tokens, refresh family, revocation;
//! - [`home`]: a returning user's grants at one client, kept in one object;
//! - [`account`]: one user's browser sessions and the consents they gave;
//! - [`throttle`]: one failure counter (an account, an address, a client).

pub mod account;
pub mod grant;
pub mod home;
pub mod throttle;
