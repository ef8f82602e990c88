//! Authorization endpoint (OpenID Connect Core §3.1.2, RFC 6749 §4.1.1, RFC 7636 §4.3).
//!
//! An ordered list of checks. Until the client and its redirect URI are established, an
//! error is shown as a page and never redirected (OpenID Connect Core §3.1.2.6, RFC 6749
//! §4.1.2.1: no open redirector). After that, errors go back to the client with `error`,
//! `error_description`, `state` and `iss` (RFC 9207). A valid request shows the login page.

use super::interaction::{self, Interaction};
use super::{pkce, Provider};
use crate::crypto::{random_token, Crypto};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Params, Request, Response};
use crate::model::{scope, Client};
use crate::pages;
use crate::store::{ClientStore, GrantStore, ThrottleStore, UserStore};
use url::Url;

pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 512;

/// Where an authorization error goes once the redirect URI is trusted.
pub struct ErrorRedirect<'r> {
    pub redirect_uri: &'r str,
    pub state: Option<&'r str>,
}

/// Builds `redirect_uri` with extra query parameters (RFC 6749 §4.1.2: keep its own query).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            Response::redirect(url.as_str())
        }
        // Registered redirect URIs are validated when the client record is read.
        Err(_) => pages::error_page(
            400,
            "Invalid redirect URI",
            "The application's redirect URI is not a valid URI.",
            "invalid_request",
        ),
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

impl<C: ClientStore, U: UserStore, G: GrantStore, T: ThrottleStore, K: Crypto> Provider<'_, C, U, G, T, K> {
    pub async fn authorize(&self, req: &Request) -> Response {
        let params = match req.method.as_str() {
            "GET" | "HEAD" => req.query_params(),
            // OpenID Connect Core §3.1.2.1: POST with a form body is also supported.
            _ => req.form(),
        };
        let params = match params {
            Ok(p) => p,
            Err(e) => return pages::error_page(400, "Invalid request", &e.description, e.code.as_str()),
        };
        // 1. The client.
        let Some(client_id) = params.get("client_id") else {
            return pages::error_page(400, "Invalid request", "The request has no client_id.", "invalid_request");
        };
        let client = match self.clients.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return pages::error_page(
                    400,
                    "Unknown application",
                    "No application is registered with this client_id.",
                    "invalid_client",
                )
            }
            Err(StoreError::Malformed(m)) => {
                (self.log)(&m);
                return pages::error_page(400, "Application misconfigured", &m, "invalid_client");
            }
            Err(StoreError::Unavailable(m)) => {
                (self.log)(&format!("authorize: client store unavailable: {m}"));
                return pages::error_page(
                    503,
                    "Temporarily unavailable",
                    "Please try again in a moment.",
                    "temporarily_unavailable",
                )
                .with_header("retry-after", "5");
            }
        };
        // 2. The redirect URI: required by OpenID Connect, matched exactly.
        let Some(redirect_uri) = params.get("redirect_uri") else {
            return pages::error_page(400, "Invalid request", "The request has no redirect_uri.", "invalid_request");
        };
        if !client.has_redirect_uri(redirect_uri) {
            return pages::error_page(
                400,
                "Invalid redirect URI",
                "The redirect_uri is not registered for this application, so you cannot be sent back to it.",
                "invalid_request",
            );
        }
        if client.sector().is_some() && self.pairwise_salt.is_none() {
            let m = format!(
                "client '{}' asks for pairwise subjects but the PAIRWISE_SALT secret is not set",
                client.client_id
            );
            (self.log)(&m);
            return pages::error_page(400, "Application misconfigured", &m, "invalid_client");
        }
        // Registration §2: the ID tokens this client asks for need a signing key of its algorithm.
        let alg = client.id_token_signed_response_alg;
        if self.crypto.signing_kid(alg).is_none() {
            let m = format!(
                "client '{}' asks for ID tokens signed with {alg} (id_token_signed_response_alg) but SIGNING_KEYS has no {alg} signing key",
                client.client_id
            );
            (self.log)(&m);
            return pages::error_page(400, "Application misconfigured", &m, "invalid_client");
        }
        let to = ErrorRedirect { redirect_uri, state: params.get("state") };
        // 3. Everything else goes back to the client.
        match self.validate(&client, &params) {
            Ok(valid) => self.login_page_for(req, &client, valid, redirect_uri, &params),
            Err(e) => error_redirect(&to, &self.config.issuer, &e),
        }
    }

    fn validate(&self, client: &Client, params: &Params) -> Result<Validated, OAuthError> {
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
        // Scopes: openid is required (OpenID Connect Core §3.1.2.1); values not understood
        // are ignored; known scopes the client is not registered for are refused.
        let Some(scope_param) = params.get("scope") else {
            return Err(OAuthError::invalid_scope("scope is required and must include openid"));
        };
        let requested: Vec<&str> = scope_param.split(' ').filter(|s| !s.is_empty()).collect();
        if !requested.contains(&"openid") {
            return Err(OAuthError::invalid_scope("scope must include openid"));
        }
        let mut granted: Vec<&str> = Vec::new();
        for s in requested {
            if !scope::is_supported(s) || granted.contains(&s) {
                continue;
            }
            if !client.allows_scope(s) {
                return Err(OAuthError::invalid_scope(format!("this client may not request the scope '{s}'")));
            }
            granted.push(s);
        }
        if let Some(nonce) = params.get("nonce") {
            if nonce.len() > MAX_NONCE_LEN {
                return Err(OAuthError::invalid_request("nonce is too long"));
            }
        }
        // id_token_hint (OpenID Connect Core §3.1.2.1): must be an ID token this provider
        // issued. Its signature is not needed to refuse a malformed or foreign one.
        if let Some(hint) = params.get("id_token_hint") {
            check_id_token_hint(hint, &self.config.issuer)?;
        }
        // prompt (OpenID Connect Core §3.1.2.1). There are no sessions yet, so prompt=none
        // can never be satisfied without interaction.
        if let Some(prompt) = params.get("prompt") {
            let values: Vec<&str> = prompt.split(' ').filter(|s| !s.is_empty()).collect();
            for v in &values {
                if !matches!(*v, "none" | "login" | "consent" | "select_account") {
                    return Err(OAuthError::invalid_request(format!("unsupported prompt value '{v}'")));
                }
            }
            if values.contains(&"none") {
                if values.len() > 1 {
                    return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
                }
                return Err(OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in"));
            }
        }
        // PKCE (RFC 7636 §4.3, RFC 9700 §2.1.1): required for public clients, S256 only
        // for them; the method defaults to plain when omitted.
        let challenge = params.get("code_challenge");
        let method = params.get("code_challenge_method");
        let pkce = match (challenge, method) {
            (None, Some(_)) => return Err(OAuthError::invalid_request("code_challenge_method without code_challenge")),
            (None, None) => {
                if client.token_endpoint_auth_method.is_public() {
                    return Err(OAuthError::invalid_request(
                        "public clients must use PKCE: code_challenge is required",
                    ));
                }
                None
            }
            (Some(c), m) => {
                let m = m.unwrap_or("plain");
                if m != "S256" && m != "plain" {
                    return Err(OAuthError::invalid_request("code_challenge_method must be S256"));
                }
                if m == "plain" && client.token_endpoint_auth_method.is_public() {
                    return Err(OAuthError::invalid_request("public clients must use code_challenge_method=S256"));
                }
                if !pkce::valid_value(c) {
                    return Err(OAuthError::invalid_request(
                        "code_challenge must be 43-128 characters of A-Z a-z 0-9 - . _ ~",
                    ));
                }
                Some((c.to_string(), m.to_string()))
            }
        };
        Ok(Validated { scope: granted.join(" "), pkce })
    }

    fn login_page_for(
        &self,
        req: &Request,
        client: &Client,
        v: Validated,
        redirect_uri: &str,
        params: &Params,
    ) -> Response {
        let secure = self.config.secure_cookies;
        // Reuse the browser's anti-CSRF value so several tabs can sign in at once.
        let fresh = random_token::<32>().and_then(|c| random_token::<16>().map(|g| (c, g)));
        let (fresh_csrf, grant_id) = match fresh {
            Ok(v) => v,
            Err(e) => {
                (self.log)(&format!("authorize: {e}"));
                let to = ErrorRedirect { redirect_uri, state: params.get("state") };
                let err = OAuthError::new(ErrorCode::ServerError, "internal error");
                return error_redirect(&to, &self.config.issuer, &err);
            }
        };
        let csrf = match interaction::csrf_cookie(req, secure) {
            Some(existing) => existing.to_string(),
            None => fresh_csrf,
        };
        let (code_challenge, code_challenge_method) = match v.pkce {
            Some((c, m)) => (Some(c), Some(m)),
            None => (None, None),
        };
        let ix = Interaction {
            client_id: client.client_id.clone(),
            client_name: client.display_name().to_string(),
            redirect_uri: redirect_uri.to_string(),
            scope: v.scope,
            state: params.get("state").map(str::to_string),
            nonce: params.get("nonce").map(str::to_string),
            code_challenge,
            code_challenge_method,
            csrf: csrf.clone(),
            grant_id,
            sector: client.sector(),
            exp: self.now + self.config.interaction_ttl,
            user: None,
        };
        let hint = params.get("login_hint").unwrap_or("");
        self.login_page(200, &ix, hint, None)
    }

    pub fn login_page(&self, status: u16, ix: &Interaction, username: &str, error: Option<&str>) -> Response {
        let error_html =
            error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", pages::escape(e))).unwrap_or_default();
        let tx = ix.seal(self.session_key);
        let body = pages::render(
            pages::LOGIN,
            &[("error", &error_html)],
            &[("client_name", &ix.client_name), ("tx", &tx), ("username", username)],
        );
        pages::page(status, "Sign in", &body, &[]).with_header("set-cookie", &self.csrf_cookie(ix))
    }

    /// The anti-CSRF cookie, sent with every page so that it lives as long as the page.
    pub fn csrf_cookie(&self, ix: &Interaction) -> String {
        interaction::set_csrf_cookie(&ix.csrf, self.config.secure_cookies, self.config.interaction_ttl)
    }
}

/// A structurally valid JWS whose `iss` is this provider.
fn check_id_token_hint(hint: &str, issuer: &str) -> Result<(), OAuthError> {
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let malformed = || OAuthError::invalid_request("id_token_hint is not a well-formed ID token");
    let token = jwt_compact::UntrustedToken::new(hint).map_err(|_| malformed())?;
    let claims = token.deserialize_claims_unchecked::<Iss>().map_err(|_| malformed())?;
    match claims.custom.iss.as_deref() {
        Some(iss) if iss == issuer => Ok(()),
        _ => Err(OAuthError::invalid_request("id_token_hint was not issued by this provider")),
    }
}

struct Validated {
    scope: String,
    pkce: Option<(String, String)>,
}
