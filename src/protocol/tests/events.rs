//! Security and audit events (crate::audit, docs/events.md): what an operator sees of a day of
//! sign-ins, and that no secret is in it.

use super::*;

const REFRESH_SECRET: &str = "refresh-secret-refresh-secret-refresh-0004";

fn events(w: &World) -> Vec<Value> {
    w.events.borrow().iter().map(|l| serde_json::from_str(l).expect("an event is one JSON object")).collect()
}

/// The events named `name`, in order.
fn named(w: &World, name: &str) -> Vec<Value> {
    events(w).into_iter().filter(|e| e["event"] == name).collect()
}

#[test]
fn a_day_of_sign_ins_in_events() {
    let w = World::new();
    let mut v: Value = serde_json::from_str(&client_record("rp", "client_secret_basic", Some(REFRESH_SECRET))).unwrap();
    v["grant_types"] = json!(["authorization_code", "refresh_token"]);
    v["scope"] = json!("openid profile email offline_access");
    w.clients.put("rp", &v.to_string());
    let rp = Some(("rp", REFRESH_SECRET));

    // A wrong password, an unknown name, then the right password and consent.
    let params = [
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", CB),
        ("scope", "openid offline_access"),
        ("state", "s"),
        ("nonce", "n"),
    ];
    let page = w.authorize(&params);
    let wrong = "wrong-password-do-not-log";
    assert_eq!(w.login(&page, "alice", wrong).status, 400);
    assert_eq!(w.login(&page, "nobody", wrong).status, 400);
    let failed = named(&w, "sign_in.failed");
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["reason"], "wrong_password");
    assert_eq!(failed[0]["subject"], "u-7f3a9c");
    assert_eq!(failed[0]["client_id"], "rp");
    assert_eq!(failed[0]["outcome"], "failure");
    assert_eq!(failed[1]["reason"], "unknown_user");
    assert!(failed[1].get("subject").is_none(), "an unknown name has no subject: {}", failed[1]);
    let consent = w.login(&page, "alice", PASSWORD);
    let ok = named(&w, "sign_in.succeeded");
    assert_eq!(ok.len(), 1);
    assert_eq!((ok[0]["subject"].as_str(), ok[0]["amr"].clone()), (Some("u-7f3a9c"), json!(["pwd"])));
    let r = w.consent(&consent, "allow");
    assert_eq!(named(&w, "consent.granted").len(), 1);
    assert_eq!(named(&w, "code.issued")[0]["client_id"], "rp");
    let code = param(&redirect_params(&r, CB), "code").unwrap().to_string();

    // The code redeemed, then replayed; the refresh token rotated, then replayed.
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
    let (s, t, _) = w.token(&form, rp);
    assert_eq!(s, 200, "{t}");
    assert_eq!(named(&w, "code.redeemed")[0]["subject"], "u-7f3a9c");
    assert_eq!(w.token(&form, rp).0, 400);
    let reuse = named(&w, "code.reuse_detected");
    assert_eq!((reuse.len(), reuse[0]["reason"].as_str()), (1, Some("grant_revoked")));
    let (rt, at) = (t["refresh_token"].as_str().unwrap(), t["access_token"].as_str().unwrap());
    // (The replayed code revoked that grant: a second sign-in for the refresh tokens.)
    assert_eq!(w.token(&[("grant_type", "refresh_token"), ("refresh_token", rt)], rp).0, 400);
    let p = w.code_for("rp", &[("scope", "openid offline_access")]);
    let form = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let (_, t, _) = w.token(&form, rp);
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let (s, _, _) = w.token(&[("grant_type", "refresh_token"), ("refresh_token", &rt)], rp);
    assert_eq!(s, 200);
    assert_eq!(named(&w, "refresh.rotated").len(), 1);
    assert_eq!(w.token(&[("grant_type", "refresh_token"), ("refresh_token", &rt)], rp).0, 400);
    assert_eq!(named(&w, "refresh.reuse_detected")[0]["client_id"], "rp");

    // A wrong client secret, a revocation.
    assert_eq!(w.token(&form, Some(("rp", "not-the-secret-do-not-log"))).0, 401);
    let bad = named(&w, "client_authentication.failed");
    assert_eq!((bad[0]["client_id"].as_str(), bad[0]["reason"].as_str()), (Some("rp"), Some("bad_credentials")));
    // A revocation of a token whose grant is revoked already revokes nothing: no event.
    assert_eq!(w.token_like("/revoke", &[("token", t["access_token"].as_str().unwrap())], rp).0, 200);
    assert!(named(&w, "token.revoked").is_empty());
    let p = w.code_for("rp", &[("scope", "openid offline_access")]);
    let form = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let (_, t, _) = w.token(&form, rp);
    assert_eq!(w.token_like("/revoke", &[("token", t["access_token"].as_str().unwrap())], rp).0, 200);
    let revoked = named(&w, "token.revoked");
    assert_eq!(
        (revoked[0]["reason"].as_str(), revoked[0]["subject"].as_str()),
        (Some("client_request"), Some("u-7f3a9c"))
    );

    // Nothing secret: no password, code, token, client secret or cookie in any event.
    let all = w.events.borrow().join("\n");
    let cookies: Vec<String> = w.cookies.borrow().iter().map(|(_, v)| v.clone()).collect();
    for secret in [wrong, PASSWORD, REFRESH_SECRET, &code, &rt, at, t["access_token"].as_str().unwrap()]
        .into_iter()
        .chain(cookies.iter().map(String::as_str))
    {
        assert!(!all.contains(secret), "an event carries a secret ({secret}): {all}");
    }
    for e in events(&w) {
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    }
}

#[test]
fn lockout_logout_and_withdrawal_in_events() {
    let w = World::with_vars(&[("LOGIN_MAX_FAILURES", "2")]);
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "basic"),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("state", "s"),
        ("nonce", "n"),
    ]);
    for _ in 0..3 {
        w.advance(60);
        w.login(&page, "alice", "wrong");
    }
    let locked = named(&w, "sign_in.locked");
    assert_eq!((locked[0]["reason"].as_str(), locked[0]["subject"].as_str()), (Some("locked"), Some("u-7f3a9c")));

    w.advance(3600);
    w.code_for("basic", &[]);
    // Withdrawn on "Your applications", then signed out.
    let list = w.get("/consents");
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", &hidden(&list, "csrf"))], &[]);
    assert!(r.status < 400, "{}", r.body_str());
    let withdrawn = named(&w, "consent.withdrawn");
    assert_eq!(
        (withdrawn[0]["client_id"].as_str(), withdrawn[0]["subject"].as_str()),
        (Some("basic"), Some("u-7f3a9c"))
    );
    let confirm = w.get("/logout");
    let r = w.post("/logout", &[("tx", &hidden(&confirm, "tx")), ("decision", "logout")], &[]);
    assert!(r.status < 400, "{}", r.body_str());
    assert_eq!(named(&w, "logout")[0]["reason"], "confirmed");
}
