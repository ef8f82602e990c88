//! The account object's rules, each checked against the storage contract: what a command
//! says it changed, written over the stored account, reads back as the account it left.

use super::*;

fn session(id: &str, exp: i64) -> Session {
    Session {
        id_hash: id.into(),
        username: "alice".into(),
        auth_time: 10,
        expires_at: exp,
        clients: vec![],
        amr: vec![],
        acr: None,
    }
}
fn items(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
fn g(id: &str) -> GrantRef {
    GrantRef::new(id.into(), 10_000)
}
/// Applies `op` as the object does, checking the contract: no write, no change.
fn run<O: AccountOp>(state: &mut Option<Account>, op: O, now: i64) -> O::Reply {
    let (w, r) = try_apply(state, op, now);
    if let Some(w) = w {
        *state = Some(w);
    }
    r
}
/// What `apply` asks to write (None: nothing), leaving `state` alone. Checks the
/// contract: what it says changed, written over the stored account, reads back as the
/// account it left in memory; nothing changed, nothing to write.
fn try_apply<O: AccountOp>(state: &Option<Account>, op: O, now: i64) -> (Option<Account>, O::Reply) {
    let before = state.clone().unwrap_or_default();
    let mut stored = std::collections::BTreeMap::new();
    map::write(&mut stored, &before, &everything(&before));
    assert_eq!(map::read(&stored), before, "the account does not read back as it was written");
    let mut acct = before.clone();
    let mut changes = Changes::default();
    let reply = op.apply(&mut acct, now, &mut changes);
    if !changes.any() {
        assert_eq!(acct, before, "apply changed the account without asking for a write");
    }
    map::write(&mut stored, &acct, &changes);
    assert_eq!(map::read(&stored), acct, "what apply said changed does not store the account it made");
    (changes.any().then_some(acct), reply)
}
fn check(h: &str, it: &[&str], max_age: Option<i64>, issue: bool) -> Check {
    Check { id_hash: h.into(), client_id: "app".into(), items: items(it), max_age, issue }
}
const HOME: &str = "home-of-app-0123456789";
fn allow(it: &[&str], grant: &str) -> Allow {
    allow_in("h1", "app", it, grant)
}
fn allow_in(session: &str, client: &str, it: &[&str], grant: &str) -> Allow {
    Allow {
        id_hash: session.into(),
        client_id: client.into(),
        items: items(it),
        grant: g(grant),
        new_home: HOME.into(),
    }
}
fn active(auth_time: i64, consented: bool, issue: bool) -> CheckReply {
    CheckReply::Active {
        username: "alice".into(),
        auth_time,
        consented,
        issue: issue.then(|| HOME.to_string()),
        amr: vec![],
        acr: None,
    }
}

#[test]
fn session_consent_and_withdrawal() {
    let mut st = None;
    let start = Start {
        session: session("h1", 100),
        client_id: "app".into(),
        items: items(&["openid", "email"]),
        grant: Some(g("g0")),
        passkey: None,
    };
    assert_eq!(run(&mut st, start, 20), Started { consented: false, evicted: vec![], passkey: None });
    assert_eq!(run(&mut st, check("h1", &["openid"], None, true), 30), active(10, false, false));
    assert_eq!(run(&mut st, check("nope", &["openid"], None, false), 30), CheckReply::NoSession);
    assert_eq!(run(&mut st, allow(&["openid", "email"], "g2"), 40), AllowReply::Allowed { evicted: vec![] });
    // A code without a page: the account is not written (the client is on the session
    // already, and the grant goes to the user's home object).
    let before = st.clone();
    assert_eq!(try_apply(&before, check("h1", &["openid"], None, true), 50), (None, active(10, true, true)));
    // Older than max_age: no code (the caller signs the user in again).
    assert_eq!(run(&mut st, check("h1", &["openid"], Some(30), true), 50), active(10, true, false));
    // More scopes than were allowed: ask again; allowing adds to the consent.
    assert_eq!(run(&mut st, check("h1", &["openid", "phone"], None, true), 50), active(10, false, false));
    assert_eq!(run(&mut st, allow(&["openid", "phone"], "g5"), 55), AllowReply::Allowed { evicted: vec![] });
    // prompt=consent (issue: false): consented, but no code without the page.
    assert_eq!(run(&mut st, check("h1", &["openid", "email", "phone"], None, false), 56), active(10, true, false));
    // Expired session.
    assert_eq!(run(&mut st, check("h1", &["openid"], None, false), 100), CheckReply::NoSession);
    // A new session finds the consent; withdrawal returns the recorded live grants.
    let mut s2 = session("h2", 500);
    s2.auth_time = 200;
    let start =
        Start { session: s2, client_id: "app".into(), items: items(&["openid"]), grant: Some(g("g6")), passkey: None };
    assert_eq!(run(&mut st, start, 200), Started { consented: true, evicted: vec![], passkey: None });
    let r = run(&mut st, Withdraw { id_hash: "h2".into(), client_id: "app".into() }, 210);
    assert_eq!(r, WithdrawReply::Withdrawing { grants: items(&["g2", "g5", "g6"]), home: Some(HOME.into()) });
    // From then on it authorizes nothing, and refreshes under it fail; it is still listed.
    assert_eq!(run(&mut st, check("h2", &["openid"], None, true), 211), active(200, false, false));
    let consented = |grant: &str| Consented { client_id: "app".into(), grant_id: grant.into() };
    assert_eq!(run(&mut st, consented("g2"), 211), Standing { live: false });
    assert!(
        matches!(run(&mut st, List { id_hash: "h2".into() }, 211), ListReply::Consents { consents, .. } if consents.len() == 1)
    );
    // Forgotten only once every grant it holds is revoked.
    let forget = |revoked: &[&str]| Forget { client_id: "app".into(), home: HOME.into(), revoked: items(revoked) };
    assert_eq!(run(&mut st, forget(&["g2"]), 212), ForgetReply::Pending { grants: items(&["g5", "g6"]) });
    assert_eq!(run(&mut st, forget(&["g2", "g5", "g6"]), 213), ForgetReply::Withdrawn);
    assert_eq!(run(&mut st, forget(&["g2", "g5", "g6"]), 214), ForgetReply::Withdrawn, "repeatable");
    assert!(
        matches!(run(&mut st, List { id_hash: "h2".into() }, 214), ListReply::Consents { consents, .. } if consents.is_empty())
    );
    let r = run(&mut st, Withdraw { id_hash: "zz".into(), client_id: "app".into() }, 220);
    assert_eq!(r, WithdrawReply::NoSession);
    let r = run(&mut st, Withdraw { id_hash: "h2".into(), client_id: "app".into() }, 220);
    assert_eq!(r, WithdrawReply::Withdrawing { grants: vec![], home: None }, "nothing left to withdraw");
}

#[test]
fn consent_needs_a_live_session_and_stands_for_its_grants() {
    let mut st = None;
    let start =
        Start { session: session("h1", 100), client_id: "app".into(), items: vec![], grant: None, passkey: None };
    run(&mut st, start, 1);
    // A consent form posted after the session ended (or by another browser) is refused.
    assert_eq!(run(&mut st, allow_in("other", "app", &["openid"], "g1"), 2), AllowReply::NoSession);
    assert_eq!(run(&mut st, allow(&["openid"], "g1"), 2), AllowReply::Allowed { evicted: vec![] });
    let consented = |grant: &str| Consented { client_id: "app".into(), grant_id: grant.into() };
    assert_eq!(run(&mut st, consented("g1"), 3), Standing { live: true }, "on record");
    let homed = format!("{HOME}{}", "r".repeat(22));
    assert_eq!(run(&mut st, consented(&homed), 3), Standing { live: true }, "in its home");
    let elsewhere = format!("{}{}", "x".repeat(22), "r".repeat(22));
    assert_eq!(run(&mut st, consented(&elsewhere), 3), Standing { live: false });
    assert_eq!(run(&mut st, consented("g9"), 3), Standing { live: false });
}

#[test]
fn allowed_again_during_a_withdrawal_is_a_new_consent() {
    let mut st = None;
    let start =
        Start { session: session("h1", 1000), client_id: "app".into(), items: vec![], grant: None, passkey: None };
    run(&mut st, start, 1);
    run(&mut st, allow(&["openid"], "g1"), 2);
    run(&mut st, Withdraw { id_hash: "h1".into(), client_id: "app".into() }, 3);
    let again = Allow {
        id_hash: "h1".into(),
        client_id: "app".into(),
        items: items(&["openid"]),
        grant: g("g2"),
        new_home: "another-home-0123456789".into(),
    };
    assert_eq!(run(&mut st, again, 4), AllowReply::Allowed { evicted: items(&["g1"]) });
    // The withdrawal's end finds another consent (another home) and leaves it.
    let forget = Forget { client_id: "app".into(), home: HOME.into(), revoked: items(&["g1"]) };
    assert_eq!(run(&mut st, forget, 5), ForgetReply::Withdrawn);
    let c = &st.as_ref().unwrap().consents[0];
    assert_eq!((c.home.as_str(), c.withdrawing, c.grants.len()), ("another-home-0123456789", false, 1));
}

#[test]
fn grant_records_drop_expired_and_evict_to_revoke() {
    let mut st = None;
    run(
        &mut st,
        Start { session: session("h1", 1_000_000), client_id: "app".into(), items: vec![], grant: None, passkey: None },
        1,
    );
    let allow_at = |id: String, exp: i64| Allow {
        id_hash: "h1".into(),
        client_id: "app".into(),
        items: vec![],
        grant: GrantRef::new(id, exp),
        new_home: HOME.into(),
    };
    // A short-lived grant is forgotten once it expired; a refreshable one never is.
    run(&mut st, allow_at("short".into(), 5), 2);
    run(&mut st, allow_at("offline".into(), NEVER), 3);
    let mut evicted = vec![];
    for i in 0..MAX_GRANTS_PER_CONSENT {
        if let AllowReply::Allowed { evicted: e } = run(&mut st, allow_at(format!("g{i}"), 100), 10) {
            evicted.extend(e);
        }
    }
    // The list was full: the oldest live grant was pushed out, and reported to be revoked.
    assert_eq!(evicted, vec!["offline".to_string()]);
    let c = &st.as_ref().unwrap().consents[0];
    assert_eq!(c.grants.len(), MAX_GRANTS_PER_CONSENT);
    assert!(c.grants.iter().all(|g| g.id != "short"));
}

#[test]
fn end_session_only_when_confirmed_by_client() {
    let mut st = None;
    run(
        &mut st,
        Start { session: session("h", 100), client_id: "a".into(), items: vec![], grant: None, passkey: None },
        1,
    );
    let end = |c: Option<&str>| End { id_hash: "h".into(), client_id: c.map(str::to_string) };
    assert_eq!(run(&mut st, end(Some("a")), 2), EndReply::Unconfirmed);
    run(&mut st, allow_in("h", "a", &[], "g"), 3);
    assert_eq!(run(&mut st, end(Some("other")), 4), EndReply::Unconfirmed);
    assert_eq!(run(&mut st, end(Some("a")), 4), EndReply::Ended);
    assert_eq!(run(&mut st, end(None), 5), EndReply::NoSession);
}

#[test]
fn a_code_without_a_page_notes_the_client_on_the_session_once() {
    let mut st = None;
    let start =
        |h: &str| Start { session: session(h, 1000), client_id: "a".into(), items: vec![], grant: None, passkey: None };
    run(&mut st, start("h1"), 1);
    run(&mut st, allow_in("h1", "b", &["openid"], "g"), 2);
    // A second session, started at client a, reaches b without a page.
    run(&mut st, start("h2"), 3);
    let check_b =
        Check { id_hash: "h2".into(), client_id: "b".into(), items: items(&["openid"]), max_age: None, issue: true };
    let (write, _) = try_apply(&st, check_b.clone(), 4);
    let written = write.expect("the new client is noted");
    assert!(written.sessions.iter().any(|s| s.id_hash == "h2" && s.clients.contains(&"b".to_string())));
    st = Some(written);
    // Noted once: the next code writes nothing, and b may end that session.
    assert!(try_apply(&st, check_b, 5).0.is_none());
    let end = End { id_hash: "h2".into(), client_id: Some("b".into()) };
    assert_eq!(run(&mut st, end, 6), EndReply::Ended);
}

#[test]
fn a_consent_writes_its_consents_and_its_grant_not_the_rest() {
    let mut st = None;
    for i in 0..MAX_SESSIONS {
        let s = session(&format!("h{i}"), 1000);
        run(&mut st, Start { session: s, client_id: "app".into(), items: vec![], grant: None, passkey: None }, 1);
    }
    for i in 0..100 {
        run(&mut st, allow(&["openid"], &format!("g{i}")), 2);
    }
    // The client is on session h1 already: the sessions and the other grants stay as stored.
    let mut acct = st.clone().unwrap();
    let (changes, _) = apply(&mut acct, allow(&["openid"], "new").into(), 3);
    let (put, delete) = entries(&acct, &changes);
    let keys: Vec<&str> = put.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, [CONSENTS_KEY, "grant:new"]);
    assert!(delete.is_empty());
    assert!(put.iter().map(|(_, v)| v.len()).sum::<usize>() < 200, "{put:?}");
}

#[test]
fn sessions_are_bounded() {
    let mut st = None;
    for i in 0..(MAX_SESSIONS + 5) {
        let s = session(&format!("h{i}"), 1000);
        run(&mut st, Start { session: s, client_id: "a".into(), items: vec![], grant: None, passkey: None }, 1);
    }
    let acct = st.unwrap();
    assert_eq!(acct.sessions.len(), MAX_SESSIONS);
    assert_eq!(acct.sessions[0].id_hash, "h5");
}

/// A passkey's use (WebAuthn §7.2): each challenge answered once, the counter forward only;
/// with the session's start, a refused use starts nothing.
#[test]
fn a_passkey_answers_each_challenge_once() {
    let credential = crate::model::passkey::Credential {
        id: "cred".into(),
        public_key: serde_json::json!({}),
        name: "Laptop".into(),
        sign_count: 5,
        backup_eligible: false,
        backup_state: false,
        created_at: 1,
        last_used_at: None,
    };
    let mut st = None;
    let add = AddCredential { id_hash: None, credential, username: "alice".into() };
    assert_eq!(run(&mut st, add, 1), Added::Added);
    let used = |n: &str, count: u32| UseCredential {
        credential_id: "cred".into(),
        sign_count: count,
        backup_state: true,
        challenge: n.into(),
        challenge_exp: 400,
    };
    assert!(matches!(run(&mut st, used("n1", 6), 100), Used::Used { credential } if credential.sign_count == 6));
    assert_eq!(run(&mut st, used("n1", 7), 101), Used::Replayed, "the same challenge again");
    // At its expiry the nonce is forgotten, and the challenge refused as expired, in one step.
    assert_eq!(try_apply(&st, used("n1", 7), 400).1, Used::Expired, "a replay at the second it expires");
    assert_eq!(run(&mut st, used("n2", 6), 102), Used::CounterWentBack);
    assert_eq!(run(&mut st, UseCredential { credential_id: "other".into(), ..used("n3", 9) }, 103), Used::Unknown);
    // Kept until the challenge expires, then forgotten (it is refused as expired before).
    assert_eq!(st.as_ref().map(|a| a.factors.answered.len()), Some(1));
    let later = |n: &str, count: u32| UseCredential { challenge_exp: 1000, ..used(n, count) };
    assert!(matches!(run(&mut st, later("n4", 8), 400), Used::Used { .. }));
    assert_eq!(st.as_ref().map(|a| a.factors.answered.len()), Some(1), "n1 expired and was dropped");
    for i in 0..MAX_ANSWERED - 1 {
        assert!(matches!(run(&mut st, later(&format!("m{i}"), 10 + i as u32), 401), Used::Used { .. }));
    }
    assert_eq!(run(&mut st, later("one-too-many", 99), 401), Used::TooMany);
    // Carried by the session's start: refused, no session.
    let start =
        |p| Start { session: session("h9", 9_000), client_id: "app".into(), items: vec![], grant: None, passkey: p };
    let refused = run(&mut st, start(Some(later("m0", 200))), 402);
    assert_eq!(refused.passkey, Some(Used::Replayed));
    assert!(st.as_ref().is_some_and(|a| a.sessions.is_empty()), "a refused passkey starts no session");
    let started = run(&mut st, start(Some(UseCredential { challenge_exp: 1300, ..used("new", 300) })), 1000);
    assert!(matches!(started.passkey, Some(Used::Used { .. })), "the use is acknowledged");
    assert!(st.as_ref().is_some_and(|a| a.sessions.len() == 1 && a.factors.credentials[0].sign_count == 300));
}
