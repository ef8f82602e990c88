//! URLs in records and settings: those the pages show or load (logos, policies, the
//! operator's logo), and their origins for the pages' Content-Security-Policy; and those the
//! provider fetches itself (client metadata documents, clients' JWK Sets), which must not
//! lead into private networks (server-side request forgery).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// An absolute `https` URL (or `http` on loopback, for development), as the parser
/// serialises it; for images and links the pages show.
pub fn web_url(s: &str) -> Result<String, String> {
    let u = Url::parse(s).map_err(|e| format!("is not an absolute URL ({e})"))?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1") | Some("localhost") | Some("[::1]"));
    match u.scheme() {
        "https" => Ok(u.into()),
        "http" if loopback => Ok(u.into()),
        _ => Err("must be an https URL".into()),
    }
}

/// The origin of a URL, for the pages' Content-Security-Policy (`img-src`).
/// Whether a URL's host is this machine: `localhost` or a loopback address (127.0.0.0/8,
/// `::1`, with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host == "localhost" || ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

pub fn origin(url: &str) -> Option<String> {
    Url::parse(url).ok().map(|u| u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// A URL the provider may fetch (a client's metadata document or JWK Set): https, no user
/// information or fragment, a path, and a host on the public internet — no IP address in a
/// private, loopback, link-local, shared, documentation, multicast or reserved range, no
/// `localhost` and no name of a local network (`.local`, `.internal`, `.home.arpa`,
/// `.localhost`, a single label). Names are resolved by the platform's fetch; a Worker cannot
/// reach private addresses by them.
pub fn fetchable_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if u.scheme() != "https" {
        return Err("must be https".into());
    }
    if !u.username().is_empty() || u.password().is_some() || s.contains('#') {
        return Err("must have no user information and no fragment".into());
    }
    match u.host() {
        Some(Host::Ipv4(ip)) if !public_v4(ip) => Err(format!("points into a private or reserved network ({ip})")),
        Some(Host::Ipv6(ip)) if !public_v6(ip) => Err(format!("points into a private or reserved network ({ip})")),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let local = ["localhost", ".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet"];
            if !d.contains('.') || local.iter().any(|l| d == l.trim_start_matches('.') || d.ends_with(l)) {
                return Err(format!("names a local host ({d})"));
            }
            Ok(u)
        }
        Some(_) => Ok(u),
        None => Err("has no host".into()),
    }
}

/// An IPv4 address on the public internet (RFC 6890 special-purpose ranges excluded).
pub fn public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (64..128).contains(&o[1])) // shared address space (RFC 6598)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (18..20).contains(&o[1]))) // benchmarking (RFC 2544)
}

/// An IPv6 address on the public internet.
pub fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local (RFC 4193)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 (RFC 6052) reaches IPv4 ranges
        || s[0] == 0x2002) // 6to4 likewise
}

/// Whether `ip` (a textual address) is public; anything unparsable is not.
pub fn public_ip(ip: &str) -> bool {
    match ip.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => public_v4(v4),
        Ok(IpAddr::V6(v6)) => public_v6(v6),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_urls_are_fetched() {
        for ok in ["https://client.example.com/metadata.json", "https://1.1.1.1/x", "https://[2606:4700::1111]/x"] {
            assert!(fetchable_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://client.example.com/m",
            "https://user:pw@client.example.com/m",
            "https://client.example.com/m#f",
            "https://127.0.0.1/m",
            "https://10.1.2.3/m",
            "https://172.16.0.1/m",
            "https://192.168.1.1/m",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/m",
            "https://0.0.0.0/m",
            "https://[::1]/m",
            "https://[fd00::1]/m",
            "https://[fe80::1]/m",
            "https://[::ffff:127.0.0.1]/m",
            "https://[64:ff9b::a00:1]/m",
            "https://localhost/m",
            "https://api.localhost/m",
            "https://printer.local/m",
            "https://metadata.google.internal/m",
            "https://intranet/m",
            "https://2130706433/m",
            "https://0x7f.1/m",
        ] {
            assert!(fetchable_url(bad).is_err(), "{bad}");
        }
    }
}
