//! Scopes and the claims they release (OpenID Connect Core §5.4).

pub const SUPPORTED: &[&str] = &[OPENID, "profile", "email", "address", "phone", OFFLINE_ACCESS];

/// OpenID Connect Core §3.1.2.1: makes a request an OpenID Connect one (an ID token); without
/// it the request is plain OAuth (an access token for a resource).
pub const OPENID: &str = "openid";

/// OpenID Connect Core §11: asks for a refresh token. Granted only to clients allowed the
/// refresh_token grant; ignored for others.
pub const OFFLINE_ACCESS: &str = "offline_access";

pub const PROFILE_CLAIMS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
];
pub const EMAIL_CLAIMS: &[&str] = &["email", "email_verified"];
pub const ADDRESS_CLAIMS: &[&str] = &["address"];
pub const PHONE_CLAIMS: &[&str] = &["phone_number", "phone_number_verified"];

pub fn is_supported(scope: &str) -> bool {
    SUPPORTED.contains(&scope)
}

/// The claims a scope releases.
pub fn claims_for(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => PROFILE_CLAIMS,
        "email" => EMAIL_CLAIMS,
        "address" => ADDRESS_CLAIMS,
        "phone" => PHONE_CLAIMS,
        _ => &[],
    }
}

/// What the consent page says a scope lets the application do.
pub fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "sign you in",
        "profile" => "see your basic profile: name, username, picture",
        "email" => "see your email address and whether it is verified",
        "address" => "see your postal address",
        "phone" => "see your phone number and whether it is verified",
        OFFLINE_ACCESS => "stay connected: access your data while you are not using the application",
        _ => "",
    }
}

/// The standard user claims (OpenID Connect Core §5.1) the provider can release.
pub fn is_standard_claim(name: &str) -> bool {
    ["profile", "email", "address", "phone"].iter().any(|s| claims_for(s).contains(&name))
}

/// Every claim name the provider can release (Discovery `claims_supported`).
pub fn all_claims() -> Vec<&'static str> {
    let mut v = vec!["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp"];
    v.extend_from_slice(PROFILE_CLAIMS);
    v.extend_from_slice(EMAIL_CLAIMS);
    v.extend_from_slice(ADDRESS_CLAIMS);
    v.extend_from_slice(PHONE_CLAIMS);
    v
}
