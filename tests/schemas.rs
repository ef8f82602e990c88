//! The operator tool end to end (the real `oidc-admin` binary, `--print` target): the
//! records it writes validate against `schemas/`, parse with the model, verify against
//! the secrets it shows, and hold no plaintext secret. Also: generated signing keys,
//! the test key fixture, `--help`, and how failures are reported.

use edge_oidc::crypto::{b64url, b64url_decode, sha256, verify_client_secret, Crypto, PasswordHash};
use edge_oidc::keys::native::{pbkdf2_sha256, NativeCrypto};
use edge_oidc::keys::{Alg, KeyMaterial, PrivateJwk, PrivateJwkSet};
use edge_oidc::model::client::{AuthMethod, Client};
use edge_oidc::model::user::{EmailAlias, User};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

// ---------------------------------------------------------------- helpers

/// Runs `oidc-admin args...`, writing `stdin` to its standard input.
fn admin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oidc-admin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oidc-admin");
    // The tool may exit before reading its stdin (a refused request): ignore a closed pipe.
    let _ = child.stdin.take().expect("stdin").write_all(stdin.as_bytes());
    child.wait_with_output().expect("run oidc-admin")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// stdout of a run that must succeed.
fn admin_ok(args: &[&str], stdin: &str) -> String {
    let out = admin(args, stdin);
    assert!(out.status.success(), "oidc-admin {args:?} failed: {}\n{}", out.status, text(&out.stderr));
    text(&out.stdout)
}

/// stderr of a run that must fail with `code`.
fn admin_err(args: &[&str], stdin: &str, code: i32) -> String {
    let out = admin(args, stdin);
    assert_eq!(out.status.code(), Some(code), "oidc-admin {args:?}: {}\n{}", text(&out.stdout), text(&out.stderr));
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The `--print` document: `{"records": [{binding, key, value}], "result": ..}`.
struct Printed {
    records: Vec<Value>,
    result: Value,
    raw: String,
}

impl Printed {
    fn run(args: &[&str], stdin: &str) -> Printed {
        let raw = admin_ok(args, stdin);
        let doc: Value =
            serde_json::from_str(&raw).unwrap_or_else(|e| panic!("--print output is not JSON ({e}):\n{raw}"));
        let records = doc["records"].as_array().expect("records array").clone();
        for r in &records {
            assert!(r["binding"] == "CLIENTS" || r["binding"] == "USERS", "{r}");
            assert!(r["key"].is_string() && r["value"].is_object(), "{r}");
        }
        Printed { records, result: doc["result"].clone(), raw }
    }

    fn record(&self, binding: &str, key: &str) -> &Value {
        let r = self.records.iter().find(|r| r["binding"] == binding && r["key"] == key);
        &r.unwrap_or_else(|| panic!("no record {binding}/{key} in {:#?}", self.records))["value"]
    }

    fn keys(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|r| format!("{}/{}", r["binding"].as_str().unwrap(), r["key"].as_str().unwrap()))
            .collect()
    }
}

fn schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(format!("{name}.schema.json"))
}

fn schema(name: &str) -> Value {
    let path = schema_path(name);
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Schema errors for `instance`, as text.
fn schema_errors(name: &str, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema(name)).unwrap_or_else(|e| panic!("{name}.schema.json: {e}"));
    validator.iter_errors(instance).map(|e| format!("{} at '{}'", e, e.instance_path)).collect()
}

fn assert_valid(name: &str, instance: &Value) {
    let errors = schema_errors(name, instance);
    assert!(errors.is_empty(), "{instance:#} does not match {name}.schema.json:\n{}", errors.join("\n"));
}

fn assert_invalid(name: &str, instance: &Value, why: &str) {
    assert!(!schema_errors(name, instance).is_empty(), "{name}.schema.json accepts a record with {why}: {instance:#}");
}

/// Polls a future that never waits (the native crypto is synchronous).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn uint(s: &str) -> BigUint {
    BigUint::from_bytes_be(&b64url_decode(s).expect("base64url"))
}

fn password_matches(phc: &str, password: &str) -> bool {
    let h = PasswordHash::parse(phc).expect("PHC string");
    pbkdf2_sha256(password.as_bytes(), &h.salt, h.iterations, h.hash.len()) == h.hash
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oidc-admin-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

// ---------------------------------------------------------------- records

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

    let err = admin_err(
        &["--print", "clients", "add", "x", "--redirect-uri", "https://a.example/cb", "--scope", "profile"],
        "",
        2,
    );
    assert!(err.contains("openid"), "{err}");
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
    assert_invalid("client", &with(&good_client, json!({"scope": "profile email"})), "no openid scope");
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
    assert_invalid("user", &with(&good_user, json!({"password_hash": null})), "no password hash");
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
    };
    let scope = edge_oidc::model::ScopeDef {
        name: "groups".into(),
        description: "see your teams".into(),
        descriptions: [("de".to_string(), "deine Teams sehen".to_string())].into(),
        claims: vec!["groups".into()],
    };
    for (name, record) in [
        ("user", serde_json::to_value(&user).unwrap()),
        ("client", serde_json::to_value(&client).unwrap()),
        ("scope", serde_json::to_value(&scope).unwrap()),
    ] {
        assert_valid(name, &record);
        let mut fields: Vec<&String> = record.as_object().unwrap().keys().collect();
        let schema = schema(name);
        let mut props: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        fields.sort();
        props.sort();
        assert_eq!(fields, props, "{name}.schema.json properties vs the model");
    }
}

#[test]
fn schemas_are_documented() {
    for name in ["client", "user", "user-email", "signing-keys", "scope"] {
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

// ---------------------------------------------------------------- keys

/// A generated one-key set: valid against the schema and the parser, kid = thumbprint, and
/// a signature made by the host crypto verifies with the public JWKS (by an independent
/// implementation for each kind), and not over other bytes.
fn check_key_set(json: &str, alg: Alg) -> PrivateJwk {
    assert_eq!(json.trim_end().lines().count(), 1, "one line");
    let set = PrivateJwkSet::parse_any(json).expect("PrivateJwkSet::parse_any");
    assert_valid("signing-keys", &serde_json::from_str(json).unwrap());
    assert_eq!(set.keys.len(), 1);
    let k = set.keys[0].clone();
    assert_eq!(k.alg(), alg);
    assert_eq!(k.kid, k.key.thumbprint(), "kid is the RFC 7638 thumbprint");
    if let KeyMaterial::Rsa { n, e, d, p, q, dp, dq, qi } = &k.key {
        let (n, e, d, p, q) = (uint(n), uint(e), uint(d), uint(p), uint(q));
        assert_eq!(n.bits(), 2048);
        assert_eq!(&p * &q, n);
        let one = BigUint::from(1u32);
        assert_eq!(uint(dp), &d % (&p - &one), "dp");
        assert_eq!(uint(dq), &d % (&q - &one), "dq");
        assert_eq!((uint(qi) * &q) % &p, one, "qi");
        let thumbprint = b64url(&sha256(
            format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(&e.to_bytes_be()), b64url(&n.to_bytes_be()))
                .as_bytes(),
        ));
        assert_eq!(k.kid, thumbprint);
        assert_eq!(e, BigUint::from(65537u32));
    }

    // Sign with the host crypto; verify with the public JWKS.
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0";
    let crypto = NativeCrypto::from_set(&set).expect("host crypto");
    let signature = block_on(crypto.sign(alg, message)).expect("sign");
    assert!(block_on(crypto.verify(&k.kid, message, &signature)).unwrap());
    assert!(!block_on(crypto.verify(&k.kid, b"other bytes", &signature)).unwrap());
    let jwks = set.public_jwks();
    let public = &jwks["keys"][0];
    for private in ["d", "p", "q", "dp", "dq", "qi", "active", "retired_at"] {
        assert!(public.get(private).is_none(), "public JWKS leaks private member {private}");
    }
    let b = |m: &str| b64url_decode(public[m].as_str().unwrap()).unwrap();
    match alg {
        Alg::RS256 => {
            let pk = RsaPublicKey::new(uint(public["n"].as_str().unwrap()), uint(public["e"].as_str().unwrap()))
                .expect("public key");
            assert_eq!(pk.size(), 256);
            let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk);
            let sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).expect("signature");
            vk.verify(message, &sig).expect("RS256 signature verifies");
            assert!(vk.verify(b"other bytes", &sig).is_err());
        }
        Alg::ES256 => {
            assert_eq!(public["crv"], "P-256");
            let point =
                p256::EncodedPoint::from_affine_coordinates(b("x").as_slice().into(), b("y").as_slice().into(), false);
            let vk = p256::ecdsa::VerifyingKey::from_encoded_point(&point).expect("P-256 point");
            let sig = p256::ecdsa::Signature::from_slice(&signature).expect("r || s");
            vk.verify(message, &sig).expect("ES256 signature verifies");
            assert!(vk.verify(b"other bytes", &sig).is_err());
        }
        Alg::EdDSA => {
            assert_eq!(public["crv"], "Ed25519");
            let x: [u8; 32] = b("x").try_into().unwrap();
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&x).expect("Ed25519 key");
            let sig = ed25519_dalek::Signature::from_slice(&signature).expect("signature");
            vk.verify_strict(message, &sig).expect("EdDSA signature verifies");
            assert!(vk.verify_strict(b"other bytes", &sig).is_err());
        }
    }
    k
}

#[test]
fn keys_generate_signs_and_verifies() {
    for (flag, alg) in [("RS256", Alg::RS256), ("ES256", Alg::ES256), ("EdDSA", Alg::EdDSA)] {
        let out = admin_ok(&["keys", "generate", "--alg", flag], "");
        let key = check_key_set(&out, alg);
        // `keys public` prints the public set.
        let public: Value = serde_json::from_str(&admin_ok(&["keys", "public"], &out)).expect("JSON");
        assert_eq!(public["keys"][0]["kid"], key.kid.as_str());
        assert_eq!(public["keys"][0]["alg"], flag);
        assert!(public["keys"][0].get("d").is_none());
    }
    let default = admin_ok(&["keys", "generate"], "");
    check_key_set(&default, Alg::RS256);
    let err = admin_err(&["keys", "public"], "{\"keys\":[]}", 2);
    assert!(err.contains("no keys"), "{err}");
    let err = admin_err(&["keys", "generate", "--alg", "HS256"], "", 2);
    assert!(err.contains("RS256") && err.contains("EdDSA"), "{err}");
}

#[test]
fn test_key_fixtures_are_valid_key_sets() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-signing-keys.json");
    check_key_set(&std::fs::read_to_string(path).expect("fixture"), Alg::RS256);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-signing-keys-multi.json");
    let multi = std::fs::read_to_string(path).expect("fixture");
    assert_valid("signing-keys", &serde_json::from_str(&multi).unwrap());
    let set = PrivateJwkSet::parse(&multi).expect("the worker accepts the multi-key fixture");
    assert_eq!(set.signing_algs(), Alg::ALL);
}

/// Rotation through the binary, on a file: the procedure of the README.
#[test]
fn keys_rotation_on_a_file() {
    let dir = scratch_dir("rotation");
    let file = dir.join("keys.json");
    let f = file.to_str().unwrap();
    std::fs::write(&file, admin_ok(&["keys", "generate"], "")).unwrap();
    let load = || PrivateJwkSet::parse(&std::fs::read_to_string(&file).unwrap()).expect("valid set");
    let old = load().keys[0].kid.clone();

    for alg in ["ES256", "EdDSA"] {
        let out = admin_ok(&["keys", "add", "--alg", alg, "--file", f], "");
        assert!(out.contains("wrangler secret put SIGNING_KEYS"), "{out}");
    }
    let out = admin_ok(&["keys", "add", "--alg", "RS256", "--file", f], "");
    assert!(out.contains("does not sign yet") && out.contains("keys activate"), "{out}");
    let set = load();
    assert_eq!(set.keys.len(), 4);
    let new = set.keys[3].kid.clone();
    assert_eq!(set.signer(Alg::RS256).unwrap().kid, old, "a new key does not sign before it is activated");
    assert_eq!(set.signing_algs(), Alg::ALL);
    assert_valid("signing-keys", &serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap());

    let err = admin_err(&["keys", "retire", &old, "--file", f], "", 2);
    assert!(err.contains("activate another first"), "{err}");
    admin_ok(&["keys", "activate", &new, "--file", f], "");
    assert_eq!(load().signer(Alg::RS256).unwrap().kid, new);
    admin_ok(&["keys", "retire", &old, "--file", f], "");
    let set = load();
    assert!(set.get(&old).unwrap().retired_at.is_some());
    assert_eq!(set.public_jwks()["keys"].as_array().unwrap().len(), 4, "a retired key stays published");

    let err = admin_err(&["keys", "remove", &old, "--file", f], "", 2);
    assert!(err.contains("--id-token-ttl"), "{err}");
    admin_ok(&["keys", "remove", &old, "--file", f, "--id-token-ttl", "0"], "");
    assert!(load().get(&old).is_none());
    let err = admin_err(&["keys", "activate", "no-such-kid", "--file", f], "", 2);
    assert!(err.contains("no key 'no-such-kid'"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn session_key_is_256_bits() {
    let a = admin_ok(&["keys", "session-key"], "");
    let b = admin_ok(&["keys", "session-key"], "");
    assert_eq!(b64url_decode(a.trim()).map(|k| k.len()), Some(32));
    assert_ne!(a, b);
}

// ---------------------------------------------------------------- the command line

#[test]
fn help_on_every_command() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--help"],
            &["keys", "clients", "users", "demo", "--remote", "--print", "--persist-to", "--wrangler", "--config"],
        ),
        (&["keys", "--help"], &["generate", "add", "activate", "retire", "remove", "session-key", "public"]),
        (&["keys", "generate", "--help"], &["--bits", "--alg", "EdDSA"]),
        (&["keys", "add", "--help"], &["--alg", "--file", "ES256"]),
        (&["keys", "activate", "--help"], &["KID", "--file"]),
        (&["keys", "retire", "--help"], &["KID", "--file", "--force"]),
        (&["keys", "remove", "--help"], &["--id-token-ttl", "--force"]),
        (&["keys", "session-key", "--help"], &["SESSION_KEY"]),
        (&["keys", "public", "--help"], &["stdin"]),
        (&["clients", "--help"], &["add", "list", "show", "remove"]),
        (
            &["clients", "add", "--help"],
            &[
                "--redirect-uri",
                "--auth-method",
                "client_secret_post",
                "--scope",
                "--force",
                "--json",
                "--id-token-alg",
            ],
        ),
        (&["clients", "list", "--help"], &["List"]),
        (&["clients", "show", "--help"], &["CLIENT_ID"]),
        (&["clients", "remove", "--help"], &["CLIENT_ID"]),
        (&["users", "--help"], &["add", "list", "show", "remove"]),
        (
            &["users", "add", "--help"],
            &["--password-stdin", "--iterations", "--email-verified", "--given-name", "--zoneinfo", "--force"],
        ),
        (&["users", "list", "--help"], &["List"]),
        (&["users", "show", "--help"], &["USERNAME"]),
        (&["users", "remove", "--help"], &["alias"]),
        (&["demo", "--help"], &["--redirect-uri", "demo-password"]),
    ];
    for (args, expected) in cases {
        let out = admin_ok(args, "");
        for word in *expected {
            assert!(out.contains(word), "oidc-admin {args:?} does not mention {word}:\n{out}");
        }
    }
    // No command: help on stderr, usage exit status.
    let err = admin_err(&[], "", 2);
    assert!(err.contains("Usage"), "{err}");
}

#[test]
fn print_is_for_writes_only() {
    let err = admin_err(&["--print", "clients", "list"], "", 2);
    assert!(err.contains("--print"), "{err}");
    let err = admin_err(&["--print", "--remote", "demo"], "", 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn wrangler_failures_are_reported() {
    let dir = scratch_dir("failing-wrangler");
    let missing = dir.join("no-such-wrangler");
    let err = admin_err(&["--wrangler", missing.to_str().unwrap(), "clients", "list"], "", 1);
    assert!(err.starts_with("error: ") && err.contains("kv key list") && err.contains("--wrangler"), "{err}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("wrangler");
        std::fs::write(
            &script,
            "#!/bin/sh\necho '\u{1b}[31m✘ [ERROR] namespace CLIENTS not found\u{1b}[0m' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = admin_err(&["--wrangler", script.to_str().unwrap(), "clients", "show", "app"], "", 1);
        assert!(err.contains("wrangler kv key get app") && err.contains("namespace CLIENTS not found"), "{err}");
        assert!(!err.contains('\u{1b}'), "colour codes: {err:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- through wrangler

/// Local KV through the pinned wrangler (needs node and `npm ci`, which `make test` runs first).
#[test]
fn wrangler_local_round_trip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wrangler = root.join("node_modules/.bin/wrangler");
    assert!(wrangler.is_file(), "run `npm ci` first");
    let dir = scratch_dir("wrangler");
    let config = dir.join("wrangler.toml");
    std::fs::write(
        &config,
        "name = \"oidc-admin-test\"\nmain = \"index.js\"\ncompatibility_date = \"2025-01-01\"\n\
         kv_namespaces = [\n  { binding = \"CLIENTS\", id = \"clients\" },\n  { binding = \"USERS\", id = \"users\" },\n]\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.js"), "export default { fetch() { return new Response('') } }\n").unwrap();
    let state = dir.join("state");
    let base = [
        "--wrangler",
        wrangler.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--persist-to",
        state.to_str().unwrap(),
    ];
    let run = |args: &[&str], stdin: &str| admin_ok(&[&base[..], args].concat(), stdin);
    let sub_of = |name: &str| -> String {
        let v: Value = serde_json::from_str(&run(&["users", "show", name], "")).expect("user JSON");
        v["sub"].as_str().expect("sub").to_string()
    };

    let first: Value = serde_json::from_str(&run(&["--json", "demo"], "")).expect("demo JSON");
    let sub = sub_of("demo");
    let second: Value = serde_json::from_str(&run(&["--json", "demo"], "")).expect("demo JSON");
    assert_ne!(first["client_secret"], second["client_secret"]);
    assert_eq!(sub_of("demo"), sub, "sub is stable across re-seeds");

    let shown: Value = serde_json::from_str(&run(&["clients", "show", "demo-app"], "")).expect("client JSON");
    assert_valid("client", &shown);
    assert!(verify_client_secret(
        second["client_secret"].as_str().unwrap(),
        shown["client_secret_hash"].as_str().unwrap()
    ));
    assert!(run(&["clients", "list"], "").contains("demo-app"));

    let err = admin_err(
        &[&base[..], &["clients", "add", "demo-app", "--redirect-uri", "https://a.example/cb"]].concat(),
        "",
        2,
    );
    assert!(err.contains("--force"), "{err}");

    run(
        &["users", "add", "eve", "--email", "Eve@Example.com", "--iterations", "10000", "--password-stdin"],
        "eve-password\n",
    );
    let list: Value = serde_json::from_str(&run(&["--json", "users", "list"], "")).expect("list JSON");
    assert_eq!(list.as_array().map(|a| a.len()), Some(2), "{list}");
    run(&["users", "remove", "eve"], "");
    let list: Value = serde_json::from_str(&run(&["--json", "users", "list"], "")).expect("list JSON");
    assert_eq!(list.as_array().map(|a| a.len()), Some(1), "{list}");
    run(&["clients", "remove", "demo-app"], "");
    assert!(!run(&["clients", "list"], "").contains("demo-app"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scopes_add_and_custom_claims_and_logout_uris() {
    let p = Printed::run(
        &[
            "--print",
            "scopes",
            "add",
            "groups",
            "--description",
            "see your teams",
            "--claim",
            "groups",
            "--claim",
            "https://example.com/roles",
        ],
        "",
    );
    assert_eq!(p.keys(), ["CLIENTS/scope:groups"]);
    let rec = p.record("CLIENTS", "scope:groups");
    assert_valid("scope", rec);
    assert_eq!(rec["claims"], json!(["groups", "https://example.com/roles"]));
    let e = admin_err(&["--print", "scopes", "add", "x", "--description", "d", "--claim", "sub"], "", 2);
    assert!(e.contains("registered claim"), "{e}");
    let e = admin_err(&["--print", "scopes", "add", "email", "--description", "d"], "", 2);
    assert!(e.contains("standard scope"), "{e}");

    let p = Printed::run(
        &[
            "--print",
            "users",
            "add",
            "carol",
            "--password-stdin",
            "--iterations",
            "10000",
            "--claim",
            r#"groups=["staff","ops"]"#,
            "--claim",
            "plan=gold",
        ],
        "a long enough password\n",
    );
    let user = p.record("USERS", "user:carol");
    assert_valid("user", user);
    assert_eq!(user["claims"], json!({"groups": ["staff", "ops"], "plan": "gold"}));
    let e = admin_err(
        &["--print", "users", "add", "dave", "--password-stdin", "--claim", "iss=x"],
        "a long enough password\n",
        2,
    );
    assert!(e.contains("registered claim"), "{e}");

    let p = Printed::run(
        &[
            "--print",
            "clients",
            "add",
            "web",
            "--redirect-uri",
            "https://web.example/cb",
            "--post-logout-redirect-uri",
            "https://web.example/bye",
            "--scope",
            "openid groups",
        ],
        "",
    );
    let c = p.record("CLIENTS", "web");
    assert_valid("client", c);
    assert_eq!(c["post_logout_redirect_uris"], json!(["https://web.example/bye"]));
    assert_eq!(c["scope"], "openid groups");
}
