//! Translations: every user-facing string comes from `locales/<language>.toml`.
//!
//! The language is chosen from the request's `ui_locales` (OpenID Connect Core §3.1.2.1, a
//! space-separated preference list), then the language the user picked with the pages' language
//! switcher (a cookie), then the browser's `Accept-Language` (RFC 9110 §12.5.4, with q-values),
//! falling back to English. Each file names its language in that language (`language.name`), for
//! the switcher. A tag matches a bundled language exactly or by its
//! primary subtag (`de-AT` → `de`). A key missing from a language falls back to English.
//!
//! Adding a language is adding a file: `build.rs` embeds every `locales/*.toml`. Files are TOML
//! tables of strings; `[login]` + `title = "…"` is the key `login.title`. `{name}` in a string is
//! a placeholder filled by [`Tr::with`].

use std::collections::HashMap;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/bundled_locales.rs"));

/// The fallback language, and the one every other file is checked against.
pub const DEFAULT_LANGUAGE: &str = "en";

#[derive(Debug)]
pub struct Locale {
    pub tag: &'static str,
    messages: HashMap<String, String>,
}

/// The bundled languages, parsed once.
pub fn locales() -> &'static [Locale] {
    static LOCALES: OnceLock<Vec<Locale>> = OnceLock::new();
    LOCALES.get_or_init(|| {
        BUNDLED
            .iter()
            .filter_map(|(tag, source)| match parse(source) {
                Ok(messages) => Some(Locale { tag, messages }),
                Err(e) => {
                    // Caught by the tests; a broken file must not take the pages down.
                    tracing::error!(language = tag, error = %e, "unreadable translation file");
                    None
                }
            })
            .collect()
    })
}

/// Flattens a TOML document of (nested tables of) strings into dotted keys.
pub fn parse(source: &str) -> Result<HashMap<String, String>, String> {
    let table: toml::Table = source.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = HashMap::new();
    flatten("", &table, &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut HashMap<String, String>,
) -> Result<(), String> {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(s) => {
                out.insert(full, s.clone());
            }
            toml::Value::Table(t) => flatten(&full, t, out)?,
            _ => return Err(format!("{full} is not a string")),
        }
    }
    Ok(())
}

/// The strings of one language, for one page.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    locale: Option<&'static Locale>,
    fallback: Option<&'static Locale>,
}

impl Tr {
    /// A bundled language by its exact tag.
    pub fn language(tag: &str) -> Self {
        let all = locales();
        Self {
            locale: all.iter().find(|l| l.tag == tag),
            fallback: all.iter().find(|l| l.tag == DEFAULT_LANGUAGE),
        }
    }

    /// The language for a request: `ui_locales` first, then `Accept-Language`, then English.
    pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> Self {
        Self::choose(ui_locales, None, accept_language)
    }

    /// The language for a request: `ui_locales` first, then the language the user picked on a
    /// page (`chosen`, a bundled tag), then `Accept-Language`, then English.
    pub fn choose(
        ui_locales: Option<&str>,
        chosen: Option<&str>,
        accept_language: Option<&str>,
    ) -> Self {
        let available: Vec<&str> = locales().iter().map(|l| l.tag).collect();
        let chosen = ui_locales
            .and_then(|list| best_match(list.split_whitespace(), &available))
            .or_else(|| chosen.and_then(|tag| best_match(std::iter::once(tag), &available)))
            .or_else(|| {
                accept_language.and_then(|h| best_match(accept_language_tags(h), &available))
            })
            .unwrap_or(DEFAULT_LANGUAGE);
        Self::language(chosen)
    }

    /// Whether `tag` is a bundled language, exactly.
    pub fn is_bundled(tag: &str) -> bool {
        locales().iter().any(|l| l.tag == tag)
    }

    /// The language tag for `<html lang>`.
    pub fn lang(&self) -> &'static str {
        self.locale
            .or(self.fallback)
            .map_or(DEFAULT_LANGUAGE, |l| l.tag)
    }

    /// The string for `key`; the key itself when no language has it (the tests make sure
    /// every key exists in every file).
    pub fn get<'k>(&self, key: &'k str) -> &'k str {
        self.locale
            .and_then(|l| l.messages.get(key))
            .or_else(|| self.fallback.and_then(|l| l.messages.get(key)))
            .map_or(key, String::as_str)
    }

    /// The string for `key` with `{name}` replaced by `value`.
    pub fn with(&self, key: &str, name: &str, value: &str) -> String {
        self.get(key).replace(&format!("{{{name}}}"), value)
    }
}

/// The first tag of `preferred` (most preferred first) that matches an available language,
/// exactly or by primary subtag.
fn best_match<'a>(
    preferred: impl Iterator<Item = &'a str>,
    available: &[&'static str],
) -> Option<&'static str> {
    for tag in preferred {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.is_empty() || tag == "*" {
            continue;
        }
        if let Some(exact) = available.iter().find(|a| a.eq_ignore_ascii_case(&tag)) {
            return Some(exact);
        }
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if let Some(found) = available.iter().find(|a| a.eq_ignore_ascii_case(primary)) {
            return Some(found);
        }
    }
    None
}

/// The tags of an `Accept-Language` header, most preferred first (q=0 dropped).
fn accept_language_tags(header: &str) -> impl Iterator<Item = &str> {
    let mut tags: Vec<(&str, u16)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map_or(Some(1000), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                })?;
            (q > 0 && !tag.is_empty()).then_some((tag, q))
        })
        .collect();
    // Stable: equal weights keep the header's order.
    tags.sort_by_key(|t| std::cmp::Reverse(t.1));
    tags.into_iter().map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_bundled_file_parses_and_has_every_english_key() {
        assert_eq!(
            locales().len(),
            BUNDLED.len(),
            "a translation file does not parse"
        );
        let en = locales()
            .iter()
            .find(|l| l.tag == DEFAULT_LANGUAGE)
            .unwrap();
        for locale in locales() {
            for key in en.messages.keys() {
                assert!(
                    locale.messages.contains_key(key),
                    "{} lacks {key}",
                    locale.tag
                );
            }
            for key in locale.messages.keys() {
                assert!(
                    en.messages.contains_key(key),
                    "{} has unknown key {key}",
                    locale.tag
                );
            }
        }
        assert!(locales().iter().any(|l| l.tag == "de"));
    }

    #[test]
    fn ui_locales_wins_over_accept_language_and_english_is_the_fallback() {
        assert_eq!(Tr::negotiate(Some("de"), Some("en")).lang(), "de");
        assert_eq!(Tr::negotiate(Some("fr de-AT"), None).lang(), "de");
        assert_eq!(
            Tr::negotiate(Some("fr"), Some("de-CH, en;q=0.5")).lang(),
            "de"
        );
        assert_eq!(
            Tr::negotiate(None, Some("fr, en;q=0.1, de;q=0.9")).lang(),
            "de"
        );
        assert_eq!(Tr::negotiate(None, Some("de;q=0, fr")).lang(), "en");
        assert_eq!(Tr::negotiate(None, None).lang(), "en");
        assert_eq!(Tr::negotiate(Some("xx"), Some("garbage;;q=x")).lang(), "en");
    }

    #[test]
    fn a_chosen_language_wins_over_accept_language_but_not_over_ui_locales() {
        assert_eq!(Tr::choose(None, Some("de"), Some("en")).lang(), "de");
        assert_eq!(Tr::choose(Some("en"), Some("de"), None).lang(), "en");
        assert_eq!(Tr::choose(None, Some("xx"), Some("de")).lang(), "de");
        assert_eq!(Tr::choose(None, None, None).lang(), "en");
    }

    #[test]
    fn placeholders_are_filled_and_missing_keys_show_themselves() {
        let en = Tr::language("en");
        assert!(
            en.with("consent.heading", "client", "Neon CLI")
                .contains("Neon CLI")
        );
        assert_eq!(en.get("no.such.key"), "no.such.key");
        assert_ne!(Tr::language("de").get("login.title"), en.get("login.title"));
    }
}
