//! The login form (POST /login) and the consent form (POST /consent).
//!
//! Both forms carry the sealed [`Interaction`] and are checked against the browser's
//! anti-CSRF cookie. Login verifies the password (PBKDF2 through the platform's crypto)
//! and shows the consent page; Allow creates the grant in its Durable Object and redirects
//! to the client with the code, `state` and `iss` (RFC 6749 §4.1.2, RFC 9207); Deny
//! redirects with `access_denied`.

use super::account_object::{Command as AccountCommand, GrantRef, Reply as AccountReply, Session};
use super::authorize::{error_redirect, form_target, redirect_with, ErrorRedirect};
use super::grant_object::{secret_hash, Command, GrantState, Reply};
use super::interaction::{self, Interaction, OpenError, SignedIn};
use super::session::{self, SessionCookie};
use super::throttle::{self, Command as TCommand, Verdict};
use super::{sealed_code, Provider};
use crate::crypto::{self, random_token, Crypto, PasswordHash};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Params, Request, Response};
use crate::model::Grant;
use crate::pages;
use crate::store::{AccountStore, ClientStore, GrantStore, ThrottleStore, UserStore};
use futures_util::future::{join, join_all};

pub const MAX_LOGIN_LEN: usize = 254;
pub const MAX_PASSWORD_LEN: usize = 1024;
const BAD_CREDENTIALS: &str = "Incorrect username or password.";

impl<C: ClientStore, U: UserStore, G: GrantStore, T: ThrottleStore, A: AccountStore, K: Crypto>
    Provider<'_, C, U, G, T, A, K>
{
    /// Parses a posted form and opens its interaction, checking the anti-CSRF binding.
    fn open_form(&self, req: &Request) -> Result<(Params, Interaction), Response> {
        let form =
            req.form().map_err(|e| pages::error_page(400, "Invalid request", &e.description, e.code.as_str()))?;
        let Some(tx) = form.get("tx") else {
            return Err(pages::error_page(
                400,
                "Invalid request",
                "The form is incomplete. Return to the application and sign in again.",
                "invalid_request",
            ));
        };
        let ix = match Interaction::open(tx, self.session_key, self.now) {
            Ok(ix) => ix,
            Err(OpenError::Expired) => {
                return Err(pages::error_page(
                    400,
                    "This page has expired",
                    "Return to the application and sign in again.",
                    "invalid_request",
                ))
            }
            Err(OpenError::Invalid) => {
                return Err(pages::error_page(
                    400,
                    "Invalid request",
                    "This form is not valid. Return to the application and sign in again.",
                    "invalid_request",
                ))
            }
        };
        if !interaction::csrf_matches(req, self.config.secure_cookies, &ix) {
            return Err(pages::error_page(
                403,
                "Request refused",
                "This form was not sent from the page this browser was given (cookies may be blocked). Return to the application and sign in again.",
                "invalid_request",
            ));
        }
        Ok((form, ix))
    }

    pub async fn login(&self, req: &Request) -> Response {
        let (form, ix) = match self.open_form(req) {
            Ok(v) => v,
            Err(page) => return page,
        };
        if ix.user.is_some() {
            return pages::error_page(
                400,
                "Invalid request",
                "You are already signed in for this request.",
                "invalid_request",
            );
        }
        let login = form.get("username").unwrap_or("").trim();
        let password = form.get("password").unwrap_or("");
        if login.is_empty() || password.is_empty() {
            return self.login_page(400, &ix, login, Some("Enter your username (or email) and password."));
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
                return pages::error_page(400, "Account misconfigured", &m, "invalid_request");
            }
        };
        // Throttling, counted before the password is checked (atomically, so concurrent
        // guesses cannot slip past the limit). A known account is counted under its
        // username however it was typed (name or email); an unknown name under itself.
        let account = throttle::account_key(user.as_ref().map_or(login, |u| u.username.as_str()));
        let ip = throttle::ip_key(client_ip(req));
        let (a, i) = join(
            self.throttles.send(&account, TCommand::Attempt { policy: self.config.account_policy() }),
            self.throttles.send(&ip, TCommand::Attempt { policy: self.config.ip_policy() }),
        )
        .await;
        let refused = match (&a, &i) {
            (Ok(v), Ok(w)) if v.is_allowed() && w.is_allowed() => None,
            (Ok(Verdict::Blocked { retry_after, locked }), _) | (_, Ok(Verdict::Blocked { retry_after, locked })) => {
                Some(self.throttled_page(&ix, login, *retry_after, *locked))
            }
            (Err(e), _) | (_, Err(e)) => {
                Some(self.unavailable_page(&ix, login, &format!("login: throttle store: {e}")))
            }
            _ => Some(self.unavailable_page(&ix, login, "login: unexpected throttle verdict")),
        };
        if let Some(page) = refused {
            // Give back the attempt a counter did allow.
            let allowed = |r: &Result<Verdict, StoreError>| r.as_ref().is_ok_and(|v| v.is_allowed());
            let release = |r: &Result<Verdict, StoreError>| allowed(r).then_some(TCommand::Release);
            self.settle(&account, &ip, release(&a), release(&i)).await;
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
                self.settle(&account, &ip, Some(TCommand::Succeed), Some(TCommand::Release)).await;
                u
            }
            (Ok(_), _) => {
                let fail = |policy| Some(TCommand::Fail { policy });
                self.settle(&account, &ip, fail(self.config.account_policy()), fail(self.config.ip_policy())).await;
                return self.login_page(400, &ix, login, Some(BAD_CREDENTIALS));
            }
            (Err(e), _) => {
                self.settle(&account, &ip, Some(TCommand::Release), Some(TCommand::Release)).await;
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
        let cookie = SessionCookie::new(&user.sub);
        let (consented, set_session) = match &cookie {
            Ok(c) => {
                let start = AccountCommand::Start {
                    session: Session {
                        id_hash: c.id_hash(),
                        username: user.username.clone(),
                        auth_time: self.now,
                        expires_at: self.now + self.config.session_ttl,
                        clients: vec![],
                    },
                    client_id: ix.client_id.clone(),
                    items: ix.consent.clone(),
                    grant: (!ix.force_consent)
                        .then(|| GrantRef::new(ix.grant_id.clone(), self.grant_expiry(&ix.scope))),
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
                let (started, ()) = join(self.accounts.send(&user.sub, start), end_old).await;
                match started {
                    Ok(AccountReply::Started { consented, evicted }) => {
                        self.revoke_grants("login", &evicted).await;
                        (consented, Some(session::set_cookie(c, self.config.secure_cookies, self.config.session_ttl)))
                    }
                    other => {
                        // Sign-in still works, without a session to come back to.
                        (self.log)(&format!("login: could not start a session: {other:?}"));
                        (false, None)
                    }
                }
            }
            Err(e) => {
                (self.log)(&format!("login: {e}"));
                (false, None)
            }
        };
        let with_session = |r: Response| match &set_session {
            Some(c) => r.with_header("set-cookie", c),
            None => r,
        };
        if consented && !ix.force_consent {
            let state = ix.state.clone();
            let redirect_uri = ix.redirect_uri.clone();
            let to = ErrorRedirect { redirect_uri: &redirect_uri, state: state.as_deref() };
            let grant_id = ix.grant_id.clone();
            return with_session(self.issue_code(grant_id, ix.into_grant(signed_in), &to, CodeIssue::Create).await);
        }
        // Claim the grant id: a login form works once.
        match self
            .grants
            .send(&ix.grant_id, Command::Reserve { expires_at: self.now + self.config.interaction_ttl })
            .await
        {
            Ok(Reply::Reserved) => {}
            Ok(Reply::Conflict) => return used_form_page(),
            Ok(other) => return self.unavailable_page(&ix, login, &format!("login: unexpected grant reply {other:?}")),
            Err(e) => return self.unavailable_page(&ix, login, &format!("login: grant store: {e}")),
        }
        let consent = Interaction { user: Some(signed_in), exp: self.now + self.config.interaction_ttl, ..ix };
        with_session(self.consent_page(&consent))
    }

    /// The `sub` a client in `sector` (pairwise) or any other client receives.
    pub fn sub_for_sector(&self, sector: Option<&str>, local_sub: &str) -> String {
        match (sector, self.pairwise_salt) {
            (Some(sector), Some(salt)) => crate::crypto::pairwise_sub(salt, sector, local_sub),
            _ => local_sub.to_string(),
        }
    }

    /// Settles the attempt on both counters (in parallel); `None` leaves a counter alone.
    async fn settle(&self, account: &str, ip: &str, on_account: Option<TCommand>, on_ip: Option<TCommand>) {
        let send = |key, cmd: Option<TCommand>| async move {
            match cmd {
                None => Ok(Verdict::Allowed),
                Some(cmd) => self.throttles.send(key, cmd).await,
            }
        };
        let (a, i) = join(send(account, on_account), send(ip, on_ip)).await;
        if let Some(e) = a.err().or(i.err()) {
            (self.log)(&format!("login: throttle store: {e}"));
        }
    }

    fn throttled_page(&self, ix: &Interaction, login: &str, retry_after: i64, locked: bool) -> Response {
        let wait = if retry_after >= 120 {
            format!("{} minutes", (retry_after + 59) / 60)
        } else {
            format!("{retry_after} seconds")
        };
        let msg = if locked {
            format!("Too many failed sign-in attempts. Sign-in is locked: try again in {wait}.")
        } else {
            format!("Too many failed sign-in attempts. Wait {wait} and try again.")
        };
        self.login_page(429, ix, login, Some(&msg)).with_header("retry-after", &retry_after.to_string())
    }

    fn unavailable_page(&self, ix: &Interaction, login: &str, detail: &str) -> Response {
        (self.log)(detail);
        self.login_page(503, ix, login, Some("Sign-in is temporarily unavailable. Please try again in a moment."))
            .with_header("retry-after", "5")
    }

    pub(super) fn consent_page(&self, ix: &Interaction) -> Response {
        let items: String =
            ix.descriptions.iter().map(|d| format!("<li>{}</li>\n", pages::escape(&capitalise(d)))).collect();
        let username = ix.user.as_ref().map(|u| u.username.as_str()).unwrap_or("");
        let tx = ix.seal(self.session_key);
        let body = pages::render(
            pages::CONSENT,
            &[("scopes", &items)],
            &[("client_name", &ix.client_name), ("tx", &tx), ("username", username)],
        );
        pages::page(200, "Allow access?", &body, &form_target(&ix.redirect_uri))
            .with_header("set-cookie", &self.csrf_cookie(ix))
    }

    pub async fn consent(&self, req: &Request) -> Response {
        let (form, ix) = match self.open_form(req) {
            Ok(v) => v,
            Err(page) => return page,
        };
        let Some(user) = ix.user.clone() else {
            return pages::error_page(400, "Invalid request", "Sign in first.", "invalid_request");
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
                    Ok(Reply::Conflict) => return used_form_page(),
                    Ok(Reply::NotReserved) => return expired_page(),
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
            _ => return pages::error_page(400, "Invalid request", "Choose Allow or Deny.", "invalid_request"),
        }
        // Remember the consent (and the session's new client) and the grant under it first:
        // a grant not on record could not be revoked by withdrawing the consent.
        let local_sub = user.local_sub.clone().unwrap_or_else(|| user.sub.clone());
        let id_hash =
            session::from_request(req, self.config.secure_cookies).filter(|c| c.sub == local_sub).map(|c| c.id_hash());
        let allow = AccountCommand::Allow {
            id_hash,
            client_id: ix.client_id.clone(),
            items: ix.consent.clone(),
            grant: GrantRef::new(ix.grant_id.clone(), self.grant_expiry(&ix.scope)),
        };
        match self.accounts.send(&local_sub, allow).await {
            Ok(AccountReply::Allowed { evicted }) => {
                self.revoke_grants("consent", &evicted).await;
            }
            other => {
                (self.log)(&format!("consent: could not remember the consent: {other:?}"));
                let err = OAuthError::unavailable("could not record your decision, try again");
                return error_redirect(&to, &self.config.issuer, &err);
            }
        }
        let grant_id = ix.grant_id.clone();
        self.issue_code(grant_id, ix.into_grant(user), &to, CodeIssue::Issue).await
    }

    /// Until when a grant with this scope can hold a live token: for the account object's
    /// record of it. A grant with `offline_access` lives as long as it is refreshed.
    pub(super) fn grant_expiry(&self, scope: &str) -> i64 {
        if scope.split(' ').any(|s| s == crate::model::scope::OFFLINE_ACCESS) {
            super::account_object::NEVER
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
    /// (RFC 6749 §4.1.2, RFC 9207 `iss`). `create`: no reservation was made (no page).
    pub(super) async fn issue_code(
        &self,
        grant_id: String,
        grant: Grant,
        to: &ErrorRedirect<'_>,
        how: CodeIssue,
    ) -> Response {
        let internal = |e: String| {
            (self.log)(&format!("issue code: {e}"));
            let err = OAuthError::new(ErrorCode::ServerError, "internal error");
            error_redirect(to, &self.config.issuer, &err)
        };
        let expires_at = self.now + self.config.code_ttl;
        if how == CodeIssue::Sealed {
            return match sealed_code::seal(self.session_key, &grant_id, &grant, self.now, expires_at) {
                Ok(code) => code_redirect(to, &self.config.issuer, &code),
                Err(e) => internal(e),
            };
        }
        let secret = match random_token::<32>() {
            Ok(s) => s,
            Err(e) => return internal(e),
        };
        let state = Box::new(GrantState::new(grant, secret_hash(&secret), expires_at));
        let cmd = if how == CodeIssue::Create { Command::Create { state } } else { Command::Issue { state } };
        match self.grants.send(&grant_id, cmd).await {
            Ok(Reply::Issued) => {}
            // The consent form works once; a replay gets a page, not a second code.
            Ok(Reply::Conflict) => return used_form_page(),
            Ok(Reply::NotReserved) => return expired_page(),
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
    /// In the grant object, created now; refused if the id exists (a replayed login form).
    Create,
    /// In the grant object reserved when the form was shown (a consent form works once).
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

fn expired_page() -> Response {
    pages::error_page(400, "This page has expired", "Return to the application and sign in again.", "invalid_request")
}

fn used_form_page() -> Response {
    pages::error_page(
        400,
        "This form was already used",
        "Each sign-in form can be submitted once. Return to the application and sign in again.",
        "invalid_request",
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
