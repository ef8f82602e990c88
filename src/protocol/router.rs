//! Dispatch by method and path. Endpoints answer `Result<Response, Failure>`; here a
//! [`Failure`] becomes its response (JSON, page or redirect), and its detail a log line, once.

use super::discovery::{
    AUTHORIZE_PATH, CONSENTS_PATH, END_SESSION_PATH, INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH, TOKEN_PATH,
    USERINFO_PATH,
};
use super::failure::Failure;
use super::registration::REGISTRATION_PATH;
use super::{Backend, Provider};
use crate::brand::THEME_PATH;
use crate::config::Config;
use crate::error::OAuthError;
use crate::http::{error_json, Request, Response};
use crate::pages::{self, ErrorText, Ui};

/// Documents prepared once per isolate: the discovery document, the public JWKS and the
/// operator's theme stylesheet.
pub struct Documents {
    pub discovery: String,
    pub jwks: String,
    pub theme_css: String,
}

impl Documents {
    /// `pairwise`: whether the `PAIRWISE_SALT` secret is set.
    pub fn new(config: &Config, keys: &crate::keys::PrivateJwkSet, pairwise: bool) -> Documents {
        Documents {
            discovery: super::discovery::document(config, pairwise, &keys.signing_algs()).to_string(),
            jwks: keys.public_jwks().to_string(),
            theme_css: config.brand.theme_css(),
        }
    }
}

/// What every response gets on its way out: `X-Content-Type-Options: nosniff`, and
/// `Strict-Transport-Security` when the issuer is https (RFC 6797; the pages, the JSON
/// endpoints and the redirects alike). Two years, not
/// `includeSubDomains`: the operator's other hosts are not this provider's to decide.
pub fn finish(r: Response, config: &Config) -> Response {
    // Never sniffed as anything but what it says it is (JSON included).
    let r = if r.header("x-content-type-options").is_none() {
        r.with_header("x-content-type-options", "nosniff")
    } else {
        r
    };
    if config.secure_cookies {
        r.with_header("strict-transport-security", "max-age=63072000")
    } else {
        r
    }
}

fn preflight(methods: &str) -> Response {
    Response { status: 204, headers: vec![], body: vec![] }
        .with_header("access-control-allow-origin", "*")
        .with_header("access-control-allow-methods", methods)
        .with_header("access-control-allow-headers", "Authorization, Content-Type")
        .with_header("access-control-max-age", "86400")
}

fn not_allowed_json(allow: &str) -> Response {
    error_json(&OAuthError::invalid_request("method not allowed")).with_status(405).with_header("allow", allow)
}

fn not_allowed_page(ui: &Ui<'_>, allow: &str) -> Response {
    let e = ErrorText::new("error.method.title", "error.method.message", "invalid_request");
    pages::error_page(ui, 405, e).with_header("allow", allow)
}

fn not_found(ui: &Ui<'_>) -> Response {
    pages::error_page(ui, 404, ErrorText::new("error.not_found.title", "error.not_found.message", "not_found"))
}

/// Paths the worker serves before it needs any store or key. Only `method` and `path` of
/// `req` are read: the platform calls this before it copies the headers and body.
pub fn static_route(req: &Request, docs: &Documents) -> Option<Response> {
    let m = req.method.as_str();
    Some(match req.path.as_str() {
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => match m {
            "GET" | "HEAD" => Response::new(200, "application/json", docs.discovery.clone())
                .with_header("cache-control", "public, max-age=3600")
                .cors(),
            "OPTIONS" => preflight("GET, HEAD"),
            _ => not_allowed_json("GET, HEAD, OPTIONS"),
        },
        JWKS_PATH => match m {
            // JWKS (RFC 7517 §5): relying parties may cache it for max-age. Ten minutes keeps the
            // load low and bounds how long a rotation must wait between publishing a key and
            // signing with it (docs/key-rotation.md); a relying party that meets
            // an unknown kid refetches anyway (OpenID Connect Core §10.1.1).
            "GET" | "HEAD" => Response::new(200, "application/jwk-set+json", docs.jwks.clone())
                .with_header("cache-control", "public, max-age=600")
                .cors(),
            "OPTIONS" => preflight("GET, HEAD"),
            _ => not_allowed_json("GET, HEAD, OPTIONS"),
        },
        pages::STYLE_PATH => pages::stylesheet(),
        pages::SCRIPT_PATH => pages::script(),
        THEME_PATH => Response::new(200, "text/css; charset=utf-8", docs.theme_css.clone())
            .with_header("cache-control", "public, max-age=86400")
            .with_header("x-content-type-options", "nosniff"),
        TOKEN_PATH | REVOCATION_PATH | INTROSPECTION_PATH | REGISTRATION_PATH if m == "OPTIONS" => preflight("POST"),
        p if m == "OPTIONS" && p.starts_with("/register/") => preflight("GET, PUT, DELETE"),
        USERINFO_PATH if m == "OPTIONS" => preflight("GET, POST"),
        // Everything else, pages in the browser's language included, needs the headers.
        _ => return None,
    })
}

impl<B: Backend> Provider<'_, B> {
    /// The endpoints that need stores and keys.
    pub async fn handle(&self, req: &Request) -> Response {
        match self.route(req).await {
            Ok(r) => r,
            Err(f) => {
                if let Some(detail) = &f.detail {
                    (self.log)(&format!("{} {}: {}: {detail}", req.method, req.path, f.error.code.as_str()));
                }
                f.into_response(self.config)
            }
        }
    }

    async fn route(&self, req: &Request) -> Result<Response, Failure> {
        let m = req.method.as_str();
        let ui = || self.ui(self.locale(req, None));
        Ok(match req.path.as_str() {
            "/" => match m {
                "GET" | "HEAD" => pages::index_page(&ui()),
                _ => not_allowed_page(&ui(), "GET"),
            },
            AUTHORIZE_PATH => match m {
                "GET" | "HEAD" | "POST" => self.authorize(req).await?,
                _ => not_allowed_page(&ui(), "GET, POST"),
            },
            "/login" => match m {
                "POST" => self.login(req).await?,
                _ => not_allowed_page(&ui(), "POST"),
            },
            "/login/second" => match m {
                "POST" => self.second_factor(req).await?,
                _ => not_allowed_page(&ui(), "POST"),
            },
            "/consent" => match m {
                "POST" => self.consent(req).await?,
                _ => not_allowed_page(&ui(), "POST"),
            },
            END_SESSION_PATH => match m {
                "GET" | "HEAD" | "POST" => self.logout(req).await?,
                _ => not_allowed_page(&ui(), "GET, POST"),
            },
            super::account::ACCOUNT_PATH => match m {
                "GET" | "HEAD" | "POST" => self.account(req).await?,
                _ => not_allowed_page(&ui(), "GET, POST"),
            },
            super::enroll::ENROLL_PATH => match m {
                "GET" | "HEAD" | "POST" => self.enroll(req).await?,
                _ => not_allowed_page(&ui(), "GET, POST"),
            },
            p if p.starts_with(super::admin::ADMIN_PREFIX) => self.admin(req).await?,
            CONSENTS_PATH => match m {
                "GET" | "HEAD" | "POST" => self.consents(req).await?,
                _ => not_allowed_page(&ui(), "GET, POST"),
            },
            TOKEN_PATH => match m {
                "POST" => self.token(req).await?,
                _ => not_allowed_json("POST, OPTIONS"),
            },
            REVOCATION_PATH => match m {
                "POST" => self.revoke(req).await?,
                _ => not_allowed_json("POST, OPTIONS"),
            },
            REGISTRATION_PATH => match m {
                "POST" => self.register(req).await?,
                _ => not_allowed_json("POST, OPTIONS"),
            },
            p if p.starts_with("/register/") => match m {
                "GET" | "PUT" | "DELETE" => {
                    self.manage_registration(req, p.get("/register/".len()..).unwrap_or_default()).await?
                }
                _ => not_allowed_json("GET, PUT, DELETE, OPTIONS"),
            },
            INTROSPECTION_PATH => match m {
                "POST" => self.introspect(req).await?,
                _ => not_allowed_json("POST, OPTIONS"),
            },
            USERINFO_PATH => match m {
                "GET" | "POST" => self.userinfo(req).await?,
                _ => not_allowed_json("GET, POST, OPTIONS"),
            },
            _ => not_found(&ui()),
        })
    }
}
