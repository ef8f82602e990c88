//! The operator's look: product name, logo, accent colours and an extra stylesheet, from
//! wrangler variables (docs/pages.md, "The operator's look"). Checked when the configuration is
//! read: a bad value gives the 503 configuration page naming it, never a broken page.
//! The stylesheet the worker serves at [`THEME_PATH`] is built once from them.

pub use crate::model::uri::{origin, web_url};

pub const THEME_PATH: &str = "/assets/theme.css";
/// The most CSS `BRAND_CSS` may hold.
pub const MAX_CSS_BYTES: usize = 32 * 1024;

/// WCAG 2.2 §1.4.3 (AA): normal text needs a contrast ratio of at least 4.5:1.
const MIN_CONTRAST: f64 = 4.5;
/// The card backgrounds of the built-in stylesheet (static/style.css), light and dark.
const CARD_LIGHT: Rgb = Rgb(0xff, 0xff, 0xff);
const CARD_DARK: Rgb = Rgb(0x1f, 0x22, 0x26);
/// Text on an accent-coloured button: white in light mode, near-black in dark mode.
const ON_ACCENT_LIGHT: Rgb = Rgb(0xff, 0xff, 0xff);
const ON_ACCENT_DARK: Rgb = Rgb(0x15, 0x17, 0x1a);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Brand {
    /// Shown at the top of every page and in titles; the issuer's host by default.
    pub product_name: String,
    /// An https image (or http on loopback) shown beside the name.
    pub logo_url: Option<String>,
    /// `#rrggbb` for links and buttons in light mode and in dark mode.
    pub accent: Option<String>,
    pub accent_dark: Option<String>,
    /// Extra CSS appended to the theme stylesheet.
    pub css: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgb(u8, u8, u8);

impl Rgb {
    fn parse(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#')?;
        let v = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        match hex.len() {
            6 => Some(Rgb(v(0)?, v(2)?, v(4)?)),
            3 => {
                let d = |i: usize| u8::from_str_radix(hex.get(i..=i)?, 16).ok().map(|x| x * 17);
                Some(Rgb(d(0)?, d(1)?, d(2)?))
            }
            _ => None,
        }
    }

    /// WCAG 2.2 relative luminance.
    fn luminance(self) -> f64 {
        let c = |v: u8| {
            let s = f64::from(v) / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * c(self.0) + 0.7152 * c(self.1) + 0.0722 * c(self.2)
    }

    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// WCAG 2.2 contrast ratio.
fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (x, y) = (a.luminance(), b.luminance());
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// A colour variable: `#rgb` or `#rrggbb`, readable against `backgrounds` (AA), or an error
/// naming the variable.
fn colour(name: &str, value: &str, backgrounds: &[(Rgb, &str)]) -> Result<String, String> {
    let rgb = Rgb::parse(value.trim())
        .ok_or_else(|| format!("{name} must be a colour written #rrggbb (or #rgb), not '{value}'"))?;
    for (bg, what) in backgrounds {
        let ratio = contrast(rgb, *bg);
        if ratio < MIN_CONTRAST {
            return Err(format!(
                "{name} '{value}' has a contrast of {ratio:.1}:1 against {what} (WCAG AA needs {MIN_CONTRAST}:1): pick a {} colour",
                if bg.luminance() > 0.5 { "darker" } else { "lighter" }
            ));
        }
    }
    Ok(rgb.hex())
}

impl Brand {
    /// From the variables `BRAND_NAME`, `BRAND_LOGO_URL`, `BRAND_ACCENT`, `BRAND_ACCENT_DARK`,
    /// `BRAND_CSS`; `issuer_host` names the product when `BRAND_NAME` is unset.
    pub fn from_vars(get: &impl Fn(&str) -> Option<String>, issuer_host: &str) -> Result<Brand, String> {
        let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let product_name = match set("BRAND_NAME") {
            None => issuer_host.to_string(),
            Some(n) if n.trim().chars().count() > 60 || n.chars().any(char::is_control) => {
                return Err(format!("BRAND_NAME must be 1-60 characters without control characters, not '{n}'"))
            }
            Some(n) => n.trim().to_string(),
        };
        let logo_url = match set("BRAND_LOGO_URL") {
            None => None,
            Some(u) => Some(web_url(u.trim()).map_err(|e| format!("BRAND_LOGO_URL '{u}' {e}"))?),
        };
        let accent = set("BRAND_ACCENT")
            .map(|v| {
                colour("BRAND_ACCENT", &v, &[(CARD_LIGHT, "the white page"), (ON_ACCENT_LIGHT, "white button text")])
            })
            .transpose()?;
        let accent_dark = set("BRAND_ACCENT_DARK")
            .map(|v| {
                colour("BRAND_ACCENT_DARK", &v, &[(CARD_DARK, "the dark page"), (ON_ACCENT_DARK, "dark button text")])
            })
            .transpose()?;
        let css = match set("BRAND_CSS") {
            None => None,
            Some(c) if c.len() > MAX_CSS_BYTES => {
                return Err(format!("BRAND_CSS is {} bytes; at most {MAX_CSS_BYTES} are allowed", c.len()))
            }
            // Inside a stylesheet, `<` has no use but to hint at markup; refusing it keeps the
            // stylesheet from ever being mistaken for a page.
            Some(c) if c.contains('<') => return Err("BRAND_CSS must not contain '<'".into()),
            Some(c) => Some(c),
        };
        Ok(Brand { product_name, logo_url, accent, accent_dark, css })
    }

    /// Whether the pages link the theme stylesheet.
    pub fn has_theme(&self) -> bool {
        self.accent.is_some() || self.accent_dark.is_some() || self.css.is_some()
    }

    /// The theme stylesheet: the accent variables of static/style.css, then `BRAND_CSS`.
    pub fn theme_css(&self) -> String {
        let mut out = String::from("/* The operator's theme (BRAND_* variables). */\n");
        if let Some(a) = &self.accent {
            out.push_str(&format!(":root {{ --accent: {a}; }}\n"));
        }
        if let Some(a) = &self.accent_dark {
            out.push_str(&format!("@media (prefers-color-scheme: dark) {{ :root {{ --accent: {a}; }} }}\n"));
        }
        if let Some(c) = &self.css {
            out.push_str(c);
            out.push('\n');
        }
        out
    }

    /// A short hash of the theme, so that a changed theme is fetched anew (`?v=`).
    pub fn theme_version(&self) -> String {
        crate::crypto::b64url(&crate::crypto::sha256(self.theme_css().as_bytes())[..6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_and_values() {
        let b = Brand::from_vars(&vars(&[]), "id.example.com").unwrap();
        assert_eq!(b.product_name, "id.example.com");
        assert!(!b.has_theme());
        let b = Brand::from_vars(
            &vars(&[
                ("BRAND_NAME", " Example ID "),
                ("BRAND_LOGO_URL", "https://cdn.example.com/logo.svg"),
                ("BRAND_ACCENT", "#0b6e4f"),
                ("BRAND_ACCENT_DARK", "#8fd3b6"),
                ("BRAND_CSS", ".card { border-radius: 4px; }"),
            ]),
            "id.example.com",
        )
        .unwrap();
        assert_eq!(b.product_name, "Example ID");
        let css = b.theme_css();
        assert!(css.contains("--accent: #0b6e4f") && css.contains("#8fd3b6") && css.contains("border-radius"));
        assert_eq!(origin(b.logo_url.as_deref().unwrap()).as_deref(), Some("https://cdn.example.com"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (pairs, names) in [
            (vec![("BRAND_ACCENT", "green")], "BRAND_ACCENT"),
            (vec![("BRAND_ACCENT", "#ffff00")], "contrast"),
            (vec![("BRAND_ACCENT_DARK", "#222")], "BRAND_ACCENT_DARK"),
            (vec![("BRAND_LOGO_URL", "http://cdn.example.com/x.png")], "BRAND_LOGO_URL"),
            (vec![("BRAND_LOGO_URL", "javascript:alert(1)")], "BRAND_LOGO_URL"),
            (vec![("BRAND_CSS", "</style><script>")], "BRAND_CSS"),
            (vec![("BRAND_NAME", "a\nb")], "BRAND_NAME"),
        ] {
            let e = Brand::from_vars(&vars(&pairs), "h").unwrap_err();
            assert!(e.contains(names), "{e}");
        }
    }

    /// The built-in palette of static/style.css meets AA where its accent is used.
    #[test]
    fn built_in_palette_is_readable() {
        let accent = Rgb::parse("#2457d6").unwrap();
        assert!(contrast(accent, CARD_LIGHT) >= MIN_CONTRAST);
        let dark = Rgb::parse("#7aa2ff").unwrap();
        assert!(contrast(dark, CARD_DARK) >= MIN_CONTRAST);
        assert!(contrast(dark, ON_ACCENT_DARK) >= MIN_CONTRAST);
        assert!((contrast(Rgb(0, 0, 0), Rgb(255, 255, 255)) - 21.0).abs() < 1e-9);
    }
}
