//! Failure counting for logins and client authentication (OWASP Authentication Cheat
//! Sheet: account lockout; RFC 9700 §4.x credential brute force). Counted in Durable
//! Objects — one object per key — so every isolate sees the same count at once.
//!
//! Policy: after failure `n` (n ≥ `delay_from`) the next attempt waits
//! `min(2^(n - delay_from), 30)` seconds (a growing delay); at `lock_at` failures, if set, the
//! key is locked for `lock_seconds`. Accounts are delayed from the 2nd failure and locked at
//! the 5th; client IPs only slowed down (never locked: an address may be shared by thousands,
//! OWASP); clients at a token endpoint locked. A refused attempt is not checked and not
//! counted. Success resets. Failures older than `lock_seconds` are forgotten.
//!
//! Logins use [`Command::Attempt`], which counts the attempt as pending *before* the
//! password is checked, atomically with the limit check: concurrent guesses cannot all
//! pass a check before the first failure is recorded. The attempt is then settled with
//! `Fail`, `Succeed` or `Release`; a pending attempt never settled (a crashed request)
//! stops counting after [`PENDING_TIMEOUT_MS`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Failures from which each attempt waits a growing delay (`u32::MAX`: never).
    pub delay_from: u32,
    /// Failures at which the key is locked (`None`: only slowed down).
    pub lock_at: Option<u32>,
    /// How long a lock lasts, and how long failures are remembered.
    pub lock_seconds: i64,
}

impl Policy {
    /// As many attempts may be in flight at once as failures remain before the lock, or,
    /// without a lock, before the delays begin (one at a time once they have).
    fn in_flight_cap(&self, failures: u32) -> u32 {
        self.lock_at.unwrap_or(self.delay_from.max(failures.saturating_add(1)))
    }
}

pub const MAX_DELAY_SECONDS: i64 = 30;
pub const PENDING_TIMEOUT_MS: i64 = 30_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub failures: u32,
    /// Milliseconds since the epoch (whole seconds would shorten a 1 s delay to almost nothing).
    pub last_failure_at: i64,
    /// No attempt is allowed before this time (milliseconds since the epoch).
    pub blocked_until: i64,
    /// The failure limit was reached: `blocked_until` is a lock, not a delay.
    pub locked: bool,
    /// Attempts allowed but not yet settled, and when the oldest of them began (ms).
    #[serde(default)]
    pub pending: u32,
    #[serde(default)]
    pub pending_since: i64,
}

impl Counter {
    fn is_empty(&self) -> bool {
        self.failures == 0 && self.pending == 0
    }

    fn settle_one(&mut self) {
        self.pending = self.pending.saturating_sub(1);
    }

    /// Failures older than the lock length no longer count (pending attempts still do).
    fn forget_old(&mut self, policy: &Policy, now: i64) {
        if self.failures > 0 && now - self.last_failure_at >= policy.lock_seconds.saturating_mul(1000) {
            *self = Counter { pending: self.pending, pending_since: self.pending_since, ..Counter::default() };
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Is an attempt allowed now? (Counts nothing.)
    Check,
    /// Allow and count a pending attempt, or refuse (atomic check-and-count).
    Attempt { policy: Policy },
    /// The attempt failed (settles a pending attempt, if any).
    Fail { policy: Policy },
    /// The attempt succeeded: forget the failures (settles a pending attempt).
    Succeed,
    /// Settle a pending attempt without a verdict (another counter refused it).
    Release,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    /// Allowed, but failures are on record: a success should reset them.
    AllowedAfterFailures,
    /// Refused for `retry_after` more seconds (rounded up); `locked` when the failure limit was hit.
    Blocked {
        retry_after: i64,
        locked: bool,
    },
    /// Refused for a second: as many attempts are in flight as failures remain before the
    /// lock, whether or not any failed yet (not a verdict on failures).
    Busy,
}

impl Verdict {
    pub fn is_allowed(self) -> bool {
        matches!(self, Verdict::Allowed | Verdict::AllowedAfterFailures)
    }

    /// Why a refused attempt was refused (the audit events' reason).
    pub fn reason(self) -> &'static str {
        match self {
            Verdict::Blocked { locked: true, .. } => "locked",
            Verdict::Blocked { .. } => "slowed_down",
            _ => "in_progress",
        }
    }
}

fn verdict(c: &Counter, now_ms: i64) -> Verdict {
    if now_ms < c.blocked_until {
        let retry_after = (c.blocked_until - now_ms + 999) / 1000;
        Verdict::Blocked { retry_after, locked: c.locked }
    } else if c.failures > 0 {
        Verdict::AllowedAfterFailures
    } else {
        Verdict::Allowed
    }
}

/// Returns `(write, verdict)`: `write` is `None` when nothing changed, `Some(None)` to delete.
/// `now_ms` is milliseconds since the epoch.
pub fn apply(state: Option<Counter>, cmd: Command, now_ms: i64) -> (Option<Option<Counter>>, Verdict) {
    let now = now_ms;
    match cmd {
        Command::Check => (None, state.map_or(Verdict::Allowed, |c| verdict(&c, now))),
        Command::Attempt { policy } => {
            let mut c = state.unwrap_or_default();
            if c.pending > 0 && now - c.pending_since >= PENDING_TIMEOUT_MS {
                c.pending = 0;
            }
            c.forget_old(&policy, now);
            let v = verdict(&c, now);
            if !v.is_allowed() {
                return (None, v);
            }
            if c.failures.saturating_add(c.pending) >= policy.in_flight_cap(c.failures) {
                // As many attempts are in flight as failures remain before the lock.
                return (None, Verdict::Busy);
            }
            if c.pending == 0 {
                c.pending_since = now;
            }
            c.pending += 1;
            (Some(Some(c)), v)
        }
        Command::Succeed | Command::Release => match state {
            None => (None, Verdict::Allowed),
            Some(mut c) => {
                c.settle_one();
                if matches!(cmd, Command::Succeed) {
                    c.failures = 0;
                    c.blocked_until = 0;
                    c.locked = false;
                }
                let v = verdict(&c, now);
                (Some(if c.is_empty() { None } else { Some(c) }), v)
            }
        },
        Command::Fail { policy } => {
            let mut c = state.unwrap_or_default();
            c.settle_one();
            let lock_ms = policy.lock_seconds.saturating_mul(1000);
            c.forget_old(&policy, now);
            c.failures = c.failures.saturating_add(1);
            c.last_failure_at = now;
            if policy.lock_at.is_some_and(|n| c.failures >= n) {
                c.blocked_until = now + lock_ms;
                c.locked = true;
            } else if c.failures >= policy.delay_from {
                let exp = (c.failures - policy.delay_from).min(16);
                c.blocked_until = now + (1i64 << exp).min(MAX_DELAY_SECONDS) * 1000;
            }
            let v = verdict(&c, now);
            (Some(Some(c)), v)
        }
    }
}

/// Object names. Logins are keyed by a hash of the login name (as typed, trimmed,
/// lower-cased), so unknown and known accounts are counted alike and no name is stored.
pub fn account_key(login: &str) -> String {
    format!("login:{}", crate::crypto::b64url(&crate::crypto::sha256(login.trim().to_lowercase().as_bytes())))
}

/// IPv4 addresses count one by one; IPv6 addresses by their /64 (one subscriber's prefix).
pub fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            format!("ip:{}", v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default())
        }
        Ok(std::net::IpAddr::V4(v4)) => format!("ip:{v4}"),
        Err(_) => "ip:unknown".to_string(),
    }
}

/// A browser known to an account (a device cookie, `protocol::device`): its own counter.
pub fn device_key(id: &str) -> String {
    format!("device:{}", crate::crypto::b64url(&crate::crypto::sha256(id.as_bytes())))
}

/// Failed authentications with client ids that do not exist, from one address.
pub fn unknown_clients_key(ip: &str) -> String {
    format!("client-unknown:{}", ip_key(ip))
}

pub fn client_key(client_id: &str, ip: &str) -> String {
    format!("client:{}", crate::crypto::b64url(&crate::crypto::sha256(format!("{client_id}\0{ip}").as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = Policy { delay_from: 2, lock_at: Some(5), lock_seconds: 900 };

    fn run(state: &mut Option<Counter>, cmd: Command, now: i64) -> Verdict {
        let (w, v) = apply(state.clone(), cmd, now * 1000);
        if let Some(new) = w {
            *state = new;
        }
        v
    }

    #[test]
    fn growing_delays_then_lock() {
        let mut s = None;
        assert_eq!(run(&mut s, Command::Check, 0), Verdict::Allowed);
        assert_eq!(run(&mut s, Command::Fail { policy: P }, 0), Verdict::AllowedAfterFailures);
        assert_eq!(run(&mut s, Command::Fail { policy: P }, 0), Verdict::Blocked { retry_after: 1, locked: false });
        assert!(!run(&mut s, Command::Check, 0).is_allowed());
        assert!(run(&mut s, Command::Check, 1).is_allowed());
        assert_eq!(run(&mut s, Command::Fail { policy: P }, 1), Verdict::Blocked { retry_after: 2, locked: false });
        assert_eq!(run(&mut s, Command::Fail { policy: P }, 3), Verdict::Blocked { retry_after: 4, locked: false });
        assert_eq!(run(&mut s, Command::Fail { policy: P }, 7), Verdict::Blocked { retry_after: 900, locked: true });
        assert_eq!(run(&mut s, Command::Check, 100), Verdict::Blocked { retry_after: 807, locked: true });
        assert!(run(&mut s, Command::Check, 907).is_allowed());
        // After the window the count starts again.
        assert_eq!(run(&mut s, Command::Fail { policy: P }, 2000), Verdict::AllowedAfterFailures);
        assert_eq!(run(&mut s, Command::Succeed, 2001), Verdict::Allowed);
        assert_eq!(s, None);
    }

    #[test]
    fn no_delays_only_lock() {
        let p = Policy { delay_from: u32::MAX, lock_at: Some(3), lock_seconds: 60 };
        let mut s = None;
        assert!(run(&mut s, Command::Fail { policy: p }, 0).is_allowed());
        assert!(run(&mut s, Command::Fail { policy: p }, 0).is_allowed());
        assert_eq!(run(&mut s, Command::Fail { policy: p }, 0), Verdict::Blocked { retry_after: 60, locked: true });
    }

    #[test]
    fn delays_are_not_shortened_by_rounding() {
        let p = P;
        let s = apply(None, Command::Fail { policy: p }, 999).0.flatten();
        let (w, v) = apply(s, Command::Fail { policy: p }, 1_999);
        assert_eq!(v, Verdict::Blocked { retry_after: 1, locked: false });
        let s = w.flatten();
        assert!(!apply(s.clone(), Command::Check, 2_998).1.is_allowed(), "still inside the full second");
        assert!(apply(s, Command::Check, 2_999).1.is_allowed());
    }

    #[test]
    fn concurrent_attempts_cannot_pass_the_limit() {
        let mut s = None;
        let allowed = (0..50).filter(|_| run(&mut s, Command::Attempt { policy: P }, 0).is_allowed()).count();
        assert_eq!(allowed, 5, "only as many in flight as failures remain");
        // Refused as busy, not as failed: none has failed yet.
        assert_eq!(run(&mut s, Command::Attempt { policy: P }, 0), Verdict::Busy);
        for _ in 0..5 {
            run(&mut s, Command::Fail { policy: P }, 0);
        }
        assert_eq!(run(&mut s, Command::Attempt { policy: P }, 1), Verdict::Blocked { retry_after: 899, locked: true });
        // A success settles and resets; a release only settles.
        let mut s = None;
        run(&mut s, Command::Attempt { policy: P }, 0);
        run(&mut s, Command::Fail { policy: P }, 0);
        run(&mut s, Command::Attempt { policy: P }, 0);
        run(&mut s, Command::Succeed, 0);
        assert_eq!(s, None);
        run(&mut s, Command::Attempt { policy: P }, 0);
        run(&mut s, Command::Release, 0);
        assert_eq!(s, None);
        // Attempts never settled stop counting.
        for _ in 0..5 {
            run(&mut s, Command::Attempt { policy: P }, 0);
        }
        assert!(!run(&mut s, Command::Attempt { policy: P }, 1).is_allowed());
        assert!(run(&mut s, Command::Attempt { policy: P }, 31).is_allowed());
    }

    /// A client IP is slowed down, never locked: past `delay_from` failures each attempt waits
    /// a growing delay (at most 30 s), one attempt at a time; a success resets it.
    #[test]
    fn an_address_is_slowed_down_not_locked() {
        let ip = Policy { delay_from: 3, lock_at: None, lock_seconds: 900 };
        let mut s = None;
        for _ in 0..2 {
            assert!(run(&mut s, Command::Fail { policy: ip }, 0).is_allowed());
        }
        assert_eq!(run(&mut s, Command::Fail { policy: ip }, 0), Verdict::Blocked { retry_after: 1, locked: false });
        let mut t = 1;
        for n in 1..12 {
            let v = run(&mut s, Command::Attempt { policy: ip }, t);
            assert!(v.is_allowed(), "after the delay an attempt is let through ({n})");
            assert_eq!(run(&mut s, Command::Attempt { policy: ip }, t), Verdict::Busy, "one at a time");
            let v = run(&mut s, Command::Fail { policy: ip }, t);
            let wait = (1i64 << n).min(MAX_DELAY_SECONDS);
            assert_eq!(v, Verdict::Blocked { retry_after: wait, locked: false }, "never a lock ({n})");
            t += wait;
        }
        run(&mut s, Command::Attempt { policy: ip }, t);
        run(&mut s, Command::Succeed, t);
        assert_eq!(s, None);
    }

    #[test]
    fn keys_hide_names() {
        assert_eq!(account_key(" Alice "), account_key("alice"));
        assert!(!account_key("alice").contains("alice"));
        assert_ne!(client_key("a", "1.2.3.4"), client_key("a", "1.2.3.5"));
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), ip_key("2001:db8:1:2:bbbb::9"));
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("::ffff:192.0.2.1"), ip_key("192.0.2.1"));
        assert_eq!(ip_key("not an ip"), "ip:unknown");
    }
}
