//! The pages as a browser gets them: the Content-Security-Policy of every form against where
//! that form can lead, the language, the operator's look, the client's links, HSTS.

use super::*;
use crate::objects::throttle::{self, Command as TCommand, Policy};
use crate::store::ThrottleStore;

fn base(client: &str) -> Vec<(&str, &str)> {
    vec![("response_type", "code"), ("client_id", client), ("redirect_uri", CB), ("scope", "openid email")]
}

fn csp(r: &Response) -> &str {
    r.header("content-security-policy").expect("a page has a CSP")
}

/// The sources of one CSP directive.
fn directive<'a>(r: &'a Response, name: &str) -> Vec<&'a str> {
    csp(r)
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .map(|rest| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// A user who allowed the application once signs in again in a browser without a session:
/// the sign-in POST answers 303 straight to the client, so the sign-in page's `form-action`
/// must allow the client's origin (Chromium applies it to the redirect after the post).
#[test]
fn sign_in_form_may_lead_to_the_client() {
    let w = World::new();
    // Allowed once.
    let page = w.authorize(&base("basic"));
    let consent = w.login(&page, "alice", PASSWORD);
    redirect_params(&w.consent(&consent, "allow"), CB);
    // A new browser: the login page, then straight to the client.
    w.forget_session();
    let page = w.authorize(&base("basic"));
    assert_eq!(page.status, 200);
    assert_eq!(directive(&page, "form-action"), ["'self'", "https://app.example"], "{}", csp(&page));
    let r = w.login(&page, "alice", PASSWORD);
    let to = Url::parse(r.header("location").unwrap()).unwrap();
    assert_eq!(to.origin().ascii_serialization(), "https://app.example");
    // A loopback redirect URI on its own port, and a native app's private-use scheme.
    let native = json!({"client_id": "native", "redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/cb"],
        "token_endpoint_auth_method": "none", "scope": "openid"});
    w.clients.put("native", &native.to_string());
    for (uri, source) in
        [("http://127.0.0.1:51000/cb", "http://127.0.0.1:51000"), ("com.example.app:/cb", "com.example.app:")]
    {
        let page = w.authorize(&[
            ("response_type", "code"),
            ("client_id", "native"),
            ("redirect_uri", uri),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        assert_eq!(directive(&page, "form-action"), ["'self'", source], "{}", csp(&page));
    }
}

/// Every other form: consent and logout confirmation lead to the client, "Your
/// applications" only to itself; error pages have no form to lead anywhere.
#[test]
fn every_form_allows_exactly_where_it_leads() {
    let w = World::new();
    let page = w.authorize(&base("basic"));
    let consent = w.login(&page, "alice", PASSWORD);
    assert_eq!(directive(&consent, "form-action"), ["'self'", "https://app.example"]);
    redirect_params(&w.consent(&consent, "allow"), CB);
    assert_eq!(directive(&w.get("/consents"), "form-action"), ["'self'"]);
    let logout_uri = "https://app.example/bye";
    let mut rec: Value =
        serde_json::from_str(&client_record("basic", "client_secret_basic", Some(BASIC_SECRET))).unwrap();
    rec["post_logout_redirect_uris"] = json!([logout_uri]);
    w.clients.put("basic", &rec.to_string());
    let confirm = w.get(&format!("/logout?client_id=basic&post_logout_redirect_uri={logout_uri}"));
    assert_eq!(confirm.status, 200, "{}", confirm.body_str());
    assert_eq!(directive(&confirm, "form-action"), ["'self'", "https://app.example"]);
    assert_eq!(directive(&w.get("/logout"), "form-action"), ["'self'"]);
    assert_eq!(directive(&w.get("/authorize?client_id=nope"), "form-action"), ["'self'"]);
    for r in [&consent, &confirm] {
        assert!(csp(r).contains("frame-ancestors 'none'") && !csp(r).contains("script-src"), "{}", csp(r));
    }
}

#[test]
fn language_from_ui_locales_then_accept_language_then_default() {
    let mut w = World::new();
    let page = w.authorize(&with(&base("basic"), &[("ui_locales", "xx ja")]));
    assert!(page.body_str().contains("<html lang=\"ja\" dir=\"ltr\">"), "{}", page.body_str());
    assert!(page.body_str().contains("パスワード"));
    // The language stays with the interaction: the consent page is Japanese too, whatever
    // the browser says.
    let tx = hidden(&page, "tx");
    let consent =
        w.post("/login", &[("tx", &tx), ("username", "alice"), ("password", PASSWORD)], &[("accept-language", "de")]);
    assert!(consent.body_str().contains("アクセスを許可しますか"), "{}", consent.body_str());
    assert!(consent.body_str().contains("メールアドレスとその確認状況を見る"));
    let get = |w: &World, al: &str| {
        let h = vec![("accept-language".to_string(), al.to_string())];
        w.call(Request { method: "GET".into(), path: "/nope".into(), headers: h, ..Default::default() })
    };
    assert!(get(&w, "fr-CA, en;q=0.5").body_str().contains("<html lang=\"fr\""));
    let ar = get(&w, "ar");
    assert!(ar.body_str().contains("<html lang=\"ar\" dir=\"rtl\">"), "{}", ar.body_str());
    assert!(get(&w, "tlh").body_str().contains("<html lang=\"en\""), "unknown languages fall back silently");
    w.config = Config::from_vars(|k| match k {
        "ISSUER" => Some(ISSUER.into()),
        "DEFAULT_LOCALE" => Some("es".into()),
        _ => None,
    })
    .unwrap();
    assert!(get(&w, "tlh").body_str().contains("<html lang=\"es\""), "the operator's default");
    assert!(get(&w, "de").body_str().contains("<html lang=\"de\""));
}

#[test]
fn the_operator_look_and_the_client_links() {
    let mut w = World::new();
    w.config = Config::from_vars(|k| match k {
        "ISSUER" => Some(ISSUER.into()),
        "BRAND_NAME" => Some("Example ID".into()),
        "BRAND_LOGO_URL" => Some("https://cdn.example.net/logo.svg".into()),
        "BRAND_ACCENT" => Some("#0b6e4f".into()),
        "BRAND_CSS" => Some(".card { border-width: 2px; }".into()),
        "MESSAGES" => Some(r#"{"en": {"login.title": "Welcome back"}}"#.into()),
        _ => None,
    })
    .unwrap();
    let mut rec: Value =
        serde_json::from_str(&client_record("basic", "client_secret_basic", Some(BASIC_SECRET))).unwrap();
    rec["logo_uri"] = json!("https://img.app.example/logo.png");
    rec["policy_uri"] = json!("https://app.example/privacy");
    rec["tos_uri"] = json!("https://app.example/terms");
    rec["client_uri"] = json!("https://app.example/");
    w.clients.put("basic", &rec.to_string());
    let page = w.authorize(&base("basic"));
    let body = page.body_str();
    assert!(
        body.contains("<h1>Welcome back</h1>") && body.contains("<title>Welcome back – Example ID</title>"),
        "{body}"
    );
    assert!(body.contains("class=\"product\">Example ID<") && body.contains("https://cdn.example.net/logo.svg"));
    let theme = body.split("href=\"").find_map(|s| s.strip_prefix("/assets/theme.css")).expect("theme link");
    assert!(theme.starts_with("?v="));
    assert_eq!(directive(&page, "img-src"), ["'self'", "https://cdn.example.net"]);
    let css = w.get("/assets/theme.css");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.body_str().contains("--accent: #0b6e4f") && css.body_str().contains("border-width: 2px"));
    let consent = w.login(&page, "alice", PASSWORD);
    let body = consent.body_str();
    for want in [
        "src=\"https://img.app.example/logo.png\"",
        "href=\"https://app.example/privacy\"",
        "href=\"https://app.example/terms\"",
        "href=\"https://app.example/\"",
        "After your choice you go back to <strong>app.example</strong>.",
    ] {
        assert!(body.contains(want), "{want} in {body}");
    }
    assert_eq!(directive(&consent, "img-src"), ["'self'", "https://img.app.example", "https://cdn.example.net"]);
    // A bad theme value: the configuration is refused, naming it.
    let e = Config::from_vars(|k| match k {
        "ISSUER" => Some(ISSUER.into()),
        "BRAND_ACCENT" => Some("#eeeeee".into()),
        _ => None,
    })
    .unwrap_err();
    assert!(e.contains("BRAND_ACCENT"), "{e}");
}

#[test]
fn custom_scope_descriptions_per_language() {
    let w = World::new();
    let def = json!({"name": "groups", "description": "see your teams", "descriptions": {"fr": "voir vos équipes"},
        "claims": ["groups"]});
    w.clients.put("scope:groups", &def.to_string());
    let mut rec: Value =
        serde_json::from_str(&client_record("basic", "client_secret_basic", Some(BASIC_SECRET))).unwrap();
    rec["scope"] = json!("openid email groups");
    w.clients.put("basic", &rec.to_string());
    for (lang, want) in [("fr", "Voir vos équipes"), ("de", "See your teams")] {
        w.fresh_browser();
        let page = w.authorize(&with(&base("basic"), &[("scope", "openid groups"), ("ui_locales", lang)]));
        let consent = w.login(&page, "alice", PASSWORD);
        assert!(consent.body_str().contains(&format!("<li>{want}</li>")), "{}", consent.body_str());
    }
}

#[test]
fn hsts_on_every_response_of_an_https_issuer() {
    let w = World::new();
    let page = w.authorize(&base("basic"));
    let consent = w.login(&page, "alice", PASSWORD);
    let redirect = w.consent(&consent, "allow");
    let token_error = w.post("/token", &[("grant_type", "nope")], &[]);
    for (what, r) in [
        ("discovery", w.get("/.well-known/openid-configuration")),
        ("jwks", w.get("/jwks.json")),
        ("stylesheet", w.get("/assets/style.css")),
        ("home page", w.get("/")),
        ("not found", w.get("/nope")),
        ("login page", page),
        ("redirect", redirect),
        ("token error", token_error),
    ] {
        assert_eq!(r.header("strict-transport-security"), Some("max-age=63072000"), "{what}");
    }
    let mut local = World::new();
    local.config = Config::from_vars(|k| (k == "ISSUER").then(|| "http://127.0.0.1:8787".to_string())).unwrap();
    assert_eq!(local.get("/").header("strict-transport-security"), None, "never over plain http");
}

/// A wrong password re-shows the form with the message announced and the focus in the
/// (empty) password field.
#[test]
fn wrong_password_page() {
    let w = World::new();
    let page = w.authorize(&base("basic"));
    assert!(
        page.body_str().contains("id=\"username\"") && page.body_str().contains("autocomplete=\"username webauthn\"")
    );
    let r = w.login(&page, "alice", "not it");
    let body = r.body_str();
    assert!(body.contains("role=\"alert\">Incorrect username or password.</p>"), "{body}");
    let password = body.split("<input id=\"password\"").nth(1).unwrap().split('>').next().unwrap();
    assert!(password.contains("autofocus") && password.contains("aria-describedby=\"login-error\""), "{password}");
    assert!(!password.contains("value="), "the password is never sent back");
    assert!(password.contains("autocomplete=\"current-password\""));
    let username = body.split("<input id=\"username\"").nth(1).unwrap().split('>').next().unwrap();
    assert!(username.contains("value=\"alice\"") && !username.contains("autofocus"), "{username}");
}

/// A correct sign-in refused because other sign-ins of the account are in flight is told
/// so, not that attempts failed (none did).
#[test]
fn sign_ins_in_flight_are_not_called_failures() {
    let w = World::new();
    let page = w.authorize(&base("basic"));
    let policy = Policy { delay_from: 2, lock_at: Some(5), lock_seconds: 900 };
    for _ in 0..5 {
        let v = block_on(w.throttles.send(&throttle::account_key("alice"), TCommand::Attempt { policy }));
        assert!(v.unwrap().is_allowed());
    }
    let r = w.login(&page, "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    let body = r.body_str();
    assert!(body.contains("Other sign-ins to this account are in progress"), "{body}");
    assert!(!body.contains("failed"), "{body}");
}

fn with<'a>(b: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = b.iter().copied().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
    v.extend_from_slice(extra);
    v
}
