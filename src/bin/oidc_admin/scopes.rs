//! `oidc-admin scopes`: custom scope records in the CLIENTS namespace (key `scope:<name>`).

use crate::cli::{ScopeAddArgs, ScopesCommand};
use crate::error::{usage, Result};
use crate::kv::{Kv, Namespace, Record};
use crate::output::{record_outcome, table, Outcome};
use edge_oidc::model::custom_scope::scope_key;
use edge_oidc::model::ScopeDef;
use serde_json::{json, Value};

pub fn run(cmd: &ScopesCommand, kv: &mut impl Kv) -> Result<Outcome> {
    match cmd {
        ScopesCommand::Add(args) => add(args, kv),
        ScopesCommand::List => list(kv),
        ScopesCommand::Show { name } => show(name, kv),
        ScopesCommand::Remove { name } => remove(name, kv),
    }
}

fn add(a: &ScopeAddArgs, kv: &mut impl Kv) -> Result<Outcome> {
    let mut descriptions = std::collections::BTreeMap::new();
    for d in &a.descriptions {
        let (tag, text) = d
            .split_once('=')
            .ok_or_else(|| usage(format!("--description-in '{d}' must be LOCALE=TEXT, e.g. de=deine Teams sehen")))?;
        descriptions.insert(tag.trim().to_string(), text.trim().to_string());
    }
    let def = ScopeDef {
        name: a.name.clone(),
        description: a.description.trim().to_string(),
        descriptions,
        claims: a.claims.clone(),
    };
    def.validate().map_err(|e| usage(format!("scope '{}': {e}", a.name)))?;
    let key = scope_key(&def.name);
    if !a.force && kv.get(Namespace::Clients, &key)?.is_some() {
        return Err(usage(format!("scope '{}' already exists (use --force to replace it)", def.name)));
    }
    kv.put(&[Record::new(Namespace::Clients, key, &def)?])?;
    Ok(Outcome {
        human: format!(
            "Scope '{}' written to {} (claims: {}). Let a client request it by listing it in the client's scope.",
            def.name,
            kv.describe(),
            def.claims.join(", ")
        ),
        json: serde_json::to_value(&def).unwrap_or(Value::Null),
    })
}

fn list(kv: &mut impl Kv) -> Result<Outcome> {
    let mut rows = Vec::new();
    for key in kv.list(Namespace::Clients, "scope:")? {
        let raw = kv.get(Namespace::Clients, &key)?.unwrap_or_default();
        rows.push(match ScopeDef::from_record(&key, &raw) {
            Ok(d) => json!({"name": d.name, "description": d.description, "claims": d.claims}),
            Err(e) => json!({"name": key.trim_start_matches("scope:"), "error": e}),
        });
    }
    let human = table(
        &["SCOPE", "CLAIMS", "DESCRIPTION"],
        rows.iter().map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            match r.get("error") {
                Some(e) => vec![s("name"), "(malformed)".into(), e.as_str().unwrap_or("").into()],
                None => {
                    let claims: Vec<&str> = r["claims"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    vec![s("name"), claims.join(" "), s("description")]
                }
            }
        }),
    );
    Ok(Outcome { human, json: Value::Array(rows) })
}

fn show(name: &str, kv: &mut impl Kv) -> Result<Outcome> {
    let key = scope_key(name);
    let raw =
        kv.get(Namespace::Clients, &key)?.ok_or_else(|| usage(format!("no scope '{name}' in {}", kv.describe())))?;
    if let Err(e) = ScopeDef::from_record(&key, &raw) {
        eprintln!("warning: {e}");
    }
    Ok(record_outcome(&raw))
}

fn remove(name: &str, kv: &mut impl Kv) -> Result<Outcome> {
    let key = scope_key(name);
    if kv.get(Namespace::Clients, &key)?.is_none() {
        return Err(usage(format!("no scope '{name}' in {}", kv.describe())));
    }
    kv.delete(Namespace::Clients, &key)?;
    Ok(Outcome { human: format!("Removed scope '{name}' from {}.", kv.describe()), json: json!({ "removed": name }) })
}
