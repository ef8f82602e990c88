//! The seeded clients.

use crate::*;

/// The clients the script registers: one per token endpoint authentication method, and two
/// that may use refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `client_secret_basic`
    Basic,
    /// `client_secret_post`, and registered without PKCE (`--pkce optional`, a legacy client)
    Post,
    /// `none` (public client, PKCE required)
    Public,
    /// `client_secret_basic`, refresh_token grant, scope with offline_access
    Refresh,
    /// `none`, refresh_token grant, scope with offline_access
    PublicRefresh,
}

impl Kind {
    pub fn id(self) -> &'static str {
        let e = env();
        match self {
            Kind::Basic => &e.basic_id,
            Kind::Post => &e.post_id,
            Kind::Public => &e.public_id,
            Kind::Refresh => &e.refresh_id,
            Kind::PublicRefresh => &e.public_refresh_id,
        }
    }

    pub fn name(self) -> &'static str {
        let e = env();
        match self {
            Kind::Basic => &e.basic_name,
            Kind::Post => &e.post_name,
            Kind::Public => &e.public_name,
            Kind::Refresh => &e.refresh_name,
            Kind::PublicRefresh => &e.public_refresh_name,
        }
    }

    pub fn secret(self) -> Option<&'static str> {
        let e = env();
        match self {
            Kind::Basic => Some(&e.basic_secret),
            Kind::Post => Some(&e.post_secret),
            Kind::Refresh => Some(&e.refresh_secret),
            Kind::Public | Kind::PublicRefresh => None,
        }
    }

    /// How this client correctly authenticates at the token endpoint.
    pub fn auth(self) -> ClientAuth<'static> {
        match self {
            Kind::Basic | Kind::Refresh => ClientAuth::Basic(self.id(), self.secret().unwrap()),
            Kind::Post => ClientAuth::Post(self.id(), self.secret().unwrap()),
            Kind::Public | Kind::PublicRefresh => ClientAuth::IdOnly(self.id()),
        }
    }
}
