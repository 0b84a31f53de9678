//! Branding from configuration: product name, logo, favicon, primary colour, support link,
//! footer text and an optional extra stylesheet.
//!
//! The primary colour reaches the pages through a generated stylesheet (`/ui/static/brand.css`),
//! never inline, so the Content-Security-Policy can forbid inline styles. Text on the colour and
//! links in it are chosen for WCAG 2.1 AA contrast (4.5:1) whatever colour is configured.

/// How the pages look. [`Branding::default`] is Gatehouse's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    pub product_name: String,
    pub logo_url: Option<String>,
    pub favicon_url: Option<String>,
    /// `#rgb` or `#rrggbb`.
    pub primary_color: String,
    pub support_url: Option<String>,
    pub footer: Option<String>,
    pub extra_css_url: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "Gatehouse".into(),
            logo_url: None,
            favicon_url: None,
            primary_color: DEFAULT_PRIMARY_COLOR.into(),
            support_url: None,
            footer: None,
            extra_css_url: None,
        }
    }
}

pub const DEFAULT_PRIMARY_COLOR: &str = "#1f5fbf";

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rgb` or `#rrggbb` (case-insensitive); anything else is `None`.
    pub fn parse_hex(s: &str) -> Option<Self> {
        let hex = s.strip_prefix('#')?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
        match hex.len() {
            3 => Some(Self(
                channel(0, 1)? * 17,
                channel(1, 1)? * 17,
                channel(2, 1)? * 17,
            )),
            6 => Some(Self(channel(0, 2)?, channel(2, 2)?, channel(4, 2)?)),
            _ => None,
        }
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG 2.1 relative luminance.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// WCAG 2.1 contrast ratio, 1 to 21.
    pub fn contrast(self, other: Self) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    fn darken(self, step: f64) -> Self {
        let d = |c: u8| (f64::from(c) * (1.0 - step)).round().clamp(0.0, 255.0) as u8;
        Self(d(self.0), d(self.1), d(self.2))
    }
}

const WHITE: Rgb = Rgb(255, 255, 255);
const BLACK: Rgb = Rgb(0, 0, 0);
/// WCAG 2.1 AA for normal text.
pub const AA_CONTRAST: f64 = 4.5;

/// Whether `s` is a colour [`Branding::primary_color`] accepts.
pub fn is_valid_color(s: &str) -> bool {
    Rgb::parse_hex(s).is_some()
}

/// The configured primary colour (or the default, when it is not one) and the text colour on
/// it, white or black, whichever contrasts more.
fn primary_and_text(configured: &str) -> (Rgb, Rgb) {
    let primary = Rgb::parse_hex(configured)
        .or_else(|| Rgb::parse_hex(DEFAULT_PRIMARY_COLOR))
        .unwrap_or(Rgb(31, 95, 191));
    // Every colour contrasts at least 4.58:1 with white or with black.
    let on_primary = if primary.contrast(WHITE) >= primary.contrast(BLACK) {
        WHITE
    } else {
        BLACK
    };
    (primary, on_primary)
}

/// The primary colour and the text colour on it as `#rrggbb`, for what is branded outside the
/// pages (mails).
pub fn brand_colors(configured: &str) -> (String, String) {
    let (primary, on_primary) = primary_and_text(configured);
    (primary.hex(), on_primary.hex())
}

/// The brand stylesheet: the primary colour, the text colour on it (white or black,
/// whichever contrasts more) and a variant of it dark enough for links on white.
pub fn brand_css(branding: &Branding) -> String {
    let (primary, on_primary) = primary_and_text(&branding.primary_color);
    let mut link = primary;
    for _ in 0..40 {
        if link.contrast(WHITE) >= AA_CONTRAST {
            break;
        }
        link = link.darken(0.08);
    }
    format!(
        ":root{{--gh-primary:{};--gh-on-primary:{};--gh-link:{}}}\n",
        primary.hex(),
        on_primary.hex(),
        link.hex()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn colours_parse_in_short_and_long_form_only() {
        assert_eq!(Rgb::parse_hex("#fff"), Some(Rgb(255, 255, 255)));
        assert_eq!(Rgb::parse_hex("#1F5FBF"), Some(Rgb(31, 95, 191)));
        for bad in ["fff", "#ffff", "#ggg", "red", "#12345", "", "#+12"] {
            assert!(Rgb::parse_hex(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((WHITE.contrast(Rgb(0, 0, 0)) - 21.0).abs() < 0.01);
        assert!((WHITE.contrast(WHITE) - 1.0).abs() < 0.01);
    }

    #[test]
    fn brand_css_keeps_text_and_links_readable_for_any_colour() {
        for colour in ["#ffee00", "#1f5fbf", "#000", "#fff", "#ff6c37"] {
            let css = brand_css(&Branding {
                primary_color: colour.into(),
                ..Branding::default()
            });
            let value = |var: &str| {
                let start = css.find(var).unwrap() + var.len() + 1;
                Rgb::parse_hex(&css[start..start + 7]).unwrap()
            };
            let primary = value("--gh-primary");
            assert!(
                primary.contrast(value("--gh-on-primary")) >= AA_CONTRAST,
                "{colour}: {css}"
            );
            assert!(
                value("--gh-link").contrast(WHITE) >= AA_CONTRAST,
                "{colour}: {css}"
            );
        }
    }
}
