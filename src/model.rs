//! The records: clients, users, custom scopes and resources (KV, written by operators) and
//! grants (Durable Object),
//! and the rules on their values (scopes, PKCE).

pub mod client;
pub mod custom_scope;
pub mod grant;
pub mod passkey;
pub mod pkce;
pub mod resource;
pub mod scope;
pub mod strength;
pub mod uri;
pub mod user;

pub use client::{AuthMethod, Client, SubjectType};
pub use custom_scope::ScopeDef;
pub use grant::Grant;
pub use resource::{Resource, TokenFormat};
pub use user::User;
