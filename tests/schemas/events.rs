//! Audit events (src/audit.rs) against schemas/event.schema.json: every kind and reason the
//! code can write, and every event the end-to-end suite's provider wrote.

use super::*;
use edge_oidc::audit::{line, Event, Kind};
use edge_oidc::http::Request;
use std::collections::BTreeSet;

fn enum_of(field: &str) -> BTreeSet<String> {
    let s = schema("event");
    s["properties"][field]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// The reason codes in the source: `.reason("…")` calls, `let reason = …` choices and the
/// `reason` functions' arms.
fn reasons_in_source() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split(".reason(\"").skip(1) {
                found.insert(part.split('"').next().unwrap().to_string());
            }
            // The platform's configuration events: the reason is the call's last argument.
            for call in ["misconfigured(", "configuration_event("] {
                for part in text.split(call).skip(1) {
                    let args = &part[..part.find(')').unwrap_or(0)];
                    if let Some(reason) = args.rsplit('"').nth(1).filter(|_| args.ends_with('"')) {
                        found.insert(reason.to_string());
                    }
                }
            }
            // `let reason = …;`: every quoted code in it.
            for part in text.split("let reason = ").skip(1) {
                let expr = &part[..part.find(';').unwrap_or(part.len())];
                found.extend(expr.split('"').skip(1).step_by(2).map(str::to_string));
            }
            // `pub fn reason(…) -> &'static str { match … { … => "code", … } }`
            for body in text.split("fn reason(").skip(1) {
                let body = &body[..body.find("\n    }").unwrap_or(body.len())];
                for arm in body.split("=> \"").skip(1) {
                    found.insert(arm.split('"').next().unwrap().to_string());
                }
            }
        }
    }
    found
}

#[test]
fn every_kind_and_reason_matches_the_schema() {
    let kinds: BTreeSet<String> =
        Kind::ALL.iter().map(|k| serde_json::to_value(k).unwrap().as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, enum_of("event"), "the schema lists exactly the kinds of src/audit.rs");
    let listed = enum_of("reason");
    assert_eq!(reasons_in_source(), listed, "the schema lists exactly the reasons the code writes");

    let req = Request {
        headers: vec![
            ("cf-connecting-ip".into(), "2001:db8:1:2::7".into()),
            ("cf-ray".into(), "8f1a2b3c4d5e6f70-CDG".into()),
            ("user-agent".into(), "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into()),
        ],
        ..Default::default()
    };
    let amr = vec!["pwd".to_string(), "otp".into(), "mfa".into()];
    for kind in Kind::ALL {
        for reason in &listed {
            let reason: &'static str = Box::leak(reason.clone().into_boxed_str());
            let e = Event::new(kind).client("app").subject("u-1").reason(reason).method("otp").amr(&amr);
            let v: Value = serde_json::from_str(&line(&e, &req, 1_796_671_573, false)).unwrap();
            assert_valid("event", &v);
        }
        let v: Value = serde_json::from_str(&line(&Event::new(kind), &Request::default(), 0, true)).unwrap();
        assert_valid("event", &v);
    }
    let good = json!({"time": "2026-12-07T19:26:13Z", "event": "logout", "outcome": "success"});
    assert_valid("event", &good);
    let mut with_token = good.clone();
    with_token["access_token"] = json!("abc.def");
    assert_invalid("event", &with_token, "a field that is not in the schema");
    let mut bad_reason = good.clone();
    bad_reason["reason"] = json!("password was hunter2");
    assert_invalid("event", &bad_reason, "free text as a reason");
}

/// Every event an end-to-end suite's provider wrote (scripts/e2e.sh, browser.sh and mcp.sh run
/// this once their suite passed, with `EVENTS_LOG` naming the wrangler log): each matches the
/// schema, and the suite's flows produced the events an operator relies on (`EVENTS_EXPECT`,
/// comma-separated, for a suite with other flows than the end-to-end suite's).
#[test]
#[ignore = "run by scripts/e2e.sh on the suite's wrangler log"]
fn the_end_to_end_suites_events() {
    let log = std::env::var("EVENTS_LOG").expect("EVENTS_LOG names the wrangler log of an end-to-end run");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{log}: {e}"));
    let mut seen = BTreeSet::new();
    let mut count = 0;
    for l in text.lines() {
        let Some(start) = l.find("{\"time\":\"") else { continue };
        let v: Value = serde_json::from_str(&l[start..]).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}"));
        assert_valid("event", &v);
        seen.insert(v["event"].as_str().unwrap().to_string());
        count += 1;
    }
    let default = [
        "sign_in.succeeded",
        "sign_in.failed",
        "sign_in.locked",
        "consent.granted",
        "consent.denied",
        "consent.withdrawn",
        "code.issued",
        "code.redeemed",
        "code.reuse_detected",
        "refresh.rotated",
        "refresh.reuse_detected",
        "token.revoked",
        "client_authentication.failed",
        "logout",
    ];
    let named = std::env::var("EVENTS_EXPECT").unwrap_or_default();
    let expected: Vec<&str> =
        if named.is_empty() { default.to_vec() } else { named.split(',').map(str::trim).collect() };
    // The end-to-end suite binds an Analytics Engine dataset (scripts/e2e.sh): no write failed.
    assert!(!text.contains("analytics engine:"), "a data point could not be written:\n{text}");
    let missing: Vec<_> = expected.iter().filter(|e| !seen.contains(**e)).collect();
    assert!(missing.is_empty(), "the suite's {count} events lack {missing:?} (seen: {seen:?})");
}
