//! Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

use e2e::*;
use serde_json::Value;

fn fetch_json(url: &str) -> Value {
    let page = Browser::new().get(url);
    page.assert_status(200);
    let ct = page.content_type();
    let mime = ct.split(';').next().unwrap_or("").trim();
    assert!(
        mime == "application/json" || mime == "application/jwk-set+json",
        "{url} must be JSON (application/json, or application/jwk-set+json for a JWKS):\n{}",
        page.describe()
    );
    page.json()
}

fn strings(doc: &Value, field: &str) -> Vec<String> {
    doc[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} must be an array: {doc:#}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_else(|| panic!("{field} must hold strings: {doc:#}")).to_string())
        .collect()
}

#[test]
fn discovery_documents_are_accurate_and_agree() {
    let issuer = &env().issuer;
    let oidc = fetch_json(&endpoint("/.well-known/openid-configuration"));
    let oauth = fetch_json(&endpoint("/.well-known/oauth-authorization-server"));

    for (name, doc) in [("openid-configuration", &oidc), ("oauth-authorization-server", &oauth)] {
        // The issuer must be exactly the configured one (OIDC Discovery §4.3, RFC 8414 §3.3).
        assert_eq!(doc["issuer"].as_str(), Some(issuer.as_str()), "{name}: issuer: {doc:#}");
        for field in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
            let url = doc[field].as_str().unwrap_or_else(|| panic!("{name}: {field} missing: {doc:#}"));
            assert!(url.starts_with(issuer.as_str()), "{name}: {field} {url} is not under the issuer");
        }
        assert_eq!(strings(doc, "response_types_supported"), vec!["code".to_string()], "{name}");
        let pkce = strings(doc, "code_challenge_methods_supported");
        assert!(pkce.contains(&"S256".to_string()), "{name}: S256 not advertised: {pkce:?}");
        let auth = strings(doc, "token_endpoint_auth_methods_supported");
        for m in ["client_secret_basic", "client_secret_post", "none"] {
            assert!(auth.contains(&m.to_string()), "{name}: {m} missing from {auth:?}");
        }
        assert_eq!(
            doc["authorization_response_iss_parameter_supported"],
            Value::Bool(true),
            "{name}: RFC 9207 iss parameter not advertised: {doc:#}"
        );
        if doc.get("grant_types_supported").is_some() {
            assert!(strings(doc, "grant_types_supported").contains(&"authorization_code".to_string()), "{name}");
        }
    }

    // The two documents describe the same server.
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "code_challenge_methods_supported",
        "token_endpoint_auth_methods_supported",
    ] {
        assert_eq!(oidc[field], oauth[field], "the discovery documents disagree on {field}");
    }
    if oauth.get("userinfo_endpoint").is_some() {
        assert_eq!(
            oidc["userinfo_endpoint"], oauth["userinfo_endpoint"],
            "the documents disagree on userinfo_endpoint"
        );
    }

    // OpenID-specific metadata (OIDC Discovery §3).
    assert_eq!(oidc["userinfo_endpoint"].as_str(), Some(endpoint("/userinfo").as_str()), "{oidc:#}");
    assert_eq!(oidc["authorization_endpoint"].as_str(), Some(endpoint("/authorize").as_str()), "{oidc:#}");
    assert_eq!(oidc["token_endpoint"].as_str(), Some(endpoint("/token").as_str()), "{oidc:#}");
    assert!(strings(&oidc, "scopes_supported").contains(&"openid".to_string()), "{oidc:#}");
    assert!(!strings(&oidc, "subject_types_supported").is_empty(), "{oidc:#}");
    assert!(
        strings(&oidc, "id_token_signing_alg_values_supported").contains(&"RS256".to_string()),
        "RS256 is mandatory (OIDC Discovery §3): {oidc:#}"
    );

    // And the relying-party library accepts it (it also fetches and parses the JWKS).
    let http = Recorder::new();
    let metadata = discover(&http);
    assert_eq!(metadata.issuer().as_str(), issuer.as_str());
    assert!(!metadata.jwks().keys().is_empty(), "openidconnect found no usable key in the JWKS");
}

#[test]
fn jwks_publishes_only_public_signing_keys() {
    let oidc = fetch_json(&endpoint("/.well-known/openid-configuration"));
    let jwks_uri = oidc["jwks_uri"].as_str().expect("jwks_uri");
    let jwks = fetch_json(jwks_uri);
    let keys = jwks["keys"].as_array().unwrap_or_else(|| panic!("JWKS without keys: {jwks:#}"));
    assert!(!keys.is_empty(), "empty JWKS");
    let mut kids = Vec::new();
    for key in keys {
        let kid = key["kid"].as_str().unwrap_or_else(|| panic!("key without kid: {key:#}"));
        assert!(!kid.is_empty(), "empty kid: {key:#}");
        assert!(!kids.contains(&kid.to_string()), "duplicate kid {kid}");
        kids.push(kid.to_string());
        assert_eq!(key["use"].as_str(), Some("sig"), "key {kid}: use must be sig: {key:#}");
        assert!(key["alg"].as_str().is_some_and(|a| !a.is_empty()), "key {kid}: alg missing: {key:#}");
        let kty = key["kty"].as_str().unwrap_or_else(|| panic!("key {kid}: kty missing"));
        if kty == "RSA" {
            assert!(key["n"].is_string() && key["e"].is_string(), "key {kid}: RSA key without n/e: {key:#}");
        }
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(key.get(private).is_none(), "key {kid} leaks the private member '{private}'!");
        }
    }
}

/// The quality bar of issue 3: discovery advertises exactly what is implemented.
#[test]
fn advertises_exactly_what_is_implemented() {
    let d = fetch_json(&endpoint("/.well-known/openid-configuration"));
    let set = |f: &str| {
        let mut v = strings(&d, f);
        v.sort();
        v
    };
    let sorted = |v: &[&str]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(set("response_types_supported"), sorted(&["code"]));
    assert_eq!(set("response_modes_supported"), sorted(&["query"]));
    assert_eq!(set("grant_types_supported"), sorted(&["authorization_code", "refresh_token", "client_credentials"]));
    let auth = sorted(&["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]);
    assert_eq!(set("token_endpoint_auth_methods_supported"), auth);
    assert_eq!(set("revocation_endpoint_auth_methods_supported"), auth);
    assert_eq!(set("token_endpoint_auth_signing_alg_values_supported"), sorted(&["RS256", "ES256", "EdDSA"]));
    // RFC 7662 §2.1: introspection needs a client that authenticates.
    assert_eq!(
        set("introspection_endpoint_auth_methods_supported"),
        sorted(&["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    // Clients that appear without an operator: off unless turned on.
    assert_eq!(d["client_id_metadata_document_supported"], false);
    assert!(d.get("registration_endpoint").is_none());
    // The e2e key set has RS256, ES256 and EdDSA signing keys.
    assert_eq!(set("id_token_signing_alg_values_supported"), sorted(&["RS256", "ES256", "EdDSA"]));
    assert_eq!(set("scopes_supported"), sorted(&["openid", "profile", "email", "address", "phone", "offline_access"]));
    assert_eq!(set("subject_types_supported"), sorted(&["public", "pairwise"]));
    assert_eq!(set("code_challenge_methods_supported"), sorted(&["S256"]));
    for claim in ["sub", "name", "email", "email_verified", "address", "phone_number", "auth_time", "nonce"] {
        assert!(strings(&d, "claims_supported").contains(&claim.to_string()), "claims_supported lacks {claim}");
    }
    assert_eq!(d["claims_parameter_supported"], true);
    assert_eq!(d["request_parameter_supported"], false);
    assert_eq!(d["request_uri_parameter_supported"], false);
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["end_session_endpoint"].as_str(), Some(endpoint("/logout").as_str()));
    assert_eq!(d["revocation_endpoint"].as_str(), Some(endpoint("/revoke").as_str()));
    assert_eq!(d["introspection_endpoint"].as_str(), Some(endpoint("/introspect").as_str()));
}
