//! Authorization endpoint (OpenID Connect Core §3.1.2, RFC 6749 §4.1.1, RFC 7636 §4.3).
//!
//! An ordered list of checks. Until the client and its redirect URI are established, an
//! error is shown as a page and never redirected (OpenID Connect Core §3.1.2.6, RFC 6749
//! §4.1.2.1: no open redirector). After that, errors go back to the client with `error`,
//! `error_description`, `state` and `iss` (RFC 9207). A valid request shows the login page.

use super::claims::{self, ClaimsRequest, Release};
use super::interaction::{self, ClientLinks, Interaction, SignedIn};
use super::login::CodeIssue;
use super::{id_token, session, Backend, Provider};
use crate::crypto::{random_token, Crypto};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Params, Request, Response};
use crate::model::grant::homed_grant_id;
use crate::model::pkce;
use crate::model::{custom_scope, scope, Client, ScopeDef};
use crate::objects::account::{Command as AccountCommand, Reply as AccountReply};
use crate::objects::grant::{Command, Reply};
use crate::pages::{self, ErrorText, Sources, Ui};
use crate::store::{AccountStore, ClientStore, GrantStore, UserStore};
use futures_util::future::join_all;
use serde_json::Value;
use url::Url;

pub const MAX_STATE_LEN: usize = 2048;

/// Error pages of the authorization endpoint (the detail names what is wrong).
const INVALID: ErrorText<'static> =
    ErrorText::new("error.invalid_request.title", "error.invalid_request.message", "invalid_request");
const MISCONFIGURED: ErrorText<'static> =
    ErrorText::new("error.misconfigured.title", "error.misconfigured.message", "invalid_client");
pub const MAX_NONCE_LEN: usize = 512;

/// Where an authorization error goes once the redirect URI is trusted.
pub struct ErrorRedirect<'r> {
    pub redirect_uri: &'r str,
    pub state: Option<&'r str>,
}

/// Builds `redirect_uri` with extra query parameters (RFC 6749 §4.1.2: keep its own query).
/// Always through the URL parser: the URI is the request's, which may differ in spelling from
/// the registered one it matched (a loopback URI's port; the parser's normalisation), and what
/// is sent back is the parser's serialisation of it.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match Url::parse(redirect_uri) {
        // Registered redirect URIs have no fragment (RFC 6749 §3.1.2, checked when the client
        // record is read), so the parameters go at the end of the parsed URI, added to its
        // query (§3.1.2: "MUST retain the query component"), form-encoded as the url crate's
        // `query_pairs_mut` would, into a string sized once (a returning user's sealed code
        // is ~600 characters).
        Ok(url) if url.fragment().is_none() => {
            let mut sep = match url.query() {
                None => "?",
                Some("") => "",
                Some(_) => "&",
            };
            let mut to = String::from(url);
            to.reserve(params.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() + 16);
            for (k, v) in params {
                to.push_str(sep);
                to.extend(url::form_urlencoded::byte_serialize(k.as_bytes()));
                to.push('=');
                to.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
                sep = "&";
            }
            Response::redirect(&to)
        }
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            Response::redirect(url.as_str())
        }
        // Registered redirect URIs are validated when the client record is read.
        Err(_) => {
            pages::bare_error_page(400, "Invalid redirect URI", "The application's redirect URI is not a valid URI.")
        }
    }
}

pub fn error_redirect(to: &ErrorRedirect<'_>, issuer: &str, err: &OAuthError) -> Response {
    let mut params = vec![("error", err.code.as_str()), ("error_description", err.description.as_str())];
    if let Some(s) = to.state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(to.redirect_uri, &params)
}

/// The origin a form post may end up redirected to (CSP `form-action`).
pub fn form_target(redirect_uri: &str) -> Vec<String> {
    match Url::parse(redirect_uri) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => vec![u.origin().ascii_serialization()],
        Ok(u) => vec![format!("{}:", u.scheme())],
        Err(_) => vec![],
    }
}

impl<B: Backend> Provider<'_, B> {
    pub async fn authorize(&self, req: &Request) -> Response {
        let params = match req.method.as_str() {
            "GET" | "HEAD" => req.query_params(),
            // OpenID Connect Core §3.1.2.1: POST with a form body is also supported.
            _ => req.form(),
        };
        let params = match params {
            Ok(p) => p,
            Err(e) => {
                let ui = self.ui(self.locale(req, None));
                return pages::error_page(&ui, 400, INVALID.detail(&e.description));
            }
        };
        let ui = self.ui(self.locale(req, params.get("ui_locales")));
        // 1. The client.
        let Some(client_id) = params.get("client_id") else {
            return pages::error_page(&ui, 400, INVALID.detail("The request has no client_id."));
        };
        let client = match self.clients.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                let e = ErrorText::new("error.unknown_client.title", "error.unknown_client.message", "invalid_client");
                return pages::error_page(&ui, 400, e);
            }
            Err(StoreError::Malformed(m)) => {
                (self.log)(&m);
                return pages::error_page(&ui, 400, MISCONFIGURED.detail(&m));
            }
            Err(StoreError::Unavailable(m)) => {
                (self.log)(&format!("authorize: client store unavailable: {m}"));
                return pages::unavailable_page(&ui);
            }
        };
        // 2. The redirect URI: required by OpenID Connect, matched exactly.
        let Some(redirect_uri) = params.get("redirect_uri") else {
            return pages::error_page(&ui, 400, INVALID.detail("The request has no redirect_uri."));
        };
        if !client.has_redirect_uri(redirect_uri) {
            let e = ErrorText::new("error.redirect_uri.title", "error.redirect_uri.message", "invalid_request")
                .detail("redirect_uri is not registered for this client (exact match required)");
            return pages::error_page(&ui, 400, e);
        }
        if client.sector().is_some() && self.pairwise_salt.is_none() {
            let m = format!(
                "client '{}' asks for pairwise subjects but the PAIRWISE_SALT secret is not set",
                client.client_id
            );
            (self.log)(&m);
            return pages::error_page(&ui, 400, MISCONFIGURED.detail(&m));
        }
        // Registration §2: the ID tokens this client asks for need a signing key of its algorithm.
        let alg = client.id_token_signed_response_alg;
        if self.crypto.signing_kid(alg).is_none() {
            let m = format!(
                "client '{}' asks for ID tokens signed with {alg} (id_token_signed_response_alg) but SIGNING_KEYS has no {alg} signing key",
                client.client_id
            );
            (self.log)(&m);
            return pages::error_page(&ui, 400, MISCONFIGURED.detail(&m));
        }
        let to = ErrorRedirect { redirect_uri, state: params.get("state") };
        // 3. Everything else goes back to the client.
        let valid = match self.validate(&client, &params).await {
            Ok(v) => v,
            Err(e) => return error_redirect(&to, &self.config.issuer, &e),
        };
        let grant_id = match random_token::<16>() {
            Ok(g) => g,
            Err(e) => {
                (self.log)(&format!("authorize: {e}"));
                let err = OAuthError::new(ErrorCode::ServerError, "internal error");
                return error_redirect(&to, &self.config.issuer, &err);
            }
        };
        let ix = self.interaction(req, &client, &valid, redirect_uri, grant_id, &ui);
        // 4. A live session may answer without a page (OpenID Connect Core §3.1.2.3).
        if !valid.prompt.login {
            if let Some(r) = self.with_session(req, &client, &valid, &ix, &to).await {
                return r;
            }
        }
        if valid.prompt.none {
            return error_redirect(
                &to,
                &self.config.issuer,
                &OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in"),
            );
        }
        let hint = params.get("login_hint").unwrap_or("");
        self.login_page(200, &ix, hint, None)
    }

    /// With a session cookie: a code straight away when the session is fresh enough, is the
    /// expected user and the consent is remembered; the consent page when only the consent
    /// is missing; `None` (sign in) otherwise.
    async fn with_session(
        &self,
        req: &Request,
        client: &Client,
        valid: &Validated,
        ix: &Interaction,
        to: &ErrorRedirect<'_>,
    ) -> Option<Response> {
        let cookie = session::from_request(req, self.config.secure_cookies)?;
        let sub = self.sub_for_sector(client.sector().as_deref(), &cookie.sub);
        // id_token_hint / claims sub naming another user than the signed-in one: sign in again.
        if valid.expected_subs.iter().any(|s| *s != sub) {
            return None;
        }
        let cmd = AccountCommand::Check {
            id_hash: cookie.id_hash(),
            client_id: client.client_id.clone(),
            items: valid.release.consent.clone(),
            max_age: valid.max_age,
            issue: !valid.prompt.consent,
        };
        let (username, auth_time, home) = match self.accounts.send(&cookie.sub, cmd).await {
            Ok(AccountReply::Active { username, auth_time, issue, .. }) => (username, auth_time, issue),
            Ok(_) => return None,
            Err(e) => {
                (self.log)(&format!("authorize: account store: {e}"));
                let err = OAuthError::unavailable("the session store is unavailable, try again");
                return Some(error_redirect(to, &self.config.issuer, &err));
            }
        };
        // §3.1.2.1 max_age: re-authenticate when the session is older.
        if valid.max_age.is_some_and(|m| self.now - auth_time > m) {
            return None;
        }
        let user = match self.users.by_username(&username).await {
            Ok(Some(u)) if u.sub == cookie.sub => u,
            Ok(_) => return None, // the account was removed or re-created
            Err(e) => {
                (self.log)(&format!("authorize: user store: {e}"));
                let err = OAuthError::unavailable("the user store is unavailable, try again");
                return Some(error_redirect(to, &self.config.issuer, &err));
            }
        };
        let signed_in = SignedIn {
            local_sub: (sub != cookie.sub).then(|| cookie.sub.clone()),
            sub,
            username,
            auth_time,
            claims: user.claims_named(ix.id_token_claims.iter().map(String::as_str)),
        };
        // A fresh session, the consent on record, no prompt=consent: a code without a page.
        if let Some(home) = home {
            let ix = ix.clone();
            // No form was shown, so nothing to use up: the code carries the grant (one object
            // call here). Its id names the object that keeps this user's grants at this client
            // (model::grant::homed_grant_id), where the token endpoint stores it: that object
            // exists already, so redeeming creates none, and withdrawing the consent revokes
            // every grant in it at once.
            let grant_id = match homed_grant_id(&home) {
                Ok(id) => id,
                Err(e) => {
                    (self.log)(&format!("authorize: {e}"));
                    let err = OAuthError::new(ErrorCode::ServerError, "internal error");
                    return Some(error_redirect(to, &self.config.issuer, &err));
                }
            };
            let locale = ix.locale;
            let code = self.issue_code(grant_id, ix.into_grant(signed_in), to, CodeIssue::Sealed, locale);
            return Some(code.await);
        }
        if valid.prompt.none {
            let err = OAuthError::new(ErrorCode::ConsentRequired, "the user has not allowed this application yet");
            return Some(error_redirect(to, &self.config.issuer, &err));
        }
        // The consent form is used once: reserve its grant id.
        let reserve = Command::Reserve { expires_at: self.now + self.config.interaction_ttl };
        match self.grants.send(&ix.grant_id, reserve).await {
            Ok(Reply::Reserved) => {}
            other => {
                (self.log)(&format!("authorize: could not reserve a grant: {other:?}"));
                let err = OAuthError::unavailable("the grant store is unavailable, try again");
                return Some(error_redirect(to, &self.config.issuer, &err));
            }
        }
        let consent = Interaction { user: Some(signed_in), ..ix.clone() };
        Some(self.consent_page(&consent))
    }

    /// An ID token this provider issued (OpenID Connect Core §3.1.2.1; RP-Initiated Logout
    /// §2): signed by one of our published keys, with our `iss` and a `sub`. Its expiry is not
    /// checked: a hint may have expired.
    pub async fn id_token_hint(&self, hint: &str) -> Result<Hint, OAuthError> {
        let bad = |e: &str| {
            OAuthError::invalid_request(format!("id_token_hint is not a well-formed ID token of this provider: {e}"))
        };
        let claims = id_token::verify_own_token(self.crypto, &self.config.issuer, hint).await.map_err(|e| bad(&e))?;
        let sub = claims.get("sub").and_then(Value::as_str).ok_or_else(|| bad("it has no sub"))?.to_string();
        let aud = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(v)) => v.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => vec![],
        };
        Ok(Hint { sub, aud })
    }

    async fn validate(&self, client: &Client, params: &Params) -> Result<Validated, OAuthError> {
        if let Some(s) = params.get("state") {
            if s.len() > MAX_STATE_LEN {
                return Err(OAuthError::invalid_request("state is too long"));
            }
        }
        // OpenID Connect Core §6: request objects are not supported.
        if params.get("request").is_some() {
            return Err(OAuthError::new(ErrorCode::RequestNotSupported, "the request parameter is not supported"));
        }
        if params.get("request_uri").is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "the request_uri parameter is not supported",
            ));
        }
        match params.get("response_type") {
            None => return Err(OAuthError::invalid_request("response_type is required")),
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported"))
            }
        }
        if !client.response_types.iter().any(|r| r == "code") {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use response_type=code"));
        }
        if let Some(mode) = params.get("response_mode") {
            if mode != "query" {
                return Err(OAuthError::invalid_request("only response_mode=query is supported"));
            }
        }
        let scopes = self.granted_scopes(client, params).await?;
        if let Some(nonce) = params.get("nonce") {
            if nonce.len() > MAX_NONCE_LEN {
                return Err(OAuthError::invalid_request("nonce is too long"));
            }
        }
        // claims (§5.5).
        let claims_req = match params.get("claims") {
            Some(c) => ClaimsRequest::parse(c)?,
            None => ClaimsRequest::default(),
        };
        let mut expected_subs: Vec<String> = claims_req.sub.iter().cloned().collect();
        // id_token_hint (§3.1.2.1): an ID token this provider issued; its `sub` is the
        // user expected to be signed in.
        if let Some(hint) = params.get("id_token_hint") {
            expected_subs.push(self.id_token_hint(hint).await?.sub);
        }
        // prompt (§3.1.2.1).
        let mut prompt = Prompt::default();
        if let Some(p) = params.get("prompt") {
            let values: Vec<&str> = p.split(' ').filter(|s| !s.is_empty()).collect();
            for v in &values {
                match *v {
                    "none" => prompt.none = true,
                    // select_account: the login page is where an account is chosen.
                    "login" | "select_account" => prompt.login = true,
                    "consent" => prompt.consent = true,
                    _ => return Err(OAuthError::invalid_request("prompt has a value that is not supported")),
                }
            }
            if prompt.none && values.len() > 1 {
                return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
            }
        }
        // max_age (§3.1.2.1): seconds since the last active authentication.
        let max_age = match params.get("max_age") {
            None => None,
            Some(m) => match m.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => return Err(OAuthError::invalid_request("max_age must be a non-negative number of seconds")),
            },
        };
        // max_age=0 is prompt=login (§3.1.2.1, errata 2).
        if max_age == Some(0) {
            prompt.login = true;
        }
        // display, ui_locales, claims_locales, acr_values, login_hint: accepted; unknown
        // parameters are ignored (§3.1.2.1).
        // PKCE (RFC 7636 §4.3, RFC 9700 §2.1.1): S256, required unless a confidential
        // client's record opts out (`require_pkce: false`, for legacy clients).
        let pkce = match (params.get("code_challenge"), params.get("code_challenge_method")) {
            (None, Some(_)) => return Err(OAuthError::invalid_request("code_challenge_method without code_challenge")),
            (None, None) if client.requires_pkce() => {
                return Err(OAuthError::invalid_request(
                    "PKCE is required: send code_challenge with code_challenge_method=S256 (RFC 7636)",
                ))
            }
            (None, None) => None,
            (Some(c), m) => {
                // RFC 7636 §4.3 makes an omitted method plain, which is not supported.
                if m != Some(pkce::S256) {
                    return Err(OAuthError::invalid_request(
                        "code_challenge_method must be S256 (plain is not supported, RFC 9700 §2.1.1)",
                    ));
                }
                if !pkce::valid_value(c) {
                    return Err(OAuthError::invalid_request(
                        "code_challenge must be 43-128 characters of A-Z a-z 0-9 - . _ ~",
                    ));
                }
                Some((c.to_string(), pkce::S256.to_string()))
            }
        };
        let (names, defs) = scopes;
        let release = claims::release(&names, &defs, &claims_req, |s| client.allows_scope(s));
        Ok(Validated {
            scope: names.join(" "),
            state: params.get("state").map(str::to_string),
            nonce: params.get("nonce").map(str::to_string),
            pkce,
            prompt,
            max_age,
            expected_subs,
            release,
            custom: defs,
        })
    }

    /// Scopes (RFC 6749 §3.3): `openid` is required (OpenID Connect Core §3.1.2.1); values
    /// not understood are ignored; known scopes the client is not registered for are
    /// refused. Custom scopes are looked up in KV (`scope:<name>`).
    async fn granted_scopes(
        &self,
        client: &Client,
        params: &Params,
    ) -> Result<(Vec<String>, Vec<ScopeDef>), OAuthError> {
        let Some(scope_param) = params.get("scope") else {
            return Err(OAuthError::invalid_scope("scope is required and must include openid"));
        };
        let mut requested: Vec<&str> = Vec::new();
        for s in scope_param.split(' ').filter(|s| !s.is_empty()) {
            if !requested.contains(&s) {
                requested.push(s);
            }
        }
        if !requested.contains(&"openid") {
            return Err(OAuthError::invalid_scope("scope must include openid"));
        }
        // Only the custom scopes this client's record lists are looked up (an operator's short
        // list): any other name is ignored as unknown, and costs no KV read.
        let custom: Vec<&str> = requested
            .iter()
            .copied()
            .filter(|s| !scope::is_supported(s) && custom_scope::valid_scope_name(s) && client.allows_scope(s))
            .collect();
        if custom.len() > MAX_CUSTOM_SCOPES {
            return Err(OAuthError::invalid_scope("too many scopes requested"));
        }
        let found = join_all(custom.iter().map(|s| self.clients.scope(s))).await;
        let mut defs = Vec::new();
        for (name, r) in custom.iter().zip(found) {
            match r {
                Ok(Some(d)) => defs.push(d),
                Ok(None) => {}
                Err(StoreError::Malformed(m)) => {
                    (self.log)(&m);
                    return Err(OAuthError::invalid_scope(format!("the scope '{name}' is misconfigured")));
                }
                Err(StoreError::Unavailable(m)) => {
                    (self.log)(&format!("authorize: scope store unavailable: {m}"));
                    return Err(OAuthError::unavailable("the scope store is unavailable, try again"));
                }
            }
        }
        let mut granted = Vec::new();
        for s in requested {
            if !scope::is_supported(s) && !defs.iter().any(|d| d.name == s) {
                continue;
            }
            // OpenID Connect Core §11: ignored for clients that may not use refresh tokens.
            if s == scope::OFFLINE_ACCESS && !client.allows_grant("refresh_token") {
                continue;
            }
            if !client.allows_scope(s) {
                return Err(OAuthError::invalid_scope(format!("this client may not request the scope '{s}'")));
            }
            granted.push(s.to_string());
        }
        Ok((granted, defs))
    }

    fn interaction(
        &self,
        req: &Request,
        client: &Client,
        v: &Validated,
        redirect_uri: &str,
        grant_id: String,
        ui: &Ui<'_>,
    ) -> Interaction {
        // Should the CSPRNG fail, the grant id (also random) serves.
        let csrf = interaction::csrf_value(req, self.config.secure_cookies)
            .unwrap_or_else(|_| format!("{grant_id}{grant_id}").chars().take(43).collect());
        let (code_challenge, code_challenge_method) = match &v.pkce {
            Some((c, m)) => (Some(c.clone()), Some(m.clone())),
            None => (None, None),
        };
        Interaction {
            client_id: client.client_id.clone(),
            client_name: client.display_name().to_string(),
            redirect_uri: redirect_uri.to_string(),
            scope: v.scope.clone(),
            state: v.state.clone(),
            nonce: v.nonce.clone(),
            code_challenge,
            code_challenge_method,
            csrf,
            grant_id,
            sector: client.sector(),
            exp: self.now + self.config.interaction_ttl,
            user: None,
            id_token_claims: v.release.id_token.clone(),
            userinfo_claims: v.release.userinfo.clone(),
            consent: v.release.consent.clone(),
            descriptions: claims::describe(&v.release.consent, &v.custom, &ui.text),
            force_consent: v.prompt.consent,
            expected_subs: v.expected_subs.clone(),
            custom_scopes: v.release.custom_scopes.clone(),
            locale: ui.text.locale,
            links: ClientLinks::of(client),
        }
    }

    /// The sign-in page; `error` (a message key) re-shows it with the message announced
    /// (`role="alert"`), the username kept and the focus in the password field.
    pub fn login_page(&self, status: u16, ix: &Interaction, username: &str, error: Option<&str>) -> Response {
        let ui = self.ui(ix.locale);
        self.login_page_with(status, ix, username, error.map(|k| ui.t(k)))
    }

    /// The sign-in page with an error already in words.
    pub fn login_page_with(&self, status: u16, ix: &Interaction, username: &str, error: Option<String>) -> Response {
        let ui = self.ui(ix.locale);
        let error_html = error
            .as_deref()
            .map(|e| format!("<p class=\"error\" id=\"login-error\" role=\"alert\">{}</p>", pages::escape(e)))
            .unwrap_or_default();
        // The field to type in next gets the focus: the password once a username is known.
        let (user_attrs, pass_attrs) = match (error.is_some(), username.is_empty()) {
            (true, false) => ("", " autofocus aria-invalid=\"true\" aria-describedby=\"login-error\""),
            (true, true) => (" autofocus aria-invalid=\"true\" aria-describedby=\"login-error\"", ""),
            (false, false) => ("", " autofocus"),
            (false, true) => (" autofocus", ""),
        };
        let tx = ix.seal(&self.keys.page);
        let lead =
            ui.text.html("login.lead", &[("client", &format!("<strong>{}</strong>", pages::escape(&ix.client_name)))]);
        let body = pages::render(
            pages::LOGIN,
            &ui,
            &[("error", &error_html), ("lead", &lead), ("username_attrs", user_attrs), ("password_attrs", pass_attrs)],
            &[("tx", &tx), ("username", username)],
        );
        // The sign-in form can end in a redirect to the client: a returning user whose consent
        // is on record, or an error for it (CSP form-action governs redirects after a post).
        pages::page(&ui, status, &ui.t("login.title"), &body, Sources::forms(form_target(&ix.redirect_uri)))
            .with_header("set-cookie", &self.csrf_cookie(ix))
    }

    /// The anti-CSRF cookie, sent with every page so that it lives as long as the page.
    pub fn csrf_cookie(&self, ix: &Interaction) -> String {
        interaction::set_csrf_cookie(&ix.csrf, self.config.secure_cookies, self.config.interaction_ttl)
    }
}

/// What an `id_token_hint` says: who the user is (for this client) and which client.
pub struct Hint {
    pub sub: String,
    pub aud: Vec<String>,
}

/// At most this many scopes that are not standard are looked up per request.
const MAX_CUSTOM_SCOPES: usize = 16;

#[derive(Default)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

struct Validated {
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    pkce: Option<(String, String)>,
    prompt: Prompt,
    max_age: Option<i64>,
    /// The `sub` values the signed-in user must have (id_token_hint, claims sub).
    expected_subs: Vec<String>,
    release: Release,
    /// The definitions of the custom scopes granted (for the consent page's lines).
    custom: Vec<ScopeDef>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Location is exactly what the url crate's `query_pairs_mut` makes of the same URI.
    #[test]
    fn redirect_with_appends_like_query_pairs_mut() {
        let params = [("code", "gid~AbC-_x"), ("state", "a b&c=d/é"), ("iss", "https://id.example.com")];
        for uri in [
            "https://app.example/cb",
            "https://APP.example",
            "https://app.example/cb?x=1",
            "https://app.example/cb?",
            "https://app.example/cb?a=b&",
            "http://127.0.0.1:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            let mut url = Url::parse(uri).unwrap();
            url.query_pairs_mut().extend_pairs(params);
            let r = redirect_with(uri, &params);
            assert_eq!(r.status, 303);
            assert_eq!(r.header("location"), Some(url.as_str()), "{uri}");
        }
        assert_eq!(redirect_with("not a uri", &params).status, 400);
    }
}
