//! Signing (RS256, ES256, EdDSA), verification and PBKDF2 through the runtime's WebCrypto
//! (`crypto.subtle`), called from Rust. Measured (bench/RESULTS.md): an RS256 signature
//! costs ~0.7 ms this way against ~10 ms in pure-Rust wasm, and the private keys never leave
//! the runtime: each is imported once per isolate as non-extractable.

use crate::crypto::{Alg, Crypto, KeyInfo, PublicJwk, PublicKey};
use crate::keys::{KeyMaterial, PrivateJwk, PrivateJwkSet};
use js_sys::{Array, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto, WorkerGlobalScope};

/// The isolate's keys. Each is imported into WebCrypto on first use and kept for the life
/// of the isolate: private keys (non-extractable, usage `sign`) for the signers, public keys
/// (usage `verify`) for any published key.
pub struct WebCrypto {
    /// The key set; a signing key's private members are dropped once it is imported.
    set: RefCell<PrivateJwkSet>,
    infos: Vec<KeyInfo>,
    signing: RefCell<Vec<(Alg, CryptoKey)>>,
    verifying: RefCell<Vec<(String, CryptoKey)>>,
    /// Other parties' keys (clients' `private_key_jwt` keys), the last few imported.
    foreign: RefCell<Vec<(PublicJwk, CryptoKey)>>,
}

/// How many other parties' keys an isolate keeps imported.
const FOREIGN_KEYS: usize = 16;

fn js_err(context: &str, e: JsValue) -> String {
    let msg = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into());
    format!("{context}: {msg}")
}

fn subtle() -> Result<SubtleCrypto, String> {
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    Ok(global.crypto().map_err(|e| js_err("crypto", e))?.subtle())
}

fn object(pairs: &[(&str, JsValue)]) -> Result<Object, String> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).map_err(|e| js_err("building algorithm", e))?;
    }
    Ok(o)
}

/// WebCrypto's names: the import algorithm and the sign/verify algorithm. ECDSA's signature
/// is already r || s, the JWS form (RFC 7518 §3.4); Ed25519 is WebCrypto's Secure Curves name.
fn algorithms(alg: Alg) -> Result<(Object, Object), String> {
    Ok(match alg {
        Alg::RS256 => (
            object(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", "SHA-256".into())])?,
            object(&[("name", "RSASSA-PKCS1-v1_5".into())])?,
        ),
        Alg::ES256 => (
            object(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())])?,
            object(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())])?,
        ),
        Alg::EdDSA => (object(&[("name", "Ed25519".into())])?, object(&[("name", "Ed25519".into())])?),
    })
}

/// The JWK to import: the public members, plus the private ones when `private`.
fn jwk_object(k: &PrivateJwk, private: bool) -> Result<Object, String> {
    let s = |v: &String| JsValue::from_str(v);
    let mut pairs: Vec<(&str, JsValue)> = vec![("kty", k.key.kty().into())];
    match &k.key {
        KeyMaterial::Rsa { n, e, d, p, q, dp, dq, qi } => {
            pairs.extend([("alg", "RS256".into()), ("n", s(n)), ("e", s(e))]);
            if private {
                pairs.extend([("d", s(d)), ("p", s(p)), ("q", s(q)), ("dp", s(dp)), ("dq", s(dq)), ("qi", s(qi))]);
            }
        }
        KeyMaterial::Ec { crv, x, y, d } => {
            pairs.extend([("crv", s(crv)), ("x", s(x)), ("y", s(y))]);
            if private {
                pairs.push(("d", s(d)));
            }
        }
        KeyMaterial::Okp { crv, x, d } => {
            pairs.extend([("crv", s(crv)), ("x", s(x))]);
            if private {
                pairs.push(("d", s(d)));
            }
        }
    }
    object(&pairs)
}

async fn import(k: &PrivateJwk, private: bool) -> Result<CryptoKey, String> {
    let context = format!("importing key '{}'", k.kid);
    let (alg, _) = algorithms(k.alg())?;
    let usages = Array::of1(&(if private { "sign" } else { "verify" }).into());
    let promise = subtle()?
        .import_key_with_object("jwk", &jwk_object(k, private)?, &alg, false, &usages)
        .map_err(|e| js_err(&context, e))?;
    Ok(JsFuture::from(promise).await.map_err(|e| js_err(&context, e))?.unchecked_into())
}

impl WebCrypto {
    pub fn new(set: PrivateJwkSet) -> Self {
        WebCrypto {
            infos: set.infos(),
            set: RefCell::new(set),
            signing: RefCell::new(vec![]),
            verifying: RefCell::new(vec![]),
            foreign: RefCell::new(vec![]),
        }
    }

    async fn signing_key(&self, alg: Alg) -> Result<CryptoKey, String> {
        if let Some((_, k)) = self.signing.borrow().iter().find(|(a, _)| *a == alg) {
            return Ok(k.clone());
        }
        let mut jwk = self.set.borrow().signer(alg).cloned().ok_or(format!("no {alg} signing key"))?;
        let imported = import(&jwk, true).await;
        jwk.wipe_private();
        let key = imported?;
        self.signing.borrow_mut().push((alg, key.clone()));
        // The runtime holds it now, non-extractable: the worker keeps no copy of the private key.
        self.set.borrow_mut().forget_private(&jwk.kid);
        Ok(key)
    }

    async fn verifying_key(&self, jwk: &PrivateJwk) -> Result<CryptoKey, String> {
        if let Some((_, k)) = self.verifying.borrow().iter().find(|(kid, _)| *kid == jwk.kid) {
            return Ok(k.clone());
        }
        let key = import(jwk, false).await?;
        self.verifying.borrow_mut().push((jwk.kid.clone(), key.clone()));
        Ok(key)
    }
}

impl Crypto for WebCrypto {
    fn keys(&self) -> &[KeyInfo] {
        &self.infos
    }

    async fn sign(&self, alg: Alg, data: &[u8]) -> Result<Vec<u8>, String> {
        let key = self.signing_key(alg).await?;
        let (_, params) = algorithms(alg)?;
        let promise = subtle()?.sign_with_object_and_u8_array(&params, &key, data).map_err(|e| js_err("sign", e))?;
        let buf = JsFuture::from(promise).await.map_err(|e| js_err("sign", e))?;
        Ok(Uint8Array::new(&buf).to_vec())
    }

    async fn verify(&self, kid: &str, data: &[u8], sig: &[u8]) -> Result<bool, String> {
        let Some(jwk) = self.set.borrow().get(kid).cloned() else { return Ok(false) };
        let key = self.verifying_key(&jwk).await?;
        let (_, params) = algorithms(jwk.alg())?;
        let promise = subtle()?
            .verify_with_object_and_u8_array_and_u8_array(&params, &key, sig, data)
            .map_err(|e| js_err("verify", e))?;
        let ok = JsFuture::from(promise).await.map_err(|e| js_err("verify", e))?;
        Ok(ok.as_bool().unwrap_or(false))
    }

    async fn verify_with(&self, jwk: &PublicJwk, data: &[u8], sig: &[u8]) -> Result<bool, String> {
        let cached = self.foreign.borrow().iter().find(|(k, _)| k == jwk).map(|(_, c)| c.clone());
        let key = match cached {
            Some(k) => k,
            None => {
                let s = |v: &String| JsValue::from_str(v);
                let pairs: Vec<(&str, JsValue)> = match &jwk.key {
                    PublicKey::Rsa { n, e } => {
                        vec![("kty", "RSA".into()), ("alg", "RS256".into()), ("n", s(n)), ("e", s(e))]
                    }
                    PublicKey::Ec { x, y } => {
                        vec![("kty", "EC".into()), ("crv", "P-256".into()), ("x", s(x)), ("y", s(y))]
                    }
                    PublicKey::Ed25519 { x } => vec![("kty", "OKP".into()), ("crv", "Ed25519".into()), ("x", s(x))],
                };
                let (alg, _) = algorithms(jwk.alg)?;
                let usages = Array::of1(&"verify".into());
                let promise = subtle()?
                    .import_key_with_object("jwk", &object(&pairs)?, &alg, false, &usages)
                    .map_err(|e| js_err("importing a client key", e))?;
                let key: CryptoKey =
                    JsFuture::from(promise).await.map_err(|e| js_err("importing a client key", e))?.unchecked_into();
                let mut foreign = self.foreign.borrow_mut();
                if foreign.len() >= FOREIGN_KEYS {
                    foreign.remove(0);
                }
                foreign.push((jwk.clone(), key.clone()));
                key
            }
        };
        let (_, params) = algorithms(jwk.alg)?;
        let promise = subtle()?
            .verify_with_object_and_u8_array_and_u8_array(&params, &key, sig, data)
            .map_err(|e| js_err("verify", e))?;
        let ok = JsFuture::from(promise).await.map_err(|e| js_err("verify", e))?;
        Ok(ok.as_bool().unwrap_or(false))
    }

    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
        len: usize,
    ) -> Result<Vec<u8>, String> {
        let subtle = subtle()?;
        let raw = Uint8Array::from(password);
        let usages = Array::of1(&"deriveBits".into());
        let alg = object(&[("name", "PBKDF2".into())])?;
        let promise =
            subtle.import_key_with_object("raw", &raw, &alg, false, &usages).map_err(|e| js_err("pbkdf2 import", e))?;
        let key: CryptoKey = JsFuture::from(promise).await.map_err(|e| js_err("pbkdf2 import", e))?.unchecked_into();
        let params = object(&[
            ("name", "PBKDF2".into()),
            ("hash", "SHA-256".into()),
            ("salt", Uint8Array::from(salt).into()),
            ("iterations", JsValue::from(iterations)),
        ])?;
        let promise =
            subtle.derive_bits_with_object(&params, &key, (len * 8) as u32).map_err(|e| js_err("pbkdf2", e))?;
        let buf = JsFuture::from(promise).await.map_err(|e| js_err("pbkdf2", e))?;
        Ok(Uint8Array::new(&buf).to_vec())
    }
}
