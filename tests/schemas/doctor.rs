//! `oidc-admin doctor` on a local store seeded with broken records, and `oidc-admin deploy`
//! against a stand-in for wrangler's account calls (tests/fixtures/wrangler-stand-in.sh) with
//! the real `wrangler deploy --dry-run` at the end.

use super::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn wrangler() -> PathBuf {
    let w = root().join("node_modules/.bin/wrangler");
    assert!(w.is_file(), "run `npm ci` first");
    w
}

/// A project like the shipped one, in `dir`: wrangler.toml (this checkout's, as shipped: the
/// development ISSUER and the local KV ids even where an operator deployed from it; its
/// worker a small script exporting the Durable Object classes, no build step) and that script.
fn project(dir: &Path) -> PathBuf {
    let mut kv = ["c11e0000000000000000000000000001", "05e50000000000000000000000000002"].into_iter();
    let shipped: Vec<String> = std::fs::read_to_string(root().join("wrangler.toml"))
        .unwrap()
        .lines()
        .map(|l| match l {
            l if l.starts_with("ISSUER = ") => "ISSUER = \"http://localhost:8787\"".to_string(),
            l if l.starts_with("id = ") => format!("id = \"{}\"", kv.next().expect("two KV namespaces")),
            l => l.to_string(),
        })
        .collect();
    let config = shipped
        .join("\n")
        .replace("main = \"build/index.js\"", "main = \"index.js\"")
        .replace("[build]\n", "[build_unused]\n")
        .lines()
        .filter(|l| !l.starts_with("command = "))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("[build_unused]\n", "");
    let path = dir.join("wrangler.toml");
    std::fs::write(&path, config + "\n").unwrap();
    std::fs::write(
        dir.join("index.js"),
        "export default { fetch() { return new Response('') } };\n\
         export class Grants {}\nexport class Throttles {}\nexport class Accounts {}\n",
    )
    .unwrap();
    path
}

#[test]
fn doctor_finds_broken_records_and_names_the_fix() {
    let dir = scratch_dir("doctor");
    let config = project(&dir);
    let state = dir.join("state");
    let dev_vars = dir.join(".dev.vars");
    let keys = admin_ok(&["keys", "generate"], "");
    let session = admin_ok(&["keys", "session-key"], "");
    std::fs::write(&dev_vars, format!("SIGNING_KEYS='{}'\nSESSION_KEY='{}'\n", keys.trim(), session.trim())).unwrap();
    let w = wrangler();
    let base = ["--wrangler", w.to_str().unwrap(), "--config", config.to_str().unwrap(), "--persist-to"];
    let base = [&base[..], &[state.to_str().unwrap()]].concat();
    let doctor = [&base[..], &["doctor", "--dev-vars", dev_vars.to_str().unwrap()]].concat();

    // A healthy local set-up: the demo records.
    admin_ok(&[&base[..], &["demo"]].concat(), "");
    let out = admin_ok(&doctor, "");
    assert!(out.contains("no problems found"), "{out}");
    assert!(out.contains("1 records in CLIENTS and 2 in USERS read"), "{out}");

    // Broken records, written behind the tool's back.
    let put = |binding: &str, key: &str, value: &str| {
        let status = std::process::Command::new(&w)
            .args(["kv", "key", "put", key, value, "--binding", binding, "--local", "--persist-to"])
            .arg(&state)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(status.status.success(), "{}", text(&status.stderr));
    };
    put("CLIENTS", "bad-app", r#"{"client_id":"bad-app","redirect_uris":["http://evil.example/cb"]}"#);
    put("CLIENTS", "scope:groups", r#"{"name":"groups","claims":["sub"]}"#);
    put("USERS", "user:eve", r#"{"sub":"s-eve","username":"eve","password_hash":"hunter2"}"#);
    put("USERS", "email:ghost@example.com", r#"{"username":"ghost"}"#);
    put("USERS", "user:mallory", "not json");
    std::fs::write(&dev_vars, format!("SIGNING_KEYS='{}'\n", keys.trim())).unwrap();

    let err = admin_err(&doctor, "", 1);
    let expect = [
        "CLIENTS bad-app does not match schemas/client.schema.json",
        "oidc-admin clients add bad-app --force",
        "CLIENTS scope:groups does not match schemas/scope.schema.json",
        "oidc-admin scopes remove groups",
        "USERS user:eve does not match schemas/user.schema.json",
        "oidc-admin users add eve --force … (replaces the record, keeps its sub)",
        "USERS email:ghost@example.com cannot be read by the worker: names the user 'ghost', who does not exist",
        "npx wrangler kv key delete 'email:ghost@example.com' --binding USERS --local",
        "USERS user:mallory is not JSON",
        "has no SESSION_KEY",
        "6 problems found",
    ];
    for e in expect {
        assert!(err.contains(e), "doctor should say '{e}':\n{err}");
    }
    // Still fine: the demo records.
    assert!(!err.contains("demo-app does not"), "{err}");

    // As for a deployment: the shipped ISSUER and placeholder ids are problems (the secrets
    // and records cannot be read without an account: problems too, with the fix).
    let remote =
        ["--wrangler", w.to_str().unwrap(), "--config", config.to_str().unwrap(), "--remote", "doctor", "--no-fetch"];
    let err = admin_err(&remote, "", 1);
    assert!(err.contains("ISSUER is http://localhost:8787: a deployment answers only at its https origin"), "{err}");
    assert!(err.contains("CLIENTS has the local placeholder id"), "{err}");
    assert!(err.contains("npx wrangler kv namespace create edge-oidc-USERS"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the operator tool's `deploy` in `dir` with the stand-in.
fn deploy(dir: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    let stand_in = root().join("tests/fixtures/wrangler-stand-in.sh");
    std::process::Command::new(env!("CARGO_BIN_EXE_oidc-admin"))
        .args(["--wrangler", stand_in.to_str().unwrap(), "--config", "wrangler.toml", "deploy"])
        .args(args)
        .current_dir(dir)
        .env("STAND_IN_STATE", state)
        .env("REAL_WRANGLER", wrangler())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn deploy_sets_everything_up_once_and_then_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("deploy");
    let config = project(&dir);
    let state = dir.join("account");
    let shipped = std::fs::read_to_string(&config).unwrap();

    // A loopback or http issuer is refused before anything is created.
    for bad in ["http://127.0.0.1:8787", "https://localhost", "http://login.example.com"] {
        let out = deploy(&dir, &state, &["--issuer", bad, "--dry-run"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("https"), "{}", text(&out.stderr));
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), shipped, "nothing written");
    assert!(!state.join("calls").exists(), "no account call made");

    let out = deploy(&dir, &state, &["--issuer", "https://login.example.com", "--dry-run"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let toml = std::fs::read_to_string(&config).unwrap();
    assert!(toml.contains("ISSUER = \"https://login.example.com\""), "{toml}");
    for placeholder in ["c11e0000000000000000000000000001", "05e50000000000000000000000000002"] {
        assert!(!toml.contains(placeholder), "{toml}");
    }
    let namespaces = std::fs::read_to_string(state.join("namespaces")).unwrap();
    for line in namespaces.lines() {
        let (id, title) = line.split_once(' ').unwrap();
        assert!(title == "edge-oidc-CLIENTS" || title == "edge-oidc-USERS", "{title}");
        assert!(toml.contains(&format!("id = \"{id}\"")), "{title}'s id is in wrangler.toml:\n{toml}");
    }
    assert_eq!(namespaces.lines().count(), 2);
    // The comments and everything else of wrangler.toml are kept.
    assert!(toml.contains("# One Durable Object per grant"), "{toml}");

    // The key set: in keys.json (0600), the same as the secret; the other secrets random.
    let keys = std::fs::read_to_string(dir.join("keys.json")).unwrap();
    assert_eq!(std::fs::metadata(dir.join("keys.json")).unwrap().permissions().mode() & 0o777, 0o600);
    PrivateJwkSet::parse(&keys).expect("a key set the worker takes");
    let secret = |n: &str| std::fs::read_to_string(state.join("secrets").join(n)).unwrap();
    assert_eq!(secret("SIGNING_KEYS"), keys);
    for name in ["SESSION_KEY", "PAIRWISE_SALT"] {
        assert!(b64url_decode(&secret(name)).is_some_and(|k| k.len() == 32), "{name}");
        assert!(!stdout.contains(&secret(name)) && !stderr.contains(&secret(name)), "{name} is never printed");
    }
    assert_ne!(secret("SESSION_KEY"), secret("PAIRWISE_SALT"));
    assert!(!stdout.contains("\"d\":"), "no private key printed");
    // The checks ran, then the real wrangler bundled the worker.
    assert!(stdout.contains("oidc-admin doctor --remote: no problems"), "{stdout}");
    assert!(stdout.contains("wrangler deploy --dry-run"), "{stdout}");
    let calls = std::fs::read_to_string(state.join("calls")).unwrap();
    assert!(calls.lines().any(|l| l.starts_with("deploy --dry-run")), "{calls}");

    // Again: nothing is created or uploaded, the keys are kept, and it deploys.
    let before = calls.lines().count();
    let out = deploy(&dir, &state, &["--dry-run"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let calls = std::fs::read_to_string(state.join("calls")).unwrap();
    let new: Vec<&str> = calls.lines().skip(before).collect();
    assert!(new.iter().all(|c| !c.contains("namespace create") && !c.starts_with("secret put")), "{new:?}");
    assert!(new.iter().any(|c| c.starts_with("deploy --dry-run")), "{new:?}");
    assert_eq!(std::fs::read_to_string(dir.join("keys.json")).unwrap(), keys);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), toml, "the issuer kept from wrangler.toml");
    let _ = std::fs::remove_dir_all(&dir);
}
