//! Platform-neutral HTTP values. The platform layer converts the runtime's request into
//! [`Request`] and [`Response`] back, so every endpoint runs and is tested on the host.

use crate::error::{quoted_name, OAuthError};

/// Upper bounds on what a request may carry (hostile input: answer 4xx, never work hard).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_PARAMS: usize = 64;
pub const MAX_PARAM_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names lower-cased. The worker copies in only [`READ_HEADERS`].
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The request headers the provider reads, lower-cased: the worker copies these out of the
/// runtime's request and no others (a browser sends 15 or more; each copied one is several
/// calls across the JavaScript boundary). [`Request::header`] asserts, in debug builds, that
/// it is asked for one of them, so a new one cannot be forgotten here.
pub const READ_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "cookie",
    "cf-connecting-ip",
    "accept-language",
    "origin",
    "sec-fetch-site",
    // Names a new passkey ("Passkey on Android").
    "user-agent",
    // The request id of audit events.
    "cf-ray",
];

/// The path and the raw query (without `?`) of an absolute URL as the runtime serializes a
/// request's URL (WHATWG URL Standard §4.5: an `http(s)` URL always has a path starting with
/// `/`; `?` and `#` are percent-encoded inside it), without parsing it again; `None` for
/// anything else.
pub fn path_and_query(url: &str) -> Option<(&str, &str)> {
    let rest = &url[url.find("://")? + 3..];
    let rest = &rest[rest.find('/')?..];
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    Some(rest.split_once('?').unwrap_or((rest, "")))
}

impl Request {
    /// The client's address as the edge reports it (`CF-Connecting-IP`), or "unknown".
    pub fn client_ip(&self) -> &str {
        self.header("cf-connecting-ip")
            .map(str::trim)
            .filter(|ip| !ip.is_empty() && ip.len() <= 64)
            .unwrap_or("unknown")
    }

    /// A browser's form post from another site (Fetch Metadata `Sec-Fetch-Site`, else the
    /// `Origin` header, RFC 6454 §7): anything but this issuer's own origin. Requests that
    /// carry neither (not from a browser that sends them) are not judged here.
    pub fn is_cross_site(&self, issuer: &str) -> bool {
        match (self.header("sec-fetch-site"), self.header("origin")) {
            (Some(site), _) => !site.eq_ignore_ascii_case("same-origin"),
            (None, Some(origin)) => origin != issuer,
            (None, None) => false,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        debug_assert!(READ_HEADERS.contains(&name), "header {name} is not in http::READ_HEADERS");
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")?
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The media type of the body, lower-cased, without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }

    pub fn is_form(&self) -> bool {
        self.content_type().as_deref() == Some("application/x-www-form-urlencoded")
    }

    /// Form body parameters; the body must be `application/x-www-form-urlencoded`.
    pub fn form(&self) -> Result<Params, OAuthError> {
        if !self.is_form() {
            return Err(OAuthError::invalid_request("the request body must be application/x-www-form-urlencoded"));
        }
        Params::parse(&self.body)
    }

    pub fn query_params(&self) -> Result<Params, OAuthError> {
        Params::parse(self.query.as_bytes())
    }
}

/// Request parameters with RFC 6749 §3.1 rules applied: a parameter sent without a value
/// is treated as omitted; a parameter sent more than once is an error. A list, not a hash
/// map: at most [`MAX_PARAMS`], usually under ten, where comparing names costs less than
/// hashing them.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    /// `resource` was given more than once (RFC 8707 §2): the first is kept.
    pub several_resources: bool,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Params, OAuthError> {
        if raw.len() > MAX_BODY_BYTES {
            return Err(OAuthError::invalid_request("the request is too large"));
        }
        if std::str::from_utf8(raw).is_err() {
            return Err(OAuthError::invalid_request("the request parameters are not valid UTF-8"));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut several_resources = false;
        for (count, (k, v)) in url::form_urlencoded::parse(raw).enumerate() {
            if count >= MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
                return Err(OAuthError::invalid_request("a parameter is not valid percent-encoded UTF-8"));
            }
            if v.len() > MAX_PARAM_BYTES {
                return Err(OAuthError::invalid_request(format!("parameter {} is too long", quoted_name(&k))));
            }
            if v.is_empty() {
                continue;
            }
            if pairs.iter().any(|(n, _)| *n == k) {
                // RFC 8707 §2 allows several; this provider issues tokens for one at a time,
                // and says so where the error can go back to the client.
                if k == "resource" {
                    several_resources = true;
                    continue;
                }
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} is repeated (RFC 6749 §3.1)",
                    quoted_name(&k)
                )));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params { pairs, several_resources })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params { pairs: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), several_resources: false }
    }
}

/// A request body read chunk by chunk with a cap (a chunked upload declares no length):
/// reading stops at the first chunk that would pass [`MAX_BODY_BYTES`], before it is copied.
#[derive(Debug, Default)]
pub struct CappedBody {
    bytes: Vec<u8>,
}

/// The body is larger than [`MAX_BODY_BYTES`] (413 Content Too Large, RFC 9110 §15.5.14).
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

impl CappedBody {
    /// Whether a chunk of `len` bytes still fits; reading stops when it does not.
    pub fn room_for(&self, len: usize) -> Result<(), TooLarge> {
        if self.bytes.len().saturating_add(len) > MAX_BODY_BYTES {
            Err(TooLarge)
        } else {
            Ok(())
        }
    }

    /// Appends a chunk `room_for` accepted, through `copy` (which fills the slice it is given).
    pub fn append(&mut self, len: usize, copy: impl FnOnce(&mut [u8])) -> Result<(), TooLarge> {
        self.room_for(len)?;
        let start = self.bytes.len();
        self.bytes.resize(start + len, 0);
        if let Some(tail) = self.bytes.get_mut(start..) {
            copy(tail);
        }
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// 413 for a body over [`MAX_BODY_BYTES`].
pub fn too_large() -> Response {
    error_json(&OAuthError::invalid_request("the request body is too large (at most 64 KiB)")).with_status(413)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
    }

    /// A JSON body. serde_json fails only on maps with non-string keys, which no response
    /// has (and `Value::to_string` would panic on it; this cannot).
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Response {
        Response::new(status, "application/json", serde_json::to_string(value).unwrap_or_default())
    }

    /// 303 See Other: the browser follows with GET (used after form posts too). No
    /// `Referer` goes with it to where it leads.
    pub fn redirect(location: &str) -> Response {
        Response { status: 303, headers: vec![("location".into(), location.into())], body: Vec::new() }
            .with_header("cache-control", "no-store")
            .with_header("referrer-policy", "no-referrer")
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// RFC 6749 §5.1: token and user data responses must not be cached.
    pub fn no_store(self) -> Response {
        self.with_header("cache-control", "no-store").with_header("pragma", "no-cache")
    }

    /// Lets browser apps (public clients) call the JSON endpoints cross-origin.
    pub fn cors(self) -> Response {
        self.with_header("access-control-allow-origin", "*")
            .with_header("access-control-expose-headers", "WWW-Authenticate")
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
}

/// The JSON error body of RFC 6749 §5.2 (and RFC 6750 for userinfo).
pub fn error_json(err: &OAuthError) -> Response {
    let mut r = Response::json(
        err.code.status(),
        &serde_json::json!({"error": err.code.as_str(), "error_description": err.description}),
    )
    .no_store()
    .cors();
    if err.code == crate::error::ErrorCode::TemporarilyUnavailable {
        r = r.with_header("retry-after", "5");
    }
    r
}

/// What a fetch of another server returned (a client's metadata document or JWK Set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    /// `Location`, for a redirect (followed, or not, by the caller).
    pub location: Option<String>,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Fetching from other servers: never following redirects itself (the caller checks each
/// hop), giving up after `timeout_ms`, and reading at most `max_bytes` of the body (more is
/// an error, not a truncated body).
#[allow(async_fn_in_trait)]
pub trait Fetch {
    async fn get(&self, url: &str, max_bytes: usize, timeout_ms: u32) -> Result<Fetched, String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_of_serialized_urls() {
        assert_eq!(path_and_query("https://id.example/authorize?a=1&b=%3F"), Some(("/authorize", "a=1&b=%3F")));
        assert_eq!(path_and_query("http://[::1]:8787/"), Some(("/", "")));
        assert_eq!(path_and_query("https://u:p@id.example/a%3Fb/c?"), Some(("/a%3Fb/c", "")));
        assert_eq!(path_and_query("https://id.example/x?q=1#frag?y"), Some(("/x", "q=1")));
        assert_eq!(path_and_query("https://id.example/x#f"), Some(("/x", "")));
        assert_eq!(path_and_query("not a url"), None);
        assert_eq!(path_and_query("https://id.example"), None);
    }

    #[test]
    fn params_rules() {
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        let e = Params::parse(b"a=1&a=2").unwrap_err();
        assert!(e.description.contains("repeated"));
        // Names compare decoded; an empty value is omitted, so it does not count as a repeat.
        assert!(Params::parse(b"a=1&%61=2").unwrap_err().description.contains("repeated"));
        assert_eq!(Params::parse(b"a=&a=2").unwrap().get("a"), Some("2"));
        assert!(Params::parse(b"a=%FF").is_err());
        assert!(Params::parse(&[b'a', b'=', 0xff]).is_err());
        let many: String = (0..100).map(|i| format!("p{i}=1&")).collect();
        assert!(Params::parse(many.as_bytes()).unwrap_err().description.contains("too many"));
    }

    #[test]
    fn capped_body_stops_before_the_chunk_that_passes_the_cap() {
        let mut b = CappedBody::default();
        let chunk = vec![7u8; 16 * 1024];
        for _ in 0..4 {
            b.append(chunk.len(), |dst| dst.copy_from_slice(&chunk)).unwrap();
        }
        assert_eq!(b.room_for(1), Err(TooLarge));
        assert_eq!(b.append(1, |_| panic!("never copied")), Err(TooLarge));
        assert_eq!(b.into_bytes().len(), MAX_BODY_BYTES);
        let mut b = CappedBody::default();
        assert_eq!(b.append(MAX_BODY_BYTES + 1, |_| panic!("never copied")), Err(TooLarge));
        assert_eq!(too_large().status, 413);
    }

    #[test]
    fn cookies() {
        let r = Request { headers: vec![("cookie".into(), "a=1; oidc_csrf=xyz; b=2".into())], ..Default::default() };
        assert_eq!(r.cookie("oidc_csrf"), Some("xyz"));
        assert_eq!(r.cookie("c"), None);
    }
}
