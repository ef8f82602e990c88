//! The languages of the pages: message catalogs (`static/i18n/<tag>.json`, compiled in),
//! the operator's overrides (`MESSAGES`), and the choice of a language per request
//! (OpenID Connect Core §3.1.2.1 `ui_locales` first, then `Accept-Language`, RFC 9110
//! §12.5.4, then the operator's `DEFAULT_LOCALE`).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "de")]
    De,
    #[serde(rename = "fr")]
    Fr,
    #[serde(rename = "es")]
    Es,
    #[serde(rename = "ja")]
    Ja,
    #[serde(rename = "ar")]
    Ar,
}

/// Every language, in the order discovery lists them (`ui_locales_supported`).
pub const LOCALES: [Locale; 6] = [Locale::En, Locale::De, Locale::Fr, Locale::Es, Locale::Ja, Locale::Ar];

impl Locale {
    /// The BCP 47 tag (`<html lang>`).
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::De => "de",
            Locale::Fr => "fr",
            Locale::Es => "es",
            Locale::Ja => "ja",
            Locale::Ar => "ar",
        }
    }

    /// The writing direction (`<html dir>`).
    pub fn dir(self) -> &'static str {
        match self {
            Locale::Ar => "rtl",
            _ => "ltr",
        }
    }

    /// The language's own name, for the language menu.
    pub fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::De => "Deutsch",
            Locale::Fr => "Français",
            Locale::Es => "Español",
            Locale::Ja => "日本語",
            Locale::Ar => "العربية",
        }
    }

    /// A language tag's primary subtag, case-insensitively (RFC 5646 §2.1.1): `de-CH` is
    /// German. `None` for a language there is no catalog for.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?;
        LOCALES.into_iter().find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    fn catalog_source(self) -> &'static str {
        match self {
            Locale::En => include_str!("../static/i18n/en.json"),
            Locale::De => include_str!("../static/i18n/de.json"),
            Locale::Fr => include_str!("../static/i18n/fr.json"),
            Locale::Es => include_str!("../static/i18n/es.json"),
            Locale::Ja => include_str!("../static/i18n/ja.json"),
            Locale::Ar => include_str!("../static/i18n/ar.json"),
        }
    }
}

/// The page language: the first of `ui_locales` (space-separated, in order of preference)
/// there is a catalog for; else the best of `Accept-Language` by quality (ties: first
/// listed; `q=0` means "not this one"); else `default`. Unknown tags are skipped silently.
pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>, default: Locale) -> Locale {
    if let Some(l) = ui_locales.and_then(|u| u.split(' ').filter(|t| !t.is_empty()).take(16).find_map(Locale::from_tag))
    {
        return l;
    }
    let mut best: Option<(u16, Locale)> = None;
    for item in accept_language.unwrap_or("").split(',').take(32) {
        let mut parts = item.split(';');
        let Some(locale) = parts.next().and_then(Locale::from_tag) else { continue };
        let q = parts.find_map(|p| p.trim().strip_prefix("q=").map(quality)).unwrap_or(1000);
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, locale));
        }
    }
    best.map_or(default, |(_, l)| l)
}

/// An RFC 9110 §12.4.2 quality value in thousandths (`0.8` → 800); malformed → 0.
fn quality(v: &str) -> u16 {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match int {
        "1" => 1000,
        "0" => format!("{frac:0<3}").parse().unwrap_or(0),
        _ => 0,
    }
}

thread_local! {
    static CATALOGS: std::cell::RefCell<HashMap<Locale, std::rc::Rc<HashMap<String, String>>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// A locale's catalog, parsed once per isolate. A catalog that fails to parse is empty
/// (the host tests parse every catalog, so this cannot ship).
pub fn catalog(locale: Locale) -> std::rc::Rc<HashMap<String, String>> {
    CATALOGS.with(|c| {
        c.borrow_mut()
            .entry(locale)
            .or_insert_with(|| std::rc::Rc::new(serde_json::from_str(locale.catalog_source()).unwrap_or_default()))
            .clone()
    })
}

/// The `{name}` placeholders of a message, sorted.
pub fn placeholders(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    out.push(name);
                }
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out.sort_unstable();
    out
}

/// The operator's replacements for catalog messages (`MESSAGES`): locale → key → text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides(BTreeMap<Locale, BTreeMap<String, String>>);

impl Overrides {
    /// Parses `MESSAGES`: `{"<locale>": {"<key>": "<text>"}}`. Every locale must have a
    /// catalog, every key must exist, and a text must keep the original's `{placeholders}`.
    pub fn parse(json: &str) -> Result<Overrides, String> {
        let raw: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_str(json)
            .map_err(|e| format!("MESSAGES is not a JSON object of objects of strings: {e}"))?;
        let mut out = BTreeMap::new();
        for (tag, messages) in raw {
            let locale = LOCALES
                .into_iter()
                .find(|l| l.tag() == tag)
                .ok_or_else(|| format!("MESSAGES: '{tag}' is not a supported locale (supported: {})", tags()))?;
            let base = catalog(Locale::En);
            for (key, text) in &messages {
                let original = base.get(key).ok_or_else(|| format!("MESSAGES: '{tag}' has an unknown key '{key}'"))?;
                if text.trim().is_empty() || text.len() > 1000 {
                    return Err(format!("MESSAGES: '{tag}'.'{key}' must be 1-1000 characters"));
                }
                if placeholders(text) != placeholders(original) {
                    return Err(format!(
                        "MESSAGES: '{tag}'.'{key}' must use exactly the placeholders {:?} of the original",
                        placeholders(original)
                    ));
                }
            }
            out.insert(locale, messages);
        }
        Ok(Overrides(out))
    }

    fn get(&self, locale: Locale, key: &str) -> Option<&str> {
        self.0.get(&locale).and_then(|m| m.get(key)).map(String::as_str)
    }
}

fn tags() -> String {
    LOCALES.iter().map(|l| l.tag()).collect::<Vec<_>>().join(", ")
}

/// The messages of one language, with the operator's overrides.
#[derive(Clone)]
pub struct Text<'a> {
    pub locale: Locale,
    catalog: std::rc::Rc<HashMap<String, String>>,
    overrides: &'a Overrides,
}

impl<'a> Text<'a> {
    pub fn new(locale: Locale, overrides: &'a Overrides) -> Text<'a> {
        Text { locale, catalog: catalog(locale), overrides }
    }

    /// The message `key`: the operator's, else the catalog's, else English's, else the key.
    pub fn get(&self, key: &str) -> String {
        if let Some(m) = self.overrides.get(self.locale, key) {
            return m.to_string();
        }
        match self.catalog.get(key) {
            Some(m) => m.clone(),
            None => catalog(Locale::En).get(key).cloned().unwrap_or_else(|| key.to_string()),
        }
    }

    /// The message with its `{name}` placeholders filled (plain text).
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(&self.get(key), args, |s| s.to_string())
    }

    /// The message as HTML: its text escaped, its placeholders filled with `args`, which are
    /// HTML already.
    pub fn html(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(&self.get(key), args, crate::html::escape)
    }
}

fn fill(message: &str, args: &[(&str, &str)], text: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(message.len() + 32);
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let arg = after.find('}').and_then(|end| args.iter().find(|(n, _)| *n == &after[..end]).map(|a| (end, a.1)));
        match arg {
            Some((end, value)) => {
                out.push_str(&text(&rest[..start]));
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&text(&rest[..=start]));
                rest = after;
            }
        }
    }
    out.push_str(&text(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_has_every_key_and_the_same_placeholders() {
        let en = catalog(Locale::En);
        assert!(en.len() > 50, "the English catalog did not parse");
        for l in LOCALES {
            let source: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(l.catalog_source()).unwrap_or_else(|e| panic!("{}.json: {e}", l.tag()));
            let c = catalog(l);
            assert_eq!(source.len(), c.len(), "{}.json: every value must be a string", l.tag());
            for (key, text) in en.iter() {
                let t = c.get(key).unwrap_or_else(|| panic!("{}.json lacks the key '{key}'", l.tag()));
                assert!(!t.trim().is_empty(), "{}.json: '{key}' is empty", l.tag());
                assert_eq!(placeholders(t), placeholders(text), "{}.json: '{key}' placeholders", l.tag());
            }
            for key in c.keys() {
                assert!(en.contains_key(key), "{}.json has '{key}', which English does not", l.tag());
            }
        }
    }

    #[test]
    fn negotiation_order() {
        let d = Locale::Fr;
        assert_eq!(negotiate(Some("xx ja-JP de"), Some("de"), d), Locale::Ja);
        assert_eq!(negotiate(Some("xx"), Some("es-MX,es;q=0.9,en;q=0.8"), d), Locale::Es);
        assert_eq!(negotiate(None, Some("zz, en;q=0.5, de;q=0.9"), d), Locale::De);
        assert_eq!(negotiate(None, Some("de;q=0, ar;q=0.1"), d), Locale::Ar);
        assert_eq!(negotiate(None, Some("de;q=0"), d), d);
        assert_eq!(negotiate(None, Some("*"), d), d);
        assert_eq!(negotiate(None, Some("de;q=2, en;q=0.001"), d), Locale::En);
        assert_eq!(negotiate(None, None, d), d);
        assert_eq!(negotiate(Some(""), Some(""), Locale::En), Locale::En);
        assert_eq!(Locale::from_tag("AR-eg"), Some(Locale::Ar));
        assert_eq!(Locale::Ar.dir(), "rtl");
    }

    #[test]
    fn fill_escapes_the_text_not_the_arguments() {
        let o = Overrides::default();
        let t = Text::new(Locale::En, &o);
        assert_eq!(
            t.html("login.lead", &[("client", "<strong>A&amp;B</strong>")]),
            "to continue to <strong>A&amp;B</strong>"
        );
        assert_eq!(fill("a {x} & {y} {unknown", &[("x", "<b>")], crate::html::escape), "a <b> &amp; {y} {unknown");
        assert_eq!(t.get("no.such.key"), "no.such.key");
    }

    #[test]
    fn overrides_are_checked() {
        let o = Overrides::parse(r#"{"de": {"login.title": "Einloggen"}}"#).unwrap();
        assert_eq!(Text::new(Locale::De, &o).get("login.title"), "Einloggen");
        assert_eq!(Text::new(Locale::En, &o).get("login.title"), "Sign in");
        for (bad, names) in [
            (r#"{"xx": {"login.title": "x"}}"#, "'xx'"),
            (r#"{"en": {"login.nope": "x"}}"#, "login.nope"),
            (r#"{"en": {"login.lead": "to {app}"}}"#, "login.lead"),
            (r#"{"en": {"login.title": ""}}"#, "login.title"),
            (r#"["x"]"#, "MESSAGES"),
        ] {
            let e = Overrides::parse(bad).unwrap_err();
            assert!(e.contains(names), "{e}");
        }
    }

    #[test]
    fn quality_values() {
        assert_eq!(quality("0.8"), 800);
        assert_eq!(quality("1"), 1000);
        assert_eq!(quality("1.000"), 1000);
        assert_eq!(quality("0"), 0);
        assert_eq!(quality("0.0001"), 0);
        assert_eq!(quality("x"), 0);
    }
}
