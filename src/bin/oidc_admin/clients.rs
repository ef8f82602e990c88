//! `oidc-admin clients`: client records in the CLIENTS namespace (key = client id).

use crate::cli::{ClientAddArgs, ClientsCommand};
use crate::error::{failed, usage, Result};
use crate::kv::{Kv, Namespace, Record};
use crate::output::{record_outcome, table, Outcome};
use edge_oidc::crypto::{hash_client_secret, random_token};
use edge_oidc::keys::Alg;
use edge_oidc::model::{AuthMethod, Client, SubjectType};
use serde_json::{json, Value};

pub fn run(cmd: &ClientsCommand, kv: &mut impl Kv) -> Result<Outcome> {
    match cmd {
        ClientsCommand::Add(args) => add(NewClient::from_args(args)?, args.force, kv),
        ClientsCommand::List => list(kv),
        ClientsCommand::Show { client_id } => show(client_id, kv),
        ClientsCommand::Remove { client_id } => remove(client_id, kv),
    }
}

/// A client to register.
pub struct NewClient {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub auth_method: AuthMethod,
    pub scope: String,
    /// Grant types besides authorization_code.
    pub grant_types: Vec<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub pairwise: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_alg: Alg,
    pub require_pkce: bool,
    pub refresh_grace: i64,
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    pub resources: Vec<String>,
    pub minimum_acr: Option<String>,
}

impl NewClient {
    fn from_args(a: &ClientAddArgs) -> Result<NewClient> {
        let jwks = match &a.jwks_file {
            None => None,
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| usage(format!("--jwks-file {}: {e}", path.display())))?;
                Some(
                    serde_json::from_str(&text)
                        .map_err(|e| usage(format!("--jwks-file {}: not JSON: {e}", path.display())))?,
                )
            }
        };
        Ok(NewClient {
            client_id: a.client_id.clone(),
            client_name: a.name.clone(),
            redirect_uris: a.redirect_uris.clone(),
            auth_method: a.auth_method.into(),
            scope: a.scope.clone(),
            grant_types: a.grant_types.iter().map(|g| g.as_str().to_string()).collect(),
            client_uri: a.client_uri.clone(),
            logo_uri: a.logo_uri.clone(),
            policy_uri: a.policy_uri.clone(),
            tos_uri: a.tos_uri.clone(),
            pairwise: a.pairwise,
            post_logout_redirect_uris: a.post_logout_redirect_uris.clone(),
            id_token_alg: a.id_token_alg.into(),
            require_pkce: a.pkce == crate::cli::PkceArg::Required,
            refresh_grace: a.refresh_grace,
            jwks,
            jwks_uri: a.jwks_uri.clone(),
            resources: a.resources.clone(),
            minimum_acr: a.minimum_acr.map(|l| l.as_str().to_string()),
        })
    }

    /// The record, and the client secret for confidential clients (256 random bits).
    fn into_record(self, now: i64) -> Result<(Client, Option<String>)> {
        let secret = match self.auth_method.uses_secret() {
            false => None,
            true => Some(random_token::<32>().map_err(failed)?),
        };
        let with_code = !self.redirect_uris.is_empty();
        if !with_code && !self.grant_types.iter().any(|g| g == "client_credentials") {
            return Err(usage(format!(
                "client '{}': give --redirect-uri (the authorization code grant), or --grant-type client_credentials for a machine client",
                self.client_id
            )));
        }
        let client = Client {
            client_id: self.client_id,
            client_name: self.client_name,
            redirect_uris: self.redirect_uris,
            token_endpoint_auth_method: self.auth_method,
            grant_types: grant_types(with_code, self.grant_types),
            response_types: if with_code { vec!["code".into()] } else { vec![] },
            scope: self.scope.split_whitespace().collect::<Vec<_>>().join(" "),
            client_secret_hash: secret.as_deref().map(hash_client_secret),
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            policy_uri: self.policy_uri,
            tos_uri: self.tos_uri,
            client_id_issued_at: Some(now),
            subject_type: if self.pairwise { SubjectType::Pairwise } else { SubjectType::Public },
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            id_token_signed_response_alg: self.id_token_alg,
            require_pkce: self.require_pkce,
            refresh_grace_seconds: self.refresh_grace,
            jwks: self.jwks,
            jwks_uri: self.jwks_uri,
            resources: self.resources,
            registration_access_token_hash: None,
            registration_expires_at: None,
            from_metadata_document: false,
            any_api_scope: false,
            minimum_acr: self.minimum_acr,
        };
        client.validate().map_err(|e| usage(format!("client '{}': {e}", client.client_id)))?;
        Ok((client, secret))
    }
}

/// `authorization_code` first (for a client with a redirect URI), then the others once each.
fn grant_types(with_code: bool, extra: Vec<String>) -> Vec<String> {
    let mut all = if with_code { vec!["authorization_code".to_string()] } else { vec![] };
    for g in extra {
        if !all.contains(&g) {
            all.push(g);
        }
    }
    all
}

/// Registers a client; the outcome shows the secret, once.
pub fn add(new: NewClient, overwrite: bool, kv: &mut impl Kv) -> Result<Outcome> {
    let (client, secret) = new.into_record(crate::now())?;
    if !overwrite && kv.get(Namespace::Clients, &client.client_id)?.is_some() {
        return Err(usage(format!("client '{}' already exists (use --force to replace it)", client.client_id)));
    }
    kv.put(&[Record::new(Namespace::Clients, client.client_id.clone(), &client)?])?;
    Ok(credentials_outcome(&client, secret.as_deref(), &kv.describe()))
}

fn credentials_outcome(client: &Client, secret: Option<&str>, location: &str) -> Outcome {
    let id = &client.client_id;
    let human = match secret {
        Some(s) => format!(
            "client_id: {id}\nclient_secret: {s}\n\
             The client secret is shown only this once (only its hash is stored). Client written to {location}."
        ),
        None if client.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt => format!(
            "client_id: {id}\nThe client authenticates with JWTs signed by its own keys (private_key_jwt). Client written to {location}."
        ),
        None => format!("client_id: {id}\nPublic client (no secret; it must use PKCE). Client written to {location}."),
    };
    let mut json = json!({ "client_id": id });
    if let Some(s) = secret {
        json["client_secret"] = Value::String(s.to_string());
    }
    Outcome { human, json }
}

fn list(kv: &mut impl Kv) -> Result<Outcome> {
    let mut rows = Vec::new();
    // The namespace also holds custom scopes and resources (`scope:`, `resource:`); client ids
    // have no ':'.
    for id in kv.list(Namespace::Clients, "")?.into_iter().filter(|k| !k.contains(':')) {
        let raw = kv.get(Namespace::Clients, &id)?.unwrap_or_default();
        rows.push(match Client::from_record(&id, &raw) {
            Ok(c) => json!({
                "client_id": id,
                "client_name": c.client_name,
                "token_endpoint_auth_method": c.token_endpoint_auth_method.as_str(),
                "redirect_uris": c.redirect_uris,
            }),
            Err(e) => json!({ "client_id": id, "error": e }),
        });
    }
    let human = table(
        &["CLIENT_ID", "AUTH_METHOD", "NAME"],
        rows.iter().map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            match r.get("error") {
                Some(e) => vec![s("client_id"), "(malformed)".into(), e.as_str().unwrap_or("").into()],
                None => vec![s("client_id"), s("token_endpoint_auth_method"), s("client_name")],
            }
        }),
    );
    Ok(Outcome { human, json: Value::Array(rows) })
}

fn show(id: &str, kv: &mut impl Kv) -> Result<Outcome> {
    let raw = kv.get(Namespace::Clients, id)?.ok_or_else(|| usage(format!("no client '{id}' in {}", kv.describe())))?;
    if let Err(e) = Client::from_record(id, &raw) {
        eprintln!("warning: {e}");
    }
    Ok(record_outcome(&raw))
}

fn remove(id: &str, kv: &mut impl Kv) -> Result<Outcome> {
    if kv.get(Namespace::Clients, id)?.is_none() {
        return Err(usage(format!("no client '{id}' in {}", kv.describe())));
    }
    kv.delete(Namespace::Clients, id)?;
    Ok(Outcome { human: format!("Removed client '{id}' from {}.", kv.describe()), json: json!({ "removed": id }) })
}
