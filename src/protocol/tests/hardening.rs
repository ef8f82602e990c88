//! The security review's findings (issue "Security review"), each through the whole provider:
//! cross-site form posts, per-IP slow-down with device cookies, storage amplification.

use super::*;

fn base(client: &str) -> Vec<(&str, &str)> {
    vec![("response_type", "code"), ("client_id", client), ("redirect_uri", CB), ("scope", "openid email")]
}

/// Every state-changing form refuses a post from another site (Origin, or Sec-Fetch-Site
/// where the browser sends it), with a page, before it changes anything.
#[test]
fn cross_site_form_posts_are_refused() {
    let w = World::new();
    let page = w.authorize(&base("basic"));
    let tx = hidden(&page, "tx");
    let forged: [&[(&str, &str)]; 4] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site"), ("origin", ISSUER)],
    ];
    let login = |h: &[(&str, &str)]| w.post("/login", &[("tx", &tx), ("username", "alice"), ("password", PASSWORD)], h);
    for h in forged {
        let r = login(h);
        assert_eq!(r.status, 403, "{h:?}");
        assert!(r.body_str().contains("This form was sent from another website"), "{}", r.body_str());
        assert!(r.header("set-cookie").is_none(), "no session started");
    }
    // The browser's own post (same origin), and a client that sends neither header.
    let consent = login(&[("origin", ISSUER), ("sec-fetch-site", "same-origin")]);
    assert_eq!(consent.status, 200, "{}", consent.body_str());
    let ctx = hidden(&consent, "tx");
    let r = w.post("/consent", &[("tx", &ctx), ("decision", "allow")], &[("origin", "https://evil.example")]);
    assert_eq!(r.status, 403);
    assert!(r.header("location").is_none(), "no code");
    let r = w.post("/consent", &[("tx", &ctx), ("decision", "allow")], &[]);
    assert_eq!(r.status, 303);
    // "Applications you allowed" and the sign-out confirmation.
    let apps = w.get("/consents");
    let csrf = hidden(&apps, "csrf");
    let r = w.post("/consents", &[("client_id", "basic"), ("csrf", &csrf)], &[("sec-fetch-site", "cross-site")]);
    assert_eq!(r.status, 403);
    assert!(w.get("/consents").body_str().contains("basic app"), "nothing withdrawn");
    let out = w.get("/logout");
    let r = w.post(
        "/logout",
        &[("tx", &hidden(&out, "tx")), ("decision", "logout")],
        &[("origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none(), "still signed in");
    // The pages' referrer policy lets the browser send its Origin on these posts.
    assert_eq!(out.header("referrer-policy"), Some("same-origin"));
}

/// Failures from one address slow that address down (never lock it), and a browser in which
/// the account signed in before (a device cookie) is not held back by it; the account's own
/// lock applies to every browser.
#[test]
fn a_busy_address_does_not_lock_out_the_people_behind_it() {
    let w = World::new();
    let office = "203.0.113.50";
    // Alice signed in here once, from home: her browser has a device cookie.
    let page = w.authorize(&base("basic"));
    let r = login_from(&w, &page, "198.51.100.1", "alice", PASSWORD);
    assert_eq!(r.status, 200);
    let device = w.cookies.borrow().iter().find(|(n, _)| n.ends_with("oidc_device")).cloned().expect("a device cookie");
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.contains("HttpOnly") && v.contains("Max-Age=7776000")));
    // A guessing storm from the office's shared address.
    w.fresh_browser();
    w.cookies.borrow_mut().retain(|(n, _)| !n.ends_with("oidc_device"));
    let page = w.authorize(&base("basic"));
    for i in 0..20 {
        assert_eq!(login_from(&w, &page, office, &format!("guess{i}"), "x").status, 400);
    }
    // Someone else in the office, in a browser that never signed in here: slowed down, with a
    // message about the network, not locked.
    let r = login_from(&w, &page, office, "alice", PASSWORD);
    assert_eq!(r.status, 429, "{}", r.body_str());
    assert!(r.body_str().contains("from your network"));
    w.advance(1);
    assert_eq!(login_from(&w, &page, office, "alice", PASSWORD).status, 200, "after the delay it works");
    // Alice's own browser, with its device cookie, is not held back at all.
    w.fresh_browser();
    w.cookies.borrow_mut().push(device.clone());
    for i in 0..5 {
        login_from(&w, &page, office, &format!("more{i}"), "x");
    }
    let page = w.authorize(&base("basic"));
    assert_eq!(login_from(&w, &page, office, "alice", PASSWORD).status, 200);
    // A guessing storm against the account from elsewhere locks the account ...
    w.fresh_browser();
    w.cookies.borrow_mut().retain(|(n, _)| !n.ends_with("oidc_device"));
    let page = w.authorize(&base("basic"));
    for i in 0..5 {
        login_from(&w, &page, "192.0.2.77", "alice", &format!("wrong-{i}"));
        w.advance(30);
    }
    let r = login_from(&w, &page, "192.0.2.78", "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert!(r.body_str().contains("for this account"), "{}", r.body_str());
    // ... but not for Alice's own browser: a device is counted on its own (OWASP device
    // cookies), so nobody can lock her out of the browsers she uses.
    w.fresh_browser();
    w.cookies.borrow_mut().push(device.clone());
    let page = w.authorize(&base("basic"));
    assert_eq!(login_from(&w, &page, office, "alice", PASSWORD).status, 200);
    // A stolen device cookie gets no more guesses than anyone: the device locks on its own.
    w.fresh_browser();
    w.cookies.borrow_mut().push(device);
    let page = w.authorize(&base("basic"));
    for i in 0..5 {
        login_from(&w, &page, office, "alice", &format!("bad-{i}"));
        w.advance(30);
    }
    let r = login_from(&w, &page, office, "alice", PASSWORD);
    assert_eq!(r.status, 429, "{}", r.body_str());
}

fn login_from(w: &World, page: &Response, ip: &str, username: &str, password: &str) -> Response {
    let tx = hidden(page, "tx");
    w.post("/login", &[("tx", &tx), ("username", username), ("password", password)], &[("cf-connecting-ip", ip)])
}

/// Made-up client ids at the token endpoint are counted under the address only (no object per
/// id), and an address past the limit waits.
#[test]
fn made_up_client_ids_are_counted_per_address() {
    let w = World::new();
    let ip = "198.51.100.99";
    let mut statuses = vec![];
    for i in 0..12 {
        let r = w.post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", &format!("nope-{i}")),
                ("client_secret", "s"),
            ],
            &[("cf-connecting-ip", ip)],
        );
        statuses.push(r.status);
    }
    // The 10th (CLIENT_MAX_FAILURES) made-up id locks the address's count of them.
    assert_eq!(statuses[..9], [401; 9]);
    assert_eq!(statuses[9..], [429, 429, 429]);
    let counters = w.throttles.counters.borrow();
    assert_eq!(counters.len(), 1, "one counter, the address's: {:?}", counters.keys().collect::<Vec<_>>());
    assert!(counters.contains_key(&crate::objects::throttle::unknown_clients_key(ip)));
}
