//! Invitations (`/enroll?t=`): a link the operator hands to a person (`oidc-admin users
//! invite`) with which they create their first passkey, for an account with no password or
//! one they cannot sign in to. The link is sealed (HMAC under the page key) for one user, good
//! for `INVITE_SECONDS` and used once (reserved in a Durable Object when the passkey is
//! stored); anyone holding it can enrol, so it travels like a password reset link.

use super::failure::{Failure, CROSS_SITE, INVALID};
use super::interaction::device_name;
use super::passkeys::Refused;
use super::sealed::{self, OpenError};
use super::{random, Backend, Provider};
use crate::crypto::random_token;
use crate::http::{Request, Response};
use crate::i18n::Locale;
use crate::model::passkey::Credential;
use crate::model::User;
use crate::objects::account::{AddCredential, Added, FactorsOf};
use crate::objects::grant::{Reserve, ReserveReply};
use crate::pages::{self, PasskeyForm, Sources, Ui};
use crate::store::{AccountStore, GrantStore, UserStore};
use serde::{Deserialize, Serialize};

pub const ENROLL_PATH: &str = "/enroll";
/// How long an invitation works: three days.
pub const INVITE_SECONDS: i64 = 3 * 86_400;
const CONTEXT: &[u8] = b"edge-oidc/invite/v1\0";

#[derive(Serialize, Deserialize)]
struct Invite {
    sub: String,
    username: String,
    n: String,
    iat: i64,
    exp: i64,
}

fn invalid(ui: &Ui<'_>) -> Response {
    pages::message_page(ui, 400, "enroll.invalid.title", "enroll.invalid.message")
}

impl<B: Backend> Provider<'_, B> {
    /// A new invitation for `user`: its URL and when it expires.
    pub fn invitation(&self, user: &User) -> Result<(String, i64), Failure> {
        let exp = self.now + INVITE_SECONDS;
        let invite = Invite {
            sub: user.sub.clone(),
            username: user.username.clone(),
            n: random(random_token::<16>())?,
            iat: self.now,
            exp,
        };
        let t = sealed::seal(CONTEXT, &self.keys.page, &invite);
        Ok((format!("{}?t={t}", self.config.endpoint(ENROLL_PATH)), exp))
    }

    /// GET shows the invitation's page, POST stores the passkey made on it.
    pub async fn enroll(&self, req: &Request) -> Result<Response, Failure> {
        let locale = self.locale(req, None);
        let ui = self.ui(locale);
        let post = req.method == "POST";
        if post && req.is_cross_site(&self.config.issuer) {
            return Err(Failure::page(locale, 403, CROSS_SITE));
        }
        let params = if post { req.form() } else { req.query_params() };
        let params = params.map_err(|e| Failure::page_detail(locale, 400, INVALID, e.description))?;
        let t = params.get("t").unwrap_or_default();
        let invite = match sealed::open(CONTEXT, &self.keys.page, t, self.now, |i: &Invite| i.exp) {
            Ok(i) => i,
            Err(OpenError::Expired | OpenError::Invalid) => return Ok(invalid(&ui)),
        };
        // The user still exists, and is the one invited.
        let user = match self.users.by_username(&invite.username).await.map_err(|e| Failure::from(e).on_page(locale))? {
            Some(u) if u.sub == invite.sub => u,
            _ => return Ok(invalid(&ui)),
        };
        // A passkey made since the link was: the link has served (the reservation below is
        // what makes it single-use; this says so before anyone tries).
        let existing =
            self.accounts.send(&user.sub, FactorsOf {}).await.map_err(|e| Failure::from(e).on_page(locale))?;
        if existing.credentials.iter().any(|c| c.created_at >= invite.iat) {
            return Ok(invalid(&ui));
        }
        if !post {
            return self.enroll_page(200, &ui, &user, t, &existing.credentials, None);
        }
        let Some(json) = params.get("registration") else {
            return Err(Failure::page(locale, 400, INVALID));
        };
        let credential = match self.register_passkey(json, &user.sub, &device_name(req)).await {
            Ok(c) => c,
            Err(Refused::Failed(f)) => return Err(f.on_page(locale)),
            Err(Refused::Bad(d)) => {
                (self.log)(&format!("enroll: passkey not added: {d}"));
                return self.enroll_page(400, &ui, &user, t, &existing.credentials, Some("account.error.passkey"));
            }
            Err(Refused::Cloned) => {
                return self.enroll_page(400, &ui, &user, t, &existing.credentials, Some("account.error.passkey"))
            }
        };
        // The link works once.
        let reserve = Reserve { expires_at: invite.exp };
        match self
            .grants
            .send(&format!("invite:{}", invite.n), reserve)
            .await
            .map_err(|e| Failure::from(e).on_page(locale))?
        {
            ReserveReply::Reserved => {}
            ReserveReply::Conflict => return Ok(invalid(&ui)),
        }
        let add = AddCredential { id_hash: None, credential, username: user.username.clone() };
        match self.accounts.send(&user.sub, add).await.map_err(|e| Failure::from(e).on_page(locale))? {
            Added::Added | Added::Exists => {
                Ok(pages::message_page(&ui, 200, "enroll.done.title", "enroll.done.message"))
            }
            Added::Full | Added::NoSession => {
                Ok(pages::message_page(&ui, 400, "account.error.full", "account.error.full"))
            }
        }
    }

    fn enroll_page(
        &self,
        status: u16,
        ui: &Ui<'_>,
        user: &User,
        t: &str,
        existing: &[Credential],
        error: Option<&str>,
    ) -> Result<Response, Failure> {
        let locale: Locale = ui.text.locale;
        let challenge = self.challenge("register", &user.sub).map_err(|f| f.on_page(locale))?;
        let options = self.creation_options(&challenge, &user.sub, &user.username, existing);
        let form = PasskeyForm {
            action: ENROLL_PATH,
            state: ("t", t),
            options: &options,
            field: "registration",
            button: "enroll.create",
            error: "account.error.passkey",
            conditional: false,
        };
        let esc = pages::escape;
        let title = ui.t("enroll.title");
        let lead = ui.text.html("enroll.lead", &[("user", &format!("<strong>{}</strong>", esc(&user.username)))]);
        let error =
            error.map(|k| format!("<p class=\"error\" role=\"alert\">{}</p>\n", esc(&ui.t(k)))).unwrap_or_default();
        let body = format!(
            "<h1>{}</h1>\n<p class=\"lead\">{lead}</p>\n{error}{}<noscript><p class=\"hint\">{}</p></noscript>\n",
            esc(&title),
            pages::passkey_form(&form, ui),
            esc(&ui.t("enroll.no_script"))
        );
        // The link is a secret: not sent on to anywhere (Referrer-Policy is no-referrer on pages).
        Ok(pages::page(ui, status, &title, &body, Sources::forms(vec![]).with_script()).no_store())
    }
}
