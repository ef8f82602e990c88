//! Token revocation (RFC 7009) and introspection (RFC 7662) end to end.

use e2e::*;

#[test]
fn introspect_then_revoke_an_access_token() {
    let flow = complete_flow(Kind::Basic, true);
    let at = flow.access_token.as_str();
    let owner = Kind::Basic.auth();
    let info = client_request("/introspect", owner, &[("token", at)]).assert_status(200).json();
    assert_eq!(info["active"], true, "{info:#}");
    assert_eq!(info["client_id"], Kind::Basic.id());
    assert_eq!(info["sub"], flow.sub.as_str());
    assert_eq!(info["token_type"], "Bearer");
    assert!(info["exp"].as_i64().unwrap() > now());
    // Another client learns nothing and cannot revoke it.
    let other = Kind::Post.auth();
    assert_eq!(
        client_request("/introspect", other, &[("token", at)]).assert_status(200).json(),
        serde_json::json!({"active": false})
    );
    client_request("/revoke", other, &[("token", at)]).assert_status(200);
    userinfo(Some(at)).assert_status(200);
    // Wrong credentials: invalid_client.
    let page = client_request("/introspect", ClientAuth::Basic(Kind::Basic.id(), "wrong"), &[("token", at)]);
    assert_oauth_error(&page, 401, "invalid_client");
    // The owner revokes: rejected at once everywhere.
    client_request("/revoke", owner, &[("token", at), ("token_type_hint", "access_token")]).assert_status(200);
    assert_eq!(client_request("/introspect", owner, &[("token", at)]).json(), serde_json::json!({"active": false}));
    assert_bearer_challenge(&userinfo(Some(at)), Some("invalid_token"));
    // Unknown tokens are not an error (RFC 7009 §2.2).
    client_request("/revoke", owner, &[("token", "not-a-token")]).assert_status(200);
    let metadata = Browser::new().get(&endpoint("/.well-known/openid-configuration")).json();
    assert_eq!(metadata["revocation_endpoint"], endpoint("/revoke"));
    assert_eq!(metadata["introspection_endpoint"], endpoint("/introspect"));
}
