//! The user agent: a cookie-keeping client that never follows redirects, and the pages it reads.

use crate::*;
use std::collections::HashMap;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use url::Url;

/// An HTTP response read in full.
#[derive(Debug)]
pub struct Page {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn read(method: &str, url: &str, r: reqwest::Result<reqwest::blocking::Response>) -> Page {
        let r = r.unwrap_or_else(|e| panic!("{method} {url} failed: {}", error_chain(&e)));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().unwrap_or_else(|e| panic!("reading the body of {method} {url}: {e}"));
        Page { method: method.to_string(), url: url.to_string(), status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap_or("<non-ascii>").to_string())
    }

    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("<non-ascii>").to_string()).collect()
    }

    /// A description for assertion messages.
    pub fn describe(&self) -> String {
        let mut body = self.body.clone();
        if body.len() > 3000 {
            let mut cut = 3000;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push_str("...");
        }
        let headers: Vec<String> =
            self.headers.iter().map(|(k, v)| format!("  {}: {}", k, v.to_str().unwrap_or("<non-ascii>"))).collect();
        format!("{} {} -> {}\n{}\n{}", self.method, self.url, self.status, headers.join("\n"), body)
    }

    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status:\n{}", self.describe());
        self
    }

    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default().to_ascii_lowercase()
    }

    pub fn assert_html(&self) -> &Self {
        assert!(self.content_type().starts_with("text/html"), "expected an HTML page:\n{}", self.describe());
        self
    }

    /// The `Location` header resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        self.header("location").map(|l| {
            Url::parse(&self.url)
                .unwrap()
                .join(&l)
                .unwrap_or_else(|e| panic!("Location '{l}' is not a URL ({e}):\n{}", self.describe()))
        })
    }

    /// The body as JSON (panics with the response if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("response is not JSON ({e}):\n{}", self.describe()))
    }
}

/// A parsed HTML form.
#[derive(Debug, Clone)]
pub struct Form {
    pub method: String,
    /// The action resolved against the page URL.
    pub action: String,
    /// `(name, value)` of every named input, in order.
    pub inputs: Vec<(String, String, String)>,
    /// `(name, value)` of every named submit button.
    pub buttons: Vec<(String, String)>,
    /// A passkey ceremony's form (`data-webauthn`): it needs a browser's authenticator.
    pub webauthn: bool,
}

impl Form {
    pub fn input(&self, name: &str) -> Option<&(String, String, String)> {
        self.inputs.iter().find(|(n, _, _)| n == name)
    }
    /// The value of the hidden `tx` input.
    pub fn tx(&self) -> String {
        let (_, ty, value) = self.input("tx").unwrap_or_else(|| panic!("form has no tx input: {self:?}"));
        assert_eq!(ty, "hidden", "the tx input must be hidden: {self:?}");
        assert!(!value.is_empty(), "the tx input is empty: {self:?}");
        value.clone()
    }
}

pub(crate) fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css}: {e:?}"))
}

/// All forms on a page.
pub fn forms(page: &Page) -> Vec<Form> {
    let html = page.html();
    let base = Url::parse(&page.url).unwrap();
    let input_sel = sel("input[name]");
    let button_sel = sel("button[name], input[type=submit][name]");
    html.select(&sel("form"))
        .map(|f: ElementRef| {
            let attr = |n: &str| f.value().attr(n).unwrap_or("").to_string();
            let action = base.join(&attr("action")).map(|u| u.to_string()).unwrap_or_default();
            let inputs = f
                .select(&input_sel)
                .map(|i| {
                    let v = i.value();
                    (
                        v.attr("name").unwrap_or("").to_string(),
                        v.attr("type").unwrap_or("text").to_ascii_lowercase(),
                        v.attr("value").unwrap_or("").to_string(),
                    )
                })
                .collect();
            let buttons = f
                .select(&button_sel)
                .filter(|b| {
                    b.value().name() == "input"
                        || b.value().attr("type").map(|t| t.eq_ignore_ascii_case("submit")).unwrap_or(true)
                })
                .map(|b| {
                    (
                        b.value().attr("name").unwrap_or("").to_string(),
                        b.value().attr("value").unwrap_or("").to_string(),
                    )
                })
                .collect();
            let webauthn = f.value().attr("data-webauthn").is_some();
            Form { method: attr("method").to_ascii_lowercase(), action, inputs, buttons, webauthn }
        })
        .collect()
}

/// The form posting to `{issuer}{path}`, asserting there is exactly one and it uses POST
/// (besides a passkey's, which the browser suite drives).
pub fn form_to(page: &Page, path: &str) -> Form {
    let target = endpoint(path);
    let found: Vec<Form> = forms(page).into_iter().filter(|f| f.action == target && !f.webauthn).collect();
    assert_eq!(found.len(), 1, "expected one form posting to {target}:\n{}", page.describe());
    let form = found.into_iter().next().unwrap();
    assert_eq!(form.method, "post", "the {path} form must use method=post:\n{}", page.describe());
    form
}

/// Plain-text content of the page (tags stripped, whitespace collapsed).
pub fn text_of(page: &Page) -> String {
    let html = page.html();
    let words: Vec<&str> = html.root_element().text().flat_map(|t| t.split_whitespace()).collect();
    words.join(" ")
}

/// A user agent: keeps cookies, never follows redirects.
pub struct Browser {
    pub http: Client,
}

impl Browser {
    pub fn new() -> Self {
        Browser {
            http: Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building the browser client"),
        }
    }

    pub fn get(&self, url: &str) -> Page {
        Page::read("GET", url, self.http.get(url).send())
    }

    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Page {
        Page::read("POST", url, self.http.post(url).form(form).send())
    }

    /// `GET /authorize...`: asserts the login page (200, HTML, a cookie set, a POST form to
    /// /login with a hidden tx, username and password inputs) and returns the tx.
    pub fn open_login(&self, authorize_url: &str) -> String {
        let page = self.get(authorize_url);
        page.assert_status(200).assert_html();
        let cookies = page.header_all("set-cookie");
        assert!(!cookies.is_empty(), "the login page must set the anti-CSRF cookie:\n{}", page.describe());
        assert!(
            cookies.iter().any(|c| c.to_ascii_lowercase().split(';').any(|a| a.trim() == "httponly")),
            "the anti-CSRF cookie must be HttpOnly:\n{}",
            page.describe()
        );
        login_form(&page).tx()
    }

    /// `POST /login`.
    pub fn login(&self, tx: &str, username: &str, password: &str) -> Page {
        self.post_form(&endpoint("/login"), &[("tx", tx), ("username", username), ("password", password)])
    }

    /// `POST /consent`.
    pub fn consent(&self, tx: &str, decision: &str) -> Page {
        self.post_form(&endpoint("/consent"), &[("tx", tx), ("decision", decision)])
    }

    /// The whole interactive part as the seeded user: login page, login, consent page,
    /// `decision`. Returns the consent response (the redirect back to the client).
    pub fn authorize(&self, authorize_url: &str, decision: &str) -> Page {
        let tx = self.open_login(authorize_url);
        let page = self.login(&tx, &env().username, &env().password);
        let tx = consent_form(&page).tx();
        self.consent(&tx, decision)
    }

    /// [`Browser::authorize`] with `allow`, asserting a 303 to the redirect URI; returns the
    /// redirect's query parameters.
    pub fn authorize_allow(&self, authorize_url: &str) -> HashMap<String, String> {
        let page = self.authorize(authorize_url, "allow");
        redirect_params(&page)
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

/// Asserts a login form (POST /login, hidden tx, username, password of type password).
pub fn login_form(page: &Page) -> Form {
    let form = form_to(page, "/login");
    form.tx();
    assert!(form.input("username").is_some(), "login form has no username input:\n{}", page.describe());
    let pw = form.input("password").unwrap_or_else(|| panic!("login form has no password input:\n{}", page.describe()));
    assert_eq!(pw.1, "password", "the password input must be type=password:\n{}", page.describe());
    form
}

/// Asserts a consent page (200, HTML, POST /consent with hidden tx and allow/deny buttons).
pub fn consent_form(page: &Page) -> Form {
    page.assert_status(200).assert_html();
    let form = form_to(page, "/consent");
    form.tx();
    for value in ["allow", "deny"] {
        assert!(
            form.buttons.iter().any(|(n, v)| n == "decision" && v == value),
            "consent form has no decision={value} submit button ({:?}):\n{}",
            form.buttons,
            page.describe()
        );
    }
    form
}

/// Asserts a `303` whose `Location` is the registered redirect URI (same scheme, host, port and
/// path, no fragment) and returns its query parameters (each must appear once).
pub fn redirect_params(page: &Page) -> HashMap<String, String> {
    assert_eq!(page.status, 303, "expected a 303 redirect to the client:\n{}", page.describe());
    let location = page.location().unwrap_or_else(|| panic!("303 without Location:\n{}", page.describe()));
    let expected = Url::parse(&env().redirect_uri).unwrap();
    assert_eq!(
        (location.scheme(), location.host_str(), location.port_or_known_default(), location.path()),
        (expected.scheme(), expected.host_str(), expected.port_or_known_default(), expected.path()),
        "redirect goes somewhere other than the registered redirect URI: {location}"
    );
    assert!(location.fragment().is_none(), "the code flow response must not use the fragment: {location}");
    let mut params = HashMap::new();
    for (k, v) in location.query_pairs() {
        let previous = params.insert(k.to_string(), v.to_string());
        assert!(previous.is_none(), "parameter {k} repeated in {location}");
    }
    params
}

/// Asserts an authorization error redirect (RFC 6749 §4.1.2.1, RFC 9207): 303 to the redirect
/// URI with `error`, a non-empty `error_description`, the request's `state` and `iss`, no code.
pub fn assert_redirect_error(page: &Page, state: &str, error: &str) -> HashMap<String, String> {
    let params = redirect_params(page);
    assert_eq!(params.get("error").map(String::as_str), Some(error), "wrong error in redirect: {params:?}");
    assert!(
        params.get("error_description").is_some_and(|d| !d.is_empty()),
        "error redirect without error_description: {params:?}"
    );
    assert_eq!(params.get("state").map(String::as_str), Some(state), "state not echoed: {params:?}");
    assert_eq!(params.get("iss"), Some(&env().issuer), "iss (RFC 9207) missing or wrong: {params:?}");
    assert!(!params.contains_key("code"), "an error redirect must not carry a code: {params:?}");
    params
}

/// Asserts a successful authorization response (code, state echoed, iss) and returns the code.
pub fn assert_redirect_code(params: &HashMap<String, String>, state: &str) -> String {
    assert!(!params.contains_key("error"), "authorization failed: {params:?}");
    assert_eq!(params.get("state").map(String::as_str), Some(state), "state not echoed: {params:?}");
    assert_eq!(params.get("iss"), Some(&env().issuer), "iss (RFC 9207) missing or wrong: {params:?}");
    let code = params.get("code").unwrap_or_else(|| panic!("no code in the redirect: {params:?}"));
    assert!(!code.is_empty());
    code.clone()
}

/// Asserts the provider's 400 error page for requests whose redirect URI cannot be trusted:
/// HTML, no `Location`, not a redirect.
pub fn assert_error_page(page: &Page) {
    assert_eq!(page.status, 400, "expected a 400 error page:\n{}", page.describe());
    assert!(page.header("location").is_none(), "must not redirect to an untrusted URI:\n{}", page.describe());
    page.assert_html();
}
