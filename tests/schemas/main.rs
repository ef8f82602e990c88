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

mod cli;
mod doctor;
mod events;
mod keys;
mod records;
mod wrangler;
