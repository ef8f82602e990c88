//! OpenID Connect Discovery 1.0 §3 and RFC 8414 §2 metadata. Only what is implemented (and
//! turned on: registration, client ID metadata documents) is advertised. The platform serialises this once per isolate.

use crate::config::{Config, Registration};
use crate::keys::Alg;
use crate::model::scope;
use crate::protocol::registration::REGISTRATION_PATH;
use serde_json::{json, Value};

pub const AUTHORIZE_PATH: &str = "/authorize";
pub const TOKEN_PATH: &str = "/token";
pub const USERINFO_PATH: &str = "/userinfo";
pub const JWKS_PATH: &str = "/jwks.json";
pub const REVOCATION_PATH: &str = "/revoke";
pub const INTROSPECTION_PATH: &str = "/introspect";
pub const END_SESSION_PATH: &str = "/logout";
/// The page listing the applications a user allowed (not advertised: for people).
pub const CONSENTS_PATH: &str = "/consents";

/// `pairwise`: whether pairwise subjects can be issued (the `PAIRWISE_SALT` secret is set).
/// `algs`: the ID token algorithms that have a signing key (RS256 always does, §3).
pub fn document(config: &Config, pairwise: bool, algs: &[Alg]) -> Value {
    let subject_types: &[&str] = if pairwise { &["public", "pairwise"] } else { &["public"] };
    let algs: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
    let auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
    let assertion_algs = ["RS256", "ES256", "EdDSA"];
    let mut d = json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint(AUTHORIZE_PATH),
        "token_endpoint": config.endpoint(TOKEN_PATH),
        "userinfo_endpoint": config.endpoint(USERINFO_PATH),
        "jwks_uri": config.endpoint(JWKS_PATH),
        "revocation_endpoint": config.endpoint(REVOCATION_PATH),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint": config.endpoint(INTROSPECTION_PATH),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "end_session_endpoint": config.endpoint(END_SESSION_PATH),
        "scopes_supported": scope::SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": subject_types,
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": [crate::model::pkce::S256],
        "claims_supported": claims_supported(),
        // How strongly the user signed in (`model::strength`): `acr_values`, ID token `acr`.
        "acr_values_supported": crate::model::strength::ACR_VALUES,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": crate::i18n::LOCALES.iter().map(|l| l.tag()).collect::<Vec<_>>(),
        // draft-ietf-oauth-client-id-metadata-document §6: an https URL as client_id.
        "client_id_metadata_document_supported": config.clients.metadata_documents,
    });
    if let (true, Some(o)) = (config.clients.registration != Registration::Off, d.as_object_mut()) {
        o.insert("registration_endpoint".into(), json!(config.endpoint(REGISTRATION_PATH)));
    }
    d
}

/// The user's claims, and what the ID token says of the sign-in (OpenID Connect Core §2).
fn claims_supported() -> Vec<&'static str> {
    let mut claims: Vec<&'static str> = scope::all_claims().into_iter().collect();
    for c in ["auth_time", "acr", "amr"] {
        if !claims.contains(&c) {
            claims.push(c);
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_derive_from_issuer() {
        let c = Config::from_vars(|k| (k == "ISSUER").then(|| "https://id.example.com".to_string())).unwrap();
        let d = document(&c, false, &[Alg::RS256, Alg::EdDSA]);
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256", "EdDSA"]));
        assert_eq!(d["issuer"], "https://id.example.com");
        assert_eq!(d["token_endpoint"], "https://id.example.com/token");
        assert_eq!(d["request_uri_parameter_supported"], false);
        assert_eq!(d["response_types_supported"], json!(["code"]));
        assert_eq!(d["ui_locales_supported"], json!(["en", "de", "fr", "es", "ja", "ar"]));
    }
}
