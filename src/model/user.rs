//! User records (KV namespace `USERS`). Key `user:<username>` holds the record
//! (`schemas/user.schema.json`); key `email:<lower-cased email>` holds an alias
//! `{"username": "..."}` (`schemas/user-email.schema.json`) so users can sign in by email.

use crate::crypto::PasswordHash;
use crate::model::scope;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Stable, opaque subject identifier (OpenID Connect Core §2): never reassigned,
    /// not the username.
    pub sub: String,
    pub username: String,
    /// PHC string, `$pbkdf2-sha256$i=100000,l=32$<salt>$<hash>`; none for a user who signs
    /// in with passkeys only (an invited user).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Released as `preferred_username`; defaults to `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Postal address (OpenID Connect Core §5.1.1), released with the `address` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// E.164 is recommended, e.g. +1 (425) 555-1212 or +56 (2) 687 2400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// Values of custom claims, released by the operator's custom scopes
    /// (`model::custom_scope`). Registered and standard claim names are refused.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
}

/// OpenID Connect Core §5.1.1 address claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        *self == Address::default()
    }
}

/// The value stored under `email:<address>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAlias {
    pub username: String,
}

pub fn user_key(username: &str) -> String {
    format!("user:{username}")
}

pub fn email_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

/// Usernames: 1-64 characters of A-Z a-z 0-9 . _ - (no '@', so a login with '@' is an email).
pub fn valid_username(u: &str) -> bool {
    !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl User {
    /// Parses and validates a record read from KV key `key`; errors name the record and field.
    pub fn from_record(key: &str, json: &str) -> Result<User, String> {
        let u: User =
            serde_json::from_str(json).map_err(|e| format!("user record '{key}' in USERS is malformed: {e}"))?;
        u.validate().map_err(|e| format!("user record '{key}' in USERS is malformed: {e}"))?;
        if user_key(&u.username) != key {
            return Err(format!(
                "user record '{key}' in USERS is malformed: username '{}' does not match its key",
                u.username
            ));
        }
        Ok(u)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.sub.is_empty() || self.sub.len() > 255 || !self.sub.is_ascii() {
            return Err("sub must be 1-255 ASCII characters (OpenID Connect Core §2)".into());
        }
        if !valid_username(&self.username) {
            return Err("username must be 1-64 characters of A-Z a-z 0-9 . _ -".into());
        }
        if self.has_password() {
            PasswordHash::parse(&self.password_hash).map_err(|e| format!("password_hash: {e}"))?;
        }
        if let Some(e) = &self.email {
            if !e.contains('@') {
                return Err("email must be an email address".into());
            }
        }
        for name in self.claims.keys() {
            crate::model::custom_scope::valid_custom_claim(name).map_err(|e| format!("claims: {e}"))?;
        }
        Ok(())
    }

    pub fn has_password(&self) -> bool {
        !self.password_hash.is_empty()
    }

    pub fn password(&self) -> Result<PasswordHash, String> {
        PasswordHash::parse(&self.password_hash)
    }

    /// The claims this user has, by name: standard ones (OpenID Connect Core §5.1) from
    /// their fields, custom ones from `claims`.
    pub fn claim(&self, name: &str) -> Option<Value> {
        let s = |v: &Option<String>| v.as_ref().map(|x| Value::String(x.clone()));
        match name {
            "name" => s(&self.name),
            "given_name" => s(&self.given_name),
            "family_name" => s(&self.family_name),
            "middle_name" => s(&self.middle_name),
            "nickname" => s(&self.nickname),
            "preferred_username" => {
                Some(Value::String(self.preferred_username.clone().unwrap_or_else(|| self.username.clone())))
            }
            "profile" => s(&self.profile),
            "picture" => s(&self.picture),
            "website" => s(&self.website),
            "gender" => s(&self.gender),
            "birthdate" => s(&self.birthdate),
            "zoneinfo" => s(&self.zoneinfo),
            "locale" => s(&self.locale),
            "updated_at" => self.updated_at.map(Value::from),
            "email" => s(&self.email),
            "email_verified" => self.email.as_ref().map(|_| Value::Bool(self.email_verified.unwrap_or(false))),
            "address" => self.address.as_ref().filter(|a| !a.is_empty()).and_then(|a| serde_json::to_value(a).ok()),
            "phone_number" => s(&self.phone_number),
            "phone_number_verified" => {
                self.phone_number.as_ref().map(|_| Value::Bool(self.phone_number_verified.unwrap_or(false)))
            }
            _ if crate::model::custom_scope::valid_custom_claim(name).is_ok() => self.claims.get(name).cloned(),
            _ => None,
        }
    }

    /// The named claims that this user has.
    pub fn claims_named<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Map<String, Value> {
        let mut out = Map::new();
        for name in names {
            if let Some(v) = self.claim(name) {
                out.insert(name.to_string(), v);
            }
        }
        out
    }

    /// The claims released by `scopes` (OpenID Connect Core §5.4), those the user has.
    pub fn claims_for_scopes<'a>(&self, scopes: impl IntoIterator<Item = &'a str>) -> Map<String, Value> {
        let mut out = Map::new();
        for sc in scopes {
            for name in scope::claims_for(sc) {
                if let Some(v) = self.claim(name) {
                    out.insert((*name).to_string(), v);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PasswordHash;

    fn hash() -> String {
        PasswordHash { iterations: 100_000, salt: vec![7; 16], hash: vec![9; 32] }.to_phc()
    }

    #[test]
    fn claims_by_scope() {
        let u = User::from_record(
            "user:alice",
            &format!(r#"{{"sub":"s1","username":"alice","password_hash":"{}","name":"Alice","email":"a@x.example","email_verified":true}}"#, hash()),
        )
        .unwrap();
        let c = u.claims_for_scopes(["openid"]);
        assert!(c.is_empty());
        let c = u.claims_for_scopes(["openid", "profile"]);
        assert_eq!(c["name"], "Alice");
        assert_eq!(c["preferred_username"], "alice");
        assert!(!c.contains_key("email") && !c.contains_key("picture"));
        let c = u.claims_for_scopes(["email"]);
        assert_eq!(c["email"], "a@x.example");
        assert_eq!(c["email_verified"], true);
        assert!(u.claims_for_scopes(["address", "phone"]).is_empty(), "claims the user does not have are left out");
        let mut u = u;
        u.address = Some(Address { locality: Some("Paris".into()), country: Some("FR".into()), ..Address::default() });
        u.phone_number = Some("+33 1 23 45 67 89".into());
        let c = u.claims_for_scopes(["address", "phone"]);
        assert_eq!(c["address"], serde_json::json!({"locality": "Paris", "country": "FR"}));
        assert_eq!(c["phone_number"], "+33 1 23 45 67 89");
        assert_eq!(c["phone_number_verified"], false);
    }

    #[test]
    fn malformed_records_are_named() {
        // No password: a user who signs in with passkeys only.
        let u = User::from_record("user:bob", r#"{"sub":"s","username":"bob"}"#).unwrap();
        assert!(!u.has_password());
        let e = User::from_record("user:bob", r#"{"sub":"s","username":"bob","password_hash":"plain"}"#).unwrap_err();
        assert!(e.contains("password_hash"), "{e}");
        let e =
            User::from_record("user:eve", &format!(r#"{{"sub":"s","username":"bob","password_hash":"{}"}}"#, hash()))
                .unwrap_err();
        assert!(e.contains("does not match"), "{e}");
    }
}
