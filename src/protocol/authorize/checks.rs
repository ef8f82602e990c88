//! The authorization request's checks once the client and its redirect URI are trusted
//! (OpenID Connect Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636 §4.3): each failure goes back to
//! the client; and the sign-in's state built from a valid request.

use super::{MAX_NONCE_LEN, MAX_STATE_LEN};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Params, Request};
use crate::model::strength::Level;
use crate::model::{custom_scope, pkce, scope, Client, Resource, ScopeDef};
use crate::pages::Ui;
use crate::protocol::claims::{self, ClaimsRequest, Release};
use crate::protocol::failure::Failure;
use crate::protocol::interaction::{self, ClientLinks, Interaction};
use crate::protocol::{id_token, Backend, Provider};
use crate::store::ClientStore;
use futures_util::future::join_all;
use serde_json::Value;

/// What an `id_token_hint` says: who the user is (for this client) and which client.
pub struct Hint {
    pub sub: String,
    pub aud: Vec<String>,
}

/// At most this many scopes that are not standard are looked up per request.
const MAX_CUSTOM_SCOPES: usize = 16;

#[derive(Default)]
pub(super) struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

pub(super) struct Validated {
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub pkce: Option<(String, String)>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// The `sub` values the signed-in user must have (id_token_hint, claims sub).
    pub expected_subs: Vec<String>,
    pub release: Release,
    /// The definitions of the custom scopes granted (for the consent page's lines).
    pub custom: Vec<ScopeDef>,
    /// The resource the access tokens are for (RFC 8707).
    pub resource: Option<Resource>,
    /// The level the sign-in must reach (`model::strength`).
    pub required: Level,
    /// `acr` values asked for as an essential claim (the ID token reports one of them).
    pub acr_essential: Vec<String>,
}

impl<B: Backend> Provider<'_, B> {
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

    pub(super) async fn validate(&self, client: &Client, params: &Params) -> Result<Validated, Failure> {
        if let Some(s) = params.get("state") {
            if s.len() > MAX_STATE_LEN {
                return Err(Failure::json(OAuthError::invalid_request("state is too long")));
            }
        }
        // OpenID Connect Core §6: request objects are not supported.
        if params.get("request").is_some() {
            return Err(Failure::json(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "the request parameter is not supported",
            )));
        }
        if params.get("request_uri").is_some() {
            return Err(Failure::json(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "the request_uri parameter is not supported",
            )));
        }
        match params.get("response_type") {
            None => return Err(Failure::json(OAuthError::invalid_request("response_type is required"))),
            Some("code") => {}
            Some(_) => {
                return Err(Failure::json(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )))
            }
        }
        if !client.response_types.iter().any(|r| r == "code") {
            return Err(Failure::json(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use response_type=code",
            )));
        }
        if let Some(mode) = params.get("response_mode") {
            if mode != "query" {
                return Err(Failure::json(OAuthError::invalid_request("only response_mode=query is supported")));
            }
        }
        let resource = self.resource_of(client, params).await?;
        let scopes = self.granted_scopes(client, params, resource.as_ref()).await?;
        let openid = scopes.0.iter().any(|s| s == scope::OPENID);
        if let Some(nonce) = params.get("nonce") {
            if nonce.len() > MAX_NONCE_LEN {
                return Err(Failure::json(OAuthError::invalid_request("nonce is too long")));
            }
        }
        // claims (§5.5).
        let claims_req = match params.get("claims") {
            Some(c) => ClaimsRequest::parse(c).map_err(Failure::json)?,
            None => ClaimsRequest::default(),
        };
        let mut expected_subs: Vec<String> = claims_req.sub.iter().cloned().collect();
        // id_token_hint (§3.1.2.1): an ID token this provider issued; its `sub` is the
        // user expected to be signed in.
        if let Some(hint) = params.get("id_token_hint") {
            expected_subs.push(self.id_token_hint(hint).await.map_err(Failure::json)?.sub);
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
                    _ => {
                        return Err(Failure::json(OAuthError::invalid_request(
                            "prompt has a value that is not supported",
                        )))
                    }
                }
            }
            if prompt.none && values.len() > 1 {
                return Err(Failure::json(OAuthError::invalid_request(
                    "prompt=none cannot be combined with other values",
                )));
            }
        }
        // max_age (§3.1.2.1): seconds since the last active authentication.
        let max_age = match params.get("max_age") {
            None => None,
            Some(m) => match m.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    return Err(Failure::json(OAuthError::invalid_request(
                        "max_age must be a non-negative number of seconds",
                    )))
                }
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
            (None, Some(_)) => {
                return Err(Failure::json(OAuthError::invalid_request("code_challenge_method without code_challenge")))
            }
            (None, None) if client.requires_pkce() => {
                return Err(Failure::json(OAuthError::invalid_request(
                    "PKCE is required: send code_challenge with code_challenge_method=S256 (RFC 7636)",
                )))
            }
            (None, None) => None,
            (Some(c), m) => {
                // RFC 7636 §4.3 makes an omitted method plain, which is not supported.
                if m != Some(pkce::S256) {
                    return Err(Failure::json(OAuthError::invalid_request(
                        "code_challenge_method must be S256 (plain is not supported, RFC 9700 §2.1.1)",
                    )));
                }
                if !pkce::valid_value(c) {
                    return Err(Failure::json(OAuthError::invalid_request(
                        "code_challenge must be 43-128 characters of A-Z a-z 0-9 - . _ ~",
                    )));
                }
                Some((c.to_string(), pkce::S256.to_string()))
            }
        };
        // RFC 9700 §2.1.1: a client that does not use PKCE prevents code injection with the
        // nonce (OpenID Connect): one of the two is required; plain OAuth has no nonce.
        if pkce.is_none() && (params.get("nonce").is_none() || !openid) {
            return Err(Failure::json(OAuthError::invalid_request(
                "without PKCE, nonce is required (RFC 9700 §2.1.1): send code_challenge (S256) or nonce",
            )));
        }
        let (names, defs) = scopes;
        let mut release = claims::release(&names, &defs, &claims_req, |s| client.allows_scope(s));
        // The consent covers the resource too: allowing one API is not allowing another.
        if let Some(r) = &resource {
            release.consent.push(format!("resource:{}", r.resource));
        }
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
            resource,
            required: crate::protocol::strength::required(self.config, client, params.get("acr_values"), &claims_req)
                .map_err(Failure::json)?,
            acr_essential: claims_req.acr_essential.clone(),
        })
    }

    /// Scopes (RFC 6749 §3.3): with `openid` an OpenID Connect request (Core §3.1.2.1),
    /// without it plain OAuth, which must name a resource (RFC 8707) and gets its API scopes
    /// only. Values not understood are ignored; known scopes the client is not registered for
    /// are refused. Custom scopes are looked up in KV (`scope:<name>`).
    async fn granted_scopes(
        &self,
        client: &Client,
        params: &Params,
        resource: Option<&Resource>,
    ) -> Result<(Vec<String>, Vec<ScopeDef>), Failure> {
        let scope_param = match (params.get("scope"), resource) {
            (Some(s), _) => s,
            (None, Some(_)) => "",
            (None, None) => {
                return Err(Failure::json(OAuthError::invalid_scope(
                    "scope is required: openid for OpenID Connect, or a resource's scopes with resource (RFC 8707)",
                )))
            }
        };
        let mut requested: Vec<&str> = Vec::new();
        for s in scope_param.split(' ').filter(|s| !s.is_empty()) {
            if !requested.contains(&s) {
                requested.push(s);
            }
        }
        let openid = requested.contains(&scope::OPENID);
        if !openid && resource.is_none() {
            return Err(Failure::json(OAuthError::invalid_scope(
                "scope must include openid, or the request must name a resource (RFC 8707)",
            )));
        }
        // A resource's own scopes come first: they are granted as the resource defines them.
        let is_api = |s: &str| resource.is_some_and(|r| r.scope(s).is_some());
        if !openid {
            requested.retain(|s| is_api(s) || *s == scope::OFFLINE_ACCESS);
        }
        // Only the custom scopes this client's record lists are looked up (an operator's short
        // list): any other name is ignored as unknown, and costs no KV read.
        let custom: Vec<&str> = requested
            .iter()
            .copied()
            .filter(|s| {
                !scope::is_supported(s) && !is_api(s) && custom_scope::valid_scope_name(s) && client.allows_scope(s)
            })
            .collect();
        if custom.len() > MAX_CUSTOM_SCOPES {
            return Err(Failure::json(OAuthError::invalid_scope("too many scopes requested")));
        }
        let found = join_all(custom.iter().map(|s| self.clients.scope(s))).await;
        let mut defs = Vec::new();
        for (name, r) in custom.iter().zip(found) {
            match r {
                Ok(Some(d)) => defs.push(d),
                Ok(None) => {}
                Err(StoreError::Malformed(m)) => {
                    return Err(Failure::json(OAuthError::invalid_scope(format!(
                        "the scope '{name}' is misconfigured"
                    )))
                    .logged(m));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut granted = Vec::new();
        for s in requested {
            if is_api(s) {
                if !client.allows_api_scope(s) {
                    return Err(Failure::json(OAuthError::invalid_scope(format!(
                        "this client may not request the scope '{s}'"
                    ))));
                }
                granted.push(s.to_string());
                continue;
            }
            if !scope::is_supported(s) && !defs.iter().any(|d| d.name == s) {
                continue;
            }
            // OpenID Connect Core §11: ignored for clients that may not use refresh tokens.
            if s == scope::OFFLINE_ACCESS && !client.allows_grant("refresh_token") {
                continue;
            }
            if !client.allows_scope(s) {
                return Err(Failure::json(OAuthError::invalid_scope(format!(
                    "this client may not request the scope '{s}'"
                ))));
            }
            granted.push(s.to_string());
        }
        Ok((granted, defs))
    }

    pub(super) fn interaction(
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
            unreserved: false,
            sector: client.sector(),
            exp: self.now + self.config.interaction_ttl,
            user: None,
            id_token_claims: v.release.id_token.clone(),
            userinfo_claims: v.release.userinfo.clone(),
            consent: v.release.consent.clone(),
            descriptions: claims::describe(&v.release.consent, &v.custom, v.resource.as_ref(), &ui.text),
            force_consent: v.prompt.consent,
            expected_subs: v.expected_subs.clone(),
            custom_scopes: v.release.custom_scopes.clone(),
            locale: ui.text.locale,
            links: ClientLinks::of(client),
            resource: v.resource.as_ref().map(|r| r.resource.clone()),
            access_token_ttl: v.resource.as_ref().and_then(|r| r.access_token_ttl_seconds),
            access_token_format: v.resource.as_ref().map(|r| r.access_token_format).unwrap_or_default(),
            unregistered: client.is_unregistered(),
            required_acr: (v.required > Level::Pwd).then(|| v.required.as_str().to_string()),
            acr_essential: v.acr_essential.clone(),
            pending: None,
        }
    }
}
