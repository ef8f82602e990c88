//! The code flow end to end for each kind of client, discovery, and the router's answers to
//! unknown paths and methods.

use super::*;

#[test]
fn discovery_and_jwks() {
    let w = World::new();
    let r = w.get("/.well-known/openid-configuration");
    assert_eq!(r.status, 200);
    let d: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(d["issuer"], ISSUER);
    assert_eq!(d["jwks_uri"], format!("{ISSUER}/jwks.json"));
    let r2 = w.get("/.well-known/oauth-authorization-server");
    assert_eq!(r2.body, r.body);
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256", "ES256", "EdDSA"]));
    let r = w.get("/jwks.json");
    assert_eq!(r.header("cache-control"), Some("public, max-age=600"));
    let jwks: Value = serde_json::from_slice(&r.body).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    let expected: Vec<&str> = w.keys.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, expected, "every key is published, retired ones too");
    for k in keys {
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "active", "retired_at"] {
            assert!(k.get(private).is_none(), "JWKS leaks {private}");
        }
    }
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "RS256", "ES256", "EdDSA"]);

    // With one RSA key, only RS256 is advertised.
    let w = World::with_keys(test_key::JWKS);
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
}

#[test]
fn full_flow_client_secret_basic() {
    let w = World::new();
    let p = w.code_for("basic", &[]);
    assert_eq!(param(&p, "state"), Some("st-1"));
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    let code = param(&p, "code").unwrap();
    let (status, v, r) = w.token(
        &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "openid profile email");
    let at = v["access_token"].as_str().unwrap();
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "u-7f3a9c");
    assert_eq!(c["aud"], "basic");
    assert_eq!(c["azp"], "basic");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["iat"], T0);
    assert_eq!(c["exp"], T0 + 3600);
    assert_eq!(c["auth_time"], T0);
    assert_eq!(c["at_hash"], b64url(&sha256(at.as_bytes())[..16]));
    assert_eq!(c["name"], "Alice Example");
    assert_eq!(c["preferred_username"], "alice");
    assert_eq!(c["email"], "Alice@Example.com");
    assert_eq!(c["email_verified"], true);
    // Userinfo: fresh claims for the granted scopes.
    let r = w.call(Request {
        method: "GET".into(),
        path: "/userinfo".into(),
        headers: vec![("authorization".into(), format!("Bearer {at}"))],
        ..Default::default()
    });
    assert_eq!(r.status, 200, "{}", r.body_str());
    let u: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(u["sub"], "u-7f3a9c");
    assert_eq!(u["email"], "Alice@Example.com");
    assert_eq!(u["picture"], "https://example.com/a.png");
    // No secrets or codes in the logs.
    let logs = w.logs.borrow().join("\n");
    assert!(!logs.contains(code) && !logs.contains(at) && !logs.contains(PASSWORD) && !logs.contains(BASIC_SECRET));
}

#[test]
fn full_flow_client_secret_post_and_scope_openid_only() {
    let w = World::new();
    let p = w.code_for("post", &[("scope", "openid")]);
    let code = param(&p, "code").unwrap();
    let (status, v, _) = w.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("client_id", "post"),
            ("client_secret", POST_SECRET),
        ],
        None,
    );
    assert_eq!(status, 200, "{v}");
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(v["scope"], "openid");
    assert!(c.get("email").is_none() && c.get("name").is_none());
}

#[test]
fn full_flow_public_client_pkce_and_login_by_email() {
    let w = World::new();
    w.auto_pkce.set(false);
    let params = [
        ("response_type", "code"),
        ("client_id", "public"),
        ("redirect_uri", CB),
        ("scope", "openid email"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let page = w.authorize(&params);
    assert_eq!(page.status, 200);
    let consent = w.login(&page, "ALICE@example.com", PASSWORD);
    assert_eq!(consent.status, 200, "{}", consent.body_str());
    assert!(consent.body_str().contains("See your email address"));
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    assert_eq!(param(&p, "state"), None);
    let code = param(&p, "code").unwrap();
    let base = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB), ("client_id", "public")];
    let (status, v, _) = w.token(&base, None);
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")), "missing verifier");
    let wrong = "x".repeat(43);
    let (status, v, _) = w.token(&[base.as_slice(), &[("code_verifier", wrong.as_str())]].concat(), None);
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")), "wrong verifier");
    let (status, v, _) = w.token(&[base.as_slice(), &[("code_verifier", VERIFIER)]].concat(), None);
    assert_eq!(status, 200, "{v}");
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["aud"], "public");
    assert!(c.get("nonce").is_none());
}

#[test]
fn authorize_by_post_and_redirect_uri_query_is_kept() {
    let w = World::new();
    let r = w.post(
        "/authorize",
        &[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")],
        &[],
    );
    assert_eq!(r.status, 200);
    assert!(r.header("set-cookie").unwrap().contains("HttpOnly"));
    assert!(r.header("set-cookie").unwrap().starts_with("__Host-oidc_csrf="));
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
    assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
}

#[test]
fn unknown_paths_and_methods() {
    let w = World::new();
    assert_eq!(w.get("/nope").status, 404);
    assert_eq!(w.get("/login").status, 405);
    let r = w.call(Request { method: "DELETE".into(), path: "/userinfo".into(), ..Default::default() });
    assert_eq!(r.status, 405);
    let r = w.call(Request { method: "OPTIONS".into(), path: "/token".into(), ..Default::default() });
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}
