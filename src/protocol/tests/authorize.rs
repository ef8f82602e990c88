//! The authorization endpoint's checks: pages before the redirect URI is trusted, redirects
//! after; id_token_hint; scopes and claims; pairwise subjects; loopback redirect URIs.

use super::*;

#[test]
fn authorize_errors_before_redirect_uri_is_trusted_are_pages() {
    let w = World::new();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("response_type", "code"), ("redirect_uri", CB), ("scope", "openid")], "no client_id"),
        (
            vec![("client_id", "nobody"), ("redirect_uri", CB), ("scope", "openid"), ("response_type", "code")],
            "No application",
        ),
        (vec![("client_id", "basic"), ("scope", "openid"), ("response_type", "code")], "no redirect_uri"),
        (
            vec![
                ("client_id", "basic"),
                ("redirect_uri", "https://evil.example/cb"),
                ("scope", "openid"),
                ("response_type", "code"),
            ],
            "not registered",
        ),
        (
            vec![
                ("client_id", "basic"),
                ("redirect_uri", "https://app.example/cb/"),
                ("scope", "openid"),
                ("response_type", "code"),
            ],
            "not registered",
        ),
        (
            vec![("client_id", "broken"), ("redirect_uri", CB), ("scope", "openid"), ("response_type", "code")],
            "client record &#39;broken&#39;",
        ),
    ];
    for (params, text) in cases {
        let r = w.authorize(&params);
        assert_eq!(r.status, 400, "{params:?}");
        assert!(r.header("location").is_none());
        assert!(r.body_str().contains(text), "{params:?}: {}", r.body_str());
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    // A repeated parameter cannot be trusted either: page, no redirect.
    let r = w.get(&format!("/authorize?client_id=basic&client_id=public&redirect_uri={CB}"));
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    assert!(w.logs.borrow().iter().any(|l| l.contains("'broken'")), "malformed record is logged");
}

#[test]
fn authorize_errors_after_redirect_uri_redirect_with_state_and_iss() {
    let w = World::new();
    w.auto_pkce.set(false);
    let base = |extra: &[(&'static str, &'static str)], client: &'static str| {
        let mut v = vec![("client_id", client), ("redirect_uri", CB), ("state", "s-9")];
        v.extend_from_slice(extra);
        v
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (base(&[("scope", "openid")], "basic"), "invalid_request"),
        (base(&[("response_type", "token"), ("scope", "openid")], "basic"), "unsupported_response_type"),
        (base(&[("response_type", "code"), ("scope", "profile email")], "basic"), "invalid_scope"),
        (base(&[("response_type", "code")], "basic"), "invalid_scope"),
        (base(&[("response_type", "code"), ("scope", "openid email")], "narrow"), "invalid_scope"),
        (base(&[("response_type", "code"), ("scope", "openid")], "public"), "invalid_request"),
        // PKCE is required by default, of confidential clients too (RFC 9700 §2.1.1) ...
        (base(&[("response_type", "code"), ("scope", "openid")], "basic"), "invalid_request"),
        // ... and S256 only: plain, or no method (which RFC 7636 makes plain), is refused.
        (
            base(
                &[
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", VERIFIER),
                    ("code_challenge_method", "plain"),
                ],
                "basic",
            ),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge", CHALLENGE)], "basic"),
            "invalid_request",
        ),
        (
            base(
                &[
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", VERIFIER),
                    ("code_challenge_method", "plain"),
                ],
                "public",
            ),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge", VERIFIER)], "public"),
            "invalid_request",
        ),
        (
            base(
                &[
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S512"),
                ],
                "basic",
            ),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge", "short")], "basic"),
            "invalid_request",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("code_challenge_method", "S256")], "basic"),
            "invalid_request",
        ),
        (base(&[("response_type", "code"), ("scope", "openid"), ("request", "eyJ")], "basic"), "request_not_supported"),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("request_uri", "https://x.example/r")], "basic"),
            "request_uri_not_supported",
        ),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("prompt", "none"), ("nonce", "n")], "legacy"),
            "login_required",
        ),
        // Without PKCE, the nonce is what prevents code injection (RFC 9700 §2.1.1).
        (base(&[("response_type", "code"), ("scope", "openid")], "legacy"), "invalid_request"),
        (
            base(&[("response_type", "code"), ("scope", "openid"), ("response_mode", "fragment")], "basic"),
            "invalid_request",
        ),
    ];
    for (params, code) in cases {
        let p = redirect_params(&w.authorize(&params), CB);
        assert_eq!(param(&p, "error"), Some(code), "{params:?}");
        assert!(param(&p, "error_description").is_some_and(|d| !d.is_empty()));
        assert_eq!(param(&p, "state"), Some("s-9"));
        assert_eq!(param(&p, "iss"), Some(ISSUER));
    }
    // Unknown scope values are ignored (OpenID Connect Core §3.1.2.1).
    let r = w.authorize(&base(
        &[
            ("response_type", "code"),
            ("scope", "openid weird"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
        "basic",
    ));
    assert_eq!(r.status, 200, "{}", r.body_str());
    // A legacy confidential client whose record opts out may leave PKCE out.
    let r = w.authorize(&base(&[("response_type", "code"), ("scope", "openid"), ("nonce", "n-1")], "legacy"));
    assert_eq!(r.status, 200, "{}", r.body_str());
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
}

#[test]
fn id_token_hint_must_be_one_of_ours() {
    let w = World::new();
    let (v, _) = code_flow_tokens(&w);
    let ours = v["id_token"].as_str().unwrap().to_string();
    let base =
        [("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid"), ("state", "s")];
    let foreign_claims = b64url(br#"{"iss":"https://other.example","sub":"x"}"#);
    let foreign = format!("eyJhbGciOiJSUzI1NiJ9.{foreign_claims}.c2ln");
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", foreign.as_str()] {
        let p = redirect_params(&w.authorize(&[base.as_slice(), &[("id_token_hint", bad)]].concat()), CB);
        assert_eq!(param(&p, "error"), Some("invalid_request"), "{bad}");
        assert_eq!(param(&p, "state"), Some("s"));
    }
    // Ours, for the signed-in user whose consent is remembered: a code, no page.
    let p = redirect_params(&w.authorize(&[base.as_slice(), &[("id_token_hint", ours.as_str())]].concat()), CB);
    assert!(param(&p, "code").is_some(), "{p:?}");
    // Without a session, the login page.
    w.forget_session();
    assert_eq!(w.authorize(&[base.as_slice(), &[("id_token_hint", ours.as_str())]].concat()).status, 200);
}

#[test]
fn address_and_phone_scopes() {
    let w = World::new();
    w.clients.put(
        "full",
        &client_record("full", "client_secret_basic", Some(BASIC_SECRET))
            .replace("openid profile email", "openid address phone"),
    );
    let mut alice: Value = serde_json::from_str(&w.users.get("user:alice").unwrap()).unwrap();
    alice["address"] = json!({"street_address": "1 Main St", "locality": "Springfield", "country": "US"});
    alice["phone_number"] = json!("+1 425 555 1212");
    alice["phone_number_verified"] = json!(true);
    w.users.put("user:alice", &alice.to_string());
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "full"),
        ("redirect_uri", CB),
        ("scope", "openid address phone"),
    ]);
    let consent = w.login(&page, "alice", PASSWORD);
    assert!(consent.body_str().contains("See your postal address"));
    assert!(consent.body_str().contains("See your phone number"));
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    let (s, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)],
        Some(("full", BASIC_SECRET)),
    );
    assert_eq!(s, 200, "{v}");
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["address"], json!({"street_address": "1 Main St", "locality": "Springfield", "country": "US"}));
    assert_eq!(c["phone_number"], "+1 425 555 1212");
    assert_eq!(c["phone_number_verified"], true);
    assert!(c.get("email").is_none());
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["scopes_supported"], json!(["openid", "profile", "email", "address", "phone", "offline_access"]));
    assert!(d["claims_supported"].as_array().unwrap().contains(&json!("phone_number_verified")));
    // A client not registered for the scope cannot ask for it.
    let r = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "basic"),
        ("redirect_uri", CB),
        ("scope", "openid phone"),
        ("state", "s"),
    ]);
    assert_eq!(param(&redirect_params(&r, CB), "error"), Some("invalid_scope"));
}

#[test]
fn pairwise_subjects() {
    let w = World::new();
    let pairwise = |id: &str, cb: &str| {
        let mut c: Value = serde_json::from_str(&client_record(id, "client_secret_basic", Some(BASIC_SECRET))).unwrap();
        c["subject_type"] = json!("pairwise");
        c["redirect_uris"] = json!([cb]);
        w.clients.put(id, &c.to_string());
    };
    pairwise("pw1", CB);
    pairwise("pw2", "https://app.example/other"); // same sector (host) as pw1
    pairwise("pw3", "https://elsewhere.example/cb");
    let sub_for = |id: &str, cb: &str| {
        w.fresh_browser();
        let page =
            w.authorize(&[("response_type", "code"), ("client_id", id), ("redirect_uri", cb), ("scope", "openid")]);
        let p = redirect_params(&w.consent(&w.login(&page, "alice", PASSWORD), "allow"), cb);
        let (s, v, _) = w.token(
            &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", cb)],
            Some((id, BASIC_SECRET)),
        );
        assert_eq!(s, 200, "{v}");
        let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
        let at = v["access_token"].as_str().unwrap().to_string();
        let r = w.call(Request {
            method: "GET".into(),
            path: "/userinfo".into(),
            headers: vec![("authorization".into(), format!("Bearer {at}"))],
            ..Default::default()
        });
        let u: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(u["sub"], c["sub"], "userinfo and ID token agree");
        c["sub"].as_str().unwrap().to_string()
    };
    let s1 = sub_for("pw1", CB);
    assert_ne!(s1, "u-7f3a9c", "not the user's own sub");
    assert_eq!(sub_for("pw1", CB), s1, "stable");
    assert_eq!(sub_for("pw2", "https://app.example/other"), s1, "same sector, same sub");
    assert_ne!(sub_for("pw3", "https://elsewhere.example/cb"), s1, "other sector, other sub");
    // Pairwise needs one host, and the discovery document says it is supported.
    let mut bad: Value = serde_json::from_str(&client_record("pw4", "none", None)).unwrap();
    bad["subject_type"] = json!("pairwise");
    let e = Client::from_record("pw4", &bad.to_string()).unwrap_err();
    assert!(e.contains("one host"), "{e}");
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["subject_types_supported"], json!(["public", "pairwise"]));
}

/// A public client's loopback redirect URI may differ in its port only (RFC 8252 §7.3), so the request's spelling
/// may differ from the registered one; what is sent back is the parser's, never the request's
/// (the e2e hostile storm sent `http:/127.0.0.1:…`).
#[test]
fn loopback_redirects_match_as_strings_but_for_the_port() {
    let w = World::new();
    for uri in ["http://127.0.0.1:9000/cb", "http://127.0.0.1:4711/cb", "http://127.0.0.1/cb"] {
        let r =
            w.authorize(&[("response_type", "code"), ("client_id", "public"), ("redirect_uri", uri), ("state", "s")]);
        assert_eq!(r.status, 303, "{uri}: {}", r.body_str());
        let loc = r.header("location").unwrap();
        assert!(loc.starts_with(&format!("{uri}?error=invalid_scope")), "{uri}: {loc}");
    }
    // Another spelling is another URI, even if a parser would make the same of it.
    for uri in ["http:/127.0.0.1:9000/cb", "HTTP://127.0.0.1:4711/cb", "http://127.0.0.1:9000/x/../cb"] {
        let r = w.authorize(&[("response_type", "code"), ("client_id", "public"), ("redirect_uri", uri)]);
        assert_eq!((r.status, r.header("location")), (400, None), "{uri}");
    }
    // Another port is a native app's privilege (RFC 8252 §7.3): a confidential client's
    // loopback URI matches exactly, and anything else is a page, never a redirect.
    let exact = [("response_type", "code"), ("client_id", "basic"), ("redirect_uri", "http://127.0.0.1:9000/cb")];
    assert_eq!(w.authorize(&exact).status, 303);
    for uri in ["http://127.0.0.1:4711/cb", "http://127.0.0.1/cb"] {
        let r = w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", uri)]);
        assert_eq!((r.status, r.header("location")), (400, None), "{uri}");
    }
}
