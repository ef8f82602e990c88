//! The `sub` a client receives (OpenID Connect Core §8): the user's own, or for a client with
//! pairwise subjects one derived from its sector under `PAIRWISE_SALT` (§8.1).

use super::{Backend, Provider};

impl<B: Backend> Provider<'_, B> {
    /// The `sub` a client in `sector` (pairwise) or any other client receives.
    pub fn sub_for_sector(&self, sector: Option<&str>, local_sub: &str) -> String {
        match (sector, self.pairwise_salt) {
            (Some(sector), Some(salt)) => crate::crypto::pairwise_sub(salt, sector, local_sub),
            _ => local_sub.to_string(),
        }
    }
}
