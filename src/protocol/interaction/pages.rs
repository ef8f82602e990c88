//! The sign-in and consent pages, with the anti-CSRF cookie each carries.

use super::Interaction;
use crate::http::Response;
use crate::pages::{self, PasskeyForm, Sources};
use crate::protocol::redirect::form_target;
use crate::protocol::{Backend, Provider};

impl<B: Backend> Provider<'_, B> {
    /// The sign-in page; `error` (a message key) re-shows it with the message announced
    /// (`role="alert"`), the username kept and the focus in the password field.
    pub fn login_page(&self, status: u16, ix: &Interaction, username: &str, error: Option<&str>) -> Response {
        let ui = self.ui(ix.locale);
        self.login_page_with(status, ix, username, error.map(|k| ui.t(k)))
    }

    /// The sign-in page with an error already in words.
    pub fn login_page_with(&self, status: u16, ix: &Interaction, username: &str, error: Option<String>) -> Response {
        let ui = self.ui(ix.locale);
        let error_html = error
            .as_deref()
            .map(|e| format!("<p class=\"error\" id=\"login-error\" role=\"alert\">{}</p>", pages::escape(e)))
            .unwrap_or_default();
        // The field to type in next gets the focus: the password once a username is known.
        let (user_attrs, pass_attrs) = match (error.is_some(), username.is_empty()) {
            (true, false) => ("", " autofocus aria-invalid=\"true\" aria-describedby=\"login-error\""),
            (true, true) => (" autofocus aria-invalid=\"true\" aria-describedby=\"login-error\"", ""),
            (false, false) => ("", " autofocus"),
            (false, true) => (" autofocus", ""),
        };
        let tx = ix.seal(&self.keys.page);
        let lead =
            ui.text.html("login.lead", &[("client", &format!("<strong>{}</strong>", pages::escape(&ix.client_name)))]);
        // A passkey signs in on its own (a discoverable credential: no username needed), from
        // the button or the username field's autofill.
        let passkey = match self.challenge("sign-in", &ix.grant_id) {
            Ok(c) => pages::passkey_form(
                &PasskeyForm {
                    action: "/login",
                    state: ("tx", &tx),
                    options: &self.request_options(&c, &[]),
                    field: "credential",
                    button: "login.passkey",
                    error: "login.passkey_failed",
                    conditional: true,
                },
                &ui,
            ),
            Err(_) => String::new(),
        };
        let body = pages::render(
            pages::LOGIN,
            &ui,
            &[
                ("error", &error_html),
                ("lead", &lead),
                ("username_attrs", user_attrs),
                ("password_attrs", pass_attrs),
                ("passkey", &passkey),
            ],
            &[("tx", &tx), ("username", username)],
        );
        // The sign-in form can end in a redirect to the client: a returning user whose consent
        // is on record, or an error for it (CSP form-action governs redirects after a post).
        let sources = Sources::forms(form_target(&ix.redirect_uri)).with_script();
        pages::page(&ui, status, &ui.t("login.title"), &body, sources).with_header("set-cookie", &self.csrf_cookie(ix))
    }

    /// The consent page: what the application asks for, who is signed in, where the answer
    /// goes, and the application's own links (OpenID Connect Registration §2).
    pub fn consent_page(&self, ix: &Interaction) -> Response {
        let ui = self.ui(ix.locale);
        let items: String = ix.descriptions.iter().map(|d| format!("<li>{}</li>\n", pages::escape(d))).collect();
        let username = ix.user.as_ref().map(|u| u.username.as_str()).unwrap_or("");
        let strong = |s: &str| format!("<strong>{}</strong>", pages::escape(s));
        let host = redirect_host(&ix.redirect_uri);
        let mut sources = Sources::forms(form_target(&ix.redirect_uri));
        let links = &ix.links;
        let client_logo = match &links.logo_uri {
            Some(logo) => {
                sources.img.extend(crate::brand::origin(logo));
                format!("<img src=\"{}\" alt=\"\" width=\"48\" height=\"48\">", pages::escape(logo))
            }
            None => String::new(),
        };
        let about: Vec<String> = [
            ("consent.client_uri", &links.client_uri),
            ("consent.policy_uri", &links.policy_uri),
            ("consent.tos_uri", &links.tos_uri),
        ]
        .iter()
        .filter_map(|(key, uri)| {
            uri.as_ref().map(|u| {
                format!(
                    "<a href=\"{}\" rel=\"noopener\" target=\"_blank\">{}</a>",
                    pages::escape(u),
                    pages::escape(&ui.t(key))
                )
            })
        })
        .collect();
        let about = if about.is_empty() {
            String::new()
        } else {
            format!("<p class=\"about\">{} {}</p>", pages::escape(&ui.t("consent.about")), about.join(" "))
        };
        // A client that describes itself: the person is told, and where they will be sent.
        let unregistered = if ix.unregistered {
            let text = ui.text.html("consent.unregistered", &[("host", &strong(&host))]);
            format!("<p class=\"warning\" role=\"note\">{text}</p>")
        } else {
            String::new()
        };
        let tx = ix.seal(&self.keys.page);
        let body = pages::render(
            pages::CONSENT,
            &ui,
            &[
                ("scopes", &items),
                ("client_logo", &client_logo),
                ("lead", &ui.text.html("consent.lead", &[("client", &strong(&ix.client_name))])),
                ("about", &about),
                ("unregistered", &unregistered),
                ("signed_in_as", &ui.text.html("consent.signed_in_as", &[("user", &strong(username))])),
                ("redirect", &ui.text.html("consent.redirect", &[("host", &strong(&host))])),
            ],
            &[("tx", &tx)],
        );
        pages::page(&ui, 200, &ui.t("consent.title"), &body, sources).with_header("set-cookie", &self.csrf_cookie(ix))
    }

    /// The anti-CSRF cookie, sent with every page so that it lives as long as the page.
    pub fn csrf_cookie(&self, ix: &Interaction) -> String {
        super::set_csrf_cookie(&ix.csrf, self.config.secure_cookies, self.config.interaction_ttl)
    }
}

/// The host the user goes back to (the consent page names it), with its port on loopback
/// (where any local program may listen on another), or the scheme of a native app's
/// private-use redirect URI.
fn redirect_host(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h @ ("127.0.0.1" | "[::1]" | "localhost")), Some(p)) => format!("{h}:{p}"),
            (Some(h), _) => h.to_string(),
            (None, _) => format!("{}:", u.scheme()),
        },
        Err(_) => redirect_uri.to_string(),
    }
}
