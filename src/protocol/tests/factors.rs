//! Second factors and the strength a sign-in must reach: one-time codes (RFC 6238) and
//! recovery codes, turned on from the account page and asked for after the password; what the
//! operator, the client and the request require (`acr_values`), and setting up what is missing
//! at sign-in without letting a password alone add a factor.

use super::authenticator::{options, Authenticator};
use super::passkeys::{add_passkey, factors, id_token_after, password_session, request, ALICE};
use super::*;
use crate::crypto::{b64url_decode, totp, Alg};

/// The secret inside a sealed setup (the page shows it as base32 too).
fn setup_secret(sealed: &str) -> Vec<u8> {
    let payload = b64url_decode(sealed.split('.').next().unwrap()).unwrap();
    let v: Value = serde_json::from_slice(&payload).unwrap();
    b64url_decode(v["secret"].as_str().unwrap()).unwrap()
}

fn code(secret: &[u8], now: i64) -> String {
    format!("{:06}", totp::hotp(secret, u64::try_from(totp::step(now)).unwrap()))
}

fn recovery_codes(page: &Response) -> Vec<String> {
    let body = page.body_str();
    let list = &body[body.find("<ul class=\"codes\">").unwrap()..];
    let list = &list[..list.find("</ul>").unwrap()];
    list.split("<code>").skip(1).map(|c| c[..c.find('<').unwrap()].to_string()).collect()
}

/// Alice turns one-time codes on from her account page: the secret and the recovery codes.
fn turn_codes_on(w: &World) -> (Vec<u8>, Vec<String>) {
    password_session(w);
    let page = w.get("/account?codes=setup");
    assert_eq!(page.status, 200, "{}", page.body_str());
    let (csrf, sealed) = (hidden(&page, "csrf"), hidden(&page, "setup"));
    let secret = setup_secret(&sealed);
    let recovery = recovery_codes(&page);
    assert_eq!(recovery.len(), 10);
    // The key as an app takes it: base32, and an otpauth: link.
    let b32 = totp::base32(&secret);
    assert!(
        page.body_str().contains(&format!("otpauth://totp/id.example.com:alice?secret={b32}")),
        "{}",
        page.body_str()
    );
    // A wrong first code: the same setup again (the app already has the key).
    let form = |c: &str| {
        vec![("csrf", csrf.clone()), ("action", "codes-on".into()), ("setup", sealed.clone()), ("code", c.to_string())]
    };
    let pairs = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let wrong = pairs(&form("000000"));
    let r = w.post("/account", &wrong.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(), &[]);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("That code is not valid"));
    assert_eq!(hidden(&r, "setup"), sealed);
    assert!(!factors(w).totp);
    let right = pairs(&form(&code(&secret, w.now.get())));
    let r = w.post("/account", &right.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(), &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/account?done=codes_on")), "{}", r.body_str());
    assert!(factors(w).totp);
    assert_eq!(factors(w).recovery_left, 10);
    (secret, recovery)
}

/// A password sign-in that is asked for a second factor: the second-factor page.
fn password_then_second(w: &World, params: &[(&str, &str)]) -> Response {
    w.forget_session();
    let page = w.authorize(params);
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 200, "{:?} {}", r.header("location"), r.body_str());
    r
}

fn second(w: &World, page: &Response, form: &[(&str, &str)]) -> Response {
    let tx = hidden(page, "tx");
    let mut f = vec![("tx", tx.as_str())];
    f.extend_from_slice(form);
    w.post("/login/second", &f, &[])
}

#[test]
fn a_password_sign_in_reports_pwd() {
    let w = World::new();
    let page = w.authorize(&request("basic"));
    let claims = id_token_after(&w, &w.login(&page, "alice", PASSWORD));
    assert_eq!((claims["amr"].clone(), claims["acr"].clone()), (json!(["pwd"]), json!("pwd")));
}

#[test]
fn one_time_codes_are_asked_after_the_password_once_turned_on() {
    let w = World::new();
    let (secret, recovery) = turn_codes_on(&w);
    let page = password_then_second(&w, &request("basic"));
    assert!(page.body_str().contains("autocomplete=\"one-time-code\""), "{}", page.body_str());
    assert!(page.body_str().contains("Recovery codes left: 10"));
    // A wrong code: the page again, saying so.
    let r = second(&w, &page, &[("code", "123456")]);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("That code is not valid"));
    // The code that turned them on does not sign in again.
    let r = second(&w, &r, &[("code", &code(&secret, w.now.get()))]);
    assert_eq!(r.status, 400);
    w.advance(30);
    let r = second(&w, &r, &[("code", &code(&secret, w.now.get()))]);
    assert_eq!(r.status, 200, "{:?} {}", r.header("location"), r.body_str());
    let claims = id_token_after(&w, &r);
    assert_eq!((claims["amr"].clone(), claims["acr"].clone()), (json!(["pwd", "otp", "mfa"]), json!("mfa")));
    // The same code again (the same 30 seconds): refused, a code works once (RFC 6238 §5.2).
    let page = password_then_second(&w, &request("basic"));
    let r = second(&w, &page, &[("code", &code(&secret, w.now.get()))]);
    assert_eq!(r.status, 400, "{}", r.body_str());
    // The next step's code works.
    w.advance(30);
    // (The consent is on record now: the code goes straight to the application.)
    let r = second(&w, &r, &[("code", &code(&secret, w.now.get()))]);
    assert_eq!(r.status, 303, "{}", r.body_str());
    // A recovery code, typed loosely, works once.
    let page = password_then_second(&w, &request("basic"));
    let loose = recovery[3].to_lowercase().replace('-', " ");
    let r = second(&w, &page, &[("code", &loose)]);
    assert_eq!(r.status, 303, "{}", r.body_str());
    assert_eq!(factors(&w).recovery_left, 9);
    let page = password_then_second(&w, &request("basic"));
    assert_eq!(second(&w, &page, &[("code", &recovery[3])]).status, 400);
}

#[test]
fn guessing_codes_is_throttled_like_guessing_passwords() {
    let w = World::new();
    turn_codes_on(&w);
    let mut page = password_then_second(&w, &request("basic"));
    let mut statuses = vec![];
    for i in 0..12 {
        let r = second(&w, &page, &[("code", &format!("{:06}", 111_111 + i))]);
        statuses.push(r.status);
        if r.status == 429 {
            assert!(r.header("retry-after").is_some());
            break;
        }
        page = r;
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[test]
fn a_required_second_factor_is_set_up_at_sign_in_when_the_user_has_none() {
    let w = World::with_vars(&[("MINIMUM_ACR", "mfa")]);
    let page = password_then_second(&w, &request("basic"));
    let body = page.body_str();
    assert!(body.contains("Protect your account"), "{body}");
    // Either a passkey or an authenticator app.
    assert!(body.contains("data-webauthn=\"create\""));
    let sealed = hidden(&page, "setup");
    let secret = setup_secret(&sealed);
    let r = second(&w, &page, &[("setup", &sealed), ("code", &code(&secret, w.now.get()))]);
    assert_eq!(r.status, 200, "{:?} {}", r.header("location"), r.body_str());
    let claims = id_token_after(&w, &r);
    assert_eq!(claims["acr"], "mfa");
    assert!(factors(&w).totp);
    // From now on the code is asked for.
    w.advance(30);
    let page = password_then_second(&w, &request("basic"));
    assert!(!page.body_str().contains("Protect your account"));
    assert_eq!(second(&w, &page, &[("code", &code(&secret, w.now.get()))]).status, 303);
}

#[test]
fn a_passkey_required_by_the_client_is_added_only_after_the_codes_the_user_has() {
    let w = World::new();
    let (secret, _) = turn_codes_on(&w);
    w.advance(30);
    let mut strict: Value = serde_json::from_str(&w.clients.get("basic").unwrap()).unwrap();
    strict["minimum_acr"] = json!("phr");
    w.clients.put("basic", &strict.to_string());
    let page = password_then_second(&w, &request("basic"));
    // The code first; no passkey can be created with the password alone.
    assert!(page.body_str().contains("one-time-code"));
    assert!(!page.body_str().contains("data-webauthn=\"create\""), "{}", page.body_str());
    let mut auth = Authenticator::new(Alg::EdDSA);
    let fake_options =
        json!({"challenge": "x", "rp": {"id": "id.example.com"}, "user": {"id": b64url(ALICE.as_bytes())}});
    let r = second(&w, &page, &[("registration", &auth.register(&fake_options))]);
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert!(factors(&w).credentials.is_empty());
    // After the code, a passkey is asked for, and made here.
    let r = second(&w, &page, &[("code", &code(&secret, w.now.get()))]);
    assert_eq!(r.status, 200, "{:?} {}", r.header("location"), r.body_str());
    assert!(r.body_str().contains("This application needs a passkey"), "{}", r.body_str());
    let r = second(&w, &r, &[("registration", &auth.register(&options(&r, "create")))]);
    assert_eq!(r.status, 200, "{:?} {}", r.header("location"), r.body_str());
    let claims = id_token_after(&w, &r);
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "hwk", "mfa"]));
    assert_eq!(factors(&w).credentials.len(), 1);
}

#[test]
fn acr_values_and_prompt_login_sign_in_again_as_strongly() {
    let w = World::new();
    let mut auth = Authenticator::new(Alg::ES256);
    add_passkey(&w, &mut auth);
    // A password session does not do for a request that asks for phr: sign in again, and a
    // silent request is told login_required.
    password_session(&w);
    let mut phr = request("basic");
    phr.push(("acr_values", "phr"));
    let mut silent = phr.clone();
    silent.push(("prompt", "none"));
    let p = redirect_params(&w.authorize(&silent), CB);
    assert_eq!(param(&p, "error"), Some("login_required"));
    let page = w.authorize(&phr);
    assert!(page.body_str().contains("id=\"password\""), "the sign-in page");
    // The password, then the passkey as the second step.
    let r = w.login(&page, "alice", PASSWORD);
    let opts = options(&r, "get");
    assert_eq!(opts["allowCredentials"][0]["id"], auth.credential_id());
    let r = second(&w, &r, &[("credential", &auth.assert(&opts))]);
    assert_eq!(r.status, 200, "{:?} {}", r.header("location"), r.body_str());
    let claims = id_token_after(&w, &r);
    assert_eq!(claims["acr"], "phr");
    // prompt=login: the user signs in again, at least as strongly as the session had.
    let mut again = request("basic");
    again.push(("prompt", "login"));
    let page = w.authorize(&again);
    let r = w.login(&page, "alice", PASSWORD);
    assert!(r.body_str().contains("data-webauthn=\"get\""), "a passkey is asked for: {}", r.body_str());
    assert!(!r.body_str().contains("Allow access?"));
    // A session strong enough answers a request for less without a page.
    let r = second(&w, &r, &[("credential", &auth.assert(&options(&r, "get")))]);
    assert_eq!(r.status, 303, "{}", r.body_str());
    let mut mfa = request("basic");
    mfa.push(("acr_values", "mfa"));
    assert_eq!(w.authorize(&mfa).status, 303);
}

/// OpenID Connect Core §5.5.1.1: `acr` asked for in the `claims` parameter is honoured as
/// `acr_values` is; an essential one that cannot be met fails the request.
#[test]
fn an_essential_acr_in_the_claims_parameter_is_met_or_refused() {
    let w = World::new();
    let mut auth = Authenticator::new(Alg::ES256);
    add_passkey(&w, &mut auth);
    password_session(&w);
    let mut phr = request("basic");
    phr.push(("claims", r#"{"id_token":{"acr":{"essential":true,"values":["phr"]}}}"#));
    let mut silent = phr.clone();
    silent.push(("prompt", "none"));
    assert_eq!(param(&redirect_params(&w.authorize(&silent), CB), "error"), Some("login_required"));
    let page = w.authorize(&phr);
    let r = w.login(&page, "alice", PASSWORD);
    let r = second(&w, &r, &[("credential", &auth.assert(&options(&r, "get")))]);
    assert_eq!(id_token_after(&w, &r)["acr"], "phr");
    // Essential mfa, met by the passkey session (phr): the ID token reports mfa, a value asked for.
    let mut mfa = request("basic");
    mfa.push(("claims", r#"{"id_token":{"acr":{"essential":true,"values":["mfa"]}}}"#));
    let r = w.authorize(&mfa);
    assert_eq!(r.status, 303, "{}", r.body_str());
    assert_eq!(id_token_after(&w, &r)["acr"], "mfa");
    let mut unknown = request("basic");
    unknown.push(("claims", r#"{"id_token":{"acr":{"essential":true,"values":["urn:example:loa:4"]}}}"#));
    let p = redirect_params(&w.authorize(&unknown), CB);
    assert_eq!(param(&p, "error"), Some("access_denied"));
    assert_eq!(param(&p, "state"), Some("s"));
}
