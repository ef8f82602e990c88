//! Refresh tokens through the whole provider (RFC 6749 §6, OpenID Connect Core §11, §12).

use super::*;

const REFRESH_SECRET: &str = "refresh-secret-refresh-secret-refresh-0003";
const SCOPE: &str = "openid profile email offline_access";

/// A world with three refresh-capable clients, all registered for `offline_access`: `rp`
/// (confidential, Basic, a 10 s retry window), `rp0` (confidential, no retry window: the
/// default) and `spa` (public: never a window).
fn world() -> World {
    let w = World::new();
    for (id, method, secret, grace) in [
        ("rp", "client_secret_basic", Some(REFRESH_SECRET), 10),
        ("rp0", "client_secret_basic", Some(REFRESH_SECRET), 0),
        ("spa", "none", None, 0),
    ] {
        let mut v: Value = serde_json::from_str(&client_record(id, method, secret)).unwrap();
        v["grant_types"] = json!(["authorization_code", "refresh_token"]);
        v["scope"] = json!(SCOPE);
        if grace > 0 {
            v["refresh_grace_seconds"] = json!(grace);
        }
        w.clients.put(id, &v.to_string());
    }
    w
}

const RP: Option<(&str, &str)> = Some(("rp", REFRESH_SECRET));

/// Code flow for `rp` with offline_access: the token response.
fn tokens(w: &World) -> Value {
    let p = w.code_for("rp", &[("scope", SCOPE)]);
    let (s, v, _) = w
        .token(&[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)], RP);
    assert_eq!(s, 200, "{v}");
    assert!(v["refresh_token"].is_string(), "{v}");
    v
}

fn refresh(w: &World, token: &str, extra: &[(&str, &str)], client: Option<(&str, &str)>) -> (u16, Value) {
    let form = [&[("grant_type", "refresh_token"), ("refresh_token", token)], extra].concat();
    let (s, v, r) = w.token(&form, client);
    if s == 200 {
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    (s, v)
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).to_string()
}

fn userinfo(w: &World, at: &str) -> u16 {
    let h = vec![("authorization".into(), format!("Bearer {at}"))];
    w.call(Request { method: "GET".into(), path: "/userinfo".into(), headers: h, ..Default::default() }).status
}

fn assert_invalid_grant(r: (u16, Value), contains: &str) {
    assert_eq!((r.0, r.1["error"].as_str()), (400, Some("invalid_grant")), "{}", r.1);
    let d = r.1["error_description"].as_str().unwrap();
    assert!(d.contains(contains), "{d}");
}

#[test]
fn issued_only_with_offline_access_to_clients_allowed_the_grant() {
    let w = world();
    // The consent page says what offline_access means.
    let page = w.authorize(&[("response_type", "code"), ("client_id", "rp"), ("redirect_uri", CB), ("scope", SCOPE)]);
    let consent = w.login(&page, "alice", PASSWORD);
    assert!(consent.body_str().contains("Stay connected"), "{}", consent.body_str());
    let v = tokens(&w);
    assert_eq!(v["scope"], SCOPE);
    // Without offline_access: no refresh token.
    let p = w.code_for("rp", &[("scope", "openid profile")]);
    let (_, v, _) = w
        .token(&[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)], RP);
    assert!(v.get("refresh_token").is_none() && v["access_token"].is_string(), "{v}");
    // A client not allowed the grant: offline_access is ignored (§11), not refused.
    w.clients.put(
        "plain",
        &client_record("plain", "client_secret_basic", Some(BASIC_SECRET)).replace("openid profile email", SCOPE),
    );
    let p = w.code_for("plain", &[("scope", SCOPE)]);
    let (_, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)],
        Some(("plain", BASIC_SECRET)),
    );
    assert_eq!(v["scope"], "openid profile email");
    assert!(v.get("refresh_token").is_none(), "{v}");
    // ...and may not use the grant at all.
    let r = refresh(&w, "x".repeat(40).as_str(), &[], Some(("plain", BASIC_SECRET)));
    assert_eq!(r.1["error"], "unauthorized_client");
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    assert!(d["scopes_supported"].as_array().unwrap().contains(&json!("offline_access")));
}

#[test]
fn rotation_and_a_fresh_id_token() {
    let w = world();
    let v0 = tokens(&w);
    let first = verify_id_token(&w, &s(&v0, "id_token"));
    w.advance(120);
    let (st, v1) = refresh(&w, &s(&v0, "refresh_token"), &[], RP);
    assert_eq!(st, 200, "{v1}");
    assert_ne!(v1["refresh_token"], v0["refresh_token"]);
    assert_ne!(v1["access_token"], v0["access_token"]);
    assert_eq!(v1["token_type"], "Bearer");
    assert_eq!(v1["expires_in"], 3600);
    assert_eq!(v1["scope"], SCOPE);
    let at1 = s(&v1, "access_token");
    let c = verify_id_token(&w, &s(&v1, "id_token"));
    // OpenID Connect Core §12.2.
    for k in ["iss", "sub", "aud", "azp", "auth_time", "email"] {
        assert_eq!(c[k], first[k], "{k}");
    }
    assert_eq!(c["iat"], T0 + 120);
    assert!(first.get("nonce").is_some() && c.get("nonce").is_none(), "no nonce after refresh");
    assert_eq!(c["at_hash"], b64url(&sha256(at1.as_bytes())[..16]));
    assert_eq!(userinfo(&w, &at1), 200);
    assert_eq!(userinfo(&w, &s(&v0, "access_token")), 200, "the earlier access token lives on");
    // Then again with the new one.
    let (st, v2) = refresh(&w, &s(&v1, "refresh_token"), &[], RP);
    assert_eq!(st, 200, "{v2}");
    // Tokens and secrets stay out of the logs.
    let logs = w.logs.borrow().join("\n");
    for t in [&v0, &v1, &v2] {
        assert!(!logs.contains(&s(t, "refresh_token")) && !logs.contains(&s(t, "access_token")));
    }
}

#[test]
fn reuse_revokes_the_whole_grant() {
    let w = world();
    let v0 = tokens(&w);
    let (_, v1) = refresh(&w, &s(&v0, "refresh_token"), &[], RP);
    w.advance(60); // past the grace window
    let (_, v2) = refresh(&w, &s(&v1, "refresh_token"), &[], RP);
    assert!(v2["refresh_token"].is_string(), "{v2}");
    assert_invalid_grant(refresh(&w, &s(&v0, "refresh_token"), &[], RP), "already used");
    for v in [&v0, &v1, &v2] {
        assert_eq!(userinfo(&w, &s(v, "access_token")), 401);
    }
    assert_invalid_grant(refresh(&w, &s(&v2, "refresh_token"), &[], RP), "revoked");
}

#[test]
fn a_retry_within_grace_gets_the_same_token_and_after_grace_revokes() {
    let w = world();
    let v0 = tokens(&w);
    let rt0 = s(&v0, "refresh_token");
    let (_, v1) = refresh(&w, &rt0, &[], RP);
    w.advance(9);
    let (st, retry) = refresh(&w, &rt0, &[], RP);
    assert_eq!(st, 200, "{retry}");
    assert_eq!(retry["refresh_token"], v1["refresh_token"], "the same current token");
    assert_ne!(retry["access_token"], v1["access_token"]);
    assert_eq!(userinfo(&w, &s(&v1, "access_token")), 200, "the sibling's access token lives");
    assert_eq!(userinfo(&w, &s(&retry, "access_token")), 200);
    // The converged token rotates normally.
    w.advance(1);
    let (st, v2) = refresh(&w, &s(&retry, "refresh_token"), &[], RP);
    assert_eq!(st, 200, "{v2}");
    // rt1 just rotated out: a retry within grace is fine, rt0 (older) is reuse.
    assert_invalid_grant(refresh(&w, &rt0, &[], RP), "already used");
    assert_eq!(userinfo(&w, &s(&v2, "access_token")), 401);
}

#[test]
fn a_retry_after_grace_revokes() {
    let w = world();
    let v0 = tokens(&w);
    let (_, v1) = refresh(&w, &s(&v0, "refresh_token"), &[], RP);
    w.advance(10);
    assert_invalid_grant(refresh(&w, &s(&v0, "refresh_token"), &[], RP), "already used");
    assert_eq!(userinfo(&w, &s(&v1, "access_token")), 401);
}

#[test]
fn another_client_gets_invalid_grant_and_revokes_nothing() {
    let w = world();
    let v0 = tokens(&w);
    let rt0 = s(&v0, "refresh_token");
    let (_, v1) = refresh(&w, &rt0, &[], RP);
    for t in [&rt0, &s(&v1, "refresh_token")] {
        assert_invalid_grant(refresh(&w, t, &[("client_id", "spa")], None), "another client");
    }
    // Unauthenticated or wrongly authenticated: invalid_client, nothing used up.
    assert_eq!(refresh(&w, &rt0, &[], Some(("rp", "wrong"))).1["error"], "invalid_client");
    assert_eq!(refresh(&w, &s(&v1, "refresh_token"), &[], None).1["error"], "invalid_client");
    let (st, v2) = refresh(&w, &s(&v1, "refresh_token"), &[], RP);
    assert_eq!(st, 200, "{v2}");
    assert_eq!(userinfo(&w, &s(&v2, "access_token")), 200);
}

#[test]
fn public_clients_refresh_with_their_client_id() {
    let w = world();
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "spa"),
        ("redirect_uri", CB),
        ("scope", "openid offline_access"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let p = redirect_params(&w.consent(&w.login(&page, "alice", PASSWORD), "allow"), CB);
    let (st, v0, _) = w.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", param(&p, "code").unwrap()),
            ("redirect_uri", CB),
            ("client_id", "spa"),
            ("code_verifier", VERIFIER),
        ],
        None,
    );
    assert_eq!(st, 200, "{v0}");
    let (st, v1) = refresh(&w, &s(&v0, "refresh_token"), &[("client_id", "spa")], None);
    assert_eq!(st, 200, "{v1}");
    assert_eq!(verify_id_token(&w, &s(&v1, "id_token"))["aud"], "spa");
    assert_invalid_grant(refresh(&w, &s(&v1, "refresh_token"), &[], RP), "another client");
}

#[test]
fn expiry_is_idle_and_extended_by_rotation() {
    let w = world();
    let v0 = tokens(&w);
    w.advance(29 * 86_400);
    let (st, v1) = refresh(&w, &s(&v0, "refresh_token"), &[], RP);
    assert_eq!(st, 200, "{v1}");
    w.advance(29 * 86_400);
    let (st, v2) = refresh(&w, &s(&v1, "refresh_token"), &[], RP);
    assert_eq!(st, 200, "{v2}");
    w.advance(30 * 86_400);
    assert_invalid_grant(refresh(&w, &s(&v2, "refresh_token"), &[], RP), "expired");
}

#[test]
fn a_narrower_scope_narrows_the_new_access_token() {
    let w = world();
    let v0 = tokens(&w);
    let (st, v1) = refresh(&w, &s(&v0, "refresh_token"), &[("scope", "openid  openid profile")], RP);
    assert_eq!(st, 200, "{v1}");
    assert_eq!(v1["scope"], "openid profile");
    let c = verify_id_token(&w, &s(&v1, "id_token"));
    assert_eq!(c["name"], "Alice Example");
    assert!(c.get("email").is_none(), "{c}");
    let h = vec![("authorization".into(), format!("Bearer {}", s(&v1, "access_token")))];
    let r = w.call(Request { method: "GET".into(), path: "/userinfo".into(), headers: h, ..Default::default() });
    let u: Value = serde_json::from_slice(&r.body).unwrap();
    assert!(u.get("email").is_none() && u["name"] == "Alice Example", "{u}");
    let i = w.token_like("/introspect", &[("token", &s(&v1, "access_token"))], RP).1;
    assert_eq!(i["scope"], "openid profile");
    // The refresh token keeps the whole grant: a later refresh may ask for everything again.
    let (st, v2) = refresh(&w, &s(&v1, "refresh_token"), &[], RP);
    assert_eq!((st, v2["scope"].as_str()), (200, Some(SCOPE)));
    // More than the grant: invalid_scope, and the token is not used up.
    let (st, e) = refresh(&w, &s(&v2, "refresh_token"), &[("scope", "openid phone")], RP);
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_scope")), "{e}");
    let (st, e) = refresh(&w, &s(&v2, "refresh_token"), &[("scope", " ")], RP);
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_scope")), "{e}");
    assert_eq!(refresh(&w, &s(&v2, "refresh_token"), &[], RP).0, 200);
}

#[test]
fn a_removed_user_gets_no_more_tokens() {
    let w = world();
    let v0 = tokens(&w);
    let alice = w.users.get("user:alice").unwrap();
    w.users.records.borrow_mut().remove("user:alice");
    assert_invalid_grant(refresh(&w, &s(&v0, "refresh_token"), &[], RP), "no longer exists");
    w.users.put("user:alice", &alice);
    assert_eq!(userinfo(&w, &s(&v0, "access_token")), 401, "the grant was revoked");
    assert_invalid_grant(refresh(&w, &s(&v0, "refresh_token"), &[], RP), "revoked");
    // Re-created with another sub: another person.
    let v1 = tokens(&w);
    w.users.put("user:alice", &alice.replace("u-7f3a9c", "u-new"));
    assert_invalid_grant(refresh(&w, &s(&v1, "refresh_token"), &[], RP), "no longer exists");
    // A malformed record: refused, but nothing revoked (an operator's mistake); the client
    // retries within grace once it is fixed.
    w.users.put("user:alice", &alice);
    let v2 = tokens(&w);
    w.users.put("user:alice", "{not json");
    assert_invalid_grant(refresh(&w, &s(&v2, "refresh_token"), &[], RP), "cannot be read");
    w.users.put("user:alice", &alice);
    assert_eq!(userinfo(&w, &s(&v2, "access_token")), 200);
    assert_eq!(refresh(&w, &s(&v2, "refresh_token"), &[], RP).0, 200, "the rotation was undone: the same token works");
}

/// RFC 9700 §4.14.2, as an independent checker tests it: once rotated, the old refresh token
/// is refused (and the grant revoked), for a client without a retry window — the default.
#[test]
fn by_default_a_rotated_token_is_never_accepted_again() {
    let w = world();
    let rp0 = Some(("rp0", REFRESH_SECRET));
    let p = w.code_for("rp0", &[("scope", SCOPE)]);
    let (_, v0, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)],
        rp0,
    );
    let (st, v1) = refresh(&w, &s(&v0, "refresh_token"), &[], rp0);
    assert_eq!(st, 200, "{v1}");
    assert_invalid_grant(refresh(&w, &s(&v0, "refresh_token"), &[], rp0), "already used");
    assert_eq!(userinfo(&w, &s(&v1, "access_token")), 401, "the whole grant is revoked");
    // A public client cannot be given a window: its record is refused.
    let mut spa: Value = serde_json::from_str(&w.clients.get("spa").unwrap()).unwrap();
    spa["refresh_grace_seconds"] = json!(10);
    w.clients.put("spa", &spa.to_string());
    let (st, v, _) = w.token(&[("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", "spa")], None);
    assert_eq!(st, 401, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("refresh_grace_seconds"), "{v}");
}

/// An offline grant cannot be renewed forever: REFRESH_TOKEN_MAX_LIFETIME_SECONDS after the
/// code was redeemed, its refresh token stops working, however often it was used.
#[test]
fn offline_grants_end_at_the_absolute_lifetime() {
    let mut w = world();
    w.config = Config::from_vars(|k| match k {
        "ISSUER" => Some(ISSUER.into()),
        "REFRESH_TOKEN_TTL_SECONDS" => Some("86400".into()),
        "REFRESH_TOKEN_MAX_LIFETIME_SECONDS" => Some("172800".into()),
        _ => None,
    })
    .unwrap();
    let mut rt = s(&tokens(&w), "refresh_token");
    for _ in 0..3 {
        w.advance(43_200);
        let (st, v) = refresh(&w, &rt, &[], RP);
        assert_eq!(st, 200, "used within a day, it is renewed: {v}");
        rt = s(&v, "refresh_token");
    }
    let r = introspect(&w, &rt);
    assert_eq!(r["exp"].as_i64(), Some(T0 + 172_800), "never past the family's end: {r}");
    w.advance(43_200 + 1);
    assert_invalid_grant(refresh(&w, &rt, &[], RP), "expired");
}

/// A refresh fails once its consent is gone, even if revoking its grant had failed.
#[test]
fn a_refresh_fails_once_the_consent_is_withdrawn() {
    let w = world();
    let v = tokens(&w);
    // The consent disappears without its grants being revoked (as if revocation had failed).
    let sub = "u-7f3a9c";
    let mut acct = w.accounts.objects.borrow().get(sub).cloned().unwrap();
    acct.consents.retain(|c| c.client_id != "rp");
    w.accounts.objects.borrow_mut().insert(sub.into(), acct.clone());
    crate::objects::account::map::write(
        w.accounts.stored.borrow_mut().get_mut(sub).unwrap(),
        &acct,
        &crate::objects::account::everything(&acct),
    );
    assert_invalid_grant(refresh(&w, &s(&v, "refresh_token"), &[], RP), "withdrew the consent");
    assert_eq!(userinfo(&w, &s(&v, "access_token")), 401, "and the grant is revoked");
}

fn introspect(w: &World, token: &str) -> Value {
    w.token_like("/introspect", &[("token", token)], RP).1
}

#[test]
fn code_reuse_revokes_the_refresh_token() {
    let w = world();
    let p = w.code_for("rp", &[("scope", SCOPE)]);
    let form = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let (_, v0, _) = w.token(&form, RP);
    let (st, _, _) = w.token(&form, RP);
    assert_eq!(st, 400);
    assert_invalid_grant(refresh(&w, &s(&v0, "refresh_token"), &[], RP), "revoked");
}

#[test]
fn malformed_requests_and_store_failure() {
    let w = world();
    for empty in [vec![], vec![("refresh_token", "")]] {
        let (st, v, _) = w.token(&[&[("grant_type", "refresh_token")], empty.as_slice()].concat(), RP);
        assert_eq!((st, v["error"].as_str()), (400, Some("invalid_request")), "{v}");
    }
    let unknown = "AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
    for garbage in ["garbage", unknown] {
        assert_invalid_grant(refresh(&w, garbage, &[], RP), "invalid");
    }
    w.grants.fail.set(true);
    let (st, v) = refresh(&w, unknown, &[], RP);
    assert_eq!((st, v["error"].as_str()), (503, Some("temporarily_unavailable")));
}

#[test]
fn introspection_userinfo_and_revocation_of_refresh_tokens() {
    let w = world();
    let v0 = tokens(&w);
    let (rt, at) = (s(&v0, "refresh_token"), s(&v0, "access_token"));
    let i = w.token_like("/introspect", &[("token", &rt)], RP).1;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["exp"], T0 + 30 * 86_400);
    assert_eq!(i["scope"], SCOPE);
    assert!(i.get("token_type").is_none(), "{i}");
    // Not an access token.
    assert_eq!(userinfo(&w, &rt), 401);
    // Another client cannot see or revoke it; a public client cannot introspect at all
    // (RFC 7662 §2.1: it cannot authenticate).
    let spa = [("client_id", "spa")];
    let (status, v) = w.token_like("/introspect", &[&[("token", rt.as_str())], spa.as_slice()].concat(), None);
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")), "{v}");
    w.token_like("/revoke", &[&[("token", rt.as_str())], spa.as_slice()].concat(), None);
    assert_eq!(userinfo(&w, &at), 200);
    // The owner revokes the refresh token: the access token goes too (RFC 7009 §2.1).
    let (st, _) = w.token_like("/revoke", &[("token", &rt), ("token_type_hint", "refresh_token")], RP);
    assert_eq!(st, 200);
    assert_eq!(w.token_like("/introspect", &[("token", &rt)], RP).1, json!({"active": false}));
    assert_eq!(w.token_like("/introspect", &[("token", &at)], RP).1, json!({"active": false}));
    assert_eq!(userinfo(&w, &at), 401);
    assert_invalid_grant(refresh(&w, &rt, &[], RP), "revoked");
}

#[test]
fn withdrawing_consent_revokes_refresh_tokens_and_offline_access_needs_consent_on_record() {
    let w = world();
    let v = tokens(&w);
    let rt = s(&v, "refresh_token");
    // The returning user's no-page path grants offline_access only because it is on record.
    let p = redirect_params(
        &w.authorize(&[
            ("response_type", "code"),
            ("client_id", "rp"),
            ("redirect_uri", CB),
            ("scope", SCOPE),
            ("prompt", "none"),
        ]),
        CB,
    );
    assert!(param(&p, "code").is_some(), "{p:?}");
    let page = w.get("/consents");
    let csrf = hidden(&page, "csrf");
    let r = w.post("/consents", &[("client_id", "rp"), ("csrf", &csrf)], &[]);
    assert_eq!(r.status, 200);
    assert_invalid_grant(refresh(&w, &rt, &[], RP), "revoked");
    let p = redirect_params(
        &w.authorize(&[
            ("response_type", "code"),
            ("client_id", "rp"),
            ("redirect_uri", CB),
            ("scope", SCOPE),
            ("prompt", "none"),
        ]),
        CB,
    );
    assert_eq!(param(&p, "error"), Some("consent_required"));
}
