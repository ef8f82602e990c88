//! `oidc-admin resources`: resource server records in the CLIENTS namespace (key
//! `resource:<uri>`, RFC 8707).

use crate::cli::{ResourceAddArgs, ResourcesCommand, TokenFormatArg};
use crate::error::{usage, Result};
use crate::kv::{Kv, Namespace, Record};
use crate::output::{record_outcome, table, Outcome};
use edge_oidc::model::resource::{resource_key, ApiScope};
use edge_oidc::model::{Resource, TokenFormat};
use serde_json::{json, Value};

pub fn run(cmd: &ResourcesCommand, kv: &mut impl Kv) -> Result<Outcome> {
    match cmd {
        ResourcesCommand::Add(args) => add(args, kv),
        ResourcesCommand::List => list(kv),
        ResourcesCommand::Show { uri } => show(uri, kv),
        ResourcesCommand::Remove { uri } => remove(uri, kv),
    }
}

fn add(a: &ResourceAddArgs, kv: &mut impl Kv) -> Result<Outcome> {
    let mut scopes = vec![];
    for s in &a.scopes {
        let (name, description) = s
            .split_once('=')
            .ok_or_else(|| usage(format!("--scope '{s}' must be NAME=DESCRIPTION, e.g. mcp:tools=use your tools")))?;
        scopes.push(ApiScope {
            name: name.trim().to_string(),
            description: description.trim().to_string(),
            descriptions: Default::default(),
        });
    }
    let resource = Resource {
        resource: a.uri.clone(),
        name: a.name.clone(),
        scopes,
        access_token_format: match a.format {
            TokenFormatArg::Opaque => TokenFormat::Opaque,
            TokenFormatArg::Jwt => TokenFormat::Jwt,
        },
        access_token_ttl_seconds: a.access_token_ttl,
        introspection_clients: a.introspection_clients.clone(),
    };
    resource.validate().map_err(|e| usage(format!("resource '{}': {e}", a.uri)))?;
    let key = resource_key(&resource.resource);
    if !a.force && kv.get(Namespace::Clients, &key)?.is_some() {
        return Err(usage(format!("resource '{}' already exists (use --force to replace it)", a.uri)));
    }
    kv.put(&[Record::new(Namespace::Clients, key, &resource)?])?;
    let names: Vec<&str> = resource.scopes.iter().map(|s| s.name.as_str()).collect();
    Ok(Outcome {
        human: format!(
            "Resource '{}' written to {} (scopes: {}). Clients ask tokens for it with resource={}.",
            resource.resource,
            kv.describe(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") },
            resource.resource
        ),
        json: serde_json::to_value(&resource).unwrap_or(Value::Null),
    })
}

fn list(kv: &mut impl Kv) -> Result<Outcome> {
    let mut rows = Vec::new();
    for key in kv.list(Namespace::Clients, "resource:")? {
        let raw = kv.get(Namespace::Clients, &key)?.unwrap_or_default();
        rows.push(match Resource::from_record(&key, &raw) {
            Ok(r) => json!({
                "resource": r.resource,
                "name": r.name,
                "access_token_format": if r.access_token_format == TokenFormat::Jwt { "jwt" } else { "opaque" },
                "scopes": r.scopes.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            }),
            Err(e) => json!({"resource": key.trim_start_matches("resource:"), "error": e}),
        });
    }
    let human = table(
        &["RESOURCE", "TOKENS", "SCOPES"],
        rows.iter().map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            match r.get("error") {
                Some(e) => vec![s("resource"), "(malformed)".into(), e.as_str().unwrap_or("").into()],
                None => {
                    let scopes: Vec<&str> = r["scopes"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    vec![s("resource"), s("access_token_format"), scopes.join(" ")]
                }
            }
        }),
    );
    Ok(Outcome { human, json: Value::Array(rows) })
}

fn show(uri: &str, kv: &mut impl Kv) -> Result<Outcome> {
    let key = resource_key(uri);
    let raw =
        kv.get(Namespace::Clients, &key)?.ok_or_else(|| usage(format!("no resource '{uri}' in {}", kv.describe())))?;
    if let Err(e) = Resource::from_record(&key, &raw) {
        eprintln!("warning: {e}");
    }
    Ok(record_outcome(&raw))
}

fn remove(uri: &str, kv: &mut impl Kv) -> Result<Outcome> {
    let key = resource_key(uri);
    if kv.get(Namespace::Clients, &key)?.is_none() {
        return Err(usage(format!("no resource '{uri}' in {}", kv.describe())));
    }
    kv.delete(Namespace::Clients, &key)?;
    Ok(Outcome { human: format!("Removed resource '{uri}' from {}.", kv.describe()), json: json!({ "removed": uri }) })
}
