//! `oidc-admin demo`: a client and a user to try the provider with.

use crate::cli::{DemoArgs, ProfileArgs};
use crate::clients::{self, NewClient};
use crate::error::Result;
use crate::kv::Kv;
use crate::output::Outcome;
use crate::users::{self, NewUser};
use edge_oidc::crypto::DEFAULT_PBKDF2_ITERATIONS;
use edge_oidc::model::AuthMethod;
use serde_json::json;

pub const CLIENT_ID: &str = "demo-app";
pub const USERNAME: &str = "demo";
pub const PASSWORD: &str = "demo-password";
pub const EMAIL: &str = "demo@example.com";

pub fn run(args: &DemoArgs, kv: &mut impl Kv) -> Result<Outcome> {
    let client = clients::add(demo_client(&args.redirect_uri), true, kv)?;
    users::add(&demo_user(), true, || Ok(Some(PASSWORD.to_string())), kv)?;
    let secret = client.json["client_secret"].as_str().unwrap_or_default().to_string();
    let human = format!(
        "Demo client and user written to {}.\n\
         client_id:     {CLIENT_ID}\n\
         client_secret: {secret}\n\
         redirect_uri:  {}\n\
         login:         {USERNAME} (or {EMAIL})\n\
         password:      {PASSWORD}\n\
         The client secret is new on every run and shown only now.",
        kv.describe(),
        args.redirect_uri
    );
    let json = json!({
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "redirect_uri": args.redirect_uri,
        "username": USERNAME,
        "email": EMAIL,
        "password": PASSWORD,
    });
    Ok(Outcome { human, json })
}

fn demo_client(redirect_uri: &str) -> NewClient {
    NewClient {
        post_logout_redirect_uris: vec![],
        client_id: CLIENT_ID.into(),
        client_name: Some("Demo App".into()),
        redirect_uris: vec![redirect_uri.into()],
        auth_method: AuthMethod::ClientSecretBasic,
        scope: "openid profile email".into(),
        grant_types: vec![],
        client_uri: None,
        logo_uri: None,
        policy_uri: None,
        tos_uri: None,
        pairwise: false,
        id_token_alg: edge_oidc::keys::Alg::RS256,
        require_pkce: true,
        refresh_grace: 0,
        jwks: None,
        jwks_uri: None,
        resources: vec![],
        minimum_acr: None,
    }
}

fn demo_user() -> NewUser {
    NewUser {
        username: USERNAME.into(),
        iterations: DEFAULT_PBKDF2_ITERATIONS,
        claims: ProfileArgs {
            email: Some(EMAIL.into()),
            email_verified: true,
            name: Some("Demo User".into()),
            given_name: Some("Demo".into()),
            family_name: Some("User".into()),
            preferred_username: Some(USERNAME.into()),
            locale: Some("en".into()),
            ..ProfileArgs::default()
        },
    }
}
