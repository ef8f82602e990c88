//! The level a sign-in must reach (`model::strength`): what the operator requires
//! (`MINIMUM_ACR`), the client's record requires (`minimum_acr`), and the request asks for
//! (`acr_values`, or `acr` values in the `claims` parameter: any of the values listed will do,
//! so the weakest known here; OpenID Connect Core §3.1.2.1, §5.5.1.1).

use crate::config::Config;
use crate::error::{ErrorCode, OAuthError};
use crate::model::strength::{Level, ACR_VALUES};
use crate::model::Client;
use crate::protocol::claims::ClaimsRequest;

fn weakest<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Level> {
    values.into_iter().filter_map(Level::parse).min()
}

/// The level a sign-in for `client` must reach, given the request's `acr_values` and the
/// `acr` of its `claims` parameter (an essential one rules over a voluntary one). An essential
/// `acr` none of whose values is known here cannot be met: the authentication fails
/// (§5.5.1.1), `access_denied`.
pub fn required(
    config: &Config,
    client: &Client,
    acr_values: Option<&str>,
    claims: &ClaimsRequest,
) -> Result<Level, OAuthError> {
    let asked = acr_values.and_then(|v| weakest(v.split(' '))).unwrap_or_default();
    let claimed = if claims.acr_essential.is_empty() {
        weakest(claims.acr.iter().map(String::as_str)).unwrap_or_default()
    } else {
        weakest(claims.acr_essential.iter().map(String::as_str)).ok_or_else(|| {
            let d = format!("none of the essential acr values can be met here (supported: {})", ACR_VALUES.join(" "));
            OAuthError::new(ErrorCode::AccessDenied, d)
        })?
    };
    let client_min = client.minimum_acr.as_deref().and_then(Level::parse).unwrap_or_default();
    Ok(config.minimum_acr.max(client_min).max(asked).max(claimed))
}

/// The `acr` an ID token reports for a sign-in that reached `reached`: that level, or, when
/// the request asked for `acr` as an essential claim, the strongest of its values the level
/// meets (§5.5.1.1: the value returned must be one of those requested).
pub fn reported(reached: Option<String>, essential: &[String]) -> Option<String> {
    let level = reached.as_deref().and_then(Level::parse)?;
    let met = essential.iter().filter_map(|v| Level::parse(v)).filter(|l| *l <= level).max();
    Some(met.unwrap_or(level).as_str().to_string())
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
        let none = ClaimsRequest::default();
        let req = |c: &Client, v: Option<&str>| required(&config(""), c, v, &none).unwrap();
        assert_eq!(req(&client, None), Level::Pwd);
        assert_eq!(req(&client, Some("phr")), Level::Phr);
        // Any listed value will do: the weakest known; unknown values are ignored.
        assert_eq!(req(&client, Some("urn:x phr mfa")), Level::Mfa);
        assert_eq!(req(&client, Some("urn:x")), Level::Pwd);
        assert_eq!(req(&strict, Some("pwd")), Level::Mfa);
        assert_eq!(required(&config("phr"), &strict, Some("pwd"), &none).unwrap(), Level::Phr);
    }

    /// §5.5.1.1: `acr` in the `claims` parameter asks as `acr_values` does; essential, with no
    /// value known here, it cannot be met.
    #[test]
    fn acr_in_the_claims_parameter_is_honoured() {
        let config = Config::from_vars(|k| (k == "ISSUER").then(|| "https://id.example.com".to_string())).unwrap();
        let client: Client = serde_json::from_value(serde_json::json!({
            "client_id": "c", "redirect_uris": ["https://app.example/cb"], "client_secret_hash": "", "token_endpoint_auth_method": "none"
        }))
        .unwrap();
        let claims = |acr: &[&str], essential: bool| {
            let values: Vec<String> = acr.iter().map(|s| s.to_string()).collect();
            let (acr, acr_essential) = if essential { (vec![], values) } else { (values, vec![]) };
            ClaimsRequest { acr, acr_essential, ..Default::default() }
        };
        assert_eq!(required(&config, &client, None, &claims(&["phr"], true)), Ok(Level::Phr));
        assert_eq!(required(&config, &client, None, &claims(&["urn:x", "mfa", "phr"], false)), Ok(Level::Mfa));
        assert_eq!(required(&config, &client, Some("phr"), &claims(&["mfa"], true)), Ok(Level::Phr));
        assert_eq!(required(&config, &client, None, &claims(&["urn:x"], false)), Ok(Level::Pwd));
        let e = required(&config, &client, None, &claims(&["urn:x"], true)).unwrap_err();
        assert_eq!(e.code.as_str(), "access_denied");
        // Reported: one of the essential values, the strongest the sign-in met.
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(reported(Some("phr".into()), &s(&["mfa", "urn:x"])).as_deref(), Some("mfa"));
        assert_eq!(reported(Some("phr".into()), &s(&["mfa", "phr"])).as_deref(), Some("phr"));
        assert_eq!(reported(Some("mfa".into()), &[]).as_deref(), Some("mfa"));
        assert_eq!(reported(None, &s(&["mfa"])), None);
    }
}
