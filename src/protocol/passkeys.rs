//! The WebAuthn ceremonies (registration and sign-in) around `model::passkey`: challenges
//! the provider seals (HMAC under the page key) for one purpose and one sign-in or session,
//! good for a few minutes and used once (a sign-in's in the user's account object, with the
//! passkey's counter; a registration's reserved in a grant object), the options a page's
//! script hands to `navigator.credentials`, and the checks of what comes back, the signature
//! through the platform's crypto.

use super::failure::Failure;
use super::sealed::{self, OpenError};
use super::{random, Backend, Provider};
use crate::crypto::{b64url, b64url_decode, random_token, Crypto};
use crate::model::passkey::{self, Credential, Expected, BE, BS, COSE_ALGS};
use crate::objects::account::{CredentialOf, UseCredential, Used as UseReply};
use crate::objects::grant::{Reserve, ReserveReply};
use crate::store::{AccountStore, GrantStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const CONTEXT: &[u8] = b"edge-oidc/webauthn/v1\0";
/// How long a ceremony may take (WebAuthn recommends minutes).
pub const CHALLENGE_SECONDS: i64 = 300;

#[derive(Serialize, Deserialize)]
struct Challenge {
    /// What it is for (`sign-in`, `register`) and what it is bound to (a sign-in's grant id,
    /// a user's sub).
    p: String,
    b: String,
    n: String,
    exp: i64,
}

/// A passkey whose assertion checked out: it, its owner, and its use, which the account
/// object still has to accept (the challenge not answered before, the counter forward):
/// sent alone ([`Provider::use_passkey`]) or with the session's start.
pub struct Asserted {
    pub credential: Credential,
    pub sub: String,
    pub username: String,
    pub used: UseCredential,
}

/// Why a ceremony was refused: told to the person (a sentence key) and logged.
pub enum Refused {
    /// The browser's answer is not acceptable (`detail` for the log).
    Bad(String),
    /// The passkey may have been cloned (its counter went back).
    Cloned,
    Failed(Failure),
}

impl Refused {
    /// The audit events' reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::Bad(_) => "passkey_refused",
            Refused::Cloned => "passkey_cloned",
            Refused::Failed(_) => "unavailable",
        }
    }
}

impl From<Failure> for Refused {
    fn from(f: Failure) -> Refused {
        Refused::Failed(f)
    }
}

/// The account object's answer to a passkey's use.
pub fn accepted(used: UseReply) -> Result<Credential, Refused> {
    match used {
        UseReply::Used { credential } => Ok(credential),
        UseReply::CounterWentBack => Err(Refused::Cloned),
        UseReply::Unknown => Err(Refused::Bad("an unknown passkey".into())),
        UseReply::Replayed => Err(Refused::Bad("the challenge was used before".into())),
        UseReply::Expired => Err(Refused::Bad("the challenge expired".into())),
        UseReply::TooMany => Err(Refused::Bad("too many passkey sign-ins within a challenge's lifetime".into())),
    }
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

impl<B: Backend> Provider<'_, B> {
    /// The relying party: the issuer's host (RP ID) and origin.
    pub fn rp_id(&self) -> String {
        url::Url::parse(&self.config.issuer).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default()
    }

    /// The origin ceremonies must run on: the issuer's (scheme, host and port; an issuer
    /// with a path still has its host's origin, WebAuthn §5.8.1).
    pub fn rp_origin(&self) -> String {
        url::Url::parse(&self.config.issuer).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
    }

    /// A challenge for `purpose` bound to `bound`, base64url (the bytes the browser signs).
    pub fn challenge(&self, purpose: &str, bound: &str) -> Result<String, Failure> {
        let n = random(random_token::<16>())?;
        let c = Challenge { p: purpose.into(), b: bound.into(), n, exp: self.now + CHALLENGE_SECONDS };
        Ok(b64url(sealed::seal(CONTEXT, &self.keys.page, &c).as_bytes()))
    }

    /// `PublicKeyCredentialRequestOptions` (WebAuthn §5.5) for a sign-in; `allow`: the
    /// passkeys of a known user (a second factor), or none (any discoverable passkey).
    pub fn request_options(&self, challenge: &str, allow: &[Credential]) -> Value {
        let allow: Vec<Value> = allow.iter().map(|c| json!({"type": "public-key", "id": c.id})).collect();
        json!({"challenge": challenge, "rpId": self.rp_id(), "userVerification": "required",
               "timeout": CHALLENGE_SECONDS * 1000, "allowCredentials": allow})
    }

    /// `PublicKeyCredentialCreationOptions` (WebAuthn §5.4) for the user `sub`: a discoverable
    /// credential, verified user, no attestation, not one the user has already.
    pub fn creation_options(&self, challenge: &str, sub: &str, username: &str, existing: &[Credential]) -> Value {
        let params: Vec<Value> = COSE_ALGS.iter().map(|a| json!({"type": "public-key", "alg": a})).collect();
        let exclude: Vec<Value> = existing.iter().map(|c| json!({"type": "public-key", "id": c.id})).collect();
        json!({
            "challenge": challenge,
            "rp": {"id": self.rp_id(), "name": self.config.brand.product_name},
            "user": {"id": b64url(sub.as_bytes()), "name": username, "displayName": username},
            "pubKeyCredParams": params,
            "excludeCredentials": exclude,
            "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": "required"},
            "attestation": "none",
            "timeout": CHALLENGE_SECONDS * 1000,
        })
    }

    /// Opens the challenge a browser signed (from its client data): ours, for `purpose` and
    /// `bound`, not expired. Returns it as the client data carries it, and its nonce and expiry
    /// (the caller makes it single-use).
    fn open_challenge(&self, client_data: &[u8], purpose: &str, bound: &str) -> Result<(String, String, i64), Refused> {
        let cd: Value =
            serde_json::from_slice(client_data).map_err(|_| Refused::Bad("clientDataJSON is not JSON".into()))?;
        let challenge = cd.get("challenge").and_then(Value::as_str).ok_or(Refused::Bad("no challenge".into()))?;
        let sealed_text = b64url_decode(challenge)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(Refused::Bad("a challenge not ours".into()))?;
        let c: Challenge = match sealed::open(CONTEXT, &self.keys.page, &sealed_text, self.now, |c: &Challenge| c.exp) {
            Ok(c) => c,
            Err(OpenError::Expired) => return Err(Refused::Bad("the challenge expired".into())),
            Err(OpenError::Invalid) => return Err(Refused::Bad("a challenge not ours".into())),
        };
        if c.p != purpose || c.b != bound {
            return Err(Refused::Bad("a challenge for something else".into()));
        }
        Ok((challenge.to_string(), c.n, c.exp))
    }

    /// A sign-in with a passkey (WebAuthn §7.2): the browser's `PublicKeyCredential` as JSON.
    /// `user`: the user it must be (a second factor), or any (its user handle says who).
    /// Checked, not yet used: see [`Asserted`].
    pub async fn assert_passkey(&self, json: &str, bound: &str, user: Option<&str>) -> Result<Asserted, Refused> {
        let v: Value = serde_json::from_str(json).map_err(|_| Refused::Bad("the credential is not JSON".into()))?;
        let resp = v.get("response").ok_or(Refused::Bad("no response".into()))?;
        let bytes = |name: &str| passkey::bytes(resp, name).map_err(Refused::Bad);
        let (client_data, auth_data, signature) =
            (bytes("clientDataJSON")?, bytes("authenticatorData")?, bytes("signature")?);
        let id = field(&v, &["id"]).and_then(Value::as_str).ok_or(Refused::Bad("no credential id".into()))?;
        let handle = passkey::bytes(resp, "userHandle").ok().and_then(|h| String::from_utf8(h).ok());
        let sub = match (user, handle.as_deref()) {
            (Some(u), Some(h)) if u != h => return Err(Refused::Bad("a passkey of another user".into())),
            (Some(u), _) => u.to_string(),
            (None, Some(h)) => h.to_string(),
            (None, None) => return Err(Refused::Bad("no user handle (not a discoverable passkey)".into())),
        };
        let (challenge, nonce, challenge_exp) = self.open_challenge(&client_data, "sign-in", bound)?;
        let (credential, username) = self
            .accounts
            .send(&sub, CredentialOf { credential_id: id.to_string() })
            .await
            .map_err(Failure::from)?
            .ok_or(Refused::Bad("an unknown passkey".into()))?;
        let origin = self.rp_origin();
        let e = Expected { challenge: &challenge, origin: &origin, rp_id: &self.rp_id(), require_uv: true };
        passkey::check_client_data(&client_data, "webauthn.get", &e).map_err(Refused::Bad)?;
        let auth = passkey::parse_auth_data(&auth_data).map_err(Refused::Bad)?;
        passkey::check_auth_data(&auth, &e).map_err(Refused::Bad)?;
        let key = credential.key().map_err(Refused::Bad)?;
        let sig = passkey::jws_signature(key.alg, &signature).map_err(Refused::Bad)?;
        let signed = passkey::signed_data(&auth_data, &client_data);
        match self.crypto.verify_with(&key, &signed, &sig).await {
            Ok(true) => {}
            Ok(false) => return Err(Refused::Bad("the signature does not verify".into())),
            Err(e) => return Err(Refused::Failed(Failure::unavailable(format!("verifying a passkey: {e}")))),
        }
        let used = UseCredential {
            credential_id: credential.id.clone(),
            sign_count: auth.sign_count,
            backup_state: auth.has(BS),
            challenge: nonce,
            challenge_exp,
        };
        Ok(Asserted { credential, sub, username, used })
    }

    /// Records a checked passkey's use in its user's account object (see [`Asserted`]).
    pub async fn use_passkey(&self, asserted: Asserted) -> Result<Credential, Refused> {
        accepted(self.accounts.send(&asserted.sub, asserted.used).await.map_err(Failure::from)?)
    }

    /// A new passkey for the user `sub` (WebAuthn §7.1): the browser's `PublicKeyCredential`
    /// from `navigator.credentials.create` as JSON.
    pub async fn register_passkey(&self, json: &str, sub: &str, name: &str) -> Result<Credential, Refused> {
        let v: Value = serde_json::from_str(json).map_err(|_| Refused::Bad("the credential is not JSON".into()))?;
        let resp = v.get("response").ok_or(Refused::Bad("no response".into()))?;
        let client_data = passkey::bytes(resp, "clientDataJSON").map_err(Refused::Bad)?;
        let attestation = passkey::bytes(resp, "attestationObject").map_err(Refused::Bad)?;
        let (challenge, nonce, exp) = self.open_challenge(&client_data, "register", sub)?;
        // Used once: reserved as an id of its own (a registration is rare; its user may have no
        // passkey yet to keep it in).
        match self
            .grants
            .send(&format!("webauthn:{nonce}"), Reserve { expires_at: exp })
            .await
            .map_err(Failure::from)?
        {
            ReserveReply::Reserved => {}
            ReserveReply::Conflict => return Err(Refused::Bad("the challenge was used before".into())),
        }
        let origin = self.rp_origin();
        let e = Expected { challenge: &challenge, origin: &origin, rp_id: &self.rp_id(), require_uv: true };
        let (id, key, auth) = passkey::registration(&attestation, &client_data, &e).map_err(Refused::Bad)?;
        let name = name.trim();
        Ok(Credential {
            id: b64url(&id),
            public_key: key.to_jwk(),
            name: if name.is_empty() { "Passkey".to_string() } else { name.chars().take(60).collect() },
            sign_count: auth.sign_count,
            backup_eligible: auth.has(BE),
            backup_state: auth.has(BS),
            created_at: self.now,
            last_used_at: None,
        })
    }
}
