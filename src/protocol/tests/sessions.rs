//! Sessions, prompts, remembered consent and its withdrawal, the claims parameter, custom
//! scopes and RP-Initiated Logout, through [`World`] like the rest of the host tests.

use super::*;

fn base(client: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", CB),
        ("scope", "openid email"),
        ("state", "s1"),
    ]
}

fn with<'a>(b: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = b.iter().copied().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
    v.extend_from_slice(extra);
    v
}

/// Signs in and allows `basic` for `openid email`; returns the code redirect's parameters.
fn sign_in(w: &World) -> Vec<(String, String)> {
    w.fresh_browser();
    let page = w.authorize(&base("basic"));
    let consent = w.login(&page, "alice", PASSWORD);
    assert_eq!(consent.status, 200, "{}", consent.body_str());
    redirect_params(&w.consent(&consent, "allow"), CB)
}

fn redeem(w: &World, p: &[(String, String)]) -> Value {
    let (s, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", param(p, "code").unwrap()), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!(s, 200, "{v}");
    v
}

fn userinfo(w: &World, at: &str) -> (u16, Value) {
    let r = w.call(Request {
        method: "GET".into(),
        path: "/userinfo".into(),
        headers: vec![("authorization".into(), format!("Bearer {at}"))],
        ..Default::default()
    });
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

#[test]
fn session_cookie_attributes() {
    let w = World::new();
    w.fresh_browser();
    let page = w.authorize(&base("basic"));
    let r = w.login(&page, "alice", PASSWORD);
    let cookie = r.headers.iter().find(|(k, v)| k == "set-cookie" && v.starts_with("__Host-oidc_session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=86400"] {
        assert!(cookie.1.contains(attr), "{attr} missing: {}", cookie.1);
    }
}

#[test]
fn returning_user_gets_a_code_without_a_page() {
    let w = World::new();
    let first = redeem(&w, &sign_in(&w));
    w.advance(100);
    let r = w.authorize(&with(&base("basic"), &[("nonce", "n2")]));
    let p = redirect_params(&r, CB);
    assert_eq!(param(&p, "state"), Some("s1"));
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    let v = redeem(&w, &p);
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["auth_time"], T0, "the session's sign-in time, not now");
    assert_eq!(c["nonce"], "n2");
    assert_eq!(c["email"], "Alice@Example.com");
    assert_ne!(v["access_token"], first["access_token"]);
    // prompt=none works the same way.
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert!(param(&p, "code").is_some());
    // The session ends after SESSION_TTL_SECONDS (default one day).
    w.advance(86_400);
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
}

/// A returning user's code carries its grant, sealed (sealed_code.rs): no grant object
/// until the token endpoint redeems it, and still good for exactly one redemption.
#[test]
fn returning_users_code_is_sealed_and_works_once() {
    let w = World::new();
    redeem(&w, &sign_in(&w));
    let objects = || w.grants.objects.borrow().len();
    let code_now = || param(&redirect_params(&w.authorize(&base("basic")), CB), "code").unwrap().to_string();
    let token = |code: &str, redirect_uri: &str| {
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)];
        let (s, v, _) = w.token(&form, Some(("basic", BASIC_SECRET)));
        (s, v["error"].as_str().unwrap_or("").to_string(), v)
    };
    let before = objects();
    let code = code_now();
    let (grant_id, sealed) = code.split_once('~').expect("a sealed code");
    assert_eq!(objects(), before, "issuing the code created no grant object");
    assert!(!code.contains("alice") && !code.to_lowercase().contains("example.com"), "{code}");
    // Tampered with, or redeemed with another redirect URI or by another client: refused,
    // and the code still works afterwards (a failed redemption stores nothing).
    let flipped =
        format!("{grant_id}~{}{}", &sealed[..sealed.len() - 1], if sealed.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(token(&flipped, CB).1, "invalid_grant");
    assert_eq!(token(&format!("{grant_id}~{sealed}x"), CB).1, "invalid_grant");
    assert_eq!(token(&format!("AAAAAAAAAAAAAAAAAAAAAA~{sealed}"), CB).1, "invalid_grant");
    assert_eq!(token(&code, "https://app.example/other").1, "invalid_grant");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("client_id", "post"),
        ("client_secret", POST_SECRET),
    ];
    let (s, v, _) = w.token(&form, None);
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "{v}");
    assert_eq!(objects(), before);
    let (s, _, v) = token(&code, CB);
    assert_eq!(s, 200, "{v}");
    assert_eq!(objects(), before + 1, "the redemption created the grant object");
    let at = v["access_token"].as_str().unwrap().to_string();
    assert!(at.starts_with(&format!("{grant_id}.")));
    assert_eq!(userinfo(&w, &at).0, 200);
    // RFC 6749 §4.1.2: presented again, it is refused and what it gave is revoked.
    assert_eq!(token(&code, CB).1, "invalid_grant");
    assert_eq!(userinfo(&w, &at).0, 401);
    // A code lives CODE_TTL_SECONDS (60).
    let code = code_now();
    w.advance(61);
    assert_eq!(token(&code, CB).1, "invalid_grant");
    // Consent withdrawn before the code is redeemed: the grant can no longer be created.
    let code = code_now();
    let page = w.get("/consents");
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", &hidden(&page, "csrf"))], &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let (s, e, _) = token(&code, CB);
    assert_eq!((s, e.as_str()), (400, "invalid_grant"));
}

/// A returning user's grants live in one object per user and client (model::grant::home_of):
/// the code's grant id starts with that home, which differs per client and per user and says
/// nothing about either; grants made through a page keep an object of their own.
#[test]
fn returning_users_grants_share_a_home_per_user_and_client() {
    use crate::model::grant::{home_of, HOMED_ID_LEN};
    let w = World::new();
    let first = sign_in(&w);
    let first_id = param(&first, "code").unwrap().split('.').next().unwrap().to_string();
    assert_eq!(home_of(&first_id), None, "a grant made at the consent page has its own object: {first_id}");
    redeem(&w, &first);
    let returning = |client: &str| {
        let p = redirect_params(&w.authorize(&base(client)), CB);
        let code = param(&p, "code").expect("a code").to_string();
        (code.split_once('~').expect("a sealed code").0.to_string(), p)
    };
    let (a, pa) = returning("basic");
    let (b, _) = returning("basic");
    assert_eq!(a.len(), HOMED_ID_LEN);
    assert_ne!(a, b, "each authorization makes a grant of its own");
    assert_eq!(home_of(&a), home_of(&b), "in the same home");
    assert!(home_of(&a).is_some());
    // The grant works like any other: tokens, userinfo, and revocation reach it by its id.
    let v = redeem(&w, &pa);
    let at = v["access_token"].as_str().unwrap();
    assert!(at.starts_with(&format!("{a}.")));
    assert_eq!(userinfo(&w, at).0, 200);
    let (s, v) = w.token_like("/revoke", &[("token", at)], Some(("basic", BASIC_SECRET)));
    assert_eq!(s, 200, "{v}");
    assert_eq!(userinfo(&w, at).0, 401);
    // Another client of the same user: another home.
    let page = w.authorize(&base("post"));
    let r = w.consent(&page, "allow");
    assert!(param(&redirect_params(&r, CB), "code").is_some());
    let (c, _) = returning("post");
    assert!(home_of(&c).is_some() && home_of(&c) != home_of(&a), "{c} vs {a}");
    // Another user at the same client: another home.
    w.users.put(
        "user:bob",
        &w.users.get("user:alice").unwrap().replace("\"alice\"", "\"bob\"").replace("u-7f3a9c", "u-b0b"),
    );
    w.fresh_browser();
    let page = w.authorize(&base("basic"));
    let consent = w.login(&page, "bob", PASSWORD);
    assert!(param(&redirect_params(&w.consent(&consent, "allow"), CB), "code").is_some());
    let (d, _) = returning("basic");
    assert!(home_of(&d).is_some() && home_of(&d) != home_of(&a), "{d} vs {a}");
}

#[test]
fn prompt_none_login_required_and_consent_required() {
    let w = World::new();
    w.fresh_browser();
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
    assert_eq!(param(&p, "state"), Some("s1"));
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    sign_in(&w);
    // Signed in, but this client never allowed: consent_required, never a page.
    let p = redirect_params(&w.authorize(&with(&base("post"), &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("consent_required"));
    // More scopes than were allowed: consent_required too; without prompt=none, the consent page.
    let more = with(&base("basic"), &[("scope", "openid email profile")]);
    let p = redirect_params(&w.authorize(&with(&more, &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("consent_required"));
    let page = w.authorize(&more);
    assert_eq!(page.status, 200);
    assert!(page.body_str().contains("Allow access?"), "{}", page.body_str());
    assert!(page.body_str().contains("basic profile"));
    let p = redirect_params(&w.consent(&page, "allow"), CB);
    assert!(param(&p, "code").is_some());
    // Now remembered: fewer scopes are covered too.
    let p =
        redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none"), ("scope", "openid profile")])), CB);
    assert!(param(&p, "code").is_some());
    let r = w.authorize(&with(&base("basic"), &[("prompt", "none login")]));
    assert_eq!(param(&redirect_params(&r, CB), "error"), Some("invalid_request"));
}

#[test]
fn prompt_login_max_age_and_prompt_consent() {
    let w = World::new();
    sign_in(&w);
    w.advance(500);
    // prompt=login: the login page, and a later auth_time.
    let page = w.authorize(&with(&base("basic"), &[("prompt", "login")]));
    assert!(page.body_str().contains("name=\"password\""));
    let p = redirect_params(&w.login(&page, "alice", PASSWORD), CB);
    let c = verify_id_token(&w, redeem(&w, &p)["id_token"].as_str().unwrap());
    assert_eq!(c["auth_time"], T0 + 500);
    // The previous session of this browser was ended: one live session per browser.
    let live: usize = w.accounts.objects.borrow().values().map(|a| a.sessions.len()).sum();
    assert_eq!(live, 1);
    w.advance(100);
    // max_age: younger session → code; older → sign in again (prompt=none → login_required).
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("max_age", "300")])), CB);
    let c = verify_id_token(&w, redeem(&w, &p)["id_token"].as_str().unwrap());
    assert_eq!(c["auth_time"], T0 + 500);
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("max_age", "60"), ("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
    let page = w.authorize(&with(&base("basic"), &[("max_age", "0")]));
    assert!(page.body_str().contains("name=\"password\""));
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("max_age", "-1")])), CB);
    assert_eq!(param(&p, "error"), Some("invalid_request"));
    // prompt=consent: the consent page although the consent is remembered.
    let page = w.authorize(&with(&base("basic"), &[("prompt", "consent")]));
    assert!(page.body_str().contains("Allow access?"));
    let p = redirect_params(&w.consent(&page, "allow"), CB);
    assert!(param(&p, "code").is_some());
}

#[test]
fn id_token_hint_and_login_hint() {
    let w = World::new();
    let v = redeem(&w, &sign_in(&w));
    let ours = v["id_token"].as_str().unwrap().to_string();
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none"), ("id_token_hint", &ours)])), CB);
    assert!(param(&p, "code").is_some());
    // A hint for another user (signed by us): login_required with prompt=none, else the login page.
    let claims = json!({"iss": ISSUER, "sub": "someone-else", "aud": "basic"});
    let other =
        block_on(crate::protocol::id_token::sign(&w.crypto, crate::crypto::Alg::RS256, claims.as_object().unwrap()))
            .unwrap();
    // A hint naming the signed-in user but not signed by us is refused, not believed.
    let (h, _) = ours.rsplit_once('.').unwrap();
    let forged = format!("{h}.{}", b64url(&[7u8; 256]));
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none"), ("id_token_hint", &forged)])), CB);
    assert_eq!(param(&p, "error"), Some("invalid_request"));
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none"), ("id_token_hint", &other)])), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
    let page = w.authorize(&with(&base("basic"), &[("id_token_hint", &other), ("login_hint", "bob@example.com")]));
    assert_eq!(page.status, 200);
    assert!(page.body_str().contains("value=\"bob@example.com\""), "login_hint pre-fills the form");
    // Signing in there as someone else than the hint names: login_required, no code (§3.1.2.1).
    let p = redirect_params(&w.login(&page, "alice", PASSWORD), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
    assert!(param(&p, "code").is_none());
    // max_age=0 is prompt=login: the login page even with a fresh session.
    let page = w.authorize(&with(&base("basic"), &[("max_age", "0")]));
    assert!(page.body_str().contains("name=\"password\""));
    // Accepted without error; unknown parameters ignored.
    let extra = [
        ("display", "touch"),
        ("ui_locales", "fr-CA fr"),
        ("claims_locales", "fr"),
        ("acr_values", "urn:x"),
        ("foo", "bar"),
    ];
    let p = redirect_params(&w.authorize(&with(&base("basic"), &extra)), CB);
    assert!(param(&p, "code").is_some(), "{p:?}");
}

#[test]
fn withdrawing_consent_revokes_tokens_and_asks_again() {
    let w = World::new();
    let v = redeem(&w, &sign_in(&w));
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&w, at).0, 200);
    // The returning user's codes (no page): their grants live in the user's home at the
    // client, not on record in the account, which these requests do not grow.
    let account = || w.accounts.objects.borrow().values().next().cloned().expect("alice's account");
    let before = account();
    let returning = || redirect_params(&w.authorize(&base("basic")), CB);
    let homed_first = returning();
    let homed = redeem(&w, &homed_first);
    let homed_at = homed["access_token"].as_str().unwrap().to_string();
    let unredeemed = returning();
    assert_eq!(account(), before, "a code without a page leaves the account as it was");
    assert_eq!(userinfo(&w, &homed_at).0, 200);
    let page = w.get("/consents");
    assert_eq!(page.status, 200);
    let body = page.body_str();
    assert!(body.contains("basic app") && body.contains("Sign you in · See your email address"), "{body}");
    let csrf = hidden(&page, "csrf");
    // Without the anti-CSRF value: refused, nothing changes.
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", "nope")], &[]);
    assert_eq!(r.status, 403);
    assert_eq!(userinfo(&w, at).0, 200);
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", &csrf)], &[]);
    assert_eq!(r.status, 200);
    assert!(r.body_str().contains("Access for <strong>basic app</strong> was revoked."), "{}", r.body_str());
    assert!(r.body_str().contains("You have not allowed any application yet."));
    let (s, _) = userinfo(&w, at);
    assert_eq!(s, 401, "tokens issued under the withdrawn consent stop working at once");
    assert_eq!(userinfo(&w, &homed_at).0, 401, "those of the returning user's grants too");
    // Codes issued before the withdrawal cannot bring their grant back: neither one not yet
    // redeemed nor one presented again.
    let refused = |p: &[(String, String)]| {
        let form = [("grant_type", "authorization_code"), ("code", param(p, "code").unwrap()), ("redirect_uri", CB)];
        let (s, v, _) = w.token(&form, Some(("basic", BASIC_SECRET)));
        assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "{v}");
    };
    refused(&unredeemed);
    refused(&homed_first);
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("consent_required"));
    // Allowed again: the returning user's codes work again (issued after the withdrawal).
    let page = w.authorize(&base("basic"));
    redeem(&w, &redirect_params(&w.consent(&page, "allow"), CB));
    w.advance(10);
    let again = redeem(&w, &returning());
    assert_eq!(userinfo(&w, again["access_token"].as_str().unwrap()).0, 200);
    // Without a session the page says so.
    w.forget_session();
    assert!(w.get("/consents").body_str().contains("Not signed in"));
}

#[test]
fn claims_parameter() {
    let w = World::new();
    let mut alice: Value = serde_json::from_str(&w.users.get("user:alice").unwrap()).unwrap();
    alice["phone_number"] = json!("+1 555 0100");
    w.users.put("user:alice", &alice.to_string());
    // A client whose record does not list the phone scope cannot get phone_number by name.
    w.fresh_browser();
    let claims_phone = r#"{"id_token":{"phone_number":null}}"#;
    let page = w.authorize(&with(&base("basic"), &[("scope", "openid"), ("claims", claims_phone)]));
    let consent = w.login(&page, "alice", PASSWORD);
    assert!(!consent.body_str().contains("phone"), "{}", consent.body_str());
    let v = redeem(&w, &redirect_params(&w.consent(&consent, "allow"), CB));
    assert!(verify_id_token(&w, v["id_token"].as_str().unwrap()).get("phone_number").is_none());
    let mut c: Value = serde_json::from_str(&w.clients.get("basic").unwrap()).unwrap();
    c["scope"] = json!("openid profile email phone");
    w.clients.put("basic", &c.to_string());
    w.fresh_browser();
    let claims = r#"{"id_token":{"phone_number":{"essential":true},"birthdate":null},"userinfo":{"name":null}}"#;
    let page = w.authorize(&with(&base("basic"), &[("scope", "openid"), ("claims", claims)]));
    let consent = w.login(&page, "alice", PASSWORD);
    assert!(consent.body_str().contains("See your phone number"), "{}", consent.body_str());
    let v = redeem(&w, &redirect_params(&w.consent(&consent, "allow"), CB));
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["phone_number"], "+1 555 0100");
    assert!(c.get("birthdate").is_none(), "claims the user lacks are left out");
    assert!(c.get("name").is_none(), "the userinfo member does not go into the ID token");
    let (_, u) = userinfo(&w, v["access_token"].as_str().unwrap());
    assert_eq!(u["name"], "Alice Example");
    assert!(u.get("phone_number").is_none());
    // Remembered: the same claims again need no page.
    let p = redirect_params(
        &w.authorize(&with(&base("basic"), &[("scope", "openid"), ("claims", claims), ("prompt", "none")])),
        CB,
    );
    assert!(param(&p, "code").is_some());
    // A sub value for another user: login_required.
    let other = r#"{"id_token":{"sub":{"value":"not-alice"}}}"#;
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("claims", other), ("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("claims", "{nope")])), CB);
    assert_eq!(param(&p, "error"), Some("invalid_request"));
}

#[test]
fn custom_scopes_and_claims() {
    let w = World::new();
    w.clients.put("scope:groups", r#"{"name":"groups","description":"see the teams you belong to","claims":["groups","https://example.com/roles"]}"#);
    w.clients.put("scope:billing", r#"{"name":"billing","description":"see your plan","claims":["plan"]}"#);
    let mut c: Value = serde_json::from_str(&w.clients.get("basic").unwrap()).unwrap();
    c["scope"] = json!("openid email groups");
    w.clients.put("basic", &c.to_string());
    let mut alice: Value = serde_json::from_str(&w.users.get("user:alice").unwrap()).unwrap();
    alice["claims"] = json!({"groups": ["staff", "ops"], "https://example.com/roles": ["admin"], "plan": "gold"});
    w.users.put("user:alice", &alice.to_string());
    w.fresh_browser();
    let page = w.authorize(&with(&base("basic"), &[("scope", "openid groups undefined-scope")]));
    let consent = w.login(&page, "alice", PASSWORD);
    assert!(consent.body_str().contains("See the teams you belong to"), "{}", consent.body_str());
    let v = redeem(&w, &redirect_params(&w.consent(&consent, "allow"), CB));
    assert_eq!(v["scope"], "openid groups", "undefined scopes are ignored");
    let c = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(c["groups"], json!(["staff", "ops"]));
    assert_eq!(c["https://example.com/roles"], json!(["admin"]));
    assert!(c.get("plan").is_none());
    let (_, u) = userinfo(&w, v["access_token"].as_str().unwrap());
    assert_eq!(u["groups"], json!(["staff", "ops"]));
    // A defined scope this client's record does not list is not even looked up: it is ignored
    // like an unknown one (made-up names cost no KV read).
    let reads = w.clients.reads.get();
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("scope", "openid billing x1 x2 x3")])), CB);
    assert_eq!(param(&p, "error"), None, "{p:?}");
    assert_eq!(w.clients.reads.get(), reads + 1, "one read: the client record");
    // A user record that tries to set a registered claim is refused by name.
    alice["claims"] = json!({"sub": "admin"});
    w.users.put("user:alice", &alice.to_string());
    w.fresh_browser();
    let page = w.authorize(&base("basic"));
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("registered claim"), "{}", r.body_str());
}

fn logout_client(w: &World) {
    let mut c: Value = serde_json::from_str(&w.clients.get("basic").unwrap()).unwrap();
    c["post_logout_redirect_uris"] = json!(["https://app.example/bye"]);
    w.clients.put("basic", &c.to_string());
}

fn logout(w: &World, params: &[(&str, &str)]) -> Response {
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    w.get(&format!("/logout?{q}"))
}

#[test]
fn rp_initiated_logout_from_the_sessions_client() {
    let w = World::new();
    logout_client(&w);
    let v = redeem(&w, &sign_in(&w));
    let hint = v["id_token"].as_str().unwrap();
    let r = logout(
        &w,
        &[("id_token_hint", hint), ("post_logout_redirect_uri", "https://app.example/bye"), ("state", "x1")],
    );
    let p = redirect_params(&r, "https://app.example/bye");
    assert_eq!(p, vec![("state".to_string(), "x1".to_string())]);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.contains("oidc_session=;") && v.contains("Max-Age=0")));
    // The session is over server-side too: replaying the old cookie does not sign in.
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
}

#[test]
fn rp_initiated_logout_errors_and_confirmation() {
    let w = World::new();
    logout_client(&w);
    let v = redeem(&w, &sign_in(&w));
    let hint = v["id_token"].as_str().unwrap();
    // Unregistered redirect, unknown client, mismatched client_id, no client: pages, not redirects.
    for (params, text) in [
        (vec![("id_token_hint", hint), ("post_logout_redirect_uri", "https://evil.example/")], "not registered"),
        (vec![("client_id", "nobody")], "No application"),
        (vec![("id_token_hint", hint), ("client_id", "post")], "does not match"),
        (vec![("post_logout_redirect_uri", "https://app.example/bye")], "needs client_id"),
        (vec![("id_token_hint", "garbage")], "well-formed"),
    ] {
        let r = logout(&w, &params);
        assert_eq!(r.status, 400, "{params:?}");
        assert!(r.header("location").is_none());
        assert!(r.body_str().contains(text), "{params:?}: {}", r.body_str());
    }
    // Not clearly from the session's client (no hint): a confirmation page; the session lives on.
    let page =
        logout(&w, &[("client_id", "basic"), ("post_logout_redirect_uri", "https://app.example/bye"), ("state", "z")]);
    assert_eq!(page.status, 200);
    assert!(page.body_str().contains("Sign out?"));
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert!(param(&p, "code").is_some(), "still signed in until confirmed");
    // "Stay signed in" keeps the session; "Sign out" ends it and goes back with state.
    let tx = hidden(&page, "tx");
    let r = w.post("/logout", &[("tx", &tx), ("decision", "stay")], &[]);
    assert!(r.body_str().contains("still signed in"));
    let r = w.post("/logout", &[("tx", &tx), ("decision", "logout")], &[]);
    let p = redirect_params(&r, "https://app.example/bye");
    assert_eq!(param(&p, "state"), Some("z"));
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
    // Logout without a session: nothing to end, a page.
    let r = logout(&w, &[]);
    assert_eq!(r.status, 200);
    assert!(r.body_str().contains("signed out"));
}

#[test]
fn discovery_advertises_sessions_logout_and_claims() {
    let w = World::new();
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["end_session_endpoint"], format!("{ISSUER}/logout"));
    assert_eq!(d["claims_parameter_supported"], true);
    assert_eq!(d["prompt_values_supported"], json!(["none", "login", "consent", "select_account"]));
}

/// Withdrawal revokes first and forgets afterwards: when revoking fails, the user gets a 503,
/// the application stays listed (to try again), and the consent authorizes nothing more.
#[test]
fn a_failed_revocation_keeps_the_consent_to_try_again() {
    let w = World::new();
    let v = redeem(&w, &sign_in(&w));
    let at = v["access_token"].as_str().unwrap();
    let homed = redeem(&w, &redirect_params(&w.authorize(&base("basic")), CB));
    let homed_at = homed["access_token"].as_str().unwrap();
    let page = w.get("/consents");
    let csrf = hidden(&page, "csrf");
    w.grants.fail.set(true);
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", &csrf)], &[]);
    assert_eq!(r.status, 503);
    w.grants.fail.set(false);
    assert!(w.get("/consents").body_str().contains("basic app"), "still listed: the user can try again");
    let p = redirect_params(&w.authorize(&with(&base("basic"), &[("prompt", "none")])), CB);
    assert_eq!(param(&p, "error"), Some("consent_required"), "a consent being withdrawn authorizes nothing");
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", &csrf)], &[]);
    assert!(r.body_str().contains("was revoked"), "{}", r.body_str());
    assert_eq!(userinfo(&w, at).0, 401);
    assert_eq!(userinfo(&w, homed_at).0, 401);
    assert!(w.get("/consents").body_str().contains("You have not allowed any application yet."));
}

/// SESSION_KEY can be replaced at any time: open pages and codes in flight are lost, but
/// withdrawing a consent still reaches every grant issued before (a returning user's home is
/// named by the consent, not by a key).
#[test]
fn replacing_session_key_keeps_withdrawal_working() {
    let mut w = World::new();
    let v = redeem(&w, &sign_in(&w));
    let homed = redeem(&w, &redirect_params(&w.authorize(&base("basic")), CB));
    let in_flight = redirect_params(&w.authorize(&base("basic")), CB);
    w.session_keys = crate::crypto::SessionKeys::derive(&[43; 32]);
    // A code sealed under the old key cannot be redeemed (docs/configuration.md, "Secrets").
    let form =
        [("grant_type", "authorization_code"), ("code", param(&in_flight, "code").unwrap()), ("redirect_uri", CB)];
    assert_eq!(w.token(&form, Some(("basic", BASIC_SECRET))).0, 400);
    // The session cookie is not keyed: the user is still signed in, and withdraws.
    let page = w.get("/consents");
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", &hidden(&page, "csrf"))], &[]);
    assert!(r.body_str().contains("was revoked"), "{}", r.body_str());
    for t in [&v, &homed] {
        assert_eq!(userinfo(&w, t["access_token"].as_str().unwrap()).0, 401);
    }
}

/// A consent page left open after signing out yields nothing; nor does one posted with
/// another user's session.
#[test]
fn the_consent_form_does_not_outlive_the_session() {
    let w = World::new();
    w.fresh_browser();
    let page = w.authorize(&base("basic"));
    let consent = w.login(&page, "alice", PASSWORD);
    assert_eq!(consent.status, 200);
    let session = w.cookies.borrow().iter().find(|(n, _)| n.ends_with("oidc_session")).cloned().unwrap();
    // Signed out in another tab.
    let out = w.get("/logout");
    w.post("/logout", &[("tx", &hidden(&out, "tx")), ("decision", "logout")], &[]);
    let r = w.consent(&consent, "allow");
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert!(r.header("location").is_none());
    assert!(r.body_str().contains("You are no longer signed in"), "{}", r.body_str());
    // The old session cookie, replayed, is no better: the session ended server-side.
    w.cookies.borrow_mut().push(session);
    assert_eq!(w.consent(&consent, "allow").status, 403);
    // Deny still works without a session (it grants nothing).
    let p = redirect_params(&w.consent(&consent, "deny"), CB);
    assert_eq!(param(&p, "error"), Some("access_denied"));
}
