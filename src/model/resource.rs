//! Resource servers (RFC 8707): the APIs access tokens are for (an MCP server, a REST API).
//! KV namespace `CLIENTS`, key `resource:<uri>` (`schemas/resource.schema.json`): the
//! resource's canonical URI, its name, the scopes it defines (API scopes, apart from the
//! claim scopes of OpenID Connect) and the access tokens it takes.

use crate::i18n::{Locale, LOCALES};
use crate::model::{custom_scope, scope};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use url::Url;

/// What a resource server receives as an access token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// A handle only the provider can resolve: the resource server introspects it (RFC 7662).
    #[default]
    Opaque,
    /// A JWT the resource server checks on its own with the provider's JWKS (RFC 9068).
    Jwt,
}

impl TokenFormat {
    pub fn is_default(&self) -> bool {
        *self == TokenFormat::Opaque
    }
}

/// An API scope a resource defines, and what the consent page says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiScope {
    pub name: String,
    /// What the application may then do, e.g. "read your calendar".
    pub description: String,
    /// The same in other languages, by locale tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub descriptions: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// The canonical URI (RFC 8707 §2): what clients send as `resource`, and the access
    /// token's audience.
    pub resource: String,
    /// The name the consent page shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ApiScope>,
    #[serde(default, skip_serializing_if = "TokenFormat::is_default")]
    pub access_token_format: TokenFormat,
    /// The lifetime of its access tokens (default `ACCESS_TOKEN_TTL_SECONDS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl_seconds: Option<i64>,
    /// The confidential clients (the resource server's own credentials) that may introspect
    /// its access tokens (RFC 7662 §4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub introspection_clients: Vec<String>,
}

/// The longest access token lifetime a resource may ask for (a day).
pub const MAX_ACCESS_TOKEN_TTL: i64 = 86_400;

pub fn resource_key(uri: &str) -> String {
    format!("resource:{uri}")
}

/// RFC 8707 §2: an absolute URI without a fragment. Resources here are web APIs: https (or
/// http on loopback, for development), no query (the spec's SHOULD NOT), no user
/// information, and as written (the parser's serialisation of itself: what is compared is
/// the string).
pub fn valid_resource_uri(uri: &str) -> Result<(), String> {
    let u = Url::parse(uri).map_err(|e| format!("is not an absolute URI ({e})"))?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1") | Some("localhost") | Some("[::1]"));
    match u.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("must be https (http only on loopback)".into()),
    }
    if uri.contains('#') || u.query().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err("must have no fragment, query or user information (RFC 8707 §2)".into());
    }
    if u.as_str() != uri && format!("{uri}/") != u.as_str() {
        return Err(format!("must be written in canonical form ('{}')", u.as_str()));
    }
    if uri.len() > 512 {
        return Err("must be at most 512 characters".into());
    }
    Ok(())
}

impl Resource {
    /// Parses and validates the record read from KV key `key`.
    pub fn from_record(key: &str, json: &str) -> Result<Resource, String> {
        let bad = |e: String| format!("resource record '{key}' in CLIENTS is malformed: {e}");
        let r: Resource = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        if resource_key(&r.resource) != key {
            return Err(bad(format!("resource '{}' does not match its key", r.resource)));
        }
        r.validate().map_err(bad)?;
        Ok(r)
    }

    pub fn validate(&self) -> Result<(), String> {
        valid_resource_uri(&self.resource).map_err(|e| format!("resource: '{}' {e}", self.resource))?;
        let mut seen = vec![];
        for s in &self.scopes {
            if !custom_scope::valid_scope_name(&s.name) {
                return Err(format!("scopes: '{}' is not a valid scope name (RFC 6749 §3.3)", s.name));
            }
            if scope::is_supported(&s.name) {
                return Err(format!("scopes: '{}' is an OpenID Connect scope, not an API scope", s.name));
            }
            if seen.contains(&&s.name) {
                return Err(format!("scopes: '{}' is listed twice", s.name));
            }
            seen.push(&s.name);
            if s.description.trim().is_empty() {
                return Err(format!("scopes: '{}' needs a description (the consent page shows it)", s.name));
            }
            for tag in s.descriptions.keys() {
                if !LOCALES.iter().any(|l| l.tag() == tag) {
                    return Err(format!("scopes: '{}': descriptions: '{tag}' is not a supported language", s.name));
                }
            }
        }
        for c in &self.introspection_clients {
            if !crate::model::client::valid_client_id(c) {
                return Err(format!("introspection_clients: '{c}' is not a client id"));
            }
        }
        if let Some(ttl) = self.access_token_ttl_seconds {
            if !(60..=MAX_ACCESS_TOKEN_TTL).contains(&ttl) {
                return Err(format!("access_token_ttl_seconds must be 60-{MAX_ACCESS_TOKEN_TTL}"));
            }
        }
        Ok(())
    }

    pub fn scope(&self, name: &str) -> Option<&ApiScope> {
        self.scopes.iter().find(|s| s.name == name)
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&self.resource)
    }
}

impl ApiScope {
    /// The description in `locale` where the operator gave one, else the default one.
    pub fn description_in(&self, locale: Locale) -> &str {
        self.descriptions.get(locale.tag()).map(String::as_str).unwrap_or(&self.description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(extra: &str) -> String {
        format!(
            r#"{{"resource":"https://mcp.example.com/mcp","name":"Example MCP","scopes":[{{"name":"mcp:tools","description":"use the tools"}}]{extra}}}"#
        )
    }

    #[test]
    fn parses_and_names_what_is_wrong() {
        let key = resource_key("https://mcp.example.com/mcp");
        let r = Resource::from_record(&key, &record("")).unwrap();
        assert_eq!(r.access_token_format, TokenFormat::Opaque);
        assert_eq!(r.scope("mcp:tools").unwrap().description_in(Locale::De), "use the tools");
        assert_eq!(r.display_name(), "Example MCP");
        let jwt = Resource::from_record(&key, &record(r#","access_token_format":"jwt""#)).unwrap();
        assert_eq!(jwt.access_token_format, TokenFormat::Jwt);
        let e = Resource::from_record("resource:https://other.example", &record("")).unwrap_err();
        assert!(e.contains("does not match its key"), "{e}");
        let e = Resource::from_record(&key, &record(r#","access_token_ttl_seconds":5"#)).unwrap_err();
        assert!(e.contains("access_token_ttl_seconds"), "{e}");
        let e = Resource::from_record(&key, &record(r#","colour":"red""#)).unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = Resource::from_record(&key, &record("").replace("mcp:tools", "profile")).unwrap_err();
        assert!(e.contains("OpenID Connect scope"), "{e}");
    }

    #[test]
    fn resource_uris_are_absolute_canonical_and_without_fragment_or_query() {
        assert!(valid_resource_uri("https://api.example.com").is_ok());
        assert!(valid_resource_uri("https://api.example.com/mcp").is_ok());
        assert!(valid_resource_uri("http://127.0.0.1:8788/mcp").is_ok());
        for bad in [
            "api.example.com",
            "http://api.example.com",
            "https://api.example.com/mcp#x",
            "https://api.example.com/mcp?x=1",
            "https://user@api.example.com",
            "HTTPS://api.example.com",
            "https://api.example.com/a/../mcp",
        ] {
            assert!(valid_resource_uri(bad).is_err(), "{bad}");
        }
    }
}
