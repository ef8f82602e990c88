//! How strongly a person signed in: what they did (`amr`, RFC 8176) and the level that
//! achieved (`acr`, OpenID Connect Core §2): `pwd` (a password), `mfa` (two factors: a password
//! and a one-time code or a passkey) and `phr` (phishing-resistant: a passkey, as OpenID
//! Connect EAP ACR Values 1.0 names it). What a sign-in must reach: `protocol::strength`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    Pwd,
    Mfa,
    Phr,
}

/// What `acr_values_supported` lists, weakest first.
pub const ACR_VALUES: [&str; 3] = ["pwd", "mfa", "phr"];

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pwd => "pwd",
            Level::Mfa => "mfa",
            Level::Phr => "phr",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "pwd" => Some(Level::Pwd),
            "mfa" => Some(Level::Mfa),
            "phr" => Some(Level::Phr),
            _ => None,
        }
    }

    /// The level a sign-in's `amr` achieved.
    pub fn of(amr: &[String]) -> Level {
        let has = |v: &str| amr.iter().any(|a| a == v);
        if has("hwk") || has("swk") {
            Level::Phr
        } else if has("mfa") {
            Level::Mfa
        } else {
            Level::Pwd
        }
    }
}

/// RFC 8176 `amr` of a sign-in: a password, then a second factor if any.
pub fn amr(password: bool, second: Option<&str>) -> Vec<String> {
    let mut amr: Vec<String> = vec![];
    if password {
        amr.push("pwd".into());
    }
    if let Some(s) = second {
        amr.push(s.into());
    }
    if amr.len() > 1 || second.is_some_and(|s| s == "hwk" || s == "swk") {
        amr.push("mfa".into());
    }
    amr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_what_was_done() {
        assert_eq!(amr(true, None), ["pwd"]);
        assert_eq!(Level::of(&amr(true, None)), Level::Pwd);
        assert_eq!(amr(true, Some("otp")), ["pwd", "otp", "mfa"]);
        assert_eq!(Level::of(&amr(true, Some("otp"))), Level::Mfa);
        // A passkey signs in with user verification: phishing-resistant, and two factors.
        assert_eq!(amr(false, Some("hwk")), ["hwk", "mfa"]);
        assert_eq!(Level::of(&amr(false, Some("swk"))), Level::Phr);
        assert!(Level::Pwd < Level::Mfa && Level::Mfa < Level::Phr);
        assert_eq!(Level::parse("mfa"), Some(Level::Mfa));
        assert_eq!(Level::parse("urn:other"), None);
    }
}
