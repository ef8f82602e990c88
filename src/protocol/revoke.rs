//! Revoking grants as a whole (RFC 7009 §2.1 semantics: every token of each): a consent
//! withdrawn, or grants pushed out of a full consent record.

use super::{Backend, Provider};
use crate::objects::grant::RevokeAll;
use crate::store::GrantStore;
use futures_util::future::join_all;

impl<B: Backend> Provider<'_, B> {
    /// Revokes `grants`, in parallel; false if any could not be revoked (each failure logged).
    pub async fn revoke_grants(&self, what: &str, grants: &[String]) -> bool {
        let results = join_all(grants.iter().map(|g| self.grants.send(g, RevokeAll {}))).await;
        let mut all = true;
        for e in results.into_iter().filter_map(Result::err) {
            (self.log)(&format!("{what}: revoking a grant failed: {e}"));
            all = false;
        }
        all
    }
}
