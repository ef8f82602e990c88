//! The client a request names: a record the operator (or a registration) wrote in KV, or —
//! when the operator turned it on — a client ID metadata document: an https URL as
//! `client_id`, fetched and used as the client's record (draft-ietf-oauth-client-id-metadata-
//! document §3-§5, as the MCP authorization specification uses it). And the keys a
//! `private_key_jwt` client signs with, from its record or its `jwks_uri`.
//!
//! Whatever the provider fetches goes through [`Provider::fetch_guarded`]: https only, no
//! private, loopback or link-local target (redirects included, each hop checked), a few
//! seconds and a few KB at most (server-side request forgery, RFC 9700 §4.17 spirit).

use super::failure::Failure;
use super::{Backend, Provider};
use crate::crypto::PublicJwk;
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::http::{Fetch, Fetched};
use crate::model::client::{validate_redirect_uri, AuthMethod, Client};
use crate::model::uri::fetchable_url;
use crate::store::ClientStore;
use serde_json::Value;

/// The largest metadata document read (the draft's recommendation: 5 KB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The largest JWK Set read from a `jwks_uri`.
pub const MAX_JWKS_BYTES: usize = 16 * 1024;
/// How long a fetch may take.
pub const FETCH_TIMEOUT_MS: u32 = 3_000;
/// Redirects followed (each one checked like the first URL).
pub const MAX_REDIRECTS: usize = 3;

/// Why a client could not be found or read: what the client's developer is told.
#[derive(Debug)]
pub enum ClientError {
    /// A store did not answer.
    Store(StoreError),
    /// The record, or the metadata document, cannot be used: why.
    Unusable(String),
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> ClientError {
        match e {
            StoreError::Malformed(m) => ClientError::Unusable(m),
            other => ClientError::Store(other),
        }
    }
}

impl From<ClientError> for Failure {
    /// For the JSON endpoints: `invalid_client` naming the problem.
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Store(e) => Failure::from(e),
            ClientError::Unusable(m) => Failure::json(OAuthError::invalid_client(m.clone())).logged(m),
        }
    }
}

/// Whether `client_id` is a metadata document's URL rather than a registered id.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

impl<B: Backend> Provider<'_, B> {
    /// The client named `client_id`, if there is one.
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, ClientError> {
        if is_document_url(client_id) {
            if !self.config.clients.metadata_documents {
                return Ok(None);
            }
            return self.client_from_document(client_id).await.map(Some);
        }
        Ok(self.clients.client(client_id).await?)
    }

    /// Fetches `url` with the guards: only public https targets (or a development stand-in),
    /// redirects followed a few times and checked, the body capped.
    pub async fn fetch_guarded(&self, url: &str, max_bytes: usize) -> Result<Fetched, String> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let target = match self.config.clients.fetch_url(&url) {
                Some(local) => local,
                None => {
                    fetchable_url(&url).map_err(|e| format!("the URL {e}"))?;
                    url.clone()
                }
            };
            let r = self.fetch.get(&target, max_bytes, FETCH_TIMEOUT_MS).await?;
            if !(300..400).contains(&r.status) {
                return Ok(r);
            }
            let next = r.location.as_deref().ok_or("a redirect without a Location")?;
            url = url::Url::parse(&url)
                .and_then(|base| base.join(next))
                .map_err(|_| "a redirect to a malformed URL".to_string())?
                .to_string();
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }

    /// A client from its metadata document (draft §4): fetched, checked, never stored.
    async fn client_from_document(&self, url: &str) -> Result<Client, ClientError> {
        let unusable = |m: String| ClientError::Unusable(format!("the client metadata document {url}: {m}"));
        check_document_url(url).map_err(unusable)?;
        let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        if !self.config.clients.metadata_host_allowed(&host) {
            return Err(unusable("its host is not accepted by this provider's operator".into()));
        }
        let fetched = self
            .fetch_guarded(url, MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| unusable(format!("could not be read: {e}")))?;
        if fetched.status != 200 {
            return Err(unusable(format!("answered HTTP {}", fetched.status)));
        }
        let json_type =
            fetched.content_type.as_deref().map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        if !json_type.is_some_and(|t| t == "application/json" || t.ends_with("+json")) {
            return Err(unusable("is not served as application/json".into()));
        }
        let doc: Value = serde_json::from_slice(&fetched.body).map_err(|e| unusable(format!("is not JSON: {e}")))?;
        client_of_document(url, &doc).map_err(unusable)
    }

    /// The public keys of a `private_key_jwt` client: its record's `jwks`, or its `jwks_uri`
    /// fetched (and cached by the isolate as the server allows).
    pub async fn client_keys(&self, client: &Client) -> Result<Vec<PublicJwk>, ClientError> {
        let unusable = |m: String| ClientError::Unusable(format!("the keys of client '{}': {m}", client.client_id));
        match (&client.jwks, &client.jwks_uri) {
            (Some(set), _) => PublicJwk::parse_set(set).map_err(unusable),
            (None, Some(uri)) => {
                let r = self
                    .fetch_guarded(uri, MAX_JWKS_BYTES)
                    .await
                    .map_err(|e| unusable(format!("{uri} could not be read: {e}")))?;
                if r.status != 200 {
                    return Err(unusable(format!("{uri} answered HTTP {}", r.status)));
                }
                let set: Value =
                    serde_json::from_slice(&r.body).map_err(|e| unusable(format!("{uri} is not JSON: {e}")))?;
                PublicJwk::parse_set(&set).map_err(unusable)
            }
            (None, None) => Err(unusable("it has neither jwks nor jwks_uri".into())),
        }
    }
}

/// Draft §3: an https URL with a path, without dot segments, fragment or user information.
pub fn check_document_url(url: &str) -> Result<(), String> {
    let u = url::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
    if u.scheme() != "https" || u.as_str() != url {
        return Err("must be an https URL written in its canonical form".into());
    }
    if u.path() == "/" || u.path().is_empty() {
        return Err("must have a path".into());
    }
    if url.contains("/./") || url.contains("/../") || url.ends_with("/.") || url.ends_with("/..") {
        return Err("must not contain dot segments".into());
    }
    if url.contains('#') || !u.username().is_empty() || u.password().is_some() {
        return Err("must have no fragment and no user information".into());
    }
    Ok(())
}

/// The client a metadata document describes (draft §4): its `client_id` must be the URL it was
/// fetched from; its redirect URIs are matched exactly; it holds no secret (`none`, or
/// `private_key_jwt` with its keys). Members this provider does not use are ignored.
pub fn client_of_document(url: &str, doc: &Value) -> Result<Client, String> {
    let obj = doc.as_object().ok_or("is not a JSON object")?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let strings = |k: &str| -> Result<Vec<String>, String> {
        match obj.get(k) {
            None => Ok(vec![]),
            Some(Value::Array(a)) => {
                a.iter().map(|v| v.as_str().map(str::to_string).ok_or(format!("{k} must list strings"))).collect()
            }
            Some(_) => Err(format!("{k} must be an array")),
        }
    };
    if s("client_id").as_deref() != Some(url) {
        return Err("its client_id is not the URL it was fetched from (draft §4.1)".into());
    }
    let method = match s("token_endpoint_auth_method").as_deref() {
        None | Some("none") => AuthMethod::None,
        Some("private_key_jwt") => AuthMethod::PrivateKeyJwt,
        Some(m) => {
            return Err(format!(
                "token_endpoint_auth_method '{}' is not for a metadata document (none or private_key_jwt)",
                crate::error::quoted_name(m)
            ))
        }
    };
    let redirect_uris = strings("redirect_uris")?;
    for u in &redirect_uris {
        validate_redirect_uri(u).map_err(|e| format!("redirect_uris: {e}"))?;
    }
    let mut grant_types = strings("grant_types")?;
    if grant_types.is_empty() {
        grant_types.push("authorization_code".into());
    }
    if let Some(g) = grant_types.iter().find(|g| !["authorization_code", "refresh_token"].contains(&g.as_str())) {
        return Err(format!("grant_types: '{}' is not for a metadata document", crate::error::quoted_name(g)));
    }
    let client = Client {
        client_id: url.to_string(),
        client_name: s("client_name").map(|n| n.chars().take(100).collect()),
        redirect_uris,
        token_endpoint_auth_method: method,
        grant_types,
        response_types: vec!["code".into()],
        scope: s("scope").unwrap_or_else(|| DOCUMENT_SCOPE.to_string()),
        client_secret_hash: None,
        client_uri: s("client_uri"),
        logo_uri: s("logo_uri"),
        policy_uri: s("policy_uri"),
        tos_uri: s("tos_uri"),
        client_id_issued_at: None,
        subject_type: Default::default(),
        post_logout_redirect_uris: strings("post_logout_redirect_uris")?,
        id_token_signed_response_alg: Default::default(),
        require_pkce: true,
        refresh_grace_seconds: 0,
        jwks: obj.get("jwks").cloned(),
        jwks_uri: s("jwks_uri"),
        resources: vec![],
        registration_access_token_hash: None,
        registration_expires_at: None,
        from_metadata_document: true,
        any_api_scope: obj.get("scope").is_none(),
        minimum_acr: None,
    };
    client.validate_document()?;
    Ok(client)
}

/// What a metadata document without `scope` may ask for: OpenID Connect's scopes, and any
/// resource's API scopes (see `Client::allows_scope`).
pub const DOCUMENT_SCOPE: &str = "openid profile email offline_access";

impl From<ClientError> for OAuthError {
    fn from(e: ClientError) -> OAuthError {
        match e {
            ClientError::Store(_) => OAuthError::unavailable(super::failure::UNAVAILABLE),
            ClientError::Unusable(m) => OAuthError::new(ErrorCode::InvalidClient, m),
        }
    }
}
