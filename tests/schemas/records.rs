//! The records `oidc-admin` writes: they validate against `schemas/`, parse with the model,
//! verify against the secrets it shows, and hold no plaintext secret; the schemas themselves.

use super::*;

#[test]
fn demo_records_match_schemas_and_secrets() {
    let p = Printed::run(&["--print", "demo"], "");
    let mut keys = p.keys();
    keys.sort();
    assert_eq!(keys, ["CLIENTS/demo-app", "USERS/email:demo@example.com", "USERS/user:demo"]);

    let client = p.record("CLIENTS", "demo-app");
    assert_valid("client", client);
    let c = Client::from_record("demo-app", &client.to_string()).expect("demo client parses");
    assert_eq!(c.client_name.as_deref(), Some("Demo App"));
    assert_eq!(c.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(c.redirect_uris, ["http://127.0.0.1:3000/callback"]);
    assert_eq!(c.scope, "openid profile email");
    assert!(c.client_id_issued_at.is_some());

    let secret = p.result["client_secret"].as_str().expect("secret shown");
    assert_eq!(secret.len(), 43, "256-bit base64url secret");
    let stored = c.client_secret_hash.as_deref().expect("hash stored");
    assert!(verify_client_secret(secret, stored));
    assert!(!verify_client_secret("not-the-secret", stored));

    let user = p.record("USERS", "user:demo");
    assert_valid("user", user);
    let u = User::from_record("user:demo", &user.to_string()).expect("demo user parses");
    assert_eq!((u.email.as_deref(), u.email_verified), (Some("demo@example.com"), Some(true)));
    assert_eq!(u.name.as_deref(), Some("Demo User"));
    assert_eq!((u.given_name.as_deref(), u.family_name.as_deref()), (Some("Demo"), Some("User")));
    assert_eq!((u.preferred_username.as_deref(), u.locale.as_deref()), (Some("demo"), Some("en")));
    assert!(u.updated_at.is_some());
    assert_eq!(b64url_decode(&u.sub).map(|b| b.len()), Some(16), "sub is 16 random bytes");
    assert_eq!(p.result["password"], "demo-password");
    assert!(password_matches(&u.password_hash, "demo-password"));
    assert!(!password_matches(&u.password_hash, "demo-passwore"));

    let alias = p.record("USERS", "email:demo@example.com");
    assert_valid("user-email", alias);
    let a: EmailAlias = serde_json::from_value(alias.clone()).expect("alias parses");
    assert_eq!(a.username, "demo");

    let records = serde_json::to_string(&p.records).unwrap();
    assert!(!records.contains(secret) && !records.contains("demo-password"), "plaintext in records: {records}");

    // A second run generates a new secret (and, with --print, nothing is read).
    let again = Printed::run(&["--print", "demo", "--redirect-uri", "https://rp.example/cb"], "");
    assert_ne!(again.result["client_secret"], p.result["client_secret"]);
    assert_eq!(again.record("CLIENTS", "demo-app")["redirect_uris"], json!(["https://rp.example/cb"]));
    assert!(p.raw.contains(secret), "--print shows the secret once");
}

#[test]
fn clients_add_public_and_confidential() {
    let p = Printed::run(
        &[
            "--print",
            "clients",
            "add",
            "spa",
            "--auth-method",
            "none",
            "--name",
            "Single Page App",
            "--redirect-uri",
            "https://spa.example/cb",
            "--redirect-uri",
            "com.example.spa:/cb",
            "--scope",
            "openid  email",
        ],
        "",
    );
    assert_eq!(p.keys(), ["CLIENTS/spa"]);
    let client = p.record("CLIENTS", "spa");
    assert_valid("client", client);
    let c = Client::from_record("spa", &client.to_string()).expect("parses");
    assert_eq!(c.token_endpoint_auth_method, AuthMethod::None);
    assert_eq!(c.client_secret_hash, None);
    assert_eq!(c.scope, "openid email");
    assert_eq!(c.redirect_uris.len(), 2);
    assert_eq!(p.result, json!({"client_id": "spa"}), "a public client has no secret");
    assert!(client.get("id_token_signed_response_alg").is_none(), "the default RS256 is not written");

    for alg in ["ES256", "EdDSA"] {
        let p = Printed::run(
            &["--print", "clients", "add", "ec", "--redirect-uri", "https://ec.example/cb", "--id-token-alg", alg],
            "",
        );
        let client = p.record("CLIENTS", "ec");
        assert_valid("client", client);
        assert_eq!(client["id_token_signed_response_alg"], alg);
        let c = Client::from_record("ec", &client.to_string()).expect("parses");
        assert_eq!(c.id_token_signed_response_alg.as_str(), alg);
    }

    let p = Printed::run(
        &[
            "--print",
            "clients",
            "add",
            "api",
            "--auth-method",
            "client_secret_post",
            "--redirect-uri",
            "https://api.example/cb",
        ],
        "",
    );
    let client = p.record("CLIENTS", "api");
    assert_valid("client", client);
    let c = Client::from_record("api", &client.to_string()).expect("parses");
    let secret = p.result["client_secret"].as_str().expect("secret");
    assert!(verify_client_secret(secret, c.client_secret_hash.as_deref().unwrap()));
    assert!(!client.to_string().contains(secret));

    // Invalid requests are refused before anything is written.
    let err = admin_err(&["--print", "clients", "add", "bad", "--redirect-uri", "http://rp.example/cb"], "", 2);
    assert!(err.contains("loopback"), "{err}");
    let err = admin_err(&["--print", "clients", "add", "nouri"], "", 2);
    assert!(err.contains("--redirect-uri"), "{err}");
    // Refresh tokens: the grant type and the offline_access scope.
    let p = Printed::run(
        &[
            "--print",
            "clients",
            "add",
            "mobile",
            "--redirect-uri",
            "com.example.mobile:/cb",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid offline_access",
        ],
        "",
    );
    let client = p.record("CLIENTS", "mobile");
    assert_valid("client", client);
    let c = Client::from_record("mobile", &client.to_string()).expect("parses");
    assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(c.scope, "openid offline_access");
    let err = admin_err(
        &["--print", "clients", "add", "x", "--redirect-uri", "https://a.example/cb", "--grant-type", "password"],
        "",
        2,
    );
    assert!(err.contains("refresh_token"), "{err}");

    // A machine client: no redirect URI, its own tokens for a resource, keys instead of a secret.
    let dir = scratch_dir("jwks");
    let jwks = dir.join("jwks.json");
    let key = json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(&[5; 32])});
    std::fs::write(&jwks, json!({"keys": [key]}).to_string()).unwrap();
    let p = Printed::run(
        &[
            "--print",
            "clients",
            "add",
            "robot",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            jwks.to_str().unwrap(),
            "--scope",
            "mcp:tools",
            "--resource",
            "https://mcp.example.com/mcp",
        ],
        "",
    );
    let rec = p.record("CLIENTS", "robot");
    assert_valid("client", rec);
    assert_eq!(rec["grant_types"], json!(["client_credentials"]));
    assert!(rec.get("client_secret_hash").is_none() && rec.get("redirect_uris").is_none_or(|r| r == &json!([])));
    let client = Client::from_record("robot", &rec.to_string()).unwrap();
    assert_eq!(client.token_endpoint_auth_method, AuthMethod::PrivateKeyJwt);
    let err = admin_err(
        &["--print", "clients", "add", "robot", "--grant-type", "client_credentials", "--auth-method", "none"],
        "",
        2,
    );
    assert!(err.contains("confidential"), "{err}");
}

#[test]
fn users_add_with_password_on_stdin() {
    let p = Printed::run(
        &[
            "--print",
            "users",
            "add",
            "alice",
            "--email",
            "Alice@Example.COM",
            "--email-verified",
            "--name",
            "Alice Liddell",
            "--given-name",
            "Alice",
            "--family-name",
            "Liddell",
            "--picture",
            "https://img.example/a.png",
            "--birthdate",
            "1852-05-04",
            "--zoneinfo",
            "Europe/London",
            "--locale",
            "en-GB",
            "--iterations",
            "10000",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    let mut keys = p.keys();
    keys.sort();
    assert_eq!(keys, ["USERS/email:alice@example.com", "USERS/user:alice"]);
    let user = p.record("USERS", "user:alice");
    assert_valid("user", user);
    let u = User::from_record("user:alice", &user.to_string()).expect("parses");
    assert_eq!(u.email.as_deref(), Some("Alice@Example.COM"));
    assert_eq!(u.password().unwrap().iterations, 10_000);
    assert!(password_matches(&u.password_hash, "correct horse battery"), "trailing newline stripped");
    assert!(!password_matches(&u.password_hash, "correct horse battery\n"));
    assert!(!p.raw.contains("correct horse"));
    assert_valid("user-email", p.record("USERS", "email:alice@example.com"));
    assert_eq!(p.result["sub"], user["sub"]);

    // Without an email there is no alias.
    let p =
        Printed::run(&["--print", "users", "add", "bob", "--iterations", "10000", "--password-stdin"], "12345678\n");
    assert_eq!(p.keys(), ["USERS/user:bob"]);
    assert_valid("user", p.record("USERS", "user:bob"));

    for (pw, why) in [("", "empty"), ("\n", "empty"), ("short\n", "shorter than 8")] {
        let err = admin_err(&["--print", "users", "add", "carol", "--password-stdin"], pw, 2);
        assert!(err.contains(why), "{pw:?}: {err}");
    }
    let err = admin_err(&["--print", "users", "add", "no@at", "--password-stdin"], "12345678\n", 2);
    assert!(err.contains("username"), "{err}");
    let err =
        admin_err(&["--print", "users", "add", "dave", "--iterations", "1000", "--password-stdin"], "12345678\n", 2);
    assert!(err.contains("iterations"), "{err}");
}

#[test]
fn broken_records_fail_the_schemas() {
    let secret_hash = edge_oidc::crypto::hash_client_secret("s");
    let good_client =
        json!({"client_id": "app", "redirect_uris": ["https://app.example/cb"], "client_secret_hash": secret_hash});
    assert_valid("client", &good_client);
    let with = |base: &Value, patch: Value| {
        let mut v = base.clone();
        for (k, x) in patch.as_object().unwrap() {
            if x.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = x.clone();
            }
        }
        v
    };
    assert_invalid("client", &with(&good_client, json!({"redirect_uris": null})), "no redirect_uris");
    assert_invalid("client", &with(&good_client, json!({"redirect_uris": []})), "empty redirect_uris");
    assert_invalid("client", &with(&good_client, json!({"client_secret_hash": null})), "no secret hash");
    assert_invalid("client", &with(&good_client, json!({"client_secret_hash": "hunter2"})), "a plaintext secret");
    assert_invalid(
        "client",
        &with(&good_client, json!({"token_endpoint_auth_method": "none"})),
        "a hash on a public client",
    );
    assert_invalid(
        "client",
        &with(&good_client, json!({"token_endpoint_auth_method": "private_key_jwt"})),
        "an unknown auth method",
    );
    assert_invalid("client", &with(&good_client, json!({"grant_types": ["implicit"]})), "the implicit grant");
    assert_valid("client", &with(&good_client, json!({"grant_types": ["authorization_code", "refresh_token"]})));
    assert_valid("client", &with(&good_client, json!({"scope": "openid address phone offline_access"})));
    assert_invalid("client", &with(&good_client, json!({"response_types": ["token"]})), "response type token");
    assert_valid("client", &with(&good_client, json!({"scope": "mcp:tools"})));
    assert_valid("client", &with(&good_client, json!({"scope": "openid groups"})));
    assert_invalid("client", &with(&good_client, json!({"scope": "openid \"bad\""})), "a scope with a quote");
    assert_invalid("client", &with(&good_client, json!({"redirect_uris": ["https://a.example/cb#x"]})), "a fragment");
    assert_invalid("client", &with(&good_client, json!({"colour": "blue"})), "an unknown field");
    assert_invalid("client", &with(&good_client, json!({"id_token_signed_response_alg": "HS256"})), "alg HS256");
    assert_invalid("client", &with(&good_client, json!({"id_token_signed_response_alg": "none"})), "alg none");
    assert_invalid("client", &with(&good_client, json!({"client_id": "bad id"})), "a space in client_id");
    assert_valid(
        "client",
        &with(&good_client, json!({"token_endpoint_auth_method": "none", "client_secret_hash": null})),
    );

    let phc = PasswordHash { iterations: 100_000, salt: vec![7; 16], hash: vec![9; 32] }.to_phc();
    let good_user = json!({"sub": "s1", "username": "alice", "password_hash": phc});
    assert_valid("user", &good_user);
    assert_invalid("user", &with(&good_user, json!({"password_hash": "hunter2"})), "a plaintext password");
    assert_invalid(
        "user",
        &with(&good_user, json!({"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"})),
        "argon2",
    );
    // A user invited to enrol a passkey has no password (`oidc-admin users invite`).
    assert_valid("user", &with(&good_user, json!({"password_hash": null})));
    assert_invalid("user", &with(&good_user, json!({"password_hash": ""})), "an empty password hash");
    assert_invalid("user", &with(&good_user, json!({"sub": null})), "no sub");
    assert_invalid("user", &with(&good_user, json!({"sub": ""})), "an empty sub");
    assert_invalid("user", &with(&good_user, json!({"sub": "é"})), "a non-ASCII sub");
    assert_invalid("user", &with(&good_user, json!({"username": "a@b"})), "an '@' in the username");
    assert_invalid("user", &with(&good_user, json!({"email_verified": "yes"})), "a string email_verified");
    assert_invalid("user", &with(&good_user, json!({"email": "nobody"})), "an email without '@'");
    assert_invalid("user", &with(&good_user, json!({"password": "hunter2"})), "a password field");

    assert_invalid("user", &with(&good_user, json!({"claims": {"sub": "admin"}})), "a registered claim name");
    assert_invalid("user", &with(&good_user, json!({"claims": {"email": "x@y"}})), "a standard claim as custom");
    assert_valid("user", &with(&good_user, json!({"claims": {"https://example.com/roles": ["admin"]}})));

    assert_valid("scope", &json!({"name": "groups", "description": "see your teams", "claims": ["groups"]}));
    assert_invalid("scope", &json!({"name": "email", "description": "d", "claims": []}), "a standard scope name");
    assert_invalid("scope", &json!({"name": "g", "description": "d", "claims": ["aud"]}), "a registered claim");
    assert_invalid("scope", &json!({"name": "g", "claims": []}), "no description");

    assert_valid("user-email", &json!({"username": "alice"}));
    assert_invalid("user-email", &json!({}), "no username");
    assert_invalid("user-email", &json!({"username": "alice", "sub": "x"}), "an extra field");
}

/// Every field of the model has a schema property and the reverse (the struct literals
/// stop compiling when a field is added to the model).
#[test]
fn schemas_cover_every_model_field() {
    let phc = PasswordHash { iterations: 100_000, salt: vec![7; 16], hash: vec![9; 32] }.to_phc();
    let s = |x: &str| Some(x.to_string());
    let user = User {
        sub: "s1".into(),
        username: "alice".into(),
        password_hash: phc,
        name: s("Alice Liddell"),
        given_name: s("Alice"),
        family_name: s("Liddell"),
        middle_name: s("P"),
        nickname: s("Al"),
        preferred_username: s("alice"),
        profile: s("https://a.example/"),
        picture: s("https://a.example/a.png"),
        website: s("https://a.example/blog"),
        gender: s("female"),
        birthdate: s("1852-05-04"),
        zoneinfo: s("Europe/London"),
        locale: s("en-GB"),
        updated_at: Some(1_700_000_000),
        email: s("alice@example.com"),
        email_verified: Some(true),
        address: Some(edge_oidc::model::user::Address {
            formatted: s("1 Rabbit Hole\nOxford"),
            street_address: s("1 Rabbit Hole"),
            locality: s("Oxford"),
            region: s("Oxfordshire"),
            postal_code: s("OX1 1AA"),
            country: s("UK"),
        }),
        phone_number: s("+44 1865 000000"),
        phone_number_verified: Some(false),
        claims: serde_json::from_value(json!({"groups": ["staff"], "https://example.com/roles": ["admin"]})).unwrap(),
    };
    let client = Client {
        client_id: "app".into(),
        client_name: s("App"),
        redirect_uris: vec!["https://app.example/cb".into()],
        token_endpoint_auth_method: AuthMethod::ClientSecretPost,
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        scope: "openid profile email".into(),
        client_secret_hash: s(&edge_oidc::crypto::hash_client_secret("s")),
        client_uri: s("https://app.example/"),
        logo_uri: s("https://app.example/logo.png"),
        policy_uri: s("https://app.example/privacy"),
        tos_uri: s("https://app.example/terms"),
        client_id_issued_at: Some(1_700_000_000),
        subject_type: edge_oidc::model::SubjectType::Pairwise,
        post_logout_redirect_uris: vec!["https://app.example/bye".into()],
        id_token_signed_response_alg: Alg::ES256,
        require_pkce: false,
        refresh_grace_seconds: 30,
        jwks: None,
        jwks_uri: None,
        resources: vec!["https://api.example/mcp".into()],
        registration_access_token_hash: s(&edge_oidc::crypto::hash_client_secret("rat")),
        registration_expires_at: Some(1_800_000_000),
        from_metadata_document: false,
        any_api_scope: false,
        minimum_acr: Some("mfa".into()),
    };
    // The keys of a private_key_jwt client: in the record, or where it publishes them.
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": edge_oidc::crypto::b64url(&[5; 32])}]});
    let with_keys = Client {
        token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
        client_secret_hash: None,
        jwks: Some(jwks),
        grant_types: vec!["client_credentials".into()],
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        subject_type: edge_oidc::model::SubjectType::Public,
        ..client.clone()
    };
    let with_uri = Client { jwks: None, jwks_uri: s("https://app.example/jwks.json"), ..with_keys.clone() };
    for c in [&client, &with_keys, &with_uri] {
        c.validate().unwrap();
    }
    let scope = edge_oidc::model::ScopeDef {
        name: "groups".into(),
        description: "see your teams".into(),
        descriptions: [("de".to_string(), "deine Teams sehen".to_string())].into(),
        claims: vec!["groups".into()],
    };
    let resource = edge_oidc::model::Resource {
        resource: "https://api.example/mcp".into(),
        name: s("Example API"),
        scopes: vec![edge_oidc::model::resource::ApiScope {
            name: "mcp:tools".into(),
            description: "use your tools".into(),
            descriptions: [("fr".to_string(), "utiliser vos outils".to_string())].into(),
        }],
        access_token_format: edge_oidc::model::TokenFormat::Jwt,
        access_token_ttl_seconds: Some(600),
        introspection_clients: vec!["api-server".into()],
    };
    resource.validate().unwrap();
    let clients: Vec<Value> =
        [&client, &with_keys, &with_uri].iter().map(|c| serde_json::to_value(c).unwrap()).collect();
    for (name, records) in [
        ("user", vec![serde_json::to_value(&user).unwrap()]),
        ("client", clients),
        ("scope", vec![serde_json::to_value(&scope).unwrap()]),
        ("resource", vec![serde_json::to_value(&resource).unwrap()]),
    ] {
        let mut fields: Vec<&String> = vec![];
        for record in &records {
            assert_valid(name, record);
            for k in record.as_object().unwrap().keys() {
                if !fields.contains(&k) {
                    fields.push(k);
                }
            }
        }
        let schema = schema(name);
        let mut props: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        fields.sort();
        props.sort();
        assert_eq!(fields, props, "{name}.schema.json properties vs the model");
    }
}

#[test]
fn schemas_are_documented() {
    for name in ["client", "user", "user-email", "signing-keys", "scope", "resource", "event"] {
        let s = schema(name);
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
        assert!(s["title"].is_string() && s["description"].is_string(), "{name}: title and description");
        jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("{name}.schema.json is not a valid schema: {e}"));
        let mut objects = vec![&s["properties"]];
        if name == "signing-keys" {
            objects.extend(s["$defs"].as_object().unwrap().values().filter_map(|d| d.get("properties")));
            assert_eq!(objects.len(), 4, "the set and the three kinds of key");
        }
        for props in objects {
            for (field, def) in props.as_object().unwrap() {
                let ok = def["description"].as_str().is_some_and(|d| d.len() > 5);
                assert!(ok, "{name}: '{field}' has no description");
            }
        }
    }
}
