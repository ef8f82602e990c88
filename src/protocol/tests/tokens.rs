//! The token endpoint's client authentication and grants, userinfo, introspection and
//! revocation, and what a store failure answers.

use super::*;

#[test]
fn token_client_authentication() {
    let w = World::new();
    let p = w.code_for("basic", &[]);
    let code = param(&p, "code").unwrap();
    let f = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)];
    let (s, v, r) = w.token(&f, Some(("basic", "wrong")));
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    // The registered method only: basic client using client_secret_post.
    let (s, v, r) = w.token(&[f.as_slice(), &[("client_id", "basic"), ("client_secret", BASIC_SECRET)]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    // Every 401 carries a challenge (RFC 9110 §15.5.2): the header scheme a client may use.
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"token\", charset=\"UTF-8\""));
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "post"), ("client_secret", "wrong")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "public"), ("client_secret", "anything")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "basic")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "confidential client without secret");
    let (s, v, _) = w.token(&[f.as_slice(), &[("client_id", "nobody")]].concat(), None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) = w.token(&f, None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let (s, v, _) =
        w.token(&[f.as_slice(), &[("client_secret", BASIC_SECRET)]].concat(), Some(("basic", BASIC_SECRET)));
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "two methods at once");
    let r = w.post("/token", &f, &[("authorization", "Basic %%%")]);
    assert_eq!(r.status, 401);
    let (s, v, _) = w.token(&f, Some(("broken", "x")));
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(v["error_description"].as_str().unwrap().contains("broken"));
    // After all that the code is still good for its client.
    let (s, _, _) = w.token(&f, Some(("basic", BASIC_SECRET)));
    assert_eq!(s, 200);
}

#[test]
#[allow(clippy::type_complexity)]
fn token_grant_errors() {
    let w = World::new();
    // A legacy client without PKCE, so that a verifier without a challenge can be sent.
    w.auto_pkce.set(false);
    let p = w.code_for("legacy", &[]);
    let code = param(&p, "code").unwrap();
    let basic = Some(("legacy", BASIC_SECRET));
    let tampered = format!("{}x", &code[..code.len() - 1]);
    let cases: Vec<(Vec<(&str, &str)>, u16, &str)> = vec![
        (vec![("code", code), ("redirect_uri", CB)], 400, "invalid_request"),
        (vec![("grant_type", "password"), ("code", code), ("redirect_uri", CB)], 400, "unsupported_grant_type"),
        (vec![("grant_type", "authorization_code"), ("redirect_uri", CB)], 400, "invalid_request"),
        (vec![("grant_type", "authorization_code"), ("code", code)], 400, "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:9000/cb")],
            400,
            "invalid_grant",
        ),
        (vec![("grant_type", "authorization_code"), ("code", "garbage"), ("redirect_uri", CB)], 400, "invalid_grant"),
        (vec![("grant_type", "authorization_code"), ("code", &tampered), ("redirect_uri", CB)], 400, "invalid_grant"),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (form, status, err) in cases {
        let (s, v, _) = w.token(&form, basic);
        assert_eq!((s, v["error"].as_str()), (status, Some(err)), "{form:?}");
    }
    // Code issued to another client.
    let (s, v, _) = w.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("client_id", "post"),
            ("client_secret", POST_SECRET),
        ],
        None,
    );
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    // Wrong method and content type.
    let r = w.get("/token");
    assert_eq!(r.status, 405);
    let r = w.call(Request {
        method: "POST".into(),
        path: "/token".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"grant_type":"authorization_code"}"#.to_vec(),
        ..Default::default()
    });
    assert_eq!(r.status, 400);
    // Expired code.
    w.advance(61);
    let (s, v, _) = w.token(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)], basic);
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    assert!(v["error_description"].as_str().unwrap().contains("expired"));
}

#[test]
fn code_reuse_revokes_the_access_token() {
    let w = World::new();
    let (v, code) = code_flow_tokens(&w);
    let at = v["access_token"].as_str().unwrap().to_string();
    let userinfo = |t: &str| {
        w.call(Request {
            method: "GET".into(),
            path: "/userinfo".into(),
            headers: vec![("authorization".into(), format!("Bearer {t}"))],
            ..Default::default()
        })
    };
    assert_eq!(userinfo(&at).status, 200);
    let (s, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    let r = userinfo(&at);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
}

#[test]
fn userinfo_errors() {
    let w = World::new();
    let (v, _) = code_flow_tokens(&w);
    let at = v["access_token"].as_str().unwrap().to_string();
    let r = w.get("/userinfo");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let with = |h: &str| {
        w.call(Request {
            method: "GET".into(),
            path: "/userinfo".into(),
            headers: vec![("authorization".into(), h.into())],
            ..Default::default()
        })
    };
    for bad in ["Bearer garbage", "Basic abc", &format!("Bearer {at}x")] {
        let r = with(bad);
        assert_eq!(r.status, 401, "{bad}");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer error=\"invalid_token\""));
    }
    // RFC 6750 §2.2 form body.
    let r = w.post("/userinfo", &[("access_token", &at)], &[]);
    assert_eq!(r.status, 200);
    // Removed user: token no longer works.
    w.users.records.borrow_mut().remove("user:alice");
    assert_eq!(with(&format!("Bearer {at}")).status, 401);
    w.advance(3600);
    assert_eq!(with(&format!("Bearer {at}")).status, 401);
}

#[test]
fn grant_store_failure_is_temporarily_unavailable() {
    let w = World::new();
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "basic"),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("state", "s"),
    ]);
    let consent = w.login(&page, "alice", PASSWORD);
    w.grants.fail.set(true);
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    assert_eq!(param(&p, "error"), Some("temporarily_unavailable"));
    w.grants.fail.set(false);
    let (v, _) = code_flow_tokens(&w);
    assert!(v["access_token"].is_string());
    let p = w.code_for("basic", &[]);
    w.grants.fail.set(true);
    let (s, v, r) = w.token(
        &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!((s, v["error"].as_str()), (503, Some("temporarily_unavailable")));
    assert!(r.header("retry-after").is_some());
}

#[test]
fn client_authentication_throttling() {
    let w = World::new();
    let p = w.code_for("basic", &[]);
    let f = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let auth = |secret: &str| {
        format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("basic:{secret}"))
        )
    };
    for _ in 0..10 {
        let r = w.post("/token", &f, &[("authorization", &auth("wrong")), ("cf-connecting-ip", "198.51.100.1")]);
        assert_eq!(r.status, 401);
    }
    let r = w.post("/token", &f, &[("authorization", &auth(BASIC_SECRET)), ("cf-connecting-ip", "198.51.100.1")]);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert!(v["error_description"].as_str().unwrap().contains("too many"));
    // From another address the client still works.
    let r = w.post("/token", &f, &[("authorization", &auth(BASIC_SECRET)), ("cf-connecting-ip", "198.51.100.2")]);
    assert_eq!(r.status, 200, "{}", r.body_str());
}

#[test]
fn introspection_and_revocation() {
    let w = World::new();
    let (v, _) = code_flow_tokens(&w);
    let at = v["access_token"].as_str().unwrap().to_string();
    let introspect =
        |client: Option<(&str, &str)>, token: &str| w.token_like("/introspect", &[("token", token)], client);
    let (s, body) = introspect(Some(("basic", BASIC_SECRET)), &at);
    assert_eq!(s, 200);
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "basic");
    assert_eq!(body["sub"], "u-7f3a9c");
    assert_eq!(body["scope"], "openid profile email");
    assert_eq!(body["exp"], T0 + 3600);
    assert_eq!(body["iat"], T0);
    assert_eq!(body["token_type"], "Bearer");
    // Another client learns nothing about it, and cannot revoke it.
    let post = [("client_id", "post"), ("client_secret", POST_SECRET)];
    let r = w.post("/introspect", &[&[("token", at.as_str())], post.as_slice()].concat(), &[]);
    assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap(), json!({"active": false}));
    let r = w.post("/revoke", &[&[("token", at.as_str())], post.as_slice()].concat(), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(introspect(Some(("basic", BASIC_SECRET)), &at).1["active"], true);
    // Unauthenticated: invalid_client; garbage tokens: inactive / 200.
    assert_eq!(introspect(Some(("basic", "wrong")), &at).0, 401);
    assert_eq!(introspect(Some(("basic", BASIC_SECRET)), "garbage").1, json!({"active": false}));
    assert_eq!(w.token_like("/revoke", &[("token", "garbage")], Some(("basic", BASIC_SECRET))).0, 200);
    assert_eq!(w.token_like("/revoke", &[], Some(("basic", BASIC_SECRET))).0, 400);
    // The owner revokes: userinfo and introspection reject it at once.
    let (s, _) =
        w.token_like("/revoke", &[("token", &at), ("token_type_hint", "access_token")], Some(("basic", BASIC_SECRET)));
    assert_eq!(s, 200);
    assert_eq!(introspect(Some(("basic", BASIC_SECRET)), &at).1, json!({"active": false}));
    let r = w.call(Request {
        method: "GET".into(),
        path: "/userinfo".into(),
        headers: vec![("authorization".into(), format!("Bearer {at}"))],
        ..Default::default()
    });
    assert_eq!(r.status, 401);
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["revocation_endpoint"], format!("{ISSUER}/revoke"));
    assert_eq!(d["introspection_endpoint"], format!("{ISSUER}/introspect"));
}
