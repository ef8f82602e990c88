//! Issuing an authorization code (RFC 6749 §4.1.2): stored in the grant's object reserved when
//! the sign-in page was shown (each form works once), or, for a returning user answered with
//! no page, sealed into the code itself ([`super::sealed_code`]).

use super::failure::{Failure, EXPIRED, USED};
use super::redirect::{code_redirect, ErrorRedirect};
use super::{random, sealed_code, Backend, Provider};
use crate::audit::{Event, Kind};
use crate::crypto::random_token;
use crate::error::{ErrorCode, OAuthError};
use crate::http::Response;
use crate::i18n::Locale;
use crate::model::Grant;
use crate::objects::grant::{secret_hash, Create, GrantState, Issue, IssueReply};
use crate::store::GrantStore;

/// Where an authorization code's grant is kept until the code is redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeIssue {
    /// In the grant object reserved at sign-in (each form works once).
    Issue,
    /// In a grant object created now: the sign-in reserved none (a passkey's, whose challenge
    /// is answered once in the account object); a second form for the id finds it taken.
    Fresh,
    /// In the code itself ([`super::sealed_code`]): no form to protect, no object yet.
    Sealed,
}

impl<B: Backend> Provider<'_, B> {
    /// Stores the grant with a new authorization code and redirects to the client with it
    /// (RFC 6749 §4.1.2, RFC 9207 `iss`); pages (in `locale`) for a form used or expired.
    pub async fn issue_code(
        &self,
        grant_id: String,
        grant: Grant,
        to: &ErrorRedirect<'_>,
        how: CodeIssue,
        locale: Locale,
    ) -> Result<Response, Failure> {
        let expires_at = self.now + self.config.code_ttl;
        if how == CodeIssue::Sealed {
            let code = sealed_code::seal(&self.keys.code, &grant_id, &grant, self.now, expires_at).map_err(|e| {
                Failure::redirect(to, OAuthError::new(ErrorCode::ServerError, "internal error")).logged(e)
            })?;
            self.event(Event::new(Kind::CodeIssued).client(&grant.client_id).subject(grant.local_sub()));
            return Ok(code_redirect(to, &self.config.issuer, &code));
        }
        let secret = random(random_token::<32>()).map_err(|f| f.to_client(to))?;
        let (client_id, sub) = (grant.client_id.clone(), grant.local_sub().to_string());
        let state = Box::new(GrantState::new(grant, secret_hash(&secret), expires_at));
        let sent = match how {
            CodeIssue::Fresh => self.grants.send(&grant_id, Create { state }).await,
            _ => self.grants.send(&grant_id, Issue { state }).await,
        };
        match sent {
            Ok(IssueReply::Issued) => {
                self.event(Event::new(Kind::CodeIssued).client(&client_id).subject(&sub));
                Ok(code_redirect(to, &self.config.issuer, &format!("{grant_id}.{secret}")))
            }
            // The consent form works once; a replay gets a page, not a second code.
            Ok(IssueReply::Conflict) => Err(Failure::page(locale, 400, USED)),
            Ok(IssueReply::NotReserved) => Err(Failure::page(locale, 400, EXPIRED)),
            Err(e) => Err(Failure::from(e).to_client(to)),
        }
    }
}
