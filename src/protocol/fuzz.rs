//! Property tests ("fuzzing" within `cargo test`, bounded by case count): no input a client
//! can send makes a parser or an endpoint panic or answer 5xx (other than 503 with
//! `Retry-After`). `PROPTEST_CASES` raises the count (CI: see Makefile).

use super::client_auth;
use super::interaction::Interaction;
use super::tests::World;
use crate::crypto::PasswordHash;
use crate::http::{Params, Request};
use crate::model::grant::split_handle;
use crate::model::{Client, User};
use proptest::prelude::*;

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        // URL-encoding-shaped noise.
        "[a-z_=&%0-9A-F+.;:/ -]{0,300}".prop_map(String::into_bytes),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/authorize".to_string()),
        Just("/login".to_string()),
        Just("/consent".to_string()),
        Just("/token".to_string()),
        Just("/userinfo".to_string()),
        Just("/jwks.json".to_string()),
        Just("/.well-known/openid-configuration".to_string()),
        "/[a-z/._-]{0,40}",
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![Just("GET"), Just("POST"), Just("HEAD"), Just("OPTIONS"), Just("PUT"), Just("DELETE")]
        .prop_map(String::from)
}

fn header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("authorization"),
        Just("content-type"),
        Just("cookie"),
        Just("cf-connecting-ip"),
        Just("x-anything")
    ];
    let value = prop_oneof![
        "Basic [A-Za-z0-9+/=:!%]{0,60}",
        "Bearer [A-Za-z0-9._~-]{0,80}",
        Just("application/x-www-form-urlencoded".to_string()),
        Just("application/json".to_string()),
        "oidc_csrf=[A-Za-z0-9_-]{0,50}",
        "[ -~]{0,80}",
    ];
    (name, value).prop_map(|(n, v)| (n.to_string(), v))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(raw in bytes(), s in "\\PC{0,200}") {
        let _ = Params::parse(&raw);
        let _ = Interaction::open(&s, b"k", 0);
        let _ = split_handle(&s);
        let _ = PasswordHash::parse(&s);
        let _ = Client::from_record("c", &s);
        let _ = User::from_record("user:u", &s);
        let _ = crate::keys::PrivateJwkSet::parse(&s);
        let req = Request { headers: vec![("authorization".into(), s.clone())], ..Default::default() };
        let _ = client_auth::presented(&req, &Params::default());
    }

    #[test]
    fn endpoints_never_fail_with_5xx(
        m in method(),
        p in path(),
        query in "[a-z_=&%0-9A-F+.:/-]{0,200}",
        headers in proptest::collection::vec(header(), 0..4),
        body in bytes(),
    ) {
        let w = World::new();
        let req = Request { method: m, path: p, query, headers, body };
        let r = w.call(req);
        prop_assert!(r.status < 500 || (r.status == 503 && r.header("retry-after").is_some()), "status {}", r.status);
        if let Some(loc) = r.header("location") {
            prop_assert!(loc.starts_with("https://app.example/cb") || loc.starts_with("http://127.0.0.1:9000/cb"), "redirect to {loc}");
        }
    }

    #[test]
    fn authorize_parameter_soup_never_redirects_elsewhere(
        client in prop_oneof![Just("basic"), Just("public"), Just("nobody"), Just("broken")],
        redirect in prop_oneof![Just("https://app.example/cb"), Just("https://evil.example/"), Just("//evil.example"), Just("javascript:alert(1)")],
        extra in proptest::collection::vec(("[a-z_]{1,20}", "[ -~]{0,40}"), 0..6),
    ) {
        let w = World::new();
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", client).append_pair("redirect_uri", redirect);
        for (k, v) in &extra {
            q.append_pair(k, v);
        }
        let r = w.get(&format!("/authorize?{}", q.finish()));
        prop_assert!(r.status < 500);
        if let Some(loc) = r.header("location") {
            prop_assert!(loc.starts_with("https://app.example/cb"), "redirect to {loc}");
        }
    }
}
