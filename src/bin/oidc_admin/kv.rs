//! The worker's KV namespaces as the operator tool sees them: reached through wrangler
//! (local or remote), or printed instead of written (`--print`).

use crate::cli::TargetArgs;
use crate::error::{failed, usage, Result};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The KV namespaces, by their binding in wrangler.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    Clients,
    Users,
}

impl Namespace {
    pub fn binding(self) -> &'static str {
        match self {
            Namespace::Clients => "CLIENTS",
            Namespace::Users => "USERS",
        }
    }
}

/// A KV record to write: the value is the record as JSON.
#[derive(Debug, Clone)]
pub struct Record {
    pub ns: Namespace,
    pub key: String,
    pub value: Value,
}

impl Record {
    pub fn new(ns: Namespace, key: impl Into<String>, record: &impl Serialize) -> Result<Record> {
        let value = serde_json::to_value(record).map_err(|e| failed(format!("cannot serialise record: {e}")))?;
        Ok(Record { ns, key: key.into(), value })
    }
}

pub trait Kv {
    /// The value stored under `key`, `None` when there is none.
    fn get(&mut self, ns: Namespace, key: &str) -> Result<Option<String>>;
    /// Writes records (in one namespace or several).
    fn put(&mut self, records: &[Record]) -> Result<()>;
    fn delete(&mut self, ns: Namespace, key: &str) -> Result<()>;
    /// The keys starting with `prefix`.
    fn list(&mut self, ns: Namespace, prefix: &str) -> Result<Vec<String>>;
    /// Where the records are, for messages ("local KV", ...).
    fn describe(&self) -> String;
}

/// The storage target chosen by the global flags.
pub enum Target {
    Wrangler(Wrangler),
    Print(Printer),
}

impl Target {
    pub fn from_args(args: &TargetArgs) -> Target {
        if args.print {
            return Target::Print(Printer::default());
        }
        Target::Wrangler(Wrangler {
            program: args.wrangler.clone().unwrap_or_else(default_wrangler),
            remote: args.remote,
            persist_to: args.persist_to.clone(),
            config: args.config.clone(),
        })
    }

    fn kv(&mut self) -> &mut dyn Kv {
        match self {
            Target::Wrangler(w) => w,
            Target::Print(p) => p,
        }
    }
}

impl Kv for Target {
    fn get(&mut self, ns: Namespace, key: &str) -> Result<Option<String>> {
        self.kv().get(ns, key)
    }
    fn put(&mut self, records: &[Record]) -> Result<()> {
        self.kv().put(records)
    }
    fn delete(&mut self, ns: Namespace, key: &str) -> Result<()> {
        self.kv().delete(ns, key)
    }
    fn list(&mut self, ns: Namespace, prefix: &str) -> Result<Vec<String>> {
        self.kv().list(ns, prefix)
    }
    fn describe(&self) -> String {
        match self {
            Target::Wrangler(w) => w.describe(),
            Target::Print(p) => p.describe(),
        }
    }
}

/// `./node_modules/.bin/wrangler` (the version pinned in package.json) when it is there,
/// else `wrangler` from PATH.
pub fn default_wrangler() -> PathBuf {
    let local = Path::new("node_modules").join(".bin").join("wrangler");
    if local.is_file() {
        local
    } else {
        PathBuf::from("wrangler")
    }
}

/// KV through `wrangler kv key ...` / `wrangler kv bulk put`.
pub struct Wrangler {
    program: PathBuf,
    remote: bool,
    persist_to: Option<PathBuf>,
    config: Option<PathBuf>,
}

/// What wrangler prints for `kv key get` of a missing key (on stdout, exit status 0).
/// Never a valid record, as records are JSON objects.
const VALUE_NOT_FOUND: &str = "Value not found";

impl Wrangler {
    /// Runs `wrangler kv <args> [value] --binding <ns> --local|--remote [...]`, returning
    /// stdout. The value (a record) is left out of error messages.
    fn run(&self, args: &[&str], value: Option<&str>, ns: Namespace) -> Result<String> {
        let mut flags: Vec<String> = vec!["--binding".into(), ns.binding().into()];
        flags.push(if self.remote { "--remote" } else { "--local" }.into());
        if let Some(dir) = &self.persist_to {
            flags.extend(["--persist-to".into(), dir.display().to_string()]);
        }
        if let Some(config) = &self.config {
            flags.extend(["--config".into(), config.display().to_string()]);
        }
        let shown = format!("wrangler kv {}{} {}", args.join(" "), value.map_or("", |_| " <record>"), flags.join(" "));
        let out = Command::new(&self.program)
            .arg("kv")
            .args(args)
            .args(value)
            .args(&flags)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                failed(format!(
                    "could not run `{shown}`: cannot start '{}': {e}\n\
                     (install the pinned wrangler with `npm ci`, or pass --wrangler PATH)",
                    self.program.display()
                ))
            })?;
        if !out.status.success() {
            let mut detail = clean(&String::from_utf8_lossy(&out.stderr));
            if detail.is_empty() {
                detail = clean(&String::from_utf8_lossy(&out.stdout));
            }
            if detail.is_empty() {
                detail = "(wrangler printed nothing)".into();
            }
            return Err(failed(format!("`{shown}` failed ({}):\n{detail}", out.status)));
        }
        String::from_utf8(out.stdout).map_err(|_| failed(format!("`{shown}` printed something that is not UTF-8")))
    }

    /// `kv bulk put` reads a file: write one, run, remove it.
    fn bulk_put(&self, ns: Namespace, records: &[&Record]) -> Result<()> {
        let entries: Vec<Value> = records.iter().map(|r| json!({"key": r.key, "value": r.value.to_string()})).collect();
        let path = std::env::temp_dir().join(format!("oidc-admin-{}-{}.json", std::process::id(), random_suffix()?));
        std::fs::write(&path, Value::Array(entries).to_string())
            .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
        let path_str = path.to_string_lossy().into_owned();
        let result = self.run(&["bulk", "put", &path_str], None, ns);
        let _ = std::fs::remove_file(&path);
        result.map(|_| ())
    }
}

fn random_suffix() -> Result<String> {
    edge_oidc::crypto::random_token::<9>().map_err(failed)
}

impl Kv for Wrangler {
    fn get(&mut self, ns: Namespace, key: &str) -> Result<Option<String>> {
        check_key(key)?;
        let out = self.run(&["key", "get", key, "--text"], None, ns)?;
        let value = out.strip_suffix('\n').unwrap_or(&out);
        Ok(if value == VALUE_NOT_FOUND { None } else { Some(value.to_string()) })
    }

    fn put(&mut self, records: &[Record]) -> Result<()> {
        for ns in [Namespace::Clients, Namespace::Users] {
            let batch: Vec<&Record> = records.iter().filter(|r| r.ns == ns).collect();
            for r in &batch {
                check_key(&r.key)?;
            }
            match batch.as_slice() {
                [] => {}
                [one] => {
                    self.run(&["key", "put", &one.key], Some(&one.value.to_string()), ns)?;
                }
                many => self.bulk_put(ns, many)?,
            }
        }
        Ok(())
    }

    fn delete(&mut self, ns: Namespace, key: &str) -> Result<()> {
        check_key(key)?;
        self.run(&["key", "delete", key], None, ns).map(|_| ())
    }

    fn list(&mut self, ns: Namespace, prefix: &str) -> Result<Vec<String>> {
        let mut args = vec!["key", "list"];
        if !prefix.is_empty() {
            args.extend(["--prefix", prefix]);
        }
        let out = self.run(&args, None, ns)?;
        parse_key_list(&out).ok_or_else(|| {
            failed(format!(
                "could not read the key list printed by `wrangler kv key list --binding {}`:\n{out}",
                ns.binding()
            ))
        })
    }

    fn describe(&self) -> String {
        match (&self.remote, &self.persist_to) {
            (true, _) => "remote KV".into(),
            (false, Some(dir)) => format!("local KV ({})", dir.display()),
            (false, None) => "local KV".into(),
        }
    }
}

/// wrangler parses its arguments with yargs, which takes a leading '-' for a flag even
/// after `--`: such a key cannot be passed.
fn check_key(key: &str) -> Result<()> {
    if key.starts_with('-') {
        return Err(usage(format!("'{key}': keys starting with '-' cannot be passed to wrangler")));
    }
    Ok(())
}

/// `wrangler kv key list` and `wrangler secret list` print a JSON array of `{"name": ..}`
/// (possibly after a banner): the names.
pub fn parse_key_list(out: &str) -> Option<Vec<String>> {
    let start = out.find('[')?;
    let value = serde_json::Deserializer::from_str(&out[start..]).into_iter::<Value>().next()?.ok()?;
    value.as_array()?.iter().map(|k| k.get("name")?.as_str().map(str::to_string)).collect()
}

/// Wrangler's stderr without colour codes and blank lines.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequence: ESC [ parameters final-byte
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

/// `--print`: collects the records instead of writing them; reads find nothing.
#[derive(Default)]
pub struct Printer {
    records: Vec<Record>,
}

impl Printer {
    /// `{"records": [{"binding", "key", "value"}...], "result": ...}`.
    pub fn document(&self, result: Value) -> Value {
        let records: Vec<Value> =
            self.records.iter().map(|r| json!({"binding": r.ns.binding(), "key": r.key, "value": r.value})).collect();
        json!({ "records": records, "result": result })
    }
}

impl Kv for Printer {
    fn get(&mut self, _ns: Namespace, _key: &str) -> Result<Option<String>> {
        Ok(None)
    }
    fn put(&mut self, records: &[Record]) -> Result<()> {
        for r in records {
            self.records.retain(|x| !(x.ns == r.ns && x.key == r.key));
            self.records.push(r.clone());
        }
        Ok(())
    }
    fn delete(&mut self, _ns: Namespace, _key: &str) -> Result<()> {
        Err(usage("--print only shows records to write; it cannot delete"))
    }
    fn list(&mut self, _ns: Namespace, _prefix: &str) -> Result<Vec<String>> {
        Err(usage("--print only shows records to write; it cannot list"))
    }
    fn describe(&self) -> String {
        "nothing (--print)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_list_with_banner() {
        let out = "⛅️ wrangler\n[\n  {\n    \"name\": \"user:a\"\n  },\n  {\"name\": \"user:b\"}\n]\n";
        assert_eq!(parse_key_list(out).unwrap(), vec!["user:a", "user:b"]);
        assert_eq!(parse_key_list("[]").unwrap(), Vec::<String>::new());
        assert!(parse_key_list("nothing").is_none());
    }

    #[test]
    fn clean_strips_colours() {
        assert_eq!(clean("\u{1b}[31m✘ \u{1b}[41;31m[ERROR]\u{1b}[0m boom\n\n\n"), "✘ [ERROR] boom");
    }
}
