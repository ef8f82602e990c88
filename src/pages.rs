//! HTML pages rendered from the templates in `static/` (compiled in), in the language of
//! the request ([`crate::i18n`]) and with the operator's look ([`crate::brand`]).
//!
//! Placeholders: `{{name}}` inserts a value HTML-escaped, `{{{name}}}` inserts markup built
//! here from escaped parts, `{{t:key}}` inserts the catalog message `key`, escaped. Every
//! page carries the security headers of [`page_response`].

use crate::brand::{self, Brand, THEME_PATH};
use crate::config::Config;
pub use crate::html::escape;
use crate::http::Response;
use crate::i18n::{Locale, Text};
use std::sync::OnceLock;

pub const LAYOUT: &str = include_str!("../static/layout.html");
pub const LOGIN: &str = include_str!("../static/login.html");
pub const CONSENT: &str = include_str!("../static/consent.html");
pub const ERROR: &str = include_str!("../static/error.html");
pub const INDEX: &str = include_str!("../static/index.html");
pub const LOGOUT: &str = include_str!("../static/logout.html");
pub const MESSAGE: &str = include_str!("../static/message.html");
pub const CONSENTS: &str = include_str!("../static/consents.html");
pub const STYLE: &str = include_str!("../static/style.css");
pub const STYLE_PATH: &str = "/assets/style.css";
pub const SCRIPT: &str = include_str!("../static/passkeys.js");
pub const SCRIPT_PATH: &str = "/assets/passkeys.js";
pub const SECOND: &str = include_str!("../static/second.html");
pub const ACCOUNT: &str = include_str!("../static/account.html");

/// What a page is rendered with: the language's messages and the operator's look.
#[derive(Clone)]
pub struct Ui<'a> {
    pub text: Text<'a>,
    pub brand: &'a Brand,
}

impl<'a> Ui<'a> {
    pub fn new(config: &'a Config, locale: Locale) -> Ui<'a> {
        Ui { text: Text::new(locale, &config.messages), brand: &config.brand }
    }

    /// The message `key` (plain text).
    pub fn t(&self, key: &str) -> String {
        self.text.get(key)
    }
}

/// Fills a template in one pass: `{{{name}}}` from `raw`, `{{name}}` from `escaped`,
/// `{{t:key}}` from the messages. A placeholder with no value is left empty.
pub fn render(template: &str, ui: &Ui<'_>, raw: &[(&str, &str)], escaped: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let (name, len, is_raw) = match after.strip_prefix("{{{").and_then(|a| a.find("}}}").map(|e| (&a[..e], e))) {
            Some((name, end)) => (name, end + 6, true),
            None => match after[2..].find("}}") {
                Some(end) => (&after[2..2 + end], end + 4, false),
                None => {
                    out.push_str(after);
                    return out;
                }
            },
        };
        let value = |pairs: &[(&str, &str)]| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        if is_raw {
            out.push_str(&value(raw).unwrap_or_default());
        } else if let Some(key) = name.strip_prefix("t:") {
            out.push_str(&escape(&ui.text.get(key)));
        } else {
            out.push_str(&escape(&value(escaped).unwrap_or_default()));
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Origins a page may use beyond its own, for its Content-Security-Policy.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Where a form on the page may lead, redirects after its post included (CSP
    /// `form-action` also governs those redirects, and Chromium enforces it).
    pub form_action: Vec<String>,
    /// Images from other origins (the operator's logo is added by [`page`]).
    pub img: Vec<String>,
    /// The page runs the provider's own script (passkeys): `script-src 'self'`.
    pub script: bool,
}

impl Sources {
    pub fn forms(form_action: Vec<String>) -> Sources {
        Sources { form_action, img: vec![], script: false }
    }

    /// With the passkey script.
    pub fn with_script(self) -> Sources {
        Sources { script: true, ..self }
    }
}

/// The tag that loads the passkey script (versioned, so a new script is not served stale).
pub fn script_tag() -> String {
    static V: OnceLock<String> = OnceLock::new();
    let v = V.get_or_init(|| crate::crypto::b64url(&crate::crypto::sha256(SCRIPT.as_bytes())[..6]));
    format!("<script src=\"{SCRIPT_PATH}?v={v}\" defer></script>")
}

/// A form run by the passkey script (static/passkeys.js): it calls `navigator.credentials`
/// with `options` (`get`, or `create` for options with an `rp`) and posts the browser's answer
/// as JSON in `field`, with the page's state. Hidden until the script shows it, so a page
/// without JavaScript offers only what works without it.
pub struct PasskeyForm<'a> {
    pub action: &'a str,
    /// The hidden field that carries the page's state: (`tx`, sealed sign-in) or (`csrf`, …).
    pub state: (&'a str, &'a str),
    pub options: &'a serde_json::Value,
    pub field: &'a str,
    /// Message keys: the button, and what to say when the browser's ceremony ends in an error.
    pub button: &'a str,
    pub error: &'a str,
    /// Also offered in the username field's autofill (conditional mediation).
    pub conditional: bool,
}

pub fn passkey_form(f: &PasskeyForm<'_>, ui: &Ui<'_>) -> String {
    let mode = if f.options.get("rp").is_some() { "create" } else { "get" };
    format!(
        "<form method=\"post\" action=\"{action}\" class=\"passkey\" data-webauthn=\"{mode}\"{cond} data-options=\"{opts}\" data-error=\"{err}\">\n\
         <input type=\"hidden\" name=\"{state}\" value=\"{value}\">\n<input type=\"hidden\" name=\"{field}\" data-webauthn-result>\n\
         <button type=\"button\" class=\"secondary\" data-webauthn-start hidden>{label}</button>\n\
         <p class=\"error\" data-webauthn-error hidden role=\"alert\"></p>\n</form>\n",
        action = escape(f.action),
        cond = if f.conditional { " data-conditional" } else { "" },
        opts = escape(&f.options.to_string()),
        err = escape(&ui.t(f.error)),
        state = escape(f.state.0),
        value = escape(f.state.1),
        field = escape(f.field),
        label = escape(&ui.t(f.button)),
    )
}

/// A date as `YYYY-MM-DD` (UTC), from seconds since the epoch.
pub fn iso_date(secs: i64) -> String {
    let time = crate::audit::rfc3339(secs);
    time.split('T').next().unwrap_or_default().to_string()
}

/// `?v=` of the stylesheet: its hash, so that a new deployment's pages fetch it anew.
fn style_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| crate::crypto::b64url(&crate::crypto::sha256(STYLE.as_bytes())[..6]))
}

/// A full page: the layout around a rendered body, with the page security headers.
pub fn page(ui: &Ui<'_>, status: u16, title: &str, body: &str, mut sources: Sources) -> Response {
    let brand = ui.brand;
    let logo = match &brand.logo_url {
        Some(url) => {
            sources.img.extend(brand::origin(url));
            format!("<img class=\"logo\" src=\"{}\" alt=\"\" width=\"32\" height=\"32\">", escape(url))
        }
        None => String::new(),
    };
    let theme = if brand.has_theme() {
        format!("<link rel=\"stylesheet\" href=\"{THEME_PATH}?v={}\">", brand.theme_version())
    } else {
        String::new()
    };
    let full_title = ui.text.fill("page.title", &[("page", title), ("product", &brand.product_name)]);
    let style = format!("{STYLE_PATH}?v={}", style_version());
    let content = if sources.script { format!("{body}{}", script_tag()) } else { body.to_string() };
    let html = render(
        LAYOUT,
        ui,
        &[("content", &content), ("logo", &logo), ("theme", &theme)],
        &[
            ("title", &full_title),
            ("lang", ui.text.locale.tag()),
            ("dir", ui.text.locale.dir()),
            ("product", &brand.product_name),
            ("style", &style),
        ],
    );
    page_response(status, html, &sources)
}

pub fn page_response(status: u16, html: String, sources: &Sources) -> Response {
    let list = |first: &str, more: &[String]| {
        let mut s = String::from(first);
        for t in more {
            if !s.split(' ').any(|x| x == t) {
                s.push(' ');
                s.push_str(t);
            }
        }
        s
    };
    let script = if sources.script { "; script-src 'self'" } else { "" };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src {}; form-action {}; frame-ancestors 'none'; base-uri 'none'{script}",
        list("'self'", &sources.img),
        list("'self'", &sources.form_action),
    );
    Response::new(status, "text/html; charset=utf-8", html)
        .with_header("content-security-policy", &csp)
        .with_header("x-frame-options", "DENY")
        .with_header("x-content-type-options", "nosniff")
        // Same-origin: our own form posts carry this origin (the Origin check of state-changing
        // posts relies on it; `no-referrer` makes browsers send `Origin: null`), and no other
        // site is ever told the page's address.
        .with_header("referrer-policy", "same-origin")
        .with_header("cache-control", "no-store")
}

/// What an error page says: a heading and a sentence for the person (message keys), and
/// for the application's developer the error code and, if any, a technical detail.
#[derive(Debug, Clone, Copy)]
pub struct ErrorText<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub code: &'a str,
    pub detail: Option<&'a str>,
}

impl<'a> ErrorText<'a> {
    pub const fn new(title: &'a str, message: &'a str, code: &'a str) -> ErrorText<'a> {
        ErrorText { title, message, code, detail: None }
    }

    pub fn detail(self, detail: &'a str) -> ErrorText<'a> {
        ErrorText { detail: Some(detail), ..self }
    }
}

/// An error page for problems that must not be redirected (OpenID Connect Core §3.1.2.6:
/// an invalid client or redirect URI), or that concern the user's browser.
pub fn error_page(ui: &Ui<'_>, status: u16, e: ErrorText<'_>) -> Response {
    let title = ui.t(e.title);
    let detail = match e.detail {
        Some(d) => format!("<code>{}</code>: {}", escape(e.code), escape(d)),
        None => format!("<code>{}</code>", escape(e.code)),
    };
    let body = render(ERROR, ui, &[("detail", &detail)], &[("heading", &title), ("message", &ui.t(e.message))]);
    page(ui, status, &title, &body, Sources::default())
}

/// A page for when there is no configuration to render with (the provider is not
/// configured; an impossible state): English, the built-in look.
pub fn bare_error_page(status: u16, heading: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{h}</title><link rel=\"stylesheet\" href=\"{STYLE_PATH}\"></head><body><main class=\"card\"><h1>{h}</h1><p class=\"lead\">{m}</p></main></body></html>\n",
        h = escape(heading),
        m = escape(message)
    );
    page_response(status, html, &Sources::default())
}

/// A page that only tells the user something (signed out, nothing to show).
pub fn message_page(ui: &Ui<'_>, status: u16, title_key: &str, message_key: &str) -> Response {
    let title = ui.t(title_key);
    let body = render(MESSAGE, ui, &[], &[("heading", &title), ("message", &ui.t(message_key))]);
    page(ui, status, &title, &body, Sources::default())
}

/// The home page of the provider (`/`).
pub fn index_page(ui: &Ui<'_>) -> Response {
    let product = format!("<strong>{}</strong>", escape(&ui.brand.product_name));
    let body = render(INDEX, ui, &[("lead", &ui.text.html("index.lead", &[("product", &product)]))], &[]);
    page(ui, 200, &ui.t("index.title"), &body, Sources::default())
}

pub fn script() -> Response {
    Response::new(200, "text/javascript; charset=utf-8", SCRIPT)
        .with_header("cache-control", "public, max-age=86400")
        .with_header("x-content-type-options", "nosniff")
}

pub fn stylesheet() -> Response {
    Response::new(200, "text/css; charset=utf-8", STYLE)
        .with_header("cache-control", "public, max-age=86400")
        .with_header("x-content-type-options", "nosniff")
}

pub fn theme_stylesheet(brand: &Brand) -> Response {
    Response::new(200, "text/css; charset=utf-8", brand.theme_css())
        .with_header("cache-control", "public, max-age=86400")
        .with_header("x-content-type-options", "nosniff")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![("ISSUER".to_string(), "https://id.example.com".to_string())];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::from_vars(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
    }

    #[test]
    fn escapes_values_and_sets_headers() {
        let c = config(&[]);
        let ui = Ui::new(&c, Locale::En);
        let e = ErrorText::new("error.invalid_request.title", "error.invalid_request.message", "invalid_request");
        let r = error_page(&ui, 400, e.detail("<script>alert(1)</script>"));
        let body = r.body_str();
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>"));
        assert!(body.contains("<html lang=\"en\" dir=\"ltr\">"), "{body}");
        assert!(body.contains("<title>Invalid request – id.example.com</title>"), "{body}");
        assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert!(!body.contains("{{"), "unfilled placeholder: {body}");
    }

    #[test]
    fn pages_speak_the_language_and_wear_the_brand() {
        let c = config(&[
            ("BRAND_NAME", "Example <ID>"),
            ("BRAND_LOGO_URL", "https://cdn.example.net/logo.png"),
            ("BRAND_ACCENT", "#0b6e4f"),
            ("MESSAGES", r#"{"ar": {"error.not_found.title": "لا شيء هنا"}}"#),
        ]);
        let ui = Ui::new(&c, Locale::Ar);
        let r = message_page(&ui, 404, "error.not_found.title", "error.not_found.message");
        let body = r.body_str();
        assert!(body.contains("<html lang=\"ar\" dir=\"rtl\">"), "{body}");
        assert!(body.contains("لا شيء هنا"), "{body}");
        assert!(body.contains("Example &lt;ID&gt;"), "{body}");
        assert!(body.contains("src=\"https://cdn.example.net/logo.png\""), "{body}");
        assert!(body.contains(&format!("href=\"{THEME_PATH}?v=")), "{body}");
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("img-src 'self' https://cdn.example.net;"), "{csp}");
    }

    #[test]
    fn render_placeholders() {
        let c = config(&[]);
        let ui = Ui::new(&c, Locale::De);
        let out = render("{{{a}}}|{{b}}|{{t:login.submit}}|{{missing}}|{{ tail", &ui, &[("a", "<i>")], &[("b", "<")]);
        assert_eq!(out, "<i>|&lt;|Anmelden||{{ tail");
    }
}
