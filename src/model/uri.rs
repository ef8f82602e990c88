//! URLs in records and settings: those the pages show or load (logos, policies, the
//! operator's logo), and their origins for the pages' Content-Security-Policy.

use url::Url;

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
pub fn origin(url: &str) -> Option<String> {
    Url::parse(url).ok().map(|u| u.origin().ascii_serialization()).filter(|o| o != "null")
}
