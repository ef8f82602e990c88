//! A sign-in's end: once the user has shown enough (a password, a second factor, a passkey;
//! `model::strength`), a new session (a new id at every sign-in: no session fixation) that
//! remembers how they signed in, then the consent page or, for a consent on record, the code.

use super::second::Step;
use super::{Interaction, SignedIn};
use crate::error::{ErrorCode, OAuthError};
use crate::http::{Request, Response};
use crate::model::strength::Level;
use crate::model::User;
use crate::objects::account::{End, FactorsOf, GrantRef, Session, Start, Started, UseCredential, Used};
use crate::objects::grant::{Reserve, ReserveReply};
use crate::objects::throttle;
use crate::protocol::failure::{Failure, USED};
use crate::protocol::issue::CodeIssue;
use crate::protocol::passkeys::{self, Refused};
use crate::protocol::redirect::ErrorRedirect;
use crate::protocol::session::{self, SessionCookie};
use crate::protocol::{device, random, Backend, Provider};
use crate::store::{AccountStore, GrantStore};
use futures_util::future::join;

impl<B: Backend> Provider<'_, B> {
    /// The password checked out (`amr`): done, or a second factor is asked for — when the
    /// sign-in must reach a level the password does not, or the user turned one-time codes on.
    /// (A passkey completes the sign-in at once: `second::passkey_sign_in`.)
    pub(super) async fn after_first_factor(
        &self,
        req: &Request,
        ix: Interaction,
        user: &User,
        amr: Vec<String>,
        device: String,
    ) -> Result<Response, Failure> {
        let factors =
            self.accounts.send(&user.sub, FactorsOf {}).await.map_err(|e| self.unavailable(&ix, &user.username, e))?;
        if Step::of(&factors, &amr, ix.required()).finished {
            return self.complete_sign_in(req, ix, user, amr, &device, None).await;
        }
        let pending = super::Pending { sub: user.sub.clone(), username: user.username.clone(), amr, device };
        let ix = Interaction { pending: Some(pending), exp: self.now + self.config.interaction_ttl, ..ix };
        Ok(self.second_factor_page(200, &ix, &factors, None))
    }

    /// The session, and then the consent page or the code.
    pub(super) async fn complete_sign_in(
        &self,
        req: &Request,
        ix: Interaction,
        user: &User,
        amr: Vec<String>,
        device_id: &str,
        passkey: Option<UseCredential>,
    ) -> Result<Response, Failure> {
        let login = user.username.as_str();
        let acr = Some(Level::of(&amr).as_str().to_string());
        let signed_in = SignedIn {
            sub: self.sub_for_sector(ix.sector.as_deref(), &user.sub),
            local_sub: ix.sector.as_ref().filter(|_| self.pairwise_salt.is_some()).map(|_| user.sub.clone()),
            username: user.username.clone(),
            auth_time: self.now,
            claims: user.claims_named(ix.id_token_claims.iter().map(String::as_str)),
            amr: amr.clone(),
            acr: acr.clone(),
        };
        // id_token_hint or a claims `sub` value named someone else: no code or token for a
        // different user (OpenID Connect Core §3.1.2.1, §5.5.1).
        let to = ErrorRedirect { redirect_uri: &ix.redirect_uri, state: ix.state.as_deref() };
        if ix.expected_subs.iter().any(|s| *s != signed_in.sub) {
            let err = OAuthError::new(
                ErrorCode::LoginRequired,
                "the user who signed in is not the one the request names (id_token_hint or claims sub)",
            );
            return Err(Failure::redirect(&to, err));
        }
        // Claim the grant id first: a sign-in form works once, and a replayed one starts no
        // session (nor ends the browser's current one). A passkey's sign-in claims nothing: its
        // challenge is answered once per account, recorded with the session's start below
        // (WebAuthn §13.4.3); it goes on under a grant id of its own, which no other sign-in
        // from the same page can share, and its consent creates the grant (`CodeIssue::Fresh`).
        let ix = if passkey.is_some() {
            Interaction { grant_id: random(crate::crypto::random_token::<16>())?, unreserved: true, ..ix }
        } else {
            let reserve = Reserve { expires_at: self.now + self.config.interaction_ttl };
            match self.grants.send(&ix.grant_id, reserve).await {
                Ok(ReserveReply::Reserved) => ix,
                Ok(ReserveReply::Conflict) => return Err(Failure::page(ix.locale, 400, USED)),
                Err(e) => return Err(self.unavailable(&ix, login, e)),
            }
        };
        let with_passkey = passkey.is_some();
        let cookie = SessionCookie::new(&user.sub).map_err(|e| self.unavailable(&ix, login, e))?;
        let start = Start {
            session: Session {
                id_hash: cookie.id_hash(),
                username: user.username.clone(),
                auth_time: self.now,
                expires_at: self.now + self.config.session_ttl,
                clients: vec![],
                amr,
                acr,
            },
            client_id: ix.client_id.clone(),
            items: ix.consent.clone(),
            grant: (!ix.force_consent).then(|| GrantRef::new(ix.grant_id.clone(), self.grant_expiry(&ix.scope))),
            passkey,
        };
        // The browser's previous session (if any) ends: one session per browser.
        let end_old = async {
            if let Some(old) = session::from_request(req, self.config.secure_cookies) {
                let end = End { id_hash: old.id_hash(), client_id: None };
                if let Err(e) = self.accounts.send(&old.sub, end).await {
                    (self.log)(&format!("login: could not end the previous session: {e}"));
                }
            }
        };
        // The consent page needs the session (consent is given by the person signed in). A
        // passkey may still be refused there: the previous session ends once it is not.
        let started = if with_passkey {
            let started = self.accounts.send(&user.sub, start).await;
            if matches!(&started, Ok(Started { passkey: Some(Used::Used { .. }), .. })) {
                end_old.await;
            }
            started
        } else {
            join(self.accounts.send(&user.sub, start), end_old).await.0
        };
        let Started { consented, evicted, passkey } = started.map_err(|e| self.unavailable(&ix, login, e))?;
        let refusal = match passkey {
            _ if !with_passkey => None,
            Some(used) => passkeys::accepted(used).err(),
            None => Some(Refused::Bad("the account object did not check the passkey's use".into())),
        };
        if let Some(r) = refusal {
            let e = crate::audit::Event::new(crate::audit::Kind::SignInFailed).client(&ix.client_id);
            self.event(e.subject(&user.sub).reason(r.reason()).method("passkey"));
            let again = Interaction { grant_id: random(crate::crypto::random_token::<16>())?, unreserved: false, ..ix };
            return self.refused(r, |key| self.login_page(400, &again, "", Some(key)));
        }
        self.revoke_grants("login", &evicted).await;
        let e = crate::audit::Event::new(crate::audit::Kind::SignInSucceeded).client(&ix.client_id);
        self.event(e.subject(&user.sub).amr(&signed_in.amr));
        let secure = self.config.secure_cookies;
        let account_key = throttle::account_key(&user.username);
        let cookies = [
            session::set_cookie(&cookie, secure, self.config.session_ttl),
            device::set_cookie(secure, &self.keys.device, &account_key, device_id, self.now),
        ];
        let answer = if consented && !ix.force_consent {
            let (redirect_uri, state) = (ix.redirect_uri.clone(), ix.state.clone());
            let to = ErrorRedirect { redirect_uri: &redirect_uri, state: state.as_deref() };
            let (grant_id, locale) = (ix.grant_id.clone(), ix.locale);
            let how = if ix.unreserved { CodeIssue::Fresh } else { CodeIssue::Issue };
            self.issue_code(grant_id, ix.into_grant(signed_in), &to, how, locale).await
        } else {
            let consent =
                Interaction { user: Some(signed_in), pending: None, exp: self.now + self.config.interaction_ttl, ..ix };
            Ok(self.consent_page(&consent))
        };
        // The session has started, whatever the answer.
        match answer {
            Ok(r) => Ok(cookies.iter().fold(r, |r, c| r.with_header("set-cookie", c))),
            Err(f) => Err(cookies.into_iter().fold(f, |f, c| f.with_header("set-cookie", c))),
        }
    }
}
