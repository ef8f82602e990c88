//! Passkeys and second factors at sign-in. A passkey signs in on its own (POST /login with a
//! `credential`: WebAuthn with user verification, phishing-resistant). After a password, a
//! second factor is asked for (POST /login/second) when the sign-in must reach `mfa` or `phr`
//! or the user turned one-time codes on: a one-time code (RFC 6238) or recovery code, or a
//! passkey. A user who has none of what is needed sets one up there and then: a passkey, or
//! (for `mfa`) an authenticator app.

use super::{Interaction, INVALID};
use crate::audit::{Event, Kind};
use crate::http::{Params, Request, Response};
use crate::model::strength::{amr, Level};
use crate::objects::account::{AddCredential, Added, FactorsOf, FactorsReply};
use crate::objects::throttle::{self, Command as Count};
use crate::pages::{self, ErrorText, PasskeyForm, Sources};
use crate::protocol::codes::setup_form;
use crate::protocol::failure::Failure;
use crate::protocol::passkeys::Refused;
use crate::protocol::redirect::form_target;
use crate::protocol::{device, random, Backend, Provider};
use crate::store::{AccountStore, UserStore};

impl<B: Backend> Provider<'_, B> {
    /// POST /login with a passkey: it names its user (a discoverable credential).
    pub(super) async fn passkey_sign_in(
        &self,
        req: &Request,
        ix: Interaction,
        form: &Params,
    ) -> Result<Response, Failure> {
        if ix.user.is_some() || ix.pending.is_some() {
            return Err(Failure::page(
                ix.locale,
                400,
                ErrorText { message: "error.already_signed_in.message", ..INVALID },
            ));
        }
        let json = form.get("credential").unwrap_or_default();
        // A page shown again after a refusal gets a new grant id (and so a new challenge).
        let again = || -> Result<Interaction, Failure> {
            Ok(Interaction { grant_id: random(crate::crypto::random_token::<16>())?, ..ix.clone() })
        };
        let asserted = match self.assert_passkey(json, &ix.grant_id, None).await {
            Ok(a) => a,
            Err(r) => {
                self.event(Event::new(Kind::SignInFailed).client(&ix.client_id).reason(r.reason()).method("passkey"));
                let ix = again()?;
                return self.refused(r, |key| self.login_page(400, &ix, "", Some(key)));
            }
        };
        let user = match self.users.by_username(&asserted.username).await {
            Ok(Some(u)) if u.sub == asserted.sub => u,
            Ok(_) => {
                let e = Event::new(Kind::SignInFailed).client(&ix.client_id).subject(&asserted.sub);
                self.event(e.reason("unknown_user").method("passkey"));
                return Ok(self.login_page(400, &again()?, "", Some("login.passkey_failed")));
            }
            Err(e) => return Err(self.unavailable(&again()?, "", e)),
        };
        let key = throttle::account_key(&user.username);
        let device = match device::known(req, self.config.secure_cookies, &self.keys.device, &key, self.now) {
            Some(id) => id,
            None => random(crate::crypto::random_token::<16>())?,
        };
        // A passkey reaches `phr`: the sign-in completes now. Its use (challenge, counter) is
        // recorded with the session's start: the account is written once.
        let amr = amr(false, Some(asserted.credential.amr()));
        self.complete_sign_in(req, ix, &user, amr, &device, Some(asserted.used)).await
    }

    /// A refused ceremony: the page again with what to do, and the reason in the log.
    pub(super) fn refused(&self, r: Refused, again: impl Fn(&str) -> Response) -> Result<Response, Failure> {
        match r {
            Refused::Bad(d) => Err(Failure::rendered(again("login.passkey_failed"), format!("passkey refused: {d}"))),
            Refused::Cloned => Err(Failure::rendered(again("login.passkey_cloned"), "a passkey's counter went back")),
            Refused::Failed(f) => Err(f),
        }
    }

    /// POST /login/second: the second factor of a sign-in begun with a password. What a
    /// user has set up is asked for before anything new is set up: a user with one-time codes
    /// types a code before creating the passkey an application needs (otherwise the password
    /// alone would let anyone add theirs).
    pub async fn second_factor(&self, req: &Request) -> Result<Response, Failure> {
        let (form, ix) = self.open_form(req)?;
        let Some(pending) = ix.pending.clone() else {
            return Err(Failure::page(ix.locale, 400, ErrorText { message: "error.invalid_form.message", ..INVALID }));
        };
        let user = match self.users.by_username(&pending.username).await {
            Ok(Some(u)) if u.sub == pending.sub => u,
            Ok(_) => return Err(Failure::page(ix.locale, 400, INVALID)),
            Err(e) => return Err(self.unavailable(&ix, &pending.username, e)),
        };
        let factors =
            self.accounts.send(&user.sub, FactorsOf {}).await.map_err(|e| self.unavailable(&ix, &user.username, e))?;
        let again = |key: &str| self.second_factor_page(400, &ix, &factors, Some(key));
        let step = Step::of(&factors, &pending.amr, ix.required());
        let not_offered =
            || Failure::page(ix.locale, 400, ErrorText { message: "error.invalid_form.message", ..INVALID });
        let mut done = pending.amr.clone();
        let event = |kind| Event::new(kind).client(&ix.client_id).subject(&user.sub);
        if let Some(json) = form.get("credential") {
            // A passkey of this user.
            let used = match self.assert_passkey(json, &ix.grant_id, Some(&user.sub)).await {
                Ok(a) => self.use_passkey(a).await,
                Err(r) => Err(r),
            };
            match used {
                Ok(credential) => {
                    self.event(event(Kind::SecondFactorUsed).method("passkey"));
                    done.extend([credential.amr().to_string(), "mfa".into()])
                }
                Err(r) => {
                    self.event(event(Kind::SecondFactorFailed).reason(r.reason()).method("passkey"));
                    return self.refused(r, again);
                }
            }
        } else if let Some(json) = form.get("registration") {
            // A passkey made now: only when the user has none and nothing else to show.
            if !step.enroll {
                return Err(not_offered());
            }
            let credential = match self.register_passkey(json, &user.sub, &device_name(req)).await {
                Ok(c) => c,
                Err(r) => {
                    self.event(event(Kind::SecondFactorFailed).reason(r.reason()).method("passkey"));
                    return self.refused(r, again);
                }
            };
            let kind = credential.amr().to_string();
            let add = AddCredential { id_hash: None, credential, username: user.username.clone() };
            match self.accounts.send(&user.sub, add).await.map_err(|e| self.unavailable(&ix, &user.username, e))? {
                Added::Added => {
                    self.event(event(Kind::SecondFactorUsed).method("passkey"));
                    done.extend([kind, "mfa".into()])
                }
                Added::Exists | Added::Full | Added::NoSession => return Ok(again("second.passkey_not_added")),
            }
        } else {
            let setup = form.get("setup");
            if (setup.is_some() && !step.enroll_codes) || (setup.is_none() && !step.code) {
                return Err(not_offered());
            }
            let code = form.get("code").unwrap_or_default().trim().to_string();
            if code.is_empty() {
                return Ok(again("second.missing"));
            }
            // Counted like passwords: a guessed code is a guessed password.
            let key = throttle::account_key(&user.username);
            let attempt = self.count(Some(&key), Count::Attempt { policy: self.config.account_policy() }).await;
            match attempt {
                Ok(v) if v.is_allowed() => {}
                Ok(v) => {
                    self.event(event(Kind::SignInLocked).reason(v.reason()).method("otp"));
                    return Ok(self.throttled_page(&ix, &user.username, v, false));
                }
                Err(e) => return Err(self.unavailable(&ix, &user.username, e)),
            }
            let checked = match setup {
                Some(sealed_setup) => self.confirm_setup(ix.locale, sealed_setup, &code, &user.sub, None).await,
                None => self.check_code(&user.sub, &code).await,
            };
            let ok = match checked {
                Ok(ok) => ok,
                Err(f) => {
                    self.settle(Some(&key), None, Some(Count::Release), None).await;
                    return Err(f);
                }
            };
            let settle = if ok { Count::Succeed } else { Count::Fail { policy: self.config.account_policy() } };
            self.settle(Some(&key), None, Some(settle), None).await;
            let e = event(if ok { Kind::SecondFactorUsed } else { Kind::SecondFactorFailed }).method("otp");
            self.event(if ok { e } else { e.reason("wrong_code") });
            if !ok {
                // The same setup again (the app has its key already).
                return Ok(self.second_factor_page_with(400, &ix, &factors, Some("second.bad_code"), setup));
            }
            done.extend(["otp".to_string(), "mfa".into()]);
        }
        let done = dedup(done);
        if Step::of(&factors, &done, ix.required()).finished {
            let device = pending.device.clone();
            return self.complete_sign_in(req, Interaction { pending: None, ..ix }, &user, done, &device, None).await;
        }
        // More is needed (a passkey after the code): the page again, with what was shown.
        let factors =
            self.accounts.send(&user.sub, FactorsOf {}).await.map_err(|e| self.unavailable(&ix, &user.username, e))?;
        let pending = super::Pending { amr: done, ..pending };
        let ix = Interaction { pending: Some(pending), exp: self.now + self.config.interaction_ttl, ..ix };
        Ok(self.second_factor_page(200, &ix, &factors, Some("second.passkey_needed")))
    }

    /// The second factor's page: what the user set up (a code, a passkey) or, when they have
    /// nothing that reaches what the sign-in needs, setting it up.
    pub(super) fn second_factor_page(
        &self,
        status: u16,
        ix: &Interaction,
        f: &FactorsReply,
        error: Option<&str>,
    ) -> Response {
        self.second_factor_page_with(status, ix, f, error, None)
    }

    /// The page, with the one-time code setup `setup` shown again (if still good).
    fn second_factor_page_with(
        &self,
        status: u16,
        ix: &Interaction,
        f: &FactorsReply,
        error: Option<&str>,
        setup: Option<&str>,
    ) -> Response {
        let ui = self.ui(ix.locale);
        let Some(p) = &ix.pending else { return pages::error_page(&ui, 400, INVALID) };
        let required = ix.required();
        let step = Step::of(f, &p.amr, required);
        let tx = ix.seal(&self.keys.page);
        let esc = pages::escape;
        let error_html =
            error.map(|k| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&ui.t(k)))).unwrap_or_default();
        let code = if step.code {
            format!(
                "<form method=\"post\" action=\"/login/second\">\n<input type=\"hidden\" name=\"tx\" value=\"{}\">\n\
                 <label for=\"code\">{}</label>\n<input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" autocapitalize=\"characters\" spellcheck=\"false\" required autofocus>\n\
                 <p class=\"hint\">{}</p>\n<button type=\"submit\" class=\"primary\">{}</button>\n</form>\n",
                esc(&tx),
                esc(&ui.t("second.code")),
                esc(&ui.text.fill("second.recovery_left", &[("n", &f.recovery_left.to_string())])),
                esc(&ui.t("second.continue"))
            )
        } else {
            String::new()
        };
        let mut passkey = String::new();
        if step.passkey || step.enroll {
            let (purpose, bound) = if step.passkey { ("sign-in", &ix.grant_id) } else { ("register", &p.sub) };
            if let Ok(c) = self.challenge(purpose, bound) {
                let options = if step.passkey {
                    self.request_options(&c, &f.credentials)
                } else {
                    self.creation_options(&c, &p.sub, &p.username, &f.credentials)
                };
                let form = PasskeyForm {
                    action: "/login/second",
                    state: ("tx", &tx),
                    options: &options,
                    field: if step.passkey { "credential" } else { "registration" },
                    button: if step.passkey { "second.passkey" } else { "second.setup_passkey" },
                    error: "login.passkey_failed",
                    conditional: false,
                };
                passkey = pages::passkey_form(&form, &ui);
            }
        }
        let mut enroll = String::new();
        if step.enroll_codes {
            let shown = setup.and_then(|s| self.open_setup(s, &p.sub, &p.username));
            if let Some(s) = shown.or_else(|| self.new_setup(&p.sub, &p.username).ok()) {
                enroll = setup_form("/login/second", ("tx", &tx), &s, &ui);
            }
        }
        let (heading, lead) = if step.enroll {
            let client = format!("<strong>{}</strong>", esc(&ix.client_name));
            let key = if required == Level::Phr { "second.setup_phr" } else { "second.setup_lead" };
            (ui.t("second.setup_title"), ui.text.html(key, &[("client", &client)]))
        } else {
            (ui.t("second.title"), esc(&ui.t("second.lead")))
        };
        let body = pages::render(
            pages::SECOND,
            &ui,
            &[("lead", &lead), ("error", &error_html), ("code", &code), ("passkey", &passkey), ("enroll", &enroll)],
            &[("heading", &heading)],
        );
        let sources = Sources::forms(form_target(&ix.redirect_uri)).with_script();
        pages::page(&ui, status, &heading, &body, sources).with_header("set-cookie", &self.csrf_cookie(ix))
    }
}

/// Where a sign-in stands after the factors in `done`, for a user with factors `f`: what the
/// second-factor page offers, and whether the sign-in is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Enough: the level needed, and each factor the user turned on shown (a passkey counts
    /// for all).
    pub finished: bool,
    /// Type a one-time or recovery code.
    pub code: bool,
    /// Use one of their passkeys.
    pub passkey: bool,
    /// Create a passkey now (the user has none, and nothing else is left to show).
    pub enroll: bool,
    /// Or turn one-time codes on (when `mfa` is enough and they are off).
    pub enroll_codes: bool,
}

impl Step {
    pub fn of(f: &FactorsReply, done: &[String], required: Level) -> Step {
        let by_passkey = done.iter().any(|a| a == "hwk" || a == "swk");
        let by_code = done.iter().any(|a| a == "otp");
        let shown_all = by_passkey || !f.totp || by_code;
        let finished = Level::of(done) >= required && shown_all;
        let has_passkeys = !f.credentials.is_empty();
        // A code only reaches `mfa`: when a passkey is needed and the user has one, that.
        let code = !finished && f.totp && !by_code && (required <= Level::Mfa || !has_passkeys);
        let passkey = !finished && has_passkeys;
        let enroll = !finished && !has_passkeys && !code;
        let enroll_codes = enroll && !f.totp && required <= Level::Mfa;
        Step { finished, code, passkey, enroll, enroll_codes }
    }
}

/// A name for a new passkey, from the browser's `User-Agent` (the user can rename it).
pub fn device_name(req: &Request) -> String {
    let ua = req.header("user-agent").unwrap_or_default();
    let platforms = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "Mac"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    match platforms.iter().find(|(needle, _)| ua.contains(needle)) {
        Some((_, p)) => format!("Passkey on {p}"),
        None => "Passkey".to_string(),
    }
}

fn dedup(amr: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for a in amr {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    // "mfa" last, as RFC 8176's examples have it.
    if let Some(i) = out.iter().position(|a| a == "mfa") {
        let m = out.remove(i);
        out.push(m);
    }
    out
}
