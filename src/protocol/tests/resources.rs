//! An authorization server for resource servers: OAuth without `openid`, resources (RFC
//! 8707), JWT access tokens (RFC 9068), client credentials (RFC 6749 §4.4) and
//! `private_key_jwt` (RFC 7523).

use super::*;
use crate::model::resource::resource_key;

const API: &str = "https://mcp.example.com/mcp";
const OTHER_API: &str = "https://api.example.org";

/// A resource server with two API scopes, whose tokens `format` ("opaque" or "jwt"), and
/// whose own credentials are the client `basic` (it may introspect its tokens).
fn with_api(w: &World, format: &str) {
    let r = json!({"resource": API, "name": "Example MCP", "access_token_format": format,
        "scopes": [{"name": "mcp:tools", "description": "use your tools", "descriptions": {"de": "Ihre Werkzeuge verwenden"}},
                   {"name": "mcp:admin", "description": "manage the server"}],
        "introspection_clients": ["basic"]});
    w.clients.put(&resource_key(API), &r.to_string());
    let other = json!({"resource": OTHER_API, "scopes": [{"name": "read", "description": "read things"}]});
    w.clients.put(&resource_key(OTHER_API), &other.to_string());
    // An MCP client: public, PKCE, may refresh; no OpenID Connect scopes needed.
    let mcp = json!({"client_id": "mcp", "client_name": "MCP Inspector", "redirect_uris": [CB],
        "token_endpoint_auth_method": "none", "scope": "openid mcp:tools offline_access read",
        "grant_types": ["authorization_code", "refresh_token"]});
    w.clients.put("mcp", &mcp.to_string());
}

fn mcp_request(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", "mcp"),
        ("redirect_uri", CB),
        ("scope", "mcp:tools"),
        ("state", "st-9"),
        ("resource", API),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        p.retain(|(n, _)| n != k);
        if !v.is_empty() {
            p.push((k.to_string(), v.to_string()));
        }
    }
    p
}

fn authorize_owned(w: &World, p: &[(String, String)]) -> Response {
    let borrowed: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    w.authorize(&borrowed)
}

/// Signs in and allows: the code.
fn mcp_code(w: &World, extra: &[(&str, &str)]) -> String {
    w.fresh_browser();
    let page = authorize_owned(w, &mcp_request(extra));
    assert_eq!(page.status, 200, "{}", page.body_str());
    let consent = w.login(&page, "alice", PASSWORD);
    assert_eq!(consent.status, 200, "{}", consent.body_str());
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    param(&p, "code").unwrap().to_string()
}

fn redeem(w: &World, code: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form =
        vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB), ("client_id", "mcp")];
    form.extend_from_slice(extra);
    let (s, v, _) = w.token(&form, None);
    (s, v)
}

#[test]
fn oauth_without_openid_gets_an_access_token_for_its_resource_and_no_id_token() {
    let w = World::new();
    with_api(&w, "opaque");
    w.fresh_browser();
    let page = authorize_owned(&w, &mcp_request(&[("ui_locales", "de")]));
    let consent = w.login(&page, "alice", PASSWORD);
    // The consent page says what the resource's scope allows, in the person's language, and
    // which resource it is.
    let body = consent.body_str();
    assert!(body.contains("Ihre Werkzeuge verwenden") && body.contains("Example MCP"), "{body}");
    let p = redirect_params(&w.consent(&consent, "allow"), CB);
    let code = param(&p, "code").unwrap();
    let (s, v) = redeem(&w, code, &[("resource", API)]);
    assert_eq!(s, 200, "{v}");
    assert!(v.get("id_token").is_none(), "plain OAuth: no ID token: {v}");
    assert_eq!(v["scope"], "mcp:tools");
    assert_eq!(v["token_type"], "Bearer");
    let at = v["access_token"].as_str().unwrap();
    // The resource server (client `basic`) introspects it: active, for it.
    let (_, i) = w.token_like("/introspect", &[("token", at)], Some(("basic", BASIC_SECRET)));
    assert_eq!((i["active"].as_bool(), i["aud"].as_str()), (Some(true), Some(API)), "{i}");
    assert_eq!(i["client_id"], "mcp");
    // Another confidential client learns nothing.
    let (_, i) =
        w.token_like("/introspect", &[("token", at), ("client_id", "post"), ("client_secret", POST_SECRET)], None);
    assert_eq!(i["active"], false, "{i}");
    // Userinfo is for OpenID Connect tokens: 403 insufficient_scope (RFC 6750 §3.1).
    let r = w.call(Request {
        method: "GET".into(),
        path: "/userinfo".into(),
        headers: vec![("authorization".into(), format!("Bearer {at}"))],
        ..Default::default()
    });
    assert_eq!(r.status, 403);
    assert!(r.header("www-authenticate").unwrap().contains("insufficient_scope"), "{:?}", r.headers);
}

#[test]
fn openid_with_a_resource_gets_both_tokens_and_the_access_token_is_for_the_resource() {
    let w = World::new();
    with_api(&w, "opaque");
    let code = mcp_code(&w, &[("scope", "openid mcp:tools offline_access"), ("nonce", "n-7")]);
    let (s, v) = redeem(&w, &code, &[]);
    assert_eq!(s, 200, "{v}");
    let claims = verify_id_token(&w, v["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "mcp");
    assert!(v["refresh_token"].is_string());
    // A refresh keeps the resource; naming another one is invalid_target (RFC 8707 §2).
    let rt = v["refresh_token"].as_str().unwrap();
    let refresh = |resource: &str| {
        let form =
            [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "mcp"), ("resource", resource)];
        w.token(&form, None)
    };
    let (s, v, _) = refresh(OTHER_API);
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_target")), "{v}");
    let (s, v, _) = refresh(API);
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap();
    let (_, i) = w.token_like("/introspect", &[("token", at)], Some(("basic", BASIC_SECRET)));
    assert_eq!(i["aud"], API);
}

#[test]
fn resources_must_be_registered_allowed_and_one() {
    let w = World::new();
    with_api(&w, "opaque");
    let error_of = |extra: &[(&str, &str)]| {
        let r = authorize_owned(&w, &mcp_request(extra));
        param(&redirect_params(&r, CB), "error").map(str::to_string)
    };
    assert_eq!(error_of(&[("resource", "https://unknown.example/api")]).as_deref(), Some("invalid_target"));
    assert_eq!(error_of(&[("resource", "https://mcp.example.com/mcp#x")]).as_deref(), Some("invalid_target"));
    assert_eq!(error_of(&[("resource", "mcp.example.com")]).as_deref(), Some("invalid_target"));
    // Plain OAuth needs a resource; an OpenID Connect request does not.
    assert_eq!(error_of(&[("resource", "")]).as_deref(), Some("invalid_scope"));
    assert_eq!(authorize_owned(&w, &mcp_request(&[("resource", ""), ("scope", "openid")])).status, 200);
    // A scope the resource defines but the client may not ask for.
    assert_eq!(error_of(&[("scope", "mcp:admin")]).as_deref(), Some("invalid_scope"));
    // A client limited to some resources.
    let mut limited: Value = serde_json::from_str(&w.clients.get("mcp").unwrap()).unwrap();
    limited["resources"] = json!([OTHER_API]);
    w.clients.put("mcp", &limited.to_string());
    assert_eq!(error_of(&[]).as_deref(), Some("invalid_target"));
    // Two resources in one request: refused, not half-served (RFC 8707 §2 allows several; one
    // per request here).
    let q = format!(
        "/authorize?response_type=code&client_id=mcp&redirect_uri={}&scope=read&resource={}&resource={}",
        url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(OTHER_API.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(API.as_bytes()).collect::<String>()
    );
    let r = w.get(&q);
    let p = redirect_params(&r, CB);
    assert_eq!(param(&p, "error"), Some("invalid_target"));
    assert!(param(&p, "error_description").unwrap().contains("one resource per request"));
}

#[test]
fn a_code_is_redeemed_only_for_its_own_resource() {
    let w = World::new();
    with_api(&w, "opaque");
    let code = mcp_code(&w, &[]);
    let (s, v) = redeem(&w, &code, &[("resource", OTHER_API)]);
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_target")), "{v}");
    // Refused before the code was used: the right request still works.
    let (s, v) = redeem(&w, &code, &[("resource", API)]);
    assert_eq!(s, 200, "{v}");
}

/// Decodes a JWT's header and payload without checking it.
fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let mut next = || serde_json::from_slice(&crate::crypto::b64url_decode(parts.next().unwrap()).unwrap()).unwrap();
    (next(), next())
}

#[test]
fn jwt_access_tokens_follow_rfc9068_and_are_revocable_through_the_provider() {
    let w = World::new();
    with_api(&w, "jwt");
    let code = mcp_code(&w, &[]);
    let (_, v) = redeem(&w, &code, &[]);
    let at = v["access_token"].as_str().unwrap().to_string();
    let (header, claims) = jwt_parts(&at);
    assert_eq!((header["typ"].as_str(), header["alg"].as_str()), (Some("at+jwt"), Some("RS256")), "{header}");
    assert!(header["kid"].is_string());
    // Signed by the key the JWKS publishes, as a resource server checks it.
    let checked = verify_id_token(&w, &at);
    assert_eq!(checked, claims);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["client_id"], "mcp");
    assert_eq!(claims["scope"], "mcp:tools");
    assert_eq!(claims["sub"], "u-7f3a9c");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert_eq!(v["expires_in"], 3600);
    assert!(claims["jti"].as_str().unwrap().contains('.'));
    // Not an ID token: never taken for an id_token_hint.
    let hint = authorize_owned(&w, &mcp_request(&[("scope", "openid"), ("id_token_hint", &at), ("nonce", "n")]));
    assert_eq!(param(&redirect_params(&hint, CB), "error"), Some("invalid_request"));
    // Introspection knows it; revoking it (RFC 7009) ends the grant: introspection then says
    // inactive (a resource server checking the JWT alone learns it at exp).
    let (_, i) = w.token_like("/introspect", &[("token", &at)], Some(("basic", BASIC_SECRET)));
    assert_eq!((i["active"].as_bool(), i["token_type"].as_str()), (Some(true), Some("Bearer")), "{i}");
    let (s, _) = w.token_like("/revoke", &[("token", &at), ("client_id", "mcp")], None);
    assert_eq!(s, 200);
    let (_, i) = w.token_like("/introspect", &[("token", &at)], Some(("basic", BASIC_SECRET)));
    assert_eq!(i["active"], false, "{i}");
    // A resource with its own lifetime.
    let mut r: Value = serde_json::from_str(&w.clients.get(&resource_key(API)).unwrap()).unwrap();
    r["access_token_ttl_seconds"] = json!(300);
    w.clients.put(&resource_key(API), &r.to_string());
    let code = mcp_code(&w, &[]);
    let (_, v) = redeem(&w, &code, &[]);
    assert_eq!(v["expires_in"], 300);
    let (_, claims) = jwt_parts(v["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
}

/// A machine client: its own tokens for a resource.
fn with_machine(w: &World, method: Value) {
    let mut c = json!({"client_id": "robot", "client_name": "Nightly job", "grant_types": ["client_credentials"],
        "scope": "mcp:tools mcp:admin", "resources": [API]});
    for (k, v) in method.as_object().unwrap() {
        c[k] = v.clone();
    }
    w.clients.put("robot", &c.to_string());
}

#[test]
fn client_credentials_give_a_machine_client_its_own_token() {
    let w = World::new();
    with_api(&w, "jwt");
    with_machine(
        &w,
        json!({"token_endpoint_auth_method": "client_secret_basic", "client_secret_hash": hash_client_secret(BASIC_SECRET)}),
    );
    let basic = Some(("robot", BASIC_SECRET));
    let (s, v, _) = w.token(&[("grant_type", "client_credentials")], basic);
    assert_eq!(s, 200, "{v}");
    assert!(v.get("refresh_token").is_none() && v.get("id_token").is_none(), "{v}");
    assert_eq!(v["scope"], "mcp:tools mcp:admin", "the record's scopes the resource defines");
    let (_, claims) = jwt_parts(v["access_token"].as_str().unwrap());
    assert_eq!((claims["sub"].as_str(), claims["aud"].as_str()), (Some("robot"), Some(API)));
    assert!(claims.get("auth_time").is_none());
    let (s, v, _) = w.token(&[("grant_type", "client_credentials"), ("scope", "mcp:tools")], basic);
    assert_eq!((s, v["scope"].as_str()), (200, Some("mcp:tools")));
    // Introspection and revocation treat it like any other token.
    let at = v["access_token"].as_str().unwrap();
    let (_, i) = w.token_like("/introspect", &[("token", at)], basic);
    assert_eq!((i["active"].as_bool(), i["sub"].as_str()), (Some(true), Some("robot")), "{i}");
    for (form, error) in [
        (vec![("grant_type", "client_credentials"), ("scope", "openid")], "invalid_scope"),
        (vec![("grant_type", "client_credentials"), ("scope", "read")], "invalid_scope"),
        (vec![("grant_type", "client_credentials"), ("resource", OTHER_API)], "invalid_target"),
    ] {
        let (s, v, _) = w.token(&form, basic);
        assert_eq!((s, v["error"].as_str()), (400, Some(error)), "{form:?}: {v}");
    }
    // A client not registered for the grant.
    let (s, v, _) = w.token(&[("grant_type", "client_credentials")], Some(("basic", BASIC_SECRET)));
    assert_eq!((s, v["error"].as_str()), (400, Some("unauthorized_client")));
    // A public client cannot be given the grant at all.
    let public = json!({"client_id": "pub", "redirect_uris": [CB], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "client_credentials"]});
    let e = Client::from_record("pub", &public.to_string()).unwrap_err();
    assert!(e.contains("confidential"), "{e}");
}

/// An ES256 key of the client's own (fixed, for the test), its public JWK, and an assertion.
fn client_key() -> (p256::ecdsa::SigningKey, Value) {
    let key = p256::ecdsa::SigningKey::from_bytes(&[0x42; 32].into()).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let b = |v: Option<&p256::FieldBytes>| crate::crypto::b64url(v.unwrap());
    let jwk =
        json!({"kty": "EC", "crv": "P-256", "x": b(point.x()), "y": b(point.y()), "kid": "robot-1", "use": "sig"});
    (key, jwk)
}

fn assertion(key: &p256::ecdsa::SigningKey, claims: Value) -> String {
    use p256::ecdsa::signature::Signer;
    let header = crate::crypto::b64url(json!({"alg": "ES256", "kid": "robot-1", "typ": "JWT"}).to_string().as_bytes());
    let input = format!("{header}.{}", crate::crypto::b64url(claims.to_string().as_bytes()));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", crate::crypto::b64url(&sig.to_bytes()))
}

#[test]
fn private_key_jwt_assertions_are_checked_and_used_once() {
    let w = World::new();
    with_api(&w, "opaque");
    let (key, jwk) = client_key();
    with_machine(&w, json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}}));
    let claims =
        |jti: &str| json!({"iss": "robot", "sub": "robot", "aud": ISSUER, "jti": jti, "iat": T0, "exp": T0 + 120});
    let post = |a: &str| {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", a),
        ];
        w.token(&form, None)
    };
    let a = assertion(&key, claims("one"));
    let (s, v, _) = post(&a);
    assert_eq!(s, 200, "{v}");
    // RFC 7523 §3: used once.
    let (s, v, r) = post(&a);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("used before"), "{v}");
    assert!(r.header("www-authenticate").is_some());
    // The token endpoint's URL is an audience too; anything else is not.
    let mut c = claims("two");
    c["aud"] = json!(format!("{ISSUER}/token"));
    assert_eq!(post(&assertion(&key, c)).0, 200);
    for (name, bad) in [
        ("another audience", json!({"aud": "https://other.example"})),
        ("expired", json!({"exp": T0 - 120})),
        ("too long-lived", json!({"exp": T0 + 3600})),
        ("another issuer", json!({"iss": "someone"})),
        ("no jti", json!({"jti": null})),
        ("not yet valid", json!({"nbf": T0 + 600})),
    ] {
        let mut c = claims(name);
        for (k, v) in bad.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        let (s, v, _) = post(&assertion(&key, c));
        assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "{name}: {v}");
    }
    // Another key's signature.
    let other = p256::ecdsa::SigningKey::from_bytes(&[0x43; 32].into()).unwrap();
    let (s, v, _) = post(&assertion(&other, claims("three")));
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "{v}");
    // A secret instead of the registered method.
    let (s, _, _) = w.token(&[("grant_type", "client_credentials")], Some(("robot", "guess")));
    assert_eq!(s, 401);
}

#[test]
fn private_key_jwt_keys_from_a_jwks_uri_are_fetched_safely_and_cached() {
    let w = World::new();
    with_api(&w, "opaque");
    let (key, jwk) = client_key();
    let uri = "https://robot.example.com/jwks.json";
    w.fetch.serve(uri, &json!({"keys": [jwk]}).to_string(), Some("max-age=600"));
    with_machine(&w, json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": uri}));
    let post = |jti: &str| {
        let a = assertion(&key, json!({"iss": "robot", "sub": "robot", "aud": ISSUER, "jti": jti, "exp": T0 + 60}));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", a.as_str()),
        ];
        w.token(&form, None)
    };
    assert_eq!(post("a").0, 200);
    assert_eq!(post("b").0, 200);
    assert_eq!(w.fetch.fetched.borrow().len(), 1, "fetched once, then from the isolate's cache");
    // A jwks_uri into a private network is never fetched (SSRF), even after a redirect.
    let inner = "https://robot.example.com/inner.json";
    w.fetch.redirect(inner, "https://169.254.169.254/latest/meta-data");
    let mut c: Value = serde_json::from_str(&w.clients.get("robot").unwrap()).unwrap();
    c["jwks_uri"] = json!(inner);
    w.clients.put("robot", &c.to_string());
    let (s, v, _) = post("c");
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("private"), "{v}");
    assert!(!w.fetch.fetched.borrow().iter().any(|u| u.contains("169.254")), "{:?}", w.fetch.fetched.borrow());
}

#[test]
fn discovery_advertises_the_authorization_server() {
    let w = World::new();
    let d: Value = serde_json::from_slice(&w.get("/.well-known/oauth-authorization-server").body).unwrap();
    assert_eq!(d["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    assert!(d["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt")));
    assert_eq!(d["token_endpoint_auth_signing_alg_values_supported"], json!(["RS256", "ES256", "EdDSA"]));
    assert_eq!(d["client_id_metadata_document_supported"], false);
    assert!(d.get("registration_endpoint").is_none(), "registration is off by default");
}
