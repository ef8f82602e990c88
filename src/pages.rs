//! HTML pages rendered from the templates in `static/` (compiled in). Values are
//! HTML-escaped (`{{name}}`); `{{{name}}}` inserts markup built here from escaped parts.
//! Every page carries the security headers of [`page_response`].

use crate::http::Response;

pub const LAYOUT: &str = include_str!("../static/layout.html");
pub const LOGIN: &str = include_str!("../static/login.html");
pub const CONSENT: &str = include_str!("../static/consent.html");
pub const ERROR: &str = include_str!("../static/error.html");
pub const INDEX: &str = include_str!("../static/index.html");
pub const LOGOUT: &str = include_str!("../static/logout.html");
pub const MESSAGE: &str = include_str!("../static/message.html");
pub const CONSENTS: &str = include_str!("../static/consents.html");
pub const STYLE: &str = include_str!("../static/style.css");

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Fills `{{{name}}}` (raw) and `{{name}}` (escaped) placeholders.
pub fn render(template: &str, raw: &[(&str, &str)], escaped: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in raw {
        out = out.replace(&format!("{{{{{{{k}}}}}}}"), v);
    }
    for (k, v) in escaped {
        out = out.replace(&format!("{{{{{k}}}}}"), &escape(v));
    }
    out
}

/// A full page: the layout around a rendered body, with the page security headers.
/// `form_targets` are extra origins a form on the page may lead to (CSP `form-action`
/// also governs the redirect after a form post).
pub fn page(status: u16, title: &str, body: &str, form_targets: &[String]) -> Response {
    let html = render(LAYOUT, &[("content", body)], &[("title", title)]);
    page_response(status, html, form_targets)
}

pub fn page_response(status: u16, html: String, form_targets: &[String]) -> Response {
    let mut form_action = String::from("'self'");
    for t in form_targets {
        form_action.push(' ');
        form_action.push_str(t);
    }
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    Response::new(status, "text/html; charset=utf-8", html)
        .with_header("content-security-policy", &csp)
        .with_header("x-frame-options", "DENY")
        .with_header("x-content-type-options", "nosniff")
        .with_header("referrer-policy", "no-referrer")
        .with_header("cache-control", "no-store")
}

/// An error page for problems that must not be redirected (OpenID Connect Core §3.1.2.6:
/// an invalid client or redirect URI), or that concern the user's browser.
pub fn error_page(status: u16, heading: &str, message: &str, code: &str) -> Response {
    let body = render(ERROR, &[], &[("heading", heading), ("message", message), ("code", code)]);
    page(status, heading, &body, &[])
}

/// A store did not answer: 503 with `Retry-After` (RFC 6749 §4.1.2.1 `temporarily_unavailable`).
pub fn unavailable_page() -> Response {
    error_page(503, "Temporarily unavailable", "Please try again in a moment.", "temporarily_unavailable")
        .with_header("retry-after", "5")
}

/// A page that only tells the user something (signed out, nothing to show).
pub fn message_page(status: u16, heading: &str, message: &str) -> Response {
    let body = render(MESSAGE, &[], &[("heading", heading), ("message", message)]);
    page(status, heading, &body, &[])
}

pub fn stylesheet() -> Response {
    Response::new(200, "text/css; charset=utf-8", STYLE)
        .with_header("cache-control", "public, max-age=3600")
        .with_header("x-content-type-options", "nosniff")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_values_and_sets_headers() {
        let r = error_page(400, "Oops", "<script>alert(1)</script>", "invalid_request");
        let body = r.body_str();
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>"));
        assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert!(!body.contains("{{"), "unfilled placeholder: {body}");
    }
}
