//! RP-Initiated Logout 1.0: the end-session endpoint (`/logout`, GET or POST).
//!
//! §2: `id_token_hint`, `client_id`, `post_logout_redirect_uri` (must be registered for the
//! client, §3), `state`. The session is ended in the user's account object. When the
//! request is clearly from the session's client — an ID token of the signed-in user, for a
//! client that received a grant through this session — it is ended at once; otherwise the
//! user confirms on a page (§2: protects against logout forged by another site).

use super::authorize::MAX_STATE_LEN;
use super::clients::ClientError;
use super::failure::{Failure, CROSS_SITE, REFUSED};
use super::redirect::{form_target, redirect_with};
use super::sealed::{self, OpenError};
use super::session::{self, SessionCookie};
use super::{interaction, random, Backend, Provider};
use crate::audit::{Event, Kind};
use crate::error::StoreError;
use crate::http::{Params, Request, Response};
use crate::i18n::Locale;
use crate::model::Client;
use crate::objects::account::{End, EndReply};
use crate::pages::{self, ErrorText, Sources, Ui};
use crate::store::AccountStore;
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
fn bad_request(locale: Locale, detail: impl Into<String>) -> Failure {
    let e = ErrorText::new("error.logout.title", "error.logout.message", "invalid_request");
    Failure::page_detail(locale, 400, e, detail)
}

fn bad_form(locale: Locale, message: &'static str) -> Failure {
    Failure::page(locale, 400, ErrorText::new("error.logout.title", message, "invalid_request"))
}

impl<B: Backend> Provider<'_, B> {
    pub async fn logout(&self, req: &Request) -> Result<Response, Failure> {
        let params = match req.method.as_str() {
            "POST" => req.form(),
            _ => req.query_params(),
        };
        let params = params.map_err(|e| bad_request(self.locale(req, None), e.description))?;
        if req.method == "POST" && params.get("tx").is_some() {
            return self.logout_confirmed(req, &params).await;
        }
        // §2 ui_locales: the language of the pages shown.
        let locale = self.locale(req, params.get("ui_locales"));
        let ui = self.ui(locale);
        let hint = match params.get("id_token_hint") {
            Some(h) => Some(self.id_token_hint(h).await.map_err(|e| bad_request(locale, e.description))?),
            None => None,
        };
        // The client: client_id, or the ID token's audience (§2).
        let client_id = match (params.get("client_id"), &hint) {
            (Some(id), Some(h)) if !h.aud.iter().any(|a| a == id) => {
                return Err(bad_request(locale, "client_id does not match the audience of id_token_hint."))
            }
            (Some(id), _) => Some(id.to_string()),
            (None, Some(h)) => h.aud.first().cloned(),
            (None, None) => None,
        };
        let client = match client_id {
            None => None,
            Some(id) => match self.client(&id).await {
                Ok(Some(c)) => Some(c),
                Ok(None) => return Err(bad_request(locale, "No application is registered with this client_id.")),
                Err(ClientError::Unusable(m)) => return Err(bad_request(locale, &m).logged(m)),
                Err(ClientError::Store(e)) => return Err(Failure::from(e).on_page(locale)),
            },
        };
        // §3: only a registered post_logout_redirect_uri, compared exactly.
        let redirect = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => match &client {
                None => {
                    return Err(bad_request(
                        locale,
                        "post_logout_redirect_uri needs client_id or id_token_hint to tell which application it belongs to.",
                    ))
                }
                Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => Some(uri.to_string()),
                Some(_) => {
                    return Err(bad_request(locale, "post_logout_redirect_uri is not registered for this application."))
                }
            },
        };
        let state = params.get("state").map(str::to_string);
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(bad_request(locale, "state is too long."));
        }
        let Some(cookie) = session::from_request(req, self.config.secure_cookies) else {
            // No session here: nothing to end.
            return Ok(self.signed_out(&ui, redirect.as_deref(), state.as_deref()));
        };
        let from_session_client = match (&hint, &client) {
            (Some(h), Some(c)) => h.sub == self.sub_for_sector(c.sector().as_deref(), &cookie.sub),
            _ => false,
        };
        if from_session_client {
            let client_id = client.as_ref().map(|c| c.client_id.clone());
            let end = End { id_hash: cookie.id_hash(), client_id };
            match self.accounts.send(&cookie.sub, end).await.map_err(|e| Failure::from(e).on_page(locale))? {
                reply @ (EndReply::Ended | EndReply::NoSession) => {
                    if reply == EndReply::Ended {
                        let e = Event::new(Kind::Logout).subject(&cookie.sub).reason("relying_party");
                        self.event(client.as_ref().map_or(e.clone(), |c| e.client(&c.client_id)));
                    }
                    return Ok(self.signed_out(&ui, redirect.as_deref(), state.as_deref()));
                }
                EndReply::Unconfirmed => {}
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
    ) -> Result<Response, Failure> {
        let locale = ui.text.locale;
        let csrf = random(interaction::csrf_value(req, self.config.secure_cookies)).map_err(|f| f.on_page(locale))?;
        // The confirmation can end in a redirect to the client (CSP form-action).
        let targets = redirect.as_deref().map(form_target).unwrap_or_default();
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
        Ok(pages::page(ui, 200, &ui.t("logout.title"), &body, Sources::forms(targets)).with_header(
            "set-cookie",
            &interaction::set_csrf_cookie(&tx.csrf, self.config.secure_cookies, self.config.interaction_ttl),
        ))
    }

    async fn logout_confirmed(&self, req: &Request, form: &Params) -> Result<Response, Failure> {
        let browser = self.locale(req, None);
        if req.is_cross_site(&self.config.issuer) {
            return Err(Failure::page(browser, 403, CROSS_SITE));
        }
        let tx: LogoutTx = match sealed::open(
            CONTEXT,
            &self.keys.page,
            form.get("tx").unwrap_or(""),
            self.now,
            |t: &LogoutTx| t.exp,
        ) {
            Ok(t) => t,
            Err(OpenError::Expired) => return Err(bad_form(browser, "error.logout.expired")),
            Err(OpenError::Invalid) => return Err(bad_form(browser, "error.invalid_form.message")),
        };
        let ui = self.ui(tx.locale);
        let cookie_ok = interaction::csrf_cookie(req, self.config.secure_cookies)
            .is_some_and(|c| crate::crypto::ct_eq(c.as_bytes(), tx.csrf.as_bytes()));
        if !cookie_ok {
            return Err(Failure::page(tx.locale, 403, REFUSED));
        }
        match form.get("decision") {
            Some("logout") => {}
            Some("stay") => return Ok(pages::message_page(&ui, 200, "logout.stayed.title", "logout.stayed.message")),
            _ => return Err(bad_form(tx.locale, "error.logout.choose")),
        }
        if let Some(cookie) = session::from_request(req, self.config.secure_cookies) {
            let reply = self.end_session(&cookie).await.map_err(|e| Failure::from(e).on_page(tx.locale))?;
            if reply == EndReply::Ended {
                self.event(Event::new(Kind::Logout).subject(&cookie.sub).reason("confirmed"));
            }
        }
        Ok(self.signed_out(&ui, tx.redirect.as_deref(), tx.state.as_deref()))
    }

    async fn end_session(&self, cookie: &SessionCookie) -> Result<EndReply, StoreError> {
        self.accounts.send(&cookie.sub, End { id_hash: cookie.id_hash(), client_id: None }).await
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
