//! Failure counting for logins and client authentication (OWASP Authentication Cheat
//! Sheet: account lockout; RFC 9700 §4.x credential brute force). Counted in Durable
//! Objects — one object per key — so every isolate sees the same count at once.
//!
//! Policy: after failure `n` (n ≥ 2) the next attempt waits `min(2^(n-2), 30)` seconds
//! (growing delay, when `delays` is on); at `max_failures` the key is locked for
//! `lock_seconds`. A refused attempt is not checked and not counted. Success resets.
//! Failures older than `lock_seconds` are forgotten.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub max_failures: u32,
    pub lock_seconds: i64,
    pub delays: bool,
}

pub const MAX_DELAY_SECONDS: i64 = 30;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub failures: u32,
    /// Milliseconds since the epoch (whole seconds would shorten a 1 s delay to almost nothing).
    pub last_failure_at: i64,
    /// No attempt is allowed before this time (milliseconds since the epoch).
    pub blocked_until: i64,
    /// The failure limit was reached: `blocked_until` is a lock, not a delay.
    pub locked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Check,
    Fail { policy: Policy },
    Succeed,
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
}

impl Verdict {
    pub fn is_allowed(self) -> bool {
        matches!(self, Verdict::Allowed | Verdict::AllowedAfterFailures)
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
        Command::Succeed => (state.map(|_| None), Verdict::Allowed),
        Command::Fail { policy } => {
            let mut c = state.unwrap_or_default();
            let lock_ms = policy.lock_seconds.saturating_mul(1000);
            if now - c.last_failure_at >= lock_ms {
                c = Counter::default();
            }
            c.failures = c.failures.saturating_add(1);
            c.last_failure_at = now;
            if c.failures >= policy.max_failures {
                c.blocked_until = now + lock_ms;
                c.locked = true;
            } else if policy.delays && c.failures >= 2 {
                let exp = (c.failures - 2).min(16);
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

pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

pub fn client_key(client_id: &str, ip: &str) -> String {
    format!("client:{}", crate::crypto::b64url(&crate::crypto::sha256(format!("{client_id}\0{ip}").as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = Policy { max_failures: 5, lock_seconds: 900, delays: true };

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
        let p = Policy { max_failures: 3, lock_seconds: 60, delays: false };
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
    fn keys_hide_names() {
        assert_eq!(account_key(" Alice "), account_key("alice"));
        assert!(!account_key("alice").contains("alice"));
        assert_ne!(client_key("a", "1.2.3.4"), client_key("a", "1.2.3.5"));
    }
}
