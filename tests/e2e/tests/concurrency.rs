//! Races and replays: one authorization code redeemed by 50 concurrent token requests, and the
//! login and consent forms submitted more than once.

use std::sync::{Arc, Barrier};
use std::thread;

use e2e::*;

const RACERS: usize = 50;

#[test]
fn fifty_concurrent_redemptions_of_one_code_yield_exactly_one_token() {
    let req = AuthzRequest::new(Kind::Basic);
    let code = obtain_code(&req);
    let redirect_uri = env().redirect_uri.clone();

    // All threads are created (and their requests built) before any request is sent; the
    // barrier releases them together.
    let barrier = Arc::new(Barrier::new(RACERS));
    let handles: Vec<_> = (0..RACERS)
        .map(|_| {
            let barrier = barrier.clone();
            let code = code.clone();
            let redirect_uri = redirect_uri.clone();
            thread::spawn(move || {
                let form = code_grant(&code, &redirect_uri, None);
                barrier.wait();
                token_request(Kind::Basic.auth(), &form)
            })
        })
        .collect();
    let pages: Vec<Page> = handles.into_iter().map(|h| h.join().expect("a racing thread panicked")).collect();

    let winners: Vec<&Page> = pages.iter().filter(|p| p.status == 200).collect();
    let summary: Vec<String> = pages.iter().map(|p| format!("{} {}", p.status, p.body.trim())).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {RACERS} concurrent redemptions of one code must succeed; got {} (statuses and bodies:\n{})",
        winners.len(),
        summary.join("\n")
    );
    let mut losers = 0;
    for page in pages.iter().filter(|p| p.status != 200) {
        assert_oauth_error(page, 400, "invalid_grant");
        losers += 1;
    }
    assert_eq!(losers, RACERS - 1);

    // RFC 6749 §4.1.2: the code was used more than once, so the token issued from it is revoked.
    let tokens = assert_token_success(winners[0]);
    let access_token = tokens["access_token"].as_str().unwrap();
    let page = userinfo(Some(access_token));
    let challenge = assert_bearer_challenge(&page, Some("invalid_token"));
    assert!(challenge.contains("invalid_token"), "{}", page.describe());
}

/// A refusal of a replayed form: a 4xx HTML page, no redirect (so no code), no consent form.
fn assert_replay_refused(page: &Page, what: &str) {
    assert!((400..500).contains(&page.status), "a replayed {what} must be refused with a 4xx:\n{}", page.describe());
    assert!(
        page.header("location").is_none(),
        "a replayed {what} must not redirect (no second code):\n{}",
        page.describe()
    );
    page.assert_html();
    assert!(
        forms(page).iter().all(|f| f.action != endpoint("/consent")),
        "a replayed {what} was answered with a consent form:\n{}",
        page.describe()
    );
}

/// Logs in as the seeded user and returns the browser and the consent page's tx.
fn consent_stage(req: &AuthzRequest) -> (Browser, String) {
    let browser = Browser::new();
    let tx = browser.open_login(&req.url());
    let page = browser.login(&tx, &env().username, &env().password);
    let consent_tx = consent_form(&page).tx();
    (browser, consent_tx)
}

#[test]
fn a_consent_form_is_single_use() {
    let req = AuthzRequest::new(Kind::Basic);
    let (browser, consent_tx) = consent_stage(&req);
    let params = redirect_params(&browser.consent(&consent_tx, "allow"));
    assert_redirect_code(&params, req.state());

    // The same form again, from the same browser (cookie and all): no second code.
    let second = browser.consent(&consent_tx, "allow");
    assert_replay_refused(&second, "consent form (allow after allow)");
}

#[test]
fn an_allowed_consent_form_cannot_be_denied_afterwards() {
    // The form was used: a replay must not send the client a second, contradicting response.
    let req = AuthzRequest::new(Kind::Basic);
    let (browser, consent_tx) = consent_stage(&req);
    let params = redirect_params(&browser.consent(&consent_tx, "allow"));
    assert_redirect_code(&params, req.state());
    let replay = browser.consent(&consent_tx, "deny");
    assert_replay_refused(&replay, "consent form (deny after allow)");
}

#[test]
fn a_denied_consent_form_cannot_be_allowed_afterwards() {
    // Once the user said no, replaying the form with "allow" must not produce a code.
    let req = AuthzRequest::new(Kind::Basic);
    let (browser, consent_tx) = consent_stage(&req);
    assert_redirect_error(&browser.consent(&consent_tx, "deny"), req.state(), "access_denied");
    let replay = browser.consent(&consent_tx, "allow");
    assert_replay_refused(&replay, "consent form (allow after deny)");
}

#[test]
fn a_login_form_is_single_use_after_a_successful_login() {
    let req = AuthzRequest::new(Kind::Basic);
    let browser = Browser::new();
    let tx = browser.open_login(&req.url());
    let page = browser.login(&tx, &env().username, &env().password);
    consent_form(&page);

    // Replaying the login form (e.g. from the history, or by someone who captured it) with the
    // right password must not open a second consent page.
    let replay = browser.login(&tx, &env().username, &env().password);
    assert_replay_refused(&replay, "login form");
}
