//! The account page (`/account`) of the signed-in user: their passkeys (add, rename, remove),
//! one-time codes (on with a confirmed setup, off with a current code), their password (the
//! current one needed to change it), and a link to the applications they allowed. Forms carry
//! the anti-CSRF cookie's value (double submit, as on `/consents`); each change answers with a
//! redirect to the page (POST/redirect/GET), which says what was done.

use super::codes::{setup_form, NewSetup};
use super::failure::{Failure, INVALID};
use super::interaction::{self, device_name, MAX_PASSWORD_LEN};
use super::passkeys::Refused;
use super::{random, session, Backend, Provider};
use crate::crypto;
use crate::http::{Params, Request, Response};
use crate::i18n::Locale;
use crate::model::passkey::Credential;
use crate::model::User;
use crate::objects::account::{
    AddCredential, Added, EndOthers, Overview, OverviewReply, RemoveCredential, RemoveTotp, RenameCredential,
};
use crate::objects::throttle::{self, Command as Count};
use crate::pages::{self, ErrorText, PasskeyForm, Sources, Ui};
use crate::store::{AccountStore, ThrottleStore, UserStore};

pub const ACCOUNT_PATH: &str = "/account";
/// The shortest new password accepted (NIST SP 800-63B §5.1.1.2 asks for at least 8).
pub const MIN_PASSWORD_LEN: usize = 10;
const NAME_MAX: usize = 60;

/// What a change did, for the page after the redirect (`?done=`).
const DONE: [&str; 6] = ["added", "renamed", "removed", "codes_on", "codes_off", "password"];

/// Who is signed in: the session cookie's user, their record and their factors.
struct Signed {
    id_hash: String,
    user: User,
    overview: OverviewReply,
}

/// What the page shows besides the account: a message, a setup in progress.
#[derive(Default)]
struct Shown<'a> {
    done: Option<&'a str>,
    error: Option<&'a str>,
    setup: Option<NewSetup>,
}

fn not_signed_in(ui: &Ui<'_>) -> Response {
    pages::message_page(ui, 200, "account.not_signed_in.title", "account.not_signed_in.message")
}

impl<B: Backend> Provider<'_, B> {
    pub async fn account(&self, req: &Request) -> Result<Response, Failure> {
        let locale = self.locale(req, None);
        let ui = self.ui(locale);
        let Some(signed) = self.signed_in(req).await.map_err(|f| f.on_page(locale))? else {
            return Ok(not_signed_in(&ui));
        };
        let csrf = random(interaction::csrf_value(req, self.config.secure_cookies)).map_err(|f| f.on_page(locale))?;
        if req.method != "POST" {
            let query = req.query_params().unwrap_or_default();
            let mut shown = Shown {
                done: query.get("done").and_then(|d| DONE.iter().find(|k| **k == d).copied()),
                ..Shown::default()
            };
            if query.get("codes") == Some("setup") && !signed.overview.factors.totp {
                shown.setup =
                    Some(self.new_setup(&signed.user.sub, &signed.user.username).map_err(|f| f.on_page(locale))?);
            }
            return Ok(self.account_page(200, &ui, &signed, &csrf, shown));
        }
        let form = interaction::signed_in_form(req, &self.config.issuer, self.config.secure_cookies, locale)?;
        match self.change(req, locale, &signed, &form).await? {
            Ok(done) => Ok(Response::redirect(&format!("{ACCOUNT_PATH}?done={done}"))),
            Err(shown) => Ok(self.account_page(400, &ui, &signed, &csrf, shown)),
        }
    }

    /// The live session of the request's cookie, if any.
    async fn signed_in(&self, req: &Request) -> Result<Option<Signed>, Failure> {
        let Some(cookie) = session::from_request(req, self.config.secure_cookies) else { return Ok(None) };
        let id_hash = cookie.id_hash();
        let Some(overview) = self.accounts.send(&cookie.sub, Overview { id_hash: id_hash.clone() }).await? else {
            return Ok(None);
        };
        match self.users.by_username(&overview.username).await? {
            Some(user) if user.sub == cookie.sub => Ok(Some(Signed { id_hash, user, overview })),
            _ => Ok(None),
        }
    }

    /// Makes the change the form asks for: `Ok(what was done)`, or `Err` with what to show.
    async fn change<'a>(
        &self,
        req: &Request,
        locale: Locale,
        s: &Signed,
        form: &'a Params,
    ) -> Result<Result<&'static str, Shown<'a>>, Failure> {
        let fail = |key: &'a str| Ok(Err(Shown { error: Some(key), ..Shown::default() }));
        let (sub, session) = (s.user.sub.as_str(), Some(s.id_hash.clone()));
        let ended = || Failure::page(locale, 400, super::failure::SESSION_ENDED);
        if let Some(json) = form.get("registration") {
            let credential = match self.register_passkey(json, sub, &device_name(req)).await {
                Ok(c) => c,
                Err(Refused::Failed(f)) => return Err(f.on_page(locale)),
                Err(Refused::Bad(d)) => {
                    (self.log)(&format!("account: passkey not added: {d}"));
                    return fail("account.error.passkey");
                }
                Err(Refused::Cloned) => return fail("account.error.passkey"),
            };
            let add = AddCredential { id_hash: session, credential, username: s.user.username.clone() };
            return match self.accounts.send(sub, add).await.map_err(|e| Failure::from(e).on_page(locale))? {
                Added::Added | Added::Exists => Ok(Ok("added")),
                Added::Full => fail("account.error.full"),
                Added::NoSession => Err(ended()),
            };
        }
        let credential_id = form.get("credential_id").unwrap_or_default().to_string();
        match form.get("action").unwrap_or_default() {
            "rename" => {
                let name: String = form.get("name").unwrap_or_default().trim().chars().take(NAME_MAX).collect();
                if name.is_empty() {
                    return Err(Failure::page(locale, 400, INVALID));
                }
                let rename = RenameCredential { id_hash: s.id_hash.clone(), credential_id, name };
                match self.accounts.send(sub, rename).await.map_err(|e| Failure::from(e).on_page(locale))? {
                    true => Ok(Ok("renamed")),
                    false => Err(Failure::page(locale, 400, INVALID)),
                }
            }
            "remove" => {
                // A user with no password keeps their last passkey: their only way in.
                if !s.user.has_password() && s.overview.factors.credentials.len() <= 1 {
                    return fail("account.error.last");
                }
                let remove = RemoveCredential { id_hash: session, credential_id };
                match self.accounts.send(sub, remove).await.map_err(|e| Failure::from(e).on_page(locale))? {
                    true => Ok(Ok("removed")),
                    false => Err(Failure::page(locale, 400, INVALID)),
                }
            }
            "codes-on" => {
                let setup = form.get("setup").unwrap_or_default();
                let code = form.get("code").unwrap_or_default().trim();
                let ok = self
                    .counted(&s.user, "wrong_code", || self.confirm_setup(locale, setup, code, sub, session.clone()))
                    .await?;
                match ok {
                    Some(true) => Ok(Ok("codes_on")),
                    Some(false) => Ok(Err(Shown {
                        error: Some("account.error.code"),
                        setup: self.open_setup(setup, sub, &s.user.username),
                        ..Shown::default()
                    })),
                    None => fail("login.slow_down"),
                }
            }
            "codes-off" => {
                // A current code (or a recovery code): a stolen session alone cannot turn them off.
                let code = form.get("code").unwrap_or_default().trim();
                if code.is_empty() {
                    return fail("second.missing");
                }
                match self.counted(&s.user, "wrong_code", || self.check_code(sub, code)).await? {
                    Some(true) => {}
                    Some(false) => return fail("account.error.code"),
                    None => return fail("login.slow_down"),
                }
                match self
                    .accounts
                    .send(sub, RemoveTotp { id_hash: session })
                    .await
                    .map_err(|e| Failure::from(e).on_page(locale))?
                {
                    true => Ok(Ok("codes_off")),
                    false => Err(ended()),
                }
            }
            "password" => self.change_password(locale, s, form).await,
            _ => Err(Failure::page(locale, 400, ErrorText { message: "error.invalid_form.message", ..INVALID })),
        }
    }

    /// A new password, given the current one (counted like a sign-in's). The user's other
    /// sessions end (OWASP ASVS V3.3.3): whoever knew the old password is signed out.
    async fn change_password<'a>(
        &self,
        locale: Locale,
        s: &Signed,
        form: &'a Params,
    ) -> Result<Result<&'static str, Shown<'a>>, Failure> {
        let user = &s.user;
        let fail = |key: &'a str| Ok(Err(Shown { error: Some(key), ..Shown::default() }));
        if !user.has_password() {
            return Err(Failure::page(locale, 400, INVALID));
        }
        let (current, new) = (form.get("current").unwrap_or_default(), form.get("new").unwrap_or_default());
        if new.chars().count() < MIN_PASSWORD_LEN || new.len() > MAX_PASSWORD_LEN {
            return fail("account.error.weak");
        }
        let verify = || async {
            let stored = user.password().map_err(Failure::unavailable)?;
            crypto::verify_password(self.crypto, current, &stored).await.map_err(Failure::unavailable)
        };
        match self.counted(user, "wrong_password", verify).await.map_err(|f| f.on_page(locale))? {
            Some(true) => {}
            Some(false) => return fail("account.error.password"),
            None => return fail("login.slow_down"),
        }
        let hash = crypto::hash_password(self.crypto, new, self.config.password_hash_iterations)
            .await
            .map_err(|e| Failure::unavailable(format!("hashing a password: {e}")).on_page(locale))?;
        let changed = User { password_hash: hash.to_phc(), ..user.clone() };
        self.users.put_user(&changed).await.map_err(|e| Failure::from(e).on_page(locale))?;
        let others = EndOthers { id_hash: s.id_hash.clone() };
        if let Err(e) = self.accounts.send(&user.sub, others).await {
            (self.log)(&format!("password changed; could not end the other sessions: {e}"));
        }
        Ok(Ok("password"))
    }

    /// A check of a secret (a password, a code) counted on the account's counter like a
    /// sign-in, with its audit event when refused (`wrong`: the reason): `None` when it is
    /// throttled (not checked).
    async fn counted<F, Fut>(&self, user: &User, wrong: &'static str, check: F) -> Result<Option<bool>, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<bool, Failure>>,
    {
        let key = throttle::account_key(&user.username);
        let policy = self.config.account_policy();
        let event = |kind| crate::audit::Event::new(kind).subject(&user.sub);
        let verdict = self.throttles.send(&key, Count::Attempt { policy }).await?;
        if !verdict.is_allowed() {
            self.event(event(crate::audit::Kind::SignInLocked).reason(verdict.reason()));
            return Ok(None);
        }
        let ok = check().await;
        if let Ok(false) = ok {
            self.event(event(crate::audit::Kind::SignInFailed).reason(wrong));
        }
        let settle = match &ok {
            Ok(true) => Count::Succeed,
            Ok(false) => Count::Fail { policy },
            Err(_) => Count::Release,
        };
        if let Err(e) = self.throttles.send(&key, settle).await {
            (self.log)(&format!("account: throttle store: {e}"));
        }
        ok.map(Some)
    }

    fn account_page(&self, status: u16, ui: &Ui<'_>, s: &Signed, csrf: &str, shown: Shown<'_>) -> Response {
        let esc = pages::escape;
        let f = &s.overview.factors;
        let strong = |v: &str| format!("<strong>{}</strong>", esc(v));
        let notice = match (shown.error, shown.done) {
            (Some(e), _) => format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&ui.t(e))),
            (None, Some(d)) => {
                format!("<p class=\"notice\" role=\"status\">{}</p>", esc(&ui.t(&format!("account.done.{d}"))))
            }
            _ => String::new(),
        };
        let passkeys = passkey_list(&f.credentials, csrf, ui);
        let add_passkey = match self.challenge("register", &s.user.sub) {
            Ok(c) => {
                let options = self.creation_options(&c, &s.user.sub, &s.user.username, &f.credentials);
                let form = PasskeyForm {
                    action: ACCOUNT_PATH,
                    state: ("csrf", csrf),
                    options: &options,
                    field: "registration",
                    button: "account.add_passkey",
                    error: "account.error.passkey",
                    conditional: false,
                };
                format!(
                    "{}<noscript><p class=\"hint\">{}</p></noscript>\n",
                    pages::passkey_form(&form, ui),
                    esc(&ui.t("enroll.no_script"))
                )
            }
            Err(_) => String::new(),
        };
        let codes = match (&shown.setup, f.totp) {
            (Some(setup), false) => setup_form(ACCOUNT_PATH, ("csrf", csrf), setup, ui),
            (_, true) => format!(
                "<p>{on}</p>\n<form method=\"post\" action=\"{ACCOUNT_PATH}\">\n{state}\
                 <input type=\"hidden\" name=\"action\" value=\"codes-off\">\n\
                 <label for=\"off-code\">{label}</label>\n\
                 <input id=\"off-code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\n\
                 <button type=\"submit\" class=\"secondary\">{off}</button>\n</form>\n",
                on = esc(&ui.text.fill("account.codes_on", &[("n", &f.recovery_left.to_string())])),
                state = csrf_field(csrf),
                label = esc(&ui.t("account.codes_off_code")),
                off = esc(&ui.t("account.codes_turn_off")),
            ),
            (None, false) => format!(
                "<p>{}</p>\n<p><a class=\"button\" href=\"{ACCOUNT_PATH}?codes=setup\">{}</a></p>\n",
                esc(&ui.t("account.codes_off")),
                esc(&ui.t("account.codes_turn_on"))
            ),
        };
        let password = if s.user.has_password() {
            format!(
                "<section aria-labelledby=\"password-h\">\n<h2 id=\"password-h\">{title}</h2>\n\
                 <form method=\"post\" action=\"{ACCOUNT_PATH}\">\n{state}\
                 <input type=\"hidden\" name=\"action\" value=\"password\">\n\
                 <input type=\"hidden\" name=\"username\" autocomplete=\"username\" value=\"{user}\">\n\
                 <label for=\"current\">{current}</label>\n\
                 <input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required>\n\
                 <label for=\"new\">{new}</label>\n\
                 <input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" minlength=\"{MIN_PASSWORD_LEN}\" required>\n\
                 <button type=\"submit\" class=\"secondary\">{change}</button>\n</form>\n</section>\n",
                title = esc(&ui.t("account.password")),
                state = csrf_field(csrf),
                user = esc(&s.user.username),
                current = esc(&ui.t("account.password_current")),
                new = esc(&ui.t("account.password_new")),
                change = esc(&ui.t("account.password_change")),
            )
        } else {
            format!(
                "<section aria-labelledby=\"password-h\">\n<h2 id=\"password-h\">{}</h2>\n<p>{}</p>\n</section>\n",
                esc(&ui.t("account.password")),
                esc(&ui.t("account.password_none"))
            )
        };
        let signed_in_as = ui.text.html("consent.signed_in_as", &[("user", &strong(&s.user.username))]);
        let body = pages::render(
            pages::ACCOUNT,
            ui,
            &[
                ("signed_in_as", &signed_in_as),
                ("notice", &notice),
                ("passkeys", &passkeys),
                ("add_passkey", &add_passkey),
                ("codes", &codes),
                ("password", &password),
            ],
            &[],
        );
        let sources = Sources::forms(vec![]).with_script();
        pages::page(ui, status, &ui.t("account.title"), &body, sources).with_header(
            "set-cookie",
            &interaction::set_csrf_cookie(csrf, self.config.secure_cookies, self.config.interaction_ttl),
        )
    }
}

fn csrf_field(csrf: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n", pages::escape(csrf))
}

/// The passkeys, each with its dates and a rename and a remove form.
fn passkey_list(credentials: &[Credential], csrf: &str, ui: &Ui<'_>) -> String {
    let esc = pages::escape;
    if credentials.is_empty() {
        return format!("<p>{}</p>\n", esc(&ui.t("account.no_passkeys")));
    }
    let mut out = String::from("<ul class=\"passkeys\">\n");
    for (i, c) in credentials.iter().enumerate() {
        let mut meta = vec![ui.text.fill("account.added_on", &[("date", &pages::iso_date(c.created_at))])];
        if let Some(t) = c.last_used_at {
            meta.push(ui.text.fill("account.used_on", &[("date", &pages::iso_date(t))]));
        }
        if c.backup_state {
            meta.push(ui.t("account.synced"));
        }
        out.push_str(&format!(
            "<li>\n<p><strong>{name}</strong><br><span class=\"hint\">{meta}</span></p>\n\
             <form method=\"post\" action=\"{ACCOUNT_PATH}\" class=\"inline\">\n{state}\
             <input type=\"hidden\" name=\"action\" value=\"rename\">\n<input type=\"hidden\" name=\"credential_id\" value=\"{id}\">\n\
             <input id=\"name-{i}\" name=\"name\" type=\"text\" maxlength=\"{NAME_MAX}\" value=\"{name}\" aria-label=\"{name_label}\" required>\n\
             <button type=\"submit\" class=\"secondary\">{rename}</button>\n</form>\n\
             <form method=\"post\" action=\"{ACCOUNT_PATH}\" class=\"inline\">\n{state}\
             <input type=\"hidden\" name=\"action\" value=\"remove\">\n<input type=\"hidden\" name=\"credential_id\" value=\"{id}\">\n\
             <button type=\"submit\" class=\"secondary\" aria-label=\"{remove_label}\">{remove}</button>\n</form>\n</li>\n",
            name = esc(&c.name),
            meta = esc(&meta.join(" · ")),
            state = csrf_field(csrf),
            id = esc(&c.id),
            name_label = esc(&ui.text.fill("account.name_label", &[("name", &c.name)])),
            rename = esc(&ui.t("account.rename")),
            remove_label = esc(&ui.text.fill("account.remove_label", &[("name", &c.name)])),
            remove = esc(&ui.t("account.remove")),
        ));
    }
    out.push_str("</ul>\n");
    out
}
