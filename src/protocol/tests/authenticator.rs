//! A software WebAuthn authenticator for the host tests: it answers the options a page hands
//! to its script as a browser and an authenticator would (WebAuthn §6, §7), with a fixture key
//! of the chosen algorithm, and can be made to misbehave (wrong origin, RP ID, counter).

use super::block_on;
use crate::crypto::cbor::Cbor;
use crate::crypto::{b64url, b64url_decode, sha256, Alg, Crypto};
use crate::http::Response;
use crate::keys::native::NativeCrypto;
use crate::keys::{test_key, PrivateJwkSet};
use crate::model::passkey::{AT, BE, BS, UP, UV};
use serde_json::{json, Value};

pub(crate) struct Authenticator {
    alg: Alg,
    crypto: NativeCrypto,
    public: Value,
    pub id: Vec<u8>,
    pub counter: u32,
    /// Flags of the next answer (user present and verified unless a test says otherwise).
    pub flags: u8,
    /// Where the "browser" says the ceremony ran, and the RP ID it hashes.
    pub origin: String,
    pub rp_id: Option<String>,
    /// The user handle stored at registration (the user's `sub`).
    pub user_handle: Vec<u8>,
}

impl Authenticator {
    pub(crate) fn new(alg: Alg) -> Authenticator {
        let set = PrivateJwkSet::parse(test_key::MULTI).unwrap();
        let kid = set.signer(alg).unwrap().kid.clone();
        let jwks = set.public_jwks();
        let public = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap().clone();
        Authenticator {
            alg,
            crypto: NativeCrypto::from_set(&set).unwrap(),
            public,
            id: format!("credential-{}", alg.as_str()).into_bytes(),
            counter: 1,
            flags: UP | UV,
            origin: super::ISSUER.to_string(),
            rp_id: None,
            user_handle: vec![],
        }
    }

    pub(crate) fn credential_id(&self) -> String {
        b64url(&self.id)
    }

    /// The credential public key as a COSE_Key (RFC 9053).
    fn cose(&self) -> Vec<u8> {
        let b = |m: &str| Cbor::Bytes(b64url_decode(self.public[m].as_str().unwrap()).unwrap());
        let entries = match self.alg {
            Alg::ES256 => vec![(1, Cbor::Int(2)), (3, Cbor::Int(-7)), (-1, Cbor::Int(1)), (-2, b("x")), (-3, b("y"))],
            Alg::EdDSA => vec![(1, Cbor::Int(1)), (3, Cbor::Int(-8)), (-1, Cbor::Int(6)), (-2, b("x"))],
            Alg::RS256 => vec![(1, Cbor::Int(3)), (3, Cbor::Int(-257)), (-1, b("n")), (-2, b("e"))],
        };
        Cbor::Map(entries.into_iter().map(|(k, v)| (Cbor::Int(k), v)).collect()).encode()
    }

    fn client_data(&self, typ: &str, challenge: &str) -> Vec<u8> {
        json!({"type": typ, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, options_rp_id: &str, flags: u8, attested: bool) -> Vec<u8> {
        let rp_id = self.rp_id.clone().unwrap_or_else(|| options_rp_id.to_string());
        let mut a = sha256(rp_id.as_bytes()).to_vec();
        a.push(flags | if attested { AT } else { 0 });
        a.extend(self.counter.to_be_bytes());
        if attested {
            a.extend([0u8; 16]);
            a.extend(u16::try_from(self.id.len()).unwrap().to_be_bytes());
            a.extend(&self.id);
            a.extend(self.cose());
        }
        a
    }

    /// `navigator.credentials.create` with the page's options: the credential as JSON.
    pub(crate) fn register(&mut self, options: &Value) -> String {
        self.user_handle = b64url_decode(options["user"]["id"].as_str().unwrap()).unwrap();
        let rp_id = options["rp"]["id"].as_str().unwrap();
        let client_data = self.client_data("webauthn.create", options["challenge"].as_str().unwrap());
        let auth = self.auth_data(rp_id, self.flags, true);
        let att = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth)),
        ]);
        json!({"id": self.credential_id(), "rawId": self.credential_id(), "type": "public-key",
               "response": {"clientDataJSON": b64url(&client_data), "attestationObject": b64url(&att.encode())}})
        .to_string()
    }

    /// `navigator.credentials.get` with the page's options: the assertion as JSON (the
    /// counter moves on first).
    pub(crate) fn assert(&mut self, options: &Value) -> String {
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", options["challenge"].as_str().unwrap());
        let auth = self.auth_data(options["rpId"].as_str().unwrap(), self.flags, false);
        let signed = [auth.as_slice(), &sha256(&client_data)].concat();
        let sig = block_on(self.crypto.sign(self.alg, &signed)).unwrap();
        let sig = if self.alg == Alg::ES256 { der(&sig) } else { sig };
        json!({"id": self.credential_id(), "rawId": self.credential_id(), "type": "public-key",
               "response": {"clientDataJSON": b64url(&client_data), "authenticatorData": b64url(&auth),
                            "signature": b64url(&sig), "userHandle": b64url(&self.user_handle)}})
        .to_string()
    }

    /// A synced passkey (backup eligible and backed up), as phones' passkeys are.
    pub(crate) fn synced(mut self) -> Authenticator {
        self.flags |= BE | BS;
        self
    }
}

/// An ECDSA r || s signature in the DER form authenticators send (WebAuthn §6.5.6).
fn der(rs: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        if v.first().is_none_or(|x| x & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, u8::try_from(v.len()).unwrap()];
        out.extend(v);
        out
    };
    let body = [int(&rs[..32]), int(&rs[32..])].concat();
    [vec![0x30, u8::try_from(body.len()).unwrap()], body].concat()
}

/// The WebAuthn options of a page's passkey form (`data-webauthn="get"` or `"create"`).
pub(crate) fn options(page: &Response, mode: &str) -> Value {
    let body = page.body_str();
    let form = body.find(&format!("data-webauthn=\"{mode}\"")).unwrap_or_else(|| panic!("no {mode} form in {body}"));
    let marker = "data-options=\"";
    let start = body[form..].find(marker).unwrap() + form + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    let json = body[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}
