//! Caches. [`TtlCache`]: a small per-isolate cache with a time-to-live, for the records every
//! request reads and that operators rarely change (client records, custom scopes, user records
//! read by username). [`Recent`]: the values a Durable Object instance last wrote.
//! [`CachedFetch`]: documents fetched from other servers, as their `Cache-Control` allows.
//! Workers KV itself serves reads from an edge cache for 60 s (`cacheTtl`), so caching them as
//! long in the isolate adds no new kind of staleness, and saves a KV read (a promise round trip
//! and a JSON parse) per request. That a client or scope does not exist is cached for 30 s
//! ([`NEGATIVE_TTL_MS`]): made-up names cannot make every request read KV. The client-authentication throttle also keeps its "no failures" verdicts here
//! (platform/throttles.rs).

use crate::error::StoreError;
use crate::http::{Fetch, Fetched};
use crate::objects::throttle::{Command, Verdict};
use crate::store::ThrottleStore;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// How long a record is reused: KV's own default edge-cache time.
pub const TTL_MS: i64 = 60_000;
/// How long "no such record" is reused (a made-up client id or scope name costs one KV read
/// per isolate per this time; a record added meanwhile is found this much later at most).
pub const NEGATIVE_TTL_MS: i64 = 30_000;
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

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn put(&mut self, key: &str, value: V, now_ms: i64) {
        self.put_for(key, value, now_ms, TTL_MS);
    }

    pub fn put_for(&mut self, key: &str, value: V, now_ms: i64, ttl_ms: i64) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(key) {
            self.entries.clear();
        }
        self.entries.insert(key.to_string(), (now_ms + ttl_ms, value));
    }
}

/// A throttle store that remembers, per isolate and for [`TTL_MS`], the counters it last saw
/// clean: a `Check` that found no failures. Only a `Check` is answered from memory (client
/// authentication asks one per request); every other command goes to the store and forgets
/// the entry, so a failure seen here makes the next check ask the object again. A lock set by
/// failures in other isolates reaches a key this isolate saw clean within [`TTL_MS`]; client
/// keys include the IP, so that is an IP that just authenticated successfully. A guesser's own
/// failures always reach the object, and its lock holds everywhere at once.
pub struct CleanChecks<S> {
    pub inner: S,
    pub clean: Rc<RefCell<TtlCache<()>>>,
    pub now_ms: i64,
}

impl<S: ThrottleStore> ThrottleStore for CleanChecks<S> {
    async fn send(&self, key: &str, cmd: Command) -> Result<Verdict, StoreError> {
        let check = matches!(cmd, Command::Check);
        if check && self.clean.borrow().get(key, self.now_ms).is_some() {
            return Ok(Verdict::Allowed);
        }
        if !check {
            self.clean.borrow_mut().remove(key);
        }
        let verdict = self.inner.send(key, cmd).await?;
        if check && verdict == Verdict::Allowed {
            self.clean.borrow_mut().put(key, (), self.now_ms);
        }
        Ok(verdict)
    }
}

/// Fetches from other servers through an isolate's cache, as their `Cache-Control` allows
/// (RFC 9111 §5.2.2): a 200 is kept for its `max-age` (at most a day; five minutes when it says
/// nothing), never when it says `no-store`, `no-cache` or `private`. A client's metadata
/// document or JWK Set is then fetched once per isolate, not once per request.
pub struct CachedFetch<F> {
    pub inner: F,
    pub cache: Rc<RefCell<TtlCache<Fetched>>>,
    pub now_ms: i64,
}

/// How long a fetched document is kept without a `max-age`, and at most.
pub const FETCH_DEFAULT_TTL_S: i64 = 300;
pub const FETCH_MAX_TTL_S: i64 = 86_400;

/// Seconds a response may be reused, from its `Cache-Control`.
pub fn reuse_seconds(cache_control: Option<&str>) -> i64 {
    let Some(cc) = cache_control else { return FETCH_DEFAULT_TTL_S };
    let mut ttl = FETCH_DEFAULT_TTL_S;
    for d in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if matches!(d.as_str(), "no-store" | "no-cache" | "private") {
            return 0;
        }
        if let Some(v) = d.strip_prefix("max-age=") {
            ttl = v.trim_matches('"').parse::<i64>().unwrap_or(0);
        }
    }
    ttl.clamp(0, FETCH_MAX_TTL_S)
}

impl<F: Fetch> Fetch for CachedFetch<F> {
    async fn get(&self, url: &str, max_bytes: usize, timeout_ms: u32) -> Result<Fetched, String> {
        if let Some(hit) = self.cache.borrow().get(url, self.now_ms) {
            return Ok(hit);
        }
        let r = self.inner.get(url, max_bytes, timeout_ms).await?;
        let ttl = reuse_seconds(r.cache_control.as_deref());
        if r.status == 200 && ttl > 0 {
            self.cache.borrow_mut().put_for(url, r.clone(), self.now_ms, ttl * 1000);
        }
        Ok(r)
    }
}

/// The grants a Durable Object last wrote (and some it read), by key, at most `cap` of them.
/// An object is the only writer of its storage and runs one event at a time, so what it last
/// wrote under a key is what a read would return: the userinfo request that follows a token
/// request, or a refresh, is answered from memory, without a storage read and a parse
/// (measured: 0.08 ms of userinfo's object call, bench/RESULTS.md). A write always
/// becomes the newest entry, the oldest going when full; a value read from storage is kept only
/// while there is room, so that reads never push out what was just written (what was written
/// last is what is read next). Whatever deletes keys must [`Recent::clear`] it.
pub struct Recent<V> {
    entries: Vec<(String, V)>,
    cap: usize,
}

impl<V: Clone> Recent<V> {
    pub fn new(cap: usize) -> Recent<V> {
        Recent { entries: Vec::new(), cap }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// `value` was just written under `key`: it becomes the newest entry.
    pub fn written(&mut self, key: &str, value: V) {
        self.entries.retain(|(k, _)| k != key);
        if self.cap == 0 {
            return;
        }
        let excess = (self.entries.len() + 1).saturating_sub(self.cap);
        self.entries.drain(..excess);
        self.entries.push((key.to_string(), value));
    }

    /// `value` was read from storage under `key`: kept (a copy) if there is room.
    pub fn read(&mut self, key: &str, value: &V) {
        if self.entries.len() < self.cap && !self.entries.iter().any(|(k, _)| k == key) {
            self.entries.push((key.to_string(), value.clone()));
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_keeps_what_was_written_last_and_reads_while_there_is_room() {
        let mut r = Recent::new(2);
        r.written("a", 1);
        r.read("b", &2);
        assert_eq!((r.get("a"), r.get("b")), (Some(1), Some(2)));
        // Full: a read is not kept, a write pushes out the oldest.
        r.read("c", &3);
        assert_eq!(r.get("c"), None);
        r.written("a", 4);
        r.written("d", 5);
        assert_eq!((r.get("a"), r.get("b"), r.get("d")), (Some(4), None, Some(5)));
        // A read never replaces what is kept under its key.
        r.clear();
        r.written("a", 6);
        r.read("a", &7);
        assert_eq!(r.get("a"), Some(6));
        let mut none = Recent::new(0);
        none.written("a", 1);
        none.read("b", &2);
        assert_eq!((none.get("a"), none.get("b")), (None, None));
    }

    #[test]
    fn clean_checks_skip_the_object_until_a_failure() {
        use crate::objects::throttle::Policy;
        use crate::store::memory::MemoryThrottles;
        use futures_util::FutureExt;
        let store = MemoryThrottles::default();
        let clean = Rc::new(RefCell::new(TtlCache::default()));
        let at = |now_ms| CleanChecks { inner: &store, clean: clean.clone(), now_ms };
        let run = |c: &CleanChecks<&MemoryThrottles>, cmd| c.send("k", cmd).now_or_never().unwrap().unwrap();
        let policy = Policy { delay_from: u32::MAX, lock_at: Some(1), lock_seconds: 60 };
        assert_eq!(run(&at(0), Command::Check), Verdict::Allowed);
        // Another isolate locks the key: this one still sees it clean until the entry expires.
        store.send("k", Command::Fail { policy }).now_or_never().unwrap().unwrap();
        assert_eq!(run(&at(1_000), Command::Check), Verdict::Allowed);
        assert!(!run(&at(TTL_MS), Command::Check).is_allowed());
        // A failure through this store forgets the entry at once.
        let fresh = MemoryThrottles::default();
        let c = CleanChecks { inner: &fresh, clean: Rc::new(RefCell::new(TtlCache::default())), now_ms: 0 };
        assert_eq!(run(&c, Command::Check), Verdict::Allowed);
        assert!(!run(&c, Command::Fail { policy }).is_allowed());
        assert!(!run(&c, Command::Check).is_allowed(), "the failure counts in this isolate at once");
    }

    #[test]
    fn expires_and_stays_bounded() {
        let mut c = TtlCache::default();
        c.put("a", 1, 0);
        assert_eq!(c.get("a", TTL_MS - 1), Some(1));
        assert_eq!(c.get("a", TTL_MS), None);
        assert_eq!(c.get("b", 0), None);
        c.remove("a");
        assert_eq!(c.get("a", 0), None);
        for i in 0..(MAX_ENTRIES * 2) {
            c.put(&i.to_string(), i, 0);
            assert!(c.entries.len() <= MAX_ENTRIES);
        }
    }
}
