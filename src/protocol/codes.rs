//! One-time codes (RFC 6238 TOTP) and recovery codes, shared by the sign-in (turned on when
//! an application needs a second factor) and the account page. A setup is offered sealed
//! (the secret and the recovery codes, shown on the page; nothing is stored) and turned on by
//! its first code; from then on the secret stays in the user's account object, where codes
//! are checked, and only hashes of the recovery codes are kept.

use super::failure::{Failure, INVALID};
use super::sealed::{self, OpenError};
use super::{random, Backend, Provider};
use crate::crypto::{b64url, b64url_decode, random_bytes, sha256, totp};
use crate::i18n::Locale;
use crate::objects::account::{SetTotp, UseRecovery, UseTotp};
use crate::pages::{self, Ui};
use crate::store::AccountStore;
use serde::{Deserialize, Serialize};

const SETUP_CONTEXT: &[u8] = b"edge-oidc/totp-setup/v1\0";
/// Recovery codes made when one-time codes are turned on.
pub const RECOVERY_CODES: usize = 10;

/// One-time codes being set up for `sub`: the secret (base64url) and the recovery codes, as
/// the page shows them, until `exp`.
#[derive(Serialize, Deserialize)]
struct Setup {
    sub: String,
    secret: String,
    codes: Vec<String>,
    exp: i64,
}

/// A setup as a page shows it.
pub struct NewSetup {
    /// The sealed state the confirming form carries.
    pub sealed: String,
    /// The secret in base32, for typing into an app.
    pub b32: String,
    pub codes: Vec<String>,
    /// `otpauth://totp/...`, for an app on this device.
    pub uri: String,
}

/// A recovery code as typed (spaces, dashes and case do not matter), hashed.
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    b64url(&sha256(norm.as_bytes()))
}

/// Fresh recovery codes: 10 base32 characters each (50 bits), shown as XXXXX-XXXXX.
pub fn recovery_codes() -> Result<Vec<String>, String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let c = totp::base32(&random_bytes::<7>()?);
            Ok(format!("{}-{}", c.get(..5).unwrap_or_default(), c.get(5..10).unwrap_or_default()))
        })
        .collect()
}

impl<B: Backend> Provider<'_, B> {
    /// A new setup for `sub`, good for as long as a sign-in form.
    pub fn new_setup(&self, sub: &str, username: &str) -> Result<NewSetup, Failure> {
        let secret = random(random_bytes::<20>())?;
        let codes = random(recovery_codes())?;
        let setup =
            Setup { sub: sub.to_string(), secret: b64url(&secret), codes, exp: self.now + self.config.interaction_ttl };
        Ok(self.shown(&sealed::seal(SETUP_CONTEXT, &self.keys.page, &setup), setup, username))
    }

    /// A setup sent back (to show it again after a mistyped code), if it is ours, for `sub`,
    /// and not expired.
    pub fn open_setup(&self, sealed_setup: &str, sub: &str, username: &str) -> Option<NewSetup> {
        match sealed::open(SETUP_CONTEXT, &self.keys.page, sealed_setup, self.now, |s: &Setup| s.exp) {
            Ok(s) if s.sub == sub => Some(self.shown(sealed_setup, s, username)),
            _ => None,
        }
    }

    fn shown(&self, sealed_setup: &str, s: Setup, username: &str) -> NewSetup {
        let b32 = totp::base32(&b64url_decode(&s.secret).unwrap_or_default());
        let uri = totp::otpauth_uri(&b32, &self.config.brand.product_name, username);
        NewSetup { sealed: sealed_setup.to_string(), b32, codes: s.codes, uri }
    }

    /// Checks the first code of a setup and turns codes on. `id_hash`: the account page's
    /// session (none: during a sign-in, after the password). `Ok(false)`: a wrong code, or
    /// the setup expired.
    pub async fn confirm_setup(
        &self,
        locale: Locale,
        sealed_setup: &str,
        code: &str,
        sub: &str,
        id_hash: Option<String>,
    ) -> Result<bool, Failure> {
        let setup: Setup = match sealed::open(SETUP_CONTEXT, &self.keys.page, sealed_setup, self.now, |s: &Setup| s.exp)
        {
            Ok(s) if s.sub == sub => s,
            Ok(_) | Err(OpenError::Invalid) => return Err(Failure::page(locale, 400, INVALID)),
            Err(OpenError::Expired) => return Ok(false),
        };
        let Some(secret) = b64url_decode(&setup.secret) else { return Ok(false) };
        let Some(last_step) = totp::matching_step(&secret, code, self.now) else { return Ok(false) };
        let recovery = setup.codes.iter().map(|c| recovery_hash(c)).collect();
        Ok(self.accounts.send(sub, SetTotp { id_hash, secret: setup.secret, recovery, last_step }).await?)
    }

    /// A one-time code (digits) or a recovery code, checked in the account object (each
    /// works once).
    pub async fn check_code(&self, sub: &str, code: &str) -> Result<bool, Failure> {
        if code.bytes().all(|b| b.is_ascii_digit() || b == b' ') {
            Ok(self.accounts.send(sub, UseTotp { code: code.to_string() }).await?)
        } else {
            Ok(self.accounts.send(sub, UseRecovery { hash: recovery_hash(code) }).await?)
        }
    }
}

/// The setup on a page: the key (grouped for typing), a link for an authenticator app on this
/// device, the recovery codes to keep, and the first code to confirm. `state`: the hidden
/// field that carries the page's state (`tx` at sign-in, `csrf` on the account page).
pub fn setup_form(action: &str, state: (&str, &str), s: &NewSetup, ui: &Ui<'_>) -> String {
    let esc = pages::escape;
    let grouped: Vec<String> = s.b32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let list: String = s.codes.iter().map(|c| format!("<li><code>{}</code></li>", esc(c))).collect();
    format!(
        "<section class=\"setup\" aria-labelledby=\"setup-h\">\n<h2 id=\"setup-h\">{title}</h2>\n<p>{lead}</p>\n\
         <p class=\"key\"><code>{key}</code></p>\n<p><a href=\"{uri}\">{open}</a></p>\n<p>{rec}</p>\n\
         <ul class=\"codes\">{list}</ul>\n<form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"{state_name}\" value=\"{state_value}\">\n\
         <input type=\"hidden\" name=\"action\" value=\"codes-on\">\n\
         <input type=\"hidden\" name=\"setup\" value=\"{setup}\">\n<label for=\"setup-code\">{confirm}</label>\n\
         <input id=\"setup-code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\n\
         <button type=\"submit\" class=\"primary\">{go}</button>\n</form>\n</section>\n",
        title = esc(&ui.t("second.setup_totp")),
        lead = esc(&ui.t("second.setup_totp_lead")),
        key = esc(&grouped.join(" ")),
        uri = esc(&s.uri),
        open = esc(&ui.t("second.open_app")),
        rec = esc(&ui.t("second.recovery")),
        action = esc(action),
        state_name = esc(state.0),
        state_value = esc(state.1),
        setup = esc(&s.sealed),
        confirm = esc(&ui.t("second.confirm")),
        go = esc(&ui.t("second.continue")),
    )
}
