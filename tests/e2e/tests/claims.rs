//! Pairwise subject identifiers (OpenID Connect Core §8.1) and the address and phone scopes
//! (§5.4), end to end with the seeded pairwise client `e2e-pairwise`.

use e2e::*;

fn pairwise() -> (String, String) {
    let get = |n: &str| std::env::var(n).unwrap_or_else(|_| panic!("{n} is not set: run scripts/e2e.sh"));
    (get("E2E_PAIRWISE_ID"), get("E2E_PAIRWISE_SECRET"))
}

/// Code → tokens for a client authenticating with Basic; returns (ID token claims, userinfo).
fn tokens(client_id: &str, secret: &str, scope: &str) -> (serde_json::Value, serde_json::Value) {
    let req = AuthzRequest::new(Kind::Basic).set("client_id", client_id).set("scope", scope);
    let code = obtain_code(&req);
    let page = token_request(ClientAuth::Basic(client_id, secret), &code_grant(&code, &env().redirect_uri, None));
    let body = assert_token_success(&page);
    let claims = jwt_payload(body["id_token"].as_str().expect("id_token"));
    let info = userinfo(body["access_token"].as_str()).assert_status(200).json();
    (claims, info)
}

#[test]
fn pairwise_client_gets_its_own_stable_sub() {
    let (id, secret) = pairwise();
    let public = tokens(Kind::Basic.id(), Kind::Basic.secret().unwrap(), "openid").0["sub"].clone();
    let (first, info) = tokens(&id, &secret, "openid");
    assert_ne!(first["sub"], public, "a pairwise client must not see the public sub");
    assert_eq!(info["sub"], first["sub"], "userinfo and the ID token agree on the pairwise sub");
    let (second, _) = tokens(&id, &secret, "openid");
    assert_eq!(second["sub"], first["sub"], "the pairwise sub is stable across logins");
    let metadata = Browser::new().get(&endpoint("/.well-known/openid-configuration")).assert_status(200).json();
    let types: Vec<&str> =
        metadata["subject_types_supported"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(types, ["public", "pairwise"]);
}

#[test]
fn address_and_phone_scopes_release_their_claims() {
    let (id, secret) = pairwise();
    let (claims, info) = tokens(&id, &secret, "openid address phone");
    for c in [&claims, &info] {
        assert_eq!(c["phone_number"], "+1 425 555 0100", "{c:#}");
        assert_eq!(c["phone_number_verified"], true, "{c:#}");
        assert_eq!(c["address"]["street_address"], "1 Main Street", "{c:#}");
        assert_eq!(c["address"]["locality"], "Springfield", "{c:#}");
        assert_eq!(c["address"]["country"], "US", "{c:#}");
        assert!(c.get("email").is_none(), "no email without the email scope: {c:#}");
    }
    // A client not registered for the phone scope is refused it.
    let req = AuthzRequest::new(Kind::Basic).set("scope", "openid phone");
    let page = Browser::new().get(&req.url());
    assert_redirect_error(&page, req.state(), "invalid_scope");
}
