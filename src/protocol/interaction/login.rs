//! The sign-in form (POST /login): the password checked (PBKDF2 through the platform's
//! crypto) under per-account and per-IP throttles, a new session, and then the consent page
//! or, for a consent on record, the code.

use super::{Interaction, SignedIn, INVALID};
use crate::crypto::{self, random_token, PasswordHash};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Request, Response};
use crate::objects::account::{End, GrantRef, Session, Start, Started};
use crate::objects::grant::{Reserve, ReserveReply};
use crate::objects::throttle::{self, Command as Count, Verdict};
use crate::pages::ErrorText;
use crate::protocol::failure::{Failure, USED};
use crate::protocol::issue::CodeIssue;
use crate::protocol::redirect::ErrorRedirect;
use crate::protocol::session::{self, SessionCookie};
use crate::protocol::{device, Backend, Provider};
use crate::store::{AccountStore, GrantStore, ThrottleStore, UserStore};
use futures_util::future::join;

pub const MAX_LOGIN_LEN: usize = 254;
pub const MAX_PASSWORD_LEN: usize = 1024;
const BAD_CREDENTIALS: &str = "login.bad_credentials";

impl<B: Backend> Provider<'_, B> {
    pub async fn login(&self, req: &Request) -> Result<Response, Failure> {
        let (form, ix) = self.open_form(req)?;
        if ix.user.is_some() {
            let e = ErrorText { message: "error.already_signed_in.message", ..INVALID };
            return Err(Failure::page(ix.locale, 400, e));
        }
        let login = form.get("username").unwrap_or("").trim();
        let password = form.get("password").unwrap_or("");
        if login.is_empty() || password.is_empty() {
            return Ok(self.login_page(400, &ix, login, Some("login.missing")));
        }
        if login.len() > MAX_LOGIN_LEN || password.len() > MAX_PASSWORD_LEN {
            return Ok(self.login_page(400, &ix, "", Some(BAD_CREDENTIALS)));
        }
        let user = match self.users.find_by_login(login).await {
            Ok(u) => u,
            Err(StoreError::Malformed(m)) => {
                let e = ErrorText::new("error.account.title", "error.account.message", "invalid_request");
                return Err(Failure::page_detail(ix.locale, 400, e, &m).logged(m));
            }
            Err(e) => return Err(self.unavailable(&ix, login, e)),
        };
        // Throttling, counted before the password is checked (atomically, so concurrent
        // guesses cannot slip past the limit). A known account is counted under its username
        // however it was typed (name or email). An unknown name is counted under the client IP
        // only: a made-up name creates no object (storage amplification). A browser that signed
        // in to this account before (a device cookie) is counted under its own id instead of
        // the account and the IP: a guessing storm, from anywhere, neither slows down nor locks
        // out the people who signed in there before (OWASP, device cookies).
        let account_key = throttle::account_key(user.as_ref().map_or(login, |u| u.username.as_str()));
        let device = user
            .as_ref()
            .and_then(|_| device::known(req, self.config.secure_cookies, &self.keys.device, &account_key, self.now));
        let first_key = match &device {
            Some(id) => Some(throttle::device_key(id)),
            None => user.as_ref().map(|_| account_key.clone()),
        };
        let account = first_key.as_deref();
        let ip_key = throttle::ip_key(req.client_ip());
        let ip = device.is_none().then_some(ip_key.as_str());
        let (a, i) = join(
            self.count(account, Count::Attempt { policy: self.config.account_policy() }),
            self.count(ip, Count::Attempt { policy: self.config.ip_policy() }),
        )
        .await;
        let refused = match (&a, &i) {
            (Ok(v), Ok(w)) if v.is_allowed() && w.is_allowed() => None,
            (Ok(v), _) if !v.is_allowed() => Some(Ok(self.throttled_page(&ix, login, *v, false))),
            (_, Ok(v)) if !v.is_allowed() => Some(Ok(self.throttled_page(&ix, login, *v, true))),
            (Err(e), _) | (_, Err(e)) => Some(Err(self.unavailable(&ix, login, e.clone()))),
            _ => None,
        };
        if let Some(answer) = refused {
            // Give back the attempt a counter did allow.
            let allowed = |r: &Result<Verdict, StoreError>| r.as_ref().is_ok_and(|v| v.is_allowed());
            let release = |r: &Result<Verdict, StoreError>| allowed(r).then_some(Count::Release);
            self.settle(account, ip, release(&a), release(&i)).await;
            return answer;
        }
        let verified = match &user {
            Some(u) => match u.password() {
                Ok(stored) => crypto::verify_password(self.crypto, password, &stored).await,
                Err(e) => Err(e),
            },
            None => {
                // Spend the same work as a real check so unknown users are not revealed by timing.
                let iterations = self.config.password_hash_iterations;
                let dummy = PasswordHash { iterations, salt: vec![0; 16], hash: vec![0; 32] };
                crypto::verify_password(self.crypto, password, &dummy).await.map(|_| false)
            }
        };
        let user = match (verified, user) {
            (Ok(true), Some(u)) => {
                self.settle(account, ip, Some(Count::Succeed), Some(Count::Release)).await;
                u
            }
            (Ok(_), _) => {
                let fail = |policy| Some(Count::Fail { policy });
                self.settle(account, ip, fail(self.config.account_policy()), fail(self.config.ip_policy())).await;
                return Ok(self.login_page(400, &ix, login, Some(BAD_CREDENTIALS)));
            }
            (Err(e), _) => {
                self.settle(account, ip, Some(Count::Release), Some(Count::Release)).await;
                return Err(self.unavailable(&ix, login, format!("password check failed: {e}")));
            }
        };
        let signed_in = SignedIn {
            sub: self.sub_for_sector(ix.sector.as_deref(), &user.sub),
            local_sub: ix.sector.as_ref().filter(|_| self.pairwise_salt.is_some()).map(|_| user.sub.clone()),
            username: user.username.clone(),
            auth_time: self.now,
            claims: user.claims_named(ix.id_token_claims.iter().map(String::as_str)),
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
        // Claim the grant id first: a login form works once, and a replayed one starts no
        // session (nor ends the browser's current one).
        let reserve = Reserve { expires_at: self.now + self.config.interaction_ttl };
        match self.grants.send(&ix.grant_id, reserve).await {
            Ok(ReserveReply::Reserved) => {}
            Ok(ReserveReply::Conflict) => return Err(Failure::page(ix.locale, 400, USED)),
            Err(e) => return Err(self.unavailable(&ix, login, e)),
        }
        // A new session (a new id at every login: no session fixation), which also tells
        // whether this client's consent is remembered.
        let cookie = SessionCookie::new(&user.sub).map_err(|e| self.unavailable(&ix, login, e))?;
        let start = Start {
            session: Session {
                id_hash: cookie.id_hash(),
                username: user.username.clone(),
                auth_time: self.now,
                expires_at: self.now + self.config.session_ttl,
                clients: vec![],
            },
            client_id: ix.client_id.clone(),
            items: ix.consent.clone(),
            grant: (!ix.force_consent).then(|| GrantRef::new(ix.grant_id.clone(), self.grant_expiry(&ix.scope))),
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
        // The consent page needs the session (consent is given by the person signed in).
        let Started { consented, evicted } = match join(self.accounts.send(&user.sub, start), end_old).await {
            (Ok(started), ()) => started,
            (Err(e), ()) => return Err(self.unavailable(&ix, login, e)),
        };
        self.revoke_grants("login", &evicted).await;
        let secure = self.config.secure_cookies;
        let device_id = match device {
            Some(id) => id,
            None => random_token::<16>().map_err(|e| self.unavailable(&ix, login, e))?,
        };
        let cookies = [
            session::set_cookie(&cookie, secure, self.config.session_ttl),
            device::set_cookie(secure, &self.keys.device, &account_key, &device_id, self.now),
        ];
        let answer = if consented && !ix.force_consent {
            let (redirect_uri, state) = (ix.redirect_uri.clone(), ix.state.clone());
            let to = ErrorRedirect { redirect_uri: &redirect_uri, state: state.as_deref() };
            let (grant_id, locale) = (ix.grant_id.clone(), ix.locale);
            self.issue_code(grant_id, ix.into_grant(signed_in), &to, CodeIssue::Issue, locale).await
        } else {
            let consent = Interaction { user: Some(signed_in), exp: self.now + self.config.interaction_ttl, ..ix };
            Ok(self.consent_page(&consent))
        };
        // The session has started, whatever the answer.
        match answer {
            Ok(r) => Ok(cookies.iter().fold(r, |r, c| r.with_header("set-cookie", c))),
            Err(f) => Err(cookies.into_iter().fold(f, |f, c| f.with_header("set-cookie", c))),
        }
    }

    /// Settles the attempt on both counters (in parallel); `None` leaves a counter alone.
    async fn settle(&self, account: Option<&str>, ip: Option<&str>, on_account: Option<Count>, on_ip: Option<Count>) {
        let (account, ip) = (account.filter(|_| on_account.is_some()), ip.filter(|_| on_ip.is_some()));
        let (a, i) = join(
            self.count(account, on_account.unwrap_or(Count::Release)),
            self.count(ip, on_ip.unwrap_or(Count::Release)),
        )
        .await;
        if let Some(e) = a.err().or(i.err()) {
            (self.log)(&format!("login: throttle store: {e}"));
        }
    }

    /// A command to the counter `key`; no counter (`None`) allows everything.
    async fn count(&self, key: Option<&str>, cmd: Count) -> Result<Verdict, StoreError> {
        match key {
            Some(k) => self.throttles.send(k, cmd).await,
            None => Ok(Verdict::Allowed),
        }
    }

    /// 429 with `Retry-After` and a message that says what happened: a lock after failed
    /// attempts, a delay after failures, or other attempts in flight (none failed yet).
    fn throttled_page(&self, ix: &Interaction, login: &str, verdict: Verdict, by_ip: bool) -> Response {
        let ui = self.ui(ix.locale);
        let (retry_after, message) = match verdict {
            Verdict::Blocked { retry_after, locked: true } if !by_ip => {
                let minutes = ((retry_after + 59) / 60).max(1).to_string();
                (retry_after, ui.text.fill("login.locked", &[("minutes", &minutes)]))
            }
            Verdict::Blocked { retry_after, .. } if by_ip => (retry_after, ui.t("login.ip_slow_down")),
            Verdict::Blocked { retry_after, .. } => (retry_after, ui.t("login.slow_down")),
            _ => (1, ui.t("login.busy")),
        };
        self.login_page_with(429, ix, login, Some(message)).with_header("retry-after", &retry_after.to_string())
    }

    /// The sign-in page again, saying "try again in a moment" (503), for what could not be
    /// reached (logged by the router).
    fn unavailable(&self, ix: &Interaction, login: &str, e: impl std::fmt::Display) -> Failure {
        let page = self.login_page(503, ix, login, Some("login.unavailable")).with_header("retry-after", "5");
        Failure::rendered(page, format!("login: {e}"))
    }
}
