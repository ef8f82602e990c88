//! Dynamic client registration (RFC 7591) and its management (RFC 7592), when the operator
//! turns it on (`REGISTRATION=open` or `token`). A registered client is a client record like
//! any other, marked by the hash of its registration access token; it is deleted by KV when it
//! goes unused for `REGISTRATION_UNUSED_DAYS`, and each grant it gets keeps it until that
//! grant can no longer be used ([`Provider::keep_registered`]).

use super::failure::Failure;
use super::{random, Backend, Provider};
use crate::config::Registration;
use crate::crypto::{ct_eq, hash_client_secret, random_token, sha256, verify_client_secret};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Request, Response};
use crate::model::client::{validate_redirect_uri, AuthMethod, Client};
use crate::objects::throttle::{self, Command as Count, Policy};
use crate::store::{ClientStore, ThrottleStore};
use serde_json::{json, Map, Value};

pub const REGISTRATION_PATH: &str = "/register";

/// The most a registration may say about itself: a few KB.
const MAX_METADATA_BYTES: usize = 8 * 1024;

fn metadata_error(d: impl Into<String>) -> Failure {
    OAuthError::new(ErrorCode::InvalidClientMetadata, d).into()
}

fn bearer(req: &Request) -> Option<&str> {
    let (scheme, token) = req.header("authorization")?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn invalid_token(d: &str) -> Failure {
    Failure::json(OAuthError::invalid_token(d)).with_header("www-authenticate", "Bearer error=\"invalid_token\"")
}

/// A client's metadata from a registration request (RFC 7591 §2): what this provider uses of
/// it, checked; the rest is ignored. `id`, `secret_hash` and `token_hash` are the provider's.
pub fn client_of_metadata(meta: &Map<String, Value>, id: &str, secret_hash: Option<String>) -> Result<Client, Failure> {
    let s = |k: &str| -> Result<Option<String>, Failure> {
        match meta.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(_) => Err(metadata_error(format!("{k} must be a string"))),
        }
    };
    let strings = |k: &str| -> Result<Vec<String>, Failure> {
        match meta.get(k) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| metadata_error(format!("{k} must list strings"))))
                .collect(),
            Some(_) => Err(metadata_error(format!("{k} must be an array of strings"))),
        }
    };
    let method = match s("token_endpoint_auth_method")?.as_deref() {
        None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
        Some("client_secret_post") => AuthMethod::ClientSecretPost,
        Some("private_key_jwt") => AuthMethod::PrivateKeyJwt,
        Some("none") => AuthMethod::None,
        Some(_) => return Err(metadata_error("token_endpoint_auth_method is not supported (client_secret_basic, client_secret_post, private_key_jwt, none)")),
    };
    let redirect_uris = strings("redirect_uris")?;
    for u in &redirect_uris {
        validate_redirect_uri(u).map_err(|e| {
            Failure::from(OAuthError::new(ErrorCode::InvalidRedirectUri, format!("a redirect URI {e}")))
        })?;
    }
    let mut grant_types = strings("grant_types")?;
    if grant_types.is_empty() {
        grant_types.push("authorization_code".into());
    }
    // A client's own tokens give access to an API with no user's consent: only for clients
    // the operator registers (RFC 6749 §4.4, "previously arranged").
    if grant_types.iter().any(|g| g == "client_credentials") {
        return Err(metadata_error("client_credentials is for clients the operator registers, not for registration"));
    }
    let response_types = match strings("response_types")? {
        v if v.is_empty() && grant_types.iter().any(|g| g == "authorization_code") => vec!["code".into()],
        v => v,
    };
    let alg = match s("id_token_signed_response_alg")?.as_deref() {
        None => Default::default(),
        Some(a) => serde_json::from_value(json!(a))
            .map_err(|_| metadata_error("id_token_signed_response_alg must be RS256, ES256 or EdDSA"))?,
    };
    let client = Client {
        client_id: id.to_string(),
        client_name: s("client_name")?.map(|n| n.chars().take(100).collect()),
        redirect_uris,
        token_endpoint_auth_method: method,
        grant_types,
        response_types,
        scope: s("scope")?.unwrap_or_else(|| "openid".into()),
        client_secret_hash: secret_hash,
        client_uri: s("client_uri")?,
        logo_uri: s("logo_uri")?,
        policy_uri: s("policy_uri")?,
        tos_uri: s("tos_uri")?,
        client_id_issued_at: None,
        subject_type: Default::default(),
        post_logout_redirect_uris: strings("post_logout_redirect_uris")?,
        id_token_signed_response_alg: alg,
        require_pkce: true,
        refresh_grace_seconds: 0,
        jwks: meta.get("jwks").filter(|v| !v.is_null()).cloned(),
        jwks_uri: s("jwks_uri")?,
        resources: vec![],
        registration_access_token_hash: None,
        registration_expires_at: None,
        from_metadata_document: false,
        any_api_scope: meta.get("scope").is_none(),
        minimum_acr: None,
    };
    client.validate().map_err(|e| {
        let code = if e.starts_with("redirect_uris") {
            ErrorCode::InvalidRedirectUri
        } else {
            ErrorCode::InvalidClientMetadata
        };
        Failure::from(OAuthError::new(code, e))
    })?;
    Ok(client)
}

/// The registration response (RFC 7591 §3.2.1, RFC 7592 §3): the client's metadata and what
/// the provider gave it.
fn client_information(c: &Client, issuer: &str, secret: Option<&str>, token: Option<&str>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(json!({}));
    if let Some(o) = v.as_object_mut() {
        for private in ["client_secret_hash", "registration_access_token_hash", "registration_expires_at", "resources"]
        {
            o.remove(private);
        }
        o.insert("registration_client_uri".into(), json!(format!("{issuer}{REGISTRATION_PATH}/{}", c.client_id)));
        if let Some(s) = secret {
            o.insert("client_secret".into(), json!(s));
            o.insert("client_secret_expires_at".into(), json!(0));
        }
        if let Some(t) = token {
            o.insert("registration_access_token".into(), json!(t));
        }
    }
    v
}

impl<B: Backend> Provider<'_, B> {
    /// `POST /register` (RFC 7591 §3.1).
    pub async fn register(&self, req: &Request) -> Result<Response, Failure> {
        let reg = self.config.clients.registration;
        match reg {
            Registration::Off => {
                return Err(Failure::json(OAuthError::invalid_request("registration is off")).with_status(404))
            }
            Registration::Token => {
                // RFC 7591 §3.1: an initial access token, as a Bearer token.
                let presented = bearer(req).map(|t| sha256(t.as_bytes()));
                let known =
                    presented.is_some_and(|h| self.config.clients.registration_tokens.iter().any(|k| ct_eq(k, &h)));
                if !known {
                    return Err(invalid_token("registration needs a valid initial access token (Bearer)"));
                }
            }
            Registration::Open => {}
        }
        // Open registration is counted per address (a client per minute per person is plenty).
        let ip_key = format!("register:{}", throttle::ip_key(req.client_ip()));
        let policy = Policy {
            delay_from: u32::MAX,
            lock_at: Some(self.config.clients.registration_max_per_ip),
            lock_seconds: 3600,
        };
        if reg == Registration::Open {
            if let throttle::Verdict::Blocked { retry_after, .. } = self.throttles.send(&ip_key, Count::Check).await? {
                let e = OAuthError::invalid_request(format!(
                    "too many registrations from this address; retry after {retry_after} seconds"
                ));
                return Err(Failure::json(e).with_status(429).with_header("retry-after", retry_after.to_string()));
            }
        }
        let meta = self.metadata_of(req)?;
        let id = random(random_token::<16>())?;
        let method_uses_secret = matches!(
            meta.get("token_endpoint_auth_method").and_then(Value::as_str),
            None | Some("client_secret_basic" | "client_secret_post")
        );
        let secret = if method_uses_secret { Some(random(random_token::<32>())?) } else { None };
        let token = random(random_token::<32>())?;
        let mut client = client_of_metadata(&meta, &id, secret.as_deref().map(hash_client_secret))?;
        client.client_id_issued_at = Some(self.now);
        client.registration_access_token_hash = Some(hash_client_secret(&token));
        let expires_at = self.now + self.config.clients.registration_unused_seconds;
        client.registration_expires_at = Some(expires_at);
        self.clients.put_client(&client, expires_at).await?;
        if reg == Registration::Open {
            if let Err(e) = self.throttles.send(&ip_key, Count::Fail { policy }).await {
                (self.log)(&format!("register: throttle store: {e}"));
            }
        }
        let body = client_information(&client, &self.config.issuer, secret.as_deref(), Some(&token));
        Ok(Response::json(201, &body).no_store().cors())
    }

    /// `GET`, `PUT`, `DELETE /register/<client_id>` (RFC 7592 §2), with the registration
    /// access token.
    pub async fn manage_registration(&self, req: &Request, client_id: &str) -> Result<Response, Failure> {
        if self.config.clients.registration == Registration::Off {
            return Err(Failure::json(OAuthError::invalid_request("registration is off")).with_status(404));
        }
        // RFC 7592 §2: a wrong token, or a client that is not there (or not registered by
        // itself), is the same 401.
        let refused = || invalid_token("the registration access token is not valid for this client");
        let token = bearer(req).ok_or_else(refused)?;
        let client = match self.clients.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) | Err(StoreError::Malformed(_)) => return Err(refused()),
            Err(e) => return Err(e.into()),
        };
        match &client.registration_access_token_hash {
            Some(h) if verify_client_secret(token, h) => {}
            _ => return Err(refused()),
        }
        match req.method.as_str() {
            // RFC 7592 §3: the answer carries the registration access token. It is not rotated:
            // a new one written to KV could meet a stale copy of the record elsewhere (KV is
            // eventually consistent) and lock the client out; the one presented is returned.
            "GET" => Ok(Response::json(200, &client_information(&client, &self.config.issuer, None, Some(token)))
                .no_store()
                .cors()),
            "DELETE" => {
                self.clients.delete_client(client_id).await?;
                Ok(Response { status: 204, headers: vec![], body: vec![] }.no_store().cors())
            }
            _ => {
                // PUT (RFC 7592 §2.2): the metadata replaced as a whole; id, secret and token kept.
                let meta = self.metadata_of(req)?;
                if meta.get("client_id").and_then(Value::as_str) != Some(client_id) {
                    return Err(OAuthError::invalid_request("client_id must be the client's (RFC 7592 §2.2)").into());
                }
                if let Some(s) = meta.get("client_secret").and_then(Value::as_str) {
                    if !client.client_secret_hash.as_deref().is_some_and(|h| verify_client_secret(s, h)) {
                        return Err(metadata_error("client_secret must be the client's own"));
                    }
                }
                let keeps_secret = client.token_endpoint_auth_method.uses_secret();
                let mut updated = client_of_metadata(&meta, client_id, client.client_secret_hash.clone())?;
                if updated.token_endpoint_auth_method.uses_secret() != keeps_secret {
                    return Err(metadata_error(
                        "token_endpoint_auth_method cannot change between a secret and none or keys",
                    ));
                }
                updated.client_id_issued_at = client.client_id_issued_at;
                updated.registration_access_token_hash = client.registration_access_token_hash.clone();
                let expires_at = self.now + self.config.clients.registration_unused_seconds;
                let expires_at = expires_at.max(client.registration_expires_at.unwrap_or(0));
                updated.registration_expires_at = Some(expires_at);
                self.clients.put_client(&updated, expires_at).await?;
                Ok(Response::json(200, &client_information(&updated, &self.config.issuer, None, Some(token)))
                    .no_store()
                    .cors())
            }
        }
    }

    /// The JSON object of a registration request.
    fn metadata_of(&self, req: &Request) -> Result<Map<String, Value>, Failure> {
        let json_body = req.content_type().is_some_and(|t| t == "application/json");
        if !json_body {
            return Err(
                OAuthError::invalid_request("the client metadata must be application/json (RFC 7591 §3.1)").into()
            );
        }
        if req.body.len() > MAX_METADATA_BYTES {
            return Err(metadata_error("the client metadata is too large"));
        }
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(metadata_error("the client metadata must be a JSON object")),
        }
    }

    /// A registered client keeps its record until `until` (a grant it got can be used until
    /// then), and for `REGISTRATION_UNUSED_DAYS` after its last use: written again when the
    /// record would go sooner than that, by more than a day (at most a write a day).
    pub async fn keep_registered(&self, client: &Client, until: i64) {
        let Some(expires) = client.registration_expires_at else { return };
        let wanted = until.max(self.now + self.config.clients.registration_unused_seconds);
        if wanted - expires < 86_400 {
            return;
        }
        let kept = Client { registration_expires_at: Some(wanted), ..client.clone() };
        if let Err(e) = self.clients.put_client(&kept, wanted).await {
            (self.log)(&format!("register: could not keep client '{}': {e}", client.client_id));
        }
    }
}
