//! Nothing secret reaches the logs: after a complete flow and some error paths, the wrangler log
//! (which also carries the worker's console output) contains none of the password, client
//! secrets, code, tokens or page state this test handled.
//!
//! Other tests run in parallel and log too, so only this test's own values are searched for
//! (every one of them is random per run, so a match cannot be a coincidence).

use std::time::Duration;

use e2e::*;

/// (what, value) pairs; the value must not appear in the log.
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 16, "{what} is too short to search for meaningfully: {value:?}");
        self.0.push((what.to_string(), value.to_string()));
    }

    /// A `<id>.<secret>` handle (code, access token): the whole value and the secret part.
    fn add_handle(&mut self, what: &str, value: &str) {
        self.add(what, value);
        let (_, secret) = value.split_once('.').unwrap_or_else(|| panic!("{what} is not <grant id>.<secret>: {value}"));
        self.add(&format!("{what} (secret part)"), secret);
    }
}

fn log_len() -> u64 {
    let path = &abuse_env().wrangler_log;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("cannot read the wrangler log {}: {e}", path.display())).len()
}

#[test]
fn secrets_never_reach_the_log() {
    let a = abuse_env();
    let e = env();
    let before = log_len();
    let mut secrets = Secrets(Vec::new());
    secrets.add("the user's password", &a.logs_password);
    secrets.add("client secret of e2e-basic", &e.basic_secret);
    secrets.add("client secret of e2e-post", &e.post_secret);
    secrets.add("client secret of e2e-throttled", &a.throttled_client_secret);

    // A complete flow (client_secret_post: the secret travels in the form body).
    let flow = complete_flow_as(Kind::Post, true, &a.logs_username, &a.logs_password);
    secrets.add("login tx", &flow.login_tx);
    secrets.add("consent tx", &flow.consent_tx);
    secrets.add_handle("authorization code", &flow.code);
    secrets.add_handle("access token", &flow.access_token);
    secrets.add("ID token", &flow.id_token);
    let signature = flow.id_token.rsplit('.').next().unwrap();
    secrets.add("ID token signature", signature);

    // Error paths. A wrong password (one failure for logs-user: see throttle.rs for the count of
    // sign-in failures the whole suite makes from this IP).
    let wrong_password = format!("wrong-{}", random());
    secrets.add("a wrong password", &wrong_password);
    let browser = Browser::new();
    let tx = browser.open_login(&AuthzRequest::new(Kind::Post).url());
    secrets.add("tx of the failed login", &tx);
    let page = browser.login(&tx, &a.logs_username, &wrong_password);
    assert_eq!(page.status, 400, "a wrong password answers 400:\n{}", page.describe());
    let retry_tx = login_form(&page).tx();
    secrets.add("tx of the login page shown after the failure", &retry_tx);

    // Wrong client secrets, by Basic and in the body (one failure each for e2e-basic and
    // e2e-post: far below the client lock threshold).
    let wrong_secret = format!("wrong-secret-{}", random());
    secrets.add("a wrong client secret", &wrong_secret);
    let unused_code = obtain_code(&AuthzRequest::new(Kind::Basic));
    secrets.add_handle("an unredeemed authorization code", &unused_code);
    let page = token_request(
        ClientAuth::Basic(Kind::Basic.id(), &wrong_secret),
        &code_grant(&unused_code, &e.redirect_uri, None),
    );
    assert_oauth_error(&page, 401, "invalid_client");
    let page = token_request(
        ClientAuth::Post(Kind::Post.id(), &wrong_secret),
        &code_grant(&unused_code, &e.redirect_uri, None),
    );
    assert_oauth_error(&page, 401, "invalid_client");

    // Reuse of the flow's code (the provider revokes the access token), then that token at
    // userinfo.
    let page = token_request(Kind::Post.auth(), &code_grant(&flow.code, &e.redirect_uri, None));
    assert_oauth_error(&page, 400, "invalid_grant");
    assert_bearer_challenge(&userinfo(Some(&flow.access_token)), Some("invalid_token"));

    // A forged access token of the right shape.
    let forged = format!("{}.{}", &flow.access_token.split('.').next().unwrap(), random());
    secrets.add_handle("a forged access token", &forged);
    assert_bearer_challenge(&userinfo(Some(&forged)), Some("invalid_token"));

    // Let wrangler flush what the worker printed.
    std::thread::sleep(Duration::from_millis(1200));
    let path = &a.wrangler_log;
    let bytes =
        std::fs::read(path).unwrap_or_else(|err| panic!("cannot read the wrangler log {}: {err}", path.display()));
    let log = String::from_utf8_lossy(&bytes);
    assert!(
        bytes.len() as u64 > before,
        "the wrangler log {} did not grow while this test made its requests (wrangler logs one line per \
         request at --log-level log): is it the live log?",
        path.display()
    );

    let mut leaks = Vec::new();
    for (what, value) in &secrets.0 {
        if let Some(at) = log.find(value.as_str()) {
            let line_start = log[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = log[at..].find('\n').map_or(log.len(), |i| at + i);
            let line: String = log[line_start..line_end].chars().take(400).collect();
            leaks.push(format!("{what} appears in the log, in the line:\n    {line}"));
        }
    }
    assert!(leaks.is_empty(), "secrets in the wrangler log {}:\n{}", path.display(), leaks.join("\n"));
}
