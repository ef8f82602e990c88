//! Signing keys: the key set and the clients of the other algorithms (tests/signing.rs).

use crate::*;
use std::sync::OnceLock;

use base64::Engine as _;
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{AuthType, ClientId, ClientSecret, RedirectUrl};
use serde_json::Value;

/// What `scripts/e2e.sh` puts in SIGNING_KEYS (an active RS256 key, a retired RS256 key, an
/// ES256 and an EdDSA key) and the clients registered for ES256 and EdDSA ID tokens.
#[derive(Debug)]
pub struct SigningEnv {
    pub active_kid: String,
    pub retired_kid: String,
    pub es256_kid: String,
    pub eddsa_kid: String,
    /// `client_secret_basic` clients with `id_token_signed_response_alg` ES256 / EdDSA.
    pub es256_id: String,
    pub es256_secret: String,
    pub eddsa_id: String,
    pub eddsa_secret: String,
}

/// The signing environment, read once.
pub fn signing_env() -> &'static SigningEnv {
    static ENV: OnceLock<SigningEnv> = OnceLock::new();
    ENV.get_or_init(|| SigningEnv {
        active_kid: var("E2E_ACTIVE_KID"),
        retired_kid: var("E2E_RETIRED_KID"),
        es256_kid: var("E2E_ES256_KID"),
        eddsa_kid: var("E2E_EDDSA_KID"),
        es256_id: var("E2E_ES256_ID"),
        es256_secret: var("E2E_ES256_SECRET"),
        eddsa_id: var("E2E_EDDSA_ID"),
        eddsa_secret: var("E2E_EDDSA_SECRET"),
    })
}

/// A relying party for any `client_secret_basic` client.
pub fn basic_client(client_id: &str, secret: &str, metadata: CoreProviderMetadata) -> OidcClient {
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_string()),
        Some(ClientSecret::new(secret.to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(env().redirect_uri.clone()).expect("E2E_REDIRECT_URI is a URL"))
    .set_auth_type(AuthType::BasicAuth)
}

/// Decodes (without verifying) the protected header of a compact JWS.
pub fn jwt_header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("JWS header is not base64url ({e}): {jwt}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWS header is not JSON ({e}): {jwt}"))
}
