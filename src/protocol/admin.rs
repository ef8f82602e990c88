//! The operator's endpoint (`/admin/`), for `oidc-admin` against a running provider: what
//! lives in users' account objects (passkeys, one-time codes) and invitations to enrol a
//! passkey. Off unless `ADMIN_TOKEN` is set; each request carries it as a bearer token
//! (RFC 6750 §2.1), compared by hash in constant time. JSON in, JSON out.
//!
//! - `GET /admin/users/{username}/factors`: the passkeys (no keys) and whether codes are on
//! - `DELETE /admin/users/{username}/passkeys/{credential id}`
//! - `DELETE /admin/users/{username}/codes`: one-time codes and recovery codes off
//! - `POST /admin/users/{username}/invite`: a one-time link to create a passkey (`enroll`)

use super::enroll::INVITE_SECONDS;
use super::failure::Failure;
use super::{Backend, Provider};
use crate::crypto::{ct_eq, sha256};
use crate::error::ErrorCode;
use crate::http::{Request, Response};
use crate::model::User;
use crate::objects::account::{FactorsOf, RemoveCredential, RemoveTotp};
use crate::store::{AccountStore, UserStore};
use serde_json::json;

pub const ADMIN_PREFIX: &str = "/admin/";

fn error(status: u16, code: ErrorCode, description: &str) -> Response {
    Response::json(status, &json!({"error": code.as_str(), "error_description": description})).no_store()
}

impl<B: Backend> Provider<'_, B> {
    pub async fn admin(&self, req: &Request) -> Result<Response, Failure> {
        // Without a token configured there is no such endpoint.
        let Some(expected) = self.config.admin_token else {
            return Ok(error(404, ErrorCode::InvalidRequest, "the admin endpoint is off (ADMIN_TOKEN is not set)"));
        };
        let given = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
        if !given.is_some_and(|t| ct_eq(&sha256(t.as_bytes()), &expected)) {
            return Ok(error(401, ErrorCode::InvalidToken, "a valid admin token is required")
                .with_header("www-authenticate", "Bearer realm=\"admin\", error=\"invalid_token\""));
        }
        let rest = req.path.strip_prefix(ADMIN_PREFIX).unwrap_or_default();
        let parts: Vec<&str> = rest.split('/').collect();
        let (username, action) = match parts.as_slice() {
            ["users", user, action @ ..] if !user.is_empty() => (*user, action),
            _ => return Ok(error(404, ErrorCode::InvalidRequest, "no such admin resource")),
        };
        let user = match self.users.by_username(username).await? {
            Some(u) => u,
            None => return Ok(error(404, ErrorCode::InvalidRequest, "no such user")),
        };
        let m = req.method.as_str();
        Ok(match (m, action) {
            ("GET", ["factors"]) => self.factors(&user).await?,
            ("DELETE", ["passkeys", id]) => {
                let removed = self
                    .accounts
                    .send(&user.sub, RemoveCredential { id_hash: None, credential_id: id.to_string() })
                    .await?;
                if removed {
                    Response::new(204, "application/json", "").no_store()
                } else {
                    error(404, ErrorCode::InvalidRequest, "the user has no passkey with this id")
                }
            }
            ("DELETE", ["codes"]) => {
                self.accounts.send(&user.sub, RemoveTotp { id_hash: None }).await?;
                Response::new(204, "application/json", "").no_store()
            }
            ("POST", ["invite"]) => {
                let (url, expires_at) = self.invitation(&user)?;
                Response::json(200, &json!({"url": url, "expires_at": expires_at})).no_store()
            }
            _ => error(405, ErrorCode::InvalidRequest, "no such admin operation"),
        })
    }

    async fn factors(&self, user: &User) -> Result<Response, Failure> {
        let f = self.accounts.send(&user.sub, FactorsOf {}).await?;
        let passkeys: Vec<_> = f
            .credentials
            .iter()
            .map(|c| {
                json!({"id": c.id, "name": c.name, "created_at": c.created_at, "last_used_at": c.last_used_at,
                       "synced": c.backup_state, "sign_count": c.sign_count})
            })
            .collect();
        let body = json!({"username": user.username, "sub": user.sub, "password": user.has_password(),
                          "passkeys": passkeys, "codes": f.totp, "recovery_codes_left": f.recovery_left,
                          "invite_seconds": INVITE_SECONDS});
        Ok(Response::json(200, &body).no_store())
    }
}
