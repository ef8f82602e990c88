//! Findings of the security review, end to end against `wrangler dev`: a chunked upload that
//! never ends is cut off at the cap, forms posted from another site are refused, and a public
//! client's rotated refresh token is never accepted again. A deployment reached at another
//! origin than its issuer answers nothing but the configuration page.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e::*;

/// Sends `POST path` with `Transfer-Encoding: chunked` and up to `total` bytes of body over a
/// raw connection, stopping when the server stops reading, then reads what it answered: the
/// status line's code and the body (`None` if it answered nothing).
fn chunked_post(path: &str, total: usize) -> Option<(u16, String)> {
    let url = url::Url::parse(&endpoint(path)).unwrap();
    let mut conn = TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        url.host_str().unwrap(),
        url.port().unwrap()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if conn.write_all(&framed).is_err() {
            break; // the server stopped reading
        }
        sent += chunk.len();
    }
    let _ = conn.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let code = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())?;
    Some((code, text))
}

/// The worker answers 413 at the first chunk past 64 KiB and stops the upload. Through
/// `wrangler dev`, whose proxy is still streaming the upload when the runtime answers, the
/// client may instead get the proxy's own 503 ("Your worker restarted mid-request"): the
/// exact 413 from the runtime itself is checked by tests/browser/runtime.test.mjs (workerd
/// through miniflare, no proxy). Either way: no 2xx, nothing read whole, and the provider
/// keeps serving.
#[test]
fn a_chunked_10_mb_post_is_cut_off_and_the_provider_keeps_serving() {
    // A small excess goes through the proxy whole: the runtime's 413 arrives.
    let (status, text) = chunked_post("/token", 256 * 1024).expect("an answer");
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("invalid_request") && text.contains("too large"), "{text}");
    for path in ["/token", "/login", "/introspect"] {
        let (status, text) = chunked_post(path, 10 * 1024 * 1024).expect("an answer");
        let proxy = status == 503 && text.contains("Your worker restarted mid-request");
        assert!(status == 413 || proxy, "{path}: {text}");
    }
    // The isolate is alive and well.
    Browser::new().get(&endpoint("/.well-known/openid-configuration")).assert_status(200);
    complete_flow(Kind::Public, true);
}

/// `GET path` over a raw connection with `Host: host`: the status and the whole answer.
fn get_with_host(path: &str, host: &str) -> (u16, String) {
    let url = url::Url::parse(&endpoint(path)).unwrap();
    let mut conn = TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let code = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|c| c.parse().ok());
    (code.unwrap_or(0), text)
}

#[test]
fn a_request_to_another_origin_than_the_issuer_gets_the_configuration_page() {
    // As a deployment that kept the development ISSUER, reached at its workers.dev name.
    for path in ["/.well-known/openid-configuration", "/jwks.json", "/authorize?client_id=x", "/token"] {
        let (status, text) = get_with_host(path, "edge-oidc.example.workers.dev");
        assert_eq!(status, 503, "{path}: {text}");
        assert!(text.contains("Provider not configured"), "{path}: {text}");
        assert!(text.contains("reached at http://edge-oidc.example.workers.dev"), "{path}: {text}");
        assert!(text.contains(&format!("ISSUER is {}", env().issuer)), "{path}: {text}");
        assert!(!text.contains("\"issuer\""), "no discovery for the wrong issuer: {text}");
    }
    // At its own (loopback) address it answers as usual.
    let host = url::Url::parse(&env().issuer).unwrap();
    let (status, _) =
        get_with_host("/.well-known/openid-configuration", &host[url::Position::BeforeHost..url::Position::AfterPort]);
    assert_eq!(status, 200);
}

#[test]
fn forms_posted_from_another_site_are_refused() {
    let browser = Browser::new();
    let tx = browser.open_login(&AuthzRequest::new(Kind::Basic).url());
    let e = env();
    let form = [("tx", tx.as_str()), ("username", e.username.as_str()), ("password", e.password.as_str())];
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")] {
        let page = Page::read(
            "POST",
            &endpoint("/login"),
            browser.http.post(endpoint("/login")).header(name, value).form(&form).send(),
        );
        page.assert_status(403).assert_html();
        assert!(page.header("location").is_none(), "{}", page.describe());
        assert!(text_of(&page).contains("sent from another website"), "{}", page.describe());
    }
    // The same form from the provider's own page goes through.
    let page = Page::read(
        "POST",
        &endpoint("/login"),
        browser
            .http
            .post(endpoint("/login"))
            .header("origin", &e.issuer)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send(),
    );
    page.assert_status(200);
}

/// As an independent conformance checker tests RFC 9700 §4.14.2: after a rotation, the old
/// refresh token is refused — for a public client always, and by default for every client.
#[test]
fn a_rotated_refresh_token_is_never_accepted_again() {
    let req = AuthzRequest::new(Kind::PublicRefresh).set("scope", "openid offline_access");
    let code = obtain_code(&req);
    let first =
        assert_token_success(&token_request(Kind::PublicRefresh.auth(), &code_grant(&code, &env().redirect_uri, None)));
    let rt0 = first["refresh_token"].as_str().expect("a refresh token").to_string();
    let refresh =
        |rt: &str| token_request(Kind::PublicRefresh.auth(), &[("grant_type", "refresh_token"), ("refresh_token", rt)]);
    let second = assert_token_success(&refresh(&rt0));
    assert_oauth_error(&refresh(&rt0), 400, "invalid_grant");
    // Reuse revoked the family: the new tokens stop working too.
    assert_oauth_error(&refresh(second["refresh_token"].as_str().unwrap()), 400, "invalid_grant");
    assert_bearer_challenge(&userinfo(Some(second["access_token"].as_str().unwrap())), Some("invalid_token"));
}
