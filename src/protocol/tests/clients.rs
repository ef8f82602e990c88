//! Clients that appear without an operator: client ID metadata documents (fetched, checked,
//! guarded against server-side request forgery) and dynamic registration (RFC 7591, 7592).

use super::*;

const DOC: &str = "https://client.example.com/oauth/metadata.json";

fn document(client_id: &str) -> Value {
    json!({"client_id": client_id, "client_name": "Notes for MCP", "redirect_uris": [CB],
        "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none",
        "logo_uri": "https://client.example.com/logo.png", "scope": "openid profile offline_access"})
}

fn documents_on() -> World {
    World::with_vars(&[("CLIENT_ID_METADATA_DOCUMENTS", "on")])
}

fn authorize_as(w: &World, client_id: &str) -> Response {
    w.authorize(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("scope", "openid profile"),
        ("state", "st"),
    ])
}

#[test]
fn a_metadata_document_is_the_clients_record() {
    let w = documents_on();
    w.fetch.serve(DOC, &document(DOC).to_string(), Some("max-age=3600"));
    let page = authorize_as(&w, DOC);
    assert_eq!(page.status, 200, "{}", page.body_str());
    let consent = w.login(&page, "alice", PASSWORD);
    // The person is told the application describes itself, and where they will be sent.
    let body = consent.body_str();
    assert!(body.contains("Notes for MCP") && body.contains("not registered by the operator"), "{body}");
    assert!(body.contains("app.example"), "the redirect host: {body}");
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", param(&p, "code").unwrap()),
        ("redirect_uri", CB),
        ("client_id", DOC),
    ];
    let (s, v, _) = w.token(&form, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(verify_id_token(&w, v["id_token"].as_str().unwrap())["aud"], DOC);
    assert_eq!(w.fetch.fetched.borrow().len(), 1, "fetched once, then cached for its max-age");
    w.advance(3601);
    w.fresh_browser();
    assert_eq!(authorize_as(&w, DOC).status, 200);
    assert_eq!(w.fetch.fetched.borrow().len(), 2, "fetched again once stale");
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["client_id_metadata_document_supported"], true);
}

#[test]
fn a_document_that_does_not_describe_itself_exactly_is_refused() {
    let w = documents_on();
    let refused = |w: &World, id: &str| {
        let r = authorize_as(w, id);
        assert_eq!((r.status, r.header("location")), (400, None), "{id}: {}", r.body_str());
        r.body_str().to_string()
    };
    // Its client_id is another URL.
    w.fetch.serve(DOC, &document("https://client.example.com/other.json").to_string(), Some("no-store"));
    assert!(refused(&w, DOC).contains("not the URL it was fetched from"));
    // The redirect URI is not one it lists (matched exactly).
    let mut d = document(DOC);
    d["redirect_uris"] = json!(["https://app.example/other"]);
    w.fetch.serve(DOC, &d.to_string(), Some("no-store"));
    let r = authorize_as(&w, DOC);
    assert_eq!((r.status, r.header("location")), (400, None));
    // It claims a secret it cannot have.
    let mut d = document(DOC);
    d["token_endpoint_auth_method"] = json!("client_secret_basic");
    w.fetch.serve(DOC, &d.to_string(), Some("no-store"));
    assert!(refused(&w, DOC).contains("not for a metadata document"));
    // Too large (the draft's 5 KB), not JSON, not found.
    let mut d = document(DOC);
    d["client_name"] = json!("x".repeat(6000));
    w.fetch.serve(DOC, &d.to_string(), Some("no-store"));
    assert!(refused(&w, DOC).contains("larger than"));
    w.fetch.serve(DOC, "<html>", Some("no-store"));
    assert!(refused(&w, DOC).contains("not JSON"));
    refused(&w, "https://client.example.com/missing.json");
    // URLs that are not a document's: no path, a fragment, dot segments.
    for bad in ["https://client.example.com/", "https://client.example.com/a/../b.json"] {
        refused(&w, bad);
    }
}

#[test]
fn metadata_urls_never_reach_private_networks() {
    let w = documents_on();
    for target in [
        "https://127.0.0.1/client.json",
        "https://10.0.0.8/client.json",
        "https://169.254.169.254/latest/meta-data/client.json",
        "https://[::1]/client.json",
        "https://localhost/client.json",
        "https://printer.local/client.json",
    ] {
        let r = authorize_as(&w, target);
        assert_eq!(r.status, 400, "{target}");
        assert!(r.body_str().contains("private") || r.body_str().contains("local host"), "{target}: {}", r.body_str());
    }
    // A public document that redirects into a private network: each hop is checked.
    w.fetch.redirect(DOC, "https://192.168.1.10/client.json");
    let r = authorize_as(&w, DOC);
    assert!(r.body_str().contains("private"), "{}", r.body_str());
    w.fetch.redirect(DOC, "https://client.example.com/hop");
    w.fetch.redirect("https://client.example.com/hop", DOC);
    assert!(authorize_as(&w, DOC).body_str().contains("redirects"), "a redirect loop ends");
    assert!(!w.fetch.fetched.borrow().iter().any(|u| u.contains("192.168") || u.contains("127.0.0.1")));
}

#[test]
fn documents_are_off_unless_turned_on_and_follow_the_operators_lists() {
    let w = World::new();
    w.fetch.serve(DOC, &document(DOC).to_string(), None);
    let r = authorize_as(&w, DOC);
    assert_eq!(r.status, 400);
    assert!(w.fetch.fetched.borrow().is_empty(), "off: nothing is fetched");
    let w = World::with_vars(&[
        ("CLIENT_ID_METADATA_DOCUMENTS", "on"),
        ("CLIENT_ID_METADATA_DENIED_HOSTS", "*.example.com"),
    ]);
    w.fetch.serve(DOC, &document(DOC).to_string(), None);
    assert!(authorize_as(&w, DOC).body_str().contains("not accepted"));
    assert!(w.fetch.fetched.borrow().is_empty());
}

fn register(w: &World, meta: &Value, headers: &[(&str, &str)]) -> (u16, Value, Response) {
    let mut h: Vec<(String, String)> = vec![("content-type".into(), "application/json".into())];
    h.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let r = w.call(Request {
        method: "POST".into(),
        path: "/register".into(),
        headers: h,
        body: meta.to_string().into_bytes(),
        ..Default::default()
    });
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null), r)
}

fn manage(w: &World, method: &str, uri: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let path = uri.trim_start_matches(ISSUER).to_string();
    let mut headers = vec![("authorization".to_string(), format!("Bearer {token}"))];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let r = w.call(Request {
        method: method.into(),
        path,
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        ..Default::default()
    });
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

#[test]
fn open_registration_creates_a_client_that_works_and_manages_itself() {
    let w = World::with_vars(&[("REGISTRATION", "open")]);
    let meta = json!({"client_name": "Registered MCP client", "redirect_uris": [CB],
        "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid profile offline_access", "software_id": "ignored"});
    let (s, v, r) = register(&w, &meta, &[]);
    assert_eq!(s, 201, "{v}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let id = v["client_id"].as_str().unwrap().to_string();
    let secret = v["client_secret"].as_str().unwrap().to_string();
    let token = v["registration_access_token"].as_str().unwrap().to_string();
    let uri = v["registration_client_uri"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("{ISSUER}/register/{id}"));
    assert_eq!(v["client_secret_expires_at"], 0);
    assert!(v.get("client_secret_hash").is_none() && v.get("registration_access_token_hash").is_none(), "{v}");
    // KV deletes it if unused for 30 days.
    assert_eq!(w.clients.expirations.borrow().get(&id), Some(&(T0 + 30 * 86_400)));
    // It signs a user in like any client; the consent page says it registered itself.
    w.fresh_browser();
    let page = authorize_as(&w, &id);
    let consent = w.login(&page, "alice", PASSWORD);
    assert!(consent.body_str().contains("not registered by the operator"));
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    let form = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let (s, v, _) = w.token(&form, Some((&id, &secret)));
    assert_eq!(s, 200, "{v}");
    // Used, it is kept 30 days from its last use (written again at most once a day) ...
    assert_eq!(w.clients.expirations.borrow().get(&id), Some(&(T0 + 30 * 86_400)));
    w.advance(2 * 86_400);
    w.fresh_browser();
    let page = w.authorize(&[
        ("response_type", "code"),
        ("client_id", &id),
        ("redirect_uri", CB),
        ("scope", "openid offline_access"),
        ("state", "s"),
        ("nonce", "n"),
    ]);
    let p = redirect_params(&w.consent(&w.login(&page, "alice", PASSWORD), "allow"), CB);
    let form = [("grant_type", "authorization_code"), ("code", param(&p, "code").unwrap()), ("redirect_uri", CB)];
    let (s, v, _) = w.token(&form, Some((&id, &secret)));
    assert!(v["refresh_token"].is_string(), "{s}: {v}");
    // ... and never deleted while a grant of it can be used: here a refresh token, a year.
    assert_eq!(w.clients.expirations.borrow().get(&id), Some(&(T0 + 2 * 86_400 + 365 * 86_400)));
    // RFC 7592: read, update, delete with the registration access token.
    assert_eq!(manage(&w, "GET", &uri, "wrong-token", None).0, 401);
    let (s, v) = manage(&w, "GET", &uri, &token, None);
    assert_eq!((s, v["client_name"].as_str()), (200, Some("Registered MCP client")), "{v}");
    // Each answer carries the registration access token (RFC 7592 §3), the same one (not
    // rotated: KV is eventually consistent).
    let token2 = v["registration_access_token"].as_str().unwrap().to_string();
    assert_eq!(token2, token);
    let mut update = meta.clone();
    update["client_id"] = json!(id);
    update["client_name"] = json!("Renamed");
    let (s, v) = manage(&w, "PUT", &uri, &token2, Some(&update));
    assert_eq!((s, v["client_name"].as_str()), (200, Some("Renamed")), "{v}");
    let token = v["registration_access_token"].as_str().unwrap().to_string();
    // A registered client cannot give itself a client credentials grant (no user would consent).
    let mut own = update.clone();
    own["grant_types"] = json!(["authorization_code", "client_credentials"]);
    let (s, v) = manage(&w, "PUT", &uri, &token, Some(&own));
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_client_metadata")), "{v}");
    assert_eq!(manage(&w, "DELETE", &uri, &token, None).0, 204);
    assert_eq!(manage(&w, "GET", &uri, &token, None).0, 401);
    assert_eq!(authorize_as(&w, &id).status, 400, "gone");
    let d: Value = serde_json::from_slice(&w.get("/.well-known/openid-configuration").body).unwrap();
    assert_eq!(d["registration_endpoint"], format!("{ISSUER}/register"));
}

#[test]
fn registrations_are_checked_and_counted() {
    let w = World::with_vars(&[("REGISTRATION", "open"), ("REGISTRATION_MAX_PER_IP", "3")]);
    let ok = json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none"});
    for (meta, error) in [
        (json!({"redirect_uris": ["http://app.example/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": [CB], "token_endpoint_auth_method": "tls_client_auth"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [CB], "grant_types": ["password"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": "https://app.example/cb"}), "invalid_client_metadata"),
        (json!({"token_endpoint_auth_method": "none"}), "invalid_redirect_uri"),
    ] {
        let (s, v, _) = register(&w, &meta, &[]);
        assert_eq!((s, v["error"].as_str()), (400, Some(error)), "{meta}: {v}");
    }
    // A public client gets no secret.
    let (s, v, _) = register(&w, &ok, &[]);
    assert_eq!(s, 201);
    assert!(v.get("client_secret").is_none());
    let from = [("cf-connecting-ip", "203.0.113.9")];
    for _ in 0..3 {
        assert_eq!(register(&w, &ok, &from).0, 201);
    }
    let (s, _, r) = register(&w, &ok, &from);
    assert_eq!(s, 429, "the fourth from one address waits");
    assert!(r.header("retry-after").is_some());
    assert_eq!(register(&w, &ok, &[("cf-connecting-ip", "203.0.113.10")]).0, 201, "another address does not");
}

#[test]
fn registration_with_an_initial_access_token_or_none_at_all() {
    let w = World::with_vars(&[("REGISTRATION", "token"), ("REGISTRATION_TOKENS", "first-token, second-token")]);
    let meta = json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none"});
    let (s, v, r) = register(&w, &meta, &[]);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_token")));
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert_eq!(register(&w, &meta, &[("authorization", "Bearer wrong")]).0, 401);
    assert_eq!(register(&w, &meta, &[("authorization", "Bearer second-token")]).0, 201);
    let off = World::new();
    assert_eq!(register(&off, &meta, &[]).0, 404);
}
