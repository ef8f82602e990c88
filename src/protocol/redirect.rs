//! Redirects back to the client (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 `iss`), and the origin
//! a form's redirect may lead to (CSP `form-action`).

use crate::error::OAuthError;
use crate::http::Response;
use crate::pages;
use url::Url;

/// Where an authorization error goes once the redirect URI is trusted.
pub struct ErrorRedirect<'r> {
    pub redirect_uri: &'r str,
    pub state: Option<&'r str>,
}

/// Builds `redirect_uri` with extra query parameters (RFC 6749 §4.1.2: keep its own query).
/// Always through the URL parser: the URI is the request's, which may differ in spelling from
/// the registered one it matched (a loopback URI's port; the parser's normalisation), and what
/// is sent back is the parser's serialisation of it.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match Url::parse(redirect_uri) {
        // Registered redirect URIs have no fragment (RFC 6749 §3.1.2, checked when the client
        // record is read), so the parameters go at the end of the parsed URI, added to its
        // query (§3.1.2: "MUST retain the query component"), form-encoded as the url crate's
        // `query_pairs_mut` would, into a string sized once (a returning user's sealed code
        // is ~600 characters).
        Ok(url) if url.fragment().is_none() => {
            let mut sep = match url.query() {
                None => "?",
                Some("") => "",
                Some(_) => "&",
            };
            let mut to = String::from(url);
            to.reserve(params.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() + 16);
            for (k, v) in params {
                to.push_str(sep);
                to.extend(url::form_urlencoded::byte_serialize(k.as_bytes()));
                to.push('=');
                to.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
                sep = "&";
            }
            Response::redirect(&to)
        }
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            Response::redirect(url.as_str())
        }
        // Registered redirect URIs are validated when the client record is read.
        Err(_) => {
            pages::bare_error_page(400, "Invalid redirect URI", "The application's redirect URI is not a valid URI.")
        }
    }
}

pub fn error_redirect(to: &ErrorRedirect<'_>, issuer: &str, err: &OAuthError) -> Response {
    let mut params = vec![("error", err.code.as_str()), ("error_description", err.description.as_str())];
    if let Some(s) = to.state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(to.redirect_uri, &params)
}

/// The origin a form post may end up redirected to (CSP `form-action`).
pub fn form_target(redirect_uri: &str) -> Vec<String> {
    match Url::parse(redirect_uri) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => vec![u.origin().ascii_serialization()],
        Ok(u) => vec![format!("{}:", u.scheme())],
        Err(_) => vec![],
    }
}

/// RFC 6749 §4.1.2 (and RFC 9207 `iss`): the redirect carrying the code.
pub fn code_redirect(to: &ErrorRedirect<'_>, issuer: &str, code: &str) -> Response {
    let mut params = vec![("code", code)];
    if let Some(s) = to.state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(to.redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Location is exactly what the url crate's `query_pairs_mut` makes of the same URI.
    #[test]
    fn redirect_with_appends_like_query_pairs_mut() {
        let params = [("code", "gid~AbC-_x"), ("state", "a b&c=d/é"), ("iss", "https://id.example.com")];
        for uri in [
            "https://app.example/cb",
            "https://APP.example",
            "https://app.example/cb?x=1",
            "https://app.example/cb?",
            "https://app.example/cb?a=b&",
            "http://127.0.0.1:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            let mut url = Url::parse(uri).unwrap();
            url.query_pairs_mut().extend_pairs(params);
            let r = redirect_with(uri, &params);
            assert_eq!(r.status, 303);
            assert_eq!(r.header("location"), Some(url.as_str()), "{uri}");
        }
        assert_eq!(redirect_with("not a uri", &params).status, 400);
    }
}
