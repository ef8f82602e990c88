//! Client records (KV namespace `CLIENTS`, key = client id), named after RFC 7591 §2
//! client metadata. Schema: `schemas/client.schema.json`.

use crate::keys::Alg;
use crate::model::scope;
use serde::{Deserialize, Serialize};
use url::Url;

/// RFC 7591 §2 `token_endpoint_auth_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with one of the client's keys (RFC 7523 §2.2, OpenID Connect Core §9).
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }
    pub fn is_public(self) -> bool {
        self == AuthMethod::None
    }
    /// Whether the client proves itself with a secret we keep the hash of.
    pub fn uses_secret(self) -> bool {
        matches!(self, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost)
    }
}

/// OpenID Connect Core §8: the kind of `sub` a client receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    #[default]
    Public,
    /// A different, unlinkable `sub` per sector (§8.1).
    Pairwise,
}

impl SubjectType {
    pub fn is_public(&self) -> bool {
        *self == SubjectType::Public
    }
}

/// RFC 7591 §2 `grant_types` values this provider supports.
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

fn default_auth_method() -> AuthMethod {
    // RFC 7591 §2: the default is client_secret_basic.
    AuthMethod::ClientSecretBasic
}
fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into()]
}
fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}
fn default_scope() -> String {
    "openid".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Empty only for a client that never redirects (client credentials alone).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: AuthMethod,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    #[serde(default = "default_response_types")]
    pub response_types: Vec<String>,
    /// Space-separated scopes this client may request (RFC 7591 §2 `scope`).
    #[serde(default = "default_scope")]
    pub scope: String,
    /// `sha256:<base64url>` of the client secret; absent for public clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_hash: Option<String>,
    /// The application's home page, logo, privacy policy and terms of service (OpenID
    /// Connect Registration §2): https URLs the consent page shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Seconds since the epoch (RFC 7591 §3.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<i64>,
    /// `public` (default) or `pairwise` (OpenID Connect Core §8, Registration §2).
    #[serde(default, skip_serializing_if = "SubjectType::is_public")]
    pub subject_type: SubjectType,
    /// Where RP-Initiated Logout may send the user afterwards (§3), matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// JWS algorithm of this client's ID tokens: RS256 (default), ES256 or EdDSA
    /// (OpenID Connect Dynamic Client Registration §2). SIGNING_KEYS needs a key for it.
    #[serde(default, skip_serializing_if = "Alg::is_default")]
    pub id_token_signed_response_alg: Alg,
    /// PKCE (S256) at the authorization endpoint: required unless a confidential client's
    /// record says `false` (legacy clients that cannot send it; RFC 9700 §2.1.1).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub require_pkce: bool,
    /// How long after a refresh a retry with the token just replaced gets the current one
    /// back instead of revoking the grant (lost responses, concurrent refreshes): 0 (the
    /// default) refuses every retry. At most 300; confidential clients only.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refresh_grace_seconds: i64,
    /// The client's public keys for `private_key_jwt` (RFC 7591 §2 `jwks`), or where to
    /// fetch them (`jwks_uri`, https): exactly one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The resources (RFC 8707) this client may ask tokens for; empty: any registered one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// A client that registered itself (RFC 7591): the hash of its registration access
    /// token (RFC 7592), and until when its record is kept if it is not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_expires_at: Option<i64>,
    /// The level every sign-in for this client must reach (`pwd`, `mfa` or `phr`;
    /// `model::strength`), on top of the operator's `MINIMUM_ACR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_acr: Option<String>,
    /// Not stored: the record is the client's metadata document (its id is the URL it was
    /// fetched from), not one the operator wrote.
    #[serde(skip)]
    pub from_metadata_document: bool,
    /// Not stored: a metadata document without `scope` may ask for any resource's API scopes.
    #[serde(skip)]
    pub any_api_scope: bool,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The longest refresh retry window a client may have.
pub const MAX_REFRESH_GRACE_SECONDS: i64 = 300;

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Client {
    /// Parses and validates a record read from KV key `key`. The error names the record
    /// and the field, for the operator.
    pub fn from_record(key: &str, json: &str) -> Result<Client, String> {
        let c: Client =
            serde_json::from_str(json).map_err(|e| format!("client record '{key}' in CLIENTS is malformed: {e}"))?;
        if c.client_id != key {
            return Err(format!(
                "client record '{key}' in CLIENTS is malformed: client_id '{}' does not match its key",
                c.client_id
            ));
        }
        c.validate().map_err(|e| format!("client record '{key}' in CLIENTS is malformed: {e}"))?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !valid_client_id(&self.client_id) {
            return Err("client_id must be 1-128 characters of A-Z a-z 0-9 . _ ~ -".into());
        }
        self.validate_metadata()
    }

    /// The checks of [`Client::validate`] but the id's form: for a client whose id is the URL
    /// of its metadata document.
    pub fn validate_document(&self) -> Result<(), String> {
        if self.token_endpoint_auth_method.uses_secret() || self.client_secret_hash.is_some() {
            return Err("a metadata document's client holds no secret".into());
        }
        self.validate_metadata()
    }

    fn validate_metadata(&self) -> Result<(), String> {
        if self.allows_grant("authorization_code") && self.redirect_uris.is_empty() {
            return Err("redirect_uris must list at least one URI (the authorization code grant redirects)".into());
        }
        for uri in &self.redirect_uris {
            validate_redirect_uri(uri).map_err(|e| format!("redirect_uris: '{uri}' {e}"))?;
        }
        for uri in &self.post_logout_redirect_uris {
            validate_redirect_uri(uri).map_err(|e| format!("post_logout_redirect_uris: '{uri}' {e}"))?;
        }
        for (field, uri) in [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("policy_uri", &self.policy_uri),
            ("tos_uri", &self.tos_uri),
        ] {
            if let Some(u) = uri {
                crate::model::uri::web_url(u).map_err(|e| format!("{field}: '{u}' {e}"))?;
            }
        }
        let method = self.token_endpoint_auth_method;
        match (method.uses_secret(), &self.client_secret_hash) {
            (false, Some(_)) => {
                return Err(format!(
                    "client_secret_hash must be absent when token_endpoint_auth_method is {}",
                    method.as_str()
                ))
            }
            (true, None) => return Err(format!("client_secret_hash is required for {}", method.as_str())),
            (true, Some(h)) => {
                let ok =
                    h.strip_prefix("sha256:").and_then(crate::crypto::b64url_decode).is_some_and(|b| b.len() == 32);
                if !ok {
                    return Err("client_secret_hash must be sha256:<43 base64url characters> (use oidc-admin)".into());
                }
            }
            (false, None) => {}
        }
        match (method == AuthMethod::PrivateKeyJwt, &self.jwks, &self.jwks_uri) {
            (true, Some(_), Some(_)) => return Err("jwks and jwks_uri: give one of the two (RFC 7591 §2)".into()),
            (true, None, None) => return Err("private_key_jwt needs the client's keys: jwks or jwks_uri".into()),
            (true, Some(set), None) => {
                crate::crypto::PublicJwk::parse_set(set).map_err(|e| format!("jwks: {e}"))?;
            }
            (true, None, Some(uri)) => {
                crate::model::uri::fetchable_url(uri).map_err(|e| format!("jwks_uri: '{uri}' {e}"))?;
            }
            (false, None, None) => {}
            (false, _, _) => return Err("jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt".into()),
        }
        for r in &self.resources {
            crate::model::resource::valid_resource_uri(r).map_err(|e| format!("resources: '{r}' {e}"))?;
        }
        if let Some(a) = &self.minimum_acr {
            crate::model::strength::Level::parse(a).ok_or(format!("minimum_acr must be pwd, mfa or phr, not '{a}'"))?;
        }
        if self.grant_types.is_empty() {
            return Err(
                "grant_types: a client needs a grant (authorization_code with redirect_uris, or client_credentials)"
                    .into(),
            );
        }
        for g in &self.grant_types {
            if !GRANT_TYPES.contains(&g.as_str()) {
                return Err(format!("grant_types: '{g}' is not supported (supported: {})", GRANT_TYPES.join(", ")));
            }
        }
        // A refresh token is only issued at code redemption.
        if self.allows_grant("refresh_token") && !self.allows_grant("authorization_code") {
            return Err("grant_types: refresh_token needs authorization_code".into());
        }
        // RFC 6749 §4.4: the client credentials grant is for confidential clients only.
        if self.allows_grant("client_credentials") && method.is_public() {
            return Err("grant_types: client_credentials needs a confidential client (it authenticates)".into());
        }

        for r in &self.response_types {
            if r != "code" {
                return Err(format!("response_types: '{r}' is not supported (supported: code)"));
            }
        }
        if !(0..=MAX_REFRESH_GRACE_SECONDS).contains(&self.refresh_grace_seconds) {
            return Err(format!("refresh_grace_seconds must be 0-{MAX_REFRESH_GRACE_SECONDS}"));
        }
        // A public client cannot prove it is the one retrying: a stolen token replayed inside
        // the window would get the current one.
        if self.refresh_grace_seconds > 0 && self.token_endpoint_auth_method.is_public() {
            return Err("refresh_grace_seconds: public clients get no refresh retry window".into());
        }
        if !self.require_pkce && self.token_endpoint_auth_method.is_public() {
            return Err("require_pkce: a public client (token_endpoint_auth_method none) must use PKCE".into());
        }
        if self.subject_type == SubjectType::Pairwise && self.sector().is_none() {
            return Err("subject_type pairwise needs all redirect_uris on one host (the sector identifier, OpenID Connect Core §8.1; sector_identifier_uri is not supported)".into());
        }
        let scopes: Vec<&str> = self.scope.split(' ').filter(|s| !s.is_empty()).collect();
        // Standard scopes, custom ones (defined by `scope:<name>` records) and the API scopes
        // of resources (`resource:<uri>` records).
        for s in scopes {
            if !scope::is_supported(s) && !crate::model::custom_scope::valid_scope_name(s) {
                return Err(format!("scope: '{s}' is not a valid scope name (RFC 6749 §3.3)"));
            }
        }
        Ok(())
    }

    /// The sector identifier of a pairwise client: the host all its redirect URIs share
    /// (OpenID Connect Core §8.1). `None` for public clients or mixed hosts.
    pub fn sector(&self) -> Option<String> {
        if self.subject_type != SubjectType::Pairwise {
            return None;
        }
        let mut hosts =
            self.redirect_uris.iter().map(|u| Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_string)));
        let first = hosts.next()??;
        hosts.all(|h| h.as_deref() == Some(first.as_str())).then_some(first)
    }

    /// Whether authorization requests must carry a PKCE challenge.
    pub fn requires_pkce(&self) -> bool {
        self.require_pkce || self.token_endpoint_auth_method.is_public()
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&self.client_id)
    }

    pub fn allows_scope(&self, s: &str) -> bool {
        self.scope.split(' ').any(|x| x == s)
    }

    /// Whether the client may ask for `s`, an API scope a resource defines.
    pub fn allows_api_scope(&self, s: &str) -> bool {
        self.any_api_scope || self.allows_scope(s)
    }

    /// Whether the client may ask tokens for the resource `uri` (registered, RFC 8707).
    pub fn allows_resource(&self, uri: &str) -> bool {
        self.resources.is_empty() || self.resources.iter().any(|r| r == uri)
    }

    /// A client the operator did not register: its metadata document, or a registration.
    pub fn is_unregistered(&self) -> bool {
        self.from_metadata_document || self.registration_access_token_hash.is_some()
    }

    /// OpenID Connect Core §3.1.2.1: the redirect URI must exactly match a registered one
    /// (simple string comparison, RFC 9700 §2.1). The one exception is for native apps, which
    /// are public clients (RFC 8252 §8.4): on loopback they may use any port (RFC 8252 §7.3,
    /// RFC 9700 §2.1), so a public client's `http://127.0.0.1` or `http://[::1]` URI matches
    /// a registered one that differs only in the port.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        let native = self.token_endpoint_auth_method.is_public();
        self.redirect_uris.iter().any(|r| r == uri || (native && loopback_match(r, uri)))
    }
}

fn loopback_match(registered: &str, presented: &str) -> bool {
    match (split_loopback(registered), split_loopback(presented)) {
        (Some(a), Some(b)) => a == b && !presented.contains('#'),
        _ => false,
    }
}

/// An `http://127.0.0.1` or `http://[::1]` URI as written, without its port: the scheme and
/// host, and the rest (path and query). The comparison stays a string comparison (RFC 9700
/// §2.1): another spelling of the same URI (`HTTP://`, dot segments, `:09000`) does not match.
fn split_loopback(uri: &str) -> Option<(&str, &str)> {
    let prefix = ["http://127.0.0.1", "http://[::1]"].into_iter().find(|p| uri.starts_with(p))?;
    let after = uri.get(prefix.len()..)?;
    let rest = match after.strip_prefix(':') {
        Some(port) => {
            let digits = port.bytes().take_while(u8::is_ascii_digit).count();
            let n: u32 = port.get(..digits)?.parse().ok()?;
            if !(1..=5).contains(&digits) || port.starts_with('0') || !(1..=65535).contains(&n) {
                return None;
            }
            port.get(digits..)?
        }
        None => after,
    };
    (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then_some((prefix, rest))
}

pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
}

/// RFC 6749 §3.1.2: absolute URI, no fragment. https, or http on loopback (RFC 8252 §7.3),
/// or a private-use scheme for native apps (RFC 8252 §7.1).
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("is not an absolute URI ({e})"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err("must not contain a fragment".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host_str() {
            Some("127.0.0.1") | Some("localhost") | Some("[::1]") => Ok(()),
            _ => Err("may use http only on loopback (127.0.0.1, [::1], localhost)".into()),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" => Err("uses a forbidden scheme".into()),
        s if s.contains('.') => Ok(()), // RFC 8252 §7.1 reverse-domain private-use scheme
        _ => Err("must be https, loopback http, or a reverse-domain private-use scheme".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(extra: &str) -> String {
        format!(
            r#"{{"client_id":"app","redirect_uris":["https://app.example/cb"],"scope":"openid profile","client_secret_hash":"{}"{extra}}}"#,
            crate::crypto::hash_client_secret("x")
        )
    }

    #[test]
    fn parses_with_rfc7591_defaults() {
        let c = Client::from_record("app", &record("")).unwrap();
        assert_eq!(c.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(c.grant_types, vec!["authorization_code"]);
        assert_eq!(c.display_name(), "app");
    }

    #[test]
    fn errors_name_record_and_field() {
        let e = Client::from_record("other", &record("")).unwrap_err();
        assert!(e.contains("'other'") && e.contains("client_id"), "{e}");
        let e = Client::from_record("app", r#"{"client_id":"app"}"#).unwrap_err();
        assert!(e.contains("redirect_uris"), "{e}");
        let e = Client::from_record("app", &record(r#","grant_types":["password"]"#)).unwrap_err();
        assert!(e.contains("grant_types"), "{e}");
        let e = Client::from_record("app", &record(r#","grant_types":["refresh_token"]"#)).unwrap_err();
        assert!(e.contains("needs authorization_code"), "{e}");
        let ok = record(r#","grant_types":["authorization_code","refresh_token"]"#)
            .replace("openid profile", "openid offline_access");
        assert!(Client::from_record("app", &ok).unwrap().allows_grant("refresh_token"));
        let e = Client::from_record("app", &record(r#","token_endpoint_auth_method":"none""#)).unwrap_err();
        assert!(e.contains("client_secret_hash"), "{e}");
        let e = Client::from_record("app", &record(r#","colour":"blue""#)).unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = Client::from_record("app", &record(r#","id_token_signed_response_alg":"HS256""#)).unwrap_err();
        assert!(e.contains("HS256") && e.contains("EdDSA"), "{e}");
        let e = Client::from_record("app", &record(r#","policy_uri":"http://app.example/privacy""#)).unwrap_err();
        assert!(e.contains("policy_uri"), "{e}");
        let e = Client::from_record("app", &record(r#","logo_uri":"javascript:alert(1)""#)).unwrap_err();
        assert!(e.contains("logo_uri"), "{e}");
        let c = Client::from_record("app", &record(r#","id_token_signed_response_alg":"EdDSA""#)).unwrap();
        assert_eq!(c.id_token_signed_response_alg, Alg::EdDSA);
        let e = Client::from_record("app", "not json").unwrap_err();
        assert!(e.contains("'app'"), "{e}");
    }

    #[test]
    fn loopback_redirect_uris_may_change_port_only() {
        let mut c = Client::from_record("app", &record("")).unwrap();
        c.redirect_uris = vec!["http://127.0.0.1/cb".into(), "https://app.example/cb".into()];
        // A confidential client is not a native app: its URIs match exactly, port included.
        assert!(!c.has_redirect_uri("http://127.0.0.1:51234/cb"));
        assert!(c.has_redirect_uri("http://127.0.0.1/cb"));
        c.token_endpoint_auth_method = AuthMethod::None;
        c.client_secret_hash = None;
        assert!(c.has_redirect_uri("http://127.0.0.1:51234/cb"));
        assert!(c.has_redirect_uri("http://127.0.0.1/cb"));
        assert!(!c.has_redirect_uri("http://127.0.0.1:51234/other"));
        assert!(!c.has_redirect_uri("http://localhost:51234/cb"));
        assert!(!c.has_redirect_uri("https://app.example:444/cb"));
        assert!(!c.has_redirect_uri("http://127.0.0.1:51234/cb?x=1"));
        // Another spelling of the same URI is another string.
        for other in [
            "HTTP://127.0.0.1:51234/cb",
            "http://127.0.0.1:051234/cb",
            "http://127.0.0.1:51234/x/../cb",
            "http://127.0.0.1.:51234/cb",
            "http://2130706433:51234/cb",
            "http://127.0.0.1:51234/cb ",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:51234/cb#x",
        ] {
            assert!(!c.has_redirect_uri(other), "{other}");
        }
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(validate_redirect_uri("https://a.example/cb?x=1").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:9000/cb").is_ok());
        assert!(validate_redirect_uri("com.example.app:/cb").is_ok());
        assert!(validate_redirect_uri("http://a.example/cb").is_err());
        assert!(validate_redirect_uri("https://a.example/cb#frag").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
        // Internationalised domain names in their ASCII form only (Cargo.toml: idna_adapter).
        assert!(validate_redirect_uri("https://xn--bcher-kva.example/cb").is_ok());
        assert!(validate_redirect_uri("https://bücher.example/cb").is_err());
    }
}
