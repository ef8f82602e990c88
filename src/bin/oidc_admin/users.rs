//! `oidc-admin users`: user records in the USERS namespace, `user:<username>`, and their
//! `email:<address>` aliases.

use crate::cli::{AdminArgs, InviteArgs, ProfileArgs, UsersCommand};
use crate::error::{failed, usage, Result};
use crate::kv::{Kv, Namespace, Record};
use crate::output::{record_outcome, table, Outcome};
use crate::password;
use crate::remote::{segment, Admin};
use edge_oidc::crypto::random_token;
use edge_oidc::keys::native::hash_password;
use edge_oidc::model::user::{email_key, user_key, valid_username, Address, EmailAlias};
use edge_oidc::model::User;
use serde_json::{json, Value};

pub fn run(cmd: &UsersCommand, kv: &mut impl Kv) -> Result<Outcome> {
    match cmd {
        UsersCommand::Add(args) => {
            let new =
                NewUser { username: args.username.clone(), claims: args.profile.clone(), iterations: args.iterations };
            add(&new, args.force, || password::obtain(args.password_stdin, &args.username).map(Some), kv)
        }
        UsersCommand::List => list(kv),
        UsersCommand::Show { username } => show(username, kv),
        UsersCommand::Remove { username } => remove(username, kv),
        UsersCommand::Invite(args) => invite(args, kv),
        UsersCommand::Passkeys { username, admin } => passkeys(username, admin),
        UsersCommand::RemovePasskey { username, id, admin } => {
            Admin::new(admin)?.call("DELETE", &format!("users/{}/passkeys/{}", segment(username), segment(id)))?;
            Ok(Outcome { human: format!("Removed passkey {id} of {username}."), json: json!({"removed": id}) })
        }
        UsersCommand::ResetCodes { username, admin } => {
            Admin::new(admin)?.call("DELETE", &format!("users/{}/codes", segment(username)))?;
            Ok(Outcome { human: format!("One-time codes of {username} are off."), json: json!({"codes": false}) })
        }
    }
}

/// `users invite`: the user (created without a password if new), then the link.
fn invite(args: &InviteArgs, kv: &mut impl Kv) -> Result<Outcome> {
    let admin = Admin::new(&args.admin)?;
    let created = if kv.get(Namespace::Users, &user_key(&args.username))?.is_none() {
        let new = NewUser { username: args.username.clone(), claims: args.profile.clone(), iterations: 0 };
        add(&new, false, || Ok(None), kv)?;
        true
    } else {
        false
    };
    let v = admin.call("POST", &format!("users/{}/invite", segment(&args.username)))?;
    let url = v["url"].as_str().ok_or_else(|| failed("the provider's answer has no url"))?;
    let human = format!(
        "{}Invitation for {} (works once, for 3 days; give it to them privately):\n{url}",
        if created { format!("Created user {} with no password.\n", args.username) } else { String::new() },
        args.username
    );
    Ok(Outcome {
        human,
        json: json!({"username": args.username, "created": created, "url": url, "expires_at": v["expires_at"]}),
    })
}

/// `users passkeys`: what the account object holds.
fn passkeys(username: &str, admin: &AdminArgs) -> Result<Outcome> {
    let v = Admin::new(admin)?.call("GET", &format!("users/{}/factors", segment(username)))?;
    let rows: Vec<Vec<String>> = v["passkeys"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
                    let date = |k: &str| p[k].as_i64().map(edge_oidc::pages::iso_date).unwrap_or_else(|| "-".into());
                    vec![s("id"), s("name"), date("created_at"), date("last_used_at")]
                })
                .collect()
        })
        .unwrap_or_default();
    let mut human = if rows.is_empty() {
        format!("{username} has no passkeys.")
    } else {
        table(&["ID", "NAME", "ADDED", "LAST USED"], rows.into_iter())
    };
    let codes = if v["codes"].as_bool() == Some(true) {
        format!("\nOne-time codes: on ({} recovery codes left)", v["recovery_codes_left"])
    } else {
        "\nOne-time codes: off".to_string()
    };
    human.push_str(&codes);
    Ok(Outcome { human, json: v })
}

/// A user to add.
pub struct NewUser {
    pub username: String,
    pub claims: ProfileArgs,
    pub iterations: u32,
}

/// What is kept from a user being replaced.
struct Existing {
    sub: String,
    email: Option<String>,
}

/// Adds (or with `overwrite`, replaces) a user and its email alias. The password is asked
/// for only once the user is known to be writable. A replaced user keeps its `sub`.
pub fn add(
    new: &NewUser,
    overwrite: bool,
    password: impl FnOnce() -> Result<Option<String>>,
    kv: &mut impl Kv,
) -> Result<Outcome> {
    let username = &new.username;
    if !valid_username(username) {
        return Err(usage(format!("username '{username}' must be 1-64 characters of A-Z a-z 0-9 . _ -")));
    }
    if new.claims.email.as_ref().is_some_and(|e| !e.contains('@')) {
        return Err(usage("--email must be an email address"));
    }
    let existing = existing_user(username, overwrite, kv)?;
    let alias = match &new.claims.email {
        Some(email) => Some(check_alias_free(email, username, kv)?),
        None => None,
    };
    let password = password()?;
    let sub = match &existing {
        Some(e) => e.sub.clone(),
        None => random_token::<16>().map_err(failed)?,
    };
    // None: a user who signs in with passkeys only (invited).
    let hash = match password {
        Some(p) => hash_password(&p, new.iterations).map_err(failed)?.to_phc(),
        None => String::new(),
    };
    let mut user = build_user(sub, username, hash, &new.claims);
    user.claims = custom_claims(&new.claims.claims)?;
    user.validate().map_err(|e| usage(format!("user '{username}': {e}")))?;

    let mut records = vec![Record::new(Namespace::Users, user_key(username), &user)?];
    if let Some(key) = &alias {
        records.push(Record::new(Namespace::Users, key.clone(), &EmailAlias { username: username.clone() })?);
    }
    kv.put(&records)?;
    if let Some(old) = existing.and_then(|e| e.email).map(|e| email_key(&e)) {
        if Some(&old) != alias.as_ref() {
            remove_alias(&old, username, kv)?;
        }
    }
    Ok(user_outcome(&user, &kv.describe()))
}

/// The user being replaced, or an error when it exists and may not be replaced.
fn existing_user(username: &str, overwrite: bool, kv: &mut impl Kv) -> Result<Option<Existing>> {
    let key = user_key(username);
    let Some(raw) = kv.get(Namespace::Users, &key)? else { return Ok(None) };
    if !overwrite {
        return Err(usage(format!("user '{username}' already exists (use --force to replace it; its sub is kept)")));
    }
    let v: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let sub = v["sub"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
        usage(format!(
            "the existing record '{key}' has no readable sub; remove it first (oidc-admin users remove {username})"
        ))
    })?;
    Ok(Some(Existing { sub: sub.to_string(), email: v["email"].as_str().map(str::to_string) }))
}

/// The alias key for `email`, after checking that no other user has that address.
fn check_alias_free(email: &str, username: &str, kv: &mut impl Kv) -> Result<String> {
    let key = email_key(email);
    if let Some(raw) = kv.get(Namespace::Users, &key)? {
        if let Ok(alias) = serde_json::from_str::<EmailAlias>(&raw) {
            if alias.username != username {
                return Err(usage(format!("email '{email}' already belongs to user '{}'", alias.username)));
            }
        }
    }
    Ok(key)
}

fn build_user(sub: String, username: &str, password_hash: String, c: &ProfileArgs) -> User {
    User {
        sub,
        username: username.to_string(),
        password_hash,
        name: c.name.clone(),
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        middle_name: c.middle_name.clone(),
        nickname: c.nickname.clone(),
        preferred_username: c.preferred_username.clone(),
        profile: c.profile.clone(),
        picture: c.picture.clone(),
        website: c.website.clone(),
        gender: c.gender.clone(),
        birthdate: c.birthdate.clone(),
        zoneinfo: c.zoneinfo.clone(),
        locale: c.locale.clone(),
        updated_at: Some(crate::now()),
        email: c.email.as_ref().map(|e| e.trim().to_string()),
        email_verified: c.email.as_ref().map(|_| c.email_verified),
        address: Some(Address {
            formatted: c.address_formatted.clone(),
            street_address: c.street_address.clone(),
            locality: c.locality.clone(),
            region: c.region.clone(),
            postal_code: c.postal_code.clone(),
            country: c.country.clone(),
        })
        .filter(|a| !a.is_empty()),
        phone_number: c.phone_number.clone(),
        phone_number_verified: c.phone_number.as_ref().map(|_| c.phone_number_verified),
        claims: serde_json::Map::new(),
    }
}

/// `NAME=VALUE` pairs: VALUE as JSON when it parses, else as a string.
fn custom_claims(pairs: &[String]) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    for p in pairs {
        let (name, value) = p.split_once('=').ok_or_else(|| usage(format!("--claim '{p}': expected NAME=VALUE")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

fn user_outcome(user: &User, location: &str) -> Outcome {
    let email = user.email.as_deref().map(|e| format!(" (email {e})")).unwrap_or_default();
    Outcome {
        human: format!("User '{}'{email} written to {location}; sub {}.", user.username, user.sub),
        json: json!({ "username": user.username, "sub": user.sub, "email": user.email }),
    }
}

/// Deletes the alias `key` if it points to `username`.
fn remove_alias(key: &str, username: &str, kv: &mut impl Kv) -> Result<()> {
    let Some(raw) = kv.get(Namespace::Users, key)? else { return Ok(()) };
    match serde_json::from_str::<EmailAlias>(&raw) {
        Ok(a) if a.username == username => kv.delete(Namespace::Users, key),
        _ => Ok(()),
    }
}

fn list(kv: &mut impl Kv) -> Result<Outcome> {
    let mut rows = Vec::new();
    for key in kv.list(Namespace::Users, "user:")? {
        let raw = kv.get(Namespace::Users, &key)?.unwrap_or_default();
        let username = key.trim_start_matches("user:");
        rows.push(match User::from_record(&key, &raw) {
            Ok(u) => json!({ "username": username, "email": u.email, "sub": u.sub, "name": u.name }),
            Err(e) => json!({ "username": username, "error": e }),
        });
    }
    let human = table(
        &["USERNAME", "EMAIL", "SUB"],
        rows.iter().map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            match r.get("error") {
                Some(e) => vec![s("username"), "(malformed)".into(), e.as_str().unwrap_or("").into()],
                None => vec![s("username"), s("email"), s("sub")],
            }
        }),
    );
    Ok(Outcome { human, json: Value::Array(rows) })
}

fn show(username: &str, kv: &mut impl Kv) -> Result<Outcome> {
    let key = user_key(username);
    let raw =
        kv.get(Namespace::Users, &key)?.ok_or_else(|| usage(format!("no user '{username}' in {}", kv.describe())))?;
    if let Err(e) = User::from_record(&key, &raw) {
        eprintln!("warning: {e}");
    }
    Ok(record_outcome(&raw))
}

fn remove(username: &str, kv: &mut impl Kv) -> Result<Outcome> {
    let key = user_key(username);
    let raw =
        kv.get(Namespace::Users, &key)?.ok_or_else(|| usage(format!("no user '{username}' in {}", kv.describe())))?;
    kv.delete(Namespace::Users, &key)?;
    let email = serde_json::from_str::<Value>(&raw).ok().and_then(|v| v["email"].as_str().map(str::to_string));
    if let Some(email) = &email {
        remove_alias(&email_key(email), username, kv)?;
    }
    let also = email.as_deref().map(|e| format!(" and its email alias {e}")).unwrap_or_default();
    Ok(Outcome {
        human: format!("Removed user '{username}'{also} from {}.", kv.describe()),
        json: json!({ "removed": username, "email": email }),
    })
}
