//! The sign-in form (POST /login): the password checked (PBKDF2 through the platform's
//! crypto) under per-account and per-IP throttles, then a second factor if one is needed
//! (`second`), then the session (`complete`). A passkey signs in on its own (`passkey`).

use super::{Interaction, INVALID};
use crate::audit::{Event, Kind};
use crate::crypto::{self, random_token, PasswordHash};
use crate::error::StoreError;
use crate::http::{Request, Response};
use crate::model::strength::amr;
use crate::objects::throttle::{self, Command as Count, Verdict};
use crate::pages::ErrorText;
use crate::protocol::failure::Failure;
use crate::protocol::{device, Backend, Provider};
use crate::store::{ThrottleStore, UserStore};
use futures_util::future::join;

pub const MAX_LOGIN_LEN: usize = 254;
pub const MAX_PASSWORD_LEN: usize = 1024;
const BAD_CREDENTIALS: &str = "login.bad_credentials";

impl<B: Backend> Provider<'_, B> {
    pub async fn login(&self, req: &Request) -> Result<Response, Failure> {
        let (form, ix) = self.open_form(req)?;
        if form.get("credential").is_some() {
            return self.passkey_sign_in(req, ix, &form).await;
        }
        if ix.user.is_some() || ix.pending.is_some() {
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
            let reason = match (&a, &i) {
                (Ok(v), _) if !v.is_allowed() => v.reason(),
                (_, Ok(v)) if !v.is_allowed() => v.reason(),
                _ => "unavailable",
            };
            let sub = user.as_ref().map(|u| u.sub.as_str());
            self.event(Event::new(Kind::SignInLocked).client(&ix.client_id).maybe_subject(sub).reason(reason));
            // Give back the attempt a counter did allow.
            let allowed = |r: &Result<Verdict, StoreError>| r.as_ref().is_ok_and(|v| v.is_allowed());
            let release = |r: &Result<Verdict, StoreError>| allowed(r).then_some(Count::Release);
            self.settle(account, ip, release(&a), release(&i)).await;
            return answer;
        }
        let verified = match &user {
            Some(u) if u.has_password() => match u.password() {
                Ok(stored) => crypto::verify_password(self.crypto, password, &stored).await,
                Err(e) => Err(e),
            },
            // No such user, or one who signs in with passkeys only: spend the same work as a
            // real check, so that neither is revealed by timing.
            _ => {
                let iterations = self.config.password_hash_iterations;
                let dummy = PasswordHash { iterations, salt: vec![0; 16], hash: vec![0; 32] };
                crypto::verify_password(self.crypto, password, &dummy).await.map(|_| false)
            }
        };
        let user = match (verified, user) {
            (Ok(true), Some(u)) if u.has_password() => {
                self.settle(account, ip, Some(Count::Succeed), Some(Count::Release)).await;
                u
            }
            (Ok(_), user) => {
                let reason = match &user {
                    None => "unknown_user",
                    Some(u) if !u.has_password() => "no_password",
                    Some(_) => "wrong_password",
                };
                let sub = user.as_ref().map(|u| u.sub.as_str());
                self.event(Event::new(Kind::SignInFailed).client(&ix.client_id).maybe_subject(sub).reason(reason));
                let fail = |policy| Some(Count::Fail { policy });
                self.settle(account, ip, fail(self.config.account_policy()), fail(self.config.ip_policy())).await;
                return Ok(self.login_page(400, &ix, login, Some(BAD_CREDENTIALS)));
            }
            (Err(e), _) => {
                self.settle(account, ip, Some(Count::Release), Some(Count::Release)).await;
                return Err(self.unavailable(&ix, login, format!("password check failed: {e}")));
            }
        };
        let device_id = match device {
            Some(id) => id,
            None => random_token::<16>().map_err(|e| self.unavailable(&ix, login, e))?,
        };
        self.after_first_factor(req, ix, &user, amr(true, None), device_id).await
    }

    /// Settles the attempt on both counters (in parallel); `None` leaves a counter alone.
    pub(super) async fn settle(
        &self,
        account: Option<&str>,
        ip: Option<&str>,
        on_account: Option<Count>,
        on_ip: Option<Count>,
    ) {
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
    pub(super) async fn count(&self, key: Option<&str>, cmd: Count) -> Result<Verdict, StoreError> {
        match key {
            Some(k) => self.throttles.send(k, cmd).await,
            None => Ok(Verdict::Allowed),
        }
    }

    /// 429 with `Retry-After` and a message that says what happened: a lock after failed
    /// attempts, a delay after failures, or other attempts in flight (none failed yet).
    pub(super) fn throttled_page(&self, ix: &Interaction, login: &str, verdict: Verdict, by_ip: bool) -> Response {
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
    pub(super) fn unavailable(&self, ix: &Interaction, login: &str, e: impl std::fmt::Display) -> Failure {
        let page = self.login_page(503, ix, login, Some("login.unavailable")).with_header("retry-after", "5");
        Failure::rendered(page, format!("login: {e}"))
    }
}
