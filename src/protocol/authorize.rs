//! Authorization endpoint (OpenID Connect Core §3.1.2, RFC 6749 §4.1.1, RFC 7636 §4.3).
//!
//! An ordered list of checks. Until the client and its redirect URI are established, an
//! error is shown as a page and never redirected (OpenID Connect Core §3.1.2.6, RFC 6749
//! §4.1.2.1: no open redirector). After that, errors go back to the client with `error`,
//! `error_description`, `state` and `iss` (RFC 9207) (`checks`). A valid request shows the
//! sign-in page, or answers at once for a live session (`Provider::with_session`).

mod checks;

pub use checks::Hint;
use checks::Validated;

use super::clients::ClientError;
use super::failure::{Failure, INVALID, MISCONFIGURED};
use super::interaction::{Interaction, SignedIn};
use super::issue::CodeIssue;
use super::redirect::ErrorRedirect;
use super::{random, session, Backend, Provider};
use crate::crypto::{random_token, Crypto};
use crate::error::{ErrorCode, OAuthError};
use crate::http::{Request, Response};
use crate::model::grant::homed_grant_id;
use crate::model::strength::Level;
use crate::model::Client;
use crate::objects::account::{Check, CheckReply};
use crate::objects::grant::{Reserve, ReserveReply};
use crate::pages::ErrorText;
use crate::store::{AccountStore, GrantStore, UserStore};

pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 512;

impl<B: Backend> Provider<'_, B> {
    pub async fn authorize(&self, req: &Request) -> Result<Response, Failure> {
        let params = match req.method.as_str() {
            "GET" | "HEAD" => req.query_params(),
            // OpenID Connect Core §3.1.2.1: POST with a form body is also supported.
            _ => req.form(),
        };
        let params = params.map_err(|e| Failure::page_detail(self.locale(req, None), 400, INVALID, e.description))?;
        let ui = self.ui(self.locale(req, params.get("ui_locales")));
        let locale = ui.text.locale;
        let invalid = |detail: &str| Failure::page_detail(locale, 400, INVALID, detail);
        // 1. The client.
        let client_id = params.get("client_id").ok_or_else(|| invalid("The request has no client_id."))?;
        let client = match self.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                let e = ErrorText::new("error.unknown_client.title", "error.unknown_client.message", "invalid_client");
                return Err(Failure::page(locale, 400, e));
            }
            Err(ClientError::Unusable(m)) => return Err(Failure::page_detail(locale, 400, MISCONFIGURED, &m).logged(m)),
            Err(ClientError::Store(e)) => return Err(Failure::from(e).on_page(locale)),
        };
        // 2. The redirect URI: required by OpenID Connect, matched exactly.
        let redirect_uri = params.get("redirect_uri").ok_or_else(|| invalid("The request has no redirect_uri."))?;
        if !client.has_redirect_uri(redirect_uri) {
            let e = ErrorText::new("error.redirect_uri.title", "error.redirect_uri.message", "invalid_request");
            let detail = "redirect_uri is not registered for this client (exact match required)";
            return Err(Failure::page_detail(locale, 400, e, detail));
        }
        if client.sector().is_some() && self.pairwise_salt.is_none() {
            let m = format!(
                "client '{}' asks for pairwise subjects but the PAIRWISE_SALT secret is not set",
                client.client_id
            );
            return Err(Failure::page_detail(locale, 400, MISCONFIGURED, &m).logged(m));
        }
        // Registration §2: the ID tokens this client asks for need a signing key of its algorithm.
        let alg = client.id_token_signed_response_alg;
        if self.crypto.signing_kid(alg).is_none() {
            let m = format!(
                "client '{}' asks for ID tokens signed with {alg} (id_token_signed_response_alg) but SIGNING_KEYS has no {alg} signing key",
                client.client_id
            );
            return Err(Failure::page_detail(locale, 400, MISCONFIGURED, &m).logged(m));
        }
        let to = ErrorRedirect { redirect_uri, state: params.get("state") };
        // 3. Everything else goes back to the client.
        let valid = self.validate(&client, &params).await.map_err(|f| f.to_client(&to))?;
        let grant_id = random(random_token::<16>()).map_err(|f| f.to_client(&to))?;
        let mut ix = self.interaction(req, &client, &valid, redirect_uri, grant_id, &ui);
        // 4. A live session may answer without a page (OpenID Connect Core §3.1.2.3). Signing
        // in again (prompt=login, max_age), the user reaches at least the session's level.
        match self.with_session(req, &client, &valid, &ix, &to).await? {
            Ok(r) => return Ok(r),
            Err(Some(level)) if level > Level::Pwd && valid.required < level => {
                ix.required_acr = Some(level.as_str().to_string());
            }
            Err(_) => {}
        }
        if valid.prompt.none {
            return Err(Failure::redirect(&to, OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in")));
        }
        let hint = params.get("login_hint").unwrap_or("");
        Ok(self.login_page(200, &ix, hint, None))
    }

    /// With a session cookie: a code straight away when the session is fresh enough, is the
    /// expected user and the consent is remembered; the consent page when only the consent
    /// is missing; otherwise sign in (`Err`, with the level the session had, if any).
    async fn with_session(
        &self,
        req: &Request,
        client: &Client,
        valid: &Validated,
        ix: &Interaction,
        to: &ErrorRedirect<'_>,
    ) -> Result<Result<Response, Option<Level>>, Failure> {
        let Some(cookie) = session::from_request(req, self.config.secure_cookies) else { return Ok(Err(None)) };
        let sub = self.sub_for_sector(client.sector().as_deref(), &cookie.sub);
        // id_token_hint / claims sub naming another user than the signed-in one: sign in again.
        if valid.expected_subs.iter().any(|s| *s != sub) {
            return Ok(Err(None));
        }
        let check = Check {
            id_hash: cookie.id_hash(),
            client_id: client.client_id.clone(),
            items: valid.release.consent.clone(),
            max_age: valid.max_age,
            issue: !valid.prompt.consent && !valid.prompt.login,
        };
        let (username, auth_time, home, amr, acr) = match self.accounts.send(&cookie.sub, check).await {
            Ok(CheckReply::Active { username, auth_time, issue, amr, acr, .. }) => {
                (username, auth_time, issue, amr, acr)
            }
            Ok(CheckReply::NoSession) => return Ok(Err(None)),
            Err(e) => return Err(Failure::from(e).to_client(to)),
        };
        // §3.1.2.1 max_age: re-authenticate when the session is older. A session that did not
        // reach the level this sign-in needs: sign in again, more strongly.
        let level = Level::of(&amr);
        if valid.prompt.login || level < valid.required || valid.max_age.is_some_and(|m| self.now - auth_time > m) {
            return Ok(Err(Some(level)));
        }
        let user = match self.users.by_username(&username).await {
            Ok(Some(u)) if u.sub == cookie.sub => u,
            Ok(_) => return Ok(Err(None)), // the account was removed or re-created
            Err(e) => return Err(Failure::from(e).to_client(to)),
        };
        let signed_in = SignedIn {
            local_sub: (sub != cookie.sub).then(|| cookie.sub.clone()),
            sub,
            username,
            auth_time,
            claims: user.claims_named(ix.id_token_claims.iter().map(String::as_str)),
            amr,
            acr,
        };
        // A fresh session, the consent on record, no prompt=consent: a code without a page.
        if let Some(home) = home {
            // No form was shown, so nothing to use up: the code carries the grant (one object
            // call here). Its id names the object that keeps this user's grants at this client
            // (model::grant::homed_grant_id), where the token endpoint stores it: that object
            // exists already, so redeeming creates none, and withdrawing the consent revokes
            // every grant in it at once.
            let grant_id = random(homed_grant_id(&home)).map_err(|f| f.to_client(to))?;
            let ix = ix.clone();
            let locale = ix.locale;
            let code = self.issue_code(grant_id, ix.into_grant(signed_in), to, CodeIssue::Sealed, locale);
            return code.await.map(Ok);
        }
        if valid.prompt.none {
            let err = OAuthError::new(ErrorCode::ConsentRequired, "the user has not allowed this application yet");
            return Err(Failure::redirect(to, err));
        }
        // The consent form is used once: reserve its grant id.
        let reserve = Reserve { expires_at: self.now + self.config.interaction_ttl };
        match self.grants.send(&ix.grant_id, reserve).await {
            Ok(ReserveReply::Reserved) => {}
            Ok(ReserveReply::Conflict) => {
                return Err(Failure::unavailable("authorize: a new grant id was taken").to_client(to))
            }
            Err(e) => return Err(Failure::from(e).to_client(to)),
        }
        let consent = Interaction { user: Some(signed_in), ..ix.clone() };
        Ok(Ok(self.consent_page(&consent)))
    }
}
