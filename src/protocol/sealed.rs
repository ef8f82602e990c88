//! State a page hands to the browser and gets back in a form: JSON, base64url, and an
//! HMAC-SHA256 tag under `SESSION_KEY` with a per-use context string, so a value sealed
//! for one form cannot be replayed into another. Integrity only: nothing secret goes in.

use crate::crypto::{b64url, b64url_decode, ct_eq, hmac_sha256};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    Invalid,
    Expired,
}

fn mac(context: &[u8], key: &[u8], payload: &str) -> [u8; 32] {
    let mut data = Vec::with_capacity(context.len() + payload.len());
    data.extend_from_slice(context);
    data.extend_from_slice(payload.as_bytes());
    hmac_sha256(key, &data)
}

pub fn seal<T: Serialize>(context: &[u8], key: &[u8], value: &T) -> String {
    let payload = b64url(serde_json::to_string(value).unwrap_or_default().as_bytes());
    let tag = mac(context, key, &payload);
    format!("{payload}.{}", b64url(&tag))
}

/// Opens a sealed value; `exp` reads its expiry (seconds since the epoch).
pub fn open<T: DeserializeOwned>(
    context: &[u8],
    key: &[u8],
    sealed: &str,
    now: i64,
    exp: impl Fn(&T) -> i64,
) -> Result<T, OpenError> {
    let (payload, tag) = sealed.split_once('.').ok_or(OpenError::Invalid)?;
    let tag = b64url_decode(tag).ok_or(OpenError::Invalid)?;
    if !ct_eq(&mac(context, key, payload), &tag) {
        return Err(OpenError::Invalid);
    }
    let json = b64url_decode(payload).ok_or(OpenError::Invalid)?;
    let v: T = serde_json::from_slice(&json).map_err(|_| OpenError::Invalid)?;
    if now >= exp(&v) {
        return Err(OpenError::Expired);
    }
    Ok(v)
}
