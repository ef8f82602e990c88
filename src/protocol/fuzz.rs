//! Property tests ("fuzzing" within `cargo test`, bounded by case count): no input a client
//! can send makes a parser or an endpoint panic or answer 5xx (other than 503 with
//! `Retry-After`). `PROPTEST_CASES` raises the count (CI: see Makefile).

use super::interaction::Interaction;
use super::tests::World;
use super::token::client_auth;
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

mod refresh_sequences {
    use crate::objects::grant::{
        secret_hash, Create, GrantOp, GrantState, NewRefresh, Redeem, Refresh, RefreshReply, Stored, MAX_ACCESS_TOKENS,
        MAX_PREVIOUS_REFRESH,
    };
    use proptest::prelude::*;

    const GRACE: i64 = 10;

    fn refresh(presented: &str, new: &str, client: &str) -> Refresh {
        Refresh {
            token_hash: secret_hash(presented),
            client_id: client.into(),
            scope: None,
            new_hash: secret_hash(new),
            retry_box: format!("box-{new}"),
            refresh_expires_at: 0,
            access_token_hash: secret_hash(&format!("at-{new}")),
            access_expires_at: 0,
            grace_seconds: GRACE,
            resource: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any sequence of refreshes (current, previous, older, foreign client) and clock steps
        /// against a model: one current token, retries only within grace, reuse revokes for good.
        #[test]
        fn refresh_sequences_follow_the_model(ops in proptest::collection::vec((0u8..5, 0usize..64, 0i64..15), 1..60)) {
            let mut now = 1_000i64;
            let grant = crate::model::Grant {
                client_id: "app".into(), redirect_uri: "https://app.example/cb".into(),
                scope: "openid offline_access".into(), nonce: None, code_challenge: None,
                code_challenge_method: None, sub: "s".into(), local_sub: None, username: "alice".into(),
                auth_time: now, id_token_claims: Default::default(), userinfo_claims: vec![], custom_scopes: Default::default(), resource: None, access_token_ttl: None, access_token_format: Default::default(), amr: vec![], acr: None,
            };
            let st = GrantState::new(grant, secret_hash("code"), now + 60);
            let (mut s, _) = Create { state: Box::new(st) }.apply(None, now);
            let redeem = Redeem {
                code_hash: secret_hash("code"), client_id: "app".into(), redirect_uri: "https://app.example/cb".into(),
                code_verifier: None, access_token_hash: secret_hash("at-rt0"), access_expires_at: now + 50,
                refresh: Some(NewRefresh { hash: secret_hash("rt0"), expires_at: now + 100, max_expires_at: now + 1000 }),
                sealed: None,
                sealed_iat: 0,
                resource: None,
            };
            let (w, _) = redeem.apply(s.clone(), now);
            s = w;
            // The model: issued refresh tokens in order, when the last rotation happened, revoked.
            let mut issued = vec!["rt0".to_string()];
            let mut rotated_at = i64::MIN / 2;
            let mut revoked = false;
            let mut expires = now + 100;
            for (n, (op, pick, dt)) in ops.into_iter().enumerate() {
                let new = format!("rt{}", n + 1);
                let (presented, client) = match op {
                    0 => (issued.last().cloned().unwrap_or_default(), "app"),
                    1 if issued.len() >= 2 => (issued[issued.len() - 2].clone(), "app"),
                    2 => (issued[pick % issued.len()].clone(), "app"),
                    4 => (issued[pick % issued.len()].clone(), "other"),
                    _ => { now += dt; continue; }
                };
                let mut cmd = refresh(&presented, &new, client);
                cmd.refresh_expires_at = now + 100;
                cmd.access_expires_at = now + 50;
                let (w, reply) = cmd.apply(s.clone(), now);
                let pos = issued.iter().position(|t| *t == presented).unwrap_or(0);
                let age = issued.len() - 1 - pos;
                let known = age <= MAX_PREVIOUS_REFRESH;
                let live = !revoked && now < expires;
                match reply {
                    RefreshReply::Refreshed { retry_box: None, .. } => {
                        prop_assert!(live && client == "app" && age == 0);
                        issued.push(new);
                        rotated_at = now;
                        expires = now + 100;
                    }
                    RefreshReply::Refreshed { retry_box: Some(b), .. } => {
                        prop_assert!(live && client == "app" && age == 1 && now < rotated_at + GRACE);
                        prop_assert_eq!(b, format!("box-{}", issued.last().unwrap()));
                    }
                    RefreshReply::InvalidGrant { .. } => {
                        let retry = age == 1 && now < rotated_at + GRACE;
                        prop_assert!(!live || client != "app" || !known || (age >= 1 && !retry), "refused a valid refresh");
                        if live && client == "app" && known && age >= 1 {
                            revoked = true;
                        }
                    }
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
                if let Some(w) = w {
                    s = Some(w);
                }
                let Some(Stored::Grant(g)) = &s else { unreachable!() };
                prop_assert_eq!(g.revoked, revoked);
                prop_assert!(g.access_tokens.len() <= MAX_ACCESS_TOKENS);
                let r = g.refresh.as_ref().unwrap();
                prop_assert!(r.previous.len() <= MAX_PREVIOUS_REFRESH);
                prop_assert_eq!(&r.hash, &secret_hash(issued.last().unwrap()));
                if !revoked {
                    prop_assert!(g.expires_at() >= r.expires_at);
                }
            }
        }
    }
}
