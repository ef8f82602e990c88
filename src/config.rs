//! Provider configuration, parsed from plain strings (wrangler `[vars]`), so it is
//! testable without the runtime.

use crate::brand::Brand;
use crate::crypto::{DEFAULT_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS};
use crate::i18n::{Locale, Overrides, LOCALES};
use crate::model::strength::Level;
use crate::objects::throttle::Policy;
use url::Url;

pub mod clients;
pub use clients::{ClientsConfig, Registration};

#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier (OpenID Connect Discovery §3, RFC 8414 §2): https (or http on
    /// loopback), no query or fragment, no trailing slash. Every endpoint URL derives from it.
    pub issuer: String,
    /// Authorization code lifetime (RFC 6749 §4.1.2: short, 10 minutes at most).
    pub code_ttl: i64,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    /// Refresh token idle lifetime: each rotation issues a token valid this long.
    pub refresh_token_ttl: i64,
    /// Absolute lifetime of a refresh token family from its grant's code redemption: no
    /// refresh extends an offline grant past it (the user signs in again).
    pub refresh_token_max_lifetime: i64,
    /// How long a login/consent page stays usable.
    pub interaction_ttl: i64,
    /// How long a browser login session lasts (absolute, from sign-in).
    pub session_ttl: i64,
    /// Whether cookies get `Secure` and the `__Host-` prefix (true when the issuer is https).
    pub secure_cookies: bool,
    /// Audit events carry whole client IPs (`AUDIT_FULL_IP = "true"`), not their /24 or /48.
    pub audit_full_ip: bool,
    /// Failed logins per account before it is locked (with growing delays before that).
    pub login_max_failures: u32,
    /// Failed logins per client IP before its attempts are slowed down (never locked).
    pub login_max_failures_ip: u32,
    /// Failed client authentications per client and IP before they are locked.
    pub client_max_failures: u32,
    /// How long a lock lasts, and how long failures are remembered.
    pub lock_seconds: i64,
    /// PBKDF2 iterations of the users' password hashes: the work spent on an unknown user,
    /// so that it takes as long as a wrong password.
    pub password_hash_iterations: u32,
    /// The operator's look (`BRAND_*`).
    pub brand: Brand,
    /// The page language when neither `ui_locales` nor `Accept-Language` names one we have.
    pub default_locale: Locale,
    /// The operator's replacements for catalog messages (`MESSAGES`).
    pub messages: Overrides,
    /// Clients that appear without an operator (metadata documents, registration).
    pub clients: ClientsConfig,
    /// The level every sign-in must reach (`MINIMUM_ACR`: pwd, mfa or phr).
    pub minimum_acr: crate::model::strength::Level,
    /// Bearer token of the operator's endpoints (`ADMIN_TOKEN`, a secret): its SHA-256.
    pub admin_token: Option<[u8; 32]>,
}

pub const DEFAULT_CODE_TTL: i64 = 60;
pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_ID_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_INTERACTION_TTL: i64 = 600;
pub const DEFAULT_SESSION_TTL: i64 = 86_400;
pub const DEFAULT_REFRESH_TOKEN_TTL: i64 = 30 * 86_400;
pub const MAX_REFRESH_TOKEN_TTL: i64 = 365 * 86_400;
pub const DEFAULT_REFRESH_TOKEN_MAX_LIFETIME: i64 = 365 * 86_400;
pub const MAX_REFRESH_TOKEN_MAX_LIFETIME: i64 = 5 * 365 * 86_400;

/// Why a request may not be answered as it came ([`Config::check_origin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginCheck {
    /// Plain http to the issuer's host: the same URL over https (a 308).
    ToHttps(String),
    /// Another origin than the issuer's: the configuration page, naming both.
    Mismatch(String),
}

impl Config {
    /// Builds the configuration from a variable lookup (`ISSUER`, `CODE_TTL_SECONDS`,
    /// `ACCESS_TOKEN_TTL_SECONDS`, `ID_TOKEN_TTL_SECONDS`, `INTERACTION_TTL_SECONDS`).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let issuer = get("ISSUER").ok_or("the ISSUER variable is not set")?;
        if get("REFRESH_GRACE_SECONDS").is_some() {
            return Err("REFRESH_GRACE_SECONDS is no longer a variable: the retry window is per client and off by \
                        default (oidc-admin clients add --refresh-grace SECONDS); remove it from [vars]"
                .into());
        }
        let issuer = issuer.trim().trim_end_matches('/').to_string();
        let url = Url::parse(&issuer).map_err(|e| format!("ISSUER '{issuer}' is not a URL: {e}"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1") | Some("localhost") | Some("[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(format!("ISSUER '{issuer}' must use https (http only on loopback)"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("ISSUER '{issuer}' must not have a query or fragment"));
        }
        // The worker serves its endpoints at the root of its origin.
        if url.path() != "/" {
            return Err(format!("ISSUER '{issuer}' must be an origin without a path, e.g. https://login.example.com"));
        }
        // Written as browsers and the runtime write the origin (lower case, no default port,
        // punycode), so that it can be compared with the URL a request arrives at.
        let origin = url.origin().ascii_serialization();
        if origin != issuer {
            return Err(format!("ISSUER '{issuer}' must be written as its origin: {origin}"));
        }
        let ttl = |name: &str, default: i64, max: i64| -> Result<i64, String> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if n > 0 && n <= max => Ok(n),
                    _ => Err(format!("{name} must be a whole number between 1 and {max}, not '{v}'")),
                },
            }
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let brand = Brand::from_vars(&get, &host)?;
        let default_locale = match get("DEFAULT_LOCALE").filter(|v| !v.trim().is_empty()) {
            None => Locale::En,
            Some(v) => LOCALES.into_iter().find(|l| l.tag() == v.trim()).ok_or_else(|| {
                let all: Vec<&str> = LOCALES.iter().map(|l| l.tag()).collect();
                format!("DEFAULT_LOCALE must be one of {}, not '{v}'", all.join(", "))
            })?,
        };
        let messages = match get("MESSAGES").filter(|v| !v.trim().is_empty()) {
            None => Overrides::default(),
            Some(v) => Overrides::parse(&v)?,
        };
        let clients = ClientsConfig::from_vars(&get, loopback)?;
        let minimum_acr = match get("MINIMUM_ACR").map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            None => Level::Pwd,
            Some(v) => Level::parse(&v).ok_or(format!("MINIMUM_ACR must be pwd, mfa or phr, not '{v}'"))?,
        };
        let admin_token = get("ADMIN_TOKEN").map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        if admin_token.as_ref().is_some_and(|t| t.len() < 32) {
            return Err("ADMIN_TOKEN must be at least 32 characters (oidc-admin keys session-key)".into());
        }
        Ok(Config {
            clients,
            minimum_acr,
            admin_token: admin_token.map(|t| crate::crypto::sha256(t.as_bytes())),
            brand,
            default_locale,
            messages,
            secure_cookies: url.scheme() == "https",
            audit_full_ip: match get("AUDIT_FULL_IP").as_deref().map(str::trim) {
                None | Some("" | "false") => false,
                Some("true") => true,
                Some(v) => return Err(format!("AUDIT_FULL_IP must be true or false, not '{v}'")),
            },
            issuer,
            code_ttl: ttl("CODE_TTL_SECONDS", DEFAULT_CODE_TTL, 600)?,
            access_token_ttl: ttl("ACCESS_TOKEN_TTL_SECONDS", DEFAULT_ACCESS_TOKEN_TTL, 86_400)?,
            id_token_ttl: ttl("ID_TOKEN_TTL_SECONDS", DEFAULT_ID_TOKEN_TTL, 86_400)?,
            interaction_ttl: ttl("INTERACTION_TTL_SECONDS", DEFAULT_INTERACTION_TTL, 3600)?,
            session_ttl: ttl("SESSION_TTL_SECONDS", DEFAULT_SESSION_TTL, 30 * 86_400)?,
            refresh_token_ttl: ttl("REFRESH_TOKEN_TTL_SECONDS", DEFAULT_REFRESH_TOKEN_TTL, MAX_REFRESH_TOKEN_TTL)?,
            refresh_token_max_lifetime: ttl(
                "REFRESH_TOKEN_MAX_LIFETIME_SECONDS",
                DEFAULT_REFRESH_TOKEN_MAX_LIFETIME,
                MAX_REFRESH_TOKEN_MAX_LIFETIME,
            )?,
            login_max_failures: ttl("LOGIN_MAX_FAILURES", 5, 1000)? as u32,
            login_max_failures_ip: ttl("LOGIN_MAX_FAILURES_IP", 20, 100_000)? as u32,
            client_max_failures: ttl("CLIENT_MAX_FAILURES", 10, 1000)? as u32,
            lock_seconds: ttl("LOGIN_LOCK_SECONDS", 900, 86_400)?,
            password_hash_iterations: match ttl(
                "PASSWORD_HASH_ITERATIONS",
                i64::from(DEFAULT_PBKDF2_ITERATIONS),
                100_000,
            )? {
                n if n >= i64::from(MIN_PBKDF2_ITERATIONS) => n as u32,
                n => return Err(format!("PASSWORD_HASH_ITERATIONS must be at least {MIN_PBKDF2_ITERATIONS}, not {n}")),
            },
        })
    }

    /// An account: growing delays from the 2nd failure, locked at `LOGIN_MAX_FAILURES`.
    pub fn account_policy(&self) -> Policy {
        Policy { delay_from: 2, lock_at: Some(self.login_max_failures), lock_seconds: self.lock_seconds }
    }

    /// A client IP: slowed down from `LOGIN_MAX_FAILURES_IP` failures, never locked.
    pub fn ip_policy(&self) -> Policy {
        Policy { delay_from: self.login_max_failures_ip, lock_at: None, lock_seconds: self.lock_seconds }
    }

    /// A client at the token endpoint (from one IP): locked at `CLIENT_MAX_FAILURES`.
    pub fn client_policy(&self) -> Policy {
        Policy { delay_from: u32::MAX, lock_at: Some(self.client_max_failures), lock_seconds: self.lock_seconds }
    }

    /// Whether this deployment may answer a request made to `url`: one served anywhere but on
    /// loopback (`wrangler dev`) must be reached at the issuer's own origin, or it would hand
    /// out tokens and discovery naming another issuer (OpenID Connect Discovery §4.3: the
    /// issuer must be the URL the provider is reached at). The error names the mismatch; a
    /// plain-http request to the https issuer's host is sent to https instead.
    pub fn check_origin(&self, url: &str) -> Result<(), OriginCheck> {
        let Some((scheme, rest)) = url.split_once("://") else { return Ok(()) };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // Every request of a deployment: compared in place, no allocation.
        let issuer_authority = |s: &str| {
            self.issuer
                .strip_prefix(s)
                .and_then(|r| r.strip_prefix("://"))
                .is_some_and(|a| a.eq_ignore_ascii_case(authority))
        };
        if issuer_authority(scheme) {
            return Ok(());
        }
        let host = authority.rsplit_once(':').filter(|(h, p)| !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if crate::model::uri::is_loopback_host(host.map_or(authority, |(h, _)| h)) {
            return Ok(());
        }
        if scheme == "http" && self.secure_cookies && issuer_authority("https") {
            let rest = rest.get(authority.len()..).unwrap_or_default();
            return Err(OriginCheck::ToHttps(format!("{}{rest}", self.issuer)));
        }
        let fix = if self.secure_cookies {
            "Set ISSUER to the address people use, or route only that address to this Worker"
        } else {
            "ISSUER is a local development address: set it to this deployment's https origin"
        };
        Err(OriginCheck::Mismatch(format!(
            "This provider was reached at {scheme}://{authority}, but its ISSUER is {}. {fix} (docs/deployment.md).",
            self.issuer
        )))
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn issuer_rules() {
        assert!(Config::from_vars(vars(&[])).unwrap_err().contains("ISSUER"));
        assert!(Config::from_vars(vars(&[("ISSUER", "http://example.com")])).is_err());
        assert!(Config::from_vars(vars(&[("ISSUER", "https://id.example.com?x=1")])).is_err());
        assert!(Config::from_vars(vars(&[("ISSUER", "https://id.example.com/oidc")])).unwrap_err().contains("path"));
        let c = Config::from_vars(vars(&[("ISSUER", "https://id.example.com/")])).unwrap();
        assert_eq!(c.issuer, "https://id.example.com");
        assert!(c.secure_cookies);
        let c = Config::from_vars(vars(&[("ISSUER", "http://127.0.0.1:8787")])).unwrap();
        assert!(!c.secure_cookies);
        assert_eq!(c.code_ttl, 60);
    }

    #[test]
    fn a_deployment_answers_at_its_issuer_only() {
        let c = Config::from_vars(vars(&[("ISSUER", "https://id.example.com")])).unwrap();
        assert!(c.check_origin("https://id.example.com/token").is_ok());
        assert!(c.check_origin("https://ID.example.com/").is_ok());
        // Local development answers whatever the issuer.
        for local in ["http://127.0.0.1:8787/", "http://localhost:8787/authorize?x", "http://[::1]:8787/"] {
            assert!(c.check_origin(local).is_ok(), "{local}");
        }
        let mismatch = |c: &Config, url: &str| match c.check_origin(url) {
            Err(OriginCheck::Mismatch(e)) => e,
            other => panic!("{url}: {other:?}"),
        };
        let e = mismatch(&c, "https://edge-oidc.someone.workers.dev/.well-known/openid-configuration");
        assert!(e.contains("https://edge-oidc.someone.workers.dev") && e.contains("https://id.example.com"), "{e}");
        mismatch(&c, "https://id.example.com:8443/");
        mismatch(&c, "https://127.0.0.1.evil.example/");
        mismatch(&c, "http://id.example.com.evil.example/");
        // Plain http to the issuer's host: sent to https, path and query kept.
        assert_eq!(
            c.check_origin("http://id.example.com/authorize?client_id=a"),
            Err(OriginCheck::ToHttps("https://id.example.com/authorize?client_id=a".into()))
        );
        // The shipped development issuer, deployed as it is.
        let c = Config::from_vars(vars(&[("ISSUER", "http://localhost:8787")])).unwrap();
        assert!(mismatch(&c, "https://edge-oidc.someone.workers.dev/").contains("local development address"));
        // An issuer is written as its origin, so that requests can be compared with it.
        for (written, origin) in [
            ("https://id.example.com:443", "https://id.example.com"),
            ("https://ID.example.com", "https://id.example.com"),
        ] {
            let e = Config::from_vars(vars(&[("ISSUER", written)])).unwrap_err();
            assert!(e.contains(&format!("must be written as its origin: {origin}")), "{e}");
        }
    }

    #[test]
    fn audit_addresses() {
        let c = Config::from_vars(vars(&[("ISSUER", "https://a.example")])).unwrap();
        assert!(!c.audit_full_ip);
        let c = Config::from_vars(vars(&[("ISSUER", "https://a.example"), ("AUDIT_FULL_IP", "true")])).unwrap();
        assert!(c.audit_full_ip);
        let e = Config::from_vars(vars(&[("ISSUER", "https://a.example"), ("AUDIT_FULL_IP", "yes")])).unwrap_err();
        assert!(e.contains("AUDIT_FULL_IP"), "{e}");
    }

    #[test]
    fn ttl_validation() {
        let e = Config::from_vars(vars(&[("ISSUER", "https://a.example"), ("CODE_TTL_SECONDS", "9999")])).unwrap_err();
        assert!(e.contains("CODE_TTL_SECONDS"));
        let c = Config::from_vars(vars(&[("ISSUER", "https://a.example"), ("CODE_TTL_SECONDS", "10")])).unwrap();
        assert_eq!(c.code_ttl, 10);
    }

    #[test]
    fn refresh_settings() {
        let c = Config::from_vars(vars(&[("ISSUER", "https://a.example")])).unwrap();
        assert_eq!((c.refresh_token_ttl, c.refresh_token_max_lifetime), (30 * 86_400, 365 * 86_400));
        let c = Config::from_vars(vars(&[
            ("ISSUER", "https://a.example"),
            ("REFRESH_TOKEN_MAX_LIFETIME_SECONDS", "86400"),
        ]))
        .unwrap();
        assert_eq!(c.refresh_token_max_lifetime, 86_400);
        for (k, v) in [
            ("REFRESH_TOKEN_MAX_LIFETIME_SECONDS", "0"),
            ("REFRESH_TOKEN_MAX_LIFETIME_SECONDS", "999999999"),
            ("REFRESH_TOKEN_TTL_SECONDS", "31536001"),
            ("REFRESH_GRACE_SECONDS", "10"),
        ] {
            let e = Config::from_vars(vars(&[("ISSUER", "https://a.example"), (k, v)])).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
    }
}
