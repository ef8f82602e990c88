//! The page where a signed-in user sees the applications they allowed and withdraws
//! consent (`/consents`). Withdrawing forgets the consent (the next sign-in to that
//! application asks again) and revokes every token issued under it, at once.
//! The Revoke forms carry the browser's anti-CSRF cookie value (double submit), on top of
//! the session cookie's SameSite=Lax.

use super::failure::{Failure, INVALID};
use super::{interaction, random, session, Backend, Provider};
use crate::http::{Request, Response};
use crate::objects::account::{Consent, Forget, ForgetReply, List, ListReply, Withdraw, WithdrawReply};
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

impl<B: Backend> Provider<'_, B> {
    pub async fn consents(&self, req: &Request) -> Result<Response, Failure> {
        let ui = self.ui(self.locale(req, None));
        let locale = ui.text.locale;
        let Some(cookie) = session::from_request(req, self.config.secure_cookies) else {
            return Ok(not_signed_in(&ui));
        };
        let mut notice = None;
        if req.method == "POST" {
            let form = interaction::signed_in_form(req, &self.config.issuer, self.config.secure_cookies, locale)?;
            let Some(client_id) = form.get("client_id") else {
                return Err(Failure::page(locale, 400, ErrorText { message: "error.consents.choose", ..INVALID }));
            };
            if !self.withdraw(&cookie, client_id).await.map_err(|f| f.on_page(locale))? {
                return Ok(not_signed_in(&ui));
            }
            notice = Some(match self.clients.client(client_id).await {
                Ok(Some(c)) => c.display_name().to_string(),
                _ => client_id.to_string(),
            });
        }
        let list = self.accounts.send(&cookie.sub, List { id_hash: cookie.id_hash() }).await;
        let (username, consents) = match list.map_err(|e| Failure::from(e).on_page(locale))? {
            ListReply::Consents { username, consents } => (username, consents),
            ListReply::NoSession => return Ok(not_signed_in(&ui)),
        };
        let csrf = random(interaction::csrf_value(req, self.config.secure_cookies)).map_err(|f| f.on_page(locale))?;
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
        Ok(pages::page(&ui, 200, &ui.t("consents.title"), &body, Sources::default()).with_header(
            "set-cookie",
            &interaction::set_csrf_cookie(&csrf, self.config.secure_cookies, self.config.interaction_ttl),
        ))
    }
}

impl<B: Backend> Provider<'_, B> {
    /// Withdraws the consent given to `client_id`, revoking first and forgetting afterwards
    /// (each step repeatable): the consent stops authorizing anything, every grant under it
    /// and its home are revoked (RFC 7009 §2.1 semantics: all of it), and only then is it
    /// deleted. `Ok(false)`: no live session. `Err`: a step failed: the consent stays
    /// listed, marked, for the user to try again.
    async fn withdraw(&self, cookie: &session::SessionCookie, client_id: &str) -> Result<bool, Failure> {
        let fail = |e: &str| Err(Failure::unavailable(format!("consents: {e}")));
        let withdraw = Withdraw { id_hash: cookie.id_hash(), client_id: client_id.to_string() };
        let (mut grants, home) = match self.accounts.send(&cookie.sub, withdraw).await? {
            WithdrawReply::Withdrawing { grants, home } => (grants, home),
            WithdrawReply::NoSession => return Ok(false),
        };
        let Some(home) = home else {
            let e = crate::audit::Event::new(crate::audit::Kind::ConsentWithdrawn).client(client_id);
            self.event(e.subject(&cookie.sub));
            return Ok(true);
        };
        let (pages_revoked, home_revoked) = join(
            self.revoke_grants("consents", &grants),
            self.grants.revoke_home(&home, self.now + CLOCK_MARGIN_SECONDS),
        )
        .await;
        if let Err(e) = home_revoked {
            return fail(&format!("revoking the grants made without a page failed: {e}"));
        }
        if !pages_revoked {
            return fail("revoking a grant failed");
        }
        // A grant recorded meanwhile (another tab's consent form) is revoked too, then again.
        for _ in 0..3 {
            let forget = Forget { client_id: client_id.to_string(), home: home.clone(), revoked: grants.clone() };
            match self.accounts.send(&cookie.sub, forget).await? {
                ForgetReply::Withdrawn => {
                    let e = crate::audit::Event::new(crate::audit::Kind::ConsentWithdrawn).client(client_id);
                    self.event(e.subject(&cookie.sub));
                    return Ok(true);
                }
                ForgetReply::Pending { grants: more } => {
                    if !self.revoke_grants("consents", &more).await {
                        return fail("revoking a grant failed");
                    }
                    grants.extend(more);
                }
            }
        }
        fail("forgetting the consent: grants kept being added")
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
                let described = super::claims::describe(std::slice::from_ref(i), &[], None, &ui.text);
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
