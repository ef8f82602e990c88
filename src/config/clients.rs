//! How clients may appear without an operator: client ID metadata documents
//! (draft-ietf-oauth-client-id-metadata-document, as the MCP authorization specification uses
//! them) and dynamic registration (RFC 7591, RFC 7592). Both off unless the operator turns
//! them on.

use crate::crypto::sha256;

/// Dynamic client registration (RFC 7591 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// No registration endpoint (the default).
    #[default]
    Off,
    /// Anyone may register (RFC 7591 §3: "open registration"), rate-limited per address.
    Open,
    /// Only with an initial access token (RFC 7591 §3.1), one of `REGISTRATION_TOKENS`.
    Token,
}

/// A host name pattern: `example.com` (that host) or `*.example.com` (any host below it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(parent) => host.ends_with(&format!(".{parent}")),
            None => host == self.0,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ClientsConfig {
    /// `CLIENT_ID_METADATA_DOCUMENTS=on`: an https URL as `client_id` is fetched and used as
    /// the client's record.
    pub metadata_documents: bool,
    /// `CLIENT_ID_METADATA_HOSTS`: the only hosts whose documents are used (empty: any).
    pub metadata_hosts: Vec<HostPattern>,
    /// `CLIENT_ID_METADATA_DENIED_HOSTS`: hosts whose documents are refused.
    pub metadata_denied_hosts: Vec<HostPattern>,
    /// `DEV_FETCH_ORIGINS` (honoured only when the issuer is on loopback, for local
    /// development): `https://origin=http://127.0.0.1:port` pairs; a URL of the first origin
    /// is fetched from the second.
    pub dev_fetch_origins: Vec<(String, String)>,
    pub registration: Registration,
    /// SHA-256 of each initial access token (`REGISTRATION_TOKENS`, a secret).
    pub registration_tokens: Vec<[u8; 32]>,
    /// `REGISTRATION_UNUSED_DAYS`: a registered client unused this long is deleted (never
    /// while a grant of it can still be used).
    pub registration_unused_seconds: i64,
    /// `REGISTRATION_MAX_PER_IP`: open registrations per address per lock period.
    pub registration_max_per_ip: u32,
}

fn patterns(name: &str, v: Option<String>) -> Result<Vec<HostPattern>, String> {
    let mut out = vec![];
    for p in v.unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let p = p.to_ascii_lowercase();
        let host = p.strip_prefix("*.").unwrap_or(&p);
        let ok = host.contains('.') && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !ok {
            return Err(format!("{name}: '{p}' is not a host name or *.<host name>"));
        }
        out.push(HostPattern(p));
    }
    Ok(out)
}

impl ClientsConfig {
    pub fn from_vars(get: &impl Fn(&str) -> Option<String>, loopback_issuer: bool) -> Result<ClientsConfig, String> {
        let switch = |name: &str, values: &[&str]| -> Result<String, String> {
            let v = get(name).map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty());
            let v = v.unwrap_or_else(|| values.first().copied().unwrap_or_default().to_string());
            if values.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!("{name} must be one of {}, not '{v}'", values.join(", ")))
            }
        };
        let metadata_documents = switch("CLIENT_ID_METADATA_DOCUMENTS", &["off", "on"])? == "on";
        let registration = match switch("REGISTRATION", &["off", "open", "token"])?.as_str() {
            "open" => Registration::Open,
            "token" => Registration::Token,
            _ => Registration::Off,
        };
        let registration_tokens: Vec<[u8; 32]> = get("REGISTRATION_TOKENS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| sha256(t.as_bytes()))
            .collect();
        if registration == Registration::Token && registration_tokens.is_empty() {
            return Err(
                "REGISTRATION=token needs the REGISTRATION_TOKENS secret (comma-separated initial access tokens)"
                    .into(),
            );
        }
        let mut dev_fetch_origins = vec![];
        if let Some(map) = get("DEV_FETCH_ORIGINS").filter(|v| !v.trim().is_empty()) {
            if !loopback_issuer {
                return Err(
                    "DEV_FETCH_ORIGINS is for local development: it is refused unless ISSUER is on loopback".into()
                );
            }
            for pair in map.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (from, to) =
                    pair.split_once('=').ok_or(format!("DEV_FETCH_ORIGINS: '{pair}' is not https://a=http://b"))?;
                let (from, to) = (from.trim().trim_end_matches('/'), to.trim().trim_end_matches('/'));
                let to_loopback = to.starts_with("http://127.0.0.1:") || to.starts_with("http://localhost:");
                if !from.starts_with("https://") || !to_loopback {
                    return Err(format!(
                        "DEV_FETCH_ORIGINS: '{pair}' must map an https origin to http://127.0.0.1:<port>"
                    ));
                }
                dev_fetch_origins.push((from.to_string(), to.to_string()));
            }
        }
        let number = |name: &str, default: i64, max: i64| -> Result<i64, String> {
            match get(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(format!("{name} must be a whole number between 1 and {max}, not '{v}'")),
                },
            }
        };
        Ok(ClientsConfig {
            metadata_documents,
            metadata_hosts: patterns("CLIENT_ID_METADATA_HOSTS", get("CLIENT_ID_METADATA_HOSTS"))?,
            metadata_denied_hosts: patterns("CLIENT_ID_METADATA_DENIED_HOSTS", get("CLIENT_ID_METADATA_DENIED_HOSTS"))?,
            dev_fetch_origins,
            registration,
            registration_tokens,
            registration_unused_seconds: number("REGISTRATION_UNUSED_DAYS", 30, 3650)? * 86_400,
            registration_max_per_ip: number("REGISTRATION_MAX_PER_IP", 10, 10_000)? as u32,
        })
    }

    /// Whether a metadata document may come from `host` (the operator's lists).
    pub fn metadata_host_allowed(&self, host: &str) -> bool {
        (self.metadata_hosts.is_empty() || self.metadata_hosts.iter().any(|p| p.matches(host)))
            && !self.metadata_denied_hosts.iter().any(|p| p.matches(host))
    }

    /// Where to fetch `url` from: itself, or its local stand-in (`DEV_FETCH_ORIGINS`).
    pub fn fetch_url(&self, url: &str) -> Option<String> {
        self.dev_fetch_origins.iter().find_map(|(from, to)| {
            let rest = url.strip_prefix(from.as_str())?;
            (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then(|| format!("{to}{rest}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn off_unless_turned_on_and_checked() {
        let c = ClientsConfig::from_vars(&vars(&[]), false).unwrap();
        assert!(!c.metadata_documents);
        assert_eq!(c.registration, Registration::Off);
        assert_eq!(c.registration_unused_seconds, 30 * 86_400);
        let e = ClientsConfig::from_vars(&vars(&[("REGISTRATION", "token")]), false).unwrap_err();
        assert!(e.contains("REGISTRATION_TOKENS"), "{e}");
        let e = ClientsConfig::from_vars(&vars(&[("REGISTRATION", "sometimes")]), false).unwrap_err();
        assert!(e.contains("off, open, token"), "{e}");
        let dev = [("DEV_FETCH_ORIGINS", "https://client.test=http://127.0.0.1:9100")];
        assert!(ClientsConfig::from_vars(&vars(&dev), false).unwrap_err().contains("loopback"));
        let c = ClientsConfig::from_vars(&vars(&dev), true).unwrap();
        assert_eq!(c.fetch_url("https://client.test/m.json").as_deref(), Some("http://127.0.0.1:9100/m.json"));
        assert_eq!(c.fetch_url("https://client.test.evil/m.json"), None);
        let bad = [("DEV_FETCH_ORIGINS", "https://client.test=http://10.0.0.1:80")];
        assert!(ClientsConfig::from_vars(&vars(&bad), true).is_err());
    }

    #[test]
    fn host_lists() {
        let c = ClientsConfig::from_vars(
            &vars(&[
                ("CLIENT_ID_METADATA_HOSTS", "*.example.com, apps.example.org"),
                ("CLIENT_ID_METADATA_DENIED_HOSTS", "bad.example.com"),
            ]),
            false,
        )
        .unwrap();
        assert!(c.metadata_host_allowed("mcp.example.com"));
        assert!(c.metadata_host_allowed("APPS.example.org"));
        assert!(!c.metadata_host_allowed("example.com"), "*.example.com is below it");
        assert!(!c.metadata_host_allowed("bad.example.com"));
        assert!(!c.metadata_host_allowed("other.example.net"));
        assert!(ClientsConfig::from_vars(&vars(&[("CLIENT_ID_METADATA_HOSTS", "local")]), false).is_err());
    }
}
