//! Signing keys and algorithms end to end: the key set of `scripts/e2e.sh` (an active and a
//! retired RS256 key, an ES256 and an EdDSA key) as the JWKS publishes it, and ID tokens of
//! each algorithm verified by the `openidconnect` crate through discovery and the JWKS.

use e2e::openidconnect;
use e2e::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreIdTokenClaims, CoreJwsSigningAlgorithm};
use openidconnect::{AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, TokenResponse};

/// Discovery → authorization → token with `openidconnect`, for a `client_secret_basic` client;
/// the ID token is verified allowing only `alg`. Returns the raw ID token and its claims.
fn flow(client_id: &str, secret: &str, alg: CoreJwsSigningAlgorithm) -> (String, CoreIdTokenClaims) {
    let http = Recorder::new();
    let client = basic_client(client_id, secret, discover(&http));
    // prompt=consent: the consent page even when an earlier flow's consent is remembered.
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_prompt(openidconnect::core::CoreAuthPrompt::Consent)
        .set_pkce_challenge(pkce_challenge())
        .url();
    let params = Browser::new().authorize_allow(url.as_str());
    let code = assert_redirect_code(&params, csrf.secret());
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint configured")
        .set_pkce_verifier(pkce_verifier())
        .request(&http)
        .unwrap_or_else(|e| panic!("token request failed: {}", error_chain(&e)));
    let id_token = token.id_token().expect("an id_token");
    let verifier = client.id_token_verifier().set_allowed_algs(vec![alg.clone()]);
    let claims = id_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|e| panic!("{alg:?} ID token rejected: {}", error_chain(&e)))
        .clone();
    assert_eq!(claims.issuer().as_str(), env().issuer);
    assert_eq!(claims.audiences().iter().map(|a| a.as_str()).collect::<Vec<_>>(), [client_id]);
    // at_hash with the hash of the token's alg (SHA-512 for EdDSA/Ed25519).
    let signing_alg = id_token.signing_alg().expect("alg");
    assert_eq!(signing_alg, &alg);
    let key = id_token.signing_key(&verifier).expect("the signing key is in the JWKS");
    let expected = AccessTokenHash::from_token(token.access_token(), signing_alg, key).expect("at_hash");
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    // A verifier that allows only another algorithm refuses the token: the alg is really checked.
    let other = match alg {
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        _ => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    };
    let strict = client.id_token_verifier().set_allowed_algs(vec![other.clone()]);
    assert!(id_token.claims(&strict, &nonce).is_err(), "{alg:?} ID token accepted by a {other:?}-only verifier");
    (id_token.to_string(), claims)
}

#[test]
fn jwks_publishes_all_four_keys_public_members_only() {
    let s = signing_env();
    let page = Browser::new().get(&endpoint("/jwks.json"));
    page.assert_status(200);
    assert_eq!(page.content_type(), "application/jwk-set+json");
    let cache = page.header("cache-control").unwrap_or_else(|| panic!("no Cache-Control:\n{}", page.describe()));
    assert!(cache.contains("public") && cache.contains("max-age="), "{cache}");
    let jwks = page.json();
    let keys = jwks["keys"].as_array().expect("keys");
    let mut kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().expect("kid")).collect();
    kids.sort();
    let mut expected = [&*s.active_kid, &*s.retired_kid, &*s.es256_kid, &*s.eddsa_kid];
    expected.sort();
    assert_eq!(kids, expected, "every key of the set is published, the retired one too");
    for k in keys {
        let mut members: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
        members.sort();
        let (alg, want): (&str, &[&str]) = match k["kty"].as_str().unwrap() {
            "RSA" => ("RS256", &["alg", "e", "kid", "kty", "n", "use"]),
            "EC" => ("ES256", &["alg", "crv", "kid", "kty", "use", "x", "y"]),
            "OKP" => ("EdDSA", &["alg", "crv", "kid", "kty", "use", "x"]),
            other => panic!("unexpected kty {other}: {k}"),
        };
        assert_eq!(members, want, "public members only (RFC 7517/7518/8037): {k}");
        assert_eq!(k["alg"], alg, "{k}");
        assert_eq!(k["use"], "sig", "{k}");
    }
    let ec = keys.iter().find(|k| k["kid"] == s.es256_kid.as_str()).unwrap();
    assert_eq!(ec["crv"], "P-256");
    let okp = keys.iter().find(|k| k["kid"] == s.eddsa_kid.as_str()).unwrap();
    assert_eq!(okp["crv"], "Ed25519");

    let metadata = Browser::new().get(&endpoint("/.well-known/openid-configuration")).assert_status(200).json();
    assert_eq!(metadata["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256", "EdDSA"]));
}

#[test]
fn es256_id_tokens_verify_through_discovery_and_jwks() {
    let s = signing_env();
    let (raw, claims) = flow(&s.es256_id, &s.es256_secret, CoreJwsSigningAlgorithm::EcdsaP256Sha256);
    let header = jwt_header(&raw);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], s.es256_kid.as_str());
    assert!(!claims.subject().as_str().is_empty());
}

#[test]
fn eddsa_id_tokens_verify_through_discovery_and_jwks() {
    let s = signing_env();
    let (raw, _) = flow(&s.eddsa_id, &s.eddsa_secret, CoreJwsSigningAlgorithm::EdDsa);
    let header = jwt_header(&raw);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], s.eddsa_kid.as_str());
}

#[test]
fn rs256_tokens_carry_the_active_kid_never_the_retired_one() {
    let s = signing_env();
    for _ in 0..3 {
        let (raw, _) =
            flow(Kind::Basic.id(), Kind::Basic.secret().unwrap(), CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        let header = jwt_header(&raw);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], s.active_kid.as_str(), "signed by the active key");
        assert_ne!(header["kid"], s.retired_kid.as_str(), "the retired key never signs");
    }
}
