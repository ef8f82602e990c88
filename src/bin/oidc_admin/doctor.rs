//! `oidc-admin doctor`: checks a deployment's configuration before it bites — wrangler.toml
//! (variables as the worker reads them, KV namespace ids, Durable Object bindings and
//! migrations), the secrets (names only, remotely), the signing key set, and every KV record
//! against its schema and as the worker reads it. Each problem comes with the command that
//! fixes it; any problem makes the exit status 1.

use crate::cli::TargetArgs;
use crate::error::{failed, Result};
use crate::kv::{Kv, Namespace};
use crate::output::Outcome;
use clap::Args;
use edge_oidc::config::Config;
use edge_oidc::crypto::Crypto;
use edge_oidc::keys::native::{block_on, NativeCrypto};
use edge_oidc::keys::{Alg, PrivateJwkSet};
use edge_oidc::model::custom_scope::ScopeDef;
use edge_oidc::model::resource::Resource;
use edge_oidc::model::user::{EmailAlias, User};
use edge_oidc::model::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The local placeholders of the shipped wrangler.toml's KV ids (good for `wrangler dev` only).
pub const PLACEHOLDER_IDS: [&str; 2] = ["c11e0000000000000000000000000001", "05e50000000000000000000000000002"];
/// Durable Object bindings and their classes (src/platform/objects.rs).
const OBJECTS: [(&str, &str); 3] = [("GRANTS", "Grants"), ("THROTTLES", "Throttles"), ("ACCOUNTS", "Accounts")];
const SECRETS: [&str; 2] = ["SIGNING_KEYS", "SESSION_KEY"];

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The private key set file (what SIGNING_KEYS holds) [default: keys.json when it exists;
    /// locally, SIGNING_KEYS in .dev.vars].
    #[arg(long, value_name = "PATH")]
    pub keys: Option<PathBuf>,
    /// The local secrets of `wrangler dev` (checked without --remote).
    #[arg(long, default_value = ".dev.vars", value_name = "PATH")]
    pub dev_vars: PathBuf,
    /// Do not fetch the deployed JWKS (with --remote: before the first deployment).
    #[arg(long)]
    pub no_fetch: bool,
}

/// What the checks found: each problem with the command that fixes it.
#[derive(Default)]
pub struct Report {
    pub checked: Vec<String>,
    pub problems: Vec<(String, String)>,
    pub notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.problems.push((what.into(), fix.into()));
    }
    fn ok(&mut self, what: impl Into<String>) {
        self.checked.push(what.into());
    }
}

pub fn run(args: &DoctorArgs, target_args: &TargetArgs, kv: &mut impl Kv, wrangler: &Path) -> Result<Outcome> {
    let mut r = Report::default();
    let remote = target_args.remote;
    let config_path = target_args.config.clone().unwrap_or_else(|| PathBuf::from("wrangler.toml"));
    let issuer = check_wrangler_toml(&config_path, remote, &mut r);
    let dev_secrets = if remote {
        check_remote_secrets(wrangler, target_args.config.as_deref(), &mut r);
        BTreeMap::new()
    } else {
        check_local_secrets(&args.dev_vars, &mut r)
    };
    let keys_file = args.keys.clone().or_else(|| Path::new("keys.json").is_file().then(|| PathBuf::from("keys.json")));
    let key_set = match (&keys_file, dev_secrets.get("SIGNING_KEYS")) {
        (Some(path), _) => match std::fs::read_to_string(path) {
            Ok(text) => Some((path.display().to_string(), text)),
            Err(e) => {
                r.problem(format!("{}: {e}", path.display()), "pass the key set file with --keys PATH");
                None
            }
        },
        (None, Some(text)) => Some((format!("SIGNING_KEYS in {}", args.dev_vars.display()), text.clone())),
        (None, None) => {
            r.notes.push("the signing keys were not checked: no key set file (pass --keys PATH)".into());
            None
        }
    };
    if let Some((from, text)) = key_set {
        let fetch = (remote && !args.no_fetch).then_some(issuer.as_deref()).flatten();
        check_keys(&from, &text, fetch, &mut r);
    }
    if let Err(e) = check_records(kv, remote, &mut r) {
        let login =
            if remote { "npx wrangler login (or set CLOUDFLARE_API_TOKEN)" } else { "npm ci (the pinned wrangler)" };
        let first = e.to_string().lines().take(2).collect::<Vec<_>>().join(": ");
        r.problem(format!("the KV records could not be read: {first}"), login);
    }
    let human = render(&r, &kv.describe());
    let json = json!({
        "checked": r.checked,
        "problems": r.problems.iter().map(|(what, fix)| json!({"problem": what, "fix": fix})).collect::<Vec<_>>(),
        "notes": r.notes,
    });
    if r.problems.is_empty() {
        Ok(Outcome { human, json })
    } else {
        // The report is the error: printed, exit status 1.
        Err(failed(human))
    }
}

fn render(r: &Report, where_: &str) -> String {
    let mut out = format!("oidc-admin doctor ({where_})\n");
    for c in &r.checked {
        out.push_str(&format!("  ok       {c}\n"));
    }
    for n in &r.notes {
        out.push_str(&format!("  note     {n}\n"));
    }
    for (what, fix) in &r.problems {
        out.push_str(&format!("  PROBLEM  {what}\n           fix: {fix}\n"));
    }
    out.push_str(&match r.problems.len() {
        0 => "no problems found".to_string(),
        1 => "1 problem found".to_string(),
        n => format!("{n} problems found"),
    });
    out
}

/// wrangler.toml: the variables as the worker reads them, the KV namespaces, the Durable
/// Object bindings and migrations. The issuer, when the variables are good.
fn check_wrangler_toml(path: &Path, remote: bool, r: &mut Report) -> Option<String> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            r.problem(format!("{shown}: {e}"), "run in the project's directory, or pass --config PATH");
            return None;
        }
    };
    let doc: toml::Table = match text.parse() {
        Ok(d) => d,
        Err(e) => {
            r.problem(format!("{shown} is not valid TOML: {e}"), format!("correct {shown}"));
            return None;
        }
    };
    let vars: BTreeMap<String, String> = doc
        .get("vars")
        .and_then(|v| v.as_table())
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
        .unwrap_or_default();
    let issuer = match Config::from_vars(|k| vars.get(k).cloned()) {
        Ok(c) => {
            r.ok(format!("{shown}: [vars] read as the worker reads them (ISSUER {})", c.issuer));
            Some(c.issuer)
        }
        Err(e) => {
            r.problem(format!("{shown} [vars]: {e}"), format!("edit [vars] in {shown} (docs/configuration.md)"));
            None
        }
    };
    if let (true, Some(iss)) = (remote, &issuer) {
        if crate::deploy::deployable(iss).is_err() {
            r.problem(
                format!("ISSUER is {iss}: a deployment answers only at its https origin (docs/deployment.md)"),
                format!("{} deploy --issuer https://login.example.com (or set ISSUER in {shown})", program()),
            );
        } else {
            r.ok(format!("ISSUER {iss} is an https origin"));
        }
    }
    // KV namespaces.
    let namespaces = doc.get("kv_namespaces").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    for binding in ["CLIENTS", "USERS"] {
        let found = namespaces.iter().find(|n| n.get("binding").and_then(|b| b.as_str()) == Some(binding));
        let id = found.and_then(|n| n.get("id")).and_then(|i| i.as_str()).unwrap_or_default();
        let create = format!(
            "{} deploy (or: npx wrangler kv namespace create edge-oidc-{binding}, and put its id in {shown})",
            program()
        );
        match found {
            None => r.problem(format!("{shown} binds no KV namespace as {binding}"), create),
            Some(_) if remote && PLACEHOLDER_IDS.contains(&id) => {
                r.problem(format!("{shown}: {binding} has the local placeholder id {id}"), create)
            }
            Some(_) => r.ok(format!("KV namespace {binding} is bound")),
        }
    }
    // Durable Objects and their migrations (SQLite-backed: the free plan's kind).
    let bound: Vec<(String, String)> = doc
        .get("durable_objects")
        .and_then(|d| d.get("bindings"))
        .and_then(|b| b.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|b| {
                    Some((b.get("name")?.as_str()?.to_string(), b.get("class_name")?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let migrated: Vec<String> = doc
        .get("migrations")
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .flat_map(|m| {
                    ["new_sqlite_classes", "new_classes"].map(|k| m.get(k).and_then(|c| c.as_array()).cloned())
                })
                .flatten()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (name, class) in OBJECTS {
        if !bound.iter().any(|(n, c)| n == name && c == class) {
            r.problem(
                format!("{shown} does not bind the Durable Object {name} to class {class}"),
                format!("add {{ name = \"{name}\", class_name = \"{class}\" }} to [durable_objects] bindings"),
            );
        } else if !migrated.iter().any(|c| c == class) {
            r.problem(
                format!("{shown}: no migration creates the Durable Object class {class}"),
                format!("add [[migrations]] with a new tag and new_sqlite_classes = [\"{class}\"]"),
            );
        } else {
            r.ok(format!("Durable Object {name} ({class}) is bound and migrated"));
        }
    }
    issuer
}

/// `wrangler secret list`: the names only.
fn check_remote_secrets(wrangler: &Path, config: Option<&Path>, r: &mut Report) {
    let mut cmd = Command::new(wrangler);
    cmd.args(["secret", "list", "--format", "json"]).stdin(Stdio::null());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let out = match cmd.output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
        Ok(o) => {
            let err = crate::kv::clean(&String::from_utf8_lossy(&o.stderr));
            let why = err.lines().next().unwrap_or("no detail").trim().to_string();
            r.problem(
                format!("could not list the Worker's secrets: {why}"),
                "npx wrangler login (or set CLOUDFLARE_API_TOKEN)",
            );
            return;
        }
        Err(e) => {
            r.problem(format!("cannot run {}: {e}", wrangler.display()), "npm ci (or pass --wrangler PATH)");
            return;
        }
    };
    let names = crate::kv::parse_key_list(&out).unwrap_or_default();
    for name in SECRETS {
        if names.iter().any(|n| n == name) {
            r.ok(format!("secret {name} is set"));
        } else {
            r.problem(format!("the Worker has no {name} secret"), secret_fix(name));
        }
    }
}

fn secret_fix(name: &str) -> String {
    let me = program();
    match name {
        // Never over an existing key set file: it may be the only readable copy of the keys.
        "SIGNING_KEYS" => format!("{me} deploy (it uploads keys.json, and creates it only when missing)"),
        other => format!("{me} keys session-key | npx wrangler secret put {other}"),
    }
}

/// How the operator ran this tool (`target/debug/oidc-admin`), for the fix commands.
fn program() -> String {
    std::env::args().next().filter(|p| !p.is_empty()).unwrap_or_else(|| "oidc-admin".into())
}

/// `.dev.vars`: the secrets of `wrangler dev`, checked as the worker checks them.
fn check_local_secrets(path: &Path, r: &mut Report) -> BTreeMap<String, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            r.problem(format!("{}: {e}", path.display()), "make dev (it writes the local secrets)");
            return BTreeMap::new();
        }
    };
    let vars: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches(|c| c == '\'' || c == '"').to_string()))
        .collect();
    for name in SECRETS {
        match vars.get(name) {
            None => r.problem(format!("{} has no {name}", path.display()), secret_fix_local(name)),
            Some(_) => r.ok(format!("{name} is in {}", path.display())),
        }
    }
    for name in ["SESSION_KEY", "PAIRWISE_SALT", "ADMIN_TOKEN"] {
        let Some(v) = vars.get(name) else { continue };
        let long_enough = match name {
            "SESSION_KEY" => edge_oidc::crypto::b64url_decode(v).is_some_and(|k| k.len() >= 32),
            _ => v.len() >= 32,
        };
        if !long_enough {
            r.problem(format!("{name} in {} is too short (at least 32 bytes)", path.display()), secret_fix_local(name));
        }
    }
    vars
}

fn secret_fix_local(name: &str) -> String {
    match name {
        "SIGNING_KEYS" => format!("echo \"SIGNING_KEYS='$({} keys generate)'\" >> .dev.vars", program()),
        other => format!("replace the {other} line of .dev.vars with {other}='$({} keys session-key)'", program()),
    }
}

/// The key set: it parses, its RS256 key signs and verifies, and (with the deployed issuer)
/// every key in it, retired ones included, is published and none other.
fn check_keys(from: &str, text: &str, issuer: Option<&str>, r: &mut Report) {
    let fix = format!("repair the set with {} keys add|activate|retire --file …", program());
    let set = match PrivateJwkSet::parse(text.trim()) {
        Ok(s) => s,
        Err(e) => return r.problem(format!("{from}: {e}"), fix.as_str()),
    };
    let signs = NativeCrypto::from_set(&set).and_then(|c| {
        let sig = block_on(c.sign(Alg::RS256, b"doctor"))?;
        let kid = c.signing_kid(Alg::RS256).ok_or("no RS256 signing key")?.to_string();
        block_on(c.verify(&kid, b"doctor", &sig))?
            .then_some(())
            .ok_or_else(|| "its signature does not verify".to_string())
    });
    match signs {
        Ok(()) => r.ok(format!("{from}: {} key(s); the RS256 key signs and verifies", set.keys.len())),
        Err(e) => return r.problem(format!("{from}: the RS256 key cannot sign: {e}"), fix.as_str()),
    }
    let Some(issuer) = issuer else { return };
    let url = format!("{issuer}/jwks.json");
    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(10)).redirects(0).build();
    let published: Vec<String> = match agent.get(&url).call().ok().and_then(|a| a.into_json::<Value>().ok()) {
        Some(v) => {
            v["keys"].as_array().map(|a| a.iter().filter_map(|k| k["kid"].as_str().map(str::to_string)).collect())
        }
        None => None,
    }
    .unwrap_or_else(|| {
        r.notes.push(format!("{url} could not be fetched: the published keys were not compared (not deployed yet?)"));
        vec![]
    });
    if published.is_empty() {
        return;
    }
    let upload = format!("npx wrangler secret put SIGNING_KEYS < {from}");
    for k in &set.keys {
        let what = if k.retired_at.is_some() { "retired key" } else { "key" };
        if !published.contains(&k.kid) {
            r.problem(format!("{url} does not publish the {what} {} of {from}", k.kid), upload.clone());
        }
    }
    for kid in published.iter().filter(|p| set.get(p).is_none()) {
        r.problem(
            format!("{url} publishes {kid}, which {from} does not hold: the file is not the deployed key set"),
            format!("find the key set that is deployed, or replace it: {upload}"),
        );
    }
    r.ok(format!("{url} publishes every key of {from}, retired ones included"));
}

/// Every KV record: against its schema (schemas/) and as the worker reads it.
fn check_records(kv: &mut impl Kv, remote: bool, r: &mut Report) -> Result<()> {
    let (mut clients, mut users) = (0, 0);
    let me = program();
    let admin = if remote { format!("{me} --remote") } else { me };
    let kv_flag = if remote { "--remote" } else { "--local" };
    for key in kv.list(Namespace::Clients, "")? {
        let raw = kv.get(Namespace::Clients, &key)?.unwrap_or_default();
        let (schema, parsed, remove) = if let Some(name) = key.strip_prefix("scope:") {
            (
                "scope",
                ScopeDef::from_record(&key, &raw).map(|_| ()),
                format!("{admin} scopes remove {name} (or add it again)"),
            )
        } else if let Some(uri) = key.strip_prefix("resource:") {
            (
                "resource",
                Resource::from_record(&key, &raw).map(|_| ()),
                format!("{admin} resources remove {uri} (or add it again)"),
            )
        } else if key.contains(':') {
            r.notes.push(format!("CLIENTS has a key the worker does not read: {key}"));
            continue;
        } else {
            (
                "client",
                Client::from_record(&key, &raw).map(|_| ()),
                format!("{admin} clients add {key} --force … (replace it), or {admin} clients remove {key}"),
            )
        };
        clients += 1;
        check_record(r, "CLIENTS", &key, schema, &raw, parsed, &remove);
    }
    for key in kv.list(Namespace::Users, "")? {
        let raw = kv.get(Namespace::Users, &key)?.unwrap_or_default();
        users += 1;
        if let Some(name) = key.strip_prefix("user:") {
            let parsed = User::from_record(&key, &raw).map(|_| ());
            check_record(
                r,
                "USERS",
                &key,
                "user",
                &raw,
                parsed,
                // `--force` keeps the user's sub (their passkeys, sessions and grants stay theirs).
                &format!("{admin} users add {name} --force … (replaces the record, keeps its sub)"),
            );
        } else if key.starts_with("email:") {
            let alias = serde_json::from_str::<EmailAlias>(&raw).map_err(|e| e.to_string());
            let parsed = match &alias {
                Ok(a) if kv.get(Namespace::Users, &format!("user:{}", a.username))?.is_none() => {
                    Err(format!("names the user '{}', who does not exist", a.username))
                }
                other => other.as_ref().map(|_| ()).map_err(Clone::clone),
            };
            let fix = format!("npx wrangler kv key delete '{key}' --binding USERS {kv_flag}");
            check_record(r, "USERS", &key, "user-email", &raw, parsed, &fix);
        } else {
            r.notes.push(format!("USERS has a key the worker does not read: {key}"));
        }
    }
    r.ok(format!("{clients} records in CLIENTS and {users} in USERS read"));
    Ok(())
}

fn check_record(
    r: &mut Report,
    ns: &str,
    key: &str,
    schema: &str,
    raw: &str,
    parsed: std::result::Result<(), String>,
    fix: &str,
) {
    let value: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => return r.problem(format!("{ns} {key} is not JSON: {e}"), fix),
    };
    let errors = schema_errors(schema, &value);
    if let Some(first) = errors.first() {
        let more = if errors.len() > 1 { format!(" (and {} more)", errors.len() - 1) } else { String::new() };
        r.problem(format!("{ns} {key} does not match schemas/{schema}.schema.json: {first}{more}"), fix);
    } else if let Err(e) = parsed {
        r.problem(format!("{ns} {key} cannot be read by the worker: {e}"), fix);
    }
}

fn schema_errors(name: &str, value: &Value) -> Vec<String> {
    let text = match name {
        "client" => include_str!("../../../schemas/client.schema.json"),
        "user" => include_str!("../../../schemas/user.schema.json"),
        "user-email" => include_str!("../../../schemas/user-email.schema.json"),
        "scope" => include_str!("../../../schemas/scope.schema.json"),
        _ => include_str!("../../../schemas/resource.schema.json"),
    };
    let schema: Value = serde_json::from_str(text).unwrap_or(Value::Bool(true));
    match jsonschema::validator_for(&schema) {
        Ok(v) => v.iter_errors(value).map(|e| format!("{e} at '{}'", e.instance_path)).collect(),
        Err(e) => vec![format!("the schema itself: {e}")],
    }
}
