//! The page where a signed-in user sees the applications they allowed and withdraws
//! consent (`/consents`). Withdrawing forgets the consent (the next sign-in to that
//! application asks again) and revokes every token issued under it, at once.
//! The Revoke forms carry the browser's anti-CSRF cookie value (double submit), on top of
//! the session cookie's SameSite=Lax.

use super::interaction;
use super::session;
use super::{Backend, Provider};
use crate::crypto::ct_eq;
use crate::http::{Request, Response};
use crate::objects::account::{Command as AccountCommand, Consent, Reply as AccountReply};
use crate::pages::{self, ErrorText, Sources, Ui};
use crate::store::{AccountStore, ClientStore, GrantStore};
use futures_util::future::{join, join_all};

/// Added to the time a home's grants are revoked: a code issued without a page just before
/// the consent was withdrawn, by a machine whose clock runs a little ahead, is refused too.
/// (A code for a consent given again within these seconds is refused as well; the
/// application's next sign-in works.)
const CLOCK_MARGIN_SECONDS: i64 = 5;

fn not_signed_in(ui: &Ui<'_>) -> Response {
    pages::message_page(ui, 200, "consents.not_signed_in.title", "consents.not_signed_in.message")
}

const INVALID: ErrorText<'static> =
    ErrorText::new("error.invalid_request.title", "error.invalid_request.message", "invalid_request");

impl<B: Backend> Provider<'_, B> {
    pub async fn consents(&self, req: &Request) -> Response {
        let ui = self.ui(self.locale(req, None));
        let Some(cookie) = session::from_request(req, self.config.secure_cookies) else { return not_signed_in(&ui) };
        let mut notice = None;
        if req.method == "POST" {
            if req.is_cross_site(&self.config.issuer) {
                return pages::error_page(&ui, 403, super::login::CROSS_SITE);
            }
            let form = match req.form() {
                Ok(f) => f,
                Err(e) => return pages::error_page(&ui, 400, INVALID.detail(&e.description)),
            };
            let csrf_ok = match (form.get("csrf"), interaction::csrf_cookie(req, self.config.secure_cookies)) {
                (Some(a), Some(b)) => ct_eq(a.as_bytes(), b.as_bytes()),
                _ => false,
            };
            if !csrf_ok {
                let e = ErrorText::new("error.refused.title", "error.consents.reload", "invalid_request");
                return pages::error_page(&ui, 403, e);
            }
            let Some(client_id) = form.get("client_id") else {
                return pages::error_page(&ui, 400, ErrorText { message: "error.consents.choose", ..INVALID });
            };
            match self.withdraw(&cookie, client_id).await {
                Ok(true) => {}
                Ok(false) => return not_signed_in(&ui),
                Err(()) => return pages::unavailable_page(&ui),
            }
            notice = Some(match self.clients.client(client_id).await {
                Ok(Some(c)) => c.display_name().to_string(),
                _ => client_id.to_string(),
            });
        }
        let (username, consents) =
            match self.accounts.send(&cookie.sub, AccountCommand::List { id_hash: cookie.id_hash() }).await {
                Ok(AccountReply::Consents { username, consents }) => (username, consents),
                Ok(_) => return not_signed_in(&ui),
                Err(e) => {
                    (self.log)(&format!("consents: account store: {e}"));
                    return pages::unavailable_page(&ui);
                }
            };
        let csrf = match interaction::csrf_value(req, self.config.secure_cookies) {
            Ok(c) => c,
            Err(e) => {
                (self.log)(&format!("consents: {e}"));
                return pages::unavailable_page(&ui);
            }
        };
        let names = join_all(consents.iter().map(|c| self.clients.client(&c.client_id))).await;
        let list = render_list(
            &consents,
            names.iter().map(|n| match n {
                Ok(Some(c)) => Some(c.display_name().to_string()),
                _ => None,
            }),
            &csrf,
            &ui,
        );
        let strong = |s: &str| format!("<strong>{}</strong>", pages::escape(s));
        let notice_html = notice
            .map(|name| {
                let text = ui.text.html("consents.revoked", &[("client", &strong(&name))]);
                format!("<p class=\"notice\" role=\"status\">{text}</p>")
            })
            .unwrap_or_default();
        let signed_in_as = ui.text.html("consent.signed_in_as", &[("user", &strong(&username))]);
        let body = pages::render(
            pages::CONSENTS,
            &ui,
            &[("notice", &notice_html), ("list", &list), ("signed_in_as", &signed_in_as)],
            &[],
        );
        pages::page(&ui, 200, &ui.t("consents.title"), &body, Sources::default()).with_header(
            "set-cookie",
            &interaction::set_csrf_cookie(&csrf, self.config.secure_cookies, self.config.interaction_ttl),
        )
    }
}

impl<B: Backend> Provider<'_, B> {
    /// Withdraws the consent given to `client_id`, revoking first and forgetting afterwards
    /// (each step repeatable): the consent stops authorizing anything, every grant under it
    /// and its home are revoked (RFC 7009 §2.1 semantics: all of it), and only then is it
    /// deleted. `Ok(false)`: no live session. `Err`: a step failed (logged): the consent stays
    /// listed, marked, for the user to try again.
    async fn withdraw(&self, cookie: &session::SessionCookie, client_id: &str) -> Result<bool, ()> {
        let fail = |e: String| {
            (self.log)(&format!("consents: {e}"));
            Err(())
        };
        let cmd = AccountCommand::Withdraw { id_hash: cookie.id_hash(), client_id: client_id.to_string() };
        let (mut grants, home) = match self.accounts.send(&cookie.sub, cmd).await {
            Ok(AccountReply::Withdrawing { grants, home }) => (grants, home),
            Ok(_) => return Ok(false),
            Err(e) => return fail(format!("account store: {e}")),
        };
        let Some(home) = home else { return Ok(true) };
        let (pages_revoked, home_revoked) = join(
            self.revoke_grants("consents", &grants),
            self.grants.revoke_home(&home, self.now + CLOCK_MARGIN_SECONDS),
        )
        .await;
        if let Err(e) = home_revoked {
            return fail(format!("revoking the grants made without a page failed: {e}"));
        }
        if !pages_revoked {
            return Err(());
        }
        // A grant recorded meanwhile (another tab's consent form) is revoked too, then again.
        for _ in 0..3 {
            let forget = AccountCommand::Forget {
                client_id: client_id.to_string(),
                home: home.clone(),
                revoked: grants.clone(),
            };
            match self.accounts.send(&cookie.sub, forget).await {
                Ok(AccountReply::Withdrawn) => return Ok(true),
                Ok(AccountReply::Pending { grants: more }) => {
                    if !self.revoke_grants("consents", &more).await {
                        return Err(());
                    }
                    grants.extend(more);
                }
                other => return fail(format!("forgetting the consent: {other:?}")),
            }
        }
        fail("forgetting the consent: grants kept being added".into())
    }
}

fn render_list(consents: &[Consent], names: impl Iterator<Item = Option<String>>, csrf: &str, ui: &Ui<'_>) -> String {
    if consents.is_empty() {
        return format!("<p class=\"lead\">{}</p>", pages::escape(&ui.t("consents.none")));
    }
    let mut out = String::from("<ul class=\"apps\">\n");
    for (c, name) in consents.iter().zip(names) {
        let name = name.unwrap_or_else(|| c.client_id.clone());
        // What the application may do, in words where there are words for it.
        let scopes: Vec<String> = c
            .items
            .iter()
            .map(|i| {
                let described = super::claims::describe(std::slice::from_ref(i), &[], &ui.text);
                described.into_iter().next().unwrap_or_else(|| i.clone())
            })
            .collect();
        out.push_str(&format!(
            "<li><span><strong>{}</strong><br><small>{}</small></span>\
             <form method=\"post\" action=\"/consents\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"client_id\" value=\"{}\">\
             <button type=\"submit\" class=\"secondary\" aria-label=\"{}\">{}</button></form></li>\n",
            pages::escape(&name),
            pages::escape(&scopes.join(" · ")),
            pages::escape(csrf),
            pages::escape(&c.client_id),
            pages::escape(&ui.text.fill("consents.revoke_label", &[("client", &name)])),
            pages::escape(&ui.t("consents.revoke")),
        ));
    }
    out.push_str("</ul>\n");
    out
}
