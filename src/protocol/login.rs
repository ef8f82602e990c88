//! The login form (POST /login) and the consent form (POST /consent).
//!
//! Both forms carry the sealed [`Interaction`] and are checked against the browser's
//! anti-CSRF cookie. Login verifies the password (PBKDF2 through the platform's crypto)
//! and shows the consent page; Allow creates the grant in its Durable Object and redirects
//! to the client with the code, `state` and `iss` (RFC 6749 §4.1.2, RFC 9207); Deny
//! redirects with `access_denied`.

use super::authorize::{error_redirect, form_target, redirect_with, ErrorRedirect};
use super::interaction::{self, Interaction, OpenError, SignedIn};
use super::session::{self, SessionCookie};
use super::{device, sealed_code, Backend, Provider};
use crate::crypto::{self, random_token, PasswordHash};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Params, Request, Response};
use crate::i18n::Locale;
use crate::model::Grant;
use crate::objects::account::{Command as AccountCommand, GrantRef, Reply as AccountReply, Session};
use crate::objects::grant::{secret_hash, Command, GrantState, Reply};
use crate::objects::throttle::{self, Command as TCommand, Verdict};
use crate::pages::{self, ErrorText, Sources};
use crate::store::{AccountStore, GrantStore, ThrottleStore, UserStore};
use futures_util::future::{join, join_all};

pub const MAX_LOGIN_LEN: usize = 254;
pub const MAX_PASSWORD_LEN: usize = 1024;
const BAD_CREDENTIALS: &str = "login.bad_credentials";

impl<B: Backend> Provider<'_, B> {
    /// Parses a posted form and opens its interaction, checking the anti-CSRF binding.
    /// Problems found before the interaction is open are shown in the browser's language.
    fn open_form(&self, req: &Request) -> Result<(Params, Interaction), Response> {
        let page = |e: ErrorText<'_>, status| pages::error_page(&self.ui(self.locale(req, None)), status, e);
        // A form posted from another site is refused before anything else (CSRF, RFC 9700
        // §4.4.1; the anti-CSRF cookie and SameSite are the other two lines).
        if req.is_cross_site(&self.config.issuer) {
            return Err(page(CROSS_SITE, 403));
        }
        let form = req.form().map_err(|e| page(INVALID.detail(&e.description), 400))?;
        let Some(tx) = form.get("tx") else {
            return Err(page(ErrorText { message: "error.invalid_form.message", ..INVALID }, 400));
        };
        let ix = match Interaction::open(tx, &self.keys.page, self.now) {
            Ok(ix) => ix,
            Err(OpenError::Expired) => return Err(page(EXPIRED, 400)),
            Err(OpenError::Invalid) => {
                return Err(page(ErrorText { message: "error.invalid_form.message", ..INVALID }, 400))
            }
        };
        if !interaction::csrf_matches(req, self.config.secure_cookies, &ix) {
            return Err(pages::error_page(&self.ui(ix.locale), 403, REFUSED));
        }
        Ok((form, ix))
    }

    pub async fn login(&self, req: &Request) -> Response {
        let (form, ix) = match self.open_form(req) {
            Ok(v) => v,
            Err(page) => return page,
        };
        if ix.user.is_some() {
            let e = ErrorText { message: "error.already_signed_in.message", ..INVALID };
            return pages::error_page(&self.ui(ix.locale), 400, e);
        }
        let login = form.get("username").unwrap_or("").trim();
        let password = form.get("password").unwrap_or("");
        if login.is_empty() || password.is_empty() {
            return self.login_page(400, &ix, login, Some("login.missing"));
        }
        if login.len() > MAX_LOGIN_LEN || password.len() > MAX_PASSWORD_LEN {
            return self.login_page(400, &ix, "", Some(BAD_CREDENTIALS));
        }
        let user = match self.users.find_by_login(login).await {
            Ok(u) => u,
            Err(StoreError::Unavailable(m)) => {
                return self.unavailable_page(&ix, login, &format!("login: user store unavailable: {m}"))
            }
            Err(StoreError::Malformed(m)) => {
                (self.log)(&m);
                let e = ErrorText::new("error.account.title", "error.account.message", "invalid_request");
                return pages::error_page(&self.ui(ix.locale), 400, e.detail(&m));
            }
        };
        // Throttling, counted before the password is checked (atomically, so concurrent
        // guesses cannot slip past the limit). A known account is counted under its username
        // however it was typed (name or email). An unknown name is counted under the client IP
        // only: a made-up name creates no object (storage amplification). The IP is not
        // counted for a browser that signed in to this account before (a device cookie), so
        // a storm from a shared address does not slow down the people behind it.
        let account_key = throttle::account_key(user.as_ref().map_or(login, |u| u.username.as_str()));
        let account = user.as_ref().map(|_| account_key.as_str());
        let known_device =
            user.is_some() && device::knows(req, self.config.secure_cookies, &self.keys.device, &account_key, self.now);
        let ip_key = throttle::ip_key(client_ip(req));
        let ip = (!known_device).then_some(ip_key.as_str());
        let (a, i) = join(
            self.count(account, TCommand::Attempt { policy: self.config.account_policy() }),
            self.count(ip, TCommand::Attempt { policy: self.config.ip_policy() }),
        )
        .await;
        let refused = match (&a, &i) {
            (Ok(v), Ok(w)) if v.is_allowed() && w.is_allowed() => None,
            (Ok(v @ (Verdict::Blocked { .. } | Verdict::Busy)), _) => Some(self.throttled_page(&ix, login, *v, false)),
            (_, Ok(v @ (Verdict::Blocked { .. } | Verdict::Busy))) => Some(self.throttled_page(&ix, login, *v, true)),
            (Err(e), _) | (_, Err(e)) => {
                Some(self.unavailable_page(&ix, login, &format!("login: throttle store: {e}")))
            }
            _ => Some(self.unavailable_page(&ix, login, "login: unexpected throttle verdict")),
        };
        if let Some(page) = refused {
            // Give back the attempt a counter did allow.
            let allowed = |r: &Result<Verdict, StoreError>| r.as_ref().is_ok_and(|v| v.is_allowed());
            let release = |r: &Result<Verdict, StoreError>| allowed(r).then_some(TCommand::Release);
            self.settle(account, ip, release(&a), release(&i)).await;
            return page;
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
                self.settle(account, ip, Some(TCommand::Succeed), Some(TCommand::Release)).await;
                u
            }
            (Ok(_), _) => {
                let fail = |policy| Some(TCommand::Fail { policy });
                self.settle(account, ip, fail(self.config.account_policy()), fail(self.config.ip_policy())).await;
                return self.login_page(400, &ix, login, Some(BAD_CREDENTIALS));
            }
            (Err(e), _) => {
                self.settle(account, ip, Some(TCommand::Release), Some(TCommand::Release)).await;
                return self.unavailable_page(&ix, login, &format!("login: password check failed: {e}"));
            }
        };
        // A new session (a new id at every login: no session fixation), which also tells
        // whether this client's consent is remembered.
        let signed_in = SignedIn {
            sub: self.sub_for_sector(ix.sector.as_deref(), &user.sub),
            local_sub: ix.sector.as_ref().filter(|_| self.pairwise_salt.is_some()).map(|_| user.sub.clone()),
            username: user.username.clone(),
            auth_time: self.now,
            claims: user.claims_named(ix.id_token_claims.iter().map(String::as_str)),
        };
        // id_token_hint or a claims `sub` value named someone else: no code or token for a
        // different user (OpenID Connect Core §3.1.2.1, §5.5.1).
        if ix.expected_subs.iter().any(|s| *s != signed_in.sub) {
            let to = ErrorRedirect { redirect_uri: &ix.redirect_uri, state: ix.state.as_deref() };
            let err = OAuthError::new(
                ErrorCode::LoginRequired,
                "the user who signed in is not the one the request names (id_token_hint or claims sub)",
            );
            return error_redirect(&to, &self.config.issuer, &err);
        }
        // Claim the grant id first: a login form works once, and a replayed one starts no
        // session (nor ends the browser's current one).
        match self
            .grants
            .send(&ix.grant_id, Command::Reserve { expires_at: self.now + self.config.interaction_ttl })
            .await
        {
            Ok(Reply::Reserved) => {}
            Ok(Reply::Conflict) => return pages::error_page(&self.ui(ix.locale), 400, USED),
            Ok(other) => return self.unavailable_page(&ix, login, &format!("login: unexpected grant reply {other:?}")),
            Err(e) => return self.unavailable_page(&ix, login, &format!("login: grant store: {e}")),
        }
        let cookie = match SessionCookie::new(&user.sub) {
            Ok(c) => c,
            Err(e) => return self.unavailable_page(&ix, login, &format!("login: {e}")),
        };
        let start = AccountCommand::Start {
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
                let end = AccountCommand::End { id_hash: old.id_hash(), client_id: None };
                if let Err(e) = self.accounts.send(&old.sub, end).await {
                    (self.log)(&format!("login: could not end the previous session: {e}"));
                }
            }
        };
        // The consent page needs the session (consent is given by the person signed in).
        let consented = match join(self.accounts.send(&user.sub, start), end_old).await {
            (Ok(AccountReply::Started { consented, evicted }), ()) => {
                self.revoke_grants("login", &evicted).await;
                consented
            }
            (other, ()) => {
                return self.unavailable_page(&ix, login, &format!("login: could not start a session: {other:?}"))
            }
        };
        let secure = self.config.secure_cookies;
        let set_session = session::set_cookie(&cookie, secure, self.config.session_ttl);
        let set_device = device::set_cookie(secure, &self.keys.device, &account_key, self.now);
        let response = if consented && !ix.force_consent {
            let state = ix.state.clone();
            let redirect_uri = ix.redirect_uri.clone();
            let to = ErrorRedirect { redirect_uri: &redirect_uri, state: state.as_deref() };
            let (grant_id, locale) = (ix.grant_id.clone(), ix.locale);
            self.issue_code(grant_id, ix.into_grant(signed_in), &to, CodeIssue::Issue, locale).await
        } else {
            let consent = Interaction { user: Some(signed_in), exp: self.now + self.config.interaction_ttl, ..ix };
            self.consent_page(&consent)
        };
        response.with_header("set-cookie", &set_session).with_header("set-cookie", &set_device)
    }

    /// The `sub` a client in `sector` (pairwise) or any other client receives.
    pub fn sub_for_sector(&self, sector: Option<&str>, local_sub: &str) -> String {
        match (sector, self.pairwise_salt) {
            (Some(sector), Some(salt)) => crate::crypto::pairwise_sub(salt, sector, local_sub),
            _ => local_sub.to_string(),
        }
    }

    /// Settles the attempt on both counters (in parallel); `None` leaves a counter alone.
    async fn settle(
        &self,
        account: Option<&str>,
        ip: Option<&str>,
        on_account: Option<TCommand>,
        on_ip: Option<TCommand>,
    ) {
        // A counter with no command to settle is left alone.
        let (account, ip) = (account.filter(|_| on_account.is_some()), ip.filter(|_| on_ip.is_some()));
        let (a, i) = join(
            self.count(account, on_account.unwrap_or(TCommand::Release)),
            self.count(ip, on_ip.unwrap_or(TCommand::Release)),
        )
        .await;
        if let Some(e) = a.err().or(i.err()) {
            (self.log)(&format!("login: throttle store: {e}"));
        }
    }

    /// A command to the counter `key`; no counter (`None`) allows everything.
    async fn count(&self, key: Option<&str>, cmd: TCommand) -> Result<Verdict, StoreError> {
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

    fn unavailable_page(&self, ix: &Interaction, login: &str, detail: &str) -> Response {
        (self.log)(detail);
        self.login_page(503, ix, login, Some("login.unavailable")).with_header("retry-after", "5")
    }

    pub(super) fn consent_page(&self, ix: &Interaction) -> Response {
        let ui = self.ui(ix.locale);
        let items: String = ix.descriptions.iter().map(|d| format!("<li>{}</li>\n", pages::escape(d))).collect();
        let username = ix.user.as_ref().map(|u| u.username.as_str()).unwrap_or("");
        let strong = |s: &str| format!("<strong>{}</strong>", pages::escape(s));
        let host = redirect_host(&ix.redirect_uri);
        let mut sources = Sources::forms(form_target(&ix.redirect_uri));
        let links = &ix.links;
        let client_logo = match &links.logo_uri {
            Some(logo) => {
                sources.img.extend(crate::brand::origin(logo));
                format!("<img src=\"{}\" alt=\"\" width=\"48\" height=\"48\">", pages::escape(logo))
            }
            None => String::new(),
        };
        let about: Vec<String> = [
            ("consent.client_uri", &links.client_uri),
            ("consent.policy_uri", &links.policy_uri),
            ("consent.tos_uri", &links.tos_uri),
        ]
        .iter()
        .filter_map(|(key, uri)| {
            uri.as_ref().map(|u| {
                format!(
                    "<a href=\"{}\" rel=\"noopener\" target=\"_blank\">{}</a>",
                    pages::escape(u),
                    pages::escape(&ui.t(key))
                )
            })
        })
        .collect();
        let about = if about.is_empty() {
            String::new()
        } else {
            format!("<p class=\"about\">{} {}</p>", pages::escape(&ui.t("consent.about")), about.join(" "))
        };
        let tx = ix.seal(&self.keys.page);
        let body = pages::render(
            pages::CONSENT,
            &ui,
            &[
                ("scopes", &items),
                ("client_logo", &client_logo),
                ("lead", &ui.text.html("consent.lead", &[("client", &strong(&ix.client_name))])),
                ("about", &about),
                ("signed_in_as", &ui.text.html("consent.signed_in_as", &[("user", &strong(username))])),
                ("redirect", &ui.text.html("consent.redirect", &[("host", &strong(&host))])),
            ],
            &[("tx", &tx)],
        );
        pages::page(&ui, 200, &ui.t("consent.title"), &body, sources).with_header("set-cookie", &self.csrf_cookie(ix))
    }

    pub async fn consent(&self, req: &Request) -> Response {
        let (form, ix) = match self.open_form(req) {
            Ok(v) => v,
            Err(page) => return page,
        };
        let ui = self.ui(ix.locale);
        let Some(user) = ix.user.clone() else {
            return pages::error_page(&ui, 400, ErrorText { message: "error.sign_in_first.message", ..INVALID });
        };
        let state = ix.state.clone();
        let redirect_uri = ix.redirect_uri.clone();
        let to = ErrorRedirect { redirect_uri: &redirect_uri, state: state.as_deref() };
        match form.get("decision") {
            Some("allow") => {}
            Some("deny") => {
                // Deny uses the form up too: it cannot be allowed (or denied) afterwards.
                match self.grants.send(&ix.grant_id, Command::Decline).await {
                    Ok(Reply::Declined) => {}
                    Ok(Reply::Conflict) => return pages::error_page(&ui, 400, USED),
                    Ok(Reply::NotReserved) => return pages::error_page(&ui, 400, EXPIRED),
                    Ok(other) => {
                        (self.log)(&format!("consent: unexpected grant reply {other:?}"));
                        let err = OAuthError::unavailable("could not record the decision, try again");
                        return error_redirect(&to, &self.config.issuer, &err);
                    }
                    Err(e) => {
                        (self.log)(&format!("consent: grant store: {e}"));
                        let err = OAuthError::unavailable("could not record the decision, try again");
                        return error_redirect(&to, &self.config.issuer, &err);
                    }
                }
                let err = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
                return error_redirect(&to, &self.config.issuer, &err);
            }
            _ => {
                return pages::error_page(&ui, 400, ErrorText { message: "error.choose_allow_deny.message", ..INVALID })
            }
        }
        // Consent is given by the person signed in, in this browser, now: the session cookie of
        // the same user, live in their account object (a consent page left open after signing
        // out yields nothing).
        let local_sub = user.local_sub.clone().unwrap_or_else(|| user.sub.clone());
        let Some(id_hash) =
            session::from_request(req, self.config.secure_cookies).filter(|c| c.sub == local_sub).map(|c| c.id_hash())
        else {
            return pages::error_page(&ui, 403, SESSION_ENDED);
        };
        let new_home = match crate::model::grant::new_home() {
            Ok(h) => h,
            Err(e) => {
                (self.log)(&format!("consent: {e}"));
                return error_redirect(
                    &to,
                    &self.config.issuer,
                    &OAuthError::new(ErrorCode::ServerError, "internal error"),
                );
            }
        };
        // Remember the consent (and the session's new client) and the grant under it first:
        // a grant not on record could not be revoked by withdrawing the consent.
        let allow = AccountCommand::Allow {
            id_hash,
            client_id: ix.client_id.clone(),
            items: ix.consent.clone(),
            grant: GrantRef::new(ix.grant_id.clone(), self.grant_expiry(&ix.scope)),
            new_home,
        };
        match self.accounts.send(&local_sub, allow).await {
            Ok(AccountReply::Allowed { evicted }) => {
                self.revoke_grants("consent", &evicted).await;
            }
            Ok(AccountReply::NoSession) => return pages::error_page(&ui, 403, SESSION_ENDED),
            other => {
                (self.log)(&format!("consent: could not remember the consent: {other:?}"));
                let err = OAuthError::unavailable("could not record your decision, try again");
                return error_redirect(&to, &self.config.issuer, &err);
            }
        }
        let grant_id = ix.grant_id.clone();
        let locale = ix.locale;
        self.issue_code(grant_id, ix.into_grant(user), &to, CodeIssue::Issue, locale).await
    }

    /// Until when a grant with this scope can hold a live token: for the account object's
    /// record of it. A grant with `offline_access` lives as long as it is refreshed.
    pub(super) fn grant_expiry(&self, scope: &str) -> i64 {
        if scope.split(' ').any(|s| s == crate::model::scope::OFFLINE_ACCESS) {
            crate::objects::account::NEVER
        } else {
            self.now + self.config.code_ttl + self.config.access_token_ttl
        }
    }

    /// Revokes grants (consent withdrawn, or pushed out of a full consent record), in
    /// parallel; false if any could not be revoked (each failure is logged).
    pub(super) async fn revoke_grants(&self, what: &str, grants: &[String]) -> bool {
        let results = join_all(grants.iter().map(|g| self.grants.send(g, Command::RevokeAll))).await;
        let mut all = true;
        for e in results.into_iter().filter_map(Result::err) {
            (self.log)(&format!("{what}: revoking a grant failed: {e}"));
            all = false;
        }
        all
    }

    /// Stores the grant with a new authorization code and redirects to the client with it
    /// (RFC 6749 §4.1.2, RFC 9207 `iss`).
    pub(super) async fn issue_code(
        &self,
        grant_id: String,
        grant: Grant,
        to: &ErrorRedirect<'_>,
        how: CodeIssue,
        locale: Locale,
    ) -> Response {
        let internal = |e: String| {
            (self.log)(&format!("issue code: {e}"));
            let err = OAuthError::new(ErrorCode::ServerError, "internal error");
            error_redirect(to, &self.config.issuer, &err)
        };
        let expires_at = self.now + self.config.code_ttl;
        if how == CodeIssue::Sealed {
            return match sealed_code::seal(&self.keys.code, &grant_id, &grant, self.now, expires_at) {
                Ok(code) => code_redirect(to, &self.config.issuer, &code),
                Err(e) => internal(e),
            };
        }
        let secret = match random_token::<32>() {
            Ok(s) => s,
            Err(e) => return internal(e),
        };
        let state = Box::new(GrantState::new(grant, secret_hash(&secret), expires_at));
        match self.grants.send(&grant_id, Command::Issue { state }).await {
            Ok(Reply::Issued) => {}
            // The consent form works once; a replay gets a page, not a second code.
            Ok(Reply::Conflict) => return pages::error_page(&self.ui(locale), 400, USED),
            Ok(Reply::NotReserved) => return pages::error_page(&self.ui(locale), 400, EXPIRED),
            Ok(other) => {
                (self.log)(&format!("issue code: grant object refused issue: {other:?}"));
                let err = OAuthError::unavailable("could not issue the authorization code, try again");
                return error_redirect(to, &self.config.issuer, &err);
            }
            Err(e) => {
                (self.log)(&format!("issue code: grant store: {e}"));
                let err = OAuthError::unavailable("could not issue the authorization code, try again");
                return error_redirect(to, &self.config.issuer, &err);
            }
        }
        code_redirect(to, &self.config.issuer, &format!("{grant_id}.{secret}"))
    }
}

/// Where an authorization code's grant is kept until the code is redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeIssue {
    /// In the grant object reserved at sign-in (each form works once).
    Issue,
    /// In the code itself ([`super::sealed_code`]): no form to protect, no object yet.
    Sealed,
}

/// RFC 6749 §4.1.2 (and RFC 9207 `iss`): the redirect carrying the code.
fn code_redirect(to: &ErrorRedirect<'_>, issuer: &str, code: &str) -> Response {
    let mut params = vec![("code", code)];
    if let Some(s) = to.state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(to.redirect_uri, &params)
}

/// The client's address as the edge reports it (`CF-Connecting-IP`).
pub fn client_ip(req: &Request) -> &str {
    req.header("cf-connecting-ip").map(str::trim).filter(|ip| !ip.is_empty() && ip.len() <= 64).unwrap_or("unknown")
}

/// The host the user goes back to (the consent page names it), or the scheme of a native
/// app's private-use redirect URI.
fn redirect_host(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(u) => u.host_str().map_or_else(|| format!("{}:", u.scheme()), str::to_string),
        Err(_) => redirect_uri.to_string(),
    }
}

/// Error pages of the sign-in and consent forms.
pub(super) const INVALID: ErrorText<'static> =
    ErrorText::new("error.invalid_request.title", "error.invalid_request.message", "invalid_request");
pub(super) const EXPIRED: ErrorText<'static> =
    ErrorText::new("error.expired.title", "error.expired.message", "invalid_request");
pub(super) const USED: ErrorText<'static> = ErrorText::new("error.used.title", "error.used.message", "invalid_request");
pub(super) const CROSS_SITE: ErrorText<'static> =
    ErrorText::new("error.refused.title", "error.cross_site.message", "invalid_request");
pub(super) const SESSION_ENDED: ErrorText<'static> =
    ErrorText::new("error.refused.title", "error.session_ended.message", "invalid_request");
pub(super) const REFUSED: ErrorText<'static> =
    ErrorText::new("error.refused.title", "error.refused.message", "invalid_request");
