//! Raw authorization requests.

use crate::*;

use openidconnect::PkceCodeChallenge;
use url::Url;

/// A hand-built authorization request (for negative tests and for getting codes quickly).
#[derive(Debug, Clone)]
pub struct AuthzRequest {
    pub params: Vec<(String, String)>,
}

impl AuthzRequest {
    /// `response_type=code`, the client's id, the registered redirect URI,
    /// `scope=openid profile email`, a random state and nonce, `prompt=consent` (so the
    /// consent page shows even when the seeded user's consent is remembered; tests of
    /// remembered consent remove it), and PKCE (every client must use it unless its record
    /// opts out): the S256 challenge of [`VERIFIER`], which [`code_grant`] sends by default.
    pub fn new(kind: Kind) -> Self {
        AuthzRequest { params: Vec::new() }
            .set("response_type", "code")
            .set("client_id", kind.id())
            .set("redirect_uri", &env().redirect_uri)
            .set("scope", "openid profile email")
            .set("state", &random())
            .set("nonce", &random())
            .set("prompt", "consent")
            .set("code_challenge", CHALLENGE)
            .set("code_challenge_method", "S256")
    }

    /// No PKCE (for the client registered with `--pkce optional`, and the tests of PKCE).
    pub fn without_pkce(self) -> Self {
        self.remove("code_challenge").remove("code_challenge_method")
    }

    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self
    }

    pub fn pkce(self, challenge: &PkceCodeChallenge) -> Self {
        self.set("code_challenge", challenge.as_str()).set("code_challenge_method", challenge.method().as_str())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn state(&self) -> &str {
        self.get("state").expect("request has a state")
    }

    pub fn url(&self) -> String {
        let mut url = Url::parse(&endpoint("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(self.params.iter());
        url.to_string()
    }
}

/// Runs a full authorization (login as the seeded user, allow) and returns the code.
pub fn obtain_code(req: &AuthzRequest) -> String {
    let browser = Browser::new();
    let params = browser.authorize_allow(&req.url());
    assert_redirect_code(&params, req.state())
}
