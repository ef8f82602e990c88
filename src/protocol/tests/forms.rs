//! The sign-in and consent forms: failures, throttling, forms that work once, the anti-CSRF
//! cookie.

use super::*;

#[test]
fn login_failures() {
    let w = World::new();
    let page =
        w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")]);
    let wrong = w.login(&page, "alice", "nope");
    assert_eq!(wrong.status, 400);
    assert!(wrong.body_str().contains("Incorrect username or password."));
    let unknown = w.login(&page, "mallory", "nope");
    assert_eq!(unknown.status, 400);
    assert!(unknown.body_str().contains("Incorrect username or password."));
    let empty = w.login(&page, "alice", "");
    assert_eq!(empty.status, 400);
    // The retry page still works.
    assert_eq!(w.login(&wrong, "alice", PASSWORD).status, 200);
    // Without the browser's cookie (cross-site post), refused.
    let tx = hidden(&page, "tx");
    let saved = std::mem::take(&mut *w.cookies.borrow_mut());
    let r = w.post("/login", &[("tx", &tx), ("username", "alice"), ("password", PASSWORD)], &[]);
    assert_eq!(r.status, 403);
    *w.cookies.borrow_mut() = vec![("__Host-oidc_csrf".into(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into())];
    let r = w.post("/login", &[("tx", &tx), ("username", "alice"), ("password", PASSWORD)], &[]);
    assert_eq!(r.status, 403);
    *w.cookies.borrow_mut() = saved;
    // Tampered and expired page state.
    let r = w.post("/login", &[("tx", &format!("x{tx}")), ("username", "alice"), ("password", PASSWORD)], &[]);
    assert_eq!(r.status, 400);
    w.advance(601);
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("expired"));
    // A malformed user record is a clear page naming it, not a 500.
    w.users.put("user:bob", r#"{"sub":"b","username":"bob","password_hash":"plain"}"#);
    w.fresh_browser();
    let page =
        w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")]);
    let r = w.login(&page, "bob", "whatever1");
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("user:bob"));
}

#[test]
fn consent_deny_and_stage_checks() {
    let w = World::new();
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "basic"),
        ("redirect_uri", CB),
        ("scope", "openid profile"),
        ("state", "s"),
    ]);
    let consent = w.login(&page, "alice", PASSWORD);
    let body = consent.body_str();
    assert!(body.contains("basic app") && body.contains("Sign you in") && body.contains("basic profile"));
    assert!(!body.contains("email address"));
    let p = redirect_params(&w.consent(&consent, "deny"), CB);
    assert_eq!(param(&p, "error"), Some("access_denied"));
    assert_eq!(param(&p, "state"), Some("s"));
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    // A login-stage page posted to /consent (skipping the password) is refused.
    let r = w.consent(&page, "allow");
    assert_eq!(r.status, 400);
    // Consent-stage state cannot be reused to log in again.
    assert_eq!(w.login(&consent, "alice", PASSWORD).status, 400);
    assert_eq!(w.consent(&consent, "maybe").status, 400);
}

fn login_from(w: &World, page: &Response, ip: &str, username: &str, password: &str) -> Response {
    let tx = hidden(page, "tx");
    w.post("/login", &[("tx", &tx), ("username", username), ("password", password)], &[("cf-connecting-ip", ip)])
}

fn fresh_login_page(w: &World) -> Response {
    w.fresh_browser();
    w.authorize(&[("response_type", "code"), ("client_id", "basic"), ("redirect_uri", CB), ("scope", "openid")])
}

#[test]
fn login_throttling_delays_then_locks_per_account() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let ip = "198.51.100.7";
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-1").status, 400);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-2").status, 400);
    // Growing delay: even the right password is refused, unchecked, until it passes.
    let r = login_from(&w, &page, ip, "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.body_str().contains("Too many failed sign-in attempts"));
    w.advance(1);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-3").status, 400);
    assert_eq!(login_from(&w, &page, ip, "Alice@Example.com ", "x").status, 429, "same account however typed");
    w.advance(2);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-4").status, 400);
    w.advance(4);
    assert_eq!(login_from(&w, &page, ip, "alice", "wrong-5").status, 400);
    let r = login_from(&w, &page, ip, "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("900"));
    assert!(r.body_str().contains("locked"), "{}", r.body_str());
    // Another account from the same address is unaffected; the lock ends.
    w.users.put(
        "user:bob",
        &w.users.get("user:alice").unwrap().replace("\"alice\"", "\"bob\"").replace("u-7f3a9c", "u-b0b"),
    );
    assert_eq!(login_from(&w, &page, ip, "bob", PASSWORD).status, 200);
    w.advance(900);
    let page = fresh_login_page(&w);
    assert_eq!(login_from(&w, &page, ip, "alice", PASSWORD).status, 200);
}

/// An unknown name gets the same page as a wrong password, costs the same work, and is counted
/// under the client IP only: a made-up name creates no counter object of its own (each would
/// be a Durable Object with a write and an alarm).
#[test]
fn unknown_accounts_get_the_same_page_and_are_counted_per_ip() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let (a, b) = (login_from(&w, &page, "192.0.2.1", "nobody", "x"), login_from(&w, &page, "192.0.2.1", "alice", "x"));
    assert_eq!((a.status, b.status), (400, 400));
    // (The passkey form's challenge is fresh on every page.)
    let strip = |r: &Response| {
        let body = r.body_str().replace(&hidden(r, "tx"), "").replace("nobody", "").replace("alice", "");
        let (head, rest) = body.split_once("data-options=\"").unwrap();
        format!("{head}{}", rest.split_once('"').unwrap().1)
    };
    assert_eq!(strip(&a), strip(&b), "the same page for an unknown user and a wrong password");
    for i in 0..30 {
        login_from(&w, &page, "192.0.2.1", &format!("made-up-{i}"), "x");
    }
    let counters = w.throttles.counters.borrow();
    assert!(!counters.contains_key(&crate::objects::throttle::account_key("nobody")));
    assert!(!counters.keys().any(|k| k.starts_with("login:") && *k != crate::objects::throttle::account_key("alice")));
    assert!(counters.contains_key(&crate::objects::throttle::ip_key("192.0.2.1")), "the address is counted");
}

#[test]
fn login_throttling_per_ip() {
    let w = World::new();
    let page = fresh_login_page(&w);
    for i in 0..20 {
        assert_eq!(login_from(&w, &page, "203.0.113.9", &format!("user{i}"), "x").status, 400);
    }
    let r = login_from(&w, &page, "203.0.113.9", "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert!(r.body_str().contains("from your network"), "{}", r.body_str());
    assert!(!r.body_str().contains("for this account"), "the account did nothing wrong");
    assert_eq!(login_from(&w, &page, "203.0.113.10", "alice", PASSWORD).status, 200);
}

#[test]
fn forms_work_once() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let consent = w.login(&page, "alice", PASSWORD);
    assert_eq!(consent.status, 200);
    // Replaying the login form after it succeeded is refused.
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("already used"));
    let first = w.consent(&consent, "allow");
    assert_eq!(first.status, 303);
    let again = w.consent(&consent, "allow");
    assert_eq!(again.status, 400);
    assert!(again.header("location").is_none());
    assert!(again.body_str().contains("already used"));
    assert_eq!(w.consent(&consent, "deny").status, 400, "allowed, then denied");
    // Denied, then allowed: no code after the user refused.
    let page = fresh_login_page(&w);
    let consent = w.login(&page, "alice", PASSWORD);
    let p = redirect_params(&w.consent(&consent, "deny"), CB);
    assert_eq!(param(&p, "error"), Some("access_denied"));
    let r = w.consent(&consent, "allow");
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
}

#[test]
fn throttle_store_failure_is_temporarily_unavailable() {
    let w = World::new();
    let page = fresh_login_page(&w);
    w.throttles.fail.set(true);
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    let (s, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", "a.b"), ("redirect_uri", CB)],
        Some(("basic", BASIC_SECRET)),
    );
    assert_eq!((s, v["error"].as_str()), (503, Some("temporarily_unavailable")));
}

#[test]
fn every_page_renews_the_csrf_cookie() {
    let w = World::new();
    let page = fresh_login_page(&w);
    let cookie = |r: &Response| r.header("set-cookie").map(|c| c.split(';').next().unwrap().to_string());
    let first = cookie(&page).expect("login page sets the cookie");
    let again = fresh_login_page(&w);
    assert_eq!(cookie(&again).as_deref(), Some(first.as_str()), "same value, fresh Max-Age");
    let consent = w.login(&again, "alice", PASSWORD);
    assert_eq!(cookie(&consent).as_deref(), Some(first.as_str()));
    assert!(consent.header("set-cookie").unwrap().contains("Max-Age=600"));
}

#[test]
fn concurrent_wrong_passwords_cannot_pass_the_lock() {
    // Attempts are counted before the password check: with the in-memory store the calls
    // interleave like concurrent requests would if each stopped between check and count.
    use crate::objects::throttle::{account_key, Command as T};
    use crate::store::ThrottleStore;
    let w = World::new();
    let policy = w.config.account_policy();
    let key = account_key("alice");
    let allowed =
        (0..50).filter(|_| block_on(w.throttles.send(&key, T::Attempt { policy })).unwrap().is_allowed()).count();
    assert_eq!(allowed, 5);
    let page = fresh_login_page(&w);
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 429, "the 51st concurrent attempt is refused");
}
