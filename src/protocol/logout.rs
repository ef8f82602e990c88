//! RP-Initiated Logout 1.0: the end-session endpoint (`/logout`, GET or POST).
//!
//! §2: `id_token_hint`, `client_id`, `post_logout_redirect_uri` (must be registered for the
//! client, §3), `state`. The session is ended in the user's account object. When the
//! request is clearly from the session's client — an ID token of the signed-in user, for a
//! client that received a grant through this session — it is ended at once; otherwise the
//! user confirms on a page (§2: protects against logout forged by another site).

use super::authorize::{form_target, redirect_with, MAX_STATE_LEN};
use super::interaction;
use super::sealed::{self, OpenError};
use super::session::{self, SessionCookie};
use super::{Backend, Provider};

use crate::error::StoreError;
use crate::http::{Params, Request, Response};
use crate::i18n::Locale;
use crate::model::Client;
use crate::objects::account::{Command as AccountCommand, Reply as AccountReply};
use crate::pages::{self, ErrorText, Sources, Ui};
use crate::store::{AccountStore, ClientStore};
use serde::{Deserialize, Serialize};

const CONTEXT: &[u8] = b"edge-oidc/logout/v1\0";

/// The confirmation form's state.
#[derive(Debug, Serialize, Deserialize)]
struct LogoutTx {
    #[serde(default)]
    locale: Locale,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redirect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    csrf: String,
    exp: i64,
}

/// The sign-out request cannot be acted on: `detail` says why, for the application's developer.
fn bad_request(ui: &Ui<'_>, detail: &str) -> Response {
    let e = ErrorText::new("error.logout.title", "error.logout.message", "invalid_request");
    pages::error_page(ui, 400, e.detail(detail))
}

fn bad_form(ui: &Ui<'_>, message: &str) -> Response {
    pages::error_page(ui, 400, ErrorText::new("error.logout.title", message, "invalid_request"))
}

impl<B: Backend> Provider<'_, B> {
    pub async fn logout(&self, req: &Request) -> Response {
        let params = match req.method.as_str() {
            "POST" => req.form(),
            _ => req.query_params(),
        };
        let params = match params {
            Ok(p) => p,
            Err(e) => return bad_request(&self.ui(self.locale(req, None)), &e.description),
        };
        if req.method == "POST" && params.get("tx").is_some() {
            return self.logout_confirmed(req, &params).await;
        }
        // §2 ui_locales: the language of the pages shown.
        let locale = self.locale(req, params.get("ui_locales"));
        let ui = self.ui(locale);
        let hint = match params.get("id_token_hint") {
            Some(h) => match self.id_token_hint(h).await {
                Ok(hint) => Some(hint),
                Err(e) => return bad_request(&ui, &e.description),
            },
            None => None,
        };
        // The client: client_id, or the ID token's audience (§2).
        let client_id = match (params.get("client_id"), &hint) {
            (Some(id), Some(h)) if !h.aud.iter().any(|a| a == id) => {
                return bad_request(&ui, "client_id does not match the audience of id_token_hint.")
            }
            (Some(id), _) => Some(id.to_string()),
            (None, Some(h)) => h.aud.first().cloned(),
            (None, None) => None,
        };
        let client = match client_id {
            None => None,
            Some(id) => match self.clients.client(&id).await {
                Ok(Some(c)) => Some(c),
                Ok(None) => return bad_request(&ui, "No application is registered with this client_id."),
                Err(StoreError::Malformed(m)) => {
                    (self.log)(&m);
                    return bad_request(&ui, &m);
                }
                Err(StoreError::Unavailable(m)) => {
                    (self.log)(&format!("logout: client store unavailable: {m}"));
                    return pages::unavailable_page(&ui);
                }
            },
        };
        // §3: only a registered post_logout_redirect_uri, compared exactly.
        let redirect = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => match &client {
                None => {
                    return bad_request(
                        &ui,
                        "post_logout_redirect_uri needs client_id or id_token_hint to tell which application it belongs to.",
                    )
                }
                Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => Some(uri.to_string()),
                Some(_) => return bad_request(&ui, "post_logout_redirect_uri is not registered for this application."),
            },
        };
        let state = params.get("state").map(str::to_string);
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return bad_request(&ui, "state is too long.");
        }
        let Some(cookie) = session::from_request(req, self.config.secure_cookies) else {
            // No session here: nothing to end.
            return self.signed_out(&ui, redirect.as_deref(), state.as_deref());
        };
        let from_session_client = match (&hint, &client) {
            (Some(h), Some(c)) => h.sub == self.sub_for_sector(c.sector().as_deref(), &cookie.sub),
            _ => false,
        };
        if from_session_client {
            let client_id = client.as_ref().map(|c| c.client_id.clone());
            match self.accounts.send(&cookie.sub, AccountCommand::End { id_hash: cookie.id_hash(), client_id }).await {
                Ok(AccountReply::Ended | AccountReply::NoSession) => {
                    return self.signed_out(&ui, redirect.as_deref(), state.as_deref())
                }
                Ok(_) => {}
                Err(e) => {
                    (self.log)(&format!("logout: account store: {e}"));
                    return pages::unavailable_page(&ui);
                }
            }
        }
        self.confirm_page(req, &ui, client.as_ref(), redirect, state)
    }

    fn confirm_page(
        &self,
        req: &Request,
        ui: &Ui<'_>,
        client: Option<&Client>,
        redirect: Option<String>,
        state: Option<String>,
    ) -> Response {
        let csrf = match interaction::csrf_value(req, self.config.secure_cookies) {
            Ok(c) => c,
            Err(e) => {
                (self.log)(&format!("logout: {e}"));
                return pages::unavailable_page(ui);
            }
        };
        // The confirmation can end in a redirect to the client (CSP form-action).
        let targets = redirect.as_deref().map(form_target).unwrap_or_default();
        let locale = ui.text.locale;
        let tx = LogoutTx { locale, redirect, state, csrf, exp: self.now + self.config.interaction_ttl };
        let product = &self.config.brand.product_name;
        let message = match client {
            Some(c) => ui.text.fill("logout.ask_client", &[("client", c.display_name()), ("product", product)]),
            None => ui.text.fill("logout.ask", &[("product", product)]),
        };
        let body = pages::render(
            pages::LOGOUT,
            ui,
            &[],
            &[("message", &message), ("tx", &sealed::seal(CONTEXT, &self.keys.page, &tx))],
        );
        pages::page(ui, 200, &ui.t("logout.title"), &body, Sources::forms(targets)).with_header(
            "set-cookie",
            &interaction::set_csrf_cookie(&tx.csrf, self.config.secure_cookies, self.config.interaction_ttl),
        )
    }

    async fn logout_confirmed(&self, req: &Request, form: &Params) -> Response {
        let browser = self.ui(self.locale(req, None));
        if req.is_cross_site(&self.config.issuer) {
            return pages::error_page(&browser, 403, super::login::CROSS_SITE);
        }
        let tx: LogoutTx = match sealed::open(
            CONTEXT,
            &self.keys.page,
            form.get("tx").unwrap_or(""),
            self.now,
            |t: &LogoutTx| t.exp,
        ) {
            Ok(t) => t,
            Err(OpenError::Expired) => return bad_form(&browser, "error.logout.expired"),
            Err(OpenError::Invalid) => return bad_form(&browser, "error.invalid_form.message"),
        };
        let ui = self.ui(tx.locale);
        let cookie_ok = interaction::csrf_cookie(req, self.config.secure_cookies)
            .is_some_and(|c| crate::crypto::ct_eq(c.as_bytes(), tx.csrf.as_bytes()));
        if !cookie_ok {
            let e = ErrorText::new("error.refused.title", "error.refused.message", "invalid_request");
            return pages::error_page(&ui, 403, e);
        }
        match form.get("decision") {
            Some("logout") => {}
            Some("stay") => return pages::message_page(&ui, 200, "logout.stayed.title", "logout.stayed.message"),
            _ => return bad_form(&ui, "error.logout.choose"),
        }
        if let Some(cookie) = session::from_request(req, self.config.secure_cookies) {
            if let Err(e) = self.end_session(&cookie).await {
                (self.log)(&format!("logout: account store: {e}"));
                return pages::unavailable_page(&ui);
            }
        }
        self.signed_out(&ui, tx.redirect.as_deref(), tx.state.as_deref())
    }

    async fn end_session(&self, cookie: &SessionCookie) -> Result<(), StoreError> {
        self.accounts
            .send(&cookie.sub, AccountCommand::End { id_hash: cookie.id_hash(), client_id: None })
            .await
            .map(|_| ())
    }

    /// §3: back to the client with `state`, or a page saying so; the cookie is removed.
    fn signed_out(&self, ui: &Ui<'_>, redirect: Option<&str>, state: Option<&str>) -> Response {
        let r = match redirect {
            Some(uri) => {
                let params: Vec<(&str, &str)> = state.map(|s| vec![("state", s)]).unwrap_or_default();
                redirect_with(uri, &params)
            }
            None => pages::message_page(ui, 200, "logout.done.title", "logout.done.message"),
        };
        r.with_header("set-cookie", &session::clear_cookie(self.config.secure_cookies))
    }
}
