//! The account object's storage layout: the sessions under one key, the consents (without
//! their grants) under another, and each grant on record under a key of its own — so that
//! recording a grant writes a few hundred bytes, not every grant of the consent and every
//! session again (an active user's account is several KB).

use super::{Account, Changes, Consent, Factors, GrantRef, Session};
use serde::{Deserialize, Serialize};

/// The key of the sessions (a JSON list).
pub const SESSIONS_KEY: &str = "sessions";
/// The key of the consents, without their grants (a JSON list).
pub const CONSENTS_KEY: &str = "consents";
/// The key of the passkeys and one-time code settings ([`super::Factors`]).
pub const FACTORS_KEY: &str = "factors";
/// The prefix of a grant's key: `grant:<id>` → [`StoredGrant`].
pub const GRANT_PREFIX: &str = "grant:";

/// A consent as stored: its grants are stored one by one.
#[derive(Serialize)]
struct StoredConsent<'a> {
    client_id: &'a str,
    items: &'a [String],
    granted_at: i64,
    home: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    withdrawing: bool,
}

/// A grant on record, as stored under `grant:<id>`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredGrant {
    pub client_id: String,
    pub expires_at: i64,
    pub added_at: i64,
}

/// The storage writes that make stored what `changes` says changed: values to put (JSON
/// text) and keys to delete.
pub fn entries(acct: &Account, ch: &Changes) -> (Vec<(String, String)>, Vec<String>) {
    let mut put = vec![];
    if ch.sessions {
        put.push((SESSIONS_KEY.to_string(), serde_json::to_string(&acct.sessions).unwrap_or_default()));
    }
    if ch.consents {
        let consents: Vec<StoredConsent> = acct
            .consents
            .iter()
            .map(|c| StoredConsent {
                client_id: &c.client_id,
                items: &c.items,
                granted_at: c.granted_at,
                home: &c.home,
                withdrawing: c.withdrawing,
            })
            .collect();
        put.push((CONSENTS_KEY.to_string(), serde_json::to_string(&consents).unwrap_or_default()));
    }
    if ch.factors {
        put.push((FACTORS_KEY.to_string(), serde_json::to_string(&acct.factors).unwrap_or_default()));
    }
    for id in &ch.grants_added {
        let found = acct.consents.iter().find_map(|c| c.grants.iter().find(|g| g.id == *id).map(|g| (c, g)));
        if let Some((c, g)) = found {
            let stored = StoredGrant { client_id: c.client_id.clone(), expires_at: g.expires_at, added_at: g.added_at };
            put.push((format!("{GRANT_PREFIX}{id}"), serde_json::to_string(&stored).unwrap_or_default()));
        }
    }
    let delete = ch.grants_removed.iter().map(|id| format!("{GRANT_PREFIX}{id}")).collect();
    (put, delete)
}

/// The account from its stored parts (any may be missing: a new user). A grant whose consent
/// is gone is left out.
pub fn from_entries(
    sessions: Option<Vec<Session>>,
    consents: Option<Vec<Consent>>,
    factors: Option<Factors>,
    grants: impl IntoIterator<Item = (String, StoredGrant)>,
) -> Account {
    let mut acct = Account {
        sessions: sessions.unwrap_or_default(),
        consents: consents.unwrap_or_default(),
        factors: factors.unwrap_or_default(),
    };
    for (key, g) in grants {
        let Some(id) = key.strip_prefix(GRANT_PREFIX) else { continue };
        if let Some(c) = acct.consents.iter_mut().find(|c| c.client_id == g.client_id) {
            insert_in_order(
                &mut c.grants,
                GrantRef { id: id.to_string(), expires_at: g.expires_at, added_at: g.added_at },
            );
        }
    }
    acct
}

/// Inserts `grant` where a consent's grants keep it: by `added_at`, then id, oldest first (at
/// most 256: inserting is cheap, and leaves the sort routines out of the wasm).
pub(crate) fn insert_in_order(grants: &mut Vec<GrantRef>, grant: GrantRef) {
    let at = grants.partition_point(|g| (g.added_at, &g.id) <= (grant.added_at, &grant.id));
    grants.insert(at, grant);
}

/// Changes that say every part of `acct` is new (to store an account whole).
pub fn everything(acct: &Account) -> Changes {
    let grants_added = acct.consents.iter().flat_map(|c| c.grants.iter().map(|g| g.id.clone())).collect();
    Changes { sessions: true, consents: true, factors: true, grants_added, grants_removed: vec![] }
}

/// Storage as a map of key → JSON text: the in-memory store's, and the tests'.
pub mod map {
    use super::*;
    use std::collections::BTreeMap;

    /// Makes `map` hold what `changes` says changed in `acct`.
    pub fn write(map: &mut BTreeMap<String, String>, acct: &Account, changes: &Changes) {
        let (put, delete) = entries(acct, changes);
        for key in delete {
            map.remove(&key);
        }
        map.extend(put);
    }

    /// The account `map` holds (as the object reads it when it has none in memory).
    pub fn read(map: &BTreeMap<String, String>) -> Account {
        fn parse<T: serde::de::DeserializeOwned>(map: &BTreeMap<String, String>, key: &str) -> Option<T> {
            map.get(key).and_then(|t| serde_json::from_str(t).ok())
        }
        let grants = map
            .range(GRANT_PREFIX.to_string()..)
            .take_while(|(k, _)| k.starts_with(GRANT_PREFIX))
            .filter_map(|(k, v)| Some((k.clone(), serde_json::from_str(v).ok()?)));
        from_entries(parse(map, SESSIONS_KEY), parse(map, CONSENTS_KEY), parse(map, FACTORS_KEY), grants)
    }
}
