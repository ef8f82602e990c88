//! The account page (passkeys, codes, password), the operator's admin endpoint, and
//! invitations to enrol a passkey for a user with no password.

use super::authenticator::{options, Authenticator};
use super::passkeys::{add_passkey, factors, id_token_after, passkey_sign_in, password_session, request, ALICE};
use super::*;
use crate::crypto::Alg;
use crate::store::AccountStore;

const ADMIN_TOKEN: &str = "admin-token-admin-token-admin-token-0001";

fn admin(w: &World, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(String, String)> = auth.into_iter().map(|a| ("authorization".to_string(), a)).collect();
    let r = w.call(Request { method: method.into(), path: path.into(), headers, ..Default::default() });
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

#[test]
fn the_account_page_needs_a_session_and_its_forms_the_page_s_token() {
    let w = World::new();
    let r = w.get("/account");
    assert_eq!(r.status, 200);
    assert!(r.body_str().contains("Sign in to an application first"), "{}", r.body_str());
    password_session(&w);
    let page = w.get("/account");
    let body = page.body_str();
    assert!(body.contains("Signed in as <strong>alice</strong>"), "{body}");
    assert!(body.contains("You have no passkeys yet."));
    assert!(body.contains("href=\"/consents\""));
    // The passkey script from this origin only; the add button hidden until it runs.
    assert!(body.contains("<script src=\"/assets/passkeys.js?v="));
    assert!(page.header("content-security-policy").unwrap().contains("script-src 'self'"));
    assert!(body.contains("data-webauthn-start hidden"));
    // A form without the page's token is refused, and changes nothing.
    let r = w.post("/account", &[("action", "password"), ("current", PASSWORD), ("new", "a new long password")], &[]);
    assert_eq!(r.status, 403);
    let r = w.post("/account", &[("csrf", "x".repeat(43).as_str()), ("action", "codes-off"), ("code", "1")], &[]);
    assert_eq!(r.status, 403);
}

#[test]
fn passkeys_are_renamed_and_removed_on_the_account_page() {
    let w = World::new();
    let mut auth = Authenticator::new(Alg::ES256);
    add_passkey(&w, &mut auth);
    let page = w.get("/account?done=added");
    assert!(page.body_str().contains("Passkey added."), "{}", page.body_str());
    let csrf = hidden(&page, "csrf");
    let id = auth.credential_id();
    let r = w.post(
        "/account",
        &[("csrf", &csrf), ("action", "rename"), ("credential_id", &id), ("name", "  Work laptop ")],
        &[],
    );
    assert_eq!(r.header("location"), Some("/account?done=renamed"));
    assert_eq!(factors(&w).credentials[0].name, "Work laptop");
    assert!(w.get("/account").body_str().contains("value=\"Work laptop\""));
    let r = w.post("/account", &[("csrf", &csrf), ("action", "remove"), ("credential_id", &id)], &[]);
    assert_eq!(r.header("location"), Some("/account?done=removed"));
    assert!(factors(&w).credentials.is_empty());
    // It no longer signs in.
    let (_, r) = passkey_sign_in(&w, &mut auth, "basic");
    assert_eq!(r.status, 400);
}

#[test]
fn codes_are_turned_off_only_with_a_current_code() {
    let w = World::new();
    password_session(&w);
    let page = w.get("/account?codes=setup");
    let (csrf, sealed) = (hidden(&page, "csrf"), hidden(&page, "setup"));
    let payload = crate::crypto::b64url_decode(sealed.split('.').next().unwrap()).unwrap();
    let secret =
        crate::crypto::b64url_decode(serde_json::from_slice::<Value>(&payload).unwrap()["secret"].as_str().unwrap())
            .unwrap();
    let now_code = |w: &World| {
        format!(
            "{:06}",
            crate::crypto::totp::hotp(&secret, u64::try_from(crate::crypto::totp::step(w.now.get())).unwrap())
        )
    };
    let r = w.post(
        "/account",
        &[("csrf", &csrf), ("action", "codes-on"), ("setup", &sealed), ("code", &now_code(&w))],
        &[],
    );
    assert_eq!(r.status, 303);
    let r = w.post("/account", &[("csrf", &csrf), ("action", "codes-off"), ("code", "000000")], &[]);
    assert_eq!(r.status, 400);
    assert!(factors(&w).totp);
    w.advance(30);
    let r = w.post("/account", &[("csrf", &csrf), ("action", "codes-off"), ("code", &now_code(&w))], &[]);
    assert_eq!(r.header("location"), Some("/account?done=codes_off"), "{}", r.body_str());
    assert!(!factors(&w).totp);
    assert_eq!(factors(&w).recovery_left, 0);
}

#[test]
fn the_password_changes_given_the_current_one() {
    let w = World::new();
    // Another browser signed in before the change.
    password_session(&w);
    let other = w.cookies.borrow().clone();
    w.forget_session();
    password_session(&w);
    let page = w.get("/account");
    let csrf = hidden(&page, "csrf");
    let change = |current: &str, new: &str| {
        w.post("/account", &[("csrf", &csrf), ("action", "password"), ("current", current), ("new", new)], &[])
    };
    let r = change("wrong password", "a brand new password");
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("The current password is not correct."));
    let r = change(PASSWORD, "short");
    assert!(r.body_str().contains("at least 10 characters"));
    let r = change(PASSWORD, "a brand new password");
    assert_eq!(r.header("location"), Some("/account?done=password"), "{}", r.body_str());
    // This browser stays signed in; the other one's session ended (OWASP ASVS V3.3.3).
    assert_eq!(w.get("/account").status, 200);
    let mine = w.cookies.replace(other);
    let r = w.get("/account");
    assert!(r.status != 200 || !r.body_str().contains("name=\"csrf\""), "the other session still works");
    *w.cookies.borrow_mut() = mine;
    w.forget_session();
    let page = w.authorize(&request("basic"));
    assert_eq!(w.login(&page, "alice", PASSWORD).status, 400, "the old password no longer works");
    let page = w.authorize(&request("basic"));
    assert_eq!(w.login(&page, "alice", "a brand new password").status, 200);
}

#[test]
fn the_admin_endpoint_is_off_without_a_token_and_refuses_a_wrong_one() {
    let w = World::new();
    assert_eq!(admin(&w, "GET", "/admin/users/alice/factors", Some(ADMIN_TOKEN)).0, 404);
    let w = World::with_vars(&[("ADMIN_TOKEN", ADMIN_TOKEN)]);
    let (s, v) = admin(&w, "GET", "/admin/users/alice/factors", None);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_token")));
    assert_eq!(admin(&w, "GET", "/admin/users/alice/factors", Some("admin-token-but-not-the-right-one-000000")).0, 401);
    assert_eq!(admin(&w, "GET", "/admin/users/nobody/factors", Some(ADMIN_TOKEN)).0, 404);
}

#[test]
fn the_operator_lists_and_removes_passkeys_and_resets_codes() {
    let w = World::with_vars(&[("ADMIN_TOKEN", ADMIN_TOKEN)]);
    let mut auth = Authenticator::new(Alg::ES256);
    add_passkey(&w, &mut auth);
    let (s, v) = admin(&w, "GET", "/admin/users/alice/factors", Some(ADMIN_TOKEN));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["passkeys"][0]["id"], auth.credential_id());
    assert_eq!(v["passkeys"][0]["name"], "Passkey");
    assert!(v["passkeys"][0].get("public_key").is_none(), "no keys in the listing");
    assert_eq!((v["codes"].as_bool(), v["password"].as_bool()), (Some(false), Some(true)));
    let path = format!("/admin/users/alice/passkeys/{}", auth.credential_id());
    assert_eq!(admin(&w, "DELETE", &path, Some(ADMIN_TOKEN)).0, 204);
    assert_eq!(admin(&w, "DELETE", &path, Some(ADMIN_TOKEN)).0, 404);
    assert!(factors(&w).credentials.is_empty());
    assert_eq!(admin(&w, "DELETE", "/admin/users/alice/codes", Some(ADMIN_TOKEN)).0, 204);
}

#[test]
fn an_invited_user_without_a_password_enrols_a_passkey_once_and_signs_in_with_it() {
    let w = World::with_vars(&[("ADMIN_TOKEN", ADMIN_TOKEN)]);
    w.users.put("user:bob", &json!({"sub": "u-bob", "username": "bob", "name": "Bob"}).to_string());
    // No password: a password sign-in fails like a wrong one.
    let page = w.authorize(&request("basic"));
    let r = w.login(&page, "bob", "anything at all");
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("Incorrect username or password."));
    let (s, v) = admin(&w, "POST", "/admin/users/bob/invite", Some(ADMIN_TOKEN));
    assert_eq!(s, 200, "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with("https://id.example.com/enroll?t="), "{url}");
    let path = url.strip_prefix(ISSUER).unwrap();
    let page = w.get(path);
    assert_eq!(page.status, 200, "{}", page.body_str());
    assert!(page.body_str().contains("Welcome, <strong>bob</strong>"), "{}", page.body_str());
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let t = hidden(&page, "t");
    let mut auth = Authenticator::new(Alg::ES256);
    let registration = auth.register(&options(&page, "create"));
    assert_eq!(auth.user_handle, b"u-bob");
    let r = w.post("/enroll", &[("t", &t), ("registration", &registration)], &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(r.body_str().contains("Your passkey is ready"));
    // The link works once: its page says so, and a registration sent with it is refused.
    assert!(w.get(path).body_str().contains("This link does not work"));
    let again = Authenticator::new(Alg::EdDSA).register(&options(&page, "create"));
    let r = w.post("/enroll", &[("t", &t), ("registration", &again)], &[]);
    assert!(r.body_str().contains("This link does not work"), "{}", r.body_str());
    let bob = block_on(w.accounts.send("u-bob", crate::objects::account::FactorsOf {})).unwrap();
    assert_eq!(bob.credentials.len(), 1);
    // Bob signs in with the passkey.
    let (_, r) = passkey_sign_in(&w, &mut auth, "basic");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let claims = id_token_after(&w, &r);
    assert_eq!((claims["sub"].as_str(), claims["acr"].as_str()), (Some("u-bob"), Some("phr")));
    // His only passkey cannot be removed (he has no password); there is no password form.
    let page = w.get("/account");
    assert!(page.body_str().contains("You sign in with passkeys only."));
    let r = w.post(
        "/account",
        &[("csrf", &hidden(&page, "csrf")), ("action", "remove"), ("credential_id", &auth.credential_id())],
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("Keep a way to sign in"));
    // An expired or forged link: a page that says so.
    w.advance(crate::protocol::enroll::INVITE_SECONDS + 1);
    assert!(w.get(path).body_str().contains("This link does not work"));
    assert!(w.get("/enroll?t=forged.link").body_str().contains("This link does not work"));
    let _ = ALICE;
}
