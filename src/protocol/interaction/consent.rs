//! The consent form (POST /consent): Allow remembers the consent and issues the code
//! (RFC 6749 §4.1.2, RFC 9207 `iss`); Deny answers `access_denied`. Either uses the form up.

use super::INVALID;
use crate::audit::{Event, Kind};
use crate::error::{ErrorCode, OAuthError};
use crate::http::{Request, Response};
use crate::objects::account::{Allow, AllowReply, GrantRef};
use crate::objects::grant::{Decline, DeclineReply};
use crate::pages::ErrorText;
use crate::protocol::failure::{Failure, EXPIRED, SESSION_ENDED, USED};
use crate::protocol::issue::CodeIssue;
use crate::protocol::redirect::ErrorRedirect;
use crate::protocol::{random, session, Backend, Provider};
use crate::store::{AccountStore, GrantStore};

impl<B: Backend> Provider<'_, B> {
    pub async fn consent(&self, req: &Request) -> Result<Response, Failure> {
        let (form, ix) = self.open_form(req)?;
        let locale = ix.locale;
        let Some(user) = ix.user.clone() else {
            return Err(Failure::page(locale, 400, ErrorText { message: "error.sign_in_first.message", ..INVALID }));
        };
        let (redirect_uri, state) = (ix.redirect_uri.clone(), ix.state.clone());
        let to = ErrorRedirect { redirect_uri: &redirect_uri, state: state.as_deref() };
        match form.get("decision") {
            Some("allow") => {}
            Some("deny") => {
                // Deny uses the form up too: it cannot be allowed (or denied) afterwards.
                let decline = Decline { fresh_until: ix.unreserved.then_some(ix.exp) };
                return match self.grants.send(&ix.grant_id, decline).await {
                    Ok(DeclineReply::Declined) => {
                        let e = Event::new(Kind::ConsentDenied).client(&ix.client_id).reason("access_denied");
                        self.event(e.maybe_subject(user.local_sub.as_deref().or(Some(&user.sub))));
                        let err = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
                        Err(Failure::redirect(&to, err))
                    }
                    Ok(DeclineReply::Conflict) => Err(Failure::page(locale, 400, USED)),
                    Ok(DeclineReply::NotReserved) => Err(Failure::page(locale, 400, EXPIRED)),
                    Err(e) => Err(Failure::from(e).to_client(&to)),
                };
            }
            _ => {
                let e = ErrorText { message: "error.choose_allow_deny.message", ..INVALID };
                return Err(Failure::page(locale, 400, e));
            }
        }
        // Consent is given by the person signed in, in this browser, now: the session cookie of
        // the same user, live in their account object (a consent page left open after signing
        // out yields nothing).
        let local_sub = user.local_sub.clone().unwrap_or_else(|| user.sub.clone());
        let Some(id_hash) =
            session::from_request(req, self.config.secure_cookies).filter(|c| c.sub == local_sub).map(|c| c.id_hash())
        else {
            return Err(Failure::page(locale, 403, SESSION_ENDED));
        };
        let new_home = random(crate::model::grant::new_home()).map_err(|f| f.to_client(&to))?;
        // Remember the consent (and the session's new client) and the grant under it first:
        // a grant not on record could not be revoked by withdrawing the consent.
        let allow = Allow {
            id_hash,
            client_id: ix.client_id.clone(),
            items: ix.consent.clone(),
            grant: GrantRef::new(ix.grant_id.clone(), self.grant_expiry(&ix.scope)),
            new_home,
        };
        match self.accounts.send(&local_sub, allow).await {
            Ok(AllowReply::Allowed { evicted }) => {
                self.revoke_grants("consent", &evicted).await;
                self.event(Event::new(Kind::ConsentGranted).client(&ix.client_id).subject(&local_sub));
            }
            Ok(AllowReply::NoSession) => return Err(Failure::page(locale, 403, SESSION_ENDED)),
            Err(e) => return Err(Failure::from(e).to_client(&to)),
        }
        let grant_id = ix.grant_id.clone();
        let how = if ix.unreserved { CodeIssue::Fresh } else { CodeIssue::Issue };
        self.issue_code(grant_id, ix.into_grant(user), &to, how, locale).await
    }
}
