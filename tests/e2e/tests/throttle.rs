//! Sign-in and client authentication throttling (brute-force resistance).
//!
//! The contract (defaults; wrangler vars):
//! * per account (the login name as typed, trimmed, lower-cased), `LOGIN_MAX_FAILURES` = 5
//!   consecutive failures lock it for `LOGIN_LOCK_SECONDS` = 900; before that, after failure
//!   n ≥ 2 the next attempt is refused until min(2^(n-2), 30) s have passed (1, 2, 4 s...);
//! * per client IP, from `LOGIN_MAX_FAILURES_IP` = 20 failures within the lock window each
//!   attempt is slowed down (never locked), unless the browser signed in to that account before
//!   (device cookie) (tested on the host, not here: every e2e test signs in from 127.0.0.1);
//! * a refused attempt: 429, `Retry-After`, the login page saying "Too many failed sign-in
//!   attempts"; the password is not checked and the attempt is not counted;
//! * unknown login names fail with the same status and message as a wrong password, in about
//!   the same time, and are counted under the client IP only (no counter per made-up name);
//! * a successful sign-in resets the account's counter;
//! * token endpoint: per (client_id, client IP), `CLIENT_MAX_FAILURES` = 10 failed client
//!   authentications lock it for `LOGIN_LOCK_SECONDS`: 429, `Retry-After`,
//!   `{"error":"invalid_client", "error_description":"...too many..."}`, even with the right
//!   secret; other clients are unaffected.
//!
//! SIGN-IN FAILURES FROM 127.0.0.1 IN THE WHOLE SUITE (must stay below LOGIN_MAX_FAILURES_IP =
//! 20, or the per-IP lock would refuse every later sign-in of every test):
//!   authorize_errors.rs  wrong_password_shows_the_login_form_again_with_400   1 (alice)
//!                        unknown_user_gets_the_same_message                   1 (nobody-e2e)
//!   logs.rs              secrets_never_reach_the_log                          1 (logs-user)
//!   throttle.rs          an_account_is_delayed_then_locked_...                6 (throttled-user,
//!                                                                              + its name upper-cased)
//!                        unknown_users_fail_..._success_resets_...          5 (ghost-* names)
//!                                                                              + 4 (throttled-user2)
//!   hostile/, concurrency.rs, flows.rs, token_errors.rs, discovery.rs,     0 (hostile/ only
//!   hardening.rs         posts forged or cookie-less `tx` values; hardening.rs's are refused as
//!                        cross-site before any check: no password is ever checked)
//!   total                                                                     18
//! Attempts refused with 429 are not counted. Keep this table up to date when adding tests.

use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use e2e::*;

/// throttled-user2 is used by two tests (delays/reset/timing, and "another account still signs
/// in"): they must not interleave.
static USER2: Mutex<()> = Mutex::new(());

fn user2_lock() -> std::sync::MutexGuard<'static, ()> {
    USER2.lock().unwrap_or_else(|p| p.into_inner())
}

/// The contract's delay after `n` consecutive failures (n ≥ 2).
fn delay_after(n: u32) -> u64 {
    assert!(n >= 2);
    (1u64 << (n - 2)).min(30)
}

/// A fresh login page (new browser, new authorization request), ready to be posted.
struct Prepared {
    browser: Browser,
    tx: String,
}

fn prepare() -> Prepared {
    let browser = Browser::new();
    let tx = browser.open_login(&AuthzRequest::new(Kind::Basic).url());
    Prepared { browser, tx }
}

impl Prepared {
    /// `POST /login`; returns the response and how long it took.
    fn post(self, username: &str, password: &str) -> (Page, Duration) {
        let start = Instant::now();
        let page = self.browser.login(&self.tx, username, password);
        (page, start.elapsed())
    }
}

/// A fresh login page, then `POST /login`; returns the response and how long the POST took.
fn attempt_timed(username: &str, password: &str) -> (Page, Duration) {
    prepare().post(username, password)
}

fn attempt(username: &str, password: &str) -> Page {
    attempt_timed(username, password).0
}

fn wrong_password() -> String {
    format!("wrong-{}", random())
}

fn assert_no_consent(page: &Page) {
    assert!(page.header("location").is_none(), "no redirect expected:\n{}", page.describe());
    assert!(
        forms(page).iter().all(|f| f.action != endpoint("/consent")),
        "a consent form was served:\n{}",
        page.describe()
    );
}

/// A counted failure: 400, the login form again, "Incorrect username or password."
fn assert_bad_credentials(page: &Page) {
    assert_eq!(page.status, 400, "expected a failed sign-in (400):\n{}", page.describe());
    page.assert_html();
    assert!(
        text_of(page).contains(BAD_CREDENTIALS_MESSAGE),
        "expected '{BAD_CREDENTIALS_MESSAGE}':\n{}",
        page.describe()
    );
    assert!(!text_of(page).contains(THROTTLED_MESSAGE), "{}", page.describe());
    assert_no_consent(page);
    login_form(page);
}

/// A refused (throttled) attempt: 429, `Retry-After` within `range`, the login page with the
/// message. Returns the Retry-After seconds.
fn assert_throttled(page: &Page, range: std::ops::RangeInclusive<u64>) -> u64 {
    assert_eq!(page.status, 429, "expected a throttled sign-in (429):\n{}", page.describe());
    page.assert_html();
    let wait = retry_after(page);
    assert!(range.contains(&wait), "Retry-After {wait} is outside {range:?}:\n{}", page.describe());
    assert!(text_of(page).contains(THROTTLED_MESSAGE), "expected '{THROTTLED_MESSAGE}':\n{}", page.describe());
    assert!(
        !text_of(page).contains(BAD_CREDENTIALS_MESSAGE),
        "a refused attempt must not look checked:\n{}",
        page.describe()
    );
    assert_no_consent(page);
    wait
}

/// Sleeps until the wall clock is between `lo_ms` and `hi_ms` milliseconds into a second.
fn at_millisecond_of_second(lo_ms: u128, hi_ms: u128) {
    loop {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 1000;
        if (lo_ms..hi_ms).contains(&ms) {
            return;
        }
        let target = if ms < lo_ms { lo_ms - ms } else { 1000 - ms + lo_ms };
        sleep(Duration::from_millis(target as u64));
    }
}

fn honour(wait: u64) {
    sleep(Duration::from_secs(wait) + Duration::from_millis(150));
}

#[test]
fn an_account_is_delayed_then_locked_after_five_failures() {
    let a = abuse_env();
    let user = a.throttled_username.as_str();

    assert_bad_credentials(&attempt(user, &wrong_password()));
    // Both login pages are loaded first, so the attempt after the second failure follows it
    // immediately. The failure is sent early in a wall-clock second: the provider counts time in
    // whole seconds, so a failure recorded at x.99 s would only block until x+1 (a known
    // imprecision of the delay, reported; not what this test is about).
    let (failing, next) = (prepare(), prepare());
    at_millisecond_of_second(0, 300);
    assert_bad_credentials(&failing.post(user, &wrong_password()).0);
    // Two failures: the next attempt within 1 s is refused, even with the right password (which
    // is not even checked).
    let wait = assert_throttled(&next.post(user, &a.throttled_password).0, 1..=delay_after(2));
    honour(wait);

    // Failures 3, 4 and 5, each after the delay the previous ones imposed; after failures 3 and
    // 4 an immediate attempt with the right password is refused again (2 s, then 4 s).
    let mut failures = 2;
    while failures < 5 {
        assert_bad_credentials(&attempt(user, &wrong_password()));
        failures += 1;
        if failures < 5 {
            let wait = assert_throttled(&attempt(user, &a.throttled_password), 1..=delay_after(failures));
            honour(wait);
        }
    }

    // Locked: the right password is refused for the lock period (900 s by default), and so is a
    // wrong one (not counted either).
    let page = attempt(user, &a.throttled_password);
    let wait = assert_throttled(&page, 31..=900);
    assert!(wait > delay_after(5), "the lock must be longer than the delays: Retry-After {wait}");
    assert_throttled(&attempt(user, &wrong_password()), 31..=900);
    // No way around the lock: the name upper-cased is not the account (usernames are exact),
    // so the right password does not sign it in either.
    assert_bad_credentials(&attempt(&format!("  {}  ", user.to_uppercase()), &a.throttled_password));

    // Another account is not affected.
    let _g = user2_lock();
    consent_form(&attempt(&a.throttled2_username, &a.throttled2_password));
}

/// The page text with the login name replaced, for comparing two failure pages.
fn normalised_text(page: &Page, login: &str) -> String {
    text_of(page).replace(login, "<login>")
}

#[test]
fn unknown_users_fail_like_real_ones_and_a_success_resets_the_counter() {
    let a = abuse_env();
    let _g = user2_lock();
    let user = a.throttled2_username.as_str();

    // Three unknown login names (one failure each) interleaved
    // with three wrong passwords for a real account, timing only the POST /login.
    let ghosts: Vec<String> = (0..3).map(|i| format!("ghost-{i}-{}", random().to_lowercase())).collect();
    let mut unknown_times = Vec::new();
    let mut wrong_times = Vec::new();
    for (i, ghost) in ghosts.iter().enumerate() {
        let (unknown, t) = attempt_timed(ghost, &wrong_password());
        assert_bad_credentials(&unknown);
        unknown_times.push(t);
        if i == 2 {
            // The account has two failures: wait out its 1 s delay (not timed).
            honour(delay_after(2));
        }
        let (wrong, t) = attempt_timed(user, &wrong_password());
        assert_bad_credentials(&wrong);
        wrong_times.push(t);
        // No user enumeration: the same status and the same page.
        assert_eq!(unknown.status, wrong.status);
        assert_eq!(
            normalised_text(&unknown, ghost),
            normalised_text(&wrong, user),
            "an unknown user must get exactly the page a wrong password gets"
        );
    }
    // Medians: one request stalled by the development server (a 0.4 s outlier among 40 ms
    // attempts was seen once) must not decide; skipping the password hash for unknown names
    // would make every one of them several times faster.
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (unknown_median, wrong_median) = (median(&unknown_times), median(&wrong_times));
    assert!(
        unknown_median <= 3.0 * wrong_median && wrong_median <= 3.0 * unknown_median,
        "an unknown user must take about as long as a wrong password (same work): unknown {unknown_times:?} \
         (median {unknown_median:.3} s) vs wrong password {wrong_times:?} (median {wrong_median:.3} s)"
    );

    // The real account has three failures: refused for 2 s even with the right password, then
    // the right password works.
    let wait = assert_throttled(&attempt(user, &a.throttled2_password), 1..=delay_after(3));
    honour(wait);
    consent_form(&attempt(user, &a.throttled2_password));

    // An unknown name has no counter of its own (only the address counts it): its second
    // failure is answered like the first, with no delay after it.
    let (failing, next) = (prepare(), prepare());
    assert_bad_credentials(&failing.post(&ghosts[0], &wrong_password()).0);
    assert_bad_credentials(&next.post(&ghosts[0], &wrong_password()).0);

    // The success reset the counter: after one more failure the right password works at once.
    // Without the reset that failure would be the 4th and the account refused for 4 s. (The
    // success leaves the account with no failures.)
    let next = prepare();
    assert_bad_credentials(&attempt(user, &wrong_password()));
    consent_form(&next.post(user, &a.throttled2_password).0);
}

#[test]
fn a_client_is_locked_after_ten_failed_authentications() {
    let a = abuse_env();
    let e = env();
    let id = a.throttled_client_id.as_str();
    let secret = a.throttled_client_secret.as_str();
    let code_for_throttled = || obtain_code(&AuthzRequest::new(Kind::Basic).set("client_id", id));

    // The client works with its secret.
    let code = code_for_throttled();
    assert_token_success(&token_request(ClientAuth::Basic(id, secret), &code_grant(&code, &e.redirect_uri, None)));

    let code = code_for_throttled();
    let form = code_grant(&code, &e.redirect_uri, None);
    for i in 1..=10 {
        let page = token_request(ClientAuth::Basic(id, &format!("wrong-secret-{i}-{}", random())), &form);
        assert_oauth_error(&page, 401, "invalid_client");
    }

    // The 11th request, with the right secret and an unredeemed code: refused.
    let page = token_request(ClientAuth::Basic(id, secret), &form);
    let json = assert_oauth_error(&page, 429, "invalid_client");
    let wait = retry_after(&page);
    assert!((60..=900).contains(&wait), "Retry-After {wait} should be the lock period (900 s):\n{}", page.describe());
    let description = json["error_description"].as_str().unwrap_or("").to_lowercase();
    assert!(description.contains("too many"), "error_description must say 'too many':\n{}", page.describe());
    // A wrong secret while locked: refused the same way.
    let page = token_request(ClientAuth::Basic(id, "still-wrong"), &form);
    assert_oauth_error(&page, 429, "invalid_client");
    retry_after(&page);

    // Other clients are not affected.
    let code = obtain_code(&AuthzRequest::new(Kind::Basic));
    assert_token_success(&token_request(Kind::Basic.auth(), &code_grant(&code, &e.redirect_uri, None)));
}
