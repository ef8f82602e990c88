//! Which claims a grant releases: those of its scopes (OpenID Connect Core §5.4, and the
//! operator's custom scopes) and those asked for one by one with the `claims` request
//! parameter (§5.5). Also what the consent page lists and what a remembered consent must
//! cover.

use crate::error::OAuthError;
use crate::i18n::Text;
use crate::model::{scope, Resource, ScopeDef};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The parsed `claims` parameter (§5.5): claim names per target, a requested `sub` value
/// (§5.5.1: only that user may be signed in), and requested `acr` values (§5.5.1.1: how
/// strongly the user must sign in): those of an essential request apart.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClaimsRequest {
    pub id_token: Vec<String>,
    pub userinfo: Vec<String>,
    pub sub: Option<String>,
    pub acr: Vec<String>,
    pub acr_essential: Vec<String>,
}

pub const MAX_REQUESTED_CLAIMS: usize = 64;

impl ClaimsRequest {
    pub fn parse(json: &str) -> Result<ClaimsRequest, OAuthError> {
        let bad = |d: &str| OAuthError::invalid_request(format!("claims: {d} (OpenID Connect Core §5.5)"));
        let v: Value = serde_json::from_str(json).map_err(|_| bad("not a JSON object"))?;
        let Value::Object(top) = v else { return Err(bad("not a JSON object")) };
        let mut out = ClaimsRequest::default();
        for (target, members) in top {
            let names = match target.as_str() {
                "id_token" => &mut out.id_token,
                "userinfo" => &mut out.userinfo,
                _ => continue, // §5.5: other members are ignored
            };
            let Value::Object(members) = members else {
                return Err(bad(&format!("{} must be an object", crate::error::quoted_name(&target))));
            };
            for (name, spec) in members {
                match &spec {
                    Value::Null => {}
                    Value::Object(o) => {
                        if o.get("essential").is_some_and(|e| !e.is_boolean()) {
                            return Err(bad("essential must be true or false"));
                        }
                        if name == "sub" {
                            if let Some(Value::String(s)) = o.get("value") {
                                out.sub = Some(s.clone());
                            }
                        }
                        if name == "acr" {
                            let values = match (o.get("value"), o.get("values")) {
                                (Some(Value::String(v)), _) => vec![v.clone()],
                                (_, Some(Value::Array(a))) => {
                                    a.iter().filter_map(Value::as_str).map(str::to_string).collect()
                                }
                                _ => vec![],
                            };
                            if o.get("essential") == Some(&Value::Bool(true)) {
                                out.acr_essential.extend(values);
                            } else {
                                out.acr.extend(values);
                            }
                        }
                    }
                    _ => return Err(bad("each claim must be null or an object")),
                }
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            if names.len() > MAX_REQUESTED_CLAIMS {
                return Err(bad("too many claims requested"));
            }
        }
        Ok(out)
    }
}

/// What a grant releases, resolved at the authorization endpoint.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Release {
    /// Claims copied into the ID token (values read at sign-in).
    pub id_token: Vec<String>,
    /// Claims the userinfo endpoint returns (values read on each call).
    pub userinfo: Vec<String>,
    /// What the user consents to: the scopes, and `claim:<name>` for each claim asked
    /// for individually that no granted scope releases.
    pub consent: Vec<String>,
    /// The custom scopes granted and the claims each releases (to narrow a grant later).
    pub custom_scopes: BTreeMap<String, Vec<String>>,
}

fn push(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// `scopes`: the granted scopes; `custom`: definitions of those that are custom;
/// `client_allows`: whether the client's record lists a scope.
pub fn release(
    scopes: &[String],
    custom: &[ScopeDef],
    req: &ClaimsRequest,
    client_allows: impl Fn(&str) -> bool,
) -> Release {
    let mut r = Release::default();
    let mut by_scope: Vec<String> = Vec::new();
    for s in scopes {
        push(&mut r.consent, s);
        match custom.iter().find(|d| d.name == *s) {
            Some(def) => {
                def.claims.iter().for_each(|c| push(&mut by_scope, c));
                r.custom_scopes.insert(def.name.clone(), def.claims.clone());
            }
            None => {
                scope::claims_for(s).iter().for_each(|c| push(&mut by_scope, c));
            }
        }
    }
    for c in &by_scope {
        push(&mut r.id_token, c);
        push(&mut r.userinfo, c);
    }
    // §5.5: individually requested standard claims, released even without their scope once
    // the user consents to them — if the client may ask for a scope that releases them (its
    // record bounds what it can get). Unknown, registered and other names are ignored.
    let permitted = |name: &str| {
        ["profile", "email", "address", "phone"]
            .iter()
            .any(|s| scope::claims_for(s).contains(&name) && client_allows(s))
    };
    let extra = |name: &str, target: &mut Vec<String>, consent: &mut Vec<String>| {
        if scope::is_standard_claim(name) && permitted(name) {
            push(target, name);
            if !by_scope.iter().any(|c| c == name) && !consent.iter().any(|c| c == &format!("claim:{name}")) {
                consent.push(format!("claim:{name}"));
            }
        }
    };
    for name in &req.id_token {
        extra(name, &mut r.id_token, &mut r.consent);
    }
    for name in &req.userinfo {
        extra(name, &mut r.userinfo, &mut r.consent);
    }
    r
}

/// One line per consent item (a scope, or `claim:<name>`) for the consent page, in the
/// page's language: the catalog's for standard scopes and claims, the operator's (in that
/// language where given) for custom scopes.
pub fn describe(items: &[String], custom: &[ScopeDef], resource: Option<&Resource>, text: &Text<'_>) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| {
            if let Some(claim) = item.strip_prefix("claim:") {
                let label = text.get(&format!("claim.{claim}"));
                return Some(text.fill("scope.claim", &[("claim", &label)]));
            }
            if let Some(uri) = item.strip_prefix("resource:") {
                let name = resource.filter(|r| r.resource == uri).map_or(uri, |r| r.display_name());
                return Some(text.fill("scope.resource", &[("resource", name)]));
            }
            if let Some(api) = resource.and_then(|r| r.scope(item)) {
                return Some(capitalise(api.description_in(text.locale)));
            }
            match custom.iter().find(|d| d.name == *item) {
                Some(def) => Some(capitalise(def.description_in(text.locale))),
                None if scope::is_supported(item) => Some(text.get(&format!("scope.{item}"))),
                None => None,
            }
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The values of the named claims that `all` has.
pub fn pick(all: &Map<String, Value>, names: &[String]) -> Map<String, Value> {
    names.iter().filter_map(|n| all.get(n).map(|v| (n.clone(), v.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parse_claims_parameter() {
        let r = ClaimsRequest::parse(
            r#"{"id_token":{"email":{"essential":true},"sub":{"value":"u1"},"acr":null},"userinfo":{"phone_number":null},"other":1}"#,
        )
        .unwrap();
        assert_eq!(r.id_token, s(&["acr", "email", "sub"]));
        assert_eq!(r.userinfo, s(&["phone_number"]));
        assert_eq!(r.sub.as_deref(), Some("u1"));
        assert!(r.acr.is_empty() && r.acr_essential.is_empty());
        let r = ClaimsRequest::parse(
            r#"{"id_token":{"acr":{"essential":true,"values":["urn:x","phr"]}},"userinfo":{"acr":{"value":"mfa"}}}"#,
        )
        .unwrap();
        assert_eq!((r.acr, r.acr_essential), (s(&["mfa"]), s(&["urn:x", "phr"])));
        for bad in [
            "[]",
            "{",
            r#"{"id_token":[]}"#,
            r#"{"userinfo":{"email":1}}"#,
            r#"{"userinfo":{"email":{"essential":"yes"}}}"#,
        ] {
            assert_eq!(ClaimsRequest::parse(bad).unwrap_err().code.as_str(), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn release_scopes_custom_and_individual_claims() {
        let groups = ScopeDef {
            name: "groups".into(),
            description: "see your groups".into(),
            descriptions: [("de".to_string(), "deine Gruppen sehen".to_string())].into(),
            claims: s(&["groups"]),
        };
        let req = ClaimsRequest {
            id_token: s(&["email", "sub", "nonsense"]),
            userinfo: s(&["phone_number", "name"]),
            sub: None,
            ..Default::default()
        };
        let r = release(&s(&["openid", "profile", "groups"]), std::slice::from_ref(&groups), &req, |_| true);
        assert!(r.id_token.contains(&"name".to_string()) && r.id_token.contains(&"groups".to_string()));
        assert!(r.id_token.contains(&"email".to_string()));
        assert!(!r.id_token.contains(&"phone_number".to_string()));
        assert!(r.userinfo.contains(&"phone_number".to_string()) && !r.userinfo.contains(&"email".to_string()));
        assert!(!r.id_token.contains(&"sub".to_string()) && !r.id_token.contains(&"nonsense".to_string()));
        assert_eq!(r.consent, s(&["openid", "profile", "groups", "claim:email", "claim:phone_number"]));
        let o = crate::i18n::Overrides::default();
        let en = describe(&r.consent, std::slice::from_ref(&groups), None, &Text::new(crate::i18n::Locale::En, &o));
        assert_eq!(
            en,
            s(&[
                "Sign you in",
                "See your basic profile: name, username, picture",
                "See your groups",
                "See your email address",
                "See your phone number"
            ])
        );
        let de = describe(&r.consent, &[groups], None, &Text::new(crate::i18n::Locale::De, &o));
        assert_eq!(de[2], "Deine Gruppen sehen");
        assert_eq!(r.custom_scopes["groups"], s(&["groups"]));
        // A client that may not ask for the phone scope cannot get phone_number by name either.
        let r = release(&s(&["openid"]), &[], &req, |sc| sc != "phone");
        assert!(!r.userinfo.contains(&"phone_number".to_string()));
        assert!(r.id_token.contains(&"email".to_string()));
    }
}
