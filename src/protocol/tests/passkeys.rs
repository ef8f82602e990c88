//! Passkeys: registered on the account page, then signing in on their own (no username, no
//! password), for each algorithm; and every ceremony that must be refused, refused with the
//! page's message and nothing stored.

use super::authenticator::{options, Authenticator};
use super::*;
use crate::crypto::Alg;
use crate::objects::account::{FactorsOf, FactorsReply};
use crate::store::AccountStore;

pub(super) const ALICE: &str = "u-7f3a9c";

pub(super) fn request(client: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", CB),
        ("scope", "openid profile"),
        ("state", "s"),
        ("nonce", "n"),
    ]
}

pub(super) fn factors(w: &World) -> FactorsReply {
    block_on(w.accounts.send(ALICE, FactorsOf {})).unwrap()
}

/// Alice signs in with her password (a session in the browser).
pub(super) fn password_session(w: &World) {
    w.forget_session();
    let page = w.authorize(&request("basic"));
    let r = w.login(&page, "alice", PASSWORD);
    // The consent page, or the code for a consent on record.
    assert!(r.status == 200 || r.status == 303, "{}", r.body_str());
}

/// Alice, signed in, adds the passkey of `auth` on her account page.
pub(super) fn add_passkey(w: &World, auth: &mut Authenticator) {
    password_session(w);
    let page = w.get("/account");
    assert_eq!(page.status, 200, "{}", page.body_str());
    let csrf = hidden(&page, "csrf");
    let r = w.post("/account", &[("csrf", &csrf), ("registration", &auth.register(&options(&page, "create")))], &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/account?done=added")), "{}", r.body_str());
}

/// A passkey sign-in from the sign-in page of a new authorization request for `client`:
/// the page, and the answer to the form.
pub(super) fn passkey_sign_in(w: &World, auth: &mut Authenticator, client: &str) -> (Response, Response) {
    w.forget_session();
    let page = w.authorize(&request(client));
    assert_eq!(page.status, 200, "{}", page.body_str());
    let tx = hidden(&page, "tx");
    let r = w.post("/login", &[("tx", &tx), ("credential", &auth.assert(&options(&page, "get")))], &[]);
    (page, r)
}

/// The ID token of the code a consent page leads to.
pub(super) fn id_token_after(w: &World, consent_page: &Response) -> Value {
    let r = if consent_page.status == 303 { consent_page.clone() } else { w.consent(consent_page, "allow") };
    let p = redirect_params(&r, CB);
    let form = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let (s, v, _) = w.token(&form, Some(("basic", BASIC_SECRET)));
    assert_eq!(s, 200, "{v}");
    verify_id_token(w, v["id_token"].as_str().unwrap())
}

fn has_session(w: &World) -> bool {
    w.cookies.borrow().iter().any(|(n, _)| n.ends_with("oidc_session"))
}

#[test]
fn a_passkey_of_each_algorithm_registers_and_then_signs_in_on_its_own() {
    for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
        let w = World::new();
        let mut auth = Authenticator::new(alg);
        add_passkey(&w, &mut auth);
        let f = factors(&w);
        assert_eq!(f.credentials.len(), 1, "{alg}");
        assert_eq!(f.credentials[0].id, auth.credential_id());
        // The sign-in page offers it (no username: a discoverable credential), with the user
        // verified, for this provider's RP ID.
        let (page, r) = passkey_sign_in(&w, &mut auth, "basic");
        let opts = options(&page, "get");
        assert_eq!(
            (opts["rpId"].as_str(), opts["userVerification"].as_str()),
            (Some("id.example.com"), Some("required"))
        );
        assert_eq!(opts["allowCredentials"], json!([]));
        assert_eq!(r.status, 200, "{alg}: {}", r.body_str());
        assert!(r.body_str().contains("Allow access?"), "{alg}: the consent page");
        let claims = id_token_after(&w, &r);
        assert_eq!(claims["sub"], ALICE);
        // RFC 8176: a hardware-bound key, two factors (possession, and the verified user).
        assert_eq!((claims["amr"].clone(), claims["acr"].clone()), (json!(["hwk", "mfa"]), json!("phr")), "{alg}");
        // The counter moved on, and the use is shown on the account page.
        assert_eq!(factors(&w).credentials[0].sign_count, auth.counter);
        assert!(factors(&w).credentials[0].last_used_at.is_some());
    }
}

#[test]
fn a_synced_passkey_is_reported_as_a_software_key() {
    let w = World::new();
    let mut auth = Authenticator::new(Alg::ES256).synced();
    add_passkey(&w, &mut auth);
    let (_, r) = passkey_sign_in(&w, &mut auth, "basic");
    let claims = id_token_after(&w, &r);
    assert_eq!(claims["amr"], json!(["swk", "mfa"]));
    assert!(factors(&w).credentials[0].backup_state);
    password_session(&w);
    assert!(w.get("/account").body_str().contains("synced across your devices"));
}

#[test]
fn refused_ceremonies_say_so_and_store_nothing() {
    type Spoil = fn(&mut Authenticator, &World);
    let cases: [(&str, Spoil); 6] = [
        ("another origin", |a, _| a.origin = "https://evil.example".into()),
        ("another RP ID", |a, _| a.rp_id = Some("evil.example".into())),
        ("no user verification", |a, _| a.flags = crate::model::passkey::UP),
        ("an unknown credential", |a, _| a.id = b"never-registered".to_vec()),
        ("an expired challenge", |_, w| w.advance(crate::protocol::passkeys::CHALLENGE_SECONDS + 1)),
        ("a counter that went back", |a, _| a.counter = 0),
    ];
    for (what, spoil) in cases {
        let w = World::new();
        let mut auth = Authenticator::new(Alg::ES256);
        add_passkey(&w, &mut auth);
        auth.counter = 5;
        let (_, ok) = passkey_sign_in(&w, &mut auth, "basic");
        assert_eq!(ok.status, 200, "{}", ok.body_str());
        let before = factors(&w);
        w.forget_session();
        let page = w.authorize(&request("basic"));
        let tx = hidden(&page, "tx");
        spoil(&mut auth, &w);
        let r = w.post("/login", &[("tx", &tx), ("credential", &auth.assert(&options(&page, "get")))], &[]);
        assert_eq!(r.status, 400, "{what}: {}", r.body_str());
        let expected =
            if what.contains("counter") { "it may have been copied" } else { "That passkey did not sign you in" };
        assert!(r.body_str().contains(expected), "{what}: {}", r.body_str());
        assert!(r.body_str().contains("id=\"password\""), "{what}: the password stays an option");
        assert!(!has_session(&w), "{what}: no session");
        assert_eq!(factors(&w), before, "{what}: nothing stored");
        assert!(
            w.logs.borrow().iter().any(|l| l.contains("passkey refused") || l.contains("counter went back")),
            "{what}: logged"
        );
    }
}

#[test]
fn a_bad_signature_and_a_replayed_assertion_are_refused() {
    let w = World::new();
    let mut auth = Authenticator::new(Alg::ES256);
    add_passkey(&w, &mut auth);
    w.forget_session();
    let page = w.authorize(&request("basic"));
    let tx = hidden(&page, "tx");
    let good = auth.assert(&options(&page, "get"));
    // One byte of the signature changed.
    let mut v: Value = serde_json::from_str(&good).unwrap();
    let mut sig = crate::crypto::b64url_decode(v["response"]["signature"].as_str().unwrap()).unwrap();
    let last = sig.len() - 3;
    sig[last] ^= 1;
    v["response"]["signature"] = json!(b64url(&sig));
    let refused = w.post("/login", &[("tx", &tx), ("credential", &v.to_string())], &[]);
    assert_eq!(refused.status, 400);
    assert!(w.logs.borrow().iter().any(|l| l.contains("signature")), "{:?}", w.logs.borrow());
    assert!(!has_session(&w));
    // A forged answer spends nothing: the good assertion for the same challenge signs in.
    let r = w.post("/login", &[("tx", &tx), ("credential", &good)], &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(has_session(&w));
    // Its replay is refused (a challenge is answered once), on the same form or another one,
    // and starts no session.
    w.forget_session();
    let replay = w.post("/login", &[("tx", &tx), ("credential", &good)], &[]);
    assert_eq!(replay.status, 400, "{}", replay.body_str());
    assert!(w.logs.borrow().iter().any(|l| l.contains("used before")), "{:?}", w.logs.borrow());
    assert!(!has_session(&w));
    // The page shown after the refusal is a new form with a new challenge: it signs in.
    let again = auth.assert(&options(&replay, "get"));
    let r = w.post("/login", &[("tx", &hidden(&replay, "tx")), ("credential", &again)], &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(has_session(&w));
    // The first form shown again (a wrong password keeps its grant id, which `good`'s
    // challenge is bound to): the old answer is refused there too, as used before.
    w.forget_session();
    let shown_again = w.login(&page, "alice", "wrong password");
    assert_eq!(shown_again.status, 400);
    let before = w.logs.borrow().len();
    let replay = w.post("/login", &[("tx", &hidden(&shown_again, "tx")), ("credential", &good)], &[]);
    assert_eq!(replay.status, 400, "{}", replay.body_str());
    assert!(w.logs.borrow()[before..].iter().any(|l| l.contains("used before")), "{:?}", w.logs.borrow());
    assert!(!has_session(&w));
}

/// A passkey refused by the account object (a replay) starts no session and leaves the
/// browser's own alone: the previous session ends only once a sign-in is accepted.
#[test]
fn a_refused_passkey_keeps_the_browser_s_session() {
    let w = World::new();
    let mut auth = Authenticator::new(Alg::ES256);
    add_passkey(&w, &mut auth);
    w.forget_session();
    let page = w.authorize(&request("basic"));
    let (tx, good) = (hidden(&page, "tx"), auth.assert(&options(&page, "get")));
    assert_eq!(w.post("/login", &[("tx", &tx), ("credential", &good)], &[]).status, 200);
    assert_eq!(w.get("/account").status, 200, "signed in");
    let before = w.logs.borrow().len();
    assert_eq!(w.post("/login", &[("tx", &tx), ("credential", &good)], &[]).status, 400);
    assert!(w.logs.borrow()[before..].iter().any(|l| l.contains("used before")), "{:?}", w.logs.borrow());
    assert_eq!(w.get("/account").status, 200, "the browser's session is still live");
}

/// A passkey sign-in reserves no grant id (its challenge is answered once in the account):
/// its consent form still works once, Allow or Deny, and a consent on record gets its code.
#[test]
fn the_consent_after_a_passkey_works_once() {
    let w = World::new();
    let mut auth = Authenticator::new(Alg::ES256);
    add_passkey(&w, &mut auth);
    let (_, page) = passkey_sign_in(&w, &mut auth, "basic");
    assert_eq!(page.status, 200, "the consent page: {}", page.body_str());
    let allowed = w.consent(&page, "allow");
    assert_eq!(allowed.status, 303, "{}", allowed.body_str());
    let again = w.consent(&page, "allow");
    assert_eq!(again.status, 400, "a second code for one form: {}", again.body_str());
    assert_eq!(w.consent(&page, "deny").status, 400, "allowed, then denied");
    assert_eq!(id_token_after(&w, &allowed)["amr"], json!(["hwk", "mfa"]));
    // The consent is on record: the next passkey sign-in answers with the code.
    let (_, r) = passkey_sign_in(&w, &mut auth, "basic");
    assert_eq!(r.status, 303, "{}", r.body_str());
    assert!(param(&redirect_params(&r, CB), "code").is_some());
    // Asked again (prompt=consent) and denied: access_denied once, then the form is used up.
    w.forget_session();
    let mut asked = request("basic");
    asked.push(("prompt", "consent"));
    let page = w.authorize(&asked);
    let tx = hidden(&page, "tx");
    let r = w.post("/login", &[("tx", &tx), ("credential", &auth.assert(&options(&page, "get")))], &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let denied = w.consent(&r, "deny");
    assert_eq!(param(&redirect_params(&denied, CB), "error"), Some("access_denied"));
    assert_eq!(w.consent(&r, "allow").status, 400, "denied, then allowed");
}

#[test]
fn a_registration_is_bound_to_the_signed_in_user_and_checked() {
    let w = World::new();
    password_session(&w);
    let page = w.get("/account");
    let csrf = hidden(&page, "csrf");
    let opts = options(&page, "create");
    // Creation options: this RP, the user's sub as the handle, a discoverable credential with
    // the user verified, no attestation, the three algorithms.
    assert_eq!(opts["rp"]["id"], "id.example.com");
    assert_eq!(opts["user"]["id"], b64url(ALICE.as_bytes()));
    assert_eq!(opts["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(opts["attestation"], "none");
    let algs: Vec<i64> =
        opts["pubKeyCredParams"].as_array().unwrap().iter().map(|p| p["alg"].as_i64().unwrap()).collect();
    assert_eq!(algs, [-7, -8, -257]);
    let mut evil = Authenticator::new(Alg::ES256);
    evil.origin = "https://evil.example".into();
    let r = w.post("/account", &[("csrf", &csrf), ("registration", &evil.register(&opts))], &[]);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("The passkey was not added"), "{}", r.body_str());
    assert!(factors(&w).credentials.is_empty());
    // A challenge made for someone else's account page does not register here.
    let mut auth = Authenticator::new(Alg::ES256);
    let mut other = opts.clone();
    other["challenge"] = json!(block_on(async { b64url(b"not-a-sealed-challenge") }));
    let r = w.post("/account", &[("csrf", &csrf), ("registration", &auth.register(&other))], &[]);
    assert_eq!(r.status, 400);
    assert!(factors(&w).credentials.is_empty());
}

#[test]
fn discovery_lists_the_levels_and_the_claims_that_report_them() {
    let w = World::new();
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["acr_values_supported"], json!(["pwd", "mfa", "phr"]));
    let claims = d["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&json!("acr")) && claims.contains(&json!("amr")));
}
