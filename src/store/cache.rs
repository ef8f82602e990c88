//! A small per-isolate cache with a time-to-live, for the records every request reads and that
//! operators rarely change (client records, custom scopes). Workers KV itself serves reads from
//! an edge cache for 60 s (`cacheTtl`), so caching them as long in the isolate adds no new kind
//! of staleness, and saves a KV read (a promise round trip and a JSON parse) per request.
//! Only records that exist are cached: a newly added client is found at once.

use std::collections::HashMap;

/// How long a record is reused: KV's own default edge-cache time.
pub const TTL_MS: i64 = 60_000;
/// At most this many records; when full the cache starts over (hostile ids cannot grow it).
pub const MAX_ENTRIES: usize = 256;

pub struct TtlCache<V> {
    entries: HashMap<String, (i64, V)>,
}

impl<V: Clone> Default for TtlCache<V> {
    fn default() -> Self {
        TtlCache { entries: HashMap::new() }
    }
}

impl<V: Clone> TtlCache<V> {
    pub fn get(&self, key: &str, now_ms: i64) -> Option<V> {
        self.entries.get(key).filter(|(exp, _)| now_ms < *exp).map(|(_, v)| v.clone())
    }

    pub fn put(&mut self, key: &str, value: V, now_ms: i64) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(key) {
            self.entries.clear();
        }
        self.entries.insert(key.to_string(), (now_ms + TTL_MS, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_stays_bounded() {
        let mut c = TtlCache::default();
        c.put("a", 1, 0);
        assert_eq!(c.get("a", TTL_MS - 1), Some(1));
        assert_eq!(c.get("a", TTL_MS), None);
        assert_eq!(c.get("b", 0), None);
        for i in 0..(MAX_ENTRIES * 2) {
            c.put(&i.to_string(), i, 0);
            assert!(c.entries.len() <= MAX_ENTRIES);
        }
    }
}
