//! Security and audit events: one JSON line each through the Worker's console (Workers Logs,
//! `wrangler tail`, Logpush), in the schema of schemas/event.schema.json (docs/events.md).
//! An event names who and what, never a secret: no code, token, password, cookie or
//! assertion reaches this module (it takes ids and fixed reason codes only).

use crate::http::Request;
use serde::Serialize;

/// What happened. The names are the schema's `event` values; keep them stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Kind {
    #[serde(rename = "sign_in.succeeded")]
    SignInSucceeded,
    #[serde(rename = "sign_in.failed")]
    SignInFailed,
    /// Refused by the account's lock or the address's slow-down, before any check.
    #[serde(rename = "sign_in.locked")]
    SignInLocked,
    #[serde(rename = "second_factor.used")]
    SecondFactorUsed,
    #[serde(rename = "second_factor.failed")]
    SecondFactorFailed,
    #[serde(rename = "consent.granted")]
    ConsentGranted,
    /// The person chose Deny on the consent page.
    #[serde(rename = "consent.denied")]
    ConsentDenied,
    #[serde(rename = "consent.withdrawn")]
    ConsentWithdrawn,
    #[serde(rename = "code.issued")]
    CodeIssued,
    #[serde(rename = "code.redeemed")]
    CodeRedeemed,
    /// A code presented again: its grant's tokens are revoked (RFC 6749 §4.1.2).
    #[serde(rename = "code.reuse_detected")]
    CodeReuseDetected,
    #[serde(rename = "refresh.rotated")]
    RefreshRotated,
    /// A rotated-out refresh token presented again: the grant is revoked (RFC 9700 §4.14.2).
    #[serde(rename = "refresh.reuse_detected")]
    RefreshReuseDetected,
    #[serde(rename = "token.revoked")]
    TokenRevoked,
    #[serde(rename = "client_authentication.failed")]
    ClientAuthenticationFailed,
    #[serde(rename = "logout")]
    Logout,
    #[serde(rename = "configuration.error")]
    ConfigurationError,
}

impl Kind {
    /// Every kind, in the schema's order.
    pub const ALL: [Kind; 17] = [
        Kind::SignInSucceeded,
        Kind::SignInFailed,
        Kind::SignInLocked,
        Kind::SecondFactorUsed,
        Kind::SecondFactorFailed,
        Kind::ConsentGranted,
        Kind::ConsentDenied,
        Kind::ConsentWithdrawn,
        Kind::CodeIssued,
        Kind::CodeRedeemed,
        Kind::CodeReuseDetected,
        Kind::RefreshRotated,
        Kind::RefreshReuseDetected,
        Kind::TokenRevoked,
        Kind::ClientAuthenticationFailed,
        Kind::Logout,
        Kind::ConfigurationError,
    ];

    fn outcome(self) -> &'static str {
        match self {
            Kind::SignInFailed
            | Kind::SignInLocked
            | Kind::SecondFactorFailed
            | Kind::ConsentDenied
            | Kind::CodeReuseDetected
            | Kind::RefreshReuseDetected
            | Kind::ClientAuthenticationFailed
            | Kind::ConfigurationError => "failure",
            _ => "success",
        }
    }
}

/// One event, as the protocol code reports it; [`line`] adds when, from where and by what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub kind: Kind,
    pub client_id: Option<&'a str>,
    pub subject: Option<&'a str>,
    /// A fixed code saying why (schema enum), e.g. `wrong_password`, `locked`.
    pub reason: Option<&'static str>,
    /// The second factor used or refused: `otp` (a one-time or recovery code), `passkey`.
    pub method: Option<&'static str>,
    /// How a sign-in was made (RFC 8176 values, as in the ID token).
    pub amr: Option<&'a [String]>,
}

impl<'a> Event<'a> {
    pub fn new(kind: Kind) -> Self {
        Event { kind, client_id: None, subject: None, reason: None, method: None, amr: None }
    }
    pub fn client(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }
    pub fn subject(mut self, sub: &'a str) -> Self {
        self.subject = Some(sub);
        self
    }
    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }
    pub fn method(mut self, method: &'static str) -> Self {
        self.method = Some(method);
        self
    }
    pub fn amr(mut self, amr: &'a [String]) -> Self {
        self.amr = Some(amr);
        self
    }
    /// The subject, when there is one (an unknown login name has none).
    pub fn maybe_subject(mut self, sub: Option<&'a str>) -> Self {
        self.subject = sub;
        self
    }
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    event: Kind,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [String]>,
}

/// The event's JSON line: `now` as RFC 3339 UTC, the request id (`cf-ray`), the client IP
/// (truncated to its /24 or /48 unless `full_ip`) and the user agent's family.
pub fn line<'a>(e: &Event<'a>, req: &'a Request, now: i64, full_ip: bool) -> String {
    let ip = match req.client_ip() {
        "unknown" => None,
        ip if full_ip => ip.parse::<std::net::IpAddr>().ok().map(|a| a.to_string()),
        ip => truncate_ip(ip),
    };
    let bounded = |s: Option<&'a str>| s.filter(|v| v.len() <= 255);
    let l = Line {
        time: rfc3339(now),
        event: e.kind,
        outcome: e.kind.outcome(),
        request_id: req
            .header("cf-ray")
            .filter(|r| r.len() <= 64 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
        client_id: bounded(e.client_id),
        subject: bounded(e.subject),
        ip,
        user_agent: req.header("user-agent").map(user_agent_family),
        reason: e.reason,
        method: e.method,
        amr: e.amr,
    };
    serde_json::to_string(&l).unwrap_or_default()
}

/// The event as a Workers Analytics Engine data point (docs/events.md has the SQL): the
/// index (the sampling key) is the client, the blobs are `event`, `outcome`, `reason`,
/// `client_id`, `method` (blob1…blob5; empty when absent), and `double1` is 1 (a count).
/// No subject or address: counts, not a second audit log.
pub fn data_point(e: &Event<'_>) -> (String, [String; 5]) {
    let client = e.client_id.filter(|c| c.len() <= 96).unwrap_or_default().to_string();
    let name = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let blobs = [
        name,
        e.kind.outcome().to_string(),
        e.reason.unwrap_or_default().to_string(),
        client.clone(),
        e.method.unwrap_or_default().to_string(),
    ];
    (client, blobs)
}

/// An IPv4 address to its /24 (`203.0.113.0`), an IPv6 address to its /48 (`2001:db8:1::`);
/// anything else is no address (None).
pub fn truncate_ip(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) => {
            let [a, b, c, _] = a.octets();
            Some(format!("{a}.{b}.{c}.0"))
        }
        std::net::IpAddr::V6(a) => {
            let s = a.segments();
            Some(std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string())
        }
    }
}

/// The browser or client family of a `User-Agent` (the order matters: Edge and Opera also
/// say Chrome, Chrome also says Safari).
pub fn user_agent_family(ua: &str) -> &'static str {
    let has = |s: &str| ua.contains(s);
    if has("Edg/") {
        "edge"
    } else if has("OPR/") {
        "opera"
    } else if has("Firefox/") {
        "firefox"
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        "chrome"
    } else if has("Safari/") {
        "safari"
    } else if has("node") || has("undici") {
        "node"
    } else if has("curl/") {
        "curl"
    } else {
        "other"
    }
}

/// Seconds since the epoch as `YYYY-MM-DDThh:mm:ssZ` (days to a civil date: Howard Hinnant's
/// algorithm, proleptic Gregorian).
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        Request { headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Default::default() }
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_671_573), "2026-12-07T19:26:13Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn addresses_are_truncated() {
        assert_eq!(truncate_ip("203.0.113.77").as_deref(), Some("203.0.113.0"));
        assert_eq!(truncate_ip("2001:db8:1:2:3::4").as_deref(), Some("2001:db8:1::"));
        assert_eq!(truncate_ip("not an address"), None);
    }

    #[test]
    fn a_line_has_the_schema_fields() {
        let r = req(&[
            ("cf-connecting-ip", "198.51.100.23"),
            ("cf-ray", "8f1a2b3c4d5e6f70-FRA"),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/141.0 Safari/537.36"),
        ]);
        let e = Event::new(Kind::SignInFailed).client("app").subject("u-1").reason("wrong_password").method("pwd");
        let v: serde_json::Value = serde_json::from_str(&line(&e, &r, 1_796_671_573, false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"time": "2026-12-07T19:26:13Z", "event": "sign_in.failed", "outcome": "failure",
                "request_id": "8f1a2b3c4d5e6f70-FRA", "client_id": "app", "subject": "u-1", "ip": "198.51.100.0",
                "user_agent": "chrome", "reason": "wrong_password", "method": "pwd"})
        );
        let full: serde_json::Value = serde_json::from_str(&line(&e, &r, 0, true)).unwrap();
        assert_eq!(full["ip"], "198.51.100.23");
        // Nothing from the request but these: a forged request id is left out.
        let forged = req(&[("cf-ray", "\"},{\"x\":1")]);
        let v: serde_json::Value = serde_json::from_str(&line(&Event::new(Kind::Logout), &forged, 0, false)).unwrap();
        assert_eq!(v, serde_json::json!({"time": "1970-01-01T00:00:00Z", "event": "logout", "outcome": "success"}));
    }

    #[test]
    fn data_points_count_per_client_and_outcome() {
        let e = Event::new(Kind::SignInLocked).client("app").subject("u-1").reason("locked");
        let (index, blobs) = data_point(&e);
        assert_eq!(index, "app");
        assert_eq!(blobs, ["sign_in.locked", "failure", "locked", "app", ""].map(String::from));
        let (index, blobs) = data_point(&Event::new(Kind::ConfigurationError));
        assert_eq!((index.as_str(), blobs[0].as_str(), blobs[1].as_str()), ("", "configuration.error", "failure"));
        // An index is at most 96 bytes: a longer (made-up) client id is counted without one.
        let long = "x".repeat(97);
        assert_eq!(data_point(&Event::new(Kind::ClientAuthenticationFailed).client(&long)).0, "");
    }

    #[test]
    fn user_agent_families() {
        let f = user_agent_family;
        assert_eq!(f("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/141.0 Safari/537.36 Edg/141.0"), "edge");
        assert_eq!(
            f("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1"),
            "safari"
        );
        assert_eq!(f("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"), "firefox");
        assert_eq!(f("curl/8.5.0"), "curl");
        assert_eq!(f("node"), "node");
        assert_eq!(f("Go-http-client/1.1"), "other");
    }
}
