//! `oidc-admin users passkeys|remove-passkey|reset-codes|invite`: calls to a running
//! provider's admin endpoint (`/admin/`, src/protocol/admin.rs), for what lives in Durable
//! Objects rather than KV. The token comes from `OIDC_ADMIN_TOKEN`, or, for a provider on
//! this machine, from `ADMIN_TOKEN` in `.dev.vars` (`make dev` writes one); never from a flag
//! (it would show in the process list).

use crate::cli::AdminArgs;
use crate::error::{failed, usage, Result};
use serde_json::Value;
use std::time::Duration;

pub struct Admin {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Admin {
    pub fn new(args: &AdminArgs) -> Result<Admin> {
        let url = url::Url::parse(&args.url).map_err(|e| usage(format!("--url '{}': {e}", args.url)))?;
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if url.scheme() != "https" && !local {
            return Err(usage("--url must be https (http only for localhost)"));
        }
        let token = match std::env::var("OIDC_ADMIN_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
            Some(t) => t.trim().to_string(),
            None if local => dev_vars_token(&args.dev_vars)?,
            None => return Err(usage("set OIDC_ADMIN_TOKEN to the provider's ADMIN_TOKEN secret")),
        };
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).redirects(0).build();
        Ok(Admin { base: args.url.trim_end_matches('/').to_string(), token, agent })
    }

    /// Calls `method` on `/admin/{path}`: the JSON answer (`Null` for 204).
    pub fn call(&self, method: &str, path: &str) -> Result<Value> {
        let url = format!("{}/admin/{path}", self.base);
        let answer = self.agent.request(method, &url).set("authorization", &format!("Bearer {}", self.token)).call();
        match answer {
            Ok(r) if r.status() == 204 => Ok(Value::Null),
            Ok(r) => r.into_json().map_err(|e| failed(format!("{method} {url}: the answer is not JSON: {e}"))),
            Err(ureq::Error::Status(code, r)) => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                let detail = v["error_description"].as_str().unwrap_or("no details");
                let msg = format!("{method} {url}: {code}: {detail}");
                Err(if code == 404 || code == 401 { usage(msg) } else { failed(msg) })
            }
            Err(e) => Err(failed(format!("{method} {url}: {e}"))),
        }
    }
}

/// `ADMIN_TOKEN` from a `.dev.vars` file (`KEY=value` or `KEY='value'` lines).
fn dev_vars_token(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("set OIDC_ADMIN_TOKEN (cannot read {}: {e})", path.display())))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("ADMIN_TOKEN="))
        .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
        .find(|v| !v.is_empty())
        .ok_or_else(|| usage(format!("set OIDC_ADMIN_TOKEN ({} has no ADMIN_TOKEN)", path.display())))
}

/// An id or name in a URL path.
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
