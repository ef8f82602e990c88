//! Custom scopes defined by the operator (KV namespace `CLIENTS`, key `scope:<name>`,
//! `schemas/scope.schema.json`): a name, the sentence the consent page shows, and the
//! custom claims it releases. Users carry the values in their record's `claims`; a client
//! may request the scope only if its own `scope` lists it.

use crate::i18n::{Locale, LOCALES};
use crate::model::scope;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    pub name: String,
    /// What the consent page says the application may then do, e.g. "see your team
    /// memberships" (in the operator's default language).
    pub description: String,
    /// The same in other languages, by locale tag (`de`, `ja`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub descriptions: BTreeMap<String, String>,
    /// Claim names released by this scope (plain names or URLs for namespaced claims).
    pub claims: Vec<String>,
}

pub fn scope_key(name: &str) -> String {
    format!("scope:{name}")
}

/// JWT and OpenID Connect claims the provider sets itself: never taken from user data
/// (RFC 7519 §4.1, OpenID Connect Core §2, §3.1.3.6, RFC 9068, RFC 7800).
pub const REGISTERED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "s_hash",
    "sid",
    "cnf",
    "client_id",
    "scope",
    "events",
    "sub_jwk",
    "_claim_names",
    "_claim_sources",
];

/// A usable custom claim name: not registered, not a standard claim (those come from the
/// user record's own fields), 1-256 printable ASCII characters.
pub fn valid_custom_claim(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 256 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("claim name '{name}' must be 1-256 printable ASCII characters"));
    }
    if REGISTERED_CLAIMS.contains(&name) {
        return Err(format!("claim name '{name}' is a registered claim the provider sets itself"));
    }
    if scope::is_standard_claim(name) {
        return Err(format!("claim name '{name}' is a standard claim: set it through the user record's own field"));
    }
    Ok(())
}

/// RFC 6749 §3.3 scope-token characters, at most 64 of them.
pub fn valid_scope_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl ScopeDef {
    /// The description in `locale` where the operator gave one, else the default one.
    pub fn description_in(&self, locale: Locale) -> &str {
        self.descriptions.get(locale.tag()).map_or(self.description.as_str(), |d| d.trim())
    }

    pub fn from_record(key: &str, json: &str) -> Result<ScopeDef, String> {
        let bad = |e: String| format!("scope record '{key}' in CLIENTS is malformed: {e}");
        let d: ScopeDef = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        d.validate().map_err(bad)?;
        if scope_key(&d.name) != key {
            return Err(bad(format!("name '{}' does not match its key", d.name)));
        }
        Ok(d)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !valid_scope_name(&self.name) {
            return Err("name must be 1-64 scope characters (RFC 6749 §3.3)".into());
        }
        if scope::is_supported(&self.name) {
            return Err(format!("'{}' is a standard scope and cannot be redefined", self.name));
        }
        let d = self.description.trim();
        if d.is_empty() || d.len() > 200 {
            return Err("description must be 1-200 characters".into());
        }
        for (tag, d) in &self.descriptions {
            if !LOCALES.iter().any(|l| l.tag() == tag) {
                let all: Vec<&str> = LOCALES.iter().map(|l| l.tag()).collect();
                return Err(format!("descriptions: '{tag}' is not a supported locale ({})", all.join(", ")));
            }
            if d.trim().is_empty() || d.len() > 400 {
                return Err(format!("descriptions: '{tag}' must be 1-400 bytes"));
            }
        }
        if self.claims.len() > 32 {
            return Err("a scope releases at most 32 claims".into());
        }
        self.claims.iter().try_for_each(|c| valid_custom_claim(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_validated() {
        let ok = r#"{"name":"groups","description":"see your groups","claims":["groups","https://example.com/roles"]}"#;
        assert_eq!(ScopeDef::from_record("scope:groups", ok).unwrap().claims.len(), 2);
        assert!(ScopeDef::from_record("scope:other", ok).unwrap_err().contains("does not match"));
        for claim in ["sub", "iss", "aud", "email", "nonce"] {
            let j = format!(r#"{{"name":"x","description":"d","claims":["{claim}"]}}"#);
            assert!(ScopeDef::from_record("scope:x", &j).is_err(), "{claim} must be refused");
        }
        let j = r#"{"name":"email","description":"d","claims":[]}"#;
        assert!(ScopeDef::from_record("scope:email", j).unwrap_err().contains("standard scope"));
        let j = r#"{"name":"a b","description":"d","claims":[]}"#;
        assert!(ScopeDef::from_record("scope:a b", j).is_err());
    }
}
