//! The login form (POST /login) and the consent form (POST /consent).
//!
//! Both forms carry the sealed [`Interaction`] and are checked against the browser's
//! anti-CSRF cookie. Login verifies the password (PBKDF2 through the platform's crypto)
//! and shows the consent page; Allow creates the grant in its Durable Object and redirects
//! to the client with the code, `state` and `iss` (RFC 6749 §4.1.2, RFC 9207); Deny
//! redirects with `access_denied`.

use super::authorize::{error_redirect, form_target, redirect_with, ErrorRedirect};
use super::grant_object::{secret_hash, Command, GrantState, Reply};
use super::interaction::{self, Interaction, OpenError, SignedIn};
use super::Provider;
use crate::crypto::{self, random_token, Crypto, PasswordHash, DEFAULT_PBKDF2_ITERATIONS};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Params, Request, Response};
use crate::model::scope;
use crate::pages;
use crate::store::{ClientStore, GrantStore, UserStore};

pub const MAX_LOGIN_LEN: usize = 254;
pub const MAX_PASSWORD_LEN: usize = 1024;
const BAD_CREDENTIALS: &str = "Incorrect username or password.";

impl<C: ClientStore, U: UserStore, G: GrantStore, K: Crypto> Provider<'_, C, U, G, K> {
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
                (self.log)(&format!("login: user store unavailable: {m}"));
                return self.login_page(
                    503,
                    &ix,
                    login,
                    Some("Sign-in is temporarily unavailable. Please try again in a moment."),
                );
            }
            Err(StoreError::Malformed(m)) => {
                (self.log)(&m);
                return pages::error_page(400, "Account misconfigured", &m, "invalid_request");
            }
        };
        let Some(user) = user else {
            // Spend the same work as a real check so unknown users are not revealed by timing.
            let dummy = PasswordHash { iterations: DEFAULT_PBKDF2_ITERATIONS, salt: vec![0; 16], hash: vec![0; 32] };
            let _ = crypto::verify_password(self.crypto, password, &dummy).await;
            return self.login_page(401, &ix, login, Some(BAD_CREDENTIALS));
        };
        let ok = match user.password() {
            Ok(stored) => crypto::verify_password(self.crypto, password, &stored).await,
            Err(e) => Err(e),
        };
        match ok {
            Ok(true) => {}
            Ok(false) => return self.login_page(401, &ix, login, Some(BAD_CREDENTIALS)),
            Err(e) => {
                (self.log)(&format!("login: password check failed: {e}"));
                return self.login_page(
                    503,
                    &ix,
                    login,
                    Some("Sign-in is temporarily unavailable. Please try again in a moment."),
                );
            }
        }
        let claims = user.claims_for_scopes(ix.scope.split(' '));
        let signed_in =
            SignedIn { sub: user.sub.clone(), username: user.username.clone(), auth_time: self.now, claims };
        let consent = Interaction { user: Some(signed_in), exp: self.now + self.config.interaction_ttl, ..ix };
        self.consent_page(&consent)
    }

    fn consent_page(&self, ix: &Interaction) -> Response {
        let items: String = ix
            .scope
            .split(' ')
            .filter(|s| !scope::describe(s).is_empty())
            .map(|s| format!("<li>{}</li>\n", pages::escape(&capitalise(scope::describe(s)))))
            .collect();
        let username = ix.user.as_ref().map(|u| u.username.as_str()).unwrap_or("");
        let tx = ix.seal(self.session_key);
        let body = pages::render(
            pages::CONSENT,
            &[("scopes", &items)],
            &[("client_name", &ix.client_name), ("tx", &tx), ("username", username)],
        );
        pages::page(200, "Allow access?", &body, &form_target(&ix.redirect_uri))
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
                let err = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
                return error_redirect(&to, &self.config.issuer, &err);
            }
            _ => return pages::error_page(400, "Invalid request", "Choose Allow or Deny.", "invalid_request"),
        }
        let (grant_id, secret) = match (random_token::<16>(), random_token::<32>()) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                (self.log)(&format!("consent: {e}"));
                return error_redirect(
                    &to,
                    &self.config.issuer,
                    &OAuthError::new(ErrorCode::ServerError, "internal error"),
                );
            }
        };
        let state_record = GrantState {
            grant: ix.into_grant(user),
            code_hash: secret_hash(&secret),
            code_expires_at: self.now + self.config.code_ttl,
            code_redeemed_at: None,
            access_token_hash: None,
            access_expires_at: 0,
            revoked: false,
        };
        match self.grants.send(&grant_id, Command::Issue { state: Box::new(state_record) }).await {
            Ok(Reply::Issued) => {}
            Ok(other) => {
                (self.log)(&format!("consent: grant object refused issue: {other:?}"));
                let err = OAuthError::unavailable("could not issue the authorization code, try again");
                return error_redirect(&to, &self.config.issuer, &err);
            }
            Err(e) => {
                (self.log)(&format!("consent: grant store: {e}"));
                let err = OAuthError::unavailable("could not issue the authorization code, try again");
                return error_redirect(&to, &self.config.issuer, &err);
            }
        }
        let code = format!("{grant_id}.{secret}");
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = state.as_deref() {
            params.push(("state", s));
        }
        params.push(("iss", &self.config.issuer));
        redirect_with(&redirect_uri, &params)
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
