//! `oidc-admin deploy` (`make deploy`): a first deployment in one command, and every later one.
//! Idempotent: it creates the KV namespaces still missing (or finds them by title) and writes
//! their ids into wrangler.toml, sets ISSUER, generates and uploads the secrets the Worker does
//! not have yet (the signing key set is kept in `--keys`, keys.json by default), runs
//! `doctor --remote`, and deploys. A second run changes nothing and deploys again.

use crate::cli::TargetArgs;
use crate::doctor::{self, DoctorArgs, PLACEHOLDER_IDS};
use crate::error::{failed, usage, Result};
use crate::kv::{clean, Target};
use crate::output::Outcome;
use clap::Args;
use edge_oidc::config::Config;
use edge_oidc::keys::{Alg, PrivateJwkSet};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The issuer: the https origin people will sign in at, e.g. https://login.example.com
    /// [default: ISSUER in wrangler.toml when it is one; otherwise asked for].
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// The private key set file: used when SIGNING_KEYS must be uploaded, created (mode
    /// 0600) when missing. Keep it safe and out of git; every key rotation edits it.
    #[arg(long, default_value = "keys.json", value_name = "PATH")]
    pub keys: PathBuf,
    /// End with `wrangler deploy --dry-run` (check and bundle the Worker, upload it not);
    /// the namespaces and secrets are still created (and, for a Worker that does not exist
    /// yet, wrangler creates an empty draft to hold the secrets).
    #[arg(long)]
    pub dry_run: bool,
}

/// What deploy did, step by step.
struct Steps(Vec<String>);

pub fn run(args: &DeployArgs, target_args: &TargetArgs, wrangler: &Path) -> Result<Outcome> {
    let config_path = target_args.config.clone().unwrap_or_else(|| PathBuf::from("wrangler.toml"));
    let w = Wrangler { program: wrangler.to_path_buf(), config: config_path.clone() };
    let mut steps = Steps(vec![]);
    let mut text = std::fs::read_to_string(&config_path).map_err(|e| {
        usage(format!("{}: {e} (run in the project's directory, or pass --config)", config_path.display()))
    })?;

    let issuer = choose_issuer(args.issuer.as_deref(), &text)?;
    text = set_issuer(&text, &issuer)?;
    steps.0.push(format!("ISSUER = {issuer}"));

    let name = worker_name(&text)?;
    for (binding, placeholder) in ["CLIENTS", "USERS"].into_iter().zip(PLACEHOLDER_IDS) {
        if !text.contains(placeholder) {
            steps.0.push(format!("KV namespace {binding}: already in {}", config_path.display()));
            continue;
        }
        let title = format!("{name}-{binding}");
        let id = match w.namespace_id(&title)? {
            Some(id) => {
                steps.0.push(format!("KV namespace {binding}: found {title} ({id})"));
                id
            }
            None => {
                let id = w.create_namespace(&title)?;
                steps.0.push(format!("KV namespace {binding}: created {title} ({id})"));
                id
            }
        };
        text = text.replace(placeholder, &id);
    }
    write_atomically(&config_path, &text)?;

    let present = w.secret_names()?;
    for secret in ["SIGNING_KEYS", "SESSION_KEY", "PAIRWISE_SALT"] {
        if present.iter().any(|n| n == secret) {
            steps.0.push(format!("secret {secret}: already set"));
            continue;
        }
        let value = match secret {
            "SIGNING_KEYS" => signing_keys(&args.keys, &mut steps)?,
            _ => edge_oidc::crypto::random_token::<32>().map_err(failed)?,
        };
        w.put_secret(secret, &value)?;
        steps.0.push(format!("secret {secret}: generated and uploaded"));
    }

    // The same checks an operator runs (no JWKS to compare before the first deployment).
    // The key set file, where there is one (a deployment made elsewhere may keep it elsewhere).
    let keys = args.keys.is_file().then(|| args.keys.clone());
    let doctor_args = DoctorArgs { keys, dev_vars: ".dev.vars".into(), no_fetch: true };
    let remote = TargetArgs { remote: true, print: false, persist_to: None, ..target_args.clone() };
    let mut kv = Target::from_args(&remote);
    doctor::run(&doctor_args, &remote, &mut kv, wrangler)
        .map_err(|e| failed(format!("{e}\nnothing was deployed: fix the problems above and run this again")))?;
    steps.0.push("oidc-admin doctor --remote: no problems".into());

    let out = w.run(&[&["deploy"][..], if args.dry_run { &["--dry-run"][..] } else { &[][..] }].concat(), None)?;
    let what =
        if args.dry_run { "wrangler deploy --dry-run: checked and bundled" } else { "wrangler deploy: deployed" };
    steps.0.push(what.into());
    let last = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string();
    let human = format!(
        "{}\n{last}\n\nNext: oidc-admin --remote clients add my-app --redirect-uri https://app.example.com/callback\n      \
         oidc-admin --remote users add alice --email alice@example.com",
        steps.0.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n")
    );
    Ok(Outcome { human, json: json!({ "issuer": issuer, "steps": steps.0, "dry_run": args.dry_run }) })
}

/// `--issuer`, else a deployable ISSUER already in wrangler.toml, else asked on the terminal.
fn choose_issuer(given: Option<&str>, toml_text: &str) -> Result<String> {
    let current =
        toml_text.parse::<toml::Table>().ok().and_then(|t| t.get("vars")?.get("ISSUER")?.as_str().map(str::to_string));
    let candidate = match (given, current) {
        (Some(g), _) => g.trim().to_string(),
        (None, Some(c)) if deployable(&c).is_ok() => c,
        (None, _) => {
            eprint!("Issuer (the https origin people will sign in at, e.g. https://login.example.com): ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| failed(format!("cannot read the issuer: {e}")))?;
            line.trim().to_string()
        }
    };
    deployable(&candidate).map_err(usage)?;
    Ok(candidate.trim_end_matches('/').to_string())
}

/// An issuer a deployment can have: valid for the worker, https, not loopback.
pub fn deployable(issuer: &str) -> std::result::Result<(), String> {
    let config = Config::from_vars(|k| (k == "ISSUER").then(|| issuer.to_string()))?;
    let host = url::Url::parse(&config.issuer).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    if !config.issuer.starts_with("https://") || edge_oidc::model::uri::is_loopback_host(&host) {
        return Err(format!("the issuer '{issuer}' must be the https origin people will use, not a local address"));
    }
    Ok(())
}

/// wrangler.toml with `ISSUER = "<issuer>"` in [vars] (the line replaced, or added).
pub fn set_issuer(text: &str, issuer: &str) -> Result<String> {
    let line = format!("ISSUER = \"{issuer}\"");
    let mut out: Vec<String> = vec![];
    let (mut in_vars, mut done) = (false, false);
    for l in text.lines() {
        let t = l.trim_start();
        if t.starts_with('[') {
            if in_vars && !done {
                out.push(line.clone());
                done = true;
            }
            in_vars = t.starts_with("[vars]");
        }
        if in_vars && (t.starts_with("ISSUER ") || t.starts_with("ISSUER=")) {
            out.push(line.clone());
            done = true;
            continue;
        }
        out.push(l.to_string());
    }
    if !done {
        if !in_vars {
            out.push("[vars]".into());
        }
        out.push(line);
    }
    let new = out.join("\n") + "\n";
    let parsed: toml::Table = new.parse().map_err(|e| failed(format!("wrangler.toml after setting ISSUER: {e}")))?;
    match parsed.get("vars").and_then(|v| v.get("ISSUER")).and_then(|v| v.as_str()) {
        Some(i) if i == issuer => Ok(new),
        _ => Err(failed("could not set ISSUER in wrangler.toml's [vars]: set it by hand and run this again")),
    }
}

fn worker_name(text: &str) -> Result<String> {
    let t: toml::Table = text.parse().map_err(|e| usage(format!("wrangler.toml: {e}")))?;
    t.get("name").and_then(|n| n.as_str()).map(str::to_string).ok_or_else(|| usage("wrangler.toml has no name"))
}

/// The key set to upload: the file when there is one (checked), else a new RS256 key saved
/// there first (mode 0600), so that the only readable copy exists before the upload.
fn signing_keys(path: &Path, steps: &mut Steps) -> Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        PrivateJwkSet::parse(text.trim()).map_err(|e| usage(format!("{}: {e}", path.display())))?;
        steps.0.push(format!("signing keys: {} (existing)", path.display()));
        return Ok(text.trim().to_string());
    }
    let set = PrivateJwkSet { keys: vec![crate::keys::generate_jwk(Alg::RS256, 2048)?] };
    let text = serde_json::to_string(&set).map_err(|e| failed(format!("cannot serialise the key set: {e}")))?;
    write_private(path, &text)?;
    steps.0.push(format!("signing keys: a new RS256 key in {} (keep it safe, never commit it)", path.display()));
    Ok(text)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| failed(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(text.as_bytes()).map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(|e| failed(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| failed(format!("cannot replace {}: {e}", path.display())))
}

/// The account calls, through wrangler.
struct Wrangler {
    program: PathBuf,
    config: PathBuf,
}

impl Wrangler {
    /// Runs `wrangler <args> --config <config>` with `stdin`; stdout, or the error it printed.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let shown = format!("wrangler {}", args.join(" "));
        let mut child = Command::new(&self.program)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("cannot run {}: {e} (npm ci, or pass --wrangler)", self.program.display())))?;
        if let (Some(value), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(value.as_bytes()).map_err(|e| failed(format!("`{shown}`: {e}")))?;
        }
        let out = child.wait_with_output().map_err(|e| failed(format!("`{shown}`: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            let mut detail = clean(&String::from_utf8_lossy(&out.stderr));
            if detail.is_empty() {
                detail = clean(&stdout);
            }
            return Err(failed(format!("`{shown}` failed ({}):\n{detail}", out.status)));
        }
        Ok(stdout)
    }

    /// The id of the account's KV namespace titled `title`, if there is one.
    fn namespace_id(&self, title: &str) -> Result<Option<String>> {
        let out = self.run(&["kv", "namespace", "list"], None)?;
        let list: Value = out
            .find('[')
            .and_then(|i| serde_json::from_str(&out[i..]).ok())
            .ok_or_else(|| failed(format!("could not read `wrangler kv namespace list`:\n{out}")))?;
        let found = list.as_array().into_iter().flatten().find(|n| n["title"] == title);
        Ok(found.and_then(|n| n["id"].as_str()).map(str::to_string))
    }

    fn create_namespace(&self, title: &str) -> Result<String> {
        let out = self.run(&["kv", "namespace", "create", title], None)?;
        // The snippet it prints: id = "<32 hex digits>".
        out.split(|c: char| !c.is_ascii_hexdigit()).find(|w| w.len() == 32).map(str::to_string).ok_or_else(|| {
            failed(format!("no namespace id in what `wrangler kv namespace create {title}` printed:\n{out}"))
        })
    }

    /// The Worker's secret names; none before its first deployment.
    fn secret_names(&self) -> Result<Vec<String>> {
        let out = match self.run(&["secret", "list", "--format", "json"], None) {
            Ok(out) => out,
            Err(e) if e.to_string().contains("not found") => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        crate::kv::parse_key_list(&out).ok_or_else(|| failed(format!("could not read `wrangler secret list`:\n{out}")))
    }

    /// `wrangler secret put NAME`, the value on stdin (never an argument or a log line).
    fn put_secret(&self, name: &str, value: &str) -> Result<()> {
        self.run(&["secret", "put", name], Some(value)).map(|_| ())
    }
}
