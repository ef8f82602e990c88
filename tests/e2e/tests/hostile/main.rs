//! A storm of hostile requests against every endpoint, from a deterministic generator, then a
//! normal flow.
//!
//! The generator is a seeded xorshift PRNG: request `i` depends only on the seed and `i`, so a
//! failure names requests that can be regenerated exactly (same seed, same index). Knobs:
//! `E2E_HOSTILE_REQUESTS` (default 3000), `E2E_HOSTILE_SEED` (default below),
//! `E2E_HOSTILE_THREADS` (default 8), `E2E_HOSTILE_SECONDS` (time budget, default 240: the loop
//! stops sending when it is spent).
//!
//! Asserted for every response: no status >= 500 (a 503 only with `Retry-After`; a 501 only for
//! a method token outside RFC 9110, which the runtime's HTTP server refuses itself); no `Location`
//! anywhere but the registered redirect URI (open redirect); no `Location` carrying a code and no
//! 200 from /token or /userinfo (nothing in the storm is a valid grant or token). A request that
//! gets no response at all is an offender too, unless it is over the provider's or the dev
//! server's size limits (the server may answer and close before reading all of it).
//!
//! The storm must not disturb the rest of the suite: it never submits a real password or a
//! valid `tx` (no sign-in failure is counted, see throttle.rs), and at the token endpoint it
//! never presents a seeded confidential client with a wrong secret (the client lock), only
//! random client ids, the public client without a secret (a successful client authentication),
//! or malformed credentials.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::*;
use reqwest::blocking::Client;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use url::Url;

const DEFAULT_REQUESTS: usize = 3000;
const DEFAULT_SEED: u64 = 0x0ED6_E01D_5EED_2024;
const DEFAULT_THREADS: usize = 8;
const DEFAULT_SECONDS: u64 = 240;
/// The provider's limits (src/http.rs).
const MAX_BODY: usize = 64 * 1024;
const MAX_VALUE: usize = 8 * 1024;
/// The methods of RFC 9110 and RFC 5789 (PATCH); any other token may get 501 from the runtime.
const STANDARD_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
/// Above this much request line + headers, the dev server itself may refuse the request.
const DEV_SERVER_HEADER_LIMIT: usize = 16 * 1024;

mod generator;
mod mutations;

use generator::*;
use mutations::*;

// ---------------------------------------------------------------------------------------------
// The storm
// ---------------------------------------------------------------------------------------------

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            let v = v.trim();
            let parsed = if let Some(hex) = v.strip_prefix("0x") {
                u64::from_str_radix(hex, 16).ok().and_then(|n| n.to_string().parse().ok())
            } else {
                v.parse().ok()
            };
            parsed.unwrap_or_else(|| panic!("{name}={v} is not a number"))
        }
        _ => default,
    }
}

/// What the storm saw.
#[derive(Default)]
struct Tally {
    sent: usize,
    by_status: BTreeMap<u16, usize>,
    by_target: BTreeMap<String, usize>,
    by_mutation: BTreeMap<String, usize>,
    transport_errors_oversized: usize,
    offenders: Vec<(usize, String)>,
}

/// Checks one outcome; returns why it is an offender, if it is.
fn judge(
    attack: &Attack,
    built: &Built,
    outcome: &Result<(u16, reqwest::header::HeaderMap, String), String>,
) -> Option<String> {
    let (status, headers, body) = match outcome {
        Ok(o) => o,
        Err(e) if built.oversized => {
            let _ = e;
            return None;
        }
        Err(e) => return Some(format!("no response: {e}")),
    };
    let status = *status;
    let header = |n: &str| headers.get(n).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let snippet: String = body.chars().take(300).collect();
    if status == 501 && !STANDARD_METHODS.contains(&attack.method.as_str()) {
        // RFC 9110 §9.1: an unrecognised method gets 501 - from the runtime's HTTP server
        // (workerd), before the worker sees the request.
        return None;
    }
    if status >= 500 && !(status == 503 && header("retry-after").is_some()) {
        return Some(format!("status {status} (5xx; a 503 needs Retry-After): {snippet}"));
    }
    if let Some(location) = header("location") {
        let base = Url::parse(&built.url).unwrap_or_else(|_| Url::parse(&env().issuer).unwrap());
        let registered = registered_redirect();
        match base.join(&location) {
            Ok(to) => {
                let same = (to.scheme(), to.host_str(), to.port_or_known_default(), to.path())
                    == (
                        registered.scheme(),
                        registered.host_str(),
                        registered.port_or_known_default(),
                        registered.path(),
                    )
                    && to.username().is_empty()
                    && to.password().is_none()
                    && to.fragment().is_none();
                if !same {
                    return Some(format!("{status} redirects to an unregistered location (open redirect): {location}"));
                }
                if to.query_pairs().any(|(k, _)| k == "code") {
                    return Some(format!("{status} redirects with a code: {location}"));
                }
            }
            Err(e) => return Some(format!("{status} with an unparseable Location ({e}): {location:?}")),
        }
    }
    if status == 200
        && matches!(attack.target, Target::Token | Target::UserinfoGet | Target::UserinfoPost)
        && attack.method != "OPTIONS"
        && attack.method != "HEAD"
    {
        return Some(format!(
            "200 from {} in the storm (nothing here is a valid grant or token): {snippet}",
            attack.target.path()
        ));
    }
    None
}

fn send(client: &Client, built: &Built) -> Result<(u16, reqwest::header::HeaderMap, String), String> {
    let mut req = client.request(built.method.clone(), &built.url);
    for (n, v) in &built.headers {
        req = req.header(n.clone(), v.clone());
    }
    if let Some(b) = &built.body {
        req = req.body(b.clone());
    }
    let resp = req.send().map_err(|e| error_chain(&e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().map_err(|e| format!("reading the body: {}", error_chain(&e)))?;
    Ok((status, headers, String::from_utf8_lossy(&bytes).into_owned()))
}

#[test]
fn hostile_storm_then_normal_flows() {
    let total: usize = env_number("E2E_HOSTILE_REQUESTS", DEFAULT_REQUESTS);
    let seed: u64 = env_number("E2E_HOSTILE_SEED", DEFAULT_SEED);
    let threads: usize = env_number("E2E_HOSTILE_THREADS", DEFAULT_THREADS).max(1);
    let budget = Duration::from_secs(env_number("E2E_HOSTILE_SECONDS", DEFAULT_SECONDS));
    assert!(total > 0, "E2E_HOSTILE_REQUESTS must be positive");

    // A real login page state to tamper with. Its cookie is never sent by the storm, so even
    // the intact value cannot reach a password check.
    let real = Browser::new().open_login(&AuthzRequest::new(Kind::Basic).url());
    REAL_TX.set(real).expect("REAL_TX is set once");

    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let next = next.clone();
            let tally = tally.clone();
            std::thread::spawn(move || {
                let client = Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("building the HTTP client");
                loop {
                    if start.elapsed() > budget {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= total {
                        break;
                    }
                    let attack = generate(seed, index, REAL_TX.get().map(String::as_str));
                    let built = attack.build();
                    let outcome = send(&client, &built);
                    let verdict = judge(&attack, &built, &outcome);
                    let mut t = tally.lock().unwrap();
                    t.sent += 1;
                    match &outcome {
                        Ok((s, _, _)) => *t.by_status.entry(*s).or_default() += 1,
                        Err(_) if built.oversized => t.transport_errors_oversized += 1,
                        Err(_) => {}
                    }
                    *t.by_target.entry(format!("{:?}", attack.target)).or_default() += 1;
                    for m in &attack.mutations {
                        *t.by_mutation.entry(format!("{m:?}")).or_default() += 1;
                    }
                    if let Some(why) = verdict {
                        t.offenders.push((index, format!("{}\n    -> {why}", attack.describe(&built))));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a storm thread panicked");
    }
    let elapsed = start.elapsed();
    let mut t = Arc::try_unwrap(tally).ok().expect("all threads joined").into_inner().unwrap();
    t.offenders.sort_by_key(|(i, _)| *i);
    eprintln!(
        "hostile storm: {} of {total} requests in {:.1} s (seed {seed:#x}, {threads} threads)\n  statuses: {:?}\n  targets: {:?}\n  mutations: {:?}\n  transport errors on oversized requests: {}",
        t.sent,
        elapsed.as_secs_f64(),
        t.by_status,
        t.by_target,
        t.by_mutation,
        t.transport_errors_oversized
    );

    if !t.offenders.is_empty() {
        let shown: Vec<&str> = t.offenders.iter().take(20).map(|(_, s)| s.as_str()).collect();
        panic!(
            "{} of {} hostile requests got a forbidden answer (seed {seed:#x}; first 20):\n\n{}",
            t.offenders.len(),
            t.sent,
            shown.join("\n\n")
        );
    }

    // Not vacuous: the storm really ran, hit every endpoint, and was mostly refused.
    if t.sent < total {
        eprintln!("hostile storm: the time budget of {} s ran out after {} requests", budget.as_secs(), t.sent);
    }
    assert!(
        t.sent >= total.min(300),
        "only {} hostile requests were sent within {} s (E2E_HOSTILE_SECONDS)",
        t.sent,
        budget.as_secs()
    );
    if t.sent >= 500 {
        for target in TARGETS {
            assert!(t.by_target.contains_key(&format!("{target:?}")), "no request went to {target:?}");
        }
        for m in MUTATIONS {
            assert!(t.by_mutation.contains_key(&format!("{m:?}")), "mutation {m:?} was never applied");
        }
    }
    let answered: usize = t.by_status.values().sum();
    let refused: usize = t.by_status.iter().filter(|(s, _)| (400..500).contains(*s)).map(|(_, n)| n).sum();
    assert!(answered * 2 >= t.sent, "fewer than half of the hostile requests were answered: {:?}", t.by_status);
    assert!(refused * 2 >= answered, "most hostile requests should be refused with a 4xx: {:?}", t.by_status);

    // The provider still works, for a confidential and for the public client.
    complete_flow(Kind::Basic, true);
    complete_flow(Kind::Public, true);
}

const TEST_TX: &str = "eyJjbGllbnRfaWQiOiJ4In0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn the_generator_is_deterministic_and_well_formed() {
    // Cheap and offline (apart from reading E2E_ISSUER): the same (seed, index) gives the same
    // request, and every request of the default storm can be built.
    for index in 0..DEFAULT_REQUESTS {
        let a = generate(DEFAULT_SEED, index, Some(TEST_TX));
        let b = generate(DEFAULT_SEED, index, Some(TEST_TX));
        let (x, y) = (a.build(), b.build());
        assert_eq!((x.method.as_str(), &x.url, &x.body), (y.method.as_str(), &y.url, &y.body), "request #{index}");
        assert_eq!(x.headers, y.headers, "request #{index}");
    }
    let distinct: std::collections::HashSet<(String, Option<Vec<u8>>)> = (0..200)
        .map(|i| {
            let b = generate(DEFAULT_SEED, i, None).build();
            (b.url, b.body)
        })
        .collect();
    assert!(distinct.len() > 150, "the generator repeats itself: {} distinct requests of 200", distinct.len());
}
