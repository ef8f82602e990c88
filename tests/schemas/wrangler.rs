//! Through the pinned wrangler: records written to, and read back from, local KV.

use super::*;

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
