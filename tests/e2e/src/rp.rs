//! The relying party: the `openidconnect` crate over a recording HTTP client.

use crate::*;
use std::sync::Mutex;
use std::time::Duration;

use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthType, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest,
    HttpResponse, IssuerUrl, RedirectUrl, SyncHttpClient,
};
use reqwest::blocking::Client;
use reqwest::redirect::Policy;

/// One response seen by the [`Recorder`].
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub headers: openidconnect::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap_or("<non-ascii>").to_string())
    }
}

/// The relying party's HTTP client: reqwest without redirects, remembering every response.
pub struct Recorder {
    inner: Client,
    pub log: Mutex<Vec<Recorded>>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            inner: Client::builder()
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building the HTTP client"),
            log: Mutex::new(Vec::new()),
        }
    }

    /// The last response received from `url` (exact match, without query).
    pub fn last_from(&self, url: &str) -> Recorded {
        let log = self.log.lock().unwrap();
        log.iter().rev().find(|r| r.url.split('?').next() == Some(url)).cloned().unwrap_or_else(|| {
            let seen: Vec<&str> = log.iter().map(|r| r.url.as_str()).collect();
            panic!("no response recorded from {url}; seen: {seen:?}")
        })
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncHttpClient for Recorder {
    type Error = HttpClientError<reqwest::Error>;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, Self::Error> {
        let method = request.method().to_string();
        let url = request.uri().to_string();
        let response = self.inner.call(request)?;
        self.log.lock().unwrap().push(Recorded {
            method,
            url,
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.body().clone(),
        });
        Ok(response)
    }
}

/// The `CoreClient` type `from_provider_metadata` returns.
pub type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// OpenID Connect Discovery through the openidconnect crate (also fetches and parses the JWKS,
/// and checks that the advertised issuer is exactly E2E_ISSUER).
pub fn discover(http: &Recorder) -> CoreProviderMetadata {
    let issuer = IssuerUrl::new(env().issuer.clone()).expect("E2E_ISSUER is a URL");
    CoreProviderMetadata::discover(&issuer, http)
        .unwrap_or_else(|e| panic!("discovery at {} failed: {}", env().issuer, error_chain(&e)))
}

/// A relying party configured for one of the seeded clients.
pub fn oidc_client(kind: Kind, metadata: CoreProviderMetadata) -> OidcClient {
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(kind.id().to_string()),
        kind.secret().map(|s| ClientSecret::new(s.to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(env().redirect_uri.clone()).expect("E2E_REDIRECT_URI is a URL"));
    match kind {
        Kind::Basic | Kind::Refresh => client.set_auth_type(AuthType::BasicAuth),
        // A public client sends its client_id in the body and no secret.
        Kind::Post | Kind::Public | Kind::PublicRefresh => client.set_auth_type(AuthType::RequestBody),
    }
}

/// `error: cause: cause...` for an error and its sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
