//! The level a sign-in must reach (`model::strength`): what the operator requires
//! (`MINIMUM_ACR`), the client's record requires (`minimum_acr`), and the request asks for
//! (`acr_values`: any of the values listed will do, so the weakest known here; OpenID Connect
//! Core §3.1.2.1, §5.5.1.1).

use crate::config::Config;
use crate::model::strength::Level;
use crate::model::Client;

/// The level a sign-in for `client` must reach, given the request's `acr_values`.
pub fn required(config: &Config, client: &Client, acr_values: Option<&str>) -> Level {
    let asked = acr_values.and_then(|v| v.split(' ').filter_map(Level::parse).min()).unwrap_or_default();
    let client_min = client.minimum_acr.as_deref().and_then(Level::parse).unwrap_or_default();
    config.minimum_acr.max(client_min).max(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_of_operator_client_and_request_applies() {
        let config = |min: &str| {
            Config::from_vars(|k| match k {
                "ISSUER" => Some("https://id.example.com".into()),
                "MINIMUM_ACR" if !min.is_empty() => Some(min.into()),
                _ => None,
            })
            .unwrap()
        };
        let client: Client = serde_json::from_value(serde_json::json!({
            "client_id": "c", "redirect_uris": ["https://app.example/cb"], "client_secret_hash": "", "token_endpoint_auth_method": "none"
        }))
        .unwrap();
        let strict = Client { minimum_acr: Some("mfa".into()), ..client.clone() };
        assert_eq!(required(&config(""), &client, None), Level::Pwd);
        assert_eq!(required(&config(""), &client, Some("phr")), Level::Phr);
        // Any listed value will do: the weakest known; unknown values are ignored.
        assert_eq!(required(&config(""), &client, Some("urn:x phr mfa")), Level::Mfa);
        assert_eq!(required(&config(""), &client, Some("urn:x")), Level::Pwd);
        assert_eq!(required(&config(""), &strict, Some("pwd")), Level::Mfa);
        assert_eq!(required(&config("phr"), &strict, Some("pwd")), Level::Phr);
    }
}
