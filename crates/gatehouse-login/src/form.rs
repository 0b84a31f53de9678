//! `application/x-www-form-urlencoded` bodies and query strings, read without failing: a
//! missing or repeated field is the handler's decision, never a framework rejection.

use gatehouse_core::secret::SecretString;
use url::form_urlencoded;

/// No `Debug`: a login form carries a password.
#[derive(Clone, Default)]
pub struct Fields(Vec<(String, String)>, bool);

impl Fields {
    pub fn parse(bytes: &[u8]) -> Self {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(bytes).into_owned().collect();
        // `form_urlencoded` decodes lossily: an invalid UTF-8 sequence, raw or percent-encoded,
        // becomes U+FFFD, which no parameter has a use for.
        let not_utf8 = std::str::from_utf8(bytes).is_err()
            || pairs.iter().any(|(k, v)| {
                k.contains(char::REPLACEMENT_CHARACTER) || v.contains(char::REPLACEMENT_CHARACTER)
            });
        Self(pairs, not_utf8)
    }

    /// Whether a name or value was not UTF-8 (after percent-decoding).
    pub fn not_utf8(&self) -> bool {
        self.1
    }

    pub fn query(query: Option<&str>) -> Self {
        Self::parse(query.unwrap_or_default().as_bytes())
    }

    /// The first non-empty value of `name` (RFC 6749 §3.1: an empty parameter is an absent one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::new)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}
